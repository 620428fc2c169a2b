//! The steps of a case (docs/TEMPORARY_AID.md, "States"): open (directly, or from a discovery
//! report), 先行救助, request approval (补办手续; later 跟进救助), decide, pay, close. Each step
//! checks the state it starts from in the same statement that moves it, records who and when
//! (`temp_aid_events`) and writes the audit log, in one transaction.

use sea_orm::sea_query::{Expr, SimpleExpr};
use sea_orm::{
    ActiveModelTrait, ColumnTrait, ConnectionTrait, DatabaseConnection, DatabaseTransaction,
    EntityTrait, NotSet, QueryFilter, QueryOrder, Set, TransactionTrait,
};
use serde::Deserialize;

use doudi_protocol::rules::Money;
use doudi_protocol::rules::policy::TempAidRoute;

use super::read::{CaseDetail, detail, visible, yearly_total};
use super::{
    AUDIT, CLOCK_SKEW_MS, Kind, MAX_AMOUNT_FEN, MAX_BACKDATE_DAYS, MAX_PLACE_CHARS, Route, Status,
};
use crate::access::{Action, Actor, Target};
use crate::audit::{self, Outcome};
use crate::auth::{new_id, now_ms};
use crate::entity::{
    household, member, temp_aid_approval, temp_aid_case, temp_aid_event, temp_aid_payment,
};
use crate::error::{ApiError, ApiResult, Code};
use crate::review::{calendar, clean_comment, deadlines, queue, reports};

/// A case opened directly (a person came to the township, a call).
#[derive(Debug, Clone, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewCase {
    /// `emergency` (急难型) or `expense` (支出型).
    pub kind: String,
    /// The household on record (any region: a migrant worker's household is registered where
    /// their 户籍 is).
    pub household_id: String,
    /// The member the aid is for.
    pub member_id: String,
    /// Where the emergency happened: a region (village, township or grid) in the caller's
    /// regions. It locates the case and decides who reads it.
    pub region_code: String,
    /// The address where it happened (at most 200 characters).
    pub place: String,
    /// What happened (at most 2,000 characters).
    pub reason: String,
    /// When it was reported (unix ms; default now; not in the future, at most 366 days ago).
    pub reported_at_ms: Option<i64>,
}

/// A case opened from a discovery report: the report's time starts the clock.
#[derive(Debug, Clone, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct FromReportRequest {
    /// Default: `emergency` for a 急难 report, else `expense`.
    pub kind: Option<String>,
    pub household_id: String,
    pub member_id: String,
    /// Default: the report's grid.
    pub region_code: Option<String>,
    pub place: String,
    /// Default: the report's notes.
    pub reason: Option<String>,
}

/// 先行救助 given (急难型).
#[derive(Debug, Clone, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct AidRequest {
    /// Fen, 1 to 100,000,000.
    pub amount_fen: i64,
    /// When it was given (unix ms; default now; not before the report, not in the future).
    pub given_at_ms: Option<i64>,
    pub note: Option<String>,
}

/// A request for approval: the whole amount of the case (先行救助 included) the first time
/// (补办手续), an additional amount for 跟进救助 later.
#[derive(Debug, Clone, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ApprovalRequest {
    /// Fen, 1 to 100,000,000.
    pub amount_fen: i64,
    pub note: Option<String>,
}

/// The decision on the pending request.
#[derive(Debug, Clone, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct DecisionRequest {
    /// `approve` or `refuse`.
    pub decision: String,
    /// The reason (required to refuse), or the 一事一议 meeting's record (required to approve
    /// above the yearly cap).
    pub note: Option<String>,
}

/// A payment of the approved amount (one stage of several, or all of it).
#[derive(Debug, Clone, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PaymentRequest {
    /// Fen, 1 to what is approved and not yet paid.
    pub amount_fen: i64,
    /// `YYYY-MM-DD` (default today; not in the future, not before the report).
    pub paid_on: Option<String>,
    pub note: Option<String>,
}

/// Closing a case (结案).
#[derive(Debug, Clone, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CloseRequest {
    pub note: String,
}

fn invalid(field: &str, zh: impl Into<String>, en: impl Into<String>) -> ApiError {
    ApiError::new(Code::InvalidRequest)
        .with_message(zh, en)
        .with_details(serde_json::json!({ "field": field }))
}

