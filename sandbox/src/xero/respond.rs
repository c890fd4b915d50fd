//! The response shapes Xero uses: the Accounting envelope, the `Error` body (400), problem details
//! (401/403/404/429/5xx) and OAuth errors.

use axum::http::{HeaderName, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};
use uuid::Uuid;

use super::behaviour::ProblemNames;
use super::limits::{Limited, Remaining};
use super::time::{EpochMs, ms_date_plain};

/// A JSON response with Xero's correlation id header.
pub fn json(status: StatusCode, body: &Value) -> Response {
    let mut response = (status, body.to_string()).into_response();
    let headers = response.headers_mut();
    headers.insert(header::CONTENT_TYPE, HeaderValue::from_static("application/json; charset=utf-8"));
    set(headers, "xero-correlation-id", &Uuid::new_v4().to_string());
    response
}

/// `{"Id", "Status", "ProviderName", "DateTimeUTC", <key>: [...]}`: the undeclared envelope around lists.
pub fn envelope(provider: &str, now: EpochMs, key: &str, list: Vec<Value>) -> Value {
    json!({
        "Id": Uuid::new_v4().to_string(),
        "Status": "OK",
        "ProviderName": provider,
        "DateTimeUTC": ms_date_plain(now),
        key: list,
    })
}

/// A 400 in the spec's `Error` schema, e.g. `ValidationException` (10), `PostDataInvalidException` (14),
/// `QueryParseException` (16), `NoDataProcessedException` (17).
pub fn error_body(number: u32, kind: &str, message: &str, elements: Option<Vec<Value>>) -> Value {
    let mut body = json!({ "ErrorNumber": number, "Type": kind, "Message": message });
    if let Some(elements) = elements {
        body["Elements"] = Value::Array(elements);
    }
    body
}

/// The problem-details body Xero's gateway uses outside the Accounting `Error` schema (401, 403, 404, 429,
/// 5xx, idempotency-key misuse).
pub fn problem_body(status: StatusCode, detail: &str) -> Value {
    json!({
        "Type": null,
        "Title": status.canonical_reason().unwrap_or("Error"),
        "Status": status.as_u16(),
        "Detail": detail,
        "Instance": Uuid::new_v4().to_string(),
        "Extensions": {},
    })
}

/// Xero's answer to an internal error, as captured in XeroAPI/Xero-Java#246:
/// `{"Title":"An error occurred","Detail":"An error occurred in Xero. …","Status":500,"Instance":…}`.
pub fn internal_error_body() -> Value {
    let mut body = problem_body(
        StatusCode::INTERNAL_SERVER_ERROR,
        "An error occurred in Xero. Check the API Status page http://status.developer.xero.com for current service \
         status.",
    );
    body["Title"] = json!("An error occurred");
    body
}

pub fn problem(status: StatusCode, detail: &str) -> Response {
    json(status, &problem_body(status, detail))
}

/// OAuth 2.0 token endpoint error, `400 {"error": "invalid_grant"}` and the like.
pub fn oauth_error(code: &str) -> Response {
    json(StatusCode::BAD_REQUEST, &json!({ "error": code }))
}

/// `X-MinLimit-Remaining`, `X-DayLimit-Remaining`, `X-AppMinLimit-Remaining`.
pub fn rate_headers(response: &mut Response, remaining: Remaining) {
    let headers = response.headers_mut();
    set(headers, "x-minlimit-remaining", &remaining.minute.to_string());
    set(headers, "x-daylimit-remaining", &remaining.day.to_string());
    set(headers, "x-appminlimit-remaining", &remaining.app_minute.to_string());
}

/// 429 with `X-Rate-Limit-Problem` (spelt as `names` says), `Retry-After` (when the limit has a window) and
/// the remaining counts.
pub fn too_many_requests(limited: Limited, tenant_call: bool, names: ProblemNames) -> Response {
    let mut response = problem(
        StatusCode::TOO_MANY_REQUESTS,
        "The API rate limit for your organisation/application pairing has been exceeded.",
    );
    if tenant_call {
        rate_headers(&mut response, limited.remaining);
    } else {
        set(response.headers_mut(), "x-appminlimit-remaining", &limited.remaining.app_minute.to_string());
    }
    let headers = response.headers_mut();
    set(headers, "x-rate-limit-problem", limited.problem.header(names));
    if let Some(seconds) = limited.retry_after {
        set(headers, "retry-after", &seconds.to_string());
    }
    response
}

pub fn set(headers: &mut axum::http::HeaderMap, name: &'static str, value: &str) {
    if let Ok(value) = HeaderValue::from_str(value) {
        headers.insert(HeaderName::from_static(name), value);
    }
}
