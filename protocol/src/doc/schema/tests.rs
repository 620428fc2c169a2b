//! The schema against the typed views and the validators: a divergence between them fails here.

use std::collections::{BTreeMap, BTreeSet};

use automerge::transaction::Transactable;
use automerge::{AutoCommit, ObjId, ObjType, ScalarValue, hydrate};
use chrono::NaiveDate;

use super::{AmType, Key, KindSchema, ROOT, SCHEMA, STRUCTURE_CODES, Shape, markdown};
use crate::doc::common::{GeoPoint, Photo, PhotoCategory};
use crate::doc::conflicts::{FieldPath, PathSegment};
use crate::doc::discovery::{Channel, DiscoveryStatus, Target, TargetGroup, Urgency};
use crate::doc::household::*;
use crate::doc::identity::open_all;
use crate::doc::validate::check::key_problems;
use crate::doc::validate::has_errors;
use crate::doc::visit::*;
use crate::doc::{
    Content, DiscoveryReport, Header, Household, Issue, Severity, UnixMillis, Visit, create, key,
    read_any, tree, validate_tree,
};
use crate::id_number::Sex;
use crate::identity::tests::{key, sealed};
use crate::identity::{OpenKey, SealedId};
use crate::ids::{AccountId, BlobHash, DocumentId, DocumentKind, EntryId, MemberId};

const SCOPE: &str = "370102001001-A";

// ---- Raw documents made from the schema alone ----

fn example_key(shape_format: &super::Format) -> String {
    match shape_format.example() {
        ScalarValue::Str(s) => s.to_string(),
        other => panic!("a collection keyed by {other:?}"),
    }
}

fn put_keys(doc: &mut AutoCommit, obj: &ObjId, keys: &'static [Key], skip: &[&str]) {
    for k in keys.iter().filter(|k| !skip.contains(&k.name)) {
        match &k.shape {
            Shape::Scalar(f) => doc.put(obj, k.name, f.example()).unwrap(),
            Shape::Record(inner) | Shape::ValueObject(inner) => {
                let m = doc.put_object(obj, k.name, ObjType::Map).unwrap();
                put_keys(doc, &m, inner, &[]);
            }
            Shape::Entries(f, inner) => {
                let m = doc.put_object(obj, k.name, ObjType::Map).unwrap();
                let e = doc.put_object(&m, example_key(f), ObjType::Map).unwrap();
                put_keys(doc, &e, inner, &[]);
            }
            Shape::Set(f) => {
                let m = doc.put_object(obj, k.name, ObjType::Map).unwrap();
                doc.put(&m, example_key(f), true).unwrap();
            }
            Shape::List(inner) => {
                let l = doc.put_object(obj, k.name, ObjType::List).unwrap();
                let item = doc.insert_object(&l, 0, ObjType::Map).unwrap();
                put_keys(doc, &item, inner, &[]);
            }
            Shape::Content => unreachable!("only at the root"),
        }
    }
}

/// A document of `kind` holding every documented key (but those of the alternatives other than
/// `alternative`), each with its format's example, written with raw automerge calls.
fn raw_document(kind: &KindSchema, alternative: Option<usize>) -> AutoCommit {
    let skip: Vec<&str> = kind
        .alternatives
        .iter()
        .enumerate()
        .filter(|(i, _)| Some(*i) != alternative)
        .flat_map(|(_, g)| g.iter().copied())
        .collect();
    let mut doc = AutoCommit::new();
    for k in ROOT {
        match (&k.shape, k.name) {
            (Shape::Content, _) => {
                let c = doc
                    .put_object(automerge::ROOT, k.name, ObjType::Map)
                    .unwrap();
                put_keys(&mut doc, &c, kind.content, &skip);
            }
            (_, key::KIND) => doc
                .put(automerge::ROOT, k.name, kind.kind.as_str())
                .unwrap(),
            (Shape::Scalar(f), _) => doc.put(automerge::ROOT, k.name, f.example()).unwrap(),
            _ => unreachable!("the root holds scalars and the content"),
        }
    }
    doc.commit();
    doc
}

/// Every kind with each of its alternatives.
fn variants() -> Vec<(&'static KindSchema, Option<usize>)> {
    SCHEMA
        .kinds
        .iter()
        .flat_map(|k| match k.alternatives.len() {
            0 => vec![(*k, None)],
            n => (0..n).map(|i| (*k, Some(i))).collect(),
        })
        .collect()
}

/// A new document holding `content`, written by the typed views.
fn typed_document(header: &Header, content: &Content) -> AutoCommit {
    let scope = header.scope.as_str();
    match content {
        Content::Household(c) => create(header.id, scope, c, None),
        Content::Visit(c) => create(header.id, scope, c, None),
        Content::DiscoveryReport(c) => create(header.id, scope, c, None),
    }
    .unwrap()
}

#[test]
fn every_documented_key_written_raw_reads_back_through_the_typed_views() {
    for (kind, alternative) in variants() {
        let raw = tree(&raw_document(kind, alternative)).unwrap();
        let (header, content) = read_any(&raw)
            .unwrap_or_else(|e| panic!("{} {alternative:?}: {e}", kind.kind.as_str()));
        assert_eq!(content.kind(), kind.kind);
        // Written again by the typed views, the document is the same, key for key and type for
        // type: every documented key was read, and nothing else is written.
        let rewritten = tree(&typed_document(&header, &content)).unwrap();
        assert_eq!(
            rewritten,
            raw,
            "{} {alternative:?}: the typed views do not keep what the schema documents",
            kind.kind.as_str()
        );
        assert!(key_problems(&raw).0.is_empty());
    }
}

