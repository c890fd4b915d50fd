//! Runs the Xero and Zoho simulators and the emulated CRM page until Ctrl-C, e.g. in another process than
//! the service under a load or crash test.
//!
//! `cargo run -p sandbox -- --xero-addr 127.0.0.1:0 --zoho-addr 127.0.0.1:0 --crm-addr 127.0.0.1:0
//! [--time-scale N] [--products N] [--product-seed N] [--xero-daily-limit N] [--zoho-credits N]
//! [--zoho-concurrency N] [--xero-as-documented] [--control-addr ADDR] [--widget-url URL]
//! [--backend-url URL --connection NAME --api-key KEY]`
//!
//! (`xero-sync-demo` runs all of this with the service connected; this binary runs the simulators alone.)

use std::net::SocketAddr;
use std::process::ExitCode;

use sandbox::{Sandbox, SandboxConfig};

const USAGE: &str = "usage: sandbox [--xero-addr ADDR] [--zoho-addr ADDR] [--crm-addr ADDR] [--time-scale N] \
                     [--products N] [--product-seed N] [--xero-daily-limit N] [--zoho-credits N] \
                     [--zoho-concurrency N] [--xero-as-documented] [--control-addr ADDR] \
                     [--widget-url URL] [--backend-url URL --connection NAME --api-key KEY]

  --time-scale N         simulated seconds per real second (token lifetimes, rate-limit windows, daily resets)
  --products N           generated products on top of the 21 seeded ones (default 0)
  --product-seed N       the generator's seed (default 1): the same seed, the same catalogue
  --xero-daily-limit N   Xero calls a day per organisation (default 1000, the Starter tier; 5000 higher tiers)
  --zoho-credits N       Zoho API credits per rolling 24 hours (default 50000)
  --zoho-concurrency N   Zoho calls in flight at once, and 10 bulk updates (default 10, the Standard edition)
  --xero-as-documented   Xero's documented answers (401 for a missing scope, internal errors cached under
                         their Idempotency-Key): the default since issue 11, accepted for older scripts
  --control-addr ADDR    also serve the test hooks over HTTP there (items, products, edits, codes, limits)";

#[derive(Default)]
struct Args {
    config: SandboxConfig,
    widget_url: Option<String>,
    backend_url: Option<String>,
    /// The CRM Connection's name, as an admin names it in Zoho (the widget invokes it by name).
    connection: Option<String>,
    api_key: Option<String>,
    control_addr: Option<SocketAddr>,
}

fn parse(mut args: impl Iterator<Item = String>) -> Result<Args, String> {
    let mut parsed = Args::default();
    while let Some(flag) = args.next() {
        if flag == "-h" || flag == "--help" {
            return Err(USAGE.into());
        }
        if flag == "--xero-as-documented" {
            parsed.config.xero.behaviour = sandbox::xero::Behaviour::as_xero();
            continue;
        }
        let value = args.next().ok_or_else(|| format!("{flag} needs a value\n{USAGE}"))?;
        let addr = |v: &str| v.parse::<SocketAddr>().map_err(|e| format!("{flag} {v}: {e}"));
        match flag.as_str() {
            "--xero-addr" => parsed.config.xero_addr = addr(&value)?,
            "--zoho-addr" => parsed.config.zoho_addr = addr(&value)?,
            "--crm-addr" => parsed.config.crm_addr = addr(&value)?,
            "--control-addr" => parsed.control_addr = Some(addr(&value)?),
            "--time-scale" => {
                parsed.config.time_scale = value
                    .parse::<f64>()
                    .ok()
                    .filter(|s| *s > 0.0 && s.is_finite())
                    .ok_or_else(|| format!("--time-scale {value}: expected a positive number"))?
            }
            "--products" => parsed.config.zoho.generated_products = number(&flag, &value)?,
            "--product-seed" => parsed.config.zoho.catalogue_seed = number(&flag, &value)?,
            "--xero-daily-limit" => parsed.config.xero.limits.per_day = positive(&flag, &value)?,
            "--zoho-credits" => parsed.config.zoho.limits.credits_per_day = positive(&flag, &value)?,
            "--zoho-concurrency" => {
                parsed.config.zoho.limits.concurrency = Some(positive(&flag, &value)?);
                parsed.config.zoho.limits.sub_concurrency = Some(10);
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

fn number<T: std::str::FromStr>(flag: &str, value: &str) -> Result<T, String> {
    value.parse().map_err(|_| format!("{flag} {value}: expected a whole number"))
}

fn positive(flag: &str, value: &str) -> Result<u32, String> {
    let n: u32 = number(flag, value)?;
    if n == 0 { Err(format!("{flag} {value}: must be at least 1")) } else { Ok(n) }
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
    if !sandbox.zoho.generated().is_empty() {
        println!("zoho products: {} ({} generated)", sandbox.zoho.products().len(), sandbox.zoho.generated().len());
    }
    println!("zoho: {}", sandbox.zoho.url);
    println!("crm:  {}/", sandbox.crm.url);
    // Held until the end of `main`: dropping it would stop the control listener.
    let _control = match args.control_addr {
        None => None,
        Some(addr) => match tokio::net::TcpListener::bind(addr).await {
            Ok(listener) => {
                let url = listener.local_addr().map(|a| format!("http://{a}")).unwrap_or_default();
                println!("control: {url}");
                let app = sandbox::control::router(sandbox.xero.clone(), sandbox.zoho.clone());
                Some(tokio::spawn(async move { axum::serve(listener, app).await }))
            }
            Err(e) => {
                eprintln!("cannot listen on --control-addr {addr}: {e}");
                return ExitCode::FAILURE;
            }
        },
    };
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
    fn parses_the_load_test_knobs() {
        let parsed = args(&[
            "--products",
            "10000",
            "--product-seed",
            "7",
            "--xero-daily-limit",
            "5000",
            "--zoho-credits",
            "200",
            "--zoho-concurrency",
            "15",
            "--xero-as-documented",
            "--time-scale",
            "600",
            "--control-addr",
            "127.0.0.1:0",
        ])
        .expect("valid arguments");
        assert_eq!((parsed.config.zoho.generated_products, parsed.config.zoho.catalogue_seed), (10_000, 7));
        assert_eq!(parsed.config.xero.limits.per_day, 5_000);
        assert_eq!(parsed.config.zoho.limits.credits_per_day, 200);
        assert_eq!(parsed.config.zoho.limits.concurrency, Some(15));
        assert_eq!(parsed.config.xero.behaviour, sandbox::xero::Behaviour::as_xero());
        assert_eq!(parsed.config.time_scale, 600.0);
        assert_eq!(parsed.control_addr.map(|a| a.port()), Some(0));
        let defaults = args(&[]).expect("no arguments");
        assert_eq!(defaults.config.xero.limits.per_day, 1_000, "Xero's Starter tier");
        assert_eq!(defaults.config.zoho.generated_products, 0);
    }

    #[test]
    fn rejects_bad_arguments() {
        assert!(args(&["--products", "many"]).is_err());
        assert!(args(&["--xero-daily-limit", "0"]).is_err());
        assert!(args(&["--zoho-credits", "-5"]).is_err());
        assert!(args(&["--time-scale", "0"]).is_err());
        assert!(args(&["--crm-addr", "localhost"]).is_err());
        assert!(args(&["--zoho-addr"]).is_err());
        assert!(args(&["--colour", "red"]).is_err());
    }
}
