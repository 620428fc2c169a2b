//! Hostile bytes into the decoders a server and a phone run on input from the network: they return
//! errors, never panic. (Random and mutated inputs; a coverage-guided run is `cargo fuzz` territory.)

use doudi_protocol::doc::{self, Household};
use doudi_protocol::sync::{DocPush, SyncRequest, SyncResponse, from_cbor, to_cbor};
use proptest::prelude::*;
use serde_bytes::ByteBuf;

fn valid_request() -> Vec<u8> {
    let mut h = Household {
        address: "某村 1 号".into(),
        ..Default::default()
    };
    h.members.insert(
        doudi_protocol::ids::MemberId::generate().unwrap(),
        doc::household::Member::new("王建国", doc::household::Relation::Head),
    );
    let id = doudi_protocol::ids::DocumentId::generate().unwrap();
    let mut d = doc::create(id, "370102001001-A", &h, None).unwrap();
    let changes = d
        .get_changes(&[])
        .into_iter()
        .map(|mut c| ByteBuf::from(c.bytes().into_owned()))
        .collect();
    to_cbor(&SyncRequest {
        v: doudi_protocol::sync::PROTOCOL_VERSION,
        cursor: 9,
        push: vec![DocPush {
            doc: id.to_string(),
            changes,
        }],
        ..Default::default()
    })
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 500, ..ProptestConfig::default() })]

    #[test]
    fn random_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..512)) {
        let _ = from_cbor::<SyncRequest>(&bytes);
        let _ = from_cbor::<SyncResponse>(&bytes);
        if let Ok(d) = doc::load(&bytes) {
            let _ = doc::validate(&d);
        }
        let _ = doc::parse_change(&bytes);
    }

    #[test]
    fn mutated_requests_never_panic(flips in proptest::collection::vec((any::<usize>(), any::<u8>()), 1..8), cut in any::<usize>()) {
        let mut bytes = valid_request();
        for (i, x) in flips {
            let n = bytes.len();
            bytes[i % n] ^= x;
        }
        bytes.truncate(cut % (bytes.len() + 1));
        if let Ok(req) = from_cbor::<SyncRequest>(&bytes) {
            for p in req.push {
                for c in p.changes {
                    // The server's path: parse through doc::parse_change, apply under
                    // doc::untrusted (automerge 0.12 panics on some changes it parsed).
                    if let Ok(change) = doc::parse_change(c.as_slice()) {
                        let mut d = automerge::Automerge::new();
                        if doc::untrusted(|| d.apply_changes([change])).is_ok() {
                            let _ = doc::validate(&d);
                            let _ = doc::read::<Household, _>(&d);
                        }
                    }
                }
            }
        }
    }
}
