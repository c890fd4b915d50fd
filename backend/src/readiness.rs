//! Catalogue readiness: every product of the CRM checked with the shared rules against the organisation's
//! live accounts and tax rates and its defaults (as a sync checks it: [`Organisation`]), counted as ready, blocked or not for Xero, the blocked ones grouped by the
//! field at fault. The sync-health view: an admin sees what a bulk sync would refuse before running one.
//!
//! A big catalogue takes a while to read (a Zoho call per 200 products), so the check runs in the
//! background and the page shows the last result with its time. Zoho is spared: one check at a time, at
//! most one a minute, each reading the catalogue once, 200 products a call (`page`, then `page_token`, as
//! the bulk engine reads it), within [`CHECK_TIME_LIMIT`].

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use crate::field_names::FieldNames;
use chrono::{DateTime, Utc};
use shared::{CrmProduct, FieldMap, OrgDefaults, Requirement, XeroContext, validate_with};

use crate::background::Background;
use crate::store::{ConnectionStatus, Store};
use crate::sync::Organisation;
use crate::xero::XeroClient;
use crate::zoho::ZohoClient;

/// A check that has not finished by then is given up (and says so).
const CHECK_TIME_LIMIT: Duration = Duration::from_secs(10 * 60);
/// "Check again" sooner than this after the last check started shows the last result instead.
const MIN_INTERVAL: Duration = Duration::from_secs(60);

/// The result of one check.
#[derive(Debug, Clone)]
pub(crate) struct CatalogueReport {
    pub(crate) checked_at: DateTime<Utc>,
    /// How long reading and checking took.
    pub(crate) took: Duration,
    pub(crate) products: usize,
    /// Nothing blocks them (`with_warnings` of them have warnings).
    pub(crate) ready: usize,
    pub(crate) with_warnings: usize,
    /// Marked for Xero, and something blocks them.
    pub(crate) blocked: usize,
    /// "Add to Xero" not ticked: they are not meant to go, whatever else they lack.
    pub(crate) not_for_xero: usize,
    /// The blocked products by the field at fault, in checklist order; a product with errors on two fields
    /// is in both groups.
    pub(crate) groups: Vec<FieldGroup>,
}

/// The blocked products with errors on one field.
#[derive(Debug, Clone)]
pub(crate) struct FieldGroup {
    /// The CRM API name.
    pub(crate) field: String,
    /// The CRM's label for it ("Xero GL Account").
    pub(crate) label: String,
    /// By name (any case), then id.
    pub(crate) products: Vec<BlockedProduct>,
}

#[derive(Debug, Clone)]
pub(crate) struct BlockedProduct {
    pub(crate) id: String,
    pub(crate) name: Option<String>,
    pub(crate) code: Option<String>,
    /// The errors on this group's field, in words.
    pub(crate) messages: Vec<String>,
}

/// What the page shows: the last result, and whether a check is under way or the last one failed.
#[derive(Debug, Clone, Default)]
pub(crate) struct Snapshot {
    pub(crate) last: Option<Arc<CatalogueReport>>,
    pub(crate) checking_since: Option<DateTime<Utc>>,
    /// The last check's failure, when it failed after the last result.
    pub(crate) failure: Option<(DateTime<Utc>, String)>,
}

/// What asking for a check did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Started {
    Now,
    /// One is under way already.
    AlreadyChecking,
    /// The last one started less than a minute ago.
    TooSoon,
}

