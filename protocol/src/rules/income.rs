//! Income arithmetic (DB2021 art. 13, TK2021 art. 6): household size, counted and excluded income,
//! per-capita monthly income, the 低保 amount and the indicators shown to the worker.
//!
//! Every result here is a **hint for the investigator, not a decision**: eligibility is decided by
//! the township and the county after the means investigation, the public notice and the review.
//! Each indicator carries an explanation, in Chinese with English alongside, listing every item
//! and rule used, so that a worker can show a family how the figure came about.
//!
//! Arithmetic is exact: amounts are integer fen, rates are ten-thousandths, and the only rounding
//! happens at the end (per-capita income half-up to the fen; the 低保 amount up to the yuan).
//! Comparisons with standards are made on exact annual amounts.

use std::fmt;

use chrono::{Datelike, NaiveDate};
use serde::{Deserialize, Deserializer, Serialize, Serializer};

use super::policy::{Policy, Standard, UrbanRural};
use super::units::{div_ceil, div_round};
use super::{Cap, Money, Rate, Text};

/// Rate scale: exact amounts are kept in fen × [`Rate::SCALE`].
const S: i128 = Rate::SCALE as i128;

/// The programme whose income rules apply (they differ in exclusions).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Programme {
    /// 低保 (and 低保边缘, 刚性支出, which follow the 低保 income rules).
    Dibao,
    /// 特困人员: also excludes 高龄津贴 and basic medical insurance (TK2021 art. 6).
    Tekun,
}

/// Relation to the head of household (与户主关系).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Relation {
    /// 户主
    Head,
    /// 配偶
    Spouse,
    /// 子女
    Child,
    /// 父母
    Parent,
    /// 儿媳 / 女婿
    ChildInLaw,
    /// 孙子女 / 外孙子女
    Grandchild,
    /// 祖父母 / 外祖父母
    Grandparent,
    /// 兄弟姐妹
    Sibling,
    /// 其他
    Other,
}

/// 健康状况.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Health {
    /// 健康
    Healthy,
    /// 一般或较弱
    Fair,
    /// 重病
    SeriousIllness,
    /// 重残
    SevereDisability,
}

/// 残疾类别 on the disability card.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DisabilityKind {
    /// 视力
    Visual,
    /// 听力
    Hearing,
    /// 言语
    Speech,
    /// 肢体
    Physical,
    /// 智力
    Intellectual,
    /// 精神
    Mental,
    /// 多重
    Multiple,
}

/// A disability card: kind and grade (1 most severe … 4).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Disability {
    pub kind: DisabilityKind,
    pub grade: u8,
}

/// 劳动能力 as recorded by the investigator.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum WorkCapacity {
    /// 有劳动能力
    Able,
    /// 部分丧失
    Partial,
    /// 完全丧失
    None,
}

/// A household member.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Member {
    /// An id unique within the household, used by income items.
    pub id: String,
    /// The name shown in explanations.
    #[serde(default)]
    pub name: String,
    pub relation: Relation,
    /// 共同生活: counts towards household size (DB2021 art. 7).
    pub co_resident: bool,
    /// Birth date (from the 身份证号); preferred over `age`.
    #[serde(default)]
    pub birth_date: Option<NaiveDate>,
    /// Age in whole years where no birth date is known.
    #[serde(default)]
    pub age: Option<u32>,
    pub health: Health,
    #[serde(default)]
    pub disability: Option<Disability>,
    pub work_capacity: WorkCapacity,
}

impl Member {
    /// Age in whole years on `date`, if known.
    pub fn age_on(&self, date: NaiveDate) -> Option<u32> {
        match self.birth_date {
            Some(b) => {
                let mut years = date.year() - b.year();
                if (date.month(), date.day()) < (b.month(), b.day()) {
                    years -= 1;
                }
                u32::try_from(years).ok()
            }
            None => self.age,
        }
    }

    fn label(&self) -> &str {
        if self.name.is_empty() {
            &self.id
        } else {
            &self.name
        }
    }
}

/// Income class (收入类别, DB2021 art. 13).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum IncomeClass {
    /// 工资性收入: wages; the employment-cost deduction applies.
    Wages,
    /// 经营净收入: net business income.
    Business,
    /// 财产净收入: net property income.
    Property,
    /// 转移净收入: transfers (pensions, support received, benefits).
    Transfer,
    /// 其他收入.
    Other,
}

impl IncomeClass {
    fn labels(self) -> (&'static str, &'static str) {
        match self {
            IncomeClass::Wages => ("工资性收入", "wages"),
            IncomeClass::Business => ("经营净收入", "net business income"),
            IncomeClass::Property => ("财产净收入", "net property income"),
            IncomeClass::Transfer => ("转移净收入", "transfer income"),
            IncomeClass::Other => ("其他收入", "other income"),
        }
    }
}

/// The type of an income item, which decides whether it is excluded.
///
/// Serialized as a code string; any code not listed here is a [`IncomeKind::Local`] type that a
/// region may exclude through `local_excluded_income_kinds`.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum IncomeKind {
    /// An ordinary item (`general`).
    General,
    /// 优抚金 (`preferential_treatment`): excluded nationally.
    PreferentialTreatment,
    /// 计划生育奖励与扶助金 (`family_planning_reward`): excluded nationally.
    FamilyPlanningReward,
    /// 奖学金 / 助学金 (`scholarship`): excluded nationally.
    Scholarship,
    /// 见义勇为等奖励 (`bravery_award`): excluded nationally.
    BraveryAward,
    /// 政府发放的社会救助款物 (`social_assistance`): excluded nationally.
    SocialAssistance,
    /// 城乡居民基本养老保险中的基础养老金（中央部分） (`basic_pension_central`): excluded nationally.
    BasicPensionCentral,
    /// 高龄津贴 (`old_age_allowance`): excluded for 特困 (TK2021 art. 6).
    OldAgeAllowance,
    /// 基本医疗保险等医疗保障 (`medical_insurance`): excluded for 特困 (TK2021 art. 6).
    MedicalInsurance,
    /// 赡养费 / 抚养费 received (`support_received`): counted as a transfer.
    SupportReceived,
    /// A local type code.
    Local(String),
}

