//! The emulated CRM record page in real headless Chromium: it frames a widget page served from another
//! loopback origin, which loads the stand-in SDK and goes through the whole embedded-app protocol:
//! REGISTER → SET_CONTEXT → PageLoad, getRecord, updateRecord (seen by the Zoho simulator),
//! getCurrentUser, CONNECTION.invoke (answered by a fake backend that checks the API key), Resize, close.

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::Html;
use axum::routing::{get, post};
use axum::{Json, Router};
use e2e::browser::Browser;
use fantoccini::Locator;
use sandbox::Clock;
use sandbox::crm_page::CrmPage;
use sandbox::zoho::{ZohoConfig, ZohoSim, products};
use serde_json::{Value, json};

const API_KEY: &str = "sandbox-test-key-7f3a9c";
/// The Connection name the widget invokes.
const CONNECTION: &str = shared::wire::CONNECTION_NAME;

async fn serve(app: Router) -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let url = format!("http://{}", listener.local_addr().expect("addr"));
    tokio::spawn(async move { axum::serve(listener, app).await });
    url
}

/// What the fake backend received: the API key header and the body of each call.
type Received = Arc<Mutex<Vec<(Option<String>, Value)>>>;

/// The backend behind the Connection: answers `POST /api/sync` only with the right key.
async fn fake_backend(received: Received) -> String {
    async fn sync(
        State(received): State<Received>,
        headers: HeaderMap,
        Json(body): Json<Value>,
    ) -> (StatusCode, Json<Value>) {
        let key = headers.get("x-api-key").and_then(|v| v.to_str().ok()).map(str::to_string);
        let authorised = key.as_deref() == Some(API_KEY);
        received.lock().unwrap_or_else(|p| p.into_inner()).push((key, body.clone()));
        if authorised {
            (StatusCode::OK, Json(json!({"outcome": "synced", "record_id": body["record_id"]})))
        } else {
            (StatusCode::UNAUTHORIZED, Json(json!({"outcome": "unauthorised"})))
        }
    }
    serve(Router::new().route("/api/sync", post(sync)).with_state(received)).await
}

