//! `doudi backup DIR` and `doudi restore DIR`: backups of the embedded default (the SQLite
//! database and the local blob store) that restore (docs/OPERATIONS.md, "Backup and restore").
//!
//! A backup is the database first, then the blobs. The database is copied with SQLite's online
//! backup API while the server runs: one read transaction, so the copy is the database as of one
//! commit, and the server's writes go on beside it (WAL). Then every blob that copy lists
//! (`blobs`) is hard-linked (or, across file systems, copied) from the blob store and hashed
//! again against its name. A blob stored after the database was copied is not in the copy and is
//! left out. A listed blob gone from the store meanwhile is an error when a document of the copy
//! points at it (`blob_refs`); otherwise (blob gc removed an unreferenced blob) it is left out
//! and its rows are removed from the copy, so that the restored database lists exactly the blobs
//! the restored store holds. `MANIFEST.json`, written last, marks the backup complete.
//!
//! A restore checks the whole backup (the manifest, the database's hash and integrity, every
//! blob's content against its name, every listed blob present) before it touches the data
//! directory, puts the blobs in place, then the database by an atomic rename. The server must be
//! stopped (one that has the database open is refused). An existing database is only replaced with `--force`, and then moved aside, never
//! deleted.
//!
//! PostgreSQL and S3 deployments are backed up with their own tools (docs/OPERATIONS.md); both
//! commands refuse them.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use rusqlite::backup::{Backup, StepResult};
use rusqlite::{Connection, OpenFlags};
use serde::{Deserialize, Serialize};

use crate::auth::{new_id, now_ms};
use crate::blobs::Sha256Hex;
use crate::blobs::store::{LocalStore, sync_dir};
use crate::config::{BlobStoreKind, SQLITE_FILE, Settings};
use crate::db::{self, SQLITE_BUSY_TIMEOUT};

/// The manifest's file name in a backup directory.
pub const MANIFEST_FILE: &str = "MANIFEST.json";

/// The format of the backups this version writes and restores.
pub const FORMAT_VERSION: u32 = 1;

/// The blob store's directory in a backup (laid out as the data directory's).
const BLOB_DIR: &str = "blobs";

/// What a backup holds; `MANIFEST.json`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Manifest {
    /// [`FORMAT_VERSION`] of the writer.
    pub format: u32,
    /// When the backup was started (unix milliseconds); the database is as of a moment after.
    pub created_at_ms: i64,
    /// The version of `doudi` that wrote it.
    pub doudi_version: String,
    pub database: DatabaseCopy,
    pub blobs: BlobCopies,
}

/// The database file of a backup.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DatabaseCopy {
    /// The file name inside the backup directory.
    pub file: String,
    pub bytes: u64,
    /// SHA-256 of the file, hex.
    pub sha256: String,
    /// The last position of the sync feed in the copy: phones whose cursor is beyond it synced
    /// after the backup (docs/OPERATIONS.md).
    pub feed_seq: i64,
}

/// The blobs of a backup.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BlobCopies {
    pub count: u64,
    pub bytes: u64,
    /// Blobs the copied database listed that no document of it pointed at and that were gone
    /// from the store when their turn came (removed by blob gc): left out, rows included.
    pub left_out: Vec<String>,
}

/// Why a backup or a restore was refused or failed: a stable code, Chinese first, English.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BackupError {
    pub code: &'static str,
    pub message: String,
    pub message_en: String,
}

impl std::fmt::Display for BackupError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}: {} ({})", self.code, self.message, self.message_en)
    }
}

impl std::error::Error for BackupError {}

fn refuse(code: &'static str, message: String, message_en: String) -> BackupError {
    BackupError {
        code,
        message,
        message_en,
    }
}

fn io_error(path: &Path, e: std::io::Error) -> BackupError {
    let p = path.display();
    refuse(
        "backup.io",
        format!("读写 {p} 失败：{e}"),
        format!("cannot read or write {p}: {e}"),
    )
}

