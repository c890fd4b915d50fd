//! The widget's state and its reducer: pure Rust, no browser, so every transition is testable anywhere.
//!
//! The record as the CRM holds it and the user's unsaved edits are kept apart; the product the checklist
//! shows is the two merged, revalidated with the shared rules on every edit, with no network call.
//!
//! The rules run without Xero's lists ([`XeroContext::NONE`]): matching names against the chart (with its
//! Unicode case folding and closest-name suggestions) would add 17 KB gzip to the bundle, over its budget.
//! The pick-lists offer only valid names instead, and a name Xero does not know comes back from the sync
//! as an issue on its field, with suggestions.

use std::collections::BTreeMap;
use std::rc::Rc;

use serde_json::{Map, Value};
use shared::wire::{AccountOption, ApiError, ErrorCode, HistoryEntry, PickLists, SyncResponse, TaxRateOption};
use shared::{CrmProduct, FieldMap, Issue, Report, Severity, XeroContext, validate};
use yew::Reducible;

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

#[derive(Debug, Clone)]
pub struct Model {
    /// Counts transitions: a model is only ever compared with its own earlier versions (Yew's props
    /// check), so this makes that comparison O(1) instead of deep.
    revision: u64,
    pub map: FieldMap,
    pub phase: Phase,
    /// The record as last read from the CRM.
    pub record: Map<String, Value>,
    /// Unsaved changes, by field API name.
    pub edits: BTreeMap<String, Value>,
    /// `record` with `edits` applied.
    pub product: CrmProduct,
    pub report: Report,
    /// Xero's active sales accounts and revenue tax rates, for the pick-lists.
    pub accounts: Vec<AccountOption>,
    pub tax_rates: Vec<TaxRateOption>,
    /// Why the Xero pick-lists are missing, when they failed to load.
    pub options_error: Option<String>,
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
            phase: Phase::Loading("Connecting to the CRM…"),
            record: Map::new(),
            edits: BTreeMap::new(),
            product,
            report,
            accounts: Vec::new(),
            tax_rates: Vec::new(),
            options_error: None,
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
    Options(PickLists),
    OptionsFailed(String),
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
        self.report = validate(&self.product, &self.map, XeroContext::NONE);
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
                self.edits.retain(|field, value| record.get(field).unwrap_or(&Value::Null) != value);
                self.phase = Phase::Ready;
            }
            Action::Edit(field, value) => {
                self.server_issues.retain(|i| i.field != field);
                if self.record.get(&field).unwrap_or(&Value::Null) == &value {
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
                self.accounts = lists.accounts;
                self.tax_rates = lists.tax_rates;
                self.options_error = None;
            }
            Action::OptionsFailed(message) => self.options_error = Some(message),
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
