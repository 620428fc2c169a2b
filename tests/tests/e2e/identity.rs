//! Identity numbers (身份证号) by design: documents hold them only masked and sealed to the
//! server, on every phone and in every history; the clear numbers reach only grid workers and
//! assistants of the grid, through their own field of the sync response; a push that writes a
//! clear number is refused; the console shows them masked and unmasks with the permission,
//! audited.

use automerge::transaction::Transactable;
use automerge::{AutoCommit, ObjType, ReadDoc, Value};
use reqwest::StatusCode;

use doudi_protocol::doc::discovery::{Channel, DiscoveryStatus, Target, TargetGroup, Urgency};
use doudi_protocol::doc::household::{Member, Relation, Supporter};
use doudi_protocol::doc::visit::{AddedMember, Purpose};
use doudi_protocol::doc::{DiscoveryReport, Household, Visit};
use doudi_protocol::id_number::IdNumber;
use doudi_protocol::identity::{OpenKey, SealedId};
use doudi_protocol::ids::{AccountId, DocumentId, EntryId, MemberId};
use doudi_protocol::role::Role;
use doudi_tests::{Backend, Phone, TestApp, both_backends, console_login, csrf_of, spawn_app};

both_backends!(
    each_role_receives_exactly_the_numbers_it_may_hold,
    a_push_writing_a_clear_number_is_refused,
    numbers_the_server_cannot_open_or_that_repeat_are_refused,
    the_console_shows_numbers_masked_and_unmasks_them_audited,
    documents_stored_in_clear_are_sealed_once,
);

const GRID_A: &str = "370102001001-A";
const GRID_B: &str = "370102001001-B";
const VILLAGE: &str = "370102001001";

/// Valid numbers: a head, a supporter, a person added at a visit, a person a cadre reports, a
/// head in the other grid.
const HEAD: &str = "370102195512310024";
const SUPPORTER: &str = "370102198001010015";
const ADDED: &str = "370102202001010030";
const REPORTED: &str = "37010219400101048X";
const OTHER_GRID: &str = "370102196203150017";

fn number(s: &str) -> IdNumber {
    IdNumber::parse(s).unwrap()
}

/// Every string a document's history ever held (values and map keys of every change).
fn strings_in_history(doc: &mut AutoCommit) -> Vec<String> {
    let mut out = Vec::new();
    for c in doc.get_changes(&[]) {
        for op in c.decode().operations {
            if let automerge::legacy::Key::Map(k) = &op.key {
                out.push(k.to_string());
            }
            if let automerge::legacy::OpType::Put(automerge::ScalarValue::Str(s)) = &op.action {
                out.push(s.to_string());
            }
        }
    }
    out
}

/// The numbers of `all` that appear in clear anywhere in the phone's documents, histories
/// included.
fn clear_on(phone: &mut Phone, all: &[&str]) -> Vec<String> {
    let ids: Vec<String> = phone.replica.ids().cloned().collect();
    let mut found = Vec::new();
    for id in ids {
        let doc = &mut phone.replica.entry_mut(&id).unwrap().doc;
        let text = strings_in_history(doc).join("\n");
        found.extend(
            all.iter()
                .filter(|n| text.contains(**n))
                .map(|n| n.to_string()),
        );
    }
    found
}

struct World {
    app: TestApp,
    household: String,
    head: MemberId,
    supporter: EntryId,
    visit: String,
    added: MemberId,
    report: String,
    other: String,
    other_head: MemberId,
}

