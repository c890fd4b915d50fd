//! Xero's rate limits: per tenant 60 calls a minute, 5 in flight and a daily cap; per app 10,000 calls a
//! minute. Windows are fixed (not rolling) and start at a tenant's first call, so different tenants reset
//! at different times, as in Xero.

use std::collections::HashMap;
use std::time::Duration;

use super::behaviour::ProblemNames;

const MINUTE: Duration = Duration::from_secs(60);
const DAY: Duration = Duration::from_secs(86_400);

/// The limits enforced; Xero's published values by default (xero-api.md §9).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RateLimits {
    pub per_minute: u32,
    /// Per tenant: 1,000 on the Starter tier that apps created since 2 March 2026 start on (the default),
    /// 5,000 on higher tiers ([`RateLimits::higher_tier`]).
    pub per_day: u32,
    pub concurrent: u32,
    pub app_per_minute: u32,
}

impl RateLimits {
    /// Calls a day per tenant on Xero's Starter tier (developer.xero.com/pricing; fidelity-audit X4).
    pub const STARTER_PER_DAY: u32 = 1_000;
    /// Calls a day per tenant on Xero's higher tiers (and for every app before March 2026).
    pub const HIGHER_TIER_PER_DAY: u32 = 5_000;

    /// The limits of an app on a tier above Starter: 5,000 calls a day.
    pub fn higher_tier() -> Self {
        Self { per_day: Self::HIGHER_TIER_PER_DAY, ..Self::default() }
    }
}

impl Default for RateLimits {
    fn default() -> Self {
        Self { per_minute: 60, per_day: Self::STARTER_PER_DAY, concurrent: 5, app_per_minute: 10_000 }
    }
}

/// A tenant's usage as the limiter sees it, in simulated time: what is left and when each window resets
/// (`None` while the window has not opened, i.e. before the first call counted in it).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LimitStatus {
    pub minute_remaining: u32,
    pub day_remaining: u32,
    pub in_flight: u32,
    /// Simulated time until the minute window resets.
    pub minute_resets_in: Option<Duration>,
    /// Simulated time until the daily window resets.
    pub day_resets_in: Option<Duration>,
}

/// Which limit a 429 names in `X-Rate-Limit-Problem`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RateProblem {
    Minute,
    Day,
    Concurrent,
    AppMinute,
}

impl RateProblem {
    /// The header value, lowercase as observed from Xero (the unverified two as [`ProblemNames::Joined`]).
    pub fn as_str(self) -> &'static str {
        self.header(ProblemNames::Joined)
    }

    /// The header value with the unverified names spelt as `names` says (fidelity-audit X5).
    pub fn header(self, names: ProblemNames) -> &'static str {
        match (self, names) {
            (RateProblem::Minute, _) => "minute",
            (RateProblem::Day, _) => "day",
            (RateProblem::Concurrent, ProblemNames::Capitalised) => "Concurrent",
            (RateProblem::Concurrent, _) => "concurrent",
            (RateProblem::AppMinute, ProblemNames::Joined) => "appminute",
            (RateProblem::AppMinute, ProblemNames::Hyphenated) => "app-minute",
            (RateProblem::AppMinute, ProblemNames::Capitalised) => "AppMinute",
        }
    }
}

/// Remaining calls, for the `X-*-Remaining` headers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Remaining {
    pub minute: u32,
    pub day: u32,
    pub app_minute: u32,
}

/// A refused call.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limited {
    pub problem: RateProblem,
    /// Whole seconds until the window resets; Xero sends none for the concurrent limit.
    pub retry_after: Option<u64>,
    pub remaining: Remaining,
}

#[derive(Debug, Default, Clone, Copy)]
struct Window {
    start: Option<Duration>,
    count: u32,
}

impl Window {
    /// Starts a new window when the current one has ended (fixed windows that open on first use).
    fn roll(&mut self, now: Duration, len: Duration) {
        if self.start.is_none_or(|s| now >= s + len) {
            self.start = None;
            self.count = 0;
        }
    }

    fn remaining(&self, limit: u32) -> u32 {
        limit.saturating_sub(self.count)
    }

    fn take(&mut self, now: Duration) {
        self.start.get_or_insert(now);
        self.count += 1;
    }

    fn retry_after(&self, now: Duration, len: Duration) -> u64 {
        let end = self.start.map_or(now, |s| s + len);
        let left = end.saturating_sub(now);
        left.as_secs() + u64::from(left.subsec_nanos() > 0)
    }
}

#[derive(Debug, Default)]
struct TenantUsage {
    minute: Window,
    day: Window,
    in_flight: u32,
}

/// Usage counters for one app.
#[derive(Debug, Default)]
pub struct Limiter {
    tenants: HashMap<String, TenantUsage>,
    app_minute: Window,
}

