//! Projections: documents read into relational tables for the console and queries. Derived data:
//! [`rebuild_all`] recomputes them from the documents alone. The blob references (which photos,
//! signatures and receipts a document points at, deciding who may read a blob and what
//! `doudi blobs gc` keeps) are maintained here too.

use automerge::Automerge;
use sea_orm::{
    ColumnTrait, ConnectionTrait, DbErr, EntityTrait, QueryFilter, QueryOrder, QuerySelect,
    QueryTrait, Set, TransactionSession, TransactionTrait,
};

use doudi_protocol::doc;
use doudi_protocol::ids::{BlobHash, DocumentKind};

use super::blob_refs::{self as blobs, Sha256Hex};
use crate::db::Exec;
use crate::db::insert_chunks;
use crate::entity::{decision, document, household, member, report, visit};

/// The blobs a document points at, as the blob store names them.
fn blob_names<'a>(hashes: impl Iterator<Item = &'a BlobHash>) -> Vec<Sha256Hex> {
    hashes
        .filter_map(|h| Sha256Hex::parse(&h.to_string()))
        .collect()
}

/// A coordinate in millionths of a degree (about 0.1 m).
fn micro_degrees(deg: f64) -> i64 {
    (deg * 1e6).round() as i64
}

/// The projection rows of one document, worked out from its state before they are written (so
/// that reading the document happens outside the write transaction).
#[derive(Debug, Clone)]
pub enum Rows {
    Household {
        household: household::ActiveModel,
        members: Vec<member::ActiveModel>,
        decisions: Vec<decision::ActiveModel>,
        blobs: Vec<Sha256Hex>,
    },
    Visit {
        visit: visit::ActiveModel,
        blobs: Vec<Sha256Hex>,
    },
    Report {
        report: report::ActiveModel,
        blobs: Vec<Sha256Hex>,
    },
    /// The document does not read as its kind (it was stored before a schema change): no rows.
    Nothing,
}

