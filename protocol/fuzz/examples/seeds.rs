//! Writes the seed inputs of the fuzz targets of doudi-protocol and doudi-server: documents made
//! with the typed views, real changes a phone pushes onto them, sync requests and responses, and
//! small images made from the test photos (`shared/data/photos` beside the repository).
//!
//! Everything is deterministic (fixed ids and actors, changes without timestamps), so the seeds
//! only change when the document format does. Run from this directory:
//!
//! ```sh
//! cargo run --example seeds
//! ```

use std::collections::{BTreeMap, BTreeSet};
use std::io::Cursor;
use std::path::{Path, PathBuf};

use automerge::{ActorId, AutoCommit, Change};
use chrono::NaiveDate;
use doudi_protocol::doc::household::{
    IncomeClass, IncomeItem, IncomeKind, IncomeSource, Member, Period,
};
use doudi_protocol::doc::household::{DisabilityKind, Programme, Relation};
use doudi_protocol::doc::visit::{Investigator, MemberCheck, Purpose, Signature, SignerRole};
use doudi_protocol::doc::{self, DiscoveryReport, DocumentContent, GeoPoint, Household, Visit};
use doudi_protocol::doc::{Photo, PhotoCategory, UnixMillis};
use doudi_protocol::id_number::{IdNumber, check_char};
use doudi_protocol::identity::{MaskedId, SealedId};
use doudi_protocol::ids::{AccountId, BlobHash, DocumentId, EntryId, MemberId};
use doudi_protocol::rules::policy::{Policy, PolicyBook, PolicyLayer};
use doudi_protocol::sync::{
    DocPush, DocUpdate, PROTOCOL_VERSION, PolicyUpdate, PushResult, PushStatus, SyncRequest,
    SyncResponse, TaskList, WireIssue, WireTask, to_cbor,
};
use image::ImageFormat;
use serde_bytes::ByteBuf;

/// The grid the documents belong to.
const SCOPE: &str = "370283001001-G01";
/// The device whose documents are stored (another phone).
const OTHER_DEVICE: [u8; 16] = [0xA1; 16];
/// The device that pushes: `push_changes` accepts changes by actors that start with its id, as
/// the server does.
pub const DEVICE: [u8; 16] = [0xD0; 16];

