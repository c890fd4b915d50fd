//! The Products module's field metadata, as `ZOHO.CRM.META.getFields({Entity:"Products"})` answers a
//! widget and `GET /crm/v8/settings/fields?module=Products` the REST API (reference §2.2, §5.2):
//! `{fields:[{api_name, field_label, data_type, length, read_only, custom_field, pick_list_values, …}]}`.
//! The `Tax` multi-select lists the org's taxes, which is where a widget learns what it may put in that
//! field; the custom fields carry the API names the org's admin configured.
//!
//! It also owns what a write may name ([`Field::of`]): the Products module's standard fields (reference
//! §5.2, zoho/zohocrm-python-sdk-8.0 `Products` field constants) and the configured custom ones. A write
//! naming any other API name fails with `INVALID_DATA` "the field api name given seems to be invalid"
//! (the updateRecords 207 example), so a wrong `XERO_SYNC_FIELD_*` fails here as it does in Zoho.

use std::collections::HashMap;
use std::sync::Arc;

use axum::extract::{Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use chrono::{DateTime, FixedOffset};
use serde_json::{Value, json};

use super::Inner;
use super::error::ZohoError;
use super::oauth::Operation;
use super::records::authorize;
use super::seed::TAXES;

/// API names of the project's custom Products fields. The defaults are what CRM generates from the labels.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CustomFields {
    /// Checkbox "Add to Xero".
    pub add_to_xero: String,
    /// Single line: the Xero account name, e.g. "Sales".
    pub gl_account: String,
    /// Single line: the Xero tax rate name, e.g. "GST on Income".
    pub tax_rate: String,
    /// Single line, written back: the Xero ItemID.
    pub item_id: String,
    /// Date/time, written back.
    pub last_synced: String,
    /// Single line (255), written back.
    pub sync_status: String,
    /// Other single-line (255) custom fields the org's admin created, by API name: somewhere else to point
    /// a role at (none by default).
    pub more_text: Vec<String>,
}

impl Default for CustomFields {
    fn default() -> Self {
        Self {
            add_to_xero: "Add_to_Xero".into(),
            gl_account: "Xero_GL_Account".into(),
            tax_rate: "Xero_Tax_Rate".into(),
            item_id: "Xero_Item_ID".into(),
            last_synced: "Xero_Last_Synced".into(),
            sync_status: "Xero_Sync_Status".into(),
            more_text: Vec::new(),
        }
    }
}

/// What a write may do with a field.
#[derive(Debug, Clone, Copy)]
pub(super) enum Field {
    /// Checked against its type, then stored.
    Typed(Kind),
    /// A field of the module whose value the simulator stores as given (lookups, dates of no interest).
    Stored,
    /// System fields (`id`, ownership times, `$…`): ignored in a write.
    ReadOnly,
    /// Not a field of the module.
    Unknown,
}

/// Standard Products fields the simulator does not type-check.
const STORED: &[&str] =
    &["Owner", "Handler", "Vendor_Name", "Qty_in_Demand", "Tag", "Record_Image", "Sales_Start_Date", "Sales_End_Date"];
const STORED_MORE: &[&str] = &["Support_Start_Date", "Support_Expiry_Date"];
/// System fields a write cannot change.
const READ_ONLY: &[&str] =
    &["id", "Created_Time", "Modified_Time", "Created_By", "Modified_By", "Record_Status__s", "Locked__s"];

impl Field {
    pub(super) fn of(fields: &CustomFields, name: &str) -> Field {
        let text = |max| Field::Typed(Kind::Text { max, mandatory: false });
        match name {
            "Product_Name" => Field::Typed(Kind::Text { max: 120, mandatory: true }),
            "Product_Code" => text(40),
            "Product_Category" | "Manufacturer" | "Usage_Unit" => text(120),
            "Description" => text(32000),
            "Product_Active" | "Taxable" => Field::Typed(Kind::Boolean),
            "Unit_Price" | "Commission_Rate" | "Qty_in_Stock" | "Qty_Ordered" | "Reorder_Level" => {
                Field::Typed(Kind::Currency)
            }
            "Tax" => Field::Typed(Kind::Tax),
            n if n == fields.add_to_xero => Field::Typed(Kind::Boolean),
            n if n == fields.gl_account || n == fields.tax_rate || n == fields.item_id || n == fields.sync_status => {
                text(255)
            }
            n if n == fields.last_synced => Field::Typed(Kind::DateTime),
            n if fields.more_text.iter().any(|more| more == n) => text(255),
            n if n.starts_with('$') || READ_ONLY.contains(&n) => Field::ReadOnly,
            n if STORED.contains(&n) || STORED_MORE.contains(&n) => Field::Stored,
            _ => Field::Unknown,
        }
    }
}

