//! 工作日历: the years the working-day calendar covers (built into doudi or imported), the
//! holidays and adjusted working days of a year, and a calendar file pasted into a form,
//! previewed with its errors and then imported by [`calendar::check`] and [`calendar::store`],
//! the checks and the writing `doudi calendar import` runs (audited `calendar.import`, here
//! naming the administrator). A year not covered is shown as a warning: due dates falling in it
//! are unknown until it is imported.

use axum::extract::rejection::QueryRejection;
use axum::extract::{Query, State};
use axum::http::StatusCode;
use axum::response::Response;
use chrono::Datelike;

use doudi_protocol::rules::calendar::DayKind;

use super::{fail, page, redirect, table};
use crate::access::{Action, Target};
use crate::console::html::{esc, layout};
use crate::console::{FormResult, Session, html_response};
use crate::error::{ApiError, ApiResult, Code};
use crate::http::SharedState;
use crate::review::calendar::{self, Checked, ImportError};
use crate::review::deadlines;

/// Whether the administrator may read and import the calendar (a refusal is audited).
async fn may_manage(state: &SharedState, session: &Session) -> ApiResult<()> {
    session
        .reviewer
        .require(&state.db, Action::ManageRegions, Target::Scope, "calendar")
        .await
}

/// The year shown, and what the last import did.
#[derive(Debug, Default, serde::Deserialize)]
pub struct Asked {
    year: Option<i32>,
    imported: Option<String>,
}

const HELP: &str = r#"<p class="sub">每年秋季国务院办公厅公布下一年的节假日和调休安排后，导入该年的全部节假日和调休上班日。文件每行一天：日期,类型,名称；类型为 holiday（节假日）或 workday（调休上班日），如 <code>2027-10-01,holiday,国庆节</code>。先预览：列出将导入的日期，或说明哪一行有误；无误后再确认导入。导入的年份替换该年原有的数据。也可在服务器上用 <code>doudi calendar import</code> 导入。</p>"#;

fn kind_zh(k: DayKind) -> &'static str {
    match k {
        DayKind::Holiday => "节假日",
        DayKind::Workday => "调休上班",
    }
}

/// The days as a table.
fn days_table<'a>(days: impl Iterator<Item = (chrono::NaiveDate, DayKind, &'a str)>) -> String {
    let rows: String = days
        .map(|(d, k, name)| {
            format!(
                "<tr><td>{d}</td><td>{}</td><td>{}</td></tr>",
                kind_zh(k),
                esc(name)
            )
        })
        .collect();
    table(
        "calendar-days",
        &["日期", "类型", "名称"],
        &rows,
        "该年没有节假日或调休记录。",
    )
}

/// The form, with `csv` in it; `confirm` when the file was previewed without errors.
fn form(session: &Session, csv: &str, confirm: bool) -> String {
    super::import_form(
        session,
        "/console/admin/calendar",
        "calendar-import",
        "日历文件内容（每行：日期,类型,名称）",
        csv,
        confirm,
    )
}

/// The page: the years covered (with a warning for this year or the next missing), one year's
/// days, and the import form.
pub async fn show(
    State(state): State<SharedState>,
    session: Session,
    q: Result<Query<Asked>, QueryRejection>,
) -> Response {
    let q = q.map(|q| q.0).unwrap_or_default();
    match show_body(&state, &session, &q).await {
        Ok(body) => page("工作日历", &session, "calendar", &body),
        Err(e) => fail(e),
    }
}

