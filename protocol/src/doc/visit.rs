//! The visit document (走访: 入户调查 / 复核 / 探访 / 预警核查 / 回访). Created on one phone, edited by
//! its investigators until submitted; reviewers' decisions are written into it by the server.

use std::collections::BTreeMap;

use automerge::transaction::Transactable;
use chrono::NaiveDate;

use super::DocumentContent;
use super::access::{DocError, MapReader, MapWriter, UnixMillis};
use super::common::{GPS_RULES, GeoPoint, Photo, gps_key, photos_key};
use super::format::Shape::{Entries, List, Record, Scalar};
use super::format::code_enum;
use super::format::{
    ACCOUNT_ID, BLOB_HASH, BOOL, DATE, DOCUMENT_ID, ENTRY_ID, INT, Key as SchemaKey, KindSchema,
    MEMBER_ID, Rule, TEXT, TIMESTAMP, VISIT_NOT_DRAFT,
};
use super::household::person_checks;
use super::household::{Programme, Relation, key::member as member_key};
use super::issue::{Issue, Severity};
use super::sealed::{self, identity_key};
use crate::identity::SealedId;
use crate::ids::{AccountId, BlobHash, DocumentId, DocumentKind, EntryId, MemberId};

/// The keys of a visit document's content. No other code spells them.
pub mod key {
    pub const HOUSEHOLD: &str = "household";
    pub const REPORT: &str = "report";
    pub const APPLIED_FOR: &str = "applied_for";
    pub const PURPOSE: &str = "purpose";
    pub const STARTED_AT: &str = "started_at";
    pub const ENDED_AT: &str = "ended_at";
    pub const INVESTIGATORS: &str = "investigators";
    pub const MODE: &str = "mode";
    pub const EMERGENCY_REASON: &str = "emergency_reason";
    pub const MEMBER_CHECKS: &str = "member_checks";
    pub const MEMBERS_ADDED: &str = "members_added";
    pub const LIVING: &str = "living";
    pub const COMPARISONS: &str = "comparisons";
    pub const HEALTH_NOTES: &str = "health_notes";
    pub const DISABILITY_NOTES: &str = "disability_notes";
    pub const WORK_CAPACITY_NOTES: &str = "work_capacity_notes";
    pub const CONCLUSION: &str = "conclusion";
    pub const CONCLUSION_NOTES: &str = "conclusion_notes";
    pub const SIGNATURES: &str = "signatures";
    pub const PHOTOS: &str = "photos";
    pub const GPS: &str = "gps";
    pub const STATUS: &str = "status";
    pub const SUBMITTED_AT: &str = "submitted_at";
    pub const REVIEWS: &str = "reviews";
    pub const NOTICE_FROM: &str = "notice_from";
    pub const NOTICE_UNTIL: &str = "notice_until";
    pub const OBJECTIONS: &str = "objections";
    pub const APPRAISALS: &str = "appraisals";
    pub const APPLICATION: &str = "application";
    pub const EXTENSION: &str = "extension";
    pub const COUNTY_VISITS: &str = "county_visits";

    pub mod investigator {
        pub const NAME: &str = "name";
    }

    pub mod member_check {
        pub const PRESENT: &str = "present";
        pub const CONFIRMED: &str = "confirmed";
        pub const REMOVED: &str = "removed";
        pub const REMOVAL_REASON: &str = "removal_reason";
        pub const NOT_SIGNED_REASON: &str = "not_signed_reason";
        pub const NOTE: &str = "note";
    }

    /// An added member uses the household's member keys for name, ID number and relation, plus:
    pub mod member_added {
        pub const NOTE: &str = "note";
    }

    pub mod living {
        pub const FOOD: &str = "food";
        pub const CLOTHING: &str = "clothing";
        pub const HOUSING: &str = "housing";
        pub const DAILY_GOODS: &str = "daily_goods";
    }

    pub mod comparison {
        pub const SUBJECT: &str = "subject";
        pub const DESCRIPTION: &str = "description";
        pub const DECLARED_FEN: &str = "declared_fen";
        pub const OBSERVED_FEN: &str = "observed_fen";
        pub const NOTE: &str = "note";
    }

    pub mod signature {
        pub const SIGNER_NAME: &str = "signer_name";
        pub const ROLE: &str = "role";
        pub const ACCOUNT: &str = "account";
        pub const MEMBER: &str = "member";
        pub const SIGNED_AT: &str = "signed_at";
    }

    pub mod objection {
        pub const AT: &str = "at";
        pub const OBJECTOR: &str = "objector";
        pub const DETAIL: &str = "detail";
        pub const RECORDED_BY: &str = "recorded_by";
    }

    pub mod appraisal {
        pub const AT: &str = "at";
        pub const HELD_ON: &str = "held_on";
        pub const PARTICIPANTS: &str = "participants";
        pub const VOTES_FOR: &str = "votes_for";
        pub const VOTES_AGAINST: &str = "votes_against";
        pub const RECORD_PHOTO: &str = "record_photo";
        pub const RECORDED_BY: &str = "recorded_by";
    }

    pub mod application {
        pub const ACCEPTED_ON: &str = "accepted_on";
        pub const CHANNEL: &str = "channel";
        pub const PROXY_NAME: &str = "proxy_name";
        pub const AUTHORISATION: &str = "authorisation";
        pub const PLEDGE_SIGNED: &str = "pledge_signed";
        pub const DATA_CHECK_AUTHORISED: &str = "data_check_authorised";
        pub const KIN_FILING: &str = "kin_filing";
    }

    pub mod extension {
        pub const REASON: &str = "reason";
        pub const RECORDED_BY: &str = "recorded_by";
        pub const AT: &str = "at";
    }

    pub mod county_visit {
        pub const AT: &str = "at";
        pub const VISITED_ON: &str = "visited_on";
        pub const VISITORS: &str = "visitors";
        pub const FINDINGS: &str = "findings";
        pub const RECORDED_BY: &str = "recorded_by";
    }

    pub mod review {
        pub const REVIEWER: &str = "reviewer";
        pub const REVIEWER_NAME: &str = "reviewer_name";
        pub const DECISION: &str = "decision";
        pub const COMMENT: &str = "comment";
        pub const AT: &str = "at";
    }
}

/// The published schema of a visit's content (docs/SCHEMA.md).
pub static SCHEMA: KindSchema = KindSchema {
    kind: DocumentKind::Visit,
    about: "A visit (走访: 入户调查, 复核, 探访, 预警核查, 回访) to a household. Created on one phone, edited by its investigators until submitted; reviewers' decisions are written into it by the server.",
    content: CONTENT,
    alternatives: &[],
    rules: RULES,
};

/// The statuses a reviewer's decision sets.
const REVIEWED: &[&str] = &["returned", "approved", "rejected", "confirmed", "closed"];

