//! 账号: the accounts of the administrator's regions; creating one, binding its regions,
//! disabling or enabling it, resetting its password.

use axum::extract::rejection::QueryRejection;
use axum::extract::{Path, Query, State};
use axum::response::Response;
use doudi_protocol::role::Role;

use super::{
    about_input, done_notice, fail, form_error, page, redirect, region_codes, region_list,
};
use crate::accounts::AccountView;
use crate::admin::{self, CreateAccountRequest, UpdateAccountRequest};
use crate::auth::MIN_PASSWORD_CHARS;
use crate::console::html::{csrf_field, esc, layout, role_zh};
use crate::console::pages::{scope_regions, select};
use crate::console::{FormFields, FormResult, Session, checked_form, html_response};
use crate::error::{ApiError, ApiResult};
use crate::http::SharedState;

#[derive(Debug, Default, serde::Deserialize)]
pub struct Done {
    done: Option<String>,
}

fn status_zh(a: &AccountView) -> &'static str {
    if a.disabled { "已停用" } else { "启用" }
}

/// The list of the accounts of one's regions.
pub async fn list(
    State(state): State<SharedState>,
    session: Session,
    q: Result<Query<Done>, QueryRejection>,
) -> Response {
    let accounts = match admin::list_accounts(&state.db, &session.reviewer).await {
        Ok(a) => a,
        Err(e) => return fail(e),
    };
    let rows: String = accounts
        .iter()
        .map(|a| {
            format!(
                r#"<tr><td><a href="/console/admin/accounts/{id}">{user}</a></td><td>{name}</td><td>{role}</td><td>{regions}</td><td class="{cls}">{status}</td></tr>"#,
                id = esc(&a.id),
                user = esc(&a.username),
                name = esc(&a.display_name),
                role = role_zh(a.role),
                regions = region_list(&a.regions),
                cls = if a.disabled { "status s-rejected" } else { "status" },
                status = status_zh(a),
            )
        })
        .collect();
    let table = super::table(
        "accounts",
        &["用户名", "姓名", "角色", "绑定区划", "状态"],
        &rows,
        "管辖区域内还没有账号。",
    );
    let done = done_notice(q.as_ref().ok().and_then(|q| q.done.as_deref()));
    let body = format!(
        r#"{done}<p class="sub">绑定在您管辖区域内的账号，共 {n} 个。点击用户名可绑定区划、停用或启用账号、重置密码。</p>
<p><a href="/console/admin/accounts/new">新建账号</a></p>{table}"#,
        n = accounts.len(),
    );
    page("账号管理", &session, "accounts", &body)
}

/// What the creation form holds: empty, or what was typed (never the password).
#[derive(Default)]
struct Typed<'a> {
    username: &'a str,
    display_name: &'a str,
    role: &'a str,
    regions: &'a str,
}

/// The regions one may bind, as a `<datalist>` for the region fields and a list to look codes up.
async fn region_help(state: &SharedState, session: &Session) -> ApiResult<(String, String)> {
    let regions = scope_regions(&state.db, &session.reviewer).await?;
    let options: String = regions
        .iter()
        .map(|r| {
            format!(
                "<option value=\"{}\">{}</option>",
                esc(&r.code),
                esc(&r.name)
            )
        })
        .collect();
    let rows: String = regions
        .iter()
        .map(|r| {
            let depth = r.path.matches('/').count().saturating_sub(2);
            format!(
                "<tr><td>{}{}</td><td>{}</td></tr>",
                "　".repeat(depth.min(6)),
                esc(&r.name),
                esc(&r.code)
            )
        })
        .collect();
    Ok((
        format!("<datalist id=\"region-codes\">{options}</datalist>"),
        format!(
            r#"<details><summary>可绑定的区划（名称与编码）</summary><table class="list"><thead><tr><th>名称</th><th>编码</th></tr></thead><tbody>{rows}</tbody></table></details>"#
        ),
    ))
}

