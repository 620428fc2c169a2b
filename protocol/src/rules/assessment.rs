//! The assessment of a household's means: the one computation that the phone (offline, with the
//! synced policy book) and the console show.
//!
//! [`assess_household`] takes a household document, the policy book, the household's village
//! (the region its policy is resolved for) and the date, and gives the 低保 standard in force and
//! where it comes from, the per-capita monthly income, the 低保 amount, the indicators (低保,
//! 低保边缘, 特困, 刚性支出, assets, 单人户) each with its explanation, what is missing for a
//! verdict, and the notice that all of it is a hint, not a decision ("提示，不是结论").

use std::collections::BTreeMap;

use chrono::NaiveDate;

use super::income::{self, AssessError, IncomeResult, IncomeRules, S, Unit, checked_money, yuan};
use super::means::Means;
use super::policy::{Per, Policy, PolicyBook, PolicySettings, Standard, UrbanRural};
use super::units::{div_ceil, div_round};
use super::{Cap, Money, Rate, Text};
use crate::doc::household::{AssetKind, Household, Programme};
use crate::ids::MemberId;

/// What an assessment is made against.
#[derive(Debug, Clone, Copy)]
pub struct Context<'a> {
    /// The region policy book (on a phone: the one received through sync).
    pub book: &'a PolicyBook,
    /// The 12-digit code of the household's village (a grid's village); `None` when unknown.
    pub region: Option<&'a str>,
    /// The assessment date.
    pub as_of: NaiveDate,
    /// Birth dates of members whose 身份证号 the caller holds in clear.
    pub birth_dates: &'a BTreeMap<MemberId, NaiveDate>,
}

/// The outcome of one indicator.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Status {
    Met,
    NotMet,
    /// Something the indicator needs is missing (a figure the region has not set, a record).
    NotEvaluated,
}

impl Status {
    fn from_bool(b: bool) -> Status {
        if b { Status::Met } else { Status::NotMet }
    }

    /// The stable code: `met`, `not_met`, `not_evaluated`.
    pub fn code(self) -> &'static str {
        match self {
            Status::Met => "met",
            Status::NotMet => "not_met",
            Status::NotEvaluated => "not_evaluated",
        }
    }

    /// In Chinese: 符合, 不符合, 无法测算.
    pub fn label_zh(self) -> &'static str {
        match self {
            Status::Met => "符合",
            Status::NotMet => "不符合",
            Status::NotEvaluated => "无法测算",
        }
    }
}

/// An indicator for the worker: a hint, not a decision.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Indicator {
    pub status: Status,
    /// Every item and rule used, in order.
    pub explanation: Vec<Text>,
}

impl Indicator {
    fn not_evaluated(mut explanation: Vec<Text>, why: Text) -> Indicator {
        explanation.push(why);
        Indicator {
            status: Status::NotEvaluated,
            explanation,
        }
    }
}

/// All indicators. Hints for the investigator, never decisions.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Indicators {
    /// 低保 candidate: per-capita income below the standard.
    pub dibao: Indicator,
    /// 低保边缘: not a 低保 candidate, per-capita income below the multiplier × standard.
    pub near_dibao: Indicator,
    /// 特困 hint: income below the standard (特困 exclusions), members without work capacity,
    /// nobody able to support them.
    pub tekun: Indicator,
    /// 刚性支出困难: not 低保 / 特困 / 边缘; per-capita income below last year's disposable
    /// income; 12-month rigid spending above the region's ratio of income (GX2025 art. 4).
    pub rigid_expenditure: Indicator,
    /// Assets above the local limits.
    pub assets: Indicator,
    /// 单人户: a member of a 边缘 household with a severe disability or a serious illness may
    /// apply alone (DB2021 art. 8).
    pub single_person: Indicator,
}

/// The 低保 standard in force for a household and where it comes from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StandardInForce {
    pub area: UrbanRural,
    pub standard: Standard,
    /// Per person per month (display; a yearly standard divided by 12, rounded to the fen).
    pub monthly: Money,
    /// The region whose policy layer sets it; `None` for a national layer.
    pub region: Option<String>,
    /// The first day of that layer version.
    pub effective_from: NaiveDate,
    /// The document it comes from, as the layer records it (e.g. a notice number).
    pub source: Option<String>,
    /// The line shown.
    pub text: Text,
}

