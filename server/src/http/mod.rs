//! The HTTP API under `/api/v1`: router, extractors and the OpenAPI document.

pub mod admin;
pub mod auth;
pub mod blobs;
pub mod conflicts;
pub mod contract;
pub mod exports;
pub mod health;
pub mod metrics;
pub mod monitoring;
pub mod openapi;
pub mod policies;
pub mod regions;
pub mod review;
pub mod schema;
pub mod search;
pub mod statistics;
pub mod sync;
pub mod tekun;
pub mod temporary_aid;

use std::net::SocketAddr;
use std::sync::{Arc, OnceLock};

use axum::Router;
use axum::extract::rejection::JsonRejection;
use axum::extract::{ConnectInfo, FromRequest, FromRequestParts, Request};
use axum::http::request::Parts;
use axum::http::{StatusCode, header};
use axum::routing::{get, post};
use sea_orm::sea_query::{Expr, Query};
use sea_orm::{
    ColumnTrait, DatabaseConnection, DbBackend, EntityTrait, JoinType, QueryOrder, QuerySelect,
    QueryTrait, Statement,
};
use serde::de::DeserializeOwned;
use tower_http::sensitive_headers::SetSensitiveRequestHeadersLayer;
use tower_http::trace::TraceLayer;

use crate::access::Actor;
use crate::audit::{self, Outcome, actions};
use crate::auth::{TokenError, TokenKeys};
use crate::config::Settings;
use crate::db::{Decode, Exec};
use crate::entity::{account, account_region, device, device_sync, region, tasks_version};
use crate::error::{ApiError, Code};
use crate::sync::DeviceSyncState;

/// Shared by every request.
#[derive(Debug)]
pub struct AppState {
    pub db: DatabaseConnection,
    pub settings: Settings,
    pub keys: TokenKeys,
    /// The group commit of the sync ingest.
    pub commits: crate::documents::GroupCommit,
    /// SQLite's background WAL checkpoints (none on PostgreSQL).
    pub checkpoints: Option<crate::db::Checkpointer>,
    /// The regions looked up by this process: their level and path never change.
    pub placements: crate::regions::Placements,
    /// Where the reads of every sync request run ([`crate::db::reads`]).
    pub reads: crate::db::reads::Reads,
    /// The accounts' task tags as last computed ([`crate::sync::TaskTags`]).
    pub task_tags: crate::sync::TaskTags,
    /// The server's keys for identity numbers ([`crate::identity`]).
    pub identity: crate::identity::IdentityKeys,
    /// The numbers served at `/metrics`.
    pub metrics: crate::metrics::Metrics,
    /// The database's sync epoch, read once at start-up ([`crate::sync::Epoch`]).
    pub epoch: crate::sync::Epoch,
    /// The end of the sync feed as this process knows it ([`crate::sync::FeedEnd`]).
    pub feed_end: crate::sync::FeedEnd,
}

impl AppState {
    /// What a sync needs of the server.
    pub fn sync_deps(&self) -> crate::sync::Deps<'_> {
        crate::sync::Deps {
            db: &self.db,
            reads: &self.reads,
            commits: &self.commits,
            placements: &self.placements,
            task_tags: &self.task_tags,
            identity: &self.identity,
            metrics: &self.metrics,
            epoch: &self.epoch,
            feed_end: &self.feed_end,
        }
    }
}

pub type SharedState = Arc<AppState>;

/// The console as the HTTP layer sees it: built above this layer (by `app`) and handed in.
pub struct Pages {
    pub router: Router<SharedState>,
    /// An error as the console's page (for errors made below the console's handlers).
    pub error_page: fn(ApiError) -> axum::response::Response,
}

