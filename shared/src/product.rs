//! A Zoho CRM v8 Products record, read field by field.
//!
//! A record is never rejected as a whole for one odd field: each field is [`FieldValue::Missing`],
//! [`FieldValue::Present`] or [`FieldValue::WrongType`], and the rules turn a wrong type into an issue on
//! that field. Unknown fields are ignored.

use serde_json::{Map, Value};

use crate::fields::{self, FieldMap};

/// The JSON type found where another was expected.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum JsonKind {
    Bool,
    Number,
    String,
    Array,
    Object,
}

impl JsonKind {
    fn of(value: &Value) -> Option<Self> {
        match value {
            Value::Null => None,
            Value::Bool(_) => Some(Self::Bool),
            Value::Number(_) => Some(Self::Number),
            Value::String(_) => Some(Self::String),
            Value::Array(_) => Some(Self::Array),
            Value::Object(_) => Some(Self::Object),
        }
    }

    /// How the type reads in a message to a sales person.
    pub fn in_words(self) -> &'static str {
        match self {
            Self::Bool => "a yes/no value",
            Self::Number => "a number",
            Self::String => "text",
            Self::Array => "a list",
            Self::Object => "a structured value",
        }
    }
}

/// One field of a record.
#[derive(Debug, Clone, PartialEq)]
pub enum FieldValue<T> {
    /// Absent or `null` (Zoho sends `null` for empty fields).
    Missing,
    Present(T),
    /// Present with a JSON type the field cannot hold.
    WrongType(JsonKind),
}

impl<T> FieldValue<T> {
    pub fn present(&self) -> Option<&T> {
        match self {
            Self::Present(v) => Some(v),
            _ => None,
        }
    }
}

impl FieldValue<String> {
    /// The text, trimmed; `None` when missing, blank or of the wrong type.
    pub fn text(&self) -> Option<&str> {
        self.present().map(|s| s.trim()).filter(|s| !s.is_empty())
    }
}

impl FieldValue<bool> {
    pub fn is_true(&self) -> bool {
        matches!(self, Self::Present(true))
    }
}

/// The input was not a JSON object, so there is no record to speak of.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NotARecord;

impl std::fmt::Display for NotARecord {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("a CRM record must be a JSON object")
    }
}

impl std::error::Error for NotARecord {}

/// The fields of a Products record that the sync reads or writes.
#[derive(Debug, Clone, PartialEq)]
pub struct CrmProduct {
    pub id: FieldValue<String>,
    pub name: FieldValue<String>,
    pub code: FieldValue<String>,
    pub active: FieldValue<bool>,
    pub taxable: FieldValue<bool>,
    /// The selected taxes' display values, e.g. `"GST - 10.0 %"`.
    pub taxes: FieldValue<Vec<String>>,
    pub unit_price: FieldValue<f64>,
    pub description: FieldValue<String>,
    pub modified_time: FieldValue<String>,
    pub add_to_xero: FieldValue<bool>,
    pub gl_account: FieldValue<String>,
    pub tax_rate: FieldValue<String>,
    pub xero_item_id: FieldValue<String>,
    pub last_synced: FieldValue<String>,
    pub sync_status: FieldValue<String>,
}

impl CrmProduct {
    /// Reads a record as the v8 API returns it (one element of `data`).
    pub fn from_json(record: &Value, map: &FieldMap) -> Result<Self, NotARecord> {
        let record = record.as_object().ok_or(NotARecord)?;
        Ok(Self::from_object(record, map))
    }

    pub fn from_object(record: &Map<String, Value>, map: &FieldMap) -> Self {
        let get = |name: &str| record.get(name).unwrap_or(&Value::Null);
        Self {
            id: id(get(fields::ID)),
            name: text(get(fields::PRODUCT_NAME)),
            code: text(get(fields::PRODUCT_CODE)),
            active: boolean(get(fields::PRODUCT_ACTIVE)),
            taxable: boolean(get(fields::TAXABLE)),
            taxes: taxes(get(fields::TAX)),
            unit_price: number(get(fields::UNIT_PRICE)),
            description: text(get(fields::DESCRIPTION)),
            modified_time: text(get(fields::MODIFIED_TIME)),
            add_to_xero: boolean(get(&map.add_to_xero)),
            gl_account: text(get(&map.gl_account)),
            tax_rate: text(get(&map.tax_rate)),
            xero_item_id: text(get(&map.item_id)),
            last_synced: text(get(&map.last_synced)),
            sync_status: text(get(&map.sync_status)),
        }
    }
}

fn wrong<T>(value: &Value) -> FieldValue<T> {
    JsonKind::of(value).map_or(FieldValue::Missing, FieldValue::WrongType)
}

/// Record ids are numeric strings; a JSON integer is accepted too (serde_json keeps u64 exact).
fn id(value: &Value) -> FieldValue<String> {
    match value {
        Value::String(s) => FieldValue::Present(s.clone()),
        Value::Number(n) if n.is_u64() => FieldValue::Present(n.to_string()),
        other => wrong(other),
    }
}