fn wrong_state(status: &str) -> ApiError {
    ApiError::new(Code::TempAidWrongState).with_details(serde_json::json!({ "status": status }))
}

fn amount(fen: i64) -> ApiResult<Money> {
    if (1..=MAX_AMOUNT_FEN).contains(&fen) {
        Ok(Money(fen))
    } else {
        Err(invalid(
            "amount_fen",
            format!(
                "金额应在 0.01 元至 {} 元之间（以分为单位填写）。",
                Money(MAX_AMOUNT_FEN)
            ),
            format!("amount_fen must lie between 1 and {MAX_AMOUNT_FEN}."),
        ))
    }
}

/// The case a writer may change, after the role check and the check in its region.
async fn writable(
    db: &DatabaseConnection,
    actor: &Actor,
    case_id: &str,
) -> ApiResult<temp_aid_case::Model> {
    actor
        .require(db, Action::ReviewVisit, Target::Scope, case_id)
        .await?;
    visible(db, actor, Action::ReviewVisit, case_id).await
}

/// Move the case from one of `from` to `to` with `set`, record the event and the audit entry.
#[allow(clippy::too_many_arguments)]
async fn step(
    txn: &DatabaseTransaction,
    actor: &Actor,
    case: &temp_aid_case::Model,
    action: &str,
    from: &[Status],
    to: Status,
    set: Vec<(temp_aid_case::Column, SimpleExpr)>,
    amount_fen: Option<i64>,
    note: Option<String>,
) -> ApiResult<()> {
    let at = now_ms();
    let mut q = temp_aid_case::Entity::update_many()
        .col_expr(temp_aid_case::Column::Status, Expr::value(to.as_str()))
        .col_expr(temp_aid_case::Column::UpdatedAtMs, Expr::value(at));
    for (c, v) in set {
        q = q.col_expr(c, v);
    }
    let done = q
        .filter(temp_aid_case::Column::Id.eq(case.id.as_str()))
        .filter(temp_aid_case::Column::Status.is_in(from.iter().map(|s| s.as_str())))
        .exec(txn)
        .await?;
    if done.rows_affected != 1 {
        return Err(wrong_state(&case.status));
    }
    event(
        txn,
        actor,
        &case.id,
        action,
        Some(&case.status),
        to,
        amount_fen,
        note,
    )
    .await
}

#[allow(clippy::too_many_arguments)]
async fn event<C: ConnectionTrait>(
    db: &C,
    actor: &Actor,
    case_id: &str,
    action: &str,
    from: Option<&str>,
    to: Status,
    amount_fen: Option<i64>,
    note: Option<String>,
) -> ApiResult<()> {
    temp_aid_event::ActiveModel {
        id: NotSet,
        case_id: Set(case_id.to_string()),
        action: Set(action.to_string()),
        from_status: Set(from.map(str::to_string)),
        to_status: Set(to.as_str().to_string()),
        account_id: Set(actor.account.id.clone()),
        at_ms: Set(now_ms()),
        amount_fen: Set(amount_fen),
        note: Set(note),
    }
    .insert(db)
    .await?;
    let mut ev = actor.event(AUDIT, Some(case_id));
    ev.detail = Some(serde_json::json!({
        "step": action, "from": from, "to": to.as_str(), "amount_fen": amount_fen,
    }));
    audit::row(Outcome::Ok, ev).insert(db).await?;
    Ok(())
}

/// What a new case holds, checked.
struct Opening {
    kind: Kind,
    household_id: String,
    member_id: String,
    region_code: String,
    place: String,
    reason: String,
    report_id: Option<String>,
    reported_at_ms: i64,
}