/// The whole router: the API, the console's pages and the layers every answer passes through
/// (error contract, tracing, body limit).
pub fn router(state: SharedState, blobs: blobs::Blobs, pages: Pages) -> Router {
    let contract = contract::Contract {
        limit: std::time::Duration::from_secs(state.settings.request_timeout_secs),
        import_limit: std::time::Duration::from_secs(state.settings.import_timeout_secs),
        error_page: pages.error_page,
    };
    let body_limit = state.settings.max_body_bytes;
    let api = Router::new()
        .route("/auth/login", post(auth::login))
        .route("/auth/enrol", post(auth::enrol))
        .route("/auth/refresh", post(auth::refresh))
        .route("/auth/logout", post(auth::logout))
        .route("/me", get(auth::me))
        .route("/regions/{code}", get(regions::get_region))
        .route("/regions/{code}/children", get(regions::get_children))
        .route("/admin/regions/import", post(admin::import_regions))
        .route(
            "/admin/accounts",
            post(admin::create_account).get(admin::list_accounts),
        )
        .route(
            "/admin/accounts/{id}",
            axum::routing::patch(admin::update_account),
        )
        .route("/admin/devices", get(admin::list_devices))
        .route("/admin/devices/{id}/revoke", post(admin::revoke_device))
        .route(
            "/admin/enrolment-codes",
            post(admin::create_enrolment_code).get(admin::list_enrolment_codes),
        )
        .route(
            "/admin/enrolment-codes/{id}/revoke",
            post(admin::revoke_enrolment_code),
        )
        .route("/admin/audit", get(admin::list_audit))
        .route("/policies", get(policies::get_book))
        .route("/policies/resolve", get(policies::resolve))
        .route("/admin/policies", axum::routing::put(policies::put_layer))
        .route(
            "/visits/{id}/review",
            post(crate::http::review::review_visit),
        )
        .route(
            "/visits/{id}/objections",
            post(crate::http::review::record_objection),
        )
        .route(
            "/visits/{id}/appraisals",
            post(crate::http::review::record_appraisal),
        )
        .route(
            "/visits/{id}/county-visits",
            post(crate::http::review::record_county_visit),
        )
        .route(
            "/visits/{id}/extension",
            post(crate::http::review::record_extension),
        )
        .route("/review/queue", get(crate::http::review::review_queue))
        .route("/households", get(crate::http::search::search_households))
        .route(
            "/households/{id}/decisions",
            post(crate::http::review::decide_benefit),
        )
        .route("/exports/{dataset}", get(crate::http::exports::export))
        .route("/reports", get(crate::http::review::list_reports))
        .route(
            "/reports/{id}/assign",
            post(crate::http::review::assign_report),
        )
        .route(
            "/reports/{id}/close",
            post(crate::http::review::close_report),
        )
        .route(
            "/reports/{id}/register",
            post(crate::http::review::register_report),
        )
        .route(
            "/reports/{id}/verify",
            post(crate::http::review::verify_report),
        )
        .route(
            "/reports/{id}/refer",
            post(crate::http::review::refer_report),
        )
        .route(
            "/reports/{id}/history",
            get(crate::http::review::report_history),
        )
        .route("/tasks", get(crate::http::review::my_tasks))
        .route(
            "/monitoring/imports",
            post(monitoring::import)
                .layer(axum::extract::DefaultBodyLimit::max(
                    state.settings.max_import_bytes,
                ))
                .get(monitoring::list_runs),
        )
        .route("/monitoring/imports/{id}", get(monitoring::get_run))
        .route(
            "/monitoring/imports/{id}/comparison",
            get(monitoring::comparison),
        )
        .route("/statistics/quarterly", get(statistics::quarterly))
        .route("/tekun/care-gaps", get(crate::http::tekun::care_gaps))
        .route("/monitoring/alerts", get(monitoring::list_alerts))
        .route("/monitoring/alerts/{id}", get(monitoring::get_alert))
        .route("/monitoring/alerts/{id}/dispose", post(monitoring::dispose))
        .route(
            "/temporary-aid",
            post(temporary_aid::open).get(temporary_aid::list),
        )
        .route("/temporary-aid/{id}", get(temporary_aid::get))
        .route("/temporary-aid/{id}/aid", post(temporary_aid::give_aid))
        .route(
            "/temporary-aid/{id}/approvals",
            post(temporary_aid::request_approval),
        )
        .route("/temporary-aid/{id}/decision", post(temporary_aid::decide))
        .route("/temporary-aid/{id}/payments", post(temporary_aid::pay))
        .route("/temporary-aid/{id}/close", post(temporary_aid::close))
        .route(
            "/reports/{id}/temporary-aid",
            post(temporary_aid::from_report),
        )
        .route("/schema", get(schema::get_schema))
        .route("/identity-key", get(schema::get_identity_key))
        .route(
            "/documents/{id}/conflicts",
            get(conflicts::document_conflicts),
        )
        .route(
            "/sync",
            post(sync::sync)
                .layer(axum::extract::DefaultBodyLimit::max(
                    doudi_protocol::sync::MAX_REQUEST_BYTES,
                ))
                .layer::<_, std::convert::Infallible>(axum::middleware::from_fn_with_state(
                    state.clone(),
                    metrics::count_sync,
                ))
                // Pages of a first sync are large and alike (the same keys, actors and values in
                // document after document): gzip, for a client that accepts it, above 32 bytes,
                // so that an idle sync stays as it is (docs/PROTOCOL.md, "Content coding").
                .layer(
                    tower_http::compression::CompressionLayer::new()
                        .gzip(true)
                        .quality(tower_http::CompressionLevel::Default),
                ),
        )
        .nest("/blobs", blobs::routes(&state.settings, blobs))
        .fallback(not_found);
    Router::new()
        .nest("/api/v1", api)
        .merge(pages.router)
        .route("/healthz", get(health::healthz))
        .route("/readyz", get(health::readyz))
        .route("/openapi.json", get(openapi::openapi_json))
        .route("/metrics", get(metrics::metrics))
        .fallback(not_found)
        .layer(axum::extract::DefaultBodyLimit::max(body_limit))
        .layer(axum::middleware::from_fn_with_state(
            contract,
            contract::error_contract,
        ))
        .layer(TraceLayer::new_for_http())
        .layer(SetSensitiveRequestHeadersLayer::new([
            header::AUTHORIZATION,
            header::COOKIE,
        ]))
        .with_state(state)
}

