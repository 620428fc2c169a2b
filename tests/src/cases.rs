//! Documents as phones write them, for tests that need a case to review or a report to read, and
//! the decisions the server writes into them.

use doudi_protocol::doc::discovery::{Channel, DiscoveryStatus, TargetGroup, Urgency};
use doudi_protocol::doc::household::{Decision, DecisionOutcome, Member, Programme, Relation};
use doudi_protocol::doc::visit::{
    Conclusion, Investigator, Purpose, Signature, SignerRole, VisitStatus,
};
use doudi_protocol::doc::{DiscoveryReport, Household, Photo, PhotoCategory, UnixMillis, Visit};
use doudi_protocol::ids::{AccountId, BlobHash, DocumentId, MemberId};

/// A household whose head is 王建国, at `address`.
pub fn household(address: &str) -> Household {
    let mut h = Household {
        address: address.into(),
        ..Default::default()
    };
    h.members.insert(
        MemberId::generate().unwrap(),
        Member::new("王建国", Relation::Head),
    );
    h
}

/// The investigation (入户调查) of an application to `household`, submitted just now by two
/// investigators (account id, name), each with a signature (whose blobs are not uploaded): a visit
/// that goes through the township and then the county.
pub fn submitted_visit(household: DocumentId, investigators: [(&str, &str); 2]) -> Visit {
    let mut v = Visit::new(household, Purpose::Investigation);
    v.started_at = Some(UnixMillis(1_763_800_000_000));
    v.ended_at = Some(UnixMillis(1_763_801_800_000));
    for (n, (acct, name)) in investigators.iter().enumerate() {
        let acct = AccountId::parse(acct).unwrap();
        v.investigators.insert(
            acct.clone(),
            Investigator {
                name: name.to_string(),
            },
        );
        v.signatures.insert(
            BlobHash::from_bytes([n as u8 + 1; 32]),
            Signature {
                signer_name: name.to_string(),
                role: SignerRole::Investigator,
                account: Some(acct),
                member: None,
                signed_at: v.ended_at,
            },
        );
    }
    v.conclusion = Some(Conclusion::Accurate);
    v.status = VisitStatus::Submitted;
    v.submitted_at = Some(UnixMillis(doudi_server::auth::now_ms()));
    v
}

/// A discovery report filed just now by `reporter`, of an elderly person who needs care, with
/// photos of the given blob hashes.
pub fn report_with_photos(reporter: &str, photos: &[&str]) -> DiscoveryReport {
    let mut r = DiscoveryReport::new(AccountId::parse(reporter).unwrap());
    r.reported_at = Some(UnixMillis(doudi_server::auth::now_ms()));
    r.urgency = Some(Urgency::NeedsCare);
    r.status = DiscoveryStatus::Submitted;
    r.channel = Some(Channel::Visit);
    r.target_groups.insert(TargetGroup::Elderly);
    r.target = Some(doudi_protocol::doc::discovery::Target::Person {
        name: "李大娘".into(),
        identity: None,
        address: Some("一村 12 号".into()),
        phone: None,
    });
    for h in photos {
        r.photos.insert(
            BlobHash::parse(h).unwrap(),
            Photo {
                category: PhotoCategory::DwellingOutside,
                caption: None,
                captured_at: UnixMillis(1_763_800_000_000),
                gps: None,
            },
        );
    }
    r
}

/// Approve `household` for `programme` at `at_ms` as the account `approver` (a decision the
/// server writes into the document, which puts the household in the programme: phones cannot).
pub async fn approve(
    app: &crate::TestApp,
    household: &str,
    programme: Programme,
    at_ms: i64,
    approver: &str,
) {
    decide(
        app,
        household,
        programme,
        DecisionOutcome::Approved,
        at_ms,
        approver,
    )
    .await;
}

/// Record the decision `outcome` on `household`'s `programme` at `at_ms` as the account
/// `approver` (written by the server, as [`approve`]).
pub async fn decide(
    app: &crate::TestApp,
    household: &str,
    programme: Programme,
    outcome: DecisionOutcome,
    at_ms: i64,
    approver: &str,
) {
    use sea_orm::{ColumnTrait, EntityTrait, QueryFilter};
    let by = doudi_server::entity::account::Entity::find()
        .filter(doudi_server::entity::account::Column::Username.eq(approver))
        .one(&app.state.db)
        .await
        .unwrap()
        .unwrap();
    let writer = doudi_server::documents::Writer {
        account_id: &by.id,
        device_id: "test-console",
        client_addr: None,
        audit_action: "test.decision",
        audit_detail: None,
    };
    let account = AccountId::parse(&by.id).unwrap();
    doudi_server::documents::server_write(&app.state.db, &writer, household, |am, _| {
        let (_, mut h) = doudi_protocol::doc::read::<Household, _>(&*am).unwrap();
        h.record_decision(Decision {
            at: UnixMillis(at_ms),
            programme: Some(programme),
            outcome,
            amount_fen_per_month: None,
            by: account.clone(),
            reference: None,
            note: None,
            effective_from: None,
            visit: None,
            household_size: None,
            notice_date: None,
            months: None,
        });
        doudi_protocol::doc::write(am, &h).unwrap();
        Ok(((), vec![]))
    })
    .await
    .unwrap();
}

/// Let the 公示 of the approved application `visit` run out: its days moved back so that it
/// ended yesterday, as the calendar would (a server change, like the reviewers' own).
pub async fn end_notice(app: &crate::TestApp, visit: &str) {
    let writer = doudi_server::documents::Writer {
        account_id: "test",
        device_id: "test-console",
        client_addr: None,
        audit_action: "test.notice",
        audit_detail: None,
    };
    let today = doudi_server::review::deadlines::today().unwrap();
    let until = today.pred_opt().unwrap();
    doudi_server::documents::server_write(&app.state.db, &writer, visit, |am, _| {
        let (_, mut v) = doudi_protocol::doc::read::<Visit, _>(&*am).unwrap();
        if v.notice_until.is_some() {
            v.notice_from = until.checked_sub_days(chrono::Days::new(6));
            v.notice_until = Some(until);
        }
        doudi_protocol::doc::write(am, &v).unwrap();
        Ok(((), vec![]))
    })
    .await
    .unwrap();
}

/// Import a department's CSV list (`source`: `death`, `medical`, …) as the reviewer `token`
/// (`POST /api/v1/monitoring/imports`).
pub async fn import_list(
    app: &crate::TestApp,
    token: &str,
    source: &str,
    csv: String,
) -> crate::Resp {
    let resp = app
        .http
        .post(app.url(&format!(
            "/api/v1/monitoring/imports?source={source}&file_name={source}.csv"
        )))
        .bearer_auth(token)
        .header("content-type", "text/csv")
        .body(csv)
        .send()
        .await
        .unwrap();
    crate::TestApp::read(resp).await
}
