//! 救助政策: the policy book (national defaults, then the layers of provinces, cities, counties …
//! with their versions), the policy in force for a chosen region and date with the layer each
//! value comes from, and a form editing one layer of a region. Saving goes through
//! [`admin::put_policy_layer`], the rule `PUT /api/v1/admin/policies` calls: the same validation
//! of the whole book, the same audit entry. A refused form comes back with what was typed and
//! the reason beside each setting.

use std::collections::HashMap;

use axum::extract::rejection::QueryRejection;
use axum::extract::{Query, State};
use axum::http::StatusCode;
use axum::response::Response;
use chrono::NaiveDate;
use serde_json::{Map, Value};

use doudi_protocol::rules::policy::{Policy, PolicyBook, PolicyLayer, PolicySettings};

use super::{fail, form_error, page, redirect, table};
use crate::access::{Action, Target};
use crate::admin::{self, policy_store_error};
use crate::console::html::{csrf_field, esc, layout, parse_yuan, region_label, yuan};
use crate::console::{FormFields, FormResult, Session, checked_form, html_response};
use crate::error::{ApiError, ApiResult, Code};
use crate::http::SharedState;
use crate::policies;
use crate::review::deadlines;

/// How a setting is typed and shown.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Kind {
    /// A decimal (倍数, 比例).
    Rate,
    /// An amount in yuan.
    Yuan,
    /// A whole number (days, months, ages).
    Count,
    /// 是 / 否.
    Flag,
    /// A whole number or 不限.
    CapCount,
    /// An amount in yuan or 不限.
    CapYuan,
    /// A 低保 standard: an amount in yuan per month or per year.
    Standard,
    /// Local income types, one `代码=名称` a line.
    IncomeKinds,
    /// Income type codes separated by commas.
    Codes,
}

