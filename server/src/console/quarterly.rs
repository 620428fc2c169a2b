//! 每季度报告: the console's page of the quarterly report ([`crate::quarterly`]) with its charts,
//! and its XLSX download (the same figures and audit as `GET /api/v1/statistics/quarterly`).

use axum::extract::{Query, State};
use axum::http::StatusCode;
use axum::response::Response;
use serde::Deserialize;

use super::html::{self, esc, layout};
use super::{Session, error_page, html_response, secure};
use crate::error::ApiResult;
use crate::http::SharedState;
use crate::quarterly::{self, Count, Quarter, QuarterlyReport};

/// The page's query.
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct QuarterlyQuery {
    pub region: Option<String>,
    pub quarter: Option<String>,
}

/// How many quarters back the page offers.
const QUARTERS_OFFERED: usize = 8;

pub async fn page(
    State(state): State<SharedState>,
    session: Session,
    q: Result<Query<QuarterlyQuery>, axum::extract::rejection::QueryRejection>,
) -> Response {
    let q = q.map(|q| q.0).unwrap_or_default();
    match body(&state, &session, &q).await {
        Ok(b) => html_response(
            StatusCode::OK,
            layout("季度报告", &session, "quarterly", &b),
        ),
        Err(e) => error_page(e),
    }
}

pub async fn download(
    State(state): State<SharedState>,
    session: Session,
    q: Result<Query<QuarterlyQuery>, axum::extract::rejection::QueryRejection>,
) -> Response {
    let q = q.map(|q| q.0).unwrap_or_default();
    let made = async {
        let quarter = quarterly::quarter_param(q.quarter.as_deref())?;
        let r =
            quarterly::compute(&state.db, &session.reviewer, q.region.as_deref(), quarter).await?;
        let bytes = quarterly::xlsx(&state.db, &session.reviewer, &r).await?;
        Ok::<_, crate::error::ApiError>(crate::http::statistics::xlsx_answer(
            bytes,
            &format!("doudi-quarterly-{}-{}.xlsx", r.region, r.quarter),
        ))
    };
    match made.await {
        Ok(resp) => secure(resp),
        Err(e) => error_page(e),
    }
}

fn chart(title: &str, rows: &[Count]) -> String {
    if rows.is_empty() {
        return format!(
            r#"<figure class="chart"><figcaption>{}</figcaption><p class="sub">本季度无记录。</p></figure>"#,
            esc(title)
        );
    }
    let rows: Vec<(String, u64)> = rows.iter().map(|c| (c.label.clone(), c.count)).collect();
    html::bar_chart(title, &rows)
}

fn table(rows: &[Vec<String>]) -> String {
    let mut s = String::from(r#"<table class="list figures">"#);
    for (i, r) in rows.iter().enumerate() {
        let cell = if i == 0 { "th" } else { "td" };
        s.push_str("<tr>");
        for c in r {
            s.push_str(&format!("<{cell}>{}</{cell}>", esc(c)));
        }
        s.push_str("</tr>");
    }
    s.push_str("</table>");
    s
}

async fn body(state: &SharedState, session: &Session, q: &QuarterlyQuery) -> ApiResult<String> {
    let quarter = quarterly::quarter_param(q.quarter.as_deref())?;
    let r: QuarterlyReport =
        quarterly::compute(&state.db, &session.reviewer, q.region.as_deref(), quarter).await?;
    let current = Quarter::of(crate::review::deadlines::today().unwrap_or_default());
    let mut options = String::new();
    let mut at = current;
    for _ in 0..QUARTERS_OFFERED {
        options.push_str(&format!(
            r#"<option value="{c}"{sel}>{l}</option>"#,
            c = at.code(),
            l = esc(&at.label_zh()),
            sel = if at == quarter { " selected" } else { "" },
        ));
        at = at.previous();
    }
    let query = format!("region={}&quarter={}", esc(&r.region), esc(&r.quarter));
    let mut s = format!(
        r#"<form method="get" action="/console/quarterly" class="filters">
<label>区划代码 <input name="region" maxlength="64" value="{region}"></label>
<label>季度 <select name="quarter">{options}</select></label>
<button type="submit">查看</button>
<a class="button" href="/console/quarterly/xlsx?{query}">下载 Excel</a>
</form>
<h2>{name}（{region}）{label}</h2>
<p class="sub">统计期 {from} 至 {to}；按记录实时计算（{at}）。期末户数、人数按截至期末的审批决定计算。</p>"#,
        region = esc(&r.region),
        name = esc(&r.region_name),
        label = esc(&r.quarter_label),
        from = esc(&r.from),
        to = esc(&r.to),
        at = html::time(Some(r.computed_at_ms)),
    );
    let sections = quarterly::sections(&r);
    for (title, rows) in &sections[..4] {
        s.push_str(&format!("<h3>{}</h3>{}", esc(title), table(rows)));
    }
    let households: Vec<Count> = r
        .programmes
        .iter()
        .map(|p| Count {
            code: p.programme.clone(),
            label: p.label.clone(),
            count: p.households,
        })
        .collect();
    s.push_str(r#"<div class="charts">"#);
    s.push_str(&chart("期末户数（按救助类别）", &households));
    s.push_str(&chart("走访（按类型）", &r.visits_by_purpose));
    s.push_str(&chart("主动发现（按渠道）", &r.reports_by_channel));
    s.push_str(&chart("主动发现（按状态）", &r.reports_by_status));
    s.push_str(&chart("监测预警（按指标）", &r.alerts_by_indicator));
    s.push_str(&chart("监测预警（按处置）", &r.alerts_by_disposition));
    s.push_str(&chart(
        "临时救助（按类型）",
        &r.temporary_aid.opened_by_kind,
    ));
    s.push_str("</div>");
    Ok(s)
}
