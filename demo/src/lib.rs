//! xero-sync against the built-in simulators, for trying it with no accounts and for the tests.
//!
//! [`start`] starts the Xero and Zoho CRM simulators and the emulated CRM page (the `sandbox` crate), then
//! the ordinary service (`backend`) in [`Mode::Demo`], with settings pointing at the simulators through the
//! same URL overrides an operator could set. It then connects itself as an admin would, through the same
//! [`backend::connections::Connections`]: consent at the Xero simulator for the Australian demo
//! organisation, a Zoho Self Client code, and an API key, which a hook hands to the emulated CRM's
//! Connection, as an admin pastes it into Zoho's. The demo's admin password lives here and nowhere else.

#![warn(unreachable_pub)]

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::{Arc, OnceLock};
use std::time::Duration;

use backend::config::{ConfigError, Mode, Settings};
use backend::connections::{ApiKeyHook, ConsentError, Consented, XeroAnswer, ZOHO_SCOPES, ZohoCodeError};
use backend::crypto::CryptoError;
use backend::runs::RunTuning;
use backend::server::{SHUTDOWN_GRACE, Server, StartOptions, StartupError};
use backend::store::StoreError;
use backend::xero::XeroClientConfig;
use sandbox::{Sandbox, SandboxConfig};
use secrecy::{ExposeSecret, SecretString};
use shared::wire::CONNECTION_NAME;
use tokio::net::TcpListener;

/// The demo's admin password, shown on its login page.
pub const DEMO_PASSWORD: &str = "sandbox";

/// What a test may change about a demo: the simulators' behaviour (time scale, lifetimes, limits,
/// faults), the Xero client's and the bulk runs' pacing to match a fast simulated clock, and the shutdown
/// bound.
pub struct Tuning {
    pub sandbox: SandboxConfig,
    pub xero: XeroClientConfig,
    pub runs: RunTuning,
    pub shutdown_grace: Duration,
}

