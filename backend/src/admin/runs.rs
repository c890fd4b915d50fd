//! The bulk runs' pages (issue 13, phase B): Sync (start a run, the schedule), a run's page with its live
//! progress (server-sent events, and a refresh without JavaScript), Cancel, Resume and Retry failed, and
//! the list of runs. Everything goes through [`Runs`], the same service the CLI and the schedule use.

use std::collections::BTreeMap;
use std::convert::Infallible;
use std::time::Duration;

use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::sse::{Event, KeepAlive, Sse};
use axum::response::{IntoResponse, Redirect, Response};
use chrono::{DateTime, Utc};
use futures::StreamExt;
use maud::{Markup, html};
use serde::{Deserialize, Serialize};

use super::AdminState;
use super::auth::{Admin, AdminForm};
use super::page::{Failure, Nav, button, form, layout_at, respond};
use crate::connections::RecordLinks;
use crate::runs::{
    ProductFilter, ProductOutcome, Run, RunProduct, RunRequest, RunSnapshot, RunState, RunTrigger, RunWindow, Runs,
    SCHEDULE_HOURS, ScheduleView, StartError,
};
use crate::store::StoreError;

/// Where the run page's script is served.
pub(super) const SCRIPT_PATH: &str = "/admin/run.js";
const SCRIPT: &str = include_str!("run.js");
/// Runs per page of the list, products per page of a run.
const RUNS_PAGE: u32 = 50;
const PRODUCTS_PAGE: u32 = 200;
/// How often a page without JavaScript reloads while its run is active.
const REFRESH_SECS: u32 = 3;

fn internal(state: &AdminState) -> impl Fn(StoreError) -> Failure + '_ {
    |e| Failure::internal(state.mode, &e)
}

/// `GET /admin/run.js` (only a logged-in admin's pages use it).
pub(super) async fn script(_admin: Admin) -> Response {
    let mut response = ([(header::CONTENT_TYPE, "text/javascript; charset=utf-8")], SCRIPT).into_response();
    response.headers_mut().insert(header::CACHE_CONTROL, HeaderValue::from_static("private, max-age=3600"));
    response
}

/// A time of day in UTC, as the run pages show resume times and the next scheduled run.
fn clock(at: DateTime<Utc>) -> String {
    at.format("%Y-%m-%d %H:%M UTC").to_string()
}

/// A duration in words: "45 s", "3 min 05 s", "2 h 10 min".
fn span(seconds: i64) -> String {
    let s = seconds.max(0);
    match s {
        0..60 => format!("{s} s"),
        60..3600 => format!("{} min {:02} s", s / 60, s % 60),
        _ => format!("{} h {:02} min", s / 3600, (s % 3600) / 60),
    }
}

fn run_link(id: i64) -> String {
    format!("/admin/runs/{id}")
}

fn window_text(run: &Run) -> String {
    run.window.describe()
}

fn trigger_text(trigger: RunTrigger) -> &'static str {
    match trigger {
        RunTrigger::Admin => "admin (Sync Now)",
        RunTrigger::Schedule => "schedule",
        RunTrigger::Cli => "cli (xero-sync sync)",
    }
}

/// Who started the run and how, without saying "admin" twice: the actor already names the session or user.
fn started_by(run: &Run) -> String {
    match run.trigger {
        RunTrigger::Admin => format!("started by {} with Sync Now", run.actor),
        RunTrigger::Cli => format!("started by {} with xero-sync sync", run.actor),
        RunTrigger::Schedule => "started by the schedule".to_owned(),
    }
}

fn state_badge(state: RunState) -> Markup {
    html! { span class={ "badge " (state.as_str()) } { (state.as_str()) } }
}

/// How long a run has taken: from its first claim (or creation) to its end, or to now.
fn elapsed(run: &Run, now: DateTime<Utc>) -> i64 {
    let start = run.started_at.unwrap_or(run.created_at);
    (run.finished_at.unwrap_or(now) - start).num_seconds()
}

/// What an outcome is called on a run's page; a dry run says what it would do.
fn outcome_label(outcome: ProductOutcome, dry_run: bool) -> &'static str {
    match (outcome, dry_run) {
        (ProductOutcome::Created, true) => "would create",
        (ProductOutcome::Updated, true) => "would update",
        (ProductOutcome::Refused, true) => "blocked",
        (ProductOutcome::Created, false) => "created",
        (ProductOutcome::Updated, false) => "updated",
        (ProductOutcome::Refused, false) => "refused",
        (ProductOutcome::NotForXero, _) => "not for Xero",
        (ProductOutcome::Unchanged, _) => "unchanged",
        (ProductOutcome::Kept, _) => "kept (edited in Xero)",
        (ProductOutcome::Failed, _) => "failed",
    }
}

