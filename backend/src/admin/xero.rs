//! Connecting Xero (`../shared/reference/xero-api.md` §10): the pages around [`Connections`]' consent,
//! organisation choice and disconnect.

use axum::extract::{Query, RawQuery, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};
use maud::html;
use serde::Deserialize;

use super::AdminState;
use super::auth::{Admin, AdminForm, LOGIN_PATH};
use super::page::{Failure, form, layout, respond};
use crate::connections::{ChoiceError, ConsentError, Consented, XeroAnswer};

/// `POST /admin/xero/connect`: off to Xero's consent page.
pub(super) async fn connect(State(state): State<AdminState>, _form: AdminForm) -> Result<Response, Failure> {
    match state.connections.begin_xero_consent().await {
        Ok(url) => Ok(Redirect::to(&url).into_response()),
        Err(error) => Err(Failure::internal(state.mode, &error)),
    }
}

#[derive(Debug, Deserialize)]
pub(super) struct Callback {
    #[serde(flatten)]
    answer: XeroAnswer,
    /// Set on our own second pass; see [`callback`].
    resume: Option<String>,
}

/// `GET /admin/xero/callback`: Xero sends the admin back here with a code (or an error).
///
/// The arrival is a cross-site navigation, on which browsers withhold the `SameSite=Strict` session
/// cookie. So a request without a session gets a page that reloads the same URL from our own origin, which
/// carries the cookie; only if that second pass has no session either does the admin have to log in.
pub(super) async fn callback(
    State(state): State<AdminState>,
    headers: HeaderMap,
    RawQuery(raw): RawQuery,
    query: Result<Query<Callback>, axum::extract::rejection::QueryRejection>,
) -> Result<Response, Failure> {
    let mode = state.mode;
    let bad = |message: &str| Failure::new(mode, StatusCode::BAD_REQUEST, "Xero connection failed", message);
    let Ok(Query(query)) = query else {
        return Err(bad("Xero's answer could not be read. Start again from the dashboard."));
    };
    let Some(admin) = Admin::from_headers(&state, &headers).await? else {
        if query.resume.is_some() {
            return Ok(Redirect::to(LOGIN_PATH).into_response());
        }
        return Ok(resume_page(&state, raw.as_deref().unwrap_or_default()));
    };
    let again = "Start again from the dashboard.";
    match state.connections.finish_xero_consent(query.answer).await {
        Ok(Consented::Connected(_)) => Ok(Redirect::to("/admin").into_response()),
        Ok(Consented::ChooseAmong(_)) => Ok(Redirect::to("/admin/xero/tenant").into_response()),
        Err(error @ (ConsentError::Cancelled | ConsentError::Refused(_))) => {
            let message = match error {
                ConsentError::Cancelled => "You cancelled at Xero, so nothing changed.".to_owned(),
                other => format!("{}. Nothing changed; try again from the dashboard.", capitalised(&other.to_string())),
            };
            let body = html! {
                p role="alert" { (message) }
                p { a href="/admin" { "Back to the dashboard" } }
            };
            Ok(respond(StatusCode::OK, layout(mode, "Xero not connected", Some(admin.csrf()), body)))
        }
        Err(error @ (ConsentError::NoState | ConsentError::UnknownState | ConsentError::NoCode)) => {
            Err(bad(&format!("{}. {again}", capitalised(&error.to_string()))))
        }
        Err(ConsentError::NoOrganisation) => Err(Failure::new(
            mode,
            StatusCode::BAD_GATEWAY,
            "Xero connection failed",
            "Xero connected no organisation. Connect again and tick one on Xero's page.",
        )),
        Err(error @ ConsentError::PkceRefused) => Err(Failure::new(
            mode,
            StatusCode::BAD_GATEWAY,
            "Xero connection failed",
            format!("{}.", capitalised(&error.to_string())),
        )),
        Err(ConsentError::Xero(error)) => Err(Failure::new(
            mode,
            StatusCode::BAD_GATEWAY,
            "Xero connection failed",
            format!("{error}. Try again from the dashboard."),
        )),
        Err(ConsentError::Store(error)) => Err(Failure::internal(mode, &error)),
    }
}

fn capitalised(text: &str) -> String {
    let mut chars = text.chars();
    chars.next().map(|first| first.to_uppercase().chain(chars).collect()).unwrap_or_default()
}

