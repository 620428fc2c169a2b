//! An import (核查台账 run): the checked lines of a department's list matched by the keyed hash
//! of the whole 身份证号 against the current household members of the importer's regions, and
//! the alerts the region's rules raise from the matches; stored in one transaction with the
//! run's audit entry, or not at all.

use std::collections::{BTreeMap, HashMap, HashSet};

use chrono::NaiveDate;
use sea_orm::sea_query::OnConflict;
use sea_orm::{
    ActiveModelTrait, ActiveValue::Set, ColumnTrait, ConnectionTrait, DatabaseConnection,
    EntityTrait, QueryFilter, QuerySelect, TransactionTrait,
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
    identity_number, member, monitoring_alert, monitoring_row, monitoring_run, task,
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

/// The events of `source` earlier runs recorded for each of `hashes`.
async fn earlier<C: ConnectionTrait>(
    db: &C,
    source: Source,
    hashes: &[String],
) -> Result<HashMap<String, HashSet<Event>>, sea_orm::DbErr> {
    let mut out: HashMap<String, HashSet<Event>> = HashMap::new();
    for chunk in hashes.chunks(crate::db::IN_CHUNK) {
        let rows = monitoring_row::Entity::find()
            .filter(monitoring_row::Column::IdHash.is_in(chunk.iter().cloned()))
            .filter(monitoring_row::Column::Source.eq(source.as_str()))
            .all(db)
            .await?;
        for r in rows {
            out.entry(r.id_hash).or_default().insert((
                r.event_date.unwrap_or_default(),
                r.amount_fen,
                r.grade,
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
    body: &[u8],
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
        let (body, keys) = (body.to_vec(), keys.clone());
        tokio::task::spawn_blocking(move || {
            let lines = parse::read(source, format, &body, max_rows, today)?;
            let hashes: Vec<String> = lines
                .iter()
                .map(|l| keys.hash(Lookup::Whole, l.id.expose()))
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
    let mut distinct: Vec<String> = hashes.clone();
    distinct.sort();
    distinct.dedup();
    let found = matches(db, actor, &distinct).await?;
    let matched_hashes: Vec<String> = distinct
        .iter()
        .filter(|h| found.contains_key(*h))
        .cloned()
        .collect();
    let seen = earlier(db, source, &matched_hashes).await?;

    // Each matched person's new lines, in file order.
    let mut new_lines: BTreeMap<&str, Vec<&Line>> = BTreeMap::new();
    for (l, h) in lines.iter().zip(&hashes) {
        if found.contains_key(h) && !seen.get(h).is_some_and(|s| s.contains(&event_of(l))) {
            new_lines.entry(h.as_str()).or_default().push(l);
        }
    }
    let (book, _) = crate::policies::load(db)
        .await
        .map_err(ApiError::internal)?;
    let mut policies: HashMap<String, Policy> = HashMap::new();
    let mut not_evaluated = BTreeMap::new();
    let mut raised = Vec::new();
    for (hash, person_lines) in &new_lines {
        let m = &found[*hash];
        let policy = policy_for(&book, &mut policies, &m.region_path, today);
        if let Some(r) = rules(
            source,
            policy,
            hash,
            person_lines,
            seen.get(*hash),
            today,
            &mut not_evaluated,
        ) {
            raised.push(r);
        }
    }
    // New data on a member of a household that left 低保 or 特困 less than two years ago.
    let households: Vec<String> = new_lines
        .keys()
        .map(|h| found[*h].household_id.clone())
        .collect();
    let left = left_recently(db, households, today).await?;
    for hash in new_lines.keys() {
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

    // Names, assignees and due dates, read before the transaction.
    let names = member_names(db, raised.iter().map(|r| &found[&r.hash])).await?;
    let mut people = HashMap::new();
    let at = now_ms();
    let run_id = new_id();
    struct Ready {
        alert: monitoring_alert::ActiveModel,
        task: sea_orm::sea_query::InsertStatement,
    }
    // Every assignee is read here, before the transaction: building the alerts inside it only
    // looks them up.
    for r in &raised {
        recheck::assignee_for(db, &mut people, &found[&r.hash].region_path).await?;
    }

    let unmatched_rows: Vec<UnmatchedRow> = lines
        .iter()
        .zip(&hashes)
        .filter(|(_, h)| !found.contains_key(*h))
        .map(|(l, _)| UnmatchedRow {
            line: l.line,
            id_masked: l.id.masked(),
            name: l.name.clone(),
        })
        .collect();
    let matched = lines.len() - unmatched_rows.len();

    let txn = db.begin().await?;
    // Built a statement's worth at a time: a province's list is a million lines.
    for (ls, hs) in lines
        .chunks(ROWS_PER_INSERT)
        .zip(hashes.chunks(ROWS_PER_INSERT))
    {
        let mut chunk = Vec::with_capacity(ls.len());
        for (l, h) in ls.iter().zip(hs) {
            let m = found.get(h);
            chunk.push(monitoring_row::ActiveModel {
                run_id: Set(run_id.clone()),
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
        }
        monitoring_row::Entity::insert_many(chunk)
            .exec(&txn)
            .await?;
    }
    let mut alerts = 0;
    let mut already_open = 0;
    // A thousand alerts built at a time: a province's list raises hundreds of thousands.
    for batch in raised.chunks(1_000) {
        let mut ready = Vec::with_capacity(batch.len());
        for r in batch {
            let m = &found[&r.hash];
            let policy = policy_for(&book, &mut policies, &m.region_path, today);
            let due = policy
                .alert_verify_days
                .and_then(|d| today.checked_add_days(chrono::Days::new(d.into())))
                .and_then(recheck::end_of_day_ms);
            let assignee = recheck::assignee_for(db, &mut people, &m.region_path).await?;
            let line = new_lines[r.hash.as_str()][0];
            let name = names
                .get(&(m.household_id.clone(), m.entry.clone()))
                .cloned()
                .unwrap_or_else(|| line.name.clone());
            let alert_id = new_id();
            let task_id = new_id();
            let masked = line.id.masked();
            let t = crate::review::tasks::insert(task::Model {
                id: task_id.clone(),
                household_id: Some(m.household_id.clone()),
                assignee_id: assignee.clone(),
                note: Some(format!(
                    "预警核查：{}（{name}，{masked}）{}",
                    r.indicator.label_zh(),
                    r.detail
                )),
                note_en: Some(format!("Alert check: {}", r.detail_en)),
                due_at_ms: due,
                ..crate::review::tasks::new(TASK_KIND, &m.region_path, &actor.account.id, at)
            });
            ready.push(Ready {
                alert: monitoring_alert::ActiveModel {
                    id: Set(alert_id),
                    run_id: Set(run_id.clone()),
                    indicator: Set(r.indicator.as_str().into()),
                    household_id: Set(m.household_id.clone()),
                    member_entry: Set(m.entry.clone()),
                    member_name: Set(name),
                    id_masked: Set(masked),
                    region_path: Set(m.region_path.clone()),
                    detail: Set(r.detail.clone()),
                    detail_en: Set(r.detail_en.clone()),
                    received_at_ms: Set(at),
                    due_at_ms: Set(due),
                    assignee_id: Set(assignee),
                    task_id: Set(Some(task_id)),
                    visit_id: Set(None),
                    status: Set("open".into()),
                    open_key: Set(Some(format!(
                        "{}:{}:{}",
                        m.household_id,
                        m.entry,
                        r.indicator.as_str()
                    ))),
                    disposition: Set(None),
                    disposition_note: Set(None),
                    feedback_date: Set(None),
                    feedback_to: Set(None),
                    disposed_by: Set(None),
                    disposed_at_ms: Set(None),
                },
                task: t,
            });
        }
        for r in ready {
            let inserted = monitoring_alert::Entity::insert(r.alert)
                .on_conflict(
                    OnConflict::column(monitoring_alert::Column::OpenKey)
                        .do_nothing()
                        .to_owned(),
                )
                .exec_without_returning(&txn)
                .await?;
            if inserted == 1 {
                txn.execute(&r.task).await?;
                alerts += 1;
            } else {
                already_open += 1;
            }
        }
    }
    let home = actor.subject.scope.first().cloned().unwrap_or_default();
    monitoring_run::Entity::insert(monitoring_run::ActiveModel {
        id: Set(run_id.clone()),
        source: Set(source.as_str().into()),
        file_name: Set(file_name.clone()),
        format: Set(format.as_str().into()),
        account_id: Set(actor.account.id.clone()),
        region_path: Set(home),
        at_ms: Set(at),
        row_count: Set(lines.len() as i32),
        matched_count: Set(matched as i32),
        unmatched_count: Set(unmatched_rows.len() as i32),
        alert_count: Set(alerts as i32),
    })
    .exec_without_returning(&txn)
    .await?;
    let mut ev = actor.event(AUDIT_IMPORT, Some(&run_id));
    ev.detail = Some(serde_json::json!({
        "source": source.as_str(), "file_name": file_name, "format": format.as_str(),
        "rows": lines.len(), "matched": matched, "unmatched": unmatched_rows.len(),
        "alerts": alerts, "already_open": already_open,
    }));
    audit::row(Outcome::Ok, ev).insert(&txn).await?;
    txn.commit().await?;
    Ok(ImportReport {
        run_id,
        source: source.as_str().into(),
        file_name,
        format: format.as_str().into(),
        at_ms: at,
        rows: lines.len(),
        matched,
        unmatched: unmatched_rows.len(),
        alerts,
        already_open,
        not_evaluated: not_evaluated.into_keys().collect(),
        unmatched_rows,
    })
}

/// The households among `ids` that left 低保 or 特困 (a 终止 decision) less than two years before
/// `today` and are in neither now: the programme's label and the day, by household.
async fn left_recently(
    db: &DatabaseConnection,
    mut ids: Vec<String>,
    today: NaiveDate,
) -> Result<HashMap<String, (&'static str, NaiveDate)>, ApiError> {
    use doudi_protocol::doc::household::{DecisionOutcome, Programme};
    let safety_net = |p: &Programme| {
        matches!(
            p,
            Programme::Dibao | Programme::TekunDispersed | Programme::TekunCentralized
        )
    };
    let since = today
        .checked_sub_months(chrono::Months::new(24))
        .unwrap_or(NaiveDate::MIN);
    ids.sort();
    ids.dedup();
    let mut out = HashMap::new();
    for chunk in ids.chunks(crate::db::IN_CHUNK) {
        for d in crate::entity::document::Entity::find()
            .filter(crate::entity::document::Column::Id.is_in(chunk.iter().cloned()))
            .all(db)
            .await?
        {
            let Some(h) = automerge::Automerge::load(&d.snapshot)
                .ok()
                .and_then(|am| {
                    doudi_protocol::doc::read::<doudi_protocol::doc::Household, _>(&am).ok()
                })
                .map(|(_, h)| h)
            else {
                continue;
            };
            if h.programmes.iter().any(safety_net) {
                continue;
            }
            let last = h
                .decisions
                .iter()
                .filter(|x| x.outcome == DecisionOutcome::Terminated)
                .filter_map(|x| {
                    Some((
                        x.programme.filter(safety_net)?,
                        deadlines::local_date(x.at.0)?,
                    ))
                })
                .filter(|(_, on)| *on >= since && *on <= today)
                .max_by_key(|(_, on)| *on);
            if let Some((p, on)) = last {
                out.insert(d.id, (p.label_zh(), on));
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
        for r in member::Entity::find()
            .filter(member::Column::DocId.is_in(chunk.iter().cloned()))
            .all(db)
            .await?
        {
            let entry = format!("members.{}", r.member_id);
            if by_household
                .get(&r.doc_id)
                .is_some_and(|e| e.contains(&entry))
            {
                out.insert((r.doc_id, entry), r.name);
            }
        }
    }
    Ok(out)
}
