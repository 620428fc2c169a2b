//! An import (核查台账 run): the checked lines of a department's list matched by the keyed hash
//! of the whole 身份证号 against the current household members of the importer's regions, and
//! the alerts the region's rules raise from the matches; stored in one transaction with the
//! run's audit entry, or not at all.

use std::collections::{BTreeMap, HashMap, HashSet};

use chrono::NaiveDate;
use sea_orm::sea_query::OnConflict;
use sea_orm::{
    ActiveModelTrait, ActiveValue::Set, ColumnTrait, ConnectionTrait, DatabaseConnection,
    DatabaseTransaction, EntityTrait, QueryFilter, QuerySelect, QueryTrait, TransactionTrait,
};
use serde::Serialize;

use doudi_protocol::rules::Money;
use doudi_protocol::rules::policy::{Policy, PolicyBook};

use super::parse::{self, FileFormat, Line, twelve_months_before};
use super::{AUDIT_IMPORT, Indicator, Source, TASK_KIND};
use crate::access::{Action, Actor, Target, scope_condition};
use crate::audit::{self, Outcome};
use crate::auth::{new_id, now_ms};
use crate::entity::{
    decision, household, identity_number, member, monitoring_alert, monitoring_row, monitoring_run,
    task,
};
use crate::error::{ApiError, ApiResult};
use crate::identity::{IdentityKeys, Lookup};
use crate::review::{deadlines, recheck};

/// Longest file name kept (characters).
pub const MAX_FILE_NAME_CHARS: usize = 255;

/// The refusal of a file over `max` bytes (`import.too_large`).
pub fn too_large(max: usize) -> ApiError {
    let kib = max / 1024;
    ApiError::new(crate::error::Code::ImportTooLarge)
        .with_message(
            format!("导入文件超过 {kib} KiB，请拆分后分批导入。"),
            format!("The file is larger than {kib} KiB; split it and import the parts."),
        )
        .with_details(serde_json::json!({ "max_bytes": max }))
}

/// A line that matched no current member in the importer's regions.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct UnmatchedRow {
    pub line: u32,
    /// First 6 + `****` + last 4.
    pub id_masked: String,
    pub name: String,
}

/// What an import did.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct ImportReport {
    pub run_id: String,
    pub source: String,
    pub file_name: String,
    /// `csv` or `xlsx`.
    pub format: String,
    pub at_ms: i64,
    /// Data lines in the file.
    pub rows: usize,
    pub matched: usize,
    pub unmatched: usize,
    /// Alerts raised.
    pub alerts: usize,
    /// Alerts not raised because the member has one open for the same indicator.
    pub already_open: usize,
    /// Settings a rule needed that the region of a matched household does not set (the rule
    /// was not evaluated there), e.g. `alert_medical_cost_threshold`.
    pub not_evaluated: Vec<String>,
    /// Every unmatched line, in file order.
    pub unmatched_rows: Vec<UnmatchedRow>,
}

/// A member a line matched.
#[derive(Debug, Clone)]
struct Match {
    household_id: String,
    entry: String,
    region_path: String,
}

/// An alert the rules raise, before it is stored.
struct Raised {
    indicator: Indicator,
    hash: String,
    detail: String,
    detail_en: String,
}

/// The current members of the importer's regions whose whole 身份证号 has one of `hashes`
/// (keyed hashes: no number is opened); where one number is on several records, the first
/// household by id.
async fn matches<C: ConnectionTrait>(
    db: &C,
    actor: &Actor,
    hashes: &[String],
) -> Result<HashMap<String, Match>, sea_orm::DbErr> {
    let mut out: HashMap<String, Match> = HashMap::new();
    for chunk in hashes.chunks(crate::db::IN_CHUNK) {
        // Only the columns a match keeps: a province's list matches some million numbers.
        let rows: Vec<(String, String, String, String)> = identity_number::Entity::find()
            .select_only()
            .columns([
                identity_number::Column::HashFull,
                identity_number::Column::DocId,
                identity_number::Column::Entry,
                identity_number::Column::RegionPath,
            ])
            .filter(identity_number::Column::HashFull.is_in(chunk.iter().cloned()))
            .filter(identity_number::Column::Searchable.eq(true))
            .filter(identity_number::Column::Entry.starts_with("members."))
            .filter(scope_condition(
                &actor.subject,
                identity_number::Column::RegionPath,
            ))
            .into_tuple()
            .all(db)
            .await?;
        for (hash_full, doc_id, entry, region_path) in rows {
            let m = Match {
                household_id: doc_id,
                entry,
                region_path,
            };
            out.entry(hash_full)
                .and_modify(|old| {
                    if m.household_id < old.household_id {
                        *old = m.clone();
                    }
                })
                .or_insert(m);
        }
    }
    Ok(out)
}