const CONTENT: &[SchemaKey] = &[
    SchemaKey::req(key::HOUSEHOLD, "所属家庭", Scalar(&DOCUMENT_ID))
        .about("the id of the household document visited"),
    SchemaKey::req(key::PURPOSE, "走访类型", Scalar(&Purpose::FORMAT)),
    SchemaKey::opt(key::REPORT, "核实的主动发现报告", Scalar(&DOCUMENT_ID)).about(
        "the id of the discovery report this visit verifies (主动发现核查): present exactly when `purpose` is `discovery_check`; the report lies in the visit's grid",
    ),
    SchemaKey::opt(key::APPLIED_FOR, "申请救助类别", Scalar(&Programme::FORMAT)).about(
        "the programme the household applies for (低保, 特困, 低保边缘, 刚性支出困难): only on an investigation (`purpose` `investigation`); the county's decision defaults to it",
    ),
    SchemaKey::opt(key::APPLICATION, "申请受理", Record(APPLICATION)).about(
        "the application this investigation belongs to, as the township accepted it (受理): only on an investigation; its `accepted_on` starts every clock of the case",
    ),
    SchemaKey::opt(key::STARTED_AT, "开始时间", Scalar(&TIMESTAMP)).needed(
        VISIT_NOT_DRAFT,
        1,
        "visit.started_at_required",
    ),
    SchemaKey::opt(key::ENDED_AT, "结束时间", Scalar(&TIMESTAMP))
        .about("not before `started_at`")
        .needed(VISIT_NOT_DRAFT, 1, "visit.ended_at_required"),
    SchemaKey::req(key::INVESTIGATORS, "调查人员", Entries(&ACCOUNT_ID, INVESTIGATOR))
        .about("the investigators, keyed by account id; each must sign once the visit is submitted")
        .needed(VISIT_NOT_DRAFT, 2, "visit.investigators_min"),
    SchemaKey::req(key::MODE, "走访方式", Scalar(&VisitMode::FORMAT))
        .about("`phone` and `video` only in a declared major emergency, with `emergency_reason`"),
    SchemaKey::opt(key::EMERGENCY_REASON, "重大突发事件说明", Scalar(&TEXT))
        .about("the declared major emergency that allows a phone or video visit; not blank then"),
    SchemaKey::req(key::MEMBER_CHECKS, "成员核实", Entries(&MEMBER_ID, MEMBER_CHECK))
        .about("what the visit found about existing members, keyed by their member id in the household"),
    SchemaKey::req(key::MEMBERS_ADDED, "增员", Entries(&MEMBER_ID, MEMBER_ADDED)).about(
        "people found at the visit who are not in the household record yet, keyed by the member id they will keep in the household",
    ),
    SchemaKey::req(key::LIVING, "吃穿住用", Record(LIVING))
        .about("observed living conditions: a map created with the visit"),
    SchemaKey::req(key::COMPARISONS, "申报与核实对比", Entries(&ENTRY_ID, COMPARISON))
        .about("income or assets as declared and as seen"),
    SchemaKey::opt(key::HEALTH_NOTES, "健康状况说明", Scalar(&TEXT)),
    SchemaKey::opt(key::DISABILITY_NOTES, "残疾情况说明", Scalar(&TEXT)),
    SchemaKey::opt(key::WORK_CAPACITY_NOTES, "劳动能力说明", Scalar(&TEXT)),
    SchemaKey::opt(key::CONCLUSION, "调查结论", Scalar(&Conclusion::FORMAT)).needed(
        VISIT_NOT_DRAFT,
        1,
        "visit.conclusion_required",
    ),
    SchemaKey::opt(key::CONCLUSION_NOTES, "结论说明", Scalar(&TEXT)),
    SchemaKey::req(key::SIGNATURES, "签字", Entries(&BLOB_HASH, SIGNATURE)).about(
        "signatures keyed by the SHA-256 of the signature image (a blob); once submitted, every investigator has one with `role` `investigator` and `account` their account id",
    ),
    photos_key(key::PHOTOS),
    gps_key(key::GPS),
    SchemaKey::req(key::STATUS, "状态", Scalar(&VisitStatus::FORMAT))
        .about(
            "phones set `draft` and `submitted` (also to resubmit a `returned` visit); the other statuses are set by reviewers' decisions, and a decided visit (`approved`, `rejected`, `confirmed`, `closed`) keeps its status",
        )
        .phone_values(&["draft", "submitted"]),
    SchemaKey::opt(key::SUBMITTED_AT, "提交时间", Scalar(&TIMESTAMP)),
    SchemaKey::req(key::REVIEWS, "审核意见", List(REVIEW))
        .about("reviewers' decisions, oldest first")
        .by_server()
        .needed(REVIEWED, 1, "visit.review_required"),
    SchemaKey::opt(key::NOTICE_FROM, "公示开始", Scalar(&DATE))
        .about("an application's 公示: the day the township approved it (China time)")
        .by_server(),
    SchemaKey::opt(key::NOTICE_UNTIL, "公示截止", Scalar(&DATE))
        .about("the last day of the 公示 (`public_notice_days` calendar days); the application is confirmed only after it")
        .by_server(),
    SchemaKey::opt(key::OBJECTIONS, "公示异议", List(OBJECTION))
        .about("objections raised against the application, oldest first; absent until the first")
        .by_server(),
    SchemaKey::opt(key::APPRAISALS, "民主评议", List(APPRAISAL))
        .about("democratic appraisals held on objections, oldest first; absent until the first")
        .by_server(),
    SchemaKey::opt(key::EXTENSION, "延期说明", Record(EXTENSION)).about(
        "the recorded reason the whole case may take `case_limit_special_wd` working days (45) instead of its limit",
    )
    .by_server(),
    SchemaKey::opt(key::COUNTY_VISITS, "县级入户核查", List(COUNTY_VISIT))
        .about("the county's own visits to the household (a 特困 case in its spot check, or a case with 近亲属备案), oldest first; absent until the first")
        .by_server(),
];

const APPLICATION: &[SchemaKey] = {
    use key::application as k;
    &[
        SchemaKey::req(k::ACCEPTED_ON, "受理日期", Scalar(&DATE))
            .about("the day the township accepted the application (China time); not after the day the investigation started"),
        SchemaKey::req(k::CHANNEL, "申请方式", Scalar(&ApplicationChannel::FORMAT)),
        SchemaKey::opt(k::PROXY_NAME, "代办人", Scalar(&TEXT))
            .about("who applied on the household's behalf: not blank when `channel` is `proxy`"),
        SchemaKey::opt(k::AUTHORISATION, "委托书", Scalar(&BLOB_HASH)).about(
            "the photo of the power of attorney (委托书), a key of `photos`: required when `channel` is `proxy`",
        ),
        SchemaKey::req(k::PLEDGE_SIGNED, "已签承诺书", Scalar(&BOOL))
            .about("the applicant signed the pledge that what was declared is true (诚信承诺书): true before the visit is submitted"),
        SchemaKey::req(k::DATA_CHECK_AUTHORISED, "已签核对授权书", Scalar(&BOOL)).about(
            "the household authorised the check of its economic data (家庭经济状况核对授权书): true before the visit is submitted",
        ),
        SchemaKey::req(k::KIN_FILING, "近亲属备案", Scalar(&BOOL)).about(
            "a member is a close relative of social-assistance staff or village cadres (近亲属备案): the county makes its own visit before confirming",
        ),
    ]
};

const EXTENSION: &[SchemaKey] = {
    use key::extension as k;
    &[
        SchemaKey::req(k::REASON, "延期原因", Scalar(&TEXT)),
        SchemaKey::req(k::RECORDED_BY, "记录人", Scalar(&ACCOUNT_ID)),
        SchemaKey::req(k::AT, "记录时间", Scalar(&TIMESTAMP)),
    ]
};

const COUNTY_VISIT: &[SchemaKey] = {
    use key::county_visit as k;
    &[
        SchemaKey::req(k::AT, "记录时间", Scalar(&TIMESTAMP)),
        SchemaKey::req(k::VISITED_ON, "核查日期", Scalar(&DATE)),
        SchemaKey::req(k::VISITORS, "核查人员", Scalar(&TEXT)),
        SchemaKey::req(k::FINDINGS, "核查情况", Scalar(&TEXT)),
        SchemaKey::req(k::RECORDED_BY, "记录人", Scalar(&ACCOUNT_ID)),
    ]
};

const OBJECTION: &[SchemaKey] = {
    use key::objection as k;
    &[
        SchemaKey::req(k::AT, "记录时间", Scalar(&TIMESTAMP)),
        SchemaKey::req(k::OBJECTOR, "异议人", Scalar(&TEXT))
            .about("who raised it (kept in the file, never published)"),
        SchemaKey::req(k::DETAIL, "异议内容", Scalar(&TEXT)),
        SchemaKey::req(k::RECORDED_BY, "记录人", Scalar(&ACCOUNT_ID)),
    ]
};

const APPRAISAL: &[SchemaKey] = {
    use key::appraisal as k;
    &[
        SchemaKey::req(k::AT, "记录时间", Scalar(&TIMESTAMP)),
        SchemaKey::req(k::HELD_ON, "评议日期", Scalar(&DATE)),
        SchemaKey::req(k::PARTICIPANTS, "参加人数", Scalar(&INT)),
        SchemaKey::req(k::VOTES_FOR, "赞成", Scalar(&INT)),
        SchemaKey::req(k::VOTES_AGAINST, "反对", Scalar(&INT)),
        SchemaKey::opt(k::RECORD_PHOTO, "签字记录", Scalar(&BLOB_HASH)).about(
            "the photo of the signed record of the appraisal (民主评议记录), a key of `photos` that the server wrote with it; absent in appraisals recorded before the photo was asked for",
        ),
        SchemaKey::req(k::RECORDED_BY, "记录人", Scalar(&ACCOUNT_ID)),
    ]
};

const INVESTIGATOR: &[SchemaKey] = &[SchemaKey::req(
    key::investigator::NAME,
    "姓名",
    Scalar(&TEXT),
)];

const MEMBER_CHECK: &[SchemaKey] = {
    use key::member_check as k;
    &[
        SchemaKey::req(k::PRESENT, "在场", Scalar(&BOOL)),
        SchemaKey::req(k::CONFIRMED, "已核实", Scalar(&BOOL))
            .about("identity and circumstances confirmed"),
        SchemaKey::req(k::REMOVED, "减员", Scalar(&BOOL))
            .about("no longer part of the household, with `removal_reason`"),
        SchemaKey::opt(k::REMOVAL_REASON, "减员原因", Scalar(&TEXT))
            .about("not blank when `removed` is true"),
        SchemaKey::opt(k::NOT_SIGNED_REASON, "未签字原因", Scalar(&TEXT)).about(
            "why a member present did not sign (refused, a minor, unable to write): without it, each member present signs once the visit is submitted (DB2021 art. 16)",
        ),
        SchemaKey::opt(k::NOTE, "备注", Scalar(&TEXT)),
    ]
};

const MEMBER_ADDED: &[SchemaKey] = &[
    SchemaKey::req(member_key::NAME, "姓名", Scalar(&TEXT)).about("not blank"),
    identity_key(member_key::IDENTITY, "身份证号")
        .about("masked and sealed to the server, replaced whole (never in clear)"),
    SchemaKey::req(
        member_key::RELATION,
        "与户主关系",
        Scalar(&Relation::FORMAT),
    ),
    SchemaKey::opt(key::member_added::NOTE, "备注", Scalar(&TEXT)),
];

