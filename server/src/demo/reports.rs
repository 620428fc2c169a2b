//! Demo discovery reports further along their life (docs/REVIEW.md), taken there through the
//! service as the township would: one registered with the household it names, one verified by
//! its 主动发现核查 visit and referred to 低保 (with its 回访 task), and one closed.

use sea_orm::DatabaseConnection;

use super::DemoError;
use super::alerts::demo_actor;
use crate::error::ApiError;
use crate::review::{report_life, reports};

fn err(e: ApiError) -> DemoError {
    DemoError::Cases(e.body().message_en)
}

/// The demo reports' ids: `registered` and `referred` name a household, `referred` also has a
/// submitted verification visit `check`.
pub(super) struct Walk {
    pub registered: String,
    pub referred: String,
    pub check: String,
    pub closed: String,
}

/// Take the demo reports through their steps (nothing when the demo accounts are missing).
pub(super) async fn walk(db: &DatabaseConnection, w: Walk) -> Result<(), DemoError> {
    let (Some(town), Some(worker)) = (
        demo_actor(db, "demo-town").await?,
        demo_actor(db, "demo-grid").await?,
    ) else {
        return Ok(());
    };
    for id in [&w.registered, &w.referred] {
        reports::assign(
            db,
            &town,
            id,
            &worker.account.id,
            Some("请入户核实家庭情况"),
        )
        .await
        .map_err(err)?;
        report_life::register(db, &town, id, None)
            .await
            .map_err(err)?;
    }
    // The verification visit came in (as the grid worker's sync would): its task is done and
    // the registered report verified by itself, in the grid worker's name.
    report_life::close_visited_tasks(db, &[w.check.as_str()]).await?;
    report_life::verify_visited(db, &worker, &[w.check.as_str()])
        .await
        .map_err(err)?;
    let today = crate::review::deadlines::today().unwrap_or_default();
    let referral = report_life::Referral {
        to: report_life::ReferTo::Programme(doudi_protocol::doc::household::Programme::Dibao),
        on: today,
        note: Some("已告知家庭申请低保所需材料"),
    };
    report_life::refer(db, &town, &w.referred, &referral)
        .await
        .map_err(err)?;
    reports::close(
        db,
        &town,
        &w.closed,
        Some("经核实已由子女接回赡养，生活有保障，无需救助"),
    )
    .await
    .map_err(err)?;
    Ok(())
}
