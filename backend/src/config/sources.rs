//! Where settings come from: the process environment and the optional TOML file `XERO_SYNC_CONFIG` names,
//! whose keys are the variable names. A variable set in the environment wins; an empty value is unset.

use std::collections::HashMap;
use std::path::PathBuf;

use super::ConfigError;

/// Names the optional TOML file.
pub(super) const CONFIG_FILE_VAR: &str = "XERO_SYNC_CONFIG";

pub(super) const ADDR: &str = "XERO_SYNC_ADDR";
pub(super) const PUBLIC_URL: &str = "XERO_SYNC_PUBLIC_URL";
pub(super) const DATABASE_URL: &str = "XERO_SYNC_DATABASE_URL";
pub(super) const DATA_DIR: &str = "XERO_SYNC_DATA_DIR";
pub(super) const WIDGET_DIR: &str = "XERO_SYNC_WIDGET_DIR";
pub(super) const MASTER_KEY: &str = "XERO_SYNC_MASTER_KEY";
pub(super) const ADMIN_PASSWORD_HASH: &str = "XERO_SYNC_ADMIN_PASSWORD_HASH";
pub(super) const XERO_CLIENT_ID: &str = "XERO_CLIENT_ID";
pub(super) const XERO_CLIENT_SECRET: &str = "XERO_CLIENT_SECRET";
pub(super) const XERO_SCOPES: &str = "XERO_SCOPES";
pub(super) const ZOHO_CLIENT_ID: &str = "ZOHO_CLIENT_ID";
pub(super) const ZOHO_CLIENT_SECRET: &str = "ZOHO_CLIENT_SECRET";
pub(super) const ZOHO_DC: &str = "ZOHO_DC";
pub(super) const XERO_LOGIN_URL: &str = "XERO_LOGIN_URL";
pub(super) const XERO_IDENTITY_URL: &str = "XERO_IDENTITY_URL";
pub(super) const XERO_API_URL: &str = "XERO_API_URL";
pub(super) const XERO_CONNECTIONS_URL: &str = "XERO_CONNECTIONS_URL";
pub(super) const ZOHO_ACCOUNTS_URL: &str = "ZOHO_ACCOUNTS_URL";
pub(super) const ZOHO_API_URL: &str = "ZOHO_API_URL";
pub(super) const ZOHO_CRM_URL: &str = "ZOHO_CRM_URL";
pub(super) const FIELD_ADD_TO_XERO: &str = "XERO_SYNC_FIELD_ADD_TO_XERO";
pub(super) const FIELD_GL_ACCOUNT: &str = "XERO_SYNC_FIELD_GL_ACCOUNT";
pub(super) const FIELD_TAX_RATE: &str = "XERO_SYNC_FIELD_TAX_RATE";
pub(super) const FIELD_ITEM_ID: &str = "XERO_SYNC_FIELD_ITEM_ID";
pub(super) const FIELD_LAST_SYNCED: &str = "XERO_SYNC_FIELD_LAST_SYNCED";
pub(super) const FIELD_SYNC_STATUS: &str = "XERO_SYNC_FIELD_SYNC_STATUS";
/// The variables naming the custom fields, in the order of [`shared::FieldMap::custom_fields`].
pub const FIELD_VARIABLES: [&str; 6] =
    [FIELD_ADD_TO_XERO, FIELD_GL_ACCOUNT, FIELD_TAX_RATE, FIELD_ITEM_ID, FIELD_LAST_SYNCED, FIELD_SYNC_STATUS];
pub(super) const ZOHO_SDK_URL: &str = "ZOHO_SDK_URL";
pub(super) const FRAME_ANCESTORS: &str = "XERO_SYNC_FRAME_ANCESTORS";
pub(super) const XERO_USE_PKCE: &str = "XERO_USE_PKCE";
pub(super) const XERO_DAILY_CALL_LIMIT: &str = "XERO_DAILY_CALL_LIMIT";
pub(super) const DAILY_RESERVE_PERCENT: &str = "XERO_SYNC_DAILY_RESERVE_PERCENT";
pub(super) const RUN_LEASE_SECS: &str = "XERO_SYNC_RUN_LEASE_SECS";
pub(super) const TRUSTED_PROXIES: &str = "XERO_SYNC_TRUSTED_PROXIES";
pub(super) const HEADER_TIMEOUT: &str = "XERO_SYNC_HEADER_TIMEOUT_SECS";
pub(super) const BODY_TIMEOUT: &str = "XERO_SYNC_BODY_TIMEOUT_SECS";
pub(super) const REQUEST_TIMEOUT: &str = "XERO_SYNC_REQUEST_TIMEOUT_SECS";
pub(super) const IDLE_TIMEOUT: &str = "XERO_SYNC_IDLE_TIMEOUT_SECS";
pub(super) const MAX_CONNECTIONS: &str = "XERO_SYNC_MAX_CONNECTIONS";
pub(super) const LOG_RETENTION_DAYS: &str = "XERO_SYNC_LOG_RETENTION_DAYS";

