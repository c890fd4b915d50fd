//! Executing a claimed run: read products, decide each, send batches of up to 50 to Xero (up to four in
//! flight, inside the client's per-organisation limiter), commit each batch in reading order (outcomes,
//! item links, sync log rows and the checkpoint in one fenced transaction), and write back to the CRM in
//! updates of up to 100 records.
//!
//! Safe to cut anywhere: a batch Xero saved but we never committed is read again after a resume, and
//! matched to its items by code (the run reads Xero's items again when it resumes), so it updates them
//! instead of creating them twice. Links are committed before their write-back, marked owed; a write-back
//! that fails is retried at the end of the run and by the next run, never at the cost of the link.

use std::collections::{HashMap, HashSet, VecDeque};
use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, TimeDelta, Utc};
use serde_json::{Map, Value, json};
use shared::wire::SyncOutcome as WireOutcome;
use shared::{CrmProduct, FieldMap, Issue, ItemPayload};
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

use super::product::{Decision, RunCatalogue, Sending, decide};
use super::reader::{Checkpoint, Fetched, Read, ReadPlace, Reader, Source, modified_ms};
use super::{Execution, Inner, local_time, lock};
use crate::store::{
    BulkLogEntry, ConnectionStatus, EventLevel, ItemLink, ItemState, Lease, ProductOutcome, ProductRecord, Run, RunEnd,
    RunState, RunWindow, RunWrite, StoreError, SyncOutcome as LogOutcome, Writeback,
};
use crate::sync::item::{self, Element};
use crate::sync::{Organisation, element_answer, error_answer};
use crate::xero::{MAX_ITEMS_PER_CALL, XeroClient, XeroError};
use crate::zoho::{MAX_UPDATE_RECORDS, UpdateOutcome, ZohoError};

/// Batches sent to Xero at once: Xero allows 5 calls in flight per organisation; one is left for the button.
const BATCHES_IN_FLIGHT: usize = 4;
/// Write-back calls to Zoho at once, while the batches go on.
const WRITEBACKS_IN_FLIGHT: usize = 2;
/// A batch commits after this many products even when few of them are sent, so progress stays visible.
const MAX_PRODUCTS_PER_BATCH: usize = 400;
/// Tries of one batch (each with its own Idempotency-Key) before the run pauses for Xero.
const BATCH_ATTEMPTS: u32 = 3;
const BATCH_RETRY_DELAY: Duration = Duration::from_secs(1);
/// Pauses in a row for a service that does not answer before the run fails (resumable by an admin).
const MAX_ERROR_PAUSES: u32 = 6;
const MAX_ERROR_WAIT: Duration = Duration::from_secs(3600);
/// The list reads a run starts with: Accounts, TaxRates, Items.
const LIST_READS: u32 = 3;

/// Why an execution stops short of its end without writing more.
enum Halt {
    LeaseLost,
    Store(StoreError),
}

impl From<StoreError> for Halt {
    fn from(error: StoreError) -> Self {
        match error {
            StoreError::LeaseLost { .. } => Halt::LeaseLost,
            other => Halt::Store(other),
        }
    }
}

/// Something Xero said that stops the run (pause or fail) rather than one product.
#[derive(Debug)]
enum XeroProblem {
    RateLimited { retry_after: Option<Duration>, problem: String },
    Unavailable(String),
    Reconnect(String),
    TenantForbidden,
}

impl XeroProblem {
    /// The run-level reading of a client error; `Err` keeps the ones that concern the items sent.
    fn of(error: XeroError) -> Result<XeroProblem, XeroError> {
        match error {
            XeroError::RateLimited { retry_after, problem } => Ok(XeroProblem::RateLimited { retry_after, problem }),
            XeroError::Unavailable(reason) => Ok(XeroProblem::Unavailable(reason)),
            // A keyed write still answered with a 5xx after the client's re-read and retry: whether Xero
            // stored the batch is unknown, so it is sent again later (matched by code), never marked failed.
            error @ XeroError::ServerError { .. } => Ok(XeroProblem::Unavailable(error.to_string())),
            XeroError::ReconnectNeeded(reason) => Ok(XeroProblem::Reconnect(reason)),
            XeroError::TenantForbidden => Ok(XeroProblem::TenantForbidden),
            XeroError::Vault(error) => Ok(XeroProblem::Unavailable(crate::describe(&error))),
            other => Err(other),
        }
    }
}

/// One product read, and what the run does with it.
struct Entry {
    place: ReadPlace,
    seq: i64,
    product_id: String,
    name: Option<String>,
    code: Option<String>,
    modified: Option<DateTime<Utc>>,
    read_at: DateTime<Utc>,
    /// What the CRM record holds now, to write back only what differs.
    record_item_id: Option<String>,
    record_status: Option<String>,
    kind: Kind,
}

enum Kind {
    /// `status`: what the CRM record's status should say when it is not the outcome's usual one.
    Settled {
        outcome: ProductOutcome,
        issues: Vec<Issue>,
        item_id: Option<String>,
        message: Option<String>,
        status: Option<String>,
    },
    Send(Box<Sending>),
}

/// Products committed together, in reading order.
struct Batch {
    no: u64,
    entries: Vec<Entry>,
}

impl Batch {
    fn sends(&self) -> impl Iterator<Item = (usize, &Sending)> {
        self.entries.iter().enumerate().filter_map(|(i, e)| match &e.kind {
            Kind::Send(sending) => Some((i, sending.as_ref())),
            Kind::Settled { .. } => None,
        })
    }

    /// Xero calls sending it takes: one for the upserts, one per renamed code.
    fn calls(&self) -> u32 {
        let (renamed, upserts): (Vec<_>, Vec<_>) = self.sends().partition(|(_, s)| s.renames_code());
        u32::from(!upserts.is_empty()) + u32::try_from(renamed.len()).unwrap_or(u32::MAX)
    }
}

/// What Xero said about a batch.
#[derive(Default)]
struct Sent {
    elements: HashMap<usize, Element>,
    /// Xero's answer for each element, for the log.
    responses: HashMap<usize, Value>,
    calls: u64,
    problem: Option<XeroProblem>,
}

struct InFlight {
    batch: Batch,
    calls: u32,
    task: Option<JoinHandle<Sent>>,
}

/// Why the run stops taking new batches.
enum Stopping {
    Shutdown,
    Cancel,
    Budget { until: DateTime<Utc>, reason: String },
    Read(ZohoError),
}

/// A write-back call to Zoho under way.
struct WritebackCall {
    chunk: Vec<Queued>,
    task: JoinHandle<Result<Vec<Result<UpdateOutcome, ZohoError>>, ZohoError>>,
}

/// A write-back waiting for the next update call.
struct Queued {
    product_id: String,
    values: Map<String, Value>,
    /// A link's write-back (owed in the database until done), or only a status.
    link: bool,
}

/// A dry run's tally of what the run would spend.
#[derive(Default)]
struct Tally {
    upsert_calls: u64,
    renames: u64,
    link_writebacks: u64,
    status_writebacks: u64,
}

