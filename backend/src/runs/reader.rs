//! Reading a run's products from Zoho, resumably.
//!
//! Products come sorted by `Modified_Time`, 200 a page, and are read as a keyset: every request asks for
//! the records modified since the position reached (minus a second, since the header has whole seconds and
//! Zoho's filter is "after"), page 1, and skips what was already handed out at that same second. Page
//! numbers are never carried across requests, because our own write-backs move records to the end of the
//! order while we read (their `Modified_Time` becomes "now"): an offset would skip as many records as were
//! written back. Those echoes are not read again in the same run: from the first write-back on, the run
//! stops at its `Modified_Time` (`stop_at`, Zoho's clock), and the next run reads them (and finds them
//! unchanged). A run over explicit ids reads them one by one.
//!
//! The position committed with each batch is the [`Checkpoint`]: a crashed or paused run reads on from it.

use std::collections::{HashSet, VecDeque};

use chrono::{DateTime, FixedOffset, TimeDelta, Utc};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use shared::FieldMap;

use tokio::task::JoinHandle;

use crate::zoho::{PageRef, ProductsPage, ZohoClient, ZohoError};

/// Where a run's reading stands, committed with each batch (`sync_runs.checkpoint`).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub(crate) struct Checkpoint {
    /// The last record committed, in reading order.
    pub(crate) position: Option<Position>,
    /// The ids committed whose `Modified_Time` is the position's (read again on resume, and skipped).
    pub(crate) at_position: Vec<String>,
    /// Explicit ids: how many are committed.
    pub(crate) next_index: usize,
    /// The earliest `Modified_Time` (ms) our write-backs gave a record in this run: the reading stops there.
    pub(crate) stop_at: Option<i64>,
    /// The latest `Modified_Time` (ms) read: where the organisation's cursor moves when the run ends.
    pub(crate) max_seen: Option<i64>,
    /// The earliest `Modified_Time` (ms) of a product that failed in a way the next run should retry
    /// (the cursor stays before it).
    pub(crate) hold_back: Option<i64>,
    /// The next product's reading order (`sync_run_products.seq`).
    pub(crate) next_seq: i64,
    /// Xero batches sent so far (each attempt gets its own Idempotency-Key from it).
    pub(crate) batches: u64,
    /// Pauses in a row for a service that did not answer (the run fails after too many).
    pub(crate) error_pauses: u32,
    /// The reading reached its end; what is left is to write back and finish.
    pub(crate) read_done: bool,
}

/// A record's place in the reading order: its `Modified_Time` (ms) and id.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct Position {
    pub(crate) modified_ms: i64,
    pub(crate) id: String,
}

impl Checkpoint {
    pub(crate) fn from_json(value: &Value) -> Checkpoint {
        serde_json::from_value(value.clone()).unwrap_or_default()
    }

    pub(crate) fn to_json(&self) -> Value {
        serde_json::to_value(self).unwrap_or_default()
    }

    /// Moves the committed position past `read` (records in reading order).
    pub(crate) fn advance(&mut self, read: &[ReadPlace]) {
        for place in read {
            match place {
                ReadPlace::Keyset(position) => {
                    if self.position.as_ref().is_some_and(|p| p.modified_ms == position.modified_ms) {
                        self.at_position.push(position.id.clone());
                    } else {
                        self.at_position = vec![position.id.clone()];
                    }
                    self.position = Some(position.clone());
                    self.max_seen = Some(self.max_seen.map_or(position.modified_ms, |m| m.max(position.modified_ms)));
                }
                ReadPlace::Index(index) => self.next_index = self.next_index.max(index + 1),
            }
        }
    }
}

/// Where a record handed out sits, to advance the checkpoint once it is committed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum ReadPlace {
    Keyset(Position),
    Index(usize),
}

/// One record handed out.
#[derive(Debug, Clone)]
pub(crate) struct Read {
    pub(crate) place: ReadPlace,
    pub(crate) record: Fetched,
}

#[derive(Debug, Clone)]
pub(crate) enum Fetched {
    Record(Map<String, Value>),
    /// An explicit id the CRM no longer has.
    Missing(String),
}

/// Which products to read.
#[derive(Debug, Clone)]
pub(crate) enum Source {
    /// Modified after this time (every product when `None`).
    Since(Option<DateTime<Utc>>),
    Ids(Vec<String>),
}

