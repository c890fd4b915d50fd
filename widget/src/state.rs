//! The widget's state and its reducer: pure Rust, no browser, so every transition is testable anywhere.
//!
//! The record as the CRM holds it and the user's unsaved edits are kept apart; the product the checklist
//! shows is the two merged, revalidated with the shared rules on every edit, with no network call.
//!
//! Until Xero's lists arrive from the backend the rules run without them ([`XeroContext::NONE`]); from then
//! on with them, exactly as the backend runs them, so a mistyped or archived account or rate is flagged,
//! with the closest names suggested, as it is typed.

use std::rc::Rc;

use serde_json::{Map, Value};
use shared::wire::{ApiError, ErrorCode, HistoryEntry, PickLists, SyncResponse};
use shared::{Account, CrmProduct, FieldMap, Issue, Report, Severity, TaxRate, XeroContext, fields, validate};
use yew::Reducible;

use crate::json::object;

/// Where the widget is in its start-up.
#[derive(Debug, Clone, PartialEq)]
pub enum Phase {
    /// What it is waiting for, in words.
    Loading(&'static str),
    /// It cannot go on; the message says what to do.
    Failed(String),
    Ready,
}

/// What the user last asked for, and how it went.
#[derive(Debug, Clone, PartialEq)]
pub enum Activity {
    Idle,
    Saving,
    Saved,
    SaveFailed(String),
    Syncing,
    Synced(SyncResponse),
    SyncFailed(ApiError),
}

/// A tax, as the CRM's `Tax` multi-select offers and stores it.
#[derive(Debug, Clone, PartialEq)]
pub struct CrmTax {
    /// The CRM's id of the tax; records from older API versions name taxes without one.
    pub id: Option<String>,
    /// What the CRM shows, and stores as the tax's `value`: e.g. "GST - 10.0 %".
    pub label: String,
}

/// What the CRM says of the Products fields (`META.getFields`): which exist, and the taxes `Tax` offers.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct CrmFields {
    pub api_names: Vec<String>,
    pub taxes: Vec<CrmTax>,
}

impl CrmFields {
    /// From `META.getFields`' answer: `{fields:[{api_name, pick_list_values:[{id, display_value,
    /// actual_value}]}]}` (reference §2.2).
    pub fn from_meta(meta: &Value) -> Result<CrmFields, String> {
        let fields = meta["fields"].as_array().ok_or("the CRM described no fields for products")?;
        let api_names = fields.iter().filter_map(|f| f["api_name"].as_str().map(str::to_owned)).collect();
        // Without a Tax field there are no taxes to offer; the fields that exist are still worth knowing.
        let tax = fields.iter().find(|f| f["api_name"] == fields::TAX);
        let values = tax.and_then(|t| t["pick_list_values"].as_array()).map(Vec::as_slice).unwrap_or_default();
        let taxes = values
            .iter()
            .filter_map(|v| {
                let label = v["display_value"].as_str().or_else(|| v["actual_value"].as_str())?.trim();
                let id = v["id"].as_str().map(str::to_owned);
                (!label.is_empty()).then(|| CrmTax { id, label: label.to_owned() })
            })
            .collect();
        Ok(CrmFields { api_names, taxes })
    }
}

impl CrmTax {
    /// One element of the `Tax` field: `{id, value}` in v8, a name alone in older versions (the shared
    /// parser reads `name` too).
    fn from_item(item: &Value) -> Option<CrmTax> {
        let (id, label) = match item {
            Value::String(name) => (None, name.as_str()),
            Value::Object(tax) => {
                let label = tax.get("value").or_else(|| tax.get("name")).and_then(Value::as_str)?;
                (tax.get("id").and_then(Value::as_str).map(str::to_owned), label)
            }
            _ => return None,
        };
        let label = label.trim();
        (!label.is_empty()).then(|| CrmTax { id, label: label.to_owned() })
    }

