//! Round trips, concurrent edits and validation of the three document kinds.

use std::collections::{BTreeMap, BTreeSet};

use automerge::transaction::Transactable;
use automerge::{ActorId, AutoCommit, ReadDoc, ScalarValue};
use chrono::NaiveDate;

use super::household::{
    Decision, DecisionOutcome, Health, HukouType, Member, Period, Programme, Relation, Supporter,
};
use super::schema::tests::{dialysis, dwelling, pension};
use super::validate::has_errors;
use super::visit::{
    AddedMember, Application, ApplicationChannel, Comparison, ComparisonSubject, Conclusion,
    CountyVisit, Investigator, MemberCheck, Review, ReviewOutcome, Signature, SignerRole,
    VisitMode, VisitStatus,
};
use super::*;
use crate::doc::discovery::{Channel, DiscoveryStatus, Target, TargetGroup, Urgency};
use crate::id_number::Sex;
use crate::identity::tests::{key, sealed};
use crate::ids::{AccountId, BlobHash, EntryId, MemberId};

const SCOPE: &str = "370283001001-G01";

fn account(s: &str) -> AccountId {
    AccountId::parse(s).unwrap()
}

fn blob(n: u8) -> BlobHash {
    BlobHash::from_bytes([n; 32])
}

fn actor(n: u8) -> ActorId {
    ActorId::from(vec![n; 16])
}

fn head() -> Member {
    let mut m = Member::new("王建国", Relation::Head);
    m.identity = Some(sealed("37028319580312001"));
    m.sex = Some(Sex::Male);
    m.health = Some(Health::SeriouslyIll);
    m.disease = Some("尿毒症".to_owned());
    m.phone = Some("13800000000".to_owned());
    m
}

fn sample_household() -> (Household, MemberId) {
    let head_id = MemberId::generate().unwrap();
    let mut wife = Member::new("李秀英", Relation::Spouse);
    wife.identity = Some(sealed("37028319600705002"));
    wife.disability_kind = Some(household::DisabilityKind::Physical);
    wife.disability_grade = Some(2);
    wife.work_capacity = Some(household::WorkCapacity::FullyLost);
    let mut son = Member::new("王小明", Relation::Child);
    son.co_resident = false;
    son.non_resident_reason = Some(household::NonResidentReason::Imprisoned);
    let mut members = BTreeMap::new();
    members.insert(head_id, head());
    members.insert(MemberId::generate().unwrap(), wife);
    members.insert(MemberId::generate().unwrap(), son);
    let h = Household {
        address: "青岛市胶州市某镇某村 12 号".to_owned(),
        hukou_type: Some(HukouType::Rural),
        registered_address: None,
        programmes: BTreeSet::from([Programme::Dibao, Programme::Monitored]),
        members,
        supporters: BTreeMap::from([(
            EntryId::generate().unwrap(),
            Supporter {
                name: "王大明".to_owned(),
                relation: "长子".to_owned(),
                identity: None,
                able_to_support: Some(false),
                unable_reason: Some("本人重残".to_owned()),
                support_paid_fen: Some(0),
                support_paid_period: Some(Period::Month),
            },
        )]),
        income: BTreeMap::from([(EntryId::generate().unwrap(), pension(head_id))]),
        assets: BTreeMap::from([(EntryId::generate().unwrap(), dwelling(head_id))]),
        expenditures: BTreeMap::from([(EntryId::generate().unwrap(), dialysis(head_id))]),
        decisions: vec![Decision {
            at: UnixMillis(1_700_000_000_000),
            programme: Some(Programme::Dibao),
            outcome: DecisionOutcome::Approved,
            amount_fen_per_month: Some(105_000),
            by: account("county-01"),
            reference: Some("胶民〔2025〕12号".to_owned()),
            note: None,
            effective_from: chrono::NaiveDate::from_ymd_opt(2023, 12, 1),
            visit: Some(DocumentId::from_bytes([7; 16])),
            household_size: Some(2),
            notice_date: None,
            months: None,
        }],
    };
    (h, head_id)
}

fn sample_visit() -> Visit {
    let mut v = Visit::new(DocumentId::generate().unwrap(), visit::Purpose::Recheck);
    v.started_at = Some(UnixMillis(1_750_000_000_000));
    v.ended_at = Some(UnixMillis(1_750_001_800_000));
    for (acct, name, n) in [("gw-1", "张网格", 10u8), ("as-2", "刘协理", 11)] {
        v.investigators.insert(
            account(acct),
            Investigator {
                name: name.to_owned(),
            },
        );
        v.signatures.insert(
            blob(n),
            Signature {
                signer_name: name.to_owned(),
                role: SignerRole::Investigator,
                account: Some(account(acct)),
                member: None,
                signed_at: v.ended_at,
            },
        );
    }
    let present = MemberId::generate().unwrap();
    v.signatures.insert(
        blob(12),
        Signature {
            signer_name: "王建国".to_owned(),
            role: SignerRole::Family,
            account: None,
            member: Some(present),
            signed_at: v.ended_at,
        },
    );
    v.member_checks.insert(
        present,
        MemberCheck {
            present: true,
            confirmed: true,
            ..MemberCheck::default()
        },
    );
    v.members_added.insert(
        MemberId::generate().unwrap(),
        AddedMember {
            name: "王小花".to_owned(),
            identity: Some(sealed("37028320200101002")),
            relation: Relation::Grandchild,
            note: None,
        },
    );
    v.living.food = Some("粮食充足".to_owned());
    v.living.housing = Some("砖房，屋顶漏雨".to_owned());
    v.comparisons.insert(
        EntryId::generate().unwrap(),
        Comparison {
            subject: ComparisonSubject::Income,
            description: "务工收入".to_owned(),
            declared_fen: Some(100_000),
            observed_fen: Some(150_000),
            note: None,
        },
    );
    v.conclusion = Some(Conclusion::PartlyAccurate);
    v.conclusion_notes = Some("务工收入高于申报".to_owned());
    v.photos.insert(
        blob(20),
        Photo {
            category: PhotoCategory::Kitchen,
            caption: Some("厨房".to_owned()),
            captured_at: UnixMillis(1_750_000_600_000),
            gps: Some(GeoPoint {
                lat: 36.26,
                lon: 120.03,
                accuracy_m: Some(8.0),
            }),
        },
    );
    v.gps = Some(GeoPoint {
        lat: 36.26,
        lon: 120.03,
        accuracy_m: None,
    });
    v.status = VisitStatus::Submitted;
    v.submitted_at = v.ended_at;
    v
}

fn sample_report() -> DiscoveryReport {
    let mut r = DiscoveryReport::new(account("cadre-7"));
    r.reporter_name = Some("赵村委".to_owned());
    r.reported_at = Some(UnixMillis(1_750_000_000_000));
    r.channel = Some(Channel::Visit);
    r.target = Some(Target::Person {
        name: "孙奶奶".to_owned(),
        identity: None,
        address: Some("村东头".to_owned()),
        phone: None,
    });
    r.target_groups = BTreeSet::from([TargetGroup::Elderly, TargetGroup::Ill]);
    r.urgency = Some(Urgency::Urgent);
    r.emergency_24h = true;
    r.notes = Some("独居，行动不便".to_owned());
    r.gps = Some(GeoPoint {
        lat: 36.3,
        lon: 120.0,
        accuracy_m: None,
    });
    r.status = DiscoveryStatus::Submitted;
    r
}

fn round_trip<C: DocumentContent + PartialEq + std::fmt::Debug>(content: &C) {
    let id = DocumentId::generate().unwrap();
    let mut doc = create(id, SCOPE, content, Some(actor(1))).unwrap();
    let bytes = doc.save();
    let loaded = load(&bytes).unwrap();
    let (header, back) = read::<C, _>(&loaded).unwrap();
    assert_eq!(
        header,
        Header {
            kind: C::KIND,
            schema: CURRENT_SCHEMA,
            scope: SCOPE.to_owned(),
            id
        }
    );
    assert_eq!(&back, content);
    let (any_header, any) = read_any(&tree(&loaded).unwrap()).unwrap();
    assert_eq!((any_header, any.kind()), (header, C::KIND));
    let issues = same_issues_read_once(&loaded);
    assert!(!has_errors(&issues), "{issues:#?}");
}

#[test]
fn each_kind_round_trips() {
    round_trip(&sample_household().0);
    round_trip(&sample_visit());
    round_trip(&sample_report());
    let mut r = sample_report();
    r.target = Some(Target::Household(DocumentId::generate().unwrap()));
    round_trip(&r);
    round_trip(&Household {
        address: "最小的户".to_owned(),
        ..Household::default()
    });
}

#[test]
fn rewriting_the_same_content_writes_nothing() {
    let (h, _) = sample_household();
    let mut doc = create(DocumentId::generate().unwrap(), SCOPE, &h, None).unwrap();
    write(&mut doc, &h).unwrap();
    assert_eq!(doc.commit(), None);
    let v = sample_visit();
    let mut doc = create(DocumentId::generate().unwrap(), SCOPE, &v, None).unwrap();
    write(&mut doc, &v).unwrap();
    assert_eq!(doc.commit(), None);
}