pub(crate) struct Reader {
    zoho: ZohoClient,
    fields: Vec<String>,
    source: Source,
    /// The last record put in the buffer, and the ids put there at its second: where the next page starts
    /// (ahead of the records handed out, and further ahead of the committed checkpoint).
    fetch_position: Option<Position>,
    fetch_at_position: HashSet<String>,
    next_index: usize,
    stop_at: Option<i64>,
    buffer: VecDeque<Read>,
    /// The next page, read ahead while the buffer is used, so Zoho's answer time overlaps Xero's.
    ahead: Option<JoinHandle<Result<Ahead, ZohoError>>>,
    /// The listing's last page is in the buffer.
    ending: bool,
    exhausted: bool,
    /// Calls made and not yet counted by the run.
    calls: u64,
    /// Records Zoho sent that were not objects or had no readable id or time, skipped (for the run's log).
    pub(crate) unreadable: Vec<String>,
}

/// A page read ahead, with how it was asked for.
struct Ahead {
    since: Option<DateTime<FixedOffset>>,
    page: PageRef,
    result: ProductsPage,
}

/// `Modified_Time` of a record as milliseconds.
pub(crate) fn modified_ms(record: &Map<String, Value>) -> Option<i64> {
    let text = record.get(shared::fields::MODIFIED_TIME)?.as_str()?;
    DateTime::parse_from_rfc3339(text).ok().map(|t| t.timestamp_millis())
}

fn record_id(record: &Map<String, Value>) -> Option<String> {
    match record.get(shared::fields::ID)? {
        Value::String(id) if !id.trim().is_empty() => Some(id.clone()),
        Value::Number(n) if n.is_u64() => Some(n.to_string()),
        _ => None,
    }
}

fn header_time(ms: i64) -> Option<DateTime<FixedOffset>> {
    DateTime::from_timestamp_millis(ms).map(|t| t.fixed_offset())
}

impl Drop for Reader {
    fn drop(&mut self) {
        if let Some(ahead) = self.ahead.take() {
            ahead.abort();
        }
    }
}

impl Reader {
    pub(crate) fn new(zoho: ZohoClient, fields: &FieldMap, source: Source, checkpoint: &Checkpoint) -> Reader {
        let fetch_at_position = checkpoint.at_position.iter().cloned().collect();
        Reader {
            zoho,
            fields: fields.read_fields().into_iter().map(str::to_owned).collect(),
            source,
            fetch_position: checkpoint.position.clone(),
            fetch_at_position,
            next_index: checkpoint.next_index,
            stop_at: checkpoint.stop_at,
            buffer: VecDeque::new(),
            ahead: None,
            ending: false,
            exhausted: checkpoint.read_done,
            calls: 0,
            unreadable: Vec::new(),
        }
    }

    /// Records from `modified_ms` on are left for the next run (our write-back gave a record that time).
    pub(crate) fn stop_at(&mut self, modified_ms: i64) {
        self.stop_at = Some(self.stop_at.map_or(modified_ms, |s| s.min(modified_ms)));
    }

    /// Zoho calls made since the last call of this.
    pub(crate) fn take_calls(&mut self) -> u64 {
        std::mem::take(&mut self.calls)
    }

    /// The next record, `None` at the end.
    pub(crate) async fn next(&mut self) -> Result<Option<Read>, ZohoError> {
        loop {
            if let Some(read) = self.buffer.pop_front() {
                if let ReadPlace::Keyset(position) = &read.place
                    && self.stop_at.is_some_and(|stop| position.modified_ms >= stop)
                {
                    // Sorted by time: everything after is at or past the stop too.
                    self.buffer.clear();
                    self.exhausted = true;
                    if let Some(ahead) = self.ahead.take() {
                        ahead.abort();
                    }
                    return Ok(None);
                }
                return Ok(Some(read));
            }
            if self.exhausted || self.ending {
                self.exhausted = true;
                return Ok(None);
            }
            match self.source.clone() {
                Source::Ids(ids) => self.fetch_id(&ids).await?,
                Source::Since(since) => self.fetch_page(since).await?,
            }
        }
    }

    async fn fetch_id(&mut self, ids: &[String]) -> Result<(), ZohoError> {
        let Some(id) = ids.get(self.next_index) else {
            self.exhausted = true;
            return Ok(());
        };
        let fields: Vec<&str> = self.fields.iter().map(String::as_str).collect();
        self.calls += 1;
        let record = self.zoho.get_product(id, &fields).await?;
        let place = ReadPlace::Index(self.next_index);
        self.next_index += 1;
        let record = match record {
            Some(record) => Fetched::Record(record),
            None => Fetched::Missing(id.clone()),
        };
        self.buffer.push_back(Read { place, record });
        Ok(())
    }

    /// Where the next page starts: the records modified since the last one put in the buffer (a second
    /// before, since the header has whole seconds and Zoho's filter is "after"), within the window.
    fn since(&self, window_since: Option<DateTime<Utc>>) -> Option<DateTime<FixedOffset>> {
        let from_position = self.fetch_position.as_ref().and_then(|p| header_time(p.modified_ms - 1000));
        match (window_since.map(|t| t.fixed_offset()), from_position) {
            (Some(a), Some(b)) => Some(a.max(b)),
            (a, b) => a.or(b),
        }
    }

