//! The sync log: every product sync (the widget's button today; bulk, scheduled and CLI runs write the same
//! rows), newest first, filtered and paged by keyset; a product's history with what was sent to Xero and
//! what Xero answered; and the filtered view as CSV.

use axum::body::Body;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use chrono::{DateTime, NaiveDate, NaiveDateTime, TimeDelta, Utc};
use maud::{Markup, html};
use serde::Deserialize;
use tokio::io::AsyncWriteExt;

use super::AdminState;
use super::auth::Admin;
use super::page::{Failure, Nav, layout_at, respond, time};
use crate::connections::RecordLinks;
use crate::store::{LogCursor, LogFilter, SyncLogEntry, SyncOutcome, SyncTrigger};

/// Rows per page of the log.
const PAGE_ROWS: u32 = 50;
/// Rows the CSV export reads per query while it streams, and the size of the pieces it is sent in.
const EXPORT_CHUNK: u32 = 2_000;
const EXPORT_BUFFER: usize = 256 * 1024;
/// Syncs the product history page shows.
const HISTORY_ROWS: u32 = 100;
/// The outcome filter's value for refused, failed and interrupted together.
pub(super) const NEEDS_ATTENTION: &str = "problems";

/// The log page's query string: the filter form's fields and the paging links' cursor.
#[derive(Debug, Default, Deserialize)]
pub(super) struct LogQuery {
    product: Option<String>,
    outcome: Option<String>,
    trigger: Option<String>,
    run: Option<String>,
    /// One bulk run's rows (the link from a run's page).
    bulk_run: Option<String>,
    from: Option<String>,
    to: Option<String>,
    before: Option<String>,
    after: Option<String>,
}

/// A filter field the admin typed that means nothing: shown on that field.
#[derive(Debug)]
struct FieldError {
    field: &'static str,
    message: String,
}

fn given(value: &Option<String>) -> Option<&str> {
    value.as_deref().map(str::trim).filter(|v| !v.is_empty())
}

/// A time the admin typed, in UTC: `2026-12-05` (a whole day), `2026-12-05T14:30` (a minute, as a
/// `datetime-local` input sends it), with seconds, or RFC 3339. `end` makes it the end of that day, minute
/// or second, for "to".
fn parse_time(text: &str, end: bool) -> Option<DateTime<Utc>> {
    if let Ok(at) = DateTime::parse_from_rfc3339(text) {
        return Some(at.with_timezone(&Utc));
    }
    let (start, span) = if let Ok(day) = NaiveDate::parse_from_str(text, "%Y-%m-%d") {
        (day.and_hms_opt(0, 0, 0)?, TimeDelta::days(1))
    } else if let Ok(minute) = NaiveDateTime::parse_from_str(text, "%Y-%m-%dT%H:%M") {
        (minute, TimeDelta::minutes(1))
    } else {
        (NaiveDateTime::parse_from_str(text, "%Y-%m-%dT%H:%M:%S").ok()?, TimeDelta::seconds(1))
    };
    let start = start.and_utc();
    if end { start.checked_add_signed(span) } else { Some(start) }
}

fn outcomes_of(value: &str) -> Option<Vec<SyncOutcome>> {
    if value == NEEDS_ATTENTION {
        return Some(SyncOutcome::NEEDS_ATTENTION.to_vec());
    }
    SyncOutcome::parse(value).map(|o| vec![o])
}

