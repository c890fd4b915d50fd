//! The xero-sync backend: holds the Xero and Zoho credentials, syncs CRM products to Xero Items, and
//! serves the widget and its API. `main.rs` is a thin shell over [`server::start`].
//!
//! Modules by concept: [`config`] (typed settings, the [`config::Mode`]), [`crypto`] (secrets at rest),
//! [`store`] (SQLite), [`xero`] and [`zoho`] (the two services' clients, with the one [`retry`] policy),
//! `sync` (the engine), [`runs`] (bulk and scheduled syncs), [`connections`] (connecting Xero, Zoho and the
//! API key), [`defaults`] (the organisation's defaults as an admin sets them), `readiness` (the catalogue
//! checked with the rules), `background` (the service's own tasks: log retention, readiness), `api` (the
//! widget's JSON API), `admin` (the admin pages), `widget` (the built widget), `state` (what routes share)
//! and [`server`] (start-up and graceful shutdown). Nothing here simulates Xero or Zoho: the `demo` crate
//! runs this service against the simulators.

#![warn(unreachable_pub)]

mod address;
mod admin;
mod api;
mod background;
pub mod cli;
pub mod config;
pub mod connections;
pub mod crypto;
pub mod defaults;
mod field_names;
mod headers;
mod readiness;
pub mod retry;
pub mod runs;
pub mod server;
mod state;
pub mod store;
mod sync;
mod throttle;
mod vault;
mod widget;
pub mod xero;
pub mod zoho;

use std::time::Duration;

use axum::extract::{Request, State};
use axum::http::{HeaderName, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use axum::{Json, Router, middleware, routing::get};
use serde::Serialize;
use tower_http::request_id::{MakeRequestUuid, PropagateRequestIdLayer, SetRequestIdLayer};
use tower_http::timeout::RequestBodyDeadlineLayer;
use tower_http::trace::TraceLayer;

pub use vault::VaultError;

#[derive(Debug, Serialize)]
struct Health {
    status: &'static str,
    version: &'static str,
}

async fn health() -> Json<Health> {
    Json(Health { status: "ok", version: env!("CARGO_PKG_VERSION") })
}

const REQUEST_ID: HeaderName = HeaderName::from_static("x-request-id");

/// Answers a request still being worked on after `limit` (the widget's API with its error envelope, which
/// tower-http's `TimeoutLayer`, answering an empty body, would not give). What the handler started on its
/// own, a sync, carries on and is logged.
async fn request_deadline(State(limit): State<Duration>, request: Request, next: Next) -> Response {
    let api = request.uri().path().starts_with("/api/");
    match tokio::time::timeout(limit, next.run(request)).await {
        Ok(response) => response,
        Err(_) => {
            tracing::warn!(?limit, "request timed out");
            let message = "The service took too long to answer; a sync may still finish (see its history).";
            if api {
                api::AppError::TimedOut(message.into()).into_response()
            } else {
                (StatusCode::GATEWAY_TIMEOUT, message).into_response()
            }
        }
    }
}

/// The whole HTTP surface, as `main` serves it. Every request gets an id (echoed in `x-request-id` and in
/// error bodies) that its log lines carry; its body must arrive, and its answer be ready, within the
/// configured limits.
fn app(state: state::AppState) -> Router {
    let settings = state.settings.clone();
    let limits = settings.limits;
    Router::new()
        .route("/health", get(health))
        .merge(api::routes())
        .merge(admin::routes(&settings))
        .merge(widget::routes(&settings))
        .with_state(state)
        .layer(RequestBodyDeadlineLayer::new(limits.body_timeout))
        .layer(middleware::from_fn_with_state(limits.request_timeout, request_deadline))
        .layer(middleware::from_fn(api::scope_request_id))
        .layer(PropagateRequestIdLayer::new(REQUEST_ID))
        .layer(TraceLayer::new_for_http().make_span_with(|request: &Request<_>| {
            let id = request.headers().get(REQUEST_ID).and_then(|v| v.to_str().ok()).unwrap_or("-");
            // The path only: query strings could carry codes or states.
            tracing::info_span!("request", id, method = %request.method(), path = request.uri().path())
        }))
        .layer(SetRequestIdLayer::new(REQUEST_ID, MakeRequestUuid))
}

/// An error and its sources in one line (`outer: cause: root cause`), for logs and admin pages: errors
/// keep their causes as sources and are flattened only here, at the edge.
pub(crate) fn describe(error: &(dyn std::error::Error + 'static)) -> String {
    let mut text = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        let cause_text = cause.to_string();
        // `#[error(transparent)]` and "{0}" wrappers repeat their source: say it once.
        if !text.ends_with(&cause_text) {
            text.push_str(": ");
            text.push_str(&cause_text);
        }
        source = cause.source();
    }
    text
}
