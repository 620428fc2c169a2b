//! What tests read from a server's database directly: the projection tables as text (to compare
//! them with a rebuild), the documents and the change log.

use std::collections::BTreeMap;

use sea_orm::{DatabaseConnection, EntityTrait, QueryOrder};

use doudi_server::entity::{
    blob_ref, decision, doc_change, document, household, member, report, visit,
};

/// The projection tables (households, members, visits, reports) in a fixed order, as text: equal
/// strings mean equal tables.
pub async fn projections(db: &DatabaseConnection) -> String {
    format!("{:?}", projection_rows(db).await)
}

/// The rows of the projection tables (households, members, decisions, visits, reports, and the
/// blob references without their time of writing) of each document, as text, in a fixed order:
/// equal maps mean equal tables, and one document's rows compare alone.
pub async fn projection_rows(db: &DatabaseConnection) -> BTreeMap<String, Vec<String>> {
    let mut rows = BTreeMap::new();
    use household::Column as H;
    add_rows::<household::Entity>(db, &[H::DocId], |h| &h.doc_id, &mut rows).await;
    use member::Column as M;
    add_rows::<member::Entity>(db, &[M::DocId, M::MemberId], |m| &m.doc_id, &mut rows).await;
    use decision::Column as D;
    add_rows::<decision::Entity>(db, &[D::DocId, D::Idx], |d| &d.doc_id, &mut rows).await;
    add_rows::<visit::Entity>(db, &[visit::Column::DocId], |v| &v.doc_id, &mut rows).await;
    add_rows::<report::Entity>(db, &[report::Column::DocId], |r| &r.doc_id, &mut rows).await;
    let refs = blob_ref::Entity::find()
        .order_by_asc(blob_ref::Column::DocumentId)
        .order_by_asc(blob_ref::Column::Sha256)
        .all(db)
        .await
        .unwrap();
    for r in refs {
        let text = format!("blob_ref {} {}", r.sha256, r.region_path);
        rows.entry(r.document_id).or_default().push(text);
    }
    rows
}

/// Add the rows of table `E` in the order of `order` to `rows`, under their document (`doc`).
async fn add_rows<E>(
    db: &DatabaseConnection,
    order: &[E::Column],
    doc: fn(&E::Model) -> &String,
    rows: &mut BTreeMap<String, Vec<String>>,
) where
    E: EntityTrait,
    E::Model: std::fmt::Debug,
{
    let mut query = E::find();
    for c in order {
        query = query.order_by_asc(*c);
    }
    for row in query.all(db).await.unwrap() {
        rows.entry(doc(&row).clone())
            .or_default()
            .push(format!("{row:?}"));
    }
}

/// Every stored document by id.
pub async fn documents(db: &DatabaseConnection) -> BTreeMap<String, document::Model> {
    document::Entity::find()
        .all(db)
        .await
        .expect("documents")
        .into_iter()
        .map(|d| (d.id.clone(), d))
        .collect()
}

/// Rows of the change log per (document, change hash): a change stored twice counts 2.
pub async fn change_log_counts(db: &DatabaseConnection) -> BTreeMap<(String, String), u64> {
    let mut counts = BTreeMap::new();
    for c in doc_change::Entity::find()
        .all(db)
        .await
        .expect("change log")
    {
        *counts.entry((c.doc_id, c.hash)).or_insert(0) += 1;
    }
    counts
}
