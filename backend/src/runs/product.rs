//! What a run does with one product, decided as the button decides ([`crate::sync::item`]): skipped when
//! "Add to Xero" is not ticked, refused with its issues by the shared rules against the organisation's
//! accounts and tax rates, refused when another product holds its code, unchanged when the item already
//! holds exactly this content, otherwise sent. The item lists come from the run's one read of Xero
//! ([`RunCatalogue`]), and codes sent earlier in the run are claimed so two products whose codes differ only
//! in case never share an item.

use std::collections::HashMap;
use std::sync::Arc;

use shared::rules::same_name;
use shared::{Account, CrmProduct, FieldMap, FieldValue, Issue, ItemPayload, TaxRate};

use crate::store::{ItemLink, LinkState};
use crate::sync::SyncError;
use crate::sync::item::{self, Catalogue, Existing};
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
    /// Codes (folded) and the product this run sends or links under each.
    claims: HashMap<String, String>,
}

impl RunCatalogue {
    pub(crate) fn new(items: Vec<XeroItem>, links: Vec<LinkState>) -> Self {
        let mut catalogue = RunCatalogue {
            links: HashMap::new(),
            items_by_id: HashMap::new(),
            items_by_code: HashMap::new(),
            owners: HashMap::new(),
            claims: HashMap::new(),
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
            self.claims.insert(key(&item.code), owner.clone());
        }
        self.items_by_code.entry(key(&item.code)).or_default().push(item.clone());
        self.items_by_id.insert(item.item_id.to_ascii_lowercase(), item);
    }

    /// The link of a product, as the run last wrote or read it.
    pub(crate) fn link_state(&self, product_id: &str) -> Option<&LinkState> {
        self.links.get(product_id)
    }

    /// Records what a batch of the run wrote: the product's link and its item.
    pub(crate) fn linked(&mut self, link: &ItemLink) {
        if let Some(previous) = self.links.get(&link.product_id) {
            self.owners.remove(&previous.link.item_id.to_ascii_lowercase());
        }
        self.owners.insert(link.item_id.to_ascii_lowercase(), link.product_id.clone());
        let item = XeroItem {
            item_id: link.item_id.clone(),
            code: link.code.clone(),
            name: None,
            description: None,
            sales_details: None,
            updated_date_utc: None,
        };
        self.items_by_code
            .values_mut()
            .for_each(|items| items.retain(|i| !i.item_id.eq_ignore_ascii_case(&link.item_id)));
        self.add_item(item);
        self.claims.insert(key(&link.code), link.product_id.clone());
        self.links.insert(
            link.product_id.clone(),
            LinkState { link: link.clone(), zoho_modified_time: None, writeback_pending: true },
        );
    }

    /// The write-back of a product's link reached the CRM.
    pub(crate) fn written_back(&mut self, product_id: &str) {
        if let Some(state) = self.links.get_mut(product_id) {
            state.writeback_pending = false;
        }
    }

    /// Who else holds `code` in this run or in Xero, if anyone.
    fn claimant(&self, code: &str, product_id: &str) -> Option<&str> {
        self.claims.get(&key(code)).map(String::as_str).filter(|owner| *owner != product_id)
    }

    fn claim(&mut self, code: &str, product_id: &str) {
        self.claims.insert(key(code), product_id.to_owned());
    }
}

impl Catalogue for RunCatalogue {
    /// A link whose item Xero no longer has (deleted there) is no link: the product is matched afresh.
    async fn link(&self, product_id: &str) -> Result<Option<ItemLink>, SyncError> {
        Ok(self
            .links
            .get(product_id)
            .filter(|state| self.items_by_id.contains_key(&state.link.item_id.to_ascii_lowercase()))
            .map(|state| state.link.clone()))
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

/// The organisation's lists, read once per run.
pub(crate) struct Chart {
    pub(crate) accounts: Arc<Vec<Account>>,
    pub(crate) tax_rates: Arc<Vec<TaxRate>>,
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
    Send(Box<Sending>),
}

#[derive(Debug, Clone)]
pub(crate) struct Sending {
    pub(crate) payload: ItemPayload,
    pub(crate) hash: String,
    pub(crate) existing: Option<Existing>,
    /// The rules' warnings.
    pub(crate) issues: Vec<Issue>,
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
    chart: &Chart,
    catalogue: &mut RunCatalogue,
) -> Decision {
    // Unticked or absent: not for Xero. A value of the wrong type is for the rules to name.
    if matches!(product.add_to_xero, FieldValue::Missing | FieldValue::Present(false)) {
        return Decision::NotForXero;
    }
    let report = item::check(product, fields, &chart.accounts, &chart.tax_rates);
    let Some(mut payload) = report.payload(product).filter(|_| !report.issues.iter().any(Issue::is_error)) else {
        return Decision::Refused(report.issues);
    };
    let warnings: Vec<Issue> = report.issues.into_iter().filter(|i| !i.is_error()).collect();
    if let Some(owner) = catalogue.claimant(&payload.code, product_id) {
        let mut issues = vec![item::code_in_use(&payload.code, owner)];
        issues.extend(warnings);
        return Decision::Refused(issues);
    }
    let existing = match item::existing_item(product_id, product, &*catalogue).await {
        Ok(existing) => existing,
        Err(SyncError::Refused(mut issues)) => {
            issues.extend(warnings);
            return Decision::Refused(issues);
        }
        Err(other) => {
            // The run's catalogue answers from memory: nothing else can fail. Said plainly if it does.
            let issue = Issue::error("", shared::IssueCode::XeroRejected, crate::describe(&other));
            return Decision::Refused(vec![issue]);
        }
    };
    payload.item_id = existing.as_ref().map(|e| e.item_id.clone());
    let hash = payload.content_hash();
    catalogue.claim(&payload.code, product_id);
    match existing {
        Some(existing) if existing.unchanged(&hash) => {
            Decision::Unchanged { item_id: existing.item_id, issues: warnings }
        }
        existing => Decision::Send(Box::new(Sending { payload, hash, existing, issues: warnings })),
    }
}
