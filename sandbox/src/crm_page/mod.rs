//! Emulated Zoho CRM product record page: the host side of the embedded-app protocol
//! (`../shared/reference/zoho-crm.md` §3).
//!
//! `GET /crm/{org}/tab/Products/{id}` renders the record from the [`ZohoSim`] with a "Sync to Xero" button.
//! The button opens the widget in a popup iframe on the widget's own origin, with `?serviceOrigin=<this
//! page's origin>` appended. The page's script (`assets/crm_host.js`) relays every SDK message from the
//! iframe to `POST /crm-host/message`, where this module answers it (REGISTER → SET_CONTEXT + PageLoad,
//! CRM_EVENT → EVENT_RESPONSE / EVENT_RESPONSE_FAILURE), and posts the answers back to the iframe.
//! `CONNECTION.invoke` is forwarded from here, server-side, with the connection's API key, so the key
//! never reaches the browser. `/zoho-sdk/ZohoEmbededAppSDK.min.js` serves the project's stand-in for
//! Zoho's SDK (`assets/ZohoEmbededAppSDK.js`).

mod render;

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use axum::extract::{Path, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{Html, IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use crate::ServerGuard;
use crate::zoho::ZohoSim;

/// The header a connection's API key travels in unless [`CrmPage::set_api_key_header`] changes it.
pub const DEFAULT_API_KEY_HEADER: &str = "X-Api-Key";
/// The org segment of record URLs (`/crm/org7001234567/tab/Products/{id}`): the Zoho simulator's
/// `domain_name` (`GET /crm/v8/org`).
pub const ORG_PATH: &str = crate::zoho::ORG_DOMAIN_NAME;
/// How long a forwarded `CONNECTION.invoke` may take (Zoho buffers the whole response).
const INVOKE_TIMEOUT: Duration = Duration::from_secs(30);

const HOST_JS: &str = include_str!("../../assets/crm_host.js");
const SDK_JS: &str = include_str!("../../assets/ZohoEmbededAppSDK.js");

/// A running emulated CRM page. Cheap to clone; the listener stops when the last clone is dropped.
#[derive(Clone)]
pub struct CrmPage {
    pub url: String,
    inner: Arc<Inner>,
    _server: Arc<ServerGuard>,
}

/// How the host answers CRM_EVENT requests, to exercise the widget's error paths.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EventFault {
    /// Every request is answered with EVENT_RESPONSE_FAILURE and an `INVALID_DATA` error.
    Fail,
    /// No request is ever answered (the SDK has no timeout).
    Hang,
}

struct Inner {
    zoho: ZohoSim,
    http: reqwest::Client,
    state: Mutex<HostState>,
}

#[derive(Default)]
struct HostState {
    widget_url: Option<String>,
    connections: HashMap<String, Connection>,
    api_key_header: Option<String>,
    messages: Vec<Value>,
    fault: Option<EventFault>,
    page_load: Option<Value>,
}

/// A Zoho Connection: calls are allowed under `base_url` and carry `api_key`.
#[derive(Debug, Clone)]
struct Connection {
    base_url: String,
    api_key: String,
}

impl CrmPage {
    pub async fn start(addr: SocketAddr, zoho: ZohoSim) -> std::io::Result<Self> {
        let (listener, url) = crate::bind(addr).await?;
        let http = reqwest::Client::builder().timeout(INVOKE_TIMEOUT).build().map_err(std::io::Error::other)?;
        let inner = Arc::new(Inner { zoho, http, state: Mutex::new(HostState::default()) });
        let app = Router::new()
            .route("/", get(index))
            .route("/crm/{org}/tab/Products/{id}", get(record_page))
            .route("/crm/tab/Products/{id}", get(record_page_without_org))
            .route("/crm-host/host.js", get(host_js))
            .route("/crm-host/message", post(message))
            .route("/zoho-sdk/ZohoEmbededAppSDK.min.js", get(sdk_js))
            .with_state(inner.clone());
        Ok(Self { url, inner, _server: Arc::new(crate::serve(listener, app)) })
    }

    /// The record page of product `id`.
    pub fn record_url(&self, id: &str) -> String {
        format!("{}/crm/{ORG_PATH}/tab/Products/{id}", self.url)
    }

    /// The stand-in SDK's URL, for the widget's `<script>` tag.
    pub fn sdk_url(&self) -> String {
        format!("{}/zoho-sdk/ZohoEmbededAppSDK.min.js", self.url)
    }

    /// The page the "Sync to Xero" button opens (CRM appends `serviceOrigin` and `frameorigin`).
    pub fn set_widget_url(&self, url: &str) {
        self.lock().widget_url = Some(url.to_string());
    }

    /// Creates or replaces the Connection `name`: calls to URLs under `base_url` get the API key header.
    pub fn set_connection(&self, name: &str, base_url: &str, api_key: &str) {
        let connection = Connection { base_url: base_url.trim_end_matches('/').to_string(), api_key: api_key.into() };
        self.lock().connections.insert(name.to_string(), connection);
    }

    /// The header connections put their API key in (default [`DEFAULT_API_KEY_HEADER`]).
    pub fn set_api_key_header(&self, header: &str) {
        self.lock().api_key_header = Some(header.to_string());
    }

    /// Every SDK message received from widgets, oldest first.
    pub fn messages(&self) -> Vec<Value> {
        self.lock().messages.clone()
    }

    /// Makes CRM_EVENT requests fail or hang; `None` answers them normally.
    pub fn set_event_fault(&self, fault: Option<EventFault>) {
        self.lock().fault = fault;
    }

    /// Replaces the PageLoad data (e.g. a string `EntityId`, or an empty array); `None` sends the real one.
    pub fn set_page_load(&self, data: Option<Value>) {
        self.lock().page_load = data;
    }

    fn lock(&self) -> MutexGuard<'_, HostState> {
        self.inner.lock()
    }
}

