//! Zoho CRM's API limits (fidelity-audit Z7; reference zoho-crm.md §5.4, sync-engines.md §2):
//!
//! - **Credits per rolling 24 hours.** "The API Rate Limit is for a rolling window of 24 hours i.e., for
//!   every API call, we will check the API credits consumed in the last 24 hours" (Kaizen #93). The
//!   allowance depends on the edition and users: Standard 50,000 + 250 per user (max 100,000),
//!   Professional 50,000 + 500 per user, Enterprise 50,000 + 1,000 per user
//!   (zoho.com/crm/developer/docs/api/v4/api-limits.html; older pages give smaller bases). The default is
//!   the Standard base, 50,000. Every CRM call costs 1 credit ("Each API call made will result in a
//!   reduction of 1 credit", same page); whether a multi-record update costs more (Zoho's Vertical Solutions
//!   charge 1 credit per 10 records) is **unverified** for CRM and not simulated. Calls refused for their
//!   token cost nothing (they cannot be charged to an org).
//! - **Concurrency per org and app**: Free 5, Standard 10, Professional 15, Enterprise 20, Ultimate 25
//!   (Kaizen #203).
//! - **Sub-concurrency of 10** for resource-intensive calls, among them inserts/updates of more than 10
//!   records (Kaizen #203; support.creatorscripts.com, secondary).
//!
//! All three are on by default, at the Standard edition's values ([`ZohoLimits::standard`]): the backend's
//! client keeps its own calls in flight below the cap (issue 11), so a client that does not is caught
//! here. A test that needs them off sets `concurrency`/`sub_concurrency` to `None`.
//!
//! All three answer 429 `TOO_MANY_REQUESTS` (Kaizen #203 for the concurrency limits; "429 TOO MANY
//! REQUESTS: API request limit exceeded" for credits). The messages are ours, and no `Retry-After` is
//! sent: Zoho documents none (unverified), so a client must pace itself from its own count.

use std::collections::VecDeque;
use std::time::Duration;

use super::error::ZohoError;

const ROLLING_WINDOW: Duration = Duration::from_secs(24 * 3600);

/// The org's limits: by default the Standard edition's, with no add-on credits.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ZohoLimits {
    /// API credits per rolling 24 hours.
    pub credits_per_day: u32,
    /// CRM calls in flight at once; `None`: not enforced.
    pub concurrency: Option<u32>,
    /// Updates of more than 10 records in flight at once; `None`: not enforced.
    pub sub_concurrency: Option<u32>,
}

impl ZohoLimits {
    /// Credits of the Standard edition with no users counted and no add-ons.
    pub const STANDARD_CREDITS: u32 = 50_000;

    /// Zoho's Standard edition with no add-on credits, both concurrency caps enforced.
    pub fn standard() -> Self {
        Self { credits_per_day: Self::STANDARD_CREDITS, concurrency: Some(10), sub_concurrency: Some(10) }
    }
}

impl Default for ZohoLimits {
    fn default() -> Self {
        Self::standard()
    }
}

/// The org's credit balance at a moment, in simulated time.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Credits {
    pub allowance: u32,
    /// Spent in the last 24 hours.
    pub used: u32,
    pub remaining: u32,
    /// When the oldest spent credit comes back (simulated time from now), if any is spent.
    pub next_release_in: Option<Duration>,
}

/// What the org has spent and has in flight.
#[derive(Debug, Default)]
pub(super) struct Usage {
    /// When each credit of the last 24 hours was spent, oldest first.
    spent: VecDeque<Duration>,
    in_flight: u32,
    bulk_in_flight: u32,
}

impl Usage {
    fn expire(&mut self, now: Duration) {
        while self.spent.front().is_some_and(|t| now >= t.saturating_add(ROLLING_WINDOW)) {
            self.spent.pop_front();
        }
    }