const LIVING: &[SchemaKey] = {
    use key::living as k;
    &[
        SchemaKey::opt(k::FOOD, "吃", Scalar(&TEXT)),
        SchemaKey::opt(k::CLOTHING, "穿", Scalar(&TEXT)),
        SchemaKey::opt(k::HOUSING, "住", Scalar(&TEXT)),
        SchemaKey::opt(k::DAILY_GOODS, "用", Scalar(&TEXT)),
    ]
};

const COMPARISON: &[SchemaKey] = {
    use key::comparison as k;
    &[
        SchemaKey::req(k::SUBJECT, "对比项", Scalar(&ComparisonSubject::FORMAT)),
        SchemaKey::req(k::DESCRIPTION, "说明", Scalar(&TEXT)),
        SchemaKey::opt(k::DECLARED_FEN, "申报金额（分）", Scalar(&INT)),
        SchemaKey::opt(k::OBSERVED_FEN, "核实金额（分）", Scalar(&INT)),
        SchemaKey::opt(k::NOTE, "备注", Scalar(&TEXT)),
    ]
};

const SIGNATURE: &[SchemaKey] = {
    use key::signature as k;
    &[
        SchemaKey::req(k::SIGNER_NAME, "签字人", Scalar(&TEXT)),
        SchemaKey::req(k::ROLE, "签字人身份", Scalar(&SignerRole::FORMAT)),
        SchemaKey::opt(k::ACCOUNT, "签字人账号", Scalar(&ACCOUNT_ID))
            .about("the signer's account id, for investigators and cadres"),
        SchemaKey::opt(k::MEMBER, "签字成员", Scalar(&MEMBER_ID)).about(
            "the household member who signed, for `family` signatures: a key of `member_checks` or `members_added`",
        ),
        SchemaKey::opt(k::SIGNED_AT, "签字时间", Scalar(&TIMESTAMP)),
    ]
};

const REVIEW: &[SchemaKey] = {
    use key::review as k;
    &[
        SchemaKey::req(k::REVIEWER, "审核人", Scalar(&ACCOUNT_ID)),
        SchemaKey::req(k::REVIEWER_NAME, "审核人姓名", Scalar(&TEXT)),
        SchemaKey::req(k::DECISION, "审核决定", Scalar(&ReviewOutcome::FORMAT)),
        SchemaKey::opt(k::COMMENT, "审核意见", Scalar(&TEXT)),
        SchemaKey::req(k::AT, "审核时间", Scalar(&TIMESTAMP)),
    ]
};

const SEALED_RULES: [Rule; 2] = sealed::sealed_rules(&["members_added.<member_id>.identity"]);

const RULES: &[Rule] = &[
    SEALED_RULES[0],
    SEALED_RULES[1],
    Rule {
        code: "visit.report_required",
        severity: Severity::Error,
        paths: &["report"],
        when: "`purpose` is `discovery_check` and `report` is absent",
    },
    Rule {
        code: "visit.report_unexpected",
        severity: Severity::Error,
        paths: &["report"],
        when: "`report` is present and `purpose` is not `discovery_check`",
    },
    Rule {
        code: "visit.applied_for_unexpected",
        severity: Severity::Error,
        paths: &["applied_for"],
        when: "`applied_for` is present and `purpose` is not `investigation`",
    },
    Rule {
        code: "visit.applied_for_missing",
        severity: Severity::Warning,
        paths: &["applied_for"],
        when: "`purpose` is `investigation`, `status` is not `draft` and `applied_for` is absent (the county then names the programme when it decides)",
    },
    Rule {
        code: "visit.application_unexpected",
        severity: Severity::Error,
        paths: &["application"],
        when: "`application` is present and `purpose` is not `investigation`",
    },
    Rule {
        code: "visit.application_missing",
        severity: Severity::Warning,
        paths: &["application"],
        when: "`purpose` is `investigation`, `status` is not `draft` and `application` is absent (the case's clocks then start at the submission)",
    },
    Rule {
        code: "visit.proxy_incomplete",
        severity: Severity::Error,
        paths: &["application.proxy_name", "application.authorisation"],
        when: "`channel` is `proxy` and `proxy_name` is blank or absent, or `authorisation` is absent",
    },
    Rule {
        code: "visit.authorisation_unknown",
        severity: Severity::Error,
        paths: &["application.authorisation"],
        when: "`authorisation` is not a key of `photos`",
    },
    Rule {
        code: "visit.appraisal_photo_unknown",
        severity: Severity::Error,
        paths: &["appraisals[<n>].record_photo"],
        when: "`record_photo` is not a key of `photos`",
    },
    Rule {
        code: "visit.accepted_after_start",
        severity: Severity::Error,
        paths: &["application.accepted_on"],
        when: "`accepted_on` is after the day (China time) of `started_at`",
    },
    Rule {
        code: "visit.pledge_required",
        severity: Severity::Error,
        paths: &["application.pledge_signed"],
        when: "`status` is not `draft` and `pledge_signed` is false",
    },
    Rule {
        code: "visit.data_check_authorisation_required",
        severity: Severity::Error,
        paths: &["application.data_check_authorised"],
        when: "`status` is not `draft` and `data_check_authorised` is false",
    },
    Rule {
        code: "visit.remote_needs_emergency",
        severity: Severity::Error,
        paths: &["emergency_reason"],
        when: "`mode` is `phone` or `video` and `emergency_reason` is absent or blank",
    },
    Rule {
        code: "visit.time_order",
        severity: Severity::Error,
        paths: &["ended_at"],
        when: "`ended_at` is before `started_at`",
    },
    Rule {
        code: "member.removed_reason_required",
        severity: Severity::Error,
        paths: &["member_checks.<member_id>.removal_reason"],
        when: "`removed` is true and `removal_reason` is absent or empty",
    },
    Rule {
        code: "person.name_required",
        severity: Severity::Error,
        paths: &["members_added.<member_id>.name"],
        when: "an added member's `name` is blank",
    },
    GPS_RULES[0],
    GPS_RULES[1],
    GPS_RULES[2],
    GPS_RULES[3],
    Rule {
        code: "visit.investigators_min",
        severity: Severity::Error,
        paths: &["investigators"],
        when: "`status` is not `draft` and there are fewer than two investigators",
    },
    Rule {
        code: "visit.started_at_required",
        severity: Severity::Error,
        paths: &["started_at"],
        when: "`status` is not `draft` and `started_at` is absent",
    },
    Rule {
        code: "visit.ended_at_required",
        severity: Severity::Error,
        paths: &["ended_at"],
        when: "`status` is not `draft` and `ended_at` is absent",
    },
    Rule {
        code: "visit.conclusion_required",
        severity: Severity::Error,
        paths: &["conclusion"],
        when: "`status` is not `draft` and `conclusion` is absent",
    },
    Rule {
        code: "visit.investigator_signature_missing",
        severity: Severity::Error,
        paths: &["investigators.<account_id>"],
        when: "`status` is not `draft` and no signature has `role` `investigator` and this investigator's `account`",
    },
    Rule {
        code: "visit.family_signature_missing",
        severity: Severity::Error,
        paths: &["member_checks.<member_id>"],
        when: "`status` is not `draft`, the member is `present`, has no `not_signed_reason`, and no signature has `role` `family` and this `member` (DB2021 art. 16: each family member present signs)",
    },
    Rule {
        code: "visit.no_member_present",
        severity: Severity::Warning,
        paths: &["member_checks"],
        when: "`status` is not `draft` and no member is recorded `present`",
    },
    Rule {
        code: "visit.signer_unknown",
        severity: Severity::Error,
        paths: &["signatures.<blob_hash>.member"],
        when: "`member` is not a key of `member_checks` or `members_added`, or the signature's `role` is not `family`",
    },
    Rule {
        code: "visit.review_required",
        severity: Severity::Error,
        paths: &["reviews"],
        when: "`status` is `returned`, `approved`, `rejected` or `confirmed` and `reviews` is empty",
    },
];

code_enum! {
    /// Purpose of a visit.
    pub enum Purpose {
        /// 入户调查 (means investigation of an application)
        Investigation = ("investigation", "入户调查"),
        /// 复核 (periodic re-check)
        Recheck = ("recheck", "复核"),
        /// 探访 (care visit)
        CareVisit = ("care_visit", "探访"),
        /// 预警核查 (checking a monitoring alert)
        AlertCheck = ("alert_check", "预警核查"),
        /// 主动发现核查 (verifying a discovery report: names the report)
        DiscoveryCheck = ("discovery_check", "主动发现核查"),
        /// 回访 (return visit after aid)
        FollowUp = ("follow_up", "回访"),
        /// 急难核查 (verifying a 临时救助 急难 case at the place: the emergency, the 先行救助
        /// given)
        EmergencyCheck = ("emergency_check", "急难核查"),
    }
}

