//! Exports (导出台账): the households, members, visits, discovery reports, tasks, decisions,
//! monitoring alerts, 临时救助 cases and applications of the caller's regions as CSV or XLSX, for the ledgers reviewers keep outside doudi (docs/API.md
//! "Exports").
//!
//! An export is read page by page in key order ([`PAGE_ROWS`] rows at a time), so a county of a
//! million households never needs them in memory at once: CSV is streamed as the pages are read,
//! XLSX is written row by row into a worksheet kept on disk (constant-memory mode) and sent when
//! complete. Every export is scope-checked by the access module (`export`) and audited before
//! its first row; 身份证号 are masked unless the caller asks for them in full and may unmask
//! there (then the audit entry says so).

use std::collections::HashMap;

use chrono::NaiveDate;
use sea_orm::sea_query::{Condition, Expr, ExprTrait, Func};
use sea_orm::{
    ColumnTrait, DatabaseConnection, EntityTrait, QueryFilter, QueryOrder, QuerySelect, Select,
};
use serde::Deserialize;

use doudi_protocol::doc::discovery::{Channel, DiscoveryStatus, Urgency};
use doudi_protocol::doc::household::{DecisionOutcome, HukouType, Programme, Relation};
use doudi_protocol::doc::visit::{Conclusion, Purpose, VisitMode, VisitStatus};
use doudi_protocol::rules::Money;

use crate::access::{Action, Actor, Subject, Target, scope_condition};
use crate::entity::{
    account, decision, household, member, monitoring_alert, report, task, temp_aid_case, visit,
};
use crate::error::{ApiError, ApiResult, Code};
use crate::identity::IdentityKeys;
use crate::review::queue::region_path_in_scope;
use crate::review::{deadlines, recheck};

mod cases;

/// Rows read from the database per step.
pub const PAGE_ROWS: u64 = 1000;
/// Data rows per XLSX worksheet: Excel's 1,048,576 rows less the header; more go on to a next
/// worksheet of the same columns.
pub const XLSX_ROWS_PER_SHEET: u32 = 1_048_575;

/// What is exported.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Dataset {
    /// 家庭: one row per household.
    Households,
    /// 家庭成员: one row per current member.
    Members,
    /// 走访: one row per visit that left the draft state.
    Visits,
    /// 主动发现报告: one row per report that left the draft state.
    Reports,
    /// 任务: one row per task (核实, 复核, 探访), open or not.
    Tasks,
    /// 保障决定: one row per decision on a household (批准, 不予批准, 变更, 渐退, 终止, ...).
    Decisions,
    /// 监测预警: one row per monitoring alert, open or disposed.
    Alerts,
    /// 临时救助: one row per 临时救助 case, in the region where the emergency happened.
    TemporaryAid,
    /// 申请: one row per application (入户调查 visit past the draft state), with its township and
    /// county decisions and their due dates.
    Applications,
}