async fn insert(db: &DatabaseConnection, actor: &Actor, o: Opening) -> ApiResult<CaseDetail> {
    let Some(hh) = household::Entity::find_by_id(o.household_id.clone())
        .one(db)
        .await?
    else {
        return Err(invalid(
            "household_id",
            "未找到该家庭档案，请核对家庭编号；尚未建档的家庭请先由网格员建档。",
            "No household on record has this id.",
        ));
    };
    let Some(person) = member::Entity::find_by_id((hh.doc_id.clone(), o.member_id.clone()))
        .one(db)
        .await?
        .filter(|m| !m.removed)
    else {
        return Err(invalid(
            "member_id",
            "该家庭没有这名成员，请从家庭成员中选择救助对象。",
            "The household has no such member.",
        ));
    };
    let Some(region) = crate::regions::find(db, o.region_code.trim()).await? else {
        return Err(invalid(
            "region_code",
            "请选择救助发生地（行政区划或网格代码）。",
            "region_code names no region.",
        ));
    };
    // The place must lie in the opener's regions: the case is theirs to handle.
    actor
        .require(
            db,
            Action::ReviewVisit,
            Target::Region(&region.path),
            &region.code,
        )
        .await?;
    let place = o.place.trim();
    if place.is_empty() || place.chars().count() > MAX_PLACE_CHARS {
        return Err(invalid(
            "place",
            format!("请填写救助发生地的地址（不超过 {MAX_PLACE_CHARS} 字）。"),
            format!("place is required (at most {MAX_PLACE_CHARS} characters)."),
        ));
    }
    let Some(reason) = clean_comment(Some(&o.reason), false)? else {
        return Err(invalid(
            "reason",
            "请填写救助事由（发生了什么、需要什么帮助）。",
            "reason is required.",
        ));
    };
    let now = now_ms();
    let oldest = now - MAX_BACKDATE_DAYS * 86_400_000;
    if o.reported_at_ms > now + CLOCK_SKEW_MS || o.reported_at_ms < oldest {
        return Err(invalid(
            "reported_at_ms",
            format!("报告时间不能晚于现在，也不能早于 {MAX_BACKDATE_DAYS} 天前。"),
            "reported_at_ms must not lie in the future or more than 366 days back.",
        ));
    }
    let policy = queue::Limits::load(db)
        .await?
        .of(&region.path, o.reported_at_ms);
    let id = new_id();
    let field_worker = super::tasks::assignee(db, &region.path).await?;
    let txn = db.begin().await?;
    let inserted = temp_aid_case::ActiveModel {
        id: Set(id.clone()),
        kind: Set(o.kind.as_str().to_string()),
        household_id: Set(hh.doc_id.clone()),
        member_id: Set(person.member_id.clone()),
        person_name: Set(person.name.clone()),
        id_masked: Set(person.id_number_masked.clone()),
        region_code: Set(region.code.clone()),
        region_path: Set(region.path.clone()),
        place: Set(place.to_string()),
        reason: Set(reason),
        report_id: Set(o.report_id.clone()),
        reported_at_ms: Set(o.reported_at_ms),
        aid_due_at_ms: Set((o.kind == Kind::Emergency)
            .then(|| deadlines::emergency_aid_due_ms(&policy, o.reported_at_ms))),
        aid_given_at_ms: Set(None),
        paperwork_due_at_ms: Set(None),
        paperwork_done_at_ms: Set(None),
        status: Set(Status::Registered.as_str().to_string()),
        created_by: Set(actor.account.id.clone()),
        created_at_ms: Set(now),
        updated_at_ms: Set(now),
    }
    .insert(&txn)
    .await;
    let inserted = match inserted {
        Ok(c) => c,
        Err(e) => {
            txn.rollback().await?;
            // Two cases from one report at once: the unique index lets one through.
            if let Some(r) = &o.report_id
                && let Some(c) = reports::aid_cases(db, vec![r.clone()]).await?.remove(r)
            {
                return Err(ApiError::new(Code::TempAidReportHasCase)
                    .with_details(serde_json::json!({ "case_id": c.id })));
            }
            return Err(e.into());
        }
    };
    if let Some(q) = super::tasks::check(&inserted, field_worker, &actor.account.id) {
        super::tasks::store(&txn, &q).await?;
    }
    let note = o.report_id.as_ref().map(|r| format!("主动发现报告 {r}"));
    event(
        &txn,
        actor,
        &id,
        "open",
        None,
        Status::Registered,
        None,
        note,
    )
    .await?;
    txn.commit().await?;
    let row = visible(db, actor, Action::ReadCase, &id).await?;
    detail(db, row).await
}

fn kind_of(s: &str) -> ApiResult<Kind> {
    Kind::parse(s.trim()).ok_or_else(|| {
        invalid(
            "kind",
            "请选择救助类型：emergency（急难型）或 expense（支出型）。",
            "kind must be emergency or expense.",
        )
    })
}

