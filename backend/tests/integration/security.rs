//! The hardening of issue 10, over HTTP against the demo: the login throttle per client (counted, not
//! timed), a trusted proxy's `X-Forwarded-For`, the security headers on every spelling of the widget's
//! path and on every admin response, API-key failures throttled per client, tokens ended by a key rotation,
//! the reported user bounded, and the request timeout's answer. The service run as a child process (its
//! memory, its log, slow and idle sockets) is in `tests/attacks.rs`.

use std::net::{IpAddr, Ipv4Addr};
use std::time::Duration;

use demo::{Demo, Tuning};
use reqwest::StatusCode;
use reqwest::header::HeaderMap;
use sandbox::zoho::products;
use secrecy::ExposeSecret;
use serde_json::{Value, json};
use shared::wire::{ErrorCode, ErrorEnvelope};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

use crate::support::{TempDir, start_in};

const PASSWORD: &str = "correct horse battery staple";
/// The login throttle's numbers (backend/src/admin/login.rs): failures per client and minute, and
/// password checks at once.
const MAX_FAILURES: u64 = 10;
const CONCURRENT_CHECKS: usize = 2;

struct TestApp {
    demo: Demo,
    dir: TempDir,
}

/// The demo with the admin password [`PASSWORD`]; `vars` adds settings.
async fn spawn_with(vars: impl Fn(&str) -> Option<String> + 'static) -> TestApp {
    let dir = TempDir::new("security");
    let hash = backend::crypto::hash_password(PASSWORD).expect("hash");
    let demo = start_in(
        &dir,
        move |name| match name {
            "XERO_SYNC_ADMIN_PASSWORD_HASH" => Some(hash.clone()),
            other => vars(other),
        },
        Tuning::default(),
    )
    .await;
    TestApp { demo, dir }
}

async fn spawn() -> TestApp {
    spawn_with(|_| None).await
}

/// A client whose connections come from `local` (any 127.x address reaches the service on loopback).
fn client_from(local: Ipv4Addr) -> reqwest::Client {
    reqwest::Client::builder()
        .local_address(IpAddr::V4(local))
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .expect("client")
}

impl TestApp {
    fn url(&self, path: &str) -> String {
        format!("{}{path}", self.demo.server.url)
    }

    async fn login(&self, http: &reqwest::Client, password: &str, forwarded_for: Option<&str>) -> StatusCode {
        let mut request = http.post(self.url("/admin/login")).form(&[("password", password)]);
        if let Some(address) = forwarded_for {
            request = request.header("x-forwarded-for", address);
        }
        request.send().await.expect("login").status()
    }

    async fn open_session(&self, http: &reqwest::Client, key: &str, user: &str) -> (StatusCode, HeaderMap, Value) {
        let response = http
            .post(self.url("/api/session"))
            .header("x-api-key", key)
            .json(&json!({"record_id": products::WIRELESS_MOUSE, "user": user}))
            .send()
            .await
            .expect("session");
        let (status, headers) = (response.status(), response.headers().clone());
        (status, headers, response.json().await.unwrap_or(Value::Null))
    }

    fn api_key(&self) -> String {
        self.demo.api_key.expose_secret().to_owned()
    }
}

/// One request sent exactly as written (no client normalising its path): the status and the headers.
async fn raw_get(url: &str, path: &str) -> (u16, HeaderMap) {
    let address = url.strip_prefix("http://").expect("http");
    let mut stream = tokio::net::TcpStream::connect(address).await.expect("connect");
    let request = format!("GET {path} HTTP/1.1\r\nHost: {address}\r\nConnection: close\r\n\r\n");
    stream.write_all(request.as_bytes()).await.expect("send");
    let mut answer = Vec::new();
    stream.read_to_end(&mut answer).await.expect("read");
    let text = String::from_utf8_lossy(&answer);
    let head = text.split("\r\n\r\n").next().expect("head");
    let mut lines = head.lines();
    let status = lines.next().and_then(|l| l.split(' ').nth(1)).and_then(|s| s.parse().ok()).expect("status");
    let mut headers = HeaderMap::new();
    for line in lines {
        if let Some((name, value)) = line.split_once(':') {
            let name = reqwest::header::HeaderName::from_bytes(name.trim().as_bytes()).expect("name");
            headers.append(name, value.trim().parse().expect("value"));
        }
    }
    (status, headers)
}

