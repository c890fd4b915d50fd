//! Bulk and scheduled syncs: every product (or those changed since the last run, or in the last N days, or
//! a chosen list), at Xero's full rate, durable and resumable.
//!
//! A run is a row of our own ([`crate::store::Run`]), not a job in a generic queue, because its checkpoint
//! commits in the same transaction as each batch's item links and log rows. A worker claims it with a lease
//! and a fence (see `store::runs`); the service runs one worker in the background ([`Runs::spawn_worker`],
//! stopped by the graceful shutdown, which hands the run back resumable), and `xero-sync sync` runs its own
//! run in the foreground. A run whose worker died is taken over once its lease expires, from its
//! checkpoint. The engine's parts: `reader` (Zoho pages as a keyset), `product` (what to do with one
//! product, with the button's own matching, `crate::sync::item`), `execute` (batches of 50 to Xero, up to
//! four in flight, committed in order; write-backs of 100), `budget` (Xero's daily reserve), `schedule`
//! (slots) and `worker`.
//!
//! The admin portal drives it through [`Runs`]: start, cancel, resume, force-release, a run's snapshots as
//! they change ([`RunWatch`], for server-sent events), its products by outcome, its log, the schedule.

mod budget;
mod execute;
mod product;
mod reader;
mod schedule;
mod worker;

use std::sync::{Arc, Mutex};
use std::time::Duration;

use crate::field_names::FieldNames;
use chrono::{DateTime, Local, Utc};
use serde::Serialize;
use tokio::sync::Notify;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

use crate::store::{ConnectionStatus, DailyReservePercent, Lease, NewRun, Store, StoreError};
pub use crate::store::{
    EventLevel, ProductFilter, ProductOutcome, Run, RunCounters, RunEvent, RunProduct, RunState, RunTrigger, RunWindow,
    SCHEDULE_HOURS, Schedule,
};
use crate::xero::XeroClient;
use crate::zoho::ZohoClient;
use budget::XeroBudget;

/// How runs pace themselves; the defaults are for the real services. Tests shorten the durations to match
/// simulators on a fast clock.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RunTuning {
    /// How often an idle worker looks for a run to take up and a schedule slot that is due.
    pub poll: Duration,
    /// An hour, as schedules count it.
    pub schedule_hour: Duration,
    /// How far before the cursor "since the last run" reads again, so a record saved at the boundary is
    /// never missed (reading one twice is harmless: it is unchanged).
    pub lookback: Duration,
    /// The first pause after Xero or Zoho stopped answering; each further one in a row doubles, up to an hour.
    pub error_backoff: Duration,
    /// The pause when Zoho's API credits are spent (they come back over a rolling day).
    pub zoho_credit_wait: Duration,
    /// Overrides `XERO_SYNC_RUN_LEASE_SECS` (tests only).
    pub lease: Option<Duration>,
}

impl Default for RunTuning {
    fn default() -> Self {
        Self {
            poll: Duration::from_secs(5),
            schedule_hour: Duration::from_secs(3600),
            lookback: Duration::from_secs(5 * 60),
            error_backoff: Duration::from_secs(60),
            zoho_credit_wait: Duration::from_secs(3600),
            lease: None,
        }
    }
}

/// A run to start.
#[derive(Debug, Clone)]
pub struct RunRequest {
    pub trigger: RunTrigger,
    /// Who asks: the admin, the CLI's user.
    pub actor: String,
    pub window: RunWindow,
    pub dry_run: bool,
}

