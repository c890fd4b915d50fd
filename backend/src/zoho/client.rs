//! The CRM v8 calls the sync needs on Products (`../shared/reference/zoho-crm.md` §5.3): read one, list
//! changes, write back.

use std::sync::Arc;
use std::time::Duration;

use backon::Retryable;
use chrono::{DateTime, FixedOffset};
use reqwest::header::{AUTHORIZATION, HeaderMap, HeaderValue, RETRY_AFTER};
use reqwest::{Method, StatusCode, Url};
use secrecy::ExposeSecret;
use serde_json::{Map, Value, json};
use tokio::sync::Semaphore;

use super::error::{Envelope, ZohoError};
use super::tokens::{AccessToken, ZohoAuth, ZohoVault};
use crate::config::{ClientCredentials, ZohoEndpoints};
use crate::retry::RetryPolicy;

/// CRM calls in flight at once, per client (clones share them). Zoho caps the calls an app has in flight
/// per organisation (Free edition 5, Standard 10, more above) and answers the excess 429; five fits every
/// edition and leaves the other half of the Standard edition's cap to a second process (a bulk run).
pub const MAX_CALLS_IN_FLIGHT: usize = 5;

/// Zoho's largest page, and the pages reachable by number before `page_token` takes over.
const PER_PAGE: &str = "200";
const NUMBERED_PAGES: u32 = 10;
/// Records one update call may carry (Zoho's limit).
pub const MAX_UPDATE_RECORDS: usize = 100;

/// A field of the CRM's Products module, as its field metadata describes it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CrmField {
    pub api_name: String,
    /// Zoho's `data_type`: `text`, `textarea`, `boolean`, `picklist`, `datetime`, …
    pub data_type: String,
    /// The values a pick-list offers, as the CRM shows them (`display_value`); empty for other fields.
    pub pick_list_values: Vec<String>,
}

impl CrmField {
    fn read(field: &Value) -> Option<CrmField> {
        let api_name = field.get("api_name")?.as_str()?.to_owned();
        let data_type = field.get("data_type").and_then(Value::as_str).unwrap_or_default().to_owned();
        let values = field.get("pick_list_values").and_then(Value::as_array).map(Vec::as_slice).unwrap_or_default();
        let pick_list_values = values
            .iter()
            .filter_map(|v| v.get("display_value").or_else(|| v.get("actual_value"))?.as_str())
            .map(str::trim)
            .filter(|v| !v.is_empty())
            .map(str::to_owned)
            .collect();
        Some(CrmField { api_name, data_type, pick_list_values })
    }
}

/// What a write-back did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum UpdateOutcome {
    Updated {
        modified_time: DateTime<FixedOffset>,
    },
    /// `If-Unmodified-Since` failed: someone changed the record after the time given.
    Conflict,
}

/// A small Zoho CRM client. Cheap to clone; clones share the access token and the calls in flight.
#[derive(Clone)]
pub struct ZohoClient {
    http: reqwest::Client,
    auth: Arc<ZohoAuth>,
    retry: RetryPolicy,
    /// [`MAX_CALLS_IN_FLIGHT`] permits, one held per CRM call until its answer is read.
    in_flight: Arc<Semaphore>,
}

impl std::fmt::Debug for ZohoClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ZohoClient").field("retry", &self.retry).finish_non_exhaustive()
    }
}

/// One request, rebuilt for each attempt because a refresh may move it to another `api_domain`.
struct Call<'a> {
    method: Method,
    segments: &'a [&'a str],
    query: &'a [(&'a str, String)],
    headers: HeaderMap,
    body: Option<&'a Value>,
    /// The sync cannot work without this call: a scope the grant lacks then means the grant is unusable
    /// and an admin must reconnect. Otherwise only this call fails.
    essential: bool,
}

struct Reply {
    status: StatusCode,
    headers: HeaderMap,
    /// `Null` when the response had no body (204, 304).
    body: Value,
}

