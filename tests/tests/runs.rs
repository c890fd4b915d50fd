//! The bulk runs' admin pages (issue 13, phase B) in real headless Chromium, as the demo serves them on a
//! fast clock: log in; a dry run; Sync Now with the progress bar following the run's events; Cancel and
//! Resume; the refused products on their fields; Retry failed; the schedule turned on with its next run.
//! Each step saves a screenshot to `artifacts/`.

use std::time::{Duration, Instant};

use backend::runs::RunTuning;
use backend::xero::{LimiterConfig, XeroClientConfig};
use demo::Demo;
use e2e::browser::Browser;
use e2e::page::{click, script};
use fantoccini::{Client, Locator};
use sandbox::SandboxConfig;
use serde_json::json;

/// Products beyond the 21 seeded ones, so a run has several batches to cancel between.
const GENERATED: usize = 1000;
const SCALE: f64 = 20.0;

async fn spawn_demo() -> Demo {
    let mut sandbox = SandboxConfig { time_scale: SCALE, ..SandboxConfig::default() };
    sandbox.zoho.generated_products = GENERATED;
    let minute = Duration::from_secs(60).div_f64(SCALE);
    let tuning = demo::Tuning {
        sandbox,
        xero: XeroClientConfig {
            limiter: LimiterConfig { window: minute, ..LimiterConfig::default() },
            ..XeroClientConfig::default()
        },
        runs: RunTuning {
            poll: Duration::from_millis(100),
            schedule_hour: Duration::from_secs(3600).div_f64(SCALE),
            ..RunTuning::default()
        },
        ..demo::Tuning::default()
    };
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
    demo::start(listener, |_| None, tuning).await.expect("demo")
}

