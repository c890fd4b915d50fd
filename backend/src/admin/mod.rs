//! The admin pages: log in, connect Xero and Zoho, set up the CRM side (widget URL, Connection, API key),
//! and read the sync log. Server-rendered HTML without scripts; every POST carries the session's CSRF
//! token ([`auth::AdminForm`]).

mod auth;
mod login;
mod page;
mod xero;

use std::sync::Arc;
use std::time::Duration;

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use axum::{Extension, Router};
use secrecy::ExposeSecret;

pub use auth::{AdminForm, AdminSession};

use crate::api::AppState;
use crate::store::{ConnectionStatus, SyncLogEntry};
use crate::zoho::ZohoError;
use page::{Failure, layout, respond};

/// How long the dashboard waits for Zoho's field list.
const CRM_FIELDS_TIMEOUT: Duration = Duration::from_secs(5);

/// Scopes to tick when generating a Zoho Self Client code.
const ZOHO_SCOPES: &str = "ZohoCRM.modules.products.ALL,ZohoCRM.settings.fields.READ";
/// How many sync log rows the dashboard shows.
const LOG_ROWS: u32 = 50;

/// `/admin/...`
pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/admin", get(dashboard))
        .route("/admin/login", get(login::show).post(login::submit))
        .route("/admin/logout", post(login::logout))
        .route("/admin/xero/connect", post(xero::connect))
        .route("/admin/xero/callback", get(xero::callback))
        .route("/admin/xero/tenant", get(xero::choose_page).post(xero::choose))
        .route("/admin/xero/disconnect", post(xero::disconnect))
        .route("/admin/zoho/code", post(zoho_code))
        .route("/admin/api-key", post(rotate_api_key))
        .layer(Extension(Arc::new(login::LoginState::default())))
}

fn when(time: chrono::DateTime<chrono::Utc>) -> String {
    time.format("%Y-%m-%d %H:%M:%S UTC").to_string()
}

/// A button that POSTs a form carrying the CSRF token.
fn button(csrf: &str, action: &str, label: &str) -> String {
    format!(
        r#"<form class="inline" method="post" action="{}"><input type="hidden" name="csrf" value="{}"><button type="submit">{}</button></form>"#,
        page::escape(action),
        page::escape(csrf),
        page::escape(label)
    )
}

