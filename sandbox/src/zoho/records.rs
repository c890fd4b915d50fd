//! CRM v8 REST for Products: get one, list (paging, sorting, `If-Modified-Since`) and update
//! (per-record results, `If-Unmodified-Since`), with Zoho's envelopes (reference §5.3, crm-oas v8 examples).
//!
//! Paging as Zoho documents it (getRecords operation): `page` (with `per_page` ≤ 200) reaches the first
//! 2,000 records, past which `DISCRETE_PAGINATION_LIMIT_EXCEEDED`; every page with more records carries
//! `info.next_page_token` (≤ 96 characters) and `info.page_token_expiry`; tokens reach up to 100,000
//! records, then `PAGINATION_LIMIT_EXCEEDED`; an expired token gets `EXPIRED_VALUE`. A token remembers the
//! listing's filter and order and the last record it served, and the next page starts after that record
//! (a keyset, not an offset): a record modified while a client pages through a `Modified_Time` listing
//! moves to the end and is read again, never skipped. How Zoho's tokens behave when records change under
//! them is not documented; this is the safe reading. Tokens live 24 hours (unverified).

use std::cmp::Ordering;
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

use super::error::{DISCRETE_PAGE_LIMIT, ZohoError};
use super::fields::{Field, field_error};
use super::oauth::Operation;
use super::seed::user_lookup;
use super::{Inner, State as SimState, format_time};

const MODULE: &str = "Products";
const MAX_PER_PAGE: usize = 200;
const MAX_UPDATE_RECORDS: usize = 100;
const PAGE_TOKEN_LIFETIME: Duration = Duration::from_secs(24 * 3600);

/// Where a `page_token` resumes a listing.
#[derive(Debug, Clone)]
pub(super) struct PageCursor {
    sort_by: SortBy,
    descending: bool,
    modified_since: Option<DateTime<FixedOffset>>,
    /// The sort key of the last record served.
    after: SortKey,
    /// Records served so far (for the 100,000 limit).
    served: usize,
    /// The number the next page has in `info.page`.
    page: usize,
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

/// A record's place in a listing: its time (for the time orders; missing sorts first), then its id (all
/// ids have the same length, so text order is numeric order).
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
struct SortKey(Option<DateTime<FixedOffset>>, String);

fn parse_time(text: &str) -> Option<DateTime<FixedOffset>> {
    DateTime::parse_from_rfc3339(text.trim()).ok()
}

/// The record's `field` as a time.
fn time_of(record: &Map<String, Value>, field: &str) -> Option<DateTime<FixedOffset>> {
    record.get(field).and_then(Value::as_str).and_then(parse_time)
}

/// A time-valued request header (`If-Modified-Since`, `If-Unmodified-Since`). Zoho documents the form
/// `2019-07-25T15:26:49+05:30`; the simulator reads any RFC 3339 time here (only field values are strict).
fn time_header(headers: &HeaderMap, name: &str) -> Result<Option<DateTime<FixedOffset>>, ZohoError> {
    match headers.get(name) {
        None => Ok(None),
        Some(value) => value.to_str().ok().and_then(parse_time).map(Some).ok_or_else(|| ZohoError::invalid_param(name)),
    }
}

fn check_module(module: &str) -> Result<(), ZohoError> {
    if module == MODULE { Ok(()) } else { Err(ZohoError::invalid_module()) }
}

/// Checks the access token, then charges the org one API credit (refused when the rolling day's are spent).
pub(super) fn authorize(inner: &Inner, headers: &HeaderMap, operation: Operation) -> Result<(), ZohoError> {
    let now = inner.clock.now();
    let mut state = inner.lock();
    state.oauth.authorize(headers, now, operation)?;
    let limits = state.limits;
    state.usage.charge(now, &limits)
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
    // What Zoho answers for a missing id (204 or 400) is unverified; the shape is the crm-oas one.
    let record = state.products.get(&id).ok_or_else(ZohoError::invalid_path_id)?;
    if let Some(since) = since
        && time_of(record, "Modified_Time").is_none_or(|m| m <= since)
    {
        return Ok(StatusCode::NOT_MODIFIED.into_response());
    }
    Ok(axum::Json(json!({"data": [project(record, fields.as_deref())]})).into_response())
}

/// How a listing request asks to start: from a page number or a token.
enum Start {
    Page(usize),
    Token(String),
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
    let start = match (query.get("page_token"), query.get("page")) {
        (Some(_), Some(_)) => return Err(ZohoError::invalid_param("page")),
        (Some(token), None) => Start::Token(token.clone()),
        (None, page) => Start::Page(match page {
            None => 1,
            Some(v) => v.parse().ok().filter(|p| *p >= 1).ok_or_else(|| ZohoError::invalid_param("page"))?,
        }),
    };
    let now = inner.clock.now();
    let limit = inner.config.pagination_limit;
    let mut state = inner.lock();
    // Expired tokens are kept a while to be told apart from unknown ones.
    state.page_tokens.retain(|_, c| c.expires_at.saturating_add(PAGE_TOKEN_LIFETIME) > now);

