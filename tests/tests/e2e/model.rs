//! Sync against a model: random histories of phones and the real server over HTTP.
//!
//! Each case starts a server, logs in two to five phones (replicas running the client engine the
//! SDK runs, `doudi_protocol::sync::engine`) of accounts whose scopes overlap, and plays a random
//! sequence of steps: households and visits created, the same field and different fields edited,
//! members added and removed, syncs of one round with random page budgets from 4 KiB, answers dropped
//! after the server committed, syncs until done, an account moved between regions, the change
//! log compacted. Then every phone syncs until the server has nothing more, and:
//!
//! - each phone holds exactly the documents of its scope, with the server's heads and content,
//!   and nothing left to push;
//! - the projections equal a rebuild from the documents.
//!
//! `PROPTEST_CASES` sets the number of cases (default 24 per backend); a failure prints the
//! shrunk history.

use std::collections::BTreeSet;

use doudi_protocol::doc::household::{HukouType, Member, Relation};
use doudi_protocol::doc::visit::Purpose;
use doudi_protocol::doc::{self, Household, Visit};
use doudi_protocol::ids::MemberId;
use doudi_protocol::role::Role;
use doudi_protocol::sync::{SyncResponse, from_cbor, to_cbor};
use doudi_tests::{Backend, Phone, TestApp, spawn_app};
use proptest::prelude::*;
use reqwest::StatusCode;

const VILLAGE: &str = "370102001001";
const GRID_A: &str = "370102001001-A";
const GRID_B: &str = "370102001001-B";

/// The accounts whose phones play: two phones of one grid worker, the village's assistant (the
/// one moved between regions), the other grid's worker, a second assistant.
const ACCOUNTS: [(&str, Role, &str); 5] = [
    ("grid.a", Role::GridWorker, GRID_A),
    ("assist", Role::Assistant, VILLAGE),
    ("grid.b", Role::GridWorker, GRID_B),
    ("grid.a", Role::GridWorker, GRID_A),
    ("assist.2", Role::Assistant, VILLAGE),
];

/// What a step does to a household.
#[derive(Debug, Clone, Copy)]
enum Edit {
    /// Every phone writes the same field: concurrent writes conflict.
    Address,
    Hukou,
    RegisteredAddress,
    AddMember,
    RemoveMember,
    MemberPhone,
}

#[derive(Debug, Clone)]
enum Step {
    Create {
        phone: usize,
        grid: usize,
    },
    Edit {
        phone: usize,
        pick: usize,
        edit: Edit,
    },
    /// A draft visit (走访) of a household the phone holds, in the household's grid.
    Visit {
        phone: usize,
        pick: usize,
    },
    /// A field of a visit's living conditions (吃穿住用) written.
    EditVisit {
        phone: usize,
        pick: usize,
        field: usize,
    },
    /// One round trip; the answer is dropped after the server committed when `drop`.
    Round {
        phone: usize,
        page: u64,
        drop: bool,
    },
    /// Sync until the server has nothing more.
    Sync {
        phone: usize,
        page: Option<u64>,
    },
    /// The moving assistant goes between the whole village and grid B alone.
    MoveAssistant,
    /// Every logged change's bytes compacted out of the log.
    Compact,
}

fn edit() -> impl Strategy<Value = Edit> {
    prop_oneof![
        Just(Edit::Address),
        Just(Edit::Hukou),
        Just(Edit::RegisteredAddress),
        Just(Edit::AddMember),
        Just(Edit::RemoveMember),
        Just(Edit::MemberPhone),
    ]
}

fn step() -> impl Strategy<Value = Step> {
    let phone = 0usize..5;
    prop_oneof![
        3 => (phone.clone(), 0usize..2).prop_map(|(phone, grid)| Step::Create { phone, grid }),
        6 => (phone.clone(), any::<usize>(), edit())
            .prop_map(|(phone, pick, edit)| Step::Edit { phone, pick, edit }),
        1 => (phone.clone(), any::<usize>()).prop_map(|(phone, pick)| Step::Visit { phone, pick }),
        2 => (phone.clone(), any::<usize>(), 0usize..4)
            .prop_map(|(phone, pick, field)| Step::EditVisit { phone, pick, field }),
        5 => (phone.clone(), 4096u64..65536, proptest::bool::weighted(0.25))
            .prop_map(|(phone, page, drop)| Step::Round { phone, page, drop }),
        2 => (phone.clone(), proptest::option::of(4096u64..16384))
            .prop_map(|(phone, page)| Step::Sync { phone, page }),
        1 => Just(Step::MoveAssistant),
        1 => Just(Step::Compact),
    ]
}

/// A history: how many phones play, and the steps.
fn history() -> impl Strategy<Value = (usize, Vec<Step>)> {
    (2usize..=5, proptest::collection::vec(step(), 10..60))
}

