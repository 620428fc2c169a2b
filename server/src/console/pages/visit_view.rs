//! A visit's page with its decisions, unmasking and conflict settlement, and the photos it shows.

use super::*;

/// The decision forms the reader may use; a decision refused for its comment comes back in its
/// form, with the message beside it and the comment kept.
/// What the decision forms start from: the programme applied for, the 低保 amount the rules
/// compute for the household (the means section shows how), and whether the region delegates
/// confirmation to the township (then its reviewers take the county's step).
#[derive(Debug, Clone, Copy, Default)]
pub(super) struct FormContext {
    pub applied_for: Option<Programme>,
    pub dibao_amount_fen: Option<i64>,
    pub delegated: bool,
}

/// The programmes a county approves on an application.
const AWARDED: [Programme; 5] = [
    Programme::Dibao,
    Programme::TekunDispersed,
    Programme::TekunCentralized,
    Programme::NearDibao,
    Programme::RigidExpenditure,
];

/// The fields of the county's decision (审批决定) within its confirm or refuse form.
fn award_fields(kind: ReviewDecision, d: &FormContext) -> String {
    match kind {
        ReviewDecision::Confirm => {
            let options: String = AWARDED
                .iter()
                .map(|p| {
                    format!(
                        "<option value=\"{}\"{}>{}</option>",
                        p.as_str(),
                        if d.applied_for == Some(*p) {
                            " selected"
                        } else {
                            ""
                        },
                        esc(p.label_zh())
                    )
                })
                .collect();
            let none = if d.applied_for.is_none() {
                "<option value=\"\" selected>请选择</option>"
            } else {
                ""
            };
            let amount = match d.applied_for {
                Some(Programme::Dibao) | None => d.dibao_amount_fen.map(html::yuan),
                _ => None,
            }
            .unwrap_or_default();
            format!(
                r#"<fieldset class="award"><legend>审批决定：批准（自次月起发放）</legend><label>批准的救助类别<select name="programme" required>{none}{options}</select></label><label>月保障金额（元，低保、特困必填）<input name="amount_yuan" inputmode="decimal" value="{amount}" pattern="[0-9]{{1,12}}(\.[0-9]{{1,2}})?"></label><label>文号（可选）<input name="reference" maxlength="100"></label></fieldset>"#,
                amount = esc(&amount),
            )
        }
        ReviewDecision::Reject => format!(
            r#"<label>书面告知日期<input type="date" name="notice_date" value="{}"></label>"#,
            deadlines::today()
                .map(|d| d.to_string())
                .unwrap_or_default()
        ),
        _ => String::new(),
    }
}

#[allow(clippy::too_many_arguments)]
pub(super) fn decision_forms(
    session: &Session,
    visit_id: &str,
    status: VisitStatus,
    purpose: Purpose,
    open_conflicts: usize,
    refused: Option<&Refused<'_>>,
    award: &FormContext,
) -> String {
    let mut s = String::new();
    for &kind in ReviewDecision::ALL {
        let Some(t) = kind.step(status, purpose) else {
            continue;
        };
        let action = review::level_action(t.level, award.delegated);
        if !decide(&session.reviewer.subject, action, Target::Scope).is_allowed() {
            continue;
        }
        let need = kind.needs_comment();
        let label = if need {
            "意见 / 理由（必填）"
        } else {
            "意见（可选）"
        };
        let (msg, text) = Refused::of(refused, kind.as_str());
        // An approval waits for the conflicts to be settled, or goes ahead with a reason.
        let gate = match kind {
            ReviewDecision::Approve | ReviewDecision::Confirm if open_conflicts > 0 => format!(
                r##"<p class="warn">有 {open_conflicts} 处<a href="#conflicts">冲突</a>尚未确认。</p><label class="choice"><input type="checkbox" name="override_conflicts" value="1"> 仍然{zh}（须在意见中写明理由，记入审核记录）</label>"##,
                zh = kind.label_zh(),
            ),
            _ => String::new(),
        };
        // The county's confirmation or refusal of an application decides it.
        let fields = match t.level == ReviewLevel::County && purpose.needs_county_confirmation() {
            true => award_fields(kind, award),
            false => String::new(),
        };
        s.push_str(&format!(
            r#"<form method="post" action="/console/visits/{id}/decision" class="decision d-{k}">{csrf}<input type="hidden" name="decision" value="{k}">{fields}<label>{label}<textarea name="comment" rows="2" maxlength="2000"{req}>{text}</textarea></label>{gate}{msg}<button type="submit">{zh}</button></form>"#,
            id = esc(visit_id),
            csrf = csrf_field(session),
            k = kind.as_str(),
            req = if need { " required" } else { "" },
            zh = kind.label_zh(),
        ));
    }
    if s.is_empty() {
        "<p class=\"sub\">当前状态下无需您处理。</p>".into()
    } else {
        format!("<div class=\"decisions\">{s}</div>")
    }
}