async fn not_found() -> ApiError {
    ApiError::new(Code::NotFound)
}

/// JSON body whose rejections become stable error codes.
pub struct ApiJson<T>(pub T);

impl<T, S> FromRequest<S> for ApiJson<T>
where
    T: DeserializeOwned,
    S: Send + Sync,
{
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> Result<Self, Self::Rejection> {
        let json_type = req
            .headers()
            .get(header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .map(|v| {
                v.split(';')
                    .next()
                    .unwrap_or("")
                    .trim()
                    .to_ascii_lowercase()
            })
            .is_some_and(|m| {
                m == "application/json" || (m.starts_with("application/") && m.ends_with("+json"))
            });
        if !json_type {
            return Err(not_json());
        }
        let ApiBody(bytes) = ApiBody::from_request(req, state).await?;
        // Every request body is an object: serde would also read a struct from an array of its
        // fields (`[null, null]` for a change of two optional fields).
        if bytes.iter().find(|b| !b.is_ascii_whitespace()) != Some(&b'{') {
            let v: Result<serde_json::Value, _> = serde_json::from_slice(&bytes);
            return Err(match v {
                Err(_) => ApiError::new(Code::MalformedJson),
                Ok(_) => ApiError::new(Code::InvalidRequest).with_message(
                    "请求内容须为 JSON 对象。",
                    "The request body must be a JSON object.",
                ),
            });
        }
        match axum::Json::<T>::from_bytes(&bytes) {
            Ok(axum::Json(v)) => Ok(ApiJson(v)),
            Err(rej) => Err(json_rejection(rej)),
        }
    }
}

/// A body sent as something else than JSON.
fn not_json() -> ApiError {
    ApiError::new(Code::UnsupportedMediaType).with_message(
        "请以 application/json 提交。",
        "Send the body as application/json.",
    )
}

fn json_rejection(rej: JsonRejection) -> ApiError {
    match rej {
        JsonRejection::MissingJsonContentType(_) => not_json(),
        JsonRejection::JsonSyntaxError(_) => ApiError::new(Code::MalformedJson),
        JsonRejection::JsonDataError(e) => {
            let text = e.body_text();
            if text.contains("unknown field") {
                ApiError::new(Code::UnknownField)
                    .with_details(serde_json::json!({ "reason": text }))
            } else {
                ApiError::new(Code::InvalidRequest)
                    .with_details(serde_json::json!({ "reason": text }))
            }
        }
        JsonRejection::BytesRejection(e) if e.status() == StatusCode::PAYLOAD_TOO_LARGE => {
            ApiError::new(Code::BodyTooLarge)
        }
        other => {
            if other.status() == StatusCode::PAYLOAD_TOO_LARGE {
                ApiError::new(Code::BodyTooLarge)
            } else {
                ApiError::new(Code::InvalidRequest)
            }
        }
    }
}

/// A raw body whose rejections (above all: too large) become stable error codes.
pub struct ApiBody(pub axum::body::Bytes);

impl<S: Send + Sync> FromRequest<S> for ApiBody {
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> Result<Self, Self::Rejection> {
        match axum::body::Bytes::from_request(req, state).await {
            Ok(b) => Ok(ApiBody(b)),
            Err(rej) if rej.status() == StatusCode::PAYLOAD_TOO_LARGE => {
                Err(ApiError::new(Code::BodyTooLarge))
            }
            Err(_) => Err(ApiError::new(Code::InvalidRequest)),
        }
    }
}

/// Query parameters whose rejections become stable error codes.
pub struct ApiQuery<T>(pub T);

impl<T: DeserializeOwned, S: Send + Sync> FromRequestParts<S> for ApiQuery<T> {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        match axum::extract::Query::<T>::from_request_parts(parts, state).await {
            Ok(axum::extract::Query(v)) => Ok(ApiQuery(v)),
            Err(rej) => Err(ApiError::new(Code::InvalidRequest)
                .with_details(serde_json::json!({ "reason": rej.body_text() }))),
        }
    }
}