code_enum! {
    /// Where an application stands in its procedure (办理环节, DB2021 art. 13–24; TK2021), derived
    /// from its investigation ([`Visit::case_stage`]): 受理 → 调查 → 初审 → 公示 → (异议 → 复查 or
    /// 民主评议) → 审核确认 → 决定 (批准, then 公布; 不予批准, then 书面告知).
    pub enum CaseStage {
        /// 调查: the investigation is being recorded (a draft), or done again after a return
        /// (复查).
        Investigating = ("investigating", "入户调查"),
        /// 初审: submitted, waiting for the township's opinion.
        TownReview = ("town_review", "乡镇初审"),
        /// 公示: the township approved; the public notice runs.
        Notice = ("notice", "公示中"),
        /// 异议: an objection raised since the township's approval waits for a 民主评议 or a
        /// re-investigation.
        Objection = ("objection", "异议处理"),
        /// 审核确认: after the notice, waiting for the county (or the township where it is
        /// delegated).
        CountyReview = ("county_review", "审核确认"),
        /// 批准, published (公布).
        Approved = ("approved", "已批准"),
        /// 不予批准, with the written notice (书面告知).
        Refused = ("refused", "不予批准"),
    }
}

code_enum! {
    /// How an application reached the township (申请方式, DB2021 art. 13–14).
    pub enum ApplicationChannel {
        /// 书面申请 (in writing, at the township or through the village)
        InPerson = ("in_person", "书面申请"),
        /// 网上申请
        Online = ("online", "网上申请"),
        /// 代办 (by the village committee or another person, with a power of attorney)
        Proxy = ("proxy", "代办"),
    }
}

code_enum! {
    /// How the visit was made (DB2021 art. 16).
    pub enum VisitMode {
        /// 入户 (in person)
        InPerson = ("in_person", "入户"),
        /// 电话 (only in a declared major emergency)
        Phone = ("phone", "电话"),
        /// 视频 (only in a declared major emergency)
        Video = ("video", "视频"),
    }
}

code_enum! {
    /// Where a visit stands in its workflow.
    pub enum VisitStatus {
        /// 草稿
        Draft = ("draft", "草稿"),
        /// 已提交
        Submitted = ("submitted", "已提交"),
        /// 已退回 (returned to the investigators for more work)
        Returned = ("returned", "已退回"),
        /// 审核通过
        Approved = ("approved", "审核通过"),
        /// 不予通过
        Rejected = ("rejected", "不予通过"),
        /// 已确认 (by the county: an application's investigation)
        Confirmed = ("confirmed", "已确认"),
        /// 已办结 (closed by the township: a visit that is no application's investigation)
        Closed = ("closed", "已办结"),
    }
}

impl VisitStatus {
    /// Whether the investigators' phone may change a visit in this status: a draft (草稿) or a
    /// visit returned to them (已退回). Once submitted it is the reviewers'.
    pub fn phone_may_edit(self) -> bool {
        matches!(self, VisitStatus::Draft | VisitStatus::Returned)
    }

    /// Whether a push may move a visit from `from` (`None`: not stored yet) to `to`. Phones set
    /// only draft and submitted (a returned visit is submitted again); a decided visit (审核通过,
    /// 不予通过, 已确认, 已办结) stays as the reviewers left it, and every other status is set by review
    /// decisions on the server.
    pub fn phone_may_move(from: Option<VisitStatus>, to: VisitStatus) -> bool {
        use VisitStatus::*;
        from == Some(to)
            || (matches!(to, Draft | Submitted)
                && !matches!(from, Some(Approved | Rejected | Confirmed | Closed)))
    }
}

code_enum! {
    /// Conclusion of the investigation (调查结论).
    pub enum Conclusion {
        /// 属实
        Accurate = ("accurate", "属实"),
        /// 部分属实
        PartlyAccurate = ("partly_accurate", "部分属实"),
        /// 不属实
        Inaccurate = ("inaccurate", "不属实"),
    }
}

code_enum! {
    /// Whether a seen-vs-declared comparison is about income or assets.
    pub enum ComparisonSubject {
        /// 收入
        Income = ("income", "收入"),
        /// 财产
        Asset = ("asset", "财产"),
    }
}

code_enum! {
    /// Who signed.
    pub enum SignerRole {
        /// 调查人员
        Investigator = ("investigator", "调查人员"),
        /// 家庭成员
        Family = ("family", "家庭成员"),
        /// 村干部
        Cadre = ("cadre", "村干部"),
    }
}

code_enum! {
    /// A reviewer's decision on a visit.
    pub enum ReviewOutcome {
        /// 通过
        Approve = ("approve", "通过"),
        /// 退回
        Return = ("return", "退回"),
        /// 不予通过
        Reject = ("reject", "不予通过"),
        /// 确认
        Confirm = ("confirm", "确认"),
    }
}

code_enum! {
    /// What a reviewer decides on a visit (审核决定): the decisions of the console and the review
    /// API. Each records a [`ReviewOutcome`] in the visit's reviews.
    pub enum ReviewDecision {
        /// 乡镇: 审核通过
        Approve = ("approve", "审核通过"),
        /// 乡镇: 退回调查人员补充
        Return = ("return", "退回补充"),
        /// 不予通过 (乡镇 on a submitted visit, 县级 on an approved one)
        Reject = ("reject", "不予通过"),
        /// 县级: 确认
        Confirm = ("confirm", "确认"),
        /// 县级: 退回 (back to the investigators, then through the township again)
        SendBack = ("send_back", "县级退回"),
    }
}

code_enum! {
    /// Who decides at a step of the review (审核层级).
    pub enum ReviewLevel {
        /// 乡镇 (township: 审核)
        Town = ("town", "乡镇"),
        /// 县级 (county: 确认)
        County = ("county", "县级"),
    }
}

/// What a decision does from the status it is taken in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ReviewStep {
    /// Who takes it.
    pub level: ReviewLevel,
    /// The visit's status afterwards.
    pub to: VisitStatus,
    /// What the visit's reviews record.
    pub outcome: ReviewOutcome,
}

impl Purpose {
    /// Whether a visit of this purpose goes to the county for confirmation (审核确认) after the
    /// township approves it: only the investigation of an application (入户调查). A re-check,
    /// care visit, alert check, discovery check or return visit is closed by the township
    /// (已办结); a change of benefit it shows is applied for as a case of its own.
    pub fn needs_county_confirmation(self) -> bool {
        self == Purpose::Investigation
    }
}

/// The reviewers' part of the visit workflow; the phones' part is
/// [`VisitStatus::phone_may_move`]. A submitted visit is decided by the township (approve,
/// return, reject); approval closes it (已办结) unless its purpose needs the county, and a
/// township-approved one is decided by the county (confirm, send back, reject).
impl ReviewDecision {
    /// The level whose role the decision asks for before the visit is looked up (a county's
    /// reject is known to be one only once the visit's status is).
    pub fn first_level(self) -> ReviewLevel {
        match self {
            ReviewDecision::Approve | ReviewDecision::Return | ReviewDecision::Reject => {
                ReviewLevel::Town
            }
            ReviewDecision::Confirm | ReviewDecision::SendBack => ReviewLevel::County,
        }
    }

    /// Whether the decision needs a comment (a reason for the investigators or the file).
    pub fn needs_comment(self) -> bool {
        matches!(
            self,
            ReviewDecision::Return | ReviewDecision::Reject | ReviewDecision::SendBack
        )
    }

    /// The step the decision takes from `from` on a visit of `purpose`, or `None` when the
    /// status does not allow it.
    pub fn step(self, from: VisitStatus, purpose: Purpose) -> Option<ReviewStep> {
        use ReviewDecision as D;
        use ReviewLevel::{County, Town};
        use VisitStatus::{Approved, Closed, Confirmed, Rejected, Returned, Submitted};
        let approved = if purpose.needs_county_confirmation() {
            Approved
        } else {
            Closed
        };
        let (level, to, outcome) = match (self, from) {
            (D::Approve, Submitted) => (Town, approved, ReviewOutcome::Approve),
            (D::Return, Submitted) => (Town, Returned, ReviewOutcome::Return),
            (D::Reject, Submitted) => (Town, Rejected, ReviewOutcome::Reject),
            (D::Reject, Approved) => (County, Rejected, ReviewOutcome::Reject),
            (D::Confirm, Approved) => (County, Confirmed, ReviewOutcome::Confirm),
            (D::SendBack, Approved) => (County, Returned, ReviewOutcome::Return),
            _ => return None,
        };
        Some(ReviewStep { level, to, outcome })
    }
}

impl serde::Serialize for ReviewDecision {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.as_str())
    }
}

impl<'de> serde::Deserialize<'de> for ReviewDecision {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let code = String::deserialize(d)?;
        ReviewDecision::parse(&code).ok_or_else(|| {
            let codes: Vec<&str> = ReviewDecision::ALL.iter().map(|d| d.as_str()).collect();
            serde::de::Error::custom(format!(
                "unknown decision {code:?}, expected one of {}",
                codes.join(", ")
            ))
        })
    }
}

/// An investigator (调查人员), keyed by account id.
#[derive(Debug, Clone, PartialEq)]
pub struct Investigator {
    pub name: String,
}