fn main() {
    let fuzz = Path::new(env!("CARGO_MANIFEST_DIR"));
    let root = fuzz.join("../..");
    let server_fuzz = root.join("server/fuzz");

    let household = created(household(), [1; 16]);
    let visit = created(visit(), [2; 16]);
    let report = created(report(), [3; 16]);
    // The stored documents are valid, so that the pushes and answers built on them reach past
    // validation.
    for d in [&household, &visit, &report] {
        let errors: Vec<_> = doc::validate(d).into_iter().filter(|i| i.severity == doc::Severity::Error).collect();
        assert!(errors.is_empty(), "a seed document does not validate: {errors:?}");
    }

    let documents = fuzz.join("seeds/validate_document");
    write(&documents, "household.automerge", &household.clone().save());
    write(&documents, "visit.automerge", &visit.clone().save());
    write(
        &documents,
        "discovery_report.automerge",
        &report.clone().save(),
    );
    // Two phones editing one household concurrently: a document with conflicts.
    let (mut merged, _) = concurrent_edits(&household);
    write(&documents, "household-conflicts.automerge", &merged.save());
    // A saved document followed by incremental change chunks, as a phone appends to its store.
    let mut bytes = visit.clone().save();
    let (_, later) = edit_visit(&visit);
    for change in new_changes(&visit, &later) {
        bytes.extend(change);
    }
    write(&documents, "visit-incremental.automerge", &bytes);

    // push_changes: a selector byte (even: the stored household, odd: the stored visit), then
    // change chunks as the phone sends them (`Change::bytes`, compressed when large).
    let pushes = server_fuzz.join("seeds/push_changes");
    let (_, edited) = edit_household(&household);
    write(
        &pushes,
        "household-edit",
        &push_input(0, &new_changes(&household, &edited)),
    );
    let (_, edited) = edit_visit(&visit);
    write(
        &pushes,
        "visit-edit",
        &push_input(1, &new_changes(&visit, &edited)),
    );
    let (merged, _) = concurrent_edits(&household);
    write(
        &pushes,
        "household-concurrent",
        &push_input(0, &new_changes(&household, &merged)),
    );
    let large = large_edit(&household);
    write(
        &pushes,
        "household-large",
        &push_input(0, &new_changes(&household, &large)),
    );

    // sync_request: requests and responses as they travel.
    let requests = server_fuzz.join("seeds/sync_request");
    let idle = SyncRequest {
        v: PROTOCOL_VERSION,
        cursor: 1_234,
        policy_version: Some(3),
        tasks_tag: Some(0x0123_4567_89ab_cdef),
        ..Default::default()
    };
    write(&requests, "request-idle", &to_cbor(&idle));
    let (_, edited) = edit_household(&household);
    let push = SyncRequest {
        v: PROTOCOL_VERSION,
        cursor: 0,
        push: vec![DocPush {
            doc: DocumentId::from_bytes([1; 16]).to_string(),
            changes: new_changes(&household, &edited)
                .into_iter()
                .map(ByteBuf::from)
                .collect(),
        }],
        page_bytes: Some(64 * 1024),
        ..Default::default()
    };
    write(&requests, "request-push", &to_cbor(&push));
    // The next page of a pull, asking for a document whole; any page budget is taken.
    let want = SyncRequest {
        v: PROTOCOL_VERSION,
        cursor: 1_234,
        resume: Some(resume_token(1_300)),
        want: vec![DocumentId::from_bytes([2; 16]).to_string()],
        page_bytes: Some(u64::MAX),
        policy_version: Some(3),
        tasks_tag: Some(7),
        ..Default::default()
    };
    write(&requests, "request-want", &to_cbor(&want));
    let first = first_sync(&household, &visit);
    write(&requests, "response-first-sync", &to_cbor(&first));
    write(
        &requests,
        "response-results",
        &to_cbor(&results(&household, &edited)),
    );
    let paged = paged(&report);
    write(&requests, "response-paged", &to_cbor(&paged));
    let grids = other_grid(&report);
    write(&requests, "response-grids", &to_cbor(&grids));

    // apply_response: answers to the request of the phone `doudi_protocol_fuzz::phone` makes
    // from the first sync: it pushes its edit of the household.
    let answers = fuzz.join("seeds/apply_response");
    write(&answers, "first-sync", &to_cbor(&first));
    let mut phone = doudi_protocol_fuzz::phone(&first);
    let household_id = DocumentId::from_bytes(doudi_protocol_fuzz::HOUSEHOLD_ID).to_string();
    let pushed = phone.heads(&household_id).unwrap();
    write(
        &answers,
        "accepted",
        &to_cbor(&accepted(&household_id, pushed, &visit)),
    );
    write(
        &answers,
        "rejected",
        &to_cbor(&results(&household, &edited)),
    );
    write(&answers, "paged", &to_cbor(&paged));
    write(&answers, "grids", &to_cbor(&grids));
    write(&answers, "missing-dependencies", &to_cbor(&missing(&visit)));

    // image_check: small real images and the kinds of bad ones the photo tests use.
    let photos = root.join("../shared/data/photos");
    let images = server_fuzz.join("seeds/image_check");
    let leaf = small_jpeg(&photos.join("fallenleaf.jpg"));
    write(&images, "leaf.jpg", &leaf);
    write(
        &images,
        "document.png",
        &small_png(&photos.join("document.png")),
    );
    write(&images, "signature.png", &signature_png());
    write(&images, "truncated.jpg", &leaf[..leaf.len() / 2]);
    write(&images, "no-end-marker.jpg", &leaf[..leaf.len() - 2]);
    write(&images, "huge-dimensions.jpg", &huge_dimensions(&leaf));
    write(
        &images,
        "not-an-image.jpg",
        &read(&photos.join("not-an-image.jpg")),
    );
}

