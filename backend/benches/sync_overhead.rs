//! The backend's own overhead per single sync, against the in-process sandbox with zero added latency.
//!
//! Each round edits the product's price in the Zoho simulator (so the sync really writes to Xero), then
//! times, in the same run:
//! - the widget's sync request, end to end through the service (session already open);
//! - the same four calls to the simulators made directly with a plain HTTP client: Zoho GET the record,
//!   Xero GET the item (to see edits made in Xero since the last sync), Xero POST the item, Zoho PUT the
//!   write-back. That is the floor any implementation pays.
//!
//! The difference is the backend's overhead (validation, storage, logging, limiter, JSON), reported as a
//! ratio to the direct calls. Medians of 200 rounds, after 20 warm-up rounds. Xero's rate limits are lifted
//! in the simulator and the client's limiter for the run, so neither side measures waiting.
//!
//! cargo bench -p backend --bench sync_overhead

use std::time::{Duration, Instant};

use backend::xero::{LimiterConfig, XeroClientConfig};
use demo::Tuning;
use sandbox::xero::{RateLimits, XeroConfig};
use sandbox::zoho::products;
use secrecy::ExposeSecret;
use serde_json::{Map, Value, json};

const ROUNDS: usize = 200;
const WARM_UP: usize = 20;

fn median(mut samples: Vec<Duration>) -> Duration {
    samples.sort();
    samples[samples.len() / 2]
}

#[tokio::main]
async fn main() {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
    // Xero's 60-a-minute limit would make this a benchmark of waiting: lift it in the simulator and in
    // our client alike (the limiter still runs, with its bookkeeping, on every call).
    let tuning = Tuning {
        sandbox: sandbox::SandboxConfig {
            xero: XeroConfig {
                limits: RateLimits { per_minute: 1_000_000, per_day: 1_000_000, ..RateLimits::default() },
                ..XeroConfig::default()
            },
            ..Default::default()
        },
        xero: XeroClientConfig {
            limiter: LimiterConfig { per_window: 1_000_000, ..LimiterConfig::default() },
            ..XeroClientConfig::default()
        },
        ..Tuning::default()
    };
    let demo = demo::start(listener, |_| None, tuning).await.expect("start");
    let server = &demo.server;
    let (xero, zoho) = (&demo.sandbox.xero, &demo.sandbox.zoho);
    let http = reqwest::Client::new();
    let id = products::WIRELESS_MOUSE;

    let session: Value = http
        .post(format!("{}/api/session", server.url))
        .header("x-api-key", demo.api_key.expose_secret())
        .json(&json!({"record_id": id, "user": "bench"}))
        .send()
        .await
        .expect("session")
        .json()
        .await
        .expect("json");
    let token = session["token"].as_str().expect("token").to_owned();

    // Direct access for the floor: Xero's token from our own store, a Zoho token of its own.
    let tenant = xero.tenant_id(sandbox::xero::AU_ORG).expect("tenant");
    let code = zoho.self_client_code(&["ZohoCRM.modules.products.ALL"]);
    let config = sandbox::zoho::ZohoConfig::default();
    let grant: Value = http
        .post(format!("{}/oauth/v2/token", zoho.url))
        .form(&[
            ("grant_type", "authorization_code"),
            ("client_id", config.client_id.as_str()),
            ("client_secret", config.client_secret.as_str()),
            ("code", code.as_str()),
        ])
        .send()
        .await
        .expect("zoho token")
        .json()
        .await
        .expect("json");
    let zoho_token = format!("Zoho-oauthtoken {}", grant["access_token"].as_str().expect("access token"));

    let mut through_service = Vec::new();
    let mut direct = Vec::new();
    let mut calls_per_sync = 0;
    for round in 0..WARM_UP + ROUNDS {
        // Whole cents, so the shortest decimal form has two places (the rules reject more than four).
        let cents = 2001 + (round % 500) as u32;
        let price = f64::from(cents) / 100.0;
        let mut record: Map<String, Value> = zoho.product(id).and_then(|v| v.as_object().cloned()).expect("product");
        record.insert("Unit_Price".into(), json!(price));
        zoho.set_product(id, record);

        let before = xero.calls().len() + zoho.calls().len();
        let started = Instant::now();
        let response =
            http.post(format!("{}/api/products/{id}/sync", server.url)).bearer_auth(&token).send().await.expect("sync");
        assert!(response.status().is_success(), "sync failed: {}", response.text().await.unwrap_or_default());
        let synced: Value = response.json().await.expect("json");
        let elapsed = started.elapsed();
        let item_id = synced["item_id"].as_str().expect("item id").to_owned();
        calls_per_sync = xero.calls().len() + zoho.calls().len() - before;

        let access = server.store().load_xero_tokens().await.expect("store").expect("tokens").access_token;
        let item = json!({"Items": [{"Code": "WM-100", "Name": "Wireless Mouse", "Description": "", "IsSold": true,
            "SalesDetails": {"UnitPrice": f64::from(cents * 10 + 1) / 1000.0, "AccountCode": "200", "TaxType": "OUTPUT"}}]});
        let started = Instant::now();
        let got = http
            .get(format!("{}/crm/v8/Products/{id}", zoho.url))
            .header("Authorization", &zoho_token)
            .send()
            .await
            .expect("zoho get");
        assert!(got.status().is_success());
        got.bytes().await.expect("body");
        let read = http
            .get(format!("{}/Items/{item_id}?unitdp=4", xero.api_url()))
            .bearer_auth(access.expose_secret())
            .header("xero-tenant-id", &tenant)
            .header("accept", "application/json")
            .send()
            .await
            .expect("xero get");
        assert!(read.status().is_success());
        read.bytes().await.expect("body");
        let posted = http
            .post(format!("{}/Items?summarizeErrors=false&unitdp=4", xero.api_url()))
            .bearer_auth(access.expose_secret())
            .header("xero-tenant-id", &tenant)
            .json(&item)
            .send()
            .await
            .expect("xero post");
        assert!(posted.status().is_success());
        posted.bytes().await.expect("body");
        let put = http
            .put(format!("{}/crm/v8/Products", zoho.url))
            .header("Authorization", &zoho_token)
            .json(&json!({"data": [{"id": id, "Xero_Sync_Status": "bench"}], "trigger": []}))
            .send()
            .await
            .expect("zoho put");
        assert!(put.status().is_success());
        put.bytes().await.expect("body");
        let floor = started.elapsed();

        if round >= WARM_UP {
            through_service.push(elapsed);
            direct.push(floor);
        }
    }
    xero.clear_calls();
    zoho.clear_calls();
    let (service, floor) = (median(through_service), median(direct));
    let overhead = service.saturating_sub(floor);
    println!("rounds: {ROUNDS} (after {WARM_UP} warm-up), simulator calls per sync: {calls_per_sync}");
    println!("{:<48} {:>10.3} ms", "sync through the service (median)", service.as_secs_f64() * 1e3);
    println!("{:<48} {:>10.3} ms", "the same simulator calls made directly (median)", floor.as_secs_f64() * 1e3);
    println!("{:<48} {:>10.3} ms", "backend overhead", overhead.as_secs_f64() * 1e3);
    println!("{:<48} {:>10.2}", "overhead / direct simulator calls", overhead.as_secs_f64() / floor.as_secs_f64());
    demo.stop().await;
}