fn outcome_count(run: &Run, outcome: ProductOutcome) -> u64 {
    let c = &run.counters;
    match outcome {
        ProductOutcome::NotForXero => c.not_for_xero,
        ProductOutcome::Unchanged => c.unchanged,
        ProductOutcome::Kept => c.kept,
        ProductOutcome::Refused => c.refused,
        ProductOutcome::Created => c.created,
        ProductOutcome::Updated => c.updated,
        ProductOutcome::Failed => c.failed,
    }
}

/// What the run page shows of a run, in the page and then in each server-sent event: one home for the
/// numbers, so the live page and a reloaded one always agree.
#[derive(Debug, Serialize)]
struct Live {
    active: bool,
    /// 0 to 100, `None` while it cannot be told.
    percent: Option<u8>,
    /// The text of each live element, by the end of its id (`run-{key}`).
    text: BTreeMap<&'static str, String>,
}

/// The run's situation in a sentence.
fn status_text(run: &Run) -> String {
    let why = run.message.as_deref();
    match run.state {
        RunState::Queued => "Queued: the service takes it up in a moment.".to_owned(),
        RunState::Running if run.cancel_requested => "Cancelling: it stops after the batch in flight.".to_owned(),
        RunState::Running => "Running.".to_owned(),
        RunState::Paused => match run.resume_at {
            Some(until) => format!("Paused until {} because {}.", clock(until), why.unwrap_or("it had to wait")),
            None => format!("Paused because {}.", why.unwrap_or("it had to wait")),
        },
        RunState::Succeeded => "Finished: every product was synced or skipped.".to_owned(),
        RunState::Partial => "Finished: some products were refused or failed (see below).".to_owned(),
        RunState::Failed => format!(
            "Stopped: {}. Resume it once the cause is fixed; it goes on from where it stopped.",
            why.unwrap_or("an error")
        ),
        RunState::Cancelled => {
            format!("Cancelled ({}). Resume goes on from where it stopped.", why.unwrap_or("by an admin"))
        }
    }
}

impl Live {
    fn of(snapshot: &RunSnapshot, now: DateTime<Utc>) -> Self {
        let run = &snapshot.run;
        let c = &run.counters;
        let percent = snapshot.progress.map(|p| (p * 100.0).floor().clamp(0.0, 100.0) as u8);
        let taken = elapsed(run, now);
        let eta = match (run.state, snapshot.progress) {
            (RunState::Running, Some(p)) if p > 0.01 => {
                format!("about {}", span(((taken as f64) * (1.0 - p) / p).round() as i64))
            }
            (state, _) if !state.is_active() => "done".to_owned(),
            _ => "not known yet".to_owned(),
        };
        let calls_left = match snapshot.xero_calls_left_today {
            Some(left) => format!("{left} (keeping {} for the button)", snapshot.xero_reserve),
            None => "known after the first call".to_owned(),
        };
        let mut text = BTreeMap::new();
        text.insert("state", run.state.as_str().to_owned());
        text.insert("status", status_text(run));
        text.insert("percent", percent.map_or_else(|| "…".to_owned(), |p| format!("{p} %")));
        for (key, value) in [
            ("read", c.read),
            ("not_for_xero", c.not_for_xero),
            ("unchanged", c.unchanged),
            ("kept", c.kept),
            ("refused", c.refused),
            ("created", c.created),
            ("updated", c.updated),
            ("failed", c.failed),
            ("xero_calls", c.xero_calls),
            ("zoho_calls", c.zoho_calls),
        ] {
            text.insert(key, value.to_string());
        }
        text.insert("calls_left", calls_left);
        text.insert("elapsed", span(taken));
        text.insert("eta", eta);
        Self { active: run.state.is_active(), percent, text }
    }

    fn get(&self, key: &str) -> &str {
        self.text.get(key).map_or("", String::as_str)
    }
}

/// The dashboard's lines about bulk runs: the active or last run, and the next scheduled one; `None` until
/// Xero is connected.
pub(super) async fn summary(state: &AdminState) -> Result<Option<Markup>, Failure> {
    let view = match state.runs.schedule().await {
        Ok(view) => view,
        Err(StartError::Store(e)) => return Err(Failure::internal(state.mode, &e)),
        Err(_) => return Ok(None),
    };
    let active = state.runs.active().await.map_err(internal(state))?;
    Ok(Some(html! {
        p.runs id="runs-summary" {
            @match (&active, &view.last_run) {
                (Some(run), _) => {
                    "Bulk sync under way: " a href=(run_link(run.id)) { "run " (run.id) } " " (state_badge(run.state))
                    ", " (run.counters.read) " products read."
                }
                (None, Some(run)) => {
                    "Last bulk run: " a href=(run_link(run.id)) { "run " (run.id) } " " (state_badge(run.state))
                    @if let Some(at) = run.finished_at { " at " (clock(at)) }
                    " (" (run.counters.created) " created, " (run.counters.updated) " updated, "
                    (run.counters.refused + run.counters.failed) " refused or failed)."
                }
                (None, None) => { "No bulk run yet: " a href="/admin/sync" { "Sync Now" } " sends the whole catalogue." }
            }
            " Next scheduled run: "
            @match view.next_run_at {
                Some(at) => strong { (clock(at)) },
                None => { "none (" a href="/admin/sync#schedule-h" { "the automatic sync is off" } ")" },
            }
            "."
        }
    }))
}

