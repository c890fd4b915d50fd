//! The widget's JSON API. Every error, an extractor's included, is the envelope of [`error::AppError`].
//!
//! Trust: the API key (the CRM Connection's) is what authenticates `POST /api/session`; the user name in it
//! is the CRM's claim, kept and shown as such; a synced product is read from Zoho with the service's own
//! grant, never taken from the request.

mod error;
mod json;
mod session;

use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::Json;
use axum::Router;
use axum::extract::{FromRef, Path, Query, State};
use axum::http::HeaderMap;
use axum::routing::{get, post};
use serde::Deserialize;
use shared::wire::{
    CodeSuggestion, HistoryEntry, PickLists, PreviewResponse, SessionRequest, SessionResponse, SyncRequest,
    SyncResponse,
};
use shared::{Issue, IssueCode, fields};

use crate::address::{ClientAddr, TrustedProxies};
use crate::crypto::constant_time_eq;
use crate::store::{Store, SyncTrigger, hash_api_key};
use crate::sync::{Actor, Engine};
use crate::throttle::Throttle;
pub(crate) use error::{AppError, scope_request_id};
use json::{AppJson, OptionalJson};
pub(crate) use session::SessionKeys;
use session::{WidgetSession, unix_now};

/// The header Zoho's servers send the API key in (the CRM connection's configured header).
const API_KEY_HEADER: &str = "x-api-key";
/// Wrong API keys answered (and logged) per client address and minute; beyond, 429 and one log line.
const WRONG_KEYS_PER_MINUTE: usize = 20;
/// The longest `user` kept, in characters.
const USER_MAX_CHARS: usize = 100;

/// Wrong API keys by client address. Only wrong keys are refused: Zoho's servers call for every CRM
/// organisation from shared addresses, so refusing the right key there would let any Zoho customer lock
/// ours out; and the key (32 random bytes) cannot be guessed, so refusing it gains nothing.
#[derive(Debug, Clone)]
pub(crate) struct WrongKeys(Arc<Throttle>);

impl WrongKeys {
    pub(crate) fn new() -> Self {
        Self(Throttle::new(WRONG_KEYS_PER_MINUTE, Duration::from_secs(60)))
    }
}

/// A wrong or missing key: logged with who sent it (never the key), and throttled per client address.
fn wrong_key(wrong_keys: &WrongKeys, client: ClientAddr, why: &'static str) -> AppError {
    match wrong_keys.0.reserve(client, Instant::now()) {
        // Dropped, the reservation stays counted: a wrong key is a failure.
        Ok(_counted) => {
            tracing::warn!(%client, why, "widget session refused: wrong API key");
            AppError::Unauthorized(format!("{why}."))
        }
        Err(refused) => {
            if refused.first {
                let wait_secs = refused.wait.as_secs();
                tracing::warn!(%client, wait_secs, "too many wrong API keys: this address gets 429 for a while");
            } else {
                tracing::debug!(%client, "widget session refused: wrong API key, throttled");
            }
            AppError::RateLimited {
                message: "Too many wrong API keys from this address; wait before trying again.".into(),
                retry_after: Some(refused.wait.as_secs().max(1)),
            }
        }
    }
}

/// Control characters, and the invisible ones that break lines or reorder text as shown (bidirectional
/// overrides), which would let a name disguise itself in the log.
fn is_control(c: char) -> bool {
    c.is_control() || matches!(c, '\u{200e}' | '\u{200f}' | '\u{2028}'..='\u{202e}' | '\u{2066}'..='\u{2069}')
}

/// The user name the CRM reported: trimmed, at most [`USER_MAX_CHARS`] characters, no control characters.
fn reported_user(user: Option<&str>) -> Result<&str, AppError> {
    let Some(user) = user.map(str::trim).filter(|u| !u.is_empty()) else {
        return Ok("CRM user");
    };
    if user.chars().count() > USER_MAX_CHARS {
        return Err(AppError::BadRequest(format!("user must be at most {USER_MAX_CHARS} characters.")));
    }
    if user.chars().any(is_control) {
        return Err(AppError::BadRequest("user must not contain control characters.".into()));
    }
    Ok(user)
}

/// `/api/...`, for any state holding what its handlers take.
pub(crate) fn routes<S>() -> Router<S>
where
    S: Clone + Send + Sync + 'static,
    Engine: FromRef<S>,
    Store: FromRef<S>,
    SessionKeys: FromRef<S>,
    WrongKeys: FromRef<S>,
    TrustedProxies: FromRef<S>,
{
    Router::new()
        .route("/api/session", post(open_session))
        .route("/api/products/{id}/preview", get(preview))
        .route("/api/products/{id}/sync", post(sync))
        .route("/api/products/{id}/history", get(history))
        .route("/api/products/{id}/code-suggestion", get(code_suggestion))
        .route("/api/xero/options", get(options))
}