/// An attempt's failure: retried (429, 5xx, timeouts) or final.
enum Failure {
    Transient(ZohoError),
    Final(ZohoError),
}

impl Failure {
    fn into_error(self) -> ZohoError {
        match self {
            Failure::Transient(e) | Failure::Final(e) => e,
        }
    }
}

impl From<ZohoError> for Failure {
    fn from(error: ZohoError) -> Self {
        match error {
            ZohoError::Unavailable(_) => Failure::Transient(error),
            _ => Failure::Final(error),
        }
    }
}

/// Which page of a listing to read: by number (Zoho allows 1 to 10, the first 2,000 records), then by the
/// `next_page_token` of the page before.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PageRef {
    Number(u32),
    Token(String),
}

impl PageRef {
    pub const FIRST: PageRef = PageRef::Number(1);
}

/// One page of a listing.
#[derive(Debug, Clone, PartialEq)]
pub struct ProductsPage {
    pub records: Vec<Map<String, Value>>,
    /// Zoho's `more_records`.
    pub more: bool,
    next_token: Option<String>,
}

impl ProductsPage {
    /// The page after `this` one, `None` at the end. Errors on an answer that claims more records but
    /// gives none (which would loop forever) or no token past page 10.
    pub fn next_page(&self, this: &PageRef) -> Result<Option<PageRef>, ZohoError> {
        if !self.more {
            return Ok(None);
        }
        if self.records.is_empty() {
            return Err(unexpected_body(200, "more_records with an empty page"));
        }
        match this {
            PageRef::Number(number) if *number < NUMBERED_PAGES => Ok(Some(PageRef::Number(number + 1))),
            _ => self
                .next_token
                .clone()
                .map(|token| Some(PageRef::Token(token)))
                .ok_or_else(|| unexpected_body(200, "more_records without next_page_token")),
        }
    }
}

impl ZohoClient {
    /// `http` should carry timeouts. `endpoints.api_url` is used until a token response names the
    /// `api_domain`.
    pub fn new(
        http: reqwest::Client,
        endpoints: &ZohoEndpoints,
        credentials: ClientCredentials,
        vault: Arc<dyn ZohoVault>,
    ) -> Self {
        let api_url = endpoints.api_url.trim_end_matches('/').to_string();
        let auth = ZohoAuth::new(http.clone(), &endpoints.accounts_url, api_url, credentials, vault);
        let retry =
            RetryPolicy { max_attempts: 4, min_delay: Duration::from_millis(500), max_delay: Duration::from_secs(4) };
        let in_flight = Arc::new(Semaphore::new(MAX_CALLS_IN_FLIGHT));
        Self { http, auth: Arc::new(auth), retry, in_flight }
    }

    /// How a 429, 5xx or timeout is retried.
    pub fn with_retry(mut self, retry: RetryPolicy) -> Self {
        self.retry = retry;
        self
    }

    /// Connects Zoho with a Self Client code (`grant_type=authorization_code`); stores the refresh token.
    pub async fn exchange_self_client_code(&self, code: &str) -> Result<(), ZohoError> {
        self.auth.exchange_self_client_code(code).await
    }

    /// `GET /crm/v8/Products/{id}`; `None` when Zoho says the record does not exist. An empty `fields`
    /// asks for all fields.
    pub async fn get_product(&self, id: &str, fields: &[&str]) -> Result<Option<Map<String, Value>>, ZohoError> {
        let query: Vec<(&str, String)> =
            if fields.is_empty() { Vec::new() } else { vec![("fields", fields.join(","))] };
        let segments = ["crm", "v8", "Products", id];
        let call = Call {
            method: Method::GET,
            segments: &segments,
            query: &query,
            headers: HeaderMap::new(),
            body: None,
            essential: true,
        };
        self.run(&call, |reply| match reply.status {
            StatusCode::OK => Ok(records(&reply)?.into_iter().next()),
            StatusCode::NO_CONTENT | StatusCode::NOT_FOUND => Ok(None),
            StatusCode::BAD_REQUEST => {
                let envelope = Envelope::from_body(&reply.body);
                // INVALID_DATA about the id (not about a parameter) is how v8 reports a missing record.
                if envelope.code == "INVALID_DATA" && envelope.detail("param_name").is_none() {
                    Ok(None)
                } else {
                    Err(failure(reply))
                }
            }
            _ => Err(failure(reply)),
        })
        .await
    }

