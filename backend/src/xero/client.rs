//! The Accounting API calls the sync needs, behind one request path that adds the headers, throttles per
//! tenant, refreshes on 401 (but not for a missing scope), waits out 429s, and retries timeouts, dropped
//! connections and a read's 5xx as they were (the crate's one [`RetryPolicy`]).
//!
//! A keyed write's 5xx is different: Xero caches an internal error under its Idempotency-Key and replays
//! it to a retry with that key "even if the internal error is resolved" (fidelity-audit X2). So after one,
//! the write re-reads what it wrote (the item by ItemID, or the list by Code, in case the write happened
//! after all) and is retried once under a new key ([`XeroClient::upsert_items`], [`XeroClient::update_item`]).

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use backon::Retryable;
use reqwest::header::{ACCEPT, CONTENT_TYPE, HeaderMap};
use reqwest::{Method, StatusCode};
use secrecy::{ExposeSecret, SecretString};
use serde::de::DeserializeOwned;
use serde_json::{Value, json};
use shared::{Account, ItemPayload, TaxRate};
use tokio::time::Instant;

use super::error::{XeroError, describe_transport, excerpt};
use super::limiter::{AppGate, LimitStatus, LimiterConfig, RateScope, TenantLimiter, header_u32};
use super::tokens::{TokenManager, TokenSet, TokenVault};
use super::types::{ItemResult, Tenant, XeroItem, validation_messages};
use crate::config::{ClientCredentials, XeroEndpoints};
use crate::retry::RetryPolicy;

/// Xero recommends batches of up to 50 elements (`../shared/reference/xero-api.md` §5).
pub const MAX_ITEMS_PER_CALL: usize = 50;
/// Xero's limit on an `Idempotency-Key` (`../shared/reference/xero-api.md` §8).
const MAX_IDEMPOTENCY_KEY_CHARS: usize = 128;
/// The message of an item an answer had no element for (whether Xero saved it is unknown).
pub const NO_ELEMENT: &str = "Xero returned no result for this item";
/// Why the connection needs a reconnect when Xero refuses a token for its scope: every write needs it.
const MISSING_SCOPE: &str = "the grant lacks accounting.settings";
/// 429s waited out in one call before giving up.
const MAX_RATE_LIMIT_RETRIES: u32 = 5;
const MAX_CONCURRENT_BACKOFF: Duration = Duration::from_secs(60);

/// Tunables; the defaults match Xero's published limits.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct XeroClientConfig {
    /// How long Accounts and TaxRates are reused before refetching.
    pub cache_ttl: Duration,
    pub limiter: LimiterConfig,
    pub retry: RetryPolicy,
    /// A 429 asking to wait longer than this is returned as [`XeroError::RateLimited`] instead.
    pub max_rate_limit_wait: Duration,
    /// How long Xero accepts a rotated-out refresh token (30 minutes).
    pub refresh_grace: Duration,
}

impl Default for XeroClientConfig {
    fn default() -> Self {
        Self {
            cache_ttl: Duration::from_secs(600),
            limiter: LimiterConfig::default(),
            retry: RetryPolicy::default(),
            max_rate_limit_wait: Duration::from_secs(65),
            refresh_grace: Duration::from_secs(30 * 60),
        }
    }
}

/// The body of `POST /Items` and `POST /Items/{ItemID}`: always the `{"Items": [...]}` wrapper.
pub fn items_body(items: &[ItemPayload]) -> Value {
    json!({ "Items": items })
}

struct Cached<T> {
    fetched: Instant,
    value: Arc<T>,
}

type Cache<T> = Mutex<HashMap<String, Cached<T>>>;

struct Inner {
    http: reqwest::Client,
    endpoints: XeroEndpoints,
    /// The app's client id, named in consent URLs.
    client_id: String,
    config: XeroClientConfig,
    tokens: TokenManager,
    limiters: Mutex<HashMap<String, Arc<TenantLimiter>>>,
    app_gate: AppGate,
    accounts: Cache<Vec<Account>>,
    tax_rates: Cache<Vec<TaxRate>>,
}

