//! Who may call: the widget API key (hash only), admin sessions (id hashed, CSRF token sealed), and the
//! single-use state of the Xero connect flow.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use chrono::{DateTime, TimeDelta, Utc};
use secrecy::{ExposeSecret, SecretString};
use sha2::{Digest, Sha256};

use super::{Store, StoreError, expiry, millis, time};

/// SHA-256 of a widget API key, as [`Store::set_api_key_hash`] stores it and requests are checked against
/// (a key is 32 random bytes, so a fast hash is enough: there is nothing to guess).
pub fn hash_api_key(key: &str) -> [u8; 32] {
    Sha256::digest(key.as_bytes()).into()
}

/// The widget API key as stored: its hash, and which key it is (1 for the first, counted up at each
/// rotation), so session tokens can name the key that opened them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ApiKey {
    pub hash: [u8; 32],
    pub generation: u64,
}

/// A logged-in admin.
#[derive(Debug, Clone)]
pub struct AdminSession {
    /// Expected back in a header or form field of every state-changing admin request.
    pub csrf_token: SecretString,
    pub expires_at: DateTime<Utc>,
}

impl AdminSession {
    /// Whether `presented` is this session's CSRF token, in time independent of where they differ.
    pub fn csrf_matches(&self, presented: &str) -> bool {
        crate::crypto::constant_time_eq(self.csrf_token.expose_secret().as_bytes(), presented.as_bytes())
    }
}

fn generation_of(value: i64) -> Result<u64, StoreError> {
    u64::try_from(value).map_err(|_| StoreError::Corrupt {
        column: "widget_api_key.generation",
        reason: format!("{value} is not a generation"),
    })
}

/// 32 random bytes, base64url without padding (43 characters).
fn random_token() -> String {
    URL_SAFE_NO_PAD.encode(rand::random::<[u8; 32]>())
}

fn session_key(session_id: &str) -> [u8; 32] {
    Sha256::digest(session_id.as_bytes()).into()
}

/// Binds a session's sealed CSRF token to its row.
fn csrf_context(id_hash: &[u8; 32]) -> String {
    format!("admin_sessions.csrf_token:{}", URL_SAFE_NO_PAD.encode(id_hash))
}

fn pkce_context(state: &str) -> String {
    format!("oauth_states.pkce_verifier:{state}")
}

impl Store {
    /// Replaces the widget API key's hash (rotation: the old key stops working at once, and so do the
    /// sessions it opened, since the generation moves on; the widget must open a session with the new key
    /// before the dashboard counts it as registered). Returns the new key's generation.
    pub async fn set_api_key_hash(&self, hash: &[u8; 32]) -> Result<u64, StoreError> {
        let (generation,): (i64,) = sqlx::query_as(
            "INSERT INTO widget_api_key (id, key_hash, generation, created_at) VALUES (1, ?, 1, ?) \
             ON CONFLICT (id) DO UPDATE SET key_hash = excluded.key_hash, generation = generation + 1, \
             created_at = excluded.created_at, first_session_at = NULL RETURNING generation",
        )
        .bind(hash.as_slice())
        .bind(millis(Utc::now()))
        .fetch_one(&self.pool)
        .await?;
        generation_of(generation)
    }

    /// The widget API key's hash and generation, if one is set.
    pub async fn api_key(&self) -> Result<Option<ApiKey>, StoreError> {
        let row: Option<(Vec<u8>, i64)> =
            sqlx::query_as("SELECT key_hash, generation FROM widget_api_key WHERE id = 1")
                .fetch_optional(&self.pool)
                .await?;
        row.map(|(bytes, generation)| {
            let hash = <[u8; 32]>::try_from(bytes.as_slice()).map_err(|_| StoreError::Corrupt {
                column: "widget_api_key.key_hash",
                reason: format!("{} bytes, expected 32", bytes.len()),
            })?;
            Ok(ApiKey { hash, generation: generation_of(generation)? })
        })
        .transpose()
    }

    pub async fn api_key_hash(&self) -> Result<Option<[u8; 32]>, StoreError> {
        Ok(self.api_key().await?.map(|key| key.hash))
    }