/// Called by Zoho's servers on the widget's behalf (`CONNECTION.invoke`), with the admin's API key.
async fn open_session(
    State(store): State<Store>,
    State(sessions): State<SessionKeys>,
    State(wrong_keys): State<WrongKeys>,
    client: ClientAddr,
    headers: HeaderMap,
    AppJson(request): AppJson<SessionRequest>,
) -> Result<Json<SessionResponse>, AppError> {
    let Some(presented) = headers.get(API_KEY_HEADER).and_then(|v| v.to_str().ok()) else {
        return Err(wrong_key(&wrong_keys, client, "An API key is required"));
    };
    let stored = store
        .api_key()
        .await?
        .ok_or_else(|| AppError::Unauthorized("No API key is set up yet; an admin creates one.".into()))?;
    if !constant_time_eq(&hash_api_key(presented.trim()), &stored.hash) {
        return Err(wrong_key(&wrong_keys, client, "The API key is not valid"));
    }
    // The first session with this key proves the CRM's Connection and widget are set up (the dashboard's
    // last set-up step).
    store.note_widget_session().await?;
    let record_id = request.record_id.trim();
    if record_id.is_empty() || !record_id.bytes().all(|b| b.is_ascii_digit()) || record_id.len() > 32 {
        return Err(AppError::BadRequest("record_id must be a CRM record id (digits).".into()));
    }
    let user = reported_user(request.user.as_deref())?;
    let (token, claims) = sessions.issue(record_id, user, stored.generation, unix_now());
    Ok(Json(SessionResponse { token, record_id: claims.record_id, expires_at: claims.expires_at }))
}

async fn preview(
    State(engine): State<Engine>,
    session: WidgetSession,
    Path(id): Path<String>,
) -> Result<Json<PreviewResponse>, AppError> {
    session.require(&id)?;
    let preview = engine.preview(&id).await?;
    Ok(Json(PreviewResponse {
        record_id: id,
        issues: preview.issues,
        payload: preview.payload,
        plan: Some(preview.plan),
    }))
}

/// The body is optional: none means [`SyncRequest::default`] (overwrite what was changed in Xero).
async fn sync(
    State(engine): State<Engine>,
    session: WidgetSession,
    Path(id): Path<String>,
    OptionalJson(request): OptionalJson<SyncRequest>,
) -> Result<Json<SyncResponse>, AppError> {
    session.require(&id)?;
    let actor = Actor { name: session.0.user.clone(), trigger: SyncTrigger::Widget };
    Ok(Json(engine.sync(&id, &actor, request.xero_edits).await?))
}

#[derive(Debug, Deserialize)]
struct SuggestionQuery {
    #[serde(default)]
    name: String,
}

/// A code made from `name` (the product's name as the user sees it, saved or not), free among the
/// organisation's Xero items.
async fn code_suggestion(
    State(engine): State<Engine>,
    session: WidgetSession,
    Path(id): Path<String>,
    query: Result<Query<SuggestionQuery>, axum::extract::rejection::QueryRejection>,
) -> Result<Json<CodeSuggestion>, AppError> {
    session.require(&id)?;
    let Ok(Query(SuggestionQuery { name })) = query else {
        return Err(AppError::BadRequest("The query must be ?name=<the product's name>.".into()));
    };
    if name.trim().is_empty() {
        return Err(AppError::BadRequest("A product name is needed to make a code from (?name=…).".into()));
    }
    match engine.suggest_code(&id, &name).await? {
        Some(code) => Ok(Json(CodeSuggestion { code })),
        None => Err(AppError::Validation {
            message: "No code can be made from this name; type one.".into(),
            issues: vec![Issue::error(
                fields::PRODUCT_CODE,
                IssueCode::CodeMissing,
                "The name has no letters or digits to make a code from; type a code.",
            )],
        }),
    }
}

async fn history(
    State(engine): State<Engine>,
    session: WidgetSession,
    Path(id): Path<String>,
) -> Result<Json<Vec<HistoryEntry>>, AppError> {
    session.require(&id)?;
    Ok(Json(engine.history(&id, 20).await?))
}

async fn options(State(engine): State<Engine>, _session: WidgetSession) -> Result<Json<PickLists>, AppError> {
    Ok(Json(engine.pick_lists().await?))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_reported_user_is_bounded_and_printable() {
        assert_eq!(reported_user(None).ok(), Some("CRM user"));
        assert_eq!(reported_user(Some("  ")).ok(), Some("CRM user"));
        assert_eq!(reported_user(Some(" Zoë O'Brien ")).ok(), Some("Zoë O'Brien"));
        assert!(reported_user(Some(&"é".repeat(USER_MAX_CHARS))).is_ok(), "characters, not bytes");
        let too_long = "x".repeat(USER_MAX_CHARS + 1);
        assert_eq!(
            reported_user(Some(&too_long)).err().map(|e| e.to_string()).as_deref(),
            Some("user must be at most 100 characters.")
        );
        for control in ["Pat\nAdmin", "Pat\u{1b}[31m", "Pat\u{0}x", "Pat\u{85}x", "Pat\u{202e}nimdA", "a\u{2028}b"] {
            assert!(reported_user(Some(control)).is_err(), "{control:?}");
        }
    }
}
