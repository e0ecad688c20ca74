-- A status question files nothing: it is answered from the records. The answer by mail still
-- carries a reply token, so a "confirm" to it reaches the person's requests; the token then
-- points at the request the answer lists first, and says the mail listed them all.
ALTER TABLE reply_tokens ADD COLUMN lists INTEGER NOT NULL DEFAULT 0;
-- Answers to status questions that earlier versions recorded as requests listed them too.
UPDATE reply_tokens SET lists = 1
WHERE request_id IN (SELECT id FROM requests WHERE kind = 'status');
