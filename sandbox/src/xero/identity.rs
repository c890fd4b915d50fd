//! Xero's identity service: the consent page, the token endpoint (authorization code with optional PKCE,
//! rotating refresh tokens with a grace period), revocation, and `/connections`.
//!
//! The simulator has one Xero user; tokens belong to that user and the app, and reach every tenant the user
//! has connected, as in Xero. Tokens are opaque random strings (Xero's access tokens are JWTs, but clients
//! must not parse them).

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use axum::Form;
use axum::extract::rejection::FormRejection;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{Html, IntoResponse, Response};
use base64::Engine;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use rand::RngCore;
use serde_json::{Value, json};
use sha2::{Digest, Sha256};
use uuid::Uuid;

use super::behaviour::PkceWithSecret;
use super::faults::{self, FaultTarget};
use super::respond::{self, oauth_error, problem};
use super::state::{Inner, Shared};
use super::time::{EpochMs, iso_connection, us_datetime};

/// Scopes the simulated app may ask for; anything else fails consent with `invalid_scope`.
const KNOWN_SCOPES: &[&str] = &[
    "offline_access",
    "openid",
    "profile",
    "email",
    "accounting.settings",
    "accounting.settings.read",
    "accounting.transactions",
    "accounting.transactions.read",
    "accounting.invoices",
    "accounting.invoices.read",
    "accounting.contacts",
    "accounting.contacts.read",
    "accounting.attachments",
    "accounting.attachments.read",
    "accounting.reports.read",
    "accounting.journals.read",
];

/// Token lifetimes, in simulated time. Xero's values by default.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Lifetimes {
    pub access_token: Duration,
    /// An unused refresh token expires after this long.
    pub refresh_token: Duration,
    /// How long a rotated-out refresh token is still accepted (for retries whose response was lost).
    pub refresh_grace: Duration,
    pub authorization_code: Duration,
    /// How long an `Idempotency-Key` is remembered.
    pub idempotency_key: Duration,
}

impl Default for Lifetimes {
    fn default() -> Self {
        Self {
            access_token: Duration::from_secs(30 * 60),
            refresh_token: Duration::from_secs(60 * 86_400),
            refresh_grace: Duration::from_secs(30 * 60),
            authorization_code: Duration::from_secs(5 * 60),
            idempotency_key: Duration::from_secs(6 * 60),
        }
    }
}

/// Counters for tests.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct TokenStats {
    pub codes_issued: u64,
    pub code_exchanges: u64,
    /// Successful `refresh_token` grants (including grace-period retries).
    pub refreshes: u64,
    /// Refused `refresh_token` grants (`invalid_grant`).
    pub refresh_failures: u64,
    pub access_tokens_issued: u64,
}

/// A tenant the user connected to the app.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Connection {
    pub id: String,
    pub auth_event_id: String,
    pub tenant_id: String,
    pub tenant_name: String,
    pub created_ms: EpochMs,
    pub updated_ms: EpochMs,
}

impl Connection {
    fn to_json(&self) -> Value {
        json!({
            "id": self.id,
            "authEventId": self.auth_event_id,
            "tenantId": self.tenant_id,
            "tenantType": "ORGANISATION",
            "tenantName": self.tenant_name,
            "createdDateUtc": iso_connection(self.created_ms),
            "updatedDateUtc": iso_connection(self.updated_ms),
        })
    }
}

struct AuthCode {
    redirect_uri: String,
    scope: String,
    challenge: Option<String>,
    expires: Duration,
}

struct AccessToken {
    scope: String,
    expires: Duration,
}

struct RefreshToken {
    scope: String,
    /// Issued to a PKCE client without a secret: refreshing then needs only the client id.
    public: bool,
    issued: Duration,
    /// When it was first exchanged (rotated out); the grace period runs from here.
    used_at: Option<Duration>,
    revoked: bool,
}

/// Identity state of the simulated user and app.
#[derive(Default)]
pub struct Identity {
    codes: HashMap<String, AuthCode>,
    access: HashMap<String, AccessToken>,
    refresh: HashMap<String, RefreshToken>,
    pub connections: Vec<Connection>,
    pub stats: TokenStats,
}

