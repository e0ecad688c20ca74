-- Proof a person keeps: every audit event is a leaf of an RFC 6962 Merkle tree, the tree's
-- heads are signed (c2sp.org/tlog-checkpoint) and handed out, and each decision event names
-- the notice the person was shown.

-- The notice each choice answered: the text a channel shows (the privacy notice and the
-- templates a person reads), versioned by the SHA-256 of that text.
CREATE TABLE notice_versions (
    version         TEXT PRIMARY KEY,
    channel         TEXT NOT NULL,
    language        TEXT NOT NULL,
    -- The policy the notice is about, and its version (a hash of what the policy says).
    policy          TEXT NOT NULL,
    policy_version  TEXT NOT NULL,
    text            TEXT NOT NULL,
    first_seen      TEXT NOT NULL
);
ALTER TABLE request_events ADD COLUMN notice TEXT REFERENCES notice_versions(version);

-- One leaf per row of request_events (and per consumer's acknowledgement, see the feed's
-- migration), in the order they were written. A leaf hashes the record of what it logs:
-- keyed hashes and facts, never a name or an address, so an erasure changes nothing the tree
-- depends on. `root` is the tree's root once this leaf was added: the head a receipt for this
-- event hands out.
CREATE TABLE log_leaves (
    idx       INTEGER PRIMARY KEY,
    event_id  INTEGER UNIQUE REFERENCES request_events(id),
    ack_id    INTEGER UNIQUE,
    hash      BLOB NOT NULL,
    root      BLOB NOT NULL,
    CHECK ((event_id IS NULL) <> (ack_id IS NULL))
);
CREATE TRIGGER log_leaves_no_update BEFORE UPDATE ON log_leaves
BEGIN SELECT RAISE(ABORT, 'log_leaves is append-only'); END;
CREATE TRIGGER log_leaves_no_delete BEFORE DELETE ON log_leaves
BEGIN SELECT RAISE(ABORT, 'log_leaves is append-only'); END;

-- The tree's right edge (its size and one hash per full subtree), to append in O(log n).
-- Derived from the leaves; `dsr-bot log verify` checks it.
CREATE TABLE log_head (
    id        INTEGER PRIMARY KEY CHECK (id = 1),
    frontier  BLOB NOT NULL
);

-- Every signed checkpoint handed out (in a report, by `dsr-bot log checkpoint`, on the timer).
CREATE TABLE checkpoints (
    id       INTEGER PRIMARY KEY,
    size     INTEGER NOT NULL,
    root     BLOB NOT NULL,
    key      TEXT NOT NULL,
    note     TEXT NOT NULL,
    made_at  TEXT NOT NULL,
    why      TEXT NOT NULL
);
CREATE TRIGGER checkpoints_no_update BEFORE UPDATE ON checkpoints
BEGIN SELECT RAISE(ABORT, 'checkpoints is append-only'); END;
CREATE TRIGGER checkpoints_no_delete BEFORE DELETE ON checkpoints
BEGIN SELECT RAISE(ABORT, 'checkpoints is append-only'); END;

-- Every public key the log was ever signed with, so receipts signed before a rotation verify.
CREATE TABLE signing_keys (
    vkey        TEXT PRIMARY KEY,
    first_used  TEXT NOT NULL,
    retired_at  TEXT
);
