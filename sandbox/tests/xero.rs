//! The Xero simulator driven over HTTP, as the backend will drive it. Every Accounting request body sent
//! and response body received goes through the published contract (`contracts` crate): requests strictly,
//! responses tolerantly. Deliberately off-contract requests are asserted to be off-contract.

use std::net::SocketAddr;
use std::time::Duration;

use contracts::{Contract, Mode};
use reqwest::header::HeaderMap;
use reqwest::{Method, StatusCode};
use sandbox::Clock;
use sandbox::xero::{
    AU_ORG, AuthorizeRequest, Behaviour, Fault, FaultTarget, InvalidAccount, ItemEdit, Lifetimes, MissingScope,
    PkceWithSecret, ProblemNames, RateLimits, RateProblem, ServerErrors, StaleItemId, UK_ORG, XeroConfig, XeroSim,
};
use serde_json::{Value, json};

const CLIENT_ID: &str = "sandbox-xero-client";
const SECRET: &str = "sandbox-xero-secret";
const REDIRECT: &str = "http://127.0.0.1:9/callback";
const SCOPE: &str = "offline_access accounting.settings";

async fn start(scale: f64, config: XeroConfig) -> XeroSim {
    let addr = SocketAddr::from(([127, 0, 0, 1], 0));
    XeroSim::start(addr, Clock::new(scale), config).await.expect("xero simulator starts")
}

fn http() -> reqwest::Client {
    reqwest::Client::builder().redirect(reqwest::redirect::Policy::none()).build().expect("client")
}

fn consent(state: &str) -> AuthorizeRequest {
    AuthorizeRequest {
        response_type: "code".into(),
        client_id: CLIENT_ID.into(),
        redirect_uri: REDIRECT.into(),
        scope: SCOPE.into(),
        state: Some(state.into()),
        ..AuthorizeRequest::default()
    }
}

/// A token response, checked against the identity contract's `AccessToken`.
async fn token_call(sim: &XeroSim, form: &[(&str, &str)]) -> (StatusCode, Value) {
    let response = http()
        .post(sim.token_url())
        .basic_auth(CLIENT_ID, Some(SECRET))
        .form(form)
        .send()
        .await
        .expect("token endpoint answers");
    let status = response.status();
    let body: Value = response.json().await.expect("token endpoint returns JSON");
    if status == StatusCode::OK {
        Contract::xero_identity().check_schema("AccessToken", Mode::Tolerant, &body).expect("AccessToken shape");
        assert_eq!(body["token_type"], "Bearer");
    }
    (status, body)
}

async fn exchange(sim: &XeroSim, code: &str) -> Value {
    let (status, body) =
        token_call(sim, &[("grant_type", "authorization_code"), ("code", code), ("redirect_uri", REDIRECT)]).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    body
}

async fn refresh(sim: &XeroSim, refresh_token: &str) -> (StatusCode, Value) {
    token_call(sim, &[("grant_type", "refresh_token"), ("refresh_token", refresh_token)]).await
}

/// Consent (without the browser) and code exchange: the access token.
async fn login(sim: &XeroSim) -> Value {
    let code = sim.approve(&consent("s")).expect("consent");
    exchange(sim, &code).await
}

struct Reply {
    status: StatusCode,
    headers: HeaderMap,
    body: Value,
}

impl Reply {
    fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }

    fn messages(&self, element: usize) -> Vec<String> {
        let list = if self.body["Elements"].is_array() { &self.body["Elements"] } else { &self.body["Items"] };
        list[element]["ValidationErrors"]
            .as_array()
            .map(|errors| errors.iter().filter_map(|e| e["Message"].as_str().map(str::to_string)).collect())
            .unwrap_or_default()
    }
}

/// Accounting API client whose every call is checked against `xero_accounting.yaml`.
struct Api {
    http: reqwest::Client,
    base: String,
    token: String,
    tenant: Option<String>,
}

impl Api {
    fn new(sim: &XeroSim, token: &Value, tenant: Option<String>) -> Api {
        let token = token["access_token"].as_str().expect("access token").to_string();
        Api { http: http(), base: sim.api_url(), token, tenant }
    }

    fn for_tenant(&self, tenant: Option<String>) -> Api {
        Api { http: self.http.clone(), base: self.base.clone(), token: self.token.clone(), tenant }
    }

    /// A call whose body (if any) must satisfy the contract.
    async fn call(&self, method: Method, path: &str, body: Option<Value>, headers: &[(&str, &str)]) -> Reply {
        if let Some(body) = &body {
            Contract::xero_accounting()
                .check_request(method.as_str(), path, body)
                .expect("request leaves the contract");
        }
        let bytes = body.map(|b| b.to_string().into_bytes());
        self.send(method, path, bytes, headers).await.expect("transport")
    }

    /// A deliberately off-contract request body: asserts the contract rejects it, then sends it anyway.
    async fn call_off_contract(&self, method: Method, path: &str, raw: &str) -> Reply {
        let parsed = serde_json::from_str::<Value>(raw).unwrap_or(Value::String(raw.into()));
        assert!(
            Contract::xero_accounting().check_request(method.as_str(), path, &parsed).is_err(),
            "{raw} was meant to be off-contract"
        );
        self.send(method, path, Some(raw.as_bytes().to_vec()), &[]).await.expect("transport")
    }

    async fn get(&self, path: &str) -> Reply {
        self.call(Method::GET, path, None, &[]).await
    }

    async fn send(
        &self,
        method: Method,
        path: &str,
        body: Option<Vec<u8>>,
        headers: &[(&str, &str)],
    ) -> reqwest::Result<Reply> {
        let mut request = self
            .http
            .request(method.clone(), format!("{}{path}", self.base))
            .bearer_auth(&self.token)
            .header("Accept", "application/json");
        if let Some(tenant) = &self.tenant {
            request = request.header("xero-tenant-id", tenant);
        }
        for (name, value) in headers {
            request = request.header(*name, *value);
        }
        if let Some(body) = body {
            request = request.header("Content-Type", "application/json").body(body);
        }
        let response = request.send().await?;
        let status = response.status();
        let headers = response.headers().clone();
        let text = response.text().await?;
        let body = if text.is_empty() { Value::Null } else { serde_json::from_str(&text).expect("JSON response") };
        check_response(&method, path, status, &body);
        Ok(Reply { status, headers, body })
    }
}

/// Declared statuses are checked against the operation. The spec does not model the gateway's
/// problem-details answers (401, 403, 404, 429, 5xx, idempotency misuse), which must have Xero's problem
/// shape, nor the 400 of a GET with a bad `where`, which must match the spec's `Error` schema.
fn check_response(method: &Method, path: &str, status: StatusCode, body: &Value) {
    let xero = Contract::xero_accounting();
    let is_problem = body.get("Title").is_some() && body.get("Status").is_some();
    if is_problem {
        contracts::check_xero_problem(status.as_u16(), body)
            .unwrap_or_else(|v| panic!("{method} {path} → {status} is not Xero's problem shape:\n{v}\n{body}"));
        return;
    }
    let checked = match xero.check_response(method.as_str(), path, status.as_u16(), body) {
        Err(v) if status == StatusCode::BAD_REQUEST && v.to_string().contains("does not declare status") => {
            xero.check_schema("Error", Mode::Tolerant, body)
        }
        other => other,
    };
    checked.unwrap_or_else(|v| panic!("{method} {path} → {status} leaves the contract:\n{v}\n{body}"));
}

fn items(list: Value) -> Value {
    json!({ "Items": list })
}

async fn connected(sim: &XeroSim) -> (Api, String) {
    let token = login(sim).await;
    let au = sim.tenant_id(AU_ORG).expect("AU org");
    (Api::new(sim, &token, Some(au.clone())), au)
}