impl LogQuery {
    /// The filter and cursor, or what is wrong with each field.
    fn parse(&self) -> Result<(LogFilter, LogCursor), Vec<FieldError>> {
        let mut errors = Vec::new();
        let mut filter = LogFilter {
            product: given(&self.product).map(str::to_owned),
            run: given(&self.run).map(str::to_owned),
            ..LogFilter::default()
        };
        if let Some(outcome) = given(&self.outcome) {
            match outcomes_of(outcome) {
                Some(outcomes) => filter.outcomes = outcomes,
                None => {
                    errors.push(FieldError { field: "outcome", message: format!("“{outcome}” is no outcome.") })
                }
            }
        }
        if let Some(run) = given(&self.bulk_run) {
            match run.parse::<i64>() {
                Ok(run) => filter.bulk_run = Some(run),
                Err(_) => {
                    errors.push(FieldError { field: "run", message: format!("“{run}” is no bulk run number.") })
                }
            }
        }
        if let Some(trigger) = given(&self.trigger) {
            match SyncTrigger::parse(trigger) {
                Some(trigger) => filter.trigger = Some(trigger),
                None => {
                    errors.push(FieldError { field: "trigger", message: format!("“{trigger}” is no trigger.") })
                }
            }
        }
        for (field, value, end) in [("from", &self.from, false), ("to", &self.to, true)] {
            let Some(text) = given(value) else { continue };
            match parse_time(text, end) {
                Some(at) if end => filter.to = Some(at),
                Some(at) => filter.from = Some(at),
                None => errors.push(FieldError {
                    field,
                    message: format!("“{text}” is not a date and time like 2026-12-05T14:30."),
                }),
            }
        }
        if let (Some(from), Some(to)) = (filter.from, filter.to)
            && from >= to
        {
            errors.push(FieldError { field: "to", message: "“To” must be after “From”.".to_owned() });
        }
        let id = |value: &Option<String>| given(value).and_then(|v| v.parse::<i64>().ok());
        let cursor = match (id(&self.before), id(&self.after)) {
            (Some(before), _) => LogCursor::Before(before),
            (None, Some(after)) => LogCursor::After(after),
            (None, None) => LogCursor::Newest,
        };
        if errors.is_empty() { Ok((filter, cursor)) } else { Err(errors) }
    }

    /// The filter's own fields, for links that keep it (paging, CSV).
    fn filter_pairs(&self) -> Vec<(&'static str, &str)> {
        [
            ("product", &self.product),
            ("outcome", &self.outcome),
            ("trigger", &self.trigger),
            ("run", &self.run),
            ("bulk_run", &self.bulk_run),
            ("from", &self.from),
            ("to", &self.to),
        ]
        .into_iter()
        .filter_map(|(name, value)| given(value).map(|v| (name, v)))
        .collect()
    }