/// Every variable the service reads (besides [`CONFIG_FILE_VAR`]); a file key outside this list is a typo.
pub(super) const VARIABLES: &[&str] = &[
    ADDR,
    PUBLIC_URL,
    DATABASE_URL,
    DATA_DIR,
    WIDGET_DIR,
    MASTER_KEY,
    ADMIN_PASSWORD_HASH,
    XERO_CLIENT_ID,
    XERO_CLIENT_SECRET,
    XERO_SCOPES,
    ZOHO_CLIENT_ID,
    ZOHO_CLIENT_SECRET,
    ZOHO_DC,
    XERO_LOGIN_URL,
    XERO_IDENTITY_URL,
    XERO_API_URL,
    XERO_CONNECTIONS_URL,
    ZOHO_ACCOUNTS_URL,
    ZOHO_API_URL,
    ZOHO_CRM_URL,
    FIELD_ADD_TO_XERO,
    FIELD_GL_ACCOUNT,
    FIELD_TAX_RATE,
    FIELD_ITEM_ID,
    FIELD_LAST_SYNCED,
    FIELD_SYNC_STATUS,
    ZOHO_SDK_URL,
    FRAME_ANCESTORS,
    XERO_USE_PKCE,
    XERO_DAILY_CALL_LIMIT,
    DAILY_RESERVE_PERCENT,
    RUN_LEASE_SECS,
    TRUSTED_PROXIES,
    HEADER_TIMEOUT,
    BODY_TIMEOUT,
    REQUEST_TIMEOUT,
    IDLE_TIMEOUT,
    MAX_CONNECTIONS,
    LOG_RETENTION_DAYS,
];

/// The values to read settings from: `vars` (an environment) over the file it names, if any.
pub(super) struct Sources<'a> {
    vars: &'a dyn Fn(&str) -> Option<String>,
    file: HashMap<String, String>,
}

impl<'a> Sources<'a> {
    pub(super) fn new(vars: &'a dyn Fn(&str) -> Option<String>) -> Result<Self, ConfigError> {
        let file = match non_empty(vars(CONFIG_FILE_VAR)) {
            Some(path) => read_file(PathBuf::from(path))?,
            None => HashMap::new(),
        };
        Ok(Self { vars, file })
    }

    /// The value of `name`: the environment's, else the file's; `None` when unset or empty.
    pub(super) fn get(&self, name: &'static str) -> Option<String> {
        non_empty((self.vars)(name)).or_else(|| self.file.get(name).cloned())
    }
}

fn non_empty(value: Option<String>) -> Option<String> {
    value.filter(|text| !text.trim().is_empty())
}

/// The file's string values by key; a key that is no variable, or a value that is not a string, is refused.
fn read_file(path: PathBuf) -> Result<HashMap<String, String>, ConfigError> {
    let text =
        std::fs::read_to_string(&path).map_err(|e| ConfigError::File { path: path.clone(), reason: e.to_string() })?;
    let table: toml::Table =
        toml::from_str(&text).map_err(|e| ConfigError::File { path: path.clone(), reason: e.to_string() })?;
    let mut values = HashMap::new();
    for (key, value) in table {
        if !VARIABLES.contains(&key.as_str()) {
            return Err(ConfigError::File {
                path,
                reason: format!("unknown key {key:?} (keys are the variable names)"),
            });
        }
        let text = match value {
            toml::Value::String(text) => text,
            toml::Value::Integer(_) | toml::Value::Float(_) | toml::Value::Boolean(_) => value.to_string(),
            _ => return Err(ConfigError::File { path, reason: format!("{key} must be a string") }),
        };
        values.insert(key, text);
    }
    Ok(values)
}
