//! 审计日志: the audit log of the administrator's regions, newest first, filtered by action,
//! account and period (China dates), 50 entries a page, paged backwards by entry id.

use std::collections::HashMap;

use axum::extract::rejection::QueryRejection;
use axum::extract::{Query, State};
use axum::http::StatusCode;
use axum::response::Response;
use chrono::NaiveDate;
use sea_orm::{ColumnTrait, EntityTrait, QueryFilter};

use super::{fail, form_error};
use crate::admin::{self, AuditEntry, AuditFilter};
use crate::audit::actions;
use crate::console::html::{self, esc, esc_opt, layout};
use crate::console::pages::{select, url_encode};
use crate::console::{Session, html_response};
use crate::entity::account;
use crate::error::{ApiError, ApiResult, Code};
use crate::http::SharedState;
use crate::review::deadlines;

/// Entries on a page.
const PAGE: u64 = 50;

/// The actions written to the audit log, with what they are called in Chinese.
const ACTIONS: [(&str, &str); 28] = [
    (actions::LOGIN, "登录"),
    (actions::LOGIN_RATE_LIMITED, "登录过于频繁被拒"),
    (actions::REFRESH, "刷新令牌"),
    (actions::REFRESH_REUSE, "重复使用刷新令牌"),
    (actions::LOGOUT, "退出登录"),
    (actions::TOKEN_REJECTED, "令牌被拒"),
    (actions::DENIED, "越权请求被拒"),
    (actions::ACCOUNT_CREATE, "创建账号"),
    (actions::ACCOUNT_UPDATE, "修改账号"),
    (actions::DEVICE_REVOKE, "停用设备"),
    (actions::ENROLMENT_CREATE, "生成手机登录码"),
    (actions::ENROLMENT_REVOKE, "作废手机登录码"),
    (actions::ENROL, "登录码登录"),
    (actions::REGION_IMPORT, "导入区划"),
    ("admin.policy_put", "设置救助政策"),
    ("calendar.import", "导入工作日历"),
    (actions::TASKS_SCHEDULE, "生成任务"),
    (actions::HOUSEHOLD_RISK, "设置探访风险等级"),
    (crate::review::AUDIT_DECISION, "审核决定"),
    (crate::review::AUDIT_UNMASK, "查看完整身份证号"),
    (crate::review::AUDIT_RESOLVE, "处理并发修改"),
    ("report.assign", "指派核实"),
    ("report.close", "办结报告"),
    (crate::audit::actions::EXPORT, "导出台账"),
    (crate::identity::AUDIT_SEAL, "保存身份证号"),
    (crate::sync::AUDIT_ACCEPT, "同步接收"),
    (crate::sync::AUDIT_REJECT, "同步拒收"),
    ("demo.decision", "演示数据"),
];

fn action_zh(action: &str) -> Option<&'static str> {
    ACTIONS
        .iter()
        .find(|(a, _)| *a == action)
        .map(|(_, zh)| *zh)
}

fn outcome_zh(outcome: &str) -> String {
    match outcome {
        "ok" => "成功".into(),
        "failed" => "失败".into(),
        "denied" => "<span class=\"status s-rejected\">拒绝</span>".into(),
        other => esc(other),
    }
}

/// The filters as the page's query gives them.
#[derive(Debug, Default, serde::Deserialize)]
pub struct AuditQuery {
    action: Option<String>,
    /// A user name.
    account: Option<String>,
    /// First day (China), `YYYY-MM-DD`.
    from: Option<String>,
    /// Last day (China), inclusive.
    to: Option<String>,
    /// Entries older than this id.
    before: Option<i64>,
}

impl AuditQuery {
    fn get(v: &Option<String>) -> Option<&str> {
        v.as_deref().map(str::trim).filter(|v| !v.is_empty())
    }

    /// The query string of these filters, for the pager (escaped for an attribute).
    fn query_string(&self, before: Option<i64>) -> String {
        let mut parts = Vec::new();
        for (k, v) in [
            ("action", &self.action),
            ("account", &self.account),
            ("from", &self.from),
            ("to", &self.to),
        ] {
            if let Some(v) = Self::get(v) {
                parts.push(format!("{k}={}", url_encode(v)));
            }
        }
        if let Some(b) = before {
            parts.push(format!("before={b}"));
        }
        parts.join("&amp;")
    }
}

fn date(text: Option<&str>, what: &str) -> ApiResult<Option<NaiveDate>> {
    text.map(|t| {
        NaiveDate::parse_from_str(t, "%Y-%m-%d").map_err(|_| {
            ApiError::new(Code::InvalidRequest).with_message(
                format!("{what}“{t}”不是有效日期（格式：年-月-日）"),
                format!("{what} '{t}' is not a date (YYYY-MM-DD)"),
            )
        })
    })
    .transpose()
}

/// The domain's filter for the page's query; `Ok(None)` when the account named does not exist
/// (nothing to show). A bad date or period is `request.invalid`.
async fn filter_of(state: &SharedState, q: &AuditQuery) -> ApiResult<Option<AuditFilter>> {
    let from = date(AuditQuery::get(&q.from), "起始日期")?;
    let to = date(AuditQuery::get(&q.to), "截止日期")?;
    if let (Some(f), Some(t)) = (from, to)
        && f > t
    {
        return Err(ApiError::new(Code::InvalidRequest).with_message(
            "起始日期不能晚于截止日期",
            "the first day cannot come after the last",
        ));
    }
    let account_id = match AuditQuery::get(&q.account) {
        Some(name) => match crate::accounts::find_by_username(&state.db, name).await? {
            Some(a) => Some(a.id),
            None => return Ok(None),
        },
        None => None,
    };
    Ok(Some(AuditFilter {
        limit: Some(PAGE + 1),
        before_id: q.before,
        action: AuditQuery::get(&q.action).map(str::to_string),
        account_id,
        from_ms: from.map(deadlines::midnight_ms),
        to_ms: to.and_then(|t| t.succ_opt()).map(deadlines::midnight_ms),
    }))
}

