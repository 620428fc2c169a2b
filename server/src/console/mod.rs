//! The supervisor web console at `/console/…`: server-rendered HTML in Chinese, usable without
//! JavaScript. Sessions are server-side rows (`console_sessions`) bound to a `platform=web` device
//! row; the cookie is HttpOnly and SameSite=Strict, and every form carries a CSRF token that every
//! POST checks. Every page asks the access module; ids outside the reviewer's regions get the same
//! answer as ids that do not exist, and the denial is audited.

mod admin;
mod exports;
mod html;
mod map;
mod means;
mod monitoring;
mod pages;
mod quarterly;
mod tasks;
mod tekun;
pub(crate) mod temporary_aid;
mod triage;

use axum::Router;
use axum::extract::{FromRequestParts, State};
use axum::http::request::Parts;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use sea_orm::sea_query::Expr;
use sea_orm::{ActiveModelTrait, ColumnTrait, EntityTrait, QueryFilter, Set, TransactionTrait};
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

use crate::access::Actor;
use crate::access::{Action, decide};
use crate::accounts;
use crate::audit::{self, Outcome, actions};
use crate::auth::now_ms;
use crate::entity::{account, console_session, device};
use crate::error::{ApiError, Code};
use crate::http::{ClientAddr, SharedState};

pub use html::esc;

/// Name of the session cookie.
pub const SESSION_COOKIE: &str = "doudi_session";
/// Name of the cookie holding the login form's CSRF token (double submit).
const LOGIN_CSRF_COOKIE: &str = "doudi_login_csrf";

const CSS: &str = include_str!("../../static/console.css");

/// The console's routes; a department list uploaded as a file may be up to `max_import_bytes`.
/// Room for the text fields of a form that uploads a file, beyond the file's own limit.
const FORM_FIELDS_BYTES: usize = 64 * 1024;

pub fn router(blobs: crate::http::blobs::Blobs, max_import_bytes: usize) -> Router<SharedState> {
    Router::new()
        .route("/console", get(home))
        .route("/console/", get(home))
        .route("/console/login", get(login_page).post(login))
        .route("/console/logout", post(logout))
        .route("/console/static/console.css", get(css))
        .route("/console/queue", get(pages::queue))
        .route("/console/visits/{id}", get(pages::visit))
        .route("/console/visits/{id}/decision", post(pages::decision))
        .route("/console/visits/{id}/print", get(pages::print))
        .route("/console/visits/{id}/unmask", post(pages::unmask))
        .route("/console/visits/{id}/objection", post(pages::objection))
        .route(
            "/console/visits/{id}/county-visit",
            post(pages::county_visit),
        )
        .route("/console/visits/{id}/extension", post(pages::extension))
        .route("/console/docs/{id}/resolve", post(pages::resolve))
        .route("/console/docs/{id}/photos/{n}", get(pages::photo))
        .route("/console/households", get(pages::households))
        .route("/console/households/{id}", get(pages::household))
        .route("/console/households/{id}/benefit", post(pages::benefit))
        .route("/console/reports", get(triage::reports))
        .route("/console/reports/{id}", get(pages::report))
        // assign, close, register, verify, refer (the static `unmask` below wins over `{step}`)
        .route("/console/reports/{id}/{step}", post(pages::report_step))
        .route("/console/reports/{id}/unmask", post(pages::report_unmask))
        .route("/console/dashboard", get(triage::dashboard))
        .route("/console/publication", get(pages::publication))
        .route("/console/map", get(map::page))
        .route("/console/quarterly", get(quarterly::page))
        .route("/console/quarterly/xlsx", get(quarterly::download))
        .route("/console/exports", get(exports::page))
        .route("/console/exports/{dataset}", get(exports::download))
        .route("/console/tasks", get(tasks::tasks))
        .route("/console/tekun/care-gaps", get(tekun::care_gaps))
        .route("/console/monitoring", get(monitoring::list))
        .route("/console/monitoring/import", post(monitoring::import))
        .route(
            "/console/monitoring/upload",
            post(monitoring::upload).layer(axum::extract::DefaultBodyLimit::max(max_import_bytes)),
        )
        .route("/console/monitoring/runs/{id}", get(monitoring::run))
        .route(
            "/console/monitoring/runs/{id}/comparison",
            get(monitoring::comparison_csv),
        )
        .route("/console/monitoring/alerts/{id}", get(monitoring::alert))
        .route(
            "/console/monitoring/alerts/{id}/dispose",
            post(monitoring::dispose),
        )
        .route(
            "/console/temporary-aid",
            get(temporary_aid::list).post(temporary_aid::open),
        )
        .route("/console/temporary-aid/{id}", get(temporary_aid::case))
        .route(
            "/console/temporary-aid/{id}/{step}",
            post(temporary_aid::step),
        )
        .route(
            "/console/reports/{id}/temporary-aid",
            post(temporary_aid::from_report),
        )
        .route("/console/households/{id}/risk", post(tasks::set_risk))
        .route(
            "/console/blobs/{sha256}",
            get(pages::blob).layer(axum::Extension(blobs.clone())),
        )
        .merge(
            Router::new()
                .route("/console/visits/{id}/appraisal", post(pages::appraisal))
                .layer(axum::Extension(blobs.clone()))
                .layer(axum::extract::DefaultBodyLimit::max(
                    blobs.max_blob_bytes().saturating_add(FORM_FIELDS_BYTES),
                )),
        )
        .merge(admin::routes())
        .fallback(not_found_page)
}

