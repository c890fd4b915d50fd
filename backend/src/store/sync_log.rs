//! The sync log: one row per attempt, written "running" before anything is sent, so a crash leaves a
//! visible trace and the history shows what was sent and what came back. A run cut short by a shutdown
//! ends "interrupted"; one a crash left "running" is marked so at the next start, once it is older than
//! any sync can last (other processes sharing the database may still be running theirs).
//!
//! The admin pages read it newest first, filtered ([`LogFilter`]) and paged by keyset on the row id
//! ([`LogCursor`]), never by OFFSET, so a page costs the same on the thousandth page as on the first.

use chrono::{DateTime, Utc};
use serde::Serialize;
use sqlx::{QueryBuilder, Sqlite};

use super::{Store, StoreError, millis, optional_time, time};

/// What started a sync.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum SyncTrigger {
    Widget,
    Admin,
    /// A bulk run an admin started.
    Bulk,
    Schedule,
    /// A bulk run started by `xero-sync sync`.
    Cli,
}

/// How a sync ended; `Running` until [`Store::finish_sync`], `Interrupted` when it never could.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum SyncOutcome {
    Running,
    Created,
    Updated,
    Unchanged,
    Refused,
    Failed,
    Interrupted,
}

impl SyncTrigger {
    pub const ALL: [SyncTrigger; 5] =
        [SyncTrigger::Widget, SyncTrigger::Admin, SyncTrigger::Bulk, SyncTrigger::Schedule, SyncTrigger::Cli];

    pub fn as_str(self) -> &'static str {
        match self {
            SyncTrigger::Widget => "widget",
            SyncTrigger::Admin => "admin",
            SyncTrigger::Bulk => "bulk",
            SyncTrigger::Schedule => "schedule",
            SyncTrigger::Cli => "cli",
        }
    }

    pub fn parse(text: &str) -> Option<SyncTrigger> {
        Self::ALL.into_iter().find(|t| t.as_str() == text)
    }
}

impl SyncOutcome {
    pub const ALL: [SyncOutcome; 7] = [
        SyncOutcome::Running,
        SyncOutcome::Created,
        SyncOutcome::Updated,
        SyncOutcome::Unchanged,
        SyncOutcome::Refused,
        SyncOutcome::Failed,
        SyncOutcome::Interrupted,
    ];

    /// The outcomes an admin has to look at: nothing reached Xero, and syncing again needs a fix or a retry.
    pub const NEEDS_ATTENTION: [SyncOutcome; 3] = [SyncOutcome::Refused, SyncOutcome::Failed, SyncOutcome::Interrupted];

    pub fn as_str(self) -> &'static str {
        match self {
            SyncOutcome::Running => "running",
            SyncOutcome::Created => "created",
            SyncOutcome::Updated => "updated",
            SyncOutcome::Unchanged => "unchanged",
            SyncOutcome::Refused => "refused",
            SyncOutcome::Failed => "failed",
            SyncOutcome::Interrupted => "interrupted",
        }
    }

    pub fn parse(text: &str) -> Option<SyncOutcome> {
        Self::ALL.into_iter().find(|o| o.as_str() == text)
    }
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct SyncLogEntry {
    pub id: i64,
    /// The handle [`Store::begin_sync`] returned (a UUID).
    pub run_id: String,
    pub product_id: String,
    /// The product's name and code as the sync read them from the CRM ([`Store::record_sync_product`]);
    /// `None` when the record could not be read, or for rows older than the admin portal.
    pub product_name: Option<String>,
    pub product_code: Option<String>,
    /// `None` when no Xero organisation was connected.
    pub tenant_id: Option<String>,
    pub started_at: DateTime<Utc>,
    pub finished_at: Option<DateTime<Utc>>,
    /// Who: the CRM user, the admin, or the scheduler.
    pub actor: String,
    pub trigger: SyncTrigger,
    /// What was sent to Xero (never a secret). `None` in [`Store::log_export`]'s rows.
    pub request: Option<serde_json::Value>,
    /// What Xero answered to it; `None` when no call was made, and in [`Store::log_export`]'s rows.
    pub response: Option<serde_json::Value>,
    pub outcome: SyncOutcome,
    pub item_id: Option<String>,
    /// Xero's messages and our issues, in words.
    pub messages: Vec<String>,
    /// The bulk run this sync was part of (`None` for the button's syncs).
    pub bulk_run_id: Option<i64>,
}