    /// Spends one credit, or refuses when the rolling window has none left.
    pub(super) fn charge(&mut self, now: Duration, limits: &ZohoLimits) -> Result<(), ZohoError> {
        self.expire(now);
        if self.spent.len() >= limits.credits_per_day as usize {
            return Err(ZohoError::credits_exhausted());
        }
        self.spent.push_back(now);
        Ok(())
    }

    pub(super) fn credits(&mut self, now: Duration, limits: &ZohoLimits) -> Credits {
        self.expire(now);
        let used = u32::try_from(self.spent.len()).unwrap_or(u32::MAX);
        Credits {
            allowance: limits.credits_per_day,
            used,
            remaining: limits.credits_per_day.saturating_sub(used),
            next_release_in: self.spent.front().map(|t| t.saturating_add(ROLLING_WINDOW).saturating_sub(now)),
        }
    }

    /// Takes an in-flight slot (and a bulk one for a large update), or refuses.
    pub(super) fn enter(&mut self, bulk: bool, limits: &ZohoLimits) -> Result<(), ZohoError> {
        let full = |in_flight: u32, cap: Option<u32>| cap.is_some_and(|cap| in_flight >= cap);
        if full(self.in_flight, limits.concurrency) || (bulk && full(self.bulk_in_flight, limits.sub_concurrency)) {
            return Err(ZohoError::concurrency_exceeded());
        }
        self.in_flight += 1;
        self.bulk_in_flight += u32::from(bulk);
        Ok(())
    }

    pub(super) fn leave(&mut self, bulk: bool) {
        self.in_flight = self.in_flight.saturating_sub(1);
        if bulk {
            self.bulk_in_flight = self.bulk_in_flight.saturating_sub(1);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn credits_come_back_24_hours_after_they_were_spent() {
        let limits = ZohoLimits { credits_per_day: 2, ..ZohoLimits::default() };
        let mut usage = Usage::default();
        let hour = Duration::from_secs(3600);
        assert!(usage.charge(Duration::ZERO, &limits).is_ok());
        assert!(usage.charge(hour, &limits).is_ok());
        assert_eq!(usage.charge(2 * hour, &limits).map_err(|e| e.code), Err("TOO_MANY_REQUESTS"));
        let credits = usage.credits(2 * hour, &limits);
        assert_eq!((credits.used, credits.remaining, credits.next_release_in), (2, 0, Some(22 * hour)));
        assert!(usage.charge(24 * hour, &limits).is_ok(), "the first credit is back: the window rolls");
        assert!(usage.charge(24 * hour, &limits).is_err(), "the second is not yet");
    }

    #[test]
    fn bulk_updates_have_their_own_cap() {
        let limits = ZohoLimits { concurrency: Some(3), sub_concurrency: Some(1), ..ZohoLimits::default() };
        let mut usage = Usage::default();
        assert!(usage.enter(true, &limits).is_ok());
        assert!(usage.enter(true, &limits).is_err(), "one bulk update at a time");
        assert!(usage.enter(false, &limits).is_ok());
        assert!(usage.enter(false, &limits).is_ok());
        assert!(usage.enter(false, &limits).is_err(), "three in flight");
        usage.leave(true);
        assert!(usage.enter(true, &limits).is_ok());
    }
}

#[cfg(test)]
mod default_tests {
    use super::*;

    #[test]
    fn concurrency_is_capped_as_the_standard_edition_by_default() {
        let mut usage = Usage::default();
        for _ in 0..10 {
            assert!(usage.enter(false, &ZohoLimits::default()).is_ok());
        }
        assert!(usage.enter(false, &ZohoLimits::default()).is_err(), "the eleventh call at once");
        assert_eq!(ZohoLimits::default(), ZohoLimits::standard());
        let uncapped = ZohoLimits { concurrency: None, sub_concurrency: None, ..ZohoLimits::default() };
        for _ in 0..100 {
            assert!(usage.enter(true, &uncapped).is_ok(), "off when asked");
        }
    }
}