fn sqlite_error(path: &Path, e: rusqlite::Error) -> BackupError {
    let p = path.display();
    refuse(
        "backup.database",
        format!("数据库 {p} 出错：{e}"),
        format!("database {p}: {e}"),
    )
}

/// The embedded database file and the local blob store of `settings`, or why neither command
/// can take them.
fn embedded(settings: &Settings) -> Result<(PathBuf, LocalStore), BackupError> {
    let url = settings.database_url();
    if db::backend_name(&url) == "postgresql" {
        return Err(refuse(
            "backup.postgres",
            "数据库为 PostgreSQL：请用 pg_basebackup 和 WAL 归档备份（见 docs/OPERATIONS.md「Backup and restore」）".into(),
            "the database is PostgreSQL: back it up with pg_basebackup and WAL archiving (docs/OPERATIONS.md, \"Backup and restore\")".into(),
        ));
    }
    if settings.blobs.store == BlobStoreKind::S3 {
        return Err(refuse(
            "backup.s3_store",
            "照片存放在 S3 对象存储：请按 docs/OPERATIONS.md「Backup and restore」备份存储桶".into(),
            "blobs are in S3 object storage: back up the bucket as docs/OPERATIONS.md, \"Backup and restore\", describes".into(),
        ));
    }
    let Some(file) = db::sqlite_file(&url) else {
        return Err(refuse(
            "backup.no_database_file",
            "数据库不在文件中（内存数据库），无法备份或恢复".into(),
            "the database is not a file (in memory): nothing to back up or restore".into(),
        ));
    };
    Ok((file, LocalStore::new(settings.blob_dir())))
}

// ---------------------------------------------------------------------------------------------
// Backup

/// Back up the embedded database and the local blob store of `settings` into `dir`, which must
/// not exist or be empty. Safe while the server runs. On failure, what was written into `dir`
/// is removed again.
pub fn backup(settings: &Settings, dir: &Path) -> Result<Manifest, BackupError> {
    let (source, store) = embedded(settings)?;
    if !source.is_file() {
        let p = source.display();
        return Err(refuse(
            "backup.no_database",
            format!("没有数据库 {p}：数据目录是否正确？"),
            format!("no database at {p}: is the data directory right?"),
        ));
    }
    let created = empty_dir(dir)?;
    let written = write_backup(&source, &store, dir);
    if written.is_err() {
        remove_partial(dir, created);
    }
    written
}

/// Check that `dir` is absent (then create it: `true`) or an empty directory (`false`).
fn empty_dir(dir: &Path) -> Result<bool, BackupError> {
    let not_empty = || {
        let d = dir.display();
        refuse(
            "backup.dir_not_empty",
            format!("{d} 已存在且不是空目录：请指定新的或空的备份目录"),
            format!(
                "{d} exists and is not an empty directory: name a new or empty backup directory"
            ),
        )
    };
    if dir.exists() && !dir.is_dir() {
        return Err(not_empty());
    }
    match std::fs::read_dir(dir) {
        Ok(mut entries) => match entries.next() {
            Some(_) => Err(not_empty()),
            None => Ok(false),
        },
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            // Readable by its owner only: a backup holds the case records.
            let mut builder = std::fs::DirBuilder::new();
            builder.recursive(true);
            #[cfg(unix)]
            std::os::unix::fs::DirBuilderExt::mode(&mut builder, 0o700);
            builder.create(dir).map_err(|e| io_error(dir, e))?;
            Ok(true)
        }
        Err(e) => Err(io_error(dir, e)),
    }
}

/// Remove what a failed backup wrote into `dir` (which was empty or absent before).
fn remove_partial(dir: &Path, created: bool) {
    let removed = if created {
        std::fs::remove_dir_all(dir)
    } else {
        let names = [
            SQLITE_FILE.to_string(),
            format!("{SQLITE_FILE}-journal"),
            BLOB_DIR.to_string(),
            MANIFEST_FILE.to_string(),
            manifest_tmp(),
        ];
        names.iter().map(|n| dir.join(n)).try_for_each(|p| {
            if p.is_dir() {
                std::fs::remove_dir_all(&p)
            } else if p.exists() {
                std::fs::remove_file(&p)
            } else {
                Ok(())
            }
        })
    };
    if let Err(e) = removed {
        tracing::warn!(error = %e, dir = %dir.display(), "cannot remove a partial backup");
    }
}

