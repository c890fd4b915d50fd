//! The Zoho CRM simulator over HTTP: OAuth (exchange, no rotation, the 10-per-10-minutes limit), the auth
//! header, listing (fields, paging, If-Modified-Since) and updates (per-record results, 207, 412).
//! Every CRM request and response body goes through the published v8 record contract.

use std::net::SocketAddr;
use std::time::Duration;

use contracts::{Contract, Mode};
use reqwest::StatusCode;
use sandbox::Clock;
use sandbox::zoho::{ZohoConfig, ZohoSim, products};
use serde_json::{Value, json};

const SCOPES: &[&str] = &["ZohoCRM.modules.products.ALL", "ZohoCRM.settings.fields.READ"];

async fn start(scale: f64) -> ZohoSim {
    ZohoSim::start(SocketAddr::from(([127, 0, 0, 1], 0)), Clock::new(scale), ZohoConfig::default())
        .await
        .expect("zoho sim starts")
}

struct Reply {
    status: StatusCode,
    body: Value,
}

/// A CRM v8 client whose every request body is checked strictly and every response body tolerantly
/// against Zoho's contract.
struct Crm {
    http: reqwest::Client,
    base: String,
    token: String,
}

impl Crm {
    async fn send(&self, method: &str, path: &str, headers: &[(&str, &str)], body: Option<&Value>) -> Reply {
        let mut request = self
            .http
            .request(method.parse().expect("method"), format!("{}{path}", self.base))
            .header("Authorization", format!("Zoho-oauthtoken {}", self.token));
        for (name, value) in headers {
            request = request.header(*name, *value);
        }
        if let Some(body) = body {
            if let Err(violations) = Contract::zoho_record().check_request(method, path, body) {
                panic!("request {method} {path} leaves the contract:\n{violations}\n{body:#}");
            }
            request = request.json(body);
        }
        let response = request.send().await.expect("request sent");
        let status = response.status();
        let text = response.text().await.expect("body");
        if status == StatusCode::NO_CONTENT || status == StatusCode::NOT_MODIFIED {
            assert!(text.is_empty(), "{status} with a body: {text}");
            return Reply { status, body: Value::Null };
        }
        let body: Value = serde_json::from_str(&text).unwrap_or_else(|e| panic!("{status}: not JSON ({e}): {text}"));
        check_zoho_response(method, path, &body)
            .unwrap_or_else(|v| panic!("{method} {path} → {status}:\n{v}\n{body:#}"));
        Reply { status, body }
    }

    async fn get(&self, path: &str) -> Reply {
        self.send("GET", path, &[], None).await
    }

    async fn put(&self, path: &str, body: &Value) -> Reply {
        self.send("PUT", path, &[], Some(body)).await
    }
}

/// The record paths declare only a 200 response and model errors inside it as `API_Exception`
/// (contracts/zoho README, gap 2), so every body is checked against that response whatever the status.
fn check_zoho_response(method: &str, path: &str, body: &Value) -> Result<(), contracts::Violations> {
    Contract::zoho_record().check_response(method, path, 200, body)?;
    if body["status"] == "error" {
        Contract::zoho_record().check_schema("API_Exception", Mode::Tolerant, body)?;
    }
    Ok(())
}

async fn token_request(zoho: &ZohoSim, params: &[(&str, &str)]) -> (StatusCode, Value) {
    let config = zoho.config();
    let mut form = vec![("client_id", config.client_id.as_str()), ("client_secret", config.client_secret.as_str())];
    form.extend_from_slice(params);
    let response = reqwest::Client::new()
        .post(format!("{}/oauth/v2/token", zoho.url))
        .form(&form)
        .send()
        .await
        .expect("token request sent");
    let status = response.status();
    (status, response.json().await.expect("token response is JSON"))
}

/// Exchanges a fresh Self Client code; returns (access token, refresh token).
async fn exchange(zoho: &ZohoSim, scopes: &[&str]) -> (String, String) {
    let code = zoho.self_client_code(scopes);
    let (status, body) = token_request(zoho, &[("grant_type", "authorization_code"), ("code", &code)]).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let access = body["access_token"].as_str().unwrap_or_else(|| panic!("no access token: {body}"));
    let refresh = body["refresh_token"].as_str().unwrap_or_else(|| panic!("no refresh token: {body}"));
    (access.to_string(), refresh.to_string())
}

