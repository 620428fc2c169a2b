//! The published document schema as an independent client uses it: read from
//! `GET /api/v1/schema`, followed with raw automerge operations only (no typed views, no
//! `doc::create`), pushed over real HTTP to the real server.

use std::collections::BTreeMap;
use std::time::{SystemTime, UNIX_EPOCH};

use automerge::transaction::Transactable;
use automerge::{ActorId, AutoCommit, ObjId, ObjType, ReadDoc, ScalarValue};
use doudi_protocol::role::Role;
use doudi_protocol::sync::{
    DocPush, PushResult, PushStatus, SyncRequest, SyncResponse, from_cbor, to_cbor,
};
use doudi_tests::{Backend, Phone, TestApp, both_backends, spawn_app};
use reqwest::StatusCode;
use serde_bytes::ByteBuf;
use serde_json::{Map, Value, json};

both_backends!(
    the_schema_is_served_without_a_token_and_declared,
    a_client_writes_a_valid_visit_from_the_published_schema_alone,
    keys_the_schema_gives_to_the_server_are_refused_from_phones,
    a_rejected_document_lists_every_problem_at_once,
);

const GRID: &str = "370102001001-A";

/// GET without a token, answered 200 with JSON.
async fn get_json(app: &TestApp, path: &str) -> Value {
    let r = app.http.get(app.url(path)).send().await.unwrap();
    assert_eq!(r.status(), StatusCode::OK, "{path}");
    r.json().await.unwrap()
}

/// The schema as a client reads it: the JSON of `GET /api/v1/schema`.
struct Schema(Value);