/// What the visit found about an existing member of the household.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct MemberCheck {
    /// 在场
    pub present: bool,
    /// 核实 (identity and circumstances confirmed)
    pub confirmed: bool,
    /// 减员 (no longer part of the household)
    pub removed: bool,
    pub removal_reason: Option<String>,
    /// 未签字原因: why a member present did not sign.
    pub not_signed_reason: Option<String>,
    pub note: Option<String>,
}

/// A member found at the visit who is not in the household record yet (增员). Keyed by the
/// [`MemberId`] the member will keep in the household.
#[derive(Debug, Clone, PartialEq)]
pub struct AddedMember {
    pub name: String,
    /// 身份证号, masked and sealed to the server.
    pub identity: Option<SealedId>,
    pub relation: Relation,
    pub note: Option<String>,
}

/// Observed living conditions (吃穿住用).
#[derive(Debug, Clone, PartialEq, Default)]
pub struct LivingConditions {
    /// 吃
    pub food: Option<String>,
    /// 穿
    pub clothing: Option<String>,
    /// 住
    pub housing: Option<String>,
    /// 用
    pub daily_goods: Option<String>,
}

/// Income or an asset as declared and as seen at the visit.
#[derive(Debug, Clone, PartialEq)]
pub struct Comparison {
    pub subject: ComparisonSubject,
    pub description: String,
    pub declared_fen: Option<i64>,
    pub observed_fen: Option<i64>,
    pub note: Option<String>,
}

/// A signature (签字), an image blob keyed by its SHA-256.
#[derive(Debug, Clone, PartialEq)]
pub struct Signature {
    pub signer_name: String,
    pub role: SignerRole,
    /// The signer's account, for investigators and cadres.
    pub account: Option<AccountId>,
    /// The household member who signed, for family signatures.
    pub member: Option<MemberId>,
    pub signed_at: Option<UnixMillis>,
}

/// A reviewer's decision (审核意见), written by the server; the list only grows.
#[derive(Debug, Clone, PartialEq)]
pub struct Review {
    pub reviewer: AccountId,
    pub reviewer_name: String,
    pub decision: ReviewOutcome,
    pub comment: Option<String>,
    pub at: UnixMillis,
}

/// The content of a visit document (走访).
#[derive(Debug, Clone, PartialEq)]
pub struct Visit {
    pub household: DocumentId,
    pub purpose: Purpose,
    /// The discovery report (主动发现报告) a 主动发现核查 visit verifies.
    pub report: Option<DocumentId>,
    /// 申请救助类别: the programme an application's investigation (入户调查) is for.
    pub applied_for: Option<Programme>,
    pub started_at: Option<UnixMillis>,
    pub ended_at: Option<UnixMillis>,
    pub investigators: BTreeMap<AccountId, Investigator>,
    pub mode: VisitMode,
    /// The declared major emergency that allows a phone or video visit.
    pub emergency_reason: Option<String>,
    pub member_checks: BTreeMap<MemberId, MemberCheck>,
    pub members_added: BTreeMap<MemberId, AddedMember>,
    pub living: LivingConditions,
    pub comparisons: BTreeMap<EntryId, Comparison>,
    pub health_notes: Option<String>,
    pub disability_notes: Option<String>,
    pub work_capacity_notes: Option<String>,
    pub conclusion: Option<Conclusion>,
    pub conclusion_notes: Option<String>,
    pub signatures: BTreeMap<BlobHash, Signature>,
    pub photos: BTreeMap<BlobHash, Photo>,
    /// Where the visit took place (one fix per visit event).
    pub gps: Option<GeoPoint>,
    pub status: VisitStatus,
    pub submitted_at: Option<UnixMillis>,
    /// Append-only; written by the server.
    pub reviews: Vec<Review>,
    /// 公示 of an application: from the township's approval to its last day; server-written.
    pub notice_from: Option<NaiveDate>,
    pub notice_until: Option<NaiveDate>,
    /// 异议 raised during the 公示; append-only, server-written.
    pub objections: Vec<Objection>,
    /// 民主评议 held on objections; append-only, server-written.
    pub appraisals: Vec<Appraisal>,
    /// 申请受理: the application this investigation belongs to; written by the phone.
    pub application: Option<Application>,
    /// 延期: why the whole case may take the special limit (45 WD); server-written.
    pub extension: Option<Extension>,
    /// 县级入户核查: the county's own visits; append-only, server-written.
    pub county_visits: Vec<CountyVisit>,
}

/// An application as the township accepted it (受理, DB2021 art. 13–15): the anchor of the
/// case's clocks and the papers that come with it.
#[derive(Debug, Clone, PartialEq)]
pub struct Application {
    /// 受理日期 (China time).
    pub accepted_on: NaiveDate,
    pub channel: ApplicationChannel,
    /// 代办人: who applied on the household's behalf.
    pub proxy_name: Option<String>,
    /// 委托书: the photo of the power of attorney, a key of the visit's photos.
    pub authorisation: Option<BlobHash>,
    /// 诚信承诺书 signed.
    pub pledge_signed: bool,
    /// 家庭经济状况核对授权书 signed.
    pub data_check_authorised: bool,
    /// 近亲属备案: a member is a close relative of social-assistance staff or village cadres.
    pub kin_filing: bool,
}

/// The recorded reason a case may take the special whole-case limit (延期说明).
#[derive(Debug, Clone, PartialEq)]
pub struct Extension {
    pub reason: String,
    pub recorded_by: AccountId,
    pub at: UnixMillis,
}

/// The county's own visit to an applicant household (县级入户核查).
#[derive(Debug, Clone, PartialEq)]
pub struct CountyVisit {
    pub at: UnixMillis,
    pub visited_on: NaiveDate,
    /// Who visited (names).
    pub visitors: String,
    /// What the visit found.
    pub findings: String,
    pub recorded_by: AccountId,
}

/// An objection to an application raised during its 公示 (异议), recorded by a reviewer.
#[derive(Debug, Clone, PartialEq)]
pub struct Objection {
    pub at: UnixMillis,
    /// Who raised it (kept in the file, never published).
    pub objector: String,
    /// What the objection says.
    pub detail: String,
    pub recorded_by: AccountId,
}

/// A democratic appraisal (民主评议) held on the objections to an application.
#[derive(Debug, Clone, PartialEq)]
pub struct Appraisal {
    pub at: UnixMillis,
    pub held_on: NaiveDate,
    pub participants: i64,
    pub votes_for: i64,
    pub votes_against: i64,
    /// The photo of the signed record (民主评议记录), one of the visit's `photos`.
    pub record_photo: Option<BlobHash>,
    pub recorded_by: AccountId,
}

/// Why an application cannot be confirmed yet.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ConfirmationHold {
    /// The 公示 runs until this day, included.
    NoticeRunning { until: NaiveDate },
    /// An objection raised since the township's approval has had no 民主评议 after it: the
    /// application goes back for re-investigation, or an appraisal is recorded.
    ObjectionOpen,
    /// The county must visit the household itself first (县级入户核查): the case is in its
    /// spot check, or has a 近亲属备案.
    CountyVisitMissing,
}

impl Visit {
    /// The reviewers who put photo `h` into the visit through the server: the recorders of the
    /// appraisals whose signed record it is. (A phone's photos are its device's own.)
    pub fn photo_recorders<'a>(&'a self, h: &'a BlobHash) -> impl Iterator<Item = &'a AccountId> {
        self.appraisals
            .iter()
            .filter(move |a| a.record_photo.as_ref() == Some(h))
            .map(|a| &a.recorded_by)
    }

    /// A new draft visit in person, with nothing recorded yet.
    pub fn new(household: DocumentId, purpose: Purpose) -> Visit {
        Visit {
            household,
            purpose,
            report: None,
            applied_for: None,
            started_at: None,
            ended_at: None,
            investigators: BTreeMap::new(),
            mode: VisitMode::InPerson,
            emergency_reason: None,
            member_checks: BTreeMap::new(),
            members_added: BTreeMap::new(),
            living: LivingConditions::default(),
            comparisons: BTreeMap::new(),
            health_notes: None,
            disability_notes: None,
            work_capacity_notes: None,
            conclusion: None,
            conclusion_notes: None,
            signatures: BTreeMap::new(),
            photos: BTreeMap::new(),
            gps: None,
            status: VisitStatus::Draft,
            submitted_at: None,
            reviews: Vec::new(),
            notice_from: None,
            notice_until: None,
            objections: Vec::new(),
            appraisals: Vec::new(),
            application: None,
            extension: None,
            county_visits: Vec::new(),
        }
    }

    /// Where the application whose investigation this is stands on `today` (China); `None` for a
    /// visit of another purpose, which is no application. One function for the phone and the
    /// console: the statuses the review sets, the 公示 and its objections.
    pub fn case_stage(&self, today: NaiveDate) -> Option<CaseStage> {
        if !self.purpose.needs_county_confirmation() {
            return None;
        }
        Some(match self.status {
            VisitStatus::Draft | VisitStatus::Returned => CaseStage::Investigating,
            VisitStatus::Submitted => CaseStage::TownReview,
            VisitStatus::Approved => match self.confirmation_hold(today, false) {
                Some(ConfirmationHold::NoticeRunning { .. }) => CaseStage::Notice,
                Some(ConfirmationHold::ObjectionOpen) => CaseStage::Objection,
                Some(ConfirmationHold::CountyVisitMissing) | None => CaseStage::CountyReview,
            },
            VisitStatus::Confirmed => CaseStage::Approved,
            VisitStatus::Rejected => CaseStage::Refused,
            // The township's approval closes only visits that are no application.
            VisitStatus::Closed => return None,
        })
    }

