//! A small hand-written Xero client: OAuth tokens with rotation-safe refresh ([`tokens`]), a per-tenant
//! rate limiter ([`limiter`]), and the Accounting calls the sync needs ([`client`]): connections, Accounts
//! and TaxRates (cached), and Items (read, upsert, update). Behaviour follows
//! `shared/reference/xero-api.md`.

pub mod client;
pub mod error;
pub mod limiter;
pub mod tokens;
pub mod types;

pub use client::{MAX_ITEMS_PER_CALL, RetryConfig, XeroClient, XeroClientConfig, XeroUrls, items_body};
pub use error::{VaultError, XeroError};
pub use limiter::{LimitStatus, LimiterConfig};
pub use tokens::{MemoryVault, TokenManager, TokenSet, TokenVault, XeroCredentials, pkce_pair};
pub use types::{ElementStatus, ItemResult, Tenant, XeroItem, XeroSalesDetails, parse_ms_date};
