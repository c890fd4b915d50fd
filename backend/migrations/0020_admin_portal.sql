-- The admin portal (issue 13). Columns are added, never rebuilt, so this composes with the migrations
-- numbered before it whatever they do to the same tables.

-- The product as the sync read it from the CRM (the log names it, not a bare record id), and Xero's answer
-- to what was sent (`request`): JSON, NULL when no call to Xero was made.
ALTER TABLE sync_log ADD COLUMN product_name TEXT;
ALTER TABLE sync_log ADD COLUMN product_code TEXT;
ALTER TABLE sync_log ADD COLUMN response TEXT;
-- The log's filters, newest first (keyset on id): by outcome, by trigger, and by time (date range,
-- retention); with the outcome, the time index also answers the dashboard's counters by itself (without
-- it, SQLite counts through the outcome index and reads every row). BENCHMARKS.md measures each.
CREATE INDEX sync_log_by_outcome ON sync_log (outcome, id);
CREATE INDEX sync_log_by_trigger ON sync_log (trigger, id);
CREATE INDEX sync_log_by_start ON sync_log (started_at, outcome);

-- When a widget first opened a session with the current API key: proof that the CRM's Connection and
-- widget are set up (the dashboard's last set-up step). A new key starts it over (`set_api_key_hash`).
ALTER TABLE widget_api_key ADD COLUMN first_session_at INTEGER;
