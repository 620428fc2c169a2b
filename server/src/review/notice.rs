//! The 公示 of an application (DB2021 art. 20, TK2021): the township's approval opens it for
//! `public_notice_days` calendar days ([`super::decide_visit`]); objections raised meanwhile
//! (异议) and the democratic appraisals held on them (民主评议) are recorded here, by a reviewer
//! of the visit's region, into the visit as server changes. The confirmation waits for the
//! notice to end and for every objection since the township's approval to have an appraisal
//! after it (`Visit::confirmation_hold`); the other answer to an objection is to send the case
//! back for re-investigation, after which the township's new approval opens a new notice.
//!
//! The same way, the county's own visit to the household (县级入户核查: a case in its spot
//! check, or one with a 近亲属备案, is confirmed only after it) and the reason a case takes the
//! special whole-case limit (延期说明, 45 working days) are recorded into the visit.

use automerge::AutoCommit;
use chrono::NaiveDate;
use sea_orm::DatabaseConnection;

use doudi_protocol::doc::common::{Photo, PhotoCategory};
use doudi_protocol::doc::visit::{
    Appraisal, CountyVisit, Extension, Objection, ReviewLevel, VisitStatus,
};
use doudi_protocol::doc::{self, UnixMillis, Visit};
use doudi_protocol::ids::{AccountId, BlobHash};

use crate::access::{Action, Actor};
use crate::auth::now_ms;
use crate::blobs::{self, Sha256Hex};
use crate::documents::{self, Writer};
use crate::error::{ApiError, ApiResult, Code};
use crate::review::{MAX_COMMENT_CHARS, deadlines, visible_visit};

/// Audit action of recording an objection.
pub const AUDIT_OBJECTION: &str = "review.objection";
/// Audit action of recording a democratic appraisal.
pub const AUDIT_APPRAISAL: &str = "review.appraisal";
/// Audit action of recording the county's own visit.
pub const AUDIT_COUNTY_VISIT: &str = "review.county_visit";
/// Audit action of recording the reason for the special whole-case limit.
pub const AUDIT_EXTENSION: &str = "review.extension";
/// The caption of the photo of an appraisal's signed record among the visit's photos.
pub const RECORD_PHOTO_CAPTION: &str = "民主评议签字记录";
/// Most participants an appraisal records.
pub const MAX_PARTICIPANTS: i64 = 10_000;

/// What is recorded.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Entry {
    /// 异议: who raised it and what it says.
    Objection { objector: String, detail: String },
    /// 民主评议: when it was held, how many took part, the votes, and the photo of its signed
    /// record, which the recording reviewer uploaded.
    Appraisal {
        held_on: NaiveDate,
        participants: i64,
        votes_for: i64,
        votes_against: i64,
        record_photo: Sha256Hex,
    },
    /// 县级入户核查: when, who, what it found.
    CountyVisit {
        visited_on: NaiveDate,
        visitors: String,
        findings: String,
    },
    /// 延期说明: why the case takes the special whole-case limit.
    Extension { reason: String },
}

impl Entry {
    fn audit_action(&self) -> &'static str {
        match self {
            Entry::Objection { .. } => AUDIT_OBJECTION,
            Entry::Appraisal { .. } => AUDIT_APPRAISAL,
            Entry::CountyVisit { .. } => AUDIT_COUNTY_VISIT,
            Entry::Extension { .. } => AUDIT_EXTENSION,
        }
    }

    /// The statuses of the application the entry is recorded in: the 公示's entries and the
    /// county's visit while it awaits confirmation (the county may visit before the township's
    /// approval too), the extension while the case is open.
    fn allowed_in(&self, s: VisitStatus) -> bool {
        match self {
            Entry::Objection { .. } | Entry::Appraisal { .. } => s == VisitStatus::Approved,
            Entry::CountyVisit { .. } => {
                matches!(s, VisitStatus::Submitted | VisitStatus::Approved)
            }
            Entry::Extension { .. } => matches!(
                s,
                VisitStatus::Submitted | VisitStatus::Returned | VisitStatus::Approved
            ),
        }
    }
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
            record_photo,
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
                record_photo,
            }
        }
        Entry::CountyVisit {
            visited_on,
            visitors,
            findings,
        } => {
            if visited_on > today {
                return Err(invalid(
                    "核查日期不能晚于今天。",
                    "The visit cannot be dated after today.",
                ));
            }
            Entry::CountyVisit {
                visited_on,
                visitors: text(
                    &visitors,
                    "请填写县级核查人员（不超过 2000 字）。",
                    "Name who visited for the county (at most 2,000 characters).",
                )?,
                findings: text(
                    &findings,
                    "请填写核查情况（不超过 2000 字）。",
                    "Say what the visit found (at most 2,000 characters).",
                )?,
            }
        }
        Entry::Extension { reason } => Entry::Extension {
            reason: text(
                &reason,
                "请填写延期原因（不超过 2000 字）。",
                "Give the reason the case needs longer (at most 2,000 characters).",
            )?,
        },
    })
}

