//! The Zoho client against the sandbox's Zoho simulator: OAuth (exchange, single-flight refresh, the local
//! token budget, refusals), reads, paged listing with If-Modified-Since, write-backs and retries.

use std::collections::BTreeSet;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use backend::config::{ClientCredentials, ZohoDc, ZohoEndpoints};
use backend::retry::RetryPolicy;
use backend::zoho::{MemoryZohoVault, UpdateOutcome, ZohoClient, ZohoError, ZohoGrant, update_body};
use chrono::DateTime;
use contracts::Contract;
use sandbox::Clock;
use sandbox::zoho::{ZohoConfig, ZohoLimits, ZohoSim, format_time, products};
use serde_json::{Map, Value, json};

const SCOPES: &[&str] = &["ZohoCRM.modules.products.ALL"];
/// A port nothing listens on: every call must go to the `api_domain` the token response names.
const UNUSED_API_URL: &str = "http://127.0.0.1:9";

async fn sim(scale: f64) -> ZohoSim {
    ZohoSim::start(SocketAddr::from(([127, 0, 0, 1], 0)), Clock::new(scale), ZohoConfig::default())
        .await
        .expect("zoho sim starts")
}

fn client(zoho: &ZohoSim, vault: &Arc<MemoryZohoVault>) -> ZohoClient {
    let http = reqwest::Client::builder().timeout(Duration::from_secs(5)).build().expect("http client");
    let config = zoho.config();
    let endpoints = ZohoEndpoints { dc: ZohoDc::Com, accounts_url: zoho.url.clone(), api_url: UNUSED_API_URL.into() };
    let credentials =
        ClientCredentials { client_id: config.client_id.clone(), client_secret: config.client_secret.clone().into() };
    let retry =
        RetryPolicy { max_attempts: 4, min_delay: Duration::from_millis(10), max_delay: Duration::from_millis(80) };
    ZohoClient::new(http, &endpoints, credentials, vault.clone()).with_retry(retry)
}

/// A client connected with a fresh Self Client code for `scopes`.
async fn connected_with(zoho: &ZohoSim, scopes: &[&str]) -> (ZohoClient, Arc<MemoryZohoVault>) {
    let vault = Arc::new(MemoryZohoVault::new());
    let zoho_client = client(zoho, &vault);
    zoho_client.exchange_self_client_code(&zoho.self_client_code(scopes)).await.expect("exchange");
    (zoho_client, vault)
}

async fn connected(zoho: &ZohoSim) -> (ZohoClient, Arc<MemoryZohoVault>) {
    connected_with(zoho, SCOPES).await
}

fn fields(value: Value) -> Map<String, Value> {
    match value {
        Value::Object(map) => map,
        other => panic!("not an object: {other}"),
    }
}

/// (method, status) of the calls to `path`, oldest first.
fn statuses(zoho: &ZohoSim, path: &str) -> Vec<(String, u16)> {
    zoho.calls().iter().filter(|c| c.path == path).map(|c| (c.method.clone(), c.status)).collect()
}

fn product_path(id: &str) -> String {
    format!("/crm/v8/Products/{id}")
}

#[tokio::test]
async fn exchange_stores_the_grant_and_reads_a_product_or_none() {
    let zoho = sim(1.0).await;
    let vault = Arc::new(MemoryZohoVault::new());
    let zoho_client = client(&zoho, &vault);
    let code = zoho.self_client_code(SCOPES);
    zoho_client.exchange_self_client_code(&code).await.expect("exchange");
    let grant = vault.grant().expect("grant saved");
    assert_eq!(grant.api_domain, zoho.url, "api_domain comes from the token response");

    let record = zoho_client
        .get_product(products::WIRELESS_MOUSE, &["Product_Name", "Product_Code"])
        .await
        .expect("read")
        .expect("seeded product");
    assert_eq!(
        Value::Object(record),
        json!({"id": products::WIRELESS_MOUSE, "Product_Name": "Wireless Mouse", "Product_Code": "WM-100"})
    );
    let full = zoho_client.get_product(products::MONITOR_ARM, &[]).await.expect("read").expect("seeded");
    assert_eq!(Some(&json!(true)), full.get("Add_to_Xero"), "no fields means all fields");

    assert_eq!(zoho_client.get_product("4150868000000999999", &[]).await.expect("read"), None);
    assert_eq!(
        zoho_client.get_product("../../oauth/v2/token", &[]).await.expect("read"),
        None,
        "the id stays one segment"
    );
    assert_eq!(zoho.token_requests(), 1, "the exchange's access token is used, not a refresh");

    // A spent code is refused (with HTTP 200) and leaves the stored grant alone.
    let again = zoho_client.exchange_self_client_code(&code).await;
    assert!(matches!(&again, Err(ZohoError::ReconnectNeeded(reason)) if reason.contains("invalid_code")), "{again:?}");
    assert!(vault.grant().is_some() && vault.reconnect_reason().is_none());
}