pub(super) async fn execute(inner: &Inner, run: Run, stop: CancellationToken) -> Execution {
    let owner = run.lease_owner.clone().unwrap_or_else(|| inner.owner.clone());
    let lease = Lease { run_id: run.id, owner, fence: run.fence };
    *lock(&inner.current) = Some(lease.clone());
    let halt = CancellationToken::new();
    let heartbeat = tokio::spawn(heartbeat(inner.store.clone(), lease.clone(), inner.lease, halt.clone()));
    if let Err(error) = inner.refresh_reserve().await {
        tracing::warn!(error = %crate::describe(&error), "the daily reserve setting could not be read; the last one holds");
    }
    let mut executor = Executor::new(inner, run, lease.clone(), stop, halt);
    let result = executor.execute().await;
    heartbeat.abort();
    let execution = match result {
        Ok(execution) => execution,
        Err(Halt::LeaseLost) => {
            tracing::warn!(run = lease.run_id, fence = lease.fence, "another worker took the run over; stopping");
            Execution::LeaseLost
        }
        Err(Halt::Store(error)) => {
            let reason = crate::describe(&error);
            tracing::error!(run = lease.run_id, %reason, "the database failed during a run; its lease will expire");
            Execution::Interrupted(reason)
        }
    };
    {
        let mut current = lock(&inner.current);
        if current.as_ref() == Some(&lease) {
            *current = None;
        }
    }
    inner.progress.notify_waiters();
    tracing::info!(run = lease.run_id, ?execution, "run execution ended");
    execution
}

/// Keeps the lease alive; cancels `halt` once it is lost.
async fn heartbeat(store: crate::store::Store, lease: Lease, ttl: Duration, halt: CancellationToken) {
    let every = (ttl / 3).max(Duration::from_millis(200));
    loop {
        tokio::time::sleep(every).await;
        match store.heartbeat(&lease, ttl).await {
            Ok(true) => {}
            Ok(false) => {
                halt.cancel();
                return;
            }
            Err(error) => tracing::warn!(%error, run = lease.run_id, "heartbeat failed"),
        }
    }
}

/// Hands a run back, queued (shutdown).
pub(super) async fn release(inner: &Inner, lease: &Lease, message: &str) -> Result<(), StoreError> {
    let mut write = inner.store.run_write(lease, inner.lease).await?;
    write.release().await?;
    write.event(EventLevel::Info, message).await?;
    write.commit().await?;
    inner.wake.notify_one();
    Ok(())
}

struct Executor<'a> {
    inner: &'a Inner,
    /// The CRM field names, read once per execution: a change applies from the next.
    fields: Arc<FieldMap>,
    run: Run,
    lease: Lease,
    stop: CancellationToken,
    halt: CancellationToken,
    checkpoint: Checkpoint,
    reader: Option<Reader>,
    /// The organisation's lists and defaults, read once per execution.
    org: Option<Organisation>,
    catalogue: RunCatalogue,
    read_error: Option<ZohoError>,
    read_done: bool,
    writebacks: Vec<Queued>,
    writeback_calls: VecDeque<WritebackCall>,
    /// Products whose write-back failed in this run (the link is kept and the write-back owed).
    failed_writebacks: HashSet<String>,
    /// The CRM status of the products this run wrote, for their write-backs retried.
    statuses: HashMap<String, String>,
    /// Calls not yet counted in the run's row.
    xero_calls: u64,
    zoho_calls: u64,
    /// Products read back unchanged right after our own write-back (their Modified_Time is ours).
    echoes: u64,
    notes: Vec<String>,
    tally: Tally,
}

impl Drop for Executor<'_> {
    fn drop(&mut self) {
        // An execution cut short leaves nothing running: owed write-backs are retried from the database.
        for call in self.writeback_calls.drain(..) {
            call.task.abort();
        }
    }
}

impl<'a> Executor<'a> {
    fn new(inner: &'a Inner, run: Run, lease: Lease, stop: CancellationToken, halt: CancellationToken) -> Self {
        let checkpoint = Checkpoint::from_json(&run.checkpoint);
        Self {
            inner,
            fields: inner.fields.current(),
            run,
            lease,
            stop,
            halt,
            checkpoint,
            reader: None,
            org: None,
            catalogue: RunCatalogue::new(Vec::new(), Vec::new()),
            read_error: None,
            read_done: false,
            writebacks: Vec::new(),
            writeback_calls: VecDeque::new(),
            failed_writebacks: HashSet::new(),
            statuses: HashMap::new(),
            xero_calls: 0,
            zoho_calls: 0,
            echoes: 0,
            notes: Vec::new(),
            tally: Tally::default(),
        }
    }

    fn tenant(&self) -> &str {
        &self.run.tenant_id
    }

    async fn write(&mut self) -> Result<RunWrite, Halt> {
        let mut write = self.inner.store.run_write(&self.lease, self.inner.lease).await?;
        let zoho = self.zoho_calls + self.reader.as_mut().map_or(0, Reader::take_calls);
        write.calls(std::mem::take(&mut self.xero_calls), zoho);
        self.zoho_calls = 0;
        for note in self.notes.drain(..) {
            write.event(EventLevel::Warning, &note).await?;
        }
        Ok(write)
    }

    async fn execute(&mut self) -> Result<Execution, Halt> {
        if let Some(end) = self.prepare().await? {
            return Ok(end);
        }
        self.main().await
    }

    /// Checks the connections, fixes the window on the first claim, and reads the organisation's lists.
    async fn prepare(&mut self) -> Result<Option<Execution>, Halt> {
        let store = &self.inner.store;
        let xero = store.xero_connection().await?;
        let problem = match &xero {
            None => Some("Xero is not connected any more; connect it, then resume the run.".to_owned()),
            Some(c) if !c.tenant_id.eq_ignore_ascii_case(&self.run.tenant_id) => Some(
                "The connected Xero organisation is not the one this run was started for; start a new run.".to_owned(),
            ),
            Some(c) if c.status == ConnectionStatus::ReconnectNeeded => Some(format!(
                "Xero needs to be reconnected ({}); resume the run once it is.",
                c.status_reason.as_deref().unwrap_or("the connection was refused")
            )),
            Some(_) => None,
        };
        let zoho = store.zoho_connection().await?;
        let problem = problem.or_else(|| match &zoho {
            None => Some("Zoho CRM is not connected any more; connect it, then resume the run.".to_owned()),
            Some(c) if c.status == ConnectionStatus::ReconnectNeeded => Some(format!(
                "Zoho CRM needs to be reconnected ({}); resume the run once it is.",
                c.status_reason.as_deref().unwrap_or("the grant was refused")
            )),
            Some(_) => None,
        });
        if let Some(problem) = problem {
            return self.fail(&problem).await.map(Some);
        }

        let source = self.fix_window().await?;
        let reader = Reader::new(self.inner.zoho.clone(), &self.fields, source, &self.checkpoint);
        self.reader = Some(reader);

        if let Err(wait) = self.inner.budget.check(self.tenant(), LIST_READS, 0) {
            return self.pause(wait.until, &wait.reason).await.map(Some);
        }
        let xero = &self.inner.xero;
        let tenant = self.run.tenant_id.clone();
        // The lists are read once per run, fresh: the chart may have changed since the button cached it.
        xero.invalidate(&tenant);
        self.xero_calls += u64::from(LIST_READS);
        let lists = tokio::try_join!(xero.accounts(&tenant), xero.tax_rates(&tenant), xero.items(&tenant));
        let (_, _, items) = match lists {
            Ok(lists) => lists,
            Err(error) => {
                return match XeroProblem::of(error) {
                    Ok(problem) => self.xero_problem(problem).await.map(Some),
                    Err(other) => {
                        let reason =
                            format!("Xero answered the list of items unexpectedly ({})", crate::describe(&other));
                        self.error_pause(&reason).await.map(Some)
                    }
                };
            }
        };
        // The lists just read, from the client's cache, with the organisation's defaults: what the button
        // checks against too.
        let org = match Organisation::load(store, xero, &tenant).await {
            Ok(org) => org,
            Err(crate::sync::SyncError::Store(error)) => return Err(error.into()),
            Err(other) => {
                let reason = format!("the organisation's lists could not be read ({})", crate::describe(&other));
                return self.error_pause(&reason).await.map(Some);
            }
        };
        let links = store.link_states(&tenant).await?;
        self.catalogue = RunCatalogue::new(items, links);
        self.org = Some(org);
        Ok(None)
    }