/// What one line records, as compared with earlier runs: (date, amount, grade).
type Event = (String, Option<i64>, Option<i32>);

/// An earlier run's line as `earlier` reads it: the hash, then its [`Event`]'s parts.
type EarlierRow = (String, Option<String>, Option<i64>, Option<i32>);

/// The events of `source` earlier runs recorded for each of `hashes`.
async fn earlier<C: ConnectionTrait>(
    db: &C,
    source: Source,
    hashes: &[String],
) -> Result<HashMap<String, HashSet<Event>>, sea_orm::DbErr> {
    let mut out: HashMap<String, HashSet<Event>> = HashMap::new();
    for chunk in hashes.chunks(crate::db::IN_CHUNK) {
        let rows: Vec<EarlierRow> = monitoring_row::Entity::find()
            .select_only()
            .columns([
                monitoring_row::Column::IdHash,
                monitoring_row::Column::EventDate,
                monitoring_row::Column::AmountFen,
                monitoring_row::Column::Grade,
            ])
            .filter(monitoring_row::Column::IdHash.is_in(chunk.iter().cloned()))
            .filter(monitoring_row::Column::Source.eq(source.as_str()))
            .into_tuple()
            .all(db)
            .await?;
        for (id_hash, event_date, amount_fen, grade) in rows {
            out.entry(id_hash).or_default().insert((
                event_date.unwrap_or_default(),
                amount_fen,
                grade,
            ));
        }
    }
    Ok(out)
}

fn event_of(l: &Line) -> Event {
    (l.date.to_string(), l.amount_fen, l.grade.map(i32::from))
}

fn yuan(fen: i64) -> String {
    doudi_protocol::rules::Money::fen(fen).to_string()
}

/// The alerts the rules raise for one matched person: `lines` are the person's lines of this
/// file that no earlier run recorded, `seen` what earlier runs did (the 12 months' medical costs
/// count both, each distinct (date, amount) once). An event imported before raises nothing again.
fn rules(
    source: Source,
    policy: &Policy,
    hash: &str,
    lines: &[&Line],
    seen: Option<&HashSet<Event>>,
    today: NaiveDate,
    not_evaluated: &mut BTreeMap<String, ()>,
) -> Option<Raised> {
    let first = lines.first()?;
    let raised = |indicator, detail: String, detail_en: String| Raised {
        indicator,
        hash: hash.to_string(),
        detail,
        detail_en,
    };
    match source {
        Source::Medical => {
            let Some(threshold) = policy.alert_medical_cost_threshold else {
                not_evaluated.insert("alert_medical_cost_threshold".into(), ());
                return None;
            };
            let from = twelve_months_before(today);
            let mut bills: HashSet<(NaiveDate, i64)> = HashSet::new();
            for l in lines {
                bills.insert((l.date, l.amount_fen.unwrap_or(0)));
            }
            for (date, amount, _) in seen.into_iter().flatten() {
                if let Some(d) = parse::parse_date(date) {
                    bills.insert((d, amount.unwrap_or(0)));
                }
            }
            let total: i64 = bills
                .iter()
                .filter(|(d, _)| *d >= from && *d <= today)
                .map(|(_, a)| a)
                .sum();
            let new_in_window = lines.iter().any(|l| l.date >= from);
            (new_in_window && Money::fen(total) > threshold).then(|| {
                raised(
                    Indicator::MedicalCost,
                    format!(
                        "近12个月（{from} 至 {today}）个人自付医疗费用 {} 元，超过预警线 {} 元",
                        yuan(total),
                        yuan(threshold.0)
                    ),
                    format!(
                        "out-of-pocket medical costs of {} yuan from {from} to {today}, above the threshold of {} yuan",
                        yuan(total),
                        yuan(threshold.0)
                    ),
                )
            })
        }
        Source::Disability => lines
            .iter()
            .find(|l| l.grade.is_some_and(|g| g <= 2))
            .map(|l| {
                let g = l.grade.unwrap_or(0);
                raised(
                    Indicator::SevereDisability,
                    format!("{} 新登记{g}级残疾", l.date),
                    format!("grade {g} disability registered on {}", l.date),
                )
            }),
        Source::Death => Some(raised(
            Indicator::Death,
            format!("{} 死亡登记", first.date),
            format!("death registered on {}", first.date),
        )),
        Source::Unemployment => Some(raised(
            Indicator::Unemployment,
            format!("{} 失业登记", first.date),
            format!("unemployment registered on {}", first.date),
        )),
        Source::School | Source::RuralMonitoring => None,
    }
}

