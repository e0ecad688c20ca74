-- Replies by email: every outgoing mail about a request carries a token (in a plus-addressed
-- Reply-To) that a reply brings back; it ties the reply to the request and to the address
-- the mail went to.
CREATE TABLE reply_tokens (
    -- SHA-256 of the token; the token itself is only in the mail (and its outbox row).
    token_hash  TEXT PRIMARY KEY,
    request_id  INTEGER NOT NULL REFERENCES requests(id),
    email       TEXT NOT NULL,
    created_at  TEXT NOT NULL,
    expires_at  TEXT NOT NULL
);
CREATE INDEX reply_tokens_request ON reply_tokens(request_id);

ALTER TABLE outbox ADD COLUMN reply_token TEXT;
-- The Message-ID of the mail this one answers, for In-Reply-To and References.
ALTER TABLE outbox ADD COLUMN in_reply_to TEXT;

-- What became of each inbound input (acted, ignored_automatic, rejected, held).
ALTER TABLE processed_inputs ADD COLUMN disposition TEXT;

-- When the bot last sent an unprompted "we could not act on this" answer to an address
-- (keyed hash): at most one a day, so a loop with an auto-responder cannot form.
CREATE TABLE answered_senders (
    address_hash TEXT PRIMARY KEY,
    last_at      TEXT NOT NULL
);
