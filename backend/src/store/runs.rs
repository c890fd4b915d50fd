//! Bulk and scheduled runs as durable rows (`sync_runs`), with what each did per product
//! (`sync_run_products`), its own log (`sync_run_events`) and the organisation's cursor (`sync_cursors`).
//!
//! Leases and fences: a worker claims a run with one conditional `UPDATE … RETURNING` that sets its lease
//! and adds one to `fence`, so two workers can never both claim it, whatever the database (in PostgreSQL the
//! same statement becomes a `FOR UPDATE SKIP LOCKED` sub-select). Every later write of the run goes through
//! [`RunWrite`], a transaction whose first statement is `UPDATE sync_runs … WHERE id = ? AND fence = ? AND
//! state = 'running'`: if another worker claimed the run since (the lease had expired, or an admin
//! force-released it), that statement matches nothing and the whole transaction is refused with
//! [`StoreError::LeaseLost`]. Nothing here relies on SQLite having a single writer.

use std::time::Duration;

use chrono::{DateTime, TimeDelta, Utc};
use serde::Serialize;
use serde_json::Value;
use shared::Issue;
use sqlx::sqlite::SqliteRow;
use sqlx::{Row, Sqlite, Transaction};

use super::{ItemLink, ItemState, Store, StoreError, SyncOutcome, SyncTrigger, millis, optional_time, time};

/// Who started a run.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum RunTrigger {
    /// An admin, from the admin pages.
    Admin,
    /// The automatic schedule.
    Schedule,
    /// `xero-sync sync` (cron, scripts).
    Cli,
}

impl RunTrigger {
    pub fn as_str(self) -> &'static str {
        match self {
            RunTrigger::Admin => "admin",
            RunTrigger::Schedule => "schedule",
            RunTrigger::Cli => "cli",
        }
    }

    fn parse(text: &str) -> Result<Self, StoreError> {
        [RunTrigger::Admin, RunTrigger::Schedule, RunTrigger::Cli]
            .into_iter()
            .find(|t| t.as_str() == text)
            .ok_or_else(|| corrupt("sync_runs.trigger", format!("unknown trigger {text:?}")))
    }

    /// The trigger its product syncs carry in the combined sync log.
    pub fn log_trigger(self) -> SyncTrigger {
        match self {
            RunTrigger::Admin => SyncTrigger::Bulk,
            RunTrigger::Schedule => SyncTrigger::Schedule,
            RunTrigger::Cli => SyncTrigger::Cli,
        }
    }
}

/// Which products a run reads.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case", tag = "kind", content = "value")]
pub enum RunWindow {
    /// Modified after the organisation's cursor (the end of the last finished run), minus a lookback;
    /// every product when no run has finished yet. The default.
    SinceLastRun,
    /// Modified in the last N days.
    LastDays(u32),
    /// Every product, including those never edited since the CRM was set up.
    All,
    /// Exactly these CRM product ids ("retry failed").
    Products(Vec<String>),
}

impl RunWindow {
    pub fn kind(&self) -> &'static str {
        match self {
            RunWindow::SinceLastRun => "since_last_run",
            RunWindow::LastDays(_) => "last_days",
            RunWindow::All => "all",
            RunWindow::Products(_) => "products",
        }
    }

    /// In words, for pages and the CLI.
    pub fn describe(&self) -> String {
        match self {
            RunWindow::SinceLastRun => "products changed since the last run".into(),
            RunWindow::LastDays(1) => "products changed in the last day".into(),
            RunWindow::LastDays(days) => format!("products changed in the last {days} days"),
            RunWindow::All => "all products".into(),
            RunWindow::Products(ids) if ids.len() == 1 => "1 chosen product".into(),
            RunWindow::Products(ids) => format!("{} chosen products", ids.len()),
        }
    }
}

/// Where a run stands. `queued`, `running` and `paused` are active (one per organisation at most).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum RunState {
    Queued,
    Running,
    /// Waiting until `resume_at` (a budget reserve reached, a service not answering), then taken up again.
    Paused,
    /// Every product created, updated, unchanged or skipped.
    Succeeded,
    /// Finished, with some products refused by the rules or failed.
    Partial,
    /// Stopped before the end (e.g. Xero must be reconnected); resumable once the cause is fixed.
    Failed,
    Cancelled,
}

impl RunState {
    pub const ALL: [RunState; 7] = [
        RunState::Queued,
        RunState::Running,
        RunState::Paused,
        RunState::Succeeded,
        RunState::Partial,
        RunState::Failed,
        RunState::Cancelled,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            RunState::Queued => "queued",
            RunState::Running => "running",
            RunState::Paused => "paused",
            RunState::Succeeded => "succeeded",
            RunState::Partial => "partial",
            RunState::Failed => "failed",
            RunState::Cancelled => "cancelled",
        }
    }

    pub fn is_active(self) -> bool {
        matches!(self, RunState::Queued | RunState::Running | RunState::Paused)
    }

    fn parse(text: &str) -> Result<Self, StoreError> {
        Self::ALL
            .into_iter()
            .find(|s| s.as_str() == text)
            .ok_or_else(|| corrupt("sync_runs.state", format!("unknown state {text:?}")))
    }
}

/// What a run did with one product. In a dry run, what it would do.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ProductOutcome {
    /// "Add to Xero" is not ticked: skipped.
    NotForXero,
    /// The item already holds exactly this (content hash): no Xero call.
    Unchanged,
    /// Someone changed the item in Xero since our last sync: Xero's values are kept and nothing is written
    /// (the button shows both and lets a user overwrite them).
    Kept,
    /// Our rules refused it (its issues say why); nothing was sent.
    Refused,
    Created,
    Updated,
    /// Xero refused it, or the call failed; the issues say why.
    Failed,
}

impl ProductOutcome {
    pub const ALL: [ProductOutcome; 7] = [
        ProductOutcome::NotForXero,
        ProductOutcome::Unchanged,
        ProductOutcome::Kept,
        ProductOutcome::Refused,
        ProductOutcome::Created,
        ProductOutcome::Updated,
        ProductOutcome::Failed,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            ProductOutcome::NotForXero => "not_for_xero",
            ProductOutcome::Unchanged => "unchanged",
            ProductOutcome::Kept => "kept",
            ProductOutcome::Refused => "refused",
            ProductOutcome::Created => "created",
            ProductOutcome::Updated => "updated",
            ProductOutcome::Failed => "failed",
        }
    }

    pub fn parse(text: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|o| o.as_str() == text)
    }
}

