//! Queue, visit detail (with decisions, unmasking and conflict settlement) and household pages:
//! a module per page, and here what they share (the page frame, members table, history and
//! conflicts sections).

mod household_view;
mod photo_view;
mod publication_view;
mod queue_view;
mod report_view;
mod visit_view;

pub use household_view::{benefit, household, households};
pub use photo_view::photo;
pub use publication_view::publication;
pub use queue_view::queue;
pub(in crate::console) use queue_view::scope_regions;
pub use report_view::{report, report_step, report_unmask};
pub use visit_view::{
    appraisal, blob, county_visit, decision, extension, objection, print, resolve, unmask, visit,
};

use std::collections::HashMap;

use automerge::Automerge;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use sea_orm::{ColumnTrait, DatabaseConnection, EntityTrait, QueryFilter, QueryOrder, QuerySelect};

use doudi_protocol::doc::visit::{Purpose, VisitStatus};
use doudi_protocol::doc::{self, Household, Visit};
use doudi_protocol::id_number::IdNumber;

use super::html::{self, csrf_field, esc, esc_opt, layout};
use super::means;
use super::{FormResult, Session, checked_form, error_page, html_response, secure};
use crate::access::Actor;
use crate::access::{Action, Target, decide};
use crate::documents;
use crate::entity::{doc_change, document, region, review_decision, visit};
use crate::error::{ApiError, ApiResult};
use crate::http::SharedState;
use crate::review;
use crate::review::award::Award;
use crate::review::deadlines;
use crate::review::queue::{self, QueueFilter};
use crate::search;
use doudi_protocol::doc::household::Programme;
use doudi_protocol::doc::schema::SCHEMA;
use doudi_protocol::doc::visit::{ReviewDecision, ReviewLevel};
use doudi_protocol::ids::DocumentKind;

fn ok_page(title: &str, session: &Session, active: &str, body: &str) -> Response {
    html_response(StatusCode::OK, layout(title, session, active, body))
}

pub(in crate::console) fn select(
    name: &str,
    label: &str,
    options: &[(String, String)],
    current: Option<&str>,
) -> String {
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

pub(in crate::console) fn url_encode(v: &str) -> String {
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

/// A form sent back to its page because of what was typed into it (a blank or too long
/// comment or reason, an assignee who may not be assigned): which form, the text typed, and why,
/// shown beside the form with the text kept.
struct Refused<'a> {
    form: &'a str,
    text: &'a str,
    message: String,
    /// The status of the page that shows the refusal: the error's.
    status: StatusCode,
}

impl<'a> Refused<'a> {
    /// The refusal of form `form` with `text` typed, when `e` is about the input; `None` for
    /// anything else (a missing report, a denial), which is an error page.
    fn new(form: &'a str, text: &'a str, e: &ApiError) -> Option<Refused<'a>> {
        use crate::error::Code;
        matches!(
            e.code,
            Code::ReviewCommentRequired
                | Code::ReviewAwardInvalid
                | Code::ReviewNoticeRunning
                | Code::ReviewObjectionOpen
                | Code::ReviewCountyVisitRequired
                | Code::ReviewConflictsOpen
                | Code::InvalidRequest
                | Code::TaskAssigneeInvalid
                | Code::ReportHouseholdInvalid
                | Code::ReportVisitMissing
                | Code::BlobNotImage
                | Code::BlobImageTooLarge
                | Code::BlobTooLarge
        )
        .then(|| Refused {
            form,
            text,
            message: e.body().message,
            status: e.code.status(),
        })
    }

    /// The message to put beside form `form`, and the text to put back into it (both escaped),
    /// when the refusal is of that form.
    fn of(refused: Option<&Refused<'_>>, form: &str) -> (String, String) {
        match refused.filter(|f| f.form == form) {
            Some(f) => (
                format!("<p class=\"error\" role=\"alert\">{}</p>", esc(&f.message)),
                esc(f.text),
            ),
            None => (String::new(), String::new()),
        }
    }
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
            let number = match &m.identity {
                Some(n) => {
                    let clear = shown
                        .filter(|(who, clear)| *who == mid && n.masked.as_str() == clear.masked())
                        .map(|(_, c)| c);
                    let action = visit_id
                        .filter(|_| can_unmask)
                        .map(|v| format!("/console/visits/{v}/unmask"));
                    let unmask = action.as_deref().map(|a| (a, Some(mid.as_str())));
                    id_number(session, n.masked.as_str(), clear, unmask)
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
                if m.removed_at.is_some() {
                    "已减员"
                } else {
                    ""
                },
            )
        })
        .collect();
    format!(
        r#"<table class="list"><thead><tr><th>姓名</th><th>与户主关系</th><th title="默认脱敏显示">身份证号</th><th>共同生活</th><th>健康</th><th></th></tr></thead><tbody>{rows}</tbody></table>"#
    )
}

