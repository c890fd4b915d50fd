//! Logging in and out. One password (an argon2 hash from the settings), checked off the async threads.
//!
//! Guessing is bounded three ways: each client address may fail [`MAX_FAILURES`] times a minute (the
//! attempt is counted before its check, so a parallel burst gets no more), at most [`CONCURRENT_CHECKS`]
//! checks run at once in the whole process (each holds argon2's memory, ~19 MiB), and every failure answers
//! late. Only the failing client is refused: the right password from anyone else always works.
//!
//! The checks run on [`CONCURRENT_CHECKS`] threads of their own, each reusing one argon2 working memory
//! ([`crypto::PasswordMemory`]), so the memory they take is bounded for good: a fresh allocation per check
//! on tokio's blocking pool left ~19 MiB resident per check (measured: a burst of 10 wrong passwords took
//! the process from 15 MiB to a peak of 169 MiB).

use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, PoisonError, mpsc};
use std::time::{Duration, Instant};

use axum::Form;
use axum::extract::{FromRequest, Request, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Redirect, Response};
use axum_extra::extract::CookieJar;
use chrono::TimeDelta;
use maud::{Markup, html};
use secrecy::ExposeSecret;
use tokio::sync::Semaphore;

use super::AdminState;
use super::auth::{Admin, AdminForm, removal_cookie, same_origin, session_cookie};
use super::page::{Failure, layout, respond};
use crate::address::ClientAddr;
use crate::crypto::{self, PasswordMemory};
use crate::throttle::Throttle;

/// How long an admin session lasts.
const SESSION_TTL: TimeDelta = TimeDelta::hours(8);
/// Every failed attempt answers this late, so guessing is slow even one attempt at a time.
const FAILURE_DELAY: Duration = Duration::from_secs(1);
/// This many failures from one client within [`LOCK_WINDOW`] refuse its logins (right password or not)
/// until they age out.
const MAX_FAILURES: usize = 10;
const LOCK_WINDOW: Duration = Duration::from_secs(60);
/// Password checks running at once, at most: argon2 takes ~19 MiB and a thread for each.
const CONCURRENT_CHECKS: usize = 2;
/// How long a login waits for a free check before it is answered 429 (the wait itself costs nothing).
const CHECK_WAIT: Duration = Duration::from_secs(5);

/// How many password checks this process ran, and the most that ever ran at once: what the throttle is
/// judged by (the tests count them; an operator may too).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PasswordChecks {
    pub total: u64,
    pub most_at_once: usize,
}

#[derive(Debug, Default)]
struct CheckCounter {
    total: AtomicU64,
    running: AtomicUsize,
    most_at_once: AtomicUsize,
}

impl CheckCounter {
    fn count<T>(&self, check: impl FnOnce() -> T) -> T {
        self.total.fetch_add(1, Ordering::Relaxed);
        let now_running = self.running.fetch_add(1, Ordering::SeqCst) + 1;
        self.most_at_once.fetch_max(now_running, Ordering::SeqCst);
        let result = check();
        self.running.fetch_sub(1, Ordering::SeqCst);
        result
    }
}

type Job = Box<dyn FnOnce(&mut PasswordMemory) + Send>;

/// The threads password checks run on; they end when the service (its [`LoginState`]) is dropped.
#[derive(Debug)]
struct Checkers {
    jobs: mpsc::Sender<Job>,
}

impl Checkers {
    fn start(threads: usize) -> Self {
        let (jobs, queue) = mpsc::channel::<Job>();
        let queue = Arc::new(Mutex::new(queue));
        for _ in 0..threads {
            let queue = Arc::clone(&queue);
            let worker = move || {
                let mut memory = PasswordMemory::default();
                loop {
                    let job = queue.lock().unwrap_or_else(PoisonError::into_inner).recv();
                    let Ok(job) = job else { break };
                    // A panicking check must not take its thread along.
                    if std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| job(&mut memory))).is_err() {
                        tracing::error!("a password check panicked");
                    }
                }
            };
            if let Err(error) = std::thread::Builder::new().name("password-check".into()).spawn(worker) {
                tracing::error!(%error, "cannot start a password-check thread");
            }
        }
        Self { jobs }
    }

    /// Runs `check` on one of the threads; `None` if none is running.
    async fn run<T: Send + 'static>(&self, check: impl FnOnce(&mut PasswordMemory) -> T + Send + 'static) -> Option<T> {
        let (answer, answered) = tokio::sync::oneshot::channel();
        let job: Job = Box::new(move |memory| {
            let _ = answer.send(check(memory));
        });
        self.jobs.send(job).ok()?;
        answered.await.ok()
    }
}

