//! One error type for every route, rendered as the stable JSON envelope of `shared::wire`. A 5xx body
//! never carries internals: those go to the log, under the request id the response header and the
//! envelope's `request_id` repeat.

use axum::Json;
use axum::extract::Request;
use axum::http::{HeaderValue, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use shared::Issue;
use shared::wire::{ApiError, ErrorCode, ErrorEnvelope};

use crate::store::StoreError;
use crate::sync::SyncError;

tokio::task_local! {
    /// The id of the request being answered, for the error envelope.
    static REQUEST_ID: String;
}

/// Makes the request's id (set by the request-id layer outside) known to [`AppError`]'s envelope.
pub(crate) async fn scope_request_id(request: Request, next: Next) -> Response {
    let id = request.headers().get(crate::REQUEST_ID).and_then(|v| v.to_str().ok()).map(str::to_owned);
    match id {
        Some(id) => REQUEST_ID.scope(id, next.run(request)).await,
        None => next.run(request).await,
    }
}

#[derive(Debug, thiserror::Error)]
pub(crate) enum AppError {
    #[error("{0}")]
    BadRequest(String),
    #[error("{0}")]
    Unauthorized(String),
    #[error("{0}")]
    Forbidden(String),
    #[error("{0}")]
    NotFound(String),
    #[error("{message}")]
    Validation { message: String, issues: Vec<Issue> },
    #[error("{message}")]
    XeroRejected { message: String, issues: Vec<Issue> },
    #[error("{0}")]
    ReconnectNeeded(String),
    #[error("{message}")]
    RateLimited { message: String, retry_after: Option<u64> },
    #[error("{0}")]
    Unavailable(String),
    /// The request outlasted `XERO_SYNC_REQUEST_TIMEOUT_SECS`.
    #[error("{0}")]
    TimedOut(String),
    /// Logged in full; the client sees a generic sentence.
    #[error("internal error: {0}")]
    Internal(String),
}

impl AppError {
    fn status_and_code(&self) -> (StatusCode, ErrorCode) {
        match self {
            Self::BadRequest(_) => (StatusCode::BAD_REQUEST, ErrorCode::BadRequest),
            Self::Unauthorized(_) => (StatusCode::UNAUTHORIZED, ErrorCode::Unauthorized),
            Self::Forbidden(_) => (StatusCode::FORBIDDEN, ErrorCode::Forbidden),
            Self::NotFound(_) => (StatusCode::NOT_FOUND, ErrorCode::NotFound),
            Self::Validation { .. } => (StatusCode::UNPROCESSABLE_ENTITY, ErrorCode::ValidationFailed),
            Self::XeroRejected { .. } => (StatusCode::UNPROCESSABLE_ENTITY, ErrorCode::XeroRejected),
            Self::ReconnectNeeded(_) => (StatusCode::SERVICE_UNAVAILABLE, ErrorCode::ReconnectNeeded),
            Self::RateLimited { .. } => (StatusCode::TOO_MANY_REQUESTS, ErrorCode::RateLimited),
            Self::Unavailable(_) => (StatusCode::BAD_GATEWAY, ErrorCode::UpstreamUnavailable),
            Self::TimedOut(_) => (StatusCode::GATEWAY_TIMEOUT, ErrorCode::UpstreamUnavailable),
            Self::Internal(_) => (StatusCode::INTERNAL_SERVER_ERROR, ErrorCode::Internal),
        }
    }
}

impl IntoResponse for AppError {
    fn into_response(self) -> Response {
        let (status, code) = self.status_and_code();
        let message = match &self {
            Self::Internal(detail) => {
                tracing::error!(%detail, "request failed");
                "Something went wrong on our side; the sync can safely be retried.".to_owned()
            }
            other => other.to_string(),
        };
        let retry_after = match &self {
            Self::RateLimited { retry_after, .. } => *retry_after,
            _ => None,
        };
        let issues = match self {
            Self::Validation { issues, .. } | Self::XeroRejected { issues, .. } => issues,
            _ => Vec::new(),
        };
        let request_id = REQUEST_ID.try_with(Clone::clone).ok();
        let body = ErrorEnvelope { error: ApiError { code, message, issues, request_id } };
        let mut response = (status, Json(body)).into_response();
        if let Some(seconds) = retry_after
            && let Ok(value) = HeaderValue::from_str(&seconds.to_string())
        {
            response.headers_mut().insert(header::RETRY_AFTER, value);
        }
        response
    }
}

impl From<StoreError> for AppError {
    fn from(error: StoreError) -> Self {
        AppError::Internal(crate::describe(&error))
    }
}

impl From<SyncError> for AppError {
    fn from(error: SyncError) -> Self {
        let message = error.to_string();
        match error {
            // The message says what to do, once (the widget adds nothing to it).
            SyncError::XeroNotConnected | SyncError::ReconnectNeeded(_) | SyncError::ZohoReconnectNeeded(_) => {
                AppError::ReconnectNeeded(format!("{message}."))
            }
            SyncError::ProductNotFound(_) => AppError::NotFound(message),
            SyncError::Refused(issues) => {
                AppError::Validation { message: "Fix the highlighted fields, then sync again.".into(), issues }
            }
            SyncError::XeroRejected(issues) => AppError::XeroRejected {
                message: "Xero refused the item; fix the highlighted fields, then sync again.".into(),
                issues,
            },
            SyncError::RateLimited { retry_after, .. } => AppError::RateLimited { message, retry_after },
            SyncError::Unavailable { .. } | SyncError::Interrupted | SyncError::TooSlow => {
                AppError::Unavailable(message)
            }
            SyncError::Store(_) | SyncError::Unexpected { .. } | SyncError::Xero(_) | SyncError::Zoho(_) => {
                AppError::Internal(crate::describe(&error))
            }
        }
    }
}