async fn refresh(zoho: &ZohoSim, refresh_token: &str) -> (StatusCode, Value) {
    token_request(zoho, &[("grant_type", "refresh_token"), ("refresh_token", refresh_token)]).await
}

async fn crm(zoho: &ZohoSim) -> Crm {
    let (token, _) = exchange(zoho, SCOPES).await;
    Crm { http: reqwest::Client::new(), base: zoho.url.clone(), token }
}

#[tokio::test]
async fn code_exchange_gives_tokens_and_refresh_tokens_do_not_rotate() {
    let zoho = start(1.0).await;
    let code = zoho.self_client_code(SCOPES);
    let (status, body) = token_request(&zoho, &[("grant_type", "authorization_code"), ("code", &code)]).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(body["api_domain"], json!(zoho.url));
    assert_eq!(body["expires_in"], json!(3600));
    assert_eq!(body["token_type"], "Bearer");
    assert_eq!(body["scope"], "ZohoCRM.modules.products.ALL ZohoCRM.settings.fields.READ");
    let first_access = body["access_token"].as_str().expect("access token").to_string();
    let refresh_token = body["refresh_token"].as_str().expect("refresh token").to_string();

    // Codes are single-use; Zoho answers errors with HTTP 200.
    let (status, body) = token_request(&zoho, &[("grant_type", "authorization_code"), ("code", &code)]).await;
    assert_eq!((status, body), (StatusCode::OK, json!({"error": "invalid_code"})));

    let (status, body) = refresh(&zoho, &refresh_token).await;
    assert_eq!(status, StatusCode::OK);
    assert!(body.get("refresh_token").is_none(), "refresh tokens do not rotate: {body}");
    assert_eq!(body["api_domain"], json!(zoho.url));
    let second_access = body["access_token"].as_str().expect("access token").to_string();
    assert_ne!(first_access, second_access);

    // Both access tokens stay active, and the original refresh token keeps working.
    for token in [&first_access, &second_access] {
        let api = Crm { http: reqwest::Client::new(), base: zoho.url.clone(), token: token.clone() };
        let reply = api.get(&format!("/crm/v8/Products/{}", products::WIRELESS_MOUSE)).await;
        assert_eq!(reply.status, StatusCode::OK);
    }
    assert_eq!(refresh(&zoho, &refresh_token).await.0, StatusCode::OK);

    let (_, body) = token_request(&zoho, &[("grant_type", "refresh_token"), ("refresh_token", "1000.nope.nope")]).await;
    assert_eq!(body, json!({"error": "invalid_code"}));
    let (_, body) = reqwest::Client::new()
        .post(format!("{}/oauth/v2/token", zoho.url))
        .form(&[
            ("grant_type", "refresh_token"),
            ("refresh_token", &refresh_token),
            ("client_id", "x"),
            ("client_secret", "y"),
        ])
        .send()
        .await
        .map(|r| (r.status(), r))
        .expect("sent");
    assert_eq!(body.json::<Value>().await.expect("json"), json!({"error": "invalid_client"}));
    assert_eq!(zoho.token_requests(), 6);
}

#[tokio::test]
async fn codes_expire_after_three_simulated_minutes() {
    let clock_scale = 600.0; // 3 simulated minutes = 0.3 s
    let zoho = start(clock_scale).await;
    let code = zoho.self_client_code(SCOPES);
    tokio::time::sleep(Clock::new(clock_scale).real(Duration::from_secs(3 * 60 + 30))).await;
    let (_, body) = token_request(&zoho, &[("grant_type", "authorization_code"), ("code", &code)]).await;
    assert_eq!(body, json!({"error": "invalid_code"}));
}

