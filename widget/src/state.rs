//! The widget's state and its reducer: pure Rust, no browser, so every transition is testable anywhere.
//!
//! The record as the CRM holds it and the user's unsaved edits are kept apart; the product the checklist
//! shows is the two merged, revalidated with the shared rules on every edit, with no network call.
//!
//! Until Xero's lists arrive from the backend the rules run without them ([`XeroContext::NONE`]); from then
//! on with them, exactly as the backend runs them, so a mistyped or archived account or rate is flagged,
//! with the closest names suggested, as it is typed. The backend's preview adds what only it knows (a code
//! another product's item holds, what the sync would do, fields changed in Xero), for the saved record.
//!
//! The model never says "ready" for what it could not check: a name not yet compared with Xero's lists is
//! [`RowState::Unchecked`], and a failure to reach Xero is one [`Problem`], shown once at the top.

use std::rc::Rc;

use serde_json::{Map, Value};
use shared::wire::{ApiError, ErrorCode, HistoryEntry, PickLists, SyncPlan, SyncResponse, XeroEdits};
use shared::{
    Account, CrmProduct, FieldMap, Issue, IssueCode, OrgDefaults, Report, Requirement, Severity, TaxRate, XeroContext,
    fields, validate_with,
};
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

/// What the backend's preview adds to the rules, for the record as saved.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Preview {
    /// The backend's issues: the rules' again, and what only it can tell (a code another product's item
    /// holds).
    pub issues: Vec<Issue>,
    /// What a sync would do; `None` from a backend that does not say yet.
    pub plan: Option<SyncPlan>,
}

/// Who is using the widget, for showing times as the CRM shows them (`getCurrentUser`).
#[derive(Debug, Clone, PartialEq, Default)]
pub struct CrmUser {
    pub name: Option<String>,
    /// IANA, e.g. "Australia/Sydney".
    pub time_zone: Option<String>,
    /// Zoho's form, e.g. "en_AU".
    pub locale: Option<String>,
}

/// A failure that keeps the widget from checking the product against Xero: said once, in a banner at the
/// top, with Sync disabled until it is cleared ("Check again", or a later answer that succeeds).
#[derive(Debug, Clone, PartialEq)]
pub enum Problem {
    /// Xero (or Zoho) is not connected, or must be reconnected by an admin; the server's words.
    Reconnect(String),
    /// Xero's accounts and tax rates could not be loaded.
    ListsFailed(String),
    /// The preview (the server's check of the saved record) failed.
    PreviewFailed(String),
}

impl Problem {
    /// The banner's sentence.
    pub fn message(&self) -> String {
        match self {
            Problem::Reconnect(message) => message.clone(),
            Problem::ListsFailed(message) => format!(
                "Xero's accounts and tax rates could not be loaded, so the account and tax rate are not checked \
                 yet: {message}"
            ),
            Problem::PreviewFailed(message) => {
                format!("xero-sync could not check this product against Xero: {message}")
            }
        }
    }

    /// Why Sync is disabled meanwhile.
    pub fn reason(&self) -> &'static str {
        match self {
            Problem::Reconnect(_) => "Xero must be reconnected before anything can be synced (see the top).",
            Problem::ListsFailed(_) | Problem::PreviewFailed(_) => {
                "The product could not be checked against Xero; press “Check again” at the top."
            }
        }
    }
}

/// How one checklist row stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RowState {
    Met,
    Warning,
    Error,
    /// Could not be checked: a name with no Xero lists to compare it with.
    Unchecked,
    /// A name being typed that matches nothing yet: the message waits until the user pauses or leaves.
    Typing,
}

/// The name-matching errors whose message waits while the name is being typed.
const NAME_MATCHING: [IssueCode; 2] = [IssueCode::GlAccountUnknown, IssueCode::TaxRateUnknown];