/// The user names and display names of the accounts the entries name.
async fn names(
    state: &SharedState,
    entries: &[AuditEntry],
) -> ApiResult<HashMap<String, (String, String)>> {
    let ids: Vec<String> = entries
        .iter()
        .filter_map(|e| e.account_id.clone())
        .collect();
    let mut out = HashMap::new();
    for chunk in ids.chunks(500) {
        for a in account::Entity::find()
            .filter(account::Column::Id.is_in(chunk.iter().cloned()))
            .all(&state.db)
            .await?
        {
            out.insert(a.id, (a.username, a.display_name));
        }
    }
    Ok(out)
}

/// What more an entry says, as compact JSON cut at 200 characters.
fn detail_text(e: &AuditEntry) -> String {
    let Some(d) = &e.detail else {
        return String::new();
    };
    let s = d.to_string();
    let cut: String = s.chars().take(200).collect();
    if cut.len() < s.len() {
        format!("<code>{}…</code>", esc(&cut))
    } else {
        format!("<code>{}</code>", esc(&cut))
    }
}

fn filters_form(q: &AuditQuery) -> String {
    let mut opts = vec![(String::new(), "全部操作".to_string())];
    opts.extend(
        ACTIONS
            .iter()
            .map(|(a, zh)| (a.to_string(), zh.to_string())),
    );
    let current = AuditQuery::get(&q.action);
    if let Some(c) = current.filter(|c| action_zh(c).is_none()) {
        opts.push((c.to_string(), c.to_string()));
    }
    let value = |v: &Option<String>| esc(v.as_deref().unwrap_or(""));
    format!(
        r#"<form method="get" action="/console/admin/audit" class="filters">{action}
<label>账号（用户名） <input name="account" value="{account}" maxlength="64" autocomplete="off"></label>
<label>起始日期 <input type="date" name="from" value="{from}"></label>
<label>截止日期 <input type="date" name="to" value="{to}"></label>
<button type="submit">筛选</button> <a href="/console/admin/audit">清除筛选</a>
</form>"#,
        action = select("action", "操作", &opts, current.or(Some(""))),
        account = value(&q.account),
        from = value(&q.from),
        to = value(&q.to),
    )
}

async fn log_body(state: &SharedState, session: &Session, q: &AuditQuery) -> ApiResult<String> {
    let db = &state.db;
    admin::may_read_audit(db, &session.reviewer).await?;
    let form = filters_form(q);
    let entries = match filter_of(state, q).await? {
        Some(f) => admin::list_audit(db, &session.reviewer, &f).await?,
        // No account of that name: nothing to show.
        None => Vec::new(),
    };
    let mut entries = entries;
    let more = entries.len() as u64 > PAGE;
    entries.truncate(PAGE as usize);
    let who = names(state, &entries).await?;
    let rows: String = entries
        .iter()
        .map(|e| {
            let account = match e.account_id.as_ref().and_then(|id| who.get(id)) {
                Some((user, name)) => format!("{} <span class=\"sub\">{}</span>", esc(name), esc(user)),
                None => "—".into(),
            };
            let action = match action_zh(&e.action) {
                Some(zh) => format!("{zh} <span class=\"sub\">{}</span>", esc(&e.action)),
                None => esc(&e.action),
            };
            format!(
                "<tr><td>{}</td><td>{account}</td><td>{action}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
                html::time(Some(e.at_ms)),
                esc_opt(e.target.as_deref()),
                outcome_zh(&e.outcome),
                esc_opt(e.client_addr.as_deref()),
                detail_text(e),
            )
        })
        .collect();
    let table = super::table(
        "audit",
        &["时间", "账号", "操作", "对象", "结果", "来源地址", "详情"],
        &rows,
        "没有符合条件的记录。",
    );
    let mut pager = String::from("<nav class=\"pager\">");
    if q.before.is_some() {
        pager.push_str(&format!(
            "<a href=\"/console/admin/audit?{}\">最新记录</a> ",
            q.query_string(None)
        ));
    }
    if more && let Some(last) = entries.last() {
        pager.push_str(&format!(
            "<a href=\"/console/admin/audit?{}\">更早的记录</a>",
            q.query_string(Some(last.id))
        ));
    }
    pager.push_str("</nav>");
    Ok(format!(
        r#"<p class="sub">您管辖区域内的登录、越权请求、管理操作、审核决定、导出和查看完整身份证号等记录，最新的在前，每页 {PAGE} 条；时间为北京时间。审计日志只能追加，不能修改或删除。</p>{form}{table}{pager}"#
    ))
}

/// The page.
pub async fn log(
    State(state): State<SharedState>,
    session: Session,
    q: Result<Query<AuditQuery>, QueryRejection>,
) -> Response {
    let q = q.map(|q| q.0).unwrap_or_default();
    match log_body(&state, &session, &q).await {
        Ok(body) => html_response(StatusCode::OK, layout("审计日志", &session, "audit", &body)),
        Err(e) if e.code == Code::InvalidRequest => {
            let body = format!("{}{}", form_error(&e), filters_form(&q));
            html_response(
                e.code.status(),
                layout("审计日志", &session, "audit", &body),
            )
        }
        Err(e) => fail(e),
    }
}