#[tokio::test]
async fn more_than_ten_token_requests_in_ten_minutes_are_refused_until_the_window_passes() {
    let scale = 300.0; // 10 simulated minutes = 2 s
    let zoho = start(scale).await;
    let (first_access, refresh_token) = exchange(&zoho, SCOPES).await; // request 1 of the window
    let mut second_access = String::new();
    for n in 2..=10 {
        let (status, body) = refresh(&zoho, &refresh_token).await;
        assert_eq!(status, StatusCode::OK, "request {n}: {body}");
        if n == 2 {
            second_access = body["access_token"].as_str().expect("token").to_string();
        }
    }
    let (status, body) = refresh(&zoho, &refresh_token).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(
        body,
        json!({
            "error": "Access Denied",
            "error_description": "You have made too many requests continuously. Please try again after some time."
        })
    );
    // Refused requests do not extend the block.
    assert_eq!(refresh(&zoho, &refresh_token).await.0, StatusCode::BAD_REQUEST);
    assert_eq!(zoho.token_requests(), 12);

    tokio::time::sleep(Clock::new(scale).real(Duration::from_secs(10 * 60 + 15))).await;
    let (status, body) = refresh(&zoho, &refresh_token).await;
    assert_eq!(status, StatusCode::OK, "the window has passed: {body}");

    // That was the 11th access token of this refresh token: the oldest one is no longer active.
    let path = format!("/crm/v8/Products/{}", products::WIRELESS_MOUSE);
    let oldest = auth_call(&zoho.url, &path, Some(format!("Zoho-oauthtoken {first_access}"))).await;
    assert_eq!(oldest, (StatusCode::UNAUTHORIZED, "INVALID_TOKEN".to_string()));
    let second = auth_call(&zoho.url, &path, Some(format!("Zoho-oauthtoken {second_access}"))).await;
    assert_eq!(second.0, StatusCode::OK);
}

#[tokio::test]
async fn a_twenty_first_refresh_token_deletes_the_oldest() {
    let zoho = start(1.0).await;
    let (_, oldest) = exchange(&zoho, SCOPES).await;
    let mut newer = Vec::new();
    for _ in 0..20 {
        newer.push(exchange(&zoho, SCOPES).await.1);
    }
    assert_eq!(refresh(&zoho, &oldest).await.1, json!({"error": "invalid_code"}));
    assert_eq!(refresh(&zoho, &newer[0]).await.0, StatusCode::OK);
    assert!(refresh(&zoho, &newer[0]).await.1["access_token"].is_string());
}

/// A GET with the given Authorization header (if any); returns the status and the Zoho error code.
async fn auth_call(base: &str, path: &str, auth: Option<String>) -> (StatusCode, String) {
    let mut request = reqwest::Client::new().get(format!("{base}{path}"));
    if let Some(auth) = auth {
        request = request.header("Authorization", auth);
    }
    let response = request.send().await.expect("sent");
    let status = response.status();
    let body: Value = response.json().await.expect("json");
    check_zoho_response("GET", path, &body).expect("error bodies follow the contract");
    (status, body["code"].as_str().unwrap_or_default().to_string())
}

#[tokio::test]
async fn crm_calls_need_a_live_zoho_oauthtoken_with_the_right_scope() {
    let scale = 1200.0; // access tokens live 1 simulated hour = 3 s
    let zoho = start(scale).await;
    let (token, _) = exchange(&zoho, SCOPES).await;
    let path = format!("/crm/v8/Products/{}", products::WIRELESS_MOUSE);
    let call = |auth: Option<String>| auth_call(&zoho.url, &path, auth);
    let unauthorized = StatusCode::UNAUTHORIZED;
    assert_eq!(call(None).await, (unauthorized, "AUTHENTICATION_FAILURE".into()));
    assert_eq!(call(Some(format!("Bearer {token}"))).await, (unauthorized, "INVALID_TOKEN".into()));
    assert_eq!(call(Some("Zoho-oauthtoken 1000.bad.token".into())).await, (unauthorized, "INVALID_TOKEN".into()));
    assert_eq!(call(Some(format!("Zoho-oauthtoken {token}"))).await.0, StatusCode::OK);

    let (settings_only, _) = exchange(&zoho, &["ZohoCRM.settings.fields.READ"]).await;
    let (status, code) = call(Some(format!("Zoho-oauthtoken {settings_only}"))).await;
    assert_eq!((status, code.as_str()), (unauthorized, "OAUTH_SCOPE_MISMATCH"));

    tokio::time::sleep(Clock::new(scale).real(Duration::from_secs(3600 + 60))).await;
    assert_eq!(call(Some(format!("Zoho-oauthtoken {token}"))).await, (unauthorized, "INVALID_TOKEN".into()));
}

