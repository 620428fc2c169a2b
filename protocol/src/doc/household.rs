//! The household document (户): members, income, assets, rigid expenditure, legal supporters,
//! current programmes and the history of decisions. Long-lived and edited by many.

use std::collections::{BTreeMap, BTreeSet};

use automerge::transaction::Transactable;
use chrono::NaiveDate;

use super::DocumentContent;
use super::access::{DocError, Field, FieldError, MapReader, MapWriter, UnixMillis, join};
use super::format::Shape::{Entries, List, Record, Scalar, Set, ValueObject};
use super::format::code_enum;
use super::format::{
    ACCOUNT_ID, BLOB_HASH, BOOL, DATE, DOCUMENT_ID, ENTRY_ID, INT, Key as SchemaKey, KindSchema,
    MEMBER_ID, Rule, SEX, SMALL_INT, TEXT, TIMESTAMP,
};
use super::issue::{Issue, Severity};
use super::sealed::{self, identity_key};
use crate::id_number::Sex;
use crate::identity::SealedId;
use crate::ids::{AccountId, BlobHash, DocumentId, DocumentKind, EntryId, MemberId};

/// The keys of a household document's content. No other code spells them.
pub mod key {
    pub const ADDRESS: &str = "address";
    pub const HUKOU_TYPE: &str = "hukou_type";
    pub const REGISTERED_ADDRESS: &str = "registered_address";
    pub const PROGRAMMES: &str = "programmes";
    pub const MEMBERS: &str = "members";
    pub const SUPPORTERS: &str = "supporters";
    pub const INCOME: &str = "income";
    pub const ASSETS: &str = "assets";
    pub const EXPENDITURES: &str = "expenditures";
    pub const DECISIONS: &str = "decisions";

    pub mod member {
        pub const NAME: &str = "name";
        /// 身份证号, masked and sealed (`crate::doc::identity`).
        pub const IDENTITY: &str = "identity";
        pub const SEX: &str = "sex";
        pub const BIRTH_DATE: &str = "birth_date";
        pub const RELATION: &str = "relation";
        pub const CO_RESIDENT: &str = "co_resident";
        pub const NON_RESIDENT_REASON: &str = "non_resident_reason";
        pub const NON_RESIDENT_NOTE: &str = "non_resident_note";
        pub const HEALTH: &str = "health";
        pub const DISEASE: &str = "disease";
        pub const DISABILITY_KIND: &str = "disability_kind";
        pub const DISABILITY_GRADE: &str = "disability_grade";
        pub const WORK_CAPACITY: &str = "work_capacity";
        pub const SCHOOLING: &str = "schooling";
        pub const EMPLOYMENT: &str = "employment";
        pub const PHONE: &str = "phone";
        pub const REMOVED_AT: &str = "removed_at";
        pub const REMOVED_REASON: &str = "removed_reason";
        /// 生活自理能力评估 (特困, TK2021): append-only.
        pub const SELF_CARE_ASSESSMENTS: &str = "self_care_assessments";
        /// The day a change in the person's condition was reported (a re-assessment is due).
        pub const SELF_CARE_CHANGE_REPORTED_ON: &str = "self_care_change_reported_on";
        /// The 五有 checklist of a 分散供养 person.
        pub const CARE_PLAN: &str = "care_plan";
    }

    pub mod self_care {
        pub const ASSESSED_ON: &str = "assessed_on";
        pub const ASSESSOR: &str = "assessor";
        pub const NOT_MANAGED: &str = "not_managed";
    }

    pub mod care_plan {
        pub const AGREEMENT: &str = "agreement";
        pub const SERVICE_STANDARD: &str = "service_standard";
        pub const VISIT_PLAN: &str = "visit_plan";
        pub const EMERGENCY_CONTACT: &str = "emergency_contact";
        pub const REVIEW_ON: &str = "review_on";
    }

    pub mod care_agreement {
        pub const CAREGIVER: &str = "caregiver";
        pub const STARTS_ON: &str = "starts_on";
        pub const ENDS_ON: &str = "ends_on";
    }

    pub mod supporter {
        pub const NAME: &str = "name";
        pub const RELATION: &str = "relation";
        pub const IDENTITY: &str = "identity";
        pub const ABLE_TO_SUPPORT: &str = "able_to_support";
        pub const UNABLE_REASON: &str = "unable_reason";
        pub const SUPPORT_PAID_FEN: &str = "support_paid_fen";
        pub const SUPPORT_PAID_PERIOD: &str = "support_paid_period";
    }

    pub mod income {
        pub const MEMBER: &str = "member";
        pub const CLASS: &str = "class";
        pub const KIND: &str = "kind";
        pub const AMOUNT_FEN: &str = "amount_fen";
        pub const PERIOD: &str = "period";
        pub const EVIDENCE: &str = "evidence";
        pub const SOURCE: &str = "source";
    }

    pub mod asset {
        pub const KIND: &str = "kind";
        pub const OWNER: &str = "owner";
        pub const DESCRIPTION: &str = "description";
        pub const VALUE_FEN: &str = "value_fen";
        pub const EXEMPTION: &str = "exemption";
    }

    pub mod expenditure {
        pub const KIND: &str = "kind";
        pub const MEMBER: &str = "member";
        pub const DESCRIPTION: &str = "description";
        pub const AMOUNT_FEN: &str = "amount_fen";
        pub const INCURRED_ON: &str = "incurred_on";
        pub const RECEIPTS: &str = "receipts";
    }

    pub mod decision {
        pub const AT: &str = "at";
        pub const PROGRAMME: &str = "programme";
        pub const OUTCOME: &str = "outcome";
        pub const AMOUNT_FEN_PER_MONTH: &str = "amount_fen_per_month";
        pub const BY: &str = "by";
        pub const REFERENCE: &str = "reference";
        pub const NOTE: &str = "note";
        pub const EFFECTIVE_FROM: &str = "effective_from";
        pub const VISIT: &str = "visit";
        pub const HOUSEHOLD_SIZE: &str = "household_size";
        pub const NOTICE_DATE: &str = "notice_date";
        pub const MONTHS: &str = "months";
    }
}

/// The published schema of a household's content (docs/SCHEMA.md).
pub static SCHEMA: KindSchema = KindSchema {
    kind: DocumentKind::Household,
    about: "A household (户): members, income, assets, rigid expenditure, legal supporters, current programmes and the history of decisions. Long-lived and edited by many.",
    content: CONTENT,
    alternatives: &[],
    rules: RULES,
};

const NON_NEGATIVE: Option<f64> = Some(0.0);

const CONTENT: &[SchemaKey] = &[
    SchemaKey::req(key::ADDRESS, "居住地址", Scalar(&TEXT))
        .about("usual residence (居住地), where visits happen; not blank"),
    SchemaKey::opt(key::HUKOU_TYPE, "户籍类型", Scalar(&HukouType::FORMAT)),
    SchemaKey::opt(key::REGISTERED_ADDRESS, "户籍地", Scalar(&TEXT))
        .about("the registered address, when it differs from the usual residence"),
    SchemaKey::req(key::PROGRAMMES, "救助类别", Set(&Programme::FORMAT))
        .about("the programmes the household is in: changed only by decisions (DB2021 art. 28: no enrolment without acceptance, investigation and confirmation); a new household starts in none")
        .by_server(),
    SchemaKey::req(key::MEMBERS, "家庭成员", Entries(&MEMBER_ID, MEMBER)).about(
        "the members, keyed by member id. A member who leaves (death, marriage, moving out) is kept, with `removed_at` and `removed_reason`; deleting the entry is for members added by mistake",
    ),
    SchemaKey::req(key::SUPPORTERS, "赡养（抚养、扶养）义务人", Entries(&ENTRY_ID, SUPPORTER))
        .about("legal supporters living elsewhere"),
    SchemaKey::req(key::INCOME, "收入", Entries(&ENTRY_ID, INCOME)),
    SchemaKey::req(key::ASSETS, "家庭财产", Entries(&ENTRY_ID, ASSET)),
    SchemaKey::req(key::EXPENDITURES, "刚性支出", Entries(&ENTRY_ID, EXPENDITURE))
        .about("rigid expenditure, counted over 12 months"),
    SchemaKey::req(key::DECISIONS, "审批决定", List(DECISION))
        .about("decisions on the household's programmes, oldest first")
        .by_server(),
];