fn write_backup(source: &Path, store: &LocalStore, dir: &Path) -> Result<Manifest, BackupError> {
    let created_at_ms = now_ms();
    let copy = dir.join(SQLITE_FILE);
    copy_database(source, &copy)?;
    let (blobs, feed_seq) = copy_blobs(&copy, store, &LocalStore::new(dir.join(BLOB_DIR)))?;
    let (bytes, sha256) = hash_file(&copy)?;
    let manifest = Manifest {
        format: FORMAT_VERSION,
        created_at_ms,
        doudi_version: env!("CARGO_PKG_VERSION").to_string(),
        database: DatabaseCopy {
            file: SQLITE_FILE.to_string(),
            bytes,
            sha256,
            feed_seq,
        },
        blobs,
    };
    write_manifest(dir, &manifest)?;
    Ok(manifest)
}

/// Copy the database with SQLite's online backup API, in one step: one read transaction, so the
/// copy is the database as of one commit while the server's writes go on (WAL). Copying in
/// smaller steps would start again after every write of the running server and never finish
/// under a steady ingest. The copy is left in rollback-journal mode: one self-contained file
/// (the server turns WAL on again when it opens it).
fn copy_database(source: &Path, dest: &Path) -> Result<(), BackupError> {
    let src = Connection::open_with_flags(
        source,
        OpenFlags::SQLITE_OPEN_READ_WRITE | OpenFlags::SQLITE_OPEN_NO_MUTEX,
    )
    .map_err(|e| sqlite_error(source, e))?;
    src.busy_timeout(SQLITE_BUSY_TIMEOUT)
        .map_err(|e| sqlite_error(source, e))?;
    let mut dst = Connection::open(dest).map_err(|e| sqlite_error(dest, e))?;
    {
        let backup = Backup::new(&src, &mut dst).map_err(|e| sqlite_error(dest, e))?;
        let deadline = Instant::now() + SQLITE_BUSY_TIMEOUT;
        loop {
            match backup.step(-1).map_err(|e| sqlite_error(source, e))? {
                StepResult::Done => break,
                StepResult::More => {}
                StepResult::Busy | StepResult::Locked if Instant::now() < deadline => {
                    std::thread::sleep(Duration::from_millis(50));
                }
                _ => {
                    let p = source.display();
                    return Err(refuse(
                        "backup.database_busy",
                        format!("数据库 {p} 一直被锁定，无法复制"),
                        format!("the database {p} stayed locked; it could not be copied"),
                    ));
                }
            }
        }
    }
    dst.execute_batch("PRAGMA journal_mode = DELETE")
        .map_err(|e| sqlite_error(dest, e))?;
    Ok(())
}

