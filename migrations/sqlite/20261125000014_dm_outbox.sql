-- Discord DMs waiting to be sent, written in the same transaction as the change they are the
-- receipt of, and delivered by the bot with retries, like mail: a change that is saved always
-- reaches the member, whatever happens to the interaction's reply.
CREATE TABLE dm_outbox (
    id               INTEGER PRIMARY KEY,
    person_id        INTEGER REFERENCES people(id),
    request_id       INTEGER REFERENCES requests(id),
    -- The member's Discord id ('' once a DM to an erased person has gone or been given up).
    recipient        TEXT NOT NULL,
    text             TEXT NOT NULL,
    created_at       TEXT NOT NULL,
    next_attempt_at  TEXT NOT NULL,
    attempts         INTEGER NOT NULL DEFAULT 0,
    last_error       TEXT,
    sent_at          TEXT,
    -- Discord refused it for good (DMs closed, or retried for as long as a receipt may wait).
    gave_up_at       TEXT,
    -- The person was erased: the id and the text go the moment the DM is sent or given up.
    scrub_after_send INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX dm_outbox_due ON dm_outbox(next_attempt_at) WHERE sent_at IS NULL AND gave_up_at IS NULL;
CREATE INDEX dm_outbox_person ON dm_outbox(person_id);
