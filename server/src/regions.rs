//! The region tree: import from CSV (all or nothing) and lookups.

use std::collections::HashMap;

use sea_orm::{
    ActiveModelTrait, ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, QueryOrder, Set,
    TransactionSession, TransactionTrait,
};
use serde::Serialize;

use doudi_protocol::region::{RegionLevel, check_code, check_parent};

use crate::access::{Action, Subject, Target, decide};
use crate::auth::now_ms;
use crate::entity::{audit_log, region};

/// One problem in an import file, with the line it is on (the header is line 1).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct LineError {
    pub line: u64,
    pub message: String,
    pub message_en: String,
    /// The line names a region outside the importer's regions (a refusal of the access module,
    /// which the import audits).
    #[serde(skip)]
    #[schema(ignore)]
    pub outside_scope: bool,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct ImportReport {
    /// Regions that did not exist before.
    pub created: usize,
    /// Existing regions whose name changed.
    pub renamed: usize,
    /// Rows identical to what was stored.
    pub unchanged: usize,
}

#[derive(Debug, thiserror::Error)]
pub enum ImportError {
    #[error("the file has {} bad line(s)", .0.len())]
    Lines(Vec<LineError>),
    #[error(transparent)]
    Db(#[from] sea_orm::DbErr),
}

#[derive(Debug, Clone)]
struct Row {
    line: u64,
    code: String,
    parent_code: Option<String>,
    level: RegionLevel,
    name: String,
}

fn line_error(line: u64, zh: impl Into<String>, en: impl Into<String>) -> LineError {
    LineError {
        line,
        message: zh.into(),
        message_en: en.into(),
        outside_scope: false,
    }
}

/// Parse `code,parent_code,level,name` lines (a header line first): the good rows and every bad
/// line.
fn parse_csv(text: &str, max_rows: usize) -> (Vec<Row>, Vec<LineError>) {
    let mut reader = csv::ReaderBuilder::new()
        .has_headers(true)
        .flexible(true)
        .trim(csv::Trim::All)
        .from_reader(text.as_bytes());
    let mut errors = Vec::new();
    match reader.headers() {
        Ok(h) if h.iter().collect::<Vec<_>>() == ["code", "parent_code", "level", "name"] => {}
        Ok(_) => {
            errors.push(line_error(
                1,
                "第一行必须是表头 code,parent_code,level,name",
                "line 1 must be the header code,parent_code,level,name",
            ));
            return (Vec::new(), errors);
        }
        Err(e) => {
            errors.push(line_error(
                1,
                format!("无法读取表头：{e}"),
                format!("cannot read header: {e}"),
            ));
            return (Vec::new(), errors);
        }
    }
    let mut rows = Vec::new();
    for (i, rec) in reader.records().enumerate() {
        let line = i as u64 + 2;
        if rows.len() >= max_rows {
            errors.push(line_error(
                line,
                format!("文件超过 {max_rows} 行的上限"),
                format!("the file exceeds the limit of {max_rows} rows"),
            ));
            break;
        }
        let rec = match rec {
            Ok(r) => r,
            Err(e) => {
                errors.push(line_error(
                    line,
                    format!("无法读取：{e}"),
                    format!("unreadable: {e}"),
                ));
                continue;
            }
        };
        // The line the record starts on, counted from its byte offset: with CRLF line ends
        // (Windows files, a browser's form) the reader puts a record's start on the `\n` that
        // ends the line before it, and its own line count is one short.
        let line = rec
            .position()
            .and_then(|p| text.as_bytes().get(..=p.byte() as usize))
            .map(|before| before.iter().filter(|b| **b == b'\n').count() as u64 + 1)
            .unwrap_or(line);
        if rec.len() != 4 {
            errors.push(line_error(
                line,
                format!("应有 4 列，实际 {} 列", rec.len()),
                format!("expected 4 columns, found {}", rec.len()),
            ));
            continue;
        }
        let Some(level) = RegionLevel::parse(&rec[2]) else {
            errors.push(line_error(
                line,
                format!(
                    "层级“{}”无效，应为 province/city/county/township/village/grid",
                    &rec[2]
                ),
                format!(
                    "invalid level '{}': use province/city/county/township/village/grid",
                    &rec[2]
                ),
            ));
            continue;
        };
        let name = rec[3].to_string();
        if name.is_empty() || name.chars().count() > 64 {
            errors.push(line_error(
                line,
                "名称不能为空且不超过 64 字",
                "name must be 1 to 64 characters",
            ));
            continue;
        }
        let code = rec[0].to_string();
        if let Err(e) = check_code(&code, level) {
            errors.push(line_error(
                line,
                format!("代码“{code}”无效：{}", e.message_zh()),
                format!("bad code '{code}': {e}"),
            ));
            continue;
        }
        let parent_code = (!rec[1].is_empty()).then(|| rec[1].to_string());
        rows.push(Row {
            line,
            code,
            parent_code,
            level,
            name,
        });
    }
    (rows, errors)
}

/// Import regions from CSV text: validates every line first and writes nothing unless all are
/// good. Existing regions may be renamed but not moved. With `actor`, every row must lie inside
/// the actor's scope (an administrator imports below its own regions).
pub async fn import_csv<C: ConnectionTrait + TransactionTrait>(
    db: &C,
    text: &str,
    max_rows: usize,
    actor: Option<&Subject>,
) -> Result<ImportReport, ImportError> {
    import_csv_audited(db, text, max_rows, actor, |_| None).await
}

/// [`import_csv`], writing the audit entry `audit` makes of the report in the import's
/// transaction: without its entry the import is not made.
pub async fn import_csv_audited<C: ConnectionTrait + TransactionTrait>(
    db: &C,
    text: &str,
    max_rows: usize,
    actor: Option<&Subject>,
    audit: impl FnOnce(&ImportReport) -> Option<audit_log::ActiveModel>,
) -> Result<ImportReport, ImportError> {
    let plan = plan_import(db, text, max_rows, actor).await?;
    apply_import(db, plan, audit).await
}

/// What an import of a file would do, checked against the stored tree and the importer's
/// regions, nothing written: [`ImportPlan::report`] for a preview, [`apply_import`] to make it.
#[derive(Debug)]
pub struct ImportPlan {
    report: ImportReport,
    to_create: Vec<(Row, String)>,
    to_rename: Vec<Row>,
}

impl ImportPlan {
    /// What the import would report.
    pub fn report(&self) -> &ImportReport {
        &self.report
    }
}

/// Check a file (`code,parent_code,level,name`, at most `max_rows` rows) as an import would:
/// every bad line, or the plan of the import.
pub async fn plan_import<C: ConnectionTrait>(
    db: &C,
    text: &str,
    max_rows: usize,
    actor: Option<&Subject>,
) -> Result<ImportPlan, ImportError> {
    let (rows, mut errors) = parse_csv(text, max_rows);

    // Everything already stored that the file mentions, as code or as parent.
    let mut wanted: Vec<String> = rows.iter().map(|r| r.code.clone()).collect();
    wanted.extend(rows.iter().filter_map(|r| r.parent_code.clone()));
    wanted.sort();
    wanted.dedup();
    let mut stored: HashMap<String, region::Model> = HashMap::new();
    for chunk in wanted.chunks(500) {
        for m in region::Entity::find()
            .filter(region::Column::Code.is_in(chunk.iter().cloned()))
            .all(db)
            .await?
        {
            stored.insert(m.code.clone(), m);
        }
    }

    let mut in_file: HashMap<&str, &Row> = HashMap::new();
    for r in &rows {
        if let Some(first) = in_file.insert(r.code.as_str(), r) {
            errors.push(line_error(
                r.line,
                format!("代码 {} 与第 {} 行重复", r.code, first.line),
                format!("code {} repeats line {}", r.code, first.line),
            ));
        }
    }

    // Resolve each row's path, parents first (levels order the rows).
    let mut order: Vec<&Row> = rows.iter().collect();
    order.sort_by_key(|r| r.level);
    let mut paths: HashMap<String, String> = HashMap::new();
    let mut report = ImportReport::default();
    let mut to_create = Vec::new();
    let mut to_rename = Vec::new();
    for r in order {
        let parent = match &r.parent_code {
            None => None,
            Some(pc) => {
                if let Some(p) = in_file.get(pc.as_str()) {
                    paths
                        .get(pc)
                        .map(|path| (pc.clone(), p.level, path.clone()))
                } else if let Some(p) = stored.get(pc) {
                    RegionLevel::parse(&p.level).map(|l| (pc.clone(), l, p.path.clone()))
                } else {
                    errors.push(line_error(
                        r.line,
                        format!("上级代码 {pc} 不存在"),
                        format!("parent code {pc} does not exist"),
                    ));
                    continue;
                }
            }
        };
        if r.parent_code.is_some() && parent.is_none() {
            // The parent's own line was bad; that line is already reported.
            continue;
        }
        if let Err(e) = check_parent(
            &r.code,
            r.level,
            parent.as_ref().map(|(c, l, _)| (c.as_str(), *l)),
        ) {
            errors.push(line_error(
                r.line,
                format!("上下级不符：{}", e.message_zh()),
                format!("parent mismatch: {e}"),
            ));
            continue;
        }
        let path = match &parent {
            Some((_, _, pp)) => format!("{pp}{}/", r.code),
            None => format!("/{}/", r.code),
        };
        if let Some(actor) = actor
            && !decide(actor, Action::ManageRegions, Target::Region(&path)).is_allowed()
        {
            errors.push(LineError {
                outside_scope: true,
                ..line_error(
                    r.line,
                    format!("{} 不在您的管辖范围内", r.code),
                    format!("{} is outside your regions", r.code),
                )
            });
            continue;
        }
        match stored.get(&r.code) {
            Some(existing) => {
                if existing.path != path || existing.level != r.level.as_str() {
                    errors.push(line_error(
                        r.line,
                        format!("{} 已存在且上级或层级不同；区划不能通过导入移动", r.code),
                        format!(
                            "{} exists with another parent or level; import cannot move regions",
                            r.code
                        ),
                    ));
                    continue;
                }
                if existing.name == r.name {
                    report.unchanged += 1;
                } else {
                    report.renamed += 1;
                    to_rename.push(r.clone());
                }
            }
            None => {
                report.created += 1;
                to_create.push((r.clone(), path.clone()));
            }
        }
        paths.insert(r.code.clone(), path);
    }
    if !errors.is_empty() {
        errors.sort_by_key(|e| e.line);
        return Err(ImportError::Lines(errors));
    }
    Ok(ImportPlan {
        report,
        to_create,
        to_rename,
    })
}

/// Make the import `plan` describes, writing the audit entry `audit` makes of its report in the
/// same transaction.
pub async fn apply_import<C: ConnectionTrait + TransactionTrait>(
    db: &C,
    plan: ImportPlan,
    audit: impl FnOnce(&ImportReport) -> Option<audit_log::ActiveModel>,
) -> Result<ImportReport, ImportError> {
    let ImportPlan {
        report,
        to_create,
        to_rename,
    } = plan;
    let now = now_ms();
    let txn = db.begin().await?;
    for chunk in to_create.chunks(200) {
        let models = chunk.iter().map(|(r, path)| region::ActiveModel {
            code: Set(r.code.clone()),
            parent_code: Set(r.parent_code.clone()),
            level: Set(r.level.as_str().to_string()),
            name: Set(r.name.clone()),
            path: Set(path.clone()),
            created_at_ms: Set(now),
            updated_at_ms: Set(now),
        });
        region::Entity::insert_many(models).exec(&txn).await?;
    }
    for r in to_rename {
        region::ActiveModel {
            code: Set(r.code.clone()),
            name: Set(r.name.clone()),
            updated_at_ms: Set(now),
            ..Default::default()
        }
        .update(&txn)
        .await?;
    }
    if let Some(entry) = audit(&report) {
        entry.insert(&txn).await?;
    }
    txn.commit().await?;
    Ok(report)
}

/// Most regions a [`Placements`] cache holds before it starts over (a province has tens of
/// thousands of grids; a whole-country process may see more).
pub const PLACEMENTS_MAX: usize = 100_000;

/// Where a region sits in the tree: its level (层级) and materialised path. Both are fixed
/// once the region exists (an import creates regions and renames them, never moves them, and
/// nothing deletes one), so a process may keep them for as long as it runs, whatever other
/// processes do.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Placement {
    pub level: String,
    pub path: String,
}

