//! 临时救助 in the console (docs/TEMPORARY_AID.md): the case list with its filters (state,
//! overdue, kind) and the form to open a case; a case's page with its clocks, the household's
//! yearly total against the cap, approvals, payments, timeline and the form of each next step;
//! opening a case from a discovery report's page. The rules are [`crate::temporary_aid`]'s;
//! amounts are typed in yuan; a form refused for its input comes back with the message.

use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};

use super::html::{self, csrf_field, esc, esc_opt, layout};
use super::{
    FormFields, FormResult, Session, checked_form, error_page, form_answer, html_response,
};
use crate::access::{Action, Target, decide};
use crate::error::{ApiError, ApiResult, Code};
use crate::http::SharedState;
use crate::temporary_aid::{self, CaseDetail, CaseFilter, CaseView, Kind, Route, Status};

const TITLE: &str = "临时救助";
const ACTIVE: &str = "temporary_aid";

/// Refusals a form answers on its page.
const REFUSABLE: [Code; 6] = [
    Code::InvalidRequest,
    Code::TempAidWrongState,
    Code::TempAidPaymentExceedsApproval,
    Code::TempAidMeetingRecordRequired,
    Code::ReviewCommentRequired,
    Code::TempAidReportHasCase,
];

#[derive(Debug, Default, serde::Deserialize)]
#[serde(default)]
pub struct ListQuery {
    state: Option<String>,
    kind: Option<String>,
}

fn yuan(fen: i64) -> String {
    format!("{} 元", html::yuan(fen))
}

fn message(e: Option<&ApiError>) -> String {
    e.map(|e| {
        format!(
            "<p class=\"error\" role=\"alert\" data-code=\"{}\">{}</p>",
            esc(e.code.as_str()),
            esc(&e.body().message)
        )
    })
    .unwrap_or_default()
}

/// The clock cell of a case: 先行救助 and 补办手续, each on time, late or running.
fn clocks(c: &CaseView) -> String {
    let mut out = Vec::new();
    if c.aid_due_at_ms.is_some() {
        out.push(match (c.aid_given_at_ms, c.aid_overdue) {
            (Some(_), false) => "先行救助按时".to_string(),
            (_, true) => "<span class=\"tag alert\">先行救助已超时</span>".to_string(),
            (None, false) => format!("先行救助期限 {}", html::time(c.aid_due_at_ms)),
        });
    }
    if c.paperwork_due_at_ms.is_some() {
        out.push(match (c.paperwork_done_at_ms, c.paperwork_overdue) {
            (_, true) => "<span class=\"tag alert\">补办手续已超期</span>".to_string(),
            (Some(_), false) => "手续已补办".to_string(),
            (None, false) => format!("补办手续期限 {}", html::time(c.paperwork_due_at_ms)),
        });
    }
    if out.is_empty() {
        "—".into()
    } else {
        out.join("<br>")
    }
}

fn case_table(items: &[CaseView]) -> String {
    if items.is_empty() {
        return "<p class=\"empty\">暂无符合条件的临时救助案件。</p>".into();
    }
    let rows: String = items
        .iter()
        .map(|c| {
            format!(
                r#"<tr class="{cls}"><td>{kind}</td><td><a href="/console/temporary-aid/{id}">{name}</a> <span class="sub">{masked}</span></td><td>{region}<br><span class="sub">{place}</span></td><td>{reported}</td><td>{clocks}</td><td>{status}</td><td>{paid}</td></tr>"#,
                cls = if c.overdue { "flagged" } else { "" },
                kind = esc(&c.kind_label),
                id = esc(&c.case_id),
                name = esc(&c.person_name),
                masked = esc_opt(c.id_masked.as_deref()),
                region = esc(&c.region_name),
                place = esc(&c.place),
                reported = html::time(Some(c.reported_at_ms)),
                clocks = clocks(c),
                status = esc(&c.status_label),
                paid = yuan(c.paid_fen),
            )
        })
        .collect();
    format!(
        r#"<table class="list"><thead><tr><th>类型</th><th>救助对象</th><th>发生地</th><th>报告时间</th><th>时限</th><th>状态</th><th>已发放</th></tr></thead><tbody>{rows}</tbody></table>"#
    )
}