/// A run's counters. `read` is the number of products it has an outcome for, so the others add up to it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize)]
pub struct RunCounters {
    pub read: u64,
    pub not_for_xero: u64,
    pub unchanged: u64,
    /// Edited in Xero since our last sync: kept, nothing written.
    pub kept: u64,
    pub refused: u64,
    pub created: u64,
    pub updated: u64,
    pub failed: u64,
    /// Calls the run made to Xero and Zoho (reads and writes; a dry run counts only its reads).
    pub xero_calls: u64,
    pub zoho_calls: u64,
}

/// One run.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Run {
    pub id: i64,
    pub tenant_id: String,
    pub trigger: RunTrigger,
    /// Who: the admin, the CLI's user, or "schedule".
    pub actor: String,
    pub window: RunWindow,
    pub dry_run: bool,
    pub state: RunState,
    /// Why it is paused, failed or cancelled, in words.
    pub message: Option<String>,
    pub resume_at: Option<DateTime<Utc>>,
    pub cancel_requested: bool,
    pub lease_owner: Option<String>,
    pub lease_expires_at: Option<DateTime<Utc>>,
    pub heartbeat_at: Option<DateTime<Utc>>,
    pub fence: i64,
    /// The Modified_Time the run reads after; `None` reads every product (or a window not started yet).
    pub window_since: Option<DateTime<Utc>>,
    pub checkpoint: Value,
    pub counters: RunCounters,
    /// A dry run's estimate: calls it would spend, time it would take.
    pub estimate: Option<Value>,
    pub schedule_slot: Option<DateTime<Utc>>,
    pub created_at: DateTime<Utc>,
    pub started_at: Option<DateTime<Utc>>,
    pub finished_at: Option<DateTime<Utc>>,
    pub updated_at: DateTime<Utc>,
}

/// A run to create.
#[derive(Debug, Clone)]
pub struct NewRun {
    pub tenant_id: String,
    pub trigger: RunTrigger,
    pub actor: String,
    pub window: RunWindow,
    pub dry_run: bool,
    /// Set for scheduled runs: the slot's start.
    pub schedule_slot: Option<DateTime<Utc>>,
}

/// A claim on a run: what every write of it must present.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Lease {
    pub run_id: i64,
    pub owner: String,
    pub fence: i64,
}

/// The state of a write-back to the CRM record.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Writeback {
    Pending,
    Done,
    Failed,
}

impl Writeback {
    fn as_str(self) -> &'static str {
        match self {
            Writeback::Pending => "pending",
            Writeback::Done => "done",
            Writeback::Failed => "failed",
        }
    }

    fn parse(text: &str) -> Result<Self, StoreError> {
        match text {
            "pending" => Ok(Writeback::Pending),
            "done" => Ok(Writeback::Done),
            "failed" => Ok(Writeback::Failed),
            other => Err(corrupt("sync_run_products.writeback", format!("unknown value {other:?}"))),
        }
    }
}

/// What a run did with one product.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct RunProduct {
    pub run_id: i64,
    pub product_id: String,
    /// Order of reading within the run.
    pub seq: i64,
    pub name: Option<String>,
    pub code: Option<String>,
    pub outcome: ProductOutcome,
    pub item_id: Option<String>,
    /// Our rules' issues and Xero's messages, each on the CRM field it concerns.
    pub issues: Vec<Issue>,
    /// What happened, when it concerns no field (e.g. "the product no longer exists in the CRM").
    pub message: Option<String>,
    pub writeback: Option<Writeback>,
    pub writeback_error: Option<String>,
    /// What was sent to Xero, if anything (in a dry run: what would be).
    pub request: Option<Value>,
    /// The record's Modified_Time when read.
    pub modified_time: Option<DateTime<Utc>>,
    pub at: DateTime<Utc>,
}

/// A line of a run's own log.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct RunEvent {
    pub id: i64,
    pub run_id: i64,
    pub at: DateTime<Utc>,
    pub level: EventLevel,
    pub message: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum EventLevel {
    Info,
    Warning,
    Error,
}

impl EventLevel {
    fn as_str(self) -> &'static str {
        match self {
            EventLevel::Info => "info",
            EventLevel::Warning => "warning",
            EventLevel::Error => "error",
        }
    }

    fn parse(text: &str) -> Result<Self, StoreError> {
        match text {
            "info" => Ok(EventLevel::Info),
            "warning" => Ok(EventLevel::Warning),
            "error" => Ok(EventLevel::Error),
            other => Err(corrupt("sync_run_events.level", format!("unknown level {other:?}"))),
        }
    }
}

/// A link as the bulk runs see it: the link, the Modified_Time our last write-back gave the CRM record, and
/// whether that write-back is still owed.
#[derive(Debug, Clone, PartialEq)]
pub struct LinkState {
    pub link: ItemLink,
    /// What Xero held of the item after our last write, when known (see [`ItemState`]).
    pub xero_state: Option<ItemState>,
    pub zoho_modified_time: Option<DateTime<Utc>>,
    pub writeback_pending: bool,
}

/// A product sync of a run, for the combined sync log.
#[derive(Debug, Clone)]
pub struct BulkLogEntry<'a> {
    pub product_id: &'a str,
    /// The product's name and code as the run read them from the CRM.
    pub product_name: Option<&'a str>,
    pub product_code: Option<&'a str>,
    pub tenant_id: &'a str,
    pub actor: &'a str,
    pub trigger: SyncTrigger,
    pub started_at: DateTime<Utc>,
    pub request: Option<&'a Value>,
    /// Xero's answer for this product's element; `None` when no call was made for it.
    pub response: Option<&'a Value>,
    pub outcome: SyncOutcome,
    pub item_id: Option<&'a str>,
    pub messages: &'a [String],
}

/// Which products of a run to list.
#[derive(Debug, Clone, Default)]
pub struct ProductFilter {
    /// Only these outcomes (all when empty).
    pub outcomes: Vec<ProductOutcome>,
    pub limit: u32,
    /// Products after this reading position (`seq`), for paging.
    pub after_seq: Option<i64>,
}

/// Which runs can be claimed at `now`: queued ones, paused ones whose time has come, and running ones whose
/// lease expired (their worker died). As a literal, so queries stay `&'static str`.
macro_rules! claimable {
    () => {
        "(state = 'queued' OR (state = 'paused' AND resume_at <= ?) OR (state = 'running' AND lease_expires_at < ?))"
    };
}