    fn link(&self, path: &str, extra: Option<(&'static str, String)>) -> String {
        let mut pairs: Vec<(&str, String)> = self.filter_pairs().into_iter().map(|(k, v)| (k, v.to_owned())).collect();
        pairs.extend(extra);
        match serde_urlencoded::to_string(&pairs) {
            Ok(query) if !query.is_empty() => format!("{path}?{query}"),
            _ => path.to_owned(),
        }
    }
}

/// `/admin/log?…` filtered by `pairs` (field, value): the links from other pages.
pub(super) fn log_link(pairs: &[(&str, &str)]) -> String {
    match serde_urlencoded::to_string(pairs) {
        Ok(query) if !query.is_empty() => format!("/admin/log?{query}"),
        _ => "/admin/log".to_owned(),
    }
}

/// `GET /admin/log`
pub(super) async fn page(
    State(state): State<AdminState>,
    admin: Admin,
    Query(query): Query<LogQuery>,
) -> Result<Response, Failure> {
    let csrf = admin.csrf();
    let (filter, cursor) = match query.parse() {
        Ok(parsed) => parsed,
        Err(errors) => {
            let body = html! { (filter_form(&query, &errors)) };
            return Ok(respond(
                StatusCode::BAD_REQUEST,
                layout_at(state.mode, Some(Nav::Log), "Sync log", Some(csrf), body),
            ));
        }
    };
    let page = state.store.log_page(&filter, cursor, PAGE_ROWS).await.map_err(|e| Failure::internal(state.mode, &e))?;
    let links = state.connections.record_links().await;
    let filtered = !query.filter_pairs().is_empty();
    let body = html! {
        (filter_form(&query, &[]))
        @if page.entries.is_empty() {
            @if filtered {
                p.empty role="status" { "No sync matches these filters. " a href="/admin/log" { "Show every sync" } }
            } @else if cursor == LogCursor::Newest {
                (no_syncs_yet())
            } @else {
                p.empty role="status" { "No more syncs this way. " a href="/admin/log" { "Back to the newest" } }
            }
        } @else {
            (log_table(&page.entries, &links, if filtered { "Syncs matching the filters, newest first" } else { "Every sync, newest first" }))
            nav.pager aria-label="Log pages" {
                @if let Some(newer) = page.newer {
                    a rel="prev" href=(query.link("/admin/log", Some(("after", newer.to_string())))) { "← Newer syncs" }
                }
                @if let Some(older) = page.older {
                    a rel="next" href=(query.link("/admin/log", Some(("before", older.to_string())))) { "Older syncs →" }
                }
            }
        }
    };
    Ok(respond(StatusCode::OK, layout_at(state.mode, Some(Nav::Log), "Sync log", Some(csrf), body)))
}

/// The empty log's advice. Phase B (bulk sync) adds "or press Sync Now".
pub(super) fn no_syncs_yet() -> Markup {
    html! {
        p.empty role="status" {
            "No sync has run yet: open a product in Zoho CRM and press " strong { "Sync to Xero" } "."
        }
    }
}

fn filter_form(query: &LogQuery, errors: &[FieldError]) -> Markup {
    let error = |field: &str| errors.iter().find(|e| e.field == field).map(|e| e.message.as_str());
    let value = |v: &Option<String>| v.clone().unwrap_or_default();
    let outcome = value(&query.outcome);
    let trigger = value(&query.trigger);
    let field = |id: &'static str, label: &'static str, input: Markup| {
        let message = error(id);
        html! {
            div.field.invalid[message.is_some()] {
                label for={ "f-" (id) } { (label) }
                (input)
                @if let Some(message) = message {
                    span.error id={ "f-" (id) "-error" } { (message) }
                }
            }
        }
    };
    let described = |id: &str| error(id).map(|_| format!("f-{id}-error"));
    html! {
        form.filters method="get" action="/admin/log" role="search" aria-label="Filter the sync log" {
            @if !errors.is_empty() {
                p.warn role="alert" { "Some filters could not be read; fix the fields marked below." }
            }
            (field("product", "Product name, code or record id", html! {
                input type="search" id="f-product" name="product" value=(value(&query.product)) autocomplete="off";
            }))
            (field("outcome", "Outcome", html! {
                select id="f-outcome" name="outcome" aria-invalid=[error("outcome").map(|_| "true")]
                    aria-describedby=[described("outcome")] {
                    option value="" selected[outcome.is_empty()] { "Any outcome" }
                    option value=(NEEDS_ATTENTION) selected[outcome == NEEDS_ATTENTION] {
                        "Needs attention (refused, failed, interrupted)"
                    }
                    @for o in SyncOutcome::ALL {
                        option value=(o.as_str()) selected[outcome == o.as_str()] { (o.as_str()) }
                    }
                }
            }))
            (field("trigger", "Trigger", html! {
                select id="f-trigger" name="trigger" aria-invalid=[error("trigger").map(|_| "true")]
                    aria-describedby=[described("trigger")] {
                    option value="" selected[trigger.is_empty()] { "Any trigger" }
                    @for t in SyncTrigger::ALL {
                        option value=(t.as_str()) selected[trigger == t.as_str()] { (trigger_label(t)) }
                    }
                }
            }))
            (field("run", "Run", html! {
                input type="text" id="f-run" name="run" value=(value(&query.run)) autocomplete="off";
            }))
            (field("from", "From (UTC)", html! {
                input type="datetime-local" id="f-from" name="from" value=(value(&query.from))
                    aria-invalid=[error("from").map(|_| "true")] aria-describedby=[described("from")];
            }))
            (field("to", "To (UTC)", html! {
                input type="datetime-local" id="f-to" name="to" value=(value(&query.to))
                    aria-invalid=[error("to").map(|_| "true")] aria-describedby=[described("to")];
            }))
            div.actions {
                button type="submit" { "Filter" }
                " "
                a href="/admin/log" { "Clear" }
                " "
                a.download href=(query.link("/admin/log.csv", None)) download { "Download CSV" }
            }
        }
    }
}

fn trigger_label(trigger: SyncTrigger) -> &'static str {
    match trigger {
        SyncTrigger::Widget => "widget (Sync to Xero button)",
        SyncTrigger::Admin => "admin",
        SyncTrigger::Bulk => "bulk",
        SyncTrigger::Schedule => "schedule",
        SyncTrigger::Cli => "cli (xero-sync sync)",
    }
}

/// The link to a product's history, opened at one sync.
fn history_link(entry: &SyncLogEntry) -> String {
    format!("/admin/products/{}?sync={}#sync-{}", urlencoding(&entry.product_id), entry.id, entry.id)
}

/// A path segment: record ids are digits, but nothing else may break the link.
fn urlencoding(text: &str) -> String {
    text.chars().filter(char::is_ascii_alphanumeric).collect()
}

fn outcome_badge(outcome: SyncOutcome) -> Markup {
    html! { span class={ "badge " (outcome.as_str()) } { (outcome.as_str()) } }
}