/// What was typed into the form to open a case.
#[derive(Default)]
struct OpenForm {
    fields: FormFields,
    error: Option<ApiError>,
}

async fn list_page(
    state: &SharedState,
    session: &Session,
    q: &ListQuery,
    form: &OpenForm,
) -> ApiResult<String> {
    let r = &session.reviewer;
    let filter = CaseFilter {
        state: q.state.clone().filter(|s| !s.is_empty()),
        kind: q.kind.clone().filter(|s| !s.is_empty()),
    };
    let items = temporary_aid::list(&state.db, r, &filter).await?;
    let current = filter.state.as_deref().unwrap_or("open");
    let kind = filter.kind.as_deref().unwrap_or("");
    let link = |s: &str, k: &str| format!("/console/temporary-aid?state={s}&kind={k}");
    let mut states = vec![("open", "未结案"), ("overdue", "超时")];
    states.extend(Status::ALL.iter().map(|s| (s.as_str(), s.label_zh())));
    states.push(("all", "全部"));
    let pick = |items: Vec<(&str, &str)>, now: &str, to: &dyn Fn(&str) -> String| {
        items
            .into_iter()
            .map(|(v, label)| {
                if v == now {
                    format!("<strong aria-current=\"page\">{label}</strong>")
                } else {
                    format!("<a href=\"{}\">{label}</a>", esc(&to(v)))
                }
            })
            .collect::<Vec<_>>()
            .join(" · ")
    };
    let state_links = pick(states, current, &|s| link(s, kind));
    let kind_links = pick(
        vec![
            ("", "全部类型"),
            (Kind::Emergency.as_str(), Kind::Emergency.label_zh()),
            (Kind::Expense.as_str(), Kind::Expense.label_zh()),
        ],
        kind,
        &|k| link(current, k),
    );
    let mut b = format!(
        "<p class=\"filters\">显示：{state_links}</p><p class=\"filters\">类型：{kind_links}</p>{}<p class=\"sub\">按救助发生地管辖；急难型须在报告后 24 小时内先行救助，之后在地区规定期限内补办手续。身份证号一律隐去中间部分。</p>",
        case_table(&items)
    );
    if decide(&r.subject, Action::ReviewVisit, Target::Scope).is_allowed() {
        let f = |k: &str| esc(form.fields.get(k).map(String::as_str).unwrap_or(""));
        b.push_str(&format!(
            r#"<h2>登记临时救助</h2><form method="post" action="/console/temporary-aid" class="decision">{csrf}<label>救助类型 <select name="kind"><option value="emergency">急难型</option><option value="expense"{exp}>支出型</option></select></label><label>家庭编号 <input name="household_id" value="{hh}" required></label><label>救助对象（成员编号） <input name="member_id" value="{mm}" required></label><label>救助发生地（区划或网格代码，非户籍地） <input name="region_code" value="{rc}" required></label><label>发生地地址 <input name="place" maxlength="200" value="{place}" required></label><label>救助事由 <textarea name="reason" rows="2" maxlength="2000" required>{reason}</textarea></label>{msg}<button type="submit">登记</button></form>"#,
            csrf = csrf_field(session),
            exp = if form.fields.get("kind").map(String::as_str) == Some("expense") {
                " selected"
            } else {
                ""
            },
            hh = f("household_id"),
            mm = f("member_id"),
            rc = f("region_code"),
            place = f("place"),
            reason = f("reason"),
            msg = message(form.error.as_ref()),
        ));
    }
    Ok(b)
}