/// The Xero client. Cheap to clone; clones share tokens, limiters and caches.
#[derive(Clone)]
pub struct XeroClient {
    inner: Arc<Inner>,
}

impl std::fmt::Debug for XeroClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("XeroClient").field("endpoints", &self.inner.endpoints).finish_non_exhaustive()
    }
}

/// One request to send (and maybe resend).
struct Call<'a> {
    method: Method,
    url: String,
    tenant: Option<&'a str>,
    query: &'a [(&'a str, &'a str)],
    body: Option<Vec<u8>>,
    idempotency_key: Option<&'a str>,
}

/// An answer the request path did not handle itself.
struct Answer {
    status: StatusCode,
    headers: HeaderMap,
    body: Vec<u8>,
}

impl Answer {
    fn json<T: DeserializeOwned>(&self) -> Result<T, XeroError> {
        serde_json::from_slice(&self.body).map_err(|e| {
            tracing::warn!(error = %e, correlation_id = ?correlation_id(&self.headers), "unreadable xero answer");
            self.unexpected()
        })
    }

    fn unexpected(&self) -> XeroError {
        XeroError::Unexpected { status: self.status.as_u16(), body_excerpt: excerpt(&self.body) }
    }

    fn value(&self) -> Value {
        serde_json::from_slice(&self.body).unwrap_or(Value::Null)
    }
}

fn correlation_id(headers: &HeaderMap) -> Option<&str> {
    headers.get("xero-correlation-id").and_then(|v| v.to_str().ok())
}

fn check_item_id(item_id: &str) -> Result<(), XeroError> {
    // Only an ItemID goes in the path: a Code there can contain '/' and silently miss
    // (`../shared/reference/xero-api.md` §4).
    uuid::Uuid::parse_str(item_id)
        .map(drop)
        .map_err(|_| XeroError::Validation(vec![format!("'{item_id}' is not a Xero ItemID")]))
}

fn check_idempotency_key(key: &str) -> Result<(), XeroError> {
    if key.is_empty() || key.chars().count() > MAX_IDEMPOTENCY_KEY_CHARS {
        return Err(XeroError::Validation(vec![format!(
            "an idempotency key must have 1 to {MAX_IDEMPOTENCY_KEY_CHARS} characters"
        )]));
    }
    Ok(())
}

impl XeroClient {
    /// `http` should have connect and request timeouts; they bound each attempt.
    pub fn new(
        http: reqwest::Client,
        endpoints: XeroEndpoints,
        credentials: ClientCredentials,
        vault: Arc<dyn TokenVault>,
        config: XeroClientConfig,
    ) -> Self {
        let client_id = credentials.client_id.clone();
        let tokens =
            TokenManager::new(http.clone(), &endpoints, credentials, vault, config.retry, config.refresh_grace);
        let inner = Inner {
            http,
            endpoints,
            client_id,
            config,
            tokens,
            limiters: Mutex::new(HashMap::new()),
            app_gate: AppGate::new(config.limiter.window),
            accounts: Mutex::new(HashMap::new()),
            tax_rates: Mutex::new(HashMap::new()),
        };
        Self { inner: Arc::new(inner) }
    }

    /// The consent page URL for the connect flow, with a PKCE S256 challenge when `pkce_challenge` is given
    /// (`XERO_USE_PKCE`).
    pub fn authorize_url(
        &self,
        redirect_uri: &str,
        state: &str,
        pkce_challenge: Option<&str>,
        scopes: &[&str],
    ) -> Result<String, XeroError> {
        let mut url = reqwest::Url::parse(&self.inner.endpoints.login_url).map_err(|e| XeroError::Unexpected {
            status: 0,
            body_excerpt: format!("the consent page URL is not a URL: {e}"),
        })?;
        url.query_pairs_mut().extend_pairs([
            ("response_type", "code"),
            ("client_id", self.inner.client_id.as_str()),
            ("redirect_uri", redirect_uri),
            ("scope", &scopes.join(" ")),
            ("state", state),
        ]);
        if let Some(challenge) = pkce_challenge {
            url.query_pairs_mut().extend_pairs([("code_challenge", challenge), ("code_challenge_method", "S256")]);
        }
        Ok(url.into())
    }