/// What the visit found about the members (成员核实) and the members it found who are not on
/// the record yet (增员).
fn member_checks(h: &Household, v: &Visit) -> String {
    let yes_no = |b: bool| if b { "是" } else { "否" };
    let mut s = String::from("<h3>本次走访的成员核实</h3>");
    let current: Vec<_> = h
        .members
        .iter()
        .filter(|(_, m)| m.removed_at.is_none())
        .collect();
    if current.is_empty() && v.member_checks.is_empty() {
        s.push_str("<p class=\"sub\">无。</p>");
    } else {
        let rows: String = current
            .iter()
            .map(|(id, m)| (**id, m.name.clone()))
            .chain(
                // A check of a member the record does not list (added on this visit) too.
                v.member_checks
                    .keys()
                    .filter(|id| !h.members.contains_key(*id))
                    .map(|id| {
                        let name = v.members_added.get(id).map(|a| a.name.clone());
                        (*id, name.unwrap_or_else(|| format!("（成员 {id}）")))
                    }),
            )
            .map(|(id, name)| match v.member_checks.get(&id) {
                Some(c) => format!(
                    "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
                    esc(&name),
                    yes_no(c.present),
                    yes_no(c.confirmed),
                    if c.removed {
                        format!(
                            "<strong>减员</strong> {}",
                            esc_opt(c.removal_reason.as_deref())
                        )
                    } else {
                        "否".into()
                    },
                    esc_opt(c.not_signed_reason.as_deref()),
                    esc_opt(c.note.as_deref()),
                ),
                None => format!(
                    "<tr><td>{}</td><td colspan=\"5\" class=\"warn\">本次走访未核实</td></tr>",
                    esc(&name)
                ),
            })
            .collect();
        s.push_str(&format!(
            r#"<table class="list checks"><thead><tr><th>姓名</th><th>在场</th><th>已核实</th><th>减员</th><th>未签字原因</th><th>备注</th></tr></thead><tbody>{rows}</tbody></table>"#
        ));
    }
    if !v.members_added.is_empty() {
        let rows: String = v
            .members_added
            .iter()
            .map(|(id, a)| {
                format!(
                    "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
                    esc(&a.name),
                    esc(a.relation.label_zh()),
                    esc_opt(a.identity.as_ref().map(|n| n.masked.as_str())),
                    esc_opt(a.note.as_deref()),
                    if h.members.contains_key(id) {
                        "已写入家庭档案"
                    } else {
                        "<span class=\"warn\">尚未写入家庭档案（不计入测算）</span>"
                    },
                )
            })
            .collect();
        s.push_str(&format!(
            r#"<h3>本次走访增员（{n} 人）</h3><table class="list added"><thead><tr><th>姓名</th><th>与户主关系</th><th>身份证号</th><th>备注</th><th>家庭档案</th></tr></thead><tbody>{rows}</tbody></table>"#,
            n = v.members_added.len(),
        ));
    }
    s
}

/// How a visit's page is laid out: for the screen, with its forms, conflicts and history, or
/// as the printable 入户调查表 (the paper case file, 一户一档): the same evidence and reviews,
/// numbers masked, nothing to click.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Layout {
    Screen,
    Print,
}

