//! Failed attempts per client, in a sliding window: the admin login and the widget API key both refuse a
//! client that failed too often lately, and only that client, so an attacker slows down themself and nobody
//! else. An attempt is reserved before it is checked (under the lock, so a parallel burst cannot all pass
//! the limit before the first failure is counted) and given back if it succeeds.
//!
//! Memory is bounded: at most [`MAX_CLIENTS`] clients are remembered, the stalest forgotten first. IPv6
//! clients count by their /64 network, since one host usually has a whole /64 to pick addresses from.

use std::collections::{HashMap, VecDeque};
use std::net::IpAddr;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::{Duration, Instant};

use crate::address::ClientAddr;

/// How many clients' failures are remembered at most (each holds at most `limit` instants).
const MAX_CLIENTS: usize = 10_000;

/// The unit that is throttled: an IPv4 address, or an IPv6 /64.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
struct ClientKey(IpAddr);

impl From<ClientAddr> for ClientKey {
    fn from(ClientAddr(address): ClientAddr) -> Self {
        match address.to_canonical() {
            IpAddr::V6(v6) => {
                let network = u128::from(v6) & !((1u128 << 64) - 1);
                ClientKey(IpAddr::V6(network.into()))
            }
            v4 => ClientKey(v4),
        }
    }
}

/// At most `limit` failures per client within `window`.
#[derive(Debug)]
pub(crate) struct Throttle {
    limit: usize,
    window: Duration,
    clients: Mutex<HashMap<ClientKey, Record>>,
}

#[derive(Debug, Default)]
struct Record {
    /// Failures (and reservations) within the window, oldest first.
    failures: VecDeque<Instant>,
    /// Whether a refusal was reported since the client last got in: one log line per lock, not per request.
    refusal_reported: bool,
}

/// Why an attempt was not let in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Refused {
    /// How long until the client may try again.
    pub(crate) wait: Duration,
    /// The first refusal since the client last got in (worth a log line; the ones after are not).
    pub(crate) first: bool,
}

impl Throttle {
    pub(crate) fn new(limit: usize, window: Duration) -> Arc<Self> {
        Arc::new(Self { limit: limit.max(1), window, clients: Mutex::new(HashMap::new()) })
    }

    fn clients(&self) -> MutexGuard<'_, HashMap<ClientKey, Record>> {
        self.clients.lock().unwrap_or_else(PoisonError::into_inner)
    }

    fn expire(&self, failures: &mut VecDeque<Instant>, now: Instant) {
        while failures.front().is_some_and(|t| now.saturating_duration_since(*t) >= self.window) {
            failures.pop_front();
        }
    }

    /// How long `client` stays refused, if it is.
    #[cfg(test)]
    fn locked_for(&self, client: ClientAddr, now: Instant) -> Option<Duration> {
        let mut clients = self.clients();
        let record = clients.get_mut(&client.into())?;
        self.expire(&mut record.failures, now);
        self.wait(&record.failures, now)
    }

    /// With `limit` failures in the window, the wait until the oldest of them ages out.
    fn wait(&self, failures: &VecDeque<Instant>, now: Instant) -> Option<Duration> {
        if failures.len() < self.limit {
            return None;
        }
        let oldest_counted = failures[failures.len() - self.limit];
        Some(self.window.saturating_sub(now.saturating_duration_since(oldest_counted)).max(Duration::from_secs(1)))
    }

    /// Counts an attempt of `client` as failed unless it is refused already. The attempt is counted from
    /// now; [`Reservation::give_back`] takes it back if it succeeds.
    pub(crate) fn reserve(self: &Arc<Self>, client: ClientAddr, now: Instant) -> Result<Reservation, Refused> {
        let key = ClientKey::from(client);
        let mut clients = self.clients();
        if !clients.contains_key(&key) && clients.len() >= MAX_CLIENTS {
            self.forget_stalest(&mut clients, now);
        }
        let record = clients.entry(key).or_default();
        self.expire(&mut record.failures, now);
        if let Some(wait) = self.wait(&record.failures, now) {
            let first = !record.refusal_reported;
            record.refusal_reported = true;
            return Err(Refused { wait, first });
        }
        record.refusal_reported = false;
        record.failures.push_back(now);
        Ok(Reservation { throttle: Arc::clone(self), key, at: now })
    }

    /// Makes room for one client: first those whose failures all aged out, else the one failing longest ago.
    fn forget_stalest(&self, clients: &mut HashMap<ClientKey, Record>, now: Instant) {
        clients.retain(|_, record| {
            record.failures.back().is_some_and(|t| now.saturating_duration_since(*t) < self.window)
        });
        if clients.len() >= MAX_CLIENTS
            && let Some(stalest) =
                clients.iter().min_by_key(|(_, record)| record.failures.back().copied()).map(|(k, _)| *k)
        {
            clients.remove(&stalest);
        }
    }

    #[cfg(test)]
    fn remembered(&self) -> usize {
        self.clients().len()
    }
}

/// An attempt counted as a failure until it is given back. Dropping it keeps it counted: an attempt that
/// was cut short (its client hung up mid-check) is not refunded.
#[derive(Debug)]
pub(crate) struct Reservation {
    throttle: Arc<Throttle>,
    key: ClientKey,
    at: Instant,
}

