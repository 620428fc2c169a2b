//! Records and enums of the public API.

use doudi_protocol::doc::{self as pdoc, visit as pvisit};

/// The logged-in account.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize, uniffi::Record)]
pub struct AccountInfo {
    pub id: String,
    pub username: String,
    pub display_name: String,
    /// `grid_worker`, `assistant`, `village_cadre`, ...
    pub role: String,
    /// Codes of the regions the account works in (grids, villages, ...).
    pub regions: Vec<String>,
    /// The id the server gave this phone.
    pub device_id: String,
}

/// What an enrolment QR code (手机登录二维码) holds: the server to open the client with and the
/// one-time code to pass to `enrol` (docs/PROTOCOL.md, "Enrolment").
#[derive(Debug, Clone, PartialEq, Eq, uniffi::Record)]
pub struct EnrolmentQr {
    /// `https://…` (or `http://…`), without a trailing slash.
    pub server_url: String,
    /// The code, 16 characters.
    pub code: String,
}

/// A household in a list (户).
#[derive(Debug, Clone, PartialEq, Eq, uniffi::Record)]
pub struct HouseholdSummary {
    pub id: String,
    /// Grid code (网格).
    pub grid: String,
    /// Name of the head of household (户主).
    pub head_name: String,
    /// The head's 身份证号, masked: first 6 + `****` + last 4.
    pub head_id_masked: Option<String>,
    pub address: String,
    /// Programmes in Chinese (低保, 特困分散供养, ...).
    pub programmes: Vec<String>,
    pub member_count: u32,
}

/// A member of a household.
#[derive(Debug, Clone, PartialEq, Eq, uniffi::Record)]
pub struct MemberInfo {
    pub id: String,
    pub name: String,
    pub id_number_masked: Option<String>,
    /// The whole 身份证号, when this phone holds it: captured here, or sent by the server to
    /// grid workers and assistants. Show it only where the work needs it.
    pub id_number: Option<String>,
    /// Relation code (`head`, `spouse`, ...).
    pub relation: String,
    /// Relation in Chinese (户主, 配偶, ...).
    pub relation_label: String,
    /// False once the member has left the household (减员).
    pub current: bool,
}

/// A visit in a list.
#[derive(Debug, Clone, PartialEq, Eq, uniffi::Record)]
pub struct VisitSummary {
    pub id: String,
    pub household_id: String,
    pub purpose: VisitPurpose,
    /// `draft`, `submitted`, `returned`, `approved`, `rejected`, `confirmed`, `closed`.
    pub status: String,
    /// Status in Chinese (草稿, 已提交, 已退回, ...).
    pub status_label: String,
    /// Unix milliseconds.
    pub started_at: Option<i64>,
    pub photo_count: u32,
    /// The last reviewer's comment (审核意见), e.g. why a visit was returned.
    pub review_comment: Option<String>,
}

/// A household with its members and visit history.
#[derive(Debug, Clone, PartialEq, Eq, uniffi::Record)]
pub struct HouseholdDetail {
    pub summary: HouseholdSummary,
    pub hukou_type: Option<String>,
    pub registered_address: Option<String>,
    pub members: Vec<MemberInfo>,
    /// Newest first.
    pub visits: Vec<VisitSummary>,
}

/// A photo or signature of a visit.
#[derive(Debug, Clone, PartialEq, Eq, uniffi::Record)]
pub struct AttachmentInfo {
    /// SHA-256 of the stored image: its address.
    pub hash: String,
    /// Photo category code, or the signer's role for a signature.
    pub category: String,
    pub caption: Option<String>,
    /// Unix milliseconds.
    pub at: Option<i64>,
    /// False while the image waits for upload.
    pub uploaded: bool,
}

/// One visit in full.
#[derive(Debug, Clone, PartialEq, Eq, uniffi::Record)]
pub struct VisitDetail {
    pub summary: VisitSummary,
    /// The discovery report a 主动发现核查 verifies.
    pub report_id: Option<String>,
    /// 申请救助类别 of an application's investigation (入户调查).
    pub applied_for: Option<AppliedFor>,
    /// 申请受理: the application an investigation belongs to, where it is recorded.
    pub application: Option<ApplicationInput>,
    /// Where the application stands today (办理环节); `None` for a visit of another purpose.
    pub case_stage: Option<CaseStage>,
    /// The application's statutory clocks (办理时限), counted on the phone as the server counts
    /// them; `None` for a visit of another purpose.
    pub case_clock: Option<CaseClockInfo>,
    pub ended_at: Option<i64>,
    pub investigators: Vec<InvestigatorInput>,
    pub living: LivingConditions,
    pub conclusion: Option<Conclusion>,
    pub conclusion_notes: Option<String>,
    pub photos: Vec<AttachmentInfo>,
    pub signatures: Vec<AttachmentInfo>,
}

