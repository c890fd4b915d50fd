//! The Accounting API under `/api.xro/2.0`: Items (read, create, upsert, update, delete), TaxRates and
//! Accounts, behind Xero's gate (bearer token, `xero-tenant-id`, scopes, rate limits, idempotency keys).
//!
//! Validation messages Xero is known to use are reproduced word for word ("Price List Item with Code 'X'
//! already exists", "Price List Item Code must be supplied", "The TaxType code 'INPUT' cannot be used with
//! account code '200'.", "Cost Of Goods Sold Account must be used with an Inventory Asset Account"). The
//! others (field lengths, invalid account code, unknown ItemID, inventory account type) are not documented
//! by Xero; their wording here is our best guess, so clients must not match on them.
//!
//! Content negotiation as in Xero: answers are JSON only with `Accept: application/json` (XML otherwise,
//! see [`super::xml`]), and a write body must come with `Content-Type: application/json`. Xero would try to
//! read any other body as XML; the simulator reads JSON only, so it refuses such a body with a 400
//! `PostDataInvalidException` in its own words (unverified wording).
//!
//! A failed element is answered as the spec's createItems example shows it: the would-be item with an
//! `ItemID` (a fresh one for a failed create, never stored) and its `ValidationErrors`. The duplicate-code
//! message keeps the quoting of a real capture (`'X'`, calcinai/xero-php#528); the spec's example shows
//! `''abc''`, so clients must not match on the quotes either.

mod decode;
mod idempotency;
mod model;
mod rules;

use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::{Query, State};
use axum::http::{HeaderMap, Method, StatusCode, Uri, header};
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};

use super::behaviour::{Behaviour, InvalidAccount, MissingScope, ServerErrors, StaleItemId};
use super::faults::{self, Fault, FaultTarget};
use super::query::{self, Filter};
use super::respond::{self, envelope, error_body, internal_error_body, problem_body, rate_headers};
use super::seed::Org;
use super::state::{InFlight, Inner, Shared};
use super::time::{EpochMs, parse_iso};
use decode::{bad_field, decode, elements};
use idempotency::{idempotency_key, idempotent};
use model::{ACCOUNT_FIELDS, ITEM_FIELDS, TAX_RATE_FIELDS};
use rules::{Mode, Refused, apply, names_invalid_account, store};

pub use idempotency::Idempotent;
pub use model::{Details, Item, ItemEdit};

/// Where the Accounting API is mounted.
pub const API_PREFIX: &str = "/api.xro/2.0";

/// An answer before it becomes an HTTP response (so idempotency keys can keep and replay it).
#[derive(Clone)]
struct Reply {
    status: StatusCode,
    body: Option<Value>,
}

impl Reply {
    fn problem(status: StatusCode, detail: &str) -> Reply {
        Reply { status, body: Some(problem_body(status, detail)) }
    }

    fn error(number: u32, kind: &str, message: &str, elements: Option<Vec<Value>>) -> Reply {
        Reply { status: StatusCode::BAD_REQUEST, body: Some(error_body(number, kind, message, elements)) }
    }

    /// Xero's internal error (see [`internal_error_body`]).
    fn internal_error() -> Reply {
        Reply { status: StatusCode::INTERNAL_SERVER_ERROR, body: Some(internal_error_body()) }
    }

    /// JSON, or Xero's default XML when the client did not ask for JSON.
    fn into_response(self, json: bool) -> Response {
        match self.body {
            Some(body) if json => respond::json(self.status, &body),
            Some(body) => {
                let xml = [(header::CONTENT_TYPE, "text/xml; charset=utf-8")];
                (self.status, xml, super::xml::render(&body)).into_response()
            }
            None => self.status.into_response(),
        }
    }
}

/// Whether the client asked for JSON (`Accept: application/json`); Xero answers XML otherwise.
fn accepts_json(headers: &HeaderMap) -> bool {
    headers
        .get_all(header::ACCEPT)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .any(|v| v.to_ascii_lowercase().contains("application/json"))
}