impl SyncLogEntry {
    /// The product's name: as the sync read it, else as it was sent to Xero (rows logged before names were).
    pub fn product_name(&self) -> Option<&str> {
        self.product_name
            .as_deref()
            .or_else(|| self.request.as_ref()?.get("Name")?.as_str())
            .filter(|name| !name.trim().is_empty())
    }
}

/// Which rows of the log to show. Empty: every row.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct LogFilter {
    /// Part of the product's name or code (any case), or its CRM record id.
    pub product: Option<String>,
    /// Any of these outcomes; empty: any outcome.
    pub outcomes: Vec<SyncOutcome>,
    pub trigger: Option<SyncTrigger>,
    /// One run's rows ([`SyncLogEntry::run_id`]).
    pub run: Option<String>,
    /// One bulk run's rows ([`SyncLogEntry::bulk_run_id`]).
    pub bulk_run: Option<i64>,
    /// Started at or after.
    pub from: Option<DateTime<Utc>>,
    /// Started before.
    pub to: Option<DateTime<Utc>>,
}

/// Where a page of the log starts: keyset on the row id, newest first.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum LogCursor {
    /// The newest rows.
    #[default]
    Newest,
    /// The rows older than this id (the "older" link).
    Before(i64),
    /// The rows newer than this id (the "newer" link), still shown newest first.
    After(i64),
}

/// One page of the log, newest first, and where the neighbouring pages start.
#[derive(Debug, Clone, PartialEq)]
pub struct LogPage {
    pub entries: Vec<SyncLogEntry>,
    /// Pass as [`LogCursor::After`] for the newer page, when there is one.
    pub newer: Option<i64>,
    /// Pass as [`LogCursor::Before`] for the older page, when there is one.
    pub older: Option<i64>,
}

/// Today's (or any period's) syncs by outcome.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct OutcomeCounts {
    pub running: u64,
    pub created: u64,
    pub updated: u64,
    pub unchanged: u64,
    pub refused: u64,
    pub failed: u64,
    pub interrupted: u64,
}

impl OutcomeCounts {
    pub fn get(&self, outcome: SyncOutcome) -> u64 {
        match outcome {
            SyncOutcome::Running => self.running,
            SyncOutcome::Created => self.created,
            SyncOutcome::Updated => self.updated,
            SyncOutcome::Unchanged => self.unchanged,
            SyncOutcome::Refused => self.refused,
            SyncOutcome::Failed => self.failed,
            SyncOutcome::Interrupted => self.interrupted,
        }
    }

    fn slot(&mut self, outcome: SyncOutcome) -> &mut u64 {
        match outcome {
            SyncOutcome::Running => &mut self.running,
            SyncOutcome::Created => &mut self.created,
            SyncOutcome::Updated => &mut self.updated,
            SyncOutcome::Unchanged => &mut self.unchanged,
            SyncOutcome::Refused => &mut self.refused,
            SyncOutcome::Failed => &mut self.failed,
            SyncOutcome::Interrupted => &mut self.interrupted,
        }
    }

    pub fn total(&self) -> u64 {
        SyncOutcome::ALL.iter().map(|o| self.get(*o)).sum()
    }
}

type EntryRow = (
    i64,
    String,
    String,
    Option<String>,
    Option<String>,
    Option<String>,
    i64,
    Option<i64>,
    String,
    String,
    Option<String>,
    Option<String>,
    String,
    Option<String>,
    String,
    Option<i64>,
);