impl Identity {
    /// Ends every access token's life now, as if their 30 minutes had passed; refresh tokens are untouched.
    pub fn expire_access_tokens(&mut self, now: Duration) {
        for token in self.access.values_mut() {
            token.expires = token.expires.min(now);
        }
    }
}

/// A refused bearer token: the `Detail` of Xero's 401.
pub struct Unauthorized(String);

impl Unauthorized {
    pub fn response(&self) -> Response {
        problem(StatusCode::UNAUTHORIZED, &self.0)
    }
}

/// What an accepted bearer token grants.
pub struct Grant {
    pub scope: String,
}

impl Identity {
    /// Checks a bearer token: the grant, or the 401 Xero answers.
    pub fn authenticate(
        &self,
        headers: &HeaderMap,
        now: Duration,
        time: impl Fn(Duration) -> EpochMs,
    ) -> Result<Grant, Unauthorized> {
        let token = headers
            .get(header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.strip_prefix("Bearer ").or_else(|| v.strip_prefix("bearer ")))
            .map(str::trim);
        let Some(access) = token.and_then(|t| self.access.get(t)) else {
            return Err(Unauthorized("AuthenticationUnsuccessful".into()));
        };
        if now >= access.expires {
            let detail = format!("TokenExpired: token expired at {}", us_datetime(time(access.expires)));
            return Err(Unauthorized(detail));
        }
        Ok(Grant { scope: access.scope.clone() })
    }

    pub fn connected(&self, tenant_id: &str) -> bool {
        self.connections.iter().any(|c| c.tenant_id.eq_ignore_ascii_case(tenant_id))
    }
}

/// The query of `GET /identity/connect/authorize` (and the hidden fields of the consent form).
#[derive(Debug, Clone, Default, serde::Deserialize)]
pub struct AuthorizeRequest {
    #[serde(default)]
    pub response_type: String,
    #[serde(default)]
    pub client_id: String,
    #[serde(default)]
    pub redirect_uri: String,
    #[serde(default)]
    pub scope: String,
    pub state: Option<String>,
    pub code_challenge: Option<String>,
    pub code_challenge_method: Option<String>,
}

/// Why consent cannot proceed (shown on the error page, as Xero does).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ConsentError {
    #[error("invalid_request")]
    Request,
    #[error("unsupported_response_type")]
    ResponseType,
    #[error("unauthorized_client: unknown client_id")]
    Client,
    #[error("unauthorized_client: invalid redirect_uri")]
    RedirectUri,
    #[error("invalid_scope: {0}")]
    Scope(String),
    #[error("invalid_request: code_challenge_method must be S256")]
    ChallengeMethod,
    #[error("no organisation selected")]
    NoTenant,
}

fn validate(inner: &Inner, request: &AuthorizeRequest) -> Result<(), ConsentError> {
    if request.response_type != "code" {
        return Err(ConsentError::ResponseType);
    }
    if request.client_id != inner.config.client_id {
        return Err(ConsentError::Client);
    }
    let allowed = &inner.config.redirect_uris;
    if request.redirect_uri.is_empty() || (!allowed.is_empty() && !allowed.contains(&request.redirect_uri)) {
        return Err(ConsentError::RedirectUri);
    }
    let scopes: Vec<&str> = request.scope.split_whitespace().collect();
    if scopes.is_empty() {
        return Err(ConsentError::Scope(String::new()));
    }
    if let Some(unknown) = scopes.iter().find(|s| !KNOWN_SCOPES.contains(s)) {
        return Err(ConsentError::Scope((*unknown).to_string()));
    }
    if request.code_challenge.is_some() && request.code_challenge_method.as_deref() != Some("S256") {
        return Err(ConsentError::ChallengeMethod);
    }
    Ok(())
}

