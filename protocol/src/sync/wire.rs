//! Wire types of `POST /api/v1/sync`, encoded as CBOR (RFC 8949); change bytes travel as CBOR
//! byte strings, never base64.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use serde_bytes::ByteBuf;

/// The protocol version this code speaks. A request with another version is refused with
/// `sync.upgrade_required`.
///
/// Version 2 names the cursor at which the device last finished a pull (`cursor`) apart from
/// where a pull in progress stands (`resume`); version 1 sent one cursor for both, and a pull
/// over several pages could leave a device without changes made before its last page.
pub const PROTOCOL_VERSION: u32 = 2;

/// Media type of request and response bodies.
pub const CONTENT_TYPE: &str = "application/cbor";

/// Most documents one request may push.
pub const MAX_PUSH_DOCS: usize = 500;

/// Most changes one request may push for one document.
pub const MAX_CHANGES_PER_DOC: usize = 5_000;

/// Largest request body the server accepts (bytes).
pub const MAX_REQUEST_BYTES: usize = 8 * 1024 * 1024;

/// Page budget of a response when the client names none (bytes of document data).
pub const DEFAULT_PAGE_BYTES: u64 = 512 * 1024;

/// Bounds of the page budget: a request's `page_bytes` is clamped to them.
pub const MIN_PAGE_BYTES: u64 = 4 * 1024;
pub const MAX_PAGE_BYTES: u64 = 8 * 1024 * 1024;

/// Most documents one request may ask for whole (`want`).
pub const MAX_WANT_DOCS: usize = 100;

/// One round trip: the device's cursor and its local changes.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct SyncRequest {
    /// [`PROTOCOL_VERSION`].
    pub v: u32,
    /// The `cursor` of the last response the device applied (0 on a new device): the point up
    /// to which it holds everything once a pull has finished, and the base of a pull in progress.
    pub cursor: u64,
    /// The `resume` of the last response applied, while a pull is in progress (that response
    /// said `more`); absent when a pull starts.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub resume: Option<ByteBuf>,
    /// Local changes, per document.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub push: Vec<DocPush>,
    /// Documents the device holds but cannot complete (changes it holds name changes it lacks):
    /// the server sends them whole.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub want: Vec<String>,
    /// Budget in bytes of document data for the pulled part of the response; clamped to
    /// [`MIN_PAGE_BYTES`] ..= [`MAX_PAGE_BYTES`].
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub page_bytes: Option<u64>,
    /// Version of the region policy book the device holds (absent or 0: none).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub policy_version: Option<u64>,
    /// `tag` of the task list the device holds (absent: none).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tasks_tag: Option<u64>,
    /// The server's `epoch` the device last received (absent: none yet). A server restored
    /// from a backup has another: it then tells the device what to send again (`repush`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub epoch: Option<u64>,
}

/// The account's open tasks (复核 re-checks, 探访 visits, reports to verify), sent on the last page
/// of a sync when they differ from the list the device holds, so that an idle sync stays one
/// small round trip.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct TaskList {
    /// Names this list: the device sends it back as `tasks_tag`.
    pub tag: u64,
    /// Earliest due first.
    pub items: Vec<WireTask>,
}

/// One open task (docs/API.md, `GET /api/v1/tasks`, has the same fields).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct WireTask {
    pub id: String,
    /// `verify_report`, `report_follow_up`, `alert_check`, `temp_aid_check`, `temp_aid_follow_up`,
    /// `recheck`, `death_recheck`, `visit` or `phase_out_end`;
    /// newer kinds may come.
    pub kind: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub report_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub household_id: Option<String>,
    /// The 临时救助 case, for `temp_aid_check` and `temp_aid_follow_up`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub case_id: Option<String>,
    /// The reviewer's note, or the scheduler's reason, in Chinese.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub note: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub note_en: Option<String>,
    /// `false`: an unassigned task in the device's grid.
    pub assigned: bool,
    pub created_at_ms: i64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub due_at_ms: Option<i64>,
}

/// The region policy book (低保 standards, multipliers, deadlines), sent when the device's
/// version differs from the server's, so that indicators and due dates work offline.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PolicyUpdate {
    pub version: u64,
    /// Validated on decoding: an invalid book is refused as a whole.
    pub book: crate::rules::policy::PolicyBook,
}

/// Changes to one document that the server may lack.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DocPush {
    /// Document id (26 characters, see `ids::DocumentId`).
    pub doc: String,
    /// Automerge changes, each in automerge's binary change format.
    pub changes: Vec<ByteBuf>,
}