const MEMBER: &[SchemaKey] = {
    use key::member as k;
    &[
        SchemaKey::req(k::NAME, "姓名", Scalar(&TEXT)).about("not blank"),
        identity_key(k::IDENTITY, "身份证号").about(
            "masked and sealed to the server, replaced whole when it changes (never in clear: `sync.clear_id_number`); unique among the current members; `sex`, when recorded, must agree with it",
        ),
        SchemaKey::opt(k::SEX, "性别", Scalar(&SEX))
            .about("as recorded; with an `identity`, the sex its masked number gives"),
        SchemaKey::opt(k::BIRTH_DATE, "出生日期", Scalar(&DATE)).about(
            "as recorded, for people without an ID number only: with one, the birth date is the part of the number the masked form hides, and derives from the number where it is held (the server; the phones of grid workers and assistants)",
        ),
        SchemaKey::req(k::RELATION, "与户主关系", Scalar(&Relation::FORMAT))
            .about("one current member at most is `head`"),
        SchemaKey::req(k::CO_RESIDENT, "共同生活", Scalar(&BOOL))
            .about("counts as living with the household (共同生活) for its size"),
        SchemaKey::opt(
            k::NON_RESIDENT_REASON,
            "非共同生活原因",
            Scalar(&NonResidentReason::FORMAT),
        )
        .about("required when `co_resident` is false"),
        SchemaKey::opt(k::NON_RESIDENT_NOTE, "非共同生活说明", Scalar(&TEXT)),
        SchemaKey::opt(k::HEALTH, "健康状况", Scalar(&Health::FORMAT)),
        SchemaKey::opt(k::DISEASE, "所患疾病", Scalar(&TEXT)),
        SchemaKey::opt(k::DISABILITY_KIND, "残疾类别", Scalar(&DisabilityKind::FORMAT))
            .about("with `disability_grade`, or neither"),
        SchemaKey::opt(k::DISABILITY_GRADE, "残疾等级", Scalar(&SMALL_INT))
            .about("1 (most severe) to 4, with `disability_kind`")
            .range(Some(1.0), Some(4.0), "member.disability_grade_range"),
        SchemaKey::opt(k::WORK_CAPACITY, "劳动能力", Scalar(&WorkCapacity::FORMAT)),
        SchemaKey::opt(k::SCHOOLING, "在学情况", Scalar(&TEXT)),
        SchemaKey::opt(k::EMPLOYMENT, "就业情况", Scalar(&TEXT)),
        SchemaKey::opt(k::PHONE, "联系电话", Scalar(&TEXT)),
        SchemaKey::opt(k::REMOVED_AT, "减员时间", Scalar(&TIMESTAMP))
            .about("set when the member left the household"),
        SchemaKey::opt(k::REMOVED_REASON, "减员原因", Scalar(&TEXT))
            .about("not blank when `removed_at` is set"),
        SchemaKey::opt(k::SELF_CARE_ASSESSMENTS, "生活自理能力评估", List(SELF_CARE_ASSESSMENT))
            .about("特困 self-care assessments (TK2021), oldest first; only appended to. The tier (具备、部分丧失、完全丧失生活自理能力) is derived from the number of activities not managed, never stored"),
        SchemaKey::opt(
            k::SELF_CARE_CHANGE_REPORTED_ON,
            "自理状况变化报告日期",
            Scalar(&DATE),
        )
        .about("the day a change in the person's condition was reported: a re-assessment is due within the region's `self_care_reassessment_wd` working days unless an assessment is dated on or after it"),
        SchemaKey::opt(k::CARE_PLAN, "五有照料清单", Record(CARE_PLAN))
            .about("the 五有 checklist of a 分散供养 (tekun_dispersed) person; each item optional, a missing one is listed to reviewers"),
    ]
};

const SELF_CARE_ASSESSMENT: &[SchemaKey] = {
    use key::self_care as k;
    &[
        SchemaKey::req(k::ASSESSED_ON, "评估日期", Scalar(&DATE)),
        SchemaKey::req(k::ASSESSOR, "评估人", Scalar(&TEXT)).about("not blank"),
        SchemaKey::req(k::NOT_MANAGED, "不能自理的项目", Set(&DailyActivity::FORMAT)).about(
            "the daily activities the person cannot manage: 0 = 具备生活自理能力, 1–3 = 部分丧失, 4 or more = 完全丧失",
        ),
    ]
};

const CARE_PLAN: &[SchemaKey] = {
    use key::care_plan as k;
    &[
        SchemaKey::opt(k::AGREEMENT, "照料服务协议", ValueObject(CARE_AGREEMENT))
            .about("the care agreement; replaced whole when it changes"),
        SchemaKey::opt(k::SERVICE_STANDARD, "照料服务标准", Scalar(&TEXT))
            .about("the agreed service standard, as text; not blank when present"),
        SchemaKey::opt(k::VISIT_PLAN, "探访计划", Scalar(&VisitPlan::FORMAT)),
        SchemaKey::opt(k::EMERGENCY_CONTACT, "应急预案/紧急联系人", Scalar(&TEXT))
            .about("the emergency plan or the emergency contact (name and telephone); not blank when present"),
        SchemaKey::opt(k::REVIEW_ON, "动态管理复核日期", Scalar(&DATE))
            .about("the next yearly re-check date (动态管理)"),
    ]
};

const CARE_AGREEMENT: &[SchemaKey] = {
    use key::care_agreement as k;
    &[
        SchemaKey::req(k::CAREGIVER, "照料人", Scalar(&TEXT)).about("not blank"),
        SchemaKey::req(k::STARTS_ON, "协议起始日期", Scalar(&DATE)),
        SchemaKey::req(k::ENDS_ON, "协议终止日期", Scalar(&DATE))
            .about("not before `starts_on`; typically a year after it"),
    ]
};

const SUPPORTER: &[SchemaKey] = {
    use key::supporter as k;
    &[
        SchemaKey::req(k::NAME, "姓名", Scalar(&TEXT)),
        SchemaKey::req(k::RELATION, "关系", Scalar(&TEXT))
            .about("relation to the household, free text, e.g. 长子"),
        identity_key(k::IDENTITY, "身份证号"),
        SchemaKey::opt(k::ABLE_TO_SUPPORT, "有赡养能力", Scalar(&BOOL)),
        SchemaKey::opt(k::UNABLE_REASON, "无赡养能力原因", Scalar(&TEXT))
            .about("not blank when `able_to_support` is false"),
        SchemaKey::opt(k::SUPPORT_PAID_FEN, "实际给付（分）", Scalar(&INT))
            .about("support actually paid, in fen; with `support_paid_period`")
            .range(NON_NEGATIVE, None, "money.negative"),
        SchemaKey::opt(k::SUPPORT_PAID_PERIOD, "给付周期", Scalar(&Period::FORMAT))
            .about("with `support_paid_fen`"),
    ]
};

const INCOME: &[SchemaKey] = {
    use key::income as k;
    &[
        SchemaKey::opt(k::MEMBER, "收入成员", Scalar(&MEMBER_ID)).about(
            "the member who earns it (a key of `members`); absent for the household as a whole",
        ),
        SchemaKey::req(k::CLASS, "收入类别", Scalar(&IncomeClass::FORMAT)),
        SchemaKey::req(k::KIND, "收入项目", Scalar(&TEXT)).about(
            "a type code: one of the national list (`general`, `preferential_treatment`, `family_planning_reward`, `scholarship`, `bravery_award`, `social_assistance`, `basic_pension_central`, `old_age_allowance`, `medical_insurance`, `support_received`, `support_paid`) or a code the region's policy defines (`local_income_kinds`); 1 to 64 characters without spaces. Whether the item counts is the rules' to say from this code (docs/RULES.md), never the phone's",
        ),
        SchemaKey::req(k::AMOUNT_FEN, "金额（分）", Scalar(&INT))
            .about("in fen, per `period`")
            .range(NON_NEGATIVE, None, "money.negative"),
        SchemaKey::req(k::PERIOD, "周期", Scalar(&Period::FORMAT)),
        SchemaKey::opt(k::EVIDENCE, "佐证材料", Scalar(&TEXT))
            .about("what supports the figure: payslip, bank statement, a neighbour's account..."),
        SchemaKey::req(k::SOURCE, "数据来源", Scalar(&IncomeSource::FORMAT)),
    ]
};

const ASSET: &[SchemaKey] = {
    use key::asset as k;
    &[
        SchemaKey::req(k::KIND, "财产类别", Scalar(&AssetKind::FORMAT)),
        SchemaKey::opt(k::OWNER, "所有人", Scalar(&MEMBER_ID)).about("a key of `members`"),
        SchemaKey::opt(k::DESCRIPTION, "说明", Scalar(&TEXT)),
        SchemaKey::req(k::VALUE_FEN, "价值（分）", Scalar(&INT))
            .about("in fen")
            .range(NON_NEGATIVE, None, "money.negative"),
        SchemaKey::opt(k::EXEMPTION, "豁免理由", Scalar(&TEXT)).about(
            "why the asset is exempt from the asset test, if it is (e.g. a disabled person's vehicle)",
        ),
    ]
};

const EXPENDITURE: &[SchemaKey] = {
    use key::expenditure as k;
    &[
        SchemaKey::req(k::KIND, "支出类别", Scalar(&ExpenditureKind::FORMAT)),
        SchemaKey::opt(k::MEMBER, "支出成员", Scalar(&MEMBER_ID)).about("a key of `members`"),
        SchemaKey::opt(k::DESCRIPTION, "说明", Scalar(&TEXT)),
        SchemaKey::req(k::AMOUNT_FEN, "金额（分）", Scalar(&INT))
            .about("in fen")
            .range(NON_NEGATIVE, None, "money.negative"),
        SchemaKey::opt(k::INCURRED_ON, "发生日期", Scalar(&DATE)),
        SchemaKey::req(k::RECEIPTS, "票据", Set(&BLOB_HASH))
            .about("the receipts' images, as blobs"),
    ]
};