macro_rules! run_columns {
    () => {
        "id, tenant_id, trigger, actor, window_kind, window_days, product_ids, dry_run, state, message, resume_at, \
         cancel_requested, lease_owner, lease_expires_at, heartbeat_at, fence, window_since, checkpoint, read_count, \
         not_for_xero, unchanged, kept, refused, created, updated, failed, xero_calls, zoho_calls, estimate, \
         schedule_slot, created_at, started_at, finished_at, updated_at"
    };
}

macro_rules! product_columns {
    () => {
        "run_id, product_id, seq, name, code, outcome, item_id, issues, message, writeback, writeback_error, \
         request, modified_time, at"
    };
}

fn corrupt(column: &'static str, reason: String) -> StoreError {
    StoreError::Corrupt { column, reason }
}

fn json_text<T: Serialize + ?Sized>(value: &T) -> Result<String, StoreError> {
    serde_json::to_string(value).map_err(|e| StoreError::InvalidArgument(e.to_string()))
}

fn count(row: &SqliteRow, column: &'static str) -> Result<u64, StoreError> {
    let value: i64 = row.try_get(column)?;
    u64::try_from(value).map_err(|_| corrupt("sync_runs counters", format!("{column} is negative")))
}

fn ttl_delta(ttl: Duration) -> TimeDelta {
    TimeDelta::from_std(ttl).unwrap_or(TimeDelta::MAX)
}

fn run_from_row(row: &SqliteRow) -> Result<Run, StoreError> {
    let window_kind: String = row.try_get("window_kind")?;
    let window = match window_kind.as_str() {
        "since_last_run" => RunWindow::SinceLastRun,
        "all" => RunWindow::All,
        "last_days" => {
            let days: Option<i64> = row.try_get("window_days")?;
            let days = days
                .and_then(|d| u32::try_from(d).ok())
                .ok_or_else(|| corrupt("sync_runs.window_days", "missing or out of range for last_days".into()))?;
            RunWindow::LastDays(days)
        }
        "products" => {
            let ids: Option<String> = row.try_get("product_ids")?;
            let ids = ids.ok_or_else(|| corrupt("sync_runs.product_ids", "missing for products".into()))?;
            RunWindow::Products(
                serde_json::from_str(&ids).map_err(|e| corrupt("sync_runs.product_ids", e.to_string()))?,
            )
        }
        other => return Err(corrupt("sync_runs.window_kind", format!("unknown window {other:?}"))),
    };
    let checkpoint: String = row.try_get("checkpoint")?;
    let estimate: Option<String> = row.try_get("estimate")?;
    let trigger: String = row.try_get("trigger")?;
    let state: String = row.try_get("state")?;
    Ok(Run {
        id: row.try_get("id")?,
        tenant_id: row.try_get("tenant_id")?,
        trigger: RunTrigger::parse(&trigger)?,
        actor: row.try_get("actor")?,
        window,
        dry_run: row.try_get::<i64, _>("dry_run")? == 1,
        state: RunState::parse(&state)?,
        message: row.try_get("message")?,
        resume_at: optional_time("sync_runs.resume_at", row.try_get("resume_at")?)?,
        cancel_requested: row.try_get::<i64, _>("cancel_requested")? == 1,
        lease_owner: row.try_get("lease_owner")?,
        lease_expires_at: optional_time("sync_runs.lease_expires_at", row.try_get("lease_expires_at")?)?,
        heartbeat_at: optional_time("sync_runs.heartbeat_at", row.try_get("heartbeat_at")?)?,
        fence: row.try_get("fence")?,
        window_since: optional_time("sync_runs.window_since", row.try_get("window_since")?)?,
        checkpoint: serde_json::from_str(&checkpoint).map_err(|e| corrupt("sync_runs.checkpoint", e.to_string()))?,
        counters: RunCounters {
            read: count(row, "read_count")?,
            not_for_xero: count(row, "not_for_xero")?,
            unchanged: count(row, "unchanged")?,
            kept: count(row, "kept")?,
            refused: count(row, "refused")?,
            created: count(row, "created")?,
            updated: count(row, "updated")?,
            failed: count(row, "failed")?,
            xero_calls: count(row, "xero_calls")?,
            zoho_calls: count(row, "zoho_calls")?,
        },
        estimate: estimate
            .map(|text| serde_json::from_str(&text))
            .transpose()
            .map_err(|e| corrupt("sync_runs.estimate", e.to_string()))?,
        schedule_slot: optional_time("sync_runs.schedule_slot", row.try_get("schedule_slot")?)?,
        created_at: time("sync_runs.created_at", row.try_get("created_at")?)?,
        started_at: optional_time("sync_runs.started_at", row.try_get("started_at")?)?,
        finished_at: optional_time("sync_runs.finished_at", row.try_get("finished_at")?)?,
        updated_at: time("sync_runs.updated_at", row.try_get("updated_at")?)?,
    })
}

fn product_from_row(row: &SqliteRow) -> Result<RunProduct, StoreError> {
    let outcome: String = row.try_get("outcome")?;
    let issues: String = row.try_get("issues")?;
    let writeback: Option<String> = row.try_get("writeback")?;
    let request: Option<String> = row.try_get("request")?;
    Ok(RunProduct {
        run_id: row.try_get("run_id")?,
        product_id: row.try_get("product_id")?,
        seq: row.try_get("seq")?,
        name: row.try_get("name")?,
        code: row.try_get("code")?,
        outcome: ProductOutcome::parse(&outcome)
            .ok_or_else(|| corrupt("sync_run_products.outcome", format!("unknown outcome {outcome:?}")))?,
        item_id: row.try_get("item_id")?,
        issues: serde_json::from_str(&issues).map_err(|e| corrupt("sync_run_products.issues", e.to_string()))?,
        message: row.try_get("message")?,
        writeback: writeback.as_deref().map(Writeback::parse).transpose()?,
        writeback_error: row.try_get("writeback_error")?,
        request: request
            .map(|text| serde_json::from_str(&text))
            .transpose()
            .map_err(|e| corrupt("sync_run_products.request", e.to_string()))?,
        modified_time: optional_time("sync_run_products.modified_time", row.try_get("modified_time")?)?,
        at: time("sync_run_products.at", row.try_get("at")?)?,
    })
}