const KIND_CODES: [(IncomeKind, &str, &str, &str); 10] = [
    (
        IncomeKind::General,
        "general",
        "一般收入",
        "ordinary income",
    ),
    (
        IncomeKind::PreferentialTreatment,
        "preferential_treatment",
        "优抚金",
        "preferential-treatment pension (优抚金)",
    ),
    (
        IncomeKind::FamilyPlanningReward,
        "family_planning_reward",
        "计划生育奖励扶助金",
        "family-planning reward",
    ),
    (
        IncomeKind::Scholarship,
        "scholarship",
        "奖学金、助学金",
        "scholarship or study grant",
    ),
    (
        IncomeKind::BraveryAward,
        "bravery_award",
        "见义勇为等奖励",
        "bravery award",
    ),
    (
        IncomeKind::SocialAssistance,
        "social_assistance",
        "社会救助款物",
        "social-assistance cash or goods",
    ),
    (
        IncomeKind::BasicPensionCentral,
        "basic_pension_central",
        "基础养老金（中央部分）",
        "central part of the residents' basic pension",
    ),
    (
        IncomeKind::OldAgeAllowance,
        "old_age_allowance",
        "高龄津贴",
        "old-age allowance (高龄津贴)",
    ),
    (
        IncomeKind::MedicalInsurance,
        "medical_insurance",
        "基本医疗保险报销",
        "basic medical insurance",
    ),
    (
        IncomeKind::SupportReceived,
        "support_received",
        "赡养（抚养、扶养）费",
        "support received",
    ),
];

impl IncomeKind {
    /// The code of this type.
    pub fn code(&self) -> &str {
        match self {
            IncomeKind::Local(c) => c,
            known => KIND_CODES
                .iter()
                .find(|(k, ..)| k == known)
                .map_or("", |(_, c, ..)| c),
        }
    }

    /// The type with this code (a local type if the code is not a national one).
    pub fn from_code(code: &str) -> IncomeKind {
        KIND_CODES
            .iter()
            .find(|(_, c, ..)| *c == code)
            .map_or_else(|| IncomeKind::Local(code.to_owned()), |(k, ..)| k.clone())
    }

    /// Whether `code` may name a type: 1 to 64 characters, no whitespace or control characters.
    pub fn is_valid_code(code: &str) -> bool {
        (1..=64).contains(&code.chars().count())
            && !code.chars().any(|c| c.is_whitespace() || c.is_control())
    }

    fn labels(&self) -> (String, String) {
        match self {
            IncomeKind::Local(c) => (format!("地方类型“{c}”"), format!("local type {c:?}")),
            known => KIND_CODES
                .iter()
                .find(|(k, ..)| k == known)
                .map_or_else(Default::default, |(_, _, zh, en)| {
                    ((*zh).to_owned(), (*en).to_owned())
                }),
        }
    }

    /// Whether the national rules exclude this type for `programme`.
    pub fn excluded_nationally(&self, programme: Programme) -> bool {
        match self {
            IncomeKind::PreferentialTreatment
            | IncomeKind::FamilyPlanningReward
            | IncomeKind::Scholarship
            | IncomeKind::BraveryAward
            | IncomeKind::SocialAssistance
            | IncomeKind::BasicPensionCentral => true,
            IncomeKind::OldAgeAllowance | IncomeKind::MedicalInsurance => {
                programme == Programme::Tekun
            }
            IncomeKind::General | IncomeKind::SupportReceived | IncomeKind::Local(_) => false,
        }
    }
}

impl fmt::Display for IncomeKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.code())
    }
}

impl Serialize for IncomeKind {
    fn serialize<Ser: Serializer>(&self, s: Ser) -> Result<Ser::Ok, Ser::Error> {
        s.serialize_str(self.code())
    }
}

impl<'de> Deserialize<'de> for IncomeKind {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<IncomeKind, D::Error> {
        let code = String::deserialize(d)?;
        if IncomeKind::is_valid_code(&code) {
            Ok(IncomeKind::from_code(&code))
        } else {
            Err(serde::de::Error::custom(format!(
                "invalid income type code {code:?}"
            )))
        }
    }
}

/// How an amount is stated.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Period {
    /// Per month: counted × 12.
    Monthly,
    /// Per year (the last 12 months).
    Yearly,
    /// A one-off amount received in the last 12 months: counted once in the year, i.e. spread
    /// over 12 months.
    OneOff,
}

impl Period {
    fn annual(self, amount: Money) -> i128 {
        match self {
            Period::Monthly => i128::from(amount.0) * 12,
            Period::Yearly | Period::OneOff => i128::from(amount.0),
        }
    }

    fn labels(self) -> (&'static str, &'static str) {
        match self {
            Period::Monthly => ("每月", "per month"),
            Period::Yearly => ("每年", "per year"),
            Period::OneOff => ("一次性", "one-off"),
        }
    }
}

