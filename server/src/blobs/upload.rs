//! Resumable uploads: partial files in a local staging directory, appended chunk by chunk at the
//! acknowledged offset, then verified (hash, image) and moved into the blob store.
//!
//! A partial belongs to one account and one blob: its file name is the SHA-256 of both, so it is
//! built from no client string and one account cannot see or extend another's upload. Partials
//! stay in the local staging directory whatever the blob store is (also with S3): a chunk is
//! fsynced before it is acknowledged, so an acknowledged offset survives a dropped connection and
//! a server restart.

use std::collections::HashMap;
use std::io::Write;
use std::path::PathBuf;
use std::sync::{Arc, Mutex, Weak};

use super::Sha256Hex;
use super::image_check::{self, ImageCheckError, ImageInfo, ImageLimits};
use crate::config::BlobSettings;

/// Upload limits, from [`BlobSettings`].
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    pub max_blob_bytes: u64,
    pub max_chunk_bytes: usize,
    pub image: ImageLimits,
}

impl Limits {
    pub fn from_settings(s: &BlobSettings) -> Limits {
        Limits {
            max_blob_bytes: s.max_blob_bytes,
            max_chunk_bytes: s.max_chunk_bytes,
            image: ImageLimits {
                max_side: s.max_image_side,
                max_pixels: s.max_image_pixels,
                max_alloc: s.max_decode_alloc_bytes,
            },
        }
    }
}

