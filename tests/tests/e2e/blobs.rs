//! Photos and signatures: content-addressed, resumable uploads; reads only through documents the
//! caller may read; garbage collection. Every test runs on SQLite and PostgreSQL, each with the
//! local directory store and with a real S3-compatible server.

use doudi_protocol::doc::visit::Purpose;
use doudi_protocol::doc::{DiscoveryReport, Household, Photo, PhotoCategory, UnixMillis, Visit};
use doudi_protocol::ids::BlobHash;
use doudi_protocol::role::Role;
use doudi_server::blobs::{self, BlobService, Sha256Hex};
use doudi_tests::blobs::{CHUNK, photo, sha};
use doudi_tests::cases::report_with_photos;
use doudi_tests::{Backend, BlobStoreUnderTest, TestApp, spawn_app_with};
use reqwest::StatusCode;
use serde_json::json;

macro_rules! every_backend_and_store {
    ($($name:ident),* $(,)?) => {
        mod sqlite_local {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $name() {
                    super::$name(doudi_tests::Backend::Sqlite, doudi_tests::BlobStoreUnderTest::Local).await
                }
            )*
        }
        mod sqlite_s3 {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $name() {
                    if let Some(s) = doudi_tests::BlobStoreUnderTest::s3() {
                        super::$name(doudi_tests::Backend::Sqlite, s).await
                    }
                }
            )*
        }
        mod postgres_local {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $name() {
                    if let Some(b) = doudi_tests::Backend::postgres() {
                        super::$name(b, doudi_tests::BlobStoreUnderTest::Local).await
                    }
                }
            )*
        }
        mod postgres_s3 {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $name() {
                    if let (Some(b), Some(s)) = (doudi_tests::Backend::postgres(), doudi_tests::BlobStoreUnderTest::s3()) {
                        super::$name(b, s).await
                    }
                }
            )*
        }
    };
}

every_backend_and_store!(
    synced_visit_photos_are_readable_through_the_visit,
    resumable_upload_then_reads_through_documents_only,
    bad_uploads_get_stable_codes,
    gc_removes_unreferenced_blobs_only,
);

const GRID: &str = "370102001001-A";
const OTHER_COUNTY_GRID: &str = "370103001001-A";

async fn spawn(
    b: Backend,
    store: BlobStoreUnderTest,
    tweak: impl FnOnce(&mut doudi_server::config::Settings),
) -> TestApp {
    let app = spawn_app_with(b, |s| {
        store.configure(s);
        tweak(s);
    })
    .await;
    app.seed_fixture().await;
    app
}

/// Offset of the main frame's SOF0 (the first SOF0 in the file may be an EXIF thumbnail's).
fn main_sof0(bytes: &[u8]) -> usize {
    let mut at = 2;
    while bytes[at + 1] != 0xC0 {
        at += 2 + usize::from(u16::from_be_bytes([bytes[at + 2], bytes[at + 3]]));
    }
    at
}

fn header<'a>(h: &'a reqwest::header::HeaderMap, name: &str) -> &'a str {
    h.get(name).and_then(|v| v.to_str().ok()).unwrap_or("")
}