async fn world(b: Backend) -> World {
    let app = spawn_app(b).await;
    app.seed_fixture().await;
    app.create_account("grid.zhang", Role::GridWorker, &[GRID_A])
        .await;
    app.create_account("grid.sun", Role::GridWorker, &[GRID_B])
        .await;
    app.create_account("assist.liu", Role::Assistant, &[VILLAGE])
        .await;
    app.create_account("cadre.wang", Role::VillageCadre, &[VILLAGE])
        .await;
    app.create_account("town.zhao", Role::TownReviewer, &["370102001000"])
        .await;

    // A grid worker registers a household and visits it, finding a person not on record.
    let mut zhang = app.phone("grid.zhang").await;
    let mut h = Household {
        address: "济南市历下区一镇一村 3 号".into(),
        ..Default::default()
    };
    let head = MemberId::generate().unwrap();
    let mut m = Member::new("王秀兰", Relation::Head);
    m.identity = Some(zhang.seal(HEAD));
    h.members.insert(head, m);
    let supporter = EntryId::generate().unwrap();
    h.supporters.insert(
        supporter,
        Supporter {
            name: "王大明".into(),
            relation: "长子".into(),
            identity: Some(zhang.seal(SUPPORTER)),
            able_to_support: Some(true),
            unable_reason: None,
            support_paid_fen: None,
            support_paid_period: None,
        },
    );
    let household = zhang.replica.create(GRID_A, &h).unwrap();
    let added = MemberId::generate().unwrap();
    let mut v = Visit::new(household, Purpose::Investigation);
    v.members_added.insert(
        added,
        AddedMember {
            name: "王小花".into(),
            identity: Some(zhang.seal(ADDED)),
            relation: Relation::Grandchild,
            note: None,
        },
    );
    let visit = zhang.replica.create(GRID_A, &v).unwrap();
    let o = app.sync(&mut zhang).await;
    assert_eq!(o.accepted.len(), 2, "{:?}", o.rejected);

    // A village cadre reports a person not on record, with the number she was told.
    let mut cadre = app.phone("cadre.wang").await;
    let mut r = DiscoveryReport::new(AccountId::parse(&cadre.account_id).unwrap());
    r.channel = Some(Channel::Visit);
    r.urgency = Some(Urgency::NeedsCare);
    r.target_groups.insert(TargetGroup::Elderly);
    r.status = DiscoveryStatus::Submitted;
    r.target = Some(Target::Person {
        name: "孙奶奶".into(),
        identity: Some(cadre.seal(REPORTED)),
        address: None,
        phone: None,
    });
    let report = cadre.replica.create(GRID_A, &r).unwrap();
    let o = app.sync(&mut cadre).await;
    assert_eq!(o.accepted, vec![report.to_string()], "{:?}", o.rejected);

    // The other grid's worker registers a household there.
    let mut sun = app.phone("grid.sun").await;
    let mut h = Household {
        address: "济南市历下区一镇一村 8 号".into(),
        ..Default::default()
    };
    let mut m = Member::new("李国栋", Relation::Head);
    m.identity = Some(sun.seal(OTHER_GRID));
    let other_head = MemberId::generate().unwrap();
    h.members.insert(other_head, m);
    let other = sun.replica.create(GRID_B, &h).unwrap();
    let o = app.sync(&mut sun).await;
    assert_eq!(o.accepted.len(), 1, "{:?}", o.rejected);

    World {
        app,
        household: household.to_string(),
        head,
        supporter,
        visit: visit.to_string(),
        added,
        report: report.to_string(),
        other: other.to_string(),
        other_head,
    }
}

