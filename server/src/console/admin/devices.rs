//! 设备: the devices of the accounts of the administrator's regions (phones and console
//! sessions), and revoking one, asked twice as a refusal of a visit is.

use axum::extract::rejection::QueryRejection;
use axum::extract::{Path, Query, State};
use axum::response::Response;

use super::{about_input, done_notice, fail, form_error, page, redirect};
use crate::admin::{self, DeviceView};
use crate::console::html::{self, csrf_field, esc, esc_opt, layout};
use crate::console::pages::url_encode;
use crate::console::{FormResult, Session, checked_form, html_response};
use crate::error::{ApiError, ApiResult};
use crate::http::SharedState;

#[derive(Debug, Default, serde::Deserialize)]
pub struct DeviceFilter {
    /// Only this account's devices.
    account: Option<String>,
    done: Option<String>,
}

fn platform_zh(platform: &str) -> String {
    match platform {
        "android" => "安卓手机".into(),
        "ios" => "苹果手机".into(),
        "web" => "网页（工作台）".into(),
        other => esc(other),
    }
}

/// A device's state: in use, or revoked (when and why).
fn state_zh(d: &DeviceView) -> String {
    match d.revoked_at_ms {
        Some(at) => format!(
            "<span class=\"status s-rejected\">已停用</span> {}<br><span class=\"sub\">{}</span>",
            html::time(Some(at)),
            esc_opt(d.revoked_reason.as_deref())
        ),
        None => "<span class=\"status\">在用</span>".into(),
    }
}

/// The list, with a revoke form for each device in use.
pub async fn list(
    State(state): State<SharedState>,
    session: Session,
    q: Result<Query<DeviceFilter>, QueryRejection>,
) -> Response {
    let f = q.map(|q| q.0).unwrap_or_default();
    let account = f.account.filter(|a| !a.is_empty());
    let devices = match admin::list_devices(&state.db, &session.reviewer, account.clone()).await {
        Ok(d) => d,
        Err(e) => return fail(e),
    };
    let csrf = csrf_field(&session);
    let rows: String = devices
        .iter()
        .map(|d| {
            let revoke = if d.revoked_at_ms.is_none() {
                format!(
                    r#"<form method="post" action="/console/admin/devices/{id}/revoke" class="inline-form">{csrf}<label>停用原因 <input name="reason" required maxlength="256" placeholder="如：手机丢失"></label><button type="submit" class="secondary">停用…</button></form>"#,
                    id = esc(&d.id),
                )
            } else {
                String::new()
            };
            format!(
                r#"<tr><td><a href="/console/admin/accounts/{aid}">{user}</a></td><td>{name}<br><span class="sub">{id}</span></td><td>{platform}</td><td>{created}</td><td>{seen}</td><td>{state}</td><td>{revoke}</td></tr>"#,
                aid = esc(&d.account_id),
                user = esc(&d.username),
                name = esc(&d.name),
                id = esc(&d.id),
                platform = platform_zh(&d.platform),
                created = html::time(Some(d.created_at_ms)),
                seen = html::time(Some(d.last_seen_at_ms)),
                state = state_zh(d),
            )
        })
        .collect();
    let table = super::table(
        "devices",
        &[
            "账号",
            "设备名称 / 编号",
            "类型",
            "登记时间",
            "最近联系",
            "状态",
            "操作",
        ],
        &rows,
        "没有设备。",
    );
    let scope = match &account {
        Some(_) => format!(
            "<p>仅显示账号 {} 的设备。<a href=\"/console/admin/devices\">显示全部设备</a></p>",
            devices
                .first()
                .map(|d| esc(&d.username))
                .unwrap_or_else(|| "—".into())
        ),
        None => String::new(),
    };
    let body = format!(
        r#"{done}<p class="sub">您管辖区域内账号登录过的手机和网页工作台，最近联系的在前。停用设备后它立即不能再同步或访问，下次联网时清除本机数据；账号本身不受影响。</p>{scope}{table}"#,
        done = done_notice(f.done.as_deref()),
    );
    page("设备管理", &session, "devices", &body)
}

/// The page that asks to confirm a revocation, with the reason typed (editable) and, when the
/// reason was refused, why.
async fn confirm_page(
    state: &SharedState,
    session: &Session,
    id: &str,
    reason: &str,
    error: Option<&ApiError>,
) -> ApiResult<String> {
    let d = admin::managed_device(&state.db, &session.reviewer, id).await?;
    Ok(format!(
        r#"{error}<p class="notice" role="alert">停用后该设备立即不能同步或访问，下次联网时清除本机数据，不能撤回（账号可在其他设备重新登录）。请核对后确认。</p>
<dl class="grid2"><dt>账号</dt><dd>{user}</dd><dt>设备名称</dt><dd>{name}</dd><dt>类型</dt><dd>{platform}</dd><dt>最近联系</dt><dd>{seen}</dd></dl>
<form method="post" action="/console/admin/devices/{id}/revoke" class="decision d-revoke-confirm">{csrf}<input type="hidden" name="confirmed" value="1"><label>停用原因（必填） <textarea name="reason" rows="2" maxlength="256" required>{reason}</textarea></label><button type="submit">确认停用</button></form>
<p><a href="/console/admin/devices?account={account}">返回，不停用</a></p>"#,
        error = error.map(form_error).unwrap_or_default(),
        user = esc(&d.username),
        name = esc(&d.name),
        platform = platform_zh(&d.platform),
        seen = html::time(Some(d.last_seen_at_ms)),
        id = esc(&d.id),
        csrf = csrf_field(session),
        reason = esc(reason),
        account = url_encode(&d.account_id),
    ))
}

/// Revoke a device: the first post asks for confirmation, the second (`confirmed=1`) revokes.
pub async fn revoke(
    State(state): State<SharedState>,
    session: Session,
    Path(id): Path<String>,
    form: FormResult,
) -> Response {
    let fields = match checked_form(&session, form) {
        Ok(f) => f,
        Err(r) => return r,
    };
    let reason = fields.get("reason").map(String::as_str).unwrap_or("");
    let confirmed = fields.get("confirmed").is_some_and(|c| c == "1");
    let refused = if confirmed {
        match admin::revoke_device(&state.db, &session.reviewer, &id, reason).await {
            Ok(()) => return redirect("/console/admin/devices?done=revoked"),
            Err(e) if about_input(&e) => Some(e),
            Err(e) => return fail(e),
        }
    } else {
        None
    };
    let status = refused
        .as_ref()
        .map(|e| e.code.status())
        .unwrap_or(axum::http::StatusCode::OK);
    match confirm_page(&state, &session, &id, reason, refused.as_ref()).await {
        Ok(body) => html_response(status, layout("停用设备", &session, "devices", &body)),
        Err(e) => fail(e),
    }
}