/// Every setting of a policy layer: its key (the field of `PolicySettings`), its Chinese name,
/// its unit and how it is typed. The unit test checks that the list names every field.
#[rustfmt::skip]
const FIELDS: &[(&str, &str, &str, Kind)] = &[
    ("dibao_standard_urban", "城市低保标准", "元/人（按月或按年）", Kind::Standard),
    ("dibao_standard_rural", "农村低保标准", "元/人（按月或按年）", Kind::Standard),
    ("near_dibao_multiplier_urban", "城市低保边缘倍数", "倍（低保标准的倍数，不低于 1）", Kind::Rate),
    ("near_dibao_multiplier_rural", "农村低保边缘倍数", "倍（低保标准的倍数，不低于 1）", Kind::Rate),
    ("tekun_multiplier", "特困基本生活标准", "倍（低保标准的倍数，不低于 1）", Kind::Rate),
    ("disposable_income_urban", "上年城镇居民人均可支配收入", "元/年", Kind::Yuan),
    ("disposable_income_rural", "上年农村居民人均可支配收入", "元/年", Kind::Yuan),
    ("employment_cost_rate", "必要就业成本扣除比例", "0 至 1 之间的小数", Kind::Rate),
    ("rigid_expenditure_ratio", "刚性支出认定比例", "0 至 1 之间的小数", Kind::Rate),
    ("rigid_expenditure_deduction", "扣减刚性支出", "是/否", Kind::Flag),
    ("basic_pension_central_excluded", "基础养老金中央部分不计入收入", "是/否", Kind::Flag),
    ("local_income_kinds", "地方收入项目", "每行一项：代码=名称", Kind::IncomeKinds),
    ("local_excluded_income_kinds", "地方不计入收入的项目", "收入项目代码，用逗号分隔", Kind::Codes),
    ("financial_assets_per_capita_limit", "人均金融资产限额", "元/人（或填“不限”）", Kind::CapYuan),
    ("vehicle_limit", "可拥有的非豁免机动车", "辆（或填“不限”）", Kind::CapCount),
    ("dwelling_limit", "可拥有的住房", "套（或填“不限”）", Kind::CapCount),
    ("phase_out_min_months", "渐退期最短", "个月", Kind::Count),
    ("phase_out_max_months", "渐退期最长", "个月（或填“不限”）", Kind::CapCount),
    ("confirmation_delegated", "审核确认权限下放乡镇", "是/否", Kind::Flag),
    ("investigation_start_wd", "乡镇启动调查时限", "个工作日", Kind::Count),
    ("data_check_start_wd", "县级启动信息核对时限", "个工作日", Kind::Count),
    ("public_notice_days", "公示期", "天", Kind::Count),
    ("dibao_county_review_wd", "低保县级审核确认时限", "个工作日", Kind::Count),
    ("tekun_township_wd", "特困乡镇审核时限", "个工作日", Kind::Count),
    ("tekun_county_wd", "特困县级确认时限", "个工作日", Kind::Count),
    ("refusal_notice_wd", "不予批准书面通知时限", "个工作日", Kind::Count),
    ("case_limit_wd", "低保办理总时限", "个工作日", Kind::Count),
    ("case_limit_delegated_wd", "委托乡镇确认时办理总时限", "个工作日", Kind::Count),
    ("case_limit_special_wd", "特殊情况办理总时限", "个工作日", Kind::Count),
    ("self_care_reassessment_wd", "特困自理能力复评时限", "个工作日", Kind::Count),
    ("dibao_recheck_stable_months", "低保复核周期（收入稳定）", "个月", Kind::Count),
    ("dibao_recheck_unstable_months", "低保复核周期（收入不稳定或有劳动能力）", "个月", Kind::Count),
    ("tekun_recheck_months", "特困复核周期", "个月", Kind::Count),
    ("death_recheck_months", "成员死亡后复核时限", "个月", Kind::Count),
    ("elder_age", "老年年龄线", "岁", Kind::Count),
    ("minor_age", "未成年年龄线", "岁", Kind::Count),
    ("visit_high_risk_days", "高风险对象走访周期", "天", Kind::Count),
    ("visit_key_months", "重点对象走访周期", "个月", Kind::Count),
    ("visit_other_months", "一般对象走访周期", "个月", Kind::Count),
    ("watched_visit_months", "低保边缘及监测对象走访周期", "个月", Kind::Count),
    ("emergency_aid_hours", "急难型临时救助先行救助时限", "小时", Kind::Count),
    ("temp_aid_township_limit", "临时救助乡镇审批限额", "元", Kind::Yuan),
    ("temp_aid_yearly_cap", "临时救助每户年度上限", "元（或填“不限”）", Kind::CapYuan),
    ("emergency_paperwork_days", "急难型补办手续时限", "天", Kind::Count),
    ("emergency_paperwork_working_days", "补办手续时限按工作日计算", "是/否（否：按自然日）", Kind::Flag),
    ("alert_medical_cost_threshold", "医疗自付费用预警线", "元（12 个月合计）", Kind::Yuan),
    ("alert_verify_days", "预警核查时限", "天", Kind::Count),
    ("report_follow_up_days", "主动发现转介后回访时限", "天", Kind::Count),
];

/// The word that lifts a limit.
const UNLIMITED: &str = "不限";

fn label_of(key: &str) -> &'static str {
    FIELDS
        .iter()
        .find(|f| f.0 == key)
        .map(|f| f.1)
        .unwrap_or("")
}

/// A stored value (as serialized) as a person reads it; `None` for an unset one.
fn shown(kind: Kind, v: &Value) -> Option<String> {
    let fen = |v: &Value| v.as_i64().map(yuan);
    match (kind, v) {
        (_, Value::Null) => None,
        (Kind::Flag, Value::Bool(b)) => Some(if *b { "是" } else { "否" }.to_string()),
        (Kind::CapCount | Kind::CapYuan, Value::String(_)) => Some(UNLIMITED.to_string()),
        (Kind::Yuan | Kind::CapYuan, v) => fen(v),
        (Kind::Standard, v) => {
            let per = if v["per"] == "year" { "年" } else { "月" };
            fen(&v["amount"]).map(|a| format!("{a} 元/人·{per}"))
        }
        (Kind::IncomeKinds, Value::Array(a)) => Some(
            a.iter()
                .map(|k| {
                    format!(
                        "{}={}",
                        k["code"].as_str().unwrap_or(""),
                        k["name"].as_str().unwrap_or("")
                    )
                })
                .collect::<Vec<_>>()
                .join("\n"),
        ),
        (Kind::Codes, Value::Array(a)) => Some(
            a.iter()
                .filter_map(Value::as_str)
                .collect::<Vec<_>>()
                .join(","),
        ),
        (_, Value::String(s)) => Some(s.clone()),
        (_, v) => Some(v.to_string()),
    }
}

