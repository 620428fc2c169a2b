//! 临时救助 (docs/TEMPORARY_AID.md): `temp_aid_cases`, one case each (急难 or 支出) with the
//! place of the emergency (its region, which decides access), the clocks of 先行救助 and of the
//! paperwork after it, and the state; `temp_aid_events`, every transition with who and when;
//! `temp_aid_approvals`, each request for approval (审批) with its route fixed when it was made;
//! `temp_aid_payments`, the payments made (先行救助 and staged payments of an approval), which
//! the household's yearly total counts. `report_id` is unique: a discovery report opens at most
//! one case.

use sea_orm_migration::prelude::*;
use sea_orm_migration::schema::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum TempAidCases {
    Table,
    Id,
    Kind,
    HouseholdId,
    MemberId,
    PersonName,
    IdMasked,
    RegionCode,
    RegionPath,
    Place,
    Reason,
    ReportId,
    ReportedAtMs,
    AidDueAtMs,
    AidGivenAtMs,
    PaperworkDueAtMs,
    PaperworkDoneAtMs,
    Status,
    CreatedBy,
    CreatedAtMs,
    UpdatedAtMs,
}

#[derive(DeriveIden)]
enum TempAidEvents {
    Table,
    Id,
    CaseId,
    Action,
    FromStatus,
    ToStatus,
    AccountId,
    AtMs,
    AmountFen,
    Note,
}

#[derive(DeriveIden)]
enum TempAidApprovals {
    Table,
    Id,
    CaseId,
    Round,
    AmountFen,
    ReceivedBeforeFen,
    Route,
    CapFen,
    Status,
    RequestedBy,
    RequestedAtMs,
    DecidedBy,
    DecidedAtMs,
    Note,
}

#[derive(DeriveIden)]
enum TempAidPayments {
    Table,
    Id,
    CaseId,
    HouseholdId,
    ApprovalId,
    Stage,
    AmountFen,
    PaidOn,
    RecordedBy,
    RecordedAtMs,
    Note,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.create_table(
            Table::create()
                .table(TempAidCases::Table)
                .col(string_len(TempAidCases::Id, 32).primary_key())
                .col(string_len(TempAidCases::Kind, 16))
                .col(string_len(TempAidCases::HouseholdId, 32))
                .col(string_len(TempAidCases::MemberId, 64))
                .col(text(TempAidCases::PersonName))
                .col(string_len_null(TempAidCases::IdMasked, 32))
                .col(string_len(TempAidCases::RegionCode, 64))
                .col(string_len(TempAidCases::RegionPath, 512))
                .col(text(TempAidCases::Place))
                .col(text(TempAidCases::Reason))
                .col(string_len_null(TempAidCases::ReportId, 32))
                .col(big_integer(TempAidCases::ReportedAtMs))
                .col(big_integer_null(TempAidCases::AidDueAtMs))
                .col(big_integer_null(TempAidCases::AidGivenAtMs))
                .col(big_integer_null(TempAidCases::PaperworkDueAtMs))
                .col(big_integer_null(TempAidCases::PaperworkDoneAtMs))
                .col(string_len(TempAidCases::Status, 16))
                .col(string_len(TempAidCases::CreatedBy, 40))
                .col(big_integer(TempAidCases::CreatedAtMs))
                .col(big_integer(TempAidCases::UpdatedAtMs))
                .to_owned(),
        )
        .await?;
        for (name, cols, unique) in [
            (
                "idx_temp_aid_cases_path",
                vec![TempAidCases::RegionPath, TempAidCases::Status],
                false,
            ),
            (
                "idx_temp_aid_cases_household",
                vec![TempAidCases::HouseholdId],
                false,
            ),
            (
                "idx_temp_aid_cases_report",
                vec![TempAidCases::ReportId],
                true,
            ),
        ] {
            let mut i = Index::create();
            i.name(name).table(TempAidCases::Table);
            for c in cols {
                i.col(c);
            }
            if unique {
                i.unique();
            }
            m.create_index(i.to_owned()).await?;
        }
        m.create_table(
            Table::create()
                .table(TempAidEvents::Table)
                .col(
                    big_integer(TempAidEvents::Id)
                        .primary_key()
                        .auto_increment(),
                )
                .col(string_len(TempAidEvents::CaseId, 32))
                .col(string_len(TempAidEvents::Action, 32))
                .col(string_len_null(TempAidEvents::FromStatus, 16))
                .col(string_len(TempAidEvents::ToStatus, 16))
                .col(string_len(TempAidEvents::AccountId, 40))
                .col(big_integer(TempAidEvents::AtMs))
                .col(big_integer_null(TempAidEvents::AmountFen))
                .col(text_null(TempAidEvents::Note))
                .to_owned(),
        )
        .await?;
        m.create_index(
            Index::create()
                .name("idx_temp_aid_events_case")
                .table(TempAidEvents::Table)
                .col(TempAidEvents::CaseId)
                .col(TempAidEvents::Id)
                .to_owned(),
        )
        .await?;
        m.create_table(
            Table::create()
                .table(TempAidApprovals::Table)
                .col(string_len(TempAidApprovals::Id, 32).primary_key())
                .col(string_len(TempAidApprovals::CaseId, 32))
                .col(integer(TempAidApprovals::Round))
                .col(big_integer(TempAidApprovals::AmountFen))
                .col(big_integer(TempAidApprovals::ReceivedBeforeFen))
                .col(string_len(TempAidApprovals::Route, 16))
                .col(big_integer_null(TempAidApprovals::CapFen))
                .col(string_len(TempAidApprovals::Status, 16))
                .col(string_len(TempAidApprovals::RequestedBy, 40))
                .col(big_integer(TempAidApprovals::RequestedAtMs))
                .col(string_len_null(TempAidApprovals::DecidedBy, 40))
                .col(big_integer_null(TempAidApprovals::DecidedAtMs))
                .col(text_null(TempAidApprovals::Note))
                .to_owned(),
        )
        .await?;
        m.create_index(
            Index::create()
                .name("idx_temp_aid_approvals_case")
                .table(TempAidApprovals::Table)
                .col(TempAidApprovals::CaseId)
                .col(TempAidApprovals::Round)
                .unique()
                .to_owned(),
        )
        .await?;
        m.create_table(
            Table::create()
                .table(TempAidPayments::Table)
                .col(string_len(TempAidPayments::Id, 32).primary_key())
                .col(string_len(TempAidPayments::CaseId, 32))
                .col(string_len(TempAidPayments::HouseholdId, 32))
                .col(string_len_null(TempAidPayments::ApprovalId, 32))
                .col(string_len(TempAidPayments::Stage, 16))
                .col(big_integer(TempAidPayments::AmountFen))
                .col(string_len(TempAidPayments::PaidOn, 10))
                .col(string_len(TempAidPayments::RecordedBy, 40))
                .col(big_integer(TempAidPayments::RecordedAtMs))
                .col(text_null(TempAidPayments::Note))
                .to_owned(),
        )
        .await?;
        for (name, cols) in [
            (
                "idx_temp_aid_payments_household",
                vec![TempAidPayments::HouseholdId, TempAidPayments::PaidOn],
            ),
            ("idx_temp_aid_payments_case", vec![TempAidPayments::CaseId]),
        ] {
            let mut i = Index::create();
            i.name(name).table(TempAidPayments::Table);
            for c in cols {
                i.col(c);
            }
            m.create_index(i.to_owned()).await?;
        }
        Ok(())
    }
}