impl Placement {
    /// Is the region a grid (网格), where documents live?
    pub fn is_grid(&self) -> bool {
        self.level == RegionLevel::Grid.as_str()
    }
}

/// The placements of the regions this process has looked up, read from the database once
/// each: every sync names its documents' grids, and a region that does not exist yet is asked
/// for again.
#[derive(Debug, Default)]
pub struct Placements {
    known: std::sync::RwLock<HashMap<String, Placement>>,
}

impl Placements {
    /// The placement of region `code`, or `None` when there is no such region.
    pub async fn get<C: ConnectionTrait>(
        &self,
        db: &C,
        code: &str,
    ) -> Result<Option<Placement>, sea_orm::DbErr> {
        if let Some(p) = self.read().get(code) {
            return Ok(Some(p.clone()));
        }
        let Some(row) = find(db, code).await? else {
            return Ok(None);
        };
        let placement = Placement {
            level: row.level,
            path: row.path,
        };
        let mut known = self.known.write().unwrap_or_else(|p| p.into_inner());
        if known.len() >= PLACEMENTS_MAX {
            known.clear();
        }
        known.insert(row.code, placement.clone());
        Ok(Some(placement))
    }

    /// Is the region at materialised `path` a grid? Looked up by its code, the path's last part.
    pub async fn is_grid_path<C: ConnectionTrait>(
        &self,
        db: &C,
        path: &str,
    ) -> Result<bool, sea_orm::DbErr> {
        let code = path
            .trim_end_matches('/')
            .rsplit('/')
            .next()
            .unwrap_or_default();
        Ok(self
            .get(db, code)
            .await?
            .is_some_and(|p| p.is_grid() && p.path == path))
    }