#[tokio::test]
async fn listing_pages_by_number_then_by_page_token() {
    let zoho = sim(1.0).await;
    for n in 0..2100 {
        zoho.insert_product(fields(json!({"Product_Name": format!("Bulk {n}"), "Product_Code": format!("B-{n}")})));
    }
    let (zoho_client, _) = connected(&zoho).await;
    let listed = zoho_client.products_modified_since(None, &["Product_Name", "Modified_Time"]).await.expect("list");

    let all: BTreeSet<String> = zoho.products().iter().map(|p| p["id"].as_str().expect("id").to_string()).collect();
    let ids: Vec<String> = listed.iter().map(|p| p["id"].as_str().expect("id").to_string()).collect();
    assert_eq!(all.len(), 2121);
    assert_eq!(ids.len(), all.len(), "each record once");
    assert_eq!(ids.iter().cloned().collect::<BTreeSet<_>>(), all);
    let times: Vec<_> = listed
        .iter()
        .map(|p| DateTime::parse_from_rfc3339(p["Modified_Time"].as_str().expect("time")).expect("rfc3339"))
        .collect();
    assert!(times.windows(2).all(|w| w[0] <= w[1]), "oldest change first");
    assert!(listed.iter().all(|p| p.get("Unit_Price").is_none()), "only the requested fields");

    let queries: Vec<String> =
        zoho.calls().iter().filter(|c| c.path == "/crm/v8/Products").filter_map(|c| c.query.clone()).collect();
    assert_eq!(queries.len(), 11, "{queries:#?}");
    for (n, query) in queries.iter().take(10).enumerate() {
        assert!(query.contains(&format!("&page={}", n + 1)) && !query.contains("page_token"), "{query}");
    }
    assert!(queries[10].contains("page_token=") && !queries[10].contains("&page="), "{}", queries[10]);
    assert!(queries.iter().all(|q| q.contains("per_page=200") && q.contains("sort_by=Modified_Time")));
}

#[tokio::test]
async fn if_modified_since_lists_only_later_changes_or_nothing() {
    let scale = 100.0; // one simulated second = 10 ms
    let zoho = sim(scale).await;
    let (zoho_client, _) = connected(&zoho).await;
    let since = zoho.now();
    let none = zoho_client.products_modified_since(Some(since), &["Product_Name"]).await.expect("list");
    assert!(none.is_empty());
    assert_eq!(statuses(&zoho, "/crm/v8/Products"), [("GET".to_string(), 304)]);

    tokio::time::sleep(Clock::new(scale).real(Duration::from_secs(2))).await;
    let change = fields(json!({"Xero_Sync_Status": "Synced"}));
    zoho_client.update_product(products::USB_C_HUB, change, None).await.expect("update");
    let changed = zoho_client.products_modified_since(Some(since), &["Product_Name"]).await.expect("list");
    assert_eq!(changed.len(), 1, "{changed:?}");
    assert_eq!(changed[0]["id"], products::USB_C_HUB);
}

