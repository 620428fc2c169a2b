//! Liveness and readiness.

use axum::extract::State;
use axum::http::StatusCode;

use super::SharedState;
use crate::error::{ApiError, Code};

/// The process is up.
#[utoipa::path(get, path = "/healthz", tag = "health", responses((status = 200, body = String)))]
pub async fn healthz() -> &'static str {
    "ok"
}

/// The process can reach its database.
#[utoipa::path(get, path = "/readyz", tag = "health",
    responses((status = 200, body = String), (status = 503, body = crate::error::ErrorBody)))]
pub async fn readyz(
    State(state): State<SharedState>,
) -> Result<(StatusCode, &'static str), ApiError> {
    state.db.ping().await.map_err(|e| {
        tracing::warn!(error = %e, "database not reachable");
        ApiError::new(Code::Unavailable)
    })?;
    Ok((StatusCode::OK, "ready"))
}
