//! Where blob bytes live: the [`BlobStore`] trait, a local directory and S3-compatible storage.
//!
//! Object names are built only from a validated [`Sha256Hex`]: `blobs/ab/cd/<sha256>`.

use std::io::{Read, Seek, SeekFrom, Write};
use std::ops::Range;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use async_trait::async_trait;
use bytes::Bytes;

use super::Sha256Hex;
use crate::config::{BlobStoreKind, S3Settings, Settings};

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("blob not in the store")]
    NotFound,
    #[error("blob store configuration: {0}")]
    Config(String),
    #[error("blob store I/O: {0}")]
    Io(#[from] std::io::Error),
    #[error("object store: {0}")]
    Object(object_store::Error),
}

impl From<object_store::Error> for StoreError {
    fn from(e: object_store::Error) -> Self {
        match e {
            object_store::Error::NotFound { .. } => StoreError::NotFound,
            other => StoreError::Object(other),
        }
    }
}

/// One object found by [`BlobStore::list`].
#[derive(Debug, Clone)]
pub struct StoredObject {
    pub sha256: Sha256Hex,
    pub size: u64,
    /// Last modification, unix milliseconds.
    pub modified_ms: i64,
}

/// Blob bytes by SHA-256. Writes are whole-object and atomic: a reader sees all of a blob or
/// nothing.
#[async_trait]
pub trait BlobStore: Send + Sync + std::fmt::Debug {
    /// `local` or `s3`, for logs.
    fn kind(&self) -> &'static str;
    /// Store `bytes` as the blob `sha` (replacing an identical one is harmless).
    async fn put_bytes(&self, sha: &Sha256Hex, bytes: Bytes) -> Result<(), StoreError>;
    /// Store the content of the file at `path` as the blob `sha`.
    async fn put_file(&self, sha: &Sha256Hex, path: &Path) -> Result<(), StoreError>;
    /// Bytes `range` of the blob; the range must lie inside it.
    async fn get_range(&self, sha: &Sha256Hex, range: Range<u64>) -> Result<Bytes, StoreError>;
    /// The blob's size, or `None` when it is not stored.
    async fn head(&self, sha: &Sha256Hex) -> Result<Option<u64>, StoreError>;
    async fn exists(&self, sha: &Sha256Hex) -> Result<bool, StoreError> {
        Ok(self.head(sha).await?.is_some())
    }
    /// Remove the blob; removing an absent blob succeeds.
    async fn delete(&self, sha: &Sha256Hex) -> Result<(), StoreError>;
    /// Every stored blob (for garbage collection).
    async fn list(&self) -> Result<Vec<StoredObject>, StoreError>;
}

/// The store the settings ask for.
pub fn from_settings(settings: &Settings) -> Result<Arc<dyn BlobStore>, StoreError> {
    match settings.blobs.store {
        BlobStoreKind::Local => Ok(Arc::new(LocalStore::new(settings.blob_dir()))),
        BlobStoreKind::S3 => {
            let s3 = settings.blobs.s3.as_ref().ok_or_else(|| {
                StoreError::Config("blobs.store = \"s3\" needs a [blobs.s3] section".into())
            })?;
            Ok(Arc::new(S3Store::new(s3)?))
        }
    }
}

/// Blobs as files under a directory: `objects/ab/cd/<sha256>`, written through `tmp/`.
#[derive(Debug, Clone)]
pub struct LocalStore {
    objects: PathBuf,
    tmp: PathBuf,
}

impl LocalStore {
    /// A store rooted at `root` (created on first write).
    pub fn new(root: PathBuf) -> LocalStore {
        LocalStore {
            objects: root.join("objects"),
            tmp: root.join("tmp"),
        }
    }

    /// Where the blob `sha` is (or would be) kept.
    pub fn path_of(&self, sha: &Sha256Hex) -> PathBuf {
        self.objects.join(sha.fanout_path())
    }

    /// Every stored blob, read on the calling thread ([`BlobStore::list`] from a blocking task).
    pub fn objects(&self) -> std::io::Result<Vec<StoredObject>> {
        let mut out = Vec::new();
        // objects/ab/cd/<sha>: exactly two directory levels; anything else is ignored.
        for l1 in read_dir_or_empty(&self.objects)? {
            for l2 in read_dir_or_empty(&l1)? {
                for file in read_dir_or_empty(&l2)? {
                    let Some(sha) = file
                        .file_name()
                        .and_then(|n| n.to_str())
                        .and_then(Sha256Hex::parse)
                    else {
                        continue;
                    };
                    let meta = std::fs::metadata(&file)?;
                    out.push(StoredObject {
                        sha256: sha,
                        size: meta.len(),
                        modified_ms: modified_ms(&meta),
                    });
                }
            }
        }
        Ok(out)
    }