    fn read(&self) -> std::sync::RwLockReadGuard<'_, HashMap<String, Placement>> {
        self.known.read().unwrap_or_else(|p| p.into_inner())
    }
}

pub async fn find<C: ConnectionTrait>(
    db: &C,
    code: &str,
) -> Result<Option<region::Model>, sea_orm::DbErr> {
    region::Entity::find_by_id(code.to_string()).one(db).await
}

/// The names of the regions `codes` (those that exist), by code.
pub async fn names<C: ConnectionTrait>(
    db: &C,
    mut codes: Vec<String>,
) -> Result<HashMap<String, String>, sea_orm::DbErr> {
    codes.sort();
    codes.dedup();
    let mut out = HashMap::new();
    for chunk in codes.chunks(500) {
        for r in region::Entity::find()
            .filter(region::Column::Code.is_in(chunk.iter().cloned()))
            .all(db)
            .await?
        {
            out.insert(r.code, r.name);
        }
    }
    Ok(out)
}

pub async fn children<C: ConnectionTrait>(
    db: &C,
    code: &str,
) -> Result<Vec<region::Model>, sea_orm::DbErr> {
    region::Entity::find()
        .filter(region::Column::ParentCode.eq(code))
        .order_by_asc(region::Column::Code)
        .all(db)
        .await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parse_reports_every_bad_line() {
        let text = "code,parent_code,level,name\n\
                    370000000000,,province,山东省\n\
                    370200000000,370000000000,metropolis,青岛市\n\
                    37020000000,370000000000,city,青岛市\n\
                    370200000000,370000000000,city\n\
                    370202000000,370200000000,county,\n";
        let (rows, errs) = parse_csv(text, 100);
        assert_eq!(rows.len(), 1);
        let lines: Vec<u64> = errs.iter().map(|e| e.line).collect();
        assert_eq!(lines, vec![3, 4, 5, 6]);
    }

    #[test]
    fn lines_are_counted_alike_with_crlf_line_ends() {
        let text = "code,parent_code,level,name\r\n\
                    370000000000,,province,山东省\r\n\
                    370200000000,370000000000,metropolis,青岛市\r\n\
                    \"370201000000\",370200000000,county,\"多\r\n行\"\r\n\
                    37020000000,370000000000,city,青岛市\r\n";
        let (rows, errs) = parse_csv(text, 100);
        assert_eq!(rows.iter().map(|r| r.line).collect::<Vec<_>>(), vec![2, 4]);
        let lines: Vec<u64> = errs.iter().map(|e| e.line).collect();
        assert_eq!(lines, vec![3, 6]);
    }

    #[test]
    fn header_is_required() {
        let (_, errs) = parse_csv("370000000000,,province,山东省\n", 10);
        assert_eq!(errs[0].line, 1);
    }
}
