-- What Xero held of the item right after our last write (its managed fields and UpdatedDateUTC, as JSON),
-- so an edit made in Xero since can be told from our own. NULL for links made before, and when Xero's
-- answer did not include the item.
ALTER TABLE item_links ADD COLUMN xero_state TEXT;