    /// The run's source of products; on its first claim, fixes where it reads from and logs its start.
    async fn fix_window(&mut self) -> Result<Source, Halt> {
        let first = self.run.started_at.is_none() || self.checkpoint == Checkpoint::default();
        let fixed = self.run.window_since;
        let since = match (&self.run.window, first) {
            (RunWindow::Products(ids), _) => return self.started(first, None, Source::Ids(ids.clone())).await,
            (RunWindow::All, _) => None,
            (_, false) => fixed,
            (RunWindow::SinceLastRun, true) => {
                let lookback = TimeDelta::from_std(self.inner.tuning.lookback).unwrap_or_default();
                self.inner.store.sync_cursor(self.tenant()).await?.map(|cursor| cursor - lookback)
            }
            (RunWindow::LastDays(days), true) => Some(super::reader::since_for_days(*days, Utc::now())),
        };
        self.started(first, since, Source::Since(since)).await
    }

    async fn started(&mut self, first: bool, since: Option<DateTime<Utc>>, source: Source) -> Result<Source, Halt> {
        let message = if first {
            let from = since.map(|t| format!(", modified after {}", t.to_rfc3339())).unwrap_or_default();
            format!("Started by {}: {}{from}.", self.lease.owner, self.run.window.describe())
        } else {
            format!(
                "Resumed from its checkpoint by {} (fence {}): {} products done so far.",
                self.lease.owner, self.lease.fence, self.run.counters.read
            )
        };
        let mut write = self.write().await?;
        if first {
            write.window_since(since).await?;
        }
        write.event(EventLevel::Info, &message).await?;
        write.commit().await?;
        tracing::info!(run = self.run.id, %message);
        Ok(source)
    }

    async fn main(&mut self) -> Result<Execution, Halt> {
        let mut in_flight: VecDeque<InFlight> = VecDeque::new();
        let mut stopping: Option<Stopping> = None;
        loop {
            while stopping.is_none() && in_flight.len() < BATCHES_IN_FLIGHT && !self.read_done {
                if self.stop.is_cancelled() {
                    stopping = Some(Stopping::Shutdown);
                    break;
                }
                if self.halt.is_cancelled() {
                    abort(&mut in_flight);
                    return Err(Halt::LeaseLost);
                }
                let batch = match self.next_batch().await {
                    Ok(Some(batch)) => batch,
                    Ok(None) => {
                        self.read_done = true;
                        break;
                    }
                    Err(error) => {
                        stopping = Some(Stopping::Read(error));
                        break;
                    }
                };
                let calls = if self.run.dry_run { 0 } else { batch.calls() };
                if calls > 0 {
                    let pending = in_flight.iter().map(|f| f.calls).sum();
                    if let Err(wait) = self.inner.budget.check(self.tenant(), calls, pending) {
                        // Not sent, not committed: read again when the run resumes.
                        stopping = Some(Stopping::Budget { until: wait.until, reason: wait.reason });
                        break;
                    }
                }
                in_flight.push_back(self.dispatch(batch, calls));
            }
            let Some(flight) = in_flight.pop_front() else { break };
            let sent = match flight.task {
                Some(task) => task.await.unwrap_or_else(|error| Sent {
                    problem: Some(XeroProblem::Unavailable(format!("the batch's task failed: {error}"))),
                    ..Sent::default()
                }),
                None => Sent::default(),
            };
            if let Some(problem) = sent.problem {
                // Nothing after this batch may commit before it: the rest is read again after the pause.
                self.xero_calls += sent.calls;
                abort(&mut in_flight);
                return self.xero_problem(problem).await;
            }
            let cancel = self.commit(flight.batch, sent).await?;
            if cancel && stopping.is_none() {
                stopping = Some(Stopping::Cancel);
            }
            let zoho_refuses = matches!(stopping, Some(Stopping::Read(ZohoError::RateLimited { .. })));
            if !zoho_refuses && let Some(limited) = self.flush_writebacks(false).await? {
                stopping = Some(Stopping::Read(limited));
            }
        }
        if !matches!(stopping, Some(Stopping::Read(ZohoError::RateLimited { .. })))
            && let Some(limited) = self.flush_writebacks(true).await?
        {
            stopping = Some(Stopping::Read(limited));
        }
        match stopping {
            Some(Stopping::Shutdown) => {
                let checkpoint = self.checkpoint.to_json();
                let mut write = self.write().await?;
                write.release().await?;
                write.checkpoint(&checkpoint).await?;
                write.event(EventLevel::Info, "The service is stopping; the run goes on from its checkpoint.").await?;
                write.commit().await?;
                Ok(Execution::Released)
            }
            Some(Stopping::Cancel) => self.end(RunEnd::Cancelled).await,
            Some(Stopping::Budget { until, reason }) => self.pause(until, &reason).await,
            Some(Stopping::Read(error)) => self.zoho_problem(error).await,
            None => self.end_of_reading().await,
        }
    }

    /// Reads and decides products until 50 are to be sent (or the reading ends).
    async fn next_batch(&mut self) -> Result<Option<Batch>, ZohoError> {
        if let Some(error) = self.read_error.take() {
            return Err(error);
        }
        let mut entries = Vec::new();
        let mut upserts = 0;
        while upserts < MAX_ITEMS_PER_CALL && entries.len() < MAX_PRODUCTS_PER_BATCH {
            let Some(reader) = self.reader.as_mut() else { break };
            let read = match reader.next().await {
                Ok(Some(read)) => read,
                Ok(None) => break,
                Err(error) if entries.is_empty() => return Err(error),
                Err(error) => {
                    // What was read so far commits first; the error stops the run after it.
                    self.read_error = Some(error);
                    break;
                }
            };
            let entry = self.entry(read).await;
            if let Kind::Send(sending) = &entry.kind
                && !sending.renames_code()
            {
                upserts += 1;
            }
            entries.push(entry);
        }
        if let Some(reader) = self.reader.as_mut() {
            self.notes.append(&mut reader.unreadable);
        }
        if entries.is_empty() {
            return match self.read_error.take() {
                Some(error) => Err(error),
                None => Ok(None),
            };
        }
        self.checkpoint.batches += 1;
        Ok(Some(Batch { no: self.checkpoint.batches, entries }))
    }

