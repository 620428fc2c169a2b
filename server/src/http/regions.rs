//! Reading the region tree.

use axum::Json;
use axum::extract::{Path, State};
use serde::Serialize;
use utoipa::ToSchema;

use super::{AuthContext, SharedState};
use crate::access::{Action, Target, decide};
use crate::entity::region;
use crate::error::{ApiError, ApiResult, Code};
use crate::regions;

#[derive(Debug, Serialize, ToSchema)]
pub struct RegionView {
    pub code: String,
    pub parent_code: Option<String>,
    /// province, city, county, township, village or grid.
    pub level: String,
    pub name: String,
}

impl From<region::Model> for RegionView {
    fn from(r: region::Model) -> Self {
        RegionView {
            code: r.code,
            parent_code: r.parent_code,
            level: r.level,
            name: r.name,
        }
    }
}

async fn load(state: &SharedState, code: &str) -> ApiResult<region::Model> {
    if code.len() > 32 {
        return Err(ApiError::new(Code::UnknownRegion));
    }
    regions::find(&state.db, code)
        .await?
        .ok_or_else(|| ApiError::new(Code::UnknownRegion))
}

/// One region, if it is inside the caller's regions or above them.
#[utoipa::path(get, path = "/api/v1/regions/{code}", tag = "regions", security(("bearer" = [])),
    params(("code" = String, Path, description = "行政区划代码 or grid code", pattern = "^[0-9A-Za-z_-]{1,32}$")),
    responses((status = 200, body = RegionView),
              (status = 422, body = crate::error::ErrorBody, description = "`region.unknown`")))]
pub async fn get_region(
    State(state): State<SharedState>,
    ctx: AuthContext,
    Path(code): Path<String>,
) -> ApiResult<Json<RegionView>> {
    let r = load(&state, &code).await?;
    ctx.require(
        &state.db,
        Action::ReadRegion,
        Target::Region(&r.path),
        &r.code,
    )
    .await?;
    Ok(Json(r.into()))
}

/// The children of a region that the caller may see.
#[utoipa::path(get, path = "/api/v1/regions/{code}/children", tag = "regions", security(("bearer" = [])),
    params(("code" = String, Path, description = "行政区划代码 or grid code", pattern = "^[0-9A-Za-z_-]{1,32}$")),
    responses((status = 200, body = [RegionView]),
              (status = 422, body = crate::error::ErrorBody, description = "`region.unknown`")))]
pub async fn get_children(
    State(state): State<SharedState>,
    ctx: AuthContext,
    Path(code): Path<String>,
) -> ApiResult<Json<Vec<RegionView>>> {
    let r = load(&state, &code).await?;
    ctx.require(
        &state.db,
        Action::ReadRegion,
        Target::Region(&r.path),
        &r.code,
    )
    .await?;
    let visible = regions::children(&state.db, &r.code)
        .await?
        .into_iter()
        .filter(|c| decide(&ctx.subject, Action::ReadRegion, Target::Region(&c.path)).is_allowed())
        .map(RegionView::from)
        .collect();
    Ok(Json(visible))
}
