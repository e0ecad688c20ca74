-- Inputs that may be delivered twice (a Discord interaction, an email Message-ID) take
-- effect once: the first transaction that handles one records it here.
CREATE TABLE processed_inputs (
    -- SHA-256 of "source:key", so an email Message-ID (which can name its sender) is not kept.
    key_hash    TEXT PRIMARY KEY,
    source      TEXT NOT NULL,
    at          TIMESTAMPTZ NOT NULL
);

-- Discord refused a DM to this person (closed DMs, error 50007): do not try again.
ALTER TABLE identities ADD COLUMN dm_closed_at TIMESTAMPTZ;
