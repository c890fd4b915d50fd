//! The Accounting API under `/api.xro/2.0`: Items (read, create, upsert, update, delete), TaxRates and
//! Accounts, behind Xero's gate (bearer token, `xero-tenant-id`, scopes, rate limits, idempotency keys).
//!
//! Validation messages Xero is known to use are reproduced word for word ("Price List Item with Code 'X'
//! already exists", "Price List Item Code must be supplied", "The TaxType code 'INPUT' cannot be used with
//! account code '200'.", "Cost Of Goods Sold Account must be used with an Inventory Asset Account"). The
//! others (field lengths, invalid account code, unknown ItemID, inventory account type) are not documented
//! by Xero; their wording here is our best guess, so clients must not match on them.

use std::sync::Arc;
use std::time::Duration;

use axum::body::Bytes;
use axum::extract::{Query, State};
use axum::http::{HeaderMap, Method, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use serde_json::{Map, Value, json};
use uuid::Uuid;

use super::faults::{self, FaultTarget};
use super::query::{self, Filter};
use super::respond::{self, envelope, error_body, problem_body, rate_headers};
use super::seed::Org;
use super::state::{InFlight, Inner, Shared};
use super::time::{EpochMs, ms_date, parse_iso};

/// Where the Accounting API is mounted.
pub const API_PREFIX: &str = "/api.xro/2.0";

const ITEM_FIELDS: &[&str] = &[
    "ItemID",
    "Code",
    "Name",
    "Description",
    "PurchaseDescription",
    "IsSold",
    "IsPurchased",
    "IsTrackedAsInventory",
    "InventoryAssetAccountCode",
    "SalesDetails",
    "PurchaseDetails",
    "UpdatedDateUTC",
    "TotalCostPool",
    "QuantityOnHand",
];
const TAX_RATE_FIELDS: &[&str] = &[
    "Name",
    "TaxType",
    "Status",
    "ReportTaxType",
    "CanApplyToAssets",
    "CanApplyToEquity",
    "CanApplyToExpenses",
    "CanApplyToLiabilities",
    "CanApplyToRevenue",
    "DisplayTaxRate",
    "EffectiveRate",
];
const ACCOUNT_FIELDS: &[&str] = &[
    "AccountID",
    "Code",
    "Name",
    "Type",
    "Class",
    "Status",
    "TaxType",
    "Description",
    "SystemAccount",
    "BankAccountNumber",
    "BankAccountType",
    "CurrencyCode",
    "EnablePaymentsToAccount",
    "ShowInExpenseClaims",
    "ReportingCode",
    "ReportingCodeName",
    "UpdatedDateUTC",
    "AddToWatchlist",
    "HasAttachments",
];

/// A stored item.
#[derive(Debug, Clone, PartialEq)]
pub struct Item {
    pub item_id: String,
    pub code: String,
    pub name: Option<String>,
    pub description: Option<String>,
    pub purchase_description: Option<String>,
    pub is_sold: bool,
    pub is_purchased: bool,
    pub sales: Details,
    pub purchase: Details,
    pub inventory_asset_account_code: Option<String>,
    pub updated_ms: EpochMs,
}

/// `SalesDetails` / `PurchaseDetails` (the spec's `Purchase` schema).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Details {
    /// Stored at the precision of the write (2 dp, or 4 with `unitdp=4`).
    pub unit_price: Option<f64>,
    pub account_code: Option<String>,
    pub cogs_account_code: Option<String>,
    /// `None` also when an unknown TaxType was sent (Xero drops it silently).
    pub tax_type: Option<String>,
}

impl Details {
    fn to_json(&self, dp: i32) -> Value {
        let mut v = Map::new();
        if let Some(p) = self.unit_price {
            v.insert("UnitPrice".into(), json!(round(p, dp)));
        }
        for (key, value) in [
            ("AccountCode", &self.account_code),
            ("COGSAccountCode", &self.cogs_account_code),
            ("TaxType", &self.tax_type),
        ] {
            if let Some(value) = value {
                v.insert(key.into(), json!(value));
            }
        }
        Value::Object(v)
    }
}

impl Item {
    /// Xero tracks an item as inventory when both inventory codes are set; the flag cannot be set directly.
    pub fn is_tracked(&self) -> bool {
        self.inventory_asset_account_code.is_some() && self.purchase.cogs_account_code.is_some()
    }