/// `GET /admin`
async fn dashboard(State(state): State<AppState>, admin: AdminSession) -> Result<Response, Failure> {
    let internal = |e| Failure::internal(&state, e);
    let csrf = admin.csrf();
    let xero = state.store.xero_connection().await.map_err(internal)?;
    let pending = state.store.pending_tenants().await.map_err(internal)?;
    let zoho = state.store.zoho_connection().await.map_err(internal)?;
    let has_key = state.store.api_key_hash().await.map_err(internal)?.is_some();
    let log = state.store.recent_log(LOG_ROWS).await.map_err(internal)?;

    let xero_status = match &xero {
        None => "<p class=\"warn\">Not connected.</p>".to_owned(),
        Some(c) => {
            let status = match c.status {
                ConnectionStatus::Connected => "<span class=\"ok\">connected</span>".to_owned(),
                ConnectionStatus::ReconnectNeeded => format!(
                    "<span class=\"warn\">reconnect needed</span>: {}",
                    page::escape(c.status_reason.as_deref().unwrap_or("no reason recorded"))
                ),
            };
            let limits = match state.xero.limits(&c.tenant_id) {
                Some(l) => {
                    let count = |n: Option<u32>| n.map_or_else(|| "unknown".to_owned(), |n| n.to_string());
                    format!("Calls left today: {}; this minute: {}.", count(l.day_remaining), count(l.minute_remaining))
                }
                None => "Calls left: known after the first call to this organisation.".to_owned(),
            };
            format!(
                "<p>Organisation: <strong>{}</strong> ({status}, since {}).</p><p class=\"muted\">{limits}</p>",
                page::escape(xero::display_name(&c.tenant_name)),
                page::escape(&when(c.updated_at))
            )
        }
    };
    let choose = if pending.is_empty() {
        String::new()
    } else {
        "<p class=\"warn\"><a href=\"/admin/xero/tenant\">Choose the organisation</a> of the last consent.</p>"
            .to_owned()
    };
    let xero_buttons = match &xero {
        None => button(csrf, "/admin/xero/connect", "Connect Xero"),
        Some(_) => format!(
            "{} {}",
            button(csrf, "/admin/xero/connect", "Reconnect Xero"),
            button(csrf, "/admin/xero/disconnect", "Disconnect Xero")
        ),
    };

    let zoho_status = match &zoho {
        None => "<p class=\"warn\">Not connected.</p>".to_owned(),
        Some(z) => {
            let status = match z.status {
                ConnectionStatus::Connected => "<span class=\"ok\">connected</span>".to_owned(),
                ConnectionStatus::ReconnectNeeded => format!(
                    "<span class=\"warn\">reconnect needed</span>: {}",
                    page::escape(z.status_reason.as_deref().unwrap_or("no reason recorded"))
                ),
            };
            format!(
                "<p>Zoho CRM at <code>{}</code> ({status}, since {}).</p>",
                page::escape(&z.api_domain),
                page::escape(&when(z.updated_at))
            )
        }
    };

    let crm_fields = match &zoho {
        Some(z) if z.status == ConnectionStatus::Connected => crm_fields_check(&state).await,
        _ => String::new(),
    };

    let key_status = if has_key {
        "<p>An API key is set. It is never shown again; rotate it if it is lost (the old one then stops working).</p>"
    } else {
        "<p class=\"warn\">No API key yet: the CRM Connection cannot call the service.</p>"
    };

    let body = format!(
        r#"<section aria-labelledby="xero-h"><h2 id="xero-h">Xero</h2>{xero_status}{choose}<p>{xero_buttons}</p></section>
<section aria-labelledby="zoho-h"><h2 id="zoho-h">Zoho CRM</h2>{zoho_status}{crm_fields}
<form method="post" action="/admin/zoho/code"><input type="hidden" name="csrf" value="{csrf}">
<p><label for="zoho-code">Self Client code</label><br><input type="text" id="zoho-code" name="code" autocomplete="off" required>
<button type="submit">Connect Zoho</button></p>
<p class="muted">In Zoho's API Console → Self Client → Generate Code, with the scopes <code>{scopes}</code>; paste it within its few minutes. Only do this when needed: each code exchanged uses one of the user's 20 refresh tokens.</p></form></section>
<section aria-labelledby="crm-h"><h2 id="crm-h">CRM set-up</h2>
<p>Widget URL: <code>{widget}</code></p>
<p>CRM Connection name: <code>{connection}</code>, authenticated with the header <code>X-Api-Key</code>.</p>
{key_status}<p>{key_button}</p></section>
<section aria-labelledby="log-h"><h2 id="log-h">Recent syncs</h2>{log}</section>"#,
        csrf = page::escape(csrf),
        scopes = page::escape(ZOHO_SCOPES),
        widget = page::escape(&state.settings.widget_url()),
        connection = page::escape(crate::server::CONNECTION_NAME),
        key_button = button(csrf, "/admin/api-key", if has_key { "Rotate API key" } else { "Create API key" }),
        log = log_table(&log),
    );
    Ok(respond(StatusCode::OK, layout(state.sandbox.is_some(), "Dashboard", Some(csrf), &body)))
}

fn log_table(entries: &[SyncLogEntry]) -> String {
    if entries.is_empty() {
        return "<p>No syncs yet.</p>".to_owned();
    }
    let rows: String = entries
        .iter()
        .map(|e| {
            // The product's name is in what was sent to Xero; the id always is.
            let name = e.request.as_ref().and_then(|r| r.get("Name")).and_then(|n| n.as_str());
            let product = match name {
                Some(name) => {
                    format!("{}<br><span class=\"muted\">{}</span>", page::escape(name), page::escape(&e.product_id))
                }
                None => page::escape(&e.product_id),
            };
            format!(
                "<tr><td>{}</td><td>{product}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
                page::escape(&when(e.started_at)),
                page::escape(&e.actor),
                page::escape(e.trigger.as_str()),
                page::escape(e.outcome.as_str()),
                page::escape(e.item_id.as_deref().unwrap_or("")),
                page::escape(e.messages.first().map_or("", String::as_str)),
            )
        })
        .collect();
    format!(
        "<table><thead><tr><th scope=\"col\">When</th><th scope=\"col\">Product</th><th scope=\"col\">Who</th><th scope=\"col\">Trigger</th><th scope=\"col\">Outcome</th><th scope=\"col\">Xero item</th><th scope=\"col\">Message</th></tr></thead><tbody>{rows}</tbody></table>"
    )
}

