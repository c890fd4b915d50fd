//! Xero simulator: the identity service (consent page, token endpoint, `/connections`) and the Accounting
//! API (Items, TaxRates, Accounts), behaving like the real Xero as recorded in
//! `shared/reference/xero-api.md`, with knobs to inject failures and inspection for tests.
//!
//! One listener serves everything, under the path prefixes of Xero's hosts:
//!
//! | Xero                                                | Simulator                                   |
//! |-----------------------------------------------------|---------------------------------------------|
//! | `https://login.xero.com/identity/connect/authorize` | [`XeroSim::login_url`]                      |
//! | `https://identity.xero.com/connect/token`           | [`XeroSim::token_url`] (`identity_url()` + `/connect/token`) |
//! | `https://identity.xero.com/connect/revocation`      | `identity_url()` + `/connect/revocation`    |
//! | `https://api.xero.com/connections`                  | [`XeroSim::connections_url`]                |
//! | `https://api.xero.com/api.xro/2.0`                  | [`XeroSim::api_url`]                        |
//!
//! Every expiry and window runs on the shared [`Clock`], so tests can run at e.g. 1000× speed. Added
//! latency and hangs are real time, since they are measured against client timeouts.
//!
//! Independent of the `shared` crate on purpose: Xero's item rules are written here from Xero's spec and
//! observed behaviour, never borrowed from the client, so the client's bugs are not the simulator's.

mod accounting;
mod behaviour;
mod faults;
mod identity;
mod limits;
mod query;
mod respond;
mod seed;
mod state;
mod time;
mod xml;

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::extract::{Request, State};
use axum::middleware::{self, Next};
use axum::response::Response;
use axum::routing::{any, delete, get, post};
use tokio::sync::oneshot;

use crate::Clock;

pub use accounting::{Details, Item, ItemEdit};
pub use behaviour::{Behaviour, InvalidAccount, MissingScope, PkceWithSecret, ProblemNames, ServerErrors, StaleItemId};
pub use faults::{Fault, FaultConfig, FaultTarget};
pub use identity::{AuthorizeRequest, Connection, ConsentError, Lifetimes, TokenStats};
pub use limits::{LimitStatus, RateLimits, RateProblem};
pub use seed::{AU_ORG, UK_ORG};
pub use state::CallRecord;

use state::Shared;

/// How the simulator starts. Every field but the credentials can also be changed at run time.
#[derive(Debug, Clone)]
pub struct XeroConfig {
    pub client_id: String,
    pub client_secret: String,
    /// Redirect URIs registered for the app; empty accepts any (Xero requires registration).
    pub redirect_uris: Vec<String>,
    pub lifetimes: Lifetimes,
    pub limits: RateLimits,
    pub faults: FaultConfig,
    /// The envelope's `ProviderName` (Xero puts the app's name there).
    pub provider_name: String,
    /// Switches for the audited divergences (see [`Behaviour`]).
    pub behaviour: Behaviour,
}

impl Default for XeroConfig {
    fn default() -> Self {
        Self {
            client_id: "sandbox-xero-client".into(),
            client_secret: "sandbox-xero-secret".into(),
            redirect_uris: Vec::new(),
            lifetimes: Lifetimes::default(),
            limits: RateLimits::default(),
            faults: FaultConfig::default(),
            provider_name: "xero-sync sandbox".into(),
            behaviour: Behaviour::default(),
        }
    }
}

/// A running Xero simulator. Clones share state; the server stops when the last clone is dropped.
///
/// URLs (one listener, Xero's hosts mapped to path prefixes): consent page [`XeroSim::login_url`]
/// (`{url}/identity/connect/authorize`), token endpoint [`XeroSim::token_url`] (`{url}/connect/token`, under
/// [`XeroSim::identity_url`]), tenants [`XeroSim::connections_url`] (`{url}/connections`), Accounting API
/// [`XeroSim::api_url`] (`{url}/api.xro/2.0`).
#[derive(Clone)]
pub struct XeroSim {
    /// Base URL, e.g. `http://127.0.0.1:40123` (no trailing slash).
    pub url: String,
    shared: Arc<Shared>,
    _server: Arc<ServerGuard>,
}