/// Why a check could not finish.
#[derive(Debug, thiserror::Error)]
enum CheckError {
    #[error("Xero is not connected, so there are no accounts and tax rates to check against; connect it first")]
    XeroNotConnected,
    #[error("Xero needs to be reconnected ({0}); reconnect it on the dashboard, then check again")]
    XeroReconnect(String),
    #[error("Xero's accounts and tax rates, or the organisation's defaults, could not be read: {0}")]
    Xero(String),
    #[error("the products could not be read from Zoho CRM: {0}")]
    Zoho(String),
    #[error("reading the catalogue took longer than {} minutes; check again later", CHECK_TIME_LIMIT.as_secs() / 60)]
    TooSlow,
    #[error("the stored Xero connection could not be read")]
    Store(#[from] crate::store::StoreError),
}

/// The readiness checker; cheap to clone.
#[derive(Clone)]
pub(crate) struct Readiness {
    inner: Arc<Inner>,
}

struct Inner {
    store: Store,
    xero: XeroClient,
    zoho: ZohoClient,
    fields: FieldNames,
    background: Background,
    state: Mutex<State>,
}

#[derive(Default)]
struct State {
    snapshot: Snapshot,
    started: Option<Instant>,
}

impl Readiness {
    pub(crate) fn new(
        store: Store,
        xero: XeroClient,
        zoho: ZohoClient,
        fields: FieldNames,
        background: Background,
    ) -> Self {
        let state = Mutex::new(State::default());
        Self { inner: Arc::new(Inner { store, xero, zoho, fields, background, state }) }
    }

    fn state(&self) -> MutexGuard<'_, State> {
        self.inner.state.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    pub(crate) fn snapshot(&self) -> Snapshot {
        self.state().snapshot.clone()
    }

    /// Starts a check in the background unless one is under way or started less than a minute ago.
    pub(crate) fn check(&self) -> Started {
        {
            let mut state = self.state();
            if state.snapshot.checking_since.is_some() {
                return Started::AlreadyChecking;
            }
            if state.started.is_some_and(|at| at.elapsed() < MIN_INTERVAL) {
                return Started::TooSoon;
            }
            state.started = Some(Instant::now());
            state.snapshot.checking_since = Some(Utc::now());
        }
        let this = self.clone();
        self.inner.background.spawn(async move {
            let started = Instant::now();
            let result = tokio::time::timeout(CHECK_TIME_LIMIT, this.run()).await.unwrap_or(Err(CheckError::TooSlow));
            let mut state = this.state();
            state.snapshot.checking_since = None;
            match result {
                Ok(report) => {
                    tracing::info!(products = report.products, took = ?started.elapsed(), "catalogue readiness checked");
                    state.snapshot.last = Some(Arc::new(report));
                    state.snapshot.failure = None;
                }
                Err(error) => {
                    let message = crate::describe(&error);
                    tracing::warn!(error = %message, "the catalogue readiness check failed");
                    state.snapshot.failure = Some((Utc::now(), message));
                }
            }
        });
        Started::Now
    }

    /// Starts the first check when there has been none (a page's first visit).
    pub(crate) fn check_if_never(&self) {
        let never = {
            let state = self.state();
            state.started.is_none()
        };
        if never {
            self.check();
        }
    }

