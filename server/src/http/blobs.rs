//! `/api/v1/blobs`: which blobs to upload, resumable upload, ranged download.

use std::sync::Arc;

use axum::extract::{DefaultBodyLimit, Path};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Extension, Json, Router};
use sea_orm::{ColumnTrait, EntityTrait, QueryFilter};
use serde::{Deserialize, Serialize};

use crate::access::Actor;
use crate::access::{Action, Decision, Target};
use crate::auth::now_ms;
use crate::blobs::{BlobService, MAX_MISSING_BATCH, Sha256Hex};
use crate::config::Settings;
use crate::entity::blob;
use crate::error::{ApiError, ApiResult, Code};
use crate::http::{ApiBody, ApiJson, ApiQuery, AppState, AuthContext, SharedState};

/// The blob service of this process; `None` when the configured store could not be built.
#[derive(Clone)]
pub struct Blobs(Option<Arc<BlobService>>);

impl Blobs {
    /// The service, or `unavailable` when there is no store.
    pub fn get(&self) -> ApiResult<&BlobService> {
        self.0
            .as_deref()
            .ok_or_else(|| ApiError::new(Code::Unavailable))
    }

    /// The largest blob the store takes, for the body limit of a form that uploads one.
    pub fn max_blob_bytes(&self) -> usize {
        self.0.as_deref().map_or(0, |s| {
            usize::try_from(s.limits.max_blob_bytes).unwrap_or(usize::MAX)
        })
    }
}

impl Blobs {
    /// Build the configured store; without one, blob calls answer `unavailable`.
    pub fn from_settings(settings: &Settings) -> Blobs {
        match BlobService::from_settings(settings) {
            Ok(s) => {
                tracing::info!(store = s.store.kind(), "blob store ready");
                Blobs(Some(Arc::new(s)))
            }
            Err(e) => {
                tracing::error!(error = %e, "blob store unavailable");
                Blobs(None)
            }
        }
    }
}

/// Routes under `/blobs`, on the process's blob service.
pub fn routes(settings: &Settings, blobs: Blobs) -> Router<SharedState> {
    let chunk_limit = settings.blobs.max_chunk_bytes;
    Router::new()
        .route("/missing", post(missing))
        .route(
            "/{sha256}/upload",
            get(upload_status)
                .put(upload_chunk)
                .layer(DefaultBodyLimit::max(chunk_limit)),
        )
        .route("/{sha256}", get(download))
        .layer(Extension(blobs))
}

/// A blob hash as the API documents it.
#[derive(Deserialize, utoipa::ToSchema)]
#[schema(value_type = String, pattern = "^[0-9a-f]{64}$")]
#[serde(transparent)]
pub struct Sha256Param(pub String);

fn parse_sha(s: &str) -> ApiResult<Sha256Hex> {
    Sha256Hex::parse(s).ok_or_else(|| ApiError::new(Code::BlobHashInvalid))
}

#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct MissingRequest {
    /// SHA-256 of each blob, 64 lowercase hex characters; at most 1,000.
    #[schema(max_items = 1000, inline)]
    pub sha256: Vec<Sha256Param>,
}

#[derive(Serialize, utoipa::ToSchema)]
pub struct MissingResponse {
    /// The hashes the caller must upload, in request order, without duplicates.
    pub missing: Vec<String>,
}

/// Which of these blobs must the caller upload?
///
/// A blob is present only if it is stored and the caller's account uploaded it; every other
/// hash is reported missing, so that knowing a hash reveals nothing.
#[utoipa::path(post, path = "/api/v1/blobs/missing", tag = "blobs",
    request_body = MissingRequest,
    responses((status = 200, body = MissingResponse),
              (status = 400, body = crate::error::ErrorBody, description = "`blob.batch_too_large`, `blob.hash_invalid` (`details.index`), `request.invalid`")),
    security(("bearer" = [])))]
pub async fn missing(
    ctx: AuthContext,
    state: axum::extract::State<SharedState>,
    ApiJson(req): ApiJson<MissingRequest>,
) -> ApiResult<Json<MissingResponse>> {
    if req.sha256.len() > MAX_MISSING_BATCH {
        return Err(ApiError::new(Code::BlobBatchTooLarge)
            .with_details(serde_json::json!({ "max": MAX_MISSING_BATCH })));
    }
    let mut seen = std::collections::HashSet::new();
    let mut hashes = Vec::with_capacity(req.sha256.len());
    for (i, Sha256Param(s)) in req.sha256.iter().enumerate() {
        let sha = Sha256Hex::parse(s).ok_or_else(|| {
            ApiError::new(Code::BlobHashInvalid).with_details(serde_json::json!({ "index": i }))
        })?;
        if seen.insert(sha.clone()) {
            hashes.push(sha);
        }
    }
    let missing = crate::blobs::missing_for(&state.db, &ctx.account.id, &hashes).await?;
    Ok(Json(MissingResponse {
        missing: missing.into_iter().map(|s| s.to_string()).collect(),
    }))
}

