//! The Xero token set (`../shared/reference/xero-api.md` §10.3): one per deployment, replaced by compare-and-set so
//! two refreshers cannot both win, keeping the replaced refresh token for Xero's grace period.

use chrono::{DateTime, TimeDelta, Utc};
use secrecy::SecretString;

use super::{Store, StoreError, millis, optional_time, time};

const ACCESS: &str = "xero_tokens.access_token";
/// Shared by the current and previous refresh-token columns: rotation moves the ciphertext between them.
const REFRESH: &str = "xero_tokens.refresh_token";

#[derive(Debug, Clone)]
pub struct XeroTokens {
    pub access_token: SecretString,
    pub refresh_token: SecretString,
    pub access_expires_at: DateTime<Utc>,
    /// Set by the store on replacement: the refresh token this set replaced.
    pub previous_refresh_token: Option<SecretString>,
    /// Set by the store: when `previous_refresh_token` was replaced.
    pub rotated_at: Option<DateTime<Utc>>,
    /// Set by the store: pass it back to [`Store::replace_xero_tokens`] as the expected version.
    pub version: i64,
}

impl XeroTokens {
    /// A token set from a token response, to hand to [`Store::replace_xero_tokens`].
    pub fn new(access_token: SecretString, refresh_token: SecretString, access_expires_at: DateTime<Utc>) -> Self {
        XeroTokens {
            access_token,
            refresh_token,
            access_expires_at,
            previous_refresh_token: None,
            rotated_at: None,
            version: 0,
        }
    }

    /// The replaced refresh token while Xero may still accept it: within `grace` (Xero's 30 minutes, the Xero
    /// client's `refresh_grace`) of its rotation, at `now`.
    pub fn retryable_previous(&self, now: DateTime<Utc>, grace: TimeDelta) -> Option<&SecretString> {
        let rotated_at = self.rotated_at?;
        (now < rotated_at + grace).then_some(self.previous_refresh_token.as_ref()).flatten()
    }
}

type TokenRow = (Option<Vec<u8>>, Option<Vec<u8>>, Option<i64>, Option<Vec<u8>>, Option<i64>, i64);

impl Store {
    /// The current token set; `None` before the first consent and after [`Store::clear_xero_tokens`].
    pub async fn load_xero_tokens(&self) -> Result<Option<XeroTokens>, StoreError> {
        let row: Option<TokenRow> = sqlx::query_as(
            "SELECT access_token_sealed, refresh_token_sealed, access_expires_at, previous_refresh_token_sealed,
                    rotated_at, version
             FROM xero_tokens WHERE id = 1",
        )
        .fetch_optional(&self.pool)
        .await?;
        let Some((Some(access), Some(refresh), Some(expires), previous, rotated_at, version)) = row else {
            return Ok(None);
        };
        Ok(Some(XeroTokens {
            access_token: self.open(&access, ACCESS, "xero_tokens.access_token_sealed")?,
            refresh_token: self.open(&refresh, REFRESH, "xero_tokens.refresh_token_sealed")?,
            access_expires_at: time("xero_tokens.access_expires_at", expires)?,
            previous_refresh_token: previous
                .map(|sealed| self.open(&sealed, REFRESH, "xero_tokens.previous_refresh_token_sealed"))
                .transpose()?,
            rotated_at: optional_time("xero_tokens.rotated_at", rotated_at)?,
            version,
        }))
    }

    /// Stores `new` (its access token, refresh token and expiry; the other fields are the store's) if the
    /// stored version is still `expected_version` (`None`: no tokens are stored). True if this call won;
    /// false if another refresher got there first, whose tokens are then the ones to use. The replaced
    /// refresh token is kept as `previous_refresh_token`, stamped `rotated_at`.
    pub async fn replace_xero_tokens(
        &self,
        expected_version: Option<i64>,
        new: &XeroTokens,
    ) -> Result<bool, StoreError> {
        let access = self.seal(&new.access_token, ACCESS);
        let refresh = self.seal(&new.refresh_token, REFRESH);
        let expires = millis(new.access_expires_at);
        let result = match expected_version {
            // The row may exist, cleared: its version keeps growing so stale holders never match again.
            None => sqlx::query(
                "INSERT INTO xero_tokens (id, access_token_sealed, refresh_token_sealed, access_expires_at, version)
                     VALUES (1, ?1, ?2, ?3, 1)
                     ON CONFLICT (id) DO UPDATE SET
                         access_token_sealed = excluded.access_token_sealed,
                         refresh_token_sealed = excluded.refresh_token_sealed,
                         access_expires_at = excluded.access_expires_at,
                         previous_refresh_token_sealed = NULL,
                         rotated_at = NULL,
                         version = xero_tokens.version + 1
                     WHERE xero_tokens.access_token_sealed IS NULL",
            )
            .bind(access)
            .bind(refresh)
            .bind(expires)
            .execute(&self.pool)
            .await?,
            Some(version) => {
                sqlx::query(
                    "UPDATE xero_tokens SET
                         access_token_sealed = ?1,
                         refresh_token_sealed = ?2,
                         access_expires_at = ?3,
                         previous_refresh_token_sealed = refresh_token_sealed,
                         rotated_at = ?4,
                         version = version + 1
                     WHERE id = 1 AND version = ?5 AND access_token_sealed IS NOT NULL",
                )
                .bind(access)
                .bind(refresh)
                .bind(expires)
                .bind(millis(Utc::now()))
                .bind(version)
                .execute(&self.pool)
                .await?
            }
        };
        Ok(result.rows_affected() == 1)
    }

    /// Forgets the token set (disconnect, or Xero refused the refresh token for good).
    pub async fn clear_xero_tokens(&self) -> Result<(), StoreError> {
        sqlx::query(
            "UPDATE xero_tokens SET access_token_sealed = NULL, refresh_token_sealed = NULL,
                 access_expires_at = NULL, previous_refresh_token_sealed = NULL, rotated_at = NULL,
                 version = version + 1
             WHERE id = 1",
        )
        .execute(&self.pool)
        .await?;
        Ok(())
    }
}