/// Open a case.
pub async fn open(db: &DatabaseConnection, actor: &Actor, req: &NewCase) -> ApiResult<CaseDetail> {
    actor
        .require(db, Action::ReviewVisit, Target::Scope, "temp_aid.open")
        .await?;
    let o = Opening {
        kind: kind_of(&req.kind)?,
        household_id: req.household_id.trim().to_string(),
        member_id: req.member_id.trim().to_string(),
        region_code: req.region_code.clone(),
        place: req.place.clone(),
        reason: req.reason.clone(),
        report_id: None,
        reported_at_ms: req.reported_at_ms.unwrap_or_else(now_ms),
    };
    insert(db, actor, o).await
}

/// Open a case from a discovery report (a reviewer's action on the report): the report's time
/// starts the 先行救助 clock; a report opens at most one case.
pub async fn from_report(
    db: &DatabaseConnection,
    actor: &Actor,
    report_id: &str,
    req: &FromReportRequest,
) -> ApiResult<CaseDetail> {
    actor
        .require(db, Action::ReviewVisit, Target::Scope, report_id)
        .await?;
    let report = reports::visible_report(db, actor, report_id).await?;
    actor
        .require_visible(db, Action::ReviewVisit, &report.region_path, report_id)
        .await?;
    if report.status == "draft" {
        return Err(ApiError::new(Code::ReportWrongState));
    }
    if let Some(c) = reports::aid_cases(db, vec![report_id.to_string()])
        .await?
        .remove(report_id)
    {
        return Err(ApiError::new(Code::TempAidReportHasCase)
            .with_details(serde_json::json!({ "case_id": c.id })));
    }
    let kind = match req.kind.as_deref() {
        Some(k) => kind_of(k)?,
        None if report.emergency_24h => Kind::Emergency,
        None => Kind::Expense,
    };
    let reason = match req
        .reason
        .as_deref()
        .map(str::trim)
        .filter(|r| !r.is_empty())
    {
        Some(r) => r.to_string(),
        None => reports::gists(db, actor, vec![report_id.to_string()])
            .await?
            .remove(report_id)
            .and_then(|g| g.notes)
            .unwrap_or_else(|| "主动发现报告".to_string()),
    };
    let o = Opening {
        kind,
        household_id: req.household_id.trim().to_string(),
        member_id: req.member_id.trim().to_string(),
        region_code: req.region_code.clone().unwrap_or(report.scope.clone()),
        place: req.place.clone(),
        reason,
        report_id: Some(report_id.to_string()),
        reported_at_ms: report.reported_at_ms.unwrap_or_else(now_ms),
    };
    insert(db, actor, o).await
}

/// Record the 先行救助 of a 急难 case: a payment before any approval; the paperwork is then due
/// within the region's period (`emergency_paperwork_days`, calendar or working days).
pub async fn give_aid(
    db: &DatabaseConnection,
    actor: &Actor,
    case_id: &str,
    req: &AidRequest,
) -> ApiResult<CaseDetail> {
    let case = writable(db, actor, case_id).await?;
    if case.kind != Kind::Emergency.as_str() {
        return Err(wrong_state(&case.status).with_message(
            "支出型临时救助不先行救助，请直接提交审批。",
            "An expense case has no advance aid: request approval.",
        ));
    }
    let money = amount(req.amount_fen)?;
    let now = now_ms();
    let given = req.given_at_ms.unwrap_or(now);
    if given < case.reported_at_ms || given > now + CLOCK_SKEW_MS {
        return Err(invalid(
            "given_at_ms",
            "救助时间应在报告时间之后，且不晚于现在。",
            "given_at_ms must lie between the report and now.",
        ));
    }
    let note = clean_comment(req.note.as_deref(), false)?;
    let cal = calendar::load(db).await?;
    let policy = queue::Limits::load(db).await?.of(&case.region_path, given);
    let paperwork_due = deadlines::paperwork_due_ms(&cal, &policy, given);
    let paid_on = deadlines::local_date(given)
        .ok_or_else(|| ApiError::internal("no date"))?
        .to_string();
    let txn = db.begin().await?;
    step(
        &txn,
        actor,
        &case,
        "give_aid",
        &[Status::Registered],
        Status::AidGiven,
        vec![
            (temp_aid_case::Column::AidGivenAtMs, Expr::value(given)),
            (
                temp_aid_case::Column::PaperworkDueAtMs,
                Expr::value(paperwork_due),
            ),
        ],
        Some(money.0),
        note.clone(),
    )
    .await?;
    payment(&txn, actor, &case, None, "advance", money, paid_on, note).await?;
    txn.commit().await?;
    detail(db, visible(db, actor, Action::ReadCase, case_id).await?).await
}