/// Why a run could not start.
#[derive(Debug, thiserror::Error)]
pub enum StartError {
    #[error("Xero is not connected yet; an admin must connect it")]
    XeroNotConnected,
    #[error("Xero needs to be reconnected by an admin: {0}")]
    XeroReconnectNeeded(String),
    #[error("Zoho CRM is not connected yet; an admin must connect it")]
    ZohoNotConnected,
    #[error("Zoho CRM needs to be reconnected by an admin: {0}")]
    ZohoReconnectNeeded(String),
    /// The organisation already has an active run.
    #[error("{}", already_running(.0))]
    Active(Box<Run>),
    #[error("{0}")]
    Invalid(String),
    #[error("storage failed")]
    Store(#[source] StoreError),
}

impl From<StoreError> for StartError {
    fn from(error: StoreError) -> Self {
        match error {
            StoreError::RunActive(run) => StartError::Active(run),
            StoreError::InvalidArgument(reason) => StartError::Invalid(reason),
            other => StartError::Store(other),
        }
    }
}

/// A time as `HH:MM` in the server's time zone, as messages show it.
pub(crate) fn local_time(time: DateTime<Utc>) -> String {
    time.with_timezone(&Local).format("%H:%M").to_string()
}

/// "a sync is already running (started HH:MM by …)".
fn already_running(run: &Run) -> String {
    let started = local_time(run.started_at.unwrap_or(run.created_at));
    let mut text = format!("a sync is already running (started {started} by {}, run {}", run.actor, run.id);
    match (run.state, run.resume_at) {
        (RunState::Paused, Some(until)) => {
            text.push_str(&format!("; paused until {}", local_time(until)));
        }
        (RunState::Queued, _) => text.push_str("; queued, the service takes it up"),
        _ => {}
    }
    text.push(')');
    text
}

/// How an execution of a claimed run ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Execution {
    /// The run reached an end state.
    Finished(RunState),
    /// Paused until then (any worker takes it up again).
    Paused { until: DateTime<Utc>, reason: String },
    /// Handed back, queued, by a shutdown.
    Released,
    /// Another worker took the run over (this one's lease had expired, or an admin force-released it).
    LeaseLost,
    /// The database failed; the lease expires and the run is taken up again.
    Interrupted(String),
}

/// A run as a progress page shows it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct RunSnapshot {
    pub run: Run,
    /// What Xero last said about the organisation's calls left today (`None` before any call).
    pub xero_calls_left_today: Option<u32>,
    /// The calls kept for the button.
    pub xero_reserve: u32,
    /// How far the run has read, from 0 to 1; `None` before it can be told (see [`progress`]).
    pub progress: Option<f64>,
}

/// How far a run has read, from 0 to 1. Zoho does not say how many products a window holds, but it sends
/// them in `Modified_Time` order: the share of the window's time span (from its start, or from the first
/// product read for a run over every product, to when the run started) that the reading has passed. A run
/// over chosen products counts them. Never 1 before the run finished (records saved meanwhile are read too).
fn progress(run: &Run, first_modified: Option<DateTime<Utc>>) -> Option<f64> {
    if matches!(run.state, RunState::Succeeded | RunState::Partial) {
        return Some(1.0);
    }
    let checkpoint = reader::Checkpoint::from_json(&run.checkpoint);
    let almost = |share: f64| share.clamp(0.0, 0.99);
    if let RunWindow::Products(ids) = &run.window {
        return Some(almost(checkpoint.next_index as f64 / ids.len().max(1) as f64));
    }
    if checkpoint.read_done {
        return Some(0.99);
    }
    let position = checkpoint.position?;
    let start = run.window_since.or(first_modified)?.timestamp_millis();
    let end = run.started_at?.timestamp_millis();
    if end <= start {
        return None;
    }
    Some(almost((position.modified_ms - start) as f64 / (end - start) as f64))
}

/// The schedule as the admin sees it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ScheduleView {
    pub tenant_id: String,
    /// `None` until an admin set it (off).
    pub schedule: Option<Schedule>,
    pub next_run_at: Option<DateTime<Utc>>,
    /// The last finished run (any trigger), for "last run's outcome".
    pub last_run: Option<Run>,
}

/// The runs service; cheap to clone.
#[derive(Clone)]
pub struct Runs {
    inner: Arc<Inner>,
}

pub(crate) struct Inner {
    store: Store,
    xero: XeroClient,
    zoho: ZohoClient,
    fields: FieldNames,
    budget: XeroBudget,
    /// The service's daily reserve, kept when the admin has not set one.
    default_reserve_percent: u8,
    lease: Duration,
    tuning: RunTuning,
    /// This process's name in leases: host, process id and a random part.
    owner: String,
    /// Wakes the worker: a run was queued or resumed.
    wake: Notify,
    /// Wakes watchers: a run moved.
    progress: Notify,
    stop: CancellationToken,
    /// The lease this process holds, released by a shutdown that could not wait for the run.
    current: Mutex<Option<Lease>>,
    worker: Mutex<Option<JoinHandle<()>>>,
}