/// The page a console user starts from: the review queue for reviewers, the administration
/// home for administrators; `None` for a role the console is not for.
pub fn home_of(subject: &crate::access::Subject) -> Option<&'static str> {
    let may = |action| decide(subject, action, crate::access::Target::Scope).is_allowed();
    if may(Action::ReviewVisit) {
        Some("/console/queue")
    } else if may(Action::ManageAccounts) {
        Some(admin::HOME)
    } else {
        None
    }
}

/// `/console`: one's start page, or the login page.
async fn home(session: Result<Session, ToLogin>) -> Response {
    match session {
        Ok(s) => secure(
            Redirect::to(home_of(&s.reviewer.subject).unwrap_or("/console/login")).into_response(),
        ),
        Err(to_login) => to_login.into_response(),
    }
}

async fn css() -> Response {
    (
        [
            (header::CONTENT_TYPE, "text/css; charset=utf-8"),
            (header::CACHE_CONTROL, "max-age=3600"),
        ],
        CSS,
    )
        .into_response()
}

fn random_hex() -> String {
    hex::encode(crate::auth::random_bytes::<32>())
}

fn sha256_hex(s: &str) -> String {
    hex::encode(Sha256::digest(s.as_bytes()))
}

/// Headers every console page carries: no caching of case data, no framing, no inline script.
pub fn secure(mut resp: Response) -> Response {
    let h = resp.headers_mut();
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    h.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(
            "default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'; frame-ancestors 'none'; form-action 'self'",
        ),
    );
    h.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    h.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("same-origin"),
    );
    resp
}

/// An HTML response.
pub fn html_response(status: StatusCode, body: String) -> Response {
    secure(
        (
            status,
            [(header::CONTENT_TYPE, "text/html; charset=utf-8")],
            body,
        )
            .into_response(),
    )
}

fn cookie_value<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|kv| kv.trim().split_once('='))
        .find(|(k, _)| *k == name)
        .map(|(_, v)| v)
}

fn set_cookie(name: &str, value: &str, max_age_secs: i64) -> String {
    format!("{name}={value}; Path=/console; HttpOnly; SameSite=Strict; Max-Age={max_age_secs}")
}

/// A logged-in console user.
#[derive(Debug, Clone)]
pub struct Session {
    pub reviewer: Actor,
    pub csrf: String,
    session_id: String,
}