    /// Every product modified after `since` (all when `None`), oldest change first. `fields` must not be
    /// empty (Zoho requires it). Pages by number for the first 2,000 records, then by `page_token`.
    pub async fn products_modified_since(
        &self,
        since: Option<DateTime<FixedOffset>>,
        fields: &[&str],
    ) -> Result<Vec<Map<String, Value>>, ZohoError> {
        let mut all = Vec::new();
        let mut page = PageRef::FIRST;
        loop {
            let result = self.products_page(since, fields, &page).await?;
            let next = result.next_page(&page)?;
            all.extend(result.records);
            match next {
                Some(next) => page = next,
                None => return Ok(all),
            }
        }
    }

    /// One page (200 records) of the products modified after `since` (all when `None`), oldest change
    /// first (`sort_by=Modified_Time`). A bulk run reads page by page so it can checkpoint between pages;
    /// [`ProductsPage::next_page`] names the page after this one.
    pub async fn products_page(
        &self,
        since: Option<DateTime<FixedOffset>>,
        fields: &[&str],
        page: &PageRef,
    ) -> Result<ProductsPage, ZohoError> {
        let mut headers = HeaderMap::new();
        if let Some(since) = since {
            headers.insert("If-Modified-Since", time_header(since)?);
        }
        let segments = ["crm", "v8", "Products"];
        let mut query = vec![
            ("fields", fields.join(",")),
            ("per_page", PER_PAGE.to_string()),
            ("sort_by", "Modified_Time".to_string()),
            ("sort_order", "asc".to_string()),
        ];
        match page {
            PageRef::Token(token) => query.push(("page_token", token.clone())),
            PageRef::Number(number) => query.push(("page", number.to_string())),
        }
        let call =
            Call { method: Method::GET, segments: &segments, query: &query, headers, body: None, essential: true };
        self.run(&call, |reply| match reply.status {
            StatusCode::OK => {
                let info = reply.body.get("info");
                let flag = |key| info.and_then(|i| i.get(key));
                Ok(ProductsPage {
                    records: records(&reply)?,
                    more: flag("more_records").and_then(Value::as_bool).unwrap_or(false),
                    next_token: flag("next_page_token").and_then(Value::as_str).map(str::to_string),
                })
            }
            // 304: nothing changed since `since`; 204: no records at all.
            StatusCode::NOT_MODIFIED | StatusCode::NO_CONTENT => {
                Ok(ProductsPage { records: Vec::new(), more: false, next_token: None })
            }
            _ => Err(failure(reply)),
        })
        .await
    }

    /// The API names of the Products fields, `GET /crm/v8/settings/fields?module=Products` (scope
    /// `ZohoCRM.settings.fields.READ`): the admin pages check the configured custom fields against them.
    pub async fn product_field_names(&self) -> Result<Vec<String>, ZohoError> {
        Ok(self.product_fields().await?.into_iter().map(|f| f.api_name).collect())
    }

    /// The Products module's fields (`GET /crm/v8/settings/fields?module=Products`): each API name, with its
    /// pick-list values (the `Tax` field's are the organisation's taxes).
    pub async fn product_fields(&self) -> Result<Vec<CrmField>, ZohoError> {
        let segments = ["crm", "v8", "settings", "fields"];
        let query = [("module", "Products".to_string())];
        // Only the admin pages read this: a grant without the settings scope still syncs.
        let call = Call {
            method: Method::GET,
            segments: &segments,
            query: &query,
            headers: HeaderMap::new(),
            body: None,
            essential: false,
        };
        self.run(&call, |reply| match reply.status {
            StatusCode::OK => {
                let fields = reply.body.get("fields").and_then(Value::as_array).ok_or_else(|| {
                    Failure::Final(unexpected_body(reply.status.as_u16(), "the answer has no fields array"))
                })?;
                Ok(fields.iter().filter_map(CrmField::read).collect())
            }
            _ => Err(failure(reply)),
        })
        .await
    }

