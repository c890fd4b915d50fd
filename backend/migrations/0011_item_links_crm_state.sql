-- Echo-proof incremental runs: the CRM record's Modified_Time our own write-back produced (Zoho's answer),
-- and whether the write-back of ItemID, time and status is still owed to the CRM (the link is kept either
-- way; a pending write-back is retried by the next run).
ALTER TABLE item_links ADD COLUMN zoho_modified_time INTEGER;
ALTER TABLE item_links ADD COLUMN writeback_pending INTEGER NOT NULL DEFAULT 0;
CREATE INDEX item_links_writeback_pending ON item_links (tenant_id) WHERE writeback_pending = 1;