/// What a form field holds for a stored value: the text typed (yuan without the unit), and for
/// a standard its period.
fn typed_of(kind: Kind, v: &Value) -> (String, String) {
    match (kind, v) {
        (Kind::Standard, Value::Object(_)) => (
            v["amount"].as_i64().map(yuan).unwrap_or_default(),
            v["per"].as_str().unwrap_or("month").to_string(),
        ),
        (Kind::Flag, Value::Bool(b)) => (b.to_string(), String::new()),
        _ => (shown(kind, v).unwrap_or_default(), String::new()),
    }
}

/// A typed value as the API's JSON for the setting (`Ok(None)`: left blank, inherited), or why
/// it cannot be read.
fn parse_field(kind: Kind, text: &str, per: &str) -> Result<Option<Value>, String> {
    let t = text.trim();
    if t.is_empty() {
        return Ok(None);
    }
    let amount = |t: &str| {
        parse_yuan(t)
            .map(Value::from)
            .ok_or_else(|| "请填写金额（元），如 1000 或 1000.50".to_string())
    };
    let count = |t: &str| {
        t.parse::<u32>()
            .map(Value::from)
            .map_err(|_| "请填写不带小数的非负整数，如 12".to_string())
    };
    let value = match kind {
        Kind::Rate => doudi_protocol::rules::Rate::parse(t)
            .map(|r| Value::String(r.to_string()))
            .map_err(|_| "请填写小数，最多 4 位小数，如 1.5 或 0.6".to_string())?,
        Kind::Yuan => amount(t)?,
        Kind::Count => count(t)?,
        Kind::Flag => match t {
            "true" => Value::Bool(true),
            "false" => Value::Bool(false),
            _ => return Err("请选择“是”或“否”".into()),
        },
        Kind::CapCount if t == UNLIMITED => Value::from("unlimited"),
        Kind::CapYuan if t == UNLIMITED => Value::from("unlimited"),
        Kind::CapCount => count(t)?,
        Kind::CapYuan => amount(t)?,
        Kind::Standard => {
            let per = match per {
                "month" | "year" => per,
                _ => return Err("请选择按月或按年".into()),
            };
            serde_json::json!({ "amount": amount(t)?, "per": per })
        }
        Kind::IncomeKinds => {
            let mut kinds = Vec::new();
            for line in t.lines().map(str::trim).filter(|l| !l.is_empty()) {
                let Some((code, name)) = line.split_once(['=', '＝']) else {
                    return Err(format!("“{line}”应写作 代码=名称"));
                };
                kinds.push(serde_json::json!({ "code": code.trim(), "name": name.trim() }));
            }
            Value::Array(kinds)
        }
        Kind::Codes => Value::Array(
            super::region_codes(t)
                .into_iter()
                .map(Value::String)
                .collect(),
        ),
    };
    Ok(Some(value))
}

/// What was typed into the form.
#[derive(Default)]
struct Typed {
    region: String,
    effective_from: String,
    source: String,
    /// By setting: the text, and a standard's period.
    values: HashMap<&'static str, (String, String)>,
}

impl Typed {
    fn from_form(f: &FormFields) -> Typed {
        let get = |k: &str| f.get(k).cloned().unwrap_or_default();
        Typed {
            region: get("region").trim().to_string(),
            effective_from: get("effective_from").trim().to_string(),
            source: get("source"),
            values: FIELDS
                .iter()
                .map(|(k, ..)| (*k, (get(k), get(&format!("{k}__per")))))
                .collect(),
        }
    }

