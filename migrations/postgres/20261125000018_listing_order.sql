-- The officers' listing is in due order (then id): an index in that order lets every listing
-- stream in constant memory instead of sorting the whole table. (SQLite ends every index
-- entry with the rowid, so its index on due_at alone serves the tie-break on id; PostgreSQL's
-- index entries do not end with the key, so id is the index's second column.)
CREATE INDEX requests_due ON requests(due_at, id);
