//! No secret reaches a log line. One test in its own binary, so the process-wide log capture sees only
//! this flow: start-up, consent, code exchanges, sessions, syncs, a refused sync, a 401 and a refresh,
//! all logged at debug level, then every secret the flow handled is searched for in the output.

use std::io::Write;
use std::sync::{Arc, Mutex};

use demo::Tuning;
use sandbox::zoho::products;
use secrecy::ExposeSecret;
use serde_json::{Value, json};

#[derive(Clone, Default)]
struct Capture(Arc<Mutex<Vec<u8>>>);

impl Write for Capture {
    fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap_or_else(|p| p.into_inner()).extend_from_slice(bytes);
        Ok(bytes.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

#[tokio::test]
async fn no_secret_or_token_is_ever_logged() {
    let capture = Capture::default();
    let writer = capture.clone();
    tracing_subscriber::fmt().with_env_filter("debug").with_writer(move || writer.clone()).with_ansi(false).init();

    let tuning =
        Tuning { sandbox: sandbox::SandboxConfig { time_scale: 1000.0, ..Default::default() }, ..Default::default() };
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let demo = demo::start(listener, |_| None, tuning).await.expect("start");
    let server = &demo.server;
    let http = reqwest::Client::new();

    let mut secrets: Vec<String> = vec![
        demo.api_key.expose_secret().to_owned(),
        sandbox::xero::XeroConfig::default().client_secret,
        sandbox::zoho::ZohoConfig::default().client_secret,
    ];
    let session = |record: &'static str| {
        let http = http.clone();
        let url = server.url.clone();
        let key = demo.api_key.expose_secret().to_owned();
        async move {
            let body: Value = http
                .post(format!("{url}/api/session"))
                .header("x-api-key", key)
                .json(&json!({"record_id": record, "user": "Olivia Nguyen"}))
                .send()
                .await
                .expect("session")
                .json()
                .await
                .expect("json");
            body["token"].as_str().expect("token").to_owned()
        }
    };
    for record in [products::WIRELESS_MOUSE, products::NO_CODE, products::USB_C_HUB] {
        let token = session(record).await;
        let response = http
            .post(format!("{}/api/products/{record}/sync", server.url))
            .bearer_auth(&token)
            .send()
            .await
            .expect("sync");
        assert!(response.status().as_u16() < 500, "{}", response.status());
        secrets.push(token);
        if record == products::NO_CODE {
            // Expire the access token in Xero so the last sync refreshes (and rotates) it.
            demo.sandbox.xero.expire_access_tokens();
        }
    }
    let store = server.store();
    let tokens = store.load_xero_tokens().await.expect("store").expect("tokens");
    assert!(tokens.previous_refresh_token.is_some(), "the flow rotated the refresh token");
    secrets.push(tokens.access_token.expose_secret().to_owned());
    secrets.push(tokens.refresh_token.expose_secret().to_owned());
    secrets.extend(tokens.previous_refresh_token.map(|t| t.expose_secret().to_owned()));
    let zoho = store.zoho_connection().await.expect("store").expect("zoho");
    secrets.push(zoho.refresh_token.expose_secret().to_owned());

    let logs = String::from_utf8_lossy(&capture.0.lock().unwrap_or_else(|p| p.into_inner())).into_owned();
    assert!(logs.contains("request"), "the capture saw the service's request logs");
    for secret in &secrets {
        assert!(secret.len() >= 8, "a secret too short to search for meaningfully");
        assert!(!logs.contains(secret.as_str()), "a secret reached the logs: {}…", &secret[..4]);
    }
}
