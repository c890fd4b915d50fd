//! The sync engine: one CRM product to one Xero item, safe to repeat and to retry after a crash at any
//! point.
//!
//! It never trusts what a browser sends: it re-reads the record from Zoho by id, validates it with the
//! shared rules against the organisation's live accounts and tax rates, and finds the item to update by
//! the stored link, then the ItemID written back to the CRM, then the Code (ignoring case) among Xero's
//! items. Only when all three find nothing is an item created, and Xero's own Code uniqueness backs that
//! up, so a retry after a crash between "Xero saved it" and "we stored the link" updates, never duplicates.

mod xero_messages;

use std::sync::Arc;

use chrono::{SecondsFormat, Utc};
use serde_json::{Map, json};
use shared::rules::same_name;
use shared::wire::{HistoryEntry, PickLists, SyncOutcome, SyncResponse};
use shared::{CrmProduct, FieldMap, Issue, ItemPayload, XeroContext, validate};

use crate::store::{
    ConnectionStatus, ItemLink, Store, StoreError, SyncOutcome as LogOutcome, SyncTrigger, XeroConnection,
};
use crate::xero::{XeroClient, XeroError, XeroItem};
use crate::zoho::{ZohoClient, ZohoError};

pub use xero_messages::issues_from_xero;

/// Why a sync or preview did not happen. Each variant tells the user what to do.
#[derive(Debug, thiserror::Error)]
pub enum SyncError {
    #[error("Xero is not connected yet; an admin must connect it")]
    XeroNotConnected,
    #[error("Xero needs to be reconnected by an admin: {0}")]
    ReconnectNeeded(String),
    #[error("Zoho CRM needs to be reconnected by an admin: {0}")]
    ZohoReconnectNeeded(String),
    #[error("the product {0} does not exist in the CRM")]
    ProductNotFound(String),
    #[error("the product cannot be synced yet")]
    Refused(Vec<Issue>),
    #[error("Xero refused the item")]
    XeroRejected(Vec<Issue>),
    #[error("{service} rate limit reached; try again in a moment")]
    RateLimited { service: &'static str, retry_after: Option<u64> },
    #[error("{service} is not answering; the sync can safely be retried")]
    Unavailable { service: &'static str, detail: String },
    #[error("storage failed: {0}")]
    Store(#[from] StoreError),
    #[error("unexpected answer from {service}: {detail}")]
    Unexpected { service: &'static str, detail: String },
}

impl From<XeroError> for SyncError {
    fn from(error: XeroError) -> Self {
        match error {
            XeroError::ReconnectNeeded(reason) => SyncError::ReconnectNeeded(reason),
            XeroError::TenantForbidden => {
                SyncError::ReconnectNeeded("Xero refused access to the connected organisation".into())
            }
            XeroError::RateLimited { retry_after, .. } => {
                SyncError::RateLimited { service: "Xero", retry_after: retry_after.map(|d| d.as_secs()) }
            }
            XeroError::Unavailable(detail) => SyncError::Unavailable { service: "Xero", detail },
            XeroError::Validation(messages) => SyncError::XeroRejected(
                messages.iter().map(|m| Issue::error("", shared::IssueCode::XeroRejected, m.clone())).collect(),
            ),
            other => SyncError::Unexpected { service: "Xero", detail: other.to_string() },
        }
    }
}

impl From<ZohoError> for SyncError {
    fn from(error: ZohoError) -> Self {
        match error {
            ZohoError::ReconnectNeeded(reason) => SyncError::ZohoReconnectNeeded(reason),
            ZohoError::RateLimited { retry_after } => {
                SyncError::RateLimited { service: "Zoho CRM", retry_after: retry_after.map(|d| d.as_secs()) }
            }
            ZohoError::Unavailable(detail) => SyncError::Unavailable { service: "Zoho CRM", detail },
            other => SyncError::Unexpected { service: "Zoho CRM", detail: other.to_string() },
        }
    }
}

/// Who asked for a sync, for the log.
#[derive(Debug, Clone)]
pub struct Actor {
    pub name: String,
    pub trigger: SyncTrigger,
}

/// A dry run's result.
#[derive(Debug, Clone)]
pub struct Preview {
    pub issues: Vec<Issue>,
    pub payload: Option<ItemPayload>,
}

#[derive(Clone)]
pub struct Engine {
    inner: Arc<Inner>,
}

struct Inner {
    store: Store,
    xero: XeroClient,
    zoho: ZohoClient,
    fields: FieldMap,
}

/// What the engine knows before writing: the product, the checks, and the item it maps to, if any.
struct Plan {
    product: CrmProduct,
    issues: Vec<Issue>,
    payload: Option<ItemPayload>,
    tenant_id: String,
    existing: Option<Existing>,
}

/// The item a product already has in Xero, and how we know.
struct Existing {
    item_id: String,
    code: String,
    /// The content hash of the last successful sync, when we have a link.
    last_hash: Option<String>,
}

impl Engine {
    pub fn new(store: Store, xero: XeroClient, zoho: ZohoClient, fields: FieldMap) -> Self {
        Self { inner: Arc::new(Inner { store, xero, zoho, fields }) }
    }

    pub fn fields(&self) -> &FieldMap {
        &self.inner.fields
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

    /// The organisation's chart and tax rates (cached, as the sync itself uses them) and CRM field names,
    /// for the widget's rules and pick-lists.
    pub async fn pick_lists(&self) -> Result<PickLists, SyncError> {
        let tenant = self.tenant().await?;
        let (accounts, rates) = tokio::try_join!(
            self.inner.xero.accounts(&tenant.tenant_id),
            self.inner.xero.tax_rates(&tenant.tenant_id)
        )?;
        Ok(PickLists { fields: self.inner.fields.clone(), accounts: accounts.to_vec(), tax_rates: rates.to_vec() })
    }

    async fn plan(&self, product_id: &str) -> Result<Plan, SyncError> {
        let tenant = self.tenant().await?;
        let fields = &self.inner.fields;
        let record = self
            .inner
            .zoho
            .get_product(product_id, &fields.read_fields())
            .await?
            .ok_or_else(|| SyncError::ProductNotFound(product_id.to_owned()))?;
        let product = CrmProduct::from_object(&record, fields);
        let (accounts, rates) = tokio::try_join!(
            self.inner.xero.accounts(&tenant.tenant_id),
            self.inner.xero.tax_rates(&tenant.tenant_id)
        )?;
        let report = validate(&product, fields, XeroContext { accounts: Some(&accounts), tax_rates: Some(&rates) });
        let existing = self.existing_item(product_id, &tenant.tenant_id, &product).await?;
        let payload = report.payload(&product).map(|mut p| {
            p.item_id = existing.as_ref().map(|e| e.item_id.clone());
            p
        });
        Ok(Plan { product, issues: report.issues, payload, tenant_id: tenant.tenant_id, existing })
    }

    /// Finds the product's item: the stored link, else the ItemID the CRM holds (if Xero still has it),
    /// else an item with the same Code ignoring case (the first link of a product Xero already had).
    async fn existing_item(
        &self,
        product_id: &str,
        tenant_id: &str,
        product: &CrmProduct,
    ) -> Result<Option<Existing>, SyncError> {
        if let Some(link) = self.inner.store.item_link(product_id, tenant_id).await? {
            return Ok(Some(Existing { item_id: link.item_id, code: link.code, last_hash: Some(link.payload_hash) }));
        }
        if let Some(item_id) = product.xero_item_id.text()
            && let Some(item) = self.inner.xero.get_item(tenant_id, item_id).await?
        {
            return Ok(Some(found(item)));
        }
        let Some(code) = product.code.text() else { return Ok(None) };
        let items = self.inner.xero.items(tenant_id).await?;
        let Some(item) = items.into_iter().find(|i| same_name(&i.code, code)) else { return Ok(None) };
        // Two CRM products whose codes differ only in case would silently share one Xero item.
        if let Some(owner) = self.inner.store.item_link_by_item(tenant_id, &item.item_id).await?
            && owner.product_id != product_id
        {
            return Err(SyncError::Refused(vec![Issue::error(
                shared::fields::PRODUCT_CODE,
                shared::IssueCode::CodeInUse,
                format!(
                    "Xero already has an item with the code “{}”, synced from another CRM product ({}); give this product its own code.",
                    item.code, owner.product_id
                ),
            )]));
        }
        Ok(Some(found(item)))
    }

    /// A dry run: the issues and the exact payload a sync would send now.
    pub async fn preview(&self, product_id: &str) -> Result<Preview, SyncError> {
        let plan = self.plan(product_id).await?;
        Ok(Preview { issues: plan.issues, payload: plan.payload })
    }

    /// Syncs one product and writes the outcome back to the CRM and the log.
    pub async fn sync(&self, product_id: &str, actor: &Actor) -> Result<SyncResponse, SyncError> {
        let store = &self.inner.store;
        let tenant = store.xero_connection().await?.map(|c| c.tenant_id);
        let run = store.begin_sync(product_id, tenant.as_deref(), &actor.name, actor.trigger).await?;
        let (result, request) = match self.plan(product_id).await {
            Ok(plan) => {
                let request = plan.payload.as_ref().map(|p| json!(p));
                (self.write(&plan, &run).await, request)
            }
            Err(error) => (Err(error), None),
        };
        match &result {
            Ok(done) => {
                store.finish_sync(&run, log_outcome(done.outcome), Some(&done.item_id), request.as_ref(), &[]).await?;
            }
            Err(error) => {
                let (outcome, messages) = match error {
                    SyncError::Refused(issues) => {
                        (LogOutcome::Refused, issues.iter().map(|i| i.message.clone()).collect())
                    }
                    SyncError::XeroRejected(issues) => {
                        (LogOutcome::Failed, issues.iter().map(|i| i.message.clone()).collect())
                    }
                    other => (LogOutcome::Failed, vec![other.to_string()]),
                };
                store.finish_sync(&run, outcome, None, request.as_ref(), &messages).await?;
                if !matches!(error, SyncError::ProductNotFound(_) | SyncError::ZohoReconnectNeeded(_)) {
                    self.write_back_failure(product_id, &messages).await;
                }
            }
        }
        result
    }

    async fn write(&self, plan: &Plan, run: &str) -> Result<SyncResponse, SyncError> {
        let blocking: Vec<Issue> = plan.issues.iter().filter(|i| i.is_error()).cloned().collect();
        let Some(payload) = plan.payload.clone().filter(|_| blocking.is_empty()) else {
            return Err(SyncError::Refused(blocking));
        };
        let warnings: Vec<Issue> = plan.issues.iter().filter(|i| !i.is_error()).cloned().collect();
        let hash = payload.content_hash();
        let xero = &self.inner.xero;
        let tenant = plan.tenant_id.as_str();

        let (outcome, item_id) = match &plan.existing {
            Some(existing) if existing.last_hash.as_deref() == Some(hash.as_str()) => {
                (SyncOutcome::Unchanged, existing.item_id.clone())
            }
            Some(existing) => {
                let key = idempotency_key(run, &existing.item_id, &hash);
                let result = if same_name(&existing.code, &payload.code) {
                    xero.upsert_items(tenant, std::slice::from_ref(&payload), &key).await?.into_iter().next()
                } else {
                    // A renamed code: only the item's own endpoint changes a Code.
                    Some(xero.update_item(tenant, &existing.item_id, &payload, &key).await?)
                };
                (SyncOutcome::Updated, self.accepted(tenant, result)?)
            }
            None => {
                let key = idempotency_key(run, "new", &hash);
                let result = xero.upsert_items(tenant, std::slice::from_ref(&payload), &key).await?.into_iter().next();
                (SyncOutcome::Created, self.accepted(tenant, result)?)
            }
        };

        let now = Utc::now();
        self.inner
            .store
            .save_item_link(&ItemLink {
                product_id: plan.product.id.text().unwrap_or_default().to_owned(),
                tenant_id: tenant.to_owned(),
                item_id: item_id.clone(),
                code: payload.code.clone(),
                payload_hash: hash,
                synced_at: now,
            })
            .await?;
        // Zoho takes DateTime fields only as `yyyy-MM-ddTHH:mm:ss±HH:mm`: `+00:00`, never `Z`.
        let synced_at = now.to_rfc3339_opts(SecondsFormat::Secs, false);
        let mut warnings = warnings;
        if let Err(error) = self.write_back_success(&plan.product, &item_id, &synced_at, outcome).await {
            tracing::warn!(%error, "the item is in Xero but the CRM record could not be updated");
            warnings.push(Issue::warning(
                &self.inner.fields.item_id,
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

    /// The ItemID of an accepted element, or Xero's messages on the fields they concern.
    fn accepted(&self, tenant: &str, result: Option<crate::xero::ItemResult>) -> Result<String, SyncError> {
        let result = result.ok_or_else(|| SyncError::Unexpected {
            service: "Xero",
            detail: "the answer had no element for the item".into(),
        })?;
        if result.is_ok()
            && let Some(item_id) = result.item_id
        {
            return Ok(item_id);
        }
        let issues = issues_from_xero(&result.messages, &self.inner.fields);
        if issues.iter().any(|i| i.field == self.inner.fields.gl_account || i.field == self.inner.fields.tax_rate) {
            // The chart or the rates changed in Xero since we cached them: check against fresh lists next time.
            self.inner.xero.invalidate(tenant);
        }
        Err(SyncError::XeroRejected(issues))
    }

    async fn write_back_success(
        &self,
        product: &CrmProduct,
        item_id: &str,
        synced_at: &str,
        outcome: SyncOutcome,
    ) -> Result<(), ZohoError> {
        let fields = &self.inner.fields;
        let status = match outcome {
            SyncOutcome::Created => "Created in Xero",
            SyncOutcome::Updated => "Updated in Xero",
            SyncOutcome::Unchanged => "Up to date in Xero",
        };
        let mut values = Map::new();
        values.insert(fields.item_id.clone(), json!(item_id));
        values.insert(fields.last_synced.clone(), json!(synced_at));
        values.insert(fields.sync_status.clone(), json!(status));
        let id = product.id.text().unwrap_or_default();
        self.inner.zoho.update_product(id, values, None).await.map(|_| ())
    }

    /// Best effort: the CRM shows why the last sync failed; the log has it regardless.
    async fn write_back_failure(&self, product_id: &str, messages: &[String]) {
        let fields = &self.inner.fields;
        let mut status = format!("Sync failed: {}", messages.join("; "));
        if status.chars().count() > 255 {
            status = status.chars().take(254).collect::<String>() + "…";
        }
        let mut values = Map::new();
        values.insert(fields.sync_status.clone(), json!(status));
        if let Err(error) = self.inner.zoho.update_product(product_id, values, None).await {
            tracing::warn!(%error, "could not write the sync failure back to the CRM");
        }
    }

    pub async fn history(&self, product_id: &str, limit: u32) -> Result<Vec<HistoryEntry>, SyncError> {
        let entries = self.inner.store.history(product_id, limit).await?;
        Ok(entries
            .into_iter()
            .map(|e| HistoryEntry {
                at: e.started_at.to_rfc3339_opts(SecondsFormat::Secs, true),
                by: e.actor,
                message: e.messages.first().cloned(),
                outcome: outcome_word(e.outcome).to_owned(),
            })
            .collect())
    }
}

fn found(item: XeroItem) -> Existing {
    Existing { item_id: item.item_id, code: item.code, last_hash: None }
}

fn log_outcome(outcome: SyncOutcome) -> LogOutcome {
    match outcome {
        SyncOutcome::Created => LogOutcome::Created,
        SyncOutcome::Updated => LogOutcome::Updated,
        SyncOutcome::Unchanged => LogOutcome::Unchanged,
    }
}

/// The words the widget's history shows for a logged outcome.
fn outcome_word(outcome: LogOutcome) -> &'static str {
    match outcome {
        LogOutcome::Running => "running",
        LogOutcome::Created => "created",
        LogOutcome::Updated => "updated",
        LogOutcome::Unchanged => "unchanged",
        LogOutcome::Refused => "refused",
        LogOutcome::Failed => "failed",
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
