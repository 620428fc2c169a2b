//! 双纳入 (Tieling 2019: "确保实现扶贫和民政保障对象'双纳入'"): a run of the 乡村振兴 list
//! (防返贫监测对象) compared, person by person, with the members of the 低保 and 特困 households of
//! the reader's regions: on both lists, only on theirs, or only on ours. People are compared by
//! the keyed hash of their 身份证号 and shown masked.

use std::collections::{BTreeMap, HashMap};

use sea_orm::{ColumnTrait, DatabaseConnection, EntityTrait, QueryFilter, QueryOrder, QuerySelect};
use serde::Serialize;

use super::Source;
use crate::access::{Actor, scope_condition};
use crate::entity::{household, identity_number, member, monitoring_row};
use crate::error::{ApiError, ApiResult, Code};

/// Programme codes whose members are "ours" in the comparison: 低保 and 特困.
pub const OUR_PROGRAMMES: [&str; 3] = ["dibao", "tekun_dispersed", "tekun_centralized"];

/// Households read per query.
const PAGE: u64 = 1_000;

/// Where a person stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Standing {
    /// On their list and a member of a 低保 or 特困 household of ours.
    Both,
    /// On their list only.
    OnlyTheirs,
    /// In a 低保 or 特困 household of ours only.
    OnlyOurs,
}

impl Standing {
    pub fn label_zh(self) -> &'static str {
        match self {
            Standing::Both => "双方均已纳入",
            Standing::OnlyTheirs => "仅在乡村振兴名单",
            Standing::OnlyOurs => "仅在民政低保特困",
        }
    }
}

/// One person of the comparison.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct Compared {
    pub standing: Standing,
    pub name: String,
    /// First 6 + `****` + last 4.
    pub id_masked: String,
    /// Our household, when the person is a current member of one in the reader's regions.
    pub household_id: Option<String>,
    /// The household's programmes (Chinese labels joined by `、`), when it is ours.
    pub programmes: Option<String>,
    /// The person's first line in their list.
    pub line: Option<u32>,
}

/// The comparison of a run.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct Comparison {
    pub run_id: String,
    pub both: usize,
    pub only_theirs: usize,
    pub only_ours: usize,
    /// Both first, then theirs, then ours; by name within each.
    pub people: Vec<Compared>,
}

/// A member of one of our 低保 or 特困 households.
struct Ours {
    household: String,
    entry: String,
    /// The household's programme codes.
    programmes: String,
    masked: String,
}

/// The header of the comparison's CSV.
pub const CSV_COLUMNS: [&str; 6] = [
    "比对结果",
    "姓名",
    "身份证号",
    "户编号",
    "保障类别",
    "名单行号",
];

fn programme_labels(codes: &str) -> String {
    codes
        .split(',')
        .filter(|c| !c.is_empty())
        .map(|c| {
            doudi_protocol::doc::household::Programme::parse(c)
                .map(|p| p.label_zh().to_string())
                .unwrap_or_else(|| c.to_string())
        })
        .collect::<Vec<_>>()
        .join("、")
}