    /// Whether the county must visit the household itself before confirming: a case in its
    /// spot-check sample (`sampled`), or one with a 近亲属备案 (DB2021 art. 20; TK2021).
    pub fn needs_county_visit(&self, sampled: bool) -> bool {
        sampled || self.application.as_ref().is_some_and(|a| a.kin_filing)
    }

    /// What holds the confirmation of this application on `today` (China): its 公示 not yet over,
    /// an objection raised since the township's last approval without a 民主评议 after it, or
    /// the county's own visit not yet recorded where it is needed (`sampled`: the case is in
    /// the county's spot check).
    pub fn confirmation_hold(&self, today: NaiveDate, sampled: bool) -> Option<ConfirmationHold> {
        if let Some(until) = self.notice_until.filter(|u| *u >= today) {
            return Some(ConfirmationHold::NoticeRunning { until });
        }
        let approved_at = self
            .reviews
            .iter()
            .filter(|r| r.decision == ReviewOutcome::Approve)
            .map(|r| r.at)
            .max();
        let open = approved_at.is_some_and(|approved_at| {
            self.objections
                .iter()
                .any(|o| o.at >= approved_at && self.appraisals.iter().all(|a| a.at < o.at))
        });
        if open {
            return Some(ConfirmationHold::ObjectionOpen);
        }
        (self.needs_county_visit(sampled) && self.county_visits.is_empty())
            .then_some(ConfirmationHold::CountyVisitMissing)
    }
}

fn read_investigator(m: &MapReader<'_>) -> Result<Investigator, DocError> {
    Ok(Investigator {
        name: m.req(key::investigator::NAME)?,
    })
}

fn write_investigator<T: Transactable>(
    v: &Investigator,
    m: &mut MapWriter<'_, T>,
) -> Result<(), DocError> {
    m.set(key::investigator::NAME, &v.name)
}

fn read_member_check(m: &MapReader<'_>) -> Result<MemberCheck, DocError> {
    use key::member_check as k;
    Ok(MemberCheck {
        present: m.req(k::PRESENT)?,
        confirmed: m.req(k::CONFIRMED)?,
        removed: m.req(k::REMOVED)?,
        removal_reason: m.opt(k::REMOVAL_REASON)?,
        not_signed_reason: m.opt(k::NOT_SIGNED_REASON)?,
        note: m.opt(k::NOTE)?,
    })
}

fn write_member_check<T: Transactable>(
    v: &MemberCheck,
    m: &mut MapWriter<'_, T>,
) -> Result<(), DocError> {
    use key::member_check as k;
    m.set(k::PRESENT, &v.present)?;
    m.set(k::CONFIRMED, &v.confirmed)?;
    m.set(k::REMOVED, &v.removed)?;
    m.set_opt(k::REMOVAL_REASON, v.removal_reason.as_ref())?;
    m.set_opt(k::NOT_SIGNED_REASON, v.not_signed_reason.as_ref())?;
    m.set_opt(k::NOTE, v.note.as_ref())
}

fn read_added(m: &MapReader<'_>) -> Result<AddedMember, DocError> {
    Ok(AddedMember {
        name: m.req(member_key::NAME)?,
        identity: sealed::read_opt(m, member_key::IDENTITY)?,
        relation: m.req(member_key::RELATION)?,
        note: m.opt(key::member_added::NOTE)?,
    })
}

fn write_added<T: Transactable>(v: &AddedMember, m: &mut MapWriter<'_, T>) -> Result<(), DocError> {
    m.set(member_key::NAME, &v.name)?;
    sealed::write_opt(v.identity.as_ref(), m, member_key::IDENTITY)?;
    m.set(member_key::RELATION, &v.relation)?;
    m.set_opt(key::member_added::NOTE, v.note.as_ref())
}

fn read_comparison(m: &MapReader<'_>) -> Result<Comparison, DocError> {
    use key::comparison as k;
    Ok(Comparison {
        subject: m.req(k::SUBJECT)?,
        description: m.req(k::DESCRIPTION)?,
        declared_fen: m.opt(k::DECLARED_FEN)?,
        observed_fen: m.opt(k::OBSERVED_FEN)?,
        note: m.opt(k::NOTE)?,
    })
}

fn write_comparison<T: Transactable>(
    v: &Comparison,
    m: &mut MapWriter<'_, T>,
) -> Result<(), DocError> {
    use key::comparison as k;
    m.set(k::SUBJECT, &v.subject)?;
    m.set(k::DESCRIPTION, &v.description)?;
    m.set_opt(k::DECLARED_FEN, v.declared_fen.as_ref())?;
    m.set_opt(k::OBSERVED_FEN, v.observed_fen.as_ref())?;
    m.set_opt(k::NOTE, v.note.as_ref())
}

fn read_signature(m: &MapReader<'_>) -> Result<Signature, DocError> {
    use key::signature as k;
    Ok(Signature {
        signer_name: m.req(k::SIGNER_NAME)?,
        role: m.req(k::ROLE)?,
        account: m.opt(k::ACCOUNT)?,
        member: m.opt(k::MEMBER)?,
        signed_at: m.opt(k::SIGNED_AT)?,
    })
}

fn write_signature<T: Transactable>(
    v: &Signature,
    m: &mut MapWriter<'_, T>,
) -> Result<(), DocError> {
    use key::signature as k;
    m.set(k::SIGNER_NAME, &v.signer_name)?;
    m.set(k::ROLE, &v.role)?;
    m.set_opt(k::ACCOUNT, v.account.as_ref())?;
    m.set_opt(k::MEMBER, v.member.as_ref())?;
    m.set_opt(k::SIGNED_AT, v.signed_at.as_ref())
}

fn read_objection(m: &MapReader<'_>) -> Result<Objection, DocError> {
    use key::objection as k;
    Ok(Objection {
        at: m.req(k::AT)?,
        objector: m.req(k::OBJECTOR)?,
        detail: m.req(k::DETAIL)?,
        recorded_by: m.req(k::RECORDED_BY)?,
    })
}

fn write_objection<T: Transactable>(
    v: &Objection,
    m: &mut MapWriter<'_, T>,
) -> Result<(), DocError> {
    use key::objection as k;
    m.set(k::AT, &v.at)?;
    m.set(k::OBJECTOR, &v.objector)?;
    m.set(k::DETAIL, &v.detail)?;
    m.set(k::RECORDED_BY, &v.recorded_by)
}

fn read_appraisal(m: &MapReader<'_>) -> Result<Appraisal, DocError> {
    use key::appraisal as k;
    Ok(Appraisal {
        at: m.req(k::AT)?,
        held_on: m.req(k::HELD_ON)?,
        participants: m.req(k::PARTICIPANTS)?,
        votes_for: m.req(k::VOTES_FOR)?,
        votes_against: m.req(k::VOTES_AGAINST)?,
        record_photo: m.opt(k::RECORD_PHOTO)?,
        recorded_by: m.req(k::RECORDED_BY)?,
    })
}

fn write_appraisal<T: Transactable>(
    v: &Appraisal,
    m: &mut MapWriter<'_, T>,
) -> Result<(), DocError> {
    use key::appraisal as k;
    m.set(k::AT, &v.at)?;
    m.set(k::HELD_ON, &v.held_on)?;
    m.set(k::PARTICIPANTS, &v.participants)?;
    m.set(k::VOTES_FOR, &v.votes_for)?;
    m.set(k::VOTES_AGAINST, &v.votes_against)?;
    m.set_opt(k::RECORD_PHOTO, v.record_photo.as_ref())?;
    m.set(k::RECORDED_BY, &v.recorded_by)
}

fn read_application(m: &MapReader<'_>) -> Result<Application, DocError> {
    use key::application as k;
    Ok(Application {
        accepted_on: m.req(k::ACCEPTED_ON)?,
        channel: m.req(k::CHANNEL)?,
        proxy_name: m.opt(k::PROXY_NAME)?,
        authorisation: m.opt(k::AUTHORISATION)?,
        pledge_signed: m.req(k::PLEDGE_SIGNED)?,
        data_check_authorised: m.req(k::DATA_CHECK_AUTHORISED)?,
        kin_filing: m.req(k::KIN_FILING)?,
    })
}

fn write_application<T: Transactable>(
    v: &Application,
    m: &mut MapWriter<'_, T>,
) -> Result<(), DocError> {
    use key::application as k;
    m.set(k::ACCEPTED_ON, &v.accepted_on)?;
    m.set(k::CHANNEL, &v.channel)?;
    m.set_opt(k::PROXY_NAME, v.proxy_name.as_ref())?;
    m.set_opt(k::AUTHORISATION, v.authorisation.as_ref())?;
    m.set(k::PLEDGE_SIGNED, &v.pledge_signed)?;
    m.set(k::DATA_CHECK_AUTHORISED, &v.data_check_authorised)?;
    m.set(k::KIN_FILING, &v.kin_filing)
}

