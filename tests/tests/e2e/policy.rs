//! The role × region × action matrix, and scope over HTTP.

use doudi_protocol::role::Role;
use doudi_server::access::{Action, Decision, Subject, Target, decide};
use doudi_server::entity::region;
use doudi_tests::{Backend, both_backends, spawn_app};
use reqwest::StatusCode;
use sea_orm::EntityTrait;
use serde_json::json;

both_backends!(
    matrix_of_every_role_region_and_action,
    grid_worker_sees_only_her_grid,
    town_reviewer_sees_her_township_only,
    county_admin_manages_only_her_county,
    every_denial_is_audited,
);

/// The specification: which actions each role may take inside its scope.
fn allowed(role: Role) -> &'static [Action] {
    use Action::*;
    match role {
        Role::GridWorker | Role::Assistant => &[
            ReadRegion,
            ReadCase,
            WriteCase,
            FileReport,
            Sync,
            HoldIdNumbers,
            ReadTasks,
            UploadBlob,
        ],
        Role::VillageCadre => &[
            ReadRegion, ReadCase, FileReport, Sync, ReadTasks, UploadBlob,
        ],
        Role::TownReviewer => &[
            ReadRegion,
            ReadCase,
            ReviewVisit,
            Unmask,
            ReadReviewLists,
            Export,
            ImportDepartmentData,
            UploadBlob,
        ],
        Role::CountyApprover => &[
            ReadRegion,
            ReadCase,
            ReviewVisit,
            ConfirmCase,
            Unmask,
            ReadReviewLists,
            Export,
            ImportDepartmentData,
            UploadBlob,
        ],
        Role::Admin => &[
            ReadRegion,
            ManageRegions,
            ManageAccounts,
            ManageDevices,
            ReadAudit,
        ],
    }
}

/// Every role bound to each of several regions, against every region and every action.
async fn matrix_of_every_role_region_and_action(b: Backend) {
    let app = spawn_app(b).await;
    app.seed_fixture().await;
    let regions = region::Entity::find().all(&app.state.db).await.unwrap();
    assert_eq!(regions.len(), 16);
    let path_of = |code: &str| {
        regions
            .iter()
            .find(|r| r.code == code)
            .unwrap()
            .path
            .clone()
    };
    let homes = [
        "370102001001-A",
        "370102001001",
        "370102001000",
        "370102000000",
    ];
    let mut checked = 0;
    for role in Role::ALL {
        for home in homes {
            let home_path = path_of(home);
            let subject = Subject {
                account_id: "x".into(),
                role,
                scope: vec![home_path.clone()],
            };
            for target in &regions {
                let inside = target.path.starts_with(&home_path);
                let above = home_path.starts_with(&target.path) && !inside;
                for action in Action::ALL {
                    let expected = if !allowed(role).contains(&action) {
                        Decision::DenyRole
                    } else if inside || (above && action == Action::ReadRegion) {
                        Decision::Allow
                    } else {
                        Decision::DenyScope
                    };
                    assert_eq!(
                        decide(&subject, action, Target::Region(&target.path)),
                        expected,
                        "{role} at {home} doing {action:?} on {}",
                        target.code
                    );
                    checked += 1;
                }
            }
        }
    }
    assert_eq!(checked, 6 * 4 * 16 * Action::ALL.len());
    // A union of two subtrees.
    let two = Subject {
        account_id: "x".into(),
        role: Role::GridWorker,
        scope: vec![path_of("370102001001-A"), path_of("370103001001-A")],
    };
    assert!(
        decide(
            &two,
            Action::ReadCase,
            Target::Region(&path_of("370103001001-A"))
        )
        .is_allowed()
    );
    assert!(
        !decide(
            &two,
            Action::ReadCase,
            Target::Region(&path_of("370102001001-B"))
        )
        .is_allowed()
    );
}

async fn grid_worker_sees_only_her_grid(b: Backend) {
    let app = spawn_app(b).await;
    app.seed_fixture().await;
    app.create_account("grid.a", Role::GridWorker, &["370102001001-A"])
        .await;
    let (t, _, _) = app.login("grid.a").await;
    assert_eq!(
        app.get("/api/v1/regions/370102001001-A", &t).await.status,
        StatusCode::OK
    );
    // The village above is visible by name, its other grid is not.
    let village = app.get("/api/v1/regions/370102001001", &t).await;
    assert_eq!(village.body["name"], "一镇一村");
    let kids = app.get("/api/v1/regions/370102001001/children", &t).await;
    let codes = kids.strings("code");
    assert_eq!(codes, ["370102001001-A"]);
    let other = app.get("/api/v1/regions/370102001001-B", &t).await;
    assert_eq!(
        (other.status, other.code()),
        (StatusCode::FORBIDDEN, "policy.denied")
    );
    // Nor any administration.
    assert_eq!(
        app.get("/api/v1/admin/accounts", &t).await.code(),
        "policy.denied"
    );
    assert_eq!(
        app.get("/api/v1/admin/audit", &t).await.code(),
        "policy.denied"
    );
}

