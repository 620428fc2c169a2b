//! A household's means captured on the phone, offline: members' circumstances, income items,
//! assets, rigid expenditure with receipts, legal supporters; and the household's assessment,
//! computed on the phone with the synced policy book by the same function the console runs
//! (`doudi_protocol::rules::assessment::assess_household`).
//!
//! What a visit finds is written straight into the household record, which is a document many
//! edit: every change carries the device and the account, the server keeps each one, and the
//! console shows a visit's reviewer the changes its investigators made to the household during
//! the visit (docs/REVIEW.md). Whether an income item counts is never entered: the rules derive it
//! from the item's type code.

use chrono::NaiveDate;
use doudi_protocol::doc::household::{self as h, Household, key as household_key};
use doudi_protocol::doc::{Issue, validate::has_errors};
use doudi_protocol::ids::{BlobHash, EntryId, MemberId};
use doudi_protocol::rules::assessment::{self, Context, Indicator, Status};
use doudi_protocol::rules::policy::{Per, PolicyBook};
use doudi_protocol::rules::{Text, income};
use doudi_protocol::sync::PolicyUpdate;

use crate::client::{DoudiClient, Inner, issue_of, now_ms};
use crate::error::{DoudiError, Result};
use crate::photo::{self, PhotoConfig};
use crate::regions::{META_POLICY_REGIONS, PolicyRegions};
use crate::sync::META_POLICY;

