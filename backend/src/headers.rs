//! The security headers of the pages we serve, set by one layer on each router that serves pages (the widget
//! and the admin pages), so that every response under it carries them: pages, files, redirects and 404s.
//!
//! The widget's policy allows exactly what it loads: its own files, WebAssembly compiled from them
//! (`'wasm-unsafe-eval'`), Zoho's SDK script, Trunk's inline start-up script by its hash (computed from the
//! page as served, see [`InlineScripts`]), calls to its own API, and framing by the CRM's pages. The admin
//! pages run no script at all and are never framed.

use std::sync::Arc;

use axum::extract::State;
use axum::http::{HeaderValue, header};
use axum::response::Response;
use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use sha2::{Digest, Sha256};

use crate::config::Settings;

/// The CSP sources (`'sha256-…'`) of a page's inline scripts, put on its response by the handler that
/// shapes it, for [`apply`] to allow in `script-src`.
#[derive(Debug, Clone, Default)]
pub(crate) struct InlineScripts(Vec<String>);

impl InlineScripts {
    /// The hashes of every `<script>` without a `src` in `html`, as CSP matches them: over the exact text
    /// between the tags.
    pub(crate) fn of(html: &str) -> Self {
        let mut sources = Vec::new();
        let mut rest = html;
        while let Some(start) = rest.find("<script") {
            let Some(open_end) = rest[start..].find('>').map(|i| start + i) else { break };
            let open_tag = &rest[start..open_end];
            let Some(close) = rest[open_end..].find("</script>").map(|i| open_end + i) else { break };
            if !open_tag.contains(" src=") {
                let digest = Sha256::digest(&rest.as_bytes()[open_end + 1..close]);
                sources.push(format!("'sha256-{}'", STANDARD.encode(digest)));
            }
            rest = &rest[close + "</script>".len()..];
        }
        Self(sources)
    }
}

/// What one router's responses carry.
#[derive(Debug, Clone)]
pub(crate) struct SecurityHeaders(Arc<Policy>);

#[derive(Debug)]
struct Policy {
    /// The Content-Security-Policy before `script-src`'s inline hashes.
    head: String,
    /// What follows them.
    tail: String,
    framing_denied: bool,
}

/// The `scheme://host[:port]` of a URL, as a CSP source (settings hold validated URLs).
fn origin(url: &str) -> String {
    match url.split_once("://") {
        Some((scheme, rest)) => format!("{scheme}://{}", rest.split(['/', '?', '#']).next().unwrap_or_default()),
        None => url.to_owned(),
    }
}

impl SecurityHeaders {
    /// The widget's: its files, the SDK, its API, framed by the CRM.
    pub(crate) fn widget(settings: &Settings) -> Self {
        Self(Arc::new(Policy {
            head: format!(
                "default-src 'self'; script-src 'self' 'wasm-unsafe-eval' {}",
                origin(&settings.zoho_sdk_url)
            ),
            tail: format!(
                "; connect-src 'self'; style-src 'self'; object-src 'none'; base-uri 'none'; form-action 'none'; \
                 frame-ancestors 'self' {}",
                settings.frame_ancestors
            ),
            framing_denied: false,
        }))
    }

    /// The admin pages': our stylesheet only, forms to ourselves (and to Xero's consent page, where
    /// "Connect Xero" redirects), never framed.
    pub(crate) fn admin(settings: &Settings) -> Self {
        Self(Arc::new(Policy {
            head: "default-src 'none'; style-src 'self'".to_owned(),
            tail: format!(
                "; form-action 'self' {}; frame-ancestors 'none'; base-uri 'none'",
                origin(&settings.xero_endpoints.login_url)
            ),
            framing_denied: true,
        }))
    }

    fn content_security_policy(&self, inline: Option<&InlineScripts>) -> String {
        let policy = &self.0;
        match inline {
            Some(InlineScripts(sources)) if !sources.is_empty() => {
                format!("{} {}{}", policy.head, sources.join(" "), policy.tail)
            }
            _ => format!("{}{}", policy.head, policy.tail),
        }
    }
}

/// The layer's function (`axum::middleware::map_response_with_state`): sets the headers on `response`.
pub(crate) async fn apply(State(headers): State<SecurityHeaders>, mut response: Response) -> Response {
    let csp = headers.content_security_policy(response.extensions().get::<InlineScripts>());
    let map = response.headers_mut();
    // The settings are checked at start-up, so this cannot fail; if it did, nothing would be allowed.
    let value =
        HeaderValue::from_str(&csp).unwrap_or(HeaderValue::from_static("default-src 'none'; frame-ancestors 'none'"));
    map.insert(header::CONTENT_SECURITY_POLICY, value);
    map.insert(header::X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff"));
    map.insert(header::REFERRER_POLICY, HeaderValue::from_static("same-origin"));
    if headers.0.framing_denied {
        map.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    }
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn inline_scripts_are_hashed_and_external_ones_skipped() {
        let html =
            "<script src=\"https://sdk.example/sdk.js\"></script>\n<script type=\"module\">\nimport x;\n</script>";
        let InlineScripts(sources) = InlineScripts::of(html);
        let expected = STANDARD.encode(Sha256::digest(b"\nimport x;\n"));
        assert_eq!(sources, [format!("'sha256-{expected}'")]);
        assert!(InlineScripts::of("<p>no script</p><script>unclosed").0.is_empty());
    }

    #[test]
    fn the_widget_policy_names_the_sdk_origin_the_hashes_and_the_frame_ancestors() {
        let settings = Settings {
            zoho_sdk_url: "https://live.zwidgets.com/js-sdk/1.2/ZohoEmbededAppSDK.min.js".to_owned(),
            frame_ancestors: "https://*.zoho.com".to_owned(),
            ..Settings::load(&|_| None).expect("defaults")
        };
        let policy = SecurityHeaders::widget(&settings)
            .content_security_policy(Some(&InlineScripts(vec!["'sha256-abc'".to_owned()])));
        assert_eq!(
            policy,
            "default-src 'self'; script-src 'self' 'wasm-unsafe-eval' https://live.zwidgets.com 'sha256-abc'; \
             connect-src 'self'; style-src 'self'; object-src 'none'; base-uri 'none'; form-action 'none'; \
             frame-ancestors 'self' https://*.zoho.com"
        );
        let admin = SecurityHeaders::admin(&settings).content_security_policy(None);
        assert_eq!(
            admin,
            "default-src 'none'; style-src 'self'; form-action 'self' https://login.xero.com; \
             frame-ancestors 'none'; base-uri 'none'"
        );
    }
}
