//! What we read from and send to Xero: accounts and tax rates (read tolerantly, Xero adds fields) and the
//! Item payload (written strictly, in Xero's PascalCase).

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

/// Xero's limits on an Item (`xero_accounting.yaml`, `components.schemas.Item`).
pub const MAX_CODE_CHARS: usize = 30;
pub const MAX_NAME_CHARS: usize = 50;
pub const MAX_DESCRIPTION_CHARS: usize = 4000;
/// Decimals Xero keeps on a unit price when asked with `unitdp=4`; without it, 2.
pub const MAX_PRICE_DECIMALS: u32 = 4;
pub const ROUNDED_PRICE_DECIMALS: u32 = 2;

/// An account of the organisation's chart (`GET /Accounts`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct Account {
    #[serde(rename = "AccountID", default)]
    pub account_id: String,
    /// Items reference accounts by code; some accounts have none.
    #[serde(default)]
    pub code: Option<String>,
    pub name: String,
    #[serde(default)]
    pub status: String,
    #[serde(default)]
    pub class: String,
    #[serde(rename = "Type", default)]
    pub account_type: String,
    /// Set by Xero on the accounts it manages itself (`DEBTORS`, `CREDITORS`, `GST`, `RETAINEDEARNINGS`, …).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub system_account: Option<String>,
}

impl Account {
    pub fn is_active(&self) -> bool {
        self.status.eq_ignore_ascii_case("ACTIVE")
    }

    /// The code, when the account has a non-blank one.
    pub fn usable_code(&self) -> Option<&str> {
        self.code.as_deref().map(str::trim).filter(|c| !c.is_empty())
    }

    pub fn is_revenue(&self) -> bool {
        self.class.eq_ignore_ascii_case("REVENUE")
    }

    /// Can be chosen as an item's sales account: active, with a code, and not one Xero keeps for itself.
    pub fn is_selectable(&self) -> bool {
        self.is_active() && self.usable_code().is_some() && self.system_role().is_none()
    }

    /// Why sales cannot be posted to this account, when it is one of Xero's system or control accounts: Xero
    /// posts to those itself (a sale posted there would corrupt receivables, payables, the tax return or the
    /// bank balance). Bank accounts carry no `SystemAccount` but are recognised by their type.
    pub fn system_role(&self) -> Option<&'static str> {
        if self.account_type.eq_ignore_ascii_case("BANK") {
            return Some("a bank account: Xero records payments in it, not sales");
        }
        let marked = self.system_account.as_deref().map(str::trim).filter(|s| !s.is_empty())?;
        let role = [
            (
                "DEBTORS",
                "Xero's accounts receivable control account: Xero posts to it itself when an invoice is raised",
            ),
            ("CREDITORS", "Xero's accounts payable control account: Xero posts to it itself when a bill is entered"),
            ("GST", "Xero's GST/VAT control account: Xero fills it from the tax rates"),
            ("RETAINEDEARNINGS", "Xero's retained earnings account: Xero works it out itself at the end of each year"),
        ]
        .into_iter()
        .find(|(name, _)| marked.eq_ignore_ascii_case(name));
        Some(role.map_or("a system account that Xero manages itself", |(_, role)| role))
    }
}

/// The accounts a product can be posted to, as pick-lists offer them: revenue accounts first, each group in
/// the order Xero lists them; never an account Xero keeps for itself ([`Account::system_role`]).
pub fn account_choices(accounts: &[Account]) -> impl Iterator<Item = &Account> {
    let selectable = |revenue: bool| accounts.iter().filter(move |a| a.is_selectable() && a.is_revenue() == revenue);
    selectable(true).chain(selectable(false))
}

/// A tax rate of the organisation (`GET /TaxRates`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct TaxRate {
    pub name: String,
    /// The code Xero wants in `SalesDetails.TaxType`, e.g. `OUTPUT`.
    pub tax_type: String,
    #[serde(default)]
    pub status: String,
    #[serde(default)]
    pub can_apply_to_revenue: bool,
    #[serde(default)]
    pub effective_rate: Option<f64>,
}

impl TaxRate {
    pub fn is_active(&self) -> bool {
        self.status.eq_ignore_ascii_case("ACTIVE")
    }

    /// Can be chosen for an item's sales details.
    pub fn is_selectable(&self) -> bool {
        self.is_active() && self.can_apply_to_revenue
    }
}

/// Where a resolved account or tax rate came from, for the widget ("the organisation's default"), the
/// sync log and the write-back.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Origin {
    /// Typed (or picked) on the product.
    #[default]
    Typed,
    /// The organisation's default account ([`crate::OrgDefaults::gl_account`]).
    Default,
    /// Mapped from the product's CRM tax (its name as the `Tax` field holds it) by the organisation's
    /// mapping ([`crate::OrgDefaults::taxes`]).
    Mapping(String),
}

/// One resolved value: an account code or a TaxType, and where it came from.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Resolution {
    pub value: String,
    pub origin: Origin,
}

/// The account code and tax type that a product's names resolved to in one organisation.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Resolved {
    pub account_code: String,
    pub tax_type: String,
    #[serde(default)]
    pub account_origin: Origin,
    #[serde(default)]
    pub tax_origin: Origin,
}

/// `SalesDetails` of an Item (Xero's `Purchase` schema).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", deny_unknown_fields)]
pub struct SalesDetails {
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub unit_price: Option<f64>,
    pub account_code: String,
    pub tax_type: String,
}

/// One element of the `{"Items": [...]}` body of `POST /Items`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", deny_unknown_fields)]
pub struct ItemPayload {
    /// Sent when we know the item, so Xero matches by id and a renamed code updates it.
    #[serde(rename = "ItemID", skip_serializing_if = "Option::is_none", default)]
    pub item_id: Option<String>,
    pub code: String,
    pub name: String,
    /// Always sent (empty when the CRM has none) so that clearing it in the CRM clears it in Xero.
    pub description: String,
    pub is_sold: bool,
    pub sales_details: SalesDetails,
}

impl ItemPayload {
    /// A stable digest of what the item will contain in Xero (the ItemID left out), so a bulk sync can skip
    /// products whose payload has not changed since the last successful sync.
    pub fn content_hash(&self) -> String {
        let content = Self { item_id: None, ..self.clone() };
        // Field order is the struct's, so the serialisation is canonical.
        let bytes = serde_json::to_vec(&content).unwrap_or_default();
        Sha256::digest(&bytes).iter().map(|b| format!("{b:02x}")).collect()
    }
}

/// Xero's web app page of an item, for the "open in Xero" link.
pub fn item_url(item_id: &str) -> String {
    format!("https://go.xero.com/Accounts/Inventory/{item_id}")
}