impl Session {
    /// Does the submitted token match this session's? (Constant-time.)
    pub fn csrf_ok(&self, submitted: Option<&str>) -> bool {
        submitted.is_some_and(|s| bool::from(s.as_bytes().ct_eq(self.csrf.as_bytes())))
    }
}

/// Where a request without a valid session goes: the login page, or an error page when the
/// refusal of a revoked device's or a disabled account's session could not be audited.
pub enum ToLogin {
    Login,
    Failed(ApiError),
}

impl IntoResponse for ToLogin {
    fn into_response(self) -> Response {
        match self {
            ToLogin::Login => secure(Redirect::to("/console/login").into_response()),
            ToLogin::Failed(e) => error_page(e),
        }
    }
}

impl FromRequestParts<SharedState> for Session {
    type Rejection = ToLogin;

    async fn from_request_parts(parts: &mut Parts, state: &SharedState) -> Result<Self, ToLogin> {
        let Some(token) = cookie_value(&parts.headers, SESSION_COOKIE).map(str::to_string) else {
            return Err(ToLogin::Login);
        };
        let addr = ClientAddr::from_request_parts(parts, state)
            .await
            .map(|a| a.0)
            .unwrap_or_else(|_| "unknown".to_string());
        let id = sha256_hex(&token);
        let db = &state.db;
        let Ok(Some(s)) = console_session::Entity::find_by_id(id.clone())
            .one(db)
            .await
        else {
            return Err(ToLogin::Login);
        };
        if s.ended_at_ms.is_some() || s.expires_at_ms < now_ms() {
            return Err(ToLogin::Login);
        }
        let Ok(Some(acc)) = account::Entity::find_by_id(s.account_id.clone())
            .one(db)
            .await
        else {
            return Err(ToLogin::Login);
        };
        let Ok(Some(dev)) = device::Entity::find_by_id(s.device_id.clone())
            .one(db)
            .await
        else {
            return Err(ToLogin::Login);
        };
        if acc.disabled || dev.revoked_at_ms.is_some() {
            let reason = if acc.disabled {
                "account disabled"
            } else {
                "device revoked"
            };
            let refused = async {
                let home = accounts::home_path(db, &acc.id).await?;
                let ev = audit::Event {
                    account_id: Some(&acc.id),
                    device_id: Some(&dev.id),
                    region_path: home.as_deref(),
                    action: actions::TOKEN_REJECTED,
                    client_addr: Some(&addr),
                    detail: Some(serde_json::json!({ "reason": reason, "via": "console" })),
                    ..Default::default()
                };
                audit::record(db, Outcome::Denied, ev).await
            };
            return Err(match refused.await {
                Ok(()) => ToLogin::Login,
                Err(e) => ToLogin::Failed(e.into()),
            });
        }
        let Ok(Some(subject)) = accounts::subject_of(db, &acc).await else {
            return Err(ToLogin::Login);
        };
        Ok(Session {
            reviewer: Actor {
                subject,
                account: acc,
                device_id: dev.id,
                client_addr: addr,
            },
            csrf: s.csrf_token,
            session_id: id,
        })
    }
}

/// The link back on the error pages of the review pages.
const BACK_TO_QUEUE: &str = "<a href=\"/console/queue\">返回审核队列</a>";

/// The answer for anything missing or outside one's regions: the same page either way.
pub fn not_found() -> Response {
    not_found_with(BACK_TO_QUEUE)
}

/// [`not_found`] with `back` (HTML) as the link back.
pub fn not_found_with(back: &str) -> Response {
    html_response(
        StatusCode::NOT_FOUND,
        html::bare(
            "未找到",
            &format!("<p>未找到该记录，或您无权查看。</p><p>{back}</p>"),
        ),
    )
}

async fn not_found_page() -> Response {
    not_found()
}