#[derive(Serialize, utoipa::ToSchema)]
pub struct UploadStatus {
    /// Bytes of the caller's partial upload: resume the upload here. The blob's size once
    /// complete.
    pub offset: u64,
    /// The blob is stored and the caller's account uploaded it; nothing more to send. A blob
    /// only other accounts uploaded is answered as one the server does not have.
    pub complete: bool,
    /// Body bytes this request appended (0 for the status query).
    pub received: u64,
}

#[derive(Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
pub struct ChunkQuery {
    /// Where this chunk starts: the `offset` the server last acknowledged.
    #[param(required = true, minimum = 0)]
    pub offset: u64,
    /// This chunk is the last one: verify and store the blob.
    #[serde(default, rename = "final")]
    pub last: bool,
}

/// Field roles upload the photos and signatures of what they write.
async fn require_uploader(
    ctx: &AuthContext,
    state: &SharedState,
    sha: &Sha256Hex,
) -> ApiResult<()> {
    ctx.require(&state.db, Action::UploadBlob, Target::Scope, sha.as_str())
        .await
}

/// When the caller's account uploaded this blob and it is stored, renew its claim (it has the
/// gc grace period again for the document that will point at it) and return its size. Of a
/// blob others uploaded nothing is said: the caller uploads it like any other.
async fn claim_held(
    state: &SharedState,
    ctx: &AuthContext,
    sha: &Sha256Hex,
) -> ApiResult<Option<u64>> {
    let held = crate::blobs::held_by(&state.db, &ctx.account.id, std::slice::from_ref(sha)).await?;
    if held.is_empty() {
        return Ok(None);
    }
    let Some(row) = blob::Entity::find_by_id(sha.as_str().to_string())
        .one(&state.db)
        .await?
    else {
        return Ok(None);
    };
    blob::Entity::update_many()
        .col_expr(
            blob::Column::ClaimedAtMs,
            sea_orm::sea_query::Expr::value(now_ms()),
        )
        .filter(blob::Column::Sha256.eq(sha.as_str()))
        .exec(&state.db)
        .await?;
    Ok(Some(u64::try_from(row.size).unwrap_or(0)))
}

/// Where to resume an upload. Says nothing of blobs other accounts uploaded.
#[utoipa::path(get, path = "/api/v1/blobs/{sha256}/upload", tag = "blobs",
    params(("sha256" = String, Path, description = "SHA-256, 64 lowercase hex", pattern = "^[0-9a-f]{64}$")),
    responses((status = 200, body = UploadStatus),
              (status = 400, body = crate::error::ErrorBody, description = "`blob.hash_invalid`"),
              (status = 503, body = crate::error::ErrorBody, description = "`server.unavailable`: no blob store")),
    security(("bearer" = [])))]
pub async fn upload_status(
    ctx: AuthContext,
    state: axum::extract::State<SharedState>,
    Extension(blobs): Extension<Blobs>,
    Path(sha): Path<String>,
) -> ApiResult<Json<UploadStatus>> {
    let sha = parse_sha(&sha)?;
    require_uploader(&ctx, &state, &sha).await?;
    let svc = blobs.get()?;
    if let Some(size) = claim_held(&state, &ctx, &sha).await? {
        return Ok(Json(UploadStatus {
            offset: size,
            complete: true,
            received: 0,
        }));
    }
    let path = svc.staging.partial_path(&ctx.account.id, &sha);
    let offset = svc
        .staging
        .offset(&path)
        .await
        .map_err(ApiError::internal)?;
    Ok(Json(UploadStatus {
        offset,
        complete: false,
        received: 0,
    }))
}

