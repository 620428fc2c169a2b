//! The ledgers of cases: 临时救助台账 (the cases as `temporary_aid::read` lists them, with their
//! approval routes) and 申请台账 (applications: 入户调查 visits, with the township's and the
//! county's decisions and the due dates the review queue counts).

use std::collections::HashMap;

use sea_orm::{ColumnTrait, DatabaseConnection, EntityTrait, QueryFilter, QueryOrder};

use doudi_protocol::doc::household::Programme;
use doudi_protocol::doc::visit::{Purpose, ReviewDecision, VisitStatus};
use doudi_protocol::rules::Money;

use super::{Export, label, time, yes_no};
use crate::entity::{review_decision, temp_aid_approval, temp_aid_case, visit};
use crate::error::ApiResult;
use crate::review::deadlines::{self, DueDate};
use crate::review::queue::{self, Limits};
use crate::temporary_aid::{self, Route};

fn amount(fen: i64) -> String {
    Money::fen(fen).to_string()
}

/// A due date as the ledger shows it: the day, 日历未知 when its year is not covered, blank
/// when there is none.
fn due_text(due: Option<DueDate>) -> String {
    match due {
        Some(DueDate::On(d)) => d.to_string(),
        Some(DueDate::CalendarUnknown { .. }) => "日历未知".into(),
        None => String::new(),
    }
}

/// The last decision of each level (`town`, `county`) on each visit: decision and time.
type LastDecisions = HashMap<(String, String), (String, i64)>;

impl Export {
    pub(super) async fn temporary_aid(
        &mut self,
        db: &DatabaseConnection,
    ) -> ApiResult<Vec<Vec<String>>> {
        let page = self
            .next_by_key(
                db,
                temp_aid_case::Entity::find(),
                temp_aid_case::Column::Id,
                |r| &r.id,
            )
            .await?;
        let ids: Vec<String> = page.iter().map(|c| c.id.clone()).collect();
        let mut routes: HashMap<String, Vec<Route>> = HashMap::new();
        for a in temp_aid_approval::Entity::find()
            .filter(temp_aid_approval::Column::CaseId.is_in(ids))
            .order_by_asc(temp_aid_approval::Column::Round)
            .all(db)
            .await?
        {
            if let Some(r) = Route::parse(&a.route) {
                routes.entry(a.case_id).or_default().push(r);
            }
        }
        let cases = temporary_aid::read::views(db, page).await?;
        Ok(cases
            .into_iter()
            .map(|c| {
                let routes = routes.remove(&c.case_id).unwrap_or_default();
                let mut route_names: Vec<&str> = routes.iter().map(|r| r.label_zh()).collect();
                route_names.dedup();
                vec![
                    c.case_id,
                    c.kind_label,
                    c.household_id,
                    c.person_name,
                    c.id_masked.unwrap_or_default(),
                    c.region_code,
                    c.region_name,
                    c.place,
                    c.reason,
                    c.report_id.unwrap_or_default(),
                    time(Some(c.reported_at_ms)),
                    time(c.aid_due_at_ms),
                    time(c.aid_given_at_ms),
                    time(c.paperwork_due_at_ms),
                    time(c.paperwork_done_at_ms),
                    yes_no(c.overdue),
                    route_names.join("、"),
                    yes_no(routes.contains(&Route::Meeting)),
                    amount(c.approved_fen),
                    amount(c.paid_fen),
                    c.status_label,
                    c.created_by,
                ]
            })
            .collect())
    }

    pub(super) async fn applications(
        &mut self,
        db: &DatabaseConnection,
    ) -> ApiResult<Vec<Vec<String>>> {
        let investigations = visit::Entity::find()
            .filter(visit::Column::Purpose.eq(Purpose::Investigation.as_str()));
        let (page, households) = self.visit_page(db, investigations).await?;
        // The last decision of each level, and the township's (last) approval the county's
        // time limit counts from, as the review queue takes it.
        let mut last: LastDecisions = HashMap::new();
        let mut approved: HashMap<String, i64> = HashMap::new();
        for d in review_decision::Entity::find()
            .filter(review_decision::Column::VisitId.is_in(page.iter().map(|v| v.doc_id.clone())))
            .order_by_asc(review_decision::Column::AtMs)
            .order_by_asc(review_decision::Column::Id)
            .all(db)
            .await?
        {
            if d.decision == ReviewDecision::Approve.as_str() {
                approved.insert(d.visit_id.clone(), d.at_ms);
            }
            last.insert((d.visit_id, d.level), (d.decision, d.at_ms));
        }
        if self.limits.is_none() {
            let cal = crate::review::calendar::load(db).await?;
            self.limits = Some((cal, Limits::load(db).await?));
        }
        let Some((cal, limits)) = &self.limits else {
            return Ok(Vec::new());
        };
        let today = deadlines::today();
        Ok(page
            .iter()
            .map(|v| {
                let h = households.get(&v.household_id);
                let programmes = h.map_or("", |h| h.programmes.as_str());
                let tekun = queue::tekun_case(v.applied_for.as_deref(), programmes);
                let approved_at = approved.get(&v.doc_id).copied();
                let dues = queue::application_dues(cal, limits, v, tekun, approved_at);
                let (town_due, county_due) = (dues.town, dues.county);
                let current = match v.status.as_str() {
                    "submitted" => town_due,
                    "approved" => county_due,
                    _ => None,
                };
                let case_due = dues.case.filter(|_| queue::case_open(&v.status));
                let overdue = queue::past(current, today) || queue::past(case_due, today);
                let decided = |level: &str| {
                    last.get(&(v.doc_id.clone(), level.to_string()))
                        .map(|(d, at)| {
                            (
                                label(d, ReviewDecision::parse, ReviewDecision::label_zh),
                                time(Some(*at)),
                            )
                        })
                        .unwrap_or_default()
                };
                let (town, town_at) = decided("town");
                let (county, county_at) = decided("county");
                let applied_for = v.applied_for.as_deref().unwrap_or(programmes);
                vec![
                    v.doc_id.clone(),
                    v.household_id.clone(),
                    h.and_then(|h| h.head_name.clone()).unwrap_or_default(),
                    h.map(|h| h.address.clone()).unwrap_or_default(),
                    v.scope.clone(),
                    self.grid_name(&v.scope),
                    applied_for
                        .split(',')
                        .filter(|p| !p.is_empty())
                        .map(|p| label(p, Programme::parse, Programme::label_zh))
                        .collect::<Vec<_>>()
                        .join("、"),
                    v.accepted_on.clone().unwrap_or_default(),
                    yes_no(v.kin_filing),
                    time(v.submitted_at_ms),
                    label(&v.status, VisitStatus::parse, VisitStatus::label_zh),
                    town,
                    town_at,
                    due_text(town_due),
                    county,
                    county_at,
                    due_text(county_due),
                    due_text(dues.case),
                    yes_no(v.case_extended),
                    yes_no(overdue),
                ]
            })
            .collect())
    }
}