struct ServerGuard(Option<oneshot::Sender<()>>);

impl Drop for ServerGuard {
    fn drop(&mut self) {
        if let Some(stop) = self.0.take() {
            let _ = stop.send(());
        }
    }
}

impl XeroSim {
    /// Binds `addr` (port 0 picks one) and serves the seeded AU and UK demo organisations.
    pub async fn start(addr: SocketAddr, clock: Clock, config: XeroConfig) -> std::io::Result<Self> {
        let time = time::SimTime::new(clock);
        let now = time.epoch_ms();
        let shared = Shared::new(time, config, vec![seed::australia(now), seed::united_kingdom(now)]);
        let listener = tokio::net::TcpListener::bind(addr).await?;
        let url = format!("http://{}", listener.local_addr()?);
        let app = Router::new()
            .route("/identity/connect/authorize", get(identity::authorize_page).post(identity::authorize_decision))
            .route("/connect/token", post(identity::token))
            .route("/connect/revocation", post(identity::revoke))
            .route("/connections", get(identity::connections))
            .route("/connections/{id}", delete(identity::delete_connection))
            .route("/api.xro/2.0/{*rest}", any(accounting::api))
            .layer(middleware::from_fn_with_state(shared.clone(), record_call))
            .with_state(shared.clone());
        let (stop, stopped) = oneshot::channel::<()>();
        tokio::spawn(async move {
            let server = axum::serve(listener, app).with_graceful_shutdown(async move {
                let _ = stopped.await;
            });
            if let Err(e) = server.await {
                tracing::warn!("xero simulator stopped: {e}");
            }
        });
        Ok(Self { url, shared, _server: Arc::new(ServerGuard(Some(stop))) })
    }

    /// The consent page (`GET`, Xero's `login.xero.com/identity/connect/authorize`).
    pub fn login_url(&self) -> String {
        format!("{}/identity/connect/authorize", self.url)
    }

    /// Base of the identity service (Xero's `identity.xero.com`): `/connect/token`, `/connect/revocation`.
    pub fn identity_url(&self) -> String {
        self.url.clone()
    }

    /// The token endpoint.
    pub fn token_url(&self) -> String {
        format!("{}/connect/token", self.url)
    }

    /// Base of the Accounting API (Xero's `api.xero.com/api.xro/2.0`).
    pub fn api_url(&self) -> String {
        format!("{}{}", self.url, accounting::API_PREFIX)
    }

    /// `GET` lists the user's connections, `DELETE {connections_url}/{id}` removes one.
    pub fn connections_url(&self) -> String {
        format!("{}/connections", self.url)
    }

    // ---- consent without a browser ----

    /// Plays the user clicking "Allow access" for every organisation; returns the authorization code the
    /// redirect would carry. Checks the request as the consent page does.
    pub fn approve(&self, request: &AuthorizeRequest) -> Result<String, ConsentError> {
        let tenants: Vec<String> = self.tenants().into_iter().map(|(_, id)| id).collect();
        identity::approve(&self.shared, request, &tenants)
    }

    /// Like [`XeroSim::approve`], for the given tenant ids only.
    pub fn approve_tenants(&self, request: &AuthorizeRequest, tenant_ids: &[String]) -> Result<String, ConsentError> {
        identity::approve(&self.shared, request, tenant_ids)
    }

    // ---- inspection ----

    /// `(name, tenantId)` of every organisation.
    pub fn tenants(&self) -> Vec<(String, String)> {
        self.shared.lock().orgs.iter().map(|o| (o.name.clone(), o.tenant_id.clone())).collect()
    }

    /// The tenant id of the organisation called `name` (e.g. [`AU_ORG`]).
    pub fn tenant_id(&self, name: &str) -> Option<String> {
        self.shared.lock().orgs.iter().find(|o| o.name == name).map(|o| o.tenant_id.clone())
    }

    /// The items of a tenant, in creation order.
    pub fn items(&self, tenant_id: &str) -> Vec<Item> {
        self.shared.lock().org(tenant_id).map(|o| o.items.clone()).unwrap_or_default()
    }

