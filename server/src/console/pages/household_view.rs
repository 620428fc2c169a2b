//! The household search page and a household's record.

use super::*;

/// Household search: `/console/households?q=`.
pub async fn households(
    State(state): State<SharedState>,
    session: Session,
    params: Result<Query<search::SearchParams>, axum::extract::rejection::QueryRejection>,
) -> Response {
    let params = params.map(|q| q.0).unwrap_or_default();
    let q = params.q.as_deref().unwrap_or("").trim().to_string();
    let form = format!(
        r#"<form method="get" action="/console/households" class="filters"><label>户主、成员姓名，地址，或身份证号后四位 <input type="search" name="q" value="{}" maxlength="{}" title="户主或成员姓名开头、地址片段，或身份证号后四位"></label><button type="submit">查询</button></form>"#,
        esc(&q),
        search::MAX_QUERY_CHARS,
    );
    if q.is_empty() {
        // The empty search form too is for those who may read households.
        let r = &session.reviewer;
        if let Err(e) = r
            .require(
                &state.db,
                Action::ReadCase,
                Target::Scope,
                "households.search",
            )
            .await
        {
            return error_page(e);
        }
        return ok_page("家庭查询", &session, "households", &form);
    }
    let page = match search::search(&state.db, &state.identity, &session.reviewer, &params).await {
        Ok(p) => p,
        Err(e) if e.code == crate::error::Code::InvalidRequest => {
            let body = format!(
                "{form}<p class=\"error\" data-code=\"{}\">{}</p>",
                esc(e.code.as_str()),
                esc(e.message_zh.as_deref().unwrap_or(""))
            );
            return html_response(
                StatusCode::BAD_REQUEST,
                layout("家庭查询", &session, "households", &body),
            );
        }
        Err(e) => return error_page(e),
    };
    let rows: String = page
        .items
        .iter()
        .map(|h| {
            format!(
                r#"<tr><td><a href="/console/households/{id}">{head}</a></td><td>{addr}</td><td>{grid}</td><td>{n}</td><td>{tags}</td></tr>"#,
                id = esc(&h.household_id),
                head = esc_opt(h.head_name.as_deref()),
                addr = esc(&h.address),
                grid = esc(&h.grid),
                n = h.member_count,
                tags = if h.tekun { "<span class=\"tag\">特困</span>" } else { "" },
            )
        })
        .collect();
    let table = if page.items.is_empty() {
        "<p class=\"empty\">没有找到符合条件的家庭。</p>".to_string()
    } else {
        format!(
            r#"<table class="list"><thead><tr><th>户主</th><th>地址</th><th>网格</th><th>人数</th><th></th></tr></thead><tbody>{rows}</tbody></table>"#
        )
    };
    let mut pager = format!(
        "<nav class=\"pager\">共 {} 户 · 第 {}/{} 页 ",
        page.total, page.page, page.pages
    );
    let enc = url_encode(&page.q);
    if page.page > 1 {
        pager.push_str(&format!(
            "<a href=\"/console/households?q={enc}&amp;page={}\">上一页</a> ",
            page.page - 1
        ));
    }
    if page.page < page.pages {
        pager.push_str(&format!(
            "<a href=\"/console/households?q={enc}&amp;page={}\">下一页</a>",
            page.page + 1
        ));
    }
    pager.push_str("</nav>");
    if page.truncated {
        pager.push_str(&format!(
            "<p class=\"note\">匹配结果超过 {n} 条，仅显示前 {n} 条，请输入更完整的姓名或地址。</p>",
            n = search::MAX_MATCHES
        ));
    }
    ok_page(
        "家庭查询",
        &session,
        "households",
        &format!("{form}{table}{pager}"),
    )
}