/// An income item (收入项).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct IncomeItem {
    /// The member who receives it; `None` for household income (e.g. farm business).
    #[serde(default)]
    pub member: Option<String>,
    pub class: IncomeClass,
    pub kind: IncomeKind,
    /// Net amount, ≥ 0 (a net loss is entered as 0).
    pub amount: Money,
    pub period: Period,
}

/// Support paid by a member to someone outside the household (支付的赡养费等), deducted from
/// transfer income.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SupportPaid {
    #[serde(default)]
    pub member: Option<String>,
    pub amount: Money,
    pub period: Period,
}

/// 刚性支出 category.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RigidKind {
    /// 医疗 (out of pocket after insurance)
    Medical,
    /// 教育 (at public-school rates)
    Education,
    /// 残疾康复
    Rehabilitation,
    /// 其他
    Other,
}

/// A rigid expenditure: the out-of-pocket total of the last 12 months.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RigidExpense {
    pub kind: RigidKind,
    pub amount: Money,
}

/// Asset category (家庭财产).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AssetKind {
    /// 存款 / 现金
    Deposit,
    /// 有价证券
    Securities,
    /// 商业保险 (cash value)
    Insurance,
    /// 机动车辆
    Vehicle,
    /// 房屋
    Dwelling,
    /// 工商登记 / 经营实体
    Business,
    /// 其他
    Other,
}

/// An asset, with any exemption (e.g. a disabled person's vehicle).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Asset {
    pub kind: AssetKind,
    pub value: Money,
    #[serde(default)]
    pub exempt: bool,
}

/// A legal supporter living elsewhere (赡养/抚养/扶养义务人).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Supporter {
    pub relation: Relation,
    /// Whether the investigator found the supporter able to support.
    pub able_to_support: bool,
}

/// What the income arithmetic needs to know about a household.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Household {
    /// Which 低保 standard applies.
    pub area: UrbanRural,
    pub members: Vec<Member>,
    /// 单人户 / 单独施保 (DB2021 art. 8): the id of the member applied for alone; household size
    /// is then 1 and only that member's income counts.
    #[serde(default)]
    pub single_person_applicant: Option<String>,
    #[serde(default)]
    pub income: Vec<IncomeItem>,
    #[serde(default)]
    pub support_paid: Vec<SupportPaid>,
    #[serde(default)]
    pub rigid_expenditure: Vec<RigidExpense>,
    #[serde(default)]
    pub assets: Vec<Asset>,
    #[serde(default)]
    pub supporters: Vec<Supporter>,
}

/// Why the arithmetic could not run.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AssessError {
    #[error("the household has no co-resident member")]
    NoCoResidentMember,
    #[error("{what} #{index} refers to unknown member {member:?}")]
    UnknownMember {
        what: &'static str,
        index: usize,
        member: String,
    },
    #[error("{what} #{index} has a negative amount")]
    NegativeAmount { what: &'static str, index: usize },
    #[error("the single-person applicant {0:?} is not a co-resident member")]
    BadSinglePersonApplicant(String),
    #[error("the region has no {} 低保 standard in force", .0.label_en())]
    NoStandard(UrbanRural),
    #[error("amounts too large to compute")]
    Overflow,
}

impl AssessError {
    /// A stable machine-readable code.
    pub fn code(&self) -> &'static str {
        match self {
            AssessError::NoCoResidentMember => "income.no_co_resident_member",
            AssessError::UnknownMember { .. } => "income.unknown_member",
            AssessError::NegativeAmount { .. } => "income.negative_amount",
            AssessError::BadSinglePersonApplicant(_) => "income.bad_single_person_applicant",
            AssessError::NoStandard(_) => "income.no_standard",
            AssessError::Overflow => "income.overflow",
        }
    }

    /// The message in Chinese.
    pub fn message_zh(&self) -> String {
        match self {
            AssessError::NoCoResidentMember => "家庭没有共同生活成员".to_owned(),
            AssessError::UnknownMember {
                what,
                index,
                member,
            } => {
                format!("{what}第{}项所属成员{member:?}不存在", index + 1)
            }
            AssessError::NegativeAmount { what, index } => {
                format!("{what}第{}项金额为负数", index + 1)
            }
            AssessError::BadSinglePersonApplicant(m) => {
                format!("单人户申请人{m:?}不是共同生活成员")
            }
            AssessError::NoStandard(a) => format!("本地区没有现行的{}低保标准", a.label_zh()),
            AssessError::Overflow => "金额过大，无法计算".to_owned(),
        }
    }
}

/// Why an item was left out of the counted income.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", tag = "reason")]
pub enum Exclusion {
    /// The member does not live in the household (not 共同生活).
    NotCoResident,
    /// 单人户: not the applicant's income.
    NotApplicant,
    /// Excluded by the national rules for this programme.
    National,
    /// Excluded by the region (`local_excluded_income_kinds`).
    Local,
}

/// What happened to one income item.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ItemOutcome {
    /// Index in [`Household::income`].
    pub index: usize,
    /// The amount over 12 months.
    pub annual: Money,
    /// Employment cost deducted (wages only), rounded to the fen for display.
    pub employment_cost: Money,
    /// The amount counted (annual − employment cost), rounded to the fen for display; 0 if excluded.
    pub counted: Money,
    /// `None` when counted.
    pub excluded: Option<Exclusion>,
    pub text: Text,
}