pub(super) async fn visit_page(
    state: &SharedState,
    session: &Session,
    id: &str,
    unmasked: Option<(&str, &IdNumber)>,
    refused: Option<&Refused<'_>>,
    layout: Layout,
) -> ApiResult<String> {
    let print = layout == Layout::Print;
    let db = &state.db;
    let r = &session.reviewer;
    let row = review::visible_visit(db, r, id).await?;
    let (visit_row, am) = load_doc(db, r, id).await?;
    let (_, v) = doc::read::<Visit, _>(&am).map_err(ApiError::internal)?;
    let items = queue::items(db, vec![row.clone()]).await?;
    let item = items.first();
    let hh_id = v.household.to_string();
    let (household_row, household) = match load_doc(db, r, &hh_id).await {
        Ok((row, hdoc)) => (
            Some(row),
            doc::read::<Household, _>(&hdoc).ok().map(|(_, h)| h),
        ),
        Err(_) => (None, None),
    };
    let can_unmask =
        !print && decide(&r.subject, Action::Unmask, Target::Region(&row.region_path)).is_allowed();
    let mut b = String::new();
    let limits = queue::Limits::load(db).await?;
    let mut award = FormContext {
        applied_for: v.applied_for,
        dibao_amount_fen: None,
        delegated: review::delegated(&limits, &row, crate::auth::now_ms()),
    };
    b.push_str(&format!(
        r#"<section class="summary"><dl>
<dt>状态</dt><dd><span class="status s-{st}">{status}</span>{flags}</dd>
<dt>走访类型</dt><dd>{purpose}{applied}</dd><dt>方式</dt><dd>{mode}{emerg}</dd>
<dt>开始 / 结束</dt><dd>{start} — {end}</dd><dt>提交时间</dt><dd>{sub}</dd>
<dt>办理期限</dt><dd{oc}>{due}</dd><dt>网格</dt><dd>{grid}</dd>
</dl></section>"#,
        st = esc(v.status.as_str()),
        status = esc(v.status.label_zh()),
        flags = match item {
            Some(i) if i.spot_check => " <span class=\"tag warn\">县级抽查</span>",
            Some(i) if i.tekun => " <span class=\"tag\">特困</span>",
            _ => "",
        },
        purpose = esc(v.purpose.label_zh()),
        applied = v
            .applied_for
            .map(|p| format!("（申请{}）", esc(p.label_zh())))
            .unwrap_or_default(),
        mode = esc(v.mode.label_zh()),
        emerg = v
            .emergency_reason
            .as_deref()
            .map(|e| format!("（{}）", esc(e)))
            .unwrap_or_default(),
        start = html::time(v.started_at.map(|t| t.0)),
        end = html::time(v.ended_at.map(|t| t.0)),
        sub = html::time(v.submitted_at.map(|t| t.0)),
        oc = if item.is_some_and(|i| i.overdue) {
            " class=\"overdue\""
        } else {
            ""
        },
        due = html::date(item.and_then(|i| i.due)),
        grid = html::region_label(
            &row.scope,
            &crate::regions::names(db, vec![row.scope.clone()]).await?
        ),
    ));
    if !print {
        b.push_str(&format!(
            r#"<p class="noprint"><a href="/console/visits/{}/print">打印入户调查表</a></p>"#,
            esc(id)
        ));
    }
    b.push_str("<h2>家庭</h2>");
    match &household {
        Some(h) => {
            b.push_str(&format!(
                r#"<p><a href="/console/households/{hid}">{addr}</a> · {hukou} · {progs}</p>"#,
                hid = esc(&hh_id),
                addr = esc(&h.address),
                hukou = esc_opt(h.hukou_type.map(|t| t.label_zh())),
                progs = esc(&h
                    .programmes
                    .iter()
                    .map(|p| p.label_zh())
                    .collect::<Vec<_>>()
                    .join("、")),
            ));
            b.push_str("<h3>家庭成员</h3>");
            b.push_str(&members_table(h, Some(id), session, can_unmask, unmasked));
            b.push_str(&member_checks(h, &v));
            if let Some(row) = &household_row {
                let (a, policy) = means::assess(state, &hh_id, &row.region_path, h).await?;
                award.dibao_amount_fen = a.dibao_amount.map(|m| m.as_fen());
                b.push_str("<h3>收入与测算</h3>");
                b.push_str(&means::section(h, &a, &policy));
            }
            // What the visit found is written into the household record by its investigators:
            // their changes to it from the start of the visit to its submission.
            if !print {
                let window = Window {
                    accounts: v.investigators.keys().map(|a| a.to_string()).collect(),
                    from_ms: v.started_at.map_or(0, |t| t.0),
                    to_ms: v.submitted_at.map_or(i64::MAX, |t| t.0),
                };
                b.push_str(
                    "<h3 title=\"走访人员在本次走访中对家庭档案所做的修改\">本次走访对家庭档案的修改</h3>",
                );
                b.push_str(&history(db, DocumentKind::Household, &hh_id, Some(window)).await?);
            }
        }
        None => b.push_str("<p class=\"sub\">家庭档案尚未同步。</p>"),
    }
    b.push_str("<h2>入户核查</h2><dl class=\"grid2\">");
    for (k, val) in [
        ("吃", &v.living.food),
        ("穿", &v.living.clothing),
        ("住", &v.living.housing),
        ("用", &v.living.daily_goods),
        ("健康情况", &v.health_notes),
        ("残疾情况", &v.disability_notes),
        ("劳动能力", &v.work_capacity_notes),
    ] {
        b.push_str(&format!("<dt>{k}</dt><dd>{}</dd>", esc_opt(val.as_deref())));
    }
    b.push_str("</dl>");
    if !v.comparisons.is_empty() {
        let rows: String = v
            .comparisons
            .values()
            .map(|c| {
                format!(
                    "<tr><td>{}</td><td>{}</td><td class=\"num\">{}</td><td class=\"num\">{}</td><td>{}</td></tr>",
                    esc(c.subject.label_zh()),
                    esc(&c.description),
                    c.declared_fen.map(html::yuan).unwrap_or_else(|| "—".into()),
                    c.observed_fen.map(html::yuan).unwrap_or_else(|| "—".into()),
                    esc_opt(c.note.as_deref()),
                )
            })
            .collect();
        b.push_str(&format!(
            r#"<h3>申报与核实对比</h3><table class="list"><thead><tr><th>类别</th><th>项目</th><th>申报（元）</th><th>核实（元）</th><th>说明</th></tr></thead><tbody>{rows}</tbody></table>"#
        ));
    }
    b.push_str(&format!(
        "<h2>调查结论</h2><p><strong>{}</strong> {}</p>",
        esc_opt(v.conclusion.map(|c| c.label_zh())),
        esc_opt(v.conclusion_notes.as_deref())
    ));
    let investigators: String = v
        .investigators
        .values()
        .map(|i| esc(&i.name))
        .collect::<Vec<_>>()
        .join("、");
    b.push_str(&format!("<h2>调查人员</h2><p>{investigators}</p>"));
    b.push_str("<h2>签字</h2><div class=\"thumbs\">");
    for (hash, s) in &v.signatures {
        let hash = hash.to_string();
        b.push_str(&blob_thumb(
            &hash,
            &format!("签字：{}（{}）", s.signer_name, s.role.label_zh()),
            &format!("/console/blobs/{hash}"),
        ));
    }
    b.push_str("</div><h2>照片</h2><div class=\"thumbs\">");
    b.push_str(&photo_thumbs(id, &v.photos));
    b.push_str("</div><h2>位置</h2>");
    b.push_str(&gps_text(v.gps.as_ref()));
    if print {
        b.push_str(&reviews_list(&v));
        return Ok(b);
    }
    let rt = format!("/console/visits/{id}");
    let mut conflicts = conflicts_section(db, session, &visit_row, "走访记录", &rt).await?;
    if let Some(row) = &household_row {
        conflicts.push_str(&conflicts_section(db, session, row, "家庭档案", &rt).await?);
    }
    let open_conflicts = conflicts.matches("class=\"conflict\"").count();
    if !conflicts.is_empty() {
        b.push_str("<h2 id=\"conflicts\">待确认的冲突</h2>");
        b.push_str(
            "<p class=\"sub\">两部手机离线时对同一字段写了不同的值。请核实后为每个字段选定取值；未选定前不能通过。</p>",
        );
        b.push_str(&conflicts);
    }
    b.push_str(&case_section(
        session,
        id,
        &v,
        item,
        award.delegated,
        refused,
    ));
    b.push_str(&notice_section(session, id, &v, refused));
    b.push_str("<h2>审核</h2>");
    b.push_str(&decision_forms(
        session,
        id,
        v.status,
        v.purpose,
        open_conflicts,
        refused,
        &award,
    ));
    b.push_str(&reviews_list(&v));
    b.push_str("<h2>修改记录</h2>");
    b.push_str(&history(db, DocumentKind::Visit, id, None).await?);
    Ok(b)
}

