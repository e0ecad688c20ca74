-- The people the bot knows, the identities through which they reach it, and their requests.

-- A person is only an id: everything that names them lives in `identities`, so erasing a
-- person is deleting their identities.
CREATE TABLE people (
    id          INTEGER PRIMARY KEY,
    created_at  TEXT NOT NULL,
    -- Set when a deletion request has been carried out; the row stays so request history
    -- (kinds, times, states) remains countable without naming anyone.
    erased_at   TEXT
);

-- How a person reaches the bot. Console and Discord identities are authenticated by their
-- channel; an email identity only after the person proved control of the address.
CREATE TABLE identities (
    id          INTEGER PRIMARY KEY,
    person_id   INTEGER NOT NULL REFERENCES people(id),
    kind        TEXT NOT NULL CHECK (kind IN ('console', 'discord', 'email')),
    value       TEXT NOT NULL,
    verified_at TEXT,
    created_at  TEXT NOT NULL,
    UNIQUE (kind, value)
);
CREATE INDEX identities_person ON identities(person_id);

CREATE TABLE requests (
    id                    INTEGER PRIMARY KEY,
    person_id             INTEGER NOT NULL REFERENCES people(id),
    kind                  TEXT NOT NULL CHECK (kind IN ('opt_out', 'opt_in', 'deletion', 'status')),
    channel               TEXT NOT NULL CHECK (channel IN ('console', 'discord', 'email', 'import')),
    state                 TEXT NOT NULL CHECK (state IN
                            ('awaiting_confirmation', 'confirmed', 'completed', 'cancelled', 'expired')),
    received_at           TEXT NOT NULL,
    -- received_at - POLICY_DEADLINE in seconds, negative before the deadline. Stored, not
    -- derived, so a later change of the configured deadline cannot rewrite history.
    deadline_offset_secs  INTEGER NOT NULL,
    due_at                TEXT NOT NULL,
    -- When the person gave the explicit second confirmation a deletion needs.
    person_confirmed_at   TEXT,
    updated_at            TEXT NOT NULL
);
CREATE INDEX requests_person ON requests(person_id, kind);
CREATE INDEX requests_state_due ON requests(state, due_at);
-- At most one open request of a kind per person: a repeat is answered with the open one.
CREATE UNIQUE INDEX requests_one_open
    ON requests(person_id, kind)
    WHERE state IN ('awaiting_confirmation', 'confirmed');

-- The audit trail: every state change of every request, never changed afterwards.
CREATE TABLE request_events (
    id          INTEGER PRIMARY KEY,
    request_id  INTEGER NOT NULL REFERENCES requests(id),
    at          TEXT NOT NULL,
    from_state  TEXT,
    to_state    TEXT NOT NULL,
    -- The channel or role that caused the change (console, discord, email, operator, system);
    -- never a name or address.
    actor       TEXT NOT NULL,
    note        TEXT
);
CREATE INDEX request_events_request ON request_events(request_id);
CREATE TRIGGER request_events_no_update BEFORE UPDATE ON request_events
BEGIN SELECT RAISE(ABORT, 'request_events is append-only'); END;
CREATE TRIGGER request_events_no_delete BEFORE DELETE ON request_events
BEGIN SELECT RAISE(ABORT, 'request_events is append-only'); END;

-- Proof of control of an email address: a one-time code sent to it. The address waits here,
-- not in `identities`, until the code is entered.
CREATE TABLE email_verifications (
    id           INTEGER PRIMARY KEY,
    person_id    INTEGER NOT NULL REFERENCES people(id),
    request_id   INTEGER NOT NULL REFERENCES requests(id),
    email        TEXT NOT NULL,
    -- HMAC of the code under the installation's key; the code itself is only in the email.
    code_hash    TEXT NOT NULL,
    attempts     INTEGER NOT NULL DEFAULT 0,
    created_at   TEXT NOT NULL,
    expires_at   TEXT NOT NULL,
    verified_at  TEXT
);
CREATE INDEX email_verifications_person ON email_verifications(person_id);

-- What remains of an erased identity: a keyed hash, so a privacy officer can answer "did you
-- erase this address?" without the bot keeping the address.
CREATE TABLE erasure_receipts (
    id          INTEGER PRIMARY KEY,
    person_id   INTEGER NOT NULL REFERENCES people(id),
    request_id  INTEGER NOT NULL REFERENCES requests(id),
    kind        TEXT NOT NULL,
    value_hash  TEXT NOT NULL,
    erased_at   TEXT NOT NULL
);

-- Installation secrets generated on first start (only when not given in the environment).
CREATE TABLE settings (
    name   TEXT PRIMARY KEY,
    value  TEXT NOT NULL
);