const DECISION: &[SchemaKey] = {
    use key::decision as k;
    &[
        SchemaKey::req(k::AT, "决定时间", Scalar(&TIMESTAMP)),
        SchemaKey::opt(k::PROGRAMME, "救助类别", Scalar(&Programme::FORMAT)),
        SchemaKey::req(k::OUTCOME, "决定", Scalar(&DecisionOutcome::FORMAT)),
        SchemaKey::opt(k::AMOUNT_FEN_PER_MONTH, "月保障金额（分）", Scalar(&INT))
            .about("in fen per month")
            .range(NON_NEGATIVE, None, "money.negative"),
        SchemaKey::req(k::BY, "决定人", Scalar(&ACCOUNT_ID)),
        SchemaKey::opt(k::REFERENCE, "文号", Scalar(&TEXT)),
        SchemaKey::opt(k::NOTE, "备注", Scalar(&TEXT))
            .about("for a refusal (不予批准): the reasons given to the applicant in writing"),
        SchemaKey::opt(k::EFFECTIVE_FROM, "起始发放日期", Scalar(&DATE)).about(
            "an approval or change pays from this day: the first day of the month after the decision",
        ),
        SchemaKey::opt(k::VISIT, "依据的入户调查", Scalar(&DOCUMENT_ID))
            .about("the investigation (a visit of this household) the decision rests on"),
        SchemaKey::opt(k::HOUSEHOLD_SIZE, "保障人数", Scalar(&SMALL_INT))
            .about("the household members the decision covers, as published (公布)"),
        SchemaKey::opt(k::NOTICE_DATE, "书面告知日期", Scalar(&DATE))
            .about("a refusal: the day the written notice with the reasons is issued"),
        SchemaKey::opt(k::MONTHS, "渐退月数", Scalar(&SMALL_INT)).about(
            "a phase-out (`phase_out`): the months the benefit continues from `effective_from`, within the region's `phase_out_min_months` and `phase_out_max_months`",
        ),
    ]
};

const SEALED_RULES: [Rule; 2] = sealed::sealed_rules(&[
    "members.<member_id>.identity",
    "supporters.<entry_id>.identity",
]);

const RULES: &[Rule] = &[
    Rule {
        code: "household.address_required",
        severity: Severity::Error,
        paths: &["address"],
        when: "`address` is blank",
    },
    Rule {
        code: "person.name_required",
        severity: Severity::Error,
        paths: &["members.<member_id>.name"],
        when: "a member's `name` is blank",
    },
    Rule {
        code: "id_number.sex_mismatch",
        severity: Severity::Error,
        paths: &["members.<member_id>.sex"],
        when: "`sex` differs from the sex the `identity`'s masked number gives (its 17th character: odd for men)",
    },
    Rule {
        code: "id_number.birth_date_recorded",
        severity: Severity::Error,
        paths: &["members.<member_id>.birth_date"],
        when: "`birth_date` is recorded for a member with an `identity` (with the masked form it would give the whole number)",
    },
    SEALED_RULES[0],
    SEALED_RULES[1],
    Rule {
        code: "member.non_resident_reason_required",
        severity: Severity::Error,
        paths: &["members.<member_id>.non_resident_reason"],
        when: "`co_resident` is false without a `non_resident_reason`",
    },
    Rule {
        code: "member.disability_grade_range",
        severity: Severity::Error,
        paths: &["members.<member_id>.disability_grade"],
        when: "`disability_grade` is not 1 to 4",
    },
    Rule {
        code: "member.disability_incomplete",
        severity: Severity::Error,
        paths: &["members.<member_id>.disability_kind"],
        when: "one of `disability_kind` and `disability_grade` without the other",
    },
    Rule {
        code: "member.removed_reason_required",
        severity: Severity::Error,
        paths: &["members.<member_id>.removed_reason"],
        when: "`removed_at` is set and `removed_reason` is absent or empty",
    },
    Rule {
        code: "member.duplicate_id_number",
        severity: Severity::Error,
        paths: &["members.<member_id>.identity"],
        when: "two current members (neither `removed_at` nor `removed_reason` set) have the same number (checked by the server, which opens the sealed numbers)",
    },
    Rule {
        code: "self_care.assessor_required",
        severity: Severity::Error,
        paths: &["members.<member_id>.self_care_assessments[<n>].assessor"],
        when: "an assessment's `assessor` is blank",
    },
    Rule {
        code: "care_plan.agreement_dates",
        severity: Severity::Error,
        paths: &["members.<member_id>.care_plan.agreement.ends_on"],
        when: "the care agreement's `ends_on` is before its `starts_on`",
    },
    Rule {
        code: "care_plan.caregiver_required",
        severity: Severity::Error,
        paths: &["members.<member_id>.care_plan.agreement.caregiver"],
        when: "the care agreement's `caregiver` is blank",
    },
    Rule {
        code: "care_plan.text_required",
        severity: Severity::Error,
        paths: &[
            "members.<member_id>.care_plan.service_standard",
            "members.<member_id>.care_plan.emergency_contact",
        ],
        when: "`service_standard` or `emergency_contact` is present but blank",
    },
    Rule {
        code: "household.multiple_heads",
        severity: Severity::Error,
        paths: &["members"],
        when: "more than one current member has `relation` `head`",
    },
    Rule {
        code: "household.no_head",
        severity: Severity::Warning,
        paths: &["members"],
        when: "there are members but no current one has `relation` `head`",
    },
    Rule {
        code: "supporter.unable_reason_required",
        severity: Severity::Error,
        paths: &["supporters.<entry_id>.unable_reason"],
        when: "`able_to_support` is false and `unable_reason` is absent or empty",
    },
    Rule {
        code: "amount.period_required",
        severity: Severity::Error,
        paths: &["supporters.<entry_id>.support_paid_period"],
        when: "one of `support_paid_fen` and `support_paid_period` without the other",
    },
    Rule {
        code: "money.negative",
        severity: Severity::Error,
        paths: &[
            "supporters.<entry_id>.support_paid_fen",
            "income.<entry_id>.amount_fen",
            "assets.<entry_id>.value_fen",
            "expenditures.<entry_id>.amount_fen",
            "decisions[<n>].amount_fen_per_month",
        ],
        when: "an amount is below 0",
    },
    Rule {
        code: "member.unknown",
        severity: Severity::Error,
        paths: &[
            "income.<entry_id>.member",
            "assets.<entry_id>.owner",
            "expenditures.<entry_id>.member",
        ],
        when: "the member id is not a key of `members`",
    },
    Rule {
        code: "income.kind_invalid",
        severity: Severity::Error,
        paths: &["income.<entry_id>.kind"],
        when: "`kind` is empty, longer than 64 characters, or holds spaces or control characters",
    },
];

code_enum! {
    /// 户籍 type.
    pub enum HukouType {
        /// 农村
        Rural = ("rural", "农村"),
        /// 城镇
        Urban = ("urban", "城镇"),
    }
}

code_enum! {
    /// A programme a household (or one of its members) is in.
    pub enum Programme {
        /// 低保 (最低生活保障)
        Dibao = ("dibao", "低保"),
        /// 特困 分散供养 (cared for at home)
        TekunDispersed = ("tekun_dispersed", "特困分散供养"),
        /// 特困 集中供养 (cared for in an institution)
        TekunCentralized = ("tekun_centralized", "特困集中供养"),
        /// 低保边缘家庭
        NearDibao = ("near_dibao", "低保边缘"),
        /// 刚性支出困难家庭
        RigidExpenditure = ("rigid_expenditure", "刚性支出困难"),
        /// 临时救助
        TemporaryAssistance = ("temporary_assistance", "临时救助"),
        /// 监测对象 (dynamic monitoring of the low-income population)
        Monitored = ("monitored", "监测对象"),
    }
}

code_enum! {
    /// Relation of a member to the head of the household (与户主关系).
    pub enum Relation {
        /// 户主
        Head = ("head", "户主"),
        /// 配偶
        Spouse = ("spouse", "配偶"),
        /// 子女
        Child = ("child", "子女"),
        /// 儿媳 / 女婿
        ChildInLaw = ("child_in_law", "儿媳女婿"),
        /// 父母
        Parent = ("parent", "父母"),
        /// 孙子女
        Grandchild = ("grandchild", "孙子女"),
        /// 祖父母
        Grandparent = ("grandparent", "祖父母"),
        /// 兄弟姐妹
        Sibling = ("sibling", "兄弟姐妹"),
        /// 其他
        Other = ("other", "其他"),
    }
}

