//! Typed settings, read once at start-up from environment variables and an optional TOML file, and
//! validated there so a misconfiguration stops the service with a message naming the variable instead of
//! failing on the first request.
//!
//! By concern: [`sources`] (environment and file, every variable's name), [`checks`] (what each value must
//! be), [`data_centre`] (Zoho's data centres). README.md ("Configuration") documents every variable.

mod checks;
mod data_centre;
mod sources;

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use ipnet::IpNet;
use secrecy::SecretString;
use shared::FieldMap;
use thiserror::Error;

use crate::crypto::MasterKey;
use checks::{
    admin_hash, api_name, base_url, boolean, credentials, csp_sources, distinct_fields, https_unless_loopback, invalid,
    networks, seconds, whole,
};
pub(crate) use checks::{is_api_name, shared_field};
pub use data_centre::ZohoDc;
pub use sources::FIELD_VARIABLES;
use sources::*;

/// How long the sync log keeps a row unless `XERO_SYNC_LOG_RETENTION_DAYS` says otherwise.
pub const DEFAULT_LOG_RETENTION_DAYS: u32 = 90;

/// Why the settings were refused. Messages name the variable and never include a secret's value.
#[derive(Debug, Error)]
pub enum ConfigError {
    #[error("{var}: {reason}")]
    Invalid { var: &'static str, reason: String },
    #[error("{set} is set but {missing} is not: set both or neither")]
    Incomplete { set: &'static str, missing: &'static str },
    #[error("config file {path} ({CONFIG_FILE_VAR}): {reason}")]
    File { path: PathBuf, reason: String },
    /// Production with nothing to connect to: refused rather than run as a demo with a known password.
    #[error(
        "no Xero or Zoho credentials are configured. Set XERO_CLIENT_ID and XERO_CLIENT_SECRET (your Xero app) \
         and ZOHO_CLIENT_ID and ZOHO_CLIENT_SECRET (your Zoho Self Client), in the environment or in the file \
         {CONFIG_FILE_VAR} names (README.md, \"Admin and production setup\"). To try xero-sync against the \
         built-in simulators instead, run scripts/run.sh (the xero-sync-demo binary)"
    )]
    NoCredentials,
}

/// How the service runs, decided once at start-up: the only "sandbox" flag there is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Mode {
    /// Against the real Xero and Zoho: what `xero-sync` runs.
    #[default]
    Production,
    /// Against the simulators, started by `xero-sync-demo`: every page and the widget say so.
    Demo,
}

impl Mode {
    pub fn is_demo(self) -> bool {
        self == Mode::Demo
    }
}

/// An OAuth client registered with Xero (`XERO_CLIENT_ID`, `XERO_CLIENT_SECRET`) or Zoho (the Self Client,
/// `ZOHO_CLIENT_ID`, `ZOHO_CLIENT_SECRET`). Only the secret is secret.
#[derive(Debug, Clone)]
pub struct ClientCredentials {
    pub client_id: String,
    pub client_secret: SecretString,
}

/// Xero's endpoints; overridable so tests and the demo point them at the simulator. `Default` is Xero's.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct XeroEndpoints {
    /// `XERO_LOGIN_URL`: the consent page.
    pub login_url: String,
    /// `XERO_IDENTITY_URL`: token at `/connect/token`, revocation at `/connect/revocation`.
    pub identity_url: String,
    /// `XERO_API_URL`: the Accounting API.
    pub api_url: String,
    /// `XERO_CONNECTIONS_URL`: the tenants a token reaches.
    pub connections_url: String,
}

impl Default for XeroEndpoints {
    fn default() -> Self {
        Self {
            login_url: "https://login.xero.com/identity/connect/authorize".to_owned(),
            identity_url: "https://identity.xero.com".to_owned(),
            api_url: "https://api.xero.com/api.xro/2.0".to_owned(),
            connections_url: "https://api.xero.com/connections".to_owned(),
        }
    }
}

impl XeroEndpoints {
    /// Where codes and refresh tokens are exchanged.
    pub fn token_url(&self) -> String {
        format!("{}/connect/token", self.identity_url.trim_end_matches('/'))
    }

    /// Where a refresh token is revoked (disconnecting for good).
    pub fn revocation_url(&self) -> String {
        format!("{}/connect/revocation", self.identity_url.trim_end_matches('/'))
    }
}

/// Zoho's endpoints for the configured data centre.
#[derive(Debug, Clone)]
pub struct ZohoEndpoints {
    /// `ZOHO_DC`, default `com`: one of com, eu, in, com.au, jp, com.cn, ca, sa.
    pub dc: ZohoDc,
    /// `ZOHO_ACCOUNTS_URL`, default the data centre's accounts server (e.g. `https://accounts.zoho.com`).
    pub accounts_url: String,
    /// `ZOHO_API_URL`, default the data centre's API host (e.g. `https://www.zohoapis.com`); the token
    /// response's `api_domain` takes over once known.
    pub api_url: String,
}