async fn each_role_receives_exactly_the_numbers_it_may_hold(b: Backend) {
    let w = world(b).await;
    let all = [HEAD, SUPPORTER, ADDED, REPORTED, OTHER_GRID];
    let head = format!("members.{}", w.head);
    let supporter = format!("supporters.{}", w.supporter);
    let added = format!("members_added.{}", w.added);
    let in_grid_a = [
        (&w.household, head.as_str(), HEAD),
        (&w.household, supporter.as_str(), SUPPORTER),
        (&w.visit, added.as_str(), ADDED),
        (&w.report, "target_person", REPORTED),
    ];
    let other_head = format!("members.{}", w.other_head);
    let in_grid_b = [(&w.other, other_head.as_str(), OTHER_GRID)];

    // New phones of each role that syncs: the documents of their scope arrive, none holding a
    // number in clear, in the current state or anywhere in the history.
    for (user, docs) in [
        ("grid.zhang", 3),
        ("assist.liu", 4),
        ("cadre.wang", 4),
        ("grid.sun", 1),
    ] {
        let mut phone = w.app.phone(user).await;
        w.app.sync(&mut phone).await;
        assert_eq!(phone.replica.len(), docs, "{user}");
        assert_eq!(clear_on(&mut phone, &all), Vec::<String>::new(), "{user}");
        // The masked form is what a document shows.
        if user != "grid.sun" {
            let h: Household = phone.replica.read(&w.household).unwrap();
            let id = h.members[&w.head].identity.as_ref().unwrap();
            assert_eq!(id.masked.as_str(), "370102****0024", "{user}");
        }
        // The clear numbers, apart from the documents: grid workers and the village's
        // assistant, for the documents of their regions; the village cadre none.
        let expect: Vec<(&String, &str, &str)> = match user {
            "grid.zhang" => in_grid_a.to_vec(),
            "assist.liu" => in_grid_a.iter().chain(&in_grid_b).copied().collect(),
            "grid.sun" => in_grid_b.to_vec(),
            _ => Vec::new(),
        };
        for (doc, entry, n) in &expect {
            assert_eq!(
                phone.replica.identity(doc, entry),
                Some(*n),
                "{user} {entry}"
            );
        }
        let held: Vec<&String> = phone.replica.identity_docs().collect();
        let mut want: Vec<&String> = expect.iter().map(|(d, _, _)| *d).collect();
        want.dedup();
        want.sort();
        let mut held_sorted = held.clone();
        held_sorted.sort();
        assert_eq!(held_sorted, want, "{user}: documents with clear numbers");
    }

    // The numbers of an edited document follow the document: a later sync of a phone that holds
    // it brings them again, with the new one.
    let mut zhang = w.app.phone("grid.zhang").await;
    w.app.sync(&mut zhang).await;
    let mut liu = w.app.phone("assist.liu").await;
    w.app.sync(&mut liu).await;
    let wife = MemberId::generate().unwrap();
    let sealed = zhang.seal("370102195805120021");
    zhang
        .replica
        .update::<Household>(&w.household, |h| {
            let mut m = Member::new("李秀英", Relation::Spouse);
            m.identity = Some(sealed);
            h.members.insert(wife, m);
        })
        .unwrap();
    let o = w.app.sync(&mut zhang).await;
    assert_eq!(o.accepted, vec![w.household.clone()], "{:?}", o.rejected);
    w.app.sync(&mut liu).await;
    assert_eq!(
        liu.replica
            .identity(&w.household, &format!("members.{wife}")),
        Some("370102195805120021")
    );
    assert_eq!(liu.replica.identity(&w.household, &head), Some(HEAD));

    // Reviewers and administrators do not sync at all.
    let town = w.app.login("town.zhao").await.0;
    let r = w
        .app
        .post_sync(
            &town,
            doudi_protocol::sync::to_cbor(&doudi_protocol::sync::SyncRequest {
                v: doudi_protocol::sync::PROTOCOL_VERSION,
                ..Default::default()
            }),
        )
        .await;
    assert_eq!(r.status(), StatusCode::FORBIDDEN);

    // The server keeps the numbers it received encrypted, never in clear.
    use sea_orm::EntityTrait;
    let rows = doudi_server::entity::identity_number::Entity::find()
        .all(&w.app.state.db)
        .await
        .unwrap();
    assert_eq!(rows.len(), 6);
    for row in &rows {
        let stored = format!(
            "{} {} {} {} {} {}",
            String::from_utf8_lossy(&row.sealed),
            row.masked,
            row.hash_full,
            row.hash_tail4,
            row.hash_tail5,
            row.hash_tail6
        );
        for n in all {
            assert!(!stored.contains(n) && !stored.contains(&n[12..]), "{row:?}");
        }
    }
}

/// Put `value` at the map path `path` of a document on the phone, bypassing the typed views (as
/// an old or foreign client writes).
fn put_raw(phone: &mut Phone, id: &str, path: &[&str], key: &str, value: &str) {
    let actor = phone.replica.actor().clone();
    let doc = &mut phone.replica.entry_mut(id).unwrap().doc;
    doc.set_actor(actor);
    let mut obj = automerge::ROOT;
    for k in path {
        obj = match doc.get(&obj, *k).unwrap() {
            Some((Value::Object(ObjType::Map), o)) => o,
            other => panic!("{k}: {other:?}"),
        };
    }
    doc.put(&obj, key, value).unwrap();
    doc.commit();
}

