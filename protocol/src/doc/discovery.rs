//! The proactive-discovery report (主动发现报告): a village cadre or a field worker reports a
//! person or household who may need help and has not applied.

use std::collections::{BTreeMap, BTreeSet};

use automerge::transaction::Transactable;

use super::DocumentContent;
use super::access::{DocError, MapReader, MapWriter, UnixMillis};
use super::common::{GPS_RULES, GeoPoint, Photo, gps_key, photos_key};
use super::format::Shape::{Scalar, Set};
use super::format::code_enum;
use super::format::{
    ACCOUNT_ID, BOOL, DOCUMENT_ID, Key as SchemaKey, KindSchema, REPORT_NOT_DRAFT, Rule, TEXT,
    TIMESTAMP,
};
use super::household::person_checks;
use super::issue::{Issue, Severity};
use super::sealed::{self, identity_key};
use crate::identity::SealedId;
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
    /// 身份证号, masked and sealed (`crate::doc::identity`).
    pub const TARGET_PERSON_IDENTITY: &str = "target_person_identity";
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

/// The published schema of a discovery report's content (docs/SCHEMA.md).
pub static SCHEMA: KindSchema = KindSchema {
    kind: DocumentKind::DiscoveryReport,
    about: "A proactive-discovery report (主动发现报告): a village cadre or a field worker reports a person or household who may need help and has not applied. Who it is about is either a household on record (`target_household`) or a person described by the `target_person_*` keys.",
    content: CONTENT,
    alternatives: &[
        &[key::TARGET_HOUSEHOLD],
        &[
            key::TARGET_PERSON_NAME,
            key::TARGET_PERSON_IDENTITY,
            key::TARGET_PERSON_ADDRESS,
            key::TARGET_PERSON_PHONE,
        ],
    ],
    rules: RULES,
};

const CONTENT: &[SchemaKey] = &[
    SchemaKey::req(key::REPORTER, "报告人", Scalar(&ACCOUNT_ID))
        .about("the reporting account's id"),
    SchemaKey::opt(key::REPORTER_NAME, "报告人姓名", Scalar(&TEXT)),
    SchemaKey::opt(key::REPORTED_AT, "报告时间", Scalar(&TIMESTAMP)),
    SchemaKey::opt(key::CHANNEL, "发现渠道", Scalar(&Channel::FORMAT)).needed(
        REPORT_NOT_DRAFT,
        1,
        "discovery.channel_required",
    ),
    SchemaKey::opt(key::TARGET_HOUSEHOLD, "已登记家庭", Scalar(&DOCUMENT_ID)).about(
        "the id of a household document, when the report is about a household on record; the `target_person_*` keys are then ignored",
    ),
    SchemaKey::opt(key::TARGET_PERSON_NAME, "对象姓名", Scalar(&TEXT)).about(
        "the name of a person not on record; not blank. Without it (and without `target_household`) the report has no target, and the other `target_person_*` keys are ignored",
    ),
    identity_key(key::TARGET_PERSON_IDENTITY, "对象身份证号"),
    SchemaKey::opt(key::TARGET_PERSON_ADDRESS, "对象住址", Scalar(&TEXT)),
    SchemaKey::opt(key::TARGET_PERSON_PHONE, "对象电话", Scalar(&TEXT)),
    SchemaKey::req(key::TARGET_GROUPS, "对象类别", Set(&TargetGroup::FORMAT)).needed(
        REPORT_NOT_DRAFT,
        1,
        "discovery.target_groups_required",
    ),
    SchemaKey::opt(key::URGENCY, "紧急程度", Scalar(&Urgency::FORMAT)).needed(
        REPORT_NOT_DRAFT,
        1,
        "discovery.urgency_required",
    ),
    SchemaKey::req(key::EMERGENCY_24H, "急难（24小时内救助）", Scalar(&BOOL))
        .about("help is needed within 24 hours (先行救助)"),
    SchemaKey::opt(key::NOTES, "情况说明", Scalar(&TEXT)),
    photos_key(key::PHOTOS),
    gps_key(key::GPS),
    SchemaKey::req(key::STATUS, "状态", Scalar(&DiscoveryStatus::FORMAT))
        .about("phones set `draft` and `submitted`; from triage on (`screened`...) the server sets it and phones no longer change it")
        .phone_values(&["draft", "submitted"]),
];

