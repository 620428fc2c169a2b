//! Region policy: the values a region sets (standards, multipliers, ratios, limits, deadlines,
//! re-check intervals), layered from national defaults down the region tree and versioned by
//! effective date.
//!
//! A [`PolicyLayer`] belongs to the nation (`region: None`) or to one 12-digit 行政区划代码 and sets
//! any subset of the fields of [`PolicySettings`]. The effective [`Policy`] of a region on a date
//! starts from [`Policy::national_defaults`] and applies, from the root down to the region, the
//! version of each layer in force on that date (the latest with `effective_from <= date`). A child
//! overrides only what it sets; a list (such as local income exclusions) is replaced as a whole.
//!
//! [`PolicyBook`] holds all layers and validates the whole state on every change: a change that
//! would make any layer or any effective policy invalid is refused and the previous state stays in
//! force.

use std::collections::{BTreeMap, BTreeSet};

use chrono::NaiveDate;
use serde::{Deserialize, Serialize};

use super::{Cap, Money, Rate};
use crate::doc::household::IncomeKind;
use crate::region::{RegionLevel, check_code};

/// Which 低保 standard applies to a household: the urban (城市) or the rural (农村) one. Where a
/// region has unified them it sets both to the same value.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum UrbanRural {
    /// 城市
    Urban,
    /// 农村
    Rural,
}

impl UrbanRural {
    pub fn label_zh(self) -> &'static str {
        match self {
            UrbanRural::Urban => "城市",
            UrbanRural::Rural => "农村",
        }
    }

    pub fn label_en(self) -> &'static str {
        match self {
            UrbanRural::Urban => "urban",
            UrbanRural::Rural => "rural",
        }
    }
}

/// The period a published standard is stated in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Per {
    Month,
    Year,
}

/// 低保标准: a per-person standard as published, per month or per year (Tieling publishes yearly:
/// 4,770 yuan/year).
///
/// Conversion: a yearly standard is used exactly in annual terms (every comparison is made on
/// annual amounts, see `docs/RULES.md`); its monthly figure for display is the yearly amount / 12
/// rounded half-up to the fen (4,770 yuan/year shows as 397.50 yuan/month).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Standard {
    pub amount: Money,
    pub per: Per,
}

impl Standard {
    pub const fn monthly(amount: Money) -> Standard {
        Standard {
            amount,
            per: Per::Month,
        }
    }

    pub const fn yearly(amount: Money) -> Standard {
        Standard {
            amount,
            per: Per::Year,
        }
    }

    /// The exact amount per person per year.
    pub fn annual(self) -> Money {
        match self.per {
            Per::Month => Money(self.amount.0.saturating_mul(12)),
            Per::Year => self.amount,
        }
    }

    /// The amount per person per month, rounded half-up to the fen for display.
    pub fn monthly_display(self) -> Money {
        match self.per {
            Per::Month => self.amount,
            Per::Year => Money(super::units::div_round(i128::from(self.amount.0), 12) as i64),
        }
    }
}

/// An income type a region defines (收入项目 beyond the national list): its code, as income items
/// carry it, and its name, as phones offer it.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LocalIncomeKind {
    /// 1 to 64 characters without spaces, not a national code.
    pub code: String,
    /// The name shown (Chinese), e.g. 土地流转收入.
    pub name: String,
}

