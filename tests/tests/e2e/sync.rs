//! Sync end to end: phones (real replicas driving real HTTP) and the real server.

use std::collections::BTreeMap;

use automerge::ActorId;
use doudi_protocol::doc::household::{HukouType, Member, Relation};
use doudi_protocol::doc::visit::{Investigator, Purpose, Signature, SignerRole, VisitStatus};
use doudi_protocol::doc::{self, Household, UnixMillis, Visit};
use doudi_protocol::ids::{AccountId, BlobHash, DocumentId, MemberId};
use doudi_protocol::role::Role;
use doudi_protocol::sync::{DocPush, PushStatus, SyncRequest, SyncResponse, from_cbor, to_cbor};
use doudi_server::entity::{doc_change, doc_conflict, household, visit};
use doudi_tests::{Backend, Phone, TestApp, both_backends, spawn_app, spawn_app_with};
use reqwest::StatusCode;
use sea_orm::{EntityTrait, PaginatorTrait};
use serde_bytes::ByteBuf;

both_backends!(
    pages_come_gzip_coded_to_who_asks,
    concurrent_edits_converge_a_then_b,
    concurrent_edits_converge_b_then_a,
    replayed_request_adds_nothing,
    a_fresh_history_under_a_stored_id_is_checked_against_the_stored_document,
    idle_sync_moves_a_few_bytes,
    out_of_scope_writes_and_reads_are_refused,
    forged_actor_is_refused,
    broken_requests_get_clear_errors_and_spare_the_rest,
    a_change_automerge_panics_on_is_refused_alone,
    a_change_that_would_leave_an_unreadable_document_is_refused,
    a_compressed_change_that_inflates_past_the_limit_is_refused,
    validation_failure_can_be_fixed_and_resubmitted,
    phones_cannot_write_review_fields,
    only_decisions_change_programmes,
    first_sync_pages_through_everything,
    household_leaving_scope_is_purged,
    projections_rebuilt_equal_incremental,
    two_servers_on_one_database_converge,
    compacted_change_log_sends_whole_documents_to_stale_devices,
    a_batch_stores_each_document_once_in_order,
    concurrent_pushes_from_many_phones_are_all_stored,
    a_write_that_fails_fails_alone_in_its_batch,
    each_document_is_sent_what_the_device_lacks,
    paged_first_sync_sends_documents_edited_after_creation,
    paged_incremental_pull_sends_every_change_since_the_cursor,
    a_lost_answer_after_a_region_change_starts_the_new_scope_again,
    a_visit_names_a_readable_household_of_its_grid,
    a_document_named_in_the_same_request_may_come_after,
);

const GRID_A: &str = "370102001001-A";
const GRID_B: &str = "370102001001-B";

fn household(address: &str) -> Household {
    let mut h = Household {
        address: address.to_string(),
        ..Default::default()
    };
    h.members.insert(
        MemberId::generate().unwrap(),
        Member::new("王建国", Relation::Head),
    );
    h
}

async fn setup(b: Backend) -> (TestApp, Phone, Phone) {
    let app = spawn_app(b).await;
    app.seed_fixture().await;
    app.create_account("grid.zhang", Role::GridWorker, &[GRID_A])
        .await;
    app.create_account("assist.liu", Role::Assistant, &["370102001001"])
        .await;
    let a = app.phone("grid.zhang").await;
    let b = app.phone("assist.liu").await;
    (app, a, b)
}

/// Two phones edit the same household offline: different fields, the same field, each adds a
/// member, one removes a member the other edits. Then they sync in the given order.
async fn converge(b: Backend, a_first: bool) {
    let (app, mut pa, mut pb) = setup(b).await;
    let mut h = household("济南市历下区一镇一村 3 号");
    let doomed = MemberId::generate().unwrap();
    h.members
        .insert(doomed, Member::new("王小军", Relation::Child));
    let id = pa.replica.create(GRID_A, &h).unwrap().to_string();
    app.sync(&mut pa).await;
    let got = app.sync(&mut pb).await;
    assert_eq!(got.updated, vec![id.clone()]);

    // Offline edits.
    pa.replica
        .update::<Household>(&id, |h| {
            h.hukou_type = Some(HukouType::Rural);
            h.registered_address = Some("甲地".into());
            h.members.insert(
                MemberId::generate().unwrap(),
                Member::new("李秀英", Relation::Spouse),
            );
            h.members.remove(&doomed);
        })
        .unwrap();
    pb.replica
        .update::<Household>(&id, |h| {
            h.address = "济南市历下区一镇一村 3 号（东院）".into();
            h.registered_address = Some("乙地".into());
            h.members.insert(
                MemberId::generate().unwrap(),
                Member::new("王小花", Relation::Grandchild),
            );
            if let Some(m) = h.members.get_mut(&doomed) {
                m.phone = Some("13900000000".into());
            }
        })
        .unwrap();

    let (first, second) = if a_first {
        (&mut pa, &mut pb)
    } else {
        (&mut pb, &mut pa)
    };
    let o1 = app.sync(first).await;
    assert_eq!(o1.accepted, vec![id.clone()], "{:?}", o1.rejected);
    let o2 = app.sync(second).await;
    assert_eq!(o2.accepted, vec![id.clone()], "{:?}", o2.rejected);
    app.sync(first).await;

    let stored = app.stored_doc(&id).await.unwrap();
    let server_doc = automerge::Automerge::load(&stored.snapshot).unwrap();
    let server_heads = server_doc.get_heads();
    for p in [&mut pa, &mut pb] {
        let e = p.replica.entry_mut(&id).unwrap();
        assert_eq!(e.doc.get_heads(), server_heads);
    }
    let ha: Household = pa.replica.read(&id).unwrap();
    let hb: Household = pb.replica.read(&id).unwrap();
    let (_, hs) = doudi_protocol::doc::read::<Household, _>(&server_doc).unwrap();
    assert_eq!(ha, hb);
    assert_eq!(ha, hs);
    assert_eq!(ha.hukou_type, Some(HukouType::Rural));
    assert_eq!(ha.address, "济南市历下区一镇一村 3 号（东院）");
    let names: Vec<&str> = ha.members.values().map(|m| m.name.as_str()).collect();
    assert!(
        names.contains(&"李秀英") && names.contains(&"王小花") && names.contains(&"王建国"),
        "{names:?}"
    );
    assert!(["甲地", "乙地"].contains(&ha.registered_address.as_deref().unwrap()));

    // The same-field edit is listed as a conflict with both values.
    let conflicts = doc_conflict::Entity::find()
        .all(&app.state.db)
        .await
        .unwrap();
    let c = conflicts
        .iter()
        .find(|c| c.path.contains("registered_address"))
        .expect("conflict recorded");
    assert!(
        c.detail.contains("甲地") && c.detail.contains("乙地"),
        "{}",
        c.detail
    );

    // Projections follow the merged document.
    let row = household::Entity::find_by_id(id.clone())
        .one(&app.state.db)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(row.address, ha.address);
    assert_eq!(
        row.member_count as usize,
        ha.members
            .values()
            .filter(|m| m.removed_at.is_none())
            .count()
    );
    assert_eq!(row.head_name.as_deref(), Some("王建国"));
    // Every accepted change is audited with document, device and account.
    let audits = app.audit("sync.accept").await;
    assert!(
        audits
            .iter()
            .any(|e| e.device_id.as_deref() == Some(pa.device_id.as_str())
                && e.target.as_deref() == Some(id.as_str()))
    );
    assert!(
        audits
            .iter()
            .any(|e| e.device_id.as_deref() == Some(pb.device_id.as_str())
                && e.account_id.as_deref() == Some(pb.account_id.as_str()))
    );
}

async fn concurrent_edits_converge_a_then_b(b: Backend) {
    converge(b, true).await
}

async fn concurrent_edits_converge_b_then_a(b: Backend) {
    converge(b, false).await
}

async fn replayed_request_adds_nothing(b: Backend) {
    let (app, mut pa, _) = setup(b).await;
    let id = pa
        .replica
        .create(GRID_A, &household("一村 5 号"))
        .unwrap()
        .to_string();
    let body = to_cbor(&pa.replica.prepare(None));
    let first: SyncResponse = from_cbor(
        &app.post_sync(&pa.access, body.clone())
            .await
            .bytes()
            .await
            .unwrap(),
    )
    .unwrap();
    assert_eq!(first.results[0].status, PushStatus::Accepted);
    let changes = doc_change::Entity::find()
        .count(&app.state.db)
        .await
        .unwrap();
    let seq = app.stored_doc(&id).await.unwrap().seq;
    // The response was lost; the phone sends the same request again.
    let again: SyncResponse =
        from_cbor(&app.post_sync(&pa.access, body).await.bytes().await.unwrap()).unwrap();
    assert_eq!(again.results[0].status, PushStatus::Accepted);
    assert_eq!(again.results[0].heads, first.results[0].heads);
    assert_eq!(
        doc_change::Entity::find()
            .count(&app.state.db)
            .await
            .unwrap(),
        changes
    );
    assert_eq!(app.stored_doc(&id).await.unwrap().seq, seq);
    assert_eq!(app.audit("sync.accept").await.len(), 1);
}