/// The reviews so far (审核意见), oldest first; nothing before the first.
fn reviews_list(v: &Visit) -> String {
    if v.reviews.is_empty() {
        return String::new();
    }
    let rows: String = v
        .reviews
        .iter()
        .map(|rv| {
            format!(
                "<li>{} · {} · <strong>{}</strong>{}</li>",
                html::time(Some(rv.at.0)),
                esc(&rv.reviewer_name),
                esc(rv.decision.label_zh()),
                rv.comment
                    .as_deref()
                    .map(|c| format!("：{}", esc(c)))
                    .unwrap_or_default()
            )
        })
        .collect();
    format!("<h3>审核意见</h3><ol class=\"reviews\">{rows}</ol>")
}

/// `/console/visits/{id}/print`: the visit as the printable 入户调查表, A4, without the console
/// around it.
pub async fn print(
    State(state): State<SharedState>,
    session: Session,
    Path(id): Path<String>,
) -> Response {
    match visit_page(&state, &session, &id, None, None, Layout::Print).await {
        Ok(body) => secure(html_response(
            StatusCode::OK,
            html::bare(
                "入户调查表",
                &format!(
                    r#"<div class="printable casefile"><p class="noprint"><a href="/console/visits/{id}">← 返回走访记录</a> · 用浏览器的“打印”打印本页（A4）。</p><h1>入户调查表</h1><p class="sub">走访编号 {id} · 打印时间 {at} · 身份证号已脱敏</p>{body}</div>"#,
                    id = esc(&id),
                    at = html::time(Some(crate::auth::now_ms())),
                ),
            ),
        )),
        Err(e) => error_page(e),
    }
}

/// Query of a visit's page: after a decision, where the reviewer goes next.
#[derive(Debug, Default, serde::Deserialize)]
#[serde(default)]
pub struct AfterDecision {
    /// The next visit waiting in the reviewer's queue, or `none`.
    next: Option<String>,
}

pub async fn visit(
    State(state): State<SharedState>,
    session: Session,
    Path(id): Path<String>,
    q: Result<Query<AfterDecision>, axum::extract::rejection::QueryRejection>,
) -> Response {
    let next = q.ok().and_then(|q| q.0.next);
    let banner = match next.as_deref() {
        Some("none") => "<p class=\"notice\" role=\"status\">决定已记录。队列中没有其他待审核的走访，<a href=\"/console/queue\">返回审核队列</a>。</p>".to_string(),
        Some(n) if doudi_protocol::ids::DocumentId::parse(n).is_ok() => format!(
            "<p class=\"notice\" role=\"status\">决定已记录。<a href=\"/console/visits/{}\">下一个待审核 →</a></p>",
            esc(n)
        ),
        _ => String::new(),
    };
    match visit_page(&state, &session, &id, None, None, Layout::Screen).await {
        Ok(body) => ok_page("走访记录", &session, "queue", &format!("{banner}{body}")),
        Err(e) => error_page(e),
    }
}

/// Where to go after a decision on `id`: the first other visit waiting in the reviewer's queue
/// (its default status), `none` when nothing else waits, `None` when the queue could not be read
/// (then the page says nothing about what waits).
async fn next_in_queue(state: &SharedState, session: &Session, id: &str) -> Option<String> {
    let page = crate::review::queue::queue(
        &state.db,
        &session.reviewer,
        &Default::default(),
        state.settings.queue_count_cap,
    )
    .await;
    let page = page.ok()?;
    Some(
        page.items
            .into_iter()
            .map(|i| i.visit_id)
            .find(|v| v != id)
            .unwrap_or_else(|| "none".to_string()),
    )
}