/// A keyed hash of a whole 身份证号 as its bytes (the database holds it in hexadecimal).
type Hash = [u8; 32];

/// People (distinct numbers) handled per step: each step reads their matches, earlier events,
/// households and names, and writes their lines and alerts, so that memory holds one step's
/// worth besides the file's lines, whatever the size of the list.
const PEOPLE_PER_STEP: usize = 5_000;

/// Alerts (and their tasks) inserted per statement (24 values each).
const ALERTS_PER_INSERT: usize = 500;

/// Import `body` as a list of `source`: checked whole (any bad line refuses it, nothing
/// written), matched, stored as a run with its lines, and turned into alerts with their tasks.
#[allow(clippy::too_many_arguments)]
pub async fn import(
    db: &DatabaseConnection,
    keys: &IdentityKeys,
    actor: &Actor,
    source: Source,
    file_name: &str,
    format: FileFormat,
    body: bytes::Bytes,
    max_rows: usize,
) -> ApiResult<ImportReport> {
    actor
        .require(
            db,
            Action::ImportDepartmentData,
            Target::Scope,
            "monitoring.import",
        )
        .await?;
    let today = deadlines::today().ok_or_else(|| ApiError::internal("no date today"))?;
    // Reading a workbook and hashing every number is work for a blocking thread, not for one
    // of the runtime's.
    let (lines, hashes) = {
        let keys = keys.clone();
        tokio::task::spawn_blocking(move || {
            let lines = parse::read(source, format, &body, max_rows, today)?;
            let hashes: Vec<Hash> = lines
                .iter()
                .map(|l| keys.hash_bytes(Lookup::Whole, l.id.expose()))
                .collect();
            Ok::<_, ApiError>((lines, hashes))
        })
        .await
        .map_err(ApiError::internal)??
    };
    let file_name: String = match file_name.trim() {
        "" => format!("{}.{}", source.label_zh(), format.as_str()),
        n => n.chars().take(MAX_FILE_NAME_CHARS).collect(),
    };
    // Each person's lines in file order: the lines' places sorted by number, then by place.
    let mut order: Vec<u32> = (0..lines.len() as u32).collect();
    order.sort_unstable_by(|a, b| hashes[*a as usize].cmp(&hashes[*b as usize]).then(a.cmp(b)));
    let people: Vec<&[u32]> = order
        .chunk_by(|a, b| hashes[*a as usize] == hashes[*b as usize])
        .collect();

    let (book, _) = crate::policies::load(db)
        .await
        .map_err(ApiError::internal)?;
    let mut run = Run {
        source,
        today,
        actor,
        book: &book,
        id: new_id(),
        at: now_ms(),
        policies: HashMap::new(),
        assignees: HashMap::new(),
        not_evaluated: BTreeMap::new(),
        matched: 0,
        alerts: 0,
        already_open: 0,
        unmatched_rows: Vec::new(),
    };
    let txn = db.begin().await?;
    if db.get_database_backend() == sea_orm::DbBackend::Postgres {
        // The steps look up tables this transaction fills (earlier events, open alerts). A
        // statement prepared while they were empty would keep a generic plan that scans them
        // whole, a cost growing with every step: each lookup is planned for the table as it is.
        txn.execute_unprepared("SET LOCAL plan_cache_mode = force_custom_plan")
            .await?;
    }
    for step in people.chunks(PEOPLE_PER_STEP) {
        let group: Vec<(String, Vec<&Line>)> = step
            .iter()
            .map(|places| {
                (
                    hex::encode(hashes[places[0] as usize]),
                    places.iter().map(|i| &lines[*i as usize]).collect(),
                )
            })
            .collect();
        run.step(db, &txn, &group).await?;
    }
    run.unmatched_rows.sort_by_key(|r| r.line);
    let home = actor.subject.scope.first().cloned().unwrap_or_default();
    monitoring_run::Entity::insert(monitoring_run::ActiveModel {
        id: Set(run.id.clone()),
        source: Set(source.as_str().into()),
        file_name: Set(file_name.clone()),
        format: Set(format.as_str().into()),
        account_id: Set(actor.account.id.clone()),
        region_path: Set(home),
        at_ms: Set(run.at),
        row_count: Set(lines.len() as i32),
        matched_count: Set(run.matched as i32),
        unmatched_count: Set(run.unmatched_rows.len() as i32),
        alert_count: Set(run.alerts as i32),
    })
    .exec_without_returning(&txn)
    .await?;
    let mut ev = actor.event(AUDIT_IMPORT, Some(&run.id));
    ev.detail = Some(serde_json::json!({
        "source": source.as_str(), "file_name": file_name, "format": format.as_str(),
        "rows": lines.len(), "matched": run.matched, "unmatched": run.unmatched_rows.len(),
        "alerts": run.alerts, "already_open": run.already_open,
    }));
    audit::row(Outcome::Ok, ev).insert(&txn).await?;
    txn.commit().await?;
    Ok(ImportReport {
        run_id: run.id,
        source: source.as_str().into(),
        file_name,
        format: format.as_str().into(),
        at_ms: run.at,
        rows: lines.len(),
        matched: run.matched,
        unmatched: run.unmatched_rows.len(),
        alerts: run.alerts,
        already_open: run.already_open,
        not_evaluated: run.not_evaluated.into_keys().collect(),
        unmatched_rows: run.unmatched_rows,
    })
}

