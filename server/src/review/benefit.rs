//! Changes of benefit the county decides on a household in 低保 or 特困 (审批决定): a phase-out
//! (渐退, DD2022: income rose above the standard through work; the benefit continues for the
//! months the region allows, national "in principle ≤ 6", Qingdao 3–6, Qinghai ≥ 12, Tieling ≤ 24)
//! and a termination (终止: the programme ends, payment stops from the next month).
//!
//! Each is a [`Decision`] appended to the household by the server, audited, reaching the phones
//! on their next sync; programmes follow from decisions only (`Household::record_decision`). A
//! phase-out under way gives the household its `phase_out_end` task (渐退期届满) through the
//! schedule (`rules::schedule`, [`super::recheck`]).

use automerge::AutoCommit;
use sea_orm::{DatabaseConnection, EntityTrait};
use serde::Serialize;

use doudi_protocol::doc::household::{Decision, DecisionOutcome, Programme};
use doudi_protocol::doc::{self, Household, UnixMillis};
use doudi_protocol::ids::AccountId;
use doudi_protocol::rules::policy::Policy;
use doudi_protocol::rules::schedule::add_months;

use crate::access::{Action, Actor};
use crate::auth::now_ms;
use crate::documents::{self, Writer};
use crate::entity::household;
use crate::error::{ApiError, ApiResult, Code};
use crate::review::award::invalid;
use crate::review::{AUDIT_DECISION, clean_comment, deadlines, queue};

/// What the county decides.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Change {
    /// 渐退: the benefit continues `months` months (at `amount_fen_per_month`, by default the
    /// amount in force), then the `phase_out_end` task asks for the termination.
    PhaseOut {
        months: u32,
        amount_fen_per_month: Option<i64>,
    },
    /// 终止: the programme ends.
    Terminate,
}

/// A decided change, as answered.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct ChangeResult {
    pub household_id: String,
    /// `phase_out` or `terminated`.
    pub outcome: String,
    pub programme: String,
    /// The first day the change applies (`YYYY-MM-DD`): the first of the next month.
    pub effective_from: String,
    /// A phase-out: when it ends (`YYYY-MM-DD`), the day its `phase_out_end` task is due.
    pub ends_on: Option<String>,
}

/// The months a phase-out may last under `policy`, in words (`3–6 个月`, `至少 12 个月`).
pub fn phase_out_range_zh(policy: &Policy) -> String {
    let min = policy.phase_out_min_months.max(1);
    match policy.phase_out_max_months.limit() {
        Some(max) if max == min => format!("{min} 个月"),
        Some(max) => format!("{min}–{max} 个月"),
        None => format!("至少 {min} 个月"),
    }
}

/// The programme in force a change applies to: the one asked for, else the household's 低保 or
/// 特困 one. A phase-out is a 低保 rule.
fn programme_of(h: &Household, asked: Option<Programme>, change: Change) -> ApiResult<Programme> {
    let current = asked.or_else(|| {
        [
            Programme::Dibao,
            Programme::TekunDispersed,
            Programme::TekunCentralized,
        ]
        .into_iter()
        .find(|p| h.programmes.contains(p))
    });
    let Some(p) = current.filter(|p| h.programmes.contains(p)) else {
        return Err(ApiError::new(Code::ReviewWrongState).with_message(
            "该户不在所选救助类别中，无法作此决定。",
            "The household is not in that programme.",
        ));
    };
    if matches!(change, Change::PhaseOut { .. }) && p != Programme::Dibao {
        return Err(invalid(
            "programme",
            "渐退期只适用于低保。",
            "A phase-out applies to 低保 only.",
        ));
    }
    Ok(p)
}

