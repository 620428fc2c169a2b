//! `GET /api/v1/documents/{id}/conflicts`: the same-field conflicts of a document
//! (`crate::review::conflicts`).

use axum::Json;
use axum::extract::{Path, State};
use sea_orm::EntityTrait;

use super::{AuthContext, SharedState};
use crate::access::Action;
use crate::entity::document;
use crate::error::{ApiError, ApiResult, Code};
use crate::review::conflicts::{DocumentConflicts, of_document};

/// The same-field conflicts of a document the caller may read (household, visit or discovery
/// report). An id outside the caller's regions answers as one that does not exist (audited).
#[utoipa::path(get, path = "/api/v1/documents/{id}/conflicts", tag = "review", security(("bearer" = [])),
    params(("id" = String, Path, description = "Document id")),
    responses((status = 200, body = DocumentConflicts),
              (status = 403, body = crate::error::ErrorBody, description = "`policy.denied`: the role reads no case data"),
              (status = 404, body = crate::error::ErrorBody, description = "`not_found`: no such document in the caller's regions")))]
pub async fn document_conflicts(
    State(state): State<SharedState>,
    ctx: AuthContext,
    Path(id): Path<String>,
) -> ApiResult<Json<DocumentConflicts>> {
    let Some(doc) = document::Entity::find_by_id(id.clone())
        .one(&state.db)
        .await?
    else {
        return Err(ApiError::new(Code::NotFound));
    };
    ctx.actor
        .clone()
        .require_visible(&state.db, Action::ReadCase, &doc.region_path, &id)
        .await?;
    let conflicts = of_document(&state.db, &doc).await?;
    Ok(Json(DocumentConflicts {
        document_id: doc.id,
        kind: doc.kind,
        conflicts,
    }))
}
