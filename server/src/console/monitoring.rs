//! 动态监测预警 in the console (docs/MONITORING.md): the alert list with the import form and the
//! runs, a run's page (unmatched lines, alerts), an alert's page with the disposition form. The
//! rules are [`crate::monitoring`]'s; a form refused for its input comes back with the message
//! and what was typed.

use axum::extract::multipart::MultipartRejection;
use axum::extract::{Multipart, Path, Query, State};
use axum::http::StatusCode;
use axum::response::Response;

use super::html::{self, csrf_field, esc, esc_opt, layout};
use super::{FormResult, Session, checked_form, error_page, form_answer, html_response, secure};
use crate::access::{Action, Target, decide};
use crate::error::{ApiError, ApiResult, Code};
use crate::http::SharedState;
use crate::monitoring::{
    self, AlertFilter, AlertView, Disposition, FileFormat, Indicator, RunView, Source,
};

const TITLE: &str = "监测预警";
const ACTIVE: &str = "monitoring";

#[derive(Debug, Default, serde::Deserialize)]
#[serde(default)]
pub struct ListQuery {
    state: Option<String>,
    indicator: Option<String>,
}

/// What was typed into the import form, and why it was refused.
#[derive(Default)]
struct ImportForm {
    source: String,
    file_name: String,
    content: String,
    error: Option<ApiError>,
}

pub async fn list(
    State(state): State<SharedState>,
    session: Session,
    q: Result<Query<ListQuery>, axum::extract::rejection::QueryRejection>,
) -> Response {
    let q = q.map(|q| q.0).unwrap_or_default();
    match list_page(&state, &session, &q, &ImportForm::default()).await {
        Ok(b) => html_response(StatusCode::OK, layout(TITLE, &session, ACTIVE, &b)),
        Err(e) => error_page(e),
    }
}

fn alert_rows(items: &[AlertView]) -> String {
    items
        .iter()
        .map(|a| {
            let state = match (a.status.as_str(), a.overdue, &a.visit_id) {
                ("disposed", _, _) => format!(
                    "已处置：{}",
                    esc_opt(a.disposition_label.as_deref())
                ),
                (_, true, _) => "<span class=\"tag alert\">核查已逾期</span>".into(),
                (_, _, Some(_)) => "已核查，待处置".into(),
                _ => "待核查".into(),
            };
            format!(
                r#"<tr class="{cls}"><td>{ind}</td><td><a href="/console/monitoring/alerts/{id}">{name}</a> <span class="sub">{masked}</span></td><td>{detail}</td><td>{grid}</td><td>{received}</td><td>{due}</td><td>{who}</td><td>{state}</td></tr>"#,
                cls = if a.overdue { "flagged" } else { "" },
                ind = esc(&a.indicator_label),
                id = esc(&a.alert_id),
                name = esc(&a.member_name),
                masked = esc(&a.id_masked),
                detail = esc(&a.detail),
                grid = esc(&a.grid),
                received = html::time(Some(a.received_at_ms)),
                due = html::time(a.due_at_ms),
                who = esc(a.assignee_name.as_deref().unwrap_or("未指派")),
            )
        })
        .collect()
}

fn alert_table(items: &[AlertView]) -> String {
    if items.is_empty() {
        return "<p class=\"empty\">暂无符合条件的预警。</p>".into();
    }
    format!(
        r#"<table class="list"><thead><tr><th>预警指标</th><th>对象</th><th>预警内容</th><th>网格</th><th>接收时间</th><th>核查期限</th><th>承办人</th><th>状态</th></tr></thead><tbody>{}</tbody></table>"#,
        alert_rows(items)
    )
}

fn bad_lines(e: &ApiError) -> String {
    let lines = e
        .details
        .as_ref()
        .and_then(|d| d["lines"].as_array().cloned())
        .unwrap_or_default();
    let items: String = lines
        .iter()
        .map(|l| format!("<li>{}</li>", esc(l["message"].as_str().unwrap_or(""))))
        .collect();
    format!(
        "<div class=\"error\" role=\"alert\" data-code=\"{}\"><p>{}</p><ul class=\"bad-lines\">{items}</ul></div>",
        esc(e.code.as_str()),
        esc(&e.body().message)
    )
}

