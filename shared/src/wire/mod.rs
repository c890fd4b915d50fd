//! The JSON the widget and the backend exchange. Both sides compile these types, so a field renamed on one
//! side cannot silently break the other.

mod decode;

pub use decode::FromJson;

use serde::{Deserialize, Serialize};

use crate::defaults::OrgDefaults;
use crate::fields::FieldMap;
use crate::rules::Issue;
use crate::xero::{Account, ItemPayload, TaxRate};

/// The name of the Zoho CRM Connection the widget invokes (`ZOHO.CRM.CONNECTION.invoke`); the admin creates
/// a Connection with this name, and the backend's pages tell them so.
pub const CONNECTION_NAME: &str = "xero_sync_backend";

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
    /// What only the server knows; the widget reads it with [`SyncPlan::in_preview`].
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub plan: Option<SyncPlan>,
}

/// What only the server knows before a sync, sent with the preview under `"plan"` (optional: without it
/// the widget shows the rules' checks alone). A code another product's item holds is an issue of the
/// preview (`code_in_use` on `Product_Code`, naming that product and its item's code).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SyncPlan {
    /// What a sync now would do: create a new item, update the matched one, or leave it as it is.
    pub outcome: SyncOutcome,
    /// The Xero item the product is matched to; none when the sync would create one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub item: Option<MatchedItem>,
    /// A code made from the product's name that no Xero item has ([`crate::suggest_code`] against the
    /// organisation's codes), offered when the product's code needs fixing (missing, breaking a rule, or
    /// another product's item's): what "Suggest a code" fills.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub suggested_code: Option<String>,
    /// The fields we manage that were changed in Xero since our last sync; the user chooses between
    /// [`XeroEdits::Overwrite`] and [`XeroEdits::Keep`] before syncing.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub xero_edits: Vec<XeroEdit>,
}

impl SyncPlan {
    /// The plan of a preview answer, when the backend sent one.
    pub fn in_preview(preview: &serde_json::Value) -> Option<SyncPlan> {
        preview.get("plan").and_then(FromJson::from_json)
    }
}

/// The Xero item a product is matched to.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct MatchedItem {
    pub item_id: String,
    pub code: String,
    /// When we last synced the product to it (RFC 3339); none when we never did (matched by code).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_synced: Option<String>,
}

/// One field changed in Xero since our last sync, e.g. the price: Xero has 34.00, the CRM 29.95.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct XeroEdit {
    /// The CRM field's API name, e.g. `Unit_Price`.
    pub field: String,
    /// Both values as a person reads them ("34.00").
    pub xero_value: String,
    pub crm_value: String,
    /// The item's `UpdatedDateUTC` in Xero (RFC 3339).
    pub changed_at: String,
}

/// The body of `POST /api/products/{id}/sync`. Optional: no body means the defaults.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct SyncRequest {
    #[serde(default)]
    pub xero_edits: XeroEdits,
}

/// What to do with the fields changed in Xero since our last sync ([`SyncPlan::xero_edits`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum XeroEdits {
    /// Send the CRM's values, as every sync does.
    #[default]
    Overwrite,
    /// Keep Xero's values: the sync writes nothing to Xero.
    Keep,
}

impl XeroEdits {
    /// Its name on the wire (serde's), for the widget's hand-built request body.
    pub fn name(self) -> &'static str {
        match self {
            Self::Overwrite => "overwrite",
            Self::Keep => "keep",
        }
    }
}

/// A code suggested for a product from its name, free in the organisation's Xero: the answer of
/// `GET /api/products/{id}/code-suggestion?name=…` ([`crate::suggest_code`] with the codes of the
/// organisation's items as taken), for a name not yet saved. The widget takes the saved name's from the
/// preview ([`SyncPlan::suggested_code`]): the popup cannot change the name, and a request of its own
/// would cost the bundle 1.1 KB gzip.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CodeSuggestion {
    pub code: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SyncOutcome {
    Created,
    Updated,
    /// Xero already holds exactly this content.
    Unchanged,
    /// The item was changed in Xero since the last sync and the user chose to keep Xero's values
    /// ([`XeroEdits::Keep`]): nothing was written to Xero.
    Kept,
}

impl SyncOutcome {
    /// The outcome in words: what the widget says and what the CRM record's sync status field records.
    pub fn sentence(self) -> &'static str {
        match self {
            SyncOutcome::Created => "Created in Xero",
            SyncOutcome::Updated => "Updated in Xero",
            SyncOutcome::Unchanged => "Up to date in Xero",
            SyncOutcome::Kept => "Kept Xero's version",
        }
    }
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

/// The organisation's Xero lists, for the widget's rules and pick-lists, the CRM field names it syncs, and
/// the organisation's defaults.
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
    /// The organisation's default account and CRM tax mapping (none: the rules as without defaults).
    #[serde(default, skip_serializing_if = "OrgDefaults::is_none")]
    pub defaults: OrgDefaults,
}

/// One past sync of a product, newest first in lists.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct HistoryEntry {
    /// RFC 3339.
    pub at: String,
    pub by: String,
    /// `running`, `created`, `updated`, `unchanged`, `refused`, `failed` or `interrupted`.
    pub outcome: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
}