impl Schema {
    async fn fetch(app: &TestApp) -> Schema {
        let r = app
            .http
            .get(app.url("/api/v1/schema"))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), StatusCode::OK);
        Schema(r.json().await.unwrap())
    }

    fn format(&self, name: &str) -> &Value {
        let f = &self.0["formats"][name];
        assert!(f.is_object(), "format {name} is not published");
        f
    }

    fn kind(&self, kind: &str) -> &Value {
        self.0["kinds"]
            .as_array()
            .unwrap()
            .iter()
            .find(|k| k["kind"] == kind)
            .unwrap_or_else(|| panic!("kind {kind} is not published"))
    }

    fn spec<'a>(keys: &'a Value, name: &str) -> &'a Value {
        keys.as_array()
            .unwrap()
            .iter()
            .find(|k| k["key"] == name)
            .unwrap_or_else(|| panic!("{name} is not a published key"))
    }

    /// A scalar as the format's automerge type says; codes must be among the published ones.
    fn scalar(&self, format: &str, v: &Value) -> ScalarValue {
        let f = self.format(format);
        if let Some(codes) = f["codes"].as_array() {
            assert!(
                codes.iter().any(|c| c["code"] == *v),
                "{v} is not a code of {format}"
            );
        }
        match f["automerge"].as_str().unwrap() {
            "str" => ScalarValue::Str(v.as_str().unwrap().into()),
            "int" => ScalarValue::Int(v.as_i64().unwrap()),
            "f64" => ScalarValue::F64(v.as_f64().unwrap()),
            "bool" => ScalarValue::Boolean(v.as_bool().unwrap()),
            "timestamp" => ScalarValue::Timestamp(v.as_i64().unwrap()),
            "bytes" => ScalarValue::Bytes(hex::decode(v.as_str().unwrap()).unwrap()),
            other => panic!("unknown automerge type {other}"),
        }
    }

    /// Write `values` into the map `obj` whose keys are `keys`, every key as the schema says,
    /// and check that every required key (and every key needed in `status`) is there.
    fn write(
        &self,
        doc: &mut AutoCommit,
        obj: &ObjId,
        keys: &Value,
        values: &Value,
        status: Option<&str>,
    ) {
        let values = values.as_object().unwrap();
        for (name, v) in values {
            let spec = Self::spec(keys, name);
            match spec["type"].as_str().unwrap() {
                "scalar" => {
                    let s = self.scalar(spec["format"].as_str().unwrap(), v);
                    doc.put(obj, name.as_str(), s).unwrap();
                }
                "map" | "value_object" => {
                    let m = doc.put_object(obj, name.as_str(), ObjType::Map).unwrap();
                    self.write(doc, &m, &spec["keys"], v, None);
                }
                "entries" => {
                    let m = doc.put_object(obj, name.as_str(), ObjType::Map).unwrap();
                    let key_format = spec["key_format"].as_str().unwrap();
                    for (k, entry) in v.as_object().unwrap() {
                        self.scalar(key_format, &json!(k));
                        let e = doc.put_object(&m, k.as_str(), ObjType::Map).unwrap();
                        self.write(doc, &e, &spec["keys"], entry, None);
                    }
                }
                "set" => {
                    let m = doc.put_object(obj, name.as_str(), ObjType::Map).unwrap();
                    let key_format = spec["key_format"].as_str().unwrap();
                    for member in v.as_array().unwrap() {
                        self.scalar(key_format, member);
                        doc.put(&m, member.as_str().unwrap(), true).unwrap();
                    }
                }
                "list" => {
                    let l = doc.put_object(obj, name.as_str(), ObjType::List).unwrap();
                    for (i, item) in v.as_array().unwrap().iter().enumerate() {
                        let m = doc.insert_object(&l, i, ObjType::Map).unwrap();
                        self.write(doc, &m, &spec["keys"], item, None);
                    }
                }
                other => panic!("{name}: unknown type {other}"),
            }
        }
        for spec in keys.as_array().unwrap() {
            let name = spec["key"].as_str().unwrap();
            if spec["required"] == true {
                assert!(values.contains_key(name), "required key {name} left out");
            }
            let needed = &spec["needed"];
            if let Some(status) = status
                && needed["statuses"]
                    .as_array()
                    .is_some_and(|s| s.contains(&json!(status)))
            {
                let n = match &values.get(name) {
                    Some(Value::Object(m)) => m.len(),
                    Some(Value::Array(a)) => a.len(),
                    Some(_) => 1,
                    None => 0,
                };
                assert!(
                    n as u64 >= needed["min"].as_u64().unwrap(),
                    "{name} is needed when {status}"
                );
            }
        }
    }

    /// A new document of `kind` in one change by `actor`: the root keys, then `content`,
    /// checked to hold the keys needed in its status.
    fn document(&self, actor: &ActorId, kind: &str, id: &str, content: &Value) -> AutoCommit {
        self.document_in(actor, kind, id, content, content["status"].as_str())
    }

    /// [`Schema::document`] without the check of the keys its status needs (to see the server
    /// refuse it).
    fn document_in(
        &self,
        actor: &ActorId,
        kind: &str,
        id: &str,
        content: &Value,
        status: Option<&str>,
    ) -> AutoCommit {
        let mut doc = AutoCommit::new().with_actor(actor.clone());
        let root = json!({ "kind": kind, "schema": self.0["schema"], "scope": GRID, "id": id });
        let root_keys = &self.0["root"];
        for (name, v) in root.as_object().unwrap() {
            let spec = Self::spec(root_keys, name);
            let s = self.scalar(spec["format"].as_str().unwrap(), v);
            doc.put(automerge::ROOT, name.as_str(), s).unwrap();
        }
        assert_eq!(Self::spec(root_keys, "content")["type"], "content");
        let c = doc
            .put_object(automerge::ROOT, "content", ObjType::Map)
            .unwrap();
        self.write(&mut doc, &c, &self.kind(kind)["content"], content, status);
        doc.commit();
        doc
    }

    /// A value of the format for a key the test has no value for (server-written lists).
    fn example(&self, format: &str) -> Value {
        let f = self.format(format);
        if let Some(codes) = f["codes"].as_array() {
            return codes[0]["code"].clone();
        }
        match (f["automerge"].as_str().unwrap(), format) {
            ("str", "document_id" | "member_id" | "entry_id") => json!(random_id()),
            ("str", "blob_hash") => json!("ab".repeat(32)),
            ("str", "account_id") => json!("acct-1"),
            ("str", "date") => json!("2025-01-01"),
            ("str", "id_masked") => json!("370283****0013"),
            ("bytes", _) => json!("00".repeat(66)),
            ("str", _) => json!("示例"),
            ("int" | "timestamp", _) => json!(1_750_000_000_000i64),
            ("f64", _) => json!(1.5),
            ("bool", _) => json!(true),
            (other, _) => panic!("{other}"),
        }
    }

    /// The required keys of a map, with example values.
    fn required_example(&self, keys: &Value) -> Value {
        let mut out = Map::new();
        for spec in keys.as_array().unwrap() {
            if spec["required"] != true {
                continue;
            }
            let v = match spec["type"].as_str().unwrap() {
                "scalar" => self.example(spec["format"].as_str().unwrap()),
                "map" | "value_object" => self.required_example(&spec["keys"]),
                "entries" => json!({}),
                "set" | "list" => json!([]),
                other => panic!("{other}"),
            };
            out.insert(spec["key"].as_str().unwrap().to_owned(), v);
        }
        Value::Object(out)
    }
}