    /// Xero's JSON representation, prices at `dp` decimal places.
    pub fn to_json(&self, dp: i32) -> Value {
        let mut v = json!({
            "ItemID": self.item_id,
            "Code": self.code,
            "UpdatedDateUTC": ms_date(self.updated_ms),
            "PurchaseDetails": self.purchase.to_json(dp),
            "SalesDetails": self.sales.to_json(dp),
            "IsTrackedAsInventory": self.is_tracked(),
            "IsSold": self.is_sold,
            "IsPurchased": self.is_purchased,
        });
        for (key, value) in [
            ("Name", &self.name),
            ("Description", &self.description),
            ("PurchaseDescription", &self.purchase_description),
            ("InventoryAssetAccountCode", &self.inventory_asset_account_code),
        ] {
            if let Some(value) = value {
                v[key] = json!(value);
            }
        }
        if self.is_tracked() {
            v["TotalCostPool"] = json!(0.0);
            v["QuantityOnHand"] = json!(0.0);
        }
        v
    }
}

fn round(value: f64, dp: i32) -> f64 {
    let factor = 10f64.powi(dp);
    (value * factor).round() / factor
}

/// A remembered `Idempotency-Key`: the request it was first used with and the answer given.
pub struct Idempotent {
    fingerprint: Fingerprint,
    first: Duration,
    reply: Reply,
}

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

    fn into_response(self) -> Response {
        match self.body {
            Some(body) => respond::json(self.status, &body),
            None => self.status.into_response(),
        }
    }
}

#[derive(PartialEq, Eq)]
struct Fingerprint {
    method: Method,
    uri: String,
    tenant: String,
    body: Bytes,
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
}

impl Call<'_> {
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
    let mut response = match faults::before_call(&shared, FaultTarget::Api).await {
        Some(fault) => faults::respond(&shared, fault, Some(remaining)).await,
        None => {
            let path = uri.path().strip_prefix(API_PREFIX).unwrap_or_default();
            let call = Call {
                method: &method,
                segments: path.split('/').filter(|s| !s.is_empty()).map(percent_decode).collect(),
                params: Query::<Vec<(String, String)>>::try_from_uri(&uri).map(|q| q.0).unwrap_or_default(),
                headers: &headers,
                body: &body,
                tenant: slot.tenant.clone(),
                now_ms: shared.time.epoch_ms(),
            };
            let now = shared.time.now();
            let mut inner = shared.lock();
            idempotent(&mut inner, now, &call, &uri).into_response()
        }
    };
    // A forced 429 carries its own counts.
    if !response.headers().contains_key("x-minlimit-remaining") {
        rate_headers(&mut response, remaining);
    }
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
        return Err(Box::new(respond::problem(StatusCode::FORBIDDEN, "AuthorizationUnsuccessful")));
    }
    let limits = inner.config.limits;
    let remaining =
        inner.limiter.admit(&tenant, now, &limits).map_err(|l| Box::new(respond::too_many_requests(l, true)))?;
    Ok((InFlight { shared: shared.clone(), tenant }, remaining))
}