    /// The organisation's `domain_name` (`org…`), the segment of the CRM's record URLs:
    /// `GET /crm/v8/org` (scope `ZohoCRM.org.READ`). Only links need it: a grant without the scope still
    /// syncs, and this call alone fails.
    pub async fn org_domain_name(&self) -> Result<String, ZohoError> {
        let segments = ["crm", "v8", "org"];
        let call = Call {
            method: Method::GET,
            segments: &segments,
            query: &[],
            headers: HeaderMap::new(),
            body: None,
            essential: false,
        };
        self.run(&call, |reply| match reply.status {
            StatusCode::OK => reply
                .body
                .get("org")
                .and_then(Value::as_array)
                .and_then(|orgs| orgs.first())
                .and_then(|org| org.get("domain_name"))
                .and_then(Value::as_str)
                .filter(|name| !name.is_empty())
                .map(str::to_owned)
                .ok_or_else(|| Failure::Final(unexpected_body(200, "the answer has no org domain_name"))),
            _ => Err(failure(reply)),
        })
        .await
    }

    /// `PUT /crm/v8/Products` with [`update_body`]. With `if_unmodified_since`, a record changed after that
    /// time is left alone and the answer is [`UpdateOutcome::Conflict`].
    pub async fn update_product(
        &self,
        id: &str,
        fields: Map<String, Value>,
        if_unmodified_since: Option<DateTime<FixedOffset>>,
    ) -> Result<UpdateOutcome, ZohoError> {
        let body = update_body(id, fields);
        let mut headers = HeaderMap::new();
        if let Some(since) = if_unmodified_since {
            headers.insert("If-Unmodified-Since", time_header(since)?);
        }
        let segments = ["crm", "v8", "Products"];
        let call =
            Call { method: Method::PUT, segments: &segments, query: &[], headers, body: Some(&body), essential: true };
        self.run(&call, |reply| {
            // 200, 207 and 400 carry a result per record; other errors are envelopes.
            if let Some(result) = reply.body.get("data").and_then(Value::as_array).and_then(|d| d.first()) {
                return record_result(result).map_err(Failure::Final);
            }
            let envelope = Envelope::from_body(&reply.body);
            if reply.status == StatusCode::PRECONDITION_FAILED && envelope.code == "ALREADY_MODIFIED" {
                return Ok(UpdateOutcome::Conflict);
            }
            Err(failure(reply))
        })
        .await
    }

    /// Writes back several records in one `PUT /crm/v8/Products` (at most [`MAX_UPDATE_RECORDS`], Zoho's
    /// limit), with workflows off as in [`update_body`]. Returns one result per record, in the order given;
    /// a record Zoho refused is an `Err` in its place, while a failure of the whole call is the outer `Err`.
    pub async fn update_products(
        &self,
        records: Vec<(String, Map<String, Value>)>,
    ) -> Result<Vec<Result<UpdateOutcome, ZohoError>>, ZohoError> {
        if records.len() > MAX_UPDATE_RECORDS {
            return Err(ZohoError::Unexpected {
                status: None,
                code: "TOO_MANY_RECORDS".into(),
                message: format!("at most {MAX_UPDATE_RECORDS} records per update, not {}", records.len()),
            });
        }
        if records.is_empty() {
            return Ok(Vec::new());
        }
        let count = records.len();
        let data: Vec<Value> = records
            .into_iter()
            .map(|(id, mut fields)| {
                fields.insert("id".into(), Value::String(id));
                Value::Object(fields)
            })
            .collect();
        let body = json!({"data": data, "trigger": []});
        let segments = ["crm", "v8", "Products"];
        let call = Call {
            method: Method::PUT,
            segments: &segments,
            query: &[],
            headers: HeaderMap::new(),
            body: Some(&body),
            essential: true,
        };
        self.run(&call, |reply| {
            // 200, 207 and 400 carry a result per record, in the order sent; other errors are envelopes.
            match reply.body.get("data").and_then(Value::as_array) {
                Some(results) if results.len() == count => Ok(results.iter().map(record_result).collect()),
                Some(_) => Err(Failure::Final(unexpected_body(
                    reply.status.as_u16(),
                    "the update answer has not one result per record",
                ))),
                None => Err(failure(reply)),
            }
        })
        .await
    }

