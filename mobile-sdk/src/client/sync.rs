//! Sync: the rounds of one `sync_now` over the shared engine, the next page asked ahead while
//! one is applied, and the task list sync brings.

use super::*;

/// A task as sync sends it, as the app sees it.
pub(super) fn task_from_wire(t: WireTask) -> Task {
    // The task kinds of docs/API.md: a report to verify, a monitoring alert to verify (预警核查),
    // a re-check (复核, also after a death or at the end of the 渐退期) or a visit (探访); a
    // kind newer than this SDK is a follow-up (回访).
    let purpose = match t.kind.as_str() {
        "verify_report" => VisitPurpose::DiscoveryCheck,
        "alert_check" => VisitPurpose::AlertCheck,
        "temp_aid_check" => VisitPurpose::EmergencyCheck,
        "recheck" | "death_recheck" | "phase_out_end" => VisitPurpose::Recheck,
        // A 刚性支出困难 recognition lapsed: the household applies again.
        "rigid_reapply" => VisitPurpose::Investigation,
        // 自理能力复评: a home visit to a 特困 person whose condition changed.
        "visit" | "self_care_reassessment" => VisitPurpose::CareVisit,
        _ => VisitPurpose::FollowUp,
    };
    Task {
        id: t.id,
        kind: t.kind,
        purpose,
        report_id: t.report_id.filter(|r| !r.is_empty()),
        household_id: t.household_id.filter(|h| !h.is_empty()),
        case_id: t.case_id.filter(|c| !c.is_empty()),
        note: t.note,
        created_at: t.created_at_ms,
        due_at: t.due_at_ms,
    }
}

/// A sync request and the server's answer to it.
pub(super) struct Pulled {
    out: Outgoing,
    /// Bytes of the request body.
    sent: u64,
    resp: HttpResponse,
}

/// The next round's request, sent while the current page is applied ([`Inner::ask_ahead`]). Its
/// answer is used only after that page is committed; dropped unused on an error or a cancel.
pub(super) struct Ahead {
    req: SyncRequest,
    sent: u64,
    reply: std::thread::JoinHandle<std::result::Result<HttpResponse, TransportError>>,
}

impl Ahead {
    /// The server's answer, if it is one the round can use as it is; otherwise (no network, an
    /// expired token, a busy server) the round is sent again the ordinary way, with its
    /// retries, token refresh and error handling.
    pub(super) fn reply(self) -> Option<Pulled> {
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

impl Inner {
    /// The request of one round, with the heads of each pushed document at this moment.
    pub(super) fn prepare(&self, skip: &BTreeSet<String>) -> Result<Outgoing> {
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
    pub(super) fn ask_ahead(&self, req: &SyncRequest, resp: &SyncResponse) -> Option<Ahead> {
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
            .spawn(move || transport.send(http).and_then(crate::transport::decoded))
            .ok()?;
        Some(Ahead {
            req: next,
            sent,
            reply,
        })
    }

    /// Apply one response in one transaction; whether to sync again at once, and whether the
    /// server asked for every change of this device again.
    pub(super) fn apply(
        &self,
        out: &Outgoing,
        resp: SyncResponse,
        summary: &mut SyncSummary,
    ) -> Result<(bool, bool)> {
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
        Ok((outcome.more, outcome.repush))
    }

    pub(super) fn sync(&self, progress: Option<Arc<dyn SyncProgress>>) -> Result<SyncSummary> {
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
            let (more, repush) = self.apply(&request, decoded, &mut out)?;
            let more = more || (ahead_used && !self.store().dirty_ids()?.is_empty());
            if repush {
                // Every change of this device goes again, refused documents included.
                refused.clear();
            } else {
                refused.extend(out.rejected[rejected_before..].iter().map(|r| r.id.clone()));
            }
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

    /// Documents with changes the server has not acknowledged yet.
    pub fn pending_changes(&self) -> Result<u32> {
        Ok(self.inner.store().dirty_ids()?.len() as u32)
    }
}