/// Two replicas of one household forked from a common base, with their own actors.
fn two_replicas() -> (AutoCommit, AutoCommit, Household, MemberId) {
    let (h, head_id) = sample_household();
    let mut base = create(DocumentId::generate().unwrap(), SCOPE, &h, Some(actor(1))).unwrap();
    let a = base.fork().with_actor(actor(0xa));
    let b = base.fork().with_actor(actor(0xb));
    (a, b, h, head_id)
}

fn edit(doc: &mut AutoCommit, f: impl FnOnce(&mut Household)) {
    let (_, mut h) = read::<Household, _>(doc).unwrap();
    f(&mut h);
    write(doc, &h).unwrap();
    doc.commit();
}

/// Merge in both orders; both results must be identical. Returns one of them.
fn merge_both_ways(a: &AutoCommit, b: &AutoCommit) -> AutoCommit {
    let (mut a1, mut b1) = (a.clone(), b.clone());
    let (mut a2, mut b2) = (a.clone(), b.clone());
    a1.merge(&mut b1).unwrap();
    b2.merge(&mut a2).unwrap();
    assert_eq!(a1.get_heads(), b2.get_heads());
    let r1 = read::<Household, _>(&a1).unwrap();
    let r2 = read::<Household, _>(&b2).unwrap();
    assert_eq!(r1, r2);
    assert_eq!(
        conflicts::conflicts(&a1).unwrap(),
        conflicts::conflicts(&b2).unwrap()
    );
    a1
}

#[test]
fn concurrent_edits_of_different_fields_both_survive() {
    let (mut a, mut b, _, head_id) = two_replicas();
    edit(&mut a, |h| h.address = "新地址 1 号".to_owned());
    edit(&mut b, |h| {
        h.hukou_type = Some(HukouType::Urban);
        h.members.get_mut(&head_id).unwrap().phone = Some("13911112222".to_owned());
    });
    let merged = merge_both_ways(&a, &b);
    let (_, h) = read::<Household, _>(&merged).unwrap();
    assert_eq!(h.address, "新地址 1 号");
    assert_eq!(h.hukou_type, Some(HukouType::Urban));
    assert_eq!(h.members[&head_id].phone.as_deref(), Some("13911112222"));
    assert_eq!(conflicts::conflicts(&merged).unwrap(), vec![]);
    assert!(!conflicts::any(&tree(&merged).unwrap()));
}

#[test]
fn concurrent_edits_of_one_field_show_both_values() {
    let (mut a, mut b, _, head_id) = two_replicas();
    edit(&mut a, |h| {
        h.members.get_mut(&head_id).unwrap().name = "王建国A".to_owned()
    });
    edit(&mut b, |h| {
        h.members.get_mut(&head_id).unwrap().name = "王健国".to_owned()
    });
    let mut merged = merge_both_ways(&a, &b);
    let found = conflicts::conflicts(&merged).unwrap();
    assert_eq!(found.len(), 1, "{found:#?}");
    assert!(conflicts::any(&tree(&merged).unwrap()));
    let c = &found[0];
    assert_eq!(
        c.path.to_string(),
        format!("content.members.{head_id}.name")
    );
    let mut shown: Vec<&str> = c.values.iter().map(|v| v.display.as_str()).collect();
    shown.sort();
    assert_eq!(shown, ["王健国", "王建国A"]);
    assert_eq!(c.values.iter().filter(|v| v.visible).count(), 1);
    let actors: BTreeSet<_> = c.values.iter().filter_map(|v| v.actor.clone()).collect();
    assert_eq!(
        actors,
        BTreeSet::from([actor(0xa).to_hex_string(), actor(0xb).to_hex_string()])
    );
    // The visible value is the same whichever order the merge ran in (checked above) and the
    // typed read shows it.
    let visible = c.values.iter().find(|v| v.visible).unwrap().display.clone();
    assert_eq!(
        read::<Household, _>(&merged).unwrap().1.members[&head_id].name,
        visible
    );

    // A reviewer's choice clears the conflict.
    conflicts::resolve(&mut merged, &c.path, ScalarValue::from("王建国")).unwrap();
    merged.commit();
    assert_eq!(conflicts::conflicts(&merged).unwrap(), vec![]);
    assert!(!conflicts::any(&tree(&merged).unwrap()));
    assert_eq!(
        read::<Household, _>(&merged).unwrap().1.members[&head_id].name,
        "王建国"
    );
}

#[test]
fn concurrently_added_members_are_both_kept() {
    let (mut a, mut b, h0, _) = two_replicas();
    let (ma, mb) = (MemberId::generate().unwrap(), MemberId::generate().unwrap());
    edit(&mut a, |h| {
        h.members
            .insert(ma, Member::new("新成员甲", Relation::Grandchild));
    });
    edit(&mut b, |h| {
        h.members
            .insert(mb, Member::new("新成员乙", Relation::ChildInLaw));
    });
    let merged = merge_both_ways(&a, &b);
    let (_, h) = read::<Household, _>(&merged).unwrap();
    assert_eq!(h.members.len(), h0.members.len() + 2);
    assert_eq!(h.members[&ma].name, "新成员甲");
    assert_eq!(h.members[&mb].name, "新成员乙");
    assert!(!has_errors(&validate(&merged)));
}

fn spouse_of(doc: &AutoCommit) -> MemberId {
    let (_, h) = read::<Household, _>(doc).unwrap();
    let found = h
        .members
        .iter()
        .find(|(_, m)| m.relation == Relation::Spouse);
    *found.unwrap().0
}

#[test]
fn deleting_a_member_wins_over_a_concurrent_edit_of_it() {
    let (mut a, mut b, _, head_id) = two_replicas();
    let wife = spouse_of(&a);
    edit(&mut a, |h| {
        h.members.remove(&wife);
    });
    edit(&mut b, |h| {
        h.members.get_mut(&wife).unwrap().disease = Some("高血压".to_owned())
    });
    let merged = merge_both_ways(&a, &b);
    let (_, h) = read::<Household, _>(&merged).unwrap();
    // Deletion removes the entry's key; the edit went into the entry's map, which is no longer
    // reachable. Every replica ends the same way, and the document stays valid.
    assert!(!h.members.contains_key(&wife));
    assert!(h.members.contains_key(&head_id));
    assert!(!has_errors(&validate(&merged)), "{:#?}", validate(&merged));
}

#[test]
fn removing_a_member_keeps_a_concurrent_edit() {
    let (mut a, mut b, _, _) = two_replicas();
    let wife = spouse_of(&a);
    edit(&mut a, |h| {
        let m = h.members.get_mut(&wife).unwrap();
        m.removed_at = Some(UnixMillis(1_760_000_000_000));
        m.removed_reason = Some("死亡".to_owned());
    });
    edit(&mut b, |h| {
        h.members.get_mut(&wife).unwrap().disease = Some("高血压".to_owned())
    });
    let merged = merge_both_ways(&a, &b);
    let (_, h) = read::<Household, _>(&merged).unwrap();
    let m = &h.members[&wife];
    assert!(!m.is_current());
    assert_eq!(m.disease.as_deref(), Some("高血压"));
    assert!(!has_errors(&validate(&merged)));
}

fn codes(issues: &[Issue]) -> Vec<&'static str> {
    issues.iter().map(|i| i.code).collect()
}

/// The issues of a new document holding `content`, checked to be the same whether the
/// document is validated from its tree or from its content read once ([`read_any`]).
fn issues_of<C: DocumentContent>(content: &C) -> Vec<Issue> {
    let doc = create(DocumentId::generate().unwrap(), SCOPE, content, None).unwrap();
    same_issues_read_once(&doc)
}

fn same_issues_read_once(doc: &AutoCommit) -> Vec<Issue> {
    let issues = validate(doc);
    let tree = tree(doc).unwrap();
    let (header, content) = read_any(&tree).unwrap();
    assert_eq!(validate_content(&header, &content), issues);
    // (Content is compared by its header: a NaN coordinate never equals itself.)
    let (read, checked) = read_checked(&tree);
    assert_eq!((read.map(|r| r.0), &checked), (Some(header), &issues));
    issues
}