impl Limiter {
    /// Admits a tenant call (counting it and occupying an in-flight slot, to be given back with
    /// [`Limiter::release`]) or says which limit refuses it. Refused calls are not counted.
    pub fn admit(&mut self, tenant: &str, now: Duration, limits: &RateLimits) -> Result<Remaining, Limited> {
        self.app_minute.roll(now, MINUTE);
        let usage = self.tenants.entry(tenant.to_string()).or_default();
        usage.minute.roll(now, MINUTE);
        usage.day.roll(now, DAY);
        let remaining = Remaining {
            minute: usage.minute.remaining(limits.per_minute),
            day: usage.day.remaining(limits.per_day),
            app_minute: self.app_minute.remaining(limits.app_per_minute),
        };
        let refuse = |problem, retry_after| Err(Limited { problem, retry_after, remaining });
        if remaining.day == 0 {
            return refuse(RateProblem::Day, Some(usage.day.retry_after(now, DAY)));
        }
        if remaining.minute == 0 {
            return refuse(RateProblem::Minute, Some(usage.minute.retry_after(now, MINUTE)));
        }
        if remaining.app_minute == 0 {
            return refuse(RateProblem::AppMinute, Some(self.app_minute.retry_after(now, MINUTE)));
        }
        if usage.in_flight >= limits.concurrent {
            return refuse(RateProblem::Concurrent, None);
        }
        usage.minute.take(now);
        usage.day.take(now);
        usage.in_flight += 1;
        self.app_minute.take(now);
        Ok(Remaining { minute: remaining.minute - 1, day: remaining.day - 1, app_minute: remaining.app_minute - 1 })
    }

    /// The tenant's usage at `now`, without counting a call.
    pub fn status(&self, tenant: &str, now: Duration, limits: &RateLimits) -> LimitStatus {
        let usage = self.tenants.get(tenant);
        let window = |pick: fn(&TenantUsage) -> Window, len: Duration| {
            let mut window = usage.map(pick).unwrap_or_default();
            window.roll(now, len);
            window
        };
        let minute = window(|u| u.minute, MINUTE);
        let day = window(|u| u.day, DAY);
        let resets_in = |w: &Window, len: Duration| w.start.map(|s| (s + len).saturating_sub(now));
        LimitStatus {
            minute_remaining: minute.remaining(limits.per_minute),
            day_remaining: day.remaining(limits.per_day),
            in_flight: usage.map_or(0, |u| u.in_flight),
            minute_resets_in: resets_in(&minute, MINUTE),
            day_resets_in: resets_in(&day, DAY),
        }
    }

    /// Frees the in-flight slot taken by [`Limiter::admit`].
    pub fn release(&mut self, tenant: &str) {
        if let Some(usage) = self.tenants.get_mut(tenant) {
            usage.in_flight = usage.in_flight.saturating_sub(1);
        }
    }

    /// Admits a tenant-less call (`/connections`), which only the app-wide limit covers.
    pub fn admit_app(&mut self, now: Duration, limits: &RateLimits) -> Result<u32, Limited> {
        self.app_minute.roll(now, MINUTE);
        let left = self.app_minute.remaining(limits.app_per_minute);
        if left == 0 {
            return Err(Limited {
                problem: RateProblem::AppMinute,
                retry_after: Some(self.app_minute.retry_after(now, MINUTE)),
                remaining: Remaining { minute: 0, day: 0, app_minute: 0 },
            });
        }
        self.app_minute.take(now);
        Ok(left - 1)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn minute_window_is_fixed_and_reopens() {
        let limits = RateLimits { per_minute: 2, ..RateLimits::default() };
        let mut l = Limiter::default();
        let t0 = Duration::from_secs(10);
        assert!(l.admit("t", t0, &limits).is_ok());
        l.release("t");
        assert!(l.admit("t", t0 + Duration::from_secs(30), &limits).is_ok());
        l.release("t");
        let refused = l.admit("t", t0 + Duration::from_secs(45), &limits).expect_err("third call");
        assert_eq!(refused.problem, RateProblem::Minute);
        assert_eq!(refused.retry_after, Some(15));
        assert!(l.admit("t", t0 + Duration::from_secs(60), &limits).is_ok());
        assert!(l.admit("other", t0, &limits).is_ok(), "tenants are counted separately");
    }

    #[test]
    fn concurrent_slots_are_given_back() {
        let limits = RateLimits { concurrent: 1, ..RateLimits::default() };
        let mut l = Limiter::default();
        assert!(l.admit("t", Duration::ZERO, &limits).is_ok());
        let refused = l.admit("t", Duration::ZERO, &limits).expect_err("second in flight");
        assert_eq!((refused.problem, refused.retry_after), (RateProblem::Concurrent, None));
        l.release("t");
        assert!(l.admit("t", Duration::ZERO, &limits).is_ok());
    }
}
