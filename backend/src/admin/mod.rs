//! The admin pages: log in, connect Xero and Zoho, set up the CRM side (widget URL, Connection, API key),
//! read the sync log, and set the organisation's defaults (`settings`, with the audit trail). Server-rendered HTML without scripts; every POST carries the session's CSRF
//! token ([`auth::AdminForm`]). The connections themselves are [`Connections`]' business: handlers here
//! call it and render.
//!
//! HTML is written with `maud` rather than askama: a page is a Rust expression the compiler checks with
//! the handler that fills it (a renamed field fails the build, not a page at run time), every spliced
//! value is escaped by construction, and a shared layout or form is an ordinary function
//! ([`page::layout`], [`page::form`]). It also compiles lighter than a template-file parser.

mod auth;
mod login;
mod page;
mod settings;
mod xero;

use std::sync::Arc;

use axum::Router;
use axum::extract::{FromRef, State};
use axum::http::StatusCode;
use axum::middleware::map_response_with_state;
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{any, get, post};
use chrono::{DateTime, Utc};
use maud::{Markup, html};
use secrecy::ExposeSecret;
use shared::wire::CONNECTION_NAME;

use crate::address::TrustedProxies;
use crate::config::{Mode, Settings};
use crate::connections::{Connections, FieldCheck, Overview, ZOHO_SCOPES, ZohoCodeError};
use crate::defaults::Defaults;
use crate::headers::{self, SecurityHeaders};
use crate::store::{ConnectionStatus, Store, SyncLogEntry, SyncTrigger};
use auth::{Admin, AdminForm};
pub(crate) use login::LoginState;
pub use login::PasswordChecks;
use page::{Failure, button, form, layout, respond};

/// How many sync log rows the dashboard shows.
const LOG_ROWS: u32 = 50;

/// What the admin pages need.
#[derive(Clone)]
pub(crate) struct AdminState {
    pub(crate) settings: Arc<Settings>,
    pub(crate) mode: Mode,
    pub(crate) store: Store,
    pub(crate) connections: Connections,
    pub(crate) defaults: Defaults,
    pub(crate) login: Arc<LoginState>,
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
        .route("/admin", get(dashboard))
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
        .route("/admin/{*unknown}", any(not_found))
        .layer(map_response_with_state(SecurityHeaders::admin(settings), headers::apply))
}

async fn not_found(State(state): State<AdminState>) -> Failure {
    Failure::new(state.mode, StatusCode::NOT_FOUND, "Not found", "There is no such admin page.")
}

fn when(time: DateTime<Utc>) -> String {
    time.format("%Y-%m-%d %H:%M:%S UTC").to_string()
}

fn status(status: ConnectionStatus, reason: Option<&str>) -> Markup {
    match status {
        ConnectionStatus::Connected => html! { span.ok { "connected" } },
        ConnectionStatus::ReconnectNeeded => {
            html! { span.warn { "reconnect needed" } ": " (reason.unwrap_or("no reason recorded")) }
        }
    }
}

/// `GET /admin`
async fn dashboard(State(state): State<AdminState>, admin: Admin) -> Result<Response, Failure> {
    let internal = |e: crate::store::StoreError| Failure::internal(state.mode, &e);
    let overview = state.connections.overview().await.map_err(internal)?;
    let log = state.store.recent_log(LOG_ROWS).await.map_err(internal)?;
    let zoho_connected = overview.zoho.as_ref().is_some_and(|z| z.status == ConnectionStatus::Connected);
    let fields = if zoho_connected { Some(state.connections.check_crm_fields().await) } else { None };
    let csrf = admin.csrf();
    let body = html! {
        (xero_section(csrf, &overview, state.settings.xero_daily_call_limit))
        section aria-labelledby="zoho-h" {
            h2 id="zoho-h" { "Zoho CRM" }
            @match &overview.zoho {
                None => p.warn { "Not connected." },
                Some(z) => p {
                    "Zoho CRM at " code { (z.api_domain) } " (" (status(z.status, z.status_reason.as_deref()))
                    ", since " (when(z.updated_at)) ")."
                },
            }
            @if let Some(check) = &fields { (crm_fields(check)) }
            (form(csrf, "/admin/zoho/code", html! {
                p {
                    label for="zoho-code" { "Self Client code" } br;
                    input type="text" id="zoho-code" name="code" autocomplete="off" required;
                    " "
                    button type="submit" { "Connect Zoho" }
                }
                p.muted {
                    "In Zoho's API Console → Self Client → Generate Code, with the scopes "
                    code { (ZOHO_SCOPES.join(",")) }
                    "; paste it within its few minutes. Only do this when needed: each code exchanged uses one of the "
                    "user's 20 refresh tokens."
                }
            }))
        }
        section aria-labelledby="crm-h" {
            h2 id="crm-h" { "CRM set-up" }
            p { "Widget URL: " code { (state.settings.widget_url()) } }
            p {
                "CRM Connection name: " code { (CONNECTION_NAME) } ", authenticated with the header "
                code { "X-Api-Key" } "."
            }
            @if overview.has_api_key {
                p {
                    "An API key is set. It is never shown again; rotate it if it is lost (the old one then stops "
                    "working)."
                }
            } @else {
                p.warn { "No API key yet: the CRM Connection cannot call the service." }
            }
            @let label = if overview.has_api_key { "Rotate API key" } else { "Create API key" };
            p { (button(csrf, "/admin/api-key", label)) }
        }
        section aria-labelledby="log-h" {
            h2 id="log-h" { "Recent syncs" }
            (log_table(&log))
        }
    };
    Ok(respond(StatusCode::OK, layout(state.mode, "Dashboard", Some(csrf), body)))
}

