-- A status question files nothing: it is answered from the records. The answer by mail still
-- carries a reply token, so a "confirm" to it reaches the person's requests; the token then
-- points at the request the answer lists first, and says the mail listed them all.
ALTER TABLE reply_tokens ADD COLUMN lists BOOLEAN NOT NULL DEFAULT FALSE;
-- On SQLite the answers to status questions that earlier versions recorded as requests are
-- marked as listing them too. A PostgreSQL database never held rows of the old layout: there
-- are none to mark.