/// The day a 刚性支出困难 recognition lapses (from its approval or last change), as a summary
/// line, or "" for a household not recognised.
fn rigid_lapse(h: &Household) -> String {
    use doudi_protocol::doc::household::Programme;
    use doudi_protocol::rules::schedule::rigid_expenditure_lapses_on;
    if !h.programmes.contains(&Programme::RigidExpenditure) {
        return String::new();
    }
    let Some(lapses) = h
        .last_decision(Programme::RigidExpenditure)
        .and_then(|d| deadlines::local_date(d.at.0))
        .and_then(|d| rigid_expenditure_lapses_on(d).ok())
    else {
        return String::new();
    };
    let lapsed = deadlines::today().is_some_and(|t| t >= lapses);
    format!(
        "<dt>刚性支出认定期满</dt><dd>{lapses}{}</dd>",
        if lapsed {
            "（已期满，需重新申请）"
        } else {
            ""
        }
    )
}

pub async fn household(
    State(state): State<SharedState>,
    session: Session,
    Path(id): Path<String>,
) -> Response {
    match household_page(&state, &session, &id).await {
        Ok(body) => ok_page("家庭档案", &session, "households", &body),
        Err(e) => error_page(e),
    }
}

pub(super) async fn household_page(
    state: &SharedState,
    session: &Session,
    id: &str,
) -> ApiResult<String> {
    let db = &state.db;
    let r = &session.reviewer;
    let (row, am) = load_doc(db, r, id).await?;
    let (_, h) =
        doc::read::<Household, _>(&am).map_err(|_| ApiError::new(crate::error::Code::NotFound))?;
    let mut b = format!(
        "<section class=\"summary\"><dl><dt>地址</dt><dd>{}</dd><dt>户籍</dt><dd>{}</dd><dt>救助类别</dt><dd>{}</dd>{}<dt>网格</dt><dd>{}</dd></dl></section>",
        esc(&h.address),
        esc_opt(h.hukou_type.map(|t| t.label_zh())),
        esc(&h
            .programmes
            .iter()
            .map(|p| p.label_zh())
            .collect::<Vec<_>>()
            .join("、")),
        rigid_lapse(&h),
        esc(&row.scope),
    );
    b.push_str("<h2>家庭成员</h2>");
    b.push_str(&members_table(&h, None, session, false, None));
    b.push_str(&super::super::tekun::household_section(&h));
    let (a, policy) = means::assess(state, id, &row.region_path, &h).await?;
    b.push_str("<h2>收入与测算</h2>");
    b.push_str(&means::section(&h, &a, &policy));
    b.push_str(&decisions_section(
        session,
        id,
        &row.region_path,
        &h,
        &a,
        &policy,
        None,
    ));
    let visits = visit::Entity::find()
        .filter(visit::Column::HouseholdId.eq(id))
        .order_by_desc(visit::Column::StartedAtMs)
        .limit(100)
        .all(db)
        .await?;
    let ids: Vec<String> = visits.iter().map(|v| v.doc_id.clone()).collect();
    let decisions = review_decision::Entity::find()
        .filter(review_decision::Column::VisitId.is_in(ids))
        .order_by_asc(review_decision::Column::AtMs)
        .all(db)
        .await?;
    let items: String = visits
        .iter()
        .filter(|v| r.subject.covers(&v.region_path))
        .map(|v| {
            let ds: String = decisions
                .iter()
                .filter(|d| d.visit_id == v.doc_id)
                .map(|d| {
                    format!(
                        "<li>{} {}{}</li>",
                        html::time(Some(d.at_ms)),
                        esc(ReviewDecision::parse(&d.decision).map(|k| k.label_zh()).unwrap_or("")),
                        d.comment.as_deref().map(|c| format!("：{}", esc(c))).unwrap_or_default()
                    )
                })
                .collect();
            format!(
                r#"<li><a href="/console/visits/{id}">{t} · {p}</a> <span class="status s-{st}">{s}</span><ul>{ds}</ul></li>"#,
                id = esc(&v.doc_id),
                t = html::time(v.started_at_ms),
                p = esc(&html::purpose_label(&v.purpose)),
                st = esc(&v.status),
                s = esc(&html::status_label(&v.status)),
            )
        })
        .collect();
    b.push_str(&format!(
        "<h2>走访时间线</h2><ol class=\"timeline\">{items}</ol>"
    ));
    b.push_str(&crate::console::tasks::household_section(db, session, id).await?);
    b.push_str(&crate::console::temporary_aid::household_section(db, session, id).await?);
    let rt = format!("/console/households/{id}");
    let c = conflicts_section(db, session, &row, "家庭档案", &rt).await?;
    if !c.is_empty() {
        b.push_str("<h2>待确认的冲突</h2>");
        b.push_str(&c);
    }
    b.push_str("<h2>修改记录</h2>");
    b.push_str(&history(db, DocumentKind::Household, id, None).await?);
    Ok(b)
}