impl Dataset {
    pub const ALL: [Dataset; 9] = [
        Dataset::Households,
        Dataset::Members,
        Dataset::Visits,
        Dataset::Reports,
        Dataset::Tasks,
        Dataset::Decisions,
        Dataset::Alerts,
        Dataset::TemporaryAid,
        Dataset::Applications,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Dataset::Households => "households",
            Dataset::Members => "members",
            Dataset::Visits => "visits",
            Dataset::Reports => "reports",
            Dataset::Tasks => "tasks",
            Dataset::Decisions => "decisions",
            Dataset::Alerts => "alerts",
            Dataset::TemporaryAid => "temporary_aid",
            Dataset::Applications => "applications",
        }
    }

    pub fn parse(s: &str) -> Option<Dataset> {
        Dataset::ALL.into_iter().find(|d| d.as_str() == s)
    }

    pub fn label_zh(self) -> &'static str {
        match self {
            Dataset::Households => "家庭台账",
            Dataset::Members => "家庭成员台账",
            Dataset::Visits => "走访台账",
            Dataset::Reports => "主动发现台账",
            Dataset::Tasks => "任务台账",
            Dataset::Decisions => "保障决定台账",
            Dataset::Alerts => "监测预警台账",
            Dataset::TemporaryAid => "临时救助台账",
            Dataset::Applications => "申请台账",
        }
    }

    /// The header row.
    pub fn columns(self) -> &'static [&'static str] {
        match self {
            Dataset::Households => &[
                "户编号",
                "户主",
                "地址",
                "网格编码",
                "网格",
                "户籍类型",
                "保障类别",
                "成员人数",
            ],
            Dataset::Members => &[
                "户编号",
                "户主",
                "地址",
                "网格编码",
                "网格",
                "成员编号",
                "姓名",
                "身份证号",
                "与户主关系",
                "共同生活",
            ],
            Dataset::Visits => &[
                "走访编号",
                "户编号",
                "户主",
                "地址",
                "网格编码",
                "网格",
                "走访类型",
                "状态",
                "方式",
                "开始时间",
                "结束时间",
                "提交时间",
                "调查人数",
                "调查结论",
                "照片数",
            ],
            Dataset::Reports => &[
                "报告编号",
                "网格编码",
                "网格",
                "上报人",
                "发现渠道",
                "紧急程度",
                "急难超24小时",
                "状态",
                "上报时间",
                "转介救助类别",
                "转介部门",
                "转介日期",
            ],
            Dataset::Tasks => &[
                "任务编号",
                "类型",
                "户编号",
                "户主",
                "地址",
                "报告编号",
                "承办人",
                "状态",
                "创建时间",
                "到期日",
                "已逾期",
                "说明",
            ],
            Dataset::Decisions => &[
                "户编号",
                "户主",
                "地址",
                "网格编码",
                "网格",
                "救助类别",
                "决定",
                "月保障金额（元）",
                "保障人数",
                "起始发放日期",
                "渐退月数",
                "决定时间",
                "决定人",
                "文号",
                "理由或说明",
                "入户调查编号",
            ],
            Dataset::Alerts => &[
                "预警编号",
                "预警指标",
                "户编号",
                "户主",
                "地址",
                "网格编码",
                "网格",
                "成员",
                "身份证号",
                "预警内容",
                "接收时间",
                "核查到期日",
                "已逾期",
                "承办人",
                "核查走访编号",
                "状态",
                "处置结果",
                "处置说明",
                "反馈日期",
                "反馈对象",
                "处置人",
                "处置时间",
            ],
            Dataset::TemporaryAid => &[
                "案件编号",
                "类型",
                "户编号",
                "受助人",
                "身份证号",
                "发生地区划编码",
                "发生地",
                "地点",
                "事由",
                "报告编号",
                "上报时间",
                "先行救助到期时间",
                "先行救助时间",
                "补办手续到期时间",
                "补办手续时间",
                "已超时",
                "审批权限",
                "一事一议",
                "批准金额（元）",
                "已发放金额（元）",
                "状态",
                "登记人",
            ],
            Dataset::Applications => &[
                "申请编号",
                "户编号",
                "户主",
                "地址",
                "网格编码",
                "网格",
                "申请救助类别",
                "受理日期",
                "近亲属备案",
                "提交时间",
                "状态",
                "乡镇审核意见",
                "乡镇审核时间",
                "乡镇审核到期日",
                "县级确认意见",
                "县级确认时间",
                "县级确认到期日",
                "办理总时限",
                "延期说明",
                "已逾期",
            ],
        }
    }

    /// What the period filters on, as the console's form says it; `None` for a ledger without
    /// a period.
    pub fn period_label_zh(self) -> Option<&'static str> {
        match self {
            Dataset::Households | Dataset::Members => None,
            Dataset::Visits => Some("提交日期"),
            Dataset::Reports => Some("上报日期"),
            Dataset::Tasks => Some("到期日（无到期日的按创建日）"),
            Dataset::Decisions => Some("决定日期"),
            Dataset::Alerts => Some("接收日期"),
            Dataset::TemporaryAid => Some("上报日期"),
            Dataset::Applications => Some("提交日期"),
        }
    }

    /// What the period (`from`, `to`) filters on, if anything: the submission of a visit, the
    /// report time of a report, the due date of a task (its creation when it has none), the
    /// decision's time, an alert's receipt, a 临时救助 case's report, an application's submission.
    fn period_instant(self) -> Option<Expr> {
        match self {
            Dataset::Households | Dataset::Members => None,
            Dataset::Visits => Some(Expr::col(visit::Column::SubmittedAtMs)),
            Dataset::Reports => Some(Expr::col(report::Column::ReportedAtMs)),
            Dataset::Tasks => Some(
                Func::coalesce([
                    Expr::col(task::Column::DueAtMs),
                    Expr::col(task::Column::CreatedAtMs),
                ])
                .into(),
            ),
            Dataset::Decisions => Some(Expr::col(decision::Column::AtMs)),
            Dataset::Alerts => Some(Expr::col(monitoring_alert::Column::ReceivedAtMs)),
            Dataset::TemporaryAid => Some(Expr::col(temp_aid_case::Column::ReportedAtMs)),
            Dataset::Applications => Some(Expr::col(visit::Column::SubmittedAtMs)),
        }
    }
}

/// The file format of an export.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    /// UTF-8 with a byte-order mark (so that Excel and WPS read the Chinese), comma-separated,
    /// RFC 4180 quoting.
    Csv,
    /// Excel 2007+ workbook.
    Xlsx,
}

impl Format {
    pub fn parse(s: &str) -> Option<Format> {
        match s {
            "csv" => Some(Format::Csv),
            "xlsx" => Some(Format::Xlsx),
            _ => None,
        }
    }

    pub fn extension(self) -> &'static str {
        match self {
            Format::Csv => "csv",
            Format::Xlsx => "xlsx",
        }
    }

    pub fn content_type(self) -> &'static str {
        match self {
            Format::Csv => "text/csv; charset=utf-8",
            Format::Xlsx => "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
        }
    }
}

