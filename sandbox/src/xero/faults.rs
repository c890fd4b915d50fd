//! Injected failures, so clients can be tested against the ways Xero misbehaves: slow answers, 5xx, hung
//! requests, dropped connections, 429 bursts and token responses lost after the token was rotated.

use std::collections::VecDeque;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;

use axum::body::{Body, Bytes, HttpBody};
use axum::http::StatusCode;
use axum::response::Response;
use rand::Rng;

use super::limits::{Limited, RateProblem, Remaining};
use super::respond::{self, problem, too_many_requests};
use super::state::Shared;

/// One injected failure.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Fault {
    /// Answer with this status (500, 503, …) without processing the request.
    Status(u16),
    /// Hold the request for [`FaultConfig::hang`] (longer than any sane client timeout), then drop the
    /// connection without an answer.
    Hang,
    /// Drop the connection without an answer (the request is not processed).
    Drop,
    /// Process the request (an Idempotency-Key remembers its answer), then drop the connection instead of
    /// answering: the write happened, the client never hears of it (a timeout or a cut after the fact).
    LoseResponse,
    /// Process the request, then leave the last element out of the answer's `Items` (an answer that does
    /// not account for every submitted item; not something Xero is known to do, a robustness check).
    MissingElement,
    /// Process the request (an Idempotency-Key remembers its real answer), then answer this status instead:
    /// a gateway that gave up (504) or failed (502, 503) after the API had done the work, so a write the
    /// client sees fail may have happened.
    ProcessedThen(u16),
    /// Answer 429 as if `problem` were exceeded, with `Retry-After` when `retry_after` is set.
    RateLimit { problem: RateProblem, retry_after: Option<u64> },
}

/// Which endpoints a fault applies to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FaultTarget {
    /// The Accounting API and `/connections`.
    Api,
    /// `POST /connect/token`.
    Token,
}

/// Fault settings at start (all can be changed later through the handle).
#[derive(Debug, Clone)]
pub struct FaultConfig {
    /// Added (real-time) latency on every API, connections and token call.
    pub latency: Duration,
    /// How long [`Fault::Hang`] holds a request (real time).
    pub hang: Duration,
    /// Probability in `[0, 1]` that an API call meets `random_fault`.
    pub random_rate: f64,
    pub random_fault: Fault,
}

impl Default for FaultConfig {
    fn default() -> Self {
        Self {
            latency: Duration::ZERO,
            hang: Duration::from_secs(300),
            random_rate: 0.0,
            random_fault: Fault::Status(500),
        }
    }
}

/// Current fault plan.
#[derive(Debug)]
pub struct Faults {
    pub config: FaultConfig,
    /// When not empty, a random fault is drawn from these instead of `config.random_fault`.
    pub mix: Vec<Fault>,
    api: VecDeque<Fault>,
    token: VecDeque<Fault>,
    /// Token responses to drop after the grant was processed.
    pub drop_token_responses: u32,
}

impl Faults {
    pub fn new(config: FaultConfig) -> Self {
        Self { config, mix: Vec::new(), api: VecDeque::new(), token: VecDeque::new(), drop_token_responses: 0 }
    }

    pub fn push(&mut self, target: FaultTarget, count: u32, fault: Fault) {
        let queue = match target {
            FaultTarget::Api => &mut self.api,
            FaultTarget::Token => &mut self.token,
        };
        queue.extend(std::iter::repeat_n(fault, count as usize));
    }

    pub fn clear(&mut self) {
        self.api.clear();
        self.token.clear();
        self.drop_token_responses = 0;
        self.config.random_rate = 0.0;
        self.config.latency = Duration::ZERO;
        self.mix.clear();
    }

    /// The fault the next call of `target` meets, if any: queued ones first, then the random rate.
    pub fn next(&mut self, target: FaultTarget) -> Option<Fault> {
        match target {
            FaultTarget::Api => self.api.pop_front().or_else(|| {
                let rate = self.config.random_rate.clamp(0.0, 1.0);
                let mut rng = rand::rng();
                if rate <= 0.0 || !rng.random_bool(rate) {
                    return None;
                }
                Some(match self.mix.len() {
                    0 => self.config.random_fault,
                    n => self.mix[rng.random_range(0..n)],
                })
            }),
            FaultTarget::Token => self.token.pop_front(),
        }
    }

    /// Whether to drop this token response (counts it down).
    pub fn take_token_drop(&mut self) -> bool {
        let drop = self.drop_token_responses > 0;
        self.drop_token_responses = self.drop_token_responses.saturating_sub(1);
        drop
    }
}

/// Marks a response whose connection is cut instead of delivered (for the call log).
#[derive(Debug, Clone, Copy)]
pub struct Dropped;

/// A response the client never receives: its body fails at once, so hyper aborts the connection.
pub fn dropped_response() -> Response {
    let mut response = Response::new(Body::new(FailingBody));
    response.extensions_mut().insert(Dropped);
    response
}

struct FailingBody;

impl HttpBody for FailingBody {
    type Data = Bytes;
    type Error = std::io::Error;

    fn poll_frame(
        self: Pin<&mut Self>,
        _cx: &mut Context<'_>,
    ) -> Poll<Option<Result<http_body::Frame<Bytes>, std::io::Error>>> {
        Poll::Ready(Some(Err(std::io::Error::new(std::io::ErrorKind::ConnectionAborted, "injected connection drop"))))
    }
}

/// Waits the configured latency, then takes the fault (if any) the call meets.
pub async fn before_call(shared: &Shared, target: FaultTarget) -> Option<Fault> {
    let latency = shared.lock().faults.config.latency;
    if !latency.is_zero() {
        tokio::time::sleep(latency).await;
    }
    shared.lock().faults.next(target)
}

/// The response a fault produces. `remaining` is the tenant's rate-limit state (none for tenant-less
/// calls), for a forced 429.
pub async fn respond(shared: &Shared, fault: Fault, remaining: Option<Remaining>) -> Response {
    match fault {
        Fault::Status(code) | Fault::ProcessedThen(code) => status_response(code),
        Fault::Hang => {
            let hang = shared.lock().faults.config.hang;
            tokio::time::sleep(hang).await;
            dropped_response()
        }
        // Processed by the caller first; here only when nothing could be processed (the token endpoint).
        Fault::Drop | Fault::LoseResponse | Fault::MissingElement => dropped_response(),
        Fault::RateLimit { problem, retry_after } => {
            let mut left = remaining.unwrap_or(Remaining { minute: 0, day: 0, app_minute: 0 });
            match problem {
                RateProblem::Minute => left.minute = 0,
                RateProblem::Day => left.day = 0,
                RateProblem::AppMinute => left.app_minute = 0,
                RateProblem::Concurrent => {}
            }
            let limited = Limited { problem, retry_after, remaining: left };
            let names = shared.lock().config.behaviour.problem_names;
            too_many_requests(limited, remaining.is_some(), names)
        }
    }
}

/// The answer of an injected status: Xero's internal-error body for 500, its gateway's problem otherwise.
pub fn status_response(code: u16) -> Response {
    if code == 500 {
        return respond::json(StatusCode::INTERNAL_SERVER_ERROR, &respond::internal_error_body());
    }
    let status = StatusCode::from_u16(code).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    let detail = if status == StatusCode::SERVICE_UNAVAILABLE {
        "The Xero API is temporarily unavailable. Please try again later."
    } else {
        "An error occurred in Xero. Check the API Status page http://status.developer.xero.com for current service \
         status. Contact the API support team at api@xero.com for more assistance."
    };
    problem(status, detail)
}
