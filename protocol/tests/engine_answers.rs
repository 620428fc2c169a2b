//! Answers found by the `apply_response` fuzz target (protocol/fuzz) that once broke a phone,
//! through the client engine over the in-memory replica: each is refused without changing what
//! the phone holds, or applied so that the phone's next request still prepares.

use automerge::ActorId;
use doudi_protocol::doc::Household;
use doudi_protocol::ids::DocumentId;
use doudi_protocol::sync::{Replica, SyncResponse, from_cbor};

/// The phone of the fuzz target (protocol/fuzz/src/lib.rs, `phone`): its first sync applied,
/// then an edit of the household's address prepared for pushing.
fn phone() -> Replica {
    let first_sync: SyncResponse =
        from_cbor(include_bytes!("../fuzz/seeds/apply_response/first-sync")).unwrap();
    let mut phone = Replica::new(ActorId::from([0xD0; 16]));
    phone.prepare(None);
    phone.apply(first_sync).unwrap();
    let household = DocumentId::from_bytes([1; 16]).to_string();
    phone
        .update::<Household>(&household, |h| h.address.push_str("（东院）"))
        .unwrap();
    phone.prepare(None);
    phone
}

fn held(phone: &mut Replica) -> String {
    let ids: Vec<String> = phone.ids().cloned().collect();
    let docs: Vec<String> = ids
        .iter()
        .map(|id| {
            let acked = phone.entry(id).map(|e| e.acked.clone());
            format!("{id} {:?} {acked:?}", phone.heads(id))
        })
        .collect();
    format!("{:?} {docs:?}", phone.position())
}

/// A snapshot of a document new to the phone that automerge loads, with heads other than the
/// answer says, whose changes cannot be listed: `get_changes` panicked in the next `prepare`
/// (and in the SDK's store, which lists them to know whether the document has anything to push).
#[test]
fn a_snapshot_whose_changes_cannot_be_listed_is_refused() {
    let answer: SyncResponse = from_cbor(include_bytes!(
        "fixtures/answer-that-breaks-get-changes.cbor"
    ))
    .unwrap();
    let mut phone = phone();
    let before = held(&mut phone);
    match phone.apply(answer) {
        Err(_) => assert_eq!(
            held(&mut phone),
            before,
            "a refused answer changed the phone"
        ),
        Ok(_) => {
            phone.prepare(None);
        }
    }
}