#[tokio::test]
async fn consent_page_code_exchange_pkce_and_connections() {
    let sim = start(1.0, XeroConfig::default()).await;
    let client = http();
    // The HTML consent page, driven like a browser.
    let page = client
        .get(sim.login_url())
        .query(&[
            ("response_type", "code"),
            ("client_id", CLIENT_ID),
            ("redirect_uri", REDIRECT),
            ("scope", SCOPE),
            ("state", "xyz"),
            ("code_challenge", "Oo2DTvYboyGSUhk_0RqAzQX8nk0I7LYqYx1UM0Olnkg"),
            ("code_challenge_method", "S256"),
        ])
        .send()
        .await
        .expect("consent page");
    assert_eq!(page.status(), StatusCode::OK);
    let html = page.text().await.expect("html");
    assert!(html.contains("Allow access"));
    let uk = sim.tenant_id(UK_ORG).expect("UK org");
    assert!(html.contains(&uk));
    let decision = client
        .post(sim.login_url())
        .form(&[
            ("response_type", "code"),
            ("client_id", CLIENT_ID),
            ("redirect_uri", REDIRECT),
            ("scope", SCOPE),
            ("state", "xyz"),
            ("code_challenge", "Oo2DTvYboyGSUhk_0RqAzQX8nk0I7LYqYx1UM0Olnkg"),
            ("code_challenge_method", "S256"),
            ("tenant", uk.as_str()),
            ("decision", "allow"),
        ])
        .send()
        .await
        .expect("consent decision");
    assert_eq!(decision.status(), StatusCode::FOUND);
    let location = decision.headers()["location"].to_str().expect("location").to_string();
    assert!(location.starts_with(&format!("{REDIRECT}?code=")), "{location}");
    assert!(location.contains("&state=xyz"), "{location}");
    let code = location.split(['?', '&']).find_map(|p| p.strip_prefix("code=")).expect("code").to_string();

    // PKCE: a wrong verifier burns the code; codes are single-use.
    let wrong =
        [("grant_type", "authorization_code"), ("code", &code), ("redirect_uri", REDIRECT), ("code_verifier", "nope")];
    let (status, body) = token_call(&sim, &wrong).await;
    assert_eq!((status, body), (StatusCode::BAD_REQUEST, json!({"error": "invalid_grant"})));

    let code = sim
        .approve_tenants(
            &AuthorizeRequest {
                code_challenge: Some("Oo2DTvYboyGSUhk_0RqAzQX8nk0I7LYqYx1UM0Olnkg".into()),
                code_challenge_method: Some("S256".into()),
                ..consent("again")
            },
            std::slice::from_ref(&uk),
        )
        .expect("consent");
    let good = [
        ("grant_type", "authorization_code"),
        ("code", code.as_str()),
        ("redirect_uri", REDIRECT),
        ("code_verifier", "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gXFG8jGqI"),
    ];
    let (status, token) = token_call(&sim, &good).await;
    assert_eq!(status, StatusCode::OK, "{token}");
    assert_eq!(token["expires_in"], 1800);
    assert_eq!(token["scope"], SCOPE);
    assert!(token["refresh_token"].is_string());
    let (status, body) = token_call(&sim, &good).await;
    assert_eq!((status, body["error"].as_str()), (StatusCode::BAD_REQUEST, Some("invalid_grant")), "code reuse");

    // Wrong client secret.
    let response = http()
        .post(sim.token_url())
        .form(&[
            ("grant_type", "refresh_token"),
            ("refresh_token", "x"),
            ("client_id", CLIENT_ID),
            ("client_secret", "bad"),
        ])
        .send()
        .await
        .expect("token endpoint");
    assert_eq!(response.status(), StatusCode::BAD_REQUEST);
    assert_eq!(response.json::<Value>().await.expect("json"), json!({"error": "invalid_client"}));

    // An unknown scope fails consent.
    assert!(sim.approve(&AuthorizeRequest { scope: "accounting.everything".into(), ..consent("s") }).is_err());

    // /connections lists the one tenant consented to, in the identity contract's shape.
    let access = token["access_token"].as_str().expect("access token");
    let response = client.get(sim.connections_url()).bearer_auth(access).send().await.expect("connections");
    assert_eq!(response.status(), StatusCode::OK);
    assert!(response.headers().contains_key("x-appminlimit-remaining"));
    assert!(!response.headers().contains_key("x-minlimit-remaining"), "tenant-less: only the app limit");
    let list: Value = response.json().await.expect("json");
    check_connections(&list);
    assert_eq!(list.as_array().map(Vec::len), Some(1));
    assert_eq!(list[0]["tenantId"], uk.as_str());
    assert_eq!(list[0]["tenantName"], UK_ORG);
    assert_eq!(list[0]["tenantType"], "ORGANISATION");
    let unauthorised = client.get(sim.connections_url()).bearer_auth("forged").send().await.expect("connections");
    assert_eq!(unauthorised.status(), StatusCode::UNAUTHORIZED);
}

/// `/connections` against the identity contract. Xero's real dates (`2019-12-07T18:46:19.5165400`, no
/// zone: the spec's own example) are not RFC 3339 `date-time`, so that format violation, which the spec's
/// example shares, is the only one allowed.
fn check_connections(list: &Value) {
    let identity = Contract::xero_identity();
    let only_dates = |v: contracts::Violations| v.0.iter().all(|m| m.contains("is not a \"date-time\""));
    let example = identity.document()["paths"]["/Connections"]["get"]["responses"]["200"]["content"]
        ["application/json"]["example"]
        .as_str()
        .and_then(|e| serde_json::from_str::<Value>(e).ok())
        .expect("the spec's example");
    let spec_own = identity.check_response("GET", "/Connections", 200, &example).expect_err("spec example dates");
    assert!(only_dates(spec_own));
    if let Err(v) = identity.check_response("GET", "/Connections", 200, list) {
        assert!(only_dates(v.clone()), "{v}");
    }
}

#[tokio::test]
async fn refresh_tokens_rotate_with_a_grace_period_then_invalid_grant() {
    // 1000×: the 30-minute grace lasts 1.8 s.
    let sim = start(1000.0, XeroConfig::default()).await;
    let first = login(&sim).await;
    let old = first["refresh_token"].as_str().expect("refresh token").to_string();

    let (status, second) = refresh(&sim, &old).await;
    assert_eq!(status, StatusCode::OK);
    let new = second["refresh_token"].as_str().expect("rotated").to_string();
    assert_ne!(new, old, "refresh tokens rotate on every use");

    // A retry with the old token within grace (e.g. the response was lost) gets a valid set again.
    let (status, retry) = refresh(&sim, &old).await;
    assert_eq!(status, StatusCode::OK, "{retry}");
    let api = Api::new(&sim, &retry, sim.tenant_id(AU_ORG));
    assert_eq!(api.get("/Items").await.status, StatusCode::OK);

    // A lost response: the rotation happened, the client never saw it; the old token still works.
    sim.drop_next_token_responses(1);
    let lost = http()
        .post(sim.token_url())
        .basic_auth(CLIENT_ID, Some(SECRET))
        .form(&[("grant_type", "refresh_token"), ("refresh_token", new.as_str())])
        .send()
        .await;
    assert!(lost.is_err(), "the token response must not arrive");
    let (status, recovered) = refresh(&sim, &new).await;
    assert_eq!(status, StatusCode::OK, "{recovered}");
    let latest = recovered["refresh_token"].as_str().expect("rotated").to_string();

    // After the grace period the rotated-out token is dead.
    tokio::time::sleep(Duration::from_millis(2500)).await;
    let (status, body) = refresh(&sim, &old).await;
    assert_eq!((status, body), (StatusCode::BAD_REQUEST, json!({"error": "invalid_grant"})));
    let (status, _) = refresh(&sim, &latest).await;
    assert_eq!(status, StatusCode::OK, "the newest token was never used, so it is still valid");

    let stats = sim.token_stats();
    assert_eq!(stats.refreshes, 5);
    assert_eq!(stats.refresh_failures, 1);
    assert_eq!(stats.access_tokens_issued, 6);
    assert!(sim.calls().iter().any(|c| c.path == "/connect/token" && c.dropped));
}

#[tokio::test]
async fn unused_refresh_tokens_expire() {
    let lifetimes = Lifetimes { refresh_token: Duration::from_secs(3600), ..Lifetimes::default() };
    let sim = start(1000.0, XeroConfig { lifetimes, ..XeroConfig::default() }).await;
    let token = login(&sim).await;
    tokio::time::sleep(Duration::from_millis(3700)).await;
    let (status, body) = refresh(&sim, token["refresh_token"].as_str().expect("refresh token")).await;
    assert_eq!((status, body), (StatusCode::BAD_REQUEST, json!({"error": "invalid_grant"})));
}

#[tokio::test]
async fn expired_and_unknown_access_tokens_get_401() {
    let sim = start(1000.0, XeroConfig::default()).await;
    let (api, _) = connected(&sim).await;
    assert_eq!(api.get("/Items").await.status, StatusCode::OK);
    tokio::time::sleep(Duration::from_millis(2000)).await; // 30 simulated minutes = 1.8 s
    let expired = api.get("/Items").await;
    assert_eq!(expired.status, StatusCode::UNAUTHORIZED);
    assert_eq!(expired.body["Title"], "Unauthorized");
    let detail = expired.body["Detail"].as_str().expect("detail");
    assert!(detail.starts_with("TokenExpired: token expired at "), "{detail}");
    assert!(expired.header("x-minlimit-remaining").is_none(), "refused before the rate limiter");

    let forged = Api { token: "forged".into(), ..api.for_tenant(api.tenant.clone()) };
    let unknown = forged.get("/Items").await;
    assert_eq!(unknown.status, StatusCode::UNAUTHORIZED);
}