    fn from_layer(layer: &PolicyLayer) -> Typed {
        let json = serde_json::to_value(&layer.settings).unwrap_or_default();
        Typed {
            region: layer.region.clone().unwrap_or_default(),
            effective_from: layer.effective_from.to_string(),
            source: layer.source.clone().unwrap_or_default(),
            values: FIELDS
                .iter()
                .map(|(k, _, _, kind)| (*k, typed_of(*kind, &json[*k])))
                .collect(),
        }
    }

    /// The layer typed, or the reason for each field that cannot be read (by key; `region` and
    /// `effective_from` included).
    fn layer(&self) -> Result<PolicyLayer, HashMap<&'static str, String>> {
        let mut errors = HashMap::new();
        if self.region.is_empty() {
            errors.insert("region", "请填写 12 位区划代码".to_string());
        }
        let date = NaiveDate::parse_from_str(&self.effective_from, "%Y-%m-%d").ok();
        if date.is_none() {
            errors.insert(
                "effective_from",
                "请填写生效日期，如 2027-01-01".to_string(),
            );
        }
        let mut settings = Map::new();
        for (key, _, _, kind) in FIELDS {
            let (text, per) = self.values.get(key).cloned().unwrap_or_default();
            match parse_field(*kind, &text, &per) {
                Ok(Some(v)) => {
                    settings.insert(key.to_string(), v);
                }
                Ok(None) => {}
                Err(why) => {
                    errors.insert(key, why);
                }
            }
        }
        let settings: Option<PolicySettings> = serde_json::from_value(Value::Object(settings))
            .map_err(|e| errors.insert("settings", e.to_string()))
            .ok();
        match (date, settings) {
            (Some(effective_from), Some(settings)) if errors.is_empty() => Ok(PolicyLayer {
                region: Some(self.region.clone()),
                effective_from,
                source: Some(self.source.trim().to_string()).filter(|s| !s.is_empty()),
                settings,
            }),
            _ => Err(errors),
        }
    }
}

/// Whether the administrator may read and change region policy (a refusal is audited).
async fn may_manage(state: &SharedState, session: &Session) -> ApiResult<()> {
    session
        .reviewer
        .require(&state.db, Action::ManageRegions, Target::Scope, "policies")
        .await
}

async fn book(state: &SharedState) -> ApiResult<PolicyBook> {
    Ok(policies::load(&state.db)
        .await
        .map_err(policy_store_error)?
        .0)
}

/// The names of the regions of the book's layers and of `more`.
async fn names_of(
    state: &SharedState,
    book: &PolicyBook,
    more: &[&str],
) -> ApiResult<HashMap<String, String>> {
    let mut codes: Vec<String> = book.layers().filter_map(|l| l.region.clone()).collect();
    codes.extend(more.iter().map(|c| c.to_string()));
    Ok(crate::regions::names(&state.db, codes).await?)
}

fn layer_region(layer: &PolicyLayer, names: &HashMap<String, String>) -> String {
    match &layer.region {
        Some(code) => region_label(code, names),
        None => "全国".to_string(),
    }
}

/// The layer list: region, effective date, source, the settings it sets, and a link to edit.
fn layers_table(book: &PolicyBook, names: &HashMap<String, String>) -> String {
    let rows: String = book
        .layers()
        .map(|l| {
            let set: Vec<&str> = l.settings.set_fields().into_iter().map(label_of).collect();
            let edit = match &l.region {
                Some(code) => format!(
                    "<a href=\"/console/admin/policies/edit?region={code}&amp;effective_from={d}\" aria-label=\"修改{name}自{d}起的政策\">修改</a>",
                    code = esc(code),
                    d = l.effective_from,
                    name = esc(names.get(code).map(String::as_str).unwrap_or(code)),
                ),
                None => "服务器导入".to_string(),
            };
            format!(
                "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{edit}</td></tr>",
                layer_region(l, names),
                l.effective_from,
                esc(l.source.as_deref().unwrap_or("—")),
                esc(&set.join("、")),
            )
        })
        .collect();
    table(
        "policy-layers",
        &["区划", "生效日期", "依据文件", "设置项", "操作"],
        &rows,
        "尚无任何地方政策：全部采用全国默认值。",
    )
}