/// Record `entry` on the application whose investigation is visit `visit_id`: a reviewer
/// (`ReviewVisit`) of its region, the county's visit by whoever confirms there (`ConfirmCase`,
/// the township's `ReviewVisit` where confirmation is delegated to it), in the statuses the
/// entry belongs to.
pub async fn record(
    db: &DatabaseConnection,
    reviewer: &Actor,
    visit_id: &str,
    entry: Entry,
) -> ApiResult<()> {
    let row = visible_visit(db, reviewer, visit_id).await?;
    let action = match entry {
        Entry::CountyVisit { .. } => {
            let limits = super::queue::Limits::load(db).await?;
            super::level_action(
                ReviewLevel::County,
                super::delegated(&limits, &row, now_ms()),
            )
        }
        _ => Action::ReviewVisit,
    };
    reviewer
        .require_visible(db, action, &row.region_path, visit_id)
        .await?;
    let at = now_ms();
    let today = deadlines::local_date(at).ok_or_else(|| ApiError::internal("no date"))?;
    let entry = checked(entry, today)?;
    // The signed record's photo: the reviewer's own upload, as a phone's photos are its own
    // (crate::blobs::read_decision gives it to readers of the visit through `recorded_by`).
    if let Entry::Appraisal { record_photo, .. } = &entry
        && blobs::held_by(db, &reviewer.account.id, std::slice::from_ref(record_photo))
            .await?
            .is_empty()
    {
        return Err(ApiError::new(Code::BlobNotUploaded)
            .with_details(serde_json::json!({ "record_photo": record_photo.as_str() })));
    }
    let by = AccountId::parse(&reviewer.account.id).map_err(ApiError::internal)?;
    let writer = Writer::for_actor(reviewer, entry.audit_action(), None);
    documents::server_write(db, &writer, visit_id, |am: &mut AutoCommit, _| {
        let (_, mut v) = doc::read::<Visit, _>(&*am).map_err(ApiError::internal)?;
        if !entry.allowed_in(v.status) || !v.purpose.needs_county_confirmation() {
            return Err(ApiError::new(Code::ReviewWrongState)
                .with_message(
                    "此申请当前的状态不能记录此项（公示异议和民主评议在待审核确认时记录，县级入户核查在审核确认前记录，延期说明在办结前记录）。",
                    "The application's state does not take this entry (objections and appraisals while it awaits confirmation, the county's visit before the confirmation, an extension before the decision).",
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
                record_photo,
            } => {
                let photo = BlobHash::parse(record_photo.as_str()).map_err(ApiError::internal)?;
                v.photos.entry(photo).or_insert(Photo {
                    category: PhotoCategory::Document,
                    caption: Some(RECORD_PHOTO_CAPTION.to_string()),
                    captured_at: UnixMillis(at),
                    gps: None,
                });
                v.appraisals.push(Appraisal {
                    at: UnixMillis(at),
                    held_on: *held_on,
                    participants: *participants,
                    votes_for: *votes_for,
                    votes_against: *votes_against,
                    record_photo: Some(photo),
                    recorded_by: by.clone(),
                })
            }
            Entry::CountyVisit {
                visited_on,
                visitors,
                findings,
            } => v.county_visits.push(CountyVisit {
                at: UnixMillis(at),
                visited_on: *visited_on,
                visitors: visitors.clone(),
                findings: findings.clone(),
                recorded_by: by.clone(),
            }),
            // The first reason stands: the limit does not grow with more of them.
            Entry::Extension { reason } => {
                if v.extension.is_some() {
                    return Err(ApiError::new(Code::ReviewWrongState).with_message(
                        "此申请已记录延期说明。",
                        "The application already records an extension.",
                    ));
                }
                v.extension = Some(Extension {
                    reason: reason.clone(),
                    recorded_by: by.clone(),
                    at: UnixMillis(at),
                })
            }
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
            record_photo: Sha256Hex::of(b"record"),
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