/// Why a visit is made.
#[derive(Debug, Clone, Copy, PartialEq, Eq, uniffi::Enum)]
pub enum VisitPurpose {
    /// 入户调查
    Investigation,
    /// 复核
    Recheck,
    /// 探访
    CareVisit,
    /// 预警核查
    AlertCheck,
    /// 回访
    FollowUp,
    /// 主动发现核查: verifies a discovery report (start it with `start_report_visit`)
    DiscoveryCheck,
    /// 急难核查: verifies a 临时救助 急难 case (a `temp_aid_check` task) at the household
    EmergencyCheck,
}

/// The statutory clocks of an application (办理时限): due dates `YYYY-MM-DD` (China time), each
/// `None` when not yet running or when it falls in a year the phone's working-day calendar does
/// not cover (then `calendar_unknown`: 日历未知, never counted Monday to Friday).
#[derive(Debug, Clone, PartialEq, Eq, uniffi::Record)]
pub struct CaseClockInfo {
    /// The day the clocks start: the acceptance (受理日期), else the submission.
    pub starts_on: String,
    /// 调查启动: the investigation starts by this day.
    pub investigation_due: Option<String>,
    /// 乡镇审核: the township's opinion.
    pub town_due: Option<String>,
    /// 县级审核确认: once the township has approved.
    pub county_due: Option<String>,
    /// 办理总时限: the whole case (not for 特困).
    pub case_due: Option<String>,
    pub calendar_unknown: bool,
}

/// Where an application stands in its procedure (办理环节): 调查 → 乡镇初审 → 公示 → (异议) →
/// 审核确认 → 批准 or 不予批准.
#[derive(Debug, Clone, Copy, PartialEq, Eq, uniffi::Enum)]
pub enum CaseStage {
    /// 入户调查 (or 复查 after a return): the phone records it
    Investigating,
    /// 乡镇初审
    TownReview,
    /// 公示中
    Notice,
    /// 异议处理: an objection waits for a 民主评议 or a re-investigation
    Objection,
    /// 审核确认
    CountyReview,
    /// 已批准 (公布)
    Approved,
    /// 不予批准 (书面告知)
    Refused,
}

impl From<pdoc::visit::CaseStage> for CaseStage {
    fn from(s: pdoc::visit::CaseStage) -> Self {
        use pdoc::visit::CaseStage as S;
        match s {
            S::Investigating => CaseStage::Investigating,
            S::TownReview => CaseStage::TownReview,
            S::Notice => CaseStage::Notice,
            S::Objection => CaseStage::Objection,
            S::CountyReview => CaseStage::CountyReview,
            S::Approved => CaseStage::Approved,
            S::Refused => CaseStage::Refused,
        }
    }
}

/// How an application reached the township (申请方式).
#[derive(Debug, Clone, Copy, PartialEq, Eq, uniffi::Enum)]
pub enum ApplicationChannel {
    /// 书面申请
    InPerson,
    /// 网上申请
    Online,
    /// 代办: by the village committee or another person, with a power of attorney (委托书)
    Proxy,
}

impl From<ApplicationChannel> for pdoc::visit::ApplicationChannel {
    fn from(c: ApplicationChannel) -> Self {
        use pdoc::visit::ApplicationChannel as C;
        match c {
            ApplicationChannel::InPerson => C::InPerson,
            ApplicationChannel::Online => C::Online,
            ApplicationChannel::Proxy => C::Proxy,
        }
    }
}

impl From<pdoc::visit::ApplicationChannel> for ApplicationChannel {
    fn from(c: pdoc::visit::ApplicationChannel) -> Self {
        use pdoc::visit::ApplicationChannel as C;
        match c {
            C::InPerson => ApplicationChannel::InPerson,
            C::Online => ApplicationChannel::Online,
            C::Proxy => ApplicationChannel::Proxy,
        }
    }
}

/// The application an investigation belongs to, as the township accepted it (申请受理): its
/// `accepted_on` starts every clock of the case on the server.
#[derive(Debug, Clone, PartialEq, Eq, uniffi::Record)]
pub struct ApplicationInput {
    /// 受理日期, `YYYY-MM-DD` (China time); not after the day the visit started.
    pub accepted_on: String,
    pub channel: ApplicationChannel,
    /// 代办人: required for `Proxy`.
    pub proxy_name: Option<String>,
    /// 委托书: the hash of the visit's photo of the power of attorney; required for `Proxy`.
    pub authorisation_photo: Option<String>,
    /// 诚信承诺书 signed: required before submitting.
    pub pledge_signed: bool,
    /// 家庭经济状况核对授权书 signed: required before submitting.
    pub data_check_authorised: bool,
    /// 近亲属备案: a member is a close relative of social-assistance staff or village cadres.
    pub kin_filing: bool,
}