// ---------------------------------------------------------------------------------------------------------
// Sync

/// `GET /admin/sync`
pub(super) async fn sync_page(State(state): State<AdminState>, admin: Admin) -> Result<Response, Failure> {
    let body = sync_body(&state, admin.csrf(), &SyncForm::default(), None).await?;
    Ok(respond(StatusCode::OK, layout_at(state.mode, Some(Nav::Sync), "Sync", Some(admin.csrf()), body)))
}

/// What the Sync form holds.
#[derive(Debug, Clone)]
struct SyncForm {
    window: String,
    days: String,
    dry_run: bool,
}

impl Default for SyncForm {
    fn default() -> Self {
        Self { window: "since_last_run".into(), days: "7".into(), dry_run: false }
    }
}

/// A problem to show on the Sync page: on a field, or for the whole form.
struct Problem {
    field: Option<&'static str>,
    message: String,
}

async fn sync_body(
    state: &AdminState,
    csrf: &str,
    asked: &SyncForm,
    problem: Option<&Problem>,
) -> Result<Markup, Failure> {
    let runs = &state.runs;
    let active = runs.active().await.map_err(internal(state))?;
    let schedule = match runs.schedule().await {
        Ok(view) => Some(view),
        Err(StartError::XeroNotConnected) => None,
        Err(StartError::Store(e)) => return Err(Failure::internal(state.mode, &e)),
        Err(other) => return Err(Failure::internal(state.mode, &other)),
    };
    let cursor = match &schedule {
        Some(view) => state.store.sync_cursor(&view.tenant_id).await.map_err(internal(state))?,
        None => None,
    };
    let last = match &schedule {
        Some(view) => state.store.last_finished_run(&view.tenant_id).await.map_err(internal(state))?,
        None => None,
    };
    let general = problem.filter(|p| p.field.is_none());
    let days_error = problem.filter(|p| p.field == Some("days")).map(|p| p.message.as_str());
    Ok(html! {
        @if let Some(problem) = general {
            p.warn role="alert" { (problem.message) }
        }
        section aria-labelledby="now-h" {
            h2 id="now-h" { "Manual sync" }
            @if let Some(run) = &active {
                p role="status" {
                    "A sync is active: " a href=(run_link(run.id)) { "run " (run.id) } " (" (state_badge(run.state)) ", "
                    (window_text(run)) @if run.dry_run { ", dry run" } ", " (run.counters.read) " products read). "
                    "A new one can start when it ends."
                }
                p { a href=(run_link(run.id)) { "Follow its progress" } }
            } @else if schedule.is_none() {
                p.warn { "Connect Xero (and Zoho CRM) on the " a href="/admin" { "dashboard" } " before syncing." }
            } @else {
                (form(csrf, "/admin/sync", html! {
                    p.muted { "Module: Products · Mode: Zoho CRM → Xero (Items)" }
                    fieldset {
                        legend { "Which products" }
                        p {
                            input type="radio" id="window-since" name="window" value="since_last_run"
                                checked[asked.window == "since_last_run"];
                            " "
                            label for="window-since" {
                                "After the last synchronization ran "
                                @match (cursor, &last) {
                                    (Some(at), _) => span.muted { "(products changed since " (clock(at)) ")" },
                                    (None, Some(run)) => span.muted { "(last run " (run.id) ")" },
                                    (None, None) => span.muted { "(no run has finished yet: every product)" },
                                }
                            }
                        }
                        p {
                            input type="radio" id="window-days" name="window" value="last_days"
                                checked[asked.window == "last_days"];
                            " "
                            label for="window-days" { "Changed in the last" } " "
                            input type="number" id="days" name="days" min="1" max="3650" value=(asked.days)
                                aria-label="Number of days" aria-invalid=[days_error.map(|_| "true")]
                                aria-describedby=[days_error.map(|_| "days-error")];
                            " days"
                            @if let Some(message) = days_error { br; span.warn id="days-error" { (message) } }
                        }
                        p {
                            input type="radio" id="window-all" name="window" value="all" checked[asked.window == "all"];
                            " "
                            label for="window-all" { "All products " span.muted { "(including those never edited)" } }
                        }
                    }
                    p {
                        input type="checkbox" id="dry-run" name="dry_run" value="on" checked[asked.dry_run];
                        " "
                        label for="dry-run" {
                            "Dry run " span.muted { "(nothing is written: shows what would be created or updated, and the calls it would spend)" }
                        }
                    }
                    p { button type="submit" { "Sync Now" } }
                }))
            }
        }
        @if let Some(view) = &schedule {
            (schedule_section(csrf, view))
        }
        p { a href="/admin/runs" { "Every run" } }
    })
}

