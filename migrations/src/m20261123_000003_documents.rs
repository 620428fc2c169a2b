//! The document store, the sync feed, conflicts, and the projections of documents into tables.

use sea_orm_migration::prelude::*;
use sea_orm_migration::schema::*;
use sea_orm_migration::sea_orm::ConnectionTrait;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum Documents {
    Table,
    Id,
    Kind,
    Scope,
    RegionPath,
    Snapshot,
    Heads,
    CreatedSeq,
    Seq,
    CreatedAtMs,
    UpdatedAtMs,
}

#[derive(DeriveIden)]
enum DocChanges {
    Table,
    Id,
    DocId,
    Hash,
    Seq,
    DeviceId,
    AccountId,
    Actor,
    AtMs,
    Bytes,
}

#[derive(DeriveIden)]
enum SyncFeed {
    Table,
    Id,
    Seq,
}

#[derive(DeriveIden)]
enum DeviceSync {
    Table,
    DeviceId,
    ScopeKey,
    UpdatedAtMs,
}

#[derive(DeriveIden)]
enum DocConflicts {
    Table,
    Id,
    DocId,
    Path,
    Detail,
    DetectedAtMs,
}

#[derive(DeriveIden)]
enum Households {
    Table,
    DocId,
    Scope,
    RegionPath,
    Address,
    HukouType,
    Programmes,
    HeadName,
    MemberCount,
    UpdatedSeq,
}

#[derive(DeriveIden)]
enum Members {
    Table,
    DocId,
    MemberId,
    Name,
    IdNumberMasked,
    Relation,
    CoResident,
    Removed,
}

#[derive(DeriveIden)]
enum Visits {
    Table,
    DocId,
    HouseholdId,
    Scope,
    RegionPath,
    Purpose,
    Status,
    Mode,
    StartedAtMs,
    EndedAtMs,
    SubmittedAtMs,
    InvestigatorCount,
    Conclusion,
    PhotoCount,
    UpdatedSeq,
}

#[derive(DeriveIden)]
enum Reports {
    Table,
    DocId,
    Scope,
    RegionPath,
    Reporter,
    Channel,
    Urgency,
    #[sea_orm(iden = "emergency_24h")]
    Emergency24h,
    Status,
    ReportedAtMs,
    UpdatedSeq,
}

