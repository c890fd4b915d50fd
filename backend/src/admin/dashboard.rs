//! `GET /admin`: what a new admin has left to set up (with what to do for each step), how the syncs are
//! going today and what needs attention, and the connections with their controls.

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::Response;
use chrono::{DateTime, TimeDelta, Utc};
use maud::{Markup, html};
use shared::wire::CONNECTION_NAME;

use super::AdminState;
use super::auth::Admin;
use super::log::{NEEDS_ATTENTION, log_link, log_table, no_syncs_yet};
use super::page::{Failure, Nav, button, form, layout_at, respond, time};
use super::xero;
use crate::connections::{FieldCheck, Overview, RecordLinks, ZOHO_SCOPES};
use crate::store::{ConnectionStatus, LogCursor, LogFilter, OutcomeCounts, StoreError, SyncLogEntry, SyncOutcome};

/// Sync log rows the dashboard shows.
const RECENT_ROWS: u32 = 10;
/// Failures of the last day listed under "needs attention".
const ATTENTION_ROWS: u32 = 5;

/// What the dashboard reads from the store.
struct Activity {
    recent: Vec<SyncLogEntry>,
    today: OutcomeCounts,
    attention: Vec<SyncLogEntry>,
    attention_count: u64,
    widget_seen: Option<DateTime<Utc>>,
}

async fn activity(state: &AdminState, now: DateTime<Utc>) -> Result<Activity, StoreError> {
    let store = &state.store;
    let day_ago = now - TimeDelta::hours(24);
    let attention =
        LogFilter { outcomes: SyncOutcome::NEEDS_ATTENTION.to_vec(), from: Some(day_ago), ..LogFilter::default() };
    let last_day = store.outcome_counts(day_ago).await?;
    Ok(Activity {
        recent: store.recent_log(RECENT_ROWS).await?,
        today: store.outcome_counts(start_of_day(now)).await?,
        attention: store.log_page(&attention, LogCursor::Newest, ATTENTION_ROWS).await?.entries,
        attention_count: SyncOutcome::NEEDS_ATTENTION.iter().map(|o| last_day.get(*o)).sum(),
        widget_seen: store.widget_first_session().await?,
    })
}

fn start_of_day(now: DateTime<Utc>) -> DateTime<Utc> {
    now.date_naive().and_hms_opt(0, 0, 0).map_or(now, |midnight| midnight.and_utc())
}

