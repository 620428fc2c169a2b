//! The pulled half of a sync: what a device is sent of the documents in its scope
//! (docs/PROTOCOL.md sections 4 and 5).
//!
//! A pull runs from a **base**, the cursor at which the device last finished one: it holds every
//! document of its scope as of that point of the feed. Each page reads the feed on from where
//! the previous page stopped (the `resume` token) and sends each document as what the device
//! lacks relative to the base: the whole of it when it may hold none of it, else the changes
//! others stored after the base. Measuring from the base, not from the page, is what lets a
//! document edited before and after a page boundary arrive complete: its earlier changes lie
//! before the page's position but after the base.

use std::collections::{HashMap, HashSet};

use sea_orm::{
    ColumnTrait, Condition, DbErr, EntityTrait, QueryFilter, QueryOrder, QuerySelect, QueryTrait,
};
use serde_bytes::ByteBuf;
use sha2::{Digest, Sha256};

use doudi_protocol::sync::DocUpdate;

use super::wire_heads;
use super::{Deps, Device};
use crate::access::{self, Action, Target, decide};
use crate::db::Exec;
use crate::db::reads::Reads;
use crate::entity::{doc_change, document, region};

/// Rows of the feed read at a time by [`pull`].
const FEED_BATCH: u64 = 200;
/// Documents whose logged changes [`pull`] reads in one query: a page stops at its byte budget,
/// so changes read ahead of it are read again by the next page; this bounds that waste.
const CHANGES_AHEAD: usize = 16;

/// Where a request's pull starts, decided from its `cursor` and `resume`, the device's scope
/// now and the scope the server last knew it to hold.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Start {
    /// The device holds its scope complete as of this feed sequence.
    pub base: u64,
    /// The feed is read from after this sequence (`base`, or the position a page stopped at).
    pub from: u64,
    /// The device may hold documents outside its scope: send it the scope's grids.
    pub send_grids: bool,
    /// The first page of a pull of a scope the device is not known to hold: it is answered
    /// `more` even when it holds everything, so that the device's next request (with its
    /// `resume`) shows it applied the page, grids and base 0 included.
    pub new_scope: bool,
    /// The request shows that the device applied the first page of a pull of its current scope:
    /// remember the scope as the one it holds.
    pub remember_scope: bool,
    tag: u64,
}

/// The tag a resume token carries: it binds the position to the scope and base it was read
/// under, so that a token of another pull (the scope changed meanwhile, or a client sent it with
/// another cursor) is never taken for this one.
fn tag(scope_key: &str, base: u64) -> u64 {
    let mut h = Sha256::new();
    h.update(b"doudi-resume\0");
    h.update(scope_key.as_bytes());
    h.update(b"\0");
    h.update(base.to_be_bytes());
    u64::from_be_bytes(h.finalize()[..8].try_into().expect("8 bytes"))
}

impl Start {
    /// `cursor`, `resume`: the request's; `scope_key`: the device's scope now; `held`: the scope
    /// the device was last known to hold (`None`: none yet).
    ///
    /// - A resume token of this scope and base continues that pull.
    /// - Otherwise a pull starts. When the device is not known to hold its current scope (a new
    ///   device, or its regions changed), it lacks documents of that scope from before its cursor:
    ///   the pull starts from 0, as a first sync, with the grids of the scope. The scope counts
    ///   as held once the device continues that pull with the token of its first page: an answer
    ///   the device never received changes nothing, and the next request starts again.
    /// - A pull that starts after one was abandoned (its token no longer fits) sends the grids
    ///   too: the device may hold documents of the abandoned one's scope.
    pub fn decide(
        cursor: u64,
        resume: Option<&[u8]>,
        scope_key: &str,
        held: Option<&str>,
    ) -> Start {
        let token = resume.and_then(|r| <[u8; 16]>::try_from(r).ok());
        let position = token.and_then(|t| {
            let (pos, t) = t.split_at(8);
            (u64::from_be_bytes(t.try_into().expect("8 bytes")) == tag(scope_key, cursor))
                .then(|| u64::from_be_bytes(pos.try_into().expect("8 bytes")))
        });
        let known = held == Some(scope_key);
        let start = |base, from, send_grids, new_scope, remember_scope| Start {
            base,
            from,
            send_grids,
            new_scope,
            remember_scope,
            tag: tag(scope_key, base),
        };
        match position {
            Some(p) if p >= cursor && known => start(cursor, p, false, false, false),
            // Only a pull of a new scope runs from 0 for a scope not yet held.
            Some(p) if cursor == 0 => start(0, p, false, false, true),
            _ if !known => start(0, 0, true, true, false),
            _ => start(cursor, cursor, resume.is_some(), false, false),
        }
    }

