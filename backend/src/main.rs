use std::net::SocketAddr;
use std::path::PathBuf;

use backend::{AppState, app};
use tracing_subscriber::EnvFilter;

#[tokio::main]
async fn main() -> std::io::Result<()> {
    tracing_subscriber::fmt()
        .with_env_filter(EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info,tower_http=info")))
        .init();
    let addr: SocketAddr = match std::env::var("XERO_SYNC_ADDR") {
        Ok(text) => text.parse().map_err(|e| {
            std::io::Error::new(std::io::ErrorKind::InvalidInput, format!("XERO_SYNC_ADDR={text:?}: {e}"))
        })?,
        Err(_) => SocketAddr::from(([127, 0, 0, 1], 8080)),
    };
    let widget_dir = std::env::var_os("XERO_SYNC_WIDGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/../widget/dist")));
    let listener = tokio::net::TcpListener::bind(addr).await?;
    let local = listener.local_addr()?;
    tracing::info!("xero-sync listening on http://{local}");
    println!("xero-sync is running: open http://{local}/widget/ (health: http://{local}/health)");
    axum::serve(listener, app(AppState { widget_dir })).await
}
