//! The `xero-sync` binary itself, as an operator runs it: refused without credentials, quick to stop on
//! SIGTERM, and holding nothing of the simulators.

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

const BINARY: &str = env!("CARGO_BIN_EXE_xero-sync");

fn temp_dir(prefix: &str) -> std::path::PathBuf {
    let dir = std::env::temp_dir().join(format!("xero-sync-{prefix}-{}", uuid::Uuid::new_v4()));
    std::fs::create_dir_all(&dir).expect("temp dir");
    dir
}

#[test]
fn without_credentials_it_exits_2_naming_the_variables_and_the_demo() {
    let dir = temp_dir("no-credentials");
    let output = Command::new(BINARY)
        .env_clear()
        .env("PATH", std::env::var_os("PATH").unwrap_or_default())
        .current_dir(&dir)
        .output()
        .expect("run xero-sync");
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(2), "{stderr}");
    for needed in [
        "XERO_CLIENT_ID",
        "XERO_CLIENT_SECRET",
        "ZOHO_CLIENT_ID",
        "ZOHO_CLIENT_SECRET",
        "scripts/run.sh",
        "xero-sync-demo",
    ] {
        assert!(stderr.contains(needed), "{needed} missing from: {stderr}");
    }
    assert!(output.stdout.is_empty(), "it serves nothing");
    assert!(!dir.join("data").exists(), "it creates nothing: no key, no database");
    // Half a pair keeps its own precise message.
    let output = Command::new(BINARY)
        .env_clear()
        .env("XERO_CLIENT_ID", "client")
        .current_dir(&dir)
        .output()
        .expect("run xero-sync");
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(2), "{stderr}");
    assert!(stderr.contains("XERO_CLIENT_ID is set but XERO_CLIENT_SECRET is not"), "{stderr}");
    std::fs::remove_dir_all(&dir).ok();
}

#[test]
fn sigterm_stops_it_promptly_and_cleanly() {
    let dir = temp_dir("sigterm");
    let mut child = Command::new(BINARY)
        .env_clear()
        .env("XERO_SYNC_ADDR", "127.0.0.1:0")
        .env("XERO_SYNC_DATA_DIR", &dir)
        .env("XERO_SYNC_DATABASE_URL", format!("sqlite://{}/x.db?mode=rwc", dir.display()))
        .env("XERO_CLIENT_ID", "client")
        .env("XERO_CLIENT_SECRET", "secret")
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("start xero-sync");
    let mut line = String::new();
    BufReader::new(child.stdout.take().expect("stdout")).read_line(&mut line).expect("banner");
    assert!(line.starts_with("xero-sync is running on http://127.0.0.1:"), "{line}");
    let signalled = Instant::now();
    let kill = Command::new("kill").args(["-TERM", &child.id().to_string()]).status().expect("kill");
    assert!(kill.success());
    let status = loop {
        if let Some(status) = child.try_wait().expect("wait") {
            break status;
        }
        assert!(signalled.elapsed() < Duration::from_secs(10), "still running 10 s after SIGTERM");
        std::thread::sleep(Duration::from_millis(20));
    };
    assert!(status.success(), "{status}");
    std::fs::remove_dir_all(&dir).ok();
}

/// The shipped binary is built without the simulators (`backend` has no normal dependency on `sandbox`;
/// scripts/test.sh checks the dependency tree too): none of their secrets, seeds or routes are in it.
#[test]
fn the_binary_holds_none_of_the_simulators() {
    let binary = std::fs::read(BINARY).expect("read the binary");
    // Searched with the standard library's (optimised) string search: the debug binary is large.
    let binary = String::from_utf8_lossy(&binary);
    let holds = |text: &str| binary.contains(text);
    assert!(holds("hash-password"), "the search works: a string of xero-sync's own");
    let simulators = [
        sandbox::xero::XeroConfig::default().client_secret,
        sandbox::zoho::ZohoConfig::default().client_secret,
        sandbox::xero::AU_ORG.to_owned(),
        sandbox::crm_page::ORG_PATH.to_owned(),
        "/crm-host/message".to_owned(),
        "/zoho-sdk/ZohoEmbededAppSDK".to_owned(),
        sandbox::xero::XeroConfig::default().client_id,
    ];
    for text in simulators {
        assert!(!holds(&text), "the production binary contains {text:?}");
    }
    // The demo's password ("sandbox") cannot be searched for as such: the word also names the widget's
    // demo mode. What would come with it, the demo's settings, is checked above.
}
