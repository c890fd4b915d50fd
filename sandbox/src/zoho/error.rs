//! Zoho CRM's error envelope, `{code, details, message, status:"error"}`, in the shapes the crm-oas v8
//! examples show (zoho/crm-oas `v8.0/record/operations/*/examples/`). Some errors of a write come wrapped in
//! `{"data":[…]}` like a per-record result (412 `ALREADY_MODIFIED`, too many records, a bad id in the path);
//! the others are the bare envelope.
//!
//! `resource_path_index` counts the path's resources after the version: in `/crm/v8/Products/{id}` the
//! module is 0 and the record id 1, as the getRecord (`INVALID_MODULE`, 0) and updateRecord (1) examples
//! show; the deleteRecord example's "invalid record id" carries 0, so that index is not certain.

use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};

/// Records a `page`-numbered listing may reach; beyond them Zoho requires `page_token`.
pub(super) const DISCRETE_PAGE_LIMIT: usize = 2000;

/// A Zoho CRM error with its HTTP status.
#[derive(Debug, Clone, PartialEq)]
pub struct ZohoError {
    pub status: StatusCode,
    pub code: &'static str,
    pub message: String,
    pub details: Value,
    /// Answered inside `{"data":[…]}` rather than bare.
    in_data: bool,
}

impl ZohoError {
    pub(super) fn new(status: StatusCode, code: &'static str, message: &str, details: Value) -> Self {
        Self { status, code, message: message.into(), details, in_data: false }
    }

    /// The envelope itself (what a per-record result or a widget's rejection carries).
    pub fn body(&self) -> Value {
        json!({"code": self.code, "details": self.details, "message": self.message, "status": "error"})
    }

    /// Answered as `{"data":[envelope]}`, as Zoho does for some write errors.
    pub(super) fn in_data(mut self) -> Self {
        self.in_data = true;
        self
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
    /// The forced 429 of [`super::ZohoSim::rate_limit_next`].
    pub(super) fn too_many_requests() -> Self {
        let message = "The number of API requests has exceeded the allowed limit";
        Self::new(StatusCode::TOO_MANY_REQUESTS, "TOO_MANY_REQUESTS", message, json!({}))
    }
    /// The org's API credits for the rolling 24 hours are spent. Zoho answers 429 `TOO_MANY_REQUESTS`
    /// ("API request limit exceeded", v2 status codes); the message is ours (unverified).
    pub(super) fn credits_exhausted() -> Self {
        let message = "The API credits of your organization for the last 24 hours are exhausted";
        Self::new(StatusCode::TOO_MANY_REQUESTS, "TOO_MANY_REQUESTS", message, json!({}))
    }
    /// Too many calls in flight at once (concurrency, or sub-concurrency of bulk writes): 429
    /// `TOO_MANY_REQUESTS` (Kaizen #203); the message is ours (unverified).
    pub(super) fn concurrency_exceeded() -> Self {
        let message = "The number of concurrent API requests has exceeded the allowed limit";
        Self::new(StatusCode::TOO_MANY_REQUESTS, "TOO_MANY_REQUESTS", message, json!({}))
    }
    pub(super) fn internal() -> Self {
        Self::new(StatusCode::INTERNAL_SERVER_ERROR, "INTERNAL_ERROR", "Internal server error occurred.", json!({}))
    }
    pub(super) fn invalid_module() -> Self {
        let message = "the module name given seems to be invalid";
        Self::new(StatusCode::BAD_REQUEST, "INVALID_MODULE", message, json!({"resource_path_index": 0}))
    }
    pub(super) fn required_param(name: &str) -> Self {
        let message = "One of the expected parameter is missing";
        Self::new(StatusCode::BAD_REQUEST, "REQUIRED_PARAM_MISSING", message, json!({"param_name": name}))
    }
    pub(super) fn invalid_param(name: &str) -> Self {
        Self::new(StatusCode::BAD_REQUEST, "INVALID_DATA", "invalid data", json!({"param_name": name}))
    }
    /// A record id in the path that names no record.
    pub(super) fn invalid_path_id() -> Self {
        let details = json!({"resource_path_index": 1});
        Self::new(StatusCode::BAD_REQUEST, "INVALID_DATA", "the id given seems to be invalid", details)
    }
    /// A record id in the body (`data[index].id`) that names no record.
    pub(super) fn invalid_body_id(index: usize) -> Self {
        let details = json!({"api_name": "id", "json_path": format!("$.data[{index}].id")});
        Self::new(StatusCode::BAD_REQUEST, "INVALID_DATA", "the id given seems to be invalid", details)
    }
    pub(super) fn invalid_body() -> Self {
        Self::new(StatusCode::BAD_REQUEST, "INVALID_DATA", "body", json!({}))
    }
    /// A write naming a field the module does not have (the updateRecords 207 example).
    pub(super) fn unknown_field(index: usize, api_name: &str) -> Self {
        let details = json!({"api_name": api_name, "json_path": format!("$.data[{index}].{api_name}")});
        Self::new(StatusCode::BAD_REQUEST, "INVALID_DATA", "the field api name given seems to be invalid", details)
    }
    /// More records in one write than Zoho takes (the updateRecord limitexceedederror example).
    pub(super) fn too_many_records(limit: usize) -> Self {
        let details = json!({"maximum_length": limit, "api_name": "data"});
        let message = "count of records in your request exceeds the limit";
        Self::new(StatusCode::BAD_REQUEST, "LIMIT_EXCEEDED", message, details).in_data()
    }
    /// `page` past the first 2,000 records (the getRecords discretepaginationlimitexceeded example).
    pub(super) fn discrete_pagination_limit() -> Self {
        let message = "You can only get the first 2000 records without using page_token param";
        let details = json!({"limit": DISCRETE_PAGE_LIMIT});
        Self::new(StatusCode::BAD_REQUEST, "DISCRETE_PAGINATION_LIMIT_EXCEEDED", message, details)
    }
    /// `page_token` past the records a listing may reach (the paginationlimitexceeded example).
    pub(super) fn pagination_limit(limit: usize) -> Self {
        let message = format!("You can only get upto {limit} records using page_token param");
        let details = json!({"param_name": "page_token"});
        Self::new(StatusCode::BAD_REQUEST, "PAGINATION_LIMIT_EXCEEDED", &message, details)
    }
    /// An expired `page_token` (the getRecords expiredvalue example).
    pub(super) fn expired_page_token() -> Self {
        let details = json!({"api_name": "page_token", "json_path": "$.query.page_token"});
        Self::new(StatusCode::BAD_REQUEST, "EXPIRED_VALUE", "Page token expired", details)
    }
    /// `If-Unmodified-Since` older than the record (the updateRecords 412 example), with the record's
    /// ownership and times.
    pub(super) fn already_modified(details: Value) -> Self {
        let message = "record updated time has already passed if-unmodified-since time";
        Self::new(StatusCode::PRECONDITION_FAILED, "ALREADY_MODIFIED", message, details).in_data()
    }
}

impl IntoResponse for ZohoError {
    fn into_response(self) -> Response {
        let body = if self.in_data { json!({"data": [self.body()]}) } else { self.body() };
        (self.status, axum::Json(body)).into_response()
    }
}