#[test]
fn update_body_follows_the_contract_and_suppresses_workflows() {
    let change = fields(json!({"id": "overridden", "Xero_Item_ID": "b2c3d4e5", "Xero_Sync_Status": "Synced"}));
    let body = update_body(products::WIRELESS_MOUSE, change);
    assert_eq!(
        body,
        json!({"data": [{"id": products::WIRELESS_MOUSE, "Xero_Item_ID": "b2c3d4e5", "Xero_Sync_Status": "Synced"}], "trigger": []})
    );
    if let Err(violations) = Contract::zoho_record().check_request("PUT", "/crm/v8/Products", &body) {
        panic!("off contract:\n{violations}");
    }
}

#[tokio::test]
async fn update_writes_back_and_reports_zohos_modified_time() {
    let zoho = sim(1.0).await;
    let (zoho_client, _) = connected(&zoho).await;
    let change = fields(json!({
        "Xero_Item_ID": "b2c3d4e5-0000-4000-8000-000000000001",
        "Xero_Sync_Status": "Synced",
        "Xero_Last_Synced": "2026-11-26T10:00:00+11:00"
    }));
    let outcome = zoho_client.update_product(products::WIRELESS_MOUSE, change, None).await.expect("update");
    let stored = zoho.product(products::WIRELESS_MOUSE).expect("product");
    assert_eq!(stored["Xero_Item_ID"], "b2c3d4e5-0000-4000-8000-000000000001");
    assert_eq!(stored["Xero_Sync_Status"], "Synced");
    assert_eq!(stored["Xero_Last_Synced"], "2026-11-26T10:00:00+11:00");
    let UpdateOutcome::Updated { modified_time } = outcome else { panic!("{outcome:?}") };
    assert_eq!(stored["Modified_Time"], format_time(modified_time));
    assert_eq!(statuses(&zoho, "/crm/v8/Products"), [("PUT".to_string(), 200)]);
}

#[tokio::test]
async fn refused_values_name_the_field_and_missing_records_are_not_found() {
    let zoho = sim(1.0).await;
    let (zoho_client, _) = connected(&zoho).await;
    let bad = zoho_client.update_product(products::MONITOR_ARM, fields(json!({"Taxable": "yes"})), None).await;
    match bad {
        Err(ZohoError::Record { code, message, field }) => {
            assert_eq!(
                (code.as_str(), message.as_str(), field.as_deref()),
                ("INVALID_DATA", "invalid data", Some("Taxable"))
            );
        }
        other => panic!("{other:?}"),
    }
    let missing =
        zoho_client.update_product("4150868000000999999", fields(json!({"Xero_Sync_Status": "x"})), None).await;
    assert!(matches!(missing, Err(ZohoError::NotFound)), "{missing:?}");
    assert_eq!(statuses(&zoho, "/crm/v8/Products").len(), 2, "refusals are not retried");
    assert_eq!(zoho.product(products::MONITOR_ARM).expect("arm")["Taxable"], true);
}

#[tokio::test]
async fn if_unmodified_since_turns_a_newer_record_into_a_conflict() {
    let zoho = sim(1.0).await;
    let (zoho_client, _) = connected(&zoho).await;
    let seen = zoho.product(products::USB_C_HUB).expect("hub")["Modified_Time"].as_str().expect("time").to_string();
    let seen = DateTime::parse_from_rfc3339(&seen).expect("rfc3339");
    let first =
        zoho_client.update_product(products::USB_C_HUB, fields(json!({"Xero_Sync_Status": "first"})), Some(seen));
    assert!(matches!(first.await, Ok(UpdateOutcome::Updated { .. })));
    let second =
        zoho_client.update_product(products::USB_C_HUB, fields(json!({"Xero_Sync_Status": "second"})), Some(seen));
    assert_eq!(second.await.expect("answered"), UpdateOutcome::Conflict);
    assert_eq!(zoho.product(products::USB_C_HUB).expect("hub")["Xero_Sync_Status"], "first");
}

