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
use doudi_server::backup::{MANIFEST_FILE, Manifest};
use doudi_server::blobs::Sha256Hex;
use doudi_server::blobs::store::LocalStore;
use doudi_server::config::SQLITE_FILE;
use doudi_server::entity::{blob, blob_ref, blob_upload, doc_change};
use doudi_tests::blobs::{sha, tiny_png};
use doudi_tests::faults::{self, Fleet, GRID_A, Serve};
use doudi_tests::{PASSWORD, stored};
use sea_orm::{DatabaseConnection, EntityTrait, QueryOrder};
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
