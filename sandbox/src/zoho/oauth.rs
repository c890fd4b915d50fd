//! Zoho accounts: `POST /oauth/v2/token` and the access-token check on CRM calls (reference §6).
//!
//! Limits reproduced: Self Client codes are single-use and live 3 minutes; refresh tokens never expire and
//! never rotate; access tokens live 1 hour; each refresh token allows 10 access-token requests per 10
//! minutes (more are refused for the rest of the window) and 10 active access tokens (an 11th invalidates
//! the oldest); a user holds at most 20 refresh tokens (a 21st deletes the oldest).

use std::collections::{HashMap, VecDeque};
use std::sync::Arc;
use std::time::Duration;

use axum::Form;
use axum::extract::rejection::FormRejection;
use axum::extract::{Query, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde_json::json;

use super::{Inner, ZohoError};

const CODE_LIFETIME: Duration = Duration::from_secs(3 * 60);
const ACCESS_LIFETIME: Duration = Duration::from_secs(3600);
const REQUEST_WINDOW: Duration = Duration::from_secs(10 * 60);
const REQUESTS_PER_WINDOW: usize = 10;
const ACTIVE_ACCESS_TOKENS: usize = 10;
const REFRESH_TOKENS_PER_USER: usize = 20;

#[derive(Default)]
pub(super) struct OAuthState {
    codes: HashMap<String, Grant>,
    /// Oldest first, for the 20-per-user limit.
    refresh_tokens: Vec<RefreshToken>,
    access_tokens: HashMap<String, AccessToken>,
    /// Every request to the token endpoint, refused ones included.
    pub(super) requests: usize,
}

struct Grant {
    scopes: Vec<String>,
    expires_at: Duration,
}

struct RefreshToken {
    token: String,
    scopes: Vec<String>,
    /// When access tokens were issued within the current window.
    issued: VecDeque<Duration>,
    /// Active access tokens, oldest first.
    active: VecDeque<String>,
}

struct AccessToken {
    scopes: Vec<String>,
    expires_at: Duration,
}

/// Zoho accounts' error bodies. Most come with HTTP 200, which clients must not mistake for success.
enum OAuthError {
    InvalidClient,
    InvalidCode,
    UnsupportedGrantType,
    /// The 10-requests-per-10-minutes limit.
    TooManyRequests,
}

impl IntoResponse for OAuthError {
    fn into_response(self) -> Response {
        let (status, body) = match self {
            OAuthError::InvalidClient => (StatusCode::OK, json!({"error": "invalid_client"})),
            OAuthError::InvalidCode => (StatusCode::OK, json!({"error": "invalid_code"})),
            OAuthError::UnsupportedGrantType => (StatusCode::OK, json!({"error": "unsupported_grant_type"})),
            OAuthError::TooManyRequests => (
                StatusCode::BAD_REQUEST,
                json!({
                    "error": "Access Denied",
                    "error_description": "You have made too many requests continuously. Please try again after some time."
                }),
            ),
        };
        (status, axum::Json(body)).into_response()
    }
}

fn new_token() -> String {
    format!("1000.{}.{}", uuid::Uuid::new_v4().simple(), uuid::Uuid::new_v4().simple())
}

/// Which CRM operation a request needs a scope for.
#[derive(Debug, Clone, Copy)]
pub(super) enum Operation {
    Read,
    Update,
    /// Reading field metadata (`/settings/fields`).
    ReadFields,
    /// Reading the organisation (`/org`).
    ReadOrg,
}

impl OAuthState {
    pub(super) fn new_code(&mut self, scopes: &[&str], now: Duration) -> String {
        let code = new_token();
        let grant = Grant { scopes: scopes.iter().map(|s| s.to_string()).collect(), expires_at: now + CODE_LIFETIME };
        self.codes.insert(code.clone(), grant);
        code
    }

    /// Handles one token request; returns the access token, the refresh token when newly created, and the
    /// granted scopes.
    fn grant(
        &mut self,
        params: &HashMap<String, String>,
        client: (&str, &str),
        now: Duration,
    ) -> Result<(String, Option<String>, Vec<String>), OAuthError> {
        let param = |name: &str| params.get(name).map(String::as_str);
        if param("client_id") != Some(client.0) || param("client_secret") != Some(client.1) {
            return Err(OAuthError::InvalidClient);
        }
        match param("grant_type") {
            Some("authorization_code") => {
                // Single use: a code is spent even when it turns out to be expired.
                let grant = param("code")
                    .and_then(|code| self.codes.remove(code))
                    .filter(|grant| grant.expires_at > now)
                    .ok_or(OAuthError::InvalidCode)?;
                let token = new_token();
                self.refresh_tokens.push(RefreshToken {
                    token: token.clone(),
                    scopes: grant.scopes,
                    issued: VecDeque::new(),
                    active: VecDeque::new(),
                });
                if self.refresh_tokens.len() > REFRESH_TOKENS_PER_USER {
                    let oldest = self.refresh_tokens.remove(0);
                    oldest.active.iter().for_each(|t| {
                        self.access_tokens.remove(t);
                    });
                }
                let index = self.refresh_tokens.len() - 1;
                let (access, scopes) = self.issue(index, now)?;
                Ok((access, Some(token), scopes))
            }
            Some("refresh_token") => {
                let index = param("refresh_token")
                    .and_then(|t| self.refresh_tokens.iter().position(|r| r.token == t))
                    .ok_or(OAuthError::InvalidCode)?;
                let (access, scopes) = self.issue(index, now)?;
                Ok((access, None, scopes))
            }
            _ => Err(OAuthError::UnsupportedGrantType),
        }
    }

    fn issue(&mut self, index: usize, now: Duration) -> Result<(String, Vec<String>), OAuthError> {
        let refresh = &mut self.refresh_tokens[index];
        while refresh.issued.front().is_some_and(|t| now.saturating_sub(*t) >= REQUEST_WINDOW) {
            refresh.issued.pop_front();
        }
        if refresh.issued.len() >= REQUESTS_PER_WINDOW {
            return Err(OAuthError::TooManyRequests);
        }
        refresh.issued.push_back(now);
        let token = new_token();
        refresh.active.push_back(token.clone());
        if refresh.active.len() > ACTIVE_ACCESS_TOKENS
            && let Some(oldest) = refresh.active.pop_front()
        {
            self.access_tokens.remove(&oldest);
        }
        let scopes = refresh.scopes.clone();
        self.access_tokens
            .insert(token.clone(), AccessToken { scopes: scopes.clone(), expires_at: now + ACCESS_LIFETIME });
        Ok((token, scopes))
    }

    /// Checks `Authorization: Zoho-oauthtoken <token>` and the token's scopes for `operation` on Products.
    pub(super) fn authorize(&self, headers: &HeaderMap, now: Duration, operation: Operation) -> Result<(), ZohoError> {
        let Some(value) = headers.get(header::AUTHORIZATION) else {
            return Err(ZohoError::authentication_failure());
        };
        // Zoho wants its own scheme; `Bearer <token>` is refused like an unknown token.
        let token = value
            .to_str()
            .ok()
            .and_then(|v| v.strip_prefix("Zoho-oauthtoken "))
            .map(str::trim)
            .ok_or_else(ZohoError::invalid_token)?;
        let access =
            self.access_tokens.get(token).filter(|a| a.expires_at > now).ok_or_else(ZohoError::invalid_token)?;
        let accepted = match operation {
            Operation::ReadFields => [
                "ZohoCRM.settings.ALL".to_string(),
                "ZohoCRM.settings.READ".to_string(),
                "ZohoCRM.settings.fields.ALL".to_string(),
                "ZohoCRM.settings.fields.READ".to_string(),
            ],
            Operation::ReadOrg => [
                "ZohoCRM.org.ALL".to_string(),
                "ZohoCRM.org.READ".to_string(),
                "ZohoCRM.org.ALL".to_string(),
                "ZohoCRM.org.READ".to_string(),
            ],
            Operation::Read | Operation::Update => {
                let action = if matches!(operation, Operation::Read) { "READ" } else { "UPDATE" };
                [
                    "ZohoCRM.modules.ALL".to_string(),
                    format!("ZohoCRM.modules.{action}"),
                    "ZohoCRM.modules.products.ALL".to_string(),
                    format!("ZohoCRM.modules.products.{action}"),
                ]
            }
        };
        if access.scopes.iter().any(|s| accepted.iter().any(|a| a.eq_ignore_ascii_case(s))) {
            Ok(())
        } else {
            Err(ZohoError::scope_mismatch(&accepted[3]))
        }
    }
}

/// `POST /oauth/v2/token`. Zoho takes the parameters from the query string or a form body.
pub(super) async fn token(
    State(inner): State<Arc<Inner>>,
    Query(mut params): Query<HashMap<String, String>>,
    form: Result<Form<HashMap<String, String>>, FormRejection>,
) -> Response {
    if let Ok(Form(body)) = form {
        params.extend(body);
    }
    let now = inner.clock.now();
    let result = {
        let mut state = inner.lock();
        state.oauth.requests += 1;
        state.oauth.grant(&params, (&inner.config.client_id, &inner.config.client_secret), now)
    };
    match result {
        Ok((access_token, refresh_token, scopes)) => {
            let mut body = json!({
                "access_token": access_token,
                "scope": scopes.join(" "),
                "api_domain": inner.url,
                "token_type": "Bearer",
                "expires_in": ACCESS_LIFETIME.as_secs(),
            });
            if let Some(refresh) = refresh_token {
                body["refresh_token"] = json!(refresh);
            }
            axum::Json(body).into_response()
        }
        Err(e) => e.into_response(),
    }
}