/// A history that starts from scratch looks like a new document's, and the server first
/// works it out without reading the store. Under the id of a stored document it must still be
/// refused, merged and audited exactly as any change of that document.
async fn a_fresh_history_under_a_stored_id_is_checked_against_the_stored_document(b: Backend) {
    let (app, mut pa, mut pb) = setup(b).await;
    let id = pa
        .replica
        .create(GRID_A, &household("一村 7 号"))
        .unwrap()
        .to_string();
    app.sync(&mut pa).await;
    let before = app.stored_doc(&id).await.unwrap();
    let own_history = |phone: &Phone, address: &str| {
        let doc_id = DocumentId::parse(&id).unwrap();
        let actor = phone.replica.actor().clone();
        let mut doc =
            doudi_protocol::doc::create(doc_id, GRID_A, &household(address), Some(actor)).unwrap();
        let change = doc.get_last_local_change().unwrap().bytes().into_owned();
        to_cbor(&SyncRequest {
            v: doudi_protocol::sync::PROTOCOL_VERSION,
            cursor: 0,
            push: vec![DocPush {
                doc: id.clone(),
                changes: vec![ByteBuf::from(change)],
            }],
            ..Default::default()
        })
    };
    let denials = |rows: Vec<doudi_server::entity::audit_log::Model>| {
        rows.iter()
            .filter(|r| r.target.as_deref() == Some(id.as_str()))
            .count()
    };

    // Another township's worker may neither read nor write grid A: refused once, audited once.
    app.create_account("other.town", Role::GridWorker, &["370102002001-A"])
        .await;
    let po = app.phone("other.town").await;
    let r = app
        .post_sync(&po.access, own_history(&po, "冒充 7 号"))
        .await;
    let resp: SyncResponse = from_cbor(&r.bytes().await.unwrap()).unwrap();
    assert_eq!(resp.results[0].status, PushStatus::Rejected);
    assert_eq!(resp.results[0].code.as_deref(), Some("policy.denied"));
    assert_eq!(denials(app.audit("policy.denied").await), 1);
    let after = app.stored_doc(&id).await.unwrap();
    assert_eq!((after.seq, &after.heads), (before.seq, &before.heads));

    // The village's assistant may write grid A: its history joins the stored one.
    let changes = doc_change::Entity::find()
        .count(&app.state.db)
        .await
        .unwrap();
    let r = app
        .post_sync(&pb.access, own_history(&pb, "一村 7 号之一"))
        .await;
    let resp: SyncResponse = from_cbor(&r.bytes().await.unwrap()).unwrap();
    assert_eq!(resp.results[0].status, PushStatus::Accepted);
    assert_eq!(resp.results[0].heads.len(), 2, "both histories are heads");
    assert_eq!(
        doc_change::Entity::find()
            .count(&app.state.db)
            .await
            .unwrap(),
        changes + 1
    );
    let merged = app.stored_doc(&id).await.unwrap();
    assert_eq!(merged.created_seq, before.created_seq);
    assert!(merged.seq > before.seq);
    assert_eq!(denials(app.audit("sync.accept").await), 2);
    // Both phones end with the stored document; the two concurrent versions are a conflict.
    app.sync(&mut pa).await;
    app.sync(&mut pb).await;
    let mut server: Vec<ByteBuf> = resp.results[0].heads.clone();
    server.sort();
    for phone in [&mut pa, &mut pb] {
        let mut heads = phone.replica.heads(&id).unwrap();
        heads.sort();
        assert_eq!(heads, server);
    }
    let (a, b): (Household, Household) =
        (pa.replica.read(&id).unwrap(), pb.replica.read(&id).unwrap());
    assert_eq!(a.address, b.address);
    let conflicts = doc_conflict::Entity::find()
        .all(&app.state.db)
        .await
        .unwrap();
    assert!(
        conflicts.iter().any(|c| c.doc_id == id),
        "conflicts: {conflicts:?}"
    );
}

async fn idle_sync_moves_a_few_bytes(b: Backend) {
    let (app, mut pa, _) = setup(b).await;
    for i in 0..20 {
        pa.replica
            .create(GRID_A, &household(&format!("一村 {i} 号")))
            .unwrap();
    }
    app.sync(&mut pa).await;
    app.sync(&mut pa).await;
    let o = app.sync_once(&mut pa, None).await;
    assert!(o.updated.is_empty() && o.accepted.is_empty());
    assert!(
        pa.last_up <= 256 && pa.last_down <= 256,
        "idle sync: {} up, {} down",
        pa.last_up,
        pa.last_down
    );
    // The request: `v`, `cursor`, `tasks_tag` and the server's `epoch` (15 bytes of it).
    assert!(
        pa.last_up < 48 && pa.last_down < 32,
        "idle sync: {} up, {} down",
        pa.last_up,
        pa.last_down
    );
}

async fn out_of_scope_writes_and_reads_are_refused(b: Backend) {
    let (app, mut pa, mut pb) = setup(b).await;
    // The grid worker of grid A writes into grid B: refused.
    let bad = pa
        .replica
        .create(GRID_B, &household("乙网格 1 号"))
        .unwrap()
        .to_string();
    let o = app.sync(&mut pa).await;
    assert_eq!(o.rejected.len(), 1);
    assert_eq!(o.rejected[0].doc, bad);
    assert_eq!(o.rejected[0].code.as_deref(), Some("policy.denied"));
    assert!(app.stored_doc(&bad).await.is_none());
    assert!(!app.audit("policy.denied").await.is_empty());
    // The assistant of the village writes into grid B; the grid-A worker never receives it.
    let in_b = pb
        .replica
        .create(GRID_B, &household("乙网格 2 号"))
        .unwrap()
        .to_string();
    assert_eq!(app.sync(&mut pb).await.accepted, vec![in_b.clone()]);
    let o = app.sync(&mut pa).await;
    assert!(!o.updated.contains(&in_b));
    assert!(pa.replica.entry(&in_b).is_none());
    // Another township's worker cannot change a grid-A household even knowing its id.
    app.create_account("other.town", Role::GridWorker, &["370102002001-A"])
        .await;
    let mut po = app.phone("other.town").await;
    let target = pa
        .replica
        .create(GRID_A, &household("一村 9 号"))
        .unwrap()
        .to_string();
    app.sync(&mut pa).await;
    let snapshot = pa.replica.save(&target).unwrap();
    let mut stolen = automerge::AutoCommit::load(&snapshot).unwrap();
    stolen.set_actor(po.replica.actor().clone());
    let mut h: Household = doudi_protocol::doc::read::<Household, _>(&stolen)
        .unwrap()
        .1;
    h.address = "被篡改".into();
    doudi_protocol::doc::write(&mut stolen, &h).unwrap();
    stolen.commit();
    let change = stolen.get_last_local_change().unwrap().bytes().into_owned();
    let req = SyncRequest {
        v: doudi_protocol::sync::PROTOCOL_VERSION,
        cursor: 0,
        push: vec![DocPush {
            doc: target.clone(),
            changes: vec![ByteBuf::from(change)],
        }],
        ..Default::default()
    };
    let r = app.post_sync(&po.access, to_cbor(&req)).await;
    let resp: SyncResponse = from_cbor(&r.bytes().await.unwrap()).unwrap();
    assert_eq!(resp.results[0].code.as_deref(), Some("policy.denied"));
    assert!(
        resp.updates.is_empty(),
        "no grid-A document reaches the other township"
    );
    let h: Household = app
        .sync(&mut pa)
        .await
        .updated
        .is_empty()
        .then(|| pa.replica.read(&target).unwrap())
        .unwrap();
    assert_eq!(h.address, "一村 9 号");
    app.sync(&mut po).await;
    assert!(po.replica.is_empty());
}

async fn forged_actor_is_refused(b: Backend) {
    let (app, mut pa, pb) = setup(b).await;
    // Phone B writes a change in phone A's name (A's actor id) and sends it with B's token.
    let mut forged = Phone {
        replica: doudi_protocol::sync::Replica::new(pa.replica.actor().clone()),
        ..pb
    };
    let id = forged
        .replica
        .create(GRID_A, &household("冒名 1 号"))
        .unwrap()
        .to_string();
    let o = app.sync_once(&mut forged, None).await;
    assert_eq!(o.rejected.len(), 1);
    assert_eq!(o.rejected[0].code.as_deref(), Some("sync.foreign_actor"));
    assert!(app.stored_doc(&id).await.is_none());
    let audit = app.audit("sync.reject").await;
    assert_eq!(audit.len(), 1);
    assert_eq!(
        audit[0].device_id.as_deref(),
        Some(forged.device_id.as_str())
    );
    // A's own writes still work.
    pa.replica.create(GRID_A, &household("本人 1 号")).unwrap();
    assert_eq!(app.sync(&mut pa).await.accepted.len(), 1);
}

