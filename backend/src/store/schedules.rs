//! The automatic sync of each organisation (`sync_schedules`): off until an admin turns it on, then a run
//! every N hours. When the slots fall is decided in `runs::schedule`; one run per slot is the
//! `sync_runs_one_per_slot` index's doing.

use chrono::{DateTime, Utc};
use serde::Serialize;

use super::{Store, StoreError, millis, time};

/// The intervals offered (hours), as the product we replace and Fivetran offer them.
pub const SCHEDULE_HOURS: [u32; 6] = [1, 2, 4, 6, 12, 24];
/// The interval when an admin turns the schedule on without choosing one.
pub const DEFAULT_SCHEDULE_HOURS: u32 = 4;

/// An organisation's schedule as stored.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Schedule {
    pub tenant_id: String,
    pub enabled: bool,
    /// One of [`SCHEDULE_HOURS`].
    pub every_hours: u32,
    /// Slots that started before this time are not run.
    pub enabled_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    pub updated_by: String,
}

impl Store {
    pub async fn schedule(&self, tenant_id: &str) -> Result<Option<Schedule>, StoreError> {
        let row: Option<(String, i64, i64, i64, i64, String)> = sqlx::query_as(
            "SELECT tenant_id, enabled, every_hours, enabled_at, updated_at, updated_by
             FROM sync_schedules WHERE tenant_id = ?",
        )
        .bind(tenant_id)
        .fetch_optional(&self.pool)
        .await?;
        row.map(|(tenant_id, enabled, every_hours, enabled_at, updated_at, updated_by)| {
            Ok(Schedule {
                tenant_id,
                enabled: enabled == 1,
                every_hours: u32::try_from(every_hours).map_err(|_| StoreError::Corrupt {
                    column: "sync_schedules.every_hours",
                    reason: format!("{every_hours} is out of range"),
                })?,
                enabled_at: time("sync_schedules.enabled_at", enabled_at)?,
                updated_at: time("sync_schedules.updated_at", updated_at)?,
                updated_by,
            })
        })
        .transpose()
    }

    /// Turns the schedule on every `every_hours` hours (one of [`SCHEDULE_HOURS`]), or off with `None`.
    /// Turning it on (or changing the interval) does not run the slot already under way.
    pub async fn set_schedule(
        &self,
        tenant_id: &str,
        every_hours: Option<u32>,
        by: &str,
    ) -> Result<Schedule, StoreError> {
        if let Some(hours) = every_hours
            && !SCHEDULE_HOURS.contains(&hours)
        {
            return Err(StoreError::InvalidArgument(format!(
                "a schedule runs every 1, 2, 4, 6, 12 or 24 hours, not every {hours}"
            )));
        }
        let now = millis(Utc::now());
        let previous = self.schedule(tenant_id).await?;
        let hours = every_hours.or(previous.as_ref().map(|s| s.every_hours)).unwrap_or(DEFAULT_SCHEDULE_HOURS);
        sqlx::query(
            "INSERT INTO sync_schedules (tenant_id, enabled, every_hours, enabled_at, updated_at, updated_by)
             VALUES (?, ?, ?, ?, ?, ?)
             ON CONFLICT (tenant_id) DO UPDATE SET enabled = excluded.enabled, every_hours = excluded.every_hours,
                 enabled_at = excluded.enabled_at, updated_at = excluded.updated_at, updated_by = excluded.updated_by",
        )
        .bind(tenant_id)
        .bind(i64::from(every_hours.is_some()))
        .bind(i64::from(hours))
        .bind(now)
        .bind(now)
        .bind(by)
        .execute(&self.pool)
        .await?;
        self.schedule(tenant_id).await?.ok_or_else(|| StoreError::InvalidArgument("the schedule was not stored".into()))
    }
}