/// One request, once it has passed the gate.
struct Call<'a> {
    method: &'a Method,
    segments: Vec<String>,
    params: Vec<(String, String)>,
    headers: &'a HeaderMap,
    body: &'a Bytes,
    tenant: String,
    now_ms: EpochMs,
    behaviour: Behaviour,
}

impl Call<'_> {
    /// A write body must be declared JSON.
    fn json_body(&self) -> Result<(), Reply> {
        let content_type = self.headers.get(header::CONTENT_TYPE).and_then(|v| v.to_str().ok()).unwrap_or_default();
        if content_type.trim().to_ascii_lowercase().starts_with("application/json") {
            return Ok(());
        }
        let message = format!(
            "The request body was sent as '{content_type}', not as JSON; send it with Content-Type: application/json \
             (the simulator reads JSON bodies only)"
        );
        Err(Reply::error(14, "PostDataInvalidException", &message, None))
    }

    fn param(&self, name: &str) -> Option<&str> {
        self.params.iter().find(|(k, _)| k.eq_ignore_ascii_case(name)).map(|(_, v)| v.as_str())
    }

    /// 4 with `unitdp=4`, else 2.
    fn dp(&self) -> i32 {
        if self.param("unitdp") == Some("4") { 4 } else { 2 }
    }

    /// Xero summarises errors unless `summarizeErrors=false` is given (whatever the spec's default says).
    fn summarize(&self) -> bool {
        !self.param("summarizeErrors").is_some_and(|v| v.eq_ignore_ascii_case("false"))
    }
}

/// Every `/api.xro/2.0/...` request.
pub async fn api(
    State(shared): State<Arc<Shared>>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let tenant = headers.get("xero-tenant-id").and_then(|v| v.to_str().ok()).unwrap_or_default().trim().to_string();
    let (slot, remaining) = match gate(&shared, &method, &headers, &tenant) {
        Ok(admitted) => admitted,
        Err(refusal) => return *refusal,
    };
    let behaviour = shared.lock().config.behaviour;
    let keyed = idempotency_key(&method, &headers).is_some();
    // Whether the request is processed, fails inside (after the idempotency store saw it), or is answered
    // by the fault alone.
    let mut missing_element = false;
    let mut answered_instead = None;
    let (internal_error, lose_response) = match faults::before_call(&shared, FaultTarget::Api).await {
        None => (false, false),
        Some(Fault::LoseResponse) => (false, true),
        Some(Fault::MissingElement) => {
            missing_element = true;
            (false, false)
        }
        Some(Fault::ProcessedThen(status)) => {
            answered_instead = Some(status);
            (false, false)
        }
        Some(Fault::Status(500)) if keyed && behaviour.server_errors == ServerErrors::Cached => (true, false),
        Some(fault) => {
            let mut response = faults::respond(&shared, fault, Some(remaining)).await;
            // A forced 429 carries its own counts.
            if !response.headers().contains_key("x-minlimit-remaining") {
                rate_headers(&mut response, remaining);
            }
            return response;
        }
    };
    let path = uri.path().strip_prefix(API_PREFIX).unwrap_or_default();
    let call = Call {
        method: &method,
        segments: path.split('/').filter(|s| !s.is_empty()).map(percent_decode).collect(),
        params: Query::<Vec<(String, String)>>::try_from_uri(&uri).map(|q| q.0).unwrap_or_default(),
        headers: &headers,
        body: &body,
        tenant: slot.tenant.clone(),
        now_ms: shared.time.epoch_ms(),
        behaviour,
    };
    let reply = {
        let now = shared.time.now();
        let mut inner = shared.lock();
        idempotent(&mut inner, now, &call, &uri, |inner, call| {
            if internal_error { Reply::internal_error() } else { route(inner, call) }
        })
    };
    if lose_response {
        return faults::dropped_response();
    }
    if let Some(status) = answered_instead {
        let mut response = faults::status_response(status);
        rate_headers(&mut response, remaining);
        return response;
    }
    let mut reply = reply;
    if missing_element && let Some(Value::Array(items)) = reply.body.as_mut().and_then(|b| b.get_mut("Items")) {
        items.pop();
    }
    let mut response = reply.into_response(accepts_json(&headers));
    rate_headers(&mut response, remaining);
    response
}