#[tokio::test]
async fn a_parallel_burst_of_wrong_passwords_runs_at_most_the_throttles_checks_and_others_still_log_in() {
    let app = spawn().await;
    let attacker = client_from(Ipv4Addr::LOCALHOST);
    let burst = (0..100).map(|i| {
        let (app, attacker) = (&app, &attacker);
        async move { app.login(attacker, &format!("guess {i}"), None).await }
    });
    let statuses = futures::future::join_all(burst).await;
    let refused = statuses.iter().filter(|s| **s == StatusCode::UNAUTHORIZED).count();
    let throttled = statuses.iter().filter(|s| **s == StatusCode::TOO_MANY_REQUESTS).count();
    assert_eq!((refused + throttled, refused as u64), (100, MAX_FAILURES), "{statuses:?}");
    // Counted, not timed: each 401 was one argon2 check, and no more ran, never more than two at once.
    let checks = app.demo.server.password_checks();
    assert_eq!(checks.total, MAX_FAILURES, "{checks:?}");
    assert!((1..=CONCURRENT_CHECKS).contains(&checks.most_at_once), "{checks:?}");

    // The attacker is locked out, even with the right password...
    assert_eq!(app.login(&attacker, PASSWORD, None).await, StatusCode::TOO_MANY_REQUESTS);
    // ...and nobody else is: another address logs in at once, a wrong guess of theirs is an ordinary 401.
    let admin = client_from(Ipv4Addr::new(127, 0, 0, 2));
    assert_eq!(app.login(&admin, "typo", None).await, StatusCode::UNAUTHORIZED);
    assert_eq!(app.login(&admin, PASSWORD, None).await, StatusCode::SEE_OTHER);
    assert_eq!(app.demo.server.password_checks().total, MAX_FAILURES + 2);
}

#[tokio::test]
async fn behind_a_trusted_proxy_the_forwarded_client_is_throttled_and_a_spoofed_header_is_not_believed() {
    let app = spawn_with(|name| (name == "XERO_SYNC_TRUSTED_PROXIES").then(|| "127.0.0.1".to_owned())).await;
    let proxy = client_from(Ipv4Addr::LOCALHOST);
    // One client behind the proxy fails ten times; the next attempt is refused.
    let guesses = (0..MAX_FAILURES).map(|i| {
        let (app, proxy) = (&app, &proxy);
        async move { app.login(proxy, &format!("guess {i}"), Some("10.9.9.9, 203.0.113.9")).await }
    });
    let statuses = futures::future::join_all(guesses).await;
    assert!(statuses.iter().all(|s| *s == StatusCode::UNAUTHORIZED), "{statuses:?}");
    assert_eq!(app.login(&proxy, "again", Some("203.0.113.9")).await, StatusCode::TOO_MANY_REQUESTS);
    // What the client itself put left of its address changes nothing.
    assert_eq!(app.login(&proxy, PASSWORD, Some("198.51.100.7, 203.0.113.9")).await, StatusCode::TOO_MANY_REQUESTS);
    // The admin, behind the same proxy, logs in.
    assert_eq!(app.login(&proxy, PASSWORD, Some("198.51.100.7")).await, StatusCode::SEE_OTHER);

    // A peer that is no trusted proxy is judged by its own address, whatever header it sends.
    let direct = client_from(Ipv4Addr::new(127, 0, 0, 3));
    let forged = (0..MAX_FAILURES).map(|i| {
        let (app, direct) = (&app, &direct);
        async move { app.login(direct, "guess", Some(&format!("192.0.2.{i}"))).await }
    });
    let statuses = futures::future::join_all(forged).await;
    assert!(statuses.iter().all(|s| *s == StatusCode::UNAUTHORIZED), "{statuses:?}");
    assert_eq!(app.login(&direct, PASSWORD, Some("192.0.2.200")).await, StatusCode::TOO_MANY_REQUESTS);
}