/// The household's decisions (审批决定) and, for the county of its region while it is in 低保
/// or 特困, the forms of a phase-out (渐退) and a termination (终止); `refused` puts a refused
/// form back with its message and text.
fn decisions_section(
    session: &Session,
    id: &str,
    region_path: &str,
    h: &Household,
    a: &doudi_protocol::rules::assessment::Assessment,
    policy: &doudi_protocol::rules::policy::Policy,
    refused: Option<&Refused<'_>>,
) -> String {
    use doudi_protocol::doc::household::{DecisionOutcome, Programme};
    use doudi_protocol::rules::assessment::Status;
    let rows: String = h
        .decisions
        .iter()
        .rev()
        .map(|d| {
            let mut what = Vec::new();
            if let Some(a) = d.amount_fen_per_month {
                what.push(format!("月保障金额 {} 元", html::yuan(a)));
            }
            if let Some(m) = d.months {
                what.push(format!("渐退 {m} 个月"));
            }
            if let Some(f) = d.effective_from {
                what.push(format!("自 {f} 起"));
            }
            if let Some(n) = d.notice_date {
                what.push(format!("书面告知 {n}"));
            }
            format!(
                "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
                html::time(Some(d.at.0)),
                esc_opt(d.programme.map(|p| p.label_zh())),
                esc(d.outcome.label_zh()),
                esc(&what.join("，")),
                esc_opt(d.note.as_deref()),
            )
        })
        .collect();
    let mut s = String::from("<h2>审批决定</h2>");
    s.push_str(&match rows.is_empty() {
        true => "<p class=\"sub\">尚无审批决定。</p>".to_string(),
        false => format!(
            "<table class=\"list\"><thead><tr><th>时间</th><th>救助类别</th><th>决定</th><th>内容</th><th>理由 / 备注</th></tr></thead><tbody>{rows}</tbody></table>"
        ),
    });
    let county = decide(
        &session.reviewer.subject,
        Action::ConfirmCase,
        Target::Region(region_path),
    )
    .is_allowed();
    let in_dibao = h.programmes.contains(&Programme::Dibao);
    let in_benefit = in_dibao
        || h.programmes.contains(&Programme::TekunDispersed)
        || h.programmes.contains(&Programme::TekunCentralized);
    if !county || !in_benefit {
        return s;
    }
    let phasing = h
        .last_decision(Programme::Dibao)
        .is_some_and(|d| d.outcome == DecisionOutcome::PhaseOut);
    let range = crate::review::benefit::phase_out_range_zh(policy);
    if in_dibao && !phasing && a.indicators.dibao.status == Status::NotMet {
        s.push_str(&format!(
            "<p class=\"warn\">按现行标准，本户人均收入已不低于低保标准。收入因就业增加的，可决定渐退期（本地 {range}），期满后终止。</p>"
        ));
    }
    let csrf = csrf_field(session);
    if in_dibao && !phasing {
        let (msg, text) = Refused::of(refused, "phase_out");
        s.push_str(&format!(
            r#"<form method="post" action="/console/households/{id}/benefit" class="decision d-phase-out">{csrf}<input type="hidden" name="change" value="phase_out"><fieldset><legend>决定渐退（低保，本地 {range}）</legend><label>渐退月数<input name="months" inputmode="numeric" pattern="[0-9]{{1,3}}" required></label><label>渐退期间月保障金额（元，可选，默认现行金额）<input name="amount_yuan" inputmode="decimal"></label><label>理由（必填）<textarea name="reason" rows="2" maxlength="2000" required>{text}</textarea></label></fieldset>{msg}<button type="submit">决定渐退</button></form>"#,
            id = esc(id),
        ));
    }
    let (msg, text) = Refused::of(refused, "terminate");
    s.push_str(&format!(
        r#"<form method="post" action="/console/households/{id}/benefit" class="decision d-terminate">{csrf}<input type="hidden" name="change" value="terminate"><label>终止救助的理由（必填，自次月起停发）<textarea name="reason" rows="2" maxlength="2000" required>{text}</textarea></label>{msg}<button type="submit">决定终止</button></form>"#,
        id = esc(id),
    ));
    s
}