/// The programme an application is for (申请救助类别), named on its investigation.
#[derive(Debug, Clone, Copy, PartialEq, Eq, uniffi::Enum)]
pub enum AppliedFor {
    /// 低保
    Dibao,
    /// 特困分散供养
    TekunDispersed,
    /// 特困集中供养
    TekunCentralized,
    /// 低保边缘
    NearDibao,
    /// 刚性支出困难
    RigidExpenditure,
}

impl From<AppliedFor> for pdoc::household::Programme {
    fn from(p: AppliedFor) -> Self {
        use pdoc::household::Programme as P;
        match p {
            AppliedFor::Dibao => P::Dibao,
            AppliedFor::TekunDispersed => P::TekunDispersed,
            AppliedFor::TekunCentralized => P::TekunCentralized,
            AppliedFor::NearDibao => P::NearDibao,
            AppliedFor::RigidExpenditure => P::RigidExpenditure,
        }
    }
}

impl AppliedFor {
    /// The application programme of a stored one; `None` for a programme no one applies for
    /// with an investigation (临时救助, 监测对象).
    pub fn of(p: pdoc::household::Programme) -> Option<AppliedFor> {
        use pdoc::household::Programme as P;
        Some(match p {
            P::Dibao => AppliedFor::Dibao,
            P::TekunDispersed => AppliedFor::TekunDispersed,
            P::TekunCentralized => AppliedFor::TekunCentralized,
            P::NearDibao => AppliedFor::NearDibao,
            P::RigidExpenditure => AppliedFor::RigidExpenditure,
            P::TemporaryAssistance | P::Monitored => return None,
        })
    }
}

impl From<VisitPurpose> for pvisit::Purpose {
    fn from(p: VisitPurpose) -> Self {
        match p {
            VisitPurpose::Investigation => pvisit::Purpose::Investigation,
            VisitPurpose::Recheck => pvisit::Purpose::Recheck,
            VisitPurpose::CareVisit => pvisit::Purpose::CareVisit,
            VisitPurpose::AlertCheck => pvisit::Purpose::AlertCheck,
            VisitPurpose::FollowUp => pvisit::Purpose::FollowUp,
            VisitPurpose::DiscoveryCheck => pvisit::Purpose::DiscoveryCheck,
            VisitPurpose::EmergencyCheck => pvisit::Purpose::EmergencyCheck,
        }
    }
}

impl From<pvisit::Purpose> for VisitPurpose {
    fn from(p: pvisit::Purpose) -> Self {
        match p {
            pvisit::Purpose::Investigation => VisitPurpose::Investigation,
            pvisit::Purpose::Recheck => VisitPurpose::Recheck,
            pvisit::Purpose::CareVisit => VisitPurpose::CareVisit,
            pvisit::Purpose::AlertCheck => VisitPurpose::AlertCheck,
            pvisit::Purpose::FollowUp => VisitPurpose::FollowUp,
            pvisit::Purpose::DiscoveryCheck => VisitPurpose::DiscoveryCheck,
            pvisit::Purpose::EmergencyCheck => VisitPurpose::EmergencyCheck,
        }
    }
}

/// Conclusion of an investigation (调查结论).
#[derive(Debug, Clone, Copy, PartialEq, Eq, uniffi::Enum)]
pub enum Conclusion {
    /// 属实
    Accurate,
    /// 部分属实
    PartlyAccurate,
    /// 不属实
    Inaccurate,
}

impl From<Conclusion> for pvisit::Conclusion {
    fn from(c: Conclusion) -> Self {
        match c {
            Conclusion::Accurate => pvisit::Conclusion::Accurate,
            Conclusion::PartlyAccurate => pvisit::Conclusion::PartlyAccurate,
            Conclusion::Inaccurate => pvisit::Conclusion::Inaccurate,
        }
    }
}

impl From<pvisit::Conclusion> for Conclusion {
    fn from(c: pvisit::Conclusion) -> Self {
        match c {
            pvisit::Conclusion::Accurate => Conclusion::Accurate,
            pvisit::Conclusion::PartlyAccurate => Conclusion::PartlyAccurate,
            pvisit::Conclusion::Inaccurate => Conclusion::Inaccurate,
        }
    }
}

