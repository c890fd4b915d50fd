//! Start-up and shutdown: settings → master key → store → clients → engine, runs and connections → routes
//! and the bulk-run worker, then serving (`listen`: timeouts and a connection cap) until a shutdown, which
//! stops accepting, lets in-flight requests and syncs finish within a bound, cuts the rest short (logged as
//! interrupted), hands the bulk run in progress back resumable, and closes the database.

mod listen;

use std::future::Future;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use chrono::Utc;
use tokio::net::TcpListener;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

use crate::address::TrustedProxies;
pub use crate::admin::PasswordChecks;
use crate::admin::{AdminState, LoginState};
use crate::api::{SessionKeys, WrongKeys};
use crate::background::{Background, LogRetention};
use crate::config::{ClientCredentials, ConfigError, Mode, ServerLimits, Settings};
use crate::connections::{ApiKeyHook, Connections};
use crate::crypto::{Cipher, CryptoError, MasterKey};
use crate::defaults::Defaults;
use crate::field_names::FieldNames;
use crate::readiness::Readiness;
use crate::runs::{RunTuning, Runs};
use crate::state::AppState;
use crate::store::{Store, StoreError, ZohoGrantVault};
use crate::sync::{Engine, STALE_RUN_AGE};
use crate::widget::WidgetPage;
use crate::xero::{XeroClient, XeroClientConfig};
use crate::zoho::ZohoClient;

/// How long a shutdown waits for in-flight syncs before cutting them short.
pub const SHUTDOWN_GRACE: Duration = Duration::from_secs(20);

