//! The xero-sync backend: holds the Xero and Zoho credentials, syncs CRM products to Xero Items, and
//! serves the widget and its API.
//!
//! Modules by concept: [`config`] (typed settings), [`crypto`] (secrets at rest), [`store`] (SQLite),
//! [`xero`] and [`zoho`] (the two services' clients), [`sync`] (the engine), [`api`] (HTTP), [`server`]
//! (start-up, sandbox mode).

pub mod admin;
pub mod api;
pub mod cli;
pub mod config;
pub mod crypto;
pub mod server;
pub mod store;
pub mod sync;
pub mod widget;
pub mod xero;
pub mod zoho;

use axum::http::{HeaderName, Request};
use axum::{Json, Router, routing::get};
use serde::Serialize;
use tower_http::request_id::{MakeRequestUuid, PropagateRequestIdLayer, SetRequestIdLayer};
use tower_http::trace::TraceLayer;

pub use api::AppState;

#[derive(Debug, Serialize)]
struct Health {
    status: &'static str,
    version: &'static str,
}

async fn health() -> Json<Health> {
    Json(Health { status: "ok", version: env!("CARGO_PKG_VERSION") })
}

const REQUEST_ID: HeaderName = HeaderName::from_static("x-request-id");

/// The whole HTTP surface, so tests drive it in-process or on port 0 exactly as `main` serves it.
/// Every request gets an id (echoed in `x-request-id`) that its log lines carry.
pub fn app(state: AppState) -> Router {
    let widget_dir = state.widget.dir.clone();
    Router::new()
        .route("/health", get(health))
        .merge(api::routes())
        .merge(admin::routes())
        .merge(widget::routes(widget_dir))
        .with_state(state)
        .layer(PropagateRequestIdLayer::new(REQUEST_ID))
        .layer(TraceLayer::new_for_http().make_span_with(|request: &Request<_>| {
            let id = request.headers().get(REQUEST_ID).and_then(|v| v.to_str().ok()).unwrap_or("-");
            // The path only: query strings could carry codes or states.
            tracing::info_span!("request", id, method = %request.method(), path = request.uri().path())
        }))
        .layer(SetRequestIdLayer::new(REQUEST_ID, MakeRequestUuid))
}
