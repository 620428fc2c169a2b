//! Demo monitoring alerts (docs/MONITORING.md): a medical-insurance list and an unemployment list
//! imported by the township reviewer into the demo grid, so the console's 监测预警 pages have
//! alerts (one over the demo threshold, one registration), a run with an unmatched line, and
//! the grid worker's phone an `alert_check` task.

use chrono::Days;
use sea_orm::{DatabaseConnection, EntityTrait, PaginatorTrait};

use super::DemoError;
use crate::accounts;
use crate::entity::monitoring_run;
use crate::identity::IdentityKeys;
use crate::monitoring::{self, FileFormat, Source};
use crate::review::deadlines;

/// The demo device the imports are recorded under (the demo cases' device).
const DEVICE_ID: &str = "00000000000000000000000000de0001";

/// A demo account acting on the demo device, as the console would make it; `None` when the
/// account or its regions are missing.
pub(super) async fn demo_actor(
    db: &DatabaseConnection,
    username: &str,
) -> Result<Option<crate::access::Actor>, DemoError> {
    let Some(account) = accounts::find_by_username(db, username).await? else {
        return Ok(None);
    };
    let Some(subject) = accounts::subject_of(db, &account).await? else {
        return Ok(None);
    };
    Ok(Some(crate::access::Actor {
        subject,
        account,
        device_id: DEVICE_ID.to_string(),
        client_addr: "demo".to_string(),
    }))
}

/// Import the demo lists once (nothing when any run exists or the demo cases are missing).
pub async fn seed_alerts(db: &DatabaseConnection, keys: &IdentityKeys) -> Result<(), DemoError> {
    if monitoring_run::Entity::find().count(db).await? > 0 {
        return Ok(());
    }
    let Some(actor) = demo_actor(db, "demo-town").await? else {
        return Ok(());
    };
    let day = |n: u64| {
        deadlines::today()
            .and_then(|d| d.checked_sub_days(Days::new(n)))
            .map(|d| d.to_string())
            .unwrap_or_default()
    };
    // 王建国 (the demo's first household) paid 26,300 yuan out of pocket in two settlements,
    // over the demo threshold of 20,000; the third line is nobody on record.
    let medical = format!(
        "身份证号,姓名,结算日期,自付金额\n\
         370102196203150017,王建国,{},18000\n\
         370102196203150017,王建国,{},8300\n\
         37010219900101001X,外地患者,{},5200\n",
        day(60),
        day(12),
        day(20)
    );
    // 李秀英 registered as unemployed.
    let unemployment = format!(
        "身份证号,姓名,登记日期\n370102196508220020,李秀英,{}\n",
        day(5)
    );
    for (source, name, body) in [
        (Source::Medical, "医保局_大额自付_演示.csv", medical),
        (
            Source::Unemployment,
            "人社局_失业登记_演示.csv",
            unemployment,
        ),
    ] {
        monitoring::import(
            db,
            keys,
            &actor,
            source,
            name,
            FileFormat::Csv,
            bytes::Bytes::from(body),
            1_000,
        )
        .await
        .map_err(|e| DemoError::Cases(e.body().message_en))?;
    }
    Ok(())
}
