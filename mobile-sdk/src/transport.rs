//! HTTP through a [`Transport`]: the host app implements it with its own stack (OkHttp,
//! URLSession: TLS, proxies and certificate pinning belong there); [`BuiltinTransport`] is the
//! Rust implementation for desktop tools and tests (plain HTTP, e.g. to a loopback server).

use std::time::Duration;

/// One header.
#[derive(Debug, Clone, PartialEq, Eq, uniffi::Record)]
pub struct HttpHeader {
    pub name: String,
    pub value: String,
}

/// A request the SDK wants sent.
#[derive(Debug, Clone, PartialEq, Eq, uniffi::Record)]
pub struct HttpRequest {
    /// `GET` or `POST`.
    pub method: String,
    /// Absolute URL.
    pub url: String,
    pub headers: Vec<HttpHeader>,
    pub body: Vec<u8>,
}

/// The server's answer, whatever its status.
#[derive(Debug, Clone, PartialEq, Eq, uniffi::Record)]
pub struct HttpResponse {
    pub status: u16,
    pub headers: Vec<HttpHeader>,
    pub body: Vec<u8>,
}

/// Why no answer arrived. A transport returns an error only when there is no HTTP response;
/// 4xx and 5xx answers are responses.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error, uniffi::Error)]
pub enum TransportError {
    /// Connection refused, reset, DNS failure, TLS failure, timeout: worth retrying.
    #[error("network: {reason}")]
    Network { reason: String },
    /// The request could not be made at all (bad URL); retrying does not help.
    #[error("request: {reason}")]
    Request { reason: String },
}

impl From<uniffi::UnexpectedUniFFICallbackError> for TransportError {
    fn from(e: uniffi::UnexpectedUniFFICallbackError) -> Self {
        TransportError::Network { reason: e.reason }
    }
}

/// Sends HTTP requests. Implemented by the host app (Kotlin, Swift) or by [`BuiltinTransport`].
/// Called from background threads of the SDK, possibly from several at once (a sync asks for
/// its next page from a thread of its own while it stores the current one); it may block.
#[uniffi::export(foreign)]
pub trait Transport: Send + Sync {
    fn send(&self, request: HttpRequest) -> Result<HttpResponse, TransportError>;
}

/// The built-in transport: `ureq` without TLS, for loopback servers, desktop tools and tests.
pub struct BuiltinTransport {
    agent: ureq::Agent,
}

impl std::fmt::Debug for BuiltinTransport {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("BuiltinTransport")
    }
}

impl Default for BuiltinTransport {
    fn default() -> Self {
        let config = ureq::Agent::config_builder()
            .http_status_as_error(false)
            .timeout_global(Some(Duration::from_secs(60)))
            // No automatic `User-Agent` or `Accept`: each request names what it accepts, and
            // an idle sync has 256 bytes for everything.
            .user_agent(ureq::config::AutoHeaderValue::None)
            .accept(ureq::config::AutoHeaderValue::None)
            .build();
        BuiltinTransport {
            agent: ureq::Agent::new_with_config(config),
        }
    }
}

/// Largest response body accepted (a sync page is at most 8 MiB of document data), decoded.
const MAX_RESPONSE_BYTES: u64 = 64 * 1024 * 1024;

/// The answer with its body decoded when it arrived still in gzip content coding: a transport
/// that asked for gzip itself without decoding it (the built-in one). OkHttp and URLSession ask
/// for gzip and decode it on their own (URLSession keeps the `Content-Encoding` header), so the
/// body is decoded only when the header says gzip *and* the body starts with gzip's magic
/// bytes, which no CBOR or JSON answer of the server does (docs/PROTOCOL.md, "Content coding").
/// A body that does not decode is a network error (cut short on the way).
pub fn decoded(mut resp: HttpResponse) -> Result<HttpResponse, TransportError> {
    use std::io::Read;
    let gzip = resp.headers.iter().any(|h| {
        h.name.eq_ignore_ascii_case("content-encoding")
            && h.value.trim().eq_ignore_ascii_case("gzip")
    });
    if !gzip || !resp.body.starts_with(&[0x1f, 0x8b]) {
        return Ok(resp);
    }
    let mut body = Vec::new();
    flate2::read::GzDecoder::new(&resp.body[..])
        .take(MAX_RESPONSE_BYTES + 1)
        .read_to_end(&mut body)
        .map_err(|e| TransportError::Network {
            reason: format!("gzip body: {e}"),
        })?;
    if body.len() as u64 > MAX_RESPONSE_BYTES {
        return Err(TransportError::Network {
            reason: "response body too large".into(),
        });
    }
    resp.body = body;
    resp.headers.retain(|h| {
        !h.name.eq_ignore_ascii_case("content-encoding")
            && !h.name.eq_ignore_ascii_case("content-length")
    });
    Ok(resp)
}