fn read_extension(m: &MapReader<'_>) -> Result<Extension, DocError> {
    use key::extension as k;
    Ok(Extension {
        reason: m.req(k::REASON)?,
        recorded_by: m.req(k::RECORDED_BY)?,
        at: m.req(k::AT)?,
    })
}

fn write_extension<T: Transactable>(
    v: &Extension,
    m: &mut MapWriter<'_, T>,
) -> Result<(), DocError> {
    use key::extension as k;
    m.set(k::REASON, &v.reason)?;
    m.set(k::RECORDED_BY, &v.recorded_by)?;
    m.set(k::AT, &v.at)
}

fn read_county_visit(m: &MapReader<'_>) -> Result<CountyVisit, DocError> {
    use key::county_visit as k;
    Ok(CountyVisit {
        at: m.req(k::AT)?,
        visited_on: m.req(k::VISITED_ON)?,
        visitors: m.req(k::VISITORS)?,
        findings: m.req(k::FINDINGS)?,
        recorded_by: m.req(k::RECORDED_BY)?,
    })
}

fn write_county_visit<T: Transactable>(
    v: &CountyVisit,
    m: &mut MapWriter<'_, T>,
) -> Result<(), DocError> {
    use key::county_visit as k;
    m.set(k::AT, &v.at)?;
    m.set(k::VISITED_ON, &v.visited_on)?;
    m.set(k::VISITORS, &v.visitors)?;
    m.set(k::FINDINGS, &v.findings)?;
    m.set(k::RECORDED_BY, &v.recorded_by)
}

fn read_review(m: &MapReader<'_>) -> Result<Review, DocError> {
    use key::review as k;
    Ok(Review {
        reviewer: m.req(k::REVIEWER)?,
        reviewer_name: m.req(k::REVIEWER_NAME)?,
        decision: m.req(k::DECISION)?,
        comment: m.opt(k::COMMENT)?,
        at: m.req(k::AT)?,
    })
}

fn write_review<T: Transactable>(v: &Review, m: &mut MapWriter<'_, T>) -> Result<(), DocError> {
    use key::review as k;
    m.set(k::REVIEWER, &v.reviewer)?;
    m.set(k::REVIEWER_NAME, &v.reviewer_name)?;
    m.set(k::DECISION, &v.decision)?;
    m.set_opt(k::COMMENT, v.comment.as_ref())?;
    m.set(k::AT, &v.at)
}

impl DocumentContent for Visit {
    const KIND: DocumentKind = DocumentKind::Visit;

    fn read_from(c: &MapReader<'_>) -> Result<Self, DocError> {
        let living = c.map(key::LIVING)?;
        Ok(Visit {
            household: c.req(key::HOUSEHOLD)?,
            report: c.opt(key::REPORT)?,
            applied_for: c.opt(key::APPLIED_FOR)?,
            purpose: c.req(key::PURPOSE)?,
            started_at: c.opt(key::STARTED_AT)?,
            ended_at: c.opt(key::ENDED_AT)?,
            investigators: c.entries(key::INVESTIGATORS, read_investigator)?,
            mode: c.req(key::MODE)?,
            emergency_reason: c.opt(key::EMERGENCY_REASON)?,
            member_checks: c.entries(key::MEMBER_CHECKS, read_member_check)?,
            members_added: c.entries(key::MEMBERS_ADDED, read_added)?,
            living: LivingConditions {
                food: living.opt(key::living::FOOD)?,
                clothing: living.opt(key::living::CLOTHING)?,
                housing: living.opt(key::living::HOUSING)?,
                daily_goods: living.opt(key::living::DAILY_GOODS)?,
            },
            comparisons: c.entries(key::COMPARISONS, read_comparison)?,
            health_notes: c.opt(key::HEALTH_NOTES)?,
            disability_notes: c.opt(key::DISABILITY_NOTES)?,
            work_capacity_notes: c.opt(key::WORK_CAPACITY_NOTES)?,
            conclusion: c.opt(key::CONCLUSION)?,
            conclusion_notes: c.opt(key::CONCLUSION_NOTES)?,
            signatures: c.entries(key::SIGNATURES, read_signature)?,
            photos: c.entries(key::PHOTOS, Photo::read)?,
            gps: GeoPoint::read_opt(c, key::GPS)?,
            status: c.req(key::STATUS)?,
            submitted_at: c.opt(key::SUBMITTED_AT)?,
            reviews: c.list(key::REVIEWS, read_review)?,
            notice_from: c.opt(key::NOTICE_FROM)?,
            notice_until: c.opt(key::NOTICE_UNTIL)?,
            objections: c.opt_list(key::OBJECTIONS, read_objection)?,
            appraisals: c.opt_list(key::APPRAISALS, read_appraisal)?,
            application: c
                .opt_map(key::APPLICATION)?
                .map(|m| read_application(&m))
                .transpose()?,
            extension: c
                .opt_map(key::EXTENSION)?
                .map(|m| read_extension(&m))
                .transpose()?,
            county_visits: c.opt_list(key::COUNTY_VISITS, read_county_visit)?,
        })
    }

    fn write_to<T: Transactable>(&self, c: &mut MapWriter<'_, T>) -> Result<(), DocError> {
        c.set(key::HOUSEHOLD, &self.household)?;
        c.set_opt(key::REPORT, self.report.as_ref())?;
        c.set_opt(key::APPLIED_FOR, self.applied_for.as_ref())?;
        c.set(key::PURPOSE, &self.purpose)?;
        c.set_opt(key::STARTED_AT, self.started_at.as_ref())?;
        c.set_opt(key::ENDED_AT, self.ended_at.as_ref())?;
        c.entries(key::INVESTIGATORS, &self.investigators, write_investigator)?;
        c.set(key::MODE, &self.mode)?;
        c.set_opt(key::EMERGENCY_REASON, self.emergency_reason.as_ref())?;
        c.entries(key::MEMBER_CHECKS, &self.member_checks, write_member_check)?;
        c.entries(key::MEMBERS_ADDED, &self.members_added, write_added)?;
        {
            let mut living = c.map(key::LIVING)?;
            living.set_opt(key::living::FOOD, self.living.food.as_ref())?;
            living.set_opt(key::living::CLOTHING, self.living.clothing.as_ref())?;
            living.set_opt(key::living::HOUSING, self.living.housing.as_ref())?;
            living.set_opt(key::living::DAILY_GOODS, self.living.daily_goods.as_ref())?;
        }
        c.entries(key::COMPARISONS, &self.comparisons, write_comparison)?;
        c.set_opt(key::HEALTH_NOTES, self.health_notes.as_ref())?;
        c.set_opt(key::DISABILITY_NOTES, self.disability_notes.as_ref())?;
        c.set_opt(key::WORK_CAPACITY_NOTES, self.work_capacity_notes.as_ref())?;
        c.set_opt(key::CONCLUSION, self.conclusion.as_ref())?;
        c.set_opt(key::CONCLUSION_NOTES, self.conclusion_notes.as_ref())?;
        c.entries(key::SIGNATURES, &self.signatures, write_signature)?;
        c.entries(key::PHOTOS, &self.photos, Photo::write)?;
        GeoPoint::write_opt(self.gps.as_ref(), c, key::GPS)?;
        c.set(key::STATUS, &self.status)?;
        c.set_opt(key::SUBMITTED_AT, self.submitted_at.as_ref())?;
        c.append_only(key::REVIEWS, &self.reviews, write_review)?;
        c.set_opt(key::NOTICE_FROM, self.notice_from.as_ref())?;
        c.set_opt(key::NOTICE_UNTIL, self.notice_until.as_ref())?;
        // Created by the server with its first entry, never empty by a phone: two writers
        // creating the same list concurrently would keep only one of them.
        if !self.objections.is_empty() {
            c.append_only(key::OBJECTIONS, &self.objections, write_objection)?;
        }
        if !self.appraisals.is_empty() {
            c.append_only(key::APPRAISALS, &self.appraisals, write_appraisal)?;
        }
        // Never removed once recorded: a map edited field by field, so that two phones filling
        // it in offline merge.
        if let Some(a) = &self.application {
            write_application(a, &mut c.map(key::APPLICATION)?)?;
        }
        if let Some(e) = &self.extension {
            write_extension(e, &mut c.map(key::EXTENSION)?)?;
        }
        if !self.county_visits.is_empty() {
            c.append_only(key::COUNTY_VISITS, &self.county_visits, write_county_visit)?;
        }
        Ok(())
    }