    /// The same tax: the same id when both have one, else the same label.
    pub fn same(&self, other: &CrmTax) -> bool {
        match (&self.id, &other.id) {
            (Some(a), Some(b)) => a == b,
            _ => self.label == other.label,
        }
    }

    /// As `updateRecord` takes it.
    fn to_value(&self) -> Value {
        match &self.id {
            Some(id) => object(vec![("id", id.as_str().into()), ("value", self.label.as_str().into())]),
            None => object(vec![("value", self.label.as_str().into())]),
        }
    }
}

/// The taxes a `Tax` field value holds: a list, or one name (older API versions).
fn taxes_in(value: &Value) -> Vec<CrmTax> {
    match value {
        Value::Array(items) => items.iter().filter_map(CrmTax::from_item).collect(),
        one => CrmTax::from_item(one).into_iter().collect(),
    }
}

/// Whether two values of `field` mean the same: for `Tax`, the same taxes in any order and shape.
fn same_value(field: &str, a: &Value, b: &Value) -> bool {
    if field != fields::TAX {
        return a == b;
    }
    let (a, b) = (taxes_in(a), taxes_in(b));
    let within = |x: &[CrmTax], y: &[CrmTax]| x.iter().all(|t| y.iter().any(|u| t.same(u)));
    within(&a, &b) && within(&b, &a)
}

#[derive(Debug, Clone)]
pub struct Model {
    /// Counts transitions: a model is only ever compared with its own earlier versions (Yew's props
    /// check), so this makes that comparison O(1) instead of deep.
    revision: u64,
    pub map: FieldMap,
    /// Whether `map` is the organisation's, from the backend, rather than the defaults.
    map_known: bool,
    pub phase: Phase,
    /// The record as last read from the CRM.
    pub record: Map<String, Value>,
    /// Unsaved changes, by field API name.
    pub edits: Map<String, Value>,
    /// `record` with `edits` applied.
    pub product: CrmProduct,
    pub report: Report,
    /// The organisation's chart of accounts and tax rates, for the rules and the pick-lists; `None` until
    /// loaded.
    pub accounts: Option<Vec<Account>>,
    pub tax_rates: Option<Vec<TaxRate>>,
    /// Why the Xero pick-lists are missing, when they failed to load.
    pub options_error: Option<String>,
    /// The CRM's Products fields and taxes; `None` until loaded.
    pub crm_fields: Option<CrmFields>,
    /// Why they are missing, when they failed to load.
    pub crm_fields_error: Option<String>,
    /// The user pressed Close with unsaved changes and is asked whether to drop them.
    pub confirm_close: bool,
    /// Issues the backend or Xero raised on the last sync, until their field is edited.
    pub server_issues: Vec<Issue>,
    pub activity: Activity,
    /// The product's recent syncs, newest first; `None` until loaded.
    pub history: Option<Result<Vec<HistoryEntry>, String>>,
}

impl Default for Model {
    fn default() -> Self {
        let map = FieldMap::default();
        let product = CrmProduct::from_object(&Map::new(), &map);
        let report = validate(&product, &map, XeroContext::NONE);
        Self {
            revision: 0,
            map,
            map_known: false,
            phase: Phase::Loading("Connecting to the CRM…"),
            record: Map::new(),
            edits: Map::new(),
            product,
            report,
            accounts: None,
            tax_rates: None,
            options_error: None,
            crm_fields: None,
            crm_fields_error: None,
            confirm_close: false,
            server_issues: Vec::new(),
            activity: Activity::Idle,
            history: None,
        }
    }
}