/// The user clicks "Allow access" for `tenant_ids`: connects them and returns an authorization code.
pub fn approve(shared: &Shared, request: &AuthorizeRequest, tenant_ids: &[String]) -> Result<String, ConsentError> {
    let now = shared.time.now();
    let now_ms = shared.time.epoch_ms();
    let mut inner = shared.lock();
    validate(&inner, request)?;
    let tenants: Vec<(String, String)> = inner
        .orgs
        .iter()
        .filter(|o| tenant_ids.iter().any(|t| t.eq_ignore_ascii_case(&o.tenant_id)))
        .map(|o| (o.tenant_id.clone(), o.name.clone()))
        .collect();
    if tenants.is_empty() {
        return Err(ConsentError::NoTenant);
    }
    let auth_event_id = Uuid::new_v4().to_string();
    for (tenant_id, tenant_name) in tenants {
        let connections = &mut inner.identity.connections;
        match connections.iter_mut().find(|c| c.tenant_id == tenant_id) {
            Some(existing) => {
                existing.auth_event_id.clone_from(&auth_event_id);
                existing.updated_ms = now_ms;
            }
            None => connections.push(Connection {
                id: Uuid::new_v4().to_string(),
                auth_event_id: auth_event_id.clone(),
                tenant_id,
                tenant_name,
                created_ms: now_ms,
                updated_ms: now_ms,
            }),
        }
    }
    let code = random_token();
    let expires = now.saturating_add(inner.config.lifetimes.authorization_code);
    inner.identity.codes.insert(
        code.clone(),
        AuthCode {
            redirect_uri: request.redirect_uri.clone(),
            scope: normalise_scope(&request.scope),
            challenge: request.code_challenge.clone(),
            expires,
        },
    );
    inner.identity.stats.codes_issued += 1;
    Ok(code)
}

fn normalise_scope(scope: &str) -> String {
    scope.split_whitespace().collect::<Vec<_>>().join(" ")
}

fn random_token() -> String {
    let mut bytes = [0u8; 32];
    rand::rng().fill_bytes(&mut bytes);
    URL_SAFE_NO_PAD.encode(bytes)
}

