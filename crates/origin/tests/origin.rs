//! The origin's HTTP API on a real database, driven through the router without a socket:
//! publish (auth, verification, version order), latest with ETag/304, rollback as a new
//! event, feedback idempotency, per-event rejection, body limit, health and metrics.
//! Every test runs on a SQLite file and on PostgreSQL: `EDGEPRICE_TEST_POSTGRES` names a
//! server (`postgres://user:pass@127.0.0.1:5432`); each test makes its own database there.
//! Without it the PostgreSQL runs say so and pass, unless `EDGEPRICE_REQUIRE_POSTGRES` is
//! set (CI sets it), which makes them fail.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use axum::Router;
use axum::body::{Body, to_bytes};
use axum::http::{Request, StatusCode, header};
use edgeprice_core::bundle::{BundleSigner, DEFAULT_BUNDLE, TrustedKeys};
use edgeprice_origin::limits::{Limits, Rate};
use edgeprice_origin::store::Store;
use edgeprice_origin::{AppState, app};
use serde_json::{Value, json};
use tower::ServiceExt;

const ADMIN: &str = "admin-token-0123456789";
const EDGE: &str = "edge-token-0123456789";

use edgeprice_testkit::now as fixed_now;

fn signer() -> (BundleSigner, TrustedKeys) {
    let (s, _) = edgeprice_testkit::signer("origin-test", 5);
    let keys = edgeprice_testkit::default_keys_and(&s);
    (s, keys)
}

fn bundle_v(version: u64) -> Vec<u8> {
    edgeprice_testkit::resigned_default(&signer().0, version)
}

#[derive(Clone, Copy)]
enum Backend {
    Sqlite,
    Postgres,
}

/// A fresh database of the backend, or `None` when PostgreSQL is not available (allowed
/// only outside CI).
async fn database_url(name: &str, backend: Backend) -> Option<String> {
    let unique = format!("edgeprice_{name}_{}", std::process::id());
    match backend {
        Backend::Sqlite => {
            let path = std::env::temp_dir().join(format!("{unique}.db"));
            for suffix in ["", "-wal", "-shm"] {
                let _ = std::fs::remove_file(format!("{}{suffix}", path.display()));
            }
            Some(format!("sqlite://{}?mode=rwc", path.display()))
        }
        Backend::Postgres => {
            let Ok(server) = std::env::var("EDGEPRICE_TEST_POSTGRES") else {
                assert!(std::env::var_os("EDGEPRICE_REQUIRE_POSTGRES").is_none(), "EDGEPRICE_TEST_POSTGRES is not set");
                println!("skipped on PostgreSQL: EDGEPRICE_TEST_POSTGRES is not set");
                return None;
            };
            sqlx::any::install_default_drivers();
            let mut admin =
                <sqlx::AnyConnection as sqlx::Connection>::connect(&format!("{server}/postgres")).await.unwrap();
            // This test's databases of earlier runs go first (one in use by a run still going
            // refuses to be dropped, and is left alone), so a long-lived server does not fill up.
            let pattern = format!("edgeprice\\_{name}\\_%");
            let earlier: Vec<String> =
                sqlx::query_scalar("SELECT datname::text FROM pg_database WHERE datname LIKE $1")
                    .bind(pattern)
                    .fetch_all(&mut admin)
                    .await
                    .unwrap();
            for db in earlier.iter().filter(|db| **db != unique) {
                let _ = sqlx::query(&format!("DROP DATABASE IF EXISTS {db}")).execute(&mut admin).await;
            }
            sqlx::query(&format!("DROP DATABASE IF EXISTS {unique}")).execute(&mut admin).await.unwrap();
            sqlx::query(&format!("CREATE DATABASE {unique}")).execute(&mut admin).await.unwrap();
            Some(format!("{server}/{unique}"))
        }
    }
}

async fn setup(name: &str, backend: Backend) -> Option<(Router, Store)> {
    setup_with(name, backend, Default::default()).await
}

async fn setup_with(name: &str, backend: Backend, limits: Limits) -> Option<(Router, Store)> {
    let url = database_url(name, backend).await?;
    let store = Store::connect(&url).await.unwrap();
    let (_, keys) = signer();
    let catalog_file = std::fs::read(edgeprice_testkit::repo().join("www/catalog.json")).unwrap();
    let seed: Vec<_> = edgeprice_origin::load_catalog(&catalog_file).unwrap().into_iter().collect();
    assert!(store.seed_catalog(&seed, fixed_now()).await.unwrap());
    let state = AppState {
        store: store.clone(),
        edges: Default::default(),
        evaluator: None,
        keys,
        admin_token: ADMIN.into(),
        edge_token: EDGE.into(),
        clock: fixed_now,
        metrics: Default::default(),
        limits,
        pusher: None,
    };
    Some((app(state), store))
}

async fn call(
    app: &Router,
    method: &str,
    uri: &str,
    token: Option<&str>,
    body: Vec<u8>,
    extra: &[(&str, &str)],
) -> (StatusCode, axum::http::HeaderMap, Vec<u8>) {
    let mut req = Request::builder().method(method).uri(uri);
    if let Some(t) = token {
        req = req.header(header::AUTHORIZATION, format!("Bearer {t}"));
    }
    for (k, v) in extra {
        req = req.header(*k, *v);
    }
    let resp = app.clone().oneshot(req.body(Body::from(body)).unwrap()).await.unwrap();
    let (parts, body) = resp.into_parts();
    (parts.status, parts.headers, to_bytes(body, usize::MAX).await.unwrap().to_vec())
}

fn json_of(bytes: &[u8]) -> Value {
    serde_json::from_slice(bytes).unwrap()
}

#[tokio::test]
async fn publish_serve_and_roll_back_sqlite() {
    publish_serve_and_roll_back(Backend::Sqlite).await;
}

#[tokio::test]
async fn publish_serve_and_roll_back_postgres() {
    publish_serve_and_roll_back(Backend::Postgres).await;
}