fn resume_page(state: &AdminState, raw_query: &str) -> Response {
    let target = format!("/admin/xero/callback?{raw_query}&resume=1");
    let body = html! {
        p { "Finishing the Xero connection… " a href=(target) id="continue" { "Continue" } }
        meta http-equiv="refresh" content={ "0; url=" (target) };
    };
    respond(StatusCode::OK, layout(state.mode, "Connecting Xero", None, body))
}

/// `GET /admin/xero/tenant`: which organisation to sync to, after a consent that reached several.
pub(super) async fn choose_page(State(state): State<AdminState>, admin: Admin) -> Result<Response, Failure> {
    let tenants = state.connections.pending_tenants().await.map_err(|e| Failure::internal(state.mode, &e))?;
    if tenants.is_empty() {
        return Ok(Redirect::to("/admin").into_response());
    }
    let csrf = admin.csrf();
    let body = html! {
        p {
            "Xero connected several organisations. Which one should products be synced to? The others are "
            "disconnected from xero-sync, so it keeps no access it does not use."
        }
        (form(csrf, "/admin/xero/tenant", html! {
            fieldset {
                legend { "Organisation" }
                @for (i, tenant) in tenants.iter().enumerate() {
                    p {
                        input type="radio" name="tenant" id={ "tenant" (i) } value=(tenant.tenant_id) required
                            checked[i == 0];
                        " "
                        label for={ "tenant" (i) } { (display_name(&tenant.tenant_name)) }
                    }
                }
            }
            p { button type="submit" { "Use this organisation" } }
        }))
    };
    Ok(respond(StatusCode::OK, layout(state.mode, "Choose the Xero organisation", Some(csrf), body)))
}

/// `POST /admin/xero/tenant`
pub(super) async fn choose(State(state): State<AdminState>, form: AdminForm) -> Result<Response, Failure> {
    let chosen = match state.connections.choose_tenant(form.field("tenant").unwrap_or_default()).await {
        Ok(chosen) => chosen,
        Err(ChoiceError::NotOffered) => {
            return Err(Failure::new(
                state.mode,
                StatusCode::BAD_REQUEST,
                "Organisation not available",
                "That organisation is not one the last Xero consent offered. Connect Xero again.",
            ));
        }
        Err(ChoiceError::Store(error)) => return Err(Failure::internal(state.mode, &error)),
    };
    if chosen.not_disconnected.is_empty() {
        return Ok(Redirect::to("/admin").into_response());
    }
    let body = html! {
        p { "Products will sync to " strong { (display_name(&chosen.tenant.tenant_name)) } "." }
        p role="alert" { "Xero did not confirm disconnecting these organisations from xero-sync:" }
        ul {
            @for (tenant, error) in &chosen.not_disconnected {
                li { (display_name(&tenant.tenant_name)) " (" (error) ")" }
            }
        }
        p {
            "Remove them under " em { "Connected Apps" } " in Xero's settings, or connect again and choose once more."
        }
        p { a href="/admin" { "Back to the dashboard" } }
    };
    Ok(respond(StatusCode::OK, layout(state.mode, "Xero connected", Some(form.admin.csrf()), body)))
}

/// `POST /admin/xero/disconnect`: removes the connection at Xero (revoking the refresh token), then forgets
/// it and the tokens here.
pub(super) async fn disconnect(State(state): State<AdminState>, form: AdminForm) -> Result<Response, Failure> {
    let not_confirmed = state.connections.disconnect_xero().await.map_err(|e| Failure::internal(state.mode, &e))?;
    if not_confirmed.is_empty() {
        return Ok(Redirect::to("/admin").into_response());
    }
    let reasons: Vec<String> = not_confirmed.iter().map(ToString::to_string).collect();
    let body = html! {
        p role="alert" {
            "The Xero connection and its tokens are removed here, but Xero did not confirm the removal on its side ("
            (reasons.join("; ")) ")."
        }
        p { "To be sure, remove the app under " em { "Connected Apps" } " in Xero's settings." }
        p { a href="/admin" { "Back to the dashboard" } }
    };
    Ok(respond(StatusCode::OK, layout(state.mode, "Xero disconnected", Some(form.admin.csrf()), body)))
}

/// What to show for a tenant whose name Xero left out.
pub(super) fn display_name(name: &str) -> &str {
    if name.trim().is_empty() { "(unnamed organisation)" } else { name }
}
