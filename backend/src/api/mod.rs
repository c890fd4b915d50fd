//! The widget's JSON API. Every error, an extractor's included, is the envelope of [`error::AppError`].

mod error;
mod json;
mod session;

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

use crate::crypto::constant_time_eq;
use crate::store::{Store, SyncTrigger, hash_api_key};
use crate::sync::{Actor, Engine};
pub(crate) use error::{AppError, scope_request_id};
use json::{AppJson, OptionalJson};
pub(crate) use session::SessionKeys;
use session::{WidgetSession, unix_now};

/// The header Zoho's servers send the API key in (the CRM connection's configured header).
const API_KEY_HEADER: &str = "x-api-key";

/// `/api/...`, for any state holding what its handlers take.
pub(crate) fn routes<S>() -> Router<S>
where
    S: Clone + Send + Sync + 'static,
    Engine: FromRef<S>,
    Store: FromRef<S>,
    SessionKeys: FromRef<S>,
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
    headers: HeaderMap,
    AppJson(request): AppJson<SessionRequest>,
) -> Result<Json<SessionResponse>, AppError> {
    let presented = headers
        .get(API_KEY_HEADER)
        .and_then(|v| v.to_str().ok())
        .ok_or_else(|| AppError::Unauthorized("An API key is required.".into()))?;
    let stored = store
        .api_key_hash()
        .await?
        .ok_or_else(|| AppError::Unauthorized("No API key is set up yet; an admin creates one.".into()))?;
    if !constant_time_eq(&hash_api_key(presented.trim()), &stored) {
        return Err(AppError::Unauthorized("The API key is not valid.".into()));
    }
    let record_id = request.record_id.trim();
    if record_id.is_empty() || !record_id.bytes().all(|b| b.is_ascii_digit()) || record_id.len() > 32 {
        return Err(AppError::BadRequest("record_id must be a CRM record id (digits).".into()));
    }
    let user = request.user.as_deref().map(str::trim).filter(|u| !u.is_empty()).unwrap_or("CRM user");
    let (token, claims) = sessions.issue(record_id, user, unix_now());
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
