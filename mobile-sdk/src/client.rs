//! [`DoudiClient`]: the object the app holds. Local reads and captures go to the encrypted store
//! and never touch the network; `login`, `logout` and `sync_now` talk to the server through the
//! [`Transport`].

use std::collections::{BTreeMap, BTreeSet};
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use doudi_protocol::doc::discovery::{
    Channel, DiscoveryReport, DiscoveryStatus, Target, TargetGroup, Urgency,
};
use doudi_protocol::doc::household::key as household_key;
use doudi_protocol::doc::household::{Member, Relation};
use doudi_protocol::doc::visit::key as visit_key;
use doudi_protocol::doc::visit::{
    AddedMember, Comparison, ComparisonSubject, Investigator, MemberCheck, Signature, Visit,
    VisitStatus,
};
use doudi_protocol::doc::{
    self, DocumentContent, GeoPoint, Household, Photo, Severity, UnixMillis,
};
use doudi_protocol::id_number::IdNumber;
use doudi_protocol::identity::{SealKey, SealedId};
use doudi_protocol::ids::{AccountId, BlobHash, DocumentId, DocumentKind, EntryId, MemberId};
use doudi_protocol::sync::engine::{self, Outgoing};
use doudi_protocol::sync::replica::device_actor;
use doudi_protocol::sync::{
    CONTENT_TYPE, PolicyUpdate, SyncRequest, SyncResponse, TaskList, WireTask, from_cbor, to_cbor,
};
use serde::{Deserialize, Serialize};

use crate::blocking;
use crate::error::{DoudiError, Result};
use crate::model::*;
use crate::parallel;
use crate::photo::{self, PhotoConfig, SignatureConfig};
use crate::store::{Store, Writer};
use crate::summary::{self, HouseholdIdx, Summary, VisitIdx};
use crate::sync::{META_POLICY, META_TASKS};
use crate::transport::{
    BuiltinTransport, HttpHeader, HttpRequest, HttpResponse, Transport, TransportError,
};

/// Tokens and account of the logged-in user (sealed in the store).
#[derive(Clone, Serialize, Deserialize)]
struct Session {
    access: String,
    refresh: String,
    account: AccountInfo,
}

const META_SESSION: &str = "session";
const META_DEVICE: &str = "device_id";
/// The server's public key for 身份证号 (hexadecimal), from the login answer.
const META_IDENTITY_KEY: &str = "identity_key";
/// Bytes per upload request: a chunk must finish within the server's request time on a slow
/// link, and an interrupted upload resumes from the last acknowledged chunk.
const UPLOAD_CHUNK: usize = 64 * 1024;
/// Hashes per `POST /blobs/missing` (the server's limit).
const MISSING_BATCH: usize = 1000;
/// Server codes that refuse one blob for good (it stays on the phone and is reported).
const BLOB_REFUSALS: [&str; 4] = [
    "blob.not_image",
    "blob.image_too_large",
    "blob.too_large",
    "blob.hash_mismatch",
];

/// `GET`/`PUT /api/v1/blobs/{sha256}/upload` answer.
#[derive(Debug, Deserialize)]
struct UploadState {
    offset: usize,
    complete: bool,
}

/// A task as sync sends it, as the app sees it.
fn task_from_wire(t: WireTask) -> Task {
    // The task kinds of docs/API.md: a report to verify, a re-check (复核, also after a death or
    // at the end of the 渐退期) or a visit (探访); a kind newer than this SDK is a follow-up (回访).
    let purpose = match t.kind.as_str() {
        "verify_report" => VisitPurpose::DiscoveryCheck,
        "recheck" | "death_recheck" | "phase_out_end" => VisitPurpose::Recheck,
        "visit" => VisitPurpose::CareVisit,
        _ => VisitPurpose::FollowUp,
    };
    Task {
        id: t.id,
        kind: t.kind,
        purpose,
        report_id: t.report_id.filter(|r| !r.is_empty()),
        household_id: t.household_id.filter(|h| !h.is_empty()),
        note: t.note,
        created_at: t.created_at_ms,
        due_at: t.due_at_ms,
    }
}

/// A sync request and the server's answer to it.
struct Pulled {
    out: Outgoing,
    /// Bytes of the request body.
    sent: u64,
    resp: HttpResponse,
}

/// The next round's request, sent while the current page is applied ([`Inner::ask_ahead`]). Its
/// answer is used only after that page is committed; dropped unused on an error or a cancel.
struct Ahead {
    req: SyncRequest,
    sent: u64,
    reply: std::thread::JoinHandle<std::result::Result<HttpResponse, TransportError>>,
}

impl Ahead {
    /// The server's answer, if it is one the round can use as it is; otherwise (no network, an
    /// expired token, a busy server) the round is sent again the ordinary way, with its
    /// retries, token refresh and error handling.
    fn reply(self) -> Option<Pulled> {
        let resp = self.reply.join().ok()?.ok()?;
        (200..300).contains(&resp.status).then_some(Pulled {
            out: Outgoing {
                request: self.req,
                pushed: BTreeMap::new(),
                more_to_push: false,
            },
            sent: self.sent,
            resp,
        })
    }
}

/// Retries of a request that failed for lack of network (or a busy server), with the delay
/// doubling from `first_delay`.
#[derive(Debug, Clone, Copy)]
struct RetryPolicy {
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

pub(crate) struct Inner {
    store: Mutex<Store>,
    base: String,
    transport: Arc<dyn Transport>,
    cancel: Arc<AtomicBool>,
    sync_gate: Mutex<()>,
    retry: RetryPolicy,
    /// Page budget asked of the server (0: its default).
    page_bytes: AtomicU64,
}

/// The SDK: one per store (per logged-in phone).
#[derive(uniffi::Object)]
pub struct DoudiClient {
    pub(crate) inner: Arc<Inner>,
}

impl std::fmt::Debug for DoudiClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DoudiClient")
            .field("server", &self.inner.base)
            .finish()
    }
}

pub(crate) fn now_ms() -> i64 {
    chrono::Utc::now().timestamp_millis()
}

fn platform() -> &'static str {
    if cfg!(target_os = "android") {
        "android"
    } else if cfg!(target_os = "ios") {
        "ios"
    } else {
        "desktop"
    }
}

fn parse_doc_id(field: &str, id: &str) -> Result<DocumentId> {
    DocumentId::parse(id)
        .map_err(|_| DoudiError::invalid(field, "编号格式不正确", "not a valid id"))
}

pub(crate) fn issue_of(i: &doc::Issue) -> FieldIssue {
    FieldIssue {
        path: i.path.clone(),
        code: i.code.to_owned(),
        message_zh: i.message_zh.clone(),
        message_en: i.message_en.clone(),
        blocking: i.severity == Severity::Error,
    }
}

