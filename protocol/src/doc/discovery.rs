//! The proactive-discovery report (主动发现报告): a village cadre or a field worker reports a
//! person or household who may need help and has not applied.

use std::collections::{BTreeMap, BTreeSet};

use automerge::transaction::Transactable;

use super::DocumentContent;
use super::access::{DocError, MapReader, MapWriter, UnixMillis, code_enum};
use super::common::{GeoPoint, Photo};
use super::validate::{Issue, identity};
use crate::id_number::IdNumber;
use crate::ids::{AccountId, BlobHash, DocumentId, DocumentKind};

/// The keys of a discovery report's content. No other code spells them.
pub mod key {
    pub const REPORTER: &str = "reporter";
    pub const REPORTER_NAME: &str = "reporter_name";
    pub const REPORTED_AT: &str = "reported_at";
    pub const CHANNEL: &str = "channel";
    /// Set when the target is a household already on record.
    pub const TARGET_HOUSEHOLD: &str = "target_household";
    /// The `target_person_*` keys describe a person not on record.
    pub const TARGET_PERSON_NAME: &str = "target_person_name";
    pub const TARGET_PERSON_ID_NUMBER: &str = "target_person_id_number";
    pub const TARGET_PERSON_ADDRESS: &str = "target_person_address";
    pub const TARGET_PERSON_PHONE: &str = "target_person_phone";
    pub const TARGET_GROUPS: &str = "target_groups";
    pub const URGENCY: &str = "urgency";
    pub const EMERGENCY_24H: &str = "emergency_24h";
    pub const NOTES: &str = "notes";
    pub const PHOTOS: &str = "photos";
    pub const GPS: &str = "gps";
    pub const STATUS: &str = "status";
}

code_enum! {
    /// How the case came to light (发现渠道).
    pub enum Channel {
        /// 自主申报
        SelfReport = ("self_report", "自主申报"),
        /// 入户走访
        Visit = ("visit", "入户走访"),
        /// 热线反映 (the 12349 hotline)
        Hotline = ("hotline", "热线反映"),
        /// 数据比对
        DataMatch = ("data_match", "数据比对"),
        /// 部门转介
        Referral = ("referral", "部门转介"),
    }
}

code_enum! {
    /// A group the target belongs to (重点群体).
    pub enum TargetGroup {
        /// 老年人
        Elderly = ("elderly", "老年人"),
        /// 儿童
        Children = ("children", "儿童"),
        /// 重病患者
        Ill = ("ill", "重病患者"),
        /// 残疾人
        Disabled = ("disabled", "残疾人"),
        /// 生活困难
        Hardship = ("hardship", "生活困难"),
        /// 受灾
        DisasterHit = ("disaster_hit", "受灾"),
    }
}

code_enum! {
    /// How urgent the case is (local practice).
    pub enum Urgency {
        /// 紧急干预
        Urgent = ("urgent", "紧急干预"),
        /// 纳入兜底
        SafetyNet = ("safety_net", "纳入兜底"),
        /// 需要关爱
        NeedsCare = ("needs_care", "需要关爱"),
        /// 持续关注
        KeepWatching = ("keep_watching", "持续关注"),
    }
}

code_enum! {
    /// Where a report stands: find → screen → register → verify → refer.
    pub enum DiscoveryStatus {
        /// 草稿
        Draft = ("draft", "草稿"),
        /// 已上报
        Submitted = ("submitted", "已上报"),
        /// 已筛查
        Screened = ("screened", "已筛查"),
        /// 已登记
        Registered = ("registered", "已登记"),
        /// 已核实
        Verified = ("verified", "已核实"),
        /// 已转介
        Referred = ("referred", "已转介"),
        /// 已办结
        Closed = ("closed", "已办结"),
    }
}

/// Who the report is about.
#[derive(Debug, Clone, PartialEq)]
pub enum Target {
    /// A household already on record.
    Household(DocumentId),
    /// A person not on record.
    Person {
        name: String,
        id_number: Option<IdNumber>,
        address: Option<String>,
        phone: Option<String>,
    },
}

/// The content of a discovery report (主动发现报告).
#[derive(Debug, Clone, PartialEq)]
pub struct DiscoveryReport {
    pub reporter: AccountId,
    pub reporter_name: Option<String>,
    pub reported_at: Option<UnixMillis>,
    pub channel: Option<Channel>,
    pub target: Option<Target>,
    pub target_groups: BTreeSet<TargetGroup>,
    pub urgency: Option<Urgency>,
    /// 急难: help is needed within 24 hours (先行救助).
    pub emergency_24h: bool,
    pub notes: Option<String>,
    pub photos: BTreeMap<BlobHash, Photo>,
    pub gps: Option<GeoPoint>,
    pub status: DiscoveryStatus,
}

impl DiscoveryReport {
    /// A new draft report by `reporter`.
    pub fn new(reporter: AccountId) -> DiscoveryReport {
        DiscoveryReport {
            reporter,
            reporter_name: None,
            reported_at: None,
            channel: None,
            target: None,
            target_groups: BTreeSet::new(),
            urgency: None,
            emergency_24h: false,
            notes: None,
            photos: BTreeMap::new(),
            gps: None,
            status: DiscoveryStatus::Draft,
        }
    }
}

