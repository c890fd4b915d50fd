//! The service's state in SQLite: Xero and Zoho credentials (sealed with [`Cipher`]), item links, the
//! sync log, bulk runs and schedules, the organisation settings and their audit trail, the widget API key,
//! admin sessions and OAuth states. Schema: `backend/migrations/`.
//!
//! Every secret column holds [`Cipher::seal`] output bound to its column (and row), so a copied database
//! without the master key yields nothing, and a ciphertext moved elsewhere does not open. Times are stored
//! as Unix milliseconds.

mod auth;
mod connections;
mod items;
mod org_settings;
mod runs;
mod schedules;
mod sync_log;
mod tokens;
mod vaults;

use std::borrow::Cow;
use std::path::PathBuf;
use std::str::FromStr;
use std::time::Duration;

use chrono::{DateTime, TimeDelta, Utc};
use secrecy::{ExposeSecret, SecretString};
use sqlx::migrate::{Migration, MigrationType, Migrator};
use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions, SqliteSynchronous};
use sqlx::{SqlSafeStr, SqlitePool};
use thiserror::Error;

use crate::crypto::{Cipher, CryptoError};

pub use auth::{AdminSession, ApiKey, hash_api_key};
pub use connections::{ConnectionStatus, PendingTenant, XeroConnection, ZohoConnection};
pub use items::{ItemLink, ItemState};
pub use org_settings::{
    CrmFieldNames, DailyReservePercent, DefaultGlAccount, LogRetentionDays, MAX_DAILY_RESERVE_PERCENT,
    MAX_LOG_RETENTION_DAYS, OrgSetting, SettingChange, TaxMappings,
};
pub use runs::{
    BulkLogEntry, EventLevel, Lease, LinkState, NewRun, ProductFilter, ProductOutcome, ProductRecord, Run, RunCounters,
    RunEnd, RunEvent, RunProduct, RunState, RunTrigger, RunWindow, RunWrite, Writeback,
};
pub use schedules::{DEFAULT_SCHEDULE_HOURS, SCHEDULE_HOURS, Schedule};
pub use sync_log::{LogCursor, LogFilter, LogPage, OutcomeCounts, SyncLogEntry, SyncOutcome, SyncTrigger};
pub use tokens::XeroTokens;
pub(crate) use vaults::ZohoGrantVault;