fn runs_table(runs: &[RunView]) -> String {
    if runs.is_empty() {
        return "<p class=\"empty\">尚未导入部门数据。</p>".into();
    }
    let rows: String = runs
        .iter()
        .take(20)
        .map(|r| {
            format!(
                r#"<tr><td><a href="/console/monitoring/runs/{id}">{file}</a></td><td>{source}</td><td>{who}</td><td>{at}</td><td>{rows}</td><td>{matched}</td><td>{unmatched}</td><td>{alerts}</td></tr>"#,
                id = esc(&r.run_id),
                file = esc(&r.file_name),
                source = esc(&r.source_label),
                who = esc(&r.imported_by),
                at = html::time(Some(r.at_ms)),
                rows = r.rows,
                matched = r.matched,
                unmatched = r.unmatched,
                alerts = r.alerts,
            )
        })
        .collect();
    format!(
        r#"<table class="list"><thead><tr><th>文件</th><th>数据来源</th><th>导入人</th><th>导入时间</th><th>行数</th><th>匹配</th><th>未匹配</th><th>预警</th></tr></thead><tbody>{rows}</tbody></table>"#
    )
}

async fn list_page(
    state: &SharedState,
    session: &Session,
    q: &ListQuery,
    form: &ImportForm,
) -> ApiResult<String> {
    let db = &state.db;
    let r = &session.reviewer;
    let filter = AlertFilter {
        state: q.state.clone().filter(|s| !s.is_empty()),
        indicator: q.indicator.clone().filter(|s| !s.is_empty()),
    };
    let items = monitoring::list_alerts(db, r, &filter).await?;
    let current = filter.state.as_deref().unwrap_or("open");
    let ind = filter.indicator.as_deref().unwrap_or("");
    let link = |s: &str, i: &str| format!("/console/monitoring?state={s}&indicator={i}");
    let states: String = [
        ("open", "待处置"),
        ("overdue", "核查逾期"),
        ("disposed", "已处置"),
        ("all", "全部"),
    ]
    .iter()
    .map(|(s, label)| {
        if *s == current {
            format!("<strong aria-current=\"page\">{label}</strong>")
        } else {
            format!("<a href=\"{}\">{label}</a>", esc(&link(s, ind)))
        }
    })
    .collect::<Vec<_>>()
    .join(" · ");
    let mut indicators = vec![if ind.is_empty() {
        "<strong>全部指标</strong>".to_string()
    } else {
        format!("<a href=\"{}\">全部指标</a>", esc(&link(current, "")))
    }];
    for i in Indicator::ALL {
        indicators.push(if i.as_str() == ind {
            format!("<strong>{}</strong>", i.label_zh())
        } else {
            format!(
                "<a href=\"{}\">{}</a>",
                esc(&link(current, i.as_str())),
                i.label_zh()
            )
        });
    }
    let mut b = format!(
        "<p class=\"filters\">显示：{states}</p><p class=\"filters\">指标：{}</p>{}<p class=\"sub\">身份证号一律隐去中间部分；点击对象查看预警、核查走访和处置。</p>",
        indicators.join(" · "),
        alert_table(&items)
    );
    if decide(&r.subject, Action::ImportDepartmentData, Target::Scope).is_allowed() {
        let options: String = Source::ALL
            .iter()
            .map(|s| {
                let layout = s.layout();
                let mut cols = vec![monitoring::COL_ID, monitoring::COL_NAME, layout.date];
                cols.extend(layout.amount);
                cols.extend(layout.grade);
                format!(
                    "<option value=\"{}\"{}>{}：{}</option>",
                    s.as_str(),
                    if form.source == s.as_str() {
                        " selected"
                    } else {
                        ""
                    },
                    s.label_zh(),
                    cols.join("、")
                )
            })
            .collect();
        let msg = form.error.as_ref().map(bad_lines).unwrap_or_default();
        b.push_str(&format!(
            r#"<h2>导入部门数据</h2>
<p class="sub">上传 CSV 或 XLSX 文件（XLSX 读第一个工作表），或粘贴 CSV 内容。第 1 行为表头，列名见下拉框；整份文件逐行校验，任何一行有误都不导入。文件最大 {file_kib} KiB，粘贴内容最大 {kib} KiB。</p>
{msg}
<form method="post" action="/console/monitoring/upload" enctype="multipart/form-data" class="decision">{csrf}<label>数据来源 <select name="source" required>{options}</select></label><label>文件（CSV 或 XLSX） <input type="file" name="file" accept=".csv,.xlsx,text/csv,application/vnd.openxmlformats-officedocument.spreadsheetml.sheet" required></label><button type="submit">上传并比对</button></form>
<form method="post" action="/console/monitoring/import" class="decision">{csrf}<label>数据来源 <select name="source" required>{options}</select></label><label>文件名 <input name="file_name" maxlength="255" value="{file}"></label><label>CSV 内容 <textarea name="content" rows="8" required>{content}</textarea></label><button type="submit">导入粘贴的内容</button></form>"#,
            kib = state.settings.max_body_bytes / 1024,
            file_kib = state.settings.max_import_bytes / 1024,
            csrf = csrf_field(session),
            file = esc(&form.file_name),
            content = esc(&form.content),
        ));
    }
    let runs = monitoring::list_runs(db, r).await?;
    b.push_str(&format!(
        "<h2>核查台账（最近导入）</h2>{}",
        runs_table(&runs)
    ));
    Ok(b)
}

