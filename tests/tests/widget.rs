//! The release build of the widget, served by the backend as the demo runs it, opened by the emulated CRM
//! record page's "Sync to Xero" button in real headless Chromium, through the SDK stand-in's protocol.

use demo::Demo;
use e2e::browser::Browser;
use e2e::page::{
    self, click, close_widget, failing_fields, resource_count, row_class, save_and_wait, script, sync_and_wait,
    type_into, unfold_passed_checks, wait_until, wait_until_saved,
};
use e2e::repo_root;
use fantoccini::key::Key;
use fantoccini::{Client, Locator};
use sandbox::zoho::products;
use serde_json::json;

/// The demo: the backend against the simulators, serving the release build of the widget.
async fn spawn_backend() -> Demo {
    spawn_backend_with(|_| None).await
}

/// [`spawn_backend`] with settings from `vars`.
async fn spawn_backend_with(vars: impl Fn(&str) -> Option<String>) -> Demo {
    assert!(
        repo_root().join("widget/dist/index.html").exists(),
        "the widget is not built: run scripts/test.sh (or `trunk build --release` in widget/)"
    );
    // No XERO_SYNC_WIDGET_DIR: the widget is served the way `xero-sync` serves it, from its embedded build
    // (which a debug build reads from widget/dist).
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
    demo::start(listener, vars, demo::Tuning::default()).await.expect("demo")
}

fn simulators(server: &Demo) -> &sandbox::Sandbox {
    &server.sandbox
}