/// Read the projection rows of document `id` (of `kind`, in grid `scope` at `region_path`); their
/// feed sequence is set when they are written.
pub fn rows(
    id: &str,
    kind: &str,
    scope: &str,
    region_path: &str,
    content: Option<&doc::Content>,
) -> Result<Rows, DbErr> {
    let kind = DocumentKind::parse(kind).map_err(|e| DbErr::Custom(e.to_string()))?;
    Ok(match kind {
        DocumentKind::Household => {
            let Some(doc::Content::Household(h)) = content else {
                return Ok(Rows::Nothing);
            };
            let live: Vec<_> = h
                .members
                .iter()
                .filter(|(_, m)| m.removed_at.is_none())
                .collect();
            let head = live
                .iter()
                .find(|(_, m)| m.relation == doc::household::Relation::Head)
                .map(|(_, m)| m.name.clone());
            let household = household::ActiveModel {
                doc_id: Set(id.to_string()),
                scope: Set(scope.to_string()),
                region_path: Set(region_path.to_string()),
                address: Set(h.address.chars().take(512).collect()),
                hukou_type: Set(h.hukou_type.map(|t| t.as_str().to_string())),
                programmes: Set(h
                    .programmes
                    .iter()
                    .map(|p| p.as_str())
                    .collect::<Vec<_>>()
                    .join(",")),
                head_name: Set(head),
                member_count: Set(live.len() as i32),
                updated_seq: Set(0),
            };
            let dispersed = h
                .programmes
                .contains(&doc::household::Programme::TekunDispersed);
            let members = h
                .members
                .iter()
                .map(|(member_id, m)| member::ActiveModel {
                    doc_id: Set(id.to_string()),
                    member_id: Set(member_id.to_string()),
                    name: Set(m.name.chars().take(128).collect()),
                    id_number_masked: Set(m.identity.as_ref().map(|n| n.masked.to_string())),
                    relation: Set(m.relation.as_str().to_string()),
                    co_resident: Set(m.co_resident),
                    removed: Set(m.removed_at.is_some()),
                    region_path: Set(region_path.to_string()),
                    care_gaps: Set((dispersed && m.is_current()).then(|| {
                        m.care_plan
                            .clone()
                            .unwrap_or_default()
                            .missing()
                            .iter()
                            .map(|i| i.as_str())
                            .collect::<Vec<_>>()
                            .join(",")
                    })),
                })
                .collect();
            let decisions = h
                .decisions
                .iter()
                .enumerate()
                .map(|(i, d)| decision::ActiveModel {
                    doc_id: Set(id.to_string()),
                    idx: Set(i32::try_from(i).unwrap_or(i32::MAX)),
                    scope: Set(scope.to_string()),
                    region_path: Set(region_path.to_string()),
                    programme: Set(d.programme.map(|p| p.as_str().to_string())),
                    outcome: Set(d.outcome.as_str().to_string()),
                    amount_fen: Set(d.amount_fen_per_month),
                    household_size: Set(d.household_size.map(i32::from)),
                    effective_from: Set(d.effective_from.map(|f| f.to_string())),
                    at_ms: Set(d.at.0),
                    decided_by: Set(d.by.to_string()),
                    reference: Set(d.reference.as_ref().map(|r| r.chars().take(128).collect())),
                    note: Set(d.note.clone()),
                    visit_id: Set(d.visit.map(|v| v.to_string())),
                    months: Set(d.months.map(i32::from)),
                })
                .collect();
            let receipts = h.expenditures.values().flat_map(|e| e.receipts.iter());
            Rows::Household {
                household,
                members,
                decisions,
                blobs: blob_names(receipts),
            }
        }
        DocumentKind::Visit => {
            let Some(doc::Content::Visit(v)) = content else {
                return Ok(Rows::Nothing);
            };
            Rows::Visit {
                visit: visit::ActiveModel {
                    doc_id: Set(id.to_string()),
                    household_id: Set(v.household.to_string()),
                    scope: Set(scope.to_string()),
                    region_path: Set(region_path.to_string()),
                    purpose: Set(v.purpose.as_str().to_string()),
                    status: Set(v.status.as_str().to_string()),
                    mode: Set(v.mode.as_str().to_string()),
                    started_at_ms: Set(v.started_at.map(|t| t.0)),
                    ended_at_ms: Set(v.ended_at.map(|t| t.0)),
                    submitted_at_ms: Set(v.submitted_at.map(|t| t.0)),
                    investigator_count: Set(v.investigators.len() as i32),
                    conclusion: Set(v.conclusion.map(|c| c.as_str().to_string())),
                    photo_count: Set(v.photos.len() as i32),
                    updated_seq: Set(0),
                    applied_for: Set(v.applied_for.map(|p| p.as_str().to_string())),
                    gps_lat_e6: Set(v.gps.as_ref().map(|g| micro_degrees(g.lat))),
                    gps_lon_e6: Set(v.gps.as_ref().map(|g| micro_degrees(g.lon))),
                    accepted_on: Set(v.application.as_ref().map(|a| a.accepted_on.to_string())),
                    case_extended: Set(v.extension.is_some()),
                    kin_filing: Set(v.application.as_ref().is_some_and(|a| a.kin_filing)),
                },
                blobs: blob_names(v.photos.keys().chain(v.signatures.keys())),
            }
        }
        DocumentKind::DiscoveryReport => {
            let Some(doc::Content::DiscoveryReport(r)) = content else {
                return Ok(Rows::Nothing);
            };
            Rows::Report {
                report: report::ActiveModel {
                    doc_id: Set(id.to_string()),
                    scope: Set(scope.to_string()),
                    region_path: Set(region_path.to_string()),
                    reporter: Set(r.reporter.to_string()),
                    channel: Set(r.channel.map(|c| c.as_str().to_string())),
                    urgency: Set(r.urgency.map(|u| u.as_str().to_string())),
                    emergency_24h: Set(r.emergency_24h),
                    status: Set(r.status.as_str().to_string()),
                    reported_at_ms: Set(r.reported_at.map(|t| t.0)),
                    updated_seq: Set(0),
                },
                blobs: blob_names(r.photos.keys()),
            }
        }
    })
}

/// Replace the projection rows of each document `row` with its `rows`, stamped with `row.seq`,
/// the rows of all inserted together. `fresh`: the document has no rows to remove (it was stored
/// for the first time in this transaction, or its rows were removed already).
pub async fn write_many<E: Exec>(
    db: &E,
    docs: Vec<(&document::Model, Rows, bool)>,
) -> Result<(), DbErr> {
    let (mut households, mut members, mut decisions, mut visits, mut reports, mut refs) = (
        Vec::new(),
        Vec::new(),
        Vec::new(),
        Vec::new(),
        Vec::new(),
        Vec::new(),
    );
    for (row, rows, fresh) in docs {
        if !fresh {
            remove(db, &row.id).await?;
        }
        let seq = Set(row.seq);
        let blobs = match rows {
            Rows::Household {
                mut household,
                members: m,
                decisions: d,
                blobs,
            } => {
                household.updated_seq = seq;
                households.push(household);
                members.extend(m);
                decisions.extend(d);
                blobs
            }
            Rows::Visit { mut visit, blobs } => {
                visit.updated_seq = seq;
                visits.push(visit);
                blobs
            }
            Rows::Report { mut report, blobs } => {
                report.updated_seq = seq;
                reports.push(report);
                blobs
            }
            Rows::Nothing => continue,
        };
        refs.extend(blobs::refs(&row.id, &row.region_path, &blobs));
    }
    insert_chunks(db, households, None).await?;
    insert_chunks(db, members, None).await?;
    insert_chunks(db, decisions, None).await?;
    insert_chunks(db, visits, None).await?;
    insert_chunks(db, reports, None).await?;
    // A document's rows were removed above unless it is new: none of these are stored, so a
    // plain insert, without `blobs::insert_refs`' upsert (an index probe per row more).
    insert_chunks(db, refs, None).await?;
    Ok(())
}

