//! What a Zoho call can fail with, and the reading of Zoho's error envelopes
//! (`{code, details, message, status:"error"}`, `../shared/reference/zoho-crm.md` §5.3) into it.

use std::time::Duration;

use serde_json::Value;

use crate::vault::VaultError;

#[derive(Debug, thiserror::Error)]
pub enum ZohoError {
    /// The stored grant is missing, revoked or refused: an admin must exchange a new Self Client code.
    #[error("Zoho needs reconnecting: {0}")]
    ReconnectNeeded(String),
    /// Zoho (or our own token budget, which keeps Zoho from blocking the refresh token) says wait. Without
    /// `retry_after`, Zoho's API limit refused the calls: the organisation's API credits per rolling 24
    /// hours (most likely: the client keeps its calls in flight below Zoho's cap), which come back 24 hours
    /// after each was spent.
    #[error("Zoho rate limit reached{}", retry_hint(.retry_after))]
    RateLimited { retry_after: Option<Duration> },
    /// 5xx, timeouts and connection failures that outlasted the retries.
    #[error("Zoho is unavailable: {0}")]
    Unavailable(String),
    /// The record to update does not exist (reads answer `Ok(None)` instead).
    #[error("the Zoho record does not exist")]
    NotFound,
    /// Zoho refused this record's data; `field` is the API name it blames, and `message` Zoho's words.
    #[error("Zoho refused the record: {code}: {message}{}", field_hint(.field))]
    Record { code: String, message: String, field: Option<String> },
    /// Anything else: the HTTP status (when there was a response) and Zoho's code and message.
    #[error("unexpected Zoho response ({}) {code}: {message}", status_hint(.status))]
    Unexpected { status: Option<u16>, code: String, message: String },
    #[error(transparent)]
    Vault(#[from] VaultError),
}

fn retry_hint(retry_after: &Option<Duration>) -> String {
    match retry_after {
        Some(d) => format!(", retry in {}s", d.as_secs()),
        None => ": the organisation's API credits for the last 24 hours are likely spent (each comes back 24 hours \
                 after it was spent), or too many calls were in flight at once"
            .to_owned(),
    }
}

fn field_hint(field: &Option<String>) -> String {
    field.as_ref().map(|f| format!(" (field {f})")).unwrap_or_default()
}

fn status_hint(status: &Option<u16>) -> String {
    status.map_or_else(|| "no status".to_string(), |s| format!("HTTP {s}"))
}

/// A Zoho CRM error body, read tolerantly: missing parts become empty.
#[derive(Debug, Clone)]
pub(super) struct Envelope {
    pub(super) code: String,
    pub(super) message: String,
    pub(super) details: Value,
}

impl Envelope {
    pub(super) fn from_body(body: &Value) -> Self {
        let text = |key: &str| body.get(key).and_then(Value::as_str).unwrap_or_default().to_string();
        Self { code: text("code"), message: text("message"), details: body.get("details").cloned().unwrap_or_default() }
    }

    /// `details.<key>` as text, e.g. `api_name` (the field a validation error blames).
    pub(super) fn detail(&self, key: &str) -> Option<String> {
        self.details.get(key).and_then(Value::as_str).map(str::to_string)
    }

    pub(super) fn unexpected(self, status: u16) -> ZohoError {
        ZohoError::Unexpected { status: Some(status), code: self.code, message: self.message }
    }

    /// One record's failed write result. An `INVALID_DATA` that blames the record id is Zoho's way of saying
    /// the record does not exist, whatever shape carries it: `api_name: "id"` (an id in the body),
    /// `resource_path_index` (an id in the path, crm-oas v8 examples), or a bare `id` detail.
    pub(super) fn record_error(self) -> ZohoError {
        let field = self.detail("api_name");
        let blames_id = field.as_deref() == Some("id")
            || self.details.get("resource_path_index").is_some()
            || (field.is_none() && self.detail("id").is_some());
        if self.code == "INVALID_DATA" && blames_id {
            return ZohoError::NotFound;
        }
        ZohoError::Record { code: self.code, message: self.message, field }
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn an_invalid_record_id_is_not_found_in_every_shape_zoho_uses() {
        let error = |details| Envelope::from_body(&json!({"code": "INVALID_DATA", "message": "m", "details": details}));
        for details in [
            json!({"api_name": "id", "json_path": "$.data[0].id"}),
            json!({"resource_path_index": 1}),
            json!({"id": "4150868000000999999"}),
        ] {
            assert!(matches!(error(details.clone()).record_error(), ZohoError::NotFound), "{details}");
        }
        let field = error(json!({"api_name": "Taxable", "json_path": "$.data[0].Taxable"})).record_error();
        assert!(matches!(field, ZohoError::Record { field: Some(f), .. } if f == "Taxable"));
    }
}