/// The income of a household under one programme's rules.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct IncomeResult {
    pub programme: Programme,
    pub household_size: u32,
    pub items: Vec<ItemOutcome>,
    /// Total employment-cost deduction over the year (display, rounded to the fen).
    pub employment_cost: Money,
    /// Total support paid over the year.
    pub support_paid: Money,
    /// Annual counted household income, ≥ 0 (display, rounded to the fen).
    pub annual_income: Money,
    /// Per-capita monthly income: annual income ÷ size ÷ 12, rounded half-up to the fen once.
    pub per_capita_monthly: Money,
    /// The explanation lines: size, every item, deductions, totals.
    pub lines: Vec<Text>,
    /// Exact annual income in fen × 10,000.
    #[serde(skip)]
    exact: i128,
}

impl IncomeResult {
    /// Whether annual income is below `factor` × `standard` per person (exact comparison).
    fn below(&self, standard: Standard, factor: Rate) -> bool {
        self.exact
            < i128::from(standard.annual().0)
                * i128::from(factor.units())
                * i128::from(self.household_size)
    }
}

/// The outcome of one indicator.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Status {
    Met,
    NotMet,
    /// The region has not set what the indicator needs.
    NotEvaluated,
}

impl Status {
    fn from_bool(b: bool) -> Status {
        if b { Status::Met } else { Status::NotMet }
    }
}

/// An indicator for the worker: a hint, not a decision.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Indicator {
    pub status: Status,
    /// Every item and rule used, in order.
    pub explanation: Vec<Text>,
}

/// All indicators. Hints for the investigator, never decisions.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Indicators {
    /// 低保 candidate: per-capita income below the standard.
    pub dibao: Indicator,
    /// 低保边缘: not a 低保 candidate, per-capita income below the multiplier × standard.
    pub near_dibao: Indicator,
    /// 特困 hint: income below the standard (特困 exclusions), members without work capacity,
    /// nobody able to support them.
    pub tekun: Indicator,
    /// 刚性支出困难: per-capita income below last year's local disposable income and 12-month
    /// rigid spending above the ratio of income.
    pub rigid_expenditure: Indicator,
    /// Assets above the local limits.
    pub above_asset_limits: Indicator,
}

/// The result of [`assess`]. Hints for the investigator, never decisions.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Assessment {
    /// Income under the 低保 rules.
    pub income: IncomeResult,
    /// Income under the 特困 rules (more exclusions).
    pub tekun_income: IncomeResult,
    /// The 低保 standard used.
    pub standard: Standard,
    /// The standard per person per month (display).
    pub standard_monthly: Money,
    /// 低保 amount: standard × size − monthly household income, rounded up to the yuan, ≥ 0.
    pub dibao_amount: Money,
    pub indicators: Indicators,
}

fn yuan(m: Money) -> String {
    format!("{m}")
}

fn exact_to_money(e: i128) -> Result<Money, AssessError> {
    i64::try_from(div_round(e, S))
        .map(Money)
        .map_err(|_| AssessError::Overflow)
}

fn checked_money(v: i128) -> Result<Money, AssessError> {
    i64::try_from(v)
        .map(Money)
        .map_err(|_| AssessError::Overflow)
}

struct Scope<'a> {
    household: &'a Household,
}

impl Scope<'_> {
    /// Whether a member's money belongs to the assessed unit; `Err` names the reason it does not.
    fn includes(&self, member: Option<&str>) -> Result<(), Exclusion> {
        let h = self.household;
        match (&h.single_person_applicant, member) {
            (Some(applicant), Some(m)) if applicant == m => Ok(()),
            (Some(_), _) => Err(Exclusion::NotApplicant),
            (None, None) => Ok(()),
            (None, Some(m)) => {
                let co_resident = h.members.iter().any(|x| x.id == m && x.co_resident);
                if co_resident {
                    Ok(())
                } else {
                    Err(Exclusion::NotCoResident)
                }
            }
        }
    }

    fn member_label(&self, member: Option<&str>) -> String {
        member
            .and_then(|m| self.household.members.iter().find(|x| x.id == m))
            .map_or_else(String::new, |m| format!("{} ", m.label()))
    }
}

fn check_input(h: &Household) -> Result<u32, AssessError> {
    let known = |what: &'static str, index: usize, member: &Option<String>| match member {
        Some(m) if !h.members.iter().any(|x| &x.id == m) => Err(AssessError::UnknownMember {
            what,
            index,
            member: m.clone(),
        }),
        _ => Ok(()),
    };
    for (i, item) in h.income.iter().enumerate() {
        known("income", i, &item.member)?;
        if item.amount.is_negative() {
            return Err(AssessError::NegativeAmount {
                what: "income",
                index: i,
            });
        }
    }
    for (i, p) in h.support_paid.iter().enumerate() {
        known("support_paid", i, &p.member)?;
        if p.amount.is_negative() {
            return Err(AssessError::NegativeAmount {
                what: "support_paid",
                index: i,
            });
        }
    }
    for (i, r) in h.rigid_expenditure.iter().enumerate() {
        if r.amount.is_negative() {
            return Err(AssessError::NegativeAmount {
                what: "rigid_expenditure",
                index: i,
            });
        }
    }
    for (i, a) in h.assets.iter().enumerate() {
        if a.value.is_negative() {
            return Err(AssessError::NegativeAmount {
                what: "assets",
                index: i,
            });
        }
    }
    if let Some(applicant) = &h.single_person_applicant {
        if !h
            .members
            .iter()
            .any(|m| &m.id == applicant && m.co_resident)
        {
            return Err(AssessError::BadSinglePersonApplicant(applicant.clone()));
        }
        return Ok(1);
    }
    match h.members.iter().filter(|m| m.co_resident).count() {
        0 => Err(AssessError::NoCoResidentMember),
        n => u32::try_from(n).map_err(|_| AssessError::Overflow),
    }
}

