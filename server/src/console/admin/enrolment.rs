//! 手机登录码: one-time codes that let a field account's phone log in by scanning a QR code (or
//! typing the code) instead of the password, as ODK Central's app users do. The administrator
//! picks a 网格员 or 社会救助协理员 of the regions, the page shows the code once, as text and as
//! a QR code drawn here as SVG, with its expiry; the list shows every code's state and revokes
//! those not yet used.

use axum::extract::rejection::QueryRejection;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::Response;
use doudi_protocol::role::Role;

use super::{about_input, done_notice, fail, form_error, page, redirect};
use crate::admin::{self, EnrolmentCodeView, NewEnrolmentCode};
use crate::console::html::{self, csrf_field, esc, layout, role_zh};
use crate::console::pages::select;
use crate::console::{FormResult, Session, checked_form, html_response};
use crate::error::{ApiError, ApiResult};
use crate::http::{PublicUrl, SharedState};

const TITLE: &str = "手机登录码";

#[derive(Debug, Default, serde::Deserialize)]
pub struct Done {
    done: Option<String>,
}

fn state_zh(c: &EnrolmentCodeView) -> String {
    let (cls, text) = match c.state {
        "active" => ("status", "可使用"),
        "used" => ("status s-approved", "已使用"),
        "revoked" => ("status s-rejected", "已作废"),
        _ => ("status s-rejected", "已过期"),
    };
    let when = match c.state {
        "used" => format!(
            "<br><span class=\"sub\">{}</span>",
            html::time(c.used_at_ms)
        ),
        "revoked" => format!(
            "<br><span class=\"sub\">{}</span>",
            html::time(c.revoked_at_ms)
        ),
        _ => String::new(),
    };
    format!("<span class=\"{cls}\">{text}</span>{when}")
}

/// The page: the form making a code (the input kept and the refusal shown when refused) and
/// the codes of the administrator's regions.
async fn body(
    state: &SharedState,
    session: &Session,
    chosen: Option<&str>,
    error: Option<&ApiError>,
    done: Option<&str>,
) -> ApiResult<String> {
    let db = &state.db;
    let accounts = admin::list_accounts(db, &session.reviewer).await?;
    let options: Vec<(String, String)> = accounts
        .iter()
        .filter(|a| matches!(a.role, Role::GridWorker | Role::Assistant) && !a.disabled)
        .map(|a| {
            let label = format!("{}（{}，{}）", a.display_name, a.username, role_zh(a.role));
            (a.id.clone(), label)
        })
        .collect();
    let form = if options.is_empty() {
        "<p class=\"empty\">管辖区域内没有启用的网格员或社会救助协理员账号。</p>".to_string()
    } else {
        format!(
            r#"<form method="post" action="/console/admin/enrolment" class="filters">{csrf}{select}<button type="submit">生成登录码</button></form>"#,
            csrf = csrf_field(session),
            select = select("account_id", "账号", &options, chosen),
        )
    };
    let codes = admin::list_enrolment_codes(db, &session.reviewer, None).await?;
    let csrf = csrf_field(session);
    let rows: String = codes
        .iter()
        .map(|c| {
            let revoke = if c.state == "active" {
                format!(
                    r#"<form method="post" action="/console/admin/enrolment/{id}/revoke" class="inline-form">{csrf}<button type="submit" class="secondary" aria-label="作废 {user} 的登录码">作废</button></form>"#,
                    id = esc(&c.id),
                    user = esc(&c.username),
                )
            } else {
                String::new()
            };
            format!(
                r#"<tr><td><a href="/console/admin/accounts/{aid}">{user}</a></td><td>{created}</td><td>{expires}</td><td>{state}</td><td>{revoke}</td></tr>"#,
                aid = esc(&c.account_id),
                user = esc(&c.username),
                created = html::time(Some(c.created_at_ms)),
                expires = html::time(Some(c.expires_at_ms)),
                state = state_zh(c),
            )
        })
        .collect();
    let table = super::table(
        "enrolment",
        &["账号", "生成时间", "有效期至", "状态", "操作"],
        &rows,
        "还没有生成过手机登录码。",
    );
    let hours = state.settings.enrolment_code_ttl_secs as f64 / 3600.0;
    Ok(format!(
        r#"{done}<p class="sub">为网格员或社会救助协理员生成一次性登录码：在其手机上扫描二维码或输入登录码即可登录，无需告知密码。登录码只能使用一次，{hours} 小时后过期，未使用前可以作废。登录码只在生成时显示一次，服务器只保存其摘要。</p>
{error}{form}
<h2>已生成的登录码</h2>
{table}"#,
        done = done_notice(done),
        error = error.map(form_error).unwrap_or_default(),
        hours = format_hours(hours),
    ))
}