/// The log's table: on a narrow screen each row stacks into a card, each cell under its heading.
pub(super) fn log_table(entries: &[SyncLogEntry], links: &RecordLinks, caption: &str) -> Markup {
    html! {
        table.log {
            caption { (caption) " (times in UTC)" }
            thead {
                tr {
                    @for heading in ["When", "Product", "Who", "Trigger", "Outcome", "Xero item", "Message"] {
                        th scope="col" { (heading) }
                    }
                }
            }
            tbody {
                @for e in entries {
                    tr {
                        td data-label="When" { (time(e.started_at)) }
                        th scope="row" data-label="Product" {
                            a href=(history_link(e)) {
                                @match e.product_name() {
                                    Some(name) => (name),
                                    None => { "Product " (e.product_id) },
                                }
                            }
                            @if let Some(code) = &e.product_code { " " span.code { (code) } }
                            br;
                            span.muted { (e.product_id) }
                            " · "
                            a href=(links.crm_record(&e.product_id)) { "CRM record" }
                        }
                        td data-label="Who" {
                            (e.actor)
                            // The widget's user is the CRM's word, sent with the CRM Connection's key.
                            @if e.trigger == SyncTrigger::Widget { br; span.muted { "reported by the CRM" } }
                        }
                        td data-label="Trigger" { (e.trigger.as_str()) }
                        td data-label="Outcome" { (outcome_badge(e.outcome)) }
                        td data-label="Xero item" {
                            @if let Some(item) = &e.item_id {
                                a href=(links.xero_item(item)) title=(item) { "Open in Xero" }
                            }
                        }
                        td data-label="Message" { (e.messages.first().map_or("", String::as_str)) }
                    }
                }
            }
        }
    }
}

#[derive(Debug, Deserialize)]
pub(super) struct HistoryQuery {
    sync: Option<i64>,
}

/// `GET /admin/products/{id}`: the product's syncs with what was sent and what Xero answered.
pub(super) async fn product(
    State(state): State<AdminState>,
    admin: Admin,
    Path(id): Path<String>,
    Query(query): Query<HistoryQuery>,
) -> Result<Response, Failure> {
    let internal = |e: crate::store::StoreError| Failure::internal(state.mode, &e);
    let entries = state.store.history(&id, HISTORY_ROWS).await.map_err(internal)?;
    let links = state.connections.record_links().await;
    let name = entries.iter().find_map(SyncLogEntry::product_name).map(str::to_owned);
    let title = match &name {
        Some(name) => format!("History of {name}"),
        None => format!("History of product {id}"),
    };
    let latest_item = entries.iter().find_map(|e| e.item_id.clone());
    let pretty = |value: &serde_json::Value| serde_json::to_string_pretty(value).unwrap_or_default();
    let body = html! {
        p {
            "CRM record " code { (id) } ": "
            a href=(links.crm_record(&id)) { "open it in Zoho CRM" }
            @if let Some(item) = &latest_item {
                " · " a href=(links.xero_item(item)) { "open its item in Xero" }
            }
            " · " a href=(log_link(&[("product", id.as_str())])) { "its rows in the log" }
        }
        @if entries.is_empty() {
            p.empty role="status" { "This product has not been synced." }
        }
        @for e in &entries {
            article.sync id={ "sync-" (e.id) } aria-labelledby={ "sync-" (e.id) "-h" } {
                h2 id={ "sync-" (e.id) "-h" } { (time(e.started_at)) " · " (outcome_badge(e.outcome)) }
                p {
                    "By " (e.actor)
                    @if e.trigger == SyncTrigger::Widget { " (reported by the CRM)" }
                    " (" (e.trigger.as_str()) ")"
                    @if let Some(code) = &e.product_code { ", code " span.code { (code) } }
                    @if let Some(item) = &e.item_id { ", " a href=(links.xero_item(item)) { "item in Xero" } }
                    @if let Some(done) = e.finished_at {
                        ", took " ((done - e.started_at).num_milliseconds()) " ms"
                    }
                    "; run " a href=(log_link(&[("run", e.run_id.as_str())])) { code { (e.run_id) } }
                    @if let Some(bulk) = e.bulk_run_id { ", part of " a href={ "/admin/runs/" (bulk) } { "bulk run " (bulk) } }
                    "."
                }
                @if !e.messages.is_empty() {
                    ul.messages { @for m in &e.messages { li { (m) } } }
                }
                @let open = query.sync == Some(e.id);
                details open[open] {
                    summary { "What was sent to Xero" }
                    @match &e.request {
                        Some(request) => pre { code { (pretty(request)) } },
                        None => p.muted { "Nothing: the sync stopped before an item could be built." },
                    }
                }
                details open[open] {
                    summary { "What Xero answered" }
                    @match &e.response {
                        Some(response) => pre { code { (pretty(response)) } },
                        None => p.muted { "Nothing: no call to Xero was made (refused, unchanged, or stopped before)." },
                    }
                }
            }
        }
        @if entries.len() == HISTORY_ROWS as usize {
            p.muted { "The " (HISTORY_ROWS) " most recent syncs; older ones are in the log." }
        }
    };
    Ok(respond(StatusCode::OK, layout_at(state.mode, Some(Nav::Log), &title, Some(admin.csrf()), body)))
}