pub async fn list(
    State(state): State<SharedState>,
    session: Session,
    q: Result<Query<ListQuery>, axum::extract::rejection::QueryRejection>,
) -> Response {
    let q = q.map(|q| q.0).unwrap_or_default();
    match list_page(&state, &session, &q, &OpenForm::default()).await {
        Ok(b) => html_response(StatusCode::OK, layout(TITLE, &session, ACTIVE, &b)),
        Err(e) => error_page(e),
    }
}

pub async fn open(
    State(state): State<SharedState>,
    session: Session,
    form: FormResult,
) -> Response {
    let fields = match checked_form(&session, form) {
        Ok(f) => f,
        Err(r) => return r,
    };
    let get = |k: &str| fields.get(k).cloned().unwrap_or_default();
    let req = temporary_aid::NewCase {
        kind: get("kind"),
        household_id: get("household_id"),
        member_id: get("member_id"),
        region_code: get("region_code"),
        place: get("place"),
        reason: get("reason"),
        reported_at_ms: None,
    };
    let done = temporary_aid::open(&state.db, &session.reviewer, &req)
        .await
        .map(|d| format!("/console/temporary-aid/{}", d.case.case_id));
    let typed = OpenForm {
        fields: fields.clone(),
        error: None,
    };
    let (st, se) = (&state, &session);
    form_answer(se, TITLE, ACTIVE, done, &REFUSABLE, |e| async move {
        let typed = OpenForm {
            error: Some(e),
            ..typed
        };
        list_page(st, se, &ListQuery::default(), &typed).await
    })
    .await
}

/// Open a case from a discovery report's page.
pub async fn from_report(
    State(state): State<SharedState>,
    session: Session,
    Path(id): Path<String>,
    form: FormResult,
) -> Response {
    let fields = match checked_form(&session, form) {
        Ok(f) => f,
        Err(r) => return r,
    };
    let get = |k: &str| fields.get(k).cloned().unwrap_or_default();
    let req = temporary_aid::FromReportRequest {
        kind: Some(get("kind")).filter(|k| !k.is_empty()),
        household_id: get("household_id"),
        member_id: get("member_id"),
        region_code: Some(get("region_code")).filter(|k| !k.is_empty()),
        place: get("place"),
        reason: Some(get("reason")).filter(|k| !k.is_empty()),
    };
    match temporary_aid::from_report(&state.db, &session.reviewer, &id, &req).await {
        Ok(d) => super::secure(
            Redirect::to(&format!("/console/temporary-aid/{}", d.case.case_id)).into_response(),
        ),
        Err(e) if e.code == Code::TempAidReportHasCase => {
            let to = e
                .details
                .as_ref()
                .and_then(|d| d["case_id"].as_str())
                .unwrap_or("");
            super::secure(Redirect::to(&format!("/console/temporary-aid/{to}")).into_response())
        }
        Err(e) => super::error_page_with(e, &format!("/console/reports/{id}")),
    }
}

/// The form of a report's page that opens a case.
pub fn report_form(session: &Session, report_id: &str, emergency: bool) -> String {
    format!(
        r#"<form method="post" action="/console/reports/{id}/temporary-aid" class="decision">{csrf}<label>救助类型 <select name="kind"><option value="emergency"{e}>急难型</option><option value="expense"{x}>支出型</option></select></label><label>家庭编号 <input name="household_id" required></label><label>救助对象（成员编号） <input name="member_id" required></label><label>发生地地址 <input name="place" maxlength="200" required></label><button type="submit">开立临时救助</button></form>"#,
        id = esc(report_id),
        csrf = csrf_field(session),
        e = if emergency { " selected" } else { "" },
        x = if emergency { "" } else { " selected" },
    )
}