fn link_state_from_row(row: &SqliteRow) -> Result<LinkState, StoreError> {
    Ok(LinkState {
        link: ItemLink {
            product_id: row.try_get("product_id")?,
            tenant_id: row.try_get("tenant_id")?,
            item_id: row.try_get("item_id")?,
            code: row.try_get("code")?,
            payload_hash: row.try_get("payload_hash")?,
            synced_at: time("item_links.synced_at", row.try_get("synced_at")?)?,
        },
        xero_state: row
            .try_get::<Option<String>, _>("xero_state")?
            .map(|text| serde_json::from_str(&text))
            .transpose()
            .map_err(|e| corrupt("item_links.xero_state", e.to_string()))?,
        zoho_modified_time: optional_time("item_links.zoho_modified_time", row.try_get("zoho_modified_time")?)?,
        writeback_pending: row.try_get::<i64, _>("writeback_pending")? == 1,
    })
}

impl Store {
    /// Creates a run, queued, or already claimed by `claim` (owner, lease time-to-live) so that the process
    /// creating it also runs it (the CLI) without a worker elsewhere taking it first. Refused with
    /// [`StoreError::RunActive`] when the organisation already has an active run (the partial unique index
    /// decides, not this code).
    pub async fn create_run(&self, new: &NewRun, claim: Option<(&str, Duration)>) -> Result<Run, StoreError> {
        match self.insert_run(new, claim).await? {
            Some(run) => Ok(run),
            None => match self.active_run(&new.tenant_id).await? {
                Some(active) => Err(StoreError::RunActive(Box::new(active))),
                // The active run finished in between: try once more.
                None => self.insert_run(new, claim).await?.ok_or_else(|| {
                    StoreError::InvalidArgument("another run became active while this one was created".into())
                }),
            },
        }
    }

    /// Creates the run of a schedule slot unless that slot has one already or another run is active:
    /// `None` then. Several processes ticking at once create one run.
    pub async fn create_scheduled_run(&self, new: &NewRun) -> Result<Option<Run>, StoreError> {
        if new.schedule_slot.is_none() || new.trigger != RunTrigger::Schedule {
            return Err(StoreError::InvalidArgument("a scheduled run needs its slot".into()));
        }
        self.insert_run(new, None).await
    }

    /// Inserts a run; `None` when a unique index refused it (an active run, or the slot's run).
    async fn insert_run(&self, new: &NewRun, claim: Option<(&str, Duration)>) -> Result<Option<Run>, StoreError> {
        let now = Utc::now();
        let (days, ids) = match &new.window {
            RunWindow::LastDays(days) => (Some(i64::from(*days)), None),
            RunWindow::Products(ids) => (None, Some(json_text(ids)?)),
            RunWindow::SinceLastRun | RunWindow::All => (None, None),
        };
        let (state, owner, expires, fence, started) = match claim {
            Some((owner, ttl)) => ("running", Some(owner), Some(millis(now + ttl_delta(ttl))), 1, Some(millis(now))),
            None => ("queued", None, None, 0, None),
        };
        let row = sqlx::query(concat!(
            "INSERT INTO sync_runs (tenant_id, trigger, actor, window_kind, window_days, product_ids, dry_run, state, \
             lease_owner, lease_expires_at, heartbeat_at, fence, schedule_slot, created_at, started_at, updated_at) \
             VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT DO NOTHING RETURNING ",
            run_columns!()
        ))
        .bind(&new.tenant_id)
        .bind(new.trigger.as_str())
        .bind(&new.actor)
        .bind(new.window.kind())
        .bind(days)
        .bind(ids)
        .bind(i64::from(new.dry_run))
        .bind(state)
        .bind(owner)
        .bind(expires)
        .bind(started)
        .bind(fence)
        .bind(new.schedule_slot.map(millis))
        .bind(millis(now))
        .bind(started)
        .bind(millis(now))
        .fetch_optional(&self.pool)
        .await?;
        row.as_ref().map(run_from_row).transpose()
    }

    pub async fn run(&self, id: i64) -> Result<Option<Run>, StoreError> {
        let row = sqlx::query(concat!("SELECT ", run_columns!(), " FROM sync_runs WHERE id = ?"))
            .bind(id)
            .fetch_optional(&self.pool)
            .await?;
        row.as_ref().map(run_from_row).transpose()
    }

    /// The organisation's active run (queued, running or paused), if any.
    pub async fn active_run(&self, tenant_id: &str) -> Result<Option<Run>, StoreError> {
        let row = sqlx::query(concat!(
            "SELECT ",
            run_columns!(),
            " FROM sync_runs WHERE tenant_id = ? AND state IN ('queued', 'running', 'paused')"
        ))
        .bind(tenant_id)
        .fetch_optional(&self.pool)
        .await?;
        row.as_ref().map(run_from_row).transpose()
    }

    /// The organisation's runs, newest first; `before` pages back by id.
    pub async fn runs(&self, tenant_id: &str, limit: u32, before: Option<i64>) -> Result<Vec<Run>, StoreError> {
        let rows = sqlx::query(concat!(
            "SELECT ",
            run_columns!(),
            " FROM sync_runs WHERE tenant_id = ? AND id < ? ORDER BY id DESC LIMIT ?"
        ))
        .bind(tenant_id)
        .bind(before.unwrap_or(i64::MAX))
        .bind(i64::from(limit))
        .fetch_all(&self.pool)
        .await?;
        rows.iter().map(run_from_row).collect()
    }

    /// The organisation's last finished run that was not a dry run (for "since the last run … at").
    pub async fn last_finished_run(&self, tenant_id: &str) -> Result<Option<Run>, StoreError> {
        let row = sqlx::query(concat!(
            "SELECT ",
            run_columns!(),
            " FROM sync_runs WHERE tenant_id = ? AND dry_run = 0 AND state IN ('succeeded', 'partial') \
             ORDER BY id DESC LIMIT 1"
        ))
        .bind(tenant_id)
        .fetch_optional(&self.pool)
        .await?;
        row.as_ref().map(run_from_row).transpose()
    }

