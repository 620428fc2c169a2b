//! A discovery report's page (主动发现报告): what the report says and who it is about (the
//! 身份证号 masked, shown in full only through an audited unmasking), its photos and location,
//! the verification tasks and visits it led to, the household it was registered with, its whole
//! history (every action, who and when), and the forms of the steps its state allows: assign a
//! verification visit, register (登记), confirm verified (核实), refer (转介), close. A form that
//! does not go through (a blank reason) comes back on this page with the message beside it and
//! the text kept.

use doudi_protocol::doc::DiscoveryReport;
use doudi_protocol::doc::discovery::{DiscoveryStatus, Target as ReportTarget};

use super::*;
use crate::console::triage::{report_status_label, urgency_label};
use crate::entity::{household, report_action, task};
use crate::review::deadlines;
use crate::review::recheck::task_status_label_zh;
use crate::review::{report_life, reports};

async fn report_page(
    state: &SharedState,
    session: &Session,
    id: &str,
    refused: Option<&Refused<'_>>,
    unmasked: Option<&IdNumber>,
) -> ApiResult<String> {
    let db = &state.db;
    let r = &session.reviewer;
    let row = reports::visible_report(db, r, id).await?;
    let (_, am) = load_doc(db, r, id).await?;
    let (_, rep) = doc::read::<DiscoveryReport, _>(&am).map_err(ApiError::internal)?;
    let actions = report_action::Entity::find()
        .filter(report_action::Column::ReportId.eq(id))
        .order_by_asc(report_action::Column::Id)
        .all(db)
        .await?;
    let tasks = task::Entity::find()
        .filter(task::Column::ReportId.eq(id))
        .order_by_asc(task::Column::CreatedAtMs)
        .all(db)
        .await?;
    let mut people: Vec<String> = vec![rep.reporter.to_string()];
    people.extend(actions.iter().map(|a| a.account_id.clone()));
    people.extend(tasks.iter().filter_map(|t| t.assignee_id.clone()));
    let names = display_names(db, people).await?;
    let name_of = |id: &str| names.get(id).map(String::as_str);
    let reporter = name_of(&rep.reporter.to_string())
        .or(rep.reporter_name.as_deref())
        .map(esc)
        .unwrap_or_else(|| "—".into());
    let case = reports::aid_cases(db, vec![id.to_string()])
        .await?
        .remove(id);
    let flagged = reports::flagged(&row, case.as_ref(), crate::auth::now_ms());

    let mut b = format!(
        r#"<p><a href="/console/reports">返回主动发现报告列表</a></p>
<section class="summary"><dl>
<dt>状态</dt><dd>{status}</dd><dt>发现渠道</dt><dd>{channel}</dd>
<dt>紧急程度</dt><dd>{urgency}</dd><dt>急难（24 小时内救助）</dt><dd>{emerg}{flag}</dd>
<dt>报告人</dt><dd>{reporter}</dd><dt>上报时间</dt><dd>{at}</dd>
<dt>网格</dt><dd>{grid}</dd><dt>对象类别</dt><dd>{groups}</dd>
</dl></section>"#,
        status = esc(&report_status_label(rep.status.as_str())),
        channel = esc_opt(rep.channel.map(|c| c.label_zh())),
        urgency = esc(&urgency_label(rep.urgency.map(|u| u.as_str()))),
        emerg = if rep.emergency_24h {
            "<strong class=\"emerg\">急难</strong>"
        } else {
            "否"
        },
        flag = if flagged {
            format!(
                " <span class=\"tag alert\">未在 {} 小时内先行救助</span>",
                deadlines::emergency_hours()
            )
        } else {
            String::new()
        },
        at = html::time(row.reported_at_ms),
        grid = html::region_label(
            &row.scope,
            &crate::regions::names(db, vec![row.scope.clone()]).await?
        ),
        groups = esc(&rep
            .target_groups
            .iter()
            .map(|g| g.label_zh())
            .collect::<Vec<_>>()
            .join("、")),
    );

    b.push_str("<h2>报告对象</h2>");
    match &rep.target {
        Some(ReportTarget::Person {
            name,
            identity,
            address,
            phone,
        }) => {
            let number = match identity {
                Some(n) => {
                    let may = decide(&r.subject, Action::Unmask, Target::Region(&row.region_path))
                        .is_allowed();
                    let action = format!("/console/reports/{id}/unmask");
                    let clear = unmasked.filter(|c| c.masked() == n.masked.as_str());
                    id_number(
                        session,
                        n.masked.as_str(),
                        clear,
                        may.then_some((action.as_str(), None)),
                    )
                }
                None => "—".into(),
            };
            b.push_str(&format!(
                r#"<dl class="grid2"><dt>姓名</dt><dd>{name}</dd><dt title="默认脱敏显示">身份证号</dt><dd>{number}</dd><dt>住址</dt><dd>{address}</dd><dt>联系电话</dt><dd>{phone}</dd></dl>"#,
                name = esc(name),
                address = esc_opt(address.as_deref()),
                phone = esc_opt(phone.as_deref()),
            ));
        }
        Some(ReportTarget::Household(h)) => {
            let hid = h.to_string();
            // The household's head and address only when the reader may read the household.
            let label = household_label(db, r, &hid).await?;
            b.push_str(&format!(
                r#"<p>已登记家庭：<a href="/console/households/{hid}">{label}</a></p>"#,
                hid = esc(&hid),
                label = esc(&label),
            ));
        }
        None => b.push_str("<p class=\"sub\">未填写。</p>"),
    }
    let registered = report_life::registered_household(&actions).map(str::to_string);
    if let Some(hid) = &registered {
        let label = household_label(db, r, hid).await?;
        b.push_str(&format!(
            r#"<p>登记家庭：<a href="/console/households/{hid}">{label}</a></p>"#,
            hid = esc(hid),
            label = esc(&label),
        ));
    }

    b.push_str(&format!(
        "<h2>情况说明</h2><p class=\"notes\">{}</p>",
        esc_opt(rep.notes.as_deref())
    ));
    b.push_str("<h2>照片</h2><div class=\"thumbs\">");
    b.push_str(&photo_thumbs(id, &rep.photos));
    b.push_str("</div><h2>位置</h2>");
    b.push_str(&gps_text(rep.gps.as_ref()));

    b.push_str("<h2>核实任务</h2>");
    if tasks.is_empty() {
        b.push_str("<p class=\"sub\">尚未指派核实。</p>");
    } else {
        let now = crate::auth::now_ms();
        let rows: String = tasks
            .iter()
            .map(|t| {
                let overdue = t.status == "open" && t.due_at_ms.is_some_and(|d| d < now);
                format!(
                    "<tr class=\"{cls}\"><td>{who}</td><td>{status}</td><td>{due}{flag}</td><td>{at}</td><td>{note}</td></tr>",
                    cls = if overdue { "flagged" } else { "" },
                    who = esc_opt(t.assignee_id.as_deref().and_then(name_of)),
                    status = esc(task_status_label_zh(&t.status)),
                    due = html::date(t.due_at_ms.and_then(deadlines::local_date)),
                    flag = if overdue { " <span class=\"tag alert\">已逾期</span>" } else { "" },
                    at = html::time(Some(t.created_at_ms)),
                    note = esc_opt(t.note.as_deref()),
                )
            })
            .collect();
        b.push_str(&format!(
            r#"<table class="list"><thead><tr><th>负责人</th><th>状态</th><th>到期日</th><th>指派时间</th><th>说明</th></tr></thead><tbody>{rows}</tbody></table>"#
        ));
    }
    let household = match &rep.target {
        Some(ReportTarget::Household(h)) => Some(h.to_string()),
        _ => None,
    }
    .or(registered.clone());
    let visits = reports::verification_visits(db, r, &row, household.as_deref()).await?;
    if !visits.is_empty() {
        let items: String = visits
            .iter()
            .map(|v| {
                format!(
                    r#"<li><a href="/console/visits/{id}">核实走访</a> · {status} · 提交于 {at}</li>"#,
                    id = esc(&v.doc_id),
                    status = esc(&html::status_label(&v.status)),
                    at = html::time(v.submitted_at_ms),
                )
            })
            .collect();
        b.push_str(&format!("<h3>核实走访</h3><ul>{items}</ul>"));
    }

    b.push_str("<h2>处理</h2>");
    let may_act = decide(&r.subject, Action::ReviewVisit, Target::Scope).is_allowed();
    if rep.status == DiscoveryStatus::Closed {
        b.push_str("<p class=\"sub\">该报告已办结。</p>");
    } else if may_act {
        let assignable = reports::assignable(db, &row.region_path).await?;
        let (assign_msg, note) = Refused::of(refused, "assign");
        let (close_msg, reason) = Refused::of(refused, "close");
        let opts: String = assignable
            .iter()
            .map(|a| {
                format!(
                    "<option value=\"{}\">{}（{}）</option>",
                    esc(&a.id),
                    esc(&a.display_name),
                    esc(&a.username)
                )
            })
            .collect();
        let next = step_forms(db, session, &row, &rep, household.as_deref(), refused).await?;
        b.push_str(&format!(
            r#"<div class="decisions">
<form method="post" action="/console/reports/{id}/assign" class="decision">{csrf}<label>指派给 <select name="assignee" required>{opts}</select></label><label>说明（可选）<textarea name="note" rows="2" maxlength="2000">{note}</textarea></label>{assign_msg}<button type="submit">指派核实</button></form>
{next}<form method="post" action="/console/reports/{id}/close" class="decision d-reject">{csrf}<label>办结理由（必填）<textarea name="reason" rows="2" maxlength="2000" required>{reason}</textarea></label>{close_msg}<button type="submit">办结</button></form>
</div>"#,
            id = esc(id),
            csrf = csrf_field(session),
        ));
    } else {
        b.push_str("<p class=\"sub\">您无权处理该报告。</p>");
    }
    b.push_str("<h3>临时救助</h3>");
    match &case {
        Some(c) => b.push_str(&format!(
            "<p><a href=\"/console/temporary-aid/{}\">查看临时救助案件</a>（先行救助：{}）</p>",
            esc(&c.id),
            c.aid_given_at_ms
                .map(|t| html::time(Some(t)))
                .unwrap_or_else(|| "尚未救助".into()),
        )),
        None if may_act && rep.status != DiscoveryStatus::Closed => b.push_str(
            &crate::console::temporary_aid::report_form(session, id, rep.emergency_24h),
        ),
        None => b.push_str("<p class=\"sub\">未开立临时救助案件。</p>"),
    }
    if let Some(to) = actions.iter().rev().find_map(reports::Referred::of) {
        b.push_str(&format!(
            "<h3>转介</h3><dl class=\"summary\"><dt>{}</dt><dd>{}</dd><dt>转介日期</dt><dd>{}</dd></dl>",
            if to.programme.is_some() { "转介救助类别" } else { "转介部门" },
            esc(&to.label_zh()),
            esc(&to.referred_on),
        ));
    }
    if !actions.is_empty() {
        let items: String = actions
            .iter()
            .map(|a| {
                let what = report_life::action_label_zh(&a.action);
                format!(
                    "<li>{} · {} · <strong>{what}</strong>{}</li>",
                    html::time(Some(a.at_ms)),
                    esc_opt(name_of(&a.account_id)),
                    match (a.action.as_str(), a.note.as_deref()) {
                        ("register", Some(h)) => format!(
                            "：<a href=\"/console/households/{h}\">家庭档案</a>",
                            h = esc(h)
                        ),
                        ("verify", Some(v)) =>
                            format!("：<a href=\"/console/visits/{v}\">核实走访</a>", v = esc(v)),
                        (_, Some(n)) => format!("：{}", esc(n)),
                        (_, None) => String::new(),
                    },
                )
            })
            .collect();
        b.push_str(&format!(
            "<h3>处理记录</h3><ol class=\"reviews\">{items}</ol>"
        ));
    }
    Ok(b)
}

