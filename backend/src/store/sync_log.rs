//! The sync log: one row per attempt, written "running" before anything is sent, so a crash leaves a
//! visible trace and the history shows what was sent and what came back. A run cut short by a shutdown
//! ends "interrupted"; one a crash left "running" is marked so at the next start, once it is older than
//! any sync can last (other processes sharing the database may still be running theirs).

use chrono::{DateTime, Utc};
use serde::Serialize;

use super::{Store, StoreError, millis, optional_time, time};

/// What started a sync.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum SyncTrigger {
    Widget,
    Admin,
    /// A bulk run an admin started.
    Bulk,
    Schedule,
    /// A bulk run started by `xero-sync sync`.
    Cli,
}

/// How a sync ended; `Running` until [`Store::finish_sync`], `Interrupted` when it never could.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum SyncOutcome {
    Running,
    Created,
    Updated,
    Unchanged,
    Refused,
    Failed,
    Interrupted,
}

impl SyncTrigger {
    const ALL: [SyncTrigger; 5] =
        [SyncTrigger::Widget, SyncTrigger::Admin, SyncTrigger::Bulk, SyncTrigger::Schedule, SyncTrigger::Cli];

    pub fn as_str(self) -> &'static str {
        match self {
            SyncTrigger::Widget => "widget",
            SyncTrigger::Admin => "admin",
            SyncTrigger::Bulk => "bulk",
            SyncTrigger::Schedule => "schedule",
            SyncTrigger::Cli => "cli",
        }
    }
}

