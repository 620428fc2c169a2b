//! A household's means on the visit and household pages: the income lines as the rules count
//! them, the 低保 standard in force and where it comes from, the per-capita income, the 低保
//! amount, the indicators with their explanations, what is missing for a verdict, and "提示，不是
//! 结论". Every figure comes from `rules::assessment::assess_household`, the computation the
//! phones run offline; the console adds none of its own.

use std::collections::BTreeMap;

use doudi_protocol::doc::Household;
use doudi_protocol::rules::assessment::{self, Assessment, Context, Indicator};
use doudi_protocol::rules::income::{self, ItemOutcome};
use doudi_protocol::rules::means::Origin;
use doudi_protocol::rules::policy::Policy;
use doudi_protocol::rules::{Money, Text};

use super::html::{self, esc, esc_opt};
use crate::error::{ApiError, ApiResult};
use crate::http::SharedState;
use crate::review::{deadlines, recheck};

/// The assessment of a household today, with the policy it was made under (for the names of
/// local income types). `region_path` is the household's materialised path.
pub async fn assess(
    state: &SharedState,
    household_id: &str,
    region_path: &str,
    h: &Household,
) -> ApiResult<(Assessment, Policy)> {
    let (book, _) = crate::policies::load(&state.db)
        .await
        .map_err(ApiError::internal)?;
    let today = deadlines::today().ok_or_else(|| ApiError::internal("no local date"))?;
    let region = recheck::policy_region(region_path);
    let births =
        crate::identity::member_birth_dates(&state.db, &state.identity, household_id).await?;
    let a = assessment::assess_household(
        h,
        &Context {
            book: &book,
            region,
            as_of: today,
            birth_dates: &births,
        },
    );
    let policy = region
        .and_then(|r| book.resolve(r, today).ok())
        .unwrap_or_else(|| book.resolve_national(today));
    Ok((a, policy))
}

fn yuan(m: Money) -> String {
    html::yuan(m.as_fen())
}

fn line(t: &Text) -> String {
    format!("<li>{}</li>", esc(&t.zh))
}

/// The income lines, as the rules count them.
fn income_table(h: &Household, a: &Assessment, policy: &Policy) -> String {
    let outcomes: BTreeMap<Origin, &ItemOutcome> = a
        .income
        .iter()
        .flat_map(|i| &i.items)
        .map(|o| (o.origin, o))
        .collect();
    let name = |m: Option<&doudi_protocol::ids::MemberId>| {
        m.and_then(|m| h.members.get(m))
            .map(|m| m.name.as_str())
            .unwrap_or("全户")
    };
    let verdict = |origin: Origin| match outcomes.get(&origin) {
        Some(o) if o.excluded.is_some() => {
            let reason = o.text.zh.rsplit('，').next().unwrap_or("");
            format!("<span title=\"{}\">{}</span>", esc(&o.text.zh), esc(reason))
        }
        Some(o) if o.counted.as_fen() < 0 => format!("扣减 {}", yuan(Money(-o.counted.as_fen()))),
        Some(o) => format!("计入 {}", yuan(o.counted)),
        None => "—".to_owned(),
    };
    let mut rows = String::new();
    for (id, i) in &h.income {
        let (kind, _) = income::kind_labels(&i.kind, policy);
        rows.push_str(&format!(
            "<tr><td>{}</td><td>{}</td><td>{}</td><td class=\"num\">{}</td><td>{}</td><td class=\"num\">{}</td><td>{}</td><td>{}</td></tr>",
            esc(name(i.member.as_ref())),
            esc(i.class.label_zh()),
            esc(&kind),
            html::yuan(i.amount_fen),
            esc(i.period.label_zh()),
            html::yuan(i64::try_from(income::annual(i.amount_fen, i.period)).unwrap_or(i64::MAX)),
            verdict(Origin::Income(*id)),
            esc(i.source.label_zh()),
        ));
    }
    for (id, s) in &h.supporters {
        let (Some(fen), Some(period)) = (s.support_paid_fen, s.support_paid_period) else {
            continue;
        };
        rows.push_str(&format!(
            "<tr><td>{}（{}）</td><td>转移净收入</td><td>赡养（抚养、扶养）费</td><td class=\"num\">{}</td><td>{}</td><td class=\"num\">{}</td><td>{}</td><td>义务人给付</td></tr>",
            esc(&s.name),
            esc(&s.relation),
            html::yuan(fen),
            esc(period.label_zh()),
            html::yuan(i64::try_from(income::annual(fen, period)).unwrap_or(i64::MAX)),
            verdict(Origin::Supporter(*id)),
        ));
    }
    if rows.is_empty() {
        return "<p class=\"sub\">未登记收入。</p>".to_owned();
    }
    format!(
        r#"<table class="list"><thead><tr><th>成员</th><th>类别</th><th>项目</th><th>金额（元）</th><th>周期</th><th>折年（元）</th><th title="按政策规则计入的金额">计入</th><th>来源</th></tr></thead><tbody>{rows}</tbody></table>"#
    )
}

