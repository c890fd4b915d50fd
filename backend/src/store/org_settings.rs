//! Organisation settings: what an admin changes at run time (the default GL account, the CRM tax mapping;
//! the admin portal adds more), each a Rust type stored as JSON, with every change audited: who, when,
//! old → new. A setting never written reads as its type's `Default`.

use chrono::{DateTime, Utc};
use serde::Serialize;
use serde::de::DeserializeOwned;
use shared::{OrgDefaults, TaxMapping};

use super::{Store, StoreError, millis, time};

/// One setting: its key in the database and the type of its value.
pub trait OrgSetting {
    /// The row's key. Never rename one: stored databases and their audit trail hold it.
    const KEY: &'static str;
    /// What the audit trail calls it.
    const LABEL: &'static str;
    /// Its value; `Default` is what a setting never written reads as.
    type Value: Serialize + DeserializeOwned + Default + Send + Sync;
}

/// The code of the account a product with an empty GL account is posted to (issue 14); none by default.
#[derive(Debug)]
pub struct DefaultGlAccount;

impl OrgSetting for DefaultGlAccount {
    const KEY: &'static str = "default_gl_account";
    const LABEL: &'static str = "Default GL account";
    type Value = Option<String>;
}

/// The Xero tax rate of each CRM tax, for products with an empty tax rate (issue 14); empty by default.
#[derive(Debug)]
pub struct TaxMappings;

impl OrgSetting for TaxMappings {
    const KEY: &'static str = "tax_mapping";
    const LABEL: &'static str = "CRM taxes to Xero tax rates";
    type Value = Vec<TaxMapping>;
}

/// The share of Xero's daily calls bulk runs leave for the button, in percent (0 to 90); `None` keeps the
/// service's `XERO_SYNC_DAILY_RESERVE_PERCENT`. An admin changes it on the settings page; a run reads it
/// before it starts and whenever it checks its budget.
#[derive(Debug)]
pub struct DailyReservePercent;

impl OrgSetting for DailyReservePercent {
    const KEY: &'static str = "daily_reserve_percent";
    const LABEL: &'static str = "Xero daily calls kept for the button (%)";
    type Value = Option<u8>;
}

/// The highest daily reserve, in percent: beyond it bulk runs would hardly run.
pub const MAX_DAILY_RESERVE_PERCENT: u8 = 90;

/// How many days the sync log keeps a finished row (1 to [`MAX_LOG_RETENTION_DAYS`]); `None` keeps the
/// service's `XERO_SYNC_LOG_RETENTION_DAYS`. The daily retention reads it at every pass.
#[derive(Debug)]
pub struct LogRetentionDays;

impl OrgSetting for LogRetentionDays {
    const KEY: &'static str = "log_retention_days";
    const LABEL: &'static str = "Days the sync log keeps a finished row";
    type Value = Option<u32>;
}

/// The CRM field API names the admin set, by role (`add_to_xero`, `gl_account`, `tax_rate`, `item_id`,
/// `last_synced`, `sync_status`); a role not in it keeps its `XERO_SYNC_FIELD_*` variable's name.
#[derive(Debug)]
pub struct CrmFieldNames;

impl OrgSetting for CrmFieldNames {
    const KEY: &'static str = "crm_field_names";
    const LABEL: &'static str = "CRM field API names";
    type Value = std::collections::BTreeMap<String, String>;
}

/// The longest log retention, in days (about a century), as `XERO_SYNC_LOG_RETENTION_DAYS` allows.
pub const MAX_LOG_RETENTION_DAYS: u32 = 36_500;

/// One change of a setting, as the audit trail keeps it. Values are JSON in the setting's shape.
#[derive(Debug, Clone, PartialEq)]
pub struct SettingChange {
    pub key: String,
    /// `None` when the setting had never been written.
    pub old: Option<serde_json::Value>,
    pub new: serde_json::Value,
    pub at: DateTime<Utc>,
    pub by: String,
}

fn json<T: Serialize>(value: &T) -> Result<String, StoreError> {
    serde_json::to_string(value).map_err(|e| StoreError::InvalidArgument(e.to_string()))
}

fn corrupt(column: &'static str, error: &serde_json::Error) -> StoreError {
    StoreError::Corrupt { column, reason: error.to_string() }
}

