//! `GET /metrics`: the process's numbers in the Prometheus text format ([`crate::metrics`]),
//! off, behind a bearer token or for this machine only, as `metrics` says.

use std::net::SocketAddr;

use axum::extract::{ConnectInfo, Request, State};
use axum::http::header;
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

use super::SharedState;
use crate::config::MetricsAccess;
use crate::error::{ApiError, Code};

/// The numbers of this server process (docs/OPERATIONS.md, "Monitoring").
#[utoipa::path(get, path = "/metrics", tag = "health",
    responses((status = 200, body = String, content_type = "text/plain",
               description = "Prometheus text format (version 0.0.4)"),
              (status = 401, body = crate::error::ErrorBody, description = "`auth.token_missing`, `auth.token_invalid`: `metrics = \"token\"` and no or another token"),
              (status = 403, body = crate::error::ErrorBody, description = "`policy.denied`: `metrics = \"loopback\"` and the request came from elsewhere or through a proxy"),
              (status = 404, body = crate::error::ErrorBody, description = "`not_found`: `metrics = \"off\"`")))]
pub async fn metrics(State(state): State<SharedState>, req: Request) -> Result<Response, ApiError> {
    let settings = &state.settings;
    match settings.metrics_access() {
        MetricsAccess::Off => return Err(ApiError::new(Code::NotFound)),
        MetricsAccess::Token => {
            let expected = settings.metrics_token.as_ref().map_or("", |t| t.expose());
            let given = req
                .headers()
                .get(header::AUTHORIZATION)
                .and_then(|v| v.to_str().ok())
                .and_then(|v| v.strip_prefix("Bearer "));
            let Some(given) = given else {
                return Err(ApiError::new(Code::TokenMissing).with_message(
                    "请提供监控令牌（Authorization: Bearer …）。",
                    "Send the metrics token (Authorization: Bearer …).",
                ));
            };
            // Equal digests compared in constant time: the time taken tells nothing of the token.
            let same: bool = Sha256::digest(given.as_bytes())
                .ct_eq(&Sha256::digest(expected.as_bytes()))
                .into();
            if expected.is_empty() || !same {
                return Err(ApiError::new(Code::TokenInvalid).with_message(
                    "监控令牌不正确。",
                    "The metrics token is not the one configured.",
                ));
            }
        }
        MetricsAccess::Loopback => {
            let peer = req
                .extensions()
                .get::<ConnectInfo<SocketAddr>>()
                .map(|ci| ci.0.ip());
            // A reverse proxy on this machine connects from loopback for any client: a request
            // it forwarded is not this machine's.
            let proxied = ["x-forwarded-for", "forwarded", "x-real-ip"]
                .iter()
                .any(|h| req.headers().contains_key(*h));
            if proxied || !peer.is_some_and(|ip| ip.is_loopback()) {
                return Err(ApiError::new(Code::Denied).with_message(
                    "监控数据仅供本机读取。",
                    "Metrics are served to this machine only.",
                ));
            }
        }
    }
    let text = state.metrics.render(state.commits.queued(), &state.db);
    Ok(([(header::CONTENT_TYPE, crate::metrics::CONTENT_TYPE)], text).into_response())
}

/// Counts every sync request: in flight while it runs, then by the status it was answered
/// with, and its time.
pub async fn count_sync(State(state): State<SharedState>, req: Request, next: Next) -> Response {
    let counted = state.metrics.sync_started();
    let resp = next.run(req).await;
    counted.answered(resp.status().as_u16());
    resp
}
