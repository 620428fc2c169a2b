//! 走访地图: the visits of a township or county over a period as points on an SVG map, each
//! linking to its visit. The points are drawn over a plain grid of latitude and longitude (no
//! tile server: the console works offline and on a private network); regions carry no outline.

use axum::extract::{Query, State};
use axum::http::StatusCode;
use axum::response::Response;
use sea_orm::{ColumnTrait, EntityTrait, PaginatorTrait, QueryFilter, QueryOrder, QuerySelect};
use serde::Deserialize;

use doudi_protocol::doc::visit::{Purpose, VisitStatus};

use super::html::{self, esc, layout};
use super::{Session, error_page, html_response};
use crate::access::{Action, Target, scope_condition};
use crate::entity::visit;
use crate::error::{ApiError, ApiResult, Code};
use crate::http::SharedState;
use crate::review::{deadlines, queue};

/// Most visits one map draws (the latest submitted).
pub const MAP_POINTS: u64 = 5_000;
/// The period a map shows when none is asked for, in days up to today.
const DEFAULT_DAYS: u64 = 90;
const WIDTH: f64 = 800.0;
const PAD: f64 = 40.0;

/// A located visit: id, purpose, status, submitted (unix ms), latitude and longitude (1e-6°).
type Point = (String, String, String, Option<i64>, i64, i64);

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct MapQuery {
    pub region: Option<String>,
    pub from: Option<String>,
    pub to: Option<String>,
}

pub async fn page(
    State(state): State<SharedState>,
    session: Session,
    q: Result<Query<MapQuery>, axum::extract::rejection::QueryRejection>,
) -> Response {
    let q = q.map(|q| q.0).unwrap_or_default();
    match body(&state, &session, &q).await {
        Ok(b) => html_response(StatusCode::OK, layout("走访地图", &session, "map", &b)),
        Err(e) => error_page(e),
    }
}

async fn body(state: &SharedState, session: &Session, q: &MapQuery) -> ApiResult<String> {
    let db = &state.db;
    let r = &session.reviewer;
    r.require(db, Action::ReadReviewLists, Target::Scope, "map")
        .await?;
    let today = deadlines::today().unwrap_or_default();
    let to = crate::exports::day("to", q.to.as_deref())?.unwrap_or(today);
    let from = crate::exports::day("from", q.from.as_deref())?
        .unwrap_or_else(|| to - chrono::Days::new(DEFAULT_DAYS));
    let region = q.region.as_deref().map(str::trim).filter(|r| !r.is_empty());
    let mut query = visit::Entity::find()
        .filter(scope_condition(&r.subject, visit::Column::RegionPath))
        .filter(visit::Column::Status.ne(VisitStatus::Draft.as_str()))
        .filter(visit::Column::SubmittedAtMs.gte(deadlines::midnight_ms(from)))
        .filter(visit::Column::SubmittedAtMs.lt(deadlines::midnight_ms(to + chrono::Days::new(1))));
    if let Some(code) = region {
        let Some(path) = queue::region_path_in_scope(db, &r.subject, code).await? else {
            return Err(ApiError::new(Code::NotFound).with_message(
                format!("没有这个区划，或不在您的管辖范围内：{code}"),
                format!("no such region in your regions: {code}"),
            ));
        };
        query = query.filter(visit::Column::RegionPath.starts_with(path.as_str()));
    }
    let unlocated = query
        .clone()
        .filter(visit::Column::GpsLatE6.is_null())
        .count(db)
        .await?;
    let points: Vec<Point> = query
        .filter(visit::Column::GpsLatE6.is_not_null())
        .filter(visit::Column::GpsLonE6.is_not_null())
        .order_by_desc(visit::Column::SubmittedAtMs)
        .limit(MAP_POINTS)
        .select_only()
        .column(visit::Column::DocId)
        .column(visit::Column::Purpose)
        .column(visit::Column::Status)
        .column(visit::Column::SubmittedAtMs)
        .column(visit::Column::GpsLatE6)
        .column(visit::Column::GpsLonE6)
        .into_tuple()
        .all(db)
        .await?;
    let mut s = format!(
        r#"<form method="get" action="/console/map" class="filters">
<label>区划代码 <input name="region" maxlength="64" value="{region}" placeholder="留空：全部管辖区域"></label>
<label>提交日期自 <input type="date" name="from" value="{from}"></label>
<label>至 <input type="date" name="to" value="{to}"></label>
<button type="submit">查看</button></form>
<p class="sub">共 {n} 个有定位的走访{more}；另有 {unlocated} 个走访没有定位。点击圆点打开走访记录。</p>"#,
        region = esc(region.unwrap_or_default()),
        n = points.len(),
        more = if points.len() as u64 == MAP_POINTS {
            format!("（只显示最近的 {MAP_POINTS} 个）")
        } else {
            String::new()
        },
    );
    s.push_str(&svg(&points));
    Ok(s)
}

