//! What the client returns: tenants, items as read (tolerantly: Xero adds fields), and per-element results
//! of an upsert.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Deserializer};
use serde_json::Value;

/// A connected organisation (`GET /connections`).
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Tenant {
    /// The connection id: what `DELETE /connections/{id}` takes (not the tenant id).
    #[serde(rename = "id")]
    pub connection_id: String,
    pub tenant_id: String,
    #[serde(default)]
    pub tenant_name: Option<String>,
    #[serde(default)]
    pub tenant_type: String,
}

/// `SalesDetails` of an item as read.
#[derive(Debug, Clone, PartialEq, Default, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct XeroSalesDetails {
    pub unit_price: Option<f64>,
    pub account_code: Option<String>,
    pub tax_type: Option<String>,
}

/// An item as Xero returns it.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct XeroItem {
    #[serde(rename = "ItemID")]
    pub item_id: String,
    #[serde(default)]
    pub code: String,
    #[serde(default)]
    pub name: Option<String>,
    #[serde(default)]
    pub description: Option<String>,
    #[serde(default)]
    pub sales_details: Option<XeroSalesDetails>,
    /// Parsed from MS-JSON (`/Date(1573755038314+0000)/`); `None` when absent or unreadable.
    #[serde(rename = "UpdatedDateUTC", default, deserialize_with = "ms_date")]
    pub updated_date_utc: Option<DateTime<Utc>>,
}

fn ms_date<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Option<DateTime<Utc>>, D::Error> {
    let text = Option::<String>::deserialize(deserializer)?;
    Ok(text.as_deref().and_then(parse_ms_date))
}

/// Parses Xero's MS-JSON dates, `/Date(1573755038314)/` or `/Date(1551981476267+0000)/`. The number is
/// milliseconds since the epoch in UTC; the offset is informational only.
pub(super) fn parse_ms_date(text: &str) -> Option<DateTime<Utc>> {
    let inner = text.trim().strip_prefix("/Date(")?.strip_suffix(")/")?;
    // A leading '-' is a negative epoch; a later '+'/'-' starts the offset.
    let end = inner.char_indices().skip(1).find(|(_, c)| *c == '+' || *c == '-').map_or(inner.len(), |(i, _)| i);
    let (millis, offset) = inner.split_at(end);
    if !offset.is_empty() && (offset.len() != 5 || !offset[1..].bytes().all(|b| b.is_ascii_digit())) {
        return None;
    }
    DateTime::from_timestamp_millis(millis.parse().ok()?)
}

/// How Xero judged one element of a write.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ElementStatus {
    Ok,
    Warning,
    Error,
}

/// The outcome of one submitted item.
#[derive(Debug, Clone, PartialEq)]
pub struct ItemResult {
    /// The Code we submitted.
    pub code: String,
    pub item_id: Option<String>,
    pub status: ElementStatus,
    /// Validation errors (for `Error`) or warnings, as Xero worded them.
    pub messages: Vec<String>,
    /// The item as Xero answered it holds it after the write (its rounding, its `UpdatedDateUTC`), when
    /// the element could be read as one; `None` for a failed element.
    pub item: Option<XeroItem>,
}

impl ItemResult {
    pub fn is_ok(&self) -> bool {
        self.status != ElementStatus::Error
    }

    /// Reads one returned element. Any `ValidationErrors` make it a failure whatever its status says: the
    /// spec's own examples carry errors without a `StatusAttributeString`.
    pub(crate) fn from_element(code: &str, element: &Value) -> Self {
        let messages_of = |key: &str| -> Vec<String> {
            element[key]
                .as_array()
                .map(|list| list.iter().filter_map(|m| m["Message"].as_str().map(str::to_string)).collect())
                .unwrap_or_default()
        };
        let errors = messages_of("ValidationErrors");
        let item_id = element["ItemID"].as_str().filter(|id| !id.is_empty()).map(str::to_string);
        let declared = element["StatusAttributeString"].as_str().unwrap_or_default();
        let (status, messages) = if !errors.is_empty() || declared.eq_ignore_ascii_case("ERROR") || item_id.is_none() {
            let messages = if errors.is_empty() { vec!["Xero did not accept this item".to_string()] } else { errors };
            (ElementStatus::Error, messages)
        } else if declared.eq_ignore_ascii_case("WARNING") {
            (ElementStatus::Warning, messages_of("Warnings"))
        } else {
            (ElementStatus::Ok, Vec::new())
        };
        let item = match status {
            ElementStatus::Error => None,
            _ => XeroItem::deserialize(element).ok(),
        };
        Self { code: code.to_string(), item_id, status, messages, item }
    }

    pub(crate) fn failed(code: &str, messages: Vec<String>) -> Self {
        Self { code: code.to_string(), item_id: None, status: ElementStatus::Error, messages, item: None }
    }
}

/// Messages of a 400 `ValidationException` (`Elements[].ValidationErrors[].Message`), else its `Message`
/// or `Detail`.
pub(crate) fn validation_messages(body: &Value) -> Vec<String> {
    let nested: Vec<String> = body["Elements"]
        .as_array()
        .into_iter()
        .flatten()
        .flat_map(|e| e["ValidationErrors"].as_array().into_iter().flatten())
        .filter_map(|m| m["Message"].as_str().map(str::to_string))
        .collect();
    if !nested.is_empty() {
        return nested;
    }
    ["Message", "Detail"].iter().filter_map(|k| body[*k].as_str().map(str::to_string)).take(1).collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn ms_dates_with_and_without_offset() {
        let expected = DateTime::from_timestamp_millis(1_551_981_476_267);
        assert_eq!(parse_ms_date("/Date(1551981476267+0000)/"), expected);
        assert_eq!(parse_ms_date("/Date(1551981476267)/"), expected);
        assert_eq!(parse_ms_date("/Date(1551981476267-0800)/"), expected);
        assert_eq!(parse_ms_date("2019-03-07T17:57:56"), None);
        assert_eq!(parse_ms_date("/Date(abc)/"), None);
        assert_eq!(parse_ms_date("/Date(1+00)/"), None);
    }

    #[test]
    fn validation_errors_fail_an_element_whatever_its_status() {
        let ok = ItemResult::from_element("A", &json!({"ItemID": "1", "StatusAttributeString": "OK"}));
        assert_eq!(ok.status, ElementStatus::Ok);
        assert_eq!(ok.item.map(|i| i.item_id).as_deref(), Some("1"), "the item as Xero holds it");
        let sneaky = json!({"ItemID": "1", "StatusAttributeString": "OK", "ValidationErrors": [{"Message": "bad"}]});
        let failed = ItemResult::from_element("A", &sneaky);
        assert_eq!((failed.status, failed.messages), (ElementStatus::Error, vec!["bad".to_string()]));
        let bare = ItemResult::from_element("A", &json!({"Code": "A", "ValidationErrors": [{"Message": "x"}]}));
        assert_eq!(bare.status, ElementStatus::Error);
    }

    #[test]
    fn items_are_read_tolerantly() {
        let item: XeroItem = serde_json::from_value(json!({
            "ItemID": "id", "Code": "C", "Unknown": 1, "UpdatedDateUTC": "/Date(0+0000)/",
            "SalesDetails": {"UnitPrice": 1.5, "COGSAccountCode": "x"}
        }))
        .expect("tolerant");
        assert_eq!(item.updated_date_utc, DateTime::from_timestamp_millis(0));
        assert_eq!(item.sales_details.and_then(|s| s.unit_price), Some(1.5));
    }
}