    async fn entry(&mut self, read: Read) -> Entry {
        let seq = self.checkpoint.next_seq;
        self.checkpoint.next_seq += 1;
        let read_at = Utc::now();
        let record = match read.record {
            Fetched::Record(record) => record,
            Fetched::Missing(id) => {
                return Entry {
                    place: read.place,
                    seq,
                    product_id: id,
                    name: None,
                    code: None,
                    modified: None,
                    read_at,
                    record_item_id: None,
                    record_status: None,
                    kind: Kind::Settled {
                        outcome: ProductOutcome::Failed,
                        issues: Vec::new(),
                        item_id: None,
                        message: Some("The product no longer exists in the CRM.".into()),
                        status: None,
                    },
                };
            }
        };
        let fields = self.fields.clone();
        let product = CrmProduct::from_object(&record, &fields);
        let product_id = match &read.place {
            ReadPlace::Index(index) => match &self.run.window {
                RunWindow::Products(ids) => ids.get(*index).cloned().unwrap_or_default(),
                _ => product.id.text().unwrap_or_default().to_owned(),
            },
            ReadPlace::Keyset(position) => position.id.clone(),
        };
        let modified = modified_ms(&record).and_then(DateTime::from_timestamp_millis);
        let kind = match &self.org {
            Some(org) => match decide(&product_id, &product, &fields, org, &mut self.catalogue).await {
                Decision::NotForXero => settled(ProductOutcome::NotForXero, Vec::new(), None),
                Decision::Refused(issues) => settled(ProductOutcome::Refused, issues, None),
                Decision::Unchanged { item_id, issues } => {
                    let echo = self
                        .catalogue
                        .link_state(&product_id)
                        .is_some_and(|s| s.zoho_modified_time.is_some() && s.zoho_modified_time == modified);
                    self.echoes += u64::from(echo);
                    settled(ProductOutcome::Unchanged, issues, Some(item_id))
                }
                Decision::Kept { item_id, fields, issues } => {
                    let message = format!(
                        "Changed in Xero since the last sync ({}): Xero's values were kept and nothing was written; \
                         sync it from the CRM record to choose.",
                        fields.join(", ")
                    );
                    Kind::Settled {
                        outcome: ProductOutcome::Kept,
                        issues,
                        item_id: Some(item_id),
                        message: Some(message),
                        status: Some(item::kept_status(&fields)),
                    }
                }
                Decision::Send(sending) => Kind::Send(sending),
            },
            None => settled(ProductOutcome::Failed, Vec::new(), None),
        };
        Entry {
            place: read.place,
            seq,
            product_id,
            name: product.name.text().map(str::to_owned),
            code: product.code.text().map(str::to_owned),
            modified,
            read_at,
            record_item_id: product.xero_item_id.text().map(str::to_owned),
            record_status: product.sync_status.text().map(str::to_owned),
            kind,
        }
    }

    /// Sends a batch in a task of its own (nothing to send, or a dry run: nothing is spawned).
    fn dispatch(&mut self, batch: Batch, calls: u32) -> InFlight {
        if self.run.dry_run {
            let (renamed, upserts): (Vec<_>, Vec<_>) = batch.sends().partition(|(_, s)| s.renames_code());
            self.tally.upsert_calls += u64::from(!upserts.is_empty());
            self.tally.renames += renamed.len() as u64;
            return InFlight { batch, calls: 0, task: None };
        }
        if calls == 0 {
            return InFlight { batch, calls, task: None };
        }
        let mut upserts = Vec::new();
        let mut renames = Vec::new();
        for (index, sending) in batch.sends() {
            match &sending.existing {
                Some(existing) if sending.renames_code() => {
                    renames.push((index, existing.item_id.clone(), sending.payload.clone()));
                }
                _ => upserts.push((index, sending.payload.clone())),
            }
        }
        let job = SendJob {
            xero: self.inner.xero.clone(),
            fields: self.fields.clone(),
            tenant_id: self.run.tenant_id.clone(),
            key_base: format!("bulk|{}|{}|{}", self.run.id, self.lease.fence, batch.no),
        };
        let task = tokio::spawn(job.send(upserts, renames));
        InFlight { batch, calls, task: Some(task) }
    }

