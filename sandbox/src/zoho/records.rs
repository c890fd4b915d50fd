//! CRM v8 REST for Products: get one, list (paging, sorting, `If-Modified-Since`) and update
//! (per-record results, `If-Unmodified-Since`), with Zoho's envelopes (reference §5.3).

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use axum::body::Bytes;
use axum::extract::rejection::PathRejection;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use chrono::{DateTime, FixedOffset};
use serde_json::{Map, Value, json};

use super::oauth::Operation;
use super::seed::{TAXES, user_lookup};
use super::{Inner, format_time};

const MODULE: &str = "Products";
const MAX_PER_PAGE: usize = 200;
/// Records reachable with `page`; beyond them Zoho requires `page_token`.
const PAGE_LIMIT_RECORDS: usize = 2000;
const MAX_UPDATE_RECORDS: usize = 100;
const PAGE_TOKEN_LIFETIME: Duration = Duration::from_secs(24 * 3600);

/// API names of the project's custom Products fields. The defaults are what CRM generates from the labels.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CustomFields {
    /// Checkbox "Add to Xero".
    pub add_to_xero: String,
    /// Single line: the Xero account name, e.g. "Sales".
    pub gl_account: String,
    /// Single line: the Xero tax rate name, e.g. "GST on Income".
    pub tax_rate: String,
    /// Single line, written back: the Xero ItemID.
    pub item_id: String,
    /// Date/time, written back.
    pub last_synced: String,
    /// Single line (255), written back.
    pub sync_status: String,
}

impl Default for CustomFields {
    fn default() -> Self {
        Self {
            add_to_xero: "Add_to_Xero".into(),
            gl_account: "Xero_GL_Account".into(),
            tax_rate: "Xero_Tax_Rate".into(),
            item_id: "Xero_Item_ID".into(),
            last_synced: "Xero_Last_Synced".into(),
            sync_status: "Xero_Sync_Status".into(),
        }
    }
}

/// A Zoho CRM error: `{code, details, message, status:"error"}` with its HTTP status.
#[derive(Debug, Clone, PartialEq)]
pub struct ZohoError {
    pub status: StatusCode,
    pub code: &'static str,
    pub message: String,
    pub details: Value,
}

impl ZohoError {
    fn new(status: StatusCode, code: &'static str, message: &str, details: Value) -> Self {
        Self { status, code, message: message.into(), details }
    }

    pub fn body(&self) -> Value {
        json!({"code": self.code, "details": self.details, "message": self.message, "status": "error"})
    }

    pub(super) fn authentication_failure() -> Self {
        Self::new(StatusCode::UNAUTHORIZED, "AUTHENTICATION_FAILURE", "Authentication failed", json!({}))
    }
    pub(super) fn invalid_token() -> Self {
        Self::new(StatusCode::UNAUTHORIZED, "INVALID_TOKEN", "invalid oauth token", json!({}))
    }
    pub(super) fn scope_mismatch(scope: &str) -> Self {
        let details = json!({"permissions": [scope]});
        Self::new(StatusCode::UNAUTHORIZED, "OAUTH_SCOPE_MISMATCH", "invalid oauth scope to access this URL", details)
    }
    pub(super) fn invalid_url() -> Self {
        let message = "Please check if the URL trying to access is a correct one";
        Self::new(StatusCode::NOT_FOUND, "INVALID_URL_PATTERN", message, json!({}))
    }
    pub(super) fn invalid_method() -> Self {
        let message = "The http request method type is not a valid one";
        Self::new(StatusCode::METHOD_NOT_ALLOWED, "INVALID_REQUEST_METHOD", message, json!({}))
    }
    pub(super) fn too_many_requests() -> Self {
        let message = "The number of API requests has exceeded the allowed limit";
        Self::new(StatusCode::TOO_MANY_REQUESTS, "TOO_MANY_REQUESTS", message, json!({}))
    }
    pub(super) fn internal() -> Self {
        Self::new(StatusCode::INTERNAL_SERVER_ERROR, "INTERNAL_ERROR", "Internal server error occurred.", json!({}))
    }
    pub(super) fn invalid_module() -> Self {
        let message = "The module name given seems to be invalid";
        Self::new(StatusCode::BAD_REQUEST, "INVALID_MODULE", message, json!({}))
    }
    pub(super) fn required_param(name: &str) -> Self {
        let message = "One of the expected parameter is missing";
        Self::new(StatusCode::BAD_REQUEST, "REQUIRED_PARAM_MISSING", message, json!({"param_name": name}))
    }
    fn invalid_param(name: &str) -> Self {
        Self::new(StatusCode::BAD_REQUEST, "INVALID_DATA", "invalid data", json!({"param_name": name}))
    }
    fn invalid_id(id: &str) -> Self {
        Self::new(StatusCode::BAD_REQUEST, "INVALID_DATA", "the id given seems to be invalid", json!({"id": id}))
    }
    fn invalid_body() -> Self {
        Self::new(StatusCode::BAD_REQUEST, "INVALID_DATA", "body", json!({}))
    }
    fn limit(limit: usize, message: &str) -> Self {
        Self::new(StatusCode::BAD_REQUEST, "LIMIT_EXCEEDED", message, json!({"limit": limit}))
    }
    fn already_modified(id: &str) -> Self {
        let message = "the record has been modified after the given time";
        Self::new(StatusCode::PRECONDITION_FAILED, "ALREADY_MODIFIED", message, json!({"id": id}))
    }
}