/// Types of the checked Products fields.
#[derive(Debug, Clone, Copy)]
pub(super) enum Kind {
    Text { max: usize, mandatory: bool },
    Boolean,
    Currency,
    DateTime,
    Tax,
}

impl Kind {
    /// The value to store, or Zoho's INVALID_DATA / MANDATORY_NOT_FOUND for this field.
    pub(super) fn validate(self, value: &Value, index: usize, name: &str) -> Result<Value, ZohoError> {
        let invalid = |expected| field_error(index, name, expected);
        let mandatory = || {
            let details = json!({"api_name": name, "json_path": format!("$.data[{index}].{name}")});
            Err(ZohoError::new(StatusCode::BAD_REQUEST, "MANDATORY_NOT_FOUND", "required field not found", details))
        };
        match (self, value) {
            (Kind::Text { mandatory: true, .. }, Value::Null) => mandatory(),
            (Kind::Text { mandatory: true, .. }, Value::String(s)) if s.trim().is_empty() => mandatory(),
            (Kind::Text { max, .. }, Value::String(s)) if s.chars().count() > max => {
                // An integer, as the crm-oas v8 examples and `InvalidDataMaxLengthDetails` give it (Z6).
                let mut error = invalid("text");
                error.details["maximum_length"] = json!(max);
                Err(error)
            }
            (Kind::Text { .. }, Value::String(_) | Value::Null) => Ok(value.clone()),
            (Kind::Text { .. }, _) => Err(invalid("text")),
            (Kind::Boolean, Value::Bool(_)) => Ok(value.clone()),
            (Kind::Boolean, _) => Err(invalid("boolean")),
            (Kind::Currency, Value::Number(_) | Value::Null) => Ok(value.clone()),
            (Kind::Currency, _) => Err(invalid("double")),
            (Kind::DateTime, Value::Null) => Ok(Value::Null),
            (Kind::DateTime, Value::String(s)) if zoho_datetime(s).is_some() => Ok(value.clone()),
            (Kind::DateTime, _) => Err(invalid("datetime")),
            (Kind::Tax, Value::Null) => Ok(json!([])),
            (Kind::Tax, Value::Array(items)) => items
                .iter()
                .map(|item| {
                    // Either `{id}` / `{value}` objects or the tax names themselves.
                    let known = TAXES.iter().find(|(id, label)| match item {
                        Value::String(s) => s == label || s == id,
                        Value::Object(o) => {
                            o.get("id").and_then(Value::as_str) == Some(id)
                                || o.get("value").and_then(Value::as_str) == Some(label)
                        }
                        _ => false,
                    });
                    known
                        .map(|(id, label)| json!({"id": id, "value": label}))
                        .ok_or_else(|| invalid("multiselectpicklist"))
                })
                .collect::<Result<Vec<_>, _>>()
                .map(Value::Array),
            (Kind::Tax, _) => Err(invalid("multiselectpicklist")),
        }
    }
}

/// `INVALID_DATA` for a value of the wrong type.
pub(super) fn field_error(index: usize, api_name: &str, expected: &str) -> ZohoError {
    let json_path = if api_name == "data" { format!("$.data[{index}]") } else { format!("$.data[{index}].{api_name}") };
    let details = json!({"api_name": api_name, "json_path": json_path, "expected_data_type": expected});
    ZohoError::new(StatusCode::BAD_REQUEST, "INVALID_DATA", "invalid data", details)
}

/// A DateTime field value in the one form Zoho documents, `yyyy-MM-ddTHH:mm:ss±HH:mm`
/// (`2019-07-25T15:26:49+05:30`); anything else (`Z`, fractions, no offset) is refused (fidelity-audit Z1:
/// "Zoho demands a very specific format", TheWorkflowAcademy/Date-Time-Format-Conversion-Zoho-Deluge).
pub(super) fn zoho_datetime(text: &str) -> Option<DateTime<FixedOffset>> {
    let bytes = text.as_bytes();
    let shaped = bytes.len() == 25 && matches!(bytes[19], b'+' | b'-') && bytes[22] == b':' && bytes[10] == b'T';
    shaped.then(|| DateTime::parse_from_str(text, "%Y-%m-%dT%H:%M:%S%:z").ok()).flatten()
}