code_enum! {
    /// Why a registered member does not count as co-resident (DB2021 art. 7).
    pub enum NonResidentReason {
        /// 服刑
        Imprisoned = ("imprisoned", "服刑"),
        /// 强制隔离戒毒
        CompulsoryRehab = ("compulsory_rehab", "强制隔离戒毒"),
        /// 宣告失踪
        Missing = ("missing", "失踪"),
        /// 宗教教职人员 away for 3 years or more
        Clergy = ("clergy", "宗教教职人员"),
        /// 其他 (explained in the note)
        Other = ("other", "其他"),
    }
}

code_enum! {
    /// Health (健康状况).
    pub enum Health {
        /// 健康
        Healthy = ("healthy", "健康"),
        /// 一般或较弱
        Fair = ("fair", "一般或较弱"),
        /// 重病
        SeriouslyIll = ("seriously_ill", "重病"),
        /// 重残
        SeverelyDisabled = ("severely_disabled", "重残"),
    }
}

code_enum! {
    /// Type on the disability card (残疾人证类别).
    pub enum DisabilityKind {
        /// 视力残疾
        Visual = ("visual", "视力残疾"),
        /// 听力残疾
        Hearing = ("hearing", "听力残疾"),
        /// 言语残疾
        Speech = ("speech", "言语残疾"),
        /// 肢体残疾
        Physical = ("physical", "肢体残疾"),
        /// 智力残疾
        Intellectual = ("intellectual", "智力残疾"),
        /// 精神残疾
        Mental = ("mental", "精神残疾"),
        /// 多重残疾
        Multiple = ("multiple", "多重残疾"),
    }
}

code_enum! {
    /// Work capacity (劳动能力).
    pub enum WorkCapacity {
        /// 有劳动能力
        Able = ("able", "有劳动能力"),
        /// 部分丧失劳动能力
        PartlyLost = ("partly_lost", "部分丧失劳动能力"),
        /// 完全丧失劳动能力
        FullyLost = ("fully_lost", "完全丧失劳动能力"),
    }
}

code_enum! {
    /// A daily activity of the 特困 self-care assessment (生活自理能力评估, TK2021).
    pub enum DailyActivity {
        /// 吃饭
        Eating = ("eating", "吃饭"),
        /// 穿衣
        Dressing = ("dressing", "穿衣"),
        /// 上下床
        Transferring = ("transferring", "上下床"),
        /// 如厕
        Toileting = ("toileting", "如厕"),
        /// 室内行走
        WalkingIndoors = ("walking_indoors", "室内行走"),
        /// 洗澡
        Bathing = ("bathing", "洗澡"),
    }
}

code_enum! {
    /// How often a 分散供养 person is visited under the care plan (探访计划).
    pub enum VisitPlan {
        /// 每月探访
        Monthly = ("monthly", "每月探访"),
        /// 每周探访 (high risk)
        Weekly = ("weekly", "每周探访"),
    }
}

code_enum! {
    /// An item of the 五有 checklist of a 分散供养 person.
    pub enum CarePlanItem {
        /// 照料服务协议
        Agreement = ("agreement", "照料服务协议"),
        /// 照料服务标准
        ServiceStandard = ("service_standard", "照料服务标准"),
        /// 探访计划
        VisitPlan = ("visit_plan", "探访计划"),
        /// 应急预案/紧急联系人
        EmergencyContact = ("emergency_contact", "应急预案/紧急联系人"),
        /// 动态管理复核日期
        ReviewDate = ("review_on", "动态管理复核日期"),
    }
}

code_enum! {
    /// The period an amount refers to.
    pub enum Period {
        /// 每月
        Month = ("month", "每月"),
        /// 每季度
        Quarter = ("quarter", "每季度"),
        /// 每年
        Year = ("year", "每年"),
        /// 一次性
        Once = ("once", "一次性"),
    }
}

code_enum! {
    /// Class of income (收入类别, DB2021 art. 13).
    pub enum IncomeClass {
        /// 工资性收入
        Wages = ("wages", "工资性收入"),
        /// 经营净收入
        Business = ("business", "经营净收入"),
        /// 财产净收入
        Property = ("property", "财产净收入"),
        /// 转移净收入
        Transfer = ("transfer", "转移净收入"),
        /// 其他收入
        Other = ("other", "其他收入"),
    }
}

code_enum! {
    /// Where an income figure comes from.
    pub enum IncomeSource {
        /// 本人申报
        Declared = ("declared", "申报"),
        /// 入户核实
        Observed = ("observed", "入户核实"),
        /// 信息核对
        DataCheck = ("data_check", "信息核对"),
    }
}

/// The type of an income item (收入项目), which decides under the rules whether it counts
/// (DB2021 art. 13, TK2021 art. 6; docs/RULES.md).
///
/// Stored as a code string: one of the national list below, or any other code, which is then a
/// [`IncomeKind::Local`] type that a region defines (`local_income_kinds`) and may exclude
/// (`local_excluded_income_kinds`).
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum IncomeKind {
    /// An ordinary item (`general`): counted.
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
    /// 城乡居民基本养老保险基础养老金（中央确定部分） (`basic_pension_central`): excluded in the
    /// 14th Five-Year Plan (2021–2025); a region may decide otherwise.
    BasicPensionCentral,
    /// 高龄津贴 (`old_age_allowance`): excluded for 特困 (TK2021 art. 6).
    OldAgeAllowance,
    /// 基本医疗保险等医疗保障 (`medical_insurance`): excluded for 特困 (TK2021 art. 6).
    MedicalInsurance,
    /// 赡养费 / 抚养费 / 扶养费 received (`support_received`): a counted transfer.
    SupportReceived,
    /// 赡养费 / 抚养费 / 扶养费 a member pays to someone outside the household
    /// (`support_paid`): deducted from transfer income (转移净收入).
    SupportPaid,
    /// A code the region defines.
    Local(String),
}

/// The national income types: code, Chinese and English name.
const INCOME_KINDS: [(IncomeKind, &str, &str, &str); 11] = [
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
        "基础养老金（中央确定部分）",
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
        "收到的赡养（抚养、扶养）费",
        "support received",
    ),
    (
        IncomeKind::SupportPaid,
        "support_paid",
        "支付的赡养（抚养、扶养）费",
        "support paid",
    ),
];

impl IncomeKind {
    /// The national types, in the order of the national list.
    pub fn national() -> impl Iterator<Item = IncomeKind> {
        INCOME_KINDS.iter().map(|(k, ..)| k.clone())
    }

    /// The code of this type.
    pub fn code(&self) -> &str {
        match self {
            IncomeKind::Local(c) => c,
            known => INCOME_KINDS
                .iter()
                .find(|(k, ..)| k == known)
                .map_or("", |(_, c, ..)| c),
        }
    }

    /// The type with this code (a local type if the code is not a national one).
    pub fn from_code(code: &str) -> IncomeKind {
        INCOME_KINDS
            .iter()
            .find(|(_, c, ..)| *c == code)
            .map_or_else(|| IncomeKind::Local(code.to_owned()), |(k, ..)| k.clone())
    }

    /// Whether `code` may name a type: 1 to 64 characters, no whitespace or control characters.
    pub fn is_valid_code(code: &str) -> bool {
        (1..=64).contains(&code.chars().count())
            && !code.chars().any(|c| c.is_whitespace() || c.is_control())
    }

    /// Whether this is one of the national types.
    pub fn is_national(&self) -> bool {
        !matches!(self, IncomeKind::Local(_))
    }

    /// The Chinese and English names of a national type; `None` for a local one (its name is
    /// the region's, `local_income_kinds`).
    pub fn national_labels(&self) -> Option<(&'static str, &'static str)> {
        INCOME_KINDS
            .iter()
            .find(|(k, ..)| k == self)
            .map(|(_, _, zh, en)| (*zh, *en))
    }
}

impl std::fmt::Display for IncomeKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.code())
    }
}

impl Field for IncomeKind {
    const EXPECTED: &'static str = "an income type code";
    fn to_scalar(&self) -> automerge::ScalarValue {
        automerge::ScalarValue::Str(self.code().into())
    }
    /// Any string reads (a code of an older version, or free text written before codes): the
    /// document's validation says when it is not a usable code.
    fn from_scalar(v: &automerge::ScalarValue) -> Result<Self, FieldError> {
        match v {
            automerge::ScalarValue::Str(s) => Ok(IncomeKind::from_code(s)),
            _ => Err(FieldError::WrongType),
        }
    }
}

code_enum! {
    /// Kind of asset (家庭财产).
    pub enum AssetKind {
        /// 存款
        Deposit = ("deposit", "存款"),
        /// 有价证券
        Securities = ("securities", "有价证券"),
        /// 商业保险
        Insurance = ("insurance", "商业保险"),
        /// 机动车辆
        Vehicle = ("vehicle", "机动车辆"),
        /// 房产
        Dwelling = ("dwelling", "房产"),
        /// 工商登记 (a registered business)
        Business = ("business", "工商登记"),
        /// 其他
        Other = ("other", "其他"),
    }
}

