//! The sync rules: what a product needs before it can become a Xero Item.
//!
//! [`validate`] runs in two settings with the same code: in the browser on every keystroke (without Xero
//! data, [`XeroContext::NONE`], until the organisation's lists have arrived, then with them), and on the
//! server with the organisation's live accounts and tax rates before every write, where it also resolves
//! the names typed in the CRM to the codes Xero wants ([`Report::resolved`]).
//!
//! - `issue`: the vocabulary ([`Issue`], [`IssueCode`], [`Severity`]).
//! - `checklist`: the requirements the widget lists, one per field ([`Requirement`]).
//! - `checks`: [`validate`] and the checks of the fields a name does not need resolving for.
//! - `code`: the product code's unsafe characters, and a code suggested from the name ([`suggest_code`]).
//! - `names`: the names typed for Xero's GL account and tax rate, resolved against the organisation's lists.

mod checklist;
mod checks;
mod code;
mod issue;
mod names;

pub use checklist::Requirement;
pub use checks::{validate, validate_with};
pub use code::suggest_code;
pub use issue::{Issue, IssueCode, Severity};
pub use names::same_name;

use crate::product::CrmProduct;
use crate::xero::{Account, ItemPayload, Resolution, Resolved, SalesDetails, TaxRate};

/// What is known of the Xero organisation. Without lists, the name checks stop at "is something chosen".
#[derive(Debug, Clone, Copy, Default)]
pub struct XeroContext<'a> {
    pub accounts: Option<&'a [Account]>,
    pub tax_rates: Option<&'a [TaxRate]>,
}

impl XeroContext<'_> {
    pub const NONE: XeroContext<'static> = XeroContext { accounts: None, tax_rates: None };
}

/// The outcome of [`validate`].
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Report {
    /// Every issue, in checklist order.
    pub issues: Vec<Issue>,
    /// Present when both lists were known and both names resolved.
    pub resolved: Option<Resolved>,
    /// The account code, when the account resolved against Xero's chart (whatever the tax rate did).
    pub account: Option<Resolution>,
    /// The TaxType, when the tax rate resolved against Xero's rates.
    pub tax_rate: Option<Resolution>,
}

impl Report {
    pub fn can_sync(&self) -> bool {
        !self.issues.iter().any(Issue::is_error)
    }

    pub fn errors(&self) -> impl Iterator<Item = &Issue> {
        self.issues.iter().filter(|i| i.is_error())
    }

    pub fn warnings(&self) -> impl Iterator<Item = &Issue> {
        self.issues.iter().filter(|i| !i.is_error())
    }

    /// The worst severity on a field, `None` when it is fine.
    pub fn severity_of(&self, field: &str) -> Option<Severity> {
        self.issues.iter().filter(|i| i.field == field).map(|i| i.severity).max()
    }

    /// The Item to send, when nothing blocks and the names resolved.
    pub fn payload(&self, product: &CrmProduct) -> Option<ItemPayload> {
        let resolved = self.resolved.as_ref().filter(|_| self.can_sync())?;
        Some(ItemPayload {
            item_id: product.xero_item_id.text().map(str::to_owned),
            code: product.code.present()?.clone(),
            name: product.name.text()?.to_owned(),
            description: product.description.present().cloned().unwrap_or_default(),
            is_sold: true,
            sales_details: SalesDetails {
                unit_price: product.unit_price.present().copied(),
                account_code: resolved.account_code.clone(),
                tax_type: resolved.tax_type.clone(),
            },
        })
    }
}