/// Opens the record page, clicks "Sync to Xero" and enters the popup's frame once the checklist shows.
async fn open_widget(browser: &Browser, crm: &sandbox::crm_page::CrmPage, id: &str) {
    page::open_widget(browser, &crm.record_url(id)).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_mouse_pad_is_fixed_in_the_widget_saved_and_synced_twice() {
    let server = spawn_backend().await;
    let id = products::NO_CODE_NO_GL_ACCOUNT;
    let tenant = simulators(&server).xero.tenant_id(sandbox::xero::AU_ORG).expect("AU org");
    Browser::run(move |browser| async move {
        let sim = simulators(&server);
        let client = browser.client.clone();
        open_widget(&browser, &sim.crm, id).await;

        // (a) The real record at first paint: exactly its two broken rules fail.
        assert_eq!(failing_fields(&client).await, json!(["Product_Code", "Xero_GL_Account"]));
        let summary = client.find(Locator::Css(".summary")).await.expect("summary").text().await.expect("text");
        assert_eq!(summary, "2 things to fix before this product can go to Xero.");
        let sync_disabled = script(&client, "return document.getElementById('sync').getAttribute('aria-disabled')");
        assert_eq!(sync_disabled.await, json!("true"));
        browser.screenshot("widget-first-paint").await;
        let timing = script(
            &client,
            "const m = n => performance.getEntriesByName(n)[0].startTime; \
             return [m('xero-sync:page-load'), m('xero-sync:checklist')]",
        )
        .await;
        let (page_load, checklist) = (timing[0].as_f64().expect("ms"), timing[1].as_f64().expect("ms"));
        println!(
            "BENCH widget: PageLoad at {page_load:.1} ms, checklist rendered at {checklist:.1} ms after the popup's \
             navigation start: {:.1} ms from PageLoad to the rendered checklist",
            checklist - page_load
        );

        // (b) Typing fixes turns the rows green with no network call: the shared rules run in the page.
        browser.wait_for("#xero-accounts option").await;
        let resources = resource_count(&client).await;
        let sdk_messages = sim.crm.messages().iter().filter(|m| m["eventName"] == "CRM_EVENT").count();
        type_into(&client, "#fix-Product_Code", "MP-100").await;
        assert_eq!(row_class(&client, "Product_Code").await, "ok");
        type_into(&client, "#fix-Xero_GL_Account", "Sales").await;
        assert_eq!(row_class(&client, "Xero_GL_Account").await, "ok");
        assert_eq!(failing_fields(&client).await, json!([]));
        assert_eq!(resource_count(&client).await, resources, "no request while typing");
        let reads_or_invokes = sim
            .crm
            .messages()
            .iter()
            .filter(|m| m["eventName"] == "CRM_EVENT")
            .skip(sdk_messages)
            .filter(|m| m["data"]["category"] != "UI")
            .count();
        assert_eq!(reads_or_invokes, 0, "only popup resizes went to the CRM while typing");
        let blocked = script(&client, "return document.getElementById('sync-blocked').textContent").await;
        assert!(blocked.as_str().expect("text").starts_with("Save your changes"), "{blocked}");
        browser.screenshot("widget-fixed-before-save").await;

        // (c) Save writes the fixes to the CRM; the sync creates the item and writes its id back.
        save_and_wait(&client).await;
        let record = sim.zoho.product(id).expect("record");
        assert_eq!((&record["Product_Code"], &record["Xero_GL_Account"]), (&json!("MP-100"), &json!("Sales")));
        let focused = script(&client, "return document.activeElement.id").await;
        assert_eq!(focused, json!("save"), "the keyboard focus stays on the button after saving");
        sync_and_wait(&client, "created").await;
        let items = sim.xero.items(&tenant);
        let item = items.iter().find(|i| i.code == "MP-100").expect("the item in Xero");
        assert_eq!(item.name.as_deref(), Some("Mouse Pad"));
        assert_eq!(item.sales.account_code.as_deref(), Some("200"));
        assert_eq!(item.sales.tax_type.as_deref(), Some("OUTPUT"));
        assert_eq!(item.sales.unit_price, Some(9.95));
        assert_eq!(sim.zoho.product(id).expect("record")["Xero_Item_ID"], json!(item.item_id));
        let link = script(&client, "return document.querySelector('.result a').getAttribute('href')").await;
        assert!(link.as_str().expect("href").ends_with(&item.item_id), "{link}");
        wait_until(
            &client,
            "the history lists the sync",
            "return document.querySelectorAll('.history tbody tr').length === 1",
        )
        .await;
        browser.screenshot("widget-synced").await;

        // (d) Changed in the CRM, synced again: the same item is updated, never duplicated.
        let mut record = sim.zoho.product(id).expect("record").as_object().expect("object").clone();
        record.insert("Unit_Price".into(), json!(12.5));
        sim.zoho.set_product(id, record);
        sync_and_wait(&client, "updated").await;
        let items: Vec<_> = sim.xero.items(&tenant).into_iter().filter(|i| i.code == "MP-100").collect();
        assert_eq!(items.len(), 1, "one item");
        assert_eq!(items[0].sales.unit_price, Some(12.5));
        wait_until(
            &client,
            "the history lists both syncs",
            "return document.querySelectorAll('.history tbody tr').length === 2",
        )
        .await;
        browser.screenshot("widget-updated").await;

        // (e) Closing after a sync reloads the CRM's record page (`Popup.closeReload`): the page, loaded before
        // the sync, shows the Item ID written back without a manual reload.
        let item_id = items[0].item_id.clone();
        click(&client, "#close").await;
        client.enter_parent_frame().await.expect("parent");
        wait_until(&client, "the popup closes", "return !document.getElementById('widget-popup')").await;
        let shows_id = format!(
            "const d = document.querySelector('dd[data-field=\"Xero_Item_ID\"]'); return !!d && d.textContent === '{item_id}'"
        );
        wait_until(&client, "the record page shows the Item ID", &shows_id).await;
        let reloads = sim.crm.messages().iter().filter(|m| m["data"]["action"]["popup"] == "CLOSE_RELOAD").count();
        assert_eq!(reloads, 1, "closed with closeReload");
        browser.screenshot("widget-closed-record-reloaded").await;
    })
    .await;
}

/// The Tax multi-select is filled from the CRM's own taxes (`META.getFields`), saved as the CRM stores it,
/// and synced; closing with unsaved changes asks first, and closing anyway writes nothing.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_tax_picked_from_the_crms_list_is_saved_and_synced_and_unsaved_changes_are_asked_about() {
    let server = spawn_backend().await;
    let id = products::NO_TAX;
    let tenant = simulators(&server).xero.tenant_id(sandbox::xero::AU_ORG).expect("AU org");
    Browser::run(move |browser| async move {
        let sim = simulators(&server);
        let client = browser.client.clone();
        open_widget(&browser, &sim.crm, id).await;
        assert_eq!(failing_fields(&client).await, json!(["Tax"]));
        browser.wait_for(r#"[role="group"] input"#).await;
        assert_eq!(script(&client, "return !document.querySelector('.setup')").await, json!(true), "set up fully");
        let choices =
            script(&client, r#"return [...document.querySelectorAll('[role="group"] label')].map(l => l.textContent)"#);
        assert_eq!(choices.await, json!(["GST - 10.0 %", "GST Free - 0.0 %"]), "the CRM's taxes");

        click(&client, r#"[role="group"] input[value="4150868000000045001"]"#).await;
        assert_eq!(row_class(&client, "Tax").await, "ok");
        browser.screenshot("widget-tax-picked").await;

        // Close with the change unsaved: asked, and "Keep editing" keeps it.
        click(&client, "#close").await;
        let question = script(&client, r#"return document.querySelector('.confirm p').textContent"#);
        assert_eq!(question.await, json!("You have unsaved changes. Close without saving them?"));
        assert_eq!(script(&client, "return document.activeElement.id").await, json!("keep-editing"));
        click(&client, "#keep-editing").await;
        assert_eq!(row_class(&client, "Tax").await, "ok", "nothing lost");

        save_and_wait(&client).await;
        let gst = json!([{"id": "4150868000000045001", "value": "GST - 10.0 %"}]);
        assert_eq!(sim.zoho.product(id).expect("record")["Tax"], gst);
        sync_and_wait(&client, "created").await;
        let items = sim.xero.items(&tenant);
        let item = items.iter().find(|i| i.code == "CAM-HD").expect("the item in Xero");
        assert_eq!(item.sales.tax_type.as_deref(), Some("OUTPUT"));

        // Unticked, then closed without saving: the CRM keeps the saved tax. Met since the save, the Tax row is
        // folded under "N checks passed".
        unfold_passed_checks(&client).await;
        click(&client, r#"[role="group"] input[value="4150868000000045001"]"#).await;
        assert_eq!(row_class(&client, "Tax").await, "error");
        click(&client, "#close").await;
        click(&client, "#close-anyway").await;
        client.enter_parent_frame().await.expect("parent");
        wait_until(&client, "the popup closes", "return !document.getElementById('widget-popup')").await;
        assert_eq!(sim.zoho.product(id).expect("record")["Tax"], gst);
    })
    .await;
}

/// Presses `key` on whatever has the focus, as a keyboard user would.
async fn press(client: &Client, key: &str) {
    client.active_element().await.expect("a focused element").send_keys(key).await.expect("key pressed");
}

/// Tabs (backwards with `shift`) until `focused` (a script returning a boolean) holds, within 40 presses.
async fn tab_until(client: &Client, what: &str, focused: &str, shift: bool) {
    let tab = if shift { format!("{}{}", Key::Shift, Key::Tab) } else { Key::Tab.to_string() };
    for _ in 0..40 {
        if script(client, focused).await == json!(true) {
            return;
        }
        press(client, &tab).await;
    }
    panic!("{what} cannot be reached with the keyboard");
}

async fn tab_to(client: &Client, id: &str) {
    tab_until(client, id, &format!("return document.activeElement.id === '{id}'"), false).await;
}

/// The whole fix-save-sync flow with the keyboard alone: Tab between the fixes and the buttons, typing,
/// Space on a checkbox and Enter on the buttons.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_keyboard_alone_fixes_saves_and_syncs() {
    let server = spawn_backend().await;
    let id = products::NO_CODE_NO_GL_ACCOUNT;
    let tenant = simulators(&server).xero.tenant_id(sandbox::xero::AU_ORG).expect("AU org");
    Browser::run(move |browser| async move {
        let sim = simulators(&server);
        let client = browser.client.clone();
        open_widget(&browser, &sim.crm, id).await;
        browser.wait_for("#xero-accounts option").await;
        browser.wait_for(r#"[role="group"] input"#).await;
        script(&client, "document.activeElement.blur(); return true").await;

        tab_to(&client, "fix-Product_Code").await;
        press(&client, "MP-200").await;
        tab_to(&client, "fix-Xero_GL_Account").await;
        press(&client, "Sales").await;
        assert_eq!(failing_fields(&client).await, json!([]));
        // The Tax row, met, is folded under "N checks passed": Tab to it, Enter unfolds it, Tab reaches the second
        // tax and Space ticks it too.
        let summary = "return document.activeElement.matches('details.passed > summary')";
        tab_until(&client, "the passed checks", summary, false).await;
        press(&client, &Key::Enter.to_string()).await;
        assert_eq!(script(&client, "return document.querySelector('details.passed').open").await, json!(true));
        let second_tax = r#"return document.activeElement.value === "4150868000000045003""#;
        tab_until(&client, "the second tax", second_tax, false).await;
        press(&client, " ").await;
        assert_eq!(script(&client, "return document.activeElement.checked").await, json!(true));

        tab_to(&client, "save").await;
        press(&client, &Key::Enter.to_string()).await;
        wait_until_saved(&client).await;
        let saved = sim.zoho.product(id).expect("record");
        assert_eq!((&saved["Product_Code"], saved["Tax"].as_array().map(Vec::len)), (&json!("MP-200"), Some(2)));
        tab_to(&client, "sync").await;
        press(&client, &Key::Enter.to_string()).await;
        wait_until(&client, "the sync says created", "return !!document.querySelector('.result.created')").await;
        assert!(sim.xero.items(&tenant).iter().any(|i| i.code == "MP-200"));
    })
    .await;
}

/// xero-sync is told a custom field name the CRM does not have (an admin renamed the field): the widget
/// names it for the administrator and offers no input whose value the CRM would drop.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_custom_field_the_crm_lacks_is_named_for_the_administrator() {
    let server =
        spawn_backend_with(|name| (name == "XERO_SYNC_FIELD_GL_ACCOUNT").then(|| "GL_Account__c".to_owned())).await;
    Browser::run(move |browser| async move {
        let sim = simulators(&server);
        let client = browser.client.clone();
        open_widget(&browser, &sim.crm, products::WIRELESS_MOUSE).await;
        browser.wait_for(".setup").await;
        let alert = script(&client, "return document.querySelector('.setup').textContent").await;
        assert!(alert.as_str().expect("text").contains("“GL_Account__c” (Xero GL Account)"), "{alert}");
        assert_eq!(failing_fields(&client).await, json!(["GL_Account__c"]), "nothing is read from it");
        assert!(client.find(Locator::Id("fix-GL_Account__c")).await.is_err(), "no input to type into");
        browser.screenshot("widget-missing-field").await;
    })
    .await;
}

/// A name Xero does not know is flagged as it is typed, with one-click suggestions, by the same rules the
/// backend runs, on the organisation's chart; and an error Xero itself raises (e) lands on its field too:
/// the account was archived after the backend cached the chart, so Xero refuses the item.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unknown_names_and_errors_xero_raises_appear_on_their_field() {
    let server = spawn_backend().await;
    let tenant = simulators(&server).xero.tenant_id(sandbox::xero::AU_ORG).expect("AU org");
    Browser::run(move |browser| async move {
        let sim = simulators(&server);
        let client = browser.client.clone();
        open_widget(&browser, &sim.crm, products::WIRELESS_MOUSE).await;
        browser.wait_for("#xero-accounts option").await;
        assert_eq!(failing_fields(&client).await, json!([]));
        let items_before = sim.xero.items(&tenant).len();

        // Every check is met, so the GL account's row is folded under "N checks passed".
        unfold_passed_checks(&client).await;
        let gl = "#fix-Xero_GL_Account";
        client.find(Locator::Css(gl)).await.expect(gl).clear().await.expect("cleared");
        assert_eq!(row_class(&client, "Xero_GL_Account").await, "error", "emptied: nothing chosen");
        let resources = resource_count(&client).await;
        type_into(&client, gl, "Salse").await;
        // The name is checked on every keystroke; its error shows once typing pauses, never mid-word.
        assert_ne!(row_class(&client, "Xero_GL_Account").await, "ok");
        wait_until(
            &client,
            "the unknown name is flagged after the pause",
            "return document.querySelector('li[data-field=\"Xero_GL_Account\"]').className === 'error'",
        )
        .await;
        assert_eq!(failing_fields(&client).await, json!(["Xero_GL_Account"]));
        let message =
            script(&client, "return document.querySelector('li[data-field=\"Xero_GL_Account\"] .detail').textContent")
                .await;
        assert_eq!(message, json!("Xero has no active account named “Salse”. Did you mean “Sales”?"));
        assert_eq!(resource_count(&client).await, resources, "checked in the page, with no request");
        let sync_disabled = script(&client, "return document.getElementById('sync').getAttribute('aria-disabled')");
        assert_eq!(sync_disabled.await, json!("true"));
        browser.screenshot("widget-unknown-account").await;
        let suggestion = "li[data-field=\"Xero_GL_Account\"] button.suggestion";
        assert_eq!(
            client.find(Locator::Css(suggestion)).await.expect("a suggestion").text().await.expect("text"),
            "Use “Sales”"
        );
        click(&client, suggestion).await;
        assert_eq!(row_class(&client, "Xero_GL_Account").await, "ok");
        let unsaved = script(&client, "return document.getElementById('save').getAttribute('aria-disabled')");
        assert_eq!(unsaved.await, json!("true"), "back to the saved name: nothing to save");

        assert!(sim.xero.archive_account(&tenant, "200"));
        sync_and_wait(&client, "failed").await;
        assert_eq!(failing_fields(&client).await, json!(["Xero_GL_Account"]));
        let detail = "return document.querySelector('li[data-field=\"Xero_GL_Account\"] .detail').textContent";
        let message = script(&client, detail).await;
        let message = message.as_str().expect("text");
        assert!(message.contains("Account code '200' is not a valid code for this document."), "Xero's own: {message}");
        // Then the preview of the record, run after every sync, knows why: the account is archived now. So
        // the widget does not offer a retry that cannot succeed; it says what to fix.
        wait_until(
            &client,
            "the preview names the cause",
            &format!("return ({}).includes('is archived')", detail.trim_start_matches("return ")),
        )
        .await;
        let message = script(&client, detail).await;
        assert!(message.as_str().expect("text").contains("Account code '200' is not a valid code"), "still shown");
        let blocked = script(&client, "return document.getElementById('sync-blocked').textContent").await;
        assert_eq!(blocked, json!("Fix the item marked ✗ first."));
        assert_eq!(sim.xero.items(&tenant).len(), items_before, "nothing was created");
        browser.screenshot("widget-xero-error").await;
    })
    .await;
}

/// (f) The token is kept for the tab, so reopening the popup reuses it; a token the backend refuses (here
/// its signature is broken, which the backend answers with the same 401 as an expired one) is replaced by
/// a new session through the CRM Connection, and the call is retried once.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_expired_session_renews_itself() {
    let server = spawn_backend().await;
    let id = products::USB_C_HUB;
    Browser::run(move |browser| async move {
        let sim = simulators(&server);
        let client = browser.client.clone();
        let invokes = || sim.crm.messages().iter().filter(|m| m["data"]["category"] == "CRM_CONNECTION").count();
        open_widget(&browser, &sim.crm, id).await;
        browser.wait_for("#xero-accounts option").await;
        assert_eq!(invokes(), 1, "one session for the first opening");

        close_widget(&browser).await;
        open_widget(&browser, &sim.crm, id).await;
        browser.wait_for("#xero-accounts option").await;
        assert_eq!(invokes(), 1, "reopened: the stored token is reused");

        let key = format!("xero-sync:session:{id}");
        let tampered = script(
            &client,
            &format!(
                "const t = sessionStorage.getItem('{key}'); const bad = t.slice(0, -4) + 'AAAA'; \
                      sessionStorage.setItem('{key}', bad); return bad !== t"
            ),
        )
        .await;
        assert_eq!(tampered, json!(true));
        close_widget(&browser).await;
        open_widget(&browser, &sim.crm, id).await;
        browser.wait_for("#xero-accounts option").await;
        assert_eq!(invokes(), 2, "the refused token was replaced by one new session");
        sync_and_wait(&client, "done").await;
        assert_eq!(invokes(), 2, "the renewed token serves the sync");
        browser.screenshot("widget-session-renewed").await;

        // The narrowest popup: 320 px, and nothing overflows sideways.
        client.enter_parent_frame().await.expect("parent");
        script(&client, "document.getElementById('widget-frame').style.width = '320px'; return true").await;
        client.find(Locator::Id("widget-frame")).await.expect("frame").enter_frame().await.expect("enter");
        wait_until(&client, "the frame is 320 px wide", "return window.innerWidth === 320").await;
        let overflow =
            script(&client, "const e = document.documentElement; return e.scrollWidth - e.clientWidth").await;
        assert_eq!(overflow, json!(0), "no horizontal scrolling at 320 px");
        // The action bar sticks to the bottom: Sync is on the first screen, whatever the checklist's length.
        let sync_visible = "const r = document.getElementById('sync').getBoundingClientRect(); \
                            return r.top >= 0 && r.bottom <= window.innerHeight";
        assert_eq!(script(&client, sync_visible).await, json!(true), "Sync inside the first screen at 320 px");
        browser.screenshot("widget-320px").await;
    })
    .await;
}

/// Zoho's SDK has no timeouts: a CRM that refuses a call, or never answers it, ends in a message with a
/// way out, never in a blank or endlessly loading popup.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_crm_that_fails_or_never_answers_gets_a_message() {
    let server = spawn_backend().await;
    Browser::run(move |browser| async move {
        let sim = simulators(&server);
        let client = browser.client.clone();
        let alert = "const a = document.querySelector('[role=alert]'); return a ? a.textContent : null";

        sim.crm.set_event_fault(Some(sandbox::crm_page::EventFault::Fail));
        client.goto(&sim.crm.record_url(products::WIRELESS_MOUSE)).await.expect("record page");
        click(&client, "#sync-to-xero").await;
        browser.wait_for("#widget-frame").await.enter_frame().await.expect("enter the widget frame");
        wait_until(&client, "the failure is shown", "return !!document.querySelector('[role=alert]')").await;
        assert_eq!(script(&client, alert).await, json!("Could not read the product: invalid data"));
        // The widget's own Close goes through the failing CRM too; the popup's × always works.
        client.enter_parent_frame().await.expect("parent");
        click(&client, ".crm-popup-close").await;
        wait_until(&client, "the popup closes", "return !document.getElementById('widget-popup')").await;

        sim.crm.set_event_fault(Some(sandbox::crm_page::EventFault::Hang));
        click(&client, "#sync-to-xero").await;
        browser.wait_for("#widget-frame").await.enter_frame().await.expect("enter the widget frame");
        let loading = script(&client, "return document.querySelector('.loading').textContent").await;
        assert_eq!(loading, json!("Reading the product…"), "a loading state meanwhile");
        wait_until(&client, "the timeout is shown", "return !!document.querySelector('[role=alert]')").await;
        assert_eq!(
            script(&client, alert).await,
            json!("The CRM did not answer (could not read the product); close and reopen the widget.")
        );
        browser.screenshot("widget-crm-timeout").await;
    })
    .await;
}
