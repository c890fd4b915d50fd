//! Xero's daily budget as a bulk run spends it: before each batch the run checks that the calls left today
//! stay above a reserve kept for the button (a share of the day's calls), and otherwise pauses until the
//! day's window resets.
//!
//! What Xero tells us is `X-DayLimit-Remaining` on every answer (the client's limiter keeps the last
//! value). The limit itself is not sent: it is the larger of [`STARTER_DAILY_LIMIT`] and the most calls
//! Xero ever said were left, plus one. Xero's day is a fixed window that opens at the organisation's first
//! call and resets a day later, at a time Xero does not send either: the window is taken to have opened
//! when this process first saw the count, or when it saw the count go up (a reset). That estimate is never
//! early, so a paused run never resumes into a refusal; at worst it waits longer than needed.

use std::collections::HashMap;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU8, Ordering};
use std::time::Duration;

use chrono::{DateTime, TimeDelta, Utc};

use crate::xero::LimitStatus;

/// Xero's daily calls per organisation on the Starter tier (apps created since March 2026); higher tiers
/// allow 5,000, which the remaining counts reveal. The one place this number lives until the client knows
/// the configured limit.
pub(crate) const STARTER_DAILY_LIMIT: u32 = 1_000;

#[derive(Debug, Default, Clone, Copy)]
struct Day {
    opened_at: Option<DateTime<Utc>>,
    last_remaining: Option<u32>,
    most_remaining: u32,
}

/// Why a run must wait, and until when.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Wait {
    pub(crate) until: DateTime<Utc>,
    pub(crate) reason: String,
}

/// The daily budget of each organisation this process talks to.
pub(crate) struct XeroBudget {
    /// The admin's setting when set, else the service's (see [`XeroBudget::set_reserve_percent`]).
    reserve_percent: AtomicU8,
    day: Duration,
    /// The organisation's daily limit when it is known rather than learned.
    limit: Option<u32>,
    days: Mutex<HashMap<String, Day>>,
}

impl XeroBudget {
    /// `day` is Xero's day (24 hours; shorter only against a simulator on a fast clock); `limit` the daily
    /// limit when known.
    pub(crate) fn new(reserve_percent: u8, day: Duration, limit: Option<u32>) -> Self {
        Self { reserve_percent: AtomicU8::new(reserve_percent), day, limit, days: Mutex::new(HashMap::new()) }
    }

