//! The admin pages over HTTP, as a browser uses them: the service spawned on a random port (as the demo,
//! with the simulators in-process, unless a test starts it in production mode), redirects not followed, and
//! the session cookie carried by hand so its attributes can be checked.

use std::time::{Duration, Instant};

use backend::server::Server;
use backend::store::ConnectionStatus;
use demo::{Demo, Tuning};
use reqwest::StatusCode;
use reqwest::header::{HeaderMap, LOCATION, SET_COOKIE};
use sandbox::xero::{AU_ORG, Fault, FaultTarget, UK_ORG};
use sandbox::zoho::products;
use secrecy::ExposeSecret;
use serde_json::{Map, Value, json};

use crate::support::{TempDir, start_in, start_production};

pub(super) const PASSWORD: &str = "correct horse battery staple";

pub(super) struct TestApp {
    /// The demo, or `xero-sync` in production mode.
    service: Service,
    pub(super) http: reqwest::Client,
    _dir: TempDir,
}

enum Service {
    Demo(Demo),
    Production(Server),
}

/// A logged-in browser: its session cookie and the CSRF token its pages carry.
pub(super) struct Browser {
    pub(super) cookie: String,
    pub(super) csrf: String,
}

pub(super) struct Page {
    pub(super) status: StatusCode,
    pub(super) headers: HeaderMap,
    pub(super) body: String,
}

impl Page {
    pub(super) fn location(&self) -> &str {
        self.headers.get(LOCATION).and_then(|v| v.to_str().ok()).unwrap_or_default()
    }

    /// The `Set-Cookie` of the session cookie, whole.
    fn session_cookie(&self) -> Option<String> {
        self.headers
            .get_all(SET_COOKIE)
            .iter()
            .filter_map(|v| v.to_str().ok())
            .find(|v| v.starts_with("xero_sync_admin="))
            .map(str::to_owned)
    }
}

/// The demo's own password, or `XERO_SYNC_ADMIN_PASSWORD_HASH` set to a hash of [`PASSWORD`].
pub(super) async fn spawn(with_hash: bool) -> TestApp {
    let hash = with_hash.then(|| backend::crypto::hash_password(PASSWORD).expect("hash"));
    spawn_with(move |name| match name {
        "XERO_SYNC_ADMIN_PASSWORD_HASH" => hash.clone(),
        _ => None,
    })
    .await
}

fn browser_client() -> reqwest::Client {
    reqwest::Client::builder().redirect(reqwest::redirect::Policy::none()).build().expect("client")
}

/// The demo; `vars` adds to the settings the test sets.
pub(super) async fn spawn_with(vars: impl Fn(&str) -> Option<String>) -> TestApp {
    let dir = TempDir::new("admin");
    let demo = start_in(&dir, vars, Tuning::default()).await;
    TestApp { service: Service::Demo(demo), http: browser_client(), _dir: dir }
}

/// `xero-sync` in production mode; `vars` adds to the settings the test sets.
pub(super) async fn spawn_production(vars: impl Fn(&str) -> Option<String>) -> TestApp {
    let dir = TempDir::new("admin");
    let server = start_production(&dir, vars).await;
    TestApp { service: Service::Production(server), http: browser_client(), _dir: dir }
}

