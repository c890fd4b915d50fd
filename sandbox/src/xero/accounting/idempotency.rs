//! `Idempotency-Key`: Xero remembers the first answer to a keyed POST/PUT/PATCH for the key's lifetime and
//! replays it to the same request, and refuses the key for a different one (xero-api.md §8).

use std::time::Duration;

use axum::body::Bytes;
use axum::http::{HeaderMap, Method, StatusCode, Uri};

use super::{Call, Reply};
use crate::xero::state::Inner;

/// A remembered `Idempotency-Key`: the request it was first used with and the answer given.
pub struct Idempotent {
    fingerprint: Fingerprint,
    first: Duration,
    reply: Reply,
}

#[derive(PartialEq, Eq)]
struct Fingerprint {
    method: Method,
    uri: String,
    tenant: String,
    body: Bytes,
}

/// Applies `Idempotency-Key` (PUT/POST/PATCH only): replays the first answer to the same request within
/// the key's lifetime, refuses the key for a different request. The check runs after rate limiting, as in
/// Xero, so retries still spend quota. Keys are scoped to the (single) app. `process` answers a request the
/// key does not settle; whatever it answers (errors included) is what the key remembers.
pub(super) fn idempotent(
    inner: &mut Inner,
    now: Duration,
    call: &Call<'_>,
    uri: &Uri,
    process: impl FnOnce(&mut Inner, &Call<'_>) -> Reply,
) -> Reply {
    let Some(key) = idempotency_key(call.method, call.headers) else {
        return process(inner, call);
    };
    if key.chars().count() > 128 {
        return Reply::problem(
            StatusCode::BAD_REQUEST,
            &format!("Idempotency Key: {key} is longer than 128 characters."),
        );
    }
    let fingerprint = Fingerprint {
        method: call.method.clone(),
        uri: uri.to_string(),
        tenant: call.tenant.to_ascii_lowercase(),
        body: call.body.clone(),
    };
    let lifetime = inner.config.lifetimes.idempotency_key;
    inner.idempotency.retain(|_, entry| now < entry.first.saturating_add(lifetime));
    if let Some(entry) = inner.idempotency.get(&key) {
        if entry.fingerprint != fingerprint {
            let detail = format!("Idempotency Key: {key} is used with a different request.");
            return Reply::problem(StatusCode::BAD_REQUEST, &detail);
        }
        return entry.reply.clone();
    }
    let reply = process(inner, call);
    inner.idempotency.insert(key, Idempotent { fingerprint, first: now, reply: reply.clone() });
    reply
}

/// The `Idempotency-Key` of a write (PUT, POST, PATCH); Xero ignores the header on other methods.
pub(super) fn idempotency_key(method: &Method, headers: &HeaderMap) -> Option<String> {
    let key = headers.get("idempotency-key").and_then(|v| v.to_str().ok()).map(str::to_string);
    key.filter(|_| matches!(*method, Method::PUT | Method::POST | Method::PATCH))
}
