//! Queue, visit detail (with decisions, unmasking and conflict settlement) and household pages.

use std::collections::HashMap;

use automerge::Automerge;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use sea_orm::{ColumnTrait, DatabaseConnection, EntityTrait, QueryFilter, QueryOrder, QuerySelect};

use doudi_protocol::doc::visit::VisitStatus;
use doudi_protocol::doc::{self, Household, Visit};
use doudi_protocol::id_number::IdNumber;

use super::html::{self, csrf_field, esc, esc_opt, layout};
use super::means;
use super::{FormResult, Session, checked_form, error_page, html_response, secure};
use crate::access::Actor;
use crate::access::{Action, Target, decide};
use crate::documents;
use crate::entity::{account, doc_change, document, region, review_decision, visit};
use crate::error::{ApiError, ApiResult};
use crate::http::SharedState;
use crate::review;
use crate::review::queue::{self, QueueFilter};
use crate::search;
use doudi_protocol::doc::visit::ReviewDecision;

fn ok_page(title: &str, session: &Session, active: &str, body: &str) -> Response {
    html_response(StatusCode::OK, layout(title, session, active, body))
}

fn select(name: &str, label: &str, options: &[(String, String)], current: Option<&str>) -> String {
    let opts: String = options
        .iter()
        .map(|(v, l)| {
            let sel = if Some(v.as_str()) == current {
                " selected"
            } else {
                ""
            };
            format!("<option value=\"{}\"{sel}>{}</option>", esc(v), esc(l))
        })
        .collect();
    format!("<label>{label} <select name=\"{name}\">{opts}</select></label>")
}

