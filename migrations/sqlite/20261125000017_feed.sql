-- The feed: the choices downstream systems must honour, the consumers that pull them, and
-- what each consumer said it applied.

-- A system that must honour the choices. The token is kept only as its SHA-256; the key
-- (32 random bytes) is what the consumer's identities are hashed with (HMAC-SHA256), so a
-- list one consumer leaks names no one to anybody else.
CREATE TABLE consumers (
    id             INTEGER PRIMARY KEY,
    name           TEXT NOT NULL UNIQUE,
    token_hash     TEXT NOT NULL UNIQUE,
    hash_key       BLOB NOT NULL,
    webhook_url    TEXT,
    created_at     TEXT NOT NULL,
    revoked_at     TEXT,
    last_pull_at   TEXT,
    -- The newest change handed to it, and the newest it said it applied.
    last_pull_seq  INTEGER NOT NULL DEFAULT 0,
    last_ack_at    TEXT,
    last_ack_seq   INTEGER NOT NULL DEFAULT 0,
    last_ack_run   TEXT
);

-- Each person's standing as the feed tells it, one row per person once they opted out or
-- were erased: `seq` moves to the end of the feed whenever the standing changes, so "what
-- changed since cursor C" is `seq > C` in order.
CREATE TABLE feed (
    person_id       INTEGER PRIMARY KEY REFERENCES people(id),
    seq             INTEGER NOT NULL UNIQUE,
    state           TEXT NOT NULL CHECK (state IN ('opted_out', 'erased', 'opted_in')),
    effective_from  TEXT NOT NULL,
    policy_version  TEXT NOT NULL,
    -- The request whose event changed it.
    request_id      INTEGER NOT NULL REFERENCES requests(id),
    -- When it entered the feed at `seq` (how long a consumer has been behind counts from it).
    changed_at      TEXT NOT NULL
);

-- An erased person's identities as each consumer knows them, made before the identities
-- were erased, so the feed keeps listing them as erased.
CREATE TABLE feed_erased (
    person_id    INTEGER NOT NULL REFERENCES people(id),
    consumer_id  INTEGER NOT NULL REFERENCES consumers(id),
    kind         TEXT NOT NULL,
    hash         TEXT NOT NULL,
    PRIMARY KEY (person_id, consumer_id, hash)
);

-- What a consumer said it applied: everything up to `seq` in its run `run`. Each is a leaf
-- of the log (log_leaves.ack_id).
CREATE TABLE consumer_acks (
    id           INTEGER PRIMARY KEY,
    consumer_id  INTEGER NOT NULL REFERENCES consumers(id),
    run          TEXT NOT NULL,
    seq          INTEGER NOT NULL,
    excluded     INTEGER NOT NULL,
    applied_at   TEXT NOT NULL,
    received_at  TEXT NOT NULL
);
CREATE INDEX consumer_acks_consumer ON consumer_acks(consumer_id, seq);
CREATE TRIGGER consumer_acks_no_update BEFORE UPDATE ON consumer_acks
BEGIN SELECT RAISE(ABORT, 'consumer_acks is append-only'); END;
CREATE TRIGGER consumer_acks_no_delete BEFORE DELETE ON consumer_acks
BEGIN SELECT RAISE(ABORT, 'consumer_acks is append-only'); END;

-- Push: on every change, a consumer with a webhook is told its new cursor (Standard Webhooks
-- 1.0, signed v1a with the log's key). One waiting message per consumer carries the newest
-- cursor; each message keeps its id across retries.
ALTER TABLE consumers ADD COLUMN webhook_disabled_at TEXT;
ALTER TABLE consumers ADD COLUMN webhook_given_up_at TEXT;
CREATE TABLE webhook_deliveries (
    id               INTEGER PRIMARY KEY,
    consumer_id      INTEGER NOT NULL REFERENCES consumers(id),
    message_id       TEXT NOT NULL UNIQUE,
    seq              INTEGER NOT NULL,
    created_at       TEXT NOT NULL,
    attempts         INTEGER NOT NULL DEFAULT 0,
    next_attempt_at  TEXT NOT NULL,
    claimed_until    TEXT,
    last_status      TEXT,
    delivered_at     TEXT,
    gave_up_at       TEXT
);
CREATE INDEX webhook_deliveries_due ON webhook_deliveries(next_attempt_at)
    WHERE delivered_at IS NULL AND gave_up_at IS NULL;
CREATE INDEX webhook_deliveries_consumer ON webhook_deliveries(consumer_id)
    WHERE delivered_at IS NULL AND gave_up_at IS NULL;