fn size_line(h: &Household, size: u32) -> Text {
    if let Some(a) = &h.single_person_applicant {
        let name = h
            .members
            .iter()
            .find(|m| &m.id == a)
            .map_or(a.as_str(), Member::label);
        return Text::new(
            format!(
                "单人户（单独施保，《最低生活保障审核确认办法》第八条）：{name}单独计算，家庭人口按1人计"
            ),
            format!(
                "Single-person application (DB2021 art. 8): {name} is assessed alone; household size 1"
            ),
        );
    }
    let names: Vec<&str> = h
        .members
        .iter()
        .filter(|m| m.co_resident)
        .map(Member::label)
        .collect();
    let away: Vec<&str> = h
        .members
        .iter()
        .filter(|m| !m.co_resident)
        .map(Member::label)
        .collect();
    let mut zh = format!("共同生活家庭成员{size}人：{}", names.join("、"));
    let mut en = format!("Co-resident members: {size} ({})", names.join(", "));
    if !away.is_empty() {
        zh.push_str(&format!("；不计入（非共同生活）：{}", away.join("、")));
        en.push_str(&format!(
            "; not counted (not co-resident): {}",
            away.join(", ")
        ));
    }
    Text::new(zh + "（第七条）", en + " (DB2021 art. 7)")
}

/// Compute household income under `programme`'s rules.
pub fn household_income(
    household: &Household,
    policy: &Policy,
    programme: Programme,
) -> Result<IncomeResult, AssessError> {
    let size = check_input(household)?;
    let scope = Scope { household };
    let rate = i128::from(policy.employment_cost_rate.units());
    let mut lines = vec![size_line(household, size)];
    let mut items = Vec::with_capacity(household.income.len());
    let (mut total, mut cost_total) = (0_i128, 0_i128);
    for (index, item) in household.income.iter().enumerate() {
        let annual = item.period.annual(item.amount);
        let member = item.member.as_deref();
        let excluded = scope.includes(member).err().or_else(|| {
            if item.kind.excluded_nationally(programme) {
                Some(Exclusion::National)
            } else if policy
                .local_excluded_income_kinds
                .iter()
                .any(|k| k == item.kind.code())
            {
                Some(Exclusion::Local)
            } else {
                None
            }
        });
        let cost = if excluded.is_none() && item.class == IncomeClass::Wages {
            annual * rate
        } else {
            0
        };
        let counted = if excluded.is_none() {
            annual * S - cost
        } else {
            0
        };
        total += counted;
        cost_total += cost;
        let (annual, cost_m, counted_m) = (
            checked_money(annual)?,
            exact_to_money(cost)?,
            exact_to_money(counted)?,
        );
        let text = item_text(
            index,
            &scope.member_label(member),
            item,
            annual,
            cost_m,
            counted_m,
            policy,
            &excluded,
            programme,
        );
        lines.push(text.clone());
        items.push(ItemOutcome {
            index,
            annual,
            employment_cost: cost_m,
            counted: counted_m,
            excluded,
            text,
        });
    }
    let mut paid_total = 0_i128;
    for (i, p) in household.support_paid.iter().enumerate() {
        let member = p.member.as_deref();
        if scope.includes(member).is_ok() {
            let annual = p.period.annual(p.amount);
            paid_total += annual;
            let m = checked_money(annual)?;
            lines.push(Text::new(
                format!(
                    "支付赡养（抚养、扶养）费第{}项 {}：全年{}元，从转移净收入中扣减",
                    i + 1,
                    scope.member_label(member),
                    yuan(m)
                ),
                format!(
                    "Support paid #{} {}: {} yuan a year, deducted from transfer income",
                    i + 1,
                    scope.member_label(member),
                    m
                ),
            ));
        }
    }
    let exact = (total - paid_total * S).max(0);
    let annual_income = exact_to_money(exact)?;
    let per_capita_monthly = checked_money(div_round(exact, S * i128::from(size) * 12))?;
    lines.push(Text::new(
        format!(
            "家庭年收入{}元（低于零按零计）；月人均收入 = {}元 ÷ {size}人 ÷ 12 = {}元（仅在最后四舍五入到分）",
            yuan(annual_income),
            yuan(annual_income),
            yuan(per_capita_monthly)
        ),
        format!(
            "Annual household income {annual_income} yuan (never below 0); per-capita monthly income = {annual_income} ÷ {size} ÷ 12 = {per_capita_monthly} yuan (rounded to the fen once, at the end)"
        ),
    ));
    Ok(IncomeResult {
        programme,
        household_size: size,
        items,
        employment_cost: exact_to_money(cost_total)?,
        support_paid: checked_money(paid_total)?,
        annual_income,
        per_capita_monthly,
        lines,
        exact,
    })
}

