//! OAuth 2.0 tokens: the connect flow's PKCE and code exchange, revocation, and an access token that stays
//! valid across Xero's rotating refresh tokens.
//!
//! Xero rotates the refresh token on every refresh and accepts the previous one for 30 minutes only, so a
//! token set must have one holder and one refresher (`../shared/reference/xero-api.md` §10.3). Here:
//! refreshes are single-flight per process, the vault's compare-and-set arbitrates between processes, and
//! the new refresh token is persisted before the new access token is used.

use std::sync::Mutex;
use std::time::Duration;

use async_trait::async_trait;
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use chrono::{DateTime, TimeDelta, Utc};
use rand::RngCore;
use secrecy::{ExposeSecret, SecretString};
use serde::Deserialize;
use serde_json::Value;
use sha2::{Digest, Sha256};

use backon::Retryable;

use super::error::{XeroError, describe_transport};
use crate::config::ClientCredentials;
use crate::retry::RetryPolicy;
use crate::vault::VaultError;

/// An access token with less than this left is refreshed before use.
const EXPIRY_MARGIN: TimeDelta = TimeDelta::seconds(60);

/// One Xero user's tokens as stored.
#[derive(Debug, Clone)]
pub struct TokenSet {
    pub access_token: SecretString,
    pub refresh_token: SecretString,
    pub access_expires_at: DateTime<Utc>,
    /// The vault's version of this set, for compare-and-set.
    pub version: i64,
}

impl TokenSet {
    fn has_time_left(&self, now: DateTime<Utc>) -> bool {
        self.access_expires_at - now > EXPIRY_MARGIN
    }
}

/// Where the token set lives (encrypted at rest in production).
#[async_trait]
pub trait TokenVault: Send + Sync + 'static {
    async fn load(&self) -> Result<Option<TokenSet>, VaultError>;
    /// Compare-and-set: stores `new` (version = expected+1, or 1 when expected is None) only if the stored
    /// version is still `expected`; returns false if another holder won. Implementations keep the replaced
    /// refresh token as "previous" for retries within Xero's grace period, and clear a pending
    /// reconnect-needed mark.
    async fn replace(&self, expected: Option<i64>, new: &TokenSet) -> Result<bool, VaultError>;
    /// The refresh token replaced most recently, if within `grace`.
    async fn previous_refresh_token(&self, grace: Duration) -> Result<Option<SecretString>, VaultError>;
    async fn mark_reconnect_needed(&self, reason: &str) -> Result<(), VaultError>;
}

#[derive(Default)]
struct MemoryState {
    current: Option<TokenSet>,
    previous: Option<(SecretString, std::time::Instant)>,
    reconnect: Option<String>,
}

/// A [`TokenVault`] in memory, for tests and the sandbox.
#[derive(Default)]
pub struct MemoryVault {
    state: Mutex<MemoryState>,
}

