//! What a run does with one product, decided as the button decides ([`crate::sync::item`]): skipped when
//! "Add to Xero" is not ticked, refused with its issues by the shared rules against the organisation's
//! lists and defaults ([`Organisation::check`]), refused when another product holds its code, kept when
//! someone changed the item in Xero since our last sync (the button lets a user overwrite it; a run never
//! does unattended), unchanged when the item already holds exactly this content, otherwise sent. The item
//! lists come from the run's one read of Xero ([`RunCatalogue`]), and codes sent earlier in the run are
//! claimed so two products whose codes differ only in case never share an item.

use std::collections::{HashMap, HashSet};

use chrono::Utc;
use shared::rules::same_name;
use shared::{CrmProduct, FieldMap, FieldValue, Issue, ItemPayload};

use crate::store::{ItemLink, ItemState, LinkState};
use crate::sync::item::{self, Catalogue, Existing, Match, item_label};
use crate::sync::xero_edits::{self, Names};
use crate::sync::{Organisation, SyncError, resolution_note};
use crate::xero::XeroItem;

fn key(code: &str) -> String {
    code.trim().to_lowercase()
}

/// Xero's items and our links as the run knows them: read once, then kept up to date as it writes.
pub(crate) struct RunCatalogue {
    links: HashMap<String, LinkState>,
    items_by_id: HashMap<String, XeroItem>,
    items_by_code: HashMap<String, Vec<XeroItem>>,
    owners: HashMap<String, String>,
    /// Codes (folded), and the product this run sends or links under each with its name for messages.
    claims: HashMap<String, (String, String)>,
    /// Items this run wrote: what Xero holds of them is what it answered (no edit to look for).
    written: HashSet<String>,
}

impl RunCatalogue {
    pub(crate) fn new(items: Vec<XeroItem>, links: Vec<LinkState>) -> Self {
        let mut catalogue = RunCatalogue {
            links: HashMap::new(),
            items_by_id: HashMap::new(),
            items_by_code: HashMap::new(),
            owners: HashMap::new(),
            claims: HashMap::new(),
            written: HashSet::new(),
        };
        for link in links {
            catalogue.owners.insert(link.link.item_id.to_ascii_lowercase(), link.link.product_id.clone());
            catalogue.links.insert(link.link.product_id.clone(), link);
        }
        for item in items {
            catalogue.add_item(item);
        }
        catalogue
    }

    fn add_item(&mut self, item: XeroItem) {
        if let Some(owner) = self.owners.get(&item.item_id.to_ascii_lowercase()) {
            // A claim this run made for the same product keeps its name (messages stay the same run to run).
            let label = item_label(item.name.as_deref(), &item.code);
            let claim = self.claims.entry(key(&item.code)).or_insert_with(|| (owner.clone(), label.clone()));
            if claim.0 != *owner {
                *claim = (owner.clone(), label);
            }
        }
        self.items_by_code.entry(key(&item.code)).or_default().push(item.clone());
        self.items_by_id.insert(item.item_id.to_ascii_lowercase(), item);
    }

    /// The link of a product, as the run last wrote or read it.
    pub(crate) fn link_state(&self, product_id: &str) -> Option<&LinkState> {
        self.links.get(product_id)
    }

    /// Records what a batch of the run wrote: the product's link and its item, with what Xero answered it
    /// holds.
    pub(crate) fn linked(&mut self, link: &ItemLink, state: Option<ItemState>) {
        if let Some(previous) = self.links.get(&link.product_id) {
            self.owners.remove(&previous.link.item_id.to_ascii_lowercase());
        }
        self.owners.insert(link.item_id.to_ascii_lowercase(), link.product_id.clone());
        let item = XeroItem {
            item_id: link.item_id.clone(),
            code: link.code.clone(),
            name: state.as_ref().and_then(|s| s.name.clone()),
            description: None,
            sales_details: None,
            updated_date_utc: None,
        };
        self.items_by_code
            .values_mut()
            .for_each(|items| items.retain(|i| !i.item_id.eq_ignore_ascii_case(&link.item_id)));
        self.add_item(item);
        self.written.insert(link.item_id.to_ascii_lowercase());
        self.links.insert(
            link.product_id.clone(),
            LinkState { link: link.clone(), xero_state: state, zoho_modified_time: None, writeback_pending: true },
        );
    }

    /// The write-back of a product's link reached the CRM.
    pub(crate) fn written_back(&mut self, product_id: &str) {
        if let Some(state) = self.links.get_mut(product_id) {
            state.writeback_pending = false;
        }
    }

    /// Who else holds `code` in this run or in Xero, if anyone: that item or product named for a message.
    fn claimant(&self, code: &str, product_id: &str) -> Option<&str> {
        self.claims.get(&key(code)).filter(|(owner, _)| owner != product_id).map(|(_, label)| label.as_str())
    }

    fn claim(&mut self, payload: &ItemPayload, product_id: &str) {
        let label = item_label(Some(&payload.name), &payload.code);
        self.claims.insert(key(&payload.code), (product_id.to_owned(), label));
    }
}