impl DocumentContent for DiscoveryReport {
    const KIND: DocumentKind = DocumentKind::DiscoveryReport;

    fn read_from(c: &MapReader<'_>) -> Result<Self, DocError> {
        let target = match c.opt(key::TARGET_HOUSEHOLD)? {
            Some(h) => Some(Target::Household(h)),
            None => match c.opt::<String>(key::TARGET_PERSON_NAME)? {
                Some(name) => Some(Target::Person {
                    name,
                    id_number: c.opt(key::TARGET_PERSON_ID_NUMBER)?,
                    address: c.opt(key::TARGET_PERSON_ADDRESS)?,
                    phone: c.opt(key::TARGET_PERSON_PHONE)?,
                }),
                None => None,
            },
        };
        Ok(DiscoveryReport {
            reporter: c.req(key::REPORTER)?,
            reporter_name: c.opt(key::REPORTER_NAME)?,
            reported_at: c.opt(key::REPORTED_AT)?,
            channel: c.opt(key::CHANNEL)?,
            target,
            target_groups: c.set(key::TARGET_GROUPS)?,
            urgency: c.opt(key::URGENCY)?,
            emergency_24h: c.req(key::EMERGENCY_24H)?,
            notes: c.opt(key::NOTES)?,
            photos: c.entries(key::PHOTOS, Photo::read)?,
            gps: GeoPoint::read_opt(c, key::GPS)?,
            status: c.req(key::STATUS)?,
        })
    }

    fn write_to<T: Transactable>(&self, c: &mut MapWriter<'_, T>) -> Result<(), DocError> {
        c.set(key::REPORTER, &self.reporter)?;
        c.set_opt(key::REPORTER_NAME, self.reporter_name.as_ref())?;
        c.set_opt(key::REPORTED_AT, self.reported_at.as_ref())?;
        c.set_opt(key::CHANNEL, self.channel.as_ref())?;
        let (household, person) = match &self.target {
            Some(Target::Household(h)) => (Some(h), None),
            Some(Target::Person {
                name,
                id_number,
                address,
                phone,
            }) => (None, Some((name, id_number, address, phone))),
            None => (None, None),
        };
        c.set_opt(key::TARGET_HOUSEHOLD, household)?;
        c.set_opt(key::TARGET_PERSON_NAME, person.map(|p| p.0))?;
        c.set_opt(
            key::TARGET_PERSON_ID_NUMBER,
            person.and_then(|p| p.1.as_ref()),
        )?;
        c.set_opt(
            key::TARGET_PERSON_ADDRESS,
            person.and_then(|p| p.2.as_ref()),
        )?;
        c.set_opt(key::TARGET_PERSON_PHONE, person.and_then(|p| p.3.as_ref()))?;
        c.set_of(key::TARGET_GROUPS, &self.target_groups)?;
        c.set_opt(key::URGENCY, self.urgency.as_ref())?;
        c.set(key::EMERGENCY_24H, &self.emergency_24h)?;
        c.set_opt(key::NOTES, self.notes.as_ref())?;
        c.entries(key::PHOTOS, &self.photos, Photo::write)?;
        GeoPoint::write_opt(self.gps.as_ref(), c, key::GPS)?;
        c.set(key::STATUS, &self.status)
    }

    fn validate(&self, out: &mut Vec<Issue>) {
        if let Some(gps) = &self.gps {
            gps.validate(key::GPS, out);
        }
        Photo::validate_all(&self.photos, key::PHOTOS, out);
        if let Some(Target::Person {
            name, id_number, ..
        }) = &self.target
        {
            // Reported on the person's name key: the person's identity checks use member keys,
            // so map them back to this kind's keys.
            let mut issues = Vec::new();
            identity("", name, id_number.as_ref(), None, None, &mut issues);
            out.extend(issues.into_iter().map(|mut i| {
                i.path = key::TARGET_PERSON_NAME.to_owned();
                i
            }));
        }
        if self.status == DiscoveryStatus::Draft {
            return;
        }
        if self.channel.is_none() {
            out.push(Issue::error(
                key::CHANNEL,
                "discovery.channel_required",
                "请选择发现渠道",
                "the channel is required",
            ));
        }
        if self.target.is_none() {
            out.push(Issue::error(
                key::TARGET_PERSON_NAME,
                "discovery.target_required",
                "请选择已登记家庭或填写对象姓名",
                "choose a household on record or enter the person's name",
            ));
        }
        if self.target_groups.is_empty() {
            out.push(Issue::error(
                key::TARGET_GROUPS,
                "discovery.target_groups_required",
                "请至少选择一个对象类别",
                "choose at least one target group",
            ));
        }
        if self.urgency.is_none() {
            out.push(Issue::error(
                key::URGENCY,
                "discovery.urgency_required",
                "请选择紧急程度",
                "the urgency is required",
            ));
        }
    }
}