#[test]
fn visit_rules() {
    let v = sample_visit();
    assert!(!has_errors(&issues_of(&v)));

    let mut one = v.clone();
    one.investigators.remove(&account("as-2"));
    let issues = issues_of(&one);
    assert!(codes(&issues).contains(&"visit.investigators_min"));
    let i = issues
        .iter()
        .find(|i| i.code == "visit.investigators_min")
        .unwrap();
    assert_eq!(i.path, "content.investigators");
    assert!(!i.message_zh.is_empty() && !i.message_en.is_empty());
    // A draft may have one investigator.
    one.status = VisitStatus::Draft;
    assert!(!codes(&issues_of(&one)).contains(&"visit.investigators_min"));

    let mut phone = v.clone();
    phone.mode = VisitMode::Phone;
    assert!(codes(&issues_of(&phone)).contains(&"visit.remote_needs_emergency"));
    phone.emergency_reason = Some("暴雨封路".to_owned());
    assert!(!has_errors(&issues_of(&phone)));

    let mut unsigned = v.clone();
    unsigned
        .signatures
        .retain(|_, s| s.role != SignerRole::Investigator);
    assert_eq!(
        codes(&issues_of(&unsigned))
            .iter()
            .filter(|c| **c == "visit.investigator_signature_missing")
            .count(),
        2
    );

    // DB2021 art. 16: each family member present signs, or the visit says why not; one
    // signature of any family member is not enough.
    let mut second = v.clone();
    let wife = MemberId::generate().unwrap();
    second.member_checks.insert(
        wife,
        MemberCheck {
            present: true,
            ..MemberCheck::default()
        },
    );
    let issues = issues_of(&second);
    let missing: Vec<&Issue> = issues
        .iter()
        .filter(|i| i.code == "visit.family_signature_missing")
        .collect();
    assert_eq!(missing.len(), 1, "{issues:?}");
    assert_eq!(missing[0].path, format!("content.member_checks.{wife}"));
    assert_eq!(missing[0].severity, Severity::Error);
    // A draft is not held to it.
    let mut draft = second.clone();
    draft.status = VisitStatus::Draft;
    assert!(!codes(&issues_of(&draft)).contains(&"visit.family_signature_missing"));
    // Her signature, or the reason she did not sign, settles it.
    let mut signed = second.clone();
    signed.signatures.insert(
        blob(13),
        Signature {
            signer_name: "李秀英".to_owned(),
            role: SignerRole::Family,
            account: None,
            member: Some(wife),
            signed_at: v.ended_at,
        },
    );
    assert!(!has_errors(&issues_of(&signed)));
    let mut refused = second.clone();
    refused
        .member_checks
        .get_mut(&wife)
        .unwrap()
        .not_signed_reason = Some("拒绝签字".to_owned());
    assert!(!has_errors(&issues_of(&refused)));
    // A member absent from the visit does not sign.
    let mut absent = second.clone();
    absent.member_checks.get_mut(&wife).unwrap().present = false;
    assert!(!has_errors(&issues_of(&absent)));
    // Nobody recorded present: a warning.
    let mut nobody = v.clone();
    nobody
        .member_checks
        .values_mut()
        .for_each(|c| c.present = false);
    let issues = issues_of(&nobody);
    assert!(codes(&issues).contains(&"visit.no_member_present"));
    assert!(!has_errors(&issues));
    // A family signature names a member of this visit.
    let mut stranger = signed.clone();
    stranger.signatures.get_mut(&blob(13)).unwrap().member = Some(MemberId::generate().unwrap());
    let c = codes(&issues_of(&stranger));
    assert!(c.contains(&"visit.signer_unknown") && c.contains(&"visit.family_signature_missing"));

    let mut incomplete = v.clone();
    incomplete.conclusion = None;
    incomplete.ended_at = None;
    let c = codes(&issues_of(&incomplete));
    assert!(c.contains(&"visit.conclusion_required"));
    assert!(c.contains(&"visit.ended_at_required"));

    let mut backwards = v.clone();
    backwards.ended_at = Some(UnixMillis(0));
    assert!(codes(&issues_of(&backwards)).contains(&"visit.time_order"));

    let mut approved = v.clone();
    approved.status = VisitStatus::Approved;
    assert!(codes(&issues_of(&approved)).contains(&"visit.review_required"));
    approved.reviews.push(Review {
        reviewer: account("town-3"),
        reviewer_name: "陈审核".to_owned(),
        decision: ReviewOutcome::Approve,
        comment: None,
        at: UnixMillis(1_750_100_000_000),
    });
    assert!(!has_errors(&issues_of(&approved)));
}

#[test]
fn gps_rules() {
    let mut v = sample_visit();
    v.gps = Some(GeoPoint {
        lat: 91.0,
        lon: 181.0,
        accuracy_m: None,
    });
    let issues = issues_of(&v);
    let c = codes(&issues);
    assert!(c.contains(&"gps.latitude_range") && c.contains(&"gps.longitude_range"));
    assert!(issues.iter().any(|i| i.path == "content.gps.lat"));

    v.gps = Some(GeoPoint {
        lat: f64::NAN,
        lon: 0.0,
        accuracy_m: None,
    });
    assert!(codes(&issues_of(&v)).contains(&"gps.latitude_range"));

    // Outside China is a warning only.
    v.gps = Some(GeoPoint {
        lat: 48.85,
        lon: 2.35,
        accuracy_m: None,
    });
    let issues = issues_of(&v);
    assert!(!has_errors(&issues));
    let w = issues
        .iter()
        .find(|i| i.code == "gps.outside_china")
        .unwrap();
    assert_eq!(w.severity, Severity::Warning);

    let mut r = sample_report();
    let photo = Photo {
        category: PhotoCategory::DwellingOutside,
        caption: None,
        captured_at: UnixMillis(1),
        gps: Some(GeoPoint {
            lat: 0.0,
            lon: -200.0,
            accuracy_m: None,
        }),
    };
    r.photos.insert(blob(3), photo);
    let issues = issues_of(&r);
    let i = issues
        .iter()
        .find(|i| i.code == "gps.longitude_range")
        .unwrap();
    assert_eq!(i.path, format!("content.photos.{}.gps.lon", blob(3)));
}

#[test]
fn household_rules() {
    let (h, head_id) = sample_household();
    let member_path = |field: &str| format!("content.members.{head_id}.{field}");

    let mut wrong_sex = h.clone();
    wrong_sex.members.get_mut(&head_id).unwrap().sex = Some(Sex::Female);
    let issues = issues_of(&wrong_sex);
    let i = issues
        .iter()
        .find(|i| i.code == "id_number.sex_mismatch")
        .unwrap();
    assert_eq!(i.path, member_path("sex"));

    let mut wrong_birth = h.clone();
    wrong_birth.members.get_mut(&head_id).unwrap().birth_date =
        NaiveDate::from_ymd_opt(1958, 3, 13);
    let i = issues_of(&wrong_birth)
        .into_iter()
        .find(|i| i.code == "id_number.birth_date_recorded")
        .unwrap();
    assert_eq!(i.path, member_path("birth_date"));
    // Without a number a recorded birth date is what it is.
    let mut no_number = wrong_birth.clone();
    no_number.members.get_mut(&head_id).unwrap().identity = None;
    assert!(!has_errors(&issues_of(&no_number)));

    let mut two_heads = h.clone();
    two_heads.members.insert(
        MemberId::generate().unwrap(),
        Member::new("另一户主", Relation::Head),
    );
    assert!(codes(&issues_of(&two_heads)).contains(&"household.multiple_heads"));

    let mut dup = h.clone();
    let mut twin = head();
    twin.relation = Relation::Sibling;
    let twin_id = MemberId::generate().unwrap();
    dup.members.insert(twin_id, twin);
    // Masked forms alike say nothing (two people may share region and last four): the server
    // finds the duplicate once it opens the numbers.
    assert!(!has_errors(&issues_of(&dup)));
    let opened = identity::open_all(&Content::Household(dup.clone()), |s| key().open(s));
    assert_eq!(codes(&opened.issues), ["member.duplicate_id_number"]);
    assert!(opened.issues[0].path.ends_with(".identity"));
    assert_eq!(opened.numbers.len(), 3);
    // A removed member may share the number of a current one.
    dup.members.get_mut(&twin_id).unwrap().removed_reason = Some("迁出".to_owned());
    let opened = identity::open_all(&Content::Household(dup), |s| key().open(s));
    assert!(opened.issues.is_empty());

    let mut bad = h.clone();
    {
        let m = bad.members.get_mut(&head_id).unwrap();
        m.co_resident = false;
        m.disability_kind = Some(household::DisabilityKind::Visual);
        m.disability_grade = Some(5);
    }
    for item in bad.income.values_mut() {
        item.kind = household::IncomeKind::from_code("");
        item.amount_fen = -1;
        item.member = Some(MemberId::generate().unwrap());
    }
    bad.address = " ".to_owned();
    let c = codes(&issues_of(&bad));
    for code in [
        "member.non_resident_reason_required",
        "member.disability_grade_range",
        "income.kind_invalid",
        "money.negative",
        "member.unknown",
        "household.address_required",
    ] {
        assert!(c.contains(&code), "{code} missing from {c:?}");
    }
}

#[test]
fn discovery_rules() {
    assert!(!has_errors(&issues_of(&sample_report())));
    let mut r = DiscoveryReport::new(account("cadre-7"));
    assert!(!has_errors(&issues_of(&r)), "a draft may be empty");
    r.status = DiscoveryStatus::Submitted;
    let c = codes(&issues_of(&r));
    for code in [
        "discovery.channel_required",
        "discovery.target_required",
        "discovery.target_groups_required",
        "discovery.urgency_required",
    ] {
        assert!(c.contains(&code), "{code} missing from {c:?}");
    }
}

