//! A SIGTERM during a sync: the service stops accepting, waits for the sync up to its bound, then cuts it
//! short, logs it as interrupted, and closes the database. Alone in its binary: it signals its own process.

use std::time::{Duration, Instant};

use backend::crypto::{Cipher, MasterKey};
use backend::server::shutdown_signal;
use backend::store::{Store, SyncOutcome};
use demo::Tuning;
use sandbox::zoho::products;
use secrecy::ExposeSecret;
use serde_json::{Value, json};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_sigterm_during_a_slow_sync_ends_within_the_bound_and_leaves_no_running_row() {
    let dir = std::env::temp_dir().join(format!("xero-sync-shutdown-{}", uuid::Uuid::new_v4()));
    std::fs::create_dir_all(&dir).expect("dir");
    let database_url = format!("sqlite://{}/demo.db?mode=rwc", dir.display());
    let (dir_text, db) = (dir.display().to_string(), database_url.clone());
    let vars = move |name: &str| match name {
        "XERO_SYNC_DATA_DIR" => Some(dir_text.clone()),
        "XERO_SYNC_DATABASE_URL" => Some(db.clone()),
        _ => None,
    };
    let grace = Duration::from_secs(2);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let demo = demo::start(listener, vars, Tuning { shutdown_grace: grace, ..Tuning::default() }).await.expect("demo");
    demo.server.shutdown_on(shutdown_signal());
    let url = demo.server.url.clone();
    let http = reqwest::Client::new();
    let session: Value = http
        .post(format!("{url}/api/session"))
        .header("x-api-key", demo.api_key.expose_secret())
        .json(&json!({"record_id": products::WIRELESS_MOUSE, "user": "Olivia Nguyen"}))
        .send()
        .await
        .expect("session")
        .json()
        .await
        .expect("json");
    let token = session["token"].as_str().expect("token").to_owned();

    // Xero now answers after 25 s: the sync outlasts the shutdown's bound.
    demo.sandbox.xero.set_latency(Duration::from_secs(25));
    let sync = tokio::spawn({
        let (http, url) = (http.clone(), url.clone());
        async move {
            let response = http
                .post(format!("{url}/api/products/{}/sync", products::WIRELESS_MOUSE))
                .bearer_auth(token)
                .send()
                .await
                .expect("an answer, not a dropped connection");
            (response.status(), response.json::<Value>().await.expect("json"))
        }
    });
    let store = demo.server.store().clone();
    let deadline = Instant::now() + Duration::from_secs(10);
    while store.running_syncs().await.expect("store").is_empty() {
        assert!(Instant::now() < deadline, "the sync never started");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }

    let signalled = Instant::now();
    let kill =
        std::process::Command::new("kill").args(["-TERM", &std::process::id().to_string()]).status().expect("kill");
    assert!(kill.success());
    let (status, body) = sync.await.expect("the sync request");
    demo.wait().await;
    let took = signalled.elapsed();
    assert!(took >= grace, "the sync was given its {grace:?} first: {took:?}");
    assert!(took < grace + Duration::from_secs(5), "stopped within the bound: {took:?}");
    assert_eq!(status, reqwest::StatusCode::BAD_GATEWAY, "{body}");
    assert_eq!(body["error"]["code"], "upstream_unavailable", "{body}");
    assert!(body["error"]["message"].as_str().is_some_and(|m| m.contains("syncing again is safe")), "{body}");
    assert!(http.get(format!("{url}/health")).send().await.is_err(), "no longer listening");

    // The database, reopened as the next start would: nothing left running, the cut sync interrupted.
    let (key, _) = MasterKey::load_or_create(None, &dir).expect("the demo's key");
    let store = Store::connect(&database_url, Cipher::new(&key)).await.expect("reopen");
    assert!(store.running_syncs().await.expect("store").is_empty());
    let history = store.history(products::WIRELESS_MOUSE, 10).await.expect("history");
    let outcomes: Vec<SyncOutcome> = history.iter().map(|e| e.outcome).collect();
    assert_eq!(outcomes, [SyncOutcome::Interrupted]);
    assert!(history[0].finished_at.is_some());
    store.close().await;
    std::fs::remove_dir_all(&dir).ok();
}
