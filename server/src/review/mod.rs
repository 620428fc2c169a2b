//! The review workflow (docs/REVIEW.md): township reviewers (乡镇审核) approve, return or reject
//! submitted visits; county approvers (县级审核确认) confirm or send back what the townships of
//! their county approved, with a spot-check sample of 特困 cases; reviewers triage discovery
//! reports (assign a verification visit, or close with a reason).
//!
//! Every decision is written into the document by the server as an automerge change with
//! [`crate::documents::SERVER_ACTOR`], through the same storage path as sync, so it reaches the phones
//! on their next sync; the same transaction records a `review_decisions` row and an audit entry.
//! Every read and write asks the access module; targets outside the reviewer's regions answer as
//! if they did not exist, and the denial is audited.

pub mod award;
pub mod benefit;
pub mod calendar;
pub mod care;
pub mod conflicts;
pub mod deadlines;
pub mod notice;
pub mod publication;
pub mod queue;
pub mod recheck;
pub mod report_life;
pub mod reports;
pub mod spot_check;
pub mod tasks;

use automerge::AutoCommit;
use sea_orm::sea_query::Query;
use sea_orm::{DatabaseConnection, EntityTrait};
use serde::Serialize;

use doudi_protocol::doc::household::Programme;
use doudi_protocol::doc::visit::{
    ConfirmationHold, Purpose, Review, ReviewDecision, ReviewLevel, VisitStatus,
};
use doudi_protocol::doc::{self, Household, UnixMillis, Visit};
use doudi_protocol::ids::AccountId;

use crate::access::{Action, Actor, Decision, Target, decide};
use crate::auth::now_ms;
use crate::documents::{self, Writer};
use crate::entity::{household, review_decision, visit};
use crate::error::{ApiError, ApiResult, Code};

/// Audit action of a review decision.
pub const AUDIT_DECISION: &str = "review.decision";
/// Audit action of showing a full 身份证号.
pub const AUDIT_UNMASK: &str = "case.unmask";
/// Audit action of settling a same-field conflict.
pub const AUDIT_RESOLVE: &str = "review.resolve_conflict";

/// Longest comment or reason accepted (characters).
pub const MAX_COMMENT_CHARS: usize = 2000;

/// The permission a step of the review needs: the township's 审核 or the county's 确认, which
/// is the township's own where the region delegates confirmation to it (`delegated`:
/// `confirmation_delegated`, 审核确认权限下放).
pub fn level_action(level: ReviewLevel, delegated: bool) -> Action {
    match (level, delegated) {
        (ReviewLevel::Town, _) | (ReviewLevel::County, true) => Action::ReviewVisit,
        (ReviewLevel::County, false) => Action::ConfirmCase,
    }
}

/// The permission every decision needs before anything is looked up (the role check): 审核,
/// which county approvers hold too. A county step is checked again for its own permission once
/// the visit's region, and so whether it delegates confirmation, is known.
pub const BASE_ACTION: Action = Action::ReviewVisit;

/// Whether the region of a visit delegates the confirmation of applications to the township,
/// under its policy in force on the day the visit was submitted (`at_ms` when it has not been).
pub fn delegated(limits: &queue::Limits, row: &visit::Model, at_ms: i64) -> bool {
    limits
        .of(&row.region_path, row.submitted_at_ms.unwrap_or(at_ms))
        .confirmation_delegated
        == Some(true)
}

/// Trimmed comment, required or optional, within the length limit.
pub fn clean_comment(comment: Option<&str>, required: bool) -> ApiResult<Option<String>> {
    let c = comment.map(str::trim).filter(|c| !c.is_empty());
    if let Some(c) = c
        && c.chars().count() > MAX_COMMENT_CHARS
    {
        return Err(ApiError::new(Code::InvalidRequest).with_message(
            format!("意见不能超过 {MAX_COMMENT_CHARS} 字。"),
            format!("A comment may have at most {MAX_COMMENT_CHARS} characters."),
        ));
    }
    if required && c.is_none() {
        return Err(ApiError::new(Code::ReviewCommentRequired));
    }
    Ok(c.map(str::to_string))
}