/// Applies `Idempotency-Key` (PUT/POST/PATCH only): replays the first answer to the same request within
/// the key's lifetime, refuses the key for a different request. The check runs after rate limiting, as in
/// Xero, so retries still spend quota. Keys are scoped to the (single) app.
fn idempotent(inner: &mut Inner, now: Duration, call: &Call<'_>, uri: &Uri) -> Reply {
    let key = call.headers.get("idempotency-key").and_then(|v| v.to_str().ok()).map(str::to_string);
    let Some(key) = key.filter(|_| matches!(*call.method, Method::PUT | Method::POST | Method::PATCH)) else {
        return route(inner, call);
    };
    if key.chars().count() > 128 {
        return Reply::problem(
            StatusCode::BAD_REQUEST,
            &format!("Idempotency Key: {key} is longer than 128 characters."),
        );
    }
    let fingerprint = Fingerprint {
        method: call.method.clone(),
        uri: uri.to_string(),
        tenant: call.tenant.to_ascii_lowercase(),
        body: call.body.clone(),
    };
    let lifetime = inner.config.lifetimes.idempotency_key;
    inner.idempotency.retain(|_, entry| now < entry.first.saturating_add(lifetime));
    if let Some(entry) = inner.idempotency.get(&key) {
        if entry.fingerprint != fingerprint {
            let detail = format!("Idempotency Key: {key} is used with a different request.");
            return Reply::problem(StatusCode::BAD_REQUEST, &detail);
        }
        return entry.reply.clone();
    }
    let reply = route(inner, call);
    inner.idempotency.insert(key, Idempotent { fingerprint, first: now, reply: reply.clone() });
    reply
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

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Mode {
    /// `PUT /Items`: create only.
    Create,
    /// `POST /Items`: match by ItemID, else by Code (case-insensitively), else create.
    Upsert,
}

/// The submitted elements of an `{"Items": [...]}` body.
fn elements(body: &[u8]) -> Result<Vec<Map<String, Value>>, Reply> {
    let root: Value = serde_json::from_slice(body)
        .map_err(|e| Reply::error(14, "PostDataInvalidException", &format!("Invalid Json data: {e}"), None))?;
    let no_data = || {
        Reply::error(
            17,
            "NoDataProcessedException",
            "No data has been processed for this endpoint. This endpoint is expecting Item data to be specifed in \
             the request body.",
            None,
        )
    };
    let list = root.get("Items").and_then(Value::as_array).filter(|l| !l.is_empty()).ok_or_else(no_data)?;
    list.iter()
        .map(|e| {
            e.as_object().cloned().ok_or_else(|| {
                Reply::error(14, "PostDataInvalidException", "Invalid Json data: Item must be an object", None)
            })
        })
        .collect()
}

/// What an element asks to set. Outer `None` = absent (keep), inner `None` = null (clear).
#[derive(Default)]
struct Input {
    item_id: Option<String>,
    code: Option<String>,
    name: Option<Option<String>>,
    description: Option<Option<String>>,
    purchase_description: Option<Option<String>>,
    is_sold: Option<bool>,
    is_purchased: Option<bool>,
    inventory_asset_account_code: Option<Option<String>>,
    sales: Option<DetailsInput>,
    purchase: Option<DetailsInput>,
}

#[derive(Default)]
struct DetailsInput {
    unit_price: Option<Option<f64>>,
    account_code: Option<Option<String>>,
    cogs_account_code: Option<Option<String>>,
    tax_type: Option<Option<String>>,
}

/// A type mismatch Xero's deserialiser rejects (400 PostDataInvalidException).
struct BadField(String);

/// Strings as JSON.NET reads them: numbers and booleans are converted, null clears.
fn text(map: &Map<String, Value>, key: &str) -> Result<Option<Option<String>>, BadField> {
    match map.get(key) {
        None => Ok(None),
        Some(Value::Null) => Ok(Some(None)),
        Some(Value::String(s)) => Ok(Some(Some(s.clone()))),
        Some(Value::Number(n)) => Ok(Some(Some(n.to_string()))),
        Some(Value::Bool(b)) => Ok(Some(Some(if *b { "True" } else { "False" }.into()))),
        Some(_) => Err(BadField(key.into())),
    }
}

fn flag(map: &Map<String, Value>, key: &str) -> Result<Option<bool>, BadField> {
    match map.get(key) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::Bool(b)) => Ok(Some(*b)),
        Some(Value::String(s)) if s.eq_ignore_ascii_case("true") => Ok(Some(true)),
        Some(Value::String(s)) if s.eq_ignore_ascii_case("false") => Ok(Some(false)),
        Some(_) => Err(BadField(key.into())),
    }
}

fn number(map: &Map<String, Value>, key: &str) -> Result<Option<Option<f64>>, BadField> {
    match map.get(key) {
        None => Ok(None),
        Some(Value::Null) => Ok(Some(None)),
        Some(Value::Number(n)) => Ok(Some(n.as_f64())),
        Some(Value::String(s)) => s.trim().parse().map(|n| Some(Some(n))).map_err(|_| BadField(key.into())),
        Some(_) => Err(BadField(key.into())),
    }
}

fn details(map: &Map<String, Value>, key: &str) -> Result<Option<DetailsInput>, BadField> {
    match map.get(key) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::Object(d)) => Ok(Some(DetailsInput {
            unit_price: number(d, "UnitPrice")?,
            account_code: text(d, "AccountCode")?,
            cogs_account_code: text(d, "COGSAccountCode")?,
            tax_type: text(d, "TaxType")?,
        })),
        Some(_) => Err(BadField(key.into())),
    }
}

fn decode(map: &Map<String, Value>) -> Result<Input, BadField> {
    Ok(Input {
        item_id: text(map, "ItemID")?.flatten().filter(|s| !s.trim().is_empty()),
        code: text(map, "Code")?.flatten(),
        name: text(map, "Name")?,
        description: text(map, "Description")?,
        purchase_description: text(map, "PurchaseDescription")?,
        is_sold: flag(map, "IsSold")?,
        is_purchased: flag(map, "IsPurchased")?,
        inventory_asset_account_code: text(map, "InventoryAssetAccountCode")?,
        sales: details(map, "SalesDetails")?,
        purchase: details(map, "PurchaseDetails")?,
    })
}