    fn read_ahead(&mut self, since: Option<DateTime<FixedOffset>>, page: PageRef) {
        let zoho = self.zoho.clone();
        let fields = self.fields.clone();
        self.calls += 1;
        self.ahead = Some(tokio::spawn(async move {
            let names: Vec<&str> = fields.iter().map(String::as_str).collect();
            let result = zoho.products_page(since, &names, &page).await?;
            Ok(Ahead { since, page, result })
        }));
    }

    /// Fills the buffer with the next records: the page read ahead, or page 1 from the position; the
    /// following pages of the same listing only while a page brings nothing new (more than 200 records at
    /// one second). Then reads the next page ahead.
    async fn fetch_page(&mut self, window_since: Option<DateTime<Utc>>) -> Result<(), ZohoError> {
        if self.ahead.is_none() {
            self.read_ahead(self.since(window_since), PageRef::FIRST);
        }
        loop {
            let Some(task) = self.ahead.take() else { return Ok(()) };
            let Ahead { since, page, result } = task.await.unwrap_or_else(|error| {
                Err(ZohoError::Unavailable(format!("reading a page of products failed: {error}")))
            })?;
            let next = result.next_page(&page)?;
            let mut fresh = 0;
            for record in result.records {
                let (Some(id), Some(ms)) = (record_id(&record), modified_ms(&record)) else {
                    self.unreadable.push(format!(
                        "A record without a readable id or Modified_Time was skipped ({}).",
                        record_id(&record).unwrap_or_else(|| "no id".into())
                    ));
                    continue;
                };
                if !self.is_new(ms, &id) {
                    continue;
                }
                fresh += 1;
                if self.fetch_position.as_ref().is_some_and(|p| p.modified_ms == ms) {
                    self.fetch_at_position.insert(id.clone());
                } else {
                    self.fetch_at_position = HashSet::from([id.clone()]);
                }
                let position = Position { modified_ms: ms, id };
                self.fetch_position = Some(position.clone());
                self.buffer.push_back(Read { place: ReadPlace::Keyset(position), record: Fetched::Record(record) });
            }
            match next {
                None => {
                    self.exhausted_after_buffer();
                    return Ok(());
                }
                // Nothing new on this page: the next page of the same listing.
                Some(next) if fresh == 0 => self.read_ahead(since, next),
                Some(_) => {
                    self.read_ahead(self.since(window_since), PageRef::FIRST);
                    return Ok(());
                }
            }
        }
    }

    /// The listing ended: what is in the buffer is the last of it (a record saved from now on is the next
    /// run's, since its `Modified_Time` is past this run's cursor).
    fn exhausted_after_buffer(&mut self) {
        self.ending = true;
    }

    fn is_new(&self, ms: i64, id: &str) -> bool {
        match &self.fetch_position {
            None => true,
            Some(p) if ms > p.modified_ms => true,
            Some(p) if ms == p.modified_ms => !self.fetch_at_position.contains(id),
            Some(_) => false,
        }
    }
}

/// The time a window starts reading from: `cursor − lookback` for "since the last run" (every product
/// before any run finished), `now − days` for "last N days".
pub(crate) fn since_for_days(days: u32, now: DateTime<Utc>) -> DateTime<Utc> {
    now - TimeDelta::days(i64::from(days))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn keyset(ms: i64, id: &str) -> ReadPlace {
        ReadPlace::Keyset(Position { modified_ms: ms, id: id.into() })
    }

    #[test]
    fn the_checkpoint_keeps_every_id_read_at_its_last_second() {
        let mut checkpoint = Checkpoint::default();
        checkpoint.advance(&[keyset(1000, "a"), keyset(2000, "b"), keyset(2000, "c")]);
        assert_eq!(checkpoint.position, Some(Position { modified_ms: 2000, id: "c".into() }));
        assert_eq!(checkpoint.at_position, ["b", "c"]);
        checkpoint.advance(&[keyset(2000, "d")]);
        assert_eq!(checkpoint.at_position, ["b", "c", "d"]);
        checkpoint.advance(&[keyset(3000, "e")]);
        assert_eq!((checkpoint.at_position.len(), checkpoint.max_seen), (1, Some(3000)));
        checkpoint.advance(&[ReadPlace::Index(4)]);
        assert_eq!(checkpoint.next_index, 5);
        let round_trip = Checkpoint::from_json(&checkpoint.to_json());
        assert_eq!(round_trip, checkpoint);
        assert_eq!(Checkpoint::from_json(&serde_json::json!({})), Checkpoint::default(), "a new run's `{{}}`");
    }
}
