//! What the sync and province benchmarks share: deterministic household and visit content, a
//! simulated phone speaking the sync protocol over HTTP, and the ingest of many devices.

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use automerge::ActorId;
use serde_bytes::ByteBuf;
use serde_json::{Value, json};

use doudi_protocol::doc::common::{GeoPoint, Photo, PhotoCategory};
use doudi_protocol::doc::household::{
    Asset, AssetKind, Health, HukouType, IncomeClass, IncomeItem, IncomeKind, IncomeSource, Member,
    Period, Relation, WorkCapacity,
};
use doudi_protocol::doc::visit::{
    Comparison, ComparisonSubject, Conclusion, Investigator, LivingConditions, MemberCheck,
    Purpose, Signature, SignerRole, VisitStatus,
};
use doudi_protocol::doc::{self, Household, UnixMillis, Visit};
use doudi_protocol::id_number::{IdNumber, check_char};
use doudi_protocol::identity::SealKey;
use doudi_protocol::ids::{AccountId, BlobHash, DocumentId, EntryId, MemberId};
use doudi_protocol::sync::{
    CONTENT_TYPE, DocPush, PROTOCOL_VERSION, PushStatus, Replica, SyncOutcome, SyncRequest,
    SyncResponse, from_cbor, replica::device_actor, to_cbor,
};

use crate::PASSWORD;

// ---------------------------------------------------------------------------------------------
// Deterministic content

pub use crate::faults::Rng;

