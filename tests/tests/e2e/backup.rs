//! `doudi backup` and `doudi restore` (docs/OPERATIONS.md, "Backup and restore"), run as an
//! operator runs them beside `doudi serve`: a backup taken while phones (the real SDK) push
//! visits and photos restores, into a fresh data directory, the state of its copy (documents,
//! change log, projections, blobs) and a server starts on it; what a backup or a restore cannot
//! vouch for is refused and leaves stored data alone.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use automerge::{Automerge, ChangeHash};
use doudi_protocol::role::Role;
use doudi_protocol::sync::{SyncRequest, SyncResponse, from_cbor};
use doudi_sdk::{
    BuiltinTransport, DoudiClient, HttpRequest, HttpResponse, HukouType, PhotoCategory, Transport,
    TransportError, VisitPurpose,
};
use doudi_server::accounts::{self, NewAccount};
use doudi_server::backup::{MANIFEST_FILE, Manifest};
use doudi_server::blobs::Sha256Hex;
use doudi_server::blobs::store::LocalStore;
use doudi_server::config::SQLITE_FILE;
use doudi_server::entity::{
    audit_log, blob, blob_ref, blob_upload, device, doc_change, refresh_token,
};
use doudi_server::sync::Epoch;
use doudi_tests::blobs::{sha, tiny_png};
use doudi_tests::faults::{self, Fleet, GRID_A, Serve};
use doudi_tests::{Backend, PASSWORD, stored};
use sea_orm::{
    ActiveModelTrait, ColumnTrait, ConnectionTrait, DatabaseConnection, DbBackend, EntityTrait,
    QueryFilter, QueryOrder, Statement, TransactionTrait,
};
use serde_json::json;

/// What a `doudi` command did.
struct Ran {
    ok: bool,
    stdout: String,
    stderr: String,
}

/// Run `doudi ARGS` on `serve`'s data and settings, with `env` set, from a blocking task.
async fn doudi(serve: &Serve, args: &[&std::ffi::OsStr], env: &[(&str, &str)]) -> Ran {
    let mut c: Command = serve.command();
    c.args(args);
    for (k, v) in env {
        c.env(k, v);
    }
    let out = tokio::task::spawn_blocking(move || c.output().expect("run doudi"))
        .await
        .unwrap();
    Ran {
        ok: out.status.success(),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    }
}

async fn backup(serve: &Serve, dir: &Path) -> Ran {
    doudi(serve, &["backup".as_ref(), dir.as_os_str()], &[]).await
}

async fn restore(serve: &Serve, dir: &Path, force: bool) -> Ran {
    let mut args = vec!["restore".as_ref(), dir.as_os_str()];
    if force {
        args.push("--force".as_ref());
    }
    doudi(serve, &args, &[]).await
}

/// Panics with the command's error output unless it succeeded.
fn succeeded(r: &Ran, what: &str) {
    assert!(r.ok, "{what} failed:\n{}\n{}", r.stdout, r.stderr);
}

/// Panics unless the command failed with the error `code`.
fn refused(r: &Ran, code: &str, what: &str) {
    assert!(
        !r.ok && r.stderr.contains(&format!("{code}: ")),
        "{what}: expected {code}, got ok={} stdout:\n{}\nstderr:\n{}",
        r.ok,
        r.stdout,
        r.stderr
    );
}

fn manifest(dir: &Path) -> Manifest {
    serde_json::from_slice(&std::fs::read(dir.join(MANIFEST_FILE)).expect("manifest"))
        .expect("manifest reads")
}

/// The data directory's SQLite database and blob store of `serve`.
fn data(serve: &Serve) -> (PathBuf, LocalStore) {
    let s = serve.settings();
    (s.data_dir.join(SQLITE_FILE), LocalStore::new(s.blob_dir()))
}

/// Copy the directory `from` to `to` (new), file by file (no hard links).
fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for e in std::fs::read_dir(from).unwrap() {
        let e = e.unwrap();
        let dest = to.join(e.file_name());
        if e.file_type().unwrap().is_dir() {
            copy_dir(&e.path(), &dest);
        } else {
            std::fs::copy(e.path(), dest).unwrap();
        }
    }
}

fn flip_last_byte(file: &Path) {
    let mut bytes = std::fs::read(file).unwrap();
    let last = bytes.len() - 1;
    bytes[last] ^= 0x01;
    std::fs::write(file, bytes).unwrap();
}

/// Each document's changes, from its stored snapshot.
fn changes_of(snapshot: &[u8]) -> (Automerge, BTreeSet<ChangeHash>) {
    let am = Automerge::load(snapshot).expect("a stored snapshot loads");
    let changes = am.get_changes(&[]).iter().map(|c| c.hash()).collect();
    (am, changes)
}

async fn change_log(db: &DatabaseConnection) -> Vec<doc_change::Model> {
    doc_change::Entity::find()
        .order_by_asc(doc_change::Column::Id)
        .all(db)
        .await
        .unwrap()
}

/// Stored blobs by hash, without the time of their last upload (an upload of the same bytes
/// again renews it).
async fn blob_rows(db: &DatabaseConnection) -> BTreeMap<String, blob::Model> {
    blob::Entity::find()
        .all(db)
        .await
        .unwrap()
        .into_iter()
        .map(|b| {
            (
                b.sha256.clone(),
                blob::Model {
                    claimed_at_ms: 0,
                    ..b
                },
            )
        })
        .collect()
}