// ---- Documents made by the typed views, with every optional field set ----

fn account(s: &str) -> AccountId {
    AccountId::parse(s).unwrap()
}

fn blob(n: u8) -> BlobHash {
    BlobHash::from_bytes([n; 32])
}

fn member_id(n: u8) -> MemberId {
    MemberId::from_bytes([n; 16])
}

fn entry_id(n: u8) -> EntryId {
    EntryId::from_bytes([n; 16])
}

fn gps() -> GeoPoint {
    GeoPoint {
        lat: 36.67,
        lon: 117.02,
        accuracy_m: Some(8.0),
    }
}

fn photo() -> Photo {
    Photo {
        category: PhotoCategory::Kitchen,
        caption: Some("厨房".to_owned()),
        captured_at: UnixMillis(1_750_000_600_000),
        gps: Some(gps()),
    }
}

/// The central basic pension of `member` (which the rules leave out in 2021–2025).
pub(crate) fn pension(member: MemberId) -> IncomeItem {
    IncomeItem {
        member: Some(member),
        class: IncomeClass::Transfer,
        kind: IncomeKind::BasicPensionCentral,
        amount_fen: 18_000,
        period: Period::Month,
        evidence: Some("银行流水".to_owned()),
        source: IncomeSource::DataCheck,
    }
}

/// An exempt dwelling owned by `owner`.
pub(crate) fn dwelling(owner: MemberId) -> Asset {
    Asset {
        kind: AssetKind::Dwelling,
        owner: Some(owner),
        description: Some("自建房一处".to_owned()),
        value_fen: 5_000_000,
        exemption: Some("唯一住房".to_owned()),
    }
}

/// Dialysis costs of `member`, with two receipts.
pub(crate) fn dialysis(member: MemberId) -> Expenditure {
    Expenditure {
        kind: ExpenditureKind::Medical,
        member: Some(member),
        description: Some("透析".to_owned()),
        amount_fen: 2_400_000,
        incurred_on: NaiveDate::from_ymd_opt(2025, 6, 1),
        receipts: BTreeSet::from([blob(1), blob(2)]),
    }
}

/// A valid household with every key set. Written field by field (no `..`), so that a field
/// added to the typed view must be added here, and so checked to be documented.
fn full_household() -> Household {
    let head = Member {
        name: "王建国".to_owned(),
        identity: Some(sealed("37028319580312001")),
        sex: Some(Sex::Male),
        birth_date: None,
        relation: Relation::Head,
        co_resident: false,
        non_resident_reason: Some(NonResidentReason::Other),
        non_resident_note: Some("在外务工".to_owned()),
        health: Some(Health::SeriouslyIll),
        disease: Some("尿毒症".to_owned()),
        disability_kind: Some(DisabilityKind::Physical),
        disability_grade: Some(2),
        work_capacity: Some(WorkCapacity::PartlyLost),
        schooling: Some("无".to_owned()),
        employment: Some("无业".to_owned()),
        phone: Some("13800000000".to_owned()),
        removed_at: None,
        removed_reason: None,
        self_care_assessments: vec![SelfCareAssessment {
            assessed_on: NaiveDate::from_ymd_opt(2026, 3, 2).unwrap(),
            assessor: "刘评估".to_owned(),
            not_managed: BTreeSet::from([DailyActivity::Bathing, DailyActivity::Dressing]),
        }],
        self_care_change_reported_on: NaiveDate::from_ymd_opt(2026, 3, 1),
        care_plan: Some(CarePlan {
            agreement: Some(CareAgreement {
                caregiver: "王照料".to_owned(),
                starts_on: NaiveDate::from_ymd_opt(2026, 1, 1).unwrap(),
                ends_on: NaiveDate::from_ymd_opt(2026, 12, 31).unwrap(),
            }),
            service_standard: Some("每日送餐、每周打扫".to_owned()),
            visit_plan: Some(VisitPlan::Monthly),
            emergency_contact: Some("王大明 13900000000".to_owned()),
            review_on: NaiveDate::from_ymd_opt(2027, 1, 1),
        }),
    };
    let left = Member {
        name: "王老汉".to_owned(),
        // Without an ID number: the birth date as recorded.
        identity: None,
        sex: Some(Sex::Male),
        birth_date: NaiveDate::from_ymd_opt(1930, 1, 1),
        relation: Relation::Parent,
        co_resident: true,
        non_resident_reason: None,
        removed_at: Some(UnixMillis(1_700_000_000_000)),
        removed_reason: Some("死亡".to_owned()),
        self_care_assessments: Vec::new(),
        self_care_change_reported_on: None,
        care_plan: None,
        ..head.clone()
    };
    Household {
        address: "济南市历下区一镇一村 3 号".to_owned(),
        hukou_type: Some(HukouType::Rural),
        registered_address: Some("甲地".to_owned()),
        programmes: BTreeSet::from([Programme::Dibao, Programme::Monitored]),
        members: BTreeMap::from([(member_id(1), head), (member_id(2), left)]),
        supporters: BTreeMap::from([(
            entry_id(1),
            Supporter {
                name: "王大明".to_owned(),
                relation: "长子".to_owned(),
                identity: Some(sealed("37028319800101005")),
                able_to_support: Some(false),
                unable_reason: Some("本人重残".to_owned()),
                support_paid_fen: Some(0),
                support_paid_period: Some(Period::Month),
            },
        )]),
        income: BTreeMap::from([(entry_id(2), pension(member_id(1)))]),
        assets: BTreeMap::from([(entry_id(3), dwelling(member_id(1)))]),
        expenditures: BTreeMap::from([(entry_id(4), dialysis(member_id(1)))]),
        decisions: vec![Decision {
            at: UnixMillis(1_700_000_000_000),
            programme: Some(Programme::Dibao),
            outcome: DecisionOutcome::Approved,
            amount_fen_per_month: Some(105_000),
            by: account("county-01"),
            reference: Some("历民〔2025〕12号".to_owned()),
            note: Some("按月发放".to_owned()),
            effective_from: chrono::NaiveDate::from_ymd_opt(2023, 12, 1),
            visit: Some(DocumentId::from_bytes([7; 16])),
            household_size: Some(2),
            notice_date: chrono::NaiveDate::from_ymd_opt(2023, 11, 16),
            months: Some(4),
        }],
    }
}