    let (cursor, offset, page_token) = match start {
        Start::Token(token) => {
            let cursor = state.page_tokens.get(&token).ok_or_else(|| ZohoError::invalid_param("page_token"))?;
            if now >= cursor.expires_at {
                return Err(ZohoError::expired_page_token());
            }
            if cursor.served >= limit {
                return Err(ZohoError::pagination_limit(limit));
            }
            (cursor.clone(), None, Some(token))
        }
        Start::Page(page) => {
            let offset = (page - 1) * per_page;
            if offset + per_page > DISCRETE_PAGE_LIMIT {
                return Err(ZohoError::discrete_pagination_limit());
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
            let cursor = PageCursor {
                sort_by,
                descending,
                modified_since,
                after: SortKey(None, String::new()),
                served: offset,
                page,
                expires_at: now + PAGE_TOKEN_LIFETIME,
            };
            (cursor, Some(offset), None)
        }
    };

    let key = |record: &Map<String, Value>| {
        let id = record.get("id").and_then(Value::as_str).unwrap_or_default().to_string();
        match cursor.sort_by {
            SortBy::Id => SortKey(None, id),
            SortBy::CreatedTime => SortKey(time_of(record, "Created_Time"), id),
            SortBy::ModifiedTime => SortKey(time_of(record, "Modified_Time"), id),
        }
    };
    let mut matching: Vec<(SortKey, &Map<String, Value>)> = state
        .products
        .values()
        .filter(|r| cursor.modified_since.is_none_or(|since| time_of(r, "Modified_Time").is_some_and(|m| m > since)))
        .map(|r| (key(r), r))
        .collect();
    if matching.is_empty() && page_token.is_none() {
        // Zoho's samples: 304 when nothing changed since If-Modified-Since, 204 when there is nothing at all.
        let status = if cursor.modified_since.is_some() { StatusCode::NOT_MODIFIED } else { StatusCode::NO_CONTENT };
        return Ok(status.into_response());
    }
    let order = |a: &SortKey, b: &SortKey| if cursor.descending { b.cmp(a) } else { a.cmp(b) };
    matching.sort_by(|a, b| order(&a.0, &b.0));
    let remaining: Vec<&(SortKey, &Map<String, Value>)> = match offset {
        Some(offset) => matching.iter().skip(offset).collect(),
        None => matching.iter().filter(|(k, _)| order(k, &cursor.after) == Ordering::Greater).collect(),
    };
    let take = per_page.min(limit.saturating_sub(cursor.served));
    let page: Vec<&(SortKey, &Map<String, Value>)> = remaining.iter().take(take).copied().collect();
    if page.is_empty() {
        return Ok(StatusCode::NO_CONTENT.into_response());
    }
    let data: Vec<Value> = page.iter().map(|(_, r)| project(r, Some(&fields))).collect();
    let more_records = remaining.len() > page.len();
    let mut info = json!({
        "per_page": per_page,
        "count": data.len(),
        "page": cursor.page,
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
        let last = page.last().map(|(k, _)| k.clone()).unwrap_or_else(|| cursor.after.clone());
        let next_cursor = PageCursor {
            after: last,
            served: cursor.served + page.len(),
            page: cursor.page + 1,
            expires_at: now + PAGE_TOKEN_LIFETIME,
            ..cursor.clone()
        };
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

/// The number of records a PUT body carries (for the sub-concurrency of bulk updates); 0 if unreadable.
pub(super) fn record_count(body: &[u8]) -> usize {
    serde_json::from_slice::<Value>(body).ok().and_then(|b| b.get("data")?.as_array().map(Vec::len)).unwrap_or(0)
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
        return Err(ZohoError::too_many_records(MAX_UPDATE_RECORDS));
    }
    if path_id.is_some() && items.len() > 1 {
        return Err(ZohoError::invalid_param("data"));
    }
    if let Some(id) = path_id
        && !inner.lock().products.contains_key(id)
    {
        return Err(ZohoError::invalid_path_id().in_data());
    }
    let (status, results) = apply_updates(inner, items, path_id, unmodified_since)?;
    Ok((status, axum::Json(json!({"data": results}))).into_response())
}

/// `{name, id}` of a user lookup (nulls when a record stored through `set_product` lacks it).
fn minified(user: Option<&Value>) -> Value {
    let user = user.cloned().unwrap_or_default();
    json!({"name": user["name"], "id": user["id"]})
}

/// Applies each record's changes; returns the per-record results and 200, 207 (mixed) or 400 (all failed).
/// `If-Unmodified-Since` is checked for all records first and fails the whole request with 412, naming
/// each record changed since (inside `data`, as the updateRecords 412 example shows).
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
        let changed: Vec<Value> = items
            .iter()
            .filter_map(id_of)
            .filter_map(|id| state.products.get(&id).filter(|r| time_of(r, "Modified_Time").is_some_and(|m| m > since)))
            .map(|record| {
                ZohoError::already_modified(json!({
                    "Modified_Time": record.get("Modified_Time"),
                    "Created_Time": record.get("Created_Time"),
                    "id": record.get("id"),
                    "Modified_By": minified(record.get("Modified_By")),
                    "Created_By": minified(record.get("Created_By")),
                }))
                .body()
            })
            .collect();
        if !changed.is_empty() {
            return Ok((StatusCode::PRECONDITION_FAILED, changed));
        }
    }
    let mut results = Vec::with_capacity(items.len());
    for (index, item) in items.iter().enumerate() {
        let result = update_record(&mut state, fields, index, item, id_of(item), &stamp);
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

/// One record of an update: every named field checked first (an unknown API name or a bad value fails the
/// record and changes nothing), then stored, and `Modified_Time` bumped.
fn update_record(
    state: &mut SimState,
    fields: &super::CustomFields,
    index: usize,
    item: &Value,
    id: Option<String>,
    stamp: &str,
) -> Result<Value, ZohoError> {
    let changes = item.as_object().ok_or_else(|| field_error(index, "data", "jsonobject"))?;
    let id = id.ok_or_else(|| {
        let details = json!({"api_name": "id", "json_path": format!("$.data[{index}].id")});
        ZohoError::new(StatusCode::BAD_REQUEST, "MANDATORY_NOT_FOUND", "required field not found", details)
    })?;
    let record = state.products.get_mut(&id).ok_or_else(|| ZohoError::invalid_body_id(index))?;
    let mut validated = Vec::new();
    for (name, value) in changes {
        match Field::of(fields, name) {
            Field::Typed(kind) => validated.push((name.clone(), kind.validate(value, index, name)?)),
            Field::Stored => validated.push((name.clone(), value.clone())),
            Field::ReadOnly => {}
            Field::Unknown => return Err(ZohoError::unknown_field(index, name)),
        }
    }
    record.extend(validated);
    record.insert("Modified_Time".into(), json!(stamp));
    record.insert("Modified_By".into(), user_lookup());
    Ok(json!({
        "code": "SUCCESS",
        "details": {
            "Modified_Time": stamp,
            "Modified_By": minified(Some(&user_lookup())),
            "Created_Time": record.get("Created_Time"),
            "id": id,
            "Created_By": minified(record.get("Created_By")),
        },
        "message": "record updated",
        "status": "success",
    }))
}

/// `getRecord` for the CRM page: one or more ids; rejects with the Zoho error object when one is unknown.
pub(super) fn widget_get(inner: &Inner, ids: &[String]) -> Result<Value, Value> {
    let state = inner.lock();
    let data = ids
        .iter()
        .map(|id| {
            state.products.get(id).map(|r| Value::Object(r.clone())).ok_or_else(|| ZohoError::invalid_path_id().body())
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

/// An edit made by a CRM user in the web UI (the test hook [`super::ZohoSim::edit_product`]): the same
/// checks as an API update, and `Modified_Time` moves.
pub(super) fn user_edit(inner: &Inner, id: &str, changes: Value) -> Result<Value, ZohoError> {
    let stamp = inner.timestamp();
    let mut state = inner.lock();
    let record = update_record(&mut state, &inner.config.fields, 0, &changes, Some(id.to_string()), &stamp)?;
    Ok(state.products.get(id).map_or(record, |r| Value::Object(r.clone())))
}