#[derive(Debug, Clone, PartialEq)]
pub enum Action {
    Loading(&'static str),
    Fail(String),
    /// The record was read (first time, after a save, or after a sync).
    Record(Map<String, Value>),
    /// The user changed a field; `Value::Null` clears it.
    Edit(String, Value),
    /// The user ticked (`true`) or unticked a tax.
    ToggleTax(CrmTax, bool),
    Options(PickLists),
    OptionsFailed(String),
    CrmFields(Result<CrmFields, String>),
    /// Close was pressed with unsaved changes: ask first.
    AskToClose,
    KeepEditing,
    History(Result<Vec<HistoryEntry>, String>),
    Saving,
    SaveFailed(String),
    Syncing,
    Synced(SyncResponse),
    SyncFailed(ApiError),
}

impl Model {
    /// A model ready to show `record` (component tests and benchmarks start here).
    pub fn with_record(record: Map<String, Value>) -> Self {
        Self::default().apply(Action::Record(record))
    }

    /// The value a field will have once saved.
    pub fn value(&self, field: &str) -> &Value {
        self.edits.get(field).or_else(|| self.record.get(field)).unwrap_or(&Value::Null)
    }

    /// A text field as an input shows it.
    pub fn text(&self, field: &str) -> String {
        self.value(field).as_str().unwrap_or_default().to_owned()
    }

    pub fn has_edits(&self) -> bool {
        !self.edits.is_empty()
    }

    /// The custom fields (label, API name) the CRM says it does not have: values typed for them would be
    /// dropped by the CRM, so they are a setup problem for the admin, not something to fix here.
    pub fn missing_fields(&self) -> Vec<(&'static str, &str)> {
        // Only against the organisation's names: the defaults may be what it renamed.
        let Some(crm) = self.crm_fields.as_ref().filter(|_| self.map_known) else { return Vec::new() };
        self.map.custom_fields().into_iter().filter(|(_, name)| !crm.api_names.iter().any(|n| n == name)).collect()
    }

    /// Whether `field` is one of [`Model::missing_fields`].
    pub fn is_missing(&self, field: &str) -> bool {
        self.missing_fields().iter().any(|(_, name)| *name == field)
    }

    /// Whether the product will have `tax` selected once saved.
    pub fn has_tax(&self, tax: &CrmTax) -> bool {
        taxes_in(self.value(fields::TAX)).iter().any(|t| t.same(tax))
    }

    /// The taxes the `Tax` picker offers: the CRM's, in its order, then any the product holds that the
    /// CRM no longer lists (so they can be seen and removed).
    pub fn tax_choices(&self) -> Vec<CrmTax> {
        let mut choices = self.crm_fields.as_ref().map(|f| f.taxes.clone()).unwrap_or_default();
        for held in taxes_in(self.value(fields::TAX)) {
            if !choices.iter().any(|t| t.same(&held)) {
                choices.push(held);
            }
        }
        choices
    }

    /// The `Tax` field's value with `tax` selected or not, as `updateRecord` takes it.
    fn taxes_with(&self, tax: &CrmTax, selected: bool) -> Value {
        let chosen = self.tax_choices().into_iter().filter(|t| if t.same(tax) { selected } else { self.has_tax(t) });
        chosen.map(|t| t.to_value()).collect()
    }

    /// Our rules' issues and the server's, on one field.
    pub fn issues_on<'a>(&'a self, field: &'a str) -> impl Iterator<Item = &'a Issue> {
        self.report.issues.iter().chain(&self.server_issues).filter(move |i| i.field == field)
    }

    pub fn severity_of(&self, field: &str) -> Option<Severity> {
        self.issues_on(field).map(|i| i.severity).max()
    }

    /// Why the sync button is disabled, or `None` when it may be pressed.
    pub fn sync_blocked(&self) -> Option<String> {
        let blockers = self.report.errors().count();
        if self.phase != Phase::Ready {
            Some("The product is still loading.".into())
        } else if blockers > 0 {
            Some(match blockers {
                1 => "Fix the item marked ✗ first.".into(),
                n => format!("Fix the {n} items marked ✗ first."),
            })
        } else if self.has_edits() {
            Some("Save your changes to the CRM first: the sync reads the saved record.".into())
        } else if matches!(self.activity, Activity::Saving | Activity::Syncing) {
            Some("Please wait…".into())
        } else {
            None
        }
    }

