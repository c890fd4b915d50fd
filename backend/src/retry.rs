//! The one retry policy of both clients: exponential backoff with jitter, on `backon`. What counts as worth
//! retrying stays with each client (Xero's and Zoho's failures differ); how long to wait between tries is
//! decided here.

use std::time::Duration;

use backon::ExponentialBuilder;

/// Retries of transient failures (network errors, timeouts, and the server errors each client names).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RetryPolicy {
    /// Attempts in total, the first included; 1 means no retry.
    pub max_attempts: usize,
    /// The first delay; each next one doubles, up to `max_delay`, with jitter.
    pub min_delay: Duration,
    pub max_delay: Duration,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        Self { max_attempts: 4, min_delay: Duration::from_millis(500), max_delay: Duration::from_secs(8) }
    }
}

impl RetryPolicy {
    /// No retry: one quick answer matters more than a late one (e.g. a page waiting on it).
    pub const NONE: RetryPolicy = RetryPolicy { max_attempts: 1, min_delay: Duration::ZERO, max_delay: Duration::ZERO };

    /// The backoff to hand to `backon`'s `retry`.
    pub(crate) fn backoff(&self) -> ExponentialBuilder {
        ExponentialBuilder::default()
            .with_min_delay(self.min_delay)
            .with_max_delay(self.max_delay)
            .with_max_times(self.max_attempts.saturating_sub(1))
            .with_jitter()
    }
}

#[cfg(test)]
mod tests {
    use backon::BackoffBuilder;

    use super::*;

    #[test]
    fn attempts_count_the_first_try() {
        let policy =
            RetryPolicy { max_attempts: 4, min_delay: Duration::from_millis(10), max_delay: Duration::from_millis(40) };
        let delays: Vec<Duration> = policy.backoff().build().collect();
        assert_eq!(delays.len(), 3);
        assert!(delays.iter().all(|d| *d <= Duration::from_millis(80)), "{delays:?}");
        assert_eq!(RetryPolicy::NONE.backoff().build().count(), 0);
    }
}
