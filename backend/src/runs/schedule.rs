//! When an organisation's scheduled runs fall: every N hours, at an offset hashed from its tenant id (as
//! Fivetran staggers its syncs), so many deployments do not all call Xero on the hour. Every process ticks
//! and offers the current slot's run; the `sync_runs_one_per_slot` index keeps one. Only the current slot
//! is offered, so slots missed while the service was down run once, not once each.

use chrono::{DateTime, Utc};
use sha2::{Digest, Sha256};

use crate::store::Schedule;

fn interval_ms(every_hours: u32, hour: std::time::Duration) -> i64 {
    let hour_ms = i64::try_from(hour.as_millis()).unwrap_or(i64::MAX).max(1);
    hour_ms.saturating_mul(i64::from(every_hours.max(1)))
}

/// The organisation's offset within an interval: the same tenant always gets the same one.
pub(crate) fn offset_ms(tenant_id: &str, interval_ms: i64) -> i64 {
    let digest = Sha256::digest(tenant_id.to_ascii_lowercase().as_bytes());
    let mut bytes = [0_u8; 8];
    bytes.copy_from_slice(&digest[..8]);
    let hash = u64::from_be_bytes(bytes);
    i64::try_from(hash % u64::try_from(interval_ms.max(1)).unwrap_or(1)).unwrap_or(0)
}

/// The start of the slot `now` falls in.
fn slot_start(now_ms: i64, interval: i64, offset: i64) -> i64 {
    (now_ms - offset).div_euclid(interval) * interval + offset
}

fn at(ms: i64) -> DateTime<Utc> {
    DateTime::from_timestamp_millis(ms).unwrap_or_default()
}

/// The slot to run now, if any: the current one, unless it started before the schedule was turned on.
/// `hour` is an hour (shorter only in tests, against simulators on a fast clock).
pub(crate) fn due_slot(schedule: &Schedule, now: DateTime<Utc>, hour: std::time::Duration) -> Option<DateTime<Utc>> {
    if !schedule.enabled {
        return None;
    }
    let interval = interval_ms(schedule.every_hours, hour);
    let start = slot_start(now.timestamp_millis(), interval, offset_ms(&schedule.tenant_id, interval));
    (start >= schedule.enabled_at.timestamp_millis()).then(|| at(start))
}

/// The start of the next slot after the one `now` falls in.
pub(crate) fn next_slot(schedule: &Schedule, now: DateTime<Utc>, hour: std::time::Duration) -> Option<DateTime<Utc>> {
    if !schedule.enabled {
        return None;
    }
    let interval = interval_ms(schedule.every_hours, hour);
    let current = slot_start(now.timestamp_millis(), interval, offset_ms(&schedule.tenant_id, interval));
    Some(at(current + interval))
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use chrono::TimeDelta;

    use super::*;

    const HOUR: Duration = Duration::from_secs(3600);

    fn schedule(tenant: &str, every_hours: u32, enabled_at: DateTime<Utc>) -> Schedule {
        Schedule {
            tenant_id: tenant.into(),
            enabled: true,
            every_hours,
            enabled_at,
            updated_at: enabled_at,
            updated_by: "admin".into(),
        }
    }

    fn time(text: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(text).expect("time").to_utc()
    }

    #[test]
    fn offsets_are_stable_per_tenant_and_spread() {
        let interval = interval_ms(4, HOUR);
        let a = offset_ms("tenant-a", interval);
        assert_eq!(a, offset_ms("TENANT-A", interval), "tenant ids compare ignoring case");
        assert!((0..interval).contains(&a));
        let offsets: std::collections::HashSet<i64> =
            (0..50).map(|i| offset_ms(&format!("tenant-{i}"), interval) / 60_000).collect();
        assert!(offsets.len() > 40, "50 tenants land on different minutes: {}", offsets.len());
    }

    #[test]
    fn the_slot_under_way_when_turned_on_does_not_run_but_the_next_does_once() {
        let on = time("2026-11-26T10:05:00Z");
        let s = schedule("tenant-a", 4, on);
        let interval = interval_ms(4, HOUR);
        let offset = offset_ms("tenant-a", interval);
        let current = slot_start(on.timestamp_millis(), interval, offset);
        assert!(current <= on.timestamp_millis());
        assert_eq!(due_slot(&s, on, HOUR), None, "the slot under way started before");
        let next = next_slot(&s, on, HOUR).expect("on");
        assert_eq!(next.timestamp_millis(), current + interval);
        // Down from before the next slot until long after it, and through the one after: one run, the last.
        let late = next + TimeDelta::hours(5);
        let due = due_slot(&s, late, HOUR).expect("due");
        assert_eq!(due.timestamp_millis(), current + 2 * interval);
        assert_eq!(due_slot(&s, due + TimeDelta::minutes(1), HOUR), Some(due), "the same slot all along");
        assert_eq!(due_slot(&Schedule { enabled: false, ..s.clone() }, late, HOUR), None);
    }
}
