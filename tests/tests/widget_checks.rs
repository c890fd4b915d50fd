//! Issue 15 end to end: what a sales user meets in the widget before and after pressing Sync, on the demo
//! (the backend against the simulators, serving the release build of the widget) opened from the emulated
//! CRM record page in real headless Chromium. Each test saves a screenshot to `artifacts/`.

use demo::Demo;
use e2e::browser::Browser;
use e2e::page::{
    click, failing_fields, narrow_popup, open_widget, row_class, row_detail, save_and_wait, script, sync_and_wait,
    sync_disabled, sync_on_first_screen, text, type_into, unfold_passed_checks, wait_until,
};
use e2e::repo_root;
use fantoccini::Locator;
use sandbox::xero::{AU_ORG, ItemEdit};
use sandbox::zoho::products;
use secrecy::ExposeSecret;
use serde_json::{Value, json};

async fn spawn_backend() -> Demo {
    assert!(
        repo_root().join("widget/dist/index.html").exists(),
        "the widget is not built: run scripts/test.sh (or `trunk build --release` in widget/)"
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
    demo::start(listener, |_| None, demo::Tuning::default()).await.expect("demo")
}

/// Syncs a product as the widget would, through the API (a session through the CRM Connection's key).
async fn sync_over_api(demo: &Demo, id: &str) -> Value {
    let http = reqwest::Client::new();
    let session: Value = http
        .post(format!("{}/api/session", demo.server.url))
        .header("x-api-key", demo.api_key.expose_secret())
        .json(&json!({"record_id": id, "user": "Olivia Nguyen"}))
        .send()
        .await
        .expect("session")
        .json()
        .await
        .expect("session JSON");
    let token = session["token"].as_str().expect("token");
    let response =
        http.post(format!("{}/api/products/{id}/sync", demo.server.url)).bearer_auth(token).send().await.expect("sync");
    assert!(response.status().is_success(), "{}", response.status());
    response.json().await.expect("sync JSON")
}

fn tenant(demo: &Demo) -> String {
    demo.sandbox.xero.tenant_id(AU_ORG).expect("AU org")
}

/// The Wireless Mouse is in Xero as WM-100; the Wireless Mouse (Black), code `wm-100`, shows the clash as
/// soon as the widget opens, naming the other product by name and code, with a code free in Xero one click
/// away; with it saved, the product syncs. At 320 px Sync stays on the first screen meanwhile.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_code_another_products_item_holds_shows_at_once_with_a_free_code_and_syncs_once_fixed() {
    let server = spawn_backend().await;
    sync_over_api(&server, products::WIRELESS_MOUSE).await;
    let id = products::WIRELESS_MOUSE_LOWERCASE;
    Browser::run(move |browser| async move {
        let sim = &server.sandbox;
        let client = browser.client.clone();
        open_widget(&browser, &sim.crm.record_url(id)).await;
        // No click: the preview runs on open.
        wait_until(&client, "the clash shows", "return document.querySelectorAll('.checklist li.error').length > 0")
            .await;
        assert_eq!(failing_fields(&client).await, json!(["Product_Code"]));
        let message = row_detail(&client, "Product_Code").await;
        assert!(message.contains("already used by Wireless Mouse, WM-100 in Xero"), "{message}");
        assert!(sync_disabled(&client).await);
        assert_eq!(text(&client, "#sync-blocked").await, "Fix the item marked ✗ first.");
        browser.screenshot("issue15-code-in-use").await;

        narrow_popup(&client, 320).await;
        assert!(sync_on_first_screen(&client).await, "Sync inside the first screen at 320 px");
        let overflow =
            script(&client, "const e = document.documentElement; return e.scrollWidth - e.clientWidth").await;
        assert_eq!(overflow, json!(0), "no sideways scrolling at 320 px");
        browser.screenshot("issue15-code-in-use-320px").await;

        click(&client, "#suggest-code").await;
        let typed = script(&client, "return document.getElementById('fix-Product_Code').value").await;
        assert_eq!(typed, json!("WIRELESS-MOUSE-BLACK"), "a code free in Xero");
        save_and_wait(&client).await;
        sync_and_wait(&client, "created").await;
        let codes: Vec<String> = sim.xero.items(&tenant(&server)).into_iter().map(|i| i.code).collect();
        assert_eq!(codes, ["WM-100", "WIRELESS-MOUSE-BLACK"]);
        browser.screenshot("issue15-code-fixed-synced").await;
    })
    .await;
}