async fn a_push_writing_a_clear_number_is_refused(b: Backend) {
    let w = world(b).await;
    let mut zhang = w.app.phone("grid.zhang").await;
    w.app.sync(&mut zhang).await;
    let head = w.head.to_string();
    // As the earlier app wrote it: the number in clear under `id_number`.
    put_raw(
        &mut zhang,
        &w.household,
        &["content", "members", &head],
        "id_number",
        HEAD,
    );
    let o = w.app.sync(&mut zhang).await;
    assert_eq!(o.accepted, Vec::<String>::new());
    assert_eq!(o.rejected.len(), 1);
    assert_eq!(o.rejected[0].code.as_deref(), Some("sync.clear_id_number"));
    assert!(
        o.rejected[0]
            .message
            .as_deref()
            .unwrap()
            .contains("身份证号")
    );
    let stored = w.app.stored_doc(&w.household).await.unwrap();
    let am = automerge::Automerge::load(&stored.snapshot).unwrap();
    assert!(
        am.get_changes(&[])
            .iter()
            .all(|c| c.actor_id().to_hex_string() != zhang.device_id),
        "nothing of the refused push was stored"
    );

    // Anywhere, in any key: a note, a new document, a number with a lowercase x.
    let mut sun = w.app.phone("grid.sun").await;
    let mut h = Household {
        address: format!("一镇一村 8 号，户主身份证 {}", REPORTED.to_lowercase()),
        ..Default::default()
    };
    h.members.insert(
        MemberId::generate().unwrap(),
        Member::new("李四", Relation::Head),
    );
    let id = sun.replica.create(GRID_B, &h).unwrap().to_string();
    let o = w.app.sync(&mut sun).await;
    assert_eq!(o.rejected.len(), 1);
    assert_eq!(o.rejected[0].code.as_deref(), Some("sync.clear_id_number"));
    assert!(w.app.stored_doc(&id).await.is_none());

    // Overwriting it does not help: the refused change, in the history, carries the number.
    sun.replica
        .update::<Household>(&id, |h| h.address = "一镇一村 8 号".into())
        .unwrap();
    let o = w.app.sync(&mut sun).await;
    assert_eq!(o.rejected[0].code.as_deref(), Some("sync.clear_id_number"));

    // A masked number, or digits that are no valid 身份证号 (a bank account), are no clear
    // number.
    let mut h = Household {
        address: "一镇一村 9 号，账号 622848001234567890123，户主 370102****0024".into(),
        ..Default::default()
    };
    h.members.insert(
        MemberId::generate().unwrap(),
        Member::new("赵五", Relation::Head),
    );
    let fine = sun.replica.create(GRID_B, &h).unwrap().to_string();
    let o = w.app.sync(&mut sun).await;
    assert!(o.accepted.contains(&fine), "{:?}", o.rejected);
}

async fn numbers_the_server_cannot_open_or_that_repeat_are_refused(b: Backend) {
    let w = world(b).await;
    let mut zhang = w.app.phone("grid.zhang").await;
    w.app.sync(&mut zhang).await;
    // Sealed to another key than the server's: the server cannot open it.
    let foreign = OpenKey::from_bytes([3; 32]).seal_key().seal(&number(ADDED));
    let twin = zhang.seal(HEAD);
    let (a, c) = (MemberId::generate().unwrap(), MemberId::generate().unwrap());
    zhang
        .replica
        .update::<Household>(&w.household, |h| {
            let mut m = Member::new("外来", Relation::Other);
            m.identity = Some(foreign);
            h.members.insert(a, m);
            // The head's number again, for another current member.
            let mut m = Member::new("重复", Relation::Sibling);
            m.identity = Some(twin);
            h.members.insert(c, m);
        })
        .unwrap();
    let o = w.app.sync(&mut zhang).await;
    assert_eq!(o.rejected.len(), 1, "{o:?}");
    let r = &o.rejected[0];
    assert_eq!(r.code.as_deref(), Some("sync.validation_failed"));
    let issues: Vec<(&str, &str)> = r
        .issues
        .iter()
        .map(|i| (i.path.as_str(), i.code.as_str()))
        .collect();
    assert!(
        issues.contains(&(
            format!("content.members.{a}.identity").as_str(),
            "id_number.sealed_invalid"
        )),
        "{issues:?}"
    );
    assert!(
        issues
            .iter()
            .any(|(_, c)| *c == "member.duplicate_id_number"),
        "{issues:?}"
    );
    // A masked form that is not the sealed number's.
    let swapped = SealedId {
        masked: zhang.seal(SUPPORTER).masked,
        ..zhang.seal(ADDED)
    };
    let mut other = w.app.phone("grid.zhang").await;
    w.app.sync(&mut other).await;
    other
        .replica
        .update::<Household>(&w.household, |h| {
            h.members.get_mut(&w.head).unwrap().identity = Some(swapped);
        })
        .unwrap();
    let o = w.app.sync(&mut other).await;
    assert_eq!(o.rejected.len(), 1, "{o:?}");
    assert_eq!(o.rejected[0].issues[0].code, "id_number.masked_mismatch");
    // A birth date recorded beside a number: with the masked form it is the whole number.
    let mut third = w.app.phone("grid.zhang").await;
    w.app.sync(&mut third).await;
    third
        .replica
        .update::<Household>(&w.household, |h| {
            h.members.get_mut(&w.head).unwrap().birth_date =
                chrono::NaiveDate::from_ymd_opt(1955, 12, 31);
        })
        .unwrap();
    let o = w.app.sync(&mut third).await;
    assert_eq!(o.rejected.len(), 1, "{o:?}");
    assert_eq!(
        o.rejected[0].issues[0].code,
        "id_number.birth_date_recorded"
    );
    let _: DocumentId = w.household.parse().unwrap();
}

