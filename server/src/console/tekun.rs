//! 特困: the care-gaps list (五有 items missing for 分散供养 people) and the household page's
//! self-care and 五有 section.

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::Response;

use doudi_protocol::doc::Household;
use doudi_protocol::doc::household::{CarePlan, Programme};

use super::html::{esc, grid_of, layout, region_label};
use super::{Session, error_page, html_response};
use crate::error::ApiResult;
use crate::http::SharedState;
use crate::review::care::{self, LIST_LIMIT};

pub async fn care_gaps(State(state): State<SharedState>, session: Session) -> Response {
    match care_gaps_page(&state, &session).await {
        Ok(b) => html_response(
            StatusCode::OK,
            layout("五有缺项", &session, "care_gaps", &b),
        ),
        Err(e) => error_page(e),
    }
}

async fn care_gaps_page(state: &SharedState, session: &Session) -> ApiResult<String> {
    let page = care::care_gaps(&state.db, &session.reviewer).await?;
    let mut b = String::from(
        r#"<p class="sub">分散供养特困人员须有照料服务协议、照料服务标准、探访计划、应急预案（紧急联系人）和动态管理复核日期（“五有”）。以下人员尚有缺项，由网格员在手机上补录。</p>"#,
    );
    if page.people.is_empty() {
        b.push_str(r#"<p class="empty">所辖范围内的分散供养特困人员“五有”齐全。</p>"#);
        return Ok(b);
    }
    let names = crate::regions::names(
        &state.db,
        page.people
            .iter()
            .map(|p| grid_of(&p.region_path))
            .collect(),
    )
    .await?;
    let rows: String = page
        .people
        .iter()
        .map(|p| {
            let missing: Vec<String> = p
                .missing
                .iter()
                .map(|i| format!("<span class=\"tag alert\">{}</span>", esc(&i.label_zh)))
                .collect();
            format!(
                r#"<tr><td><a href="/console/households/{hid}">{name}</a></td><td>{grid}</td><td>{missing}</td></tr>"#,
                hid = esc(&p.household_id),
                name = esc(&p.name),
                grid = region_label(&grid_of(&p.region_path), &names),
                missing = missing.join(" "),
            )
        })
        .collect();
    b.push_str(&format!(
        r#"<table class="list"><thead><tr><th>姓名</th><th>网格</th><th>缺项</th></tr></thead><tbody>{rows}</tbody></table>"#
    ));
    if page.more {
        b.push_str(&format!(
            r#"<p class="more">仅列出前 {LIST_LIMIT} 人，还有更多人员有缺项（more）。</p>"#
        ));
    }
    Ok(b)
}

/// The household page's 特困 section: each member's latest self-care tier (with the date, the
/// assessor and a pending re-assessment) and, for 分散供养, the 五有 items. Empty for a
/// household outside 特困 with no self-care records.
pub fn household_section(h: &Household) -> String {
    let tekun = h.programmes.contains(&Programme::TekunDispersed)
        || h.programmes.contains(&Programme::TekunCentralized);
    let dispersed = h.programmes.contains(&Programme::TekunDispersed);
    let mut rows = String::new();
    for m in h.members.values().filter(|m| m.is_current()) {
        let latest = m.latest_self_care();
        if !tekun && latest.is_none() && m.care_plan.is_none() {
            continue;
        }
        let tier = match latest {
            Some(a) => format!(
                "{}（{}项不能自理：{}；{} 评估人 {}）",
                esc(doudi_protocol::rules::income::assessed_tier(a).label_zh()),
                a.not_managed.len(),
                esc(&a
                    .not_managed
                    .iter()
                    .map(|x| x.label_zh())
                    .collect::<Vec<_>>()
                    .join("、")),
                a.assessed_on,
                esc(&a.assessor),
            ),
            None => "未评估".to_owned(),
        };
        let change = match m.self_care_change_pending() {
            Some(d) => format!(" <span class=\"tag alert\">{d}报告状况变化，待复评</span>"),
            None => String::new(),
        };
        let plan = m.care_plan.clone().unwrap_or_default();
        let five = if dispersed || m.care_plan.is_some() {
            care_plan_cell(&plan)
        } else {
            "—".to_owned()
        };
        rows.push_str(&format!(
            "<tr><td>{}</td><td>{tier}{change}</td><td>{five}</td></tr>",
            esc(&m.name)
        ));
    }
    if rows.is_empty() {
        return String::new();
    }
    format!(
        r#"<h2>特困供养：生活自理能力与“五有”</h2><table class="list"><thead><tr><th>成员</th><th>生活自理能力（最近一次评估）</th><th>五有</th></tr></thead><tbody>{rows}</tbody></table>"#
    )
}

fn care_plan_cell(p: &CarePlan) -> String {
    let missing = p.missing();
    let mut items = Vec::new();
    if let Some(a) = &p.agreement {
        items.push(format!(
            "照料服务协议：{}，{} 至 {}",
            esc(&a.caregiver),
            a.starts_on,
            a.ends_on
        ));
    }
    if let Some(s) = p
        .service_standard
        .as_deref()
        .filter(|s| !s.trim().is_empty())
    {
        items.push(format!("照料服务标准：{}", esc(s)));
    }
    if let Some(v) = p.visit_plan {
        items.push(format!("探访计划：{}", esc(v.label_zh())));
    }
    if let Some(c) = p
        .emergency_contact
        .as_deref()
        .filter(|s| !s.trim().is_empty())
    {
        items.push(format!("应急预案/紧急联系人：{}", esc(c)));
    }
    if let Some(d) = p.review_on {
        items.push(format!("动态管理复核日期：{d}"));
    }
    items.extend(
        missing
            .iter()
            .map(|i| format!("<span class=\"tag alert\">缺{}</span>", esc(i.label_zh()))),
    );
    items.join("<br>")
}
