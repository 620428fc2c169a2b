//! 特困 分散供养 people whose 五有 checklist has missing items (docs/REVIEW.md, "特困 self-care
//! and 五有"): read from the member projection (`members.care_gaps`, written where the household
//! is projected), never from the documents, so the list costs the same at county size.

use sea_orm::sea_query::Expr;
use sea_orm::{DatabaseConnection, EntityTrait, QueryFilter, QueryOrder, QuerySelect};
use serde::Serialize;

use doudi_protocol::doc::household::CarePlanItem;

use crate::access::{Action, Actor, Target, scope_condition};
use crate::entity::member;
use crate::error::ApiResult;

/// Most people listed at once; `more` says when there are others.
pub const LIST_LIMIT: u64 = 200;

/// A missing 五有 item.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct CareItem {
    /// `agreement`, `service_standard`, `visit_plan`, `emergency_contact` or `review_on`.
    pub code: String,
    /// 照料服务协议, 照料服务标准, 探访计划, 应急预案/紧急联系人 or 动态管理复核日期.
    pub label_zh: String,
}

/// A 分散供养 person with missing 五有 items.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct CareGap {
    pub household_id: String,
    pub member_id: String,
    pub name: String,
    /// The household's region path (its last part is the grid).
    pub region_path: String,
    /// In checklist order.
    pub missing: Vec<CareItem>,
}

/// `GET /api/v1/tekun/care-gaps`.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct CareGapsPage {
    /// At most 200, by region and household.
    pub people: Vec<CareGap>,
    /// More people have gaps than are listed.
    pub more: bool,
}

/// The 分散供养 people in the reader's regions with missing 五有 items.
pub async fn care_gaps(db: &DatabaseConnection, reader: &Actor) -> ApiResult<CareGapsPage> {
    reader
        .require(db, Action::ReadCase, Target::Scope, "tekun.care_gaps")
        .await?;
    let mut rows = member::Entity::find()
        .filter(scope_condition(&reader.subject, member::Column::RegionPath))
        // Written out, so that the partial index of the people with gaps serves it.
        .filter(Expr::cust("care_gaps <> ''"))
        .order_by_asc(member::Column::RegionPath)
        .order_by_asc(member::Column::DocId)
        .order_by_asc(member::Column::MemberId)
        .limit(LIST_LIMIT + 1)
        .all(db)
        .await?;
    let more = rows.len() as u64 > LIST_LIMIT;
    rows.truncate(LIST_LIMIT as usize);
    let people = rows
        .into_iter()
        .map(|m| CareGap {
            missing: m
                .care_gaps
                .as_deref()
                .unwrap_or("")
                .split(',')
                .filter_map(CarePlanItem::parse)
                .map(|i| CareItem {
                    code: i.as_str().to_owned(),
                    label_zh: i.label_zh().to_owned(),
                })
                .collect(),
            household_id: m.doc_id,
            member_id: m.member_id,
            name: m.name,
            region_path: m.region_path,
        })
        .collect();
    Ok(CareGapsPage { people, more })
}
