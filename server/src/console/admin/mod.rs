//! 系统管理: the administrators' pages of the console (accounts, devices and their enrolment
//! codes, audit log, regions, region policy, the working-day calendar). They call
//! [`crate::admin`], the rules the JSON API calls too, so the console and the API check, write
//! and audit alike; the pages read and write no case data. A role without the permission gets
//! the access module's refusal (audited), as on every other page.

mod accounts;
mod audit;
mod calendar;
mod devices;
mod enrolment;
mod policies;
mod regions;

use axum::Router;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};

use super::html::{self, esc, layout};
use super::{FormResult, Session, checked_form, error_page_with, html_response, secure};
use crate::admin::{self, AuditFilter};
use crate::error::{ApiError, ApiResult};
use crate::http::SharedState;
use crate::review::deadlines;

/// The administrators' start page.
pub const HOME: &str = "/console/admin";

/// The link back on the error pages of these pages.
const BACK: &str = "<a href=\"/console/admin\">返回系统管理</a>";

pub fn routes() -> Router<SharedState> {
    Router::new()
        .route(HOME, get(home))
        .route(
            "/console/admin/accounts",
            get(accounts::list).post(accounts::create),
        )
        .route("/console/admin/accounts/new", get(accounts::new_form))
        .route("/console/admin/accounts/{id}", get(accounts::show))
        .route(
            "/console/admin/accounts/{id}/{form}",
            post(accounts::change),
        )
        .route("/console/admin/devices", get(devices::list))
        .route("/console/admin/devices/{id}/revoke", post(devices::revoke))
        .route(
            "/console/admin/enrolment",
            get(enrolment::list).post(enrolment::create),
        )
        .route(
            "/console/admin/enrolment/{id}/revoke",
            post(enrolment::revoke),
        )
        .route("/console/admin/audit", get(audit::log))
        .route(
            "/console/admin/regions",
            get(regions::show).post(regions::post),
        )
        .route(
            "/console/admin/policies",
            get(policies::show).post(policies::save),
        )
        .route("/console/admin/policies/edit", get(policies::edit))
        .route(
            "/console/admin/calendar",
            get(calendar::show).post(calendar::post),
        )
}

/// An error of these pages as a page, linking back to the administration home.
fn fail(e: ApiError) -> Response {
    error_page_with(e, BACK)
}

fn page(title: &str, session: &Session, active: &str, body: &str) -> Response {
    html_response(StatusCode::OK, layout(title, session, active, body))
}

fn redirect(to: &str) -> Response {
    secure(Redirect::to(to).into_response())
}

/// Why a form was not accepted, to show above it: the message, with the error's code in
/// `data-code`.
fn form_error(e: &ApiError) -> String {
    let body = e.body();
    format!(
        "<p class=\"error\" role=\"alert\" data-code=\"{}\">{}</p>",
        esc(body.code),
        esc(&body.message)
    )
}

/// Whether an error is about what was typed into a form (shown beside the form, the input kept)
/// rather than a page's failure.
fn about_input(e: &ApiError) -> bool {
    use crate::error::Code;
    matches!(
        e.code,
        Code::InvalidRequest | Code::UnknownRegion | Code::UsernameTaken
    )
}

/// What a page says after a change it redirected to it from (`?done=`).
fn done_notice(done: Option<&str>) -> String {
    let text = match done {
        Some("created") => "账号已创建。",
        Some("regions") => "绑定区划已保存。该账号手机上不再属于其区域的数据将在下次同步时清除。",
        Some("disabled") => "账号已停用：该账号不能再登录，已登录的设备和网页立即失效。",
        Some("enabled") => "账号已启用。",
        Some("password") => "密码已重置。请将新密码当面告知本人。",
        Some("revoked") => "设备已停用：该设备立即不能同步，下次联网时将清除本机数据。",
        Some("enrolment_revoked") => "登录码已作废，不能再用于登录。",
        _ => return String::new(),
    };
    format!("<p class=\"notice\" role=\"status\">{text}</p>")
}

/// A table (of class `list` and `class`) of `rows` under `headers`, or `empty` (a sentence)
/// when there are none.
fn table(class: &str, headers: &[&str], rows: &str, empty: &str) -> String {
    if rows.is_empty() {
        return format!("<p class=\"empty\">{empty}</p>");
    }
    let heads: String = headers.iter().map(|h| format!("<th>{h}</th>")).collect();
    format!(
        r#"<table class="list {class}"><thead><tr>{heads}</tr></thead><tbody>{rows}</tbody></table>"#
    )
}