async fn broken_requests_get_clear_errors_and_spare_the_rest(b: Backend) {
    let (app, mut pa, _) = setup(b).await;
    let kept = pa
        .replica
        .create(GRID_A, &household("已存 1 号"))
        .unwrap()
        .to_string();
    app.sync(&mut pa).await;
    let kept_before = app.stored_doc(&kept).await.unwrap();

    pa.replica
        .update::<Household>(&kept, |h| h.address = "已存 1 号（改）".into())
        .unwrap();
    let good = pa
        .replica
        .create(GRID_A, &household("新 1 号"))
        .unwrap()
        .to_string();
    let req = pa.replica.prepare(None);
    let body = to_cbor(&req);

    // Truncated body.
    let r = TestApp::read(
        app.post_sync(&pa.access, body[..body.len() / 2].to_vec())
            .await,
    )
    .await;
    assert_eq!(
        (r.status, r.code()),
        (StatusCode::BAD_REQUEST, "sync.malformed_body")
    );
    // Wrong protocol version.
    let r = TestApp::read(
        app.post_sync(
            &pa.access,
            to_cbor(&SyncRequest {
                v: 99,
                ..req.clone()
            }),
        )
        .await,
    )
    .await;
    assert_eq!(
        (r.status, r.code()),
        (StatusCode::UPGRADE_REQUIRED, "sync.upgrade_required")
    );
    assert!(r.body["message"].as_str().unwrap().contains("更新"));
    // Oversized batch.
    let many: Vec<DocPush> = (0..501)
        .map(|_| DocPush {
            doc: DocumentId::generate().unwrap().to_string(),
            changes: vec![],
        })
        .collect();
    let r = TestApp::read(
        app.post_sync(
            &pa.access,
            to_cbor(&SyncRequest {
                v: doudi_protocol::sync::PROTOCOL_VERSION,
                cursor: 0,
                push: many,
                ..Default::default()
            }),
        )
        .await,
    )
    .await;
    assert_eq!(
        (r.status, r.code()),
        (StatusCode::PAYLOAD_TOO_LARGE, "sync.batch_too_large")
    );
    // Corrupted change bytes in one document; the other documents of the batch go through.
    let mut mixed = req.clone();
    for p in mixed.push.iter_mut().filter(|p| p.doc == kept) {
        for c in p.changes.iter_mut() {
            let n = c.len();
            c[n / 2] ^= 0xff;
            c[n - 1] ^= 0xff;
        }
    }
    let resp: SyncResponse = from_cbor(
        &app.post_sync(&pa.access, to_cbor(&mixed))
            .await
            .bytes()
            .await
            .unwrap(),
    )
    .unwrap();
    let by_doc: BTreeMap<&str, &doudi_protocol::sync::PushResult> =
        resp.results.iter().map(|r| (r.doc.as_str(), r)).collect();
    assert_eq!(by_doc[kept.as_str()].status, PushStatus::Rejected);
    assert_eq!(
        by_doc[kept.as_str()].code.as_deref(),
        Some("sync.corrupt_change")
    );
    assert_eq!(by_doc[good.as_str()].status, PushStatus::Accepted);
    // Nothing stored was lost or changed by the broken parts.
    let kept_after = app.stored_doc(&kept).await.unwrap();
    assert_eq!(kept_after.snapshot, kept_before.snapshot);
    // Not CBOR at all, and the wrong content type.
    let r = TestApp::read(app.post_sync(&pa.access, b"{\"v\":1}".to_vec()).await).await;
    assert_eq!(r.code(), "sync.malformed_body");
    let r = TestApp::read(
        app.http
            .post(app.url("/api/v1/sync"))
            .bearer_auth(&pa.access)
            .json(&serde_json::json!({"v":1}))
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(r.code(), "request.unsupported_media_type");
    // The server keeps serving, and the intact request then goes through.
    let o = app.sync(&mut pa).await;
    assert!(o.rejected.is_empty(), "{:?}", o.rejected);
    assert!(app.stored_doc(&kept).await.unwrap().seq > kept_before.seq);
}

/// Found by the `push_changes` fuzz target (docs/RELIABILITY.md): a change whose list of other
/// actors names an actor the document has never seen, as the author of the operation it
/// overwrites, made automerge panic while applying it, which ended the whole request. It is
/// refused as corrupt on its own; the rest of the request is stored and the server keeps serving.
async fn a_change_automerge_panics_on_is_refused_alone(b: Backend) {
    let (app, mut pa, _) = setup(b).await;
    let kept = pa
        .replica
        .create(GRID_A, &household("已存 2 号"))
        .unwrap()
        .to_string();
    app.sync(&mut pa).await;

    // A second actor of the device overwrites the address: its change names the device's own
    // actor, which wrote the address, among its other actors.
    let own = pa.replica.actor().to_bytes().to_vec();
    let mut edit = pa.replica.entry(&kept).unwrap().doc.clone();
    edit.set_actor(ActorId::from([own.as_slice(), &[1]].concat()));
    let heads = edit.get_heads();
    let mut h = pa.replica.read::<Household>(&kept).unwrap();
    h.address = "已存 2 号（东院）".into();
    doc::write(&mut edit, &h).unwrap();
    edit.commit();
    let change = edit.get_changes(&heads).pop().unwrap();
    let mut bytes = change.raw_bytes().to_vec();
    let at = |from: usize| {
        from + bytes[from..]
            .windows(own.len())
            .position(|w| w == own)
            .unwrap()
    };
    let other = at(at(0) + own.len());
    // Point the other actor elsewhere: automerge has no such actor to look up.
    bytes[other + own.len() - 1] ^= 0x08;

    refused_alone(&app, &mut pa, &kept, bytes, "新 2 号").await;
    // The server keeps serving.
    let o = app.sync(&mut pa).await;
    assert!(o.rejected.is_empty(), "{:?}", o.rejected);
}

/// Push `change` of the stored document `kept` in one request with a new household at `address`:
/// the change is refused alone as `sync.corrupt_change` and `kept` stays as stored; the new
/// household is stored.
async fn refused_alone(app: &TestApp, pa: &mut Phone, kept: &str, change: Vec<u8>, address: &str) {
    let kept_before = app.stored_doc(kept).await.unwrap();
    let good = pa
        .replica
        .create(GRID_A, &household(address))
        .unwrap()
        .to_string();
    let mut req = pa.replica.prepare(None);
    req.push.push(DocPush {
        doc: kept.to_string(),
        changes: vec![ByteBuf::from(change)],
    });
    let resp: SyncResponse = from_cbor(
        &app.post_sync(&pa.access, to_cbor(&req))
            .await
            .bytes()
            .await
            .unwrap(),
    )
    .unwrap();
    let by_doc: BTreeMap<&str, &doudi_protocol::sync::PushResult> =
        resp.results.iter().map(|r| (r.doc.as_str(), r)).collect();
    assert_eq!(
        (by_doc[kept].status, by_doc[kept].code.as_deref()),
        (PushStatus::Rejected, Some("sync.corrupt_change"))
    );
    assert_eq!(by_doc[good.as_str()].status, PushStatus::Accepted);
    assert_eq!(
        app.stored_doc(kept).await.unwrap().snapshot,
        kept_before.snapshot
    );
}

/// Found by the `push_changes` fuzz target (docs/RELIABILITY.md): an empty change whose first
/// operation number is one that the document already used. Automerge applies it, but the
/// document saved with it does not load (`InvalidMaxOp`): stored, the document could not be read
/// again, by the server or by any phone of the grid. It is refused; the document stays as it was.
async fn a_change_that_would_leave_an_unreadable_document_is_refused(b: Backend) {
    let (app, mut pa, _) = setup(b).await;
    let kept = pa
        .replica
        .create(GRID_A, &household("已存 3 号"))
        .unwrap()
        .to_string();
    app.sync(&mut pa).await;
    let kept_before = app.stored_doc(&kept).await.unwrap();

    let mut edit = pa.replica.entry(&kept).unwrap().doc.clone();
    let heads = edit.get_heads();
    let mut h = pa.replica.read::<Household>(&kept).unwrap();
    h.address = "已存 3 号（西院）".into();
    doc::write(&mut edit, &h).unwrap();
    edit.commit();
    let mut change = edit.get_changes(&heads).pop().unwrap().decode();
    change.operations.clear();
    change.start_op = std::num::NonZeroU64::new(change.start_op.get() - 1).unwrap();
    let mut change = automerge::Change::from(change);
    let mut req = pa.replica.prepare(None);
    req.push = vec![DocPush {
        doc: kept.clone(),
        changes: vec![ByteBuf::from(change.bytes().into_owned())],
    }];
    let resp: SyncResponse = from_cbor(
        &app.post_sync(&pa.access, to_cbor(&req))
            .await
            .bytes()
            .await
            .unwrap(),
    )
    .unwrap();
    assert_eq!(
        (resp.results[0].status, resp.results[0].code.as_deref()),
        (PushStatus::Rejected, Some("sync.corrupt_change"))
    );
    let stored = app.stored_doc(&kept).await.unwrap();
    assert_eq!(stored.snapshot, kept_before.snapshot);
    assert!(doc::load(&stored.snapshot).is_ok());
    // The phone's own edit of the document still syncs.
    pa.replica
        .update::<Household>(&kept, |h| h.address = "已存 3 号（北院）".into())
        .unwrap();
    let o = app.sync(&mut pa).await;
    assert!(o.rejected.is_empty(), "{:?}", o.rejected);
    assert!(doc::load(&app.stored_doc(&kept).await.unwrap().snapshot).is_ok());
}

/// A change of document `id` as the phone holds it, whose address is `len` bytes of repeated
/// text, compressed as automerge sends a large change: DEFLATE makes it about a thousand times
/// smaller.
fn long_address_change(phone: &Phone, id: &str, len: usize) -> Vec<u8> {
    let mut edit = phone.replica.entry(id).unwrap().doc.clone();
    edit.set_actor(phone.replica.actor().clone());
    let heads = edit.get_heads();
    let mut h = phone.replica.read::<Household>(id).unwrap();
    h.address = "某".repeat(len / 3);
    doc::write(&mut edit, &h).unwrap();
    edit.commit();
    let mut change = edit.get_changes(&heads).pop().unwrap().clone();
    let compressed = change.bytes().into_owned();
    assert!(compressed.len() * 100 < len, "{} bytes", compressed.len());
    compressed
}

/// Automerge inflates a compressed change whole: a change of a few kilobytes in a request of
/// at most 8 MiB could inflate to gigabytes of the server's memory. One change may take
/// `doc::MAX_CHANGE_BYTES` inflated (a larger one is refused alone as `sync.corrupt_change`),
/// and the changes of one request `doc::MAX_INFLATED_BYTES` in all (a request past it is
/// refused whole as `sync.batch_too_large`, before any is inflated). The server keeps serving.
async fn a_compressed_change_that_inflates_past_the_limit_is_refused(b: Backend) {
    let (app, mut pa, _) = setup(b).await;
    let kept = pa
        .replica
        .create(GRID_A, &household("已存 4 号"))
        .unwrap()
        .to_string();
    app.sync(&mut pa).await;
    let too_large = long_address_change(&pa, &kept, doc::MAX_CHANGE_BYTES + 1024);
    refused_alone(&app, &mut pa, &kept, too_large, "新 4 号").await;

    // Each change within the limit, together past the request's.
    let large = long_address_change(&pa, &kept, doc::MAX_CHANGE_BYTES - 1024);
    let copies = doc::MAX_INFLATED_BYTES / doc::MAX_CHANGE_BYTES + 1;
    let r = TestApp::read(
        app.post_sync(
            &pa.access,
            to_cbor(&SyncRequest {
                push: vec![DocPush {
                    doc: kept.clone(),
                    changes: vec![ByteBuf::from(large.clone()); copies],
                }],
                ..pa.replica.prepare(None)
            }),
        )
        .await,
    )
    .await;
    assert_eq!(
        (r.status, r.code()),
        (StatusCode::PAYLOAD_TOO_LARGE, "sync.batch_too_large")
    );
    assert!(r.body["message"].as_str().unwrap().contains("64 MiB"));

    // The server keeps serving: a change within the limits is stored, and reads back.
    let r = TestApp::read(
        app.post_sync(
            &pa.access,
            to_cbor(&SyncRequest {
                push: vec![DocPush {
                    doc: kept.clone(),
                    changes: vec![ByteBuf::from(large)],
                }],
                ..pa.replica.prepare(None)
            }),
        )
        .await,
    )
    .await;
    assert_eq!(r.status, StatusCode::OK);
    let stored = app.stored_doc(&kept).await.unwrap();
    let (_, h) = doc::read::<Household, _>(&doc::load(&stored.snapshot).unwrap()).unwrap();
    assert_eq!(h.address.len(), (doc::MAX_CHANGE_BYTES - 1024) / 3 * 3);
    let o = app.sync(&mut pa).await;
    assert!(o.rejected.is_empty(), "{:?}", o.rejected);
}

fn submitted_visit(household: &str, investigators: &[(&str, &str)]) -> Visit {
    let mut v = Visit::new(DocumentId::parse(household).unwrap(), Purpose::Recheck);
    v.started_at = Some(UnixMillis(1_763_800_000_000));
    v.ended_at = Some(UnixMillis(1_763_801_800_000));
    for (n, (acct, name)) in investigators.iter().enumerate() {
        v.investigators.insert(
            AccountId::parse(acct).unwrap(),
            Investigator {
                name: name.to_string(),
            },
        );
        v.signatures.insert(
            BlobHash::from_bytes([n as u8 + 1; 32]),
            Signature {
                signer_name: name.to_string(),
                role: SignerRole::Investigator,
                account: Some(AccountId::parse(acct).unwrap()),
                member: None,
                signed_at: v.ended_at,
            },
        );
    }
    v.conclusion = Some(doudi_protocol::doc::visit::Conclusion::Accurate);
    v.status = VisitStatus::Submitted;
    v.submitted_at = v.ended_at;
    v
}

async fn validation_failure_can_be_fixed_and_resubmitted(b: Backend) {
    let (app, mut pa, _) = setup(b).await;
    let hh = pa
        .replica
        .create(GRID_A, &household("一村 7 号"))
        .unwrap()
        .to_string();
    let visit = pa
        .replica
        .create(GRID_A, &submitted_visit(&hh, &[(&pa.account_id, "张网格")]))
        .unwrap()
        .to_string();
    let o = app.sync(&mut pa).await;
    assert_eq!(o.accepted, vec![hh.clone()]);
    assert_eq!(o.rejected.len(), 1);
    let r = &o.rejected[0];
    assert_eq!(
        (r.doc.as_str(), r.code.as_deref()),
        (visit.as_str(), Some("sync.validation_failed"))
    );
    assert!(
        r.issues.iter().any(|i| i.path.contains("investigators")),
        "{:?}",
        r.issues
    );
    assert!(
        r.issues
            .iter()
            .all(|i| !i.message.is_empty() && !i.message_en.is_empty())
    );
    assert!(app.stored_doc(&visit).await.is_none());
    // The worker adds the second investigator and syncs again: both changes go, the result is valid.
    let second = submitted_visit(
        &hh,
        &[(&pa.account_id, "张网格"), ("colleague-2", "刘协理")],
    );
    pa.replica
        .update::<Visit>(&visit, |v| {
            v.investigators = second.investigators.clone();
            v.signatures = second.signatures.clone();
        })
        .unwrap();
    let o = app.sync(&mut pa).await;
    assert_eq!(o.accepted, vec![visit.clone()], "{:?}", o.rejected);
    let row = visit::Entity::find_by_id(visit.clone())
        .one(&app.state.db)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        (
            row.status.as_str(),
            row.investigator_count,
            row.household_id.as_str()
        ),
        ("submitted", 2, hh.as_str())
    );
}

