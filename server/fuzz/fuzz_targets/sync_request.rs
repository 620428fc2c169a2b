//! Arbitrary bytes as a sync body: through the request decoder the server uses
//! (`from_cbor::<SyncRequest>`, then `sync::check_request`, which also counts what compressed
//! changes inflate to, the document id check the server makes of each pushed document, and
//! where the pull starts from the request's `cursor` and `resume`: `pull::Start::decide`) and
//! through the response decoder the phone uses (`from_cbor::<SyncResponse>`; what the phone
//! then does with an answer is the `apply_response` target's).
//!
//! Properties: nothing panics; what decodes, encoded again (`to_cbor`), decodes to the same
//! value; a pull never starts before its base, and the `resume` token of a page continues that
//! pull where the page stopped, whether the device's scope was held or new.

#![no_main]

use doudi_protocol::ids::DocumentId;
use doudi_protocol::sync::{SyncRequest, SyncResponse, from_cbor, to_cbor};
use doudi_protocol_fuzz::{quiet_caught_panics, run};
use doudi_server::sync::pull::Start;
use libfuzzer_sys::fuzz_target;

/// The device's scope (its region paths, one a line, as the server keys it).
const SCOPE_KEY: &str = "/370000000000/370200000000/370283000000/370283001000/370283001001-G01/";

fuzz_target!(init: quiet_caught_panics(), |data: &[u8]| run(|| one(data)));

fn one(data: &[u8]) {
    if let Ok(request) = from_cbor::<SyncRequest>(data) {
        let _ = doudi_server::sync::check_request(&request);
        for push in &request.push {
            let _ = DocumentId::parse(&push.doc);
        }
        for held in [Some(SCOPE_KEY), None] {
            pull_starts(&request, held);
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

/// Where the pull of `request` starts when the server last knew the device to hold `held`, and
/// what the token of a page of that pull continues.
fn pull_starts(request: &SyncRequest, held: Option<&str>) {
    let resume = request.resume.as_ref().map(|r| r.as_slice());
    let start = Start::decide(request.cursor, resume, SCOPE_KEY, held);
    assert!(start.from >= start.base, "{start:?}");
    // A page that stopped at the feed position the input names (or where it starts).
    let stop = resume
        .and_then(|r| r.get(..8))
        .map_or(start.from, |p| u64::from_be_bytes(p.try_into().unwrap()))
        .max(start.from);
    let token = start.resume_after(stop);
    let next = Start::decide(start.base, Some(&token), SCOPE_KEY, held);
    assert_eq!(
        (next.base, next.from, next.send_grids),
        (start.base, stop, false),
        "{start:?} then {next:?}"
    );
}
