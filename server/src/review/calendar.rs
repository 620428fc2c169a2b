//! The working-day calendar (工作日) the statutory due dates are counted in: the holiday data built
//! into doudi (`protocol/data/holidays-cn.csv`) with the years imported on the server on top
//! (`doudi calendar import FILE`, table `calendar_days`). China publishes each year's holidays and
//! adjusted working days (调休) in the autumn before; until a year is built in or imported, due
//! dates falling in it are unknown (日历未知), never guessed.
//!
//! The calendar is read from the database for each request that computes due dates, so a year
//! imported through any node counts on every node at once.

use std::collections::BTreeSet;
use std::sync::OnceLock;

use chrono::Datelike;
use sea_orm::{
    ActiveValue::Set, ColumnTrait, ConnectionTrait, DbErr, EntityTrait, QueryFilter,
    TransactionSession, TransactionTrait,
};

use doudi_protocol::rules::calendar::{CalendarError, DayKind, WorkCalendar};

use crate::audit::{self, Outcome};
use crate::auth::now_ms;
use crate::entity::calendar_day;

/// The first and last year an import may cover.
pub const IMPORT_YEARS: std::ops::RangeInclusive<i32> = 2000..=2100;
/// Audit action of an import.
pub const AUDIT_IMPORT: &str = "calendar.import";

/// The built-in holiday data (parsed once).
fn built_in() -> &'static WorkCalendar {
    static CAL: OnceLock<WorkCalendar> = OnceLock::new();
    CAL.get_or_init(|| {
        WorkCalendar::china().expect("the built-in holiday data parses (the protocol's tests)")
    })
}

/// The calendar now: the built-in years, with every imported year replacing its built-in data.
pub async fn load<C: ConnectionTrait>(db: &C) -> Result<WorkCalendar, DbErr> {
    let rows = calendar_day::Entity::find().all(db).await?;
    if rows.is_empty() {
        return Ok(built_in().clone());
    }
    let text: String = rows
        .iter()
        .map(|r| format!("{},{},{}\n", r.day, r.kind, r.name))
        .collect();
    let imported = WorkCalendar::parse(&text)
        .map_err(|e| DbErr::Custom(format!("stored calendar days: {e}")))?;
    Ok(built_in().clone().overlay(&imported))
}

/// Why an import was refused (nothing was changed).
#[derive(Debug, thiserror::Error)]
pub enum ImportError {
    #[error("{}", .0.message_zh())]
    Data(CalendarError),
    #[error("没有可导入的日期 / the file lists no day")]
    Empty,
    #[error("{0}年不在可导入的范围（2000–2100）内 / the year {0} is outside 2000–2100")]
    YearOutOfRange(i32),
    #[error(
        "{0}年没有列出任何节假日，不像完整的一年；请导入该年全部节假日和调休上班日 / the year {0} lists no holiday: import every holiday and adjusted working day of a year"
    )]
    NoHoliday(i32),
    #[error("{0}")]
    Db(#[from] DbErr),
}

/// Import the holiday and adjusted working days of one or more whole years (`date,kind,name`
/// lines, the format of the built-in data: docs/RULES.md). Each year in the file replaces what
/// was imported for it before, and counts instead of the built-in data of that year. The file
/// is checked whole first; the import and its audit entry are one transaction. Returns the years
/// imported and the number of days listed.
pub async fn import<C: ConnectionTrait + TransactionTrait>(
    db: &C,
    text: &str,
) -> Result<(Vec<i32>, usize), ImportError> {
    let cal = WorkCalendar::parse(text).map_err(ImportError::Data)?;
    let years: Vec<i32> = cal.covered_years().collect();
    if years.is_empty() {
        return Err(ImportError::Empty);
    }
    for y in &years {
        if !IMPORT_YEARS.contains(y) {
            return Err(ImportError::YearOutOfRange(*y));
        }
    }
    let with_holiday: BTreeSet<i32> = cal
        .days()
        .filter(|(_, k, _)| *k == DayKind::Holiday)
        .map(|(d, _, _)| d.year())
        .collect();
    if let Some(y) = years.iter().find(|y| !with_holiday.contains(y)) {
        return Err(ImportError::NoHoliday(*y));
    }
    let at = now_ms();
    let rows: Vec<calendar_day::ActiveModel> = cal
        .days()
        .map(|(d, k, name)| calendar_day::ActiveModel {
            day: Set(d.to_string()),
            year: Set(d.year()),
            kind: Set(match k {
                DayKind::Holiday => "holiday",
                DayKind::Workday => "workday",
            }
            .to_string()),
            name: Set(name.chars().take(64).collect()),
            imported_at_ms: Set(at),
        })
        .collect();
    let days = rows.len();
    let txn = db.begin().await?;
    calendar_day::Entity::delete_many()
        .filter(calendar_day::Column::Year.is_in(years.clone()))
        .exec(&txn)
        .await?;
    calendar_day::Entity::insert_many(rows).exec(&txn).await?;
    let ev = audit::Event {
        action: AUDIT_IMPORT,
        target: Some("calendar"),
        detail: Some(serde_json::json!({ "years": years, "days": days })),
        ..Default::default()
    };
    audit::record(&txn, Outcome::Ok, ev)
        .await
        .map_err(|e| ImportError::Db(DbErr::Custom(format!("{e:?}"))))?;
    txn.commit().await?;
    Ok((years, days))
}