fn schedule_section(csrf: &str, view: &ScheduleView) -> Markup {
    let current = view.schedule.as_ref().filter(|s| s.enabled).map(|s| s.every_hours);
    html! {
        section aria-labelledby="schedule-h" {
            h2 id="schedule-h" { "Automatic sync" }
            p id="schedule-state" {
                @match current {
                    Some(hours) => {
                        "On: every " (hours) @if hours == 1 { " hour" } @else { " hours" }
                        ", products changed since the last run. Next run: "
                        strong id="schedule-next" {
                            @match view.next_run_at { Some(at) => (clock(at)), None => "not known" }
                        } "."
                    }
                    None => "Off: products sync only when someone presses Sync Now, the button in the CRM, or the CLI.",
                }
            }
            p {
                "Last run: "
                @match &view.last_run {
                    Some(run) => {
                        a href=(run_link(run.id)) { "run " (run.id) } " " (state_badge(run.state))
                        @if let Some(at) = run.finished_at { " at " (clock(at)) }
                        " (" (trigger_text(run.trigger)) ")."
                    }
                    None => "none yet.",
                }
            }
            (form(csrf, "/admin/sync/schedule", html! {
                p {
                    label for="every-hours" { "Run automatically" } " "
                    select id="every-hours" name="every_hours" {
                        option value="off" selected[current.is_none()] { "off" }
                        @for hours in SCHEDULE_HOURS {
                            option value=(hours) selected[current == Some(hours)] {
                                "every " (hours) @if hours == 1 { " hour" } @else { " hours" }
                            }
                        }
                    }
                    " "
                    button type="submit" { "Save the schedule" }
                }
            }))
        }
    }
}

fn read_sync_form(form: &AdminForm) -> SyncForm {
    SyncForm {
        window: form.field("window").unwrap_or("since_last_run").to_owned(),
        days: form.field("days").unwrap_or_default().trim().to_owned(),
        dry_run: form.field("dry_run").is_some_and(|v| v == "on"),
    }
}

fn window_of(asked: &SyncForm) -> Result<RunWindow, Problem> {
    match asked.window.as_str() {
        "since_last_run" => Ok(RunWindow::SinceLastRun),
        "all" => Ok(RunWindow::All),
        "last_days" => match asked.days.parse::<u32>() {
            Ok(days @ 1..=3650) => Ok(RunWindow::LastDays(days)),
            _ => Err(Problem { field: Some("days"), message: "Give a whole number of days from 1 to 3650.".into() }),
        },
        _ => Err(Problem { field: None, message: "Choose which products to sync.".into() }),
    }
}

/// A refusal to start, for the admin.
fn start_problem(state: &AdminState, error: StartError) -> Result<(StatusCode, Problem), Failure> {
    let status = match &error {
        StartError::Store(e) => return Err(Failure::internal(state.mode, e)),
        StartError::Invalid(_) => StatusCode::UNPROCESSABLE_ENTITY,
        _ => StatusCode::CONFLICT,
    };
    let mut message = error.to_string();
    if let Some(first) = message.get(..1) {
        message = first.to_uppercase() + &message[1..];
    }
    Ok((status, Problem { field: None, message: format!("The sync did not start. {message}.") }))
}

/// `POST /admin/sync`: starts a run through the engine's start API and opens its page.
pub(super) async fn start(State(state): State<AdminState>, form: AdminForm) -> Result<Response, Failure> {
    let asked = read_sync_form(&form);
    let (status, problem) = match window_of(&asked) {
        Ok(window) => {
            let request =
                RunRequest { trigger: RunTrigger::Admin, actor: form.admin.who(), window, dry_run: asked.dry_run };
            match state.runs.start(request).await {
                Ok(run) => return Ok(Redirect::to(&run_link(run.id)).into_response()),
                Err(error) => start_problem(&state, error)?,
            }
        }
        Err(problem) => (StatusCode::UNPROCESSABLE_ENTITY, problem),
    };
    let csrf = form.admin.csrf();
    let body = sync_body(&state, csrf, &asked, Some(&problem)).await?;
    Ok(respond(status, layout_at(state.mode, Some(Nav::Sync), "Sync", Some(csrf), body)))
}