    /// The token that continues this pull after feed sequence `position`.
    pub fn resume_after(&self, position: u64) -> ByteBuf {
        let mut t = Vec::with_capacity(16);
        t.extend_from_slice(&position.to_be_bytes());
        t.extend_from_slice(&self.tag.to_be_bytes());
        ByteBuf::from(t)
    }
}

/// One page of a pull.
#[derive(Debug)]
pub struct Page {
    pub updates: Vec<DocUpdate>,
    /// The feed was read up to here.
    pub last: u64,
    pub more: bool,
}

/// The scope of `ctx` as a condition on documents. A grid holds documents at its own path only:
/// those roots are an equality, which the index on (region path, feed sequence) serves in feed
/// order. A root above the grids is a prefix match, which SQLite and PostgreSQL (outside the C
/// collation) cannot serve from that index; the feed index is walked from the cursor instead,
/// skipping what is out of scope.
async fn scope_condition(state: &Deps<'_>, ctx: &Device<'_>) -> Result<Condition, DbErr> {
    let mut grids = Vec::new();
    for root in &ctx.subject.scope {
        if state.placements.is_grid_path(state.db, root).await? {
            grids.push(root.as_str());
        }
    }
    Ok(access::scope_condition_with_leaves(
        &ctx.subject,
        document::Column::RegionPath,
        &grids,
    ))
}

/// May the device read its scope at all? (Roles that do not read cases pull nothing.)
fn reads_scope(ctx: &Device<'_>) -> bool {
    decide(&ctx.subject, Action::ReadCase, Target::Scope).is_allowed()
        && !ctx.subject.scope.is_empty()
}

/// The codes of every grid (网格) in the device's scope, in code order.
pub async fn scope_grids(state: &Deps<'_>, ctx: &Device<'_>) -> Result<Vec<String>, DbErr> {
    if !reads_scope(ctx) {
        return Ok(Vec::new());
    }
    region::Entity::find()
        .filter(region::Column::Level.eq(doudi_protocol::region::RegionLevel::Grid.as_str()))
        .filter(access::scope_condition(&ctx.subject, region::Column::Path))
        .order_by_asc(region::Column::Code)
        .select_only()
        .column(region::Column::Code)
        .into_tuple()
        .all(state.db)
        .await
}

fn whole(row: &document::Model) -> DocUpdate {
    DocUpdate {
        doc: row.id.clone(),
        kind: row.kind.clone(),
        scope: row.scope.clone(),
        snapshot: Some(ByteBuf::from(row.snapshot.clone())),
        changes: Vec::new(),
        heads: wire_heads(&row.heads),
    }
}

/// The documents of `ids` that lie in the device's scope, whole, in the order asked.
pub async fn wanted(
    state: &Deps<'_>,
    ctx: &Device<'_>,
    ids: &[String],
) -> Result<Vec<DocUpdate>, DbErr> {
    if ids.is_empty() || !reads_scope(ctx) {
        return Ok(Vec::new());
    }
    let db = &state.reads;
    let read = document::Entity::find()
        .filter(scope_condition(state, ctx).await?)
        .filter(document::Column::Id.is_in(ids.iter().map(String::as_str)))
        .build(db.backend());
    let rows: Vec<document::Model> = db.query(read).await?;
    let mut by_id: HashMap<&str, &document::Model> =
        rows.iter().map(|r| (r.id.as_str(), r)).collect();
    Ok(ids
        .iter()
        .filter_map(|id| by_id.remove(id.as_str()))
        .map(whole)
        .collect())
}

/// Ids of the `ids` documents that another device than `device` changed after `cursor`: one
/// query per [`crate::db::IN_CHUNK`] ids.
async fn changed_by_others(
    db: &Reads,
    device: &str,
    cursor: i64,
    ids: &[&str],
) -> Result<HashSet<String>, DbErr> {
    let mut out = HashSet::new();
    for chunk in ids.chunks(crate::db::IN_CHUNK) {
        let read = doc_change::Entity::find()
            .filter(doc_change::Column::DocId.is_in(chunk.iter().copied()))
            .filter(doc_change::Column::Seq.gt(cursor))
            .filter(doc_change::Column::DeviceId.ne(device))
            .select_only()
            .column(doc_change::Column::DocId)
            .distinct()
            .build(db.backend());
        let found: Vec<String> = db.query(read).await?;
        out.extend(found);
    }
    Ok(out)
}

