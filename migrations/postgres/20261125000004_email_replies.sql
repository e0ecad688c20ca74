-- Replies by email: every outgoing mail about a request carries a token (in a plus-addressed
-- Reply-To) that a reply brings back; it ties the reply to the request and to the address
-- the mail went to. The address is sealed under the data key of the request's person.
CREATE TABLE reply_tokens (
    -- SHA-256 of the token; the token itself is only in the mail (and its outbox row).
    token_hash    TEXT PRIMARY KEY,
    request_id    BIGINT NOT NULL REFERENCES requests(id),
    email_sealed  BYTEA NOT NULL,
    created_at    TIMESTAMPTZ NOT NULL,
    expires_at    TIMESTAMPTZ NOT NULL
);
CREATE INDEX reply_tokens_request ON reply_tokens(request_id);

ALTER TABLE outbox ADD COLUMN reply_token TEXT;
-- The Message-ID of the mail this one answers, for In-Reply-To and References. An inbound
-- Message-ID can name its sender, so it is sealed with the mail's texts (same key).
ALTER TABLE outbox ADD COLUMN in_reply_to_sealed BYTEA;

-- What became of each inbound input (acted, ignored_automatic, rejected, held).
ALTER TABLE processed_inputs ADD COLUMN disposition TEXT;

-- When the bot last sent an unprompted "we could not act on this" answer to an address
-- (keyed hash): at most one a day, so a loop with an auto-responder cannot form.
CREATE TABLE answered_senders (
    address_hash TEXT PRIMARY KEY,
    last_at      TIMESTAMPTZ NOT NULL
);