impl Inner {
    fn lock(&self) -> MutexGuard<'_, HostState> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }
}

async fn index(State(inner): State<Arc<Inner>>) -> Html<String> {
    Html(render::index(&inner.zoho.products()))
}

async fn record_page(State(inner): State<Arc<Inner>>, Path((_org, id)): Path<(String, String)>) -> Response {
    record_page_without_org(State(inner), Path(id)).await
}

async fn record_page_without_org(State(inner): State<Arc<Inner>>, Path(id): Path<String>) -> Response {
    let widget_url = inner.lock().widget_url.clone();
    match inner.zoho.product(&id) {
        Some(record) => {
            Html(render::record(&record, widget_url.as_deref(), &inner.zoho.config().fields)).into_response()
        }
        None => (StatusCode::NOT_FOUND, Html(render::not_found(&id))).into_response(),
    }
}

fn javascript(body: &'static str, cross_origin: bool) -> Response {
    let mut response = ([(header::CONTENT_TYPE, "text/javascript; charset=utf-8")], body).into_response();
    let headers = response.headers_mut();
    if cross_origin {
        // Loaded by widget pages on other origins, like Zoho's CDN copy.
        headers.insert(header::ACCESS_CONTROL_ALLOW_ORIGIN, HeaderValue::from_static("*"));
        headers.insert("cross-origin-resource-policy", HeaderValue::from_static("cross-origin"));
        headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("public, max-age=300"));
    } else {
        headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
    }
    response
}

async fn host_js() -> Response {
    javascript(HOST_JS, false)
}

async fn sdk_js() -> Response {
    javascript(SDK_JS, true)
}

#[derive(Deserialize)]
struct HostRequest {
    record_id: String,
    message: Value,
}

/// What the page does with one widget message: messages to post back, and a UI action to perform.
#[derive(Serialize, Default)]
struct HostReply {
    replies: Vec<Value>,
    ui: Option<Value>,
}

fn framework_event(event_name: &str, data: Value) -> Value {
    json!({"type": "FRAMEWORK.EVENT", "eventName": event_name, "data": data})
}

fn error(code: &str, message: &str, details: Value) -> Value {
    json!({"status": "error", "code": code, "message": message, "details": details})
}

