//! Income arithmetic (DB2021 art. 13, TK2021 art. 6): household size, counted and excluded income,
//! per-capita monthly income, and who counts as without work capacity.
//!
//! Every result here is a **hint for the investigator, not a decision**: eligibility is decided by
//! the township and the county after the means investigation, the public notice and the review.
//! Each figure carries its explanation, in Chinese with English alongside, listing every item and
//! rule used, so that a worker can show a family how it came about.
//!
//! Arithmetic is exact: amounts are integer fen, rates are ten-thousandths, and the only rounding
//! happens at the end (per-capita income half-up to the fen; the 低保 amount up to the yuan).
//! Comparisons with standards are made on exact annual amounts.
//!
//! The input is [`Means`], made from a household document by its one adapter; the assessment
//! (`rules::assessment`) runs this arithmetic and the indicators.

use chrono::NaiveDate;

use super::means::{Means, Origin, Person};
use super::policy::{Policy, Standard};
use super::units::div_round;
use super::{Money, Rate, Text};
use crate::doc::household::{
    DisabilityKind, Health, IncomeClass, IncomeItem, IncomeKind, Period, WorkCapacity,
};
use crate::ids::MemberId;

/// Rate scale: exact amounts are kept in fen × [`Rate::SCALE`].
pub(crate) const S: i128 = Rate::SCALE as i128;

/// Which programme's income rules apply (they differ in exclusions).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum IncomeRules {
    /// 低保 (and 低保边缘, 刚性支出, which follow the 低保 income rules).
    Dibao,
    /// 特困人员: also excludes 高龄津贴 and basic medical insurance (TK2021 art. 6).
    Tekun,
}

/// Whose income is counted.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Unit {
    /// The co-resident members (DB2021 art. 7).
    Household,
    /// 单人户 / 单独施保 (DB2021 art. 8): one member alone, household size 1.
    Single(MemberId),
}

/// Why the arithmetic could not run.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AssessError {
    #[error("the household has no co-resident member")]
    NoCoResidentMember,
    #[error("the single-person applicant is not a current co-resident member")]
    BadSinglePersonApplicant,
    #[error("amounts too large to compute")]
    Overflow,
}

impl AssessError {
    /// A stable machine-readable code.
    pub fn code(&self) -> &'static str {
        match self {
            AssessError::NoCoResidentMember => "income.no_co_resident_member",
            AssessError::BadSinglePersonApplicant => "income.bad_single_person_applicant",
            AssessError::Overflow => "income.overflow",
        }
    }

    /// The message, Chinese and English.
    pub fn text(&self) -> Text {
        match self {
            AssessError::NoCoResidentMember => Text::new(
                "家庭没有共同生活的现有成员，无法计算人均收入",
                "The household has no current co-resident member: per-capita income cannot be computed",
            ),
            AssessError::BadSinglePersonApplicant => Text::new(
                "单人户申请人不是共同生活的现有成员",
                "The single-person applicant is not a current co-resident member",
            ),
            AssessError::Overflow => {
                Text::new("金额过大，无法计算", "Amounts too large to compute")
            }
        }
    }
}

/// Why an income line was left out of the counted income.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Exclusion {
    /// The member does not live in the household (not 共同生活).
    NotCoResident,
    /// The member is no longer part of the household (减员), or unknown.
    NotMember,
    /// 单人户: not the applicant's income.
    NotApplicant,
    /// Excluded by the national rules for this programme.
    National,
    /// Excluded by the region (`local_excluded_income_kinds`, `basic_pension_central_excluded`).
    Local,
}

/// What happened to one income line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ItemOutcome {
    pub origin: Origin,
    /// The amount over 12 months.
    pub annual: Money,
    /// Employment cost deducted (wages only), rounded to the fen for display.
    pub employment_cost: Money,
    /// The amount counted (annual − employment cost), rounded to the fen for display; 0 if
    /// excluded; negative for support paid, which is deducted.
    pub counted: Money,
    /// `None` when counted (or deducted).
    pub excluded: Option<Exclusion>,
    pub text: Text,
}