    /// Commits a batch: each product's outcome, links, log rows and the checkpoint, in one fenced
    /// transaction. Returns whether an admin asked the run to stop.
    async fn commit(&mut self, batch: Batch, mut sent: Sent) -> Result<bool, Halt> {
        self.xero_calls += sent.calls;
        let dry = self.run.dry_run;
        let tenant = self.run.tenant_id.clone();
        let trigger = self.run.trigger.log_trigger();
        let actor = self.run.actor.clone();
        let now = Utc::now();
        let fields = self.fields.clone();
        let mut linked: Vec<(ItemLink, Option<ItemState>)> = Vec::new();
        let mut queue: Vec<Queued> = Vec::new();
        let mut places = Vec::with_capacity(batch.entries.len());
        let mut write = self.write().await?;
        for (index, entry) in batch.entries.iter().enumerate() {
            places.push(entry.place.clone());
            let mut record = ProductRecord {
                product_id: &entry.product_id,
                seq: entry.seq,
                name: entry.name.as_deref(),
                code: entry.code.as_deref(),
                outcome: ProductOutcome::Failed,
                item_id: None,
                issues: &[],
                message: None,
                writeback: None,
                request: None,
                modified_time: entry.modified,
            };
            let log = |outcome: LogOutcome, request: Option<&Value>, item_id: Option<&str>, messages: Vec<String>| {
                (outcome, request.cloned(), item_id.map(str::to_owned), messages)
            };
            let mut to_log = None;
            let request_value;
            let accepted_id;
            let rejected_issues;
            let code_issue;
            match &entry.kind {
                Kind::Settled { outcome, issues, item_id, message, status } => {
                    record.outcome = *outcome;
                    record.issues = issues;
                    record.item_id = item_id.as_deref();
                    record.message = message.as_deref();
                    match outcome {
                        ProductOutcome::Unchanged => {
                            // Owed from an earlier run, or cleared in the CRM since: write the ItemID back.
                            let state = self.catalogue.link_state(&entry.product_id);
                            let owed = state.is_some_and(|s| s.writeback_pending)
                                || entry.record_item_id.as_deref() != item_id.as_deref();
                            if let (true, Some(state)) = (owed, state) {
                                record.writeback = Some(Writeback::Pending);
                                let synced = item::zoho_time(state.link.synced_at);
                                let status = item::success_status(WireOutcome::Unchanged, None);
                                let values = item::success_values(&fields, &state.link.item_id, &synced, &status);
                                queue.push(Queued { product_id: entry.product_id.clone(), values, link: true });
                            }
                        }
                        ProductOutcome::Kept => {
                            let messages = messages_of(issues, message.as_deref());
                            to_log = Some(log(LogOutcome::Unchanged, None, item_id.as_deref(), messages));
                            if let Some(status) = status.as_deref()
                                && entry.record_status.as_deref() != Some(status)
                            {
                                record.writeback = Some(Writeback::Pending);
                                let values = item::status_values(&fields, status);
                                queue.push(Queued { product_id: entry.product_id.clone(), values, link: false });
                            }
                        }
                        ProductOutcome::Refused | ProductOutcome::Failed => {
                            let messages = messages_of(issues, message.as_deref());
                            to_log = Some(log(log_outcome(*outcome), None, None, messages.clone()));
                            if let Some(values) = status_writeback(&fields, entry, &messages) {
                                record.writeback = Some(Writeback::Pending);
                                queue.push(Queued { product_id: entry.product_id.clone(), values, link: false });
                            }
                        }
                        _ => {}
                    }
                }
                Kind::Send(sending) => {
                    request_value = json!(sending.payload);
                    record.request = Some(&request_value);
                    record.issues = &sending.issues;
                    let element = if dry {
                        Element::Accepted {
                            item_id: sending.existing.as_ref().map(|e| e.item_id.clone()).unwrap_or_default(),
                            state: None,
                        }
                    } else {
                        sent.elements.remove(&index).unwrap_or(Element::Missing)
                    };
                    let outcome =
                        if sending.existing.is_some() { ProductOutcome::Updated } else { ProductOutcome::Created };
                    match element {
                        Element::Accepted { item_id, .. } if dry => {
                            record.outcome = outcome;
                            if !item_id.is_empty() {
                                record.item_id = Some(sending.existing.as_ref().map_or("", |e| e.item_id.as_str()));
                            }
                            self.tally.link_writebacks += 1;
                        }
                        Element::Accepted { item_id, state } => {
                            accepted_id = item_id.clone();
                            let link = ItemLink {
                                product_id: entry.product_id.clone(),
                                tenant_id: tenant.clone(),
                                item_id: item_id.clone(),
                                code: sending.payload.code.clone(),
                                payload_hash: sending.hash.clone(),
                                synced_at: now,
                            };
                            match write.link(&link, state.as_ref()).await {
                                Ok(()) => {
                                    record.outcome = outcome;
                                    record.item_id = Some(&accepted_id);
                                    record.writeback = Some(Writeback::Pending);
                                    let status = item::success_status(wire_outcome(outcome), sending.note.as_deref());
                                    let values =
                                        item::success_values(&fields, &item_id, &item::zoho_time(now), &status);
                                    self.statuses.insert(entry.product_id.clone(), status);
                                    queue.push(Queued { product_id: entry.product_id.clone(), values, link: true });
                                    let note = sending.note.as_deref().map(item::note_sentence);
                                    to_log = Some(log(
                                        log_outcome(outcome),
                                        Some(&request_value),
                                        Some(&item_id),
                                        messages_of(&sending.issues, note.as_deref()),
                                    ));
                                    linked.push((link, state));
                                }
                                Err(StoreError::ItemLinkedElsewhere { product_id: owner, .. }) => {
                                    let owner = format!("{} (CRM product {owner})", sending.payload.code);
                                    code_issue = vec![item::code_in_use(&owner, None)];
                                    record.outcome = ProductOutcome::Failed;
                                    record.issues = &code_issue;
                                    let messages = messages_of(&code_issue, None);
                                    to_log = Some(log(LogOutcome::Failed, Some(&request_value), None, messages));
                                }
                                Err(other) => return Err(other.into()),
                            }
                        }
                        Element::Rejected { issues, chart_changed } => {
                            if chart_changed {
                                // The chart changed in Xero since the run read it: the next run reads it afresh.
                                self.inner.xero.invalidate(&tenant);
                            }
                            rejected_issues = issues;
                            record.outcome = ProductOutcome::Failed;
                            record.issues = &rejected_issues;
                            let messages = messages_of(&rejected_issues, None);
                            if let Some(values) = status_writeback(&fields, entry, &messages) {
                                record.writeback = Some(Writeback::Pending);
                                queue.push(Queued { product_id: entry.product_id.clone(), values, link: false });
                            }
                            to_log = Some(log(LogOutcome::Failed, Some(&request_value), None, messages));
                        }
                        Element::Missing => {
                            record.outcome = ProductOutcome::Failed;
                            record.message = Some(
                                "Xero's answer had no result for this product; it may be in Xero already, and the \
                                 next run matches it by its code.",
                            );
                            if let Some(ms) = entry.modified.map(|t| t.timestamp_millis()) {
                                self.checkpoint.hold_back = Some(self.checkpoint.hold_back.map_or(ms, |h| h.min(ms)));
                            }
                            let messages = messages_of(&[], record.message);
                            to_log = Some(log(LogOutcome::Failed, Some(&request_value), None, messages));
                        }
                    }
                }
            }
            if dry {
                if record.writeback.take().is_some() {
                    self.tally.status_writebacks += u64::from(!matches!(record.outcome, ProductOutcome::Unchanged));
                    self.tally.link_writebacks += u64::from(matches!(record.outcome, ProductOutcome::Unchanged));
                }
                write.product(&record).await?;
                continue;
            }
            write.product(&record).await?;
            if let Some((outcome, request, item_id, messages)) = to_log {
                write
                    .log_sync(&BulkLogEntry {
                        product_id: &entry.product_id,
                        product_name: entry.name.as_deref(),
                        product_code: entry.code.as_deref(),
                        tenant_id: &tenant,
                        actor: &actor,
                        trigger,
                        started_at: entry.read_at,
                        request: request.as_ref(),
                        response: sent.responses.get(&index),
                        outcome,
                        item_id: item_id.as_deref(),
                        messages: &messages,
                    })
                    .await?;
            }
        }
        self.checkpoint.advance(&places);
        self.checkpoint.error_pauses = 0;
        write.checkpoint(&self.checkpoint.to_json()).await?;
        let cancel = write.cancel_requested;
        write.commit().await?;
        for (link, state) in linked {
            self.catalogue.linked(&link, state);
        }
        if !dry {
            self.writebacks.append(&mut queue);
        }
        self.inner.progress.notify_waiters();
        Ok(cancel)
    }