impl Inner {
    /// Takes up the admin's daily reserve (or the service's, when none is set): before a run executes and
    /// before a page shows the budget, so a change applies from the next batch on.
    pub(crate) async fn refresh_reserve(&self) -> Result<(), StoreError> {
        let set = self.store.org_setting::<DailyReservePercent>().await?;
        self.budget.set_reserve_percent(set.unwrap_or(self.default_reserve_percent));
        Ok(())
    }
}

fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

fn owner_name() -> String {
    let host = std::fs::read_to_string("/etc/hostname")
        .ok()
        .map(|h| h.trim().to_owned())
        .filter(|h| !h.is_empty())
        .or_else(|| std::env::var("HOSTNAME").ok())
        .unwrap_or_else(|| "host".into());
    let random = uuid::Uuid::new_v4().simple().to_string();
    format!("{host}:{}:{}", std::process::id(), &random[..8])
}

impl Runs {
    /// `reserve_percent` of Xero's daily calls is kept for the button; `lease` is how long a run's claim
    /// lasts without a heartbeat.
    pub(crate) fn new(
        store: Store,
        xero: XeroClient,
        zoho: ZohoClient,
        fields: FieldNames,
        reserve_percent: u8,
        lease: Duration,
        tuning: RunTuning,
    ) -> Self {
        let lease = tuning.lease.unwrap_or(lease);
        let budget = XeroBudget::new(xero.clone(), reserve_percent);
        let inner = Inner {
            store,
            xero,
            zoho,
            fields,
            budget,
            default_reserve_percent: reserve_percent,
            lease,
            tuning,
            owner: owner_name(),
            wake: Notify::new(),
            progress: Notify::new(),
            stop: CancellationToken::new(),
            current: Mutex::new(None),
            worker: Mutex::new(None),
        };
        Self { inner: Arc::new(inner) }
    }

    /// This process's name in the leases it takes.
    pub fn owner(&self) -> &str {
        &self.inner.owner
    }

    /// The connected organisation, checked usable: a run needs Xero and Zoho.
    async fn tenant(&self) -> Result<String, StartError> {
        let store = &self.inner.store;
        let xero = store.xero_connection().await?.ok_or(StartError::XeroNotConnected)?;
        if xero.status == ConnectionStatus::ReconnectNeeded {
            return Err(StartError::XeroReconnectNeeded(xero.status_reason.unwrap_or_default()));
        }
        let zoho = store.zoho_connection().await?.ok_or(StartError::ZohoNotConnected)?;
        if zoho.status == ConnectionStatus::ReconnectNeeded {
            return Err(StartError::ZohoReconnectNeeded(zoho.status_reason.unwrap_or_default()));
        }
        Ok(xero.tenant_id)
    }

    fn new_run(tenant_id: String, request: RunRequest) -> Result<NewRun, StartError> {
        match &request.window {
            RunWindow::LastDays(0) => return Err(StartError::Invalid("the number of days must be at least 1".into())),
            RunWindow::Products(ids) if ids.is_empty() => {
                return Err(StartError::Invalid("no products were chosen".into()));
            }
            _ => {}
        }
        Ok(NewRun {
            tenant_id,
            trigger: request.trigger,
            actor: request.actor,
            window: request.window,
            dry_run: request.dry_run,
            schedule_slot: None,
        })
    }

    /// Queues a run for the connected organisation; the worker takes it up at once. Refused when Xero or
    /// Zoho is not connected, or a run is active ([`StartError::Active`]).
    pub async fn start(&self, request: RunRequest) -> Result<Run, StartError> {
        let new = Self::new_run(self.tenant().await?, request)?;
        let run = self.inner.store.create_run(&new, None).await?;
        self.created(&run).await;
        self.inner.wake.notify_one();
        Ok(run)
    }

    /// Starts a run already claimed by this process, to execute it here ([`Runs::execute`]): the CLI.
    pub async fn start_here(&self, request: RunRequest) -> Result<Run, StartError> {
        let new = Self::new_run(self.tenant().await?, request)?;
        let run = self.inner.store.create_run(&new, Some((&self.inner.owner, self.inner.lease))).await?;
        self.created(&run).await;
        Ok(run)
    }

    async fn created(&self, run: &Run) {
        let kind = if run.dry_run { "Dry run" } else { "Run" };
        let message =
            format!("{kind} of {} created by {} ({}).", run.window.describe(), run.actor, run.trigger.as_str());
        if let Err(error) = self.inner.store.event(run.id, EventLevel::Info, &message).await {
            tracing::warn!(%error, run = run.id, "could not log a run's creation");
        }
        tracing::info!(run = run.id, trigger = run.trigger.as_str(), dry_run = run.dry_run, "sync run created");
    }