/// The income of a household (or of one applicant) under one programme's rules.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IncomeResult {
    pub rules: IncomeRules,
    pub unit: Unit,
    pub household_size: u32,
    pub items: Vec<ItemOutcome>,
    /// Total employment-cost deduction over the year (display, rounded to the fen).
    pub employment_cost: Money,
    /// Total support paid over the year.
    pub support_paid: Money,
    /// Rigid expenditure deducted (the region's switch), over the year.
    pub rigid_deduction: Money,
    /// Annual counted income, ≥ 0 (display, rounded to the fen).
    pub annual_income: Money,
    /// Per-capita monthly income: annual income ÷ size ÷ 12, rounded half-up to the fen once.
    pub per_capita_monthly: Money,
    /// The explanation lines: size, every item, deductions, totals.
    pub lines: Vec<Text>,
    /// Exact annual income in fen × [`S`], after every deduction.
    pub(crate) exact: i128,
    /// Exact annual income before the rigid-expenditure deduction.
    pub(crate) exact_before_rigid: i128,
}

impl IncomeResult {
    /// Whether annual income is below `factor` × `standard` per person (exact comparison).
    pub(crate) fn below(&self, standard: Standard, factor: Rate) -> bool {
        self.exact
            < i128::from(standard.annual().0)
                * i128::from(factor.units())
                * i128::from(self.household_size)
    }
}

pub(crate) fn yuan(m: Money) -> String {
    format!("{m}")
}

pub(crate) fn exact_to_money(e: i128) -> Result<Money, AssessError> {
    i64::try_from(div_round(e, S))
        .map(Money)
        .map_err(|_| AssessError::Overflow)
}

pub(crate) fn checked_money(v: i128) -> Result<Money, AssessError> {
    i64::try_from(v)
        .map(Money)
        .map_err(|_| AssessError::Overflow)
}

/// An amount over 12 months (a one-off amount of the last 12 months counts once).
pub fn annual(amount_fen: i64, period: Period) -> i128 {
    let a = i128::from(amount_fen);
    match period {
        Period::Month => a * 12,
        Period::Quarter => a * 4,
        Period::Year | Period::Once => a,
    }
}

fn period_labels(p: Period) -> (&'static str, &'static str) {
    match p {
        Period::Month => ("每月", "per month"),
        Period::Quarter => ("每季度", "per quarter"),
        Period::Year => ("每年", "per year"),
        Period::Once => ("一次性", "one-off"),
    }
}

fn class_en(c: IncomeClass) -> &'static str {
    match c {
        IncomeClass::Wages => "wages",
        IncomeClass::Business => "net business income",
        IncomeClass::Property => "net property income",
        IncomeClass::Transfer => "transfer income",
        IncomeClass::Other => "other income",
    }
}

/// The names of an income type: the national list's, the region's (`local_income_kinds`), or
/// the code itself.
pub fn kind_labels(kind: &IncomeKind, policy: &Policy) -> (String, String) {
    if let Some((zh, en)) = kind.national_labels() {
        return (zh.to_owned(), en.to_owned());
    }
    let code = kind.code();
    match policy.local_income_kinds.iter().find(|k| k.code == code) {
        Some(k) => (k.name.clone(), format!("{} (local type {code})", k.name)),
        None => (format!("地方类型“{code}”"), format!("local type {code:?}")),
    }
}

/// The first day of the 14th Five-Year Plan (2021–2025), from which the central 基础养老金 is
/// left out of income (Qinghai 2021: "'十四五'时期中央确定的城乡居民基本养老保险基础养老金仍不计入收入").
fn from_14th_five_year_plan(date: NaiveDate) -> bool {
    use chrono::Datelike;
    date.year() >= 2021
}

