//! The error contract of every answer: the request time limit, and error answers made below the
//! handlers (routing, method matching, extractor rejections) turned into what the handlers
//! answer themselves: `{code, message, message_en}` with a documented code under the API, a
//! Chinese page under `/console`.

use std::time::Duration;

use axum::extract::{Request, State};
use axum::http::header;
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

use crate::error::{ApiError, Code};

/// Longest body of a bare error answer read to say why (axum's rejections are one line).
const REASON_BYTES: usize = 1024;

/// Headers of a bare error answer that the contract's answer keeps.
const KEPT: [header::HeaderName; 3] = [header::ALLOW, header::RETRY_AFTER, header::CONTENT_RANGE];

/// Is `path` one of the console's (answered as HTML pages)?
pub fn is_console(path: &str) -> bool {
    path == "/console" || path.starts_with("/console/")
}

/// What the contract needs: the request time limits, and how the console shows an error as a
/// page (the console lies above this layer and hands it in).
#[derive(Debug, Clone, Copy)]
pub struct Contract {
    pub limit: Duration,
    /// The limit of a department list's import ([`is_import`]).
    pub import_limit: Duration,
    pub error_page: fn(ApiError) -> Response,
}

/// Whether `path` imports a department list (`POST`): the API's and the console's two forms.
/// These requests are cut at `import_timeout_secs`, the others at `request_timeout_secs`.
pub fn is_import(path: &str) -> bool {
    matches!(
        path,
        "/api/v1/monitoring/imports" | "/console/monitoring/import" | "/console/monitoring/upload"
    )
}

/// The middleware: cut the request at `request_timeout_secs` (an import at
/// `import_timeout_secs`), then give any error answer not already in the contract's form that
/// form.
pub async fn error_contract(
    State(contract): State<Contract>,
    req: Request,
    next: Next,
) -> Response {
    let console = is_console(req.uri().path());
    let limit = if is_import(req.uri().path()) {
        contract.import_limit
    } else {
        contract.limit
    };
    let answer = |err: ApiError, console: bool| {
        if console {
            (contract.error_page)(err)
        } else {
            err.into_response()
        }
    };
    let resp = match tokio::time::timeout(limit, next.run(req)).await {
        Ok(resp) => resp,
        Err(_) => return answer(ApiError::new(Code::Timeout), console),
    };
    if !(resp.status().is_client_error() || resp.status().is_server_error()) {
        return resp;
    }
    let content_type = resp
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .to_owned();
    let done = if console {
        content_type.starts_with("text/html")
    } else {
        content_type.starts_with("application/json")
    };
    if done {
        return resp;
    }
    let (parts, body) = resp.into_parts();
    let mut err = ApiError::new(Code::for_status(parts.status));
    if content_type.starts_with("text/plain")
        && let Ok(bytes) = axum::body::to_bytes(body, REASON_BYTES).await
        && !bytes.is_empty()
    {
        let reason = String::from_utf8_lossy(&bytes).into_owned();
        err = err.with_details(serde_json::json!({ "reason": reason }));
    }
    let mut out = answer(err, console);
    for name in KEPT {
        if let Some(v) = parts.headers.get(&name) {
            out.headers_mut().insert(name, v.clone());
        }
    }
    out
}