/// `POST /admin/sync/schedule`: turns the automatic sync on (every N hours) or off.
pub(super) async fn schedule(State(state): State<AdminState>, form: AdminForm) -> Result<Response, Failure> {
    let every = form.field("every_hours").unwrap_or_default().trim();
    let every_hours = match every {
        "off" => None,
        hours => match hours.parse::<u32>() {
            Ok(h) if SCHEDULE_HOURS.contains(&h) => Some(h),
            _ => {
                let problem = Problem {
                    field: None,
                    message: format!(
                        "The schedule was not changed: choose off or every {} hours.",
                        SCHEDULE_HOURS.map(|h| h.to_string()).join(", ")
                    ),
                };
                let csrf = form.admin.csrf();
                let body = sync_body(&state, csrf, &SyncForm::default(), Some(&problem)).await?;
                return Ok(respond(
                    StatusCode::UNPROCESSABLE_ENTITY,
                    layout_at(state.mode, Some(Nav::Sync), "Sync", Some(csrf), body),
                ));
            }
        },
    };
    match state.runs.set_schedule(every_hours, &form.admin.who()).await {
        Ok(_) => Ok(Redirect::to("/admin/sync#schedule-h").into_response()),
        Err(error) => {
            let (status, problem) = start_problem(&state, error)?;
            let problem = Problem {
                message: problem.message.replace("The sync did not start.", "The schedule was not changed."),
                ..problem
            };
            let csrf = form.admin.csrf();
            let body = sync_body(&state, csrf, &SyncForm::default(), Some(&problem)).await?;
            Ok(respond(status, layout_at(state.mode, Some(Nav::Sync), "Sync", Some(csrf), body)))
        }
    }
}

// ---------------------------------------------------------------------------------------------------------
// A run

fn not_found(state: &AdminState) -> Failure {
    Failure::new(state.mode, StatusCode::NOT_FOUND, "No such run", "There is no run with this number.")
}

fn run_id(state: &AdminState, id: &str) -> Result<i64, Failure> {
    id.parse::<i64>().map_err(|_| not_found(state))
}

#[derive(Debug, Default, Deserialize)]
pub(super) struct ProductsQuery {
    /// One outcome (`failed`, `refused`, …); every product when absent.
    outcome: Option<String>,
    /// Products after this reading position.
    after: Option<i64>,
}

/// `GET /admin/runs/{id}`
pub(super) async fn run_page(
    State(state): State<AdminState>,
    admin: Admin,
    Path(id): Path<String>,
    Query(query): Query<ProductsQuery>,
) -> Result<Response, Failure> {
    let id = run_id(&state, &id)?;
    let snapshot = state.runs.snapshot(id).await.map_err(internal(&state))?.ok_or_else(|| not_found(&state))?;
    let outcome = query.outcome.as_deref().filter(|o| !o.is_empty()).map(ProductOutcome::parse);
    let outcome = match outcome {
        Some(None) => {
            return Err(Failure::new(
                state.mode,
                StatusCode::BAD_REQUEST,
                "Unknown outcome",
                "Choose an outcome from the list.",
            ));
        }
        Some(Some(o)) => Some(o),
        None => None,
    };
    let filter =
        ProductFilter { outcomes: outcome.into_iter().collect(), limit: PRODUCTS_PAGE + 1, after_seq: query.after };
    let mut products = state.runs.products(id, &filter).await.map_err(internal(&state))?;
    let more = products.len() > PRODUCTS_PAGE as usize;
    products.truncate(PRODUCTS_PAGE as usize);
    let events = state.runs.events(id).await.map_err(internal(&state))?;
    let links = state.connections.record_links().await;
    let run = &snapshot.run;
    let live = Live::of(&snapshot, Utc::now());
    let csrf = admin.csrf();
    let title = format!("{} {}", if run.dry_run { "Dry run" } else { "Run" }, run.id);
    let body = html! {
        // Without JavaScript the page reloads itself while the run moves; with it, run.js follows the events.
        @if live.active {
            noscript { meta http-equiv="refresh" content=(REFRESH_SECS); }
        }
        div.run data-run-events=[live.active.then(|| format!("/admin/runs/{id}/events"))] {
            p.muted {
                (window_text(run)) " · " (started_by(run)) " · created "
                (clock(run.created_at))
            }
            p id="run-status" role="status" aria-live="polite" { (live.get("status")) }
            p.progress {
                label for="run-progress" { "Progress" } " "
                progress id="run-progress" max="100" value=[live.percent] { (live.get("percent")) }
                " " span id="run-percent" { (live.get("percent")) }
                " · state " span id="run-state" { (live.get("state")) }
            }
            p {
                "Elapsed " span id="run-elapsed" { (live.get("elapsed")) } "; time left "
                span id="run-eta" { (live.get("eta")) } "."
            }
            dl.counters {
                @for (key, label) in counter_labels(run.dry_run) {
                    div class={ "counter " (key) } { dt { (label) } dd id={ "run-" (key) } { (live.get(key)) } }
                }
            }
            @if run.dry_run {
                @if let Some(summary) = run.estimate.as_ref().and_then(|e| e.get("summary")).and_then(|s| s.as_str()) {
                    p id="run-estimate" { "A real run would spend " (summary) "." }
                }
            }
            (controls(csrf, run))
        }
        (products_section(run, &products, outcome, more, &links))
        section aria-labelledby="events-h" {
            h2 id="events-h" { "The run's log" }
            ul.events {
                @for event in &events {
                    li class=(format!("event {}", match event.level {
                        crate::runs::EventLevel::Info => "info",
                        crate::runs::EventLevel::Warning => "warning",
                        crate::runs::EventLevel::Error => "error",
                    })) { (clock(event.at)) " " (event.message) }
                }
            }
        }
        p {
            a href={ "/admin/log?bulk_run=" (run.id) } { "This run's rows in the sync log" } " · "
            a href="/admin/runs" { "Every run" } " · " a href="/admin/sync" { "Sync" }
        }
        script src=(SCRIPT_PATH) defer {}
    };
    Ok(respond(StatusCode::OK, layout_at(state.mode, Some(Nav::Runs), &title, Some(csrf), body)))
}