/// Sync links a visit's photos and signatures to it: who may read the visit may read them (and
/// their thumbnails); nobody else, and the link goes when the document drops the photo.
async fn synced_visit_photos_are_readable_through_the_visit(b: Backend, store: BlobStoreUnderTest) {
    let app = spawn(b, store, |_| {}).await;
    app.create_account("gw.a", Role::GridWorker, &[GRID]).await;
    app.create_account("gw.other", Role::GridWorker, &[OTHER_COUNTY_GRID])
        .await;
    let (t_other, _, _) = app.login("gw.other").await;
    let mut phone = app.phone("gw.a").await;
    let t = phone.access.clone();

    let bytes = photo("document.png");
    let h = sha(&bytes);
    let hh = phone
        .replica
        .create(
            GRID,
            &Household {
                address: "济南市历下区一镇一村 3 号".into(),
                ..Default::default()
            },
        )
        .unwrap();
    let mut v = Visit::new(hh, Purpose::Recheck);
    v.photos.insert(
        BlobHash::parse(&h).unwrap(),
        Photo {
            category: PhotoCategory::Document,
            caption: Some("低保证".into()),
            captured_at: UnixMillis(1_763_800_000_000),
            gps: None,
        },
    );
    let visit = phone.replica.create(GRID, &v).unwrap();
    let o = app.sync(&mut phone).await;
    assert_eq!(o.accepted.len(), 2, "{:?}", o.rejected);

    // The document points at the photo before its bytes arrive: the phone is asked for them.
    assert_eq!(app.missing(&t, &[&h]).await.body, json!({ "missing": [h] }));
    let (status, _, _) = app.get_blob(&t, &h, None).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let r = app.upload(&t, &h, &bytes).await;
    assert_eq!(r.status, StatusCode::OK, "{:?}", r.body);
    assert_eq!(app.missing(&t, &[&h]).await.body, json!({ "missing": [] }));

    let (status, _, body) = app.get_blob(&t, &h, None).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(body, bytes);
    let thumb = app
        .http
        .get(app.url(&format!("/api/v1/blobs/{h}?variant=thumb")))
        .bearer_auth(&t)
        .send()
        .await
        .unwrap();
    assert_eq!(thumb.status(), StatusCode::OK);
    assert_eq!(header(thumb.headers(), "content-type"), "image/png");
    let small = image::load_from_memory(&thumb.bytes().await.unwrap()).unwrap();
    assert_eq!((small.width(), small.height()), (240, 320));
    let bad = app
        .get(&format!("/api/v1/blobs/{h}?variant=poster"), &t)
        .await;
    assert_eq!(bad.status, StatusCode::BAD_REQUEST);
    assert_eq!(bad.code(), "request.invalid");

    // Another county's worker learns nothing from the hash.
    let (status, _, body) = app.get_blob(&t_other, &h, None).await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    assert!(body.len() < 1000);

    // The phone removes the photo: the link goes with it.
    phone
        .replica
        .update::<Visit>(&visit.to_string(), |v| v.photos.clear())
        .unwrap();
    let o = app.sync(&mut phone).await;
    assert_eq!(o.accepted.len(), 1, "{:?}", o.rejected);
    let (status, _, _) = app.get_blob(&t, &h, None).await;
    assert_eq!(status, StatusCode::FORBIDDEN);
}

