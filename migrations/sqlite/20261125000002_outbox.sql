-- The mail outbox: written in the same transaction as the request it reports on, delivered
-- later by the mail worker, never dropped.

CREATE TABLE outbox (
    id               INTEGER PRIMARY KEY,
    -- Fixed when the row is written, so every delivery attempt of this mail carries the same
    -- Message-ID and a resend after a crash is recognisably the same mail.
    message_id       TEXT NOT NULL UNIQUE,
    person_id        INTEGER REFERENCES people(id),
    request_id       INTEGER REFERENCES requests(id),
    template         TEXT NOT NULL,
    recipient        TEXT NOT NULL,
    subject          TEXT NOT NULL,
    body_text        TEXT NOT NULL,
    body_html        TEXT NOT NULL,
    created_at       TEXT NOT NULL,
    attempts         INTEGER NOT NULL DEFAULT 0,
    next_attempt_at  TEXT NOT NULL,
    last_error       TEXT,
    sent_at          TEXT,
    -- Set for mail to an erased person: once delivered, its address and text are wiped.
    scrub_after_send INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX outbox_due ON outbox(next_attempt_at) WHERE sent_at IS NULL;
CREATE INDEX outbox_person ON outbox(person_id);
