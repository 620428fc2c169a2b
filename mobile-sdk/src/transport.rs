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

/// Largest response body accepted (a sync page is at most 8 MiB of document data).
const MAX_RESPONSE_BYTES: u64 = 64 * 1024 * 1024;

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
