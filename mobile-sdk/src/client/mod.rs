//! [`DoudiClient`]: the object the app holds. Local reads and captures go to the encrypted store
//! and never touch the network; `login`, `logout` and `sync_now` talk to the server through the
//! [`Transport`].
//!
//! One object over one inner state, its methods by job: [`session`] (login, logout, tokens and
//! authenticated requests), [`http`] (requests, retries, the server's errors), [`sync`] (the
//! rounds of a sync over the shared engine), [`upload`] (photos and signatures), [`capture`]
//! (households, visits and reports on the phone). This module holds the state, opening the
//! store, and the helpers they share.

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

mod capture;
mod http;
mod session;

pub use session::parse_enrolment_qr;
mod sync;
mod upload;

use http::RetryPolicy;

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

impl Inner {
    pub(crate) fn store(&self) -> MutexGuard<'_, Store> {
        self.store.lock().unwrap_or_else(|e| e.into_inner())
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
}

/// For tools and tests (not exported to the bindings).
impl DoudiClient {
    /// A document's bytes in automerge's save format.
    pub fn document_bytes(&self, id: &str) -> Result<Option<Vec<u8>>> {
        Ok(self.inner.store().load_doc(id)?.map(|mut sd| sd.doc.save()))
    }

    /// Where the phone stands in the server's feed (the cursor of the last response applied)
    /// and the server's epoch it holds.
    pub fn sync_position(&self) -> Result<(u64, Option<u64>)> {
        let p = doudi_protocol::sync::engine::SyncStore::position(&*self.inner.store())?;
        Ok((p.cursor, p.epoch))
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