/// Whether the CRM has the custom fields the sync is configured to use: a missing one (often renamed by an
/// admin) would otherwise show up only as products failing to sync.
async fn crm_fields_check(state: &AppState) -> String {
    // One quick try: a slow or refusing Zoho must not hold up the dashboard.
    let zoho = state.zoho.clone().with_retries(0, Duration::ZERO);
    let answer = tokio::time::timeout(CRM_FIELDS_TIMEOUT, zoho.product_field_names()).await;
    let names = match answer {
        Ok(Ok(names)) => names,
        Ok(Err(ZohoError::Unexpected { code, .. })) if code == "OAUTH_SCOPE_MISMATCH" => {
            return format!(
                r#"<p class="warn">The CRM's product fields could not be checked: the Zoho grant lacks the scope <code>ZohoCRM.settings.fields.READ</code> (syncing does not need it). To check them, connect Zoho with a code generated with the scopes <code>{ZOHO_SCOPES}</code>.</p>"#
            );
        }
        Ok(Err(e)) => {
            return format!(
                r#"<p class="warn">The CRM's product fields could not be checked: {}</p>"#,
                page::escape(&e.to_string())
            );
        }
        Err(_) => {
            return r#"<p class="warn">The CRM's product fields could not be checked: Zoho did not answer in time.</p>"#
                .to_owned();
        }
    };
    let rows: String = state
        .settings
        .fields
        .custom_fields()
        .into_iter()
        .zip(crate::config::FIELD_VARIABLES)
        .map(|((label, name), variable)| {
            if names.iter().any(|n| n == name) {
                format!("<li><span class=\"ok\">✓</span> {label}: <code>{}</code></li>", page::escape(name))
            } else {
                format!(
                    "<li><span class=\"warn\">✗ {label}: the CRM has no Products field <code>{}</code></span>. Create it, or set <code>{variable}</code> to its API name.</li>",
                    page::escape(name)
                )
            }
        })
        .collect();
    format!("<h3>CRM fields</h3><ul class=\"fields\">{rows}</ul>")
}

/// `POST /admin/zoho/code`: exchanges a Self Client code for the grant the service keeps.
async fn zoho_code(State(state): State<AppState>, form: AdminForm) -> Result<Response, Failure> {
    let code = form.field("code").unwrap_or_default().trim();
    // Zoho codes are short tokens like `1000.abc….def…`.
    if code.is_empty() || code.len() > 512 || !code.bytes().all(|b| b.is_ascii_graphic()) {
        return Err(Failure::new(
            &state,
            StatusCode::BAD_REQUEST,
            "Zoho not connected",
            "Paste the code exactly as Zoho's API Console shows it.",
        ));
    }
    if let Err(e) = state.zoho.exchange_self_client_code(code).await {
        return Err(Failure::new(
            &state,
            StatusCode::BAD_GATEWAY,
            "Zoho not connected",
            format!(
                "Zoho did not accept the code ({e}). Codes expire within minutes: generate a new one and paste it."
            ),
        ));
    }
    tracing::info!("zoho connected with a self client code");
    Ok(Redirect::to("/admin").into_response())
}

/// `POST /admin/api-key`: a new API key for the CRM Connection, shown on this response only. The old key
/// stops working at once.
async fn rotate_api_key(State(state): State<AppState>, form: AdminForm) -> Result<Response, Failure> {
    let key = crate::server::new_api_key();
    let hash = crate::api::session::api_key_hash(key.expose_secret());
    state.store.set_api_key_hash(&hash).await.map_err(|e| Failure::internal(&state, e))?;
    tracing::info!("widget api key rotated");
    // The emulated CRM plays Zoho's part: its Connection gets the new key, as an admin would paste it.
    let sandbox_note = match &state.sandbox {
        Some(crm) => {
            crm.set_connection(crate::server::CONNECTION_NAME, &state.settings.public_url, key.expose_secret());
            "<p>Sandbox mode: the emulated CRM's Connection now presents this key.</p>"
        }
        None => "",
    };
    let body = format!(
        r#"<p>The new API key (shown <strong>only on this page</strong>; the previous key no longer works):</p>
<p class="key" id="api-key">{}</p>{sandbox_note}
<p>In Zoho CRM, open the Connection <code>{}</code> and set the header <code>X-Api-Key</code> to this key.</p>
<p><a href="/admin">Back to the dashboard</a></p>"#,
        page::escape(key.expose_secret()),
        page::escape(crate::server::CONNECTION_NAME),
    );
    Ok(respond(StatusCode::OK, layout(state.sandbox.is_some(), "New API key", Some(form.admin.csrf()), &body)))
}
