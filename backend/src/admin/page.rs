//! HTML plumbing of the admin pages: escaping, the shared layout (with the sandbox banner), the security
//! headers every page carries, and error pages.

use std::fmt::Display;

use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{Html, IntoResponse, Response};

use crate::api::AppState;

/// Escapes text for HTML element content and quoted attribute values. Every interpolated value goes
/// through here; only markup written in this module's `format!` strings is trusted.
pub fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

const STYLE: &str = "body{font:16px/1.5 system-ui,sans-serif;max-width:60rem;margin:0 auto;padding:0 1rem 3rem;color:#1b1b1b}
.sandbox{background:#b00020;color:#fff;font-weight:700;font-size:1.2rem;text-align:center;padding:.6rem;margin:0 -1rem 1rem}
header{display:flex;justify-content:space-between;align-items:center;border-bottom:1px solid #ccc;margin-bottom:1rem}
section{border:1px solid #ccc;border-radius:6px;padding:0 1rem 1rem;margin:1rem 0}
table{border-collapse:collapse;width:100%;font-size:.9rem}th,td{border-bottom:1px solid #ddd;padding:.3rem;text-align:left;vertical-align:top}
button{font:inherit;padding:.35rem .9rem;cursor:pointer}input[type=text],input[type=password]{font:inherit;padding:.3rem;width:22rem;max-width:100%}
:focus-visible{outline:3px solid #1565c0;outline-offset:2px}
.ok{color:#1b5e20;font-weight:600}.warn{color:#b00020;font-weight:600}.muted{color:#555}
.key{font:1.1rem monospace;background:#fff8e1;border:2px solid #f9a825;padding:.6rem;word-break:break-all}
form.inline{display:inline}";

/// A whole page. `title` is escaped here; `body` is markup whose interpolated values the caller escaped.
/// `csrf` is the session's token when an admin is logged in, for the logout button.
pub fn layout(sandbox: bool, title: &str, csrf: Option<&str>, body: &str) -> String {
    let banner = if sandbox {
        r#"<div class="sandbox" role="note">SANDBOX MODE: simulated Xero and Zoho, nothing here is real</div>"#
    } else {
        ""
    };
    let nav = match csrf {
        Some(csrf) => format!(
            r#"<nav><a href="/admin">Dashboard</a> <form class="inline" method="post" action="/admin/logout"><input type="hidden" name="csrf" value="{}"><button type="submit">Log out</button></form></nav>"#,
            escape(csrf)
        ),
        None => String::new(),
    };
    let title = escape(title);
    format!(
        r#"<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width,initial-scale=1">
<title>{title} · xero-sync admin</title><style>{STYLE}</style></head>
<body>{banner}<header><strong>xero-sync admin</strong>{nav}</header>
<main><h1>{title}</h1>
{body}
</main></body></html>"#
    )
}

/// A page with the headers every admin page carries: never cached (the API key page especially), never
/// framed, no scripts.
pub fn respond(status: StatusCode, html: String) -> Response {
    let mut response = (status, Html(html)).into_response();
    let headers = response.headers_mut();
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    headers.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    headers.insert(header::X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff"));
    headers.insert(header::REFERRER_POLICY, HeaderValue::from_static("same-origin"));
    headers.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(
            "default-src 'none'; style-src 'unsafe-inline'; frame-ancestors 'none'; base-uri 'none'",
        ),
    );
    response
}

/// An error page. It carries the sandbox flag so error pages wear the banner too.
#[derive(Debug)]
pub struct Failure {
    status: StatusCode,
    title: &'static str,
    message: String,
    sandbox: bool,
}

impl Failure {
    pub fn new(state: &AppState, status: StatusCode, title: &'static str, message: impl Into<String>) -> Self {
        Self { status, title, message: message.into(), sandbox: state.sandbox.is_some() }
    }

    /// A failure of ours: the detail goes to the log, the page says something generic.
    pub fn internal(state: &AppState, error: impl Display) -> Self {
        tracing::error!(%error, "admin page failed");
        Self::new(
            state,
            StatusCode::INTERNAL_SERVER_ERROR,
            "Something went wrong",
            "The request failed on our side; the details are in the service log.",
        )
    }
}

impl IntoResponse for Failure {
    fn into_response(self) -> Response {
        let body = format!(
            r#"<p role="alert">{}</p><p><a href="/admin">Back to the dashboard</a></p>"#,
            escape(&self.message)
        );
        respond(self.status, layout(self.sandbox, self.title, None, &body))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escape_covers_markup_and_both_quotes() {
        assert_eq!(
            escape(r#"<a href="x" title='y'>&</a>"#),
            "&lt;a href=&quot;x&quot; title=&#39;y&#39;&gt;&amp;&lt;/a&gt;"
        );
        assert_eq!(escape("plain text"), "plain text");
    }

    #[test]
    fn the_banner_shows_in_sandbox_mode_only() {
        assert!(layout(true, "T", None, "").contains("SANDBOX"));
        assert!(!layout(false, "T", None, "").contains("SANDBOX"));
        assert!(layout(false, "<T>", None, "").contains("<h1>&lt;T&gt;</h1>"));
    }
}