/// Whether the 14th Five-Year Plan itself (2021–2025) covers the date.
fn in_14th_five_year_plan(date: NaiveDate) -> bool {
    use chrono::Datelike;
    (2021..=2025).contains(&date.year())
}

/// Whether the rules leave an income type out, and the line that says why.
pub fn exclusion(
    kind: &IncomeKind,
    rules: IncomeRules,
    policy: &Policy,
    as_of: NaiveDate,
) -> Option<(Exclusion, Text)> {
    let (zh, en) = kind_labels(kind, policy);
    let national = || {
        Text::new(
            format!("不计入：{zh}按国家规定不计入家庭收入（第十三条）"),
            format!("not counted: {en} is excluded by national rules (DB2021 art. 13)"),
        )
    };
    match kind {
        IncomeKind::PreferentialTreatment
        | IncomeKind::FamilyPlanningReward
        | IncomeKind::Scholarship
        | IncomeKind::BraveryAward
        | IncomeKind::SocialAssistance => return Some((Exclusion::National, national())),
        IncomeKind::BasicPensionCentral => {
            return match policy.basic_pension_central_excluded {
                Some(true) => Some((
                    Exclusion::Local,
                    Text::new(
                        format!("不计入：本地区规定{zh}不计入家庭收入"),
                        format!("not counted: the region excludes the {en}"),
                    ),
                )),
                Some(false) => None,
                None if in_14th_five_year_plan(as_of) => Some((
                    Exclusion::National,
                    Text::new(
                        format!("不计入：“十四五”时期（2021—2025年）中央确定的{zh}不计入家庭收入"),
                        format!(
                            "not counted: the {en} is excluded in the 14th Five-Year Plan (2021–2025)"
                        ),
                    ),
                )),
                // After 2025 the national text has not been replaced by one the rules know; the
                // exclusion continues until the region sets otherwise, and the line says so.
                None if from_14th_five_year_plan(as_of) => Some((
                    Exclusion::National,
                    Text::new(
                        format!(
                            "不计入：中央确定的{zh}在“十四五”时期不计入家庭收入，新规定明确前继续不计入（地区可在政策中设置）"
                        ),
                        format!(
                            "not counted: the {en} was excluded in the 14th Five-Year Plan; the exclusion continues until a newer rule says otherwise (the region can set it)"
                        ),
                    ),
                )),
                None => None,
            };
        }
        IncomeKind::OldAgeAllowance | IncomeKind::MedicalInsurance
            if rules == IncomeRules::Tekun =>
        {
            return Some((
                Exclusion::National,
                Text::new(
                    format!("不计入：特困人员认定时{zh}不计入收入（《特困人员认定办法》第六条）"),
                    format!("not counted: {en} is excluded for 特困 (TK2021 art. 6)"),
                ),
            ));
        }
        _ => {}
    }
    policy
        .local_excluded_income_kinds
        .iter()
        .any(|k| k == kind.code())
        .then(|| {
            (
                Exclusion::Local,
                Text::new(
                    format!("不计入：本地区规定{zh}不计入家庭收入"),
                    format!("not counted: {en} is excluded by the region's policy"),
                ),
            )
        })
}

/// Whether an item counts under the 低保 rules, from its type alone (not who earns it).
pub fn counts_for_dibao(kind: &IncomeKind, policy: &Policy, as_of: NaiveDate) -> bool {
    exclusion(kind, IncomeRules::Dibao, policy, as_of).is_none()
}

/// Whether money of `member` belongs to the unit assessed; `Err` names the reason it does not.
fn in_unit(means: &Means<'_>, unit: Unit, member: Option<&MemberId>) -> Result<(), Exclusion> {
    match (unit, member) {
        (Unit::Single(a), Some(m)) if a == *m => Ok(()),
        (Unit::Single(_), _) => Err(Exclusion::NotApplicant),
        (Unit::Household, None) => Ok(()),
        (Unit::Household, Some(m)) => match means.members.get(m) {
            Some(p) if p.member.co_resident => Ok(()),
            Some(_) => Err(Exclusion::NotCoResident),
            None => Err(Exclusion::NotMember),
        },
    }
}

