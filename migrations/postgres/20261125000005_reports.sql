-- Monthly reports: when each request was confirmed and closed, kept on the row so a report
-- over a million requests reads columns instead of replaying the audit trail.
ALTER TABLE requests ADD COLUMN confirmed_at TIMESTAMPTZ;
-- When it became completed, cancelled or expired.
ALTER TABLE requests ADD COLUMN closed_at TIMESTAMPTZ;

-- On SQLite both columns are filled here from the audit trail for the requests made before
-- this change. A PostgreSQL database never held rows of the old layout: nothing to fill.

CREATE INDEX requests_received ON requests(received_at);
CREATE INDEX requests_closed ON requests(closed_at) WHERE closed_at IS NOT NULL;

-- Each month's report is sent once: the first instance to insert the month sends it.
CREATE TABLE report_runs (
    month      TEXT PRIMARY KEY,      -- YYYY-MM in REPORT_TIMEZONE
    sent_at    TIMESTAMPTZ NOT NULL,
    -- When the Markdown was posted to REPORT_CHANNEL_ID; NULL while it still has to be.
    posted_at  TIMESTAMPTZ
);

-- A file attached to a mail (the monthly CSV), sealed with the mail's texts (same key).
ALTER TABLE outbox ADD COLUMN attachment_name TEXT;
ALTER TABLE outbox ADD COLUMN attachment_body_sealed BYTEA;
