//! Zoho CRM simulator: the accounts server's token endpoint and the CRM v8 REST API for Products.
//!
//! Behaviour follows `shared/reference/zoho-crm.md` (§5 REST, §6 OAuth) and the v8 record contract in
//! `shared/contracts/zoho/`. One server plays both hosts: the token response's `api_domain` is the sim's own
//! URL, as Zoho's names the data centre's API host. All expiries and windows run on the shared [`Clock`].
//!
//! What it reproduces beyond the happy path, each with its source in its module: Zoho's v8 error shapes
//! ([`ZohoError`]), strict DateTime values and unknown field names refused in writes (`fields`), paging
//! with `page` then `page_token` and `If-Modified-Since` (`records`), multi-record updates (≤ 100, a result
//! per record, 207 when mixed, `Modified_Time` bumped by every write), API credits per rolling 24 hours and
//! concurrency caps ([`ZohoLimits`]). For load: thousands of generated products ([`ZohoConfig::
//! generated_products`], [`ProductKind`]); for tests: [`ZohoSim::edit_product`] and
//! [`ZohoSim::edit_some_products`] edit as a CRM user would, [`ZohoSim::product`] reads the current state.
//!
//! Independent of the `shared` crate on purpose: field types, lengths and date formats are Zoho's, written
//! here from Zoho's documentation, not the client's field model, so the client's bugs are not the
//! simulator's.

mod catalogue;
mod error;
mod fields;
mod limits;
mod oauth;
mod org;
mod records;
mod seed;

use std::collections::{BTreeMap, HashMap};
use std::net::SocketAddr;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use axum::Router;
use axum::body::Body;
use axum::extract::{Request, State as AxState};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use chrono::{DateTime, FixedOffset, Utc};
use serde_json::{Map, Value};

use crate::{Clock, ServerGuard};

pub use catalogue::{Flaw, Generated, ProductKind};
pub use error::ZohoError;
pub use fields::CustomFields;
pub use limits::{Credits, ZohoLimits};
pub use org::ORG_DOMAIN_NAME;
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
    /// Products generated on top of the 21 seeded ones (see [`ProductKind`] for the mix); none by default,
    /// so the demo and the tests that count on the seeded catalogue see only it.
    pub generated_products: usize,
    /// The generator's seed: the same seed gives the same catalogue.
    pub catalogue_seed: u64,
    /// API credits and concurrency caps (Zoho's Standard edition's by default: see [`ZohoLimits`]).
    pub limits: ZohoLimits,
    /// Records a listing reaches through `page_token`: Zoho's 100,000 (a knob only so a test can reach it
    /// without holding 100,000 records).
    pub pagination_limit: usize,
}