pub async fn decision(
    State(state): State<SharedState>,
    session: Session,
    Path(id): Path<String>,
    form: FormResult,
) -> Response {
    let fields = match checked_form(&session, form) {
        Ok(f) => f,
        Err(r) => return r,
    };
    let Some(kind) = fields
        .get("decision")
        .and_then(|d| ReviewDecision::parse(d))
    else {
        return error_page(ApiError::new(crate::error::Code::InvalidRequest));
    };
    let comment = fields.get("comment").map(String::as_str);
    // A refusal decides against a family: it is asked for twice, the second time with the reason
    // shown back (a blank reason goes on to be refused in its form).
    if kind == ReviewDecision::Reject
        && fields.get("confirmed").map(String::as_str) != Some("1")
        && comment.is_some_and(|c| !c.trim().is_empty())
    {
        let notice = fields.get("notice_date").map(String::as_str);
        return match confirm_refusal(&state, &session, &id, comment.unwrap_or(""), notice).await {
            Ok(body) => html_response(
                StatusCode::OK,
                layout("确认不予通过", &session, "queue", &body),
            ),
            Err(e) => error_page(e),
        };
    }
    let decided = match award_of(&fields) {
        Ok(award) => {
            let request = review::DecisionRequest {
                kind,
                comment,
                override_conflicts: fields.get("override_conflicts").map(String::as_str)
                    == Some("1"),
                award,
            };
            review::decide_visit(
                &state.db,
                &session.reviewer,
                &id,
                &request,
                state.settings.spot_check_percent,
            )
            .await
        }
        Err(e) => Err(e),
    };
    let e = match decided {
        Ok(_) => {
            let to = match next_in_queue(&state, &session, &id).await {
                Some(next) => format!("/console/visits/{id}?next={next}"),
                None => format!("/console/visits/{id}"),
            };
            return secure(Redirect::to(&to).into_response());
        }
        Err(e) => e,
    };
    // A comment refused (blank where one is needed, too long) comes back in its form.
    let Some(refused) = Refused::new(kind.as_str(), comment.unwrap_or(""), &e) else {
        return error_page(e);
    };
    match visit_page(&state, &session, &id, None, Some(&refused), Layout::Screen).await {
        Ok(body) => html_response(refused.status, layout("走访记录", &session, "queue", &body)),
        Err(e) => error_page(e),
    }
}

/// The county's decision typed into a confirm or refuse form.
fn award_of(fields: &HashMap<String, String>) -> ApiResult<Award> {
    let field = |k: &str| fields.get(k).map(|v| v.trim()).filter(|v| !v.is_empty());
    let bad = crate::review::award::invalid;
    Ok(Award {
        programme: match field("programme") {
            None => None,
            Some(p) => Some(
                Programme::parse(p)
                    .ok_or_else(|| bad("programme", "未知的救助类别。", "Unknown programme."))?,
            ),
        },
        amount_fen_per_month: match field("amount_yuan") {
            None => None,
            Some(a) => Some(html::parse_yuan(a).ok_or_else(|| {
                bad(
                    "amount_fen_per_month",
                    "月保障金额请填写数字，最多两位小数（元）。",
                    "Type the monthly amount in yuan, with at most two decimals.",
                )
            })?),
        },
        reference: field("reference").map(str::to_string),
        notice_date: match field("notice_date") {
            None => None,
            Some(d) => Some(d.parse().map_err(|_| {
                bad(
                    "notice_date",
                    "书面告知日期格式应为 年-月-日。",
                    "The notice date is YYYY-MM-DD.",
                )
            })?),
        },
    })
}

/// The page that asks a reviewer to confirm a refusal (不予通过), with the reason typed.
async fn confirm_refusal(
    state: &SharedState,
    session: &Session,
    id: &str,
    comment: &str,
    notice_date: Option<&str>,
) -> ApiResult<String> {
    let row = review::visible_visit(&state.db, &session.reviewer, id).await?;
    let notice = match notice_date {
        Some(d) => format!(
            r#"<input type="hidden" name="notice_date" value="{d}"><p>书面告知日期：{d}</p>"#,
            d = esc(d)
        ),
        None => String::new(),
    };
    Ok(format!(
        r#"<p class="notice" role="alert">不予通过将写入审核记录并书面告知申请人，决定后不能撤回。请核对理由后确认。</p>
<p>走访类型：{purpose}</p>
<form method="post" action="/console/visits/{id}/decision" class="decision d-reject-confirm">{csrf}<input type="hidden" name="decision" value="reject"><input type="hidden" name="confirmed" value="1">{notice}<label>理由（必填）<textarea name="comment" rows="3" maxlength="2000" required>{comment}</textarea></label><button type="submit">确认不予通过</button></form>
<p><a href="/console/visits/{id}">返回，不作决定</a></p>"#,
        purpose = esc(&html::purpose_label(&row.purpose)),
        id = esc(id),
        csrf = csrf_field(session),
        comment = esc(comment),
    ))
}

