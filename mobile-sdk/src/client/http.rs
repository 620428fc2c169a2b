//! Requests to the server through the app's [`Transport`]: building them, retrying while the
//! network fails or the server is busy, and the server's error answers.

use super::*;

/// Retries of a request that failed for lack of network (or a busy server), with the delay
/// doubling from `first_delay`.
#[derive(Debug, Clone, Copy)]
pub(super) struct RetryPolicy {
    attempts: u32,
    first_delay: Duration,
    max_delay: Duration,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        RetryPolicy {
            attempts: 5,
            first_delay: Duration::from_millis(500),
            max_delay: Duration::from_secs(8),
        }
    }
}

/// The JSON error body of the server.
#[derive(Deserialize, Default)]
pub(super) struct ErrorBody {
    #[serde(default)]
    code: String,
    #[serde(default)]
    message: String,
    #[serde(default)]
    message_en: String,
}

pub(super) fn error_body(resp: &HttpResponse) -> ErrorBody {
    serde_json::from_slice(&resp.body).unwrap_or_default()
}

pub(super) fn server_error(resp: &HttpResponse) -> DoudiError {
    let b = error_body(resp);
    match (resp.status, b.code.as_str()) {
        (403, "auth.device_revoked") => DoudiError::Revoked,
        (426, _) => DoudiError::UpgradeRequired,
        // A refused enrolment code says what to do about it: its message reaches the user.
        (401, code) if !code.starts_with("auth.enrolment_code_") => DoudiError::Unauthorized {
            error_code: b.code,
            detail: b.message_en,
        },
        _ => DoudiError::Server {
            status: resp.status,
            error_code: if b.code.is_empty() {
                format!("http.{}", resp.status)
            } else {
                b.code
            },
            message_zh: if b.message.is_empty() {
                "服务器暂时无法处理，请稍后再试".into()
            } else {
                b.message
            },
            message_en: b.message_en,
        },
    }
}

impl Inner {
    /// Send, retrying with backoff while the network fails or the server is busy.
    pub(super) fn send_retrying(&self, req: &HttpRequest) -> Result<HttpResponse> {
        let mut delay = self.retry.first_delay;
        let mut attempt = 1;
        loop {
            self.check_cancel()?;
            let out = self
                .transport
                .send(req.clone())
                .and_then(crate::transport::decoded);
            let retryable = match &out {
                Err(crate::transport::TransportError::Network { .. }) => true,
                Err(_) => false,
                Ok(r) => r.status == 503 || r.status == 502 || r.status == 504,
            };
            if !retryable || attempt >= self.retry.attempts {
                return match out {
                    Ok(r) => Ok(r),
                    Err(e) => Err(DoudiError::Network {
                        detail: e.to_string(),
                    }),
                };
            }
            self.pause(delay)?;
            delay = (delay * 2).min(self.retry.max_delay);
            attempt += 1;
        }
    }

    pub(super) fn request(
        &self,
        method: &str,
        path: &str,
        content_type: &str,
        body: Vec<u8>,
        bearer: Option<&str>,
    ) -> HttpRequest {
        // The sync endpoint speaks CBOR only, both ways: its requests name no types, which keeps
        // an idle sync within 256 bytes on the wire (docs/PROTOCOL.md, "Authentication").
        let mut headers = Vec::new();
        if content_type != CONTENT_TYPE {
            for name in ["content-type", "accept"] {
                headers.push(HttpHeader {
                    name: name.into(),
                    value: content_type.into(),
                });
            }
        }
        if let Some(t) = bearer {
            headers.push(HttpHeader {
                name: "authorization".into(),
                value: format!("Bearer {t}"),
            });
        }
        HttpRequest {
            method: method.into(),
            url: self.url(path),
            headers,
            body,
        }
    }
}
