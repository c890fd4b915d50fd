//! Zoho CRM simulator: the accounts server's token endpoint and the CRM v8 REST API for Products.
//!
//! Behaviour follows `shared/reference/zoho-crm.md` (§5 REST, §6 OAuth) and the v8 record contract in
//! `shared/contracts/zoho/`. One server plays both hosts: the token response's `api_domain` is the sim's own
//! URL, as Zoho's names the data centre's API host. All expiries and windows run on the shared [`Clock`].
//!
//! Independent of the `shared` crate on purpose: field types, lengths and date formats are Zoho's, written
//! here from Zoho's documentation, not the client's field model, so the client's bugs are not the
//! simulator's.

mod fields;
mod oauth;
mod records;
mod seed;

use std::collections::{BTreeMap, HashMap};
use std::net::SocketAddr;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use axum::Router;
use axum::extract::{Request, State as AxState};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use chrono::{DateTime, FixedOffset, Utc};
use serde_json::{Map, Value};

use crate::{Clock, ServerGuard};

pub use records::{CustomFields, ZohoError};
pub use seed::products;

/// How the simulated org is set up. The defaults match the seeded data.
#[derive(Debug, Clone)]
pub struct ZohoConfig {
    /// The Self Client's credentials, checked on every token request.
    pub client_id: String,
    pub client_secret: String,
    /// API names of the project's custom fields (admins can rename them in CRM).
    pub fields: CustomFields,
    /// Real-time latency added to every request (like the Xero simulator's).
    pub latency: Duration,
}

impl Default for ZohoConfig {
    fn default() -> Self {
        Self {
            client_id: "1000.SANDBOXSELFCLIENT0000000000000".into(),
            client_secret: "sandbox-self-client-secret".into(),
            fields: CustomFields::default(),
            latency: Duration::ZERO,
        }
    }
}

/// One request the simulator answered, for tests to inspect.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Call {
    pub method: String,
    pub path: String,
    pub query: Option<String>,
    pub status: u16,
}

/// A running Zoho simulator. Cheap to clone; the listener stops when the last clone is dropped.
#[derive(Clone)]
pub struct ZohoSim {
    pub url: String,
    inner: Arc<Inner>,
    _server: Arc<ServerGuard>,
}

pub(crate) struct Inner {
    clock: Clock,
    config: ZohoConfig,
    url: String,
    /// Wall-clock time when the clock started; simulated time is this plus `clock.now()`.
    epoch: DateTime<Utc>,
    state: Mutex<State>,
}

struct State {
    /// Keyed by id; all ids have the same length, so key order is numeric order.
    products: BTreeMap<String, Map<String, Value>>,
    oauth: oauth::OAuthState,
    page_tokens: HashMap<String, records::PageCursor>,
    calls: Vec<Call>,
    faults: Faults,
    next_id: u64,
}

/// Injected failures, consumed one request at a time (CRM API only, not the token endpoint).
#[derive(Debug, Clone, Copy, Default)]
struct Faults {
    latency: Duration,
    fail_next: u32,
    rate_limit_next: u32,
}

/// The org's time zone (Australia/Sydney in summer); Zoho renders times in the user's zone.
const ORG_OFFSET: FixedOffset = match FixedOffset::east_opt(11 * 3600) {
    Some(offset) => offset,
    None => panic!("offset out of range"),
};

impl ZohoSim {
    pub async fn start(addr: SocketAddr, clock: Clock, config: ZohoConfig) -> std::io::Result<Self> {
        // Bind first: the token endpoint must name the sim's own URL as `api_domain`.
        let (listener, url) = crate::bind(addr).await?;
        let epoch = DateTime::<Utc>::from(std::time::SystemTime::now())
            - chrono::Duration::from_std(clock.now()).unwrap_or_default();
        let faults = Faults { latency: config.latency, ..Faults::default() };
        let inner = Arc::new(Inner {
            clock,
            url: url.clone(),
            epoch,
            state: Mutex::new(State {
                products: BTreeMap::new(),
                oauth: oauth::OAuthState::default(),
                page_tokens: HashMap::new(),
                calls: Vec::new(),
                faults,
                next_id: seed::FIRST_FREE_ID,
            }),
            config,
        });
        let seeded = seed::products(&inner.config.fields, inner.now());
        inner.lock().products = seeded.into_iter().map(|r| (record_id(&r), r)).collect();

        let app = Router::new()
            .route("/oauth/v2/token", post(oauth::token))
            .route("/crm/v8/settings/fields", get(fields::settings))
            .route("/crm/v8/{module}", get(records::list).put(records::update_many))
            .route("/crm/v8/{module}/{id}", get(records::get_one).put(records::update_one))
            .fallback(|| async { ZohoError::invalid_url() })
            .method_not_allowed_fallback(|| async { ZohoError::invalid_method() })
            .layer(middleware::from_fn_with_state(inner.clone(), record_and_inject))
            .with_state(inner.clone());
        Ok(Self { url, inner, _server: Arc::new(crate::serve(listener, app)) })
    }

    /// A Self Client grant code for `scopes` (API Console → Self Client → Generate Code): single use,
    /// valid for 3 simulated minutes.
    pub fn self_client_code(&self, scopes: &[&str]) -> String {
        let now = self.inner.clock.now();
        self.inner.lock().oauth.new_code(scopes, now)
    }

