//! The sync engine: one CRM product to one Xero item, safe to repeat and to retry after a crash at any
//! point.
//!
//! It never trusts what a browser sends: it re-reads the record from Zoho by id, validates it with the
//! shared rules against the organisation's live accounts and tax rates, and finds the item to update by
//! the stored link, then the ItemID written back to the CRM, then the Code (ignoring case) among Xero's
//! items. Only when all three find nothing is an item created, and Xero's own Code uniqueness backs that
//! up, so a retry after a crash between "Xero saved it" and "we stored the link" updates, never duplicates.
//!
//! Before writing it knows what only the server can (the preview's [`SyncPlan`]): whether it creates,
//! updates or leaves the item, a code another product's item already holds (with a free one to use), and
//! the fields someone changed in Xero since our last sync (`xero_edits`), which the user may keep.
//!
//! - `item`: matching a product to its item, reading Xero's answer and the CRM write-back: what the
//!   button and the bulk runs ([`crate::runs`]) share.
//! - `organisation`: the lists and defaults products are checked against, one home for every caller.
//! - `write`: putting the payload in Xero, with a stale link or a write-time 5xx recovered from.
//! - `xero_edits`: edits made in Xero since our last write.
//! - `xero_messages`: Xero's validation messages on the CRM fields they concern.

pub(crate) mod item;
mod organisation;
mod write;
pub(crate) mod xero_edits;
mod xero_messages;

use std::sync::Arc;
use std::time::Duration;

use chrono::{SecondsFormat, Utc};
use serde_json::json;
use shared::wire::{HistoryEntry, MatchedItem, PickLists, SyncOutcome, SyncPlan, SyncResponse, XeroEdit, XeroEdits};
use shared::{CrmProduct, FieldMap, Issue, IssueCode, ItemPayload, Resolved, fields, suggest_code};
use tokio::sync::OnceCell;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use crate::field_names::FieldNames;
use crate::store::{
    ConnectionStatus, ItemLink, ItemState, Store, StoreError, SyncOutcome as LogOutcome, SyncTrigger, XeroConnection,
};
use crate::xero::{ElementStatus, ItemResult, XeroClient, XeroError, XeroItem};
use crate::zoho::{ZohoClient, ZohoError};

use item::{Catalogue, Existing, Match, code_in_use, item_label};
pub(crate) use organisation::{Organisation, resolution_note};
use xero_edits::Names;
pub(crate) use xero_messages::issues_from_xero;

/// No sync runs longer: one that would is stopped (and can be retried), so a row still `running` well
/// after this was left by a process that died.
const SYNC_TIME_LIMIT: Duration = Duration::from_secs(30 * 60);
/// At start-up, `running` rows older than this are marked interrupted; younger ones may belong to another
/// live process sharing the database.
pub(crate) const STALE_RUN_AGE: Duration = Duration::from_secs(60 * 60);
/// What a sync cut short says, in the log and to the widget.
pub(crate) const INTERRUPTED: &str = "The service stopped before this sync finished; syncing again is safe.";

