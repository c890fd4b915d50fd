//! The backend's HTTP surface, spawned on a random port as `main` serves it.

use backend::{AppState, app};

async fn spawn(state: AppState) -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let addr = listener.local_addr().expect("addr");
    tokio::spawn(async move { axum::serve(listener, app(state)).await });
    format!("http://{addr}")
}

#[tokio::test]
async fn health_answers_ok() {
    let dir = std::env::temp_dir();
    let base = spawn(AppState { widget_dir: dir }).await;
    let response = reqwest::get(format!("{base}/health")).await.expect("request");
    assert_eq!(response.status(), 200);
    let body: serde_json::Value = response.json().await.expect("json");
    assert_eq!(body["status"], "ok");
}

#[tokio::test]
async fn the_widget_is_served_under_widget() {
    let dir = std::env::temp_dir().join(format!("xero-sync-widget-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("dir");
    std::fs::write(dir.join("index.html"), "<!doctype html><title>Sync to Xero</title>").expect("write");
    let base = spawn(AppState { widget_dir: dir.clone() }).await;
    let page = reqwest::get(format!("{base}/widget/")).await.expect("request");
    assert_eq!(page.status(), 200);
    assert!(page.text().await.expect("text").contains("Sync to Xero"));
    assert_eq!(reqwest::get(format!("{base}/widget/missing.js")).await.expect("request").status(), 404);
    std::fs::remove_dir_all(dir).ok();
}
