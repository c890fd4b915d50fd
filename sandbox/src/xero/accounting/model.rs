//! What Xero stores: Items with their sales and purchase details, and the field lists `where` and `order`
//! may name for each entity.

use serde_json::{Map, Value, json};

use crate::xero::time::{EpochMs, ms_date};

pub(super) const ITEM_FIELDS: &[&str] = &[
    "ItemID",
    "Code",
    "Name",
    "Description",
    "PurchaseDescription",
    "IsSold",
    "IsPurchased",
    "IsTrackedAsInventory",
    "InventoryAssetAccountCode",
    "SalesDetails",
    "PurchaseDetails",
    "UpdatedDateUTC",
    "TotalCostPool",
    "QuantityOnHand",
];
pub(super) const TAX_RATE_FIELDS: &[&str] = &[
    "Name",
    "TaxType",
    "Status",
    "ReportTaxType",
    "CanApplyToAssets",
    "CanApplyToEquity",
    "CanApplyToExpenses",
    "CanApplyToLiabilities",
    "CanApplyToRevenue",
    "DisplayTaxRate",
    "EffectiveRate",
];
pub(super) const ACCOUNT_FIELDS: &[&str] = &[
    "AccountID",
    "Code",
    "Name",
    "Type",
    "Class",
    "Status",
    "TaxType",
    "Description",
    "SystemAccount",
    "BankAccountNumber",
    "BankAccountType",
    "CurrencyCode",
    "EnablePaymentsToAccount",
    "ShowInExpenseClaims",
    "ReportingCode",
    "ReportingCodeName",
    "UpdatedDateUTC",
    "AddToWatchlist",
    "HasAttachments",
];

/// A stored item.
#[derive(Debug, Clone, PartialEq)]
pub struct Item {
    pub item_id: String,
    pub code: String,
    pub name: Option<String>,
    pub description: Option<String>,
    pub purchase_description: Option<String>,
    pub is_sold: bool,
    pub is_purchased: bool,
    pub sales: Details,
    pub purchase: Details,
    pub inventory_asset_account_code: Option<String>,
    pub updated_ms: EpochMs,
}

/// A change made to an item in Xero's web app ([`crate::xero::XeroSim::edit_item`]): each `Some` replaces
/// that value; the price, account and tax are the sales details.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ItemEdit {
    pub name: Option<String>,
    pub description: Option<String>,
    pub unit_price: Option<f64>,
    pub account_code: Option<String>,
    pub tax_type: Option<String>,
}

/// `SalesDetails` / `PurchaseDetails` (the spec's `Purchase` schema).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Details {
    /// Stored at the precision of the write (2 dp, or 4 with `unitdp=4`).
    pub unit_price: Option<f64>,
    pub account_code: Option<String>,
    pub cogs_account_code: Option<String>,
    /// `None` also when an unknown TaxType was sent (Xero drops it silently).
    pub tax_type: Option<String>,
}

impl Details {
    pub(super) fn to_json(&self, dp: i32) -> Value {
        let mut v = Map::new();
        if let Some(p) = self.unit_price {
            v.insert("UnitPrice".into(), json!(round(p, dp)));
        }
        for (key, value) in [
            ("AccountCode", &self.account_code),
            ("COGSAccountCode", &self.cogs_account_code),
            ("TaxType", &self.tax_type),
        ] {
            if let Some(value) = value {
                v.insert(key.into(), json!(value));
            }
        }
        Value::Object(v)
    }
}

impl Item {
    /// Xero tracks an item as inventory when both inventory codes are set; the flag cannot be set directly.
    pub fn is_tracked(&self) -> bool {
        self.inventory_asset_account_code.is_some() && self.purchase.cogs_account_code.is_some()
    }

    /// Xero's JSON representation, prices at `dp` decimal places.
    pub fn to_json(&self, dp: i32) -> Value {
        let mut v = json!({
            "ItemID": self.item_id,
            "Code": self.code,
            "UpdatedDateUTC": ms_date(self.updated_ms),
            "PurchaseDetails": self.purchase.to_json(dp),
            "SalesDetails": self.sales.to_json(dp),
            "IsTrackedAsInventory": self.is_tracked(),
            "IsSold": self.is_sold,
            "IsPurchased": self.is_purchased,
        });
        for (key, value) in [
            ("Name", &self.name),
            ("Description", &self.description),
            ("PurchaseDescription", &self.purchase_description),
            ("InventoryAssetAccountCode", &self.inventory_asset_account_code),
        ] {
            if let Some(value) = value {
                v[key] = json!(value);
            }
        }
        if self.is_tracked() {
            v["TotalCostPool"] = json!(0.0);
            v["QuantityOnHand"] = json!(0.0);
        }
        v
    }
}

pub(super) fn round(value: f64, dp: i32) -> f64 {
    let factor = 10f64.powi(dp);
    (value * factor).round() / factor
}