/// `POST /crm-host/message`: answers one message the widget posted to the page.
async fn message(State(inner): State<Arc<Inner>>, Json(request): Json<HostRequest>) -> Json<HostReply> {
    let message = request.message;
    let fault = {
        let mut state = inner.lock();
        state.messages.push(message.clone());
        state.fault
    };
    let mut reply = HostReply::default();
    match message["eventName"].as_str() {
        Some("REGISTER") => {
            let unique_id = uuid::Uuid::new_v4().simple().to_string();
            let context = json!({
                "uniqueID": unique_id,
                "connectors": {},
                "model": {},
                "locale": "en_AU",
                "localeResource": {},
            });
            let default_page_load =
                json!({"Entity": "Products", "EntityId": [request.record_id], "ButtonPosition": "DetailView"});
            let page_load = inner.lock().page_load.clone().unwrap_or(default_page_load);
            reply.replies = vec![framework_event("SET_CONTEXT", context), framework_event("PageLoad", page_load)];
        }
        Some("CRM_EVENT") => {
            let outcome = match fault {
                Some(EventFault::Hang) => None,
                Some(EventFault::Fail) => Some(Err(error("INVALID_DATA", "invalid data", json!({})))),
                None => Some(inner.crm_event(&message["data"], &mut reply.ui).await),
            };
            if let Some(outcome) = outcome {
                let (name, data) = match outcome {
                    Ok(data) => ("EVENT_RESPONSE", data),
                    Err(data) => ("EVENT_RESPONSE_FAILURE", data),
                };
                let mut event = framework_event(name, data);
                event["promiseid"] = message["promiseid"].clone();
                reply.replies.push(event);
            }
        }
        // DEREGISTER and anything else: recorded, not answered.
        _ => {}
    }
    Json(reply)
}

impl Inner {
    /// Answers one CRM_EVENT `data` (§3.3); may set the UI action the page performs.
    async fn crm_event(&self, data: &Value, ui: &mut Option<Value>) -> Result<Value, Value> {
        let module_error = || error("INVALID_MODULE", "The module name given seems to be invalid", json!({}));
        match data["category"].as_str() {
            Some("READ") => {
                let api = &data["APIData"];
                if api["Entity"] != "Products" {
                    return Err(module_error());
                }
                let ids: Vec<String> = match &api["RecordID"] {
                    Value::Array(ids) => ids.iter().filter_map(id_string).collect(),
                    one => id_string(one).into_iter().collect(),
                };
                if ids.is_empty() {
                    return Err(error(
                        "REQUIRED_PARAM_MISSING",
                        "One of the expected parameter is missing",
                        json!({"param_name": "RecordID"}),
                    ));
                }
                self.zoho.widget_get(&ids)
            }
            Some("UPDATE") if data["type"] == "RECORD" => {
                if data["Entity"] != "Products" {
                    return Err(module_error());
                }
                self.zoho.widget_update(data["APIData"].clone())
            }
            Some("UI") => {
                let action = match (&data["action"], data["action"]["popup"].as_str()) {
                    (Value::String(a), _) if a == "RESIZE" => json!({"resize": data["data"]}),
                    (_, Some("CLOSE")) => json!({"popup": "close"}),
                    (_, Some("CLOSE_RELOAD")) => json!({"popup": "reload"}),
                    (_, Some("SHOW_MSG")) => json!({"message": data["data"]}),
                    _ => {
                        return Err(error(
                            "NOT_SUPPORTED",
                            "UI action not supported",
                            json!({"action": data["action"]}),
                        ));
                    }
                };
                *ui = Some(action);
                Ok(json!(true))
            }
            Some("CONFIG") => match data["type"].as_str() {
                Some("CURRENT_USER") => Ok(json!({"users": [self.zoho.current_user()]})),
                Some("ORG_LEVEL_INFO") => Ok(json!({
                    "deployment": "AU",
                    "ZGID": "7001234567",
                    "ZUID": self.zoho.current_user()["zuid"],
                    "appDetails": {"appUrl": self.zoho.url},
                })),
                Some("ORG") => Ok(json!({"org": [{
                    "id": "4150868000000020001",
                    "company_name": "Sandbox Trading Pty Ltd",
                    "domain_name": ORG_PATH,
                    "currency": "AUD",
                    "currency_symbol": "A$",
                    "country_code": "AU",
                    "time_zone": "Australia/Sydney",
                }]})),
                _ => Err(error("NOT_SUPPORTED", "config type not supported", json!({"type": data["type"]}))),
            },
            Some("META") => match (data["type"].as_str(), data["Entity"].as_str()) {
                (Some("FIELD_LIST"), Some("Products")) => Ok(self.zoho.widget_fields()),
                (Some("FIELD_LIST"), _) => Err(module_error()),
                _ => Err(error("NOT_SUPPORTED", "meta type not supported", json!({"type": data["type"]}))),
            },
            Some("CRM_CONNECTION") => {
                let name = data["connectionName"].as_str().unwrap_or_default();
                self.invoke(name, &data["data"]["data"]).await
            }
            other => Err(error("NOT_SUPPORTED", "not emulated by the sandbox", json!({"category": other}))),
        }
    }