    /// Revokes the stored refresh token at Xero, ending every connection it made.
    pub async fn revoke(&self) -> Result<(), XeroError> {
        self.inner.tokens.revoke().await
    }

    /// Exchanges an authorization code (connect flow) and stores the tokens through the vault.
    pub async fn exchange_code(
        &self,
        code: &str,
        redirect_uri: &str,
        pkce_verifier: Option<&SecretString>,
    ) -> Result<TokenSet, XeroError> {
        self.inner.tokens.exchange_code(code, redirect_uri, pkce_verifier).await
    }

    /// The organisations the token reaches.
    pub async fn connections(&self) -> Result<Vec<Tenant>, XeroError> {
        let url = self.inner.endpoints.connections_url.clone();
        let answer = self.execute(&self.call(Method::GET, url, None)).await?;
        match answer.status {
            StatusCode::OK => answer.json(),
            _ => Err(answer.unexpected()),
        }
    }

    /// Removes a connection by its connection id (not the tenant id). An unknown id counts as removed.
    pub async fn disconnect(&self, connection_id: &str) -> Result<(), XeroError> {
        let url = format!("{}/{}", self.inner.endpoints.connections_url.trim_end_matches('/'), connection_id);
        let answer = self.execute(&self.call(Method::DELETE, url, None)).await?;
        match answer.status {
            s if s.is_success() || s == StatusCode::NOT_FOUND => Ok(()),
            _ => Err(answer.unexpected()),
        }
    }

    /// The chart of accounts, cached per tenant for [`XeroClientConfig::cache_ttl`].
    pub async fn accounts(&self, tenant_id: &str) -> Result<Arc<Vec<Account>>, XeroError> {
        if let Some(hit) = self.cache_get(&self.inner.accounts, tenant_id) {
            return Ok(hit);
        }
        let answer = self.get_ok(tenant_id, "/Accounts", &[]).await?;
        let list: Vec<Account> = list_of(&answer, "Accounts")?;
        Ok(self.cache_put(&self.inner.accounts, tenant_id, list))
    }

    /// The active tax rates, cached like [`XeroClient::accounts`].
    pub async fn tax_rates(&self, tenant_id: &str) -> Result<Arc<Vec<TaxRate>>, XeroError> {
        if let Some(hit) = self.cache_get(&self.inner.tax_rates, tenant_id) {
            return Ok(hit);
        }
        let answer = self.get_ok(tenant_id, "/TaxRates", &[("where", "Status==\"ACTIVE\"")]).await?;
        let list: Vec<TaxRate> = list_of(&answer, "TaxRates")?;
        Ok(self.cache_put(&self.inner.tax_rates, tenant_id, list))
    }

    /// Forgets a tenant's cached Accounts and TaxRates (e.g. after Xero said an account is invalid).
    pub fn invalidate(&self, tenant_id: &str) {
        let key = tenant_id.to_ascii_lowercase();
        lock(&self.inner.accounts).remove(&key);
        lock(&self.inner.tax_rates).remove(&key);
    }

    /// Every item of the organisation (Xero does not page items), prices at 4 dp.
    pub async fn items(&self, tenant_id: &str) -> Result<Vec<XeroItem>, XeroError> {
        let answer = self.get_ok(tenant_id, "/Items", &[("unitdp", "4")]).await?;
        list_of(&answer, "Items")
    }