/// Copy (hard-link where possible) every blob the copied database at `copy` lists from `from`
/// into `to`, each hashed again; drop the rows of the unreferenced ones gone from the store.
/// Returns the blobs' figures and the feed position of the copy.
fn copy_blobs(
    copy: &Path,
    from: &LocalStore,
    to: &LocalStore,
) -> Result<(BlobCopies, i64), BackupError> {
    let db_err = |e| sqlite_error(copy, e);
    let mut conn = Connection::open(copy).map_err(db_err)?;
    let feed_seq: i64 = conn
        .query_row("SELECT seq FROM sync_feed WHERE id = 1", [], |r| r.get(0))
        .map_err(db_err)?;
    let listed: Vec<(String, i64, bool)> = conn
        .prepare(
            "SELECT b.sha256, b.size, EXISTS (SELECT 1 FROM blob_refs r WHERE r.sha256 = b.sha256) \
             FROM blobs b ORDER BY b.sha256",
        )
        .and_then(|mut st| {
            st.query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))?
                .collect()
        })
        .map_err(db_err)?;
    let mut out = BlobCopies {
        count: 0,
        bytes: 0,
        left_out: Vec::new(),
    };
    for (name, size, referenced) in listed {
        let sha = Sha256Hex::parse(&name).ok_or_else(|| {
            refuse(
                "backup.blob_mismatch",
                format!("数据库列出的照片名 {name} 不是 SHA-256"),
                format!("the database lists a blob named {name}, not a SHA-256"),
            )
        })?;
        match link_or_copy(from, to, &sha) {
            Ok(()) => {}
            Err(e) if e.kind() == std::io::ErrorKind::NotFound && !referenced => {
                out.left_out.push(name);
                continue;
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                return Err(refuse(
                    "backup.blob_missing",
                    format!("照片 {name} 被文档引用，但存储中没有：备份不完整，已放弃"),
                    format!(
                        "blob {name} is referenced by a document but missing from the store: \
                         the backup would be incomplete and was abandoned"
                    ),
                ));
            }
            Err(e) => return Err(io_error(&from.path_of(&sha), e)),
        }
        let path = to.path_of(&sha);
        let bytes = std::fs::read(&path).map_err(|e| io_error(&path, e))?;
        if Sha256Hex::of(&bytes) != sha || i64::try_from(bytes.len()) != Ok(size) {
            return Err(refuse(
                "backup.blob_mismatch",
                format!("存储中的照片 {name} 与其哈希不符（已损坏）：备份已放弃"),
                format!(
                    "the stored blob {name} does not match its hash (damaged): the backup was abandoned"
                ),
            ));
        }
        out.count += 1;
        out.bytes += bytes.len() as u64;
    }
    if !out.left_out.is_empty() {
        let tx = conn.transaction().map_err(db_err)?;
        for name in &out.left_out {
            tx.execute("DELETE FROM blob_uploads WHERE sha256 = ?1", [name])
                .map_err(db_err)?;
            tx.execute("DELETE FROM blobs WHERE sha256 = ?1", [name])
                .map_err(db_err)?;
        }
        tx.commit().map_err(db_err)?;
    }
    Ok((out, feed_seq))
}

/// Put blob `sha` of `from` into `to`: a hard link, else (another file system) a copy.
fn link_or_copy(from: &LocalStore, to: &LocalStore, sha: &Sha256Hex) -> std::io::Result<()> {
    let (src, dest) = (from.path_of(sha), to.path_of(sha));
    if let Some(dir) = dest.parent() {
        std::fs::create_dir_all(dir)?;
    }
    match std::fs::hard_link(&src, &dest) {
        Ok(()) => Ok(()),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Err(e),
        Err(_) => to.write_atomically(sha, |f| {
            std::io::copy(&mut std::fs::File::open(&src)?, f).map(drop)
        }),
    }
}

/// Size and SHA-256 (hex) of a file.
fn hash_file(path: &Path) -> Result<(u64, String), BackupError> {
    use sha2::Digest;
    let mut file = std::fs::File::open(path).map_err(|e| io_error(path, e))?;
    let mut hasher = sha2::Sha256::new();
    let bytes = std::io::copy(&mut file, &mut hasher).map_err(|e| io_error(path, e))?;
    Ok((bytes, hex::encode(hasher.finalize())))
}

/// The manifest's name while it is written.
fn manifest_tmp() -> String {
    format!("{MANIFEST_FILE}.tmp")
}

/// Write `MANIFEST.json` through a temporary file, durably: the mark of a complete backup.
fn write_manifest(dir: &Path, manifest: &Manifest) -> Result<(), BackupError> {
    let path = dir.join(MANIFEST_FILE);
    let tmp = dir.join(manifest_tmp());
    let text = serde_json::to_vec_pretty(manifest).map_err(|e| io_error(&path, e.into()))?;
    let written = (|| {
        let mut f = std::fs::File::create(&tmp)?;
        f.write_all(&text)?;
        f.sync_all()?;
        std::fs::rename(&tmp, &path)?;
        sync_dir(dir)
    })();
    written.map_err(|e| io_error(&path, e))
}