/// Query parameters of an export.
#[derive(Debug, Clone, Default, Deserialize, utoipa::IntoParams)]
#[serde(default)]
pub struct ExportParams {
    /// `csv` (default) or `xlsx`.
    pub format: Option<String>,
    /// A region code inside the caller's regions (default: all of them).
    pub region: Option<String>,
    /// On or after this day (China time, `YYYY-MM-DD`): visits by submission, reports by
    /// report time, tasks by due date (creation when they have none), decisions by the decision,
    /// alerts by their receipt, 临时救助 cases by their report, applications by submission;
    /// households and members ignore it.
    pub from: Option<String>,
    /// On or before this day (China time, `YYYY-MM-DD`), as `from`.
    pub to: Option<String>,
    /// Members only: `true` for full 身份证号 (needs `unmask` in the exported regions; audited).
    pub unmask: Option<bool>,
}

fn invalid(field: &str, zh: String, en: String) -> ApiError {
    ApiError::new(Code::InvalidRequest)
        .with_message(zh, en)
        .with_details(serde_json::json!({ "field": field }))
}

/// A day asked for in field `field` (`YYYY-MM-DD`; blank: none), or `request.invalid` naming
/// the field.
pub fn day(field: &str, v: Option<&str>) -> ApiResult<Option<NaiveDate>> {
    match v.map(str::trim).filter(|v| !v.is_empty()) {
        None => Ok(None),
        Some(v) => NaiveDate::parse_from_str(v, "%Y-%m-%d")
            .map(Some)
            .map_err(|_| {
                invalid(
                    field,
                    format!("日期应为 年-月-日，如 2026-12-01：{v}"),
                    format!("a date is YYYY-MM-DD, e.g. 2026-12-01: {v}"),
                )
            }),
    }
}

/// Where an export stands: its filters, and the key after which the next page starts.
pub struct Export {
    pub dataset: Dataset,
    pub format: Format,
    in_scope: Condition,
    /// The period column between these instants (unix ms, the end excluded).
    period: Option<(Option<i64>, Option<i64>)>,
    unmask: bool,
    after: Option<(String, String)>,
    done: bool,
    grid_names: Names,
    account_names: Names,
    /// The working-day calendar and the policy book, for the due dates of applications (read
    /// once per export, when first needed).
    limits: Option<(
        doudi_protocol::rules::calendar::WorkCalendar,
        crate::review::queue::Limits,
    )>,
    /// Rows read so far.
    pub rows: u64,
}

impl Export {
    /// A file name for the download: dataset and day, ASCII.
    pub fn file_name(&self) -> String {
        let today = deadlines::today()
            .map(|d| d.format("%Y%m%d").to_string())
            .unwrap_or_default();
        format!(
            "doudi-{}-{today}.{}",
            self.dataset.as_str(),
            self.format.extension()
        )
    }
}

/// Check the caller's permission and the filters, audit the export, and return where it starts.
pub async fn start(
    db: &DatabaseConnection,
    actor: &Actor,
    dataset: Dataset,
    params: &ExportParams,
) -> ApiResult<Export> {
    let target = format!("exports.{}", dataset.as_str());
    actor
        .require(db, Action::Export, Target::Scope, &target)
        .await?;
    let format = match params.format.as_deref().map(str::trim) {
        None | Some("") => Format::Csv,
        Some(f) => Format::parse(f).ok_or_else(|| {
            invalid(
                "format",
                format!("导出格式应为 csv 或 xlsx：{f}"),
                format!("the export format is csv or xlsx: {f}"),
            )
        })?,
    };
    let subject = &actor.subject;
    let region = params
        .region
        .as_deref()
        .map(str::trim)
        .filter(|r| !r.is_empty());
    let mut region_path = None;
    if let Some(code) = region {
        let Some(path) = region_path_in_scope(db, subject, code).await? else {
            return Err(ApiError::new(Code::NotFound).with_message(
                format!("没有这个区划，或不在您的管辖范围内：{code}"),
                format!("no such region in your regions: {code}"),
            ));
        };
        region_path = Some(path);
    }
    // The caller's regions, and within them the region asked for.
    fn within(subject: &Subject, col: impl ColumnTrait + Copy, path: Option<&str>) -> Condition {
        let c = Condition::all().add(scope_condition(subject, col));
        match path {
            Some(p) => c.add(col.starts_with(p)),
            None => c,
        }
    }
    let path = region_path.as_deref();
    let in_scope = match dataset {
        Dataset::Households => within(subject, household::Column::RegionPath, path),
        Dataset::Members => within(subject, member::Column::RegionPath, path),
        Dataset::Visits => within(subject, visit::Column::RegionPath, path),
        Dataset::Reports => within(subject, report::Column::RegionPath, path),
        Dataset::Tasks => within(subject, task::Column::RegionPath, path),
        Dataset::Decisions => within(subject, decision::Column::RegionPath, path),
        Dataset::Alerts => within(subject, monitoring_alert::Column::RegionPath, path),
        Dataset::TemporaryAid => within(subject, temp_aid_case::Column::RegionPath, path),
        Dataset::Applications => within(subject, visit::Column::RegionPath, path),
    };
    let from = day("from", params.from.as_deref())?;
    let to = day("to", params.to.as_deref())?;
    if let (Some(f), Some(t)) = (from, to)
        && f > t
    {
        return Err(invalid(
            "from",
            "开始日期晚于结束日期".into(),
            "the period starts after it ends".into(),
        ));
    }
    let period =
        (dataset.period_instant().is_some() && (from.is_some() || to.is_some())).then(|| {
            (
                from.map(deadlines::midnight_ms),
                to.and_then(|t| t.succ_opt()).map(deadlines::midnight_ms),
            )
        });
    let unmask = dataset == Dataset::Members && params.unmask == Some(true);
    if unmask {
        match &region_path {
            Some(path) => {
                actor
                    .require_visible(db, Action::Unmask, path, &target)
                    .await?
            }
            None => {
                actor
                    .require(db, Action::Unmask, Target::Scope, &target)
                    .await?
            }
        }
    }
    let mut ev = actor.event(crate::audit::actions::EXPORT, Some(&target));
    ev.detail = Some(serde_json::json!({
        "dataset": dataset.as_str(),
        "format": match format { Format::Csv => "csv", Format::Xlsx => "xlsx" },
        "region": region,
        "from": from.map(|d| d.to_string()),
        "to": to.map(|d| d.to_string()),
        "unmask": unmask,
    }));
    crate::audit::record(db, crate::audit::Outcome::Ok, ev).await?;
    Ok(Export {
        dataset,
        format,
        in_scope,
        period,
        unmask,
        after: None,
        done: false,
        grid_names: Names::default(),
        account_names: Names::default(),
        limits: None,
        rows: 0,
    })
}