/// Hours as a person says them: `24`, `0.5`.
fn format_hours(h: f64) -> String {
    let s = format!("{h:.2}");
    s.trim_end_matches('0').trim_end_matches('.').to_string()
}

/// The list and the form.
pub async fn list(
    State(state): State<SharedState>,
    session: Session,
    q: Result<Query<Done>, QueryRejection>,
) -> Response {
    let done = q.ok().and_then(|q| q.0.done);
    match body(&state, &session, None, None, done.as_deref()).await {
        Ok(b) => page(TITLE, &session, "enrolment", &b),
        Err(e) => fail(e),
    }
}

/// A QR code of `payload` as inline SVG, named for screen readers.
fn qr_svg(payload: &str) -> ApiResult<String> {
    let code = qrcode::QrCode::with_error_correction_level(payload, qrcode::EcLevel::M)
        .map_err(ApiError::internal)?;
    let svg = code
        .render::<qrcode::render::svg::Color>()
        .min_dimensions(240, 240)
        .quiet_zone(true)
        .build();
    let at = svg.find("<svg").unwrap_or(0);
    Ok(svg[at..].replacen(
        "<svg",
        "<svg role=\"img\" aria-label=\"手机登录二维码\" class=\"qr\"",
        1,
    ))
}

/// The code just made, shown once.
fn made_page(made: &NewEnrolmentCode, qr: &str) -> String {
    format!(
        r#"<p class="notice" role="status">登录码已生成。请当面让 {user} 用手机扫描下方二维码，或在应用的“登录码登录”中输入登录码。本页关闭后不再显示该登录码。</p>
<div class="enrolment">
<figure>{qr}<figcaption>扫码登录</figcaption></figure>
<dl class="grid2"><dt>账号</dt><dd>{user}</dd><dt>登录码</dt><dd><code class="enrolment-code">{code}</code></dd><dt>有效期至</dt><dd>{expires}</dd><dt>使用次数</dt><dd>仅限一次</dd></dl>
</div>
<p><a href="/console/admin/enrolment">返回手机登录码列表</a></p>"#,
        user = esc(&made.username),
        code = esc(&made.code),
        expires = html::time(Some(made.expires_at_ms)),
    )
}

/// Make a code for the chosen account and show it; a refusal comes back on the list page with
/// the choice kept.
pub async fn create(
    State(state): State<SharedState>,
    session: Session,
    PublicUrl(server): PublicUrl,
    form: FormResult,
) -> Response {
    let fields = match checked_form(&session, form) {
        Ok(f) => f,
        Err(r) => return r,
    };
    let account = fields.get("account_id").map(String::as_str).unwrap_or("");
    let ttl = state.settings.enrolment_code_ttl_secs;
    let refused =
        match admin::create_enrolment_code(&state.db, &session.reviewer, account, ttl, &server)
            .await
        {
            Ok(made) => {
                return match qr_svg(&made.payload) {
                    Ok(qr) => page(TITLE, &session, "enrolment", &made_page(&made, &qr)),
                    Err(e) => fail(e),
                };
            }
            Err(e) if about_input(&e) => e,
            Err(e) => return fail(e),
        };
    let status = refused.code.status();
    match body(&state, &session, Some(account), Some(&refused), None).await {
        Ok(b) => html_response(status, layout(TITLE, &session, "enrolment", &b)),
        Err(e) => fail(e),
    }
}

/// Revoke a code not yet used.
pub async fn revoke(
    State(state): State<SharedState>,
    session: Session,
    Path(id): Path<String>,
    form: FormResult,
) -> Response {
    if let Err(r) = checked_form(&session, form) {
        return r;
    }
    match admin::revoke_enrolment_code(&state.db, &session.reviewer, &id).await {
        Ok(()) => redirect("/console/admin/enrolment?done=enrolment_revoked"),
        Err(e) => match body(&state, &session, None, Some(&e), None).await {
            Ok(b) if about_input(&e) || e.code.status() == StatusCode::GONE => {
                html_response(e.code.status(), layout(TITLE, &session, "enrolment", &b))
            }
            _ => fail(e),
        },
    }
}
