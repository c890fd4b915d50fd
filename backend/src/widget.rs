//! Serves the built widget. Its page is the one file the backend shapes as it serves it: it names the SDK
//! script (Zoho's CDN in production, the emulated CRM's stand-in in the demo), tells the widget which mode
//! it runs in, and says who may frame it. The other files (wasm, js, css) are served as built: from the
//! binary (release builds embed `widget/dist`), or from a directory when one is configured.

use std::borrow::Cow;
use std::path::PathBuf;

use axum::Router;
use axum::extract::{FromRef, Path, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use tower_http::services::ServeDir;

use crate::config::{Mode, Settings};

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
    /// `frame-ancestors` sources: the CRM's origins.
    frame_ancestors: String,
    mode: Mode,
}

impl WidgetPage {
    pub(crate) fn new(settings: &Settings) -> Self {
        Self {
            dir: settings.widget_dir.clone(),
            sdk_url: settings.zoho_sdk_url.clone(),
            frame_ancestors: settings.frame_ancestors.clone(),
            mode: settings.mode,
        }
    }
}

pub(crate) fn routes<S>(dir: Option<PathBuf>) -> Router<S>
where
    S: Clone + Send + Sync + 'static,
    WidgetPage: FromRef<S>,
{
    let files = match dir {
        Some(dir) => Router::new().fallback_service(ServeDir::new(dir)),
        None => Router::new().route("/{*path}", get(embedded_asset)),
    };
    Router::new().route("/widget/", get(index)).route("/widget/index.html", get(index)).nest("/widget", files)
}

async fn index_html(page: &WidgetPage) -> Option<String> {
    match &page.dir {
        Some(dir) => tokio::fs::read_to_string(dir.join("index.html")).await.ok(),
        None => Built::get("index.html").and_then(|file| String::from_utf8(file.data.into_owned()).ok()),
    }
}

async fn index(State(page): State<WidgetPage>) -> Response {
    let page = &page;
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
    let mut response = ([(header::CONTENT_TYPE, "text/html; charset=utf-8")], html).into_response();
    let headers = response.headers_mut();
    // Each click opens the popup afresh: always the current build.
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
    if let Ok(csp) = HeaderValue::from_str(&format!("frame-ancestors 'self' {}", page.frame_ancestors)) {
        headers.insert(header::CONTENT_SECURITY_POLICY, csp);
    }
    response
}

async fn embedded_asset(Path(path): Path<String>) -> Response {
    let Some(file) = Built::get(&path) else {
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
