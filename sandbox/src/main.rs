//! Runs the Xero and Zoho simulators and the emulated CRM page until Ctrl-C.
//!
//! `cargo run -p sandbox -- --xero-addr 127.0.0.1:0 --zoho-addr 127.0.0.1:0 --crm-addr 127.0.0.1:0
//! [--time-scale N] [--widget-url URL] [--backend-url URL --connection NAME --api-key KEY]`
//!
//! (`xero-sync-demo` runs all of this with the service connected; this binary runs the simulators alone.)

use std::net::SocketAddr;
use std::process::ExitCode;

use sandbox::{Sandbox, SandboxConfig};

const USAGE: &str = "usage: sandbox [--xero-addr ADDR] [--zoho-addr ADDR] [--crm-addr ADDR] [--time-scale N] \
                     [--widget-url URL] [--backend-url URL --connection NAME --api-key KEY]";

#[derive(Default)]
struct Args {
    config: SandboxConfig,
    widget_url: Option<String>,
    backend_url: Option<String>,
    /// The CRM Connection's name, as an admin names it in Zoho (the widget invokes it by name).
    connection: Option<String>,
    api_key: Option<String>,
}

fn parse(mut args: impl Iterator<Item = String>) -> Result<Args, String> {
    let mut parsed = Args::default();
    while let Some(flag) = args.next() {
        if flag == "-h" || flag == "--help" {
            return Err(USAGE.into());
        }
        let value = args.next().ok_or_else(|| format!("{flag} needs a value\n{USAGE}"))?;
        let addr = |v: &str| v.parse::<SocketAddr>().map_err(|e| format!("{flag} {v}: {e}"));
        match flag.as_str() {
            "--xero-addr" => parsed.config.xero_addr = addr(&value)?,
            "--zoho-addr" => parsed.config.zoho_addr = addr(&value)?,
            "--crm-addr" => parsed.config.crm_addr = addr(&value)?,
            "--time-scale" => {
                parsed.config.time_scale = value
                    .parse::<f64>()
                    .ok()
                    .filter(|s| *s > 0.0 && s.is_finite())
                    .ok_or_else(|| format!("--time-scale {value}: expected a positive number"))?
            }
            "--widget-url" => parsed.widget_url = Some(value),
            "--backend-url" => parsed.backend_url = Some(value),
            "--connection" => parsed.connection = Some(value),
            "--api-key" => parsed.api_key = Some(value),
            other => return Err(format!("unknown argument {other}\n{USAGE}")),
        }
    }
    Ok(parsed)
}

#[tokio::main]
async fn main() -> ExitCode {
    let args = match parse(std::env::args().skip(1)) {
        Ok(args) => args,
        Err(message) => {
            eprintln!("{message}");
            return ExitCode::from(2);
        }
    };
    let sandbox = match Sandbox::start(args.config).await {
        Ok(sandbox) => sandbox,
        Err(e) => {
            eprintln!("cannot start the sandbox: {e}");
            return ExitCode::FAILURE;
        }
    };
    if let Some(url) = &args.widget_url {
        sandbox.crm.set_widget_url(url);
    }
    match (&args.backend_url, &args.connection) {
        (Some(url), Some(name)) => sandbox.crm.set_connection(name, url, args.api_key.as_deref().unwrap_or_default()),
        (None, None) => {}
        _ => {
            eprintln!("--backend-url and --connection go together\n{USAGE}");
            return ExitCode::from(2);
        }
    }
    println!("xero: {}", sandbox.xero.url);
    println!("zoho: {}", sandbox.zoho.url);
    println!("crm:  {}/", sandbox.crm.url);
    println!(
        "zoho self-client: client_id={} client_secret={}",
        sandbox.zoho.config().client_id,
        sandbox.zoho.config().client_secret
    );
    println!(
        "zoho self-client code (3 simulated minutes): {}",
        sandbox.zoho.self_client_code(&["ZohoCRM.modules.products.ALL", "ZohoCRM.settings.fields.READ"])
    );
    if let Err(e) = tokio::signal::ctrl_c().await {
        eprintln!("cannot wait for Ctrl-C: {e}");
        return ExitCode::FAILURE;
    }
    ExitCode::SUCCESS
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(list: &[&str]) -> Result<Args, String> {
        parse(list.iter().map(|s| s.to_string()))
    }

    #[test]
    fn parses_addresses_and_scale() {
        let parsed = args(&["--zoho-addr", "127.0.0.1:4001", "--time-scale", "60", "--widget-url", "http://w/"])
            .expect("valid arguments");
        assert_eq!(parsed.config.zoho_addr, SocketAddr::from(([127, 0, 0, 1], 4001)));
        assert_eq!(parsed.config.time_scale, 60.0);
        assert_eq!(parsed.widget_url.as_deref(), Some("http://w/"));
        assert_eq!(parsed.config.crm_addr.port(), 0, "unset addresses pick a free port");
    }

    #[test]
    fn rejects_bad_arguments() {
        assert!(args(&["--time-scale", "0"]).is_err());
        assert!(args(&["--crm-addr", "localhost"]).is_err());
        assert!(args(&["--zoho-addr"]).is_err());
        assert!(args(&["--colour", "red"]).is_err());
    }
}