fn label<T>(code: &str, parse: fn(&str) -> Option<T>, zh: fn(T) -> &'static str) -> String {
    parse(code).map(zh).unwrap_or(code).to_string()
}

fn time(ms: Option<i64>) -> String {
    ms.and_then(deadlines::local)
        .map(|t| t.format("%Y-%m-%d %H:%M").to_string())
        .unwrap_or_default()
}

impl Export {
    /// The grid names of `codes` (cached for the export).
    async fn grid_names(&mut self, db: &DatabaseConnection, codes: &[&str]) -> ApiResult<()> {
        let missing = self.grid_names.missing(codes);
        if !missing.is_empty() {
            let found = crate::regions::names(db, missing.clone()).await?;
            self.grid_names.fill(missing, found);
        }
        Ok(())
    }

    fn grid_name(&self, code: &str) -> String {
        self.grid_names.get(code)
    }

    /// The display names of the accounts `ids` (cached for the export).
    async fn account_names(&mut self, db: &DatabaseConnection, ids: &[&str]) -> ApiResult<()> {
        let missing = self.account_names.missing(ids);
        if !missing.is_empty() {
            let found = account::Entity::find()
                .filter(account::Column::Id.is_in(missing.clone()))
                .all(db)
                .await?;
            self.account_names
                .fill(missing, found.into_iter().map(|a| (a.id, a.display_name)));
        }
        Ok(())
    }

    fn account_name(&self, id: &str) -> String {
        self.account_names.get(id)
    }

    /// The rows of the period, if one was asked for.
    fn in_period<Q: QueryFilter>(&self, mut q: Q) -> Q {
        if let (Some((from, to)), Some(at)) = (self.period, self.dataset.period_instant()) {
            if let Some(f) = from {
                q = q.filter(at.clone().gte(f));
            }
            if let Some(t) = to {
                q = q.filter(at.lt(t));
            }
        }
        q
    }

    /// The next page of `q` in the caller's regions and the period, in the order of its string
    /// key column `key`, after the last key of the page before ([`Export::after`]); remembers
    /// this page's last key (`key_of`).
    async fn next_by_key<E: EntityTrait>(
        &mut self,
        db: &DatabaseConnection,
        q: Select<E>,
        key: E::Column,
        key_of: fn(&E::Model) -> &String,
    ) -> ApiResult<Vec<E::Model>> {
        let mut q = self.in_period(q.filter(self.in_scope.clone()));
        if let Some((id, _)) = &self.after {
            q = q.filter(key.gt(id.as_str()));
        }
        let page = q.order_by_asc(key).limit(PAGE_ROWS).all(db).await?;
        if let Some(last) = page.last() {
            self.after = Some((key_of(last).clone(), String::new()));
        }
        Ok(page)
    }

