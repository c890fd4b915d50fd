//! What the widget's end-to-end tests do on a page: run a script, wait for a condition, click, type, read
//! the checklist, and open the widget from the emulated CRM's record page.

use std::time::{Duration, Instant};

use fantoccini::error::{CmdError, ErrorStatus};
use fantoccini::{Client, Locator};
use serde_json::{Value, json};

use crate::browser::Browser;

/// Opens a record page (`record_url`), clicks "Sync to Xero" and enters the popup's frame once the
/// checklist shows.
pub async fn open_widget(browser: &Browser, record_url: &str) {
    let client = &browser.client;
    client.goto(record_url).await.expect("record page");
    client.find(Locator::Id("sync-to-xero")).await.expect("button").click().await.expect("click");
    browser.wait_for("#widget-frame").await.enter_frame().await.expect("enter the widget frame");
    browser.wait_for(".checklist").await;
}

/// Back on the record page, closes the popup.
pub async fn close_widget(browser: &Browser) {
    let client = &browser.client;
    client.find(Locator::Id("close")).await.expect("close button").click().await.expect("click");
    client.enter_parent_frame().await.expect("parent");
    wait_until(client, "the popup closes", "return !document.getElementById('widget-popup')").await;
}

pub async fn script(client: &Client, js: &str) -> Value {
    client.execute(js, vec![]).await.unwrap_or_else(|e| panic!("script {js}: {e}"))
}

/// Waits up to 20 s for `js` (a function body) to return true.
pub async fn wait_until(client: &Client, what: &str, js: &str) {
    let deadline = Instant::now() + Duration::from_secs(20);
    while script(client, js).await != json!(true) {
        assert!(Instant::now() < deadline, "timed out waiting until {what}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// The text of the first element `css` selects (empty when there is none).
pub async fn text(client: &Client, css: &str) -> String {
    let js = format!("const e = document.querySelector({css:?}); return e ? e.textContent : ''");
    script(client, &js).await.as_str().unwrap_or_default().to_owned()
}

pub async fn row_class(client: &Client, field: &str) -> String {
    let js = format!("return document.querySelector('.checklist li[data-field=\"{field}\"]').className");
    script(client, &js).await.as_str().unwrap_or_default().to_owned()
}

/// The checklist row's detail: its message, or what a met row says Xero gets.
pub async fn row_detail(client: &Client, field: &str) -> String {
    text(client, &format!(".checklist li[data-field=\"{field}\"] .detail")).await
}

pub async fn failing_fields(client: &Client) -> Value {
    script(client, "return [...document.querySelectorAll('.checklist li.error')].map(li => li.dataset.field)").await
}

pub async fn resource_count(client: &Client) -> Value {
    script(client, "return performance.getEntriesByType('resource').length").await
}

pub async fn type_into(client: &Client, css: &str, text: &str) {
    client.find(Locator::Css(css)).await.expect(css).send_keys(text).await.expect("typed");
}

/// Clicks the first element `css` selects. Yew may replace that element between finding and clicking it (a
/// re-render after data came in), so a stale reference is looked up again, as a user's second look would.
pub async fn click(client: &Client, css: &str) {
    for _ in 0..5 {
        match client.find(Locator::Css(css)).await.expect(css).click().await {
            Ok(_) => return,
            Err(CmdError::Standard(e)) if e.error == ErrorStatus::StaleElementReference => {
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
            Err(e) => panic!("clicking {css}: {e}"),
        }
    }
    panic!("{css} was replaced on every one of 5 clicks");
}

/// Unfolds the rows folded under "N checks passed", as a user does to change one of them.
pub async fn unfold_passed_checks(client: &Client) {
    let open = "return document.querySelector('details.passed').open";
    if script(client, open).await != json!(true) {
        click(client, "details.passed > summary").await;
    }
    assert_eq!(script(client, open).await, json!(true), "the passed checks unfold");
}

/// Presses Save to CRM and waits until the widget says it saved.
pub async fn save_and_wait(client: &Client) {
    click(client, "#save").await;
    wait_until_saved(client).await;
}

pub async fn wait_until_saved(client: &Client) {
    wait_until(
        client,
        "the save is done",
        "return document.getElementById('status').textContent.includes('Saved to the CRM')",
    )
    .await;
}

/// Waits until Sync may be pressed, presses it, and waits for the result with the class `outcome`.
pub async fn sync_and_wait(client: &Client, outcome: &str) {
    wait_until(
        client,
        "the sync button is enabled",
        "return document.getElementById('sync').getAttribute('aria-disabled') === 'false'",
    )
    .await;
    click(client, "#sync").await;
    wait_until(
        client,
        &format!("the sync says {outcome}"),
        &format!("return !!document.querySelector('.result.{outcome}')"),
    )
    .await;
}

/// Whether Sync is disabled (`aria-disabled`, so it keeps the keyboard focus).
pub async fn sync_disabled(client: &Client) -> bool {
    script(client, "return document.getElementById('sync').getAttribute('aria-disabled')").await == json!("true")
}

/// Narrows the popup's frame to `width` px (from the record page), and enters it again.
pub async fn narrow_popup(client: &Client, width: u32) {
    client.enter_parent_frame().await.expect("parent");
    script(client, &format!("document.getElementById('widget-frame').style.width = '{width}px'; return true")).await;
    client.find(Locator::Id("widget-frame")).await.expect("frame").enter_frame().await.expect("enter");
    wait_until(client, &format!("the frame is {width} px wide"), &format!("return window.innerWidth === {width}"))
        .await;
}

/// Whether the Sync button lies inside the popup's first screen.
pub async fn sync_on_first_screen(client: &Client) -> bool {
    let js = "const r = document.getElementById('sync').getBoundingClientRect(); \
              return r.top >= 0 && r.bottom <= window.innerHeight";
    script(client, js).await == json!(true)
}
