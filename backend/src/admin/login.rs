//! Logging in and out. One password (an argon2 hash from the settings), checked off the async threads, with
//! failed attempts slowed down and, past a threshold, refused for a while.

use std::collections::VecDeque;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use axum::Form;
use axum::extract::{FromRequest, Request, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Redirect, Response};
use axum_extra::extract::CookieJar;
use chrono::TimeDelta;
use maud::{Markup, html};
use secrecy::ExposeSecret;

use super::AdminState;
use super::auth::{Admin, AdminForm, removal_cookie, same_origin, session_cookie};
use super::page::{Failure, layout, respond};
use crate::crypto;

/// How long an admin session lasts.
const SESSION_TTL: TimeDelta = TimeDelta::hours(8);
/// Every failed attempt answers this late, so guessing is slow even one attempt at a time.
const FAILURE_DELAY: Duration = Duration::from_secs(1);
/// This many failures within [`LOCK_WINDOW`] refuse every login (right password or not) until they age out,
/// so parallel guessing gains nothing.
const MAX_FAILURES: usize = 10;
const LOCK_WINDOW: Duration = Duration::from_secs(60);

/// Failed logins of this process, newest last. Per process rather than per client: the service sits
/// behind proxies that hide client addresses, and there is one admin.
#[derive(Debug, Default)]
struct Throttle {
    failures: Mutex<VecDeque<Instant>>,
}

impl Throttle {
    fn failures(&self, now: Instant) -> std::sync::MutexGuard<'_, VecDeque<Instant>> {
        let mut failures = self.failures.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        while failures.front().is_some_and(|t| now.saturating_duration_since(*t) >= LOCK_WINDOW) {
            failures.pop_front();
        }
        failures
    }

    /// How long logins stay refused, if they are.
    fn locked_for(&self, now: Instant) -> Option<Duration> {
        let failures = self.failures(now);
        if failures.len() < MAX_FAILURES {
            return None;
        }
        // Unlocked once enough failures have aged out of the window.
        let oldest_counted = failures[failures.len() - MAX_FAILURES];
        Some(LOCK_WINDOW.saturating_sub(now.saturating_duration_since(oldest_counted)))
    }

    fn record_failure(&self, now: Instant) {
        self.failures(now).push_back(now);
    }
}

/// What the login routes keep between requests (one per service, so each one in a test has its own).
#[derive(Debug, Default)]
pub(crate) struct LoginState {
    throttle: Throttle,
    /// The demo's own password, shown on its login page; never set in production.
    demo_password: Option<String>,
}

impl LoginState {
    pub(crate) fn new(demo_password: Option<String>) -> Self {
        Self { throttle: Throttle::default(), demo_password }
    }
}

fn login_page(state: &AdminState, status: StatusCode, message: Option<&str>) -> Response {
    if state.settings.admin_password_hash.is_none() {
        let body = html! {
            p.warn { "No admin password is configured, so nobody can log in." }
            p {
                "Run " code { "xero-sync hash-password" } ", type the password on its input, and set "
                code { "XERO_SYNC_ADMIN_PASSWORD_HASH" } " to what it prints; then restart the service."
            }
        };
        return respond(status, layout(state.mode, "Log in", None, body));
    }
    let hint = state.login.demo_password.as_deref().filter(|_| state.mode.is_demo());
    let body: Markup = html! {
        @if let Some(message) = message {
            p.warn role="alert" { (message) }
        }
        @if let Some(password) = hint {
            p { "Sandbox mode: the password is " code { (password) } "." }
        }
        form method="post" action="/admin/login" {
            p {
                label for="password" { "Admin password" } br;
                input type="password" id="password" name="password" autocomplete="current-password" required autofocus;
            }
            p { button type="submit" { "Log in" } }
        }
    };
    respond(status, layout(state.mode, "Log in", None, body))
}

/// `GET /admin/login`
pub(super) async fn show(State(state): State<AdminState>, headers: HeaderMap) -> Response {
    match Admin::from_headers(&state, &headers).await {
        Ok(Some(_)) => Redirect::to("/admin").into_response(),
        Ok(None) => login_page(&state, StatusCode::OK, None),
        Err(failure) => failure.into_response(),
    }
}

