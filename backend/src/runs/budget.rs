//! Xero's daily budget as a bulk run spends it: before each batch the run checks that the calls left today
//! stay above a reserve kept for the button (a share of the day's calls), and otherwise pauses until the
//! day's window resets.
//!
//! The day's count has one home, the Xero client's limiter ([`crate::xero::XeroClient::limits`]): the
//! daily limit (`XERO_DAILY_CALL_LIMIT`), the calls left (its own count, lowered when Xero's
//! `X-DayLimit-Remaining` says others spent some too) and when the day resets (a day after its first call,
//! or when a daily 429 said). The limiter's day opens at our first call, never before Xero's, so a paused
//! run never resumes into a refusal; at worst it waits longer than needed.

use std::sync::atomic::{AtomicU8, Ordering};

use chrono::{DateTime, TimeDelta, Utc};

use crate::xero::{LimitStatus, XeroClient};

/// Why a run must wait, and until when.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Wait {
    pub(crate) until: DateTime<Utc>,
    pub(crate) reason: String,
}

/// The daily budget of the organisations the client talks to, with the reserve bulk runs leave.
pub(crate) struct XeroBudget {
    xero: XeroClient,
    /// The admin's setting when set, else the service's (see [`XeroBudget::set_reserve_percent`]).
    reserve_percent: AtomicU8,
}

impl XeroBudget {
    pub(crate) fn new(xero: XeroClient, reserve_percent: u8) -> Self {
        Self { xero, reserve_percent: AtomicU8::new(reserve_percent) }
    }

    /// The share of the day's calls kept for the button from now on (the next check uses it).
    pub(crate) fn set_reserve_percent(&self, percent: u8) {
        self.reserve_percent.store(percent, Ordering::Relaxed);
    }

    fn percent(&self) -> u8 {
        self.reserve_percent.load(Ordering::Relaxed)
    }

    /// The organisation's daily limit, as the client keeps to it.
    pub(crate) fn limit(&self) -> u32 {
        self.xero.daily_call_limit()
    }

    /// The calls kept for the button: `reserve_percent` of the limit, rounded up.
    pub(crate) fn reserve(&self) -> u32 {
        reserve(self.limit(), self.percent())
    }

    /// Calls left today; `None` before any call, and once the day has reset (the next call tells).
    pub(crate) fn remaining(&self, tenant_id: &str) -> Option<u32> {
        remaining(self.xero.limits(tenant_id).as_ref(), Utc::now())
    }

    /// When the organisation's day resets (a day from now when no call started it yet).
    pub(crate) fn reset_at(&self, tenant_id: &str) -> DateTime<Utc> {
        let status = self.xero.limits(tenant_id);
        status.and_then(|s| s.day_resets_at).unwrap_or_else(|| Utc::now() + TimeDelta::days(1))
    }

    /// Whether `needed` more calls (with `in_flight` sent but not answered yet) keep the reserve; if not,
    /// how long to wait.
    pub(crate) fn check(&self, tenant_id: &str, needed: u32, in_flight: u32) -> Result<(), Wait> {
        let status = self.xero.limits(tenant_id);
        check(status.as_ref(), self.percent(), needed, in_flight, Utc::now())
    }
}

fn reserve(limit: u32, percent: u8) -> u32 {
    u32::try_from((u64::from(limit) * u64::from(percent)).div_ceil(100)).unwrap_or(u32::MAX)
}

fn remaining(status: Option<&LimitStatus>, now: DateTime<Utc>) -> Option<u32> {
    let status = status?;
    match status.day_resets_at {
        Some(reset) if reset <= now => None,
        _ => status.day_remaining,
    }
}

fn check(
    status: Option<&LimitStatus>,
    percent: u8,
    needed: u32,
    in_flight: u32,
    now: DateTime<Utc>,
) -> Result<(), Wait> {
    let Some(left) = remaining(status, now) else { return Ok(()) };
    let Some(status) = status else { return Ok(()) };
    let kept = reserve(status.day_limit, percent);
    let after = i64::from(left) - i64::from(in_flight) - i64::from(needed);
    if after >= i64::from(kept) {
        return Ok(());
    }
    let until = status.day_resets_at.unwrap_or(now + TimeDelta::days(1));
    Err(Wait {
        until,
        reason: format!(
            "Xero's daily calls are down to the reserve kept for the button ({left} left, {kept} kept of {} a \
             day); resumes at {} when Xero's day resets",
            status.day_limit,
            super::local_time(until)
        ),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn status(left: u32, limit: u32, resets_at: Option<DateTime<Utc>>) -> LimitStatus {
        LimitStatus {
            day_remaining: Some(left),
            minute_remaining: Some(59),
            day_limit: limit,
            day_resets_at: resets_at,
        }
    }

    #[test]
    fn the_reserve_is_a_share_of_the_configured_limit() {
        let now = Utc::now();
        let reset = Some(now + TimeDelta::hours(5));
        assert_eq!((reserve(1_000, 10), reserve(5_000, 10), reserve(999, 10), reserve(20, 0)), (100, 500, 100, 0));
        assert!(check(None, 10, 50, 0, now).is_ok(), "nothing known yet: the first calls tell");
        assert!(check(Some(&status(502, 5_000, reset)), 10, 1, 0, now).is_ok(), "501 left after it");
        let wait = check(Some(&status(502, 5_000, reset)), 10, 1, 2, now).expect_err("in-flight calls count");
        assert!(wait.reason.contains("502 left, 500 kept of 5000 a day"), "{}", wait.reason);
        assert_eq!(Some(wait.until), reset, "until the limiter's reset");
        assert!(check(Some(&status(1, 5, reset)), 0, 1, 0, now).is_ok(), "no reserve: every call may be used");
    }

    #[test]
    fn a_day_that_has_reset_is_not_counted_against() {
        let now = Utc::now();
        let past = status(3, 100, Some(now - TimeDelta::seconds(1)));
        assert_eq!(remaining(Some(&past), now), None, "the day passed: the count is stale");
        assert!(check(Some(&past), 10, 1, 0, now).is_ok(), "so the run tries, and the next answer tells");
        let current = status(3, 100, Some(now + TimeDelta::minutes(1)));
        assert_eq!(remaining(Some(&current), now), Some(3));
        assert!(check(Some(&current), 10, 1, 0, now).is_err(), "down to the reserve");
    }
}