#[allow(clippy::too_many_arguments)]
async fn payment(
    txn: &DatabaseTransaction,
    actor: &Actor,
    case: &temp_aid_case::Model,
    approval_id: Option<String>,
    stage: &str,
    money: Money,
    paid_on: String,
    note: Option<String>,
) -> ApiResult<()> {
    temp_aid_payment::ActiveModel {
        id: Set(new_id()),
        case_id: Set(case.id.clone()),
        household_id: Set(case.household_id.clone()),
        approval_id: Set(approval_id),
        stage: Set(stage.to_string()),
        amount_fen: Set(money.0),
        paid_on: Set(paid_on),
        recorded_by: Set(actor.account.id.clone()),
        recorded_at_ms: Set(now_ms()),
        note: Set(note),
    }
    .insert(txn)
    .await?;
    Ok(())
}

/// Request approval of `amount_fen`: the first request hands in the paperwork (补办手续) of a
/// 急难 case and covers its 先行救助; a request on a paid case is 跟进救助. The route is fixed
/// now by [`Policy::temporary_aid_route`](doudi_protocol::rules::policy::Policy::temporary_aid_route)
/// against the household's total of this calendar year.
pub async fn request_approval(
    db: &DatabaseConnection,
    actor: &Actor,
    case_id: &str,
    req: &ApprovalRequest,
) -> ApiResult<CaseDetail> {
    let case = writable(db, actor, case_id).await?;
    let money = amount(req.amount_fen)?;
    let note = clean_comment(req.note.as_deref(), false)?;
    let uncovered: Vec<temp_aid_payment::Model> = temp_aid_payment::Entity::find()
        .filter(temp_aid_payment::Column::CaseId.eq(case_id))
        .filter(temp_aid_payment::Column::ApprovalId.is_null())
        .all(db)
        .await?;
    let advance: i64 = uncovered.iter().map(|p| p.amount_fen).sum();
    if money.0 < advance {
        return Err(invalid(
            "amount_fen",
            format!("审批金额应包含已先行救助的 {} 元。", Money(advance)),
            "The amount must cover the advance aid given.",
        ));
    }
    let year = super::read::this_year();
    // The advance this request covers is part of its amount, not of what came before.
    let before = Money(
        yearly_total(db, &case.household_id, year).await?.0
            - doudi_protocol::rules::policy::temporary_aid_yearly_total(
                super::read::dated(&uncovered),
                year,
            )
            .0,
    );
    let policy = queue::Limits::load(db)
        .await?
        .of(&case.region_path, now_ms());
    let route = match policy.temporary_aid_route(money, before) {
        TempAidRoute::Township => Route::Township,
        TempAidRoute::County => Route::County,
        TempAidRoute::AboveYearlyCap { .. } => Route::Meeting,
    };
    let cap = policy
        .temp_aid_yearly_cap
        .and_then(doudi_protocol::rules::Cap::limit)
        .map(|m| m.0);
    let round = temp_aid_approval::Entity::find()
        .filter(temp_aid_approval::Column::CaseId.eq(case_id))
        .order_by_desc(temp_aid_approval::Column::Round)
        .one(db)
        .await?
        .map_or(1, |a| a.round + 1);
    let at = now_ms();
    let mut set = Vec::new();
    if case.aid_given_at_ms.is_some() && case.paperwork_done_at_ms.is_none() {
        set.push((temp_aid_case::Column::PaperworkDoneAtMs, Expr::value(at)));
    }
    // More for a paid case is 跟进救助; otherwise the paperwork, or a new request after a
    // refusal.
    let action = if case.status == Status::Paid.as_str() {
        "follow_up"
    } else {
        "request"
    };
    let from = [
        Status::Registered,
        Status::AidGiven,
        Status::Refused,
        Status::Paid,
    ];
    let txn = db.begin().await?;
    step(
        &txn,
        actor,
        &case,
        action,
        &from,
        Status::Pending,
        set,
        Some(money.0),
        Some(match &note {
            Some(n) => format!("{}；{n}", route.label_zh()),
            None => route.label_zh().to_string(),
        }),
    )
    .await?;
    temp_aid_approval::ActiveModel {
        id: Set(new_id()),
        case_id: Set(case.id.clone()),
        round: Set(round),
        amount_fen: Set(money.0),
        received_before_fen: Set(before.0),
        route: Set(route.as_str().to_string()),
        cap_fen: Set(cap),
        status: Set("pending".to_string()),
        requested_by: Set(actor.account.id.clone()),
        requested_at_ms: Set(at),
        decided_by: Set(None),
        decided_at_ms: Set(None),
        note: Set(note),
    }
    .insert(&txn)
    .await?;
    txn.commit().await?;
    detail(db, visible(db, actor, Action::ReadCase, case_id).await?).await
}