#[test]
fn stored_invalid_masked_number_is_reported_at_its_field() {
    let (h, head_id) = sample_household();
    let mut doc = create(DocumentId::generate().unwrap(), SCOPE, &h, None).unwrap();
    let member = head_id.to_string();
    put_at(
        &mut doc,
        &["content", "members", &member, "identity", "masked"],
        "370283195803120013",
    );
    let issues = validate(&doc);
    assert_eq!(codes(&issues), ["id_number.masked_format"]);
    assert_eq!(
        issues[0].path,
        format!("content.members.{head_id}.identity.masked")
    );
    assert!(issues[0].message_zh.ends_with("身份证号掩码格式错误"));
}

#[test]
fn clear_numbers_of_earlier_documents_are_sealed_in_place() {
    let (mut h, head_id) = sample_household();
    for m in h.members.values_mut() {
        m.identity = None;
    }
    let mut doc = create(DocumentId::generate().unwrap(), SCOPE, &h, None).unwrap();
    let member = head_id.to_string();
    let number = crate::id_number::tests::valid("37028319580312001");
    // As the first version wrote it: the number in clear, the birth date beside it.
    put_at(
        &mut doc,
        &["content", "members", &member, "id_number"],
        number.as_str(),
    );
    put_at(
        &mut doc,
        &["content", "members", &member, "birth_date"],
        "1958-03-12",
    );
    let before = doc.get_heads();
    assert_eq!(
        identity::seal_clear_numbers(&mut doc, &key().seal_key()).unwrap(),
        1
    );
    doc.commit();
    let (_, read): (_, Household) = read(&doc).unwrap();
    let m = &read.members[&head_id];
    assert_eq!(m.birth_date, None);
    let id = m.identity.as_ref().unwrap();
    assert_eq!(key().open(id).unwrap().expose(), number);
    assert!(!has_errors(&validate(&doc)));
    let content = doc.get(automerge::ROOT, "content").unwrap().unwrap().1;
    let members = doc.get(&content, "members").unwrap().unwrap().1;
    let obj = doc.get(&members, member.as_str()).unwrap().unwrap().1;
    assert!(doc.get(&obj, "id_number").unwrap().is_none());
    // The history still holds the clear value: only the current state changed.
    let old = doc.get_at(&obj, "id_number", &before).unwrap().unwrap().0;
    assert_eq!(old.as_str(), Some(number.as_str()));
    // Nothing left to seal: nothing written.
    assert_eq!(
        identity::seal_clear_numbers(&mut doc, &key().seal_key()).unwrap(),
        0
    );
}

/// Write a raw value at a path of map keys, bypassing the typed views (as a faulty or hostile
/// client could).
fn put_at(doc: &mut AutoCommit, path: &[&str], value: impl Into<ScalarValue>) {
    conflicts::resolve(doc, &FieldPath::keys(path), value.into()).unwrap();
    doc.commit();
}

#[test]
fn malformed_documents_give_errors_not_panics() {
    let (h, _) = sample_household();
    let fresh = || create(DocumentId::generate().unwrap(), SCOPE, &h, None).unwrap();

    let mut doc = fresh();
    put_at(&mut doc, &["content", "address"], 42i64);
    assert_eq!(
        read::<Household, _>(&doc).unwrap_err(),
        DocError::WrongType {
            path: "content.address".to_owned(),
            expected: "a string"
        }
    );
    assert_eq!(codes(&validate(&doc)), ["doc.wrong_type"]);

    let mut doc = fresh();
    doc.delete(
        doc.get(automerge::ROOT, "content").unwrap().unwrap().1,
        "address",
    )
    .unwrap();
    doc.commit();
    assert_eq!(
        read::<Household, _>(&doc).unwrap_err(),
        DocError::Missing {
            path: "content.address".to_owned()
        }
    );

    let mut doc = fresh();
    put_at(&mut doc, &["content", "hukou_type"], "martian");
    assert!(matches!(
        read::<Household, _>(&doc).unwrap_err(),
        DocError::Invalid {
            code: "code.unknown",
            ..
        }
    ));

    let mut doc = fresh();
    put_at(&mut doc, &["content", "members"], "not a map");
    assert!(matches!(
        read::<Household, _>(&doc).unwrap_err(),
        DocError::WrongType { .. }
    ));

    assert!(read::<Household, _>(&AutoCommit::new()).is_err());
    let empty = validate(&AutoCommit::new());
    assert_eq!(
        empty
            .iter()
            .map(|i| (i.path.as_str(), i.code))
            .collect::<Vec<_>>(),
        [
            ("kind", "doc.missing"),
            ("schema", "doc.missing"),
            ("scope", "doc.missing"),
            ("id", "doc.missing"),
        ],
        "every missing root key"
    );
    assert!(load(b"not automerge").is_err());
    assert!(matches!(
        read::<Visit, _>(&fresh()).unwrap_err(),
        DocError::WrongKind {
            expected: "visit",
            found: "household"
        }
    ));
}

/// Found by the `validate_document` fuzz target: automerge 0.12 panics (an unwrap in its
/// run-length decoder) loading this document, whose checksum is right but one of whose columns
/// ends in the middle of a run.
#[test]
fn load_refuses_a_document_the_decoder_panics_on() {
    let bytes = include_bytes!("../../tests/fixtures/load-panics-on-bad-run.automerge");
    let err = load(bytes).unwrap_err();
    assert!(matches!(err, DocError::Automerge(_)), "{err:?}");
    assert_eq!(Issue::from_doc_error(&err).code, "doc.corrupt");
}

/// Found by the `push_changes` fuzz target: a compressed change without operations whose bytes
/// are not those automerge writes for it, pushed onto a stored visit. Automerge applies it under
/// the hash of the bytes it was given but saves it re-encoded, so the saved document no longer
/// loads (its heads do not match): a server that stored it could not read the document again.
#[test]
fn parse_change_refuses_bytes_automerge_would_not_write() {
    let bytes = include_bytes!("../../tests/fixtures/non-canonical-empty-change.bin");
    let stored = include_bytes!("../../tests/fixtures/visit-under-non-canonical-change.automerge");
    // What taking it as it is does.
    let change = automerge::Change::try_from(&bytes[..]).unwrap();
    let mut doc = automerge::Automerge::load(stored).unwrap();
    doc.apply_changes([change]).unwrap();
    assert!(automerge::Automerge::load(&doc.save()).is_err());

    assert!(matches!(parse_change(bytes), Err(DocError::Automerge(_))));
    // The changes automerge writes, compressed or not, parse.
    let mut phone = load(stored).unwrap().with_actor(actor(7));
    let before = phone.get_heads();
    let (_, mut visit) = read::<Visit, _>(&phone).unwrap();
    visit.living.housing = Some("砖房".repeat(100));
    write(&mut phone, &visit).unwrap();
    phone.commit();
    let mut change = phone.get_changes(&before).pop().unwrap();
    assert_eq!(
        parse_change(change.raw_bytes()).unwrap().hash(),
        change.hash()
    );
    assert!(
        change.bytes().len() < change.raw_bytes().len(),
        "compressed"
    );
    assert_eq!(parse_change(&change.bytes()).unwrap().hash(), change.hash());
}

/// Found by the `validate_document` fuzz target: a document of a few hundred bytes whose objects
/// nest thousands of levels deep (run-length encoding makes such a chain cheap) overflowed the
/// stack in automerge's `hydrate`, which [`tree`] and so every reading and validation call: an
/// overflow ends the process, whatever catches panics. Such a document is refused before the walk.
#[test]
fn deeply_nested_objects_are_refused_before_they_overflow_the_stack() {
    let (h, _) = sample_household();
    let mut doc = create(DocumentId::generate().unwrap(), SCOPE, &h, None).unwrap();
    let mut obj = automerge::ROOT;
    for _ in 0..50_000 {
        obj = doc.put_object(&obj, "x", automerge::ObjType::Map).unwrap();
    }
    doc.commit();
    let err = tree(&doc).unwrap_err();
    assert!(matches!(err, DocError::Automerge(_)), "{err:?}");
    assert_eq!(codes(&validate(&doc)), ["doc.corrupt"]);
    // The documents of this project nest a few levels deep and read as before.
    let doc = create(DocumentId::generate().unwrap(), SCOPE, &h, None).unwrap();
    assert!(tree(&doc).is_ok());
}

/// [`tree_grown`] decides the nesting limit as [`tree`] does: a document `made` objects grew
/// from a checked state reads the same, is refused at the same depth, and hydrating it at the
/// deepest it hydrates directly fits a thread's default stack (2 MiB, unoptimised frames).
#[test]
fn tree_grown_agrees_with_tree_on_the_nesting_limit() {
    use crate::doc::access::{HYDRATE_DEPTH, MAX_DEPTH};
    let nested = |levels: usize| {
        let (h, _) = sample_household();
        let mut doc = create(DocumentId::generate().unwrap(), SCOPE, &h, None).unwrap();
        let mut obj = automerge::ROOT;
        for _ in 0..levels {
            obj = doc.put_object(&obj, "x", automerge::ObjType::Map).unwrap();
        }
        doc.put(&obj, "leaf", "叶").unwrap();
        doc.commit();
        doc
    };
    for levels in [0, 1, MAX_DEPTH - 1, MAX_DEPTH, MAX_DEPTH + 1, 3 * MAX_DEPTH] {
        let doc = nested(levels);
        let expected = tree(&doc).ok();
        assert_eq!(expected.is_some(), levels <= MAX_DEPTH, "{levels} levels");
        for made in [levels, HYDRATE_DEPTH] {
            assert_eq!(
                tree_grown(&doc, made).ok(),
                expected,
                "{levels} levels, {made} made"
            );
        }
    }
    let deepest = HYDRATE_DEPTH - MAX_DEPTH;
    let doc = nested(deepest);
    let read = std::thread::Builder::new()
        .stack_size(2 << 20)
        .spawn(move || tree_grown(&doc, deepest).is_err())
        .unwrap()
        .join()
        .unwrap();
    assert!(read, "refused, without overflowing the stack");
}