#[allow(clippy::too_many_arguments)]
fn item_text(
    index: usize,
    who: &str,
    item: &IncomeItem,
    annual: Money,
    cost: Money,
    counted: Money,
    policy: &Policy,
    excluded: &Option<Exclusion>,
    programme: Programme,
) -> Text {
    let (class_zh, class_en) = item.class.labels();
    let (kind_zh, kind_en) = item.kind.labels();
    let (per_zh, per_en) = item.period.labels();
    let n = index + 1;
    let head_zh = format!(
        "收入第{n}项 {who}{class_zh}（{kind_zh}）：{per_zh}{}元，折合全年{}元",
        yuan(item.amount),
        yuan(annual)
    );
    let head_en = format!(
        "Income #{n} {who}{class_en} ({kind_en}): {} yuan {per_en}, {annual} yuan a year",
        item.amount
    );
    let (zh, en) = match excluded {
        None if item.class == IncomeClass::Wages => (
            format!(
                "扣除必要就业成本{}元（{}），计入{}元（第十三条）",
                yuan(cost),
                policy.employment_cost_rate,
                yuan(counted)
            ),
            format!(
                "minus employment cost {cost} yuan (rate {}), counted {counted} yuan (DB2021 art. 13)",
                policy.employment_cost_rate
            ),
        ),
        None => (
            format!("计入{}元（第十三条）", yuan(counted)),
            format!("counted {counted} yuan (DB2021 art. 13)"),
        ),
        Some(Exclusion::NotCoResident) => (
            "不计入：非共同生活成员的收入".to_owned(),
            "not counted: member not co-resident".to_owned(),
        ),
        Some(Exclusion::NotApplicant) => (
            "不计入：单人户只计申请人本人的收入".to_owned(),
            "not counted: single-person application counts only the applicant's income".to_owned(),
        ),
        Some(Exclusion::National)
            if programme == Programme::Tekun
                && !item.kind.excluded_nationally(Programme::Dibao) =>
        {
            (
                format!("不计入：特困人员认定时{kind_zh}不计入收入（《特困人员认定办法》第六条）"),
                format!("not counted: {kind_en} is excluded for 特困 (TK2021 art. 6)"),
            )
        }
        Some(Exclusion::National) => (
            format!("不计入：{kind_zh}按国家规定不计入家庭收入"),
            format!("not counted: {kind_en} is excluded by national rules"),
        ),
        Some(Exclusion::Local) => (
            format!("不计入：本地区规定{kind_zh}不计入家庭收入"),
            format!("not counted: {kind_en} is excluded by the region's policy"),
        ),
    };
    Text::new(format!("{head_zh}，{zh}"), format!("{head_en}; {en}"))
}

/// Whether a member counts as without work capacity (无劳动能力, TK2021 art. 7 as extended to
/// minors under 18 by GG2020), and the rule that says so.
pub fn no_work_capacity(member: &Member, policy: &Policy, as_of: NaiveDate) -> Option<Text> {
    if let Some(age) = member.age_on(as_of) {
        if age >= policy.elder_age {
            return Some(Text::new(
                format!(
                    "{}{age}岁，{}周岁以上视为无劳动能力",
                    member.label(),
                    policy.elder_age
                ),
                format!(
                    "{} is {age}, aged {} or over: no work capacity",
                    member.label(),
                    policy.elder_age
                ),
            ));
        }
        if age < policy.minor_age {
            return Some(Text::new(
                format!(
                    "{}{age}岁，未满{}周岁视为无劳动能力",
                    member.label(),
                    policy.minor_age
                ),
                format!(
                    "{} is {age}, under {}: no work capacity",
                    member.label(),
                    policy.minor_age
                ),
            ));
        }
    }
    if let Some(d) = member.disability {
        let severe = match d.kind {
            DisabilityKind::Intellectual | DisabilityKind::Mental => d.grade <= 3,
            DisabilityKind::Physical | DisabilityKind::Multiple => d.grade <= 2,
            DisabilityKind::Visual => d.grade <= 1,
            DisabilityKind::Hearing | DisabilityKind::Speech => false,
        };
        if severe && d.grade >= 1 {
            return Some(Text::new(
                format!(
                    "{}残疾等级{}级，按残疾类别和等级视为无劳动能力",
                    member.label(),
                    d.grade
                ),
                format!(
                    "{}: disability grade {} of this kind means no work capacity",
                    member.label(),
                    d.grade
                ),
            ));
        }
    }
    if member.work_capacity == WorkCapacity::None {
        return Some(Text::new(
            format!("{}经调查认定劳动能力完全丧失", member.label()),
            format!(
                "{}: recorded as having fully lost work capacity",
                member.label()
            ),
        ));
    }
    None
}

/// 自理能力: the care tier from the number of the 6 daily activities (eating, dressing, getting in
/// and out of bed, toilet, walking indoors, bathing) a person cannot manage (TK2021).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SelfCare {
    /// 0 activities not managed: 具备生活自理能力.
    Able,
    /// 1–3 not managed: 部分丧失生活自理能力.
    PartlyLost,
    /// 4–6 not managed: 完全丧失生活自理能力.
    FullyLost,
}

/// The self-care tier for `not_managed` activities out of 6; `None` if more than 6.
pub fn self_care(not_managed: u8) -> Option<SelfCare> {
    match not_managed {
        0 => Some(SelfCare::Able),
        1..=3 => Some(SelfCare::PartlyLost),
        4..=6 => Some(SelfCare::FullyLost),
        _ => None,
    }
}