    /// `CONNECTION.invoke`: makes the call server-side with the connection's key, as Zoho's servers do, and
    /// hands back the remote body (not its status) in `details.statusMessage`.
    async fn invoke(&self, name: &str, request: &Value) -> Result<Value, Value> {
        let (connection, key_header) = {
            let state = self.lock();
            let header = state.api_key_header.clone().unwrap_or_else(|| DEFAULT_API_KEY_HEADER.into());
            (state.connections.get(name).cloned(), header)
        };
        let connection =
            connection.ok_or_else(|| error("INVALID_DATA", "connection not found", json!({"connectionName": name})))?;
        let url = request["url"].as_str().unwrap_or_default();
        // Connections are bound to their service: the key is never sent anywhere else.
        let under_base =
            url.strip_prefix(&connection.base_url).is_some_and(|rest| rest.is_empty() || rest.starts_with(['/', '?']));
        if !under_base {
            return Err(error("NO_PERMISSION", "URL not allowed for this connection", json!({"url": url})));
        }
        let method = request["method"].as_str().unwrap_or("GET").to_ascii_uppercase();
        let method = reqwest::Method::from_bytes(method.as_bytes())
            .map_err(|_| error("INVALID_DATA", "invalid data", json!({"param_name": "method"})))?;
        // The SDK JSON-stringifies `parameters` and `headers`; accept plain objects too.
        let object = |value: &Value| match value {
            Value::String(text) => serde_json::from_str::<Value>(text).unwrap_or(Value::Null),
            other => other.clone(),
        };
        let parameters = object(&request["parameters"]);
        let headers = object(&request["headers"]);
        let mut call = self.http.request(method.clone(), url);
        if let Value::Object(headers) = &headers {
            for (name, value) in headers.iter().filter(|(n, _)| !n.eq_ignore_ascii_case(&key_header)) {
                let value = value.as_str().map(str::to_string).unwrap_or_else(|| value.to_string());
                call = call.header(name.as_str(), value);
            }
        }
        call = call.header(key_header.as_str(), connection.api_key.as_str());
        let has_body = !matches!(method, reqwest::Method::GET | reqwest::Method::DELETE | reqwest::Method::HEAD);
        // param_type 2 sends `parameters` as a JSON body; otherwise (1, the default) as form fields or a
        // query string.
        call = match (&parameters, request["param_type"].as_i64(), has_body) {
            (Value::Null, _, _) => call,
            (params, Some(2), true) => call.json(params),
            (Value::Object(params), _, body) => {
                let pairs: Vec<(String, String)> = params
                    .iter()
                    .map(|(k, v)| (k.clone(), v.as_str().map(str::to_string).unwrap_or_else(|| v.to_string())))
                    .collect();
                if body { call.form(&pairs) } else { call.query(&pairs) }
            }
            _ => return Err(error("INVALID_DATA", "invalid data", json!({"param_name": "parameters"}))),
        };
        let response = call.send().await.map_err(|e| {
            error("INTERNAL_ERROR", "Internal server error occurred.", json!({"reason": e.to_string()}))
        })?;
        let text = response.text().await.map_err(|e| {
            error("INTERNAL_ERROR", "Internal server error occurred.", json!({"reason": e.to_string()}))
        })?;
        let body = serde_json::from_str(&text).unwrap_or(Value::String(text));
        Ok(json!({
            "code": "SUCCESS",
            "details": {"statusMessage": body},
            "message": "Connection invoked successfully",
            "status": "success",
        }))
    }
}

/// Record ids as strings; numbers are accepted but may already have lost precision in JS.
fn id_string(value: &Value) -> Option<String> {
    match value {
        Value::String(s) if !s.is_empty() => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        _ => None,
    }
}