async fn show_body(state: &SharedState, session: &Session, q: &Asked) -> ApiResult<String> {
    may_manage(state, session).await?;
    let this_year = deadlines::today().map_or(2026, |d| d.year());
    let (built_in, imported) = calendar::years(&state.db).await?;
    let mut all: Vec<i32> = built_in.iter().chain(&imported).copied().collect();
    all.sort();
    all.dedup();
    let missing: Vec<String> = [this_year, this_year + 1]
        .into_iter()
        .filter(|y| !all.contains(y))
        .map(|y| format!("{y}年"))
        .collect();
    let warning = if missing.is_empty() {
        String::new()
    } else {
        format!(
            "<p class=\"error\" role=\"alert\" data-missing=\"{n}\">工作日历未包含{years}：到期日落在这些年份的案件无法计算工作日时限（显示为“日历未知”）。请尽快导入。</p>",
            n = missing.len(),
            years = missing.join("、")
        )
    };
    let done = q
        .imported
        .as_deref()
        .map(|y| {
            format!(
                "<p class=\"notice\" role=\"status\">已导入{}年的工作日历。</p>",
                esc(&y.replace(',', "年、"))
            )
        })
        .unwrap_or_default();
    let year = q.year.filter(|y| all.contains(y)).unwrap_or(this_year);
    let rows: String = all
        .iter()
        .rev()
        .map(|y| {
            let source = match (imported.contains(y), built_in.contains(y)) {
                (true, true) => "导入（替换内置数据）",
                (true, false) => "导入",
                _ => "内置",
            };
            format!(
                "<tr data-year=\"{y}\"><td><a href=\"/console/admin/calendar?year={y}\" aria-label=\"查看{y}年的节假日\">{y}年</a></td><td>{source}</td></tr>"
            )
        })
        .collect();
    let cal = calendar::load(&state.db).await?;
    let days = days_table(cal.days().filter(|(d, ..)| d.year() == year));
    Ok(format!(
        r#"{done}{warning}
<h2>已包含的年份</h2>
{years}
<h2>{year}年的节假日和调休上班日</h2>
{days}
<h2>导入日历</h2>
{HELP}{form}"#,
        years = table(
            "calendar-years",
            &["年份", "来源"],
            &rows,
            "没有任何年份的日历。"
        ),
        form = form(session, "", false),
    ))
}

/// What a post did with a file without errors.
enum Done {
    Previewed(Checked),
    Imported(Vec<i32>),
}

async fn preview_or_import(
    state: &SharedState,
    session: &Session,
    csv: &str,
    confirmed: bool,
) -> ApiResult<Result<Done, ImportError>> {
    may_manage(state, session).await?;
    let checked = match calendar::check(csv) {
        Ok(c) => c,
        Err(e) => return Ok(Err(e)),
    };
    if !confirmed {
        return Ok(Ok(Done::Previewed(checked)));
    }
    let ev = session.reviewer.event(calendar::AUDIT_IMPORT, None);
    match calendar::store(&state.db, &checked, ev).await {
        Ok((years, _)) => Ok(Ok(Done::Imported(years))),
        Err(ImportError::Db(e)) => Err(e.into()),
        Err(e) => Ok(Err(e)),
    }
}

/// Preview the file, or (`confirmed=1`) import it.
pub async fn post(
    State(state): State<SharedState>,
    session: Session,
    form_fields: FormResult,
) -> Response {
    let (csv, confirmed) = match super::import_fields(&session, form_fields) {
        Ok(f) => f,
        Err(r) => return r,
    };
    let csv = csv.as_str();
    let body = match preview_or_import(&state, &session, csv, confirmed).await {
        Err(e) => return fail(e),
        Ok(Ok(Done::Imported(years))) => {
            let years: Vec<String> = years.iter().map(i32::to_string).collect();
            return redirect(&format!(
                "/console/admin/calendar?imported={}&year={}",
                years.join(","),
                years[0]
            ));
        }
        Ok(Ok(Done::Previewed(checked))) => {
            let years: Vec<String> = checked.years.iter().map(|y| format!("{y}年")).collect();
            let holidays = checked.days().filter(|d| d.1 == DayKind::Holiday).count();
            format!(
                "<p class=\"notice\" role=\"status\">预览：将导入{}，节假日 {holidays} 天，调休上班 {} 天，替换这些年份原有的数据。确认无误后点击“确认导入”。</p>{}{HELP}{}",
                years.join("、"),
                checked.len() - holidays,
                days_table(checked.days()),
                form(&session, csv, true)
            )
        }
        Ok(Err(e)) => {
            let err = ApiError::new(Code::InvalidRequest).with_message(
                format!("日历文件有误，未导入：{}", e.message_zh()),
                e.to_string(),
            );
            let body = format!(
                "{}{HELP}{}",
                super::form_error(&err),
                form(&session, csv, false)
            );
            return html_response(
                StatusCode::UNPROCESSABLE_ENTITY,
                layout("工作日历", &session, "calendar", &body),
            );
        }
    };
    page("工作日历", &session, "calendar", &body)
}