impl Default for ZohoConfig {
    fn default() -> Self {
        Self {
            client_id: "1000.SANDBOXSELFCLIENT0000000000000".into(),
            client_secret: "sandbox-self-client-secret".into(),
            fields: CustomFields::default(),
            latency: Duration::ZERO,
            generated_products: 0,
            catalogue_seed: 1,
            limits: ZohoLimits::default(),
            pagination_limit: 100_000,
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
    /// The generated products and what a sync should do with each.
    generated: Vec<Generated>,
}

struct State {
    /// Keyed by id; all ids have the same length, so key order is numeric order.
    products: BTreeMap<String, Map<String, Value>>,
    oauth: oauth::OAuthState,
    page_tokens: HashMap<String, records::PageCursor>,
    calls: Vec<Call>,
    faults: Faults,
    next_id: u64,
    limits: ZohoLimits,
    usage: limits::Usage,
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
        let now = (epoch + chrono::Duration::from_std(clock.now()).unwrap_or_default()).with_timezone(&ORG_OFFSET);
        let mut products: BTreeMap<String, Map<String, Value>> =
            seed::products(&config.fields, now).into_iter().map(|r| (record_id(&r), r)).collect();
        let mut generated = Vec::new();
        for (record, product) in
            catalogue::generate(config.generated_products, config.catalogue_seed, &config.fields, now)
        {
            products.insert(product.id.clone(), record);
            generated.push(product);
        }
        let inner = Arc::new(Inner {
            clock,
            url: url.clone(),
            epoch,
            state: Mutex::new(State {
                products,
                oauth: oauth::OAuthState::default(),
                page_tokens: HashMap::new(),
                calls: Vec::new(),
                faults,
                next_id: seed::FIRST_FREE_ID,
                limits: config.limits,
                usage: limits::Usage::default(),
            }),
            config,
            generated,
        });

        let app = Router::new()
            .route("/oauth/v2/token", post(oauth::token))
            .route("/crm/v8/settings/fields", get(fields::settings))
            .route("/crm/v8/org", get(org::org))
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

    /// Changes a product as a CRM user would in the web UI: the same field checks as an API update (Zoho's
    /// error if one fails, nothing changed), and `Modified_Time` moves. Returns the record as stored.
    pub fn edit_product(&self, id: &str, changes: Value) -> Result<Value, ZohoError> {
        records::user_edit(&self.inner, id, changes)
    }

    /// Edits `count` products as a CRM user would, for "edit N products, the next incremental run updates
    /// exactly those": the products marked "Add to Xero" with a price in whole cents that were modified
    /// longest ago get their price raised by 1.00 (so no product changes between valid and refused).
    /// Returns their ids.
    pub fn edit_some_products(&self, count: usize) -> Vec<String> {
        let add_to_xero = self.inner.config.fields.add_to_xero.clone();
        let mut candidates: Vec<(DateTime<FixedOffset>, String, f64)> = self
            .inner
            .lock()
            .products
            .values()
            .filter(|r| r.get(&add_to_xero) == Some(&Value::Bool(true)))
            .filter_map(|r| {
                let price = r.get("Unit_Price")?.as_f64().filter(|p| ((p * 100.0).round() - p * 100.0).abs() < 1e-6)?;
                let modified = DateTime::parse_from_rfc3339(r.get("Modified_Time")?.as_str()?).ok()?;
                Some((modified, record_id(r), price))
            })
            .collect();
        candidates.sort_by(|a, b| (a.0, &a.1).cmp(&(b.0, &b.1)));
        candidates
            .into_iter()
            .take(count)
            .filter_map(|(_, id, price)| {
                let raised = ((price + 1.0) * 100.0).round() / 100.0;
                self.edit_product(&id, serde_json::json!({"Unit_Price": raised})).ok().map(|_| id)
            })
            .collect()
    }

    /// The generated products (none unless [`ZohoConfig::generated_products`] is set), in id order, with
    /// what a sync should do with each.
    pub fn generated(&self) -> &[Generated] {
        &self.inner.generated
    }

    /// The org's API credits now (rolling 24 hours, simulated time).
    pub fn credits(&self) -> Credits {
        let now = self.inner.clock.now();
        let mut state = self.inner.lock();
        let limits = state.limits;
        state.usage.credits(now, &limits)
    }

    /// Changes the credit allowance and concurrency caps from the next request on.
    pub fn set_limits(&self, limits: ZohoLimits) {
        self.inner.lock().limits = limits;
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

/// Logs every request and, for the CRM API, applies the latency, the injected 429/500 failures and the
/// concurrency caps (a call holds its slot while it is answered, latency included).
async fn record_and_inject(AxState(inner): AxState<Arc<Inner>>, req: Request, next: Next) -> Response {
    let method = req.method().to_string();
    let path = req.uri().path().to_string();
    let query = req.uri().query().map(str::to_string);
    let crm = path.starts_with("/crm/");
    // Updates of more than 10 records count against the sub-concurrency cap too.
    let (req, bulk) = if crm && req.method() == axum::http::Method::PUT {
        let (parts, body) = req.into_parts();
        let bytes = axum::body::to_bytes(body, usize::MAX).await.unwrap_or_default();
        let bulk = records::record_count(&bytes) > 10;
        (Request::from_parts(parts, Body::from(bytes)), bulk)
    } else {
        (req, false)
    };
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
        let latency = faults.latency;
        let limits = state.limits;
        let fault = match fault {
            None if crm => state.usage.enter(bulk, &limits).err(),
            fault => fault,
        };
        (latency, fault)
    };
    let response = match fault {
        Some(error) => error.into_response(),
        None if crm => {
            let _slot = Slot { inner: inner.clone(), bulk };
            if !latency.is_zero() {
                tokio::time::sleep(latency).await;
            }
            next.run(req).await
        }
        None => {
            if !latency.is_zero() {
                tokio::time::sleep(latency).await;
            }
            next.run(req).await
        }
    };
    inner.lock().calls.push(Call { method, path, query, status: response.status().as_u16() });
    response
}

/// A CRM call in flight; dropping it (also when the client gives up) frees its concurrency slot.
struct Slot {
    inner: Arc<Inner>,
    bulk: bool,
}

impl Drop for Slot {
    fn drop(&mut self) {
        self.inner.lock().usage.leave(self.bulk);
    }
}