impl SyncOutcome {
    const ALL: [SyncOutcome; 7] = [
        SyncOutcome::Running,
        SyncOutcome::Created,
        SyncOutcome::Updated,
        SyncOutcome::Unchanged,
        SyncOutcome::Refused,
        SyncOutcome::Failed,
        SyncOutcome::Interrupted,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            SyncOutcome::Running => "running",
            SyncOutcome::Created => "created",
            SyncOutcome::Updated => "updated",
            SyncOutcome::Unchanged => "unchanged",
            SyncOutcome::Refused => "refused",
            SyncOutcome::Failed => "failed",
            SyncOutcome::Interrupted => "interrupted",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct SyncLogEntry {
    pub id: i64,
    /// The handle [`Store::begin_sync`] returned (a UUID).
    pub run_id: String,
    pub product_id: String,
    /// `None` when no Xero organisation was connected.
    pub tenant_id: Option<String>,
    pub started_at: DateTime<Utc>,
    pub finished_at: Option<DateTime<Utc>>,
    /// Who: the CRM user, the admin, or the scheduler.
    pub actor: String,
    pub trigger: SyncTrigger,
    /// What was sent to Xero (never a secret).
    pub request: Option<serde_json::Value>,
    pub outcome: SyncOutcome,
    pub item_id: Option<String>,
    /// Xero's messages and our issues, in words.
    pub messages: Vec<String>,
    /// The bulk run this sync was part of (`None` for the button's syncs).
    pub bulk_run_id: Option<i64>,
}

type EntryRow = (
    i64,
    String,
    String,
    Option<String>,
    i64,
    Option<i64>,
    String,
    String,
    Option<String>,
    String,
    Option<String>,
    String,
    Option<i64>,
);

/// The columns of [`EntryRow`], as a literal so queries stay `&'static str`.
macro_rules! columns {
    () => {
        "id, run_id, product_id, tenant_id, started_at, finished_at, actor, trigger, request, outcome, item_id, messages, \
         bulk_run_id"
    };
}

fn entry(row: EntryRow) -> Result<SyncLogEntry, StoreError> {
    let (
        id,
        run_id,
        product_id,
        tenant_id,
        started_at,
        finished_at,
        actor,
        trigger,
        request,
        outcome,
        item_id,
        messages,
        bulk_run_id,
    ) = row;
    let corrupt = |column: &'static str, reason: String| StoreError::Corrupt { column, reason };
    Ok(SyncLogEntry {
        id,
        run_id,
        product_id,
        tenant_id,
        started_at: time("sync_log.started_at", started_at)?,
        finished_at: optional_time("sync_log.finished_at", finished_at)?,
        actor,
        trigger: SyncTrigger::ALL
            .into_iter()
            .find(|t| t.as_str() == trigger)
            .ok_or_else(|| corrupt("sync_log.trigger", format!("unknown trigger {trigger:?}")))?,
        request: request
            .map(|text| serde_json::from_str(&text))
            .transpose()
            .map_err(|e| corrupt("sync_log.request", e.to_string()))?,
        outcome: SyncOutcome::ALL
            .into_iter()
            .find(|o| o.as_str() == outcome)
            .ok_or_else(|| corrupt("sync_log.outcome", format!("unknown outcome {outcome:?}")))?,
        item_id,
        messages: serde_json::from_str(&messages).map_err(|e| corrupt("sync_log.messages", e.to_string()))?,
        bulk_run_id,
    })
}

impl Store {
    /// Logs the start of a sync ("running") and returns its run id for [`Store::finish_sync`].
    pub async fn begin_sync(
        &self,
        product_id: &str,
        tenant_id: Option<&str>,
        actor: &str,
        trigger: SyncTrigger,
    ) -> Result<String, StoreError> {
        let run_id = uuid::Uuid::new_v4().to_string();
        sqlx::query(
            "INSERT INTO sync_log (run_id, product_id, tenant_id, started_at, actor, trigger, outcome)
             VALUES (?, ?, ?, ?, ?, ?, 'running')",
        )
        .bind(&run_id)
        .bind(product_id)
        .bind(tenant_id)
        .bind(millis(Utc::now()))
        .bind(actor)
        .bind(trigger.as_str())
        .execute(&self.pool)
        .await?;
        Ok(run_id)
    }

    /// Records how a running sync ended; a run finishes once ([`StoreError::RunNotRunning`] otherwise).
    pub async fn finish_sync(
        &self,
        run_id: &str,
        outcome: SyncOutcome,
        item_id: Option<&str>,
        request: Option<&serde_json::Value>,
        messages: &[String],
    ) -> Result<(), StoreError> {
        if outcome == SyncOutcome::Running {
            return Err(StoreError::InvalidArgument("a sync cannot finish as running".into()));
        }
        let messages = serde_json::to_string(messages).map_err(|e| StoreError::InvalidArgument(e.to_string()))?;
        let result = sqlx::query(
            "UPDATE sync_log SET outcome = ?, item_id = ?, request = ?, messages = ?, finished_at = ?
             WHERE run_id = ? AND outcome = 'running'",
        )
        .bind(outcome.as_str())
        .bind(item_id)
        .bind(request.map(serde_json::Value::to_string))
        .bind(messages)
        .bind(millis(Utc::now()))
        .bind(run_id)
        .execute(&self.pool)
        .await?;
        if result.rows_affected() == 0 {
            return Err(StoreError::RunNotRunning(run_id.to_owned()));
        }
        Ok(())
    }

    /// Marks as interrupted the runs still `running` that started before `started_before`: a process that
    /// crashed left them so. Returns how many. Runs of other live processes are younger and stay.
    pub async fn interrupt_stale_runs(&self, started_before: DateTime<Utc>, message: &str) -> Result<u64, StoreError> {
        let messages = serde_json::to_string(&[message]).map_err(|e| StoreError::InvalidArgument(e.to_string()))?;
        let result = sqlx::query(
            "UPDATE sync_log SET outcome = 'interrupted', messages = ?, finished_at = ?
             WHERE outcome = 'running' AND started_at < ?",
        )
        .bind(messages)
        .bind(millis(Utc::now()))
        .bind(millis(started_before))
        .execute(&self.pool)
        .await?;
        Ok(result.rows_affected())
    }

    /// The runs still `running`, oldest first.
    pub async fn running_syncs(&self) -> Result<Vec<SyncLogEntry>, StoreError> {
        let rows: Vec<EntryRow> =
            sqlx::query_as(concat!("SELECT ", columns!(), " FROM sync_log WHERE outcome = 'running' ORDER BY id"))
                .fetch_all(&self.pool)
                .await?;
        rows.into_iter().map(entry).collect()
    }

    /// The product's syncs, newest first.
    pub async fn history(&self, product_id: &str, limit: u32) -> Result<Vec<SyncLogEntry>, StoreError> {
        let rows: Vec<EntryRow> = sqlx::query_as(concat!(
            "SELECT ",
            columns!(),
            " FROM sync_log WHERE product_id = ? ORDER BY id DESC LIMIT ?"
        ))
        .bind(product_id)
        .bind(i64::from(limit))
        .fetch_all(&self.pool)
        .await?;
        rows.into_iter().map(entry).collect()
    }

    /// Every product's syncs, newest first.
    pub async fn recent_log(&self, limit: u32) -> Result<Vec<SyncLogEntry>, StoreError> {
        let rows: Vec<EntryRow> =
            sqlx::query_as(concat!("SELECT ", columns!(), " FROM sync_log ORDER BY id DESC LIMIT ?"))
                .bind(i64::from(limit))
                .fetch_all(&self.pool)
                .await?;
        rows.into_iter().map(entry).collect()
    }
}