const SEALED_RULES: [Rule; 2] = sealed::sealed_rules(&["target_person_identity"]);

const RULES: &[Rule] = &[
    SEALED_RULES[0],
    SEALED_RULES[1],
    GPS_RULES[0],
    GPS_RULES[1],
    GPS_RULES[2],
    GPS_RULES[3],
    Rule {
        code: "person.name_required",
        severity: Severity::Error,
        paths: &["target_person_name"],
        when: "`target_person_name` is present and blank (without `target_household`)",
    },
    Rule {
        code: "discovery.channel_required",
        severity: Severity::Error,
        paths: &["channel"],
        when: "`status` is not `draft` and `channel` is absent",
    },
    Rule {
        code: "discovery.target_required",
        severity: Severity::Error,
        paths: &["target_person_name"],
        when: "`status` is not `draft` and neither `target_household` nor `target_person_name` is present",
    },
    Rule {
        code: "discovery.target_groups_required",
        severity: Severity::Error,
        paths: &["target_groups"],
        when: "`status` is not `draft` and `target_groups` is empty",
    },
    Rule {
        code: "discovery.urgency_required",
        severity: Severity::Error,
        paths: &["urgency"],
        when: "`status` is not `draft` and `urgency` is absent",
    },
];

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

impl DiscoveryStatus {
    /// Whether a push may move a report from `from` (`None`: not stored yet) to `to`: draft and
    /// submitted are the reporting phone's; from screening on (已筛查) the status is the
    /// reviewers', set on the server.
    pub fn phone_may_move(from: Option<DiscoveryStatus>, to: DiscoveryStatus) -> bool {
        use DiscoveryStatus::*;
        from == Some(to)
            || (matches!(to, Draft | Submitted)
                && from.is_none_or(|f| matches!(f, Draft | Submitted)))
    }

    /// Whether a reviewer may move a report from `self` to `to`: the report's life after it is
    /// submitted (已上报 → 已筛查 → 已登记 → 已核实 → 已转介), and closing (已办结) from any
    /// submitted state not closed yet. The only place these transitions are spelled.
    pub fn reviewer_may_move(self, to: DiscoveryStatus) -> bool {
        use DiscoveryStatus::*;
        match to {
            Screened => self == Submitted,
            Registered => self == Screened,
            Verified => self == Registered,
            Referred => self == Verified,
            Closed => !matches!(self, Draft | Closed),
            Draft | Submitted => false,
        }
    }

    /// The statuses a reviewer may move a report to from `self`, in the order of its life.
    pub fn reviewer_next(self) -> Vec<DiscoveryStatus> {
        DiscoveryStatus::ALL
            .iter()
            .copied()
            .filter(|to| self.reviewer_may_move(*to))
            .collect()
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
        /// 身份证号, masked and sealed to the server.
        identity: Option<SealedId>,
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
        // Every target key is read (and so checked) when present; a household on record wins
        // over a person, and a person needs a name.
        let household = c.opt(key::TARGET_HOUSEHOLD)?;
        let name = c.opt::<String>(key::TARGET_PERSON_NAME)?;
        let identity = sealed::read_opt(c, key::TARGET_PERSON_IDENTITY)?;
        let address = c.opt(key::TARGET_PERSON_ADDRESS)?;
        let phone = c.opt(key::TARGET_PERSON_PHONE)?;
        let target = match (household, name) {
            (Some(h), _) => Some(Target::Household(h)),
            (None, Some(name)) => Some(Target::Person {
                name,
                identity,
                address,
                phone,
            }),
            (None, None) => None,
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
                identity,
                address,
                phone,
            }) => (None, Some((name, identity, address, phone))),
            None => (None, None),
        };
        c.set_opt(key::TARGET_HOUSEHOLD, household)?;
        c.set_opt(key::TARGET_PERSON_NAME, person.map(|p| p.0))?;
        sealed::write_opt(
            person.and_then(|p| p.1.as_ref()),
            c,
            key::TARGET_PERSON_IDENTITY,
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
        if let Some(Target::Person { name, identity, .. }) = &self.target {
            // Reported on the person's name key: the person's identity checks use member keys,
            // so map them back to this kind's keys.
            let mut issues = Vec::new();
            person_checks("", name, identity.as_ref(), None, None, &mut issues);
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
