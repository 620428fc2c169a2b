//! The 公示 list of a region's applications in their public notice (DB2021 art. 20: the name,
//! the household size and the programme applied for), and the publication of approvals (公布,
//! DB2021 art. 24): per village (or any region) and month,
//! the households the county approved, with only what may be published — the head's name, the
//! household size and the monthly amount (DOMAIN.md "Privacy and workload"), and the programme and
//! the first month paid. Read from the households' decisions (`Household::decisions`, written by
//! the county's decision, [`super::award`]), never from a second record of them.

use chrono::{Datelike, NaiveDate};
use sea_orm::{ColumnTrait, DatabaseConnection, EntityTrait, PaginatorTrait, QueryFilter};

use doudi_protocol::doc::household::{DecisionOutcome, Programme, Relation};
use doudi_protocol::doc::visit::{Purpose, VisitStatus};
use doudi_protocol::doc::{self, Household, Visit};

use crate::access::{Action, Actor};
use crate::entity::{document, household, region, visit};
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

/// Most applications a 公示 list reads.
pub const MAX_APPLICATIONS: u64 = 5_000;

/// One application in its 公示, as posted.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NoticeEntry {
    /// The head of the household (户主).
    pub name: String,
    /// The co-resident members (共同生活).
    pub household_size: usize,
    pub programme: Option<Programme>,
    /// The notice's last day.
    pub until: NaiveDate,
}

/// Region `code`, which the reader must be allowed to read (`not_found` otherwise, audited).
async fn readable_region(
    db: &DatabaseConnection,
    reader: &Actor,
    code: &str,
) -> ApiResult<region::Model> {
    let Some(region) = region::Entity::find_by_id(code.to_string()).one(db).await? else {
        return Err(ApiError::new(Code::NotFound));
    };
    reader
        .require_visible(db, Action::ReadCase, &region.path, code)
        .await?;
    Ok(region)
}

/// The documents `ids` that read as `T`, by id.
async fn read_docs<T: doc::DocumentContent>(
    db: &DatabaseConnection,
    ids: Vec<String>,
) -> ApiResult<Vec<(String, T)>> {
    let mut out = Vec::with_capacity(ids.len());
    for chunk in ids.chunks(200) {
        for row in document::Entity::find()
            .filter(document::Column::Id.is_in(chunk.to_vec()))
            .all(db)
            .await?
        {
            let am = automerge::Automerge::load(&row.snapshot).map_err(ApiError::internal)?;
            if let Ok((_, d)) = doc::read::<T, _>(&am) {
                out.push((row.id, d));
            }
        }
    }
    Ok(out)
}

/// The head's name of a household (户主), or "".
fn head_name(h: &Household) -> String {
    h.members
        .values()
        .find(|m| m.is_current() && m.relation == Relation::Head)
        .map(|m| m.name.clone())
        .unwrap_or_default()
}

/// The applications of region `code` whose 公示 runs on `today`, by name.
pub async fn notices(
    db: &DatabaseConnection,
    reader: &Actor,
    code: &str,
    today: NaiveDate,
) -> ApiResult<(region::Model, Vec<NoticeEntry>)> {
    let region = readable_region(db, reader, code).await?;
    let awaiting = visit::Entity::find()
        .filter(visit::Column::RegionPath.starts_with(region.path.as_str()))
        .filter(visit::Column::Status.eq(VisitStatus::Approved.as_str()))
        .filter(visit::Column::Purpose.eq(Purpose::Investigation.as_str()));
    if awaiting.clone().count(db).await? > MAX_APPLICATIONS {
        return Err(too_many(MAX_APPLICATIONS));
    }
    let ids = awaiting
        .all(db)
        .await?
        .into_iter()
        .map(|v| v.doc_id)
        .collect();
    let visits: Vec<(String, Visit)> = read_docs(db, ids).await?;
    let posted: Vec<&Visit> = visits
        .iter()
        .map(|(_, v)| v)
        .filter(|v| v.notice_from.is_some_and(|f| f <= today))
        .filter(|v| v.notice_until.is_some_and(|u| u >= today))
        .collect();
    let households: std::collections::HashMap<String, Household> =
        read_docs(db, posted.iter().map(|v| v.household.to_string()).collect())
            .await?
            .into_iter()
            .collect();
    let mut entries: Vec<NoticeEntry> = posted
        .iter()
        .filter_map(|v| {
            let h = households.get(&v.household.to_string())?;
            Some(NoticeEntry {
                name: head_name(h),
                household_size: h.co_resident_count(),
                programme: v.applied_for,
                until: v.notice_until?,
            })
        })
        .collect();
    entries.sort_by(|a, b| (a.until, &a.name).cmp(&(b.until, &b.name)));
    Ok((region, entries))
}

fn too_many(max: u64) -> ApiError {
    ApiError::new(Code::InvalidRequest).with_message(
        format!("该区域超过 {max} 户，请按村（社区）分别生成名单。"),
        format!("More than {max} households: make the list village by village."),
    )
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
    let region = readable_region(db, reader, code).await?;
    let in_benefit = household::Entity::find()
        .filter(household::Column::RegionPath.starts_with(region.path.as_str()))
        .filter(household::Column::Programmes.ne(""));
    if in_benefit.clone().count(db).await? > MAX_HOUSEHOLDS {
        return Err(too_many(MAX_HOUSEHOLDS));
    }
    let ids: Vec<String> = in_benefit
        .all(db)
        .await?
        .into_iter()
        .map(|h| h.doc_id)
        .collect();
    let mut entries = Vec::new();
    for (_, h) in read_docs::<Household>(db, ids).await? {
        entries.extend(approvals_in(&h, month));
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
    let name = head_name(h);
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