/// The client's address: the peer, or the first `X-Forwarded-For` entry behind a trusted proxy.
#[derive(Debug, Clone)]
pub struct ClientAddr(pub String);

impl FromRequestParts<SharedState> for ClientAddr {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &SharedState) -> Result<Self, ApiError> {
        if state.settings.trust_forwarded_for
            && let Some(first) = parts
                .headers
                .get("x-forwarded-for")
                .and_then(|v| v.to_str().ok())
                .and_then(|v| v.split(',').next())
        {
            let first = first.trim();
            if first.parse::<std::net::IpAddr>().is_ok() {
                return Ok(ClientAddr(first.to_string()));
            }
        }
        let peer = parts
            .extensions
            .get::<ConnectInfo<SocketAddr>>()
            .map(|ci| ci.0.ip().to_string())
            .unwrap_or_else(|| "unknown".to_string());
        Ok(ClientAddr(peer))
    }
}

/// The address phones reach this server at, for the enrolment QR code: `public_url` when set,
/// else the scheme (`X-Forwarded-Proto` behind a trusted proxy, else `http`) and the `Host` the
/// request came with.
#[derive(Debug, Clone)]
pub struct PublicUrl(pub String);

impl FromRequestParts<SharedState> for PublicUrl {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &SharedState) -> Result<Self, ApiError> {
        if let Some(url) = &state.settings.public_url {
            return Ok(PublicUrl(url.trim_end_matches('/').to_string()));
        }
        let header = |name: &str| parts.headers.get(name).and_then(|v| v.to_str().ok());
        let scheme = match header("x-forwarded-proto") {
            Some("https") if state.settings.trust_forwarded_for => "https",
            _ => "http",
        };
        // A host is letters, digits, `.-:[]`: anything else would break the payload.
        let host = header("host")
            .filter(|h| {
                !h.is_empty()
                    && h.bytes()
                        .all(|b| b.is_ascii_alphanumeric() || b".-:[]".contains(&b))
            })
            .map(str::to_string)
            .unwrap_or_else(|| state.settings.listen.to_string());
        Ok(PublicUrl(format!("{scheme}://{host}")))
    }
}

/// Aliases of the columns the authentication's read adds to the device and its account.
const REGION_PATH: &str = "region_path";
const SCOPE_KEY: &str = "sync_scope_key";
const POLICY_VERSION: &str = "policy_version";
const TASKS_VERSION: &str = "tasks_version";

/// A row of the authentication's read: the device, its account (`None` when it is gone), the
/// path of one of the account's regions (`None` for an account bound to none) and the device's
/// sync state (the same in every row).
struct DeviceOwner(
    device::Model,
    Option<account::Model>,
    Option<String>,
    DeviceSyncState,
);

