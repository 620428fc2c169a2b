//! The blob endpoints as a client uses them: upload in chunks, ask what is missing, download.

use reqwest::StatusCode;
use serde_json::json;

use crate::{Resp, TestApp};

/// Bytes per upload chunk the tests send.
pub const CHUNK: usize = 256 * 1024;

/// A photo of the shared test set (`/work/shared/data/photos`).
pub fn photo(name: &str) -> Vec<u8> {
    let path = format!(
        "{}/../../shared/data/photos/{name}",
        env!("CARGO_MANIFEST_DIR")
    );
    std::fs::read(&path).unwrap_or_else(|e| panic!("read {path}: {e}"))
}

/// A small PNG, different for every `seed`: quick to upload and to check.
pub fn tiny_png(seed: u32) -> Vec<u8> {
    let img = image::RgbImage::from_fn(8, 8, |x, y| {
        let [a, b, c, d] = seed.to_le_bytes();
        image::Rgb([a ^ x as u8, b ^ y as u8, c.wrapping_add(d)])
    });
    let mut out = std::io::Cursor::new(Vec::new());
    img.write_to(&mut out, image::ImageFormat::Png)
        .expect("encode png");
    out.into_inner()
}

/// The SHA-256 of `bytes`, as blobs are named.
pub fn sha(bytes: &[u8]) -> String {
    doudi_server::blobs::Sha256Hex::of(bytes).to_string()
}

impl TestApp {
    /// `PUT /blobs/{sha}/upload?offset=…[&final=true]` with the given client.
    #[allow(clippy::too_many_arguments)]
    pub async fn put_chunk(
        &self,
        http: &reqwest::Client,
        token: &str,
        sha: &str,
        offset: usize,
        last: bool,
        chunk: &[u8],
    ) -> Resp {
        let mut url = self.url(&format!("/api/v1/blobs/{sha}/upload?offset={offset}"));
        if last {
            url.push_str("&final=true");
        }
        let resp = http
            .put(url)
            .bearer_auth(token)
            .header("content-type", "application/octet-stream")
            .body(chunk.to_vec())
            .send()
            .await
            .expect("chunk sent");
        TestApp::read(resp).await
    }

    /// Upload `bytes` under `sha` from offset 0 in [`CHUNK`]-sized pieces; the last response.
    pub async fn upload(&self, token: &str, sha: &str, bytes: &[u8]) -> Resp {
        let mut offset = 0;
        loop {
            let end = (offset + CHUNK).min(bytes.len());
            let last = end == bytes.len();
            let r = self
                .put_chunk(&self.http, token, sha, offset, last, &bytes[offset..end])
                .await;
            if last || r.status != StatusCode::OK {
                return r;
            }
            assert_eq!(r.body["offset"], json!(end), "{:?}", r.body);
            offset = end;
        }
    }

    /// `POST /blobs/missing`.
    pub async fn missing(&self, token: &str, hashes: &[&str]) -> Resp {
        self.post(
            "/api/v1/blobs/missing",
            Some(token),
            json!({ "sha256": hashes }),
        )
        .await
    }

    /// `GET /blobs/{sha}` with an optional `Range`: status, headers and the bytes.
    pub async fn get_blob(
        &self,
        token: &str,
        sha: &str,
        range: Option<&str>,
    ) -> (StatusCode, reqwest::header::HeaderMap, Vec<u8>) {
        let mut req = self
            .http
            .get(self.url(&format!("/api/v1/blobs/{sha}")))
            .bearer_auth(token);
        if let Some(r) = range {
            req = req.header("range", r);
        }
        let resp = req.send().await.expect("download sent");
        let status = resp.status();
        let headers = resp.headers().clone();
        (status, headers, resp.bytes().await.unwrap().to_vec())
    }
}
