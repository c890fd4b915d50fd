//! The backend's widget API (README "Widget API"), with the session token it needs.
//!
//! The token comes from `POST /api/session`, which only Zoho's servers can call (they add the API key), so
//! the widget asks through `CONNECTION.invoke`. Tokens last 15 minutes: on a 401 the client opens a new
//! session once and retries once, so an expired session renews itself. The token is kept in the tab's
//! `sessionStorage`, so reopening the popup on the same record within its life skips the round trip
//! through Zoho's servers.

use std::cell::RefCell;

use serde_json::Value;
use shared::wire::{ApiError, ErrorCode, FromJson, HistoryEntry, PickLists, SyncPlan, SyncResponse, XeroEdits};
use wasm_bindgen::JsCast;
use wasm_bindgen_futures::JsFuture;
use web_sys::{RequestInit, Response};

use crate::json::object;
use crate::state::Preview;
use crate::zoho;

/// Talks to the backend for one record.
#[derive(Debug)]
pub struct Client {
    /// The backend's origin: it serves this page, so it is the page's own.
    origin: String,
    record_id: String,
    user: Option<String>,
    token: RefCell<Option<String>>,
}

fn failure(code: ErrorCode, message: impl Into<String>) -> ApiError {
    ApiError { code, message: message.into(), issues: Vec::new(), request_id: None }
}

#[derive(Clone, Copy)]
enum Method {
    Get,
    Post,
}

impl Client {
    pub fn new(origin: String, record_id: String, user: Option<String>) -> Self {
        let token = storage().and_then(|s| s.get_item(&storage_key(&record_id)).ok().flatten());
        Self { origin, record_id, user, token: RefCell::new(token) }
    }

    fn keep(&self, token: Option<&str>) {
        *self.token.borrow_mut() = token.map(str::to_owned);
        if let Some(storage) = storage() {
            let key = storage_key(&self.record_id);
            // Storage can be full or blocked; the token still lives in memory.
            let _ = match token {
                Some(token) => storage.set_item(&key, token),
                None => storage.remove_item(&key),
            };
        }
    }

    /// The origin of the page, where the backend serves both the widget and its API.
    pub fn page_origin() -> Option<String> {
        web_sys::window().and_then(|w| w.location().origin().ok())
    }

    /// A fresh token, through the CRM Connection.
    async fn open_session(&self) -> Result<String, ApiError> {
        let parameters =
            object(vec![("record_id", self.record_id.as_str().into()), ("user", self.user.clone().into())]);
        let body = zoho::invoke(&format!("{}/api/session", self.origin), &parameters)
            .await
            .map_err(|m| failure(ErrorCode::UpstreamUnavailable, m))?;
        // Only `token` of the SessionResponse is needed.
        let answer = serde_json::from_str::<Value>(&body).unwrap_or_default();
        match answer["token"].as_str() {
            Some(token) => {
                self.keep(Some(token));
                Ok(token.to_owned())
            }
            None => Err(error_in(&answer).unwrap_or_else(|| {
                failure(ErrorCode::UpstreamUnavailable, "xero-sync did not open a session; try again shortly.")
            })),
        }
    }

    /// One authenticated call (with a JSON `body`, if any), its body on success. Not generic, so the
    /// request code exists once in the bundle; [`typed`] reads the body as the route's type.
    async fn call(&self, method: Method, path: &str, body: Option<&str>) -> Result<String, ApiError> {
        let url = format!("{}{path}", self.origin);
        let mut renewed = false;
        loop {
            let current = self.token.borrow().clone();
            let token = match current {
                Some(token) => token,
                None => {
                    renewed = true;
                    self.open_session().await?
                }
            };
            let init = RequestInit::new();
            init.set_method(match method {
                Method::Get => "GET",
                Method::Post => "POST",
            });
            let headers = web_sys::Headers::new().map_err(|_| no_fetch())?;
            // A fresh Headers accepts any valid name and value.
            let _ = headers.set("Authorization", &format!("Bearer {token}"));
            if let Some(body) = body {
                let _ = headers.set("Content-Type", "application/json");
                init.set_body(&body.into());
            }
            init.set_headers(&headers);
            let response = fetch(&url, &init)
                .await
                .ok_or_else(|| failure(ErrorCode::UpstreamUnavailable, "xero-sync could not be reached; try again."))?;
            if response.status() == 401 && !renewed {
                // Expired (or refused): one new session, one retry.
                self.keep(None);
                continue;
            }
            return body_of(response).await;
        }
    }