/// `GET /identity/connect/authorize`: the consent page.
pub async fn authorize_page(State(shared): State<Arc<Shared>>, Query(request): Query<AuthorizeRequest>) -> Response {
    let inner = shared.lock();
    if let Err(e) = validate(&inner, &request) {
        return error_page(&e);
    }
    let hidden = [
        ("response_type", Some(request.response_type.as_str())),
        ("client_id", Some(request.client_id.as_str())),
        ("redirect_uri", Some(request.redirect_uri.as_str())),
        ("scope", Some(request.scope.as_str())),
        ("state", request.state.as_deref()),
        ("code_challenge", request.code_challenge.as_deref()),
        ("code_challenge_method", request.code_challenge_method.as_deref()),
    ]
    .iter()
    .filter_map(|(name, value)| value.map(|v| format!(r#"<input type="hidden" name="{name}" value="{}">"#, escape(v))))
    .collect::<String>();
    let tenants = inner
        .orgs
        .iter()
        .map(|o| {
            format!(
                r#"<label><input type="checkbox" name="tenant" value="{}" checked> {}</label><br>"#,
                escape(&o.tenant_id),
                escape(&o.name)
            )
        })
        .collect::<String>();
    let scopes = request.scope.split_whitespace().map(|s| format!("<li>{}</li>", escape(s))).collect::<String>();
    Html(format!(
        r#"<!doctype html>
<html><head><meta charset="utf-8"><title>Xero | Authorise app</title></head>
<body>
<h1>Sandbox Xero app wants to access your Xero organisations</h1>
<p>Permissions requested:</p><ul>{scopes}</ul>
<form method="post" action="/identity/connect/authorize">
{hidden}
<fieldset><legend>Organisations</legend>
{tenants}</fieldset>
<button type="submit" name="decision" value="allow" id="allow">Allow access</button>
<button type="submit" name="decision" value="deny" id="cancel">Cancel</button>
</form>
</body></html>"#
    ))
    .into_response()
}

/// `POST /identity/connect/authorize`: the consent decision; redirects back to the app.
pub async fn authorize_decision(
    State(shared): State<Arc<Shared>>,
    form: Result<Form<Vec<(String, String)>>, FormRejection>,
) -> Response {
    let Ok(Form(fields)) = form else {
        return error_page(&ConsentError::Request);
    };
    let field = |name: &str| fields.iter().find(|(k, _)| k == name).map(|(_, v)| v.clone());
    let request = AuthorizeRequest {
        response_type: field("response_type").unwrap_or_default(),
        client_id: field("client_id").unwrap_or_default(),
        redirect_uri: field("redirect_uri").unwrap_or_default(),
        scope: field("scope").unwrap_or_default(),
        state: field("state"),
        code_challenge: field("code_challenge"),
        code_challenge_method: field("code_challenge_method"),
    };
    if let Err(e) = validate(&shared.lock(), &request) {
        return error_page(&e);
    }
    let mut params: Vec<(&str, String)> = Vec::new();
    if field("decision").as_deref() == Some("allow") {
        let tenants: Vec<String> = fields.iter().filter(|(k, _)| k == "tenant").map(|(_, v)| v.clone()).collect();
        match approve(&shared, &request, &tenants) {
            Ok(code) => {
                params.push(("code", code));
                params.push(("scope", normalise_scope(&request.scope)));
            }
            Err(e) => return error_page(&e),
        }
    } else {
        params.push(("error", "access_denied".to_string()));
    }
    if let Some(state) = request.state {
        params.push(("state", state));
    }
    params.push(("session_state", Uuid::new_v4().simple().to_string()));
    let query = params.iter().map(|(k, v)| format!("{k}={}", percent_encode(v))).collect::<Vec<_>>().join("&");
    let separator = if request.redirect_uri.contains('?') { '&' } else { '?' };
    let location = format!("{}{separator}{query}", request.redirect_uri);
    (StatusCode::FOUND, [(header::LOCATION, location)]).into_response()
}

fn error_page(error: &ConsentError) -> Response {
    let body = format!(
        "<!doctype html><html><head><title>Xero | Error</title></head><body><h1>Error</h1><p>{}</p></body></html>",
        escape(&error.to_string())
    );
    (StatusCode::BAD_REQUEST, Html(body)).into_response()
}

/// How the client authenticated at the token endpoint.
enum Client {
    /// With its secret (HTTP Basic or form fields).
    Confidential,
    /// With only its id (PKCE apps have no secret).
    Public,
}

fn client_auth(inner: &Inner, headers: &HeaderMap, form: &HashMap<String, String>) -> Result<Client, &'static str> {
    let basic = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Basic "))
        .and_then(|b| STANDARD.decode(b.trim()).ok())
        .and_then(|b| String::from_utf8(b).ok());
    let (id, secret) = match &basic {
        Some(pair) => match pair.split_once(':') {
            Some((id, secret)) => (Some(id.to_string()), Some(secret.to_string())),
            None => return Err("invalid_client"),
        },
        None => (form.get("client_id").cloned(), form.get("client_secret").cloned()),
    };
    if id.as_deref() != Some(inner.config.client_id.as_str()) {
        return Err("invalid_client");
    }
    match secret {
        Some(s) if s == inner.config.client_secret => Ok(Client::Confidential),
        Some(_) => Err("invalid_client"),
        None => Ok(Client::Public),
    }
}

/// `POST /connect/token`.
pub async fn token(
    State(shared): State<Arc<Shared>>,
    headers: HeaderMap,
    form: Result<Form<HashMap<String, String>>, FormRejection>,
) -> Response {
    let lose_response = match faults::before_call(&shared, FaultTarget::Token).await {
        None => false,
        Some(faults::Fault::LoseResponse) => true,
        Some(fault) => return faults::respond(&shared, fault, None).await,
    };
    let Ok(Form(form)) = form else {
        return oauth_error("invalid_request");
    };
    let response = {
        let now = shared.time.now();
        let mut inner = shared.lock();
        match grant(&mut inner, now, &headers, &form) {
            Ok(body) => respond::json(StatusCode::OK, &body),
            Err(code) => oauth_error(code),
        }
    };
    let drop = lose_response || (response.status().is_success() && shared.lock().faults.take_token_drop());
    if drop { faults::dropped_response() } else { response }
}

fn grant(
    inner: &mut Inner,
    now: Duration,
    headers: &HeaderMap,
    form: &HashMap<String, String>,
) -> Result<Value, &'static str> {
    let client = client_auth(inner, headers, form)?;
    match form.get("grant_type").map(String::as_str) {
        Some("authorization_code") => {
            let code = form.get("code").ok_or("invalid_request")?;
            // Codes are single-use: removed whatever the outcome.
            let Some(stored) = inner.identity.codes.remove(code) else {
                return Err("invalid_grant");
            };
            if now >= stored.expires || form.get("redirect_uri") != Some(&stored.redirect_uri) {
                return Err("invalid_grant");
            }
            if stored.challenge.is_some()
                && matches!(client, Client::Confidential)
                && inner.config.behaviour.pkce_with_secret == PkceWithSecret::Refused
            {
                return Err("invalid_request");
            }
            let public = match (&stored.challenge, form.get("code_verifier")) {
                (Some(challenge), Some(verifier)) => {
                    if URL_SAFE_NO_PAD.encode(Sha256::digest(verifier.as_bytes())) != *challenge {
                        return Err("invalid_grant");
                    }
                    matches!(client, Client::Public)
                }
                (Some(_), None) => return Err("invalid_grant"),
                (None, _) if matches!(client, Client::Public) => return Err("invalid_client"),
                (None, _) => false,
            };
            inner.identity.stats.code_exchanges += 1;
            Ok(issue(inner, now, &stored.scope, public))
        }
        Some("refresh_token") => {
            let token = form.get("refresh_token").ok_or("invalid_request")?;
            let lifetimes = inner.config.lifetimes;
            let accepted = match inner.identity.refresh.get_mut(token) {
                Some(rt) if !rt.revoked && (rt.public || matches!(client, Client::Confidential)) => match rt.used_at {
                    None if now < rt.issued.saturating_add(lifetimes.refresh_token) => {
                        rt.used_at = Some(now);
                        Some((rt.scope.clone(), rt.public))
                    }
                    Some(used) if now < used.saturating_add(lifetimes.refresh_grace) => {
                        Some((rt.scope.clone(), rt.public))
                    }
                    _ => None,
                },
                _ => None,
            };
            let Some((scope, public)) = accepted else {
                inner.identity.stats.refresh_failures += 1;
                return Err("invalid_grant");
            };
            inner.identity.stats.refreshes += 1;
            Ok(issue(inner, now, &scope, public))
        }
        _ => Err("unsupported_grant_type"),
    }
}

/// A new token set; a refresh token only when `offline_access` was granted, as in Xero.
fn issue(inner: &mut Inner, now: Duration, scope: &str, public: bool) -> Value {
    let lifetimes = inner.config.lifetimes;
    // Forget tokens that can no longer be accepted, so long runs do not grow without bound.
    inner.identity.access.retain(|_, t| now < t.expires);
    inner.identity.refresh.retain(|_, t| match t.used_at {
        Some(used) => now < used.saturating_add(lifetimes.refresh_grace),
        None => !t.revoked && now < t.issued.saturating_add(lifetimes.refresh_token),
    });
    let access_token = random_token();
    inner.identity.access.insert(
        access_token.clone(),
        AccessToken { scope: scope.to_string(), expires: now.saturating_add(lifetimes.access_token) },
    );
    inner.identity.stats.access_tokens_issued += 1;
    let mut body = json!({
        "access_token": access_token,
        "expires_in": lifetimes.access_token.as_secs(),
        "token_type": "Bearer",
        "scope": scope,
    });
    if scope.split(' ').any(|s| s == "offline_access") {
        let refresh_token = random_token();
        inner.identity.refresh.insert(
            refresh_token.clone(),
            RefreshToken { scope: scope.to_string(), public, issued: now, used_at: None, revoked: false },
        );
        body["refresh_token"] = json!(refresh_token);
    }
    body
}

/// `POST /connect/revocation`: revokes the user's tokens and removes all their connections for the app.
pub async fn revoke(
    State(shared): State<Arc<Shared>>,
    headers: HeaderMap,
    form: Result<Form<HashMap<String, String>>, FormRejection>,
) -> Response {
    let Ok(Form(form)) = form else {
        return oauth_error("invalid_request");
    };
    let mut inner = shared.lock();
    if let Err(code) = client_auth(&inner, &headers, &form) {
        return oauth_error(code);
    }
    let known = form.get("token").is_some_and(|t| inner.identity.refresh.contains_key(t));
    if known {
        let identity = &mut inner.identity;
        identity.refresh.values_mut().for_each(|rt| rt.revoked = true);
        identity.access.clear();
        identity.connections.clear();
    }
    StatusCode::OK.into_response()
}

/// Bearer check plus the app-wide limit and faults shared by the `/connections` endpoints.
async fn connections_gate(shared: &Shared, headers: &HeaderMap) -> Result<u32, Response> {
    let now = shared.time.now();
    let left = {
        let mut inner = shared.lock();
        inner.identity.authenticate(headers, now, |t| shared.time.at(t)).map_err(|e| e.response())?;
        let (limits, names) = (inner.config.limits, inner.config.behaviour.problem_names);
        inner.limiter.admit_app(now, &limits).map_err(|l| respond::too_many_requests(l, false, names))?
    };
    if let Some(fault) = faults::before_call(shared, FaultTarget::Api).await {
        return Err(faults::respond(shared, fault, None).await);
    }
    Ok(left)
}

#[derive(Debug, serde::Deserialize)]
pub struct ConnectionsQuery {
    #[serde(rename = "authEventId")]
    auth_event_id: Option<String>,
}

/// `GET /connections`.
pub async fn connections(
    State(shared): State<Arc<Shared>>,
    headers: HeaderMap,
    Query(query): Query<ConnectionsQuery>,
) -> Response {
    let left = match connections_gate(&shared, &headers).await {
        Ok(left) => left,
        Err(e) => return e,
    };
    let list: Vec<Value> = shared
        .lock()
        .identity
        .connections
        .iter()
        .filter(|c| query.auth_event_id.as_ref().is_none_or(|id| id.eq_ignore_ascii_case(&c.auth_event_id)))
        .map(Connection::to_json)
        .collect();
    let mut response = respond::json(StatusCode::OK, &Value::Array(list));
    respond::set(response.headers_mut(), "x-appminlimit-remaining", &left.to_string());
    response
}

/// `DELETE /connections/{id}` (the connection id, not the tenant id).
pub async fn delete_connection(
    State(shared): State<Arc<Shared>>,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> Response {
    let left = match connections_gate(&shared, &headers).await {
        Ok(left) => left,
        Err(e) => return e,
    };
    let removed = {
        let mut inner = shared.lock();
        let before = inner.identity.connections.len();
        inner.identity.connections.retain(|c| !c.id.eq_ignore_ascii_case(&id));
        before != inner.identity.connections.len()
    };
    let mut response = if removed {
        StatusCode::NO_CONTENT.into_response()
    } else {
        problem(StatusCode::NOT_FOUND, "The resource you're looking for cannot be found")
    };
    respond::set(response.headers_mut(), "x-appminlimit-remaining", &left.to_string());
    response
}

fn escape(text: &str) -> String {
    text.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;").replace('"', "&quot;").replace('\'', "&#39;")
}

fn percent_encode(text: &str) -> String {
    text.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'.' | b'_' | b'~' => (b as char).to_string(),
            _ => format!("%{b:02X}"),
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pkce_challenge_is_base64url_sha256() {
        let challenge = URL_SAFE_NO_PAD.encode(Sha256::digest(b"dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gXFG8jGqI"));
        assert_eq!(challenge, "Oo2DTvYboyGSUhk_0RqAzQX8nk0I7LYqYx1UM0Olnkg");
    }

    #[test]
    fn escapes_html_and_query() {
        assert_eq!(escape(r#"<a href="x">"#), "&lt;a href=&quot;x&quot;&gt;");
        assert_eq!(percent_encode("a b&c"), "a%20b%26c");
    }
}