impl Reservation {
    /// The attempt succeeded, or never got checked: it no longer counts.
    pub(crate) fn give_back(self) {
        let mut clients = self.throttle.clients();
        if let Some(record) = clients.get_mut(&self.key) {
            if let Some(position) = record.failures.iter().rposition(|t| *t == self.at) {
                record.failures.remove(position);
            }
            if record.failures.is_empty() {
                clients.remove(&self.key);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn client(text: &str) -> ClientAddr {
        ClientAddr(text.parse().expect("ip"))
    }

    #[test]
    fn a_client_is_refused_after_the_limit_until_its_failures_age_out() {
        let throttle = Throttle::new(10, Duration::from_secs(60));
        let start = Instant::now();
        let pat = client("203.0.113.9");
        for i in 0..10 {
            assert!(throttle.reserve(pat, start + Duration::from_secs(i)).is_ok(), "attempt {i}");
        }
        let refused = throttle.reserve(pat, start + Duration::from_secs(10)).err();
        assert_eq!(refused, Some(Refused { wait: Duration::from_secs(50), first: true }));
        let again = throttle.reserve(pat, start + Duration::from_secs(11)).err();
        assert_eq!(again, Some(Refused { wait: Duration::from_secs(49), first: false }), "reported once");
        assert!(throttle.locked_for(pat, start + Duration::from_secs(59)).is_some());
        // The first failure ages out: one attempt more; the next lock is reported again.
        assert!(throttle.reserve(pat, start + Duration::from_secs(60)).is_ok());
        assert!(throttle.reserve(pat, start + Duration::from_secs(60)).is_err_and(|refused| refused.first));
    }

    #[test]
    fn failures_spread_over_more_than_a_minute_never_lock() {
        let throttle = Throttle::new(10, Duration::from_secs(60));
        let start = Instant::now();
        for i in 0..30 {
            let now = start + Duration::from_secs(i * 7);
            assert_eq!(throttle.locked_for(client("203.0.113.9"), now), None, "after {i} failures");
            throttle.reserve(client("203.0.113.9"), now).expect("reserved");
        }
    }

    #[test]
    fn only_the_failing_client_is_refused() {
        let throttle = Throttle::new(3, Duration::from_secs(60));
        let now = Instant::now();
        for _ in 0..3 {
            throttle.reserve(client("203.0.113.9"), now).expect("reserved");
        }
        assert!(throttle.reserve(client("203.0.113.9"), now).is_err());
        assert!(throttle.reserve(client("198.51.100.7"), now).is_ok(), "another client");
        // An IPv6 host counts by its /64: changing the last 64 bits does not escape.
        for i in 0..3 {
            throttle.reserve(client(&format!("2001:db8:1:2::{i}")), now).expect("reserved");
        }
        assert!(throttle.reserve(client("2001:db8:1:2:ffff::9"), now).is_err());
        assert!(throttle.reserve(client("2001:db8:1:3::1"), now).is_ok(), "another /64");
        // An IPv4 client seen through a dual-stack socket is the same client.
        assert!(throttle.reserve(client("::ffff:203.0.113.9"), now).is_err());
    }

    #[test]
    fn given_back_attempts_do_not_count_and_dropped_ones_do() {
        let throttle = Throttle::new(2, Duration::from_secs(60));
        let now = Instant::now();
        let pat = client("203.0.113.9");
        for _ in 0..5 {
            throttle.reserve(pat, now).expect("reserved").give_back();
        }
        assert_eq!(throttle.remembered(), 0, "a success leaves nothing behind");
        drop(throttle.reserve(pat, now).expect("reserved"));
        drop(throttle.reserve(pat, now).expect("reserved"));
        assert!(throttle.reserve(pat, now).is_err(), "dropped attempts stay counted");
    }

    #[test]
    fn a_parallel_burst_gets_exactly_the_limit() {
        let throttle = Throttle::new(10, Duration::from_secs(60));
        let now = Instant::now();
        let reserved = std::thread::scope(|scope| {
            let handles: Vec<_> =
                (0..100).map(|_| scope.spawn(|| throttle.reserve(client("203.0.113.9"), now).is_ok())).collect();
            handles.into_iter().filter_map(|h| h.join().ok()).filter(|reserved| *reserved).count()
        });
        assert_eq!(reserved, 10);
    }

    #[test]
    fn memory_stays_bounded_under_many_addresses() {
        let throttle = Throttle::new(10, Duration::from_secs(60));
        let start = Instant::now();
        for i in 0..(MAX_CLIENTS as u32 + 500) {
            let address = ClientAddr(IpAddr::V4((0x0A00_0000 + i).into()));
            throttle.reserve(address, start + Duration::from_millis(u64::from(i))).expect("reserved");
        }
        assert_eq!(throttle.remembered(), MAX_CLIENTS);
        // The newest clients are still throttled; the stalest were forgotten.
        let newest = ClientAddr(IpAddr::V4((0x0A00_0000 + MAX_CLIENTS as u32 + 499).into()));
        assert!(throttle.clients().contains_key(&newest.into()));
        assert!(!throttle.clients().contains_key(&ClientAddr(IpAddr::V4(0x0A00_0000.into())).into()));
    }
}