impl Default for Tuning {
    fn default() -> Self {
        Self {
            sandbox: SandboxConfig::default(),
            xero: XeroClientConfig::default(),
            runs: RunTuning::default(),
            shutdown_grace: SHUTDOWN_GRACE,
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum DemoError {
    #[error("the simulators did not start")]
    Simulators(#[source] std::io::Error),
    #[error("settings")]
    Config(#[from] ConfigError),
    #[error("start-up")]
    Startup(#[from] StartupError),
    #[error("Xero consent at the simulator: {0}")]
    SimulatorConsent(String),
    #[error("connecting Xero")]
    Xero(#[from] ConsentError),
    #[error("the Xero simulator offered several organisations for one")]
    SeveralOrganisations,
    #[error("connecting Zoho")]
    Zoho(#[from] ZohoCodeError),
    #[error("creating the API key")]
    ApiKey(#[from] StoreError),
    #[error("the admin password")]
    Password(#[from] CryptoError),
    #[error("the demo's data directory")]
    DataDir(#[source] std::io::Error),
}

/// A running demo: the simulators and the service connected to them. Dropping it stops the simulators and
/// removes the data directory the demo created (not one the caller gave).
pub struct Demo {
    pub server: Server,
    pub sandbox: Sandbox,
    /// The API key the emulated CRM's Connection presents.
    pub api_key: SecretString,
    _data: Option<DataDir>,
}

impl Demo {
    /// Connects Xero (again, after a disconnect) as the demo does at start-up: consent at the simulator for
    /// the Australian demo organisation, through the service's own connect flow.
    pub async fn connect_xero(&self) -> Result<(), DemoError> {
        connect_xero(&self.server, &self.sandbox).await
    }

    /// Stops the service as a shutdown signal would, and waits for it.
    pub async fn stop(self) {
        self.server.shutdown();
        self.wait().await;
    }

    /// Waits until the service has stopped (see [`Server::shutdown_on`]); then the simulators stop and the
    /// demo's own data directory is removed.
    pub async fn wait(self) {
        let Demo { server, sandbox, _data, .. } = self;
        server.stopped().await;
        drop(sandbox);
    }
}

/// A directory of the demo's own, removed on drop.
struct DataDir(PathBuf);

impl Drop for DataDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// The argon2 hash of [`DEMO_PASSWORD`], computed once per process (hashing is slow on purpose).
fn demo_password_hash() -> Result<String, CryptoError> {
    static HASH: OnceLock<String> = OnceLock::new();
    if let Some(hash) = HASH.get() {
        return Ok(hash.clone());
    }
    let hash = backend::crypto::hash_password(DEMO_PASSWORD)?;
    Ok(HASH.get_or_init(|| hash).clone())
}

/// Starts the simulators, then the service on `listener` pointed at them, and connects it. `vars` adds
/// settings (a data directory, a database, custom field names, an admin password hash); the simulators'
/// credentials and URLs are the demo's whatever `vars` says.
pub async fn start(
    listener: TcpListener,
    vars: impl Fn(&str) -> Option<String>,
    tuning: Tuning,
) -> Result<Demo, DemoError> {
    let url = format!("http://{}", listener.local_addr().map_err(StartupError::Io)?);
    let (xero_config, zoho_config) = (tuning.sandbox.xero.clone(), tuning.sandbox.zoho.clone());
    let sandbox = Sandbox::start(tuning.sandbox).await.map_err(DemoError::Simulators)?;

    let mut own: HashMap<&str, String> = HashMap::from([
        ("XERO_SYNC_PUBLIC_URL", url.clone()),
        ("XERO_CLIENT_ID", xero_config.client_id),
        ("XERO_CLIENT_SECRET", xero_config.client_secret),
        ("ZOHO_CLIENT_ID", zoho_config.client_id),
        ("ZOHO_CLIENT_SECRET", zoho_config.client_secret),
        ("XERO_LOGIN_URL", sandbox.xero.login_url()),
        ("XERO_IDENTITY_URL", sandbox.xero.identity_url()),
        ("XERO_API_URL", sandbox.xero.api_url()),
        ("XERO_CONNECTIONS_URL", sandbox.xero.connections_url()),
        ("ZOHO_ACCOUNTS_URL", sandbox.zoho.url.clone()),
        ("ZOHO_API_URL", sandbox.zoho.url.clone()),
        // Record links on the admin pages open the emulated CRM's record pages.
        ("ZOHO_CRM_URL", sandbox.crm.url.clone()),
        // The emulated CRM page frames the widget and serves the SDK stand-in.
        ("ZOHO_SDK_URL", sandbox.crm.sdk_url()),
        ("XERO_SYNC_FRAME_ANCESTORS", sandbox.crm.url.clone()),
    ]);
    let data = match vars("XERO_SYNC_DATA_DIR") {
        Some(_) => None,
        None => {
            let dir = std::env::temp_dir().join(format!("xero-sync-demo-{}", uuid::Uuid::new_v4()));
            std::fs::create_dir_all(&dir).map_err(DemoError::DataDir)?;
            own.insert("XERO_SYNC_DATA_DIR", dir.display().to_string());
            own.insert("XERO_SYNC_DATABASE_URL", format!("sqlite://{}/demo.db?mode=rwc", dir.display()));
            Some(DataDir(dir))
        }
    };
    // The service keeps to the simulator's daily limit, as an operator sets their app's tier.
    if vars("XERO_DAILY_CALL_LIMIT").is_none() {
        own.insert("XERO_DAILY_CALL_LIMIT", xero_config.limits.per_day.to_string());
    }
    let own_password = vars("XERO_SYNC_ADMIN_PASSWORD_HASH").is_none();
    if own_password {
        own.insert("XERO_SYNC_ADMIN_PASSWORD_HASH", demo_password_hash()?);
    }
    let mut settings = Settings::load(&|name| own.get(name).cloned().or_else(|| vars(name)))?;
    settings.mode = Mode::Demo;
    let widget_url = settings.widget_url();

    let crm = sandbox.crm.clone();
    let service_url = url.clone();
    let hook: ApiKeyHook = Arc::new(move |key: &SecretString| {
        crm.set_connection(CONNECTION_NAME, &service_url, key.expose_secret());
    });
    let options = StartOptions {
        xero: tuning.xero,
        on_api_key_rotated: Some(hook),
        demo_password: own_password.then(|| DEMO_PASSWORD.to_owned()),
        shutdown_grace: tuning.shutdown_grace,
        runs: tuning.runs,
    };
    let server = backend::server::start(settings, listener, options).await?;

    connect_xero(&server, &sandbox).await?;
    let zoho_code = sandbox.zoho.self_client_code(&ZOHO_SCOPES);
    server.connections().connect_zoho(&zoho_code).await?;
    sandbox.crm.set_widget_url(&widget_url);
    let api_key = server.connections().rotate_api_key().await?.key;
    Ok(Demo { server, sandbox, api_key, _data: data })
}

/// What an admin does at Xero's consent page, played at the simulator: the Australian demo organisation
/// ticked, then Xero's answer handed back to the service as its callback would.
async fn connect_xero(server: &Server, sandbox: &Sandbox) -> Result<(), DemoError> {
    let consent_url = server.connections().begin_xero_consent().await?;
    let demo_org: Vec<String> = sandbox.xero.tenant_id(sandbox::xero::AU_ORG).into_iter().collect();
    let answer = consent_at_simulator(&sandbox.xero, &consent_url, &demo_org)?;
    match server.connections().finish_xero_consent(answer).await? {
        Consented::Connected(_) => Ok(()),
        Consented::ChooseAmong(_) => Err(DemoError::SeveralOrganisations),
    }
}

/// The user at the Xero simulator's consent page for `consent_url` (what
/// [`backend::connections::Connections::begin_xero_consent`] returns, or any authorize URL), allowing
/// access to `tenant_ids`: the answer Xero's redirect would carry back.
pub fn consent_at_simulator(
    xero: &sandbox::xero::XeroSim,
    consent_url: &str,
    tenant_ids: &[String],
) -> Result<XeroAnswer, DemoError> {
    let url = reqwest::Url::parse(consent_url).map_err(|e| DemoError::SimulatorConsent(e.to_string()))?;
    let param = |name: &str| url.query_pairs().find(|(k, _)| k == name).map(|(_, v)| v.into_owned());
    let request = sandbox::xero::AuthorizeRequest {
        response_type: param("response_type").unwrap_or_default(),
        client_id: param("client_id").unwrap_or_default(),
        redirect_uri: param("redirect_uri").unwrap_or_default(),
        scope: param("scope").unwrap_or_default(),
        state: param("state"),
        code_challenge: param("code_challenge"),
        code_challenge_method: param("code_challenge_method"),
    };
    let code = xero.approve_tenants(&request, tenant_ids).map_err(|e| DemoError::SimulatorConsent(e.to_string()))?;
    Ok(XeroAnswer { code: Some(code), state: request.state, error: None })
}