code_enum! {
    /// Kind of rigid expenditure (刚性支出).
    pub enum ExpenditureKind {
        /// 医疗 (out of pocket after insurance)
        Medical = ("medical", "医疗"),
        /// 教育 (at public-school rates)
        Education = ("education", "教育"),
        /// 残疾康复
        Rehabilitation = ("rehabilitation", "残疾康复"),
        /// 其他
        Other = ("other", "其他"),
    }
}

code_enum! {
    /// Outcome of a decision on a programme.
    pub enum DecisionOutcome {
        /// 批准
        Approved = ("approved", "批准"),
        /// 不予批准
        Refused = ("refused", "不予批准"),
        /// 变更 (amount or members)
        Changed = ("changed", "变更"),
        /// 暂停
        Suspended = ("suspended", "暂停"),
        /// 渐退 (phase-out: the benefit continues `months` months after income rose through
        /// work, DD2022), then ends
        PhaseOut = ("phase_out", "渐退"),
        /// 终止
        Terminated = ("terminated", "终止"),
    }
}

impl DecisionOutcome {
    /// What a decision of this outcome does to the household's enrolment in its programme:
    /// `Some(true)` puts it in (an approval, a change), `Some(false)` takes it out (a
    /// termination), `None` leaves it (a refusal, a suspension, a phase-out, which is paid on
    /// until it ends). The one rule behind [`Household::record_decision`] and every count of
    /// households in a programme on a past day.
    pub fn enrols(self) -> Option<bool> {
        match self {
            DecisionOutcome::Approved | DecisionOutcome::Changed => Some(true),
            DecisionOutcome::Terminated => Some(false),
            DecisionOutcome::Refused | DecisionOutcome::Suspended | DecisionOutcome::PhaseOut => {
                None
            }
        }
    }
}

/// A household member (家庭成员), keyed by a stable [`MemberId`].
///
/// A member who leaves the household (death, marriage, moving out) is marked removed with a
/// reason rather than deleted: the record stays, and a concurrent edit of the member by another
/// phone is kept too. Deleting a member entry outright is for entries created by mistake; a
/// deletion concurrent with an edit of the same member removes the member (the edit is kept in the
/// history but no longer visible).
#[derive(Debug, Clone, PartialEq)]
pub struct Member {
    pub name: String,
    /// 身份证号, masked and sealed to the server (never in clear).
    pub identity: Option<SealedId>,
    /// As recorded; must agree with the ID number if both.
    pub sex: Option<Sex>,
    /// As recorded, for people without an ID number only (with one, the birth date is what the
    /// masked form hides).
    pub birth_date: Option<NaiveDate>,
    pub relation: Relation,
    /// Counts as co-resident (共同生活) for household size.
    pub co_resident: bool,
    pub non_resident_reason: Option<NonResidentReason>,
    pub non_resident_note: Option<String>,
    pub health: Option<Health>,
    pub disease: Option<String>,
    pub disability_kind: Option<DisabilityKind>,
    /// 1 (most severe) to 4.
    pub disability_grade: Option<u8>,
    pub work_capacity: Option<WorkCapacity>,
    /// 在学情况
    pub schooling: Option<String>,
    /// 就业情况
    pub employment: Option<String>,
    pub phone: Option<String>,
    pub removed_at: Option<UnixMillis>,
    pub removed_reason: Option<String>,
    /// 特困 self-care assessments, oldest first; append-only.
    pub self_care_assessments: Vec<SelfCareAssessment>,
    /// The day a change in the person's condition was reported (自理状况变化).
    pub self_care_change_reported_on: Option<NaiveDate>,
    /// The 五有 checklist of a 分散供养 person.
    pub care_plan: Option<CarePlan>,
}

impl Member {
    /// A co-resident member with only the required fields set.
    pub fn new(name: impl Into<String>, relation: Relation) -> Member {
        Member {
            name: name.into(),
            identity: None,
            sex: None,
            birth_date: None,
            relation,
            co_resident: true,
            non_resident_reason: None,
            non_resident_note: None,
            health: None,
            disease: None,
            disability_kind: None,
            disability_grade: None,
            work_capacity: None,
            schooling: None,
            employment: None,
            phone: None,
            removed_at: None,
            removed_reason: None,
            self_care_assessments: Vec::new(),
            self_care_change_reported_on: None,
            care_plan: None,
        }
    }

    /// Whether the member still belongs to the household.
    pub fn is_current(&self) -> bool {
        self.removed_at.is_none() && self.removed_reason.is_none()
    }

    /// The latest self-care assessment: the latest date, and of one day the one recorded last.
    pub fn latest_self_care(&self) -> Option<&SelfCareAssessment> {
        self.self_care_assessments
            .iter()
            .max_by_key(|a| a.assessed_on)
    }

    /// The day of a reported change in the person's condition that still waits for a
    /// re-assessment: none is dated on or after it.
    pub fn self_care_change_pending(&self) -> Option<NaiveDate> {
        let reported = self.self_care_change_reported_on?;
        (!self
            .self_care_assessments
            .iter()
            .any(|a| a.assessed_on >= reported))
        .then_some(reported)
    }

    fn read(m: &MapReader<'_>) -> Result<Member, DocError> {
        use key::member as k;
        Ok(Member {
            name: m.req(k::NAME)?,
            identity: sealed::read_opt(m, k::IDENTITY)?,
            sex: m.opt(k::SEX)?,
            birth_date: m.opt(k::BIRTH_DATE)?,
            relation: m.req(k::RELATION)?,
            co_resident: m.req(k::CO_RESIDENT)?,
            non_resident_reason: m.opt(k::NON_RESIDENT_REASON)?,
            non_resident_note: m.opt(k::NON_RESIDENT_NOTE)?,
            health: m.opt(k::HEALTH)?,
            disease: m.opt(k::DISEASE)?,
            disability_kind: m.opt(k::DISABILITY_KIND)?,
            disability_grade: m.opt(k::DISABILITY_GRADE)?,
            work_capacity: m.opt(k::WORK_CAPACITY)?,
            schooling: m.opt(k::SCHOOLING)?,
            employment: m.opt(k::EMPLOYMENT)?,
            phone: m.opt(k::PHONE)?,
            removed_at: m.opt(k::REMOVED_AT)?,
            removed_reason: m.opt(k::REMOVED_REASON)?,
            self_care_assessments: m
                .opt_list(k::SELF_CARE_ASSESSMENTS, SelfCareAssessment::read)?,
            self_care_change_reported_on: m.opt(k::SELF_CARE_CHANGE_REPORTED_ON)?,
            care_plan: CarePlan::read_opt(m)?,
        })
    }

    fn write<T: Transactable>(&self, m: &mut MapWriter<'_, T>) -> Result<(), DocError> {
        use key::member as k;
        m.set(k::NAME, &self.name)?;
        sealed::write_opt(self.identity.as_ref(), m, k::IDENTITY)?;
        m.set_opt(k::SEX, self.sex.as_ref())?;
        m.set_opt(k::BIRTH_DATE, self.birth_date.as_ref())?;
        m.set(k::RELATION, &self.relation)?;
        m.set(k::CO_RESIDENT, &self.co_resident)?;
        m.set_opt(k::NON_RESIDENT_REASON, self.non_resident_reason.as_ref())?;
        m.set_opt(k::NON_RESIDENT_NOTE, self.non_resident_note.as_ref())?;
        m.set_opt(k::HEALTH, self.health.as_ref())?;
        m.set_opt(k::DISEASE, self.disease.as_ref())?;
        m.set_opt(k::DISABILITY_KIND, self.disability_kind.as_ref())?;
        m.set_opt(k::DISABILITY_GRADE, self.disability_grade.as_ref())?;
        m.set_opt(k::WORK_CAPACITY, self.work_capacity.as_ref())?;
        m.set_opt(k::SCHOOLING, self.schooling.as_ref())?;
        m.set_opt(k::EMPLOYMENT, self.employment.as_ref())?;
        m.set_opt(k::PHONE, self.phone.as_ref())?;
        m.set_opt(k::REMOVED_AT, self.removed_at.as_ref())?;
        m.set_opt(k::REMOVED_REASON, self.removed_reason.as_ref())?;
        // Old documents have no list: it is created with the first assessment.
        if !self.self_care_assessments.is_empty() {
            m.append_only(
                k::SELF_CARE_ASSESSMENTS,
                &self.self_care_assessments,
                SelfCareAssessment::write,
            )?;
        }
        m.set_opt(
            k::SELF_CARE_CHANGE_REPORTED_ON,
            self.self_care_change_reported_on.as_ref(),
        )?;
        CarePlan::write_opt(self.care_plan.as_ref(), m)
    }