/// Found by the `validate_document` fuzz target (a timeout): automerge spends seconds to minutes
/// decoding the columns of this bundle chunk, a kind of chunk this project never writes, before
/// it can tell that a bundle is not a change; a device pushing a few of them would keep the
/// server's cores busy. Both readers refuse chunks other than documents and changes before
/// automerge decodes them.
#[test]
fn bundles_are_refused_before_they_are_decoded() {
    let bytes = include_bytes!("../../tests/fixtures/slow-bundle.bin");
    let start = std::time::Instant::now();
    assert!(matches!(parse_change(bytes), Err(DocError::Automerge(_))));
    assert!(matches!(load(bytes), Err(DocError::Automerge(_))));
    assert!(start.elapsed().as_millis() < 100, "{:?}", start.elapsed());
}

/// A household saved, then its address edited to `len` bytes of repeated text, and that change:
/// DEFLATE shrinks it about a thousandfold.
fn long_address_change(len: usize) -> (Vec<u8>, AutoCommit, automerge::Change) {
    let (h, _) = sample_household();
    let mut doc = create(DocumentId::generate().unwrap(), SCOPE, &h, Some(actor(7))).unwrap();
    let saved = doc.save();
    let before = doc.get_heads();
    let (_, mut edited) = read::<Household, _>(&doc).unwrap();
    edited.address = "某".repeat(len / 3);
    write(&mut doc, &edited).unwrap();
    doc.commit();
    let change = doc.get_changes(&before).pop().unwrap().clone();
    (saved, doc, change)
}

/// Automerge inflates a compressed change whole, however large it grows: a pushed change of a
/// few kilobytes could take gigabytes of the server's memory. A change may take
/// `MAX_CHANGE_BYTES` inflated; a larger one is refused, compressed or not, before automerge
/// sees it.
#[test]
fn a_change_that_inflates_past_the_limit_is_refused() {
    let (_, _, mut large) = long_address_change(MAX_CHANGE_BYTES + 1024);
    let compressed = large.bytes().into_owned();
    assert!(compressed.len() < 64 * 1024, "{} bytes", compressed.len());
    for bytes in [&compressed[..], large.raw_bytes()] {
        let err = parse_change(bytes).unwrap_err();
        assert!(
            matches!(&err, DocError::Automerge(m) if m.contains("8 MiB")),
            "{err:?}"
        );
    }
    // A large change within the limit parses, compressed or not, with its hash.
    let (_, _, mut within) = long_address_change(MAX_CHANGE_BYTES / 2);
    let parsed = parse_change(&within.bytes()).unwrap();
    assert_eq!(parsed.hash(), within.hash());
    assert_eq!(parsed.raw_bytes(), within.raw_bytes());
    assert_eq!(
        parse_change(within.raw_bytes()).unwrap().hash(),
        within.hash()
    );
    // Bytes that are not one change are refused as before: two changes, or a stream that does
    // not inflate.
    let mut two = within.raw_bytes().to_vec();
    two.extend_from_slice(within.raw_bytes());
    assert!(parse_change(&two).is_err());
    let mut bad = compressed.clone();
    let data = chunks(&bad).unwrap()[0].data.clone();
    bad[data.start] = 0xff;
    assert!(parse_change(&bad).is_err());
}

/// The same for a document: its compressed columns and compressed changes inflate to at most
/// `MAX_INFLATED_BYTES` in all when `load` reads it, counted before automerge inflates them.
#[test]
fn the_compressed_parts_of_a_document_are_counted_before_they_are_inflated() {
    let (before, mut doc, mut change) = long_address_change(300_000);
    let saved = doc.save();
    assert!(saved.len() < 20_000, "{} bytes", saved.len());
    // The address column is stored compressed: counted inflated.
    assert!(inflated_size(&saved, 1 << 20).unwrap() > 300_000);
    assert_eq!(inflated_size(&saved, 250_000), None);
    // A compressed change after a saved document counts inflated too.
    let mut with_change = before;
    with_change.extend_from_slice(&change.bytes());
    assert_eq!(
        chunks(&with_change).unwrap()[1].kind,
        chunk_kind::COMPRESSED_CHANGE
    );
    assert!(inflated_size(&with_change, 1 << 20).unwrap() > 300_000);
    assert_eq!(inflated_size(&with_change, 250_000), None);
    // Within the limit, load reads both as before.
    assert_eq!(load(&saved).unwrap().get_heads(), doc.get_heads());
    assert_eq!(load(&with_change).unwrap().get_heads(), doc.get_heads());
    // Uncompressed bytes count as they are.
    assert_eq!(
        inflated_size(change.raw_bytes(), 1 << 20),
        Some(change.raw_bytes().len())
    );
    assert_eq!(inflated_size(b"not chunks", 1 << 20), Some(10));
}

#[test]
fn header_rules() {
    let (h, _) = sample_household();
    let mut doc = create(DocumentId::generate().unwrap(), SCOPE, &h, None).unwrap();
    put_at(&mut doc, &["schema"], "1.7");
    assert!(
        read::<Household, _>(&doc).is_ok(),
        "newer minor versions are readable"
    );
    put_at(&mut doc, &["schema"], "2.0");
    assert!(matches!(
        read::<Household, _>(&doc).unwrap_err(),
        DocError::UnsupportedSchema { .. }
    ));
    assert_eq!(codes(&validate(&doc)), ["schema.unknown_major"]);
    assert!(matches!(
        read_any(&tree(&doc).unwrap()).unwrap_err(),
        DocError::UnsupportedSchema { .. }
    ));
    let (read, issues) = read_checked(&tree(&doc).unwrap());
    assert!(read.is_none());
    assert_eq!(codes(&issues), ["schema.unknown_major"]);

    let doc = create(DocumentId::generate().unwrap(), "../../etc", &h, None).unwrap();
    assert_eq!(codes(&same_issues_read_once(&doc)), ["scope.invalid"]);

    assert_eq!(SchemaVersion::parse("1.0"), Some(CURRENT_SCHEMA));
    for bad in ["1", "1.", ".1", "1.0.0", "-1.0", "a.b", "999999.0"] {
        assert_eq!(SchemaVersion::parse(bad), None, "{bad}");
    }
}

#[test]
fn histories_are_append_only() {
    let (h, _) = sample_household();
    let mut doc = create(DocumentId::generate().unwrap(), SCOPE, &h, None).unwrap();
    let mut shorter = h.clone();
    shorter.decisions.clear();
    assert!(matches!(
        write(&mut doc, &shorter),
        Err(DocError::AppendOnly { have: 1, .. })
    ));

    let mut longer = h.clone();
    let mut d = longer.decisions[0].clone();
    d.outcome = DecisionOutcome::Changed;
    longer.decisions.push(d);
    let mut doc = create(DocumentId::generate().unwrap(), SCOPE, &h, None).unwrap();
    write(&mut doc, &longer).unwrap();
    doc.commit();
    assert_eq!(read::<Household, _>(&doc).unwrap().1, longer);
}

#[test]
fn gps_is_replaced_whole() {
    let v = sample_visit();
    let mut base = create(DocumentId::generate().unwrap(), SCOPE, &v, Some(actor(1))).unwrap();
    let mut a = base.fork().with_actor(actor(0xa));
    let mut b = base.fork().with_actor(actor(0xb));
    for (doc, lat, lon) in [(&mut a, 30.0, 110.0), (&mut b, 40.0, 100.0)] {
        let (_, mut v) = read::<Visit, _>(doc).unwrap();
        v.gps = Some(GeoPoint {
            lat,
            lon,
            accuracy_m: None,
        });
        write(doc, &v).unwrap();
        doc.commit();
    }
    a.merge(&mut b).unwrap();
    let gps = read::<Visit, _>(&a).unwrap().1.gps.unwrap();
    assert!(
        (gps.lat, gps.lon) == (30.0, 110.0) || (gps.lat, gps.lon) == (40.0, 100.0),
        "latitude and longitude come from one fix: {gps:?}"
    );
    let found = conflicts::conflicts(&a).unwrap();
    assert_eq!(found.len(), 1);
    assert_eq!(found[0].path.to_string(), "content.gps");
}

