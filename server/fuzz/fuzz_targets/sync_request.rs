//! Arbitrary bytes as a sync body: through the request decoder the server uses
//! (`from_cbor::<SyncRequest>`, then `sync::check_request` and the document id check the
//! server makes of each pushed document) and through the response decoder the phone uses
//! (`from_cbor::<SyncResponse>`).
//!
//! Properties: nothing panics; what decodes, encoded again (`to_cbor`), decodes to the same value.

#![no_main]

use doudi_protocol::ids::DocumentId;
use doudi_protocol::sync::{SyncRequest, SyncResponse, from_cbor, to_cbor};
use doudi_protocol_fuzz::{quiet_caught_panics, run};
use libfuzzer_sys::fuzz_target;

fuzz_target!(init: quiet_caught_panics(), |data: &[u8]| run(|| one(data)));

fn one(data: &[u8]) {
    if let Ok(request) = from_cbor::<SyncRequest>(data) {
        let _ = doudi_server::sync::check_request(&request);
        for push in &request.push {
            let _ = DocumentId::parse(&push.doc);
        }
        round_trip(&request);
    }
    if let Ok(response) = from_cbor::<SyncResponse>(data) {
        round_trip(&response);
    }
}

fn round_trip<T>(value: &T)
where
    T: serde::Serialize + for<'de> serde::Deserialize<'de> + PartialEq + std::fmt::Debug,
{
    let again: T = from_cbor(&to_cbor(value)).expect("an encoded value decodes");
    assert_eq!(&again, value, "decode, encode, decode changed the value");
}
