//! The built widget, served by the backend, in a real headless Chromium.

use backend::{AppState, app};
use e2e::browser::Browser;
use e2e::repo_root;

async fn spawn_backend() -> String {
    let widget_dir = repo_root().join("widget/dist");
    assert!(
        widget_dir.join("index.html").exists(),
        "the widget is not built: run scripts/test.sh (or `trunk build --release` in widget/)"
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let addr = listener.local_addr().expect("addr");
    tokio::spawn(async move { axum::serve(listener, app(AppState { widget_dir })).await });
    format!("http://{addr}")
}

#[tokio::test]
async fn the_release_widget_renders_the_sample_checklist() {
    let base = spawn_backend().await;
    let browser = Browser::start().await;
    browser.client.goto(&format!("{base}/widget/?serviceOrigin=https%3A%2F%2Fcrm.zoho.com")).await.expect("goto");
    browser.wait_for(".checklist li.error").await;
    let failing = browser
        .client
        .execute("return [...document.querySelectorAll('.checklist li.error')].map(li => li.dataset.field)", vec![])
        .await
        .expect("script");
    assert_eq!(failing, serde_json::json!(["Product_Code", "Xero_GL_Account"]));
    let summary = browser.wait_for(".summary").await.text().await.expect("text");
    assert_eq!(summary, "2 things to fix before this product can go to Xero.");
    browser.screenshot("widget-sample-checklist").await;
    browser.close().await;
}