/// The assessment of a household's means. Hints for the investigator, never decisions.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Assessment {
    pub as_of: NaiveDate,
    /// The region the policy was resolved for.
    pub region: Option<String>,
    /// Urban or rural, from the 户籍 type.
    pub area: Option<UrbanRural>,
    pub standard: Option<StandardInForce>,
    /// Income under the 低保 rules; `None` without a co-resident current member.
    pub income: Option<IncomeResult>,
    /// Income under the 特困 rules (more exclusions).
    pub tekun_income: Option<IncomeResult>,
    /// 低保 amount: standard × size − monthly household income, rounded up to the yuan, ≥ 0;
    /// `None` without a standard.
    pub dibao_amount: Option<Money>,
    pub indicators: Indicators,
    /// What a verdict still needs (a standard the region has not set, a record not made).
    pub missing: Vec<Text>,
    /// "提示，不是结论".
    pub notice: Text,
}

impl Assessment {
    /// Co-resident household size, when there is a co-resident member.
    pub fn household_size(&self) -> Option<u32> {
        self.income.as_ref().map(|i| i.household_size)
    }

    /// Per-capita monthly income under the 低保 rules.
    pub fn per_capita_monthly(&self) -> Option<Money> {
        self.income.as_ref().map(|i| i.per_capita_monthly)
    }
}

/// The notice every assessment carries.
pub fn notice() -> Text {
    Text::new(
        "提示，不是结论：以上为系统按本地政策测算的线索，以乡镇、县级民政部门调查审核确认为准",
        "A hint, not a decision: computed from the local policy for the investigator; the township and county decide after investigation and review",
    )
}

/// Assess a household document: the one function the phone and the console call.
pub fn assess_household(household: &Household, ctx: &Context<'_>) -> Assessment {
    let means = Means::of_household(household, ctx.birth_dates, ctx.as_of);
    let mut missing = Vec::new();
    let policy = match ctx.region.map(|r| (r, ctx.book.resolve(r, ctx.as_of))) {
        Some((_, Ok(p))) => p,
        Some((r, Err(e))) => {
            missing.push(Text::new(
                format!("无法取得地区{r}的政策：{}", e.message_zh()),
                format!("The policy of region {r} cannot be resolved: {e}"),
            ));
            ctx.book.resolve_national(ctx.as_of)
        }
        None => {
            missing.push(Text::new(
                "不知道家庭所在的村（社区），无法取得本地政策（请联网同步）",
                "The household's village is not known: the local policy cannot be resolved (sync online)",
            ));
            ctx.book.resolve_national(ctx.as_of)
        }
    };
    let standard = means.area.and_then(|area| {
        let standard = policy.dibao_standard(area)?;
        let layer = ctx.region.and_then(|r| {
            ctx.book
                .source_of(r, ctx.as_of, |s: &PolicySettings| match area {
                    UrbanRural::Urban => s.dibao_standard_urban.is_some(),
                    UrbanRural::Rural => s.dibao_standard_rural.is_some(),
                })
                .ok()
                .flatten()
        });
        Some(standard_in_force(
            area,
            standard,
            layer.and_then(|l| l.region.clone()),
            layer.map_or(ctx.as_of, |l| l.effective_from),
            layer.and_then(|l| l.source.clone()),
        ))
    });
    let mut a = assess_means(&means, &policy, standard);
    a.region = ctx.region.map(str::to_owned);
    missing.append(&mut a.missing);
    a.missing = missing;
    a
}

/// The standard in force, with its line.
pub fn standard_in_force(
    area: UrbanRural,
    standard: Standard,
    region: Option<String>,
    effective_from: NaiveDate,
    source: Option<String>,
) -> StandardInForce {
    let monthly = standard.monthly_display();
    let (per_zh, per_en) = match standard.per {
        Per::Month => (String::new(), String::new()),
        Per::Year => (
            format!(
                "，按年公布{}元/人/年，按年计算比较，每月数额四舍五入到分仅用于显示",
                yuan(standard.amount)
            ),
            format!(
                ", published as {} yuan per year; compared in annual terms, the monthly figure is rounded for display only",
                standard.amount
            ),
        ),
    };
    let (from_zh, from_en) = match &region {
        Some(r) => (format!("地区{r}"), format!("region {r}")),
        None => ("全国".to_owned(), "the national layer".to_owned()),
    };
    let (src_zh, src_en) = match &source {
        Some(s) => (format!("，依据{s}"), format!(", per {s}")),
        None => (String::new(), String::new()),
    };
    let text = Text::new(
        format!(
            "{}低保标准{}元/人/月（{from_zh}自{effective_from}起执行{src_zh}{per_zh}）",
            area.label_zh(),
            yuan(monthly)
        ),
        format!(
            "{} 低保 standard {monthly} yuan per person per month (set by {from_en} from {effective_from}{src_en}{per_en})",
            area.label_en()
        ),
    );
    StandardInForce {
        area,
        standard,
        monthly,
        region,
        effective_from,
        source,
        text,
    }
}