/// Append a chunk at `offset`; with `final=true`, verify and store the blob.
#[utoipa::path(put, path = "/api/v1/blobs/{sha256}/upload", tag = "blobs",
    params(("sha256" = String, Path, description = "SHA-256, 64 lowercase hex", pattern = "^[0-9a-f]{64}$"), ChunkQuery),
    request_body(content = Vec<u8>, content_type = "application/octet-stream", description = "The chunk's bytes (any content type is taken as bytes); may be empty"),
    responses((status = 200, body = UploadStatus),
        (status = 400, body = crate::error::ErrorBody, description = "`blob.hash_invalid`, `request.invalid`"),
        (status = 409, body = crate::error::ErrorBody, description = "`blob.offset_mismatch` (`details.offset`)"),
        (status = 413, body = crate::error::ErrorBody, description = "`request.body_too_large`, `blob.too_large`"),
        (status = 422, body = crate::error::ErrorBody, description = "`blob.hash_mismatch`, `blob.not_image`, `blob.image_too_large`"),
        (status = 503, body = crate::error::ErrorBody, description = "`server.unavailable`: no blob store")),
    security(("bearer" = [])))]
pub async fn upload_chunk(
    ctx: AuthContext,
    state: axum::extract::State<SharedState>,
    Extension(blobs): Extension<Blobs>,
    Path(sha): Path<String>,
    ApiQuery(q): ApiQuery<ChunkQuery>,
    ApiBody(chunk): ApiBody,
) -> ApiResult<Json<UploadStatus>> {
    let sha = parse_sha(&sha)?;
    require_uploader(&ctx, &state, &sha).await?;
    let svc = blobs.get()?;
    if chunk.len() > svc.limits.max_chunk_bytes {
        return Err(ApiError::new(Code::BodyTooLarge));
    }
    let path = svc.staging.partial_path(&ctx.account.id, &sha);
    let lock = svc.staging.lock(&path);
    let _guard = lock.lock().await;
    if let Some(size) = claim_held(&state, &ctx, &sha).await? {
        svc.staging
            .discard(&path)
            .await
            .map_err(ApiError::internal)?;
        return Ok(Json(UploadStatus {
            offset: size,
            complete: true,
            received: 0,
        }));
    }
    let received = chunk.len() as u64;
    state.metrics.blob_chunk(received);
    let offset = svc
        .staging
        .append(path.clone(), q.offset, chunk, svc.limits.max_blob_bytes)
        .await
        .map_err(ApiError::from)?;
    if !q.last {
        return Ok(Json(UploadStatus {
            offset,
            complete: false,
            received,
        }));
    }
    let verified = svc
        .staging
        .verify(path.clone(), &sha, svc.limits.image)
        .await
        .map_err(ApiError::from)?;
    let size = svc.keep(&state.db, &sha, verified, &ctx.account.id).await?;
    svc.staging
        .discard(&path)
        .await
        .map_err(ApiError::internal)?;
    state.metrics.blob_stored(size);
    Ok(Json(UploadStatus {
        offset: size,
        complete: true,
        received,
    }))
}

/// The part of a blob a `Range` header asks for.
#[derive(Debug, PartialEq, Eq)]
enum RangeAsk {
    /// No usable range: the whole blob (also for multi-range and malformed headers).
    Full,
    Part(std::ops::Range<u64>),
    Unsatisfiable,
}

fn parse_range(value: Option<&str>, size: u64) -> RangeAsk {
    let Some(spec) = value.and_then(|v| v.trim().strip_prefix("bytes=")) else {
        return RangeAsk::Full;
    };
    let spec = spec.trim();
    if spec.contains(',') {
        return RangeAsk::Full;
    }
    let Some((a, b)) = spec.split_once('-') else {
        return RangeAsk::Full;
    };
    let (a, b) = (a.trim(), b.trim());
    let num = |s: &str| -> Option<u64> {
        (!s.is_empty() && s.bytes().all(|c| c.is_ascii_digit()))
            .then(|| s.parse().ok())
            .flatten()
    };
    match (a.is_empty(), num(a), num(b)) {
        // `-n`: the last n bytes.
        (true, _, Some(n)) => {
            if n == 0 || size == 0 {
                RangeAsk::Unsatisfiable
            } else {
                RangeAsk::Part(size.saturating_sub(n)..size)
            }
        }
        // `a-`
        (false, Some(start), None) if b.is_empty() => {
            if start >= size {
                RangeAsk::Unsatisfiable
            } else {
                RangeAsk::Part(start..size)
            }
        }
        // `a-b`
        (false, Some(start), Some(end)) if start <= end => {
            if start >= size {
                RangeAsk::Unsatisfiable
            } else {
                RangeAsk::Part(start..end.min(size - 1) + 1)
            }
        }
        _ => RangeAsk::Full,
    }
}

/// `variant` of a download.
#[derive(Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
pub struct DownloadQuery {
    /// `thumb`: a copy at most 320 px on its longest edge, for lists (JPEG, or PNG for a PNG).
    #[param(pattern = "^thumb$")]
    pub variant: Option<String>,
}