/// A household's head and address, when the reader may read the household; else a plain name.
async fn household_label(db: &DatabaseConnection, r: &Actor, hid: &str) -> ApiResult<String> {
    Ok(household::Entity::find_by_id(hid.to_string())
        .one(db)
        .await?
        .filter(|h| r.may(Action::ReadCase, Target::Region(&h.region_path)))
        .map(|h| reports::household_label(&h))
        .unwrap_or_else(|| "家庭档案".into()))
}

/// The forms of the report's next steps besides assigning and closing (which any open report
/// has): register a screened report, confirm a registered one verified, refer a verified one.
async fn step_forms(
    db: &DatabaseConnection,
    session: &Session,
    row: &crate::entity::report::Model,
    rep: &DiscoveryReport,
    household_id: Option<&str>,
    refused: Option<&Refused<'_>>,
) -> ApiResult<String> {
    let id = esc(&row.doc_id);
    let csrf = csrf_field(session);
    let next = rep.status.reviewer_next();
    let mut out = String::new();
    if next.contains(&DiscoveryStatus::Registered) {
        let (msg, _) = Refused::of(refused, "register");
        let households = household::Entity::find()
            .filter(household::Column::RegionPath.eq(row.region_path.as_str()))
            .order_by_asc(household::Column::Address)
            .limit(500)
            .all(db)
            .await?;
        let opts: String = households
            .iter()
            .map(|h| {
                format!(
                    "<option value=\"{v}\"{sel}>{l}</option>",
                    v = esc(&h.doc_id),
                    sel = if Some(h.doc_id.as_str()) == household_id {
                        " selected"
                    } else {
                        ""
                    },
                    l = esc(&reports::household_label(h)),
                )
            })
            .collect();
        out.push_str(&format!(
            r#"<form method="post" action="/console/reports/{id}/register" class="decision">{csrf}<label>登记到家庭档案 <select name="household_id" required>{opts}</select></label>{msg}<button type="submit">登记</button></form>
"#
        ));
    }
    if next.contains(&DiscoveryStatus::Verified) {
        let (msg, _) = Refused::of(refused, "verify");
        out.push_str(&format!(
            r#"<form method="post" action="/console/reports/{id}/verify" class="decision">{csrf}<p class="sub">主动发现核查走访提交后，确认报告已核实。</p>{msg}<button type="submit">确认已核实</button></form>
"#
        ));
    }
    if next.contains(&DiscoveryStatus::Referred) {
        let (msg, note) = Refused::of(refused, "refer");
        let programmes: String = Programme::ALL
            .iter()
            .map(|p| {
                format!(
                    "<option value=\"{}\">{}</option>",
                    p.as_str(),
                    esc(p.label_zh())
                )
            })
            .collect();
        let today = deadlines::today()
            .map(|d| d.to_string())
            .unwrap_or_default();
        out.push_str(&format!(
            r#"<form method="post" action="/console/reports/{id}/refer" class="decision">{csrf}<label>转介救助类别 <select name="programme"><option value="">（转介其他部门）</option>{programmes}</select></label><label>或转介部门 <input name="department" maxlength="100"></label><label>转介日期 <input type="date" name="referred_on" value="{today}" required></label><label>说明（可选）<textarea name="note" rows="2" maxlength="2000">{note}</textarea></label>{msg}<button type="submit">转介</button></form>
"#
        ));
    }
    Ok(out)
}