/// What a photo shows.
#[derive(Debug, Clone, Copy, PartialEq, Eq, uniffi::Enum)]
pub enum PhotoCategory {
    /// 房屋外观
    DwellingOutside,
    /// 室内
    DwellingInside,
    /// 厨房
    Kitchen,
    /// 床铺被褥
    Bedding,
    /// 证件材料
    Document,
    /// 其他
    Other,
}

impl From<PhotoCategory> for pdoc::PhotoCategory {
    fn from(c: PhotoCategory) -> Self {
        match c {
            PhotoCategory::DwellingOutside => pdoc::PhotoCategory::DwellingOutside,
            PhotoCategory::DwellingInside => pdoc::PhotoCategory::DwellingInside,
            PhotoCategory::Kitchen => pdoc::PhotoCategory::Kitchen,
            PhotoCategory::Bedding => pdoc::PhotoCategory::Bedding,
            PhotoCategory::Document => pdoc::PhotoCategory::Document,
            PhotoCategory::Other => pdoc::PhotoCategory::Other,
        }
    }
}

/// Who signs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, uniffi::Enum)]
pub enum SignerRole {
    /// 调查人员 (give the account id)
    Investigator,
    /// 家庭成员 (give the member id: each member present signs)
    Family,
    /// 村干部
    Cadre,
}

impl From<SignerRole> for pvisit::SignerRole {
    fn from(r: SignerRole) -> Self {
        match r {
            SignerRole::Investigator => pvisit::SignerRole::Investigator,
            SignerRole::Family => pvisit::SignerRole::Family,
            SignerRole::Cadre => pvisit::SignerRole::Cadre,
        }
    }
}

/// An investigator (调查人员) of a visit.
#[derive(Debug, Clone, PartialEq, Eq, uniffi::Record)]
pub struct InvestigatorInput {
    pub account_id: String,
    pub name: String,
}

/// What the visit found about an existing member.
#[derive(Debug, Clone, PartialEq, Eq, uniffi::Record)]
pub struct MemberCheckInput {
    pub member_id: String,
    /// 在场
    pub present: bool,
    /// 核实
    pub confirmed: bool,
    /// 减员
    pub removed: bool,
    pub removal_reason: Option<String>,
    /// 未签字原因: why a member present does not sign (refused, a minor, unable to write). Each
    /// member present signs (DB2021 art. 16): `attach_signature` with role `Family` and this
    /// member's id, or this reason.
    #[uniffi(default = None)]
    pub not_signed_reason: Option<String>,
    pub note: Option<String>,
}

/// A person found at the visit who is not on record yet (增员).
#[derive(Debug, Clone, PartialEq, Eq, uniffi::Record)]
pub struct NewMemberInput {
    pub name: String,
    /// 18-character 身份证号, checked locally.
    pub id_number: Option<String>,
    /// Relation code (`spouse`, `child`, ...).
    pub relation: String,
    pub note: Option<String>,
}

/// Observed living conditions (吃穿住用).
#[derive(Debug, Clone, PartialEq, Eq, Default, uniffi::Record)]
pub struct LivingConditions {
    pub food: Option<String>,
    pub clothing: Option<String>,
    pub housing: Option<String>,
    pub daily_goods: Option<String>,
}

/// Income or an asset as declared and as seen (收入核对).
#[derive(Debug, Clone, PartialEq, Eq, uniffi::Record)]
pub struct IncomeNoteInput {
    /// True for an asset (财产), false for income (收入).
    pub is_asset: bool,
    pub description: String,
    /// Amounts in fen (分).
    pub declared_fen: Option<i64>,
    pub observed_fen: Option<i64>,
    pub note: Option<String>,
}

/// A problem with a field, found locally or by the server.
#[derive(Debug, Clone, PartialEq, Eq, uniffi::Record)]
pub struct FieldIssue {
    /// Field path, e.g. `investigators` or `members_added.<id>.id_number`.
    pub path: String,
    pub code: String,
    pub message_zh: String,
    pub message_en: String,
    /// False for a warning that does not block submission.
    pub blocking: bool,
}

/// What `submit_visit` did.
#[derive(Debug, Clone, PartialEq, Eq, uniffi::Record)]
pub struct SubmitOutcome {
    /// True when the visit is now submitted (it goes to the server at the next sync).
    pub submitted: bool,
    /// Blocking issues (then nothing changed) and warnings.
    pub issues: Vec<FieldIssue>,
}