/// A random id as docs/SCHEMA.md says: 128 random bits, in base32 `0-9a-z` without
/// `i l o u`, most significant digit first, 26 digits.
fn random_id() -> String {
    let mut bits = [0u8; 16];
    getrandom(&mut bits);
    let mut v = u128::from_be_bytes(bits);
    let alphabet = b"0123456789abcdefghjkmnpqrstvwxyz";
    let mut out = [0u8; 26];
    for slot in out.iter_mut().rev() {
        *slot = alphabet[(v & 31) as usize];
        v >>= 5;
    }
    String::from_utf8(out.to_vec()).unwrap()
}

/// Random bytes from the clock and a counter (enough for test ids).
fn getrandom(buf: &mut [u8; 16]) {
    use std::sync::atomic::{AtomicU64, Ordering};
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let n = COUNTER.fetch_add(1, Ordering::Relaxed);
    let t = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_nanos() as u64;
    let mixed = (u128::from(t) << 64 | u128::from(n))
        .wrapping_mul(0x9e37_79b9_7f4a_7c15_f39c_c060_5ced_c835);
    *buf = mixed.to_be_bytes();
}

/// A blob's name: 64 lowercase hexadecimal characters (the SHA-256 of its bytes; the bytes are
/// not uploaded here, which sync does not need).
fn blob_hash(n: u8) -> String {
    format!("{n:02x}").repeat(32)
}

/// Log in as `username` and read the device's actor id from its device id (32 hex characters).
async fn device(app: &TestApp, username: &str) -> (Phone, ActorId) {
    let phone = app.phone(username).await;
    let bytes: Vec<u8> = (0..phone.device_id.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&phone.device_id[i..i + 2], 16).unwrap())
        .collect();
    assert_eq!(bytes.len(), 16);
    (phone, ActorId::from(bytes))
}

/// Push whole documents (every change of each) and return the results, in order.
async fn push(
    app: &TestApp,
    phone: &Phone,
    docs: &mut [(&str, &mut AutoCommit)],
) -> Vec<PushResult> {
    let push = docs
        .iter_mut()
        .map(|(id, doc)| DocPush {
            doc: id.to_string(),
            changes: doc
                .get_changes(&[])
                .into_iter()
                .map(|c| ByteBuf::from(c.raw_bytes().to_vec()))
                .collect(),
        })
        .collect();
    let req = SyncRequest {
        v: doudi_protocol::sync::PROTOCOL_VERSION,
        cursor: 0,
        push,
        ..SyncRequest::default()
    };
    let resp = app.post_sync(&phone.access, to_cbor(&req)).await;
    assert_eq!(resp.status(), StatusCode::OK);
    let resp: SyncResponse = from_cbor(&resp.bytes().await.unwrap()).unwrap();
    resp.results
}