    /// The user's current connections.
    pub fn connections(&self) -> Vec<Connection> {
        self.shared.lock().identity.connections.clone()
    }

    /// Every request received so far, oldest first.
    pub fn calls(&self) -> Vec<CallRecord> {
        self.shared.lock().calls.clone()
    }

    pub fn clear_calls(&self) {
        self.shared.lock().calls.clear();
    }

    pub fn token_stats(&self) -> TokenStats {
        self.shared.lock().identity.stats
    }

    /// Simulates a demo-company reset: the organisation gets a new tenant id (and loses its items), so
    /// existing connections to it stop working (403) until the user reconnects.
    pub fn reset_demo_company(&self, name: &str) -> Option<String> {
        let mut inner = self.shared.lock();
        let org = inner.orgs.iter_mut().find(|o| o.name == name)?;
        org.tenant_id = uuid::Uuid::new_v4().to_string();
        org.items.clear();
        Some(org.tenant_id.clone())
    }

    /// Creates an item as someone typing it into Xero's web app would (not through the API), and returns
    /// its ItemID; `None` for an unknown tenant.
    pub fn create_item(&self, tenant_id: &str, code: &str, name: &str) -> Option<String> {
        let now = self.shared.time.epoch_ms();
        let mut inner = self.shared.lock();
        let org = inner.org_mut(tenant_id)?;
        let item_id = uuid::Uuid::new_v4().to_string();
        org.items.push(Item {
            item_id: item_id.clone(),
            code: code.to_owned(),
            name: Some(name.to_owned()),
            description: None,
            purchase_description: None,
            is_sold: true,
            is_purchased: true,
            sales: Default::default(),
            purchase: Default::default(),
            inventory_asset_account_code: None,
            updated_ms: now,
        });
        Some(item_id)
    }

    /// Deletes an item as someone would in Xero's web app; `false` if there is no such item. A client that
    /// stored its ItemID now holds a stale link (see [`StaleItemId`] for what a write with it gets).
    pub fn delete_item(&self, tenant_id: &str, item_id: &str) -> bool {
        let mut inner = self.shared.lock();
        let Some(org) = inner.org_mut(tenant_id) else { return false };
        let before = org.items.len();
        org.items.retain(|i| !i.item_id.eq_ignore_ascii_case(item_id));
        org.items.len() < before
    }

    /// Changes an item as someone would in Xero's web app (price, name, description, sales account, tax),
    /// with Xero's rules; bumps its `UpdatedDateUTC`. `Err` has Xero's messages, or says the item is unknown.
    pub fn edit_item(&self, tenant_id: &str, item_id: &str, edit: ItemEdit) -> Result<Item, Vec<String>> {
        let now = self.shared.time.epoch_ms();
        let mut inner = self.shared.lock();
        let org = inner.org_mut(tenant_id).ok_or_else(|| vec![format!("no organisation {tenant_id}")])?;
        accounting::edit_item(org, item_id, edit, now)
    }

    /// The simulated calendar time (what `UpdatedDateUTC` and the envelope's `DateTimeUTC` are stamped with).
    pub fn now(&self) -> chrono::DateTime<chrono::Utc> {
        chrono::DateTime::from_timestamp_millis(self.shared.time.epoch_ms()).unwrap_or_default()
    }

    /// A tenant's rate-limit usage now: calls left this minute and today, and when each window resets (in
    /// simulated time; add to [`XeroSim::now`] for the calendar time).
    pub fn limit_status(&self, tenant_id: &str) -> LimitStatus {
        let now = self.shared.time.now();
        let inner = self.shared.lock();
        let tenant = inner.org(tenant_id).map_or_else(|| tenant_id.to_string(), |o| o.tenant_id.clone());
        inner.limiter.status(&tenant, now, &inner.config.limits)
    }

    /// Expires every access token now, without waiting: the next API call with one gets Xero's 401
    /// `TokenExpired`, while the client still believes its token has most of its 30 minutes left.
    pub fn expire_access_tokens(&self) {
        let now = self.shared.time.now();
        self.shared.lock().identity.expire_access_tokens(now);
    }