/// The result of a decision.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct DecisionResult {
    pub visit_id: String,
    /// The visit's new status.
    pub status: String,
    /// `town` or `county`.
    pub level: &'static str,
    #[schema(schema_with = decision_schema)]
    pub decision: ReviewDecision,
    pub at_ms: i64,
}

/// The OpenAPI schema of a [`ReviewDecision`]: one of its codes.
pub fn decision_schema() -> utoipa::openapi::schema::Object {
    use utoipa::openapi::schema::{ObjectBuilder, Type};
    ObjectBuilder::new()
        .schema_type(Type::String)
        .enum_values(Some(ReviewDecision::ALL.iter().map(|d| d.as_str())))
        .description(Some(
            "`approve`, `return`, `reject` (township, on a submitted visit); `confirm`, `send_back`, `reject` (county, on a township-approved visit)",
        ))
        .build()
}

/// Load the projection of a visit the reviewer may read, or `not_found` (audited when it exists
/// outside the reviewer's regions).
pub async fn visible_visit(
    db: &DatabaseConnection,
    reviewer: &Actor,
    visit_id: &str,
) -> ApiResult<visit::Model> {
    let Some(row) = visit::Entity::find_by_id(visit_id.to_string())
        .one(db)
        .await?
    else {
        return Err(ApiError::new(Code::NotFound));
    };
    reviewer
        .require_visible(db, Action::ReadCase, &row.region_path, visit_id)
        .await?;
    Ok(row)
}

/// A reviewer's decision on a visit, as the JSON API and the console take it.
#[derive(Debug, Clone)]
pub struct DecisionRequest<'a> {
    pub kind: ReviewDecision,
    /// Required for `return`, `reject` and `send_back` (and an override, a sampled confirmation).
    pub comment: Option<&'a str>,
    /// Approve or confirm although conflicts are open (with a comment saying why).
    pub override_conflicts: bool,
    /// The county's decision on an application ([`award`]).
    pub award: award::Award,
}

