-- What one person, sender or address caused, and when, by a keyed hash: the limits that
-- protect other people (code mails to an address, guesses at its codes, requests per hour,
-- calls per minute) count these rows, so they hold across processes and restarts. Rows older
-- than two days are pruned as new ones are written.
CREATE TABLE limit_events (
    scope     TEXT NOT NULL,
    key_hash  TEXT NOT NULL,
    at        TIMESTAMPTZ NOT NULL
);
CREATE INDEX limit_events_key ON limit_events(scope, key_hash, at);

-- Requests made by mail from an address that has not proven it yet, by a keyed hash of that
-- address: a repeat finds the request still waiting instead of filing another, and the same
-- sender is the same person.
CREATE TABLE sender_requests (
    request_id   BIGINT PRIMARY KEY REFERENCES requests(id),
    sender_hash  TEXT NOT NULL
);
CREATE INDEX sender_requests_sender ON sender_requests(sender_hash);