#[test]
fn transactions_work_as_well_as_autocommit() {
    let (h, _) = sample_household();
    let doc = create(DocumentId::generate().unwrap(), SCOPE, &h, None).unwrap();
    let mut am = automerge::Automerge::load(&doc.clone().save()).unwrap();
    let mut tx = am.transaction();
    let mut changed = h.clone();
    changed.programmes.insert(Programme::TemporaryAssistance);
    write(&mut tx, &changed).unwrap();
    assert!(tx.pending_ops() > 0);
    tx.commit();
    assert_eq!(read::<Household, _>(&am).unwrap().1, changed);
    let _ = am.get_heads();
}

/// A document with several problems, of structure and of rules, gets all of them in one answer:
/// a phone (or the server's rejection) shows every field to fix at once.
#[test]
fn every_problem_of_a_document_is_reported_at_once() {
    let (h, head_id) = sample_household();
    let mut h = h;
    let wife_id = *h
        .members
        .iter()
        .find(|(id, m)| **id != head_id && m.identity.is_some())
        .unwrap()
        .0;
    let income_id = *h.income.keys().next().unwrap();
    h.address = " ".to_owned();
    h.income.get_mut(&income_id).unwrap().amount_fen = -5;
    let mut doc = create(DocumentId::generate().unwrap(), SCOPE, &h, None).unwrap();
    // Structure: a required field of a member of the wrong type, an optional field with an
    // invalid 身份证号, an unknown code, a collection key that is not a member id.
    put_at(
        &mut doc,
        &["content", "members", &head_id.to_string(), "relation"],
        7i64,
    );
    put_at(
        &mut doc,
        &[
            "content",
            "members",
            &wife_id.to_string(),
            "identity",
            "masked",
        ],
        "370283196007050021",
    );
    put_at(&mut doc, &["content", "hukou_type"], "martian");
    let members = doc.get(automerge::ROOT, "content").unwrap().unwrap().1;
    let members = doc.get(&members, "members").unwrap().unwrap().1;
    doc.put_object(&members, "not-a-member-id", automerge::ObjType::Map)
        .unwrap();
    doc.commit();

    let issues = validate(&doc);
    let found: BTreeSet<(String, &str)> = issues.iter().map(|i| (i.path.clone(), i.code)).collect();
    let income = format!("content.income.{income_id}.amount_fen");
    for expected in [
        (
            format!("content.members.{head_id}.relation"),
            "doc.wrong_type",
        ),
        (
            format!("content.members.{wife_id}.identity.masked"),
            "id_number.masked_format",
        ),
        ("content.hukou_type".to_owned(), "code.unknown"),
        ("content.members.not-a-member-id".to_owned(), "key.format"),
        ("content.address".to_owned(), "household.address_required"),
        (income, "money.negative"),
    ] {
        assert!(
            found.contains(&(expected.0.clone(), expected.1)),
            "{expected:?} missing from {found:?}"
        );
    }
    let (read, checked) = read_checked(&tree(&doc).unwrap());
    assert!(read.is_none());
    assert_eq!(checked, issues, "the server's check gives the same issues");

    // The header too: every bad root key at once.
    let mut doc = create(DocumentId::generate().unwrap(), SCOPE, &h, None).unwrap();
    put_at(&mut doc, &["kind"], "martian");
    put_at(&mut doc, &["id"], "not-an-id");
    doc.delete(automerge::ROOT, "scope").unwrap();
    doc.commit();
    let c = codes(&validate(&doc));
    for code in ["kind.unknown", "id.format", "doc.missing"] {
        assert!(c.contains(&code), "{code} missing from {c:?}");
    }
}

/// What a phone may do with a visit's and a report's status, over every pair of statuses.
#[test]
fn phones_move_statuses_only_as_far_as_submission() {
    use super::discovery::DiscoveryStatus as D;
    use super::visit::VisitStatus as V;
    let decided = [V::Approved, V::Rejected, V::Confirmed, V::Closed];
    for &to in V::ALL {
        assert!(V::phone_may_move(Some(to), to), "{to:?} unchanged");
        assert_eq!(
            V::phone_may_move(None, to),
            matches!(to, V::Draft | V::Submitted),
            "new as {to:?}"
        );
        for &from in V::ALL {
            let may = V::phone_may_move(Some(from), to);
            if from != to && (decided.contains(&from) || !matches!(to, V::Draft | V::Submitted)) {
                assert!(!may, "{from:?} → {to:?}");
            }
        }
    }
    assert!(V::phone_may_move(Some(V::Returned), V::Submitted));
    assert!(V::phone_may_move(Some(V::Draft), V::Submitted));
    let editable: Vec<V> = V::ALL
        .iter()
        .copied()
        .filter(|s| s.phone_may_edit())
        .collect();
    assert_eq!(editable, [V::Draft, V::Returned]);
    for &to in D::ALL {
        for &from in D::ALL {
            let phones = |s: D| matches!(s, D::Draft | D::Submitted);
            assert_eq!(
                D::phone_may_move(Some(from), to),
                from == to || (phones(from) && phones(to)),
                "{from:?} → {to:?}"
            );
        }
        assert_eq!(
            D::phone_may_move(None, to),
            matches!(to, D::Draft | D::Submitted)
        );
    }
}

/// A discovery report's life after submission: one step forward at a time, closing from any
/// state after submission but `closed`, and no reviewer step a phone may take (or the reverse).
#[test]
fn report_steps_go_one_way_and_do_not_overlap_the_phones() {
    use super::discovery::DiscoveryStatus as D;
    let mut at = D::Submitted;
    let mut path = vec![at];
    while let Some(&next) = at.reviewer_next().iter().find(|s| **s != D::Closed) {
        at = next;
        path.push(at);
    }
    assert_eq!(
        path,
        [
            D::Submitted,
            D::Screened,
            D::Registered,
            D::Verified,
            D::Referred
        ]
    );
    for &from in D::ALL {
        assert_eq!(
            from.reviewer_may_move(D::Closed),
            !matches!(from, D::Draft | D::Closed),
            "{from:?}"
        );
        for &to in D::ALL {
            if from != to && from != D::Draft && from.reviewer_may_move(to) {
                assert!(!D::phone_may_move(Some(from), to), "{from:?} → {to:?}");
            }
        }
    }
    assert!(D::Closed.reviewer_next().is_empty());
    assert!(D::Draft.reviewer_next().is_empty());
}

/// The reviewers' steps: the township decides submitted visits, the county approved ones, and
/// no step is one a phone may take (the two halves of the visit workflow do not overlap).
#[test]
fn review_steps_start_where_phones_stop() {
    use super::visit::{Purpose as P, ReviewDecision as D, ReviewLevel as L, VisitStatus as V};
    for &purpose in P::ALL {
        for &d in D::ALL {
            for &from in V::ALL {
                let Some(step) = d.step(from, purpose) else {
                    continue;
                };
                let expected = match from {
                    V::Submitted => L::Town,
                    V::Approved => L::County,
                    _ => panic!("{d:?} from {from:?}"),
                };
                assert_eq!(step.level, expected, "{d:?} from {from:?}");
                assert!(
                    !V::phone_may_move(Some(from), step.to),
                    "{d:?} from {from:?}"
                );
                assert!(!from.phone_may_edit());
            }
            let levels: Vec<L> = V::ALL
                .iter()
                .filter_map(|&f| d.step(f, purpose))
                .map(|s| s.level)
                .collect();
            assert_eq!(levels.first(), Some(&d.first_level()), "{d:?}");
        }
    }
    let app = P::Investigation;
    assert_eq!(
        D::Confirm.step(V::Approved, app).map(|s| s.to),
        Some(V::Confirmed)
    );
    assert_eq!(
        D::SendBack.step(V::Approved, app).map(|s| s.to),
        Some(V::Returned)
    );
    assert_eq!(D::Approve.step(V::Approved, app), None);
}

/// Only an application's investigation goes on to the county: the township's approval of any
/// other visit closes it (已办结), and nothing follows from a closed visit. A visit of another
/// purpose already waiting for the county (approved before this rule) can still be decided
/// there.
#[test]
fn only_applications_go_to_the_county() {
    use super::visit::{Purpose as P, ReviewDecision as D, VisitStatus as V};
    for &purpose in P::ALL {
        let approved = D::Approve.step(V::Submitted, purpose).map(|s| s.to);
        if purpose == P::Investigation {
            assert_eq!(approved, Some(V::Approved));
        } else {
            assert_eq!(approved, Some(V::Closed), "{purpose:?}");
        }
        assert_eq!(
            purpose.needs_county_confirmation(),
            purpose == P::Investigation
        );
        for &d in D::ALL {
            assert_eq!(
                d.step(V::Closed, purpose),
                None,
                "{d:?} on a closed {purpose:?}"
            );
        }
        assert_eq!(
            D::Confirm.step(V::Approved, purpose).map(|s| s.to),
            Some(V::Confirmed)
        );
        // Return and reject mean the same for every purpose.
        assert_eq!(
            D::Return.step(V::Submitted, purpose).map(|s| s.to),
            Some(V::Returned)
        );
        assert_eq!(
            D::Reject.step(V::Submitted, purpose).map(|s| s.to),
            Some(V::Rejected)
        );
    }
}

