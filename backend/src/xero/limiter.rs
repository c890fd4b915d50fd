//! Per-tenant throttling, so we slow down before Xero refuses: a semaphore caps calls in flight (Xero
//! allows 5 per tenant), a fixed window caps calls per minute (Xero: 60), a day window caps calls per day
//! (Xero: 1,000 on the Starter tier, 5,000 above; `XERO_DAILY_CALL_LIMIT`), and the `X-*-Remaining` headers
//! of every answer correct our counts (other processes and apps share the same quota). An app-wide gate
//! does the same for Xero's per-app minute quota.
//!
//! The day is never overspent: a call the day's count has no room for fails at once with
//! [`XeroError::RateLimited`] (`problem: "day"`, and when the day resets) instead of waiting hours.

use std::sync::Arc;
use std::sync::Mutex;
use std::time::Duration;

use chrono::{DateTime, TimeDelta, Utc};
use reqwest::header::HeaderMap;
use tokio::sync::{OwnedSemaphorePermit, Semaphore};
use tokio::time::Instant;

use super::error::XeroError;

/// Limits applied per tenant.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LimiterConfig {
    /// Calls in flight per tenant. Xero allows 5; `../shared/reference/xero-api.md` (§9) suggests 3 for headroom.
    pub max_in_flight: usize,
    /// Calls per window per tenant (Xero: 60 a minute).
    pub per_window: u32,
    /// The window length (a minute; shorter only for simulators running on fast clocks).
    pub window: Duration,
    /// Calls per day per tenant: the service sets it from `XERO_DAILY_CALL_LIMIT` (default 1,000).
    pub per_day: u32,
    /// The day window's length (a day; shorter only for simulators running on fast clocks).
    pub day: Duration,
}

impl Default for LimiterConfig {
    fn default() -> Self {
        Self {
            max_in_flight: 5,
            per_window: 60,
            window: Duration::from_secs(60),
            per_day: 1_000,
            day: Duration::from_secs(24 * 3600),
        }
    }
}

/// A tenant's quota as the client sees it, for the admin page and for planning a bulk run.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct LimitStatus {
    /// Calls left today: the daily limit less the calls counted (ours, or more when Xero's
    /// `X-DayLimit-Remaining` says others spent some too).
    pub day_remaining: Option<u32>,
    /// What Xero last said was left of the minute.
    pub minute_remaining: Option<u32>,
    /// The daily limit the client keeps to ([`LimiterConfig::per_day`]).
    pub day_limit: u32,
    /// When the day's count starts again: a day after our first call of it, or when a 429 said. `None`
    /// before the first call.
    pub day_resets_at: Option<DateTime<Utc>>,
}

#[derive(Debug, Default)]
struct Window {
    started: Option<Instant>,
    used: u32,
    /// No call starts before this (after a 429 or an exhausted minute).
    paused_until: Option<Instant>,
    minute_remaining: Option<u32>,
    /// Calls counted against the day.
    day_used: u32,
    /// When the day's count resets; `None` until the day's first call. Xero's day windows are fixed and
    /// reset at different times per tenant: ours opens at our first call, and a daily 429's `Retry-After`
    /// moves it to Xero's.
    day_ends: Option<Instant>,
}

/// The limiter of one tenant.
#[derive(Debug)]
pub(crate) struct TenantLimiter {
    config: LimiterConfig,
    in_flight: Arc<Semaphore>,
    window: Mutex<Window>,
}

