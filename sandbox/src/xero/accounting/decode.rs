//! Reading a submitted `{"Items": [...]}` body as Xero's JSON.NET deserialiser does: absent keeps, null
//! clears, numbers and booleans are accepted as strings, other type mismatches refuse the whole request.

use serde_json::{Map, Value};

use super::Reply;

/// The submitted elements of an `{"Items": [...]}` body.
pub(super) fn elements(body: &[u8]) -> Result<Vec<Map<String, Value>>, Reply> {
    let root: Value = serde_json::from_slice(body)
        .map_err(|e| Reply::error(14, "PostDataInvalidException", &format!("Invalid Json data: {e}"), None))?;
    let no_data = || {
        Reply::error(
            17,
            "NoDataProcessedException",
            "No data has been processed for this endpoint. This endpoint is expecting Item data to be specifed in \
             the request body.",
            None,
        )
    };
    let list = root.get("Items").and_then(Value::as_array).filter(|l| !l.is_empty()).ok_or_else(no_data)?;
    list.iter()
        .map(|e| {
            e.as_object().cloned().ok_or_else(|| {
                Reply::error(14, "PostDataInvalidException", "Invalid Json data: Item must be an object", None)
            })
        })
        .collect()
}

/// What an element asks to set. Outer `None` = absent (keep), inner `None` = null (clear).
#[derive(Default, Clone)]
pub(super) struct Input {
    pub(super) item_id: Option<String>,
    pub(super) code: Option<String>,
    pub(super) name: Option<Option<String>>,
    pub(super) description: Option<Option<String>>,
    pub(super) purchase_description: Option<Option<String>>,
    pub(super) is_sold: Option<bool>,
    pub(super) is_purchased: Option<bool>,
    pub(super) inventory_asset_account_code: Option<Option<String>>,
    pub(super) sales: Option<DetailsInput>,
    pub(super) purchase: Option<DetailsInput>,
}

#[derive(Default, Clone)]
pub(super) struct DetailsInput {
    pub(super) unit_price: Option<Option<f64>>,
    pub(super) account_code: Option<Option<String>>,
    pub(super) cogs_account_code: Option<Option<String>>,
    pub(super) tax_type: Option<Option<String>>,
}

/// A type mismatch Xero's deserialiser rejects (400 PostDataInvalidException).
pub(super) struct BadField(String);

/// Strings as JSON.NET reads them: numbers and booleans are converted, null clears.
fn text(map: &Map<String, Value>, key: &str) -> Result<Option<Option<String>>, BadField> {
    match map.get(key) {
        None => Ok(None),
        Some(Value::Null) => Ok(Some(None)),
        Some(Value::String(s)) => Ok(Some(Some(s.clone()))),
        Some(Value::Number(n)) => Ok(Some(Some(n.to_string()))),
        Some(Value::Bool(b)) => Ok(Some(Some(if *b { "True" } else { "False" }.into()))),
        Some(_) => Err(BadField(key.into())),
    }
}

fn flag(map: &Map<String, Value>, key: &str) -> Result<Option<bool>, BadField> {
    match map.get(key) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::Bool(b)) => Ok(Some(*b)),
        Some(Value::String(s)) if s.eq_ignore_ascii_case("true") => Ok(Some(true)),
        Some(Value::String(s)) if s.eq_ignore_ascii_case("false") => Ok(Some(false)),
        Some(_) => Err(BadField(key.into())),
    }
}

fn number(map: &Map<String, Value>, key: &str) -> Result<Option<Option<f64>>, BadField> {
    match map.get(key) {
        None => Ok(None),
        Some(Value::Null) => Ok(Some(None)),
        Some(Value::Number(n)) => Ok(Some(n.as_f64())),
        Some(Value::String(s)) => s.trim().parse().map(|n| Some(Some(n))).map_err(|_| BadField(key.into())),
        Some(_) => Err(BadField(key.into())),
    }
}

fn details(map: &Map<String, Value>, key: &str) -> Result<Option<DetailsInput>, BadField> {
    match map.get(key) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::Object(d)) => Ok(Some(DetailsInput {
            unit_price: number(d, "UnitPrice")?,
            account_code: text(d, "AccountCode")?,
            cogs_account_code: text(d, "COGSAccountCode")?,
            tax_type: text(d, "TaxType")?,
        })),
        Some(_) => Err(BadField(key.into())),
    }
}

pub(super) fn decode(map: &Map<String, Value>) -> Result<Input, BadField> {
    Ok(Input {
        item_id: text(map, "ItemID")?.flatten().filter(|s| !s.trim().is_empty()),
        code: text(map, "Code")?.flatten(),
        name: text(map, "Name")?,
        description: text(map, "Description")?,
        purchase_description: text(map, "PurchaseDescription")?,
        is_sold: flag(map, "IsSold")?,
        is_purchased: flag(map, "IsPurchased")?,
        inventory_asset_account_code: text(map, "InventoryAssetAccountCode")?,
        sales: details(map, "SalesDetails")?,
        purchase: details(map, "PurchaseDetails")?,
    })
}

pub(super) fn bad_field(field: &BadField) -> Reply {
    Reply::error(
        14,
        "PostDataInvalidException",
        &format!("Invalid Json data: could not convert the value of '{}'", field.0),
        None,
    )
}
