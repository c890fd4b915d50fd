-- Bulk and scheduled runs (issue 12): durable rows of our own, so a run's checkpoint commits in the same
-- transaction as that batch's item links and log rows. Times are Unix milliseconds (UTC).
--
-- A run belongs to one Xero organisation (tenant). It is claimed by a worker with a lease (owner, expiry,
-- heartbeat) and a fence: every claim adds one to `fence`, and every write of the run is conditional on the
-- fence it claimed with, in the same transaction, so a worker that lost its lease can never write again.
CREATE TABLE sync_runs (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    tenant_id TEXT NOT NULL,
    trigger TEXT NOT NULL CHECK (trigger IN ('admin', 'schedule', 'cli')),
    actor TEXT NOT NULL,
    window_kind TEXT NOT NULL CHECK (window_kind IN ('since_last_run', 'last_days', 'all', 'products')),
    window_days INTEGER CHECK ((window_kind = 'last_days') = (window_days IS NOT NULL)),
    -- JSON array of CRM product ids for window 'products' ("retry failed")
    product_ids TEXT CHECK ((window_kind = 'products') = (product_ids IS NOT NULL)),
    dry_run INTEGER NOT NULL CHECK (dry_run IN (0, 1)),
    state TEXT NOT NULL
        CHECK (state IN ('queued', 'running', 'paused', 'succeeded', 'partial', 'failed', 'cancelled')),
    -- why it is paused, failed or cancelled, in words
    message TEXT,
    -- a paused run is taken up again from this time on
    resume_at INTEGER,
    cancel_requested INTEGER NOT NULL DEFAULT 0 CHECK (cancel_requested IN (0, 1)),
    lease_owner TEXT,
    lease_expires_at INTEGER,
    heartbeat_at INTEGER,
    fence INTEGER NOT NULL DEFAULT 0,
    -- the Modified_Time the run reads after (the window's start minus the lookback), fixed at the first claim;
    -- NULL reads every product
    window_since INTEGER,
    -- where the reading stands (JSON, see backend/src/runs/reader.rs), committed with each batch
    checkpoint TEXT NOT NULL DEFAULT '{}',
    read_count INTEGER NOT NULL DEFAULT 0,
    not_for_xero INTEGER NOT NULL DEFAULT 0,
    unchanged INTEGER NOT NULL DEFAULT 0,
    kept INTEGER NOT NULL DEFAULT 0,
    refused INTEGER NOT NULL DEFAULT 0,
    created INTEGER NOT NULL DEFAULT 0,
    updated INTEGER NOT NULL DEFAULT 0,
    failed INTEGER NOT NULL DEFAULT 0,
    xero_calls INTEGER NOT NULL DEFAULT 0,
    zoho_calls INTEGER NOT NULL DEFAULT 0,
    -- a dry run's estimate (JSON)
    estimate TEXT,
    -- the schedule slot (its start time) a scheduled run was created for
    schedule_slot INTEGER CHECK ((trigger = 'schedule') = (schedule_slot IS NOT NULL)),
    created_at INTEGER NOT NULL,
    started_at INTEGER,
    finished_at INTEGER,
    updated_at INTEGER NOT NULL,
    CHECK ((state = 'running') = (lease_owner IS NOT NULL)),
    CHECK ((lease_owner IS NULL) = (lease_expires_at IS NULL))
) STRICT;
-- At most one active run per organisation, whoever starts it (Nango's index; sync-engines.md §1.5).
CREATE UNIQUE INDEX sync_runs_one_active ON sync_runs (tenant_id) WHERE state IN ('queued', 'running', 'paused');
-- One run per schedule slot, however many processes tick.
CREATE UNIQUE INDEX sync_runs_one_per_slot ON sync_runs (tenant_id, schedule_slot) WHERE schedule_slot IS NOT NULL;
CREATE INDEX sync_runs_by_tenant ON sync_runs (tenant_id, id);

-- What a run did with each product (for the portal's run page, "retry failed" and dry runs).
CREATE TABLE sync_run_products (
    run_id INTEGER NOT NULL REFERENCES sync_runs (id) ON DELETE CASCADE,
    product_id TEXT NOT NULL,
    -- order of reading within the run
    seq INTEGER NOT NULL,
    name TEXT,
    code TEXT,
    outcome TEXT NOT NULL
        CHECK (outcome IN ('not_for_xero', 'unchanged', 'kept', 'refused', 'created', 'updated', 'failed')),
    item_id TEXT,
    -- JSON array of {field, code, severity, message}: our rules' and Xero's issues
    issues TEXT NOT NULL DEFAULT '[]',
    -- what happened, when it is about no field (e.g. "the product no longer exists in the CRM")
    message TEXT,
    -- the write-back to the CRM record: 'pending', 'done', 'failed' (with writeback_error) or NULL (none needed)
    writeback TEXT CHECK (writeback IN ('pending', 'done', 'failed')),
    writeback_error TEXT,
    -- what was sent to Xero (JSON), if anything
    request TEXT,
    modified_time INTEGER,
    at INTEGER NOT NULL,
    PRIMARY KEY (run_id, product_id)
) STRICT;
CREATE INDEX sync_run_products_by_outcome ON sync_run_products (run_id, outcome, seq);

-- A run's own log: started, resumed from its checkpoint, paused and why, lease lost, finished.
CREATE TABLE sync_run_events (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    run_id INTEGER NOT NULL REFERENCES sync_runs (id) ON DELETE CASCADE,
    at INTEGER NOT NULL,
    level TEXT NOT NULL CHECK (level IN ('info', 'warning', 'error')),
    message TEXT NOT NULL
) STRICT;
CREATE INDEX sync_run_events_by_run ON sync_run_events (run_id, id);

-- Per organisation: every product modified up to `modified_until` (Zoho's Modified_Time) has been read by a
-- finished run; "since the last run" reads after it (minus a lookback).
CREATE TABLE sync_cursors (
    tenant_id TEXT PRIMARY KEY,
    modified_until INTEGER NOT NULL,
    run_id INTEGER NOT NULL,
    updated_at INTEGER NOT NULL
) STRICT;

-- The automatic sync of an organisation: off until turned on; slots every `every_hours`, shifted by
-- `offset_ms` (hashed from the tenant id) so deployments do not all start on the hour.
CREATE TABLE sync_schedules (
    tenant_id TEXT PRIMARY KEY,
    enabled INTEGER NOT NULL CHECK (enabled IN (0, 1)),
    every_hours INTEGER NOT NULL CHECK (every_hours IN (1, 2, 4, 6, 12, 24)),
    -- slots that started before this are not run (turning the schedule on does not start a run at once)
    enabled_at INTEGER NOT NULL,
    updated_at INTEGER NOT NULL,
    updated_by TEXT NOT NULL
) STRICT;