fn size_line(means: &Means<'_>, unit: Unit, size: u32) -> Text {
    if let Unit::Single(a) = unit {
        let name = means.label(Some(&a));
        return Text::new(
            format!(
                "单人户（参照单人户，《最低生活保障审核确认办法》第八条）：{name}单独计算，家庭人口按1人计"
            ),
            format!(
                "Single-person application (DB2021 art. 8): {name} is assessed alone; household size 1"
            ),
        );
    }
    let names: Vec<&str> = means.co_resident().map(|(_, p)| p.label()).collect();
    let away: Vec<&str> = means
        .members
        .values()
        .filter(|p| !p.member.co_resident)
        .map(Person::label)
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

fn origin_label(origin: Origin, n: usize) -> (String, String) {
    match origin {
        Origin::Income(_) => (format!("收入第{n}项"), format!("Income #{n}")),
        Origin::Supporter(_) => (
            format!("赡养（抚养、扶养）义务人第{n}项给付"),
            format!("Support from supporter #{n}"),
        ),
    }
}

/// Compute the income of `unit` under `rules`.
pub fn income(
    means: &Means<'_>,
    policy: &Policy,
    rules: IncomeRules,
    unit: Unit,
) -> Result<IncomeResult, AssessError> {
    let size = match unit {
        Unit::Single(a) => match means.members.get(&a) {
            Some(p) if p.member.co_resident => 1,
            _ => return Err(AssessError::BadSinglePersonApplicant),
        },
        Unit::Household => match means.co_resident().count() {
            0 => return Err(AssessError::NoCoResidentMember),
            n => u32::try_from(n).map_err(|_| AssessError::Overflow)?,
        },
    };
    let rate = i128::from(policy.employment_cost_rate.units());
    let mut lines = vec![size_line(means, unit, size)];
    let mut items = Vec::with_capacity(means.income.len());
    let (mut total, mut cost_total, mut paid_total) = (0_i128, 0_i128, 0_i128);
    let (mut n_income, mut n_support) = (0, 0);
    for line in &means.income {
        let n = match line.origin {
            Origin::Income(_) => {
                n_income += 1;
                n_income
            }
            Origin::Supporter(_) => {
                n_support += 1;
                n_support
            }
        };
        let item: &IncomeItem = &line.item;
        let annual_amount = annual(item.amount_fen, item.period);
        let member = item.member.as_ref();
        let excluded = match in_unit(means, unit, member) {
            Err(e) => Some((e, unit_text(e))),
            Ok(()) => exclusion(&item.kind, rules, policy, means.as_of),
        };
        let paid = item.kind == IncomeKind::SupportPaid;
        let cost = if excluded.is_none() && !paid && item.class == IncomeClass::Wages {
            annual_amount * rate
        } else {
            0
        };
        let counted = match (&excluded, paid) {
            (Some(_), _) => 0,
            (None, true) => -annual_amount * S,
            (None, false) => annual_amount * S - cost,
        };
        if paid && excluded.is_none() {
            paid_total += annual_amount;
        } else {
            total += counted;
        }
        cost_total += cost;
        let (annual_m, cost_m, counted_m) = (
            checked_money(annual_amount)?,
            exact_to_money(cost)?,
            exact_to_money(counted)?,
        );
        let (what_zh, what_en) = origin_label(line.origin, n);
        let text = item_text(
            (&what_zh, &what_en),
            means.label(member),
            item,
            policy,
            (annual_m, cost_m, counted_m),
            excluded.as_ref().map(|(_, t)| t),
            paid,
        );
        lines.push(text.clone());
        items.push(ItemOutcome {
            origin: line.origin,
            annual: annual_m,
            employment_cost: cost_m,
            counted: counted_m,
            excluded: excluded.map(|(e, _)| e),
            text,
        });
    }
    let exact_before_rigid = (total - paid_total * S).max(0);
    let mut exact = exact_before_rigid;
    let mut rigid_total = 0_i128;
    if rules == IncomeRules::Dibao && policy.rigid_expenditure_deduction == Some(true) {
        rigid_total = means
            .rigid
            .iter()
            .filter(|(_, e)| match unit {
                Unit::Household => e
                    .member
                    .as_ref()
                    .is_none_or(|m| in_unit(means, unit, Some(m)).is_ok()),
                Unit::Single(a) => e.member == Some(a),
            })
            .map(|(_, e)| i128::from(e.amount_fen))
            .sum();
        exact = (exact_before_rigid - rigid_total * S).max(0);
        let r = checked_money(rigid_total)?;
        lines.push(Text::new(
            format!("本地区实行刚性支出扣减：扣除近12个月刚性支出{}元", yuan(r)),
            format!(
                "The region deducts rigid expenditure: {r} yuan over the last 12 months deducted"
            ),
        ));
    }
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
        rules,
        unit,
        household_size: size,
        items,
        employment_cost: exact_to_money(cost_total)?,
        support_paid: checked_money(paid_total)?,
        rigid_deduction: checked_money(rigid_total)?,
        annual_income,
        per_capita_monthly,
        lines,
        exact,
        exact_before_rigid,
    })
}

