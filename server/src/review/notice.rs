//! The 公示 of an application (DB2021 art. 20, TK2021): the township's approval opens it for
//! `public_notice_days` calendar days ([`super::decide_visit`]); objections raised meanwhile
//! (异议) and the democratic appraisals held on them (民主评议) are recorded here, by a reviewer
//! of the visit's region, into the visit as server changes. The confirmation waits for the
//! notice to end and for every objection since the township's approval to have an appraisal
//! after it (`Visit::confirmation_hold`); the other answer to an objection is to send the case
//! back for re-investigation, after which the township's new approval opens a new notice.

use automerge::AutoCommit;
use chrono::NaiveDate;
use sea_orm::DatabaseConnection;

use doudi_protocol::doc::visit::{Appraisal, Objection, VisitStatus};
use doudi_protocol::doc::{self, UnixMillis, Visit};
use doudi_protocol::ids::AccountId;

use crate::access::{Action, Actor};
use crate::auth::now_ms;
use crate::documents::{self, Writer};
use crate::error::{ApiError, ApiResult, Code};
use crate::review::{MAX_COMMENT_CHARS, deadlines, visible_visit};

/// Audit action of recording an objection.
pub const AUDIT_OBJECTION: &str = "review.objection";
/// Audit action of recording a democratic appraisal.
pub const AUDIT_APPRAISAL: &str = "review.appraisal";
/// Most participants an appraisal records.
pub const MAX_PARTICIPANTS: i64 = 10_000;

/// What is recorded.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Entry {
    /// 异议: who raised it and what it says.
    Objection { objector: String, detail: String },
    /// 民主评议: when it was held, how many took part, the votes.
    Appraisal {
        held_on: NaiveDate,
        participants: i64,
        votes_for: i64,
        votes_against: i64,
    },
}

fn invalid(zh: &str, en: &str) -> ApiError {
    ApiError::new(Code::InvalidRequest).with_message(zh.to_string(), en.to_string())
}

/// A text field, trimmed, required and within [`MAX_COMMENT_CHARS`].
fn text(v: &str, zh: &str, en: &str) -> ApiResult<String> {
    let v = v.trim();
    if v.is_empty() || v.chars().count() > MAX_COMMENT_CHARS {
        return Err(invalid(zh, en));
    }
    Ok(v.to_string())
}

/// Check an entry as typed, on `today`.
fn checked(e: Entry, today: NaiveDate) -> ApiResult<Entry> {
    Ok(match e {
        Entry::Objection { objector, detail } => Entry::Objection {
            objector: text(
                &objector,
                "请填写异议人（不超过 2000 字）。",
                "Name who raised the objection (at most 2,000 characters).",
            )?,
            detail: text(
                &detail,
                "请填写异议内容（不超过 2000 字）。",
                "Say what the objection is (at most 2,000 characters).",
            )?,
        },
        Entry::Appraisal {
            held_on,
            participants,
            votes_for,
            votes_against,
        } => {
            if held_on > today {
                return Err(invalid(
                    "评议日期不能晚于今天。",
                    "The appraisal cannot be dated after today.",
                ));
            }
            if !(1..=MAX_PARTICIPANTS).contains(&participants)
                || votes_for < 0
                || votes_against < 0
                || votes_for.saturating_add(votes_against) > participants
            {
                return Err(invalid(
                    "参加人数须为 1 至 10000，赞成与反对票数之和不能超过参加人数。",
                    "Participants must be 1 to 10,000, and the votes for and against at most the participants.",
                ));
            }
            Entry::Appraisal {
                held_on,
                participants,
                votes_for,
                votes_against,
            }
        }
    })
}

/// Record `entry` on the application whose investigation is visit `visit_id`: a reviewer
/// (`ReviewVisit`) of its region, while it awaits confirmation (`approved`).
pub async fn record(
    db: &DatabaseConnection,
    reviewer: &Actor,
    visit_id: &str,
    entry: Entry,
) -> ApiResult<()> {
    let row = visible_visit(db, reviewer, visit_id).await?;
    reviewer
        .require_visible(db, Action::ReviewVisit, &row.region_path, visit_id)
        .await?;
    let at = now_ms();
    let today = deadlines::local_date(at).ok_or_else(|| ApiError::internal("no date"))?;
    let entry = checked(entry, today)?;
    let by = AccountId::parse(&reviewer.account.id).map_err(ApiError::internal)?;
    let action = match entry {
        Entry::Objection { .. } => AUDIT_OBJECTION,
        Entry::Appraisal { .. } => AUDIT_APPRAISAL,
    };
    let writer = Writer::for_actor(reviewer, action, None);
    documents::server_write(db, &writer, visit_id, |am: &mut AutoCommit, _| {
        let (_, mut v) = doc::read::<Visit, _>(&*am).map_err(ApiError::internal)?;
        if v.status != VisitStatus::Approved || !v.purpose.needs_county_confirmation() {
            return Err(ApiError::new(Code::ReviewWrongState)
                .with_message(
                    "只有待审核确认的申请可以记录公示异议或民主评议。",
                    "Objections and appraisals are recorded on an application awaiting confirmation.",
                )
                .with_details(serde_json::json!({ "status": v.status.as_str() })));
        }
        match &entry {
            Entry::Objection { objector, detail } => v.objections.push(Objection {
                at: UnixMillis(at),
                objector: objector.clone(),
                detail: detail.clone(),
                recorded_by: by.clone(),
            }),
            Entry::Appraisal {
                held_on,
                participants,
                votes_for,
                votes_against,
            } => v.appraisals.push(Appraisal {
                at: UnixMillis(at),
                held_on: *held_on,
                participants: *participants,
                votes_for: *votes_for,
                votes_against: *votes_against,
                recorded_by: by.clone(),
            }),
        }
        doc::write(am, &v).map_err(ApiError::internal)?;
        Ok(((), Vec::new()))
    })
    .await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn appraisals_and_objections_are_checked() {
        let today = NaiveDate::from_ymd_opt(2026, 12, 6).unwrap();
        let a = |held_on, p, f, g| Entry::Appraisal {
            held_on,
            participants: p,
            votes_for: f,
            votes_against: g,
        };
        assert!(checked(a(today, 9, 8, 1), today).is_ok());
        assert!(checked(a(today, 9, 8, 2), today).is_err());
        assert!(checked(a(today, 0, 0, 0), today).is_err());
        assert!(checked(a(today.succ_opt().unwrap(), 9, 8, 1), today).is_err());
        let o = |who: &str, what: &str| Entry::Objection {
            objector: who.into(),
            detail: what.into(),
        };
        assert!(checked(o(" 邻居 ", "有车辆"), today).is_ok());
        assert!(checked(o(" ", "有车辆"), today).is_err());
        assert!(checked(o("邻居", &"长".repeat(MAX_COMMENT_CHARS + 1)), today).is_err());
    }
}
