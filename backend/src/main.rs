use std::process::ExitCode;

use backend::config::Settings;
use tracing_subscriber::EnvFilter;

#[tokio::main]
async fn main() -> ExitCode {
    let args: Vec<String> = std::env::args_os().map(|arg| arg.to_string_lossy().into_owned()).collect();
    if let Some(code) = backend::cli::run_cli(&args) {
        return code;
    }
    tracing_subscriber::fmt()
        .with_env_filter(EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info")))
        .init();
    let settings = match Settings::from_env() {
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
    let server = match backend::server::start(settings, listener).await {
        Ok(server) => server,
        Err(error) => {
            eprintln!("xero-sync: cannot start: {error}");
            return ExitCode::FAILURE;
        }
    };
    if let Some(path) = &server.created_key_file {
        tracing::warn!(path = %path.display(), "created a new master key file: back it up, the stored tokens cannot be read without it");
    }
    match &server.sandbox {
        Some(sandbox) => {
            tracing::warn!(
                "SANDBOX MODE: no Xero or Zoho credentials configured; running against the built-in simulators"
            );
            println!("\n  SANDBOX MODE (no Xero/Zoho credentials configured)\n");
            println!("  CRM product page with the widget: {}", sandbox.sandbox.crm.url);
            println!("  xero-sync service:                {}", server.url);
            println!("  Xero simulator:                   {}", sandbox.sandbox.xero.url);
            println!("  Zoho CRM simulator:               {}\n", sandbox.sandbox.zoho.url);
        }
        None => println!("xero-sync is running on {} (widget: {}/widget/)", server.url, server.url),
    }
    match server.task.await {
        Ok(Ok(())) => ExitCode::SUCCESS,
        Ok(Err(error)) => {
            eprintln!("xero-sync: server error: {error}");
            ExitCode::FAILURE
        }
        Err(error) => {
            eprintln!("xero-sync: server task failed: {error}");
            ExitCode::FAILURE
        }
    }
}