async fn index(
    m: &SchemaManager<'_>,
    name: &str,
    table: impl IntoIden,
    cols: Vec<DynIden>,
    unique: bool,
) -> Result<(), DbErr> {
    let mut i = Index::create();
    i.name(name).table(table);
    for c in cols {
        i.col(c);
    }
    if unique {
        i.unique();
    }
    m.create_index(i.to_owned()).await
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.create_table(
            Table::create()
                .table(Documents::Table)
                .col(string_len(Documents::Id, 32).primary_key())
                .col(string_len(Documents::Kind, 32))
                .col(string_len(Documents::Scope, 32))
                .col(string_len(Documents::RegionPath, 512))
                .col(blob(Documents::Snapshot))
                .col(text(Documents::Heads))
                .col(big_integer(Documents::CreatedSeq))
                .col(big_integer(Documents::Seq))
                .col(big_integer(Documents::CreatedAtMs))
                .col(big_integer(Documents::UpdatedAtMs))
                .to_owned(),
        )
        .await?;
        index(
            m,
            "idx_documents_path_seq",
            Documents::Table,
            vec![
                Documents::RegionPath.into_iden(),
                Documents::Seq.into_iden(),
            ],
            false,
        )
        .await?;
        index(
            m,
            "idx_documents_seq",
            Documents::Table,
            vec![Documents::Seq.into_iden()],
            false,
        )
        .await?;

        m.create_table(
            Table::create()
                .table(DocChanges::Table)
                .col(big_pk_auto(DocChanges::Id))
                .col(string_len(DocChanges::DocId, 32))
                .col(string_len(DocChanges::Hash, 64))
                .col(big_integer(DocChanges::Seq))
                .col(string_len(DocChanges::DeviceId, 40))
                .col(string_len(DocChanges::AccountId, 40))
                .col(string_len(DocChanges::Actor, 128))
                .col(big_integer(DocChanges::AtMs))
                .col(blob(DocChanges::Bytes))
                .foreign_key(
                    ForeignKey::create()
                        .from(DocChanges::Table, DocChanges::DocId)
                        .to(Documents::Table, Documents::Id),
                )
                .to_owned(),
        )
        .await?;
        index(
            m,
            "idx_doc_changes_hash",
            DocChanges::Table,
            vec![DocChanges::DocId.into_iden(), DocChanges::Hash.into_iden()],
            true,
        )
        .await?;
        index(
            m,
            "idx_doc_changes_seq",
            DocChanges::Table,
            vec![DocChanges::DocId.into_iden(), DocChanges::Seq.into_iden()],
            false,
        )
        .await?;

        m.create_table(
            Table::create()
                .table(SyncFeed::Table)
                .col(integer(SyncFeed::Id).primary_key())
                .col(big_integer(SyncFeed::Seq))
                .to_owned(),
        )
        .await?;
        m.get_connection()
            .execute_unprepared("INSERT INTO sync_feed (id, seq) VALUES (1, 0)")
            .await?;

        m.create_table(
            Table::create()
                .table(DeviceSync::Table)
                .col(string_len(DeviceSync::DeviceId, 40).primary_key())
                .col(text(DeviceSync::ScopeKey))
                .col(big_integer(DeviceSync::UpdatedAtMs))
                .to_owned(),
        )
        .await?;

        m.create_table(
            Table::create()
                .table(DocConflicts::Table)
                .col(big_pk_auto(DocConflicts::Id))
                .col(string_len(DocConflicts::DocId, 32))
                .col(string_len(DocConflicts::Path, 512))
                .col(text(DocConflicts::Detail))
                .col(big_integer(DocConflicts::DetectedAtMs))
                .to_owned(),
        )
        .await?;
        index(
            m,
            "idx_doc_conflicts_doc",
            DocConflicts::Table,
            vec![DocConflicts::DocId.into_iden()],
            false,
        )
        .await?;

        m.create_table(
            Table::create()
                .table(Households::Table)
                .col(string_len(Households::DocId, 32).primary_key())
                .col(string_len(Households::Scope, 32))
                .col(string_len(Households::RegionPath, 512))
                .col(string_len(Households::Address, 512))
                .col(string_len_null(Households::HukouType, 16))
                .col(string_len(Households::Programmes, 256))
                .col(string_len_null(Households::HeadName, 128))
                .col(integer(Households::MemberCount))
                .col(big_integer(Households::UpdatedSeq))
                .to_owned(),
        )
        .await?;
        index(
            m,
            "idx_households_path",
            Households::Table,
            vec![Households::RegionPath.into_iden()],
            false,
        )
        .await?;

        m.create_table(
            Table::create()
                .table(Members::Table)
                .col(string_len(Members::DocId, 32))
                .col(string_len(Members::MemberId, 32))
                .col(string_len(Members::Name, 128))
                .col(string_len_null(Members::IdNumberMasked, 32))
                .col(string_len(Members::Relation, 32))
                .col(boolean(Members::CoResident))
                .col(boolean(Members::Removed))
                .primary_key(Index::create().col(Members::DocId).col(Members::MemberId))
                .to_owned(),
        )
        .await?;

        m.create_table(
            Table::create()
                .table(Visits::Table)
                .col(string_len(Visits::DocId, 32).primary_key())
                .col(string_len(Visits::HouseholdId, 32))
                .col(string_len(Visits::Scope, 32))
                .col(string_len(Visits::RegionPath, 512))
                .col(string_len(Visits::Purpose, 32))
                .col(string_len(Visits::Status, 16))
                .col(string_len(Visits::Mode, 16))
                .col(big_integer_null(Visits::StartedAtMs))
                .col(big_integer_null(Visits::EndedAtMs))
                .col(big_integer_null(Visits::SubmittedAtMs))
                .col(integer(Visits::InvestigatorCount))
                .col(string_len_null(Visits::Conclusion, 32))
                .col(integer(Visits::PhotoCount))
                .col(big_integer(Visits::UpdatedSeq))
                .to_owned(),
        )
        .await?;
        index(
            m,
            "idx_visits_path_status",
            Visits::Table,
            vec![Visits::RegionPath.into_iden(), Visits::Status.into_iden()],
            false,
        )
        .await?;
        index(
            m,
            "idx_visits_household",
            Visits::Table,
            vec![Visits::HouseholdId.into_iden()],
            false,
        )
        .await?;

        m.create_table(
            Table::create()
                .table(Reports::Table)
                .col(string_len(Reports::DocId, 32).primary_key())
                .col(string_len(Reports::Scope, 32))
                .col(string_len(Reports::RegionPath, 512))
                .col(string_len(Reports::Reporter, 64))
                .col(string_len_null(Reports::Channel, 32))
                .col(string_len_null(Reports::Urgency, 32))
                .col(boolean(Reports::Emergency24h))
                .col(string_len(Reports::Status, 16))
                .col(big_integer_null(Reports::ReportedAtMs))
                .col(big_integer(Reports::UpdatedSeq))
                .to_owned(),
        )
        .await?;
        index(
            m,
            "idx_reports_path",
            Reports::Table,
            vec![Reports::RegionPath.into_iden()],
            false,
        )
        .await?;
        Ok(())
    }
}
