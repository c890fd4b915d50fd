//! Logging in and out. One password (an argon2 hash from the settings), checked off the async threads, with
//! failed attempts slowed down and, past a threshold, refused for a while.

use std::collections::VecDeque;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::Form;
use axum::extract::{Extension, FromRequest, Request, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Redirect, Response};
use axum_extra::extract::CookieJar;
use chrono::TimeDelta;
use secrecy::ExposeSecret;

use super::auth::{AdminForm, AdminSession, removal_cookie, same_origin, session_cookie};
use super::page::{Failure, escape, layout, respond};
use crate::api::AppState;
use crate::crypto;

/// The password of sandbox mode when no hash is configured. Only ever shown in sandbox mode.
const SANDBOX_PASSWORD: &str = "sandbox";
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
pub struct Throttle {
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
    pub fn locked_for(&self, now: Instant) -> Option<Duration> {
        let failures = self.failures(now);
        if failures.len() < MAX_FAILURES {
            return None;
        }
        // Unlocked once enough failures have aged out of the window.
        let oldest_counted = failures[failures.len() - MAX_FAILURES];
        Some(LOCK_WINDOW.saturating_sub(now.saturating_duration_since(oldest_counted)))
    }

    pub fn record_failure(&self, now: Instant) {
        self.failures(now).push_back(now);
    }
}

/// What the login routes keep between requests (one per router, so each app in a test has its own).
#[derive(Debug, Default)]
pub struct LoginState {
    throttle: Throttle,
    /// The hash of [`SANDBOX_PASSWORD`], computed on first use (hashing is slow, and production never
    /// needs it).
    sandbox_hash: tokio::sync::OnceCell<String>,
}

/// Whose password counts: the configured hash; else, in sandbox mode, [`SANDBOX_PASSWORD`]; else nobody's.
async fn password_hash(state: &AppState, login: &LoginState) -> Result<Option<String>, Failure> {
    if let Some(hash) = &state.settings.admin_password_hash {
        return Ok(Some(hash.expose_secret().to_owned()));
    }
    if state.sandbox.is_none() {
        return Ok(None);
    }
    let hash = login
        .sandbox_hash
        .get_or_try_init(|| async {
            tokio::task::spawn_blocking(|| crypto::hash_password(SANDBOX_PASSWORD))
                .await
                .map_err(|e| Failure::internal(state, e))?
                .map_err(|e| Failure::internal(state, e))
        })
        .await?;
    Ok(Some(hash.clone()))
}

fn login_page(state: &AppState, status: StatusCode, message: Option<&str>) -> Response {
    let configured = state.settings.admin_password_hash.is_some();
    let note = match (configured, state.sandbox.is_some()) {
        (false, true) => format!("<p>Sandbox mode: the password is <code>{SANDBOX_PASSWORD}</code>.</p>"),
        (false, false) => {
            let body = "<p class=\"warn\">No admin password is configured, so nobody can log in.</p>\
                <p>Run <code>xero-sync hash-password</code>, type the password on its input, and set \
                <code>XERO_SYNC_ADMIN_PASSWORD_HASH</code> to what it prints; then restart the service.</p>";
            return respond(status, layout(state.sandbox.is_some(), "Log in", None, body));
        }
        (true, _) => String::new(),
    };
    let alert = message.map(|m| format!(r#"<p class="warn" role="alert">{}</p>"#, escape(m))).unwrap_or_default();
    let body = format!(
        r#"{alert}{note}<form method="post" action="/admin/login">
<p><label for="password">Admin password</label><br>
<input type="password" id="password" name="password" autocomplete="current-password" required autofocus></p>
<p><button type="submit">Log in</button></p></form>"#
    );
    respond(status, layout(state.sandbox.is_some(), "Log in", None, &body))
}

/// `GET /admin/login`
pub async fn show(State(state): State<AppState>, headers: HeaderMap) -> Response {
    match AdminSession::from_headers(&state, &headers).await {
        Ok(Some(_)) => Redirect::to("/admin").into_response(),
        Ok(None) => login_page(&state, StatusCode::OK, None),
        Err(failure) => failure.into_response(),
    }
}

/// `POST /admin/login`. There is no session yet, hence no CSRF token: `SameSite=Strict` and the origin
/// check stand in for it.
pub async fn submit(
    State(state): State<AppState>,
    Extension(login): Extension<Arc<LoginState>>,
    request: Request,
) -> Result<Response, Failure> {
    if !same_origin(request.headers(), &state.settings.public_url) {
        return Err(Failure::new(
            &state,
            StatusCode::FORBIDDEN,
            "Request refused",
            format!("This form was not sent from the admin pages at {}.", state.settings.public_url),
        ));
    }
    let Ok(Form(fields)) = Form::<Vec<(String, String)>>::from_request(request, &state).await else {
        return Ok(login_page(&state, StatusCode::BAD_REQUEST, Some("The form could not be read.")));
    };
    let password = fields.into_iter().find(|(k, _)| k == "password").map(|(_, v)| v).unwrap_or_default();
    if let Some(wait) = login.throttle.locked_for(Instant::now()) {
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
    let Some(hash) = password_hash(&state, &login).await? else {
        return Ok(login_page(&state, StatusCode::FORBIDDEN, None));
    };
    if password.is_empty() {
        return Ok(login_page(&state, StatusCode::UNAUTHORIZED, Some("Enter the password.")));
    }
    let matches = tokio::task::spawn_blocking(move || crypto::verify_password(&password, &hash))
        .await
        .map_err(|e| Failure::internal(&state, e))?;
    if !matches {
        login.throttle.record_failure(Instant::now());
        tracing::warn!("admin login failed");
        tokio::time::sleep(FAILURE_DELAY).await;
        return Ok(login_page(&state, StatusCode::UNAUTHORIZED, Some("That password is not right.")));
    }
    let (session_id, _csrf) =
        state.store.create_admin_session(SESSION_TTL).await.map_err(|e| Failure::internal(&state, e))?;
    tracing::info!("admin logged in");
    let jar = CookieJar::new().add(session_cookie(&state, &session_id));
    Ok((jar, Redirect::to("/admin")).into_response())
}

/// `POST /admin/logout`
pub async fn logout(State(state): State<AppState>, form: AdminForm) -> Result<Response, Failure> {
    state.store.delete_admin_session(form.admin.id.expose_secret()).await.map_err(|e| Failure::internal(&state, e))?;
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