/// With Xero disconnected: one banner in plain words, Sync disabled with its reason, no ✓ on what could not
/// be checked and never "ready"; once an admin connects Xero again, "Check again" clears it all.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_disconnected_xero_shows_one_banner_and_no_sync_until_it_is_connected_again() {
    let server = spawn_backend().await;
    server.server.connections().disconnect_xero().await.expect("disconnected");
    Browser::run(move |browser| async move {
        let client = browser.client.clone();
        open_widget(&browser, &server.sandbox.crm.record_url(products::WIRELESS_MOUSE)).await;
        browser.wait_for(".banner").await;
        let banner = text(&client, ".banner p").await;
        assert_eq!(banner, "Xero is not connected yet: your xero-sync admin connects it on the admin pages.");
        let alerts = script(&client, "return document.querySelectorAll('[role=alert]').length").await;
        assert_eq!(alerts, json!(1), "said once");
        assert!(sync_disabled(&client).await);
        let reason = text(&client, "#sync-blocked").await;
        assert_eq!(reason, "Xero must be reconnected before anything can be synced (see the top).");
        assert_eq!(text(&client, ".summary").await, "Not checked against Xero: see the note at the top.");
        assert_eq!(row_class(&client, "Xero_GL_Account").await, "unchecked", "no ✓ on what was not checked");
        browser.screenshot("issue15-disconnected-banner").await;

        server.connect_xero().await.expect("connected again");
        click(&client, "#recheck").await;
        wait_until(&client, "the banner goes", "return !document.querySelector('.banner')").await;
        wait_until(
            &client,
            "Sync may be pressed",
            "return document.getElementById('sync').getAttribute('aria-disabled') === 'false'",
        )
        .await;
        // Sync may be pressed once the preview is back; the summary waits for Xero's lists too, which come
        // by their own request and may arrive later.
        wait_until(
            &client,
            "the lists are checked",
            "return document.querySelector('.summary').textContent.startsWith('Ready')",
        )
        .await;
        assert_eq!(text(&client, ".summary").await, "Ready to sync to Xero.");
        browser.screenshot("issue15-reconnected").await;
    })
    .await;
}

/// "Accounts Receivable" is Xero's control account: the pick-list never offers it, and typed anyway it is an
/// error with the reason, Sync disabled; the preview of the saved record says the same.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn accounts_receivable_is_refused_with_its_reason() {
    let server = spawn_backend().await;
    let id = products::WIRELESS_MOUSE;
    Browser::run(move |browser| async move {
        let client = browser.client.clone();
        open_widget(&browser, &server.sandbox.crm.record_url(id)).await;
        browser.wait_for("#xero-accounts option").await;
        let offered =
            script(&client, "return [...document.querySelectorAll('#xero-accounts option')].map(o => o.value)");
        assert!(!offered.await.as_array().expect("options").contains(&json!("Accounts Receivable")));
        unfold_passed_checks(&client).await;
        let gl = "#fix-Xero_GL_Account";
        client.find(Locator::Css(gl)).await.expect(gl).clear().await.expect("cleared");
        type_into(&client, gl, "Accounts Receivable").await;
        assert_eq!(row_class(&client, "Xero_GL_Account").await, "error", "a system account, refused at once");
        let message = row_detail(&client, "Xero_GL_Account").await;
        assert!(message.contains("“Accounts Receivable” is Xero's accounts receivable control account"), "{message}");
        assert!(message.contains("Choose a revenue account"), "{message}");
        let suggestion = text(&client, "li[data-field=\"Xero_GL_Account\"] button.suggestion").await;
        assert_eq!(suggestion, "Use “Sales”");
        assert!(sync_disabled(&client).await);
        browser.screenshot("issue15-accounts-receivable").await;

        // Saved anyway: the server's check of the record refuses it too.
        save_and_wait(&client).await;
        wait_until(
            &client,
            "the preview of the saved record answers",
            "return document.querySelector('li[data-field=\"Xero_GL_Account\"]').className === 'error'",
        )
        .await;
        assert!(sync_disabled(&client).await);
        assert!(server.sandbox.xero.items(&tenant(&server)).is_empty(), "nothing sent");
    })
    .await;
}