    fn validate(&self, out: &mut Vec<Issue>) {
        match (
            self.purpose == Purpose::DiscoveryCheck,
            self.report.is_some(),
        ) {
            (true, false) => out.push(Issue::error(
                key::REPORT,
                "visit.report_required",
                "主动发现核查须注明所核实的报告",
                "a discovery check names the report it verifies",
            )),
            (false, true) => out.push(Issue::error(
                key::REPORT,
                "visit.report_unexpected",
                "只有主动发现核查可以关联报告",
                "only a discovery check names a report",
            )),
            _ => {}
        }
        match (
            self.purpose == Purpose::Investigation,
            self.applied_for.is_some(),
        ) {
            (false, true) => out.push(Issue::error(
                key::APPLIED_FOR,
                "visit.applied_for_unexpected",
                "只有入户调查可以注明申请救助类别",
                "only an application's investigation names the programme applied for",
            )),
            (true, false) if self.status != VisitStatus::Draft => out.push(Issue::new(
                key::APPLIED_FOR,
                Severity::Warning,
                "visit.applied_for_missing",
                "入户调查未注明申请救助类别，县级审批时须选定",
                "the investigation does not name the programme applied for; the county names it when deciding",
            )),
            _ => {}
        }
        self.validate_application(out);
        if self.mode != VisitMode::InPerson
            && self
                .emergency_reason
                .as_deref()
                .is_none_or(|r| r.trim().is_empty())
        {
            out.push(Issue::error(
                key::EMERGENCY_REASON,
                "visit.remote_needs_emergency",
                "电话或视频走访仅限重大突发事件，须注明原因",
                "a phone or video visit is allowed only in a declared major emergency, with the reason",
            ));
        }
        if let (Some(s), Some(e)) = (self.started_at, self.ended_at)
            && e < s
        {
            out.push(Issue::error(
                key::ENDED_AT,
                "visit.time_order",
                "结束时间早于开始时间",
                "the end time is before the start time",
            ));
        }
        for (id, check) in &self.member_checks {
            if check.removed && check.removal_reason.as_deref().is_none_or(str::is_empty) {
                out.push(Issue::error(
                    format!(
                        "{}.{id}.{}",
                        key::MEMBER_CHECKS,
                        key::member_check::REMOVAL_REASON
                    ),
                    "member.removed_reason_required",
                    "减员须注明原因",
                    "removing a member needs a reason",
                ));
            }
        }
        for (id, m) in &self.members_added {
            let path = format!("{}.{id}", key::MEMBERS_ADDED);
            person_checks(&path, &m.name, m.identity.as_ref(), None, None, out);
        }
        for (hash, sig) in &self.signatures {
            let Some(member) = &sig.member else {
                continue;
            };
            let known =
                self.member_checks.contains_key(member) || self.members_added.contains_key(member);
            if !known || sig.role != SignerRole::Family {
                out.push(Issue::error(
                    format!("{}.{hash}.{}", key::SIGNATURES, key::signature::MEMBER),
                    "visit.signer_unknown",
                    "签字成员须为本次核实或增员的家庭成员",
                    "the member who signed must be one checked or added at this visit",
                ));
            }
        }
        if let Some(gps) = &self.gps {
            gps.validate(key::GPS, out);
        }
        Photo::validate_all(&self.photos, key::PHOTOS, out);
        for (n, a) in self.appraisals.iter().enumerate() {
            if let Some(h) = &a.record_photo
                && !self.photos.contains_key(h)
            {
                out.push(Issue::error(
                    format!("{}[{n}].{}", key::APPRAISALS, key::appraisal::RECORD_PHOTO),
                    "visit.appraisal_photo_unknown",
                    "民主评议签字记录须为本次走访的照片之一",
                    "the signed record of the appraisal must be one of the visit's photos",
                ));
            }
        }
        if self.status != VisitStatus::Draft {
            self.validate_submitted(out);
        }
        let needs_review = matches!(
            self.status,
            VisitStatus::Returned
                | VisitStatus::Approved
                | VisitStatus::Rejected
                | VisitStatus::Confirmed
                | VisitStatus::Closed
        );
        if needs_review && self.reviews.is_empty() {
            out.push(Issue::error(
                key::REVIEWS,
                "visit.review_required",
                "审核状态须有审核意见",
                "a reviewed status needs a review decision",
            ));
        }
    }
}

impl Visit {
    /// Rules of the application record (受理, DB2021 art. 13–15).
    fn validate_application(&self, out: &mut Vec<Issue>) {
        use key::application as k;
        let path = |field: &str| format!("{}.{field}", key::APPLICATION);
        let investigation = self.purpose == Purpose::Investigation;
        let Some(a) = &self.application else {
            if investigation && self.status != VisitStatus::Draft {
                out.push(Issue::new(
                    key::APPLICATION,
                    Severity::Warning,
                    "visit.application_missing",
                    "入户调查未记录申请受理信息，办理时限从提交之日起算",
                    "the investigation records no accepted application; the case's clocks start at its submission",
                ));
            }
            return;
        };
        if !investigation {
            out.push(Issue::error(
                key::APPLICATION,
                "visit.application_unexpected",
                "只有入户调查可以记录申请受理",
                "only an application's investigation records the application",
            ));
        }
        if a.channel == ApplicationChannel::Proxy {
            if a.proxy_name.as_deref().is_none_or(|n| n.trim().is_empty()) {
                out.push(Issue::error(
                    path(k::PROXY_NAME),
                    "visit.proxy_incomplete",
                    "代办申请须填写代办人",
                    "an application made by proxy names who made it",
                ));
            }
            if a.authorisation.is_none() {
                out.push(Issue::error(
                    path(k::AUTHORISATION),
                    "visit.proxy_incomplete",
                    "代办申请须拍摄委托书",
                    "an application made by proxy needs a photo of the power of attorney",
                ));
            }
        }
        if let Some(h) = &a.authorisation
            && !self.photos.contains_key(h)
        {
            out.push(Issue::error(
                path(k::AUTHORISATION),
                "visit.authorisation_unknown",
                "委托书须为本次走访的照片之一",
                "the power of attorney must be one of the visit's photos",
            ));
        }
        if let Some(started) = self.started_at.and_then(|s| s.china_date())
            && a.accepted_on > started
        {
            out.push(Issue::error(
                path(k::ACCEPTED_ON),
                "visit.accepted_after_start",
                "受理日期不能晚于入户调查开始日期",
                "the application cannot be accepted after the investigation started",
            ));
        }
        if self.status != VisitStatus::Draft {
            if !a.pledge_signed {
                out.push(Issue::error(
                    path(k::PLEDGE_SIGNED),
                    "visit.pledge_required",
                    "提交前须由申请人签署诚信承诺书",
                    "the applicant signs the pledge before the visit is submitted",
                ));
            }
            if !a.data_check_authorised {
                out.push(Issue::error(
                    path(k::DATA_CHECK_AUTHORISED),
                    "visit.data_check_authorisation_required",
                    "提交前须签署家庭经济状况核对授权书",
                    "the household signs the data-check authorisation before the visit is submitted",
                ));
            }
        }
    }

    /// Rules for a visit that has left the draft state (DB2021 art. 16).
    fn validate_submitted(&self, out: &mut Vec<Issue>) {
        if self.investigators.len() < 2 {
            out.push(Issue::error(
                key::INVESTIGATORS,
                "visit.investigators_min",
                "入户调查须有至少两名调查人员",
                "a visit needs at least two investigators",
            ));
        }
        if self.started_at.is_none() {
            out.push(Issue::error(
                key::STARTED_AT,
                "visit.started_at_required",
                "请填写开始时间",
                "the start time is required",
            ));
        }
        if self.ended_at.is_none() {
            out.push(Issue::error(
                key::ENDED_AT,
                "visit.ended_at_required",
                "请填写结束时间",
                "the end time is required",
            ));
        }
        if self.conclusion.is_none() {
            out.push(Issue::error(
                key::CONCLUSION,
                "visit.conclusion_required",
                "请填写调查结论",
                "the conclusion is required",
            ));
        }
        for account in self.investigators.keys() {
            let signed = self
                .signatures
                .values()
                .any(|s| s.role == SignerRole::Investigator && s.account.as_ref() == Some(account));
            if !signed {
                out.push(Issue::error(
                    format!("{}.{account}", key::INVESTIGATORS),
                    "visit.investigator_signature_missing",
                    "调查人员尚未签字",
                    "this investigator has not signed",
                ));
            }
        }
        // DB2021 art. 16: the investigators and each family member present sign.
        for (id, check) in &self.member_checks {
            let unsigned = check.present
                && check
                    .not_signed_reason
                    .as_deref()
                    .is_none_or(|r| r.trim().is_empty())
                && !self
                    .signatures
                    .values()
                    .any(|s| s.role == SignerRole::Family && s.member.as_ref() == Some(id));
            if unsigned {
                out.push(Issue::error(
                    format!("{}.{id}", key::MEMBER_CHECKS),
                    "visit.family_signature_missing",
                    "在场家庭成员须本人签字；未签字的请注明原因",
                    "each family member present signs; for one who does not, record why",
                ));
            }
        }
        if !self.member_checks.values().any(|c| c.present) {
            out.push(Issue::new(
                key::MEMBER_CHECKS,
                Severity::Warning,
                "visit.no_member_present",
                "未记录在场的家庭成员",
                "no family member is recorded as present",
            ));
        }
    }
}
