//! Household search for the console and `GET /api/v1/households`: head or member name prefix,
//! address fragment, or a current member's 身份证号 (the whole number, or its last 4 to 6
//! characters), only inside the caller's regions.
//!
//! Address fragments need at least [`MIN_ADDRESS_CHARS`] characters: shorter ones cannot use the
//! trigram index on PostgreSQL and would scan every household of a county.
//!
//! The server never stores an identity number in clear: a number is found by the keyed hash
//! (`crate::identity`) of the whole number or of its last 4, 5 or 6 characters, which only the
//! server can compute. Other fragments of a number (a birth date) match nothing.

use std::collections::{BTreeSet, HashMap};

use sea_orm::sea_query::{
    Condition, Expr, ExprTrait, LikeExpr, NullOrdering, Order, Query, SelectStatement,
};
use sea_orm::{
    ColumnTrait, ConnectionTrait, DatabaseConnection, DbBackend, EntityTrait, QueryFilter,
};
use serde::{Deserialize, Serialize};

use crate::access::{Action, Actor, Subject, Target, scope_condition};
use crate::entity::{household, identity_number, member};
use crate::error::{ApiError, ApiResult, Code};
use crate::identity::{IdentityKeys, Lookup};
use crate::review::queue::{PAGE_SIZE, is_tekun};

/// Shortest query, in characters (one character would match a tenth of a county).
pub const MIN_QUERY_CHARS: usize = 2;
/// Shortest address fragment, in characters.
pub const MIN_ADDRESS_CHARS: usize = 3;
/// Longest query, in characters.
pub const MAX_QUERY_CHARS: usize = 32;

/// Query parameters of `GET /api/v1/households` and `/console/households`.
#[derive(Debug, Clone, Default, Deserialize, utoipa::IntoParams)]
#[serde(default)]
pub struct SearchParams {
    /// 2–32 characters (after trimming): a head or member name prefix, an address fragment, or
    /// a 身份证号 whole or its last 4 to 6 characters.
    #[param(required = true, min_length = 2, max_length = 32)]
    pub q: Option<String>,
    /// Page number from 1.
    pub page: Option<u64>,
}

/// One household found.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct HouseholdHit {
    pub household_id: String,
    pub head_name: Option<String>,
    pub address: String,
    pub grid: String,
    /// Programme codes.
    pub programmes: Vec<String>,
    pub member_count: i32,
    /// In a 特困 programme.
    pub tekun: bool,
}

/// A page of search results.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct SearchPage {
    pub q: String,
    pub items: Vec<HouseholdHit>,
    pub total: u64,
    pub page: u64,
    pub pages: u64,
    /// More than 2,000 matched one way in the caller's regions (head name, member name,
    /// address or number): only the first 2,000 of each are counted and listed (heads by head
    /// name, members by member name, addresses and numbers by head name; then by household id).
    /// A longer query narrows it.
    pub truncated: bool,
}

/// The trimmed query, or `request.invalid` saying why not.
pub fn check_query(q: Option<&str>) -> ApiResult<String> {
    let q = q.unwrap_or("").trim();
    let n = q.chars().count();
    if !(MIN_QUERY_CHARS..=MAX_QUERY_CHARS).contains(&n) {
        return Err(ApiError::new(Code::InvalidRequest)
            .with_message(
                format!("搜索词应为 {MIN_QUERY_CHARS}–{MAX_QUERY_CHARS} 个字符"),
                format!("the search query must be {MIN_QUERY_CHARS}–{MAX_QUERY_CHARS} characters"),
            )
            .with_details(serde_json::json!({
                "field": "q",
                "min_chars": MIN_QUERY_CHARS,
                "max_chars": MAX_QUERY_CHARS,
            })));
    }
    if q.chars().any(char::is_control) {
        return Err(ApiError::new(Code::InvalidRequest)
            .with_message(
                "搜索词含有控制字符",
                "the search query contains control characters",
            )
            .with_details(serde_json::json!({ "field": "q" })));
    }
    Ok(q.to_string())
}

/// `q` with the LIKE wildcards escaped (escape character `\`).
fn like_escape(q: &str) -> String {
    let mut s = String::with_capacity(q.len());
    for c in q.chars() {
        if matches!(c, '%' | '_' | '\\') {
            s.push('\\');
        }
        s.push(c);
    }
    s
}

fn like(pattern: String) -> LikeExpr {
    LikeExpr::new(pattern).escape('\\')
}

/// The names starting with `q` are those from `q` (included) to the second (excluded, none when
/// no character follows `q`'s last) in code-point order: `q` with its last character's
/// successor. Unlike `LIKE 'q%'`, an index range on any plan, with no wildcard to escape.
fn prefix_range(q: &str) -> (String, Option<String>) {
    let mut chars: Vec<char> = q.chars().collect();
    let mut below = None;
    while let Some(last) = chars.pop() {
        // The next scalar value (over the surrogate gap); past the last one, drop it and carry.
        let next = (u32::from(last) + 1..=u32::from(char::MAX)).find_map(char::from_u32);
        if let Some(next) = next {
            chars.push(next);
            below = Some(chars.into_iter().collect());
            break;
        }
    }
    (q.to_string(), below)
}