async fn phones_cannot_write_review_fields(b: Backend) {
    let (app, mut pa, _) = setup(b).await;
    let hh = pa
        .replica
        .create(GRID_A, &household("一村 8 号"))
        .unwrap()
        .to_string();
    let mut v = submitted_visit(
        &hh,
        &[(&pa.account_id, "张网格"), ("colleague-2", "刘协理")],
    );
    v.status = VisitStatus::Submitted;
    let visit = pa.replica.create(GRID_A, &v).unwrap().to_string();
    assert_eq!(app.sync(&mut pa).await.accepted.len(), 2);
    pa.replica
        .update::<Visit>(&visit, |v| v.status = VisitStatus::Approved)
        .unwrap();
    let o = app.sync(&mut pa).await;
    assert_eq!(o.rejected.len(), 1);
    assert_eq!(o.rejected[0].code.as_deref(), Some("sync.server_field"));
    // Every problem at once: each server-only field changed, and the rules' errors too.
    pa.replica
        .update::<Visit>(&visit, |v| {
            v.reviews.push(doudi_protocol::doc::visit::Review {
                reviewer: AccountId::parse(&pa.account_id).unwrap(),
                reviewer_name: "张网格".into(),
                decision: doudi_protocol::doc::visit::ReviewOutcome::Approve,
                comment: None,
                at: UnixMillis(1_760_000_000_000),
            });
            v.mode = doudi_protocol::doc::visit::VisitMode::Phone;
            v.emergency_reason = None;
        })
        .unwrap();
    let o = app.sync(&mut pa).await;
    let mut paths: Vec<&str> = o.rejected[0]
        .issues
        .iter()
        .map(|i| i.path.as_str())
        .collect();
    paths.sort();
    assert_eq!(
        paths,
        [
            "content.emergency_reason",
            "content.reviews",
            "content.status"
        ],
        "{:?}",
        o.rejected[0].issues
    );
    let row = visit::Entity::find_by_id(visit)
        .one(&app.state.db)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(row.status, "submitted");
}

/// DB2021 art. 28: nobody is enrolled without acceptance, investigation and confirmation. A
/// phone can neither create a household in a programme nor change its programmes; a decision
/// the server writes does, and the phone then edits the household as before.
async fn only_decisions_change_programmes(b: Backend) {
    use doudi_protocol::doc::household::Programme;
    let (app, mut pa, _) = setup(b).await;
    let mut enrolled = household("一村 9 号");
    enrolled.programmes.insert(Programme::Dibao);
    pa.replica.create(GRID_A, &enrolled).unwrap();
    let o = app.sync(&mut pa).await;
    assert_eq!(o.rejected.len(), 1);
    let r = &o.rejected[0];
    assert_eq!(r.code.as_deref(), Some("sync.server_field"));
    assert_eq!(r.issues[0].path, "content.programmes");
    assert!(r.issues[0].message.contains("审批决定"), "{:?}", r.issues);

    let mut pa = app.phone("grid.zhang").await;
    let hh = pa
        .replica
        .create(GRID_A, &household("一村 10 号"))
        .unwrap()
        .to_string();
    assert_eq!(app.sync(&mut pa).await.accepted.len(), 1);
    pa.replica
        .update::<Household>(&hh, |h| {
            h.programmes.insert(Programme::TekunDispersed);
        })
        .unwrap();
    let o = app.sync(&mut pa).await;
    assert_eq!(o.rejected[0].code.as_deref(), Some("sync.server_field"));
    let stored = household::Entity::find_by_id(hh.clone())
        .one(&app.state.db)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(stored.programmes, "");

    // The county's decision puts the household in 低保; a fresh phone gets it and edits the
    // address without touching the programmes.
    doudi_tests::cases::approve(&app, &hh, Programme::Dibao, 1_760_000_000_000, "assist.liu").await;
    let mut pc = app.phone("grid.zhang").await;
    app.sync(&mut pc).await;
    let h = pc.replica.read::<Household>(&hh).unwrap();
    assert_eq!(h.programmes.iter().collect::<Vec<_>>(), [&Programme::Dibao]);
    pc.replica
        .update::<Household>(&hh, |h| h.address = "一村 10 号（新）".into())
        .unwrap();
    assert_eq!(app.sync(&mut pc).await.accepted, vec![hh.clone()]);
    // Taking it out of 低保 is a decision too.
    pc.replica
        .update::<Household>(&hh, |h| {
            h.programmes.clear();
        })
        .unwrap();
    assert_eq!(
        app.sync(&mut pc).await.rejected[0].code.as_deref(),
        Some("sync.server_field")
    );
}

async fn first_sync_pages_through_everything(b: Backend) {
    let (app, mut pa, _) = setup(b).await;
    let mut ids = Vec::new();
    for i in 0..60 {
        ids.push(
            pa.replica
                .create(GRID_A, &household(&format!("一村 {i} 号")))
                .unwrap()
                .to_string(),
        );
    }
    app.sync(&mut pa).await;
    let mut fresh = app.phone("grid.zhang").await;
    let mut rounds = 0;
    loop {
        rounds += 1;
        let o = app.sync_once(&mut fresh, Some(4096)).await;
        assert!(
            fresh.last_down < 4096 + 2048,
            "page of {} bytes",
            fresh.last_down
        );
        if !o.more {
            break;
        }
    }
    assert!(rounds > 3, "{rounds} rounds");
    let mut got: Vec<String> = fresh.replica.ids().cloned().collect();
    got.sort();
    ids.sort();
    assert_eq!(got, ids);
    for id in &ids {
        assert_eq!(
            fresh.replica.read::<Household>(id).unwrap(),
            pa.replica.read::<Household>(id).unwrap()
        );
    }
}