/// A valid visit with every key set (and valid whatever its status: it has a review).
fn full_visit() -> Visit {
    let ended = Some(UnixMillis(1_750_001_800_000));
    let mut investigators = BTreeMap::new();
    let mut signatures = BTreeMap::new();
    for (acct, name, n) in [("gw-1", "张网格", 10u8), ("as-2", "刘协理", 11)] {
        investigators.insert(
            account(acct),
            Investigator {
                name: name.to_owned(),
            },
        );
        signatures.insert(
            blob(n),
            Signature {
                signer_name: name.to_owned(),
                role: SignerRole::Investigator,
                account: Some(account(acct)),
                member: None,
                signed_at: ended,
            },
        );
    }
    signatures.insert(
        blob(12),
        Signature {
            signer_name: "王建国".to_owned(),
            role: SignerRole::Family,
            account: None,
            member: Some(member_id(1)),
            signed_at: ended,
        },
    );
    Visit {
        household: DocumentId::from_bytes([7; 16]),
        purpose: Purpose::DiscoveryCheck,
        report: Some(DocumentId::from_bytes([8; 16])),
        applied_for: None,
        started_at: Some(UnixMillis(1_750_000_000_000)),
        ended_at: ended,
        investigators,
        mode: VisitMode::InPerson,
        emergency_reason: Some("无".to_owned()),
        member_checks: BTreeMap::from([(
            member_id(1),
            MemberCheck {
                present: true,
                confirmed: true,
                removed: true,
                removal_reason: Some("外出务工".to_owned()),
                not_signed_reason: Some("本人签字，另由家属代签".to_owned()),
                note: Some("已核实".to_owned()),
            },
        )]),
        members_added: BTreeMap::from([(
            member_id(3),
            AddedMember {
                name: "王小花".to_owned(),
                identity: Some(sealed("37028320200101002")),
                relation: Relation::Grandchild,
                note: Some("新生儿".to_owned()),
            },
        )]),
        living: LivingConditions {
            food: Some("粮食充足".to_owned()),
            clothing: Some("衣物齐全".to_owned()),
            housing: Some("砖房，屋顶漏雨".to_owned()),
            daily_goods: Some("家电老旧".to_owned()),
        },
        comparisons: BTreeMap::from([(
            entry_id(5),
            Comparison {
                subject: ComparisonSubject::Income,
                description: "务工收入".to_owned(),
                declared_fen: Some(100_000),
                observed_fen: Some(150_000),
                note: Some("邻居证实".to_owned()),
            },
        )]),
        health_notes: Some("户主重病".to_owned()),
        disability_notes: Some("配偶肢体残疾".to_owned()),
        work_capacity_notes: Some("户主部分丧失".to_owned()),
        conclusion: Some(Conclusion::PartlyAccurate),
        conclusion_notes: Some("务工收入高于申报".to_owned()),
        signatures,
        photos: BTreeMap::from([(blob(20), photo())]),
        gps: Some(gps()),
        status: VisitStatus::Submitted,
        submitted_at: ended,
        reviews: vec![Review {
            reviewer: account("town-3"),
            reviewer_name: "陈审核".to_owned(),
            decision: ReviewOutcome::Approve,
            comment: Some("同意".to_owned()),
            at: UnixMillis(1_750_100_000_000),
        }],
        notice_from: chrono::NaiveDate::from_ymd_opt(2025, 6, 17),
        notice_until: chrono::NaiveDate::from_ymd_opt(2025, 6, 23),
        objections: vec![Objection {
            at: UnixMillis(1_750_200_000_000),
            objector: "邻居".to_owned(),
            detail: "家中有车辆未申报".to_owned(),
            recorded_by: account("town-3"),
        }],
        appraisals: vec![Appraisal {
            at: UnixMillis(1_750_300_000_000),
            held_on: chrono::NaiveDate::from_ymd_opt(2025, 6, 20).unwrap(),
            participants: 9,
            votes_for: 8,
            votes_against: 1,
            record_photo: Some(blob(20)),
            recorded_by: account("town-3"),
        }],
        application: None,
        extension: Some(Extension {
            reason: "申请人住院，无法入户".to_owned(),
            recorded_by: account("town-3"),
            at: UnixMillis(1_750_150_000_000),
        }),
        county_visits: vec![CountyVisit {
            at: UnixMillis(1_750_400_000_000),
            visited_on: chrono::NaiveDate::from_ymd_opt(2025, 6, 24).unwrap(),
            visitors: "钱县级、孙县级".to_owned(),
            findings: "情况属实".to_owned(),
            recorded_by: account("county-4"),
        }],
    }
}

/// An application accepted by proxy with every key set, for the photo `blob(20)` of
/// [`full_visit`].
fn full_application() -> Application {
    Application {
        accepted_on: chrono::NaiveDate::from_ymd_opt(2025, 6, 14).unwrap(),
        channel: ApplicationChannel::Proxy,
        proxy_name: Some("村委会王主任".to_owned()),
        authorisation: Some(blob(20)),
        pledge_signed: true,
        data_check_authorised: true,
        kin_filing: true,
    }
}

