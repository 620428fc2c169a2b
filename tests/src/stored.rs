//! What tests read from a server's database directly: the projection tables as text (to compare
//! them with a rebuild), the documents and the change log.

use std::collections::BTreeMap;

use sea_orm::{DatabaseConnection, EntityTrait, QueryOrder};

use doudi_server::entity::{doc_change, document, household, member, report, visit};

/// The projection tables (households, members, visits, reports) in a fixed order, as text: equal
/// strings mean equal tables.
pub async fn projections(db: &DatabaseConnection) -> String {
    format!(
        "{:?}\n{:?}\n{:?}\n{:?}",
        household::Entity::find()
            .order_by_asc(household::Column::DocId)
            .all(db)
            .await
            .unwrap(),
        member::Entity::find()
            .order_by_asc(member::Column::DocId)
            .order_by_asc(member::Column::MemberId)
            .all(db)
            .await
            .unwrap(),
        visit::Entity::find()
            .order_by_asc(visit::Column::DocId)
            .all(db)
            .await
            .unwrap(),
        report::Entity::find()
            .order_by_asc(report::Column::DocId)
            .all(db)
            .await
            .unwrap(),
    )
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