async fn new_account_page(
    state: &SharedState,
    session: &Session,
    typed: &Typed<'_>,
    error: Option<&ApiError>,
) -> ApiResult<String> {
    admin::may_manage_accounts(&state.db, &session.reviewer, "accounts").await?;
    let (datalist, help) = region_help(state, session).await?;
    let roles: Vec<(String, String)> = Role::ALL
        .iter()
        .map(|r| (r.as_str().to_string(), role_zh(*r).to_string()))
        .collect();
    let current = Some(typed.role).filter(|r| !r.is_empty());
    Ok(format!(
        r#"{error}<form method="post" action="/console/admin/accounts" class="filters account-new">{csrf}
<label>用户名 <input name="username" value="{username}" required minlength="3" maxlength="64" pattern="[A-Za-z0-9._\-]{{3,64}}" autocomplete="off"></label>
<label>姓名 <input name="display_name" value="{display_name}" required maxlength="64"></label>
{role}
<label>绑定区划（编码，多个以逗号或空格分隔） <input name="regions" value="{regions}" required maxlength="2000" list="region-codes"></label>
<label>初始密码（至少 {min} 个字符） <input name="password" type="password" required minlength="{min}" maxlength="1024" autocomplete="new-password"></label>
<button type="submit">创建账号</button>
</form>{datalist}
<p class="sub">用户名由 3 到 64 个字母、数字或 . - _ 组成。请将初始密码当面告知本人。表单未通过时，为安全起见须重新输入密码。</p>
{help}
<p><a href="/console/admin/accounts">返回账号列表</a></p>"#,
        error = error.map(form_error).unwrap_or_default(),
        csrf = csrf_field(session),
        username = esc(typed.username),
        display_name = esc(typed.display_name),
        role = select("role", "角色", &roles, current.or(Some("grid_worker"))),
        regions = esc(typed.regions),
        min = MIN_PASSWORD_CHARS,
    ))
}

/// The form that creates an account.
pub async fn new_form(State(state): State<SharedState>, session: Session) -> Response {
    match new_account_page(&state, &session, &Typed::default(), None).await {
        Ok(body) => page("新建账号", &session, "accounts", &body),
        Err(e) => fail(e),
    }
}

fn field<'a>(fields: &'a FormFields, name: &str) -> &'a str {
    fields.get(name).map(String::as_str).unwrap_or("")
}

/// Create the account; a form refused for its input comes back with what was typed.
pub async fn create(
    State(state): State<SharedState>,
    session: Session,
    form: FormResult,
) -> Response {
    let fields = match checked_form(&session, form) {
        Ok(f) => f,
        Err(r) => return r,
    };
    let typed = Typed {
        username: field(&fields, "username"),
        display_name: field(&fields, "display_name"),
        role: field(&fields, "role"),
        regions: field(&fields, "regions"),
    };
    let req = CreateAccountRequest {
        username: typed.username.trim().to_string(),
        display_name: typed.display_name.to_string(),
        role: typed.role.to_string(),
        password: field(&fields, "password").to_string(),
        regions: region_codes(typed.regions),
    };
    let e = match admin::create_account(&state.db, &session.reviewer, req).await {
        Ok(created) => {
            return redirect(&format!(
                "/console/admin/accounts/{}?done=created",
                created.id
            ));
        }
        Err(e) => e,
    };
    if !input_refused(&e, &session) {
        return fail(e);
    }
    match new_account_page(&state, &session, &typed, Some(&e)).await {
        Ok(body) => html_response(
            e.code.status(),
            layout("新建账号", &session, "accounts", &body),
        ),
        Err(e) => fail(e),
    }
}

/// Whether a refusal is the form's: about its input, or a region outside one's own typed into
/// it (the access module's refusal, audited) by one who may manage accounts.
fn input_refused(e: &ApiError, session: &Session) -> bool {
    use crate::access::{Action, Target};
    about_input(e)
        || (e.code == crate::error::Code::Denied
            && session.reviewer.may(Action::ManageAccounts, Target::Scope))
}

/// Which form of the account's page was refused, and what was typed into it.
struct Refused<'a> {
    form: &'a str,
    text: &'a str,
    error: &'a ApiError,
}