#[tokio::test]
async fn missing_or_foreign_tenant_header_gets_403() {
    let sim = start(1.0, XeroConfig::default()).await;
    let au = sim.tenant_id(AU_ORG).expect("AU");
    let uk = sim.tenant_id(UK_ORG).expect("UK");
    let code = sim.approve_tenants(&consent("s"), std::slice::from_ref(&au)).expect("consent");
    let token = exchange(&sim, &code).await;
    let api = Api::new(&sim, &token, Some(au.clone()));
    assert_eq!(api.get("/Accounts").await.status, StatusCode::OK);

    for tenant in [None, Some(uuid_like()), Some(uk)] {
        let reply = api.for_tenant(tenant.clone()).get("/Items").await;
        assert_eq!(reply.status, StatusCode::FORBIDDEN, "tenant {tenant:?}");
        assert_eq!(reply.body["Detail"], "AuthenticationUnsuccessful");
        assert_eq!(reply.body["Title"], "Forbidden");
    }

    // Disconnecting (by connection id, not tenant id) also ends access; the token itself stays valid.
    let connection = sim.connections().into_iter().find(|c| c.tenant_id == au).expect("connection");
    let bearer = token["access_token"].as_str().expect("token");
    let deleted = http()
        .delete(format!("{}/{}", sim.connections_url(), connection.id))
        .bearer_auth(bearer)
        .send()
        .await
        .expect("delete");
    assert_eq!(deleted.status(), StatusCode::NO_CONTENT);
    assert_eq!(api.get("/Items").await.status, StatusCode::FORBIDDEN);
    let list: Value =
        http().get(sim.connections_url()).bearer_auth(bearer).send().await.expect("list").json().await.expect("json");
    assert_eq!(list, json!([]));
}

fn uuid_like() -> String {
    "5b4a9f1e-0000-4000-8000-000000000000".to_string()
}

#[tokio::test]
async fn post_upserts_by_code_case_insensitively_and_put_refuses_existing_codes() {
    let sim = start(1.0, XeroConfig::default()).await;
    let (api, au) = connected(&sim).await;
    let first = api
        .call(
            Method::POST,
            "/Items?summarizeErrors=false&unitdp=4",
            Some(items(json!([{
                "Code": "Widget-1", "Name": "Widget", "Description": "A widget",
                "SalesDetails": {"UnitPrice": 12.3456, "AccountCode": "200", "TaxType": "OUTPUT"}
            }]))),
            &[],
        )
        .await;
    assert_eq!(first.status, StatusCode::OK);
    let created = &first.body["Items"][0];
    assert_eq!(created["StatusAttributeString"], "OK");
    assert_eq!(created["SalesDetails"]["UnitPrice"], 12.3456);
    assert!(created["UpdatedDateUTC"].as_str().is_some_and(|d| d.starts_with("/Date(") && d.ends_with("+0000)/")));
    for key in ["Id", "Status", "ProviderName", "DateTimeUTC"] {
        assert!(first.body.get(key).is_some(), "envelope {key}");
    }
    let item_id = created["ItemID"].as_str().expect("ItemID").to_string();

    // The same code in another case updates the item instead of creating a second one.
    let second = api
        .call(
            Method::POST,
            "/Items?summarizeErrors=false",
            Some(items(json!([{"Code": "WIDGET-1", "SalesDetails": {"UnitPrice": 9.999}}]))),
            &[],
        )
        .await;
    assert_eq!(second.status, StatusCode::OK);
    assert_eq!(second.body["Items"][0]["ItemID"], item_id.as_str());
    assert_eq!(second.body["Items"][0]["SalesDetails"]["UnitPrice"], 10.0, "2 dp without unitdp=4");
    assert_eq!(second.body["Items"][0]["SalesDetails"]["AccountCode"], "200", "absent fields are kept");
    let stored = sim.items(&au);
    assert_eq!(stored.len(), 1);
    assert_eq!(stored[0].code, "WIDGET-1");

    // PUT creates only: an existing code in any case fails.
    let put = api.call(Method::PUT, "/Items", Some(items(json!([{"Code": "widget-1", "Name": "Dup"}]))), &[]).await;
    assert_eq!(put.status, StatusCode::BAD_REQUEST);
    assert_eq!(put.body["Type"], "ValidationException");
    assert_eq!(put.messages(0), ["Price List Item with Code 'widget-1' already exists"]);
    assert_eq!(sim.items(&au).len(), 1);

    // where: == is case-sensitive; ToLower() is Xero's workaround.
    let exact = api.get("/Items?where=Code%3D%3D%22widget-1%22").await;
    assert_eq!(exact.body["Items"].as_array().map(Vec::len), Some(0));
    let lowered = api.get("/Items?where=Code.ToLower()%3D%3D%22widget-1%22").await;
    assert_eq!(lowered.body["Items"][0]["ItemID"], item_id.as_str());
    let bad_where = api.get("/Items?where=Colour%3D%3D%22red%22").await;
    assert_eq!((bad_where.status, bad_where.body["ErrorNumber"].as_i64()), (StatusCode::BAD_REQUEST, Some(16)));

    // GET by ItemID and by Code; renaming the Code through POST /Items/{ItemID}.
    assert_eq!(api.get(&format!("/Items/{item_id}")).await.body["Items"][0]["Code"], "WIDGET-1");
    assert_eq!(api.get("/Items/widget-1").await.body["Items"][0]["ItemID"], item_id.as_str());
    let renamed =
        api.call(Method::POST, &format!("/Items/{item_id}"), Some(items(json!([{"Code": "W-2"}]))), &[]).await;
    assert_eq!(renamed.status, StatusCode::OK);
    assert_eq!(renamed.body["Items"][0]["Code"], "W-2");
    let no_code = api.call(Method::POST, &format!("/Items/{item_id}"), Some(items(json!([{"Code": ""}]))), &[]).await;
    assert_eq!(no_code.status, StatusCode::BAD_REQUEST);
    assert_eq!(no_code.messages(0), ["Price List Item Code must be supplied"]);

    // A Code with '/' cannot be looked up in the path (Xero's pitfall), and PUT then says it exists.
    api.call(Method::POST, "/Items", Some(items(json!([{"Code": "A/B"}]))), &[]).await;
    assert_eq!(api.get("/Items/A%2FB").await.status, StatusCode::NOT_FOUND);
    let put = api.call(Method::PUT, "/Items", Some(items(json!([{"Code": "A/B"}]))), &[]).await;
    assert_eq!(put.messages(0), ["Price List Item with Code 'A/B' already exists"]);

    // If-Modified-Since filters on UpdatedDateUTC.
    let future = api.call(Method::GET, "/Items", None, &[("If-Modified-Since", "2999-01-01T00:00:00")]).await;
    assert_eq!(future.body["Items"], json!([]));
    let past = api.call(Method::GET, "/Items", None, &[("If-Modified-Since", "2000-01-01T00:00:00Z")]).await;
    assert_eq!(past.body["Items"].as_array().map(Vec::len), Some(2));
}

#[tokio::test]
async fn summarize_errors_false_reports_each_element() {
    let sim = start(1.0, XeroConfig::default()).await;
    let (api, au) = connected(&sim).await;
    let reply = api
        .call(
            Method::POST,
            "/Items?summarizeErrors=false&unitdp=4",
            Some(items(json!([
                {"Code": "OK-1", "Name": "Fine", "SalesDetails": {"UnitPrice": 5, "AccountCode": "200", "TaxType": "OUTPUT"}},
                {"Code": "BAD-ACCOUNT", "SalesDetails": {"AccountCode": "999"}},
                {"Code": "BAD-TAX", "SalesDetails": {"AccountCode": "200", "TaxType": "INPUT"}},
                {"Code": "ARCHIVED", "SalesDetails": {"AccountCode": "210"}},
                {"Code": "ODD-TAX", "SalesDetails": {"AccountCode": "200", "TaxType": "GST on Income"}},
            ]))),
            &[],
        )
        .await;
    assert_eq!(reply.status, StatusCode::OK);
    let list = reply.body["Items"].as_array().expect("items");
    let statuses: Vec<&str> = list.iter().map(|i| i["StatusAttributeString"].as_str().unwrap_or_default()).collect();
    assert_eq!(statuses, ["OK", "ERROR", "ERROR", "ERROR", "OK"]);
    assert_eq!(reply.messages(1), ["Account code '999' is not a valid code for this document."]);
    assert_eq!(reply.messages(2), ["The TaxType code 'INPUT' cannot be used with account code '200'."]);
    assert_eq!(reply.messages(3), ["Account code '210' is not a valid code for this document."]);
    // X10: a failed element carries an ItemID, as in the spec's createItems example, but none was stored.
    let stored: Vec<String> = sim.items(&au).into_iter().map(|i| i.item_id).collect();
    assert!(list[0]["ItemID"].as_str().is_some_and(|id| stored.iter().any(|s| s == id)));
    for failed in &list[1..4] {
        let id = failed["ItemID"].as_str().expect("a failed element has an ItemID");
        assert!(!stored.iter().any(|s| s == id), "{failed}");
        assert!(failed["UpdatedDateUTC"].is_string() && failed["IsSold"] == true, "the would-be item: {failed}");
    }
    // An unknown TaxType is accepted silently and the item stored without tax, as Xero does.
    assert!(list[4]["SalesDetails"].get("TaxType").is_none(), "{}", list[4]);
    let codes: Vec<String> = sim.items(&au).into_iter().map(|i| i.code).collect();
    assert_eq!(codes, ["OK-1", "ODD-TAX"]);
}

