//! What the income arithmetic reads of a household: the one adapter from a household document
//! ([`Household`]) to the rules' input ([`Means`]).
//!
//! - Members: the current ones (a member marked removed is left out, and so is anything of
//!   theirs); `co_resident` decides the household size (DB2021 art. 7). Ages come from a
//!   recorded birth date or from the 身份证号 where its holder knows it (the server; the
//!   phones of grid workers and assistants): the document holds numbers masked, and the mask
//!   hides the birth date.
//! - Income: every income item, and the support each legal supporter pays, as support received
//!   (a counted transfer). Whether an item counts is not recorded: the rules derive it from the
//!   item's type code (`rules::income`).
//! - Rigid expenditure: the items of the 12 months before the assessment date; items without a
//!   date or outside the window are left out with a line saying so.
//! - Assets, supporters and current programmes as recorded.

use std::borrow::Cow;
use std::collections::{BTreeMap, BTreeSet};

use chrono::{Datelike, Months, NaiveDate};

use super::Text;
use super::policy::UrbanRural;
use crate::doc::household::{
    Asset, Expenditure, Household, HukouType, IncomeClass, IncomeItem, IncomeKind, IncomeSource,
    Member, Programme, Supporter,
};
use crate::ids::{EntryId, MemberId};

/// Where an income line of the rules comes from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Origin {
    /// An income item of the household (`income.<entry_id>`).
    Income(EntryId),
    /// The support a legal supporter pays (`supporters.<entry_id>`).
    Supporter(EntryId),
}

/// One income line: an income item as recorded, or a supporter's payment made an item.
#[derive(Debug, Clone, PartialEq)]
pub struct IncomeLine<'a> {
    pub origin: Origin,
    pub item: Cow<'a, IncomeItem>,
}

/// A current member, with the birth date where it is known.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Person<'a> {
    pub member: &'a Member,
    pub birth_date: Option<NaiveDate>,
}

impl Person<'_> {
    /// Age in whole years on `date`, if the birth date is known.
    pub fn age_on(&self, date: NaiveDate) -> Option<u32> {
        let b = self.birth_date?;
        let mut years = date.year() - b.year();
        if (date.month(), date.day()) < (b.month(), b.day()) {
            years -= 1;
        }
        u32::try_from(years).ok()
    }

    /// The name shown in explanations.
    pub fn label(&self) -> &str {
        &self.member.name
    }
}

/// The rules' input: a household's means on one date.
#[derive(Debug, Clone, PartialEq)]
pub struct Means<'a> {
    /// The assessment date.
    pub as_of: NaiveDate,
    /// Which 低保 standard applies, from the 户籍 type; `None` when not recorded.
    pub area: Option<UrbanRural>,
    /// Current members by id (removed members are not here).
    pub members: BTreeMap<MemberId, Person<'a>>,
    /// Income items, then supporters' payments, each in id order.
    pub income: Vec<IncomeLine<'a>>,
    /// Rigid expenditure of the 12 months before `as_of`.
    pub rigid: Vec<(EntryId, &'a Expenditure)>,
    /// Why recorded rigid expenditure items were left out (no date, outside the window).
    pub rigid_left_out: Vec<Text>,
    pub assets: Vec<(EntryId, &'a Asset)>,
    pub supporters: Vec<(EntryId, &'a Supporter)>,
    /// The programmes the household is in (written by decisions).
    pub programmes: &'a BTreeSet<Programme>,
    /// Every member on record, removed ones included: for names in explanations.
    pub recorded: &'a BTreeMap<MemberId, Member>,
}

impl<'a> Means<'a> {
    /// The means of `household` on `as_of`. `birth_dates` gives the birth dates of members
    /// whose 身份证号 the caller holds in clear; a birth date recorded in the document is used
    /// otherwise.
    pub fn of_household(
        household: &'a Household,
        birth_dates: &BTreeMap<MemberId, NaiveDate>,
        as_of: NaiveDate,
    ) -> Means<'a> {
        let members = household
            .members
            .iter()
            .filter(|(_, m)| m.is_current())
            .map(|(id, m)| {
                let birth_date = birth_dates.get(id).copied().or(m.birth_date);
                (
                    *id,
                    Person {
                        member: m,
                        birth_date,
                    },
                )
            })
            .collect();
        let items = household.income.iter().map(|(id, item)| IncomeLine {
            origin: Origin::Income(*id),
            item: Cow::Borrowed(item),
        });
        let support = household.supporters.iter().filter_map(|(id, s)| {
            let (amount_fen, period) = (s.support_paid_fen?, s.support_paid_period?);
            Some(IncomeLine {
                origin: Origin::Supporter(*id),
                item: Cow::Owned(IncomeItem {
                    member: None,
                    class: IncomeClass::Transfer,
                    kind: IncomeKind::SupportReceived,
                    amount_fen,
                    period,
                    evidence: None,
                    source: IncomeSource::Declared,
                }),
            })
        });
        let from = as_of.checked_sub_months(Months::new(12));
        let mut rigid = Vec::new();
        let mut rigid_left_out = Vec::new();
        for (n, (id, e)) in household.expenditures.iter().enumerate() {
            let n = n + 1;
            match e.incurred_on {
                Some(d) if d <= as_of && from.is_some_and(|f| d > f) => rigid.push((*id, e)),
                Some(d) => rigid_left_out.push(Text::new(
                    format!("刚性支出第{n}项发生于{d}，不在评估日前12个月内，不计"),
                    format!("Rigid expenditure #{n} of {d} lies outside the 12 months before the assessment date: left out"),
                )),
                None => rigid_left_out.push(Text::new(
                    format!("刚性支出第{n}项未填发生日期，不计（请补录日期）"),
                    format!("Rigid expenditure #{n} has no date: left out (record its date)"),
                )),
            }
        }
        Means {
            as_of,
            area: household.hukou_type.map(|t| match t {
                HukouType::Urban => UrbanRural::Urban,
                HukouType::Rural => UrbanRural::Rural,
            }),
            members,
            income: items.chain(support).collect(),
            rigid,
            rigid_left_out,
            assets: household.assets.iter().map(|(id, a)| (*id, a)).collect(),
            supporters: household
                .supporters
                .iter()
                .map(|(id, s)| (*id, s))
                .collect(),
            programmes: &household.programmes,
            recorded: &household.members,
        }
    }

    /// The co-resident current members (共同生活), in id order.
    pub fn co_resident(&self) -> impl Iterator<Item = (&MemberId, &Person<'a>)> {
        self.members.iter().filter(|(_, p)| p.member.co_resident)
    }

    /// The name of a member for explanations ("" for the household as a whole or an unknown
    /// member).
    pub fn label(&self, member: Option<&MemberId>) -> &str {
        member
            .and_then(|m| self.recorded.get(m))
            .map_or("", |m| m.name.as_str())
    }
}