    /// Archives an account, as an accountant would in Xero's web app; `false` if there is no such account.
    /// Clients that cached the chart before keep sending its code and get Xero's validation error.
    pub fn archive_account(&self, tenant_id: &str, code: &str) -> bool {
        let now = self.shared.time.epoch_ms();
        let mut inner = self.shared.lock();
        let Some(org) = inner.org_mut(tenant_id) else { return false };
        let Some(account) =
            org.accounts.iter_mut().find(|a| a.code.as_deref().is_some_and(|c| c.eq_ignore_ascii_case(code)))
        else {
            return false;
        };
        account.status = "ARCHIVED";
        account.updated_ms = now;
        true
    }

    // ---- knobs ----

    /// Added real-time latency on every API, connections and token call.
    pub fn set_latency(&self, latency: Duration) {
        self.shared.lock().faults.config.latency = latency;
    }

    /// The next `count` calls of `target` meet `fault`.
    pub fn fail_next(&self, target: FaultTarget, count: u32, fault: Fault) {
        self.shared.lock().faults.push(target, count, fault);
    }

    /// Each API call meets `fault` with probability `rate` (0 disables).
    pub fn set_fault_rate(&self, rate: f64, fault: Fault) {
        let mut inner = self.shared.lock();
        inner.faults.config.random_rate = rate;
        inner.faults.config.random_fault = fault;
    }

    /// Each API call meets a fault with probability `rate`, drawn evenly from `faults` (e.g. 500s,
    /// timeouts, lost answers and 429s at once); an empty list disables.
    pub fn set_fault_mix(&self, rate: f64, faults: &[Fault]) {
        let mut inner = self.shared.lock();
        inner.faults.config.random_rate = if faults.is_empty() { 0.0 } else { rate };
        inner.faults.mix = faults.to_vec();
    }

    /// The next `count` calls get 429 for `problem` (a forced burst), with `Retry-After: retry_after`.
    pub fn force_rate_limit(&self, count: u32, problem: RateProblem, retry_after: Option<u64>) {
        self.fail_next(FaultTarget::Api, count, Fault::RateLimit { problem, retry_after });
    }

    /// The next `count` successful token responses are processed (tokens rotated) and then lost: the
    /// connection is cut instead of delivering them.
    pub fn drop_next_token_responses(&self, count: u32) {
        self.shared.lock().faults.drop_token_responses += count;
    }

    /// How long [`Fault::Hang`] holds a request.
    pub fn set_hang(&self, hang: Duration) {
        self.shared.lock().faults.config.hang = hang;
    }

    /// Removes every queued and random fault and the added latency.
    pub fn clear_faults(&self) {
        self.shared.lock().faults.clear();
    }

    /// Switches the audited divergences (see [`Behaviour`]) from the next request on.
    pub fn set_behaviour(&self, behaviour: Behaviour) {
        self.shared.lock().config.behaviour = behaviour;
    }

    pub fn set_limits(&self, limits: RateLimits) {
        self.shared.lock().config.limits = limits;
    }

    /// Applies to tokens, codes and keys issued from now on.
    pub fn set_lifetimes(&self, lifetimes: Lifetimes) {
        self.shared.lock().config.lifetimes = lifetimes;
    }
}

fn header(request: &Request, name: &str) -> Option<String> {
    request.headers().get(name).and_then(|v| v.to_str().ok()).map(str::to_string)
}

/// Records every request (method, path, tenant and idempotency-key headers, status) for [`XeroSim::calls`].
async fn record_call(State(shared): State<Arc<Shared>>, request: Request, next: Next) -> Response {
    let method = request.method().to_string();
    let path = request.uri().path().to_string();
    let query = request.uri().query().map(str::to_string);
    let (tenant, idempotency_key) = (header(&request, "xero-tenant-id"), header(&request, "idempotency-key"));
    let response = next.run(request).await;
    let dropped = response.extensions().get::<faults::Dropped>().is_some();
    let status = response.status().as_u16();
    shared.lock().calls.push(CallRecord { method, path, query, tenant, idempotency_key, status, dropped });
    response
}