/// How long a client may take, and how many may be connected at once, so that slow or idle clients cannot
/// hold the service (README.md, "Security").
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ServerLimits {
    /// `XERO_SYNC_HEADER_TIMEOUT_SECS`, default 10: a request's head must be complete within this long of
    /// the connection opening or of its previous answer, however slowly its bytes trickle in.
    pub header_timeout: Duration,
    /// `XERO_SYNC_BODY_TIMEOUT_SECS`, default 15: a request's whole body must arrive within this long.
    pub body_timeout: Duration,
    /// `XERO_SYNC_REQUEST_TIMEOUT_SECS`, default 120: the longest a request is worked on before it is
    /// answered 504 (a sync keeps running and is logged; its outcome shows in the history).
    pub request_timeout: Duration,
    /// `XERO_SYNC_IDLE_TIMEOUT_SECS`, default 10: a connection with no request in progress is closed once
    /// no byte has moved on it for this long (kept alive between requests, or a client that stopped reading).
    pub idle_timeout: Duration,
    /// `XERO_SYNC_MAX_CONNECTIONS`, default 512: connections served at once; more wait to be accepted.
    pub max_connections: usize,
}

impl Default for ServerLimits {
    fn default() -> Self {
        Self {
            header_timeout: Duration::from_secs(10),
            body_timeout: Duration::from_secs(15),
            request_timeout: Duration::from_secs(120),
            idle_timeout: Duration::from_secs(10),
            max_connections: 512,
        }
    }
}

/// Everything the service is configured with. `Debug` shows no secret (they are [`SecretString`]s).
#[derive(Debug, Clone)]
pub struct Settings {
    /// Not a variable: `xero-sync` is [`Mode::Production`]; only `xero-sync-demo` sets [`Mode::Demo`].
    pub mode: Mode,
    /// `XERO_SYNC_ADDR`, default `127.0.0.1:8080`: the listen address.
    pub addr: SocketAddr,
    /// `XERO_SYNC_PUBLIC_URL`, default `http://{addr}`: the URL Zoho and browsers reach (https in
    /// production), without a trailing slash.
    pub public_url: String,
    /// `XERO_SYNC_DATABASE_URL`, default `sqlite://./data/xero-sync.db?mode=rwc`.
    pub database_url: String,
    /// `XERO_SYNC_DATA_DIR`, default `./data`: where the generated master key file goes.
    pub data_dir: PathBuf,
    /// `XERO_SYNC_WIDGET_DIR`, default none: the build embedded in the binary (release builds embed
    /// `widget/dist` at compile time; debug builds read it from the source tree). Set, the widget is served
    /// from that directory instead.
    pub widget_dir: Option<PathBuf>,
    /// `XERO_SYNC_MASTER_KEY`, default none (then `{data_dir}/master.key`, created if missing): base64 of
    /// 32 bytes encrypting secrets at rest.
    pub master_key: Option<MasterKey>,
    /// `XERO_SYNC_ADMIN_PASSWORD_HASH`, default none (admin pages closed): an argon2 PHC string from
    /// `xero-sync hash-password`.
    pub admin_password_hash: Option<SecretString>,
    /// `XERO_CLIENT_ID` + `XERO_CLIENT_SECRET`, both or neither.
    pub xero: Option<ClientCredentials>,
    /// `XERO_SCOPES`, default `offline_access accounting.settings`.
    pub xero_scopes: String,
    /// `ZOHO_CLIENT_ID` + `ZOHO_CLIENT_SECRET`, both or neither.
    pub zoho: Option<ClientCredentials>,
    pub xero_endpoints: XeroEndpoints,
    pub zoho_endpoints: ZohoEndpoints,
    /// `ZOHO_CRM_URL`, default the data centre's CRM web app (e.g. `https://crm.zoho.com`): where the admin
    /// pages link a product's record. The demo points it at the emulated CRM page.
    pub crm_url: String,
    /// `XERO_SYNC_FIELD_*`, defaults those of [`FieldMap`]: the organisation's custom field API names, as
    /// the defaults of the admin's setting ([`crate::store::CrmFieldNames`]); the names in force are read
    /// per sync from the service's one `FieldNames` handle, never from here.
    pub fields: FieldMap,
    /// `ZOHO_SDK_URL`, default Zoho's CDN copy of the embedded-app SDK (1.2): the script the widget page
    /// loads for `window.ZOHO`. The demo points it at the emulated CRM's stand-in.
    pub zoho_sdk_url: String,
    /// `XERO_SYNC_FRAME_ANCESTORS`, default the CRM hosts of every Zoho data centre: who may frame the
    /// widget (the `frame-ancestors` of its Content-Security-Policy), space-separated.
    pub frame_ancestors: String,
    /// `XERO_USE_PKCE`, default true: whether the Xero consent carries a PKCE challenge besides the client
    /// secret. Xero documents PKCE for its secret-less app type; whether a Web app's code exchange accepts
    /// both is unverified (fidelity-audit X8), so an app that refuses it connects with this off.
    pub xero_use_pkce: bool,
    /// `XERO_DAILY_CALL_LIMIT`, default 1,000 (Xero's Starter tier, which apps created since March 2026
    /// start on; 5,000 on higher tiers): calls a day per organisation the Xero client never goes past.
    pub xero_daily_call_limit: u32,
    /// `XERO_SYNC_TRUSTED_PROXIES`, default none: the reverse proxies whose `X-Forwarded-For` names the
    /// client (for the per-client login and API-key throttles). Without them the header is ignored.
    pub trusted_proxies: Vec<IpNet>,
    /// The `XERO_SYNC_*_TIMEOUT_SECS` and `XERO_SYNC_MAX_CONNECTIONS` settings.
    pub limits: ServerLimits,
    /// `XERO_SYNC_LOG_RETENTION_DAYS`, default 90: finished sync log rows older than this many days are
    /// deleted, once a day. The default of the admin's setting ([`crate::store::LogRetentionDays`]).
    pub log_retention_days: u32,
    /// `XERO_SYNC_DAILY_RESERVE_PERCENT`, default 10 (0 to 90): the share of Xero's daily calls bulk runs
    /// leave for the button; a run reaching it pauses until Xero's day resets. The default of the admin's
    /// setting ([`crate::store::DailyReservePercent`]), which wins once set.
    pub daily_reserve_percent: u8,
    /// `XERO_SYNC_RUN_LEASE_SECS`, default 60 (2 to 3600): how long a bulk run's claim lasts without a
    /// heartbeat (one every third of it); a run whose worker died is taken over once it expires.
    pub run_lease: Duration,
}