    /// The next page of rows, or `None` when the export is complete.
    pub async fn next_page(
        &mut self,
        db: &DatabaseConnection,
        keys: &IdentityKeys,
    ) -> ApiResult<Option<Vec<Vec<String>>>> {
        if self.done {
            return Ok(None);
        }
        let rows = match self.dataset {
            Dataset::Households => self.households(db).await?,
            Dataset::Members => self.members(db, keys).await?,
            Dataset::Visits => self.visits(db).await?,
            Dataset::Reports => self.reports(db).await?,
            Dataset::Tasks => self.tasks(db).await?,
            Dataset::Decisions => self.decisions(db).await?,
            Dataset::Alerts => self.alerts(db).await?,
            Dataset::TemporaryAid => self.temporary_aid(db).await?,
            Dataset::Applications => self.applications(db).await?,
        };
        if (rows.len() as u64) < PAGE_ROWS {
            self.done = true;
        }
        self.rows += rows.len() as u64;
        Ok((!rows.is_empty()).then_some(rows))
    }

    async fn households_by_id(
        db: &DatabaseConnection,
        ids: Vec<String>,
    ) -> ApiResult<HashMap<String, household::Model>> {
        Ok(household::Entity::find()
            .filter(household::Column::DocId.is_in(ids))
            .all(db)
            .await?
            .into_iter()
            .map(|h| (h.doc_id.clone(), h))
            .collect())
    }

    async fn households(&mut self, db: &DatabaseConnection) -> ApiResult<Vec<Vec<String>>> {
        let page = self
            .next_by_key(
                db,
                household::Entity::find(),
                household::Column::DocId,
                |h| &h.doc_id,
            )
            .await?;
        let codes: Vec<&str> = page.iter().map(|h| h.scope.as_str()).collect();
        self.grid_names(db, &codes).await?;
        Ok(page
            .iter()
            .map(|h| {
                vec![
                    h.doc_id.clone(),
                    h.head_name.clone().unwrap_or_default(),
                    h.address.clone(),
                    h.scope.clone(),
                    self.grid_name(&h.scope),
                    h.hukou_type
                        .as_deref()
                        .map(|c| label(c, HukouType::parse, HukouType::label_zh))
                        .unwrap_or_default(),
                    h.programmes
                        .split(',')
                        .filter(|p| !p.is_empty())
                        .map(|p| label(p, Programme::parse, Programme::label_zh))
                        .collect::<Vec<_>>()
                        .join("、"),
                    h.member_count.to_string(),
                ]
            })
            .collect())
    }

    async fn members(
        &mut self,
        db: &DatabaseConnection,
        keys: &IdentityKeys,
    ) -> ApiResult<Vec<Vec<String>>> {
        let mut q = member::Entity::find()
            .filter(self.in_scope.clone())
            .filter(member::Column::Removed.eq(false));
        if let Some((doc, m)) = &self.after {
            q = q.filter(
                Condition::any()
                    .add(member::Column::DocId.gt(doc.as_str()))
                    .add(
                        Condition::all()
                            .add(member::Column::DocId.eq(doc.as_str()))
                            .add(member::Column::MemberId.gt(m.as_str())),
                    ),
            );
        }
        let page = q
            .order_by_asc(member::Column::DocId)
            .order_by_asc(member::Column::MemberId)
            .limit(PAGE_ROWS)
            .all(db)
            .await?;
        if let Some(m) = page.last() {
            self.after = Some((m.doc_id.clone(), m.member_id.clone()));
        }
        let mut ids: Vec<String> = page.iter().map(|m| m.doc_id.clone()).collect();
        ids.dedup();
        let households = Self::households_by_id(db, ids.clone()).await?;
        let codes: Vec<&str> = households.values().map(|h| h.scope.as_str()).collect();
        let codes: Vec<String> = codes.into_iter().map(str::to_string).collect();
        let codes: Vec<&str> = codes.iter().map(String::as_str).collect();
        self.grid_names(db, &codes).await?;
        let clear = if self.unmask {
            crate::identity::reveal_all(db, keys, ids).await?
        } else {
            Default::default()
        };
        Ok(page
            .iter()
            .map(|m| {
                let h = households.get(&m.doc_id);
                let number = if self.unmask {
                    clear
                        .get(&(m.doc_id.clone(), format!("members.{}", m.member_id)))
                        .map(|n| n.expose().to_string())
                        .or_else(|| m.id_number_masked.clone())
                } else {
                    m.id_number_masked.clone()
                };
                vec![
                    m.doc_id.clone(),
                    h.and_then(|h| h.head_name.clone()).unwrap_or_default(),
                    h.map(|h| h.address.clone()).unwrap_or_default(),
                    h.map(|h| h.scope.clone()).unwrap_or_default(),
                    h.map(|h| self.grid_name(&h.scope)).unwrap_or_default(),
                    m.member_id.clone(),
                    m.name.clone(),
                    number.unwrap_or_default(),
                    label(&m.relation, Relation::parse, Relation::label_zh),
                    yes_no(m.co_resident),
                ]
            })
            .collect())
    }