fn unit_text(e: Exclusion) -> Text {
    match e {
        Exclusion::NotCoResident => Text::new(
            "不计入：非共同生活成员的收入（第七条）",
            "not counted: member not co-resident (DB2021 art. 7)",
        ),
        Exclusion::NotMember => Text::new(
            "不计入：该成员已减员或不在家庭成员中",
            "not counted: the member has left the household or is not on record",
        ),
        _ => Text::new(
            "不计入：单人户只计申请人本人的收入",
            "not counted: a single-person application counts only the applicant's income",
        ),
    }
}

fn item_text(
    (what_zh, what_en): (&str, &str),
    who: &str,
    item: &IncomeItem,
    policy: &Policy,
    (annual, cost, counted): (Money, Money, Money),
    excluded: Option<&Text>,
    paid: bool,
) -> Text {
    let (class_zh, class_en) = (item.class.label_zh(), class_en(item.class));
    let (kind_zh, kind_en) = kind_labels(&item.kind, policy);
    let (per_zh, per_en) = period_labels(item.period);
    let amount = Money(item.amount_fen);
    let who_zh = if who.is_empty() {
        String::new()
    } else {
        format!("{who} ")
    };
    let head_zh = format!(
        "{what_zh} {who_zh}{class_zh}（{kind_zh}）：{per_zh}{}元，折合全年{}元",
        yuan(amount),
        yuan(annual)
    );
    let head_en = format!(
        "{what_en} {who_zh}{class_en} ({kind_en}): {amount} yuan {per_en}, {annual} yuan a year"
    );
    let (zh, en) = match excluded {
        Some(t) => (t.zh.clone(), t.en.clone()),
        None if paid => (
            format!("从转移净收入中扣减{}元（第十三条）", yuan(annual)),
            format!("deducted from transfer income: {annual} yuan (DB2021 art. 13)"),
        ),
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
    };
    Text::new(format!("{head_zh}，{zh}"), format!("{head_en}; {en}"))
}