macro_rules! mirror_enum {
    (
        $(#[$meta:meta])*
        pub enum $name:ident => $proto:path { $( $(#[$vmeta:meta])* $variant:ident, )+ }
    ) => {
        $(#[$meta])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, uniffi::Enum)]
        pub enum $name {
            $( $(#[$vmeta])* $variant, )+
        }

        impl From<$name> for $proto {
            fn from(v: $name) -> Self {
                use $proto as P;
                match v { $( $name::$variant => P::$variant, )+ }
            }
        }

        impl From<$proto> for $name {
            fn from(v: $proto) -> Self {
                use $proto as P;
                match v { $( P::$variant => $name::$variant, )+ }
            }
        }
    };
}

mirror_enum! {
    /// 户籍 type: which 低保 standard (urban or rural) applies.
    pub enum HukouType => h::HukouType {
        /// 农村
        Rural,
        /// 城镇
        Urban,
    }
}

mirror_enum! {
    /// 健康状况.
    pub enum Health => h::Health {
        /// 健康
        Healthy,
        /// 一般或较弱
        Fair,
        /// 重病
        SeriouslyIll,
        /// 重残
        SeverelyDisabled,
    }
}

mirror_enum! {
    /// 残疾类别 on the disability card.
    pub enum DisabilityKind => h::DisabilityKind {
        /// 视力残疾
        Visual,
        /// 听力残疾
        Hearing,
        /// 言语残疾
        Speech,
        /// 肢体残疾
        Physical,
        /// 智力残疾
        Intellectual,
        /// 精神残疾
        Mental,
        /// 多重残疾
        Multiple,
    }
}

mirror_enum! {
    /// 劳动能力.
    pub enum WorkCapacity => h::WorkCapacity {
        /// 有劳动能力
        Able,
        /// 部分丧失劳动能力
        PartlyLost,
        /// 完全丧失劳动能力
        FullyLost,
    }
}

mirror_enum! {
    /// Why a registered member does not live with the household (DB2021 art. 7).
    pub enum NonResidentReason => h::NonResidentReason {
        /// 服刑
        Imprisoned,
        /// 强制隔离戒毒
        CompulsoryRehab,
        /// 宣告失踪
        Missing,
        /// 宗教教职人员 away 3 years or more
        Clergy,
        /// 其他 (say what in the note)
        Other,
    }
}

mirror_enum! {
    /// 收入类别 (DB2021 art. 13).
    pub enum IncomeClass => h::IncomeClass {
        /// 工资性收入
        Wages,
        /// 经营净收入
        Business,
        /// 财产净收入
        Property,
        /// 转移净收入
        Transfer,
        /// 其他收入
        Other,
    }
}

mirror_enum! {
    /// The period an amount refers to.
    pub enum Period => h::Period {
        /// 每月
        Month,
        /// 每季度
        Quarter,
        /// 每年
        Year,
        /// 一次性 (received in the last 12 months)
        Once,
    }
}

mirror_enum! {
    /// Where an income figure comes from.
    pub enum IncomeSource => h::IncomeSource {
        /// 申报: as the family declared it
        Declared,
        /// 入户核实: as seen at the visit
        Observed,
        /// 信息核对: from the data check
        DataCheck,
    }
}

mirror_enum! {
    /// 家庭财产 kind.
    pub enum AssetKind => h::AssetKind {
        /// 存款
        Deposit,
        /// 有价证券
        Securities,
        /// 商业保险
        Insurance,
        /// 机动车辆
        Vehicle,
        /// 房产
        Dwelling,
        /// 工商登记
        Business,
        /// 其他
        Other,
    }
}

mirror_enum! {
    /// 刚性支出 kind.
    pub enum ExpenditureKind => h::ExpenditureKind {
        /// 医疗 (out of pocket after insurance)
        Medical,
        /// 教育 (at public-school rates)
        Education,
        /// 残疾康复
        Rehabilitation,
        /// 其他
        Other,
    }
}

mirror_enum! {
    /// A daily activity of the 特困 self-care assessment (生活自理能力评估).
    pub enum DailyActivity => h::DailyActivity {
        /// 吃饭
        Eating,
        /// 穿衣
        Dressing,
        /// 上下床
        Transferring,
        /// 如厕
        Toileting,
        /// 室内行走
        WalkingIndoors,
        /// 洗澡
        Bathing,
    }
}

mirror_enum! {
    /// 自理能力: the tier an assessment gives (derived by the rules, never entered).
    pub enum SelfCareTier => income::SelfCare {
        /// 具备生活自理能力 (every activity managed)
        Able,
        /// 部分丧失生活自理能力 (1–3 not managed)
        PartlyLost,
        /// 完全丧失生活自理能力 (4 or more not managed)
        FullyLost,
    }
}

mirror_enum! {
    /// 探访计划 of a 分散供养 person.
    pub enum VisitPlan => h::VisitPlan {
        /// 每月探访
        Monthly,
        /// 每周探访
        Weekly,
    }
}

mirror_enum! {
    /// An item of the 五有 checklist.
    pub enum CarePlanItem => h::CarePlanItem {
        /// 照料服务协议
        Agreement,
        /// 照料服务标准
        ServiceStandard,
        /// 探访计划
        VisitPlan,
        /// 应急预案/紧急联系人
        EmergencyContact,
        /// 动态管理复核日期
        ReviewDate,
    }
}

/// A self-care assessment (生活自理能力评估) of a 特困 person.
#[derive(Debug, Clone, PartialEq, Eq, uniffi::Record)]
pub struct SelfCareAssessmentInput {
    /// `YYYY-MM-DD`, not after today.
    pub assessed_on: String,
    /// 评估人, not blank.
    pub assessor: String,
    /// The activities the person cannot manage, each at most once; empty when all are managed.
    pub not_managed: Vec<DailyActivity>,
}

/// A recorded self-care assessment with the tier it gives.
#[derive(Debug, Clone, PartialEq, Eq, uniffi::Record)]
pub struct SelfCareAssessmentInfo {
    pub assessment: SelfCareAssessmentInput,
    pub tier: SelfCareTier,
}

/// 照料服务协议.
#[derive(Debug, Clone, PartialEq, Eq, uniffi::Record)]
pub struct CareAgreementInput {
    /// 照料人, not blank.
    pub caregiver: String,
    /// `YYYY-MM-DD`.
    pub starts_on: String,
    /// `YYYY-MM-DD`, not before `starts_on` (typically a year later).
    pub ends_on: String,
}

/// The 五有 checklist of a 分散供养 person; each item none until known.
#[derive(Debug, Clone, PartialEq, Eq, uniffi::Record)]
pub struct CarePlanInput {
    pub agreement: Option<CareAgreementInput>,
    /// 照料服务标准, as text.
    pub service_standard: Option<String>,
    pub visit_plan: Option<VisitPlan>,
    /// 应急预案 or 紧急联系人 (name and telephone).
    pub emergency_contact: Option<String>,
    /// 动态管理: the next yearly re-check date, `YYYY-MM-DD`.
    pub review_on: Option<String>,
}

/// A member's self-care record and 五有 checklist (特困).
#[derive(Debug, Clone, PartialEq, Eq, uniffi::Record)]
pub struct MemberCare {
    /// Oldest first.
    pub assessments: Vec<SelfCareAssessmentInfo>,
    /// The tier of the latest assessment (by date), if any.
    pub tier: Option<SelfCareTier>,
    /// A reported change in the person's condition, `YYYY-MM-DD`.
    pub change_reported_on: Option<String>,
    /// Whether that change still waits for an assessment dated on or after it.
    pub reassessment_due: bool,
    pub care_plan: Option<CarePlanInput>,
    /// The 五有 items not recorded yet (all five without a plan); they matter for a 分散供养
    /// (`tekun_dispersed`) household.
    pub care_plan_missing: Vec<CarePlanItem>,
}

/// A member's circumstances (DOMAIN "Household data").
#[derive(Debug, Clone, PartialEq, Eq, uniffi::Record)]
pub struct MemberDetails {
    /// 共同生活: counts for the household's size.
    pub co_resident: bool,
    /// Required when not co-resident (DB2021 art. 7).
    pub non_resident_reason: Option<NonResidentReason>,
    pub non_resident_note: Option<String>,
    pub health: Option<Health>,
    /// 所患疾病
    pub disease: Option<String>,
    /// With `disability_grade`, or neither.
    pub disability_kind: Option<DisabilityKind>,
    /// 1 (most severe) to 4.
    pub disability_grade: Option<u8>,
    pub work_capacity: Option<WorkCapacity>,
    /// 在学情况
    pub schooling: Option<String>,
    /// 就业情况
    pub employment: Option<String>,
}

/// A member with their circumstances.
#[derive(Debug, Clone, PartialEq, Eq, uniffi::Record)]
pub struct MemberMeans {
    pub member_id: String,
    pub name: String,
    /// Relation code (`head`, `spouse`, ...).
    pub relation: String,
    /// False once the member has left the household (减员).
    pub current: bool,
    pub details: MemberDetails,
    /// 特困: self-care assessments and the 五有 checklist.
    pub care: MemberCare,
}

/// An income item (收入).
#[derive(Debug, Clone, PartialEq, Eq, uniffi::Record)]
pub struct IncomeInput {
    /// The member who earns it; none for the household as a whole.
    pub member_id: Option<String>,
    pub income_class: IncomeClass,
    /// A type code from `income_kinds`: the national list or the region's own.
    pub kind: String,
    /// In fen per `period`, ≥ 0 (a net loss is entered as 0).
    pub amount_fen: i64,
    pub period: Period,
    /// 佐证材料: payslip, bank statement, a neighbour's account...
    pub evidence: Option<String>,
    pub source: IncomeSource,
}

/// An asset (家庭财产).
#[derive(Debug, Clone, PartialEq, Eq, uniffi::Record)]
pub struct AssetInput {
    pub kind: AssetKind,
    pub owner_member_id: Option<String>,
    pub description: Option<String>,
    /// In fen, ≥ 0.
    pub value_fen: i64,
    /// 豁免理由: why the asset is exempt from the asset test (e.g. a disabled person's vehicle).
    pub exemption: Option<String>,
}

/// A rigid expenditure item (刚性支出); receipts are attached with `attach_receipt`.
#[derive(Debug, Clone, PartialEq, Eq, uniffi::Record)]
pub struct ExpenditureInput {
    pub kind: ExpenditureKind,
    pub member_id: Option<String>,
    pub description: Option<String>,
    /// In fen, ≥ 0: medical costs out of pocket after insurance.
    pub amount_fen: i64,
    /// `YYYY-MM-DD`, not after today: the assessment counts the 12 months before its date.
    pub incurred_on: String,
}

/// A legal supporter living elsewhere (赡养 / 抚养 / 扶养义务人).
#[derive(Debug, Clone, PartialEq, Eq, uniffi::Record)]
pub struct SupporterInput {
    pub name: String,
    /// Relation to the household, e.g. 长子.
    pub relation: String,
    /// 18-character 身份证号, sealed on the phone; none keeps the one recorded.
    pub id_number: Option<String>,
    /// Whether able to support; none while not assessed.
    pub able_to_support: Option<bool>,
    /// Why not, required when not able.
    pub unable_reason: Option<String>,
    /// Support actually paid to the household, in fen, with its period.
    pub support_paid_fen: Option<i64>,
    pub support_paid_period: Option<Period>,
}

#[derive(Debug, Clone, PartialEq, Eq, uniffi::Record)]
pub struct IncomeEntry {
    pub id: String,
    pub income: IncomeInput,
}

#[derive(Debug, Clone, PartialEq, Eq, uniffi::Record)]
pub struct AssetEntry {
    pub id: String,
    pub asset: AssetInput,
}

#[derive(Debug, Clone, PartialEq, Eq, uniffi::Record)]
pub struct ExpenditureEntry {
    pub id: String,
    pub expenditure: ExpenditureInput,
    /// SHA-256 of each receipt image.
    pub receipts: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, uniffi::Record)]
pub struct SupporterEntry {
    pub id: String,
    /// As recorded; `id_number` is the number this phone holds in clear, if any.
    pub supporter: SupporterInput,
    pub id_number_masked: Option<String>,
}

/// What the household record holds about the household's means.
#[derive(Debug, Clone, PartialEq, Eq, uniffi::Record)]
pub struct HouseholdMeans {
    pub hukou_type: Option<HukouType>,
    /// Programmes (set by decisions only), as codes.
    pub programmes: Vec<String>,
    pub members: Vec<MemberMeans>,
    pub income: Vec<IncomeEntry>,
    pub assets: Vec<AssetEntry>,
    pub expenditures: Vec<ExpenditureEntry>,
    pub supporters: Vec<SupporterEntry>,
}

/// An income type a worker can choose.
#[derive(Debug, Clone, PartialEq, Eq, uniffi::Record)]
pub struct IncomeKindInfo {
    pub code: String,
    pub name: String,
    /// From the national list (else the region's own).
    pub national: bool,
}

/// A sentence in Chinese with its English counterpart.
#[derive(Debug, Clone, PartialEq, Eq, uniffi::Record)]
pub struct Line {
    pub zh: String,
    pub en: String,
}

impl From<&Text> for Line {
    fn from(t: &Text) -> Line {
        Line {
            zh: t.zh.clone(),
            en: t.en.clone(),
        }
    }
}

/// The 低保 standard in force and where it comes from.
#[derive(Debug, Clone, PartialEq, Eq, uniffi::Record)]
pub struct StandardInfo {
    /// `urban` or `rural`.
    pub area: String,
    /// Per person per month, for display (a yearly standard ÷ 12).
    pub monthly_fen: i64,
    /// As published.
    pub amount_fen: i64,
    /// `month` or `year`.
    pub per: String,
    /// The region whose policy sets it; none for the national layer.
    pub region: Option<String>,
    /// `YYYY-MM-DD`.
    pub effective_from: String,
    /// The document it comes from.
    pub source: Option<String>,
    pub line: Line,
}

/// Which indicator.
#[derive(Debug, Clone, Copy, PartialEq, Eq, uniffi::Enum)]
pub enum IndicatorKind {
    /// 低保
    Dibao,
    /// 低保边缘
    NearDibao,
    /// 特困
    Tekun,
    /// 刚性支出困难
    RigidExpenditure,
    /// 财产超出限额
    Assets,
    /// 参照单人户
    SinglePerson,
}

/// An indicator's outcome.
#[derive(Debug, Clone, Copy, PartialEq, Eq, uniffi::Enum)]
pub enum IndicatorStatus {
    Met,
    NotMet,
    /// Something it needs is missing (see `missing`).
    NotEvaluated,
}

/// One indicator: a hint for the investigator, not a decision.
#[derive(Debug, Clone, PartialEq, Eq, uniffi::Record)]
pub struct IndicatorInfo {
    pub kind: IndicatorKind,
    pub status: IndicatorStatus,
    /// Every item and rule used, in order.
    pub explanation: Vec<Line>,
}

/// A household's assessment: hints for the investigator, never decisions.
#[derive(Debug, Clone, PartialEq, Eq, uniffi::Record)]
pub struct MeansAssessment {
    /// `YYYY-MM-DD`.
    pub as_of: String,
    /// The region whose policy was used (the household's village), if known.
    pub region: Option<String>,
    pub standard: Option<StandardInfo>,
    pub household_size: Option<u32>,
    pub annual_income_fen: Option<i64>,
    pub per_capita_monthly_fen: Option<i64>,
    /// The 低保 amount per month.
    pub dibao_amount_fen: Option<i64>,
    pub indicators: Vec<IndicatorInfo>,
    /// What a verdict still needs.
    pub missing: Vec<Line>,
    /// "提示，不是结论".
    pub notice: Line,
}

fn indicator(kind: IndicatorKind, i: &Indicator) -> IndicatorInfo {
    IndicatorInfo {
        kind,
        status: match i.status {
            Status::Met => IndicatorStatus::Met,
            Status::NotMet => IndicatorStatus::NotMet,
            Status::NotEvaluated => IndicatorStatus::NotEvaluated,
        },
        explanation: i.explanation.iter().map(Line::from).collect(),
    }
}

fn member_id(field: &str, id: &str) -> Result<MemberId> {
    MemberId::parse(id).map_err(|_| DoudiError::invalid(field, "成员编号不正确", "not a member id"))
}

fn entry_id(id: &str) -> Result<EntryId> {
    EntryId::parse(id).map_err(|_| DoudiError::invalid("entry_id", "编号不正确", "not an entry id"))
}

fn opt_member(field: &str, id: Option<&str>) -> Result<Option<MemberId>> {
    id.map(|m| member_id(field, m)).transpose()
}

/// China's date today.
fn today() -> NaiveDate {
    (chrono::Utc::now() + chrono::Duration::hours(8)).date_naive()
}

fn date(field: &str, s: &str) -> Result<NaiveDate> {
    NaiveDate::parse_from_str(s, "%Y-%m-%d").map_err(|_| {
        DoudiError::invalid(
            field,
            "日期格式应为“年-月-日”，如 2026-03-01",
            "a date is YYYY-MM-DD",
        )
    })
}

/// The first error among the issues of the part of the household at `path`: the document's own
/// rules, so that a capture the server would refuse is refused at once.
fn refuse_errors(h: &Household, path: &str) -> Result<()> {
    let mut issues: Vec<Issue> = Vec::new();
    doudi_protocol::doc::DocumentContent::validate(h, &mut issues);
    issues.retain(|i| i.path == path || i.path.starts_with(&format!("{path}.")));
    if !has_errors(&issues) {
        return Ok(());
    }
    let first = issues
        .iter()
        .find(|i| i.severity == doudi_protocol::doc::Severity::Error)
        .map(issue_of)
        .ok_or_else(|| DoudiError::internal("an error without an issue"))?;
    Err(DoudiError::InvalidInput {
        field: first.path,
        message_zh: first.message_zh,
        message_en: first.message_en,
    })
}

impl Inner {
    /// The statutory clocks of the application whose investigation `v` of grid `scope` is, as
    /// the server counts them (`rules::calendar::case_clock`) with the policy in force where and
    /// when it was accepted and the working-day calendar this library carries. `None` for a
    /// visit of another purpose, or an investigation with neither an acceptance nor a
    /// submission yet.
    pub(crate) fn case_clock_of(
        &self,
        scope: &str,
        v: &doudi_protocol::doc::Visit,
    ) -> Result<Option<crate::CaseClockInfo>> {
        use doudi_protocol::doc::visit::ReviewOutcome;
        use doudi_protocol::rules::calendar::{CalendarError, WorkCalendar, case_clock};
        if !v.purpose.needs_county_confirmation() {
            return Ok(None);
        }
        let Some(start) = v
            .application
            .as_ref()
            .map(|a| a.accepted_on)
            .or_else(|| v.submitted_at.and_then(|t| t.china_date()))
        else {
            return Ok(None);
        };
        let (book, region) = self.policy_for(scope)?;
        let policy = resolve(&book, region.as_deref(), start);
        let calendar = WorkCalendar::built_in();
        let approved = v
            .reviews
            .iter()
            .filter(|r| r.decision == ReviewOutcome::Approve)
            .map(|r| r.at)
            .max()
            .and_then(|t| t.china_date());
        let tekun = matches!(
            v.applied_for,
            Some(h::Programme::TekunDispersed | h::Programme::TekunCentralized)
        );
        let c = case_clock(
            calendar,
            &policy,
            start,
            approved,
            tekun,
            v.extension.is_some(),
        );
        let mut unknown = false;
        let mut day = |r: Result<NaiveDate, CalendarError>| match r {
            Ok(d) => Some(d.to_string()),
            Err(CalendarError::YearNotCovered(_)) => {
                unknown = true;
                None
            }
            Err(_) => None,
        };
        Ok(Some(crate::CaseClockInfo {
            starts_on: start.to_string(),
            investigation_due: day(c.investigation),
            town_due: day(c.town),
            county_due: c.county.and_then(&mut day),
            case_due: c.case.and_then(&mut day),
            calendar_unknown: unknown,
        }))
    }

    /// The policy book received through sync, and the region a household of `grid` resolves it
    /// for.
    fn policy_for(&self, grid: &str) -> Result<(PolicyBook, Option<String>)> {
        let store = self.store();
        let book = store
            .meta::<PolicyUpdate>(META_POLICY)?
            .map(|p| p.book)
            .unwrap_or_default();
        let region = store
            .meta::<PolicyRegions>(META_POLICY_REGIONS)?
            .and_then(|r| r.of(grid).map(str::to_owned));
        Ok((book, region))
    }

    /// Change the household `id` with `f`, which names the part it changed (checked against
    /// the document's rules before anything is stored).
    fn edit_means<T>(
        &self,
        id: &str,
        f: impl FnOnce(&mut Household) -> Result<(T, String)>,
    ) -> Result<T> {
        self.edit::<Household, T>(
            id,
            |h| {
                let (out, path) = f(h)?;
                refuse_errors(h, &path)?;
                Ok(out)
            },
            |_| Ok(()),
        )
    }
}

fn details_of(m: &h::Member) -> MemberDetails {
    MemberDetails {
        co_resident: m.co_resident,
        non_resident_reason: m.non_resident_reason.map(Into::into),
        non_resident_note: m.non_resident_note.clone(),
        health: m.health.map(Into::into),
        disease: m.disease.clone(),
        disability_kind: m.disability_kind.map(Into::into),
        disability_grade: m.disability_grade,
        work_capacity: m.work_capacity.map(Into::into),
        schooling: m.schooling.clone(),
        employment: m.employment.clone(),
    }
}

fn care_of(m: &h::Member) -> MemberCare {
    let plan = m.care_plan.as_ref();
    MemberCare {
        assessments: m
            .self_care_assessments
            .iter()
            .map(|a| SelfCareAssessmentInfo {
                assessment: SelfCareAssessmentInput {
                    assessed_on: a.assessed_on.to_string(),
                    assessor: a.assessor.clone(),
                    not_managed: a.not_managed.iter().map(|x| (*x).into()).collect(),
                },
                tier: doudi_protocol::rules::income::assessed_tier(a).into(),
            })
            .collect(),
        tier: m
            .latest_self_care()
            .map(|a| doudi_protocol::rules::income::assessed_tier(a).into()),
        change_reported_on: m.self_care_change_reported_on.map(|d| d.to_string()),
        reassessment_due: m.self_care_change_pending().is_some(),
        care_plan: plan.map(|p| CarePlanInput {
            agreement: p.agreement.as_ref().map(|a| CareAgreementInput {
                caregiver: a.caregiver.clone(),
                starts_on: a.starts_on.to_string(),
                ends_on: a.ends_on.to_string(),
            }),
            service_standard: p.service_standard.clone(),
            visit_plan: p.visit_plan.map(Into::into),
            emergency_contact: p.emergency_contact.clone(),
            review_on: p.review_on.map(|d| d.to_string()),
        }),
        care_plan_missing: plan
            .cloned()
            .unwrap_or_default()
            .missing()
            .into_iter()
            .map(Into::into)
            .collect(),
    }
}

/// A date of field work: `YYYY-MM-DD`, not after today.
fn past_date(field: &str, s: &str) -> Result<NaiveDate> {
    let d = date(field, s)?;
    if d > today() {
        return Err(DoudiError::invalid(
            field,
            "日期不能晚于今天",
            "the date cannot be after today",
        ));
    }
    Ok(d)
}

fn income_of(i: &h::IncomeItem) -> IncomeInput {
    IncomeInput {
        member_id: i.member.map(|m| m.to_string()),
        income_class: i.class.into(),
        kind: i.kind.code().to_owned(),
        amount_fen: i.amount_fen,
        period: i.period.into(),
        evidence: i.evidence.clone(),
        source: i.source.into(),
    }
}

#[uniffi::export]
impl DoudiClient {
    /// What the household record holds about the household's means. Offline.
    pub fn household_means(&self, household_id: String) -> Result<HouseholdMeans> {
        let (_, hh) = self.inner.read::<Household>(&household_id)?;
        let held = self.inner.store().identities(&household_id)?;
        Ok(HouseholdMeans {
            hukou_type: hh.hukou_type.map(Into::into),
            programmes: hh
                .programmes
                .iter()
                .map(|p| p.as_str().to_owned())
                .collect(),
            members: hh
                .members
                .iter()
                .map(|(id, m)| MemberMeans {
                    member_id: id.to_string(),
                    name: m.name.clone(),
                    relation: m.relation.as_str().to_owned(),
                    current: m.is_current(),
                    details: details_of(m),
                    care: care_of(m),
                })
                .collect(),
            income: hh
                .income
                .iter()
                .map(|(id, i)| IncomeEntry {
                    id: id.to_string(),
                    income: income_of(i),
                })
                .collect(),
            assets: hh
                .assets
                .iter()
                .map(|(id, a)| AssetEntry {
                    id: id.to_string(),
                    asset: AssetInput {
                        kind: a.kind.into(),
                        owner_member_id: a.owner.map(|m| m.to_string()),
                        description: a.description.clone(),
                        value_fen: a.value_fen,
                        exemption: a.exemption.clone(),
                    },
                })
                .collect(),
            expenditures: hh
                .expenditures
                .iter()
                .map(|(id, e)| ExpenditureEntry {
                    id: id.to_string(),
                    expenditure: ExpenditureInput {
                        kind: e.kind.into(),
                        member_id: e.member.map(|m| m.to_string()),
                        description: e.description.clone(),
                        amount_fen: e.amount_fen,
                        incurred_on: e.incurred_on.map(|d| d.to_string()).unwrap_or_default(),
                    },
                    receipts: e.receipts.iter().map(|r| r.to_string()).collect(),
                })
                .collect(),
            supporters: hh
                .supporters
                .iter()
                .map(|(id, s)| SupporterEntry {
                    id: id.to_string(),
                    supporter: SupporterInput {
                        name: s.name.clone(),
                        relation: s.relation.clone(),
                        id_number: s.identity.as_ref().and_then(|sealed| {
                            held.get(&format!("{}.{id}", household_key::SUPPORTERS))
                                .filter(|n| n.masked() == sealed.masked.as_str())
                                .map(|n| n.expose().to_owned())
                        }),
                        able_to_support: s.able_to_support,
                        unable_reason: s.unable_reason.clone(),
                        support_paid_fen: s.support_paid_fen,
                        support_paid_period: s.support_paid_period.map(Into::into),
                    },
                    id_number_masked: s.identity.as_ref().map(|n| n.masked.to_string()),
                })
                .collect(),
        })
    }

    /// The household's 户籍 type, which decides whether the urban or the rural 低保 standard
    /// applies. Offline.
    pub fn set_hukou_type(
        &self,
        household_id: String,
        hukou_type: Option<HukouType>,
    ) -> Result<()> {
        self.inner.edit_means(&household_id, |hh| {
            hh.hukou_type = hukou_type.map(Into::into);
            Ok(((), household_key::HUKOU_TYPE.to_owned()))
        })
    }

    /// A member's circumstances: co-residence (with the DB2021 art. 7 reason when not), health,
    /// disease, disability card, work capacity, schooling, employment. Offline.
    pub fn set_member_details(
        &self,
        household_id: String,
        member_id: String,
        details: MemberDetails,
    ) -> Result<()> {
        let mid = self::member_id("member_id", &member_id)?;
        self.inner.edit_means(&household_id, |hh| {
            let m = hh
                .members
                .get_mut(&mid)
                .ok_or_else(|| DoudiError::not_found("member", &member_id))?;
            m.co_resident = details.co_resident;
            m.non_resident_reason = details.non_resident_reason.map(Into::into);
            m.non_resident_note = details.non_resident_note;
            m.health = details.health.map(Into::into);
            m.disease = details.disease;
            m.disability_kind = details.disability_kind.map(Into::into);
            m.disability_grade = details.disability_grade;
            m.work_capacity = details.work_capacity.map(Into::into);
            m.schooling = details.schooling;
            m.employment = details.employment;
            Ok(((), format!("{}.{mid}", household_key::MEMBERS)))
        })
    }

    /// Record a 特困 self-care assessment (生活自理能力评估) of a member; returns the tier it
    /// gives. Assessments are only added, never changed. Offline.
    pub fn record_self_care_assessment(
        &self,
        household_id: String,
        member_id: String,
        assessment: SelfCareAssessmentInput,
    ) -> Result<SelfCareTier> {
        let mid = self::member_id("member_id", &member_id)?;
        let assessed_on = past_date("assessed_on", &assessment.assessed_on)?;
        let mut not_managed = std::collections::BTreeSet::new();
        for a in &assessment.not_managed {
            if !not_managed.insert(h::DailyActivity::from(*a)) {
                return Err(DoudiError::invalid(
                    "not_managed",
                    "同一项目不能重复填写",
                    "an activity is listed twice",
                ));
            }
        }
        let recorded = h::SelfCareAssessment {
            assessed_on,
            assessor: assessment.assessor.trim().to_owned(),
            not_managed,
        };
        let tier = doudi_protocol::rules::income::assessed_tier(&recorded).into();
        self.inner.edit_means(&household_id, |hh| {
            let m = hh
                .members
                .get_mut(&mid)
                .ok_or_else(|| DoudiError::not_found("member", &member_id))?;
            m.self_care_assessments.push(recorded);
            Ok(((), format!("{}.{mid}", household_key::MEMBERS)))
        })?;
        Ok(tier)
    }

    /// Record that a change in a member's condition was reported on `reported_on`
    /// (`YYYY-MM-DD`, not after today): the server schedules a self-care re-assessment
    /// (自理能力复评) within the region's limit unless an assessment dated on or after it is
    /// recorded. Offline.
    pub fn report_self_care_change(
        &self,
        household_id: String,
        member_id: String,
        reported_on: String,
    ) -> Result<()> {
        let mid = self::member_id("member_id", &member_id)?;
        let reported_on = past_date("reported_on", &reported_on)?;
        self.inner.edit_means(&household_id, |hh| {
            let m = hh
                .members
                .get_mut(&mid)
                .ok_or_else(|| DoudiError::not_found("member", &member_id))?;
            m.self_care_change_reported_on = Some(reported_on);
            Ok(((), format!("{}.{mid}", household_key::MEMBERS)))
        })
    }

    /// Set a member's 五有 checklist (a 分散供养 person); none removes it. Items not yet known
    /// are left none and listed to reviewers as missing. Offline.
    pub fn set_care_plan(
        &self,
        household_id: String,
        member_id: String,
        plan: Option<CarePlanInput>,
    ) -> Result<()> {
        let mid = self::member_id("member_id", &member_id)?;
        let plan = plan
            .map(|p| -> Result<h::CarePlan> {
                Ok(h::CarePlan {
                    agreement: p
                        .agreement
                        .map(|a| -> Result<h::CareAgreement> {
                            Ok(h::CareAgreement {
                                caregiver: a.caregiver.trim().to_owned(),
                                starts_on: date("agreement.starts_on", &a.starts_on)?,
                                ends_on: date("agreement.ends_on", &a.ends_on)?,
                            })
                        })
                        .transpose()?,
                    service_standard: p.service_standard,
                    visit_plan: p.visit_plan.map(Into::into),
                    emergency_contact: p.emergency_contact,
                    review_on: p.review_on.map(|d| date("review_on", &d)).transpose()?,
                })
            })
            .transpose()?;
        self.inner.edit_means(&household_id, |hh| {
            let m = hh
                .members
                .get_mut(&mid)
                .ok_or_else(|| DoudiError::not_found("member", &member_id))?;
            m.care_plan = plan;
            Ok(((), format!("{}.{mid}", household_key::MEMBERS)))
        })
    }

    /// The income types a worker can choose for this household: the national list, then the
    /// types its region's policy defines. Offline.
    pub fn income_kinds(&self, household_id: String) -> Result<Vec<IncomeKindInfo>> {
        let grid = self.inner.grid_of(&household_id)?;
        let (book, region) = self.inner.policy_for(&grid)?;
        let policy = resolve(&book, region.as_deref(), today());
        let national = h::IncomeKind::national().map(|k| IncomeKindInfo {
            code: k.code().to_owned(),
            name: income::kind_labels(&k, &policy).0,
            national: true,
        });
        let local = policy.local_income_kinds.iter().map(|k| IncomeKindInfo {
            code: k.code.clone(),
            name: k.name.clone(),
            national: false,
        });
        Ok(national.chain(local).collect())
    }

    /// Record an income item (`entry_id` none), or replace the one with that id. The type is a
    /// code of `income_kinds`; whether it counts is the rules'. Returns the item's id. Offline.
    pub fn set_income(
        &self,
        household_id: String,
        entry_id: Option<String>,
        income: IncomeInput,
    ) -> Result<String> {
        let kind = h::IncomeKind::from_code(income.kind.trim());
        if !kind.is_national() {
            let grid = self.inner.grid_of(&household_id)?;
            let (book, region) = self.inner.policy_for(&grid)?;
            let policy = resolve(&book, region.as_deref(), today());
            if !policy
                .local_income_kinds
                .iter()
                .any(|k| k.code == kind.code())
            {
                return Err(DoudiError::invalid(
                    "kind",
                    "本地区没有这个收入项目，请从收入项目列表中选择",
                    "no such income type here: choose one of income_kinds",
                ));
            }
        }
        let item = h::IncomeItem {
            member: opt_member("member_id", income.member_id.as_deref())?,
            class: income.income_class.into(),
            kind,
            amount_fen: income.amount_fen,
            period: income.period.into(),
            evidence: income.evidence,
            source: income.source.into(),
        };
        self.set_entry(household_id, entry_id, household_key::INCOME, |hh, id| {
            hh.income.insert(id, item);
        })
    }

    /// Record an asset (`entry_id` none), or replace the one with that id. Returns its id.
    /// Offline.
    pub fn set_asset(
        &self,
        household_id: String,
        entry_id: Option<String>,
        asset: AssetInput,
    ) -> Result<String> {
        let a = h::Asset {
            kind: asset.kind.into(),
            owner: opt_member("owner_member_id", asset.owner_member_id.as_deref())?,
            description: asset.description,
            value_fen: asset.value_fen,
            exemption: asset.exemption.filter(|e| !e.trim().is_empty()),
        };
        self.set_entry(household_id, entry_id, household_key::ASSETS, |hh, id| {
            hh.assets.insert(id, a);
        })
    }

    /// Record a rigid expenditure item (`entry_id` none), or replace the one with that id (its
    /// receipts stay). Returns its id. Offline.
    pub fn set_expenditure(
        &self,
        household_id: String,
        entry_id: Option<String>,
        expenditure: ExpenditureInput,
    ) -> Result<String> {
        let on = date("incurred_on", &expenditure.incurred_on)?;
        if on > today() {
            return Err(DoudiError::invalid(
                "incurred_on",
                "发生日期不能晚于今天",
                "the date cannot be after today",
            ));
        }
        let member = opt_member("member_id", expenditure.member_id.as_deref())?;
        self.set_entry(
            household_id,
            entry_id,
            household_key::EXPENDITURES,
            |hh, id| {
                let receipts = hh
                    .expenditures
                    .get(&id)
                    .map(|e| e.receipts.clone())
                    .unwrap_or_default();
                hh.expenditures.insert(
                    id,
                    h::Expenditure {
                        kind: expenditure.kind.into(),
                        member,
                        description: expenditure.description,
                        amount_fen: expenditure.amount_fen,
                        incurred_on: Some(on),
                        receipts,
                    },
                );
            },
        )
    }

    /// Attach a receipt (票据) to a rigid expenditure item: a photo, through the photo pipeline
    /// (upright, 1600 px JPEG, no metadata), stored encrypted until uploaded. Returns its SHA-256.
    /// Offline.
    pub fn attach_receipt(
        &self,
        household_id: String,
        expenditure_id: String,
        bytes: Vec<u8>,
    ) -> Result<String> {
        let eid = entry_id(&expenditure_id)?;
        let processed = photo::process_photo(&bytes, &PhotoConfig::default())?;
        let hash = processed.image.sha256.clone();
        let key = BlobHash::parse(&hash).map_err(DoudiError::internal)?;
        let hid = household_id.clone();
        self.inner.edit::<Household, ()>(
            &household_id,
            |hh| {
                hh.expenditures
                    .get_mut(&eid)
                    .ok_or_else(|| DoudiError::not_found("expenditure", &expenditure_id))?
                    .receipts
                    .insert(key);
                Ok(())
            },
            |w| {
                w.put_blob(
                    &hash,
                    &hid,
                    "receipt",
                    processed.image.mime,
                    &processed.image.bytes,
                    Some(&processed.thumbnail.bytes),
                    now_ms(),
                )
            },
        )?;
        Ok(hash)
    }

    /// Record a legal supporter (`entry_id` none), or replace the one with that id. Returns its
    /// id. Offline.
    pub fn set_supporter(
        &self,
        household_id: String,
        entry_id: Option<String>,
        supporter: SupporterInput,
    ) -> Result<String> {
        let captured = self
            .inner
            .capture("id_number", supporter.id_number.as_deref())?;
        let id = match &entry_id {
            Some(e) => self::entry_id(e)?,
            None => EntryId::generate().map_err(DoudiError::internal)?,
        };
        let entry = format!("{}.{id}", household_key::SUPPORTERS);
        let number = captured.as_ref().map(|(n, _)| n.expose().to_owned());
        let hid = household_id.clone();
        self.inner.edit::<Household, ()>(
            &household_id,
            |hh| {
                let identity = match &captured {
                    Some((_, sealed)) => Some(sealed.clone()),
                    None => hh.supporters.get(&id).and_then(|s| s.identity.clone()),
                };
                hh.supporters.insert(
                    id,
                    h::Supporter {
                        name: supporter.name.trim().to_owned(),
                        relation: supporter.relation.trim().to_owned(),
                        identity,
                        able_to_support: supporter.able_to_support,
                        unable_reason: supporter.unable_reason,
                        support_paid_fen: supporter.support_paid_fen,
                        support_paid_period: supporter.support_paid_period.map(Into::into),
                    },
                );
                refuse_errors(hh, &entry)
            },
            |w| match &number {
                Some(n) => w.put_identity(&hid, &entry, n),
                None => Ok(()),
            },
        )?;
        Ok(id.to_string())
    }

    /// Remove an income item, asset, rigid expenditure item or supporter recorded by mistake.
    /// Offline.
    pub fn remove_means_entry(&self, household_id: String, entry_id: String) -> Result<()> {
        let id = self::entry_id(&entry_id)?;
        self.inner.edit::<Household, ()>(
            &household_id,
            |hh| {
                let found = hh.income.remove(&id).is_some()
                    | hh.assets.remove(&id).is_some()
                    | hh.expenditures.remove(&id).is_some()
                    | hh.supporters.remove(&id).is_some();
                match found {
                    true => Ok(()),
                    false => Err(DoudiError::not_found("entry", &entry_id)),
                }
            },
            |_| Ok(()),
        )
    }

    /// The household's assessment on `as_of` (`YYYY-MM-DD`; default today), offline: the policy
    /// book of the last sync resolved for the household's village, the ages of the members whose
    /// numbers this phone holds, and the same computation as the console's
    /// (`rules::assessment::assess_household`). Hints, not a decision.
    #[uniffi::method(default(as_of = None))]
    pub fn assessment(
        &self,
        household_id: String,
        as_of: Option<String>,
    ) -> Result<MeansAssessment> {
        let as_of = match as_of {
            Some(d) => date("as_of", &d)?,
            None => today(),
        };
        let (grid, hh) = self.inner.read::<Household>(&household_id)?;
        let (book, region) = self.inner.policy_for(&grid)?;
        let numbers = self.inner.store().identities(&household_id)?;
        let births = doudi_protocol::doc::identity::member_birth_dates(&numbers);
        let a = assessment::assess_household(
            &hh,
            &Context {
                book: &book,
                region: region.as_deref(),
                as_of,
                birth_dates: &births,
            },
        );
        Ok(assessment_info(&a))
    }
}

fn resolve(
    book: &PolicyBook,
    region: Option<&str>,
    on: NaiveDate,
) -> doudi_protocol::rules::policy::Policy {
    region
        .and_then(|r| book.resolve(r, on).ok())
        .unwrap_or_else(|| book.resolve_national(on))
}

fn assessment_info(a: &assessment::Assessment) -> MeansAssessment {
    let i = &a.indicators;
    MeansAssessment {
        as_of: a.as_of.to_string(),
        region: a.region.clone(),
        standard: a.standard.as_ref().map(|s| StandardInfo {
            area: s.area.label_en().to_owned(),
            monthly_fen: s.monthly.as_fen(),
            amount_fen: s.standard.amount.as_fen(),
            per: match s.standard.per {
                Per::Month => "month",
                Per::Year => "year",
            }
            .to_owned(),
            region: s.region.clone(),
            effective_from: s.effective_from.to_string(),
            source: s.source.clone(),
            line: Line::from(&s.text),
        }),
        household_size: a.household_size(),
        annual_income_fen: a.income.as_ref().map(|i| i.annual_income.as_fen()),
        per_capita_monthly_fen: a.per_capita_monthly().map(|m| m.as_fen()),
        dibao_amount_fen: a.dibao_amount.map(|m| m.as_fen()),
        indicators: vec![
            indicator(IndicatorKind::Dibao, &i.dibao),
            indicator(IndicatorKind::NearDibao, &i.near_dibao),
            indicator(IndicatorKind::Tekun, &i.tekun),
            indicator(IndicatorKind::RigidExpenditure, &i.rigid_expenditure),
            indicator(IndicatorKind::Assets, &i.assets),
            indicator(IndicatorKind::SinglePerson, &i.single_person),
        ],
        missing: a.missing.iter().map(Line::from).collect(),
        notice: Line::from(&a.notice),
    }
}

impl DoudiClient {
    /// Insert or replace an entry of the keyed collection `collection` (an id is made when none
    /// is given) and check it against the document's rules.
    fn set_entry(
        &self,
        household_id: String,
        entry_id: Option<String>,
        collection: &str,
        put: impl FnOnce(&mut Household, EntryId),
    ) -> Result<String> {
        let id = match entry_id {
            Some(e) => self::entry_id(&e)?,
            None => EntryId::generate().map_err(DoudiError::internal)?,
        };
        self.inner.edit_means(&household_id, |hh| {
            put(hh, id);
            Ok(((), format!("{collection}.{id}")))
        })?;
        Ok(id.to_string())
    }
}

impl Inner {
    /// The grid of a household held here.
    fn grid_of(&self, household_id: &str) -> Result<String> {
        match self.store().index.get(household_id) {
            Some(crate::summary::Summary::Household(x)) => Ok(x.grid.clone()),
            _ => Err(DoudiError::not_found("household", household_id)),
        }
    }
}