    /// Writes back to the CRM, 100 records a call, two calls at a time while the run goes on: every call's
    /// worth that is queued, or (`all`) everything, waiting for it. When Zoho refuses more calls (its
    /// credits are spent), stops and returns that refusal: the run pauses, and the links' write-backs stay
    /// owed (retried when it resumes).
    async fn flush_writebacks(&mut self, all: bool) -> Result<Option<ZohoError>, Halt> {
        loop {
            if self.halt.is_cancelled() {
                return Err(Halt::LeaseLost);
            }
            while self.writeback_calls.len() < WRITEBACKS_IN_FLIGHT
                && (self.writebacks.len() >= MAX_UPDATE_RECORDS || (all && !self.writebacks.is_empty()))
            {
                let take = self.writebacks.len().min(MAX_UPDATE_RECORDS);
                let chunk: Vec<Queued> = self.writebacks.drain(..take).collect();
                let records = chunk.iter().map(|q| (q.product_id.clone(), q.values.clone())).collect();
                let zoho = self.inner.zoho.clone();
                self.zoho_calls += 1;
                let task = tokio::spawn(async move { zoho.update_products(records).await });
                self.writeback_calls.push_back(WritebackCall { chunk, task });
            }
            let Some(call) = self.writeback_calls.front() else { return Ok(None) };
            if !all && !call.task.is_finished() {
                return Ok(None);
            }
            let Some(WritebackCall { chunk, task }) = self.writeback_calls.pop_front() else { return Ok(None) };
            let answer = task.await.unwrap_or_else(|error| Err(ZohoError::Unavailable(error.to_string())));
            if let Err(limited @ ZohoError::RateLimited { .. }) = answer {
                self.writebacks.clear();
                for call in self.writeback_calls.drain(..) {
                    call.task.abort();
                }
                return Ok(Some(limited));
            }
            self.apply_writebacks(&chunk, answer).await?;
        }
    }

    /// Records what Zoho answered to one write-back call.
    async fn apply_writebacks(
        &mut self,
        chunk: &[Queued],
        answer: Result<Vec<Result<UpdateOutcome, ZohoError>>, ZohoError>,
    ) -> Result<(), Halt> {
        let tenant = self.run.tenant_id.clone();
        let mut done = Vec::new();
        let mut failed = Vec::new();
        match answer {
            Ok(results) => {
                for (queued, result) in chunk.iter().zip(results) {
                    match result {
                        Ok(UpdateOutcome::Updated { modified_time }) => done.push((queued, modified_time.to_utc())),
                        Ok(UpdateOutcome::Conflict) => {
                            failed.push((queued, "the CRM record changed meanwhile".to_owned()));
                        }
                        Err(error) => failed.push((queued, crate::describe(&error))),
                    }
                }
            }
            Err(error) => {
                let reason = crate::describe(&error);
                self.notes.push(format!(
                    "Writing back to {} CRM records failed ({reason}); the links are kept, and the write-backs are \
                     retried at the end of the run and by the next run.",
                    chunk.len()
                ));
                failed.extend(chunk.iter().map(|q| (q, reason.clone())));
            }
        }
        for (_, modified) in &done {
            let ms = modified.timestamp_millis();
            self.checkpoint.stop_at = Some(self.checkpoint.stop_at.map_or(ms, |s| s.min(ms)));
            if let Some(reader) = self.reader.as_mut() {
                reader.stop_at(ms);
            }
        }
        let checkpoint = self.checkpoint.to_json();
        let mut write = self.write().await?;
        for (queued, modified) in &done {
            if queued.link {
                write.writeback_done(&tenant, &queued.product_id, *modified).await?;
            } else {
                write.product_writeback(&queued.product_id, Writeback::Done, None).await?;
            }
        }
        for (queued, reason) in &failed {
            write.product_writeback(&queued.product_id, Writeback::Failed, Some(reason)).await?;
        }
        write.checkpoint(&checkpoint).await?;
        write.commit().await?;
        for (queued, _) in &done {
            self.failed_writebacks.remove(&queued.product_id);
            if queued.link {
                self.catalogue.written_back(&queued.product_id);
            }
        }
        for (queued, _) in failed {
            if queued.link {
                self.failed_writebacks.insert(queued.product_id.clone());
            }
        }
        Ok(())
    }

    /// Tries once more every write-back still owed for the organisation (this run's and earlier runs').
    async fn retry_writebacks(&mut self) -> Result<Option<ZohoError>, Halt> {
        let owed = self.inner.store.pending_writebacks(self.tenant(), 100_000).await?;
        if owed.is_empty() {
            return Ok(None);
        }
        let fields = self.fields.clone();
        for state in owed {
            let status = match self.statuses.get(&state.link.product_id) {
                Some(status) => status.clone(),
                None => item::success_status(WireOutcome::Unchanged, None),
            };
            let synced = item::zoho_time(state.link.synced_at);
            let values = item::success_values(&fields, &state.link.item_id, &synced, &status);
            self.writebacks.push(Queued { product_id: state.link.product_id, values, link: true });
        }
        self.flush_writebacks(true).await
    }

    /// The reading is done: last write-backs, the cursor, the end state.
    async fn end_of_reading(&mut self) -> Result<Execution, Halt> {
        self.checkpoint.read_done = true;
        if !self.run.dry_run
            && let Some(limited) = self.retry_writebacks().await?
        {
            // Resumed, the run only writes back what is owed, then ends.
            return self.zoho_problem(limited).await;
        }
        let counters = self.inner.store.run(self.run.id).await?.map(|r| r.counters).unwrap_or_default();
        let failed = counters.refused + counters.failed + self.failed_writebacks.len() as u64;
        self.end(if failed > 0 { RunEnd::Partial } else { RunEnd::Succeeded }).await
    }

    async fn end(&mut self, end: RunEnd) -> Result<Execution, Halt> {
        let cursor = match end {
            RunEnd::Succeeded | RunEnd::Partial => self.cursor().await?,
            RunEnd::Failed | RunEnd::Cancelled => None,
        };
        let estimate = self.run.dry_run.then(|| self.estimate());
        let echoes = self.echoes;
        let owed = self.failed_writebacks.len();
        let checkpoint = self.checkpoint.to_json();
        let tenant = self.run.tenant_id.clone();
        let mut write = self.write().await?;
        write.checkpoint(&checkpoint).await?;
        if let Some(until) = cursor {
            write.advance_cursor(&tenant, until).await?;
        }
        if let Some(estimate) = &estimate {
            write.estimate(estimate).await?;
        }
        write.commit().await?;
        let run = self.inner.store.run(self.run.id).await?;
        let counters = run.as_ref().map(|r| r.counters).unwrap_or_default();
        let mut summary = format!(
            "{} read: {} created, {} updated, {} unchanged, {} not for Xero, {} refused, {} failed; {} Xero calls, {} Zoho calls.",
            counters.read,
            counters.created,
            counters.updated,
            counters.unchanged,
            counters.not_for_xero,
            counters.refused,
            counters.failed,
            counters.xero_calls,
            counters.zoho_calls
        );
        if self.run.dry_run {
            summary = format!("Dry run, nothing written. Would have: {summary}");
        }
        if echoes > 0 {
            summary.push_str(&format!(" {echoes} of the unchanged were our own write-backs read back."));
        }
        if owed > 0 {
            summary.push_str(&format!(
                " {owed} write-backs to the CRM failed; the links are kept and the next run retries them."
            ));
        }
        let (state, message) = match end {
            RunEnd::Succeeded => (RunState::Succeeded, None),
            RunEnd::Partial => (RunState::Partial, Some(partial_message(counters.refused, counters.failed, owed))),
            RunEnd::Failed => (RunState::Failed, None),
            RunEnd::Cancelled => (RunState::Cancelled, Some("cancelled: stopped after the batches in flight".into())),
        };
        let mut write = self.write().await?;
        write.event(EventLevel::Info, &summary).await?;
        write.finish(end, message.as_deref()).await?;
        write.commit().await?;
        tracing::info!(run = self.run.id, state = state.as_str(), %summary, "sync run finished");
        Ok(Execution::Finished(state))
    }

