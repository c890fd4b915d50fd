//! A headless Chromium for one test: its own chromedriver on a free port and its own empty profile, so
//! tests run in parallel and leave nothing behind, even when they fail. Every test also fails on a
//! Content-Security-Policy violation in any page or frame it opened: the served pages' policies must allow
//! exactly what they use.

use std::future::Future;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use fantoccini::wd::{Capabilities, WebDriverCompatibleCommand};
use fantoccini::{Client, ClientBuilder, Locator};

/// `CHROMEDRIVER` overrides the driver's path; `scripts/bootstrap.sh` installs Debian's.
fn chromedriver_path() -> String {
    std::env::var("CHROMEDRIVER").unwrap_or_else(|_| "/usr/bin/chromedriver".into())
}

/// Flags for a root user on a machine with no network beyond loopback: without the background-networking
/// ones Chromium keeps trying to reach Google's hosts.
const CHROME_ARGS: [&str; 9] = [
    "--headless=new",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-dev-shm-usage",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--window-size=1280,900",
];

/// The WebDriver session a test drives.
#[derive(Clone)]
pub struct Browser {
    pub client: Client,
}

/// chromedriver and the profile directory, removed on drop.
struct Driver {
    child: Child,
    profile: PathBuf,
}

impl Drop for Driver {
    fn drop(&mut self) {
        self.child.kill().ok();
        self.child.wait().ok();
        std::fs::remove_dir_all(&self.profile).ok();
    }
}

impl Browser {
    /// Runs `test` in a fresh headless Chromium. The test runs in its own task, so that a failing assertion
    /// still ends the browser session and the driver before the panic is passed on.
    pub async fn run<F, Fut>(test: F)
    where
        F: FnOnce(Browser) -> Fut,
        Fut: Future<Output = ()> + Send + 'static,
    {
        let path = chromedriver_path();
        let port = free_port();
        let child = Command::new(&path)
            .arg(format!("--port={port}"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start chromedriver at {path} ({e}); run scripts/bootstrap.sh"));
        let profile = std::env::temp_dir().join(format!("xero-sync-chrome-{}-{port}", std::process::id()));
        let driver = Driver { child, profile };
        let mut args: Vec<String> = CHROME_ARGS.iter().map(|a| a.to_string()).collect();
        args.push(format!("--user-data-dir={}", driver.profile.display()));
        let mut caps = Capabilities::new();
        caps.insert("goog:chromeOptions".into(), serde_json::json!({ "args": args }));
        // The browser's console, where Chromium reports what a Content-Security-Policy refused.
        caps.insert("goog:loggingPrefs".into(), serde_json::json!({ "browser": "ALL" }));
        let url = format!("http://127.0.0.1:{port}");
        let deadline = Instant::now() + Duration::from_secs(20);
        let client = loop {
            let connector = hyper_util::client::legacy::connect::HttpConnector::new();
            match ClientBuilder::new(connector).capabilities(caps.clone()).connect(&url).await {
                Ok(client) => break client,
                Err(e) if Instant::now() > deadline => panic!("chromedriver did not start a session: {e}"),
                Err(_) => tokio::time::sleep(Duration::from_millis(100)).await,
            }
        };
        let browser = Browser { client: client.clone() };
        let outcome = tokio::spawn(test(browser.clone())).await;
        let refused = if outcome.is_ok() { browser.csp_violations().await } else { Vec::new() };
        client.close().await.ok();
        drop(driver);
        if let Err(failure) = outcome {
            std::panic::resume_unwind(failure.into_panic());
        }
        assert!(refused.is_empty(), "the Content-Security-Policy refused something: {refused:#?}");
    }

    /// The console messages since the last call (chromedriver hands each out once).
    pub async fn console(&self) -> Vec<String> {
        let log = self.client.issue_cmd(BrowserLog).await.expect("the browser's log");
        log.as_array()
            .map(|entries| entries.iter().filter_map(|e| e["message"].as_str().map(str::to_owned)).collect())
            .unwrap_or_default()
    }

    /// The Content-Security-Policy violations reported since the last call.
    pub async fn csp_violations(&self) -> Vec<String> {
        self.console().await.into_iter().filter(|message| message.contains("Content Security Policy")).collect()
    }

    /// Waits for an element, up to 10 s.
    pub async fn wait_for(&self, css: &str) -> fantoccini::elements::Element {
        self.client
            .wait()
            .at_most(Duration::from_secs(10))
            .for_element(Locator::Css(css))
            .await
            .unwrap_or_else(|e| panic!("no element {css}: {e}"))
    }

    /// Saves a PNG of the page under `artifacts/` and returns its path.
    pub async fn screenshot(&self, name: &str) -> PathBuf {
        let png = self.client.screenshot().await.expect("screenshot");
        let path = crate::artifacts_dir().join(format!("{name}.png"));
        std::fs::write(&path, png).expect("write screenshot");
        path
    }
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0").and_then(|l| l.local_addr()).map(|a| a.port()).expect("a free port")
}

/// chromedriver's "get log" command (not in the W3C protocol, so not among fantoccini's).
#[derive(Debug)]
struct BrowserLog;

impl WebDriverCompatibleCommand for BrowserLog {
    fn endpoint(&self, base_url: &url::Url, session_id: Option<&str>) -> Result<url::Url, url::ParseError> {
        base_url.join(&format!("session/{}/se/log", session_id.unwrap_or_default()))
    }

    fn method_and_body(&self, _request_url: &url::Url) -> (http::Method, Option<String>) {
        (http::Method::POST, Some(r#"{"type":"browser"}"#.to_owned()))
    }
}