    pub fn config(&self) -> &ZohoConfig {
        &self.inner.config
    }

    /// Simulated wall-clock time in the org's time zone.
    pub fn now(&self) -> DateTime<FixedOffset> {
        self.inner.now()
    }

    /// The CRM user the sandbox is logged in as (owner of the seeded records and of every token), as
    /// `getCurrentUser` describes it.
    pub fn current_user(&self) -> Value {
        seed::current_user()
    }

    pub fn product(&self, id: &str) -> Option<Value> {
        self.inner.lock().products.get(id).cloned().map(Value::Object)
    }

    pub fn products(&self) -> Vec<Value> {
        self.inner.lock().products.values().cloned().map(Value::Object).collect()
    }

    /// Stores `record` as the product `id` (replacing any), exactly as given apart from its `id`.
    pub fn set_product(&self, id: &str, mut record: Map<String, Value>) {
        record.insert("id".into(), Value::String(id.into()));
        self.inner.lock().products.insert(id.into(), record);
    }

    /// Creates a product from `fields` with a fresh id, owner and timestamps, as a CRM user would; returns
    /// the id.
    pub fn insert_product(&self, fields: Map<String, Value>) -> String {
        let stamp = self.inner.timestamp();
        let mut state = self.inner.lock();
        let id = state.next_id.to_string();
        state.next_id += 1;
        let mut record = seed::metadata(&id, &stamp, &stamp);
        record.extend(fields);
        record.insert("id".into(), Value::String(id.clone()));
        state.products.insert(id.clone(), record);
        id
    }

    /// Every request answered so far, oldest first.
    pub fn calls(&self) -> Vec<Call> {
        self.inner.lock().calls.clone()
    }

    pub fn clear_calls(&self) {
        self.inner.lock().calls.clear();
    }

    /// How many requests reached the token endpoint (refused ones included).
    pub fn token_requests(&self) -> usize {
        self.inner.lock().oauth.requests
    }

    /// Adds real-time latency to every later request.
    pub fn set_latency(&self, latency: Duration) {
        self.inner.lock().faults.latency = latency;
    }

    /// Drops the queued 429/500 failures and the added latency.
    pub fn clear_faults(&self) {
        self.inner.lock().faults = Faults::default();
    }

    /// The next `n` CRM API requests fail with 500 `INTERNAL_ERROR`.
    pub fn fail_next(&self, n: u32) {
        self.inner.lock().faults.fail_next = n;
    }

    /// The next `n` CRM API requests are refused with 429 `TOO_MANY_REQUESTS`.
    pub fn rate_limit_next(&self, n: u32) {
        self.inner.lock().faults.rate_limit_next = n;
    }

    /// `getRecord` as the CRM page serves it to a widget: `{data:[record…], info}` or the Zoho error.
    pub(crate) fn widget_get(&self, ids: &[String]) -> Result<Value, Value> {
        records::widget_get(&self.inner, ids)
    }

    /// `META.getFields({Entity:"Products"})` as the CRM page serves it to a widget.
    pub(crate) fn widget_fields(&self) -> Value {
        fields::products(&self.inner.config.fields)
    }

    /// `updateRecord` as the CRM page applies it for a widget, in the logged-in user's name.
    pub(crate) fn widget_update(&self, api_data: Value) -> Result<Value, Value> {
        records::widget_update(&self.inner, api_data)
    }
}

impl Inner {
    fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn now(&self) -> DateTime<FixedOffset> {
        let now = self.epoch + chrono::Duration::from_std(self.clock.now()).unwrap_or_default();
        now.with_timezone(&ORG_OFFSET)
    }

    fn timestamp(&self) -> String {
        format_time(self.now())
    }
}

/// Formats a time as Zoho does: ISO-8601, whole seconds, with the zone offset (`2026-11-20T10:15:00+11:00`).
pub fn format_time(t: DateTime<FixedOffset>) -> String {
    t.format("%Y-%m-%dT%H:%M:%S%:z").to_string()
}

fn record_id(record: &Map<String, Value>) -> String {
    record.get("id").and_then(Value::as_str).unwrap_or_default().to_string()
}

/// Logs every request and, for the CRM API, applies the latency and the injected 429/500 failures.
async fn record_and_inject(AxState(inner): AxState<Arc<Inner>>, req: Request, next: Next) -> Response {
    let method = req.method().to_string();
    let path = req.uri().path().to_string();
    let query = req.uri().query().map(str::to_string);
    let crm = path.starts_with("/crm/");
    let (latency, fault) = {
        let mut state = inner.lock();
        let faults = &mut state.faults;
        let fault = if !crm {
            None
        } else if faults.rate_limit_next > 0 {
            faults.rate_limit_next -= 1;
            Some(ZohoError::too_many_requests())
        } else if faults.fail_next > 0 {
            faults.fail_next -= 1;
            Some(ZohoError::internal())
        } else {
            None
        };
        (faults.latency, fault)
    };
    if !latency.is_zero() {
        tokio::time::sleep(latency).await;
    }
    let response = match fault {
        Some(error) => error.into_response(),
        None => next.run(req).await,
    };
    inner.lock().calls.push(Call { method, path, query, status: response.status().as_u16() });
    response
}