/// `GET /crm/v8/settings/fields?module=Products` (no contract in ../shared/contracts covers the settings
/// API, so the checks are on the simulator's own answers): the fields, the project's custom ones under
/// their configured names, and the Tax field's taxes; the settings scope, and `module`, are required.
#[tokio::test]
async fn field_settings_list_the_products_fields_with_the_settings_scope() {
    let zoho = start(1.0).await;
    let (token, _) = exchange(&zoho, SCOPES).await;
    let get = |path: &'static str, token: String| {
        let url = format!("{}{path}", zoho.url);
        async move {
            let response = reqwest::Client::new()
                .get(url)
                .header("Authorization", format!("Zoho-oauthtoken {token}"))
                .send()
                .await
                .expect("sent");
            let status = response.status();
            (status, response.json::<Value>().await.expect("json"))
        }
    };
    let (status, body) = get("/crm/v8/settings/fields?module=Products", token.clone()).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let fields = body["fields"].as_array().expect("fields");
    let names: Vec<&str> = fields.iter().filter_map(|f| f["api_name"].as_str()).collect();
    let custom =
        ["Add_to_Xero", "Xero_GL_Account", "Xero_Tax_Rate", "Xero_Item_ID", "Xero_Last_Synced", "Xero_Sync_Status"];
    for name in ["Product_Name", "Product_Code", "Tax"].into_iter().chain(custom) {
        assert!(names.contains(&name), "{name} in {names:?}");
    }
    let tax = fields.iter().find(|f| f["api_name"] == "Tax").expect("Tax");
    assert_eq!(tax["pick_list_values"][0]["display_value"], "GST - 10.0 %");

    let (status, body) = get("/crm/v8/settings/fields", token.clone()).await;
    assert_eq!((status, body["code"].as_str()), (StatusCode::BAD_REQUEST, Some("REQUIRED_PARAM_MISSING")));
    let (status, body) = get("/crm/v8/settings/fields?module=Leads", token).await;
    assert_eq!((status, body["code"].as_str()), (StatusCode::BAD_REQUEST, Some("INVALID_MODULE")));
    let (records_only, _) = exchange(&zoho, &["ZohoCRM.modules.products.ALL"]).await;
    let (status, body) = get("/crm/v8/settings/fields?module=Products", records_only).await;
    assert_eq!((status, body["code"].as_str()), (StatusCode::UNAUTHORIZED, Some("OAUTH_SCOPE_MISMATCH")));
}