/// The policy in force for `region` on `date`: each setting's value and where it comes from.
fn resolved_table(
    book: &PolicyBook,
    region: &str,
    date: NaiveDate,
    names: &HashMap<String, String>,
) -> ApiResult<String> {
    let bad = |e: doudi_protocol::rules::policy::PolicyError| {
        ApiError::new(Code::InvalidRequest)
            .with_message(e.message_zh(), e.message_en())
            .with_details(serde_json::json!({ "field": "region" }))
    };
    let policy: Policy = book.resolve(region, date).map_err(bad)?;
    let layers = book.layers_in_force(region, date).map_err(bad)?;
    let json = serde_json::to_value(&policy).unwrap_or_default();
    let rows: String = FIELDS
        .iter()
        .map(|(key, label, unit, kind)| {
            let from = layers
                .iter()
                .rev()
                .find(|l| l.settings.set_fields().contains(key))
                .map(|l| format!("{}（自{}起）", layer_region(l, names), l.effective_from))
                .unwrap_or_else(|| "全国默认值".to_string());
            let value = shown(*kind, &json[*key]).map_or_else(
                || "<span class=\"sub\">未设置</span>".to_string(),
                |v| esc(&v),
            );
            format!(
                "<tr data-key=\"{key}\"><td>{label}</td><td>{value}</td><td>{unit}</td><td>{from}</td></tr>"
            )
        })
        .collect();
    Ok(table(
        "policy-resolved",
        &["设置项", "有效值", "单位", "来源"],
        &rows,
        "",
    ))
}

/// The region and date asked for on the book page.
#[derive(Debug, Default, serde::Deserialize)]
pub struct Chosen {
    region: Option<String>,
    date: Option<String>,
    done: Option<String>,
}

const HELP: &str = r#"<p class="sub">政策按区划分层：全国默认值，再由省、市、县、乡镇逐级覆盖；下级只覆盖它设置的项目，未设置的沿用上级。每层可有多个版本，按生效日期生效。保存前按与接口相同的规则检查整套政策，有误则不保存，原政策继续有效。全国层只能在服务器上用 <code>doudi policy import</code> 导入。</p>"#;

/// The book, and the policy in force for a chosen region.
pub async fn show(
    State(state): State<SharedState>,
    session: Session,
    q: Result<Query<Chosen>, QueryRejection>,
) -> Response {
    match show_body(&state, &session, q.map(|q| q.0).unwrap_or_default()).await {
        Ok(body) => page("救助政策", &session, "policies", &body),
        Err(e) => fail(e),
    }
}

async fn show_body(state: &SharedState, session: &Session, q: Chosen) -> ApiResult<String> {
    may_manage(state, session).await?;
    let own = crate::accounts::view(&state.db, &session.reviewer.account).await?;
    let region = q
        .region
        .filter(|r| !r.trim().is_empty())
        .or_else(|| own.regions.first().map(|r| r.code.clone()))
        .unwrap_or_default();
    let today = deadlines::today().unwrap_or_default();
    let date = match q.date.as_deref().filter(|d| !d.is_empty()) {
        Some(d) => NaiveDate::parse_from_str(d, "%Y-%m-%d").map_err(|_| {
            ApiError::new(Code::InvalidRequest).with_message(
                format!("日期“{d}”无效，应写作 2027-01-01"),
                format!("bad date {d:?}"),
            )
        })?,
        None => today,
    };
    let book = book(state).await?;
    let names = names_of(state, &book, &[region.as_str()]).await?;
    let resolved = match resolved_table(&book, &region, date, &names) {
        Ok(t) => t,
        Err(e) => form_error(&e),
    };
    let done = if q.done.as_deref() == Some("saved") {
        "<p class=\"notice\" role=\"status\">政策已保存，自生效日期起用于该区划及其下级。</p>"
    } else {
        ""
    };
    Ok(format!(
        r#"{done}{HELP}
<p><a href="/console/admin/policies/edit?region={region_q}">为区划新增或修改政策</a></p>
<h2>各层政策</h2>
{layers}
<h2>有效政策</h2>
<form method="get" action="/console/admin/policies" class="filters"><label>区划代码 <input name="region" value="{region_q}" inputmode="numeric" required></label><label>日期 <input type="date" name="date" value="{date}"></label><button type="submit">查看</button></form>
<p class="sub">{label} 自 {date} 起适用的政策，及每项来自哪一层。</p>
{resolved}"#,
        layers = layers_table(&book, &names),
        region_q = esc(&region),
        label = region_label(&region, &names),
    ))
}