struct Setup {
    app: TestApp,
    schema: Schema,
    phone: Phone,
    actor: ActorId,
    /// The account ids of the two investigators.
    zhang: String,
    liu: String,
}

async fn setup(b: Backend) -> Setup {
    let app = spawn_app(b).await;
    app.seed_fixture().await;
    let zhang = app
        .create_account("grid.zhang", Role::GridWorker, &[GRID])
        .await;
    let liu = app
        .create_account("assist.liu", Role::Assistant, &["370102001001"])
        .await;
    let schema = Schema::fetch(&app).await;
    let (phone, actor) = device(&app, "grid.zhang").await;
    Setup {
        app,
        schema,
        phone,
        actor,
        zhang,
        liu,
    }
}

const T0: i64 = 1_750_000_000_000;

/// A household whose head's 身份证号 is sealed to the server's published key, as the schema's
/// `id_sealed` format says (libsodium's sealed box; bytes here as hexadecimal JSON).
fn household(s: &Setup, head: &str) -> Value {
    let sealed = s.phone.seal("370283195803120013");
    json!({
        "address": "济南市历下区一镇一村 5 号",
        "hukou_type": "rural",
        "programmes": [],
        "members": {
            head: {
                "name": "王建国",
                "identity": {
                    "masked": sealed.masked.as_str(),
                    "sealed": hex::encode(&sealed.sealed),
                },
                "sex": "male",
                "relation": "head",
                "co_resident": true,
                "health": "seriously_ill",
            },
        },
        "supporters": {},
        "income": {
            random_id(): {
                "member": head,
                "class": "transfer",
                "kind": "basic_pension_central",
                "amount_fen": 18_000,
                "period": "month",
                "source": "data_check",
            },
        },
        "assets": {},
        "expenditures": {},
        "decisions": [],
    })
}

fn visit(s: &Setup, household: &str, head: &str) -> Value {
    json!({
        "household": household,
        "purpose": "recheck",
        "started_at": T0,
        "ended_at": T0 + 1_800_000,
        "investigators": { &s.zhang: { "name": "张网格" }, &s.liu: { "name": "刘协理" } },
        "mode": "in_person",
        "member_checks": { head: { "present": true, "confirmed": true, "removed": false } },
        "members_added": {},
        "living": { "food": "粮食充足", "housing": "砖房" },
        "comparisons": {},
        "conclusion": "accurate",
        "signatures": {
            blob_hash(1): { "signer_name": "张网格", "role": "investigator", "account": &s.zhang, "signed_at": T0 + 1_800_000 },
            blob_hash(2): { "signer_name": "刘协理", "role": "investigator", "account": &s.liu, "signed_at": T0 + 1_800_000 },
            blob_hash(3): { "signer_name": "王建国", "role": "family", "member": head },
        },
        "photos": {
            blob_hash(4): {
                "category": "kitchen",
                "captured_at": T0 + 600_000,
                // Whole degrees: the schema says f64, so they are written as floats.
                "gps": { "lat": 36.0, "lon": 117.0, "accuracy_m": 8.0 },
            },
        },
        "gps": { "lat": 36.67, "lon": 117.02 },
        "status": "submitted",
        "submitted_at": T0 + 1_800_000,
        "reviews": [],
    })
}

fn accepted(results: &[PushResult]) {
    for r in results {
        assert_eq!(r.status, PushStatus::Accepted, "{r:?}");
    }
}

/// The issues of a rejected result, as (path, code).
fn issues(r: &PushResult) -> Vec<(String, String)> {
    r.issues
        .iter()
        .map(|i| (i.path.clone(), i.code.clone()))
        .collect()
}