/// Why an append or a completion failed.
#[derive(Debug, thiserror::Error)]
pub enum UploadError {
    #[error("offset {given} does not match the acknowledged length {current}")]
    OffsetMismatch { given: u64, current: u64 },
    #[error("the blob would exceed {max} bytes")]
    TooLarge { max: u64 },
    #[error("content hash {actual} does not match")]
    HashMismatch { actual: String },
    #[error(transparent)]
    Image(#[from] ImageCheckError),
    #[error("staging I/O: {0}")]
    Io(#[from] std::io::Error),
}

impl From<UploadError> for crate::error::ApiError {
    fn from(e: UploadError) -> Self {
        use crate::error::{ApiError, Code};
        match e {
            UploadError::OffsetMismatch { current, .. } => ApiError::new(Code::BlobOffsetMismatch)
                .with_details(serde_json::json!({ "offset": current })),
            UploadError::TooLarge { max } => {
                ApiError::new(Code::BlobTooLarge).with_details(serde_json::json!({ "max": max }))
            }
            UploadError::HashMismatch { actual } => ApiError::new(Code::BlobHashMismatch)
                .with_details(serde_json::json!({ "actual": actual })),
            UploadError::Image(ImageCheckError::NotImage { reason }) => {
                ApiError::new(Code::BlobNotImage)
                    .with_details(serde_json::json!({ "reason": reason }))
            }
            UploadError::Image(ImageCheckError::TooLarge { width, height }) => {
                ApiError::new(Code::BlobImageTooLarge)
                    .with_details(serde_json::json!({ "width": width, "height": height }))
            }
            UploadError::Io(e) => ApiError::internal(e),
        }
    }
}

/// Check content received whole (a console upload): within `limits.max_blob_bytes`, an image
/// within the image limits; named by its SHA-256.
pub async fn verify_whole(
    bytes: Vec<u8>,
    limits: Limits,
) -> Result<(Sha256Hex, Verified), UploadError> {
    if bytes.len() as u64 > limits.max_blob_bytes {
        return Err(UploadError::TooLarge {
            max: limits.max_blob_bytes,
        });
    }
    let result = tokio::task::spawn_blocking(move || {
        let sha = Sha256Hex::of(&bytes);
        let info = image_check::check(&bytes, limits.image)?;
        Ok((sha, Verified { bytes, info }))
    })
    .await;
    result.map_err(|e| UploadError::Io(std::io::Error::other(e)))?
}

/// A verified upload, ready for the blob store.
#[derive(Debug)]
pub struct Verified {
    pub bytes: Vec<u8>,
    pub info: ImageInfo,
}

/// The directory of partial uploads, with one lock per partial.
#[derive(Debug)]
pub struct Staging {
    dir: PathBuf,
    locks: Mutex<HashMap<PathBuf, Weak<tokio::sync::Mutex<()>>>>,
}

impl Staging {
    pub fn new(dir: PathBuf) -> Staging {
        Staging {
            dir,
            locks: Mutex::new(HashMap::new()),
        }
    }

    pub fn dir(&self) -> &std::path::Path {
        &self.dir
    }

    /// `<dir>/<sha256(account_id "\n" blob sha)>.part`.
    pub fn partial_path(&self, account_id: &str, sha: &Sha256Hex) -> PathBuf {
        let key = Sha256Hex::of(format!("{account_id}\n{sha}").as_bytes());
        self.dir.join(format!("{key}.part"))
    }

    /// Serialise work on one partial (concurrent retries of the same chunk).
    pub fn lock(&self, path: &std::path::Path) -> Arc<tokio::sync::Mutex<()>> {
        let mut map = self.locks.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(l) = map.get(path).and_then(Weak::upgrade) {
            return l;
        }
        if map.len() > 1024 {
            map.retain(|_, w| w.strong_count() > 0);
        }
        let l = Arc::new(tokio::sync::Mutex::new(()));
        map.insert(path.to_path_buf(), Arc::downgrade(&l));
        l
    }

    /// Acknowledged length of a partial (0 when there is none).
    pub async fn offset(&self, path: &std::path::Path) -> std::io::Result<u64> {
        match tokio::fs::metadata(path).await {
            Ok(m) => Ok(m.len()),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(0),
            Err(e) => Err(e),
        }
    }

    /// Append `chunk` at `offset`, which must equal the acknowledged length; fsync before
    /// returning the new length. The caller holds the partial's lock.
    pub async fn append(
        &self,
        path: PathBuf,
        offset: u64,
        chunk: bytes::Bytes,
        max_blob_bytes: u64,
    ) -> Result<u64, UploadError> {
        let dir = self.dir.clone();
        let result = tokio::task::spawn_blocking(move || {
            std::fs::create_dir_all(&dir)?;
            let current = match std::fs::metadata(&path) {
                Ok(m) => m.len(),
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => 0,
                Err(e) => return Err(e.into()),
            };
            if offset != current {
                return Err(UploadError::OffsetMismatch {
                    given: offset,
                    current,
                });
            }
            if current.saturating_add(chunk.len() as u64) > max_blob_bytes {
                let _ = std::fs::remove_file(&path);
                return Err(UploadError::TooLarge {
                    max: max_blob_bytes,
                });
            }
            if chunk.is_empty() {
                return Ok(current);
            }
            let mut f = std::fs::OpenOptions::new()
                .create(true)
                .append(true)
                .open(&path)?;
            f.write_all(&chunk)?;
            f.sync_data()?;
            if current == 0 {
                super::store::sync_dir(&dir)?;
            }
            Ok(current + chunk.len() as u64)
        })
        .await;
        result.map_err(|e| UploadError::Io(std::io::Error::other(e)))?
    }

    /// Check the partial: its SHA-256 must be `sha` and it must be an image within the limits.
    /// On any failure but I/O the partial is removed.
    pub async fn verify(
        &self,
        path: PathBuf,
        sha: &Sha256Hex,
        limits: ImageLimits,
    ) -> Result<Verified, UploadError> {
        let expected = sha.clone();
        let result = tokio::task::spawn_blocking(move || {
            // Nothing appended yet (an empty upload) is empty content, not a missing file.
            let bytes = match std::fs::read(&path) {
                Ok(b) => b,
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => Vec::new(),
                Err(e) => return Err(e.into()),
            };
            let outcome = (|| {
                let actual = Sha256Hex::of(&bytes);
                if actual != expected {
                    return Err(UploadError::HashMismatch {
                        actual: actual.to_string(),
                    });
                }
                let info = image_check::check(&bytes, limits)?;
                Ok(info)
            })();
            match outcome {
                Ok(info) => Ok(Verified { bytes, info }),
                Err(e) => {
                    let _ = std::fs::remove_file(&path);
                    Err(e)
                }
            }
        })
        .await;
        result.map_err(|e| UploadError::Io(std::io::Error::other(e)))?
    }

    /// Remove a partial (absent is fine).
    pub async fn discard(&self, path: &std::path::Path) -> std::io::Result<()> {
        match tokio::fs::remove_file(path).await {
            Ok(()) => Ok(()),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
            Err(e) => Err(e),
        }
    }

    /// Remove partials not written to since `cutoff_ms` (unix ms); returns their file names.
    pub async fn remove_stale(&self, cutoff_ms: i64) -> std::io::Result<Vec<String>> {
        let dir = self.dir.clone();
        let result = tokio::task::spawn_blocking(move || {
            let mut removed = Vec::new();
            let entries = match std::fs::read_dir(&dir) {
                Ok(rd) => rd,
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(removed),
                Err(e) => return Err(e),
            };
            for entry in entries {
                let entry = entry?;
                let name = entry.file_name().to_string_lossy().into_owned();
                if !name.ends_with(".part") {
                    continue;
                }
                let meta = entry.metadata()?;
                if super::store::modified_ms(&meta) < cutoff_ms {
                    std::fs::remove_file(entry.path())?;
                    removed.push(name);
                }
            }
            Ok(removed)
        })
        .await;
        result.map_err(std::io::Error::other)?
    }
}