    /// Runs `call` with retries on transient failures, reading each reply with `read`.
    async fn run<T>(&self, call: &Call<'_>, read: impl Fn(Reply) -> Result<T, Failure>) -> Result<T, ZohoError> {
        let attempt = || async {
            let reply = self.authorized(call).await?;
            read(reply)
        };
        attempt
            .retry(self.retry.backoff())
            .when(|f| matches!(f, Failure::Transient(_)))
            .notify(|f, delay| {
                if let Failure::Transient(e) = f {
                    tracing::warn!(error = %e, ?delay, "Zoho call failed; retrying");
                }
            })
            .await
            .map_err(Failure::into_error)
    }

    /// Sends `call` with the access token; on 401 `INVALID_TOKEN` refreshes once and sends once more.
    async fn authorized(&self, call: &Call<'_>) -> Result<Reply, Failure> {
        let access = self.auth.access_token().await?;
        let reply = self.send(call, &access).await?;
        let reply = if is_code(&reply, StatusCode::UNAUTHORIZED, "INVALID_TOKEN") {
            self.auth.invalidate(&access.token).await;
            let access = self.auth.access_token().await?;
            self.send(call, &access).await?
        } else {
            reply
        };
        if is_code(&reply, StatusCode::UNAUTHORIZED, "OAUTH_SCOPE_MISMATCH") {
            let message = Envelope::from_body(&reply.body).message;
            let reason = format!("the Zoho grant lacks a scope this call needs ({message})");
            if !call.essential {
                let code = "OAUTH_SCOPE_MISMATCH".to_owned();
                return Err(Failure::Final(ZohoError::Unexpected { status: Some(401), code, message: reason }));
            }
            return Err(Failure::Final(self.auth.give_up(reason).await));
        }
        Ok(reply)
    }

    async fn send(&self, call: &Call<'_>, access: &AccessToken) -> Result<Reply, Failure> {
        let mut url = Url::parse(&access.api_domain).map_err(|e| {
            Failure::Final(ZohoError::Unexpected {
                status: None,
                code: "INVALID_API_DOMAIN".into(),
                message: format!("{}: {e}", access.api_domain),
            })
        })?;
        url.path_segments_mut()
            .map_err(|()| {
                Failure::Final(ZohoError::Unexpected {
                    status: None,
                    code: "INVALID_API_DOMAIN".into(),
                    message: access.api_domain.clone(),
                })
            })?
            .pop_if_empty()
            .extend(call.segments);
        let mut authorization = HeaderValue::from_str(&format!("Zoho-oauthtoken {}", access.token.expose_secret()))
            .map_err(|_| Failure::Final(unexpected_body(200, "the access token is not a valid header value")))?;
        authorization.set_sensitive(true);
        let mut request = self
            .http
            .request(call.method.clone(), url)
            .header(AUTHORIZATION, authorization)
            .headers(call.headers.clone());
        if !call.query.is_empty() {
            request = request.query(call.query);
        }
        if let Some(body) = call.body {
            request = request.json(body);
        }
        // Held until the answer is read: Zoho counts a call in flight until it has answered.
        let _slot =
            self.in_flight.acquire().await.map_err(|_| {
                Failure::Final(ZohoError::Unavailable("the client's call limiter was shut down".into()))
            })?;
        let response = request.send().await.map_err(|e| Failure::Transient(ZohoError::Unavailable(e.to_string())))?;
        let status = response.status();
        let headers = response.headers().clone();
        let text = response.text().await.map_err(|e| Failure::Transient(ZohoError::Unavailable(e.to_string())))?;
        let body = if text.trim().is_empty() {
            Value::Null
        } else {
            match serde_json::from_str(&text) {
                Ok(body) => body,
                Err(_) if status.is_server_error() => {
                    return Err(Failure::Transient(ZohoError::Unavailable(format!("Zoho answered {status}"))));
                }
                Err(_) => return Err(Failure::Final(unexpected_body(status.as_u16(), "the answer is not JSON"))),
            }
        };
        Ok(Reply { status, headers, body })
    }
}