/// An import under way: what every step shares, and what the steps have done.
struct Run<'a> {
    source: Source,
    today: NaiveDate,
    actor: &'a Actor,
    book: &'a PolicyBook,
    id: String,
    at: i64,
    policies: HashMap<String, Policy>,
    assignees: HashMap<String, Option<String>>,
    not_evaluated: BTreeMap<String, ()>,
    matched: usize,
    alerts: usize,
    already_open: usize,
    unmatched_rows: Vec<UnmatchedRow>,
}

impl Run<'_> {
    /// One step: `group` is some people, each a number's hash (hexadecimal) with its lines in
    /// file order. Their lines are stored, matched or not; the matched ones' new lines go
    /// through the rules, and the alerts raised are stored with their tasks.
    async fn step(
        &mut self,
        db: &DatabaseConnection,
        txn: &DatabaseTransaction,
        group: &[(String, Vec<&Line>)],
    ) -> ApiResult<()> {
        let (source, today) = (self.source, self.today);
        let hexes: Vec<String> = group.iter().map(|(h, _)| h.clone()).collect();
        let found = matches(txn, self.actor, &hexes).await?;
        let matched: Vec<String> = hexes
            .into_iter()
            .filter(|h| found.contains_key(h))
            .collect();
        let seen = earlier(txn, source, &matched).await?;

        let mut rows = Vec::with_capacity(ROWS_PER_INSERT);
        // Each matched person's lines that no earlier run recorded.
        let mut new_lines: Vec<(&str, Vec<&Line>)> = Vec::new();
        for (h, person_lines) in group {
            let m = found.get(h);
            let mut new = Vec::new();
            for l in person_lines {
                rows.push(monitoring_row::ActiveModel {
                    run_id: Set(self.id.clone()),
                    line: Set(l.line as i32),
                    source: Set(source.as_str().into()),
                    id_hash: Set(h.clone()),
                    id_masked: Set(l.id.masked()),
                    name: Set(l.name.clone()),
                    event_date: Set(Some(l.date.to_string())),
                    amount_fen: Set(l.amount_fen),
                    grade: Set(l.grade.map(i32::from)),
                    household_id: Set(m.map(|m| m.household_id.clone())),
                    member_entry: Set(m.map(|m| m.entry.clone())),
                    region_path: Set(m.map(|m| m.region_path.clone())),
                    ..Default::default()
                });
                if rows.len() == ROWS_PER_INSERT {
                    monitoring_row::Entity::insert_many(std::mem::take(&mut rows))
                        .exec(txn)
                        .await?;
                }
                if m.is_none() {
                    self.unmatched_rows.push(UnmatchedRow {
                        line: l.line,
                        id_masked: l.id.masked(),
                        name: l.name.clone(),
                    });
                    continue;
                }
                self.matched += 1;
                if !seen.get(h).is_some_and(|s| s.contains(&event_of(l))) {
                    new.push(*l);
                }
            }
            if !new.is_empty() {
                new_lines.push((h.as_str(), new));
            }
        }
        if !rows.is_empty() {
            monitoring_row::Entity::insert_many(rows).exec(txn).await?;
        }

        let mut raised = Vec::new();
        for (hash, person_lines) in &new_lines {
            let m = &found[*hash];
            let policy = policy_for(self.book, &mut self.policies, &m.region_path, today);
            if let Some(r) = rules(
                source,
                policy,
                hash,
                person_lines,
                seen.get(*hash),
                today,
                &mut self.not_evaluated,
            ) {
                raised.push(r);
            }
        }
        // New data on a member of a household that left 低保 or 特困 less than two years ago.
        let households: Vec<String> = new_lines
            .iter()
            .map(|(h, _)| found[*h].household_id.clone())
            .collect();
        let left = left_recently(txn, households, today).await?;
        for (hash, _) in &new_lines {
            if let Some((programme, on)) = left.get(&found[*hash].household_id) {
                raised.push(Raised {
                    indicator: Indicator::RecentlyLeft,
                    hash: hash.to_string(),
                    detail: format!(
                        "家庭于 {on} 退出{programme}，不满两年；{}有新记录",
                        source.label_zh()
                    ),
                    detail_en: format!(
                        "the household left {programme} on {on}, less than two years ago; new {} data",
                        source.as_str()
                    ),
                });
            }
        }
        if raised.is_empty() {
            return Ok(());
        }

        let names = member_names(txn, raised.iter().map(|r| &found[&r.hash])).await?;
        let first_line: HashMap<&str, &Line> =
            new_lines.iter().map(|(h, ls)| (*h, ls[0])).collect();
        let mut alerts = Vec::with_capacity(raised.len());
        for r in raised {
            let m = &found[&r.hash];
            let policy = policy_for(self.book, &mut self.policies, &m.region_path, today);
            let due = policy
                .alert_verify_days
                .and_then(|d| today.checked_add_days(chrono::Days::new(d.into())))
                .and_then(recheck::end_of_day_ms);
            let assignee = recheck::assignee_for(db, &mut self.assignees, &m.region_path).await?;
            let line = *first_line
                .get(r.hash.as_str())
                .ok_or_else(|| ApiError::internal("an alert without its line"))?;
            let name = names
                .get(&(m.household_id.clone(), m.entry.clone()))
                .cloned()
                .unwrap_or_else(|| line.name.clone());
            let masked = line.id.masked();
            let task = task::Model {
                household_id: Some(m.household_id.clone()),
                assignee_id: assignee.clone(),
                note: Some(format!(
                    "预警核查：{}（{name}，{masked}）{}",
                    r.indicator.label_zh(),
                    r.detail
                )),
                note_en: Some(format!("Alert check: {}", r.detail_en)),
                due_at_ms: due,
                ..crate::review::tasks::new(
                    TASK_KIND,
                    &m.region_path,
                    &self.actor.account.id,
                    self.at,
                )
            };
            let alert = monitoring_alert::Model {
                id: new_id(),
                run_id: self.id.clone(),
                indicator: r.indicator.as_str().into(),
                household_id: m.household_id.clone(),
                member_entry: m.entry.clone(),
                member_name: name,
                id_masked: masked,
                region_path: m.region_path.clone(),
                detail: r.detail,
                detail_en: r.detail_en,
                received_at_ms: self.at,
                due_at_ms: due,
                assignee_id: assignee,
                task_id: Some(task.id.clone()),
                visit_id: None,
                status: "open".into(),
                open_key: Some(format!(
                    "{}:{}:{}",
                    m.household_id,
                    m.entry,
                    r.indicator.as_str()
                )),
                disposition: None,
                disposition_note: None,
                feedback_date: None,
                feedback_to: None,
                disposed_by: None,
                disposed_at_ms: None,
            };
            alerts.push((alert, task));
        }
        while !alerts.is_empty() {
            let batch: Vec<_> = alerts
                .drain(..alerts.len().min(ALERTS_PER_INSERT))
                .collect();
            let n = batch.len();
            let stored = store_alerts(txn, batch).await?;
            self.alerts += stored;
            self.already_open += n - stored;
        }
        Ok(())
    }
}

