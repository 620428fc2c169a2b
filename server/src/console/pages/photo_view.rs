//! The photo viewer (照片查看): one photo of a visit or a discovery report at a time, large, with
//! its category, caption, capture time and place, and the previous and next photo of the same
//! record — links only, no script. Photos are in the order of their hashes, the order of the
//! record's page.

use super::*;
use doudi_protocol::doc::{DiscoveryReport, Photo};
use doudi_protocol::ids::BlobHash;

/// `/console/docs/{id}/photos/{n}`: photo `n` (from 1) of the visit or report `id`.
pub async fn photo(
    State(state): State<SharedState>,
    session: Session,
    Path((id, n)): Path<(String, usize)>,
) -> Response {
    match photo_page(&state, &session, &id, n).await {
        Ok((title, active, body)) => ok_page(title, &session, active, &body),
        Err(e) => error_page(e),
    }
}

/// The photos of a record, and where its page is.
fn photos_of(row: &document::Model, am: &Automerge) -> ApiResult<(Vec<(BlobHash, Photo)>, String)> {
    match row.kind.as_str() {
        "visit" => {
            let (_, v) = doc::read::<Visit, _>(am).map_err(ApiError::internal)?;
            Ok((
                v.photos.into_iter().collect(),
                format!("/console/visits/{}", row.id),
            ))
        }
        "discovery_report" => {
            let (_, r) = doc::read::<DiscoveryReport, _>(am).map_err(ApiError::internal)?;
            Ok((
                r.photos.into_iter().collect(),
                format!("/console/reports/{}", row.id),
            ))
        }
        _ => Err(ApiError::new(crate::error::Code::NotFound)),
    }
}

/// The photo viewer link of photo `n` (from 1) of record `id`.
pub(super) fn photo_link(id: &str, n: usize) -> String {
    format!("/console/docs/{}/photos/{n}", esc(id))
}

async fn photo_page(
    state: &SharedState,
    session: &Session,
    id: &str,
    n: usize,
) -> ApiResult<(&'static str, &'static str, String)> {
    let (row, am) = load_doc(&state.db, &session.reviewer, id).await?;
    let (photos, back) = photos_of(&row, &am)?;
    let active = if row.kind == "visit" {
        "queue"
    } else {
        "reports"
    };
    let Some((hash, p)) = n.checked_sub(1).and_then(|i| photos.get(i)) else {
        return Err(ApiError::new(crate::error::Code::NotFound));
    };
    let caption = photo_caption(p);
    let total = photos.len();
    let nav = |to: Option<usize>, label: &str| match to {
        Some(k) => format!(
            r#"<a href="{}" rel="{}">{label}</a>"#,
            photo_link(id, k),
            if k < n { "prev" } else { "next" }
        ),
        None => format!(r#"<span class="sub">{label}</span>"#),
    };
    let h = esc(&hash.to_string());
    let body = format!(
        r#"<nav class="photo-nav" aria-label="照片翻页">{prev} · 第 {n} / {total} 张 · {next} · <a href="{back}">返回记录</a></nav>
<figure class="photo"><a href="/console/blobs/{h}"><img src="/console/blobs/{h}" alt="{alt}" class="large"></a>
<figcaption><dl class="grid2"><dt>类别</dt><dd>{category}</dd><dt>说明</dt><dd>{text}</dd><dt>拍摄时间</dt><dd>{at}</dd><dt>拍摄地点</dt><dd>{gps}</dd></dl></figcaption></figure>"#,
        prev = nav((n > 1).then(|| n - 1), "← 上一张"),
        next = nav((n < total).then_some(n + 1), "下一张 →"),
        back = esc(&back),
        alt = esc(&caption),
        category = esc(p.category.label_zh()),
        text = esc_opt(p.caption.as_deref()),
        at = html::time(Some(p.captured_at.0)),
        gps = gps_text(p.gps.as_ref()),
    );
    Ok(("照片", active, body))
}