/// The PUT body for one record's write-back. `trigger: []` keeps the CRM's workflows, approvals and
/// blueprints from firing on our own write. `id` wins over any `id` in `fields`.
pub fn update_body(id: &str, fields: Map<String, Value>) -> Value {
    let mut record = fields;
    record.insert("id".into(), Value::String(id.to_string()));
    json!({"data": [record], "trigger": []})
}

/// Zoho's time headers take its own ISO-8601 form, whole seconds with the offset.
fn time_header(time: DateTime<FixedOffset>) -> Result<HeaderValue, ZohoError> {
    HeaderValue::from_str(&time.format("%Y-%m-%dT%H:%M:%S%:z").to_string()).map_err(|e| ZohoError::Unexpected {
        status: None,
        code: "INVALID_TIME".into(),
        message: e.to_string(),
    })
}

fn is_code(reply: &Reply, status: StatusCode, code: &str) -> bool {
    reply.status == status && reply.body.get("code").and_then(Value::as_str) == Some(code)
}

/// `data` of a read as records.
fn records(reply: &Reply) -> Result<Vec<Map<String, Value>>, Failure> {
    let data = reply
        .body
        .get("data")
        .and_then(Value::as_array)
        .ok_or_else(|| Failure::Final(unexpected_body(reply.status.as_u16(), "the answer has no data array")))?;
    Ok(data.iter().filter_map(|r| r.as_object().cloned()).collect())
}

/// One record's write result: `{code, details, message, status}`.
fn record_result(result: &Value) -> Result<UpdateOutcome, ZohoError> {
    let envelope = Envelope::from_body(result);
    if result.get("status").and_then(Value::as_str) != Some("success") {
        if envelope.code == "ALREADY_MODIFIED" {
            return Ok(UpdateOutcome::Conflict);
        }
        return Err(envelope.record_error());
    }
    envelope
        .detail("Modified_Time")
        .and_then(|t| DateTime::parse_from_rfc3339(&t).ok())
        .map(|modified_time| UpdateOutcome::Updated { modified_time })
        .ok_or_else(|| unexpected_body(200, "the update result has no Modified_Time"))
}

/// A reply no operation expected: 429 and 5xx are retried, the rest are final. A 429 that outlasts the
/// retries is Zoho's API limit: with our own calls in flight capped below Zoho's, most likely the
/// organisation's credits for the last 24 hours (Zoho documents no `Retry-After` for them).
fn failure(reply: Reply) -> Failure {
    let status = reply.status;
    let envelope = Envelope::from_body(&reply.body);
    if status == StatusCode::TOO_MANY_REQUESTS {
        let retry_after = reply
            .headers
            .get(RETRY_AFTER)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.trim().parse().ok())
            .map(Duration::from_secs);
        return Failure::Transient(ZohoError::RateLimited { retry_after });
    }
    if status.is_server_error() {
        return Failure::Transient(ZohoError::Unavailable(format!("{status} {}: {}", envelope.code, envelope.message)));
    }
    Failure::Final(envelope.unexpected(status.as_u16()))
}

fn unexpected_body(status: u16, message: &str) -> ZohoError {
    ZohoError::Unexpected { status: Some(status), code: "UNEXPECTED_RESPONSE".into(), message: message.into() }
}
