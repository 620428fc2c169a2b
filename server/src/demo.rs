//! Demo data: a real county's regions (with made-up grids) and one account per role.

use sea_orm::DatabaseConnection;

use doudi_protocol::role::Role;

use crate::accounts::{self, NewAccount};
use crate::error::ApiError;
use crate::regions;

/// 山东省济南市历下区: its townships and four communities of 千佛山街道, with two made-up grids each.
pub const REGIONS_CSV: &str = include_str!("../data/regions-lixia.csv");

/// The password of every demo account.
pub const DEMO_PASSWORD: &str = "doudi-demo-2026";

/// (user name, display name, role, region code)
pub const DEMO_ACCOUNTS: [(&str, &str, Role, &str); 6] = [
    ("demo-grid", "张网格", Role::GridWorker, "370102002002-G01"),
    ("demo-assistant", "李协理", Role::Assistant, "370102002002"),
    ("demo-cadre", "王村干", Role::VillageCadre, "370102002003"),
    ("demo-town", "赵乡镇", Role::TownReviewer, "370102002000"),
    (
        "demo-county",
        "钱县级",
        Role::CountyApprover,
        "370102000000",
    ),
    ("demo-admin", "孙管理", Role::Admin, "370102000000"),
];

mod cases;

#[derive(Debug, thiserror::Error)]
pub enum DemoError {
    #[error("demo regions: {0}")]
    Regions(#[from] regions::ImportError),
    #[error("demo account {0}: {1}")]
    Account(&'static str, String),
    #[error(transparent)]
    Db(#[from] sea_orm::DbErr),
    #[error("demo cases: {0}")]
    Cases(String),
}

/// Seed regions and accounts; running it again changes nothing. Identity numbers are sealed to
/// the server's key, as a phone seals them.
pub async fn seed(
    db: &DatabaseConnection,
    identity: &crate::identity::IdentityKeys,
) -> Result<(), DemoError> {
    regions::import_csv(db, REGIONS_CSV, 10_000, None).await?;
    for (username, display, role, region) in DEMO_ACCOUNTS {
        if accounts::find_by_username(db, username).await?.is_some() {
            continue;
        }
        accounts::create(
            db,
            NewAccount {
                username: username.to_string(),
                display_name: display.to_string(),
                role,
                password: DEMO_PASSWORD.to_string(),
                region_codes: vec![region.to_string()],
            },
        )
        .await
        .map_err(|e: ApiError| DemoError::Account(username, e.body().message_en))?;
    }
    cases::seed_cases(db, identity).await?;
    Ok(())
}