fn xero_section(csrf: &str, overview: &Overview, daily_limit: u32) -> Markup {
    html! {
        section aria-labelledby="xero-h" {
            h2 id="xero-h" { "Xero" }
            @match &overview.xero {
                None => p.warn { "Not connected." },
                Some(c) => {
                    p {
                        "Organisation: " strong { (xero::display_name(&c.tenant_name)) } " ("
                        (status(c.status, c.status_reason.as_deref())) ", since " (when(c.updated_at)) ")."
                    }
                    p.muted {
                        @match overview.xero_limits {
                            Some(l) => {
                                "Calls left today: " (count(l.day_remaining)) " of " (l.day_limit)
                                @if let Some(at) = l.day_resets_at { " (the day resets at " (when(at)) ")" }
                                "; this minute: " (count(l.minute_remaining)) "."
                            }
                            None => {
                                "Calls left today: up to " (daily_limit) " (" code { "XERO_DAILY_CALL_LIMIT" }
                                "); counted from the first call to this organisation."
                            }
                        }
                    }
                }
            }
            @if overview.choosing {
                p.warn { a href="/admin/xero/tenant" { "Choose the organisation" } " of the last consent." }
            }
            p {
                @if overview.xero.is_none() {
                    (button(csrf, "/admin/xero/connect", "Connect Xero"))
                } @else {
                    (button(csrf, "/admin/xero/connect", "Reconnect Xero")) " "
                    (button(csrf, "/admin/xero/disconnect", "Disconnect Xero"))
                }
            }
        }
    }
}

fn count(n: Option<u32>) -> String {
    n.map_or_else(|| "unknown".to_owned(), |n| n.to_string())
}

fn crm_fields(check: &FieldCheck) -> Markup {
    let unchecked = "The CRM's product fields could not be checked: ";
    match check {
        FieldCheck::Checked(fields) => html! {
            h3 { "CRM fields" }
            ul.fields {
                @for field in fields {
                    @if field.present {
                        li { span.ok { "✓" } " " (field.label) ": " code { (field.api_name) } }
                    } @else {
                        li {
                            span.warn {
                                "✗ " (field.label) ": the CRM has no Products field " code { (field.api_name) }
                            }
                            ". Create it, or set " code { (field.variable) } " to its API name."
                        }
                    }
                }
            }
        },
        FieldCheck::ScopeMissing => html! {
            p.warn {
                (unchecked) "the Zoho grant lacks the scope " code { "ZohoCRM.settings.fields.READ" }
                " (syncing does not need it). To check them, connect Zoho with a code generated with the scopes "
                code { (ZOHO_SCOPES.join(",")) } "."
            }
        },
        FieldCheck::Failed(error) => html! { p.warn { (unchecked) (error) } },
        FieldCheck::TimedOut => html! { p.warn { (unchecked) "Zoho did not answer in time." } },
    }
}

fn log_table(entries: &[SyncLogEntry]) -> Markup {
    if entries.is_empty() {
        return html! { p { "No syncs yet." } };
    }
    html! {
        table {
            thead {
                tr {
                    @for heading in ["When", "Product", "Who", "Trigger", "Outcome", "Xero item", "Message"] {
                        th scope="col" { (heading) }
                    }
                }
            }
            tbody {
                @for e in entries {
                    // The product's name is in what was sent to Xero; the id always is.
                    @let name = e.request.as_ref().and_then(|r| r.get("Name")).and_then(|n| n.as_str());
                    tr {
                        td { (when(e.started_at)) }
                        td {
                            @if let Some(name) = name {
                                (name) br; span.muted { (e.product_id) }
                            } @else {
                                (e.product_id)
                            }
                        }
                        td {
                            (e.actor)
                            // The widget's user is the CRM's word, sent with the CRM Connection's key.
                            @if e.trigger == SyncTrigger::Widget { br; span.muted { "reported by the CRM" } }
                        }
                        td { (e.trigger.as_str()) }
                        td { (e.outcome.as_str()) }
                        td { (e.item_id.as_deref().unwrap_or("")) }
                        td { (e.messages.first().map_or("", String::as_str)) }
                    }
                }
            }
        }
    }
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