/// What the login routes keep between requests (one per service, so each one in a test has its own).
#[derive(Debug)]
pub(crate) struct LoginState {
    throttle: Arc<Throttle>,
    checks: Arc<Semaphore>,
    checkers: Checkers,
    counter: Arc<CheckCounter>,
    /// The demo's own password, shown on its login page; never set in production.
    demo_password: Option<String>,
}

impl LoginState {
    pub(crate) fn new(demo_password: Option<String>) -> Self {
        Self {
            throttle: Throttle::new(MAX_FAILURES, LOCK_WINDOW),
            checks: Arc::new(Semaphore::new(CONCURRENT_CHECKS)),
            checkers: Checkers::start(CONCURRENT_CHECKS),
            counter: Arc::default(),
            demo_password,
        }
    }

    pub(crate) fn password_checks(&self) -> PasswordChecks {
        PasswordChecks {
            total: self.counter.total.load(Ordering::SeqCst),
            most_at_once: self.counter.most_at_once.load(Ordering::SeqCst),
        }
    }
}

/// A 429 login page telling the browser when to come back.
fn too_many(state: &AdminState, message: &str, wait: Duration) -> Response {
    let mut response = login_page(state, StatusCode::TOO_MANY_REQUESTS, Some(message));
    if let Ok(value) = HeaderValue::from_str(&wait.as_secs().max(1).to_string()) {
        response.headers_mut().insert(header::RETRY_AFTER, value);
    }
    response
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
pub(super) async fn submit(
    State(state): State<AdminState>,
    client: ClientAddr,
    request: Request,
) -> Result<Response, Failure> {
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
    let Some(hash) = state.settings.admin_password_hash.as_ref().map(|h| h.expose_secret().to_owned()) else {
        return Ok(login_page(&state, StatusCode::FORBIDDEN, None));
    };
    if password.is_empty() {
        return Ok(login_page(&state, StatusCode::UNAUTHORIZED, Some("Enter the password.")));
    }
    let login = &state.login;
    // Counted before the check, under the throttle's lock: a burst cannot all get in before a failure counts.
    let reservation = match login.throttle.reserve(client, Instant::now()) {
        Ok(reservation) => reservation,
        Err(refused) => {
            if refused.first {
                let wait_secs = refused.wait.as_secs();
                tracing::warn!(%client, wait_secs, "admin logins from this address are paused: too many failures");
            } else {
                tracing::debug!(%client, "admin login refused: too many failures from this address");
            }
            let message = "Too many failed logins from your address: logging in is paused for up to a minute.";
            return Ok(too_many(&state, message, refused.wait));
        }
    };
    let permit = match tokio::time::timeout(CHECK_WAIT, Arc::clone(&login.checks).acquire_owned()).await {
        Ok(Ok(permit)) => permit,
        _ => {
            // Never checked: the attempt does not count against the client.
            reservation.give_back();
            tracing::warn!(%client, "admin login refused: too many password checks at once");
            let message = "Too many logins are being checked right now: try again in a moment.";
            return Ok(too_many(&state, message, Duration::from_secs(1)));
        }
    };
    let counter = Arc::clone(&login.counter);
    let span = tracing::Span::current();
    // The permit and the reservation go with the check, so a client hanging up mid-check frees neither early.
    let check = login.checkers.run(move |memory| {
        let _span = span.enter();
        let _permit = permit;
        let matches = counter.count(|| crypto::verify_password(&password, &hash, memory));
        if matches {
            reservation.give_back();
        } else {
            // Never the password: only who tried.
            tracing::warn!(%client, "admin login failed: wrong password");
        }
        matches
    });
    let Some(matches) = check.await else {
        return Err(Failure::internal(state.mode, &std::io::Error::other("no password-check thread is running")));
    };
    if !matches {
        tokio::time::sleep(FAILURE_DELAY).await;
        return Ok(login_page(&state, StatusCode::UNAUTHORIZED, Some("That password is not right.")));
    }
    let (session_id, _csrf) =
        state.store.create_admin_session(SESSION_TTL).await.map_err(|e| Failure::internal(state.mode, &e))?;
    tracing::info!(%client, "admin logged in");
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
