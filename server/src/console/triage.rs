//! Discovery-report triage and the regional dashboard.

use axum::extract::{Query, State};
use axum::http::StatusCode;
use axum::response::Response;
use sea_orm::{ColumnTrait, EntityTrait, PaginatorTrait, QueryFilter, QueryOrder, QuerySelect};

use doudi_protocol::doc::discovery::Urgency;
use doudi_protocol::doc::visit::VisitStatus;

use super::html::{self, esc, esc_opt, layout};
use super::{Session, error_page, html_response};
use crate::access::scope_condition;
use crate::auth::now_ms;
use crate::entity::{report, visit};
use crate::error::ApiResult;
use crate::http::SharedState;
use crate::review::queue;
use crate::review::{deadlines, reports};

/// Waiting visits the dashboard looks at for its overdue figure, oldest first.
const OVERDUE_SCAN: u64 = 5_000;

/// The Chinese label of an urgency code, 未分级 without one.
pub(super) fn urgency_label(u: Option<&str>) -> String {
    u.and_then(Urgency::parse)
        .map(|u| u.label_zh().to_string())
        .unwrap_or_else(|| "未分级".into())
}

/// The Chinese label of a report status code.
pub(super) fn report_status_label(s: &str) -> String {
    doudi_protocol::doc::discovery::DiscoveryStatus::parse(s)
        .map(|x| x.label_zh().to_string())
        .unwrap_or_else(|| s.to_string())
}

/// Characters of a report's notes the list shows.
const NOTES_SHOWN: usize = 20;

#[derive(Debug, Default, serde::Deserialize)]
#[serde(default)]
pub struct ReportFilter {
    /// `closed`: the history of closed reports; `all`: open and closed; else open ones.
    show: Option<String>,
}

impl ReportFilter {
    fn shown(&self) -> reports::Shown {
        reports::Shown::parse(self.show.as_deref())
    }
}

pub async fn reports(
    State(state): State<SharedState>,
    session: Session,
    q: Result<Query<ReportFilter>, axum::extract::rejection::QueryRejection>,
) -> Response {
    let f = q.map(|q| q.0).unwrap_or_default();
    match reports_page(&state, &session, f.shown()).await {
        Ok(b) => html_response(
            StatusCode::OK,
            layout("主动发现报告", &session, "reports", &b),
        ),
        Err(e) => error_page(e),
    }
}

/// The first characters of a report's notes, on one line.
fn excerpt(notes: &str) -> String {
    let flat: String = notes.split_whitespace().collect::<Vec<_>>().join(" ");
    if flat.chars().count() > NOTES_SHOWN {
        format!("{}…", flat.chars().take(NOTES_SHOWN).collect::<String>())
    } else {
        flat
    }
}

async fn reports_page(
    state: &SharedState,
    session: &Session,
    shown: reports::Shown,
) -> ApiResult<String> {
    use reports::Shown;
    let db = &state.db;
    let items = reports::list(db, &session.reviewer, shown).await?;
    let filters: String = [
        (Shown::Open, "", "待处理"),
        (Shown::Closed, "?show=closed", "已办结（历史）"),
        (Shown::All, "?show=all", "全部"),
    ]
    .iter()
    .map(|(s, q, label)| {
        if *s == shown {
            format!("<strong aria-current=\"page\">{label}</strong>")
        } else {
            format!("<a href=\"/console/reports{q}\">{label}</a>")
        }
    })
    .collect::<Vec<_>>()
    .join(" · ");
    let filters = format!("<p class=\"filters\">显示：{filters}</p>");
    if items.is_empty() {
        let none = match shown {
            Shown::Open => "暂无待处理的主动发现报告。",
            Shown::Closed => "暂无已办结的主动发现报告。",
            Shown::All => "暂无主动发现报告。",
        };
        return Ok(format!("{filters}<p class=\"empty\">{none}</p>"));
    }
    let gists = reports::gists(
        db,
        &session.reviewer,
        items.iter().map(|i| i.report_id.clone()).collect(),
    )
    .await?;
    let names = crate::regions::names(db, items.iter().map(|it| it.grid.clone()).collect()).await?;
    let mut rows = String::new();
    for it in &items {
        let id = esc(&it.report_id);
        let flag = if it.flagged {
            format!(
                "<span class=\"tag alert\">急难超过 {} 小时未先行救助</span>",
                deadlines::emergency_hours()
            )
        } else {
            String::new()
        };
        let g = gists.get(&it.report_id).cloned().unwrap_or_default();
        rows.push_str(&format!(
            r#"<tr class="{cls}"><td>{emerg}{urg} {flag}</td><td><a href="/console/reports/{id}">{target}</a>{masked}</td><td>{notes}</td><td>{grid}</td><td>{at}</td><td>{status}{tasks}</td></tr>"#,
            cls = if it.flagged { "flagged" } else { "" },
            emerg = if it.emergency_24h { "<strong class=\"emerg\">急难</strong> " } else { "" },
            urg = esc(&urgency_label(it.urgency.as_deref())),
            target = esc(g.target.as_deref().unwrap_or("未填写对象")),
            masked = g
                .masked_id
                .map(|m| format!(" <span class=\"sub\">{}</span>", esc(&m)))
                .unwrap_or_default(),
            notes = esc_opt(g.notes.as_deref().map(excerpt).as_deref()),
            grid = html::region_label(&it.grid, &names),
            at = html::time(it.reported_at_ms),
            status = esc(&report_status_label(&it.status)),
            tasks = if it.open_tasks > 0 { format!("（{} 项核实任务）", it.open_tasks) } else { String::new() },
        ));
    }
    Ok(format!(
        r#"{filters}<table class="list"><thead><tr><th>紧急程度</th><th>报告对象</th><th>情况说明</th><th>网格</th><th>上报时间</th><th>状态</th></tr></thead><tbody>{rows}</tbody></table><p class="sub">点击报告对象查看详情、指派核实或办结。</p>"#
    ))
}