async fn the_console_shows_numbers_masked_and_unmasks_them_audited(b: Backend) {
    let w = world(b).await;
    // A submitted visit of the household, for the reviewer's queue.
    let mut zhang = w.app.phone("grid.zhang").await;
    w.app.sync(&mut zhang).await;
    let account = AccountId::parse(&zhang.account_id).unwrap();
    let hid: DocumentId = w.household.parse().unwrap();
    let mut v = Visit::new(hid, Purpose::Recheck);
    v.investigators.insert(
        account,
        doudi_protocol::doc::visit::Investigator {
            name: "张网格".into(),
        },
    );
    let visit = zhang.replica.create(GRID_A, &v).unwrap().to_string();
    let o = w.app.sync(&mut zhang).await;
    assert_eq!(o.accepted, vec![visit.clone()], "{:?}", o.rejected);

    let (mut town, _) = console_login(&w.app, "town.zhao").await;
    let (status, page) = town.get(&format!("/console/visits/{visit}")).await;
    assert_eq!(status, StatusCode::OK);
    assert!(page.contains("370102****0024"), "{page}");
    assert!(!page.contains(HEAD), "the number shows masked");
    assert!(w.app.audit("case.unmask").await.is_empty());

    let csrf = csrf_of(&page);
    let head = w.head.to_string();
    let r = town
        .post(
            &format!("/console/visits/{visit}/unmask"),
            &[("member", head.as_str()), ("csrf", csrf.as_str())],
        )
        .await;
    assert_eq!(r.status(), StatusCode::OK);
    let page = r.text().await.unwrap();
    assert!(page.contains(HEAD), "unmasked: {page}");
    let audit = w.app.audit("case.unmask").await;
    assert_eq!(audit.len(), 1);
    assert_eq!(audit[0].target.as_deref(), Some(w.household.as_str()));
    assert!(
        !format!("{audit:?}").contains(HEAD),
        "the audit names the member, not the number"
    );
    // Opening the page again shows it masked again.
    let (_, page) = town.get(&format!("/console/visits/{visit}")).await;
    assert!(!page.contains(HEAD));
}

/// A household as the first version stored it, written straight into the store (the server now
/// refuses such a push): the head's number in clear under `id_number`, the birth date beside it.
async fn store_legacy_household(app: &TestApp, phone: &Phone, head: MemberId) -> String {
    use doudi_server::documents::{self, Writer};
    use doudi_server::sync;
    use sea_orm::EntityTrait;
    let mut h = Household {
        address: "济南市历下区一镇一村 1 号".into(),
        ..Default::default()
    };
    h.members
        .insert(head, Member::new("王秀兰", Relation::Head));
    let id = DocumentId::generate().unwrap();
    let mut doc =
        doudi_protocol::doc::create(id, GRID_A, &h, Some(phone.replica.actor().clone())).unwrap();
    let content = doc.get(automerge::ROOT, "content").unwrap().unwrap().1;
    let members = doc.get(&content, "members").unwrap().unwrap().1;
    let m = doc.get(&members, head.to_string()).unwrap().unwrap().1;
    doc.put(&m, "id_number", HEAD).unwrap();
    doc.put(&m, "birth_date", "1955-12-31").unwrap();
    doc.commit();
    let changes = doc.get_changes(&[]);
    let mut after = doc.document().clone();
    let header = doudi_protocol::doc::read_header(&after).unwrap();
    let tree = doudi_protocol::doc::tree(&after).unwrap();
    let (_, content) = doudi_protocol::doc::read_any(&tree).unwrap();
    let grid = doudi_server::entity::region::Entity::find_by_id(GRID_A.to_string())
        .one(&app.state.db)
        .await
        .unwrap()
        .unwrap();
    let heads = after.get_heads();
    let writer = Writer {
        account_id: &phone.account_id,
        device_id: &phone.device_id,
        client_addr: None,
        audit_action: sync::AUDIT_ACCEPT,
        audit_detail: None,
    };
    let write = documents::prepare(
        &writer,
        None,
        &header,
        &grid.path,
        &mut after,
        &tree,
        Some(&content),
        &changes,
        &heads,
        Vec::new(),
    )
    .unwrap();
    assert!(documents::store(&app.state.db, &write).await.unwrap());
    id.to_string()
}