/// Store `alerts` with their tasks, except those whose member already has an open alert for
/// the same indicator (its `open_key` taken, by an earlier run or earlier in this one): how
/// many were stored.
async fn store_alerts(
    txn: &DatabaseTransaction,
    alerts: Vec<(monitoring_alert::Model, task::Model)>,
) -> Result<usize, sea_orm::DbErr> {
    let keys: Vec<String> = alerts
        .iter()
        .filter_map(|(a, _)| a.open_key.clone())
        .collect();
    let taken: HashSet<String> = monitoring_alert::Entity::find()
        .select_only()
        .column(monitoring_alert::Column::OpenKey)
        .filter(monitoring_alert::Column::OpenKey.is_in(keys))
        .into_tuple::<Option<String>>()
        .all(txn)
        .await?
        .into_iter()
        .flatten()
        .collect();
    let mut seen = HashSet::new();
    let fresh: Vec<_> = alerts
        .into_iter()
        .filter(|(a, _)| {
            a.open_key
                .as_ref()
                .is_none_or(|k| !taken.contains(k) && seen.insert(k.clone()))
        })
        .collect();
    if fresh.is_empty() {
        return Ok(0);
    }
    let ids: Vec<String> = fresh.iter().map(|(a, _)| a.id.clone()).collect();
    let (models, mut tasks): (Vec<_>, Vec<_>) = fresh
        .into_iter()
        .map(|(a, t)| (monitoring_alert::ActiveModel::from(a), t))
        .unzip();
    let mut insert = monitoring_alert::Entity::insert_many(models).into_query();
    // An alert another import stored meanwhile is left to it.
    insert.on_conflict(
        OnConflict::column(monitoring_alert::Column::OpenKey)
            .do_nothing()
            .to_owned(),
    );
    let inserted = txn.execute(&insert).await?.rows_affected() as usize;
    if inserted < ids.len() {
        let kept: HashSet<String> = monitoring_alert::Entity::find()
            .select_only()
            .column(monitoring_alert::Column::Id)
            .filter(monitoring_alert::Column::Id.is_in(ids))
            .into_tuple::<String>()
            .all(txn)
            .await?
            .into_iter()
            .collect();
        tasks.retain(|t| kept.contains(&t.id));
    }
    if !tasks.is_empty() {
        txn.execute(&crate::review::tasks::insert_many(tasks))
            .await?;
    }
    Ok(inserted)
}

