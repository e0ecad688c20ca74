-- An officer may extend a request's due date once (GDPR Art. 12(3)): when, and the due date it
-- had before. The reason is in the request's audit trail.
ALTER TABLE requests ADD COLUMN extended_at TEXT;
ALTER TABLE requests ADD COLUMN original_due_at TEXT;
-- When the person was reminded that the request waits for them (once).
ALTER TABLE requests ADD COLUMN reminded_at TEXT;
-- The addresses a request's mails went to (reminders and extension notices go there).
CREATE INDEX outbox_request ON outbox(request_id);

-- Officers' notes on a request. Kept out of the append-only audit trail (which records only
-- that a note was added), because a note may name someone and is erased with the person.
CREATE TABLE request_notes (
    id          INTEGER PRIMARY KEY,
    request_id  INTEGER NOT NULL REFERENCES requests(id),
    at          TEXT NOT NULL,
    -- The role and channel that wrote it (operator, officer on discord); never a name.
    author      TEXT NOT NULL,
    text        TEXT NOT NULL
);
CREATE INDEX request_notes_request ON request_notes(request_id);

-- The weekly digest for officers, once per ISO week (YYYY-Www), across restarts and instances.
CREATE TABLE digests (
    week       TEXT PRIMARY KEY,
    mailed_at  TEXT,
    posted_at  TEXT
);

-- The community's size by day: Discord's approximate member count of the guild, or
-- COMMUNITY_SIZE. The monthly report takes the latest one on or before each month end.
CREATE TABLE community_sizes (
    day     TEXT PRIMARY KEY,   -- YYYY-MM-DD (UTC)
    size    INTEGER NOT NULL,
    source  TEXT NOT NULL CHECK (source IN ('discord', 'setting'))
);

-- The reminders posted to ANNOUNCE_CHANNEL_ID before the policy deadline, once each.
CREATE TABLE announcements (
    days_before  INTEGER PRIMARY KEY,
    posted_at    TEXT NOT NULL
);