/// Regions inside the reviewer's scope, for the filter (townships, villages, grids; at most 300).
async fn scope_regions(db: &DatabaseConnection, r: &Actor) -> ApiResult<Vec<region::Model>> {
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

fn query_string(f: &QueueFilter, page: u64) -> String {
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
    let page = match queue::queue(
        &state.db,
        r,
        &filter,
        state.settings.spot_check_percent,
        state.settings.queue_count_cap,
    )
    .await
    {
        Ok(p) => p,
        Err(e) => return error_page(e),
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
    let rows: String = page
        .items
        .iter()
        .map(|it| {
            let flags = format!(
                "{}{}",
                if it.tekun { "<span class=\"tag\">特困</span>" } else { "" },
                if it.spot_check {
                    "<span class=\"tag warn\" title=\"spot check\">抽查</span>"
                } else {
                    ""
                }
            );
            let due_class = if it.overdue { " class=\"overdue\"" } else { "" };
            format!(
                r#"<tr><td><a href="/console/visits/{id}">{head}</a><div class="sub">{addr}</div></td><td>{purpose}</td><td>{grid}</td><td>{submitted}</td><td{due_class}>{due}{over}</td><td><span class="status s-{st}">{status}</span> {flags}</td></tr>"#,
                id = esc(&it.visit_id),
                head = esc_opt(it.head_name.as_deref()),
                addr = esc_opt(it.household_address.as_deref()),
                purpose = esc(&html::purpose_label(&it.purpose)),
                grid = esc(&it.grid),
                submitted = html::time(it.submitted_at_ms),
                due = html::date(it.due),
                over = if it.overdue { "（已超期）" } else { "" },
                st = esc(&it.status),
                status = esc(&html::status_label(&it.status)),
            )
        })
        .collect();
    let table = if page.items.is_empty() {
        "<p class=\"empty\">没有符合条件的走访记录。</p>".to_string()
    } else {
        format!(
            r#"<table class="list"><thead><tr><th>户主 / 地址</th><th>类型</th><th>网格</th><th>提交时间</th><th title="due date">办理期限</th><th>状态</th></tr></thead><tbody>{rows}</tbody></table>"#
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
        &format!("{form}{table}{pager}"),
    )
}

fn url_encode(v: &str) -> String {
    v.bytes()
        .map(|b| {
            if b.is_ascii_alphanumeric() || b == b'-' || b == b'_' {
                (b as char).to_string()
            } else {
                format!("%{b:02X}")
            }
        })
        .collect()
}

/// Household search: `/console/households?q=`.
pub async fn households(
    State(state): State<SharedState>,
    session: Session,
    params: Result<Query<search::SearchParams>, axum::extract::rejection::QueryRejection>,
) -> Response {
    let params = params.map(|q| q.0).unwrap_or_default();
    let q = params.q.as_deref().unwrap_or("").trim().to_string();
    let form = format!(
        r#"<form method="get" action="/console/households" class="filters"><label>户主、成员姓名，地址，或身份证号后四位 <input type="search" name="q" value="{}" maxlength="{}" title="head or member name prefix, address fragment, or last 4 characters of the ID number"></label><button type="submit">查询</button></form>"#,
        esc(&q),
        search::MAX_QUERY_CHARS,
    );
    if q.is_empty() {
        return ok_page("家庭查询", &session, "households", &form);
    }
    let page = match search::search(&state.db, &state.identity, &session.reviewer, &params).await {
        Ok(p) => p,
        Err(e) if e.code == crate::error::Code::InvalidRequest => {
            let body = format!(
                "{form}<p class=\"error\" title=\"{}\">{}</p>",
                esc(e.message_en.as_deref().unwrap_or("")),
                esc(e.message_zh.as_deref().unwrap_or(""))
            );
            return html_response(
                StatusCode::BAD_REQUEST,
                layout("家庭查询", &session, "households", &body),
            );
        }
        Err(e) => return error_page(e),
    };
    let rows: String = page
        .items
        .iter()
        .map(|h| {
            format!(
                r#"<tr><td><a href="/console/households/{id}">{head}</a></td><td>{addr}</td><td>{grid}</td><td>{n}</td><td>{tags}</td></tr>"#,
                id = esc(&h.household_id),
                head = esc_opt(h.head_name.as_deref()),
                addr = esc(&h.address),
                grid = esc(&h.grid),
                n = h.member_count,
                tags = if h.tekun { "<span class=\"tag\">特困</span>" } else { "" },
            )
        })
        .collect();
    let table = if page.items.is_empty() {
        "<p class=\"empty\">没有找到符合条件的家庭。</p>".to_string()
    } else {
        format!(
            r#"<table class="list"><thead><tr><th>户主</th><th>地址</th><th>网格</th><th>人数</th><th></th></tr></thead><tbody>{rows}</tbody></table>"#
        )
    };
    let mut pager = format!(
        "<nav class=\"pager\">共 {} 户 · 第 {}/{} 页 ",
        page.total, page.page, page.pages
    );
    let enc = url_encode(&page.q);
    if page.page > 1 {
        pager.push_str(&format!(
            "<a href=\"/console/households?q={enc}&amp;page={}\">上一页</a> ",
            page.page - 1
        ));
    }
    if page.page < page.pages {
        pager.push_str(&format!(
            "<a href=\"/console/households?q={enc}&amp;page={}\">下一页</a>",
            page.page + 1
        ));
    }
    pager.push_str("</nav>");
    if page.truncated {
        pager.push_str(&format!(
            "<p class=\"note\" title=\"more than {n} matches; refine the query\">匹配结果超过 {n} 条，仅显示前 {n} 条，请输入更完整的姓名或地址。</p>",
            n = search::MAX_MATCHES
        ));
    }
    ok_page(
        "家庭查询",
        &session,
        "households",
        &format!("{form}{table}{pager}"),
    )
}

/// A document the reviewer may read, loaded.
async fn load_doc(
    db: &DatabaseConnection,
    r: &Actor,
    id: &str,
) -> ApiResult<(document::Model, Automerge)> {
    let Some(row) = document::Entity::find_by_id(id.to_string()).one(db).await? else {
        return Err(ApiError::new(crate::error::Code::NotFound));
    };
    r.require_visible(db, Action::ReadCase, &row.region_path, id)
        .await?;
    let am = Automerge::load(&row.snapshot).map_err(ApiError::internal)?;
    Ok((row, am))
}

fn members_table(
    h: &Household,
    visit_id: Option<&str>,
    session: &Session,
    can_unmask: bool,
    shown: Option<(&str, &IdNumber)>,
) -> String {
    let rows: String = h
        .members
        .iter()
        .map(|(id, m)| {
            let mid = id.to_string();
            // The document holds the number masked and sealed; the clear number comes from the
            // server's store, only after an audited unmasking.
            let number = match &m.identity {
                Some(n) if shown.is_some_and(|(who, clear)| who == mid && n.masked.as_str() == clear.masked()) => {
                    let clear = shown.map_or("", |(_, c)| c.expose());
                    format!("<strong class=\"unmasked\">{}</strong>", esc(clear))
                }
                Some(n) => {
                    let btn = match (can_unmask, visit_id) {
                        (true, Some(v)) => format!(
                            r#" <form method="post" action="/console/visits/{v}/unmask" class="inline">{csrf}<input type="hidden" name="member" value="{mid}"><button type="submit" class="link" title="show the full number (audited)">显示</button></form>"#,
                            v = esc(v),
                            csrf = csrf_field(session),
                            mid = esc(&mid),
                        ),
                        _ => String::new(),
                    };
                    format!("{}{btn}", esc(n.masked.as_str()))
                }
                None => "—".into(),
            };
            format!(
                "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
                esc(&m.name),
                esc(m.relation.label_zh()),
                number,
                if m.co_resident { "是" } else { "否" },
                esc_opt(m.health.map(|x| x.label_zh())),
                if m.removed_at.is_some() { "已减员" } else { "" },
            )
        })
        .collect();
    format!(
        r#"<table class="list"><thead><tr><th>姓名</th><th>与户主关系</th><th title="ID number (masked)">身份证号</th><th>共同生活</th><th>健康</th><th></th></tr></thead><tbody>{rows}</tbody></table>"#
    )
}

/// Thumbnail linking to the full blob; the fallback text shows when the blob is not uploaded yet.
fn blob_thumb(hash: &str, caption: &str) -> String {
    let h = esc(hash);
    format!(
        r#"<figure class="thumb"><a href="/console/blobs/{h}"><object data="/console/blobs/{h}?variant=thumb" type="image/jpeg" width="160" height="120"><span class="missing">照片尚未上传</span></object></a><figcaption>{}</figcaption></figure>"#,
        esc(caption)
    )
}

/// Field names a change touched (map keys of its operations).
fn change_fields(bytes: &[u8]) -> String {
    let Ok(c) = automerge::Change::try_from(bytes) else {
        return "—".into();
    };
    let Ok(v) = serde_json::to_value(c.decode()) else {
        return "—".into();
    };
    let mut keys: Vec<String> = v["ops"]
        .as_array()
        .map(|ops| {
            ops.iter()
                .filter_map(|o| o["key"].as_str().map(str::to_string))
                // Entry ids and blob hashes are keys too; the field names are what a reader wants.
                .filter(|k| !(k.len() >= 24 && k.chars().all(|c| c.is_ascii_alphanumeric())))
                .collect()
        })
        .unwrap_or_default();
    keys.sort();
    keys.dedup();
    let n = keys.len();
    let mut s = keys.into_iter().take(12).collect::<Vec<_>>().join("、");
    if n > 12 {
        s.push_str(&format!(" 等 {n} 项"));
    }
    esc(&s)
}

/// The changes of a document a history shows: those made by `accounts` with a time (the one the
/// phone gives its change, unix ms) between `from_ms` and `to_ms`: a visit's investigators
/// during the visit, whenever the phone synced.
struct Window {
    accounts: Vec<String>,
    from_ms: i64,
    to_ms: i64,
}

async fn history(
    db: &DatabaseConnection,
    doc_id: &str,
    window: Option<Window>,
) -> ApiResult<String> {
    let mut q = doc_change::Entity::find().filter(doc_change::Column::DocId.eq(doc_id));
    if let Some(w) = &window {
        q = q.filter(doc_change::Column::AccountId.is_in(w.accounts.clone()));
    }
    let changes = q
        .order_by_asc(doc_change::Column::Id)
        .limit(200)
        .all(db)
        .await?;
    let acc_ids: Vec<String> = changes.iter().map(|c| c.account_id.clone()).collect();
    let dev_ids: Vec<String> = changes.iter().map(|c| c.device_id.clone()).collect();
    let accounts: HashMap<String, String> = account::Entity::find()
        .filter(account::Column::Id.is_in(acc_ids))
        .all(db)
        .await?
        .into_iter()
        .map(|a| (a.id, a.display_name))
        .collect();
    let devices: HashMap<String, (String, String)> = crate::entity::device::Entity::find()
        .filter(crate::entity::device::Column::Id.is_in(dev_ids))
        .all(db)
        .await?
        .into_iter()
        .map(|d| (d.id, (d.name, d.platform)))
        .collect();
    // Changes compacted out of the log (docs/ARCHITECTURE.md) are read from the snapshot.
    let compacted = if changes.iter().any(|c| c.bytes.is_empty()) {
        document::Entity::find_by_id(doc_id.to_string())
            .one(db)
            .await?
            .and_then(|d| automerge::Automerge::load(&d.snapshot).ok())
    } else {
        None
    };
    let bytes_of = |c: &doc_change::Model| -> Vec<u8> {
        match (&compacted, c.bytes.is_empty()) {
            (Some(doc), true) => c
                .hash
                .parse::<automerge::ChangeHash>()
                .ok()
                .and_then(|h| automerge::ReadDoc::get_change_by_hash(doc, &h))
                .map(|ch| ch.raw_bytes().to_vec())
                .unwrap_or_default(),
            _ => c.bytes.clone(),
        }
    };
    let changes: Vec<&doc_change::Model> = match &window {
        Some(w) => changes
            .iter()
            .filter(|c| {
                automerge::Change::try_from(&bytes_of(c)[..])
                    .is_ok_and(|ch| (w.from_ms..=w.to_ms).contains(&ch.timestamp()))
            })
            .collect(),
        None => changes.iter().collect(),
    };
    if changes.is_empty() && window.is_some() {
        return Ok("<p class=\"sub\">本次走访期间调查人员未修改家庭档案。</p>".into());
    }
    let server_actor = hex::encode(documents::SERVER_ACTOR);
    let rows: String = changes
        .iter()
        .map(|c| {
            let (dname, platform) = devices
                .get(&c.device_id)
                .cloned()
                .unwrap_or_else(|| ("—".into(), String::new()));
            let by_server = if c.actor == server_actor {
                "（审核决定，由服务器写入）"
            } else {
                ""
            };
            format!(
                "<tr><td>{}</td><td>{}</td><td>{} <span class=\"sub\">{}</span>{}</td><td>{}</td></tr>",
                html::time(Some(c.at_ms)),
                esc_opt(accounts.get(&c.account_id).map(String::as_str)),
                esc(&dname),
                esc(&platform),
                by_server,
                change_fields(&bytes_of(c)),
            )
        })
        .collect();
    Ok(format!(
        r#"<table class="list"><thead><tr><th>时间</th><th>修改人</th><th>设备</th><th>修改的字段</th></tr></thead><tbody>{rows}</tbody></table>"#
    ))
}

async fn conflicts_section(
    db: &DatabaseConnection,
    session: &Session,
    doc: &document::Model,
    label: &str,
    return_to: &str,
) -> ApiResult<String> {
    let conflicts = crate::http::conflicts::of_document(db, doc).await?;
    if conflicts.is_empty() {
        return Ok(String::new());
    }
    let can = decide(
        &session.reviewer.subject,
        Action::ReviewVisit,
        Target::Scope,
    )
    .is_allowed();
    let mut s = format!("<h3>{}：同一字段的并发修改</h3>", esc(label));
    for c in conflicts {
        let options: String = c
            .values
            .iter()
            .enumerate()
            .map(|(i, v)| {
                format!(
                    r#"<label class="choice"><input type="radio" name="choice" value="{i}" required> {}{} <span class="sub">{} · {}{}</span></label>"#,
                    esc(&v.value),
                    if v.visible {
                        " <span class=\"sub\">（当前显示）</span>"
                    } else {
                        ""
                    },
                    esc_opt(v.account_name.as_deref()),
                    html::time(v.at_ms),
                    if v.by_reviewer { "（审核人员已选定）" } else { "" },
                )
            })
            .collect();
        let button = if can {
            "<button type=\"submit\">采用所选值</button>"
        } else {
            ""
        };
        s.push_str(&format!(
            r#"<form method="post" action="/console/docs/{doc}/resolve" class="conflict">{csrf}<input type="hidden" name="path" value="{path}"><input type="hidden" name="return_to" value="{rt}"><p><code>{path}</code></p>{options}{button}</form>"#,
            doc = esc(&doc.id),
            csrf = csrf_field(session),
            path = esc(&c.path),
            rt = esc(return_to),
        ));
    }
    Ok(s)
}

fn decision_forms(session: &Session, visit_id: &str, status: VisitStatus) -> String {
    let mut s = String::new();
    for &kind in ReviewDecision::ALL {
        let Some(t) = kind.step(status) else {
            continue;
        };
        let action = review::level_action(t.level);
        if !decide(&session.reviewer.subject, action, Target::Scope).is_allowed() {
            continue;
        }
        let need = kind.needs_comment();
        let label = if need {
            "意见 / 理由（必填）"
        } else {
            "意见（可选）"
        };
        s.push_str(&format!(
            r#"<form method="post" action="/console/visits/{id}/decision" class="decision d-{k}">{csrf}<input type="hidden" name="decision" value="{k}"><label>{label}<textarea name="comment" rows="2" maxlength="2000"{req}></textarea></label><button type="submit" title="{k}">{zh}</button></form>"#,
            id = esc(visit_id),
            csrf = csrf_field(session),
            k = kind.as_str(),
            req = if need { " required" } else { "" },
            zh = kind.label_zh(),
        ));
    }
    if s.is_empty() {
        "<p class=\"sub\">当前状态下无需您处理。</p>".into()
    } else {
        format!("<div class=\"decisions\">{s}</div>")
    }
}

async fn visit_page(
    state: &SharedState,
    session: &Session,
    id: &str,
    unmasked: Option<(&str, &IdNumber)>,
) -> ApiResult<String> {
    let db = &state.db;
    let r = &session.reviewer;
    let row = review::visible_visit(db, r, id).await?;
    let (visit_row, am) = load_doc(db, r, id).await?;
    let (_, v) = doc::read::<Visit, _>(&am).map_err(ApiError::internal)?;
    let items = queue::items(db, vec![row.clone()], state.settings.spot_check_percent).await?;
    let item = items.first();
    let hh_id = v.household.to_string();
    let (household_row, household) = match load_doc(db, r, &hh_id).await {
        Ok((row, hdoc)) => (
            Some(row),
            doc::read::<Household, _>(&hdoc).ok().map(|(_, h)| h),
        ),
        Err(_) => (None, None),
    };
    let can_unmask =
        decide(&r.subject, Action::Unmask, Target::Region(&row.region_path)).is_allowed();
    let mut b = String::new();
    b.push_str(&format!(
        r#"<section class="summary"><dl>
<dt>状态</dt><dd><span class="status s-{st}">{status}</span>{flags}</dd>
<dt>走访类型</dt><dd>{purpose}</dd><dt>方式</dt><dd>{mode}{emerg}</dd>
<dt>开始 / 结束</dt><dd>{start} — {end}</dd><dt>提交时间</dt><dd>{sub}</dd>
<dt title="due date">办理期限</dt><dd{oc}>{due}</dd><dt>网格</dt><dd>{grid}</dd>
</dl></section>"#,
        st = esc(v.status.as_str()),
        status = esc(v.status.label_zh()),
        flags = match item {
            Some(i) if i.spot_check => " <span class=\"tag warn\">县级抽查</span>",
            Some(i) if i.tekun => " <span class=\"tag\">特困</span>",
            _ => "",
        },
        purpose = esc(v.purpose.label_zh()),
        mode = esc(v.mode.label_zh()),
        emerg = v
            .emergency_reason
            .as_deref()
            .map(|e| format!("（{}）", esc(e)))
            .unwrap_or_default(),
        start = html::time(v.started_at.map(|t| t.0)),
        end = html::time(v.ended_at.map(|t| t.0)),
        sub = html::time(v.submitted_at.map(|t| t.0)),
        oc = if item.is_some_and(|i| i.overdue) {
            " class=\"overdue\""
        } else {
            ""
        },
        due = html::date(item.and_then(|i| i.due)),
        grid = esc(&row.scope),
    ));
    b.push_str("<h2>审核</h2>");
    b.push_str(&decision_forms(session, id, v.status));
    if !v.reviews.is_empty() {
        let rows: String = v
            .reviews
            .iter()
            .map(|rv| {
                format!(
                    "<li>{} · {} · <strong>{}</strong>{}</li>",
                    html::time(Some(rv.at.0)),
                    esc(&rv.reviewer_name),
                    esc(rv.decision.label_zh()),
                    rv.comment
                        .as_deref()
                        .map(|c| format!("：{}", esc(c)))
                        .unwrap_or_default()
                )
            })
            .collect();
        b.push_str(&format!(
            "<h3>审核意见</h3><ol class=\"reviews\">{rows}</ol>"
        ));
    }
    b.push_str("<h2>家庭</h2>");
    match &household {
        Some(h) => {
            b.push_str(&format!(
                r#"<p><a href="/console/households/{hid}">{addr}</a> · {hukou} · {progs}</p>"#,
                hid = esc(&hh_id),
                addr = esc(&h.address),
                hukou = esc_opt(h.hukou_type.map(|t| t.label_zh())),
                progs = esc(&h
                    .programmes
                    .iter()
                    .map(|p| p.label_zh())
                    .collect::<Vec<_>>()
                    .join("、")),
            ));
            b.push_str("<h3>家庭成员</h3>");
            b.push_str(&members_table(h, Some(id), session, can_unmask, unmasked));
            if let Some(row) = &household_row {
                let (a, policy) = means::assess(state, &hh_id, &row.region_path, h).await?;
                b.push_str("<h3>收入与测算</h3>");
                b.push_str(&means::section(h, &a, &policy));
            }
            // What the visit found is written into the household record by its investigators:
            // their changes to it from the start of the visit to its submission.
            let window = Window {
                accounts: v.investigators.keys().map(|a| a.to_string()).collect(),
                from_ms: v.started_at.map_or(0, |t| t.0),
                to_ms: v.submitted_at.map_or(i64::MAX, |t| t.0),
            };
            b.push_str(
                "<h3 title=\"changes the visit's investigators made to the household record during the visit\">本次走访对家庭档案的修改</h3>",
            );
            b.push_str(&history(db, &hh_id, Some(window)).await?);
        }
        None => b.push_str("<p class=\"sub\">家庭档案尚未同步。</p>"),
    }
    b.push_str("<h2>入户核查</h2><dl class=\"grid2\">");
    for (k, val) in [
        ("吃", &v.living.food),
        ("穿", &v.living.clothing),
        ("住", &v.living.housing),
        ("用", &v.living.daily_goods),
        ("健康情况", &v.health_notes),
        ("残疾情况", &v.disability_notes),
        ("劳动能力", &v.work_capacity_notes),
    ] {
        b.push_str(&format!("<dt>{k}</dt><dd>{}</dd>", esc_opt(val.as_deref())));
    }
    b.push_str("</dl>");
    if !v.comparisons.is_empty() {
        let rows: String = v
            .comparisons
            .values()
            .map(|c| {
                format!(
                    "<tr><td>{}</td><td>{}</td><td class=\"num\">{}</td><td class=\"num\">{}</td><td>{}</td></tr>",
                    esc(c.subject.label_zh()),
                    esc(&c.description),
                    c.declared_fen.map(html::yuan).unwrap_or_else(|| "—".into()),
                    c.observed_fen.map(html::yuan).unwrap_or_else(|| "—".into()),
                    esc_opt(c.note.as_deref()),
                )
            })
            .collect();
        b.push_str(&format!(
            r#"<h3>申报与核实对比</h3><table class="list"><thead><tr><th>类别</th><th>项目</th><th>申报（元）</th><th>核实（元）</th><th>说明</th></tr></thead><tbody>{rows}</tbody></table>"#
        ));
    }
    b.push_str(&format!(
        "<h2>调查结论</h2><p><strong>{}</strong> {}</p>",
        esc_opt(v.conclusion.map(|c| c.label_zh())),
        esc_opt(v.conclusion_notes.as_deref())
    ));
    let investigators: String = v
        .investigators
        .values()
        .map(|i| esc(&i.name))
        .collect::<Vec<_>>()
        .join("、");
    b.push_str(&format!("<h2>调查人员</h2><p>{investigators}</p>"));
    b.push_str("<h2>签字</h2><div class=\"thumbs\">");
    for (hash, s) in &v.signatures {
        b.push_str(&blob_thumb(
            &hash.to_string(),
            &format!("{}（{}）", s.signer_name, s.role.label_zh()),
        ));
    }
    b.push_str("</div><h2>照片</h2><div class=\"thumbs\">");
    if v.photos.is_empty() {
        b.push_str("<p class=\"sub\">无照片。</p>");
    }
    for (hash, p) in &v.photos {
        let cap = format!(
            "{} {}",
            p.category.label_zh(),
            p.caption.as_deref().unwrap_or("")
        );
        b.push_str(&blob_thumb(&hash.to_string(), &cap));
    }
    b.push_str("</div><h2>位置</h2>");
    b.push_str(&match &v.gps {
        Some(g) => format!(
            "<p>纬度 {:.5}，经度 {:.5}{}</p>",
            g.lat,
            g.lon,
            g.accuracy_m
                .map(|a| format!("，精度约 {a:.0} 米"))
                .unwrap_or_default()
        ),
        None => "<p class=\"sub\">未记录。</p>".into(),
    });
    let rt = format!("/console/visits/{id}");
    let mut conflicts = conflicts_section(db, session, &visit_row, "走访记录", &rt).await?;
    if let Some(row) = &household_row {
        conflicts.push_str(&conflicts_section(db, session, row, "家庭档案", &rt).await?);
    }
    if !conflicts.is_empty() {
        b.push_str("<h2>待确认的冲突</h2>");
        b.push_str(&conflicts);
    }
    b.push_str("<h2>修改记录</h2>");
    b.push_str(&history(db, id, None).await?);
    Ok(b)
}

pub async fn visit(
    State(state): State<SharedState>,
    session: Session,
    Path(id): Path<String>,
) -> Response {
    match visit_page(&state, &session, &id, None).await {
        Ok(body) => ok_page("走访记录", &session, "queue", &body),
        Err(e) => error_page(e),
    }
}

pub async fn decision(
    State(state): State<SharedState>,
    session: Session,
    Path(id): Path<String>,
    form: FormResult,
) -> Response {
    let fields = match checked_form(&session, form) {
        Ok(f) => f,
        Err(r) => return r,
    };
    let Some(kind) = fields
        .get("decision")
        .and_then(|d| ReviewDecision::parse(d))
    else {
        return error_page(ApiError::new(crate::error::Code::InvalidRequest));
    };
    match review::decide_visit(
        &state.db,
        &session.reviewer,
        &id,
        kind,
        fields.get("comment").map(String::as_str),
    )
    .await
    {
        Ok(_) => secure(Redirect::to(&format!("/console/visits/{id}")).into_response()),
        Err(e) => error_page(e),
    }
}

pub async fn unmask(
    State(state): State<SharedState>,
    session: Session,
    Path(id): Path<String>,
    form: FormResult,
) -> Response {
    let fields = match checked_form(&session, form) {
        Ok(f) => f,
        Err(r) => return r,
    };
    let member = fields.get("member").cloned().unwrap_or_default();
    let numbers =
        match review::unmask_visit(&state.db, &state.identity, &session.reviewer, &id, &member)
            .await
        {
            Ok(n) => n,
            Err(e) => return error_page(e),
        };
    let entry = format!("{}.{member}", doudi_protocol::doc::household::key::MEMBERS);
    let shown = numbers.get(&entry).map(|n| (member.as_str(), n));
    match visit_page(&state, &session, &id, shown).await {
        Ok(body) => ok_page("走访记录", &session, "queue", &body),
        Err(e) => error_page(e),
    }
}

/// Where a form returns to: a console page of this server, written in printable ASCII (a
/// redirect's `Location` takes nothing else), or else the queue.
fn return_address(asked: Option<&str>) -> String {
    match asked {
        Some(r)
            if r.starts_with("/console/")
                && !r.contains("//")
                && r.bytes().all(|b| b.is_ascii_graphic() && b != b'\\') =>
        {
            r.to_string()
        }
        _ => "/console/queue".into(),
    }
}

pub async fn resolve(
    State(state): State<SharedState>,
    session: Session,
    Path(id): Path<String>,
    form: FormResult,
) -> Response {
    let fields = match checked_form(&session, form) {
        Ok(f) => f,
        Err(r) => return r,
    };
    let path = fields.get("path").cloned().unwrap_or_default();
    let choice: usize = match fields.get("choice").and_then(|c| c.parse().ok()) {
        Some(c) => c,
        None => return error_page(ApiError::new(crate::error::Code::InvalidRequest)),
    };
    let back = return_address(fields.get("return_to").map(String::as_str));
    let res = review::resolve_conflict(&state.db, &session.reviewer, &id, &path, choice).await;
    match res {
        Ok(()) => secure(Redirect::to(&back).into_response()),
        Err(e) => error_page(e),
    }
}

pub async fn household(
    State(state): State<SharedState>,
    session: Session,
    Path(id): Path<String>,
) -> Response {
    match household_page(&state, &session, &id).await {
        Ok(body) => ok_page("家庭档案", &session, "households", &body),
        Err(e) => error_page(e),
    }
}

async fn household_page(state: &SharedState, session: &Session, id: &str) -> ApiResult<String> {
    let db = &state.db;
    let r = &session.reviewer;
    let (row, am) = load_doc(db, r, id).await?;
    let (_, h) =
        doc::read::<Household, _>(&am).map_err(|_| ApiError::new(crate::error::Code::NotFound))?;
    let mut b = format!(
        "<section class=\"summary\"><dl><dt>地址</dt><dd>{}</dd><dt>户籍</dt><dd>{}</dd><dt>救助类别</dt><dd>{}</dd><dt>网格</dt><dd>{}</dd></dl></section>",
        esc(&h.address),
        esc_opt(h.hukou_type.map(|t| t.label_zh())),
        esc(&h
            .programmes
            .iter()
            .map(|p| p.label_zh())
            .collect::<Vec<_>>()
            .join("、")),
        esc(&row.scope),
    );
    b.push_str("<h2>家庭成员</h2>");
    b.push_str(&members_table(&h, None, session, false, None));
    let (a, policy) = means::assess(state, id, &row.region_path, &h).await?;
    b.push_str("<h2>收入与测算</h2>");
    b.push_str(&means::section(&h, &a, &policy));
    let visits = visit::Entity::find()
        .filter(visit::Column::HouseholdId.eq(id))
        .order_by_desc(visit::Column::StartedAtMs)
        .limit(100)
        .all(db)
        .await?;
    let ids: Vec<String> = visits.iter().map(|v| v.doc_id.clone()).collect();
    let decisions = review_decision::Entity::find()
        .filter(review_decision::Column::VisitId.is_in(ids))
        .order_by_asc(review_decision::Column::AtMs)
        .all(db)
        .await?;
    let items: String = visits
        .iter()
        .filter(|v| r.subject.covers(&v.region_path))
        .map(|v| {
            let ds: String = decisions
                .iter()
                .filter(|d| d.visit_id == v.doc_id)
                .map(|d| {
                    format!(
                        "<li>{} {}{}</li>",
                        html::time(Some(d.at_ms)),
                        esc(ReviewDecision::parse(&d.decision).map(|k| k.label_zh()).unwrap_or("")),
                        d.comment.as_deref().map(|c| format!("：{}", esc(c))).unwrap_or_default()
                    )
                })
                .collect();
            format!(
                r#"<li><a href="/console/visits/{id}">{t} · {p}</a> <span class="status s-{st}">{s}</span><ul>{ds}</ul></li>"#,
                id = esc(&v.doc_id),
                t = html::time(v.started_at_ms),
                p = esc(&html::purpose_label(&v.purpose)),
                st = esc(&v.status),
                s = esc(&html::status_label(&v.status)),
            )
        })
        .collect();
    b.push_str(&format!(
        "<h2>走访时间线</h2><ol class=\"timeline\">{items}</ol>"
    ));
    b.push_str(&super::tasks::household_section(db, session, id).await?);
    let rt = format!("/console/households/{id}");
    let c = conflicts_section(db, session, &row, "家庭档案", &rt).await?;
    if !c.is_empty() {
        b.push_str("<h2>待确认的冲突</h2>");
        b.push_str(&c);
    }
    b.push_str("<h2>修改记录</h2>");
    b.push_str(&history(db, id, None).await?);
    Ok(b)
}

/// A photo or signature of a visible document, for the visit page (the session's cookie, not a
/// token): the same reading rules as `GET /api/v1/blobs/{sha256}`; refusals are pages.
pub async fn blob(
    session: Session,
    State(state): State<SharedState>,
    axum::Extension(blobs): axum::Extension<crate::http::blobs::Blobs>,
    Path(sha): Path<String>,
    q: Result<Query<crate::http::blobs::DownloadQuery>, axum::extract::rejection::QueryRejection>,
    headers: axum::http::HeaderMap,
) -> Response {
    let thumb = match q {
        Ok(Query(q)) => q.thumb(),
        Err(_) => Err(ApiError::new(crate::error::Code::InvalidRequest)),
    };
    let served = match thumb {
        Ok(thumb) => {
            crate::http::blobs::serve(&state, &blobs, &session.reviewer, &sha, thumb, &headers)
                .await
        }
        Err(e) => Err(e),
    };
    served.unwrap_or_else(error_page)
}