/// The projection rows of the stored document `row`, read from its saved state.
fn read_rows(row: &document::Model) -> Result<Rows, DbErr> {
    let doc = Automerge::load(&row.snapshot)
        .map_err(|e| DbErr::Custom(format!("document {}: {e}", row.id)))?;
    let tree = doc::tree(&doc).map_err(|e| DbErr::Custom(e.to_string()))?;
    let read = doc::read_any(&tree).ok();
    rows(
        &row.id,
        &row.kind,
        &row.scope,
        &row.region_path,
        read.as_ref().map(|(_, c)| c),
    )
}

/// [`read_rows`] of every document of `page`, in order, on up to `threads` threads: loading a
/// document is the rebuild's main cost, and documents load independently.
fn read_page(page: &[document::Model], threads: usize) -> Result<Vec<Rows>, DbErr> {
    let per = page.len().div_ceil(threads.max(1)).max(1);
    std::thread::scope(|s| {
        let parts: Vec<_> = page
            .chunks(per)
            .map(|part| s.spawn(move || part.iter().map(read_rows).collect::<Result<Vec<_>, _>>()))
            .collect();
        let mut out = Vec::with_capacity(page.len());
        for part in parts {
            out.extend(
                part.join()
                    .map_err(|_| DbErr::Custom("projection reader panicked".into()))??,
            );
        }
        Ok(out)
    })
}

async fn remove<E: Exec>(db: &E, id: &str) -> Result<(), DbErr> {
    let b = db.backend();
    db.exec(household::Entity::delete_by_id(id.to_string()).build(b))
        .await?;
    db.exec(
        member::Entity::delete_many()
            .filter(member::Column::DocId.eq(id))
            .build(b),
    )
    .await?;
    db.exec(
        decision::Entity::delete_many()
            .filter(decision::Column::DocId.eq(id))
            .build(b),
    )
    .await?;
    db.exec(visit::Entity::delete_by_id(id.to_string()).build(b))
        .await?;
    db.exec(report::Entity::delete_by_id(id.to_string()).build(b))
        .await?;
    blobs::unlink_document(db, id).await?;
    Ok(())
}

/// Documents read per page by [`rebuild_all`].
const REBUILD_PAGE: u64 = 500;

/// Recompute every projection from the stored documents (`doudi projections rebuild`).
/// Returns how many documents were read.
pub async fn rebuild_all<C: ConnectionTrait + TransactionTrait>(db: &C) -> Result<u64, DbErr> {
    rebuild_paged(db, REBUILD_PAGE).await
}

/// [`rebuild_all`], reading the documents `page` at a time. Each page's documents are loaded on
/// the machine's cores, their blob references dropped in one statement and their rows inserted
/// together; the whole pass is one transaction, so readers see the old projections until it
/// commits. Memory is bounded by a page.
pub async fn rebuild_paged<C: ConnectionTrait + TransactionTrait>(
    db: &C,
    page: u64,
) -> Result<u64, DbErr> {
    let threads = std::thread::available_parallelism().map_or(1, |n| n.get());
    let txn = db.begin().await?;
    household::Entity::delete_many().exec(&txn).await?;
    member::Entity::delete_many().exec(&txn).await?;
    decision::Entity::delete_many().exec(&txn).await?;
    visit::Entity::delete_many().exec(&txn).await?;
    report::Entity::delete_many().exec(&txn).await?;
    // Pages by key (the id after the last one read), not by offset: each page is an index range
    // scan, where an offset rereads every row before it and makes the whole pass quadratic.
    let mut n = 0;
    let mut after: Option<String> = None;
    loop {
        let mut query = document::Entity::find()
            .order_by_asc(document::Column::Id)
            .limit(page.max(1));
        if let Some(last) = after.take() {
            query = query.filter(document::Column::Id.gt(last));
        }
        let rows = query.all(&txn).await?;
        let Some(last) = rows.last() else { break };
        after = Some(last.id.clone());
        let projected = read_page(&rows, threads)?;
        let ids: Vec<&str> = rows.iter().map(|r| r.id.as_str()).collect();
        blobs::unlink_documents(&txn, &ids).await?;
        // Every projection table was emptied above and the page's blob references just now.
        write_many(
            &txn,
            rows.iter()
                .zip(projected)
                .map(|(r, p)| (r, p, true))
                .collect(),
        )
        .await?;
        n += rows.len() as u64;
    }
    txn.commit().await?;
    Ok(n)
}