    /// Claims the oldest claimable run (see `claimable!`) for `owner`: one conditional statement, repeated
    /// condition included, so two workers never claim the same run and the fence grows on every claim.
    pub async fn claim_next_run(&self, owner: &str, ttl: Duration) -> Result<Option<Run>, StoreError> {
        let now = millis(Utc::now());
        let row = sqlx::query(concat!(
            "UPDATE sync_runs SET state = 'running', lease_owner = ?, lease_expires_at = ?, heartbeat_at = ?, \
             fence = fence + 1, started_at = COALESCE(started_at, ?), resume_at = NULL, message = NULL, \
             updated_at = ? WHERE id = (SELECT id FROM sync_runs WHERE ",
            claimable!(),
            " ORDER BY id LIMIT 1) AND ",
            claimable!(),
            " RETURNING ",
            run_columns!()
        ))
        .bind(owner)
        .bind(now.saturating_add(ttl_delta(ttl).num_milliseconds()))
        .bind(now)
        .bind(now)
        .bind(now)
        .bind(now)
        .bind(now)
        .bind(now)
        .bind(now)
        .fetch_optional(&self.pool)
        .await?;
        row.as_ref().map(run_from_row).transpose()
    }

    /// Claims run `id` if it is claimable now (the CLI taking up its own paused run).
    pub async fn claim_run(&self, id: i64, owner: &str, ttl: Duration) -> Result<Option<Run>, StoreError> {
        let now = millis(Utc::now());
        let row = sqlx::query(concat!(
            "UPDATE sync_runs SET state = 'running', lease_owner = ?, lease_expires_at = ?, heartbeat_at = ?, \
             fence = fence + 1, started_at = COALESCE(started_at, ?), resume_at = NULL, message = NULL, \
             updated_at = ? WHERE id = ? AND ",
            claimable!(),
            " RETURNING ",
            run_columns!()
        ))
        .bind(owner)
        .bind(now.saturating_add(ttl_delta(ttl).num_milliseconds()))
        .bind(now)
        .bind(now)
        .bind(now)
        .bind(id)
        .bind(now)
        .bind(now)
        .fetch_optional(&self.pool)
        .await?;
        row.as_ref().map(run_from_row).transpose()
    }

    /// Extends a lease; `false` when it was lost (the run was claimed by another worker, or released).
    pub async fn heartbeat(&self, lease: &Lease, ttl: Duration) -> Result<bool, StoreError> {
        let now = Utc::now();
        let result = sqlx::query(
            "UPDATE sync_runs SET lease_expires_at = ?, heartbeat_at = ?
             WHERE id = ? AND fence = ? AND state = 'running'",
        )
        .bind(millis(now + ttl_delta(ttl)))
        .bind(millis(now))
        .bind(lease.run_id)
        .bind(lease.fence)
        .execute(&self.pool)
        .await?;
        Ok(result.rows_affected() == 1)
    }

    /// Starts a fenced write of a run (see [`RunWrite`]), extending its lease by `ttl`.
    pub async fn run_write(&self, lease: &Lease, ttl: Duration) -> Result<RunWrite, StoreError> {
        let mut tx = self.pool.begin().await?;
        let now = Utc::now();
        // The fence check comes first: it takes the write lock (the run's row lock in PostgreSQL) at once.
        let row = sqlx::query(
            "UPDATE sync_runs SET lease_expires_at = ?, heartbeat_at = ?, updated_at = ?
             WHERE id = ? AND fence = ? AND state = 'running' RETURNING cancel_requested",
        )
        .bind(millis(now + ttl_delta(ttl)))
        .bind(millis(now))
        .bind(millis(now))
        .bind(lease.run_id)
        .bind(lease.fence)
        .fetch_optional(&mut *tx)
        .await?;
        let Some(row) = row else {
            return Err(StoreError::LeaseLost { run_id: lease.run_id, fence: lease.fence });
        };
        let cancel_requested = row.try_get::<i64, _>("cancel_requested")? == 1;
        Ok(RunWrite { tx, lease: lease.clone(), now, cancel_requested, xero_calls: 0, zoho_calls: 0 })
    }

    /// Asks a run to stop: a queued or paused run is cancelled at once; a running one stops after the
    /// batch in flight (its worker sees the request when it commits). `None` for an unknown run.
    pub async fn cancel_run(&self, id: i64, by: &str) -> Result<Option<Run>, StoreError> {
        let now = millis(Utc::now());
        let message = format!("cancelled by {by}");
        let mut tx = self.pool.begin().await?;
        sqlx::query(
            "UPDATE sync_runs SET state = 'cancelled', message = ?, finished_at = ?, updated_at = ?, resume_at = NULL
             WHERE id = ? AND state IN ('queued', 'paused')",
        )
        .bind(&message)
        .bind(now)
        .bind(now)
        .bind(id)
        .execute(&mut *tx)
        .await?;
        sqlx::query(
            "UPDATE sync_runs SET cancel_requested = 1, message = ?, updated_at = ? WHERE id = ? AND state = 'running'",
        )
        .bind(format!("cancel requested by {by}: stops after the batch in flight"))
        .bind(now)
        .bind(id)
        .execute(&mut *tx)
        .await?;
        add_event(&mut tx, id, EventLevel::Info, &format!("Cancel requested by {by}.")).await?;
        tx.commit().await?;
        self.run(id).await
    }

    /// Queues a paused, cancelled or failed run again, to go on from its checkpoint. Refused with
    /// [`StoreError::RunActive`] when the organisation has another active run.
    pub async fn resume_run(&self, id: i64, by: &str) -> Result<Option<Run>, StoreError> {
        let Some(run) = self.run(id).await? else { return Ok(None) };
        let now = millis(Utc::now());
        let mut tx = self.pool.begin().await?;
        let result = sqlx::query(concat!(
            "UPDATE sync_runs SET state = 'queued', resume_at = NULL, cancel_requested = 0, message = NULL,
                 finished_at = NULL, updated_at = ?
             WHERE id = ? AND state IN ('paused', 'cancelled', 'failed') RETURNING ",
            run_columns!()
        ))
        .bind(now)
        .bind(id)
        .fetch_optional(&mut *tx)
        .await;
        match result {
            // The run as resumed (a worker may take it up the moment this commits).
            Ok(Some(row)) => {
                let resumed = run_from_row(&row)?;
                add_event(&mut tx, id, EventLevel::Info, &format!("Resumed by {by}.")).await?;
                tx.commit().await?;
                Ok(Some(resumed))
            }
            Ok(None) => {
                drop(tx);
                self.run(id).await
            }
            Err(sqlx::Error::Database(e)) if e.is_unique_violation() => {
                drop(tx);
                match self.active_run(&run.tenant_id).await? {
                    Some(active) => Err(StoreError::RunActive(Box::new(active))),
                    None => Err(StoreError::InvalidArgument("another run was active; try again".into())),
                }
            }
            Err(e) => Err(e.into()),
        }
    }