struct World {
    app: TestApp,
    admin: String,
    phones: Vec<Phone>,
    /// Whether the moving assistant is on grid B alone.
    moved: bool,
    counter: usize,
}

impl World {
    async fn new(backend: Backend, phones: usize) -> World {
        let app = spawn_app(backend).await;
        app.seed_fixture().await;
        app.create_account("admin", Role::Admin, &["370102000000"])
            .await;
        let (admin, _, _) = app.login("admin").await;
        let mut made = BTreeSet::new();
        let mut out = Vec::new();
        for (name, role, region) in ACCOUNTS.iter().take(phones) {
            if made.insert(*name) {
                app.create_account(name, *role, &[region]).await;
            }
            out.push(app.phone(name).await);
        }
        World {
            app,
            admin,
            phones: out,
            moved: false,
            counter: 0,
        }
    }

    /// The grids the account of phone `i` may read now.
    fn grids(&self, i: usize) -> Vec<&'static str> {
        match ACCOUNTS[i].2 {
            VILLAGE if ACCOUNTS[i].0 == "assist" && self.moved => vec![GRID_B],
            VILLAGE => vec![GRID_A, GRID_B],
            grid => vec![grid],
        }
    }

    /// The documents of `kind` phone `i` holds, in id order.
    fn held(&self, i: usize, kind: &str) -> Vec<String> {
        let r = &self.phones[i].replica;
        r.ids()
            .filter(|id| r.entry(id).is_some_and(|e| e.kind == kind))
            .cloned()
            .collect()
    }

    async fn play(&mut self, step: &Step) {
        let n = self.phones.len();
        self.counter += 1;
        let tag = self.counter;
        match *step {
            Step::Create { phone, grid } => {
                let i = phone % n;
                let grids = self.grids(i);
                let grid = grids[grid % grids.len()];
                let mut h = Household {
                    address: format!("一村 {tag} 号"),
                    ..Default::default()
                };
                h.members.insert(
                    MemberId::generate().unwrap(),
                    Member::new("王建国", Relation::Head),
                );
                h.members.insert(
                    MemberId::generate().unwrap(),
                    Member::new("王小军", Relation::Child),
                );
                self.phones[i].replica.create(grid, &h).unwrap();
            }
            Step::Edit { phone, pick, edit } => {
                let i = phone % n;
                let held = self.held(i, "household");
                if held.is_empty() {
                    return;
                }
                let id = &held[pick % held.len()];
                self.phones[i]
                    .replica
                    .update::<Household>(id, |h| apply_edit(h, edit, tag))
                    .unwrap();
            }
            Step::Visit { phone, pick } => {
                let i = phone % n;
                let held = self.held(i, "household");
                if held.is_empty() {
                    return;
                }
                let household = &held[pick % held.len()];
                let grid = self.phones[i]
                    .replica
                    .entry(household)
                    .unwrap()
                    .scope
                    .clone();
                let visit = Visit::new(household.parse().unwrap(), Purpose::CareVisit);
                self.phones[i].replica.create(&grid, &visit).unwrap();
            }
            Step::EditVisit { phone, pick, field } => {
                let i = phone % n;
                let held = self.held(i, "visit");
                if held.is_empty() {
                    return;
                }
                let id = &held[pick % held.len()];
                let note = Some(format!("记录 {tag}"));
                self.phones[i]
                    .replica
                    .update::<Visit>(id, |v| match field {
                        0 => v.living.food = note,
                        1 => v.living.clothing = note,
                        2 => v.living.housing = note,
                        _ => v.living.daily_goods = note,
                    })
                    .unwrap();
            }
            Step::Round { phone, page, drop } => {
                let i = phone % n;
                let p = &mut self.phones[i];
                let req = to_cbor(&p.replica.prepare(Some(page)));
                let resp = self.app.post_sync(&p.access, req).await;
                assert_eq!(resp.status(), StatusCode::OK);
                let bytes = resp.bytes().await.unwrap();
                if !drop {
                    let resp: SyncResponse = from_cbor(&bytes).unwrap();
                    p.replica.apply(resp).unwrap();
                }
            }
            Step::Sync { phone, page } => {
                let i = phone % n;
                sync_until_done(&self.app, &mut self.phones[i], page).await;
            }
            Step::MoveAssistant => {
                let Some(i) = (0..n).find(|&i| ACCOUNTS[i].0 == "assist") else {
                    return;
                };
                self.moved = !self.moved;
                let regions = if self.moved { GRID_B } else { VILLAGE };
                let r = self
                    .app
                    .send(
                        reqwest::Method::PATCH,
                        &format!("/api/v1/admin/accounts/{}", self.phones[i].account_id),
                        Some(&self.admin),
                        Some(serde_json::json!({ "regions": [regions] })),
                    )
                    .await;
                assert_eq!(r.status, StatusCode::OK, "{:?}", r.body);
            }
            Step::Compact => {
                let now = chrono::Utc::now().timestamp_millis();
                doudi_server::documents::compact::run(&self.app.state.db, now + 1)
                    .await
                    .unwrap();
            }
        }
    }

    /// Every phone syncs until done, twice over (what one pushes, the others then pull), and
    /// each holds what the server holds of its scope; the projections equal a rebuild.
    async fn check(&mut self) {
        for _ in 0..2 {
            for p in self.phones.iter_mut() {
                sync_until_done(&self.app, p, None).await;
            }
        }
        let stored = doudi_tests::stored::documents(&self.app.state.db).await;
        for i in 0..self.phones.len() {
            let grids = self.grids(i);
            let phone = &mut self.phones[i];
            let expected: BTreeSet<&String> = stored
                .values()
                .filter(|d| grids.contains(&d.scope.as_str()))
                .map(|d| &d.id)
                .collect();
            let held: BTreeSet<&String> = phone.replica.ids().collect();
            assert_eq!(held, expected, "phone {i}: the documents of its scope");
            for id in expected {
                let row = &stored[id];
                let server = automerge::Automerge::load(&row.snapshot).unwrap();
                let entry = phone.replica.entry_mut(id).unwrap();
                let heads = entry.doc.get_heads();
                assert_eq!(heads, server.get_heads(), "phone {i}, {id}: heads");
                assert_eq!(entry.acked, heads, "phone {i}, {id}: left to push");
                let ours = doudi_protocol::doc::read_any(&doc::tree(&entry.doc).unwrap()).unwrap();
                let theirs = doudi_protocol::doc::read_any(&doc::tree(&server).unwrap()).unwrap();
                assert_eq!(ours.1, theirs.1, "phone {i}, {id}: content");
            }
            assert!(
                phone.replica.position().want.is_empty(),
                "phone {i} still wants {:?}",
                phone.replica.position().want
            );
        }
        let db = &self.app.state.db;
        let incremental = doudi_tests::stored::projections(db).await;
        doudi_server::documents::projection::rebuild_all(db)
            .await
            .unwrap();
        assert_eq!(
            incremental,
            doudi_tests::stored::projections(db).await,
            "projections equal a rebuild"
        );
    }
}