async fn account_page(
    state: &SharedState,
    session: &Session,
    id: &str,
    done: Option<&str>,
    refused: Option<&Refused<'_>>,
) -> ApiResult<String> {
    let db = &state.db;
    let r = &session.reviewer;
    let acc = admin::managed_account(db, r, id, crate::access::Action::ManageAccounts).await?;
    let a = crate::accounts::view(db, &acc).await?;
    let devices = admin::list_devices(db, r, Some(a.id.clone())).await?;
    let (datalist, help) = region_help(state, session).await?;
    let of = |form: &str| refused.filter(|f| f.form == form);
    let error_of = |form: &str| of(form).map(|f| form_error(f.error)).unwrap_or_default();
    let current_codes = a
        .regions
        .iter()
        .map(|g| g.code.as_str())
        .collect::<Vec<_>>()
        .join(" ");
    let regions_text = of("regions")
        .map(|f| f.text.to_string())
        .unwrap_or(current_codes);
    let csrf = csrf_field(session);
    let action = |what: &str| format!("/console/admin/accounts/{}/{what}", esc(&a.id));
    let (status_value, status_button) = if a.disabled {
        ("0", "启用账号")
    } else {
        ("1", "停用账号")
    };
    let active_devices = devices.iter().filter(|d| d.revoked_at_ms.is_none()).count();
    Ok(format!(
        r#"{done}<dl class="grid2">
<dt>用户名</dt><dd>{user}</dd>
<dt>姓名</dt><dd>{name}</dd>
<dt>角色</dt><dd>{role}</dd>
<dt>状态</dt><dd>{status}</dd>
<dt>绑定区划</dt><dd>{regions}</dd>
<dt>设备</dt><dd><a href="/console/admin/devices?account={id}">{n_devices} 台（在用 {active_devices} 台）</a></dd>
</dl>
<section><h2>绑定区划</h2>{e_regions}
<form method="post" action="{a_regions}" class="filters">{csrf}<label>区划编码（多个以逗号或空格分隔；将替换现有绑定） <input name="regions" value="{regions_text}" required maxlength="2000" list="region-codes"></label><button type="submit">保存绑定</button></form>{datalist}{help}</section>
<section><h2>{status_button}</h2>{e_status}
<p class="sub">停用后该账号不能登录，已登录的手机和网页立即失效；启用后可重新登录。</p>
<form method="post" action="{a_status}" class="inline-form">{csrf}<input type="hidden" name="disabled" value="{status_value}"><button type="submit" class="secondary">{status_button}</button></form></section>
<section><h2>重置密码</h2>{e_password}
<form method="post" action="{a_password}" class="filters">{csrf}<label>新密码（至少 {min} 个字符） <input name="password" type="password" required minlength="{min}" maxlength="1024" autocomplete="new-password"></label><button type="submit">重置密码</button></form>
<p class="sub">重置后请将新密码当面告知本人；该账号已登录的设备不受影响，如需停用请到设备页。</p></section>
<p><a href="/console/admin/accounts">返回账号列表</a></p>"#,
        done = done_notice(done),
        user = esc(&a.username),
        name = esc(&a.display_name),
        role = role_zh(a.role),
        status = status_zh(&a),
        regions = region_list(&a.regions),
        id = esc(&a.id),
        n_devices = devices.len(),
        e_regions = error_of("regions"),
        e_status = error_of("status"),
        e_password = error_of("password"),
        a_regions = action("regions"),
        a_status = action("status"),
        a_password = action("password"),
        regions_text = esc(&regions_text),
        min = MIN_PASSWORD_CHARS,
    ))
}

/// One account's page.
pub async fn show(
    State(state): State<SharedState>,
    session: Session,
    Path(id): Path<String>,
    q: Result<Query<Done>, QueryRejection>,
) -> Response {
    let done = q.as_ref().ok().and_then(|q| q.done.as_deref());
    match account_page(&state, &session, &id, done, None).await {
        Ok(body) => page("账号", &session, "accounts", &body),
        Err(e) => fail(e),
    }
}

/// A change posted by one of the account's forms (`/console/admin/accounts/{id}/{form}`):
/// `regions` (replace its regions), `status` (`disabled=1` disables, `0` enables) or `password`
/// (set a new one). Applied, it returns to the account's page, told what was done; refused for
/// its input, the page comes again with the refusal beside that form and the text kept.
pub async fn change(
    State(state): State<SharedState>,
    session: Session,
    Path((id, form_name)): Path<(String, String)>,
    form: FormResult,
) -> Response {
    let fields = match checked_form(&session, form) {
        Ok(f) => f,
        Err(r) => return r,
    };
    let invalid = || fail(ApiError::new(crate::error::Code::InvalidRequest));
    let (req, text, done) = match form_name.as_str() {
        "regions" => {
            let text = field(&fields, "regions");
            let req = UpdateAccountRequest {
                regions: Some(region_codes(text)),
                ..Default::default()
            };
            (req, text, "regions")
        }
        "status" => {
            let disabled = match field(&fields, "disabled") {
                "1" => true,
                "0" => false,
                _ => return invalid(),
            };
            let req = UpdateAccountRequest {
                disabled: Some(disabled),
                ..Default::default()
            };
            (req, "", if disabled { "disabled" } else { "enabled" })
        }
        "password" => {
            let req = UpdateAccountRequest {
                password: Some(field(&fields, "password").to_string()),
                ..Default::default()
            };
            (req, "", "password")
        }
        _ => return crate::console::not_found_with(super::BACK),
    };
    let e = match admin::update_account(&state.db, &session.reviewer, &id, req).await {
        Ok(_) => return redirect(&format!("/console/admin/accounts/{id}?done={done}")),
        Err(e) => e,
    };
    if !input_refused(&e, &session) {
        return fail(e);
    }
    let refused = Refused {
        form: &form_name,
        text,
        error: &e,
    };
    match account_page(&state, &session, &id, None, Some(&refused)).await {
        Ok(body) => html_response(e.code.status(), layout("账号", &session, "accounts", &body)),
        Err(e) => fail(e),
    }
}
