//! Arbitrary bytes as the answer to a phone's sync request, through what the phone does with it:
//! the response decoder (`from_cbor::<SyncResponse>`), then the client engine's `apply` over the
//! in-memory replica (`Replica::apply`: `engine::decode_snapshots` through `doc::load`, the
//! results, each update's snapshot merged and changes parsed (`doc::parse_change`) and applied,
//! the grids, the documents to ask for whole, the new position). A panic there ends the app.
//!
//! The phone holds a household and a visit from its first sync and pushes an edit of the
//! household (`doudi_protocol_fuzz::phone`), so that results and updates land on documents it
//! holds. The checksums of the automerge chunks the answer carries are set right first
//! (`repair_checksums`), as for `validate_document`.
//!
//! Properties: nothing panics; an answer refused changes nothing the phone holds; an answer
//! applied moves the phone to its `cursor` and `resume`, and the phone's next request prepares.

#![no_main]

use std::sync::LazyLock;

use doudi_protocol::sync::{Replica, SyncResponse, from_cbor};
use doudi_protocol_fuzz::{phone, quiet_caught_panics, repair_checksums, run};
use libfuzzer_sys::fuzz_target;

static PHONE: LazyLock<Replica> = LazyLock::new(|| {
    let first_sync: SyncResponse =
        from_cbor(include_bytes!("../seeds/apply_response/first-sync")).expect("the seed decodes");
    phone(&first_sync)
});

fuzz_target!(init: quiet_caught_panics(), |data: &[u8]| run(|| one(data)));

fn one(data: &[u8]) {
    let Ok(mut resp) = from_cbor::<SyncResponse>(data) else {
        return;
    };
    for u in &mut resp.updates {
        if let Some(snapshot) = &mut u.snapshot {
            repair_checksums(snapshot);
        }
        for change in &mut u.changes {
            repair_checksums(change);
        }
    }
    let mut phone = PHONE.clone();
    let before = held(&mut phone);
    match phone.apply(resp.clone()) {
        Err(_) => assert_eq!(
            held(&mut phone),
            before,
            "a refused answer changed the phone"
        ),
        Ok(_) => {
            assert_eq!(phone.cursor(), resp.cursor);
            assert_eq!(phone.position().resume, resp.resume);
            phone.prepare(None);
        }
    }
}

/// What the phone holds: its position and each document's heads and acknowledged heads.
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
