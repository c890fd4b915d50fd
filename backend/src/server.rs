//! Start-up: settings → master key → store → clients → engine → routes. In sandbox mode (no credentials),
//! the simulators start first, in-process, and the service points itself at them and connects itself, so
//! a newcomer gets a working CRM page with the widget and no accounts anywhere.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use rand::RngCore;
use secrecy::{ExposeSecret, SecretString};
use tokio::net::TcpListener;
use tokio::task::JoinHandle;

use crate::api::{AppState, session::SessionKeys};
use crate::config::{ClientCredentials, Settings};
use crate::crypto::{Cipher, MasterKey};
use crate::store::{ConnectionStatus, Store, XeroConnection, vaults::ZohoGrantVault};
use crate::sync::Engine;
use crate::widget::WidgetPage;
use crate::xero::{XeroClient, XeroClientConfig, XeroCredentials, XeroUrls};
use crate::zoho::ZohoClient;

/// The Connection name the widget invokes; the admin creates a CRM Connection with this name.
pub const CONNECTION_NAME: &str = "xero_sync_backend";

#[derive(Debug, thiserror::Error)]
pub enum StartupError {
    #[error("master key: {0}")]
    MasterKey(#[from] crate::crypto::CryptoError),
    #[error("database: {0}")]
    Store(#[from] crate::store::StoreError),
    #[error("sandbox: {0}")]
    Sandbox(String),
    #[error("{0}")]
    Io(#[from] std::io::Error),
}

/// The simulators of sandbox mode, and the API key the emulated CRM presents.
pub struct SandboxMode {
    pub sandbox: sandbox::Sandbox,
    pub api_key: SecretString,
}

/// A running service.
pub struct Server {
    /// Where it listens, `http://127.0.0.1:port`.
    pub url: String,
    pub state: AppState,
    pub sandbox: Option<SandboxMode>,
    /// Set when start-up created a master key file: `main` says where, loudly.
    pub created_key_file: Option<std::path::PathBuf>,
    pub task: JoinHandle<std::io::Result<()>>,
}

fn http_client() -> reqwest::Client {
    reqwest::Client::builder()
        .connect_timeout(Duration::from_secs(10))
        .timeout(Duration::from_secs(30))
        .user_agent(concat!("xero-sync/", env!("CARGO_PKG_VERSION")))
        .build()
        .unwrap_or_default()
}

/// What tests may change about a start: the simulators' behaviour (time scale, lifetimes, limits, faults)
/// and the Xero client's pacing to match a fast simulated clock.
#[derive(Default)]
pub struct Tuning {
    pub sandbox: sandbox::SandboxConfig,
    pub xero: XeroClientConfig,
}

/// Starts the service on `listener`.
pub async fn start(settings: Settings, listener: TcpListener) -> Result<Server, StartupError> {
    start_with(settings, listener, Tuning::default()).await
}

/// [`start`], with the simulators and the Xero client tuned (tests).
pub async fn start_with(mut settings: Settings, listener: TcpListener, tuning: Tuning) -> Result<Server, StartupError> {
    let local: SocketAddr = listener.local_addr()?;
    let url = format!("http://{local}");
    let sandbox_mode = settings.sandbox_mode();

    let (key, created_key_file, store, sandbox) = if sandbox_mode {
        // Demo state lives as long as the simulators do: an in-memory database and a throwaway key.
        let key = MasterKey::generate();
        let store = Store::in_memory(Cipher::new(&key)).await?;
        let (xero_config, zoho_config) = (tuning.sandbox.xero.clone(), tuning.sandbox.zoho.clone());
        let sandbox = sandbox::Sandbox::start(tuning.sandbox).await?;
        point_at_sandbox(&mut settings, &sandbox, &url, xero_config, zoho_config);
        (key, None, store, Some(sandbox))
    } else {
        let (key, created) = MasterKey::load_or_create(&settings)?;
        let store = Store::connect(&settings.database_url, Cipher::new(&key)).await?;
        (key, created, store, None)
    };

    let http = http_client();
    let (xero, zoho) = clients(&settings, &store, &http, tuning.xero);
    let engine = Engine::new(store.clone(), xero.clone(), zoho.clone(), settings.fields.clone());
    let state = AppState {
        settings: Arc::new(settings.clone()),
        engine,
        store: store.clone(),
        xero: xero.clone(),
        zoho: zoho.clone(),
        sessions: SessionKeys::new(key.derive("widget-session")),
        admin_key: key.derive("admin"),
        sandbox: sandbox.as_ref().map(|s| s.crm.clone()),
        widget: WidgetPage {
            dir: settings.widget_dir.clone(),
            sdk_url: settings.zoho_sdk_url.clone(),
            frame_ancestors: settings.frame_ancestors.clone(),
            sandbox: sandbox_mode,
        },
    };

    let sandbox = match sandbox {
        Some(sandbox) => Some(connect_sandbox(sandbox, &settings, &store, &xero, &zoho, &url).await?),
        None => None,
    };

    let router = crate::app(state.clone());
    let task = tokio::spawn(async move { axum::serve(listener, router).await });
    Ok(Server { url, state, sandbox, created_key_file, task })
}

fn clients(
    settings: &Settings,
    store: &Store,
    http: &reqwest::Client,
    xero_config: XeroClientConfig,
) -> (XeroClient, ZohoClient) {
    let endpoints = &settings.xero_endpoints;
    let urls = XeroUrls {
        login: endpoints.login_url.clone(),
        identity: endpoints.identity_url.clone(),
        api: endpoints.api_url.clone(),
        connections: endpoints.connections_url.clone(),
    };
    let credentials = |c: &Option<ClientCredentials>| {
        c.as_ref().map_or((String::new(), SecretString::from(String::new())), |c| {
            (c.client_id.clone(), c.client_secret.clone())
        })
    };
    let (xero_id, xero_secret) = credentials(&settings.xero);
    let xero = XeroClient::new(
        http.clone(),
        urls,
        XeroCredentials { client_id: xero_id, client_secret: xero_secret },
        Arc::new(store.clone()),
        xero_config,
    );
    let (zoho_id, zoho_secret) = credentials(&settings.zoho);
    let vault = ZohoGrantVault { store: store.clone(), accounts_url: settings.zoho_endpoints.accounts_url.clone() };
    let zoho = ZohoClient::new(
        http.clone(),
        &settings.zoho_endpoints.accounts_url,
        &settings.zoho_endpoints.api_url,
        &zoho_id,
        zoho_secret,
        Arc::new(vault),
    );
    (xero, zoho)
}

/// Sandbox mode: every external URL and credential is the simulators'.
fn point_at_sandbox(
    settings: &mut Settings,
    sandbox: &sandbox::Sandbox,
    url: &str,
    xero_config: sandbox::xero::XeroConfig,
    zoho_config: sandbox::zoho::ZohoConfig,
) {
    settings.public_url = url.to_owned();
    settings.xero = Some(ClientCredentials {
        client_id: xero_config.client_id,
        client_secret: SecretString::from(xero_config.client_secret),
    });
    settings.zoho = Some(ClientCredentials {
        client_id: zoho_config.client_id,
        client_secret: SecretString::from(zoho_config.client_secret),
    });
    let xero = &sandbox.xero;
    settings.xero_endpoints.login_url = xero.login_url();
    settings.xero_endpoints.identity_url = xero.identity_url();
    settings.xero_endpoints.api_url = xero.api_url();
    settings.xero_endpoints.connections_url = xero.connections_url();
    settings.zoho_endpoints.accounts_url = sandbox.zoho.url.clone();
    settings.zoho_endpoints.api_url = sandbox.zoho.url.clone();
    // The emulated CRM page frames the widget and serves the SDK stand-in.
    settings.zoho_sdk_url = sandbox.crm.sdk_url();
    settings.frame_ancestors = sandbox.crm.url.clone();
}

/// Does in-process what an admin does once in production: consents to Xero (the Australian demo
/// organisation), exchanges a Zoho Self Client code, and creates the API key the CRM's Connection uses.
async fn connect_sandbox(
    sandbox: sandbox::Sandbox,
    settings: &Settings,
    store: &Store,
    xero: &XeroClient,
    zoho: &ZohoClient,
    url: &str,
) -> Result<SandboxMode, StartupError> {
    let fail = |what: &str, e: &dyn std::fmt::Display| StartupError::Sandbox(format!("{what}: {e}"));
    let redirect_uri = settings.xero_redirect_uri();
    let consent = sandbox::xero::AuthorizeRequest {
        response_type: "code".into(),
        client_id: settings.xero.as_ref().map(|c| c.client_id.clone()).unwrap_or_default(),
        redirect_uri: redirect_uri.clone(),
        scope: settings.xero_scopes.clone(),
        state: Some("sandbox".into()),
        code_challenge: None,
        code_challenge_method: None,
    };
    // The demo organisation only, as an admin would tick it on Xero's consent page.
    let demo = sandbox.xero.tenant_id(sandbox::xero::AU_ORG).into_iter().collect::<Vec<_>>();
    let code = sandbox.xero.approve_tenants(&consent, &demo).map_err(|e| fail("Xero consent", &e))?;
    xero.exchange_code(&code, &redirect_uri, None).await.map_err(|e| fail("Xero code exchange", &e))?;
    let tenants = xero.connections().await.map_err(|e| fail("Xero connections", &e))?;
    let tenant = tenants
        .first()
        .ok_or_else(|| StartupError::Sandbox("the Xero simulator listed no demo organisation".into()))?;
    store
        .save_xero_connection(&XeroConnection {
            tenant_id: tenant.tenant_id.clone(),
            tenant_name: tenant.tenant_name.clone().unwrap_or_default(),
            connection_id: tenant.connection_id.clone(),
            status: ConnectionStatus::Connected,
            status_reason: None,
            updated_at: chrono::Utc::now(),
        })
        .await?;

    let zoho_code = sandbox.zoho.self_client_code(&["ZohoCRM.modules.products.ALL", "ZohoCRM.settings.fields.READ"]);
    zoho.exchange_self_client_code(&zoho_code).await.map_err(|e| fail("Zoho code exchange", &e))?;

    let api_key = new_api_key();
    store.set_api_key_hash(&crate::api::session::api_key_hash(api_key.expose_secret())).await?;
    sandbox.crm.set_widget_url(&settings.widget_url());
    sandbox.crm.set_connection(CONNECTION_NAME, url, api_key.expose_secret());
    Ok(SandboxMode { sandbox, api_key })
}

/// 32 random bytes, base64url: what an admin pastes into the CRM Connection.
pub fn new_api_key() -> SecretString {
    use base64::Engine;
    let mut bytes = [0u8; 32];
    rand::rng().fill_bytes(&mut bytes);
    SecretString::from(base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes))
}