// ---------------------------------------------------------------------------------------------
// Restore

/// What a restore did.
#[derive(Debug, Clone)]
pub struct Restored {
    pub manifest: Manifest,
    /// The database now in place.
    pub database: PathBuf,
    /// Files of the database that was there before (`--force`), moved aside under these names.
    pub moved_aside: Vec<PathBuf>,
    /// The restored database's new sync epoch (`None`: a backup of a version before epochs,
    /// which gets one as it is migrated).
    pub epoch: Option<u64>,
}

/// Restore the backup in `dir` into the data directory of `settings`. The server must be
/// stopped (a server that has the database open is noticed and refused). Refuses when the data
/// directory holds a database, unless `force` (then it is moved aside); checks the whole backup
/// before anything in the data directory changes.
pub fn restore(settings: &Settings, dir: &Path, force: bool) -> Result<Restored, BackupError> {
    let (target, store) = embedded(settings)?;
    if !database_files(&target).is_empty() && !force {
        let p = target.display();
        return Err(refuse(
            "restore.target_exists",
            format!(
                "{p} 已有数据库：恢复会替换它。请先停止服务器，确认后加 --force（原数据库会被改名保留）"
            ),
            format!(
                "{p} already holds a database that a restore would replace: stop the server and \
                 add --force to go ahead (the database is moved aside, not deleted)"
            ),
        ));
    }
    if in_use(&target) {
        let p = target.display();
        return Err(refuse(
            "restore.server_running",
            format!("数据库 {p} 正被运行中的服务器使用：请先停止 doudi serve 再恢复"),
            format!("the database {p} is open in a running server: stop doudi serve, then restore"),
        ));
    }
    let (manifest, blobs) = verify(dir)?;

    // Everything checked: the blobs first, then the database, so that a database in place never
    // lacks a blob it lists (an interrupted restore leaves no new database and can run again).
    let from = LocalStore::new(dir.join(BLOB_DIR));
    for sha in &blobs {
        let dest = store.path_of(sha);
        if std::fs::read(&dest).is_ok_and(|b| Sha256Hex::of(&b) == *sha) {
            continue;
        }
        let src = from.path_of(sha);
        store
            .write_atomically(sha, |f| {
                std::io::copy(&mut std::fs::File::open(&src)?, f).map(drop)
            })
            .map_err(|e| io_error(&dest, e))?;
    }
    let parent = target
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(Path::new("."))
        .to_path_buf();
    std::fs::create_dir_all(&parent).map_err(|e| io_error(&parent, e))?;
    let file_name = target
        .file_name()
        .map_or_else(|| SQLITE_FILE.into(), |n| n.to_string_lossy().into_owned());
    let tmp = parent.join(format!("{file_name}.restore-{}", new_id()));
    let copied = (|| {
        std::fs::copy(dir.join(&manifest.database.file), &tmp)?;
        std::fs::File::open(&tmp)?.sync_all()
    })();
    if let Err(e) = copied {
        let _ = std::fs::remove_file(&tmp);
        return Err(io_error(&tmp, e));
    }
    let epoch = match renew_epoch(&tmp) {
        Ok(epoch) => epoch,
        Err(e) => {
            for f in database_files(&tmp) {
                let _ = std::fs::remove_file(f);
            }
            return Err(e);
        }
    };
    let stamp = chrono::Utc::now().format("%Y%m%dT%H%M%SZ");
    let mut moved_aside = Vec::new();
    for old in database_files(&target) {
        let aside = PathBuf::from(format!("{}.before-restore-{stamp}", old.display()));
        std::fs::rename(&old, &aside).map_err(|e| io_error(&old, e))?;
        moved_aside.push(aside);
    }
    std::fs::rename(&tmp, &target).map_err(|e| io_error(&target, e))?;
    sync_dir(&parent).map_err(|e| io_error(&parent, e))?;
    Ok(Restored {
        manifest,
        database: target,
        moved_aside,
        epoch,
    })
}