/// [`full_visit`] as the investigation of an application, with the application.
fn full_investigation() -> Visit {
    Visit {
        purpose: Purpose::Investigation,
        report: None,
        applied_for: Some(Programme::Dibao),
        application: Some(full_application()),
        ..full_visit()
    }
}

/// Valid reports with every key set, one per kind of target.
fn full_reports() -> [DiscoveryReport; 2] {
    let person = DiscoveryReport {
        reporter: account("cadre-7"),
        reporter_name: Some("赵村委".to_owned()),
        reported_at: Some(UnixMillis(1_750_000_000_000)),
        channel: Some(Channel::Visit),
        target: Some(Target::Person {
            name: "孙奶奶".to_owned(),
            identity: Some(sealed("37028319400101002")),
            address: Some("村东头".to_owned()),
            phone: Some("13900000000".to_owned()),
        }),
        target_groups: BTreeSet::from([TargetGroup::Elderly, TargetGroup::Ill]),
        urgency: Some(Urgency::Urgent),
        emergency_24h: true,
        notes: Some("独居，行动不便".to_owned()),
        photos: BTreeMap::from([(blob(30), photo())]),
        gps: Some(gps()),
        status: DiscoveryStatus::Submitted,
    };
    let household = DiscoveryReport {
        target: Some(Target::Household(DocumentId::from_bytes([8; 16]))),
        ..person.clone()
    };
    [person, household]
}

fn full_documents() -> Vec<hydrate::Value> {
    let id = DocumentId::from_bytes([9; 16]);
    let mut docs = vec![
        create(id, SCOPE, &full_household(), None).unwrap(),
        create(id, SCOPE, &full_visit(), None).unwrap(),
        create(id, SCOPE, &full_investigation(), None).unwrap(),
    ];
    for r in full_reports() {
        docs.push(create(id, SCOPE, &r, None).unwrap());
    }
    docs.iter().map(|d| tree(d).unwrap()).collect()
}

/// The keys of `tree` under `path` that the schema does not document.
fn undocumented(map: &hydrate::Map, keys: &'static [Key], path: &str, out: &mut Vec<String>) {
    for (name, v) in map.iter() {
        let at = format!("{path}{name}");
        let Some(k) = keys.iter().find(|k| k.name == name) else {
            out.push(at);
            continue;
        };
        match (&k.shape, &v.value) {
            (Shape::Record(inner) | Shape::ValueObject(inner), hydrate::Value::Map(m)) => {
                undocumented(m, inner, &format!("{at}."), out)
            }
            (Shape::Entries(_, inner), hydrate::Value::Map(m)) => {
                for (e, ev) in m.iter() {
                    if let hydrate::Value::Map(em) = &ev.value {
                        undocumented(em, inner, &format!("{at}.{e}."), out);
                    }
                }
            }
            (Shape::List(inner), hydrate::Value::List(l)) => {
                for (i, item) in l.iter().enumerate() {
                    if let hydrate::Value::Map(im) = &item.value {
                        undocumented(im, inner, &format!("{at}[{i}]."), out);
                    }
                }
            }
            _ => {}
        }
    }
}

#[test]
fn every_key_the_typed_views_write_is_documented() {
    for doc in full_documents() {
        let hydrate::Value::Map(root) = &doc else {
            panic!("a document is a map")
        };
        let mut out = Vec::new();
        undocumented(root, ROOT, "", &mut out);
        let (header, _) = read_any(&doc).unwrap();
        if let Some(hydrate::Value::Map(c)) = root.get(key::CONTENT) {
            undocumented(c, SCHEMA.kind(header.kind).content, "content.", &mut out);
        }
        assert!(out.is_empty(), "written but not documented: {out:?}");
        let (problems, _) = key_problems(&doc);
        assert!(problems.is_empty(), "{problems:?}");
        assert!(
            !has_errors(&validate_tree(&doc)),
            "{:?}",
            validate_tree(&doc)
        );
    }
}

// ---- Where the key-by-key check and the typed views fail ----

/// A documented key present in a document, at its path.
struct Site {
    path: FieldPath,
    key: &'static Key,
}

fn sites(map: &hydrate::Map, keys: &'static [Key], path: &FieldPath, out: &mut Vec<Site>) {
    for k in keys {
        let Some(v) = map.get(k.name) else { continue };
        let at = path.child(PathSegment::Key(k.name.to_owned()));
        match (&k.shape, v) {
            (Shape::Record(inner) | Shape::ValueObject(inner), hydrate::Value::Map(m)) => {
                sites(m, inner, &at, out)
            }
            (Shape::Entries(_, inner), hydrate::Value::Map(m)) => {
                for (e, ev) in m.iter() {
                    if let hydrate::Value::Map(em) = &ev.value {
                        sites(em, inner, &at.child(PathSegment::Key(e.clone())), out);
                    }
                }
            }
            (Shape::List(inner), hydrate::Value::List(l)) => {
                for (i, item) in l.iter().enumerate() {
                    if let hydrate::Value::Map(im) = &item.value {
                        sites(im, inner, &at.child(PathSegment::Index(i)), out);
                    }
                }
            }
            _ => {}
        }
        out.push(Site { path: at, key: k });
    }
}