/// Whether a member counts as without work capacity (无劳动能力, TK2021 art. 5 as extended to
/// minors under 18 by GG2020), and the rule that says so.
pub fn no_work_capacity(person: &Person<'_>, policy: &Policy, as_of: NaiveDate) -> Option<Text> {
    let name = person.label();
    if let Some(age) = person.age_on(as_of) {
        if age >= policy.elder_age {
            return Some(Text::new(
                format!("{name}{age}岁，{}周岁以上视为无劳动能力", policy.elder_age),
                format!(
                    "{name} is {age}, aged {} or over: no work capacity",
                    policy.elder_age
                ),
            ));
        }
        if age < policy.minor_age {
            return Some(Text::new(
                format!("{name}{age}岁，未满{}周岁视为无劳动能力", policy.minor_age),
                format!(
                    "{name} is {age}, under {}: no work capacity",
                    policy.minor_age
                ),
            ));
        }
    }
    let m = person.member;
    if let (Some(kind), Some(grade)) = (m.disability_kind, m.disability_grade) {
        let severe = match kind {
            DisabilityKind::Intellectual | DisabilityKind::Mental => grade <= 3,
            DisabilityKind::Physical | DisabilityKind::Multiple => grade <= 2,
            DisabilityKind::Visual => grade <= 1,
            DisabilityKind::Hearing | DisabilityKind::Speech => false,
        };
        if severe && grade >= 1 {
            return Some(Text::new(
                format!(
                    "{name}{}{grade}级，按残疾类别和等级视为无劳动能力（《特困人员认定办法》第五条）",
                    kind.label_zh()
                ),
                format!(
                    "{name}: disability of this kind, grade {grade}, means no work capacity (TK2021 art. 5)"
                ),
            ));
        }
    }
    if m.work_capacity == Some(WorkCapacity::FullyLost) {
        return Some(Text::new(
            format!("{name}经调查认定劳动能力完全丧失"),
            format!("{name}: recorded as having fully lost work capacity"),
        ));
    }
    None
}

/// Why a member may apply alone (参照单人户, DB2021 art. 8): a grade 1–2 disability card, a grade
/// 3 intellectual or mental disability card, or a serious illness (重病).
pub fn single_person_ground(person: &Person<'_>) -> Option<Text> {
    let m = person.member;
    let name = person.label();
    if let (Some(kind), Some(grade)) = (m.disability_kind, m.disability_grade) {
        let severe = grade <= 2
            || (grade == 3
                && matches!(kind, DisabilityKind::Intellectual | DisabilityKind::Mental));
        if severe && grade >= 1 {
            return Some(Text::new(
                format!("{name}持{}{grade}级残疾人证（重度残疾）", kind.label_zh()),
                format!("{name} holds a grade {grade} disability card of this kind (severe)"),
            ));
        }
    }
    if m.health == Some(Health::SeriouslyIll) {
        return Some(Text::new(
            format!("{name}患重病"),
            format!("{name} is seriously ill"),
        ));
    }
    None
}

/// 自理能力: the care tier from the number of the 6 daily activities (eating, dressing, getting in
/// and out of bed, toilet, walking indoors, bathing) a person cannot manage (TK2021).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum SelfCare {
    /// 0 activities not managed: 具备生活自理能力.
    Able,
    /// 1–3 not managed: 部分丧失生活自理能力.
    PartlyLost,
    /// 4–6 not managed: 完全丧失生活自理能力.
    FullyLost,
}

impl SelfCare {
    /// The stable code (`able`, `partly_lost`, `fully_lost`).
    pub fn as_str(self) -> &'static str {
        match self {
            SelfCare::Able => "able",
            SelfCare::PartlyLost => "partly_lost",
            SelfCare::FullyLost => "fully_lost",
        }
    }

    /// The Chinese name shown to users.
    pub fn label_zh(self) -> &'static str {
        match self {
            SelfCare::Able => "具备生活自理能力",
            SelfCare::PartlyLost => "部分丧失生活自理能力",
            SelfCare::FullyLost => "完全丧失生活自理能力",
        }
    }
}

/// The tier of a recorded assessment (a set of the 6 activities, so it always has one).
pub fn assessed_tier(a: &crate::doc::household::SelfCareAssessment) -> SelfCare {
    let n = u8::try_from(a.not_managed.len()).unwrap_or(u8::MAX);
    self_care(n).unwrap_or(SelfCare::FullyLost)
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