    /// One item by its ItemID; `None` when Xero does not know it.
    pub async fn get_item(&self, tenant_id: &str, item_id: &str) -> Result<Option<XeroItem>, XeroError> {
        check_item_id(item_id)?;
        let url = format!("{}/Items/{item_id}", self.api());
        let call = Call { query: &[("unitdp", "4")], ..self.call(Method::GET, url, Some(tenant_id)) };
        let answer = self.execute(&call).await?;
        match answer.status {
            StatusCode::OK => Ok(list_of::<XeroItem>(&answer, "Items")?.into_iter().next()),
            StatusCode::NOT_FOUND => Ok(None),
            _ => Err(answer.unexpected()),
        }
    }

    /// Creates or updates up to 50 items (`POST /Items?summarizeErrors=false&unitdp=4`). Returns one result
    /// per submitted item, in order; per-item failures are results, not errors. Retries after a timeout or a
    /// dropped connection reuse `idempotency_key`, so a retried call cannot create duplicates. After a 5xx,
    /// the items without an ItemID are looked up by Code (one list read), those found get their ItemID, and
    /// the call is retried once under a new key; a second 5xx is [`XeroError::ServerError`].
    pub async fn upsert_items(
        &self,
        tenant_id: &str,
        items: &[ItemPayload],
        idempotency_key: &str,
    ) -> Result<Vec<ItemResult>, XeroError> {
        if items.len() > MAX_ITEMS_PER_CALL {
            return Err(XeroError::Validation(vec![format!(
                "at most {MAX_ITEMS_PER_CALL} items can be sent in one call, not {}",
                items.len()
            )]));
        }
        if items.is_empty() {
            return Ok(Vec::new());
        }
        check_idempotency_key(idempotency_key)?;
        let url = format!("{}/Items", self.api());
        let query = [("summarizeErrors", "false"), ("unitdp", "4")];
        let answer = match self.write(tenant_id, &url, &query, items, idempotency_key).await {
            Err(XeroError::ServerError { status }) => {
                tracing::warn!(status, "xero answered an item write with a server error; re-reading, then one retry");
                let items = self.found_by_code(tenant_id, items).await?;
                self.write(tenant_id, &url, &query, &items, &fresh_key()).await?
            }
            other => other?,
        };
        match answer.status {
            StatusCode::OK => {
                let returned: Vec<Value> = list_of(&answer, "Items")?;
                Ok(correlate(items, &returned))
            }
            StatusCode::BAD_REQUEST => Err(XeroError::Validation(validation_messages(&answer.value()))),
            _ => Err(answer.unexpected()),
        }
    }

    /// `items`, with the ItemID of the item Xero has under the same Code (ignoring case) set on those sent
    /// without one: after a failed write, whether it created them after all.
    async fn found_by_code(&self, tenant_id: &str, items: &[ItemPayload]) -> Result<Vec<ItemPayload>, XeroError> {
        let mut items = items.to_vec();
        if items.iter().all(|item| item.item_id.is_some()) {
            return Ok(items);
        }
        let existing = self.items(tenant_id).await?;
        for item in items.iter_mut().filter(|item| item.item_id.is_none()) {
            if let Some(found) = existing.iter().find(|e| same_code(&e.code, &item.code)) {
                tracing::info!(code = %item.code, "the failed write had created the item; retrying as its update");
                item.item_id = Some(found.item_id.clone());
            }
        }
        Ok(items)
    }

