//! The published schema of the document kinds (docs/SCHEMA.md), as JSON.

use axum::Json;
use axum::http::header;
use axum::response::IntoResponse;
use doudi_protocol::doc::schema::{SCHEMA, Schema};

/// The schema of the three document kinds, as docs/SCHEMA.md describes it: every key with its
/// automerge type (`formats`), whether it is required or needed from a status on, its codes with
/// their Chinese labels, ranges, who writes it, and the rules of each kind. It describes the
/// format only and holds no data, so it needs no token: a client may read it before logging in.
#[utoipa::path(get, path = "/api/v1/schema", tag = "documents",
    responses((status = 200, description = "`{schema, formats, root, root_rules, kinds, structure_codes}` (docs/SCHEMA.md)", body = Object, content_type = "application/json")))]
pub async fn get_schema() -> impl IntoResponse {
    let schema: &'static Schema = &SCHEMA;
    (
        [(header::CACHE_CONTROL, "public, max-age=3600")],
        Json(schema),
    )
}