/// The columns of [`EntryRow`], as a literal so queries stay `&'static str`.
macro_rules! columns {
    () => {
        "id, run_id, product_id, product_name, product_code, tenant_id, started_at, finished_at, actor, trigger, \
         request, response, outcome, item_id, messages, bulk_run_id"
    };
}

/// [`columns!`] without the two bodies, for exports of many rows.
const SUMMARY_COLUMNS: &str = "id, run_id, product_id, product_name, product_code, tenant_id, started_at, \
    finished_at, actor, trigger, NULL, NULL, outcome, item_id, messages, bulk_run_id";

fn entry(row: EntryRow) -> Result<SyncLogEntry, StoreError> {
    let (
        id,
        run_id,
        product_id,
        product_name,
        product_code,
        tenant_id,
        started_at,
        finished_at,
        actor,
        trigger,
        request,
        response,
        outcome,
        item_id,
        messages,
        bulk_run_id,
    ) = row;
    let corrupt = |column: &'static str, reason: String| StoreError::Corrupt { column, reason };
    let json = |column: &'static str, text: Option<String>| {
        text.map(|text| serde_json::from_str(&text)).transpose().map_err(|e| corrupt(column, e.to_string()))
    };
    Ok(SyncLogEntry {
        id,
        run_id,
        product_id,
        product_name,
        product_code,
        tenant_id,
        started_at: time("sync_log.started_at", started_at)?,
        finished_at: optional_time("sync_log.finished_at", finished_at)?,
        actor,
        trigger: SyncTrigger::parse(&trigger)
            .ok_or_else(|| corrupt("sync_log.trigger", format!("unknown trigger {trigger:?}")))?,
        request: json("sync_log.request", request)?,
        response: json("sync_log.response", response)?,
        outcome: SyncOutcome::parse(&outcome)
            .ok_or_else(|| corrupt("sync_log.outcome", format!("unknown outcome {outcome:?}")))?,
        item_id,
        messages: serde_json::from_str(&messages).map_err(|e| corrupt("sync_log.messages", e.to_string()))?,
        bulk_run_id,
    })
}

/// `text` for a LIKE pattern matching it anywhere, with LIKE's own characters escaped (`ESCAPE '\'`).
fn contains_pattern(text: &str) -> String {
    let mut pattern = String::with_capacity(text.len() + 2);
    pattern.push('%');
    for c in text.chars() {
        if matches!(c, '%' | '_' | '\\') {
            pattern.push('\\');
        }
        pattern.push(c);
    }
    pattern.push('%');
    pattern
}

/// Appends ` AND …` for each condition of `filter` (the query already has a `WHERE`).
fn push_filter(query: &mut QueryBuilder<Sqlite>, filter: &LogFilter) {
    if let Some(product) = filter.product.as_deref().map(str::trim).filter(|p| !p.is_empty()) {
        if is_record_id(product) {
            // Through `sync_log_by_product`; a name or code is searched anywhere, which reads every row.
            query.push(" AND product_id = ").push_bind(product.to_owned());
        } else {
            let pattern = contains_pattern(product);
            query.push(" AND (product_id = ").push_bind(product.to_owned());
            query.push(" OR product_name LIKE ").push_bind(pattern.clone()).push(" ESCAPE '\\'");
            query.push(" OR product_code LIKE ").push_bind(pattern).push(" ESCAPE '\\')");
        }
    }
    if !filter.outcomes.is_empty() {
        query.push(" AND outcome IN (");
        let mut list = query.separated(", ");
        for outcome in &filter.outcomes {
            list.push_bind(outcome.as_str());
        }
        query.push(")");
    }
    if let Some(trigger) = filter.trigger {
        query.push(" AND trigger = ").push_bind(trigger.as_str());
    }
    if let Some(run) = &filter.run {
        query.push(" AND run_id = ").push_bind(run.clone());
    }
    if let Some(bulk_run) = filter.bulk_run {
        query.push(" AND bulk_run_id = ").push_bind(bulk_run);
    }
    // `+` keeps SQLite off `sync_log_by_start` here: a page is the newest matching rows, which a scan by id
    // from the newest finds and stops at; reading a month of the index and sorting it by id costs more.
    if let Some(from) = filter.from {
        query.push(" AND +started_at >= ").push_bind(millis(from));
    }
    if let Some(to) = filter.to {
        query.push(" AND +started_at < ").push_bind(millis(to));
    }
}

