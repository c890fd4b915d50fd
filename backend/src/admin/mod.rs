//! The admin pages: log in; the dashboard (set-up checklist, today's syncs, connections: connect Xero and
//! Zoho, set up the CRM side); the sync log with each product's history and a CSV export; the catalogue's
//! readiness; and the organisation's defaults (`settings`, with the audit trail). Server-rendered HTML
//! without scripts; every POST carries the session's CSRF
//! token ([`auth::AdminForm`]). The connections themselves are [`Connections`]' business: handlers here
//! call it and render.
//!
//! HTML is written with `maud` rather than askama: a page is a Rust expression the compiler checks with
//! the handler that fills it (a renamed field fails the build, not a page at run time), every spliced
//! value is escaped by construction, and a shared layout or form is an ordinary function
//! ([`page::layout`], [`page::form`]). It also compiles lighter than a template-file parser.

mod auth;
mod dashboard;
mod log;
mod login;
mod page;
mod readiness;
mod runs;
mod settings;
mod xero;

use std::sync::Arc;

use axum::Router;
use axum::extract::{FromRef, State};
use axum::http::StatusCode;
use axum::middleware::map_response_with_state;
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{any, get, post};
use maud::html;
use secrecy::ExposeSecret;
use shared::wire::CONNECTION_NAME;

use crate::address::TrustedProxies;
use crate::config::{Mode, Settings};
use crate::connections::{Connections, ZohoCodeError};
use crate::defaults::Defaults;
use crate::headers::{self, SecurityHeaders};
use crate::readiness::Readiness;
use crate::store::Store;
use auth::AdminForm;
pub(crate) use login::LoginState;
pub use login::PasswordChecks;
use page::{Failure, layout, respond};

/// What the admin pages need.
#[derive(Clone)]
pub(crate) struct AdminState {
    pub(crate) settings: Arc<Settings>,
    pub(crate) mode: Mode,
    pub(crate) store: Store,
    pub(crate) connections: Connections,
    pub(crate) defaults: Defaults,
    pub(crate) login: Arc<LoginState>,
    pub(crate) readiness: Readiness,
    pub(crate) runs: crate::runs::Runs,
    pub(crate) retention: crate::background::LogRetention,
    pub(crate) fields: crate::field_names::FieldNames,
}

/// `/admin/...`, and `/` sending a browser there, for any state holding an [`AdminState`]. Every response,
/// a redirect's or a 404's included, carries the admin pages' security headers.
pub(crate) fn routes<S>(settings: &Settings) -> Router<S>
where
    S: Clone + Send + Sync + 'static,
    AdminState: FromRef<S>,
    TrustedProxies: FromRef<S>,
{
    Router::new()
        .route("/", get(|| async { Redirect::to("/admin") }))
        .route("/admin", get(dashboard::page))
        .route("/admin/log", get(log::page))
        .route("/admin/log.csv", get(log::csv))
        .route("/admin/products/{id}", get(log::product))
        .route("/admin/readiness", get(readiness::page).post(readiness::check))
        .route(page::STYLESHEET_PATH, get(page::stylesheet))
        .route("/admin/login", get(login::show).post(login::submit))
        .route("/admin/logout", post(login::logout))
        .route("/admin/xero/connect", post(xero::connect))
        .route("/admin/xero/callback", get(xero::callback))
        .route("/admin/xero/tenant", get(xero::choose_page).post(xero::choose))
        .route("/admin/xero/disconnect", post(xero::disconnect))
        .route("/admin/zoho/code", post(zoho_code))
        .route("/admin/api-key", post(rotate_api_key))
        .route("/admin/settings", get(settings::show).post(settings::save))
        .route("/admin/settings/runs", post(settings::save_runs))
        .route("/admin/settings/log", post(settings::save_log))
        .route("/admin/settings/fields", post(settings::save_fields))
        .route("/admin/sync", get(runs::sync_page).post(runs::start))
        .route("/admin/sync/schedule", post(runs::schedule))
        .route("/admin/runs", get(runs::list))
        .route("/admin/runs/{id}", get(runs::run_page))
        .route("/admin/runs/{id}/events", get(runs::events))
        .route("/admin/runs/{id}/cancel", post(runs::cancel))
        .route("/admin/runs/{id}/resume", post(runs::resume))
        .route("/admin/runs/{id}/retry", post(runs::retry))
        .route(runs::SCRIPT_PATH, get(runs::script))
        .route("/admin/{*unknown}", any(not_found))
        .layer(map_response_with_state(SecurityHeaders::admin(settings), headers::apply))
}

async fn not_found(State(state): State<AdminState>) -> Failure {
    Failure::new(state.mode, StatusCode::NOT_FOUND, "Not found", "There is no such admin page.")
}

/// `POST /admin/zoho/code`: exchanges a Self Client code for the grant the service keeps.
async fn zoho_code(State(state): State<AdminState>, form: AdminForm) -> Result<Response, Failure> {
    match state.connections.connect_zoho(form.field("code").unwrap_or_default()).await {
        Ok(()) => Ok(Redirect::to("/admin").into_response()),
        Err(ZohoCodeError::Malformed) => Err(Failure::new(
            state.mode,
            StatusCode::BAD_REQUEST,
            "Zoho not connected",
            "Paste the code exactly as Zoho's API Console shows it.",
        )),
        Err(ZohoCodeError::Refused(error)) => Err(Failure::new(
            state.mode,
            StatusCode::BAD_GATEWAY,
            "Zoho not connected",
            format!(
                "Zoho did not accept the code ({error}). Codes expire within minutes: generate a new one and paste it."
            ),
        )),
    }
}

/// `POST /admin/api-key`: a new API key for the CRM Connection, shown on this response only. The old key
/// stops working at once.
async fn rotate_api_key(State(state): State<AdminState>, form: AdminForm) -> Result<Response, Failure> {
    let rotated = state.connections.rotate_api_key().await.map_err(|e| Failure::internal(state.mode, &e))?;
    let body = html! {
        p { "The new API key (shown " strong { "only on this page" } "; the previous key no longer works):" }
        p.key id="api-key" { (rotated.key.expose_secret()) }
        @if rotated.forwarded {
            p { "Sandbox mode: the emulated CRM's Connection now presents this key." }
        }
        p {
            "In Zoho CRM, open the Connection " code { (CONNECTION_NAME) } " and set the header "
            code { "X-Api-Key" } " to this key."
        }
        p { a href="/admin" { "Back to the dashboard" } }
    };
    Ok(respond(StatusCode::OK, layout(state.mode, "New API key", Some(form.admin.csrf()), body)))
}
