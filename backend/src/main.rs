//! `xero-sync`: the service against the real Xero and Zoho (the demo is `xero-sync-demo`).

use std::process::ExitCode;

use backend::config::Settings;
use backend::server::{StartOptions, shutdown_signal, start};
use tracing_subscriber::EnvFilter;

#[tokio::main]
async fn main() -> ExitCode {
    let args: Vec<String> = std::env::args_os().map(|arg| arg.to_string_lossy().into_owned()).collect();
    if let Some(code) = backend::cli::run_cli(&args) {
        return code;
    }
    tracing_subscriber::fmt()
        .with_env_filter(EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info")))
        .with_writer(std::io::stderr)
        .init();
    let settings = match Settings::from_env().and_then(|settings| settings.require_credentials().map(|()| settings)) {
        Ok(settings) => settings,
        Err(error) => {
            eprintln!("xero-sync: configuration error: {error}");
            return ExitCode::from(2);
        }
    };
    let listener = match tokio::net::TcpListener::bind(settings.addr).await {
        Ok(listener) => listener,
        Err(error) => {
            eprintln!("xero-sync: cannot listen on {}: {error}", settings.addr);
            return ExitCode::from(2);
        }
    };
    let server = match start(settings, listener, StartOptions::default()).await {
        Ok(server) => server,
        Err(error) => {
            eprintln!("xero-sync: cannot start: {}", backend::cli::describe(&error));
            return ExitCode::FAILURE;
        }
    };
    if let Some(path) = &server.created_key_file {
        let path = path.display();
        tracing::warn!(%path, "created a new master key file: back it up, the stored tokens cannot be read without it");
    }
    server.shutdown_on(shutdown_signal());
    println!("xero-sync is running on {} (widget: {}/widget/, admin: {}/admin)", server.url, server.url, server.url);
    server.stopped().await;
    ExitCode::SUCCESS
}