    /// The next page of the visits of `q` past the draft state, with their households (by id);
    /// their grids' names looked up.
    async fn visit_page(
        &mut self,
        db: &DatabaseConnection,
        q: Select<visit::Entity>,
    ) -> ApiResult<(Vec<visit::Model>, HashMap<String, household::Model>)> {
        let page = self
            .next_by_key(
                db,
                q.filter(visit::Column::Status.ne(VisitStatus::Draft.as_str())),
                visit::Column::DocId,
                |v| &v.doc_id,
            )
            .await?;
        let households =
            Self::households_by_id(db, page.iter().map(|v| v.household_id.clone()).collect())
                .await?;
        let codes: Vec<String> = page.iter().map(|v| v.scope.clone()).collect();
        let codes: Vec<&str> = codes.iter().map(String::as_str).collect();
        self.grid_names(db, &codes).await?;
        Ok((page, households))
    }

    async fn visits(&mut self, db: &DatabaseConnection) -> ApiResult<Vec<Vec<String>>> {
        let (page, households) = self.visit_page(db, visit::Entity::find()).await?;
        Ok(page
            .iter()
            .map(|v| {
                let h = households.get(&v.household_id);
                vec![
                    v.doc_id.clone(),
                    v.household_id.clone(),
                    h.and_then(|h| h.head_name.clone()).unwrap_or_default(),
                    h.map(|h| h.address.clone()).unwrap_or_default(),
                    v.scope.clone(),
                    self.grid_name(&v.scope),
                    label(&v.purpose, Purpose::parse, Purpose::label_zh),
                    label(&v.status, VisitStatus::parse, VisitStatus::label_zh),
                    label(&v.mode, VisitMode::parse, VisitMode::label_zh),
                    time(v.started_at_ms),
                    time(v.ended_at_ms),
                    time(v.submitted_at_ms),
                    v.investigator_count.to_string(),
                    v.conclusion
                        .as_deref()
                        .map(|c| label(c, Conclusion::parse, Conclusion::label_zh))
                        .unwrap_or_default(),
                    v.photo_count.to_string(),
                ]
            })
            .collect())
    }
}

impl Export {
    async fn reports(&mut self, db: &DatabaseConnection) -> ApiResult<Vec<Vec<String>>> {
        let page = self
            .next_by_key(
                db,
                report::Entity::find()
                    .filter(report::Column::Status.ne(DiscoveryStatus::Draft.as_str())),
                report::Column::DocId,
                |r| &r.doc_id,
            )
            .await?;
        let codes: Vec<&str> = page.iter().map(|r| r.scope.as_str()).collect();
        self.grid_names(db, &codes).await?;
        let reporters: Vec<&str> = page.iter().map(|r| r.reporter.as_str()).collect();
        self.account_names(db, &reporters).await?;
        let referred =
            crate::review::reports::referrals(db, page.iter().map(|r| r.doc_id.clone()).collect())
                .await?;
        Ok(page
            .iter()
            .map(|r| {
                let to = referred.get(&r.doc_id);
                vec![
                    r.doc_id.clone(),
                    r.scope.clone(),
                    self.grid_name(&r.scope),
                    self.account_name(&r.reporter),
                    r.channel
                        .as_deref()
                        .map(|c| label(c, Channel::parse, Channel::label_zh))
                        .unwrap_or_default(),
                    r.urgency
                        .as_deref()
                        .map(|c| label(c, Urgency::parse, Urgency::label_zh))
                        .unwrap_or_default(),
                    yes_no(r.emergency_24h),
                    label(&r.status, DiscoveryStatus::parse, DiscoveryStatus::label_zh),
                    time(r.reported_at_ms),
                    to.filter(|t| t.programme.is_some())
                        .map(|t| t.label_zh())
                        .unwrap_or_default(),
                    to.and_then(|t| t.department.clone()).unwrap_or_default(),
                    to.map(|t| t.referred_on.clone()).unwrap_or_default(),
                ]
            })
            .collect())
    }

    async fn tasks(&mut self, db: &DatabaseConnection) -> ApiResult<Vec<Vec<String>>> {
        let page = self
            .next_by_key(db, task::Entity::find(), task::Column::Id, |r| &r.id)
            .await?;
        let households = Self::households_by_id(
            db,
            page.iter().filter_map(|t| t.household_id.clone()).collect(),
        )
        .await?;
        let assignees: Vec<&str> = page
            .iter()
            .filter_map(|t| t.assignee_id.as_deref())
            .collect();
        self.account_names(db, &assignees).await?;
        let now = crate::auth::now_ms();
        Ok(page
            .iter()
            .map(|t| {
                let h = t.household_id.as_ref().and_then(|id| households.get(id));
                vec![
                    t.id.clone(),
                    recheck::kind_label_zh(&t.kind).to_string(),
                    t.household_id.clone().unwrap_or_default(),
                    h.and_then(|h| h.head_name.clone()).unwrap_or_default(),
                    h.map(|h| h.address.clone()).unwrap_or_default(),
                    t.report_id.clone().unwrap_or_default(),
                    t.assignee_id
                        .as_deref()
                        .map(|a| self.account_name(a))
                        .unwrap_or_default(),
                    recheck::task_status_label_zh(&t.status).to_string(),
                    time(Some(t.created_at_ms)),
                    t.due_at_ms
                        .and_then(deadlines::local_date)
                        .map(|d| d.to_string())
                        .unwrap_or_default(),
                    yes_no(t.status == "open" && t.due_at_ms.is_some_and(|d| d < now)),
                    t.note.clone().unwrap_or_default(),
                ]
            })
            .collect())
    }
}