/// Assess `means` under `policy` with the 低保 standard in force (if any).
pub fn assess_means(
    means: &Means<'_>,
    policy: &Policy,
    standard: Option<StandardInForce>,
) -> Assessment {
    let mut missing = Vec::new();
    match (means.area, &standard) {
        (None, _) => missing.push(Text::new(
            "未填写户籍类型（城镇或农村），无法确定适用的低保标准",
            "The 户籍 type (urban or rural) is not recorded: the 低保 standard that applies is not known",
        )),
        (Some(area), None) => missing.push(Text::new(
            format!("本地区未设定现行的{}低保标准", area.label_zh()),
            format!(
                "The region has no {} 低保 standard in force",
                area.label_en()
            ),
        )),
        _ => {}
    }
    let run = |rules| match income::income(means, policy, rules, Unit::Household) {
        Ok(r) => (Some(r), None),
        Err(e) => (None, Some(e)),
    };
    let (dibao_income, e1) = run(IncomeRules::Dibao);
    let (tekun_income, e2) = run(IncomeRules::Tekun);
    if let Some(e) = e1.or(e2) {
        missing.push(e.text());
    }
    let no_standard = || match means.area {
        None => Text::new(
            "未填写户籍类型，无法测算",
            "户籍 type not recorded: not evaluated",
        ),
        Some(area) => Text::new(
            format!("本地区未设定{}低保标准，无法测算", area.label_zh()),
            format!(
                "The region has not set a {} 低保 standard: not evaluated",
                area.label_en()
            ),
        ),
    };
    let no_income = || {
        Text::new(
            "没有共同生活的现有成员，无法测算",
            "No current co-resident member: not evaluated",
        )
    };
    let base_lines =
        |r: &Option<IncomeResult>| r.as_ref().map_or_else(Vec::new, |r| r.lines.clone());

    let mut overflow = false;
    let mut dibao_amount = None;
    let (dibao, near_dibao) = match (&dibao_income, &standard) {
        (Some(inc), Some(st)) => match dibao_and_near(inc, st, policy) {
            Ok((d, n, amount)) => {
                dibao_amount = Some(amount);
                (d, n)
            }
            Err(_) => {
                overflow = true;
                let t = AssessError::Overflow.text();
                (
                    Indicator::not_evaluated(inc.lines.clone(), t.clone()),
                    Indicator::not_evaluated(inc.lines.clone(), t),
                )
            }
        },
        (None, _) => (
            Indicator::not_evaluated(Vec::new(), no_income()),
            Indicator::not_evaluated(Vec::new(), no_income()),
        ),
        (Some(inc), None) => (
            Indicator::not_evaluated(inc.lines.clone(), no_standard()),
            Indicator::not_evaluated(inc.lines.clone(), no_standard()),
        ),
    };
    let tekun = match (&tekun_income, &standard) {
        (Some(inc), Some(st)) => tekun_indicator(means, policy, inc, st, &mut missing),
        (None, _) => Indicator::not_evaluated(Vec::new(), no_income()),
        (Some(_), None) => Indicator::not_evaluated(base_lines(&tekun_income), no_standard()),
    };
    let rigid_expenditure = match &dibao_income {
        Some(inc) => rigid_indicator(
            means,
            policy,
            inc,
            &dibao,
            &near_dibao,
            &tekun,
            &mut missing,
        )
        .unwrap_or_else(|_| {
            overflow = true;
            Indicator::not_evaluated(inc.lines.clone(), AssessError::Overflow.text())
        }),
        None => Indicator::not_evaluated(Vec::new(), no_income()),
    };
    let assets = asset_indicator(
        means,
        policy,
        dibao_income.as_ref().map(|i| i.household_size),
    );
    let single_person = match (&dibao_income, &standard) {
        (Some(_), Some(st)) => single_person_indicator(means, policy, st, &near_dibao)
            .unwrap_or_else(|_| {
                overflow = true;
                Indicator::not_evaluated(Vec::new(), AssessError::Overflow.text())
            }),
        (None, _) => Indicator::not_evaluated(Vec::new(), no_income()),
        (Some(_), None) => Indicator::not_evaluated(Vec::new(), no_standard()),
    };
    if overflow {
        missing.push(AssessError::Overflow.text());
    }
    Assessment {
        as_of: means.as_of,
        region: None,
        area: means.area,
        standard,
        income: dibao_income,
        tekun_income,
        dibao_amount,
        indicators: Indicators {
            dibao,
            near_dibao,
            tekun,
            rigid_expenditure,
            assets,
            single_person,
        },
        missing,
        notice: notice(),
    }
}