/// The layer to edit (`region` and `effective_from`; a new one when there is none).
#[derive(Debug, Default, serde::Deserialize)]
pub struct Which {
    region: Option<String>,
    effective_from: Option<String>,
}

/// The form for one layer version of a region, filled with the stored one if there is one.
pub async fn edit(
    State(state): State<SharedState>,
    session: Session,
    q: Result<Query<Which>, QueryRejection>,
) -> Response {
    let q = q.map(|q| q.0).unwrap_or_default();
    let result = async {
        may_manage(&state, &session).await?;
        let book = book(&state).await?;
        let region = q.region.unwrap_or_default();
        let from = q.effective_from.unwrap_or_default();
        let typed = book
            .layers()
            .find(|l| {
                l.region.as_deref() == Some(region.as_str()) && l.effective_from.to_string() == from
            })
            .map(Typed::from_layer)
            .unwrap_or(Typed {
                region,
                effective_from: from,
                ..Default::default()
            });
        Ok::<_, ApiError>(form(&session, &typed, &HashMap::new()))
    }
    .await;
    match result {
        Ok(body) => page("修改救助政策", &session, "policies", &body),
        Err(e) => fail(e),
    }
}

/// The reason beside a field, if any, and the attributes tying it to its input.
fn field_error(errors: &HashMap<&'static str, String>, key: &str) -> (String, String) {
    match errors.get(key) {
        Some(why) => (
            format!(
                "<span class=\"error\" id=\"err-{key}\" data-field=\"{key}\">{}</span>",
                esc(why)
            ),
            format!(" aria-invalid=\"true\" aria-describedby=\"err-{key}\""),
        ),
        None => (String::new(), String::new()),
    }
}

/// The form with what was typed and the reason beside each refused field.
fn form(session: &Session, t: &Typed, errors: &HashMap<&'static str, String>) -> String {
    let mut fields = String::new();
    for (key, label, unit, kind) in FIELDS {
        let (text, per) = t.values.get(key).cloned().unwrap_or_default();
        let (err, attrs) = field_error(errors, key);
        let input = match kind {
            Kind::Flag => {
                let opt = |v: &str, zh: &str| {
                    let sel = if text == v { " selected" } else { "" };
                    format!("<option value=\"{v}\"{sel}>{zh}</option>")
                };
                format!(
                    "<select name=\"{key}\"{attrs}>{}{}{}</select>",
                    opt("", "沿用上级"),
                    opt("true", "是"),
                    opt("false", "否")
                )
            }
            Kind::IncomeKinds => format!(
                "<textarea name=\"{key}\" rows=\"3\"{attrs}>{}</textarea>",
                esc(&text)
            ),
            Kind::Standard => {
                let sel = |v: &str| if per == v { " selected" } else { "" };
                format!(
                    "<input name=\"{key}\" value=\"{}\" inputmode=\"decimal\"{attrs}><select name=\"{key}__per\" aria-label=\"{label}按月或按年\"><option value=\"month\"{}>每月</option><option value=\"year\"{}>每年</option></select>",
                    esc(&text),
                    sel("month"),
                    sel("year")
                )
            }
            _ => format!("<input name=\"{key}\" value=\"{}\"{attrs}>", esc(&text)),
        };
        fields.push_str(&format!(
            "<div class=\"setting\"><label>{label}（{unit}） {input}</label>{err}</div>"
        ));
    }
    let (region_err, region_attrs) = field_error(errors, "region");
    let (date_err, date_attrs) = field_error(errors, "effective_from");
    let top = errors
        .get("settings")
        .map(|e| format!("<p class=\"error\" role=\"alert\">{}</p>", esc(e)))
        .unwrap_or_default();
    format!(
        r#"{top}<p class="sub">留空的项目沿用上级政策。金额以元为单位；倍数和比例填小数。同一区划、同一生效日期的政策保存后替换原版本。</p>
<form method="post" action="/console/admin/policies" class="decision policy-form">{csrf}
<label>区划代码（12 位） <input name="region" value="{region}" inputmode="numeric" required{region_attrs}></label>{region_err}
<label>生效日期 <input type="date" name="effective_from" value="{date}" required{date_attrs}></label>{date_err}
<label>依据文件（文号，可不填） <input name="source" value="{source}"></label>
{fields}
<button type="submit">检查并保存</button></form>"#,
        csrf = csrf_field(session),
        region = esc(&t.region),
        date = esc(&t.effective_from),
        source = esc(&t.source),
    )
}

