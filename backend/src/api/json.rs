//! [`AppJson`]: the body extractor of the JSON routes, whose rejections are the API's error envelope
//! (axum's own `Json` answers plain text).
//!
//! The body is read whatever its Content-Type says: Zoho's servers forward the widget's
//! `CONNECTION.invoke` body with a Content-Type we do not control, and may send it form-encoded, so a body
//! that is not JSON is read as a form before it is refused.

use axum::body::Bytes;
use axum::extract::{FromRequest, Request};
use serde::de::DeserializeOwned;

use super::error::AppError;

/// A request body parsed as JSON (or, failing that, as a form).
#[derive(Debug)]
pub(crate) struct AppJson<T>(pub(crate) T);

impl<S: Send + Sync, T: DeserializeOwned> FromRequest<S> for AppJson<T> {
    type Rejection = AppError;

    async fn from_request(request: Request, state: &S) -> Result<Self, Self::Rejection> {
        let bytes = Bytes::from_request(request, state).await.map_err(|rejection| {
            AppError::BadRequest(format!("The body could not be read: {}", rejection.body_text()))
        })?;
        parse(&bytes).map(AppJson)
    }
}

/// A request body that may be left out: none (or only white space) is `T::default()`, anything else must
/// parse as [`AppJson`] does.
#[derive(Debug)]
pub(crate) struct OptionalJson<T>(pub(crate) T);

impl<S: Send + Sync, T: DeserializeOwned + Default> FromRequest<S> for OptionalJson<T> {
    type Rejection = AppError;

    async fn from_request(request: Request, state: &S) -> Result<Self, Self::Rejection> {
        let bytes = Bytes::from_request(request, state).await.map_err(|rejection| {
            AppError::BadRequest(format!("The body could not be read: {}", rejection.body_text()))
        })?;
        if bytes.trim_ascii().is_empty() {
            return Ok(OptionalJson(T::default()));
        }
        parse(&bytes).map(OptionalJson)
    }
}

fn parse<T: DeserializeOwned>(body: &[u8]) -> Result<T, AppError> {
    let json_error = match serde_json::from_slice(body) {
        Ok(value) => return Ok(value),
        Err(error) => error,
    };
    let looks_like_form = !body.is_empty() && !body.trim_ascii_start().starts_with(b"{") && body.contains(&b'=');
    if looks_like_form && let Ok(value) = serde_urlencoded::from_bytes(body) {
        return Ok(value);
    }
    Err(AppError::BadRequest(format!("The body must be a JSON object: {json_error}.")))
}

#[cfg(test)]
mod tests {
    use shared::wire::SessionRequest;

    use super::*;

    #[test]
    fn json_then_a_form_else_a_clear_error() {
        let json: SessionRequest = parse(br#"{"record_id": "111", "user": "Pat"}"#).expect("json");
        assert_eq!((json.record_id.as_str(), json.user.as_deref()), ("111", Some("Pat")));
        let form: SessionRequest = parse(b"record_id=111&user=Pat+Lee").expect("form");
        assert_eq!((form.record_id.as_str(), form.user.as_deref()), ("111", Some("Pat Lee")));
        for bad in [&b""[..], b"record_id", b"{\"record_id\": 111", b"user=Pat", b"<xml/>"] {
            let error = parse::<SessionRequest>(bad).expect_err("refused");
            assert!(error.to_string().starts_with("The body must be a JSON object"), "{error}");
        }
    }

    #[tokio::test]
    async fn an_optional_body_may_be_left_out_but_not_malformed() {
        use shared::wire::{SyncRequest, XeroEdits};
        let read = |body: &'static str| async move {
            let request = Request::builder().body(axum::body::Body::from(body)).expect("request");
            OptionalJson::<SyncRequest>::from_request(request, &()).await.map(|OptionalJson(r)| r)
        };
        assert_eq!(read("").await.expect("none").xero_edits, XeroEdits::Overwrite);
        assert_eq!(read(" \n").await.expect("blank").xero_edits, XeroEdits::Overwrite);
        assert_eq!(read(r#"{"xero_edits": "keep"}"#).await.expect("keep").xero_edits, XeroEdits::Keep);
        assert!(read(r#"{"xero_edits": "shred"}"#).await.is_err(), "an unknown choice is refused");
    }
}
