//! The publication page (公布名单): a region's approvals of a month, printable for the village's
//! notice board, with only the fields that may be published.

use super::*;
use chrono::Datelike;

use crate::review::publication;

/// Query of the publication page.
#[derive(Debug, Default, serde::Deserialize)]
#[serde(default)]
pub struct PublicationQuery {
    region: Option<String>,
    /// `YYYY-MM`; by default the current month.
    month: Option<String>,
    /// `notice`: the applications in their 公示 today; otherwise the month's approvals.
    kind: Option<String>,
}

pub async fn publication(
    State(state): State<SharedState>,
    session: Session,
    q: Result<Query<PublicationQuery>, axum::extract::rejection::QueryRejection>,
) -> Response {
    let q = q.map(|q| q.0).unwrap_or_default();
    let r = &session.reviewer;
    if let Err(e) = r
        .require(&state.db, Action::ReadCase, Target::Scope, "publication")
        .await
    {
        return error_page(e);
    }
    let this_month = deadlines::today()
        .map(|d| d.format("%Y-%m").to_string())
        .unwrap_or_default();
    let month_text = q
        .month
        .filter(|m| !m.trim().is_empty())
        .unwrap_or(this_month);
    let regions = scope_regions(&state.db, r).await.unwrap_or_default();
    let options: Vec<(String, String)> = regions
        .iter()
        .filter(|g| g.level == "village" || g.level == "township")
        .map(|g| (g.code.clone(), g.name.clone()))
        .collect();
    let notice = q.kind.as_deref() == Some("notice");
    let kinds = [
        ("approved".to_string(), "审批结果公布（按月）".to_string()),
        (
            "notice".to_string(),
            "申请公示（今日在公示期内）".to_string(),
        ),
    ];
    let form = format!(
        r#"<form method="get" action="/console/publication" class="filters noprint">{kind}{region}<label>月份 <input type="month" name="month" value="{month}"></label><button type="submit">生成名单</button></form>"#,
        kind = select("kind", "名单", &kinds, q.kind.as_deref()),
        region = select("region", "村（社区）", &options, q.region.as_deref()),
        month = esc(&month_text),
    );
    let Some(code) = q.region.filter(|c| !c.is_empty()) else {
        let body = format!(
            "{form}<p class=\"sub\">选择村（社区）和月份，生成当月经县级审批批准的救助对象公布名单（仅含户主姓名、保障人数和金额），可直接打印张贴。</p>"
        );
        return ok_page("公布名单", &session, "publication", &body);
    };
    if notice {
        let today = deadlines::today().unwrap_or_default();
        return match publication::notices(&state.db, r, &code, today).await {
            Ok((region, entries)) => {
                let rows: String = entries
                    .iter()
                    .enumerate()
                    .map(|(n, e)| {
                        format!(
                            "<tr><td class=\"num\">{}</td><td>{}</td><td class=\"num\">{}</td><td>{}</td><td>{}</td></tr>",
                            n + 1,
                            esc(&e.name),
                            e.household_size,
                            esc_opt(e.programme.map(|p| p.label_zh())),
                            e.until,
                        )
                    })
                    .collect();
                let table = match entries.is_empty() {
                    true => "<p>今日没有在公示期内的申请。</p>".to_string(),
                    false => format!(
                        r#"<table class="list publication"><thead><tr><th>序号</th><th>户主姓名</th><th>家庭人数</th><th>申请类别</th><th>公示截止</th></tr></thead><tbody>{rows}</tbody></table>"#
                    ),
                };
                let body = format!(
                    r#"{form}<section class="printable"><h2>{name}社会救助申请公示（{today}）</h2>{table}<p class="sub">公示期内对上述申请有异议的，可向村（居）民委员会、乡镇人民政府（街道办事处）反映。仅公示户主姓名、家庭人数和申请类别。</p></section><p class="noprint sub">使用浏览器的打印功能即可打印本名单。</p>"#,
                    name = esc(&region.name),
                );
                ok_page("公布名单", &session, "publication", &body)
            }
            Err(e) => error_page(e),
        };
    }
    let Some(month) = publication::parse_month(&month_text) else {
        let body = format!(
            "{form}<p class=\"error\" role=\"alert\">月份格式应为 年-月，例如 2026-12。</p>"
        );
        return html_response(
            StatusCode::UNPROCESSABLE_ENTITY,
            layout("公布名单", &session, "publication", &body),
        );
    };
    let list = match publication::list(&state.db, r, &code, month).await {
        Ok(l) => l,
        Err(e) => return error_page(e),
    };
    let rows: String = list
        .entries
        .iter()
        .enumerate()
        .map(|(n, e)| {
            format!(
                "<tr><td class=\"num\">{}</td><td>{}</td><td class=\"num\">{}</td><td>{}</td><td class=\"num\">{}</td><td>{}</td></tr>",
                n + 1,
                esc(&e.name),
                e.household_size.map(|s| s.to_string()).unwrap_or_else(|| "—".into()),
                esc_opt(e.programme.map(|p| p.label_zh())),
                e.amount_fen_per_month.map(html::yuan).unwrap_or_else(|| "—".into()),
                e.effective_from
                    .map(|d| d.format("%Y年%-m月").to_string())
                    .unwrap_or_else(|| "—".into()),
            )
        })
        .collect();
    let table = match list.entries.is_empty() {
        true => "<p>本月没有批准的救助对象。</p>".to_string(),
        false => format!(
            r#"<table class="list publication"><thead><tr><th>序号</th><th>户主姓名</th><th>保障人数</th><th>救助类别</th><th>月保障金额（元）</th><th>起始发放</th></tr></thead><tbody>{rows}</tbody></table>"#
        ),
    };
    let body = format!(
        r#"{form}<section class="printable"><h2>{name}{y}年{m}月社会救助审批结果公布</h2>{table}<p class="sub">依据《社会救助审核确认办法》，仅公布户主姓名、保障人数和保障金额。对公布结果有异议的，可向乡镇人民政府（街道办事处）或县级民政部门反映。</p></section><p class="noprint sub">使用浏览器的打印功能即可打印本名单（导航和筛选栏不会打印）。</p>"#,
        name = esc(&list.region.name),
        y = list.month.year(),
        m = list.month.month(),
    );
    ok_page("公布名单", &session, "publication", &body)
}