    /// The share of the day's calls kept for the button from now on.
    pub(crate) fn set_reserve_percent(&self, percent: u8) {
        self.reserve_percent.store(percent, Ordering::Relaxed);
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<String, Day>> {
        self.days.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// Takes in what Xero last said (call after each Xero call).
    pub(crate) fn observe(&self, tenant_id: &str, status: Option<LimitStatus>) {
        let Some(remaining) = status.and_then(|s| s.day_remaining) else { return };
        let now = Utc::now();
        let mut days = self.lock();
        let day = days.entry(tenant_id.to_ascii_lowercase()).or_default();
        match day.last_remaining {
            None => day.opened_at = Some(now),
            // More left than before: the window reset in between.
            Some(last) if remaining > last => day.opened_at = Some(now),
            Some(_) => {}
        }
        day.last_remaining = Some(remaining);
        day.most_remaining = day.most_remaining.max(remaining);
    }

    /// The organisation's daily limit as far as we can tell.
    pub(crate) fn limit(&self, tenant_id: &str) -> u32 {
        if let Some(limit) = self.limit {
            return limit;
        }
        let most = self.lock().get(&tenant_id.to_ascii_lowercase()).map_or(0, |d| d.most_remaining);
        STARTER_DAILY_LIMIT.max(most.saturating_add(1))
    }

    /// The calls kept for the button: `reserve_percent` of the limit, rounded up.
    pub(crate) fn reserve(&self, tenant_id: &str) -> u32 {
        let limit = u64::from(self.limit(tenant_id));
        let percent = self.reserve_percent.load(Ordering::Relaxed);
        u32::try_from((limit * u64::from(percent)).div_ceil(100)).unwrap_or(u32::MAX)
    }

    /// Calls left today as last reported; `None` before any answer, and once the day it was reported in
    /// has passed (the count is stale: the next answer tells).
    pub(crate) fn remaining(&self, tenant_id: &str) -> Option<u32> {
        let day = self.lock().get(&tenant_id.to_ascii_lowercase()).copied()?;
        let reset = day.opened_at? + TimeDelta::from_std(self.day).unwrap_or(TimeDelta::days(1));
        day.last_remaining.filter(|_| Utc::now() < reset)
    }

    /// When the organisation's day resets, as estimated (see the module docs).
    pub(crate) fn reset_at(&self, tenant_id: &str) -> DateTime<Utc> {
        let day = TimeDelta::from_std(self.day).unwrap_or(TimeDelta::days(1));
        let opened = self.lock().get(&tenant_id.to_ascii_lowercase()).and_then(|d| d.opened_at);
        opened.unwrap_or_else(Utc::now) + day
    }

    /// Whether `needed` more calls (with `in_flight` sent but not answered yet) keep the reserve; if not,
    /// how long to wait.
    pub(crate) fn check(&self, tenant_id: &str, needed: u32, in_flight: u32) -> Result<(), Wait> {
        let Some(remaining) = self.remaining(tenant_id) else { return Ok(()) };
        let reserve = self.reserve(tenant_id);
        let after = i64::from(remaining) - i64::from(in_flight) - i64::from(needed);
        if after >= i64::from(reserve) {
            return Ok(());
        }
        let until = self.reset_at(tenant_id);
        Err(Wait {
            until,
            reason: format!(
                "Xero's daily calls are down to the reserve kept for the button ({remaining} left, {reserve} kept \
                 of about {} a day); resumes at {} when Xero's day resets",
                self.limit(tenant_id),
                super::local_time(until)
            ),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn status(day: u32) -> Option<LimitStatus> {
        Some(LimitStatus { day_remaining: Some(day), minute_remaining: Some(59) })
    }

    #[test]
    fn the_reserve_is_a_share_of_the_limit_the_counts_reveal() {
        let budget = XeroBudget::new(10, Duration::from_secs(86_400), None);
        assert_eq!((budget.limit("T"), budget.reserve("T")), (1_000, 100), "Starter until Xero says more");
        assert!(budget.check("t", 50, 0).is_ok(), "nothing known yet: the first calls tell");
        budget.observe("t", status(4_990));
        assert_eq!((budget.limit("t"), budget.reserve("t")), (4_991, 500));
        assert!(budget.check("t", 1, 0).is_ok());
        budget.observe("t", status(502));
        assert!(budget.check("t", 1, 0).is_ok(), "501 left after it");
        let wait = budget.check("t", 1, 2).expect_err("in-flight calls count");
        assert!(wait.reason.contains("502 left, 500 kept"), "{}", wait.reason);
        assert!(wait.until > Utc::now() + TimeDelta::hours(23), "never earlier than a day after first seen");
    }

    #[test]
    fn a_count_going_up_is_a_reset() {
        let budget = XeroBudget::new(10, Duration::from_secs(60), None);
        budget.observe("t", status(10));
        let first = budget.reset_at("t");
        std::thread::sleep(Duration::from_millis(20));
        budget.observe("t", status(5));
        assert_eq!(budget.reset_at("t"), first, "the window is still the one first seen");
        budget.observe("t", status(999));
        assert!(budget.reset_at("t") > first, "it reset: a new window opened now");
        let short = XeroBudget::new(10, Duration::from_millis(30), Some(100));
        short.observe("t", status(3));
        assert!(short.check("t", 1, 0).is_err(), "down to the reserve");
        std::thread::sleep(Duration::from_millis(40));
        assert_eq!(short.remaining("t"), None, "the day passed: the count is stale");
        assert!(short.check("t", 1, 0).is_ok(), "so the run tries, and the next answer tells");
        let zero = XeroBudget::new(0, Duration::from_secs(60), Some(5));
        assert_eq!(zero.limit("t"), 5, "a known limit is not learned");
        zero.observe("t", status(1));
        assert!(zero.check("t", 1, 0).is_ok(), "no reserve: every call may be used");
    }
}
