//! Demo 临时救助 cases (docs/TEMPORARY_AID.md) in the demo grid, made through the service as
//! the township and the county would: a 急难 case whose aid was given 20 hours after the report
//! and approved by the county (above the township's limit), a 急难 case whose aid came 26 hours
//! after the report (overdue), and a 支出 request that takes the first household above the
//! yearly cap, waiting for 一事一议 at the county.

use sea_orm::{ColumnTrait, DatabaseConnection, EntityTrait, PaginatorTrait, QueryFilter};

use super::DemoError;
use super::alerts::demo_actor;
use super::cases::GRID;
use crate::auth::now_ms;
use crate::entity::{member, temp_aid_case};
use crate::error::ApiError;
use crate::temporary_aid::{self as aid, AidRequest, ApprovalRequest, DecisionRequest, NewCase};

const HOUR: i64 = 3_600_000;

fn err(e: ApiError) -> DemoError {
    DemoError::Cases(e.body().message_en)
}

/// The (household, member) of the demo member named `name`.
async fn person(
    db: &DatabaseConnection,
    name: &str,
) -> Result<Option<(String, String)>, DemoError> {
    Ok(member::Entity::find()
        .filter(member::Column::Name.eq(name))
        .filter(member::Column::RegionPath.ends_with(format!("/{GRID}/")))
        .one(db)
        .await?
        .map(|m| (m.doc_id, m.member_id)))
}

fn new_case(kind: &str, who: &(String, String), place: &str, reason: &str, at: i64) -> NewCase {
    NewCase {
        kind: kind.to_string(),
        household_id: who.0.clone(),
        member_id: who.1.clone(),
        region_code: GRID.to_string(),
        place: place.to_string(),
        reason: reason.to_string(),
        reported_at_ms: Some(at),
    }
}

/// Seed the demo cases once (nothing when any case exists or the demo households are missing).
pub async fn seed_temp_aid(db: &DatabaseConnection) -> Result<(), DemoError> {
    if temp_aid_case::Entity::find().count(db).await? > 0 {
        return Ok(());
    }
    let (Some(town), Some(county)) = (
        demo_actor(db, "demo-town").await?,
        demo_actor(db, "demo-county").await?,
    ) else {
        return Ok(());
    };
    let (Some(zhao), Some(sun)) = (person(db, "赵德福").await?, person(db, "孙桂兰").await?)
    else {
        return Ok(());
    };
    let now = now_ms();

    // 1. On time: a kitchen fire at 赵德福's; 1,500 yuan 20 hours after the report, then the
    // paperwork for 28,500 in all, the county's to approve; the rest paid.
    let at = now - 72 * HOUR;
    let c = aid::open(
        db,
        &town,
        &new_case(
            "emergency",
            &zhao,
            "建新社区 5 号楼 1 单元 302",
            "厨房失火，被褥衣物烧毁，老人独居",
            at,
        ),
    )
    .await
    .map_err(err)?;
    let id = c.case.case_id;
    let given = AidRequest {
        amount_fen: 150_000,
        given_at_ms: Some(at + 20 * HOUR),
        note: Some("现金 1,500 元及被褥".into()),
    };
    aid::give_aid(db, &town, &id, &given).await.map_err(err)?;
    let request = ApprovalRequest {
        amount_fen: 2_850_000,
        note: Some("房屋修缮及生活补助".into()),
    };
    aid::request_approval(db, &town, &id, &request)
        .await
        .map_err(err)?;
    let approve = DecisionRequest {
        decision: "approve".into(),
        note: None,
    };
    aid::decide(db, &county, &id, &approve).await.map_err(err)?;
    let pay = aid::PaymentRequest {
        amount_fen: 2_700_000,
        paid_on: None,
        note: None,
    };
    aid::pay(db, &town, &id, &pay).await.map_err(err)?;

    // 2. Late: 孙桂兰 hospitalised after a fall; the aid came 26 hours after the report.
    let at = now - 48 * HOUR;
    let c = aid::open(
        db,
        &town,
        &new_case(
            "emergency",
            &sun,
            "建新社区 7 号楼",
            "摔伤住院，无人照料，急需医疗费",
            at,
        ),
    )
    .await
    .map_err(err)?;
    let late = AidRequest {
        amount_fen: 80_000,
        given_at_ms: Some(at + 26 * HOUR),
        note: None,
    };
    aid::give_aid(db, &town, &c.case.case_id, &late)
        .await
        .map_err(err)?;

    // 3. At the cap: 赵德福's household asks 3,000 more for medicine this year; with 28,500
    // received the county decides by 一事一议.
    let c = aid::open(
        db,
        &town,
        &new_case(
            "expense",
            &zhao,
            "建新社区 5 号楼 1 单元 302",
            "术后药费自付部分较大",
            now - 2 * HOUR,
        ),
    )
    .await
    .map_err(err)?;
    let request = ApprovalRequest {
        amount_fen: 300_000,
        note: None,
    };
    aid::request_approval(db, &town, &c.case.case_id, &request)
        .await
        .map_err(err)?;
    Ok(())
}