impl Export {
    async fn decisions(&mut self, db: &DatabaseConnection) -> ApiResult<Vec<Vec<String>>> {
        let mut q = self.in_period(decision::Entity::find().filter(self.in_scope.clone()));
        if let Some((doc, idx)) = &self.after {
            let idx: i32 = idx.parse().unwrap_or(i32::MAX);
            q = q.filter(
                Condition::any()
                    .add(decision::Column::DocId.gt(doc.as_str()))
                    .add(
                        Condition::all()
                            .add(decision::Column::DocId.eq(doc.as_str()))
                            .add(decision::Column::Idx.gt(idx)),
                    ),
            );
        }
        let page = q
            .order_by_asc(decision::Column::DocId)
            .order_by_asc(decision::Column::Idx)
            .limit(PAGE_ROWS)
            .all(db)
            .await?;
        if let Some(d) = page.last() {
            self.after = Some((d.doc_id.clone(), d.idx.to_string()));
        }
        let mut ids: Vec<String> = page.iter().map(|d| d.doc_id.clone()).collect();
        ids.dedup();
        let households = Self::households_by_id(db, ids).await?;
        let codes: Vec<String> = page.iter().map(|d| d.scope.clone()).collect();
        let codes: Vec<&str> = codes.iter().map(String::as_str).collect();
        self.grid_names(db, &codes).await?;
        let deciders: Vec<&str> = page.iter().map(|d| d.decided_by.as_str()).collect();
        self.account_names(db, &deciders).await?;
        Ok(page
            .iter()
            .map(|d| {
                let h = households.get(&d.doc_id);
                vec![
                    d.doc_id.clone(),
                    h.and_then(|h| h.head_name.clone()).unwrap_or_default(),
                    h.map(|h| h.address.clone()).unwrap_or_default(),
                    d.scope.clone(),
                    self.grid_name(&d.scope),
                    d.programme
                        .as_deref()
                        .map(|p| label(p, Programme::parse, Programme::label_zh))
                        .unwrap_or_default(),
                    label(
                        &d.outcome,
                        DecisionOutcome::parse,
                        DecisionOutcome::label_zh,
                    ),
                    d.amount_fen
                        .map(|f| Money::fen(f).to_string())
                        .unwrap_or_default(),
                    d.household_size.map(|n| n.to_string()).unwrap_or_default(),
                    d.effective_from.clone().unwrap_or_default(),
                    d.months.map(|n| n.to_string()).unwrap_or_default(),
                    time(Some(d.at_ms)),
                    self.account_name(&d.decided_by),
                    d.reference.clone().unwrap_or_default(),
                    d.note.clone().unwrap_or_default(),
                    d.visit_id.clone().unwrap_or_default(),
                ]
            })
            .collect())
    }

    async fn alerts(&mut self, db: &DatabaseConnection) -> ApiResult<Vec<Vec<String>>> {
        let page = self
            .next_by_key(
                db,
                monitoring_alert::Entity::find(),
                monitoring_alert::Column::Id,
                |a| &a.id,
            )
            .await?;
        let households =
            Self::households_by_id(db, page.iter().map(|a| a.household_id.clone()).collect())
                .await?;
        let codes: Vec<String> = households.values().map(|h| h.scope.clone()).collect();
        let codes: Vec<&str> = codes.iter().map(String::as_str).collect();
        self.grid_names(db, &codes).await?;
        let people: Vec<&str> = page
            .iter()
            .flat_map(|a| [a.assignee_id.as_deref(), a.disposed_by.as_deref()])
            .flatten()
            .collect();
        self.account_names(db, &people).await?;
        let now = crate::auth::now_ms();
        Ok(page
            .iter()
            .map(|a| {
                let h = households.get(&a.household_id);
                let open = a.status == "open";
                vec![
                    a.id.clone(),
                    crate::monitoring::label_zh(&a.indicator).to_string(),
                    a.household_id.clone(),
                    h.and_then(|h| h.head_name.clone()).unwrap_or_default(),
                    h.map(|h| h.address.clone()).unwrap_or_default(),
                    h.map(|h| h.scope.clone()).unwrap_or_default(),
                    h.map(|h| self.grid_name(&h.scope)).unwrap_or_default(),
                    a.member_name.clone(),
                    a.id_masked.clone(),
                    a.detail.clone(),
                    time(Some(a.received_at_ms)),
                    a.due_at_ms
                        .and_then(deadlines::local_date)
                        .map(|d| d.to_string())
                        .unwrap_or_default(),
                    yes_no(open && a.due_at_ms.is_some_and(|d| d < now)),
                    a.assignee_id
                        .as_deref()
                        .map(|p| self.account_name(p))
                        .unwrap_or_default(),
                    a.visit_id.clone().unwrap_or_default(),
                    if open { "待处置" } else { "已处置" }.to_string(),
                    a.disposition
                        .as_deref()
                        .map(|d| crate::monitoring::label_zh(d).to_string())
                        .unwrap_or_default(),
                    a.disposition_note.clone().unwrap_or_default(),
                    a.feedback_date.clone().unwrap_or_default(),
                    a.feedback_to.clone().unwrap_or_default(),
                    a.disposed_by
                        .as_deref()
                        .map(|p| self.account_name(p))
                        .unwrap_or_default(),
                    time(a.disposed_at_ms),
                ]
            })
            .collect())
    }
}

