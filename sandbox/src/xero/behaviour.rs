//! Switches for the places where Xero's behaviour is known but today's client is not ready for it, or where
//! Xero's behaviour is not known and a client must cope with every reading. Each names its point in
//! `../shared/reference/fidelity-audit.md`.
//!
//! The points Xero's documentation or captures settle (X1, X2) default to Xero's behaviour, and the client
//! copes with it (issue 11); their pre-audit answers stay available so a test can show the client copes
//! with either. The unverified points (X3, X5, X6, X8) default to the optimistic reading and can be switched
//! to each other reading per test.

/// How a token without the needed scope (e.g. only `accounting.settings.read` for a write) is refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum MissingScope {
    /// 403 `AuthorizationUnsuccessful`: the simulator's answer before the audit.
    Forbidden,
    /// 401 `{"Title":"Unauthorized","Status":401,"Detail":"AuthorizationUnsuccessful"}`, as Xero sends it
    /// (X1: XeroAPI/xero-ruby-oauth2-app#82, Xero-NetStandard#298, xero-node#320); default. A client that
    /// refreshes on every 401 rotates its refresh token for nothing here.
    #[default]
    Unauthorized,
}

/// What happens to an internal error (an injected 500) on a write that carries an `Idempotency-Key`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum ServerErrors {
    /// The error is not remembered: a retry with the same key is processed afresh (the simulator's answer
    /// before the audit).
    Forgotten,
    /// As Xero's idempotency guide says: "If an idempotent request errors out internally, the error will be
    /// cached and returned when the request is re-run even if the internal error is resolved" (X2). The
    /// 500 is stored under the key for the key's lifetime and replayed to a same-key retry; only a new key
    /// reaches the item rules again. Default.
    ///
    /// Only 500 is cached. 502, 503 and 504 are answers of Xero's gateway (503 "temporarily unavailable")
    /// given before the request reaches the API and its idempotency store, so they stay uncached and a
    /// same-key retry is processed. That reading is ours, not Xero's: whether a 503 is cached is unverified
    /// (fidelity-audit §5), so a client must not rely on a same-key retry after a 503 either.
    #[default]
    Cached,
}

/// What `POST /Items` does with an element whose `ItemID` Xero no longer has (the item was deleted in
/// Xero's web app, so a stored link is stale). Unverified (X6): each reading is offered.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum StaleItemId {
    /// The element fails with "Item with ItemID '…' could not be found." (our wording); default.
    #[default]
    ValidationError,
    /// The whole request is answered 404, nothing is stored.
    NotFound,
    /// The ItemID is ignored: the element matches by Code, or creates a new item.
    Ignored,
}

/// What a write with an AccountCode Xero does not accept (unknown or archived) gets.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum InvalidAccount {
    /// A per-element validation error, "Account code '…' is not a valid code for this document."; default.
    #[default]
    ValidationError,
    /// HTTP 500 `{"Title":"An error occurred",…,"Status":500}` for the whole request, nothing stored, as one
    /// report shows for PUT /Items with `summarizeErrors=false` (X3: XeroAPI/Xero-Java#246, 2021; unverified
    /// today).
    ServerError,
}

/// Whether the token endpoint accepts a PKCE code exchange from a client that also authenticates with its
/// secret (a Web app). Xero documents PKCE for its secret-less app type; Web apps: unverified (X8).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum PkceWithSecret {
    /// Both accepted; default.
    #[default]
    Accepted,
    /// A code issued with a `code_challenge` and exchanged with the client secret is refused with
    /// `400 {"error":"invalid_request"}` (and, being single-use, is gone).
    Refused,
}

/// How a 429's `X-Rate-Limit-Problem` names the app-wide minute limit and the limit on calls in flight. Xero
/// is only observed sending `minute` and `day` (xero-node#634; a recorded 429 in an xpm_ruby cassette); the
/// other two values are unverified (X5), and public code spells the app one `appminute` or `app-minute`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum ProblemNames {
    /// `appminute`, `concurrent`; default.
    #[default]
    Joined,
    /// `app-minute`, `concurrent`.
    Hyphenated,
    /// `AppMinute`, `Concurrent`.
    Capitalised,
}

/// Every switch; see each type.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Behaviour {
    pub missing_scope: MissingScope,
    pub server_errors: ServerErrors,
    pub stale_item_id: StaleItemId,
    pub invalid_account: InvalidAccount,
    pub pkce_with_secret: PkceWithSecret,
    pub problem_names: ProblemNames,
}

impl Behaviour {
    /// Xero's documented behaviour (X1 401, X2 cached 500s) with the unverified points at their defaults:
    /// since issue 11 the same as [`Behaviour::default`]; kept for the sandbox binary's
    /// `--xero-as-documented` and the callers written before.
    pub fn as_xero() -> Self {
        Self { missing_scope: MissingScope::Unauthorized, server_errors: ServerErrors::Cached, ..Self::default() }
    }

    /// The simulator before the audit for the settled points (403 for a missing scope, 500s forgotten), to
    /// show a client copes with those answers too.
    pub fn pre_audit() -> Self {
        Self { missing_scope: MissingScope::Forbidden, server_errors: ServerErrors::Forgotten, ..Self::default() }
    }
}