    fn revalidate(&mut self) {
        let mut merged = self.record.clone();
        merged.extend(self.edits.iter().map(|(k, v)| (k.clone(), v.clone())));
        self.product = CrmProduct::from_object(&merged, &self.map);
        let context = XeroContext { accounts: self.accounts.as_deref(), tax_rates: self.tax_rates.as_deref() };
        self.report = validate(&self.product, &self.map, context);
    }

    /// The transition for `action` (the reducer, by value).
    pub fn apply(mut self, action: Action) -> Self {
        match action {
            Action::Loading(what) => self.phase = Phase::Loading(what),
            Action::Fail(message) => self.phase = Phase::Failed(message),
            Action::Record(record) => {
                if matches!(self.activity, Activity::Saving) {
                    self.activity = Activity::Saved;
                    self.edits.clear();
                }
                self.record = record;
                // Edits that now equal the record are no longer changes.
                let record = &self.record;
                self.edits.retain(|field, value| !same_value(field, record.get(field).unwrap_or(&Value::Null), value));
                self.phase = Phase::Ready;
            }
            Action::ToggleTax(tax, selected) => {
                let value = self.taxes_with(&tax, selected);
                return self.apply(Action::Edit(fields::TAX.to_owned(), value));
            }
            Action::Edit(field, value) => {
                self.confirm_close = false;
                self.server_issues.retain(|i| i.field != field);
                if same_value(&field, self.record.get(&field).unwrap_or(&Value::Null), &value) {
                    self.edits.remove(&field);
                } else {
                    self.edits.insert(field, value);
                }
                if !matches!(self.activity, Activity::Saving | Activity::Syncing) {
                    self.activity = Activity::Idle;
                }
            }
            Action::Options(lists) => {
                // The organisation's field names: the record is read again through them below.
                self.map = lists.fields;
                self.map_known = true;
                self.accounts = Some(lists.accounts);
                self.tax_rates = Some(lists.tax_rates);
                self.options_error = None;
            }
            Action::OptionsFailed(message) => self.options_error = Some(message),
            Action::CrmFields(Ok(crm)) => {
                self.crm_fields = Some(crm);
                self.crm_fields_error = None;
            }
            Action::CrmFields(Err(message)) => self.crm_fields_error = Some(message),
            Action::AskToClose => self.confirm_close = true,
            Action::KeepEditing => self.confirm_close = false,
            Action::History(entries) => self.history = Some(entries),
            Action::Saving => self.activity = Activity::Saving,
            Action::SaveFailed(message) => self.activity = Activity::SaveFailed(message),
            Action::Syncing => {
                self.server_issues.clear();
                self.activity = Activity::Syncing;
            }
            Action::Synced(response) => {
                self.server_issues.clear();
                self.activity = Activity::Synced(response);
            }
            Action::SyncFailed(error) => {
                self.server_issues = error.issues.clone();
                self.activity = Activity::SyncFailed(error);
            }
        }
        self.revalidate();
        self.revision += 1;
        self
    }
}

impl PartialEq for Model {
    fn eq(&self, other: &Self) -> bool {
        self.revision == other.revision
    }
}

impl Reducible for Model {
    type Action = Action;

    fn reduce(self: Rc<Self>, action: Action) -> Rc<Self> {
        Rc::new(Rc::unwrap_or_clone(self).apply(action))
    }
}

/// What an error code means for the user, beyond the server's sentence.
pub fn advice(error: &ApiError) -> Option<&'static str> {
    match error.code {
        ErrorCode::ReconnectNeeded => Some("Xero needs to be reconnected by your xero-sync admin."),
        ErrorCode::RateLimited => Some("Xero is busy right now; try again in a minute."),
        ErrorCode::UpstreamUnavailable | ErrorCode::Internal => Some("Trying again is safe: it never duplicates."),
        _ => None,
    }
}
