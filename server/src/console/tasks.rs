//! Open tasks (定期复核, 探访, 核实) with their due dates, overdue ones first; a household's open
//! tasks and its visit risk level (探访风险等级) on the household page.

use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use sea_orm::sea_query::OnConflict;
use sea_orm::{
    ActiveValue::Set, ColumnTrait, Condition, DatabaseConnection, EntityTrait, QueryFilter,
    QueryOrder, QuerySelect, TransactionTrait,
};

use super::html::{csrf_field, esc, esc_opt, layout};
use super::{FormResult, Session, checked_form, error_page, html_response, secure};
use crate::access::{Action, Actor, Target, scope_condition};
use crate::audit::{self, Outcome, actions};
use crate::auth::now_ms;
use crate::entity::{account, household, household_risk, task};
use crate::error::{ApiError, ApiResult, Code};
use crate::http::SharedState;
use crate::review::recheck::{self, kind_label_zh, parse_risk, risk_label_zh};

/// Most tasks listed at once.
const LIST_LIMIT: u64 = 500;

#[derive(Debug, Default, serde::Deserialize)]
#[serde(default)]
pub struct TaskFilter {
    /// `1`: overdue only.
    overdue: Option<String>,
}

/// Open tasks in the reviewer's regions that are past their due date.
pub async fn overdue_count(
    db: &DatabaseConnection,
    r: &Actor,
    region_path: Option<&str>,
) -> ApiResult<u64> {
    use sea_orm::PaginatorTrait;
    let mut q = task::Entity::find()
        .filter(scope_condition(&r.subject, task::Column::RegionPath))
        .filter(task::Column::Status.eq("open"))
        .filter(task::Column::DueAtMs.lt(now_ms()));
    if let Some(p) = region_path {
        q = q.filter(task::Column::RegionPath.starts_with(p));
    }
    Ok(q.count(db).await?)
}

async fn rows(db: &DatabaseConnection, cond: Condition) -> ApiResult<String> {
    let list = task::Entity::find()
        .filter(cond)
        .filter(task::Column::Status.eq("open"))
        .order_by_asc(task::Column::DueAtMs)
        .limit(LIST_LIMIT)
        .all(db)
        .await?;
    if list.is_empty() {
        return Ok("<p class=\"empty\">暂无未完成的任务。</p>".into());
    }
    let ids: Vec<String> = list.iter().filter_map(|t| t.assignee_id.clone()).collect();
    let people: Vec<(String, String)> = account::Entity::find()
        .filter(account::Column::Id.is_in(ids))
        .select_only()
        .column(account::Column::Id)
        .column(account::Column::DisplayName)
        .into_tuple()
        .all(db)
        .await?;
    let now = now_ms();
    let grid_of = |t: &task::Model| super::html::grid_of(&t.region_path);
    let names = crate::regions::names(db, list.iter().map(grid_of).collect()).await?;
    let mut out = String::new();
    for t in &list {
        let overdue = t.due_at_ms.is_some_and(|d| d < now);
        let what = match (&t.household_id, &t.report_id) {
            (Some(h), _) => format!(
                "<a href=\"/console/households/{id}\">家庭档案</a>",
                id = esc(h)
            ),
            (None, Some(r)) => format!(
                "<a href=\"/console/reports/{id}\">主动发现报告</a>",
                id = esc(r)
            ),
            _ => String::new(),
        };
        let who = match &t.assignee_id {
            Some(a) => people
                .iter()
                .find(|(id, _)| id == a)
                .map(|(_, n)| esc(n))
                .unwrap_or_else(|| esc(a)),
            None => "<span class=\"tag alert\" title=\"本网格暂无可指派的网格员\">未指派</span>"
                .to_string(),
        };
        let due = t
            .due_at_ms
            .and_then(crate::review::deadlines::local_date)
            .map(|d| d.to_string())
            .unwrap_or_else(|| "—".into());
        out.push_str(&format!(
            r#"<tr class="{cls}"><td>{kind}</td><td>{what}</td><td>{grid}</td><td>{due}{flag}</td><td>{who}</td><td>{note}</td></tr>"#,
            cls = if overdue { "flagged" } else { "" },
            kind = esc(kind_label_zh(&t.kind)),
            grid = super::html::region_label(&grid_of(t), &names),
            flag = if overdue { " <span class=\"tag alert\">已逾期</span>" } else { "" },
            note = esc_opt(t.note.as_deref()),
        ));
    }
    Ok(format!(
        r#"<table class="list"><thead><tr><th>任务</th><th>对象</th><th>网格</th><th>到期日</th><th>负责人</th><th>说明</th></tr></thead><tbody>{out}</tbody></table>"#
    ))
}

pub async fn tasks(
    State(state): State<SharedState>,
    session: Session,
    q: Result<Query<TaskFilter>, axum::extract::rejection::QueryRejection>,
) -> Response {
    let f = q.map(|q| q.0).unwrap_or_default();
    match tasks_page(&state, &session, &f).await {
        Ok(b) => html_response(StatusCode::OK, layout("任务", &session, "tasks", &b)),
        Err(e) => error_page(e),
    }
}