/// The points on an equirectangular projection fitted to them (longitude scaled by the cosine
/// of the middle latitude, so distances look right), with a labelled grid.
fn svg(points: &[Point]) -> String {
    if points.is_empty() {
        return "<p class=\"sub\">这段时间没有有定位的走访。</p>".into();
    }
    let deg = |e6: i64| e6 as f64 / 1e6;
    let (mut lat0, mut lat1, mut lon0, mut lon1) = (f64::MAX, f64::MIN, f64::MAX, f64::MIN);
    for p in points {
        lat0 = lat0.min(deg(p.4));
        lat1 = lat1.max(deg(p.4));
        lon0 = lon0.min(deg(p.5));
        lon1 = lon1.max(deg(p.5));
    }
    // At least about 1 km across, so that a single point or a village sits in the middle.
    let span = 0.01;
    let mid_lat = (lat0 + lat1) / 2.0;
    let k = mid_lat.to_radians().cos().max(0.1);
    let (lat_span, lon_span) = ((lat1 - lat0).max(span), (lon1 - lon0).max(span));
    let (lat0, lon0) = (
        (lat0 + lat1) / 2.0 - lat_span / 2.0,
        (lon0 + lon1) / 2.0 - lon_span / 2.0,
    );
    let inner = WIDTH - 2.0 * PAD;
    let scale = inner / (lon_span * k).max(lat_span);
    let height = (lat_span * scale + 2.0 * PAD).max(200.0);
    let x = |lon: f64| PAD + (lon - lon0) * k * scale;
    let y = |lat: f64| height - PAD - (lat - lat0) * scale;
    let mut s = format!(
        r#"<figure class="chart map"><svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {WIDTH} {height:.0}" width="100%" role="group" aria-label="走访地图">"#
    );
    for i in 0..=4 {
        let f = f64::from(i) / 4.0;
        let (lat, lon) = (lat0 + lat_span * f, lon0 + lon_span * f);
        s.push_str(&format!(
            r#"<line x1="{PAD}" y1="{yy:.1}" x2="{x2:.1}" y2="{yy:.1}" class="axis"/><text x="2" y="{ty:.1}" class="lbl small">{lat:.4}</text><line x1="{xx:.1}" y1="{PAD}" x2="{xx:.1}" y2="{y2:.1}" class="axis"/><text x="{xx:.1}" y="{ly:.1}" class="lbl small" text-anchor="middle">{lon:.4}</text>"#,
            yy = y(lat),
            x2 = x(lon0 + lon_span),
            ty = y(lat) - 3.0,
            xx = x(lon),
            y2 = y(lat0),
            ly = height - 8.0,
        ));
    }
    for (id, purpose, status, at, lat, lon) in points {
        let label = format!(
            "{} · {} · {}",
            Purpose::parse(purpose).map_or(purpose.as_str(), |p| p.label_zh()),
            VisitStatus::parse(status).map_or(status.as_str(), |s| s.label_zh()),
            html::time(*at),
        );
        s.push_str(&format!(
            r#"<a href="/console/visits/{id}" aria-label="{l}"><circle cx="{cx:.1}" cy="{cy:.1}" r="6" class="pt s-{st}"><title>{l}</title></circle></a>"#,
            id = esc(id),
            l = esc(&label),
            cx = x(deg(*lon)),
            cy = y(deg(*lat)),
            st = esc(status),
        ));
    }
    s.push_str("</svg></figure>");
    s
}