fn first_error(issues: &[doc::Issue]) -> Option<DoudiError> {
    issues
        .iter()
        .find(|i| i.severity == Severity::Error)
        .map(|i| DoudiError::invalid(&i.path, &i.message_zh, &i.message_en))
}

fn gps(lat: Option<f64>, lon: Option<f64>) -> Result<Option<GeoPoint>> {
    match (lat, lon) {
        (None, None) => Ok(None),
        (Some(lat), Some(lon))
            if lat.is_finite()
                && lon.is_finite()
                && (-90.0..=90.0).contains(&lat)
                && (-180.0..=180.0).contains(&lon) =>
        {
            Ok(Some(GeoPoint {
                lat,
                lon,
                accuracy_m: None,
            }))
        }
        _ => Err(DoudiError::invalid(
            "gps",
            "定位坐标不正确",
            "latitude and longitude must both be given and in range",
        )),
    }
}

fn id_number(field: &str, s: Option<&str>) -> Result<Option<IdNumber>> {
    s.filter(|s| !s.trim().is_empty())
        .map(|s| {
            IdNumber::parse(s.trim())
                .map_err(|e| DoudiError::invalid(field, e.message_zh(), e.code()))
        })
        .transpose()
}

/// A captured number as a document holds it (sealed to the server's key), with the number
/// itself for this phone's store.
pub(crate) type Captured = Option<(IdNumber, SealedId)>;

fn visit_summary(id: &str, v: &VisitIdx) -> VisitSummary {
    let status = VisitStatus::parse(&v.status);
    VisitSummary {
        id: id.to_owned(),
        household_id: v.household.clone(),
        purpose: doudi_protocol::doc::visit::Purpose::parse(&v.purpose)
            .map(VisitPurpose::from)
            .unwrap_or(VisitPurpose::Investigation),
        status: v.status.clone(),
        status_label: status
            .map(|s| s.label_zh().to_owned())
            .unwrap_or_else(|| v.status.clone()),
        started_at: v.started_at,
        photo_count: v.photo_count,
        review_comment: v.last_review_comment.clone(),
    }
}

fn household_summary(id: &str, h: &HouseholdIdx) -> HouseholdSummary {
    HouseholdSummary {
        id: id.to_owned(),
        grid: h.grid.clone(),
        head_name: h.head_name.clone(),
        head_id_masked: h.head_id_masked.clone(),
        address: h.address.clone(),
        programmes: h.programmes.clone(),
        member_count: h.member_count,
    }
}

/// The JSON error body of the server.
#[derive(Deserialize, Default)]
struct ErrorBody {
    #[serde(default)]
    code: String,
    #[serde(default)]
    message: String,
    #[serde(default)]
    message_en: String,
}

fn error_body(resp: &HttpResponse) -> ErrorBody {
    serde_json::from_slice(&resp.body).unwrap_or_default()
}