fn all_sites(doc: &hydrate::Value) -> Vec<Site> {
    let hydrate::Value::Map(root) = doc else {
        panic!("a document is a map")
    };
    let mut out = Vec::new();
    sites(root, ROOT, &FieldPath::default(), &mut out);
    let (header, _) = read_any(doc).unwrap();
    if let Some(hydrate::Value::Map(c)) = root.get(key::CONTENT) {
        let path = FieldPath::keys(&[key::CONTENT]);
        sites(c, SCHEMA.kind(header.kind).content, &path, &mut out);
    }
    out
}

fn get_mut<'a>(tree: &'a mut hydrate::Value, path: &[PathSegment]) -> &'a mut hydrate::Value {
    let mut at = tree;
    for seg in path {
        at = match (seg, at) {
            (PathSegment::Key(k), hydrate::Value::Map(m)) => m.get_mut(k).unwrap(),
            (PathSegment::Index(i), hydrate::Value::List(l)) => l.get_mut(*i).unwrap(),
            _ => panic!("no {path:?}"),
        };
    }
    at
}

/// The parent map of the key at `path`, and the key.
fn parent<'a>(tree: &'a mut hydrate::Value, path: &FieldPath) -> (&'a mut hydrate::Map, String) {
    let (PathSegment::Key(last), parents) = path.0.split_last().unwrap() else {
        panic!("a key")
    };
    match get_mut(tree, parents) {
        hydrate::Value::Map(m) => (m, last.clone()),
        _ => panic!("the parent of {path} is a map"),
    }
}

fn set(tree: &hydrate::Value, path: &FieldPath, value: hydrate::Value) -> hydrate::Value {
    let mut t = tree.clone();
    *get_mut(&mut t, &path.0) = value;
    t
}

fn scalar(v: impl Into<ScalarValue>) -> hydrate::Value {
    hydrate::Value::Scalar(v.into())
}

/// The documents that break the key at `site` in every way a writer could.
fn broken(doc: &hydrate::Value, site: &Site) -> Vec<(String, hydrate::Value)> {
    let mut out = Vec::new();
    let mut removed = doc.clone();
    let (m, k) = parent(&mut removed, &site.path);
    m.remove(&k);
    out.push(("deleted".to_owned(), removed));
    out.push((
        "null".to_owned(),
        set(doc, &site.path, scalar(ScalarValue::Null)),
    ));
    match &site.key.shape {
        Shape::Scalar(f) => {
            let wrong = match f.automerge {
                AmType::Str => vec![
                    scalar(7i64),
                    hydrate::Value::text(automerge::TextEncoding::platform_default(), "文本"),
                ],
                AmType::Int => vec![scalar(ScalarValue::Uint(7)), scalar("7")],
                AmType::F64 => vec![scalar(30i64), scalar("30.5")],
                AmType::Bool => vec![scalar("true"), scalar(1i64)],
                AmType::Timestamp => vec![scalar(1_750_000_000_000i64), scalar("2025-06-01")],
                AmType::Bytes => vec![scalar("x"), scalar(7i64)],
            };
            for w in wrong {
                out.push((format!("{w:?}"), set(doc, &site.path, w)));
            }
            out.push((
                "a map".to_owned(),
                set(doc, &site.path, hydrate::Value::map()),
            ));
            let bad = match (f.automerge, f.name) {
                (AmType::Str, "text" | "grid_code") => None,
                (AmType::Str, _) => Some(scalar("bogus value")),
                (AmType::Int, "small_int") => Some(scalar(300i64)),
                _ => None,
            };
            if let Some(b) = bad {
                out.push(("a bad value".to_owned(), set(doc, &site.path, b)));
            }
        }
        Shape::Record(_) | Shape::ValueObject(_) | Shape::Content => {
            out.push(("a string".to_owned(), set(doc, &site.path, scalar("x"))));
            out.push((
                "a list".to_owned(),
                set(doc, &site.path, hydrate::Value::list()),
            ));
        }
        Shape::Entries(..) | Shape::Set(_) => {
            out.push((
                "a list".to_owned(),
                set(doc, &site.path, hydrate::Value::list()),
            ));
            let entry = |k: Option<&str>, value: hydrate::Value| {
                let mut t = doc.clone();
                let hydrate::Value::Map(m) = get_mut(&mut t, &site.path.0) else {
                    panic!("a map")
                };
                let k = k.map_or_else(|| m.keys().next().unwrap().clone(), str::to_owned);
                let conflict = false;
                m.insert(k, hydrate::MapValue { value, conflict });
                t
            };
            let hydrate::Value::Map(m) = get_mut(&mut doc.clone(), &site.path.0).clone() else {
                panic!("a map")
            };
            let sample = m.values().next().unwrap().value.clone();
            out.push(("a bad key".to_owned(), entry(Some("bad key!"), sample)));
            out.push((
                "a value that is a string".to_owned(),
                entry(None, scalar("x")),
            ));
            out.push((
                "a bad key set to false".to_owned(),
                entry(Some("bad key!"), scalar(false)),
            ));
        }
        Shape::List(_) => {
            out.push((
                "a map".to_owned(),
                set(doc, &site.path, hydrate::Value::map()),
            ));
            let hydrate::Value::List(l) = get_mut(&mut doc.clone(), &site.path.0).clone() else {
                panic!("a list")
            };
            let mut items: Vec<hydrate::Value> = l.iter().map(|i| i.value.clone()).collect();
            items.push(scalar("x"));
            out.push((
                "an item that is not a map".to_owned(),
                set(doc, &site.path, items.into()),
            ));
        }
    }
    out
}