#[tokio::test]
async fn get_one_returns_a_v8_record_or_zohos_error() {
    let zoho = start(1.0).await;
    let api = crm(&zoho).await;
    let reply = api.get(&format!("/crm/v8/Products/{}", products::WIRELESS_MOUSE)).await;
    assert_eq!(reply.status, StatusCode::OK);
    let record = &reply.body["data"][0];
    assert_eq!(record["id"], products::WIRELESS_MOUSE);
    assert_eq!(record["Product_Code"], "WM-100");
    assert_eq!(record["Tax"], json!([{"id": "4150868000000045001", "value": "GST - 10.0 %"}]));
    assert_eq!(record["Xero_GL_Account"], "Sales");
    assert_eq!(record["Add_to_Xero"], true);
    assert!(record["Unit_Price"].is_f64());
    assert!(record["Modified_Time"].as_str().is_some_and(|t| t.ends_with("+11:00")), "{record}");
    assert!(record["Owner"]["email"].is_string());

    let only = api.get(&format!("/crm/v8/Products/{}?fields=Product_Code", products::NO_CODE)).await;
    assert_eq!(only.body["data"][0], json!({"id": products::NO_CODE, "Product_Code": null}));

    let missing = api.get("/crm/v8/Products/4150868000000999999").await;
    assert_eq!(missing.status, StatusCode::BAD_REQUEST);
    assert_eq!(missing.body["code"], "INVALID_DATA");
    assert_eq!(missing.body["status"], "error");

    let garbled = api.get("/crm/v8/Products/%FF").await;
    assert_eq!((garbled.status, garbled.body["code"].as_str()), (StatusCode::NOT_FOUND, Some("INVALID_URL_PATTERN")));

    let module = api.get("/crm/v8/Widgets/1").await;
    assert_eq!((module.status, module.body["code"].as_str()), (StatusCode::BAD_REQUEST, Some("INVALID_MODULE")));

    let modified = record["Modified_Time"].as_str().expect("time").to_string();
    let path = format!("/crm/v8/Products/{}", products::WIRELESS_MOUSE);
    let unchanged = api.send("GET", &path, &[("If-Modified-Since", &modified)], None).await;
    assert_eq!(unchanged.status, StatusCode::NOT_MODIFIED);
}

#[tokio::test]
async fn listing_requires_fields_and_caps_per_page() {
    let zoho = start(1.0).await;
    let api = crm(&zoho).await;
    let reply = api.get("/crm/v8/Products").await;
    assert_eq!(reply.status, StatusCode::BAD_REQUEST);
    assert_eq!(reply.body["code"], "REQUIRED_PARAM_MISSING");
    assert_eq!(reply.body["details"]["param_name"], "fields");
    let reply = api.get("/crm/v8/Products?fields=Product_Name&per_page=201").await;
    assert_eq!(
        (reply.status, reply.body["details"]["param_name"].as_str()),
        (StatusCode::BAD_REQUEST, Some("per_page"))
    );
    let reply = api.get("/crm/v8/Products?fields=Product_Name&sort_by=Product_Name").await;
    assert_eq!(reply.status, StatusCode::BAD_REQUEST);
    let reply = api.get("/crm/v8/Products?fields=Product_Name&per_page=200&page=11").await;
    assert_eq!((reply.status, reply.body["code"].as_str()), (StatusCode::BAD_REQUEST, Some("LIMIT_EXCEEDED")));
}

#[tokio::test]
async fn listing_pages_with_page_then_page_token() {
    let zoho = start(1.0).await;
    let api = crm(&zoho).await;
    let fields = "fields=Product_Name,Product_Code,Modified_Time";
    let mut seen: Vec<String> = Vec::new();
    let ids = |body: &Value| -> Vec<String> {
        body["data"].as_array().expect("data").iter().map(|r| r["id"].as_str().expect("id").to_string()).collect()
    };

    let first = api.get(&format!("/crm/v8/Products?{fields}&per_page=5&page=1")).await;
    assert_eq!(first.status, StatusCode::OK);
    let info = &first.body["info"];
    assert_eq!((info["page"].as_u64(), info["count"].as_u64(), info["per_page"].as_u64()), (Some(1), Some(5), Some(5)));
    assert_eq!(info["more_records"], true);
    assert_eq!(first.body["data"][0]["Product_Name"], "Wireless Mouse");
    assert!(first.body["data"][0].get("Unit_Price").is_none(), "only the requested fields");
    seen.extend(ids(&first.body));

    let second = api.get(&format!("/crm/v8/Products?{fields}&per_page=5&page=2")).await;
    assert_eq!(second.body["info"]["page"], 2);
    seen.extend(ids(&second.body));

    let mut token = second.body["info"]["next_page_token"].as_str().expect("next_page_token").to_string();
    assert!(token.len() <= 96);
    let mut pages = 0;
    loop {
        let reply = api.get(&format!("/crm/v8/Products?{fields}&per_page=5&page_token={token}")).await;
        assert_eq!(reply.status, StatusCode::OK, "{}", reply.body);
        assert_eq!(reply.body["info"]["previous_page_token"], json!(token));
        seen.extend(ids(&reply.body));
        pages += 1;
        match reply.body["info"]["next_page_token"].as_str() {
            Some(next) => token = next.to_string(),
            None => {
                assert_eq!(reply.body["info"]["more_records"], false);
                break;
            }
        }
    }
    assert_eq!(pages, 2, "19 records: pages 1-2 by number, 3-4 by token");
    let all: Vec<String> = zoho.products().iter().map(|p| p["id"].as_str().expect("id").to_string()).collect();
    assert_eq!(seen, all, "every record once, in id order");

    let stale = api.get(&format!("/crm/v8/Products?{fields}&page_token=not-a-token")).await;
    assert_eq!(
        (stale.status, stale.body["details"]["param_name"].as_str()),
        (StatusCode::BAD_REQUEST, Some("page_token"))
    );

    let newest = api.get(&format!("/crm/v8/Products?{fields}&per_page=3&sort_by=Modified_Time&sort_order=desc")).await;
    let times: Vec<&str> =
        newest.body["data"].as_array().expect("data").iter().map(|r| r["Modified_Time"].as_str().expect("t")).collect();
    assert!(times.windows(2).all(|w| w[0] >= w[1]), "{times:?}");
    assert_eq!(newest.body["data"][0]["id"], products::NO_CODE_NO_GL_ACCOUNT);
}