async fn tasks_page(state: &SharedState, session: &Session, f: &TaskFilter) -> ApiResult<String> {
    let db = &state.db;
    let r = &session.reviewer;
    r.require(db, Action::ReadCase, Target::Scope, "tasks")
        .await?;
    let only_overdue = f.overdue.as_deref() == Some("1");
    let mut cond = Condition::all().add(scope_condition(&r.subject, task::Column::RegionPath));
    if only_overdue {
        cond = cond.add(task::Column::DueAtMs.lt(now_ms()));
    }
    let n = overdue_count(db, r, None).await?;
    Ok(format!(
        r#"<p class="sub">复核和探访任务由系统按救助政策自动生成（低保每年或每半年复核，特困每年复核并按风险等级探访，家庭成员死亡后 3 个月内复核），经同步下发到网格员手机。<a href="/console/tasks{toggle}">{toggle_label}</a>（已逾期 {n} 项）</p>{rows}"#,
        toggle = if only_overdue { "" } else { "?overdue=1" },
        toggle_label = if only_overdue {
            "显示全部未完成任务"
        } else {
            "只看已逾期"
        },
        rows = rows(db, cond).await?,
    ))
}

/// The household page's section: open tasks and the risk level form.
pub async fn household_section(
    db: &DatabaseConnection,
    session: &Session,
    household_id: &str,
) -> ApiResult<String> {
    let risk = household_risk::Entity::find_by_id(household_id.to_string())
        .one(db)
        .await?
        .and_then(|r| parse_risk(&r.risk_level));
    let opts: String = [("", "未设定（特困分散供养按重点）")]
        .into_iter()
        .chain(
            [
                doudi_protocol::rules::schedule::RiskLevel::High,
                doudi_protocol::rules::schedule::RiskLevel::Key,
                doudi_protocol::rules::schedule::RiskLevel::Normal,
            ]
            .into_iter()
            .map(|l| (recheck::risk_code(l), risk_label_zh(l))),
        )
        .map(|(v, l)| {
            let cur = risk.map(recheck::risk_code).unwrap_or("");
            let sel = if v == cur { " selected" } else { "" };
            format!("<option value=\"{v}\"{sel}>{}</option>", esc(l))
        })
        .collect();
    let id = esc(household_id);
    Ok(format!(
        r#"<h2>任务</h2>{rows}<form method="post" action="/console/households/{id}/risk" class="inline-form">{csrf}<label>探访风险等级 <select name="risk">{opts}</select></label><button type="submit">保存</button></form>"#,
        rows = rows(
            db,
            Condition::all().add(task::Column::HouseholdId.eq(household_id))
        )
        .await?,
        csrf = csrf_field(session),
    ))
}

/// Set or clear a household's visit risk level; the scheduler picks it up on its next run.
pub async fn set_risk(
    State(state): State<SharedState>,
    session: Session,
    Path(id): Path<String>,
    form: FormResult,
) -> Response {
    let f = match checked_form(&session, form) {
        Ok(f) => f,
        Err(r) => return r,
    };
    let level = f.get("risk").cloned().unwrap_or_default();
    match save_risk(&state.db, &session.reviewer, &id, &level).await {
        Ok(()) => secure(Redirect::to(&format!("/console/households/{id}")).into_response()),
        Err(e) => error_page(e),
    }
}

/// Store a household's visit risk level (`high`, `key`, `normal`; empty clears it).
pub async fn save_risk(
    db: &DatabaseConnection,
    r: &Actor,
    household_id: &str,
    level: &str,
) -> ApiResult<()> {
    r.require(db, Action::ReviewVisit, Target::Scope, household_id)
        .await?;
    let Some(row) = household::Entity::find_by_id(household_id.to_string())
        .one(db)
        .await?
    else {
        return Err(ApiError::new(Code::NotFound));
    };
    r.require_visible(db, Action::ReviewVisit, &row.region_path, household_id)
        .await?;
    let risk = match level {
        "" => None,
        l => Some(parse_risk(l).ok_or_else(|| ApiError::new(Code::InvalidRequest))?),
    };
    // The level and its audit entry together, or neither.
    let txn = db.begin().await?;
    if let Some(l) = risk {
        household_risk::Entity::insert(household_risk::ActiveModel {
            household_id: Set(household_id.to_string()),
            risk_level: Set(recheck::risk_code(l).to_string()),
            set_by: Set(r.account.id.clone()),
            set_at_ms: Set(now_ms()),
        })
        .on_conflict(
            OnConflict::column(household_risk::Column::HouseholdId)
                .update_columns([
                    household_risk::Column::RiskLevel,
                    household_risk::Column::SetBy,
                    household_risk::Column::SetAtMs,
                ])
                .to_owned(),
        )
        .exec(&txn)
        .await?;
    } else {
        household_risk::Entity::delete_by_id(household_id.to_string())
            .exec(&txn)
            .await?;
    }
    audit::record(
        &txn,
        Outcome::Ok,
        audit::Event {
            account_id: Some(&r.account.id),
            device_id: Some(&r.device_id),
            region_path: Some(&row.region_path),
            action: actions::HOUSEHOLD_RISK,
            target: Some(household_id),
            client_addr: Some(&r.client_addr),
            detail: Some(serde_json::json!({ "risk_level": level })),
        },
    )
    .await?;
    txn.commit().await?;
    Ok(())
}