/// Give the restored copy at `path` a new sync epoch (docs/PROTOCOL.md section 5, "Epoch"), so
/// that phones that synced after the backup was taken push again what it lacks. A backup of a
/// version before epochs has none: it gets one as it is migrated.
fn renew_epoch(path: &Path) -> Result<Option<u64>, BackupError> {
    let db_err = |e| sqlite_error(path, e);
    let conn = Connection::open(path).map_err(db_err)?;
    let has_epoch: bool = conn
        .query_row(
            "SELECT EXISTS (SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'sync_epoch')",
            [],
            |r| r.get(0),
        )
        .map_err(db_err)?;
    let new = doudi_migrations::random_epoch();
    if has_epoch {
        conn.execute_batch(&crate::sync::epoch::renew_statement(new))
            .map_err(db_err)?;
    }
    // Closing checkpoints and removes the WAL the update wrote: one file is renamed into place.
    conn.close().map_err(|(_, e)| db_err(e))?;
    std::fs::File::open(path)
        .and_then(|f| f.sync_all())
        .map_err(|e| io_error(path, e))?;
    Ok(has_epoch.then_some(new as u64))
}

/// The files of the SQLite database `path` that exist: the database, its WAL, its shared-memory
/// index, its rollback journal.
fn database_files(path: &Path) -> Vec<PathBuf> {
    ["", "-wal", "-shm", "-journal"]
        .iter()
        .map(|suffix| PathBuf::from(format!("{}{suffix}", path.display())))
        .filter(|p| p.exists())
        .collect()
}

/// Whether another process has the database at `path` open, as a running server does: each of
/// its connections holds a shared lock on a database in WAL mode for as long as it is open, so
/// an exclusive transaction cannot begin. A database that cannot be opened or read (a damaged
/// one, the reason for a restore) counts as not in use.
fn in_use(path: &Path) -> bool {
    if !path.is_file() {
        return false;
    }
    let probe = Connection::open_with_flags(
        path,
        OpenFlags::SQLITE_OPEN_READ_WRITE | OpenFlags::SQLITE_OPEN_NO_MUTEX,
    )
    .and_then(|conn| {
        conn.busy_timeout(Duration::ZERO)?;
        conn.execute_batch("PRAGMA locking_mode = EXCLUSIVE; BEGIN EXCLUSIVE; ROLLBACK")
    });
    match probe {
        Err(rusqlite::Error::SqliteFailure(e, _)) => matches!(
            e.code,
            rusqlite::ErrorCode::DatabaseBusy | rusqlite::ErrorCode::DatabaseLocked
        ),
        _ => false,
    }
}