fn apply_edit(h: &mut Household, edit: Edit, tag: usize) {
    let not_head = h
        .members
        .iter()
        .filter(|(_, m)| m.relation != Relation::Head)
        .map(|(id, _)| *id)
        .next();
    match edit {
        Edit::Address => h.address = format!("一村 {tag} 号"),
        Edit::Hukou => {
            h.hukou_type = Some(if tag.is_multiple_of(2) {
                HukouType::Rural
            } else {
                HukouType::Urban
            })
        }
        Edit::RegisteredAddress => h.registered_address = Some(format!("户籍地 {tag}")),
        Edit::AddMember => {
            h.members.insert(
                MemberId::generate().unwrap(),
                Member::new(format!("成员{tag}"), Relation::Child),
            );
        }
        Edit::RemoveMember => {
            if let Some(id) = not_head {
                h.members.remove(&id);
            }
        }
        Edit::MemberPhone => {
            if let Some(id) = not_head {
                h.members.get_mut(&id).unwrap().phone = Some(format!("139{tag:08}"));
            }
        }
    }
}

/// Sync one phone until the server has nothing more (rejections would be a failure of the
/// model: every step writes valid documents in the phone's scope).
async fn sync_until_done(app: &TestApp, phone: &mut Phone, page: Option<u64>) {
    for _ in 0..1000 {
        let o = app.sync_once(phone, page).await;
        assert!(
            o.rejected
                .iter()
                .all(|r| r.code.as_deref() == Some("policy.denied")),
            "{:?}",
            o.rejected
        );
        if !o.more {
            return;
        }
    }
    panic!("sync did not finish in 1000 rounds");
}

fn config() -> ProptestConfig {
    ProptestConfig {
        cases: std::env::var("PROPTEST_CASES")
            .ok()
            .and_then(|v| v.parse().ok())
            .unwrap_or(24),
        max_shrink_iters: 200,
        ..ProptestConfig::default()
    }
}

fn run(backend: Backend, phones: usize, steps: &[Step]) {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async {
        let mut world = World::new(backend, phones).await;
        for s in steps {
            world.play(s).await;
        }
        world.check().await;
    });
}

proptest! {
    #![proptest_config(config())]

    #[test]
    fn histories_converge_sqlite((phones, steps) in history()) {
        run(Backend::Sqlite, phones, &steps);
    }

    #[test]
    fn histories_converge_postgres((phones, steps) in history()) {
        if let Some(b) = Backend::postgres() {
            run(b, phones, &steps);
        }
    }
}
