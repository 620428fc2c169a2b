//! `identity_numbers`: the 身份证号 of every person a document holds, which documents carry only
//! masked and sealed to the server's key. One row per person of a document (`entry`: e.g.
//! `members.<member_id>`), rewritten with the document: the number encrypted under the server's
//! key for numbers at rest (`sealed`), and keyed hashes (HMAC-SHA256 with a server secret) of
//! the whole number and of its last 4, 5 and 6 characters, by which search and matching find
//! it without the number in clear. `searchable`: a current member of a household.

use sea_orm_migration::prelude::*;
use sea_orm_migration::schema::{blob, boolean, string_len};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum IdentityNumbers {
    Table,
    DocId,
    Entry,
    RegionPath,
    Searchable,
    Masked,
    Sealed,
    HashFull,
    HashTail4,
    HashTail5,
    HashTail6,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, m: &SchemaManager) -> Result<(), DbErr> {
        use IdentityNumbers as T;
        m.create_table(
            Table::create()
                .table(T::Table)
                .col(string_len(T::DocId, 32))
                .col(string_len(T::Entry, 64))
                .col(string_len(T::RegionPath, 512))
                .col(boolean(T::Searchable))
                .col(string_len(T::Masked, 16))
                .col(blob(T::Sealed))
                .col(string_len(T::HashFull, 64))
                .col(string_len(T::HashTail4, 64))
                .col(string_len(T::HashTail5, 64))
                .col(string_len(T::HashTail6, 64))
                .primary_key(Index::create().col(T::DocId).col(T::Entry))
                .to_owned(),
        )
        .await?;
        for (name, col) in [
            ("idx_identity_full", T::HashFull),
            ("idx_identity_tail4", T::HashTail4),
            ("idx_identity_tail5", T::HashTail5),
            ("idx_identity_tail6", T::HashTail6),
        ] {
            m.create_index(
                Index::create()
                    .name(name)
                    .table(T::Table)
                    .col(col)
                    .to_owned(),
            )
            .await?;
        }
        Ok(())
    }
}