pub async fn import(
    State(state): State<SharedState>,
    session: Session,
    form: FormResult,
) -> Response {
    // A pasted list over the console's body limit is not a stale form.
    if let Err(rejection) = &form
        && rejection.status() == StatusCode::PAYLOAD_TOO_LARGE
    {
        return error_page(monitoring::import::too_large(state.settings.max_body_bytes));
    }
    let f = match checked_form(&session, form) {
        Ok(f) => f,
        Err(r) => return r,
    };
    let field = |k: &str| f.get(k).cloned().unwrap_or_default();
    let typed = ImportForm {
        source: field("source"),
        file_name: field("file_name"),
        content: field("content"),
        error: None,
    };
    let body = typed.content.as_bytes().to_vec();
    import_answer(&state, &session, typed, FileFormat::Csv, body).await
}

/// A department list uploaded as a file (CSV or XLSX, told apart by its bytes as the API does),
/// as `multipart/form-data` with `csrf`, `source` and `file`; up to `max_import_bytes`.
pub async fn upload(
    State(state): State<SharedState>,
    session: Session,
    form: Result<Multipart, MultipartRejection>,
) -> Response {
    let max = state.settings.max_import_bytes;
    let form = match super::checked_multipart(&session, form, "file").await {
        Ok(f) => f,
        Err(super::MultipartRefused::TooLarge) => {
            return error_page(monitoring::import::too_large(max));
        }
        Err(super::MultipartRefused::Refused(r)) => return r,
    };
    let source = form.fields.get("source").cloned().unwrap_or_default();
    let (file_name, body) = form.file.unwrap_or_default();
    let typed = ImportForm {
        source,
        file_name,
        content: String::new(),
        error: None,
    };
    let format = match FileFormat::detect(None, &body) {
        Ok(f) => f,
        Err(e) => return refused_import(&state, &session, typed, e).await,
    };
    import_answer(&state, &session, typed, format, body).await
}

/// The page after an import from either form: the run's page, or the form again with the
/// refusal (and what was typed).
async fn import_answer(
    state: &SharedState,
    session: &Session,
    mut typed: ImportForm,
    format: FileFormat,
    body: Vec<u8>,
) -> Response {
    let done = async {
        let source = Source::named(&typed.source)?;
        monitoring::import(
            &state.db,
            &state.identity,
            &session.reviewer,
            source,
            &typed.file_name,
            format,
            bytes::Bytes::from(body),
            state.settings.max_import_rows,
        )
        .await
    }
    .await;
    let done = done.map(|report| format!("/console/monitoring/runs/{}", report.run_id));
    let refusable = [
        Code::ImportInvalid,
        Code::ImportTooManyRows,
        Code::ImportFormatUnknown,
        Code::InvalidRequest,
    ];
    let no_filter = ListQuery::default();
    form_answer(session, TITLE, ACTIVE, done, &refusable, |e| {
        typed.error = Some(e);
        list_page(state, session, &no_filter, &typed)
    })
    .await
}