/// Decide the pending request: the township within its limit; the county above it, and by
/// 一事一议 (with the meeting's record) above the household's yearly cap.
pub async fn decide(
    db: &DatabaseConnection,
    actor: &Actor,
    case_id: &str,
    req: &DecisionRequest,
) -> ApiResult<CaseDetail> {
    let case = writable(db, actor, case_id).await?;
    let Some(pending) = temp_aid_approval::Entity::find()
        .filter(temp_aid_approval::Column::CaseId.eq(case_id))
        .filter(temp_aid_approval::Column::Status.eq("pending"))
        .one(db)
        .await?
    else {
        return Err(wrong_state(&case.status));
    };
    let route = Route::parse(&pending.route).unwrap_or(Route::County);
    actor
        .require_visible(db, route.action(), &case.region_path, case_id)
        .await
        .map_err(|e| {
            if e.code == Code::Denied {
                e.with_message(
                    format!(
                        "该申请的审批权限为{}（超过乡镇审批限额或家庭年度救助上限），请由县级审核确认人员审批。",
                        route.label_zh()
                    ),
                    "This request is the county's to decide.",
                )
            } else {
                e
            }
        })?;
    let approve = match req.decision.trim() {
        "approve" => true,
        "refuse" => false,
        _ => {
            return Err(invalid(
                "decision",
                "请选择审批结果：approve（批准）或 refuse（不予批准）。",
                "decision must be approve or refuse.",
            ));
        }
    };
    let note = clean_comment(req.note.as_deref(), !approve)?;
    if approve && route == Route::Meeting && note.is_none() {
        return Err(ApiError::new(Code::TempAidMeetingRecordRequired));
    }
    let at = now_ms();
    let follow_up = super::tasks::follow_up(db, &case, &actor.account.id).await?;
    let txn = db.begin().await?;
    let done = temp_aid_approval::Entity::update_many()
        .col_expr(
            temp_aid_approval::Column::Status,
            Expr::value(if approve { "approved" } else { "refused" }),
        )
        .col_expr(
            temp_aid_approval::Column::DecidedBy,
            Expr::value(actor.account.id.clone()),
        )
        .col_expr(temp_aid_approval::Column::DecidedAtMs, Expr::value(at))
        .col_expr(temp_aid_approval::Column::Note, Expr::value(note.clone()))
        .filter(temp_aid_approval::Column::Id.eq(pending.id.as_str()))
        .filter(temp_aid_approval::Column::Status.eq("pending"))
        .exec(&txn)
        .await?;
    if done.rows_affected != 1 {
        return Err(wrong_state(&case.status));
    }
    let to = if approve {
        // The approval covers the 先行救助 already given on the case.
        temp_aid_payment::Entity::update_many()
            .col_expr(
                temp_aid_payment::Column::ApprovalId,
                Expr::value(pending.id.clone()),
            )
            .filter(temp_aid_payment::Column::CaseId.eq(case_id))
            .filter(temp_aid_payment::Column::ApprovalId.is_null())
            .exec(&txn)
            .await?;
        if remaining(&txn, &pending).await? > 0 {
            Status::Approved
        } else {
            Status::Paid
        }
    } else {
        Status::Refused
    };
    step(
        &txn,
        actor,
        &case,
        if approve { "approve" } else { "refuse" },
        &[Status::Pending],
        to,
        Vec::new(),
        Some(pending.amount_fen),
        note,
    )
    .await?;
    if to == Status::Paid
        && let Some(q) = &follow_up
    {
        super::tasks::store(&txn, q).await?;
    }
    txn.commit().await?;
    detail(db, visible(db, actor, Action::ReadCase, case_id).await?).await
}