/// A county's change of benefit from the household page.
pub async fn benefit(
    State(state): State<SharedState>,
    session: Session,
    Path(id): Path<String>,
    form: FormResult,
) -> Response {
    use crate::review::benefit::{self as b, Change};
    let fields = match checked_form(&session, form) {
        Ok(f) => f,
        Err(r) => return r,
    };
    let kind = fields.get("change").cloned().unwrap_or_default();
    let reason = fields.get("reason").map(String::as_str);
    let bad = crate::review::award::invalid;
    let change = match kind.as_str() {
        "phase_out" => {
            let months = fields
                .get("months")
                .and_then(|m| m.trim().parse::<u32>().ok());
            let amount = match fields
                .get("amount_yuan")
                .map(|a| a.trim())
                .filter(|a| !a.is_empty())
            {
                None => Ok(None),
                Some(a) => html::parse_yuan(a).map(Some).ok_or_else(|| {
                    bad(
                        "amount_fen_per_month",
                        "月保障金额请填写数字，最多两位小数（元）。",
                        "Type the monthly amount in yuan, with at most two decimals.",
                    )
                }),
            };
            match (months, amount) {
                (Some(months), Ok(amount_fen_per_month)) => Ok(Change::PhaseOut {
                    months,
                    amount_fen_per_month,
                }),
                (None, _) => Err(bad(
                    "months",
                    "请填写渐退月数。",
                    "Give the months of the phase-out.",
                )),
                (_, Err(e)) => Err(e),
            }
        }
        "terminate" => Ok(Change::Terminate),
        _ => Err(ApiError::new(crate::error::Code::InvalidRequest)),
    };
    let out = match change {
        Ok(c) => b::decide(&state.db, &session.reviewer, &id, c, None, reason).await,
        Err(e) => Err(e),
    };
    let e = match out {
        Ok(_) => return secure(Redirect::to(&format!("/console/households/{id}")).into_response()),
        Err(e) => e,
    };
    let Some(refused) = Refused::new(&kind, reason.unwrap_or(""), &e) else {
        return error_page(e);
    };
    let page = async {
        let (row, am) = load_doc(&state.db, &session.reviewer, &id).await?;
        let (_, h) = doc::read::<Household, _>(&am).map_err(ApiError::internal)?;
        let (a, policy) = means::assess(&state, &id, &row.region_path, &h).await?;
        Ok::<_, ApiError>(decisions_section(
            &session,
            &id,
            &row.region_path,
            &h,
            &a,
            &policy,
            Some(&refused),
        ))
    };
    match page.await {
        Ok(body) => html_response(
            refused.status,
            layout(
                "家庭档案",
                &session,
                "households",
                &format!(
                    "<p><a href=\"/console/households/{}\">返回家庭档案</a></p>{body}",
                    esc(&id)
                ),
            ),
        ),
        Err(e) => error_page(e),
    }
}
