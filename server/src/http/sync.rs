//! `POST /api/v1/sync`: CBOR in, CBOR out (docs/PROTOCOL.md).

use axum::extract::State;
use axum::http::{HeaderMap, header};
use axum::response::{IntoResponse, Response};

use doudi_protocol::sync::{CONTENT_TYPE, SyncRequest, from_cbor, to_cbor};

use super::{ApiBody, AuthContext, SharedState};
use crate::error::{ApiError, Code};

/// One sync round trip: push local changes, pull what is new in scope.
#[utoipa::path(post, path = "/api/v1/sync", tag = "sync", security(("bearer" = [])),
    request_body(content = Vec<u8>, content_type = "application/cbor", description = "SyncRequest as CBOR (docs/PROTOCOL.md); `Content-Type` may be left out"),
    responses((status = 200, body = Vec<u8>, content_type = "application/cbor", description = "SyncResponse as CBOR"),
              (status = 400, body = crate::error::ErrorBody, description = "`sync.malformed_body`"),
              (status = 413, body = crate::error::ErrorBody, description = "`request.body_too_large`, `sync.batch_too_large`"),
              (status = 426, body = crate::error::ErrorBody, description = "`sync.upgrade_required`")))]
pub async fn sync(
    State(state): State<SharedState>,
    ctx: AuthContext,
    headers: HeaderMap,
    ApiBody(body): ApiBody,
) -> Result<Response, ApiError> {
    // The body is always CBOR: a request may leave `Content-Type` out (it saves 32 bytes of an
    // idle sync), but one that names another type is refused.
    if let Some(ct) = headers.get(header::CONTENT_TYPE)
        && !ct.to_str().is_ok_and(|ct| ct.starts_with(CONTENT_TYPE))
    {
        return Err(ApiError::new(Code::UnsupportedMediaType).with_message(
            "请以 application/cbor 提交同步数据。",
            "Send the sync body as application/cbor.",
        ));
    }
    let req: SyncRequest = from_cbor(&body).map_err(|e| {
        ApiError::new(Code::MalformedSyncBody)
            .with_details(serde_json::json!({ "reason": e.to_string() }))
    })?;
    let resp = crate::sync::run(&state.sync_deps(), &ctx.device(), req).await?;
    Ok(([(header::CONTENT_TYPE, CONTENT_TYPE)], to_cbor(&resp)).into_response())
}
