//! Prints the CBOR bytes of the worked example in docs/PROTOCOL.md.
//! `cargo run -p doudi-protocol --example wire_example`

use automerge::transaction::{CommitOptions, Transactable};
use automerge::{ActorId, AutoCommit, ROOT};
use doudi_protocol::sync::{
    DocPush, PROTOCOL_VERSION, PushResult, PushStatus, SyncRequest, SyncResponse, to_cbor,
};
use serde_bytes::ByteBuf;

fn hex(b: &[u8]) -> String {
    b.chunks(32)
        .map(|c| c.iter().map(|x| format!("{x:02x}")).collect::<String>())
        .collect::<Vec<_>>()
        .join("\n")
}

fn main() {
    let idle = SyncRequest {
        v: PROTOCOL_VERSION,
        cursor: 42,
        tasks_tag: Some(0x0123_4567_89ab_cdef),
        epoch: Some(0xfedc_ba98_7654_3210),
        ..Default::default()
    };
    println!(
        "idle request ({} bytes):\n{}\n",
        to_cbor(&idle).len(),
        hex(&to_cbor(&idle))
    );
    let idle_resp = SyncResponse {
        v: PROTOCOL_VERSION,
        cursor: 42,
        ..Default::default()
    };
    println!(
        "idle response ({} bytes):\n{}\n",
        to_cbor(&idle_resp).len(),
        hex(&to_cbor(&idle_resp))
    );

    let mut doc = AutoCommit::new();
    doc.set_actor(ActorId::from(vec![0x11; 16]));
    doc.put(ROOT, "k", "v").unwrap();
    doc.commit_with(CommitOptions::default().with_time(0));
    let mut change = doc.get_last_local_change().unwrap();
    let bytes = change.bytes().into_owned();
    println!(
        "change ({} bytes), hash {}:\n{}\n",
        bytes.len(),
        change.hash(),
        hex(&bytes)
    );
    let push = SyncRequest {
        v: PROTOCOL_VERSION,
        cursor: 42,
        push: vec![DocPush {
            doc: "0h8x7kq2m4d9r6t1v3w5y7z9ab".into(),
            changes: vec![ByteBuf::from(bytes)],
        }],
        page_bytes: Some(65536),
        ..Default::default()
    };
    println!(
        "push request ({} bytes):\n{}\n",
        to_cbor(&push).len(),
        hex(&to_cbor(&push))
    );
    let resp = SyncResponse {
        v: PROTOCOL_VERSION,
        results: vec![PushResult {
            doc: "0h8x7kq2m4d9r6t1v3w5y7z9ab".into(),
            status: PushStatus::Accepted,
            heads: vec![ByteBuf::from(change.hash().0.to_vec())],
            code: None,
            message: None,
            message_en: None,
            issues: vec![],
        }],
        cursor: 43,
        ..Default::default()
    };
    println!(
        "push response ({} bytes):\n{}",
        to_cbor(&resp).len(),
        hex(&to_cbor(&resp))
    );
}