/// The application (申请受理) of an investigation: how and when it was accepted, its papers, its
/// clocks (each marked 已超期 when past), the reason for a longer limit and the county's own
/// visits, with the forms that record them for those who may.
fn case_section(
    session: &Session,
    id: &str,
    v: &Visit,
    item: Option<&queue::QueueItem>,
    delegated: bool,
    refused: Option<&Refused<'_>>,
) -> String {
    if !v.purpose.needs_county_confirmation() {
        return String::new();
    }
    let yes = |b: bool| {
        if b {
            "已签"
        } else {
            "<strong class=\"overdue\">未签</strong>"
        }
    };
    let mut s = String::from("<h2 id=\"application\">申请与办理时限</h2><dl class=\"case\">");
    if let Some(stage) = deadlines::today().and_then(|t| v.case_stage(t)) {
        s.push_str(&format!(
            "<dt>办理环节</dt><dd data-code=\"{}\">{}</dd>",
            stage.as_str(),
            esc(stage.label_zh())
        ));
    }
    match &v.application {
        Some(a) => s.push_str(&format!(
            "<dt>受理日期</dt><dd>{}</dd><dt>申请方式</dt><dd>{}{}</dd><dt>诚信承诺书</dt><dd>{}</dd><dt>核对授权书</dt><dd>{}</dd>{}",
            a.accepted_on,
            esc(a.channel.label_zh()),
            a.proxy_name
                .as_deref()
                .map(|n| format!("（代办人：{}{}）", esc(n), if a.authorisation.is_some() { "，附委托书" } else { "" }))
                .unwrap_or_default(),
            yes(a.pledge_signed),
            yes(a.data_check_authorised),
            if a.kin_filing {
                "<dt>近亲属备案</dt><dd><span class=\"tag warn\">近亲属备案</span> 县级须入户核查后方可审核确认</dd>"
            } else {
                ""
            },
        )),
        None => s.push_str("<dt>受理日期</dt><dd>未记录（时限自提交之日起算）</dd>"),
    }
    if let Some(i) = item {
        let due = |d: Option<chrono::NaiveDate>, late: bool, unknown: bool| match d {
            Some(d) if late => format!("<span class=\"overdue\">{d}（已超期）</span>"),
            Some(d) => d.to_string(),
            None if unknown => "日历未知".into(),
            None => "—".into(),
        };
        s.push_str(&format!(
            "<dt>当前环节期限</dt><dd>{}</dd><dt>办理总时限</dt><dd>{}</dd>",
            due(i.due, i.overdue, i.calendar_unknown),
            if i.tekun {
                "特困供养按环节计时".to_string()
            } else {
                due(i.case_due, i.case_overdue, i.case_calendar_unknown)
            },
        ));
    }
    if let Some(e) = &v.extension {
        s.push_str(&format!(
            "<dt>延期说明</dt><dd>{} · {}</dd>",
            html::time(Some(e.at.0)),
            esc(&e.reason)
        ));
    }
    s.push_str("</dl>");
    if !v.county_visits.is_empty() {
        let rows: String = v
            .county_visits
            .iter()
            .map(|c| {
                format!(
                    "<li>{} · {}：{}</li>",
                    c.visited_on,
                    esc(&c.visitors),
                    esc(&c.findings)
                )
            })
            .collect();
        s.push_str(&format!("<h3>县级入户核查</h3><ul>{rows}</ul>"));
    } else if item.is_some_and(|i| i.county_visit_needed) {
        s.push_str("<p class=\"warn\">此案件须县级入户核查（抽查案件或近亲属备案），记录核查情况后方可审核确认。</p>");
    }
    let subject = &session.reviewer.subject;
    let csrf = csrf_field(session);
    let county = review::level_action(ReviewLevel::County, delegated);
    if matches!(v.status, VisitStatus::Submitted | VisitStatus::Approved)
        && decide(subject, county, Target::Scope).is_allowed()
    {
        let (msg, text) = Refused::of(refused, "county_visit");
        s.push_str(&format!(
            r#"<form method="post" action="/console/visits/{id}/county-visit" class="decision d-county-visit">{csrf}<fieldset><legend>记录县级入户核查</legend><label>核查日期<input type="date" name="visited_on" required></label><label>核查人员<input name="visitors" maxlength="2000" required></label><label>核查情况<textarea name="findings" rows="2" maxlength="2000" required>{text}</textarea></label></fieldset>{msg}<button type="submit">记录核查</button></form>"#,
            id = esc(id)
        ));
    }
    if v.extension.is_none()
        && matches!(
            v.status,
            VisitStatus::Submitted | VisitStatus::Returned | VisitStatus::Approved
        )
        && decide(subject, Action::ReviewVisit, Target::Scope).is_allowed()
    {
        let (msg, text) = Refused::of(refused, "extension");
        s.push_str(&format!(
            r#"<form method="post" action="/console/visits/{id}/extension" class="decision d-extension">{csrf}<fieldset><legend>延期说明（特殊情况办理总时限延至 45 个工作日）</legend><label>延期原因<textarea name="reason" rows="2" maxlength="2000" required>{text}</textarea></label></fieldset>{msg}<button type="submit">记录延期说明</button></form>"#,
            id = esc(id)
        ));
    }
    s
}

