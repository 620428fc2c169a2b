//! HTML building blocks. Every value from data goes through [`esc`].

use chrono::NaiveDate;

use super::Session;
use crate::review::deadlines;

/// Escape text for HTML content and attribute values.
pub fn esc(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

/// Escape an optional value, `—` when absent.
pub fn esc_opt(s: Option<&str>) -> String {
    s.map(esc).unwrap_or_else(|| "—".to_string())
}

fn head(title: &str) -> String {
    format!(
        r#"<!doctype html>
<html lang="zh-CN"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{} · 兜底审核台</title>
<link rel="stylesheet" href="/console/static/console.css">
</head>"#,
        esc(title)
    )
}

/// A page without navigation (login, errors).
pub fn bare(title: &str, body: &str) -> String {
    format!(
        "{}<body class=\"bare\"><main>{body}</main></body></html>",
        head(title)
    )
}

/// A page with the navigation bar of a logged-in user.
pub fn layout(title: &str, session: &Session, active: &str, body: &str) -> String {
    use crate::access::{Action, role_allows};
    let r = &session.reviewer;
    // Each page with what the role must be allowed to use it; the navigation shows the role's.
    let nav = [
        (
            "queue",
            "/console/queue",
            "审核队列",
            Action::ReadReviewLists,
        ),
        (
            "households",
            "/console/households",
            "家庭查询",
            Action::ReadCase,
        ),
        (
            "reports",
            "/console/reports",
            "主动发现",
            Action::ReadReviewLists,
        ),
        ("tasks", "/console/tasks", "任务", Action::ReadCase),
        (
            "care_gaps",
            "/console/tekun/care-gaps",
            "五有缺项",
            Action::ReadCase,
        ),
        (
            "monitoring",
            "/console/monitoring",
            "监测预警",
            Action::ReadReviewLists,
        ),
        (
            "temporary_aid",
            "/console/temporary-aid",
            "临时救助",
            Action::ReadReviewLists,
        ),
        (
            "dashboard",
            "/console/dashboard",
            "数据看板",
            Action::ReadCase,
        ),
        (
            "publication",
            "/console/publication",
            "公布名单",
            Action::ReadCase,
        ),
        ("map", "/console/map", "走访地图", Action::ReadReviewLists),
        (
            "quarterly",
            "/console/quarterly",
            "季度报告",
            Action::ReadReviewLists,
        ),
        ("exports", "/console/exports", "导出台账", Action::Export),
        (
            "admin",
            "/console/admin",
            "管理首页",
            Action::ManageAccounts,
        ),
        (
            "accounts",
            "/console/admin/accounts",
            "账号",
            Action::ManageAccounts,
        ),
        (
            "devices",
            "/console/admin/devices",
            "设备",
            Action::ManageDevices,
        ),
        (
            "enrolment",
            "/console/admin/enrolment",
            "手机登录码",
            Action::ManageDevices,
        ),
        (
            "audit",
            "/console/admin/audit",
            "审计日志",
            Action::ReadAudit,
        ),
        (
            "regions",
            "/console/admin/regions",
            "区划导入",
            Action::ManageRegions,
        ),
        (
            "policies",
            "/console/admin/policies",
            "救助政策",
            Action::ManageRegions,
        ),
        (
            "calendar",
            "/console/admin/calendar",
            "工作日历",
            Action::ManageRegions,
        ),
    ]
    .iter()
    .filter(|item| role_allows(r.subject.role, item.3))
    .map(|(key, href, zh, _)| {
        let cur = if *key == active {
            " aria-current=\"page\""
        } else {
            ""
        };
        format!("<a href=\"{href}\"{cur}>{zh}</a>")
    })
    .collect::<String>();
    format!(
        r#"{head}<body>
<header class="top"><span class="brand">兜底 · 审核台</span><nav>{nav}</nav>
<span class="who">{name}（{role}）</span>
<form method="post" action="/console/logout" class="inline"><input type="hidden" name="csrf" value="{csrf}"><button type="submit" class="link">退出</button></form>
</header>
<main><h1>{title}</h1>
{body}
</main></body></html>"#,
        body = label_cells(body),
        head = head(title),
        name = esc(&r.account.display_name),
        role = esc(role_zh(r.subject.role)),
        csrf = esc(&session.csrf),
        title = esc(title),
    )
}

/// The hidden CSRF field of a form.
/// Every data cell of every `<table class="list">` in `html` given the text of its column's
/// header as `data-label`: at phone width the stylesheet shows each row as a card whose cells
/// carry their column's name (`td::before`), instead of a table wider than the screen. Tables
/// are the console's own markup: a header row of `<th>`, then rows of `<td>`.
pub fn label_cells(html: &str) -> String {
    let mut out = String::with_capacity(html.len() + html.len() / 8);
    let mut rest = html;
    while let Some(start) = rest.find("<table class=\"list") {
        let Some(len) = rest[start..].find("</table>") else {
            break;
        };
        let end = start + len + "</table>".len();
        out.push_str(&rest[..start]);
        out.push_str(&label_table(&rest[start..end]));
        rest = &rest[end..];
    }
    out.push_str(rest);
    out
}

fn label_table(table: &str) -> String {
    let text = |cell: &str| -> String {
        let mut t = String::new();
        let mut in_tag = false;
        for c in cell.chars() {
            match c {
                '<' => in_tag = true,
                '>' => in_tag = false,
                '"' if !in_tag => t.push_str("&quot;"),
                c if !in_tag => t.push(c),
                _ => {}
            }
        }
        t.trim().to_string()
    };
    let headers: Vec<String> = table
        .split("<th")
        .skip(1)
        .filter_map(|c| {
            let body = &c[c.find('>')? + 1..];
            Some(text(&body[..body.find("</th>")?]))
        })
        .collect();
    if headers.is_empty() {
        return table.to_string();
    }
    let mut out = String::with_capacity(table.len() + 64);
    for (i, row) in table.split("<tr").enumerate() {
        if i > 0 {
            out.push_str("<tr");
        }
        let mut cells = row.split("<td");
        out.push_str(cells.next().unwrap_or_default());
        for (n, cell) in cells.enumerate() {
            out.push_str("<td");
            match headers.get(n).filter(|h| !h.is_empty()) {
                Some(h) if cell.starts_with('>') || cell.starts_with(' ') => {
                    out.push_str(&format!(" data-label=\"{h}\""));
                }
                _ => {}
            }
            out.push_str(cell);
        }
    }
    out
}

pub fn csrf_field(session: &Session) -> String {
    format!(
        "<input type=\"hidden\" name=\"csrf\" value=\"{}\">",
        esc(&session.csrf)
    )
}

pub fn role_zh(role: doudi_protocol::role::Role) -> &'static str {
    use doudi_protocol::role::Role::*;
    match role {
        GridWorker => "网格员",
        Assistant => "社会救助协理员",
        VillageCadre => "村干部",
        TownReviewer => "乡镇审核",
        CountyApprover => "县级审核确认",
        Admin => "管理员",
    }
}

