//! 导出台账: the console's page of exports and its downloads, which answer exactly as
//! `GET /api/v1/exports/{dataset}` does ([`crate::exports`]).

use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::Response;

use super::html::{esc, layout};
use super::{Session, error_page, html_response, not_found, secure};
use crate::access::{Action, Target, decide};
use crate::error::ApiResult;
use crate::exports::{self, Dataset, ExportParams};
use crate::http::SharedState;

/// The page: one form per ledger.
pub async fn page(State(state): State<SharedState>, session: Session) -> Response {
    match page_body(&state, &session).await {
        Ok(b) => html_response(StatusCode::OK, layout("导出台账", &session, "exports", &b)),
        Err(e) => error_page(e),
    }
}

async fn page_body(state: &SharedState, session: &Session) -> ApiResult<String> {
    let r = &session.reviewer;
    r.require(&state.db, Action::Export, Target::Scope, "exports")
        .await?;
    let may_unmask = decide(&r.subject, Action::Unmask, Target::Scope).is_allowed();
    let forms: String = Dataset::ALL
        .into_iter()
        .map(|d| {
            let period = d
                .period_label_zh()
                .map(|l| {
                    format!(
                        r#"<label>{l}自 <input type="date" name="from"></label>
<label>至 <input type="date" name="to"></label>"#
                    )
                })
                .unwrap_or_default();
            let unmask = if d == Dataset::Members && may_unmask {
                r#"<label><input type="checkbox" name="unmask" value="true"> 显示完整身份证号（将记入审计日志）</label>"#
            } else {
                ""
            };
            format!(
                r#"<section class="export"><h2>{title}</h2>
<form method="get" action="/console/exports/{key}" class="filters">
<label>区划代码 <input name="region" maxlength="64" placeholder="留空：全部管辖区域"></label>
{period}{unmask}
<label>格式 <select name="format"><option value="xlsx">Excel（xlsx）</option><option value="csv">CSV</option></select></label>
<button type="submit">下载</button>
</form></section>"#,
                title = esc(d.label_zh()),
                key = d.as_str(),
            )
        })
        .collect();
    Ok(format!(
        r#"<p class="sub">导出您管辖区域内的家庭、家庭成员、走访、主动发现、任务、保障决定、监测预警、临时救助和申请记录，供建立台账和报送使用。身份证号默认脱敏；每次导出都记入审计日志。</p>{forms}"#
    ))
}

/// A download: the same checks, audit and rows as the API's.
pub async fn download(
    State(state): State<SharedState>,
    session: Session,
    Path(dataset): Path<String>,
    q: Result<Query<ExportParams>, axum::extract::rejection::QueryRejection>,
) -> Response {
    let Some(dataset) = Dataset::parse(&dataset) else {
        return not_found();
    };
    let params = q.map(|q| q.0).unwrap_or_default();
    let started = async {
        let ex = exports::start(&state.db, &session.reviewer, dataset, &params).await?;
        crate::http::exports::respond(state.clone(), ex).await
    };
    match started.await {
        Ok(resp) => secure(resp),
        Err(e) => error_page(e),
    }
}