#[tokio::test]
async fn concurrent_reads_on_a_cold_cache_make_one_token_request() {
    let zoho = sim(1.0).await;
    let (_, vault) = connected(&zoho).await;
    let cold = client(&zoho, &vault); // same grant, no access token in memory
    zoho.set_latency(Duration::from_millis(30)); // the refresh is still in flight while the others ask
    let before = zoho.token_requests();
    let mut reads = tokio::task::JoinSet::new();
    for _ in 0..20 {
        let cold = cold.clone();
        reads.spawn(async move { cold.get_product(products::WIRELESS_MOUSE, &["Product_Code"]).await });
    }
    while let Some(read) = reads.join_next().await {
        assert!(read.expect("task").expect("read").is_some());
    }
    assert_eq!(zoho.token_requests() - before, 1);
    assert_eq!(statuses(&zoho, &product_path(products::WIRELESS_MOUSE)).len(), 20);
}

/// Access tokens live one simulated hour; at this scale 200 ms.
const FAST: f64 = 18_000.0;

/// Connects at [`FAST`] scale, where a Self Client code lives only 10 ms: a slow exchange is tried again
/// with a new code. Returns the token requests made so far.
async fn connected_fast(zoho: &ZohoSim) -> (ZohoClient, usize) {
    let vault = Arc::new(MemoryZohoVault::new());
    let zoho_client = client(zoho, &vault);
    for _ in 0..10 {
        match zoho_client.exchange_self_client_code(&zoho.self_client_code(SCOPES)).await {
            Ok(()) => return (zoho_client, zoho.token_requests()),
            Err(ZohoError::ReconnectNeeded(_)) => continue,
            Err(e) => panic!("exchange: {e}"),
        }
    }
    panic!("no exchange within a code's 10 ms life");
}

#[tokio::test]
async fn an_invalid_token_is_refreshed_and_the_call_retried_once() {
    let zoho = sim(FAST).await;
    let (zoho_client, connected_at) = connected_fast(&zoho).await;
    tokio::time::sleep(Clock::new(FAST).real(Duration::from_secs(3600 + 60))).await;
    let record = zoho_client.get_product(products::WIRELESS_MOUSE, &["Product_Code"]).await.expect("read");
    assert!(record.is_some());
    assert_eq!(zoho.token_requests() - connected_at, 1, "one refresh");
    let get = |status| ("GET".to_string(), status);
    assert_eq!(statuses(&zoho, &product_path(products::WIRELESS_MOUSE)), [get(401), get(200)]);
}

#[tokio::test]
async fn the_client_keeps_to_ten_token_requests_per_ten_minutes() {
    let zoho = sim(FAST).await;
    let (zoho_client, connected_at) = connected_fast(&zoho).await; // token request 1 of the budget
    let token_life = Clock::new(FAST).real(Duration::from_secs(3600 + 60));
    for n in 2..=10 {
        tokio::time::sleep(token_life).await;
        let read = zoho_client.get_product(products::WIRELESS_MOUSE, &["Product_Code"]).await;
        assert!(matches!(read, Ok(Some(_))), "read with token {n}: {read:?}");
    }
    assert_eq!(zoho.token_requests() - connected_at, 9);
    tokio::time::sleep(token_life).await;
    // Zoho's own window has long passed at this scale, so only the local budget can refuse here.
    let refused = zoho_client.get_product(products::WIRELESS_MOUSE, &["Product_Code"]).await;
    match refused {
        Err(ZohoError::RateLimited { retry_after: Some(after) }) => {
            assert!(after > Duration::from_secs(9 * 60) && after <= Duration::from_secs(10 * 60), "{after:?}")
        }
        other => panic!("{other:?}"),
    }
    assert_eq!(zoho.token_requests() - connected_at, 9, "refused locally, without asking Zoho");
}

