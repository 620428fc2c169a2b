//! The push half of a sync: each pushed document decoded, checked (author, scope, permission,
//! header, server-only fields, references, document rules) and written through the documents
//! layer; one bad document never blocks the others.

mod refs;

use super::*;

fn rejected(doc: &str, code: &str, zh: impl Into<String>, en: impl Into<String>) -> PushResult {
    PushResult {
        doc: doc.to_string(),
        status: PushStatus::Rejected,
        heads: Vec::new(),
        code: Some(code.to_string()),
        message: Some(zh.into()),
        message_en: Some(en.into()),
        issues: Vec::new(),
    }
}

pub(super) fn hex_to_bytes(s: &str) -> Option<Vec<u8>> {
    (0..s.len())
        .step_by(2)
        .map(|i| s.get(i..i + 2).and_then(|h| u8::from_str_radix(h, 16).ok()))
        .collect()
}

/// The action that writing a document of this kind needs.
fn write_action(kind: DocumentKind) -> Action {
    match kind {
        DocumentKind::Household | DocumentKind::Visit => Action::WriteCase,
        DocumentKind::DiscoveryReport => Action::FileReport,
    }
}

/// Fields only the server writes that the push changed: review decisions and the statuses they
/// set, household decisions and programmes. Every one of them, so that the answer lists them all.
fn server_fields_touched(
    kind: DocumentKind,
    before: &hydrate::Value,
    after: Option<&doc::Content>,
) -> Vec<&'static str> {
    let mut touched = Vec::new();
    match (kind, after) {
        (DocumentKind::Visit, Some(doc::Content::Visit(a))) => {
            let b = doc::read_tree::<Visit>(before).ok().map(|(_, v)| v);
            let b_status = b.as_ref().map(|v| v.status);
            let empty = Visit::new(a.household, a.purpose);
            let b = b.as_ref().unwrap_or(&empty);
            if a.reviews != b.reviews {
                touched.push("content.reviews");
            }
            // The 公示 the township's approval opens, and what is recorded during it.
            if a.notice_from != b.notice_from {
                touched.push("content.notice_from");
            }
            if a.notice_until != b.notice_until {
                touched.push("content.notice_until");
            }
            if a.objections != b.objections {
                touched.push("content.objections");
            }
            if a.appraisals != b.appraisals {
                touched.push("content.appraisals");
            }
            if a.extension != b.extension {
                touched.push("content.extension");
            }
            if a.county_visits != b.county_visits {
                touched.push("content.county_visits");
            }
            if !VisitStatus::phone_may_move(b_status, a.status) {
                touched.push("content.status");
            }
        }
        (DocumentKind::Household, Some(doc::Content::Household(h))) => {
            let b = doc::read_tree::<Household>(before)
                .map(|(_, h)| h)
                .unwrap_or_default();
            if h.decisions != b.decisions {
                touched.push("content.decisions");
            }
            // DB2021 art. 28: nobody is enrolled without acceptance, investigation and
            // confirmation; only decisions change a household's programmes.
            if h.programmes != b.programmes {
                touched.push("content.programmes");
            }
        }
        (DocumentKind::DiscoveryReport, Some(doc::Content::DiscoveryReport(r))) => {
            let b = doc::read_tree::<DiscoveryReport>(before)
                .ok()
                .map(|(_, r)| r.status);
            if !DiscoveryStatus::phone_may_move(b, r.status) {
                touched.push("content.status");
            }
        }
        _ => {}
    }
    touched
}

/// A refused push is audited; an entry that cannot be written fails the whole request.
async fn audit_reject(
    state: &Deps<'_>,
    ctx: &Device<'_>,
    doc: &str,
    code: &str,
) -> Result<(), ApiError> {
    let mut ev = ctx.event(AUDIT_REJECT, Some(doc));
    ev.detail = Some(serde_json::json!({ "code": code }));
    audit::record(state.db, Outcome::Denied, ev).await?;
    Ok(())
}