/// Bearer token, tenant, scope and rate limits, in Xero's order. On success the caller holds an in-flight
/// slot until it drops the guard.
fn gate(
    shared: &Arc<Shared>,
    method: &Method,
    headers: &HeaderMap,
    tenant: &str,
) -> Result<(InFlight, super::limits::Remaining), Box<Response>> {
    let now = shared.time.now();
    let mut inner = shared.lock();
    let grant = inner.identity.authenticate(headers, now, |t| shared.time.at(t)).map_err(|e| Box::new(e.response()))?;
    let tenant = match inner.org(tenant) {
        Some(org) if inner.identity.connected(&org.tenant_id) => org.tenant_id.clone(),
        _ => return Err(Box::new(respond::problem(StatusCode::FORBIDDEN, "AuthenticationUnsuccessful"))),
    };
    let scopes: Vec<&str> = grant.scope.split(' ').collect();
    let allowed = scopes.contains(&"accounting.settings")
        || (*method == Method::GET && scopes.contains(&"accounting.settings.read"));
    if !allowed {
        let status = match inner.config.behaviour.missing_scope {
            MissingScope::Forbidden => StatusCode::FORBIDDEN,
            MissingScope::Unauthorized => StatusCode::UNAUTHORIZED,
        };
        return Err(Box::new(respond::problem(status, "AuthorizationUnsuccessful")));
    }
    let (limits, names) = (inner.config.limits, inner.config.behaviour.problem_names);
    let remaining =
        inner.limiter.admit(&tenant, now, &limits).map_err(|l| Box::new(respond::too_many_requests(l, true, names)))?;
    Ok((InFlight { shared: shared.clone(), tenant }, remaining))
}

fn not_found() -> Reply {
    Reply::problem(StatusCode::NOT_FOUND, "The resource you're looking for cannot be found")
}

fn route(inner: &mut Inner, call: &Call<'_>) -> Reply {
    let provider = inner.config.provider_name.clone();
    let Some(org) = inner.org_mut(&call.tenant) else {
        return Reply::problem(StatusCode::FORBIDDEN, "AuthenticationUnsuccessful");
    };
    let segments: Vec<&str> = call.segments.iter().map(String::as_str).collect();
    let lower: Vec<String> = segments.iter().map(|s| s.to_ascii_lowercase()).collect();
    let lower: Vec<&str> = lower.iter().map(String::as_str).collect();
    let result = match (call.method.clone(), lower.as_slice()) {
        (Method::GET, ["items"]) => get_items(org, call),
        (Method::PUT, ["items"]) => write_items(org, call, Mode::Create),
        (Method::POST, ["items"]) => write_items(org, call, Mode::Upsert),
        (Method::GET, ["items", _]) => get_item(org, call, segments[1]),
        (Method::POST, ["items", _]) => update_item(org, call, segments[1]),
        (Method::DELETE, ["items", _]) => delete_item(org, segments[1]),
        (Method::GET, ["taxrates"]) => {
            list(call, org.tax_rates.iter().map(|r| r.to_json()).collect(), "TaxRate", TAX_RATE_FIELDS, "Name")
        }
        (Method::GET, ["accounts"]) => {
            let since = modified_since(call.headers);
            let accounts = org.accounts.iter().filter(|a| since.is_none_or(|s| a.updated_ms > s));
            list(call, accounts.map(|a| a.to_json()).collect(), "Account", ACCOUNT_FIELDS, "")
        }
        _ => Err(not_found()),
    };
    match result {
        Ok(Answer::List(key, list)) => {
            Reply { status: StatusCode::OK, body: Some(envelope(&provider, call.now_ms, key, list)) }
        }
        Ok(Answer::NoContent) => Reply { status: StatusCode::NO_CONTENT, body: None },
        Err(reply) => reply,
    }
}