#[test]
fn the_key_check_fails_exactly_where_the_typed_views_do() {
    let mut codes = BTreeSet::new();
    let mut cases = 0;
    let docs: Vec<hydrate::Value> = variants()
        .into_iter()
        .map(|(k, a)| tree(&raw_document(k, a)).unwrap())
        .chain(full_documents())
        .collect();
    for doc in &docs {
        let kind = read_any(doc).unwrap().0.kind;
        for site in all_sites(doc) {
            for (how, t) in broken(doc, &site) {
                cases += 1;
                let what = format!("{} {how}", site.path);
                let read = read_any(&t);
                let (problems, rest) = key_problems(&t);
                assert_eq!(
                    read.is_ok(),
                    problems.is_empty(),
                    "{what}: read {read:?}, key problems {problems:?}"
                );
                let Err(e) = read else { continue };
                let said = Issue::from_doc_error(&e);
                assert!(
                    problems
                        .iter()
                        .any(|p| p.path == said.path && p.code == said.code),
                    "{what}: the reader's {} at {} is not among {problems:?}",
                    said.code,
                    said.path
                );
                codes.extend(problems.iter().map(|p| p.code));
                if let Some(rest) = rest {
                    let content = crate::doc::MapReader::root(&rest)
                        .and_then(|r| r.map(key::CONTENT))
                        .and_then(|c| Content::read_from(kind, &c));
                    assert!(
                        content.is_ok(),
                        "{what}: the cut copy does not read: {content:?}"
                    );
                }
                // What the validators report is every problem, and the reader's first.
                let issues = validate_tree(&t);
                assert!(
                    issues
                        .iter()
                        .any(|i| i.path == said.path && i.code == said.code)
                );
            }
        }
    }
    assert!(cases > 1_000, "{cases} cases");
    for c in &codes {
        assert!(
            STRUCTURE_CODES.iter().any(|(code, _)| code == c),
            "{c} is not documented"
        );
    }
}

// ---- Requirements by status, ranges and rules against the validators ----

fn content_path(key: &str) -> FieldPath {
    FieldPath::keys(&[key::CONTENT, key])
}

fn errors_at(issues: &[Issue], code: &str, path: &str) -> bool {
    issues
        .iter()
        .any(|i| i.code == code && i.path == path && i.severity == Severity::Error)
}

#[test]
fn keys_needed_by_status_are_what_the_rules_ask() {
    let mut checked = 0;
    for doc in full_documents() {
        let (header, _) = read_any(&doc).unwrap();
        let kind = SCHEMA.kind(header.kind);
        for (status, _) in kind.statuses() {
            let doc = set(&doc, &content_path("status"), scalar(*status));
            let issues = validate_tree(&doc);
            assert!(!has_errors(&issues), "{status}: {issues:?}");
            for k in kind.content {
                let Some(n) = &k.needed else { continue };
                let path = content_path(k.name);
                let mut t = doc.clone();
                match get_mut(&mut t, &path.0) {
                    hydrate::Value::Map(m) => {
                        let keep: Vec<String> = m.keys().take(n.min - 1).cloned().collect();
                        m.retain(|k, _| keep.contains(k));
                    }
                    hydrate::Value::List(l) => {
                        let items: Vec<hydrate::Value> =
                            l.iter().take(n.min - 1).map(|i| i.value.clone()).collect();
                        t = set(&t, &path, items.into());
                    }
                    hydrate::Value::Scalar(_) | hydrate::Value::Text(_) => {
                        let (m, k) = parent(&mut t, &path);
                        m.remove(&k);
                    }
                }
                let issues = validate_tree(&t);
                assert_eq!(
                    errors_at(&issues, n.rule, &path.to_string()),
                    n.statuses.contains(status),
                    "{} without {} when {status}: {issues:?}",
                    kind.kind.as_str(),
                    k.name
                );
                checked += 1;
            }
        }
    }
    assert!(checked > 20, "{checked}");
}

#[test]
fn ranges_are_what_the_rules_enforce() {
    let mut checked = 0;
    for doc in full_documents() {
        for site in all_sites(&doc) {
            let Some(r) = &site.key.range else { continue };
            let Shape::Scalar(f) = &site.key.shape else {
                panic!("a range on a scalar")
            };
            let value = |v: f64| match f.automerge {
                AmType::F64 => scalar(v),
                _ => scalar(v as i64),
            };
            let step = if f.automerge == AmType::F64 { 0.5 } else { 1.0 };
            let path = site.path.to_string();
            for (v, inside) in [
                (r.min, true),
                (r.max, true),
                (r.min.map(|m| m - step), false),
                (r.max.map(|m| m + step), false),
            ] {
                let Some(v) = v else { continue };
                let issues = validate_tree(&set(&doc, &site.path, value(v)));
                assert_eq!(
                    errors_at(&issues, r.rule, &path),
                    !inside,
                    "{path} = {v}: {issues:?}"
                );
                checked += 1;
            }
        }
    }
    assert!(checked > 20, "{checked}");
}

/// Whether an issue path (from the content map) fits a documented rule path.
fn fits(pattern: &str, path: &str) -> bool {
    let split = |s: &str| -> Vec<String> {
        s.replace('[', ".[")
            .split('.')
            .filter(|p| !p.is_empty())
            .map(str::to_owned)
            .collect()
    };
    let (p, q) = (split(pattern), split(path));
    p.len() == q.len()
        && p.iter().zip(&q).all(|(a, b)| {
            a == b
                || (a.starts_with('<') && !b.starts_with('['))
                || (a == "[<n>]" && b.starts_with('['))
        })
}

/// A number sealed to another server's key.
fn foreign(first17: &str) -> SealedId {
    let n = crate::id_number::IdNumber::parse(&crate::id_number::tests::valid(first17)).unwrap();
    OpenKey::from_bytes([9; 32]).seal_key().seal(&n)
}

