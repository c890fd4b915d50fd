//! Simulated wall-clock time and the three date formats Xero uses: MS-JSON (`/Date(ms+0000)/`) in the
//! Accounting API, ISO 8601 without zone in `/connections`, and `MM/dd/yyyy HH:mm:ss` in 401 details.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use crate::Clock;

/// Milliseconds since the Unix epoch, in simulated time.
pub type EpochMs = i64;

/// Maps the simulated [`Clock`] onto the calendar: simulated time starts at the real time the sim started.
#[derive(Debug, Clone, Copy)]
pub struct SimTime {
    clock: Clock,
    origin_ms: EpochMs,
}

impl SimTime {
    pub fn new(clock: Clock) -> Self {
        let origin_ms = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map(|d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
            .unwrap_or(0);
        Self { clock, origin_ms }
    }

    /// Simulated time since start (for windows and expiries).
    pub fn now(&self) -> Duration {
        self.clock.now()
    }

    /// Simulated calendar time.
    pub fn epoch_ms(&self) -> EpochMs {
        self.at(self.now())
    }

    /// The calendar time of a simulated instant.
    pub fn at(&self, t: Duration) -> EpochMs {
        self.origin_ms.saturating_add(i64::try_from(t.as_millis()).unwrap_or(i64::MAX))
    }
}

/// `/Date(1551981476267+0000)/`, the form Xero uses for `UpdatedDateUTC`.
pub fn ms_date(ms: EpochMs) -> String {
    format!("/Date({ms}+0000)/")
}

/// `/Date(1552331874897)/`, the form of the envelope's `DateTimeUTC`.
pub fn ms_date_plain(ms: EpochMs) -> String {
    format!("/Date({ms})/")
}

/// `2019-12-07T18:46:19.5165400`, as `/connections` returns dates (UTC, no zone designator).
pub fn iso_connection(ms: EpochMs) -> String {
    let (y, mo, d, h, mi, s, milli) = civil(ms);
    format!("{y:04}-{mo:02}-{d:02}T{h:02}:{mi:02}:{s:02}.{milli:03}0000")
}

/// `11/26/2026 19:17:00`, as in Xero's `TokenExpired: token expired at …` detail.
pub fn us_datetime(ms: EpochMs) -> String {
    let (y, mo, d, h, mi, s, _) = civil(ms);
    format!("{mo:02}/{d:02}/{y:04} {h:02}:{mi:02}:{s:02}")
}

/// Parses the ISO 8601 forms clients send in `If-Modified-Since` (`2020-02-06T12:17:43.202-08:00`,
/// `2020-02-06T12:17:43Z`, `2020-02-06T12:17:43` = UTC, `2020-02-06`).
pub fn parse_iso(text: &str) -> Option<EpochMs> {
    let text = text.trim();
    let (date, rest) = text.split_at_checked(10)?;
    let mut parts = date.split('-');
    let y: i64 = parts.next()?.parse().ok()?;
    let mo: u32 = parts.next()?.parse().ok()?;
    let d: u32 = parts.next()?.parse().ok()?;
    if !(1..=12).contains(&mo) || !(1..=31).contains(&d) {
        return None;
    }
    let days = days_from_civil(y, mo, d);
    let mut ms = days * 86_400_000;
    let Some(time) = rest.strip_prefix(['T', ' ']) else {
        return rest.is_empty().then_some(ms);
    };
    // Split the zone designator off: `Z`, `+hh:mm`, `-hh:mm` or nothing (UTC).
    let (clock, offset_min) = if let Some(c) = time.strip_suffix(['Z', 'z']) {
        (c, 0)
    } else if let Some(pos) = time.rfind(['+', '-']) {
        let (c, zone) = time.split_at(pos);
        let sign = if zone.starts_with('-') { -1 } else { 1 };
        let zone = zone[1..].replace(':', "");
        let hours: i64 = zone.get(..2)?.parse().ok()?;
        let minutes: i64 = zone.get(2..).filter(|m| !m.is_empty()).map_or(Some(0), |m| m.parse().ok())?;
        (c, sign * (hours * 60 + minutes))
    } else {
        (time, 0)
    };
    let (hms, fraction) = clock.split_once('.').unwrap_or((clock, ""));
    let mut fields = hms.split(':');
    let h: i64 = fields.next()?.parse().ok()?;
    let mi: i64 = fields.next()?.parse().ok()?;
    let s: i64 = fields.next().map_or(Some(0), |s| s.parse().ok())?;
    if h > 23 || mi > 59 || s > 60 {
        return None;
    }
    let milli: i64 = if fraction.is_empty() {
        0
    } else {
        let digits: String = fraction.chars().chain("000".chars()).take(3).collect();
        digits.parse().ok()?
    };
    ms += ((h * 60 + mi - offset_min) * 60 + s) * 1000 + milli;
    Some(ms)
}

fn civil(ms: EpochMs) -> (i64, u32, u32, i64, i64, i64, i64) {
    let days = ms.div_euclid(86_400_000);
    let in_day = ms.rem_euclid(86_400_000);
    let (y, mo, d) = civil_from_days(days);
    (y, mo, d, in_day / 3_600_000, in_day / 60_000 % 60, in_day / 1000 % 60, in_day % 1000)
}

/// Howard Hinnant's `days_from_civil`.
fn days_from_civil(y: i64, m: u32, d: u32) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let m = i64::from(m);
    let doy = (153 * (if m > 2 { m - 3 } else { m + 9 }) + 2) / 5 + i64::from(d) - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// Howard Hinnant's `civil_from_days`.
fn civil_from_days(z: i64) -> (i64, u32, u32) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = u32::try_from(doy - (153 * mp + 2) / 5 + 1).unwrap_or(1);
    let m = u32::try_from(if mp < 10 { mp + 3 } else { mp - 9 }).unwrap_or(1);
    let y = yoe + era * 400 + i64::from(m <= 2);
    (y, m, d)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats_and_parses_round_trip() {
        let ms = 1_575_744_379_516; // 2019-12-07T18:46:19.516Z
        assert_eq!(iso_connection(ms), "2019-12-07T18:46:19.5160000");
        assert_eq!(us_datetime(ms), "12/07/2019 18:46:19");
        assert_eq!(parse_iso("2019-12-07T18:46:19.516Z"), Some(ms));
        assert_eq!(parse_iso("2019-12-07T10:46:19.516-08:00"), Some(ms));
        assert_eq!(parse_iso("2019-12-07"), Some(ms - ms % 86_400_000));
        assert_eq!(parse_iso("yesterday"), None);
        assert_eq!(ms_date(ms), "/Date(1575744379516+0000)/");
    }
}
