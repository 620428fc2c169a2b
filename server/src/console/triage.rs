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

/// A count linking to the list it counts.
fn linked(n: u64, href: &str) -> String {
    format!(r#"<a href="{}">{n}</a>"#, esc(href))
}

/// The dashboard's figures of what follows the visits: monitoring alerts by indicator (open,
/// overdue, disposed), discovery reports by channel and by state, 临时救助 cases by state with
/// the amounts paid; every count a link to its list.
async fn follow_up_section(
    db: &sea_orm::DatabaseConnection,
    r: &crate::access::Actor,
    region_path: Option<&str>,
    now: i64,
) -> ApiResult<String> {
    use crate::entity::{monitoring_alert, temp_aid_case, temp_aid_payment};
    // Alerts.
    let mut aq = monitoring_alert::Entity::find().filter(scope_condition(
        &r.subject,
        monitoring_alert::Column::RegionPath,
    ));
    if let Some(p) = region_path {
        aq = aq.filter(monitoring_alert::Column::RegionPath.starts_with(p));
    }
    let alerts = aq.all(db).await?;
    let mut by_indicator: std::collections::BTreeMap<String, [u64; 3]> = Default::default();
    for a in &alerts {
        let e = by_indicator.entry(a.indicator.clone()).or_default();
        match a.status.as_str() {
            "open" => e[0] += 1,
            _ => e[2] += 1,
        }
        if crate::monitoring::alerts::is_overdue(a, now) {
            e[1] += 1;
        }
    }
    let alert_rows: String = by_indicator
        .iter()
        .map(|(code, [open, overdue, disposed])| {
            let href = |state: &str| format!("/console/monitoring?indicator={code}&state={state}");
            format!(
                "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
                esc(crate::monitoring::label_zh(code)),
                linked(*open, &href("open")),
                linked(*overdue, &href("overdue")),
                linked(*disposed, &href("disposed")),
            )
        })
        .collect();
    // Reports, drafts left out.
    let mut rq = report::Entity::find()
        .filter(scope_condition(&r.subject, report::Column::RegionPath))
        .filter(report::Column::Status.ne("draft"));
    if let Some(p) = region_path {
        rq = rq.filter(report::Column::RegionPath.starts_with(p));
    }
    let reports: Vec<(Option<String>, String)> = rq
        .select_only()
        .column(report::Column::Channel)
        .column(report::Column::Status)
        .into_tuple()
        .all(db)
        .await?;
    let mut by_channel: std::collections::BTreeMap<String, u64> = Default::default();
    let mut by_state: std::collections::BTreeMap<String, u64> = Default::default();
    for (channel, status) in &reports {
        *by_channel
            .entry(
                channel
                    .as_deref()
                    .and_then(doudi_protocol::doc::discovery::Channel::parse)
                    .map_or("未填", |c| c.label_zh())
                    .to_string(),
            )
            .or_default() += 1;
        *by_state.entry(status.clone()).or_default() += 1;
    }
    let channel_rows: String = by_channel
        .iter()
        .map(|(l, n)| {
            format!(
                "<tr><td>{}</td><td>{}</td></tr>",
                esc(l),
                linked(*n, "/console/reports?show=all")
            )
        })
        .collect();
    let state_rows: String = by_state
        .iter()
        .map(|(code, n)| {
            let list = if code == "closed" {
                "/console/reports?show=closed"
            } else {
                "/console/reports"
            };
            let label = doudi_protocol::doc::discovery::DiscoveryStatus::parse(code)
                .map_or(code.as_str(), |s| s.label_zh());
            format!(
                "<tr><td>{}</td><td>{}</td></tr>",
                esc(label),
                linked(*n, list)
            )
        })
        .collect();
    // 临时救助 cases by state, with what was paid on them.
    let mut cq = temp_aid_case::Entity::find().filter(scope_condition(
        &r.subject,
        temp_aid_case::Column::RegionPath,
    ));
    if let Some(p) = region_path {
        cq = cq.filter(temp_aid_case::Column::RegionPath.starts_with(p));
    }
    let cases: Vec<(String, String)> = cq
        .select_only()
        .column(temp_aid_case::Column::Id)
        .column(temp_aid_case::Column::Status)
        .into_tuple()
        .all(db)
        .await?;
    let status_of: std::collections::HashMap<&str, &str> = cases
        .iter()
        .map(|(id, s)| (id.as_str(), s.as_str()))
        .collect();
    let mut by_case_state: std::collections::BTreeMap<String, (u64, i64)> = Default::default();
    for (_, s) in &cases {
        by_case_state.entry(s.clone()).or_default().0 += 1;
    }
    let ids: Vec<String> = cases.iter().map(|(id, _)| id.clone()).collect();
    for chunk in ids.chunks(500) {
        let paid: Vec<(String, i64)> = temp_aid_payment::Entity::find()
            .filter(temp_aid_payment::Column::CaseId.is_in(chunk.to_vec()))
            .select_only()
            .column(temp_aid_payment::Column::CaseId)
            .column(temp_aid_payment::Column::AmountFen)
            .into_tuple()
            .all(db)
            .await?;
        for (case, fen) in paid {
            if let Some(s) = status_of.get(case.as_str()) {
                let e = by_case_state.entry((*s).to_string()).or_default();
                e.1 = e.1.saturating_add(fen);
            }
        }
    }
    let aid_rows: String = by_case_state
        .iter()
        .map(|(code, (n, fen))| {
            let label =
                crate::temporary_aid::Status::parse(code).map_or(code.as_str(), |s| s.label_zh());
            format!(
                "<tr><td>{}</td><td>{}</td><td>{}</td></tr>",
                esc(label),
                linked(*n, &format!("/console/temporary-aid?state={code}")),
                html::yuan(*fen),
            )
        })
        .collect();
    let none = "<tr><td colspan=\"4\">暂无</td></tr>";
    let or_none = |rows: String| {
        if rows.is_empty() {
            none.to_string()
        } else {
            rows
        }
    };
    Ok(format!(
        r#"<h2>监测预警、主动发现与临时救助</h2>
<div class="charts">
<figure class="chart"><figcaption>监测预警（按指标）</figcaption><table class="list"><thead><tr><th>预警指标</th><th>待处置</th><th>已超期</th><th>已处置</th></tr></thead><tbody>{a}</tbody></table></figure>
<figure class="chart"><figcaption>主动发现报告（按渠道）</figcaption><table class="list"><thead><tr><th>发现渠道</th><th>报告数</th></tr></thead><tbody>{c}</tbody></table></figure>
<figure class="chart"><figcaption>主动发现报告（按状态）</figcaption><table class="list"><thead><tr><th>状态</th><th>报告数</th></tr></thead><tbody>{st}</tbody></table></figure>
<figure class="chart"><figcaption>临时救助（按状态）</figcaption><table class="list"><thead><tr><th>状态</th><th>案件数</th><th>已发放（元）</th></tr></thead><tbody>{t}</tbody></table><p><a href="/console/temporary-aid?state=overdue">查看超时的临时救助</a></p></figure>
</div>"#,
        a = or_none(alert_rows),
        c = or_none(channel_rows),
        st = or_none(state_rows),
        t = or_none(aid_rows),
    ))
}

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
    let follow_up = follow_up_section(db, r, region_path.as_deref(), now).await?;
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
<a class="card" href="/console/queue?status=all"><span class="n">{week}</span><span>本周提交走访</span></a>
<a class="card" href="/console/queue?status=all"><span class="n">{month}</span><span>本月提交走访</span></a>
<a class="card" href="/console/queue"><span class="n">{pending}</span><span>待我审核</span></a>
<a class="card{oc}" href="/console/queue"><span class="n">{overdue_text}</span><span>已超期（待审核中）</span></a>
<a class="card{tc}" href="/console/tasks?overdue=1"><span class="n">{overdue_tasks}</span><span>逾期任务（复核、探访、核实）</span></a>
<a class="card{ec}" href="/console/reports"><span class="n">{emergencies}</span><span>急难报告（未办结）</span></a>
</section>
<div class="charts">{c1}{c2}{c3}</div>
{follow_up}
<p class="sub">{note}</p>"#,
        oc = if overdue > 0 { " alert" } else { "" },
        tc = if overdue_tasks > 0 { " alert" } else { "" },
        ec = if emergencies > 0 { " alert" } else { "" },
        c1 = html::column_chart("近 30 天每日提交的走访", &per_day),
        c2 = html::bar_chart("已提交的走访（按状态）", &by_status),
        c3 = html::bar_chart("未办结的主动发现报告（按紧急程度）", &by_urgency),
        note = esc_opt(Some("统计范围：您的辖区；时间按北京时间计算。")),
    ))
}