/// One of `parts` (never empty).
fn name_part(rng: &mut Rng, parts: &[&'static str]) -> &'static str {
    rng.pick(parts).copied().unwrap_or_default()
}

pub const SURNAMES: &[&str] = &[
    "王", "李", "张", "刘", "陈", "杨", "赵", "黄", "周", "吴", "徐", "孙",
];
pub const GIVEN_M: &[&str] = &[
    "建国", "志强", "国栋", "德福", "海军", "永明", "小军", "浩然",
];
pub const GIVEN_F: &[&str] = &[
    "秀英", "桂兰", "玉梅", "淑珍", "小花", "丽娟", "雨欣", "春燕",
];

/// A valid 身份证号 for someone born on the given day in 历下区 (370102), with the check
/// character from the protocol's ISO 7064 function.
pub fn id_number(rng: &mut Rng, year: u32, month: u32, day: u32, male: bool) -> IdNumber {
    let seq = rng.below(100);
    let sex_digit = rng.below(5) * 2 + u64::from(male);
    let first17 = format!("370102{year:04}{month:02}{day:02}{seq:02}{sex_digit}");
    let check = check_char(&first17).expect("17 digits");
    IdNumber::parse(&format!("{first17}{check}")).expect("valid by construction")
}

pub fn person(rng: &mut Rng, key: &SealKey, relation: Relation, male: bool, born: u32) -> Member {
    let surname = name_part(rng, SURNAMES);
    let given = name_part(rng, if male { GIVEN_M } else { GIVEN_F });
    let month = 1 + rng.below(12) as u32;
    let day = 1 + rng.below(28) as u32;
    let mut m = Member::new(format!("{surname}{given}"), relation);
    m.identity = Some(key.seal(&id_number(rng, born, month, day, male)));
    m.health = Some(if born < 1960 {
        Health::Fair
    } else {
        Health::Healthy
    });
    m.work_capacity = Some(if (1965..2005).contains(&born) {
        WorkCapacity::Able
    } else {
        WorkCapacity::FullyLost
    });
    m
}

/// A household of 3–5 members with ID numbers, income items and a dwelling.
pub fn household(rng: &mut Rng, key: &SealKey, n: usize) -> Household {
    let mut h = Household {
        address: format!("济南市历下区一镇一村 {} 排 {} 号", n / 40 + 1, n % 40 + 1),
        hukou_type: Some(HukouType::Rural),
        ..Default::default()
    };
    let head_born = 1955 + rng.below(25) as u32;
    let head = MemberId::generate().unwrap();
    let mut head_m = person(rng, key, Relation::Head, true, head_born);
    head_m.phone = Some(format!("139{:08}", rng.below(100_000_000)));
    h.members.insert(head, head_m);
    h.members.insert(
        MemberId::generate().unwrap(),
        person(rng, key, Relation::Spouse, false, head_born + 2),
    );
    let children = 1 + rng.below(3) as usize;
    for c in 0..children {
        let born = (head_born + 24 + 3 * c as u32).min(2020);
        let male = rng.below(2) == 0;
        h.members.insert(
            MemberId::generate().unwrap(),
            person(rng, key, Relation::Child, male, born),
        );
    }
    let wages = 80_000 + rng.below(100_000) as i64;
    let subsidy = 60_000 + rng.below(40_000) as i64;
    let items = [
        (
            Some(head),
            IncomeClass::Wages,
            "general",
            wages,
            Period::Month,
            "村委会出具的务工证明",
            IncomeSource::Declared,
        ),
        (
            None,
            IncomeClass::Transfer,
            "cultivated_land_subsidy",
            subsidy,
            Period::Year,
            "一卡通流水",
            IncomeSource::DataCheck,
        ),
    ];
    for item in items {
        h.income.insert(EntryId::generate().unwrap(), income(item));
    }
    h.assets.insert(
        EntryId::generate().unwrap(),
        Asset {
            kind: AssetKind::Dwelling,
            owner: Some(head),
            description: Some("自建砖房三间，约 80 平方米".into()),
            value_fen: 0,
            exemption: Some("唯一住房".into()),
        },
    );
    h
}

pub type IncomeFields = (
    Option<MemberId>,
    IncomeClass,
    &'static str,
    i64,
    Period,
    &'static str,
    IncomeSource,
);

/// An income item (its type a national or local code).
pub fn income(
    (member, class, kind, amount_fen, period, evidence, source): IncomeFields,
) -> IncomeItem {
    IncomeItem {
        member,
        class,
        kind: IncomeKind::from_code(kind),
        amount_fen,
        period,
        evidence: Some(evidence.into()),
        source,
    }
}

/// The later edit of a household: an income item found at a visit.
pub fn add_observed_income(h: &mut Household, rng: &mut Rng) {
    let amount = 20_000 + rng.below(30_000) as i64;
    h.income.insert(
        EntryId::generate().unwrap(),
        income((
            None,
            IncomeClass::Business,
            "general",
            amount,
            Period::Year,
            "入户查看：养殖（鸡 30 只）",
            IncomeSource::Observed,
        )),
    );
}

/// A draft visit as started at the door: purpose, time, place, members seen.
pub fn draft_visit(rng: &mut Rng, household: DocumentId, members: &[MemberId]) -> Visit {
    let mut v = Visit::new(household, Purpose::Recheck);
    let start = 1_763_800_000_000 + rng.below(30 * 86_400) as i64 * 1000;
    v.started_at = Some(UnixMillis(start));
    v.gps = Some(GeoPoint {
        lat: 36.65 + rng.below(1000) as f64 / 10_000.0,
        lon: 117.12 + rng.below(1000) as f64 / 10_000.0,
        accuracy_m: Some(8.0),
    });
    for (i, m) in members.iter().enumerate() {
        v.member_checks.insert(
            *m,
            MemberCheck {
                present: i < 3,
                confirmed: true,
                ..Default::default()
            },
        );
    }
    v
}

/// Complete and submit a visit: two investigators with signatures, the signatures of the family
/// members present, living
/// conditions, an income comparison, photos as blob references, the conclusion.
pub fn submit_visit(v: &mut Visit, rng: &mut Rng, investigators: &[(&str, &str); 2]) {
    let start = v.started_at.map(|t| t.0).unwrap_or(1_763_800_000_000);
    let end = start + 40 * 60 * 1000;
    v.ended_at = Some(UnixMillis(end));
    for (acct, name) in investigators {
        let account = AccountId::parse(acct).expect("account id");
        v.investigators.insert(
            account.clone(),
            Investigator {
                name: name.to_string(),
            },
        );
        v.signatures.insert(
            BlobHash::from_bytes(rng.bytes32()),
            Signature {
                signer_name: name.to_string(),
                role: SignerRole::Investigator,
                account: Some(account),
                member: None,
                signed_at: Some(UnixMillis(end)),
            },
        );
    }
    // Each family member present signs (DB2021 art. 16).
    let present: Vec<MemberId> = v
        .member_checks
        .iter()
        .filter(|(_, c)| c.present)
        .map(|(id, _)| *id)
        .collect();
    for member in present {
        v.signatures.insert(
            BlobHash::from_bytes(rng.bytes32()),
            Signature {
                signer_name: format!("{}建国", name_part(rng, SURNAMES)),
                role: SignerRole::Family,
                account: None,
                member: Some(member),
                signed_at: Some(UnixMillis(end)),
            },
        );
    }
    v.living = LivingConditions {
        food: Some("主食充足，肉蛋较少".into()),
        clothing: Some("冬衣齐备".into()),
        housing: Some("砖房，屋顶有渗漏".into()),
        daily_goods: Some("有电视、冰箱，无洗衣机".into()),
    };
    v.comparisons.insert(
        EntryId::generate().unwrap(),
        Comparison {
            subject: ComparisonSubject::Income,
            description: "户主务工收入".into(),
            declared_fen: Some(120_000),
            observed_fen: Some(120_000 + rng.below(20_000) as i64),
            note: Some("与工友核实".into()),
        },
    );
    let categories = [
        PhotoCategory::DwellingOutside,
        PhotoCategory::DwellingInside,
        PhotoCategory::Kitchen,
    ];
    for category in categories {
        v.photos.insert(
            BlobHash::from_bytes(rng.bytes32()),
            Photo {
                category,
                caption: Some(category.label_zh().to_string()),
                captured_at: UnixMillis(start + 10 * 60 * 1000),
                gps: v.gps,
            },
        );
    }
    v.conclusion = Some(Conclusion::Accurate);
    v.conclusion_notes = Some("家庭成员及收入情况与申报一致".into());
    v.status = VisitStatus::Submitted;
    v.submitted_at = Some(UnixMillis(end));
}

/// A submitted visit made as a phone makes it offline: created as a draft (one change), then
/// completed and submitted (a second change). Returns the document id and the change bytes.
pub fn offline_visit(
    rng: &mut Rng,
    actor: &ActorId,
    grid: &str,
    household: DocumentId,
    investigators: &[(&str, &str); 2],
) -> (String, Vec<Vec<u8>>) {
    let id = DocumentId::generate().unwrap();
    let draft = draft_visit(rng, household, &[]);
    let mut am = doc::create(id, grid, &draft, Some(actor.clone())).expect("visit document");
    let mut done = draft;
    submit_visit(&mut done, rng, investigators);
    doc::write(&mut am, &done).expect("visit written");
    am.commit();
    let changes = am
        .get_changes(&[])
        .into_iter()
        .map(|mut c| c.bytes().into_owned())
        .collect();
    (id.to_string(), changes)
}

/// A memory field of /proc/<pid>/status, in KiB (0 when unreadable).
pub fn proc_status_kib(pid: u32, field: &str) -> u64 {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .ok()
        .and_then(|s| {
            s.lines()
                .find_map(|l| l.strip_prefix(field))
                .and_then(|rest| rest.split_whitespace().next())
                .and_then(|n| n.parse().ok())
        })
        .unwrap_or(0)
}

// ---------------------------------------------------------------------------------------------
// A simulated phone

pub struct Phone {
    pub replica: Replica,
    pub access: String,
    pub account_id: String,
}

/// Body bytes and time of one round trip (request sent to response body read).
#[derive(Debug, Clone, Copy, Default)]
pub struct Trip {
    pub up: usize,
    /// The answer's body on the wire (gzip-coded when the transport asked for it).
    pub down: usize,
    /// The same body decoded: the protocol's bytes.
    pub decoded: usize,
    pub http: Duration,
}

pub struct Client {
    pub http: reqwest::Client,
    pub base: String,
    /// The measured phone sends its syncs through the SDK's built-in transport with the headers
    /// the SDK sends (only `Authorization`), so that header bytes are the phone's; the other
    /// simulated devices use `http`.
    pub sdk: Option<Arc<doudi_sdk::BuiltinTransport>>,
}

impl Client {
    pub fn new(addr: SocketAddr) -> Client {
        Client {
            http: reqwest::Client::builder()
                .pool_max_idle_per_host(4)
                .build()
                .expect("http client"),
            base: format!("http://{addr}"),
            sdk: None,
        }
    }

    /// Log in as a new device; returns (access token, device id, account id).
    pub async fn login(&self, username: &str) -> (String, String, String) {
        let body = json!({
            "username": username,
            "password": PASSWORD,
            "device": { "name": "压测手机", "platform": "android" },
        });
        let resp = self
            .http
            .post(format!("{}/api/v1/auth/login", self.base))
            .json(&body)
            .send()
            .await
            .expect("login sent");
        let status = resp.status();
        let v: Value = resp.json().await.unwrap_or(Value::Null);
        assert!(status.is_success(), "login {username}: {status} {v}");
        let s = |v: &Value| v.as_str().unwrap_or_default().to_string();
        (
            s(&v["access_token"]),
            s(&v["device_id"]),
            s(&v["account"]["id"]),
        )
    }

    /// The key the server's identity numbers are sealed to.
    pub async fn identity_key(&self) -> SealKey {
        let v: Value = self
            .http
            .get(format!("{}/api/v1/identity-key", self.base))
            .send()
            .await
            .expect("identity key asked")
            .json()
            .await
            .expect("identity key answered");
        SealKey::parse_hex(v["key"].as_str().unwrap_or_default()).expect("a seal key")
    }

    pub async fn phone(&self, username: &str) -> Phone {
        let (access, device_id, account_id) = self.login(username).await;
        Phone {
            replica: Replica::new(device_actor(&device_id).expect("device id is 32 hex")),
            access,
            account_id,
        }
    }

    /// POST a CBOR body; the response body and the time taken.
    /// Send a sync: the answer's body decoded, its length on the wire, the time.
    pub async fn post(&self, token: &str, body: Vec<u8>) -> (Vec<u8>, usize, Duration) {
        let t = Instant::now();
        if let Some(sdk) = &self.sdk {
            use doudi_sdk::{HttpHeader, HttpRequest, Transport};
            let (sdk, req) = (
                sdk.clone(),
                HttpRequest {
                    method: "POST".into(),
                    url: format!("{}/api/v1/sync", self.base),
                    headers: vec![HttpHeader {
                        name: "authorization".into(),
                        value: format!("Bearer {token}"),
                    }],
                    body,
                },
            );
            let resp = tokio::task::spawn_blocking(move || sdk.send(req))
                .await
                .expect("transport task")
                .expect("sync sent");
            let time = t.elapsed();
            let wire = resp.body.len();
            let resp = doudi_sdk::decoded(resp).expect("the body decodes");
            assert!(
                resp.status == 200,
                "sync: {} {}",
                resp.status,
                String::from_utf8_lossy(&resp.body)
            );
            return (resp.body, wire, time);
        }
        let resp = self
            .http
            .post(format!("{}/api/v1/sync", self.base))
            .bearer_auth(token)
            .header("content-type", CONTENT_TYPE)
            .body(body)
            .send()
            .await
            .expect("sync sent");
        let status = resp.status();
        let bytes = resp.bytes().await.expect("sync body").to_vec();
        let time = t.elapsed();
        assert!(
            status.is_success(),
            "sync: {status} {}",
            String::from_utf8_lossy(&bytes)
        );
        let wire = bytes.len();
        (bytes, wire, time)
    }

    pub async fn sync_once(&self, phone: &mut Phone, page: Option<u64>) -> (SyncOutcome, Trip) {
        let req = to_cbor(&phone.replica.prepare(page));
        let up = req.len();
        let (bytes, wire, http) = self.post(&phone.access, req).await;
        let resp: SyncResponse = from_cbor(&bytes).expect("response decodes");
        let outcome = phone.replica.apply(resp).expect("response applies");
        let trip = Trip {
            up,
            down: wire,
            decoded: bytes.len(),
            http,
        };
        if let Some(r) = outcome.rejected.first() {
            panic!(
                "{} document(s) rejected, first: {} {:?} {:?}",
                outcome.rejected.len(),
                r.doc,
                r.code,
                r.issues
            );
        }
        (outcome, trip)
    }
}

#[derive(Debug, Default, Clone)]
pub struct Ingest {
    pub devices: usize,
    pub visits: usize,
    pub elapsed: Duration,
    pub p50: Duration,
    pub p95: Duration,
    pub p99: Duration,
    pub max: Duration,
    pub mean_up: f64,
    pub mean_down: f64,
    pub rss_peak_kib: u64,
    pub rss_before_kib: u64,
}

pub fn percentile(sorted: &[Duration], q: f64) -> Duration {
    if sorted.is_empty() {
        return Duration::ZERO;
    }
    let i = ((q * sorted.len() as f64).ceil() as usize).clamp(1, sorted.len()) - 1;
    sorted[i]
}

pub fn median(mut v: Vec<Duration>) -> Duration {
    v.sort();
    percentile(&v, 0.5)
}

/// Who ingests: devices, each logged in as its own grid worker, submitting visits to the server
/// at `addr` (process `pid`) as fast as it answers.
#[derive(Debug, Clone)]
pub struct IngestPlan<'a> {
    pub addr: SocketAddr,
    pub pid: u32,
    /// Each device's user name and grid.
    pub devices: Vec<(String, String)>,
    /// Visits each device submits, one per request.
    pub visits: usize,
    /// Time cap of the ingest.
    pub secs: u64,
    /// The account id of the second investigator every visit names.
    pub colleague: &'a str,
}

/// Ingest: the devices of `plan` log in, register a household of their grid and prepare their
/// visits, then submit them concurrently; latency per request, throughput and the server's
/// resident set.
pub async fn ingest(plan: &IngestPlan<'_>) -> Ingest {
    let colleague = plan.colleague;
    let client = Client::new(plan.addr);
    // Log in and prepare every visit before the clock starts, so that the phones' own work of
    // building automerge documents does not compete with the server for the two cores.
    let mut devices = Vec::new();
    let key = client.identity_key().await;
    for (d, (user, grid)) in plan.devices.iter().enumerate() {
        let mut phone = client.phone(user).await;
        client.sync_once(&mut phone, None).await;
        let mut rng = Rng::new(0x1_0000 + d as u64);
        let me = phone.account_id.clone();
        // The household the device's visits name, registered in its grid first (the server
        // checks that a visit names a household of its grid).
        let content = household(&mut rng, &key, d);
        let household = phone.replica.create(grid, &content).unwrap();
        let (out, _) = client.sync_once(&mut phone, None).await;
        assert_eq!(out.accepted.len(), 1, "the ingest household is stored");
        // The rest of the grid's first sync, as a phone completes it before it records visits:
        // otherwise the first answers of the measured requests carry the grid's documents.
        let mut more = out.more;
        for _ in 0..10_000 {
            if !more {
                break;
            }
            more = client.sync_once(&mut phone, None).await.0.more;
        }
        let visits: Vec<(String, Vec<Vec<u8>>)> = (0..plan.visits)
            .map(|_| {
                offline_visit(
                    &mut rng,
                    phone.replica.actor(),
                    grid,
                    household,
                    &[(me.as_str(), "压测网格员"), (colleague, "刘协理")],
                )
            })
            .collect();
        devices.push((phone, visits));
    }
    let rss_before_kib = proc_status_kib(plan.pid, "VmRSS:");
    let peak = Arc::new(AtomicU64::new(rss_before_kib));
    let stop = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let sampler = {
        let (peak, stop, pid) = (peak.clone(), stop.clone(), plan.pid);
        tokio::spawn(async move {
            while !stop.load(Ordering::SeqCst) {
                peak.fetch_max(proc_status_kib(pid, "VmRSS:"), Ordering::SeqCst);
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
        })
    };
    let deadline = Duration::from_secs(plan.secs);
    let start = Instant::now();
    let mut tasks = Vec::new();
    for (mut phone, visits) in devices {
        let http = client.http.clone();
        let base = client.base.clone();
        tasks.push(tokio::spawn(async move {
            let client = Client {
                http,
                base,
                sdk: None,
            };
            let mut cursor = phone.replica.cursor();
            // As the SDK does, each request names the policy book and task list the device holds.
            let held = phone.replica.prepare(None);
            let (mut policy_version, mut tasks_tag) = (held.policy_version, held.tasks_tag);
            let mut lat = Vec::with_capacity(visits.len());
            let (mut up, mut down) = (0usize, 0usize);
            for (doc, changes) in visits {
                if start.elapsed() >= deadline {
                    break;
                }
                let req = SyncRequest {
                    v: PROTOCOL_VERSION,
                    cursor,
                    push: vec![DocPush {
                        doc,
                        changes: changes.into_iter().map(ByteBuf::from).collect(),
                    }],
                    policy_version,
                    tasks_tag,
                    ..Default::default()
                };
                let body = to_cbor(&req);
                up += body.len();
                let (bytes, _, time) = client.post(&phone.access, body).await;
                down += bytes.len();
                let resp: SyncResponse = from_cbor(&bytes).expect("response decodes");
                assert!(
                    resp.results.len() == 1 && resp.results[0].status == PushStatus::Accepted,
                    "visit not accepted: {:?}",
                    resp.results
                );
                cursor = resp.cursor;
                if let Some(p) = &resp.policy {
                    policy_version = Some(p.version);
                }
                if let Some(t) = &resp.tasks {
                    tasks_tag = Some(t.tag);
                }
                lat.push(time);
            }
            (lat, up, down)
        }));
    }
    let mut lat = Vec::new();
    let (mut up, mut down) = (0usize, 0usize);
    for t in tasks {
        let (l, u, d) = t.await.expect("ingest task");
        lat.extend(l);
        up += u;
        down += d;
    }
    let elapsed = start.elapsed();
    stop.store(true, Ordering::SeqCst);
    let _ = sampler.await;
    lat.sort();
    let n = lat.len().max(1) as f64;
    Ingest {
        devices: plan.devices.len(),
        visits: lat.len(),
        elapsed,
        p50: percentile(&lat, 0.50),
        p95: percentile(&lat, 0.95),
        p99: percentile(&lat, 0.99),
        max: lat.last().copied().unwrap_or_default(),
        mean_up: up as f64 / n,
        mean_down: down as f64 / n,
        rss_peak_kib: peak.load(Ordering::SeqCst),
        rss_before_kib,
    }
}
