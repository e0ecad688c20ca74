-- Leases: which process does a job that only one may do at a time (the Discord gateway and the
-- schedule, under the lease named 'leader'). A holder keeps its lease by renewing it before it
-- expires; another process takes it only once it has expired, by the database's clock. Each
-- taking raises the generation, the fencing token a holder's writes are checked against, so a
-- holder that paused past its expiry cannot act on a lease someone else now holds.
CREATE TABLE leases (
    name        TEXT PRIMARY KEY,
    -- The process holding it: a random id per process, never a host name or a person.
    holder      TEXT NOT NULL,
    generation  BIGINT NOT NULL CHECK (generation > 0),
    acquired_at TIMESTAMPTZ NOT NULL,
    expires_at  TIMESTAMPTZ NOT NULL
);

-- Every process must seal and open with the same wrapping key, which is never stored here:
-- the first process keeps a keyed hash of it, and a process started with another key is
-- refused before it seals anything the others could not open.
CREATE TABLE key_check (
    id          BOOLEAN PRIMARY KEY CHECK (id),
    check_value BYTEA NOT NULL,
    created_at  TIMESTAMPTZ NOT NULL
);

-- Mail workers in several processes share the outbox: a worker claims due mail (FOR UPDATE
-- SKIP LOCKED) by naming itself here and moving the next attempt to its lease's end, and marks
-- it sent or failed only while it is still the claimant, so a worker whose lease ran out, and
-- whose mail another took, changes nothing. (SQLite's one writer needs no claimant.)
ALTER TABLE outbox ADD COLUMN claimed_by TEXT;