/// A unix-ms instant as China local time, `YYYY-MM-DD HH:MM`.
pub fn time(ms: Option<i64>) -> String {
    ms.and_then(deadlines::local)
        .map(|t| t.format("%Y-%m-%d %H:%M").to_string())
        .unwrap_or_else(|| "—".to_string())
}

pub fn date(d: Option<NaiveDate>) -> String {
    d.map(|d| d.format("%Y-%m-%d").to_string())
        .unwrap_or_else(|| "—".to_string())
}

/// Fen as yuan with two decimals.
pub fn yuan(fen: i64) -> String {
    doudi_protocol::rules::Money::fen(fen).to_string()
}

/// An amount typed in yuan (`1234`, `1234.5`, `1234.56`) in fen; `None` for anything else
/// (a sign, more than two decimals, more than 12 digits).
pub fn parse_yuan(s: &str) -> Option<i64> {
    let s = s.trim();
    let (whole, frac) = s.split_once('.').unwrap_or((s, ""));
    let digits = |t: &str| t.bytes().all(|b| b.is_ascii_digit());
    if whole.is_empty() || whole.len() > 12 || frac.len() > 2 || !digits(whole) || !digits(frac) {
        return None;
    }
    let frac: i64 = format!("{frac:0<2}").parse().ok()?;
    whole
        .parse::<i64>()
        .ok()?
        .checked_mul(100)?
        .checked_add(frac)
}

/// A grid (or other region) as reviewers know it: its name, with the code after it; the code
/// alone when the name is not known. Escaped.
/// The grid (last part) of a materialised region path.
pub fn grid_of(region_path: &str) -> String {
    region_path
        .trim_end_matches('/')
        .rsplit('/')
        .next()
        .unwrap_or("")
        .to_string()
}

pub fn region_label(code: &str, names: &std::collections::HashMap<String, String>) -> String {
    match names.get(code) {
        Some(n) => format!("{}（{}）", esc(n), esc(code)),
        None => esc(code),
    }
}

/// Label of a code-enum value (visit status, purpose, ...), by code.
pub fn status_label(code: &str) -> String {
    use doudi_protocol::doc::visit::VisitStatus;
    VisitStatus::parse(code)
        .map(|s| s.label_zh().to_string())
        .unwrap_or_else(|| code.to_string())
}