const TITLE: &str = "主动发现报告";

pub async fn report(
    State(state): State<SharedState>,
    session: Session,
    Path(id): Path<String>,
) -> Response {
    match report_page(&state, &session, &id, None, None).await {
        Ok(body) => ok_page(TITLE, &session, "reports", &body),
        Err(e) => error_page(e),
    }
}

/// The answer to a triage form: back to the report, or the report again with the form's
/// message and text when the input was refused (blank, too long, an assignee of another grid);
/// anything else is an error page.
async fn after_form(
    state: &SharedState,
    session: &Session,
    id: &str,
    form: &str,
    text: &str,
    outcome: ApiResult<()>,
) -> Response {
    let e = match outcome {
        Ok(()) => {
            return secure(Redirect::to(&format!("/console/reports/{id}")).into_response());
        }
        Err(e) => e,
    };
    let Some(refused) = Refused::new(form, text, &e) else {
        return error_page(e);
    };
    match report_page(state, session, id, Some(&refused), None).await {
        Ok(body) => html_response(refused.status, layout(TITLE, session, "reports", &body)),
        Err(e) => error_page(e),
    }
}

pub async fn report_unmask(
    State(state): State<SharedState>,
    session: Session,
    Path(id): Path<String>,
    form: FormResult,
) -> Response {
    if let Err(r) = checked_form(&session, form) {
        return r;
    }
    let number = match reports::unmask(&state.db, &state.identity, &session.reviewer, &id).await {
        Ok(n) => n,
        Err(e) => return error_page(e),
    };
    match report_page(&state, &session, &id, None, number.as_ref()).await {
        Ok(body) => ok_page(TITLE, &session, "reports", &body),
        Err(e) => error_page(e),
    }
}