/// The form again with `e`, for a refusal found before the import is tried.
async fn refused_import(
    state: &SharedState,
    session: &Session,
    typed: ImportForm,
    e: ApiError,
) -> Response {
    let no_filter = ListQuery::default();
    let mut typed = typed;
    form_answer(
        session,
        TITLE,
        ACTIVE,
        Err::<String, _>(e),
        &[Code::ImportFormatUnknown],
        |e| {
            typed.error = Some(e);
            list_page(state, session, &no_filter, &typed)
        },
    )
    .await
}

pub async fn run(
    State(state): State<SharedState>,
    session: Session,
    Path(id): Path<String>,
) -> Response {
    let page = async {
        let d = monitoring::run(&state.db, &session.reviewer, &id).await?;
        let r = &d.run;
        let mut b = format!(
            r#"<dl class="summary"><dt>文件</dt><dd>{file}（{format}）</dd><dt>数据来源</dt><dd>{source}</dd><dt>导入人</dt><dd>{who}</dd><dt>导入时间</dt><dd>{at}</dd><dt>数据行数</dt><dd>{rows}</dd><dt>匹配到本辖区成员</dt><dd>{matched}</dd><dt>未匹配</dt><dd>{unmatched}</dd><dt>产生预警</dt><dd>{alerts}</dd></dl>"#,
            file = esc(&r.file_name),
            format = esc(&r.format.to_uppercase()),
            source = esc(&r.source_label),
            who = esc(&r.imported_by),
            at = html::time(Some(r.at_ms)),
            rows = r.rows,
            matched = r.matched,
            unmatched = r.unmatched,
            alerts = r.alerts,
        );
        b.push_str("<h2>本次产生的预警</h2>");
        b.push_str(&alert_table(&d.alerts));
        b.push_str("<h2>未匹配的行</h2><p class=\"sub\">这些人员不是本辖区在册家庭的现有成员（或身份证号未录入），请核实后处理，不会自动忽略。</p>");
        if d.unmatched_rows.is_empty() {
            b.push_str("<p class=\"empty\">全部匹配。</p>");
        } else {
            let rows: String = d
                .unmatched_rows
                .iter()
                .map(|u| {
                    format!(
                        "<tr><td>{}</td><td>{}</td><td>{}</td></tr>",
                        u.line,
                        esc(&u.id_masked),
                        esc(&u.name)
                    )
                })
                .collect();
            b.push_str(&format!(
                "<table class=\"list unmatched\"><thead><tr><th>行号</th><th>身份证号</th><th>姓名</th></tr></thead><tbody>{rows}</tbody></table>"
            ));
        }
        if r.source == Source::RuralMonitoring.as_str() {
            b.push_str(&comparison_section(&state, &session, &id).await?);
        }
        b.push_str("<p><a href=\"/console/monitoring\">返回监测预警</a></p>");
        Ok::<_, ApiError>(b)
    }
    .await;
    match page {
        Ok(b) => html_response(StatusCode::OK, layout("核查台账", &session, ACTIVE, &b)),
        Err(e) => error_page(e),
    }
}

/// What was typed into the disposition form, and why it was refused.
#[derive(Default)]
struct DisposeForm {
    disposition: String,
    feedback_date: String,
    feedback_to: String,
    note: String,
    error: Option<ApiError>,
}

