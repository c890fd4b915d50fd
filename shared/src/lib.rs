//! The xero-sync domain, with no IO, compiled both natively (backend) and to wasm32 (widget), so that the
//! checks a sales person sees in the browser are exactly the checks the server enforces.
//!
//! - [`product`]: a Zoho CRM Products record, parsed field by field ([`CrmProduct`]).
//! - [`fields`]: the CRM API names of the fields the sync reads and writes ([`FieldMap`]).
//! - [`rules`]: the sync rules ([`validate`]), returning every issue at once, tied to its field.
//! - [`defaults`]: the organisation's default account and CRM-tax-to-Xero-rate mapping ([`OrgDefaults`]).
//! - [`tax`]: a CRM tax's percentage, read from its name, to compare with Xero's rates.
//! - [`xero`]: Xero's accounts, tax rates and the Item payload we send ([`ItemPayload`]).
//! - [`wire`]: the JSON the widget and the backend exchange.

pub mod defaults;
pub mod fields;
pub mod product;
pub mod rules;
mod suggest;
pub mod tax;
pub mod wire;
pub mod xero;

pub use defaults::{OrgDefaults, TaxMapping};
pub use fields::FieldMap;
pub use product::{CrmProduct, FieldValue, JsonKind, NotARecord};
pub use rules::{Issue, IssueCode, Report, Requirement, Severity, XeroContext, suggest_code, validate, validate_with};
pub use xero::{Account, ItemPayload, Origin, Resolution, Resolved, SalesDetails, TaxRate};