/// Names by code or id, looked up once per export.
#[derive(Default)]
struct Names(HashMap<String, String>);

impl Names {
    /// The keys of `want` not looked up yet.
    fn missing(&self, want: &[&str]) -> Vec<String> {
        let mut m: Vec<String> = want
            .iter()
            .filter(|c| !self.0.contains_key(**c))
            .map(|c| c.to_string())
            .collect();
        m.sort();
        m.dedup();
        m
    }

    /// Keep what was `found` of the keys `asked` (the others have no name).
    fn fill(&mut self, asked: Vec<String>, found: impl IntoIterator<Item = (String, String)>) {
        self.0.extend(found);
        for k in asked {
            self.0.entry(k).or_default();
        }
    }

    fn get(&self, key: &str) -> String {
        self.0.get(key).cloned().unwrap_or_default()
    }
}

fn yes_no(b: bool) -> String {
    if b { "是" } else { "否" }.to_string()
}

/// The header and rows of a page as CSV bytes (the header, with the UTF-8 byte-order mark, before
/// the first page only).
pub fn csv_bytes(dataset: Dataset, rows: &[Vec<String>], header: bool) -> ApiResult<Vec<u8>> {
    let mut out = Vec::new();
    if header {
        out.extend_from_slice("\u{feff}".as_bytes());
    }
    {
        let mut w = csv::Writer::from_writer(&mut out);
        if header {
            w.write_record(dataset.columns())
                .map_err(ApiError::internal)?;
        }
        for r in rows {
            w.write_record(r).map_err(ApiError::internal)?;
        }
        w.flush().map_err(ApiError::internal)?;
    }
    Ok(out)
}

/// An XLSX workbook written row by row into worksheets kept on disk.
pub struct XlsxWriter {
    book: rust_xlsxwriter::Workbook,
    dataset: Dataset,
    sheets: usize,
    row: u32,
}

fn xlsx_err(e: rust_xlsxwriter::XlsxError) -> ApiError {
    ApiError::internal(e)
}

impl XlsxWriter {
    pub fn new(dataset: Dataset) -> ApiResult<XlsxWriter> {
        let mut w = XlsxWriter {
            book: rust_xlsxwriter::Workbook::new(),
            dataset,
            sheets: 0,
            row: 0,
        };
        w.new_sheet()?;
        Ok(w)
    }

    fn new_sheet(&mut self) -> ApiResult<()> {
        self.sheets += 1;
        let name = if self.sheets == 1 {
            self.dataset.label_zh().to_string()
        } else {
            format!("{}（{}）", self.dataset.label_zh(), self.sheets)
        };
        let bold = rust_xlsxwriter::Format::new().set_bold();
        let sheet = self
            .book
            .add_worksheet_with_constant_memory()
            .map_err(xlsx_err)?;
        sheet.set_name(name).map_err(xlsx_err)?;
        for (c, h) in self.dataset.columns().iter().enumerate() {
            sheet
                .write_string_with_format(0, c as u16, *h, &bold)
                .map_err(xlsx_err)?;
        }
        sheet.set_freeze_panes(1, 0).map_err(xlsx_err)?;
        self.row = 0;
        Ok(())
    }

    /// Append rows, starting a new worksheet when one is full.
    pub fn write(&mut self, rows: &[Vec<String>]) -> ApiResult<()> {
        for r in rows {
            if self.row == XLSX_ROWS_PER_SHEET {
                self.new_sheet()?;
            }
            self.row += 1;
            let at = self.row;
            let sheet = self
                .book
                .worksheet_from_index(self.sheets - 1)
                .map_err(xlsx_err)?;
            for (c, v) in r.iter().enumerate() {
                sheet.write_string(at, c as u16, v).map_err(xlsx_err)?;
            }
        }
        Ok(())
    }

    /// Write the finished workbook.
    pub fn finish<W: std::io::Write + Send>(mut self, to: W) -> ApiResult<()> {
        self.book.save_to_writer(to).map_err(xlsx_err)
    }
}