/// How long typing must pause before a name-matching error shows.
pub const TYPING_PAUSE_MS: i32 = 600;

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
    /// The organisation's default account and tax mapping (none until the backend sends them).
    pub defaults: OrgDefaults,
    /// Why the Xero pick-lists are missing, when they failed to load.
    pub options_error: Option<ApiError>,
    /// The backend's check of the saved record; `None` until it answers (again, after each save).
    pub preview: Option<Result<Preview, ApiError>>,
    /// The CRM's Products fields and taxes; `None` until loaded.
    pub crm_fields: Option<CrmFields>,
    /// Why they are missing, when they failed to load.
    pub crm_fields_error: Option<String>,
    pub user: CrmUser,
    /// The user pressed Close with unsaved changes and is asked whether to drop them.
    pub confirm_close: bool,
    /// Issues the backend or Xero raised on the last sync, until their field is edited.
    pub server_issues: Vec<Issue>,
    /// The fields whose rows are listed first; the others are folded under "N checks passed". Decided when
    /// an answer arrives, never while typing, so a row never moves under the user's hands.
    pub attention: Vec<String>,
    /// The name field being typed in (its name-matching error waits), and the keystroke count it waits for.
    pub typing: Option<(String, u64)>,
    keystrokes: u64,
    /// The pick-list offers every usable account, not only revenue ones.
    pub all_accounts: bool,
    /// The user asked to choose an account or a tax rate on this product rather than take the default.
    pub own_account: bool,
    pub own_tax_rate: bool,
    /// What to do with the fields changed in Xero since the last sync, once the user chose.
    pub xero_edits: Option<XeroEdits>,
    /// Something was written to the record (saved, or synced and written back): closing reloads the CRM's
    /// record page so it shows it.
    pub wrote: bool,
    pub activity: Activity,
    /// The product's recent syncs, newest first; `None` until loaded.
    pub history: Option<Result<Vec<HistoryEntry>, String>>,
}