impl Transport for BuiltinTransport {
    fn send(&self, request: HttpRequest) -> Result<HttpResponse, TransportError> {
        let bad = |e: &dyn std::fmt::Display| TransportError::Request {
            reason: e.to_string(),
        };
        let mut builder = ureq::http::Request::builder()
            .method(request.method.as_str())
            .uri(request.url.as_str());
        for h in &request.headers {
            builder = builder.header(h.name.as_str(), h.value.as_str());
        }
        // Sync pages come gzip-coded when asked for (the SDK decodes them, `decoded`).
        if !request
            .headers
            .iter()
            .any(|h| h.name.eq_ignore_ascii_case("accept-encoding"))
        {
            builder = builder.header("accept-encoding", "gzip");
        }
        let req = builder.body(request.body).map_err(|e| bad(&e))?;
        let mut resp = self.agent.run(req).map_err(|e| match e {
            ureq::Error::BadUri(_) | ureq::Error::Http(_) => bad(&e),
            other => TransportError::Network {
                reason: other.to_string(),
            },
        })?;
        let status = resp.status().as_u16();
        let headers = resp
            .headers()
            .iter()
            .map(|(k, v)| HttpHeader {
                name: k.as_str().to_owned(),
                value: String::from_utf8_lossy(v.as_bytes()).into_owned(),
            })
            .collect();
        let body = resp
            .body_mut()
            .with_config()
            .limit(MAX_RESPONSE_BYTES)
            .read_to_vec()
            .map_err(|e| TransportError::Network {
                reason: e.to_string(),
            })?;
        Ok(HttpResponse {
            status,
            headers,
            body,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    fn gzip(b: &[u8]) -> Vec<u8> {
        let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
        e.write_all(b).unwrap();
        e.finish().unwrap()
    }

    fn answer(coding: Option<&str>, body: Vec<u8>) -> HttpResponse {
        let mut headers = vec![HttpHeader {
            name: "content-length".into(),
            value: body.len().to_string(),
        }];
        if let Some(c) = coding {
            headers.push(HttpHeader {
                name: "Content-Encoding".into(),
                value: c.into(),
            });
        }
        HttpResponse {
            status: 200,
            headers,
            body,
        }
    }

    #[test]
    fn a_gzip_coded_body_is_decoded_once() {
        let page = b"\xa3a CBOR page".repeat(100);
        let got = decoded(answer(Some("gzip"), gzip(&page))).unwrap();
        assert_eq!(got.body, page);
        assert!(got.headers.is_empty(), "{:?}", got.headers);
        // Decoded already by the host's stack, which kept the header (URLSession): left alone.
        let got = decoded(answer(Some("gzip"), page.clone())).unwrap();
        assert_eq!(got.body, page);
        // gzip's magic without the header: not ours to decode.
        let raw = gzip(&page);
        assert_eq!(decoded(answer(None, raw.clone())).unwrap().body, raw);
        assert_eq!(decoded(answer(Some("br"), raw.clone())).unwrap().body, raw);
    }

    #[test]
    fn a_body_cut_short_is_a_network_error() {
        let raw = gzip(&b"page".repeat(1000));
        let cut = raw[..raw.len() / 2].to_vec();
        assert!(matches!(
            decoded(answer(Some("gzip"), cut)),
            Err(TransportError::Network { .. })
        ));
    }
}