/// The form of a file pasted to be previewed and then imported (regions, calendar): posted to
/// `action` with the file in `csv` under `label`; `confirm` when the file was previewed without
/// errors (the button then imports: `confirmed=1`).
fn import_form(
    session: &Session,
    action: &str,
    class: &str,
    label: &str,
    csv: &str,
    confirm: bool,
) -> String {
    let (hidden, button) = if confirm {
        (
            r#"<input type="hidden" name="confirmed" value="1">"#,
            "确认导入",
        )
    } else {
        ("", "预览")
    };
    format!(
        r#"<form method="post" action="{action}" class="decision {class}">{csrf}{hidden}<label>{label} <textarea name="csv" rows="12" required spellcheck="false">{csv}</textarea></label><button type="submit">{button}</button></form>"#,
        csrf = html::csrf_field(session),
        csv = esc(csv),
    )
}

/// The fields of an [`import_form`] posted (its CSRF token checked): the file, and whether
/// its import was confirmed.
#[allow(clippy::result_large_err)]
fn import_fields(session: &Session, form: FormResult) -> Result<(String, bool), Response> {
    let mut fields = checked_form(session, form)?;
    let confirmed = fields.get("confirmed").is_some_and(|c| c == "1");
    Ok((fields.remove("csv").unwrap_or_default(), confirmed))
}

/// Region codes as typed: separated by commas (also Chinese ones), 顿号 or spaces.
fn region_codes(text: &str) -> Vec<String> {
    text.split(|c: char| c == ',' || c == '，' || c == '、' || c.is_whitespace())
        .filter(|c| !c.is_empty())
        .map(str::to_string)
        .collect()
}

/// A region list as 名称（编码）, separated by 、.
fn region_list(regions: &[crate::accounts::RegionRef]) -> String {
    let names = regions
        .iter()
        .map(|r| (r.code.clone(), r.name.clone()))
        .collect();
    let labels: Vec<String> = regions
        .iter()
        .map(|r| html::region_label(&r.code, &names))
        .collect();
    if labels.is_empty() {
        "—".into()
    } else {
        labels.join("、")
    }
}

/// 系统管理: the administrator's regions and what the pages hold.
async fn home(State(state): State<SharedState>, session: Session) -> Response {
    match home_body(&state, &session).await {
        Ok(body) => page("系统管理", &session, "admin", &body),
        Err(e) => fail(e),
    }
}

async fn home_body(state: &SharedState, session: &Session) -> ApiResult<String> {
    let db = &state.db;
    let r = &session.reviewer;
    let accounts = admin::list_accounts(db, r).await?;
    let devices = admin::list_devices(db, r, None).await?;
    let own = crate::accounts::view(db, &r.account).await?;
    let disabled = accounts.iter().filter(|a| a.disabled).count();
    let revoked = devices.iter().filter(|d| d.revoked_at_ms.is_some()).count();
    // Refusals of the access module since midnight: what an administrator looks at first.
    let today = deadlines::today().map(deadlines::midnight_ms);
    let denials = admin::list_audit(
        db,
        r,
        &AuditFilter {
            limit: Some(1000),
            action: Some(crate::audit::actions::DENIED.to_string()),
            from_ms: today,
            ..Default::default()
        },
    )
    .await?
    .len();
    let denials_text = if denials >= 1000 {
        "1000+".to_string()
    } else {
        denials.to_string()
    };
    let today_q = deadlines::today()
        .map(|d| format!("&amp;from={d}&amp;to={d}"))
        .unwrap_or_default();
    Ok(format!(
        r#"<p class="sub">管辖区域：{regions}。管理员管理本区域内的账号和设备，查阅审计日志；不查看家庭、走访等个案数据。</p>
<section class="cards">
<a class="card" href="/console/admin/accounts"><span class="n">{n_accounts}</span><span>账号（已停用 {disabled}）</span></a>
<a class="card" href="/console/admin/devices"><span class="n">{n_devices}</span><span>设备（已停用 {revoked}）</span></a>
<a class="card{dc}" href="/console/admin/audit?action=policy.denied{today_q}"><span class="n">{denials_text}</span><span>今日越权请求</span></a>
</section>
<ul>
<li><a href="/console/admin/accounts/new">新建账号</a></li>
<li><a href="/console/admin/enrolment">生成手机登录码（扫码登录）</a></li>
<li><a href="/console/admin/audit">查阅审计日志</a></li>
<li><a href="/console/admin/regions">导入区划</a></li>
<li><a href="/console/admin/policies">救助政策</a></li>
<li><a href="/console/admin/calendar">工作日历</a></li>
</ul>"#,
        regions = region_list(&own.regions),
        n_accounts = accounts.len(),
        n_devices = devices.len(),
        dc = if denials > 0 { " alert" } else { "" },
    ))
}
