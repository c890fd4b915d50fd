//! Putting the payload in Xero, and the two ways a write can be wrong about Xero (fidelity-audit X3, X6):
//!
//! - **A stale link.** The item a product is linked to may have been deleted in Xero's web app. What Xero
//!   then does with its ItemID is unverified (a failed element, a 404, or a new item), so the engine does
//!   not rely on any: a linked item read for the plan and found gone, a write naming an ItemID that fails,
//!   or a product about to be reported unchanged whose item was not read, leads to reading the item; gone,
//!   the link is dropped and the product matched by Code again (then created). Xero answering with another
//!   item than the one named means the same.
//! - **A 5xx that is the data's fault.** Xero has been seen answering an invalid AccountCode with a 500. The
//!   client has already re-read and retried once under a new key; if that fails too, the cached accounts and
//!   tax rates are dropped and the product checked against fresh ones, so the user gets the real cause on
//!   its field instead of "Xero is not answering".

use serde_json::json;
use shared::wire::SyncOutcome;
use shared::{Issue, ItemPayload, suggest_code};

use super::item::{self, Existing, Match, code_in_use, item_label};
use super::xero_edits::state_of;
use super::xero_messages::issues_from_xero;
use super::{Engine, Exchange, Live, Organisation, Plan, SyncError, idempotency_key, xero_answer};
use crate::store::{ItemState, StoreError};
use crate::xero::{ItemResult, XeroError};

/// What a write gives: the item's ItemID, and what Xero says it holds now (when it said).
type Written = (String, Option<ItemState>);

/// How one write went wrong.
enum Failed {
    /// Xero refused the element, with its messages.
    Rejected(Vec<String>),
    /// Xero's answer accounted for no element.
    NoElement,
    Xero(XeroError),
}

impl Failed {
    /// A failure a deleted item could explain: the element refused, the item's URL not found, the request
    /// refused as a whole.
    fn may_be_stale(&self) -> bool {
        matches!(
            self,
            Failed::Rejected(_) | Failed::Xero(XeroError::Unexpected { status: 404, .. } | XeroError::Validation(_))
        )
    }
}

impl From<XeroError> for Failed {
    fn from(error: XeroError) -> Self {
        Failed::Xero(error)
    }
}

impl Engine {
    /// Sends `payload` as the update of the plan's item or as a new item (or nothing, for a product
    /// unchanged since its last sync), and says which it was. Each write has its own Idempotency-Key (the
    /// run, the item, the content); see the module docs for the rest.
    pub(super) async fn put_in_xero(
        &self,
        plan: &Plan,
        payload: &ItemPayload,
        hash: &str,
        run: &str,
        exchange: &mut Exchange,
    ) -> Result<(SyncOutcome, String, Option<ItemState>), SyncError> {
        let tenant = plan.tenant_id.as_str();
        let mut payload = payload.clone();
        let mut existing = plan.existing.clone();
        if let Some(linked) = existing.clone() {
            // The plan read a linked item whose state it knew; nothing came back: it is gone.
            let read_and_gone = linked.state.is_some() && linked.current.is_none();
            if read_and_gone {
                existing = self.relink(plan, &linked).await?;
            } else if plan.xero_edits.is_empty() && linked.unchanged(hash) {
                // "Unchanged" claims Xero has the item: make sure, unless the plan just read it.
                let current = match &linked.current {
                    Some(current) => Some(current.clone()),
                    None => self.inner.xero.get_item(tenant, &linked.item_id).await?,
                };
                if let Some(current) = current {
                    // Nothing to send; what Xero holds now is the state to compare the next time with.
                    return Ok((SyncOutcome::Unchanged, linked.item_id, Some(state_of(&current))));
                }
                existing = self.relink(plan, &linked).await?;
            } else {
                match self.send(plan, &payload, Some(&linked), hash, run, exchange).await {
                    Ok((item_id, state)) if item_id.eq_ignore_ascii_case(&linked.item_id) => {
                        return Ok((SyncOutcome::Updated, item_id, state));
                    }
                    Ok((item_id, state)) => {
                        // Xero put the product in another item than the one named: that one is gone, and Xero
                        // made (or matched) a new one instead of refusing.
                        tracing::warn!(old = %linked.item_id, new = %item_id, "xero replaced the linked item");
                        return Ok((SyncOutcome::Created, item_id, state));
                    }
                    Err(failed) if failed.may_be_stale() => {
                        if self.inner.xero.get_item(tenant, &linked.item_id).await?.is_some() {
                            return Err(self.failure(plan, failed).await);
                        }
                        existing = self.relink(plan, &linked).await?;
                    }
                    Err(failed) => return Err(self.failure(plan, failed).await),
                }
            }
            payload.item_id = existing.as_ref().map(|e| e.item_id.clone());
        }
        let outcome = if existing.is_some() { SyncOutcome::Updated } else { SyncOutcome::Created };
        match self.send(plan, &payload, existing.as_ref(), hash, run, exchange).await {
            Ok((item_id, state)) => Ok((outcome, item_id, state)),
            Err(failed) => Err(self.failure(plan, failed).await),
        }
    }

