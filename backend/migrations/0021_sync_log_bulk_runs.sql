-- The combined sync log also holds the product syncs of bulk runs: trigger 'cli' joins the others, and
-- `bulk_run_id` names the run (`run_id` stays the per-attempt id). SQLite cannot alter a CHECK constraint,
-- so the table is rebuilt with the same rows, columns (0020's included) and indexes. Numbered after 0020 so
-- that it runs after 0020's ALTERs on every database, also one that had 0020 before the bulk engine.
CREATE TABLE sync_log_new (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    run_id TEXT NOT NULL UNIQUE,
    product_id TEXT NOT NULL,
    tenant_id TEXT,
    started_at INTEGER NOT NULL,
    finished_at INTEGER,
    actor TEXT NOT NULL,
    trigger TEXT NOT NULL CHECK (trigger IN ('widget', 'admin', 'bulk', 'schedule', 'cli')),
    request TEXT,
    outcome TEXT NOT NULL
        CHECK (outcome IN ('running', 'created', 'updated', 'unchanged', 'refused', 'failed', 'interrupted')),
    item_id TEXT,
    messages TEXT NOT NULL DEFAULT '[]',
    product_name TEXT,
    product_code TEXT,
    response TEXT,
    bulk_run_id INTEGER REFERENCES sync_runs (id)
) STRICT;
INSERT INTO sync_log_new (id, run_id, product_id, tenant_id, started_at, finished_at, actor, trigger, request,
                          outcome, item_id, messages, product_name, product_code, response)
    SELECT id, run_id, product_id, tenant_id, started_at, finished_at, actor, trigger, request, outcome, item_id,
           messages, product_name, product_code, response
    FROM sync_log;
DROP TABLE sync_log;
ALTER TABLE sync_log_new RENAME TO sync_log;
CREATE INDEX sync_log_by_product ON sync_log (product_id, id);
CREATE INDEX sync_log_running ON sync_log (started_at) WHERE outcome = 'running';
CREATE INDEX sync_log_by_outcome ON sync_log (outcome, id);
CREATE INDEX sync_log_by_trigger ON sync_log (trigger, id);
CREATE INDEX sync_log_by_start ON sync_log (started_at, outcome);
CREATE INDEX sync_log_by_bulk_run ON sync_log (bulk_run_id, id) WHERE bulk_run_id IS NOT NULL;