#[derive(Debug, Error)]
pub enum StoreError {
    #[error("database: {0}")]
    Database(#[from] sqlx::Error),
    #[error("database migration: {0}")]
    Migrate(#[from] sqlx::migrate::MigrateError),
    #[error("cannot create the database directory {path}: {source}")]
    CreateDir { path: PathBuf, source: std::io::Error },
    /// A sealed column does not open: the master key is not the one the data was written with, or the
    /// database was altered.
    #[error("{column}: {source}")]
    Secret { column: &'static str, source: CryptoError },
    #[error("{column} holds an unreadable value: {reason}")]
    Corrupt { column: &'static str, reason: String },
    #[error("{0}")]
    InvalidArgument(String),
    #[error("sync run {0} is not running (unknown or already finished)")]
    RunNotRunning(String),
    #[error("Xero item {item_id} of tenant {tenant_id} is already linked to CRM product {product_id}")]
    ItemLinkedElsewhere { tenant_id: String, item_id: String, product_id: String },
    /// The organisation already has an active run (queued, running or paused).
    #[error("run {} of this organisation is already {}", .0.id, .0.state.as_str())]
    RunActive(Box<Run>),
    /// The run was claimed by another worker (its lease had expired) or released: this worker must stop.
    #[error("run {run_id} is no longer held with fence {fence}: another worker took it over")]
    LeaseLost { run_id: i64, fence: i64 },
}

/// A handle on the database; clones share one connection pool.
#[derive(Clone)]
pub struct Store {
    pool: SqlitePool,
    cipher: Cipher,
}

impl std::fmt::Debug for Store {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Store").field("pool_size", &self.pool.size()).finish_non_exhaustive()
    }
}

impl Store {
    /// Opens (creating the file and its directory) the database at `database_url`, e.g.
    /// `sqlite://./data/xero-sync.db?mode=rwc`, in WAL mode, and brings its schema up to date.
    pub async fn connect(database_url: &str, cipher: Cipher) -> Result<Store, StoreError> {
        let options = SqliteConnectOptions::from_str(database_url)?
            .create_if_missing(true)
            .journal_mode(SqliteJournalMode::Wal)
            // NORMAL is durable in WAL mode except for the last transactions on power loss.
            .synchronous(SqliteSynchronous::Normal)
            .busy_timeout(Duration::from_secs(5))
            .foreign_keys(true);
        if let Some(dir) = options.get_filename().parent().filter(|dir| !dir.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir).map_err(|source| StoreError::CreateDir { path: dir.to_owned(), source })?;
        }
        let pool = SqlitePoolOptions::new().max_connections(4).connect_with(options).await?;
        Self::migrate(pool, cipher).await
    }

    /// A private database in memory, for tests: shared by the pool's connections, gone when the last
    /// clone is dropped.
    pub async fn in_memory(cipher: Cipher) -> Result<Store, StoreError> {
        let options = SqliteConnectOptions::from_str("sqlite::memory:")?.foreign_keys(true);
        // The database lives as long as one connection does: keep one open for good.
        let pool = SqlitePoolOptions::new()
            .min_connections(1)
            .max_connections(4)
            .idle_timeout(None)
            .max_lifetime(None)
            .connect_with(options)
            .await?;
        Self::migrate(pool, cipher).await
    }

    async fn migrate(pool: SqlitePool, cipher: Cipher) -> Result<Store, StoreError> {
        migrator().run(&pool).await?;
        Ok(Store { pool, cipher })
    }

    /// Waits for the connections to close, checkpointing the WAL into the database file (shutdown).
    pub async fn close(&self) {
        self.pool.close().await;
    }

    fn seal(&self, secret: &SecretString, context: &str) -> Vec<u8> {
        self.cipher.seal(secret.expose_secret().as_bytes(), context)
    }

    fn open(&self, sealed: &[u8], context: &str, column: &'static str) -> Result<SecretString, StoreError> {
        let plain = self.cipher.open(sealed, context).map_err(|source| StoreError::Secret { column, source })?;
        let text = String::from_utf8(plain)
            .map_err(|_| StoreError::Corrupt { column, reason: "decrypted to invalid UTF-8".into() })?;
        Ok(SecretString::from(text))
    }
}

/// `backend/migrations/`, embedded in the binary: version, description, SQL. (What `sqlx::migrate!` would
/// embed, without sqlx's compile-time driver, which builds a second SQLite and sqlx for the host.)
const MIGRATIONS: [(i64, &str, &str); 9] = [
    (1, "initial", include_str!("../../migrations/0001_initial.sql")),
    (2, "sync log interrupted", include_str!("../../migrations/0002_sync_log_interrupted.sql")),
    (3, "organisation settings", include_str!("../../migrations/0003_organisation_settings.sql")),
    (4, "item links xero state", include_str!("../../migrations/0004_item_links_xero_state.sql")),
    (6, "api key generation", include_str!("../../migrations/0006_api_key_generation.sql")),
    (10, "bulk runs", include_str!("../../migrations/0010_bulk_runs.sql")),
    (11, "item links crm state", include_str!("../../migrations/0011_item_links_crm_state.sql")),
    (20, "admin portal", include_str!("../../migrations/0020_admin_portal.sql")),
    (21, "sync log bulk runs", include_str!("../../migrations/0021_sync_log_bulk_runs.sql")),
];

fn migrator() -> Migrator {
    Migrator::with_migrations(
        MIGRATIONS
            .iter()
            .map(|(version, description, sql)| {
                Migration::new(*version, Cow::Borrowed(*description), MigrationType::Simple, sql.into_sql_str(), false)
            })
            .collect(),
    )
}

fn millis(time: DateTime<Utc>) -> i64 {
    time.timestamp_millis()
}

fn time(column: &'static str, millis: i64) -> Result<DateTime<Utc>, StoreError> {
    DateTime::from_timestamp_millis(millis)
        .ok_or_else(|| StoreError::Corrupt { column, reason: format!("{millis} is out of range for a time") })
}

fn optional_time(column: &'static str, millis: Option<i64>) -> Result<Option<DateTime<Utc>>, StoreError> {
    millis.map(|ms| time(column, ms)).transpose()
}

/// `now + ttl`, refusing a ttl that overflows the calendar instead of panicking.
fn expiry(ttl: TimeDelta) -> Result<DateTime<Utc>, StoreError> {
    Utc::now()
        .checked_add_signed(ttl)
        .ok_or_else(|| StoreError::InvalidArgument(format!("a time-to-live of {ttl} is out of range")))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A migration file not listed in [`MIGRATIONS`] would silently never run.
    #[test]
    fn every_migration_file_is_embedded_in_order() {
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("migrations");
        let mut files: Vec<String> = std::fs::read_dir(dir)
            .expect("migrations")
            .map(|entry| entry.expect("entry").file_name().to_string_lossy().into_owned())
            .collect();
        files.sort();
        let listed: Vec<String> = MIGRATIONS
            .iter()
            .map(|(version, description, _)| format!("{version:04}_{}.sql", description.replace(' ', "_")))
            .collect();
        assert_eq!(files, listed);
    }
}