#[tokio::test]
async fn zohos_too_many_requests_refusal_is_rate_limited_and_remembered() {
    let zoho = sim(1.0).await;
    let (_, vault) = connected(&zoho).await; // token request 1
    let refresh_token = vault.grant().expect("grant").refresh_token;
    let config = zoho.config();
    for _ in 2..=10 {
        // Another deployment (or a restart) spends the rest of Zoho's budget.
        let form = [
            ("grant_type", "refresh_token"),
            ("refresh_token", secrecy::ExposeSecret::expose_secret(&refresh_token)),
            ("client_id", config.client_id.as_str()),
            ("client_secret", config.client_secret.as_str()),
        ];
        let response = reqwest::Client::new().post(format!("{}/oauth/v2/token", zoho.url)).form(&form).send().await;
        assert_eq!(response.expect("sent").status(), 200);
    }
    let cold = client(&zoho, &vault);
    let refused = cold.get_product(products::WIRELESS_MOUSE, &[]).await;
    assert!(matches!(refused, Err(ZohoError::RateLimited { retry_after: Some(_) })), "{refused:?}");
    assert_eq!(zoho.token_requests(), 11);
    assert!(vault.grant().is_some() && vault.reconnect_reason().is_none(), "a rate limit is not a revoked grant");
    let again = cold.get_product(products::WIRELESS_MOUSE, &[]).await;
    assert!(matches!(again, Err(ZohoError::RateLimited { .. })), "{again:?}");
    assert_eq!(zoho.token_requests(), 11, "no more asking until the window has passed");
}

#[tokio::test]
async fn a_refused_grant_needs_reconnecting_and_is_not_retried() {
    let zoho = sim(1.0).await;
    let none = Arc::new(MemoryZohoVault::new());
    let read = client(&zoho, &none).get_product(products::WIRELESS_MOUSE, &[]).await;
    assert!(matches!(read, Err(ZohoError::ReconnectNeeded(_))), "{read:?}");
    assert_eq!(zoho.token_requests(), 0);

    let revoked = Arc::new(MemoryZohoVault::with_grant(ZohoGrant {
        refresh_token: "1000.revoked.token".into(),
        api_domain: zoho.url.clone(),
    }));
    let zoho_client = client(&zoho, &revoked);
    let read = zoho_client.get_product(products::WIRELESS_MOUSE, &[]).await;
    assert!(matches!(read, Err(ZohoError::ReconnectNeeded(_))), "{read:?}");
    assert!(revoked.reconnect_reason().is_some_and(|r| r.contains("invalid_code")), "{:?}", revoked.reconnect_reason());
    assert!(revoked.grant().is_none());
    let again = zoho_client.get_product(products::WIRELESS_MOUSE, &[]).await;
    assert!(matches!(again, Err(ZohoError::ReconnectNeeded(_))), "{again:?}");
    assert_eq!(zoho.token_requests(), 1, "a given-up grant is not tried again");

    let (narrow, vault) = connected_with(&zoho, &["ZohoCRM.settings.fields.READ"]).await;
    let read = narrow.get_product(products::WIRELESS_MOUSE, &[]).await;
    assert!(matches!(read, Err(ZohoError::ReconnectNeeded(_))), "{read:?}");
    assert!(vault.reconnect_reason().is_some_and(|r| r.contains("scope")), "{:?}", vault.reconnect_reason());
}

#[tokio::test]
async fn rate_limits_and_server_errors_are_retried() {
    let zoho = sim(1.0).await;
    let (zoho_client, _) = connected(&zoho).await;
    let path = product_path(products::INACTIVE);
    zoho.rate_limit_next(1);
    zoho.fail_next(1);
    let read = zoho_client.get_product(products::INACTIVE, &["Product_Active"]).await.expect("read after retries");
    assert_eq!(read.and_then(|r| r.get("Product_Active").cloned()), Some(json!(false)));
    let get = |status| ("GET".to_string(), status);
    assert_eq!(statuses(&zoho, &path), [get(429), get(500), get(200)]);

    zoho.fail_next(1);
    let outcome =
        zoho_client.update_product(products::INACTIVE, fields(json!({"Xero_Sync_Status": "retried"})), None).await;
    assert!(matches!(outcome, Ok(UpdateOutcome::Updated { .. })), "{outcome:?}");
    let put = |status| ("PUT".to_string(), status);
    assert_eq!(statuses(&zoho, "/crm/v8/Products"), [put(500), put(200)]);

    zoho.clear_calls();
    zoho.fail_next(10);
    let down = zoho_client.get_product(products::INACTIVE, &[]).await;
    assert!(matches!(down, Err(ZohoError::Unavailable(_))), "{down:?}");
    assert_eq!(statuses(&zoho, &path).len(), 4, "one try and three retries");
    zoho.clear_faults();
    zoho.rate_limit_next(10);
    let limited = zoho_client.products_modified_since(None, &["Product_Name"]).await;
    assert!(matches!(limited, Err(ZohoError::RateLimited { .. })), "{limited:?}");
    zoho.clear_faults();
}

