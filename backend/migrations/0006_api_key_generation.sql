-- Which API key a widget session was opened with: counted up at every rotation, carried in each session
-- token, so a rotation ends the sessions the old key opened (issue 10). Keys set before count as the first.
ALTER TABLE widget_api_key ADD COLUMN generation INTEGER NOT NULL DEFAULT 1 CHECK (generation >= 1);