impl IntoResponse for ZohoError {
    fn into_response(self) -> Response {
        (self.status, axum::Json(self.body())).into_response()
    }
}

/// Where a `page_token` resumes a listing.
pub(super) struct PageCursor {
    offset: usize,
    sort_by: SortBy,
    descending: bool,
    modified_since: Option<DateTime<FixedOffset>>,
    expires_at: Duration,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum SortBy {
    Id,
    CreatedTime,
    ModifiedTime,
}

impl SortBy {
    fn name(self) -> &'static str {
        match self {
            SortBy::Id => "id",
            SortBy::CreatedTime => "Created_Time",
            SortBy::ModifiedTime => "Modified_Time",
        }
    }
}

fn parse_time(text: &str) -> Option<DateTime<FixedOffset>> {
    DateTime::parse_from_rfc3339(text.trim()).ok()
}

/// The record's `field` as a time (unparseable or missing sorts first).
fn time_of(record: &Map<String, Value>, field: &str) -> Option<DateTime<FixedOffset>> {
    record.get(field).and_then(Value::as_str).and_then(parse_time)
}

/// A time-valued request header (`If-Modified-Since`, `If-Unmodified-Since`) in Zoho's ISO-8601 format.
fn time_header(headers: &HeaderMap, name: &str) -> Result<Option<DateTime<FixedOffset>>, ZohoError> {
    match headers.get(name) {
        None => Ok(None),
        Some(value) => value.to_str().ok().and_then(parse_time).map(Some).ok_or_else(|| ZohoError::invalid_param(name)),
    }
}

fn check_module(module: &str) -> Result<(), ZohoError> {
    if module == MODULE { Ok(()) } else { Err(ZohoError::invalid_module()) }
}

pub(super) fn authorize(inner: &Inner, headers: &HeaderMap, operation: Operation) -> Result<(), ZohoError> {
    inner.lock().oauth.authorize(headers, inner.clock.now(), operation)
}

/// Keeps `id` and the requested fields.
fn project(record: &Map<String, Value>, fields: Option<&[String]>) -> Value {
    match fields {
        None => Value::Object(record.clone()),
        Some(fields) => Value::Object(
            record
                .iter()
                .filter(|(k, _)| *k == "id" || fields.iter().any(|f| f == *k))
                .map(|(k, v)| (k.clone(), v.clone()))
                .collect(),
        ),
    }
}

fn split_fields(fields: &str) -> Vec<String> {
    fields.split(',').map(str::trim).filter(|f| !f.is_empty()).map(str::to_string).collect()
}