async fn household_leaving_scope_is_purged(b: Backend) {
    let (app, mut pa, mut pb) = setup(b).await;
    app.create_account("admin.county", Role::Admin, &["370102000000"])
        .await;
    let (admin, _, _) = app.login("admin.county").await;
    let in_a = pb
        .replica
        .create(GRID_A, &household("一村甲 1 号"))
        .unwrap()
        .to_string();
    let in_b = pb
        .replica
        .create(GRID_B, &household("一村乙 1 号"))
        .unwrap()
        .to_string();
    app.sync(&mut pb).await;
    // The assistant is moved from the whole village to grid B only.
    let r = app
        .send(
            reqwest::Method::PATCH,
            &format!("/api/v1/admin/accounts/{}", pb.account_id),
            Some(&admin),
            Some(serde_json::json!({ "regions": [GRID_B] })),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{:?}", r.body);
    let o = app.sync(&mut pb).await;
    assert_eq!(o.purged, vec![in_a.clone()]);
    assert!(pb.replica.entry(&in_a).is_none());
    assert!(pb.replica.entry(&in_b).is_some());
    // The grid-A worker still has it.
    app.sync(&mut pa).await;
    assert!(pa.replica.entry(&in_a).is_some());
}

async fn dump(app: &TestApp) -> String {
    doudi_tests::stored::projections(&app.state.db).await
}

async fn projections_rebuilt_equal_incremental(b: Backend) {
    let (app, mut pa, mut pb) = setup(b).await;
    let mut hhs = Vec::new();
    for i in 0..5 {
        hhs.push(
            pa.replica
                .create(GRID_A, &household(&format!("一村 {i} 号")))
                .unwrap()
                .to_string(),
        );
    }
    pa.replica
        .create(
            GRID_A,
            &submitted_visit(&hhs[0], &[(&pa.account_id, "张网格"), ("x2", "刘协理")]),
        )
        .unwrap();
    let mut report =
        doudi_protocol::doc::DiscoveryReport::new(AccountId::parse(&pb.account_id).unwrap());
    report.notes = Some("独居老人，屋顶漏雨".into());
    pb.replica.create(GRID_B, &report).unwrap();
    app.sync(&mut pa).await;
    app.sync(&mut pb).await;
    app.sync(&mut pb).await;
    pb.replica
        .update::<Household>(&hhs[1], |h| {
            h.members.insert(
                MemberId::generate().unwrap(),
                Member::new("新成员", Relation::Other),
            );
        })
        .unwrap();
    app.sync(&mut pb).await;
    // A decision written by the server (审批决定) is projected too.
    doudi_tests::cases::approve(
        &app,
        &hhs[2],
        doudi_protocol::doc::household::Programme::Dibao,
        doudi_server::auth::now_ms(),
        "grid.zhang",
    )
    .await;
    let incremental = dump(&app).await;
    assert!(incremental.contains("独居") || incremental.contains("draft"));
    assert!(incremental.contains("idx: 0"), "{incremental}");
    // The visit's signatures are blob references, rebuilt with the rest.
    assert!(incremental.contains("blob_ref "), "{incremental}");
    let n = doudi_server::documents::projection::rebuild_all(&app.state.db)
        .await
        .unwrap();
    assert_eq!(n, 7);
    assert_eq!(dump(&app).await, incremental);
    // Read two documents at a time: the pages follow each other by key, none read twice.
    let n = doudi_server::documents::projection::rebuild_paged(&app.state.db, 2)
        .await
        .unwrap();
    assert_eq!(n, 7);
    assert_eq!(dump(&app).await, incremental);
}

async fn two_servers_on_one_database_converge(b: Backend) {
    let (app1, mut pa, _) = setup(b).await;
    let url = app1.state.settings.database_url();
    let app2 = spawn_app_with(b, |s| {
        s.database_url = Some(doudi_server::config::Secret::new(url.clone()));
    })
    .await;
    let mut pb = app2.phone("assist.liu").await;
    let id = pa
        .replica
        .create(GRID_A, &household("一村 1 号"))
        .unwrap()
        .to_string();
    app1.sync(&mut pa).await;
    app2.sync(&mut pb).await;
    pa.replica
        .update::<Household>(&id, |h| h.hukou_type = Some(HukouType::Urban))
        .unwrap();
    pb.replica
        .update::<Household>(&id, |h| h.address = "一村 1 号（新）".into())
        .unwrap();
    // Both push at the same time to different servers.
    let (o1, o2) = tokio::join!(app1.sync_once(&mut pa, None), app2.sync_once(&mut pb, None));
    assert!(o1.rejected.is_empty() && o2.rejected.is_empty());
    app1.sync(&mut pa).await;
    app2.sync(&mut pb).await;
    let ha: Household = pa.replica.read(&id).unwrap();
    let hb: Household = pb.replica.read(&id).unwrap();
    assert_eq!(ha, hb);
    assert_eq!(
        (ha.hukou_type, ha.address.as_str()),
        (Some(HukouType::Urban), "一村 1 号（新）")
    );
    // A token of one server is accepted by the other (the key is shared through the database).
    assert_eq!(
        app2.get("/api/v1/me", &pa.access).await.status,
        StatusCode::OK
    );
}

/// One raw sync round trip of `phone`, returning the decoded response after applying it.
async fn raw_sync(app: &TestApp, phone: &mut Phone) -> SyncResponse {
    let req = phone.replica.prepare(None);
    let r = app.post_sync(&phone.access, to_cbor(&req)).await;
    assert_eq!(r.status(), StatusCode::OK);
    let resp: SyncResponse = from_cbor(&r.bytes().await.unwrap()).unwrap();
    phone.replica.apply(resp.clone()).unwrap();
    resp
}

/// `n` new households in grid A on `phone`, addressed "`village` i 号".
fn create_households(phone: &mut Phone, village: &str, n: usize) -> Vec<String> {
    (0..n)
        .map(|i| {
            phone
                .replica
                .create(GRID_A, &household(&format!("{village} {i} 号")))
                .unwrap()
                .to_string()
        })
        .collect()
}

/// The feed reads the change log for many documents at once. Over several pages a device is
/// sent, for each document, exactly what it lacks: the changes others made to documents it
/// holds (more documents than one read of the log covers), the whole of documents others
/// created, and nothing it wrote itself, neither edits nor new documents pushed in the same
/// request.
async fn each_document_is_sent_what_the_device_lacks(b: Backend) {
    use std::collections::BTreeSet;
    let (app, mut pa, mut pb) = setup(b).await;
    let shared = create_households(&mut pa, "二村", 40);
    app.sync(&mut pa).await;
    app.sync(&mut pb).await;
    // Offline: B edits 30 of them and creates 4; A edits 5 others and creates 3.
    for id in &shared[..30] {
        pb.replica
            .update::<Household>(id, |h| h.address.push_str("（东院）"))
            .unwrap();
    }
    let by_b: BTreeSet<String> = create_households(&mut pb, "三村", 4).into_iter().collect();
    for id in &shared[30..35] {
        pa.replica
            .update::<Household>(id, |h| h.hukou_type = Some(HukouType::Rural))
            .unwrap();
    }
    let by_a = create_households(&mut pa, "四村", 3);
    app.sync(&mut pb).await;

    // A pushes its work and pulls in small pages.
    let (mut changed, mut whole, mut pages) = (BTreeSet::new(), BTreeSet::new(), 0);
    loop {
        pages += 1;
        let req = pa.replica.prepare(Some(4096));
        let r = app.post_sync(&pa.access, to_cbor(&req)).await;
        assert_eq!(r.status(), StatusCode::OK);
        let resp: SyncResponse = from_cbor(&r.bytes().await.unwrap()).unwrap();
        for u in &resp.updates {
            let fresh = match &u.snapshot {
                Some(_) => whole.insert(u.doc.clone()),
                None => {
                    assert!(!u.changes.is_empty(), "{}: an empty update", u.doc);
                    changed.insert(u.doc.clone())
                }
            };
            assert!(fresh, "{} sent twice", u.doc);
        }
        let more = resp.more;
        let outcome = pa.replica.apply(resp).unwrap();
        assert!(outcome.rejected.is_empty(), "{:?}", outcome.rejected);
        if !more {
            break;
        }
    }
    assert!(pages > 2, "{pages} pages");
    let edited_by_b: BTreeSet<String> = shared[..30].iter().cloned().collect();
    assert_eq!(changed, edited_by_b, "changes: the documents B edited");
    assert_eq!(whole, by_b, "snapshots: the documents B created");
    for id in shared.iter().chain(&by_a).chain(&by_b) {
        let stored = app.stored_doc(id).await.unwrap();
        let server = automerge::Automerge::load(&stored.snapshot).unwrap();
        assert_eq!(
            pa.replica.entry_mut(id).unwrap().doc.get_heads(),
            server.get_heads(),
            "{id}"
        );
    }
    let h: Household = pa.replica.read(&shared[3]).unwrap();
    assert_eq!(h.address, "二村 3 号（东院）");
    let h: Household = pa.replica.read(&shared[33]).unwrap();
    assert_eq!(h.hukou_type, Some(HukouType::Rural));
}

/// Background compaction drops the bytes of old changes from the log (the rows, the history,
/// stay). A device whose cursor is older than the compacted part is sent the whole document and
/// converges; changes stored after compaction still travel as changes.
async fn compacted_change_log_sends_whole_documents_to_stale_devices(b: Backend) {
    use doudi_server::documents::compact;
    let (app, mut pa, mut pb) = setup(b).await;
    let id = pa
        .replica
        .create(GRID_A, &household("一村 8 号"))
        .unwrap()
        .to_string();
    app.sync(&mut pa).await;
    app.sync(&mut pb).await;
    pa.replica
        .update::<Household>(&id, |h| h.address = "一村 8 号东屋".into())
        .unwrap();
    app.sync(&mut pa).await;

    let db = &app.state.db;
    let now = chrono::Utc::now().timestamp_millis();
    // Nothing is old enough yet.
    let none = compact::run(db, now - 86_400_000).await.unwrap();
    assert_eq!(none.changes, 0);
    let logged = || async {
        doc_change::Entity::find()
            .all(db)
            .await
            .unwrap()
            .into_iter()
            .filter(|c| c.doc_id == id)
            .collect::<Vec<_>>()
    };
    let before = logged().await;
    assert!(before.len() >= 2 && before.iter().all(|c| !c.bytes.is_empty()));
    let done = compact::run(db, now + 1).await.unwrap();
    assert!(done.changes >= before.len() as u64, "{done:?}");
    assert_eq!(
        done.bytes,
        before.iter().map(|c| c.bytes.len() as u64).sum::<u64>()
    );
    let after = logged().await;
    assert_eq!(after.len(), before.len(), "the history rows stay");
    assert!(after.iter().all(|c| c.bytes.is_empty()));
    let stored = app.stored_doc(&id).await.unwrap();
    assert_eq!(stored.changes_from_seq, stored.seq);
    assert_eq!(done.to_seq, stored.seq);
    assert_eq!(compact::run(db, now + 1).await.unwrap().changes, 0);

    // Phone B is behind the compacted part: the whole document.
    let resp = raw_sync(&app, &mut pb).await;
    let u = resp.updates.iter().find(|u| u.doc == id).expect("sent");
    assert!(u.snapshot.is_some() && u.changes.is_empty(), "{u:?}");
    assert_eq!(pb.replica.heads(&id), pa.replica.heads(&id));

    // A change stored after compaction reaches B as that change alone.
    pa.replica
        .update::<Household>(&id, |h| h.address = "一村 8 号西屋".into())
        .unwrap();
    app.sync(&mut pa).await;
    let resp = raw_sync(&app, &mut pb).await;
    let u = resp.updates.iter().find(|u| u.doc == id).expect("sent");
    assert!(u.snapshot.is_none() && u.changes.len() == 1, "{u:?}");
    assert_eq!(pb.replica.heads(&id), pa.replica.heads(&id));
    assert_eq!(
        app.stored_doc(&id).await.unwrap().changes_from_seq,
        stored.seq
    );
}

/// A document of `content` written by `phone`, prepared for storing on top of `stored` (none: a
/// new document), with `edit` applied to its content first when it is stored already.
async fn prepared_write(
    app: &TestApp,
    phone: &Phone,
    id: DocumentId,
    stored: Option<&doudi_server::entity::document::Model>,
    content: &Household,
    extra: doudi_server::documents::ExtraRows,
) -> doudi_server::documents::Prepared {
    use automerge::Automerge;
    use doudi_protocol::doc;
    use doudi_server::entity::region;
    let actor = doudi_protocol::sync::replica::device_actor(&phone.device_id).unwrap();
    let mut am = match stored {
        Some(row) => {
            let mut am = automerge::AutoCommit::load(&row.snapshot).unwrap();
            am.set_actor(actor);
            doc::write(&mut am, content).unwrap();
            am
        }
        None => doc::create(id, GRID_A, content, Some(actor)).unwrap(),
    };
    let before = stored.map(|r| Automerge::load(&r.snapshot).unwrap().get_heads());
    let changes = am.get_changes(before.as_deref().unwrap_or(&[]));
    let mut after: Automerge = am.document().clone();
    let header = doc::read_header(&after).unwrap();
    let heads = after.get_heads();
    let tree = doc::tree(&after).unwrap();
    let grid = region::Entity::find_by_id(GRID_A.to_string())
        .one(&app.state.db)
        .await
        .unwrap()
        .unwrap();
    let writer = doudi_server::documents::Writer {
        account_id: &phone.account_id,
        device_id: &phone.device_id,
        client_addr: None,
        audit_action: doudi_server::sync::AUDIT_ACCEPT,
        audit_detail: None,
    };
    let (_, content) = doc::read_any(&tree).unwrap();
    doudi_server::documents::prepare(
        &writer,
        stored,
        &header,
        &grid.path,
        &mut after,
        &tree,
        Some(&content),
        &changes,
        &heads,
        extra,
    )
    .unwrap()
}

/// One batch stores several documents in one transaction: each with its own feed sequence in
/// batch order, its change log rows, projection rows and audit entry. A second new document
/// with an id the batch already stores, and an update worked out from a state another write of
/// the batch replaced, are refused (`None`) without touching the rest; each stored one is
/// answered with the feed sequence it was stored under.
async fn a_batch_stores_each_document_once_in_order(b: Backend) {
    use doudi_server::documents::write_batch;
    let (app, pa, _) = setup(b).await;
    let db = &app.state.db;
    let (a, bb) = (
        DocumentId::generate().unwrap(),
        DocumentId::generate().unwrap(),
    );
    let writes = vec![
        prepared_write(&app, &pa, a, None, &household("一村 1 号"), vec![]).await,
        prepared_write(&app, &pa, bb, None, &household("一村 2 号"), vec![]).await,
        prepared_write(&app, &pa, a, None, &household("冒名 1 号"), vec![]).await,
    ];
    let stored = write_batch(db, &writes).await.unwrap();
    let (ra, rb) = (
        app.stored_doc(&a.to_string()).await.unwrap(),
        app.stored_doc(&bb.to_string()).await.unwrap(),
    );
    assert_eq!(stored, vec![Some(ra.seq), Some(rb.seq), None]);
    assert_eq!(rb.seq, ra.seq + 1, "sequences follow the batch order");
    assert_eq!((ra.created_seq, rb.created_seq), (ra.seq, rb.seq));
    let hh = household::Entity::find_by_id(a.to_string())
        .one(db)
        .await
        .unwrap()
        .unwrap();
    assert_eq!((hh.address.as_str(), hh.updated_seq), ("一村 1 号", ra.seq));

    // Two updates of B from the same stored state: the first wins, the second is refused.
    let mut first = household("一村 2 号东屋");
    first.hukou_type = Some(HukouType::Rural);
    let writes = vec![
        prepared_write(&app, &pa, bb, Some(&rb), &first, vec![]).await,
        prepared_write(
            &app,
            &pa,
            bb,
            Some(&rb),
            &household("一村 2 号西屋"),
            vec![],
        )
        .await,
    ];
    let stored = write_batch(db, &writes).await.unwrap();
    let rb2 = app.stored_doc(&bb.to_string()).await.unwrap();
    assert_eq!(stored, vec![Some(rb2.seq), None]);
    assert!(rb2.seq > rb.seq);
    assert_eq!(rb2.created_seq, rb.created_seq);
    let hb = household::Entity::find_by_id(bb.to_string())
        .one(db)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        (hb.address.as_str(), hb.updated_seq),
        ("一村 2 号东屋", rb2.seq)
    );
    // Worked out again from the new state, the refused write goes through.
    let again = prepared_write(
        &app,
        &pa,
        bb,
        Some(&rb2),
        &household("一村 2 号西屋"),
        vec![],
    )
    .await;
    assert!(write_batch(db, &[again]).await.unwrap()[0].is_some());

    // Change log and audit: one entry per stored write, with its sequence; none for the refused.
    let logged: Vec<_> = doc_change::Entity::find().all(db).await.unwrap();
    assert_eq!(
        logged.iter().filter(|c| c.doc_id == a.to_string()).count(),
        1
    );
    assert_eq!(
        logged.iter().filter(|c| c.doc_id == bb.to_string()).count(),
        3
    );
    let audit = app.audit(doudi_server::sync::AUDIT_ACCEPT).await;
    let seqs: Vec<(String, i64)> = audit
        .iter()
        .map(|e| {
            let d: serde_json::Value = serde_json::from_str(e.detail.as_deref().unwrap()).unwrap();
            (e.target.clone().unwrap(), d["seq"].as_i64().unwrap())
        })
        .collect();
    assert_eq!(seqs.len(), 4, "{seqs:?}");
    assert!(seqs.contains(&(a.to_string(), ra.seq)));
    assert!(seqs.contains(&(bb.to_string(), rb.seq)));
    assert!(seqs.contains(&(bb.to_string(), rb2.seq)));
    // The projections are what a rebuild makes of the documents.
    let incremental = dump(&app).await;
    doudi_server::documents::projection::rebuild_all(db)
        .await
        .unwrap();
    assert_eq!(dump(&app).await, incremental);
}