    /// Write through a temporary file: write, fsync, rename into place, fsync the directory.
    pub(crate) fn write_atomically(
        &self,
        sha: &Sha256Hex,
        fill: impl FnOnce(&mut std::fs::File) -> std::io::Result<()>,
    ) -> std::io::Result<()> {
        std::fs::create_dir_all(&self.tmp)?;
        let tmp = self.tmp.join(format!("{sha}.{}", crate::auth::new_id()));
        let result = (|| {
            let mut f = std::fs::File::create(&tmp)?;
            fill(&mut f)?;
            f.sync_all()?;
            let dest = self.path_of(sha);
            let dir = dest.parent().unwrap_or(&self.objects);
            std::fs::create_dir_all(dir)?;
            std::fs::rename(&tmp, &dest)?;
            sync_dir(dir)
        })();
        if result.is_err() {
            let _ = std::fs::remove_file(&tmp);
        }
        result
    }
}

/// Make a rename durable (a no-op where directories cannot be opened).
pub(crate) fn sync_dir(dir: &Path) -> std::io::Result<()> {
    #[cfg(unix)]
    std::fs::File::open(dir)?.sync_all()?;
    #[cfg(not(unix))]
    let _ = dir;
    Ok(())
}

async fn blocking<T: Send + 'static>(
    f: impl FnOnce() -> std::io::Result<T> + Send + 'static,
) -> Result<T, StoreError> {
    match tokio::task::spawn_blocking(f).await {
        Ok(r) => r.map_err(|e| {
            if e.kind() == std::io::ErrorKind::NotFound {
                StoreError::NotFound
            } else {
                StoreError::Io(e)
            }
        }),
        Err(e) => Err(StoreError::Io(std::io::Error::other(e))),
    }
}

#[async_trait]
impl BlobStore for LocalStore {
    fn kind(&self) -> &'static str {
        "local"
    }

    async fn put_bytes(&self, sha: &Sha256Hex, bytes: Bytes) -> Result<(), StoreError> {
        let (me, sha) = (self.clone(), sha.clone());
        blocking(move || me.write_atomically(&sha, |f| f.write_all(&bytes))).await
    }

    async fn put_file(&self, sha: &Sha256Hex, path: &Path) -> Result<(), StoreError> {
        let (me, sha, src) = (self.clone(), sha.clone(), path.to_path_buf());
        blocking(move || {
            me.write_atomically(&sha, |f| {
                std::io::copy(&mut std::fs::File::open(&src)?, f).map(|_| ())
            })
        })
        .await
    }

    async fn get_range(&self, sha: &Sha256Hex, range: Range<u64>) -> Result<Bytes, StoreError> {
        let path = self.path_of(sha);
        blocking(move || {
            let mut f = std::fs::File::open(path)?;
            let len = usize::try_from(range.end.saturating_sub(range.start))
                .map_err(std::io::Error::other)?;
            f.seek(SeekFrom::Start(range.start))?;
            let mut buf = vec![0u8; len];
            f.read_exact(&mut buf)?;
            Ok(Bytes::from(buf))
        })
        .await
    }

    async fn head(&self, sha: &Sha256Hex) -> Result<Option<u64>, StoreError> {
        match tokio::fs::metadata(self.path_of(sha)).await {
            Ok(m) => Ok(Some(m.len())),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(e.into()),
        }
    }

    async fn delete(&self, sha: &Sha256Hex) -> Result<(), StoreError> {
        match tokio::fs::remove_file(self.path_of(sha)).await {
            Ok(()) => Ok(()),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
            Err(e) => Err(e.into()),
        }
    }

    async fn list(&self) -> Result<Vec<StoredObject>, StoreError> {
        let me = self.clone();
        blocking(move || me.objects()).await
    }
}

fn read_dir_or_empty(dir: &Path) -> std::io::Result<Vec<PathBuf>> {
    match std::fs::read_dir(dir) {
        Ok(rd) => rd.map(|e| e.map(|e| e.path())).collect(),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(Vec::new()),
        Err(e) => Err(e),
    }
}