fn write(dir: &Path, name: &str, bytes: &[u8]) {
    std::fs::create_dir_all(dir).unwrap();
    let path = dir.join(name);
    std::fs::write(&path, bytes).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    println!("{:>6} {}", bytes.len(), path.display());
}

fn read(path: &PathBuf) -> Vec<u8> {
    std::fs::read(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

fn actor(device: [u8; 16], suffix: &[u8]) -> ActorId {
    ActorId::from([&device[..], suffix].concat())
}

fn id_number(first17: &str) -> IdNumber {
    let check = check_char(first17).expect("17 digits");
    IdNumber::parse(&format!("{first17}{check}")).expect("a valid ID number")
}

fn account(s: &str) -> AccountId {
    AccountId::parse(s).unwrap()
}

fn created<C: DocumentContent>(content: C, id: [u8; 16]) -> AutoCommit {
    let id = DocumentId::from_bytes(id);
    doc::create(id, SCOPE, &content, Some(actor(OTHER_DEVICE, &[]))).unwrap()
}

fn household() -> Household {
    let head_id = MemberId::from_bytes([0x10; 16]);
    let mut head = Member::new("王建国", Relation::Head);
    // As a document holds a number: masked, and sealed to the server (fixed bytes in place of
    // a sealed box, whose ephemeral key would make the seeds differ at each run; nothing here
    // opens it). The birth date is the number's, so it is not recorded beside it.
    let number = id_number("37028319580312001");
    head.identity = Some(SealedId {
        masked: MaskedId::from(&number),
        sealed: vec![0x5e; 18 + 48],
    });
    head.phone = Some("13800000000".to_owned());
    let mut wife = Member::new("李秀英", Relation::Spouse);
    wife.disability_kind = Some(DisabilityKind::Physical);
    wife.disability_grade = Some(2);
    Household {
        address: "青岛市胶州市某镇某村 12 号".to_owned(),
        hukou_type: None,
        registered_address: None,
        programmes: BTreeSet::from([Programme::Dibao]),
        members: BTreeMap::from([(head_id, head), (MemberId::from_bytes([0x11; 16]), wife)]),
        supporters: BTreeMap::new(),
        income: BTreeMap::from([(
            EntryId::from_bytes([0x20; 16]),
            IncomeItem {
                member: Some(head_id),
                class: IncomeClass::Transfer,
                kind: IncomeKind::BasicPensionCentral,
                amount_fen: 18_000,
                period: Period::Month,
                evidence: None,
                source: IncomeSource::DataCheck,
            },
        )]),
        assets: BTreeMap::new(),
        expenditures: BTreeMap::new(),
        decisions: Vec::new(),
    }
}

fn visit() -> Visit {
    let mut v = Visit::new(DocumentId::from_bytes([1; 16]), Purpose::Recheck);
    v.started_at = Some(UnixMillis(1_750_000_000_000));
    v.investigators.insert(
        account("gw-1"),
        Investigator {
            name: "张网格".to_owned(),
        },
    );
    v.member_checks.insert(
        MemberId::from_bytes([0x10; 16]),
        MemberCheck {
            present: true,
            confirmed: true,
            ..MemberCheck::default()
        },
    );
    v.living.food = Some("粮食充足".to_owned());
    v
}

fn report() -> DiscoveryReport {
    let mut r = DiscoveryReport::new(account("cadre-7"));
    r.reporter_name = Some("赵村委".to_owned());
    r.reported_at = Some(UnixMillis(1_750_000_000_000));
    r.notes = Some("独居，行动不便".to_owned());
    r.gps = Some(GeoPoint {
        lat: 36.3,
        lon: 120.0,
        accuracy_m: None,
    });
    r
}

/// The pushing device's copy of `stored`, with its edit made through the typed view.
fn phone_edit<C: DocumentContent>(
    stored: &AutoCommit,
    suffix: &[u8],
    edit: impl FnOnce(&mut C),
) -> AutoCommit {
    let mut phone = stored.clone().with_actor(actor(DEVICE, suffix));
    let (_, mut content) = doc::read::<C, _>(&phone).unwrap();
    edit(&mut content);
    doc::write(&mut phone, &content).unwrap();
    phone.commit();
    phone
}

/// A phone adds a member and corrects the address.
fn edit_household(stored: &AutoCommit) -> (Household, AutoCommit) {
    let mut after = None;
    let phone = phone_edit(stored, &[], |h: &mut Household| {
        h.address = "青岛市胶州市某镇某村 12 号（东院）".to_owned();
        h.members.insert(
            MemberId::from_bytes([0x12; 16]),
            Member::new("王小明", Relation::Child),
        );
        after = Some(h.clone());
    });
    (after.unwrap(), phone)
}

/// A phone completes the visit: a photo, a signature, submitted.
fn edit_visit(stored: &AutoCommit) -> (Visit, AutoCommit) {
    let mut after = None;
    let phone = phone_edit(stored, &[], |v: &mut Visit| {
        v.ended_at = Some(UnixMillis(1_750_001_800_000));
        v.photos.insert(
            BlobHash::from_bytes([0x30; 32]),
            Photo {
                category: PhotoCategory::Kitchen,
                caption: Some("厨房".to_owned()),
                captured_at: UnixMillis(1_750_000_600_000),
                gps: Some(GeoPoint {
                    lat: 36.26,
                    lon: 120.03,
                    accuracy_m: Some(8.0),
                }),
            },
        );
        v.signatures.insert(
            BlobHash::from_bytes([0x31; 32]),
            Signature {
                signer_name: "王建国".to_owned(),
                role: SignerRole::Family,
                account: None,
                member: Some(MemberId::from_bytes([0x10; 16])),
                signed_at: v.ended_at,
            },
        );
        after = Some(v.clone());
    });
    (after.unwrap(), phone)
}

/// Two actors of the pushing device set the address concurrently, merged: a conflict.
fn concurrent_edits(stored: &AutoCommit) -> (AutoCommit, Vec<Change>) {
    let mut one = phone_edit(stored, &[1], |h: &mut Household| {
        h.address = "东院".to_owned()
    });
    let mut two = phone_edit(stored, &[2], |h: &mut Household| {
        h.address = "西院".to_owned()
    });
    one.merge(&mut two).unwrap();
    let changes = one.get_changes(&stored.clone().get_heads());
    (one, changes)
}

/// An edit large enough that the phone sends it DEFLATE-compressed.
fn large_edit(stored: &AutoCommit) -> AutoCommit {
    phone_edit(stored, &[], |h: &mut Household| {
        for i in 0..12u8 {
            let mut m = Member::new(format!("成员{i}"), Relation::Other);
            m.schooling = Some("小学在读，成绩良好，每天步行上学".to_owned());
            h.members.insert(MemberId::from_bytes([0x40 + i; 16]), m);
        }
    })
}

/// The changes of `after` that `before` lacks, as the phone sends them.
fn new_changes(before: &AutoCommit, after: &AutoCommit) -> Vec<Vec<u8>> {
    let heads = before.clone().get_heads();
    after
        .clone()
        .get_changes(&heads)
        .into_iter()
        .map(|mut c| c.bytes().into_owned())
        .collect()
}

fn push_input(selector: u8, changes: &[Vec<u8>]) -> Vec<u8> {
    let mut out = vec![selector];
    for c in changes {
        out.extend(c);
    }
    out
}

fn heads(doc: &AutoCommit) -> Vec<ByteBuf> {
    doc.clone()
        .get_heads()
        .iter()
        .map(|h| ByteBuf::from(h.0.to_vec()))
        .collect()
}

/// A new device's first sync: the grids of its scope, snapshots, the policy book and the task
/// list, and more to come.
fn first_sync(household: &AutoCommit, visit: &AutoCommit) -> SyncResponse {
    let national = PolicyLayer {
        region: None,
        effective_from: NaiveDate::from_ymd_opt(2024, 1, 1).unwrap(),
        source: Some("民发〔2024〕1号".to_owned()),
        settings: Policy::national_defaults().to_settings(),
    };
    SyncResponse {
        v: PROTOCOL_VERSION,
        updates: vec![
            whole([1; 16], "household", SCOPE, household),
            whole([2; 16], "visit", SCOPE, visit),
        ],
        grids: Some(vec![SCOPE.to_owned()]),
        cursor: 0,
        resume: Some(resume_token(42)),
        more: true,
        policy: Some(PolicyUpdate {
            version: 3,
            book: PolicyBook::from_layers([national]).unwrap(),
        }),
        tasks: Some(TaskList {
            tag: 7,
            items: vec![WireTask {
                id: "task-1".to_owned(),
                kind: "recheck".to_owned(),
                report_id: None,
                household_id: Some(DocumentId::from_bytes([1; 16]).to_string()),
                case_id: None,
                note: Some("年度复核".to_owned()),
                note_en: Some("yearly re-check".to_owned()),
                assigned: true,
                created_at_ms: 1_750_000_000_000,
                due_at_ms: Some(1_760_000_000_000),
            }],
        }),
        ..Default::default()
    }
}

/// Answers to a push: one accepted, one refused with issues; changes by others.
fn results(household: &AutoCommit, edited: &AutoCommit) -> SyncResponse {
    let id = DocumentId::from_bytes([1; 16]).to_string();
    SyncResponse {
        v: PROTOCOL_VERSION,
        results: vec![
            PushResult {
                doc: id.clone(),
                status: PushStatus::Accepted,
                heads: heads(edited),
                code: None,
                message: None,
                message_en: None,
                issues: Vec::new(),
            },
            PushResult {
                doc: DocumentId::from_bytes([2; 16]).to_string(),
                status: PushStatus::Rejected,
                heads: Vec::new(),
                code: Some("sync.validation_failed".to_owned()),
                message: Some("内容未通过检查，请按提示修改。".to_owned()),
                message_en: Some("The document did not pass the checks.".to_owned()),
                issues: vec![WireIssue {
                    path: "content.investigators".to_owned(),
                    code: "visit.investigators_min".to_owned(),
                    message: "至少需要两名调查人员".to_owned(),
                    message_en: "at least two investigators".to_owned(),
                }],
            },
        ],
        updates: vec![changed([1; 16], "household", household, edited)],
        cursor: 43,
        ..Default::default()
    }
}

/// A `resume` token as the server makes it: the feed position, then a tag (here a made-up one).
fn resume_token(position: u64) -> ByteBuf {
    let mut t = position.to_be_bytes().to_vec();
    t.extend_from_slice(&0x5eed_0000_0000_0001u64.to_be_bytes());
    ByteBuf::from(t)
}

/// A document new to the device, whole.
fn whole(id: [u8; 16], kind: &str, scope: &str, d: &AutoCommit) -> DocUpdate {
    DocUpdate {
        doc: DocumentId::from_bytes(id).to_string(),
        kind: kind.to_owned(),
        scope: scope.to_owned(),
        snapshot: Some(ByteBuf::from(d.clone().save())),
        changes: Vec::new(),
        heads: heads(d),
    }
}

/// The changes of a document the device holds as `before`, now `after`.
fn changed(id: [u8; 16], kind: &str, before: &AutoCommit, after: &AutoCommit) -> DocUpdate {
    DocUpdate {
        doc: DocumentId::from_bytes(id).to_string(),
        kind: kind.to_owned(),
        scope: SCOPE.to_owned(),
        snapshot: None,
        changes: new_changes(before, after)
            .into_iter()
            .map(ByteBuf::from)
            .collect(),
        heads: heads(after),
    }
}

/// A page of a pull with more to come: a new discovery report, the base kept as `cursor`.
fn paged(report: &AutoCommit) -> SyncResponse {
    SyncResponse {
        v: PROTOCOL_VERSION,
        updates: vec![whole([3; 16], "discovery_report", SCOPE, report)],
        cursor: 42,
        resume: Some(resume_token(57)),
        more: true,
        ..Default::default()
    }
}

/// The first page after the device's regions changed: its scope is now another grid, whose
/// documents come whole; it deletes every document of other grids.
fn other_grid(report: &AutoCommit) -> SyncResponse {
    let other = "370283001002-G02";
    SyncResponse {
        v: PROTOCOL_VERSION,
        updates: vec![whole([4; 16], "discovery_report", other, report)],
        grids: Some(vec![other.to_owned()]),
        cursor: 0,
        resume: Some(resume_token(12)),
        more: true,
        ..Default::default()
    }
}

/// The phone's push of the household accepted at the heads it pushed; another phone's edit of
/// the visit.
fn accepted(household: &str, pushed: Vec<ByteBuf>, visit: &AutoCommit) -> SyncResponse {
    let (_, edited) = edit_visit(visit);
    SyncResponse {
        v: PROTOCOL_VERSION,
        results: vec![PushResult {
            doc: household.to_owned(),
            status: PushStatus::Accepted,
            heads: pushed,
            code: None,
            message: None,
            message_en: None,
            issues: Vec::new(),
        }],
        updates: vec![changed([2; 16], "visit", visit, &edited)],
        cursor: 44,
        ..Default::default()
    }
}

/// The second of two changes of the visit without the first: the phone cannot complete the
/// visit and asks for it whole next time (`want`).
fn missing(visit: &AutoCommit) -> SyncResponse {
    let (_, once) = edit_visit(visit);
    let twice = phone_edit(&once, &[], |v: &mut Visit| {
        v.living.food = Some("粮食不足".to_owned())
    });
    SyncResponse {
        v: PROTOCOL_VERSION,
        updates: vec![changed([2; 16], "visit", &once, &twice)],
        cursor: 45,
        ..Default::default()
    }
}

fn encode(img: &image::DynamicImage, format: ImageFormat) -> Vec<u8> {
    let mut out = Cursor::new(Vec::new());
    img.write_to(&mut out, format).unwrap();
    out.into_inner()
}

/// A real photo scaled down to 64×48 (a few KB).
fn small_jpeg(path: &PathBuf) -> Vec<u8> {
    let img = image::load_from_memory(&read(path)).unwrap();
    encode(&img.thumbnail(64, 48).to_rgb8().into(), ImageFormat::Jpeg)
}

/// The scanned-document PNG scaled down.
fn small_png(path: &PathBuf) -> Vec<u8> {
    let img = image::load_from_memory(&read(path)).unwrap();
    encode(&img.thumbnail(45, 60), ImageFormat::Png)
}

/// A signature: dark strokes on a transparent background.
fn signature_png() -> Vec<u8> {
    let img = image::RgbaImage::from_fn(48, 16, |x, y| {
        let on_stroke = (x as i32 - 3 * y as i32).rem_euclid(11) < 2;
        image::Rgba([20, 20, 60, if on_stroke { 255 } else { 0 }])
    });
    encode(&img.into(), ImageFormat::Png)
}

/// `jpeg` with its frame header (SOF0) claiming 65500×65500 pixels.
fn huge_dimensions(jpeg: &[u8]) -> Vec<u8> {
    let mut out = jpeg.to_vec();
    let sof = out
        .windows(2)
        .position(|w| w == [0xFF, 0xC0])
        .expect("a baseline JPEG has an SOF0 marker");
    // Marker (2), length (2), precision (1), then height and width (2 each).
    out[sof + 5..sof + 9].copy_from_slice(&[0xFF, 0xDC, 0xFF, 0xDC]);
    out
}
