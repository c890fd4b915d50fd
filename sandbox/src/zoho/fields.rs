//! The Products module's field metadata, as `ZOHO.CRM.META.getFields({Entity:"Products"})` answers a
//! widget and `GET /crm/v8/settings/fields?module=Products` the REST API (reference §2.2, §5.2):
//! `{fields:[{api_name, field_label, data_type, length, read_only, custom_field, pick_list_values, …}]}`.
//! The `Tax` multi-select lists the org's taxes, which is where a widget learns what it may put in that
//! field; the custom fields carry the API names the org's admin configured.

use std::collections::HashMap;
use std::sync::Arc;

use axum::extract::{Query, State};
use axum::http::HeaderMap;
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};

use super::Inner;
use super::oauth::Operation;
use super::records::{CustomFields, ZohoError, authorize};
use super::seed::TAXES;

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
    json!({ "fields": fields })
}