fn counter_labels(dry_run: bool) -> [(&'static str, &'static str); 11] {
    [
        ("read", "Read"),
        ("unchanged", "Unchanged"),
        ("refused", if dry_run { "Blocked" } else { "Refused" }),
        ("created", if dry_run { "Would create" } else { "Created" }),
        ("updated", if dry_run { "Would update" } else { "Updated" }),
        ("failed", "Failed"),
        ("kept", "Kept (edited in Xero)"),
        ("not_for_xero", "Not for Xero"),
        ("xero_calls", "Xero calls used"),
        ("calls_left", "Xero calls left today"),
        ("zoho_calls", "Zoho calls used"),
    ]
}

fn controls(csrf: &str, run: &Run) -> Markup {
    let retryable = run.counters.failed + run.counters.refused;
    html! {
        p.controls {
            @if run.state.is_active() && !run.cancel_requested {
                (button(csrf, &format!("/admin/runs/{}/cancel", run.id), "Cancel"))
            }
            @if matches!(run.state, RunState::Paused | RunState::Cancelled | RunState::Failed) {
                " " (button(csrf, &format!("/admin/runs/{}/resume", run.id), "Resume"))
            }
            @if !run.dry_run && !run.state.is_active() && retryable > 0 {
                " " (button(csrf, &format!("/admin/runs/{}/retry", run.id),
                    &format!("Retry failed ({retryable} product{})", if retryable == 1 { "" } else { "s" })))
            }
        }
    }
}

fn products_section(
    run: &Run,
    products: &[RunProduct],
    outcome: Option<ProductOutcome>,
    more: bool,
    links: &RecordLinks,
) -> Markup {
    let base = run_link(run.id);
    let filter_link = |o: Option<ProductOutcome>| match o {
        Some(o) => format!("{base}?outcome={}#products-h", o.as_str()),
        None => format!("{base}#products-h"),
    };
    html! {
        section aria-labelledby="products-h" {
            h2 id="products-h" { "Products" }
            nav.filters aria-label="Products by outcome" {
                ul {
                    li {
                        @if outcome.is_none() { a href=(filter_link(None)) aria-current="true" { "all (" (run.counters.read) ")" } }
                        @else { a href=(filter_link(None)) { "all (" (run.counters.read) ")" } }
                    }
                    @for o in ProductOutcome::ALL {
                        @let n = outcome_count(run, o);
                        @if n > 0 || outcome == Some(o) {
                            li {
                                @let text = format!("{} ({n})", outcome_label(o, run.dry_run));
                                @if outcome == Some(o) { a href=(filter_link(Some(o))) aria-current="true" { (text) } }
                                @else { a href=(filter_link(Some(o))) { (text) } }
                            }
                        }
                    }
                }
            }
            @if products.is_empty() {
                p.empty role="status" {
                    @if run.state.is_active() { "No product read yet." } @else { "No product here." }
                }
            } @else {
                table.products {
                    caption { "Products in reading order" }
                    thead {
                        tr { @for h in ["Product", "Outcome", "Messages", "Xero item"] { th scope="col" { (h) } } }
                    }
                    tbody {
                        @for p in products {
                            tr class={ "outcome-" (p.outcome.as_str()) } {
                                th scope="row" data-label="Product" {
                                    (p.name.as_deref().unwrap_or("(no name)"))
                                    @if let Some(code) = &p.code { " " span.code { (code) } }
                                    br; span.muted { (p.product_id) }
                                    " · " a href=(links.crm_record(&p.product_id)) { "CRM record" }
                                    " · " a href={ "/admin/products/" (p.product_id) } { "history" }
                                }
                                td data-label="Outcome" {
                                    span class={ "badge " (p.outcome.as_str()) } { (outcome_label(p.outcome, run.dry_run)) }
                                }
                                td data-label="Messages" { (messages(p)) }
                                td data-label="Xero item" {
                                    @if let Some(item) = &p.item_id {
                                        a href=(links.xero_item(item)) title=(item) { "Open in Xero" }
                                    }
                                }
                            }
                        }
                    }
                }
                @if more {
                    @if let Some(last) = products.last() {
                        p {
                            a rel="next" href={
                                (base) "?after=" (last.seq)
                                @if let Some(o) = outcome { "&outcome=" (o.as_str()) }
                                "#products-h"
                            } { "More products →" }
                        }
                    }
                }
            }
        }
    }
}

