//! Region policy: read by everyone signed in (standards are public), changed by administrators
//! for regions inside their own.

use axum::Json;
use axum::extract::State;
use chrono::NaiveDate;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use doudi_protocol::rules::policy::{PolicyBookFile, PolicyLayer};

use super::{ApiJson, ApiQuery, AuthContext, SharedState};
use crate::access::{Action, Target};
use crate::admin::{self, policy_store_error as store_error};
use crate::error::{ApiError, ApiResult, Code};
use crate::policies;

#[derive(Debug, Serialize, ToSchema)]
pub struct PolicyBookView {
    pub version: u64,
    #[schema(value_type = Object)]
    pub book: PolicyBookFile,
}

/// Every policy layer (national and regional, all versions).
#[utoipa::path(get, path = "/api/v1/policies", tag = "policy", security(("bearer" = [])),
    responses((status = 200, body = PolicyBookView)))]
pub async fn get_book(
    State(state): State<SharedState>,
    ctx: AuthContext,
) -> ApiResult<Json<PolicyBookView>> {
    ctx.require(&state.db, Action::ReadRegion, Target::Scope, "policies")
        .await?;
    let (book, version) = policies::load(&state.db).await.map_err(store_error)?;
    Ok(Json(PolicyBookView {
        version,
        book: book.into(),
    }))
}

#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
pub struct ResolveQuery {
    /// 12-digit region code (grids: their village's code).
    #[param(pattern = "^[0-9]{12}$")]
    pub region: String,
    /// `YYYY-MM-DD`; default today.
    #[param(value_type = Option<String>, format = Date)]
    pub date: Option<NaiveDate>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct ResolvedPolicy {
    pub region: String,
    #[schema(value_type = String)]
    pub date: NaiveDate,
    #[schema(value_type = Object)]
    pub policy: doudi_protocol::rules::policy::Policy,
    /// The layer versions applied, national first.
    #[schema(value_type = Vec<Object>)]
    pub layers: Vec<PolicyLayer>,
}

/// A region the policy cannot be resolved for: a bad `region` parameter, nothing being saved.
fn bad_region(e: doudi_protocol::rules::policy::PolicyError) -> ApiError {
    ApiError::new(Code::InvalidRequest)
        .with_message(e.message_zh(), e.message_en())
        .with_details(serde_json::json!({ "field": "region", "policy_code": e.code() }))
}

/// The policy in force for a region on a date, and the layers it comes from.
#[utoipa::path(get, path = "/api/v1/policies/resolve", tag = "policy", security(("bearer" = [])), params(ResolveQuery),
    responses((status = 200, body = ResolvedPolicy)))]
pub async fn resolve(
    State(state): State<SharedState>,
    ctx: AuthContext,
    ApiQuery(q): ApiQuery<ResolveQuery>,
) -> ApiResult<Json<ResolvedPolicy>> {
    ctx.require(&state.db, Action::ReadRegion, Target::Scope, "policies")
        .await?;
    let (book, _) = policies::load(&state.db).await.map_err(store_error)?;
    let date = q.date.unwrap_or_else(|| chrono::Local::now().date_naive());
    let policy = book.resolve(&q.region, date).map_err(bad_region)?;
    let layers = book
        .layers_in_force(&q.region, date)
        .map_err(bad_region)?
        .into_iter()
        .cloned()
        .collect();
    Ok(Json(ResolvedPolicy {
        region: q.region,
        date,
        policy,
        layers,
    }))
}

/// Add or replace one layer version of a region inside the administrator's regions.
#[utoipa::path(put, path = "/api/v1/admin/policies", tag = "policy", security(("bearer" = [])),
    request_body(content = Object, description = "PolicyLayer: {region, effective_from, source?, settings}"),
    responses((status = 200, body = PolicyBookView),
              (status = 422, body = crate::error::ErrorBody, description = "`region.unknown`, `policy.invalid` (nothing saved)")))]
pub async fn put_layer(
    State(state): State<SharedState>,
    ctx: AuthContext,
    ApiJson(layer): ApiJson<PolicyLayer>,
) -> ApiResult<Json<PolicyBookView>> {
    admin::put_policy_layer(&state.db, &ctx, layer).await?;
    let (book, version) = policies::load(&state.db).await.map_err(store_error)?;
    Ok(Json(PolicyBookView {
        version,
        book: book.into(),
    }))
}
