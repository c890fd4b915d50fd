-- xero-sync's state. Times are Unix milliseconds (UTC). Every *_sealed column holds Cipher::seal output
-- (nonce || AES-256-GCM ciphertext || tag), bound to its column (and row where there are several), never
-- plaintext.

-- The consenting Xero user's token set: one row, kept when the tokens are cleared (NULLs) so `version`, the
-- compare-and-set guard for refreshes, only ever grows and a stale holder can never match it again.
CREATE TABLE xero_tokens (
    id INTEGER PRIMARY KEY CHECK (id = 1),
    access_token_sealed BLOB,
    refresh_token_sealed BLOB,
    access_expires_at INTEGER,
    -- the refresh token this one replaced, retried within Xero's 30-minute grace after a lost response
    previous_refresh_token_sealed BLOB,
    rotated_at INTEGER,
    version INTEGER NOT NULL,
    CHECK ((access_token_sealed IS NULL) = (refresh_token_sealed IS NULL)
        AND (access_token_sealed IS NULL) = (access_expires_at IS NULL))
) STRICT;

-- The Xero organisation (tenant) the service syncs to: one row.
CREATE TABLE xero_connection (
    id INTEGER PRIMARY KEY CHECK (id = 1),
    tenant_id TEXT NOT NULL,
    tenant_name TEXT NOT NULL,
    connection_id TEXT NOT NULL,
    status TEXT NOT NULL CHECK (status IN ('connected', 'reconnect_needed')),
    status_reason TEXT,
    updated_at INTEGER NOT NULL
) STRICT;

-- Tenants offered after a consent that reached several, until the admin picks one.
CREATE TABLE xero_pending_tenants (
    position INTEGER PRIMARY KEY,
    tenant_id TEXT NOT NULL UNIQUE,
    tenant_name TEXT NOT NULL,
    connection_id TEXT NOT NULL
) STRICT;

-- The Zoho grant (refresh tokens never rotate): one row.
CREATE TABLE zoho_connection (
    id INTEGER PRIMARY KEY CHECK (id = 1),
    refresh_token_sealed BLOB NOT NULL,
    api_domain TEXT NOT NULL,
    accounts_url TEXT NOT NULL,
    status TEXT NOT NULL CHECK (status IN ('connected', 'reconnect_needed')),
    status_reason TEXT,
    updated_at INTEGER NOT NULL
) STRICT;

-- CRM product -> Xero item, per tenant. One item belongs to one product.
CREATE TABLE item_links (
    product_id TEXT NOT NULL,
    tenant_id TEXT NOT NULL,
    item_id TEXT NOT NULL,
    code TEXT NOT NULL,
    payload_hash TEXT NOT NULL,
    synced_at INTEGER NOT NULL,
    PRIMARY KEY (product_id, tenant_id)
) STRICT;
CREATE UNIQUE INDEX item_links_by_item ON item_links (tenant_id, item_id);

-- One row per sync attempt; 'running' until finished (a crash leaves it so, visibly).
CREATE TABLE sync_log (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    run_id TEXT NOT NULL UNIQUE,
    product_id TEXT NOT NULL,
    tenant_id TEXT,
    started_at INTEGER NOT NULL,
    finished_at INTEGER,
    actor TEXT NOT NULL,
    trigger TEXT NOT NULL CHECK (trigger IN ('widget', 'admin', 'bulk', 'schedule')),
    request TEXT,
    outcome TEXT NOT NULL
        CHECK (outcome IN ('running', 'created', 'updated', 'unchanged', 'refused', 'failed')),
    item_id TEXT,
    messages TEXT NOT NULL DEFAULT '[]'
) STRICT;
CREATE INDEX sync_log_by_product ON sync_log (product_id, id);

-- SHA-256 of the API key Zoho's servers present for the widget: one row.
CREATE TABLE widget_api_key (
    id INTEGER PRIMARY KEY CHECK (id = 1),
    key_hash BLOB NOT NULL CHECK (length(key_hash) = 32),
    created_at INTEGER NOT NULL
) STRICT;

-- Admin sessions, by SHA-256 of the session id (a stolen database yields no usable cookie).
CREATE TABLE admin_sessions (
    id_hash BLOB PRIMARY KEY,
    csrf_token_sealed BLOB NOT NULL,
    created_at INTEGER NOT NULL,
    expires_at INTEGER NOT NULL
) STRICT;
CREATE INDEX admin_sessions_by_expiry ON admin_sessions (expires_at);

-- The Xero connect flow's `state` and PKCE verifier, single use.
CREATE TABLE oauth_states (
    state TEXT PRIMARY KEY,
    pkce_verifier_sealed BLOB NOT NULL,
    expires_at INTEGER NOT NULL
) STRICT;