    /// Takes a running run away from its worker (an admin's "force release" of a run whose process is
    /// gone): queued again, and the fence moves on, so that worker can never write to it again.
    pub async fn force_release_run(&self, id: i64, by: &str) -> Result<Option<Run>, StoreError> {
        let now = millis(Utc::now());
        let mut tx = self.pool.begin().await?;
        let released = sqlx::query(
            "UPDATE sync_runs SET state = 'queued', lease_owner = NULL, lease_expires_at = NULL, fence = fence + 1,
                 updated_at = ?
             WHERE id = ? AND state = 'running' RETURNING fence",
        )
        .bind(now)
        .bind(id)
        .fetch_optional(&mut *tx)
        .await?;
        if let Some(row) = released {
            let fence: i64 = row.try_get("fence")?;
            let message = format!("Force-released by {by}: the worker holding it can no longer write (fence {fence}).");
            add_event(&mut tx, id, EventLevel::Warning, &message).await?;
        }
        tx.commit().await?;
        self.run(id).await
    }

    /// Adds a line to a run's log, outside any lease (admin actions, refusals).
    pub async fn event(&self, run_id: i64, level: EventLevel, message: &str) -> Result<(), StoreError> {
        let mut tx = self.pool.begin().await?;
        add_event(&mut tx, run_id, level, message).await?;
        tx.commit().await?;
        Ok(())
    }

    /// A run's log, oldest first.
    pub async fn run_events(&self, run_id: i64) -> Result<Vec<RunEvent>, StoreError> {
        let rows =
            sqlx::query("SELECT id, run_id, at, level, message FROM sync_run_events WHERE run_id = ? ORDER BY id")
                .bind(run_id)
                .fetch_all(&self.pool)
                .await?;
        rows.iter()
            .map(|row| {
                let level: String = row.try_get("level")?;
                Ok(RunEvent {
                    id: row.try_get("id")?,
                    run_id: row.try_get("run_id")?,
                    at: time("sync_run_events.at", row.try_get("at")?)?,
                    level: EventLevel::parse(&level)?,
                    message: row.try_get("message")?,
                })
            })
            .collect()
    }

    /// A run's products in reading order, filtered by outcome and paged by `seq`.
    pub async fn run_products(&self, run_id: i64, filter: &ProductFilter) -> Result<Vec<RunProduct>, StoreError> {
        let outcomes: Vec<&str> = if filter.outcomes.is_empty() {
            ProductOutcome::ALL.iter().map(|o| o.as_str()).collect()
        } else {
            filter.outcomes.iter().map(|o| o.as_str()).collect()
        };
        let rows = sqlx::query(concat!(
            "SELECT ",
            product_columns!(),
            " FROM sync_run_products WHERE run_id = ? AND seq > ? \
             AND outcome IN (SELECT value FROM json_each(?)) ORDER BY seq LIMIT ?"
        ))
        .bind(run_id)
        .bind(filter.after_seq.unwrap_or(i64::MIN))
        .bind(json_text(&outcomes)?)
        .bind(i64::from(filter.limit))
        .fetch_all(&self.pool)
        .await?;
        rows.iter().map(product_from_row).collect()
    }

    /// The earliest `Modified_Time` among the products a run has read: where a run over every product
    /// started reading, for its progress.
    pub async fn run_first_modified(&self, run_id: i64) -> Result<Option<DateTime<Utc>>, StoreError> {
        let (ms,): (Option<i64>,) = sqlx::query_as("SELECT MIN(modified_time) FROM sync_run_products WHERE run_id = ?")
            .bind(run_id)
            .fetch_one(&self.pool)
            .await?;
        ms.map(|ms| time("sync_run_products.modified_time", ms)).transpose()
    }

    /// The organisation's item links with the bulk runs' state of each.
    pub async fn link_states(&self, tenant_id: &str) -> Result<Vec<LinkState>, StoreError> {
        let rows = sqlx::query(
            "SELECT product_id, tenant_id, item_id, code, payload_hash, synced_at, xero_state, zoho_modified_time,
                 writeback_pending
             FROM item_links WHERE tenant_id = ?",
        )
        .bind(tenant_id)
        .fetch_all(&self.pool)
        .await?;
        rows.iter().map(link_state_from_row).collect()
    }

    /// Links whose write-back to the CRM is still owed, oldest first.
    pub async fn pending_writebacks(&self, tenant_id: &str, limit: u32) -> Result<Vec<LinkState>, StoreError> {
        let rows = sqlx::query(
            "SELECT product_id, tenant_id, item_id, code, payload_hash, synced_at, xero_state, zoho_modified_time,
                 writeback_pending
             FROM item_links WHERE tenant_id = ? AND writeback_pending = 1 ORDER BY synced_at, product_id LIMIT ?",
        )
        .bind(tenant_id)
        .bind(i64::from(limit))
        .fetch_all(&self.pool)
        .await?;
        rows.iter().map(link_state_from_row).collect()
    }

    /// Where "since the last run" starts for the organisation: every product modified up to this time was
    /// read by a finished run.
    pub async fn sync_cursor(&self, tenant_id: &str) -> Result<Option<DateTime<Utc>>, StoreError> {
        let row: Option<(i64,)> = sqlx::query_as("SELECT modified_until FROM sync_cursors WHERE tenant_id = ?")
            .bind(tenant_id)
            .fetch_optional(&self.pool)
            .await?;
        row.map(|(ms,)| time("sync_cursors.modified_until", ms)).transpose()
    }
}

async fn add_event(
    tx: &mut Transaction<'static, Sqlite>,
    run_id: i64,
    level: EventLevel,
    message: &str,
) -> Result<(), StoreError> {
    sqlx::query("INSERT INTO sync_run_events (run_id, at, level, message) VALUES (?, ?, ?, ?)")
        .bind(run_id)
        .bind(millis(Utc::now()))
        .bind(level.as_str())
        .bind(message)
        .execute(&mut **tx)
        .await?;
    Ok(())
}