/// The 低保 amount: the exact monthly gap between standard × size and income, rounded up to the
/// yuan, never below 0.
fn dibao_amount(inc: &IncomeResult, standard: Standard) -> Result<Money, AssessError> {
    let gap = i128::from(standard.annual().0) * S * i128::from(inc.household_size) - inc.exact;
    if gap <= 0 {
        Ok(Money::ZERO)
    } else {
        checked_money(div_ceil(gap, 12 * S * 100) * 100)
    }
}

fn dibao_and_near(
    inc: &IncomeResult,
    st: &StandardInForce,
    policy: &Policy,
) -> Result<(Indicator, Indicator, Money), AssessError> {
    let standard = st.standard;
    let size = inc.household_size;
    let amount = dibao_amount(inc, standard)?;
    let is_dibao = inc.below(standard, Rate::ONE);
    let pc = inc.per_capita_monthly;
    let sm = st.monthly;
    let mut dibao_lines = inc.lines.clone();
    dibao_lines.push(st.text.clone());
    dibao_lines.push(if is_dibao {
        Text::new(
            format!(
                "月人均收入{}元低于标准{}元：可作为低保对象线索；保障金 = {}元 × {size} − 家庭月收入，向上取整到元 = {}元",
                yuan(pc), yuan(sm), yuan(sm), yuan(amount)
            ),
            format!(
                "Per-capita monthly income {pc} is below the standard {sm}: possible 低保 case; amount = {sm} × {size} − monthly household income, rounded up to the yuan = {amount} yuan"
            ),
        )
    } else {
        Text::new(
            format!("月人均收入{}元不低于标准{}元：不符合低保收入条件", yuan(pc), yuan(sm)),
            format!("Per-capita monthly income {pc} is not below the standard {sm}: 低保 income test not met"),
        )
    });
    let mult = policy.near_dibao_multiplier(st.area);
    let is_near = !is_dibao && inc.below(standard, mult);
    let mut near_lines = inc.lines.clone();
    near_lines.push(st.text.clone());
    let line_std = checked_money(div_round(
        i128::from(standard.annual().0) * i128::from(mult.units()),
        12 * S,
    ))?;
    near_lines.push(Text::new(
        format!(
            "低保边缘：不属于低保对象且月人均收入{}元低于{}倍标准（{}元）时成立，结果：{}",
            yuan(pc), mult, yuan(line_std), if is_near { "成立" } else { "不成立" }
        ),
        format!(
            "Near-dibao: not a 低保 case and per-capita monthly income {pc} below {mult} × standard ({line_std} yuan); result: {}",
            if is_near { "met" } else { "not met" }
        ),
    ));
    Ok((
        Indicator {
            status: Status::from_bool(is_dibao),
            explanation: dibao_lines,
        },
        Indicator {
            status: Status::from_bool(is_near),
            explanation: near_lines,
        },
        amount,
    ))
}