/// The value of the first `<input name="{name}" value="…">` of a page.
pub(super) fn input_value(body: &str, name: &str) -> Option<String> {
    let start = body.find(&format!(r#"name="{name}" value=""#))? + name.len() + 15;
    let end = body[start..].find('"')? + start;
    Some(unescape(&body[start..end]))
}

fn unescape(text: &str) -> String {
    text.replace("&quot;", "\"").replace("&#39;", "'").replace("&lt;", "<").replace("&gt;", ">").replace("&amp;", "&")
}

impl TestApp {
    pub(super) fn demo(&self) -> &Demo {
        match &self.service {
            Service::Demo(demo) => demo,
            Service::Production(_) => panic!("not the demo"),
        }
    }

    pub(super) fn server(&self) -> &Server {
        match &self.service {
            Service::Demo(demo) => &demo.server,
            Service::Production(server) => server,
        }
    }

    pub(super) fn sandbox(&self) -> &sandbox::Sandbox {
        &self.demo().sandbox
    }

    pub(super) fn url(&self, path: &str) -> String {
        format!("{}{path}", self.server().url)
    }

    pub(super) async fn read(response: reqwest::Response) -> Page {
        let status = response.status();
        let headers = response.headers().clone();
        let body = response.text().await.expect("body");
        Page { status, headers, body }
    }

    pub(super) async fn get(&self, path: &str, browser: Option<&Browser>) -> Page {
        let mut request = self.http.get(self.url(path));
        if let Some(b) = browser {
            request = request.header("cookie", &b.cookie);
        }
        Self::read(request.send().await.expect("get")).await
    }

    pub(super) async fn post(&self, path: &str, browser: Option<&Browser>, form: &[(&str, &str)]) -> Page {
        let mut request = self.http.post(self.url(path)).form(form);
        if let Some(b) = browser {
            request = request.header("cookie", &b.cookie);
        }
        Self::read(request.send().await.expect("post")).await
    }

    /// A form POSTed with the browser's CSRF token.
    pub(super) async fn submit(&self, path: &str, browser: &Browser, fields: &[(&str, &str)]) -> Page {
        let mut form = vec![("csrf", browser.csrf.as_str())];
        form.extend_from_slice(fields);
        self.post(path, Some(browser), &form).await
    }

    pub(super) async fn login(&self, password: &str) -> Page {
        self.post("/admin/login", None, &[("password", password)]).await
    }

    /// Logs in and opens the dashboard.
    pub(super) async fn browser(&self, password: &str) -> Browser {
        let page = self.login(password).await;
        assert_eq!((page.status, page.location()), (StatusCode::SEE_OTHER, "/admin"), "{}", page.body);
        let set_cookie = page.session_cookie().expect("session cookie");
        let cookie = set_cookie.split(';').next().expect("pair").to_owned();
        let dashboard = self.get("/admin", Some(&Browser { cookie: cookie.clone(), csrf: String::new() })).await;
        assert_eq!(dashboard.status, StatusCode::OK);
        let csrf = input_value(&dashboard.body, "csrf").expect("csrf field");
        Browser { cookie, csrf }
    }

    /// What Zoho's servers do for the widget: present an API key for a session.
    pub(super) async fn open_session(&self, key: &str, user: &str) -> (StatusCode, Value) {
        self.open_session_for(key, user, products::WIRELESS_MOUSE).await
    }

    /// [`Self::open_session`] for the widget opened on `record`.
    pub(super) async fn open_session_for(&self, key: &str, user: &str, record: &str) -> (StatusCode, Value) {
        let response = self
            .http
            .post(self.url("/api/session"))
            .header("x-api-key", key)
            .json(&json!({"record_id": record, "user": user}))
            .send()
            .await
            .expect("session");
        let status = response.status();
        (status, response.json().await.unwrap_or(Value::Null))
    }

    /// Syncs `product` as the widget would for `user`: a session with the sandbox's API key, then the call.
    pub(super) async fn sync_as(&self, user: &str, product: &str) -> reqwest::Response {
        let key = self.demo().api_key.expose_secret().to_owned();
        let (status, session) = self.open_session_for(&key, user, product).await;
        assert_eq!(status, StatusCode::OK, "{session}");
        let token = session["token"].as_str().expect("token");
        let url = self.url(&format!("/api/products/{product}/sync"));
        self.http.post(url).bearer_auth(token).send().await.expect("sync")
    }

    /// POST connect, then Xero's consent page: returns the page's form fields and where it posts.
    async fn start_connect(&self, browser: &Browser) -> (String, Vec<(String, String)>) {
        let page = self.submit("/admin/xero/connect", browser, &[]).await;
        assert_eq!(page.status, StatusCode::SEE_OTHER, "{}", page.body);
        let authorize = page.location().to_owned();
        assert!(authorize.starts_with(&self.sandbox().xero.login_url()), "{authorize}");
        assert!(authorize.contains("code_challenge_method=S256"), "{authorize}");
        let consent = Self::read(self.http.get(&authorize).send().await.expect("consent")).await;
        assert_eq!(consent.status, StatusCode::OK, "{}", consent.body);
        let mut fields = Vec::new();
        for name in
            ["response_type", "client_id", "redirect_uri", "scope", "state", "code_challenge", "code_challenge_method"]
        {
            if let Some(value) = input_value(&consent.body, name) {
                fields.push((name.to_owned(), value));
            }
        }
        (self.sandbox().xero.login_url(), fields)
    }

    /// Submits Xero's consent form; returns where Xero sends the browser back to (our callback).
    async fn decide(&self, action: &str, mut fields: Vec<(String, String)>, tenants: &[String], allow: bool) -> String {
        fields.extend(tenants.iter().map(|t| ("tenant".to_owned(), t.clone())));
        fields.push(("decision".to_owned(), if allow { "allow" } else { "deny" }.to_owned()));
        let answer = Self::read(self.http.post(action).form(&fields).send().await.expect("decide")).await;
        assert_eq!(answer.status, StatusCode::FOUND, "{}", answer.body);
        let back = answer.location().to_owned();
        let path = back.strip_prefix(&self.server().url).expect("back to us").to_owned();
        assert!(path.starts_with("/admin/xero/callback?"), "{path}");
        path
    }

    fn tenant(&self, name: &str) -> String {
        self.sandbox().xero.tenant_id(name).expect("org")
    }
}

#[tokio::test]
async fn pages_need_a_login() {
    let app = spawn(false).await;
    // The service's root is no blank 404: it leads to the admin pages.
    let root = app.get("/", None).await;
    assert_eq!((root.status, root.location()), (StatusCode::SEE_OTHER, "/admin"));
    for path in ["/admin", "/admin/xero/tenant", "/admin/xero/callback?code=c&state=s&resume=1"] {
        let page = app.get(path, None).await;
        assert_eq!((page.status, page.location()), (StatusCode::SEE_OTHER, "/admin/login"), "{path}");
    }
    let page = app.post("/admin/api-key", None, &[("csrf", "x")]).await;
    assert_eq!((page.status, page.location()), (StatusCode::SEE_OTHER, "/admin/login"));
    // A session id nobody issued is no session.
    let forged = Browser { cookie: "xero_sync_admin=forged".into(), csrf: String::new() };
    assert_eq!(app.get("/admin", Some(&forged)).await.location(), "/admin/login");

    let login = app.get("/admin/login", None).await;
    assert_eq!(login.status, StatusCode::OK);
    assert!(login.body.contains("SANDBOX MODE"), "{}", login.body);
    assert!(login.body.contains("the password is <code>sandbox</code>"), "{}", login.body);
    assert_eq!(login.headers["cache-control"], "no-store");
}

#[tokio::test]
async fn a_wrong_password_is_refused_slowly_and_the_right_one_sets_a_strict_cookie() {
    let app = spawn(true).await;
    let login = app.get("/admin/login", None).await;
    assert!(login.body.contains("SANDBOX MODE"));
    assert!(!login.body.contains("the password is"), "a configured password is never hinted");

    let started = Instant::now();
    // With a hash configured, the sandbox default no longer works.
    let refused = app.login("sandbox").await;
    assert_eq!(refused.status, StatusCode::UNAUTHORIZED);
    assert!(started.elapsed() >= Duration::from_millis(900), "a failure answers late");
    assert!(refused.session_cookie().is_none());
    assert!(refused.body.contains("That password is not right."));
    let blank = app.login("").await;
    assert_eq!(blank.status, StatusCode::UNAUTHORIZED);
    assert!(blank.session_cookie().is_none());

    let accepted = app.login(PASSWORD).await;
    assert_eq!((accepted.status, accepted.location()), (StatusCode::SEE_OTHER, "/admin"));
    let cookie = accepted.session_cookie().expect("cookie");
    for attribute in ["HttpOnly", "SameSite=Strict", "Path=/admin"] {
        assert!(cookie.contains(attribute), "{attribute} missing: {cookie}");
    }
    assert!(!cookie.contains("Secure"), "plain http here: {cookie}");
    let browser = app.browser(PASSWORD).await;
    let dashboard = app.get("/admin", Some(&browser)).await;
    assert!(dashboard.body.contains("<h1>Dashboard</h1>") && dashboard.body.contains("SANDBOX MODE"));
    // Already logged in: the login page sends to the dashboard.
    assert_eq!(app.get("/admin/login", Some(&browser)).await.location(), "/admin");
}

#[tokio::test]
async fn a_login_from_another_site_is_refused() {
    let app = spawn(false).await;
    let response = app
        .http
        .post(app.url("/admin/login"))
        .header("origin", "https://evil.example")
        .form(&[("password", "sandbox")])
        .send()
        .await
        .expect("post");
    let page = TestApp::read(response).await;
    assert_eq!(page.status, StatusCode::FORBIDDEN);
    assert!(page.session_cookie().is_none());
}

#[tokio::test]
async fn ten_failed_logins_lock_logins_for_a_while() {
    let app = spawn(false).await;
    let attempts = (0..10).map(|i| {
        let app = &app;
        async move { app.login(&format!("guess {i}")).await.status }
    });
    let statuses = futures::future::join_all(attempts).await;
    assert!(statuses.iter().all(|s| *s == StatusCode::UNAUTHORIZED), "{statuses:?}");
    // Even the right password is refused while locked.
    let locked = app.login("sandbox").await;
    assert_eq!(locked.status, StatusCode::TOO_MANY_REQUESTS);
    assert!(locked.session_cookie().is_none());
    let wait: u64 = locked.headers["retry-after"].to_str().expect("text").parse().expect("seconds");
    assert!((1..=60).contains(&wait), "{wait}");
}

#[tokio::test]
async fn without_a_hash_outside_sandbox_mode_nobody_can_log_in() {
    let app = spawn_production(|name| match name {
        "XERO_CLIENT_ID" | "ZOHO_CLIENT_ID" => Some("client".into()),
        "XERO_CLIENT_SECRET" | "ZOHO_CLIENT_SECRET" => Some("secret".into()),
        _ => None,
    })
    .await;
    assert!(matches!(app.service, Service::Production(_)));
    let login = app.get("/admin/login", None).await;
    assert!(login.body.contains("XERO_SYNC_ADMIN_PASSWORD_HASH") && login.body.contains("xero-sync hash-password"));
    assert!(!login.body.contains("SANDBOX") && !login.body.contains("the password is"), "{}", login.body);
    for password in ["sandbox", "", "anything"] {
        let page = app.login(password).await;
        assert_eq!(page.status, StatusCode::FORBIDDEN, "{password:?}");
        assert!(page.session_cookie().is_none());
    }
}

#[tokio::test]
async fn over_https_the_cookie_is_secure() {
    let hash = backend::crypto::hash_password(PASSWORD).expect("hash");
    let app = spawn_production(move |name| match name {
        "XERO_SYNC_ADMIN_PASSWORD_HASH" => Some(hash.clone()),
        "XERO_SYNC_PUBLIC_URL" => Some("https://sync.example.test".into()),
        "XERO_CLIENT_ID" | "ZOHO_CLIENT_ID" => Some("client".into()),
        "XERO_CLIENT_SECRET" | "ZOHO_CLIENT_SECRET" => Some("secret".into()),
        _ => None,
    })
    .await;
    let page = app.login(PASSWORD).await;
    assert_eq!(page.status, StatusCode::SEE_OTHER, "{}", page.body);
    let cookie = page.session_cookie().expect("cookie");
    assert!(cookie.contains("Secure") && cookie.contains("HttpOnly"), "{cookie}");
}

#[tokio::test]
async fn posts_need_the_session_csrf_token_and_our_origin() {
    let app = spawn(false).await;
    let browser = app.browser("sandbox").await;
    let store = app.server().store();
    let key_before = store.api_key_hash().await.expect("store");

    let missing = app.post("/admin/api-key", Some(&browser), &[]).await;
    assert_eq!(missing.status, StatusCode::FORBIDDEN);
    assert!(missing.body.contains("SANDBOX MODE"), "error pages wear the banner");
    let wrong = app.post("/admin/api-key", Some(&browser), &[("csrf", "not-the-token")]).await;
    assert_eq!(wrong.status, StatusCode::FORBIDDEN);
    // Another session's token is not this one's.
    let other = app.browser("sandbox").await;
    let crossed = app.post("/admin/api-key", Some(&browser), &[("csrf", other.csrf.as_str())]).await;
    assert_eq!(crossed.status, StatusCode::FORBIDDEN);
    let foreign = app
        .http
        .post(app.url("/admin/api-key"))
        .header("cookie", &browser.cookie)
        .header("origin", "https://evil.example")
        .form(&[("csrf", browser.csrf.as_str())])
        .send()
        .await
        .expect("post");
    assert_eq!(foreign.status(), StatusCode::FORBIDDEN);
    assert_eq!(store.api_key_hash().await.expect("store"), key_before, "nothing changed");

    let no_logout = app.post("/admin/logout", Some(&browser), &[]).await;
    assert_eq!(no_logout.status, StatusCode::FORBIDDEN);
    let disconnect = app.post("/admin/xero/disconnect", Some(&browser), &[("csrf", "")]).await;
    assert_eq!(disconnect.status, StatusCode::FORBIDDEN);
    assert!(store.xero_connection().await.expect("store").is_some(), "still connected");
    assert_eq!(app.get("/admin", Some(&browser)).await.status, StatusCode::OK, "still logged in");
}

#[tokio::test]
async fn connecting_xero_with_two_organisations_lets_the_admin_choose() {
    let app = spawn(false).await;
    let store = app.server().store();
    let browser = app.browser("sandbox").await;
    // Sandbox start-up connected the AU organisation; make it need reconnecting.
    store.set_xero_status(ConnectionStatus::ReconnectNeeded, Some("refresh token <refused>")).await.expect("store");
    let dashboard = app.get("/admin", Some(&browser)).await;
    assert!(dashboard.body.contains("reconnect needed</span>: refresh token &lt;refused&gt;"), "{}", dashboard.body);
    assert!(dashboard.body.contains("Reconnect Xero"));

    let (action, fields) = app.start_connect(&browser).await;
    let both = [app.tenant(AU_ORG), app.tenant(UK_ORG)];
    let callback = app.decide(&action, fields, &both, true).await;
    let arrived = app.get(&callback, Some(&browser)).await;
    assert_eq!((arrived.status, arrived.location()), (StatusCode::SEE_OTHER, "/admin/xero/tenant"), "{}", arrived.body);

    let choice = app.get("/admin/xero/tenant", Some(&browser)).await;
    assert_eq!(choice.status, StatusCode::OK);
    assert!(choice.body.contains(AU_ORG) && choice.body.contains(UK_ORG), "{}", choice.body);
    // Only a tenant the consent offered can be chosen.
    let bogus = app.submit("/admin/xero/tenant", &browser, &[("tenant", "not-a-tenant")]).await;
    assert_eq!(bogus.status, StatusCode::BAD_REQUEST);
    let uk = app.tenant(UK_ORG);
    let chosen = app.submit("/admin/xero/tenant", &browser, &[("tenant", uk.as_str())]).await;
    assert_eq!((chosen.status, chosen.location()), (StatusCode::SEE_OTHER, "/admin"));

    let connection = store.xero_connection().await.expect("store").expect("connection");
    assert_eq!((connection.tenant_id.as_str(), connection.tenant_name.as_str()), (uk.as_str(), UK_ORG));
    assert_eq!((connection.status, connection.status_reason), (ConnectionStatus::Connected, None));
    let at_xero: Vec<_> = app.sandbox().xero.connections().into_iter().map(|c| (c.id, c.tenant_id)).collect();
    assert_eq!(at_xero, [(connection.connection_id.clone(), uk.clone())], "the unused organisation is disconnected");
    assert!(store.pending_tenants().await.expect("store").is_empty());
    let dashboard = app.get("/admin", Some(&browser)).await;
    assert!(
        dashboard.body.contains(&format!("<strong>{UK_ORG}</strong> (<span class=\"ok\">connected</span>")),
        "{}",
        dashboard.body
    );

    // The state was single-use: replaying Xero's answer is refused.
    let replay = app.get(&callback, Some(&browser)).await;
    assert_eq!(replay.status, StatusCode::BAD_REQUEST);
    assert_eq!(store.xero_connection().await.expect("store").expect("kept").tenant_id, uk);
}

#[tokio::test]
async fn one_organisation_connects_directly_and_cancelling_changes_nothing() {
    let app = spawn(false).await;
    let store = app.server().store();
    let browser = app.browser("sandbox").await;

    let (action, fields) = app.start_connect(&browser).await;
    let callback = app.decide(&action, fields, &[], false).await;
    assert!(callback.contains("error=access_denied"));
    let cancelled = app.get(&callback, Some(&browser)).await;
    assert_eq!(cancelled.status, StatusCode::OK);
    assert!(cancelled.body.contains("You cancelled at Xero"), "{}", cancelled.body);
    assert_eq!(store.xero_connection().await.expect("store").expect("kept").tenant_name, AU_ORG);

    // Xero lists the tenants the user connected; with one, no choice is needed.
    let (action, fields) = app.start_connect(&browser).await;
    let callback = app.decide(&action, fields, &[app.tenant(AU_ORG)], true).await;
    let arrived = app.get(&callback, Some(&browser)).await;
    assert_eq!((arrived.status, arrived.location()), (StatusCode::SEE_OTHER, "/admin"), "{}", arrived.body);
    let connection = store.xero_connection().await.expect("store").expect("connection");
    assert_eq!(connection.tenant_id, app.tenant(AU_ORG));
}

#[tokio::test]
async fn xeros_return_without_the_strict_cookie_reloads_from_our_origin_once() {
    let app = spawn(false).await;
    let first = app.get("/admin/xero/callback?code=c&state=s", None).await;
    assert_eq!(first.status, StatusCode::OK);
    assert!(first.body.contains(r#"href="/admin/xero/callback?code=c&amp;state=s&amp;resume=1""#), "{}", first.body);
    let second = app.get("/admin/xero/callback?code=c&state=s&resume=1", None).await;
    assert_eq!((second.status, second.location()), (StatusCode::SEE_OTHER, "/admin/login"));
    // With the session, an unknown state is refused.
    let browser = app.browser("sandbox").await;
    let unknown = app.get("/admin/xero/callback?code=c&state=s", Some(&browser)).await;
    assert_eq!(unknown.status, StatusCode::BAD_REQUEST);
    assert!(unknown.body.contains("unknown, expired or already used"));
}

#[tokio::test]
async fn disconnecting_clears_the_connection_and_the_tokens() {
    let app = spawn(false).await;
    let store = app.server().store();
    let browser = app.browser("sandbox").await;
    let connection = store.xero_connection().await.expect("store").expect("connected");
    let tokens = store.load_xero_tokens().await.expect("store").expect("tokens");

    let page = app.submit("/admin/xero/disconnect", &browser, &[]).await;
    assert_eq!((page.status, page.location()), (StatusCode::SEE_OTHER, "/admin"), "{}", page.body);
    assert!(store.xero_connection().await.expect("store").is_none());
    assert!(store.load_xero_tokens().await.expect("store").is_none());
    assert!(!app.sandbox().xero.connections().iter().any(|c| c.id == connection.connection_id), "removed at Xero");
    // The refresh token was revoked at Xero: it no longer buys an access token.
    let xero = sandbox::xero::XeroConfig::default();
    let refresh = app
        .http
        .post(app.sandbox().xero.token_url())
        .basic_auth(&xero.client_id, Some(&xero.client_secret))
        .form(&[("grant_type", "refresh_token"), ("refresh_token", tokens.refresh_token.expose_secret())])
        .send()
        .await
        .expect("token endpoint");
    assert_eq!(refresh.status(), StatusCode::BAD_REQUEST, "the revoked refresh token is refused");
    let dashboard = app.get("/admin", Some(&browser)).await;
    assert!(dashboard.body.contains("Not connected.") && dashboard.body.contains("Connect Xero"));
    assert!(!dashboard.body.contains("Disconnect Xero"));
}

#[tokio::test]
async fn a_rotated_api_key_is_shown_once_and_replaces_the_old_one() {
    let app = spawn(false).await;
    let old = app.demo().api_key.expose_secret().to_owned();
    assert_eq!(app.open_session(&old, "Olivia").await.0, StatusCode::OK);
    let browser = app.browser("sandbox").await;

    let page = app.submit("/admin/api-key", &browser, &[]).await;
    assert_eq!(page.status, StatusCode::OK, "{}", page.body);
    assert_eq!(page.headers["cache-control"], "no-store");
    let start = page.body.find(r#"id="api-key">"#).expect("key shown") + 13;
    let end = page.body[start..].find('<').expect("end") + start;
    let new = page.body[start..end].to_owned();
    assert_eq!(new.len(), 43, "{new}");

    let (status, body) = app.open_session(&new, "Olivia").await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(app.open_session(&old, "Olivia").await.0, StatusCode::UNAUTHORIZED);
    let dashboard = app.get("/admin", Some(&browser)).await;
    assert!(!dashboard.body.contains(&new), "never shown again");
    assert!(dashboard.body.contains("An API key is set") && dashboard.body.contains("Rotate API key"));
    assert!(dashboard.body.contains(&format!("<code>{}</code>", app.server().settings().widget_url())));
    assert!(dashboard.body.contains("<code>xero_sync_backend</code>") && dashboard.body.contains("X-Api-Key"));

    // Sandbox mode: the emulated CRM's Connection now presents the new key, server-side, as Zoho's would.
    let crm = &app.sandbox().crm;
    let invoke = json!({"type": "SDK.EVENT", "eventName": "CRM_EVENT", "uniqueID": "u1", "time": 1, "promiseid": "Promise100",
        "data": {"category": "CRM_CONNECTION", "connectionName": "xero_sync_backend",
            "data": {"data": {"url": app.url("/api/session"), "method": "POST", "param_type": 2,
                "parameters": json!({"record_id": products::WIRELESS_MOUSE}).to_string(), "headers": "{}"}}}});
    let answer: Value = app
        .http
        .post(format!("{}/crm-host/message", crm.url))
        .json(&json!({"record_id": products::WIRELESS_MOUSE, "message": invoke}))
        .send()
        .await
        .expect("host")
        .json()
        .await
        .expect("json");
    let reply = &answer["replies"][0]["data"];
    assert_eq!(reply["code"], "SUCCESS", "{answer}");
    let message = &reply["details"]["statusMessage"];
    let session: Value = message.as_str().map_or_else(|| message.clone(), |s| serde_json::from_str(s).expect("json"));
    assert!(session["token"].is_string(), "the backend accepted the key: {answer}");
}

#[tokio::test]
async fn the_sync_log_shows_syncs_with_every_value_escaped() {
    let app = spawn(false).await;
    let zoho = &app.sandbox().zoho;
    let mut record: Map<String, Value> =
        zoho.product(products::WIRELESS_MOUSE).and_then(|v| v.as_object().cloned()).expect("product");
    record.insert("Product_Name".into(), json!("<script>alert(1)</script> Mouse"));
    zoho.set_product(products::WIRELESS_MOUSE, record);

    let response = app.sync_as("<b>Eve</b> & co", products::WIRELESS_MOUSE).await;
    assert_eq!(response.status(), StatusCode::OK);
    let synced: Value = response.json().await.expect("json");
    let item_id = synced["item_id"].as_str().expect("item id");

    let browser = app.browser("sandbox").await;
    let dashboard = app.get("/admin", Some(&browser)).await;
    let body = &dashboard.body;
    assert!(body.contains("&lt;script&gt;alert(1)&lt;/script&gt; Mouse"), "{body}");
    assert!(body.contains("&lt;b&gt;Eve&lt;/b&gt; &amp; co"), "{body}");
    assert!(!body.contains("<script") && !body.contains("<b>Eve"), "{body}");
    assert!(body.contains(products::WIRELESS_MOUSE) && body.contains(item_id));
    assert!(
        body.contains(r#"<td data-label="Trigger">widget</td><td data-label="Outcome"><span class="badge created">created</span></td>"#),
        "{body}"
    );

    // The log and the product's history escape the same values, the payload sent and Xero's answer too.
    let log = app.get("/admin/log", Some(&browser)).await;
    assert_eq!(log.status, StatusCode::OK);
    assert!(
        log.body.contains("&lt;script&gt;alert(1)&lt;/script&gt; Mouse") && !log.body.contains("<script"),
        "{}",
        log.body
    );
    let row = app.server().store().history(products::WIRELESS_MOUSE, 1).await.expect("history")[0].id;
    let history_link = format!("/admin/products/{}?sync={row}#sync-{row}", products::WIRELESS_MOUSE);
    assert!(log.body.contains(&history_link.replace('&', "&amp;")), "{}", log.body);
    let history = app.get(&format!("/admin/products/{}?sync={row}", products::WIRELESS_MOUSE), Some(&browser)).await;
    assert_eq!(history.status, StatusCode::OK);
    let body = &history.body;
    assert!(body.contains("<h1>History of &lt;script&gt;alert(1)&lt;/script&gt; Mouse</h1>"), "{body}");
    assert!(!body.contains("<script") && !body.contains("<b>Eve"), "{body}");
    assert!(
        body.contains("&quot;Name&quot;: &quot;&lt;script&gt;alert(1)&lt;/script&gt; Mouse&quot;"),
        "the payload: {body}"
    );
    assert!(body.contains(&format!("&quot;ItemID&quot;: &quot;{item_id}&quot;")), "Xero's answer: {body}");
    assert!(body.contains("&quot;StatusAttributeString&quot;: &quot;OK&quot;"), "{body}");
    assert!(body.contains(&format!(r#"<article class="sync" id="sync-{row}""#)), "{body}");
    assert!(body.contains("<details open>"), "the sync the log row named is unfolded: {body}");
}

#[tokio::test]
async fn a_zoho_self_client_code_connects_zoho() {
    let app = spawn(false).await;
    let store = app.server().store();
    let browser = app.browser("sandbox").await;
    store.delete_zoho_connection().await.expect("store");
    assert!(app.get("/admin", Some(&browser)).await.body.contains("Zoho CRM</h2><p class=\"warn\">Not connected."));

    let refused = app.submit("/admin/zoho/code", &browser, &[("code", "1000.not.a-code")]).await;
    assert_eq!(refused.status, StatusCode::BAD_GATEWAY, "{}", refused.body);
    assert!(store.zoho_connection().await.expect("store").is_none());
    let code = app.sandbox().zoho.self_client_code(&["ZohoCRM.modules.products.ALL", "ZohoCRM.settings.fields.READ"]);
    let page = app.submit("/admin/zoho/code", &browser, &[("code", &format!(" {code} "))]).await;
    assert_eq!((page.status, page.location()), (StatusCode::SEE_OTHER, "/admin"), "{}", page.body);
    assert!(store.zoho_connection().await.expect("store").is_some_and(|c| c.status == ConnectionStatus::Connected));
}

#[tokio::test]
async fn the_dashboard_checks_the_crm_has_the_configured_custom_fields() {
    let app = spawn(false).await;
    let browser = app.browser("sandbox").await;
    let dashboard = app.get("/admin", Some(&browser)).await;
    assert!(dashboard.body.contains("<h3>CRM fields</h3>"), "{}", dashboard.body);
    assert_eq!(dashboard.body.matches("<span class=\"ok\">✓</span>").count(), 6, "{}", dashboard.body);
    assert!(dashboard.body.contains("Xero GL Account: <code>Xero_GL_Account</code>"));

    // The backend is told another name than the CRM has: the admin sees which field and which setting.
    let app = spawn_with(|name| (name == "XERO_SYNC_FIELD_GL_ACCOUNT").then(|| "GL_Account__c".to_owned())).await;
    let browser = app.browser("sandbox").await;
    let dashboard = app.get("/admin", Some(&browser)).await;
    assert_eq!(dashboard.body.matches("<span class=\"ok\">✓</span>").count(), 5, "{}", dashboard.body);
    assert!(
        dashboard.body.contains(
            "✗ Xero GL Account: the CRM has no Products field <code>GL_Account__c</code></span>. Create it, or give \
             its API name in <a href=\"/admin/settings#fields-h\">Settings</a> (by default \
             <code>XERO_SYNC_FIELD_GL_ACCOUNT</code>)."
        ),
        "{}",
        dashboard.body
    );
}

/// A grant without the settings scope still syncs: the check says what is missing and Zoho stays connected.
#[tokio::test]
async fn a_grant_without_the_settings_scope_only_skips_the_field_check() {
    let app = spawn(false).await;
    let store = app.server().store();
    let browser = app.browser("sandbox").await;
    let code = app.sandbox().zoho.self_client_code(&["ZohoCRM.modules.products.ALL"]);
    let page = app.submit("/admin/zoho/code", &browser, &[("code", code.as_str())]).await;
    assert_eq!(page.status, StatusCode::SEE_OTHER, "{}", page.body);

    let dashboard = app.get("/admin", Some(&browser)).await;
    let expected = "could not be checked: the Zoho grant lacks the scope <code>ZohoCRM.settings.fields.READ</code>";
    assert!(dashboard.body.contains(expected), "{}", dashboard.body);
    let zoho = store.zoho_connection().await.expect("store").expect("zoho");
    assert_eq!(zoho.status, ConnectionStatus::Connected, "the sync does not need that scope");
    let response = app.sync_as("Olivia", products::WIRELESS_MOUSE).await;
    assert_eq!(response.status(), StatusCode::OK, "the products scope is enough to sync");
}

/// Xero refuses to drop an organisation the admin did not choose: the page says which, and what to do.
#[tokio::test]
async fn an_unused_organisation_xero_will_not_disconnect_is_reported() {
    let app = spawn(false).await;
    let browser = app.browser("sandbox").await;
    let (action, fields) = app.start_connect(&browser).await;
    let callback = app.decide(&action, fields, &[app.tenant(AU_ORG), app.tenant(UK_ORG)], true).await;
    let arrived = app.get(&callback, Some(&browser)).await;
    assert_eq!(arrived.location(), "/admin/xero/tenant", "{}", arrived.body);
    // Every further call to Xero's API and /connections fails (the disconnect retries too).
    app.sandbox().xero.fail_next(FaultTarget::Api, 20, Fault::Status(503));
    let chosen = app.submit("/admin/xero/tenant", &browser, &[("tenant", app.tenant(AU_ORG).as_str())]).await;
    assert_eq!(chosen.status, StatusCode::OK, "{}", chosen.body);
    assert!(chosen.body.contains(&format!("Products will sync to <strong>{AU_ORG}</strong>")), "{}", chosen.body);
    assert!(chosen.body.contains("Xero did not confirm disconnecting"), "{}", chosen.body);
    assert!(chosen.body.contains(UK_ORG), "{}", chosen.body);
    let connection = app.server().store().xero_connection().await.expect("store").expect("connection");
    assert_eq!(connection.tenant_name, AU_ORG, "the choice itself is kept");
}

#[tokio::test]
async fn logging_out_ends_the_session() {
    let app = spawn(false).await;
    let browser = app.browser("sandbox").await;
    let page = app.submit("/admin/logout", &browser, &[]).await;
    assert_eq!((page.status, page.location()), (StatusCode::SEE_OTHER, "/admin/login"));
    let removal = page.session_cookie().expect("cookie removed");
    assert!(removal.contains("Max-Age=0") && removal.contains("Path=/admin"), "{removal}");
    // The old cookie, replayed, no longer opens anything.
    assert_eq!(app.get("/admin", Some(&browser)).await.location(), "/admin/login");
    let session_id = browser.cookie.trim_start_matches("xero_sync_admin=");
    assert!(app.server().store().admin_session(session_id).await.expect("store").is_none());
}

/// X1: a Xero grant without `accounting.settings` (here the admin set `XERO_SCOPES` to the read-only scope)
/// reads but cannot write. The sync says an admin must reconnect and why, the dashboard shows the reason,
/// and later syncs stop before calling Xero, having spent no refresh.
#[tokio::test]
async fn a_xero_grant_without_the_write_scope_is_marked_for_a_reconnect() {
    let app =
        spawn_with(|name| (name == "XERO_SCOPES").then(|| "offline_access accounting.settings.read".into())).await;
    let response = app.sync_as("Olivia", products::WIRELESS_MOUSE).await;
    assert_eq!(response.status(), StatusCode::SERVICE_UNAVAILABLE);
    let body: Value = response.json().await.expect("json");
    assert_eq!(body["error"]["code"], "reconnect_needed", "{body}");
    let message = body["error"]["message"].as_str().unwrap_or_default();
    assert!(message.contains("the grant lacks accounting.settings"), "{body}");
    let xero = &app.sandbox().xero;
    assert_eq!(xero.token_stats().refreshes, 0);
    let connection = app.server().store().xero_connection().await.expect("store").expect("connection");
    assert_eq!(connection.status, ConnectionStatus::ReconnectNeeded);

    let browser = app.browser("sandbox").await;
    let dashboard = app.get("/admin", Some(&browser)).await;
    let shown = "<span class=\"warn\">reconnect needed</span>: the grant lacks accounting.settings";
    assert!(dashboard.body.contains(shown), "{}", dashboard.body);

    let calls = xero.calls().len();
    let again = app.sync_as("Olivia", products::WIRELESS_MOUSE).await;
    assert_eq!(again.status(), StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(xero.calls().len(), calls, "no call to Xero until an admin reconnects");
    assert!(xero.items(&app.tenant(AU_ORG)).is_empty());
}

/// Point 8 / X4: Xero's daily limit is a setting (`XERO_DAILY_CALL_LIMIT`, 1,000 by default, the Starter
/// tier) that the client never goes past: here 8 calls, while the simulator would allow 1,000. The call
/// with no room left is refused before it reaches Xero, with when the day resets, and the dashboard shows
/// the calls left of the limit.
#[tokio::test]
async fn the_daily_call_limit_is_never_overspent_and_the_dashboard_shows_whats_left() {
    let app = spawn_with(|name| (name == "XERO_DAILY_CALL_LIMIT").then(|| "8".into())).await;
    let browser = app.browser("sandbox").await;
    let dashboard = app.get("/admin", Some(&browser)).await;
    assert!(dashboard.body.contains("Calls left today: up to 8 ("), "{}", dashboard.body);

    // Accounts, tax rates, items and the create: 4 calls; then each price change reads the
    // linked item (to see edits made in Xero) and updates it: 2 calls.
    let xero = &app.sandbox().xero;
    let tenant = app.tenant(AU_ORG);
    let spent = || 1_000 - xero.limit_status(&tenant).day_remaining;
    assert_eq!(app.sync_as("Olivia", products::WIRELESS_MOUSE).await.status(), StatusCode::OK);
    assert_eq!(spent(), 4);
    for price in [31.5, 32.5] {
        app.sandbox().zoho.edit_product(products::WIRELESS_MOUSE, json!({"Unit_Price": price})).expect("edit");
        assert_eq!(app.sync_as("Olivia", products::WIRELESS_MOUSE).await.status(), StatusCode::OK);
    }
    assert_eq!(spent(), 8);

    // No call left: the next update is refused before it reaches Xero, with when the day resets.
    app.sandbox().zoho.edit_product(products::WIRELESS_MOUSE, json!({"Unit_Price": 33.5})).expect("edit");
    let calls = xero.calls().len();
    let refused = app.sync_as("Olivia", products::WIRELESS_MOUSE).await;
    assert_eq!(refused.status(), StatusCode::TOO_MANY_REQUESTS);
    let retry_after: u64 = refused.headers()["retry-after"].to_str().expect("header").parse().expect("seconds");
    assert!((86_000..=86_400).contains(&retry_after), "{retry_after}");
    let body: Value = refused.json().await.expect("json");
    assert_eq!(body["error"]["code"], "rate_limited", "{body}");
    let message = body["error"]["message"].as_str().unwrap_or_default();
    assert!(message.contains("Xero's daily call limit is reached; try again in about 24 hours"), "{body}");
    assert_eq!(spent(), 8, "never past the setting");
    assert_eq!(xero.calls().len(), calls, "the refused sync did not reach Xero");
    assert_eq!(xero.items(&tenant)[0].sales.unit_price, Some(32.5));

    let dashboard = app.get("/admin", Some(&browser)).await;
    assert!(dashboard.body.contains("Calls left today: 0 of 8 (the day resets at "), "{}", dashboard.body);
}

/// Issue 14: the defaults page pre-fills the tax mapping from the CRM's taxes and Xero's rates; a change
/// is checked against the live lists with a message on the field (nothing stored), and a good one is
/// stored and audited: who, when, old → new. Saving the same again changes nothing and audits nothing.
#[tokio::test]
async fn the_organisations_defaults_are_prefilled_validated_stored_and_audited() {
    let app = spawn(false).await;
    let page = app.get("/admin/settings", None).await;
    assert_eq!((page.status, page.location()), (StatusCode::SEE_OTHER, "/admin/login"), "behind the login");
    let browser = app.browser(demo::DEMO_PASSWORD).await;
    let page = app.get("/admin/settings", Some(&browser)).await;
    assert_eq!(page.status, StatusCode::OK, "{}", page.body);
    assert!(
        page.body.contains(r#"<a href="/admin/settings" aria-current="page">Settings</a>"#),
        "in the navigation, marked as the current page"
    );
    // The CRM's two taxes, each with the rate the matching proposes, marked as proposed.
    assert_eq!(input_value(&page.body, "crm_tax_0").as_deref(), Some("GST - 10.0 %"));
    assert_eq!(input_value(&page.body, "crm_tax_1").as_deref(), Some("GST Free - 0.0 %"));
    assert!(page.body.contains(r#"<option value="OUTPUT" selected>GST on Income (OUTPUT)</option>"#), "{}", page.body);
    assert!(page.body.contains(r#"<option value="EXEMPTOUTPUT" selected>GST Free Income (EXEMPTOUTPUT)</option>"#));
    assert_eq!(page.body.matches("proposed: saving confirms it").count(), 2);
    assert!(page.body.contains(r#"<option value="Sales (200)">"#), "revenue accounts offered");
    assert!(!page.body.contains(r#"<option value="Accounts Receivable (610)">"#), "never a system account");
    assert!(page.body.contains("No setting has been changed yet."));

    // Without the CSRF token: refused.
    let forged = app.post("/admin/settings", Some(&browser), &[("gl_account", "200")]).await;
    assert_eq!(forged.status, StatusCode::FORBIDDEN);

    let store = app.server().store();
    let mapping = [("crm_tax_0", "GST - 10.0 %"), ("tax_type_0", "OUTPUT"), ("crm_tax_1", "GST Free - 0.0 %")];
    let mut refused = vec![("gl_account", "Accounts Receivable")];
    refused.extend_from_slice(&mapping);
    refused.push(("tax_type_1", "INPUT"));
    let page = app.submit("/admin/settings", &browser, &refused).await;
    assert_eq!(page.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", page.body);
    assert!(page.body.contains("Nothing was saved"), "{}", page.body);
    assert!(page.body.contains("Xero's accounts receivable control account"), "{}", page.body);
    assert!(page.body.contains("“GST on Expenses” cannot be used on sales"), "{}", page.body);
    assert_eq!(input_value(&page.body, "gl_account").as_deref(), Some("Accounts Receivable"), "what was typed stays");
    assert!(page.body.contains(r#"id="gl_account" name="gl_account""#));
    assert_eq!(store.org_defaults().await.expect("store"), shared::OrgDefaults::NONE, "nothing stored");
    assert!(store.org_settings_audit(10).await.expect("audit").is_empty(), "nothing audited");

    let mut good = vec![("gl_account", "Sales (200)")];
    good.extend_from_slice(&mapping);
    good.push(("tax_type_1", "EXEMPTOUTPUT"));
    let page = app.submit("/admin/settings", &browser, &good).await;
    assert_eq!((page.status, page.location()), (StatusCode::SEE_OTHER, "/admin/settings?saved=2"), "{}", page.body);
    let defaults = store.org_defaults().await.expect("store");
    assert_eq!(defaults.gl_account.as_deref(), Some("200"));
    let taxes: Vec<(&str, &str)> = defaults.taxes.iter().map(|m| (m.crm_tax.as_str(), m.tax_type.as_str())).collect();
    assert_eq!(taxes, [("GST - 10.0 %", "OUTPUT"), ("GST Free - 0.0 %", "EXEMPTOUTPUT")]);
    let audit = store.org_settings_audit(10).await.expect("audit");
    let keys: Vec<&str> = audit.iter().map(|c| c.key.as_str()).collect();
    assert_eq!(keys, ["tax_mapping", "default_gl_account"], "newest first");
    assert_eq!((audit[1].old.clone(), audit[1].new.clone()), (None, json!("200")));
    assert!(audit.iter().all(|c| c.by.starts_with("admin (session ")), "{audit:?}");

    let page = app.get("/admin/settings?saved=2", Some(&browser)).await;
    assert!(page.body.contains("Saved: 2 settings changed"), "{}", page.body);
    assert!(page.body.contains("<td>Default GL account</td><td>(none)</td><td>Sales (200)</td>"), "{}", page.body);
    assert!(page.body.contains("GST - 10.0 % → OUTPUT; GST Free - 0.0 % → EXEMPTOUTPUT"), "{}", page.body);
    assert_eq!(page.body.matches("proposed: saving confirms it").count(), 0, "confirmed");
    assert_eq!(input_value(&page.body, "gl_account").as_deref(), Some("Sales (200)"));

    // The same again: nothing changes, nothing is audited. Then removing the default is audited as such.
    let page = app.submit("/admin/settings", &browser, &good).await;
    assert_eq!(page.location(), "/admin/settings?saved=0");
    assert_eq!(store.org_settings_audit(10).await.expect("audit").len(), 2);
    good[0] = ("gl_account", "");
    let page = app.submit("/admin/settings", &browser, &good).await;
    assert_eq!(page.location(), "/admin/settings?saved=1");
    let audit = store.org_settings_audit(10).await.expect("audit");
    assert_eq!(
        (audit[0].key.as_str(), &audit[0].old, &audit[0].new),
        ("default_gl_account", &Some(json!("200")), &json!(null))
    );
}

/// Issue 13: the sync log's retention is a setting. A bad value comes back on its field (nothing stored);
/// a good one is stored, audited, and the retention's next pass (run at once after a change) uses it:
/// rows older than the new value go, younger ones stay, though both are within the service's default.
#[tokio::test]
async fn the_log_retention_is_a_setting_checked_audited_and_used_by_the_next_pass() {
    let app = spawn_with(|name| (name == "XERO_SYNC_LOG_RETENTION_DAYS").then(|| "30".into())).await;
    let store = app.server().store();
    for product in ["twenty_days_old", "five_days_old"] {
        let run = store.begin_sync(product, None, "ann", backend::store::SyncTrigger::Widget).await.expect("begin");
        store.finish_sync(&run, backend::store::SyncOutcome::Failed, None, None, None, &[]).await.expect("finish");
    }
    let url = format!("sqlite://{}/test.db", app._dir.0.display());
    let pool = sqlx::SqlitePool::connect(&url).await.expect("pool");
    for (product, days) in [("twenty_days_old", 20_i64), ("five_days_old", 5)] {
        sqlx::query("UPDATE sync_log SET started_at = started_at - ? WHERE product_id = ?")
            .bind(days * 24 * 60 * 60 * 1000)
            .bind(product)
            .execute(&pool)
            .await
            .expect("age");
    }
    pool.close().await;

    let browser = app.browser(demo::DEMO_PASSWORD).await;
    let page = app.get("/admin/settings", Some(&browser)).await;
    assert!(
        page.body.contains(r#"name="log_retention_days" min="1" max="36500" value="" placeholder="30""#),
        "empty: the service's 30 days; {}",
        page.body
    );
    for bad in ["0", "36501", "-3", "ten", "1.5"] {
        let refused = app.submit("/admin/settings/log", &browser, &[("log_retention_days", bad)]).await;
        assert_eq!(refused.status, StatusCode::UNPROCESSABLE_ENTITY, "{bad}");
        assert!(
            refused.body.contains(
                r#"<span class="warn" id="log_retention_days-error">Give a whole number of days from 1 to 36500"#
            ),
            "{bad}: {}",
            refused.body
        );
        assert!(refused.body.contains(&format!(r#"value="{bad}""#)), "what was typed is kept");
    }
    assert!(store.org_settings_audit(10).await.expect("audit").is_empty(), "nothing audited");
    assert_eq!(store.history("twenty_days_old", 1).await.expect("history").len(), 1, "within the default 30 days");

    let saved = app.submit("/admin/settings/log", &browser, &[("log_retention_days", " 10 ")]).await;
    assert_eq!((saved.status, saved.location()), (StatusCode::SEE_OTHER, "/admin/settings?saved=1"), "{}", saved.body);
    let audit = store.org_settings_audit(10).await.expect("audit");
    assert_eq!((audit[0].key.as_str(), &audit[0].old, &audit[0].new), ("log_retention_days", &None, &json!(10)));
    assert!(audit[0].by.starts_with("admin (session "), "{audit:?}");
    let page = app.get("/admin/settings", Some(&browser)).await;
    assert!(page.body.contains(r#"name="log_retention_days" min="1" max="36500" value="10""#), "{}", page.body);
    assert!(
        page.body.contains("<td>Days the sync log keeps a finished row</td><td>(none)</td><td>10 days</td>"),
        "{}",
        page.body
    );

    let deadline = Instant::now() + Duration::from_secs(10);
    while !store.history("twenty_days_old", 1).await.expect("history").is_empty() {
        assert!(Instant::now() < deadline, "the 20-day-old row outlived the 10 days set");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert_eq!(store.history("five_days_old", 1).await.expect("history").len(), 1, "a row within 10 days stays");
}

/// Issue 13: the CRM field API names are settings. Each is checked against the CRM's Products fields with
/// a message on its field (unknown, wrong type, two roles on one field: nothing stored); a good change is
/// stored, audited and in force without a restart: the next sync writes the ItemID to the new field, and
/// the widget's options name it.
#[tokio::test]
async fn the_crm_field_names_are_settings_checked_against_the_crm_and_used_by_the_next_sync() {
    let dir = TempDir::new("admin");
    let mut tuning = Tuning::default();
    tuning.sandbox.zoho.fields.more_text = vec!["Xero_Item_Ref".into()];
    let demo = start_in(&dir, |_| None, tuning).await;
    let app = TestApp { service: Service::Demo(demo), http: browser_client(), _dir: dir };
    let store = app.server().store();
    let browser = app.browser(demo::DEMO_PASSWORD).await;
    let page = app.get("/admin/settings", Some(&browser)).await;
    assert!(
        page.body.contains(r#"name="field_item_id" value="" placeholder="Xero_Item_ID""#),
        "empty: the variable's name; {}",
        page.body
    );

    let refusals = [
        ("field_item_id", "No_Such_Field", "The CRM's Products module has no field with the API name “No_Such_Field”."),
        ("field_item_id", "Product_Active", "“Product_Active” is a boolean field; Xero Item ID needs a text field."),
        ("field_sync_status", "Xero_Item_ID", "“Xero_Item_ID” is already the field of Xero Item ID"),
        ("field_gl_account", "GL account", "“GL account” is not a Zoho API name"),
    ];
    for (field, bad, message) in refusals {
        let refused = app.submit("/admin/settings/fields", &browser, &[(field, bad)]).await;
        assert_eq!(refused.status, StatusCode::UNPROCESSABLE_ENTITY, "{bad}: {}", refused.body);
        let shown = format!(r#"<span class="warn" id="{field}-error">{message}"#);
        assert!(refused.body.contains(&shown), "{bad}: {shown} in {}", refused.body);
        assert!(refused.body.contains(&format!(r#"name="{field}" value="{bad}""#)), "what was typed is kept");
    }
    assert!(store.org_settings_audit(10).await.expect("audit").is_empty(), "nothing stored");

    let saved = app.submit("/admin/settings/fields", &browser, &[("field_item_id", " Xero_Item_Ref ")]).await;
    assert_eq!((saved.status, saved.location()), (StatusCode::SEE_OTHER, "/admin/settings?saved=1"), "{}", saved.body);
    let audit = store.org_settings_audit(10).await.expect("audit");
    assert_eq!(
        (audit[0].key.as_str(), &audit[0].old, &audit[0].new),
        ("crm_field_names", &None, &json!({"item_id": "Xero_Item_Ref"}))
    );
    assert!(audit[0].by.starts_with("admin (session "), "{audit:?}");
    let page = app.get("/admin/settings", Some(&browser)).await;
    assert!(page.body.contains(r#"name="field_item_id" value="Xero_Item_Ref""#), "{}", page.body);
    assert!(page.body.contains("<td>CRM field API names</td><td>(none)</td><td>Xero Item ID: Xero_Item_Ref</td>"));

    // The next sync writes the ItemID to the new field, and leaves the old one alone.
    let synced = app.sync_as("Olivia", products::WIRELESS_MOUSE).await;
    assert_eq!(synced.status(), StatusCode::OK);
    let item_id = synced.json::<Value>().await.expect("json")["item_id"].as_str().expect("item id").to_owned();
    let record = app.sandbox().zoho.product(products::WIRELESS_MOUSE).expect("record");
    assert_eq!(record["Xero_Item_Ref"], json!(item_id), "{record}");
    assert!(record.get("Xero_Item_ID").is_none_or(Value::is_null), "{record}");
    // The widget's options name it.
    let key = app.demo().api_key.expose_secret().to_owned();
    let (_, session) = app.open_session(&key, "Olivia").await;
    let token = session["token"].as_str().expect("token");
    let options = app.http.get(app.url("/api/xero/options")).bearer_auth(token).send().await.expect("options");
    let options: Value = options.json().await.expect("json");
    assert_eq!(options["fields"]["item_id"], "Xero_Item_Ref", "{options}");
    assert_eq!(options["fields"]["sync_status"], "Xero_Sync_Status", "the others keep their defaults");
    // The dashboard's check names it too.
    let dashboard = app.get("/admin", Some(&browser)).await;
    assert!(dashboard.body.contains("Xero Item ID: <code>Xero_Item_Ref</code>"), "{}", dashboard.body);
    // And a bulk run writes there.
    let runs = app.server().runs();
    let request = backend::runs::RunRequest {
        trigger: backend::runs::RunTrigger::Admin,
        actor: "admin".into(),
        window: backend::runs::RunWindow::All,
        dry_run: false,
    };
    let run = runs.start(request).await.expect("run starts");
    let deadline = Instant::now() + Duration::from_secs(60);
    while runs.run(run.id).await.expect("store").expect("run").state.is_active() {
        assert!(Instant::now() < deadline, "the run did not end");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let record = app.sandbox().zoho.product(products::MECHANICAL_KEYBOARD).expect("record");
    let item_id = record["Xero_Item_Ref"].as_str().unwrap_or_else(|| panic!("no ItemID in the new field: {record}"));
    assert!(!item_id.is_empty());
    assert!(record.get("Xero_Item_ID").is_none_or(Value::is_null), "{record}");
}
