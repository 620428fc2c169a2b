//! The working-day calendar (工作日) the statutory due dates are counted in: the holiday data built
//! into doudi (`protocol/data/holidays-cn.csv`) with the years imported on the server on top
//! (`doudi calendar import FILE`, table `calendar_days`). China publishes each year's holidays and
//! adjusted working days (调休) in the autumn before; until a year is built in or imported, due
//! dates falling in it are unknown (日历未知), never guessed.
//!
//! The calendar is read from the database for each request that computes due dates, so a year
//! imported through any node counts on every node at once.

use std::collections::BTreeSet;

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

/// The calendar now: the built-in years, with every imported year replacing its built-in data.
pub async fn load<C: ConnectionTrait>(db: &C) -> Result<WorkCalendar, DbErr> {
    let rows = calendar_day::Entity::find().all(db).await?;
    if rows.is_empty() {
        return Ok(WorkCalendar::built_in().clone());
    }
    let text: String = rows
        .iter()
        .map(|r| format!("{},{},{}\n", r.day, r.kind, r.name))
        .collect();
    let imported = WorkCalendar::parse(&text)
        .map_err(|e| DbErr::Custom(format!("stored calendar days: {e}")))?;
    Ok(WorkCalendar::built_in().clone().overlay(&imported))
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

impl ImportError {
    /// The reason in Chinese alone (the console's words).
    pub fn message_zh(&self) -> String {
        match self {
            ImportError::Data(e) => e.message_zh(),
            ImportError::Empty => "没有可导入的日期".into(),
            ImportError::YearOutOfRange(y) => format!("{y}年不在可导入的范围（2000–2100）内"),
            ImportError::NoHoliday(y) => {
                format!("{y}年没有列出任何节假日，不像完整的一年；请导入该年全部节假日和调休上班日")
            }
            ImportError::Db(_) => "数据库暂时不可用，未做任何修改，请稍后再试".into(),
        }
    }
}

/// A calendar file that passed every check of an import, nothing written yet.
#[derive(Debug)]
pub struct Checked {
    cal: WorkCalendar,
    /// The years the file lists (each replaces what was imported for it before).
    pub years: Vec<i32>,
}

impl Checked {
    /// The days listed: date, kind and name.
    pub fn days(&self) -> impl Iterator<Item = (chrono::NaiveDate, DayKind, &str)> + '_ {
        self.cal.days()
    }

    /// The number of days listed.
    pub fn len(&self) -> usize {
        self.cal.days().count()
    }

    /// Whether the file lists no day (never true of a checked file).
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// Check a calendar file (`date,kind,name` lines, the format of the built-in data:
/// docs/RULES.md) as an import does, writing nothing: whole years from 2000 to 2100, each with
/// at least one holiday.
pub fn check(text: &str) -> Result<Checked, ImportError> {
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
    Ok(Checked { cal, years })
}

/// Import the holiday and adjusted working days of one or more whole years ([`check`]ed first,
/// as the server's command does: audited without an account). Each year in the file replaces
/// what was imported for it before, and counts instead of the built-in data of that year.
/// Returns the years imported and the number of days listed.
pub async fn import<C: ConnectionTrait + TransactionTrait>(
    db: &C,
    text: &str,
) -> Result<(Vec<i32>, usize), ImportError> {
    let checked = check(text)?;
    store(db, &checked, audit::Event::default()).await
}

/// Store a checked file; `ev` (whose action, target and detail are set here) is its audit
/// entry, written in the same transaction.
pub async fn store<C: ConnectionTrait + TransactionTrait>(
    db: &C,
    checked: &Checked,
    mut ev: audit::Event<'_>,
) -> Result<(Vec<i32>, usize), ImportError> {
    let years = checked.years.clone();
    let at = now_ms();
    let rows: Vec<calendar_day::ActiveModel> = checked
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
    ev.action = AUDIT_IMPORT;
    ev.target = Some("calendar");
    ev.detail = Some(serde_json::json!({ "years": years, "days": days }));
    audit::record(&txn, Outcome::Ok, ev)
        .await
        .map_err(|e| ImportError::Db(DbErr::Custom(format!("{e:?}"))))?;
    txn.commit().await?;
    Ok((years, days))
}

/// The years the calendar covers: those built in and those imported (an imported year counts
/// instead of its built-in data).
pub async fn years<C: ConnectionTrait>(db: &C) -> Result<(Vec<i32>, Vec<i32>), DbErr> {
    use sea_orm::{QueryOrder, QuerySelect};
    let imported: Vec<i32> = calendar_day::Entity::find()
        .select_only()
        .column(calendar_day::Column::Year)
        .distinct()
        .order_by_asc(calendar_day::Column::Year)
        .into_tuple()
        .all(db)
        .await?;
    Ok((WorkCalendar::built_in().covered_years().collect(), imported))
}