/// Check the backup in `dir` whole: its manifest, the database's size, hash and integrity,
/// every blob's content against its name, the manifest's figures, and that every blob the
/// database lists is there. Returns the manifest and the blobs.
pub fn verify(dir: &Path) -> Result<(Manifest, Vec<Sha256Hex>), BackupError> {
    let d = dir.display();
    let bad_manifest = |why: String, why_en: String| {
        refuse(
            "restore.manifest",
            format!("{d} 不是完整的 doudi 备份：{why}"),
            format!("{d} is not a complete doudi backup: {why_en}"),
        )
    };
    let text = std::fs::read(dir.join(MANIFEST_FILE)).map_err(|e| {
        bad_manifest(
            format!("无法读取 {MANIFEST_FILE}（{e}）"),
            format!("cannot read {MANIFEST_FILE} ({e})"),
        )
    })?;
    let manifest: Manifest = serde_json::from_slice(&text).map_err(|e| {
        bad_manifest(
            format!("{MANIFEST_FILE} 无效（{e}）"),
            format!("{MANIFEST_FILE} is invalid ({e})"),
        )
    })?;
    if manifest.format != FORMAT_VERSION {
        return Err(bad_manifest(
            format!("格式 {} 不受此版本支持", manifest.format),
            format!(
                "format {} is not supported by this version",
                manifest.format
            ),
        ));
    }
    let file = Path::new(&manifest.database.file);
    if file.file_name() != Some(file.as_os_str()) {
        return Err(bad_manifest(
            "数据库文件名无效".into(),
            "the database file name is invalid".into(),
        ));
    }
    let database = dir.join(file);
    let damaged_database = |why: &str, why_en: &str| {
        refuse(
            "restore.database_mismatch",
            format!("备份中的数据库与清单不符（{why}）：备份已损坏或被改动，未恢复任何内容"),
            format!(
                "the backup's database does not match its manifest ({why_en}): the backup is \
                 damaged or was altered; nothing was restored"
            ),
        )
    };
    let (bytes, sha256) = hash_file(&database)?;
    if bytes != manifest.database.bytes || sha256 != manifest.database.sha256 {
        return Err(damaged_database("哈希不符", "hash mismatch"));
    }

    let blob_mismatch = |name: &str, why: &str, why_en: &str| {
        refuse(
            "restore.blob_mismatch",
            format!("备份中的照片 {name} {why}：备份已损坏或被改动，未恢复任何内容"),
            format!(
                "blob {name} of the backup {why_en}: the backup is damaged or was altered; \
                 nothing was restored"
            ),
        )
    };
    let store = LocalStore::new(dir.join(BLOB_DIR));
    let objects = store
        .objects()
        .map_err(|e| io_error(&dir.join(BLOB_DIR), e))?;
    let mut blobs = Vec::with_capacity(objects.len());
    let mut total = 0u64;
    for obj in objects {
        let path = store.path_of(&obj.sha256);
        let content = std::fs::read(&path).map_err(|e| io_error(&path, e))?;
        if Sha256Hex::of(&content) != obj.sha256 {
            return Err(blob_mismatch(
                obj.sha256.as_str(),
                "与其哈希不符",
                "does not match its hash",
            ));
        }
        total += content.len() as u64;
        blobs.push(obj.sha256);
    }
    if blobs.len() as u64 != manifest.blobs.count || total != manifest.blobs.bytes {
        return Err(refuse(
            "restore.blob_mismatch",
            format!(
                "备份中有 {} 张照片共 {total} 字节，清单为 {} 张共 {} 字节：备份已损坏或被改动，未恢复任何内容",
                blobs.len(),
                manifest.blobs.count,
                manifest.blobs.bytes
            ),
            format!(
                "the backup holds {} blobs of {total} bytes, its manifest {} of {}: the backup \
                 is damaged or was altered; nothing was restored",
                blobs.len(),
                manifest.blobs.count,
                manifest.blobs.bytes
            ),
        ));
    }

    let conn = Connection::open_with_flags(&database, OpenFlags::SQLITE_OPEN_READ_ONLY)
        .map_err(|e| sqlite_error(&database, e))?;
    let check: String = conn
        .query_row("PRAGMA quick_check", [], |r| r.get(0))
        .map_err(|e| sqlite_error(&database, e))?;
    if check != "ok" {
        return Err(damaged_database("完整性检查失败", "integrity check failed"));
    }
    let listed: Vec<String> = conn
        .prepare("SELECT sha256 FROM blobs")
        .and_then(|mut st| st.query_map([], |r| r.get(0))?.collect())
        .map_err(|e| sqlite_error(&database, e))?;
    let held: std::collections::HashSet<&str> = blobs.iter().map(Sha256Hex::as_str).collect();
    if let Some(missing) = listed.iter().find(|s| !held.contains(s.as_str())) {
        return Err(blob_mismatch(
            missing,
            "被数据库列出但不在备份中",
            "is listed by the database but missing from the backup",
        ));
    }
    Ok((manifest, blobs))
}