    /// Notes that a widget opened a session with the current API key (the first time only): the CRM's
    /// Connection and widget work. Cheap when already noted: the update matches no row.
    pub async fn note_widget_session(&self) -> Result<(), StoreError> {
        sqlx::query("UPDATE widget_api_key SET first_session_at = ? WHERE id = 1 AND first_session_at IS NULL")
            .bind(millis(Utc::now()))
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    /// When a widget first opened a session with the current API key; `None` if none has (or no key is set).
    pub async fn widget_first_session(&self) -> Result<Option<DateTime<Utc>>, StoreError> {
        let row: Option<(Option<i64>,)> = sqlx::query_as("SELECT first_session_at FROM widget_api_key WHERE id = 1")
            .fetch_optional(&self.pool)
            .await?;
        row.and_then(|(at,)| at).map(|at| time("widget_api_key.first_session_at", at)).transpose()
    }

    /// Starts an admin session lasting `ttl`: returns the session id (for the cookie) and its CSRF token.
    /// Only the id's hash is stored. Expired sessions are purged here.
    pub async fn create_admin_session(&self, ttl: TimeDelta) -> Result<(SecretString, SecretString), StoreError> {
        let expires_at = expiry(ttl)?;
        let now = millis(Utc::now());
        sqlx::query("DELETE FROM admin_sessions WHERE expires_at <= ?").bind(now).execute(&self.pool).await?;
        let session_id = random_token();
        let csrf_token = SecretString::from(random_token());
        let id_hash = session_key(&session_id);
        sqlx::query(
            "INSERT INTO admin_sessions (id_hash, csrf_token_sealed, created_at, expires_at) VALUES (?, ?, ?, ?)",
        )
        .bind(id_hash.as_slice())
        .bind(self.seal(&csrf_token, &csrf_context(&id_hash)))
        .bind(now)
        .bind(millis(expires_at))
        .execute(&self.pool)
        .await?;
        Ok((SecretString::from(session_id), csrf_token))
    }

    /// The live session with this id; `None` if unknown or expired.
    pub async fn admin_session(&self, session_id: &str) -> Result<Option<AdminSession>, StoreError> {
        let id_hash = session_key(session_id);
        let row: Option<(Vec<u8>, i64)> = sqlx::query_as(
            "SELECT csrf_token_sealed, expires_at FROM admin_sessions WHERE id_hash = ? AND expires_at > ?",
        )
        .bind(id_hash.as_slice())
        .bind(millis(Utc::now()))
        .fetch_optional(&self.pool)
        .await?;
        row.map(|(sealed, expires_at)| {
            Ok(AdminSession {
                csrf_token: self.open(&sealed, &csrf_context(&id_hash), "admin_sessions.csrf_token_sealed")?,
                expires_at: time("admin_sessions.expires_at", expires_at)?,
            })
        })
        .transpose()
    }

    /// Logs out.
    pub async fn delete_admin_session(&self, session_id: &str) -> Result<(), StoreError> {
        sqlx::query("DELETE FROM admin_sessions WHERE id_hash = ?")
            .bind(session_key(session_id).as_slice())
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    /// Remembers the PKCE verifier of a connect flow under its `state` for `ttl`. Expired states are purged.
    pub async fn save_oauth_state(
        &self,
        state: &str,
        pkce_verifier: &SecretString,
        ttl: TimeDelta,
    ) -> Result<(), StoreError> {
        let expires_at = expiry(ttl)?;
        sqlx::query("DELETE FROM oauth_states WHERE expires_at <= ?")
            .bind(millis(Utc::now()))
            .execute(&self.pool)
            .await?;
        sqlx::query("INSERT OR REPLACE INTO oauth_states (state, pkce_verifier_sealed, expires_at) VALUES (?, ?, ?)")
            .bind(state)
            .bind(self.seal(pkce_verifier, &pkce_context(state)))
            .bind(millis(expires_at))
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    /// The verifier saved under `state`, removed in the same statement so a replayed callback finds
    /// nothing; `None` if unknown, used or expired.
    pub async fn take_oauth_state(&self, state: &str) -> Result<Option<SecretString>, StoreError> {
        let row: Option<(Vec<u8>, i64)> =
            sqlx::query_as("DELETE FROM oauth_states WHERE state = ? RETURNING pkce_verifier_sealed, expires_at")
                .bind(state)
                .fetch_optional(&self.pool)
                .await?;
        match row {
            Some((sealed, expires_at)) if expires_at > millis(Utc::now()) => {
                self.open(&sealed, &pkce_context(state), "oauth_states.pkce_verifier_sealed").map(Some)
            }
            _ => Ok(None),
        }
    }
}