/// Why a sync or preview did not happen. Each variant tells the user what to do.
#[derive(Debug, thiserror::Error)]
pub(crate) enum SyncError {
    #[error("Xero is not connected yet: your xero-sync admin connects it on the admin pages")]
    XeroNotConnected,
    #[error("Xero must be reconnected by your xero-sync admin ({0})")]
    ReconnectNeeded(String),
    #[error("Zoho CRM must be reconnected by your xero-sync admin ({0})")]
    ZohoReconnectNeeded(String),
    #[error("the product {0} does not exist in the CRM")]
    ProductNotFound(String),
    #[error("the product cannot be synced yet")]
    Refused(Vec<Issue>),
    #[error("Xero refused the item")]
    XeroRejected(Vec<Issue>),
    #[error("{service}'s {limit} is reached; try again {}", try_again(*.retry_after))]
    RateLimited { service: &'static str, limit: &'static str, retry_after: Option<u64> },
    #[error("{service} is not answering; the sync can safely be retried")]
    Unavailable { service: &'static str, detail: String },
    #[error("storage failed")]
    Store(#[from] StoreError),
    #[error("unexpected answer from {service}: {detail}")]
    Unexpected { service: &'static str, detail: String },
    #[error("unexpected answer from Xero")]
    Xero(#[source] XeroError),
    #[error("unexpected answer from Zoho CRM")]
    Zoho(#[source] ZohoError),
    /// The service shut down before the sync finished.
    #[error("{INTERRUPTED}")]
    Interrupted,
    /// The sync outlasted [`SYNC_TIME_LIMIT`] (Xero or Zoho kept it waiting) and was stopped.
    #[error("the sync took longer than 30 minutes and was stopped; syncing again is safe")]
    TooSlow,
}

impl From<XeroError> for SyncError {
    fn from(error: XeroError) -> Self {
        match error {
            XeroError::ReconnectNeeded(reason) => SyncError::ReconnectNeeded(reason),
            XeroError::TenantForbidden => {
                SyncError::ReconnectNeeded("Xero refused access to the connected organisation".into())
            }
            ref limited @ XeroError::RateLimited { retry_after, .. } => SyncError::RateLimited {
                service: "Xero",
                limit: if limited.is_daily_limit() { "daily call limit" } else { "rate limit" },
                retry_after: retry_after.map(|d| d.as_secs()),
            },
            XeroError::Unavailable(detail) => SyncError::Unavailable { service: "Xero", detail },
            error @ XeroError::ServerError { .. } => {
                SyncError::Unavailable { service: "Xero", detail: error.to_string() }
            }
            XeroError::Validation(messages) => SyncError::XeroRejected(
                messages.iter().map(|m| Issue::error("", shared::IssueCode::XeroRejected, m.clone())).collect(),
            ),
            other => SyncError::Xero(other),
        }
    }
}

impl From<ZohoError> for SyncError {
    fn from(error: ZohoError) -> Self {
        match error {
            ZohoError::ReconnectNeeded(reason) => SyncError::ZohoReconnectNeeded(reason),
            ZohoError::RateLimited { retry_after } => SyncError::RateLimited {
                service: "Zoho CRM",
                // Without a wait, Zoho refused for its API limits: the organisation's credits, which come back
                // 24 hours after they were spent, or too many calls at once (the client caps its own).
                limit: if retry_after.is_some() { "rate limit" } else { "API limit (credits per 24 hours)" },
                retry_after: retry_after.map(|d| d.as_secs()),
            },
            ZohoError::Unavailable(detail) => SyncError::Unavailable { service: "Zoho CRM", detail },
            other => SyncError::Zoho(other),
        }
    }
}

/// When to try again, in words, for a wait of `seconds` (unknown: later).
fn try_again(seconds: Option<u64>) -> String {
    match seconds {
        None => "later".to_owned(),
        Some(s) if s <= 90 => "in a moment".to_owned(),
        Some(s) if s < 2 * 3600 => format!("in about {} minutes", s.div_ceil(60)),
        Some(s) => format!("in about {} hours", s.div_ceil(3600)),
    }
}

/// Who asked for a sync, for the log.
#[derive(Debug, Clone)]
pub(crate) struct Actor {
    pub(crate) name: String,
    pub(crate) trigger: SyncTrigger,
}

/// A dry run's result.
#[derive(Debug, Clone)]
pub(crate) struct Preview {
    pub(crate) issues: Vec<Issue>,
    pub(crate) payload: Option<ItemPayload>,
    pub(crate) plan: SyncPlan,
}

/// Syncs products; cheap to clone. Each sync runs as a task of its own, so a caller that goes away (a closed
/// browser) does not cut it short, and a shutdown can wait for it ([`Engine::drain`]).
#[derive(Clone)]
pub(crate) struct Engine {
    inner: Arc<Inner>,
}

struct Inner {
    store: Store,
    xero: XeroClient,
    zoho: ZohoClient,
    fields: FieldNames,
    tasks: TaskTracker,
    /// Cancelled when a shutdown stops waiting: the syncs still running end as interrupted.
    stop: CancellationToken,
}

/// What the engine knows before writing: the product, the checks, the item it maps to, if any, and what
/// changed in Xero since our last sync.
struct Plan {
    /// The CRM field names this sync uses from its read to its write-back.
    fields: Arc<FieldMap>,
    product: CrmProduct,
    issues: Vec<Issue>,
    /// What a sync sends, when nothing blocks.
    payload: Option<ItemPayload>,
    resolved: Option<Resolved>,
    tenant_id: String,
    existing: Option<Existing>,
    /// A code free in Xero, when the product's is another product's item's.
    suggested_code: Option<String>,
    xero_edits: Vec<XeroEdit>,
}

impl Plan {
    /// What a sync now would do, for the preview.
    fn summary(&self) -> SyncPlan {
        let outcome = match (&self.existing, &self.payload) {
            (None, _) => SyncOutcome::Created,
            (Some(existing), Some(payload))
                if self.xero_edits.is_empty() && existing.unchanged(&payload.content_hash()) =>
            {
                SyncOutcome::Unchanged
            }
            (Some(_), _) => SyncOutcome::Updated,
        };
        SyncPlan {
            outcome,
            item: self.existing.as_ref().map(|e| MatchedItem {
                item_id: e.item_id.clone(),
                code: e.code.clone(),
                last_synced: e.synced_at.map(|t| t.to_rfc3339_opts(SecondsFormat::Secs, true)),
            }),
            suggested_code: self.suggested_code.clone(),
            xero_edits: self.xero_edits.clone(),
        }
    }
}

impl Engine {
    pub(crate) fn new(store: Store, xero: XeroClient, zoho: ZohoClient, fields: FieldNames) -> Self {
        let (tasks, stop) = (TaskTracker::new(), CancellationToken::new());
        Self { inner: Arc::new(Inner { store, xero, zoho, fields, tasks, stop }) }
    }

    /// Shutdown: lets the running syncs finish for up to `grace`, then cuts the rest short; each logs
    /// itself as interrupted. Returns how many were cut short.
    pub(crate) async fn drain(&self, grace: Duration) -> usize {
        let tasks = &self.inner.tasks;
        tasks.close();
        if tokio::time::timeout(grace, tasks.wait()).await.is_ok() {
            return 0;
        }
        let cut = tasks.len();
        tracing::warn!(syncs = cut, ?grace, "syncs still running at shutdown; stopping them as interrupted");
        self.inner.stop.cancel();
        // Each only has its log row to write now; a database that does not answer must not hold us.
        if tokio::time::timeout(Duration::from_secs(5), tasks.wait()).await.is_err() {
            tracing::error!("interrupted syncs did not record their end in time");
        }
        cut
    }

    async fn tenant(&self) -> Result<XeroConnection, SyncError> {
        let connection = self.inner.store.xero_connection().await?.ok_or(SyncError::XeroNotConnected)?;
        match connection.status {
            ConnectionStatus::Connected => Ok(connection),
            ConnectionStatus::ReconnectNeeded => Err(SyncError::ReconnectNeeded(
                connection.status_reason.unwrap_or_else(|| "the connection was refused".into()),
            )),
        }
    }

    /// The connected organisation's lists and defaults: what every check runs against.
    pub(crate) async fn organisation(&self) -> Result<Organisation, SyncError> {
        let tenant = self.tenant().await?;
        Organisation::load(&self.inner.store, &self.inner.xero, &tenant.tenant_id).await
    }

    /// The organisation's chart and tax rates (cached, as the sync itself uses them), its defaults and the
    /// CRM field names, for the widget's rules and pick-lists.
    pub(crate) async fn pick_lists(&self) -> Result<PickLists, SyncError> {
        let org = self.organisation().await?;
        Ok(PickLists {
            fields: FieldMap::clone(&self.inner.fields.current()),
            accounts: org.accounts.to_vec(),
            tax_rates: org.tax_rates.to_vec(),
            defaults: org.defaults,
        })
    }

    /// Reads the product from Zoho, by id (never from the browser).
    async fn read_product(&self, product_id: &str, fields: &FieldMap) -> Result<CrmProduct, SyncError> {
        let record = self
            .inner
            .zoho
            .get_product(product_id, &fields.read_fields())
            .await?
            .ok_or_else(|| SyncError::ProductNotFound(product_id.to_owned()))?;
        Ok(CrmProduct::from_object(&record, fields))
    }

    async fn plan(&self, product_id: &str) -> Result<Plan, SyncError> {
        let org = self.organisation().await?;
        let fields = self.inner.fields.current();
        let product = self.read_product(product_id, &fields).await?;
        self.plan_for(product_id, org, product, fields).await
    }

    async fn plan_for(
        &self,
        product_id: &str,
        org: Organisation,
        product: CrmProduct,
        fields: Arc<FieldMap>,
    ) -> Result<Plan, SyncError> {
        let report = org.check(&product, &fields);
        let mut issues = report.issues.clone();
        let live = Live::new(&self.inner.store, &self.inner.xero, &org.tenant_id);
        let (existing, suggested_code) = match item::existing_item(product_id, &product, &live).await? {
            Match::New => (None, None),
            Match::Existing(existing) => (Some(*existing), None),
            Match::Taken(item) => {
                // Every item's code, from the list the match just read.
                let items = live.items().await?;
                let taken: Vec<&str> = items.iter().map(|i| i.code.as_str()).collect();
                let free = product.name.text().and_then(|name| suggest_code(name, &taken));
                issues.push(code_in_use(&item_label(item.name.as_deref(), &item.code), free.as_deref()));
                (None, free)
            }
        };
        // A code that needs fixing: one made from the name, free among Xero's items, for "Suggest a code".
        let code_broken = issues.iter().any(|i| i.is_error() && i.field == fields::PRODUCT_CODE);
        let suggested_code = match (suggested_code, product.name.text()) {
            (None, Some(name)) if code_broken => self.free_code(product_id, &org.tenant_id, name).await?,
            (suggested, _) => suggested,
        };
        let blocked = issues.iter().any(Issue::is_error);
        let payload = report.payload(&product).filter(|_| !blocked).map(|mut p| {
            p.item_id = existing.as_ref().map(|e| e.item_id.clone());
            p
        });
        let names = Names { accounts: &org.accounts, tax_rates: &org.tax_rates };
        let xero_edits = match (&existing, &payload) {
            (Some(Existing { state: Some(before), current: Some(now), synced_at, .. }), Some(payload)) => {
                xero_edits::xero_edits(before, now, payload, &fields, &names, synced_at.unwrap_or_else(Utc::now))
            }
            _ => Vec::new(),
        };
        Ok(Plan {
            fields,
            product,
            issues,
            payload,
            resolved: report.resolved,
            tenant_id: org.tenant_id,
            existing,
            suggested_code,
            xero_edits,
        })
    }

    /// A dry run: the issues, the exact payload a sync would send now, and what it would do.
    pub(crate) async fn preview(&self, product_id: &str) -> Result<Preview, SyncError> {
        let plan = self.plan(product_id).await?;
        let summary = plan.summary();
        Ok(Preview { issues: plan.issues, payload: plan.payload, plan: summary })
    }

    /// A code for the product made from `name`, free among the organisation's items (the product's own
    /// item aside); `None` when the name has no letter or digit to make one from.
    pub(crate) async fn suggest_code(&self, product_id: &str, name: &str) -> Result<Option<String>, SyncError> {
        let tenant = self.tenant().await?;
        self.free_code(product_id, &tenant.tenant_id, name).await
    }

    async fn free_code(&self, product_id: &str, tenant_id: &str, name: &str) -> Result<Option<String>, SyncError> {
        let own = self.inner.store.item_link(product_id, tenant_id).await?.map(|l| l.item_id);
        let items = self.inner.xero.items(tenant_id).await?;
        let taken: Vec<&str> =
            items.iter().filter(|i| own.as_deref() != Some(i.item_id.as_str())).map(|i| i.code.as_str()).collect();
        Ok(suggest_code(name, &taken))
    }

    /// Syncs one product and writes the outcome back to the CRM and the log, in a task of its own. With
    /// [`XeroEdits::Keep`] and fields changed in Xero since the last sync, nothing is written to Xero.
    pub(crate) async fn sync(
        &self,
        product_id: &str,
        actor: &Actor,
        xero_edits: XeroEdits,
    ) -> Result<SyncResponse, SyncError> {
        if self.inner.stop.is_cancelled() {
            return Err(SyncError::Interrupted);
        }
        let engine = self.clone();
        let (product_id, actor) = (product_id.to_owned(), actor.clone());
        let task = self.inner.tasks.spawn(async move { engine.sync_logged(&product_id, &actor, xero_edits).await });
        task.await.unwrap_or_else(|error| {
            tracing::error!(%error, "a sync task failed");
            Err(SyncError::Interrupted)
        })
    }

    async fn sync_logged(
        &self,
        product_id: &str,
        actor: &Actor,
        xero_edits: XeroEdits,
    ) -> Result<SyncResponse, SyncError> {
        let store = &self.inner.store;
        let tenant = store.xero_connection().await?.map(|c| c.tenant_id);
        let run = store.begin_sync(product_id, tenant.as_deref(), &actor.name, actor.trigger).await?;
        let mut exchange = Exchange::default();
        let steps = self.sync_steps(product_id, &run, xero_edits, &mut exchange);
        let result = tokio::select! {
            result = tokio::time::timeout(SYNC_TIME_LIMIT, steps) => result.unwrap_or(Err(SyncError::TooSlow)),
            () = self.inner.stop.cancelled() => Err(SyncError::Interrupted),
        };
        match &result {
            Ok(done) => {
                let (request, response) = (exchange.request.as_ref(), exchange.response.as_ref());
                let outcome = log_outcome(done.outcome);
                store.finish_sync(&run, outcome, Some(&done.item_id), request, response, &exchange.notes).await?;
            }
            Err(error) => {
                let (outcome, messages) = match error {
                    SyncError::Refused(issues) => {
                        (LogOutcome::Refused, issues.iter().map(|i| i.message.clone()).collect())
                    }
                    SyncError::XeroRejected(issues) => {
                        (LogOutcome::Failed, issues.iter().map(|i| i.message.clone()).collect())
                    }
                    SyncError::Interrupted | SyncError::TooSlow => (LogOutcome::Interrupted, vec![error.to_string()]),
                    other => (LogOutcome::Failed, vec![crate::describe(other)]),
                };
                let (request, response) = (exchange.request.as_ref(), exchange.response.as_ref());
                store.finish_sync(&run, outcome, None, request, response, &messages).await?;
                // Not when Zoho itself refuses: the write-back would be refused too.
                let written_back = !matches!(
                    error,
                    SyncError::ProductNotFound(_)
                        | SyncError::ZohoReconnectNeeded(_)
                        | SyncError::Interrupted
                        | SyncError::RateLimited { service: "Zoho CRM", .. }
                );
                if written_back {
                    self.write_back_failure(product_id, &messages).await;
                }
            }
        }
        result
    }

    /// Reads the record (naming the product in the log at once), plans, then writes; `exchange` gets what
    /// was (or would have been) sent to Xero, what Xero answered, and what the log says of a success
    /// (defaults used, Xero's changes kept).
    async fn sync_steps(
        &self,
        product_id: &str,
        run: &str,
        xero_edits: XeroEdits,
        exchange: &mut Exchange,
    ) -> Result<SyncResponse, SyncError> {
        let org = self.organisation().await?;
        let fields = self.inner.fields.current();
        let product = self.read_product(product_id, &fields).await?;
        self.inner.store.record_sync_product(run, product.name.text(), product.code.text()).await?;
        let plan = self.plan_for(product_id, org, product, fields).await?;
        exchange.request = plan.payload.as_ref().map(|p| json!(p));
        self.write(&plan, run, xero_edits, exchange).await
    }

    async fn write(
        &self,
        plan: &Plan,
        run: &str,
        choice: XeroEdits,
        exchange: &mut Exchange,
    ) -> Result<SyncResponse, SyncError> {
        let blocking: Vec<Issue> = plan.issues.iter().filter(|i| i.is_error()).cloned().collect();
        let Some(payload) = plan.payload.clone().filter(|_| blocking.is_empty()) else {
            return Err(SyncError::Refused(blocking));
        };
        let warnings: Vec<Issue> = plan.issues.iter().filter(|i| !i.is_error()).cloned().collect();
        let hash = payload.content_hash();
        let tenant = plan.tenant_id.as_str();
        let edited_in_xero = !plan.xero_edits.is_empty();

        if let Some(existing) = plan.existing.as_ref().filter(|_| edited_in_xero && choice == XeroEdits::Keep) {
            return self.keep_xeros(plan, existing, warnings, &mut exchange.notes).await;
        }
        let (outcome, item_id, state) = self.put_in_xero(plan, &payload, &hash, run, exchange).await?;
        if edited_in_xero {
            let fields: Vec<&str> = plan.xero_edits.iter().map(|e| xero_edits::label(&e.field, &plan.fields)).collect();
            exchange.notes.push(format!("Overwrote the changes made in Xero to {}.", fields.join(", ")));
        }
        let note = plan.resolved.as_ref().and_then(resolution_note);
        if let Some(note) = &note {
            exchange.notes.push(item::note_sentence(note));
        }

        let now = Utc::now();
        let link = ItemLink {
            product_id: plan.product.id.text().unwrap_or_default().to_owned(),
            tenant_id: tenant.to_owned(),
            item_id: item_id.clone(),
            code: payload.code.clone(),
            payload_hash: hash,
            synced_at: now,
        };
        let saved = match &state {
            Some(state) => self.inner.store.save_item_link_with_state(&link, state).await,
            None => self.inner.store.save_item_link(&link).await,
        };
        saved.map_err(write::link_refused)?;
        let synced_at = item::zoho_time(now);
        let mut warnings = warnings;
        let status = item::success_status(outcome, note.as_deref());
        if let Err(error) = self.write_back_success(plan, &item_id, &synced_at, &status).await {
            tracing::warn!(%error, "the item is in Xero but the CRM record could not be updated");
            warnings.push(Issue::warning(
                &plan.fields.item_id,
                shared::IssueCode::XeroRejected,
                format!("The item is in Xero, but the CRM record could not be updated ({error}); sync again to retry."),
            ));
        }
        Ok(SyncResponse {
            outcome,
            item_id: item_id.clone(),
            code: payload.code,
            xero_url: shared::xero::item_url(&item_id),
            synced_at,
            warnings,
        })
    }

    /// "Keep Xero's": nothing is written to Xero; the log and the CRM's status say what was kept. The link
    /// stays as it was, so the next preview still shows the difference until the user overwrites it or
    /// the CRM and Xero agree again.
    async fn keep_xeros(
        &self,
        plan: &Plan,
        existing: &Existing,
        warnings: Vec<Issue>,
        notes: &mut Vec<String>,
    ) -> Result<SyncResponse, SyncError> {
        let fields: Vec<&str> = plan.xero_edits.iter().map(|e| xero_edits::label(&e.field, &plan.fields)).collect();
        notes.push(format!("Kept the changes made in Xero to {}; nothing was written to Xero.", fields.join(", ")));
        let now = item::zoho_time(Utc::now());
        let values = item::status_values(&plan.fields, &item::kept_status(&fields));
        let id = plan.product.id.text().unwrap_or_default();
        let mut warnings = warnings;
        if let Err(error) = self.inner.zoho.update_product(id, values, None).await {
            tracing::warn!(%error, "could not write the kept outcome back to the CRM");
            warnings.push(Issue::warning(
                &plan.fields.sync_status,
                IssueCode::XeroRejected,
                format!("Nothing was written to Xero, but the CRM record could not be updated ({error})."),
            ));
        }
        let code = existing.current.as_ref().map_or_else(|| existing.code.clone(), |i| i.code.clone());
        Ok(SyncResponse {
            outcome: SyncOutcome::Kept,
            item_id: existing.item_id.clone(),
            code,
            xero_url: shared::xero::item_url(&existing.item_id),
            synced_at: now,
            warnings,
        })
    }

    /// The ItemID, the time and the status (the outcome, and which values were the organisation's
    /// defaults) on the CRM record.
    async fn write_back_success(
        &self,
        plan: &Plan,
        item_id: &str,
        synced_at: &str,
        status: &str,
    ) -> Result<(), ZohoError> {
        let values = item::success_values(&plan.fields, item_id, synced_at, status);
        let id = plan.product.id.text().unwrap_or_default();
        self.inner.zoho.update_product(id, values, None).await.map(|_| ())
    }

    /// Best effort: the CRM shows why the last sync failed; the log has it regardless.
    async fn write_back_failure(&self, product_id: &str, messages: &[String]) {
        let values = item::status_values(&self.inner.fields.current(), &item::failure_status(messages));
        if let Err(error) = self.inner.zoho.update_product(product_id, values, None).await {
            tracing::warn!(%error, "could not write the sync failure back to the CRM");
        }
    }

    pub(crate) async fn history(&self, product_id: &str, limit: u32) -> Result<Vec<HistoryEntry>, SyncError> {
        let entries = self.inner.store.history(product_id, limit).await?;
        Ok(entries
            .into_iter()
            .map(|e| HistoryEntry {
                at: e.started_at.to_rfc3339_opts(SecondsFormat::Secs, true),
                by: e.actor,
                message: e.messages.first().cloned(),
                outcome: e.outcome.as_str().to_owned(),
            })
            .collect())
    }
}

/// What the log keeps of one sync's exchange with Xero.
#[derive(Debug, Default)]
struct Exchange {
    /// The Item sent (or that would have been sent, for a refused product).
    request: Option<serde_json::Value>,
    /// Xero's answer to it; `None` when no call was made (refused, unchanged, Xero's changes kept).
    response: Option<serde_json::Value>,
    /// What the log says of a success (defaults used, Xero's changes kept or overwritten).
    notes: Vec<String>,
}

/// Xero's answer to a write, for the log: the element's status, ItemID, Code and messages as Xero worded
/// them, or why there was no answer to read.
pub(crate) fn xero_answer(result: &Result<Option<ItemResult>, XeroError>) -> serde_json::Value {
    match result {
        Ok(element) => element_answer(element.as_ref()),
        Err(error) => error_answer(error),
    }
}

/// [`xero_answer`] of one element of an answer (a bulk run's batch has many).
pub(crate) fn element_answer(element: Option<&ItemResult>) -> serde_json::Value {
    match element {
        Some(item) => {
            let status = match item.status {
                ElementStatus::Ok => "OK",
                ElementStatus::Warning => "WARNING",
                ElementStatus::Error => "ERROR",
            };
            json!({"StatusAttributeString": status, "ItemID": item.item_id, "Code": item.code, "Messages": item.messages})
        }
        None => json!({"Error": "the answer had no element for the item"}),
    }
}

/// [`xero_answer`] of a call that failed as a whole.
pub(crate) fn error_answer(error: &XeroError) -> serde_json::Value {
    match error {
        XeroError::Validation(messages) => json!({"StatusAttributeString": "ERROR", "Messages": messages}),
        error => json!({"Error": crate::describe(error)}),
    }
}

/// The button's [`Catalogue`]: the database and Xero, asked as the matching goes (Xero's item list read at
/// most once).
struct Live<'a> {
    store: &'a Store,
    xero: &'a XeroClient,
    tenant_id: &'a str,
    items: OnceCell<Vec<XeroItem>>,
}

impl<'a> Live<'a> {
    fn new(store: &'a Store, xero: &'a XeroClient, tenant_id: &'a str) -> Self {
        Live { store, xero, tenant_id, items: OnceCell::new() }
    }

    async fn items(&self) -> Result<&[XeroItem], SyncError> {
        let items = self.items.get_or_try_init(|| self.xero.items(self.tenant_id)).await?;
        Ok(items)
    }
}

impl Catalogue for Live<'_> {
    async fn link(&self, product_id: &str) -> Result<Option<(ItemLink, Option<ItemState>)>, SyncError> {
        Ok(self.store.item_link_with_state(product_id, self.tenant_id).await?)
    }

    async fn current(&self, item_id: &str) -> Result<Option<XeroItem>, SyncError> {
        Ok(self.xero.get_item(self.tenant_id, item_id).await?)
    }

    async fn item_by_id(&self, item_id: &str) -> Result<Option<XeroItem>, SyncError> {
        Ok(self.xero.get_item(self.tenant_id, item_id).await?)
    }

    async fn item_by_code(&self, code: &str) -> Result<Option<XeroItem>, SyncError> {
        Ok(self.items().await?.iter().find(|i| shared::rules::same_name(&i.code, code)).cloned())
    }

    async fn owner(&self, item_id: &str) -> Result<Option<String>, SyncError> {
        Ok(self.store.item_link_by_item(self.tenant_id, item_id).await?.map(|link| link.product_id))
    }
}

fn log_outcome(outcome: SyncOutcome) -> LogOutcome {
    match outcome {
        SyncOutcome::Created => LogOutcome::Created,
        SyncOutcome::Updated => LogOutcome::Updated,
        // Nothing was written to Xero either way; the log's message says which.
        SyncOutcome::Unchanged | SyncOutcome::Kept => LogOutcome::Unchanged,
    }
}

/// One key per write of one run: the client's retries of it (timeouts, 5xx) reuse it, so Xero replays
/// rather than repeats a request it already processed. A new run gets a new key, because Xero also caches
/// error answers under a key for 6 minutes and a user's retry must really be retried. What prevents a
/// duplicate across runs is the code match, not the key. ≤ 128 characters.
fn idempotency_key(run: &str, item: &str, content_hash: &str) -> String {
    use sha2::{Digest, Sha256};
    let digest = Sha256::digest(format!("{run}|{item}|{content_hash}").as_bytes());
    let hex: String = digest.iter().map(|b| format!("{b:02x}")).collect();
    format!("xero-sync-{hex}")
}
