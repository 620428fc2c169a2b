//! Arbitrary bytes as the automerge changes a device pushes onto a stored document, through
//! what the server does with a push before it stores it (`sync::decode` and `sync::check` in
//! server/src/sync/mod.rs): parse each change (`doc::parse_change`), keep the device's own,
//! apply the new ones to a copy of the stored state, refuse missing dependencies, read the
//! header from the merged tree and check it against the stored row, read and validate the
//! content (`doc::read_checked`), then work out the write (`documents::prepare`: snapshot, change
//! rows, conflicts, projection rows). What needs the database (the grid, the permission) is left
//! out; the stored documents are a household and a visit made with the typed views
//! (protocol/fuzz/examples/seeds.rs).
//!
//! Input: a selector byte (even: the household, odd: the visit), then change chunks, split where
//! automerge's chunk magic bytes begin.
//!
//! Properties: nothing panics; a document the checks accept prepares. (That the snapshot the
//! server stores loads back with the same heads is now one of the checks, `doc::loads_as`: this
//! target found states that did not.)

#![no_main]

use std::sync::LazyLock;

use automerge::{Automerge, Change, ReadDoc};
use doudi_protocol::doc::{self, validate::has_errors};
use doudi_protocol::sync::MAX_CHANGES_PER_DOC;
use doudi_protocol_fuzz::{quiet_caught_panics, run};
use doudi_server::entity::document;
use doudi_server::documents::{Writer, prepare};
use doudi_server::sync::AUDIT_ACCEPT;
use libfuzzer_sys::fuzz_target;

static HOUSEHOLD: &[u8] =
    include_bytes!("../../../protocol/fuzz/seeds/validate_document/household.automerge");
static VISIT: &[u8] =
    include_bytes!("../../../protocol/fuzz/seeds/validate_document/visit.automerge");

/// The pushing device (its id as the actor prefix, as the server checks it).
const DEVICE: [u8; 16] = [0xD0; 16];
const DEVICE_ID: &str = "d0d0d0d0d0d0d0d0d0d0d0d0d0d0d0d0";
/// The path of the documents' grid.
const GRID_PATH: &str = "/370000000000/370200000000/370283000000/370283001000/370283001001-G01/";
/// The magic bytes that open every automerge chunk.
const MAGIC: [u8; 4] = [0x85, 0x6f, 0x4a, 0x83];

struct Stored {
    row: document::Model,
    doc: Automerge,
}

static STORED: LazyLock<[Stored; 2]> = LazyLock::new(|| [stored(HOUSEHOLD), stored(VISIT)]);

fn stored(snapshot: &[u8]) -> Stored {
    let doc = Automerge::load(snapshot).expect("a stored seed document");
    let header = doc::read_header(&doc).expect("a stored seed document's header");
    let heads: Vec<String> = doc.get_heads().iter().map(|h| h.to_string()).collect();
    Stored {
        row: document::Model {
            id: header.id.to_string(),
            kind: header.kind.as_str().to_owned(),
            scope: header.scope,
            region_path: GRID_PATH.to_owned(),
            snapshot: snapshot.to_vec(),
            heads: heads.join(","),
            created_seq: 1,
            seq: 1,
            created_at_ms: 0,
            updated_at_ms: 0,
            changes_from_seq: 0,
        },
        doc,
    }
}

/// The input after the selector, cut before each chunk magic.
fn chunks(bytes: &[u8]) -> Vec<&[u8]> {
    let mut starts: Vec<usize> = (0..bytes.len().saturating_sub(3))
        .filter(|&i| bytes[i..i + 4] == MAGIC)
        .collect();
    if starts.first() != Some(&0) {
        starts.insert(0, 0);
    }
    starts.push(bytes.len());
    starts.windows(2).map(|w| &bytes[w[0]..w[1]]).collect()
}

fuzz_target!(init: quiet_caught_panics(), |data: &[u8]| run(|| one(data)));

fn one(data: &[u8]) {
    let Some((&selector, rest)) = data.split_first() else {
        return;
    };
    let Stored { row, doc: before } = &STORED[usize::from(selector & 1)];

    // decode: every change parses and is the device's own.
    let mut changes = Vec::new();
    for bytes in chunks(rest) {
        let Ok(change) = doc::parse_change(bytes) else {
            return;
        };
        changes.push(change);
    }
    if changes.len() > MAX_CHANGES_PER_DOC
        || changes
            .iter()
            .any(|c| !c.actor_id().to_bytes().starts_with(&DEVICE))
    {
        return;
    }

    // check: apply what is new to a copy of the stored state and check the result.
    let new: Vec<Change> = changes
        .iter()
        .filter(|c| before.get_change_by_hash(&c.hash()).is_none())
        .cloned()
        .collect();
    if new.is_empty() {
        return;
    }
    let mut after = before.clone();
    if doc::untrusted(|| after.apply_changes(new.iter().cloned())).is_err()
        || !after.get_missing_deps(&[]).is_empty()
    {
        return;
    }
    let Ok(tree) = doc::tree(&after) else {
        return;
    };
    let Ok(header) = doc::MapReader::root(&tree).and_then(|root| doc::header_of(&root)) else {
        return;
    };
    if header.id.to_string() != row.id
        || header.kind.as_str() != row.kind
        || header.scope != row.scope
    {
        return;
    }
    let (read, issues) = doc::read_checked(&tree);
    if has_errors(&issues) {
        return;
    }
    let heads = after.get_heads();
    let writer = Writer {
        account_id: "fuzz-account",
        device_id: DEVICE_ID,
        client_addr: Some("127.0.0.1"),
        audit_action: AUDIT_ACCEPT,
        audit_detail: None,
    };
    prepare(
        &writer,
        Some(row),
        &header,
        &row.region_path,
        &mut after,
        &tree,
        read.as_ref().map(|(_, c)| c),
        &new,
        &heads,
        Vec::new(),
    )
    .expect("a document that passed the checks prepares");
    // The server refuses a state that would not load back once saved (`check`).
    let _ = doc::loads_as(&after.save(), &heads);
}