/// `GET /crm/v8/Products/{id}`: `{data:[record]}`; 304 when `If-Modified-Since` is not older than the record.
pub(super) async fn get_one(
    State(inner): State<Arc<Inner>>,
    path: Result<Path<(String, String)>, PathRejection>,
    Query(query): Query<HashMap<String, String>>,
    headers: HeaderMap,
) -> Result<Response, ZohoError> {
    let Path((module, id)) = path.map_err(|_| ZohoError::invalid_url())?;
    check_module(&module)?;
    authorize(&inner, &headers, Operation::Read)?;
    let since = time_header(&headers, "If-Modified-Since")?;
    let fields = query.get("fields").map(|f| split_fields(f));
    let state = inner.lock();
    let record = state.products.get(&id).ok_or_else(|| ZohoError::invalid_id(&id))?;
    if let Some(since) = since
        && time_of(record, "Modified_Time").is_none_or(|m| m <= since)
    {
        return Ok(StatusCode::NOT_MODIFIED.into_response());
    }
    Ok(axum::Json(json!({"data": [project(record, fields.as_deref())]})).into_response())
}

/// `GET /crm/v8/Products`: `fields` is required; `page` reaches the first 2,000 records, `page_token` the rest.
pub(super) async fn list(
    State(inner): State<Arc<Inner>>,
    path: Result<Path<String>, PathRejection>,
    Query(query): Query<HashMap<String, String>>,
    headers: HeaderMap,
) -> Result<Response, ZohoError> {
    let Path(module) = path.map_err(|_| ZohoError::invalid_url())?;
    check_module(&module)?;
    authorize(&inner, &headers, Operation::Read)?;
    let fields = split_fields(query.get("fields").map(String::as_str).unwrap_or_default());
    if fields.is_empty() {
        return Err(ZohoError::required_param("fields"));
    }
    let per_page = match query.get("per_page") {
        None => MAX_PER_PAGE,
        Some(v) => v
            .parse()
            .ok()
            .filter(|n| (1..=MAX_PER_PAGE).contains(n))
            .ok_or_else(|| ZohoError::invalid_param("per_page"))?,
    };
    let now = inner.clock.now();
    let mut state = inner.lock();
    state.page_tokens.retain(|_, c| c.expires_at > now);

    let (cursor, page_token) = match query.get("page_token") {
        Some(token) => {
            if query.contains_key("page") {
                return Err(ZohoError::invalid_param("page"));
            }
            let cursor = state.page_tokens.get(token).ok_or_else(|| ZohoError::invalid_param("page_token"))?;
            let cursor = PageCursor { expires_at: now + PAGE_TOKEN_LIFETIME, ..*cursor };
            (cursor, Some(token.clone()))
        }
        None => {
            let page: usize = match query.get("page") {
                None => 1,
                Some(v) => v.parse().ok().filter(|p| *p >= 1).ok_or_else(|| ZohoError::invalid_param("page"))?,
            };
            let offset = (page - 1) * per_page;
            if offset + per_page > PAGE_LIMIT_RECORDS {
                let message = "Use page_token to fetch records beyond the first 2000";
                return Err(ZohoError::limit(PAGE_LIMIT_RECORDS, message));
            }
            let sort_by = match query.get("sort_by").map(String::as_str) {
                None | Some("id") => SortBy::Id,
                Some("Created_Time") => SortBy::CreatedTime,
                Some("Modified_Time") => SortBy::ModifiedTime,
                Some(_) => return Err(ZohoError::invalid_param("sort_by")),
            };
            let descending = match query.get("sort_order").map(String::as_str) {
                None | Some("asc") => false,
                Some("desc") => true,
                Some(_) => return Err(ZohoError::invalid_param("sort_order")),
            };
            let modified_since = time_header(&headers, "If-Modified-Since")?;
            (PageCursor { offset, sort_by, descending, modified_since, expires_at: now + PAGE_TOKEN_LIFETIME }, None)
        }
    };

    let mut matching: Vec<&Map<String, Value>> = state
        .products
        .values()
        .filter(|r| cursor.modified_since.is_none_or(|since| time_of(r, "Modified_Time").is_some_and(|m| m > since)))
        .collect();
    if matching.is_empty() {
        // Zoho's samples: 304 when nothing changed since If-Modified-Since, 204 when there is nothing at all.
        let status = if cursor.modified_since.is_some() { StatusCode::NOT_MODIFIED } else { StatusCode::NO_CONTENT };
        return Ok(status.into_response());
    }
    let key = |r: &Map<String, Value>| match cursor.sort_by {
        SortBy::Id => None,
        SortBy::CreatedTime => time_of(r, "Created_Time"),
        SortBy::ModifiedTime => time_of(r, "Modified_Time"),
    };
    // Stable sort over the id-ordered map: ties stay in id order.
    matching.sort_by_key(|r| key(r));
    if cursor.descending {
        matching.reverse();
    }
    let data: Vec<Value> =
        matching.iter().skip(cursor.offset).take(per_page).map(|r| project(r, Some(&fields))).collect();
    let more_records = cursor.offset + data.len() < matching.len();
    let mut info = json!({
        "per_page": per_page,
        "count": data.len(),
        "page": cursor.offset / per_page + 1,
        "sort_by": cursor.sort_by.name(),
        "sort_order": if cursor.descending { "desc" } else { "asc" },
        "more_records": more_records,
    });
    // The spec types the tokens as strings, so absent ones are left out rather than sent as null.
    if more_records {
        let next = format!("{}{}", uuid::Uuid::new_v4().simple(), uuid::Uuid::new_v4().simple());
        let expiry = inner.now() + chrono::Duration::from_std(PAGE_TOKEN_LIFETIME).unwrap_or_default();
        info["next_page_token"] = json!(next);
        info["page_token_expiry"] = json!(format_time(expiry));
        let next_cursor = PageCursor { offset: cursor.offset + per_page, ..cursor };
        state.page_tokens.insert(next, next_cursor);
    }
    if let Some(previous) = page_token {
        info["previous_page_token"] = json!(previous);
    }
    Ok(axum::Json(json!({"data": data, "info": info})).into_response())
}