    /// Where the organisation's cursor moves: the latest `Modified_Time` read (products changed after it,
    /// our own write-backs included, are the next run's), held back before a product to retry. Only a run
    /// whose window joins the cursor moves it: "last N days" from after it would leave a gap.
    async fn cursor(&self) -> Result<Option<DateTime<Utc>>, Halt> {
        if self.run.dry_run {
            return Ok(None);
        }
        match &self.run.window {
            RunWindow::Products(_) => return Ok(None),
            RunWindow::LastDays(_) => {
                let cursor = self.inner.store.sync_cursor(self.tenant()).await?;
                let joins = match (cursor, self.run.window_since) {
                    (Some(cursor), Some(since)) => since <= cursor,
                    _ => false,
                };
                if !joins {
                    return Ok(None);
                }
            }
            RunWindow::All | RunWindow::SinceLastRun => {}
        }
        let Some(mut until) = self.checkpoint.max_seen else { return Ok(None) };
        if let Some(hold) = self.checkpoint.hold_back {
            until = until.min(hold - 1);
        }
        Ok(DateTime::from_timestamp_millis(until))
    }

    /// A dry run's estimate: the calls the run would spend and how long it would take at Xero's limits.
    fn estimate(&self) -> Value {
        let tenant = self.tenant();
        let writes = self.tally.upsert_calls + self.tally.renames;
        let reads = u64::from(LIST_READS);
        let zoho_writes =
            self.tally.link_writebacks.div_ceil(MAX_UPDATE_RECORDS as u64) + self.tally.status_writebacks.div_ceil(100);
        let left = self.inner.budget.remaining(tenant);
        let reserve = self.inner.budget.reserve();
        let usable = left.map(|l| u64::from(l.saturating_sub(reserve)));
        let pauses = usable.is_some_and(|u| writes > u);
        // 60 calls a minute per organisation: the bound a run paces itself to.
        let minutes = writes.div_ceil(60).max(1);
        let resumes_at = pauses.then(|| self.inner.budget.reset_at(tenant).to_rfc3339());
        json!({
            "xero_reads": reads,
            "xero_writes": writes,
            "xero_calls": reads + writes,
            "zoho_reads": self.run.counters.zoho_calls,
            "zoho_writes": zoho_writes,
            "xero_calls_left_today": left,
            "xero_reserve": reserve,
            "minutes": minutes,
            "pauses_for_daily_reserve": pauses,
            "resumes_at": resumes_at,
            "summary": format!(
                "about {} Xero calls ({reads} reads, {writes} writes) and {zoho_writes} Zoho write-backs; about {minutes} \
                 minute{} at Xero's 60 calls a minute{}",
                reads + writes,
                if minutes == 1 { "" } else { "s" },
                if pauses { ", with a pause until Xero's daily limit resets" } else { "" }
            ),
        })
    }

    async fn pause(&mut self, until: DateTime<Utc>, reason: &str) -> Result<Execution, Halt> {
        // Never a pause that is over at once: that would be taken up again in a loop.
        let until = until.max(Utc::now() + TimeDelta::milliseconds(100));
        let checkpoint = self.checkpoint.to_json();
        let mut write = self.write().await?;
        write.checkpoint(&checkpoint).await?;
        write.pause(reason, until).await?;
        write.event(EventLevel::Warning, &format!("Paused: {reason}")).await?;
        write.commit().await?;
        tracing::warn!(run = self.run.id, %reason, %until, "sync run paused");
        Ok(Execution::Paused { until, reason: reason.to_owned() })
    }

    async fn fail(&mut self, reason: &str) -> Result<Execution, Halt> {
        let checkpoint = self.checkpoint.to_json();
        let mut write = self.write().await?;
        write.checkpoint(&checkpoint).await?;
        write.event(EventLevel::Error, reason).await?;
        write.finish(RunEnd::Failed, Some(reason)).await?;
        write.commit().await?;
        tracing::warn!(run = self.run.id, %reason, "sync run failed");
        Ok(Execution::Finished(RunState::Failed))
    }

    /// Pauses after a service did not answer, longer each time in a row; fails after too many.
    async fn error_pause(&mut self, reason: &str) -> Result<Execution, Halt> {
        self.checkpoint.error_pauses += 1;
        let tries = self.checkpoint.error_pauses;
        if tries > MAX_ERROR_PAUSES {
            let reason = format!("{reason}. Gave up after {MAX_ERROR_PAUSES} tries; resume the run to try again.");
            return self.fail(&reason).await;
        }
        let wait = self.inner.tuning.error_backoff.saturating_mul(1 << (tries - 1).min(16)).min(MAX_ERROR_WAIT);
        let until = Utc::now() + TimeDelta::from_std(wait).unwrap_or(TimeDelta::hours(1));
        let reason = format!("{reason}; resumes at {} (try {tries} of {MAX_ERROR_PAUSES})", local_time(until));
        self.pause(until, &reason).await
    }

    async fn xero_problem(&mut self, problem: XeroProblem) -> Result<Execution, Halt> {
        match problem {
            XeroProblem::RateLimited { retry_after, problem } => {
                let wait = retry_after.unwrap_or(self.inner.tuning.error_backoff);
                let until = Utc::now() + TimeDelta::from_std(wait).unwrap_or(TimeDelta::hours(1));
                let reason = format!(
                    "Xero's {problem} rate limit was reached; resumes at {} when Xero allows calls again",
                    local_time(until)
                );
                self.pause(until, &reason).await
            }
            XeroProblem::Unavailable(reason) => self.error_pause(&format!("Xero is not answering ({reason})")).await,
            XeroProblem::Reconnect(reason) => {
                self.fail(&format!("Xero needs to be reconnected ({reason}); resume the run once it is.")).await
            }
            XeroProblem::TenantForbidden => {
                self.fail(
                    "Xero refused access to this run's organisation (it is disconnected, or unknown to Xero); \
                     reconnect Xero, then resume the run.",
                )
                .await
            }
        }
    }

    async fn zoho_problem(&mut self, error: ZohoError) -> Result<Execution, Halt> {
        match error {
            ZohoError::ReconnectNeeded(reason) => {
                self.fail(&format!("Zoho CRM needs to be reconnected ({reason}); resume the run once it is.")).await
            }
            ZohoError::RateLimited { retry_after } => {
                let wait = retry_after.unwrap_or(self.inner.tuning.zoho_credit_wait);
                let until = Utc::now() + TimeDelta::from_std(wait).unwrap_or(TimeDelta::hours(1));
                let reason = format!(
                    "Zoho CRM refused more calls (its API credits for the day are spent, or too many calls at once); \
                     resumes at {}",
                    local_time(until)
                );
                self.pause(until, &reason).await
            }
            ZohoError::Unavailable(reason) => {
                self.error_pause(&format!("Zoho CRM is not answering while reading products ({reason})")).await
            }
            other => {
                let reason = format!("Zoho CRM answered a page of products unexpectedly ({})", crate::describe(&other));
                self.error_pause(&reason).await
            }
        }
    }
}

