//! `GET /api/v1/exports/{dataset}`: the ledgers as CSV or XLSX ([`crate::exports`]); the
//! console's downloads answer through [`respond`] too.

use std::io::{Seek, SeekFrom};

use axum::body::{Body, Bytes};
use axum::extract::{Path, State};
use axum::http::header;
use axum::response::{IntoResponse, Response};
use futures_util::stream;
use tokio::io::AsyncReadExt;

use super::{ApiQuery, AuthContext, SharedState};
use crate::error::{ApiError, ApiResult, Code};
use crate::exports::{self, Dataset, Export, ExportParams, Format, XlsxWriter};

/// Bytes read from the finished XLSX file per chunk of the answer.
const FILE_CHUNK: usize = 64 * 1024;

/// Export a ledger of the caller's regions.
#[utoipa::path(get, path = "/api/v1/exports/{dataset}", tag = "review", security(("bearer" = [])),
    params(("dataset" = String, Path, description = "`households`, `members`, `visits`, `reports`, `tasks`, `decisions`, `alerts`, `temporary_aid` or `applications`"), ExportParams),
    responses(
        (status = 200, description = "the ledger: a header row in Chinese, then one row per household, current member, submitted visit, report, task, decision or alert, in id order",
            content((String = "text/csv; charset=utf-8"),
                    (Vec<u8> = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"))),
        (status = 400, body = crate::error::ErrorBody, description = "`request.invalid` (`details.field`: `format`, `from`, `to`)"),
        (status = 403, body = crate::error::ErrorBody, description = "`policy.denied`: not a reviewer, or `unmask` without the permission"),
        (status = 404, body = crate::error::ErrorBody, description = "`not_found`: unknown dataset, or a region outside the caller's")))]
pub async fn export(
    State(state): State<SharedState>,
    ctx: AuthContext,
    Path(dataset): Path<String>,
    ApiQuery(params): ApiQuery<ExportParams>,
) -> ApiResult<Response> {
    let Some(dataset) = Dataset::parse(&dataset) else {
        return Err(ApiError::new(Code::NotFound));
    };
    let ex = exports::start(&state.db, &ctx.actor, dataset, &params).await?;
    respond(state, ex).await
}

/// The answer of a started export: CSV streamed page by page as it is read, XLSX once the
/// workbook is complete.
pub async fn respond(state: SharedState, ex: Export) -> ApiResult<Response> {
    let headers = [
        (header::CONTENT_TYPE, ex.format.content_type().to_string()),
        (
            header::CONTENT_DISPOSITION,
            format!("attachment; filename=\"{}\"", ex.file_name()),
        ),
        (header::CACHE_CONTROL, "no-store".to_string()),
    ];
    let body = match ex.format {
        Format::Csv => csv_body(state, ex),
        Format::Xlsx => xlsx_body(state, ex).await?,
    };
    Ok((headers, body).into_response())
}

/// Where a streamed CSV stands.
enum CsvState {
    Next { ex: Box<Export>, first: bool },
    Done,
}

fn csv_body(state: SharedState, ex: Export) -> Body {
    let s = stream::unfold(
        CsvState::Next {
            ex: Box::new(ex),
            first: true,
        },
        move |st| {
            let state = state.clone();
            async move {
                let CsvState::Next { mut ex, first } = st else {
                    return None;
                };
                let page = match ex.next_page(&state.db, &state.identity).await {
                    Ok(p) => p,
                    Err(e) => {
                        // The status is sent already: the download ends short, and says so.
                        tracing::error!(error = ?e, rows = ex.rows, "export failed midway");
                        return Some((Err(std::io::Error::other("export failed")), CsvState::Done));
                    }
                };
                let rows = match &page {
                    Some(rows) => rows.as_slice(),
                    None if first => &[],
                    None => return None,
                };
                let bytes = exports::csv_bytes(ex.dataset, rows, first)
                    .map(Bytes::from)
                    .map_err(|_| std::io::Error::other("export failed"));
                let next = if page.is_some() {
                    CsvState::Next { ex, first: false }
                } else {
                    CsvState::Done
                };
                Some((bytes, next))
            }
        },
    );
    Body::from_stream(s)
}

async fn xlsx_body(state: SharedState, mut ex: Export) -> ApiResult<Body> {
    let (tx, mut rx) = tokio::sync::mpsc::channel::<Vec<Vec<String>>>(2);
    let dataset = ex.dataset;
    // The workbook is written on a blocking thread, into worksheets kept in temporary files,
    // while the pages are read here.
    let writer = tokio::task::spawn_blocking(move || -> ApiResult<std::fs::File> {
        let mut book = XlsxWriter::new(dataset)?;
        while let Some(rows) = rx.blocking_recv() {
            book.write(&rows)?;
        }
        let mut file = tempfile::tempfile().map_err(ApiError::internal)?;
        book.finish(&mut file)?;
        file.seek(SeekFrom::Start(0)).map_err(ApiError::internal)?;
        Ok(file)
    });
    while let Some(rows) = ex.next_page(&state.db, &state.identity).await? {
        if tx.send(rows).await.is_err() {
            break;
        }
    }
    drop(tx);
    let file = writer.await.map_err(ApiError::internal)??;
    let file = tokio::fs::File::from_std(file);
    let s = stream::unfold(Some(file), |f| async move {
        let mut f = f?;
        let mut buf = vec![0u8; FILE_CHUNK];
        match f.read(&mut buf).await {
            Ok(0) => None,
            Ok(n) => {
                buf.truncate(n);
                Some((Ok(Bytes::from(buf)), Some(f)))
            }
            Err(e) => Some((Err(e), None)),
        }
    });
    Ok(Body::from_stream(s))
}