/// Decide on a visit: check role, region and status, write the new status and the review into
/// the document as a server change, and record the decision.
pub async fn decide_visit(
    db: &DatabaseConnection,
    reviewer: &Actor,
    visit_id: &str,
    req: &DecisionRequest<'_>,
    spot_percent: u32,
) -> ApiResult<DecisionResult> {
    let (kind, override_conflicts, award) = (req.kind, req.override_conflicts, &req.award);
    reviewer
        .require(db, BASE_ACTION, Target::Scope, visit_id)
        .await?;
    let comment = clean_comment(req.comment, kind.needs_comment())?;
    let row = visible_visit(db, reviewer, visit_id).await?;
    reviewer
        .require_visible(db, BASE_ACTION, &row.region_path, visit_id)
        .await?;
    // An approval rests on the visit and its household as recorded: a field written differently
    // by two phones is settled first, or the reviewer approves anyway and says why (recorded).
    let gated = matches!(kind, ReviewDecision::Approve | ReviewDecision::Confirm);
    let open = match gated {
        true => conflicts::open_in(db, &[visit_id, row.household_id.as_str()]).await?,
        false => Vec::new(),
    };
    if !open.is_empty() {
        conflicts_allowed(&open, override_conflicts, comment.is_some())?;
    }
    // A case in the county's spot-check sample waits for the county's own visit (checked with
    // the others that hold a confirmation, inside the write).
    let sampled = kind == ReviewDecision::Confirm
        && spot_check::sampled(db, vec![visit_id.to_string()])
            .await?
            .contains(visit_id);
    let reviewer_id = AccountId::parse(&reviewer.account.id).map_err(ApiError::internal)?;
    let at = now_ms();
    let application = Purpose::parse(&row.purpose).is_some_and(Purpose::needs_county_confirmation);
    // The county's confirmation or refusal of an application decides it: the household's
    // decision, checked before anything is written.
    let decides = |status: VisitStatus, purpose: Purpose| {
        status == VisitStatus::Approved
            && purpose.needs_county_confirmation()
            && matches!(kind, ReviewDecision::Confirm | ReviewDecision::Reject)
    };
    let today = deadlines::local_date(at).ok_or_else(|| ApiError::internal("no date"))?;
    let limits = queue::Limits::load(db).await?;
    let delegated = delegated(&limits, &row, at);
    // The step's own permission, as the stored status asks for it (checked again in the write).
    if let (Some(s), Some(p)) = (
        VisitStatus::parse(&row.status),
        Purpose::parse(&row.purpose),
    ) && let Some(t) = kind.step(s, p)
    {
        reviewer
            .require_visible(
                db,
                level_action(t.level, delegated),
                &row.region_path,
                visit_id,
            )
            .await?;
    }
    let checked = match VisitStatus::parse(&row.status) {
        Some(s) if application && decides(s, Purpose::Investigation) => {
            let notice_by = match kind {
                ReviewDecision::Reject => {
                    let cal = calendar::load(db).await?;
                    let policy = limits.of(&row.region_path, at);
                    deadlines::refusal_notice_due(&cal, &policy, at).and_then(|d| d.date())
                }
                _ => None,
            };
            let applied_for = row.applied_for.as_deref().and_then(Programme::parse);
            Some(award::decision(
                award,
                applied_for,
                kind == ReviewDecision::Confirm,
                today,
                notice_by,
            )?)
        }
        _ => None,
    };
    // The township's approval of an application opens its 公示 (public notice), from today for
    // `public_notice_days` calendar days of the region's policy.
    let notice = match kind == ReviewDecision::Approve && application {
        true => {
            let cal = calendar::load(db).await?;
            let policy = limits.of(&row.region_path, at);
            deadlines::notice_until(&cal, &policy, at).map(|until| (today, until))
        }
        false => None,
    };
    // The township's approval of a 特困 application is numbered for the county's spot check.
    let numbering = if kind == ReviewDecision::Approve
        && application
        && household::Entity::find_by_id(row.household_id.clone())
            .one(db)
            .await?
            .is_some_and(|h| queue::tekun_case(row.applied_for.as_deref(), &h.programmes))
    {
        match spot_check::batch(&row.scope, at) {
            Some(b) => spot_check::numbering(visit_id, b, spot_percent, at)?,
            None => Vec::new(),
        }
    } else {
        Vec::new()
    };
    let mut detail = serde_json::json!({ "decision": kind.as_str(), "comment": comment });
    if !open.is_empty() {
        detail["conflicts_overridden"] = serde_json::json!(open);
    }
    let writer = documents::Writer::for_actor(reviewer, AUDIT_DECISION, Some(detail));
    let subject = &reviewer.subject;
    // What the stored status asks for is known only inside the edit, which cannot write the
    // audit entry: a denial there is kept here and audited once the edit has given up.
    let denied: std::sync::Mutex<Option<(Action, Decision)>> = std::sync::Mutex::new(None);
    let household_id = row.household_id.clone();
    let docs: Vec<&str> = match checked {
        Some(_) => vec![visit_id, household_id.as_str()],
        None => vec![visit_id],
    };
    let out = documents::server_write_all(db, &writer, &docs, |docs: &mut [AutoCommit], stored| {
        let (am, rest) = docs
            .split_first_mut()
            .ok_or_else(|| ApiError::internal("no document"))?;
        let stored = &stored[0];
        let (_, mut v) = doc::read::<Visit, _>(&*am).map_err(ApiError::internal)?;
        let from = v.status;
        let Some(t) = kind.step(from, v.purpose) else {
            return Err(
                ApiError::new(Code::ReviewWrongState).with_details(serde_json::json!({
                    "status": from.as_str(),
                    "decision": kind.as_str(),
                    "purpose": v.purpose.as_str(),
                })),
            );
        };
        // The visit as it is now (a phone may have written since the check above).
        if gated && open.is_empty() {
            let now = doc::conflicts::conflicts(&*am).map_err(ApiError::internal)?;
            let now: Vec<conflicts::OpenConflict> = now
                .iter()
                .map(|c| conflicts::OpenConflict::of_visit(visit_id, &c.path.to_string()))
                .collect();
            if !now.is_empty() {
                conflicts_allowed(&now, false, false)?;
            }
        }
        let action = level_action(t.level, delegated);
        let d = decide(subject, action, Target::Region(&stored.region_path));
        if !d.is_allowed() {
            *denied.lock().unwrap_or_else(|p| p.into_inner()) = Some((action, d));
            return Err(ApiError::new(Code::Denied));
        }
        // The decision checked above is for a county step on an application: the state found
        // now must still be that step (a concurrent decision moved it otherwise).
        if decides(from, v.purpose) != checked.is_some() {
            return Err(
                ApiError::new(Code::ReviewWrongState).with_details(serde_json::json!({
                    "status": from.as_str(),
                    "decision": kind.as_str(),
                })),
            );
        }
        // An application is confirmed after its 公示, with no objection left unanswered and the
        // county's own visit recorded where it is needed.
        if kind == ReviewDecision::Confirm
            && let Some(hold) = v.confirmation_hold(today, sampled)
        {
            return Err(match hold {
                ConfirmationHold::NoticeRunning { until } => {
                    ApiError::new(Code::ReviewNoticeRunning)
                        .with_message(
                            format!("公示期至 {until}，公示结束后才能审核确认。"),
                            format!("The public notice runs until {until}: confirm after it."),
                        )
                        .with_details(serde_json::json!({ "until": until.to_string() }))
                }
                ConfirmationHold::ObjectionOpen => ApiError::new(Code::ReviewObjectionOpen),
                ConfirmationHold::CountyVisitMissing => {
                    ApiError::new(Code::ReviewCountyVisitRequired).with_details(serde_json::json!({
                        "spot_check": sampled,
                        "kin_filing": v.application.as_ref().is_some_and(|a| a.kin_filing),
                    }))
                }
            });
        }
        if t.to == VisitStatus::Approved
            && let Some((from, until)) = notice
        {
            v.notice_from = Some(from);
            v.notice_until = Some(until);
        }
        if let (Some(c), Some(hh)) = (&checked, rest.first_mut()) {
            let (_, mut h) = doc::read::<Household, _>(&*hh).map_err(ApiError::internal)?;
            let id =
                doudi_protocol::ids::DocumentId::parse(visit_id).map_err(ApiError::internal)?;
            award::record(&mut h, c, reviewer_id.clone(), at, id, comment.clone());
            doc::write(hh, &h).map_err(ApiError::internal)?;
        }
        v.status = t.to;
        v.reviews.push(Review {
            reviewer: reviewer_id.clone(),
            reviewer_name: reviewer.account.display_name.clone(),
            decision: t.outcome,
            comment: comment.clone(),
            at: UnixMillis(at),
        });
        doc::write(am, &v).map_err(ApiError::internal)?;
        let insert = Query::insert()
            .into_table(review_decision::Entity)
            .columns([
                review_decision::Column::VisitId,
                review_decision::Column::RegionPath,
                review_decision::Column::ReviewerId,
                review_decision::Column::DeviceId,
                review_decision::Column::Level,
                review_decision::Column::Decision,
                review_decision::Column::FromStatus,
                review_decision::Column::ToStatus,
                review_decision::Column::Comment,
                review_decision::Column::AtMs,
            ])
            .values_panic([
                visit_id.into(),
                stored.region_path.clone().into(),
                reviewer.account.id.clone().into(),
                reviewer.device_id.clone().into(),
                t.level.as_str().into(),
                kind.as_str().into(),
                from.as_str().into(),
                t.to.as_str().into(),
                comment.clone().into(),
                at.into(),
            ])
            .to_owned();
        Ok((
            DecisionResult {
                visit_id: visit_id.to_string(),
                status: t.to.as_str().to_string(),
                level: t.level.as_str(),
                decision: kind,
                at_ms: at,
            },
            std::iter::once(insert)
                .chain(
                    numbering
                        .iter()
                        .filter(|_| t.to == VisitStatus::Approved)
                        .cloned(),
                )
                .collect(),
        ))
    })
    .await;
    let denied = *denied.lock().unwrap_or_else(|p| p.into_inner());
    match (out, denied) {
        (Err(_), Some((action, d))) => Err(reviewer
            .caller()
            .deny(db, action, d, visit_id, Code::Denied.into())
            .await),
        (out, _) => out,
    }
}