/// `POST /admin/login`. There is no session yet, hence no CSRF token: `SameSite=Strict` and the origin
/// check stand in for it.
pub(super) async fn submit(State(state): State<AdminState>, request: Request) -> Result<Response, Failure> {
    if !same_origin(request.headers(), &state.settings.public_url) {
        return Err(Failure::new(
            state.mode,
            StatusCode::FORBIDDEN,
            "Request refused",
            format!("This form was not sent from the admin pages at {}.", state.settings.public_url),
        ));
    }
    let Ok(Form(fields)) = Form::<Vec<(String, String)>>::from_request(request, &()).await else {
        return Ok(login_page(&state, StatusCode::BAD_REQUEST, Some("The form could not be read.")));
    };
    let password = fields.into_iter().find(|(k, _)| k == "password").map(|(_, v)| v).unwrap_or_default();
    if let Some(wait) = state.login.throttle.locked_for(Instant::now()) {
        let mut response = login_page(
            &state,
            StatusCode::TOO_MANY_REQUESTS,
            Some("Too many failed logins: logging in is paused for up to a minute."),
        );
        if let Ok(value) = HeaderValue::from_str(&wait.as_secs().max(1).to_string()) {
            response.headers_mut().insert(header::RETRY_AFTER, value);
        }
        return Ok(response);
    }
    let Some(hash) = state.settings.admin_password_hash.as_ref().map(|h| h.expose_secret().to_owned()) else {
        return Ok(login_page(&state, StatusCode::FORBIDDEN, None));
    };
    if password.is_empty() {
        return Ok(login_page(&state, StatusCode::UNAUTHORIZED, Some("Enter the password.")));
    }
    let matches = tokio::task::spawn_blocking(move || crypto::verify_password(&password, &hash))
        .await
        .map_err(|e| Failure::internal(state.mode, &e))?;
    if !matches {
        state.login.throttle.record_failure(Instant::now());
        tracing::warn!("admin login failed");
        tokio::time::sleep(FAILURE_DELAY).await;
        return Ok(login_page(&state, StatusCode::UNAUTHORIZED, Some("That password is not right.")));
    }
    let (session_id, _csrf) =
        state.store.create_admin_session(SESSION_TTL).await.map_err(|e| Failure::internal(state.mode, &e))?;
    tracing::info!("admin logged in");
    let jar = CookieJar::new().add(session_cookie(&state, &session_id));
    Ok((jar, Redirect::to("/admin")).into_response())
}

/// `POST /admin/logout`
pub(super) async fn logout(State(state): State<AdminState>, form: AdminForm) -> Result<Response, Failure> {
    let id = form.admin.id.expose_secret();
    state.store.delete_admin_session(id).await.map_err(|e| Failure::internal(state.mode, &e))?;
    let jar = CookieJar::new().add(removal_cookie(&state));
    Ok((jar, Redirect::to("/admin/login")).into_response())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ten_failures_in_a_minute_lock_until_they_age_out() {
        let throttle = Throttle::default();
        let start = Instant::now();
        for i in 0..9 {
            throttle.record_failure(start + Duration::from_secs(i));
        }
        assert_eq!(throttle.locked_for(start + Duration::from_secs(9)), None);
        throttle.record_failure(start + Duration::from_secs(9));
        assert_eq!(throttle.locked_for(start + Duration::from_secs(10)), Some(Duration::from_secs(50)));
        assert!(throttle.locked_for(start + Duration::from_secs(59)).is_some());
        // The first failure ages out: nine left in the window.
        assert_eq!(throttle.locked_for(start + Duration::from_secs(60)), None);
    }

    #[test]
    fn failures_spread_over_more_than_a_minute_never_lock() {
        let throttle = Throttle::default();
        let start = Instant::now();
        for i in 0..30 {
            let now = start + Duration::from_secs(i * 7);
            assert_eq!(throttle.locked_for(now), None, "after {i} failures");
            throttle.record_failure(now);
        }
    }
}