/// The org's `domain_name` for record links: read with the org scope; without it only this call fails, and
/// the grant stays usable.
#[tokio::test]
async fn the_org_domain_name_needs_the_org_scope_only_for_itself() {
    let zoho = sim(1.0).await;
    let (with_scope, _) = connected_with(&zoho, &["ZohoCRM.modules.products.ALL", "ZohoCRM.org.READ"]).await;
    assert_eq!(with_scope.org_domain_name().await.expect("org"), sandbox::zoho::ORG_DOMAIN_NAME);

    let (without, vault) = connected(&zoho).await;
    match without.org_domain_name().await {
        Err(ZohoError::Unexpected { code, .. }) => assert_eq!(code, "OAUTH_SCOPE_MISMATCH"),
        other => panic!("expected a scope mismatch, got {other:?}"),
    }
    assert!(vault.reconnect_reason().is_none(), "the grant still syncs");
    assert!(without.get_product(products::WIRELESS_MOUSE, &[]).await.expect("read").is_some());
}

/// Point 8 / Z7: Zoho caps the calls an app has in flight (Free edition 5, Standard 10) and answers the
/// excess 429. The client keeps its own below, so forty reads at once meet no 429 even on the Free edition,
/// and each is sent once.
#[tokio::test]
async fn many_reads_at_once_stay_within_zohos_concurrency_cap() {
    let zoho = sim(1.0).await;
    zoho.set_limits(ZohoLimits { concurrency: Some(5), ..ZohoLimits::standard() });
    let (zoho_client, _) = connected(&zoho).await;
    zoho.set_latency(Duration::from_millis(40));
    let mut reads = tokio::task::JoinSet::new();
    for _ in 0..40 {
        let zoho_client = zoho_client.clone();
        reads.spawn(async move { zoho_client.get_product(products::WIRELESS_MOUSE, &["Product_Code"]).await });
    }
    while let Some(read) = reads.join_next().await {
        assert!(read.expect("task").expect("read").is_some());
    }
    let calls = statuses(&zoho, &product_path(products::WIRELESS_MOUSE));
    assert_eq!(calls.len(), 40, "no retries");
    assert!(calls.iter().all(|(_, status)| *status == 200), "{calls:?}");
    assert_eq!(backend::zoho::MAX_CALLS_IN_FLIGHT, 5, "the Free edition's cap, half the Standard's");
}

/// Point 8 / Z7: the organisation's API credits for the rolling 24 hours are spent. Zoho answers 429
/// with no `Retry-After`; after its retries (which cost no credit) the client says what ran out and when
/// credits come back.
#[tokio::test]
async fn spent_api_credits_are_a_rate_limit_that_says_what_ran_out() {
    let zoho = sim(1.0).await;
    let (zoho_client, vault) = connected(&zoho).await;
    zoho.set_limits(ZohoLimits { credits_per_day: 1, ..ZohoLimits::standard() });
    zoho_client.get_product(products::WIRELESS_MOUSE, &["Product_Code"]).await.expect("the last credit");
    let spent = zoho_client.get_product(products::USB_C_HUB, &["Product_Code"]).await;
    let Err(error @ ZohoError::RateLimited { retry_after: None }) = spent else { panic!("{spent:?}") };
    let message = error.to_string();
    assert!(message.contains("API credits for the last 24 hours"), "{message}");
    assert!(message.contains("24 hours after it was spent"), "{message}");
    assert_eq!(statuses(&zoho, &product_path(products::USB_C_HUB)).len(), 4, "the policy's attempts, no more");
    assert_eq!(zoho.credits().used, 1, "refused calls are not charged");
    assert!(vault.reconnect_reason().is_none(), "a spent quota is not a refused grant");
}