/// A Zoho record id (long digits) rather than part of a name or code.
fn is_record_id(text: &str) -> bool {
    text.len() >= 10 && text.bytes().all(|b| b.is_ascii_digit())
}

/// Whether a row matching `filter` lies beyond `id` (`>` newer, `<` older).
async fn exists_beyond(store: &Store, filter: &LogFilter, comparison: &str, id: i64) -> Result<bool, StoreError> {
    let mut query = QueryBuilder::<Sqlite>::new("SELECT EXISTS (SELECT 1 FROM sync_log WHERE id ");
    query.push(comparison).push(" ").push_bind(id);
    push_filter(&mut query, filter);
    query.push(")");
    let (exists,): (bool,) = query.build_query_as().fetch_one(&store.pool).await?;
    Ok(exists)
}

impl Store {
    /// Logs the start of a sync ("running") and returns its run id for [`Store::finish_sync`].
    pub async fn begin_sync(
        &self,
        product_id: &str,
        tenant_id: Option<&str>,
        actor: &str,
        trigger: SyncTrigger,
    ) -> Result<String, StoreError> {
        let run_id = uuid::Uuid::new_v4().to_string();
        sqlx::query(
            "INSERT INTO sync_log (run_id, product_id, tenant_id, started_at, actor, trigger, outcome)
             VALUES (?, ?, ?, ?, ?, ?, 'running')",
        )
        .bind(&run_id)
        .bind(product_id)
        .bind(tenant_id)
        .bind(millis(Utc::now()))
        .bind(actor)
        .bind(trigger.as_str())
        .execute(&self.pool)
        .await?;
        Ok(run_id)
    }