/// A number beside the masked form of another.
fn mismatched() -> SealedId {
    SealedId {
        masked: sealed("37028319500101001").masked,
        ..sealed("37028319600101001")
    }
}

/// Documents that break every rule of their kind between them.
fn broken_documents() -> Vec<AutoCommit> {
    let id = DocumentId::from_bytes([9; 16]);
    let mut h = full_household();
    h.address = " ".to_owned();
    {
        let head = h.members.get_mut(&member_id(1)).unwrap();
        head.name = " ".to_owned();
        head.sex = Some(Sex::Female);
        head.birth_date = NaiveDate::from_ymd_opt(1958, 3, 13);
        head.non_resident_reason = None;
        head.disability_grade = Some(7);
        head.disability_kind = None;
        head.self_care_assessments[0].assessor = " ".to_owned();
        let plan = head.care_plan.as_mut().unwrap();
        let agreement = plan.agreement.as_mut().unwrap();
        agreement.caregiver = String::new();
        agreement.ends_on = NaiveDate::from_ymd_opt(2025, 12, 31).unwrap();
        plan.service_standard = Some(" ".to_owned());
    }
    let mut twin = h.members[&member_id(1)].clone();
    twin.name = "王二".to_owned();
    h.members.insert(member_id(4), twin);
    h.members.get_mut(&member_id(2)).unwrap().removed_reason = None;
    h.members.get_mut(&member_id(2)).unwrap().identity = Some(mismatched());
    h.members.get_mut(&member_id(2)).unwrap().birth_date = None;
    for s in h.supporters.values_mut() {
        s.identity = Some(foreign("37028319800101005"));
        s.unable_reason = None;
        s.support_paid_fen = Some(-1);
        s.support_paid_period = None;
    }
    for i in h.income.values_mut() {
        i.member = Some(member_id(99));
        i.amount_fen = -1;
        i.kind = IncomeKind::from_code("含 空格");
    }
    for a in h.assets.values_mut() {
        a.owner = Some(member_id(99));
        a.value_fen = -1;
    }
    for e in h.expenditures.values_mut() {
        e.member = Some(member_id(99));
        e.amount_fen = -1;
    }
    h.decisions[0].amount_fen_per_month = Some(-1);
    let mut headless = full_household();
    headless.members.get_mut(&member_id(1)).unwrap().relation = Relation::Spouse;

    let mut v = full_visit();
    v.purpose = Purpose::Recheck;
    v.mode = VisitMode::Phone;
    v.emergency_reason = None;
    v.ended_at = Some(UnixMillis(1));
    v.member_checks.values_mut().for_each(|c| {
        c.removal_reason = None;
        c.not_signed_reason = None;
    });
    v.members_added
        .values_mut()
        .for_each(|m| m.name = " ".to_owned());
    let mut other = v.members_added[&member_id(3)].clone();
    v.members_added.get_mut(&member_id(3)).unwrap().identity = Some(foreign("37028320200101002"));
    other.identity = Some(mismatched());
    v.members_added.insert(member_id(5), other);
    v.gps = Some(GeoPoint {
        lat: 91.0,
        lon: 181.0,
        accuracy_m: Some(-1.0),
    });
    v.photos.values_mut().for_each(|p| {
        p.gps = Some(GeoPoint {
            lat: 48.85,
            lon: 2.35,
            accuracy_m: None,
        })
    });
    v.investigators.remove(&account("as-2"));
    v.signatures.clear();
    v.signatures.insert(
        blob(13),
        Signature {
            signer_name: "路人".to_owned(),
            role: SignerRole::Family,
            account: None,
            member: Some(member_id(99)),
            signed_at: None,
        },
    );
    v.conclusion = None;
    // A re-check naming a programme applied for, and carrying an application by proxy with
    // neither the proxy's name nor a photo of the power of attorney among its photos, accepted
    // after it started, with neither paper signed.
    v.applied_for = Some(Programme::Dibao);
    // An appraisal whose signed record is not among the photos.
    v.appraisals[0].record_photo = Some(blob(98));
    v.application = Some(Application {
        proxy_name: Some(" ".to_owned()),
        authorisation: Some(blob(99)),
        accepted_on: chrono::NaiveDate::from_ymd_opt(2025, 7, 1).unwrap(),
        pledge_signed: false,
        data_check_authorised: false,
        ..full_application()
    });
    let mut undated = full_visit();
    undated
        .member_checks
        .values_mut()
        .for_each(|c| c.present = false);
    undated.started_at = None;
    undated.ended_at = None;
    undated.status = VisitStatus::Approved;
    undated.reviews.clear();
    undated.report = None;
    // An application's investigation naming no programme.
    let mut unnamed = full_visit();
    unnamed.purpose = Purpose::Investigation;
    unnamed.report = None;

    let [person, _] = full_reports();
    let mut empty = DiscoveryReport::new(account("cadre-7"));
    empty.status = DiscoveryStatus::Submitted;
    empty.gps = v.gps;
    let mut nameless = person.clone();
    nameless.target = Some(Target::Person {
        name: " ".to_owned(),
        identity: Some(foreign("37028319400101002")),
        address: None,
        phone: None,
    });
    nameless.photos = v.photos.clone();
    let mut swapped = person;
    if let Some(Target::Person { identity, .. }) = &mut swapped.target {
        *identity = Some(mismatched());
    }

    vec![
        create(id, SCOPE, &h, None).unwrap(),
        create(id, "../../etc", &headless, None).unwrap(),
        create(id, SCOPE, &v, None).unwrap(),
        create(id, SCOPE, &undated, None).unwrap(),
        create(id, SCOPE, &unnamed, None).unwrap(),
        create(id, SCOPE, &empty, None).unwrap(),
        create(id, SCOPE, &nameless, None).unwrap(),
        create(id, SCOPE, &swapped, None).unwrap(),
    ]
}

