//! 临时救助 as a case (LS2018, GG2020 §15; docs/TEMPORARY_AID.md).
//!
//! A case is 急难型 (emergency: 先行救助 within `emergency_aid_hours` of the report, paperwork
//! after it) or 支出型 (expense: the full procedure). It is located by the region where the
//! emergency happened, not by the household's 户籍, so migrant workers are covered; that region
//! decides who reads and writes it. The approval route of each request comes from
//! [`Policy::temporary_aid_route`](doudi_protocol::rules::policy::Policy::temporary_aid_route)
//! against the household's yearly total of payments
//! ([`temporary_aid_yearly_total`](doudi_protocol::rules::policy::temporary_aid_yearly_total)):
//! the township up to its limit, the county above, 一事一议 at the county above the yearly cap.
//!
//! - [`read`] lists cases and shows one with its approvals, payments and timeline.
//! - [`flow`] opens a case (directly or from a discovery report), records the aid given, requests
//!   approval, decides, records payments (several per approval: 分阶段发放) and closes; a paid
//!   case may request 跟进救助 (follow-up aid) as a new round.
//!
//! Every read asks the access module (`read_review_lists` for lists, `read_case` in the case's
//! region), every write too (`review_visit`; `confirm_case` for the county's and 一事一议
//! decisions), and every write is audited.

pub mod flow;
pub mod read;
pub mod tasks;

pub use flow::{
    AidRequest, ApprovalRequest, CloseRequest, DecisionRequest, FromReportRequest, NewCase,
    PaymentRequest, close, decide, from_report, give_aid, open, pay, request_approval,
};
pub use read::{
    ApprovalView, CaseDetail, CaseFilter, CaseView, EventView, PaymentView, case, list,
    of_household,
};

/// Audit action of every change to a case (`detail.step` tells which).
pub const AUDIT: &str = "temp_aid.change";

/// Most cases listed at once.
pub const LIST_LIMIT: u64 = 500;
/// Longest place (address of the emergency), characters.
pub const MAX_PLACE_CHARS: usize = 200;
/// Largest amount of one request or payment: 1,000,000 yuan, in fen.
pub const MAX_AMOUNT_FEN: i64 = 100_000_000;
/// How far back a report time or a payment may be dated: 366 days.
pub const MAX_BACKDATE_DAYS: i64 = 366;
/// Clock skew tolerated on a time given as "now" by a client: 5 minutes.
pub const CLOCK_SKEW_MS: i64 = 5 * 60_000;

/// 救助类型.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// 急难型: 先行救助, paperwork after.
    Emergency,
    /// 支出型: the full procedure.
    Expense,
}

impl Kind {
    pub fn as_str(self) -> &'static str {
        match self {
            Kind::Emergency => "emergency",
            Kind::Expense => "expense",
        }
    }

    pub fn parse(s: &str) -> Option<Kind> {
        match s {
            "emergency" => Some(Kind::Emergency),
            "expense" => Some(Kind::Expense),
            _ => None,
        }
    }

    pub fn label_zh(self) -> &'static str {
        match self {
            Kind::Emergency => "急难型",
            Kind::Expense => "支出型",
        }
    }
}

/// The state of a case (docs/TEMPORARY_AID.md, "States").
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Status {
    /// 登记: opened.
    Registered,
    /// 已先行救助: 急难 aid given, paperwork (补办手续) due.
    AidGiven,
    /// 审批中: a request waits for its decision.
    Pending,
    /// 已批准: approved, not all paid yet.
    Approved,
    /// 不予批准.
    Refused,
    /// 已发放: every approved amount paid.
    Paid,
    /// 结案.
    Closed,
}

impl Status {
    pub const ALL: [Status; 7] = [
        Status::Registered,
        Status::AidGiven,
        Status::Pending,
        Status::Approved,
        Status::Refused,
        Status::Paid,
        Status::Closed,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Status::Registered => "registered",
            Status::AidGiven => "aid_given",
            Status::Pending => "pending",
            Status::Approved => "approved",
            Status::Refused => "refused",
            Status::Paid => "paid",
            Status::Closed => "closed",
        }
    }

    pub fn parse(s: &str) -> Option<Status> {
        Status::ALL.into_iter().find(|x| x.as_str() == s)
    }

    pub fn label_zh(self) -> &'static str {
        match self {
            Status::Registered => "登记",
            Status::AidGiven => "已先行救助",
            Status::Pending => "审批中",
            Status::Approved => "已批准",
            Status::Refused => "不予批准",
            Status::Paid => "已发放",
            Status::Closed => "结案",
        }
    }
}

/// Who approves a request (审批权限), as stored.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Route {
    /// 乡镇审批: within the township's limit.
    Township,
    /// 县级审批: above it.
    County,
    /// 一事一议 at the county: above the household's yearly cap.
    Meeting,
}

impl Route {
    pub fn as_str(self) -> &'static str {
        match self {
            Route::Township => "township",
            Route::County => "county",
            Route::Meeting => "meeting",
        }
    }

    pub fn parse(s: &str) -> Option<Route> {
        [Route::Township, Route::County, Route::Meeting]
            .into_iter()
            .find(|r| r.as_str() == s)
    }

    pub fn label_zh(self) -> &'static str {
        match self {
            Route::Township => "乡镇审批",
            Route::County => "县级审批",
            Route::Meeting => "县级一事一议",
        }
    }

    /// The permission a decision on this route needs: the township's 审核 for its own limit,
    /// the county's 确认 above it.
    pub fn action(self) -> crate::access::Action {
        match self {
            Route::Township => crate::access::Action::ReviewVisit,
            Route::County | Route::Meeting => crate::access::Action::ConfirmCase,
        }
    }
}

/// The Chinese label of a stored kind, status, route, payment stage or event action.
pub fn label_zh(code: &str) -> &'static str {
    Status::parse(code)
        .map(Status::label_zh)
        .or_else(|| Kind::parse(code).map(Kind::label_zh))
        .or_else(|| Route::parse(code).map(Route::label_zh))
        .unwrap_or(match code {
            "advance" => "先行救助",
            "staged" => "分阶段发放",
            "open" => "登记",
            "give_aid" => "先行救助",
            "request" => "提交审批（补办手续）",
            "follow_up" => "申请跟进救助",
            "approve" => "批准",
            "refuse" => "不予批准",
            "pay" => "发放",
            "close" => "结案",
            _ => "未知",
        })
}
