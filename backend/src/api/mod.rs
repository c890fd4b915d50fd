//! The HTTP surface: the widget's JSON API (this module), the admin pages ([`crate::admin`]), the built
//! widget and the health check, assembled by [`crate::app`].

pub mod error;
pub mod session;

use axum::extract::{Path, State};
use axum::http::HeaderMap;
use axum::routing::{get, post};
use axum::{Json, Router};
use shared::wire::{HistoryEntry, PickLists, PreviewResponse, SessionRequest, SessionResponse, SyncResponse};

use std::sync::Arc;

use crate::config::Settings;
use crate::store::{Store, SyncTrigger};
use crate::sync::{Actor, Engine};
use crate::widget::WidgetPage;
use crate::xero::XeroClient;
use crate::zoho::ZohoClient;
pub use error::AppError;
use session::{SessionKeys, WidgetSession, api_key_hash, constant_time_eq, unix_now};

/// The header Zoho's servers send the API key in (the CRM connection's configured header).
pub const API_KEY_HEADER: &str = "x-api-key";

/// What the routes share. Cheap to clone: everything inside is reference-counted.
#[derive(Clone)]
pub struct AppState {
    pub settings: Arc<Settings>,
    pub engine: Engine,
    pub store: Store,
    pub xero: XeroClient,
    pub zoho: ZohoClient,
    pub sessions: SessionKeys,
    /// Keys for signing admin cookies and CSRF tokens, derived from the master key.
    pub admin_key: [u8; 32],
    /// Sandbox mode (every page says so), with the emulated CRM page, whose Connection holds the API key.
    pub sandbox: Option<sandbox::crm_page::CrmPage>,
    pub widget: WidgetPage,
}

/// `/api/...`
pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/api/session", post(open_session))
        .route("/api/products/{id}/preview", get(preview))
        .route("/api/products/{id}/sync", post(sync))
        .route("/api/products/{id}/history", get(history))
        .route("/api/xero/options", get(options))
}

/// Called by Zoho's servers on the widget's behalf (`CONNECTION.invoke`), with the admin's API key.
async fn open_session(
    State(state): State<AppState>,
    headers: HeaderMap,
    Json(request): Json<SessionRequest>,
) -> Result<Json<SessionResponse>, AppError> {
    let presented = headers
        .get(API_KEY_HEADER)
        .and_then(|v| v.to_str().ok())
        .ok_or_else(|| AppError::Unauthorized("An API key is required.".into()))?;
    let stored = state
        .store
        .api_key_hash()
        .await?
        .ok_or_else(|| AppError::Unauthorized("No API key is set up yet; an admin creates one.".into()))?;
    if !constant_time_eq(&api_key_hash(presented.trim()), &stored) {
        return Err(AppError::Unauthorized("The API key is not valid.".into()));
    }
    let record_id = request.record_id.trim();
    if record_id.is_empty() || !record_id.bytes().all(|b| b.is_ascii_digit()) || record_id.len() > 32 {
        return Err(AppError::BadRequest("record_id must be a CRM record id (digits).".into()));
    }
    let user = request.user.as_deref().map(str::trim).filter(|u| !u.is_empty()).unwrap_or("CRM user");
    let (token, claims) = state.sessions.issue(record_id, user, unix_now());
    Ok(Json(SessionResponse { token, record_id: claims.record_id, expires_at: claims.expires_at }))
}

async fn preview(
    State(state): State<AppState>,
    session: WidgetSession,
    Path(id): Path<String>,
) -> Result<Json<PreviewResponse>, AppError> {
    session.require(&id)?;
    let preview = state.engine.preview(&id).await?;
    Ok(Json(PreviewResponse { record_id: id, issues: preview.issues, payload: preview.payload }))
}

async fn sync(
    State(state): State<AppState>,
    session: WidgetSession,
    Path(id): Path<String>,
) -> Result<Json<SyncResponse>, AppError> {
    session.require(&id)?;
    let actor = Actor { name: session.0.user.clone(), trigger: SyncTrigger::Widget };
    Ok(Json(state.engine.sync(&id, &actor).await?))
}

async fn history(
    State(state): State<AppState>,
    session: WidgetSession,
    Path(id): Path<String>,
) -> Result<Json<Vec<HistoryEntry>>, AppError> {
    session.require(&id)?;
    Ok(Json(state.engine.history(&id, 20).await?))
}

async fn options(State(state): State<AppState>, _session: WidgetSession) -> Result<Json<PickLists>, AppError> {
    Ok(Json(state.engine.pick_lists().await?))
}