fn merge_details(target: &mut Details, input: Option<DetailsInput>, dp: i32) {
    let Some(input) = input else { return };
    if let Some(price) = input.unit_price {
        target.unit_price = price.map(|p| round(p, dp));
    }
    let blank = |v: Option<String>| v.filter(|s| !s.trim().is_empty());
    if let Some(code) = input.account_code {
        target.account_code = blank(code);
    }
    if let Some(code) = input.cogs_account_code {
        target.cogs_account_code = blank(code);
    }
    if let Some(tax) = input.tax_type {
        target.tax_type = blank(tax);
    }
}

/// The item as it would be after applying `input` to `base` (a new item when `base` is `None`).
fn apply(base: Option<&Item>, input: Input, dp: i32, now_ms: EpochMs) -> Item {
    let mut item = base.cloned().unwrap_or_else(|| Item {
        item_id: Uuid::new_v4().to_string(),
        code: String::new(),
        name: None,
        description: None,
        purchase_description: None,
        is_sold: true,
        is_purchased: true,
        sales: Details::default(),
        purchase: Details::default(),
        inventory_asset_account_code: None,
        updated_ms: now_ms,
    });
    if let Some(code) = input.code {
        item.code = code;
    }
    for (target, value) in [
        (&mut item.name, input.name),
        (&mut item.description, input.description),
        (&mut item.purchase_description, input.purchase_description),
        (&mut item.inventory_asset_account_code, input.inventory_asset_account_code),
    ] {
        if let Some(value) = value {
            *target = value;
        }
    }
    item.is_sold = input.is_sold.unwrap_or(item.is_sold);
    item.is_purchased = input.is_purchased.unwrap_or(item.is_purchased);
    merge_details(&mut item.sales, input.sales, dp);
    merge_details(&mut item.purchase, input.purchase, dp);
    // Setting IsSold/IsPurchased to false nulls the matching description and details.
    if !item.is_sold {
        item.description = None;
        item.sales = Details::default();
    }
    if !item.is_purchased {
        item.purchase_description = None;
        item.purchase = Details::default();
    }
    item.updated_ms = now_ms;
    item
}

/// Xero's rules for an item about to be stored. An unknown TaxType is not an error: Xero accepts it and
/// stores the item without tax (XeroAPI/Xero-NetStandard#129), so it is dropped here.
fn check(org: &Org, item: &mut Item, index: Option<usize>) -> Vec<String> {
    let mut errors = Vec::new();
    let code = item.code.trim();
    if code.is_empty() {
        errors.push("Price List Item Code must be supplied".to_string());
    } else if code.chars().count() > 30 {
        errors.push("The Code must be no more than 30 characters long.".to_string());
    } else if org
        .items
        .iter()
        .enumerate()
        .any(|(i, other)| Some(i) != index && other.code.eq_ignore_ascii_case(&item.code))
    {
        errors.push(format!("Price List Item with Code '{}' already exists", item.code));
    }
    for (label, value, max) in [
        ("Name", &item.name, 50),
        ("Description", &item.description, 4000),
        ("PurchaseDescription", &item.purchase_description, 4000),
    ] {
        if value.as_ref().is_some_and(|v| v.chars().count() > max) {
            errors.push(format!("The {label} must be no more than {max} characters long."));
        }
    }
    for details in [&mut item.sales, &mut item.purchase] {
        let account = match &details.account_code {
            Some(code) => match org.active_account(code) {
                Some(account) => Some(account),
                None => {
                    errors.push(format!("Account code '{code}' is not a valid code for this document."));
                    None
                }
            },
            None => None,
        };
        if let Some(tax_type) = details.tax_type.clone() {
            match org.active_tax_rate(&tax_type) {
                None => details.tax_type = None,
                Some(rate) => {
                    if let Some(account) = account.filter(|a| !rate.applies_to(a.class())) {
                        errors.push(format!(
                            "The TaxType code '{tax_type}' cannot be used with account code '{}'.",
                            account.code.as_deref().unwrap_or_default()
                        ));
                    }
                }
            }
        }
    }
    if let Some(code) = &item.purchase.cogs_account_code
        && org.active_account(code).is_none()
    {
        errors.push(format!("Account code '{code}' is not a valid code for this document."));
    }
    match (&item.inventory_asset_account_code, &item.purchase.cogs_account_code) {
        (None, Some(_)) => {
            errors.push("Cost Of Goods Sold Account must be used with an Inventory Asset Account".into())
        }
        (Some(_), None) => errors.push("Inventory Asset Account must be used with a Cost Of Goods Sold Account".into()),
        (Some(code), Some(_)) if org.active_account(code).is_none_or(|a| a.kind != "INVENTORY") => {
            errors.push(format!("Inventory Asset Account code '{code}' must be an account of type Inventory."));
        }
        _ => {}
    }
    errors
}

