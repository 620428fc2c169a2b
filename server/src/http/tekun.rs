//! `GET /api/v1/tekun/care-gaps`: 特困 分散供养 people with missing 五有 items
//! ([`crate::review::care`]).

use axum::Json;
use axum::extract::State;

use super::{AuthContext, SharedState};
use crate::error::ApiResult;
use crate::review::care::{self, CareGapsPage};

/// The 分散供养 people in the caller's regions whose 五有 checklist (care agreement, service
/// standard, visit plan, emergency contact, review date) lacks items, with the items missing.
#[utoipa::path(get, path = "/api/v1/tekun/care-gaps", tag = "review", security(("bearer" = [])),
    responses((status = 200, body = CareGapsPage),
              (status = 403, body = crate::error::ErrorBody, description = "`policy.denied`: may not read cases")))]
pub async fn care_gaps(
    State(state): State<SharedState>,
    ctx: AuthContext,
) -> ApiResult<Json<CareGapsPage>> {
    Ok(Json(care::care_gaps(&state.db, &ctx.actor).await?))
}
