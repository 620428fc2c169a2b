//! Region policy over HTTP and through sync: set by administrators within their regions,
//! refused whole when invalid (the previous policy stays), delivered to phones for offline use.

use doudi_protocol::role::Role;
use doudi_tests::{Backend, both_backends, spawn_app};
use reqwest::{Method, StatusCode};
use serde_json::json;

both_backends!(
    policy_layers_inherit_and_bad_input_keeps_the_old_policy,
    phones_receive_the_policy_book
);

fn qingdao_like(region: &str, date: &str) -> serde_json::Value {
    json!({
        "region": region,
        "effective_from": date,
        "source": "测试通知 2020-1",
        "settings": {
            "dibao_standard_urban": { "amount": 70000, "per": "month" },
            "dibao_standard_rural": { "amount": 477000, "per": "year" },
            "employment_cost_rate": "0.1"
        }
    })
}

async fn policy_layers_inherit_and_bad_input_keeps_the_old_policy(b: Backend) {
    let app = spawn_app(b).await;
    app.seed_fixture().await;
    app.create_account("admin.jia", Role::Admin, &["370102000000"])
        .await;
    app.create_account("worker", Role::GridWorker, &["370102001001-A"])
        .await;
    let (admin, _, _) = app.login("admin.jia").await;
    let (worker, _, _) = app.login("worker").await;

    let r = app
        .send(
            Method::PUT,
            "/api/v1/admin/policies",
            Some(&admin),
            Some(qingdao_like("370102000000", "2020-07-01")),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{:?}", r.body);
    let v1 = r.body["version"].as_u64().unwrap();
    // A village of the county inherits it; the township overrides one field.
    let village = "/api/v1/policies/resolve?region=370102001001&date=2021-01-01";
    let p = app.get(village, &worker).await;
    assert_eq!(p.status, StatusCode::OK, "{:?}", p.body);
    assert_eq!(p.body["policy"]["dibao_standard_urban"]["amount"], 70000);
    assert_eq!(p.body["layers"].as_array().unwrap().len(), 1);
    let town = json!({ "region": "370102001000", "effective_from": "2020-10-01", "settings": { "near_dibao_multiplier_rural": "2" } });
    assert_eq!(
        app.send(
            Method::PUT,
            "/api/v1/admin/policies",
            Some(&admin),
            Some(town)
        )
        .await
        .status,
        StatusCode::OK
    );
    let p = app.get(village, &worker).await;
    assert_eq!(p.body["policy"]["near_dibao_multiplier_rural"], "2");
    assert_eq!(p.body["policy"]["dibao_standard_urban"]["amount"], 70000);
    // Before the township's date, its layer is not in force.
    let before = app
        .get(
            "/api/v1/policies/resolve?region=370102001001&date=2020-08-01",
            &worker,
        )
        .await;
    assert_ne!(before.body["policy"]["near_dibao_multiplier_rural"], "2");

    let good = app.get("/api/v1/policies", &worker).await.body;
    // Negative standard, multiplier below 1: refused with a clear error; nothing changes.
    let mut negative = qingdao_like("370102000000", "2021-07-01");
    negative["settings"]["dibao_standard_urban"]["amount"] = json!(-100);
    let r = app
        .send(
            Method::PUT,
            "/api/v1/admin/policies",
            Some(&admin),
            Some(negative),
        )
        .await;
    assert_eq!(
        (r.status, r.code()),
        (StatusCode::UNPROCESSABLE_ENTITY, "policy.invalid"),
        "{:?}",
        r.body
    );
    assert!(
        r.body["message"]
            .as_str()
            .unwrap()
            .contains("原政策继续有效")
    );
    let low = json!({ "region": "370102001000", "effective_from": "2022-01-01", "settings": { "near_dibao_multiplier_urban": "0.8" } });
    let r = app
        .send(
            Method::PUT,
            "/api/v1/admin/policies",
            Some(&admin),
            Some(low),
        )
        .await;
    assert_eq!(r.code(), "policy.invalid");
    assert_eq!(
        r.body["details"]["policy_code"],
        "policy.multiplier_below_one"
    );
    let typo = json!({ "region": "370102001000", "effective_from": "2022-01-01", "settings": { "dibao_standrd": 1 } });
    let r = app
        .send(
            Method::PUT,
            "/api/v1/admin/policies",
            Some(&admin),
            Some(typo),
        )
        .await;
    assert!(r.status.is_client_error());
    assert_eq!(app.get("/api/v1/policies", &worker).await.body, good);
    assert!(good["version"].as_u64().unwrap() > v1);
    // Outside the administrator's county, and by a non-administrator: denied.
    let r = app
        .send(
            Method::PUT,
            "/api/v1/admin/policies",
            Some(&admin),
            Some(qingdao_like("370103000000", "2020-07-01")),
        )
        .await;
    assert_eq!(r.code(), "policy.denied");
    let r = app
        .send(
            Method::PUT,
            "/api/v1/admin/policies",
            Some(&worker),
            Some(qingdao_like("370102000000", "2020-07-01")),
        )
        .await;
    assert_eq!(r.code(), "policy.denied");
}

async fn phones_receive_the_policy_book(b: Backend) {
    let app = spawn_app(b).await;
    app.seed_fixture().await;
    app.create_account("admin.jia", Role::Admin, &["370102000000"])
        .await;
    app.create_account("worker", Role::GridWorker, &["370102001001-A"])
        .await;
    let (admin, _, _) = app.login("admin.jia").await;
    let mut phone = app.phone("worker").await;
    app.sync(&mut phone).await;
    assert!(phone.replica.policy().is_none());

    app.send(
        Method::PUT,
        "/api/v1/admin/policies",
        Some(&admin),
        Some(qingdao_like("370102000000", "2020-07-01")),
    )
    .await;
    app.sync(&mut phone).await;
    let book = phone.replica.policy().expect("policy delivered").clone();
    let date = chrono::NaiveDate::from_ymd_opt(2021, 1, 1).unwrap();
    let p = book.resolve("370102001001", date).unwrap();
    assert_eq!(
        serde_json::to_value(&p).unwrap()["dibao_standard_urban"]["amount"],
        70000
    );
    // Up to date: the book is not sent again.
    app.sync_once(&mut phone, None).await;
    assert!(phone.last_down < 64, "{} bytes", phone.last_down);
}
