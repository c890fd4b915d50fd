//! A small hand-written Xero client: OAuth tokens with rotation-safe refresh ([`tokens`]), a per-tenant
//! rate limiter ([`limiter`]), and the Accounting calls the sync needs ([`client`]): connections, Accounts
//! and TaxRates (cached), and Items (read, upsert, update). Behaviour follows
//! `../shared/reference/xero-api.md`.

mod client;
mod error;
mod limiter;
mod tokens;
mod types;

pub use client::{MAX_ITEMS_PER_CALL, NO_ELEMENT, XeroClient, XeroClientConfig, items_body};
pub use error::XeroError;
pub use limiter::{LimitStatus, LimiterConfig};
pub use tokens::{MemoryVault, TokenSet, TokenVault, pkce_pair};
pub use types::{ElementStatus, ItemResult, Tenant, XeroItem};