/// A refused form (bad or missing CSRF token).
pub fn csrf_refused() -> Response {
    let (zh, _) = Code::CsrfInvalid.messages();
    html_response(
        StatusCode::FORBIDDEN,
        html::bare(
            "请求已拒绝",
            &format!("<p>{}</p><p><a href=\"/console\">返回</a></p>", esc(zh)),
        ),
    )
}

/// An API error as a console page. `not_found` without a message of its own is the page of
/// [`not_found`], the same for what does not exist and what lies outside one's regions.
pub fn error_page(e: ApiError) -> Response {
    error_page_with(e, BACK_TO_QUEUE)
}

/// [`error_page`] with `back` (HTML) as the link back.
pub fn error_page_with(e: ApiError, back: &str) -> Response {
    if e.code == Code::NotFound && e.message_zh.is_none() {
        return not_found_with(back);
    }
    let body = e.body();
    let status = e.code.status();
    html_response(
        status,
        html::bare(
            "操作未完成",
            &format!(
                "<p class=\"error\" data-code=\"{}\">{}</p><p>{back}</p>",
                esc(body.code),
                esc(&body.message)
            ),
        ),
    )
}

fn login_form(csrf: &str, message: Option<&str>) -> String {
    let msg = message
        .map(|m| format!("<p class=\"error\" role=\"alert\">{}</p>", esc(m)))
        .unwrap_or_default();
    html::bare(
        "登录",
        &format!(
            r#"<form method="post" action="/console/login" class="login">
<h1>兜底 · 审核工作台</h1>{msg}
<label>用户名 <input name="username" autocomplete="username" required maxlength="64"></label>
<label>密码 <input name="password" type="password" autocomplete="current-password" required maxlength="1024"></label>
<input type="hidden" name="csrf" value="{csrf}">
<button type="submit">登录</button>
</form>"#,
            csrf = esc(csrf)
        ),
    )
}

async fn login_page() -> Response {
    let csrf = random_hex();
    let mut resp = html_response(StatusCode::OK, login_form(&csrf, None));
    if let Ok(v) = HeaderValue::from_str(&set_cookie(LOGIN_CSRF_COOKIE, &csrf, 3600)) {
        resp.headers_mut().append(header::SET_COOKIE, v);
    }
    resp
}

#[derive(Debug, serde::Deserialize)]
pub struct LoginForm {
    #[serde(default)]
    username: String,
    #[serde(default)]
    password: String,
    #[serde(default)]
    csrf: Option<String>,
}

async fn login(
    State(state): State<SharedState>,
    ClientAddr(addr): ClientAddr,
    headers: HeaderMap,
    form: Result<axum::Form<LoginForm>, axum::extract::rejection::FormRejection>,
) -> Response {
    let Ok(axum::Form(form)) = form else {
        return csrf_refused();
    };
    let expected = cookie_value(&headers, LOGIN_CSRF_COOKIE).unwrap_or("");
    let csrf_ok = !expected.is_empty()
        && form
            .csrf
            .as_deref()
            .is_some_and(|c| bool::from(c.as_bytes().ct_eq(expected.as_bytes())));
    if !csrf_ok {
        return csrf_refused();
    }
    match authenticate(&state, &form, &addr).await {
        Ok((token, start)) => {
            let hours = state.settings.console_session_hours.max(1) as i64;
            let mut resp = secure(Redirect::to(start).into_response());
            for c in [
                set_cookie(SESSION_COOKIE, &token, hours * 3600),
                set_cookie(LOGIN_CSRF_COOKIE, "", 0),
            ] {
                if let Ok(v) = HeaderValue::from_str(&c) {
                    resp.headers_mut().append(header::SET_COOKIE, v);
                }
            }
            resp
        }
        Err(e) => {
            let (zh, _) = e.code.messages();
            let msg = e.message_zh.clone().unwrap_or_else(|| zh.to_string());
            let mut resp = html_response(e.code.status(), login_form(expected, Some(&msg)));
            if let Some(secs) = e.retry_after_secs
                && let Ok(v) = HeaderValue::from_str(&secs.to_string())
            {
                resp.headers_mut().insert(header::RETRY_AFTER, v);
            }
            resp
        }
    }
}