    fn validate(&self, path: &str, out: &mut Vec<Issue>) {
        use key::member as k;
        person_checks(
            path,
            &self.name,
            self.identity.as_ref(),
            self.sex,
            self.birth_date,
            out,
        );
        if !self.co_resident && self.non_resident_reason.is_none() {
            out.push(Issue::error(
                format!("{path}.{}", k::NON_RESIDENT_REASON),
                "member.non_resident_reason_required",
                "非共同生活成员须注明原因",
                "a member who does not live with the household needs a reason",
            ));
        }
        if self.disability_grade.is_some_and(|g| !(1..=4).contains(&g)) {
            out.push(Issue::error(
                format!("{path}.{}", k::DISABILITY_GRADE),
                "member.disability_grade_range",
                "残疾等级应为1至4级",
                "the disability grade must be 1 to 4",
            ));
        }
        if self.disability_grade.is_some() != self.disability_kind.is_some() {
            out.push(Issue::error(
                format!("{path}.{}", k::DISABILITY_KIND),
                "member.disability_incomplete",
                "残疾类别和等级须同时填写",
                "disability type and grade go together",
            ));
        }
        if self.removed_at.is_some() && self.removed_reason.as_deref().is_none_or(str::is_empty) {
            out.push(Issue::error(
                format!("{path}.{}", k::REMOVED_REASON),
                "member.removed_reason_required",
                "减员须注明原因",
                "removing a member needs a reason",
            ));
        }
        for (i, a) in self.self_care_assessments.iter().enumerate() {
            if a.assessor.trim().is_empty() {
                out.push(Issue::error(
                    format!(
                        "{path}.{}[{i}].{}",
                        k::SELF_CARE_ASSESSMENTS,
                        key::self_care::ASSESSOR
                    ),
                    "self_care.assessor_required",
                    "请填写评估人",
                    "the assessor is required",
                ));
            }
        }
        if let Some(plan) = &self.care_plan {
            plan.validate(&format!("{path}.{}", k::CARE_PLAN), out);
        }
    }
}

/// One 特困 self-care assessment (生活自理能力评估, TK2021): which of the 6 daily activities the
/// person cannot manage. The tier is derived by the rules (`rules::income::assessed_tier`), never
/// stored.
#[derive(Debug, Clone, PartialEq)]
pub struct SelfCareAssessment {
    pub assessed_on: NaiveDate,
    /// 评估人
    pub assessor: String,
    /// The activities not managed (a set: each at most once).
    pub not_managed: BTreeSet<DailyActivity>,
}

impl SelfCareAssessment {
    fn read(m: &MapReader<'_>) -> Result<SelfCareAssessment, DocError> {
        use key::self_care as k;
        Ok(SelfCareAssessment {
            assessed_on: m.req(k::ASSESSED_ON)?,
            assessor: m.req(k::ASSESSOR)?,
            not_managed: m.set(k::NOT_MANAGED)?,
        })
    }

    fn write<T: Transactable>(&self, m: &mut MapWriter<'_, T>) -> Result<(), DocError> {
        use key::self_care as k;
        m.set(k::ASSESSED_ON, &self.assessed_on)?;
        m.set(k::ASSESSOR, &self.assessor)?;
        m.set_of(k::NOT_MANAGED, &self.not_managed)
    }
}

/// 照料服务协议: who cares for a 分散供养 person, from when to when.
#[derive(Debug, Clone, PartialEq)]
pub struct CareAgreement {
    pub caregiver: String,
    pub starts_on: NaiveDate,
    pub ends_on: NaiveDate,
}

/// The 五有 checklist of a 分散供养 person; each item may still be missing.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct CarePlan {
    pub agreement: Option<CareAgreement>,
    /// 照料服务标准
    pub service_standard: Option<String>,
    pub visit_plan: Option<VisitPlan>,
    /// 应急预案 or 紧急联系人
    pub emergency_contact: Option<String>,
    /// 动态管理: the next yearly re-check date.
    pub review_on: Option<NaiveDate>,
}

fn blank(s: &Option<String>) -> bool {
    s.as_deref().is_none_or(|s| s.trim().is_empty())
}

impl CarePlan {
    /// The items not recorded yet, in checklist order: the one rule of a 五有 gap.
    pub fn missing(&self) -> Vec<CarePlanItem> {
        let have = [
            self.agreement.is_some(),
            !blank(&self.service_standard),
            self.visit_plan.is_some(),
            !blank(&self.emergency_contact),
            self.review_on.is_some(),
        ];
        CarePlanItem::ALL
            .iter()
            .zip(have)
            .filter(|(_, h)| !h)
            .map(|(i, _)| *i)
            .collect()
    }

    fn read_opt(parent: &MapReader<'_>) -> Result<Option<CarePlan>, DocError> {
        use key::care_plan as k;
        let Some(m) = parent.opt_map(key::member::CARE_PLAN)? else {
            return Ok(None);
        };
        let agreement = match m.opt_map(k::AGREEMENT)? {
            None => None,
            Some(a) => {
                use key::care_agreement as a_k;
                Some(CareAgreement {
                    caregiver: a.req(a_k::CAREGIVER)?,
                    starts_on: a.req(a_k::STARTS_ON)?,
                    ends_on: a.req(a_k::ENDS_ON)?,
                })
            }
        };
        Ok(Some(CarePlan {
            agreement,
            service_standard: m.opt(k::SERVICE_STANDARD)?,
            visit_plan: m.opt(k::VISIT_PLAN)?,
            emergency_contact: m.opt(k::EMERGENCY_CONTACT)?,
            review_on: m.opt(k::REVIEW_ON)?,
        }))
    }

    fn write_opt<T: Transactable>(
        plan: Option<&CarePlan>,
        parent: &mut MapWriter<'_, T>,
    ) -> Result<(), DocError> {
        use key::care_plan as k;
        let Some(plan) = plan else {
            return parent.set_opt::<bool>(key::member::CARE_PLAN, None);
        };
        let mut m = parent.map(key::member::CARE_PLAN)?;
        let agreement = plan.agreement.as_ref().map(|a| {
            use key::care_agreement as a_k;
            [
                (a_k::CAREGIVER, a.caregiver.to_scalar()),
                (a_k::STARTS_ON, a.starts_on.to_scalar()),
                (a_k::ENDS_ON, a.ends_on.to_scalar()),
            ]
        });
        m.value_object(k::AGREEMENT, agreement.as_ref().map(|a| &a[..]))?;
        m.set_opt(k::SERVICE_STANDARD, plan.service_standard.as_ref())?;
        m.set_opt(k::VISIT_PLAN, plan.visit_plan.as_ref())?;
        m.set_opt(k::EMERGENCY_CONTACT, plan.emergency_contact.as_ref())?;
        m.set_opt(k::REVIEW_ON, plan.review_on.as_ref())
    }

    fn validate(&self, path: &str, out: &mut Vec<Issue>) {
        use key::care_plan as k;
        if let Some(a) = &self.agreement {
            use key::care_agreement as a_k;
            let at = format!("{path}.{}", k::AGREEMENT);
            if a.caregiver.trim().is_empty() {
                out.push(Issue::error(
                    format!("{at}.{}", a_k::CAREGIVER),
                    "care_plan.caregiver_required",
                    "请填写照料人",
                    "the caregiver is required",
                ));
            }
            if a.ends_on < a.starts_on {
                out.push(Issue::error(
                    format!("{at}.{}", a_k::ENDS_ON),
                    "care_plan.agreement_dates",
                    "照料服务协议的终止日期不能早于起始日期",
                    "the care agreement cannot end before it starts",
                ));
            }
        }
        for (key, v) in [
            (k::SERVICE_STANDARD, &self.service_standard),
            (k::EMERGENCY_CONTACT, &self.emergency_contact),
        ] {
            if v.is_some() && blank(v) {
                out.push(Issue::error(
                    format!("{path}.{key}"),
                    "care_plan.text_required",
                    "填写的内容不能为空；未确定的项目请留空不填",
                    "an item recorded must not be blank; leave it out until known",
                ));
            }
        }
    }
}

/// A legal supporter living elsewhere (赡养 / 抚养 / 扶养义务人).
#[derive(Debug, Clone, PartialEq)]
pub struct Supporter {
    pub name: String,
    /// Relation to the household (free text, e.g. "长子").
    pub relation: String,
    /// 身份证号, masked and sealed to the server.
    pub identity: Option<SealedId>,
    pub able_to_support: Option<bool>,
    pub unable_reason: Option<String>,
    pub support_paid_fen: Option<i64>,
    pub support_paid_period: Option<Period>,
}

impl Supporter {
    fn read(m: &MapReader<'_>) -> Result<Supporter, DocError> {
        use key::supporter as k;
        Ok(Supporter {
            name: m.req(k::NAME)?,
            relation: m.req(k::RELATION)?,
            identity: sealed::read_opt(m, k::IDENTITY)?,
            able_to_support: m.opt(k::ABLE_TO_SUPPORT)?,
            unable_reason: m.opt(k::UNABLE_REASON)?,
            support_paid_fen: m.opt(k::SUPPORT_PAID_FEN)?,
            support_paid_period: m.opt(k::SUPPORT_PAID_PERIOD)?,
        })
    }