pub fn purpose_label(code: &str) -> String {
    use doudi_protocol::doc::visit::Purpose;
    Purpose::parse(code)
        .map(|s| s.label_zh().to_string())
        .unwrap_or_else(|| code.to_string())
}

/// Width of a chart in SVG units: about the width of the grid cell it is drawn in (380 px and
/// up), so that its text is drawn near the size it is written in, not scaled down to a few
/// pixels.
const CHART_W: usize = 380;

/// A horizontal bar chart as inline SVG: one bar per (label, value).
pub fn bar_chart(title: &str, rows: &[(String, u64)]) -> String {
    let max = rows.iter().map(|r| r.1).max().unwrap_or(0).max(1);
    let row_h = 26;
    let label_w = 120;
    let bar_w = CHART_W - label_w - 50;
    let h = row_h * rows.len().max(1) + 10;
    let mut s = format!(
        r#"<figure class="chart"><figcaption>{}</figcaption><svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {CHART_W} {h}" width="100%" role="img" aria-label="{}">"#,
        esc(title),
        esc(title),
    );
    for (i, (label, v)) in rows.iter().enumerate() {
        let y = 5 + i * row_h;
        let len = (*v as usize * bar_w) / max as usize;
        s.push_str(&format!(
            r#"<text x="{tx}" y="{ty}" text-anchor="end" class="lbl">{l}</text><rect x="{label_w}" y="{y}" width="{len}" height="18" class="bar"/><text x="{vx}" y="{ty}" class="val">{v}</text>"#,
            tx = label_w - 6,
            ty = y + 14,
            l = esc(label),
            vx = label_w + len + 6,
        ));
    }
    s.push_str("</svg></figure>");
    s
}

/// A column chart of a series (e.g. visits per day) as inline SVG, labelled every few columns
/// so that the labels do not overlap.
pub fn column_chart(title: &str, rows: &[(String, u64)]) -> String {
    let max = rows.iter().map(|r| r.1).max().unwrap_or(0).max(1);
    let n = rows.len().max(1);
    let left = 34;
    let step = ((CHART_W - left - 6) / n).max(3);
    let gap = (step / 5).max(1);
    let col_w = step - gap;
    let chart_h = 120;
    // A label ("12-07") is about 40 units wide.
    let every = 44usize.div_ceil(step).max(1);
    let mut s = format!(
        r#"<figure class="chart"><figcaption>{}</figcaption><svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {CHART_W} {h}" width="100%" role="img" aria-label="{}">"#,
        esc(title),
        esc(title),
        h = chart_h + 40,
    );
    s.push_str(&format!(
        r#"<text x="0" y="12" class="val">{max}</text><line x1="30" y1="{b}" x2="{CHART_W}" y2="{b}" class="axis"/>"#,
        b = chart_h + 10
    ));
    for (i, (label, v)) in rows.iter().enumerate() {
        let x = left + i * step;
        let hgt = (*v as usize * chart_h) / max as usize;
        s.push_str(&format!(
            r#"<rect x="{x}" y="{y}" width="{col_w}" height="{hgt}" class="bar"><title>{l}: {v}</title></rect>"#,
            y = chart_h + 10 - hgt,
            l = esc(label),
        ));
        if i % every == 0 {
            s.push_str(&format!(
                r#"<text x="{x}" y="{ty}" class="lbl small">{l}</text>"#,
                ty = chart_h + 26,
                l = esc(label),
            ));
        }
    }
    s.push_str("</svg></figure>");
    s
}

/// A device's platform as the console names it.
pub fn platform_label(platform: &str) -> &'static str {
    match platform {
        "android" => "安卓手机",
        "ios" => "苹果手机",
        "web" => "网页控制台",
        "desktop" => "电脑客户端",
        "" => "",
        _ => "其他设备",
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn cells_carry_their_column_names() {
        let html = r#"<p>x</p><table class="list"><thead><tr><th>户主</th><th><a href="/s">地址</a></th></tr></thead><tbody><tr><td>王</td><td class="a">一村</td></tr></tbody></table><table class="plain"><tr><td>1</td></tr></table>"#;
        assert_eq!(
            super::label_cells(html),
            r#"<p>x</p><table class="list"><thead><tr><th>户主</th><th><a href="/s">地址</a></th></tr></thead><tbody><tr><td data-label="户主">王</td><td data-label="地址" class="a">一村</td></tr></tbody></table><table class="plain"><tr><td>1</td></tr></table>"#
        );
    }
}