fn next_steps(session: &Session, d: &CaseDetail, error: Option<&ApiError>, step: &str) -> String {
    let c = &d.case;
    let r = &session.reviewer;
    if !decide(&r.subject, Action::ReviewVisit, Target::Scope).is_allowed() {
        return "<p class=\"sub\">您无权办理该案件。</p>".into();
    }
    let status = Status::parse(&c.status).unwrap_or(Status::Closed);
    let id = esc(&c.case_id);
    let csrf = csrf_field(session);
    let msg = |s: &str| {
        if s == step {
            message(error)
        } else {
            String::new()
        }
    };
    let mut forms = Vec::new();
    if status == Status::Registered && c.kind == Kind::Emergency.as_str() {
        forms.push(format!(
            r#"<form method="post" action="/console/temporary-aid/{id}/aid" class="decision">{csrf}<label>先行救助金额（元） <input name="amount_yuan" inputmode="decimal" required></label><label>说明（可选）<textarea name="note" rows="2" maxlength="2000"></textarea></label>{m}<button type="submit">登记先行救助</button></form>"#,
            m = msg("aid")
        ));
    }
    if matches!(
        status,
        Status::Registered | Status::AidGiven | Status::Paid | Status::Refused
    ) {
        let what = if d.approvals.is_empty() {
            "提交审批（补办手续）"
        } else {
            "申请跟进救助"
        };
        forms.push(format!(
            r#"<form method="post" action="/console/temporary-aid/{id}/approvals" class="decision">{csrf}<label>审批金额（元，含已先行救助） <input name="amount_yuan" inputmode="decimal" required></label><label>说明（可选）<textarea name="note" rows="2" maxlength="2000"></textarea></label>{m}<button type="submit">{what}</button></form>"#,
            m = msg("approvals")
        ));
    }
    if status == Status::Pending
        && let Some(p) = d.approvals.iter().find(|a| a.status == "pending")
    {
        let route = Route::parse(&p.route).unwrap_or(Route::County);
        if decide(&r.subject, route.action(), Target::Scope).is_allowed() {
            let label = if route == Route::Meeting {
                "一事一议会议记录（批准时必填：日期、参会人员、议定意见）"
            } else {
                "意见（不予批准时必填）"
            };
            forms.push(format!(
                r#"<form method="post" action="/console/temporary-aid/{id}/decision" class="decision">{csrf}<p>{route}：{amount}</p><label class="choice"><input type="radio" name="decision" value="approve" required> 批准</label><label class="choice"><input type="radio" name="decision" value="refuse"> 不予批准</label><label>{label}<textarea name="note" rows="3" maxlength="2000"></textarea></label>{m}<button type="submit">记录审批</button></form>"#,
                route = esc(&p.route_label),
                amount = yuan(p.amount_fen),
                m = msg("decision")
            ));
        } else {
            forms.push(format!(
                "<p class=\"sub\">待{}：该金额须由县级审核确认人员审批。</p>",
                esc(&p.route_label)
            ));
        }
    }
    if status == Status::Approved {
        forms.push(format!(
            r#"<form method="post" action="/console/temporary-aid/{id}/payments" class="decision">{csrf}<label>本次发放金额（元，可分阶段发放） <input name="amount_yuan" inputmode="decimal" required></label><label>发放日期 <input name="paid_on" placeholder="默认今天"></label>{m}<button type="submit">登记发放</button></form>"#,
            m = msg("payments")
        ));
    }
    if matches!(status, Status::Registered | Status::Paid | Status::Refused) {
        forms.push(format!(
            r#"<form method="post" action="/console/temporary-aid/{id}/close" class="decision d-reject">{csrf}<label>结案说明（必填）<textarea name="note" rows="2" maxlength="2000" required></textarea></label>{m}<button type="submit">结案</button></form>"#,
            m = msg("close")
        ));
    }
    if forms.is_empty() {
        return "<p class=\"sub\">当前状态无需办理。</p>".into();
    }
    format!("<div class=\"decisions\">{}</div>", forms.concat())
}

