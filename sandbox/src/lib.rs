//! Faithful simulators of the two services xero-sync talks to, plus an emulated Zoho CRM record page.
//!
//! Everything runs in-process on loopback ports, so the demo (`xero-sync-demo`), the widget and the tests
//! work with no accounts and no network. The simulators follow the published contracts in
//! `../shared/contracts/` and the behaviour recorded in `../shared/reference/`.
//!
//! **Independent of the `shared` crate on purpose.** The simulators re-state Xero's and Zoho's rules
//! (field limits, code uniqueness, date formats, error shapes) from the services' documentation instead of
//! reusing the client's domain code, so a mistake in the client's rules cannot also be the simulator's and
//! pass unnoticed. `Cargo.toml` keeps `shared` out of the dependencies; keep it that way. The production
//! binary never links them.

pub mod clock;
pub mod control;
pub mod crm_page;
pub mod xero;
pub mod zoho;

use std::net::SocketAddr;

pub use clock::Clock;

/// Where each simulator listens and how it behaves. Port 0 picks a free port.
#[derive(Debug, Clone)]
pub struct SandboxConfig {
    /// Simulated seconds per real second (see [`Clock`]).
    pub time_scale: f64,
    pub xero_addr: SocketAddr,
    pub zoho_addr: SocketAddr,
    pub crm_addr: SocketAddr,
    pub xero: xero::XeroConfig,
    pub zoho: zoho::ZohoConfig,
}

impl Default for SandboxConfig {
    fn default() -> Self {
        let loopback = SocketAddr::from(([127, 0, 0, 1], 0));
        Self {
            time_scale: 1.0,
            xero_addr: loopback,
            zoho_addr: loopback,
            crm_addr: loopback,
            xero: xero::XeroConfig::default(),
            zoho: zoho::ZohoConfig::default(),
        }
    }
}

/// The three running simulators. Dropping it stops them.
///
/// - `zoho.url`: Zoho accounts (`POST /oauth/v2/token`) and CRM v8 (`/crm/v8/Products[/{id}]`); the token
///   response's `api_domain` is this same URL.
/// - `crm.url`: the emulated CRM (`/` lists the products, `/crm/{org}/tab/Products/{id}` is a record page,
///   `/zoho-sdk/ZohoEmbededAppSDK.min.js` the stand-in SDK). Set `crm.set_widget_url(…)` and
///   `crm.set_connection(…)` once the widget and backend URLs are known.
/// - `xero.url`: Xero identity and accounting.
pub struct Sandbox {
    pub clock: Clock,
    pub xero: xero::XeroSim,
    pub zoho: zoho::ZohoSim,
    pub crm: crm_page::CrmPage,
}

impl Sandbox {
    pub async fn start(config: SandboxConfig) -> std::io::Result<Self> {
        let clock = Clock::new(config.time_scale);
        let xero = xero::XeroSim::start(config.xero_addr, clock, config.xero).await?;
        let zoho = zoho::ZohoSim::start(config.zoho_addr, clock, config.zoho).await?;
        let crm = crm_page::CrmPage::start(config.crm_addr, zoho.clone()).await?;
        Ok(Self { clock, xero, zoho, crm })
    }
}

/// Stops a simulator's listener when the last handle to it is dropped.
#[derive(Debug)]
pub(crate) struct ServerGuard(tokio::task::AbortHandle);

impl Drop for ServerGuard {
    fn drop(&mut self) {
        self.0.abort();
    }
}

/// Binds `addr`; returns the listener and its base URL (`http://ip:port`).
pub(crate) async fn bind(addr: SocketAddr) -> std::io::Result<(tokio::net::TcpListener, String)> {
    let listener = tokio::net::TcpListener::bind(addr).await?;
    let url = format!("http://{}", listener.local_addr()?);
    Ok((listener, url))
}

/// Serves `app` on `listener` in the background until the guard is dropped.
pub(crate) fn serve(listener: tokio::net::TcpListener, app: axum::Router) -> ServerGuard {
    let task = tokio::spawn(async move {
        if let Err(e) = axum::serve(listener, app).await {
            tracing::error!("simulator listener failed: {e}");
        }
    });
    ServerGuard(task.abort_handle())
}