/// `GET /crm/v8/settings/fields?module=Products` (scope `ZohoCRM.settings.fields.READ`).
pub(super) async fn settings(
    State(inner): State<Arc<Inner>>,
    Query(query): Query<HashMap<String, String>>,
    headers: HeaderMap,
) -> Result<Response, ZohoError> {
    authorize(&inner, &headers, Operation::ReadFields)?;
    match query.get("module").map(String::as_str) {
        None | Some("") => Err(ZohoError::required_param("module")),
        Some("Products") => Ok(axum::Json(products(&inner.config.fields)).into_response()),
        Some(_) => Err(ZohoError::invalid_module()),
    }
}

/// The Products fields a sync reads or writes, with the project's custom fields under their configured API
/// names; the `Tax` field lists the org's taxes.
pub(super) fn products(custom: &CustomFields) -> Value {
    let taxes: Vec<Value> = TAXES
        .iter()
        .zip(1..)
        .map(|((id, label), sequence)| {
            json!({"display_value": label, "actual_value": label, "id": id, "sequence_number": sequence})
        })
        .collect();
    let field = |api_name: &str, label: &str, data_type: &str, length: u32, custom_field: bool, choices: &[Value]| {
        json!({
            "api_name": api_name,
            "field_label": label,
            "display_label": label,
            "data_type": data_type,
            "length": length,
            "read_only": false,
            "custom_field": custom_field,
            "pick_list_values": choices,
        })
    };
    let more = custom.more_text.iter().map(|name| field(name, &name.replace('_', " "), "text", 255, true, &[]));
    let fields = [
        field("Product_Name", "Product Name", "text", 120, false, &[]),
        field("Product_Code", "Product Code", "text", 40, false, &[]),
        field("Product_Active", "Product Active", "boolean", 5, false, &[]),
        field("Unit_Price", "Unit Price", "currency", 16, false, &[]),
        field("Taxable", "Taxable", "boolean", 5, false, &[]),
        field("Tax", "Tax", "multiselectpicklist", 2000, false, &taxes),
        field("Description", "Description", "textarea", 32000, false, &[]),
        field(&custom.add_to_xero, "Add to Xero", "boolean", 5, true, &[]),
        field(&custom.gl_account, "Xero GL Account", "text", 255, true, &[]),
        field(&custom.tax_rate, "Xero Tax Rate", "text", 255, true, &[]),
        field(&custom.item_id, "Xero Item ID", "text", 255, true, &[]),
        field(&custom.last_synced, "Xero Last Synced", "datetime", 120, true, &[]),
        field(&custom.sync_status, "Xero Sync Status", "text", 255, true, &[]),
    ];
    let fields: Vec<Value> = fields.into_iter().chain(more).collect();
    json!({ "fields": fields })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn datetimes_must_carry_a_numeric_offset() {
        assert!(zoho_datetime("2026-11-26T10:00:00+11:00").is_some());
        assert!(zoho_datetime("2026-11-26T10:00:00-07:00").is_some());
        assert!(zoho_datetime("2026-11-26T10:00:00+00:00").is_some());
        for refused in ["2026-11-26T10:00:00Z", "2026-11-26T10:00:00.000+11:00", "2026-11-26T10:00:00", "2026-11-26"] {
            assert!(zoho_datetime(refused).is_none(), "{refused}");
        }
        assert!(zoho_datetime("2026-13-26T10:00:00+11:00").is_none(), "month 13");
    }

    #[test]
    fn writes_may_name_the_modules_fields_only() {
        let custom = CustomFields::default();
        assert!(matches!(Field::of(&custom, "Product_Code"), Field::Typed(_)));
        assert!(matches!(Field::of(&custom, "Xero_Last_Synced"), Field::Typed(Kind::DateTime)));
        assert!(matches!(Field::of(&custom, "Vendor_Name"), Field::Stored));
        assert!(matches!(Field::of(&custom, "Modified_Time"), Field::ReadOnly));
        assert!(matches!(Field::of(&custom, "$approval_state"), Field::ReadOnly));
        assert!(matches!(Field::of(&custom, "Xero_GL_Acount"), Field::Unknown));
        let renamed = CustomFields { gl_account: "GL_Account".into(), ..CustomFields::default() };
        assert!(matches!(Field::of(&renamed, "Xero_GL_Account"), Field::Unknown), "renamed by the admin");
        let more = CustomFields { more_text: vec!["Xero_Item_Ref".into()], ..CustomFields::default() };
        assert!(matches!(Field::of(&more, "Xero_Item_Ref"), Field::Typed(Kind::Text { max: 255, .. })));
        assert!(matches!(Field::of(&custom, "Xero_Item_Ref"), Field::Unknown));
    }
}