impl TenantLimiter {
    pub(crate) fn new(config: LimiterConfig) -> Self {
        Self {
            config,
            in_flight: Arc::new(Semaphore::new(config.max_in_flight.max(1))),
            window: Mutex::new(Window::default()),
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Window> {
        let mut w = self.window.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        if w.day_ends.is_some_and(|end| Instant::now() >= end) {
            w.day_ends = None;
            w.day_used = 0;
        }
        w
    }

    /// Waits for an in-flight slot and a call in the current minute, and counts the call against the day;
    /// the slot is held until the permit is dropped (after the response body has been read). A day with no
    /// call left fails at once.
    pub(crate) async fn acquire(&self) -> Result<OwnedSemaphorePermit, XeroError> {
        let permit = self
            .in_flight
            .clone()
            .acquire_owned()
            .await
            .map_err(|_| XeroError::Unavailable("the rate limiter was shut down".into()))?;
        loop {
            let wait = {
                let mut w = self.lock();
                let now = Instant::now();
                if w.day_used >= self.config.per_day {
                    let retry_after = w.day_ends.map(|end| end.saturating_duration_since(now));
                    return Err(XeroError::RateLimited { retry_after, problem: "day".into() });
                }
                if w.started.is_some_and(|s| now >= s + self.config.window) {
                    w.started = None;
                    w.used = 0;
                }
                match w.paused_until.filter(|until| *until > now) {
                    Some(until) => until - now,
                    None if w.used < self.config.per_window => {
                        w.started.get_or_insert(now);
                        w.used += 1;
                        w.day_ends.get_or_insert(now + self.config.day);
                        w.day_used += 1;
                        return Ok(permit);
                    }
                    None => w
                        .started
                        .map_or(self.config.window, |s| (s + self.config.window).saturating_duration_since(now)),
                }
            };
            tokio::time::sleep(wait).await;
        }
    }

    /// Reads `X-MinLimit-Remaining` / `X-DayLimit-Remaining` from an answer. When the minute is used up,
    /// pauses the tenant until our window ends (Xero's windows are fixed and open at the first call); the
    /// day's count is raised to what Xero says is spent.
    pub(crate) fn observe(&self, headers: &HeaderMap) {
        let minute = header_u32(headers, "x-minlimit-remaining");
        let day = header_u32(headers, "x-daylimit-remaining");
        let mut w = self.lock();
        if let Some(day) = day {
            // Xero counts calls we did not make (other processes, other apps): never think we have more left.
            w.day_used = w.day_used.max(self.config.per_day.saturating_sub(day));
            if day == 0 {
                w.day_used = self.config.per_day;
                w.day_ends.get_or_insert(Instant::now() + self.config.day);
            }
        }
        let Some(minute) = minute else { return };
        w.minute_remaining = Some(minute);
        w.used = w.used.max(self.config.per_window.saturating_sub(minute));
        if minute == 0 {
            let now = Instant::now();
            let end = w.started.map_or(now + self.config.window, |s| s + self.config.window);
            w.paused_until = Some(w.paused_until.map_or(end, |p| p.max(end)));
        }
    }

    /// Holds every new call of this tenant for `wait` (a 429's `Retry-After`). Xero's window resets then,
    /// so ours starts afresh instead of waiting out a window we only guessed.
    pub(crate) fn pause(&self, wait: Duration) {
        let mut w = self.lock();
        w.paused_until = Some(Instant::now() + wait);
        w.started = None;
        w.used = 0;
    }

    /// Xero refused a call for the daily limit: no call until `retry_after` (when Xero's day resets, which
    /// then becomes ours), or the end of our day when it did not say.
    pub(crate) fn day_spent(&self, retry_after: Option<Duration>) {
        let mut w = self.lock();
        let now = Instant::now();
        w.day_used = self.config.per_day;
        w.day_ends = Some(match retry_after {
            Some(wait) => now + wait,
            None => w.day_ends.unwrap_or(now + self.config.day),
        });
    }

    pub(crate) fn status(&self) -> LimitStatus {
        let w = self.lock();
        let now = Instant::now();
        let resets_at =
            |end: Instant| TimeDelta::from_std(end.saturating_duration_since(now)).ok().map(|left| Utc::now() + left);
        LimitStatus {
            day_remaining: Some(self.config.per_day.saturating_sub(w.day_used)),
            minute_remaining: w.minute_remaining,
            day_limit: self.config.per_day,
            day_resets_at: w.day_ends.and_then(resets_at),
        }
    }
}

/// The app-wide quota (Xero: 10,000 calls a minute over all tenants), known only from
/// `X-AppMinLimit-Remaining`: when it reaches 0, every call waits for a window.
#[derive(Debug)]
pub(crate) struct AppGate {
    window: Duration,
    paused_until: Mutex<Option<Instant>>,
}

impl AppGate {
    pub(crate) fn new(window: Duration) -> Self {
        Self { window, paused_until: Mutex::new(None) }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Option<Instant>> {
        self.paused_until.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    pub(crate) async fn wait(&self) {
        let until = *self.lock();
        if let Some(until) = until.filter(|u| *u > Instant::now()) {
            tokio::time::sleep_until(until).await;
        }
    }

    /// An answer saying the app's minute is used up holds every call for a window (Xero's windows are fixed,
    /// and when this one opened is unknown).
    pub(crate) fn observe(&self, headers: &HeaderMap) {
        if header_u32(headers, "x-appminlimit-remaining") == Some(0) {
            let until = Instant::now() + self.window;
            let mut paused = self.lock();
            *paused = Some(paused.map_or(until, |p| p.max(until)));
        }
    }

    /// Holds every call for `wait` (a 429's `Retry-After`), which replaces the window guessed above.
    pub(crate) fn pause(&self, wait: Duration) {
        *self.lock() = Some(Instant::now() + wait);
    }
}

/// Which quota a 429's `X-Rate-Limit-Problem` names. Xero is observed sending `minute` and `day` only; what
/// the app-wide and in-flight limits send is unverified (fidelity-audit X5: `appminute`, `app-minute` and
/// others are seen in public code), so the value is read loosely.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum RateScope {
    /// The tenant's daily limit: not worth waiting for.
    Day,
    /// The app's quota over every tenant (anything mentioning the app).
    App,
    /// The tenant's minute or in-flight limit, or a value we do not know.
    Tenant,
}

impl RateScope {
    pub(crate) fn of(problem: &str) -> RateScope {
        let problem = problem.to_ascii_lowercase();
        if problem.contains("day") || problem.contains("daily") {
            RateScope::Day
        } else if problem.contains("app") {
            RateScope::App
        } else {
            RateScope::Tenant
        }
    }
}

pub(crate) fn header_u32(headers: &HeaderMap, name: &str) -> Option<u32> {
    headers.get(name)?.to_str().ok()?.trim().parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;
    use reqwest::header::HeaderValue;

    const WINDOW: Duration = Duration::from_millis(150);

    #[test]
    fn rate_limit_problems_are_read_loosely() {
        for app in ["appminute", "app-minute", "AppMinute", "app_minute", "APP MINUTE", "app"] {
            assert_eq!(RateScope::of(app), RateScope::App, "{app}");
        }
        for day in ["day", "Day", "DAILY", "app-day"] {
            assert_eq!(RateScope::of(day), RateScope::Day, "{day}");
        }
        for tenant in ["minute", "Minute", "concurrent", "Concurrent", "unknown", ""] {
            assert_eq!(RateScope::of(tenant), RateScope::Tenant, "{tenant}");
        }
    }

    #[tokio::test]
    async fn a_full_window_waits_for_the_next_one() {
        let limiter = TenantLimiter::new(LimiterConfig { per_window: 2, window: WINDOW, ..LimiterConfig::default() });
        let start = Instant::now();
        for _ in 0..3 {
            drop(limiter.acquire().await.expect("slot"));
        }
        assert!(start.elapsed() >= WINDOW, "the third call waits for the next window");
    }

    #[tokio::test]
    async fn zero_minute_remaining_pauses_until_the_window_ends() {
        let limiter = TenantLimiter::new(LimiterConfig { window: WINDOW, per_day: 5_000, ..LimiterConfig::default() });
        let start = Instant::now();
        drop(limiter.acquire().await.expect("slot"));
        let mut headers = HeaderMap::new();
        headers.insert("x-minlimit-remaining", HeaderValue::from_static("0"));
        headers.insert("x-daylimit-remaining", HeaderValue::from_static("4321"));
        limiter.observe(&headers);
        let status = limiter.status();
        assert_eq!((status.day_remaining, status.minute_remaining), (Some(4321), Some(0)));
        drop(limiter.acquire().await.expect("slot"));
        assert!(start.elapsed() >= WINDOW, "the next call waits for the window to end");
    }

    #[tokio::test]
    async fn the_day_is_never_overspent_and_xeros_count_corrects_ours() {
        let day = Duration::from_millis(400);
        let limiter = TenantLimiter::new(LimiterConfig { per_day: 3, day, ..LimiterConfig::default() });
        assert_eq!(limiter.status().day_resets_at, None, "no day opened yet");
        for _ in 0..2 {
            drop(limiter.acquire().await.expect("slot"));
        }
        let status = limiter.status();
        assert_eq!((status.day_remaining, status.day_limit), (Some(1), 3));
        let resets = status.day_resets_at.expect("the day opened");
        assert!(resets > Utc::now() && resets <= Utc::now() + TimeDelta::milliseconds(400), "{resets}");
        // Another process spent the last call: Xero says none are left.
        let mut headers = HeaderMap::new();
        headers.insert("x-daylimit-remaining", HeaderValue::from_static("0"));
        limiter.observe(&headers);
        match limiter.acquire().await {
            Err(XeroError::RateLimited { retry_after: Some(wait), problem }) => {
                assert_eq!(problem, "day");
                assert!(wait <= day, "{wait:?}");
            }
            other => panic!("expected the day to be spent, got {other:?}"),
        }
        tokio::time::sleep(day).await;
        drop(limiter.acquire().await.expect("a new day"));
        assert_eq!(limiter.status().day_remaining, Some(2));

        // A daily 429 says when Xero's day ends: that becomes ours.
        limiter.day_spent(Some(Duration::from_millis(100)));
        assert!(matches!(limiter.acquire().await, Err(XeroError::RateLimited { .. })));
        tokio::time::sleep(Duration::from_millis(120)).await;
        drop(limiter.acquire().await.expect("Xero's day reset"));
    }

    #[tokio::test]
    async fn an_exhausted_app_quota_holds_every_call() {
        let gate = AppGate::new(WINDOW);
        let mut headers = HeaderMap::new();
        headers.insert("x-appminlimit-remaining", HeaderValue::from_static("3"));
        gate.observe(&headers);
        let start = Instant::now();
        gate.wait().await;
        assert!(start.elapsed() < WINDOW, "quota left: no wait");
        headers.insert("x-appminlimit-remaining", HeaderValue::from_static("0"));
        gate.observe(&headers);
        gate.wait().await;
        assert!(start.elapsed() >= WINDOW);

        // A 429's Retry-After says when Xero's window really ends: it replaces the guess.
        let gate = AppGate::new(Duration::from_secs(3600));
        gate.observe(&headers);
        gate.pause(Duration::from_millis(50));
        let start = Instant::now();
        gate.wait().await;
        let waited = start.elapsed();
        assert!(waited >= Duration::from_millis(40) && waited < Duration::from_secs(5), "{waited:?}");
    }

    #[tokio::test]
    async fn retry_after_replaces_the_guessed_window() {
        let limiter =
            TenantLimiter::new(LimiterConfig { window: Duration::from_secs(3600), ..LimiterConfig::default() });
        let mut headers = HeaderMap::new();
        headers.insert("x-minlimit-remaining", HeaderValue::from_static("0"));
        drop(limiter.acquire().await.expect("slot"));
        limiter.observe(&headers);
        limiter.pause(Duration::from_millis(50));
        let start = Instant::now();
        drop(limiter.acquire().await.expect("slot"));
        let waited = start.elapsed();
        assert!(waited >= Duration::from_millis(50) && waited < Duration::from_secs(5), "{waited:?}");
    }
}
