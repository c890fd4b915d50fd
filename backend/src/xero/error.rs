//! Errors of the Xero client. Their messages are shown to an admin, so they are plain and never contain a
//! token or a response body beyond a short excerpt.

use std::time::Duration;

use crate::vault::VaultError;

#[derive(Debug, thiserror::Error)]
pub enum XeroError {
    /// The refresh token is gone or refused (`invalid_grant`): an admin must connect Xero again.
    #[error("Xero needs to be reconnected: {0}")]
    ReconnectNeeded(String),
    /// 403 `AuthenticationUnsuccessful`: the organisation is no longer connected (disconnected, or a demo
    /// company reset gave it a new tenant id).
    #[error("Xero refused access to this organisation; check the connection")]
    TenantForbidden,
    /// A rate limit Xero will not lift soon (the daily one), or a wait longer than we accept.
    #[error("Xero rate limit reached ({problem}); try again later")]
    RateLimited { retry_after: Option<Duration>, problem: String },
    /// Network errors, timeouts, or 5xx answers to a read, that outlasted the retries.
    #[error("Xero is unavailable: {0}")]
    Unavailable(String),
    /// A write Xero answered with a server error (5xx), again when retried once, after a re-read, under a
    /// new Idempotency-Key. Xero answers some invalid data this way (fidelity-audit X3), so the data may be
    /// the cause as much as Xero; what was sent may or may not have been stored.
    #[error("Xero answered the write with HTTP {status}, also when retried under a new key")]
    ServerError { status: u16 },
    /// Xero (or our own pre-checks) rejected the data.
    #[error("Xero rejected the data: {}", .0.join("; "))]
    Validation(Vec<String>),
    /// Any other answer.
    #[error("unexpected answer from Xero (HTTP {status}): {body_excerpt}")]
    Unexpected { status: u16, body_excerpt: String },
    #[error(transparent)]
    Vault(#[from] VaultError),
}

/// A transport failure in words an admin can read (reqwest's own text may carry URLs).
pub(super) fn describe_transport(error: &reqwest::Error) -> String {
    if error.is_timeout() {
        "the request to Xero timed out".into()
    } else if error.is_connect() {
        "could not connect to Xero".into()
    } else {
        "the connection to Xero was lost".into()
    }
}

/// The first characters of a body, for errors and logs (never a token endpoint body).
pub(super) fn excerpt(body: &[u8]) -> String {
    const MAX: usize = 300;
    let text = String::from_utf8_lossy(body);
    let mut out: String = text.chars().take(MAX).collect();
    if text.chars().count() > MAX {
        out.push('…');
    }
    out
}

impl XeroError {
    /// Whether this is Xero's daily limit (by Xero's 429 or our own count), which lifts only when the day
    /// resets, unlike the minute's.
    pub fn is_daily_limit(&self) -> bool {
        matches!(self, XeroError::RateLimited { problem, .. } if super::limiter::RateScope::of(problem) == super::limiter::RateScope::Day)
    }
}
