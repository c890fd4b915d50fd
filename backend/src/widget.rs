//! Serves the built widget. Its page is the one file the backend shapes as it serves it: it names the SDK
//! script (Zoho's CDN in production, the emulated CRM's stand-in in the demo), tells the widget which mode
//! it runs in, and its inline start-up script is allowed by hash. The other files (wasm, js, css) are served
//! as built: from the binary (release builds embed `widget/dist`), or from a directory when one is
//! configured.
//!
//! Every path under `/widget/` is decoded and normalised before anything is looked up (`//`, `.`,
//! `%69ndex.html` all name `index.html`, so the page is always the shaped one; `..` names nothing), and one
//! layer gives every response, a 404's included, the security headers ([`crate::headers`]).

use std::borrow::Cow;
use std::path::PathBuf;

use axum::Router;
use axum::body::Body;
use axum::extract::{FromRef, Request, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::middleware::map_response_with_state;
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::get;
use percent_encoding::percent_decode_str;
use tower::ServiceExt;
use tower_http::services::ServeFile;

use crate::config::{Mode, Settings};
use crate::headers::{InlineScripts, SecurityHeaders, apply};

/// In `widget/index.html`, replaced by the SDK script's URL.
const SDK_PLACEHOLDER: &str = "__ZOHO_SDK_URL__";
/// In `widget/index.html`, replaced by `sandbox` (the demo) or `production`.
const MODE_PLACEHOLDER: &str = "__XERO_SYNC_MODE__";

/// Trunk's output, compiled into release binaries (debug builds read the folder at run time).
#[derive(rust_embed::Embed)]
#[folder = "../widget/dist"]
#[allow_missing = true]
struct Built;

/// How the widget page is served.
#[derive(Debug, Clone)]
pub(crate) struct WidgetPage {
    /// A directory to serve the build from instead of the embedded one.
    dir: Option<PathBuf>,
    sdk_url: String,
    mode: Mode,
}

impl WidgetPage {
    pub(crate) fn new(settings: &Settings) -> Self {
        Self { dir: settings.widget_dir.clone(), sdk_url: settings.zoho_sdk_url.clone(), mode: settings.mode }
    }
}

pub(crate) fn routes<S>(settings: &Settings) -> Router<S>
where
    S: Clone + Send + Sync + 'static,
    WidgetPage: FromRef<S>,
{
    Router::new()
        .route("/widget", get(add_slash))
        .route("/widget/", get(serve))
        .route("/widget/{*path}", get(serve))
        .layer(map_response_with_state(SecurityHeaders::widget(settings), apply))
}

/// The file a path under `/widget/` names, once percent-decoded and normalised; `None` for a path that
/// could climb out (`..`) or is not text.
fn file_name(path: &str) -> Option<String> {
    let decoded = percent_decode_str(path).decode_utf8().ok()?;
    let mut segments = Vec::new();
    for segment in decoded.split('/') {
        match segment {
            "" | "." => {}
            ".." => return None,
            _ if segment.contains(['\\', '\0']) => return None,
            _ => segments.push(segment),
        }
    }
    Some(if segments.is_empty() { INDEX.to_owned() } else { segments.join("/") })
}

const INDEX: &str = "index.html";

/// `GET /widget`: the page's relative file names need the slash.
async fn add_slash(request: Request) -> Redirect {
    match request.uri().query() {
        Some(query) => Redirect::permanent(&format!("/widget/?{query}")),
        None => Redirect::permanent("/widget/"),
    }
}

/// `GET /widget/...`: the shaped page for any spelling of `index.html`, else the built file, else 404.
async fn serve(State(page): State<WidgetPage>, request: Request) -> Response {
    let path = request.uri().path().strip_prefix("/widget").unwrap_or_default();
    match file_name(path) {
        None => StatusCode::NOT_FOUND.into_response(),
        Some(name) if name == INDEX => index(&page).await,
        Some(name) => match &page.dir {
            Some(dir) => file_from(dir.join(name), request).await,
            None => embedded_asset(&name),
        },
    }
}

async fn index_html(page: &WidgetPage) -> Option<String> {
    match &page.dir {
        Some(dir) => tokio::fs::read_to_string(dir.join(INDEX)).await.ok(),
        None => Built::get(INDEX).and_then(|file| String::from_utf8(file.data.into_owned()).ok()),
    }
}

async fn index(page: &WidgetPage) -> Response {
    let Some(html) = index_html(page).await else {
        tracing::error!(dir = ?page.dir, "the widget is not built");
        return (StatusCode::SERVICE_UNAVAILABLE, "The widget is not built yet (trunk build --release in widget/).")
            .into_response();
    };
    let mode = match page.mode {
        Mode::Demo => "sandbox",
        Mode::Production => "production",
    };
    // The URL goes into a quoted attribute: escaped by the same crate as every admin page.
    let sdk_url = maud::html! { (page.sdk_url) }.into_string();
    let html = html.replace(SDK_PLACEHOLDER, &sdk_url).replace(MODE_PLACEHOLDER, mode);
    let scripts = InlineScripts::of(&html);
    let mut response = ([(header::CONTENT_TYPE, "text/html; charset=utf-8")], html).into_response();
    // Each click opens the popup afresh: always the current build.
    response.headers_mut().insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
    response.extensions_mut().insert(scripts);
    response
}

/// A file of the configured build directory; directories and missing files are 404.
async fn file_from(path: PathBuf, request: Request) -> Response {
    if !tokio::fs::metadata(&path).await.is_ok_and(|m| m.is_file()) {
        return StatusCode::NOT_FOUND.into_response();
    }
    match ServeFile::new(path).oneshot(request).await {
        Ok(response) => response.map(Body::new),
        Err(infallible) => match infallible {},
    }
}

fn embedded_asset(path: &str) -> Response {
    let Some(file) = Built::get(path) else {
        return StatusCode::NOT_FOUND.into_response();
    };
    let mime = file.metadata.mimetype().to_owned();
    let body: Cow<'static, [u8]> = file.data;
    let mut response = ([(header::CONTENT_TYPE, mime)], body.into_owned()).into_response();
    // Trunk puts a content hash in every asset's name: a name never changes content.
    response
        .headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("public, max-age=31536000, immutable"));
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_spelling_of_a_file_is_normalised_and_climbing_out_names_nothing() {
        for index in ["", "/", "//", "/index.html", "//index.html", "/./index.html", "/%69ndex.html", "/index.html/"] {
            assert_eq!(file_name(index).as_deref(), Some(INDEX), "{index:?}");
        }
        assert_eq!(file_name("/style-1.css").as_deref(), Some("style-1.css"));
        assert_eq!(file_name("/snippets//x/./y.js").as_deref(), Some("snippets/x/y.js"));
        assert_eq!(file_name("/%2Fetc%2Fpasswd").as_deref(), Some("etc/passwd"), "decoded, still relative");
        for bad in ["/../Cargo.toml", "/%2e%2e/Cargo.toml", "/a/%2E%2E/%2E%2E/x", "/a\\..\\b", "/%00", "/%ff"] {
            assert_eq!(file_name(bad), None, "{bad:?}");
        }
    }
}