    /// Syncs, with what to do about fields changed in Xero (`shared::wire::SyncRequest`, built by hand).
    pub async fn sync(&self, xero_edits: XeroEdits) -> Result<SyncResponse, ApiError> {
        let body = format!(r#"{{"xero_edits":"{}"}}"#, xero_edits.name());
        typed(&self.call(Method::Post, &format!("/api/products/{}/sync", self.record_id), Some(&body)).await?)
    }

    pub async fn history(&self) -> Result<Vec<HistoryEntry>, ApiError> {
        typed(&self.call(Method::Get, &format!("/api/products/{}/history", self.record_id), None).await?)
    }

    /// Xero's lists and the organisation's defaults (none when it has none).
    pub async fn options(&self) -> Result<PickLists, ApiError> {
        typed(&self.call(Method::Get, "/api/xero/options", None).await?)
    }

    /// The backend's check of the saved record: its issues and, when it says, what a sync would do.
    pub async fn preview(&self) -> Result<Preview, ApiError> {
        let answer =
            parsed(&self.call(Method::Get, &format!("/api/products/{}/preview", self.record_id), None).await?)?;
        Ok(Preview { issues: read(&answer["issues"])?, plan: SyncPlan::in_preview(&answer) })
    }
}

/// Where the token of a record's session is kept between openings of the popup.
pub fn storage_key(record_id: &str) -> String {
    format!("xero-sync:session:{record_id}")
}

fn storage() -> Option<web_sys::Storage> {
    web_sys::window().and_then(|w| w.session_storage().ok().flatten())
}

fn no_fetch() -> ApiError {
    failure(ErrorCode::Internal, "The browser cannot make requests.")
}

async fn fetch(url: &str, init: &RequestInit) -> Option<Response> {
    let promise = web_sys::window()?.fetch_with_str_and_init(url, init);
    JsFuture::from(promise).await.ok()?.dyn_into().ok()
}

/// The body of a 2xx answer, or the API's error.
async fn body_of(response: Response) -> Result<String, ApiError> {
    let status = response.status();
    let text = match response.text() {
        Ok(promise) => JsFuture::from(promise).await.ok().and_then(|t| t.as_string()),
        Err(_) => None,
    };
    let body = text.unwrap_or_default();
    if (200..300).contains(&status) {
        return Ok(body);
    }
    let answer = serde_json::from_str::<Value>(&body).unwrap_or_default();
    Err(error_in(&answer).unwrap_or_else(|| {
        failure(ErrorCode::UpstreamUnavailable, format!("xero-sync answered {status}; try again shortly."))
    }))
}

/// The API's error from its envelope (`shared::wire::ErrorEnvelope`: `{"error": {...}}`).
fn error_in(answer: &Value) -> Option<ApiError> {
    answer.get("error").and_then(ApiError::from_json)
}

/// A 2xx body as the route's type, read from a parsed `Value` (see `shared::wire::FromJson` for why).
fn typed<T: FromJson>(body: &str) -> Result<T, ApiError> {
    read(&parsed(body)?)
}

fn parsed(body: &str) -> Result<Value, ApiError> {
    serde_json::from_str(body).map_err(|_| not_understood())
}

fn read<T: FromJson>(answer: &Value) -> Result<T, ApiError> {
    T::from_json(answer).ok_or_else(not_understood)
}

fn not_understood() -> ApiError {
    failure(ErrorCode::Internal, "xero-sync sent an answer the widget does not understand.")
}