/// A 身份证号 as pages show it. The document holds it masked and sealed; the clear number comes
/// from the server's store, only after an audited unmasking (`clear`). `unmask` is where the
/// reader who may unmask posts for it (with the member, when the document has several).
fn id_number(
    session: &Session,
    masked: &str,
    clear: Option<&IdNumber>,
    unmask: Option<(&str, Option<&str>)>,
) -> String {
    if let Some(c) = clear {
        return format!("<strong class=\"unmasked\">{}</strong>", esc(c.expose()));
    }
    let btn = match unmask {
        Some((action, member)) => format!(
            r#" <form method="post" action="{action}" class="inline">{csrf}{member}<button type="submit" class="link" title="显示完整号码（记入审计日志）">显示</button></form>"#,
            action = esc(action),
            csrf = csrf_field(session),
            member = member
                .map(|m| format!(r#"<input type="hidden" name="member" value="{}">"#, esc(m)))
                .unwrap_or_default(),
        ),
        None => String::new(),
    };
    format!("{}{btn}", esc(masked))
}

/// A thumbnail linking to `href` (the photo viewer, or the image itself for a signature), the
/// link named by its visible caption; the image is decoration beside it (its fallback, shown
/// while the blob is not uploaded, says so to the eye only).
fn blob_thumb(hash: &str, caption: &str, href: &str) -> String {
    let h = esc(hash);
    let c = esc(caption);
    format!(
        r#"<figure class="thumb"><a href="{href}"><object data="/console/blobs/{h}?variant=thumb" type="image/jpeg" width="160" height="120" aria-hidden="true"><span class="missing">照片尚未上传</span></object><span class="caption">{c}</span></a></figure>"#,
        href = esc(href),
    )
}

/// The thumbnails of a record's photos, each opening the photo viewer.
fn photo_thumbs(
    id: &str,
    photos: &std::collections::BTreeMap<doudi_protocol::ids::BlobHash, doudi_protocol::doc::Photo>,
) -> String {
    if photos.is_empty() {
        return "<p class=\"sub\">无照片。</p>".into();
    }
    photos
        .iter()
        .enumerate()
        .map(|(i, (hash, p))| {
            blob_thumb(
                &hash.to_string(),
                &photo_caption(p),
                &photo_view::photo_link(id, i + 1),
            )
        })
        .collect()
}

/// A photo's caption: its category, and the caption the phone gave it.
fn photo_caption(p: &doudi_protocol::doc::Photo) -> String {
    match p.caption.as_deref().filter(|c| !c.trim().is_empty()) {
        Some(c) => format!("{} {c}", p.category.label_zh()),
        None => p.category.label_zh().to_string(),
    }
}

/// Where something was recorded, or that it was not.
fn gps_text(gps: Option<&doudi_protocol::doc::GeoPoint>) -> String {
    match gps {
        Some(g) => format!(
            "<p>纬度 {:.5}，经度 {:.5}{}</p>",
            g.lat,
            g.lon,
            g.accuracy_m
                .map(|a| format!("，精度约 {a:.0} 米"))
                .unwrap_or_default()
        ),
        None => "<p class=\"sub\">未记录。</p>".into(),
    }
}

/// The display names of accounts, by id.
async fn display_names(
    db: &DatabaseConnection,
    ids: Vec<String>,
) -> ApiResult<HashMap<String, String>> {
    Ok(crate::accounts::display_names(db, ids).await?)
}

/// Most fields one change lists in a history before "等 N 项".
const HISTORY_FIELDS: usize = 12;

/// What change `hash` of `doc` did, field by field: Chinese label, old → new value (masked as
/// everywhere, [`crate::review::conflicts::shown`]). The states compared are the document at the
/// change's dependencies and at the change itself, so others' concurrent changes are not its own.
fn change_fields(kind: DocumentKind, doc: &Automerge, hash: &automerge::ChangeHash) -> String {
    let Some(change) = automerge::ReadDoc::get_change_by_hash(doc, hash) else {
        return "—".into();
    };
    let before = doc.hydrate(Some(change.deps()));
    let after = doc.hydrate(Some(&[*hash]));
    let changed = doc::history::field_changes(&before, &after);
    let n = changed.len();
    let value = |path: &str, v: &Option<doc::history::Shown>| -> String {
        let text = match v {
            None => return "<span class=\"sub\">（无）</span>".into(),
            Some(shown) => shown_value(kind, path, shown),
        };
        esc(&crate::review::conflicts::shown(path, text))
    };
    let mut items: Vec<String> = changed
        .iter()
        .take(HISTORY_FIELDS)
        .map(|c| {
            let path = c.path.to_string();
            format!(
                "<li>{}：{} → {}</li>",
                esc(&SCHEMA.label(kind, &path)),
                value(&path, &c.before),
                value(&path, &c.after)
            )
        })
        .collect();
    if n > HISTORY_FIELDS {
        items.push(format!("<li class=\"sub\">等 {n} 项</li>"));
    }
    if items.is_empty() {
        return "<span class=\"sub\">（无字段变化）</span>".into();
    }
    format!("<ul class=\"changes\">{}</ul>", items.concat())
}

/// A field's value as a reader understands it: a code by its Chinese label, fen as yuan, an
/// instant as local time, yes or no.
fn shown_value(kind: DocumentKind, path: &str, v: &doc::history::Shown) -> String {
    use automerge::ScalarValue as S;
    use doc::history::Shown;
    let s = match v {
        Shown::Masked(m) => return m.clone(),
        Shown::Text(t) => return t.clone(),
        Shown::Scalar(s) => s,
    };
    let (_, format) = SCHEMA.field(kind, path);
    let money = path.ends_with("_fen");
    match s {
        S::Str(code) => format
            .and_then(|f| f.codes.iter().find(|(c, _)| *c == code.as_str()))
            .map_or_else(|| code.to_string(), |(_, zh)| (*zh).to_string()),
        S::Int(fen) if money => format!("{} 元", html::yuan(*fen)),
        S::Uint(fen) if money => {
            format!("{} 元", html::yuan(i64::try_from(*fen).unwrap_or(i64::MAX)))
        }
        S::Timestamp(ms) => html::time(Some(*ms)),
        S::Boolean(true) => "是".into(),
        S::Boolean(false) => "否".into(),
        S::Bytes(_) => "（二进制）".into(),
        S::Null => "（空）".into(),
        other => other.to_string(),
    }
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
    kind: DocumentKind,
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
    let accounts = display_names(db, acc_ids).await?;
    let devices: HashMap<String, (String, String)> = crate::entity::device::Entity::find()
        .filter(crate::entity::device::Column::Id.is_in(dev_ids))
        .all(db)
        .await?
        .into_iter()
        .map(|d| (d.id, (d.name, d.platform)))
        .collect();
    // The stored state holds every change, those compacted out of the log too
    // (docs/ARCHITECTURE.md): each change's fields are read from it.
    let Some(whole) = document::Entity::find_by_id(doc_id.to_string())
        .one(db)
        .await?
        .and_then(|d| Automerge::load(&d.snapshot).ok())
    else {
        return Ok("<p class=\"sub\">未记录。</p>".into());
    };
    let hash = |c: &doc_change::Model| c.hash.parse::<automerge::ChangeHash>().ok();
    let changes: Vec<(&doc_change::Model, automerge::ChangeHash)> = changes
        .iter()
        .filter_map(|c| Some((c, hash(c)?)))
        .filter(|(_, h)| match &window {
            Some(w) => automerge::ReadDoc::get_change_by_hash(&whole, h)
                .is_some_and(|ch| (w.from_ms..=w.to_ms).contains(&ch.timestamp())),
            None => true,
        })
        .collect();
    if changes.is_empty() && window.is_some() {
        return Ok("<p class=\"sub\">本次走访期间调查人员未修改家庭档案。</p>".into());
    }
    let server_actor = hex::encode(documents::SERVER_ACTOR);
    let rows: String = changes
        .iter()
        .map(|(c, h)| {
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
                esc(html::platform_label(&platform)),
                by_server,
                change_fields(kind, &whole, h),
            )
        })
        .collect();
    Ok(format!(
        r#"<table class="list"><thead><tr><th>时间</th><th>修改人</th><th>设备</th><th>修改内容（原值 → 新值）</th></tr></thead><tbody>{rows}</tbody></table>"#
    ))
}

async fn conflicts_section(
    db: &DatabaseConnection,
    session: &Session,
    doc: &document::Model,
    label: &str,
    return_to: &str,
) -> ApiResult<String> {
    let conflicts = crate::review::conflicts::of_document(db, doc).await?;
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
                    r#"<label class="choice"><input type="radio" name="choice" value="{i}" required> {}{} <span class="sub">{} · {} {} · {}{}</span></label>"#,
                    esc(&v.value),
                    if v.visible {
                        " <span class=\"sub\">（当前显示）</span>"
                    } else {
                        ""
                    },
                    esc_opt(v.account_name.as_deref()),
                    esc_opt(v.device_name.as_deref()),
                    esc(html::platform_label(v.device_platform.as_deref().unwrap_or(""))),
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
            r#"<form method="post" action="/console/docs/{doc}/resolve" class="conflict">{csrf}<input type="hidden" name="path" value="{path}"><input type="hidden" name="return_to" value="{rt}"><p><strong>{label}</strong></p>{options}{button}</form>"#,
            doc = esc(&doc.id),
            csrf = csrf_field(session),
            label = esc(&c.label),
            path = esc(&c.path),
            rt = esc(return_to),
        ));
    }
    Ok(s)
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