fn abort(in_flight: &mut VecDeque<InFlight>) {
    for flight in in_flight.drain(..) {
        if let Some(task) = flight.task {
            task.abort();
        }
    }
}

fn settled(outcome: ProductOutcome, issues: Vec<Issue>, item_id: Option<String>) -> Kind {
    Kind::Settled { outcome, issues, item_id, message: None, status: None }
}

fn messages_of(issues: &[Issue], message: Option<&str>) -> Vec<String> {
    let mut messages: Vec<String> = issues.iter().filter(|i| i.is_error()).map(|i| i.message.clone()).collect();
    messages.extend(message.map(str::to_owned));
    messages
}

fn log_outcome(outcome: ProductOutcome) -> LogOutcome {
    match outcome {
        ProductOutcome::Created => LogOutcome::Created,
        ProductOutcome::Updated => LogOutcome::Updated,
        ProductOutcome::Unchanged | ProductOutcome::Kept | ProductOutcome::NotForXero => LogOutcome::Unchanged,
        ProductOutcome::Refused => LogOutcome::Refused,
        ProductOutcome::Failed => LogOutcome::Failed,
    }
}

fn wire_outcome(outcome: ProductOutcome) -> WireOutcome {
    match outcome {
        ProductOutcome::Created => WireOutcome::Created,
        ProductOutcome::Updated => WireOutcome::Updated,
        _ => WireOutcome::Unchanged,
    }
}

/// The status a refused or failed product's CRM record should show, unless it shows it already (writing it
/// again would only echo the product into the next run).
fn status_writeback(fields: &shared::FieldMap, entry: &Entry, messages: &[String]) -> Option<Map<String, Value>> {
    let status = item::failure_status(messages);
    (entry.record_status.as_deref() != Some(status.as_str())).then(|| item::status_values(fields, &status))
}

fn partial_message(refused: u64, failed: u64, owed: usize) -> String {
    let mut parts = Vec::new();
    if refused > 0 {
        parts.push(format!("{refused} refused by the rules"));
    }
    if failed > 0 {
        parts.push(format!("{failed} failed"));
    }
    if owed > 0 {
        parts.push(format!("{owed} not written back to the CRM yet"));
    }
    format!("finished with {}", parts.join(", "))
}

/// One batch's calls to Xero, in a task of its own.
struct SendJob {
    xero: XeroClient,
    fields: Arc<shared::FieldMap>,
    tenant_id: String,
    key_base: String,
}

impl SendJob {
    /// One Idempotency-Key per attempt of a batch: retries inside the client reuse it (Xero replays what it
    /// did), a new attempt gets a new one. Resending is safe either way: Xero matches items by code.
    fn key(&self, attempt: u32, payloads: &[ItemPayload]) -> String {
        use sha2::{Digest, Sha256};
        let mut hasher = Sha256::new();
        hasher.update(format!("{}|{attempt}|", self.key_base).as_bytes());
        for payload in payloads {
            hasher.update(payload.content_hash().as_bytes());
            hasher.update(payload.item_id.as_deref().unwrap_or("new").as_bytes());
        }
        let hex: String = hasher.finalize().iter().map(|b| format!("{b:02x}")).collect();
        format!("xero-sync-bulk-{hex}")
    }

    async fn send(self, upserts: Vec<(usize, ItemPayload)>, renames: Vec<(usize, String, ItemPayload)>) -> Sent {
        let mut sent = Sent::default();
        let mut pending = upserts;
        let mut unavailable = None;
        for attempt in 0..BATCH_ATTEMPTS {
            if pending.is_empty() {
                break;
            }
            if unavailable.is_some() {
                tokio::time::sleep(BATCH_RETRY_DELAY * 2_u32.pow(attempt.saturating_sub(1))).await;
            }
            let payloads: Vec<ItemPayload> = pending.iter().map(|(_, p)| p.clone()).collect();
            let key = self.key(attempt, &payloads);
            sent.calls += 1;
            match self.xero.upsert_items(&self.tenant_id, &payloads, &key).await {
                Ok(results) => {
                    unavailable = None;
                    let mut missing = Vec::new();
                    for (index, (entry, payload)) in pending.into_iter().enumerate() {
                        sent.responses.insert(entry, element_answer(results.get(index)));
                        match item::element(results.get(index), &self.fields) {
                            // Sent again in the next attempt: Xero matches it by code if it saved it.
                            Element::Missing => missing.push((entry, payload)),
                            element => {
                                sent.elements.insert(entry, element);
                            }
                        }
                    }
                    pending = missing;
                }
                Err(error) => match XeroProblem::of(error) {
                    Ok(XeroProblem::Unavailable(reason)) => unavailable = Some(reason),
                    Ok(problem) => {
                        sent.problem = Some(problem);
                        return sent;
                    }
                    Err(error) => {
                        let answer = error_answer(&error);
                        let messages = match error {
                            XeroError::Validation(messages) => messages,
                            other => vec![crate::describe(&other)],
                        };
                        let issues = crate::sync::issues_from_xero(&messages, &self.fields);
                        for (entry, _) in pending.drain(..) {
                            sent.responses.insert(entry, answer.clone());
                            sent.elements
                                .insert(entry, Element::Rejected { issues: issues.clone(), chart_changed: false });
                        }
                    }
                },
            }
        }
        if let Some(reason) = unavailable.filter(|_| !pending.is_empty()) {
            sent.problem = Some(XeroProblem::Unavailable(reason));
            return sent;
        }
        for (entry, _) in pending {
            sent.elements.insert(entry, Element::Missing);
        }
        for (entry, item_id, payload) in renames {
            let mut last = None;
            for attempt in 0..BATCH_ATTEMPTS {
                let key = self.key(attempt, std::slice::from_ref(&payload));
                sent.calls += 1;
                match self.xero.update_item(&self.tenant_id, &item_id, &payload, &key).await {
                    Ok(result) => {
                        sent.responses.insert(entry, element_answer(Some(&result)));
                        last = Some(item::element(Some(&result), &self.fields));
                        break;
                    }
                    Err(error) => match XeroProblem::of(error) {
                        Ok(XeroProblem::Unavailable(_)) if attempt + 1 < BATCH_ATTEMPTS => {
                            tokio::time::sleep(BATCH_RETRY_DELAY * 2_u32.pow(attempt)).await;
                        }
                        Ok(problem) => {
                            sent.problem = Some(problem);
                            return sent;
                        }
                        Err(other) => {
                            sent.responses.insert(entry, error_answer(&other));
                            let issues = crate::sync::issues_from_xero(&[crate::describe(&other)], &self.fields);
                            last = Some(Element::Rejected { issues, chart_changed: false });
                            break;
                        }
                    },
                }
            }
            sent.elements.insert(entry, last.unwrap_or(Element::Missing));
        }
        sent
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_partial_run_says_what_is_left() {
        assert_eq!(partial_message(3, 0, 0), "finished with 3 refused by the rules");
        assert_eq!(partial_message(0, 2, 5), "finished with 2 failed, 5 not written back to the CRM yet");
    }
}