async fn the_schema_is_served_without_a_token_and_declared(b: Backend) {
    let app = spawn_app(b).await;
    let schema = Schema::fetch(&app).await;
    assert_eq!(
        schema.0,
        serde_json::to_value(&doudi_protocol::doc::schema::SCHEMA).unwrap(),
        "the JSON is the schema docs/SCHEMA.md is made from"
    );
    let kinds: Vec<&str> = schema.0["kinds"]
        .as_array()
        .unwrap()
        .iter()
        .map(|k| k["kind"].as_str().unwrap())
        .collect();
    assert_eq!(kinds, ["household", "visit", "discovery_report"]);
    let openapi = get_json(&app, "/openapi.json").await;
    let op = &openapi["paths"]["/api/v1/schema"]["get"];
    assert!(op.is_object(), "GET /api/v1/schema is declared");
    assert!(op.get("security").is_none(), "and needs no token");
}

async fn a_client_writes_a_valid_visit_from_the_published_schema_alone(b: Backend) {
    let s = setup(b).await;
    let (hid, vid, head) = (random_id(), random_id(), random_id());
    let mut h = s
        .schema
        .document(&s.actor, "household", &hid, &household(&s, &head));
    let mut v = s
        .schema
        .document(&s.actor, "visit", &vid, &visit(&s, &hid, &head));
    let results = push(&s.app, &s.phone, &mut [(&hid, &mut h), (&vid, &mut v)]).await;
    accepted(&results);

    // What the server stored reads through its typed views as written.
    use doudi_protocol::doc::{self, Visit};
    let stored = s.app.stored_doc(&vid).await.unwrap();
    let stored = automerge::Automerge::load(&stored.snapshot).unwrap();
    let (header, visit) = doc::read::<Visit, _>(&stored).unwrap();
    assert_eq!(header.scope, GRID);
    assert_eq!(visit.investigators.len(), 2);
    assert_eq!(visit.signatures.len(), 3);
    assert_eq!(
        visit.photos.values().next().unwrap().gps.unwrap().lon,
        117.0
    );
    assert_eq!(visit.status.as_str(), "submitted");
    assert!(!doc::validate::has_errors(&doc::validate(&stored)));
}

/// Every key the schema says the server writes, and every status value that is not a phone's:
/// a phone's change to it is refused with `sync.server_field`.
async fn keys_the_schema_gives_to_the_server_are_refused_from_phones(b: Backend) {
    let s = setup(b).await;
    let (hid, head) = (random_id(), random_id());
    let household_content = household(&s, &head);
    let mut h = s
        .schema
        .document(&s.actor, "household", &hid, &household_content);
    accepted(&push(&s.app, &s.phone, &mut [(&hid, &mut h)]).await);
    let report = json!({
        "reporter": &s.zhang,
        "channel": "visit",
        "target_person_name": "孙奶奶",
        "target_groups": ["elderly"],
        "urgency": "needs_care",
        "emergency_24h": false,
        "photos": {},
        "status": "submitted",
    });
    let mut checked = 0;
    for (kind, content) in [
        ("household", household_content.clone()),
        ("visit", visit(&s, &hid, &head)),
        ("discovery_report", report),
    ] {
        let keys = &s.schema.kind(kind)["content"];
        for spec in keys.as_array().unwrap() {
            let name = spec["key"].as_str().unwrap();
            let values: Vec<Value> = match spec["written_by"].as_str().unwrap() {
                "server" => match spec["type"].as_str().unwrap() {
                    "list" => vec![json!([s.schema.required_example(&spec["keys"])])],
                    // A record the server writes (an application's extension).
                    "map" => vec![s.schema.required_example(&spec["keys"])],
                    // A value the server sets (an application's 公示 dates).
                    "scalar" => vec![s.schema.example(spec["format"].as_str().unwrap())],
                    // A set of codes (a household's programmes): each code alone.
                    "set" => s.schema.format(spec["key_format"].as_str().unwrap())["codes"]
                        .as_array()
                        .unwrap()
                        .iter()
                        .map(|c| json!([c["code"]]))
                        .collect(),
                    other => panic!("{name}: a server key of type {other}"),
                },
                "phone_values" => {
                    let phone = spec["phone_values"].as_array().unwrap();
                    s.schema.format(spec["format"].as_str().unwrap())["codes"]
                        .as_array()
                        .unwrap()
                        .iter()
                        .map(|c| c["code"].clone())
                        .filter(|c| !phone.contains(c))
                        .collect()
                }
                _ => continue,
            };
            for value in values {
                let mut content = content.clone();
                content[name] = value.clone();
                if name == "status" && content.get("reviews").is_some() {
                    // No review with the status: the status is checked on its own.
                    content["reviews"] = json!([]);
                }
                let id = random_id();
                let mut d = s.schema.document_in(&s.actor, kind, &id, &content, None);
                let r = push(&s.app, &s.phone, &mut [(&id, &mut d)]).await;
                assert_eq!(r[0].status, PushStatus::Rejected, "{kind}.{name} = {value}");
                assert_eq!(
                    r[0].code.as_deref(),
                    Some("sync.server_field"),
                    "{:?}",
                    r[0]
                );
                assert_eq!(issues(&r[0])[0].0, format!("content.{name}"));
                checked += 1;
            }
        }
    }
    // decisions, seven programmes, reviews, the 公示's two dates, its objections and
    // appraisals, the extension, the county's visits, five visit statuses, five report statuses.
    assert_eq!(checked, 25);
}

