-- Leases: which process does a job that only one may do at a time (the Discord gateway and the
-- schedule, under the lease named 'leader'). A holder keeps its lease by renewing it before it
-- expires; another process takes it only once it has expired. Each taking raises the
-- generation, the fencing token a holder's writes are checked against, so a holder that
-- paused past its expiry cannot act on a lease someone else now holds.
CREATE TABLE leases (
    name        TEXT PRIMARY KEY,
    -- The process holding it: a random id per process, never a host name or a person.
    holder      TEXT NOT NULL,
    generation  INTEGER NOT NULL CHECK (generation > 0),
    acquired_at TEXT NOT NULL,
    expires_at  TEXT NOT NULL
);