enum Answer {
    /// `{envelope…, key: list}`.
    List(&'static str, Vec<Value>),
    NoContent,
}

fn key_of(entity: &str) -> &'static str {
    match entity {
        "TaxRate" => "TaxRates",
        "Account" => "Accounts",
        _ => "Items",
    }
}

/// Applies `where` and `order` to a list.
fn list(
    call: &Call<'_>,
    mut records: Vec<Value>,
    entity: &str,
    fields: &[&str],
    default_order: &str,
) -> Result<Answer, Reply> {
    let parse_error = |e: query::QueryError| Reply::error(16, "QueryParseException", &e.0, None);
    if let Some(text) = call.param("where").filter(|w| !w.trim().is_empty()) {
        let filter = Filter::parse(text, entity, fields).map_err(parse_error)?;
        records.retain(|r| filter.matches(r));
    }
    let order = call.param("order").unwrap_or(default_order);
    query::sort(&mut records, order, entity, fields).map_err(parse_error)?;
    Ok(Answer::List(key_of(entity), records))
}

/// `If-Modified-Since` as ISO 8601 (what Xero's SDKs send); unparseable values are ignored.
fn modified_since(headers: &HeaderMap) -> Option<EpochMs> {
    headers.get("if-modified-since").and_then(|v| v.to_str().ok()).and_then(parse_iso)
}

fn get_items(org: &Org, call: &Call<'_>) -> Result<Answer, Reply> {
    let since = modified_since(call.headers);
    let items =
        org.items.iter().filter(|i| since.is_none_or(|s| i.updated_ms > s)).map(|i| i.to_json(call.dp())).collect();
    list(call, items, "Item", ITEM_FIELDS, "Code")
}

/// Finds an item by ItemID or, as Xero also allows, by Code. A Code with `/` never matches: Xero decodes
/// `%2F` before routing, so such a lookup reports "not found" (XeroAPI/xero-python#53).
fn find(org: &Org, id: &str) -> Option<usize> {
    if id.contains('/') {
        return None;
    }
    org.items
        .iter()
        .position(|i| i.item_id.eq_ignore_ascii_case(id))
        .or_else(|| org.items.iter().position(|i| i.code.eq_ignore_ascii_case(id)))
}

fn get_item(org: &Org, call: &Call<'_>, id: &str) -> Result<Answer, Reply> {
    let index = find(org, id).ok_or_else(not_found)?;
    Ok(Answer::List("Items", vec![org.items[index].to_json(call.dp())]))
}

fn delete_item(org: &mut Org, id: &str) -> Result<Answer, Reply> {
    let index = find(org, id).ok_or_else(not_found)?;
    org.items.remove(index);
    Ok(Answer::NoContent)
}

/// `PUT /Items` and `POST /Items`. Valid elements are stored even when others fail, as in Xero.
fn write_items(org: &mut Org, call: &Call<'_>, mode: Mode) -> Result<Answer, Reply> {
    call.json_body()?;
    let submitted = elements(call.body)?;
    let inputs = submitted.iter().map(decode).collect::<Result<Vec<_>, _>>().map_err(|e| bad_field(&e))?;
    refuse_whole_request(org, call, mode, &inputs)?;
    let summarize = call.summarize();
    let mut results = Vec::new();
    let mut failed = Vec::new();
    for input in inputs {
        match store(org, mode, None, input, call.dp(), call.now_ms, call.behaviour.stale_item_id) {
            Ok(index) => {
                let mut v = org.items[index].to_json(call.dp());
                if !summarize {
                    v["StatusAttributeString"] = json!("OK");
                }
                results.push(v);
            }
            Err(refused) => {
                results.push(refused.to_json(call.dp(), !summarize));
                failed.push(refused.to_json(call.dp(), false));
            }
        }
    }
    if summarize && !failed.is_empty() {
        return Err(validation_exception(failed));
    }
    Ok(Answer::List("Items", results))
}