async fn case_page(
    state: &SharedState,
    session: &Session,
    id: &str,
    error: Option<&ApiError>,
    step: &str,
) -> ApiResult<String> {
    let d = temporary_aid::case(&state.db, &session.reviewer, id).await?;
    let c = &d.case;
    let report = c
        .report_id
        .as_deref()
        .map(|r| format!("<a href=\"/console/reports/{0}\">主动发现报告</a>", esc(r)))
        .unwrap_or_else(|| "—".into());
    let mut b = format!(
        r#"<p><a href="/console/temporary-aid">返回临时救助列表</a></p><dl class="summary"><dt>状态</dt><dd>{status}</dd><dt>救助类型</dt><dd>{kind}</dd><dt>救助对象</dt><dd>{name}（{masked}）</dd><dt>家庭</dt><dd><a href="/console/households/{hh}">查看家庭档案</a></dd><dt>救助发生地</dt><dd>{region}：{place}</dd><dt>事由</dt><dd>{reason}</dd><dt>来源</dt><dd>{report}</dd><dt>报告时间</dt><dd>{reported}</dd><dt>先行救助时间</dt><dd>{given}</dd><dt>时限</dt><dd>{clocks}</dd><dt>本年度已救助（全家，各案件）</dt><dd>{total}{cap}</dd><dt>乡镇审批限额</dt><dd>{limit}</dd><dt>已批准 / 已发放</dt><dd>{approved} / {paid}</dd></dl>"#,
        status = esc(&c.status_label),
        kind = esc(&c.kind_label),
        name = esc(&c.person_name),
        masked = esc_opt(c.id_masked.as_deref()),
        hh = esc(&c.household_id),
        region = esc(&c.region_name),
        place = esc(&c.place),
        reason = esc(&c.reason),
        reported = html::time(Some(c.reported_at_ms)),
        given = html::time(c.aid_given_at_ms),
        clocks = clocks(c),
        total = yuan(d.yearly_total_fen),
        cap = d
            .yearly_cap_fen
            .map(|f| format!("（年度上限 {}，超过须县级一事一议）", yuan(f)))
            .unwrap_or_default(),
        limit = d
            .township_limit_fen
            .map(yuan)
            .unwrap_or_else(|| "未设定（一律县级审批）".into()),
        approved = yuan(c.approved_fen),
        paid = yuan(c.paid_fen),
    );
    if !d.approvals.is_empty() {
        let rows: String = d
            .approvals
            .iter()
            .map(|a| {
                format!(
                    "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
                    a.round,
                    yuan(a.amount_fen),
                    esc(&a.route_label),
                    yuan(a.received_before_fen),
                    esc(temporary_aid::label_zh(&a.status)),
                    esc_opt(a.decided_by.as_deref()),
                    esc_opt(a.note.as_deref()),
                )
            })
            .collect();
        b.push_str(&format!(
            "<h2>审批</h2><table class=\"list\"><thead><tr><th>轮次</th><th>金额</th><th>审批权限</th><th>此前本年度已救助</th><th>结果</th><th>审批人</th><th>意见 / 会议记录</th></tr></thead><tbody>{rows}</tbody></table>"
        ));
    }
    if !d.payments.is_empty() {
        let rows: String = d
            .payments
            .iter()
            .map(|p| {
                format!(
                    "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
                    esc(&p.paid_on),
                    esc(&p.stage_label),
                    yuan(p.amount_fen),
                    esc(&p.recorded_by),
                    esc_opt(p.note.as_deref()),
                )
            })
            .collect();
        b.push_str(&format!(
            "<h2>发放</h2><table class=\"list\"><thead><tr><th>日期</th><th>方式</th><th>金额</th><th>登记人</th><th>说明</th></tr></thead><tbody>{rows}</tbody></table>"
        ));
    }
    b.push_str("<h2>办理</h2>");
    b.push_str(&next_steps(session, &d, error, step));
    let items: String = d
        .events
        .iter()
        .map(|e| {
            format!(
                "<li>{} · {} · <strong>{}</strong> → {}{}{}</li>",
                html::time(Some(e.at_ms)),
                esc(&e.by),
                esc(&e.action_label),
                esc(temporary_aid::label_zh(&e.to_status)),
                e.amount_fen
                    .map(|f| format!(" · {}", yuan(f)))
                    .unwrap_or_default(),
                e.note
                    .as_deref()
                    .map(|n| format!("：{}", esc(n)))
                    .unwrap_or_default(),
            )
        })
        .collect();
    b.push_str(&format!(
        "<h2>办理记录</h2><ol class=\"reviews\">{items}</ol>"
    ));
    Ok(b)
}