/// A CSV cell a spreadsheet will not run: text starting with `=`, `+`, `-`, `@`, a tab or a carriage return
/// is a formula to Excel, LibreOffice and Sheets, so it gets a leading `'` (OWASP's advice).
pub(crate) fn csv_safe(text: &str) -> std::borrow::Cow<'_, str> {
    if text.starts_with(['=', '+', '-', '@', '\t', '\r']) {
        std::borrow::Cow::Owned(format!("'{text}"))
    } else {
        std::borrow::Cow::Borrowed(text)
    }
}

const CSV_HEADER: [&str; 14] = [
    "id",
    "started_at",
    "finished_at",
    "product_id",
    "product_name",
    "product_code",
    "outcome",
    "trigger",
    "who",
    "run_id",
    "xero_item_id",
    "xero_item_url",
    "crm_record_url",
    "messages",
];

/// RFC 4180: CRLF between records, fields quoted when they need it.
fn csv_writer(buffer: Vec<u8>) -> csv::Writer<Vec<u8>> {
    csv::WriterBuilder::new().terminator(csv::Terminator::CRLF).from_writer(buffer)
}

fn csv_row(writer: &mut csv::Writer<Vec<u8>>, e: &SyncLogEntry, links: &RecordLinks) -> csv::Result<()> {
    let rfc3339 = |at: DateTime<Utc>| at.to_rfc3339_opts(chrono::SecondsFormat::Secs, true);
    let item = e.item_id.as_deref().unwrap_or_default();
    let mut field = |text: &str| writer.write_field(csv_safe(text).as_bytes());
    field(&e.id.to_string())?;
    field(&rfc3339(e.started_at))?;
    field(&e.finished_at.map(rfc3339).unwrap_or_default())?;
    field(&e.product_id)?;
    field(e.product_name().unwrap_or_default())?;
    field(e.product_code.as_deref().unwrap_or_default())?;
    field(e.outcome.as_str())?;
    field(e.trigger.as_str())?;
    field(&e.actor)?;
    field(&e.run_id)?;
    field(item)?;
    field(&if item.is_empty() { String::new() } else { links.xero_item(item) })?;
    field(&links.crm_record(&e.product_id))?;
    field(&e.messages.join("\n"))?;
    writer.write_record(None::<&[u8]>)
}