/// Whether an approval may go ahead with `open` conflicts: only as an explicit override with a
/// reason (`review.comment_required`); otherwise `review.conflicts_open` listing them.
fn conflicts_allowed(
    open: &[conflicts::OpenConflict],
    override_conflicts: bool,
    has_comment: bool,
) -> ApiResult<()> {
    let details = serde_json::json!({ "conflicts": open });
    match (override_conflicts, has_comment) {
        (true, true) => Ok(()),
        (true, false) => Err(ApiError::new(Code::ReviewCommentRequired)
            .with_message(
                "记录中有未确认的冲突：仍然通过须写明理由。",
                "The record has conflicts not yet settled: approving anyway needs a reason.",
            )
            .with_details(details)),
        (false, _) => Err(ApiError::new(Code::ReviewConflictsOpen)
            .with_message(
                format!(
                    "记录中有 {} 处同一字段的并发修改尚未确认：请先选定取值，或写明理由后仍然通过。",
                    open.len()
                ),
                format!(
                    "{} same-field conflict(s) are not yet settled: choose a value for each, or approve anyway with a reason.",
                    open.len()
                ),
            )
            .with_details(details)),
    }
}

/// Show the clear 身份证号 of the household of visit `visit_id` to a reviewer who may unmask
/// there: the entry is audited first (never a number without its entry, `member` naming whom
/// the reviewer asked for), then the household's numbers by entry (`members.<id>`).
pub async fn unmask_visit(
    db: &DatabaseConnection,
    keys: &crate::identity::IdentityKeys,
    reviewer: &Actor,
    visit_id: &str,
    member: &str,
) -> ApiResult<std::collections::BTreeMap<String, doudi_protocol::id_number::IdNumber>> {
    let row = visible_visit(db, reviewer, visit_id).await?;
    let detail = serde_json::json!({ "member": member, "visit": visit_id });
    reveal_audited(
        db,
        keys,
        reviewer,
        (&row.region_path, visit_id),
        &row.household_id,
        detail,
    )
    .await
}

