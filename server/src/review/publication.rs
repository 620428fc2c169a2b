//! The publication of approvals (公布, DB2021 art. 24): per village (or any region) and month,
//! the households the county approved, with only what may be published — the head's name, the
//! household size and the monthly amount (DOMAIN.md "Privacy and workload"), and the programme and
//! the first month paid. Read from the households' decisions (`Household::decisions`, written by
//! the county's decision, [`super::award`]), never from a second record of them.

use chrono::{Datelike, NaiveDate};
use sea_orm::{ColumnTrait, DatabaseConnection, EntityTrait, PaginatorTrait, QueryFilter};

use doudi_protocol::doc::household::{DecisionOutcome, Programme, Relation};
use doudi_protocol::doc::{self, Household};

use crate::access::{Action, Actor};
use crate::entity::{document, household, region};
use crate::error::{ApiError, ApiResult, Code};
use crate::review::deadlines;

/// Most households in benefit a publication reads (a village has tens; a large township some
/// thousands): past it, choose a smaller region.
pub const MAX_HOUSEHOLDS: u64 = 5_000;

/// One approval as published.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Entry {
    /// The head of the household (户主).
    pub name: String,
    pub household_size: Option<u8>,
    pub programme: Option<Programme>,
    pub amount_fen_per_month: Option<i64>,
    pub effective_from: Option<NaiveDate>,
}

/// The approvals of a region in a month.
#[derive(Debug, Clone)]
pub struct Publication {
    pub region: region::Model,
    pub month: NaiveDate,
    pub entries: Vec<Entry>,
}

/// The first day of month `text` (`YYYY-MM`).
pub fn parse_month(text: &str) -> Option<NaiveDate> {
    NaiveDate::parse_from_str(&format!("{}-01", text.trim()), "%Y-%m-%d").ok()
}

/// The approvals decided in `month` (its first day, China time) for households in region `code`,
/// which the reader must be allowed to read (`not_found` otherwise, audited).
pub async fn list(
    db: &DatabaseConnection,
    reader: &Actor,
    code: &str,
    month: NaiveDate,
) -> ApiResult<Publication> {
    let Some(region) = region::Entity::find_by_id(code.to_string()).one(db).await? else {
        return Err(ApiError::new(Code::NotFound));
    };
    reader
        .require_visible(db, Action::ReadCase, &region.path, code)
        .await?;
    let in_benefit = household::Entity::find()
        .filter(household::Column::RegionPath.starts_with(region.path.as_str()))
        .filter(household::Column::Programmes.ne(""));
    if in_benefit.clone().count(db).await? > MAX_HOUSEHOLDS {
        return Err(ApiError::new(Code::InvalidRequest).with_message(
            format!("该区域在保家庭超过 {MAX_HOUSEHOLDS} 户，请按村（社区）分别公布。"),
            format!(
                "More than {MAX_HOUSEHOLDS} households in benefit: publish village by village."
            ),
        ));
    }
    let ids: Vec<String> = in_benefit
        .all(db)
        .await?
        .into_iter()
        .map(|h| h.doc_id)
        .collect();
    let mut entries = Vec::new();
    for chunk in ids.chunks(200) {
        for row in document::Entity::find()
            .filter(document::Column::Id.is_in(chunk.to_vec()))
            .all(db)
            .await?
        {
            let am = automerge::Automerge::load(&row.snapshot).map_err(ApiError::internal)?;
            let Ok((_, h)) = doc::read::<Household, _>(&am) else {
                continue;
            };
            entries.extend(approvals_in(&h, month));
        }
    }
    entries.sort_by(|a, b| {
        (a.programme.map(|p| p.as_str()), &a.name).cmp(&(b.programme.map(|p| p.as_str()), &b.name))
    });
    Ok(Publication {
        region,
        month,
        entries,
    })
}

/// A household's approvals decided in `month`, as published.
fn approvals_in(h: &Household, month: NaiveDate) -> impl Iterator<Item = Entry> + '_ {
    let name = h
        .members
        .values()
        .find(|m| m.is_current() && m.relation == Relation::Head)
        .map(|m| m.name.clone())
        .unwrap_or_default();
    h.decisions
        .iter()
        .filter(move |d| {
            d.outcome == DecisionOutcome::Approved
                && deadlines::local_date(d.at.0)
                    .is_some_and(|day| (day.year(), day.month()) == (month.year(), month.month()))
        })
        .map(move |d| Entry {
            name: name.clone(),
            household_size: d.household_size,
            programme: d.programme,
            amount_fen_per_month: d.amount_fen_per_month,
            effective_from: d.effective_from,
        })
}
