//! Xero's rules for storing an item: how a write merges into it, the validations Xero applies (with the
//! messages it is known to use), and how a failed element is echoed back.

use serde_json::{Value, json};
use uuid::Uuid;

use super::decode::{DetailsInput, Input};
use super::model::{Details, Item, round};
use crate::xero::behaviour::StaleItemId;
use crate::xero::seed::Org;
use crate::xero::time::EpochMs;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Mode {
    /// `PUT /Items`: create only.
    Create,
    /// `POST /Items`: match by ItemID, else by Code (case-insensitively), else create.
    Upsert,
}

fn merge_details(target: &mut Details, input: Option<DetailsInput>, dp: i32) {
    let Some(input) = input else { return };
    if let Some(price) = input.unit_price {
        target.unit_price = price.map(|p| round(p, dp));
    }
    let blank = |v: Option<String>| v.filter(|s| !s.trim().is_empty());
    if let Some(code) = input.account_code {
        target.account_code = blank(code);
    }
    if let Some(code) = input.cogs_account_code {
        target.cogs_account_code = blank(code);
    }
    if let Some(tax) = input.tax_type {
        target.tax_type = blank(tax);
    }
}

/// The item as it would be after applying `input` to `base` (a new item when `base` is `None`).
pub(super) fn apply(base: Option<&Item>, input: Input, dp: i32, now_ms: EpochMs) -> Item {
    let mut item = base.cloned().unwrap_or_else(|| Item {
        item_id: Uuid::new_v4().to_string(),
        code: String::new(),
        name: None,
        description: None,
        purchase_description: None,
        is_sold: true,
        is_purchased: true,
        sales: Details::default(),
        purchase: Details::default(),
        inventory_asset_account_code: None,
        updated_ms: now_ms,
    });
    if let Some(code) = input.code {
        item.code = code;
    }
    for (target, value) in [
        (&mut item.name, input.name),
        (&mut item.description, input.description),
        (&mut item.purchase_description, input.purchase_description),
        (&mut item.inventory_asset_account_code, input.inventory_asset_account_code),
    ] {
        if let Some(value) = value {
            *target = value;
        }
    }
    item.is_sold = input.is_sold.unwrap_or(item.is_sold);
    item.is_purchased = input.is_purchased.unwrap_or(item.is_purchased);
    merge_details(&mut item.sales, input.sales, dp);
    merge_details(&mut item.purchase, input.purchase, dp);
    // Setting IsSold/IsPurchased to false nulls the matching description and details.
    if !item.is_sold {
        item.description = None;
        item.sales = Details::default();
    }
    if !item.is_purchased {
        item.purchase_description = None;
        item.purchase = Details::default();
    }
    item.updated_ms = now_ms;
    item
}

/// Xero's rules for an item about to be stored. An unknown TaxType is not an error: Xero accepts it and
/// stores the item without tax (XeroAPI/Xero-NetStandard#129), so it is dropped here.
pub(super) fn check(org: &Org, item: &mut Item, index: Option<usize>) -> Vec<String> {
    let mut errors = Vec::new();
    let code = item.code.trim();
    if code.is_empty() {
        errors.push("Price List Item Code must be supplied".to_string());
    } else if code.chars().count() > 30 {
        errors.push("The Code must be no more than 30 characters long.".to_string());
    } else if org
        .items
        .iter()
        .enumerate()
        .any(|(i, other)| Some(i) != index && other.code.eq_ignore_ascii_case(&item.code))
    {
        errors.push(format!("Price List Item with Code '{}' already exists", item.code));
    }
    for (label, value, max) in [
        ("Name", &item.name, 50),
        ("Description", &item.description, 4000),
        ("PurchaseDescription", &item.purchase_description, 4000),
    ] {
        if value.as_ref().is_some_and(|v| v.chars().count() > max) {
            errors.push(format!("The {label} must be no more than {max} characters long."));
        }
    }
    for details in [&mut item.sales, &mut item.purchase] {
        let account = match &details.account_code {
            Some(code) => match org.active_account(code) {
                Some(account) => Some(account),
                None => {
                    errors.push(format!("Account code '{code}' is not a valid code for this document."));
                    None
                }
            },
            None => None,
        };
        if let Some(tax_type) = details.tax_type.clone() {
            match org.active_tax_rate(&tax_type) {
                None => details.tax_type = None,
                Some(rate) => {
                    if let Some(account) = account.filter(|a| !rate.applies_to(a.class())) {
                        errors.push(format!(
                            "The TaxType code '{tax_type}' cannot be used with account code '{}'.",
                            account.code.as_deref().unwrap_or_default()
                        ));
                    }
                }
            }
        }
    }
    if let Some(code) = &item.purchase.cogs_account_code
        && org.active_account(code).is_none()
    {
        errors.push(format!("Account code '{code}' is not a valid code for this document."));
    }
    match (&item.inventory_asset_account_code, &item.purchase.cogs_account_code) {
        (None, Some(_)) => {
            errors.push("Cost Of Goods Sold Account must be used with an Inventory Asset Account".into())
        }
        (Some(_), None) => errors.push("Inventory Asset Account must be used with a Cost Of Goods Sold Account".into()),
        (Some(code), Some(_)) if org.active_account(code).is_none_or(|a| a.kind != "INVENTORY") => {
            errors.push(format!("Inventory Asset Account code '{code}' must be an account of type Inventory."));
        }
        _ => {}
    }
    errors
}