/// A step's form (`assign`, `close`, `register`, `verify`, `refer`), once its CSRF token is
/// checked; answered by [`after_form`], with the form's note or reason kept.
pub async fn report_step(
    State(state): State<SharedState>,
    session: Session,
    Path((id, step)): Path<(String, String)>,
    form: FormResult,
) -> Response {
    let f = match checked_form(&session, form) {
        Ok(f) => f,
        Err(r) => return r,
    };
    let (db, r) = (&state.db, &session.reviewer);
    let field = |k: &str| f.get(k).map(String::as_str);
    let (kept, done) = match step.as_str() {
        "assign" => (
            field("note"),
            reports::assign(db, r, &id, field("assignee").unwrap_or(""), field("note"))
                .await
                .map(|_| ()),
        ),
        "close" => (
            field("reason"),
            reports::close(db, r, &id, field("reason")).await,
        ),
        "register" => (
            None,
            report_life::register(db, r, &id, field("household_id"))
                .await
                .map(|_| ()),
        ),
        "verify" => (None, report_life::verify(db, r, &id).await.map(|_| ())),
        "refer" => (field("note"), refer(db, r, &id, &f).await),
        _ => return error_page(ApiError::new(crate::error::Code::NotFound)),
    };
    after_form(&state, &session, &id, &step, kept.unwrap_or(""), done).await
}

/// The refer form's referral.
async fn refer(
    db: &DatabaseConnection,
    reviewer: &Actor,
    id: &str,
    f: &crate::console::FormFields,
) -> ApiResult<()> {
    let field = |k: &str| f.get(k).map(String::as_str);
    let to = report_life::ReferTo::parse(field("programme"), field("department"))?;
    let on = field("referred_on")
        .and_then(|d| chrono::NaiveDate::parse_from_str(d, "%Y-%m-%d").ok())
        .ok_or_else(|| {
            ApiError::new(crate::error::Code::InvalidRequest)
                .with_message("请填写转介日期。", "Give the referral's day.")
        })?;
    let referral = report_life::Referral {
        to,
        on,
        note: field("note"),
    };
    report_life::refer(db, reviewer, id, &referral)
        .await
        .map(|_| ())
}