/// Xero's daily call limit per organisation on the Starter tier.
pub const XERO_STARTER_DAILY_LIMIT: u32 = 1_000;

impl Settings {
    /// The settings of this process: its environment and the file `XERO_SYNC_CONFIG` names.
    pub fn from_env() -> Result<Settings, ConfigError> {
        Self::load(&|name| std::env::var(name).ok())
    }

    /// The settings from `vars` (an environment) and the file it names in `XERO_SYNC_CONFIG`, in
    /// [`Mode::Production`].
    pub fn load(vars: &dyn Fn(&str) -> Option<String>) -> Result<Settings, ConfigError> {
        let sources = Sources::new(vars)?;
        let get = |name: &'static str| sources.get(name);

        let addr = match get(ADDR) {
            Some(text) => text
                .trim()
                .parse()
                .map_err(|e| invalid(ADDR, format!("{text:?} is not an address like 127.0.0.1:8080: {e}")))?,
            None => SocketAddr::from(([127, 0, 0, 1], 8080)),
        };
        let public_url = match get(PUBLIC_URL) {
            Some(text) => base_url(PUBLIC_URL, &text)?,
            None => format!("http://{addr}"),
        };
        let master_key = get(MASTER_KEY)
            .map(|text| MasterKey::from_base64(&text).map_err(|e| invalid(MASTER_KEY, e.to_string())))
            .transpose()?;
        let admin_password_hash = get(ADMIN_PASSWORD_HASH).map(|text| admin_hash(&text)).transpose()?;
        let xero = credentials(get(XERO_CLIENT_ID), get(XERO_CLIENT_SECRET), XERO_CLIENT_ID, XERO_CLIENT_SECRET)?;
        let zoho = credentials(get(ZOHO_CLIENT_ID), get(ZOHO_CLIENT_SECRET), ZOHO_CLIENT_ID, ZOHO_CLIENT_SECRET)?;
        let xero_scopes = get(XERO_SCOPES)
            .map(|text| text.split_whitespace().collect::<Vec<_>>().join(" "))
            .unwrap_or_else(|| "offline_access accounting.settings".to_owned());
        if !xero_scopes.split(' ').any(|scope| scope == "offline_access") {
            return Err(invalid(XERO_SCOPES, "must include offline_access, or Xero issues no refresh token"));
        }
        let dc = match get(ZOHO_DC) {
            Some(text) => ZohoDc::parse(&text).ok_or_else(|| {
                let known: Vec<_> = ZohoDc::ALL.iter().map(|dc| dc.as_str()).collect();
                invalid(ZOHO_DC, format!("{text:?} is not one of {}", known.join(", ")))
            })?,
            None => ZohoDc::default(),
        };
        let url = |var: &'static str, default: String| match get(var) {
            Some(text) => base_url(var, &text),
            None => Ok(default),
        };
        let xero_defaults = XeroEndpoints::default();
        let xero_endpoints = XeroEndpoints {
            login_url: url(XERO_LOGIN_URL, xero_defaults.login_url)?,
            identity_url: url(XERO_IDENTITY_URL, xero_defaults.identity_url)?,
            api_url: url(XERO_API_URL, xero_defaults.api_url)?,
            connections_url: url(XERO_CONNECTIONS_URL, xero_defaults.connections_url)?,
        };
        let zoho_endpoints = ZohoEndpoints {
            dc,
            accounts_url: url(ZOHO_ACCOUNTS_URL, dc.accounts_url())?,
            api_url: url(ZOHO_API_URL, dc.api_url())?,
        };
        let crm_url = url(ZOHO_CRM_URL, dc.crm_url())?;
        let defaults = FieldMap::default();
        let field = |var: &'static str, default: String| match get(var) {
            Some(text) => api_name(var, text.trim()),
            None => Ok(default),
        };
        let fields = FieldMap {
            add_to_xero: field(FIELD_ADD_TO_XERO, defaults.add_to_xero)?,
            gl_account: field(FIELD_GL_ACCOUNT, defaults.gl_account)?,
            tax_rate: field(FIELD_TAX_RATE, defaults.tax_rate)?,
            item_id: field(FIELD_ITEM_ID, defaults.item_id)?,
            last_synced: field(FIELD_LAST_SYNCED, defaults.last_synced)?,
            sync_status: field(FIELD_SYNC_STATUS, defaults.sync_status)?,
        };
        distinct_fields(&fields)?;
        let defaults = ServerLimits::default();
        let duration = |var: &'static str, default: Duration| match get(var) {
            Some(text) => seconds(var, &text),
            None => Ok(default),
        };
        let limits = ServerLimits {
            header_timeout: duration(HEADER_TIMEOUT, defaults.header_timeout)?,
            body_timeout: duration(BODY_TIMEOUT, defaults.body_timeout)?,
            request_timeout: duration(REQUEST_TIMEOUT, defaults.request_timeout)?,
            idle_timeout: duration(IDLE_TIMEOUT, defaults.idle_timeout)?,
            max_connections: match get(MAX_CONNECTIONS) {
                Some(text) => whole(MAX_CONNECTIONS, &text, 1..=100_000)?,
                None => defaults.max_connections,
            },
        };

        let settings = Settings {
            mode: Mode::Production,
            addr,
            public_url,
            database_url: match get(DATABASE_URL) {
                Some(text) if text.trim().starts_with("sqlite:") => text.trim().to_owned(),
                Some(text) => return Err(invalid(DATABASE_URL, format!("{text:?} is not a sqlite: URL"))),
                None => "sqlite://./data/xero-sync.db?mode=rwc".to_owned(),
            },
            data_dir: get(DATA_DIR).map(PathBuf::from).unwrap_or_else(|| PathBuf::from("./data")),
            widget_dir: get(WIDGET_DIR).map(PathBuf::from),
            master_key,
            admin_password_hash,
            xero,
            xero_scopes,
            zoho,
            xero_endpoints,
            zoho_endpoints,
            crm_url,
            fields,
            zoho_sdk_url: match get(ZOHO_SDK_URL) {
                Some(text) => base_url(ZOHO_SDK_URL, &text)?,
                None => "https://live.zwidgets.com/js-sdk/1.2/ZohoEmbededAppSDK.min.js".to_owned(),
            },
            frame_ancestors: match get(FRAME_ANCESTORS) {
                Some(text) => csp_sources(FRAME_ANCESTORS, &text)?,
                None => data_centre::ZOHO_CRM_ORIGINS.to_owned(),
            },
            trusted_proxies: get(TRUSTED_PROXIES)
                .map(|text| networks(TRUSTED_PROXIES, &text))
                .transpose()?
                .unwrap_or_default(),
            limits,
            xero_use_pkce: get(XERO_USE_PKCE).map(|text| boolean(XERO_USE_PKCE, &text)).transpose()?.unwrap_or(true),
            xero_daily_call_limit: get(XERO_DAILY_CALL_LIMIT)
                // Within the range, so the cast is exact.
                .map(|text| whole(XERO_DAILY_CALL_LIMIT, &text, 1..=10_000_000).map(|n| n as u32))
                .transpose()?
                .unwrap_or(XERO_STARTER_DAILY_LIMIT),
            // From a day to a century ("forever" enough); within the range, so the cast is exact.
            log_retention_days: get(LOG_RETENTION_DAYS)
                .map(|text| {
                    whole(LOG_RETENTION_DAYS, &text, 1..=crate::store::MAX_LOG_RETENTION_DAYS as usize)
                        .map(|n| n as u32)
                })
                .transpose()?
                .unwrap_or(DEFAULT_LOG_RETENTION_DAYS),
            daily_reserve_percent: match get(DAILY_RESERVE_PERCENT) {
                Some(text) => {
                    whole(DAILY_RESERVE_PERCENT, &text, 0..=usize::from(crate::store::MAX_DAILY_RESERVE_PERCENT))? as u8
                }
                None => 10,
            },
            run_lease: Duration::from_secs(match get(RUN_LEASE_SECS) {
                Some(text) => whole(RUN_LEASE_SECS, &text, 2..=3600)? as u64,
                None => 60,
            }),
        };
        if settings.xero.is_some() {
            // Xero accepts plain-http redirect URIs for localhost only.
            https_unless_loopback(PUBLIC_URL, &settings.public_url)?;
        }
        Ok(settings)
    }

    /// Production needs something to connect to: with neither Xero's nor Zoho's credentials the service
    /// is refused ([`ConfigError::NoCredentials`]) instead of quietly becoming a demo.
    pub fn require_credentials(&self) -> Result<(), ConfigError> {
        if self.mode == Mode::Production && self.xero.is_none() && self.zoho.is_none() {
            return Err(ConfigError::NoCredentials);
        }
        Ok(())
    }

    /// The redirect URI registered with the Xero app.
    pub fn xero_redirect_uri(&self) -> String {
        format!("{}/admin/xero/callback", self.public_url)
    }

    /// The URL to enter as the CRM widget's external hosting URL.
    pub fn widget_url(&self) -> String {
        format!("{}/widget/", self.public_url)
    }
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;

    use secrecy::ExposeSecret;

    use super::*;

    fn load(pairs: &[(&str, &str)]) -> Result<Settings, ConfigError> {
        let map: HashMap<String, String> = pairs.iter().map(|(k, v)| ((*k).to_owned(), (*v).to_owned())).collect();
        Settings::load(&|name| map.get(name).cloned())
    }

    fn error(pairs: &[(&str, &str)]) -> String {
        match load(pairs) {
            Ok(settings) => panic!("expected an error, got {settings:?}"),
            Err(e) => e.to_string(),
        }
    }

    const KEY: &str = "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=";

    #[test]
    fn field_variables_follow_the_order_of_the_custom_fields() {
        for (i, variable) in FIELD_VARIABLES.into_iter().enumerate() {
            let settings = load(&[(variable, "Renamed_Field")]).expect("settings");
            let renamed: Vec<usize> = settings
                .fields
                .custom_fields()
                .iter()
                .enumerate()
                .filter(|(_, (_, name))| *name == "Renamed_Field")
                .map(|(j, _)| j)
                .collect();
            assert_eq!(renamed, [i], "{variable} names custom field {i}");
        }
    }

    #[test]
    fn defaults_without_any_variable() {
        let s = load(&[]).expect("defaults");
        assert_eq!(s.addr, SocketAddr::from(([127, 0, 0, 1], 8080)));
        assert_eq!(s.public_url, "http://127.0.0.1:8080");
        assert_eq!(s.xero_redirect_uri(), "http://127.0.0.1:8080/admin/xero/callback");
        assert_eq!(s.widget_url(), "http://127.0.0.1:8080/widget/");
        assert_eq!(s.database_url, "sqlite://./data/xero-sync.db?mode=rwc");
        assert_eq!(s.data_dir, PathBuf::from("./data"));
        assert!(s.master_key.is_none() && s.admin_password_hash.is_none());
        assert_eq!(s.xero_scopes, "offline_access accounting.settings");
        assert_eq!(s.xero_endpoints.login_url, "https://login.xero.com/identity/connect/authorize");
        assert_eq!(s.xero_endpoints.token_url(), "https://identity.xero.com/connect/token");
        assert_eq!(s.xero_endpoints.api_url, "https://api.xero.com/api.xro/2.0");
        assert_eq!(s.xero_endpoints.connections_url, "https://api.xero.com/connections");
        assert_eq!(s.zoho_endpoints.dc, ZohoDc::Com);
        assert_eq!(s.zoho_endpoints.accounts_url, "https://accounts.zoho.com");
        assert_eq!(s.zoho_endpoints.api_url, "https://www.zohoapis.com");
        assert_eq!(s.crm_url, "https://crm.zoho.com");
        assert_eq!(s.log_retention_days, 90);
        assert_eq!(s.fields, FieldMap::default());
        assert_eq!(s.mode, Mode::Production);
        assert!(s.trusted_proxies.is_empty(), "X-Forwarded-For is ignored unless a proxy is trusted");
        assert_eq!(s.limits, ServerLimits::default());
        assert!(matches!(s.require_credentials(), Err(ConfigError::NoCredentials)), "production needs credentials");
        assert!(s.xero_use_pkce, "PKCE as before the setting existed");
        assert_eq!(s.xero_daily_call_limit, 1_000, "Xero's Starter tier");
    }

    #[test]
    fn pkce_and_the_daily_limit_are_checked() {
        for (text, expected) in [("false", false), ("0", false), ("No", false), ("true", true), ("ON", true)] {
            assert_eq!(load(&[(XERO_USE_PKCE, text)]).expect(text).xero_use_pkce, expected, "{text}");
        }
        assert_eq!(error(&[(XERO_USE_PKCE, "maybe")]), "XERO_USE_PKCE: \"maybe\" is not true or false");
        assert_eq!(load(&[(XERO_DAILY_CALL_LIMIT, "5000")]).expect("limit").xero_daily_call_limit, 5_000);
        for bad in ["0", "-1", "lots", "1.5", "10000001"] {
            assert!(error(&[(XERO_DAILY_CALL_LIMIT, bad)]).starts_with("XERO_DAILY_CALL_LIMIT: "), "{bad}");
        }
    }

    #[test]
    fn public_url_follows_addr_and_loses_its_trailing_slash() {
        let s = load(&[(ADDR, "0.0.0.0:9000")]).expect("addr");
        assert_eq!(s.public_url, "http://0.0.0.0:9000");
        let s = load(&[(PUBLIC_URL, "https://sync.example.com/")]).expect("url");
        assert_eq!(s.xero_redirect_uri(), "https://sync.example.com/admin/xero/callback");
    }

    #[test]
    fn every_data_centre_maps_to_the_reference_hosts() {
        let expected = [
            ("com", "https://accounts.zoho.com", "https://www.zohoapis.com", "https://crm.zoho.com"),
            ("eu", "https://accounts.zoho.eu", "https://www.zohoapis.eu", "https://crm.zoho.eu"),
            ("in", "https://accounts.zoho.in", "https://www.zohoapis.in", "https://crm.zoho.in"),
            ("com.au", "https://accounts.zoho.com.au", "https://www.zohoapis.com.au", "https://crm.zoho.com.au"),
            ("jp", "https://accounts.zoho.jp", "https://www.zohoapis.jp", "https://crm.zoho.jp"),
            ("com.cn", "https://accounts.zoho.com.cn", "https://www.zohoapis.com.cn", "https://crm.zoho.com.cn"),
            ("ca", "https://accounts.zohocloud.ca", "https://www.zohoapis.ca", "https://crm.zohocloud.ca"),
            ("sa", "https://accounts.zoho.sa", "https://www.zohoapis.sa", "https://crm.zoho.sa"),
        ];
        for (dc, accounts, api, crm) in expected {
            let s = load(&[(ZOHO_DC, dc)]).expect(dc);
            assert_eq!(s.zoho_endpoints.dc.as_str(), dc);
            assert_eq!(s.zoho_endpoints.accounts_url, accounts, "{dc}");
            assert_eq!(s.zoho_endpoints.api_url, api, "{dc}");
            assert_eq!(s.crm_url, crm, "{dc}");
        }
        let s = load(&[(ZOHO_DC, "EU"), (ZOHO_API_URL, "http://127.0.0.1:9999")]).expect("override");
        assert_eq!(s.zoho_endpoints.accounts_url, "https://accounts.zoho.eu");
        assert_eq!(s.zoho_endpoints.api_url, "http://127.0.0.1:9999");
        assert!(error(&[(ZOHO_DC, "us")]).starts_with("ZOHO_DC: \"us\" is not one of com, eu"));
    }

    #[test]
    fn credentials_come_in_pairs_and_either_pair_is_enough() {
        let s = load(&[(XERO_CLIENT_ID, "xid"), (XERO_CLIENT_SECRET, "xsecret")]).expect("pair");
        let xero = s.xero.as_ref().expect("xero");
        assert_eq!((xero.client_id.as_str(), xero.client_secret.expose_secret()), ("xid", "xsecret"));
        assert!(s.zoho.is_none() && s.require_credentials().is_ok());
        assert_eq!(
            error(&[(ZOHO_CLIENT_ID, "zid")]),
            "ZOHO_CLIENT_ID is set but ZOHO_CLIENT_SECRET is not: set both or neither"
        );
        assert_eq!(
            error(&[(XERO_CLIENT_SECRET, "x")]),
            "XERO_CLIENT_SECRET is set but XERO_CLIENT_ID is not: set both or neither"
        );
        let s = load(&[(ZOHO_CLIENT_ID, "zid"), (ZOHO_CLIENT_SECRET, "zs")]).expect("zoho only");
        assert!(s.zoho.is_some() && s.require_credentials().is_ok());
        let demo = Settings { mode: Mode::Demo, ..load(&[]).expect("defaults") };
        assert!(demo.require_credentials().is_ok(), "the demo brings the simulators' credentials itself");
    }

    #[test]
    fn debug_never_shows_a_secret() {
        let hash = crate::crypto::hash_password("correct horse").expect("hash");
        let s = load(&[
            (XERO_CLIENT_ID, "xid"),
            (XERO_CLIENT_SECRET, "xero-secret-value"),
            (ZOHO_CLIENT_ID, "zid"),
            (ZOHO_CLIENT_SECRET, "zoho-secret-value"),
            (MASTER_KEY, KEY),
            (ADMIN_PASSWORD_HASH, &hash),
        ])
        .expect("settings");
        let debug = format!("{s:?}");
        for secret in ["xero-secret-value", "zoho-secret-value", KEY, &hash, "argon2id"] {
            assert!(!debug.contains(secret), "{secret} in {debug}");
        }
        assert!(debug.contains("xid"));
    }

    #[test]
    fn bad_values_name_their_variable() {
        assert!(error(&[(ADDR, "localhost")]).starts_with("XERO_SYNC_ADDR: \"localhost\""));
        assert!(error(&[(PUBLIC_URL, "sync.example.com")]).starts_with("XERO_SYNC_PUBLIC_URL:"));
        assert!(error(&[(XERO_API_URL, "ftp://x.example")]).starts_with("XERO_API_URL:"));
        assert!(error(&[(XERO_LOGIN_URL, "https://x.example/a?b=c")]).contains("query"));
        let bad_key = error(&[(MASTER_KEY, "not base64!")]);
        assert!(bad_key.starts_with("XERO_SYNC_MASTER_KEY:") && !bad_key.contains("not base64!"), "{bad_key}");
        assert!(error(&[(MASTER_KEY, "AAAA")]).contains("3 bytes, expected 32"));
        let bad_hash = error(&[(ADMIN_PASSWORD_HASH, "hunter2")]);
        assert!(bad_hash.starts_with("XERO_SYNC_ADMIN_PASSWORD_HASH:") && !bad_hash.contains("hunter2"), "{bad_hash}");
        assert!(
            error(&[(
                ADMIN_PASSWORD_HASH,
                "$scrypt$ln=16,r=8,p=1$aM15713r3Xsvxbi31lqr1Q$nFNh2CVHVjNldFVKDHDlm4CbdRSCdEBsjjJxD+iCs5E"
            )])
            .contains("must be an argon2 hash")
        );
        assert!(error(&[(XERO_SCOPES, "accounting.settings")]).contains("offline_access"));
        assert!(error(&[(DATABASE_URL, "postgres://db/x")]).starts_with("XERO_SYNC_DATABASE_URL: \"postgres"));
        for bad in ["0", "-5", "ninety", "36501"] {
            assert!(error(&[(LOG_RETENTION_DAYS, bad)]).starts_with("XERO_SYNC_LOG_RETENTION_DAYS:"), "{bad}");
        }
        assert_eq!(load(&[(LOG_RETENTION_DAYS, " 30 ")]).expect("30 days").log_retention_days, 30);
    }

    #[test]
    fn bulk_run_settings_are_bounded_numbers() {
        let s = load(&[]).expect("defaults");
        assert_eq!((s.daily_reserve_percent, s.run_lease), (10, Duration::from_secs(60)));
        let s = load(&[(DAILY_RESERVE_PERCENT, " 25 "), (RUN_LEASE_SECS, "5")]).expect("set");
        assert_eq!((s.daily_reserve_percent, s.run_lease), (25, Duration::from_secs(5)));
        assert_eq!(
            error(&[(DAILY_RESERVE_PERCENT, "95")]),
            "XERO_SYNC_DAILY_RESERVE_PERCENT: \"95\" is not a whole number from 0 to 90"
        );
        assert!(error(&[(RUN_LEASE_SECS, "1")]).starts_with("XERO_SYNC_RUN_LEASE_SECS:"));
        assert!(error(&[(RUN_LEASE_SECS, "a minute")]).starts_with("XERO_SYNC_RUN_LEASE_SECS:"));
    }

    #[test]
    fn proxies_timeouts_and_the_connection_cap() {
        let s = load(&[
            (TRUSTED_PROXIES, "10.0.0.5, 192.168.1.0/24 fd00::1/8"),
            (HEADER_TIMEOUT, "2.5"),
            (BODY_TIMEOUT, "3"),
            (REQUEST_TIMEOUT, "60"),
            (IDLE_TIMEOUT, "0.5"),
            (MAX_CONNECTIONS, "64"),
        ])
        .expect("settings");
        let proxies: Vec<String> = s.trusted_proxies.iter().map(ToString::to_string).collect();
        assert_eq!(proxies, ["10.0.0.5/32", "192.168.1.0/24", "fd00::/8"]);
        assert_eq!(
            s.limits,
            ServerLimits {
                header_timeout: Duration::from_millis(2500),
                body_timeout: Duration::from_secs(3),
                request_timeout: Duration::from_secs(60),
                idle_timeout: Duration::from_millis(500),
                max_connections: 64,
            }
        );
        assert!(error(&[(TRUSTED_PROXIES, "10.0.0.0/33")]).starts_with("XERO_SYNC_TRUSTED_PROXIES: \"10.0.0.0/33\""));
        assert!(error(&[(TRUSTED_PROXIES, "proxy.internal")]).starts_with("XERO_SYNC_TRUSTED_PROXIES:"));
        for bad in ["0", "-1", "ten", "1e9", "NaN"] {
            assert!(error(&[(HEADER_TIMEOUT, bad)]).starts_with("XERO_SYNC_HEADER_TIMEOUT_SECS:"), "{bad}");
        }
        for bad in ["0", "1.5", "many", "1000000"] {
            assert!(error(&[(MAX_CONNECTIONS, bad)]).starts_with("XERO_SYNC_MAX_CONNECTIONS:"), "{bad}");
        }
        let s = load(&[(FRAME_ANCESTORS, " https://*.zoho.com   'self' ")]).expect("sources");
        assert_eq!(s.frame_ancestors, "https://*.zoho.com 'self'");
        // A policy's separators would let the setting add directives of its own.
        for bad in ["https://a.example; script-src *", "https://a.example,https://b.example", "https://é.example"] {
            assert!(error(&[(FRAME_ANCESTORS, bad)]).starts_with("XERO_SYNC_FRAME_ANCESTORS:"), "{bad}");
        }
    }

    #[test]
    fn field_names_must_be_api_names_and_distinct() {
        let s = load(&[(FIELD_GL_ACCOUNT, "GL_Code_2"), (FIELD_SYNC_STATUS, " Sync_State ")]).expect("fields");
        assert_eq!((s.fields.gl_account.as_str(), s.fields.sync_status.as_str()), ("GL_Code_2", "Sync_State"));
        for bad in ["2GL", "GL Account", "_GL", "GL-Account", "Compte_é"] {
            assert!(error(&[(FIELD_GL_ACCOUNT, bad)]).starts_with("XERO_SYNC_FIELD_GL_ACCOUNT:"), "{bad}");
        }
        assert_eq!(
            error(&[(FIELD_ITEM_ID, "xero_gl_account")]),
            "XERO_SYNC_FIELD_ITEM_ID: \"xero_gl_account\" is already the field of XERO_SYNC_FIELD_GL_ACCOUNT"
        );
    }

    #[test]
    fn xero_needs_an_https_public_url_off_localhost() {
        let xero = [(XERO_CLIENT_ID, "x"), (XERO_CLIENT_SECRET, "y")];
        assert!(error(&[xero[0], xero[1], (PUBLIC_URL, "http://sync.example.com")]).contains("must be https"));
        assert!(load(&[xero[0], xero[1], (PUBLIC_URL, "http://localhost:8080")]).is_ok());
        assert!(load(&[xero[0], xero[1], (PUBLIC_URL, "https://sync.example.com")]).is_ok());
        assert!(load(&[xero[0], xero[1]]).is_ok(), "the default is loopback");
    }

    #[test]
    fn the_file_fills_in_and_the_environment_wins() {
        let dir = std::env::temp_dir().join(format!("xero-sync-config-{}", uuid::Uuid::new_v4()));
        std::fs::create_dir_all(&dir).expect("dir");
        let path = dir.join("xero-sync.toml");
        std::fs::write(
            &path,
            "XERO_SYNC_ADDR = \"0.0.0.0:7000\"\nZOHO_DC = \"com.au\"\nXERO_SYNC_DATA_DIR = \"/var/lib/x\"\n",
        )
        .expect("write");
        let file = path.to_str().expect("utf-8 path");
        let s = load(&[(CONFIG_FILE_VAR, file), (ADDR, "127.0.0.1:7001"), (DATA_DIR, "")]).expect("file");
        assert_eq!(s.addr.port(), 7001, "the environment wins");
        assert_eq!(s.zoho_endpoints.dc, ZohoDc::ComAu, "the file fills in");
        assert_eq!(s.data_dir, PathBuf::from("/var/lib/x"), "an empty variable counts as unset");

        std::fs::write(&path, "XERO_SYNC_ADR = \"0.0.0.0:7000\"\n").expect("write");
        assert!(error(&[(CONFIG_FILE_VAR, file)]).contains("unknown key \"XERO_SYNC_ADR\""));
        std::fs::write(&path, "XERO_SYNC_ADDR = [1]\n").expect("write");
        assert!(error(&[(CONFIG_FILE_VAR, file)]).contains("XERO_SYNC_ADDR must be a string"));
        std::fs::write(&path, "not toml").expect("write");
        assert!(error(&[(CONFIG_FILE_VAR, file)]).starts_with("config file"));
        std::fs::remove_dir_all(&dir).expect("cleanup");
        assert!(error(&[(CONFIG_FILE_VAR, file)]).starts_with("config file"), "a missing file is an error");
    }

    #[test]
    fn readme_documents_every_variable() {
        let readme = include_str!("../../../README.md");
        let section = readme.split("## Configuration").nth(1).expect("a Configuration section");
        let section = section.split("\n## ").next().unwrap_or(section);
        for var in VARIABLES.iter().chain([&CONFIG_FILE_VAR]) {
            assert!(section.contains(&format!("`{var}`")), "{var} is missing from README's Configuration");
        }
    }
}