async fn resumable_upload_then_reads_through_documents_only(b: Backend, store: BlobStoreUnderTest) {
    // A data directory that outlives the first server process.
    let data = tempfile::tempdir().unwrap();
    let app = spawn(b, store, |s| s.data_dir = data.path().to_path_buf()).await;
    app.create_account("gw.a", Role::GridWorker, &[GRID]).await;
    app.create_account("gw.other", Role::GridWorker, &[OTHER_COUNTY_GRID])
        .await;
    app.create_account("admin", Role::Admin, &["370000000000"])
        .await;
    let (t, _, _) = app.login("gw.a").await;
    let (t_other, _, _) = app.login("gw.other").await;
    let (t_admin, _, _) = app.login("admin").await;

    let bytes = photo("fallenleaf.jpg");
    let total = bytes.len();
    let h = sha(&bytes);
    let r = app.missing(&t, &[&h]).await;
    assert_eq!(r.body, json!({ "missing": [h] }));

    // First session: chunks up to half of the photo, then the connection drops.
    let half = total / 2;
    let first = reqwest::Client::new();
    let mut offset = 0;
    while offset < half {
        let end = (offset + CHUNK).min(half);
        let r = app
            .put_chunk(&first, &t, &h, offset, false, &bytes[offset..end])
            .await;
        assert_eq!(r.status, StatusCode::OK, "{:?}", r.body);
        assert_eq!(r.body["offset"], json!(end));
        assert_eq!(r.body["complete"], json!(false));
        offset = end;
    }
    drop(first);

    // The server restarts: same database, data directory and blob store.
    let settings = app.state.settings.clone();
    drop(app);
    let app = spawn_app_with(b, |s| {
        s.data_dir = settings.data_dir.clone();
        s.database_url = settings.database_url.clone();
        s.blobs = settings.blobs.clone();
    })
    .await;

    // Second session: a new client asks where to resume and sends only the rest.
    let second = reqwest::Client::new();
    let r = TestApp::read(
        second
            .get(app.url(&format!("/api/v1/blobs/{h}/upload")))
            .bearer_auth(&t)
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(r.status, StatusCode::OK);
    assert_eq!(r.body["offset"], json!(half));
    assert_eq!(r.body["complete"], json!(false));
    let mut offset = half;
    let mut received = 0;
    loop {
        let end = (offset + CHUNK).min(total);
        let last = end == total;
        let r = app
            .put_chunk(&second, &t, &h, offset, last, &bytes[offset..end])
            .await;
        assert_eq!(r.status, StatusCode::OK, "{:?}", r.body);
        received += r.body["received"].as_u64().unwrap() as usize;
        if last {
            assert_eq!(r.body["complete"], json!(true));
            assert_eq!(r.body["offset"], json!(total));
            break;
        }
        offset = end;
    }
    assert_eq!(received, total - half, "the first half was not sent again");

    // Stored: the uploader need not send it again; but no document points at it yet, so
    // nobody may read it.
    assert_eq!(
        app.missing(&t, &[&h, &h]).await.body,
        json!({ "missing": [] })
    );
    let (status, _, _) = app.get_blob(&t, &h, None).await;
    assert_eq!(status, StatusCode::FORBIDDEN);

    // A report of the worker's (from another phone of hers) points at it.
    let mut phone = app.phone("gw.a").await;
    let report = report_with_photos(&phone.account_id, &[&h]);
    let report = phone.replica.create(GRID, &report).unwrap().to_string();
    let o = app.sync(&mut phone).await;
    assert_eq!(o.accepted.len(), 1, "{:?}", o.rejected);

    // A second upload of the same photo transfers nothing.
    let r = app.get(&format!("/api/v1/blobs/{h}/upload"), &t).await;
    assert_eq!(
        r.body,
        json!({ "offset": total, "complete": true, "received": 0 })
    );

    // Whole and ranged reads.
    let (status, headers, body) = app.get_blob(&t, &h, None).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(body, bytes);
    assert_eq!(header(&headers, "content-type"), "image/jpeg");
    assert_eq!(header(&headers, "content-length"), total.to_string());
    assert_eq!(header(&headers, "etag"), format!("\"{h}\""));
    assert_eq!(header(&headers, "accept-ranges"), "bytes");
    let (status, headers, body) = app.get_blob(&t, &h, Some("bytes=1000-1999")).await;
    assert_eq!(status, StatusCode::PARTIAL_CONTENT);
    assert_eq!(body, &bytes[1000..2000]);
    assert_eq!(
        header(&headers, "content-range"),
        format!("bytes 1000-1999/{total}")
    );
    let (status, _, body) = app.get_blob(&t, &h, Some("bytes=-10")).await;
    assert_eq!(
        (status, body.as_slice()),
        (StatusCode::PARTIAL_CONTENT, &bytes[total - 10..])
    );
    let (status, _, body) = app
        .get_blob(&t, &h, Some(&format!("bytes={}-", total - 5)))
        .await;
    assert_eq!(
        (status, body.as_slice()),
        (StatusCode::PARTIAL_CONTENT, &bytes[total - 5..])
    );
    let (status, headers, _) = app.get_blob(&t, &h, Some(&format!("bytes={total}-"))).await;
    assert_eq!(status, StatusCode::RANGE_NOT_SATISFIABLE);
    assert_eq!(
        header(&headers, "content-range"),
        format!("bytes */{total}")
    );

    // Outside the document's scope, the right hash grants nothing; the refusal is audited.
    let denied_before = app.audit("policy.denied").await.len();
    assert_eq!(
        app.missing(&t_other, &[&h]).await.body,
        json!({ "missing": [h] })
    );
    let r = app.get(&format!("/api/v1/blobs/{h}"), &t_other).await;
    assert_eq!(
        (r.status, r.code()),
        (StatusCode::FORBIDDEN, "policy.denied")
    );
    let r = app.get(&format!("/api/v1/blobs/{h}"), &t_admin).await;
    assert_eq!(
        (r.status, r.code()),
        (StatusCode::FORBIDDEN, "policy.denied")
    );
    let denied = app.audit("policy.denied").await;
    assert_eq!(denied.len(), denied_before + 2);
    assert!(
        denied
            .iter()
            .rev()
            .take(2)
            .all(|e| e.target.as_deref() == Some(h.as_str()))
    );

    // Once the document no longer points at it, the photo is unreadable again.
    phone
        .replica
        .update::<DiscoveryReport>(&report, |r| r.photos.clear())
        .unwrap();
    let o = app.sync(&mut phone).await;
    assert_eq!(o.accepted.len(), 1, "{:?}", o.rejected);
    let (status, _, _) = app.get_blob(&t, &h, None).await;
    assert_eq!(status, StatusCode::FORBIDDEN);
}

async fn bad_uploads_get_stable_codes(b: Backend, store: BlobStoreUnderTest) {
    let app = spawn(b, store, |s| s.blobs.max_blob_bytes = 600_000).await;
    app.create_account("gw.a", Role::GridWorker, &[GRID]).await;
    app.create_account("cadre", Role::VillageCadre, &["370102001001"])
        .await;
    app.create_account("admin", Role::Admin, &["370102001000"])
        .await;
    let (t, _, _) = app.login("gw.a").await;
    let (t_cadre, _, _) = app.login("cadre").await;
    let (t_admin, _, _) = app.login("admin").await;
    let max_chunk = app.state.settings.blobs.max_chunk_bytes;

    let png = photo("document.png");
    let png_sha = sha(&png);
    let offset_of = |h: String| {
        let app = &app;
        let t = t.clone();
        async move { app.get(&format!("/api/v1/blobs/{h}/upload"), &t).await.body["offset"].clone() }
    };

    // Content under someone else's hash: refused, the partial discarded.
    let wrong = sha(b"something else");
    let r = app.upload(&t, &wrong, &png).await;
    assert_eq!(
        (r.status, r.code()),
        (StatusCode::UNPROCESSABLE_ENTITY, "blob.hash_mismatch")
    );
    assert_eq!(offset_of(wrong.clone()).await, json!(0));

    // Text and a truncated JPEG, each under its true hash.
    for file in ["not-an-image.jpg", "truncated.jpg"] {
        let bytes = photo(file);
        let h = sha(&bytes);
        let r = app.upload(&t, &h, &bytes).await;
        assert_eq!(
            (r.status, r.code()),
            (StatusCode::UNPROCESSABLE_ENTITY, "blob.not_image"),
            "{file}: {:?}",
            r.body
        );
        assert_eq!(offset_of(h).await, json!(0), "{file}: partial discarded");
    }
    // A main frame header claiming 65500×65500 (huge-dimensions.jpg as shipped claims it only
    // in its EXIF thumbnail; its main frame is 4000×3000 and cut short).
    let mut huge = photo("huge-dimensions.jpg");
    let sof = main_sof0(&huge);
    assert_eq!(&huge[sof + 5..sof + 9], &[0x0B, 0xB8, 0x0F, 0xA0]);
    let r = app.upload(&t, &sha(&huge), &huge).await;
    assert_eq!(r.code(), "blob.not_image", "{:?}", r.body);
    huge[sof + 5..sof + 9].copy_from_slice(&[0xFF, 0xDC, 0xFF, 0xDC]);
    let r = app.upload(&t, &sha(&huge), &huge).await;
    assert_eq!(
        (r.status, r.code()),
        (StatusCode::UNPROCESSABLE_ENTITY, "blob.image_too_large"),
        "{:?}",
        r.body
    );
    assert_eq!(
        r.body["details"],
        json!({ "width": 65500, "height": 65500 })
    );

    // Malformed hashes.
    for bad in [
        "xyz",
        "ABCDEF0123456789ABCDEF0123456789ABCDEF0123456789ABCDEF0123456789",
        &png_sha[..63],
    ] {
        let r = app.get(&format!("/api/v1/blobs/{bad}/upload"), &t).await;
        assert_eq!(
            (r.status, r.code()),
            (StatusCode::BAD_REQUEST, "blob.hash_invalid"),
            "{bad}"
        );
        let r = app.get(&format!("/api/v1/blobs/{bad}"), &t).await;
        assert_eq!(r.code(), "blob.hash_invalid");
    }
    let r = app.missing(&t, &[&png_sha, "../../etc/passwd"]).await;
    assert_eq!(
        (r.status, r.code()),
        (StatusCode::BAD_REQUEST, "blob.hash_invalid")
    );
    assert_eq!(r.body["details"]["index"], json!(1));
    let many: Vec<String> = (0..=blobs::MAX_MISSING_BATCH)
        .map(|i| sha(&i.to_le_bytes()))
        .collect();
    let r = app
        .post("/api/v1/blobs/missing", Some(&t), json!({ "sha256": many }))
        .await;
    assert_eq!(
        (r.status, r.code()),
        (StatusCode::BAD_REQUEST, "blob.batch_too_large")
    );

    // Offset mismatch: the answer carries the acknowledged offset.
    let r = app
        .put_chunk(&app.http, &t, &png_sha, 5, false, &png[5..100])
        .await;
    assert_eq!(
        (r.status, r.code()),
        (StatusCode::CONFLICT, "blob.offset_mismatch")
    );
    assert_eq!(r.body["details"]["offset"], json!(0));
    let r = app
        .put_chunk(&app.http, &t, &png_sha, 0, false, &png[..100])
        .await;
    assert_eq!(r.body["offset"], json!(100));
    let r = app
        .put_chunk(&app.http, &t, &png_sha, 0, false, &png[..100])
        .await;
    assert_eq!(
        (r.status, r.code()),
        (StatusCode::CONFLICT, "blob.offset_mismatch")
    );
    assert_eq!(r.body["details"]["offset"], json!(100));

    // A chunk over the limit, and a blob over the limit.
    let big = vec![0u8; max_chunk + 1];
    let r = app
        .put_chunk(&app.http, &t, &sha(&big), 0, false, &big)
        .await;
    assert_eq!(
        (r.status, r.code()),
        (StatusCode::PAYLOAD_TOO_LARGE, "request.body_too_large")
    );
    let leaf = photo("fallenleaf.jpg");
    let r = app.upload(&t, &sha(&leaf), &leaf).await;
    assert_eq!(
        (r.status, r.code()),
        (StatusCode::PAYLOAD_TOO_LARGE, "blob.too_large")
    );
    assert_eq!(r.body["details"]["max"], json!(600_000));

    // Who may upload: field roles (a village cadre files reports) and reviewers (the signed
    // record of a 民主评议), not administrators.
    let r = app
        .get(&format!("/api/v1/blobs/{png_sha}/upload"), &t_admin)
        .await;
    assert_eq!(
        (r.status, r.code()),
        (StatusCode::FORBIDDEN, "policy.denied")
    );
    let r = app
        .put_chunk(&app.http, &t_admin, &png_sha, 0, true, &png)
        .await;
    assert_eq!(
        (r.status, r.code()),
        (StatusCode::FORBIDDEN, "policy.denied")
    );
    let r = app
        .get(&format!("/api/v1/blobs/{png_sha}/upload"), &t_cadre)
        .await;
    assert_eq!(r.body["offset"], json!(0), "partials belong to one account");

    // The server kept serving: a good PNG completes (resuming the worker's 100 bytes).
    let r = app
        .put_chunk(&app.http, &t, &png_sha, 100, true, &png[100..])
        .await;
    assert_eq!(r.status, StatusCode::OK, "{:?}", r.body);
    assert_eq!(r.body["complete"], json!(true));
    // Another account is told nothing about it: it uploads the bytes it has, stored once.
    let r = app
        .get(&format!("/api/v1/blobs/{png_sha}/upload"), &t_cadre)
        .await;
    assert_eq!(
        r.body,
        json!({ "offset": 0, "complete": false, "received": 0 })
    );
    let r = app.upload(&t_cadre, &png_sha, &png).await;
    assert_eq!(r.body["complete"], json!(true), "{:?}", r.body);
    let r = app
        .get(&format!("/api/v1/blobs/{png_sha}/upload"), &t_cadre)
        .await;
    assert_eq!(
        r.body["complete"],
        json!(true),
        "never sent twice by one account"
    );
    let mut cadre = app.phone("cadre").await;
    let report = report_with_photos(&cadre.account_id, &[&png_sha]);
    cadre.replica.create(GRID, &report).unwrap();
    let o = app.sync(&mut cadre).await;
    assert_eq!(o.accepted.len(), 1, "{:?}", o.rejected);
    let (status, headers, body) = app.get_blob(&t_cadre, &png_sha, None).await;
    assert_eq!(
        (status, header(&headers, "content-type")),
        (StatusCode::OK, "image/png")
    );
    assert_eq!(body, png);
    let r = app.http.get(app.url("/healthz")).send().await.unwrap();
    assert_eq!(r.status(), StatusCode::OK);
}

async fn gc_removes_unreferenced_blobs_only(b: Backend, store: BlobStoreUnderTest) {
    let app = spawn(b, store, |_| {}).await;
    app.create_account("gw.a", Role::GridWorker, &[GRID]).await;
    let (t, _, _) = app.login("gw.a").await;

    let kept = photo("document.png");
    let dropped = photo("fallenleaf.jpg");
    let (kept_sha, dropped_sha) = (sha(&kept), sha(&dropped));
    assert_eq!(
        app.upload(&t, &kept_sha, &kept).await.body["complete"],
        json!(true)
    );
    assert_eq!(
        app.upload(&t, &dropped_sha, &dropped).await.body["complete"],
        json!(true)
    );
    let kept_id = Sha256Hex::parse(&kept_sha).unwrap();
    let dropped_id = Sha256Hex::parse(&dropped_sha).unwrap();
    // A report points at both, then drops one.
    let mut phone = app.phone("gw.a").await;
    let report = report_with_photos(&phone.account_id, &[&kept_sha, &dropped_sha]);
    let report = phone.replica.create(GRID, &report).unwrap().to_string();
    app.sync(&mut phone).await;
    phone
        .replica
        .update::<DiscoveryReport>(&report, |r| {
            r.photos.retain(|h, _| h.to_string() == kept_sha)
        })
        .unwrap();
    let o = app.sync(&mut phone).await;
    assert_eq!(o.accepted.len(), 1, "{:?}", o.rejected);
    // An abandoned upload.
    let kite = photo("kite.jpg");
    let r = app
        .put_chunk(&app.http, &t, &sha(&kite), 0, false, &kite[..CHUNK])
        .await;
    assert_eq!(r.body["offset"], json!(CHUNK));

    // The same store the server uses, as `doudi blobs gc` builds it.
    let service = BlobService::from_settings(&app.state.settings).unwrap();
    let week = 7 * 24 * 3_600_000;
    let r = blobs::gc(&app.state.db, &service, week).await.unwrap();
    assert!(
        r.blobs.is_empty() && r.orphans.is_empty() && r.partials.is_empty(),
        "{r:?}"
    );

    tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    let r = blobs::gc(&app.state.db, &service, 0).await.unwrap();
    assert_eq!(r.blobs, vec![dropped_sha.clone()]);
    assert!(r.orphans.is_empty(), "{r:?}");
    assert_eq!(r.partials.len(), 1);
    assert_eq!(r.bytes, dropped.len() as u64);
    assert!(!service.store.exists(&dropped_id).await.unwrap());
    assert!(service.store.exists(&kept_id).await.unwrap());

    let (status, _, body) = app.get_blob(&t, &kept_sha, None).await;
    assert_eq!((status, body), (StatusCode::OK, kept));
    let r = app
        .get(&format!("/api/v1/blobs/{dropped_sha}/upload"), &t)
        .await;
    assert_eq!(
        r.body,
        json!({ "offset": 0, "complete": false, "received": 0 })
    );
    let r = app
        .get(&format!("/api/v1/blobs/{}/upload", sha(&kite)), &t)
        .await;
    assert_eq!(r.body["offset"], json!(0), "the stale partial is gone");

    // An object without a row (a crash between store write and row) is an orphan.
    let orphan = Sha256Hex::of(b"orphan");
    service
        .store
        .put_bytes(&orphan, b"orphan".to_vec().into())
        .await
        .unwrap();
    tokio::time::sleep(std::time::Duration::from_millis(1_100)).await;
    let r = blobs::gc(&app.state.db, &service, 0).await.unwrap();
    assert_eq!(r.orphans, vec![orphan.to_string()]);
    assert!(r.blobs.is_empty());
}