/// Check the password (same rate limits and audit as the API login), register a web device and
/// open a session; returns the cookie value and the user's start page.
async fn authenticate(
    state: &SharedState,
    form: &LoginForm,
    addr: &str,
) -> Result<(String, &'static str), ApiError> {
    let username = form.username.trim();
    if username.is_empty() || username.len() > 64 || form.password.len() > 1024 {
        return Err(ApiError::new(Code::InvalidCredentials));
    }
    let password = form.password.clone();
    let (acc, _) =
        crate::http::auth::check_password(state, username, password, addr, Some("console")).await?;
    let db = &state.db;
    let Some(subject) = accounts::subject_of(db, &acc).await? else {
        return Err(ApiError::new(Code::Internal));
    };
    let Some(start) = home_of(&subject) else {
        // Neither a reviewer nor an administrator: no web device, no session; the refusal is
        // filed like any other.
        let d = decide(&subject, Action::ReviewVisit, crate::access::Target::Scope);
        let caller = crate::access::Caller {
            subject: &subject,
            account_id: &acc.id,
            device_id: None,
            client_addr: addr,
        };
        let answer = ApiError::new(Code::Denied).with_message(
            "审核工作台仅供乡镇审核人员、县级审核确认人员和管理员使用。",
            "The console is for township reviewers, county approvers and administrators.",
        );
        return Err(caller
            .deny(db, Action::ReviewVisit, d, "console", answer)
            .await);
    };
    crate::http::auth::record_attempt(state, username, addr, true).await?;
    let now = now_ms();
    let device_id = state.keys.new_device_id(&acc.id);
    device::ActiveModel {
        id: Set(device_id.clone()),
        account_id: Set(acc.id.clone()),
        name: Set("网页审核台".to_string()),
        platform: Set("web".to_string()),
        created_at_ms: Set(now),
        last_seen_at_ms: Set(now),
        revoked_at_ms: Set(None),
        revoked_reason: Set(None),
        signed_out_at_ms: Set(None),
    }
    .insert(db)
    .await?;
    let token = random_hex();
    let hours = state.settings.console_session_hours.max(1) as i64;
    console_session::ActiveModel {
        id: Set(sha256_hex(&token)),
        account_id: Set(acc.id.clone()),
        device_id: Set(device_id.clone()),
        csrf_token: Set(random_hex()),
        created_at_ms: Set(now),
        expires_at_ms: Set(now + hours * 3_600_000),
        ended_at_ms: Set(None),
    }
    .insert(db)
    .await?;
    // Without its entry the login fails: the session's cookie is never handed out.
    audit::record(
        db,
        Outcome::Ok,
        audit::Event {
            account_id: Some(&acc.id),
            device_id: Some(&device_id),
            region_path: subject.scope.first().map(String::as_str),
            action: actions::LOGIN,
            client_addr: Some(addr),
            detail: Some(serde_json::json!({ "via": "console" })),
            ..Default::default()
        },
    )
    .await?;
    Ok((token, start))
}

/// A console form: its fields, with the CSRF token checked against the session.
pub type FormFields = std::collections::HashMap<String, String>;

/// A posted console form as the handlers receive it.
pub type FormResult = Result<axum::Form<FormFields>, axum::extract::rejection::FormRejection>;

/// Parse a form and check its CSRF token; `Err` is the refusal page.
// The refusal is the page answered at once, not carried further.
#[allow(clippy::result_large_err)]
pub fn checked_form(session: &Session, form: FormResult) -> Result<FormFields, Response> {
    let Ok(axum::Form(fields)) = form else {
        return Err(csrf_refused());
    };
    if !session.csrf_ok(fields.get("csrf").map(String::as_str)) {
        return Err(csrf_refused());
    }
    Ok(fields)
}