    fn write<T: Transactable>(&self, m: &mut MapWriter<'_, T>) -> Result<(), DocError> {
        use key::supporter as k;
        m.set(k::NAME, &self.name)?;
        m.set(k::RELATION, &self.relation)?;
        sealed::write_opt(self.identity.as_ref(), m, k::IDENTITY)?;
        m.set_opt(k::ABLE_TO_SUPPORT, self.able_to_support.as_ref())?;
        m.set_opt(k::UNABLE_REASON, self.unable_reason.as_ref())?;
        m.set_opt(k::SUPPORT_PAID_FEN, self.support_paid_fen.as_ref())?;
        m.set_opt(k::SUPPORT_PAID_PERIOD, self.support_paid_period.as_ref())
    }

    fn validate(&self, path: &str, out: &mut Vec<Issue>) {
        use key::supporter as k;
        if self.able_to_support == Some(false)
            && self.unable_reason.as_deref().is_none_or(str::is_empty)
        {
            out.push(Issue::error(
                format!("{path}.{}", k::UNABLE_REASON),
                "supporter.unable_reason_required",
                "无赡养（抚养、扶养）能力须注明原因",
                "a supporter unable to support needs a reason",
            ));
        }
        if self.support_paid_fen.is_some() != self.support_paid_period.is_some() {
            out.push(Issue::error(
                format!("{path}.{}", k::SUPPORT_PAID_PERIOD),
                "amount.period_required",
                "金额和周期须同时填写",
                "an amount needs its period",
            ));
        }
        non_negative(
            self.support_paid_fen,
            &format!("{path}.{}", k::SUPPORT_PAID_FEN),
            out,
        );
    }
}

/// An income item (收入).
#[derive(Debug, Clone, PartialEq)]
pub struct IncomeItem {
    /// The member who earns it; `None` for income of the household as a whole.
    pub member: Option<MemberId>,
    pub class: IncomeClass,
    /// The type (收入项目): a national code or one the region defines. Whether the item counts
    /// is derived from it by the rules (`rules::income`).
    pub kind: IncomeKind,
    pub amount_fen: i64,
    pub period: Period,
    /// What supports the figure (payslip, bank statement, neighbour's account...).
    pub evidence: Option<String>,
    pub source: IncomeSource,
}

impl IncomeItem {
    fn read(m: &MapReader<'_>) -> Result<IncomeItem, DocError> {
        use key::income as k;
        Ok(IncomeItem {
            member: m.opt(k::MEMBER)?,
            class: m.req(k::CLASS)?,
            kind: m.req(k::KIND)?,
            amount_fen: m.req(k::AMOUNT_FEN)?,
            period: m.req(k::PERIOD)?,
            evidence: m.opt(k::EVIDENCE)?,
            source: m.req(k::SOURCE)?,
        })
    }

    fn write<T: Transactable>(&self, m: &mut MapWriter<'_, T>) -> Result<(), DocError> {
        use key::income as k;
        m.set_opt(k::MEMBER, self.member.as_ref())?;
        m.set(k::CLASS, &self.class)?;
        m.set(k::KIND, &self.kind)?;
        m.set(k::AMOUNT_FEN, &self.amount_fen)?;
        m.set(k::PERIOD, &self.period)?;
        m.set_opt(k::EVIDENCE, self.evidence.as_ref())?;
        m.set(k::SOURCE, &self.source)
    }
}

/// An asset (家庭财产).
#[derive(Debug, Clone, PartialEq)]
pub struct Asset {
    pub kind: AssetKind,
    pub owner: Option<MemberId>,
    pub description: Option<String>,
    pub value_fen: i64,
    /// Why the asset is exempt from the asset test, if it is (e.g. a disabled person's vehicle).
    pub exemption: Option<String>,
}

impl Asset {
    fn read(m: &MapReader<'_>) -> Result<Asset, DocError> {
        use key::asset as k;
        Ok(Asset {
            kind: m.req(k::KIND)?,
            owner: m.opt(k::OWNER)?,
            description: m.opt(k::DESCRIPTION)?,
            value_fen: m.req(k::VALUE_FEN)?,
            exemption: m.opt(k::EXEMPTION)?,
        })
    }

    fn write<T: Transactable>(&self, m: &mut MapWriter<'_, T>) -> Result<(), DocError> {
        use key::asset as k;
        m.set(k::KIND, &self.kind)?;
        m.set_opt(k::OWNER, self.owner.as_ref())?;
        m.set_opt(k::DESCRIPTION, self.description.as_ref())?;
        m.set(k::VALUE_FEN, &self.value_fen)?;
        m.set_opt(k::EXEMPTION, self.exemption.as_ref())
    }
}

/// A rigid-expenditure item (刚性支出), counted over a 12-month window.
#[derive(Debug, Clone, PartialEq)]
pub struct Expenditure {
    pub kind: ExpenditureKind,
    pub member: Option<MemberId>,
    pub description: Option<String>,
    pub amount_fen: i64,
    pub incurred_on: Option<NaiveDate>,
    /// Receipts (票据), as blobs.
    pub receipts: BTreeSet<BlobHash>,
}

impl Expenditure {
    fn read(m: &MapReader<'_>) -> Result<Expenditure, DocError> {
        use key::expenditure as k;
        Ok(Expenditure {
            kind: m.req(k::KIND)?,
            member: m.opt(k::MEMBER)?,
            description: m.opt(k::DESCRIPTION)?,
            amount_fen: m.req(k::AMOUNT_FEN)?,
            incurred_on: m.opt(k::INCURRED_ON)?,
            receipts: m.set(k::RECEIPTS)?,
        })
    }

    fn write<T: Transactable>(&self, m: &mut MapWriter<'_, T>) -> Result<(), DocError> {
        use key::expenditure as k;
        m.set(k::KIND, &self.kind)?;
        m.set_opt(k::MEMBER, self.member.as_ref())?;
        m.set_opt(k::DESCRIPTION, self.description.as_ref())?;
        m.set(k::AMOUNT_FEN, &self.amount_fen)?;
        m.set_opt(k::INCURRED_ON, self.incurred_on.as_ref())?;
        m.set_of(k::RECEIPTS, &self.receipts)
    }
}

/// A decision on the household (审批决定), written by the server; the history only grows.
#[derive(Debug, Clone, PartialEq)]
pub struct Decision {
    pub at: UnixMillis,
    pub programme: Option<Programme>,
    pub outcome: DecisionOutcome,
    pub amount_fen_per_month: Option<i64>,
    pub by: AccountId,
    /// Document number (文号), if any.
    pub reference: Option<String>,
    /// For a refusal (不予批准): the reasons, as written to the applicant.
    pub note: Option<String>,
    /// 起始发放日期: an approval pays from the first day of the month after it.
    pub effective_from: Option<NaiveDate>,
    /// The investigation (入户调查) the decision rests on.
    pub visit: Option<DocumentId>,
    /// 保障人数: the members covered, as published (公布).
    pub household_size: Option<u8>,
    /// 书面告知日期: when a refusal's written notice is issued.
    pub notice_date: Option<NaiveDate>,
    /// 渐退月数: how long a phase-out (渐退) continues the benefit.
    pub months: Option<u8>,
}

impl Decision {
    /// 起始发放日期 of an approval decided on `day`: the first day of the next month (DB2021: the
    /// benefit is paid from the month after approval).
    pub fn pays_from(day: NaiveDate) -> NaiveDate {
        use chrono::Datelike;
        let (y, m) = match day.month() {
            12 => (day.year() + 1, 1),
            m => (day.year(), m + 1),
        };
        NaiveDate::from_ymd_opt(y, m, 1).unwrap_or(day)
    }

    fn read(m: &MapReader<'_>) -> Result<Decision, DocError> {
        use key::decision as k;
        Ok(Decision {
            at: m.req(k::AT)?,
            programme: m.opt(k::PROGRAMME)?,
            outcome: m.req(k::OUTCOME)?,
            amount_fen_per_month: m.opt(k::AMOUNT_FEN_PER_MONTH)?,
            by: m.req(k::BY)?,
            reference: m.opt(k::REFERENCE)?,
            note: m.opt(k::NOTE)?,
            effective_from: m.opt(k::EFFECTIVE_FROM)?,
            visit: m.opt(k::VISIT)?,
            household_size: m.opt(k::HOUSEHOLD_SIZE)?,
            notice_date: m.opt(k::NOTICE_DATE)?,
            months: m.opt(k::MONTHS)?,
        })
    }

    fn write<T: Transactable>(&self, m: &mut MapWriter<'_, T>) -> Result<(), DocError> {
        use key::decision as k;
        m.set(k::AT, &self.at)?;
        m.set_opt(k::PROGRAMME, self.programme.as_ref())?;
        m.set(k::OUTCOME, &self.outcome)?;
        m.set_opt(k::AMOUNT_FEN_PER_MONTH, self.amount_fen_per_month.as_ref())?;
        m.set(k::BY, &self.by)?;
        m.set_opt(k::REFERENCE, self.reference.as_ref())?;
        m.set_opt(k::NOTE, self.note.as_ref())?;
        m.set_opt(k::EFFECTIVE_FROM, self.effective_from.as_ref())?;
        m.set_opt(k::VISIT, self.visit.as_ref())?;
        m.set_opt(k::HOUSEHOLD_SIZE, self.household_size.as_ref())?;
        m.set_opt(k::NOTICE_DATE, self.notice_date.as_ref())?;
        m.set_opt(k::MONTHS, self.months.as_ref())
    }
}