impl Default for Model {
    fn default() -> Self {
        let map = FieldMap::default();
        let product = CrmProduct::from_object(&Map::new(), &map);
        let report = validate_with(&product, &map, XeroContext::NONE, &OrgDefaults::NONE);
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
            defaults: OrgDefaults::default(),
            options_error: None,
            preview: None,
            crm_fields: None,
            crm_fields_error: None,
            user: CrmUser::default(),
            confirm_close: false,
            server_issues: Vec::new(),
            attention: Vec::new(),
            typing: None,
            keystrokes: 0,
            all_accounts: false,
            own_account: false,
            own_tax_rate: false,
            xero_edits: None,
            wrote: false,
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
    /// The organisation's defaults, from the same answer as the lists.
    Defaults(OrgDefaults),
    OptionsFailed(ApiError),
    /// The backend's preview of the saved record.
    Preview(Result<Preview, ApiError>),
    /// "Check again": the failed answers are asked for again.
    Recheck,
    CrmFields(Result<CrmFields, String>),
    User(CrmUser),
    /// Typing paused after the given keystroke, or (`None`) left the field: a name-matching error may show.
    Settle(Option<u64>),
    /// The account pick-list offers every usable account (`true`) or revenue ones only.
    AllAccounts(bool),
    /// "Use a different account / tax rate for this product" than the organisation's default.
    ChooseOwn(Requirement),
    ChooseXeroEdits(XeroEdits),
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

    /// What the preview says of the saved record, when it answered.
    pub fn plan(&self) -> Option<&SyncPlan> {
        self.preview.as_ref()?.as_ref().ok()?.plan.as_ref()
    }

    /// The preview's issues that still apply: not on a field edited since (they were about the saved
    /// value), and not already among the rules' own.
    fn preview_issues(&self) -> impl Iterator<Item = &Issue> {
        let issues = match &self.preview {
            Some(Ok(preview)) => preview.issues.as_slice(),
            _ => &[],
        };
        issues.iter().filter(|i| {
            !self.edits.contains_key(&i.field)
                && !self.report.issues.iter().any(|own| own.field == i.field && own.code == i.code)
        })
    }

    /// Our rules' issues and the server's (the preview's and the last sync's), on one field.
    pub fn issues_on<'a>(&'a self, field: &'a str) -> impl Iterator<Item = &'a Issue> {
        self.report
            .issues
            .iter()
            .chain(self.preview_issues())
            .chain(&self.server_issues)
            .filter(move |i| i.field == field)
    }

    pub fn severity_of(&self, field: &str) -> Option<Severity> {
        self.issues_on(field).map(|i| i.severity).max()
    }

    /// How a checklist row stands: its issues, else whether its check could be made.
    pub fn row_state(&self, requirement: Requirement) -> RowState {
        let field = requirement.field(&self.map);
        match self.severity_of(field) {
            Some(Severity::Error) if self.typing_on(field) => RowState::Typing,
            Some(Severity::Error) => RowState::Error,
            Some(Severity::Warning) => RowState::Warning,
            None if self.unchecked(requirement) => RowState::Unchecked,
            None => RowState::Met,
        }
    }

    /// Whether `field`'s only errors are name-matching ones whose message waits for a pause in typing.
    fn typing_on(&self, field: &str) -> bool {
        self.typing.as_ref().is_some_and(|(typing, _)| typing == field)
            && self.issues_on(field).filter(|i| i.is_error()).all(|i| NAME_MATCHING.contains(&i.code))
    }

    /// A chosen account or tax rate that could not be compared with Xero's lists (not loaded, or failed).
    fn unchecked(&self, requirement: Requirement) -> bool {
        match requirement {
            Requirement::GlAccount => self.accounts.is_none(),
            Requirement::TaxRate => self.tax_rates.is_none(),
            _ => false,
        }
    }

    /// The checklist's rows that block the sync: errors of the rules or the preview (a failed sync's are
    /// shown on their rows, but a retry stays possible), not counting a row whose message waits.
    pub fn blocking_rows(&self) -> usize {
        let blocks = |field: &str| {
            self.report.issues.iter().chain(self.preview_issues()).any(|i| i.field == field && i.is_error())
                && !self.typing_on(field)
        };
        Requirement::ALL.into_iter().filter(|r| blocks(r.field(&self.map))).count()
    }

    /// What keeps the widget from checking the product against Xero, if anything (one at a time, the most
    /// fundamental first).
    pub fn problem(&self) -> Option<Problem> {
        let sync_error = match &self.activity {
            Activity::SyncFailed(error) => Some(error),
            _ => None,
        };
        let preview_error = self.preview.as_ref().and_then(|p| p.as_ref().err());
        let errors = [self.options_error.as_ref(), preview_error, sync_error];
        if let Some(error) = errors.iter().flatten().find(|e| e.code == ErrorCode::ReconnectNeeded) {
            return Some(Problem::Reconnect(error.message.clone()));
        }
        if let Some(error) = &self.options_error {
            return Some(Problem::ListsFailed(error.message.clone()));
        }
        preview_error.map(|error| Problem::PreviewFailed(error.message.clone()))
    }

    /// Why the sync button is disabled, or `None` when it may be pressed.
    pub fn sync_blocked(&self) -> Option<String> {
        let blockers = self.blocking_rows();
        let edits_undecided = self.plan().is_some_and(|p| !p.xero_edits.is_empty()) && self.xero_edits.is_none();
        if self.phase != Phase::Ready {
            Some("The product is still loading.".into())
        } else if let Some(problem) = self.problem() {
            Some(problem.reason().into())
        } else if blockers > 0 {
            Some(match blockers {
                1 => "Fix the item marked ✗ first.".into(),
                n => format!("Fix the {n} items marked ✗ first."),
            })
        } else if self.typing.is_some() && self.report.errors().next().is_some() {
            Some("Finish typing the name first.".into())
        } else if self.has_edits() {
            Some("Save your changes to the CRM first: the sync reads the saved record.".into())
        } else if matches!(self.activity, Activity::Saving | Activity::Syncing) {
            Some("Please wait…".into())
        } else if edits_undecided {
            Some("Choose first what to do with the changes made in Xero.".into())
        } else {
            None
        }
    }

    fn revalidate(&mut self) {
        let mut merged = self.record.clone();
        merged.extend(self.edits.iter().map(|(k, v)| (k.clone(), v.clone())));
        self.product = CrmProduct::from_object(&merged, &self.map);
        let context = XeroContext { accounts: self.accounts.as_deref(), tax_rates: self.tax_rates.as_deref() };
        self.report = validate_with(&self.product, &self.map, context, &self.defaults);
    }

    /// Decides which rows are listed first: those that are not plainly met now. A row being edited stays
    /// where it is, so the input being typed in is never moved (and the focus never lost).
    fn place(&mut self) {
        let placed: Vec<String> = Requirement::ALL
            .into_iter()
            .filter(|r| {
                let field = r.field(&self.map);
                match self.edits.contains_key(field) {
                    true => self.attention.iter().any(|f| f == field),
                    false => self.row_state(*r) != RowState::Met,
                }
            })
            .map(|r| r.field(&self.map).to_owned())
            .collect();
        self.attention = placed;
    }

    /// The transition for `action` (the reducer, by value).
    pub fn apply(mut self, action: Action) -> Self {
        // Rows are placed again when an answer arrives, not when the user acts.
        let replace = matches!(
            action,
            Action::Record(_)
                | Action::Options(_)
                | Action::Defaults(_)
                | Action::OptionsFailed(_)
                | Action::Preview(_)
                | Action::CrmFields(_)
                | Action::Synced(_)
                | Action::SyncFailed(_)
        );
        match action {
            Action::Loading(what) => self.phase = Phase::Loading(what),
            Action::Fail(message) => self.phase = Phase::Failed(message),
            Action::Record(record) => {
                if matches!(self.activity, Activity::Saving) {
                    self.activity = Activity::Saved;
                    self.wrote = true;
                    self.edits.clear();
                }
                self.record = record;
                // Edits that now equal the record are no longer changes.
                let record = &self.record;
                self.edits.retain(|field, value| !same_value(field, record.get(field).unwrap_or(&Value::Null), value));
                // The preview was of the record before; a new one is asked for.
                self.preview = None;
                self.phase = Phase::Ready;
            }
            Action::ToggleTax(tax, selected) => {
                let value = self.taxes_with(&tax, selected);
                return self.apply(Action::Edit(fields::TAX.to_owned(), value));
            }
            Action::Edit(field, value) => {
                self.confirm_close = false;
                self.server_issues.retain(|i| i.field != field);
                // A `change` event repeats the last keystroke's value as the field is left: no new keystroke.
                if self.value(&field) != &value {
                    let names = [self.map.gl_account.as_str(), self.map.tax_rate.as_str()];
                    self.keystrokes += 1;
                    self.typing = names.contains(&field.as_str()).then(|| (field.clone(), self.keystrokes));
                }
                if same_value(&field, self.record.get(&field).unwrap_or(&Value::Null), &value) {
                    self.edits.remove(&field);
                } else {
                    self.edits.insert(field, value);
                }
                if !matches!(self.activity, Activity::Saving | Activity::Syncing) {
                    self.activity = Activity::Idle;
                }
            }
            Action::Settle(after) => {
                if after.is_none_or(|after| self.typing.as_ref().is_some_and(|(_, at)| *at == after)) {
                    self.typing = None;
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
            Action::Defaults(defaults) => self.defaults = defaults,
            Action::OptionsFailed(error) => self.options_error = Some(error),
            Action::Preview(answer) => {
                self.preview = Some(match answer {
                    // The backend refused the record (e.g. a code another product's item holds): its issues
                    // are the preview's verdict, not a failure to check.
                    Err(error) if error.code == ErrorCode::ValidationFailed => {
                        Ok(Preview { issues: error.issues, plan: None })
                    }
                    answer => answer,
                });
            }
            Action::Recheck => {
                if self.options_error.is_some() {
                    self.options_error = None;
                }
                if matches!(self.preview, Some(Err(_))) {
                    self.preview = None;
                }
                if matches!(self.activity, Activity::SyncFailed(_)) {
                    self.activity = Activity::Idle;
                }
            }
            Action::CrmFields(Ok(crm)) => {
                self.crm_fields = Some(crm);
                self.crm_fields_error = None;
            }
            Action::CrmFields(Err(message)) => self.crm_fields_error = Some(message),
            Action::User(user) => {
                self.user = user;
            }
            Action::AllAccounts(all) => {
                self.all_accounts = all;
            }
            Action::ChooseOwn(requirement) => match requirement {
                Requirement::GlAccount => self.own_account = true,
                _ => self.own_tax_rate = true,
            },
            Action::ChooseXeroEdits(choice) => {
                self.xero_edits = Some(choice);
            }
            Action::AskToClose => self.confirm_close = true,
            Action::KeepEditing => self.confirm_close = false,
            Action::History(entries) => {
                self.history = Some(entries);
            }
            Action::Saving => self.activity = Activity::Saving,
            Action::SaveFailed(message) => self.activity = Activity::SaveFailed(message),
            Action::Syncing => {
                self.server_issues.clear();
                self.activity = Activity::Syncing;
            }
            Action::Synced(response) => {
                self.server_issues.clear();
                self.wrote = true;
                self.xero_edits = None;
                self.activity = Activity::Synced(response);
            }
            Action::SyncFailed(error) => {
                self.server_issues = error.issues.clone();
                self.activity = Activity::SyncFailed(error);
            }
        }
        self.revalidate();
        if replace {
            self.place();
        }
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
