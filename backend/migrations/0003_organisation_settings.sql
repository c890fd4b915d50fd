-- Settings an admin changes at run time (issue 14's organisation defaults first; the admin portal adds more):
-- one row per setting, its value as JSON in the shape its Rust type gives it.
CREATE TABLE organisation_settings (
    key TEXT PRIMARY KEY,
    value TEXT NOT NULL,
    updated_at INTEGER NOT NULL,
    updated_by TEXT NOT NULL
) STRICT;

-- Every change of a setting: who, when, old -> new (JSON; NULL when the setting had no value).
CREATE TABLE organisation_settings_audit (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    key TEXT NOT NULL,
    old_value TEXT,
    new_value TEXT NOT NULL,
    changed_at INTEGER NOT NULL,
    changed_by TEXT NOT NULL
) STRICT;
CREATE INDEX organisation_settings_audit_by_key ON organisation_settings_audit (key, id);
