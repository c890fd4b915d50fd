//! The xero-sync backend. For now: its health check and the built widget; the connections, the sync engine
//! and the widget's API arrive with the backend issue.

use std::path::PathBuf;

use axum::{Json, Router, routing::get};
use serde::Serialize;
use tower_http::services::ServeDir;
use tower_http::trace::TraceLayer;

/// What the routes need. Grows with the service (settings, database, clients).
#[derive(Debug, Clone)]
pub struct AppState {
    /// Trunk's output for the widget (`widget/dist`).
    pub widget_dir: PathBuf,
}

#[derive(Debug, Serialize)]
struct Health {
    status: &'static str,
    version: &'static str,
}

async fn health() -> Json<Health> {
    Json(Health { status: "ok", version: env!("CARGO_PKG_VERSION") })
}

/// The whole HTTP surface, so tests drive it in-process or on port 0 exactly as `main` serves it.
pub fn app(state: AppState) -> Router {
    Router::new()
        .route("/health", get(health))
        .nest_service("/widget", ServeDir::new(&state.widget_dir).append_index_html_on_directories(true))
        .layer(TraceLayer::new_for_http())
}