/// Most households taken from each kind of match; past it the answer says `truncated`.
pub const MAX_MATCHES: u64 = 2000;

/// A household found, as the result list orders it: by head name (households without one
/// last), then id.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
struct Found {
    no_head: bool,
    head_name: String,
    id: String,
}

/// Households in the subject's regions matching `q`, one simple indexed query per kind of match
/// (the planner cannot misjudge a union of them into a scan of every household), each already
/// limited to the regions; `true` when one of them had more than [`MAX_MATCHES`].
async fn matching(
    db: &DatabaseConnection,
    keys: &IdentityKeys,
    subject: &Subject,
    q: &str,
) -> ApiResult<(BTreeSet<Found>, bool)> {
    let esc = like_escape(q);
    let in_scope = scope_condition(subject, household::Column::RegionPath);
    let households = || {
        Query::select()
            .column((household::Entity, household::Column::DocId))
            .column((household::Entity, household::Column::HeadName))
            .from(household::Entity)
            .cond_where(in_scope.clone())
            .to_owned()
    };
    // Members carry their household's region, so the regions apply inside the members index
    // and before the limit; the household adds the head name the answer is listed by.
    let members = || {
        Query::select()
            .column((household::Entity, household::Column::DocId))
            .column((household::Entity, household::Column::HeadName))
            .from(member::Entity)
            .inner_join(
                household::Entity,
                Expr::col((household::Entity, household::Column::DocId))
                    .equals((member::Entity, member::Column::DocId)),
            )
            .cond_where(scope_condition(subject, member::Column::RegionPath))
            .and_where(Expr::col((member::Entity, member::Column::Removed)).eq(false))
            .to_owned()
    };
    // Names in code-point order (the byte order of UTF-8): SQLite's own, and on PostgreSQL
    // "C", in which the name indexes of migration 25 are kept whatever the database's locale.
    let pg = db.get_database_backend() == DbBackend::Postgres;
    let name_of = |table: &str, column: &str| {
        if pg {
            Expr::cust(format!(r#""{table}"."{column}" COLLATE "C""#))
        } else {
            Expr::cust(format!(r#""{table}"."{column}""#))
        }
    };
    let (from, below) = prefix_range(q);
    let starting = |name: Expr| {
        let mut c = Condition::all().add(name.clone().gte(from.clone()));
        if let Some(below) = &below {
            c = c.add(name.lt(below.clone()));
        }
        c
    };
    let head = name_of("households", "head_name");
    let member_name = name_of("members", "name");
    // Names: each branch walks its name index from the query on, in name order, and stops at
    // the limit — heads by head name, members by member name (then household id): which
    // households a truncated answer shows depends on the data only.
    let mut named: Vec<SelectStatement> = vec![
        households()
            .cond_where(starting(head.clone()))
            .order_by_expr(head.clone(), Order::Asc)
            .order_by((household::Entity, household::Column::DocId), Order::Asc)
            .to_owned(),
        members()
            .cond_where(starting(member_name.clone()))
            .order_by_expr(member_name, Order::Asc)
            .order_by((member::Entity, member::Column::DocId), Order::Asc)
            .to_owned(),
    ];
    let mut branches: Vec<SelectStatement> = Vec::new();
    if q.chars().count() >= MIN_ADDRESS_CHARS {
        branches.push(
            households()
                .and_where(
                    Expr::col((household::Entity, household::Column::Address))
                        .like(like(format!("%{esc}%"))),
                )
                .to_owned(),
        );
    }
    if let Some((lookup, part)) = Lookup::of_query(q) {
        // The number's keyed hash, among current members, in the regions, before the limit.
        branches.push(
            Query::select()
                .column((household::Entity, household::Column::DocId))
                .column((household::Entity, household::Column::HeadName))
                .from(identity_number::Entity)
                .inner_join(
                    household::Entity,
                    Expr::col((household::Entity, household::Column::DocId))
                        .equals((identity_number::Entity, identity_number::Column::DocId)),
                )
                .and_where(
                    Expr::col((identity_number::Entity, lookup.column()))
                        .eq(keys.hash(lookup, &part)),
                )
                .and_where(
                    Expr::col((identity_number::Entity, identity_number::Column::Searchable))
                        .eq(true),
                )
                .cond_where(scope_condition(
                    subject,
                    identity_number::Column::RegionPath,
                ))
                .to_owned(),
        );
    }
    // The address and number branches keep the first matches in the list's own order (head
    // name by code point, households without one last, then id), one row per household: a
    // top-N sort of their matches, which the trigram and hash indexes keep few.
    for b in &mut branches {
        b.group_by_columns([
            (household::Entity, household::Column::DocId),
            (household::Entity, household::Column::HeadName),
        ])
        .order_by_expr_with_nulls(head.clone(), Order::Asc, NullOrdering::Last)
        .order_by((household::Entity, household::Column::DocId), Order::Asc);
    }
    named.append(&mut branches);
    let mut found = BTreeSet::new();
    let mut truncated = false;
    for mut b in named {
        b.limit(MAX_MATCHES + 1);
        let rows = db.query_all(&b).await?;
        truncated |= rows.len() as u64 > MAX_MATCHES;
        for r in rows.iter().take(MAX_MATCHES as usize) {
            let head: Option<String> = r.try_get_by_index(1)?;
            found.insert(Found {
                no_head: head.is_none(),
                head_name: head.unwrap_or_default(),
                id: r.try_get_by_index(0)?,
            });
        }
    }
    Ok((found, truncated))
}

/// One page of households in the reviewer's regions matching `params.q`.
pub async fn search(
    db: &DatabaseConnection,
    keys: &IdentityKeys,
    reviewer: &Actor,
    params: &SearchParams,
) -> ApiResult<SearchPage> {
    reviewer
        .require(db, Action::ReadCase, Target::Scope, "households.search")
        .await?;
    let q = check_query(params.q.as_deref())?;
    let subject = &reviewer.subject;
    // The matches carry what orders them, so the total and the page come from them; only the
    // page's rows are read whole.
    let (found, truncated) = matching(db, keys, subject, &q).await?;
    let total = found.len() as u64;
    let pages = Ord::max(total.div_ceil(PAGE_SIZE), 1);
    let page = params.page.unwrap_or(1).clamp(1, pages);
    let ids: Vec<String> = found
        .into_iter()
        .skip(((page - 1) * PAGE_SIZE) as usize)
        .take(PAGE_SIZE as usize)
        .map(|f| f.id)
        .collect();
    let mut by_id: HashMap<String, household::Model> = household::Entity::find()
        .filter(household::Column::DocId.is_in(ids.clone()))
        .all(db)
        .await?
        .into_iter()
        .map(|h| (h.doc_id.clone(), h))
        .collect();
    let rows: Vec<household::Model> = ids.iter().filter_map(|id| by_id.remove(id)).collect();
    Ok(SearchPage {
        q,
        items: rows
            .into_iter()
            .map(|h| HouseholdHit {
                tekun: is_tekun(&h.programmes),
                programmes: h
                    .programmes
                    .split(',')
                    .filter(|p| !p.is_empty())
                    .map(str::to_string)
                    .collect(),
                household_id: h.doc_id,
                head_name: h.head_name,
                address: h.address,
                grid: h.scope,
                member_count: h.member_count,
            })
            .collect(),
        total,
        page,
        pages,
        truncated,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn query_bounds() {
        assert!(check_query(Some("王")).is_err());
        assert!(check_query(Some("  ")).is_err());
        assert!(check_query(None).is_err());
        assert_eq!(check_query(Some(" 王建 ")).unwrap(), "王建");
        assert!(check_query(Some(&"街".repeat(MAX_QUERY_CHARS))).is_ok());
        assert!(check_query(Some(&"街".repeat(MAX_QUERY_CHARS + 1))).is_err());
        assert!(check_query(Some("a\u{0}b")).is_err());
    }

    #[test]
    fn a_name_prefix_is_a_range() {
        assert_eq!(prefix_range("王建"), ("王建".into(), Some("王廻".into())));
        assert_eq!(prefix_range("ab"), ("ab".into(), Some("ac".into())));
        let (from, below) = prefix_range("a\u{D7FF}");
        assert_eq!(
            (from.as_str(), below.as_deref()),
            ("a\u{D7FF}", Some("a\u{E000}"))
        );
        assert_eq!(prefix_range("a\u{10FFFF}").1.as_deref(), Some("b"));
        assert_eq!(prefix_range("\u{10FFFF}").1, None);
        // Every name starting with the query lies in the range, in byte order, and no other.
        let (from, below) = prefix_range("王建");
        let below = below.unwrap();
        for name in ["王建", "王建国", "王建\u{10FFFF}"] {
            assert!(name >= from.as_str() && name < below.as_str(), "{name}");
        }
        for name in ["王廻", "王廻a", "王", "王弓", "王廷"] {
            assert!(!(name >= from.as_str() && name < below.as_str()), "{name}");
        }
    }

    #[test]
    fn number_queries_and_escape() {
        assert_eq!(
            Lookup::of_query("123x"),
            Some((Lookup::Tail(4), "123X".to_owned()))
        );
        assert_eq!(
            Lookup::of_query("31002x"),
            Some((Lookup::Tail(6), "31002X".to_owned()))
        );
        assert_eq!(Lookup::of_query("1234567"), None);
        assert_eq!(Lookup::of_query("12X4"), None);
        assert_eq!(Lookup::of_query("王建国民"), None);
        assert_eq!(
            Lookup::of_query("11010519491231002x").map(|l| l.0),
            Some(Lookup::Whole)
        );
        // 18 characters that are no valid number are no number query.
        assert_eq!(Lookup::of_query("110105194912310021"), None);
        assert_eq!(like_escape("50%_\\"), "50\\%\\_\\\\");
    }
}