/// Many phones push at the same moment (their writes share transactions on the server): every
/// document is stored with its own feed sequence, logged and audited once, projected as a rebuild
/// would, and every phone ends with every document.
async fn concurrent_pushes_from_many_phones_are_all_stored(b: Backend) {
    let (app, pa, _) = setup(b).await;
    drop(pa);
    let mut phones = Vec::new();
    for _ in 0..12 {
        phones.push(app.phone("assist.liu").await);
    }
    let mut ids = Vec::new();
    for (i, p) in phones.iter_mut().enumerate() {
        for j in 0..3 {
            let grid = if j == 1 { GRID_B } else { GRID_A };
            let h = household(&format!("二村 {i}-{j} 号"));
            ids.push(p.replica.create(grid, &h).unwrap().to_string());
        }
    }
    let outcomes =
        futures_util::future::join_all(phones.iter_mut().map(|p| app.sync_once(p, None))).await;
    let accepted: usize = outcomes.iter().map(|o| o.accepted.len()).sum();
    assert_eq!(accepted, ids.len());
    assert!(outcomes.iter().all(|o| o.rejected.is_empty()));

    let mut seqs = Vec::new();
    for id in &ids {
        seqs.push(app.stored_doc(id).await.unwrap().seq);
    }
    seqs.sort();
    seqs.dedup();
    assert_eq!(seqs.len(), ids.len(), "one feed sequence per document");
    let db = &app.state.db;
    assert_eq!(
        doc_change::Entity::find().count(db).await.unwrap(),
        ids.len() as u64
    );
    let audited: Vec<String> = app
        .audit(doudi_server::sync::AUDIT_ACCEPT)
        .await
        .into_iter()
        .filter_map(|e| e.target)
        .collect();
    assert_eq!(audited.len(), ids.len());
    assert!(ids.iter().all(|id| audited.contains(id)));
    let incremental = dump(&app).await;
    assert_eq!(
        household::Entity::find().count(db).await.unwrap(),
        ids.len() as u64
    );
    doudi_server::documents::projection::rebuild_all(db)
        .await
        .unwrap();
    assert_eq!(dump(&app).await, incremental);

    for p in phones.iter_mut() {
        app.sync(p).await;
    }
    let mut heads = Vec::new();
    for p in phones.iter_mut() {
        heads.push(ids.iter().map(|id| p.replica.heads(id)).collect::<Vec<_>>());
    }
    assert!(
        heads.iter().all(|h| h == &heads[0]),
        "every phone holds every document"
    );
}