#[tokio::test]
async fn if_modified_since_returns_only_newer_records_or_304() {
    let zoho = start(1.0).await;
    let api = crm(&zoho).await;
    let now = sandbox::zoho::format_time(zoho.now());
    let path = "/crm/v8/Products?fields=Product_Name";
    let none = api.send("GET", path, &[("If-Modified-Since", &now)], None).await;
    assert_eq!(none.status, StatusCode::NOT_MODIFIED);

    let before = sandbox::zoho::format_time(zoho.now() - chrono::TimeDelta::seconds(1));
    let update = json!({"data": [{"id": products::USB_C_HUB, "Unit_Price": 61.0}]});
    assert_eq!(api.put("/crm/v8/Products", &update).await.status, StatusCode::OK);
    let changed = api.send("GET", path, &[("If-Modified-Since", &before)], None).await;
    assert_eq!(changed.status, StatusCode::OK);
    assert_eq!(changed.body["data"], json!([{"id": products::USB_C_HUB, "Product_Name": "USB-C Hub"}]));

    let bad = api.send("GET", path, &[("If-Modified-Since", "yesterday")], None).await;
    assert_eq!(bad.status, StatusCode::BAD_REQUEST);
}

#[tokio::test]
async fn updates_answer_per_record_and_207_when_mixed() {
    let zoho = start(1.0).await;
    let api = crm(&zoho).await;
    let before = zoho.product(products::WIRELESS_MOUSE).expect("seeded");

    let body = json!({
        "data": [
            {"id": products::WIRELESS_MOUSE, "Xero_Item_ID": "b2c3d4e5-0000-4000-8000-000000000001",
             "Xero_Sync_Status": "Synced", "Xero_Last_Synced": "2026-11-26T10:00:00+11:00"},
            {"id": products::MECHANICAL_KEYBOARD, "Unit_Price": 139.0}
        ],
        "trigger": []
    });
    let reply = api.put("/crm/v8/Products", &body).await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.body);
    let result = &reply.body["data"][0];
    assert_eq!((result["code"].as_str(), result["status"].as_str()), (Some("SUCCESS"), Some("success")));
    assert_eq!(result["message"], "record updated");
    assert_eq!(result["details"]["id"], products::WIRELESS_MOUSE);
    assert_eq!(result["details"]["Created_Time"], before["Created_Time"]);
    assert!(result["details"]["Modified_By"]["id"].is_string());
    let after = zoho.product(products::WIRELESS_MOUSE).expect("still there");
    assert_eq!(after["Xero_Sync_Status"], "Synced");
    assert_eq!(after["Modified_Time"], result["details"]["Modified_Time"]);
    assert!(after["Modified_Time"].as_str() > before["Modified_Time"].as_str(), "Modified_Time is bumped");
    assert_eq!(zoho.product(products::MECHANICAL_KEYBOARD).expect("kb")["Unit_Price"], json!(139.0));

    let mixed = json!({"data": [
        {"id": products::USB_C_HUB, "Xero_Sync_Status": "Synced"},
        {"id": products::MONITOR_ARM, "Taxable": "yes"},
        {"id": "4150868000000999999", "Xero_Sync_Status": "Synced"},
        {"Xero_Sync_Status": "no id"},
        {"id": products::MONITOR_ARM, "Product_Code": "X".repeat(41)}
    ]});
    let reply = api.put("/crm/v8/Products", &mixed).await;
    assert_eq!(reply.status, StatusCode::MULTI_STATUS, "{}", reply.body);
    let results = reply.body["data"].as_array().expect("results");
    assert_eq!(results[0]["code"], "SUCCESS");
    assert_eq!(results[1]["code"], "INVALID_DATA");
    assert_eq!(results[1]["details"]["api_name"], "Taxable");
    assert_eq!(results[1]["details"]["json_path"], "$.data[1].Taxable");
    assert_eq!(results[1]["details"]["expected_data_type"], "boolean");
    assert_eq!(
        (results[2]["code"].as_str(), results[2]["details"]["id"].as_str()),
        (Some("INVALID_DATA"), Some("4150868000000999999"))
    );
    assert_eq!(results[3]["code"], "MANDATORY_NOT_FOUND");
    assert_eq!(results[4]["details"]["maximum_length"], "40");
    assert_eq!(zoho.product(products::MONITOR_ARM).expect("arm")["Taxable"], true, "a failed record is unchanged");

    let path = format!("/crm/v8/Products/{}", products::MONITOR_ARM);
    let failed = api.put(&path, &json!({"data": [{"Product_Name": " "}]})).await;
    assert_eq!(failed.status, StatusCode::BAD_REQUEST);
    assert_eq!(failed.body["data"][0]["code"], "MANDATORY_NOT_FOUND");
    let one = api.put(&path, &json!({"data": [{"Description": "Gas spring arm"}]})).await;
    assert_eq!(
        (one.status, one.body["data"][0]["details"]["id"].as_str()),
        (StatusCode::OK, Some(products::MONITOR_ARM))
    );

    let too_many: Vec<Value> = (0..101).map(|_| json!({"id": products::USB_C_HUB})).collect();
    let reply = api.put("/crm/v8/Products", &json!({"data": too_many})).await;
    assert_eq!((reply.status, reply.body["code"].as_str()), (StatusCode::BAD_REQUEST, Some("LIMIT_EXCEEDED")));

    // Not JSON at all: Zoho's INVALID_DATA envelope, not a framework error page.
    let raw = api
        .http
        .put(format!("{}/crm/v8/Products", api.base))
        .header("Authorization", format!("Zoho-oauthtoken {}", api.token))
        .body("{not json")
        .send()
        .await
        .expect("sent");
    assert_eq!(raw.status(), StatusCode::BAD_REQUEST);
    let body: Value = raw.json().await.expect("json");
    check_zoho_response("PUT", "/crm/v8/Products", &body).expect("contract");
    assert_eq!(body["code"], "INVALID_DATA");
}