/// `GET /admin/log.csv`: the filtered log, every matching row, streamed in chunks (RFC 4180, UTF-8 with a
/// byte order mark so spreadsheets read it as UTF-8). Without a session: 401, not a login page.
pub(super) async fn csv(
    State(state): State<AdminState>,
    headers: HeaderMap,
    Query(query): Query<LogQuery>,
) -> Response {
    match Admin::from_headers(&state, &headers).await {
        Ok(Some(_)) => {}
        Ok(None) => {
            return (
                StatusCode::UNAUTHORIZED,
                [(header::CACHE_CONTROL, "no-store")],
                "Log in at /admin/login first.\n",
            )
                .into_response();
        }
        Err(failure) => return failure.into_response(),
    }
    let (filter, _) = match query.parse() {
        Ok(parsed) => parsed,
        Err(errors) => {
            let message: Vec<String> = errors.iter().map(|e| format!("{}: {}", e.field, e.message)).collect();
            return (StatusCode::BAD_REQUEST, format!("{}\n", message.join("\n"))).into_response();
        }
    };
    let links = state.connections.record_links().await;
    let (mut writer, reader) = tokio::io::duplex(EXPORT_BUFFER);
    let store = state.store.clone();
    tokio::spawn(async move {
        let mut csv = csv_writer(b"\xEF\xBB\xBF".to_vec());
        if csv.write_record(CSV_HEADER).is_err() {
            return;
        }
        let mut before = None;
        loop {
            let chunk = match store.log_export(&filter, before, EXPORT_CHUNK).await {
                Ok(chunk) => chunk,
                Err(error) => {
                    // The body is cut short: the download fails visibly rather than looking complete.
                    tracing::error!(error = %crate::describe(&error), "the log export failed");
                    return;
                }
            };
            for entry in &chunk {
                if csv_row(&mut csv, entry, &links).is_err() {
                    return;
                }
            }
            let bytes = match csv.into_inner() {
                Ok(bytes) => bytes,
                Err(_) => return,
            };
            if writer.write_all(&bytes).await.is_err() {
                return; // the browser went away
            }
            if chunk.len() < EXPORT_CHUNK as usize {
                let _ = writer.shutdown().await;
                return;
            }
            before = chunk.last().map(|e| e.id);
            csv = csv_writer(Vec::with_capacity(EXPORT_BUFFER));
        }
    });
    let name = format!("attachment; filename=\"xero-sync-log-{}.csv\"", Utc::now().format("%Y%m%d-%H%M"));
    let stream = tokio_util::io::ReaderStream::with_capacity(reader, EXPORT_BUFFER);
    let mut response = Body::from_stream(stream).into_response();
    let headers = response.headers_mut();
    headers.insert(header::CONTENT_TYPE, HeaderValue::from_static("text/csv; charset=utf-8; header=present"));
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    headers.insert(header::X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff"));
    if let Ok(value) = HeaderValue::from_str(&name) {
        headers.insert(header::CONTENT_DISPOSITION, value);
    }
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cells_a_spreadsheet_would_run_are_quoted_out() {
        for formula in ["=HYPERLINK(\"http://x\")", "+1", "-2", "@SUM(A1)", "\tx", "\rx"] {
            assert_eq!(csv_safe(formula), format!("'{formula}"));
        }
        for plain in ["Mouse", "WM-100", "", "a=b", "2026-12-05T10:00:00Z"] {
            assert_eq!(csv_safe(plain), plain);
        }
    }

    #[test]
    fn times_read_as_days_minutes_or_instants_in_utc() {
        let at = |text: &str, end: bool| parse_time(text, end).map(|t| t.to_rfc3339());
        assert_eq!(at("2026-12-05", false).as_deref(), Some("2026-12-05T00:00:00+00:00"));
        assert_eq!(at("2026-12-05", true).as_deref(), Some("2026-12-06T00:00:00+00:00"));
        assert_eq!(at("2026-12-05T14:30", true).as_deref(), Some("2026-12-05T14:31:00+00:00"));
        assert_eq!(at("2026-12-05T14:30:10", false).as_deref(), Some("2026-12-05T14:30:10+00:00"));
        assert_eq!(at("2026-12-05T14:30:00+10:00", false).as_deref(), Some("2026-12-05T04:30:00+00:00"));
        assert_eq!(at("yesterday", false), None);
        assert_eq!(at("2026-13-01", false), None);
    }

    #[test]
    fn a_query_becomes_a_filter_or_says_which_field_is_wrong() {
        let query = LogQuery {
            product: Some("  mouse ".into()),
            outcome: Some(NEEDS_ATTENTION.into()),
            trigger: Some("widget".into()),
            from: Some("2026-12-01".into()),
            before: Some("40".into()),
            ..LogQuery::default()
        };
        let (filter, cursor) = query.parse().expect("valid");
        assert_eq!(filter.product.as_deref(), Some("mouse"));
        assert_eq!(filter.outcomes, SyncOutcome::NEEDS_ATTENTION);
        assert_eq!(filter.trigger, Some(SyncTrigger::Widget));
        assert!(filter.from.is_some() && filter.to.is_none());
        assert_eq!(cursor, LogCursor::Before(40));
        assert_eq!(
            query.link("/admin/log.csv", None),
            "/admin/log.csv?product=mouse&outcome=problems&trigger=widget&from=2026-12-01"
        );

        let bad = LogQuery {
            outcome: Some("great".into()),
            trigger: Some("cron".into()),
            from: Some("2026-12-05".into()),
            to: Some("2026-12-01".into()),
            ..LogQuery::default()
        };
        let fields: Vec<&str> = bad.parse().expect_err("invalid").iter().map(|e| e.field).collect();
        assert_eq!(fields, ["outcome", "trigger", "to"]);
    }
}
