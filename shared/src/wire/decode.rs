//! Reading the API's answers from a parsed [`Value`], for the widget.
//!
//! Every wire type derives serde's `Deserialize` as well (the backend and the tests use it), but in the
//! widget's wasm the derived code weighed 14.4 KB gzip of the 150 KB budget: each type's visitor
//! instantiated for serde_json's text deserializer, and one `deserialize_seq` per list type. The widget
//! parses an answer to a `Value` (a parser it carries for CRM records anyway) and reads it with these. The
//! tests (`shared/tests/wire.rs`) check each type against its derived `Deserialize`, so they cannot drift.
//!
//! `None` means the value does not have the type's shape, where serde would fail. Like serde, fields that
//! are optional or have a default may be missing; unlike it, they may also be `null`.

use serde::de::DeserializeOwned;
use serde::de::value::StrDeserializer;
use serde_json::Value;

use crate::defaults::{OrgDefaults, TaxMapping};
use crate::fields::FieldMap;
use crate::rules::Issue;
use crate::wire::{ApiError, CodeSuggestion, HistoryEntry, MatchedItem, PickLists, SyncPlan, SyncResponse, XeroEdit};
use crate::xero::{Account, TaxRate};

/// A wire type read from JSON by hand (see the module docs for why).
pub trait FromJson: Sized {
    fn from_json(value: &Value) -> Option<Self>;
}

/// A required string field.
fn text(value: &Value, key: &str) -> Option<String> {
    value.get(key)?.as_str().map(str::to_owned)
}

/// A string field that may be missing or `null`: `Some(None)` then, `None` when it holds something else.
fn optional_text(value: &Value, key: &str) -> Option<Option<String>> {
    match value.get(key) {
        None | Some(Value::Null) => Some(None),
        Some(Value::String(s)) => Some(Some(s.clone())),
        Some(_) => None,
    }
}

/// A string field with `#[serde(default)]`: empty when missing.
fn text_or_empty(value: &Value, key: &str) -> Option<String> {
    optional_text(value, key).map(Option::unwrap_or_default)
}

/// A boolean field with `#[serde(default)]`.
fn flag(value: &Value, key: &str) -> Option<bool> {
    match value.get(key) {
        None | Some(Value::Null) => Some(false),
        Some(v) => v.as_bool(),
    }
}

/// A list field: required, or (with `or_empty`) empty when missing.
fn list<T: FromJson>(value: &Value, key: &str, or_empty: bool) -> Option<Vec<T>> {
    match value.get(key) {
        None | Some(Value::Null) if or_empty => Some(Vec::new()),
        Some(v) => Vec::from_json(v),
        None => None,
    }
}

/// A field holding a unit enum's name. Read by the enum's derived `Deserialize` from the string alone (serde's
/// `StrDeserializer`, which is small), so the names are serde's own.
fn named<T: DeserializeOwned>(value: &Value, key: &str) -> Option<T> {
    let name = value.get(key)?.as_str()?;
    T::deserialize(StrDeserializer::<serde::de::value::Error>::new(name)).ok()
}

impl<T: FromJson> FromJson for Vec<T> {
    fn from_json(value: &Value) -> Option<Self> {
        value.as_array()?.iter().map(T::from_json).collect()
    }
}

impl FromJson for String {
    fn from_json(value: &Value) -> Option<Self> {
        value.as_str().map(str::to_owned)
    }
}

impl FromJson for Issue {
    fn from_json(value: &Value) -> Option<Self> {
        Some(Issue {
            field: text(value, "field")?,
            code: named(value, "code")?,
            severity: named(value, "severity")?,
            message: text(value, "message")?,
            suggestions: list(value, "suggestions", true)?,
        })
    }
}

impl FromJson for ApiError {
    fn from_json(value: &Value) -> Option<Self> {
        Some(ApiError {
            code: named(value, "code")?,
            message: text(value, "message")?,
            issues: list(value, "issues", true)?,
            request_id: optional_text(value, "request_id")?,
        })
    }
}

impl FromJson for SyncResponse {
    fn from_json(value: &Value) -> Option<Self> {
        Some(SyncResponse {
            outcome: named(value, "outcome")?,
            item_id: text(value, "item_id")?,
            code: text(value, "code")?,
            xero_url: text(value, "xero_url")?,
            synced_at: text(value, "synced_at")?,
            warnings: list(value, "warnings", true)?,
        })
    }
}

