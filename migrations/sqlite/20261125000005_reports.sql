-- Monthly reports: when each request was confirmed and closed, kept on the row so a report
-- over a million requests reads columns instead of replaying the audit trail.
ALTER TABLE requests ADD COLUMN confirmed_at TEXT;
-- When it became completed, cancelled or expired.
ALTER TABLE requests ADD COLUMN closed_at TEXT;

UPDATE requests SET confirmed_at =
    (SELECT MIN(at) FROM request_events e WHERE e.request_id = requests.id AND e.to_state = 'confirmed');
UPDATE requests SET closed_at =
    (SELECT MIN(at) FROM request_events e
     WHERE e.request_id = requests.id AND e.to_state IN ('completed', 'cancelled', 'expired'));

CREATE INDEX requests_received ON requests(received_at);
CREATE INDEX requests_closed ON requests(closed_at) WHERE closed_at IS NOT NULL;

-- Each month's report is sent once: the first instance to insert the month sends it.
CREATE TABLE report_runs (
    month      TEXT PRIMARY KEY,      -- YYYY-MM in REPORT_TIMEZONE
    sent_at    TEXT NOT NULL,
    -- When the Markdown was posted to REPORT_CHANNEL_ID; NULL while it still has to be.
    posted_at  TEXT
);

-- A file attached to a mail (the monthly CSV).
ALTER TABLE outbox ADD COLUMN attachment_name TEXT;
ALTER TABLE outbox ADD COLUMN attachment_body TEXT;