/// Run the income arithmetic and every indicator for `household` under `policy` on `as_of`.
///
/// The result is a set of hints for the investigator, not a decision.
pub fn assess(
    household: &Household,
    policy: &Policy,
    as_of: NaiveDate,
) -> Result<Assessment, AssessError> {
    let standard = policy
        .dibao_standard(household.area)
        .ok_or(AssessError::NoStandard(household.area))?;
    let income = household_income(household, policy, Programme::Dibao)?;
    let tekun_income = household_income(household, policy, Programme::Tekun)?;
    let size = i128::from(income.household_size);
    let standard_monthly = standard.monthly_display();
    let std_line = Text::new(
        format!(
            "{}低保标准{}元/人/月（{}）",
            household.area.label_zh(),
            yuan(standard_monthly),
            standard_source_zh(standard)
        ),
        format!(
            "{} 低保 standard {standard_monthly} yuan per person per month ({})",
            household.area.label_en(),
            standard_source_en(standard)
        ),
    );

    // 低保 amount: exact monthly gap, rounded up to the yuan.
    let gap = i128::from(standard.annual().0) * S * size - income.exact;
    let dibao_amount = if gap <= 0 {
        Money::ZERO
    } else {
        checked_money(div_ceil(gap, 12 * S * 100) * 100)?
    };

    let is_dibao = income.below(standard, Rate::ONE);
    let mut dibao_lines = income.lines.clone();
    dibao_lines.push(std_line.clone());
    dibao_lines.push(if is_dibao {
        Text::new(
            format!(
                "月人均收入{}元低于标准{}元：可作为低保对象线索；保障金 = {}元 × {} − 家庭月收入，向上取整到元 = {}元",
                yuan(income.per_capita_monthly), yuan(standard_monthly), yuan(standard_monthly), size, yuan(dibao_amount)
            ),
            format!(
                "Per-capita monthly income {} is below the standard {}: possible 低保 case; amount = {} × {} − monthly household income, rounded up to the yuan = {} yuan",
                income.per_capita_monthly, standard_monthly, standard_monthly, size, dibao_amount
            ),
        )
    } else {
        Text::new(
            format!("月人均收入{}元不低于标准{}元：不符合低保收入条件", yuan(income.per_capita_monthly), yuan(standard_monthly)),
            format!("Per-capita monthly income {} is not below the standard {}: 低保 income test not met", income.per_capita_monthly, standard_monthly),
        )
    });
    dibao_lines.push(hint_line());

    let mult = policy.near_dibao_multiplier(household.area);
    let is_near = !is_dibao && income.below(standard, mult);
    let mut near_lines = income.lines.clone();
    near_lines.push(std_line.clone());
    let line_std = checked_money(div_round(
        i128::from(standard.annual().0) * i128::from(mult.units()),
        12 * S,
    ))?;
    near_lines.push(Text::new(
        format!(
            "低保边缘：不属于低保对象且月人均收入{}元低于{}倍标准（{}元）时成立，结果：{}",
            yuan(income.per_capita_monthly), mult, yuan(line_std), if is_near { "成立" } else { "不成立" }
        ),
        format!(
            "Near-dibao: not a 低保 case and per-capita monthly income {} below {} × standard ({} yuan); result: {}",
            income.per_capita_monthly, mult, line_std, if is_near { "met" } else { "not met" }
        ),
    ));
    near_lines.push(hint_line());

    let indicators = Indicators {
        dibao: Indicator {
            status: Status::from_bool(is_dibao),
            explanation: dibao_lines,
        },
        near_dibao: Indicator {
            status: Status::from_bool(is_near),
            explanation: near_lines,
        },
        tekun: tekun_indicator(household, policy, as_of, &tekun_income, standard, &std_line),
        rigid_expenditure: rigid_indicator(household, policy, &income)?,
        above_asset_limits: asset_indicator(household, policy, income.household_size),
    };
    Ok(Assessment {
        income,
        tekun_income,
        standard,
        standard_monthly,
        dibao_amount,
        indicators,
    })
}

fn standard_source_zh(s: Standard) -> String {
    match s.per {
        super::policy::Per::Month => "按月公布".to_owned(),
        super::policy::Per::Year => format!(
            "按年公布{}元/人/年，按年计算比较，每月数额四舍五入到分仅用于显示",
            yuan(s.amount)
        ),
    }
}

fn standard_source_en(s: Standard) -> String {
    match s.per {
        super::policy::Per::Month => "published monthly".to_owned(),
        super::policy::Per::Year => format!(
            "published as {} yuan per year; compared in annual terms, the monthly figure is rounded for display only",
            s.amount
        ),
    }
}

fn hint_line() -> Text {
    Text::new(
        "以上为系统测算提示，不是审核确认结论，以乡镇、县级民政部门调查审核为准",
        "This is a computed hint, not a decision: the township and county decide after investigation and review",
    )
}

fn tekun_indicator(
    h: &Household,
    policy: &Policy,
    as_of: NaiveDate,
    income: &IncomeResult,
    standard: Standard,
    std_line: &Text,
) -> Indicator {
    let mut lines = income.lines.clone();
    lines.push(std_line.clone());
    lines.push(Text::new(
        "特困人员认定时高龄津贴、基本医疗保险等不计入收入（《特困人员认定办法》第六条）",
        "For 特困, old-age allowance and basic medical insurance are not counted (TK2021 art. 6)",
    ));
    let income_ok = income.below(standard, Rate::ONE);
    lines.push(Text::new(
        format!(
            "收入条件（月人均收入{}元低于低保标准）：{}",
            yuan(income.per_capita_monthly),
            if income_ok { "符合" } else { "不符合" }
        ),
        format!(
            "Income test (per-capita monthly income {} below the standard): {}",
            income.per_capita_monthly,
            if income_ok { "met" } else { "not met" }
        ),
    ));
    let in_scope: Vec<&Member> = h
        .members
        .iter()
        .filter(|m| match &h.single_person_applicant {
            Some(a) => &m.id == a,
            None => m.co_resident,
        })
        .collect();
    let mut without = 0;
    for m in &in_scope {
        match no_work_capacity(m, policy, as_of) {
            Some(t) => {
                without += 1;
                lines.push(t);
            }
            None => lines.push(Text::new(
                format!("{}未认定为无劳动能力（可能有赡养、扶养能力）", m.label()),
                format!(
                    "{}: not without work capacity (may be able to support)",
                    m.label()
                ),
            )),
        }
    }
    let capacity_ok = without > 0 && without == in_scope.len();
    let able_supporters = h.supporters.iter().filter(|s| s.able_to_support).count();
    lines.push(Text::new(
        format!("有赡养、抚养、扶养能力的法定义务人：{able_supporters}人"),
        format!("Legal supporters able to support: {able_supporters}"),
    ));
    let met = income_ok && capacity_ok && able_supporters == 0;
    lines.push(Text::new(
        format!(
            "特困线索（收入低于标准、无劳动能力、无有能力的法定义务人）：{}",
            if met { "成立" } else { "不成立" }
        ),
        format!(
            "特困 hint (income below the standard, no work capacity, no able supporter): {}",
            if met { "met" } else { "not met" }
        ),
    ));
    lines.push(hint_line());
    Indicator {
        status: Status::from_bool(met),
        explanation: lines,
    }
}