    /// Claims run `id` for this process if it can be taken up now (queued, paused until a time now past,
    /// or its lease expired).
    pub async fn claim(&self, id: i64) -> Result<Option<Run>, StoreError> {
        self.inner.store.claim_run(id, &self.inner.owner, self.inner.lease).await
    }

    /// Executes a run this process claimed, until it ends, pauses, is handed back (`stop`) or taken over.
    pub async fn execute(&self, run: Run, stop: CancellationToken) -> Execution {
        execute::execute(&self.inner, run, stop).await
    }

    /// Cancels a run: at once when queued or paused, after the batches in flight when running.
    pub async fn cancel(&self, id: i64, by: &str) -> Result<Option<Run>, StoreError> {
        let run = self.inner.store.cancel_run(id, by).await?;
        self.inner.progress.notify_waiters();
        Ok(run)
    }

    /// Queues a paused, cancelled or failed run again; it goes on from its checkpoint.
    pub async fn resume(&self, id: i64, by: &str) -> Result<Option<Run>, StartError> {
        let run = self.inner.store.resume_run(id, by).await?;
        self.inner.wake.notify_one();
        self.inner.progress.notify_waiters();
        Ok(run)
    }

    /// Takes a running run away from its worker (its process is gone, and the admin will not wait for the
    /// lease to expire): queued again, and that worker can never write to it again.
    pub async fn force_release(&self, id: i64, by: &str) -> Result<Option<Run>, StoreError> {
        let run = self.inner.store.force_release_run(id, by).await?;
        self.inner.wake.notify_one();
        self.inner.progress.notify_waiters();
        Ok(run)
    }

    pub async fn run(&self, id: i64) -> Result<Option<Run>, StoreError> {
        self.inner.store.run(id).await
    }

    /// The connected organisation's runs, newest first (none when Xero is not connected).
    pub async fn runs(&self, limit: u32, before: Option<i64>) -> Result<Vec<Run>, StoreError> {
        match self.inner.store.xero_connection().await? {
            Some(connection) => self.inner.store.runs(&connection.tenant_id, limit, before).await,
            None => Ok(Vec::new()),
        }
    }

    /// The connected organisation's active run, if any.
    pub async fn active(&self) -> Result<Option<Run>, StoreError> {
        match self.inner.store.xero_connection().await? {
            Some(connection) => self.inner.store.active_run(&connection.tenant_id).await,
            None => Ok(None),
        }
    }

    /// A run's products, by outcome ("retry failed" takes the failed and refused ones' ids).
    pub async fn products(&self, id: i64, filter: &ProductFilter) -> Result<Vec<RunProduct>, StoreError> {
        self.inner.store.run_products(id, filter).await
    }

    /// A run's own log: started, resumed from its checkpoint, paused and why, finished.
    pub async fn events(&self, id: i64) -> Result<Vec<RunEvent>, StoreError> {
        self.inner.store.run_events(id).await
    }

    pub async fn snapshot(&self, id: i64) -> Result<Option<RunSnapshot>, StoreError> {
        let Some(run) = self.inner.store.run(id).await? else { return Ok(None) };
        self.inner.refresh_reserve().await?;
        let first_modified = match (&run.window, run.window_since) {
            (RunWindow::Products(_), _) | (_, Some(_)) => None,
            _ => self.inner.store.run_first_modified(run.id).await?,
        };
        Ok(Some(RunSnapshot {
            xero_calls_left_today: self.inner.budget.remaining(&run.tenant_id),
            xero_reserve: self.inner.budget.reserve(),
            progress: progress(&run, first_modified),
            run,
        }))
    }

    /// The service's daily reserve in percent (`XERO_SYNC_DAILY_RESERVE_PERCENT`), which the admin's
    /// setting overrides.
    pub fn default_reserve_percent(&self) -> u8 {
        self.inner.default_reserve_percent
    }

    /// Applies the admin's daily reserve at once (after a change on the settings page).
    pub async fn refresh_reserve(&self) -> Result<(), StoreError> {
        self.inner.refresh_reserve().await
    }

    /// Cancelled when the service shuts down: what follows runs (a progress page's events) ends then.
    pub(crate) fn stopping(&self) -> CancellationToken {
        self.inner.stop.clone()
    }