impl DownloadQuery {
    /// Is the thumbnail asked for? Any other variant is refused.
    pub fn thumb(&self) -> ApiResult<bool> {
        match self.variant.as_deref() {
            None => Ok(false),
            Some("thumb") => Ok(true),
            Some(_) => Err(ApiError::new(Code::InvalidRequest)
                .with_message("只支持 variant=thumb。", "The only variant is `thumb`.")),
        }
    }
}

/// The bytes of a blob that a document the caller may read points at.
#[utoipa::path(get, path = "/api/v1/blobs/{sha256}", tag = "blobs",
    params(("sha256" = String, Path, description = "SHA-256, 64 lowercase hex", pattern = "^[0-9a-f]{64}$"), DownloadQuery,
        ("Range" = Option<String>, Header, description = "One range: `bytes=a-b`, `bytes=a-` or `bytes=-n`"),
        ("If-None-Match" = Option<String>, Header, description = "The blob's ETag")),
    responses((status = 200, description = "the blob", content((Vec<u8> = "image/jpeg"), (Vec<u8> = "image/png"))),
        (status = 206, description = "the requested range", content((Vec<u8> = "image/jpeg"), (Vec<u8> = "image/png"))),
        (status = 304, description = "not modified (`If-None-Match`)"),
        (status = 400, body = crate::error::ErrorBody, description = "`blob.hash_invalid`, `request.invalid`"),
        (status = 403, body = crate::error::ErrorBody, description = "`policy.denied`: no readable document points at the blob"),
        (status = 404, body = crate::error::ErrorBody, description = "`not_found`: not uploaded yet"),
        (status = 416, body = crate::error::ErrorBody, description = "`blob.range_not_satisfiable`"),
        (status = 503, body = crate::error::ErrorBody, description = "`server.unavailable`: no blob store")),
    security(("bearer" = [])))]
pub async fn download(
    ctx: AuthContext,
    state: axum::extract::State<SharedState>,
    Extension(blobs): Extension<Blobs>,
    Path(sha): Path<String>,
    ApiQuery(q): ApiQuery<DownloadQuery>,
    headers: HeaderMap,
) -> ApiResult<Response> {
    let thumb = q.thumb()?;
    serve(&state, &blobs, &ctx.actor, &sha, thumb, &headers).await
}

/// Answer a read of blob `sha` by `reader` (an API token or a console session): the policy
/// module decides through the documents that point at the blob ([`crate::blobs::read_decision`]);
/// then the whole blob, a range, or (`thumb`) a thumbnail.
pub async fn serve(
    state: &AppState,
    blobs: &Blobs,
    reader: &Actor,
    sha: &str,
    thumb: bool,
    headers: &HeaderMap,
) -> ApiResult<Response> {
    let sha = parse_sha(sha)?;
    let db = &state.db;
    let not_uploaded = || {
        ApiError::new(Code::NotFound)
            .with_message("该文件尚未上传。", "This file has not been uploaded yet.")
    };
    match crate::blobs::read_decision(db, &reader.subject, &sha).await? {
        Decision::Allow => {}
        // Readable documents point at it, but none through a reference by one who uploaded
        // it: to the reader it has not been uploaded. A refusal (audited) when it is stored.
        Decision::DenyReference => {
            if crate::blobs::stored(db, std::slice::from_ref(&sha))
                .await?
                .is_empty()
            {
                return Err(not_uploaded());
            }
            let d = Decision::DenyReference;
            let caller = reader.caller();
            return Err(caller
                .deny(db, Action::ReadCase, d, sha.as_str(), not_uploaded())
                .await);
        }
        // Refused (and audited) alike whether or not the blob exists or is pointed at.
        d => {
            let caller = reader.caller();
            return Err(caller
                .deny(db, Action::ReadCase, d, sha.as_str(), Code::Denied.into())
                .await);
        }
    }
    let svc = blobs.get()?;
    let Some(row) = blob::Entity::find_by_id(sha.as_str().to_string())
        .one(db)
        .await?
    else {
        return Err(not_uploaded());
    };
    let size = u64::try_from(row.size).unwrap_or(0);
    let etag = if thumb {
        format!("\"{sha}-thumb\"")
    } else {
        format!("\"{sha}\"")
    };
    if headers
        .get(header::IF_NONE_MATCH)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.split(',').any(|t| t.trim() == etag || t.trim() == "*"))
    {
        return Ok((StatusCode::NOT_MODIFIED, [(header::ETAG, etag)]).into_response());
    }
    if thumb {
        return thumbnail(svc, &sha, size, etag).await;
    }
    let ask = parse_range(
        headers.get(header::RANGE).and_then(|v| v.to_str().ok()),
        size,
    );
    let (status, range) = match ask {
        RangeAsk::Full => (StatusCode::OK, 0..size),
        RangeAsk::Part(r) => (StatusCode::PARTIAL_CONTENT, r),
        RangeAsk::Unsatisfiable => {
            let mut resp = ApiError::new(Code::BlobRangeNotSatisfiable).into_response();
            if let Ok(v) = HeaderValue::from_str(&format!("bytes */{size}")) {
                resp.headers_mut().insert(header::CONTENT_RANGE, v);
            }
            return Ok(resp);
        }
    };
    let body = match svc.store.get_range(&sha, range.clone()).await {
        Ok(b) => b,
        Err(crate::blobs::StoreError::NotFound) => {
            tracing::error!(sha256 = %sha, "blob row without object");
            return Err(ApiError::new(Code::NotFound));
        }
        Err(e) => return Err(ApiError::internal(e)),
    };
    let mut resp = (status, body).into_response();
    let h = resp.headers_mut();
    let mut set = |name: header::HeaderName, value: String| {
        if let Ok(v) = HeaderValue::from_str(&value) {
            h.insert(name, v);
        }
    };
    set(header::CONTENT_TYPE, row.mime);
    set(header::ETAG, etag);
    set(header::ACCEPT_RANGES, "bytes".into());
    set(
        header::CACHE_CONTROL,
        "private, max-age=31536000, immutable".into(),
    );
    if status == StatusCode::PARTIAL_CONTENT {
        set(
            header::CONTENT_RANGE,
            format!("bytes {}-{}/{size}", range.start, range.end - 1),
        );
    }
    Ok(resp)
}