/// A proactive-discovery report (主动发现报告).
#[derive(Debug, Clone, PartialEq, uniffi::Record)]
pub struct ReportInput {
    /// A household already on record, or None for a new person/address.
    pub household_id: Option<String>,
    pub person_name: Option<String>,
    pub person_id_number: Option<String>,
    pub address: Option<String>,
    pub phone: Option<String>,
    /// Grid for a new address; default: the household's grid or the account's first grid.
    pub grid: Option<String>,
    /// Channel code: `visit`, `self_report`, `hotline`, `data_match`, `referral`.
    pub channel: String,
    /// Group codes: `elderly`, `children`, `ill`, `disabled`, `hardship`, `disaster_hit`.
    pub target_groups: Vec<String>,
    /// `urgent`, `safety_net`, `needs_care`, `keep_watching`.
    pub urgency: String,
    /// 急难: help needed within 24 hours.
    pub emergency_24h: bool,
    pub notes: Option<String>,
    pub lat: Option<f64>,
    pub lon: Option<f64>,
}

/// A task assigned to this worker (任务): a discovery report to verify (核实), a re-check (复核) or
/// a visit (探访, 回访) that is due. Fetched with every sync and kept in the store: offline, the
/// list is the one of the last sync.
#[derive(Debug, Clone, PartialEq, Eq, uniffi::Record)]
pub struct Task {
    pub id: String,
    /// `verify_report`, `alert_check` (a monitoring alert to verify, 预警核查), `temp_aid_check`
    /// (a 临时救助 急难 case to verify, 急难核查), `temp_aid_follow_up` (its 回访), or the kind of
    /// re-check or visit the rules made due.
    pub kind: String,
    /// The visit to record for it.
    pub purpose: VisitPurpose,
    /// The discovery report to verify, for `verify_report`.
    pub report_id: Option<String>,
    /// The household it concerns, when it concerns one on record.
    pub household_id: Option<String>,
    /// The 临时救助 case, for `temp_aid_check` (急难: `due_at` is when its 先行救助 is due) and
    /// `temp_aid_follow_up`; `note` says who, where and what happened.
    pub case_id: Option<String>,
    /// The reviewer's note (指示).
    pub note: Option<String>,
    /// Unix milliseconds.
    pub created_at: i64,
    /// Unix milliseconds.
    pub due_at: Option<i64>,
}

/// Progress of a sync, reported after each round trip.
#[derive(Debug, Clone, PartialEq, Eq, uniffi::Record)]
pub struct SyncProgressInfo {
    pub round: u32,
    pub documents_sent: u32,
    pub documents_received: u32,
    pub bytes_sent: u64,
    pub bytes_received: u64,
    /// Photos and signatures uploaded so far in this sync.
    pub photos_uploaded: u32,
    /// Photos and signatures still to upload.
    pub photos_pending: u32,
    /// More pages follow.
    pub more: bool,
}

/// Receives sync progress (on a background thread).
#[uniffi::export(foreign)]
pub trait SyncProgress: Send + Sync {
    fn on_progress(&self, progress: SyncProgressInfo);
}

/// A document the server refused, with the reasons.
#[derive(Debug, Clone, PartialEq, Eq, uniffi::Record)]
pub struct RejectedDocument {
    pub id: String,
    pub code: String,
    pub message_zh: String,
    pub message_en: String,
    pub issues: Vec<FieldIssue>,
}

/// What a sync did.
#[derive(Debug, Clone, PartialEq, Eq, Default, uniffi::Record)]
pub struct SyncSummary {
    pub rounds: u32,
    pub documents_sent: u32,
    pub documents_received: u32,
    pub documents_purged: u32,
    pub bytes_sent: u64,
    pub bytes_received: u64,
    pub rejected: Vec<RejectedDocument>,
    /// Photos and signatures uploaded (or found already on the server) in this sync.
    pub photos_uploaded: u32,
    /// Photos and signatures still waiting for upload.
    pub pending_uploads: u32,
    /// Photos or signatures the server refused (bad image, over a limit); they stay on the phone.
    pub rejected_uploads: Vec<RejectedUpload>,
}

impl SyncSummary {
    /// The progress report of this sync so far.
    pub(crate) fn progress(&self, photos_pending: u32, more: bool) -> SyncProgressInfo {
        SyncProgressInfo {
            round: self.rounds,
            documents_sent: self.documents_sent,
            documents_received: self.documents_received,
            bytes_sent: self.bytes_sent,
            bytes_received: self.bytes_received,
            photos_uploaded: self.photos_uploaded,
            photos_pending,
            more,
        }
    }
}

/// A photo or signature the server refused.
#[derive(Debug, Clone, PartialEq, Eq, uniffi::Record)]
pub struct RejectedUpload {
    pub hash: String,
    pub code: String,
    pub message_zh: String,
    pub message_en: String,
}