/// A posted `multipart/form-data` console form: its text fields and the bytes of its file field
/// (with the file's name), CSRF checked.
pub struct MultipartForm {
    pub fields: FormFields,
    pub file: Option<(String, Vec<u8>)>,
}

/// Why a multipart form was not taken.
pub enum MultipartRefused {
    /// Over the route's body limit.
    TooLarge,
    /// Not a form, or its CSRF token is wrong: the page to answer.
    Refused(Response),
}

/// Read a multipart form whose file is in field `file_field`, and check its CSRF token.
pub async fn checked_multipart(
    session: &Session,
    form: Result<axum::extract::Multipart, axum::extract::multipart::MultipartRejection>,
    file_field: &str,
) -> Result<MultipartForm, MultipartRefused> {
    let refused = || MultipartRefused::Refused(csrf_refused());
    let too_large = |status: StatusCode| {
        if status == StatusCode::PAYLOAD_TOO_LARGE {
            MultipartRefused::TooLarge
        } else {
            refused()
        }
    };
    let Ok(mut form) = form else {
        return Err(refused());
    };
    let mut out = MultipartForm {
        fields: FormFields::new(),
        file: None,
    };
    while let Some(field) = form.next_field().await.map_err(|e| too_large(e.status()))? {
        let name = field.name().unwrap_or_default().to_string();
        let file_name = field.file_name().unwrap_or_default().to_string();
        let bytes = field.bytes().await.map_err(|e| too_large(e.status()))?;
        if name == file_field {
            out.file = Some((file_name, bytes.to_vec()));
        } else {
            out.fields
                .insert(name, String::from_utf8_lossy(&bytes).into_owned());
        }
    }
    if !session.csrf_ok(out.fields.get("csrf").map(String::as_str)) {
        return Err(refused());
    }
    Ok(out)
}

async fn logout(
    State(state): State<SharedState>,
    session: Session,
    form: Result<axum::Form<FormFields>, axum::extract::rejection::FormRejection>,
) -> Response {
    if let Err(r) = checked_form(&session, form) {
        return r;
    }
    let ended = async {
        let txn = state.db.begin().await?;
        console_session::Entity::update_many()
            .col_expr(console_session::Column::EndedAtMs, Expr::value(now_ms()))
            .filter(console_session::Column::Id.eq(session.session_id.as_str()))
            .exec(&txn)
            .await?;
        let ev = session.reviewer.event(actions::LOGOUT, Some("console"));
        audit::record(&txn, Outcome::Ok, ev).await?;
        txn.commit().await
    };
    if let Err(e) = ended.await {
        return error_page(e.into());
    }
    let mut resp = secure(Redirect::to("/console/login").into_response());
    if let Ok(v) = HeaderValue::from_str(&set_cookie(SESSION_COOKIE, "", 0)) {
        resp.headers_mut().append(header::SET_COOKIE, v);
    }
    resp
}

/// The answer to a console form: the page at the location `done` names; the form's page again
/// (made by `again` with the refusal), answered with the refusal's status, when `done` is a
/// refusal of the input (one of `refusable`); an error page for anything else.
pub(crate) async fn form_answer<'a, F, Fut>(
    session: &Session,
    title: &str,
    active: &str,
    done: crate::error::ApiResult<String>,
    refusable: &[Code],
    again: F,
) -> Response
where
    F: FnOnce(ApiError) -> Fut,
    Fut: std::future::Future<Output = crate::error::ApiResult<String>> + 'a,
{
    match done {
        Ok(to) => secure(Redirect::to(&to).into_response()),
        Err(e) if refusable.contains(&e.code) => {
            let status = e.code.status();
            match again(e).await {
                Ok(b) => html_response(status, html::layout(title, session, active, &b)),
                Err(e) => error_page(e),
            }
        }
        Err(e) => error_page(e),
    }
}