macro_rules! policy_fields {
    (
        defaults { $( $(#[$dm:meta])* $d:ident : $dt:ty = $dv:expr, )* }
        local { $( $(#[$lm:meta])* $l:ident : $lt:ty, )* }
    ) => {
        /// The settings of one policy layer. Every field is optional: an absent field is inherited
        /// from the parent layer (ultimately from [`Policy::national_defaults`]).
        #[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
        #[serde(deny_unknown_fields)]
        pub struct PolicySettings {
            $( $(#[$dm])* #[serde(default, skip_serializing_if = "Option::is_none")] pub $d: Option<$dt>, )*
            $( $(#[$lm])* #[serde(default, skip_serializing_if = "Option::is_none")] pub $l: Option<$lt>, )*
        }

        /// The effective policy of a region on a date. Fields that only a region can set (the
        /// 低保 standards, disposable income, asset limits, ...) stay `None` until one does.
        #[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
        pub struct Policy {
            $( $(#[$dm])* pub $d: $dt, )*
            $( $(#[$lm])* pub $l: Option<$lt>, )*
        }

        impl Policy {
            /// The national defaults (see `docs/RULES.md` for the source of each value).
            pub fn national_defaults() -> Policy {
                Policy { $( $d: $dv, )* $( $l: None, )* }
            }

            /// Apply a layer: every field it sets replaces the current value.
            pub fn apply(&mut self, s: &PolicySettings) {
                $( if let Some(v) = &s.$d { self.$d = v.clone(); } )*
                $( if let Some(v) = &s.$l { self.$l = Some(v.clone()); } )*
            }

            /// This policy as a layer setting every field it has.
            pub fn to_settings(&self) -> PolicySettings {
                PolicySettings { $( $d: Some(self.$d.clone()), )* $( $l: self.$l.clone(), )* }
            }
        }

        impl PolicySettings {
            /// The names of the fields this layer sets.
            pub fn set_fields(&self) -> Vec<&'static str> {
                let mut out = Vec::new();
                $( if self.$d.is_some() { out.push(stringify!($d)); } )*
                $( if self.$l.is_some() { out.push(stringify!($l)); } )*
                out
            }
        }
    };
}

policy_fields! {
    defaults {
        /// 低保边缘 multiplier for urban households: near-dibao below this × standard (national 1.5).
        near_dibao_multiplier_urban: Rate = Rate::from_units(15_000),
        /// 低保边缘 multiplier for rural households (national 1.5; Qinghai sets 2 for rural).
        near_dibao_multiplier_rural: Rate = Rate::from_units(15_000),
        /// 必要就业成本: share of wages deducted as employment cost (local, e.g. 0.1; default 0).
        employment_cost_rate: Rate = Rate::ZERO,
        /// Income types the region defines (收入项目 codes beyond the national list, with their
        /// names), offered on the phones; a layer replaces its parent's list.
        local_income_kinds: Vec<LocalIncomeKind> = Vec::new(),
        /// Local income exclusions (type codes, see [`IncomeKind`]), on top of the national
        /// list; a layer replaces its parent's list.
        local_excluded_income_kinds: Vec<String> = Vec::new(),
        /// 渐退期 minimum months (default 0; Qingdao 3, Qinghai 12).
        phase_out_min_months: u32 = 0,
        /// 渐退期 maximum months (national "in principle ≤ 6", DD2022; Tieling 24, Qinghai none).
        phase_out_max_months: Cap<u32> = Cap::Limited(6),
        /// Township starts the means investigation within this many working days (DB2021).
        investigation_start_wd: u32 = 3,
        /// The county data check starts within this many working days of the request.
        data_check_start_wd: u32 = 3,
        /// 公示: public notice period in calendar days.
        public_notice_days: u32 = 7,
        /// 低保 county review (审核确认) limit in working days.
        dibao_county_review_wd: u32 = 10,
        /// 特困 township opinion limit in working days (TK2021).
        tekun_township_wd: u32 = 15,
        /// 特困 county review limit in working days (TK2021).
        tekun_county_wd: u32 = 15,
        /// Written refusal notice within this many working days.
        refusal_notice_wd: u32 = 3,
        /// Whole 低保 case limit in working days.
        case_limit_wd: u32 = 30,
        /// Whole case limit where confirmation is delegated to the township (Qingdao 20).
        case_limit_delegated_wd: u32 = 20,
        /// Whole case limit in special cases, with a recorded reason.
        case_limit_special_wd: u32 = 45,
        /// 急难型临时救助: help within this many hours (先行救助).
        emergency_aid_hours: u32 = 24,
        /// 特困 self-care re-assessment within this many working days of a reported change.
        self_care_reassessment_wd: u32 = 10,
        /// 低保 re-check interval for stable households, months (DB2021 art. 31).
        dibao_recheck_stable_months: u32 = 12,
        /// 低保 re-check interval for unstable income or members able to work, months.
        dibao_recheck_unstable_months: u32 = 6,
        /// 特困 re-check interval, months.
        tekun_recheck_months: u32 = 12,
        /// Re-check after a member's death within this many months.
        death_recheck_months: u32 = 3,
        /// Age from which a person counts as without work capacity (TK2021: 60).
        elder_age: u32 = 60,
        /// Age below which a minor counts as without work capacity (GG2020: 18).
        minor_age: u32 = 18,
    }
    local {
        /// 特困 basic support standard as a multiple of the 低保 standard (local: "不低于…1.3倍"
        /// in Tieling, 1.5 in Qingdao).
        tekun_multiplier: Rate,
        /// 刚性支出 ratio: 12-month rigid spending / annual income above this (local, GX2025
        /// leaves it to the region; e.g. 0.6).
        rigid_expenditure_ratio: Rate,
        /// Whether the 12 months' rigid expenditure is deducted from the income counted for 低保
        /// (local: "用足用好刚性支出扣减政策"; unset: no deduction).
        rigid_expenditure_deduction: bool,
        /// Whether the central part of the residents' basic pension (基础养老金) is left out of
        /// income. Unset: left out from 2021 (14th Five-Year Plan, 2021–2025) and, until a newer
        /// national rule is set here, after it; counted before 2021.
        basic_pension_central_excluded: bool,
        /// 审核确认权限下放: the township confirms 低保 / 特困 applications itself (Qingdao); the
        /// whole case then has `case_limit_delegated_wd` working days. Unset: the county confirms.
        confirmation_delegated: bool,
        /// Visit interval for high-risk people, days (local: ≥ weekly in Inner Mongolia).
        visit_high_risk_days: u32,
        /// Visit interval for key people (incl. 分散供养特困), months (local: ≥ monthly).
        visit_key_months: u32,
        /// Visit interval for others, months (local: ≥ quarterly).
        visit_other_months: u32,
        /// Visit interval for 低保边缘 households and 监测对象 (watched, not in benefit), months
        /// (local; unset: no periodic visits for them).
        watched_visit_months: u32,
        /// 城市低保标准 per person.
        dibao_standard_urban: Standard,
        /// 农村低保标准 per person.
        dibao_standard_rural: Standard,
        /// Last year's urban per-capita disposable income (年人均可支配收入), yearly amount.
        disposable_income_urban: Money,
        /// Last year's rural per-capita disposable income, yearly amount.
        disposable_income_rural: Money,
        /// Financial assets (deposits, securities, cash value of insurance) per household member.
        financial_assets_per_capita_limit: Cap<Money>,
        /// Number of non-exempt vehicles a household may own.
        vehicle_limit: Cap<u32>,
        /// Number of dwellings a household may own.
        dwelling_limit: Cap<u32>,
        /// 临时救助: largest amount the township may approve (Shandong 3,000 yuan).
        temp_aid_township_limit: Money,
        /// 临时救助: yearly cap per household (Qingdao 30,000 yuan since 2020).
        temp_aid_yearly_cap: Cap<Money>,
        /// 急难型: paperwork (补办手续) completed within this many days after help (Qingdao 5
        /// calendar days; 宁国 20 working days).
        emergency_paperwork_days: u32,
        /// 急难型: whether `emergency_paperwork_days` counts working days (工作日) rather than
        /// calendar days (unset: calendar days).
        emergency_paperwork_working_days: bool,
        /// 动态监测预警: a member's out-of-pocket medical costs (个人自付) in the 12 months before
        /// a department list's import above this raise an alert (local: no national figure;
        /// unset: the rule is not evaluated).
        alert_medical_cost_threshold: Money,
        /// 动态监测预警: the home visit verifying an alert (预警核查) is due this many calendar
        /// days after the alert was received (local SLA: JC2024 names none; unset: no due date).
        alert_verify_days: u32,
        /// 主动发现: the follow-up visit (回访) of a referred report is due this many calendar
        /// days after the referral, and that of a 临时救助 case this many days after it was paid
        /// in full (local; unset: no follow-up task).
        report_follow_up_days: u32,
    }
}

impl Policy {
    /// The 低保 standard for the household's category, if the region set one.
    pub fn dibao_standard(&self, area: UrbanRural) -> Option<Standard> {
        match area {
            UrbanRural::Urban => self.dibao_standard_urban,
            UrbanRural::Rural => self.dibao_standard_rural,
        }
    }

    /// The 低保边缘 multiplier for the household's category.
    pub fn near_dibao_multiplier(&self, area: UrbanRural) -> Rate {
        match area {
            UrbanRural::Urban => self.near_dibao_multiplier_urban,
            UrbanRural::Rural => self.near_dibao_multiplier_rural,
        }
    }

    /// Last year's per-capita disposable income for the household's category, if set.
    pub fn disposable_income(&self, area: UrbanRural) -> Option<Money> {
        match area {
            UrbanRural::Urban => self.disposable_income_urban,
            UrbanRural::Rural => self.disposable_income_rural,
        }
    }

    /// Whether a 渐退期 of `months` months fits this policy's minimum and maximum.
    pub fn phase_out_allowed(&self, months: u32) -> bool {
        months >= self.phase_out_min_months
            && self
                .phase_out_max_months
                .limit()
                .is_none_or(|max| months <= max)
    }

    /// Who approves a 临时救助 payment of `amount` for a household that already received
    /// `received_this_year` this year ([`temporary_aid_yearly_total`]). The one place of the
    /// rule: the township up to `temp_aid_township_limit`, the county above it, and 一事一议 at
    /// the county where the payment would take the household above `temp_aid_yearly_cap`.
    pub fn temporary_aid_route(&self, amount: Money, received_this_year: Money) -> TempAidRoute {
        if let Some(cap) = self.temp_aid_yearly_cap.and_then(Cap::limit)
            && amount.0.saturating_add(received_this_year.0) > cap.0
        {
            return TempAidRoute::AboveYearlyCap { cap };
        }
        match self.temp_aid_township_limit {
            Some(limit) if amount <= limit => TempAidRoute::Township,
            _ => TempAidRoute::County,
        }
    }

    /// Check every field and the relations between fields.
    pub fn validate(&self) -> Result<(), PolicyError> {
        check_fields(&self.to_settings())?;
        if let Some(max) = self.phase_out_max_months.limit()
            && self.phase_out_min_months > max
        {
            return Err(PolicyError::PhaseOutMinAboveMax {
                min: self.phase_out_min_months,
                max,
            });
        }
        if !(self.case_limit_delegated_wd <= self.case_limit_wd
            && self.case_limit_wd <= self.case_limit_special_wd)
        {
            return Err(PolicyError::CaseLimitOrder {
                delegated: self.case_limit_delegated_wd,
                normal: self.case_limit_wd,
                special: self.case_limit_special_wd,
            });
        }
        if self.minor_age >= self.elder_age {
            return Err(PolicyError::AgeOrder {
                minor: self.minor_age,
                elder: self.elder_age,
            });
        }
        Ok(())
    }
}

/// A household's 临时救助 received in calendar year `year`: the sum of the `(day, amount)`
/// payments dated in that year (saturating; payments of other years do not count).
pub fn temporary_aid_yearly_total(
    payments: impl IntoIterator<Item = (NaiveDate, Money)>,
    year: i32,
) -> Money {
    use chrono::Datelike;
    Money(
        payments
            .into_iter()
            .filter(|(d, _)| d.year() == year)
            .fold(0i64, |sum, (_, m)| sum.saturating_add(m.0)),
    )
}

/// Who approves a 临时救助 payment under the region's policy.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", tag = "route")]
pub enum TempAidRoute {
    /// Within the township's approval limit.
    Township,
    /// Above the township limit (or no limit delegated): the county, or 一事一议.
    County,
    /// The payment would take the household above the yearly cap.
    AboveYearlyCap { cap: Money },
}

/// Why a policy layer or a policy book was refused. Each variant has a stable [`code`](Self::code)
/// and a Chinese message ([`message_zh`](Self::message_zh)); `Display` is English.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PolicyError {
    #[error("{field}: the standard must be greater than zero")]
    NonPositiveAmount { field: &'static str },
    #[error("{field}: an amount or limit must not be negative")]
    NegativeAmount { field: &'static str },
    #[error("{field}: a multiplier must be at least 1, got {value}")]
    MultiplierBelowOne { field: &'static str, value: Rate },
    #[error("{field}: a ratio must lie between 0 and 1, got {value}")]
    RatioOutOfRange { field: &'static str, value: Rate },
    #[error("{field}: a time limit or interval must be at least 1")]
    ZeroDuration { field: &'static str },
    #[error("{field}: an age must lie between 1 and 150, got {value}")]
    AgeOutOfRange { field: &'static str, value: u32 },
    #[error(
        "{0:?} is not a valid local income type: a code of 1 to 64 characters without spaces, not a national code, with a name"
    )]
    BadIncomeKind(String),
    #[error("phase-out minimum {min} months is above the maximum {max} months")]
    PhaseOutMinAboveMax { min: u32, max: u32 },
    #[error(
        "case limits must satisfy delegated ({delegated}) <= normal ({normal}) <= special ({special}) working days"
    )]
    CaseLimitOrder {
        delegated: u32,
        normal: u32,
        special: u32,
    },
    #[error("minor age {minor} must be below elder age {elder}")]
    AgeOrder { minor: u32, elder: u32 },
    #[error(
        "region {0:?} is not a 12-digit administrative code of a province, city, county, township or village"
    )]
    BadRegionCode(String),
    #[error("{region} already has a layer effective from {date}")]
    DuplicateEffectiveDate { region: String, date: NaiveDate },
    #[error("no layer of {region} is effective from {date}")]
    NoSuchLayer { region: String, date: NaiveDate },
    #[error("in the effective policy of {region} from {date}: {cause}")]
    Resolved {
        region: String,
        date: NaiveDate,
        cause: Box<PolicyError>,
    },
}

impl PolicyError {
    /// A stable machine-readable code, e.g. `policy.multiplier_below_one`.
    pub fn code(&self) -> &'static str {
        match self {
            PolicyError::NonPositiveAmount { .. } => "policy.non_positive_amount",
            PolicyError::NegativeAmount { .. } => "policy.negative_amount",
            PolicyError::MultiplierBelowOne { .. } => "policy.multiplier_below_one",
            PolicyError::RatioOutOfRange { .. } => "policy.ratio_out_of_range",
            PolicyError::ZeroDuration { .. } => "policy.zero_duration",
            PolicyError::AgeOutOfRange { .. } => "policy.age_out_of_range",
            PolicyError::BadIncomeKind(_) => "policy.bad_income_kind",
            PolicyError::PhaseOutMinAboveMax { .. } => "policy.phase_out_min_above_max",
            PolicyError::CaseLimitOrder { .. } => "policy.case_limit_order",
            PolicyError::AgeOrder { .. } => "policy.age_order",
            PolicyError::BadRegionCode(_) => "policy.bad_region_code",
            PolicyError::DuplicateEffectiveDate { .. } => "policy.duplicate_effective_date",
            PolicyError::NoSuchLayer { .. } => "policy.no_such_layer",
            PolicyError::Resolved { cause, .. } => cause.code(),
        }
    }

    /// The setting (a field of [`PolicySettings`]) the error is about, when it is about one.
    pub fn field(&self) -> Option<&'static str> {
        match self {
            PolicyError::NonPositiveAmount { field }
            | PolicyError::NegativeAmount { field }
            | PolicyError::MultiplierBelowOne { field, .. }
            | PolicyError::RatioOutOfRange { field, .. }
            | PolicyError::ZeroDuration { field }
            | PolicyError::AgeOutOfRange { field, .. } => Some(field),
            PolicyError::PhaseOutMinAboveMax { .. } => Some("phase_out_min_months"),
            PolicyError::CaseLimitOrder { .. } => Some("case_limit_wd"),
            PolicyError::AgeOrder { .. } => Some("minor_age"),
            PolicyError::BadIncomeKind(_)
            | PolicyError::BadRegionCode(_)
            | PolicyError::DuplicateEffectiveDate { .. }
            | PolicyError::NoSuchLayer { .. } => None,
            PolicyError::Resolved { cause, .. } => cause.field(),
        }
    }

    /// The message in Chinese.
    pub fn message_zh(&self) -> String {
        match self {
            PolicyError::NonPositiveAmount { field } => format!("{field}：标准必须大于零"),
            PolicyError::NegativeAmount { field } => format!("{field}：金额或限额不能为负数"),
            PolicyError::MultiplierBelowOne { field, value } => {
                format!("{field}：倍数不能低于1，当前为{value}")
            }
            PolicyError::RatioOutOfRange { field, value } => {
                format!("{field}：比例必须在0到1之间，当前为{value}")
            }
            PolicyError::ZeroDuration { field } => format!("{field}：时限或间隔至少为1"),
            PolicyError::AgeOutOfRange { field, value } => {
                format!("{field}：年龄必须在1到150之间，当前为{value}")
            }
            PolicyError::BadIncomeKind(k) => {
                format!(
                    "地方收入项目代码无效（1至64个字符、不含空格、不与全国代码重复、须有名称）：{k:?}"
                )
            }
            PolicyError::PhaseOutMinAboveMax { min, max } => {
                format!("渐退期最短{min}个月，超过了最长{max}个月")
            }
            PolicyError::CaseLimitOrder {
                delegated,
                normal,
                special,
            } => format!(
                "办理时限须满足：委托乡镇确认（{delegated}个工作日）≤ 一般（{normal}个工作日）≤ 特殊情况（{special}个工作日）"
            ),
            PolicyError::AgeOrder { minor, elder } => {
                format!("未成年年龄线{minor}岁必须低于老年年龄线{elder}岁")
            }
            PolicyError::BadRegionCode(c) => {
                format!("区划代码{c:?}不是省、市、县、乡镇或村级的12位行政区划代码")
            }
            PolicyError::DuplicateEffectiveDate { region, date } => {
                format!("{region}已有自{date}起生效的政策，生效日期不能重复")
            }
            PolicyError::NoSuchLayer { region, date } => {
                format!("{region}没有自{date}起生效的政策")
            }
            PolicyError::Resolved {
                region,
                date,
                cause,
            } => {
                format!("{region}自{date}起的有效政策有误：{}", cause.message_zh())
            }
        }
    }

    /// The message in English (the same as `Display`).
    pub fn message_en(&self) -> String {
        self.to_string()
    }
}

fn check_fields(s: &PolicySettings) -> Result<(), PolicyError> {
    for (field, standard) in [
        ("dibao_standard_urban", s.dibao_standard_urban),
        ("dibao_standard_rural", s.dibao_standard_rural),
    ] {
        if let Some(st) = standard
            && st.amount.0 <= 0
        {
            return Err(PolicyError::NonPositiveAmount { field });
        }
    }
    for (field, amount) in [
        ("disposable_income_urban", s.disposable_income_urban),
        ("disposable_income_rural", s.disposable_income_rural),
        (
            "alert_medical_cost_threshold",
            s.alert_medical_cost_threshold,
        ),
    ] {
        if amount.is_some_and(|a| a.0 <= 0) {
            return Err(PolicyError::NonPositiveAmount { field });
        }
    }
    for (field, amount) in [
        (
            "financial_assets_per_capita_limit",
            s.financial_assets_per_capita_limit.and_then(Cap::limit),
        ),
        ("temp_aid_township_limit", s.temp_aid_township_limit),
        (
            "temp_aid_yearly_cap",
            s.temp_aid_yearly_cap.and_then(Cap::limit),
        ),
    ] {
        if amount.is_some_and(Money::is_negative) {
            return Err(PolicyError::NegativeAmount { field });
        }
    }
    for (field, rate) in [
        ("near_dibao_multiplier_urban", s.near_dibao_multiplier_urban),
        ("near_dibao_multiplier_rural", s.near_dibao_multiplier_rural),
        ("tekun_multiplier", s.tekun_multiplier),
    ] {
        if let Some(value) = rate
            && value < Rate::ONE
        {
            return Err(PolicyError::MultiplierBelowOne { field, value });
        }
    }
    for (field, rate) in [
        ("rigid_expenditure_ratio", s.rigid_expenditure_ratio),
        ("employment_cost_rate", s.employment_cost_rate),
    ] {
        if let Some(value) = rate
            && !(Rate::ZERO..=Rate::ONE).contains(&value)
        {
            return Err(PolicyError::RatioOutOfRange { field, value });
        }
    }
    for (field, value) in [
        ("investigation_start_wd", s.investigation_start_wd),
        ("data_check_start_wd", s.data_check_start_wd),
        ("public_notice_days", s.public_notice_days),
        ("dibao_county_review_wd", s.dibao_county_review_wd),
        ("tekun_township_wd", s.tekun_township_wd),
        ("tekun_county_wd", s.tekun_county_wd),
        ("refusal_notice_wd", s.refusal_notice_wd),
        ("case_limit_wd", s.case_limit_wd),
        ("case_limit_delegated_wd", s.case_limit_delegated_wd),
        ("case_limit_special_wd", s.case_limit_special_wd),
        ("emergency_aid_hours", s.emergency_aid_hours),
        ("self_care_reassessment_wd", s.self_care_reassessment_wd),
        ("dibao_recheck_stable_months", s.dibao_recheck_stable_months),
        (
            "dibao_recheck_unstable_months",
            s.dibao_recheck_unstable_months,
        ),
        ("tekun_recheck_months", s.tekun_recheck_months),
        ("death_recheck_months", s.death_recheck_months),
        ("visit_high_risk_days", s.visit_high_risk_days),
        ("visit_key_months", s.visit_key_months),
        ("visit_other_months", s.visit_other_months),
        ("watched_visit_months", s.watched_visit_months),
        ("emergency_paperwork_days", s.emergency_paperwork_days),
        ("alert_verify_days", s.alert_verify_days),
        ("report_follow_up_days", s.report_follow_up_days),
    ] {
        if value == Some(0) {
            return Err(PolicyError::ZeroDuration { field });
        }
    }
    for (field, value) in [("elder_age", s.elder_age), ("minor_age", s.minor_age)] {
        if let Some(value) = value
            && !(1..=150).contains(&value)
        {
            return Err(PolicyError::AgeOutOfRange { field, value });
        }
    }
    if let Some(kinds) = &s.local_excluded_income_kinds
        && let Some(bad) = kinds.iter().find(|k| !IncomeKind::is_valid_code(k))
    {
        return Err(PolicyError::BadIncomeKind(bad.clone()));
    }
    if let Some(kinds) = &s.local_income_kinds
        && let Some(bad) = kinds.iter().find(|k| {
            !IncomeKind::is_valid_code(&k.code)
                || IncomeKind::from_code(&k.code).is_national()
                || k.name.trim().is_empty()
        })
    {
        return Err(PolicyError::BadIncomeKind(bad.code.clone()));
    }
    Ok(())
}

/// One version of one region's policy layer.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PolicyLayer {
    /// The 12-digit 行政区划代码 of the region; `None` for a national layer.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub region: Option<String>,
    /// The first day this version is in force.
    pub effective_from: NaiveDate,
    /// The document it comes from (e.g. a notice number), for the record.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub source: Option<String>,
    pub settings: PolicySettings,
}

impl PolicyLayer {
    fn region_label(&self) -> String {
        region_label(&self.region)
    }
}

fn region_label(region: &Option<String>) -> String {
    region.clone().unwrap_or_else(|| "national".to_owned())
}

/// Leading digits significant at each administrative level, province to village.
const LEVEL_DIGITS: [(RegionLevel, usize); 5] = [
    (RegionLevel::Province, 2),
    (RegionLevel::City, 4),
    (RegionLevel::County, 6),
    (RegionLevel::Township, 9),
    (RegionLevel::Village, 12),
];

/// The codes of a region and its ancestors, root first, derived from the 12-digit code
/// (`370283001000` → `370000000000`, `370200000000`, `370283000000`, `370283001000`).
pub fn region_path(code: &str) -> Result<Vec<String>, PolicyError> {
    let bad = || PolicyError::BadRegionCode(code.to_owned());
    let own = LEVEL_DIGITS
        .iter()
        .position(|&(level, _)| check_code(code, level).is_ok())
        .ok_or_else(bad)?;
    let path = LEVEL_DIGITS[..=own]
        .iter()
        .filter_map(|&(level, digits)| {
            // A level whose own digits are zero is absent from this code (no such ancestor).
            let ancestor = format!("{:0<12}", code.get(..digits)?);
            check_code(&ancestor, level).is_ok().then_some(ancestor)
        })
        .collect();
    Ok(path)
}

type Versions = BTreeMap<NaiveDate, PolicyLayer>;

/// All policy layers known to a device or server, validated as a whole.
///
/// Serialized as `{"layers": [...]}`; deserializing validates, so an invalid file is refused.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "PolicyBookFile", into = "PolicyBookFile")]
pub struct PolicyBook {
    layers: BTreeMap<Option<String>, Versions>,
}

/// The serialized form of a [`PolicyBook`].
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PolicyBookFile {
    pub layers: Vec<PolicyLayer>,
}

impl TryFrom<PolicyBookFile> for PolicyBook {
    type Error = PolicyError;
    fn try_from(f: PolicyBookFile) -> Result<PolicyBook, PolicyError> {
        PolicyBook::from_layers(f.layers)
    }
}

impl From<PolicyBook> for PolicyBookFile {
    fn from(b: PolicyBook) -> PolicyBookFile {
        PolicyBookFile {
            layers: b.layers().cloned().collect(),
        }
    }
}

impl PolicyBook {
    /// An empty book: every region gets the national defaults.
    pub fn new() -> PolicyBook {
        PolicyBook::default()
    }

    /// A book holding `layers`, refused as a whole if any is invalid or two share a region and
    /// an effective date.
    pub fn from_layers(
        layers: impl IntoIterator<Item = PolicyLayer>,
    ) -> Result<PolicyBook, PolicyError> {
        let mut book = PolicyBook::new();
        for layer in layers {
            book.add_unchecked(layer, false)?;
        }
        book.validate()?;
        Ok(book)
    }

    /// Every layer version, national first, then by region code and date.
    pub fn layers(&self) -> impl Iterator<Item = &PolicyLayer> {
        self.layers.values().flat_map(|v| v.values())
    }

    /// Add a new layer version. Refused if the region already has a version from the same date,
    /// or if the resulting book is invalid; the book is then unchanged.
    pub fn insert(&mut self, layer: PolicyLayer) -> Result<(), PolicyError> {
        let mut next = self.clone();
        next.add_unchecked(layer, false)?;
        next.validate()?;
        *self = next;
        Ok(())
    }

    /// Add a layer version, replacing the one of the same region and date if any (returned).
    /// Refused if the resulting book is invalid; the book is then unchanged.
    pub fn replace(&mut self, layer: PolicyLayer) -> Result<Option<PolicyLayer>, PolicyError> {
        let mut next = self.clone();
        let old = next.add_unchecked(layer, true)?;
        next.validate()?;
        *self = next;
        Ok(old)
    }

    /// Remove a layer version. Refused if the resulting book is invalid (e.g. the removed layer
    /// lifted a limit a child relies on); the book is then unchanged.
    pub fn remove(
        &mut self,
        region: Option<&str>,
        effective_from: NaiveDate,
    ) -> Result<PolicyLayer, PolicyError> {
        let key = region.map(str::to_owned);
        let mut next = self.clone();
        let removed = next
            .layers
            .get_mut(&key)
            .and_then(|v| v.remove(&effective_from))
            .ok_or_else(|| PolicyError::NoSuchLayer {
                region: region_label(&key),
                date: effective_from,
            })?;
        next.layers.retain(|_, v| !v.is_empty());
        next.validate()?;
        *self = next;
        Ok(removed)
    }

    /// The effective policy of the region with 12-digit code `region` on `date`.
    pub fn resolve(&self, region: &str, date: NaiveDate) -> Result<Policy, PolicyError> {
        let path = region_path(region)?;
        Ok(self.resolve_path(&path, date))
    }

    /// The effective national policy on `date`.
    pub fn resolve_national(&self, date: NaiveDate) -> Policy {
        self.resolve_path(&[], date)
    }

    /// The layer versions that make up the policy of `region` on `date`, root first.
    pub fn layers_in_force(
        &self,
        region: &str,
        date: NaiveDate,
    ) -> Result<Vec<&PolicyLayer>, PolicyError> {
        let path = region_path(region)?;
        Ok(self
            .chain(&path)
            .into_iter()
            .filter_map(|v| in_force(v, date))
            .collect())
    }

    /// The layer version that gives the policy of `region` on `date` the field `sets` looks
    /// for: the deepest layer in force that sets it; `None` when no layer does (the national
    /// default, if there is one, applies).
    pub fn source_of(
        &self,
        region: &str,
        date: NaiveDate,
        sets: impl Fn(&PolicySettings) -> bool,
    ) -> Result<Option<&PolicyLayer>, PolicyError> {
        Ok(self
            .layers_in_force(region, date)?
            .into_iter()
            .rev()
            .find(|l| sets(&l.settings)))
    }

    fn chain(&self, path: &[String]) -> Vec<&Versions> {
        std::iter::once(self.layers.get(&None))
            .chain(path.iter().map(|c| self.layers.get(&Some(c.clone()))))
            .flatten()
            .collect()
    }

    fn resolve_path(&self, path: &[String], date: NaiveDate) -> Policy {
        let mut policy = Policy::national_defaults();
        for layer in self
            .chain(path)
            .into_iter()
            .filter_map(|v| in_force(v, date))
        {
            policy.apply(&layer.settings);
        }
        policy
    }

    fn add_unchecked(
        &mut self,
        layer: PolicyLayer,
        replace: bool,
    ) -> Result<Option<PolicyLayer>, PolicyError> {
        if let Some(code) = &layer.region {
            region_path(code)?;
        }
        let versions = self.layers.entry(layer.region.clone()).or_default();
        if !replace && versions.contains_key(&layer.effective_from) {
            return Err(PolicyError::DuplicateEffectiveDate {
                region: layer.region_label(),
                date: layer.effective_from,
            });
        }
        Ok(versions.insert(layer.effective_from, layer))
    }

    /// Check every layer on its own, then the effective policy of every region that has a layer
    /// at every date on which its policy can change.
    fn validate(&self) -> Result<(), PolicyError> {
        for layer in self.layers() {
            check_fields(&layer.settings).map_err(|cause| PolicyError::Resolved {
                region: layer.region_label(),
                date: layer.effective_from,
                cause: Box::new(cause),
            })?;
        }
        for key in self.layers.keys() {
            let path = match key {
                Some(code) => region_path(code)?,
                None => Vec::new(),
            };
            let dates: BTreeSet<NaiveDate> = self
                .chain(&path)
                .into_iter()
                .flat_map(|v| v.keys().copied())
                .collect();
            for date in dates {
                self.resolve_path(&path, date).validate().map_err(|cause| {
                    PolicyError::Resolved {
                        region: region_label(key),
                        date,
                        cause: Box::new(cause),
                    }
                })?;
            }
        }
        Ok(())
    }
}

fn in_force(versions: &Versions, date: NaiveDate) -> Option<&PolicyLayer> {
    versions.range(..=date).next_back().map(|(_, l)| l)
}

#[cfg(test)]
mod tests;
