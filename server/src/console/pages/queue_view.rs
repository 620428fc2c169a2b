//! The review queue page: the visits awaiting the reviewer, filtered and paged.

use super::*;

/// Regions inside the reviewer's scope, for the filter (townships, villages, grids; at most 300).
pub(in crate::console) async fn scope_regions(
    db: &DatabaseConnection,
    r: &Actor,
) -> ApiResult<Vec<region::Model>> {
    let rows = region::Entity::find()
        .filter(crate::access::scope_condition(
            &r.subject,
            region::Column::Path,
        ))
        .order_by_asc(region::Column::Path)
        .limit(300)
        .all(db)
        .await?;
    Ok(rows)
}

pub(super) fn query_string(f: &QueueFilter, page: u64) -> String {
    let mut parts = vec![format!("page={page}")];
    for (k, v) in [
        ("region", f.region.clone()),
        ("purpose", f.purpose.clone()),
        ("status", f.status.clone()),
        ("min_age_days", f.min_age_days.map(|d| d.to_string())),
    ] {
        if let Some(v) = v.filter(|v| !v.is_empty()) {
            parts.push(format!("{k}={}", url_encode(&v)));
        }
    }
    parts.join("&amp;")
}

pub async fn queue(
    State(state): State<SharedState>,
    session: Session,
    filter: Result<Query<QueueFilter>, axum::extract::rejection::QueryRejection>,
) -> Response {
    let filter = filter.map(|q| q.0).unwrap_or_default();
    let r = &session.reviewer;
    let page = match queue::queue(&state.db, r, &filter, state.settings.queue_count_cap).await {
        Ok(p) => p,
        Err(e) => return error_page(e),
    };
    // Where the township confirms itself, what it approved waits in 审核通过, not in its default
    // view: say so there.
    let awaiting = if page.status == "submitted" {
        queue::delegated_awaiting(&state.db, r).await.unwrap_or(0)
    } else {
        0
    };
    let awaiting = if awaiting > 0 {
        format!(
            r#"<p class="notice" role="status">另有 {awaiting} 个已由本级初审通过、经授权由本级审核确认的申请待确认。<a href="/console/queue?status=approved">查看待确认的申请</a></p>"#
        )
    } else {
        String::new()
    };
    let regions = scope_regions(&state.db, r).await.unwrap_or_default();
    let mut region_opts = vec![(String::new(), "全部辖区".to_string())];
    region_opts.extend(regions.iter().map(|g| {
        let depth = g.path.matches('/').count().saturating_sub(2);
        (
            g.code.clone(),
            format!("{}{}", "　".repeat(depth.min(6)), g.name),
        )
    }));
    let mut purpose_opts = vec![(String::new(), "全部类型".to_string())];
    purpose_opts.extend(
        doudi_protocol::doc::visit::Purpose::ALL
            .iter()
            .map(|p| (p.as_str().to_string(), p.label_zh().to_string())),
    );
    let mut status_opts: Vec<(String, String)> = VisitStatus::ALL
        .iter()
        .filter(|s| **s != VisitStatus::Draft)
        .map(|s| (s.as_str().to_string(), s.label_zh().to_string()))
        .collect();
    status_opts.push(("all".into(), "全部状态".into()));
    let age_opts: Vec<(String, String)> = [
        ("", "不限"),
        ("3", "≥ 3 天"),
        ("7", "≥ 7 天"),
        ("15", "≥ 15 天"),
        ("30", "≥ 30 天"),
    ]
    .iter()
    .map(|(v, l)| (v.to_string(), l.to_string()))
    .collect();
    let age_cur = filter.min_age_days.map(|d| d.to_string());
    let form = format!(
        r#"<form method="get" action="/console/queue" class="filters">{}{}{}{}<button type="submit">筛选</button></form>"#,
        select("region", "辖区", &region_opts, filter.region.as_deref()),
        select(
            "purpose",
            "走访类型",
            &purpose_opts,
            filter.purpose.as_deref()
        ),
        select("status", "状态", &status_opts, Some(page.status.as_str())),
        select(
            "min_age_days",
            "提交时长",
            &age_opts,
            Some(age_cur.as_deref().unwrap_or(""))
        ),
    );
    let names = crate::regions::names(
        &state.db,
        page.items.iter().map(|it| it.grid.clone()).collect(),
    )
    .await
    .unwrap_or_default();
    let rows: String = page
        .items
        .iter()
        .map(|it| {
            let flags = format!(
                "{}{}",
                if it.tekun { "<span class=\"tag\">特困</span>" } else { "" },
                if it.spot_check {
                    "<span class=\"tag warn\" title=\"县级抽查\">抽查</span>"
                } else {
                    ""
                }
            );
            let due_class = if it.overdue || it.case_overdue {
                " class=\"overdue\""
            } else {
                ""
            };
            let flags = if it.county_visit_needed {
                format!("{flags}<span class=\"tag warn\" title=\"须县级入户核查\">县级核查</span>")
            } else {
                flags
            };
            format!(
                r#"<tr><td><a href="/console/visits/{id}">{head}</a><div class="sub">{addr}</div></td><td>{purpose}</td><td>{grid}</td><td>{submitted}</td><td{due_class}>{due}{over}</td><td><span class="status s-{st}">{status}</span> {flags}</td></tr>"#,
                id = esc(&it.visit_id),
                head = esc_opt(it.head_name.as_deref()),
                addr = esc_opt(it.household_address.as_deref()),
                purpose = esc(&html::purpose_label(&it.purpose)),
                grid = html::region_label(&it.grid, &names),
                submitted = html::time(it.submitted_at_ms),
                due = if it.calendar_unknown {
                    "日历未知".to_string()
                } else {
                    html::date(it.due)
                },
                over = match (it.overdue, it.case_due) {
                    (true, _) => "（已超期）".to_string(),
                    // The whole case's limit, under the step's, when the case is past it or
                    // it comes first.
                    (false, Some(c)) if it.case_overdue || it.due.is_none_or(|d| c < d) => format!(
                        "<div class=\"sub{}\">总时限 {c}{}</div>",
                        if it.case_overdue { " overdue" } else { "" },
                        if it.case_overdue { "（已超期）" } else { "" }
                    ),
                    _ => String::new(),
                },
                st = esc(&it.status),
                status = esc(&html::status_label(&it.status)),
            )
        })
        .collect();
    let unknown = if page.items.iter().any(|it| it.calendar_unknown) {
        "<p class=\"notice\" role=\"status\">部分办理期限落在节假日安排尚未导入的年份（日历未知），未作计算；请按国务院办公厅公布的节假日安排人工核对。</p>"
    } else {
        ""
    };
    let table = if page.items.is_empty() {
        "<p class=\"empty\">没有符合条件的走访记录。</p>".to_string()
    } else {
        format!(
            r#"<table class="list"><thead><tr><th>户主 / 地址</th><th>类型</th><th>网格</th><th>提交时间</th><th>办理期限</th><th>状态</th></tr></thead><tbody>{rows}</tbody></table>"#
        )
    };
    let mut pager = format!(
        "<nav class=\"pager\">{} {} 条 · 第 {}/{} 页 ",
        if page.total_capped { "超过" } else { "共" },
        page.total,
        page.page,
        page.pages
    );
    if page.total_capped {
        pager.push_str("（请按地区、类型或时长筛选以查看其余记录） ");
    }
    if page.page > 1 {
        pager.push_str(&format!(
            "<a href=\"/console/queue?{}\">上一页</a> ",
            query_string(&filter, page.page - 1)
        ));
    }
    if page.page < page.pages {
        pager.push_str(&format!(
            "<a href=\"/console/queue?{}\">下一页</a>",
            query_string(&filter, page.page + 1)
        ));
    }
    pager.push_str("</nav>");
    ok_page(
        "审核队列",
        &session,
        "queue",
        &format!("{form}{awaiting}{unknown}{table}{pager}"),
    )
}