fn messages(product: &RunProduct) -> Markup {
    html! {
        @if !product.issues.is_empty() {
            ul.issues {
                @for issue in &product.issues {
                    li { strong { (issue.field) } ": " (issue.message) }
                }
            }
        }
        @if let Some(message) = &product.message { p { (message) } }
        @if let Some(error) = &product.writeback_error { p.warn { "Write-back to the CRM: " (error) } }
    }
}

/// `GET /admin/runs/{id}/events`: the run's snapshots as server-sent events (`snapshot`, JSON [`Live`]),
/// the first at once, then one per change, until the run ends or the service stops. Without a session:
/// 401 (an `EventSource` cannot follow a redirect to a login page usefully).
pub(super) async fn events(State(state): State<AdminState>, headers: HeaderMap, Path(id): Path<String>) -> Response {
    match Admin::from_headers(&state, &headers).await {
        Ok(Some(_)) => {}
        Ok(None) => return (StatusCode::UNAUTHORIZED, "Log in to follow a run.").into_response(),
        Err(failure) => return failure.into_response(),
    }
    let Ok(id) = id.parse::<i64>() else { return (StatusCode::NOT_FOUND, "No such run.").into_response() };
    match state.runs.run(id).await {
        Ok(Some(_)) => {}
        Ok(None) => return (StatusCode::NOT_FOUND, "No such run.").into_response(),
        Err(error) => return Failure::internal(state.mode, &error).into_response(),
    }
    let stop = state.runs.stopping();
    let stream = futures::stream::unfold(state.runs.watch(id), |mut watch| async move {
        match watch.next().await {
            Ok(Some(snapshot)) => {
                let event = Event::default().event("snapshot").json_data(Live::of(&snapshot, Utc::now()));
                match event {
                    Ok(event) => Some((Ok::<_, Infallible>(event), watch)),
                    Err(error) => {
                        tracing::warn!(%error, "a run's event could not be written");
                        None
                    }
                }
            }
            Ok(None) => None,
            Err(error) => {
                tracing::warn!(error = %crate::describe(&error), "a run's events stopped");
                None
            }
        }
    })
    .take_until(stop.cancelled_owned());
    let mut response = Sse::new(stream).keep_alive(KeepAlive::new().interval(Duration::from_secs(15))).into_response();
    response.headers_mut().insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    response
}

async fn act(
    state: &AdminState,
    id: &str,
    act: impl AsyncFnOnce(&Runs, i64) -> Result<Option<Run>, StartError>,
) -> Result<Response, Failure> {
    let id = run_id(state, id)?;
    match act(&state.runs, id).await {
        Ok(Some(_)) => Ok(Redirect::to(&run_link(id)).into_response()),
        Ok(None) => Err(not_found(state)),
        Err(StartError::Store(e)) => Err(Failure::internal(state.mode, &e)),
        Err(error) => Err(Failure::new(state.mode, StatusCode::CONFLICT, "Not resumed", format!("{}.", error))),
    }
}

/// `POST /admin/runs/{id}/cancel`: at once when queued or paused, after the batch in flight when running.
pub(super) async fn cancel(
    State(state): State<AdminState>,
    Path(id): Path<String>,
    form: AdminForm,
) -> Result<Response, Failure> {
    let who = form.admin.who();
    act(&state, &id, async |runs, id| runs.cancel(id, &who).await.map_err(StartError::from)).await
}

/// `POST /admin/runs/{id}/resume`: a paused, cancelled or failed run goes on from its checkpoint.
pub(super) async fn resume(
    State(state): State<AdminState>,
    Path(id): Path<String>,
    form: AdminForm,
) -> Result<Response, Failure> {
    let who = form.admin.who();
    act(&state, &id, async |runs, id| runs.resume(id, &who).await).await
}

/// `POST /admin/runs/{id}/retry`: a new run over exactly the run's failed and refused products.
pub(super) async fn retry(
    State(state): State<AdminState>,
    Path(id): Path<String>,
    form: AdminForm,
) -> Result<Response, Failure> {
    let id = run_id(&state, &id)?;
    let run = state.runs.run(id).await.map_err(internal(&state))?.ok_or_else(|| not_found(&state))?;
    let mut ids = Vec::new();
    let mut filter =
        ProductFilter { outcomes: vec![ProductOutcome::Failed, ProductOutcome::Refused], limit: 1000, after_seq: None };
    loop {
        let page = state.runs.products(id, &filter).await.map_err(internal(&state))?;
        let Some(last) = page.last() else { break };
        filter.after_seq = Some(last.seq);
        ids.extend(page.into_iter().map(|p| p.product_id));
    }
    let refused = |message: String| {
        let csrf = form.admin.csrf();
        let body = html! {
            p.warn role="alert" { (message) }
            p { a href=(run_link(id)) { "Back to run " (id) } }
        };
        Ok(respond(StatusCode::CONFLICT, layout_at(state.mode, Some(Nav::Runs), "Not retried", Some(csrf), body)))
    };
    if run.dry_run || ids.is_empty() {
        return refused("This run has no failed or refused product to retry.".into());
    }
    let request = RunRequest {
        trigger: RunTrigger::Admin,
        actor: form.admin.who(),
        window: RunWindow::Products(ids),
        dry_run: false,
    };
    match state.runs.start(request).await {
        Ok(new) => Ok(Redirect::to(&run_link(new.id)).into_response()),
        Err(StartError::Store(e)) => Err(Failure::internal(state.mode, &e)),
        Err(error) => refused(format!("The retry did not start: {error}.")),
    }
}