/// The switched behaviours that fail a whole write before any element is stored: a 500 for an invalid
/// AccountCode (X3) and a 404 for a stale ItemID (X6).
fn refuse_whole_request(org: &Org, call: &Call<'_>, mode: Mode, inputs: &[decode::Input]) -> Result<(), Reply> {
    if call.behaviour.invalid_account == InvalidAccount::ServerError
        && inputs.iter().any(|input| names_invalid_account(org, input))
    {
        return Err(Reply::internal_error());
    }
    let stale = |input: &decode::Input| {
        input.item_id.as_ref().is_some_and(|id| !org.items.iter().any(|i| i.item_id.eq_ignore_ascii_case(id)))
    };
    if mode == Mode::Upsert && call.behaviour.stale_item_id == StaleItemId::NotFound && inputs.iter().any(stale) {
        return Err(not_found());
    }
    Ok(())
}

fn validation_exception(elements: Vec<Value>) -> Reply {
    Reply::error(10, "ValidationException", "A validation exception occurred", Some(elements))
}

/// `POST /Items/{ItemID}`: updates that item (its Code may change); no `summarizeErrors`, so any error is a
/// 400 ValidationException.
fn update_item(org: &mut Org, call: &Call<'_>, id: &str) -> Result<Answer, Reply> {
    let index = find(org, id).ok_or_else(not_found)?;
    call.json_body()?;
    let submitted = elements(call.body)?;
    let mut input = decode(&submitted[0]).map_err(|e| bad_field(&e))?;
    input.item_id = None;
    refuse_whole_request(org, call, Mode::Upsert, std::slice::from_ref(&input))?;
    let dp = call.dp();
    if input.code.as_deref().is_none_or(|c| c.trim().is_empty()) {
        let item = apply(Some(&org.items[index]), input, dp, call.now_ms);
        let refused = Refused { item: Box::new(item), errors: vec!["Price List Item Code must be supplied".into()] };
        return Err(validation_exception(vec![refused.to_json(dp, false)]));
    }
    match store(org, Mode::Upsert, Some(index), input, dp, call.now_ms, call.behaviour.stale_item_id) {
        Ok(index) => Ok(Answer::List("Items", vec![org.items[index].to_json(dp)])),
        Err(refused) => Err(validation_exception(vec![refused.to_json(dp, false)])),
    }
}

/// An edit made in Xero's web app: Xero's item rules apply, and `UpdatedDateUTC` moves.
pub(super) fn edit_item(org: &mut Org, item_id: &str, edit: ItemEdit, now_ms: EpochMs) -> Result<Item, Vec<String>> {
    let index = org
        .items
        .iter()
        .position(|i| i.item_id.eq_ignore_ascii_case(item_id))
        .ok_or_else(|| vec![format!("Item with ItemID '{item_id}' could not be found.")])?;
    let input = decode::Input {
        code: Some(org.items[index].code.clone()),
        name: edit.name.map(Some),
        description: edit.description.map(Some),
        sales: Some(decode::DetailsInput {
            unit_price: edit.unit_price.map(Some),
            account_code: edit.account_code.map(Some),
            tax_type: edit.tax_type.map(Some),
            cogs_account_code: None,
        }),
        ..decode::Input::default()
    };
    // The web app keeps four decimals for an organisation set up for them.
    match store(org, Mode::Upsert, Some(index), input, 4, now_ms, StaleItemId::ValidationError) {
        Ok(index) => Ok(org.items[index].clone()),
        Err(refused) => Err(refused.errors),
    }
}

fn percent_decode(segment: &str) -> String {
    let bytes = segment.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let hex = |b: u8| (b as char).to_digit(16);
        if bytes[i] == b'%'
            && let (Some(h), Some(l)) = (bytes.get(i + 1).and_then(|b| hex(*b)), bytes.get(i + 2).and_then(|b| hex(*b)))
        {
            out.push(u8::try_from(h * 16 + l).unwrap_or(b'?'));
            i += 3;
            continue;
        }
        out.push(bytes[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}
