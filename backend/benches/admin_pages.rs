//! The admin pages with a big catalogue and a long log: 10,000 generated products in the Zoho simulator
//! (plus the seeded ones) and 100,000 sync log rows over the last 89 days, in the service's own SQLite
//! file. Each page is requested through HTTP as a logged-in browser does, 30 times after 5 warm-up
//! requests; the median and the 95th percentile are printed, and each median as a ratio to the plain log
//! page. Budget: every page under 100 ms (readiness served from its last check, whose own duration is
//! printed too).
//!
//! Then the indexes the log's filters use (`backend/migrations/0020_admin_portal.sql`) are dropped and
//! the filtered pages measured again in the same run, to show what each index is worth.
//!
//! cargo bench -p backend --bench admin_pages

use std::time::{Duration, Instant};

use chrono::{TimeDelta, Utc};
use demo::Tuning;
use reqwest::StatusCode;
use sandbox::zoho::ZohoConfig;
use serde_json::json;

const PRODUCTS: usize = 10_000;
const LOG_ROWS: usize = 100_000;
const ROUNDS: usize = 30;
const WARM_UP: usize = 5;
const BUDGET: Duration = Duration::from_millis(100);

struct Measured {
    median: Duration,
    p95: Duration,
    /// Until the headers and the first piece of the body arrived (what a browser shows as "answered").
    first_byte: Duration,
    bytes: usize,
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1e3
}

async fn measure(http: &reqwest::Client, url: &str, cookie: &str) -> Measured {
    let mut samples = Vec::with_capacity(ROUNDS);
    let mut first = Vec::with_capacity(ROUNDS);
    let mut bytes = 0;
    for round in 0..WARM_UP + ROUNDS {
        let started = Instant::now();
        let mut response = http.get(url).header("cookie", cookie).send().await.expect("request");
        assert_eq!(response.status(), StatusCode::OK, "{url}");
        bytes = response.chunk().await.expect("body").map_or(0, |c| c.len());
        let first_byte = started.elapsed();
        while let Some(chunk) = response.chunk().await.expect("body") {
            bytes += chunk.len();
        }
        if round >= WARM_UP {
            samples.push(started.elapsed());
            first.push(first_byte);
        }
    }
    samples.sort();
    first.sort();
    Measured {
        median: samples[samples.len() / 2],
        p95: samples[samples.len() * 95 / 100],
        first_byte: first[first.len() / 2],
        bytes,
    }
}

/// 100,000 rows as the engine writes them, in one transaction: the catalogue's products, a realistic mix of
/// outcomes and triggers, payloads and answers, started over the last 89 days in id order.
async fn fill_log(database_url: &str, names: &[(String, String, String)]) {
    let pool = sqlx::SqlitePool::connect(database_url).await.expect("pool");
    let mut tx = pool.begin().await.expect("transaction");
    let now = Utc::now();
    let span = TimeDelta::days(89).num_milliseconds();
    for i in 0..LOG_ROWS {
        let (id, name, code) = &names[(i * 7919) % names.len()];
        let started = (now - TimeDelta::days(89)).timestamp_millis() + span * i as i64 / LOG_ROWS as i64;
        let (outcome, trigger) = match i % 20 {
            0..=8 => ("unchanged", "schedule"),
            9..=12 => ("updated", "bulk"),
            13..=14 => ("created", "widget"),
            15..=17 => ("refused", "bulk"),
            18 => ("failed", "widget"),
            _ => ("interrupted", "schedule"),
        };
        let item = (outcome != "refused").then(|| format!("{:08x}-0000-4000-8000-{:012x}", i, i));
        let request = json!({"Code": code, "Name": name, "Description": "Stocked item, sold individually.", "IsSold": true,
            "SalesDetails": {"UnitPrice": 19.95, "AccountCode": "200", "TaxType": "OUTPUT"}});
        let response = item
            .as_ref()
            .map(|item| json!({"StatusAttributeString": "OK", "ItemID": item, "Code": code, "Messages": []}));
        let messages = match outcome {
            "refused" => json!(["Choose the Xero GL account that sales of this product are posted to."]),
            "failed" => json!(["Xero is not answering; the sync can safely be retried"]),
            _ => json!([]),
        };
        sqlx::query(
            "INSERT INTO sync_log (run_id, product_id, product_name, product_code, tenant_id, started_at, finished_at,
             actor, trigger, request, response, outcome, item_id, messages) VALUES (?, ?, ?, ?, 't', ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        )
        .bind(format!("bench-{i}"))
        .bind(id)
        .bind(name)
        .bind(code)
        .bind(started)
        .bind(started + 400)
        .bind(if trigger == "widget" { "Olivia" } else { "scheduler" })
        .bind(trigger)
        .bind(request.to_string())
        .bind(response.map(|r| r.to_string()))
        .bind(outcome)
        .bind(item)
        .bind(messages.to_string())
        .execute(&mut *tx)
        .await
        .expect("insert");
    }
    tx.commit().await.expect("commit");
    pool.close().await;
}