async fn alert_page(
    state: &SharedState,
    session: &Session,
    id: &str,
    form: &DisposeForm,
) -> ApiResult<String> {
    let db = &state.db;
    let r = &session.reviewer;
    let a = monitoring::alert(db, r, id).await?;
    let status = match (a.status.as_str(), &a.visit_id) {
        ("disposed", _) => "已处置",
        (_, Some(_)) => "已核查，待处置",
        _ if a.overdue => "核查已逾期",
        _ => "待核查",
    };
    let visit = match &a.visit_id {
        Some(v) => format!("<a href=\"/console/visits/{0}\">预警核查走访</a>", esc(v)),
        None => "尚未提交预警核查走访".into(),
    };
    let mut b = format!(
        r#"<dl class="summary"><dt>状态</dt><dd>{status}</dd><dt>预警指标</dt><dd>{ind}</dd><dt>预警内容</dt><dd>{detail}</dd><dt>对象</dt><dd>{name}（{masked}）</dd><dt>家庭</dt><dd><a href="/console/households/{hh}">查看家庭档案</a></dd><dt>网格</dt><dd>{grid}</dd><dt>数据来源</dt><dd><a href="/console/monitoring/runs/{run}">{source}</a></dd><dt>接收时间</dt><dd>{received}</dd><dt>核查期限</dt><dd>{due}</dd><dt>承办人</dt><dd>{who}</dd><dt>核查走访</dt><dd>{visit}</dd></dl>"#,
        ind = esc(&a.indicator_label),
        detail = esc(&a.detail),
        name = esc(&a.member_name),
        masked = esc(&a.id_masked),
        hh = esc(&a.household_id),
        grid = esc(&a.grid),
        run = esc(&a.run_id),
        source = esc(monitoring::label_zh(&a.source)),
        received = html::time(Some(a.received_at_ms)),
        due = if a.due_at_ms.is_some() {
            html::time(a.due_at_ms)
        } else {
            "未设定（地区未设置核查期限）".into()
        },
        who = esc(a.assignee_name.as_deref().unwrap_or("未指派")),
    );
    b.push_str("<h2>处置</h2>");
    if a.status == "disposed" {
        b.push_str(&format!(
            "<dl class=\"summary\"><dt>处置结果</dt><dd>{}</dd><dt>反馈日期</dt><dd>{}</dd><dt>反馈对象</dt><dd>{}</dd><dt>说明</dt><dd>{}</dd><dt>处置人</dt><dd>{}</dd><dt>处置时间</dt><dd>{}</dd></dl>",
            esc_opt(a.disposition_label.as_deref()),
            esc_opt(a.feedback_date.as_deref()),
            esc_opt(a.feedback_to.as_deref()),
            esc_opt(a.disposition_note.as_deref()),
            esc_opt(a.disposed_by.as_deref()),
            html::time(a.disposed_at_ms),
        ));
    } else if !decide(&r.subject, Action::ReviewVisit, Target::Scope).is_allowed() {
        b.push_str("<p class=\"sub\">您无权处置该预警。</p>");
    } else if a.visit_id.is_none() && form.error.is_none() {
        b.push_str("<p class=\"sub\">网格员提交预警核查走访后方可处置。</p>");
    } else {
        let options: String = Disposition::ALL
            .iter()
            .map(|d| {
                format!(
                    "<label class=\"choice\"><input type=\"radio\" name=\"disposition\" value=\"{}\"{} required> {}</label>",
                    d.as_str(),
                    if form.disposition == d.as_str() { " checked" } else { "" },
                    d.label_zh()
                )
            })
            .collect();
        let msg = form
            .error
            .as_ref()
            .map(|e| {
                format!(
                    "<p class=\"error\" role=\"alert\" data-code=\"{}\">{}</p>",
                    esc(e.code.as_str()),
                    esc(&e.body().message)
                )
            })
            .unwrap_or_default();
        let today = crate::review::deadlines::today()
            .map(|d| d.to_string())
            .unwrap_or_default();
        let date = if form.feedback_date.is_empty() && form.error.is_none() {
            today
        } else {
            form.feedback_date.clone()
        };
        b.push_str(&format!(
            r#"<form method="post" action="/console/monitoring/alerts/{id}/dispose" class="decision">{csrf}<fieldset><legend>处置结果</legend>{options}</fieldset><label>反馈日期 <input name="feedback_date" value="{date}" placeholder="2026-12-06" required></label><label>反馈对象（如数据来源部门） <input name="feedback_to" maxlength="100" value="{to}" required></label><label>说明（可选）<textarea name="note" rows="2" maxlength="2000">{note}</textarea></label>{msg}<button type="submit">记录处置</button></form>"#,
            id = esc(id),
            csrf = csrf_field(session),
            date = esc(&date),
            to = esc(&form.feedback_to),
            note = esc(&form.note),
        ));
    }
    b.push_str("<p><a href=\"/console/monitoring\">返回监测预警</a></p>");
    Ok(b)
}