/// What an approval leaves to pay, fen.
async fn remaining<C: ConnectionTrait>(
    db: &C,
    approval: &temp_aid_approval::Model,
) -> ApiResult<i64> {
    let paid: i64 = temp_aid_payment::Entity::find()
        .filter(temp_aid_payment::Column::ApprovalId.eq(approval.id.as_str()))
        .all(db)
        .await?
        .iter()
        .map(|p| p.amount_fen)
        .sum();
    Ok(approval.amount_fen - paid)
}

/// Record a payment of the approved amount (分阶段发放: several on one approval); the case is
/// 已发放 once the whole amount is paid.
pub async fn pay(
    db: &DatabaseConnection,
    actor: &Actor,
    case_id: &str,
    req: &PaymentRequest,
) -> ApiResult<CaseDetail> {
    let case = writable(db, actor, case_id).await?;
    let money = amount(req.amount_fen)?;
    let note = clean_comment(req.note.as_deref(), false)?;
    let Some(approval) = temp_aid_approval::Entity::find()
        .filter(temp_aid_approval::Column::CaseId.eq(case_id))
        .filter(temp_aid_approval::Column::Status.eq("approved"))
        .order_by_desc(temp_aid_approval::Column::Round)
        .one(db)
        .await?
        .filter(|_| case.status == Status::Approved.as_str())
    else {
        return Err(wrong_state(&case.status));
    };
    let today = deadlines::today().ok_or_else(|| ApiError::internal("no date"))?;
    let reported = deadlines::local_date(case.reported_at_ms).unwrap_or(today);
    let paid_on = match req
        .paid_on
        .as_deref()
        .map(str::trim)
        .filter(|d| !d.is_empty())
    {
        None => today,
        Some(d) => match chrono::NaiveDate::parse_from_str(d, "%Y-%m-%d") {
            Ok(d) if d >= reported && d <= today => d,
            _ => {
                return Err(invalid(
                    "paid_on",
                    format!("发放日期应在报告日（{reported}）与今天之间，如 {today}。"),
                    "paid_on must be a date YYYY-MM-DD between the report and today.",
                ));
            }
        },
    };
    let follow_up = super::tasks::follow_up(db, &case, &actor.account.id).await?;
    let txn = db.begin().await?;
    let left = remaining(&txn, &approval).await?;
    if money.0 > left {
        return Err(ApiError::new(Code::TempAidPaymentExceedsApproval)
            .with_details(serde_json::json!({ "remaining_fen": left })));
    }
    let to = if money.0 == left {
        Status::Paid
    } else {
        Status::Approved
    };
    let mut set = Vec::new();
    if case.aid_given_at_ms.is_none() {
        // The first payment of a case without 先行救助 is when aid was given.
        set.push((temp_aid_case::Column::AidGivenAtMs, Expr::value(now_ms())));
    }
    step(
        &txn,
        actor,
        &case,
        "pay",
        &[Status::Approved],
        to,
        set,
        Some(money.0),
        note.clone(),
    )
    .await?;
    payment(
        &txn,
        actor,
        &case,
        Some(approval.id.clone()),
        "staged",
        money,
        paid_on.to_string(),
        note,
    )
    .await?;
    if to == Status::Paid
        && let Some(q) = &follow_up
    {
        super::tasks::store(&txn, q).await?;
    }
    txn.commit().await?;
    detail(db, visible(db, actor, Action::ReadCase, case_id).await?).await
}

/// Close a case (结案) with a note: once paid or refused, or when a registered case needs no
/// aid after all. A case with 先行救助 given waits for its paperwork.
pub async fn close(
    db: &DatabaseConnection,
    actor: &Actor,
    case_id: &str,
    req: &CloseRequest,
) -> ApiResult<CaseDetail> {
    let case = writable(db, actor, case_id).await?;
    let note = clean_comment(Some(&req.note), true).map_err(|e| {
        if e.code == Code::ReviewCommentRequired {
            e.with_message("结案须填写说明。", "Closing a case needs a note.")
        } else {
            e
        }
    })?;
    let txn = db.begin().await?;
    step(
        &txn,
        actor,
        &case,
        "close",
        &[Status::Registered, Status::Paid, Status::Refused],
        Status::Closed,
        Vec::new(),
        None,
        note,
    )
    .await?;
    super::tasks::supersede(&txn, case_id).await?;
    txn.commit().await?;
    detail(db, visible(db, actor, Action::ReadCase, case_id).await?).await
}