/// What a run records about one product in a [`RunWrite`].
#[derive(Debug, Clone)]
pub struct ProductRecord<'a> {
    pub product_id: &'a str,
    pub seq: i64,
    pub name: Option<&'a str>,
    pub code: Option<&'a str>,
    pub outcome: ProductOutcome,
    pub item_id: Option<&'a str>,
    pub issues: &'a [Issue],
    pub message: Option<&'a str>,
    pub writeback: Option<Writeback>,
    pub request: Option<&'a Value>,
    pub modified_time: Option<DateTime<Utc>>,
}

/// How a run ends, for [`RunWrite::finish`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RunEnd {
    Succeeded,
    Partial,
    Failed,
    Cancelled,
}

/// One fenced write of a run: every statement runs in one transaction that first checked the lease's fence
/// (see the module docs). Dropped without [`RunWrite::commit`], nothing is written.
pub struct RunWrite {
    tx: Transaction<'static, Sqlite>,
    lease: Lease,
    now: DateTime<Utc>,
    /// Whether an admin asked the run to stop (read by the fence check).
    pub cancel_requested: bool,
    xero_calls: u64,
    zoho_calls: u64,
}

impl RunWrite {
    /// Records a product's outcome in the run. A later read of the same product replaces it, except that
    /// "unchanged", "kept" or "not for Xero" never hides an earlier "created" or "updated" of this run (our own
    /// write-back echoes the product back unchanged).
    pub async fn product(&mut self, product: &ProductRecord<'_>) -> Result<(), StoreError> {
        sqlx::query(concat!(
            "INSERT INTO sync_run_products (",
            product_columns!(),
            ") VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, NULL, ?, ?, ?)
             ON CONFLICT (run_id, product_id) DO UPDATE SET seq = excluded.seq, name = excluded.name,
                 code = excluded.code, outcome = excluded.outcome, item_id = excluded.item_id,
                 issues = excluded.issues, message = excluded.message, writeback = excluded.writeback, writeback_error = NULL,
                 request = excluded.request, modified_time = excluded.modified_time, at = excluded.at
             WHERE NOT (excluded.outcome IN ('unchanged', 'kept', 'not_for_xero')
                        AND sync_run_products.outcome IN ('created', 'updated'))"
        ))
        .bind(self.lease.run_id)
        .bind(product.product_id)
        .bind(product.seq)
        .bind(product.name)
        .bind(product.code)
        .bind(product.outcome.as_str())
        .bind(product.item_id)
        .bind(json_text(product.issues)?)
        .bind(product.message)
        .bind(product.writeback.map(Writeback::as_str))
        .bind(product.request.map(Value::to_string))
        .bind(product.modified_time.map(millis))
        .bind(millis(self.now))
        .execute(&mut *self.tx)
        .await?;
        Ok(())
    }

