//! Widget sessions. Zoho's servers (the widget's `CONNECTION.invoke`) present the admin's API key, which
//! the browser never sees, and get back a short-lived token signed by us, bound to one record and to the
//! key's generation. The browser then calls the API with that token only; rotating the key ends every
//! session it opened.

use axum::extract::{FromRef, FromRequestParts};
use axum::http::header::AUTHORIZATION;
use axum::http::request::Parts;
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use hmac::{Hmac, KeyInit, Mac};
use serde::{Deserialize, Serialize};
use sha2::Sha256;

use super::error::AppError;
use crate::store::Store;

/// How long a widget session lasts; the widget renews it on a 401.
const SESSION_TTL_SECS: u64 = 15 * 60;

/// What a session token vouches for.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct Claims {
    /// The CRM record the token may act on.
    #[serde(rename = "r")]
    pub(crate) record_id: String,
    /// Who clicked, as the CRM reported it (its claim: nothing here can check it).
    #[serde(rename = "u")]
    pub(crate) user: String,
    /// The API key's generation when the session was opened ([`crate::store::ApiKey`]); tokens from
    /// before this field count as generation 0, which no key has.
    #[serde(rename = "g", default)]
    pub(crate) key_generation: u64,
    /// Seconds since the epoch.
    #[serde(rename = "e")]
    pub(crate) expires_at: u64,
}

/// Signs and checks tokens with a key derived from the master key.
#[derive(Clone)]
pub(crate) struct SessionKeys {
    key: [u8; 32],
}

impl std::fmt::Debug for SessionKeys {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("SessionKeys(..)")
    }
}

fn mac(key: &[u8; 32]) -> Hmac<Sha256> {
    // HMAC takes keys of any length; a 32-byte key cannot fail.
    <Hmac<Sha256> as KeyInit>::new_from_slice(key).unwrap_or_else(|_| unreachable!("HMAC accepts any key length"))
}

impl SessionKeys {
    pub(crate) fn new(key: [u8; 32]) -> Self {
        Self { key }
    }

    pub(crate) fn issue(&self, record_id: &str, user: &str, key_generation: u64, now: u64) -> (String, Claims) {
        let claims = Claims {
            record_id: record_id.to_owned(),
            user: user.to_owned(),
            key_generation,
            expires_at: now + SESSION_TTL_SECS,
        };
        let body = URL_SAFE_NO_PAD.encode(serde_json::to_vec(&claims).unwrap_or_default());
        let mut mac = mac(&self.key);
        mac.update(body.as_bytes());
        let signature = URL_SAFE_NO_PAD.encode(mac.finalize().into_bytes());
        (format!("{body}.{signature}"), claims)
    }

    pub(crate) fn verify(&self, token: &str, now: u64) -> Result<Claims, AppError> {
        let invalid = || AppError::Unauthorized("The session is not valid; reopen the widget.".into());
        let (body, signature) = token.split_once('.').ok_or_else(invalid)?;
        let signature = URL_SAFE_NO_PAD.decode(signature).map_err(|_| invalid())?;
        let mut mac = mac(&self.key);
        mac.update(body.as_bytes());
        mac.verify_slice(&signature).map_err(|_| invalid())?;
        let claims: Claims =
            serde_json::from_slice(&URL_SAFE_NO_PAD.decode(body).map_err(|_| invalid())?).map_err(|_| invalid())?;
        if claims.expires_at <= now {
            return Err(AppError::Unauthorized("The session has expired; it renews itself.".into()));
        }
        Ok(claims)
    }
}

pub(crate) fn unix_now() -> u64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.as_secs()).unwrap_or_default()
}

/// A valid widget session, from `Authorization: Bearer <token>`.
#[derive(Debug, Clone)]
pub(crate) struct WidgetSession(pub(crate) Claims);

impl WidgetSession {
    /// The token must have been issued for this record: a token for record A cannot act on B.
    pub(crate) fn require(&self, record_id: &str) -> Result<(), AppError> {
        if self.0.record_id == record_id {
            Ok(())
        } else {
            Err(AppError::Forbidden("This session was opened for another record.".into()))
        }
    }
}

impl<S: Send + Sync> FromRequestParts<S> for WidgetSession
where
    SessionKeys: FromRef<S>,
    Store: FromRef<S>,
{
    type Rejection = AppError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        let token = parts
            .headers
            .get(AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.strip_prefix("Bearer "))
            .ok_or_else(|| AppError::Unauthorized("A widget session is required.".into()))?;
        let claims = SessionKeys::from_ref(state).verify(token.trim(), unix_now())?;
        // Read each time rather than remembered: another process sharing the database may have rotated it.
        let current = Store::from_ref(state).api_key().await?.map(|key| key.generation);
        if current != Some(claims.key_generation) {
            return Err(AppError::Unauthorized(
                "The API key this session was opened with has been replaced; the session renews itself.".into(),
            ));
        }
        Ok(WidgetSession(claims))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_are_bound_to_a_record_and_expire() {
        let keys = SessionKeys::new([7; 32]);
        let (token, claims) = keys.issue("111", "Pat", 3, 1_000);
        assert_eq!(claims.key_generation, 3);
        assert_eq!(keys.verify(&token, 1_001).expect("valid"), claims);
        assert!(keys.verify(&token, 1_000 + SESSION_TTL_SECS).is_err(), "expired");
        assert!(SessionKeys::new([8; 32]).verify(&token, 1_001).is_err(), "another key");
        let (body, sig) = token.split_once('.').expect("two parts");
        let forged = URL_SAFE_NO_PAD.encode(br#"{"r":"222","u":"Pat","g":3,"e":999999}"#);
        assert!(keys.verify(&format!("{forged}.{sig}"), 1_001).is_err(), "claims changed");
        assert!(keys.verify(body, 1_001).is_err());
        let session = WidgetSession(claims);
        assert!(session.require("111").is_ok());
        assert!(session.require("222").is_err());
    }
}
