//! `GET /api/v1/households`: the household search ([`crate::search`]).

use axum::Json;
use axum::extract::State;

use super::{ApiQuery, AuthContext, SharedState};
use crate::error::ApiResult;
use crate::search::{SearchPage, SearchParams, search};

/// Search households in the caller's regions.
#[utoipa::path(get, path = "/api/v1/households", tag = "review", security(("bearer" = [])),
    params(SearchParams),
    responses((status = 200, body = SearchPage), (status = 400, body = crate::error::ErrorBody),
              (status = 403, body = crate::error::ErrorBody)))]
pub async fn search_households(
    State(state): State<SharedState>,
    ctx: AuthContext,
    ApiQuery(params): ApiQuery<SearchParams>,
) -> ApiResult<Json<SearchPage>> {
    let reviewer = &ctx.actor;
    Ok(Json(
        search(&state.db, &state.identity, reviewer, &params).await?,
    ))
}
