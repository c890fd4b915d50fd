//! Serves the built widget. Its page is the one file the backend shapes as it serves it: it names the SDK
//! script (Zoho's CDN in production, the sandbox's stand-in in sandbox mode), tells the widget which mode
//! it runs in, and says who may frame it. The other files (wasm, js, css) are served as built.

use std::path::PathBuf;

use axum::Router;
use axum::extract::State;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use tower_http::services::ServeDir;

use crate::api::AppState;

/// In `widget/index.html`, replaced by the SDK script's URL.
pub const SDK_PLACEHOLDER: &str = "__ZOHO_SDK_URL__";
/// In `widget/index.html`, replaced by `sandbox` or `production`.
pub const MODE_PLACEHOLDER: &str = "__XERO_SYNC_MODE__";

/// How the widget page is served.
#[derive(Debug, Clone)]
pub struct WidgetPage {
    /// Trunk's output (`widget/dist`).
    pub dir: PathBuf,
    pub sdk_url: String,
    /// `frame-ancestors` sources: the CRM's origins.
    pub frame_ancestors: String,
    pub sandbox: bool,
}

pub fn routes(dir: PathBuf) -> Router<AppState> {
    let files = Router::new().route("/index.html", get(index)).fallback_service(ServeDir::new(dir));
    Router::new().route("/widget/", get(index)).nest("/widget", files)
}

async fn index(State(state): State<AppState>) -> Response {
    let page = &state.widget;
    let html = match tokio::fs::read_to_string(page.dir.join("index.html")).await {
        Ok(html) => html,
        Err(error) => {
            tracing::error!(%error, dir = %page.dir.display(), "the widget is not built");
            return (
                StatusCode::SERVICE_UNAVAILABLE,
                "The widget is not built yet (trunk build --release in widget/).",
            )
                .into_response();
        }
    };
    let mode = if page.sandbox { "sandbox" } else { "production" };
    let html = html.replace(SDK_PLACEHOLDER, &escape_attribute(&page.sdk_url)).replace(MODE_PLACEHOLDER, mode);
    let mut response = ([(header::CONTENT_TYPE, "text/html; charset=utf-8")], html).into_response();
    let headers = response.headers_mut();
    // Each click opens the popup afresh: always the current build.
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
    if let Ok(csp) = HeaderValue::from_str(&format!("frame-ancestors 'self' {}", page.frame_ancestors)) {
        headers.insert(header::CONTENT_SECURITY_POLICY, csp);
    }
    response
}

fn escape_attribute(text: &str) -> String {
    text.replace('&', "&amp;").replace('"', "&quot;").replace('<', "&lt;").replace('>', "&gt;")
}