fn tekun_indicator(
    means: &Means<'_>,
    policy: &Policy,
    inc: &IncomeResult,
    st: &StandardInForce,
    missing: &mut Vec<Text>,
) -> Indicator {
    let mut lines = inc.lines.clone();
    lines.push(st.text.clone());
    lines.push(Text::new(
        "特困人员认定时高龄津贴、基本医疗保险等不计入收入（《特困人员认定办法》第六条）",
        "For 特困, old-age allowance and basic medical insurance are not counted (TK2021 art. 6)",
    ));
    let income_ok = inc.below(st.standard, Rate::ONE);
    lines.push(Text::new(
        format!(
            "收入条件（月人均收入{}元低于低保标准）：{}",
            yuan(inc.per_capita_monthly),
            if income_ok { "符合" } else { "不符合" }
        ),
        format!(
            "Income test (per-capita monthly income {} below the standard): {}",
            inc.per_capita_monthly,
            if income_ok { "met" } else { "not met" }
        ),
    ));
    // Members without work capacity, with it, and whose age (which may decide it) is unknown.
    let (mut without, mut with) = (0, 0);
    let mut unknown_age = Vec::new();
    for (_, p) in means.co_resident() {
        match income::no_work_capacity(p, policy, means.as_of) {
            Some(t) => {
                without += 1;
                lines.push(t);
            }
            None if p.birth_date.is_none() => {
                let name = p.label();
                unknown_age.push(name);
                lines.push(Text::new(
                    format!("{name}出生日期未知，无法按年龄判断劳动能力"),
                    format!("{name}: birth date unknown, work capacity by age not decided"),
                ));
            }
            None => {
                with += 1;
                lines.push(Text::new(
                    format!("{}未认定为无劳动能力（可能有赡养、扶养能力）", p.label()),
                    format!(
                        "{}: not without work capacity (may be able to support)",
                        p.label()
                    ),
                ));
            }
        }
    }
    let able_supporters = means
        .supporters
        .iter()
        .filter(|(_, s)| s.able_to_support == Some(true))
        .count();
    let undecided: Vec<&str> = means
        .supporters
        .iter()
        .filter(|(_, s)| s.able_to_support.is_none())
        .map(|(_, s)| s.name.as_str())
        .collect();
    lines.push(Text::new(
        format!(
            "有赡养、抚养、扶养能力的法定义务人：{able_supporters}人；能力未认定：{}人",
            undecided.len()
        ),
        format!(
            "Legal supporters able to support: {able_supporters}; not yet assessed: {}",
            undecided.len()
        ),
    ));
    if let Some(m) = policy.tekun_multiplier {
        let basic = div_round(
            i128::from(st.standard.annual().0) * i128::from(m.units()),
            12 * S,
        );
        lines.push(Text::new(
            format!(
                "本地区特困人员基本生活标准为低保标准的{m}倍（约{}元/人/月）",
                yuan(Money(i64::try_from(basic).unwrap_or(i64::MAX)))
            ),
            format!(
                "The region's 特困 basic living standard is {m} × the 低保 standard (about {} yuan per person per month)",
                Money(i64::try_from(basic).unwrap_or(i64::MAX))
            ),
        ));
    }
    let status = if !income_ok
        || able_supporters > 0
        || with > 0
        || (without == 0 && unknown_age.is_empty())
    {
        Status::NotMet
    } else if unknown_age.is_empty() && undecided.is_empty() {
        Status::Met
    } else {
        // What would decide it is missing: a member's age, a supporter's capacity.
        for name in &unknown_age {
            missing.push(Text::new(
                format!("{name}的出生日期（身份证号不在本机，或未录入出生日期）"),
                format!("{name}'s birth date (the ID number is not held here, or no birth date recorded)"),
            ));
        }
        for name in &undecided {
            missing.push(Text::new(
                format!("法定义务人{name}是否有赡养（抚养、扶养）能力"),
                format!("whether the legal supporter {name} is able to support"),
            ));
        }
        Status::NotEvaluated
    };
    lines.push(Text::new(
        format!(
            "特困线索（收入低于标准、无劳动能力、无有能力的法定义务人）：{}",
            status.label_zh()
        ),
        format!(
            "特困 hint (income below the standard, no work capacity, no able supporter): {}",
            status.code()
        ),
    ));
    Indicator {
        status,
        explanation: lines,
    }
}