// ---------------------------------------------------------------------------------------------------------
// Runs

#[derive(Debug, Default, Deserialize)]
pub(super) struct RunsQuery {
    before: Option<i64>,
}

/// `GET /admin/runs`: every run, newest first, paged.
pub(super) async fn list(
    State(state): State<AdminState>,
    admin: Admin,
    Query(query): Query<RunsQuery>,
) -> Result<Response, Failure> {
    let mut runs = state.runs.runs(RUNS_PAGE + 1, query.before).await.map_err(internal(&state))?;
    let more = runs.len() > RUNS_PAGE as usize;
    runs.truncate(RUNS_PAGE as usize);
    let now = Utc::now();
    let body = html! {
        @if runs.is_empty() {
            p.empty role="status" {
                @if query.before.is_some() { "No older runs. " a href="/admin/runs" { "Back to the newest" } }
                @else { "No run yet: open " a href="/admin/sync" { "Sync" } " and press Sync Now." }
            }
        } @else {
            table.runs {
                caption { "Bulk and scheduled runs, newest first (times in UTC)" }
                thead {
                    tr {
                        @for h in ["Run", "Created", "Trigger", "Who", "Window", "State", "Read", "Created / updated", "Unchanged", "Refused", "Failed", "Duration"] {
                            th scope="col" { (h) }
                        }
                    }
                }
                tbody {
                    @for run in &runs {
                        @let c = &run.counters;
                        tr {
                            th scope="row" data-label="Run" {
                                a href=(run_link(run.id)) { (run.id) } @if run.dry_run { " " span.muted { "dry run" } }
                            }
                            td data-label="Created" { (clock(run.created_at)) }
                            td data-label="Trigger" { (trigger_text(run.trigger)) }
                            td data-label="Who" { (run.actor) }
                            td data-label="Window" { (window_text(run)) }
                            td data-label="State" { (state_badge(run.state)) }
                            td data-label="Read" { (c.read) }
                            td data-label="Created / updated" { (c.created) " / " (c.updated) }
                            td data-label="Unchanged" { (c.unchanged) }
                            td data-label="Refused" { (c.refused) }
                            td data-label="Failed" { (c.failed) }
                            td data-label="Duration" {
                                @if run.started_at.is_some() { (span(elapsed(run, now))) }
                            }
                        }
                    }
                }
            }
            @if more {
                @if let Some(last) = runs.last() {
                    p { a rel="next" href={ "/admin/runs?before=" (last.id) } { "Older runs →" } }
                }
            }
        }
        p { a href="/admin/sync" { "Sync" } }
    };
    Ok(respond(StatusCode::OK, layout_at(state.mode, Some(Nav::Runs), "Runs", Some(admin.csrf()), body)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_read_as_seconds_minutes_or_hours() {
        assert_eq!(span(-3), "0 s");
        assert_eq!(span(45), "45 s");
        assert_eq!(span(185), "3 min 05 s");
        assert_eq!(span(2 * 3600 + 10 * 60 + 7), "2 h 10 min");
    }

    #[test]
    fn the_sync_form_becomes_a_window_or_says_which_field_is_wrong() {
        let form = |window: &str, days: &str| SyncForm { window: window.into(), days: days.into(), dry_run: false };
        assert_eq!(window_of(&form("since_last_run", "")).ok(), Some(RunWindow::SinceLastRun));
        assert_eq!(window_of(&form("all", "x")).ok(), Some(RunWindow::All));
        assert_eq!(window_of(&form("last_days", "30")).ok(), Some(RunWindow::LastDays(30)));
        for bad in ["0", "-1", "", "3651", "1.5", "ten"] {
            let problem = window_of(&form("last_days", bad)).expect_err(bad);
            assert_eq!(problem.field, Some("days"), "{bad}");
        }
        assert_eq!(window_of(&form("everything", "")).expect_err("unknown").field, None);
    }

    #[test]
    fn a_dry_run_says_what_it_would_do() {
        assert_eq!(outcome_label(ProductOutcome::Created, true), "would create");
        assert_eq!(outcome_label(ProductOutcome::Updated, true), "would update");
        assert_eq!(outcome_label(ProductOutcome::Refused, true), "blocked");
        assert_eq!(outcome_label(ProductOutcome::Unchanged, true), "unchanged");
        assert_eq!(outcome_label(ProductOutcome::Created, false), "created");
    }
}