#[derive(Debug, Default, serde::Deserialize)]
#[serde(default)]
pub struct DashFilter {
    region: Option<String>,
}

pub async fn dashboard(
    State(state): State<SharedState>,
    session: Session,
    q: Result<Query<DashFilter>, axum::extract::rejection::QueryRejection>,
) -> Response {
    let f = q.map(|q| q.0).unwrap_or_default();
    match dashboard_page(&state, &session, &f).await {
        Ok(b) => html_response(
            StatusCode::OK,
            layout("数据看板", &session, "dashboard", &b),
        ),
        Err(e) => error_page(e),
    }
}

async fn dashboard_page(
    state: &SharedState,
    session: &Session,
    f: &DashFilter,
) -> ApiResult<String> {
    let db = &state.db;
    let r = &session.reviewer;
    r.require(
        db,
        crate::access::Action::ReadCase,
        crate::access::Target::Scope,
        "dashboard",
    )
    .await?;
    let region_path = match f.region.as_deref().filter(|c| !c.is_empty()) {
        Some(code) => queue::region_path_in_scope(db, &r.subject, code).await?,
        None => None,
    };
    let in_region = |col: visit::Column| {
        let mut c = sea_orm::Condition::all().add(scope_condition(&r.subject, col));
        if let Some(p) = &region_path {
            c = c.add(col.starts_with(p.as_str()));
        }
        c
    };
    let now = now_ms();
    let day = 86_400_000i64;
    let today = deadlines::today();
    let week_start = today.map(|t| {
        use chrono::Datelike;
        t - chrono::Days::new(u64::from(t.weekday().num_days_from_monday()))
    });
    let month_start = today.and_then(|t| {
        use chrono::Datelike;
        t.with_day(1)
    });
    let count_since = |since: i64| {
        visit::Entity::find()
            .filter(in_region(visit::Column::RegionPath))
            .filter(visit::Column::SubmittedAtMs.gte(since))
            .count(db)
    };
    let week = count_since(week_start.map(deadlines::midnight_ms).unwrap_or(now)).await?;
    let month = count_since(month_start.map(deadlines::midnight_ms).unwrap_or(now)).await?;
    // Visits by status, each counted up to the queue's cap (shown with "+" beyond it).
    let pending_status = queue::default_status(r.subject.role);
    let cap = state.settings.queue_count_cap;
    let mut by_status: Vec<(String, u64)> = Vec::new();
    let mut pending = String::new();
    for s in VisitStatus::ALL
        .iter()
        .filter(|s| **s != VisitStatus::Draft)
        .map(|s| s.as_str())
    {
        let in_status = visit::Entity::find()
            .filter(in_region(visit::Column::RegionPath))
            .filter(visit::Column::Status.eq(s));
        let (n, more) = queue::capped_count(db, in_status, cap).await?;
        if s == pending_status {
            pending = format!("{n}{}", if more { "+" } else { "" });
        }
        by_status.push((html::status_label(s), n));
    }
    // Overdue among the oldest waiting visits, which fall due first; "+" when there were more
    // waiting than were looked at.
    let waiting = visit::Entity::find()
        .filter(in_region(visit::Column::RegionPath))
        .filter(visit::Column::Status.is_in(["submitted", "approved"]))
        .order_by_asc(visit::Column::SubmittedAtMs)
        .limit(OVERDUE_SCAN + 1)
        .all(db)
        .await?;
    let more_waiting = waiting.len() as u64 > OVERDUE_SCAN;
    let waiting: Vec<_> = waiting.into_iter().take(OVERDUE_SCAN as usize).collect();
    let overdue = queue::items(db, waiting)
        .await?
        .iter()
        .filter(|i| i.overdue)
        .count();
    let overdue_text = format!("{overdue}{}", if more_waiting { "+" } else { "" });
    let overdue_tasks = super::tasks::overdue_count(db, r, region_path.as_deref()).await?;
    // Visits submitted per day over the last 30 days.
    let since = now - 30 * day;
    let submitted: Vec<Option<i64>> = visit::Entity::find()
        .filter(in_region(visit::Column::RegionPath))
        .filter(visit::Column::SubmittedAtMs.gte(since))
        .select_only()
        .column(visit::Column::SubmittedAtMs)
        .into_tuple()
        .all(db)
        .await?;
    let mut per_day: Vec<(String, u64)> = (0..30)
        .rev()
        .map(|i| {
            let d = deadlines::local_date(now - i * day);
            (
                d.map(|d| d.format("%m-%d").to_string()).unwrap_or_default(),
                0,
            )
        })
        .collect();
    for t in submitted.into_iter().flatten() {
        let idx = 29 - ((now - t) / day).clamp(0, 29);
        if let Some(slot) = per_day.get_mut(idx as usize) {
            slot.1 += 1;
        }
    }
    // Reports by urgency.
    let mut rq = report::Entity::find()
        .filter(scope_condition(&r.subject, report::Column::RegionPath))
        .filter(report::Column::Status.is_not_in(["draft", "closed"]));
    if let Some(p) = &region_path {
        rq = rq.filter(report::Column::RegionPath.starts_with(p.as_str()));
    }
    let urg: Vec<(Option<String>, bool)> = rq
        .select_only()
        .column(report::Column::Urgency)
        .column(report::Column::Emergency24h)
        .into_tuple()
        .all(db)
        .await?;
    let mut by_urgency: Vec<(String, u64)> = Urgency::ALL
        .iter()
        .map(|u| (u.label_zh().to_string(), 0))
        .collect();
    by_urgency.push(("未分级".into(), 0));
    let mut emergencies = 0;
    for (u, e) in &urg {
        let idx = u
            .as_deref()
            .and_then(Urgency::parse)
            .and_then(|u| Urgency::ALL.iter().position(|x| *x == u))
            .unwrap_or(Urgency::ALL.len());
        by_urgency[idx].1 += 1;
        if *e {
            emergencies += 1;
        }
    }
    let regions: Vec<(String, String)> = crate::entity::region::Entity::find()
        .filter(scope_condition(
            &r.subject,
            crate::entity::region::Column::Path,
        ))
        .filter(crate::entity::region::Column::Level.is_in(["county", "township", "village"]))
        .limit(200)
        .all(db)
        .await?
        .into_iter()
        .map(|g| (g.code, g.name))
        .collect();
    let opts: String = std::iter::once((String::new(), "全部辖区".to_string()))
        .chain(regions)
        .map(|(c, n)| {
            let sel = if f.region.as_deref() == Some(c.as_str()) {
                " selected"
            } else {
                ""
            };
            format!("<option value=\"{}\"{sel}>{}</option>", esc(&c), esc(&n))
        })
        .collect();
    Ok(format!(
        r#"<form method="get" action="/console/dashboard" class="filters"><label>辖区 <select name="region">{opts}</select></label><button type="submit">查看</button></form>
<section class="cards">
<div class="card"><span class="n">{week}</span><span>本周提交走访</span></div>
<div class="card"><span class="n">{month}</span><span>本月提交走访</span></div>
<div class="card"><span class="n">{pending}</span><span>待我审核</span></div>
<div class="card{oc}"><span class="n">{overdue_text}</span><span>已超期</span></div>
<a class="card{tc}" href="/console/tasks?overdue=1"><span class="n">{overdue_tasks}</span><span>逾期任务（复核、探访、核实）</span></a>
<div class="card{ec}"><span class="n">{emergencies}</span><span>急难报告（未办结）</span></div>
</section>
<div class="charts">{c1}{c2}{c3}</div>
<p class="sub">{note}</p>"#,
        oc = if overdue > 0 { " alert" } else { "" },
        tc = if overdue_tasks > 0 { " alert" } else { "" },
        ec = if emergencies > 0 { " alert" } else { "" },
        c1 = html::column_chart("近 30 天每日提交的走访", &per_day),
        c2 = html::bar_chart("审核中的走访（按状态）", &by_status),
        c3 = html::bar_chart("未办结的主动发现报告（按紧急程度）", &by_urgency),
        note = esc_opt(Some("统计范围：您的辖区；时间按北京时间计算。")),
    ))
}
