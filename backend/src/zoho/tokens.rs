//! Zoho OAuth for the backend (`../shared/reference/zoho-crm.md` §6): the refresh token lives in a
//! [`ZohoVault`]; access tokens live in memory only, refreshed one at a time and within Zoho's
//! 10-requests-per-10-minutes budget.

use std::collections::VecDeque;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use async_trait::async_trait;
use reqwest::StatusCode;
use secrecy::{ExposeSecret, SecretString};
use serde::Deserialize;
use tokio::time::Instant;

use super::error::ZohoError;
use crate::config::ClientCredentials;
use crate::vault::VaultError;

/// Zoho allows this many access-token requests per refresh token per [`BUDGET_WINDOW`]; one more blocks
/// the refresh token for the rest of the window.
const BUDGET: usize = 10;
const BUDGET_WINDOW: Duration = Duration::from_secs(10 * 60);
/// Access tokens are used until this long before Zoho says they expire.
const EXPIRY_MARGIN: Duration = Duration::from_secs(5 * 60);

/// What a Self Client exchange leaves behind: Zoho's refresh tokens never expire and never rotate.
#[derive(Debug, Clone)]
pub struct ZohoGrant {
    pub refresh_token: SecretString,
    /// The data centre's API host named by the last token response, e.g. `https://www.zohoapis.com.au`.
    pub api_domain: String,
}

/// Where the grant is persisted (the SQLite store in production, [`MemoryZohoVault`] in tests).
#[async_trait]
pub trait ZohoVault: Send + Sync + 'static {
    /// The usable grant: `None` before the first exchange and after [`ZohoVault::mark_reconnect_needed`].
    async fn load(&self) -> Result<Option<ZohoGrant>, VaultError>;
    /// Stores a new grant or a grant with a new `api_domain`, and clears any reconnect mark.
    async fn save(&self, grant: &ZohoGrant) -> Result<(), VaultError>;
    /// Zoho refused the grant for good: keep `reason` for the admin and stop handing the grant out, so
    /// every later call fails fast instead of spending token requests.
    async fn mark_reconnect_needed(&self, reason: &str) -> Result<(), VaultError>;
}

/// A [`ZohoVault`] in memory, for tests and the no-credentials demo.
#[derive(Debug, Default)]
pub struct MemoryZohoVault {
    state: Mutex<MemoryState>,
}

#[derive(Debug, Default)]
struct MemoryState {
    grant: Option<ZohoGrant>,
    reconnect_reason: Option<String>,
}

impl MemoryZohoVault {
    pub fn new() -> Self {
        Self::default()
    }

    pub fn with_grant(grant: ZohoGrant) -> Self {
        Self { state: Mutex::new(MemoryState { grant: Some(grant), reconnect_reason: None }) }
    }

    pub fn grant(&self) -> Option<ZohoGrant> {
        self.lock().grant.clone()
    }