type AuditRow = (String, Option<String>, String, i64, String);

impl Store {
    /// The setting's value; its `Default` when it was never written.
    pub async fn org_setting<S: OrgSetting>(&self) -> Result<S::Value, StoreError> {
        let row: Option<(String,)> = sqlx::query_as("SELECT value FROM organisation_settings WHERE key = ?")
            .bind(S::KEY)
            .fetch_optional(&self.pool)
            .await?;
        match row {
            Some((text,)) => serde_json::from_str(&text).map_err(|e| corrupt("organisation_settings.value", &e)),
            None => Ok(S::Value::default()),
        }
    }

    /// Stores the setting's new value and audits the change, in one transaction; `by` says who (e.g. the
    /// admin session). Returns whether it changed: the same value again writes nothing, audit included.
    pub async fn set_org_setting<S: OrgSetting>(&self, value: &S::Value, by: &str) -> Result<bool, StoreError> {
        let (new, unset, now) = (json(value)?, json(&S::Value::default())?, millis(Utc::now()));
        let mut tx = self.pool.begin().await?;
        // The audit row first: a write takes the write lock at once, so concurrent changes queue up and
        // each records the value it really replaced.
        let audited = sqlx::query(
            "INSERT INTO organisation_settings_audit (key, old_value, new_value, changed_at, changed_by)
             SELECT ?1, (SELECT value FROM organisation_settings WHERE key = ?1), ?2, ?3, ?4
             WHERE COALESCE((SELECT value FROM organisation_settings WHERE key = ?1), ?5) IS NOT ?2",
        )
        .bind(S::KEY)
        .bind(&new)
        .bind(now)
        .bind(by)
        .bind(&unset)
        .execute(&mut *tx)
        .await?;
        if audited.rows_affected() == 0 {
            tx.rollback().await?;
            return Ok(false);
        }
        sqlx::query(
            "INSERT INTO organisation_settings (key, value, updated_at, updated_by) VALUES (?, ?, ?, ?)
             ON CONFLICT (key) DO UPDATE SET
                 value = excluded.value, updated_at = excluded.updated_at, updated_by = excluded.updated_by",
        )
        .bind(S::KEY)
        .bind(&new)
        .bind(now)
        .bind(by)
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(true)
    }

    /// The organisation's defaults ([`DefaultGlAccount`], [`TaxMappings`]), as the rules take them.
    pub async fn org_defaults(&self) -> Result<OrgDefaults, StoreError> {
        Ok(OrgDefaults {
            gl_account: self.org_setting::<DefaultGlAccount>().await?,
            taxes: self.org_setting::<TaxMappings>().await?,
        })
    }

    /// Stores both defaults, each change audited; returns the labels of the settings that changed.
    pub async fn set_org_defaults(&self, defaults: &OrgDefaults, by: &str) -> Result<Vec<&'static str>, StoreError> {
        let mut changed = Vec::new();
        if self.set_org_setting::<DefaultGlAccount>(&defaults.gl_account, by).await? {
            changed.push(DefaultGlAccount::LABEL);
        }
        if self.set_org_setting::<TaxMappings>(&defaults.taxes, by).await? {
            changed.push(TaxMappings::LABEL);
        }
        Ok(changed)
    }

    /// The latest changes of every setting, newest first.
    pub async fn org_settings_audit(&self, limit: u32) -> Result<Vec<SettingChange>, StoreError> {
        let rows: Vec<AuditRow> = sqlx::query_as(
            "SELECT key, old_value, new_value, changed_at, changed_by FROM organisation_settings_audit
             ORDER BY id DESC LIMIT ?",
        )
        .bind(i64::from(limit))
        .fetch_all(&self.pool)
        .await?;
        rows.into_iter()
            .map(|(key, old, new, at, by)| {
                let column = "organisation_settings_audit";
                Ok(SettingChange {
                    key,
                    old: old.map(|text| serde_json::from_str(&text)).transpose().map_err(|e| corrupt(column, &e))?,
                    new: serde_json::from_str(&new).map_err(|e| corrupt(column, &e))?,
                    at: time("organisation_settings_audit.changed_at", at)?,
                    by,
                })
            })
            .collect()
    }
}