/// `GET /admin`
pub(super) async fn page(State(state): State<AdminState>, admin: Admin) -> Result<Response, Failure> {
    let internal = |e: StoreError| Failure::internal(state.mode, &e);
    let now = Utc::now();
    let overview = state.connections.overview().await.map_err(internal)?;
    let activity = activity(&state, now).await.map_err(internal)?;
    let zoho_connected = overview.zoho.as_ref().is_some_and(|z| z.status == ConnectionStatus::Connected);
    let fields =
        if zoho_connected { Some(state.connections.check_crm_fields(&state.fields.current()).await) } else { None };
    let links = state.connections.record_links().await;
    let runs = super::runs::summary(&state).await?;
    let csrf = admin.csrf();
    let widget_url = state.settings.widget_url();
    let body = html! {
        (checklist(&overview, fields.as_ref(), activity.widget_seen, &widget_url))
        (syncs(&activity, &links, now, runs))
        (xero_section(csrf, &overview, state.settings.xero_daily_call_limit))
        section aria-labelledby="zoho-h" {
            h2 id="zoho-h" { "Zoho CRM" }
            @match &overview.zoho {
                None => p.warn { "Not connected." },
                Some(z) => p {
                    "Zoho CRM at " code { (z.api_domain) } " (" (status(z.status, z.status_reason.as_deref()))
                    ", since " (time(z.updated_at)) ")."
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
            p { "Widget URL: " code { (widget_url) } }
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
            @if activity.recent.is_empty() {
                (no_syncs_yet())
            } @else {
                (log_table(&activity.recent, &links, "The latest syncs"))
                p { a href="/admin/log" { "The whole sync log" } }
            }
        }
    };
    Ok(respond(StatusCode::OK, layout_at(state.mode, Some(Nav::Dashboard), "Dashboard", Some(csrf), body)))
}

/// One step of the set-up: done, or what to do.
struct Step {
    name: &'static str,
    done: bool,
    says: Markup,
}

fn checklist(
    overview: &Overview,
    fields: Option<&FieldCheck>,
    widget_seen: Option<DateTime<Utc>>,
    widget_url: &str,
) -> Markup {
    let xero_ok = overview.xero.as_ref().is_some_and(|c| c.status == ConnectionStatus::Connected);
    let zoho_ok = overview.zoho.as_ref().is_some_and(|z| z.status == ConnectionStatus::Connected);
    let missing: Vec<&str> = match fields {
        Some(FieldCheck::Checked(fields)) => {
            fields.iter().filter(|f| !f.present).map(|f| f.api_name.as_str()).collect()
        }
        _ => Vec::new(),
    };
    let fields_ok = matches!(fields, Some(FieldCheck::Checked(_))) && missing.is_empty();
    let steps = [
        Step {
            name: "Xero",
            done: xero_ok,
            says: match &overview.xero {
                Some(c) if xero_ok => html! { "Connected to " (xero::display_name(&c.tenant_name)) "." },
                Some(c) => html! {
                    "Xero refused the connection (" (c.status_reason.as_deref().unwrap_or("no reason recorded"))
                    "): press " a href="#xero-h" { "Reconnect Xero" } "."
                },
                None if overview.choosing => {
                    html! { a href="/admin/xero/tenant" { "Choose the organisation" } " of the last consent." }
                }
                None => html! { "Press " a href="#xero-h" { "Connect Xero" } " and allow access at Xero." },
            },
        },
        Step {
            name: "Zoho CRM",
            done: zoho_ok,
            says: match &overview.zoho {
                Some(z) if zoho_ok => html! { "Connected at " code { (z.api_domain) } "." },
                Some(z) => html! {
                    "Zoho refused the grant (" (z.status_reason.as_deref().unwrap_or("no reason recorded")) "): "
                    a href="#zoho-h" { "paste a new Self Client code" } "."
                },
                None => html! { a href="#zoho-h" { "Paste a Self Client code" } " from Zoho's API Console." },
            },
        },
        Step {
            name: "CRM fields",
            done: fields_ok,
            says: match fields {
                _ if fields_ok => html! { "The CRM has the six custom fields." },
                None => html! { "Checked once Zoho CRM is connected." },
                Some(FieldCheck::Checked(_)) => html! {
                    "The CRM lacks " (missing.join(", ")) ": create them, or set the " code { "XERO_SYNC_FIELD_*" }
                    " settings to their API names (" a href="#zoho-h" { "details" } ")."
                },
                Some(_) => html! { "Could not be checked: " a href="#zoho-h" { "see why" } "." },
            },
        },
        Step {
            name: "API key",
            done: overview.has_api_key,
            says: if overview.has_api_key {
                html! { "Set; the CRM Connection " code { (CONNECTION_NAME) } " sends it." }
            } else {
                html! {
                    a href="#crm-h" { "Create the API key" } " and put it in the CRM Connection " code { (CONNECTION_NAME) } "."
                }
            },
        },
        Step {
            name: "Widget registered",
            done: widget_seen.is_some(),
            says: match widget_seen {
                Some(at) => html! { "A widget first opened with this API key at " (time(at)) "." },
                None => html! {
                    "Register the widget at " code { (widget_url) } " with a “Sync to Xero” button in Zoho CRM, then "
                    "open a product in the CRM and press it once: its first session shows here."
                },
            },
        },
    ];
    let done = steps.iter().filter(|s| s.done).count();
    html! {
        section.setup aria-labelledby="setup-h" {
            h2 id="setup-h" { "Set-up" }
            p { (done) " of " (steps.len()) " steps done." @if done == steps.len() { " Everything is set up." } }
            ol.steps {
                @for step in &steps {
                    li class={ "step " (if step.done { "done" } else { "todo" }) } {
                        span.mark aria-hidden="true" { (if step.done { "✓" } else { "!" }) }
                        div {
                            strong { (step.name) }
                            span.visually-hidden { (if step.done { " (done)" } else { " (to do)" }) }
                            ": " (step.says)
                        }
                    }
                }
            }
        }
    }
}

fn syncs(activity: &Activity, links: &RecordLinks, now: DateTime<Utc>, runs: Option<Markup>) -> Markup {
    let today = start_of_day(now).format("%Y-%m-%d").to_string();
    let day_ago = (now - TimeDelta::hours(24)).format("%Y-%m-%dT%H:%M").to_string();
    let counted = [
        (SyncOutcome::Created, "created"),
        (SyncOutcome::Updated, "updated"),
        (SyncOutcome::Unchanged, "unchanged"),
        (SyncOutcome::Refused, "refused"),
        (SyncOutcome::Failed, "failed"),
    ];
    html! {
        section aria-labelledby="syncs-h" {
            h2 id="syncs-h" { "Syncs" }
            @if let Some(last) = activity.recent.first() {
                p.last {
                    "Last sync: " (time(last.started_at)) ", "
                    a href={ "/admin/products/" (last.product_id) } { (last.product_name().unwrap_or(&last.product_id)) }
                    " " span class={ "badge " (last.outcome.as_str()) } { (last.outcome.as_str()) } " by " (last.actor) "."
                }
            } @else {
                (no_syncs_yet())
            }
            @if let Some(runs) = runs { (runs) }
            h3 { "Today (UTC)" }
            dl.counters {
                @for (outcome, label) in counted {
                    div class={ "counter " (outcome.as_str()) } {
                        dt { (label) }
                        dd { a href=(log_link(&[("outcome", outcome.as_str()), ("from", today.as_str())])) { (activity.today.get(outcome)) } }
                    }
                }
            }
            h3 { "Needs attention" }
            @if activity.attention_count == 0 {
                p.ok-text { "Nothing failed or was refused in the last 24 hours." }
            } @else {
                p.warn {
                    a href=(log_link(&[("outcome", NEEDS_ATTENTION), ("from", day_ago.as_str())])) {
                        (activity.attention_count) " "
                        (if activity.attention_count == 1 { "sync" } else { "syncs" })
                        " refused, failed or interrupted in the last 24 hours"
                    }
                }
                ul.attention {
                    @for e in &activity.attention {
                        li {
                            a href={ "/admin/products/" (e.product_id) "?sync=" (e.id) "#sync-" (e.id) } {
                                (e.product_name().unwrap_or(&e.product_id))
                            }
                            " (" (e.outcome.as_str()) ", " (time(e.started_at)) "): "
                            (e.messages.first().map_or("", String::as_str))
                            " · " a href=(links.crm_record(&e.product_id)) { "CRM record" }
                        }
                    }
                }
            }
        }
    }
}

fn status(status: ConnectionStatus, reason: Option<&str>) -> Markup {
    match status {
        ConnectionStatus::Connected => html! { span.ok { "connected" } },
        ConnectionStatus::ReconnectNeeded => {
            html! { span.warn { "reconnect needed" } ": " (reason.unwrap_or("no reason recorded")) }
        }
    }
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
                        (status(c.status, c.status_reason.as_deref())) ", since " (time(c.updated_at)) ")."
                    }
                    p.muted {
                        @match overview.xero_limits {
                            Some(l) => {
                                "Calls left today: " (count(l.day_remaining)) " of " (l.day_limit)
                                @if let Some(at) = l.day_resets_at { " (the day resets at " (time(at)) ")" }
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
                            ". Create it, or give its API name in " a href="/admin/settings#fields-h" { "Settings" }
                            " (by default " code { (field.variable) } ")."
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