/// A stand-in widget on its own origin: loads the SDK from the CRM page's server and writes what it saw into
/// `#result` as JSON.
async fn test_widget(sdk_url: &str, backend_url: &str) -> String {
    let page = format!(
        r#"<!doctype html><html><head><meta charset="utf-8"><title>test widget</title>
<script src="{sdk_url}"></script></head>
<body style="font: 13px sans-serif; margin: 12px"><h3>Test widget</h3><pre id="result">waiting…</pre>
<script>
const out = {{ search: location.search }};
const BACKEND = {backend};
function done() {{
  const el = document.getElementById('result');
  el.textContent = JSON.stringify(out, null, 1);
  el.setAttribute('data-done', '1');
}}
try {{ ZOHO.CRM.API.getRecord({{ Entity: 'Products', RecordID: '1' }}); }} catch (e) {{ out.beforeInit = e.name; }}
ZOHO.embeddedApp.on('PageLoad', async function (data) {{
  out.pageLoad = data;
  try {{
    const id = data.EntityId[0];
    const got = await ZOHO.CRM.API.getRecord({{ Entity: data.Entity, RecordID: id }});
    out.record = {{ id: got.data[0].id, name: got.data[0].Product_Name, code: got.data[0].Product_Code }};
    try {{ await ZOHO.CRM.API.getRecord({{ Entity: 'Products', RecordID: '4150868000000999999' }}); }}
    catch (e) {{ out.missing = e; }}
    const apiData = {{ id: id, Xero_Sync_Status: 'Synced from widget' }};
    const updated = await ZOHO.CRM.API.updateRecord({{ Entity: 'Products', APIData: apiData, Trigger: [] }});
    out.update = updated.data[0];
    out.triggerMoved = apiData.trigger;
    const user = await ZOHO.CRM.CONFIG.getCurrentUser();
    out.user = user.users[0].full_name;
    out.sync = await ZOHO.CRM.CONNECTION.invoke('{CONNECTION}', {{
      url: BACKEND + '/api/sync', method: 'POST', param_type: 2,
      parameters: {{ record_id: id }}, headers: {{ 'X-Api-Key': 'forged-by-the-browser' }}
    }});
    out.resized = await ZOHO.CRM.UI.Resize({{ height: 420, width: 640 }});
  }} catch (e) {{
    out.error = String(e) + ' ' + JSON.stringify(e);
  }}
  done();
}});
ZOHO.embeddedApp.init().then(function () {{ out.initResolved = true; }});
</script></body></html>"#,
        backend = serde_json::to_string(backend_url).expect("string"),
    );
    serve(Router::new().route("/widget/index.html", get(move || async move { Html(page) }))).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn crm_page_frames_a_cross_origin_widget_that_speaks_the_sdk_protocol() {
    let loopback = SocketAddr::from(([127, 0, 0, 1], 0));
    let zoho = ZohoSim::start(loopback, Clock::new(1.0), ZohoConfig::default()).await.expect("zoho");
    let crm = CrmPage::start(loopback, zoho.clone()).await.expect("crm page");
    let received: Received = Arc::default();
    let backend = fake_backend(received.clone()).await;
    let widget = test_widget(&crm.sdk_url(), &backend).await;
    crm.set_widget_url(&format!("{widget}/widget/index.html"));
    crm.set_connection(CONNECTION, &backend, API_KEY);

    Browser::run(move |browser| checks(browser, zoho, crm, widget, received)).await;
}

async fn checks(browser: Browser, zoho: ZohoSim, crm: CrmPage, widget: String, received: Received) {
    let client = browser.client.clone();
    let record_id = products::NO_CODE_NO_GL_ACCOUNT;
    client.goto(&crm.record_url(record_id)).await.expect("record page");
    let heading = client.find(Locator::Id("record-name")).await.expect("heading").text().await.expect("text");
    assert_eq!(heading, "Mouse Pad");
    let code = client.find(Locator::Css(r#"dd[data-field="Product_Code"]"#)).await.expect("code").text().await;
    assert_eq!(code.expect("text"), "—", "the record's missing code is shown as empty");

    client.find(Locator::Id("sync-to-xero")).await.expect("button").click().await.expect("click");
    let frame = client.wait().at_most(Duration::from_secs(10)).for_element(Locator::Id("widget-frame")).await;
    frame.expect("the popup frames the widget").enter_frame().await.expect("enter widget frame");
    let result = client
        .wait()
        .at_most(Duration::from_secs(20))
        .for_element(Locator::Css("#result[data-done]"))
        .await
        .expect("the widget finished");
    let out: Value = serde_json::from_str(&result.text().await.expect("text")).expect("widget JSON");

    // The widget URL carries serviceOrigin (the CRM page's origin) and is on another origin.
    let search = out["search"].as_str().expect("search");
    let encoded_origin = crm.url.replace(':', "%3A").replace('/', "%2F");
    assert!(search.contains(&format!("serviceOrigin={encoded_origin}")), "{search}");
    assert_ne!(widget, crm.url);
    assert_eq!(out["beforeInit"], "TypeError", "calls before init() throw, as with Zoho's SDK");
    assert_eq!(out["initResolved"], true);
    assert_eq!(out["error"], Value::Null, "{out:#}");
    assert_eq!(out["pageLoad"], json!({"Entity": "Products", "EntityId": [record_id], "ButtonPosition": "DetailView"}));
    assert_eq!(out["record"], json!({"id": record_id, "name": "Mouse Pad", "code": null}));
    assert_eq!(out["missing"]["status"], "error", "getRecord rejects with the raw Zoho error: {out:#}");
    assert_eq!(out["missing"]["code"], "INVALID_DATA");
    assert_eq!(out["update"]["code"], "SUCCESS");
    assert_eq!(out["update"]["details"]["id"], record_id);
    assert_eq!(out["triggerMoved"], json!([]), "updateRecord moves Trigger into APIData.trigger");
    assert_eq!(out["user"], "Olivia Nguyen");
    assert_eq!(out["sync"]["code"], "SUCCESS");
    assert_eq!(out["sync"]["details"]["statusMessage"], json!({"outcome": "synced", "record_id": record_id}));
    assert_eq!(out["resized"], true);

    // The update reached the Zoho simulator, so the REST API sees it too.
    let stored = zoho.product(record_id).expect("record");
    assert_eq!(stored["Xero_Sync_Status"], "Synced from widget");
    assert_eq!(stored["Modified_Time"], out["update"]["details"]["Modified_Time"]);

    // The backend got the connection's key, server-side, and not the one the browser tried to set.
    let calls = received.lock().unwrap_or_else(|p| p.into_inner()).clone();
    assert_eq!(calls, [(Some(API_KEY.to_string()), json!({"record_id": record_id}))]);
    let widget_source = client.source().await.expect("widget source");
    assert!(!widget_source.contains(API_KEY));

    client.enter_parent_frame().await.expect("back to the CRM page");
    let size = client
        .execute("const f = document.getElementById('widget-frame'); return [f.style.width, f.style.height];", vec![])
        .await
        .expect("frame size");
    assert_eq!(size, json!(["640px", "420px"]), "UI.Resize resized the popup iframe");
    assert!(!client.source().await.expect("page source").contains(API_KEY), "the key never reaches the browser");
    browser.screenshot("crm_page").await;

    // Popup.close closes the popup (the widget's page goes with it, as in CRM).
    client.find(Locator::Id("widget-frame")).await.expect("frame").enter_frame().await.expect("enter");
    client.execute("ZOHO.CRM.UI.Popup.close(); return true;", vec![]).await.expect("close");
    client.enter_parent_frame().await.expect("parent");
    let deadline = Instant::now() + Duration::from_secs(10);
    while client.find(Locator::Id("widget-popup")).await.is_ok() {
        assert!(Instant::now() < deadline, "the popup did not close");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }

    // The host saw the SDK's wire protocol: REGISTER first, then CRM_EVENTs numbered from Promise100.
    let messages = crm.messages();
    assert_eq!(messages[0]["eventName"], "REGISTER");
    assert_eq!(messages[0]["type"], "SDK.EVENT");
    let app_origin = messages[0]["appOrigin"].as_str().expect("appOrigin");
    assert!(app_origin.starts_with("http%3A%2F%2F127.0.0.1"), "{app_origin}");
    let events: Vec<&Value> = messages.iter().filter(|m| m["eventName"] == "CRM_EVENT").collect();
    let ids: Vec<&str> = events.iter().map(|m| m["promiseid"].as_str().expect("promiseid")).collect();
    assert_eq!(ids, ["Promise100", "Promise101", "Promise102", "Promise103", "Promise104", "Promise105", "Promise106"]);
    let unique_id = events[0]["uniqueID"].as_str().expect("uniqueID");
    assert!(events.iter().all(|m| m["uniqueID"] == unique_id && m["data"]["sdkVersion"] == "1"));
    let invoke = &events[4]["data"];
    assert_eq!(invoke["category"], "CRM_CONNECTION");
    assert_eq!(invoke["connectionName"], CONNECTION);
    assert_eq!(invoke["data"]["data"]["parameters"], json!(format!(r#"{{"record_id":"{record_id}"}}"#)));
}

/// Posts one widget message to the page's host endpoint, as crm_host.js does; returns `{replies, ui}`.
async fn host(crm: &CrmPage, record_id: &str, message: Value) -> Value {
    let response = reqwest::Client::new()
        .post(format!("{}/crm-host/message", crm.url))
        .json(&json!({"record_id": record_id, "message": message}))
        .send()
        .await
        .expect("sent");
    assert_eq!(response.status(), StatusCode::OK);
    response.json().await.expect("json")
}

fn crm_event(promiseid: &str, data: Value) -> Value {
    json!({"type": "SDK.EVENT", "eventName": "CRM_EVENT", "uniqueID": "u1", "time": 1, "promiseid": promiseid, "data": data})
}

/// The host's answers without a browser: PageLoad overrides, failing and hanging requests, rejected
/// updates, field metadata, and connections that keep their key to their own service.
#[tokio::test]
async fn host_answers_can_be_shaped_failed_or_withheld() {
    let loopback = SocketAddr::from(([127, 0, 0, 1], 0));
    let zoho = ZohoSim::start(loopback, Clock::new(1.0), ZohoConfig::default()).await.expect("zoho");
    let crm = CrmPage::start(loopback, zoho.clone()).await.expect("crm page");
    let received: Received = Arc::default();
    let backend = fake_backend(received.clone()).await;
    crm.set_connection(CONNECTION, &backend, API_KEY);
    let id = products::WIRELESS_MOUSE;

    let register = json!({"type": "SDK.EVENT", "eventName": "REGISTER", "appOrigin": "http%3A%2F%2Fwidget"});
    let answer = host(&crm, id, register.clone()).await;
    let names: Vec<&str> =
        answer["replies"].as_array().expect("replies").iter().map(|r| r["eventName"].as_str().expect("name")).collect();
    assert_eq!(names, ["SET_CONTEXT", "PageLoad"]);
    assert!(answer["replies"][0]["data"]["uniqueID"].is_string());
    assert_eq!(answer["replies"][1]["type"], "FRAMEWORK.EVENT");

    crm.set_page_load(Some(json!({"Entity": "Products", "EntityId": id, "ButtonPosition": "DetailView"})));
    let answer = host(&crm, id, register).await;
    assert_eq!(answer["replies"][1]["data"]["EntityId"], id, "a test-chosen PageLoad (string EntityId)");

    let read = crm_event(
        "Promise100",
        json!({"category": "READ", "APIData": {"Entity": "Products", "RecordID": id}, "sdkVersion": "1"}),
    );
    let answer = host(&crm, id, read.clone()).await;
    assert_eq!(answer["replies"][0]["eventName"], "EVENT_RESPONSE");
    assert_eq!(answer["replies"][0]["promiseid"], "Promise100");
    assert_eq!(answer["replies"][0]["data"]["data"][0]["Product_Code"], "WM-100");

    crm.set_event_fault(Some(sandbox::crm_page::EventFault::Fail));
    let answer = host(&crm, id, read.clone()).await;
    assert_eq!(answer["replies"][0]["eventName"], "EVENT_RESPONSE_FAILURE");
    assert_eq!(answer["replies"][0]["data"]["code"], "INVALID_DATA");
    crm.set_event_fault(Some(sandbox::crm_page::EventFault::Hang));
    assert_eq!(host(&crm, id, read).await["replies"], json!([]), "never answered");
    crm.set_event_fault(None);

    let bad_update = crm_event(
        "Promise101",
        json!({"category": "UPDATE", "type": "RECORD", "Entity": "Products", "APIData": {"id": id, "Taxable": "yes", "trigger": []}}),
    );
    let answer = host(&crm, id, bad_update).await;
    assert_eq!(answer["replies"][0]["eventName"], "EVENT_RESPONSE_FAILURE");
    assert_eq!(answer["replies"][0]["data"]["details"]["api_name"], "Taxable");
    assert_eq!(zoho.product(id).expect("record")["Taxable"], true);

    let elsewhere = crm_event(
        "Promise102",
        json!({"category": "CRM_CONNECTION", "connectionName": CONNECTION,
               "data": {"data": {"url": "http://127.0.0.1:9/steal", "method": "POST", "param_type": 2, "parameters": "{}", "headers": "{}"}}}),
    );
    let answer = host(&crm, id, elsewhere).await;
    assert_eq!(answer["replies"][0]["data"]["code"], "NO_PERMISSION", "the key stays with its service");
    let unknown = crm_event(
        "Promise103",
        json!({"category": "CRM_CONNECTION", "connectionName": "nope", "data": {"data": {"url": backend}}}),
    );
    assert_eq!(host(&crm, id, unknown).await["replies"][0]["eventName"], "EVENT_RESPONSE_FAILURE");
    assert!(received.lock().unwrap_or_else(|p| p.into_inner()).is_empty());

    // Field metadata: the Tax multi-select lists the org's taxes; only Products is emulated.
    let meta = crm_event("Promise105", json!({"category": "META", "type": "FIELD_LIST", "Entity": "Products"}));
    let answer = host(&crm, id, meta).await;
    let fields = answer["replies"][0]["data"]["fields"].as_array().expect("fields").clone();
    let tax = fields.iter().find(|f| f["api_name"] == "Tax").expect("Tax field");
    let taxes: Vec<&str> = tax["pick_list_values"]
        .as_array()
        .expect("values")
        .iter()
        .filter_map(|v| v["display_value"].as_str())
        .collect();
    assert_eq!(taxes, ["GST - 10.0 %", "GST Free - 0.0 %"]);
    assert!(fields.iter().any(|f| f["api_name"] == "Xero_GL_Account" && f["custom_field"] == true));
    let leads = crm_event("Promise106", json!({"category": "META", "type": "FIELD_LIST", "Entity": "Leads"}));
    assert_eq!(host(&crm, id, leads).await["replies"][0]["data"]["code"], "INVALID_MODULE");

    let resize =
        crm_event("Promise104", json!({"category": "UI", "action": "RESIZE", "data": {"width": 500, "height": "80%"}}));
    let answer = host(&crm, id, resize).await;
    assert_eq!(answer["ui"], json!({"resize": {"width": 500, "height": "80%"}}));
    // `Popup.closeReload`, as Zoho's SDK sends it: the page closes the popup and reloads the record, so it
    // shows what the widget wrote (crm_host.js performs it; the widget's end-to-end test sees the Item ID).
    let close_reload = crm_event("Promise107", json!({"category": "UI", "action": {"popup": "CLOSE_RELOAD"}}));
    let answer = host(&crm, id, close_reload).await;
    assert_eq!(answer["ui"], json!({"popup": "reload"}));
    assert_eq!(answer["replies"][0]["eventName"], "EVENT_RESPONSE");
    let deregister = json!({"type": "SDK.EVENT", "eventName": "DEREGISTER", "uniqueID": "u1"});
    assert_eq!(host(&crm, id, deregister).await["replies"], json!([]));
    assert_eq!(crm.messages().len(), 13);
}