/// A write whose statements fail (here: a row that breaks a primary key, standing for any
/// database error) is refused on its own; the writes it shared a batch with are stored. Through
/// the server's own group commit: on SQLite its writer connection, on PostgreSQL the pool's.
async fn a_write_that_fails_fails_alone_in_its_batch(b: Backend) {
    use sea_orm::sea_query::{Alias, Query};
    let (app, pa, _) = setup(b).await;
    let commits = app.state.commits.clone();
    let clash = Query::insert()
        .into_table(Alias::new("sync_feed"))
        .columns([Alias::new("id"), Alias::new("seq")])
        .values_panic([1.into(), 0.into()])
        .to_owned();
    let (good, bad) = (
        DocumentId::generate().unwrap(),
        DocumentId::generate().unwrap(),
    );
    let good_write = prepared_write(&app, &pa, good, None, &household("三村 1 号"), vec![]).await;
    let bad_write =
        prepared_write(&app, &pa, bad, None, &household("三村 2 号"), vec![clash]).await;
    let (stored_good, stored_bad) =
        tokio::join!(commits.submit(good_write), commits.submit(bad_write));
    assert!(stored_good.unwrap().is_some());
    assert!(stored_bad.is_err());
    assert!(app.stored_doc(&good.to_string()).await.is_some());
    assert!(app.stored_doc(&bad.to_string()).await.is_none());
    let db = &app.state.db;
    let projected: Vec<String> = household::Entity::find()
        .all(db)
        .await
        .unwrap()
        .into_iter()
        .map(|h| h.doc_id)
        .collect();
    assert_eq!(projected, vec![good.to_string()]);
    let audited: Vec<Option<String>> = app
        .audit(doudi_server::sync::AUDIT_ACCEPT)
        .await
        .into_iter()
        .map(|e| e.target)
        .collect();
    assert_eq!(audited, vec![Some(good.to_string())]);
    // The committing task goes on serving.
    let later = DocumentId::generate().unwrap();
    let w = prepared_write(&app, &pa, later, None, &household("三村 3 号"), vec![]).await;
    assert!(commits.submit(w).await.unwrap().is_some());
}