/// The submitted element echoed back with its errors (only the fields Xero knows of).
fn echo(element: &Map<String, Value>, errors: &[String], status: bool) -> Value {
    let mut v: Map<String, Value> = element
        .iter()
        .filter(|(k, _)| ITEM_FIELDS.contains(&k.as_str()))
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect();
    if status {
        v.insert("StatusAttributeString".into(), json!("ERROR"));
    }
    let messages: Vec<Value> = errors.iter().map(|m| json!({ "Message": m })).collect();
    v.insert("ValidationErrors".into(), Value::Array(messages));
    Value::Object(v)
}

/// Stores one element (create or update). `Err` carries the validation messages.
fn store(
    org: &mut Org,
    mode: Mode,
    target: Option<usize>,
    input: Input,
    dp: i32,
    now_ms: EpochMs,
) -> Result<usize, Vec<String>> {
    let index = match (mode, target) {
        (_, Some(index)) => Some(index),
        (Mode::Create, None) => None,
        (Mode::Upsert, None) => match &input.item_id {
            Some(id) => match org.items.iter().position(|i| i.item_id.eq_ignore_ascii_case(id)) {
                Some(index) => Some(index),
                None => return Err(vec![format!("Item with ItemID '{id}' could not be found.")]),
            },
            None => {
                input.code.as_ref().and_then(|code| org.items.iter().position(|i| i.code.eq_ignore_ascii_case(code)))
            }
        },
    };
    if mode == Mode::Upsert && input.code.as_deref().is_none_or(|c| c.trim().is_empty()) {
        return Err(vec!["Price List Item Code must be supplied".to_string()]);
    }
    let mut item = apply(index.map(|i| &org.items[i]), input, dp, now_ms);
    let errors = check(org, &mut item, index);
    if !errors.is_empty() {
        return Err(errors);
    }
    Ok(match index {
        Some(i) => {
            org.items[i] = item;
            i
        }
        None => {
            org.items.push(item);
            org.items.len() - 1
        }
    })
}

fn bad_field(field: &BadField) -> Reply {
    Reply::error(
        14,
        "PostDataInvalidException",
        &format!("Invalid Json data: could not convert the value of '{}'", field.0),
        None,
    )
}

/// `PUT /Items` and `POST /Items`. Valid elements are stored even when others fail, as in Xero.
fn write_items(org: &mut Org, call: &Call<'_>, mode: Mode) -> Result<Answer, Reply> {
    let submitted = elements(call.body)?;
    let inputs = submitted.iter().map(decode).collect::<Result<Vec<_>, _>>().map_err(|e| bad_field(&e))?;
    let summarize = call.summarize();
    let mut results = Vec::new();
    let mut failed = Vec::new();
    for (element, input) in submitted.iter().zip(inputs) {
        match store(org, mode, None, input, call.dp(), call.now_ms) {
            Ok(index) => {
                let mut v = org.items[index].to_json(call.dp());
                if !summarize {
                    v["StatusAttributeString"] = json!("OK");
                }
                results.push(v);
            }
            Err(errors) => {
                results.push(echo(element, &errors, !summarize));
                failed.push(echo(element, &errors, false));
            }
        }
    }
    if summarize && !failed.is_empty() {
        return Err(validation_exception(failed));
    }
    Ok(Answer::List("Items", results))
}

fn validation_exception(elements: Vec<Value>) -> Reply {
    Reply::error(10, "ValidationException", "A validation exception occurred", Some(elements))
}

/// `POST /Items/{ItemID}`: updates that item (its Code may change); no `summarizeErrors`, so any error is a
/// 400 ValidationException.
fn update_item(org: &mut Org, call: &Call<'_>, id: &str) -> Result<Answer, Reply> {
    let index = find(org, id).ok_or_else(not_found)?;
    let submitted = elements(call.body)?;
    let element = &submitted[0];
    let mut input = decode(element).map_err(|e| bad_field(&e))?;
    input.item_id = None;
    if input.code.as_deref().is_none_or(|c| c.trim().is_empty()) {
        return Err(validation_exception(vec![echo(
            element,
            &["Price List Item Code must be supplied".into()],
            false,
        )]));
    }
    match store(org, Mode::Upsert, Some(index), input, call.dp(), call.now_ms) {
        Ok(index) => Ok(Answer::List("Items", vec![org.items[index].to_json(call.dp())])),
        Err(errors) => Err(validation_exception(vec![echo(element, &errors, false)])),
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