/// The confirmation of an application waits for its 公示 to end and for every objection raised
/// since the township's last approval to have a 民主评议 after it; an objection of an earlier
/// round (before the case was sent back and approved again) holds nothing.
#[test]
fn confirmation_waits_for_the_notice_and_its_objections() {
    use crate::doc::visit::{
        Appraisal, ConfirmationHold as H, Objection, Purpose, Review, ReviewOutcome,
    };
    let day = |d: u32| NaiveDate::from_ymd_opt(2026, 12, d).unwrap();
    let town = account("town-1");
    let review = |at: i64| Review {
        reviewer: town.clone(),
        reviewer_name: "乡镇".into(),
        decision: ReviewOutcome::Approve,
        comment: None,
        at: UnixMillis(at),
    };
    let objection = |at: i64| Objection {
        at: UnixMillis(at),
        objector: "邻居".into(),
        detail: "有车".into(),
        recorded_by: town.clone(),
    };
    let appraisal = |at: i64| Appraisal {
        at: UnixMillis(at),
        held_on: day(9),
        participants: 9,
        votes_for: 9,
        votes_against: 0,
        record_photo: None,
        recorded_by: town.clone(),
    };
    let mut v = Visit::new(DocumentId::from_bytes([1; 16]), Purpose::Investigation);
    v.reviews.push(review(100));
    v.notice_from = Some(day(1));
    v.notice_until = Some(day(7));
    assert_eq!(
        v.confirmation_hold(day(7), false),
        Some(H::NoticeRunning { until: day(7) })
    );
    assert_eq!(v.confirmation_hold(day(8), false), None);
    // An objection of an earlier round holds nothing.
    v.objections.push(objection(50));
    assert_eq!(v.confirmation_hold(day(8), false), None);
    v.objections.push(objection(200));
    assert_eq!(v.confirmation_hold(day(8), false), Some(H::ObjectionOpen));
    v.appraisals.push(appraisal(300));
    assert_eq!(v.confirmation_hold(day(8), false), None);
    v.objections.push(objection(400));
    assert_eq!(v.confirmation_hold(day(8), false), Some(H::ObjectionOpen));
    // Sent back and approved again: a new round, its own notice.
    v.reviews.push(review(500));
    assert_eq!(v.confirmation_hold(day(8), false), None);
    // A case in the county's spot check, or with a 近亲属备案, waits for the county's own visit
    // once nothing else holds it.
    assert_eq!(
        v.confirmation_hold(day(8), true),
        Some(H::CountyVisitMissing)
    );
    v.application = Some(Application {
        accepted_on: day(1),
        channel: ApplicationChannel::InPerson,
        proxy_name: None,
        authorisation: None,
        pledge_signed: true,
        data_check_authorised: true,
        kin_filing: true,
    });
    assert_eq!(
        v.confirmation_hold(day(8), false),
        Some(H::CountyVisitMissing)
    );
    assert_eq!(
        v.confirmation_hold(day(7), false),
        Some(H::NoticeRunning { until: day(7) })
    );
    v.county_visits.push(CountyVisit {
        at: UnixMillis(600),
        visited_on: day(8),
        visitors: "钱县级、孙县级".into(),
        findings: "情况属实".into(),
        recorded_by: town.clone(),
    });
    assert_eq!(v.confirmation_hold(day(8), true), None);
}

fn day(y: i32, m: u32, d: u32) -> NaiveDate {
    NaiveDate::from_ymd_opt(y, m, d).unwrap()
}

fn assessment(
    on: NaiveDate,
    not_managed: &[household::DailyActivity],
) -> household::SelfCareAssessment {
    household::SelfCareAssessment {
        assessed_on: on,
        assessor: "刘评估".to_owned(),
        not_managed: not_managed.iter().copied().collect(),
    }
}

#[test]
fn self_care_and_care_plan_round_trip_and_append() {
    use household::{CareAgreement, CarePlan, DailyActivity as A, VisitPlan};
    let (mut h, head_id) = sample_household();
    // A member written without the new fields gets none of their keys: older readers and
    // documents are unchanged.
    let doc = create(DocumentId::generate().unwrap(), SCOPE, &h, None).unwrap();
    let m = tree(&doc).unwrap();
    let text = format!("{m:?}");
    assert!(!text.contains("self_care") && !text.contains("care_plan"));

    let head = h.members.get_mut(&head_id).unwrap();
    head.self_care_assessments = vec![assessment(
        day(2026, 9, 1),
        &[A::Eating, A::Dressing, A::Bathing, A::Toileting],
    )];
    head.self_care_change_reported_on = Some(day(2026, 9, 30));
    head.care_plan = Some(CarePlan {
        agreement: Some(CareAgreement {
            caregiver: "王照料".to_owned(),
            starts_on: day(2026, 1, 1),
            ends_on: day(2026, 12, 31),
        }),
        visit_plan: Some(VisitPlan::Weekly),
        ..CarePlan::default()
    });
    round_trip(&h);

    // Appending a second assessment keeps the first; the list only grows.
    let mut doc = create(DocumentId::generate().unwrap(), SCOPE, &h, None).unwrap();
    edit(&mut doc, |h| {
        let m = h.members.get_mut(&head_id).unwrap();
        m.self_care_assessments
            .push(assessment(day(2026, 10, 12), &[A::Bathing]));
    });
    let (_, back) = read::<Household, _>(&doc).unwrap();
    let m = &back.members[&head_id];
    assert_eq!(m.self_care_assessments.len(), 2);
    assert_eq!(
        crate::rules::income::assessed_tier(m.latest_self_care().unwrap()),
        crate::rules::income::SelfCare::PartlyLost
    );
    let mut shorter = back.clone();
    shorter
        .members
        .get_mut(&head_id)
        .unwrap()
        .self_care_assessments
        .pop();
    assert!(matches!(
        write(&mut doc, &shorter),
        Err(DocError::AppendOnly { .. })
    ));
}

#[test]
fn self_care_tier_pending_change_and_care_gaps() {
    use crate::rules::income::SelfCare;
    use household::{CarePlan, CarePlanItem as I, DailyActivity as A, VisitPlan};
    let mut m = Member::new("张特困", Relation::Head);
    assert_eq!(m.latest_self_care(), None);
    assert_eq!(m.self_care_change_pending(), None);
    m.self_care_assessments = vec![assessment(day(2026, 3, 1), &[])];
    assert_eq!(
        crate::rules::income::assessed_tier(m.latest_self_care().unwrap()),
        SelfCare::Able
    );
    m.self_care_assessments.push(assessment(
        day(2026, 5, 1),
        &[A::Eating, A::Dressing, A::Transferring, A::Toileting],
    ));
    assert_eq!(
        crate::rules::income::assessed_tier(m.latest_self_care().unwrap()),
        SelfCare::FullyLost
    );
    // Recorded later but dated earlier: the latest by date counts.
    m.self_care_assessments
        .push(assessment(day(2026, 4, 1), &[A::Eating]));
    assert_eq!(
        crate::rules::income::assessed_tier(m.latest_self_care().unwrap()),
        SelfCare::FullyLost
    );

    m.self_care_change_reported_on = Some(day(2026, 6, 1));
    assert_eq!(m.self_care_change_pending(), Some(day(2026, 6, 1)));
    // An assessment on the day of the report answers it.
    m.self_care_assessments
        .push(assessment(day(2026, 6, 1), &[A::Bathing]));
    assert_eq!(m.self_care_change_pending(), None);

    let mut plan = CarePlan::default();
    assert_eq!(plan.missing(), I::ALL.to_vec());
    plan.visit_plan = Some(VisitPlan::Monthly);
    plan.service_standard = Some("  ".to_owned());
    plan.review_on = Some(day(2027, 1, 1));
    assert_eq!(
        plan.missing(),
        vec![I::Agreement, I::ServiceStandard, I::EmergencyContact]
    );
}

#[test]
fn self_care_and_care_plan_rules() {
    use household::{CareAgreement, CarePlan};
    let (mut h, head_id) = sample_household();
    let head = h.members.get_mut(&head_id).unwrap();
    let mut blank_assessor = assessment(day(2026, 3, 1), &[]);
    blank_assessor.assessor = " ".to_owned();
    head.self_care_assessments = vec![blank_assessor];
    head.care_plan = Some(CarePlan {
        agreement: Some(CareAgreement {
            caregiver: String::new(),
            starts_on: day(2026, 6, 1),
            ends_on: day(2026, 5, 31),
        }),
        service_standard: Some(String::new()),
        emergency_contact: Some(" ".to_owned()),
        ..CarePlan::default()
    });
    let issues = issues_of(&h);
    let found: Vec<(&str, &str)> = issues
        .iter()
        .filter(|i| i.path.contains("self_care") || i.path.contains("care_plan"))
        .map(|i| (i.code, i.path.rsplit('.').next().unwrap()))
        .collect();
    assert_eq!(
        found,
        [
            ("self_care.assessor_required", "assessor"),
            ("care_plan.caregiver_required", "caregiver"),
            ("care_plan.agreement_dates", "ends_on"),
            ("care_plan.text_required", "service_standard"),
            ("care_plan.text_required", "emergency_contact"),
        ]
    );
    assert!(
        issues
            .iter()
            .any(|i| i.path
                == format!("content.members.{head_id}.self_care_assessments[0].assessor"))
    );
    // An agreement of one day is fine.
    let plan = h
        .members
        .get_mut(&head_id)
        .unwrap()
        .care_plan
        .as_mut()
        .unwrap();
    plan.agreement = Some(CareAgreement {
        caregiver: "王照料".to_owned(),
        starts_on: day(2026, 6, 1),
        ends_on: day(2026, 6, 1),
    });
    plan.service_standard = None;
    plan.emergency_contact = None;
    h.members.get_mut(&head_id).unwrap().self_care_assessments[0].assessor = "刘评估".to_owned();
    assert!(!has_errors(&issues_of(&h)), "{:#?}", issues_of(&h));
}

