//! 区划导入: a region file (`code,parent_code,level,name`) pasted into a form, previewed
//! (what would be created, renamed or left, or every bad line) and then imported, all or
//! nothing, by the rules of `POST /api/v1/admin/regions/import`.

use axum::extract::rejection::QueryRejection;
use axum::extract::{Query, State};
use axum::response::Response;

use super::{fail, form_error, page, redirect};
use crate::admin;
use crate::console::html::{esc, layout};
use crate::console::{FormResult, Session, html_response};
use crate::error::{ApiError, ApiResult, Code};
use crate::http::SharedState;
use crate::regions::ImportReport;

/// The counts an import reported, given back to the page after it.
#[derive(Debug, Default, serde::Deserialize)]
pub struct Imported {
    created: Option<usize>,
    renamed: Option<usize>,
    unchanged: Option<usize>,
}

fn counts(r: &ImportReport) -> String {
    format!(
        "新增 {} 个，改名 {} 个，未变 {} 个",
        r.created, r.renamed, r.unchanged
    )
}

/// The form, with `csv` in it; `confirm` when the file was previewed without errors.
fn form(session: &Session, csv: &str, confirm: bool) -> String {
    super::import_form(
        session,
        "/console/admin/regions",
        "regions-import",
        "区划文件内容（CSV，首行为 code,parent_code,level,name）",
        csv,
        confirm,
    )
}

const HELP: &str = r#"<p class="sub">每行一个区划：编码、上级编码（省级留空）、层级（province、city、county、township、village、grid）、名称。先预览：列出将新增、改名的区划数，或逐行列出错误；无错误时再确认导入。导入要么全部成功，要么不做任何修改；已有区划只能改名，不能移动；只能导入您管辖区域内的区划。大文件请用命令行 <code>doudi region import</code> 或接口导入。</p>"#;

/// The page: the form, and what the last import did.
pub async fn show(
    State(state): State<SharedState>,
    session: Session,
    q: Result<Query<Imported>, QueryRejection>,
) -> Response {
    if let Err(e) = admin::may_import_regions(&state.db, &session.reviewer).await {
        return fail(e);
    }
    let done = match q.map(|q| q.0) {
        Ok(Imported {
            created: Some(created),
            renamed: Some(renamed),
            unchanged: Some(unchanged),
        }) => format!(
            "<p class=\"notice\" role=\"status\">已导入：{}。</p>",
            counts(&ImportReport {
                created,
                renamed,
                unchanged
            })
        ),
        _ => String::new(),
    };
    let body = format!("{done}{HELP}{}", form(&session, "", false));
    page("区划导入", &session, "regions", &body)
}

/// The lines an import refused, as a table (line, why).
fn bad_lines(e: &ApiError) -> String {
    let rows: String = e
        .details
        .as_ref()
        .and_then(|d| d["lines"].as_array())
        .map(|lines| {
            lines
                .iter()
                .map(|l| {
                    format!(
                        "<tr><td>第 {} 行</td><td>{}</td></tr>",
                        l["line"].as_u64().unwrap_or(0),
                        esc(l["message"].as_str().unwrap_or(""))
                    )
                })
                .collect()
        })
        .unwrap_or_default();
    super::table("region-errors", &["行", "错误"], &rows, "")
}

/// What a post did with a file without errors.
enum Done {
    Previewed(ImportReport),
    Imported(ImportReport),
}

async fn preview_or_import(
    state: &SharedState,
    session: &Session,
    csv: &str,
    confirmed: bool,
) -> ApiResult<Done> {
    let (db, r) = (&state.db, &session.reviewer);
    let max = state.settings.max_region_import_rows;
    if confirmed {
        admin::import_regions(db, r, csv, max)
            .await
            .map(Done::Imported)
    } else {
        admin::preview_regions(db, r, csv, max)
            .await
            .map(Done::Previewed)
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
        Ok(Done::Imported(r)) => {
            return redirect(&format!(
                "/console/admin/regions?created={}&renamed={}&unchanged={}",
                r.created, r.renamed, r.unchanged
            ));
        }
        // Previewed without errors: the counts, and the button that imports.
        Ok(Done::Previewed(r)) => format!(
            "<p class=\"notice\" role=\"status\">预览：将{}。确认无误后点击“确认导入”。</p>{HELP}{}",
            counts(&r),
            form(&session, csv, true)
        ),
        Err(e) if e.code == Code::RegionCsvInvalid => {
            let body = format!(
                "{}{}{HELP}{}",
                form_error(&e),
                bad_lines(&e),
                form(&session, csv, false)
            );
            return html_response(
                e.code.status(),
                layout("区划导入", &session, "regions", &body),
            );
        }
        Err(e) => return fail(e),
    };
    page("区划导入", &session, "regions", &body)
}