/// The sync state of the row's columns.
fn sync_state(
    scope_key: Option<String>,
    policy: Option<i64>,
    tasks: Option<i64>,
) -> DeviceSyncState {
    DeviceSyncState {
        scope_key,
        policy_version: policy.unwrap_or(0) as u64,
        tasks_version: tasks.unwrap_or(0),
    }
}

impl Decode for DeviceOwner {
    fn from_orm(row: &sea_orm::QueryResult) -> Result<Self, sea_orm::DbErr> {
        let (device, account) = Decode::from_orm(row)?;
        let state = sync_state(
            row.try_get("", SCOPE_KEY)?,
            row.try_get("", POLICY_VERSION)?,
            row.try_get("", TASKS_VERSION)?,
        );
        Ok(DeviceOwner(
            device,
            account,
            row.try_get("", REGION_PATH)?,
            state,
        ))
    }
    fn from_sqlite(row: &rusqlite::Row<'_>) -> Result<Self, sea_orm::DbErr> {
        use crate::db::reads::db_err;
        let (device, account) = Decode::from_sqlite(row)?;
        let state = sync_state(
            row.get(SCOPE_KEY).map_err(db_err)?,
            row.get(POLICY_VERSION).map_err(db_err)?,
            row.get(TASKS_VERSION).map_err(db_err)?,
        );
        let path = row.get(REGION_PATH).map_err(db_err)?;
        Ok(DeviceOwner(device, account, path, state))
    }
}

/// The device id the authentication's read is built with, replaced by the caller's.
const DEVICE_PLACEHOLDER: &str = "device-placeholder";

/// The authentication's read of `device_id`: the device, its account, the account's regions and
/// the device's sync state in one statement, a row per region. Its SQL is built once per
/// backend; each request binds its own device id.
fn auth_read(backend: DbBackend, device_id: &str) -> Statement {
    static BUILT: [OnceLock<Statement>; 3] = [OnceLock::new(), OnceLock::new(), OnceLock::new()];
    let slot = match backend {
        DbBackend::Sqlite => 0,
        DbBackend::Postgres => 1,
        _ => 2,
    };
    let built = BUILT[slot].get_or_init(|| {
        let owner = device::Entity::belongs_to(account::Entity)
            .from(device::Column::AccountId)
            .to(account::Column::Id)
            .into();
        let bound = account_region::Entity::belongs_to(account::Entity)
            .from(account_region::Column::AccountId)
            .to(account::Column::Id)
            .into();
        let placed = account_region::Entity::belongs_to(region::Entity)
            .from(account_region::Column::RegionCode)
            .to(region::Column::Code)
            .into();
        let synced = device::Entity::belongs_to(device_sync::Entity)
            .from(device::Column::Id)
            .to(device_sync::Column::DeviceId)
            .into();
        let tasks = Query::select()
            .column(tasks_version::Column::Version)
            .from(tasks_version::Entity)
            .and_where(tasks_version::Column::Id.eq(1))
            .to_owned();
        device::Entity::find_by_id(DEVICE_PLACEHOLDER)
            .select_also(account::Entity)
            .join(JoinType::LeftJoin, owner)
            .join_rev(JoinType::LeftJoin, bound)
            .join(JoinType::LeftJoin, placed)
            .join(JoinType::LeftJoin, synced)
            .column_as(region::Column::Path, REGION_PATH)
            .column_as(device_sync::Column::ScopeKey, SCOPE_KEY)
            .expr_as(Expr::from(crate::policies::version_query()), POLICY_VERSION)
            .expr_as(Expr::from(tasks), TASKS_VERSION)
            .order_by_asc(region::Column::Path)
            .build(backend)
    });
    let mut read = built.clone();
    if let Some(values) = read.values.as_mut() {
        for value in values.0.iter_mut() {
            if matches!(value, sea_orm::Value::String(Some(s)) if s == DEVICE_PLACEHOLDER) {
                *value = sea_orm::Value::String(Some(device_id.to_owned()));
            }
        }
    }
    read
}

