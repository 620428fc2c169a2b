//! Household search (`GET /api/v1/households`): households made on phones and synced; matches by
//! name prefix, address fragment and a 身份证号 (whole, or its last 4 to 6 characters, through
//! the server's keyed hash: documents hold numbers only sealed); only inside the caller's
//! regions; paged; bad queries refused with `request.invalid`.

use doudi_protocol::doc::Household;
use doudi_protocol::doc::household::{Member, Relation};
use doudi_protocol::id_number::IdNumber;
use doudi_protocol::identity::SealKey;
use doudi_protocol::ids::MemberId;
use doudi_protocol::role::Role;
use doudi_tests::{Backend, TestApp, both_backends, spawn_app};
use reqwest::StatusCode;

both_backends!(
    search_matches_in_scope_and_pages,
    truncated_answers_are_the_first_households_in_list_order
);

const GRID_A: &str = "370102001001-A";
const GRID_OTHER_TOWN: &str = "370102002001-A";

fn household(
    key: &SealKey,
    address: &str,
    head: &str,
    others: &[(&str, Option<&str>)],
) -> Household {
    let mut h = Household {
        address: address.into(),
        ..Default::default()
    };
    h.members.insert(
        MemberId::generate().unwrap(),
        Member::new(head, Relation::Head),
    );
    for (name, id) in others {
        let mut m = Member::new(*name, Relation::Child);
        m.identity = id.map(|n| key.seal(&IdNumber::parse(n).unwrap()));
        h.members.insert(MemberId::generate().unwrap(), m);
    }
    h
}