#[tokio::main]
async fn main() {
    let dir = std::env::temp_dir().join(format!("xero-sync-bench-admin-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("dir");
    let database_url = format!("sqlite://{}/bench.db?mode=rwc", dir.display());
    let tuning = Tuning {
        sandbox: sandbox::SandboxConfig {
            zoho: ZohoConfig { generated_products: PRODUCTS, ..ZohoConfig::default() },
            ..Default::default()
        },
        ..Tuning::default()
    };
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let (data_dir, db) = (dir.display().to_string(), database_url.clone());
    let vars = move |name: &str| match name {
        "XERO_SYNC_DATA_DIR" => Some(data_dir.clone()),
        "XERO_SYNC_DATABASE_URL" => Some(db.clone()),
        _ => None,
    };
    let demo = demo::start(listener, vars, tuning).await.expect("demo");
    let url = demo.server.url.clone();

    let catalogue: Vec<(String, String, String)> = demo
        .sandbox
        .zoho
        .products()
        .iter()
        .map(|p| {
            let text = |key: &str| p[key].as_str().unwrap_or_default().to_owned();
            (text("id"), text("Product_Name"), text("Product_Code"))
        })
        .collect();
    let filled = Instant::now();
    fill_log(&database_url, &catalogue).await;
    println!(
        "catalogue: {} products; sync log: {LOG_ROWS} rows written in {:.1} s",
        catalogue.len(),
        filled.elapsed().as_secs_f64()
    );

    let http = reqwest::Client::builder().redirect(reqwest::redirect::Policy::none()).build().expect("client");
    let login =
        http.post(format!("{url}/admin/login")).form(&[("password", demo::DEMO_PASSWORD)]).send().await.expect("login");
    let cookie = login.headers()["set-cookie"].to_str().expect("cookie").split(';').next().expect("pair").to_owned();

    // Readiness: the check itself (read 10,019 products from Zoho in pages of 200, run the rules), then the
    // page served from it.
    let body = http.get(format!("{url}/admin/readiness")).header("cookie", &cookie).send().await.expect("page");
    assert_eq!(body.status(), StatusCode::OK);
    let checking = Instant::now();
    loop {
        let page = http.get(format!("{url}/admin/readiness")).header("cookie", &cookie).send().await.expect("page");
        let text = page.text().await.expect("body");
        if text.contains("class=\"counter ok\"") {
            break;
        }
        assert!(!text.contains("failed:"), "the readiness check failed: {text}");
        assert!(checking.elapsed() < Duration::from_secs(600), "the readiness check did not finish");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let check_took = checking.elapsed();
    let zoho_reads =
        demo.sandbox.zoho.calls().iter().filter(|c| c.path == "/crm/v8/Products" && c.method == "GET").count();
    println!(
        "readiness check: {:.0} ms for {} products ({zoho_reads} Zoho list calls), in the background",
        ms(check_took),
        catalogue.len()
    );

    let middle = LOG_ROWS as i64 / 2;
    let old_from = (Utc::now() - TimeDelta::days(60)).format("%Y-%m-%dT%H:%M").to_string();
    let old_to = (Utc::now() - TimeDelta::days(59)).format("%Y-%m-%dT%H:%M").to_string();
    let rare = &catalogue[catalogue.len() / 3];
    let history = format!("/admin/products/{}", rare.0);
    let cases: Vec<(&str, String)> = vec![
        ("log: newest page", "/admin/log".into()),
        ("log: a page in the middle (keyset)", format!("/admin/log?before={middle}")),
        ("log: outcome failed", "/admin/log?outcome=failed".into()),
        ("log: needs attention", "/admin/log?outcome=problems".into()),
        ("log: trigger widget", "/admin/log?trigger=widget".into()),
        ("log: trigger admin (no row has it)", "/admin/log?trigger=admin".into()),
        ("log: one product by name (scan)", format!("/admin/log?product={}", urlencode(&rare.1))),
        ("log: one product by record id", format!("/admin/log?product={}", rare.0)),
        ("log: a day 60 days ago", format!("/admin/log?from={old_from}&to={old_to}")),
        ("csv: failed rows", "/admin/log.csv?outcome=failed".into()),
        ("csv: a day 60 days ago", format!("/admin/log.csv?from={old_from}&to={old_to}")),
        ("csv: all 100,000 rows", "/admin/log.csv".into()),
        ("product history", history),
        ("dashboard", "/admin".into()),
        ("readiness (cached result)", "/admin/readiness".into()),
        ("readiness: every product of a field", "/admin/readiness?field=Product_Code".into()),
    ];
    println!(
        "\n{:<40} {:>10} {:>10} {:>11} {:>10} {:>8}  budget",
        "page", "median ms", "p95 ms", "1st byte ms", "KB", "ratio"
    );
    let baseline = measure(&http, &format!("{url}/admin/log"), &cookie).await.median;
    let mut over = Vec::new();
    for (name, path) in &cases {
        let m = measure(&http, &format!("{url}{path}"), &cookie).await;
        // A CSV streams: it has answered when its first rows arrive; the whole download is printed too.
        let answered = if path.contains(".csv") { m.first_byte } else { m.median };
        let verdict = if answered < BUDGET { "ok" } else { "OVER" };
        if answered >= BUDGET {
            over.push(*name);
        }
        println!(
            "{name:<40} {:>10.1} {:>10.1} {:>11.1} {:>10.0} {:>8.2}  {verdict}",
            ms(m.median),
            ms(m.p95),
            ms(m.first_byte),
            m.bytes as f64 / 1024.0,
            m.median.as_secs_f64() / baseline.as_secs_f64()
        );
    }

    // The same filters without the indexes 0020 adds, in the same run.
    let pool = sqlx::SqlitePool::connect(&database_url).await.expect("pool");
    for index in ["sync_log_by_outcome", "sync_log_by_trigger", "sync_log_by_start"] {
        // (the dashboard's counters need the last one)
        sqlx::query(sqlx::AssertSqlSafe(format!("DROP INDEX {index}"))).execute(&pool).await.expect("drop");
    }
    println!("\nwithout sync_log_by_outcome, sync_log_by_trigger, sync_log_by_start:");
    for (name, path) in cases[2..9].iter().chain(cases.iter().filter(|(n, _)| *n == "dashboard")) {
        let m = measure(&http, &format!("{url}{path}"), &cookie).await;
        println!("{name:<40} {:>10.1} {:>10.1}", ms(m.median), ms(m.p95));
    }
    pool.close().await;

    demo.stop().await;
    std::fs::remove_dir_all(&dir).ok();
    if over.is_empty() {
        println!("\nevery page under {} ms", BUDGET.as_millis());
    } else {
        println!("\nover {} ms: {}", BUDGET.as_millis(), over.join(", "));
    }
}

fn urlencode(text: &str) -> String {
    serde_urlencoded::to_string([("x", text)]).expect("encode").trim_start_matches("x=").to_owned()
}