fn rigid_indicator(
    means: &Means<'_>,
    policy: &Policy,
    inc: &IncomeResult,
    dibao: &Indicator,
    near: &Indicator,
    tekun: &Indicator,
    missing: &mut Vec<Text>,
) -> Result<Indicator, AssessError> {
    let mut lines = inc.lines.clone();
    let rigid: i128 = means
        .rigid
        .iter()
        .map(|(_, e)| i128::from(e.amount_fen))
        .sum();
    let rigid_m = checked_money(rigid)?;
    lines.extend(means.rigid_left_out.iter().cloned());
    lines.push(Text::new(
        format!(
            "近12个月刚性支出合计{}元（{}项）",
            yuan(rigid_m),
            means.rigid.len()
        ),
        format!(
            "Rigid expenditure over the last 12 months: {rigid_m} yuan ({} items)",
            means.rigid.len()
        ),
    ));
    // GX2025 art. 4(1): a household in, or eligible for, 低保, 特困 or 边缘 is not a 刚性支出
    // household.
    let enrolled: Vec<&str> = means
        .programmes
        .iter()
        .filter(|p| {
            matches!(
                p,
                Programme::Dibao
                    | Programme::TekunDispersed
                    | Programme::TekunCentralized
                    | Programme::NearDibao
            )
        })
        .map(|p| p.label_zh())
        .collect();
    if !enrolled.is_empty() {
        lines.push(Text::new(
            format!(
                "家庭已纳入{}，不属于刚性支出困难家庭认定范围（《刚性支出困难家庭认定办法》第四条）",
                enrolled.join("、")
            ),
            "The household is already in 低保, 特困 or 边缘: not a rigid-expenditure household (GX2025 art. 4)",
        ));
        return Ok(Indicator {
            status: Status::NotMet,
            explanation: lines,
        });
    }
    if [dibao, near, tekun].iter().any(|i| i.status == Status::Met) {
        lines.push(Text::new(
            "家庭可作为低保、低保边缘或特困线索，不再作为刚性支出困难家庭（《刚性支出困难家庭认定办法》第四条）",
            "The household is a possible 低保, 边缘 or 特困 case: not a rigid-expenditure household (GX2025 art. 4)",
        ));
        return Ok(Indicator {
            status: Status::NotMet,
            explanation: lines,
        });
    }
    if dibao.status == Status::NotEvaluated {
        lines.push(Text::new(
            "尚不能判断是否属于低保或低保边缘，无法测算",
            "Whether the household is a 低保 or 边缘 case is not known: not evaluated",
        ));
        return Ok(Indicator {
            status: Status::NotEvaluated,
            explanation: lines,
        });
    }
    let area = means.area;
    let disposable = area.and_then(|a| policy.disposable_income(a));
    let (Some(disposable), Some(ratio)) = (disposable, policy.rigid_expenditure_ratio) else {
        let t = Text::new(
            "本地区未设定上年度居民人均可支配收入或刚性支出占比，无法测算刚性支出困难",
            "The region has not set last year's per-capita disposable income or the rigid-expenditure ratio: not evaluated",
        );
        missing.push(t.clone());
        lines.push(t);
        return Ok(Indicator {
            status: Status::NotEvaluated,
            explanation: lines,
        });
    };
    let size = i128::from(inc.household_size);
    let income = inc.exact_before_rigid;
    let low_income = income < i128::from(disposable.0) * S * size;
    // rigid / income > ratio, with income in fen × S: rigid × S × S > ratio × income.
    let heavy = rigid > 0 && rigid * S * S > i128::from(ratio.units()) * income;
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
    Ok(Indicator {
        status: Status::from_bool(low_income && heavy),
        explanation: lines,
    })
}