/// What became of a pushed document.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PushStatus {
    /// Every change is stored (including changes the server already had).
    Accepted,
    /// Nothing of this document was stored; see `code`.
    Rejected,
}

/// A validation problem, to show next to a field.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct WireIssue {
    pub path: String,
    pub code: String,
    pub message: String,
    pub message_en: String,
}

/// The answer for one pushed document.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PushResult {
    pub doc: String,
    pub status: PushStatus,
    /// The server's heads of the document after this request (accepted only).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub heads: Vec<ByteBuf>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub code: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub message_en: Option<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub issues: Vec<WireIssue>,
}

/// Something new in the device's scope.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DocUpdate {
    pub doc: String,
    /// `household`, `visit` or `discovery_report`.
    pub kind: String,
    /// The grid code the document belongs to.
    pub scope: String,
    /// The whole document (automerge's compact save format) when the device cannot have any of
    /// it yet: on a first sync, or when the document is new to this device.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub snapshot: Option<ByteBuf>,
    /// Otherwise the changes stored after the request's `cursor`, other than the device's own.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub changes: Vec<ByteBuf>,
    /// The server's heads after these changes.
    pub heads: Vec<ByteBuf>,
}

/// The 身份证号 of one document's people in clear, for a device whose role holds them (grid
/// workers and assistants; docs/PROTOCOL.md section 4). Documents hold them only masked and
/// sealed to the server (`crate::identity`).
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DocIdentities {
    pub doc: String,
    /// Every number the document holds now, by entry (`members.<member_id>`,
    /// `supporters.<entry_id>`, `members_added.<member_id>`, `target_person`): replaces what the
    /// device held for the document.
    pub numbers: BTreeMap<String, String>,
}

/// Never prints a number.
impl std::fmt::Debug for DocIdentities {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DocIdentities")
            .field("doc", &self.doc)
            .field("entries", &self.numbers.keys().collect::<Vec<_>>())
            .finish()
    }
}

/// The answer to a [`SyncRequest`].
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct SyncResponse {
    pub v: u32,
    /// One entry per pushed document, in request order.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub results: Vec<PushResult>,
    /// Documents changed in scope since the request's cursor, oldest first.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub updates: Vec<DocUpdate>,
    /// The grids (网格 codes) of the device's whole scope, when it may hold documents outside
    /// it (its regions changed, or a pull was restarted): delete every document of another grid.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub grids: Option<Vec<String>>,
    /// Send this as `cursor` next time. While `more` is set, it is the base of the pull in
    /// progress (the request's `cursor`, or 0 when the server restarted the pull).
    pub cursor: u64,
    /// While `more` is set: send it back as `resume`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub resume: Option<ByteBuf>,
    /// More updates wait: sync again at once.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub more: bool,
    /// The region policy book, when the device's `policy_version` is not the server's.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub policy: Option<PolicyUpdate>,
    /// The account's open tasks, on the last page when the device's `tasks_tag` is not theirs.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tasks: Option<TaskList>,
    /// For roles that hold them: the clear numbers of the documents in `updates` that hold any.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub identities: Vec<DocIdentities>,
    /// The server's epoch, when the request's `epoch` is not it (or absent): the device keeps
    /// it and sends it back as `epoch`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub epoch: Option<u64>,
    /// The server was restored from a backup taken before the device's last contact, and may
    /// lack changes it acknowledged: the device forgets the acked heads of every document and
    /// pushes again every change of its own (this answer is the first page of a pull from 0).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub repush: bool,
}

/// Encode a value as CBOR.
pub fn to_cbor<T: Serialize>(value: &T) -> Vec<u8> {
    let mut out = Vec::new();
    ciborium::into_writer(value, &mut out).expect("writing CBOR to a Vec cannot fail");
    out
}

/// Why CBOR could not be decoded.
#[derive(Debug, thiserror::Error)]
#[error("invalid CBOR body: {0}")]
pub struct DecodeError(pub String);