#[tokio::test]
async fn if_unmodified_since_refuses_to_overwrite_a_newer_record() {
    let zoho = start(1.0).await;
    let api = crm(&zoho).await;
    let seen = zoho.product(products::USB_C_HUB).expect("seeded")["Modified_Time"].as_str().expect("t").to_string();
    let path = format!("/crm/v8/Products/{}", products::USB_C_HUB);
    let body = json!({"data": [{"Xero_Sync_Status": "Synced"}]});
    let first = api.send("PUT", &path, &[("If-Unmodified-Since", &seen)], Some(&body)).await;
    assert_eq!(first.status, StatusCode::OK, "{}", first.body);

    let second = api.send("PUT", &path, &[("If-Unmodified-Since", &seen)], Some(&body)).await;
    assert_eq!(second.status, StatusCode::PRECONDITION_FAILED);
    assert_eq!(second.body["code"], "ALREADY_MODIFIED");
    assert_eq!(second.body["status"], "error");

    let bulk = json!({"data": [{"id": products::WIRELESS_MOUSE, "Xero_Sync_Status": "x"}, {"id": products::USB_C_HUB, "Xero_Sync_Status": "x"}]});
    let third = api.send("PUT", "/crm/v8/Products", &[("If-Unmodified-Since", &seen)], Some(&bulk)).await;
    assert_eq!(third.status, StatusCode::PRECONDITION_FAILED);
    assert_ne!(zoho.product(products::WIRELESS_MOUSE).expect("wm")["Xero_Sync_Status"], "x", "412 changes nothing");
}