/// The server's own PostgreSQL read connections (`reads::PgReaders`) refuse writes, and come
/// back after the database dropped them: each read on a dropped connection fails once, and the
/// connection is opened again for the next.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_read_connections_are_read_only_and_reopen_after_a_drop() {
    use doudi_server::db::Exec;
    use doudi_server::db::reads::{PG_APPLICATION_NAME, POSTGRES_READERS, Reads};
    use sea_orm::{ConnectionTrait, DbBackend, Statement};
    let Some(b) = Backend::postgres() else { return };
    let app = spawn_app(b).await;
    let reads = &app.state.reads;
    assert!(matches!(reads, Reads::Postgres(_)));
    let one = || Statement::from_string(DbBackend::Postgres, "SELECT 1::bigint");
    for _ in 0..POSTGRES_READERS {
        assert_eq!(reads.query::<i64>(one()).await.unwrap(), vec![1]);
    }
    let db = &app.state.db;
    let readers_open = || {
        Statement::from_string(
            DbBackend::Postgres,
            format!(
                "SELECT COUNT(*)::bigint FROM pg_stat_activity \
                 WHERE application_name = '{PG_APPLICATION_NAME}' AND datname = current_database()"
            ),
        )
    };
    let open: Vec<i64> = db.query(readers_open()).await.unwrap();
    assert_eq!(open, vec![POSTGRES_READERS as i64]);

    // A write is refused by the database itself, even as a query.
    let write = Statement::from_string(
        DbBackend::Postgres,
        "INSERT INTO change_log_state (id, compacted_seq) VALUES (7, 0) RETURNING id::bigint",
    );
    let err = reads.query::<i64>(write).await.unwrap_err();
    assert!(err.to_string().contains("read-only"), "{err}");
    let stored: Vec<i64> = db
        .query(Statement::from_string(
            DbBackend::Postgres,
            "SELECT COUNT(*)::bigint FROM change_log_state WHERE id = 7",
        ))
        .await
        .unwrap();
    assert_eq!(stored, vec![0]);

    // The database drops every read connection.
    db.execute_unprepared(&format!(
        "SELECT pg_terminate_backend(pid) FROM pg_stat_activity \
         WHERE application_name = '{PG_APPLICATION_NAME}' AND datname = current_database()"
    ))
    .await
    .unwrap();
    for _ in 0..100 {
        if db.query::<i64>(readers_open()).await.unwrap() == vec![0] {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    let mut failed = 0;
    for _ in 0..POSTGRES_READERS {
        if reads.query::<i64>(one()).await.is_err() {
            failed += 1;
        }
    }
    assert!(
        (1..=POSTGRES_READERS).contains(&failed),
        "{failed} reads failed"
    );
    for _ in 0..2 * POSTGRES_READERS {
        assert_eq!(reads.query::<i64>(one()).await.unwrap(), vec![1]);
    }
}

/// Every document the server holds in `grid` is on `phone` with the server's heads, and no
/// document of the phone lacks a change its history names.
async fn assert_holds_the_servers_state(app: &TestApp, phone: &mut Phone, grid: &str) {
    use doudi_server::entity::document;
    use sea_orm::{ColumnTrait, QueryFilter};
    let rows = document::Entity::find()
        .filter(document::Column::Scope.eq(grid))
        .all(&app.state.db)
        .await
        .unwrap();
    assert!(!rows.is_empty());
    for row in rows {
        let server = automerge::Automerge::load(&row.snapshot).unwrap();
        let entry = phone
            .replica
            .entry_mut(&row.id)
            .unwrap_or_else(|| panic!("{} is not on the phone", row.id));
        assert!(
            entry.doc.get_missing_deps(&[]).is_empty(),
            "{} lacks changes its history names",
            row.id
        );
        assert_eq!(entry.doc.get_heads(), server.get_heads(), "{}", row.id);
    }
}

/// A first sync in small pages: documents edited after they were created sit late in the feed
/// (it is ordered by each document's latest write), after the cursor of earlier pages. They
/// must still come whole, not as the changes after that cursor.
async fn paged_first_sync_sends_documents_edited_after_creation(b: Backend) {
    let (app, mut pa, _) = setup(b).await;
    let ids = create_households(&mut pa, "一村", 30);
    app.sync(&mut pa).await;
    for id in &ids[..3] {
        pa.replica
            .update::<Household>(id, |h| h.address.push_str("（东院）"))
            .unwrap();
    }
    app.sync(&mut pa).await;

    let mut fresh = app.phone("grid.zhang").await;
    let mut pages = 0;
    loop {
        pages += 1;
        if !app.sync_once(&mut fresh, Some(4096)).await.more {
            break;
        }
    }
    assert!(pages > 2, "{pages} pages");
    assert_holds_the_servers_state(&app, &mut fresh, GRID_A).await;
    let h: Household = fresh.replica.read(&ids[0]).unwrap();
    assert_eq!(h.address, "一村 0 号（东院）");
}

/// An incremental pull in two pages: document D changes right after the device's cursor, then
/// 14 other documents are written, then D changes again. D sits at the end of the feed, on the
/// second page, whose cursor is past D's first change: that change must come too.
async fn paged_incremental_pull_sends_every_change_since_the_cursor(b: Backend) {
    let (app, mut pa, mut pb) = setup(b).await;
    let d = create_households(&mut pa, "一村", 1).remove(0);
    app.sync(&mut pa).await;
    app.sync(&mut pb).await;
    assert!(pb.replica.entry(&d).is_some());

    pa.replica
        .update::<Household>(&d, |h| h.hukou_type = Some(HukouType::Rural))
        .unwrap();
    app.sync(&mut pa).await;
    create_households(&mut pa, "二村", 14);
    app.sync(&mut pa).await;
    pa.replica
        .update::<Household>(&d, |h| h.registered_address = Some("甲地".into()))
        .unwrap();
    app.sync(&mut pa).await;

    let mut pages = 0;
    loop {
        pages += 1;
        if !app.sync_once(&mut pb, Some(4096)).await.more {
            break;
        }
    }
    assert!(pages >= 2, "{pages} pages");
    assert_holds_the_servers_state(&app, &mut pb, GRID_A).await;
    let h: Household = pb.replica.read(&d).unwrap();
    assert_eq!(h.hukou_type, Some(HukouType::Rural));
    assert_eq!(h.registered_address.as_deref(), Some("甲地"));
    // Later syncs keep it so.
    app.sync(&mut pb).await;
    assert_holds_the_servers_state(&app, &mut pb, GRID_A).await;
}

/// The answer that starts a device on its new scope (after an administrator changed its regions)
/// is lost on the way. The server must not take the new scope as held: the next sync starts it
/// again, and the device ends with the new scope's documents and none of the old one's.
async fn a_lost_answer_after_a_region_change_starts_the_new_scope_again(b: Backend) {
    let (app, mut pa, mut pb) = setup(b).await;
    app.create_account("admin.county", Role::Admin, &["370102000000"])
        .await;
    let (admin, _, _) = app.login("admin.county").await;
    let in_a = create_households(&mut pa, "一村甲", 3);
    app.sync(&mut pa).await;
    app.sync(&mut pb).await;
    assert!(pb.replica.entry(&in_a[0]).is_some());
    // Meanwhile grid B gets a household of its own.
    app.create_account("grid.b", Role::GridWorker, &[GRID_B])
        .await;
    let mut pgb = app.phone("grid.b").await;
    let in_b = pgb
        .replica
        .create(GRID_B, &household("一村乙 9 号"))
        .unwrap()
        .to_string();
    app.sync(&mut pgb).await;

    let r = app
        .send(
            reqwest::Method::PATCH,
            &format!("/api/v1/admin/accounts/{}", pb.account_id),
            Some(&admin),
            Some(serde_json::json!({ "regions": [GRID_B] })),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{:?}", r.body);
    // The assistant's phone asks; the answer never arrives.
    let req = pb.replica.prepare(None);
    let lost = app.post_sync(&pb.access, to_cbor(&req)).await;
    assert_eq!(lost.status(), StatusCode::OK);
    drop(lost);

    let o = app.sync(&mut pb).await;
    let mut purged = o.purged.clone();
    purged.sort();
    let mut expected = in_a.clone();
    expected.sort();
    assert_eq!(purged, expected);
    let held: Vec<&String> = pb.replica.ids().collect();
    assert_eq!(held, vec![&in_b]);
    assert_holds_the_servers_state(&app, &mut pb, GRID_B).await;
}

/// The one issue of a document refused for its references: (code, issue code, issue path).
fn reference_refusal(o: &doudi_protocol::sync::SyncOutcome, doc: &str) -> (String, String, String) {
    let r = o.rejected.iter().find(|r| r.doc == doc).expect("refused");
    assert_eq!(r.issues.len(), 1, "{:?}", r.issues);
    (
        r.code.clone().unwrap_or_default(),
        r.issues[0].code.clone(),
        r.issues[0].path.clone(),
    )
}

/// A visit names a household that exists, that its writer may read, in the visit's own grid; a
/// discovery report likewise for the household it is about. Otherwise the push is refused, and
/// nothing of another grid reaches the writer's lists.
async fn a_visit_names_a_readable_household_of_its_grid(b: Backend) {
    use doudi_protocol::doc::DiscoveryReport;
    use doudi_protocol::doc::discovery::Target;
    let (app, mut pa, mut pb) = setup(b).await;
    let in_a = create_households(&mut pa, "一村甲", 1).remove(0);
    app.sync(&mut pa).await;
    let refused = |code: &str, path: &str| {
        (
            "sync.reference_invalid".to_string(),
            code.to_string(),
            path.to_string(),
        )
    };

    // No such document.
    let nowhere = DocumentId::generate().unwrap();
    let v = pa
        .replica
        .create(GRID_A, &Visit::new(nowhere, Purpose::CareVisit))
        .unwrap()
        .to_string();
    let o = app.sync(&mut pa).await;
    assert_eq!(
        reference_refusal(&o, &v),
        refused("reference.unknown", "content.household")
    );
    assert!(app.stored_doc(&v).await.is_none());

    // Grid B's worker may not read grid A: a grid-B visit of the grid-A household.
    app.create_account("grid.b", Role::GridWorker, &[GRID_B])
        .await;
    let mut pgb = app.phone("grid.b").await;
    let v = pgb
        .replica
        .create(
            GRID_B,
            &Visit::new(in_a.parse().unwrap(), Purpose::CareVisit),
        )
        .unwrap()
        .to_string();
    let o = app.sync(&mut pgb).await;
    assert_eq!(
        reference_refusal(&o, &v),
        refused("reference.denied", "content.household")
    );
    assert_eq!(app.audit("policy.denied").await.len(), 1);

    // The village's assistant reads both grids, but a visit lives in its household's grid.
    app.sync(&mut pb).await;
    let v = pb
        .replica
        .create(
            GRID_B,
            &Visit::new(in_a.parse().unwrap(), Purpose::CareVisit),
        )
        .unwrap()
        .to_string();
    let o = app.sync(&mut pb).await;
    assert_eq!(
        reference_refusal(&o, &v),
        refused("reference.other_grid", "content.household")
    );

    // A discovery report about a household on record: the same rules.
    let mut r = DiscoveryReport::new(AccountId::parse(&pb.account_id).unwrap());
    r.target = Some(Target::Household(in_a.parse().unwrap()));
    let report = pb.replica.create(GRID_B, &r).unwrap().to_string();
    let o = app.sync(&mut pb).await;
    assert_eq!(
        reference_refusal(&o, &report),
        refused("reference.other_grid", "content.target_household")
    );
    // In its own grid it goes through; so does a visit there.
    let fine = pb.replica.create(GRID_A, &r).unwrap().to_string();
    let visit = pb
        .replica
        .create(
            GRID_A,
            &Visit::new(in_a.parse().unwrap(), Purpose::CareVisit),
        )
        .unwrap()
        .to_string();
    let o = app.sync(&mut pb).await;
    assert!(
        o.accepted.contains(&fine) && o.accepted.contains(&visit),
        "{o:?}"
    );

    // A discovery check names a report, not a household.
    let mut check = Visit::new(in_a.parse().unwrap(), Purpose::DiscoveryCheck);
    check.report = Some(in_a.parse().unwrap());
    let v = pb.replica.create(GRID_A, &check).unwrap().to_string();
    let o = app.sync(&mut pb).await;
    assert_eq!(
        reference_refusal(&o, &v),
        refused("reference.unknown", "content.report")
    );
    pb.replica
        .update::<Visit>(&v, |c| c.report = Some(fine.parse().unwrap()))
        .unwrap();
    let o = app.sync(&mut pb).await;
    assert!(o.accepted.contains(&v), "{o:?}");
}

/// A new household and the first visit of it go in one request; whatever their order in it, both
/// are stored.
async fn a_document_named_in_the_same_request_may_come_after(b: Backend) {
    let (app, mut pa, _) = setup(b).await;
    let hh = create_households(&mut pa, "一村", 1).remove(0);
    let v = pa
        .replica
        .create(GRID_A, &Visit::new(hh.parse().unwrap(), Purpose::CareVisit))
        .unwrap()
        .to_string();
    let mut req = pa.replica.prepare(None);
    req.push.sort_by_key(|p| p.doc != v);
    assert_eq!(req.push[0].doc, v, "the visit goes first");
    let r = app.post_sync(&pa.access, to_cbor(&req)).await;
    assert_eq!(r.status(), StatusCode::OK);
    let resp: SyncResponse = from_cbor(&r.bytes().await.unwrap()).unwrap();
    let o = pa.replica.apply(resp).unwrap();
    assert!(o.rejected.is_empty(), "{:?}", o.rejected);
    assert!(app.stored_doc(&v).await.is_some() && app.stored_doc(&hh).await.is_some());
}

/// A first-sync page comes gzip-coded to a client that asks for it (`Accept-Encoding: gzip`),
/// smaller and decoding to the very bytes a client that does not ask receives; an idle sync's
/// answer stays plain; and the SDK's decoding gives the page back whole.
async fn pages_come_gzip_coded_to_who_asks(b: Backend) {
    use std::io::Read;
    let (app, mut a, mut b2) = setup(b).await;
    for n in 0..40 {
        let h = doudi_tests::cases::household(&format!("济南市历下区一镇一村 {n} 号"));
        a.replica.create(GRID_A, &h).unwrap();
    }
    app.sync(&mut a).await;
    let first = to_cbor(&b2.replica.prepare(None));
    let send = |gzip: bool| {
        let mut r = app
            .http
            .post(app.url("/api/v1/sync"))
            .bearer_auth(&b2.access)
            .header("content-type", doudi_protocol::sync::CONTENT_TYPE)
            .body(first.clone());
        if gzip {
            r = r.header("accept-encoding", "gzip");
        }
        r.send()
    };
    let plain = send(false).await.unwrap();
    assert_eq!(plain.status(), StatusCode::OK);
    assert!(plain.headers().get("content-encoding").is_none());
    let plain = plain.bytes().await.unwrap().to_vec();
    let coded = send(true).await.unwrap();
    assert_eq!(coded.status(), StatusCode::OK);
    assert_eq!(coded.headers()["content-encoding"], "gzip");
    let headers: Vec<doudi_sdk::HttpHeader> = coded
        .headers()
        .iter()
        .map(|(k, v)| doudi_sdk::HttpHeader {
            name: k.to_string(),
            value: v.to_str().unwrap().to_string(),
        })
        .collect();
    let wire = coded.bytes().await.unwrap().to_vec();
    assert!(
        wire.len() * 2 < plain.len(),
        "{} B coded for {} B",
        wire.len(),
        plain.len()
    );
    let mut decoded = Vec::new();
    flate2::read::GzDecoder::new(&wire[..])
        .read_to_end(&mut decoded)
        .unwrap();
    // The same page, save the answer's time: the same documents, the same cursor.
    let (p, d): (SyncResponse, SyncResponse) =
        (from_cbor(&plain).unwrap(), from_cbor(&decoded).unwrap());
    assert_eq!(p.updates.len(), 40, "the whole scope");
    assert_eq!(
        (p.cursor, p.updates.len(), p.more),
        (d.cursor, d.updates.len(), d.more)
    );
    // What the SDK does with the answer its transport returns.
    let back = doudi_sdk::decoded(doudi_sdk::HttpResponse {
        status: 200,
        headers,
        body: wire,
    })
    .unwrap();
    assert_eq!(back.body, decoded);
    assert!(
        !back
            .headers
            .iter()
            .any(|h| h.name.eq_ignore_ascii_case("content-encoding"))
    );
    // An idle sync's answer is too small to code: it stays as it is.
    app.sync(&mut b2).await;
    let idle = to_cbor(&b2.replica.prepare(None));
    let r = app
        .http
        .post(app.url("/api/v1/sync"))
        .bearer_auth(&b2.access)
        .header("content-type", doudi_protocol::sync::CONTENT_TYPE)
        .header("accept-encoding", "gzip")
        .body(idle)
        .send()
        .await
        .unwrap();
    assert!(r.headers().get("content-encoding").is_none());
    assert!(r.bytes().await.unwrap().len() <= 32);
}