/// The application's 公示: its period, the objections raised and the appraisals held, and for a
/// reviewer of the region while it awaits confirmation, the forms that record them.
fn notice_section(session: &Session, id: &str, v: &Visit, refused: Option<&Refused<'_>>) -> String {
    let Some(from) = v.notice_from else {
        return String::new();
    };
    let mut s = format!(
        "<h2>公示</h2><p>公示期：{from} 至 {}{}</p>",
        v.notice_until.map(|d| d.to_string()).unwrap_or_default(),
        match (v.notice_until, deadlines::today()) {
            (Some(u), Some(t)) if u >= t => "（公示中，期满后方可审核确认）",
            _ => "（已期满）",
        }
    );
    if !v.objections.is_empty() {
        let rows: String = v
            .objections
            .iter()
            .map(|o| {
                format!(
                    "<li>{} · {}：{}</li>",
                    html::time(Some(o.at.0)),
                    esc(&o.objector),
                    esc(&o.detail)
                )
            })
            .collect();
        s.push_str(&format!("<h3>异议</h3><ul>{rows}</ul>"));
    }
    if !v.appraisals.is_empty() {
        let rows: String = v
            .appraisals
            .iter()
            .map(|a| {
                let record = a
                    .record_photo
                    .as_ref()
                    .and_then(|h| v.photos.keys().position(|k| k == h))
                    .map(|n| {
                        format!(
                            "，<a href=\"{}\">签字记录</a>",
                            super::photo_view::photo_link(id, n + 1)
                        )
                    })
                    .unwrap_or_default();
                format!(
                    "<li>{} 民主评议：参加 {} 人，赞成 {}，反对 {}{record}</li>",
                    a.held_on, a.participants, a.votes_for, a.votes_against
                )
            })
            .collect();
        s.push_str(&format!("<h3>民主评议</h3><ul>{rows}</ul>"));
    }
    let open = matches!(
        v.confirmation_hold(deadlines::today().unwrap_or(from), false),
        Some(doudi_protocol::doc::visit::ConfirmationHold::ObjectionOpen)
    );
    if open {
        s.push_str("<p class=\"warn\">有异议尚未处理：退回重新调查，或记录民主评议结果后方可审核确认。</p>");
    }
    let may = v.status == VisitStatus::Approved
        && decide(
            &session.reviewer.subject,
            Action::ReviewVisit,
            Target::Scope,
        )
        .is_allowed();
    if may {
        let csrf = csrf_field(session);
        let (msg, text) = Refused::of(refused, "objection");
        s.push_str(&format!(
            r#"<form method="post" action="/console/visits/{id}/objection" class="decision d-objection">{csrf}<fieldset><legend>记录公示异议</legend><label>异议人（不公开）<input name="objector" maxlength="2000" required></label><label>异议内容<textarea name="detail" rows="2" maxlength="2000" required>{text}</textarea></label></fieldset>{msg}<button type="submit">记录异议</button></form>"#,
            id = esc(id)
        ));
        let (msg, _) = Refused::of(refused, "appraisal");
        s.push_str(&format!(
            r#"<form method="post" action="/console/visits/{id}/appraisal" enctype="multipart/form-data" class="decision d-appraisal">{csrf}<fieldset><legend>记录民主评议</legend><label>评议日期<input type="date" name="held_on" required></label><label>参加人数<input name="participants" inputmode="numeric" required></label><label>赞成<input name="votes_for" inputmode="numeric" required></label><label>反对<input name="votes_against" inputmode="numeric" required></label><label>签字记录照片<input type="file" name="record_photo" accept="image/jpeg,image/png" required></label></fieldset>{msg}<button type="submit">记录民主评议</button></form>"#,
            id = esc(id)
        ));
    }
    s
}

/// Record an objection or an appraisal from the visit page (`which`: the form); `photo` is the
/// signed record an appraisal's form uploaded.
async fn notice_form(
    state: SharedState,
    session: Session,
    id: String,
    form: FormResult,
    which: &'static str,
) -> Response {
    match checked_form(&session, form) {
        Ok(fields) => record_notice(state, session, id, fields, which, None).await,
        Err(r) => r,
    }
}

async fn record_notice(
    state: SharedState,
    session: Session,
    id: String,
    fields: super::super::FormFields,
    which: &'static str,
    photo: Option<ApiResult<crate::blobs::Sha256Hex>>,
) -> Response {
    use crate::review::notice::{self, Entry};
    let get = |k: &str| {
        fields
            .get(k)
            .map(|v| v.trim().to_string())
            .unwrap_or_default()
    };
    let bad = || {
        ApiError::new(crate::error::Code::InvalidRequest).with_message(
            "请完整填写日期和人数（数字）。",
            "Fill in the date and the counts (numbers).",
        )
    };
    let entry = match which {
        "objection" => Ok(Entry::Objection {
            objector: get("objector"),
            detail: get("detail"),
        }),
        "extension" => Ok(Entry::Extension {
            reason: get("reason"),
        }),
        "county_visit" => get("visited_on")
            .parse()
            .map(|visited_on| Entry::CountyVisit {
                visited_on,
                visitors: get("visitors"),
                findings: get("findings"),
            })
            .map_err(|_| {
                ApiError::new(crate::error::Code::InvalidRequest)
                    .with_message("请填写核查日期。", "Fill in the day of the visit.")
            }),
        _ => (|| {
            Some((
                get("held_on").parse().ok()?,
                get("participants").parse().ok()?,
                get("votes_for").parse().ok()?,
                get("votes_against").parse().ok()?,
            ))
        })()
        .ok_or_else(bad)
        .and_then(|(held_on, participants, votes_for, votes_against)| {
            let record_photo = photo.unwrap_or_else(|| Err(no_record_photo()))?;
            Ok(Entry::Appraisal {
                held_on,
                participants,
                votes_for,
                votes_against,
                record_photo,
            })
        }),
    };
    let out = match entry {
        Ok(e) => notice::record(&state.db, &session.reviewer, &id, e).await,
        Err(e) => Err(e),
    };
    let e = match out {
        Ok(()) => return secure(Redirect::to(&format!("/console/visits/{id}")).into_response()),
        Err(e) => e,
    };
    let text = match which {
        "extension" => get("reason"),
        "county_visit" => get("findings"),
        _ => get("detail"),
    };
    let Some(refused) = Refused::new(which, &text, &e) else {
        return error_page(e);
    };
    match visit_page(&state, &session, &id, None, Some(&refused), Layout::Screen).await {
        Ok(body) => html_response(refused.status, layout("走访记录", &session, "queue", &body)),
        Err(e) => error_page(e),
    }
}