fn ids(r: &doudi_tests::Resp) -> Vec<String> {
    r.body["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| i["household_id"].as_str().unwrap().to_string())
        .collect()
}

async fn search(app: &TestApp, token: &str, q: &str, page: u64) -> doudi_tests::Resp {
    let enc: String = q
        .bytes()
        .map(|b| {
            if b.is_ascii_alphanumeric() {
                (b as char).to_string()
            } else {
                format!("%{b:02X}")
            }
        })
        .collect();
    app.get(&format!("/api/v1/households?q={enc}&page={page}"), token)
        .await
}

async fn search_matches_in_scope_and_pages(b: Backend) {
    let app = spawn_app(b).await;
    app.seed_fixture().await;
    app.create_account("grid.zhang", Role::GridWorker, &[GRID_A])
        .await;
    app.create_account("grid.sun", Role::GridWorker, &[GRID_OTHER_TOWN])
        .await;
    app.create_account("town.zhao", Role::TownReviewer, &["370102001000"])
        .await;
    app.create_account("town.other", Role::TownReviewer, &["370102002000"])
        .await;
    let mut phone = app.phone("grid.zhang").await;
    let mut in_scope = Vec::new();
    for n in 0..23 {
        let id = phone
            .replica
            .create(
                GRID_A,
                &household(
                    &phone.identity_key,
                    &format!("一镇一村 {n} 号"),
                    &format!("王建{n:02}"),
                    &[],
                ),
            )
            .unwrap();
        in_scope.push(id.to_string());
    }
    let fortune = phone
        .replica
        .create(
            GRID_A,
            &household(
                &phone.identity_key,
                "一镇一村幸福里 3 栋",
                "赵大山",
                &[("李秀英", Some("11010519491231002X"))],
            ),
        )
        .unwrap()
        .to_string();
    let o = app.sync(&mut phone).await;
    assert_eq!(o.accepted.len(), 24, "{:?}", o.rejected);
    let mut other_phone = app.phone("grid.sun").await;
    let foreign = other_phone
        .replica
        .create(
            GRID_OTHER_TOWN,
            &household(
                &other_phone.identity_key,
                "二镇幸福里 8 号",
                "王建军",
                &[("李秀兰", None)],
            ),
        )
        .unwrap()
        .to_string();
    let o = app.sync(&mut other_phone).await;
    assert_eq!(o.accepted.len(), 1, "{:?}", o.rejected);

    let town = app.login("town.zhao").await.0;
    let other = app.login("town.other").await.0;

    // Head name prefix, paged by 20.
    let r = search(&app, &town, "王建", 1).await;
    assert_eq!(r.status, StatusCode::OK, "{:?}", r.body);
    assert_eq!(r.body["total"], 23);
    assert_eq!(r.body["pages"], 2);
    assert_eq!(r.body["truncated"], false);
    let mut got = ids(&r);
    assert_eq!(got.len(), 20);
    assert_eq!(r.body["items"][0]["head_name"], "王建00");
    let r2 = search(&app, &town, "王建", 2).await;
    assert_eq!(r2.body["page"], 2);
    got.extend(ids(&r2));
    assert_eq!(got.len(), 23);
    let mut want = in_scope.clone();
    want.sort();
    got.sort();
    assert_eq!(got, want, "pages cover the matches once each");
    assert!(
        !got.contains(&foreign),
        "another township's household leaked"
    );
    // A page past the end answers the last page.
    assert_eq!(search(&app, &town, "王建", 99).await.body["page"], 2);

    // Member name prefix; address fragment; the number's last 4, 5 and 6 characters, and the
    // whole number.
    for q in [
        "李秀",
        "幸福里",
        "002x",
        "002X",
        "1002X",
        "31002x",
        "11010519491231002X",
    ] {
        let r = search(&app, &town, q, 1).await;
        assert_eq!(r.status, StatusCode::OK, "{q}: {:?}", r.body);
        assert_eq!(ids(&r), vec![fortune.clone()], "{q}");
        assert_eq!(r.body["items"][0]["grid"], GRID_A);
    }
    // Other parts of a number (its birth date) match nothing, nor does another number.
    assert_eq!(search(&app, &town, "19491231", 1).await.body["total"], 0);
    assert_eq!(search(&app, &town, "003X", 1).await.body["total"], 0);
    assert_eq!(
        search(&app, &town, "110105194912310038", 1).await.body["total"],
        0
    );
    // Wildcards are literal.
    assert_eq!(search(&app, &town, "%%", 1).await.body["total"], 0);
    assert_eq!(search(&app, &town, "王_", 1).await.body["total"], 0);

    // The other township sees only its own.
    let r = search(&app, &other, "王建", 1).await;
    assert_eq!(ids(&r), vec![foreign.clone()]);
    let r = search(&app, &other, "幸福里", 1).await;
    assert_eq!(ids(&r), vec![foreign.clone()]);
    // Grid workers see their grid.
    let grid = app.login("grid.zhang").await.0;
    let r = search(&app, &grid, "幸福里", 1).await;
    assert_eq!(ids(&r), vec![fortune.clone()]);

    // Bad input.
    for q in ["王", "", &"街".repeat(33)] {
        let r = search(&app, &town, q, 1).await;
        assert_eq!(r.status, StatusCode::BAD_REQUEST, "{q:?}");
        assert_eq!(r.code(), "request.invalid", "{q:?}");
        assert_eq!(r.body["details"]["field"], "q");
    }
    let r = app.get("/api/v1/households?q=王建&page=x", &town).await;
    assert_eq!(r.code(), "request.invalid");
    let r = app
        .send(
            reqwest::Method::GET,
            "/api/v1/households?q=王建",
            None,
            None,
        )
        .await;
    assert_eq!(r.status, StatusCode::UNAUTHORIZED);
}

/// More matches than one kind of match keeps (`search::MAX_MATCHES`, 2,000): the answer is the first
/// 2,000 households in the list's order, whatever order they were stored in and whichever plan
/// reads them, and the same on every call. Heads are members too, so the name and the member
/// branches both overflow; a household whose several members match counts once.
async fn truncated_answers_are_the_first_households_in_list_order(b: Backend) {
    const N: usize = 2010;
    let app = spawn_app(b).await;
    app.seed_fixture().await;
    app.create_account("grid.zhang", Role::GridWorker, &[GRID_A])
        .await;
    app.create_account("town.zhao", Role::TownReviewer, &["370102001000"])
        .await;
    let mut phone = app.phone("grid.zhang").await;
    // Stored in a scrambled order (7919 is prime to 2010), so storage order is not list order;
    // every tenth household has a second member whose name matches too.
    for i in 0..N {
        let n = i * 7919 % N;
        let extra = format!("王建{n:04}子");
        let others: Vec<(&str, Option<&str>)> = if n.is_multiple_of(10) {
            vec![(extra.as_str(), None)]
        } else {
            Vec::new()
        };
        phone
            .replica
            .create(
                GRID_A,
                &household(
                    &phone.identity_key,
                    &format!("一镇一村 {n} 号"),
                    &format!("王建{n:04}"),
                    &others,
                ),
            )
            .unwrap();
    }
    let o = app.sync(&mut phone).await;
    assert_eq!(o.accepted.len(), N, "{:?}", o.rejected);
    let town = app.login("town.zhao").await.0;

    let heads = |r: &doudi_tests::Resp| -> Vec<String> {
        r.body["items"]
            .as_array()
            .unwrap()
            .iter()
            .map(|i| i["head_name"].as_str().unwrap().to_string())
            .collect()
    };
    let first = search(&app, &town, "王建", 1).await;
    assert_eq!(first.status, StatusCode::OK, "{:?}", first.body);
    assert_eq!(first.body["truncated"], true);
    assert_eq!(
        first.body["total"], 2000,
        "the first 2,000 of each kind, once each"
    );
    let want: Vec<String> = (0..20).map(|n| format!("王建{n:04}")).collect();
    assert_eq!(heads(&first), want);
    let last = search(&app, &town, "王建", 100).await;
    let want: Vec<String> = (1980..2000).map(|n| format!("王建{n:04}")).collect();
    assert_eq!(
        heads(&last),
        want,
        "the last page ends at the 2,000th by name"
    );
    // The same answer again.
    let again = search(&app, &town, "王建", 1).await;
    assert_eq!(ids(&again), ids(&first));
}