/// The changes stored after `cursor` by other devices than `device` of each `(id, seq)` of
/// `docs`, in the order they were stored, up to the document's `seq` as read from the feed: a
/// change stored after that read belongs with the heads of a later read, not with the heads
/// this page sends (a device would take those heads as covering it).
async fn changes_by_others(
    db: &Reads,
    device: &str,
    cursor: i64,
    docs: &[(&str, i64)],
) -> Result<HashMap<String, Vec<Vec<u8>>>, DbErr> {
    let read = doc_change::Entity::find()
        .filter(doc_change::Column::DocId.is_in(docs.iter().map(|(id, _)| *id)))
        .filter(doc_change::Column::Seq.gt(cursor))
        .filter(doc_change::Column::DeviceId.ne(device))
        .order_by_asc(doc_change::Column::Id)
        .select_only()
        .column(doc_change::Column::DocId)
        .column(doc_change::Column::Seq)
        .column(doc_change::Column::Bytes)
        .build(db.backend());
    let rows: Vec<(String, i64, Vec<u8>)> = db.query(read).await?;
    let upto: HashMap<&str, i64> = docs.iter().copied().collect();
    let mut out: HashMap<String, Vec<Vec<u8>>> = HashMap::new();
    for (doc, seq, bytes) in rows {
        if upto.get(doc.as_str()).is_some_and(|&max| seq <= max) {
            out.entry(doc).or_default().push(bytes);
        }
    }
    Ok(out)
}

/// What [`pull`] sends of one document.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Need {
    /// Its snapshot.
    Whole,
    /// Its snapshot if another device changed it since the base, else nothing.
    WholeIfOthers,
    /// The changes other devices stored since the base.
    Changes,
    /// Nothing: the device has it all.
    Nothing,
}

/// One page of the pull that `start` describes: the documents of the device's scope written
/// after `start.from`, in feed order, each as what the device lacks relative to `start.base`,
/// within `budget` bytes (at least one document).
/// `own`: the documents this request stored, with the feed sequence each was stored under.
///
/// The change log is read once per [`FEED_BATCH`] documents (which of the new ones others
/// wrote to) and once per [`CHANGES_AHEAD`] changed ones (their changes), not per document.
pub async fn pull(
    state: &Deps<'_>,
    ctx: &Device<'_>,
    start: &Start,
    budget: usize,
    own: &HashMap<String, i64>,
) -> Result<Page, DbErr> {
    if !reads_scope(ctx) {
        return Ok(Page {
            updates: Vec::new(),
            last: start.from,
            more: false,
        });
    }
    let scope = scope_condition(state, ctx).await?;
    let db = &state.reads;
    let since = start.base as i64;
    let device = ctx.device_id.as_str();
    let mut updates = Vec::new();
    let mut used = 0usize;
    let mut last = start.from as i64;
    loop {
        let read = document::Entity::find()
            .filter(scope.clone())
            .filter(document::Column::Seq.gt(last))
            .order_by_asc(document::Column::Seq)
            .limit(FEED_BATCH)
            .build(db.backend());
        let rows: Vec<document::Model> = db.query(read).await?;
        let exhausted = (rows.len() as u64) < FEED_BATCH;
        // What each document needs: the whole of it, its changes by others, or nothing (the
        // device has all of it already).
        let mut need: Vec<Need> = rows
            .iter()
            .map(|row| {
                if since == 0 {
                    Need::Whole
                } else if row.created_seq > since {
                    // New since the base: the whole document, unless only this device wrote
                    // it (it pushed it, and has the heads from its push result). Stored by this
                    // request and not changed since: nobody else wrote to it.
                    if own.get(&row.id) == Some(&row.created_seq) && row.seq == row.created_seq {
                        Need::Nothing
                    } else {
                        Need::WholeIfOthers
                    }
                } else if row.changes_from_seq > since {
                    // Changes after the base compacted out of the log (their rows stay, their
                    // bytes are in the snapshot only): the whole document.
                    Need::Whole
                } else {
                    Need::Changes
                }
            })
            .collect();
        let maybe: Vec<&str> = rows
            .iter()
            .zip(&need)
            .filter(|(_, n)| **n == Need::WholeIfOthers)
            .map(|(r, _)| r.id.as_str())
            .collect();
        if !maybe.is_empty() {
            let others = changed_by_others(db, device, since, &maybe).await?;
            for (row, n) in rows.iter().zip(need.iter_mut()) {
                if *n == Need::WholeIfOthers {
                    *n = if others.contains(&row.id) {
                        Need::Whole
                    } else {
                        Need::Nothing
                    };
                }
            }
        }
        let mut fetched: HashMap<String, Vec<Vec<u8>>> = HashMap::new();
        for (i, row) in rows.iter().enumerate() {
            let update = match need[i] {
                Need::Nothing => {
                    last = row.seq;
                    continue;
                }
                Need::Whole | Need::WholeIfOthers => whole(row),
                Need::Changes => {
                    if !fetched.contains_key(&row.id) {
                        let ahead: Vec<(&str, i64)> = rows[i..]
                            .iter()
                            .zip(&need[i..])
                            .filter(|(_, n)| **n == Need::Changes)
                            .take(CHANGES_AHEAD)
                            .map(|(r, _)| (r.id.as_str(), r.seq))
                            .collect();
                        fetched = changes_by_others(db, device, since, &ahead).await?;
                        for (id, _) in ahead {
                            fetched.entry(id.to_string()).or_default();
                        }
                    }
                    let changes = fetched.remove(&row.id).unwrap_or_default();
                    if changes.is_empty() {
                        // Only this device's own changes: it has them already.
                        last = row.seq;
                        continue;
                    }
                    if changes.iter().any(|c| c.is_empty()) {
                        // Compacted between reading the document and its changes.
                        whole(row)
                    } else {
                        DocUpdate {
                            doc: row.id.clone(),
                            kind: row.kind.clone(),
                            scope: row.scope.clone(),
                            snapshot: None,
                            changes: changes.into_iter().map(ByteBuf::from).collect(),
                            heads: wire_heads(&row.heads),
                        }
                    }
                }
            };
            let size = update_size(&update);
            if !updates.is_empty() && used + size > budget {
                return Ok(Page {
                    updates,
                    last: last as u64,
                    more: true,
                });
            }
            used += size;
            last = row.seq;
            updates.push(update);
        }
        if exhausted {
            return Ok(Page {
                updates,
                last: last as u64,
                more: false,
            });
        }
    }
}