#[tokio::test]
async fn injected_429_and_500_and_inspection() {
    let zoho = start(1.0).await;
    let api = crm(&zoho).await;
    let path = format!("/crm/v8/Products/{}", products::INACTIVE);
    zoho.rate_limit_next(1);
    let limited = api.get(&path).await;
    assert_eq!(
        (limited.status, limited.body["code"].as_str()),
        (StatusCode::TOO_MANY_REQUESTS, Some("TOO_MANY_REQUESTS"))
    );
    zoho.fail_next(1);
    let failed = api.get(&path).await;
    assert_eq!(
        (failed.status, failed.body["code"].as_str()),
        (StatusCode::INTERNAL_SERVER_ERROR, Some("INTERNAL_ERROR"))
    );
    let ok = api.get(&path).await;
    assert_eq!(ok.body["data"][0]["Product_Active"], false);
    zoho.set_latency(Duration::from_millis(300));
    let started = std::time::Instant::now();
    assert_eq!(api.get(&path).await.status, StatusCode::OK);
    assert!(started.elapsed() >= Duration::from_millis(300), "latency is added");
    zoho.fail_next(5);
    zoho.clear_faults();

    let statuses: Vec<(String, u16)> =
        zoho.calls().iter().filter(|c| c.path == path).map(|c| (c.method.clone(), c.status)).collect();
    let expected = [429, 500, 200, 200].map(|status| ("GET".to_string(), status));
    assert_eq!(statuses, expected);
    zoho.clear_calls();
    assert!(zoho.calls().is_empty());

    let mut fields = serde_json::Map::new();
    fields.insert("Product_Name".into(), json!("Added by a test"));
    let id = zoho.insert_product(fields);
    let reply = api.get(&format!("/crm/v8/Products/{id}")).await;
    assert_eq!(reply.body["data"][0]["Product_Name"], "Added by a test");
    assert_eq!(reply.body["data"][0]["Owner"], zoho.product(products::INACTIVE).expect("p")["Owner"]);
}

#[test]
fn the_contract_check_catches_off_spec_bodies() {
    let path = "/crm/v8/Products/4150868000000411001";
    let good = json!({"data": [{"id": "4150868000000411001", "Modified_Time": "2026-11-20T10:15:00+11:00"}]});
    check_zoho_response("GET", path, &good).expect("a v8 record is on spec");
    // Ids are strings in v8; a number (as a careless client or sim might send) is off spec.
    let numeric_id = json!({"data": [{"id": 4150868000000411001_u64}]});
    assert!(check_zoho_response("GET", path, &numeric_id).is_err());
    let bad_time = json!({"data": [{"id": "1", "Modified_Time": "20/11/2026"}]});
    assert!(check_zoho_response("GET", path, &bad_time).is_err());
    let bad_info = json!({"data": [], "info": {"more_records": "yes"}});
    assert!(check_zoho_response("GET", "/crm/v8/Products", &bad_info).is_err());
    let bad_error = json!({"code": "INVALID_DATA", "details": [], "message": "invalid data", "status": "error"});
    assert!(check_zoho_response("GET", path, &bad_error).is_err());
    // Requests are strict: a misspelt envelope key would be silently dropped by Zoho.
    let request = json!({"data": [{"id": "1"}], "triggers": ["workflow"]});
    assert!(Contract::zoho_record().check_request("PUT", "/crm/v8/Products", &request).is_err());
}