/// The households among `ids` that left 低保 or 特困 (a 终止 decision) less than two years before
/// `today` and are in neither now: the programme's label and the day, by household. Read from
/// the households' projections (their decisions and present programmes).
async fn left_recently<C: ConnectionTrait>(
    db: &C,
    mut ids: Vec<String>,
    today: NaiveDate,
) -> Result<HashMap<String, (&'static str, NaiveDate)>, ApiError> {
    use doudi_protocol::doc::household::{DecisionOutcome, Programme};
    let safety_net = |p: Programme| {
        matches!(
            p,
            Programme::Dibao | Programme::TekunDispersed | Programme::TekunCentralized
        )
    };
    let since = today
        .checked_sub_months(chrono::Months::new(24))
        .unwrap_or(NaiveDate::MIN);
    // The earliest instant that can fall on `since` in China (UTC+8), a day early to be safe;
    // the local day of each decision is compared below.
    let since_ms = since
        .pred_opt()
        .and_then(|d| d.and_hms_opt(0, 0, 0))
        .map(|t| t.and_utc().timestamp_millis())
        .unwrap_or(i64::MIN);
    ids.sort();
    ids.dedup();
    let mut last: HashMap<String, (Programme, NaiveDate)> = HashMap::new();
    for chunk in ids.chunks(crate::db::IN_CHUNK) {
        let rows: Vec<(String, Option<String>, i64)> = decision::Entity::find()
            .select_only()
            .columns([
                decision::Column::DocId,
                decision::Column::Programme,
                decision::Column::AtMs,
            ])
            .filter(decision::Column::DocId.is_in(chunk.iter().cloned()))
            .filter(decision::Column::Outcome.eq(DecisionOutcome::Terminated.as_str()))
            .filter(decision::Column::AtMs.gte(since_ms))
            .into_tuple()
            .all(db)
            .await?;
        for (doc_id, programme, at_ms) in rows {
            let Some(p) = programme.as_deref().and_then(Programme::parse) else {
                continue;
            };
            let Some(on) = deadlines::local_date(at_ms) else {
                continue;
            };
            if !safety_net(p) || on < since || on > today {
                continue;
            }
            let e = last.entry(doc_id).or_insert((p, on));
            if on > e.1 {
                *e = (p, on);
            }
        }
    }
    let mut out = HashMap::new();
    let left: Vec<String> = last.keys().cloned().collect();
    for chunk in left.chunks(crate::db::IN_CHUNK) {
        let rows: Vec<(String, String)> = household::Entity::find()
            .select_only()
            .columns([household::Column::DocId, household::Column::Programmes])
            .filter(household::Column::DocId.is_in(chunk.iter().cloned()))
            .into_tuple()
            .all(db)
            .await?;
        for (doc_id, programmes) in rows {
            let now_in = programmes
                .split(',')
                .filter_map(Programme::parse)
                .any(safety_net);
            if !now_in && let Some((p, on)) = last.get(&doc_id) {
                out.insert(doc_id, (p.label_zh(), *on));
            }
        }
    }
    Ok(out)
}

