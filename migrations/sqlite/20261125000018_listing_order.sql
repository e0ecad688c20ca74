-- The officers' listing is in due order (then id): an index in that order lets every listing
-- stream in constant memory instead of sorting the whole table. (SQLite ends every index
-- entry with the rowid, so it serves the tie-break on id too.)
CREATE INDEX requests_due ON requests(due_at);