/// Waits up to `limit` for `js` (a function body) to return true.
async fn wait_until(client: &Client, what: &str, limit: Duration, js: &str) {
    let deadline = Instant::now() + limit;
    while script(client, js).await != json!(true) {
        assert!(Instant::now() < deadline, "timed out waiting until {what}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

async fn text(client: &Client, css: &str) -> String {
    client.find(Locator::Css(css)).await.unwrap_or_else(|e| panic!("{css}: {e}")).text().await.expect("text")
}

async fn click_button(client: &Client, label: &str) {
    let button = Locator::XPath(&format!("//button[starts-with(normalize-space(), '{label}')]"));
    client.find(button).await.unwrap_or_else(|e| panic!("button {label}: {e}")).click().await.expect("click");
}

/// The run page's number for `key` (`run-{key}`).
async fn counter(client: &Client, key: &str) -> u64 {
    text(client, &format!("#run-{key}")).await.parse().unwrap_or_else(|e| panic!("run-{key}: {e}"))
}

/// Waits for the run page to have loaded again after its run ended (no more events followed).
async fn wait_for_the_end(client: &Client, limit: Duration) {
    wait_until(
        client,
        "the run ends and its page loads again",
        limit,
        "return !document.querySelector('[data-run-events]') && \
         ['succeeded', 'partial', 'failed', 'cancelled'].includes(document.getElementById('run-state').textContent)",
    )
    .await;
}

async fn start_run(browser: &Browser, url: &str, window: &str, dry_run: bool) -> String {
    let client = &browser.client;
    client.goto(&format!("{url}/admin/sync")).await.expect("sync page");
    click(client, &format!("#window-{window}")).await;
    if dry_run {
        click(client, "#dry-run").await;
    }
    click_button(client, "Sync Now").await;
    wait_until(
        client,
        "the run page opens",
        Duration::from_secs(10),
        "return /^\\/admin\\/runs\\/\\d+$/.test(location.pathname)",
    )
    .await;
    client.current_url().await.expect("url").path().to_owned()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sync_now_with_live_progress_cancel_resume_retry_and_the_schedule() {
    let demo = spawn_demo().await;
    let url = demo.server.url.clone();
    let xero = demo.sandbox.xero.clone();
    Browser::run(|browser| async move {
        let client = &browser.client;
        client.goto(&format!("{url}/admin/sync")).await.expect("sync");
        client.find(Locator::Id("password")).await.expect("login").send_keys(demo::DEMO_PASSWORD).await.expect("type");
        click(client, "main button[type=submit]").await;
        wait_until(client, "logged in", Duration::from_secs(10), "return location.pathname === '/admin'").await;
        client.goto(&format!("{url}/admin/sync")).await.expect("sync");
        assert!(text(client, "label[for=window-since]").await.contains("no run has finished yet"));
        browser.screenshot("runs-sync").await;

        // A dry run: what would happen, nothing written.
        start_run(&browser, &url, "all", true).await;
        wait_for_the_end(client, Duration::from_secs(60)).await;
        assert!(text(client, "h1").await.starts_with("Dry run"));
        let would_create = counter(client, "created").await;
        assert!(would_create > 0);
        assert!(text(client, "#run-estimate").await.contains("Xero calls"));
        assert!(text(client, "nav.filters").await.contains("would create ("));
        assert!(xero.items(&xero.tenant_id(sandbox::xero::AU_ORG).expect("org")).is_empty(), "nothing written");
        browser.screenshot("runs-dry-run").await;

        // Sync Now, slowed down: the bar moves with the events; Cancel stops it between batches.
        xero.set_latency(Duration::from_millis(1000));
        start_run(&browser, &url, "all", false).await;
        browser.wait_for("#run-progress").await;
        wait_until(client, "products are read", Duration::from_secs(30), "return +document.getElementById('run-read').textContent > 0")
            .await;
        let moving = script(client, "return document.getElementById('run-progress').value").await;
        assert!(moving.as_f64().is_some_and(|v| v < 100.0), "{moving}");
        browser.screenshot("runs-progress").await;
        click_button(client, "Cancel").await;
        wait_for_the_end(client, Duration::from_secs(30)).await;
        assert_eq!(text(client, "#run-state").await, "cancelled");
        let read_when_cancelled = counter(client, "read").await;
        assert!(read_when_cancelled < (GENERATED + 21) as u64, "stopped early: {read_when_cancelled}");
        browser.screenshot("runs-cancelled").await;

        // Resume: it goes on from its checkpoint to the end, the bar full.
        xero.set_latency(Duration::from_millis(50));
        click_button(client, "Resume").await;
        wait_until(client, "the run is active again", Duration::from_secs(10), "return !!document.querySelector('[data-run-events]')")
            .await;
        wait_for_the_end(client, Duration::from_secs(90)).await;
        assert_eq!(text(client, "#run-state").await, "partial");
        assert_eq!(script(client, "return document.getElementById('run-progress').value").await, json!(100));
        assert_eq!(counter(client, "created").await, would_create, "what the dry run said");
        assert_eq!(counter(client, "read").await, (GENERATED + 21) as u64);
        browser.screenshot("runs-finished").await;

        // The refused products, each issue on its CRM field.
        let refused = counter(client, "refused").await;
        let failed = counter(client, "failed").await;
        assert!(refused > 0);
        click(client, "nav.filters a[href*='outcome=refused']").await;
        wait_until(client, "the refused products", Duration::from_secs(10), "return location.search === '?outcome=refused'").await;
        let fields = script(client, "return [...document.querySelectorAll('table.products ul.issues li strong')].map(s => s.textContent)").await;
        let fields: Vec<String> = serde_json::from_value(fields).expect("fields");
        assert!(!fields.is_empty() && fields.iter().all(|f| !f.is_empty()), "{fields:?}");
        assert!(fields.iter().any(|f| f == "Tax" || f == "Xero_GL_Account" || f == "Product_Code"), "{fields:?}");
        let outcomes = script(client, "return [...document.querySelectorAll('table.products tbody tr')].every(r => r.className === 'outcome-refused')").await;
        assert_eq!(outcomes, json!(true));
        browser.screenshot("runs-refused").await;

        // Retry failed: a run over exactly those products.
        // The old run's page has a `#run-state` too: wait for the new run's address before reading anything.
        let finished_run = client.current_url().await.expect("url").path().to_owned();
        click_button(client, "Retry failed").await;
        let retry_page = format!(
            "return /^\\/admin\\/runs\\/\\d+$/.test(location.pathname) && location.pathname !== '{finished_run}' \
             && !!document.getElementById('run-state')"
        );
        wait_until(client, "the retry's page", Duration::from_secs(10), &retry_page).await;
        wait_for_the_end(client, Duration::from_secs(60)).await;
        assert_eq!(counter(client, "read").await, refused + failed);
        assert!(text(client, "main p.muted").await.contains("chosen products"));

        // The schedule: on every 4 hours, its next run shown.
        client.goto(&format!("{url}/admin/sync")).await.expect("sync");
        click(client, "#every-hours option[value='4']").await;
        click_button(client, "Save the schedule").await;
        wait_until(client, "the schedule is on", Duration::from_secs(10), "return !!document.getElementById('schedule-next')").await;
        let state = text(client, "#schedule-state").await;
        assert!(state.starts_with("On: every 4 hours"), "{state}");
        assert!(text(client, "#schedule-next").await.ends_with("UTC"), "a time");
        browser.screenshot("runs-schedule").await;

        client.goto(&format!("{url}/admin/runs")).await.expect("runs");
        let rows = script(client, "return document.querySelectorAll('table.runs tbody tr').length").await;
        assert_eq!(rows, json!(3));
        browser.screenshot("runs-list").await;
    })
    .await;
    demo.stop().await;
}
