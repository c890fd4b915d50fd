//! The xero-sync domain, with no IO, compiled both natively (backend) and to wasm32 (widget), so that the
//! checks a sales person sees in the browser are exactly the checks the server enforces.
//!
//! - [`product`]: a Zoho CRM Products record, parsed field by field ([`CrmProduct`]).
//! - [`fields`]: the CRM API names of the fields the sync reads and writes ([`FieldMap`]).
//! - [`rules`]: the sync rules ([`validate`]), returning every issue at once, tied to its field.
//! - [`xero`]: Xero's accounts, tax rates and the Item payload we send ([`ItemPayload`]).
//! - [`wire`]: the JSON the widget and the backend exchange.

pub mod fields;
pub mod product;
pub mod rules;
mod suggest;
pub mod wire;
pub mod xero;

pub use fields::FieldMap;
pub use product::{CrmProduct, FieldValue, JsonKind, NotARecord};
pub use rules::{Issue, IssueCode, Report, Requirement, Severity, XeroContext, validate};
pub use xero::{Account, ItemPayload, Resolved, SalesDetails, TaxRate};