#[tokio::test]
async fn summarized_errors_give_a_validation_exception_but_valid_elements_are_stored() {
    let sim = start(1.0, XeroConfig::default()).await;
    let (api, au) = connected(&sim).await;
    let body = items(json!([{"Code": "GOOD", "Name": "Good"}, {"Name": "No code"}]));
    let reply = api.call_off_contract(Method::PUT, "/Items", &body.to_string()).await;
    assert_eq!(reply.status, StatusCode::BAD_REQUEST);
    assert_eq!(reply.body["ErrorNumber"], 10);
    assert_eq!(reply.body["Type"], "ValidationException");
    assert_eq!(reply.body["Message"], "A validation exception occurred");
    assert_eq!(reply.body["Elements"].as_array().map(Vec::len), Some(1));
    assert_eq!(reply.body["Elements"][0]["Name"], "No code", "the failing element is echoed");
    assert_eq!(reply.messages(0), ["Price List Item Code must be supplied"]);
    assert_eq!(sim.items(&au).len(), 1, "the valid element was still created");

    let long_name = "N".repeat(51);
    let reply = api
        .call_off_contract(Method::POST, "/Items", &items(json!([{"Code": "LONG", "Name": long_name}])).to_string())
        .await;
    assert_eq!(reply.status, StatusCode::BAD_REQUEST);
    assert_eq!(reply.messages(0), ["The Name must be no more than 50 characters long."]);

    let wrong_root = api.call_off_contract(Method::POST, "/Items", r#"{"items":[{"Code":"X"}]}"#).await;
    assert_eq!((wrong_root.status, wrong_root.body["ErrorNumber"].as_i64()), (StatusCode::BAD_REQUEST, Some(17)));
    assert_eq!(wrong_root.body["Type"], "NoDataProcessedException");
    let garbage = api.call_off_contract(Method::POST, "/Items", r#"{"Items":[{"Code":"X"}"#).await;
    assert_eq!((garbage.status, garbage.body["ErrorNumber"].as_i64()), (StatusCode::BAD_REQUEST, Some(14)));
    assert_eq!(garbage.body["Type"], "PostDataInvalidException");
    assert_eq!(sim.items(&au).len(), 1);
}

#[tokio::test]
async fn idempotency_keys_replay_and_refuse_misuse() {
    // 100×: the 6-minute key lifetime is 3.6 s.
    let sim = start(100.0, XeroConfig::default()).await;
    let (api, au) = connected(&sim).await;
    let body = items(json!([{"Code": "IDEM-1", "Name": "Once"}]));
    let key = [("Idempotency-Key", "batch-1")];
    let first = api.call(Method::PUT, "/Items", Some(body.clone()), &key).await;
    assert_eq!(first.status, StatusCode::OK);
    let again = api.call(Method::PUT, "/Items", Some(body.clone()), &key).await;
    assert_eq!(again.status, StatusCode::OK);
    assert_eq!(again.body, first.body, "the first answer is replayed");
    assert_eq!(sim.items(&au).len(), 1);

    let other = items(json!([{"Code": "IDEM-2"}]));
    let misuse = api.call(Method::PUT, "/Items", Some(other), &key).await;
    assert_eq!(misuse.status, StatusCode::BAD_REQUEST);
    assert_eq!(misuse.body["Detail"], "Idempotency Key: batch-1 is used with a different request.");
    let other_method = api.call(Method::POST, "/Items", Some(body.clone()), &key).await;
    assert_eq!(other_method.status, StatusCode::BAD_REQUEST);

    let long = "k".repeat(129);
    let too_long = api.call(Method::PUT, "/Items", Some(body.clone()), &[("Idempotency-Key", &long)]).await;
    assert_eq!(too_long.status, StatusCode::BAD_REQUEST);

    // Error answers are cached too: still refused after the conflicting item is gone.
    let err_key = [("Idempotency-Key", "batch-2")];
    let refused = api.call(Method::PUT, "/Items", Some(body.clone()), &err_key).await;
    assert_eq!(refused.status, StatusCode::BAD_REQUEST);
    let item_id = first.body["Items"][0]["ItemID"].as_str().expect("ItemID");
    assert_eq!(api.call(Method::DELETE, &format!("/Items/{item_id}"), None, &[]).await.status, StatusCode::NO_CONTENT);
    let replayed = api.call(Method::PUT, "/Items", Some(body.clone()), &err_key).await;
    assert_eq!(replayed.status, StatusCode::BAD_REQUEST);
    assert_eq!(replayed.body["Elements"], refused.body["Elements"]);
    assert!(sim.items(&au).is_empty());

    // After the key's lifetime the same key is a new request.
    tokio::time::sleep(Duration::from_millis(4000)).await;
    let fresh = api.call(Method::PUT, "/Items", Some(body), &err_key).await;
    assert_eq!(fresh.status, StatusCode::OK);
    assert_eq!(sim.items(&au).len(), 1);
}

#[tokio::test]
async fn sixty_calls_a_minute_then_429_until_the_next_window() {
    // 10×: a minute lasts 6 s.
    let sim = start(10.0, XeroConfig::default()).await;
    let (api, _) = connected(&sim).await;
    for n in 1..=60 {
        let reply = api.get("/TaxRates").await;
        assert_eq!(reply.status, StatusCode::OK, "call {n}");
        assert_eq!(reply.header("x-minlimit-remaining"), Some((60 - n).to_string().as_str()));
        // Xero's Starter tier: 1,000 calls a day (X4).
        assert_eq!(reply.header("x-daylimit-remaining"), Some((1000 - n).to_string().as_str()));
        assert!(reply.header("x-appminlimit-remaining").is_some());
    }
    let limited = api.get("/TaxRates").await;
    assert_eq!(limited.status, StatusCode::TOO_MANY_REQUESTS);
    assert_eq!(limited.header("x-rate-limit-problem"), Some("minute"));
    assert_eq!(limited.header("x-minlimit-remaining"), Some("0"));
    let retry_after: u64 = limited.header("retry-after").and_then(|v| v.parse().ok()).expect("Retry-After");
    assert!((1..=60).contains(&retry_after), "{retry_after}");

    // Another tenant has its own window.
    let uk = sim.tenant_id(UK_ORG);
    assert_eq!(api.for_tenant(uk).get("/TaxRates").await.status, StatusCode::OK);

    tokio::time::sleep(Duration::from_secs_f64(retry_after as f64 / 10.0 + 0.3)).await;
    let recovered = api.get("/TaxRates").await;
    assert_eq!(recovered.status, StatusCode::OK);
    assert_eq!(recovered.header("x-minlimit-remaining"), Some("59"));
}

#[tokio::test]
async fn daily_limit_refuses_until_tomorrow() {
    let limits = RateLimits { per_day: 3, ..RateLimits::default() };
    let sim = start(1.0, XeroConfig { limits, ..XeroConfig::default() }).await;
    let (api, _) = connected(&sim).await;
    for _ in 0..3 {
        assert_eq!(api.get("/Accounts").await.status, StatusCode::OK);
    }
    let limited = api.get("/Accounts").await;
    assert_eq!(limited.status, StatusCode::TOO_MANY_REQUESTS);
    assert_eq!(limited.header("x-rate-limit-problem"), Some("day"));
    assert_eq!(limited.header("x-daylimit-remaining"), Some("0"));
    let retry_after: u64 = limited.header("retry-after").and_then(|v| v.parse().ok()).expect("Retry-After");
    assert!(retry_after > 86_000, "{retry_after}");
}

#[tokio::test]
async fn more_than_five_in_flight_get_429_concurrent() {
    let sim = start(1.0, XeroConfig::default()).await;
    let (api, _) = connected(&sim).await;
    sim.set_latency(Duration::from_millis(400));
    let calls = (0..7).map(|_| api.get("/Items"));
    let replies = futures_join(calls).await;
    let ok = replies.iter().filter(|r| r.status == StatusCode::OK).count();
    let limited: Vec<&Reply> = replies.iter().filter(|r| r.status == StatusCode::TOO_MANY_REQUESTS).collect();
    assert_eq!((ok, limited.len()), (5, 2));
    assert!(limited.iter().all(|r| r.header("x-rate-limit-problem") == Some("concurrent")));
    assert!(limited.iter().all(|r| r.header("retry-after").is_none()));
    sim.set_latency(Duration::ZERO);
    assert_eq!(api.get("/Items").await.status, StatusCode::OK, "slots are given back");
}

/// Runs the futures concurrently on this task (no extra dependency for `join_all`).
async fn futures_join<F: std::future::Future<Output = Reply>>(calls: impl Iterator<Item = F>) -> Vec<Reply> {
    let handles: Vec<_> = calls.map(Box::pin).collect();
    let mut results = Vec::new();
    let mut pending: Vec<_> = handles.into_iter().map(Some).collect();
    std::future::poll_fn(|cx| {
        let mut done = true;
        for slot in pending.iter_mut() {
            if let Some(fut) = slot {
                match fut.as_mut().poll(cx) {
                    std::task::Poll::Ready(reply) => {
                        results.push(reply);
                        *slot = None;
                    }
                    std::task::Poll::Pending => done = false,
                }
            }
        }
        if done { std::task::Poll::Ready(()) } else { std::task::Poll::Pending }
    })
    .await;
    results
}

#[tokio::test]
async fn injected_faults() {
    let sim = start(1.0, XeroConfig::default()).await;
    let (api, _) = connected(&sim).await;

    sim.fail_next(FaultTarget::Api, 1, Fault::Status(503));
    let unavailable = api.get("/Items").await;
    assert_eq!(unavailable.status, StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(api.get("/Items").await.status, StatusCode::OK, "only the next call");

    sim.force_rate_limit(2, RateProblem::Minute, Some(37));
    for _ in 0..2 {
        let burst = api.get("/Items").await;
        assert_eq!(burst.status, StatusCode::TOO_MANY_REQUESTS);
        assert_eq!(burst.header("retry-after"), Some("37"));
        assert_eq!(burst.header("x-rate-limit-problem"), Some("minute"));
        assert_eq!(burst.header("x-minlimit-remaining"), Some("0"));
    }
    assert_eq!(api.get("/Items").await.status, StatusCode::OK);

    sim.fail_next(FaultTarget::Api, 1, Fault::Drop);
    let dropped = api.send(Method::GET, "/Items", None, &[]).await;
    assert!(dropped.is_err_and(|e| e.is_request()), "the connection is cut before any response");

    sim.fail_next(FaultTarget::Api, 1, Fault::Hang);
    let impatient = Api {
        http: reqwest::Client::builder().timeout(Duration::from_millis(300)).build().expect("client"),
        ..api.for_tenant(api.tenant.clone())
    };
    let hung = impatient.send(Method::GET, "/Items", None, &[]).await;
    assert!(hung.is_err_and(|e| e.is_timeout()), "the client times out");

    sim.set_fault_rate(1.0, Fault::Status(500));
    assert_eq!(api.get("/Items").await.status, StatusCode::INTERNAL_SERVER_ERROR);
    sim.clear_faults();
    assert_eq!(api.get("/Items").await.status, StatusCode::OK);

    sim.fail_next(FaultTarget::Token, 1, Fault::Status(503));
    let (status, _) = token_call_raw(&sim).await;
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE);

    let statuses: Vec<u16> = sim.calls().iter().filter(|c| c.path.ends_with("/Items")).map(|c| c.status).collect();
    assert!(statuses.contains(&503) && statuses.contains(&429) && statuses.contains(&500), "{statuses:?}");
}

async fn token_call_raw(sim: &XeroSim) -> (StatusCode, String) {
    let response = http()
        .post(sim.token_url())
        .basic_auth(CLIENT_ID, Some(SECRET))
        .form(&[("grant_type", "refresh_token"), ("refresh_token", "whatever")])
        .send()
        .await
        .expect("token endpoint");
    (response.status(), response.text().await.unwrap_or_default())
}

#[tokio::test]
async fn seeded_tax_rates_and_accounts() {
    let sim = start(1.0, XeroConfig::default()).await;
    let (api, _) = connected(&sim).await;
    let active = api.get("/TaxRates?where=Status%3D%3D%22ACTIVE%22").await;
    let rates = active.body["TaxRates"].as_array().expect("rates");
    assert!(rates.iter().all(|r| r["Status"] == "ACTIVE"));
    let by_name = |name: &str| rates.iter().find(|r| r["Name"] == name).cloned();
    assert_eq!(by_name("GST on Income").expect("GST on Income")["TaxType"], "OUTPUT");
    assert_eq!(by_name("GST on Expenses").expect("GST on Expenses")["CanApplyToRevenue"], false);
    let all = api.get("/TaxRates").await;
    assert!(all.body["TaxRates"].as_array().expect("rates").iter().any(|r| r["Status"] == "DELETED"));

    let accounts = api.get("/Accounts").await;
    let list = accounts.body["Accounts"].as_array().expect("accounts");
    let sales = list.iter().find(|a| a["Name"] == "Sales").expect("Sales");
    assert_eq!(
        (&sales["Code"], &sales["Class"], &sales["Status"]),
        (&json!("200"), &json!("REVENUE"), &json!("ACTIVE"))
    );
    assert!(list.iter().any(|a| a["Status"] == "ARCHIVED" && a["Class"] == "REVENUE"));
    assert!(list.iter().any(|a| a.get("Code").is_none() && a["SystemAccount"].is_string()));

    let uk = api.for_tenant(sim.tenant_id(UK_ORG)).get("/TaxRates").await;
    let uk_rates = uk.body["TaxRates"].as_array().expect("rates");
    assert!(uk_rates.iter().any(|r| r["Name"] == "20% (VAT on Income)" && r["TaxType"] == "OUTPUT2"));
}

#[tokio::test]
async fn the_contract_check_catches_responses_that_leave_the_spec() {
    let sim = start(1.0, XeroConfig::default()).await;
    let (api, _) = connected(&sim).await;
    let reply = api.call(Method::PUT, "/Items", Some(items(json!([{"Code": "SPEC-1", "Name": "Spec"}]))), &[]).await;
    let xero = Contract::xero_accounting();
    xero.check_response("PUT", "/Items", 200, &reply.body).expect("the simulator's answer is in spec");

    let mut wrong_type = reply.body.clone();
    wrong_type["Items"][0]["IsSold"] = json!("yes");
    assert!(xero.check_response("PUT", "/Items", 200, &wrong_type).is_err());
    let mut too_long = reply.body.clone();
    too_long["Items"][0]["Code"] = json!("C".repeat(31));
    assert!(xero.check_response("PUT", "/Items", 200, &too_long).is_err());
    let mut bad_error = json!({"ErrorNumber": "ten", "Type": "ValidationException"});
    assert!(xero.check_response("PUT", "/Items", 400, &bad_error).is_err());
    bad_error["ErrorNumber"] = json!(10);
    assert!(xero.check_response("PUT", "/Items", 400, &bad_error).is_ok());
    assert!(xero.check_request("PUT", "/Items", &json!({"Items": [{"Code": "A", "Colour": "red"}]})).is_err());
}

#[tokio::test]
async fn read_only_scope_cannot_write_and_auth_event_filters_connections() {
    let sim = start(1.0, XeroConfig::default()).await;
    let au = sim.tenant_id(AU_ORG).expect("AU");
    let uk = sim.tenant_id(UK_ORG).expect("UK");
    let read_only = AuthorizeRequest { scope: "offline_access accounting.settings.read".into(), ..consent("s") };
    let code = sim.approve_tenants(&read_only, std::slice::from_ref(&au)).expect("consent");
    let token = exchange(&sim, &code).await;
    let api = Api::new(&sim, &token, Some(au.clone()));
    assert_eq!(api.get("/Items").await.status, StatusCode::OK);
    let write = api.call(Method::POST, "/Items", Some(items(json!([{"Code": "RO"}]))), &[]).await;
    assert_eq!(write.status, StatusCode::UNAUTHORIZED, "Xero's answer to a missing scope (fidelity-audit X1)");
    assert_eq!(write.body["Detail"], "AuthorizationUnsuccessful");

    // A second consent for the UK org: authEventId tells the two apart.
    let code = sim.approve_tenants(&consent("t"), std::slice::from_ref(&uk)).expect("consent");
    let second = exchange(&sim, &code).await;
    let bearer = second["access_token"].as_str().expect("token");
    let uk_event = sim.connections().into_iter().find(|c| c.tenant_id == uk).expect("UK connection").auth_event_id;
    let list: Value = http()
        .get(sim.connections_url())
        .query(&[("authEventId", uk_event.as_str())])
        .bearer_auth(bearer)
        .send()
        .await
        .expect("connections")
        .json()
        .await
        .expect("json");
    check_connections(&list);
    assert_eq!(list.as_array().map(Vec::len), Some(1));
    assert_eq!(list[0]["tenantId"], uk.as_str());
    // Tokens belong to the user, not the connection: the first token now reaches the UK org too.
    assert_eq!(api.for_tenant(Some(uk)).get("/Accounts").await.status, StatusCode::OK);

    // A demo-company reset gives the organisation a new tenant id: the old one gets 403.
    let new_au = sim.reset_demo_company(AU_ORG).expect("AU");
    assert_ne!(new_au, au);
    assert_eq!(api.get("/Items").await.status, StatusCode::FORBIDDEN);
}

// ---- fidelity-audit §4: the simulator fails the way Xero fails ----

/// A raw request (no contract check on the answer: used where the answer is deliberately not JSON).
async fn raw(api: &Api, method: Method, path: &str, headers: &[(&str, &str)], body: Option<&str>) -> reqwest::Response {
    let mut request = api.http.request(method, format!("{}{path}", api.base)).bearer_auth(&api.token);
    if let Some(tenant) = &api.tenant {
        request = request.header("xero-tenant-id", tenant);
    }
    for (name, value) in headers {
        request = request.header(*name, *value);
    }
    if let Some(body) = body {
        request = request.body(body.to_string());
    }
    request.send().await.expect("transport")
}

#[tokio::test]
async fn a_token_without_the_scope_gets_xeros_401() {
    // X1: Xero answers 401 AuthorizationUnsuccessful (the default); the pre-audit 403 can still be switched on.
    let sim = start(1.0, XeroConfig::default()).await;
    let au = sim.tenant_id(AU_ORG).expect("AU");
    let read_only = AuthorizeRequest { scope: "offline_access accounting.settings.read".into(), ..consent("s") };
    let code = sim.approve_tenants(&read_only, std::slice::from_ref(&au)).expect("consent");
    let api = Api::new(&sim, &exchange(&sim, &code).await, Some(au));
    assert_eq!(api.get("/Items").await.status, StatusCode::OK, "reading needs only the read scope");
    let write = api.call(Method::POST, "/Items", Some(items(json!([{"Code": "RO"}]))), &[]).await;
    assert_eq!(write.status, StatusCode::UNAUTHORIZED);
    assert_eq!(write.body["Title"], "Unauthorized");
    assert_eq!(write.body["Detail"], "AuthorizationUnsuccessful");
    assert!(write.header("x-minlimit-remaining").is_none(), "refused before the rate limiter");
    assert_eq!(api.get("/Items").await.status, StatusCode::OK, "the token itself stays valid");

    sim.set_behaviour(Behaviour { missing_scope: MissingScope::Forbidden, ..Behaviour::default() });
    let write = api.call(Method::POST, "/Items", Some(items(json!([{"Code": "RO"}]))), &[]).await;
    assert_eq!(
        (write.status, write.body["Detail"].as_str()),
        (StatusCode::FORBIDDEN, Some("AuthorizationUnsuccessful"))
    );
    assert_eq!(Behaviour::default(), Behaviour::as_xero(), "the default is Xero's documented behaviour");
}

#[tokio::test]
async fn an_internal_error_on_a_keyed_write_is_cached_under_its_key_as_xero_does() {
    // X2 (the default): "the error will be cached and returned when the request is re-run even if the
    // internal error is resolved"; a new key reaches the item rules again. 503 (the gateway) is not cached.
    let sim = start(1.0, XeroConfig::default()).await;
    let (api, au) = connected(&sim).await;
    let body = items(json!([{"Code": "X2-1", "Name": "Cached error"}]));
    sim.fail_next(FaultTarget::Api, 1, Fault::Status(500));
    let failed = api.call(Method::PUT, "/Items", Some(body.clone()), &[("Idempotency-Key", "x2-a")]).await;
    assert_eq!(failed.status, StatusCode::INTERNAL_SERVER_ERROR);
    assert_eq!(failed.body["Title"], "An error occurred", "as captured in XeroAPI/Xero-Java#246");
    let replayed = api.call(Method::PUT, "/Items", Some(body.clone()), &[("Idempotency-Key", "x2-a")]).await;
    assert_eq!(replayed.status, StatusCode::INTERNAL_SERVER_ERROR, "the fault is gone, the cached error is not");
    assert_eq!(replayed.body, failed.body, "the first answer, replayed");
    assert!(sim.items(&au).is_empty());
    let fresh = api.call(Method::PUT, "/Items", Some(body.clone()), &[("Idempotency-Key", "x2-b")]).await;
    assert_eq!(fresh.status, StatusCode::OK);
    assert_eq!(sim.items(&au).len(), 1);

    let other = items(json!([{"Code": "X2-2"}]));
    sim.fail_next(FaultTarget::Api, 1, Fault::Status(503));
    let unavailable = api.call(Method::PUT, "/Items", Some(other.clone()), &[("Idempotency-Key", "x2-c")]).await;
    assert_eq!(unavailable.status, StatusCode::SERVICE_UNAVAILABLE);
    let retried = api.call(Method::PUT, "/Items", Some(other), &[("Idempotency-Key", "x2-c")]).await;
    assert_eq!(retried.status, StatusCode::OK, "a gateway 503 is not cached (our reading; unverified)");

    // Without a key there is nothing to cache; a read is never keyed.
    sim.fail_next(FaultTarget::Api, 1, Fault::Status(500));
    assert_eq!(api.get("/Items").await.status, StatusCode::INTERNAL_SERVER_ERROR);
    assert_eq!(api.get("/Items").await.status, StatusCode::OK);

    // The pre-audit simulator forgot the error, so a same-key retry was processed.
    sim.set_behaviour(Behaviour { server_errors: ServerErrors::Forgotten, ..Behaviour::default() });
    let third = items(json!([{"Code": "X2-3"}]));
    sim.fail_next(FaultTarget::Api, 1, Fault::Status(500));
    let first = api.call(Method::PUT, "/Items", Some(third.clone()), &[("Idempotency-Key", "x2-d")]).await;
    assert_eq!(first.status, StatusCode::INTERNAL_SERVER_ERROR);
    let again = api.call(Method::PUT, "/Items", Some(third), &[("Idempotency-Key", "x2-d")]).await;
    assert_eq!(again.status, StatusCode::OK);
}

#[tokio::test]
async fn a_gateway_error_after_processing_leaves_the_write_done_and_its_key_replays_the_real_answer() {
    // A 504 after the API stored the item: the client sees a failure, yet the item exists; a same-key retry
    // gets the stored answer (the key remembered the API's answer, not the gateway's).
    let sim = start(1.0, XeroConfig::default()).await;
    let (api, au) = connected(&sim).await;
    let body = items(json!([{"Code": "GW-1", "Name": "Behind the gateway"}]));
    sim.fail_next(FaultTarget::Api, 1, Fault::ProcessedThen(504));
    let failed = api.call(Method::POST, "/Items", Some(body.clone()), &[("Idempotency-Key", "gw-1")]).await;
    assert_eq!(failed.status, StatusCode::GATEWAY_TIMEOUT);
    assert!(failed.header("x-minlimit-remaining").is_some(), "the call was counted");
    assert_eq!(sim.items(&au).len(), 1, "but the item was stored");
    let retry = api.call(Method::POST, "/Items", Some(body), &[("Idempotency-Key", "gw-1")]).await;
    assert_eq!(retry.status, StatusCode::OK);
    assert_eq!(retry.body["Items"][0]["ItemID"], sim.items(&au)[0].item_id.as_str());
    assert_eq!(sim.items(&au).len(), 1);
    let calls = sim.calls();
    let keys: Vec<Option<&str>> =
        calls.iter().filter(|c| c.path.ends_with("/Items")).map(|c| c.idempotency_key.as_deref()).collect();
    assert_eq!(keys, [Some("gw-1"), Some("gw-1")], "the call log keeps each request's key");
}

#[tokio::test]
async fn the_unverified_rate_limit_problem_names_can_be_spelt_each_way() {
    // X5: only `minute` and `day` are observed from Xero; the app-wide and in-flight names are unverified.
    let sim = start(1.0, XeroConfig::default()).await;
    let (api, _) = connected(&sim).await;
    let spellings = [
        (ProblemNames::Joined, "appminute", "concurrent"),
        (ProblemNames::Hyphenated, "app-minute", "concurrent"),
        (ProblemNames::Capitalised, "AppMinute", "Concurrent"),
    ];
    for (names, app, concurrent) in spellings {
        sim.set_behaviour(Behaviour { problem_names: names, ..Behaviour::default() });
        sim.force_rate_limit(1, RateProblem::AppMinute, Some(5));
        sim.force_rate_limit(1, RateProblem::Concurrent, None);
        sim.force_rate_limit(1, RateProblem::Minute, Some(5));
        let seen: Vec<Option<String>> = [api.get("/Items").await, api.get("/Items").await, api.get("/Items").await]
            .iter()
            .map(|r| r.header("x-rate-limit-problem").map(str::to_owned))
            .collect();
        let expected = [Some(app.to_owned()), Some(concurrent.to_owned()), Some("minute".to_owned())];
        assert_eq!(seen, expected, "{names:?}");
    }
    assert_eq!(Behaviour::default().problem_names, ProblemNames::Joined);
}

#[tokio::test]
async fn a_lost_response_was_processed_and_its_key_replays_it() {
    let sim = start(1.0, XeroConfig::default()).await;
    let (api, au) = connected(&sim).await;
    let body = items(json!([{"Code": "LOST-1", "Name": "Lost answer"}]));
    Contract::xero_accounting().check_request("PUT", "/Items", &body).expect("on contract");
    sim.fail_next(FaultTarget::Api, 1, Fault::LoseResponse);
    let bytes = Some(body.to_string().into_bytes());
    let lost = api.send(Method::PUT, "/Items", bytes, &[("Idempotency-Key", "lost-1")]).await;
    assert!(lost.is_err(), "the client never hears the answer");
    assert_eq!(sim.items(&au).len(), 1, "but the item was created");
    let retry = api.call(Method::PUT, "/Items", Some(body), &[("Idempotency-Key", "lost-1")]).await;
    assert_eq!(retry.status, StatusCode::OK);
    assert_eq!(retry.body["Items"][0]["ItemID"], sim.items(&au)[0].item_id.as_str());
    assert_eq!(sim.items(&au).len(), 1, "the key replays the answer: no duplicate");
    assert!(sim.calls().iter().any(|c| c.path.ends_with("/Items") && c.dropped));
}

#[tokio::test]
async fn an_item_deleted_in_xero_leaves_a_stale_item_id_answered_each_way() {
    // X6: what Xero does with a stale ItemID is unverified, so each reading can be switched on.
    let sim = start(1.0, XeroConfig::default()).await;
    let (api, au) = connected(&sim).await;
    let created = api
        .call(
            Method::PUT,
            "/Items?summarizeErrors=false",
            Some(items(json!([{"Code": "GONE-1", "Name": "Gone"}]))),
            &[],
        )
        .await;
    let stale = created.body["Items"][0]["ItemID"].as_str().expect("ItemID").to_string();
    assert!(sim.delete_item(&au, &stale), "deleted in Xero's web app");
    assert!(!sim.delete_item(&au, &stale));
    let write = items(json!([{"ItemID": stale, "Code": "GONE-1", "Name": "Gone, again"}]));

    let reply = api.call(Method::POST, "/Items?summarizeErrors=false", Some(write.clone()), &[]).await;
    assert_eq!(reply.status, StatusCode::OK);
    assert_eq!(reply.body["Items"][0]["StatusAttributeString"], "ERROR");
    assert_eq!(reply.messages(0), [format!("Item with ItemID '{stale}' could not be found.")]);
    assert_eq!(reply.body["Items"][0]["ItemID"], stale.as_str(), "the element echoes the ItemID it named");
    assert!(sim.items(&au).is_empty());

    sim.set_behaviour(Behaviour { stale_item_id: StaleItemId::NotFound, ..Behaviour::default() });
    let reply = api.call(Method::POST, "/Items?summarizeErrors=false", Some(write.clone()), &[]).await;
    assert_eq!(reply.status, StatusCode::NOT_FOUND);
    assert!(sim.items(&au).is_empty(), "nothing stored");

    sim.set_behaviour(Behaviour { stale_item_id: StaleItemId::Ignored, ..Behaviour::default() });
    let reply = api.call(Method::POST, "/Items?summarizeErrors=false", Some(write), &[]).await;
    assert_eq!(reply.body["Items"][0]["StatusAttributeString"], "OK");
    let new_id = reply.body["Items"][0]["ItemID"].as_str().expect("ItemID");
    assert_ne!(new_id, stale, "a new item, not the deleted one");
    assert_eq!(sim.items(&au).len(), 1);
}

#[tokio::test]
async fn an_invalid_account_code_can_be_answered_with_xeros_500() {
    // X3: one report shows PUT /Items answering 500 to an invalid AccountCode with summarizeErrors=false.
    let behaviour = Behaviour { invalid_account: InvalidAccount::ServerError, ..Behaviour::default() };
    let sim = start(1.0, XeroConfig { behaviour, ..XeroConfig::default() }).await;
    let (api, au) = connected(&sim).await;
    let body = items(json!([
        {"Code": "GOOD-ACC", "SalesDetails": {"AccountCode": "200"}},
        {"Code": "BAD-ACC", "SalesDetails": {"AccountCode": "999"}},
    ]));
    let reply = api.call(Method::PUT, "/Items?summarizeErrors=false", Some(body.clone()), &[]).await;
    assert_eq!(reply.status, StatusCode::INTERNAL_SERVER_ERROR);
    assert_eq!(reply.body["Title"], "An error occurred");
    assert!(sim.items(&au).is_empty(), "nothing stored");
    sim.archive_account(&au, "200");
    let archived = items(json!([{"Code": "ARCH-ACC", "SalesDetails": {"AccountCode": "200"}}]));
    let reply = api.call(Method::POST, "/Items?summarizeErrors=false", Some(archived), &[]).await;
    assert_eq!(reply.status, StatusCode::INTERNAL_SERVER_ERROR, "an archived account too");

    sim.set_behaviour(Behaviour::default());
    let reply = api.call(Method::PUT, "/Items?summarizeErrors=false", Some(body), &[]).await;
    assert_eq!(reply.status, StatusCode::OK, "by default a per-element error");
    assert_eq!(reply.messages(1), ["Account code '999' is not a valid code for this document."]);
}

#[tokio::test]
async fn pkce_from_a_client_that_also_sends_its_secret_can_be_refused() {
    // X8: unverified for Xero's Web apps; the switch lets a client's "PKCE off" setting be tested.
    let behaviour = Behaviour { pkce_with_secret: PkceWithSecret::Refused, ..Behaviour::default() };
    let sim = start(1.0, XeroConfig { behaviour, ..XeroConfig::default() }).await;
    let challenge = AuthorizeRequest {
        code_challenge: Some("Oo2DTvYboyGSUhk_0RqAzQX8nk0I7LYqYx1UM0Olnkg".into()),
        code_challenge_method: Some("S256".into()),
        ..consent("pkce")
    };
    let verifier = "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gXFG8jGqI";
    let code = sim.approve(&challenge).expect("consent");
    let form = [
        ("grant_type", "authorization_code"),
        ("code", &code),
        ("redirect_uri", REDIRECT),
        ("code_verifier", verifier),
    ];
    let (status, body) = token_call(&sim, &form).await;
    assert_eq!((status, body), (StatusCode::BAD_REQUEST, json!({"error": "invalid_request"})));
    let (status, _) = token_call(&sim, &form).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "the code was spent");

    // Without a challenge the confidential client connects; a public client may still use PKCE.
    let plain = sim.approve(&consent("plain")).expect("consent");
    assert_eq!(exchange(&sim, &plain).await["token_type"], "Bearer");
    let code = sim.approve(&challenge).expect("consent");
    let response = http()
        .post(sim.token_url())
        .form(&[
            ("grant_type", "authorization_code"),
            ("code", &code),
            ("redirect_uri", REDIRECT),
            ("code_verifier", verifier),
            ("client_id", CLIENT_ID),
        ])
        .send()
        .await
        .expect("token endpoint");
    assert_eq!(response.status(), StatusCode::OK);
}

#[tokio::test]
async fn answers_are_json_only_when_asked_for_and_bodies_must_be_declared_json() {
    // X9: Xero answers XML without `Accept: application/json`.
    let sim = start(1.0, XeroConfig::default()).await;
    let (api, au) = connected(&sim).await;
    let xml = raw(&api, Method::GET, "/Items", &[], None).await;
    assert_eq!(xml.status(), StatusCode::OK);
    assert!(xml.headers()["content-type"].to_str().is_ok_and(|t| t.starts_with("text/xml")));
    let text = xml.text().await.expect("text");
    assert!(text.starts_with("<?xml") && text.contains("<Response ") && text.contains("<Items"), "{text}");
    assert!(serde_json::from_str::<Value>(&text).is_err());
    let any = raw(&api, Method::GET, "/TaxRates", &[("Accept", "*/*")], None).await;
    assert!(any.text().await.expect("text").contains("<TaxRate>"), "*/* is not JSON either");

    // A JSON body sent without its Content-Type is refused, whatever it says, and stores nothing.
    let body = items(json!([{"Code": "CT-1"}]));
    Contract::xero_accounting().check_request("PUT", "/Items", &body).expect("on contract");
    for content_type in [None, Some("text/plain"), Some("application/x-www-form-urlencoded")] {
        let mut headers = vec![("Accept", "application/json")];
        headers.extend(content_type.map(|c| ("Content-Type", c)));
        let refused = raw(&api, Method::PUT, "/Items", &headers, Some(&body.to_string())).await;
        assert_eq!(refused.status(), StatusCode::BAD_REQUEST, "{content_type:?}");
        let refused: Value = refused.json().await.expect("json");
        Contract::xero_accounting().check_schema("Error", Mode::Tolerant, &refused).expect("Error schema");
        assert_eq!(
            (refused["ErrorNumber"].as_i64(), refused["Type"].as_str()),
            (Some(14), Some("PostDataInvalidException"))
        );
    }
    assert!(sim.items(&au).is_empty());
    // An error asked for without JSON comes as Xero's XML ApiException.
    let refused = raw(&api, Method::PUT, "/Items", &[], Some(&body.to_string())).await;
    assert!(refused.text().await.expect("text").contains("<ApiException "));
    assert_eq!(api.call(Method::PUT, "/Items", Some(body), &[]).await.status, StatusCode::OK);
}

#[tokio::test]
async fn time_scaling_applies_to_the_minute_window_and_the_daily_reset() {
    // 600×: a minute lasts 0.1 s.
    let limits = RateLimits { per_minute: 2, ..RateLimits::default() };
    let sim = start(600.0, XeroConfig { limits, ..XeroConfig::default() }).await;
    let (api, au) = connected(&sim).await;
    assert_eq!(sim.limit_status(&au).minute_resets_in, None, "no window before the first call");
    assert_eq!(api.get("/Accounts").await.status, StatusCode::OK);
    assert_eq!(api.get("/Accounts").await.status, StatusCode::OK);
    let limited = api.get("/Accounts").await;
    if limited.status == StatusCode::TOO_MANY_REQUESTS {
        assert_eq!(limited.header("x-rate-limit-problem"), Some("minute"));
        let status = sim.limit_status(&au);
        assert_eq!(status.minute_remaining, 0);
        assert!(status.minute_resets_in.is_some_and(|d| d <= Duration::from_secs(60)), "{status:?}");
    } // else the 0.1 s window had already passed, which is the point of the scale
    tokio::time::sleep(Duration::from_millis(150)).await;
    assert_eq!(api.get("/Accounts").await.status, StatusCode::OK, "a new simulated minute");

    // 100,000×: a day lasts 0.864 s (and the access token, and the code exchanged for it, must outlive the
    // real milliseconds a busy machine takes).
    let limits = RateLimits { per_day: 3, ..RateLimits::default() };
    let lifetimes = Lifetimes {
        access_token: Duration::from_secs(3 * 86_400),
        authorization_code: Duration::from_secs(86_400),
        ..Lifetimes::default()
    };
    let sim = start(100_000.0, XeroConfig { limits, lifetimes, ..XeroConfig::default() }).await;
    let (api, au) = connected(&sim).await;
    for _ in 0..3 {
        assert_eq!(api.get("/Accounts").await.status, StatusCode::OK);
    }
    let limited = api.get("/Accounts").await;
    assert_eq!(limited.status, StatusCode::TOO_MANY_REQUESTS);
    assert_eq!(limited.header("x-rate-limit-problem"), Some("day"));
    let retry_after: u64 = limited.header("retry-after").and_then(|v| v.parse().ok()).expect("Retry-After");
    let status = sim.limit_status(&au);
    assert_eq!(status.day_remaining, 0);
    let resets_in = status.day_resets_in.expect("the day window is open");
    assert!(resets_in <= Duration::from_secs(86_400));
    // Simulated minutes pass between the two readings at this scale.
    assert!(retry_after.abs_diff(resets_in.as_secs()) < 900, "Retry-After {retry_after} vs {resets_in:?}");
    let resets_at = sim.now() + chrono::Duration::from_std(resets_in).expect("duration");
    assert!(resets_at > sim.now(), "the reset is in the simulated future");
    tokio::time::sleep(Clock::new(100_000.0).real(resets_in) + Duration::from_millis(100)).await;
    let next_day = api.get("/Accounts").await;
    assert_eq!(next_day.status, StatusCode::OK, "after the simulated day");
    assert_eq!(next_day.header("x-daylimit-remaining"), Some("2"));
}

#[tokio::test]
async fn every_change_moves_updated_date_utc_and_web_app_edits_are_seen() {
    let sim = start(1.0, XeroConfig::default()).await;
    let (api, au) = connected(&sim).await;
    let ms = |v: &Value| -> i64 {
        let text = v["UpdatedDateUTC"].as_str().expect("UpdatedDateUTC");
        text.trim_start_matches("/Date(").split(['+', ')']).next().and_then(|n| n.parse().ok()).expect("ms")
    };
    let body = items(
        json!([{"Code": "EDIT-1", "Name": "Desk Lamp", "SalesDetails": {"UnitPrice": 29.95, "AccountCode": "200", "TaxType": "OUTPUT"}}]),
    );
    let created = api.call(Method::PUT, "/Items?unitdp=4", Some(body), &[]).await;
    let item = &created.body["Items"][0];
    let item_id = item["ItemID"].as_str().expect("ItemID").to_string();
    let created_ms = ms(item);
    tokio::time::sleep(Duration::from_millis(20)).await;
    let since = (sim.now() - chrono::Duration::milliseconds(5)).format("%Y-%m-%dT%H:%M:%S%.3fZ").to_string();
    tokio::time::sleep(Duration::from_millis(20)).await;

    let edit = ItemEdit { unit_price: Some(34.0), name: Some("Desk Lamp (LED)".into()), ..ItemEdit::default() };
    let edited = sim.edit_item(&au, &item_id, edit).expect("a valid edit");
    assert!(edited.updated_ms > created_ms, "the edit moves UpdatedDateUTC");
    let changed = api.call(Method::GET, "/Items?unitdp=4", None, &[("If-Modified-Since", &since)]).await;
    let list = changed.body["Items"].as_array().expect("items");
    assert_eq!(list.len(), 1, "only the edited item is newer than the cursor");
    assert_eq!(list[0]["SalesDetails"]["UnitPrice"], 34.0);
    assert_eq!(list[0]["Name"], "Desk Lamp (LED)");
    assert_eq!(list[0]["SalesDetails"]["AccountCode"], "200", "what the edit left alone stays");
    assert_eq!(ms(&list[0]), edited.updated_ms);

    // Xero's rules apply to the web app too; nothing changes on a refused edit.
    sim.archive_account(&au, "260");
    let refused = sim.edit_item(&au, &item_id, ItemEdit { account_code: Some("999".into()), ..ItemEdit::default() });
    assert_eq!(refused.expect_err("unknown account"), ["Account code '999' is not a valid code for this document."]);
    assert_eq!(sim.items(&au)[0].updated_ms, edited.updated_ms);
    assert!(sim.edit_item(&au, "no-such-item", ItemEdit::default()).is_err());

    // An API update moves it as well.
    tokio::time::sleep(Duration::from_millis(20)).await;
    let update = items(json!([{"Code": "EDIT-1", "Description": "Warm white"}]));
    let updated = api.call(Method::POST, &format!("/Items/{item_id}"), Some(update), &[]).await;
    assert!(ms(&updated.body["Items"][0]) > edited.updated_ms);
}

#[tokio::test]
async fn a_mix_of_faults_and_an_answer_that_leaves_an_element_out() {
    let sim = start(1.0, XeroConfig::default()).await;
    let (api, au) = connected(&sim).await;
    sim.fail_next(FaultTarget::Api, 1, Fault::MissingElement);
    let body = items(json!([{"Code": "ME-1"}, {"Code": "ME-2"}]));
    let reply = api.call(Method::POST, "/Items?summarizeErrors=false", Some(body), &[]).await;
    assert_eq!(reply.status, StatusCode::OK);
    assert_eq!(reply.body["Items"].as_array().map(Vec::len), Some(1), "one element left out");
    assert_eq!(sim.items(&au).len(), 2, "both were stored");

    sim.set_fault_mix(
        1.0,
        &[Fault::Status(503), Fault::RateLimit { problem: RateProblem::Minute, retry_after: Some(1) }],
    );
    let mut seen = std::collections::HashSet::new();
    for _ in 0..40 {
        seen.insert(api.get("/TaxRates").await.status);
    }
    let expected = [StatusCode::SERVICE_UNAVAILABLE, StatusCode::TOO_MANY_REQUESTS].into_iter().collect();
    assert_eq!(seen, expected, "every call meets one of the mix");
    sim.set_fault_mix(1.0, &[]);
    assert_eq!(api.get("/TaxRates").await.status, StatusCode::OK, "an empty mix disables");
}

#[tokio::test]
async fn revocation_ends_the_refresh_token_and_every_connection() {
    // X11: what an admin's disconnect calls (RFC 7009): the refresh token and every connection it made go.
    let sim = start(1.0, XeroConfig::default()).await;
    let token = login(&sim).await;
    let refresh_token = token["refresh_token"].as_str().expect("refresh token").to_owned();
    let api = Api::new(&sim, &token, sim.tenant_id(AU_ORG));
    assert_eq!(api.get("/Items").await.status, StatusCode::OK);
    assert_eq!(sim.connections().len(), 2);
    let revoke = |secret: &'static str, token: String| {
        let url = format!("{}/connect/revocation", sim.identity_url());
        async move {
            http().post(url).basic_auth(CLIENT_ID, Some(secret)).form(&[("token", token)]).send().await.expect("sent")
        }
    };
    let refused = revoke("not-the-secret", refresh_token.clone()).await;
    assert_eq!(refused.status(), StatusCode::BAD_REQUEST);
    assert_eq!(refused.json::<Value>().await.expect("json"), json!({"error": "invalid_client"}));
    assert_eq!(sim.connections().len(), 2, "nothing revoked for a wrong client");
    assert_eq!(revoke(SECRET, "never-issued".into()).await.status(), StatusCode::OK, "unknown tokens: 200");
    assert_eq!(sim.connections().len(), 2);

    assert_eq!(revoke(SECRET, refresh_token.clone()).await.status(), StatusCode::OK);
    assert!(sim.connections().is_empty(), "every connection of the grant is gone");
    let (status, body) = refresh(&sim, &refresh_token).await;
    assert_eq!((status, body), (StatusCode::BAD_REQUEST, json!({"error": "invalid_grant"})));
    assert_eq!(api.get("/Items").await.status, StatusCode::UNAUTHORIZED, "the access token too");
}