    /// Updates one item by ItemID (`POST /Items/{ItemID}`), the way to change its Code. Validation
    /// failures come back as an `Error` result; an unknown ItemID as `Unexpected { status: 404 }`. After a
    /// 5xx the item is read again: gone, that is the answer; still there, the call is retried once under a new
    /// key (a second 5xx is [`XeroError::ServerError`]).
    pub async fn update_item(
        &self,
        tenant_id: &str,
        item_id: &str,
        item: &ItemPayload,
        idempotency_key: &str,
    ) -> Result<ItemResult, XeroError> {
        check_item_id(item_id)?;
        check_idempotency_key(idempotency_key)?;
        let url = format!("{}/Items/{item_id}", self.api());
        let (query, items) = ([("unitdp", "4")], std::slice::from_ref(item));
        let answer = match self.write(tenant_id, &url, &query, items, idempotency_key).await {
            Err(XeroError::ServerError { status }) => {
                tracing::warn!(status, "xero answered an item update with a server error; re-reading, then one retry");
                if self.get_item(tenant_id, item_id).await?.is_none() {
                    return Err(XeroError::Unexpected {
                        status: 404,
                        body_excerpt: "Xero no longer has the item".into(),
                    });
                }
                self.write(tenant_id, &url, &query, items, &fresh_key()).await?
            }
            other => other?,
        };
        match answer.status {
            StatusCode::OK => {
                let returned: Vec<Value> = list_of(&answer, "Items")?;
                Ok(match returned.first() {
                    Some(element) => ItemResult::from_element(&item.code, element),
                    None => ItemResult::failed(&item.code, vec![NO_ELEMENT.into()]),
                })
            }
            StatusCode::BAD_REQUEST => Ok(ItemResult::failed(&item.code, validation_messages(&answer.value()))),
            _ => Err(answer.unexpected()),
        }
    }

    /// One keyed `POST` of `items` to `url`.
    async fn write(
        &self,
        tenant_id: &str,
        url: &str,
        query: &[(&str, &str)],
        items: &[ItemPayload],
        key: &str,
    ) -> Result<Answer, XeroError> {
        let call = Call {
            query,
            body: Some(items_body(items).to_string().into_bytes()),
            idempotency_key: Some(key),
            ..self.call(Method::POST, url.to_owned(), Some(tenant_id))
        };
        self.execute(&call).await
    }

    /// A tenant's quota: calls left today (never more than the daily limit, `XERO_DAILY_CALL_LIMIT`, less
    /// what we and, by Xero's count, others spent), when the day resets, and what is left of the minute.
    /// `None` before the first call to the tenant, when the whole [`XeroClient::daily_call_limit`] is left as
    /// far as this process knows.
    pub fn limits(&self, tenant_id: &str) -> Option<LimitStatus> {
        lock(&self.inner.limiters).get(&tenant_id.to_ascii_lowercase()).map(|l| l.status())
    }

    /// The calls a day per tenant the client keeps to.
    pub fn daily_call_limit(&self) -> u32 {
        self.inner.config.limiter.per_day
    }

    // ---- plumbing ----

    fn api(&self) -> &str {
        self.inner.endpoints.api_url.trim_end_matches('/')
    }