impl MemoryVault {
    pub fn new() -> Self {
        Self::default()
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, MemoryState> {
        self.state.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// Why the connection needs re-consent, if it does.
    pub fn reconnect_reason(&self) -> Option<String> {
        self.lock().reconnect.clone()
    }
}

#[async_trait]
impl TokenVault for MemoryVault {
    async fn load(&self) -> Result<Option<TokenSet>, VaultError> {
        Ok(self.lock().current.clone())
    }

    async fn replace(&self, expected: Option<i64>, new: &TokenSet) -> Result<bool, VaultError> {
        let mut state = self.lock();
        if state.current.as_ref().map(|t| t.version) != expected {
            return Ok(false);
        }
        let stored = TokenSet { version: expected.map_or(1, |v| v + 1), ..new.clone() };
        if let Some(old) = state.current.replace(stored)
            && old.refresh_token.expose_secret() != new.refresh_token.expose_secret()
        {
            state.previous = Some((old.refresh_token, std::time::Instant::now()));
        }
        state.reconnect = None;
        Ok(true)
    }

    async fn previous_refresh_token(&self, grace: Duration) -> Result<Option<SecretString>, VaultError> {
        let state = self.lock();
        Ok(state.previous.as_ref().filter(|(_, at)| at.elapsed() <= grace).map(|(token, _)| token.clone()))
    }

    async fn mark_reconnect_needed(&self, reason: &str) -> Result<(), VaultError> {
        self.lock().reconnect = Some(reason.to_string());
        Ok(())
    }
}

/// A PKCE pair `(verifier, challenge)`: 32 random bytes base64url-encoded, and their S256 challenge.
pub fn pkce_pair() -> (SecretString, String) {
    let mut bytes = [0u8; 32];
    rand::rng().fill_bytes(&mut bytes);
    let verifier = URL_SAFE_NO_PAD.encode(bytes);
    let challenge = URL_SAFE_NO_PAD.encode(Sha256::digest(verifier.as_bytes()));
    (SecretString::from(verifier), challenge)
}

/// The token endpoint's answer. No `Debug`: it holds tokens.
#[derive(Deserialize)]
struct TokenResponse {
    access_token: String,
    refresh_token: Option<String>,
    expires_in: i64,
}

/// Why a token request failed.
enum TokenFailure {
    /// `invalid_grant`: the code or refresh token is refused for good.
    InvalidGrant,
    /// Network error, timeout, lost answer, 429 or 5xx: the same grant may be retried.
    Transient(String),
    Fatal(XeroError),
}

/// Hands out valid access tokens; see the module docs.
pub(super) struct TokenManager {
    http: reqwest::Client,
    token_url: String,
    revocation_url: String,
    credentials: ClientCredentials,
    vault: std::sync::Arc<dyn TokenVault>,
    retry: RetryPolicy,
    grace: Duration,
    cached: Mutex<Option<TokenSet>>,
    /// Held while refreshing, so concurrent callers wait for one refresh instead of racing.
    refresh_lock: tokio::sync::Mutex<()>,
}

impl TokenManager {
    pub(super) fn new(
        http: reqwest::Client,
        endpoints: &crate::config::XeroEndpoints,
        credentials: ClientCredentials,
        vault: std::sync::Arc<dyn TokenVault>,
        retry: RetryPolicy,
        grace: Duration,
    ) -> Self {
        Self {
            http,
            token_url: endpoints.token_url(),
            revocation_url: endpoints.revocation_url(),
            credentials,
            vault,
            retry,
            grace,
            cached: Mutex::new(None),
            refresh_lock: tokio::sync::Mutex::new(()),
        }
    }

    fn cached(&self) -> Option<TokenSet> {
        self.cached.lock().unwrap_or_else(std::sync::PoisonError::into_inner).clone()
    }

    fn set_cached(&self, set: Option<TokenSet>) {
        *self.cached.lock().unwrap_or_else(std::sync::PoisonError::into_inner) = set;
    }

    /// Revokes the stored refresh token at Xero (which also ends every connection it made) and forgets the
    /// tokens held in memory. Without stored tokens there is nothing to revoke.
    pub(super) async fn revoke(&self) -> Result<(), XeroError> {
        let _flight = self.refresh_lock.lock().await;
        self.set_cached(None);
        let Some(stored) = self.vault.load().await? else { return Ok(()) };
        let response = self
            .http
            .post(&self.revocation_url)
            .basic_auth(&self.credentials.client_id, Some(self.credentials.client_secret.expose_secret()))
            .form(&[("token", stored.refresh_token.expose_secret())])
            .send()
            .await
            .map_err(|e| XeroError::Unavailable(describe_transport(&e)))?;
        let status = response.status();
        if status.is_success() {
            Ok(())
        } else if status.is_server_error() {
            Err(XeroError::Unavailable(format!("the revocation endpoint answered HTTP {}", status.as_u16())))
        } else {
            // The body is not excerpted: it answers a request that carried a token.
            Err(XeroError::Unexpected { status: status.as_u16(), body_excerpt: "the revocation was refused".into() })
        }
    }

    /// Exchanges an authorization code (connect flow) and stores the tokens through the vault.
    pub(super) async fn exchange_code(
        &self,
        code: &str,
        redirect_uri: &str,
        pkce_verifier: Option<&SecretString>,
    ) -> Result<TokenSet, XeroError> {
        let _flight = self.refresh_lock.lock().await;
        let mut form = vec![("grant_type", "authorization_code"), ("code", code), ("redirect_uri", redirect_uri)];
        if let Some(verifier) = pkce_verifier {
            form.push(("code_verifier", verifier.expose_secret()));
        }
        let set = match self.token_request(&form).await {
            Ok(set) => set,
            Err(TokenFailure::InvalidGrant) => {
                return Err(XeroError::ReconnectNeeded("the authorization code was refused or expired".into()));
            }
            Err(TokenFailure::Transient(reason)) => return Err(XeroError::Unavailable(reason)),
            Err(TokenFailure::Fatal(e)) => return Err(e),
        };
        let expected = self.vault.load().await?.map(|t| t.version);
        if !self.vault.replace(expected, &set).await? {
            return Err(VaultError::new("the stored tokens changed during the connection; try again").into());
        }
        self.cache_stored().await
    }

    /// A usable token set. `rejected` is the version whose access token Xero just refused with a 401: that
    /// set is refreshed even if it looks valid, unless someone already replaced it.
    pub(super) async fn current(&self, rejected: Option<i64>) -> Result<TokenSet, XeroError> {
        let usable = |set: &TokenSet| set.has_time_left(Utc::now()) && Some(set.version) != rejected;
        if let Some(set) = self.cached().filter(usable) {
            return Ok(set);
        }
        let _flight = self.refresh_lock.lock().await;
        // Whoever held the lock before us may have refreshed already.
        if let Some(set) = self.cached().filter(usable) {
            return Ok(set);
        }
        // Another process may have refreshed already.
        let stored = self
            .vault
            .load()
            .await?
            .ok_or_else(|| XeroError::ReconnectNeeded("Xero has not been connected yet".into()))?;
        if usable(&stored) {
            self.set_cached(Some(stored.clone()));
            return Ok(stored);
        }
        self.refresh(stored).await
    }

    async fn refresh(&self, stored: TokenSet) -> Result<TokenSet, XeroError> {
        match self.refresh_grant(&stored.refresh_token).await {
            Ok(set) => return self.persist(stored.version, set).await,
            Err(TokenFailure::InvalidGrant) => {}
            Err(TokenFailure::Transient(reason)) => return Err(XeroError::Unavailable(reason)),
            Err(TokenFailure::Fatal(e)) => return Err(e),
        }
        // Refused: another holder may have rotated it meanwhile; its set is then in the vault.
        if let Some(latest) = self.vault.load().await?
            && latest.version != stored.version
        {
            self.set_cached(Some(latest.clone()));
            return Ok(latest);
        }
        // A refresh whose answer was lost (then a crash) can leave an unusable token stored while its
        // predecessor is still within Xero's grace period.
        if let Some(previous) = self.vault.previous_refresh_token(self.grace).await?
            && previous.expose_secret() != stored.refresh_token.expose_secret()
        {
            match self.refresh_grant(&previous).await {
                Ok(set) => return self.persist(stored.version, set).await,
                Err(TokenFailure::InvalidGrant) => {}
                Err(TokenFailure::Transient(reason)) => return Err(XeroError::Unavailable(reason)),
                Err(TokenFailure::Fatal(e)) => return Err(e),
            }
        }
        let reason = "Xero refused the refresh token (invalid_grant)";
        tracing::warn!("xero refresh token refused; marking the connection for re-consent");
        self.vault.mark_reconnect_needed(reason).await?;
        self.set_cached(None);
        Err(XeroError::ReconnectNeeded(reason.into()))
    }

    /// Marks the connection "reconnect needed" for `reason` (an admin must consent again, e.g. to a scope the
    /// grant lacks) and returns the error to report. The tokens stay: they still work for what they allow.
    pub(super) async fn give_up(&self, reason: &str) -> XeroError {
        tracing::warn!(%reason, "xero refused the grant; marking the connection for re-consent");
        match self.vault.mark_reconnect_needed(reason).await {
            Ok(()) => XeroError::ReconnectNeeded(reason.to_owned()),
            Err(error) => error.into(),
        }
    }

    /// Caches the set just stored, with the version the vault gave it: a vault may number versions its own
    /// way (the store never reuses one, even across a disconnect), and a wrong version here would make the
    /// next refresh lose its compare-and-set and, with it, the refresh token Xero just rotated.
    async fn cache_stored(&self) -> Result<TokenSet, XeroError> {
        // Normally `set` itself; if another process replaced it meanwhile, that newer set is the one to use.
        let Some(stored) = self.vault.load().await? else {
            return Err(XeroError::ReconnectNeeded("the stored Xero tokens were removed".into()));
        };
        self.set_cached(Some(stored.clone()));
        Ok(stored)
    }

    /// Stores a freshly refreshed set before anyone uses it. If another holder stored first, its set wins.
    async fn persist(&self, expected: i64, set: TokenSet) -> Result<TokenSet, XeroError> {
        if !self.vault.replace(Some(expected), &set).await? {
            tracing::info!("xero tokens were refreshed by another holder; using the stored set");
        }
        self.cache_stored().await
    }

    /// `refresh_token` grant, retried with backoff on transient failures with the same refresh token
    /// (Xero's grace period accepts it again if a lost answer had already rotated it).
    async fn refresh_grant(&self, refresh_token: &SecretString) -> Result<TokenSet, TokenFailure> {
        let form = [("grant_type", "refresh_token"), ("refresh_token", refresh_token.expose_secret())];
        let attempt = || self.token_request(&form);
        attempt
            .retry(self.retry.backoff())
            .when(|failure| matches!(failure, TokenFailure::Transient(_)))
            .notify(|failure, delay| {
                if let TokenFailure::Transient(reason) = failure {
                    tracing::warn!(%reason, ?delay, "xero token refresh failed; retrying with the same grant");
                }
            })
            .await
            .map_err(|failure| match failure {
                TokenFailure::Transient(reason) => TokenFailure::Transient(format!("token refresh failed: {reason}")),
                other => other,
            })
    }

    /// One call of the token endpoint. Its bodies are never logged or excerpted: they hold tokens.
    async fn token_request(&self, form: &[(&str, &str)]) -> Result<TokenSet, TokenFailure> {
        let response = self
            .http
            .post(&self.token_url)
            .basic_auth(&self.credentials.client_id, Some(self.credentials.client_secret.expose_secret()))
            .form(form)
            .send()
            .await
            .map_err(|e| TokenFailure::Transient(describe_transport(&e)))?;
        let status = response.status();
        let body = response.bytes().await.map_err(|e| TokenFailure::Transient(describe_transport(&e)))?;
        if status.is_server_error() || status == reqwest::StatusCode::TOO_MANY_REQUESTS {
            return Err(TokenFailure::Transient(format!("the token endpoint answered HTTP {}", status.as_u16())));
        }
        if !status.is_success() {
            let code = serde_json::from_slice::<Value>(&body)
                .ok()
                .and_then(|v| v["error"].as_str().map(str::to_string))
                .unwrap_or_else(|| "unknown error".into());
            if code == "invalid_grant" {
                return Err(TokenFailure::InvalidGrant);
            }
            return Err(TokenFailure::Fatal(XeroError::Unexpected {
                status: status.as_u16(),
                body_excerpt: format!("token endpoint error: {code}"),
            }));
        }
        let unreadable = |what: &str| {
            TokenFailure::Fatal(XeroError::Unexpected { status: status.as_u16(), body_excerpt: what.to_string() })
        };
        let parsed: TokenResponse =
            serde_json::from_slice(&body).map_err(|_| unreadable("unreadable token response"))?;
        let refresh_token = parsed
            .refresh_token
            .ok_or_else(|| unreadable("no refresh token in the answer (is offline_access requested?)"))?;
        Ok(TokenSet {
            access_token: SecretString::from(parsed.access_token),
            refresh_token: SecretString::from(refresh_token),
            access_expires_at: Utc::now() + TimeDelta::seconds(parsed.expires_in.max(0)),
            version: 0,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pkce_challenge_is_the_s256_of_the_verifier() {
        let (verifier, challenge) = pkce_pair();
        assert_eq!(verifier.expose_secret().len(), 43);
        assert_eq!(challenge, URL_SAFE_NO_PAD.encode(Sha256::digest(verifier.expose_secret().as_bytes())));
    }

    #[tokio::test]
    async fn memory_vault_compare_and_set_keeps_the_previous_refresh_token() {
        let vault = MemoryVault::new();
        let set = |r: &str| TokenSet {
            access_token: SecretString::from("a"),
            refresh_token: SecretString::from(r.to_string()),
            access_expires_at: Utc::now(),
            version: 0,
        };
        assert!(vault.replace(None, &set("r1")).await.expect("store"));
        assert!(!vault.replace(None, &set("r2")).await.expect("store"), "a stale expectation loses");
        assert!(vault.replace(Some(1), &set("r2")).await.expect("store"));
        let loaded = vault.load().await.expect("load").expect("stored");
        assert_eq!((loaded.version, loaded.refresh_token.expose_secret()), (2, "r2"));
        let previous = vault.previous_refresh_token(Duration::from_secs(60)).await.expect("previous");
        assert_eq!(previous.as_ref().map(ExposeSecret::expose_secret), Some("r1"));
        assert!(vault.previous_refresh_token(Duration::ZERO).await.expect("previous").is_none());
    }
}
