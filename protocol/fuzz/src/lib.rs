//! What the fuzz targets of doudi's crates share (this crate's and server/fuzz's).

use std::cell::RefCell;
use std::panic::{AssertUnwindSafe, catch_unwind};

use automerge::ActorId;
use doudi_protocol::doc::Household;
use doudi_protocol::ids::DocumentId;
use doudi_protocol::sync::{Replica, SyncResponse};
use sha2::{Digest, Sha256};

thread_local! {
    static LAST_PANIC: RefCell<Option<String>> = const { RefCell::new(None) };
}

/// libfuzzer-sys aborts at every panic, also at one the code under test catches and turns
/// into an error (`doc::untrusted`). Remember the panic instead; [`run`] reports it when it
/// escapes, with a backtrace when `DOUDI_FUZZ_BACKTRACE` is set (capturing one at every caught
/// panic slows fuzzing down). Call once, from the target's `init`.
pub fn quiet_caught_panics() {
    let backtrace = std::env::var_os("DOUDI_FUZZ_BACKTRACE").is_some();
    std::panic::set_hook(Box::new(move |info| {
        let mut message = info.to_string();
        if backtrace {
            message = format!("{message}\n{}", std::backtrace::Backtrace::force_capture());
        }
        LAST_PANIC.with(|p| *p.borrow_mut() = Some(message));
    }));
}

/// Run one input: a panic that escapes `body` is printed and aborts the process, which
/// libFuzzer records as a crash.
pub fn run(body: impl FnOnce()) {
    if catch_unwind(AssertUnwindSafe(body)).is_err() {
        let message = LAST_PANIC.with(|p| p.borrow_mut().take());
        eprintln!("{}", message.as_deref().unwrap_or("panicked"));
        std::process::abort();
    }
}

/// The chunk type of a DEFLATE-compressed change, whose checksum is that of the inflated change.
const COMPRESSED_CHANGE: u8 = doudi_protocol::doc::chunk_kind::COMPRESSED_CHANGE;

/// Set the checksum of each chunk (`doc::chunks`) to the first 4 bytes of the SHA-256 of its
/// type, length and data, as automerge computes it. Compressed changes keep theirs; bytes that
/// are not whole chunks stay as they are (the readers refuse them before automerge sees them).
pub fn repair_checksums(bytes: &mut [u8]) {
    for chunk in doudi_protocol::doc::chunks(bytes).unwrap_or_default() {
        if chunk.kind == COMPRESSED_CHANGE {
            continue;
        }
        let mut hasher = Sha256::new();
        hasher.update([chunk.kind]);
        hasher.update(&bytes[chunk.start + 9..chunk.data.start]);
        hasher.update(&bytes[chunk.data.clone()]);
        let hash = hasher.finalize();
        bytes[chunk.checksum()].copy_from_slice(&hash[..4]);
    }
}

/// The phone of the `apply_response` target: its device id as the actor prefix (the server
/// accepts changes by actors that start with it).
pub const PHONE_DEVICE: [u8; 16] = [0xD0; 16];

/// The household the phone holds and edits (`DocumentId::from_bytes([1; 16])`).
pub const HOUSEHOLD_ID: [u8; 16] = [1; 16];

/// A phone as the `apply_response` target finds it before each input: it applied `first_sync`
/// (a new device's first answer, with the documents' snapshots; seeds/apply_response/first-sync),
/// then edited the household's address and prepared the request that pushes the edit, whose
/// answer is the input. Deterministic (changes without timestamps), so that the seeds written
/// by examples/seeds.rs name its heads.
pub fn phone(first_sync: &SyncResponse) -> Replica {
    let mut phone = Replica::new(ActorId::from(PHONE_DEVICE));
    phone.prepare(None);
    phone
        .apply(first_sync.clone())
        .expect("the first sync of the seeds applies");
    let household = DocumentId::from_bytes(HOUSEHOLD_ID).to_string();
    phone
        .update::<Household>(&household, |h| h.address.push_str("（东院）"))
        .expect("the household of the seeds reads");
    phone.prepare(None);
    phone
}