    fn call<'a>(&self, method: Method, url: String, tenant: Option<&'a str>) -> Call<'a> {
        Call { method, url, tenant, query: &[], body: None, idempotency_key: None }
    }

    /// A GET that must answer 200.
    async fn get_ok(&self, tenant_id: &str, path: &str, query: &[(&str, &str)]) -> Result<Answer, XeroError> {
        let call = Call { query, ..self.call(Method::GET, format!("{}{path}", self.api()), Some(tenant_id)) };
        let answer = self.execute(&call).await?;
        if answer.status == StatusCode::OK { Ok(answer) } else { Err(answer.unexpected()) }
    }

    fn limiter(&self, tenant_id: &str) -> Arc<TenantLimiter> {
        let config = self.inner.config.limiter;
        lock(&self.inner.limiters)
            .entry(tenant_id.to_ascii_lowercase())
            .or_insert_with(|| Arc::new(TenantLimiter::new(config)))
            .clone()
    }

    fn cache_get<T>(&self, cache: &Cache<T>, tenant_id: &str) -> Option<Arc<T>> {
        let ttl = self.inner.config.cache_ttl;
        lock(cache).get(&tenant_id.to_ascii_lowercase()).filter(|c| c.fetched.elapsed() < ttl).map(|c| c.value.clone())
    }

    fn cache_put<T>(&self, cache: &Cache<T>, tenant_id: &str, value: T) -> Arc<T> {
        let value = Arc::new(value);
        let entry = Cached { fetched: Instant::now(), value: value.clone() };
        lock(cache).insert(tenant_id.to_ascii_lowercase(), entry);
        value
    }

    /// Sends a call until it gets an answer worth returning: throttled per tenant, 401 → refresh once and
    /// retry once, 429 → wait as told (but not for the daily limit), and what [`retried_as_is`] names →
    /// retry with the [`RetryPolicy`]'s backoff. The same request (and Idempotency-Key) is resent each time;
    /// a keyed write's 5xx is returned as [`XeroError::ServerError`] for its caller to recover from.
    async fn execute(&self, call: &Call<'_>) -> Result<Answer, XeroError> {
        // Across the retries of one call: one 401 refresh, and a bounded number of 429 waits.
        let progress =
            Mutex::new(Progress { rejected: None, rate_limited: 0, concurrent_wait: Duration::from_secs(1) });
        let attempt = || self.attempt(call, &progress);
        attempt
            .retry(self.inner.config.retry.backoff())
            .when(|failure| matches!(failure, Attempt::Retry(_)))
            .notify(|failure, delay| {
                if let Attempt::Retry(reason) = failure {
                    let (method, url) = (&call.method, &call.url);
                    tracing::warn!(%method, %url, %reason, ?delay, "xero call failed; retrying");
                }
            })
            .await
            .map_err(|failure| match failure {
                Attempt::Retry(reason) => {
                    tracing::warn!(method = %call.method, url = %call.url, %reason, "xero call failed; giving up");
                    XeroError::Unavailable(reason)
                }
                Attempt::Fail(error) => error,
            })
    }

    /// Sends `call` until it gets an answer, a failure to retry with backoff, or a final failure. 401s and
    /// 429s are handled here, without spending the backoff's attempts.
    async fn attempt(&self, call: &Call<'_>, progress: &Mutex<Progress>) -> Result<Answer, Attempt> {
        let config = &self.inner.config;
        let limiter = call.tenant.map(|t| self.limiter(t));
        loop {
            self.inner.app_gate.wait().await;
            let permit = match &limiter {
                Some(l) => Some(l.acquire().await.map_err(Attempt::Fail)?),
                None => None,
            };
            let rejected = lock(progress).rejected;
            let tokens = self.inner.tokens.current(rejected).await.map_err(Attempt::Fail)?;
            let sent = self.send_once(call, &tokens.access_token).await;
            drop(permit);
            let answer = sent.map_err(Attempt::Retry)?;
            self.inner.app_gate.observe(&answer.headers);
            if let Some(l) = &limiter {
                l.observe(&answer.headers);
            }
            let status = answer.status;
            if !status.is_success() && status != StatusCode::NOT_FOUND {
                tracing::warn!(
                    method = %call.method,
                    url = %call.url,
                    status = status.as_u16(),
                    correlation_id = ?correlation_id(&answer.headers),
                    "xero call failed"
                );
            }
            match status {
                // A token without the scope a call needs: refreshing cannot add it (and would rotate the refresh
                // token for nothing). Xero sends 401 (fidelity-audit X1); a 403 is read the same way.
                StatusCode::UNAUTHORIZED | StatusCode::FORBIDDEN
                    if answer.value()["Detail"] == "AuthorizationUnsuccessful" =>
                {
                    return Err(Attempt::Fail(self.inner.tokens.give_up(MISSING_SCOPE).await));
                }
                StatusCode::UNAUTHORIZED if rejected.is_none() => lock(progress).rejected = Some(tokens.version),
                StatusCode::UNAUTHORIZED => {
                    let reason = "Xero refused a freshly refreshed access token".into();
                    return Err(Attempt::Fail(XeroError::ReconnectNeeded(reason)));
                }
                StatusCode::FORBIDDEN if answer.value()["Detail"] == "AuthenticationUnsuccessful" => {
                    return Err(Attempt::Fail(XeroError::TenantForbidden));
                }
                StatusCode::TOO_MANY_REQUESTS => {
                    let problem = answer
                        .headers
                        .get("x-rate-limit-problem")
                        .and_then(|v| v.to_str().ok())
                        .map_or_else(|| "unknown".to_string(), |p| p.trim().to_ascii_lowercase());
                    let retry_after = header_u32(&answer.headers, "retry-after").map(|s| Duration::from_secs(s.into()));
                    let scope = RateScope::of(&problem);
                    let wait = {
                        let mut progress = lock(progress);
                        let wait = retry_after.unwrap_or(progress.concurrent_wait);
                        let exhausted = progress.rate_limited >= MAX_RATE_LIMIT_RETRIES;
                        if scope == RateScope::Day || wait > config.max_rate_limit_wait || exhausted {
                            if let (RateScope::Day, Some(l)) = (scope, &limiter) {
                                l.day_spent(retry_after);
                            }
                            return Err(Attempt::Fail(XeroError::RateLimited { retry_after, problem }));
                        }
                        if retry_after.is_none() {
                            progress.concurrent_wait = (progress.concurrent_wait * 2).min(MAX_CONCURRENT_BACKOFF);
                        }
                        progress.rate_limited += 1;
                        wait
                    };
                    match &limiter {
                        _ if scope == RateScope::App => self.inner.app_gate.pause(wait),
                        Some(l) => l.pause(wait),
                        None => tokio::time::sleep(wait).await,
                    }
                }
                s if s.is_server_error() && !retried_as_is(s, call.idempotency_key.is_some()) => {
                    return Err(Attempt::Fail(XeroError::ServerError { status: s.as_u16() }));
                }
                s if retried_as_is(s, call.idempotency_key.is_some()) => {
                    return Err(Attempt::Retry(format!("Xero answered HTTP {}", s.as_u16())));
                }
                _ => return Ok(answer),
            }
        }
    }

    /// One attempt. Transport failures come back as a readable reason.
    async fn send_once(&self, call: &Call<'_>, access_token: &SecretString) -> Result<Answer, String> {
        let mut request = self
            .inner
            .http
            .request(call.method.clone(), &call.url)
            .bearer_auth(access_token.expose_secret())
            .header(ACCEPT, "application/json");
        if let Some(tenant) = call.tenant {
            request = request.header("xero-tenant-id", tenant);
        }
        if !call.query.is_empty() {
            request = request.query(call.query);
        }
        if let Some(key) = call.idempotency_key {
            request = request.header("Idempotency-Key", key);
        }
        if let Some(body) = &call.body {
            request = request.header(CONTENT_TYPE, "application/json").body(body.clone());
        }
        let response = request.send().await.map_err(|e| describe_transport(&e))?;
        let status = response.status();
        let headers = response.headers().clone();
        let body = response.bytes().await.map_err(|e| describe_transport(&e))?;
        Ok(Answer { status, headers, body: body.to_vec() })
    }
}

