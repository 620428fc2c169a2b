//! Demo data: a real county's regions (with made-up grids) and one account per role.

use sea_orm::DatabaseConnection;

use doudi_protocol::role::Role;
use doudi_protocol::rules::policy::{PolicyLayer, PolicySettings, Standard};
use doudi_protocol::rules::{Cap, Money, Rate};

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

mod alerts;
mod cases;
mod reports;
mod temp_aid;

/// The demo city's policy (济南市 in the demo's region tree), effective from 2026-01-01. The
/// figures are for demonstration, not a real place's: 低保 1,000 yuan per person per month in
/// town and 800 in the country, last year's disposable income, the rigid-expenditure ratio,
/// asset limits, the 特困 multiplier, visit intervals, the monitoring-alert and the 临时救助 settings
/// (township limit 3,000 yuan, yearly cap 30,000, paperwork within 5 days), so that
/// every indicator of the assessment and every kind of task can be seen.
pub fn demo_policy() -> PolicyLayer {
    PolicyLayer {
        region: Some("370100000000".into()),
        effective_from: chrono::NaiveDate::from_ymd_opt(2026, 1, 1).unwrap_or_default(),
        source: Some("演示政策：数值仅供演示，不是真实标准".into()),
        settings: PolicySettings {
            dibao_standard_urban: Some(Standard::monthly(Money::yuan(1_000))),
            dibao_standard_rural: Some(Standard::monthly(Money::yuan(800))),
            tekun_multiplier: Some(Rate::from_units(13_000)),
            rigid_expenditure_ratio: Some(Rate::percent(60)),
            disposable_income_urban: Some(Money::yuan(60_000)),
            disposable_income_rural: Some(Money::yuan(25_000)),
            financial_assets_per_capita_limit: Some(Cap::Limited(Money::yuan(24_000))),
            vehicle_limit: Some(Cap::Limited(0)),
            dwelling_limit: Some(Cap::Limited(1)),
            visit_high_risk_days: Some(7),
            visit_key_months: Some(1),
            visit_other_months: Some(3),
            alert_medical_cost_threshold: Some(Money::yuan(20_000)),
            alert_verify_days: Some(7),
            temp_aid_township_limit: Some(Money::yuan(3_000)),
            temp_aid_yearly_cap: Some(Cap::Limited(Money::yuan(30_000))),
            emergency_paperwork_days: Some(5),
            report_follow_up_days: Some(30),
            ..Default::default()
        },
    }
}

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

/// Seed regions, accounts, the demo policy and the demo cases; running it again changes nothing. Identity numbers are sealed to
/// the server's key, as a phone seals them.
pub async fn seed(
    db: &DatabaseConnection,
    identity: &crate::identity::IdentityKeys,
    settings: &crate::config::Settings,
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
    let layer = demo_policy();
    let (book, _) = crate::policies::load(db)
        .await
        .map_err(|e| DemoError::Cases(e.to_string()))?;
    if !book
        .layers()
        .any(|l| l.region == layer.region && l.effective_from == layer.effective_from)
    {
        crate::policies::put_layer(db, layer, None, None)
            .await
            .map_err(|e| DemoError::Cases(e.to_string()))?;
    }
    let blobs = crate::blobs::BlobService::from_settings(settings)
        .map_err(|e| DemoError::Cases(e.to_string()))?;
    cases::seed_cases(db, identity, &blobs).await?;
    alerts::seed_alerts(db, identity).await?;
    temp_aid::seed_temp_aid(db).await?;
    Ok(())
}