/// An authenticated request: a valid access token of an enabled account on a live device. It is
/// the [`Actor`] services take, with what a sync needs of the device.
#[derive(Debug, Clone)]
pub struct AuthContext {
    pub actor: Actor,
    /// Read with the device at the start of the request.
    pub sync_state: DeviceSyncState,
}

impl AuthContext {
    /// The device as a sync sees it.
    pub fn device(&self) -> crate::sync::Device<'_> {
        crate::sync::Device {
            actor: &self.actor,
            sync_state: &self.sync_state,
        }
    }
}

impl std::ops::Deref for AuthContext {
    type Target = Actor;

    fn deref(&self) -> &Actor {
        &self.actor
    }
}

impl FromRequestParts<SharedState> for AuthContext {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &SharedState) -> Result<Self, ApiError> {
        let ClientAddr(addr) = ClientAddr::from_request_parts(parts, state).await?;
        let token = parts
            .headers
            .get(header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.strip_prefix("Bearer "));
        let Some(token) = token else {
            return Err(ApiError::new(Code::TokenMissing));
        };
        // A refused token is audited under its account's first region when the account is known.
        let reject = |code: Code, account: Option<&str>, home: Option<&str>, reason: &str| {
            let db = state.db.clone();
            let (addr, account, home) = (
                addr.clone(),
                account.map(str::to_string),
                home.map(str::to_string),
            );
            let detail = serde_json::json!({ "reason": reason });
            async move {
                let ev = audit::Event {
                    account_id: account.as_deref(),
                    region_path: home.as_deref(),
                    action: actions::TOKEN_REJECTED,
                    client_addr: Some(&addr),
                    detail: Some(detail),
                    ..Default::default()
                };
                audit::refuse(&db, Outcome::Denied, ev, ApiError::new(code)).await
            }
        };
        let claims = match state.keys.verify(token) {
            Ok(c) => c,
            Err(TokenError::Expired) => return Err(ApiError::new(Code::TokenExpired)),
            Err(TokenError::Invalid) => {
                return Err(reject(Code::TokenInvalid, None, None, "invalid").await);
            }
        };
        let read = auth_read(state.reads.backend(), &claims.dev);
        let rows: Vec<DeviceOwner> = state.reads.query(read).await?;
        let mut rows = rows.into_iter();
        let Some(DeviceOwner(device, account, first, sync_state)) = rows.next() else {
            return Err(reject(Code::TokenInvalid, None, None, "unknown device").await);
        };
        if device.revoked_at_ms.is_some() {
            let (account, home) = (Some(device.account_id.as_str()), first.as_deref());
            return Err(reject(Code::DeviceRevoked, account, home, "device revoked").await);
        }
        if device.signed_out_at_ms.is_some() {
            return Err(ApiError::new(Code::SessionEnded));
        }
        let Some(account) = account else {
            return Err(reject(Code::TokenInvalid, None, None, "unknown account").await);
        };
        if account.disabled {
            let (id, home) = (Some(account.id.as_str()), first.as_deref());
            return Err(reject(Code::AccountDisabled, id, home, "account disabled").await);
        }
        let paths = first.into_iter().chain(rows.filter_map(|r| r.2)).collect();
        let Some(subject) = crate::accounts::subject(&account, paths) else {
            return Err(ApiError::new(Code::Internal));
        };
        Ok(AuthContext {
            actor: Actor {
                subject,
                account,
                device_id: device.id,
                client_addr: addr,
            },
            sync_state,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn auth_read_binds_the_device_asked_for() {
        for backend in [DbBackend::Sqlite, DbBackend::Postgres] {
            for device in [
                "0123456789abcdef0123456789abcdef",
                "fedcba9876543210fedcba9876543210",
            ] {
                let read = auth_read(backend, device);
                let strings: Vec<&str> = read
                    .values
                    .iter()
                    .flat_map(|v| v.0.iter())
                    .filter_map(|v| match v {
                        sea_orm::Value::String(Some(s)) => Some(s.as_str()),
                        _ => None,
                    })
                    .collect();
                assert_eq!(strings, [device], "{backend:?}: {}", read.sql);
                assert!(!read.sql.contains(DEVICE_PLACEHOLDER), "{}", read.sql);
            }
        }
    }
}