/// Which answers are sent again unchanged after the policy's backoff: the server errors of calls without an
/// Idempotency-Key (reads). A keyed write's 5xx is not: Xero caches an internal error under the key and
/// replays it to every same-key retry (fidelity-audit X2), so its caller re-reads and retries under a new
/// key instead. Timeouts and dropped connections, where Xero may have done the work, are what the key is
/// for: those are always resent as they were. This is the one place that decides it.
fn retried_as_is(status: StatusCode, keyed: bool) -> bool {
    status.is_server_error() && !keyed
}

/// An Idempotency-Key for the one retry after a keyed write's 5xx: never used before, so Xero processes
/// the write afresh instead of replaying its cached error.
fn fresh_key() -> String {
    format!("xero-sync-retry-{}", uuid::Uuid::new_v4().simple())
}

/// Xero's Code uniqueness: the same code whatever the (ASCII) case and surrounding spaces.
fn same_code(a: &str, b: &str) -> bool {
    a.trim().eq_ignore_ascii_case(b.trim())
}

/// What one call has been through so far, across its retries.
struct Progress {
    /// The token version Xero refused with a 401, once.
    rejected: Option<i64>,
    rate_limited: u32,
    /// The wait after a 429 without `Retry-After` (too many calls in flight), doubling each time.
    concurrent_wait: Duration,
}