/// Bytes an update counts against a page's budget.
pub fn update_size(update: &DocUpdate) -> usize {
    update.snapshot.as_ref().map_or(0, |s| s.len())
        + update.changes.iter().map(|c| c.len()).sum::<usize>()
        + 64
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_pull_continues_only_under_its_own_scope_and_base() {
        let parts = |s: &Start| (s.base, s.from, s.send_grids, s.new_scope, s.remember_scope);
        // A new device: from 0 with the grids, answered `more` whatever it holds.
        let first = Start::decide(0, None, "/g1/", None);
        assert_eq!(parts(&first), (0, 0, true, true, false));
        let token = first.resume_after(40);
        // The next page shows the first applied: the scope is remembered.
        let next = Start::decide(0, Some(&token), "/g1/", None);
        assert_eq!(parts(&next), (0, 40, false, false, true));
        // Later pages of it, once remembered.
        let later = Start::decide(0, Some(&token), "/g1/", Some("/g1/"));
        assert_eq!(parts(&later), (0, 40, false, false, false));
        // The scope changed meanwhile: start again from 0 and name the new scope's grids.
        let moved = Start::decide(0, Some(&token), "/g2/", Some("/g1/"));
        assert_eq!(parts(&moved), (0, 0, true, true, false));
        // Sent with another cursor than it was issued for: a new pull from that cursor, which
        // may follow an abandoned one, so the grids come too.
        let other = Start::decide(7, Some(&token), "/g1/", Some("/g1/"));
        assert_eq!(parts(&other), (7, 7, true, false, false));
        // A device holding its scope: an incremental pull from the cursor.
        let incremental = Start::decide(90, None, "/g1/", Some("/g1/"));
        assert_eq!(parts(&incremental), (90, 90, false, false, false));
        let page2 = Start::decide(
            90,
            Some(&incremental.resume_after(120)),
            "/g1/",
            Some("/g1/"),
        );
        assert_eq!(parts(&page2), (90, 120, false, false, false));
        // Regions changed: everything again from 0, whatever the device sends, until it shows
        // it applied the first page of the new scope (an answer lost on the way changes nothing).
        let changed = Start::decide(90, None, "/g1/\n/g2/", Some("/g1/"));
        assert_eq!(parts(&changed), (0, 0, true, true, false));
        let again = Start::decide(
            90,
            Some(&page2.resume_after(130)),
            "/g1/\n/g2/",
            Some("/g1/"),
        );
        assert_eq!(parts(&again), (0, 0, true, true, false));
        let applied = Start::decide(
            0,
            Some(&changed.resume_after(5)),
            "/g1/\n/g2/",
            Some("/g1/"),
        );
        assert_eq!(parts(&applied), (0, 5, false, false, true));
        // Garbage is an abandoned pull.
        let junk = Start::decide(90, Some(b"junk"), "/g1/", Some("/g1/"));
        assert_eq!(parts(&junk), (90, 90, true, false, false));
    }
}