#[test]
fn a_stored_unknown_activity_code_is_refused_at_its_path() {
    let (h, head_id) = sample_household();
    let mut doc = create(DocumentId::generate().unwrap(), SCOPE, &h, None).unwrap();
    edit(&mut doc, |h| {
        h.members.get_mut(&head_id).unwrap().self_care_assessments = vec![assessment(
            day(2026, 3, 1),
            &[household::DailyActivity::Eating],
        )];
    });
    let (_, content) = doc.get(automerge::ROOT, key::CONTENT).unwrap().unwrap();
    let (_, members) = doc.get(&content, household::key::MEMBERS).unwrap().unwrap();
    let (_, m) = doc.get(&members, head_id.to_string()).unwrap().unwrap();
    let (_, list) = doc
        .get(&m, household::key::member::SELF_CARE_ASSESSMENTS)
        .unwrap()
        .unwrap();
    let (_, item) = doc.get(&list, 0).unwrap().unwrap();
    let (_, set) = doc
        .get(&item, household::key::self_care::NOT_MANAGED)
        .unwrap()
        .unwrap();
    doc.put(&set, "flying", true).unwrap();
    let issues = validate(&doc);
    assert!(
        issues.iter().any(|i| i.code == "code.unknown"
            && i.path
                .ends_with("self_care_assessments[0].not_managed.flying")),
        "{issues:#?}"
    );
}

/// An event in the life of an application, as the phone, the reviewers and the calendar make
/// them.
#[derive(Debug, Clone, Copy)]
enum CaseEvent {
    Submit,
    Decide(super::visit::ReviewDecision),
    Objection,
    Appraisal,
    DayPasses,
}

fn case_event() -> impl proptest::strategy::Strategy<Value = CaseEvent> {
    use super::visit::ReviewDecision as D;
    use proptest::prelude::*;
    prop_oneof![
        Just(CaseEvent::Submit),
        proptest::sample::select(D::ALL).prop_map(CaseEvent::Decide),
        Just(CaseEvent::Objection),
        Just(CaseEvent::Appraisal),
        Just(CaseEvent::DayPasses),
    ]
}

proptest::proptest! {
    /// Whatever happens to an application, in any order, its stage (办理环节) only moves along
    /// the procedure: 调查 → 初审 → 公示 → (异议 → 民主评议, or back to 调查) → 审核确认 → 决定,
    /// never skips the 公示, and a decision is final. Events a stage does not take (a decision
    /// its status refuses, an objection outside the confirmation step) change nothing.
    #[test]
    fn an_application_moves_only_along_its_procedure(
        events in proptest::collection::vec(case_event(), 0..40)
    ) {
        use super::visit::{
            Appraisal, CaseStage as S, Objection, Purpose, Review, ReviewDecision as D,
        };
        let notice_days = 7;
        let mut today = NaiveDate::from_ymd_opt(2026, 9, 24).unwrap();
        let mut clock = 0i64;
        let mut v = Visit::new(DocumentId::from_bytes([3; 16]), Purpose::Investigation);
        let mut stage = v.case_stage(today).unwrap();
        proptest::prop_assert_eq!(stage, S::Investigating);
        let mut seen_notice = false;
        for e in events {
            clock += 1;
            match e {
                CaseEvent::Submit => {
                    if VisitStatus::phone_may_move(Some(v.status), VisitStatus::Submitted)
                        && v.status != VisitStatus::Submitted
                    {
                        v.status = VisitStatus::Submitted;
                    }
                }
                CaseEvent::Decide(d) => {
                    if let Some(step) = d.step(v.status, v.purpose) {
                        // The county's confirmation waits as the server makes it wait.
                        if d == D::Confirm && v.confirmation_hold(today, false).is_some() {
                            continue;
                        }
                        if d == D::Approve {
                            v.notice_from = Some(today);
                            v.notice_until = today.checked_add_days(chrono::Days::new(notice_days - 1));
                        }
                        v.status = step.to;
                        v.reviews.push(Review {
                            reviewer: account("r"),
                            reviewer_name: "审核".into(),
                            decision: step.outcome,
                            comment: None,
                            at: UnixMillis(clock),
                        });
                    }
                }
                CaseEvent::Objection if v.status == VisitStatus::Approved => {
                    v.objections.push(Objection {
                        at: UnixMillis(clock),
                        objector: "邻居".into(),
                        detail: "有车".into(),
                        recorded_by: account("r"),
                    })
                }
                CaseEvent::Appraisal if v.status == VisitStatus::Approved => {
                    v.appraisals.push(Appraisal {
                        at: UnixMillis(clock),
                        held_on: today,
                        participants: 9,
                        votes_for: 9,
                        votes_against: 0,
                        record_photo: None,
                        recorded_by: account("r"),
                    })
                }
                CaseEvent::DayPasses => today = today.succ_opt().unwrap(),
                CaseEvent::Objection | CaseEvent::Appraisal => {}
            }
            let next = v.case_stage(today).unwrap();
            let allowed: &[S] = match stage {
                S::Investigating => &[S::Investigating, S::TownReview],
                S::TownReview => &[S::TownReview, S::Notice, S::Investigating, S::Refused],
                S::Notice => &[
                    S::Notice,
                    S::Objection,
                    S::CountyReview,
                    S::Investigating,
                    S::Refused,
                ],
                S::Objection => &[
                    S::Objection,
                    S::Notice,
                    S::CountyReview,
                    S::Investigating,
                    S::Refused,
                ],
                S::CountyReview => &[
                    S::CountyReview,
                    S::Objection,
                    S::Approved,
                    S::Investigating,
                    S::Refused,
                ],
                S::Approved => &[S::Approved],
                S::Refused => &[S::Refused],
            };
            proptest::prop_assert!(allowed.contains(&next), "{stage:?} → {next:?} on {e:?}");
            seen_notice |= next == S::Notice;
            if next == S::Approved {
                proptest::prop_assert!(seen_notice, "approved without a 公示");
            }
            stage = next;
        }
    }
}

/// The stages of one application from the investigation to the decision, around an objection.
#[test]
fn an_application_passes_each_stage_in_turn() {
    use crate::doc::visit::{Appraisal, CaseStage as S, Objection, Purpose, Review, ReviewOutcome};
    let day = |d: u32| NaiveDate::from_ymd_opt(2026, 12, d).unwrap();
    let mut v = Visit::new(DocumentId::from_bytes([4; 16]), Purpose::Investigation);
    assert_eq!(v.case_stage(day(1)), Some(S::Investigating));
    v.status = VisitStatus::Submitted;
    assert_eq!(v.case_stage(day(1)), Some(S::TownReview));
    v.status = VisitStatus::Approved;
    v.reviews.push(Review {
        reviewer: account("town"),
        reviewer_name: "乡镇".into(),
        decision: ReviewOutcome::Approve,
        comment: None,
        at: UnixMillis(10),
    });
    v.notice_from = Some(day(2));
    v.notice_until = Some(day(8));
    assert_eq!(v.case_stage(day(8)), Some(S::Notice));
    assert_eq!(v.case_stage(day(9)), Some(S::CountyReview));
    v.objections.push(Objection {
        at: UnixMillis(20),
        objector: "邻居".into(),
        detail: "有车".into(),
        recorded_by: account("town"),
    });
    assert_eq!(v.case_stage(day(9)), Some(S::Objection));
    v.appraisals.push(Appraisal {
        at: UnixMillis(30),
        held_on: day(9),
        participants: 9,
        votes_for: 8,
        votes_against: 1,
        record_photo: None,
        recorded_by: account("town"),
    });
    assert_eq!(v.case_stage(day(9)), Some(S::CountyReview));
    v.status = VisitStatus::Confirmed;
    assert_eq!(v.case_stage(day(10)), Some(S::Approved));
    v.status = VisitStatus::Rejected;
    assert_eq!(v.case_stage(day(10)), Some(S::Refused));
    // A visit of another purpose is no application.
    let care = Visit::new(DocumentId::from_bytes([5; 16]), Purpose::CareVisit);
    assert_eq!(care.case_stage(day(1)), None);
}