/// The blob references of the documents `docs`.
async fn blob_refs_of(db: &DatabaseConnection, docs: &BTreeSet<String>) -> Vec<blob_ref::Model> {
    blob_ref::Entity::find()
        .order_by_asc(blob_ref::Column::Sha256)
        .order_by_asc(blob_ref::Column::DocumentId)
        .all(db)
        .await
        .unwrap()
        .into_iter()
        .filter(|r| docs.contains(&r.document_id))
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_backup_taken_under_ingest_restores_the_state_of_its_copy() {
    let name = "backup::a_backup_taken_under_ingest_restores_the_state_of_its_copy";
    let seed = faults::seed(name);
    let mut source = Serve::new(None).await;
    source.start();
    let mut fleet = Fleet::new(&source, &source.base(), 6).await;
    fleet.photos = true;
    let stop = Arc::new(AtomicBool::new(false));
    let phones = fleet.ingest(seed, &stop);

    // The backup is taken while the phones push, and they go on pushing after it.
    tokio::time::sleep(Duration::from_secs(5)).await;
    let kept = tempfile::tempdir().unwrap();
    let dir = kept.path().join("backup");
    let taken = backup(&source, &dir).await;
    tokio::time::sleep(Duration::from_secs(3)).await;
    stop.store(true, Ordering::SeqCst);
    let tally = tokio::task::spawn_blocking(move || Fleet::join(phones))
        .await
        .unwrap();
    succeeded(&taken, "doudi backup");
    assert!(
        tally.other.is_empty() && tally.rejected.is_empty() && tally.network == 0,
        "{tally:?}"
    );
    assert!(source.running(), "{}", source.log_tail());
    source.kill();
    let m = manifest(&dir);
    let copy_seq = m.database.feed_seq;
    let mode =
        std::os::unix::fs::PermissionsExt::mode(&std::fs::metadata(&dir).unwrap().permissions());
    assert_eq!(mode & 0o777, 0o700, "the backup is its owner's only");

    let mut restored = Serve::unprepared(None);
    let r = restore(&restored, &dir, false).await;
    succeeded(&r, "doudi restore");
    assert!(r.stdout.contains("restored"), "{}", r.stdout);

    let src = source.connect().await;
    let dst = restored.connect().await;

    // Documents: those created up to the copy's feed position, each as it stood then.
    let src_docs = stored::documents(&src).await;
    let dst_docs = stored::documents(&dst).await;
    let in_copy: BTreeSet<&String> = src_docs
        .values()
        .filter(|d| d.created_seq <= copy_seq)
        .map(|d| &d.id)
        .collect();
    assert_eq!(dst_docs.keys().collect::<BTreeSet<_>>(), in_copy);
    let changed_after: Vec<&String> = src_docs
        .values()
        .filter(|d| d.seq > copy_seq)
        .map(|d| &d.id)
        .collect();
    assert!(
        copy_seq > 0 && !changed_after.is_empty(),
        "the copy (feed {copy_seq}) was taken while the phones wrote: {} documents, none changed after it",
        src_docs.len()
    );
    let mut unchanged = BTreeSet::new();
    for (id, d) in &dst_docs {
        let s = &src_docs[id];
        if s.seq <= copy_seq {
            assert_eq!(d, s, "document {id}, unchanged since the copy");
            unchanged.insert(id.clone());
            continue;
        }
        // Changed since: the restored history is the source's up to the restored heads.
        assert!(d.seq <= copy_seq && d.created_seq == s.created_seq, "{id}");
        let (_, restored_changes) = changes_of(&d.snapshot);
        let (source_am, _) = changes_of(&s.snapshot);
        let heads: Vec<ChangeHash> = d.heads.split(',').map(|h| h.parse().unwrap()).collect();
        let then: BTreeSet<ChangeHash> = source_am
            .fork_at(&heads)
            .unwrap_or_else(|e| panic!("{id}: the source lacks the restored heads: {e}"))
            .get_changes(&[])
            .iter()
            .map(|c| c.hash())
            .collect();
        assert_eq!(restored_changes, then, "document {id}: history at the copy");
    }

    // The change log: exactly the source's rows up to the copy's feed position.
    let src_log: Vec<_> = change_log(&src)
        .await
        .into_iter()
        .filter(|c| c.seq <= copy_seq)
        .collect();
    assert_eq!(change_log(&dst).await, src_log);

    // Projections: the rows of every document unchanged since the copy are the source's, and
    // all of them equal a rebuild from the restored documents.
    let src_rows = stored::projection_rows(&src).await;
    let dst_rows = stored::projection_rows(&dst).await;
    for id in &unchanged {
        assert_eq!(dst_rows.get(id), src_rows.get(id), "projection of {id}");
    }
    assert_eq!(
        blob_refs_of(&dst, &unchanged).await,
        blob_refs_of(&src, &unchanged).await,
        "blob references of the documents unchanged since the copy"
    );
    dst.close().await.ok();
    restored.rebuild_projections();
    let dst = restored.connect().await;
    assert_eq!(
        stored::projection_rows(&dst).await,
        dst_rows,
        "a rebuild from the restored documents"
    );

    // Blobs: every blob the restored database lists is in the restored store with the source's
    // bytes, as the source listed it; those listed well before the backup began are all there.
    let (_, src_store) = data(&source);
    let (_, dst_store) = data(&restored);
    let src_blobs = blob_rows(&src).await;
    let dst_blobs = blob_rows(&dst).await;
    assert!(!dst_blobs.is_empty(), "the copy holds photos");
    assert_eq!(
        (m.blobs.count, m.blobs.left_out.len()),
        (dst_blobs.len() as u64, 0)
    );
    for (name, row) in &dst_blobs {
        assert_eq!(Some(row), src_blobs.get(name), "blob row {name}");
        let hash = Sha256Hex::parse(name).unwrap();
        let bytes = std::fs::read(dst_store.path_of(&hash)).expect("restored blob");
        assert_eq!(sha(&bytes), *name);
        assert_eq!(bytes, std::fs::read(src_store.path_of(&hash)).unwrap());
    }
    // (A row's time is taken before its insert waits for the write lock: two seconds' margin.)
    let before = m.created_at_ms - 2_000;
    for (name, row) in &src_blobs {
        assert!(
            row.created_at_ms >= before || dst_blobs.contains_key(name),
            "blob {name}, stored before the backup began, is not in it"
        );
    }

    // A server starts on the restored data: a phone gets every document of its grid as
    // restored, and an uploader reads a photo back.
    restored.start();
    let store = tempfile::tempdir().unwrap();
    let phone = doudi_sdk::DoudiClient::open(
        store.path().to_string_lossy().into_owned(),
        vec![0x24; 32],
        restored.base(),
        None,
    )
    .unwrap();
    phone
        .login(
            fleet.devices[0].username.clone(),
            PASSWORD.into(),
            "新手机".into(),
        )
        .await
        .unwrap();
    phone.sync_now(None).await.unwrap();
    let held: BTreeSet<String> = phone.document_ids().into_iter().map(|(id, _)| id).collect();
    let grid: BTreeSet<String> = dst_docs
        .values()
        .filter(|d| d.scope == GRID_A)
        .map(|d| d.id.clone())
        .collect();
    assert_eq!(held, grid);
    let upload = blob_upload::Entity::find()
        .one(&dst)
        .await
        .unwrap()
        .expect("an upload");
    let account = doudi_server::entity::account::Entity::find_by_id(upload.account_id)
        .one(&dst)
        .await
        .unwrap()
        .unwrap();
    let token = faults::access_token(&restored.base(), &account.username, "测试电脑").await;
    let served = reqwest::Client::new()
        .get(format!(
            "{}/api/v1/blobs/{}",
            restored.base(),
            upload.sha256
        ))
        .bearer_auth(token)
        .send()
        .await
        .unwrap();
    assert_eq!(served.status(), reqwest::StatusCode::OK);
    let sha_of_upload = Sha256Hex::parse(&upload.sha256).unwrap();
    assert_eq!(
        served.bytes().await.unwrap().to_vec(),
        std::fs::read(src_store.path_of(&sha_of_upload)).unwrap()
    );
    eprintln!(
        "{name}: {} captures, {} syncs; copy at feed {copy_seq} of {}: {} of {} documents ({} changed after), {} blobs",
        tally.captures,
        tally.syncs_ok,
        src_docs.values().map(|d| d.seq).max().unwrap_or(0),
        dst_docs.len(),
        src_docs.len(),
        changed_after.len(),
        dst_blobs.len()
    );
}

/// A source with a few documents and photos from two phones.
async fn source_with_photos() -> Serve {
    let mut source = Serve::new(None).await;
    source.start();
    let mut fleet = Fleet::new(&source, &source.base(), 2).await;
    fleet.photos = true;
    let stop = Arc::new(AtomicBool::new(false));
    let phones = fleet.ingest(
        faults::seed("backup::backup_and_restore_refuse_what_they_cannot_vouch_for"),
        &stop,
    );
    tokio::time::sleep(Duration::from_secs(3)).await;
    stop.store(true, Ordering::SeqCst);
    tokio::task::spawn_blocking(move || Fleet::join(phones))
        .await
        .unwrap();
    let mut tally = Default::default();
    fleet.settle(&mut tally, 5).await;
    source
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn backup_and_restore_refuse_what_they_cannot_vouch_for() {
    let source = source_with_photos().await;
    let kept = tempfile::tempdir().unwrap();

    // A directory that holds something is not a backup's: nothing in it changes.
    let busy = kept.path().join("busy");
    std::fs::create_dir_all(&busy).unwrap();
    std::fs::write(busy.join("notes.txt"), "keep me").unwrap();
    refused(
        &backup(&source, &busy).await,
        "backup.dir_not_empty",
        "backup into a non-empty directory",
    );
    let left: Vec<_> = std::fs::read_dir(&busy).unwrap().collect();
    assert_eq!(left.len(), 1);
    assert_eq!(
        std::fs::read_to_string(busy.join("notes.txt")).unwrap(),
        "keep me"
    );

    // Deployments: the documented procedure, not this command.
    let pg = [("DATABASE_URL", "postgres://doudi@127.0.0.1:1/doudi")];
    let elsewhere = kept.path().join("elsewhere");
    for (args, what) in [(["backup"], "backup"), (["restore"], "restore")] {
        let mut a: Vec<&std::ffi::OsStr> = args.iter().map(|a| a.as_ref()).collect();
        a.push(elsewhere.as_os_str());
        let r = doudi(&source, &a, &pg).await;
        refused(&r, "backup.postgres", what);
        assert!(r.stderr.contains("pg_basebackup"), "{}", r.stderr);
        let s3 = [("DOUDI_BLOB_STORE", "s3")];
        refused(&doudi(&source, &a, &s3).await, "backup.s3_store", what);
    }
    assert!(!elsewhere.exists());

    let good = kept.path().join("good");
    succeeded(&backup(&source, &good).await, "doudi backup");
    let m = manifest(&good);
    assert!(m.blobs.count > 0, "{m:?}");

    let target = Serve::unprepared(None);
    let (target_db, target_store) = data(&target);
    let nothing_restored = |what: &str| {
        assert!(!target_db.exists(), "{what}: a database was put in place");
        assert!(
            target_store.objects().unwrap().is_empty(),
            "{what}: blobs were put in place"
        );
    };

    // Not a complete backup (no manifest), one byte of the database changed, one blob's bytes
    // changed (in copies: the backup's blobs are hard links to the store's).
    type Spoil = fn(&Path);
    let spoilt: [(&str, Spoil, &str); 3] = [
        (
            "no manifest",
            |d| std::fs::remove_file(d.join(MANIFEST_FILE)).unwrap(),
            "restore.manifest",
        ),
        (
            "changed database",
            |d| flip_last_byte(&d.join(SQLITE_FILE)),
            "restore.database_mismatch",
        ),
        (
            "changed blob",
            |d| {
                let store = LocalStore::new(d.join("blobs"));
                flip_last_byte(&store.path_of(&store.objects().unwrap()[0].sha256));
            },
            "restore.blob_mismatch",
        ),
    ];
    for (what, spoil, code) in spoilt {
        let copy = kept.path().join(what);
        copy_dir(&good, &copy);
        spoil(&copy);
        refused(&restore(&target, &copy, false).await, code, what);
        nothing_restored(what);
    }

    // The good backup restores; a second restore over it needs --force and keeps the database
    // it replaces.
    succeeded(&restore(&target, &good, false).await, "doudi restore");
    let first = std::fs::read(&target_db).unwrap();
    refused(
        &restore(&target, &good, false).await,
        "restore.target_exists",
        "restore over a database",
    );
    assert_eq!(std::fs::read(&target_db).unwrap(), first);
    let forced = restore(&target, &good, true).await;
    succeeded(&forced, "doudi restore --force");
    let aside = forced
        .stdout
        .lines()
        .find_map(|l| l.strip_prefix("moved aside "))
        .unwrap_or_else(|| panic!("{}", forced.stdout));
    assert_eq!(std::fs::read(aside).unwrap(), first);
    same_but_epoch(&target_db, &first);

    // Not under a running server, not even with --force; once it is stopped (killed), yes.
    let mut target = target;
    target.start();
    refused(
        &restore(&target, &good, true).await,
        "restore.server_running",
        "restore under a running server",
    );
    assert!(target_db.exists());
    target.kill();
    succeeded(
        &restore(&target, &good, true).await,
        "doudi restore --force after the server stopped",
    );
    same_but_epoch(&target_db, &first);
}

/// The database at `path` is the same backup restored again as `first`, with a sync epoch of
/// its own: it differs only in the page of the epoch's row and the header page.
fn same_but_epoch(path: &Path, first: &[u8]) {
    let again = std::fs::read(path).unwrap();
    assert_eq!(again.len(), first.len());
    let pages: BTreeSet<usize> = again
        .iter()
        .zip(first)
        .enumerate()
        .filter(|(_, (a, b))| a != b)
        .map(|(i, _)| i / 4096)
        .collect();
    assert!(
        !pages.is_empty() && pages.len() <= 2,
        "pages changed: {pages:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_blob_gone_before_its_copy_is_left_out_only_when_unreferenced() {
    let mut source = Serve::new(None).await;
    source.start();
    let fleet = Fleet::new(&source, &source.base(), 1).await;
    let phone = &fleet.devices[0];

    // A photo of a visit (referenced), and bytes uploaded that no document points at.
    let household = phone
        .client
        .create_household(Some(GRID_A.into()), "一村 1 号".into(), "户主".into(), None)
        .unwrap();
    let visit = phone
        .client
        .start_visit(household, doudi_sdk::VisitPurpose::CareVisit)
        .unwrap();
    let photo = phone
        .client
        .attach_photo(
            visit,
            tiny_png(1),
            doudi_sdk::PhotoCategory::Kitchen,
            None,
            1_763_800_000_000,
            None,
            None,
        )
        .unwrap();
    let s = phone.client.sync_now(None).await.unwrap();
    assert_eq!((s.photos_uploaded, s.pending_uploads), (1, 0), "{s:?}");
    let token = faults::access_token(&source.base(), &phone.username, "测试电脑").await;
    let loose = tiny_png(2);
    let loose_sha = sha(&loose);
    let http = reqwest::Client::new();
    let up = http
        .put(format!(
            "{}/api/v1/blobs/{loose_sha}/upload?offset=0&final=true",
            source.base()
        ))
        .bearer_auth(&token)
        .header("content-type", "application/octet-stream")
        .body(loose)
        .send()
        .await
        .unwrap();
    assert!(up.status().is_success(), "{}", up.text().await.unwrap());

    // Gone from the store before its copy (as blob gc removes an unreferenced blob): left out,
    // and the restored database does not claim it.
    let (_, store) = data(&source);
    let loose_hash = Sha256Hex::parse(&loose_sha).unwrap();
    std::fs::remove_file(store.path_of(&loose_hash)).unwrap();
    let kept = tempfile::tempdir().unwrap();
    let dir = kept.path().join("backup");
    let r = backup(&source, &dir).await;
    succeeded(&r, "doudi backup");
    let m = manifest(&dir);
    assert_eq!(m.blobs.left_out, vec![loose_sha.clone()]);
    assert_eq!(m.blobs.count, 1);
    let mut restored = Serve::unprepared(None);
    succeeded(&restore(&restored, &dir, false).await, "doudi restore");
    let db = restored.connect().await;
    assert_eq!(
        blob_rows(&db).await.keys().collect::<Vec<_>>(),
        vec![&photo]
    );
    assert!(
        blob_upload::Entity::find()
            .all(&db)
            .await
            .unwrap()
            .iter()
            .all(|u| u.sha256 == photo)
    );
    db.close().await.ok();
    // Its uploader is asked for it again.
    restored.start();
    let token = faults::access_token(&restored.base(), &phone.username, "测试电脑").await;
    let body = json!({ "sha256": [loose_sha, photo] });
    let missing = faults::post_json(
        &restored.base(),
        "/api/v1/blobs/missing",
        Some(&token),
        body,
    )
    .await;
    assert_eq!(missing["missing"], json!([loose_sha]), "{missing}");

    // A photo a document points at, gone before its copy: no backup, and nothing left behind.
    let photo_hash = Sha256Hex::parse(&photo).unwrap();
    std::fs::remove_file(store.path_of(&photo_hash)).unwrap();
    let dir = kept.path().join("second");
    refused(
        &backup(&source, &dir).await,
        "backup.blob_missing",
        "backup without a referenced blob",
    );
    assert!(!dir.exists(), "the abandoned backup was removed");
    let empty = kept.path().join("empty");
    std::fs::create_dir_all(&empty).unwrap();
    refused(
        &backup(&source, &empty).await,
        "backup.blob_missing",
        "backup without a referenced blob",
    );
    assert_eq!(std::fs::read_dir(&empty).unwrap().count(), 0);
}

// ---------------------------------------------------------------------------------------------
// Phones that synced after the backup (the restore epoch)

doudi_tests::both_backends!(
    work_synced_after_a_backup_comes_back_to_the_restored_server,
    a_restore_without_a_renewal_is_caught_by_the_cursors,
    a_phone_first_registered_after_a_backup_keeps_its_device_and_work,
    a_phone_signing_in_twice_at_once_after_a_restore_gets_its_device_both_times
);

/// One sync round trip as a phone's transport saw it: the request, the answer and their bodies.
#[derive(Debug, Clone)]
struct Round {
    req: SyncRequest,
    resp: SyncResponse,
    up: usize,
    down: usize,
}

/// The built-in transport, recording every sync round trip; it can lose the next answer that
/// says `repush` on the way back (the phone sees a dropped connection).
#[derive(Default)]
struct SyncLog {
    inner: BuiltinTransport,
    rounds: std::sync::Mutex<Vec<Round>>,
    lose_repush: AtomicBool,
    lost: std::sync::Mutex<Vec<Round>>,
}

impl Transport for SyncLog {
    fn send(&self, request: HttpRequest) -> Result<HttpResponse, TransportError> {
        let sync = request.url.ends_with("/api/v1/sync");
        let req = sync
            .then(|| from_cbor::<SyncRequest>(&request.body).ok())
            .flatten();
        let up = request.body.len();
        let resp = doudi_sdk::decoded(self.inner.send(request)?)?;
        if let Some(req) = req
            && resp.status == 200
        {
            let answer = from_cbor::<SyncResponse>(&resp.body).expect("a sync answer");
            let round = Round {
                req,
                resp: answer,
                up,
                down: resp.body.len(),
            };
            if round.resp.repush && self.lose_repush.swap(false, Ordering::SeqCst) {
                self.lost.lock().unwrap().push(round);
                return Err(TransportError::Network {
                    reason: "connection reset".into(),
                });
            }
            self.rounds.lock().unwrap().push(round);
        }
        Ok(resp)
    }
}

impl SyncLog {
    fn take(&self) -> Vec<Round> {
        std::mem::take(&mut *self.rounds.lock().unwrap())
    }
}

/// A phone of `username` (its password [`PASSWORD`]) on `serve`, with its sync recorded.
struct LoggedPhone {
    client: Arc<DoudiClient>,
    log: Arc<SyncLog>,
    _store: tempfile::TempDir,
}

impl LoggedPhone {
    async fn new(serve: &Serve, username: &str) -> LoggedPhone {
        let store = tempfile::tempdir().unwrap();
        let log = Arc::new(SyncLog::default());
        let client = DoudiClient::open(
            store.path().to_string_lossy().into_owned(),
            vec![0x42; 32],
            serve.base(),
            Some(log.clone()),
        )
        .unwrap();
        client
            .login(username.into(), PASSWORD.into(), "测试手机".into())
            .await
            .unwrap();
        LoggedPhone {
            client,
            log,
            _store: store,
        }
    }

    /// Sync until done: the rounds it took. Nothing may be refused.
    async fn sync(&self) -> Vec<Round> {
        self.log.take();
        let s = self.client.sync_now(None).await.expect("sync");
        assert!(s.rejected.is_empty(), "{:?}", s.rejected);
        self.log.take()
    }

    fn holds(&self, id: &str) -> bool {
        self.client.document_ids().iter().any(|(d, _)| d == id)
    }

    fn heads(&self, id: &str) -> Vec<ChangeHash> {
        let bytes = self.client.document_bytes(id).unwrap().expect("held");
        Automerge::load(&bytes).unwrap().get_heads()
    }
}

/// The bytes CBOR takes for the unsigned `n`.
fn uint_len(n: u64) -> usize {
    match n {
        0..24 => 1,
        24..256 => 2,
        256..65_536 => 3,
        65_536..4_294_967_296 => 5,
        _ => 9,
    }
}

/// An idle sync's request and answer bodies, less what their cursor takes.
fn idle_bytes(rounds: &[Round]) -> (usize, usize) {
    assert_eq!(
        rounds.len(),
        1,
        "an idle sync is one round trip: {rounds:?}"
    );
    let r = &rounds[0];
    assert!(r.req.push.is_empty() && r.resp.updates.is_empty(), "{r:?}");
    (
        r.up - uint_len(r.req.cursor),
        r.down - uint_len(r.resp.cursor),
    )
}

/// A server (SQLite, or a new PostgreSQL database) with grid workers `usernames` of grid A,
/// started: its database URL, the server and its sync epoch.
async fn grid_workers_on(b: Backend, usernames: &[&str]) -> (Option<String>, Serve, u64) {
    let url = match b {
        Backend::Sqlite => None,
        Backend::Postgres => Some(doudi_tests::fresh_pg_database().await),
    };
    let mut serve = Serve::new(url.clone()).await;
    let db = serve.connect().await;
    for username in usernames {
        accounts::create(
            &db,
            NewAccount {
                username: username.to_string(),
                display_name: username.to_string(),
                role: Role::GridWorker,
                password: PASSWORD.into(),
                region_codes: vec![GRID_A.into()],
            },
        )
        .await
        .unwrap_or_else(|e| panic!("{username}: {:?}", e.body().message_en));
    }
    let epoch0 = Epoch::load(&db).await.unwrap().current;
    db.close().await.ok();
    serve.start();
    (url, serve, epoch0)
}

/// A household registered on `phone` in grid A, its head 户主N at 一村 N 号.
fn household(phone: &LoggedPhone, n: u32) -> String {
    phone
        .client
        .create_household(
            Some(GRID_A.into()),
            format!("一村 {n} 号"),
            format!("户主{n}"),
            None,
        )
        .unwrap()
}

/// Back up `serve`'s database into `kept`: `doudi backup` (SQLite), or a `pg_dump` taken while
/// the server runs (PostgreSQL at `url`).
async fn take_backup(serve: &Serve, url: Option<&str>, kept: &Path) {
    match url {
        None => succeeded(&backup(serve, &kept.join("backup")).await, "doudi backup"),
        Some(url) => {
            let mut c = Command::new("pg_dump");
            c.args(["--format=custom", "--file"])
                .arg(kept.join("doudi.dump"))
                .arg(url);
            tokio::task::spawn_blocking(move || run_ok(c, "pg_dump"))
                .await
                .unwrap();
        }
    }
}

/// Put the backup of [`take_backup`] back in place of the stopped server's database. With
/// `renew`, as the operations guide says: `doudi restore` (SQLite), or the dump loaded into the
/// emptied database and then `doudi epoch renew`, as after a point-in-time recovery
/// (PostgreSQL). Without it, as an operator who skips the guide would: the backup's database
/// file copied over the data directory's, or the dump loaded and nothing else.
async fn restore_in_place(serve: &Serve, url: Option<&str>, kept: &Path, renew: bool) {
    match url {
        None if renew => succeeded(
            &restore(serve, &kept.join("backup"), true).await,
            "doudi restore --force",
        ),
        None => {
            let (file, _) = data(serve);
            for stale in ["-wal", "-shm", "-journal"] {
                let _ = std::fs::remove_file(format!("{}{stale}", file.display()));
            }
            std::fs::copy(kept.join("backup").join(SQLITE_FILE), &file).unwrap();
        }
        Some(url) => {
            let name = url.rsplit('/').next().unwrap().split('?').next().unwrap();
            let admin = pg_admin().await;
            admin
                .execute_unprepared(&format!("DROP DATABASE {name} WITH (FORCE)"))
                .await
                .unwrap();
            admin
                .execute_unprepared(&format!("CREATE DATABASE {name}"))
                .await
                .unwrap();
            admin.close().await.ok();
            let mut c = Command::new("pg_restore");
            c.args(["--no-owner", "--exit-on-error", "--dbname"])
                .arg(url)
                .arg(kept.join("doudi.dump"));
            tokio::task::spawn_blocking(move || run_ok(c, "pg_restore"))
                .await
                .unwrap();
            if renew {
                let renewed = doudi(serve, &["epoch".as_ref(), "renew".as_ref()], &[]).await;
                succeeded(&renewed, "doudi epoch renew");
            }
        }
    }
}

/// The database is put back to a backup by hand and the epoch is not renewed (`doudi restore`
/// bypassed, `doudi epoch renew` forgotten after a recovery). A phone that synced after the
/// backup holds a cursor beyond the restored feed: it is answered as after a renewal, pulls
/// from 0 and pushes its work again; a phone that synced only before syncs on as before.
async fn a_restore_without_a_renewal_is_caught_by_the_cursors(b: Backend) {
    let (url, mut serve, epoch0) = grid_workers_on(b, &["after.p", "before.r"]).await;
    let p = LoggedPhone::new(&serve, "after.p").await;
    let r = LoggedPhone::new(&serve, "before.r").await;
    let h1 = household(&p, 1);
    p.sync().await;
    r.sync().await;
    let r_idle = idle_bytes(&r.sync().await);

    let kept = tempfile::tempdir().unwrap();
    take_backup(&serve, url.as_deref(), kept.path()).await;
    // After the backup P registers two households, and its cursor passes the backup's feed.
    let h2 = household(&p, 2);
    let h3 = household(&p, 3);
    p.sync().await;
    let (p_cursor, _) = p.client.sync_position().unwrap();

    serve.kill();
    restore_in_place(&serve, url.as_deref(), kept.path(), false).await;
    let db = serve.connect().await;
    assert_eq!(
        Epoch::load(&db).await.unwrap().current,
        epoch0,
        "nothing renewed the epoch"
    );
    assert!(p_cursor > feed_end(&db).await);
    assert_eq!(server_heads(&db, &h2).await, None);
    serve.start();

    // R is within the restored feed: one idle round trip, as before.
    assert_eq!(idle_bytes(&r.sync().await), r_idle);
    let rounds = p.sync().await;
    assert!(rounds[0].resp.repush, "{:?}", rounds[0]);
    assert!(rounds[0].resp.results.is_empty() && rounds[0].resp.cursor == 0);
    assert_eq!(rounds[0].resp.epoch, None, "the epoch is the one P holds");
    for h in [&h1, &h2, &h3] {
        assert_eq!(server_heads(&db, h).await, Some(p.heads(h)), "{h}");
    }
    r.sync().await;
    assert!(r.holds(&h2) && r.holds(&h3));
    assert_eq!(p.client.pending_changes().unwrap(), 0);
    db.close().await.ok();
}

async fn feed_end(db: &DatabaseConnection) -> u64 {
    let row = db
        .query_one_raw(sea_orm::Statement::from_string(
            db.get_database_backend(),
            "SELECT seq FROM sync_feed WHERE id = 1",
        ))
        .await
        .unwrap()
        .unwrap();
    row.try_get_by_index::<i64>(0).unwrap() as u64
}

/// The server's heads of a document (`None`: it does not have it).
async fn server_heads(db: &DatabaseConnection, id: &str) -> Option<Vec<ChangeHash>> {
    stored::documents(db)
        .await
        .get(id)
        .map(|d| Automerge::load(&d.snapshot).unwrap().get_heads())
}

/// A connection to the test PostgreSQL server's administrative database.
async fn pg_admin() -> DatabaseConnection {
    let url = std::env::var("DOUDI_TEST_PG_URL").expect("DOUDI_TEST_PG_URL");
    sea_orm::Database::connect(url.as_str()).await.unwrap()
}

fn run_ok(mut c: Command, what: &str) {
    let out = c.output().unwrap_or_else(|e| panic!("{what}: {e}"));
    assert!(
        out.status.success(),
        "{what} failed:\n{}\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

/// A phone synced with the server after a backup was taken: a household it registered, an edit
/// of one that was there before. Another phone's edit reached the server (and the first phone)
/// after the backup too. The server is restored from the backup (SQLite: `doudi backup` and
/// `doudi restore`; PostgreSQL: a dump taken while the server runs, loaded into the emptied
/// database, then `doudi epoch renew`, as after a point-in-time recovery) and started on the same
/// address. At their next sync the phones that synced after the backup are told so and push
/// everything of their own again, so the restored server gets their work back; their cursors
/// restart in the restored feed, so they also get what the restored server numbered below their
/// old cursor. A phone that synced only before the backup syncs on as before, told the new epoch
/// once; idle syncs cost what they cost before.
async fn work_synced_after_a_backup_comes_back_to_the_restored_server(b: Backend) {
    let (url, mut serve, epoch0) = grid_workers_on(b, &["after.p", "other.q", "before.r"]).await;
    let p = LoggedPhone::new(&serve, "after.p").await;
    let q = LoggedPhone::new(&serve, "other.q").await;
    let r = LoggedPhone::new(&serve, "before.r").await;

    // Before the backup: households of P and Q, which every phone receives.
    let h1 = household(&p, 1);
    let h0 = household(&q, 2);
    // A first sync names no epoch and is told it.
    let first = p.sync().await;
    assert_eq!(first[0].req.epoch, None);
    assert_eq!(first[0].resp.epoch, Some(epoch0));
    q.sync().await;
    r.sync().await;
    p.sync().await;
    assert!(p.holds(&h0) && r.holds(&h0) && r.holds(&h1));
    let p_idle_before = idle_bytes(&p.sync().await);
    let r_idle = r.sync().await;
    assert_eq!(r_idle[0].req.epoch, Some(epoch0));
    assert_eq!(r_idle[0].resp.epoch, None, "the epoch travels once");
    let r_idle_before = idle_bytes(&r_idle);

    // The backup.
    let kept = tempfile::tempdir().unwrap();
    take_backup(&serve, url.as_deref(), kept.path()).await;

    // After it: P registers a household, edits one of before and photographs it in a visit; Q
    // edits its own, and P receives that edit.
    let h2 = household(&p, 3);
    p.client
        .set_hukou_type(h1.clone(), Some(HukouType::Rural))
        .unwrap();
    let visit = p
        .client
        .start_visit(h1.clone(), VisitPurpose::CareVisit)
        .unwrap();
    let photo = p
        .client
        .attach_photo(
            visit.clone(),
            tiny_png(7),
            PhotoCategory::DwellingInside,
            Some("屋内".into()),
            1_763_800_000_000,
            None,
            None,
        )
        .unwrap();
    q.client
        .set_hukou_type(h0.clone(), Some(HukouType::Urban))
        .unwrap();
    p.sync().await;
    q.sync().await;
    p.sync().await;
    let (p_cursor_then, _) = p.client.sync_position().unwrap();
    let q_h0 = q.heads(&h0);
    assert_eq!(p.heads(&h0), q_h0, "P holds Q's edit");

    // Stopped and restored in place; started again on the same address.
    serve.kill();
    restore_in_place(&serve, url.as_deref(), kept.path(), true).await;
    let db = serve.connect().await;
    let epoch = Epoch::load(&db).await.unwrap();
    assert_ne!(
        epoch.current, epoch0,
        "a restored database has another epoch"
    );
    assert_eq!(epoch.previous, Some(epoch0));
    let restored_end = feed_end(&db).await;
    assert_eq!(epoch.restored_seq, restored_end);
    assert!(
        p_cursor_then > restored_end,
        "P's cursor {p_cursor_then} lies beyond the restored feed ({restored_end})"
    );
    assert_eq!(
        server_heads(&db, &h2).await,
        None,
        "the restore lost P's household"
    );
    assert_eq!(server_heads(&db, &visit).await, None);
    assert!(!blob_rows(&db).await.contains_key(&photo));
    assert_ne!(server_heads(&db, &h1).await.unwrap(), p.heads(&h1));
    serve.start();

    // R synced only before the backup: it syncs on from its cursor and is told the new epoch,
    // once; nothing is pushed or pulled again.
    let rounds = r.sync().await;
    assert_eq!(rounds.len(), 1, "{rounds:?}");
    let round = &rounds[0];
    assert_eq!(round.req.epoch, Some(epoch0));
    assert_eq!(round.resp.epoch, Some(epoch.current));
    assert!(!round.resp.repush && round.resp.grids.is_none() && round.resp.updates.is_empty());
    let epoch_field = 1 + "epoch".len() + uint_len(epoch.current);
    let (up, down) = idle_bytes(&rounds);
    assert_eq!((up, down), (r_idle_before.0, r_idle_before.1 + epoch_field));
    assert_eq!(r.client.sync_position().unwrap().1, Some(epoch.current));
    // R writes to the restored server: its household takes a number of the feed that P's old
    // cursor already lies beyond.
    let n1 = household(&r, 4);
    r.sync().await;
    let n1_seq = stored::documents(&db).await[&n1].seq as u64;
    assert!(n1_seq <= p_cursor_then, "{n1_seq} ≤ {p_cursor_then}");

    // P synced after the backup: told to push again, it does; it pulls the restored feed from 0.
    // The first such answer is lost on the way: P still holds the old epoch, asks again and is
    // told again.
    p.log.lose_repush.store(true, Ordering::SeqCst);
    let rounds = p.sync().await;
    let lost = p.log.lost.lock().unwrap().clone();
    assert_eq!(lost.len(), 1);
    assert_eq!(lost[0].req.epoch, Some(epoch0));
    let told = &rounds[0];
    assert_eq!(told.req.epoch, Some(epoch0));
    assert!(told.resp.repush, "{told:?}");
    assert_eq!(told.resp.epoch, Some(epoch.current));
    assert!(
        told.resp.results.is_empty(),
        "nothing pushed with a stale epoch is stored"
    );
    assert!(told.resp.grids.is_some() && told.resp.cursor == 0 && told.resp.more);
    let pushed: BTreeSet<&str> = rounds[1..]
        .iter()
        .flat_map(|r| r.req.push.iter().map(|d| d.doc.as_str()))
        .collect();
    assert!(
        pushed.contains(h1.as_str())
            && pushed.contains(h2.as_str())
            && pushed.contains(visit.as_str()),
        "{pushed:?}"
    );
    for later in &rounds[1..] {
        assert_eq!(later.req.epoch, Some(epoch.current));
        assert!(
            !later.resp.repush && later.resp.epoch.is_none(),
            "{later:?}"
        );
    }
    // The restored server holds P's household and its edit, as P holds them.
    assert_eq!(server_heads(&db, &h2).await, Some(p.heads(&h2)));
    assert_eq!(server_heads(&db, &h1).await, Some(p.heads(&h1)));
    assert_eq!(server_heads(&db, &visit).await, Some(p.heads(&visit)));
    assert!(
        blob_rows(&db).await.contains_key(&photo),
        "the photo uploaded again"
    );
    let hh = p.client.household(h1.clone()).unwrap();
    assert_eq!(hh.hukou_type.as_deref(), Some("农村"), "{hh:?}");
    // P got what the restored server numbered below its old cursor, and its cursor is one of
    // the restored feed, past its own writes.
    assert!(p.holds(&n1));
    let (cursor, held_epoch) = p.client.sync_position().unwrap();
    assert_eq!(held_epoch, Some(epoch.current));
    let docs = stored::documents(&db).await;
    assert!(
        cursor <= feed_end(&db).await && cursor >= docs[&h2].seq as u64,
        "cursor {cursor}"
    );
    assert_eq!(
        p.client.pending_changes().unwrap(),
        1,
        "Q's edit of {h0}, Q's to push"
    );

    // Q pushes its edit again; it and a later write reach P.
    let rounds = q.sync().await;
    assert!(rounds[0].resp.repush);
    assert_eq!(server_heads(&db, &h0).await, Some(q_h0.clone()));
    let n2 = household(&r, 5);
    r.sync().await;
    p.sync().await;
    assert!(p.holds(&n2));
    assert_eq!(p.heads(&h0), q_h0);
    assert_eq!(server_heads(&db, &n2).await, Some(p.heads(&n2)));
    assert_eq!(p.client.pending_changes().unwrap(), 0);

    // Idle syncs cost what they cost before the restore.
    assert_eq!(idle_bytes(&p.sync().await), p_idle_before);
    assert_eq!(idle_bytes(&r.sync().await), r_idle_before);
    db.close().await.ok();
}

/// A phone signed in for the first time after the backup was taken: the restored server has no
/// record of its device. Its session is refused, its user signs in again, and the server
/// recognises the device id as one it issued to that account (the id carries a MAC of itself and
/// the account under the server's token key): the phone keeps its device id, so the work it
/// synced after the backup and the work it never pushed both reach the restored server. Another
/// account naming that id at its login gets a device of its own.
async fn a_phone_first_registered_after_a_backup_keeps_its_device_and_work(b: Backend) {
    let (url, mut serve, _) = grid_workers_on(b, &["early.e", "late.l"]).await;
    let e = LoggedPhone::new(&serve, "early.e").await;
    let h0 = household(&e, 1);
    e.sync().await;
    let kept = tempfile::tempdir().unwrap();
    take_backup(&serve, url.as_deref(), kept.path()).await;

    // After the backup: L's phone is registered, syncs a household, and records another offline.
    let l = LoggedPhone::new(&serve, "late.l").await;
    let device = l.client.account().unwrap().expect("signed in").device_id;
    let h1 = household(&l, 2);
    l.sync().await;
    assert!(l.holds(&h0));
    let h2 = household(&l, 3);
    assert_eq!(l.client.pending_changes().unwrap(), 1);

    serve.kill();
    restore_in_place(&serve, url.as_deref(), kept.path(), true).await;
    serve.start();
    let db = serve.connect().await;
    assert_eq!(
        server_heads(&db, &h1).await,
        None,
        "the restore lost L's household"
    );

    // L's session is unknown to the restored server: its user signs in again.
    assert!(
        l.client.sync_now(None).await.is_err(),
        "the old session is refused"
    );
    let again = l
        .client
        .login("late.l".into(), PASSWORD.into(), "测试手机".into())
        .await
        .unwrap();
    assert_eq!(again.device_id, device, "the phone keeps its device id");
    let logins = audit_log::Entity::find()
        .filter(audit_log::Column::DeviceId.eq(device.as_str()))
        .filter(audit_log::Column::Action.eq("auth.login"))
        .all(&db)
        .await
        .unwrap();
    assert_eq!(logins.len(), 1, "the restored log knows only the new login");
    assert!(
        logins[0]
            .detail
            .as_deref()
            .is_some_and(|d| d.contains("registered again")),
        "{logins:?}"
    );
    l.sync().await;
    assert_eq!(server_heads(&db, &h1).await, Some(l.heads(&h1)));
    assert_eq!(server_heads(&db, &h2).await, Some(l.heads(&h2)));
    assert_eq!(l.client.pending_changes().unwrap(), 0);

    // The id proves nothing for another account: E's login naming it gets another device.
    let other = login_naming(&serve, "early.e", &device).await;
    assert_ne!(other, device);
    // Nor does a made-up id that the server never issued.
    let made_up = format!("{}{}", &device[..16], "0".repeat(16));
    assert_ne!(login_naming(&serve, "late.l", &made_up).await, made_up);
    db.close().await.ok();
}

/// A phone's two logins at once after a restore lost its device: both name the id the server
/// issued it, neither finds it, both register it. Here the other login is the test's own
/// transaction, which registers the device and holds it uncommitted until this login waits to
/// insert the same id. When it commits, this login signs in the device it registered instead of
/// failing.
async fn a_phone_signing_in_twice_at_once_after_a_restore_gets_its_device_both_times(b: Backend) {
    let (_url, serve, _) = grid_workers_on(b, &["late.l"]).await;
    let (status, first) = login_answer(serve.base(), "late.l", None).await;
    assert_eq!(status, 200, "{first}");
    let id = first["device_id"]
        .as_str()
        .expect("a device id")
        .to_string();
    let db = serve.connect().await;
    let registered = device::Entity::find_by_id(id.as_str())
        .one(&db)
        .await
        .unwrap()
        .expect("registered");
    // What a restore from a backup taken before the phone was registered leaves.
    refresh_token::Entity::delete_many()
        .filter(refresh_token::Column::DeviceId.eq(id.as_str()))
        .exec(&db)
        .await
        .unwrap();
    device::Entity::delete_by_id(id.as_str())
        .exec(&db)
        .await
        .unwrap();

    let other = db.begin().await.unwrap();
    device::ActiveModel::from(registered)
        .reset_all()
        .insert(&other)
        .await
        .unwrap();
    let login = tokio::spawn(login_answer(serve.base(), "late.l", Some(id.clone())));
    match b {
        Backend::Postgres => {
            let waiting = Statement::from_string(
                DbBackend::Postgres,
                "SELECT count(*) AS n FROM pg_stat_activity \
                 WHERE wait_event_type = 'Lock' AND query LIKE 'INSERT INTO \"devices\"%'",
            );
            let mut waited = Duration::ZERO;
            loop {
                let row = db.query_one_raw(waiting.clone()).await.unwrap().unwrap();
                if row.try_get::<i64>("", "n").unwrap() > 0 {
                    break;
                }
                assert!(!login.is_finished(), "the login did not wait for the other");
                assert!(
                    waited < Duration::from_secs(20),
                    "the login never inserted its device"
                );
                tokio::time::sleep(Duration::from_millis(20)).await;
                waited += Duration::from_millis(20);
            }
        }
        // SQLite does not say who waits for its write lock: give the login time to reach its
        // insert, which then waits for the lock (up to the busy timeout, 10 s).
        Backend::Sqlite => {
            tokio::time::sleep(Duration::from_secs(2)).await;
            assert!(!login.is_finished(), "the login did not wait for the other");
        }
    }
    other.commit().await.unwrap();
    let (status, second) = login.await.unwrap();
    assert_eq!(status, 200, "{second}");
    assert_eq!(second["device_id"].as_str(), Some(id.as_str()));
    let devices = device::Entity::find()
        .filter(device::Column::AccountId.eq(first["account"]["id"].as_str().unwrap()))
        .all(&db)
        .await
        .unwrap();
    assert_eq!(devices.len(), 1, "{devices:?}");
    db.close().await.ok();
}

/// The status and JSON body of a password login of `username` at `base`, naming device `id`.
async fn login_answer(
    base: String,
    username: &str,
    id: Option<String>,
) -> (u16, serde_json::Value) {
    let login = json!({
        "username": username,
        "password": PASSWORD,
        "device": { "id": id, "name": "测试手机", "platform": "android" },
    });
    let r = reqwest::Client::new()
        .post(format!("{base}/api/v1/auth/login"))
        .json(&login)
        .send()
        .await
        .unwrap();
    (r.status().as_u16(), r.json().await.unwrap())
}

/// The device id the server answers a password login of `username` naming device `id` with.
async fn login_naming(serve: &Serve, username: &str, id: &str) -> String {
    let (_, answer) = login_answer(serve.base(), username, Some(id.to_string())).await;
    answer["device_id"]
        .as_str()
        .expect("a device id")
        .to_string()
}