/// An element Xero did not store: the item as the write would have made it, and why not.
pub(super) struct Refused {
    pub item: Box<Item>,
    pub errors: Vec<String>,
}

impl Refused {
    /// The failed element as Xero answers it (the spec's createItems example): the would-be item, with an
    /// `ItemID` even for a failed create (one that was never stored, so a client must not link to it), and
    /// its `ValidationErrors`; `StatusAttributeString: ERROR` with `summarizeErrors=false`.
    pub fn to_json(&self, dp: i32, status: bool) -> Value {
        let mut v = self.item.to_json(dp);
        if status {
            v["StatusAttributeString"] = json!("ERROR");
        }
        v["ValidationErrors"] = Value::Array(self.errors.iter().map(|m| json!({ "Message": m })).collect());
        v
    }
}

/// Whether the element names a sales, purchase or COGS account Xero would refuse (unknown or archived).
pub(super) fn names_invalid_account(org: &Org, input: &Input) -> bool {
    [&input.sales, &input.purchase].into_iter().flatten().any(|d| {
        [&d.account_code, &d.cogs_account_code]
            .into_iter()
            .filter_map(|code| code.as_ref().and_then(Option::as_deref))
            .any(|code| !code.trim().is_empty() && org.active_account(code).is_none())
    })
}

/// Stores one element (create or update). `Err` carries the would-be item and the validation messages.
pub(super) fn store(
    org: &mut Org,
    mode: Mode,
    target: Option<usize>,
    mut input: Input,
    dp: i32,
    now_ms: EpochMs,
    stale: StaleItemId,
) -> Result<usize, Refused> {
    let refuse = |base: Option<&Item>, input: Input, errors: Vec<String>| {
        let item_id = input.item_id.clone();
        let mut item = apply(base, input, dp, now_ms);
        if let Some(id) = item_id.filter(|_| base.is_none()) {
            item.item_id = id;
        }
        Refused { item: Box::new(item), errors }
    };
    let by_code = |org: &Org, input: &Input| {
        input.code.as_ref().and_then(|code| org.items.iter().position(|i| i.code.eq_ignore_ascii_case(code)))
    };
    let index = match (mode, target) {
        (_, Some(index)) => Some(index),
        (Mode::Create, None) => None,
        (Mode::Upsert, None) => match input.item_id.clone() {
            Some(id) => match org.items.iter().position(|i| i.item_id.eq_ignore_ascii_case(&id)) {
                Some(index) => Some(index),
                None if stale == StaleItemId::Ignored => {
                    input.item_id = None;
                    by_code(org, &input)
                }
                None => {
                    let message = format!("Item with ItemID '{id}' could not be found.");
                    return Err(refuse(None, input, vec![message]));
                }
            },
            None => by_code(org, &input),
        },
    };
    if mode == Mode::Upsert && input.code.as_deref().is_none_or(|c| c.trim().is_empty()) {
        let base = index.map(|i| &org.items[i]);
        return Err(refuse(base, input, vec!["Price List Item Code must be supplied".to_string()]));
    }
    let mut item = apply(index.map(|i| &org.items[i]), input, dp, now_ms);
    let errors = check(org, &mut item, index);
    if !errors.is_empty() {
        return Err(Refused { item: Box::new(item), errors });
    }
    Ok(match index {
        Some(i) => {
            org.items[i] = item;
            i
        }
        None => {
            org.items.push(item);
            org.items.len() - 1
        }
    })
}
