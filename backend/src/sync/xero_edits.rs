//! Edits made in Xero since our last sync: the item as Xero holds it now, against what Xero answered it
//! held right after our write ([`ItemState`]). Comparing Xero with Xero, never with what we sent, keeps
//! Xero's own normalising (rounding, an empty description dropped) from looking like an edit.

use chrono::{DateTime, SecondsFormat, Utc};
use shared::wire::XeroEdit;
use shared::{Account, FieldMap, ItemPayload, TaxRate, fields};

use crate::store::ItemState;
use crate::xero::XeroItem;

/// What Xero holds of an item now, in the shape we keep after a write.
pub(super) fn state_of(item: &XeroItem) -> ItemState {
    let sales = item.sales_details.clone().unwrap_or_default();
    ItemState {
        code: item.code.clone(),
        name: item.name.clone(),
        description: item.description.clone(),
        unit_price: sales.unit_price,
        account_code: sales.account_code,
        tax_type: sales.tax_type,
        updated_at: item.updated_date_utc,
    }
}

/// The names the organisation's lists give an account code and a TaxType, for the messages.
pub(super) struct Names<'a> {
    pub(super) accounts: &'a [Account],
    pub(super) tax_rates: &'a [TaxRate],
}

impl Names<'_> {
    fn account(&self, code: &str) -> String {
        let name = self.accounts.iter().find(|a| a.usable_code().is_some_and(|c| c.eq_ignore_ascii_case(code)));
        name.map_or_else(|| code.to_owned(), |a| format!("{} ({code})", a.name))
    }

    fn tax_rate(&self, tax_type: &str) -> String {
        let rate = self.tax_rates.iter().find(|r| r.tax_type.eq_ignore_ascii_case(tax_type));
        rate.map_or_else(|| tax_type.to_owned(), |r| format!("{} ({tax_type})", r.name))
    }
}

/// A price as a person reads it: 2 decimals, more only when it has them (Xero keeps up to 4).
pub(super) fn price_text(price: Option<f64>) -> String {
    let Some(price) = price else { return "none".to_owned() };
    let four = format!("{price:.4}");
    let trimmed = four.trim_end_matches('0');
    let decimals = trimmed.split_once('.').map_or(0, |(_, d)| d.len());
    if decimals <= 2 { format!("{price:.2}") } else { trimmed.to_owned() }
}

fn same_price(a: Option<f64>, b: Option<f64>) -> bool {
    let cents = |p: Option<f64>| p.map(|p| (p * 10_000.0).round() as i64);
    cents(a) == cents(b)
}

/// Text that Xero may leave out when empty.
fn text(value: Option<&str>) -> &str {
    value.map_or("", str::trim)
}

fn same_text(a: Option<&str>, b: Option<&str>) -> bool {
    text(a) == text(b)
}

fn same_code(a: Option<&str>, b: Option<&str>) -> bool {
    text(a).eq_ignore_ascii_case(text(b))
}

/// The fields we manage that Xero changed since `before` (what it held after our last write) and that now
/// differ from what the CRM would send (`payload`): each with both values, as a person reads them. Nothing
/// when the item's `UpdatedDateUTC` has not moved.
pub(super) fn xero_edits(
    before: &ItemState,
    now: &XeroItem,
    payload: &ItemPayload,
    map: &FieldMap,
    names: &Names<'_>,
    synced_at: DateTime<Utc>,
) -> Vec<XeroEdit> {
    if before.updated_at.is_some() && before.updated_at == now.updated_date_utc {
        return Vec::new();
    }
    let now_state = state_of(now);
    let changed_at = now.updated_date_utc.unwrap_or(synced_at).to_rfc3339_opts(SecondsFormat::Secs, true);
    let sent = &payload.sales_details;
    let mut edits = Vec::new();
    let mut edit = |field: &str, xero_value: String, crm_value: String| {
        edits.push(XeroEdit { field: field.to_owned(), xero_value, crm_value, changed_at: changed_at.clone() });
    };
    let (code, crm_code) = (Some(now_state.code.as_str()), Some(payload.code.as_str()));
    if !same_code(Some(before.code.as_str()), code) && !same_code(code, crm_code) {
        edit(fields::PRODUCT_CODE, now_state.code.clone(), payload.code.clone());
    }
    let name = now_state.name.as_deref();
    if !same_text(before.name.as_deref(), name) && !same_text(name, Some(&payload.name)) {
        edit(fields::PRODUCT_NAME, text(name).to_owned(), payload.name.clone());
    }
    let description = now_state.description.as_deref();
    if !same_text(before.description.as_deref(), description) && !same_text(description, Some(&payload.description)) {
        let shown = |d: &str| if d.trim().is_empty() { "(none)".to_owned() } else { d.trim().to_owned() };
        edit(fields::DESCRIPTION, shown(text(description)), shown(&payload.description));
    }
    if !same_price(before.unit_price, now_state.unit_price) && !same_price(now_state.unit_price, sent.unit_price) {
        edit(fields::UNIT_PRICE, price_text(now_state.unit_price), price_text(sent.unit_price));
    }
    let account = now_state.account_code.as_deref();
    if !same_code(before.account_code.as_deref(), account) && !same_code(account, Some(&sent.account_code)) {
        let xero = account.map_or_else(|| "none".to_owned(), |c| names.account(c));
        edit(&map.gl_account, xero, names.account(&sent.account_code));
    }
    let tax = now_state.tax_type.as_deref();
    if !same_code(before.tax_type.as_deref(), tax) && !same_code(tax, Some(&sent.tax_type)) {
        let xero = tax.map_or_else(|| "none".to_owned(), |t| names.tax_rate(t));
        edit(&map.tax_rate, xero, names.tax_rate(&sent.tax_type));
    }
    edits
}