/// The thumbnail of a stored image, made on request (the browser keeps it: it never changes).
async fn thumbnail(
    svc: &BlobService,
    sha: &Sha256Hex,
    size: u64,
    etag: String,
) -> ApiResult<Response> {
    let bytes = match svc.store.get_range(sha, 0..size).await {
        Ok(b) => b,
        Err(crate::blobs::StoreError::NotFound) => return Err(ApiError::new(Code::NotFound)),
        Err(e) => return Err(ApiError::internal(e)),
    };
    let limits = svc.limits.image;
    let made = tokio::task::spawn_blocking(move || {
        crate::blobs::image_check::thumbnail(&bytes, limits, crate::blobs::image_check::THUMB_EDGE)
    })
    .await
    .map_err(ApiError::internal)?;
    let (small, mime) = made.map_err(|e| {
        tracing::error!(sha256 = %sha, error = %e, "stored blob has no thumbnail");
        ApiError::internal(e)
    })?;
    let mut resp = (StatusCode::OK, small).into_response();
    let h = resp.headers_mut();
    h.insert(header::CONTENT_TYPE, HeaderValue::from_static(mime));
    if let Ok(v) = HeaderValue::from_str(&etag) {
        h.insert(header::ETAG, v);
    }
    h.insert(
        header::CACHE_CONTROL,
        HeaderValue::from_static("private, max-age=31536000, immutable"),
    );
    Ok(resp)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ranges() {
        assert_eq!(parse_range(None, 10), RangeAsk::Full);
        assert_eq!(parse_range(Some("bytes=0-3"), 10), RangeAsk::Part(0..4));
        assert_eq!(parse_range(Some("bytes=5-"), 10), RangeAsk::Part(5..10));
        assert_eq!(parse_range(Some("bytes=-3"), 10), RangeAsk::Part(7..10));
        assert_eq!(parse_range(Some("bytes=-30"), 10), RangeAsk::Part(0..10));
        assert_eq!(parse_range(Some("bytes=8-100"), 10), RangeAsk::Part(8..10));
        assert_eq!(parse_range(Some("bytes=10-"), 10), RangeAsk::Unsatisfiable);
        assert_eq!(parse_range(Some("bytes=-0"), 10), RangeAsk::Unsatisfiable);
        assert_eq!(parse_range(Some("bytes=4-2"), 10), RangeAsk::Full);
        assert_eq!(parse_range(Some("bytes=0-1,4-5"), 10), RangeAsk::Full);
        assert_eq!(parse_range(Some("items=0-1"), 10), RangeAsk::Full);
        assert_eq!(parse_range(Some("bytes=x-1"), 10), RangeAsk::Full);
    }
}
