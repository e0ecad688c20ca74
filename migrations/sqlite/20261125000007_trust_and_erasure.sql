-- What a person is to be told the next time they reach the bot on any channel: an address of
-- theirs that its owner confirmed for someone else, a link they asked for that its owner
-- refused. Shown once, then deleted; erased with the person.
CREATE TABLE person_notices (
    id          INTEGER PRIMARY KEY,
    person_id   INTEGER NOT NULL REFERENCES people(id),
    text        TEXT NOT NULL,
    created_at  TEXT NOT NULL
);
CREATE INDEX person_notices_person ON person_notices(person_id);

-- Mail kept for a person to look at (unreadable, or too large to read). In the database, not a
-- folder: it is kept in the same transaction that records the message as handled, so it cannot
-- be lost to a folder that will not take it, it is encrypted with the database, and it is
-- erased with its sender. A message over MAX_INBOUND_BYTES is kept as its headers only.
CREATE TABLE held_mail (
    id           INTEGER PRIMARY KEY,
    received_at  TEXT NOT NULL,
    reason       TEXT NOT NULL,
    -- The whole message's size in bytes, even when only its headers are kept.
    size         INTEGER NOT NULL,
    -- Keyed hash of the From address, when one could be read.
    sender_hash  TEXT,
    message      BLOB NOT NULL,
    headers_only INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX held_mail_sender ON held_mail(sender_hash);

-- Where a handled inbound message still lies (an IMAP mailbox, a Maildir file), by a keyed hash
-- of its sender: when that person is erased the copy is marked, and the next poll or Maildir
-- run removes it.
CREATE TABLE inbound_copies (
    id           INTEGER PRIMARY KEY,
    sender_hash  TEXT NOT NULL,
    source       TEXT NOT NULL CHECK (source IN ('imap', 'maildir')),
    -- imap: "MAILBOX UIDVALIDITY UID"; maildir: the file's path.
    locator      TEXT NOT NULL,
    purge        INTEGER NOT NULL DEFAULT 0,
    created_at   TEXT NOT NULL
);
CREATE INDEX inbound_copies_sender ON inbound_copies(sender_hash);
CREATE INDEX inbound_copies_purge ON inbound_copies(source) WHERE purge = 1;

-- The outbox folder (mail written as .eml files) holds a copy of this mail that is to be
-- removed: it was addressed to a person since erased.
ALTER TABLE outbox ADD COLUMN forget_copy INTEGER NOT NULL DEFAULT 0;

-- The address's owner answered no: the code stops working and nothing is linked.
ALTER TABLE email_verifications ADD COLUMN refused_at TEXT;

-- Erasure finds what names an address even where it belongs to someone else's request.
CREATE INDEX email_verifications_email ON email_verifications(email);
CREATE INDEX outbox_recipient ON outbox(recipient);
CREATE INDEX reply_tokens_email ON reply_tokens(email);