fn asset_indicator(means: &Means<'_>, policy: &Policy, size: Option<u32>) -> Indicator {
    let mut lines = Vec::new();
    let mut evaluated = false;
    let mut above = false;
    let counted = |kinds: &'static [AssetKind]| {
        means.assets.iter().filter(move |(_, a)| {
            kinds.contains(&a.kind) && a.exemption.as_deref().is_none_or(|e| e.trim().is_empty())
        })
    };
    for (_, a) in &means.assets {
        if let Some(e) = a.exemption.as_deref().filter(|e| !e.trim().is_empty()) {
            lines.push(Text::new(
                format!(
                    "{}（{}元）豁免：{e}",
                    a.kind.label_zh(),
                    yuan(Money(a.value_fen))
                ),
                format!(
                    "{} ({} yuan) exempt: {e}",
                    a.kind.as_str(),
                    Money(a.value_fen)
                ),
            ));
        }
    }
    if let (Some(cap), Some(size)) = (policy.financial_assets_per_capita_limit, size) {
        evaluated = true;
        let total: i128 = counted(&[
            AssetKind::Deposit,
            AssetKind::Securities,
            AssetKind::Insurance,
        ])
        .map(|(_, a)| i128::from(a.value_fen))
        .sum();
        let over = cap
            .limit()
            .is_some_and(|l| total > i128::from(l.0) * i128::from(size));
        let total = Money(i64::try_from(total).unwrap_or(i64::MAX));
        above |= over;
        let limit = match cap {
            Cap::Limited(l) => format!("{l}"),
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
            "房屋（不含豁免）",
            "dwellings (not exempt)",
        ),
    ] {
        if let Some(cap) = cap {
            evaluated = true;
            let n = counted(match kind {
                AssetKind::Vehicle => &[AssetKind::Vehicle],
                _ => &[AssetKind::Dwelling],
            })
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
        return Indicator::not_evaluated(
            lines,
            Text::new(
                "本地区未设定财产限额",
                "The region has not set asset limits",
            ),
        );
    }
    lines.push(Text::new(
        format!(
            "财产状况：{}",
            if above {
                "超出限额"
            } else {
                "未超出限额"
            }
        ),
        format!(
            "Assets: {}",
            if above {
                "above the limits"
            } else {
                "within the limits"
            }
        ),
    ));
    Indicator {
        status: Status::from_bool(above),
        explanation: lines,
    }
}

fn single_person_indicator(
    means: &Means<'_>,
    policy: &Policy,
    st: &StandardInForce,
    near: &Indicator,
) -> Result<Indicator, AssessError> {
    let mut lines = Vec::new();
    let near_household =
        near.status == Status::Met || means.programmes.contains(&Programme::NearDibao);
    lines.push(Text::new(
        format!(
            "低保边缘家庭（测算或已认定）：{}",
            if near_household { "是" } else { "否" }
        ),
        format!(
            "Near-dibao household (computed or recorded): {}",
            if near_household { "yes" } else { "no" }
        ),
    ));
    let mut met = false;
    let mut candidates = 0;
    for (id, p) in means.co_resident() {
        let Some(ground) = income::single_person_ground(p) else {
            continue;
        };
        candidates += 1;
        lines.push(ground);
        let own = income::income(means, policy, IncomeRules::Dibao, Unit::Single(*id))?;
        let amount = dibao_amount(&own, st.standard)?;
        let below = own.below(st.standard, Rate::ONE);
        met |= near_household && below;
        lines.extend(own.lines.iter().skip(1).cloned());
        lines.push(Text::new(
            format!(
                "{}单独计算月收入{}元{}标准{}元{}",
                p.label(),
                yuan(own.per_capita_monthly),
                if below { "低于" } else { "不低于" },
                yuan(st.monthly),
                if below {
                    format!("，参照单人户保障金约{}元", yuan(amount))
                } else {
                    String::new()
                }
            ),
            format!(
                "{} alone: monthly income {} {} the standard {}{}",
                p.label(),
                own.per_capita_monthly,
                if below { "below" } else { "not below" },
                st.monthly,
                if below {
                    format!("; single-person amount about {amount} yuan")
                } else {
                    String::new()
                }
            ),
        ));
    }
    if candidates == 0 {
        lines.push(Text::new(
            "没有持一、二级残疾人证，三级智力、精神残疾人证或患重病的共同生活成员",
            "No co-resident member with a grade 1–2 disability card, a grade 3 intellectual or mental disability card, or a serious illness",
        ));
    }
    lines.push(Text::new(
        format!(
            "参照单人户纳入低保（低保边缘家庭中的重病、重度残疾人员，《最低生活保障审核确认办法》第八条）：{}",
            if met { "可作为线索" } else { "不符合" }
        ),
        format!(
            "Single-person 低保 (a seriously ill or severely disabled member of a near-dibao household, DB2021 art. 8): {}",
            if met { "possible" } else { "not met" }
        ),
    ));
    Ok(Indicator {
        status: Status::from_bool(met),
        explanation: lines,
    })
}

#[cfg(test)]
mod tests;