/// A product whose CRM tax is "GST Free - 0.0 %" but whose Xero rate is "GST on Income" (10 %) shows the
/// mismatch as a warning: it may still sync.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_gst_free_product_with_the_ten_percent_rate_shows_the_tax_warning() {
    let server = spawn_backend().await;
    Browser::run(move |browser| async move {
        let client = browser.client.clone();
        open_widget(&browser, &server.sandbox.crm.record_url(products::GST_FREE_AT_TEN_PERCENT)).await;
        browser.wait_for("#xero-tax-rates option").await;
        assert_eq!(row_class(&client, "Xero_Tax_Rate").await, "warning");
        let warning = text(&client, ".warnings li").await;
        assert_eq!(
            warning,
            "The CRM says “GST Free - 0.0 %”, but the Xero tax rate “GST on Income” is 10 %; check which is right."
        );
        assert_eq!(failing_fields(&client).await, json!([]));
        wait_until(
            &client,
            "Sync may be pressed",
            "return document.getElementById('sync').getAttribute('aria-disabled') === 'false'",
        )
        .await;
        browser.screenshot("issue15-tax-mismatch").await;
    })
    .await;
}

/// The item was changed in Xero's web app after our sync: the widget shows what changed (Xero's value, the
/// CRM's, when), Sync waits for a choice, and "Keep Xero's" writes nothing to Xero.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_item_edited_in_xero_shows_the_difference_and_keeping_xeros_writes_nothing() {
    let server = spawn_backend().await;
    let id = products::WIRELESS_MOUSE;
    let synced = sync_over_api(&server, id).await;
    let item_id = synced["item_id"].as_str().expect("item").to_owned();
    let edit = ItemEdit { unit_price: Some(34.0), ..ItemEdit::default() };
    server.sandbox.xero.edit_item(&tenant(&server), &item_id, edit).expect("edited in Xero");
    Browser::run(move |browser| async move {
        let sim = &server.sandbox;
        let client = browser.client.clone();
        open_widget(&browser, &sim.crm.record_url(id)).await;
        browser.wait_for(".xero-edits li").await;
        let change = text(&client, ".xero-edits li").await;
        assert!(change.starts_with("Xero has Unit Price 34.00, the CRM 39.95; changed in Xero on "), "{change}");
        assert!(sync_disabled(&client).await, "a choice first");
        assert_eq!(text(&client, "#sync-blocked").await, "Choose first what to do with the changes made in Xero.");
        browser.screenshot("issue15-changed-in-xero").await;

        click(&client, "#xero-edits-keep").await;
        sim.xero.clear_calls();
        sync_and_wait(&client, "kept").await;
        let writes: Vec<String> = sim
            .xero
            .calls()
            .into_iter()
            .filter(|c| c.method != "GET")
            .map(|c| format!("{} {}", c.method, c.path))
            .collect();
        assert_eq!(writes, Vec::<String>::new(), "nothing written to Xero");
        assert_eq!(sim.xero.items(&tenant(&server))[0].sales.unit_price, Some(34.0), "Xero keeps its price");
        let result = text(&client, ".result").await;
        assert!(result.starts_with("Kept Xero's version: item WM-100."), "{result}");
        browser.screenshot("issue15-kept-xeros").await;
    })
    .await;
}