    /// Creates or updates a product's link, its write-back owed, with what Xero answered it holds after the
    /// write (`state`; unknown when `None`, as for [`Store::save_item_link`]). Refused, without spoiling the
    /// transaction, when the item is linked to another product ([`StoreError::ItemLinkedElsewhere`]).
    pub async fn link(&mut self, link: &ItemLink, state: Option<&ItemState>) -> Result<(), StoreError> {
        let state =
            state.map(serde_json::to_string).transpose().map_err(|e| StoreError::InvalidArgument(e.to_string()))?;
        let owner: Option<(String,)> =
            sqlx::query_as("SELECT product_id FROM item_links WHERE tenant_id = ? AND item_id = ? AND product_id <> ?")
                .bind(&link.tenant_id)
                .bind(&link.item_id)
                .bind(&link.product_id)
                .fetch_optional(&mut *self.tx)
                .await?;
        if let Some((product_id,)) = owner {
            return Err(StoreError::ItemLinkedElsewhere {
                tenant_id: link.tenant_id.clone(),
                item_id: link.item_id.clone(),
                product_id,
            });
        }
        sqlx::query(
            "INSERT INTO item_links (product_id, tenant_id, item_id, code, payload_hash, synced_at, xero_state,
                 writeback_pending)
             VALUES (?, ?, ?, ?, ?, ?, ?, 1)
             ON CONFLICT (product_id, tenant_id) DO UPDATE SET
                 item_id = excluded.item_id, code = excluded.code, payload_hash = excluded.payload_hash,
                 synced_at = excluded.synced_at, xero_state = excluded.xero_state, writeback_pending = 1",
        )
        .bind(&link.product_id)
        .bind(&link.tenant_id)
        .bind(&link.item_id)
        .bind(&link.code)
        .bind(&link.payload_hash)
        .bind(millis(link.synced_at))
        .bind(state)
        .execute(&mut *self.tx)
        .await?;
        Ok(())
    }

    /// The CRM record of a linked product now holds the ItemID (Zoho answered with `modified_time`).
    pub async fn writeback_done(
        &mut self,
        tenant_id: &str,
        product_id: &str,
        modified_time: DateTime<Utc>,
    ) -> Result<(), StoreError> {
        sqlx::query(
            "UPDATE item_links SET zoho_modified_time = ?, writeback_pending = 0 WHERE tenant_id = ? AND product_id = ?",
        )
        .bind(millis(modified_time))
        .bind(tenant_id)
        .bind(product_id)
        .execute(&mut *self.tx)
        .await?;
        self.product_writeback(product_id, Writeback::Done, None).await
    }

    /// Records the write-back state of one of this run's products (a product of an earlier run is not
    /// affected: only its link says the write-back is owed).
    pub async fn product_writeback(
        &mut self,
        product_id: &str,
        writeback: Writeback,
        error: Option<&str>,
    ) -> Result<(), StoreError> {
        sqlx::query(
            "UPDATE sync_run_products SET writeback = ?, writeback_error = ? WHERE run_id = ? AND product_id = ?",
        )
        .bind(writeback.as_str())
        .bind(error)
        .bind(self.lease.run_id)
        .bind(product_id)
        .execute(&mut *self.tx)
        .await?;
        Ok(())
    }

    /// A product sync of this run in the combined sync log (finished as it is written).
    pub async fn log_sync(&mut self, entry: &BulkLogEntry<'_>) -> Result<(), StoreError> {
        sqlx::query(
            "INSERT INTO sync_log (run_id, product_id, product_name, product_code, tenant_id, started_at,
                 finished_at, actor, trigger, request, response, outcome, item_id, messages, bulk_run_id)
             VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        )
        .bind(uuid::Uuid::new_v4().to_string())
        .bind(entry.product_id)
        .bind(entry.product_name)
        .bind(entry.product_code)
        .bind(entry.tenant_id)
        .bind(millis(entry.started_at))
        .bind(millis(self.now))
        .bind(entry.actor)
        .bind(entry.trigger.as_str())
        .bind(entry.request.map(Value::to_string))
        .bind(entry.response.map(Value::to_string))
        .bind(entry.outcome.as_str())
        .bind(entry.item_id)
        .bind(json_text(entry.messages)?)
        .bind(self.lease.run_id)
        .execute(&mut *self.tx)
        .await?;
        Ok(())
    }

    pub async fn event(&mut self, level: EventLevel, message: &str) -> Result<(), StoreError> {
        add_event(&mut self.tx, self.lease.run_id, level, message).await
    }

    pub async fn checkpoint(&mut self, checkpoint: &Value) -> Result<(), StoreError> {
        sqlx::query("UPDATE sync_runs SET checkpoint = ? WHERE id = ?")
            .bind(checkpoint.to_string())
            .bind(self.lease.run_id)
            .execute(&mut *self.tx)
            .await?;
        Ok(())
    }

    /// Fixes where the run reads from (set once, at its first claim).
    pub async fn window_since(&mut self, since: Option<DateTime<Utc>>) -> Result<(), StoreError> {
        sqlx::query("UPDATE sync_runs SET window_since = ? WHERE id = ?")
            .bind(since.map(millis))
            .bind(self.lease.run_id)
            .execute(&mut *self.tx)
            .await?;
        Ok(())
    }

    pub async fn estimate(&mut self, estimate: &Value) -> Result<(), StoreError> {
        sqlx::query("UPDATE sync_runs SET estimate = ? WHERE id = ?")
            .bind(estimate.to_string())
            .bind(self.lease.run_id)
            .execute(&mut *self.tx)
            .await?;
        Ok(())
    }

    /// Counts calls made since the last commit.
    pub fn calls(&mut self, xero: u64, zoho: u64) {
        self.xero_calls += xero;
        self.zoho_calls += zoho;
    }

    /// Moves the organisation's cursor forward (never back) to `modified_until`.
    pub async fn advance_cursor(&mut self, tenant_id: &str, modified_until: DateTime<Utc>) -> Result<(), StoreError> {
        sqlx::query(
            "INSERT INTO sync_cursors (tenant_id, modified_until, run_id, updated_at) VALUES (?, ?, ?, ?)
             ON CONFLICT (tenant_id) DO UPDATE SET modified_until = excluded.modified_until,
                 run_id = excluded.run_id, updated_at = excluded.updated_at
             WHERE excluded.modified_until > sync_cursors.modified_until",
        )
        .bind(tenant_id)
        .bind(millis(modified_until))
        .bind(self.lease.run_id)
        .bind(millis(self.now))
        .execute(&mut *self.tx)
        .await?;
        Ok(())
    }

    /// Pauses the run until `resume_at`, giving up the lease; any worker takes it up again from then on.
    pub async fn pause(&mut self, reason: &str, resume_at: DateTime<Utc>) -> Result<(), StoreError> {
        sqlx::query(
            "UPDATE sync_runs SET state = 'paused', message = ?, resume_at = ?, lease_owner = NULL,
                 lease_expires_at = NULL WHERE id = ?",
        )
        .bind(reason)
        .bind(millis(resume_at))
        .bind(self.lease.run_id)
        .execute(&mut *self.tx)
        .await?;
        Ok(())
    }

    /// Gives the run back, queued, to be taken up from its checkpoint (a shutdown).
    pub async fn release(&mut self) -> Result<(), StoreError> {
        sqlx::query("UPDATE sync_runs SET state = 'queued', lease_owner = NULL, lease_expires_at = NULL WHERE id = ?")
            .bind(self.lease.run_id)
            .execute(&mut *self.tx)
            .await?;
        Ok(())
    }

    pub async fn finish(&mut self, end: RunEnd, message: Option<&str>) -> Result<(), StoreError> {
        let state = match end {
            RunEnd::Succeeded => RunState::Succeeded,
            RunEnd::Partial => RunState::Partial,
            RunEnd::Failed => RunState::Failed,
            RunEnd::Cancelled => RunState::Cancelled,
        };
        sqlx::query(
            "UPDATE sync_runs SET state = ?, message = ?, finished_at = ?, lease_owner = NULL,
                 lease_expires_at = NULL, cancel_requested = 0 WHERE id = ?",
        )
        .bind(state.as_str())
        .bind(message)
        .bind(millis(self.now))
        .bind(self.lease.run_id)
        .execute(&mut *self.tx)
        .await?;
        Ok(())
    }

    /// Recomputes the counters from the run's products (so they always add up), adds the calls, commits.
    pub async fn commit(mut self) -> Result<(), StoreError> {
        sqlx::query(
            "UPDATE sync_runs SET
                 read_count = (SELECT COUNT(*) FROM sync_run_products WHERE run_id = ?1),
                 not_for_xero = (SELECT COUNT(*) FROM sync_run_products WHERE run_id = ?1 AND outcome = 'not_for_xero'),
                 unchanged = (SELECT COUNT(*) FROM sync_run_products WHERE run_id = ?1 AND outcome = 'unchanged'),
                 kept = (SELECT COUNT(*) FROM sync_run_products WHERE run_id = ?1 AND outcome = 'kept'),
                 refused = (SELECT COUNT(*) FROM sync_run_products WHERE run_id = ?1 AND outcome = 'refused'),
                 created = (SELECT COUNT(*) FROM sync_run_products WHERE run_id = ?1 AND outcome = 'created'),
                 updated = (SELECT COUNT(*) FROM sync_run_products WHERE run_id = ?1 AND outcome = 'updated'),
                 failed = (SELECT COUNT(*) FROM sync_run_products WHERE run_id = ?1 AND outcome = 'failed'),
                 xero_calls = xero_calls + ?2, zoho_calls = zoho_calls + ?3
             WHERE id = ?1",
        )
        .bind(self.lease.run_id)
        .bind(i64::try_from(self.xero_calls).unwrap_or(i64::MAX))
        .bind(i64::try_from(self.zoho_calls).unwrap_or(i64::MAX))
        .execute(&mut *self.tx)
        .await?;
        self.tx.commit().await?;
        Ok(())
    }
}