    /// One write: an upsert, or the item's own endpoint when its Code changes (the only way to change one).
    /// `exchange` keeps what was sent and what Xero answered, for the log (the last write's, when a stale
    /// link made two).
    async fn send(
        &self,
        plan: &Plan,
        payload: &ItemPayload,
        existing: Option<&Existing>,
        hash: &str,
        run: &str,
        exchange: &mut Exchange,
    ) -> Result<Written, Failed> {
        let xero = &self.inner.xero;
        let tenant = plan.tenant_id.as_str();
        let key = idempotency_key(run, existing.map_or("new", |e| e.item_id.as_str()), hash);
        exchange.request = Some(json!(payload));
        let result = match existing {
            Some(existing) if existing.renames_code(&payload.code) => {
                xero.update_item(tenant, &existing.item_id, payload, &key).await.map(Some)
            }
            _ => xero.upsert_items(tenant, std::slice::from_ref(payload), &key).await.map(|r| r.into_iter().next()),
        };
        exchange.response = Some(xero_answer(&result));
        let Some(result) = result? else { return Err(Failed::NoElement) };
        accepted(result)
    }

    /// The link named an item Xero no longer has: forget it, and look for the product's item by Code again
    /// (another CRM product's item with that code is refused, as when a plan finds one).
    async fn relink(&self, plan: &Plan, linked: &Existing) -> Result<Option<Existing>, SyncError> {
        let product_id = plan.product.id.text().unwrap_or_default();
        tracing::warn!(item_id = %linked.item_id, product_id, "the linked xero item is gone; matching by code again");
        self.inner.store.delete_item_link(product_id, &plan.tenant_id).await?;
        let live = Live::new(&self.inner.store, &self.inner.xero, &plan.tenant_id);
        match item::by_code(product_id, &plan.product, &live).await? {
            Match::New => Ok(None),
            Match::Existing(existing) => Ok(Some(*existing)),
            Match::Taken(item) => {
                let items = live.items().await?;
                let taken: Vec<&str> = items.iter().map(|i| i.code.as_str()).collect();
                let free = plan.product.name.text().and_then(|name| suggest_code(name, &taken));
                let owner = item_label(item.name.as_deref(), &item.code);
                Err(SyncError::Refused(vec![code_in_use(&owner, free.as_deref())]))
            }
        }
    }

    /// What the user is told about a failed write. Xero's messages go on their fields (with the cached lists
    /// dropped when they concern an account or a tax rate); a write Xero kept answering with a 5xx is checked
    /// against fresh lists first, and a fault found there is the answer.
    async fn failure(&self, plan: &Plan, failed: Failed) -> SyncError {
        let xero = &self.inner.xero;
        let fields = &*plan.fields;
        let tenant = plan.tenant_id.as_str();
        match failed {
            Failed::Rejected(messages) => {
                let issues = issues_from_xero(&messages, fields);
                if issues.iter().any(|i| i.field == fields.gl_account || i.field == fields.tax_rate) {
                    // The chart or the rates changed in Xero since we cached them: check against fresh lists next time.
                    xero.invalidate(tenant);
                }
                SyncError::XeroRejected(issues)
            }
            Failed::NoElement => {
                SyncError::Unexpected { service: "Xero", detail: "the answer had no element for the item".into() }
            }
            Failed::Xero(error @ XeroError::ServerError { .. }) => {
                xero.invalidate(tenant);
                let blocking: Vec<Issue> = match Organisation::load(&self.inner.store, xero, tenant).await {
                    Ok(org) => org.check(&plan.product, fields).issues.into_iter().filter(Issue::is_error).collect(),
                    Err(read) => {
                        tracing::warn!(error = %read, "could not read the lists again after xero's server error");
                        Vec::new()
                    }
                };
                if blocking.is_empty() { error.into() } else { SyncError::Refused(blocking) }
            }
            Failed::Xero(error) => error.into(),
        }
    }
}

/// The ItemID of an accepted element, with what Xero says it holds now, or Xero's messages.
fn accepted(result: ItemResult) -> Result<Written, Failed> {
    if result.is_ok()
        && let Some(item_id) = result.item_id
    {
        return Ok((item_id, result.item.as_ref().map(state_of)));
    }
    Err(Failed::Rejected(result.messages))
}

/// A link the store refused because the item is another product's (Xero answered a write with an item
/// already linked elsewhere): the product's code is the problem, as when it is found by code.
pub(super) fn link_refused(error: StoreError) -> SyncError {
    match error {
        StoreError::ItemLinkedElsewhere { product_id, .. } => SyncError::Refused(vec![Issue::error(
            shared::fields::PRODUCT_CODE,
            shared::IssueCode::CodeInUse,
            format!(
                "Xero put this product in an item another CRM product ({product_id}) is synced to; give this \
                 product its own code."
            ),
        )]),
        other => other.into(),
    }
}
