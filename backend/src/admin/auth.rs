//! Who may use the admin pages: the session cookie, the [`Admin`] extractor, and [`AdminForm`], which
//! every state-changing form goes through (session, same origin, CSRF token).

use axum::Form;
use axum::extract::{FromRef, FromRequest, FromRequestParts, Request};
use axum::http::request::Parts;
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Redirect, Response};
use axum_extra::extract::CookieJar;
use axum_extra::extract::cookie::{Cookie, SameSite};
use secrecy::{ExposeSecret, SecretString};

use super::AdminState;
use super::page::Failure;
use crate::store;

/// The admin session cookie; its value is the session id, of which the store keeps only a hash.
const COOKIE: &str = "xero_sync_admin";
pub(super) const LOGIN_PATH: &str = "/admin/login";

/// The session cookie. `SameSite=Strict` keeps it off cross-site requests, `Path=/admin` off the widget
/// API, `Secure` whenever the service is reached over https.
pub(super) fn session_cookie(state: &AdminState, session_id: &SecretString) -> Cookie<'static> {
    Cookie::build((COOKIE, session_id.expose_secret().to_owned()))
        .http_only(true)
        .same_site(SameSite::Strict)
        .path("/admin")
        .secure(state.settings.public_url.starts_with("https://"))
        .build()
}

/// The same cookie, expired (logout).
pub(super) fn removal_cookie(state: &AdminState) -> Cookie<'static> {
    let mut cookie = session_cookie(state, &SecretString::from(String::new()));
    cookie.make_removal();
    cookie
}

/// A logged-in admin. Extracting it from a request without a live session redirects to the login page.
pub(super) struct Admin {
    pub(super) id: SecretString,
    session: store::AdminSession,
}

impl Admin {
    /// The live session the request's cookie names, if any.
    pub(super) async fn from_headers(state: &AdminState, headers: &HeaderMap) -> Result<Option<Self>, Failure> {
        let jar = CookieJar::from_headers(headers);
        let Some(id) = jar.get(COOKIE).map(|c| c.value().to_owned()).filter(|v| !v.is_empty()) else {
            return Ok(None);
        };
        let session = state.store.admin_session(&id).await.map_err(|e| Failure::internal(state.mode, &e))?;
        Ok(session.map(|session| Self { id: SecretString::from(id), session }))
    }

    pub(super) fn csrf(&self) -> &str {
        self.session.csrf_token.expose_secret()
    }

    /// Who, for the audit trail: the admin and a fingerprint of their session (the first 8 hex digits of
    /// a SHA-256 of its id), so two logins can be told apart without the cookie being recoverable.
    pub(super) fn who(&self) -> String {
        use sha2::{Digest, Sha256};
        let digest = Sha256::digest(self.id.expose_secret().as_bytes());
        let fingerprint: String = digest.iter().take(4).map(|b| format!("{b:02x}")).collect();
        format!("admin (session {fingerprint})")
    }
}

impl<S: Send + Sync> FromRequestParts<S> for Admin
where
    AdminState: FromRef<S>,
{
    type Rejection = Response;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        match Self::from_headers(&AdminState::from_ref(state), &parts.headers).await {
            Ok(Some(session)) => Ok(session),
            Ok(None) => Err(Redirect::to(LOGIN_PATH).into_response()),
            Err(failure) => Err(failure.into_response()),
        }
    }
}

/// The `scheme://host[:port]` of a URL, lowercased; `None` if it has none (e.g. an `Origin: null`).
fn origin(url: &str) -> Option<String> {
    let (scheme, rest) = url.split_once("://")?;
    let authority = rest.split(['/', '?', '#']).next().filter(|a| !a.is_empty())?;
    Some(format!("{}://{}", scheme.to_ascii_lowercase(), authority.to_ascii_lowercase()))
}

/// Whether a POST comes from our own pages: its `Origin` (or, lacking one, its `Referer`) must be the
/// public URL's origin. A request with neither (not a browser) passes; the CSRF token still applies.
pub(super) fn same_origin(headers: &HeaderMap, public_url: &str) -> bool {
    let Some(expected) = origin(public_url) else { return false };
    let sent = headers.get(header::ORIGIN).or_else(|| headers.get(header::REFERER));
    match sent {
        None => true,
        Some(value) => value.to_str().ok().and_then(origin).is_some_and(|o| o == expected),
    }
}

/// A state-changing admin form: a live session, a same-origin request, and the session's CSRF token in
/// the `csrf` field. Anything else is refused with a 403 page.
pub(super) struct AdminForm {
    pub(super) admin: Admin,
    fields: Vec<(String, String)>,
}

impl AdminForm {
    /// The first value of a field.
    pub(super) fn field(&self, name: &str) -> Option<&str> {
        self.fields.iter().find(|(k, _)| k == name).map(|(_, v)| v.as_str())
    }
}

impl<S: Send + Sync> FromRequest<S> for AdminForm
where
    AdminState: FromRef<S>,
{
    type Rejection = Response;

    async fn from_request(request: Request, state: &S) -> Result<Self, Self::Rejection> {
        let (mut parts, body) = request.into_parts();
        let admin = Admin::from_request_parts(&mut parts, state).await?;
        let state = AdminState::from_ref(state);
        let forbidden = |why: &str| {
            Failure::new(
                state.mode,
                StatusCode::FORBIDDEN,
                "Request refused",
                format!("{why} Reload the page and try again."),
            )
            .into_response()
        };
        if !same_origin(&parts.headers, &state.settings.public_url) {
            return Err(forbidden(&format!(
                "This form was not sent from the admin pages at {}.",
                state.settings.public_url
            )));
        }
        let Form(fields) = Form::<Vec<(String, String)>>::from_request(Request::from_parts(parts, body), &())
            .await
            .map_err(|_| forbidden("The form could not be read."))?;
        let form = Self { admin, fields };
        if !form.admin.session.csrf_matches(form.field("csrf").unwrap_or_default()) {
            return Err(forbidden("The form's security token is missing or out of date."));
        }
        Ok(form)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::HeaderValue;

    fn headers(pairs: &[(header::HeaderName, &str)]) -> HeaderMap {
        let mut map = HeaderMap::new();
        for (name, value) in pairs {
            map.insert(name.clone(), HeaderValue::from_str(value).expect("header"));
        }
        map
    }

    #[test]
    fn origin_check_compares_scheme_host_and_port() {
        let url = "https://sync.example.com";
        assert!(same_origin(&headers(&[]), url));
        assert!(same_origin(&headers(&[(header::ORIGIN, "https://SYNC.example.com")]), url));
        assert!(same_origin(&headers(&[(header::REFERER, "https://sync.example.com/admin?x=1")]), url));
        assert!(!same_origin(&headers(&[(header::ORIGIN, "http://sync.example.com")]), url));
        assert!(!same_origin(&headers(&[(header::ORIGIN, "https://sync.example.com:8443")]), url));
        assert!(!same_origin(&headers(&[(header::ORIGIN, "https://sync.example.com.evil.test")]), url));
        assert!(!same_origin(&headers(&[(header::ORIGIN, "null")]), url));
        // Origin wins over a matching Referer.
        let both = headers(&[(header::ORIGIN, "https://evil.test"), (header::REFERER, "https://sync.example.com/")]);
        assert!(!same_origin(&both, url));
    }
}