    async fn run(&self) -> Result<CatalogueReport, CheckError> {
        let started = Instant::now();
        let connection = self.inner.store.xero_connection().await?.ok_or(CheckError::XeroNotConnected)?;
        if connection.status == ConnectionStatus::ReconnectNeeded {
            let reason = connection.status_reason.unwrap_or_else(|| "the connection was refused".to_owned());
            return Err(CheckError::XeroReconnect(reason));
        }
        // The lists and defaults a sync of each product would be checked against.
        let org = Organisation::load(&self.inner.store, &self.inner.xero, &connection.tenant_id)
            .await
            .map_err(|e| CheckError::Xero(crate::describe(&e)))?;
        let fields = self.inner.fields.current();
        let fields = &*fields;
        let records = self
            .inner
            .zoho
            .products_modified_since(None, &fields.read_fields())
            .await
            .map_err(|e| CheckError::Zoho(crate::describe(&e)))?;
        let context = XeroContext { accounts: Some(&org.accounts), tax_rates: Some(&org.tax_rates) };
        let products = records.iter().map(|record| CrmProduct::from_object(record, fields));
        let mut report = assess(products, fields, context, &org.defaults);
        report.took = started.elapsed();
        Ok(report)
    }
}

/// Checks each product and counts them; what [`Readiness`] runs on the catalogue it read.
pub(crate) fn assess(
    products: impl Iterator<Item = CrmProduct>,
    fields: &FieldMap,
    context: XeroContext<'_>,
    defaults: &OrgDefaults,
) -> CatalogueReport {
    let mut report = CatalogueReport {
        checked_at: Utc::now(),
        took: Duration::ZERO,
        products: 0,
        ready: 0,
        with_warnings: 0,
        blocked: 0,
        not_for_xero: 0,
        groups: Vec::new(),
    };
    let mut groups: BTreeMap<String, Vec<BlockedProduct>> = BTreeMap::new();
    for product in products {
        report.products += 1;
        let checked = validate_with(&product, fields, context, defaults);
        if checked.can_sync() {
            report.ready += 1;
            if checked.warnings().next().is_some() {
                report.with_warnings += 1;
            }
            continue;
        }
        if !product.add_to_xero.is_true() {
            report.not_for_xero += 1;
            continue;
        }
        report.blocked += 1;
        let mut by_field: BTreeMap<&str, Vec<String>> = BTreeMap::new();
        for issue in checked.errors() {
            by_field.entry(issue.field.as_str()).or_default().push(issue.message.clone());
        }
        for (field, messages) in by_field {
            groups.entry(field.to_owned()).or_default().push(BlockedProduct {
                id: product.id.text().unwrap_or_default().to_owned(),
                name: product.name.text().map(str::to_owned),
                code: product.code.text().map(str::to_owned),
                messages,
            });
        }
    }
    // Checklist order, then any field the checklist does not list.
    let mut ordered: Vec<(String, String)> =
        Requirement::ALL.iter().map(|r| (r.field(fields).to_owned(), r.label().to_owned())).collect();
    for field in groups.keys() {
        if !ordered.iter().any(|(f, _)| f == field) {
            let label = if field.is_empty() { "Other".to_owned() } else { field.clone() };
            ordered.push((field.clone(), label));
        }
    }
    for (field, label) in ordered {
        if let Some(mut products) = groups.remove(&field) {
            products.sort_by_cached_key(|p| (p.name.as_deref().unwrap_or_default().to_lowercase(), p.id.clone()));
            report.groups.push(FieldGroup { field, label, products });
        }
    }
    report
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn product(id: &str, name: &str, code: Option<&str>, add: bool, gl: &str) -> CrmProduct {
        let record = json!({"id": id, "Product_Name": name, "Product_Code": code, "Add_to_Xero": add, "Taxable": true,
            "Tax": ["GST - 10.0 %"], "Xero_GL_Account": gl, "Xero_Tax_Rate": "OUTPUT", "Unit_Price": 5.0});
        CrmProduct::from_json(&record, &FieldMap::default()).expect("record")
    }

    #[test]
    fn products_are_ready_blocked_or_not_for_xero_and_grouped_by_field() {
        let products = vec![
            product("1", "Mouse", Some("M-1"), true, "200"),
            product("2", "beta", None, true, ""),
            product("3", "Alpha", None, true, "200"),
            product("4", "Cable", None, false, ""),
        ];
        let report = assess(products.into_iter(), &FieldMap::default(), XeroContext::NONE, &OrgDefaults::NONE);
        assert_eq!((report.products, report.ready, report.blocked, report.not_for_xero), (4, 1, 2, 1));
        let groups: Vec<(&str, Vec<&str>)> = report
            .groups
            .iter()
            .map(|g| (g.field.as_str(), g.products.iter().map(|p| p.id.as_str()).collect()))
            .collect();
        assert_eq!(groups, [("Product_Code", vec!["3", "2"]), ("Xero_GL_Account", vec!["2"])]);
        assert_eq!(report.groups[0].label, "Product Code");
        assert!(!report.groups[1].products[0].messages.is_empty());
    }
}