/// Check and save the layer; a refused one comes back with what was typed.
pub async fn save(
    State(state): State<SharedState>,
    session: Session,
    form_fields: FormResult,
) -> Response {
    let fields = match checked_form(&session, form_fields) {
        Ok(f) => f,
        Err(r) => return r,
    };
    if let Err(e) = may_manage(&state, &session).await {
        return fail(e);
    }
    let typed = Typed::from_form(&fields);
    let (e, errors) = match typed.layer() {
        Err(errors) => (
            ApiError::new(Code::InvalidRequest).with_message(
                "政策未保存：请按各项旁的说明改正后再保存。",
                "the policy was not saved: see the fields",
            ),
            errors,
        ),
        Ok(layer) => {
            let region = layer.region.clone().unwrap_or_default();
            match admin::put_policy_layer(&state.db, &session.reviewer, layer).await {
                Ok(_) => {
                    return redirect(&format!(
                        "/console/admin/policies?region={region}&done=saved"
                    ));
                }
                Err(e) => {
                    let errors = refused_field(&e);
                    (e, errors)
                }
            }
        }
    };
    if !matches!(
        e.code,
        Code::InvalidRequest | Code::UnknownRegion | Code::PolicyInvalid
    ) {
        return fail(e);
    }
    let body = format!(
        "{}{}",
        named(&form_error(&e)),
        form(&session, &typed, &errors)
    );
    html_response(
        StatusCode::UNPROCESSABLE_ENTITY,
        layout("修改救助政策", &session, "policies", &body),
    )
}

/// The field a refusal of the rules is about, with its reason in words naming the setting.
fn refused_field(e: &ApiError) -> HashMap<&'static str, String> {
    let mut out = HashMap::new();
    if e.code == Code::UnknownRegion {
        out.insert("region", e.body().message);
        return out;
    }
    let field = e
        .details
        .as_ref()
        .and_then(|d| d["field"].as_str())
        .and_then(|f| FIELDS.iter().find(|x| x.0 == f));
    if let Some((key, ..)) = field {
        let message = e.body().message;
        let why = match message.find(key) {
            Some(at) => &message[at..],
            None => message.split_once('：').map_or(message.as_str(), |m| m.1),
        };
        out.insert(*key, named(why));
    }
    out
}

/// `text` with every setting's key replaced by its Chinese name (the rules' messages name the
/// setting by its key).
fn named(text: &str) -> String {
    let mut keys: Vec<&(&str, &str, &str, Kind)> = FIELDS.iter().collect();
    keys.sort_by_key(|f| std::cmp::Reverse(f.0.len()));
    keys.iter().fold(text.to_string(), |t, (key, label, ..)| {
        t.replace(key, label)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_form_names_every_setting_once() {
        let all = serde_json::to_value(Policy::national_defaults()).unwrap();
        let mut keys: Vec<&str> = all
            .as_object()
            .unwrap()
            .keys()
            .map(String::as_str)
            .collect();
        let mut listed: Vec<&str> = FIELDS.iter().map(|f| f.0).collect();
        keys.sort();
        listed.sort();
        assert_eq!(keys, listed);
    }
}