/// "Unit Price" for `Unit_Price`, as the widget labels the fields, for the log and the CRM's status.
pub(super) fn label(field: &str, map: &FieldMap) -> &'static str {
    shared::Requirement::of_field(field, map).map_or("a field", |r| r.label())
}

#[cfg(test)]
mod tests {
    use serde_json::json;
    use shared::SalesDetails;

    use super::*;

    fn item(value: serde_json::Value) -> XeroItem {
        serde_json::from_value(value).expect("item")
    }

    fn payload(price: f64, account: &str) -> ItemPayload {
        ItemPayload {
            item_id: None,
            code: "WM-100".into(),
            name: "Wireless Mouse".into(),
            description: String::new(),
            is_sold: true,
            sales_details: SalesDetails {
                unit_price: Some(price),
                account_code: account.into(),
                tax_type: "OUTPUT".into(),
            },
        }
    }

    fn synced() -> XeroItem {
        item(json!({"ItemID": "i", "Code": "WM-100", "Name": "Wireless Mouse", "UpdatedDateUTC": "/Date(1000+0000)/",
            "SalesDetails": {"UnitPrice": 39.95, "AccountCode": "200", "TaxType": "OUTPUT"}}))
    }

    fn edits(now: &XeroItem, payload: &ItemPayload) -> Vec<XeroEdit> {
        let accounts: Vec<Account> = serde_json::from_value(json!([
            {"Code": "200", "Name": "Sales", "Status": "ACTIVE"}, {"Code": "260", "Name": "Other Revenue", "Status": "ACTIVE"}
        ]))
        .expect("accounts");
        let names = Names { accounts: &accounts, tax_rates: &[] };
        xero_edits(&state_of(&synced()), now, payload, &FieldMap::default(), &names, DateTime::UNIX_EPOCH)
    }

    #[test]
    fn an_untouched_item_has_no_edits_even_when_the_crm_changed() {
        assert!(edits(&synced(), &payload(39.95, "200")).is_empty());
        assert!(edits(&synced(), &payload(29.95, "260")).is_empty(), "the CRM's own change is no edit in Xero");
    }

    #[test]
    fn fields_changed_in_xero_are_named_with_both_values() {
        let edited = item(json!({"ItemID": "i", "Code": "WM-100", "Name": "Wireless Mouse",
            "UpdatedDateUTC": "/Date(1764288000000+0000)/",
            "SalesDetails": {"UnitPrice": 34.0, "AccountCode": "260", "TaxType": "OUTPUT"}}));
        let found = edits(&edited, &payload(29.95, "200"));
        let fields: Vec<(&str, &str, &str)> =
            found.iter().map(|e| (e.field.as_str(), e.xero_value.as_str(), e.crm_value.as_str())).collect();
        assert_eq!(
            fields,
            [("Unit_Price", "34.00", "29.95"), ("Xero_GL_Account", "Other Revenue (260)", "Sales (200)")]
        );
        assert_eq!(found[0].changed_at, "2025-11-28T00:00:00Z");
        // Changed in Xero to what the CRM now says: nothing to choose.
        assert!(edits(&edited, &payload(34.0, "260")).is_empty());
    }

    #[test]
    fn prices_read_as_people_write_them() {
        assert_eq!(price_text(Some(34.0)), "34.00");
        assert_eq!(price_text(Some(0.125)), "0.125");
        assert_eq!(price_text(Some(9.9999)), "9.9999");
        assert_eq!(price_text(None), "none");
    }
}
