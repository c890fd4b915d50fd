//! `xero-sync-demo` as `scripts/run.sh` runs it: the banner, the pages, a clean stop on SIGTERM.

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

const BINARY: &str = env!("CARGO_BIN_EXE_xero-sync-demo");

#[tokio::test]
async fn the_demo_prints_where_to_go_serves_it_and_stops_on_sigterm() {
    let mut child = Command::new(BINARY)
        .env("XERO_SYNC_ADDR", "127.0.0.1:0")
        .env_remove("XERO_SYNC_WIDGET_DIR")
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("start xero-sync-demo");
    let mut banner = Vec::new();
    for line in BufReader::new(child.stdout.take().expect("stdout")).lines() {
        let line = line.expect("banner line");
        let done = line.trim_start().starts_with("Zoho CRM simulator:");
        banner.push(line);
        if done {
            break;
        }
    }
    let url_after = |label: &str| -> String {
        let line = banner.iter().find(|l| l.trim_start().starts_with(label)).unwrap_or_else(|| panic!("{banner:?}"));
        line.split_whitespace().find(|word| word.starts_with("http://")).expect("a URL").to_owned()
    };
    assert!(banner.iter().any(|l| l.contains("SANDBOX MODE")), "{banner:?}");
    let service = url_after("xero-sync service:");
    let crm = url_after("CRM product page with the widget:");
    assert!(banner.iter().any(|l| l.contains("/admin") && l.contains(demo::DEMO_PASSWORD)), "{banner:?}");

    let http = reqwest::Client::builder().redirect(reqwest::redirect::Policy::none()).build().expect("client");
    let root = http.get(format!("{service}/")).send().await.expect("service root");
    assert_eq!(root.status(), reqwest::StatusCode::SEE_OTHER);
    assert_eq!(root.headers()["location"], "/admin");
    let page = http.get(&crm).send().await.expect("CRM page");
    assert_eq!(page.status(), reqwest::StatusCode::OK, "the emulated CRM lists the products");

    let signalled = Instant::now();
    let kill = Command::new("kill").args(["-TERM", &child.id().to_string()]).status().expect("kill");
    assert!(kill.success());
    let status = loop {
        if let Some(status) = child.try_wait().expect("wait") {
            break status;
        }
        assert!(signalled.elapsed() < Duration::from_secs(25), "still running 25 s after SIGTERM");
        tokio::time::sleep(Duration::from_millis(20)).await;
    };
    assert!(status.success(), "{status}");
}

#[test]
fn the_demo_listens_on_loopback_only() {
    let output = Command::new(BINARY).env("XERO_SYNC_ADDR", "0.0.0.0:0").output().expect("run xero-sync-demo");
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(2), "{stderr}");
    assert!(stderr.contains("loopback"), "{stderr}");
}
