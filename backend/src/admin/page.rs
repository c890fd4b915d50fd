//! What every admin page shares: the layout (with the demo banner), the one stylesheet, the form pattern
//! that carries the CSRF token, and error pages.
//!
//! A new page is a handler that builds its body with `maud::html!` and returns
//! `respond(status, layout(mode, title, Some(csrf), body))`; a state-changing control is a [`form`] (or a
//! one-button [`button`]) posted to a handler that takes [`super::auth::AdminForm`].

use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use chrono::{DateTime, SecondsFormat, Utc};
use maud::{DOCTYPE, Markup, html};

use crate::config::Mode;

/// Where the stylesheet is served.
pub(super) const STYLESHEET_PATH: &str = "/admin/style.css";
const STYLESHEET: &str = include_str!("style.css");

/// `GET /admin/style.css`
pub(super) async fn stylesheet() -> Response {
    let mut response = ([(header::CONTENT_TYPE, "text/css; charset=utf-8")], STYLESHEET).into_response();
    response.headers_mut().insert(header::CACHE_CONTROL, HeaderValue::from_static("public, max-age=3600"));
    response
}

/// The pages the navigation links, in its order.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Nav {
    Dashboard,
    Sync,
    Runs,
    Log,
    Readiness,
    Settings,
}

impl Nav {
    const ALL: [Nav; 6] = [Nav::Dashboard, Nav::Sync, Nav::Runs, Nav::Log, Nav::Readiness, Nav::Settings];

    fn link(self) -> (&'static str, &'static str) {
        match self {
            Nav::Dashboard => ("/admin", "Dashboard"),
            Nav::Sync => ("/admin/sync", "Sync"),
            Nav::Runs => ("/admin/runs", "Runs"),
            Nav::Log => ("/admin/log", "Sync log"),
            Nav::Readiness => ("/admin/readiness", "Readiness"),
            Nav::Settings => ("/admin/settings", "Settings"),
        }
    }
}

/// A whole page. `csrf` is the session's token when an admin is logged in, for the navigation and the
/// logout button.
pub(super) fn layout(mode: Mode, title: &str, csrf: Option<&str>, body: Markup) -> Markup {
    layout_at(mode, None, title, csrf, body)
}

/// [`layout`] for a page the navigation links: `here` is marked as the current page.
pub(super) fn layout_at(mode: Mode, here: Option<Nav>, title: &str, csrf: Option<&str>, body: Markup) -> Markup {
    html! {
        (DOCTYPE)
        html lang="en" {
            head {
                meta charset="utf-8";
                meta name="viewport" content="width=device-width,initial-scale=1";
                title { (title) " · xero-sync admin" }
                link rel="stylesheet" href=(STYLESHEET_PATH);
            }
            body {
                a.skip href="#main" { "Skip to the content" }
                @if mode.is_demo() {
                    div.sandbox role="note" { "SANDBOX MODE: simulated Xero and Zoho, nothing here is real" }
                }
                header.top {
                    a.brand href="/admin" { "xero-sync admin" }
                    @if let Some(csrf) = csrf {
                        nav aria-label="Admin pages" {
                            ul {
                                @for item in Nav::ALL {
                                    @let (href, label) = item.link();
                                    li {
                                        @if here == Some(item) {
                                            a href=(href) aria-current="page" { (label) }
                                        } @else {
                                            a href=(href) { (label) }
                                        }
                                    }
                                }
                            }
                        }
                        (button(csrf, "/admin/logout", "Log out"))
                    }
                }
                main id="main" tabindex="-1" {
                    h1 { (title) }
                    (body)
                }
            }
        }
    }
}

/// A time on the admin pages: UTC to the minute, machine-readable in `datetime`.
pub(super) fn time(at: DateTime<Utc>) -> Markup {
    html! { time datetime=(at.to_rfc3339_opts(SecondsFormat::Secs, true)) { (at.format("%Y-%m-%d %H:%M UTC")) } }
}

/// A form POSTed to `action` with the session's CSRF token: every state-changing control is one.
pub(super) fn form(csrf: &str, action: &str, content: Markup) -> Markup {
    html! {
        form method="post" action=(action) {
            input type="hidden" name="csrf" value=(csrf);
            (content)
        }
    }
}

/// A form that is one button.
pub(super) fn button(csrf: &str, action: &str, label: &str) -> Markup {
    html! {
        form.inline method="post" action=(action) {
            input type="hidden" name="csrf" value=(csrf);
            button type="submit" { (label) }
        }
    }
}

/// A page, never cached (the API key page especially). The security headers (never framed, no scripts,
/// styles from our stylesheet only) are the admin router's layer's ([`crate::headers`]).
pub(super) fn respond(status: StatusCode, page: Markup) -> Response {
    let mut response = (status, page).into_response();
    response.headers_mut().insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    response
}

/// An error page. It carries the mode so error pages wear the demo banner too.
#[derive(Debug)]
pub(super) struct Failure {
    status: StatusCode,
    title: &'static str,
    message: String,
    mode: Mode,
}

impl Failure {
    pub(super) fn new(mode: Mode, status: StatusCode, title: &'static str, message: impl Into<String>) -> Self {
        Self { status, title, message: message.into(), mode }
    }

    /// A failure of ours: the detail goes to the log, the page says something generic.
    pub(super) fn internal(mode: Mode, error: &(dyn std::error::Error + 'static)) -> Self {
        tracing::error!(error = %crate::describe(error), "admin page failed");
        Self::new(
            mode,
            StatusCode::INTERNAL_SERVER_ERROR,
            "Something went wrong",
            "The request failed on our side; the details are in the service log.",
        )
    }
}

impl IntoResponse for Failure {
    fn into_response(self) -> Response {
        let body = html! {
            p role="alert" { (self.message) }
            p { a href="/admin" { "Back to the dashboard" } }
        };
        respond(self.status, layout(self.mode, self.title, None, body))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn values_are_escaped_with_both_quotes_in_attributes() {
        let page = layout(Mode::Production, "<T>", Some(r#"a"b'c"#), html! { p { (r#"<a href="x">&</a>"#) } });
        let page = page.into_string();
        assert!(page.contains("<h1>&lt;T&gt;</h1>"), "{page}");
        assert!(page.contains(r#"value="a&quot;b'c""#), "{page}");
        assert!(page.contains("<p>&lt;a href=&quot;x&quot;&gt;&amp;&lt;/a&gt;</p>"), "{page}");
    }

    #[test]
    fn the_banner_shows_in_the_demo_only() {
        let page = |mode| layout(mode, "T", None, html! {}).into_string();
        assert!(page(Mode::Demo).contains("SANDBOX MODE"));
        assert!(!page(Mode::Production).contains("SANDBOX"));
    }
}