/// A visit with problems of structure (a timestamp written as an integer, a float as an
/// integer, an unknown code, a bad collection key) and of rules gets all of them in one answer
/// (docs/PROTOCOL.md section 4, `issues`).
async fn a_rejected_document_lists_every_problem_at_once(b: Backend) {
    let s = setup(b).await;
    let (hid, vid, head) = (random_id(), random_id(), random_id());
    let mut h = s
        .schema
        .document(&s.actor, "household", &hid, &household(&s, &head));
    accepted(&push(&s.app, &s.phone, &mut [(&hid, &mut h)]).await);
    let mut content = visit(&s, &hid, &head);
    content.as_object_mut().unwrap().remove("conclusion");
    content["mode"] = json!("phone");
    let mut v = s
        .schema
        .document_in(&s.actor, "visit", &vid, &content, None);
    // What a client that does not follow the schema writes.
    let c = v.get(automerge::ROOT, "content").unwrap().unwrap().1;
    v.put(&c, "started_at", T0).unwrap();
    let gps = v.get(&c, "gps").unwrap().unwrap().1;
    v.put(&gps, "lat", 36i64).unwrap();
    let photos = v.get(&c, "photos").unwrap().unwrap().1;
    let photo = v.get(&photos, blob_hash(4)).unwrap().unwrap().1;
    v.put(&photo, "category", "selfie").unwrap();
    let added = v.get(&c, "members_added").unwrap().unwrap().1;
    v.put_object(&added, "new-member", ObjType::Map).unwrap();
    v.commit();
    let r = push(&s.app, &s.phone, &mut [(&vid, &mut v)]).await;
    assert_eq!(r[0].status, PushStatus::Rejected);
    assert_eq!(r[0].code.as_deref(), Some("sync.validation_failed"));
    let got: BTreeMap<String, String> = issues(&r[0]).into_iter().collect();
    let want = [
        ("content.started_at", "doc.wrong_type"),
        ("content.gps.lat", "doc.wrong_type"),
        (
            &*format!("content.photos.{}.category", blob_hash(4)),
            "code.unknown",
        ),
        ("content.members_added.new-member", "key.format"),
        ("content.members_added.new-member.name", "doc.missing"),
        // The rules, on the rest.
        ("content.emergency_reason", "visit.remote_needs_emergency"),
        ("content.conclusion", "visit.conclusion_required"),
    ];
    for (path, code) in want {
        assert_eq!(
            got.get(path).map(String::as_str),
            Some(code),
            "{path} in {got:?}"
        );
    }
    assert!(
        r[0].issues
            .iter()
            .all(|i| !i.message.is_empty() && !i.message_en.is_empty()),
        "{:?}",
        r[0].issues
    );
}
