//! The pre-filled tax mapping (`shared::defaults::prefill_tax_mapping`) on the demo's own data: the CRM's
//! `Tax` pick-list as the emulated CRM page's `META.getFields` answers it, and the Australian organisation's
//! tax rates as the Xero simulator's `GET /TaxRates` answers it. No browser: the two answers are fetched
//! over HTTP, as the backend and the widget fetch them.

use std::net::SocketAddr;

use sandbox::Clock;
use sandbox::crm_page::CrmPage;
use sandbox::xero::{AU_ORG, AuthorizeRequest, XeroConfig, XeroSim};
use sandbox::zoho::{ZohoConfig, ZohoSim, products};
use serde_json::{Value, json};
use shared::TaxRate;
use shared::defaults::prefill_tax_mapping;

const REDIRECT: &str = "http://127.0.0.1:9/callback";

/// The Australian organisation's tax rates, through a consent, a token and the Accounting API.
async fn au_tax_rates(xero: &XeroSim, config: &XeroConfig) -> Vec<TaxRate> {
    let consent = AuthorizeRequest {
        response_type: "code".into(),
        client_id: config.client_id.clone(),
        redirect_uri: REDIRECT.into(),
        scope: "offline_access accounting.settings".into(),
        state: Some("s".into()),
        ..AuthorizeRequest::default()
    };
    let code = xero.approve(&consent).expect("consent");
    let http = reqwest::Client::new();
    let token: Value = http
        .post(xero.token_url())
        .basic_auth(&config.client_id, Some(&config.client_secret))
        .form(&[("grant_type", "authorization_code"), ("code", code.as_str()), ("redirect_uri", REDIRECT)])
        .send()
        .await
        .expect("token")
        .json()
        .await
        .expect("token JSON");
    let tenant = xero.tenant_id(AU_ORG).expect("the AU organisation");
    let answer: Value = http
        .get(format!("{}/TaxRates", xero.api_url()))
        .bearer_auth(token["access_token"].as_str().expect("access token"))
        .header("xero-tenant-id", tenant)
        .header("accept", "application/json")
        .send()
        .await
        .expect("tax rates")
        .json()
        .await
        .expect("tax rates JSON");
    serde_json::from_value(answer["TaxRates"].clone()).expect("Xero's tax rates read as the backend reads them")
}

/// The CRM's taxes, as the widget reads them: `META.getFields` through the record page's host.
async fn crm_taxes(crm: &CrmPage) -> Vec<String> {
    let message = json!({"type": "SDK.EVENT", "eventName": "CRM_EVENT", "uniqueID": "u1", "time": 1,
        "promiseid": "Promise100", "data": {"category": "META", "type": "FIELD_LIST", "Entity": "Products", "sdkVersion": "1"}});
    let answer: Value = reqwest::Client::new()
        .post(format!("{}/crm-host/message", crm.url))
        .json(&json!({"record_id": products::WIRELESS_MOUSE, "message": message}))
        .send()
        .await
        .expect("host answers")
        .json()
        .await
        .expect("JSON");
    let fields = answer["replies"][0]["data"]["fields"].as_array().expect("fields").clone();
    let tax = fields.into_iter().find(|f| f["api_name"] == "Tax").expect("the Tax field");
    tax["pick_list_values"]
        .as_array()
        .expect("values")
        .iter()
        .filter_map(|v| v["display_value"].as_str().map(str::to_owned))
        .collect()
}

#[tokio::test]
async fn the_demo_organisations_taxes_map_to_output_and_exemptoutput() {
    let loopback = SocketAddr::from(([127, 0, 0, 1], 0));
    let config = XeroConfig::default();
    let xero = XeroSim::start(loopback, Clock::new(1.0), config.clone()).await.expect("xero");
    let zoho = ZohoSim::start(loopback, Clock::new(1.0), ZohoConfig::default()).await.expect("zoho");
    let crm = CrmPage::start(loopback, zoho).await.expect("crm page");

    let (rates, taxes) = (au_tax_rates(&xero, &config).await, crm_taxes(&crm).await);
    assert_eq!(taxes, ["GST - 10.0 %", "GST Free - 0.0 %"]);
    let names: Vec<&str> = taxes.iter().map(String::as_str).collect();
    let proposal = prefill_tax_mapping(&names, &rates);
    let mapped: Vec<(&str, &str)> = proposal.mapped.iter().map(|m| (m.crm_tax.as_str(), m.tax_type.as_str())).collect();
    assert_eq!(mapped, [("GST - 10.0 %", "OUTPUT"), ("GST Free - 0.0 %", "EXEMPTOUTPUT")]);
    assert!(proposal.unmapped.is_empty());
    // The 0 % rates the GST Free tax could have been mistaken for are offered for sales too.
    let zero: Vec<&str> =
        rates.iter().filter(|r| r.is_selectable() && r.effective_rate == Some(0.0)).map(|r| r.name.as_str()).collect();
    assert!(zero.len() > 1, "{zero:?}");
}