/// A file's modification time in unix milliseconds (0 when the platform cannot say).
pub(crate) fn modified_ms(meta: &std::fs::Metadata) -> i64 {
    meta.modified()
        .ok()
        .and_then(|t| t.duration_since(std::time::UNIX_EPOCH).ok())
        .map(|d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
        .unwrap_or(0)
}

/// Blobs in an S3-compatible bucket under `<prefix>/blobs/ab/cd/<sha256>`.
#[derive(Debug)]
pub struct S3Store {
    store: object_store::aws::AmazonS3,
    root: object_store::path::Path,
}

impl S3Store {
    pub fn new(s: &S3Settings) -> Result<S3Store, StoreError> {
        use object_store::aws::AmazonS3Builder;
        if s.bucket.is_empty() {
            return Err(StoreError::Config("blobs.s3.bucket is empty".into()));
        }
        let region = if s.region.is_empty() {
            "us-east-1"
        } else {
            &s.region
        };
        let mut b = AmazonS3Builder::new()
            .with_bucket_name(&s.bucket)
            .with_region(region)
            .with_virtual_hosted_style_request(false);
        if let Some(endpoint) = &s.endpoint {
            b = b
                .with_endpoint(endpoint)
                .with_allow_http(s.allow_http || is_loopback_http(endpoint));
        }
        if let Some(k) = &s.access_key_id {
            b = b.with_access_key_id(k.expose());
        }
        if let Some(k) = &s.secret_access_key {
            b = b.with_secret_access_key(k.expose());
        }
        let store = b
            .build()
            .map_err(|e| StoreError::Config(format!("S3: {e}")))?;
        let prefix = s.prefix.trim_matches('/');
        let root = if prefix.is_empty() {
            "blobs".to_string()
        } else {
            format!("{prefix}/blobs")
        };
        Ok(S3Store {
            store,
            root: object_store::path::Path::from(root.as_str()),
        })
    }

    fn key(&self, sha: &Sha256Hex) -> object_store::path::Path {
        object_store::path::Path::from(format!("{}/{}", self.root, sha.fanout_path()))
    }
}

/// `http://127.0.0.1:…`, `http://[::1]:…` or `http://localhost:…`.
fn is_loopback_http(endpoint: &str) -> bool {
    let Some(rest) = endpoint.strip_prefix("http://") else {
        return false;
    };
    let host = rest.split(['/', '?']).next().unwrap_or("");
    let host = match host.rsplit_once(':') {
        Some((h, port)) if port.bytes().all(|b| b.is_ascii_digit()) => h,
        _ => host,
    };
    let host = host.trim_start_matches('[').trim_end_matches(']');
    host == "localhost"
        || host
            .parse::<std::net::IpAddr>()
            .is_ok_and(|ip| ip.is_loopback())
}

#[async_trait]
impl BlobStore for S3Store {
    fn kind(&self) -> &'static str {
        "s3"
    }

    async fn put_bytes(&self, sha: &Sha256Hex, bytes: Bytes) -> Result<(), StoreError> {
        use object_store::{ObjectStoreExt, PutPayload};
        self.store
            .put(&self.key(sha), PutPayload::from(bytes))
            .await?;
        Ok(())
    }

    /// Blobs are at most `blobs.max_blob_bytes` (20 MiB by default): one PUT, no multipart.
    async fn put_file(&self, sha: &Sha256Hex, path: &Path) -> Result<(), StoreError> {
        let bytes = tokio::fs::read(path).await?;
        self.put_bytes(sha, Bytes::from(bytes)).await
    }

    async fn get_range(&self, sha: &Sha256Hex, range: Range<u64>) -> Result<Bytes, StoreError> {
        use object_store::ObjectStoreExt;
        Ok(self.store.get_range(&self.key(sha), range).await?)
    }

    async fn head(&self, sha: &Sha256Hex) -> Result<Option<u64>, StoreError> {
        use object_store::ObjectStoreExt;
        match self.store.head(&self.key(sha)).await {
            Ok(meta) => Ok(Some(meta.size)),
            Err(object_store::Error::NotFound { .. }) => Ok(None),
            Err(e) => Err(e.into()),
        }
    }

    async fn delete(&self, sha: &Sha256Hex) -> Result<(), StoreError> {
        use object_store::ObjectStoreExt;
        match self.store.delete(&self.key(sha)).await {
            Ok(()) | Err(object_store::Error::NotFound { .. }) => Ok(()),
            Err(e) => Err(e.into()),
        }
    }

    async fn list(&self) -> Result<Vec<StoredObject>, StoreError> {
        use futures_util::TryStreamExt;
        use object_store::ObjectStore;
        let metas: Vec<object_store::ObjectMeta> =
            self.store.list(Some(&self.root)).try_collect().await?;
        Ok(metas
            .into_iter()
            .filter_map(|m| {
                let sha = m.location.filename().and_then(Sha256Hex::parse)?;
                Some(StoredObject {
                    sha256: sha,
                    size: m.size,
                    modified_ms: m.last_modified.timestamp_millis(),
                })
            })
            .collect())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn loopback_endpoints_are_recognised() {
        assert!(is_loopback_http("http://127.0.0.1:9000"));
        assert!(is_loopback_http("http://localhost:9000/"));
        assert!(is_loopback_http("http://[::1]:9000"));
        assert!(!is_loopback_http("http://10.0.0.1:9000"));
        assert!(!is_loopback_http("https://127.0.0.1:9000"));
        assert!(!is_loopback_http("http://127.0.0.1.evil.example:9000"));
    }
}