/// Lines inserted per statement (13 values each: under SQLite's and PostgreSQL's limits).
const ROWS_PER_INSERT: usize = 500;

/// The policy in force today for a household at `path` (its village's), computed once per path.
fn policy_for<'p>(
    book: &PolicyBook,
    cache: &'p mut HashMap<String, Policy>,
    path: &str,
    today: NaiveDate,
) -> &'p Policy {
    cache.entry(path.to_string()).or_insert_with(|| {
        recheck::policy_region(path)
            .and_then(|code| book.resolve(code, today).ok())
            .unwrap_or_else(|| book.resolve_national(today))
    })
}

/// The members' names on record, by (household, entry).
async fn member_names<'m, C: ConnectionTrait>(
    db: &C,
    found: impl Iterator<Item = &'m Match>,
) -> Result<HashMap<(String, String), String>, sea_orm::DbErr> {
    let mut by_household: BTreeMap<String, HashSet<String>> = BTreeMap::new();
    for m in found {
        by_household
            .entry(m.household_id.clone())
            .or_default()
            .insert(m.entry.clone());
    }
    let ids: Vec<String> = by_household.keys().cloned().collect();
    let mut out = HashMap::new();
    for chunk in ids.chunks(crate::db::IN_CHUNK) {
        let rows: Vec<(String, String, String)> = member::Entity::find()
            .select_only()
            .columns([
                member::Column::DocId,
                member::Column::MemberId,
                member::Column::Name,
            ])
            .filter(member::Column::DocId.is_in(chunk.iter().cloned()))
            .into_tuple()
            .all(db)
            .await?;
        for (doc_id, member_id, name) in rows {
            let entry = format!("members.{member_id}");
            if by_household
                .get(&doc_id)
                .is_some_and(|e| e.contains(&entry))
            {
                out.insert((doc_id, entry), name);
            }
        }
    }
    Ok(out)
}