pub async fn case(
    State(state): State<SharedState>,
    session: Session,
    Path(id): Path<String>,
) -> Response {
    match case_page(&state, &session, &id, None, "").await {
        Ok(b) => html_response(StatusCode::OK, layout("临时救助案件", &session, ACTIVE, &b)),
        Err(e) => error_page(e),
    }
}

/// The amount typed in yuan, in fen (a bad amount: `request.invalid` on `amount_fen`).
fn fen_of(f: &FormFields) -> ApiResult<i64> {
    html::parse_yuan(f.get("amount_yuan").map(String::as_str).unwrap_or("")).ok_or_else(|| {
        ApiError::new(Code::InvalidRequest)
            .with_message(
                "请填写金额（元），如 1500 或 1500.50。",
                "Type the amount in yuan, e.g. 1500.50.",
            )
            .with_details(serde_json::json!({ "field": "amount_fen" }))
    })
}

/// One step of a case posted from its page.
pub async fn step(
    State(state): State<SharedState>,
    session: Session,
    Path((id, step)): Path<(String, String)>,
    form: FormResult,
) -> Response {
    let f = match checked_form(&session, form) {
        Ok(f) => f,
        Err(r) => return r,
    };
    let note = f.get("note").cloned().filter(|n| !n.trim().is_empty());
    let (db, r) = (&state.db, &session.reviewer);
    let done = match step.as_str() {
        "aid" => match fen_of(&f) {
            Ok(amount_fen) => {
                let req = temporary_aid::AidRequest {
                    amount_fen,
                    given_at_ms: None,
                    note,
                };
                temporary_aid::give_aid(db, r, &id, &req).await
            }
            Err(e) => Err(e),
        },
        "approvals" => match fen_of(&f) {
            Ok(amount_fen) => {
                let req = temporary_aid::ApprovalRequest { amount_fen, note };
                temporary_aid::request_approval(db, r, &id, &req).await
            }
            Err(e) => Err(e),
        },
        "decision" => {
            let req = temporary_aid::DecisionRequest {
                decision: f.get("decision").cloned().unwrap_or_default(),
                note,
            };
            temporary_aid::decide(db, r, &id, &req).await
        }
        "payments" => match fen_of(&f) {
            Ok(amount_fen) => {
                let req = temporary_aid::PaymentRequest {
                    amount_fen,
                    paid_on: f.get("paid_on").cloned(),
                    note,
                };
                temporary_aid::pay(db, r, &id, &req).await
            }
            Err(e) => Err(e),
        },
        "close" => {
            let req = temporary_aid::CloseRequest {
                note: note.unwrap_or_default(),
            };
            temporary_aid::close(db, r, &id, &req).await
        }
        _ => Err(ApiError::new(Code::NotFound)),
    }
    .map(|_| format!("/console/temporary-aid/{id}"));
    let (st, se, id, step) = (&state, &session, &id, &step);
    form_answer(
        se,
        "临时救助案件",
        ACTIVE,
        done,
        &REFUSABLE,
        |e| async move { case_page(st, se, id, Some(&e), step).await },
    )
    .await
}

/// The household page's section: its 临时救助 cases in the reader's regions and its total of the
/// year against the cap.
pub async fn household_section(
    db: &sea_orm::DatabaseConnection,
    session: &Session,
    household_id: &str,
) -> ApiResult<String> {
    let (cases, total) = temporary_aid::of_household(db, &session.reviewer, household_id).await?;
    if cases.is_empty() && total == 0 {
        return Ok(String::new());
    }
    Ok(format!(
        "<h2>临时救助</h2><p>本年度已救助 {}（全家，各案件）。</p>{}",
        yuan(total),
        case_table(&cases)
    ))
}
