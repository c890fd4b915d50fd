//! The widget's JSON API. Every error, an extractor's included, is the envelope of [`error::AppError`].

mod error;
mod json;
mod session;

use axum::Json;
use axum::Router;
use axum::extract::{FromRef, Path, State};
use axum::http::HeaderMap;
use axum::routing::{get, post};
use shared::wire::{HistoryEntry, PickLists, PreviewResponse, SessionRequest, SessionResponse, SyncResponse};

use crate::crypto::constant_time_eq;
use crate::store::{Store, SyncTrigger, hash_api_key};
use crate::sync::{Actor, Engine};
pub(crate) use error::{AppError, scope_request_id};
use json::AppJson;
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
    // The first session with this key proves the CRM's Connection and widget are set up (the dashboard's
    // last set-up step).
    store.note_widget_session().await?;
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
    Ok(Json(PreviewResponse { record_id: id, issues: preview.issues, payload: preview.payload }))
}

async fn sync(
    State(engine): State<Engine>,
    session: WidgetSession,
    Path(id): Path<String>,
) -> Result<Json<SyncResponse>, AppError> {
    session.require(&id)?;
    let actor = Actor { name: session.0.user.clone(), trigger: SyncTrigger::Widget };
    Ok(Json(engine.sync(&id, &actor).await?))
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