pub async fn alert(
    State(state): State<SharedState>,
    session: Session,
    Path(id): Path<String>,
) -> Response {
    match alert_page(&state, &session, &id, &DisposeForm::default()).await {
        Ok(b) => html_response(StatusCode::OK, layout("预警", &session, ACTIVE, &b)),
        Err(e) => error_page(e),
    }
}

pub async fn dispose(
    State(state): State<SharedState>,
    session: Session,
    Path(id): Path<String>,
    form: FormResult,
) -> Response {
    let f = match checked_form(&session, form) {
        Ok(f) => f,
        Err(r) => return r,
    };
    let field = |k: &str| f.get(k).cloned().unwrap_or_default();
    let mut typed = DisposeForm {
        disposition: field("disposition"),
        feedback_date: field("feedback_date"),
        feedback_to: field("feedback_to"),
        note: field("note"),
        error: None,
    };
    let req = monitoring::DisposeRequest {
        disposition: typed.disposition.clone(),
        feedback_date: typed.feedback_date.clone(),
        feedback_to: typed.feedback_to.clone(),
        note: Some(typed.note.clone()),
    };
    let done = monitoring::dispose(&state.db, &session.reviewer, &id, &req)
        .await
        .map(|_| format!("/console/monitoring/alerts/{id}"));
    let refusable = [Code::InvalidRequest, Code::AlertWrongState];
    form_answer(&session, "预警", ACTIVE, done, &refusable, |e| {
        typed.error = Some(e);
        alert_page(&state, &session, &id, &typed)
    })
    .await
}

/// Rows of the 双纳入 comparison the run's page shows (the CSV has them all).
const COMPARISON_SHOWN: usize = 200;

async fn comparison_section(state: &SharedState, session: &Session, id: &str) -> ApiResult<String> {
    let c = monitoring::compare(&state.db, &session.reviewer, id).await?;
    let rows: String = c
        .people
        .iter()
        .take(COMPARISON_SHOWN)
        .map(|p| {
            format!(
                "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
                p.standing.label_zh(),
                esc(&p.name),
                esc(&p.id_masked),
                esc_opt(p.programmes.as_deref()),
                p.line.map(|l| l.to_string()).unwrap_or_else(|| "—".into()),
            )
        })
        .collect();
    let more = if c.people.len() > COMPARISON_SHOWN {
        format!("<p class=\"sub\">仅显示前 {COMPARISON_SHOWN} 人，完整结果请下载 CSV。</p>")
    } else {
        String::new()
    };
    Ok(format!(
        r#"<h2>“双纳入”比对</h2><p>与本辖区低保、特困家庭成员比对：双方均已纳入 <strong>{both}</strong> 人，仅在乡村振兴名单 <strong>{theirs}</strong> 人，仅在民政低保特困 <strong>{ours}</strong> 人。<a href="/console/monitoring/runs/{id}/comparison">下载比对结果（CSV）</a></p><table class="list comparison"><thead><tr><th>比对结果</th><th>姓名</th><th>身份证号</th><th>保障类别</th><th>名单行号</th></tr></thead><tbody>{rows}</tbody></table>{more}"#,
        both = c.both,
        theirs = c.only_theirs,
        ours = c.only_ours,
        id = esc(id),
    ))
}

/// The 双纳入 comparison of a run as CSV (audited as an export).
pub async fn comparison_csv(
    State(state): State<SharedState>,
    session: Session,
    Path(id): Path<String>,
) -> Response {
    let r = &session.reviewer;
    let done = async {
        let c = monitoring::compare(&state.db, r, &id).await?;
        monitoring::compare::csv(&state.db, r, &c).await
    }
    .await;
    match done {
        Ok(bytes) => secure(crate::http::monitoring::csv_answer(
            bytes,
            &format!("shuangnaru-{id}.csv"),
        )),
        Err(e) => error_page(e),
    }
}