impl Catalogue for RunCatalogue {
    /// A link whose item Xero no longer has (deleted there) is no link: the product is matched afresh.
    async fn link(&self, product_id: &str) -> Result<Option<(ItemLink, Option<ItemState>)>, SyncError> {
        Ok(self
            .links
            .get(product_id)
            .filter(|state| self.items_by_id.contains_key(&state.link.item_id.to_ascii_lowercase()))
            .map(|state| (state.link.clone(), state.xero_state.clone())))
    }

    /// From the list read at the run's start; an item this run wrote holds what Xero answered.
    async fn current(&self, item_id: &str) -> Result<Option<XeroItem>, SyncError> {
        let id = item_id.to_ascii_lowercase();
        if self.written.contains(&id) {
            return Ok(None);
        }
        Ok(self.items_by_id.get(&id).cloned())
    }

    async fn item_by_id(&self, item_id: &str) -> Result<Option<XeroItem>, SyncError> {
        Ok(self.items_by_id.get(&item_id.to_ascii_lowercase()).cloned())
    }

    async fn item_by_code(&self, code: &str) -> Result<Option<XeroItem>, SyncError> {
        Ok(self
            .items_by_code
            .get(&key(code))
            .and_then(|items| items.iter().find(|i| same_name(&i.code, code)))
            .cloned())
    }

    async fn owner(&self, item_id: &str) -> Result<Option<String>, SyncError> {
        Ok(self.owners.get(&item_id.to_ascii_lowercase()).cloned())
    }
}

/// What to do with one product.
#[derive(Debug, Clone)]
pub(crate) enum Decision {
    /// "Add to Xero" is not ticked.
    NotForXero,
    Refused(Vec<Issue>),
    /// The item holds exactly this already; `issues` are the rules' warnings.
    Unchanged {
        item_id: String,
        issues: Vec<Issue>,
    },
    /// Changed in Xero since our last sync (`fields`, as the CRM names them): nothing is written.
    Kept {
        item_id: String,
        fields: Vec<&'static str>,
        issues: Vec<Issue>,
    },
    Send(Box<Sending>),
}

#[derive(Debug, Clone)]
pub(crate) struct Sending {
    pub(crate) payload: ItemPayload,
    pub(crate) hash: String,
    pub(crate) existing: Option<Existing>,
    /// The rules' warnings.
    pub(crate) issues: Vec<Issue>,
    /// Which of the account and tax rate came from the organisation's defaults, in words.
    pub(crate) note: Option<String>,
}

impl Sending {
    /// A renamed code goes to the item's own endpoint, one call for it alone.
    pub(crate) fn renames_code(&self) -> bool {
        self.existing.as_ref().is_some_and(|e| e.renames_code(&self.payload.code))
    }
}

/// Decides what to do with `product` (its id `product_id`), claiming its code when it is to be sent.
pub(crate) async fn decide(
    product_id: &str,
    product: &CrmProduct,
    fields: &FieldMap,
    org: &Organisation,
    catalogue: &mut RunCatalogue,
) -> Decision {
    // Unticked or absent: not for Xero. A value of the wrong type is for the rules to name.
    if matches!(product.add_to_xero, FieldValue::Missing | FieldValue::Present(false)) {
        return Decision::NotForXero;
    }
    let report = org.check(product, fields);
    let Some(mut payload) = report.payload(product).filter(|_| !report.issues.iter().any(Issue::is_error)) else {
        return Decision::Refused(report.issues);
    };
    let note = report.resolved.as_ref().and_then(resolution_note);
    let warnings: Vec<Issue> = report.issues.into_iter().filter(|i| !i.is_error()).collect();
    let refused =
        |issue: Issue, warnings: Vec<Issue>| Decision::Refused(std::iter::once(issue).chain(warnings).collect());
    if let Some(owner) = catalogue.claimant(&payload.code, product_id) {
        return refused(item::code_in_use(owner, None), warnings);
    }
    let existing = match item::existing_item(product_id, product, &*catalogue).await {
        Ok(Match::New) => None,
        Ok(Match::Existing(existing)) => Some(*existing),
        Ok(Match::Taken(item)) => {
            return refused(item::code_in_use(&item_label(item.name.as_deref(), &item.code), None), warnings);
        }
        Err(other) => {
            // The run's catalogue answers from memory: nothing else can fail. Said plainly if it does.
            let issue = Issue::error("", shared::IssueCode::XeroRejected, crate::describe(&other));
            return Decision::Refused(vec![issue]);
        }
    };
    payload.item_id = existing.as_ref().map(|e| e.item_id.clone());
    let hash = payload.content_hash();
    catalogue.claim(&payload, product_id);
    let names = Names { accounts: &org.accounts, tax_rates: &org.tax_rates };
    let edits = match &existing {
        Some(Existing { state: Some(before), current: Some(now), synced_at, .. }) => {
            xero_edits::xero_edits(before, now, &payload, fields, &names, synced_at.unwrap_or_else(Utc::now))
        }
        _ => Vec::new(),
    };
    match existing {
        Some(existing) if !edits.is_empty() => Decision::Kept {
            item_id: existing.item_id,
            fields: edits.iter().map(|e| xero_edits::label(&e.field, fields)).collect(),
            issues: warnings,
        },
        Some(existing) if existing.unchanged(&hash) => {
            Decision::Unchanged { item_id: existing.item_id, issues: warnings }
        }
        existing => Decision::Send(Box::new(Sending { payload, hash, existing, issues: warnings, note })),
    }
}