/// The clear 身份证号 of document `doc_id` by entry, for a reviewer who may unmask at `place`
/// (a region path, and the label a denial is audited under): the `case.unmask` entry about
/// `doc_id`, with `detail`, is written first, so no number is shown without its entry.
pub async fn reveal_audited(
    db: &DatabaseConnection,
    keys: &crate::identity::IdentityKeys,
    reviewer: &Actor,
    place: (&str, &str),
    doc_id: &str,
    detail: serde_json::Value,
) -> ApiResult<std::collections::BTreeMap<String, doudi_protocol::id_number::IdNumber>> {
    let (region_path, label) = place;
    reviewer
        .require_visible(db, Action::Unmask, region_path, label)
        .await?;
    let mut ev = reviewer.event(AUDIT_UNMASK, Some(doc_id));
    ev.detail = Some(detail);
    crate::audit::record(db, crate::audit::Outcome::Ok, ev).await?;
    Ok(crate::identity::reveal(db, keys, doc_id).await?)
}

/// Settle the same-field conflict at `path` of document `doc_id` with the value `choice` (its
/// index among the concurrent values), as the server's change on behalf of `reviewer`, audited.
pub async fn resolve_conflict(
    db: &DatabaseConnection,
    reviewer: &Actor,
    doc_id: &str,
    path: &str,
    choice: usize,
) -> ApiResult<()> {
    let Some(row) = crate::entity::document::Entity::find_by_id(doc_id.to_string())
        .one(db)
        .await?
    else {
        return Err(ApiError::new(Code::NotFound));
    };
    reviewer
        .require_visible(db, Action::ReadCase, &row.region_path, doc_id)
        .await?;
    reviewer
        .require_visible(db, Action::ReviewVisit, &row.region_path, doc_id)
        .await?;
    let writer = Writer::for_actor(
        reviewer,
        AUDIT_RESOLVE,
        Some(serde_json::json!({ "path": path, "choice": choice })),
    );
    documents::server_write(db, &writer, doc_id, |am: &mut AutoCommit, _| {
        let all = doc::conflicts::conflicts(&*am).map_err(ApiError::internal)?;
        let Some(c) = all.iter().find(|c| c.path.to_string() == path) else {
            return Err(ApiError::new(Code::NotFound));
        };
        let Some(value) = c.values.get(choice).and_then(|v| v.scalar.clone()) else {
            return Err(ApiError::new(Code::InvalidRequest).with_message(
                "只能为单个字段选择取值。",
                "Only a single field's value can be chosen.",
            ));
        };
        doc::conflicts::resolve(am, &c.path, value).map_err(ApiError::internal)?;
        Ok(((), Vec::new()))
    })
    .await
}