/// Compare run `run_id` (a `rural_monitoring` list) with the 低保 and 特困 members of the
/// reader's regions.
pub async fn compare(
    db: &DatabaseConnection,
    reader: &Actor,
    run_id: &str,
) -> ApiResult<Comparison> {
    let run = super::alerts::visible_run(db, reader, run_id).await?;
    if run.source != Source::RuralMonitoring.as_str() {
        return Err(ApiError::new(Code::InvalidRequest)
            .with_message(
                "只有防返贫监测对象（乡村振兴）名单可做“双纳入”比对。",
                "Only a rural_monitoring list can be compared for 双纳入.",
            )
            .with_details(serde_json::json!({ "field": "source", "source": run.source })));
    }
    // Theirs: each person once, at their first line.
    let mut theirs: BTreeMap<String, monitoring_row::Model> = BTreeMap::new();
    for r in monitoring_row::Entity::find()
        .filter(monitoring_row::Column::RunId.eq(run_id))
        .order_by_asc(monitoring_row::Column::Line)
        .all(db)
        .await?
    {
        theirs.entry(r.id_hash.clone()).or_insert(r);
    }
    // Ours: the current members with a number of the 低保 and 特困 households in the regions.
    let mut ours: HashMap<String, Ours> = HashMap::new();
    let mut names: HashMap<(String, String), String> = HashMap::new();
    let mut after = String::new();
    loop {
        let page = household::Entity::find()
            .filter(scope_condition(
                &reader.subject,
                household::Column::RegionPath,
            ))
            .filter(household::Column::DocId.gt(after.as_str()))
            .order_by_asc(household::Column::DocId)
            .limit(PAGE)
            .all(db)
            .await?;
        let Some(last) = page.last() else {
            break;
        };
        after = last.doc_id.clone();
        let enrolled: HashMap<String, String> = page
            .into_iter()
            .filter(|h| h.programmes.split(',').any(|c| OUR_PROGRAMMES.contains(&c)))
            .map(|h| (h.doc_id, h.programmes))
            .collect();
        if enrolled.is_empty() {
            continue;
        }
        let ids: Vec<String> = enrolled.keys().cloned().collect();
        for n in identity_number::Entity::find()
            .filter(identity_number::Column::DocId.is_in(ids.clone()))
            .filter(identity_number::Column::Searchable.eq(true))
            .filter(identity_number::Column::Entry.starts_with("members."))
            .all(db)
            .await?
        {
            let programmes = enrolled.get(&n.doc_id).cloned().unwrap_or_default();
            ours.insert(
                n.hash_full,
                Ours {
                    household: n.doc_id,
                    entry: n.entry,
                    programmes,
                    masked: n.masked,
                },
            );
        }
        for m in member::Entity::find()
            .filter(member::Column::DocId.is_in(ids))
            .all(db)
            .await?
        {
            names.insert((m.doc_id, format!("members.{}", m.member_id)), m.name);
        }
    }
    let mut people = Vec::new();
    for (hash, r) in &theirs {
        let mine = ours.get(hash);
        people.push(Compared {
            standing: if mine.is_some() {
                Standing::Both
            } else {
                Standing::OnlyTheirs
            },
            name: r.name.clone(),
            id_masked: r.id_masked.clone(),
            household_id: mine
                .map(|o| o.household.clone())
                .or_else(|| r.household_id.clone()),
            programmes: mine.map(|o| programme_labels(&o.programmes)),
            line: Some(r.line as u32),
        });
    }
    for (hash, o) in &ours {
        if theirs.contains_key(hash) {
            continue;
        }
        people.push(Compared {
            standing: Standing::OnlyOurs,
            name: names
                .get(&(o.household.clone(), o.entry.clone()))
                .cloned()
                .unwrap_or_default(),
            id_masked: o.masked.clone(),
            household_id: Some(o.household.clone()),
            programmes: Some(programme_labels(&o.programmes)),
            line: None,
        });
    }
    people.sort_by(|a, b| {
        (a.standing, &a.name, &a.id_masked).cmp(&(b.standing, &b.name, &b.id_masked))
    });
    let count = |s| people.iter().filter(|p| p.standing == s).count();
    Ok(Comparison {
        run_id: run_id.to_string(),
        both: count(Standing::Both),
        only_theirs: count(Standing::OnlyTheirs),
        only_ours: count(Standing::OnlyOurs),
        people,
    })
}

/// The comparison as CSV (UTF-8 with a byte-order mark, as the exports), after its audit entry
/// (`export`, target `monitoring.comparison`).
pub async fn csv(db: &DatabaseConnection, reader: &Actor, c: &Comparison) -> ApiResult<Vec<u8>> {
    let mut ev = reader.event(crate::audit::actions::EXPORT, Some("monitoring.comparison"));
    ev.detail =
        Some(serde_json::json!({ "run": c.run_id, "format": "csv", "rows": c.people.len() }));
    crate::audit::record(db, crate::audit::Outcome::Ok, ev).await?;
    let mut out = "\u{feff}".as_bytes().to_vec();
    {
        let mut w = csv::Writer::from_writer(&mut out);
        w.write_record(CSV_COLUMNS).map_err(ApiError::internal)?;
        for p in &c.people {
            w.write_record([
                p.standing.label_zh(),
                &p.name,
                &p.id_masked,
                p.household_id.as_deref().unwrap_or(""),
                p.programmes.as_deref().unwrap_or(""),
                &p.line.map(|l| l.to_string()).unwrap_or_default(),
            ])
            .map_err(ApiError::internal)?;
        }
        w.flush().map_err(ApiError::internal)?;
    }
    Ok(out)
}