#[derive(Debug, thiserror::Error)]
pub enum StartupError {
    #[error(transparent)]
    Config(#[from] ConfigError),
    #[error("master key")]
    MasterKey(#[from] CryptoError),
    #[error("database")]
    Store(#[from] StoreError),
    #[error("HTTP client")]
    Http(#[source] reqwest::Error),
    #[error("listener")]
    Io(#[from] std::io::Error),
}

/// What a start may add to the settings. `xero-sync` uses the defaults; the demo installs its hook and
/// password, and tests tune the Xero client and the shutdown grace.
pub struct StartOptions {
    /// The Xero client's tunables (pacing to match a simulator's fast clock, retry delays). Its daily call
    /// limit is the settings' (`XERO_DAILY_CALL_LIMIT`), whatever this says.
    pub xero: XeroClientConfig,
    /// Called with each new API key (the demo hands it to the emulated CRM's Connection).
    pub on_api_key_rotated: Option<ApiKeyHook>,
    /// Shown on the login page in [`crate::config::Mode::Demo`] only.
    pub demo_password: Option<String>,
    /// How long a shutdown waits for in-flight syncs; [`SHUTDOWN_GRACE`] by default.
    pub shutdown_grace: Duration,
    /// How bulk runs pace themselves (shorter waits against simulators on a fast clock).
    pub runs: RunTuning,
}

impl Default for StartOptions {
    fn default() -> Self {
        Self {
            xero: XeroClientConfig::default(),
            on_api_key_rotated: None,
            demo_password: None,
            shutdown_grace: SHUTDOWN_GRACE,
            runs: RunTuning::default(),
        }
    }
}

/// A running service.
pub struct Server {
    /// Where it listens, `http://127.0.0.1:port`.
    pub url: String,
    /// Set when start-up created a master key file: `main` says where, loudly.
    pub created_key_file: Option<PathBuf>,
    state: AppState,
    stop: CancellationToken,
    task: JoinHandle<()>,
}

impl Server {
    pub fn settings(&self) -> &Settings {
        &self.state.settings
    }

    pub fn store(&self) -> &Store {
        &self.state.store
    }

    pub fn connections(&self) -> &Connections {
        &self.state.connections
    }

    /// Bulk and scheduled runs (this service's worker executes them).
    pub fn runs(&self) -> &Runs {
        &self.state.runs
    }

    /// How many admin password checks ran, and the most at once.
    pub fn password_checks(&self) -> PasswordChecks {
        self.state.admin.login.password_checks()
    }

    /// Starts a graceful shutdown: what SIGTERM and ctrl-c do.
    pub fn shutdown(&self) {
        self.stop.cancel();
    }

    /// Shuts down when `signal` completes (e.g. [`shutdown_signal`]).
    pub fn shutdown_on(&self, signal: impl Future<Output = ()> + Send + 'static) {
        let stop = self.stop.clone();
        tokio::spawn(async move {
            signal.await;
            stop.cancel();
        });
    }

    /// Waits until the service has stopped: no longer serving, syncs finished or interrupted, the
    /// database closed.
    pub async fn stopped(self) {
        if let Err(error) = self.task.await {
            tracing::error!(%error, "the server task failed");
        }
    }
}

/// Completes on ctrl-c or SIGTERM (how a service manager or container runtime asks a process to stop).
/// SIGTERM is listened for from the call on, not from the first poll: a SIGTERM sent right after the
/// banner must stop the service gracefully, not kill it.
pub fn shutdown_signal() -> impl Future<Output = ()> + Send + 'static {
    #[cfg(unix)]
    let terminate = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate());
    async move {
        let ctrl_c = async {
            if let Err(error) = tokio::signal::ctrl_c().await {
                tracing::error!(%error, "cannot listen for ctrl-c");
                std::future::pending::<()>().await;
            }
        };
        #[cfg(unix)]
        let terminate = async {
            match terminate {
                Ok(mut signal) => {
                    signal.recv().await;
                }
                Err(error) => {
                    tracing::error!(%error, "cannot listen for SIGTERM");
                    std::future::pending::<()>().await;
                }
            }
        };
        #[cfg(not(unix))]
        let terminate = std::future::pending::<()>();
        tokio::select! {
            () = ctrl_c => tracing::info!("ctrl-c: shutting down"),
            () = terminate => tracing::info!("SIGTERM: shutting down"),
        }
    }
}

/// The client for every outgoing call: bounded connects and requests, our user agent.
fn http_client() -> Result<reqwest::Client, StartupError> {
    reqwest::Client::builder()
        .connect_timeout(Duration::from_secs(10))
        .timeout(Duration::from_secs(30))
        .user_agent(concat!("xero-sync/", env!("CARGO_PKG_VERSION")))
        .build()
        .map_err(StartupError::Http)
}

/// Missing credentials (one service not configured) make an unusable client, whose calls fail clearly.
fn credentials(configured: &Option<ClientCredentials>) -> ClientCredentials {
    configured
        .clone()
        .unwrap_or_else(|| ClientCredentials { client_id: String::new(), client_secret: String::new().into() })
}

/// The service's parts without its HTTP side, on the configured database: what `xero-sync sync` and
/// `xero-sync schedule` work with, and what [`start`] serves.
pub struct Core {
    pub settings: Arc<Settings>,
    pub store: Store,
    pub runs: Runs,
    /// Set when opening created a master key file.
    pub created_key_file: Option<PathBuf>,
    key: MasterKey,
    xero: XeroClient,
    zoho: ZohoClient,
    fields: FieldNames,
}

/// Opens the database (creating it, and a master key file if none is configured) and builds the clients.
pub async fn open(settings: Settings, options: &StartOptions) -> Result<Core, StartupError> {
    let (key, created_key_file) = MasterKey::load_or_create(settings.master_key.as_ref(), &settings.data_dir)?;
    let store = Store::connect(&settings.database_url, Cipher::new(&key)).await?;
    let settings = Arc::new(settings);
    let http = http_client()?;
    let mut xero_config = options.xero;
    xero_config.limiter.per_day = settings.xero_daily_call_limit;
    let xero = XeroClient::new(
        http.clone(),
        settings.xero_endpoints.clone(),
        credentials(&settings.xero),
        Arc::new(store.clone()),
        xero_config,
    );
    let vault = ZohoGrantVault { store: store.clone(), accounts_url: settings.zoho_endpoints.accounts_url.clone() };
    let zoho = ZohoClient::new(http, &settings.zoho_endpoints, credentials(&settings.zoho), Arc::new(vault));
    let fields = FieldNames::load(store.clone(), zoho.clone(), settings.fields.clone()).await?;
    let runs = Runs::new(
        store.clone(),
        xero.clone(),
        zoho.clone(),
        fields.clone(),
        settings.daily_reserve_percent,
        settings.run_lease,
        options.runs,
    );
    Ok(Core { settings, store, runs, created_key_file, key, xero, zoho, fields })
}

/// Starts the service on `listener`. In [`crate::config::Mode::Production`], settings without any
/// credentials are refused ([`ConfigError::NoCredentials`]).
pub async fn start(settings: Settings, listener: TcpListener, options: StartOptions) -> Result<Server, StartupError> {
    settings.require_credentials()?;
    let url = format!("http://{}", listener.local_addr()?);
    match settings.mode {
        Mode::Production => tracing::info!(%url, "xero-sync starting"),
        Mode::Demo => tracing::warn!(%url, "SANDBOX MODE (demo): against the simulators, nothing here is real"),
    }
    let Core { settings, store, runs, created_key_file, key, xero, zoho, fields } = open(settings, &options).await?;
    let stale = chrono::TimeDelta::from_std(STALE_RUN_AGE).unwrap_or(chrono::TimeDelta::hours(1));
    let crashed = store
        .interrupt_stale_runs(
            Utc::now() - stale,
            "The service stopped before this sync finished; syncing again is safe.",
        )
        .await?;
    if crashed > 0 {
        tracing::warn!(runs = crashed, "syncs a previous process left running are marked interrupted");
    }

    let engine = Engine::new(store.clone(), xero.clone(), zoho.clone(), fields.clone());
    let background = Background::default();
    let retention = LogRetention::new(store.clone(), settings.log_retention_days);
    background.spawn(retention.clone().run());
    let readiness = Readiness::new(store.clone(), xero.clone(), zoho.clone(), fields.clone(), background.clone());
    let defaults = Defaults::new(store.clone(), xero.clone(), zoho.clone());
    let connections = Connections::new(store.clone(), xero, zoho, settings.clone(), options.on_api_key_rotated);
    let state = AppState {
        settings: settings.clone(),
        store: store.clone(),
        engine: engine.clone(),
        connections: connections.clone(),
        runs: runs.clone(),
        sessions: SessionKeys::new(key.derive("widget-session")),
        wrong_keys: WrongKeys::new(),
        proxies: TrustedProxies::new(&settings.trusted_proxies),
        widget: WidgetPage::new(&settings),
        admin: AdminState {
            settings: settings.clone(),
            mode: settings.mode,
            store: store.clone(),
            connections,
            defaults,
            login: Arc::new(LoginState::new(options.demo_password)),
            readiness,
            runs: runs.clone(),
            retention,
            fields,
        },
    };

    runs.spawn_worker();
    let stop = CancellationToken::new();
    let router = crate::app(state.clone());
    let serving = Serving { limits: settings.limits, grace: options.shutdown_grace };
    let work = Work { engine, runs, background, store };
    let task = tokio::spawn(serve(listener, router, stop.clone(), work, serving));
    Ok(Server { url, created_key_file, state, stop, task })
}

/// How connections are served, and how long a shutdown waits.
struct Serving {
    limits: ServerLimits,
    grace: Duration,
}

/// What a shutdown waits for: syncs of the button and the bulk run in progress; then the background tasks
/// stop and the database closes.
struct Work {
    engine: Engine,
    runs: Runs,
    background: Background,
    store: Store,
}

impl Work {
    /// Returns how many button syncs were cut short.
    async fn drain(&self, grace: Duration) -> usize {
        let (interrupted, ()) = tokio::join!(self.engine.drain(grace), self.runs.shutdown(grace));
        interrupted
    }
}

/// Serves until `stop`, then shuts down within `grace` (plus a few seconds for the interrupted syncs to
/// record themselves and the last answers to go out). The background tasks stop before the database closes.
async fn serve(
    listener: TcpListener,
    router: axum::Router,
    stop: CancellationToken,
    work: Work,
    Serving { limits, grace }: Serving,
) {
    let mut serving = std::pin::pin!(listen::serve(listener, router, limits, stop.clone()));
    tokio::select! {
        () = &mut serving => {
            tracing::error!("the server stopped");
            stop.cancel();
            work.drain(grace).await;
        }
        () = stop.cancelled() => {
            tracing::info!(?grace, "shutting down: no new connections; waiting for requests and syncs in flight");
            let deadline = tokio::time::Instant::now() + grace + Duration::from_secs(5);
            let served = tokio::time::timeout_at(deadline, &mut serving);
            let (served, interrupted) = tokio::join!(served, work.drain(grace));
            if served.is_err() {
                tracing::warn!("requests still open at the deadline were cut");
            }
            if interrupted > 0 {
                tracing::warn!(syncs = interrupted, "syncs were interrupted by the shutdown");
            }
        }
    }
    work.background.stop().await;
    work.store.close().await;
    tracing::info!("stopped");
}