/// Apply the pushed changes, document by document. Per-document problems become a rejected
/// result; only a database failure is an error of the whole request (which the device retries:
/// sync is idempotent). The writes of the request's documents go to the group commit together.
/// Returns the results, and the feed sequence of each document stored.
pub(super) async fn ingest(
    state: &Deps<'_>,
    ctx: &Device<'_>,
    device_actor: &[u8],
    pushed: &[DocPush],
) -> Result<(Vec<PushResult>, HashMap<String, i64>), ApiError> {
    let mut results: Vec<Option<PushResult>> = vec![None; pushed.len()];
    let mut own = HashMap::new();
    let mut pending = Vec::with_capacity(pushed.len());
    for (i, push) in pushed.iter().enumerate() {
        match decode(state, ctx, device_actor, push).await? {
            Ok(changes) => {
                // A history from the first change on is most likely a new document's.
                let base = match self_contained(&changes.changes) {
                    true => Base::AssumeNew,
                    false => Base::Read,
                };
                pending.push((i, changes, base));
            }
            Err(refused) => results[i] = Some(refused),
        }
    }
    // A document naming another pushed in the same request (a new visit of a new household) may
    // come before it: it waits for a second pass, after the others are stored.
    let in_request: HashSet<&str> = pushed.iter().map(|p| p.doc.as_str()).collect();
    let mut deferred = Vec::new();
    let named = std::sync::Mutex::new(HashMap::new());
    for last_pass in [false, true] {
        if last_pass {
            pending = std::mem::take(&mut deferred);
        }
        let refs = Refs {
            in_request: &in_request,
            last_pass,
            named: &named,
        };
        for _ in 0..MAX_RETRIES {
            if pending.is_empty() {
                break;
            }
            let mut busy = Vec::new();
            // A batch's worth at a time, so that a large request holds few prepared writes at
            // once.
            let mut rest = std::mem::take(&mut pending).into_iter().peekable();
            while rest.peek().is_some() {
                let mut waiting = Vec::new();
                let mut writes = Vec::new();
                for (i, changes, base) in rest.by_ref().take(MAX_BATCH) {
                    let doc = &pushed[i].doc;
                    let mut checked = check(state, ctx, doc, &changes, base, &refs).await?;
                    if base == Base::AssumeNew && matches!(checked, Checked::Done(_)) {
                        // Any answer but a write is given from the document as stored.
                        checked = check(state, ctx, doc, &changes, Base::Read, &refs).await?;
                    }
                    match checked {
                        Checked::Done(result) => results[i] = Some(result),
                        Checked::Defer => deferred.push((i, changes, base)),
                        Checked::Write(write, heads) => {
                            waiting.push((i, changes, heads));
                            writes.push(state.commits.submit(*write));
                        }
                    }
                }
                let stored = futures_util::future::join_all(writes).await;
                for ((i, changes, heads), stored) in waiting.into_iter().zip(stored) {
                    if let Some(seq) = stored? {
                        own.insert(pushed[i].doc.clone(), seq);
                        results[i] = Some(PushResult {
                            heads: heads.iter().map(|h| ByteBuf::from(h.0.to_vec())).collect(),
                            ..accepted(&pushed[i].doc)
                        });
                    } else {
                        // Someone else changed the document meanwhile, or it was not new after
                        // all: again from the state as stored.
                        busy.push((i, changes, Base::Read));
                    }
                }
            }
            pending = busy;
        }
        if !pending.is_empty() {
            break;
        }
    }
    if !pending.is_empty() {
        return Err(ApiError::new(Code::Unavailable).with_message(
            "文档正忙，请稍后重试。",
            "The document is busy; retry shortly.",
        ));
    }
    let results = results
        .into_iter()
        .map(|r| r.ok_or_else(|| ApiError::internal("a pushed document was left unanswered")))
        .collect::<Result<_, _>>()?;
    Ok((results, own))
}

/// One pushed document's changes, parsed, with what was read from each on the way.
struct Parsed {
    changes: Vec<Change>,
    /// Per change (in the order of `changes`).
    read: Vec<ChangeRead>,
}

