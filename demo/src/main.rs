//! `xero-sync-demo`: xero-sync against the built-in simulators, with no accounts anywhere (`scripts/run.sh`).
//!
//! Listens on `XERO_SYNC_ADDR` (default `127.0.0.1:8080`, loopback only: the demo's password is public)
//! and serves the widget from `XERO_SYNC_WIDGET_DIR` if set; every other setting is the demo's own. Its
//! state lives in a temporary directory removed when it stops (ctrl-c or SIGTERM).

use std::net::SocketAddr;
use std::process::ExitCode;

use backend::server::shutdown_signal;
use tracing_subscriber::EnvFilter;

#[tokio::main]
async fn main() -> ExitCode {
    if std::env::args().len() > 1 {
        eprintln!("usage: xero-sync-demo    (XERO_SYNC_ADDR sets the loopback address; see README.md)");
        return ExitCode::from(2);
    }
    tracing_subscriber::fmt()
        .with_env_filter(EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info")))
        .with_writer(std::io::stderr)
        .init();
    let addr = match std::env::var("XERO_SYNC_ADDR").ok().filter(|a| !a.trim().is_empty()) {
        None => SocketAddr::from(([127, 0, 0, 1], 8080)),
        Some(text) => match text.trim().parse::<SocketAddr>() {
            Ok(addr) if addr.ip().is_loopback() => addr,
            Ok(addr) => {
                eprintln!(
                    "xero-sync-demo: XERO_SYNC_ADDR {addr} is not a loopback address; the demo's admin password \
                     is public, so it only listens on loopback"
                );
                return ExitCode::from(2);
            }
            Err(error) => {
                eprintln!("xero-sync-demo: XERO_SYNC_ADDR {text:?} is not an address like 127.0.0.1:8080: {error}");
                return ExitCode::from(2);
            }
        },
    };
    let listener = match tokio::net::TcpListener::bind(addr).await {
        Ok(listener) => listener,
        Err(error) => {
            eprintln!("xero-sync-demo: cannot listen on {addr}: {error}");
            return ExitCode::from(2);
        }
    };
    let widget_dir = std::env::var("XERO_SYNC_WIDGET_DIR").ok();
    let vars = move |name: &str| (name == "XERO_SYNC_WIDGET_DIR").then(|| widget_dir.clone()).flatten();
    let demo = match demo::start(listener, vars, demo::Tuning::default()).await {
        Ok(demo) => demo,
        Err(error) => {
            eprintln!("xero-sync-demo: cannot start: {}", backend::cli::describe(&error));
            return ExitCode::FAILURE;
        }
    };
    demo.server.shutdown_on(shutdown_signal());
    let url = &demo.server.url;
    println!("\n  SANDBOX MODE: xero-sync-demo, against the built-in simulators\n");
    println!("  CRM product page with the widget: {}     <- open this", demo.sandbox.crm.url);
    println!("  xero-sync service:                {url}");
    println!("  admin pages:                      {url}/admin   (password: {})", demo::DEMO_PASSWORD);
    println!("  Xero simulator:                   {}", demo.sandbox.xero.url);
    println!("  Zoho CRM simulator:               {}\n", demo.sandbox.zoho.url);
    demo.wait().await;
    ExitCode::SUCCESS
}