fn server_error(resp: &HttpResponse) -> DoudiError {
    let b = error_body(resp);
    match (resp.status, b.code.as_str()) {
        (403, "auth.device_revoked") => DoudiError::Revoked,
        (426, _) => DoudiError::UpgradeRequired,
        (401, _) => DoudiError::Unauthorized {
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

#[derive(Deserialize)]
struct RegionRef {
    code: String,
    #[serde(default)]
    level: String,
    #[serde(default)]
    parent_code: Option<String>,
}

#[derive(Deserialize)]
struct AccountView {
    id: String,
    username: String,
    display_name: String,
    role: String,
    #[serde(default)]
    regions: Vec<RegionRef>,
}

#[derive(Deserialize)]
struct TokenResponse {
    access_token: String,
    refresh_token: String,
    device_id: String,
    account: AccountView,
    #[serde(default)]
    identity_key: Option<String>,
}

impl TokenResponse {
    fn session(self) -> Session {
        Session {
            access: self.access_token,
            refresh: self.refresh_token,
            account: AccountInfo {
                id: self.account.id,
                username: self.account.username,
                display_name: self.account.display_name,
                role: self.account.role,
                regions: self.account.regions.into_iter().map(|r| r.code).collect(),
                device_id: self.device_id,
            },
        }
    }
}

impl Inner {
    pub(crate) fn store(&self) -> MutexGuard<'_, Store> {
        self.store.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn session(&self) -> Result<Session> {
        self.store()
            .meta::<Session>(META_SESSION)?
            .ok_or(DoudiError::NotLoggedIn)
    }

    fn url(&self, path: &str) -> String {
        format!("{}{}", self.base, path)
    }

    fn check_cancel(&self) -> Result<()> {
        if self.cancel.load(Ordering::SeqCst) {
            Err(DoudiError::Cancelled)
        } else {
            Ok(())
        }
    }

    /// Sleep, waking early to notice a cancel.
    fn pause(&self, d: Duration) -> Result<()> {
        let step = Duration::from_millis(50);
        let mut left = d;
        while !left.is_zero() {
            self.check_cancel()?;
            let s = left.min(step);
            std::thread::sleep(s);
            left -= s;
        }
        self.check_cancel()
    }

    /// Send, retrying with backoff while the network fails or the server is busy.
    fn send_retrying(&self, req: &HttpRequest) -> Result<HttpResponse> {
        let mut delay = self.retry.first_delay;
        let mut attempt = 1;
        loop {
            self.check_cancel()?;
            let out = self.transport.send(req.clone());
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

    fn request(
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

    /// An authenticated call: on a refused access token, refresh once and retry; on
    /// revocation, wipe the store.
    fn authed(
        &self,
        method: &str,
        path: &str,
        content_type: &str,
        body: Vec<u8>,
    ) -> Result<HttpResponse> {
        let mut refreshed = false;
        loop {
            let session = self.session()?;
            let req = self.request(
                method,
                path,
                content_type,
                body.clone(),
                Some(&session.access),
            );
            let resp = self.send_retrying(&req)?;
            if (200..300).contains(&resp.status) {
                return Ok(resp);
            }
            let err = server_error(&resp);
            match &err {
                DoudiError::Unauthorized { error_code, .. }
                    if !refreshed
                        && matches!(
                            error_code.as_str(),
                            "auth.token_expired" | "auth.token_invalid" | "auth.token_missing"
                        ) =>
                {
                    self.refresh(&session)?;
                    refreshed = true;
                }
                DoudiError::Revoked => {
                    self.store().wipe()?;
                    return Err(DoudiError::Revoked);
                }
                _ => return Err(err),
            }
        }
    }

    /// Exchange the refresh token for a new pair and persist it at once (a refresh token works
    /// only once; losing the new one would end the session).
    fn refresh(&self, session: &Session) -> Result<()> {
        let body = serde_json::to_vec(&serde_json::json!({ "refresh_token": session.refresh }))
            .map_err(DoudiError::internal)?;
        let req = self.request(
            "POST",
            "/api/v1/auth/refresh",
            "application/json",
            body,
            None,
        );
        let resp = self.send_retrying(&req)?;
        if resp.status != 200 {
            let err = server_error(&resp);
            if err == DoudiError::Revoked {
                self.store().wipe()?;
            }
            return Err(err);
        }
        let tokens: TokenResponse =
            serde_json::from_slice(&resp.body).map_err(DoudiError::internal)?;
        let new = tokens.session();
        self.store().put_meta(META_SESSION, Some(&new))?;
        Ok(())
    }

    fn login(&self, username: &str, password: &str, device_name: &str) -> Result<AccountInfo> {
        let device_id: Option<String> = self.store().meta(META_DEVICE)?;
        let mut device = serde_json::json!({ "name": device_name, "platform": platform() });
        if let Some(id) = &device_id {
            device["id"] = serde_json::json!(id);
        }
        let body = serde_json::to_vec(&serde_json::json!({
            "username": username, "password": password, "device": device,
        }))
        .map_err(DoudiError::internal)?;
        let req = self.request("POST", "/api/v1/auth/login", "application/json", body, None);
        let resp = self.send_retrying(&req)?;
        if resp.status != 200 {
            return Err(match server_error(&resp) {
                // A revoked phone id: forget it and let the user log in as a new phone.
                DoudiError::Revoked => {
                    self.store().wipe()?;
                    DoudiError::Revoked
                }
                e => e,
            });
        }
        let tokens: TokenResponse =
            serde_json::from_slice(&resp.body).map_err(DoudiError::internal)?;
        let identity_key = tokens
            .identity_key
            .clone()
            .filter(|k| SealKey::parse_hex(k).is_some());
        let regions = crate::regions::PolicyRegions::of_account(
            tokens
                .account
                .regions
                .iter()
                .map(|r| (r.code.as_str(), r.level.as_str(), r.parent_code.as_deref())),
        );
        let session = tokens.session();
        let mut store = self.store();
        let previous: Option<Session> = store.meta(META_SESSION)?;
        let last_account: Option<String> = store.meta("account_id")?;
        let other_account = last_account.is_some_and(|a| a != session.account.id)
            || previous.is_some_and(|p| p.account.id != session.account.id);
        if other_account {
            // Another person's data never stays on the phone of the next one.
            store.clear_data()?;
        }
        store.write(|w| {
            w.put_meta(META_SESSION, Some(&session))?;
            w.put_meta(META_DEVICE, Some(&session.account.device_id))?;
            w.put_meta(crate::regions::META_POLICY_REGIONS, Some(&regions))?;
            if let Some(k) = &identity_key {
                w.put_meta(META_IDENTITY_KEY, Some(k))?;
            }
            w.put_meta("account_id", Some(&session.account.id))
        })?;
        Ok(session.account)
    }

    fn logout(&self) -> Result<()> {
        if let Ok(session) = self.session() {
            let req = self.request(
                "POST",
                "/api/v1/auth/logout",
                "application/json",
                Vec::new(),
                Some(&session.access),
            );
            // Best effort: offline, the session simply ends locally.
            let _ = self.transport.send(req);
        }
        self.store().put_meta::<Session>(META_SESSION, None)
    }

    // ---- sync ----

    /// The request of one round, with the heads of each pushed document at this moment.
    fn prepare(&self, skip: &BTreeSet<String>) -> Result<Outgoing> {
        let (actor, _) = self.actor_and_account()?;
        let page_bytes = match self.page_bytes.load(Ordering::Relaxed) {
            0 => None,
            n => Some(n),
        };
        engine::prepare(&mut *self.store(), actor.to_bytes(), page_bytes, skip)
    }

    /// Send the request that will follow `resp` once it is applied, on a thread of its own, so
    /// that the server prepares the next page while this one is applied. Only for a round that
    /// pushed nothing: the next request is then a pull on from `resp`, with the policy and
    /// task list the store will hold after `resp`. `None` when it cannot be sent now (the
    /// round then goes the ordinary way).
    fn ask_ahead(&self, req: &SyncRequest, resp: &SyncResponse) -> Option<Ahead> {
        let next = engine::follow_up(req, resp)?;
        let body = to_cbor(&next);
        let sent = body.len() as u64;
        let session = self.session().ok()?;
        let http = self.request(
            "POST",
            "/api/v1/sync",
            CONTENT_TYPE,
            body,
            Some(&session.access),
        );
        let transport = self.transport.clone();
        let reply = std::thread::Builder::new()
            .name("doudi-sync".into())
            .spawn(move || transport.send(http))
            .ok()?;
        Some(Ahead {
            req: next,
            sent,
            reply,
        })
    }

    /// Apply one response in one transaction; whether to sync again at once.
    fn apply(&self, out: &Outgoing, resp: SyncResponse, summary: &mut SyncSummary) -> Result<bool> {
        // Snapshots are decoded on all cores, before the store is locked.
        let snapshots = parallel::map(&resp.updates, engine::decode_snapshot);
        let outcome = engine::apply(&mut *self.store(), out, resp, snapshots)?;
        summary.documents_sent += outcome.accepted.len() as u32;
        summary.documents_received += outcome.updated.len() as u32;
        summary.documents_purged += outcome.purged.len() as u32;
        summary
            .rejected
            .extend(outcome.rejected.into_iter().map(|r| {
                RejectedDocument {
                    id: r.doc,
                    code: r.code.unwrap_or_default(),
                    message_zh: r.message.unwrap_or_default(),
                    message_en: r.message_en.unwrap_or_default(),
                    issues: r
                        .issues
                        .into_iter()
                        .map(|i| FieldIssue {
                            path: i.path,
                            code: i.code,
                            message_zh: i.message,
                            message_en: i.message_en,
                            blocking: true,
                        })
                        .collect(),
                }
            }));
        Ok(outcome.more)
    }

    fn sync(&self, progress: Option<Arc<dyn SyncProgress>>) -> Result<SyncSummary> {
        let _gate = self.sync_gate.lock().unwrap_or_else(|e| e.into_inner());
        self.cancel.store(false, Ordering::SeqCst);
        self.session()?;
        let mut out = SyncSummary::default();
        let mut ahead: Option<Ahead> = None;
        // Documents refused in an earlier round of this sync are not pushed again in it.
        let mut refused = BTreeSet::new();
        loop {
            self.check_cancel()?;
            let (pulled, ahead_used) = match ahead.take().and_then(Ahead::reply) {
                Some(pulled) => (pulled, true),
                None => {
                    let out = self.prepare(&refused)?;
                    let body = to_cbor(&out.request);
                    let sent = body.len() as u64;
                    let resp = self.authed("POST", "/api/v1/sync", CONTENT_TYPE, body)?;
                    (Pulled { out, sent, resp }, false)
                }
            };
            let Pulled {
                out: request,
                sent,
                resp,
            } = pulled;
            let received = resp.body.len() as u64;
            let decoded: SyncResponse = from_cbor(&resp.body).map_err(|e| DoudiError::Network {
                detail: format!("unreadable sync response: {e}"),
            })?;
            if decoded.more && request.request.push.is_empty() && !request.more_to_push {
                ahead = self.ask_ahead(&request.request, &decoded);
            }
            // Edits saved while the last page was applied go in another round.
            let rejected_before = out.rejected.len();
            let more = self.apply(&request, decoded, &mut out)?
                || (ahead_used && !self.store().dirty_ids()?.is_empty());
            refused.extend(out.rejected[rejected_before..].iter().map(|r| r.id.clone()));
            out.rounds += 1;
            out.bytes_sent += sent;
            out.bytes_received += received;
            if let Some(p) = &progress {
                let pending = self.store().pending_blobs()?.len() as u32;
                p.on_progress(out.progress(pending, more));
            }
            if !more {
                break;
            }
        }
        self.upload_pending(&mut out, progress.as_deref())?;
        self.check_cancel()?;
        out.pending_uploads = self.store().pending_blobs()?.len() as u32;
        Ok(out)
    }

    // ---- uploads ----

    /// Upload the photos and signatures this account has not uploaded yet (the server counts a
    /// document's photo for its readers once the account that attached it has uploaded it),
    /// after the documents that point at them, resuming each from the server's acknowledged
    /// offset.
    fn upload_pending(
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
    fn upload_state(&self, path: &str) -> Result<UploadState> {
        let resp = self.authed("GET", path, "application/json", Vec::new())?;
        serde_json::from_slice(&resp.body).map_err(|e| DoudiError::Network {
            detail: format!("unreadable upload state: {e}"),
        })
    }

    /// Send one blob from where the server's copy ends, chunk by chunk.
    fn upload_one(&self, hash: &str, out: &mut SyncSummary) -> Result<()> {
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

    // ---- local edits ----

    pub(crate) fn actor_and_account(&self) -> Result<(automerge::ActorId, AccountInfo)> {
        let s = self.session()?;
        let actor = device_actor(&s.account.device_id)
            .ok_or_else(|| DoudiError::internal("device id is not 32 hex characters"))?;
        Ok((actor, s.account))
    }

    /// Create a document and store it in one transaction.
    /// A number typed in at `field`, checked and sealed to the server's key (from the login
    /// answer): documents never hold it in clear.
    pub(crate) fn capture(&self, field: &str, s: Option<&str>) -> Result<Captured> {
        let Some(n) = id_number(field, s)? else {
            return Ok(None);
        };
        let key = self
            .store()
            .meta::<String>(META_IDENTITY_KEY)?
            .and_then(|k| SealKey::parse_hex(&k))
            .ok_or_else(|| {
                DoudiError::invalid(
                    field,
                    "本机尚未取得加密身份证号的密钥，请联网登录后再录入",
                    "this phone has not received the key that ID numbers are sealed with: log in online first",
                )
            })?;
        let sealed = key.seal(&n);
        Ok(Some((n, sealed)))
    }

    fn create<C: DocumentContent>(&self, scope: &str, content: &C) -> Result<String> {
        self.create_with(scope, content, &[])
    }

    /// [`Inner::create`], keeping the clear numbers the document holds sealed (`(entry,
    /// number)`) in the same transaction.
    fn create_with<C: DocumentContent>(
        &self,
        scope: &str,
        content: &C,
        numbers: &[(String, &IdNumber)],
    ) -> Result<String> {
        let mut issues = Vec::new();
        content.validate(&mut issues);
        if let Some(e) = first_error(&issues) {
            return Err(e);
        }
        let (actor, _) = self.actor_and_account()?;
        let id = DocumentId::generate().map_err(DoudiError::internal)?;
        let mut d = doc::create(id, scope, content, Some(actor))?;
        let id = id.to_string();
        let kind = C::KIND.as_str();
        let s = summary::summarize(kind, scope, &d)?;
        self.store().write(|w| {
            w.put_doc(&id, kind, scope, &mut d, None, &[], s)?;
            for (entry, n) in numbers {
                w.put_identity(&id, entry, n.expose())?;
            }
            Ok(())
        })?;
        Ok(id)
    }

    /// Read, change and store a document in one transaction; `extra` writes alongside it.
    pub(crate) fn edit<C: DocumentContent, T>(
        &self,
        id: &str,
        f: impl FnOnce(&mut C) -> Result<T>,
        extra: impl FnOnce(&mut Writer<'_>) -> Result<()>,
    ) -> Result<T> {
        let (actor, _) = self.actor_and_account()?;
        let mut store = self.store();
        let what = C::KIND.as_str();
        let mut sd = store
            .load_doc(id)?
            .filter(|sd| sd.kind == what)
            .ok_or_else(|| DoudiError::not_found(what, id))?;
        let (_, mut content) = doc::read::<C, _>(&sd.doc)?;
        let out = f(&mut content)?;
        sd.doc.set_actor(actor);
        doc::write(&mut sd.doc, &content)?;
        // Each change carries the phone's time (unix ms): the console shows a visit's reviewer
        // the household changes its investigators made during the visit by this time.
        sd.doc
            .commit_with(automerge::transaction::CommitOptions::default().with_time(now_ms()));
        let s = summary::summarize(what, &sd.scope, &sd.doc)?;
        store.write(|w| {
            w.put_doc(id, what, &sd.scope, &mut sd.doc, None, &sd.acked, s)?;
            extra(w)
        })?;
        Ok(out)
    }

    fn edit_visit<T>(
        &self,
        id: &str,
        f: impl FnOnce(&mut Visit) -> Result<T>,
        extra: impl FnOnce(&mut Writer<'_>) -> Result<()>,
    ) -> Result<T> {
        self.edit::<Visit, T>(
            id,
            |v| {
                if !v.status.phone_may_edit() {
                    return Err(DoudiError::Conflict {
                        error_code: "visit.not_editable".into(),
                        message_zh: format!("走访记录{}，不能再修改", v.status.label_zh()),
                        message_en: format!("the visit is {}; it cannot change", v.status.as_str()),
                    });
                }
                f(v)
            },
            extra,
        )
    }

    /// An edit of a visit that cannot fail by itself.
    fn change_visit(&self, id: &str, f: impl FnOnce(&mut Visit)) -> Result<()> {
        self.edit_visit(
            id,
            |v| {
                f(v);
                Ok(())
            },
            |_| Ok(()),
        )
    }

    pub(crate) fn read<C: DocumentContent>(&self, id: &str) -> Result<(String, C)> {
        let what = C::KIND.as_str();
        let sd = self
            .store()
            .load_doc(id)?
            .filter(|sd| sd.kind == what)
            .ok_or_else(|| DoudiError::not_found(what, id))?;
        let (_, c) = doc::read::<C, _>(&sd.doc)?;
        Ok((sd.scope, c))
    }

    fn default_grid(&self, account: &AccountInfo) -> Result<String> {
        account
            .regions
            .first()
            .cloned()
            .ok_or_else(|| DoudiError::invalid("grid", "请选择网格", "choose the grid"))
    }
}

#[uniffi::export]
impl DoudiClient {
    /// Ask the server for pages of about `bytes` of document data (it clamps them to
    /// 4 KiB … 8 MiB; 0: its default of 512 KiB). For slow links and tests.
    pub fn set_page_bytes(&self, bytes: u64) {
        self.inner.page_bytes.store(bytes, Ordering::Relaxed);
    }

    /// Version of the region policy book (低保 standards, multipliers, deadlines) received
    /// through sync; 0 before the first. The book stays in the encrypted store, so indicators
    /// and due dates work offline; sync sends it again only when the server's version changes.
    pub fn policy_version(&self) -> Result<u64> {
        Ok(self
            .inner
            .store()
            .meta::<PolicyUpdate>(META_POLICY)?
            .map_or(0, |p| p.version))
    }
}

#[uniffi::export]
impl DoudiClient {
    /// Open (or create) the encrypted store in `store_dir` with `key` (32 bytes, kept by the app
    /// in Android Keystore / iOS Keychain; the SDK never writes it). `server_url` is the base
    /// URL, e.g. `https://doudi.example.gov.cn`. Without a `transport` the built-in one is used
    /// (plain HTTP; for desktop tools and tests).
    #[uniffi::constructor]
    pub fn open(
        store_dir: String,
        key: Vec<u8>,
        server_url: String,
        transport: Option<Arc<dyn Transport>>,
    ) -> Result<Arc<DoudiClient>> {
        let store = Store::open(&PathBuf::from(store_dir), &key)?;
        Ok(Arc::new(DoudiClient {
            inner: Arc::new(Inner {
                store: Mutex::new(store),
                base: server_url.trim_end_matches('/').to_owned(),
                transport: transport.unwrap_or_else(|| Arc::new(BuiltinTransport::default())),
                cancel: Arc::new(AtomicBool::new(false)),
                sync_gate: Mutex::new(()),
                retry: RetryPolicy::default(),
                page_bytes: AtomicU64::new(0),
            }),
        }))
    }

    /// Log in; registers this phone on first login and keeps its device id afterwards.
    pub async fn login(
        &self,
        username: String,
        password: String,
        device_name: String,
    ) -> Result<AccountInfo> {
        let inner = self.inner.clone();
        blocking::spawn(None, move || {
            inner.login(&username, &password, &device_name)
        })
        .await
    }

    /// End the session (on the server too when online). Local records stay for the same user.
    pub async fn logout(&self) -> Result<()> {
        let inner = self.inner.clone();
        blocking::spawn(None, move || inner.logout()).await
    }

    /// The logged-in account, if any.
    pub fn account(&self) -> Result<Option<AccountInfo>> {
        Ok(self
            .inner
            .store()
            .meta::<Session>(META_SESSION)?
            .map(|s| s.account))
    }

    /// Households on this phone, by address; `query` searches the name of any member, the
    /// address, or the last 4–6 characters of an ID number. Offline.
    pub fn households(&self, query: String) -> Vec<HouseholdSummary> {
        let store = self.inner.store();
        let mut out: Vec<HouseholdSummary> = store
            .index
            .iter()
            .filter_map(|(id, s)| match s {
                Summary::Household(h) if summary::matches(h, &query) => {
                    Some(household_summary(id, h))
                }
                _ => None,
            })
            .collect();
        out.sort_by(|a, b| a.address.cmp(&b.address).then(a.id.cmp(&b.id)));
        out
    }

    /// One household with its members and visits. Offline.
    pub fn household(&self, id: String) -> Result<HouseholdDetail> {
        let (scope, h) = self.inner.read::<Household>(&id)?;
        let mut visits: Vec<VisitSummary> = self
            .inner
            .store()
            .index
            .iter()
            .filter_map(|(vid, s)| match s {
                Summary::Visit(v) if v.household == id => Some(visit_summary(vid, v)),
                _ => None,
            })
            .collect();
        visits.sort_by_key(|v| std::cmp::Reverse(v.started_at));
        let held = self.inner.store().identities(&id)?;
        let members = h
            .members
            .iter()
            .map(|(mid, m)| MemberInfo {
                id: mid.to_string(),
                name: m.name.clone(),
                id_number_masked: m.identity.as_ref().map(|n| n.masked.to_string()),
                // Shown only while the document still holds that number.
                id_number: m.identity.as_ref().and_then(|sealed| {
                    held.get(&format!("{}.{mid}", household_key::MEMBERS))
                        .filter(|n| n.masked() == sealed.masked.as_str())
                        .map(|n| n.expose().to_owned())
                }),
                relation: m.relation.as_str().to_owned(),
                relation_label: m.relation.label_zh().to_owned(),
                current: m.is_current(),
            })
            .collect();
        Ok(HouseholdDetail {
            summary: household_summary(&id, &summary::household_idx(&scope, &h)),
            hukou_type: h.hukou_type.map(|t| t.label_zh().to_owned()),
            registered_address: h.registered_address.clone(),
            members,
            visits,
        })
    }

    /// Register a household found in the field (新增户), with its head. `grid` defaults to the
    /// account's first region. Returns the household id.
    pub fn create_household(
        &self,
        grid: Option<String>,
        address: String,
        head_name: String,
        head_id_number: Option<String>,
    ) -> Result<String> {
        let (_, account) = self.inner.actor_and_account()?;
        let grid = match grid {
            Some(g) => g,
            None => self.inner.default_grid(&account)?,
        };
        if address.trim().is_empty() {
            return Err(DoudiError::invalid(
                "address",
                "请填写地址",
                "the address is required",
            ));
        }
        let mut head = Member::new(head_name.trim(), Relation::Head);
        let captured = self
            .inner
            .capture("head_id_number", head_id_number.as_deref())?;
        head.identity = captured.as_ref().map(|(_, s)| s.clone());
        let mut h = Household {
            address: address.trim().to_owned(),
            ..Default::default()
        };
        let head_id = MemberId::generate().map_err(DoudiError::internal)?;
        h.members.insert(head_id, head);
        let numbers: Vec<(String, &IdNumber)> = captured
            .iter()
            .map(|(n, _)| (format!("{}.{head_id}", household_key::MEMBERS), n))
            .collect();
        self.inner.create_with(&grid, &h, &numbers)
    }

    /// Start a visit to a household; the logged-in user is its first investigator and the start
    /// time is now. Returns the visit id.
    pub fn start_visit(&self, household_id: String, purpose: VisitPurpose) -> Result<String> {
        if purpose == VisitPurpose::DiscoveryCheck {
            return Err(DoudiError::invalid(
                "purpose",
                "主动发现核查请从所核实的报告开始",
                "start a discovery check from the report it verifies (start_report_visit)",
            ));
        }
        self.inner
            .start_visit(&household_id, |hid| (Visit::new(hid, purpose.into()), None))
    }

    /// Start a 主动发现核查 (discovery check) of `household_id` verifying the discovery report
    /// `report_id`; both must be held and in the same grid. Offline.
    pub fn start_report_visit(&self, report_id: String, household_id: String) -> Result<String> {
        let rid = parse_doc_id("report_id", &report_id)?;
        let report_grid = match self.inner.store().load_doc(&report_id)? {
            Some(held) if held.kind == DocumentKind::DiscoveryReport.as_str() => held.scope,
            _ => return Err(DoudiError::not_found("report", &report_id)),
        };
        self.inner.start_visit(&household_id, |hid| {
            let mut v = Visit::new(hid, doudi_protocol::doc::visit::Purpose::DiscoveryCheck);
            v.report = Some(rid);
            (v, Some(report_grid))
        })
    }
}

impl Inner {
    /// A draft visit of `household_id` made by `make` (from the household's id; with the grid
    /// the visit must also match, if any), started now with this account as its first
    /// investigator.
    fn start_visit(
        &self,
        household_id: &str,
        make: impl FnOnce(DocumentId) -> (Visit, Option<String>),
    ) -> Result<String> {
        let hid = parse_doc_id("household_id", household_id)?;
        let grid = match self.store().index.get(household_id) {
            Some(Summary::Household(h)) => h.grid.clone(),
            _ => return Err(DoudiError::not_found("household", household_id)),
        };
        let (mut v, must_match) = make(hid);
        if must_match.is_some_and(|g| g != grid) {
            return Err(DoudiError::invalid(
                "household_id",
                "所核实的报告与家庭不在同一网格",
                "the report and the household lie in different grids",
            ));
        }
        let (_, account) = self.actor_and_account()?;
        v.started_at = Some(UnixMillis(now_ms()));
        if let Ok(a) = AccountId::parse(&account.id) {
            v.investigators.insert(
                a,
                Investigator {
                    name: account.display_name.clone(),
                },
            );
        }
        self.create(&grid, &v)
    }
}

#[uniffi::export]
impl DoudiClient {
    /// A visit in full. Offline.
    pub fn visit(&self, id: String) -> Result<VisitDetail> {
        let (_, v) = self.inner.read::<Visit>(&id)?;
        let pending: std::collections::BTreeSet<String> = self
            .inner
            .store()
            .pending_blobs()?
            .into_iter()
            .map(|b| b.hash)
            .collect();
        Ok(VisitDetail {
            summary: visit_summary(&id, &summary::visit_idx(&v)),
            report_id: v.report.map(|r| r.to_string()),
            ended_at: v.ended_at.map(|t| t.0),
            investigators: v
                .investigators
                .iter()
                .map(|(a, i)| InvestigatorInput {
                    account_id: a.to_string(),
                    name: i.name.clone(),
                })
                .collect(),
            living: LivingConditions {
                food: v.living.food.clone(),
                clothing: v.living.clothing.clone(),
                housing: v.living.housing.clone(),
                daily_goods: v.living.daily_goods.clone(),
            },
            conclusion: v.conclusion.map(Conclusion::from),
            conclusion_notes: v.conclusion_notes.clone(),
            photos: v
                .photos
                .iter()
                .map(|(h, p)| AttachmentInfo {
                    hash: h.to_string(),
                    category: p.category.as_str().to_owned(),
                    caption: p.caption.clone(),
                    at: Some(p.captured_at.0),
                    uploaded: !pending.contains(&h.to_string()),
                })
                .collect(),
            signatures: v
                .signatures
                .iter()
                .map(|(h, s)| AttachmentInfo {
                    hash: h.to_string(),
                    category: s.role.as_str().to_owned(),
                    caption: Some(s.signer_name.clone()),
                    at: s.signed_at.map(|t| t.0),
                    uploaded: !pending.contains(&h.to_string()),
                })
                .collect(),
        })
    }

    /// Replace the investigators (调查人员) of a visit.
    pub fn set_investigators(
        &self,
        visit_id: String,
        investigators: Vec<InvestigatorInput>,
    ) -> Result<()> {
        let mut map = BTreeMap::new();
        for i in investigators {
            let a = AccountId::parse(&i.account_id).map_err(|_| {
                DoudiError::invalid("investigators", "调查人员账号不正确", "not an account id")
            })?;
            map.insert(a, Investigator { name: i.name });
        }
        self.inner.change_visit(&visit_id, |v| {
            v.investigators = map;
        })
    }

    /// Start and end time (Unix milliseconds).
    pub fn set_visit_times(
        &self,
        visit_id: String,
        started_at: Option<i64>,
        ended_at: Option<i64>,
    ) -> Result<()> {
        self.inner.change_visit(&visit_id, |v| {
            v.started_at = started_at.map(UnixMillis);
            v.ended_at = ended_at.map(UnixMillis);
        })
    }

    /// What the visit found about a member on record (在场, 核实, 减员).
    pub fn set_member_check(&self, visit_id: String, check: MemberCheckInput) -> Result<()> {
        let mid = MemberId::parse(&check.member_id)
            .map_err(|_| DoudiError::invalid("member_id", "成员编号不正确", "not a member id"))?;
        self.inner.change_visit(&visit_id, |v| {
            v.member_checks.insert(
                mid,
                MemberCheck {
                    present: check.present,
                    confirmed: check.confirmed,
                    removed: check.removed,
                    removal_reason: check.removal_reason,
                    not_signed_reason: check.not_signed_reason,
                    note: check.note,
                },
            );
        })
    }

    /// A person found at the visit who is not on record (增员): recorded on the visit and added to
    /// the household record under the same id (then `set_member_details` records their
    /// circumstances). Returns the new member's id.
    pub fn add_member(&self, visit_id: String, member: NewMemberInput) -> Result<String> {
        let relation = Relation::parse(&member.relation).ok_or_else(|| {
            DoudiError::invalid("relation", "与户主关系不正确", "unknown relation code")
        })?;
        let captured = self
            .inner
            .capture("id_number", member.id_number.as_deref())?;
        let mid = MemberId::generate().map_err(DoudiError::internal)?;
        let (_, visit) = self.inner.read::<Visit>(&visit_id)?;
        if !visit.status.phone_may_edit() {
            return Err(DoudiError::Conflict {
                error_code: "visit.not_editable".into(),
                message_zh: format!("走访记录{}，不能再修改", visit.status.label_zh()),
                message_en: format!("the visit is {}; it cannot change", visit.status.as_str()),
            });
        }
        // The member goes into the household record at once, under the id the visit records
        // the 增员 with (what a visit finds is written into the household record: docs/REVIEW.md).
        // Two documents, two transactions: the household first, so that a member the visit
        // names is always on record.
        let household_id = visit.household.to_string();
        let household_entry = format!("{}.{mid}", household_key::MEMBERS);
        self.inner.edit::<Household, ()>(
            &household_id,
            |h| {
                let mut m = Member::new(member.name.trim(), relation);
                m.identity = captured.as_ref().map(|(_, s)| s.clone());
                h.members.insert(mid, m);
                Ok(())
            },
            |w| match &captured {
                Some((n, _)) => w.put_identity(&household_id, &household_entry, n.expose()),
                None => Ok(()),
            },
        )?;
        let entry = format!("{}.{mid}", visit_key::MEMBERS_ADDED);
        self.inner.edit_visit(
            &visit_id,
            |v| {
                v.members_added.insert(
                    mid,
                    AddedMember {
                        name: member.name,
                        identity: captured.as_ref().map(|(_, s)| s.clone()),
                        relation,
                        note: member.note,
                    },
                );
                Ok(())
            },
            |w| match &captured {
                Some((n, _)) => w.put_identity(&visit_id, &entry, n.expose()),
                None => Ok(()),
            },
        )?;
        Ok(mid.to_string())
    }

    /// Living conditions seen (吃穿住用).
    pub fn set_living_conditions(&self, visit_id: String, living: LivingConditions) -> Result<()> {
        self.inner.change_visit(&visit_id, |v| {
            v.living.food = living.food;
            v.living.clothing = living.clothing;
            v.living.housing = living.housing;
            v.living.daily_goods = living.daily_goods;
        })
    }

    /// Income or an asset as declared and as seen. Returns the note's id.
    pub fn add_income_note(&self, visit_id: String, note: IncomeNoteInput) -> Result<String> {
        if note.declared_fen.is_some_and(|v| v < 0) || note.observed_fen.is_some_and(|v| v < 0) {
            return Err(DoudiError::invalid(
                "amount",
                "金额不能为负数",
                "an amount must not be negative",
            ));
        }
        let eid = EntryId::generate().map_err(DoudiError::internal)?;
        self.inner.change_visit(&visit_id, |v| {
            v.comparisons.insert(
                eid,
                Comparison {
                    subject: if note.is_asset {
                        ComparisonSubject::Asset
                    } else {
                        ComparisonSubject::Income
                    },
                    description: note.description,
                    declared_fen: note.declared_fen,
                    observed_fen: note.observed_fen,
                    note: note.note,
                },
            );
        })?;
        Ok(eid.to_string())
    }

    /// The conclusion (调查结论) and its notes.
    pub fn set_conclusion(
        &self,
        visit_id: String,
        conclusion: Option<Conclusion>,
        notes: Option<String>,
    ) -> Result<()> {
        self.inner.change_visit(&visit_id, |v| {
            v.conclusion = conclusion.map(Into::into);
            v.conclusion_notes = notes;
        })
    }

    /// Where the visit took place (one fix, WGS-84).
    pub fn set_visit_location(&self, visit_id: String, lat: f64, lon: f64) -> Result<()> {
        let point = gps(Some(lat), Some(lon))?;
        self.inner.change_visit(&visit_id, |v| {
            v.gps = point;
        })
    }

    /// Attach a photo: it goes through the photo pipeline (upright, 1600 px JPEG, thumbnail, no
    /// metadata), is stored encrypted and waits for upload. Returns its SHA-256.
    // The app's call names each field of the capture (uniffi has no builder).
    #[allow(clippy::too_many_arguments)]
    pub fn attach_photo(
        &self,
        visit_id: String,
        bytes: Vec<u8>,
        category: PhotoCategory,
        caption: Option<String>,
        captured_at: i64,
        lat: Option<f64>,
        lon: Option<f64>,
    ) -> Result<String> {
        let point = gps(lat, lon)?;
        let processed = photo::process_photo(&bytes, &PhotoConfig::default())?;
        let hash = processed.image.sha256.clone();
        let key = BlobHash::parse(&hash).map_err(DoudiError::internal)?;
        let vid = visit_id.clone();
        self.inner.edit_visit(
            &visit_id,
            |v| {
                v.photos.insert(
                    key,
                    Photo {
                        category: category.into(),
                        caption,
                        captured_at: UnixMillis(captured_at),
                        gps: point,
                    },
                );
                Ok(())
            },
            |w| {
                w.put_blob(
                    &hash,
                    &vid,
                    "photo",
                    processed.image.mime,
                    &processed.image.bytes,
                    Some(&processed.thumbnail.bytes),
                    now_ms(),
                )
            },
        )?;
        Ok(processed.image.sha256)
    }

    /// Attach a signature (签字) drawn on the phone, as a PNG. Investigators give their account
    /// id; a family member gives their member id (of the household, or added at this visit):
    /// each member present signs (DB2021 art. 16). Returns its SHA-256.
    #[uniffi::method(default(member_id = None))]
    #[allow(clippy::too_many_arguments)]
    pub fn attach_signature(
        &self,
        visit_id: String,
        png: Vec<u8>,
        signer_name: String,
        role: SignerRole,
        account_id: Option<String>,
        signed_at: i64,
        member_id: Option<String>,
    ) -> Result<String> {
        let account = account_id
            .map(|a| {
                AccountId::parse(&a).map_err(|_| {
                    DoudiError::invalid("account_id", "账号不正确", "not an account id")
                })
            })
            .transpose()?;
        let member = member_id
            .map(|m| {
                MemberId::parse(&m).map_err(|_| {
                    DoudiError::invalid("member_id", "成员编号不正确", "not a member id")
                })
            })
            .transpose()?;
        let processed = photo::process_signature(&png, &SignatureConfig::default())?;
        let hash = processed.image.sha256.clone();
        let key = BlobHash::parse(&hash).map_err(DoudiError::internal)?;
        let vid = visit_id.clone();
        self.inner.edit_visit(
            &visit_id,
            |v| {
                v.signatures.insert(
                    key,
                    Signature {
                        signer_name,
                        role: role.into(),
                        account,
                        member,
                        signed_at: Some(UnixMillis(signed_at)),
                    },
                );
                Ok(())
            },
            |w| {
                w.put_blob(
                    &hash,
                    &vid,
                    "signature",
                    processed.image.mime,
                    &processed.image.bytes,
                    None,
                    now_ms(),
                )
            },
        )?;
        Ok(hash)
    }

    /// The stored image of a photo or signature (`thumbnail` for the small one). Offline.
    pub fn attachment(&self, hash: String, thumbnail: bool) -> Result<Option<Vec<u8>>> {
        self.inner.store().blob(&hash, thumbnail)
    }

    /// Check a visit against the rules and submit it (it goes to the server at the next sync).
    /// With blocking issues nothing changes and the issues say what to fix.
    pub fn submit_visit(&self, visit_id: String) -> Result<SubmitOutcome> {
        self.inner.edit_visit(
            &visit_id,
            |v| {
                let mut candidate = v.clone();
                candidate.status = VisitStatus::Submitted;
                candidate.submitted_at = Some(UnixMillis(now_ms()));
                candidate.ended_at.get_or_insert(UnixMillis(now_ms()));
                let mut issues = Vec::new();
                candidate.validate(&mut issues);
                let blocking = doudi_protocol::doc::validate::has_errors(&issues);
                if !blocking {
                    *v = candidate;
                }
                Ok(SubmitOutcome {
                    submitted: !blocking,
                    issues: issues.iter().map(issue_of).collect(),
                })
            },
            |_| Ok(()),
        )
    }

    /// File a proactive-discovery report (主动发现) for a household on record or a new
    /// person/address. Returns the report id.
    pub fn file_report(&self, report: ReportInput) -> Result<String> {
        let (_, account) = self.inner.actor_and_account()?;
        let reporter = AccountId::parse(&account.id).map_err(DoudiError::internal)?;
        let captured = self
            .inner
            .capture("person_id_number", report.person_id_number.as_deref())?;
        let (target, household_grid) = match &report.household_id {
            Some(h) => {
                let hid = parse_doc_id("household_id", h)?;
                let grid = match self.inner.store().index.get(h) {
                    Some(Summary::Household(x)) => Some(x.grid.clone()),
                    _ => return Err(DoudiError::not_found("household", h)),
                };
                (Target::Household(hid), grid)
            }
            None => (
                Target::Person {
                    name: report.person_name.clone().unwrap_or_default(),
                    identity: captured.as_ref().map(|(_, s)| s.clone()),
                    address: report.address.clone(),
                    phone: report.phone.clone(),
                },
                None,
            ),
        };
        let grid = match report.grid.clone().or(household_grid) {
            Some(g) => g,
            None => self.inner.default_grid(&account)?,
        };
        let channel = Channel::parse(&report.channel).ok_or_else(|| {
            DoudiError::invalid("channel", "发现渠道不正确", "unknown channel code")
        })?;
        let urgency = Urgency::parse(&report.urgency).ok_or_else(|| {
            DoudiError::invalid("urgency", "紧急程度不正确", "unknown urgency code")
        })?;
        let groups = report
            .target_groups
            .iter()
            .map(|g| {
                TargetGroup::parse(g).ok_or_else(|| {
                    DoudiError::invalid(
                        "target_groups",
                        "重点群体不正确",
                        "unknown target group code",
                    )
                })
            })
            .collect::<Result<_>>()?;
        let mut r = DiscoveryReport::new(reporter);
        r.reporter_name = Some(account.display_name.clone());
        r.reported_at = Some(UnixMillis(now_ms()));
        r.channel = Some(channel);
        r.target = Some(target);
        r.target_groups = groups;
        r.urgency = Some(urgency);
        r.emergency_24h = report.emergency_24h;
        r.notes = report.notes.clone();
        r.gps = gps(report.lat, report.lon)?;
        r.status = DiscoveryStatus::Submitted;
        let numbers: Vec<(String, &IdNumber)> = match (&r.target, &captured) {
            (Some(Target::Person { .. }), Some((n, _))) => {
                vec![(doudi_protocol::doc::identity::TARGET_PERSON.to_owned(), n)]
            }
            _ => Vec::new(),
        };
        self.inner.create_with(&grid, &r, &numbers)
    }

    /// Visits a reviewer sent back (已退回), with the reviewer's comment. Offline.
    pub fn returned_visits(&self) -> Vec<VisitSummary> {
        self.visits_with_status(VisitStatus::Returned)
    }

    /// Visits on this phone still in draft. Offline.
    pub fn draft_visits(&self) -> Vec<VisitSummary> {
        self.visits_with_status(VisitStatus::Draft)
    }

    /// Tasks assigned to this worker as of the last sync, the earliest due first. Offline.
    pub fn tasks(&self) -> Result<Vec<Task>> {
        let stored: Option<TaskList> = self.inner.store().meta(META_TASKS)?;
        let mut tasks: Vec<Task> = stored
            .map(|l| l.items)
            .unwrap_or_default()
            .into_iter()
            .map(task_from_wire)
            .collect();
        tasks.sort_by_key(|t| (t.due_at.unwrap_or(i64::MAX), t.created_at));
        Ok(tasks)
    }

    /// Sync with the server: push local changes, pull what is new, page after page. Network
    /// failures are retried with backoff; an expired access token is refreshed once; a revoked
    /// device wipes the store and fails with `Revoked`. Dropping the returned future, or
    /// `cancel_sync`, stops it after the current step; whatever was applied stays applied.
    pub async fn sync_now(&self, progress: Option<Arc<dyn SyncProgress>>) -> Result<SyncSummary> {
        let inner = self.inner.clone();
        let cancel = self.inner.cancel.clone();
        blocking::spawn(Some(cancel), move || inner.sync(progress)).await
    }

    /// Stop a running sync at its next step (it then fails with `Cancelled`).
    pub fn cancel_sync(&self) {
        self.inner.cancel.store(true, Ordering::SeqCst);
    }

    /// Photos and signatures stored here and not uploaded yet.
    pub fn pending_uploads(&self) -> Result<u32> {
        Ok(self.inner.store().pending_blobs()?.len() as u32)
    }

    /// Documents with changes the server has not acknowledged yet.
    pub fn pending_changes(&self) -> Result<u32> {
        Ok(self.inner.store().dirty_ids()?.len() as u32)
    }
}

/// For tools and tests (not exported to the bindings).
impl DoudiClient {
    fn visits_with_status(&self, status: VisitStatus) -> Vec<VisitSummary> {
        let store = self.inner.store();
        store
            .index
            .iter()
            .filter_map(|(id, s)| match s {
                Summary::Visit(v) if v.status == status.as_str() => Some(visit_summary(id, v)),
                _ => None,
            })
            .collect()
    }

    /// A document's bytes in automerge's save format.
    pub fn document_bytes(&self, id: &str) -> Result<Option<Vec<u8>>> {
        Ok(self.inner.store().load_doc(id)?.map(|mut sd| sd.doc.save()))
    }

    /// Ids of every document held, with their kind.
    pub fn document_ids(&self) -> Vec<(String, &'static str)> {
        self.inner
            .store()
            .index
            .iter()
            .map(|(id, s)| {
                let kind = match s {
                    Summary::Household(_) => DocumentKind::Household.as_str(),
                    Summary::Visit(_) => DocumentKind::Visit.as_str(),
                    Summary::Report(_) => DocumentKind::DiscoveryReport.as_str(),
                    Summary::Unreadable => "unreadable",
                };
                (id.clone(), kind)
            })
            .collect()
    }
}
