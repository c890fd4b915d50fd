//! A small hand-written Zoho CRM client (`../shared/reference/zoho-crm.md` §5–§6): OAuth with a persisted refresh
//! token and in-memory access tokens, and the Products calls the syncs need (one record or
//! a page at a time, and write-backs of one record or up to 100).
//!
//! `tokens` holds the grant ([`ZohoVault`]) and issues access tokens single-flight within Zoho's
//! 10-per-10-minutes budget; `client` makes the CRM calls with retries; `error` reads Zoho's envelopes.

mod client;
mod error;
mod tokens;

pub use client::{
    CrmField, MAX_CALLS_IN_FLIGHT, MAX_UPDATE_RECORDS, PageRef, ProductsPage, UpdateOutcome, ZohoClient, update_body,
};
pub use error::ZohoError;
pub use tokens::{MemoryZohoVault, ZohoGrant, ZohoVault};