/// Decide `change` on household `household_id` with `reason` (required: it is the written
/// ground of the decision). The county (`ConfirmCase`) of the household's region decides; the
/// months of a phase-out are checked against the region's policy in force today.
pub async fn decide(
    db: &DatabaseConnection,
    actor: &Actor,
    household_id: &str,
    change: Change,
    programme: Option<Programme>,
    reason: Option<&str>,
) -> ApiResult<ChangeResult> {
    let Some(row) = household::Entity::find_by_id(household_id.to_string())
        .one(db)
        .await?
    else {
        return Err(ApiError::new(Code::NotFound));
    };
    actor
        .require_visible(db, Action::ReadCase, &row.region_path, household_id)
        .await?;
    actor
        .require_visible(db, Action::ConfirmCase, &row.region_path, household_id)
        .await?;
    let reason = clean_comment(reason, true)?;
    let at = now_ms();
    let today = deadlines::local_date(at).ok_or_else(|| ApiError::internal("no date"))?;
    let policy = queue::Limits::load(db).await?.of(&row.region_path, at);
    if let Change::PhaseOut {
        months,
        amount_fen_per_month,
    } = change
    {
        if months == 0 || months > u32::from(u8::MAX) || !policy.phase_out_allowed(months) {
            let range = phase_out_range_zh(&policy);
            return Err(invalid(
                "months",
                format!("本地渐退期为 {range}，请在此范围内确定月数。"),
                format!("The region allows a phase-out of {range} (months); choose within it."),
            ));
        }
        if amount_fen_per_month
            .is_some_and(|a| !(0..=super::award::MAX_AMOUNT_FEN_PER_MONTH).contains(&a))
        {
            return Err(invalid(
                "amount_fen_per_month",
                "月保障金额须在 0 至 100000 元之间。",
                "The monthly amount must be between 0 and 100,000 yuan.",
            ));
        }
    }
    let by = AccountId::parse(&actor.account.id).map_err(ApiError::internal)?;
    let outcome = match change {
        Change::PhaseOut { .. } => DecisionOutcome::PhaseOut,
        Change::Terminate => DecisionOutcome::Terminated,
    };
    let detail = serde_json::json!({ "decision": outcome.as_str(), "comment": reason });
    let writer = Writer::for_actor(actor, AUDIT_DECISION, Some(detail));
    let effective_from = Decision::pays_from(today);
    documents::server_write(db, &writer, household_id, |am: &mut AutoCommit, _| {
        let (_, mut h) = doc::read::<Household, _>(&*am).map_err(ApiError::internal)?;
        let p = programme_of(&h, programme, change)?;
        let last = h
            .last_decision(p)
            .map(|d| (d.outcome, d.amount_fen_per_month));
        let (months, amount) = match change {
            Change::PhaseOut {
                months,
                amount_fen_per_month,
            } => {
                if last.is_some_and(|(o, _)| o == DecisionOutcome::PhaseOut) {
                    return Err(ApiError::new(Code::ReviewWrongState).with_message(
                        "该户已在渐退期中：期满后决定终止，或重新评估。",
                        "The household is already in a phase-out: terminate when it ends, or re-assess.",
                    ));
                }
                (
                    u8::try_from(months).ok(),
                    amount_fen_per_month.or(last.and_then(|(_, a)| a)),
                )
            }
            Change::Terminate => (None, None),
        };
        let household_size = u8::try_from(h.co_resident_count()).ok();
        h.record_decision(Decision {
            at: UnixMillis(at),
            programme: Some(p),
            outcome,
            amount_fen_per_month: amount,
            by: by.clone(),
            reference: None,
            note: reason.clone(),
            effective_from: Some(effective_from),
            visit: None,
            household_size,
            notice_date: None,
            months,
        });
        doc::write(am, &h).map_err(ApiError::internal)?;
        Ok((
            ChangeResult {
                household_id: household_id.to_string(),
                outcome: outcome.as_str().to_string(),
                programme: p.as_str().to_string(),
                effective_from: effective_from.to_string(),
                ends_on: months
                    .and_then(|m| add_months(effective_from, u32::from(m)).ok())
                    .map(|d| d.to_string()),
            },
            Vec::new(),
        ))
    })
    .await
}
