//! The county's spot check of 特困 applications (抽查, TK2021: "不低于 30 %"): when a township
//! approves the investigation of an application (入户调查) of a 特困 household, the approval gets
//! the next number of its county and month (table `spot_checks`, numbered inside the decision's
//! transaction) and the share in force; the `k`-th approval is in the sample when
//! ⌈share × k⌉ > ⌈share × (k − 1)⌉. Every month's batch, and every first part of it, then holds
//! exactly ⌈share × n⌉ of its `n` applications, never fewer than the share, and a number once
//! given never changes, so every server and page agrees on the sample.

use std::collections::HashSet;

use sea_orm::sea_query::{Expr, ExprTrait, OnConflict, Query};
use sea_orm::{ColumnTrait, DatabaseConnection, DbErr, EntityTrait, QueryFilter};

use crate::documents::ExtraRows;
use crate::entity::spot_check;
use crate::error::ApiError;
use crate::review::deadlines;

/// The lowest share TK2021 allows (per cent).
pub const MIN_PERCENT: u32 = 30;

/// Whether the `k`-th approval (from 1) of a batch is in the sample at `percent` (raised to
/// [`MIN_PERCENT`]).
pub fn in_sample(k: i64, percent: i32) -> bool {
    let p = i64::from(percent).clamp(i64::from(MIN_PERCENT), 100);
    let ceil = |n: i64| (p * n + 99) / 100;
    k >= 1 && ceil(k) > ceil(k - 1)
}

/// The batch of an approval: the county of the visit's grid `scope` (its first six digits) and
/// the month of `at_ms` (China time).
pub fn batch(scope: &str, at_ms: i64) -> Option<(String, String)> {
    let county = format!("{}000000", scope.get(..6)?);
    let month = deadlines::local_date(at_ms)?.format("%Y-%m").to_string();
    Some((county, month))
}

/// The row that numbers the approval of `visit_id` in its batch: the batch's highest number plus
/// one, read in the decision's transaction. A visit numbered before (approved again after the
/// county sent it back) keeps its number.
pub fn numbering(
    visit_id: &str,
    (county, month): (String, String),
    percent: u32,
    at_ms: i64,
) -> Result<ExtraRows, ApiError> {
    use spot_check::Column as C;
    let next = Query::select()
        .expr(Expr::val(visit_id))
        .expr(Expr::val(county.clone()))
        .expr(Expr::val(month.clone()))
        .expr(Expr::col(C::Seq).max().if_null(0).add(1))
        .expr(Expr::val(percent.clamp(MIN_PERCENT, 100) as i32))
        .expr(Expr::val(at_ms))
        .from(spot_check::Entity)
        .and_where(Expr::col(C::County).eq(county))
        .and_where(Expr::col(C::Month).eq(month))
        .to_owned();
    let mut insert = Query::insert();
    insert
        .into_table(spot_check::Entity)
        .columns([C::VisitId, C::County, C::Month, C::Seq, C::Percent, C::AtMs])
        .select_from(next)
        .map_err(ApiError::internal)?
        .on_conflict(OnConflict::column(C::VisitId).do_nothing().to_owned());
    Ok(vec![insert])
}

/// Which of `visit_ids` are in the sample.
pub async fn sampled(
    db: &DatabaseConnection,
    visit_ids: Vec<String>,
) -> Result<HashSet<String>, DbErr> {
    Ok(spot_check::Entity::find()
        .filter(spot_check::Column::VisitId.is_in(visit_ids))
        .all(db)
        .await?
        .into_iter()
        .filter(|r| in_sample(r.seq, r.percent))
        .map(|r| r.visit_id)
        .collect())
}