async fn documents_stored_in_clear_are_sealed_once(b: Backend) {
    use doudi_server::entity::{identity_number, server_secret};
    use doudi_server::identity::{SEALED_MARK, seal_stored};
    use sea_orm::EntityTrait;
    let w = world(b).await;
    let zhang = w.app.phone("grid.zhang").await;
    let head = MemberId::generate().unwrap();
    let id = store_legacy_household(&w.app, &zhang, head).await;
    // A phone that synced before the upgrade holds the number in clear.
    let mut before = w.app.phone("cadre.wang").await;
    w.app.sync(&mut before).await;
    assert_eq!(clear_on(&mut before, &[HEAD]), vec![HEAD.to_string()]);

    // The first start of the upgraded server seals it; its mark says it went through.
    server_secret::Entity::delete_by_id(SEALED_MARK.to_string())
        .exec(&w.app.state.db)
        .await
        .unwrap();
    assert_eq!(
        seal_stored(&w.app.state.db, &w.app.state.identity)
            .await
            .unwrap(),
        1
    );
    assert_eq!(
        seal_stored(&w.app.state.db, &w.app.state.identity)
            .await
            .unwrap(),
        0,
        "once"
    );
    assert_eq!(w.app.audit("identity.seal_stored").await.len(), 1);
    let rows = identity_number::Entity::find()
        .all(&w.app.state.db)
        .await
        .unwrap();
    assert!(
        rows.iter()
            .any(|r| r.doc_id == id && r.masked == "370102****0024")
    );

    // A new phone's current state holds the sealed number, no clear one, no birth date; the
    // phone that held the document takes the change.
    let mut cadre = w.app.phone("cadre.wang").await;
    w.app.sync(&mut cadre).await;
    w.app.sync(&mut before).await;
    for phone in [&cadre, &before] {
        let h: Household = phone.replica.read(&id).unwrap();
        let m = &h.members[&head];
        assert_eq!(
            m.identity.as_ref().unwrap().masked.as_str(),
            "370102****0024"
        );
        assert_eq!(m.birth_date, None);
        let doc = &phone.replica.entry(&id).unwrap().doc;
        let content = doc.get(automerge::ROOT, "content").unwrap().unwrap().1;
        let members = doc.get(&content, "members").unwrap().unwrap().1;
        let obj = doc.get(&members, head.to_string()).unwrap().unwrap().1;
        assert!(doc.get(&obj, "id_number").unwrap().is_none());
    }
    // ...and the history still holds the clear value (docs/SECURITY.md says so).
    assert_eq!(clear_on(&mut cadre, &[HEAD]), vec![HEAD.to_string()]);
    // Only grid workers and assistants get it in clear, apart from the document.
    assert_eq!(
        cadre.replica.identity(&id, &format!("members.{head}")),
        None
    );
    let mut liu = w.app.phone("assist.liu").await;
    w.app.sync(&mut liu).await;
    assert_eq!(
        liu.replica.identity(&id, &format!("members.{head}")),
        Some(HEAD)
    );
    // The sealed document takes further edits as any other.
    let mut zhang = w.app.phone("grid.zhang").await;
    w.app.sync(&mut zhang).await;
    zhang
        .replica
        .update::<Household>(&id, |h| h.registered_address = Some("甲地".into()))
        .unwrap();
    let o = w.app.sync(&mut zhang).await;
    assert_eq!(o.accepted, vec![id], "{:?}", o.rejected);
}