fn text(value: &Value) -> FieldValue<String> {
    match value {
        Value::String(s) => FieldValue::Present(s.clone()),
        other => wrong(other),
    }
}

fn boolean(value: &Value) -> FieldValue<bool> {
    match value {
        Value::Bool(b) => FieldValue::Present(*b),
        other => wrong(other),
    }
}

/// Currency fields are JSON numbers; a numeric string (older API versions) is accepted too, read as a JSON
/// number: serde_json's parser is in the widget's bundle anyway, and `str::parse::<f64>` would add 13 KB
/// gzip of float tables to it.
fn number(value: &Value) -> FieldValue<f64> {
    match value {
        Value::Number(n) => n.as_f64().map_or(FieldValue::WrongType(JsonKind::Number), FieldValue::Present),
        Value::String(s) => match numeric(s.trim()) {
            Some(v) if v.is_finite() => FieldValue::Present(v),
            _ if s.trim().is_empty() => FieldValue::Missing,
            _ => FieldValue::WrongType(JsonKind::String),
        },
        other => wrong(other),
    }
}

/// JSON's number syntax, with an optional leading `+` right before the digits.
fn numeric(text: &str) -> Option<f64> {
    let unsigned = match text.strip_prefix('+') {
        Some(rest) if !rest.starts_with(|c: char| c.is_ascii_digit()) => return None,
        Some(rest) => rest,
        None => text,
    };
    serde_json::from_str(unsigned).ok()
}

/// `Tax` is `[{id, value}]` in v8; older versions send strings, alone or in a list.
fn taxes(value: &Value) -> FieldValue<Vec<String>> {
    match value {
        Value::String(s) => {
            FieldValue::Present(Some(s.trim()).filter(|s| !s.is_empty()).map(str::to_owned).into_iter().collect())
        }
        Value::Array(items) => {
            let mut out = Vec::with_capacity(items.len());
            for item in items {
                let name = match item {
                    Value::String(s) => s.as_str(),
                    Value::Object(o) => match o.get("value").or_else(|| o.get("name")) {
                        Some(Value::String(s)) => s.as_str(),
                        _ => return FieldValue::WrongType(JsonKind::Object),
                    },
                    Value::Null => continue,
                    other => return wrong(other),
                };
                let name = name.trim();
                if !name.is_empty() {
                    out.push(name.to_owned());
                }
            }
            FieldValue::Present(out)
        }
        other => wrong(other),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn parses_every_tax_shape() {
        let map = FieldMap::default();
        let p = |tax: Value| CrmProduct::from_json(&json!({ "Tax": tax }), &map).expect("object").taxes;
        assert_eq!(p(json!([{"id": "1", "value": "GST - 10.0 %"}])), FieldValue::Present(vec!["GST - 10.0 %".into()]));
        assert_eq!(p(json!("VAT")), FieldValue::Present(vec!["VAT".into()]));
        assert_eq!(p(json!(["A", " B "])), FieldValue::Present(vec!["A".into(), "B".into()]));
        assert_eq!(p(json!(null)), FieldValue::Missing);
        assert_eq!(p(json!(7)), FieldValue::WrongType(JsonKind::Number));
        assert_eq!(p(json!([{"id": "1"}])), FieldValue::WrongType(JsonKind::Object));
    }

    #[test]
    fn wrong_types_stay_on_their_field() {
        let record =
            json!({"id": 4150868000000224005_u64, "Product_Name": 12, "Unit_Price": "9.5", "Add_to_Xero": "yes"});
        let product = CrmProduct::from_json(&record, &FieldMap::default()).expect("object");
        assert_eq!(product.id, FieldValue::Present("4150868000000224005".into()));
        assert_eq!(product.name, FieldValue::WrongType(JsonKind::Number));
        assert_eq!(product.unit_price, FieldValue::Present(9.5));
        assert_eq!(product.add_to_xero, FieldValue::WrongType(JsonKind::String));
        assert_eq!(CrmProduct::from_json(&json!([1]), &FieldMap::default()), Err(NotARecord));
    }

    #[test]
    fn numeric_strings_are_read_as_json_numbers() {
        let price = |text: &str| number(&json!(text));
        assert_eq!(price(" 12.50 "), FieldValue::Present(12.5));
        assert_eq!(price("+9.5"), FieldValue::Present(9.5));
        assert_eq!(price("-1.25"), FieldValue::Present(-1.25));
        assert_eq!(price("1e3"), FieldValue::Present(1000.0));
        assert_eq!(price("  "), FieldValue::Missing);
        // JSON's number syntax: no second sign, no leading zeros, digits on both sides of the point.
        for text in ["12,50", "$12", "NaN", "inf", "1e400", "+-5", "++9.5", "+ 9", "007", ".5", "5."] {
            assert_eq!(price(text), FieldValue::WrongType(JsonKind::String), "{text}");
        }
    }
}
