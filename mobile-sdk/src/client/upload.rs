//! Uploads of photos and signatures after the documents that point at them, chunked and
//! resumed from the server's acknowledged offset.

use super::*;

/// Bytes per upload request: a chunk must finish within the server's request time on a slow
/// link, and an interrupted upload resumes from the last acknowledged chunk.
pub(super) const UPLOAD_CHUNK: usize = 64 * 1024;

/// Hashes per `POST /blobs/missing` (the server's limit).
pub(super) const MISSING_BATCH: usize = 1000;

/// Server codes that refuse one blob for good (it stays on the phone and is reported).
pub(super) const BLOB_REFUSALS: [&str; 4] = [
    "blob.not_image",
    "blob.image_too_large",
    "blob.too_large",
    "blob.hash_mismatch",
];

/// `GET`/`PUT /api/v1/blobs/{sha256}/upload` answer.
#[derive(Debug, Deserialize)]
pub(super) struct UploadState {
    offset: usize,
    complete: bool,
}

impl Inner {
    /// Upload the photos and signatures this account has not uploaded yet (the server counts a
    /// document's photo for its readers once the account that attached it has uploaded it),
    /// after the documents that point at them, resuming each from the server's acknowledged
    /// offset.
    pub(super) fn upload_pending(
        &self,
        out: &mut SyncSummary,
        progress: Option<&dyn SyncProgress>,
    ) -> Result<()> {
        let pending = self.store().pending_blobs()?;
        let mut left = pending.len() as u32;
        for batch in pending.chunks(MISSING_BATCH) {
            self.check_cancel()?;
            let hashes: Vec<&str> = batch.iter().map(|p| p.hash.as_str()).collect();
            let body = serde_json::to_vec(&serde_json::json!({ "sha256": hashes }))
                .map_err(DoudiError::internal)?;
            let resp = self.authed("POST", "/api/v1/blobs/missing", "application/json", body)?;
            out.bytes_received += resp.body.len() as u64;
            #[derive(Deserialize)]
            struct Missing {
                missing: Vec<String>,
            }
            let missing: Missing =
                serde_json::from_slice(&resp.body).map_err(|e| DoudiError::Network {
                    detail: format!("unreadable answer to blobs/missing: {e}"),
                })?;
            let missing: std::collections::HashSet<String> = missing.missing.into_iter().collect();
            for p in batch {
                if missing.contains(&p.hash) {
                    match self.upload_one(&p.hash, out) {
                        Ok(()) => {}
                        Err(DoudiError::Server {
                            error_code,
                            message_zh,
                            message_en,
                            ..
                        }) if BLOB_REFUSALS.contains(&error_code.as_str()) => {
                            out.rejected_uploads.push(RejectedUpload {
                                hash: p.hash.clone(),
                                code: error_code,
                                message_zh,
                                message_en,
                            });
                            continue;
                        }
                        Err(e) => return Err(e),
                    }
                }
                self.store().mark_uploaded(&p.hash)?;
                out.photos_uploaded += 1;
                left -= 1;
                if let Some(p) = progress {
                    p.on_progress(out.progress(left, left > 0));
                }
            }
        }
        Ok(())
    }

    /// Where the server's copy of an upload stands.
    pub(super) fn upload_state(&self, path: &str) -> Result<UploadState> {
        let resp = self.authed("GET", path, "application/json", Vec::new())?;
        serde_json::from_slice(&resp.body).map_err(|e| DoudiError::Network {
            detail: format!("unreadable upload state: {e}"),
        })
    }

    /// Send one blob from where the server's copy ends, chunk by chunk.
    pub(super) fn upload_one(&self, hash: &str, out: &mut SyncSummary) -> Result<()> {
        let bytes = self
            .store()
            .blob(hash, false)?
            .ok_or_else(|| DoudiError::internal(format!("blob {hash} left the store")))?;
        let path = format!("/api/v1/blobs/{hash}/upload");
        let mut state = self.upload_state(&path)?;
        let mut mismatches = 0;
        while !state.complete {
            self.check_cancel()?;
            let start = state.offset.min(bytes.len());
            let end = (start + UPLOAD_CHUNK).min(bytes.len());
            let last = end == bytes.len();
            let url = format!(
                "{path}?offset={start}{}",
                if last { "&final=true" } else { "" }
            );
            let chunk = bytes[start..end].to_vec();
            match self.authed("PUT", &url, "application/octet-stream", chunk) {
                Ok(resp) => {
                    out.bytes_sent += (end - start) as u64;
                    out.bytes_received += resp.body.len() as u64;
                    state =
                        serde_json::from_slice(&resp.body).map_err(|e| DoudiError::Network {
                            detail: format!("unreadable upload answer: {e}"),
                        })?;
                    if !state.complete && state.offset <= start {
                        return Err(DoudiError::internal("the upload made no progress"));
                    }
                    mismatches = 0;
                }
                // Another attempt (a retried request, another phone of the account) moved the
                // server's copy: ask where it stands and go on from there.
                Err(DoudiError::Server { error_code, .. })
                    if error_code == "blob.offset_mismatch" && mismatches < 3 =>
                {
                    mismatches += 1;
                    state = self.upload_state(&path)?;
                }
                Err(e) => return Err(e),
            }
        }
        Ok(())
    }
}

#[uniffi::export]
impl DoudiClient {
    /// Photos and signatures stored here and not uploaded yet.
    pub fn pending_uploads(&self) -> Result<u32> {
        Ok(self.inner.store().pending_blobs()?.len() as u32)
    }
}