    /// Follows a run: each change as a snapshot, for a progress page's server-sent events.
    pub fn watch(&self, id: i64) -> RunWatch {
        RunWatch { runs: self.clone(), id, last: None, finished: false }
    }

    /// The connected organisation's schedule, its next run and the last run's outcome.
    pub async fn schedule(&self) -> Result<ScheduleView, StartError> {
        let store = &self.inner.store;
        let tenant_id = store.xero_connection().await?.ok_or(StartError::XeroNotConnected)?.tenant_id;
        let schedule_row = store.schedule(&tenant_id).await?;
        let now = Utc::now();
        let hour = self.inner.tuning.schedule_hour;
        let next_run_at = match &schedule_row {
            Some(s) => match schedule::due_slot(s, now, hour) {
                // The slot under way has no run yet (another run is active, or the tick is to come).
                Some(slot)
                    if !store.runs(&tenant_id, 20, None).await?.iter().any(|r| r.schedule_slot == Some(slot)) =>
                {
                    Some(slot)
                }
                _ => schedule::next_slot(s, now, hour),
            },
            None => None,
        };
        let last_run = store.runs(&tenant_id, 20, None).await?.into_iter().find(|r| !r.state.is_active());
        Ok(ScheduleView { tenant_id, schedule: schedule_row, next_run_at, last_run })
    }

    /// Turns the automatic sync on, every `every_hours` (1, 2, 4, 6, 12 or 24), or off with `None`.
    pub async fn set_schedule(&self, every_hours: Option<u32>, by: &str) -> Result<ScheduleView, StartError> {
        let tenant_id = self.inner.store.xero_connection().await?.ok_or(StartError::XeroNotConnected)?.tenant_id;
        self.inner.store.set_schedule(&tenant_id, every_hours, by).await?;
        tracing::info!(every_hours, by, "sync schedule changed");
        self.schedule().await
    }

    /// Starts the background worker that takes up queued, paused and orphaned runs and the schedule's.
    pub(crate) fn spawn_worker(&self) {
        let inner = self.inner.clone();
        let handle = tokio::spawn(async move { worker::work(inner).await });
        *lock(&self.inner.worker) = Some(handle);
    }

    /// Shutdown: the run in progress stops after its batches in flight and is handed back queued, within
    /// `grace`; past it, the worker is stopped and the run handed back as it stands (its checkpoint is
    /// whole: it goes on from there).
    pub(crate) async fn shutdown(&self, grace: Duration) {
        self.inner.stop.cancel();
        let handle = lock(&self.inner.worker).take();
        let Some(mut handle) = handle else { return };
        if tokio::time::timeout(grace, &mut handle).await.is_ok() {
            return;
        }
        handle.abort();
        let _ = handle.await;
        let lease = lock(&self.inner.current).take();
        if let Some(lease) = lease {
            match execute::release(&self.inner, &lease, "The service stopped; the run goes on from its checkpoint.")
                .await
            {
                Ok(()) => tracing::warn!(run = lease.run_id, "run handed back at shutdown"),
                Err(error) => tracing::error!(%error, run = lease.run_id, "could not hand the run back at shutdown"),
            }
        }
    }
}

/// Follows one run ([`Runs::watch`]).
pub struct RunWatch {
    runs: Runs,
    id: i64,
    last: Option<RunSnapshot>,
    finished: bool,
}

impl RunWatch {
    /// The run now, the first time; then the next change. `None` after the snapshot of a finished run was
    /// given, or when the run does not exist. Changes made by another process are seen within a second.
    pub async fn next(&mut self) -> Result<Option<RunSnapshot>, StoreError> {
        if self.finished {
            return Ok(None);
        }
        loop {
            let notified = self.runs.inner.progress.notified();
            let Some(snapshot) = self.runs.snapshot(self.id).await? else { return Ok(None) };
            let changed = self.last.as_ref().is_none_or(|last| {
                last.run.updated_at != snapshot.run.updated_at
                    || last.run.state != snapshot.run.state
                    || last.run.counters != snapshot.run.counters
            });
            if changed {
                self.finished = !snapshot.run.state.is_active();
                self.last = Some(snapshot.clone());
                return Ok(Some(snapshot));
            }
            tokio::select! {
                () = notified => {}
                () = tokio::time::sleep(Duration::from_millis(500)) => {}
            }
        }
    }
}
