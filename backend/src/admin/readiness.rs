//! `GET /admin/readiness`: the catalogue checked with the shared rules ([`crate::readiness`]), served from
//! the last check so the page answers at once however big the catalogue; `POST` checks again.

use axum::extract::{Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use maud::{Markup, html};
use serde::Deserialize;

use super::AdminState;
use super::auth::{Admin, AdminForm};
use super::page::{Failure, Nav, form, layout_at, respond, time};
use crate::connections::RecordLinks;
use crate::readiness::{CatalogueReport, FieldGroup, Snapshot, Started};

/// Products listed per field unless the admin asks for all of one field.
const LISTED: usize = 50;
/// How often a page waiting for a check reloads itself (no script: a meta refresh).
const REFRESH_SECONDS: u32 = 2;

#[derive(Debug, Default, Deserialize)]
pub(super) struct ReadinessQuery {
    /// Every blocked product of this field, not the first [`LISTED`].
    field: Option<String>,
    /// Set by the redirect after "Check again" when no new check started.
    again: Option<String>,
}

/// `GET /admin/readiness`. The first visit starts the first check.
pub(super) async fn page(
    State(state): State<AdminState>,
    admin: Admin,
    Query(query): Query<ReadinessQuery>,
) -> Result<Response, Failure> {
    state.readiness.check_if_never();
    let snapshot = state.readiness.snapshot();
    let links = if snapshot.last.is_some() { Some(state.connections.record_links().await) } else { None };
    let csrf = admin.csrf();
    let body = html! {
        (status(&snapshot, csrf, query.again.as_deref()))
        @if let (Some(report), Some(links)) = (&snapshot.last, &links) {
            (summary(report))
            (groups(report, links, query.field.as_deref()))
        }
    };
    let title = "Catalogue readiness";
    Ok(respond(StatusCode::OK, layout_at(state.mode, Some(Nav::Readiness), title, Some(csrf), body)))
}

/// `POST /admin/readiness`: check again (in the background), then back to the page.
pub(super) async fn check(State(state): State<AdminState>, _form: AdminForm) -> Response {
    match state.readiness.check() {
        Started::Now => Redirect::to("/admin/readiness").into_response(),
        Started::AlreadyChecking => Redirect::to("/admin/readiness?again=checking").into_response(),
        Started::TooSoon => Redirect::to("/admin/readiness?again=soon").into_response(),
    }
}

fn status(snapshot: &Snapshot, csrf: &str, again: Option<&str>) -> Markup {
    html! {
        section.status aria-labelledby="status-h" {
            h2.visually-hidden id="status-h" { "Last check" }
            @if let Some(since) = snapshot.checking_since {
                meta http-equiv="refresh" content=(REFRESH_SECONDS);
                p role="status" {
                    span.spinner aria-hidden="true" {}
                    "Checking every product against Xero's accounts and tax rates, since " (time(since))
                    ". This page refreshes itself."
                }
            }
            @if let Some((at, message)) = &snapshot.failure {
                p.warn role="alert" { "The check of " (time(*at)) " failed: " (message) }
            }
            @match &snapshot.last {
                Some(report) => p {
                    "Checked at " (time(report.checked_at)) ": " (report.products) " products read from Zoho CRM in "
                    (format!("{:.1}", report.took.as_secs_f64())) " s."
                },
                None if snapshot.checking_since.is_none() && snapshot.failure.is_none() => p { "Not checked yet." },
                None => {},
            }
            @match again {
                Some("soon") => p.muted role="status" { "Checked less than a minute ago: that result is shown." },
                Some("checking") => p.muted role="status" { "A check is already under way." },
                _ => {},
            }
            @if snapshot.checking_since.is_none() {
                (form(csrf, "/admin/readiness", html! { button type="submit" { "Check again" } }))
            }
        }
    }
}

fn summary(report: &CatalogueReport) -> Markup {
    html! {
        section aria-labelledby="counts-h" {
            h2 id="counts-h" { "Products" }
            dl.counters {
                div.counter.ok {
                    dt { "Ready" }
                    dd { (report.ready) }
                    @if report.with_warnings > 0 {
                        dd.note { (report.with_warnings) " with warnings" }
                    }
                }
                div.counter.bad {
                    dt { "Blocked" }
                    dd { (report.blocked) }
                }
                div.counter {
                    dt { "Not for Xero" }
                    dd { (report.not_for_xero) }
                    dd.note { "“Add to Xero” not ticked" }
                }
            }
        }
    }
}

fn groups(report: &CatalogueReport, links: &RecordLinks, expanded: Option<&str>) -> Markup {
    html! {
        section aria-labelledby="blocked-h" {
            h2 id="blocked-h" { "Blocked products by the field at fault" }
            @if report.groups.is_empty() {
                p.empty role="status" {
                    @if report.products == 0 { "Zoho CRM has no products yet." }
                    @else { "Nothing blocks any product marked “Add to Xero”." }
                }
            } @else {
                p.muted {
                    "A product with problems on several fields is listed under each. Open its CRM record to fix it; "
                    "the widget's checklist shows the same checks."
                }
                @for group in &report.groups {
                    (group_table(group, links, expanded == Some(group.field.as_str())))
                }
            }
        }
    }
}

fn group_table(group: &FieldGroup, links: &RecordLinks, expanded: bool) -> Markup {
    let shown = if expanded { group.products.len() } else { group.products.len().min(LISTED) };
    let id = format!("field-{}", group.field);
    html! {
        table.blocked id=(id) {
            caption {
                (group.label) " " code { (group.field) } ": " (group.products.len())
                @if group.products.len() == 1 { " product" } @else { " products" }
            }
            thead { tr { th scope="col" { "Product" } th scope="col" { "Code" } th scope="col" { "What to fix" } } }
            tbody {
                @for product in &group.products[..shown] {
                    tr {
                        th scope="row" data-label="Product" {
                            a href=(links.crm_record(&product.id)) {
                                (product.name.as_deref().unwrap_or("(no name)"))
                            }
                            br; span.muted { (product.id) }
                        }
                        td data-label="Code" { (product.code.as_deref().unwrap_or("")) }
                        td data-label="What to fix" {
                            @for (i, message) in product.messages.iter().enumerate() {
                                @if i > 0 { br; }
                                (message)
                            }
                        }
                    }
                }
            }
        }
        @if shown < group.products.len() {
            p.more {
                a href={ "/admin/readiness?field=" (group.field) "#" (id) } {
                    "Show all " (group.products.len()) " products blocked on " (group.label)
                }
            }
        }
    }
}
