//! The JSON the widget and the backend exchange. Both sides compile these types, so a field renamed on one
//! side cannot silently break the other.

mod decode;

pub use decode::FromJson;

use serde::{Deserialize, Serialize};

use crate::fields::FieldMap;
use crate::rules::Issue;
use crate::xero::{Account, ItemPayload, TaxRate};

/// Every error response has this body: `{"error": {...}}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ErrorEnvelope {
    pub error: ApiError,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ApiError {
    pub code: ErrorCode,
    /// One sentence for the user; never internals.
    pub message: String,
    /// Per-field issues: our rules and Xero's validation errors, on the CRM fields they concern.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub issues: Vec<Issue>,
    /// Quote it to support to find the server's log lines.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub request_id: Option<String>,
}

/// Stable error codes; clients branch on them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ErrorCode {
    BadRequest,
    /// No valid session token: the widget starts a new session and retries.
    Unauthorized,
    /// The token is valid but not for this record.
    Forbidden,
    NotFound,
    /// The product breaks sync rules; see `issues`.
    ValidationFailed,
    /// Xero refused the item; see `issues`.
    XeroRejected,
    /// The Xero or Zoho connection must be re-authorised by an admin.
    ReconnectNeeded,
    /// Xero's or Zoho's rate limit; retry later.
    RateLimited,
    /// Xero or Zoho did not answer in time or failed; a retry is safe.
    UpstreamUnavailable,
    Internal,
}

/// Sent by Zoho's servers (through the widget's `CONNECTION.invoke`) to open a session for one record.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SessionRequest {
    pub record_id: String,
    /// Who clicked the button, for the sync log.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub user: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SessionResponse {
    /// Bearer token for the other routes, bound to `record_id`.
    pub token: String,
    pub record_id: String,
    /// Seconds since the Unix epoch.
    pub expires_at: u64,
}

/// A dry run: what a sync would send, and what stops it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PreviewResponse {
    pub record_id: String,
    pub issues: Vec<Issue>,
    /// The exact Item a sync would send now, when nothing blocks.
    pub payload: Option<ItemPayload>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SyncOutcome {
    Created,
    Updated,
    /// Xero already holds exactly this content.
    Unchanged,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SyncResponse {
    pub outcome: SyncOutcome,
    pub item_id: String,
    pub code: String,
    /// The item in Xero's web app.
    pub xero_url: String,
    /// RFC 3339.
    pub synced_at: String,
    /// Warnings that did not block the sync.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub warnings: Vec<Issue>,
}

/// The organisation's Xero lists, for the widget's rules and pick-lists, and the CRM field names it syncs.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PickLists {
    /// The organisation's custom field API names (`XERO_SYNC_FIELD_*`), so the widget checks and writes
    /// the same fields the backend reads.
    #[serde(default)]
    pub fields: FieldMap,
    /// The whole chart of accounts as Xero lists it, archived ones included: the widget runs the same rules
    /// as the backend on it, so a mistyped or archived account is flagged, with suggestions, as it is typed.
    /// The pick-list offers [`crate::xero::account_choices`].
    pub accounts: Vec<Account>,
    /// The active tax rates as Xero lists them; the pick-list offers the ones that apply to sales.
    pub tax_rates: Vec<TaxRate>,
}

/// One past sync of a product, newest first in lists.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct HistoryEntry {
    /// RFC 3339.
    pub at: String,
    pub by: String,
    /// `created`, `updated`, `unchanged`, `refused` or `failed`.
    pub outcome: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
}
