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

/// The server's public key for 身份证号.
#[derive(Debug, serde::Serialize, utoipa::ToSchema)]
pub struct IdentityKey {
    /// X25519, 64 hexadecimal characters.
    pub key: String,
    /// `crypto_box_seal`: libsodium's anonymous sealed box (X25519, XSalsa20-Poly1305).
    pub algorithm: &'static str,
}

/// The key a phone seals each 身份证号 to before it goes into a document (docs/SCHEMA.md,
/// format `id_sealed`); the login answer's `identity_key` is the same. A public key: no token.
#[utoipa::path(get, path = "/api/v1/identity-key", tag = "documents",
    responses((status = 200, body = IdentityKey)))]
pub async fn get_identity_key(
    axum::extract::State(state): axum::extract::State<super::SharedState>,
) -> impl IntoResponse {
    (
        [(header::CACHE_CONTROL, "public, max-age=3600")],
        Json(IdentityKey {
            key: state.identity.seal_key().to_hex(),
            algorithm: "crypto_box_seal",
        }),
    )
}