#[test]
fn every_rule_is_documented_and_every_documented_rule_is_applied() {
    let mut seen: BTreeMap<&str, BTreeSet<&str>> = BTreeMap::new();
    for doc in broken_documents() {
        let (header, content) = read_any(&tree(&doc).unwrap()).unwrap();
        let kind = SCHEMA.kind(header.kind);
        // The checks the server makes once it opens the numbers count too.
        let opened = open_all(&content, |s| key().open(s))
            .issues
            .into_iter()
            .map(|mut i| {
                i.path = format!("content.{}", i.path);
                i
            });
        for issue in validate_tree(&tree(&doc).unwrap())
            .into_iter()
            .chain(opened)
        {
            let (rules, path) = match issue.path.strip_prefix("content.") {
                Some(p) => (kind.rules, p),
                None => (SCHEMA.root_rules, issue.path.as_str()),
            };
            let rule = rules
                .iter()
                .find(|r| r.code == issue.code && r.paths.iter().any(|p| fits(p, path)))
                .unwrap_or_else(|| {
                    panic!(
                        "{} at {}: not documented for {}",
                        issue.code, issue.path, kind.kind
                    )
                });
            assert_eq!(rule.severity, issue.severity, "{}", issue.code);
            let of = match issue.path.starts_with("content.") {
                true => kind.kind.as_str(),
                false => "root",
            };
            seen.entry(of).or_default().insert(rule.code);
        }
    }
    for k in SCHEMA.kinds {
        let documented: BTreeSet<&str> = k.rules.iter().map(|r| r.code).collect();
        assert_eq!(seen[k.kind.as_str()], documented, "{}", k.kind);
    }
    let root: BTreeSet<&str> = SCHEMA.root_rules.iter().map(|r| r.code).collect();
    assert_eq!(seen["root"], root);
}

// ---- The published forms ----

#[test]
fn docs_schema_md_is_what_the_schema_says() {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../docs/SCHEMA.md");
    let want = markdown();
    if std::env::var("DOUDI_WRITE_SCHEMA").is_ok_and(|v| v == "1") {
        std::fs::write(path, &want).unwrap();
    }
    let have = std::fs::read_to_string(path).unwrap_or_default();
    assert!(
        have == want,
        "docs/SCHEMA.md is not what the schema says: run \
         DOUDI_WRITE_SCHEMA=1 cargo test -p doudi-protocol --lib schema::tests::docs_schema_md_is_what_the_schema_says"
    );
}

#[test]
fn the_json_names_every_format_it_uses() {
    let json = serde_json::to_value(&SCHEMA).unwrap();
    assert_eq!(json["schema"], "1.0");
    let formats = json["formats"].as_object().unwrap();
    fn walk(
        keys: &serde_json::Value,
        formats: &serde_json::Map<String, serde_json::Value>,
    ) -> usize {
        let mut n = 0;
        for k in keys.as_array().unwrap() {
            n += 1;
            for f in ["format", "key_format"] {
                if let Some(name) = k[f].as_str() {
                    assert!(formats.contains_key(name), "{name}");
                }
            }
            if k.get("keys").is_some() {
                n += walk(&k["keys"], formats);
            }
        }
        n
    }
    let mut keys = walk(&json["root"], formats);
    for k in json["kinds"].as_array().unwrap() {
        keys += walk(&k["content"], formats);
    }
    assert!(keys > 150, "{keys} keys");
    assert_eq!(
        formats["Relation"]["codes"][0],
        serde_json::json!({"code": "head", "label_zh": "户主"})
    );
    assert_eq!(formats["timestamp"]["automerge"], "timestamp");
}

// ---- Labels of field paths ----

#[test]
fn every_field_path_reads_in_chinese() {
    for doc in full_documents() {
        let (header, _) = read_any(&doc).unwrap();
        for site in all_sites(&doc) {
            let path = site.path.to_string();
            if matches!(site.key.shape, Shape::Content) {
                continue;
            }
            let label = SCHEMA.label(header.kind, &path);
            assert!(label.ends_with(site.key.label_zh), "{path}: {label}");
            assert!(
                !label.chars().any(|c| c.is_ascii_alphabetic()),
                "{path} keeps a raw key: {label}"
            );
            // Each key of the path gives one part, each list index one more; entry ids none.
            let parts = site
                .path
                .0
                .iter()
                .filter(|s| match s {
                    PathSegment::Index(_) => true,
                    PathSegment::Key(k) => {
                        k != key::CONTENT && SCHEMA.key_label(header.kind, k).is_some()
                    }
                })
                .count();
            assert_eq!(label.split(" · ").count(), parts, "{path}: {label}");
            assert!(
                SCHEMA.key_label(header.kind, site.key.name).is_some(),
                "{path}"
            );
        }
    }
    // What the schema does not know is kept as written, never dropped.
    assert_eq!(
        SCHEMA.label(DocumentKind::Household, "content.unknown_key"),
        "unknown_key"
    );
    assert_eq!(
        SCHEMA.label(DocumentKind::Visit, "content.reviews[2].comment"),
        format!(
            "{} · 第 3 条 · {}",
            SCHEMA.key_label(DocumentKind::Visit, "reviews").unwrap(),
            SCHEMA.key_label(DocumentKind::Visit, "comment").unwrap()
        )
    );
    assert_eq!(SCHEMA.key_label(DocumentKind::Visit, "no_such_key"), None);
}