/// What was read from a change's operations while it was decoded ([`doc::parse_change_with`]).
#[derive(Debug, Clone, Copy)]
struct ChangeRead {
    /// It writes a 身份证号 in clear ([`crate::identity::writes_clear_number`]).
    clear_number: bool,
    /// The objects it makes ([`doc::objects_made`]).
    objects: usize,
}

/// One pushed document's changes, decoded, each written by this device; or why not. Only a
/// failure to audit a refusal is an error of the request.
async fn decode(
    state: &Deps<'_>,
    ctx: &Device<'_>,
    device_actor: &[u8],
    push: &DocPush,
) -> Result<Result<Parsed, PushResult>, ApiError> {
    let id = push.doc.as_str();
    if DocumentId::parse(id).is_err() {
        return Ok(Err(rejected(
            id,
            "sync.bad_document_id",
            "文档编号无效。",
            "The document id is not valid.",
        )));
    }
    let mut changes = Vec::with_capacity(push.changes.len());
    let mut read = Vec::with_capacity(push.changes.len());
    for bytes in &push.changes {
        let parsed = doc::parse_change_with(bytes, |c| ChangeRead {
            clear_number: crate::identity::writes_clear_number(c),
            objects: doc::objects_made(c),
        });
        match parsed {
            Ok((c, r)) => {
                changes.push(c);
                read.push(r);
            }
            Err(_) => {
                return Ok(Err(rejected(
                    id,
                    "sync.corrupt_change",
                    "数据损坏，请重新同步。",
                    "A change is corrupt; sync again.",
                )));
            }
        }
    }
    if let Some(c) = changes
        .iter()
        .find(|c| !c.actor_id().to_bytes().starts_with(device_actor))
    {
        tracing::warn!(doc = id, actor = %c.actor_id(), "change by a foreign actor refused");
        audit_reject(state, ctx, id, "sync.foreign_actor").await?;
        return Ok(Err(rejected(
            id,
            "sync.foreign_actor",
            "修改的作者不是本设备，已拒绝。",
            "A change was not written by this device; refused.",
        )));
    }
    Ok(Ok(Parsed { changes, read }))
}

/// Whether every change's dependencies are among `changes`: a history from the document's
/// first change on, as a device pushes a document it created.
fn self_contained(changes: &[Change]) -> bool {
    let hashes: std::collections::HashSet<ChangeHash> = changes.iter().map(|c| c.hash()).collect();
    changes
        .iter()
        .all(|c| c.deps().iter().all(|d| hashes.contains(d)))
}

/// What [`check`] checks pushed changes against.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Base {
    /// The document as stored now, read first.
    Read,
    /// No stored document, without reading: for a self-contained history ([`self_contained`]),
    /// which is nearly always a new document's. Only a write may come of it, and the write is
    /// stored only if no document with its id exists (else it is checked again from the
    /// stored state). Any other answer is worked out again from the stored state, and nothing
    /// is audited on the way.
    AssumeNew,
}

/// What checking pushed changes against the stored document gives.
enum Checked {
    /// The answer, without a write (a replay, a refusal).
    Done(PushResult),
    /// Checked again once the other documents of the request are stored: it names one of them,
    /// not stored yet.
    Defer,
    /// The write to store, and the document's heads once it is stored.
    Write(Box<Prepared>, Vec<ChangeHash>),
}

/// What [`check`] knows of the request for checking references.
struct Refs<'a> {
    /// Ids of the documents the request pushes.
    in_request: &'a HashSet<&'a str>,
    /// The second pass: documents of the request not stored by now will not be.
    last_pass: bool,
    /// The named documents found so far in this request ([`refs::check`]).
    named: &'a std::sync::Mutex<HashMap<String, refs::Named>>,
}