/// Decode a value from CBOR, refusing trailing bytes.
pub fn from_cbor<T: for<'de> Deserialize<'de>>(bytes: &[u8]) -> Result<T, DecodeError> {
    let mut reader = bytes;
    let value = ciborium::from_reader(&mut reader).map_err(|e| DecodeError(e.to_string()))?;
    if !reader.is_empty() {
        return Err(DecodeError(format!("{} trailing bytes", reader.len())));
    }
    Ok(value)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn idle_request_is_tiny_and_round_trips() {
        let req = SyncRequest {
            v: PROTOCOL_VERSION,
            cursor: 123_456,
            policy_version: Some(7),
            tasks_tag: Some(u64::MAX),
            ..Default::default()
        };
        let bytes = to_cbor(&req);
        assert!(bytes.len() < 64, "{} bytes", bytes.len());
        assert_eq!(from_cbor::<SyncRequest>(&bytes).unwrap(), req);
    }

    #[test]
    fn change_bytes_are_byte_strings() {
        let req = SyncRequest {
            v: PROTOCOL_VERSION,
            push: vec![DocPush {
                doc: "d".into(),
                changes: vec![ByteBuf::from(vec![0xAB; 40])],
            }],
            ..Default::default()
        };
        let bytes = to_cbor(&req);
        // 40 bytes of payload cost 40 bytes plus a 2-byte byte-string header, not base64.
        assert!(
            bytes
                .windows(42)
                .any(|w| w[0] == 0x58 && w[1] == 40 && w[2..].iter().all(|&b| b == 0xAB))
        );
    }

    fn hex(bytes: &[u8]) -> String {
        bytes.iter().map(|b| format!("{b:02x}")).collect()
    }

    /// The idle sync of docs/PROTOCOL.md section 8: without an epoch, the bytes of a client
    /// that keeps none (and of this protocol before epochs); with the epoch the device holds,
    /// one key more in the request and not a byte more in the answer.
    #[test]
    fn the_epoch_travels_only_when_it_says_something() {
        let without = SyncRequest {
            v: PROTOCOL_VERSION,
            cursor: 42,
            tasks_tag: Some(0x0123_4567_89ab_cdef),
            ..Default::default()
        };
        let bytes = to_cbor(&without);
        assert_eq!(
            hex(&bytes),
            "a36176026663757273 6f72182a 697461736b735f746167 1b0123456789abcdef".replace(' ', "")
        );
        let decoded = from_cbor::<SyncRequest>(&bytes).unwrap();
        assert_eq!((decoded.epoch, &decoded), (None, &without));

        let with = SyncRequest {
            epoch: Some(0xfedc_ba98_7654_3210),
            ..without.clone()
        };
        let bytes_with = to_cbor(&with);
        // map(4) instead of map(3), then the same keys, then "epoch" and its 8 bytes.
        assert_eq!(bytes_with[0], 0xa4);
        assert_eq!(bytes_with[1..bytes.len()], bytes[1..]);
        assert_eq!(
            hex(&bytes_with[bytes.len()..]),
            "6565706f63681bfedcba9876543210"
        );
        assert_eq!(from_cbor::<SyncRequest>(&bytes_with).unwrap(), with);

        // The answer to a device that holds the server's epoch: as before epochs.
        let idle = SyncResponse {
            v: PROTOCOL_VERSION,
            cursor: 42,
            ..Default::default()
        };
        assert_eq!(hex(&to_cbor(&idle)), "a261760266637572736f72182a");
        // To a device that holds none or another: the epoch, and `repush` only when asked.
        let told = SyncResponse {
            epoch: Some(0xfedc_ba98_7654_3210),
            ..idle.clone()
        };
        let told_bytes = to_cbor(&told);
        assert_eq!(
            hex(&told_bytes),
            "a361760266637572736f72182a 6565706f6368 1bfedcba9876543210".replace(' ', "")
        );
        assert_eq!(from_cbor::<SyncResponse>(&told_bytes).unwrap(), told);
        let repush = SyncResponse {
            repush: true,
            ..told.clone()
        };
        let repush_bytes = to_cbor(&repush);
        assert_eq!(
            hex(&repush_bytes[told_bytes.len()..]),
            "66726570757368f5",
            "\"repush\": true"
        );
        assert_eq!(from_cbor::<SyncResponse>(&repush_bytes).unwrap(), repush);
        // A server without epochs answers without them: nothing to repush.
        let old = from_cbor::<SyncResponse>(&to_cbor(&idle)).unwrap();
        assert_eq!((old.epoch, old.repush), (None, false));
    }

    #[test]
    fn truncated_and_trailing_input_is_refused() {
        let bytes = to_cbor(&SyncRequest {
            v: PROTOCOL_VERSION,
            cursor: 5,
            ..Default::default()
        });
        assert!(from_cbor::<SyncRequest>(&bytes[..bytes.len() - 1]).is_err());
        let mut extra = bytes.clone();
        extra.push(0);
        assert!(from_cbor::<SyncRequest>(&extra).is_err());
    }
}