/// How an attempt failed: worth retrying with backoff (transport errors and [`retried_as_is`] answers),
/// or final.
enum Attempt {
    Retry(String),
    Fail(XeroError),
}

fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

/// The list under `key` of an Accounting answer (the rest of the envelope is ignored).
fn list_of<T: DeserializeOwned>(answer: &Answer, key: &str) -> Result<Vec<T>, XeroError> {
    let mut root: Value = answer.json()?;
    match root.get_mut(key).map(Value::take) {
        Some(list) => serde_json::from_value(list).map_err(|e| {
            tracing::warn!(error = %e, key, correlation_id = ?correlation_id(&answer.headers), "unreadable xero list");
            answer.unexpected()
        }),
        None => Err(answer.unexpected()),
    }
}

/// Pairs each submitted item with its returned element: by Code case-insensitively (Xero's uniqueness
/// rule) first, then by position among the elements no Code claimed. No source guarantees Xero keeps the
/// order.
fn correlate(items: &[ItemPayload], returned: &[Value]) -> Vec<ItemResult> {
    let mut used = vec![false; returned.len()];
    let mut chosen: Vec<Option<usize>> = items
        .iter()
        .map(|item| {
            let j = returned.iter().enumerate().position(|(j, element)| {
                !used[j] && element["Code"].as_str().is_some_and(|c| same_code(c, &item.code))
            })?;
            used[j] = true;
            Some(j)
        })
        .collect();
    for (i, slot) in chosen.iter_mut().enumerate() {
        if slot.is_none() && used.get(i).is_some_and(|u| !u) {
            used[i] = true;
            *slot = Some(i);
        }
    }
    items
        .iter()
        .zip(chosen)
        .map(|(item, slot)| match slot.and_then(|j| returned.get(j)) {
            Some(element) => ItemResult::from_element(&item.code, element),
            None => ItemResult::failed(&item.code, vec![NO_ELEMENT.into()]),
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::xero::ElementStatus;
    use shared::xero::SalesDetails;

    fn payload(code: &str) -> ItemPayload {
        ItemPayload {
            item_id: None,
            code: code.into(),
            name: code.into(),
            description: String::new(),
            is_sold: true,
            sales_details: SalesDetails {
                unit_price: Some(1.0),
                account_code: "200".into(),
                tax_type: "OUTPUT".into(),
            },
        }
    }

    #[test]
    fn results_are_matched_by_code_case_insensitively_then_by_position() {
        let items = [payload("a-1"), payload("B-2"), payload("c-3")];
        let returned = [
            json!({"Code": "b-2", "ItemID": "id-b", "StatusAttributeString": "OK"}),
            json!({"Code": "A-1", "ItemID": "id-a", "StatusAttributeString": "OK"}),
            json!({"ItemID": "id-c", "StatusAttributeString": "OK"}),
        ];
        let results = correlate(&items, &returned);
        let ids: Vec<_> = results.iter().map(|r| r.item_id.as_deref()).collect();
        assert_eq!(ids, [Some("id-a"), Some("id-b"), Some("id-c")]);
        let short = correlate(&items, &returned[..1]);
        assert_eq!(short[0].status, ElementStatus::Error, "no element left for a-1");
        assert_eq!(short[1].item_id.as_deref(), Some("id-b"));
    }
}