/// `PUT /crm/v8/Products`: each record names its `id`.
pub(super) async fn update_many(
    State(inner): State<Arc<Inner>>,
    path: Result<Path<String>, PathRejection>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, ZohoError> {
    let Path(module) = path.map_err(|_| ZohoError::invalid_url())?;
    check_module(&module)?;
    update(&inner, &headers, &body, None)
}

/// `PUT /crm/v8/Products/{id}`: the path names the record.
pub(super) async fn update_one(
    State(inner): State<Arc<Inner>>,
    path: Result<Path<(String, String)>, PathRejection>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, ZohoError> {
    let Path((module, id)) = path.map_err(|_| ZohoError::invalid_url())?;
    check_module(&module)?;
    update(&inner, &headers, &body, Some(&id))
}

fn update(inner: &Inner, headers: &HeaderMap, body: &[u8], path_id: Option<&str>) -> Result<Response, ZohoError> {
    authorize(inner, headers, Operation::Update)?;
    let unmodified_since = time_header(headers, "If-Unmodified-Since")?;
    let body: Value = serde_json::from_slice(body).map_err(|_| ZohoError::invalid_body())?;
    let items = match body.get("data") {
        None | Some(Value::Null) => return Err(ZohoError::required_param("data")),
        Some(Value::Array(items)) if !items.is_empty() => items,
        Some(_) => return Err(ZohoError::invalid_param("data")),
    };
    if items.len() > MAX_UPDATE_RECORDS {
        return Err(ZohoError::limit(MAX_UPDATE_RECORDS, "Record count exceeded"));
    }
    if path_id.is_some() && items.len() > 1 {
        return Err(ZohoError::invalid_param("data"));
    }
    let (status, results) = apply_updates(inner, items, path_id, unmodified_since)?;
    Ok((status, axum::Json(json!({"data": results}))).into_response())
}

/// Applies each record's changes; returns the per-record results and 200, 207 (mixed) or 400 (all failed).
/// `If-Unmodified-Since` is checked for all records first and fails the whole request with 412.
fn apply_updates(
    inner: &Inner,
    items: &[Value],
    path_id: Option<&str>,
    unmodified_since: Option<DateTime<FixedOffset>>,
) -> Result<(StatusCode, Vec<Value>), ZohoError> {
    let stamp = inner.timestamp();
    let fields = &inner.config.fields;
    let mut state = inner.lock();
    let id_of = |item: &Value| -> Option<String> {
        path_id.map(str::to_string).or_else(|| match item.get("id") {
            Some(Value::String(s)) => Some(s.clone()),
            Some(Value::Number(n)) => n.as_u64().map(|n| n.to_string()),
            _ => None,
        })
    };
    if let Some(since) = unmodified_since {
        for id in items.iter().filter_map(id_of) {
            if let Some(record) = state.products.get(&id)
                && time_of(record, "Modified_Time").is_some_and(|m| m > since)
            {
                return Err(ZohoError::already_modified(&id));
            }
        }
    }
    let mut results = Vec::with_capacity(items.len());
    for (index, item) in items.iter().enumerate() {
        let result = (|| {
            let changes = item.as_object().ok_or_else(|| field_error(index, "data", "jsonobject"))?;
            let id = id_of(item).ok_or_else(|| {
                let details = json!({"api_name": "id", "json_path": format!("$.data[{index}].id")});
                ZohoError::new(StatusCode::BAD_REQUEST, "MANDATORY_NOT_FOUND", "required field not found", details)
            })?;
            let record = state.products.get_mut(&id).ok_or_else(|| ZohoError::invalid_id(&id))?;
            let mut validated = Vec::new();
            for (name, value) in changes {
                if let Some(kind) = Kind::of(fields, name) {
                    validated.push((name.clone(), kind.validate(value, index, name)?));
                }
            }
            record.extend(validated);
            record.insert("Modified_Time".into(), json!(stamp));
            record.insert("Modified_By".into(), user_lookup());
            let user = user_lookup();
            // Records stored through `set_product` may lack ownership fields: answer with nulls, never panic.
            let created_by = record.get("Created_By").cloned().unwrap_or_default();
            Ok::<_, ZohoError>(json!({
                "code": "SUCCESS",
                "details": {
                    "Modified_Time": stamp,
                    "Modified_By": {"name": user["name"], "id": user["id"]},
                    "Created_Time": record.get("Created_Time"),
                    "id": id,
                    "Created_By": {"name": created_by["name"], "id": created_by["id"]},
                },
                "message": "record updated",
                "status": "success",
            }))
        })();
        results.push(result.unwrap_or_else(|e| e.body()));
    }
    let failed = results.iter().filter(|r| r["status"] == "error").count();
    let status = match failed {
        0 => StatusCode::OK,
        n if n == results.len() => StatusCode::BAD_REQUEST,
        _ => StatusCode::MULTI_STATUS,
    };
    Ok((status, results))
}

fn field_error(index: usize, api_name: &str, expected: &str) -> ZohoError {
    let json_path = if api_name == "data" { format!("$.data[{index}]") } else { format!("$.data[{index}].{api_name}") };
    let details = json!({"api_name": api_name, "json_path": json_path, "expected_data_type": expected});
    ZohoError::new(StatusCode::BAD_REQUEST, "INVALID_DATA", "invalid data", details)
}

/// Types of the writable Products fields. Writes to read-only fields (`id`, times, `$…`) and to unknown
/// API names are ignored, as Zoho does.
#[derive(Debug, Clone, Copy)]
enum Kind {
    Text { max: usize, mandatory: bool },
    Boolean,
    Currency,
    DateTime,
    Tax,
}

impl Kind {
    fn of(fields: &CustomFields, name: &str) -> Option<Kind> {
        let text = |max| Some(Kind::Text { max, mandatory: false });
        match name {
            "Product_Name" => Some(Kind::Text { max: 120, mandatory: true }),
            "Product_Code" => text(40),
            "Product_Category" | "Manufacturer" | "Usage_Unit" => text(120),
            "Description" => text(32000),
            "Product_Active" | "Taxable" => Some(Kind::Boolean),
            "Unit_Price" | "Commission_Rate" | "Qty_in_Stock" | "Qty_Ordered" | "Reorder_Level" => Some(Kind::Currency),
            "Tax" => Some(Kind::Tax),
            n if n == fields.add_to_xero => Some(Kind::Boolean),
            n if n == fields.gl_account || n == fields.tax_rate || n == fields.item_id || n == fields.sync_status => {
                text(255)
            }
            n if n == fields.last_synced => Some(Kind::DateTime),
            _ => None,
        }
    }

    /// The value to store, or Zoho's INVALID_DATA / MANDATORY_NOT_FOUND for this field.
    fn validate(self, value: &Value, index: usize, name: &str) -> Result<Value, ZohoError> {
        let invalid = |expected| field_error(index, name, expected);
        let mandatory = || {
            let details = json!({"api_name": name, "json_path": format!("$.data[{index}].{name}")});
            Err(ZohoError::new(StatusCode::BAD_REQUEST, "MANDATORY_NOT_FOUND", "required field not found", details))
        };
        match (self, value) {
            (Kind::Text { mandatory: true, .. }, Value::Null) => mandatory(),
            (Kind::Text { mandatory: true, .. }, Value::String(s)) if s.trim().is_empty() => mandatory(),
            (Kind::Text { max, .. }, Value::String(s)) if s.chars().count() > max => {
                let mut error = invalid("text");
                error.details["maximum_length"] = json!(max.to_string());
                Err(error)
            }
            (Kind::Text { .. }, Value::String(_) | Value::Null) => Ok(value.clone()),
            (Kind::Text { .. }, _) => Err(invalid("text")),
            (Kind::Boolean, Value::Bool(_)) => Ok(value.clone()),
            (Kind::Boolean, _) => Err(invalid("boolean")),
            (Kind::Currency, Value::Number(_) | Value::Null) => Ok(value.clone()),
            (Kind::Currency, _) => Err(invalid("double")),
            (Kind::DateTime, Value::Null) => Ok(Value::Null),
            (Kind::DateTime, Value::String(s)) if parse_time(s).is_some() => Ok(value.clone()),
            (Kind::DateTime, _) => Err(invalid("datetime")),
            (Kind::Tax, Value::Null) => Ok(json!([])),
            (Kind::Tax, Value::Array(items)) => items
                .iter()
                .map(|item| {
                    // Either `{id}` / `{value}` objects or the tax names themselves.
                    let known = TAXES.iter().find(|(id, label)| match item {
                        Value::String(s) => s == label || s == id,
                        Value::Object(o) => {
                            o.get("id").and_then(Value::as_str) == Some(id)
                                || o.get("value").and_then(Value::as_str) == Some(label)
                        }
                        _ => false,
                    });
                    known
                        .map(|(id, label)| json!({"id": id, "value": label}))
                        .ok_or_else(|| invalid("multiselectpicklist"))
                })
                .collect::<Result<Vec<_>, _>>()
                .map(Value::Array),
            (Kind::Tax, _) => Err(invalid("multiselectpicklist")),
        }
    }
}

/// `getRecord` for the CRM page: one or more ids; rejects with the Zoho error object when one is unknown.
pub(super) fn widget_get(inner: &Inner, ids: &[String]) -> Result<Value, Value> {
    let state = inner.lock();
    let data = ids
        .iter()
        .map(|id| {
            state.products.get(id).map(|r| Value::Object(r.clone())).ok_or_else(|| ZohoError::invalid_id(id).body())
        })
        .collect::<Result<Vec<_>, _>>()?;
    let count = data.len();
    Ok(json!({"data": data, "info": {"per_page": count, "count": count, "page": 1, "more_records": false}}))
}

/// `updateRecord` for the CRM page: `APIData` is `{id, …fields, trigger}`. Resolves with `{data:[result]}`;
/// rejects with the record's error object.
pub(super) fn widget_update(inner: &Inner, mut api_data: Value) -> Result<Value, Value> {
    if let Some(fields) = api_data.as_object_mut() {
        fields.remove("trigger");
    }
    let (_, mut results) = apply_updates(inner, std::slice::from_ref(&api_data), None, None).map_err(|e| e.body())?;
    let result = results.pop().unwrap_or_else(|| ZohoError::internal().body());
    if result["status"] == "success" { Ok(json!({"data": [result]})) } else { Err(result) }
}