fn rigid_indicator(
    h: &Household,
    policy: &Policy,
    income: &IncomeResult,
) -> Result<Indicator, AssessError> {
    let mut lines = income.lines.clone();
    let rigid: i128 = h
        .rigid_expenditure
        .iter()
        .map(|r| i128::from(r.amount.0))
        .sum();
    let rigid_m = checked_money(rigid)?;
    lines.push(Text::new(
        format!(
            "近12个月刚性支出合计{}元（{}项）",
            yuan(rigid_m),
            h.rigid_expenditure.len()
        ),
        format!(
            "Rigid expenditure over 12 months: {rigid_m} yuan ({} items)",
            h.rigid_expenditure.len()
        ),
    ));
    let Some(disposable) = policy.disposable_income(h.area) else {
        lines.push(Text::new(
            "本地区未设定上年度居民人均可支配收入，无法测算刚性支出困难",
            "The region has not set last year's per-capita disposable income: not evaluated",
        ));
        return Ok(Indicator {
            status: Status::NotEvaluated,
            explanation: lines,
        });
    };
    let size = i128::from(income.household_size);
    let low_income = income.exact < i128::from(disposable.0) * S * size;
    let ratio = policy.rigid_expenditure_ratio;
    // rigid / income > ratio, with income in fen × S: rigid × S × S > ratio × income.
    let heavy = rigid > 0 && rigid * S * S > i128::from(ratio.units()) * income.exact;
    lines.push(Text::new(
        format!(
            "家庭年人均收入低于上年度人均可支配收入{}元：{}；刚性支出超过家庭年收入的{}：{}",
            yuan(disposable), if low_income { "是" } else { "否" }, ratio, if heavy { "是" } else { "否" }
        ),
        format!(
            "Per-capita annual income below last year's disposable income {disposable}: {}; rigid expenditure above {ratio} of annual income: {}",
            if low_income { "yes" } else { "no" }, if heavy { "yes" } else { "no" }
        ),
    ));
    lines.push(hint_line());
    Ok(Indicator {
        status: Status::from_bool(low_income && heavy),
        explanation: lines,
    })
}

fn asset_indicator(h: &Household, policy: &Policy, size: u32) -> Indicator {
    let mut lines = Vec::new();
    let mut evaluated = false;
    let mut above = false;
    let counted = |kinds: &'static [AssetKind]| {
        h.assets
            .iter()
            .filter(move |a| !a.exempt && kinds.contains(&a.kind))
    };
    if let Some(cap) = policy.financial_assets_per_capita_limit {
        evaluated = true;
        let total: i128 = counted(&[
            AssetKind::Deposit,
            AssetKind::Securities,
            AssetKind::Insurance,
        ])
        .map(|a| i128::from(a.value.0))
        .sum();
        let over = cap
            .limit()
            .is_some_and(|l| total > i128::from(l.0) * i128::from(size));
        let total = Money(i64::try_from(total).unwrap_or(i64::MAX));
        above |= over;
        let limit = match cap {
            Cap::Limited(l) => format!("{}", l),
            Cap::Unlimited => "∞".to_owned(),
        };
        lines.push(Text::new(
            format!("金融资产（存款、证券、保险，不含豁免）合计{total}元，限额{limit}元/人 × {size}人：{}", if over { "超出" } else { "未超出" }),
            format!("Financial assets (deposits, securities, insurance, not exempt) {total} yuan, limit {limit} per person × {size}: {}", if over { "above" } else { "within" }),
        ));
    }
    for (cap, kind, zh, en) in [
        (
            policy.vehicle_limit,
            AssetKind::Vehicle,
            "机动车辆（不含豁免）",
            "vehicles (not exempt)",
        ),
        (
            policy.dwelling_limit,
            AssetKind::Dwelling,
            "房屋",
            "dwellings",
        ),
    ] {
        if let Some(cap) = cap {
            evaluated = true;
            let n = h
                .assets
                .iter()
                .filter(|a| !a.exempt && a.kind == kind)
                .count();
            let over = cap.limit().is_some_and(|l| n > l as usize);
            above |= over;
            let limit = cap
                .limit()
                .map_or_else(|| "∞".to_owned(), |l| l.to_string());
            lines.push(Text::new(
                format!(
                    "{zh}{n}处/辆，限{limit}：{}",
                    if over { "超出" } else { "未超出" }
                ),
                format!(
                    "{en}: {n}, limit {limit}: {}",
                    if over { "above" } else { "within" }
                ),
            ));
        }
    }
    if !evaluated {
        lines.push(Text::new(
            "本地区未设定财产限额",
            "The region has not set asset limits",
        ));
        return Indicator {
            status: Status::NotEvaluated,
            explanation: lines,
        };
    }
    lines.push(hint_line());
    Indicator {
        status: Status::from_bool(above),
        explanation: lines,
    }
}

#[cfg(test)]
mod tests;