    /// Records the product's name and code once the sync has read the record, so the log names the product
    /// whatever happens next (a refusal, Xero's error, a crash).
    pub async fn record_sync_product(
        &self,
        run_id: &str,
        name: Option<&str>,
        code: Option<&str>,
    ) -> Result<(), StoreError> {
        sqlx::query("UPDATE sync_log SET product_name = ?, product_code = ? WHERE run_id = ?")
            .bind(name)
            .bind(code)
            .bind(run_id)
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    /// Records how a running sync ended: what was sent to Xero (`request`) and what Xero answered
    /// (`response`), each `None` when there was none. A run finishes once ([`StoreError::RunNotRunning`]
    /// otherwise).
    pub async fn finish_sync(
        &self,
        run_id: &str,
        outcome: SyncOutcome,
        item_id: Option<&str>,
        request: Option<&serde_json::Value>,
        response: Option<&serde_json::Value>,
        messages: &[String],
    ) -> Result<(), StoreError> {
        if outcome == SyncOutcome::Running {
            return Err(StoreError::InvalidArgument("a sync cannot finish as running".into()));
        }
        let messages = serde_json::to_string(messages).map_err(|e| StoreError::InvalidArgument(e.to_string()))?;
        let result = sqlx::query(
            "UPDATE sync_log SET outcome = ?, item_id = ?, request = ?, response = ?, messages = ?, finished_at = ?
             WHERE run_id = ? AND outcome = 'running'",
        )
        .bind(outcome.as_str())
        .bind(item_id)
        .bind(request.map(serde_json::Value::to_string))
        .bind(response.map(serde_json::Value::to_string))
        .bind(messages)
        .bind(millis(Utc::now()))
        .bind(run_id)
        .execute(&self.pool)
        .await?;
        if result.rows_affected() == 0 {
            return Err(StoreError::RunNotRunning(run_id.to_owned()));
        }
        Ok(())
    }

    /// Marks as interrupted the runs still `running` that started before `started_before`: a process that
    /// crashed left them so. Returns how many. Runs of other live processes are younger and stay.
    pub async fn interrupt_stale_runs(&self, started_before: DateTime<Utc>, message: &str) -> Result<u64, StoreError> {
        let messages = serde_json::to_string(&[message]).map_err(|e| StoreError::InvalidArgument(e.to_string()))?;
        let result = sqlx::query(
            "UPDATE sync_log SET outcome = 'interrupted', messages = ?, finished_at = ?
             WHERE outcome = 'running' AND started_at < ?",
        )
        .bind(messages)
        .bind(millis(Utc::now()))
        .bind(millis(started_before))
        .execute(&self.pool)
        .await?;
        Ok(result.rows_affected())
    }

    /// The runs still `running`, oldest first.
    pub async fn running_syncs(&self) -> Result<Vec<SyncLogEntry>, StoreError> {
        let rows: Vec<EntryRow> =
            sqlx::query_as(concat!("SELECT ", columns!(), " FROM sync_log WHERE outcome = 'running' ORDER BY id"))
                .fetch_all(&self.pool)
                .await?;
        rows.into_iter().map(entry).collect()
    }

    /// The product's syncs, newest first.
    pub async fn history(&self, product_id: &str, limit: u32) -> Result<Vec<SyncLogEntry>, StoreError> {
        let rows: Vec<EntryRow> = sqlx::query_as(concat!(
            "SELECT ",
            columns!(),
            " FROM sync_log WHERE product_id = ? ORDER BY id DESC LIMIT ?"
        ))
        .bind(product_id)
        .bind(i64::from(limit))
        .fetch_all(&self.pool)
        .await?;
        rows.into_iter().map(entry).collect()
    }

    /// Every product's syncs, newest first.
    pub async fn recent_log(&self, limit: u32) -> Result<Vec<SyncLogEntry>, StoreError> {
        let rows: Vec<EntryRow> =
            sqlx::query_as(concat!("SELECT ", columns!(), " FROM sync_log ORDER BY id DESC LIMIT ?"))
                .bind(i64::from(limit))
                .fetch_all(&self.pool)
                .await?;
        rows.into_iter().map(entry).collect()
    }

    /// One page of the rows `filter` selects, newest first, of at most `limit` rows from `cursor`.
    pub async fn log_page(&self, filter: &LogFilter, cursor: LogCursor, limit: u32) -> Result<LogPage, StoreError> {
        let limit = i64::from(limit.max(1));
        let mut query = QueryBuilder::<Sqlite>::new(concat!("SELECT ", columns!(), " FROM sync_log WHERE 1"));
        match cursor {
            LogCursor::Newest => {}
            LogCursor::Before(id) => {
                query.push(" AND id < ").push_bind(id);
            }
            LogCursor::After(id) => {
                query.push(" AND id > ").push_bind(id);
            }
        }
        push_filter(&mut query, filter);
        let ascending = matches!(cursor, LogCursor::After(_));
        query.push(if ascending { " ORDER BY id ASC LIMIT " } else { " ORDER BY id DESC LIMIT " });
        // One more than shown tells whether a further page exists in this direction.
        query.push_bind(limit + 1);
        let rows: Vec<EntryRow> = query.build_query_as().fetch_all(&self.pool).await?;
        let mut entries = rows.into_iter().map(entry).collect::<Result<Vec<_>, _>>()?;
        let more = entries.len() as i64 > limit;
        entries.truncate(limit as usize);
        if ascending {
            entries.reverse();
        }
        let (Some(newest), Some(oldest)) = (entries.first().map(|e| e.id), entries.last().map(|e| e.id)) else {
            return Ok(LogPage { entries, newer: None, older: None });
        };
        let (has_newer, has_older) = match cursor {
            LogCursor::Newest => (false, more),
            LogCursor::Before(_) => (exists_beyond(self, filter, ">", newest).await?, more),
            LogCursor::After(_) => (more, exists_beyond(self, filter, "<", oldest).await?),
        };
        Ok(LogPage { entries, newer: has_newer.then_some(newest), older: has_older.then_some(oldest) })
    }

    /// Up to `limit` rows `filter` selects older than `before` (from the newest when `None`), newest first,
    /// without the request and response bodies: the CSV export reads the log in such chunks.
    pub async fn log_export(
        &self,
        filter: &LogFilter,
        before: Option<i64>,
        limit: u32,
    ) -> Result<Vec<SyncLogEntry>, StoreError> {
        let mut query = QueryBuilder::<Sqlite>::new("SELECT ");
        query.push(SUMMARY_COLUMNS).push(" FROM sync_log WHERE 1");
        if let Some(before) = before {
            query.push(" AND id < ").push_bind(before);
        }
        push_filter(&mut query, filter);
        query.push(" ORDER BY id DESC LIMIT ").push_bind(i64::from(limit.max(1)));
        let rows: Vec<EntryRow> = query.build_query_as().fetch_all(&self.pool).await?;
        rows.into_iter().map(entry).collect()
    }

    /// One row by its id.
    pub async fn log_entry(&self, id: i64) -> Result<Option<SyncLogEntry>, StoreError> {
        let row: Option<EntryRow> = sqlx::query_as(concat!("SELECT ", columns!(), " FROM sync_log WHERE id = ?"))
            .bind(id)
            .fetch_optional(&self.pool)
            .await?;
        row.map(entry).transpose()
    }

    /// How many syncs started at or after `since`, by outcome.
    pub async fn outcome_counts(&self, since: DateTime<Utc>) -> Result<OutcomeCounts, StoreError> {
        let rows: Vec<(String, i64)> =
            // `+outcome`: grouping by the outcome index would read every row; the time index holds both.
            sqlx::query_as("SELECT outcome, count(*) FROM sync_log WHERE started_at >= ? GROUP BY +outcome")
                .bind(millis(since))
                .fetch_all(&self.pool)
                .await?;
        let mut counts = OutcomeCounts::default();
        for (outcome, count) in rows {
            let outcome = SyncOutcome::parse(&outcome).ok_or_else(|| StoreError::Corrupt {
                column: "sync_log.outcome",
                reason: format!("unknown outcome {outcome:?}"),
            })?;
            *counts.slot(outcome) = u64::try_from(count).unwrap_or_default();
        }
        Ok(counts)
    }

    /// Deletes the finished rows that started before `before`, at most `batch` per statement so the
    /// database is never locked for long; returns how many went. Rows still running are kept.
    pub async fn purge_log(&self, before: DateTime<Utc>, batch: u32) -> Result<u64, StoreError> {
        let mut purged = 0;
        loop {
            let result = sqlx::query(
                "DELETE FROM sync_log WHERE id IN
                 (SELECT id FROM sync_log WHERE started_at < ? AND outcome != 'running' LIMIT ?)",
            )
            .bind(millis(before))
            .bind(i64::from(batch.max(1)))
            .execute(&self.pool)
            .await?;
            purged += result.rows_affected();
            if result.rows_affected() < u64::from(batch.max(1)) {
                return Ok(purged);
            }
            // Let other writers (syncs) in between batches.
            tokio::task::yield_now().await;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn like_patterns_escape_likes_own_characters() {
        assert_eq!(contains_pattern("WM-100"), "%WM-100%");
        assert_eq!(contains_pattern("50%_off\\"), "%50\\%\\_off\\\\%");
    }

    #[test]
    fn names_and_outcomes_read_back() {
        for trigger in SyncTrigger::ALL {
            assert_eq!(SyncTrigger::parse(trigger.as_str()), Some(trigger));
        }
        for outcome in SyncOutcome::ALL {
            assert_eq!(SyncOutcome::parse(outcome.as_str()), Some(outcome));
        }
        assert_eq!(SyncOutcome::parse("Created"), None);
    }
}