/// Apply `changes` to a copy of document `id` as stored now (or to none, [`Base`]) and check
/// the result: author, scope and permission, header, the fields only the server writes, the
/// document rules.
async fn check(
    state: &Deps<'_>,
    ctx: &Device<'_>,
    id: &str,
    parsed: &Parsed,
    base: Base,
    refs: &Refs<'_>,
) -> Result<Checked, ApiError> {
    use Checked::Done;
    let stored: Option<document::Model> = match base {
        Base::Read => {
            let read = document::Entity::find_by_id(id.to_string()).build(state.reads.backend());
            state.reads.query(read).await?.into_iter().next()
        }
        Base::AssumeNew => None,
    };
    let before = match &stored {
        Some(row) => Automerge::load(&row.snapshot).map_err(ApiError::internal)?,
        None => Automerge::new(),
    };
    if let Some(row) = &stored
        && !ctx
            .permits(
                state.db,
                Action::ReadCase,
                Target::Region(&row.region_path),
                id,
                true,
            )
            .await?
    {
        return Ok(Done(rejected(
            id,
            "policy.denied",
            "您无权修改这份文档。",
            "You may not change this document.",
        )));
    }
    let (new, read): (Vec<Change>, Vec<ChangeRead>) = parsed
        .changes
        .iter()
        .zip(&parsed.read)
        .filter(|(c, _)| before.get_change_by_hash(&c.hash()).is_none())
        .map(|(c, r)| (c.clone(), *r))
        .unzip();
    if read.iter().any(|r| r.clear_number) {
        return Ok(Done(crate::identity::refused_clear(id)));
    }
    if new.is_empty() {
        // A replay of what is already stored: nothing to do.
        let heads = stored
            .as_ref()
            .map(|r| wire_heads(&r.heads))
            .unwrap_or_default();
        return Ok(Done(PushResult {
            heads,
            ..accepted(id)
        }));
    }
    let mut after = before.clone();
    if doc::untrusted(|| after.apply_changes(new.iter().cloned())).is_err() {
        return Ok(Done(rejected(
            id,
            "sync.corrupt_change",
            "数据损坏，请重新同步。",
            "A change could not be applied; sync again.",
        )));
    }
    if !after.get_missing_deps(&[]).is_empty() {
        return Ok(Done(rejected(
            id,
            "sync.missing_dependencies",
            "缺少之前的修改，请完整同步。",
            "Earlier changes this one depends on are missing; push them too.",
        )));
    }
    // The document's state read once (one walk of it), for the header, the checks and the
    // projection rows; the stored state's for the server-field check.
    // The stored state is within the nesting limit once its tree reads; the new one is then
    // within it plus the objects the new changes make.
    let made = read.iter().map(|r| r.objects).sum();
    let trees = doc::tree(&before).and_then(|b| Ok((b, doc::tree_grown(&after, made)?)));
    let Ok((before_tree, tree)) = trees else {
        return Ok(Done(rejected(
            id,
            "sync.invalid_document",
            "文档格式无效。",
            "The document cannot be read.",
        )));
    };
    let header = match doc::MapReader::root(&tree).and_then(|root| doc::header_of(&root)) {
        Ok(h) => h,
        Err(e) => {
            return Ok(Done(rejected(
                id,
                "sync.invalid_document",
                "文档格式无效。",
                format!("The document is invalid: {e}"),
            )));
        }
    };
    if header.id.to_string() != id {
        return Ok(Done(rejected(
            id,
            "sync.header_changed",
            "文档编号与内容不符。",
            "The document's id does not match.",
        )));
    }
    if let Some(row) = &stored
        && (row.kind != header.kind.as_str() || row.scope != header.scope)
    {
        return Ok(Done(rejected(
            id,
            "sync.header_changed",
            "文档类型和所属网格不能修改。",
            "A document's kind and grid cannot change.",
        )));
    }
    let Some(grid) = state.placements.get(state.db, &header.scope).await? else {
        return Ok(Done(rejected(
            id,
            "region.unknown",
            format!("网格 {} 不存在。", header.scope),
            format!("Grid {} does not exist.", header.scope),
        )));
    };
    if !grid.is_grid() {
        return Ok(Done(rejected(
            id,
            "sync.scope_not_grid",
            "文档必须属于一个网格。",
            "A document must belong to a grid.",
        )));
    }
    let action = write_action(header.kind);
    if !ctx
        .permits(
            state.db,
            action,
            Target::Region(&grid.path),
            id,
            base == Base::Read,
        )
        .await?
    {
        return Ok(Done(rejected(
            id,
            "policy.denied",
            "您无权在该网格写入。",
            "You may not write in this grid.",
        )));
    }
    // The content read once, for the checks that follow and the projection rows.
    let (read, issues) = doc::read_checked(&tree);
    let content = read.as_ref().map(|(_, c)| c);
    // Every problem at once: the server-only fields the push changed, then the rules' errors.
    let touched = server_fields_touched(header.kind, &before_tree, content);
    let errors: Vec<WireIssue> = touched
        .iter()
        .map(|path| {
            let (message, message_en) = match *path {
                "content.programmes" => (
                    "救助类别只能由审批决定改变，手机不能设置。",
                    "Only decisions change a household's programmes; a phone cannot set them.",
                ),
                _ => (
                    "审核结果只能由审核人员填写。",
                    "Only reviewers set this field.",
                ),
            };
            WireIssue {
                path: path.to_string(),
                code: "sync.server_field".into(),
                message: message.into(),
                message_en: message_en.into(),
            }
        })
        .chain(
            issues
                .iter()
                .filter(|i| i.severity == doc::Severity::Error)
                .map(|i| WireIssue {
                    path: i.path.clone(),
                    code: i.code.to_string(),
                    message: i.message_zh.clone(),
                    message_en: i.message_en.clone(),
                }),
        )
        .collect();
    if !touched.is_empty() {
        return Ok(Done(PushResult {
            issues: errors,
            ..rejected(
                id,
                "sync.server_field",
                "审核结果、审批决定和救助类别只能由服务器根据审核写入。",
                "Only reviews and decisions set review fields, decisions and programmes.",
            )
        }));
    }
    if has_errors(&issues) {
        return Ok(Done(PushResult {
            issues: errors,
            ..rejected(
                id,
                "sync.validation_failed",
                "内容未通过检查，请按提示修改。",
                "The document did not pass the checks; fix the listed fields.",
            )
        }));
    }
    if let Some(content) = content {
        // The references this push adds (those already stored were checked when they came).
        let known = match &stored {
            Some(_) => doc::refs::in_tree(&before_tree),
            None => Vec::new(),
        };
        let added: Vec<_> = doc::refs::of(content)
            .into_iter()
            .filter(|r| !known.contains(r))
            .collect();
        match refs::check(state, ctx, &header.scope, &added, base, refs).await? {
            refs::Verdict::Good => {}
            refs::Verdict::Wait => return Ok(Checked::Defer),
            refs::Verdict::Bad(issues) => {
                return Ok(Done(PushResult {
                    issues,
                    ..rejected(
                        id,
                        "sync.reference_invalid",
                        "文档引用的家庭或报告不存在、不在同一网格或您无权查看。",
                        "The document names a household or report that does not exist, lies in another grid, or that you may not read.",
                    )
                }));
            }
        }
    }
    let numbers = match crate::identity::rows(state.identity, id, &grid.path, content) {
        Ok(rows) => rows,
        Err(issues) => {
            return Ok(Done(PushResult {
                issues: crate::identity::wire_issues(&issues),
                ..rejected(
                    id,
                    "sync.validation_failed",
                    "内容未通过检查，请按提示修改。",
                    "The document did not pass the checks; fix the listed fields.",
                )
            }));
        }
    };
    let heads = after.get_heads();
    let writer = Writer::for_actor(ctx, AUDIT_ACCEPT, None);
    let write = prepare(
        &writer,
        stored.as_ref(),
        &header,
        &grid.path,
        &mut after,
        &tree,
        content,
        &new,
        &heads,
        Vec::new(),
    )?
    .with_identities(numbers);
    if !doc::loads_as(write.snapshot(), &heads) {
        return Ok(Done(rejected(
            id,
            "sync.corrupt_change",
            "数据损坏，请重新同步。",
            "A change would leave the document unreadable; sync again.",
        )));
    }
    Ok(Checked::Write(Box::new(write), heads))
}

fn accepted(id: &str) -> PushResult {
    PushResult {
        doc: id.to_string(),
        status: PushStatus::Accepted,
        heads: Vec::new(),
        code: None,
        message: None,
        message_en: None,
        issues: Vec::new(),
    }
}
