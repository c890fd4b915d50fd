//! The built widget, served by the backend, in a real headless Chromium.

use backend::config::Settings;
use e2e::browser::Browser;
use e2e::repo_root;

/// The backend in sandbox mode, serving the release build of the widget.
async fn spawn_backend() -> backend::server::Server {
    let widget_dir = repo_root().join("widget/dist");
    assert!(
        widget_dir.join("index.html").exists(),
        "the widget is not built: run scripts/test.sh (or `trunk build --release` in widget/)"
    );
    let widget_dir = widget_dir.display().to_string();
    let settings =
        Settings::load(&|name| (name == "XERO_SYNC_WIDGET_DIR").then(|| widget_dir.clone())).expect("settings");
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
    backend::server::start(settings, listener).await.expect("backend")
}

#[tokio::test]
async fn the_release_widget_renders_the_sample_checklist() {
    let server = spawn_backend().await;
    let base = server.url.clone();
    Browser::run(|browser| async move {
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
    })
    .await;
}