fn indicator_row(label: &str, i: &Indicator) -> String {
    let lines: String = i.explanation.iter().map(line).collect();
    format!(
        r#"<tr><td>{label}</td><td><span class="ind ind-{code}">{status}</span></td><td><details><summary>依据（{n} 条）</summary><ol>{lines}</ol></details></td></tr>"#,
        code = i.status.code(),
        status = i.status.label_zh(),
        n = i.explanation.len(),
    )
}

/// The means section of a page: income lines, figures, indicators, what is missing, the notice.
pub fn section(h: &Household, a: &Assessment, policy: &Policy) -> String {
    let mut b = income_table(h, a, policy);
    b.push_str("<section class=\"assessment\">");
    b.push_str(&format!(
        "<p class=\"notice\"><strong>{}</strong></p>",
        esc(&a.notice.zh)
    ));
    let standard = a.standard.as_ref().map(|s| &s.text);
    b.push_str(&format!(
        r#"<dl class="grid2 figures"><dt>低保标准</dt><dd{st_title}>{st}</dd><dt>共同生活成员</dt><dd>{size}</dd><dt>家庭年计入收入</dt><dd>{annual}</dd><dt title="家庭年计入收入 ÷ 共同生活成员 ÷ 12">人均月收入</dt><dd><strong>{pc}</strong></dd><dt>低保金额</dt><dd>{amount}</dd></dl>"#,
        st_title = standard
            .map(|t| format!(" title=\"{}\"", esc(&t.zh)))
            .unwrap_or_default(),
        st = esc_opt(standard.map(|t| t.zh.as_str())),
        size = a
            .household_size()
            .map_or_else(|| "—".to_owned(), |n| format!("{n} 人")),
        annual = a
            .income
            .as_ref()
            .map_or_else(|| "—".to_owned(), |i| format!("{} 元", yuan(i.annual_income))),
        pc = a
            .per_capita_monthly()
            .map_or_else(|| "—".to_owned(), |m| format!("{} 元/人·月", yuan(m))),
        amount = a
            .dibao_amount
            .map_or_else(|| "—".to_owned(), |m| format!("{} 元/月", yuan(m))),
    ));
    let i = &a.indicators;
    let rows = [
        indicator_row("低保", &i.dibao),
        indicator_row("低保边缘", &i.near_dibao),
        indicator_row("特困", &i.tekun),
        indicator_row("刚性支出困难", &i.rigid_expenditure),
        indicator_row("财产超限", &i.assets),
        indicator_row("参照单人户", &i.single_person),
    ]
    .concat();
    b.push_str(&format!(
        r#"<table class="list indicators"><thead><tr><th>测算线索</th><th>结果</th><th>依据</th></tr></thead><tbody>{rows}</tbody></table>"#
    ));
    if !a.missing.is_empty() {
        let items: String = a.missing.iter().map(line).collect();
        b.push_str(&format!(
            "<h4 title=\"作出判断还缺少的材料\">尚缺</h4><ul class=\"missing\">{items}</ul>"
        ));
    }
    b.push_str("</section>");
    b
}