impl FromJson for HistoryEntry {
    fn from_json(value: &Value) -> Option<Self> {
        Some(HistoryEntry {
            at: text(value, "at")?,
            by: text(value, "by")?,
            outcome: text(value, "outcome")?,
            message: optional_text(value, "message")?,
        })
    }
}

impl FromJson for FieldMap {
    /// `#[serde(default)]` on the struct: each missing name is the default one.
    fn from_json(value: &Value) -> Option<Self> {
        let defaults = FieldMap::default();
        let name = |key: &str, default: String| optional_text(value, key).map(|n| n.unwrap_or(default));
        Some(FieldMap {
            add_to_xero: name("add_to_xero", defaults.add_to_xero)?,
            gl_account: name("gl_account", defaults.gl_account)?,
            tax_rate: name("tax_rate", defaults.tax_rate)?,
            item_id: name("item_id", defaults.item_id)?,
            last_synced: name("last_synced", defaults.last_synced)?,
            sync_status: name("sync_status", defaults.sync_status)?,
        })
    }
}

impl FromJson for PickLists {
    fn from_json(value: &Value) -> Option<Self> {
        let fields = match value.get("fields") {
            None | Some(Value::Null) => FieldMap::default(),
            Some(fields) => FieldMap::from_json(fields)?,
        };
        let defaults = match value.get("defaults") {
            None | Some(Value::Null) => OrgDefaults::default(),
            Some(defaults) => OrgDefaults::from_json(defaults)?,
        };
        Some(PickLists {
            fields,
            accounts: list(value, "accounts", false)?,
            tax_rates: list(value, "tax_rates", false)?,
            defaults,
        })
    }
}

impl FromJson for Account {
    /// Xero's shape: PascalCase, every field but `Name` optional.
    fn from_json(value: &Value) -> Option<Self> {
        Some(Account {
            account_id: text_or_empty(value, "AccountID")?,
            code: optional_text(value, "Code")?,
            name: text(value, "Name")?,
            status: text_or_empty(value, "Status")?,
            class: text_or_empty(value, "Class")?,
            account_type: text_or_empty(value, "Type")?,
            system_account: optional_text(value, "SystemAccount")?,
        })
    }
}

impl FromJson for TaxRate {
    /// Xero's shape: PascalCase.
    fn from_json(value: &Value) -> Option<Self> {
        let effective_rate = match value.get("EffectiveRate") {
            None | Some(Value::Null) => None,
            Some(rate) => Some(rate.as_f64()?),
        };
        Some(TaxRate {
            name: text(value, "Name")?,
            tax_type: text(value, "TaxType")?,
            status: text_or_empty(value, "Status")?,
            can_apply_to_revenue: flag(value, "CanApplyToRevenue")?,
            effective_rate,
        })
    }
}

impl FromJson for SyncPlan {
    fn from_json(value: &Value) -> Option<Self> {
        let item = match value.get("item") {
            None | Some(Value::Null) => None,
            Some(item) => Some(MatchedItem::from_json(item)?),
        };
        Some(SyncPlan {
            outcome: named(value, "outcome")?,
            item,
            suggested_code: optional_text(value, "suggested_code")?,
            xero_edits: list(value, "xero_edits", true)?,
        })
    }
}

impl FromJson for MatchedItem {
    fn from_json(value: &Value) -> Option<Self> {
        Some(MatchedItem {
            item_id: text(value, "item_id")?,
            code: text(value, "code")?,
            last_synced: optional_text(value, "last_synced")?,
        })
    }
}

impl FromJson for XeroEdit {
    fn from_json(value: &Value) -> Option<Self> {
        Some(XeroEdit {
            field: text(value, "field")?,
            xero_value: text(value, "xero_value")?,
            crm_value: text(value, "crm_value")?,
            changed_at: text(value, "changed_at")?,
        })
    }
}

impl FromJson for OrgDefaults {
    fn from_json(value: &Value) -> Option<Self> {
        Some(OrgDefaults { gl_account: optional_text(value, "gl_account")?, taxes: list(value, "taxes", true)? })
    }
}

impl FromJson for CodeSuggestion {
    fn from_json(value: &Value) -> Option<Self> {
        Some(CodeSuggestion { code: text(value, "code")? })
    }
}

impl FromJson for TaxMapping {
    fn from_json(value: &Value) -> Option<Self> {
        Some(TaxMapping { crm_tax: text(value, "crm_tax")?, tax_type: text(value, "tax_type")? })
    }
}
