//! Connecting Xero (reference xero-api.md §10): authorization code with PKCE, the `state` kept server-side
//! and single-use, then the organisation to sync to, chosen by the admin when the consent reached several.

use axum::extract::{Query, RawQuery, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use chrono::{TimeDelta, Utc};
use serde::Deserialize;

use super::auth::{AdminForm, AdminSession, LOGIN_PATH};
use super::page::{Failure, escape, layout, respond};
use crate::api::AppState;
use crate::store::{ConnectionStatus, PendingTenant, XeroConnection};
use crate::xero::{Tenant, pkce_pair};

/// How long the admin has to consent at Xero.
const STATE_TTL: TimeDelta = TimeDelta::minutes(10);

/// `POST /admin/xero/connect`: off to Xero's consent page.
pub async fn connect(State(state): State<AppState>, _form: AdminForm) -> Result<Response, Failure> {
    let (verifier, challenge) = pkce_pair();
    let oauth_state = URL_SAFE_NO_PAD.encode(rand::random::<[u8; 32]>());
    state.store.save_oauth_state(&oauth_state, &verifier, STATE_TTL).await.map_err(|e| Failure::internal(&state, e))?;
    let scopes: Vec<&str> = state.settings.xero_scopes.split_whitespace().collect();
    let url = state.xero.authorize_url(&state.settings.xero_redirect_uri(), &oauth_state, &challenge, &scopes);
    Ok(Redirect::to(&url).into_response())
}

#[derive(Debug, Deserialize)]
pub struct Callback {
    code: Option<String>,
    state: Option<String>,
    error: Option<String>,
    /// Set on our own second pass; see [`callback`].
    resume: Option<String>,
}

/// `GET /admin/xero/callback`: Xero sends the admin back here with a code (or an error).
///
/// The arrival is a cross-site navigation, on which browsers withhold the `SameSite=Strict` session
/// cookie. So a request without a session gets a page that reloads the same URL from our own origin, which
/// carries the cookie; only if that second pass has no session either does the admin have to log in.
pub async fn callback(
    State(state): State<AppState>,
    headers: HeaderMap,
    RawQuery(raw): RawQuery,
    query: Result<Query<Callback>, axum::extract::rejection::QueryRejection>,
) -> Result<Response, Failure> {
    let bad = |message: &str| Failure::new(&state, StatusCode::BAD_REQUEST, "Xero connection failed", message);
    let Ok(Query(query)) = query else {
        return Err(bad("Xero's answer could not be read. Start again from the dashboard."));
    };
    let Some(admin) = AdminSession::from_headers(&state, &headers).await? else {
        if query.resume.is_some() {
            return Ok(Redirect::to(LOGIN_PATH).into_response());
        }
        return Ok(resume_page(&state, raw.as_deref().unwrap_or_default()));
    };
    let csrf = Some(admin.csrf());
    let Some(oauth_state) = query.state.filter(|s| !s.is_empty()) else {
        return Err(bad("Xero's answer had no state. Start again from the dashboard."));
    };
    // Taken (and so spent) whatever the outcome: a state is good for one answer.
    let verifier = state.store.take_oauth_state(&oauth_state).await.map_err(|e| Failure::internal(&state, e))?;
    if let Some(error) = query.error {
        let message = if error == "access_denied" {
            "You cancelled at Xero, so nothing changed.".to_owned()
        } else {
            format!("Xero answered with the error “{error}”. Nothing changed; try again from the dashboard.")
        };
        let body =
            format!(r#"<p role="alert">{}</p><p><a href="/admin">Back to the dashboard</a></p>"#, escape(&message));
        return Ok(respond(StatusCode::OK, layout(state.sandbox.is_some(), "Xero not connected", csrf, &body)));
    }
    let Some(verifier) = verifier else {
        return Err(bad("This Xero answer is unknown, expired or already used. Start again from the dashboard."));
    };
    let Some(code) = query.code.filter(|c| !c.is_empty()) else {
        return Err(bad("Xero's answer had no authorization code. Start again from the dashboard."));
    };
    let upstream = |e: crate::xero::XeroError| {
        Failure::new(
            &state,
            StatusCode::BAD_GATEWAY,
            "Xero connection failed",
            format!("{e}. Try again from the dashboard."),
        )
    };
    state.xero.exchange_code(&code, &state.settings.xero_redirect_uri(), Some(&verifier)).await.map_err(upstream)?;
    let tenants: Vec<PendingTenant> =
        state.xero.connections().await.map_err(upstream)?.into_iter().map(pending).collect();
    match tenants.as_slice() {
        [] => Err(Failure::new(
            &state,
            StatusCode::BAD_GATEWAY,
            "Xero connection failed",
            "Xero connected no organisation. Connect again and tick one on Xero's page.",
        )),
        [only] => {
            save(&state, only).await?;
            Ok(Redirect::to("/admin").into_response())
        }
        several => {
            state.store.save_pending_tenants(several).await.map_err(|e| Failure::internal(&state, e))?;
            Ok(Redirect::to("/admin/xero/tenant").into_response())
        }
    }
}

fn pending(tenant: Tenant) -> PendingTenant {
    PendingTenant {
        tenant_id: tenant.tenant_id,
        tenant_name: tenant.tenant_name.unwrap_or_default(),
        connection_id: tenant.connection_id,
    }
}

/// Makes `tenant` the organisation to sync to (replacing any other, clearing "reconnect needed").
async fn save(state: &AppState, tenant: &PendingTenant) -> Result<(), Failure> {
    let connection = XeroConnection {
        tenant_id: tenant.tenant_id.clone(),
        tenant_name: tenant.tenant_name.clone(),
        connection_id: tenant.connection_id.clone(),
        status: ConnectionStatus::Connected,
        status_reason: None,
        updated_at: Utc::now(),
    };
    state.store.save_xero_connection(&connection).await.map_err(|e| Failure::internal(state, e))?;
    state.store.save_pending_tenants(&[]).await.map_err(|e| Failure::internal(state, e))?;
    tracing::info!(tenant_id = %tenant.tenant_id, "xero organisation connected");
    Ok(())
}

fn resume_page(state: &AppState, raw_query: &str) -> Response {
    let target = format!("/admin/xero/callback?{raw_query}&resume=1");
    let body = format!(
        r#"<p>Finishing the Xero connection… <a href="{0}" id="continue">Continue</a></p>
<meta http-equiv="refresh" content="0; url={0}">"#,
        escape(&target)
    );
    respond(StatusCode::OK, layout(state.sandbox.is_some(), "Connecting Xero", None, &body))
}

/// `GET /admin/xero/tenant`: which organisation to sync to, after a consent that reached several.
pub async fn choose_page(State(state): State<AppState>, admin: AdminSession) -> Result<Response, Failure> {
    let tenants = state.store.pending_tenants().await.map_err(|e| Failure::internal(&state, e))?;
    if tenants.is_empty() {
        return Ok(Redirect::to("/admin").into_response());
    }
    let options: String = tenants
        .iter()
        .enumerate()
        .map(|(i, t)| {
            format!(
                r#"<p><input type="radio" name="tenant" id="tenant{i}" value="{}" required{}> <label for="tenant{i}">{}</label></p>"#,
                escape(&t.tenant_id),
                if i == 0 { " checked" } else { "" },
                escape(display_name(&t.tenant_name)),
            )
        })
        .collect();
    let body = format!(
        r#"<p>Xero connected several organisations. Which one should products be synced to? The others are
disconnected from xero-sync, so it keeps no access it does not use.</p>
<form method="post" action="/admin/xero/tenant"><input type="hidden" name="csrf" value="{}">
<fieldset><legend>Organisation</legend>{options}</fieldset>
<p><button type="submit">Use this organisation</button></p></form>"#,
        escape(admin.csrf())
    );
    Ok(respond(
        StatusCode::OK,
        layout(state.sandbox.is_some(), "Choose the Xero organisation", Some(admin.csrf()), &body),
    ))
}

/// `POST /admin/xero/tenant`
pub async fn choose(State(state): State<AppState>, form: AdminForm) -> Result<Response, Failure> {
    let tenants = state.store.pending_tenants().await.map_err(|e| Failure::internal(&state, e))?;
    let chosen = form.field("tenant").and_then(|id| tenants.iter().find(|t| t.tenant_id == id));
    let Some(tenant) = chosen else {
        return Err(Failure::new(
            &state,
            StatusCode::BAD_REQUEST,
            "Organisation not available",
            "That organisation is not one the last Xero consent offered. Connect Xero again.",
        ));
    };
    save(&state, tenant).await?;
    // `/connections` lists every organisation this user connected to the app; xero-sync keeps no access it
    // does not use. A connection is removed once, and never the chosen one's.
    let mut others: Vec<&PendingTenant> = tenants.iter().filter(|t| t.connection_id != tenant.connection_id).collect();
    others.dedup_by(|a, b| a.connection_id == b.connection_id);
    let mut failed = Vec::new();
    for other in others {
        match state.xero.disconnect(&other.connection_id).await {
            Ok(()) => tracing::info!(tenant_id = %other.tenant_id, "unused xero organisation disconnected"),
            Err(e) => {
                tracing::warn!(tenant_id = %other.tenant_id, error = %e, "could not disconnect an unused xero organisation");
                failed.push(format!("{} ({e})", display_name(&other.tenant_name)));
            }
        }
    }
    if failed.is_empty() {
        return Ok(Redirect::to("/admin").into_response());
    }
    let items: String = failed.iter().map(|f| format!("<li>{}</li>", escape(f))).collect();
    let body = format!(
        r#"<p>Products will sync to <strong>{}</strong>.</p>
<p role="alert">Xero did not confirm disconnecting these organisations from xero-sync:</p><ul>{items}</ul>
<p>Remove them under <em>Connected Apps</em> in Xero's settings, or connect again and choose once more.</p>
<p><a href="/admin">Back to the dashboard</a></p>"#,
        escape(display_name(&tenant.tenant_name))
    );
    Ok(respond(StatusCode::OK, layout(state.sandbox.is_some(), "Xero connected", Some(form.admin.csrf()), &body)))
}

/// `POST /admin/xero/disconnect`: removes the connection at Xero, then forgets it and the tokens here. A
/// failure at Xero does not keep the tokens: the admin asked for them to go.
pub async fn disconnect(State(state): State<AppState>, form: AdminForm) -> Result<Response, Failure> {
    let internal = |e| Failure::internal(&state, e);
    let connection = state.store.xero_connection().await.map_err(internal)?;
    let at_xero = match &connection {
        Some(c) => state.xero.disconnect(&c.connection_id).await,
        None => Ok(()),
    };
    state.store.delete_xero_connection().await.map_err(internal)?;
    state.store.save_pending_tenants(&[]).await.map_err(internal)?;
    state.store.clear_xero_tokens().await.map_err(internal)?;
    tracing::info!("xero disconnected");
    match at_xero {
        Ok(()) => Ok(Redirect::to("/admin").into_response()),
        Err(e) => {
            let body = format!(
                r#"<p role="alert">The Xero connection and its tokens are removed here, but Xero did not confirm the removal on its side ({}).</p>
<p>To be sure, remove the app under <em>Connected Apps</em> in Xero's settings.</p><p><a href="/admin">Back to the dashboard</a></p>"#,
                escape(&e.to_string())
            );
            Ok(respond(
                StatusCode::OK,
                layout(state.sandbox.is_some(), "Xero disconnected", Some(form.admin.csrf()), &body),
            ))
        }
    }
}

/// What to show for a tenant whose name Xero left out.
pub fn display_name(name: &str) -> &str {
    if name.trim().is_empty() { "(unnamed organisation)" } else { name }
}