async fn publish_serve_and_roll_back(backend: Backend) {
    let Some((app, _)) = setup("policy", backend).await else { return };
    // Nothing published yet: the built-in default bundle is served.
    let (status, headers, body) = call(&app, "GET", "/v1/policy/latest", None, vec![], &[]).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(headers[header::ETAG], "\"1\"");
    assert!(body == DEFAULT_BUNDLE, "not the default bundle");

    assert_eq!(call(&app, "PUT", "/v1/policy", None, bundle_v(2), &[]).await.0, StatusCode::UNAUTHORIZED);
    assert_eq!(
        call(&app, "PUT", "/v1/policy", Some("wrong-token-000000000"), bundle_v(2), &[]).await.0,
        StatusCode::UNAUTHORIZED
    );
    assert_eq!(call(&app, "PUT", "/v1/policy", Some(EDGE), bundle_v(2), &[]).await.0, StatusCode::FORBIDDEN);
    let mut tampered = bundle_v(2);
    let mid = tampered.len() / 2;
    tampered[mid] ^= 1;
    let (status, _, body) = call(&app, "PUT", "/v1/policy", Some(ADMIN), tampered, &[]).await;
    assert_eq!((status, json_of(&body)["code"].as_str()), (StatusCode::BAD_REQUEST, Some("bundle_bad_signature")));
    // The same policy in format 1 verifies, but lean edges could not load it: refused.
    let (mut manifest, _) = edgeprice_core::bundle::inspect_unverified(&bundle_v(2)).unwrap();
    manifest.key_id = signer().0.key_id.clone();
    let model = edgeprice_core::bundle::model_bytes(DEFAULT_BUNDLE).unwrap();
    let format_1 = signer().0.sign_manifest_bytes(&serde_json::to_vec(&manifest).unwrap(), model).unwrap();
    let (status, _, body) = call(&app, "PUT", "/v1/policy", Some(ADMIN), format_1, &[]).await;
    assert_eq!((status, json_of(&body)["code"].as_str()), (StatusCode::BAD_REQUEST, Some("bundle_format_version")));
    assert_eq!(call(&app, "PUT", "/v1/policy", Some(ADMIN), bundle_v(2), &[]).await.0, StatusCode::CREATED);
    let (status, _, body) = call(&app, "PUT", "/v1/policy", Some(ADMIN), bundle_v(2), &[]).await;
    assert_eq!((status, json_of(&body)["code"].as_str()), (StatusCode::CONFLICT, Some("bundle_downgrade")));
    assert_eq!(
        call(&app, "PUT", "/v1/policy", Some(ADMIN), DEFAULT_BUNDLE.to_vec(), &[]).await.0,
        StatusCode::CONFLICT
    );
    assert_eq!(call(&app, "PUT", "/v1/policy", Some(ADMIN), bundle_v(3), &[]).await.0, StatusCode::CREATED);

    let (status, headers, body) = call(&app, "GET", "/v1/policy/latest", None, vec![], &[]).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(headers[header::ETAG], "\"3\"");
    assert!(headers[header::CACHE_CONTROL].to_str().unwrap().contains("max-age=60"));
    assert!(body == bundle_v(3), "latest is not bundle 3");
    let (status, _, body) = call(&app, "GET", "/v1/policy/latest", None, vec![], &[("if-none-match", "\"3\"")]).await;
    assert_eq!((status, body.len()), (StatusCode::NOT_MODIFIED, 0));
    // If-None-Match as RFC 9110 reads it (the catalog's routes read it the same way).
    for (tags, want) in [
        ("\"1\", W/\"3\"", StatusCode::NOT_MODIFIED),
        ("*", StatusCode::NOT_MODIFIED),
        ("\"2\"", StatusCode::OK),
        ("3", StatusCode::OK),
    ] {
        let got = call(&app, "GET", "/v1/policy/latest", None, vec![], &[("if-none-match", tags)]).await.0;
        assert_eq!(got, want, "If-None-Match: {tags}");
    }
    assert!(call(&app, "GET", "/v1/policy/2", None, vec![], &[]).await.2 == bundle_v(2));
    assert_eq!(call(&app, "GET", "/v1/policy/9", None, vec![], &[]).await.0, StatusCode::NOT_FOUND);

    let rb = serde_json::to_vec(&json!({"version": 2})).unwrap();
    assert_eq!(call(&app, "POST", "/v1/policy/rollback", Some(EDGE), rb.clone(), &[]).await.0, StatusCode::FORBIDDEN);
    assert_eq!(call(&app, "POST", "/v1/policy/rollback", Some(ADMIN), rb, &[]).await.0, StatusCode::OK);
    assert_eq!(call(&app, "GET", "/v1/policy/latest", None, vec![], &[]).await.1[header::ETAG], "\"2\"");
    let missing = serde_json::to_vec(&json!({"version": 7})).unwrap();
    assert_eq!(call(&app, "POST", "/v1/policy/rollback", Some(ADMIN), missing, &[]).await.0, StatusCode::NOT_FOUND);
    // After a rollback the next publish must still be above every published version.
    assert_eq!(call(&app, "PUT", "/v1/policy", Some(ADMIN), bundle_v(3), &[]).await.0, StatusCode::CONFLICT);
    assert_eq!(call(&app, "PUT", "/v1/policy", Some(ADMIN), bundle_v(4), &[]).await.0, StatusCode::CREATED);

    let versions = json_of(&call(&app, "GET", "/v1/policy", None, vec![], &[]).await.2);
    assert_eq!((versions["live"].as_u64(), versions["max"].as_u64()), (Some(4), Some(4)));
    let kinds: Vec<(&str, u64)> = versions["history"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| (e["kind"].as_str().unwrap(), e["version"].as_u64().unwrap()))
        .collect();
    assert_eq!(kinds, [("publish", 4), ("rollback", 2), ("publish", 3), ("publish", 2)]);

    let (_, _, body) = call(&app, "GET", "/metrics", None, vec![], &[]).await;
    let text = String::from_utf8(body).unwrap();
    assert!(text.contains("edgeprice_policy_live_version 4"), "{text}");
    assert!(text.contains("edgeprice_policy_publish_total{result=\"accepted\"} 3"), "{text}");
    assert!(!text.contains(ADMIN) && !text.contains(EDGE));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_publishes_take_turns_sqlite() {
    concurrent_publishes_take_turns(Backend::Sqlite).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_publishes_take_turns_postgres() {
    concurrent_publishes_take_turns(Backend::Postgres).await;
}

/// Twenty publishers at once, highest version first: whichever commit first, no publish may
/// commit a version below one already committed (the version check and the insert are one
/// turn), so the live version is the highest accepted one.
async fn concurrent_publishes_take_turns(backend: Backend) {
    let Some((app, store)) = setup("concurrent", backend).await else { return };
    let bundles: Vec<(u64, Vec<u8>)> = (2..22).rev().map(|v| (v, bundle_v(v))).collect();
    let tasks: Vec<_> = bundles
        .into_iter()
        .map(|(v, b)| {
            let app = app.clone();
            tokio::spawn(async move { (v, call(&app, "PUT", "/v1/policy", Some(ADMIN), b, &[]).await.0) })
        })
        .collect();
    let mut accepted = Vec::new();
    for t in tasks {
        let (v, status) = t.await.unwrap();
        assert!(status == StatusCode::CREATED || status == StatusCode::CONFLICT, "{v}: {status}");
        if status == StatusCode::CREATED {
            accepted.push(v);
        }
    }
    let history = store.history(100).await.unwrap();
    let committed: Vec<u64> = history.iter().rev().map(|(_, v, _)| *v).collect();
    assert!(committed.windows(2).all(|w| w[0] < w[1]), "commit order {committed:?}");
    assert_eq!(committed.len(), accepted.len());
    assert_eq!(store.live().await.unwrap().map(|b| b.version), accepted.iter().max().copied());
    assert!(accepted.contains(&21), "the highest version always wins its turn");
}

/// An edge endpoint on loopback that records each push and fails the first `fail` of them.
async fn receiver(fail: usize) -> (String, std::sync::Arc<std::sync::Mutex<Vec<(axum::http::HeaderMap, Vec<u8>)>>>) {
    let seen = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
    let log = seen.clone();
    let router = Router::new().route(
        "/push",
        axum::routing::post(move |headers: axum::http::HeaderMap, body: axum::body::Bytes| {
            let log = log.clone();
            async move {
                let mut seen = log.lock().unwrap();
                seen.push((headers, body.to_vec()));
                if seen.len() <= fail { StatusCode::INTERNAL_SERVER_ERROR } else { StatusCode::OK }
            }
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/push", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, router).await.unwrap() });
    (url, seen)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn publishes_and_rollbacks_are_pushed_signed_retried_and_recorded() {
    use edgeprice_core::webhook::Secret;
    use edgeprice_origin::push::Pusher;
    let secret_text = Secret::encode(&[9; 32]);
    let (url, seen) = receiver(2).await;
    let url_db = database_url("push", Backend::Sqlite).await.unwrap();
    let store = Store::connect(&url_db).await.unwrap();
    let pusher = Pusher {
        targets: vec![url.clone()],
        secret: Secret::parse(&secret_text).unwrap(),
        first_retry: std::time::Duration::from_millis(50),
    };
    let state = AppState {
        store: store.clone(),
        edges: Default::default(),
        evaluator: None,
        keys: signer().1,
        admin_token: ADMIN.into(),
        edge_token: EDGE.into(),
        clock: fixed_now,
        metrics: Default::default(),
        limits: Default::default(),
        pusher: Some(std::sync::Arc::new(pusher)),
    };
    let app = app(state);
    assert_eq!(call(&app, "PUT", "/v1/policy", Some(ADMIN), bundle_v(2), &[]).await.0, StatusCode::CREATED);
    let rb = serde_json::to_vec(&json!({"version": 2})).unwrap();
    let deliveries = || async { json_of(&call(&app, "GET", "/v1/push/deliveries", Some(ADMIN), vec![], &[]).await.2) };
    for _ in 0..100 {
        if deliveries().await["deliveries"].as_array().unwrap().iter().any(|d| d["delivered"] == true) {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    assert_eq!(call(&app, "POST", "/v1/policy/rollback", Some(ADMIN), rb, &[]).await.0, StatusCode::OK);
    // Until the rollback's delivery is recorded (the receiver sees it before the pusher
    // writes the attempt down).
    for _ in 0..100 {
        let recorded = deliveries().await["deliveries"]
            .as_array()
            .unwrap()
            .iter()
            .any(|d| d["event"] == "policy.rolled_back" && d["delivered"] == true);
        if seen.lock().unwrap().len() >= 4 && recorded {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    // Two failures, then the publish arrives; the rollback arrives at once.
    let list = deliveries().await;
    let rows: Vec<(String, u64, u64, u64, bool)> = list["deliveries"]
        .as_array()
        .unwrap()
        .iter()
        .rev()
        .map(|d| {
            let field = |k: &str| d[k].as_u64().unwrap();
            (
                d["event"].as_str().unwrap().to_string(),
                field("policy_version"),
                field("attempt"),
                field("status"),
                d["delivered"] == true,
            )
        })
        .collect();
    assert_eq!(
        rows,
        [
            ("policy.published".to_string(), 2, 1, 500, false),
            ("policy.published".to_string(), 2, 2, 500, false),
            ("policy.published".to_string(), 2, 3, 200, true),
            ("policy.rolled_back".to_string(), 2, 1, 200, true),
        ]
    );
    assert_eq!(call(&app, "GET", "/v1/push/deliveries", Some(EDGE), vec![], &[]).await.0, StatusCode::FORBIDDEN);
    let secret = Secret::parse(&secret_text).unwrap();
    let seen = seen.lock().unwrap();
    let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_secs() as i64;
    for (headers, body) in seen.iter() {
        let h = |k: &str| headers[k].to_str().unwrap().to_string();
        secret.verify(&h("webhook-id"), &h("webhook-timestamp"), &h("webhook-signature"), body, now).unwrap();
    }
    assert_eq!(seen[0].0["webhook-id"], seen[2].0["webhook-id"], "retries keep the message id");
    assert_ne!(seen[2].0["webhook-id"], seen[3].0["webhook-id"]);
    assert_eq!(json_of(&seen[3].1)["type"], "policy.rolled_back");
}

fn decision(i: usize) -> Value {
    json!({"event_id": format!("d-{i}"), "type": "decision", "decision_id": format!("dec-{i}"), "session_id": "s",
        "sku": "sku-1", "policy_version": 1, "arm": "model", "price": 44.99, "propensity": 0.87, "features": [0.1, 2.0], "time": 1_795_867_200})
}

#[tokio::test]
async fn feedback_is_idempotent_and_keeps_the_valid_rest_sqlite() {
    feedback_is_idempotent_and_keeps_the_valid_rest(Backend::Sqlite).await;
}

#[tokio::test]
async fn feedback_is_idempotent_and_keeps_the_valid_rest_postgres() {
    feedback_is_idempotent_and_keeps_the_valid_rest(Backend::Postgres).await;
}

/// Ids compare byte by byte on PostgreSQL, as in SQLite (migration 0005): no locale orders them.
#[tokio::test]
async fn feedback_ids_compare_byte_by_byte_postgres() {
    let Some((_, store)) = setup("collation", Backend::Postgres).await else { return };
    let collations: Vec<String> = sqlx::query_scalar(
        "SELECT column_name::text || ' ' || COALESCE(collation_name::text, 'default') FROM information_schema.columns \
         WHERE table_name = 'feedback' AND column_name IN ('event_id', 'decision_id') ORDER BY column_name",
    )
    .fetch_all(store.pool())
    .await
    .unwrap();
    assert_eq!(collations, ["decision_id C", "event_id C"]);
}

async fn feedback_is_idempotent_and_keeps_the_valid_rest(backend: Backend) {
    let Some((app, store)) = setup("feedback", backend).await else { return };
    let batch: Vec<Value> = (0..50).map(decision).collect();
    let body = serde_json::to_vec(&batch).unwrap();
    assert_eq!(call(&app, "POST", "/v1/feedback", Some(ADMIN), body.clone(), &[]).await.0, StatusCode::FORBIDDEN);
    assert_eq!(call(&app, "POST", "/v1/feedback", None, body.clone(), &[]).await.0, StatusCode::UNAUTHORIZED);
    let (status, _, resp) = call(&app, "POST", "/v1/feedback", Some(EDGE), body.clone(), &[]).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(json_of(&resp), json!({"accepted": 50, "duplicates": 0, "rejected": []}));
    // Re-sent: counted once.
    let r = json_of(&call(&app, "POST", "/v1/feedback", Some(EDGE), body, &[]).await.2);
    assert_eq!((r["accepted"].as_u64(), r["duplicates"].as_u64()), (Some(0), Some(50)));
    assert_eq!(store.feedback_count().await.unwrap(), 50);
    // A retry that overlaps new events (PostgreSQL's COPY fails on the old ids and the batch
    // goes through ON CONFLICT instead), and an id twice in one batch: new ones kept once.
    let mixed: Vec<Value> = (40..60).chain([60, 60]).map(decision).collect();
    let r = json_of(&call(&app, "POST", "/v1/feedback", Some(EDGE), serde_json::to_vec(&mixed).unwrap(), &[]).await.2);
    assert_eq!((r["accepted"].as_u64(), r["duplicates"].as_u64()), (Some(11), Some(11)));
    assert_eq!(store.feedback_count().await.unwrap(), 61);
    // The same connections keep working on the fast path afterwards.
    let fresh: Vec<Value> = (61..70).map(decision).collect();
    let r = json_of(&call(&app, "POST", "/v1/feedback", Some(EDGE), serde_json::to_vec(&fresh).unwrap(), &[]).await.2);
    assert_eq!((r["accepted"].as_u64(), r["duplicates"].as_u64()), (Some(9), Some(0)));

    // NDJSON with an outcome, a malformed line and an invalid event: the valid ones stay.
    let ndjson = format!(
        "{}\n{{not json\n{}\n{}\n",
        json!({"event_id": "o-1", "type": "outcome", "decision_id": "dec-1", "purchased": true, "revenue": 44.99, "time": 1_795_867_300}),
        json!({"event_id": "bad-1", "type": "decision", "decision_id": "x", "session_id": "s", "sku": "k", "policy_version": 1, "arm": "model", "price": -1, "propensity": 0.5, "time": 1}),
        decision(99),
    );
    let r = json_of(&call(&app, "POST", "/v1/feedback", Some(EDGE), ndjson.into_bytes(), &[]).await.2);
    assert_eq!((r["accepted"].as_u64(), r["duplicates"].as_u64()), (Some(2), Some(0)));
    let rejected: Vec<(u64, &str)> = r["rejected"]
        .as_array()
        .unwrap()
        .iter()
        .map(|x| (x["index"].as_u64().unwrap(), x["code"].as_str().unwrap()))
        .collect();
    assert_eq!(rejected, [(1, "event_malformed"), (2, "event_bad_price")]);
    assert_eq!(store.feedback_count().await.unwrap(), 72);
    // A NUL character in a stored text (PostgreSQL's TEXT cannot hold one) is that event's
    // error, not the batch's: the rest is stored on both databases.
    let mut nul = vec![decision(100), decision(101), decision(102), decision(103)];
    nul[0]["event_id"] = json!("e-\u{0}-100");
    nul[1]["session_id"] = json!("s\u{0}");
    nul[2]["sku"] = json!("sku-\u{0}");
    let r = json_of(&call(&app, "POST", "/v1/feedback", Some(EDGE), serde_json::to_vec(&nul).unwrap(), &[]).await.2);
    assert_eq!((r["accepted"].as_u64(), r["duplicates"].as_u64()), (Some(1), Some(0)), "{r}");
    let codes: Vec<&str> = r["rejected"].as_array().unwrap().iter().map(|x| x["code"].as_str().unwrap()).collect();
    assert_eq!(codes, ["event_bad_text"; 3]);
    assert_eq!(store.feedback_count().await.unwrap(), 73);

    let (status, _, resp) = call(&app, "POST", "/v1/feedback", Some(EDGE), b"[{\"broken\"".to_vec(), &[]).await;
    assert_eq!((status, json_of(&resp)["code"].as_str()), (StatusCode::BAD_REQUEST, Some("batch_malformed")));
    let huge = vec![b' '; (1 << 20) + 1];
    let (status, _, body) = call(&app, "POST", "/v1/feedback", Some(EDGE), huge, &[]).await;
    assert_eq!((status, json_of(&body)["code"].as_str()), (StatusCode::PAYLOAD_TOO_LARGE, Some("body_too_large")));
    // Routes and methods axum answers by itself use the same error body.
    let (status, _, body) = call(&app, "GET", "/v1/nowhere", None, vec![], &[]).await;
    assert_eq!((status, json_of(&body)["code"].as_str()), (StatusCode::NOT_FOUND, Some("not_found")));
    let (status, _, body) = call(&app, "DELETE", "/v1/feedback", Some(EDGE), vec![], &[]).await;
    assert_eq!((status, json_of(&body)["code"].as_str()), (StatusCode::METHOD_NOT_ALLOWED, Some("method_not_allowed")));
    assert_eq!(store.feedback_count().await.unwrap(), 73);

    let (status, _, body) = call(&app, "GET", "/healthz", None, vec![], &[]).await;
    assert_eq!((status, json_of(&body)["status"].as_str()), (StatusCode::OK, Some("ok")));
}

#[tokio::test]
async fn feedback_cut_off_mid_batch_leaves_the_store_working_sqlite() {
    feedback_cut_off_mid_batch(Backend::Sqlite).await;
}

#[tokio::test]
async fn feedback_cut_off_mid_batch_leaves_the_store_working_postgres() {
    feedback_cut_off_mid_batch(Backend::Postgres).await;
}

/// Clients that go away mid-batch (the request dropped after 1 to 16 ms: while the body is
/// read, in the COPY or at the commit): each batch is stored whole or not at all, and the
/// requests after them are answered (on PostgreSQL a COPY cut off with its handler used
/// to leave its pooled connection broken, and the next requests got 500s).
async fn feedback_cut_off_mid_batch(backend: Backend) {
    let Some((app, store)) = setup("cutoff", backend).await else { return };
    for (round, ms) in (1..=16).enumerate() {
        let batch: Vec<Value> = (0..3000).map(|i| decision(100_000 * (round + 1) + i)).collect();
        let request = call(&app, "POST", "/v1/feedback", Some(EDGE), serde_json::to_vec(&batch).unwrap(), &[]);
        let _ = tokio::time::timeout(std::time::Duration::from_millis(ms as u64), request).await;
    }
    for round in 0..20 {
        let batch: Vec<Value> = (0..50).map(|i| decision(5_000_000 + 100 * round + i)).collect();
        let (status, _, body) =
            call(&app, "POST", "/v1/feedback", Some(EDGE), serde_json::to_vec(&batch).unwrap(), &[]).await;
        assert_eq!(
            status,
            StatusCode::OK,
            "request {round} after the cut-off ones: {}",
            String::from_utf8_lossy(&body)
        );
    }
    let stored = store.feedback_count().await.unwrap() - 20 * 50;
    assert_eq!(stored % 3000, 0, "cut-off batches are stored whole or not at all: {stored} rows of them");
}

#[tokio::test]
async fn summary_report_sqlite() {
    summary_report(Backend::Sqlite).await;
}

#[tokio::test]
async fn summary_report_postgres() {
    summary_report(Backend::Postgres).await;
}

/// 10 model decisions at 40.0 (cost 25), 4 bought; 10 control decisions at 50.0, 2 bought,
/// one of them at a revenue of 45 (a coupon). Policy 2 has one model decision.
async fn summary_report(backend: Backend) {
    let Some((app, store)) = setup("report", backend).await else { return };
    let mut events = Vec::new();
    for i in 0..20 {
        let (arm, price) = if i < 10 { ("model", 40.0) } else { ("control", 50.0) };
        events.push(json!({"event_id": format!("d{i}"), "type": "decision", "decision_id": format!("x{i}"), "session_id": format!("s{i}"),
            "sku": "k", "policy_version": 1, "arm": arm, "price": price, "cost": 25.0, "propensity": 0.5, "time": 1}));
    }
    for i in [0, 1, 2, 3, 10, 11] {
        let mut o = json!({"event_id": format!("o{i}"), "type": "outcome", "decision_id": format!("x{i}"), "purchased": true, "time": 2});
        if i == 11 {
            o["revenue"] = json!(45.0);
        }
        events.push(o);
    }
    events.push(json!({"event_id": "o5", "type": "outcome", "decision_id": "x5", "purchased": false, "time": 2}));
    events.push(json!({"event_id": "p2", "type": "decision", "decision_id": "y", "session_id": "s", "sku": "k", "policy_version": 2,
        "arm": "model", "price": 10.0, "propensity": 1.0, "time": 3}));
    // The decisions and two outcomes arrive first and are rolled up; the other outcomes
    // arrive later (the rollup joins them to decisions of an earlier window), with a second
    // outcome of x0 that must not count (the first outcome received counts).
    let late: Vec<Value> = events.drain(22..).collect();
    let r = json_of(&call(&app, "POST", "/v1/feedback", Some(EDGE), serde_json::to_vec(&events).unwrap(), &[]).await.2);
    assert_eq!(r["accepted"], 22);
    let first = store.roll_up(fixed_now()).await.unwrap();
    assert_eq!((first.decisions, first.outcomes), (20, 2));
    let mut late: Vec<edgeprice_core::feedback::FeedbackEvent> =
        late.into_iter().map(|e| edgeprice_core::feedback::from_value(e).unwrap()).collect();
    late.push(
        edgeprice_core::feedback::from_value(
            json!({"event_id": "o0-again", "type": "outcome", "decision_id": "x0", "purchased": false, "time": 4}),
        )
        .unwrap(),
    );
    assert_eq!(store.insert_feedback(&late, fixed_now() + 10).await.unwrap(), (7, 0));
    let before = json_of(&call(&app, "GET", "/v1/reports/summary?policy_version=1", Some(ADMIN), vec![], &[]).await.2);
    assert_eq!(before["arms"][1]["purchases"], 2, "not rolled up yet: {before}");
    let second = store.roll_up(fixed_now() + 10).await.unwrap();
    assert_eq!((second.decisions, second.outcomes), (1, 5), "x0's second outcome is ignored");
    assert_eq!(store.roll_up(fixed_now() + 10).await.unwrap().decisions, 0, "a window is added once");

    assert_eq!(call(&app, "GET", "/v1/reports/summary", Some(EDGE), vec![], &[]).await.0, StatusCode::FORBIDDEN);
    let (status, _, body) = call(&app, "GET", "/v1/reports/summary?policy_version=1", Some(ADMIN), vec![], &[]).await;
    assert_eq!(status, StatusCode::OK);
    let report = json_of(&body);
    let arms = report["arms"].as_array().unwrap();
    assert_eq!(arms.len(), 2, "{report}");
    let control = &arms[0];
    let model = &arms[1];
    assert_eq!(
        (control["arm"].as_str(), control["decisions"].as_u64(), control["purchases"].as_u64()),
        (Some("control"), Some(10), Some(2))
    );
    assert_eq!(
        (model["arm"].as_str(), model["decisions"].as_u64(), model["purchases"].as_u64()),
        (Some("model"), Some(10), Some(4))
    );
    let close = |v: &Value, x: f64| assert!((v.as_f64().unwrap() - x).abs() < 1e-9, "{v} != {x}");
    close(&model["conversion"]["mean"], 0.4);
    close(&model["revenue_per_decision"]["mean"], 16.0);
    close(&model["profit_per_decision"]["mean"], 6.0);
    close(&control["revenue_per_decision"]["mean"], 9.5);
    close(&control["profit_per_decision"]["mean"], 4.5);
    let ab = &report["ab"][0];
    close(&ab["profit_per_decision"]["mean"], 1.5);
    assert!(ab["profit_per_decision"]["ci_low"].as_f64().unwrap() < 1.5);
    let all = json_of(&call(&app, "GET", "/v1/reports/summary", Some(ADMIN), vec![], &[]).await.2);
    assert_eq!(all["arms"].as_array().unwrap().len(), 3);
}

#[tokio::test]
async fn catalog_and_product_page() {
    let Some((app, _)) = setup("catalog", Backend::Sqlite).await else { return };
    let (status, _, body) = call(&app, "GET", "/v1/catalog/sku-1001", None, vec![], &[]).await;
    assert_eq!(
        (status, json_of(&body)["code"].as_str()),
        (StatusCode::UNAUTHORIZED, Some("unauthorized")),
        "costs are not public"
    );
    let (status, _, body) = call(&app, "GET", "/v1/catalog/sku-1001", Some(EDGE), vec![], &[]).await;
    assert_eq!(status, StatusCode::OK);
    let product = json_of(&body);
    assert_eq!(product["sku"], "sku-1001");
    // The catalog entry is a valid engine input.
    let engine = edgeprice_core::engine::Engine::with_default(fixed_now()).unwrap();
    let d = engine.price(&json!({"session_id": "c", "features": {}}), &product, fixed_now()).unwrap();
    assert_ne!(d.arm, edgeprice_core::pricing::decision::Arm::Fallback);
    assert_eq!(call(&app, "GET", "/v1/catalog/nope", Some(EDGE), vec![], &[]).await.0, StatusCode::NOT_FOUND);
    let (status, headers, body) = call(&app, "GET", "/products/sku-1001", None, vec![], &[]).await;
    assert_eq!(status, StatusCode::OK);
    assert!(headers[header::CONTENT_TYPE].to_str().unwrap().starts_with("text/html"));
    let html = String::from_utf8(body).unwrap();
    assert!(html.contains("data-edgeprice-sku=\"sku-1001\""), "{html}");
    assert_eq!(call(&app, "GET", "/products/%3Cscript%3E", None, vec![], &[]).await.0, StatusCode::NOT_FOUND);
    assert!(
        edgeprice_origin::load_catalog(br#"[{"sku": "x", "list_price": 1, "cost": 5, "currency": "USD"}]"#).is_err()
    );
}

#[tokio::test]
async fn catalog_changes_are_versioned_and_all_or_nothing_sqlite() {
    catalog_changes(Backend::Sqlite).await;
}

#[tokio::test]
async fn catalog_changes_are_versioned_and_all_or_nothing_postgres() {
    catalog_changes(Backend::Postgres).await;
}

async fn catalog_changes(backend: Backend) {
    let Some((app, _)) = setup("catalogapi", backend).await else { return };
    let (status, headers, body) = call(&app, "GET", "/v1/catalog", Some(ADMIN), vec![], &[]).await;
    assert_eq!((status, headers[header::ETAG].to_str().unwrap()), (StatusCode::OK, "\"c1\""));
    let seeded = json_of(&body)["products"].as_array().unwrap().len();
    assert!(seeded >= 10, "the demo catalog seeds the database");
    let patch = |sku: &'static str, body: Value, if_match: Option<&'static str>| {
        let app = app.clone();
        async move {
            let extra: Vec<(&str, &str)> = if_match.map(|m| ("if-match", m)).into_iter().collect();
            call(&app, "PATCH", &format!("/v1/catalog/{sku}"), Some(ADMIN), serde_json::to_vec(&body).unwrap(), &extra)
                .await
        }
    };
    let (status, headers, body) = patch("sku-1001", json!({"stock": 3}), Some("\"p1\"")).await;
    assert_eq!(status, StatusCode::OK, "{}", String::from_utf8_lossy(&body));
    assert_eq!(headers[header::ETAG], "\"p2\"");
    let (_, headers, body) = call(&app, "GET", "/v1/catalog/sku-1001", Some(EDGE), vec![], &[]).await;
    assert_eq!((json_of(&body)["stock"].as_u64(), headers[header::ETAG].to_str().unwrap()), (Some(3), "\"p2\""));
    let cached = call(&app, "GET", "/v1/catalog/sku-1001", Some(EDGE), vec![], &[("if-none-match", "\"p2\"")]).await;
    assert_eq!(cached.0, StatusCode::NOT_MODIFIED);
    assert_eq!(patch("sku-1001", json!({"stock": 9}), Some("\"p1\"")).await.0, StatusCode::PRECONDITION_FAILED);
    let code =
        |r: (StatusCode, axum::http::HeaderMap, Vec<u8>)| (r.0, json_of(&r.2)["code"].as_str().unwrap().to_string());
    assert_eq!(
        code(patch("sku-1001", json!({"sku": "other"}), None).await),
        (StatusCode::BAD_REQUEST, "catalog_field".into())
    );
    assert_eq!(
        code(patch("sku-1001", json!({"cost": 1000.0}), None).await),
        (StatusCode::BAD_REQUEST, "product_cost_above_list".into())
    );
    assert_eq!(patch("nope", json!({"stock": 1}), None).await.0, StatusCode::NOT_FOUND);
    let put = |body: &str, kind: &'static str, token: &'static str| {
        let (app, body) = (app.clone(), body.as_bytes().to_vec());
        async move { call(&app, "PUT", "/v1/catalog", Some(token), body, &[("content-type", kind)]).await }
    };
    // Lines 3 and 5 are bad (cost above list; not a number); line 6 repeats a SKU.
    let bad = "sku,name,currency,list_price,cost,stock,promotion_tags\n\
               a-1,One,USD,10.00,4.00,5,\n\
               a-2,Two,USD,10.00,40.00,5,\n\
               a-3,\"Three, quoted\",USD,12.50,4.00,7,sale;summer\n\
               a-4,Four,USD,ten,4.00,5,\n\
               a-1,One again,USD,10.00,4.00,5,\n";
    let (status, _, body) = put(bad, "text/csv", ADMIN).await;
    let r = json_of(&body);
    assert_eq!((status, r["code"].as_str()), (StatusCode::BAD_REQUEST, Some("catalog_invalid")), "{r}");
    let lines: Vec<(u64, &str)> = r["errors"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| (e["line"].as_u64().unwrap(), e["code"].as_str().unwrap()))
        .collect();
    assert_eq!(lines, [(3, "product_cost_above_list"), (5, "product_bad_amount"), (6, "catalog_duplicate_sku")]);
    let (_, headers, body) = call(&app, "GET", "/v1/catalog", Some(ADMIN), vec![], &[]).await;
    assert_eq!(headers[header::ETAG], "\"c2\"", "nothing was applied");
    assert_eq!(json_of(&body)["products"].as_array().unwrap().len(), seeded);
    assert_eq!(put("not json at all {", "application/json", ADMIN).await.0, StatusCode::BAD_REQUEST);
    assert_eq!(put("sku\n", "text/csv", EDGE).await.0, StatusCode::FORBIDDEN);
    let good = "sku,name,currency,list_price,cost,stock,promotion_tags\r\n\
                a-1,One,USD,10.00,4.00,5,\r\n\
                a-3,\"Three, \"\"quoted\"\"\",USD,12.50,4.00,7,sale;summer\r\n";
    let (status, headers, body) = put(good, "text/csv", ADMIN).await;
    assert_eq!(status, StatusCode::OK, "{}", String::from_utf8_lossy(&body));
    let change = json_of(&body);
    assert_eq!((change["added"].as_u64(), change["removed"].as_u64()), (Some(2), Some(seeded as u64)));
    assert_eq!(headers[header::ETAG], "\"c3\"");
    let (_, _, body) = call(&app, "GET", "/v1/catalog/a-3", Some(EDGE), vec![], &[]).await;
    let p = json_of(&body);
    assert_eq!(
        (p["name"].as_str(), p["promotion_tags"].clone()),
        (Some("Three, \"quoted\""), json!(["sale", "summer"]))
    );
    // The same upload again changes nothing but the catalog version.
    let again = json_of(&put(good, "text/csv", ADMIN).await.2);
    assert_eq!((again["unchanged"].as_u64(), again["added"].as_u64()), (Some(2), Some(0)));
}

#[tokio::test]
async fn console_reports_match_hand_computation_sqlite() {
    console_reports(Backend::Sqlite).await;
}

#[tokio::test]
async fn console_reports_match_hand_computation_postgres() {
    console_reports(Backend::Postgres).await;
}

/// Four decisions of policy 1 on "k" (list 50, uniform 45): two model decisions at 40 in
/// hour H (one capped, personalized, disclosed in us-ny; both New_Visitor), one bought;
/// two control decisions at 45 in hour H+1 (Returning_Visitor), none bought.
async fn console_reports(backend: Backend) {
    let Some((app, store)) = setup("console", backend).await else { return };
    let h = 1_795_867_200_i64;
    let d = |i: usize, arm: &str, price: f64, at: i64, visitor: &str, extra: Value| {
        let mut e = json!({"event_id": format!("d{i}"), "type": "decision", "decision_id": format!("x{i}"),
            "session_id": format!("s{i}"), "sku": "k", "policy_version": 1, "arm": arm, "price": price, "cost": 30.0,
            "propensity": 0.5, "time": at, "list_price": 50.0, "uniform_price": 45.0, "purchase_probability": 0.25,
            "personalized": arm == "model", "features": {"VisitorType": visitor, "Weekend": false}});
        for (k, v) in extra.as_object().unwrap() {
            e[k] = v.clone();
        }
        e
    };
    let events = json!([
        d(0, "model", 40.0, h + 10, "New_Visitor", json!({"reasons": ["model_optimum", "personalization_cap"],
            "jurisdiction": "us-ny", "disclosed": true})),
        d(1, "model", 40.0, h + 20, "New_Visitor", json!({"reasons": ["model_optimum"]})),
        d(2, "control", 45.0, h + 3600, "Returning_Visitor", json!({"personalized": false, "purchase_probability": 0.15})),
        d(3, "control", 45.0, h + 3700, "Returning_Visitor", json!({"personalized": false, "purchase_probability": 0.15})),
        {"event_id": "o0", "type": "outcome", "decision_id": "x0", "purchased": true, "time": h + 30},
        {"event_id": "o2", "type": "outcome", "decision_id": "x2", "purchased": false, "time": h + 3650},
    ]);
    let r = json_of(&call(&app, "POST", "/v1/feedback", Some(EDGE), serde_json::to_vec(&events).unwrap(), &[]).await.2);
    assert_eq!(r["accepted"], 6, "{r}");
    store.roll_up(fixed_now()).await.unwrap();
    let get = |path: &'static str| {
        let app = app.clone();
        async move { json_of(&call(&app, "GET", path, Some(ADMIN), vec![], &[]).await.2) }
    };
    let close = |v: &Value, x: f64| assert!((v.as_f64().unwrap() - x).abs() < 1e-9, "{v} != {x}");

    let t = get("/v1/reports/timeseries?bucket=hour").await;
    let points = t["points"].as_array().unwrap();
    assert_eq!(points.len(), 2, "{t}");
    assert_eq!((points[0]["start"].as_i64(), points[0]["arm"].as_str()), (Some(h), Some("model")));
    close(&points[0]["profit_per_decision"]["mean"], 5.0);
    assert_eq!((points[1]["start"].as_i64(), points[1]["arm"].as_str()), (Some(h + 3600), Some("control")));
    assert_eq!(t["uplift"].as_array().unwrap().len(), 0, "no hour has both arms");
    let day = get("/v1/reports/timeseries?bucket=day").await;
    assert_eq!(day["uplift"].as_array().unwrap().len(), 1, "{day}");
    close(&day["uplift"][0]["profit_per_decision"]["mean"], 5.0);
    assert_eq!(
        call(&app, "GET", "/v1/reports/timeseries?bucket=week", Some(ADMIN), vec![], &[]).await.0,
        StatusCode::BAD_REQUEST
    );

    let p = get("/v1/reports/prices").await;
    let arms = p["products"][0]["arms"].as_array().unwrap();
    assert_eq!((arms[0]["arm"].as_str(), arms[1]["arm"].as_str()), (Some("control"), Some("model")));
    let model = &arms[1];
    close(&model["mean_discount"], 0.2);
    let point = &model["points"][0];
    assert_eq!(
        (point["price"].as_f64(), point["decisions"].as_u64(), point["purchases"].as_u64()),
        (Some(40.0), Some(2), Some(1))
    );
    close(&point["conversion"]["mean"], 0.5);
    close(&point["believed"], 0.25);
    close(&arms[0]["points"][0]["believed"], 0.15);

    let f = get("/v1/reports/fairness").await;
    let group = |value: &str| f["groups"].as_array().unwrap().iter().find(|g| g["value"] == value).unwrap().clone();
    let new = group("New_Visitor");
    assert_eq!(new["decisions"], 2);
    close(&new["relative_price"]["mean"], 40.0 / 45.0);
    close(&new["personalized_share"], 1.0);
    close(&new["cap_binds_share"], 0.5);
    close(&group("Returning_Visitor")["relative_price"]["mean"], 1.0);
    let disclosure = f["disclosure"].as_array().unwrap();
    assert_eq!(disclosure.len(), 2, "{f}");
    assert_eq!((disclosure[1]["jurisdiction"].as_str(), disclosure[1]["disclosed"].as_u64()), (Some("us-ny"), Some(1)));
    assert_eq!((disclosure[0]["jurisdiction"].as_str(), disclosure[0]["decisions"].as_u64()), (Some("none"), Some(3)));

    let (status, headers, body) =
        call(&app, "GET", "/v1/export/decisions.csv?policy_version=1", Some(ADMIN), vec![], &[]).await;
    assert_eq!(status, StatusCode::OK);
    assert!(headers[header::CONTENT_TYPE].to_str().unwrap().starts_with("text/csv"));
    let csv = String::from_utf8(body).unwrap();
    let lines: Vec<&str> = csv.lines().collect();
    assert_eq!(lines.len(), 5, "{csv}");
    assert!(lines[0].starts_with("decision_id,session_id,sku,policy_version,arm,price"));
    assert!(lines[1].starts_with("x0,s0,k,1,model,40"), "{}", lines[1]);
    assert!(
        lines[1].contains(",us-ny,true,model_optimum;personalization_cap,") && lines[1].ends_with(",true,"),
        "{}",
        lines[1]
    );
    let from = format!("/v1/export/decisions.csv?from={}", h + 3600);
    let later = String::from_utf8(call(&app, "GET", &from, Some(ADMIN), vec![], &[]).await.2).unwrap();
    assert_eq!(later.lines().count(), 3, "{later}");
    assert_eq!(call(&app, "GET", "/v1/export/decisions.csv", Some(EDGE), vec![], &[]).await.0, StatusCode::FORBIDDEN);

    let o = get("/v1/reports/overview").await;
    assert_eq!((o["feedback"]["events"].as_u64(), o["feedback"]["decisions"].as_u64()), (Some(6), Some(4)));
    assert_eq!(o["feedback"]["purchases"], 1);
}

#[tokio::test]
async fn openapi_lists_every_route() {
    let Some((app, _)) = setup("openapi", Backend::Sqlite).await else { return };
    let (status, _, body) = call(&app, "GET", "/v1/openapi.yaml", None, vec![], &[]).await;
    assert_eq!(status, StatusCode::OK);
    let spec = String::from_utf8(body).unwrap();
    let routes =
        std::fs::read_to_string(std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("src/http/mod.rs")).unwrap();
    let mut n = 0;
    for line in routes.lines().filter_map(|l| l.trim().strip_prefix(".route(\"")) {
        let path = line.split('"').next().unwrap();
        assert!(spec.contains(&format!("  {path}:")), "route {path} is not in openapi.yaml");
        n += 1;
    }
    assert!(n >= 10, "found only {n} routes");
}

#[tokio::test]
async fn abuse_limits_rate_per_token_and_request_deadline() {
    // A tight edge bucket (3, refilling once a minute) and a 300 ms deadline.
    let limits = Limits::new(
        Rate { per_second: 1.0 / 60.0, burst: 3.0 },
        Rate { per_second: 1.0 / 60.0, burst: 2.0 },
        std::time::Duration::from_millis(300),
    );
    let (app, _store) = setup_with("limits", Backend::Sqlite, limits).await.unwrap();
    let body = serde_json::to_vec(&json!([decision(1)])).unwrap();
    for _ in 0..3 {
        assert_eq!(call(&app, "POST", "/v1/feedback", Some(EDGE), body.clone(), &[]).await.0, StatusCode::OK);
    }
    let (status, headers, text) = call(&app, "POST", "/v1/feedback", Some(EDGE), body.clone(), &[]).await;
    assert_eq!(status, StatusCode::TOO_MANY_REQUESTS);
    assert_eq!(json_of(&text)["code"], "rate_limited");
    let wait: u64 = headers[header::RETRY_AFTER].to_str().unwrap().parse().unwrap();
    assert!((1..=60).contains(&wait), "{wait}");
    // The admin token has its own bucket; requests without a known token take none.
    assert_eq!(call(&app, "GET", "/v1/reports/summary", Some(ADMIN), vec![], &[]).await.0, StatusCode::OK);
    assert_eq!(call(&app, "POST", "/v1/feedback", Some("nope"), body.clone(), &[]).await.0, StatusCode::UNAUTHORIZED);
    assert_eq!(call(&app, "GET", "/healthz", None, vec![], &[]).await.0, StatusCode::OK);
    // A body that never finishes arriving (slowloris on the body) gets 408 at the deadline.
    let never = NeverEnds;
    let req = Request::builder()
        .method("PUT")
        .uri("/v1/policy")
        .header(header::AUTHORIZATION, format!("Bearer {ADMIN}"))
        .body(Body::new(never))
        .unwrap();
    let started = std::time::Instant::now();
    let resp = app.clone().oneshot(req).await.unwrap();
    assert_eq!(resp.status(), StatusCode::REQUEST_TIMEOUT);
    assert!(started.elapsed() < std::time::Duration::from_secs(5));
}

#[tokio::test]
async fn public_routes_are_limited_per_client() {
    let limits = Limits::default()
        .with_client_rate(Rate { per_second: 1.0 / 60.0, burst: 2.0 })
        .with_client_ip_header(Some("X-Forwarded-For".into()));
    let (app, _store) = setup_with("clients", Backend::Sqlite, limits).await.unwrap();
    let get = |token: Option<&'static str>, from: &'static str| {
        let app = app.clone();
        async move { call(&app, "GET", "/products/sku-1001", token, vec![], &[("x-forwarded-for", from)]).await }
    };
    assert_eq!(get(None, "10.0.0.1, 172.16.0.9").await.0, StatusCode::OK);
    assert_eq!(get(None, "10.0.0.1").await.0, StatusCode::OK);
    let (status, headers, body) = get(None, "10.0.0.1").await;
    assert_eq!((status, json_of(&body)["code"].as_str()), (StatusCode::TOO_MANY_REQUESTS, Some("rate_limited")));
    assert!(headers[header::RETRY_AFTER].to_str().unwrap().parse::<u64>().unwrap() >= 1);
    assert_eq!(get(None, "10.0.0.2").await.0, StatusCode::OK, "another client has its own bucket");
    let post = call(&app, "POST", "/v1/feedback", None, b"[]".to_vec(), &[("x-forwarded-for", "10.0.0.1")]).await;
    assert_eq!(post.0, StatusCode::UNAUTHORIZED, "a write without a token is refused, not counted");
    for _ in 0..5 {
        assert_eq!(get(Some(EDGE), "10.0.0.1").await.0, StatusCode::OK, "the edge's token skips the client limit");
    }
    for _ in 0..5 {
        assert_eq!(
            call(&app, "GET", "/healthz", None, vec![], &[("x-forwarded-for", "10.0.0.1")]).await.0,
            StatusCode::OK
        );
    }
}

/// A request body whose first bytes never arrive.
struct NeverEnds;

impl axum::body::HttpBody for NeverEnds {
    type Data = axum::body::Bytes;
    type Error = std::convert::Infallible;
    fn poll_frame(
        self: std::pin::Pin<&mut Self>,
        _: &mut std::task::Context<'_>,
    ) -> std::task::Poll<Option<Result<http_body::Frame<Self::Data>, Self::Error>>> {
        std::task::Poll::Pending
    }
}