/// The content of a household document (户).
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Household {
    /// Usual residence (居住地), where visits happen.
    pub address: String,
    pub hukou_type: Option<HukouType>,
    /// 户籍地, when it differs from the usual residence.
    pub registered_address: Option<String>,
    pub programmes: BTreeSet<Programme>,
    pub members: BTreeMap<MemberId, Member>,
    pub supporters: BTreeMap<EntryId, Supporter>,
    pub income: BTreeMap<EntryId, IncomeItem>,
    pub assets: BTreeMap<EntryId, Asset>,
    pub expenditures: BTreeMap<EntryId, Expenditure>,
    /// Append-only.
    pub decisions: Vec<Decision>,
}

impl Household {
    /// The latest decision on programme `p`, or on no programme in particular: what the
    /// household's standing in `p` rests on (a phase-out under way, a termination, ...).
    pub fn last_decision(&self, p: Programme) -> Option<&Decision> {
        self.decisions
            .iter()
            .filter(|d| d.programme.is_none_or(|q| q == p))
            .max_by_key(|d| d.at.0)
    }

    /// The members who live together (共同生活) and still belong to the household: those a
    /// decision covers.
    pub fn co_resident_count(&self) -> usize {
        self.members
            .values()
            .filter(|m| m.is_current() && m.co_resident)
            .count()
    }

    /// Record a decision (审批决定) and what it does to the programmes: an approval or a change
    /// puts the household in the decision's programme, a termination takes it out; a refusal, a
    /// suspension or a phase-out (paid on until it ends) leaves them as they are. Decisions and programmes are the server's to write
    /// (DB2021 art. 28): phones never call this.
    pub fn record_decision(&mut self, d: Decision) {
        if let Some(p) = d.programme {
            match d.outcome.enrols() {
                Some(true) => {
                    self.programmes.insert(p);
                }
                Some(false) => {
                    self.programmes.remove(&p);
                }
                None => {}
            }
        }
        self.decisions.push(d);
    }
}

fn non_negative(v: Option<i64>, path: &str, out: &mut Vec<Issue>) {
    if v.is_some_and(|v| v < 0) {
        out.push(Issue::error(
            path,
            "money.negative",
            "金额不能为负数",
            "an amount must not be negative",
        ));
    }
}

fn known_member(
    members: &BTreeMap<MemberId, Member>,
    member: Option<&MemberId>,
    path: String,
    out: &mut Vec<Issue>,
) {
    if member.is_some_and(|m| !members.contains_key(m)) {
        out.push(Issue::error(
            path,
            "member.unknown",
            "所指家庭成员不存在",
            "the member referred to does not exist",
        ));
    }
}

impl DocumentContent for Household {
    const KIND: DocumentKind = DocumentKind::Household;

    fn read_from(c: &MapReader<'_>) -> Result<Self, DocError> {
        Ok(Household {
            address: c.req(key::ADDRESS)?,
            hukou_type: c.opt(key::HUKOU_TYPE)?,
            registered_address: c.opt(key::REGISTERED_ADDRESS)?,
            programmes: c.set(key::PROGRAMMES)?,
            members: c.entries(key::MEMBERS, Member::read)?,
            supporters: c.entries(key::SUPPORTERS, Supporter::read)?,
            income: c.entries(key::INCOME, IncomeItem::read)?,
            assets: c.entries(key::ASSETS, Asset::read)?,
            expenditures: c.entries(key::EXPENDITURES, Expenditure::read)?,
            decisions: c.list(key::DECISIONS, Decision::read)?,
        })
    }

    fn write_to<T: Transactable>(&self, c: &mut MapWriter<'_, T>) -> Result<(), DocError> {
        c.set(key::ADDRESS, &self.address)?;
        c.set_opt(key::HUKOU_TYPE, self.hukou_type.as_ref())?;
        c.set_opt(key::REGISTERED_ADDRESS, self.registered_address.as_ref())?;
        c.set_of(key::PROGRAMMES, &self.programmes)?;
        c.entries(key::MEMBERS, &self.members, Member::write)?;
        c.entries(key::SUPPORTERS, &self.supporters, Supporter::write)?;
        c.entries(key::INCOME, &self.income, IncomeItem::write)?;
        c.entries(key::ASSETS, &self.assets, Asset::write)?;
        c.entries(key::EXPENDITURES, &self.expenditures, Expenditure::write)?;
        c.append_only(key::DECISIONS, &self.decisions, Decision::write)
    }

    fn validate(&self, out: &mut Vec<Issue>) {
        if self.address.trim().is_empty() {
            out.push(Issue::error(
                key::ADDRESS,
                "household.address_required",
                "请填写居住地址",
                "the address is required",
            ));
        }
        let mut heads = 0;
        for (id, m) in &self.members {
            let path = format!("{}.{id}", key::MEMBERS);
            m.validate(&path, out);
            if !m.is_current() {
                continue;
            }
            if m.relation == Relation::Head {
                heads += 1;
            }
        }
        if heads > 1 {
            out.push(Issue::error(
                key::MEMBERS,
                "household.multiple_heads",
                "一户只能有一名户主",
                "a household has only one head",
            ));
        }
        if heads == 0 && !self.members.is_empty() {
            out.push(Issue::new(
                key::MEMBERS,
                Severity::Warning,
                "household.no_head",
                "尚未指定户主",
                "no member is marked as head of the household",
            ));
        }
        for (id, s) in &self.supporters {
            s.validate(&format!("{}.{id}", key::SUPPORTERS), out);
        }
        for (id, item) in &self.income {
            use key::income as k;
            let path = format!("{}.{id}", key::INCOME);
            known_member(
                &self.members,
                item.member.as_ref(),
                format!("{path}.{}", k::MEMBER),
                out,
            );
            non_negative(
                Some(item.amount_fen),
                &format!("{path}.{}", k::AMOUNT_FEN),
                out,
            );
            if !IncomeKind::is_valid_code(item.kind.code()) {
                out.push(Issue::error(
                    format!("{path}.{}", k::KIND),
                    "income.kind_invalid",
                    "收入项目代码应为1至64个字符，不含空格",
                    "an income type code has 1 to 64 characters and no spaces",
                ));
            }
        }
        for (id, a) in &self.assets {
            use key::asset as k;
            let path = format!("{}.{id}", key::ASSETS);
            known_member(
                &self.members,
                a.owner.as_ref(),
                format!("{path}.{}", k::OWNER),
                out,
            );
            non_negative(Some(a.value_fen), &format!("{path}.{}", k::VALUE_FEN), out);
        }
        for (id, e) in &self.expenditures {
            use key::expenditure as k;
            let path = format!("{}.{id}", key::EXPENDITURES);
            known_member(
                &self.members,
                e.member.as_ref(),
                format!("{path}.{}", k::MEMBER),
                out,
            );
            non_negative(
                Some(e.amount_fen),
                &format!("{path}.{}", k::AMOUNT_FEN),
                out,
            );
        }
        for (i, d) in self.decisions.iter().enumerate() {
            let path = format!(
                "{}[{i}].{}",
                key::DECISIONS,
                key::decision::AMOUNT_FEN_PER_MONTH
            );
            non_negative(d.amount_fen_per_month, &path, out);
        }
    }
}

/// Checks of a person's identity fields (stored under the member keys of a household, which a
/// visit's added members share): a name, a recorded sex that agrees with what the masked
/// 身份证号 shows, and no recorded birth date beside a number (it is what the masked form hides).
pub(crate) fn person_checks(
    path: &str,
    name: &str,
    id: Option<&SealedId>,
    sex: Option<Sex>,
    birth_date: Option<NaiveDate>,
    out: &mut Vec<Issue>,
) {
    if name.trim().is_empty() {
        out.push(Issue::error(
            join(path, key::member::NAME),
            "person.name_required",
            "请填写姓名",
            "the name is required",
        ));
    }
    let Some(id) = id else {
        return;
    };
    if sex.is_some_and(|s| s != id.masked.sex()) {
        out.push(Issue::error(
            join(path, key::member::SEX),
            "id_number.sex_mismatch",
            "性别与身份证号不符",
            "the sex does not match the ID number",
        ));
    }
    if birth_date.is_some() {
        out.push(Issue::error(
            join(path, key::member::BIRTH_DATE),
            "id_number.birth_date_recorded",
            "有身份证号的成员不另填出生日期（出生日期由身份证号得出）",
            "do not record a birth date for a member with an ID number: it derives from the number",
        ));
    }
}