/// The headers every widget response carries.
fn assert_widget_headers(path: &str, headers: &HeaderMap, crm: &str) {
    let csp = headers.get("content-security-policy").and_then(|v| v.to_str().ok()).unwrap_or_default();
    for directive in [
        "default-src 'self'",
        &format!("script-src 'self' 'wasm-unsafe-eval' {crm}"),
        "connect-src 'self'",
        "object-src 'none'",
        &format!("frame-ancestors 'self' {crm}"),
    ] {
        assert!(csp.contains(directive), "{path}: {directive} missing from {csp:?}");
    }
    assert_eq!(headers.get("x-content-type-options").map(|v| v.as_bytes()), Some(&b"nosniff"[..]), "{path}");
    assert_eq!(headers.get("referrer-policy").map(|v| v.as_bytes()), Some(&b"same-origin"[..]), "{path}");
}

#[tokio::test]
async fn every_spelling_of_the_widget_path_serves_the_shaped_page_with_the_full_headers_or_404() {
    let app = spawn().await;
    let dir = &app.dir.0;
    let inline = "\nimport init from './widget.js';\nawait init();\n";
    std::fs::write(
        dir.join("index.html"),
        format!(r#"<script src="__ZOHO_SDK_URL__"></script><script type="module">{inline}</script>"#),
    )
    .expect("index");
    std::fs::write(dir.join("widget.js"), "export default function init() {}").expect("asset");
    std::fs::create_dir_all(dir.join("snippets")).expect("folder");
    let url = &app.demo.server.url;
    let crm = &app.demo.sandbox.crm.url;
    let digest = {
        use base64::Engine;
        use sha2::Digest;
        base64::engine::general_purpose::STANDARD.encode(sha2::Sha256::digest(inline.as_bytes()))
    };

    for path in [
        "/widget/",
        "/widget/?serviceOrigin=https%3A%2F%2Fcrm.zoho.com",
        "/widget/index.html",
        "/widget//index.html",
        "/widget/./index.html",
        "/widget/%69ndex.html",
        "/widget/%2e/index.html",
        "/widget/index.html/",
    ] {
        let (status, headers) = raw_get(url, path).await;
        assert_eq!(status, 200, "{path}");
        assert_widget_headers(path, &headers, crm);
        // The shaped page: its inline script allowed by its hash, so this is the page as shaped, not raw.
        let csp = headers["content-security-policy"].to_str().expect("csp");
        assert!(csp.contains(&format!("'sha256-{digest}'")), "{path}: {csp}");
        assert_eq!(headers["cache-control"], "no-cache", "{path}");
    }
    let (status, headers) = raw_get(url, "/widget//widget.js").await;
    assert_eq!(status, 200);
    assert_widget_headers("/widget//widget.js", &headers, crm);
    // Without the slash the page's relative file names would break: sent to the slash, query kept.
    let (status, headers) = raw_get(url, "/widget?serviceOrigin=x").await;
    assert_eq!(status, 308);
    assert_eq!(headers["location"], "/widget/?serviceOrigin=x");
    assert_widget_headers("/widget", &headers, crm);
    for path in [
        "/widget/missing.js",
        "/widget/../Cargo.toml",
        "/widget/%2e%2e/test.db",
        "/widget/..%2ftest.db",
        "/widget/snippets",
        "/widget/snippets/",
        "/widget/%ff",
        "/widget/a%00b",
    ] {
        let (status, headers) = raw_get(url, path).await;
        assert_eq!(status, 404, "{path}");
        assert_widget_headers(path, &headers, crm);
    }
}

#[tokio::test]
async fn every_admin_response_carries_the_admin_headers() {
    let app = spawn().await;
    let xero_login = app.demo.sandbox.xero.login_url();
    let xero_origin = xero_login.split('/').take(3).collect::<Vec<_>>().join("/");
    for (path, status) in [
        ("/admin/login", 200),
        ("/admin", 303),
        ("/", 303),
        ("/admin/style.css", 200),
        ("/admin/no-such-page", 404),
        ("/admin/xero/tenant", 303),
    ] {
        let (got, headers) = raw_get(&app.demo.server.url, path).await;
        assert_eq!(got, status, "{path}");
        let csp = headers.get("content-security-policy").and_then(|v| v.to_str().ok()).unwrap_or_default();
        assert_eq!(
            csp,
            format!(
                "default-src 'none'; style-src 'self'; form-action 'self' {xero_origin}; frame-ancestors 'none'; \
                 base-uri 'none'"
            ),
            "{path}"
        );
        assert_eq!(headers["x-frame-options"], "DENY", "{path}");
        assert_eq!(headers["x-content-type-options"], "nosniff", "{path}");
        assert_eq!(headers["referrer-policy"], "same-origin", "{path}");
    }
}

#[tokio::test]
async fn wrong_api_keys_are_throttled_per_address_and_the_right_key_still_works() {
    let app = spawn().await;
    let prober = client_from(Ipv4Addr::new(127, 0, 0, 4));
    for i in 0..20 {
        let (status, _, body) = app.open_session(&prober, &format!("guess-{i}"), "Pat").await;
        assert_eq!(status, StatusCode::UNAUTHORIZED, "attempt {i}: {body}");
    }
    let (status, headers, body) = app.open_session(&prober, "guess-21", "Pat").await;
    assert_eq!(status, StatusCode::TOO_MANY_REQUESTS, "{body}");
    let envelope: ErrorEnvelope = serde_json::from_value(body).expect("the JSON error envelope");
    assert_eq!(envelope.error.code, ErrorCode::RateLimited);
    let wait: u64 = headers["retry-after"].to_str().expect("text").parse().expect("seconds");
    assert!((1..=60).contains(&wait), "{wait}");
    // No key at all counts the same.
    let response = prober.post(app.url("/api/session")).json(&json!({"record_id": "1"})).send().await.expect("post");
    assert_eq!(response.status(), StatusCode::TOO_MANY_REQUESTS);
    // Zoho's servers are shared by every CRM organisation: the right key works even from that address.
    let (status, _, body) = app.open_session(&prober, &app.api_key(), "Pat").await;
    assert_eq!(status, StatusCode::OK, "{body}");
    // Another address is not throttled at all.
    let (status, _, _) = app.open_session(&client_from(Ipv4Addr::new(127, 0, 0, 5)), "wrong", "Pat").await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
}

#[tokio::test]
async fn a_rotated_api_keys_sessions_are_refused_and_new_ones_work() {
    let app = spawn().await;
    let http = reqwest::Client::new();
    let (status, _, session) = app.open_session(&http, &app.api_key(), "Olivia Nguyen").await;
    assert_eq!(status, StatusCode::OK);
    let token = session["token"].as_str().expect("token").to_owned();
    let history = app.url(&format!("/api/products/{}/history", products::WIRELESS_MOUSE));
    let status_with = |token: String| {
        let (http, history) = (http.clone(), history.clone());
        async move { http.get(history).bearer_auth(token).send().await.expect("history").status() }
    };
    assert_eq!(status_with(token.clone()).await, StatusCode::OK);

    let rotated = app.demo.server.connections().rotate_api_key().await.expect("rotate").key;
    let response = http.get(&history).bearer_auth(&token).send().await.expect("history");
    assert_eq!(response.status(), StatusCode::UNAUTHORIZED, "the old key's session died with it");
    let envelope: ErrorEnvelope = response.json().await.expect("envelope");
    assert_eq!(envelope.error.code, ErrorCode::Unauthorized);
    assert!(envelope.error.message.contains("replaced"), "{envelope:?}");
    let (status, _, _) = app.open_session(&http, &app.api_key(), "Olivia Nguyen").await;
    assert_eq!(status, StatusCode::UNAUTHORIZED, "the old key itself");

    let (status, _, session) = app.open_session(&http, rotated.expose_secret(), "Olivia Nguyen").await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(status_with(session["token"].as_str().expect("token").to_owned()).await, StatusCode::OK);
}

#[tokio::test]
async fn the_reported_user_is_bounded_with_the_envelope_and_shown_as_the_crms_claim() {
    let app = spawn().await;
    let http = reqwest::Client::new();
    for user in ["x".repeat(101), "x".repeat(1_900_000), "Pat\nAdmin".to_owned(), "Pat\u{202e}nimdA".to_owned()] {
        let (status, _, body) = app.open_session(&http, &app.api_key(), &user).await;
        let shown = user.chars().take(20).collect::<String>();
        assert_eq!(status, StatusCode::BAD_REQUEST, "{shown:?}: {body}");
        let envelope: ErrorEnvelope = serde_json::from_value(body).expect("the JSON error envelope");
        assert_eq!(envelope.error.code, ErrorCode::BadRequest);
        assert!(envelope.error.message.starts_with("user must"), "{envelope:?}");
        assert!(envelope.error.request_id.is_some());
    }
    let (status, _, _) = app.open_session(&http, &app.api_key(), &"é".repeat(100)).await;
    assert_eq!(status, StatusCode::OK, "100 characters, whatever their bytes");

    // The admin log says whose word the name is.
    let (_, _, session) = app.open_session(&http, &app.api_key(), "Olivia Nguyen").await;
    let token = session["token"].as_str().expect("token");
    let sync = http
        .post(app.url(&format!("/api/products/{}/sync", products::WIRELESS_MOUSE)))
        .bearer_auth(token)
        .send()
        .await
        .expect("sync");
    assert_eq!(sync.status(), StatusCode::OK);
    let admin = client_from(Ipv4Addr::LOCALHOST);
    let login = admin.post(app.url("/admin/login")).form(&[("password", PASSWORD)]).send().await.expect("login");
    let cookie = login.headers()["set-cookie"].to_str().expect("cookie").split(';').next().expect("pair").to_owned();
    let dashboard = admin.get(app.url("/admin")).header("cookie", cookie).send().await.expect("dashboard");
    let page = dashboard.text().await.expect("page");
    assert!(page.contains("Olivia Nguyen"), "{page}");
    assert!(page.contains("reported by the CRM"), "{page}");
}

#[tokio::test]
async fn a_request_outlasting_the_request_timeout_gets_a_504_envelope() {
    let app = spawn_with(|name| (name == "XERO_SYNC_REQUEST_TIMEOUT_SECS").then(|| "0.5".to_owned())).await;
    let http = reqwest::Client::new();
    let (_, _, session) = app.open_session(&http, &app.api_key(), "Olivia Nguyen").await;
    let token = session["token"].as_str().expect("token");
    app.demo.sandbox.zoho.set_latency(Duration::from_secs(3));
    let started = std::time::Instant::now();
    let response = http
        .get(app.url(&format!("/api/products/{}/preview", products::WIRELESS_MOUSE)))
        .bearer_auth(token)
        .send()
        .await
        .expect("preview");
    assert_eq!(response.status(), StatusCode::GATEWAY_TIMEOUT);
    assert!(started.elapsed() < Duration::from_secs(3), "answered at the timeout, not when Zoho answered");
    let envelope: ErrorEnvelope = response.json().await.expect("the JSON error envelope");
    assert_eq!(envelope.error.code, ErrorCode::UpstreamUnavailable);
    assert!(envelope.error.request_id.is_some());
    app.demo.sandbox.zoho.set_latency(Duration::ZERO);
    let health = http.get(app.url("/health")).send().await.expect("health");
    assert_eq!(health.status(), StatusCode::OK);
}