async fn town_reviewer_sees_her_township_only(b: Backend) {
    let app = spawn_app(b).await;
    app.seed_fixture().await;
    app.create_account("town.one", Role::TownReviewer, &["370102001000"])
        .await;
    let (t, _, _) = app.login("town.one").await;
    for grid in ["370102001001-A", "370102001001-B", "370102001002-A"] {
        assert_eq!(
            app.get(&format!("/api/v1/regions/{grid}"), &t).await.status,
            StatusCode::OK,
            "{grid}"
        );
    }
    for other in [
        "370102002001-A",
        "370102002001",
        "370102002000",
        "370103001001-A",
    ] {
        let r = app.get(&format!("/api/v1/regions/{other}"), &t).await;
        assert_eq!(r.code(), "policy.denied", "{other}");
    }
    // The county's children she may list: only her own township.
    let kids = app.get("/api/v1/regions/370102000000/children", &t).await;
    let codes = kids.strings("code");
    assert_eq!(codes, ["370102001000"]);
}

async fn county_admin_manages_only_her_county(b: Backend) {
    let app = spawn_app(b).await;
    app.seed_fixture().await;
    app.create_account("admin.jia", Role::Admin, &["370102000000"])
        .await;
    let yi_worker = app
        .create_account("worker.yi", Role::GridWorker, &["370103001001-A"])
        .await;
    let (t, _, _) = app.login("admin.jia").await;
    let (_, _, yi_dev) = app.login("worker.yi").await;

    let create = |username: &str, region: &str| {
        json!({ "username": username, "display_name": "新人", "role": "grid_worker",
                "password": "a-long-password", "regions": [region] })
    };
    let ok = app
        .post(
            "/api/v1/admin/accounts",
            Some(&t),
            create("new.jia", "370102002001-A"),
        )
        .await;
    assert_eq!(ok.status, StatusCode::CREATED, "{:?}", ok.body);
    let denied = app
        .post(
            "/api/v1/admin/accounts",
            Some(&t),
            create("new.yi", "370103001001-A"),
        )
        .await;
    assert_eq!(
        (denied.status, denied.code()),
        (StatusCode::FORBIDDEN, "policy.denied")
    );

    let list = app.get("/api/v1/admin/accounts", &t).await;
    let names = list.strings("username");
    assert!(
        names.contains(&"new.jia") && names.contains(&"admin.jia"),
        "{names:?}"
    );
    assert!(!names.contains(&"worker.yi"), "{names:?}");

    let devs = app
        .get(&format!("/api/v1/admin/devices?account_id={yi_worker}"), &t)
        .await;
    assert_eq!(devs.code(), "policy.denied");
    let revoke = app
        .post(
            &format!("/api/v1/admin/devices/{yi_dev}/revoke"),
            Some(&t),
            json!({ "reason": "test" }),
        )
        .await;
    assert_eq!(revoke.code(), "policy.denied");
    let patch = app
        .send(
            reqwest::Method::PATCH,
            &format!("/api/v1/admin/accounts/{yi_worker}"),
            Some(&t),
            Some(json!({ "disabled": true })),
        )
        .await;
    assert_eq!(patch.code(), "policy.denied");
    // Region import outside her county is refused line by line, and nothing is imported.
    let csv = "code,parent_code,level,name\n370103001001-Z,370103001001,grid,越界网格\n";
    let r = app
        .http
        .post(app.url("/api/v1/admin/regions/import"))
        .bearer_auth(&t)
        .header("content-type", "text/csv")
        .body(csv)
        .send()
        .await
        .unwrap();
    let r = doudi_tests::TestApp::read(r).await;
    assert_eq!(r.code(), "region.csv_invalid", "{:?}", r.body);
    assert_eq!(r.body["details"]["lines"][0]["line"], 2);
}

async fn every_denial_is_audited(b: Backend) {
    let app = spawn_app(b).await;
    app.seed_fixture().await;
    let worker = app
        .create_account("grid.b", Role::GridWorker, &["370102001001-B"])
        .await;
    let (t, _, dev) = app.login("grid.b").await;
    let mut denials = 0;
    for path in [
        "/api/v1/regions/370102001001-A",
        "/api/v1/regions/370103000000/children",
        "/api/v1/admin/accounts",
        "/api/v1/admin/devices",
        "/api/v1/admin/audit",
    ] {
        let r = app.get(path, &t).await;
        assert_eq!(r.code(), "policy.denied", "{path}");
        denials += 1;
    }
    let rows = app.audit("policy.denied").await;
    assert_eq!(rows.len(), denials);
    for row in &rows {
        assert_eq!(row.account_id.as_deref(), Some(worker.as_str()));
        assert_eq!(row.device_id.as_deref(), Some(dev.as_str()));
        assert_eq!(row.outcome, "denied");
        assert!(row.client_addr.as_deref() == Some("127.0.0.1"));
    }
    assert_eq!(rows[0].target.as_deref(), Some("370102001001-A"));
}