    /// Why the grant was given up, if it was.
    pub fn reconnect_reason(&self) -> Option<String> {
        self.lock().reconnect_reason.clone()
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, MemoryState> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

#[async_trait]
impl ZohoVault for MemoryZohoVault {
    async fn load(&self) -> Result<Option<ZohoGrant>, VaultError> {
        Ok(self.grant())
    }

    async fn save(&self, grant: &ZohoGrant) -> Result<(), VaultError> {
        *self.lock() = MemoryState { grant: Some(grant.clone()), reconnect_reason: None };
        Ok(())
    }

    async fn mark_reconnect_needed(&self, reason: &str) -> Result<(), VaultError> {
        *self.lock() = MemoryState { grant: None, reconnect_reason: Some(reason.to_string()) };
        Ok(())
    }
}

/// A live access token and the API host it belongs to.
#[derive(Clone)]
pub(super) struct AccessToken {
    pub(super) token: SecretString,
    pub(super) api_domain: String,
    expires_at: Instant,
}

/// Issues access tokens. The state mutex is held across a refresh, which makes refreshes single-flight:
/// callers queued behind it find the fresh token.
pub(super) struct ZohoAuth {
    http: reqwest::Client,
    token_url: String,
    default_api_domain: String,
    credentials: ClientCredentials,
    vault: Arc<dyn ZohoVault>,
    state: tokio::sync::Mutex<TokenState>,
}

#[derive(Default)]
struct TokenState {
    access: Option<AccessToken>,
    /// When token requests were sent for the current refresh token, oldest first (within the window).
    requests: VecDeque<Instant>,
    /// Set when Zoho refused for too many requests: its block lasts the rest of a window we cannot see.
    blocked_until: Option<Instant>,
}

/// The token endpoint's answer: a token, or `{"error": …}` (usually with HTTP 200).
#[derive(Deserialize)]
struct TokenResponse {
    access_token: Option<SecretString>,
    refresh_token: Option<SecretString>,
    /// Seconds; a number from Zoho, but read tolerantly so an odd type cannot hide the token.
    expires_in: Option<serde_json::Value>,
    api_domain: Option<String>,
    error: Option<String>,
    error_description: Option<String>,
}

struct Issued {
    access_token: SecretString,
    refresh_token: Option<SecretString>,
    expires_in: Duration,
    api_domain: Option<String>,
}

impl ZohoAuth {
    pub(super) fn new(
        http: reqwest::Client,
        accounts_url: &str,
        default_api_domain: String,
        credentials: ClientCredentials,
        vault: Arc<dyn ZohoVault>,
    ) -> Self {
        Self {
            http,
            token_url: format!("{}/oauth/v2/token", accounts_url.trim_end_matches('/')),
            default_api_domain,
            credentials,
            vault,
            state: tokio::sync::Mutex::new(TokenState::default()),
        }
    }

    /// Exchanges a Self Client code for a refresh token, stores it and starts a fresh request budget.
    /// A refused code is reported as `ReconnectNeeded` but leaves the stored grant alone.
    pub(super) async fn exchange_self_client_code(&self, code: &str) -> Result<(), ZohoError> {
        let mut state = self.state.lock().await;
        let issued = self.token_request(&[("grant_type", "authorization_code"), ("code", code)]).await?;
        let refresh_token = issued.refresh_token.clone().ok_or_else(|| ZohoError::Unexpected {
            status: Some(200),
            code: "NO_REFRESH_TOKEN".into(),
            message: "the code exchange returned no refresh token".into(),
        })?;
        let api_domain = issued.api_domain.clone().unwrap_or_else(|| self.default_api_domain.clone());
        self.vault.save(&ZohoGrant { refresh_token, api_domain: api_domain.clone() }).await?;
        let now = Instant::now();
        // A new refresh token has its own budget; the exchange itself was its first request.
        *state = TokenState { access: None, requests: VecDeque::from([now]), blocked_until: None };
        state.access = Some(AccessToken {
            token: issued.access_token,
            api_domain,
            expires_at: usable_until(now, issued.expires_in),
        });
        tracing::info!("Zoho connected with a new refresh token");
        Ok(())
    }

    /// The cached access token, or a new one.
    pub(super) async fn access_token(&self) -> Result<AccessToken, ZohoError> {
        let mut state = self.state.lock().await;
        if let Some(access) = state.access.as_ref().filter(|a| a.expires_at > Instant::now()) {
            return Ok(access.clone());
        }
        self.refresh(&mut state).await
    }

    /// Forgets `token` after Zoho called it invalid, unless a newer one has replaced it already.
    pub(super) async fn invalidate(&self, token: &SecretString) {
        let mut state = self.state.lock().await;
        if state.access.as_ref().is_some_and(|a| a.token.expose_secret() == token.expose_secret()) {
            state.access = None;
        }
    }

    /// Marks the grant unusable in the vault and returns the `ReconnectNeeded` to report.
    pub(super) async fn give_up(&self, reason: String) -> ZohoError {
        self.state.lock().await.access = None;
        self.give_up_locked(reason).await
    }

    async fn give_up_locked(&self, reason: String) -> ZohoError {
        tracing::warn!(%reason, "Zoho grant given up; an admin must reconnect");
        match self.vault.mark_reconnect_needed(&reason).await {
            Ok(()) => ZohoError::ReconnectNeeded(reason),
            Err(e) => e.into(),
        }
    }

    async fn refresh(&self, state: &mut TokenState) -> Result<AccessToken, ZohoError> {
        let now = Instant::now();
        if let Some(until) = state.blocked_until.filter(|until| *until > now) {
            return Err(ZohoError::RateLimited { retry_after: Some(until - now) });
        }
        while state.requests.front().is_some_and(|t| now.duration_since(*t) >= BUDGET_WINDOW) {
            state.requests.pop_front();
        }
        if state.requests.len() >= BUDGET
            && let Some(oldest) = state.requests.front()
        {
            let retry_after = (*oldest + BUDGET_WINDOW).saturating_duration_since(now);
            tracing::warn!(?retry_after, "Zoho token budget spent; not asking Zoho for another token");
            return Err(ZohoError::RateLimited { retry_after: Some(retry_after) });
        }
        let Some(grant) = self.vault.load().await? else {
            return Err(ZohoError::ReconnectNeeded("Zoho is not connected: exchange a Self Client code".into()));
        };
        // Counted before sending: Zoho counts a request whose answer we lose.
        state.requests.push_back(now);
        let form = [("grant_type", "refresh_token"), ("refresh_token", grant.refresh_token.expose_secret())];
        let issued = match self.token_request(&form).await {
            Ok(issued) => issued,
            Err(ZohoError::ReconnectNeeded(reason)) => {
                state.access = None;
                return Err(self.give_up_locked(reason).await);
            }
            Err(e @ ZohoError::RateLimited { .. }) => {
                state.blocked_until = Some(now + BUDGET_WINDOW);
                return Err(e);
            }
            Err(e) => return Err(e),
        };
        let api_domain = issued.api_domain.unwrap_or(grant.api_domain.clone());
        if api_domain != grant.api_domain {
            self.vault.save(&ZohoGrant { refresh_token: grant.refresh_token, api_domain: api_domain.clone() }).await?;
        }
        let access =
            AccessToken { token: issued.access_token, api_domain, expires_at: usable_until(now, issued.expires_in) };
        state.access = Some(access.clone());
        tracing::info!("Zoho access token refreshed");
        Ok(access)
    }

    /// One call to the token endpoint. Zoho answers most refusals with HTTP 200 and `{"error": …}`.
    async fn token_request(&self, params: &[(&str, &str)]) -> Result<Issued, ZohoError> {
        let mut form = vec![
            ("client_id", self.credentials.client_id.as_str()),
            ("client_secret", self.credentials.client_secret.expose_secret()),
        ];
        form.extend_from_slice(params);
        let response = self
            .http
            .post(&self.token_url)
            .form(&form)
            .send()
            .await
            .map_err(|e| ZohoError::Unavailable(format!("Zoho accounts: {}", e.without_url())))?;
        let status = response.status();
        let text = response.text().await.map_err(|e| ZohoError::Unavailable(format!("Zoho accounts: {e}")))?;
        let parsed: Option<TokenResponse> = serde_json::from_str(&text).ok();
        let Some(body) = parsed else {
            return Err(if status.is_server_error() {
                ZohoError::Unavailable(format!("Zoho accounts answered {status}"))
            } else {
                ZohoError::Unexpected {
                    status: Some(status.as_u16()),
                    code: "INVALID_TOKEN_RESPONSE".into(),
                    message: "the token endpoint's answer is not JSON".into(),
                }
            });
        };
        classify(status, body)
    }
}

fn classify(status: StatusCode, body: TokenResponse) -> Result<Issued, ZohoError> {
    let description = body.error_description.unwrap_or_default();
    if status == StatusCode::TOO_MANY_REQUESTS || description.to_ascii_lowercase().contains("too many requests") {
        return Err(ZohoError::RateLimited { retry_after: Some(BUDGET_WINDOW) });
    }
    if let Some(error) = body.error {
        return Err(match error.as_str() {
            "invalid_code" | "invalid_grant" => {
                ZohoError::ReconnectNeeded(format!("Zoho refused the code or refresh token ({error})"))
            }
            "invalid_client" | "invalid_client_secret" | "unauthorized_client" => {
                ZohoError::ReconnectNeeded(format!("Zoho refused the client id or secret ({error})"))
            }
            _ if status.is_server_error() => ZohoError::Unavailable(format!("Zoho accounts: {error} {description}")),
            _ => ZohoError::Unexpected { status: Some(status.as_u16()), code: error, message: description },
        });
    }
    if status.is_server_error() {
        return Err(ZohoError::Unavailable(format!("Zoho accounts answered {status}")));
    }
    match body.access_token {
        Some(access_token) if status.is_success() => Ok(Issued {
            access_token,
            refresh_token: body.refresh_token,
            expires_in: Duration::from_secs(seconds(body.expires_in.as_ref()).unwrap_or(3600)),
            api_domain: body.api_domain.filter(|d| !d.is_empty()),
        }),
        _ => Err(ZohoError::Unexpected {
            status: Some(status.as_u16()),
            code: "NO_ACCESS_TOKEN".into(),
            message: "the token endpoint answered without an access token".into(),
        }),
    }
}

fn seconds(value: Option<&serde_json::Value>) -> Option<u64> {
    value.and_then(|v| v.as_u64().or_else(|| v.as_str().and_then(|s| s.trim().parse().ok())))
}

/// Until when to use a token Zoho issued at `now` for `expires_in`: 5 minutes early, but never less
/// than half its life (so an unusually short token is still used).
fn usable_until(now: Instant, expires_in: Duration) -> Instant {
    now + expires_in.saturating_sub(EXPIRY_MARGIN).max(expires_in / 2)
}