pub async fn objection(
    State(state): State<SharedState>,
    session: Session,
    Path(id): Path<String>,
    form: FormResult,
) -> Response {
    notice_form(state, session, id, form, "objection").await
}

fn no_record_photo() -> ApiError {
    ApiError::new(crate::error::Code::InvalidRequest).with_message(
        "请上传民主评议签字记录的照片（JPEG 或 PNG）。",
        "Upload the photo of the appraisal's signed record (JPEG or PNG).",
    )
}

/// Record a democratic appraisal: a `multipart/form-data` form whose `record_photo` is the
/// photo of the signed record, kept in the blob store as the reviewer's upload.
pub async fn appraisal(
    State(state): State<SharedState>,
    session: Session,
    axum::Extension(blobs): axum::Extension<crate::http::blobs::Blobs>,
    Path(id): Path<String>,
    form: Result<axum::extract::Multipart, axum::extract::multipart::MultipartRejection>,
) -> Response {
    let form = match super::super::checked_multipart(&session, form, "record_photo").await {
        Ok(f) => f,
        Err(super::super::MultipartRefused::TooLarge) => {
            return error_page(ApiError::new(crate::error::Code::BlobTooLarge));
        }
        Err(super::super::MultipartRefused::Refused(r)) => return r,
    };
    let photo = match form.file {
        Some((_, bytes)) if !bytes.is_empty() => match blobs.get() {
            Ok(svc) => {
                svc.keep_whole(&state.db, &session.reviewer.account.id, bytes)
                    .await
            }
            Err(e) => Err(e),
        },
        _ => Err(no_record_photo()),
    };
    record_notice(state, session, id, form.fields, "appraisal", Some(photo)).await
}

pub async fn county_visit(
    State(state): State<SharedState>,
    session: Session,
    Path(id): Path<String>,
    form: FormResult,
) -> Response {
    notice_form(state, session, id, form, "county_visit").await
}

pub async fn extension(
    State(state): State<SharedState>,
    session: Session,
    Path(id): Path<String>,
    form: FormResult,
) -> Response {
    notice_form(state, session, id, form, "extension").await
}

pub async fn unmask(
    State(state): State<SharedState>,
    session: Session,
    Path(id): Path<String>,
    form: FormResult,
) -> Response {
    let fields = match checked_form(&session, form) {
        Ok(f) => f,
        Err(r) => return r,
    };
    let member = fields.get("member").cloned().unwrap_or_default();
    let numbers =
        match review::unmask_visit(&state.db, &state.identity, &session.reviewer, &id, &member)
            .await
        {
            Ok(n) => n,
            Err(e) => return error_page(e),
        };
    let entry = format!("{}.{member}", doudi_protocol::doc::household::key::MEMBERS);
    let shown = numbers.get(&entry).map(|n| (member.as_str(), n));
    match visit_page(&state, &session, &id, shown, None, Layout::Screen).await {
        Ok(body) => ok_page("走访记录", &session, "queue", &body),
        Err(e) => error_page(e),
    }
}

pub async fn resolve(
    State(state): State<SharedState>,
    session: Session,
    Path(id): Path<String>,
    form: FormResult,
) -> Response {
    let fields = match checked_form(&session, form) {
        Ok(f) => f,
        Err(r) => return r,
    };
    let path = fields.get("path").cloned().unwrap_or_default();
    let choice: usize = match fields.get("choice").and_then(|c| c.parse().ok()) {
        Some(c) => c,
        None => return error_page(ApiError::new(crate::error::Code::InvalidRequest)),
    };
    let back = return_address(fields.get("return_to").map(String::as_str));
    let res = review::resolve_conflict(&state.db, &session.reviewer, &id, &path, choice).await;
    match res {
        Ok(()) => secure(Redirect::to(&back).into_response()),
        Err(e) => error_page(e),
    }
}

/// A photo or signature of a visible document, for the visit page (the session's cookie, not a
/// token): the same reading rules as `GET /api/v1/blobs/{sha256}`; refusals are pages.
pub async fn blob(
    session: Session,
    State(state): State<SharedState>,
    axum::Extension(blobs): axum::Extension<crate::http::blobs::Blobs>,
    Path(sha): Path<String>,
    q: Result<Query<crate::http::blobs::DownloadQuery>, axum::extract::rejection::QueryRejection>,
    headers: axum::http::HeaderMap,
) -> Response {
    let thumb = match q {
        Ok(Query(q)) => q.thumb(),
        Err(_) => Err(ApiError::new(crate::error::Code::InvalidRequest)),
    };
    let served = match thumb {
        Ok(thumb) => {
            crate::http::blobs::serve(&state, &blobs, &session.reviewer, &sha, thumb, &headers)
                .await
        }
        Err(e) => Err(e),
    };
    served.unwrap_or_else(error_page)
}
