-- The monthly report's figures, kept as the requests change: a report then reads one row per
-- month and figure instead of every request (see src/db/counters.rs and DESIGN.md,
-- "Definitions that must not drift", which these views follow).
--
-- report_counts holds, per month of REPORT_TIMEZONE (YYYY-MM):
--   received, opt_outs, opt_ins, deletions, before_deadline, after_deadline, extended:
--     counts of the month (bucket 0);
--   standing_out, standing_in, overdue: changes at the month, summed over the months up to
--     one to give the figure at its end (a span adds 1 at the month it starts counting in and
--     takes it away at the month it stops in);
--   completed: deletions completed in the month by their time to complete, in hundredths of a
--     day (bucket), from which the median is read.
CREATE TABLE report_counts (
    month  TEXT NOT NULL,
    figure TEXT NOT NULL,
    bucket INTEGER NOT NULL,
    n      INTEGER NOT NULL,
    PRIMARY KEY (month, figure, bucket)
) WITHOUT ROWID;

-- Where each month of REPORT_TIMEZONE starts, in Unix seconds (every month start is a whole
-- second in every time zone); filled by the service for the zone it reports in.
CREATE TABLE report_calendar (
    starts INTEGER PRIMARY KEY,
    month  TEXT NOT NULL
);

-- The zone the calendar and the counts are for, and whether the triggers keep them (off
-- while they are rebuilt or before they were first built: the report then reads the requests).
CREATE TABLE report_counter_state (
    one      INTEGER PRIMARY KEY CHECK (one = 1),
    timezone TEXT NOT NULL,
    live     INTEGER NOT NULL
);

-- A stored time (RFC 3339 with its offset) in whole Unix seconds, rounded down: SQLite's own
-- parser rounds fractions to the millisecond, which would move 23:59:59.9999 into the next
-- month, so the fraction is cut off first.
CREATE VIEW report_request_seconds AS
SELECT r.id, r.person_id, r.kind, r.state,
       r.confirmed_at IS NOT NULL AS confirmed,
       COALESCE(r.deadline_offset_us, r.deadline_offset_secs * 1000000) <= 0 AS by_deadline,
       unixepoch(substr(r.received_at, 1, 19) || CASE WHEN substr(r.received_at, -1) = 'Z' THEN 'Z' ELSE substr(r.received_at, -6) END) AS received,
       unixepoch(substr(r.due_at, 1, 19) || CASE WHEN substr(r.due_at, -1) = 'Z' THEN 'Z' ELSE substr(r.due_at, -6) END) AS due,
       unixepoch(substr(r.confirmed_at, 1, 19) || CASE WHEN substr(r.confirmed_at, -1) = 'Z' THEN 'Z' ELSE substr(r.confirmed_at, -6) END) AS confirmed_s,
       unixepoch(substr(r.closed_at, 1, 19) || CASE WHEN substr(r.closed_at, -1) = 'Z' THEN 'Z' ELSE substr(r.closed_at, -6) END) AS closed,
       unixepoch(substr(r.extended_at, 1, 19) || CASE WHEN substr(r.extended_at, -1) = 'Z' THEN 'Z' ELSE substr(r.extended_at, -6) END) AS extended
FROM requests r;

-- Each request's months: received, due, answered (a deletion when closed, a choice when
-- confirmed or else closed), extended, closed; and its time to complete.
CREATE VIEW report_request_months AS
SELECT id, person_id, kind, state, confirmed, by_deadline,
       (SELECT month FROM report_calendar WHERE starts <= received ORDER BY starts DESC LIMIT 1) AS m_received,
       (SELECT month FROM report_calendar WHERE starts <= max(received, due) ORDER BY starts DESC LIMIT 1) AS m_overdue,
       (SELECT month FROM report_calendar
         WHERE starts <= CASE WHEN kind = 'deletion' THEN closed ELSE COALESCE(confirmed_s, closed) END
         ORDER BY starts DESC LIMIT 1) AS m_answered,
       (SELECT month FROM report_calendar WHERE starts <= extended ORDER BY starts DESC LIMIT 1) AS m_extended,
       (SELECT month FROM report_calendar WHERE starts <= closed ORDER BY starts DESC LIMIT 1) AS m_closed,
       (closed - received + 432) / 864 AS hundredths
FROM report_request_seconds;

-- What each request adds to report_counts.
CREATE VIEW report_request_deltas AS
SELECT id, m_received AS month, 'received' AS figure, 0 AS bucket, 1 AS n FROM report_request_months
UNION ALL
SELECT id, m_received, CASE kind WHEN 'opt_out' THEN 'opt_outs' WHEN 'opt_in' THEN 'opt_ins' ELSE 'deletions' END, 0, 1
  FROM report_request_months WHERE kind != 'status' AND confirmed
UNION ALL
SELECT id, m_received, CASE WHEN by_deadline THEN 'before_deadline' ELSE 'after_deadline' END, 0, 1
  FROM report_request_months WHERE kind != 'status' AND confirmed
UNION ALL
SELECT id, m_overdue, 'overdue', 0, 1
  FROM report_request_months WHERE kind != 'status' AND (m_answered IS NULL OR m_overdue < m_answered)
UNION ALL
SELECT id, m_answered, 'overdue', 0, -1
  FROM report_request_months WHERE kind != 'status' AND m_overdue < m_answered
UNION ALL
SELECT id, m_extended, 'extended', 0, 1
  FROM report_request_months WHERE kind != 'status' AND m_extended IS NOT NULL
UNION ALL
SELECT id, m_closed, 'completed', hundredths, 1
  FROM report_request_months WHERE kind = 'deletion' AND state = 'completed' AND m_closed IS NOT NULL;

-- Each confirmed choice stands from its confirmation until the person's next one, or until
-- the person is erased, whichever comes first (the order is the report's: confirmation time,
-- then id).
CREATE VIEW report_choice_months AS
SELECT c.person_id, c.kind,
       (SELECT month FROM report_calendar
         WHERE starts <= unixepoch(substr(c.confirmed_at, 1, 19) || CASE WHEN substr(c.confirmed_at, -1) = 'Z' THEN 'Z' ELSE substr(c.confirmed_at, -6) END)
         ORDER BY starts DESC LIMIT 1) AS m_from,
       (SELECT month FROM report_calendar
         WHERE starts <= (SELECT unixepoch(substr(n.confirmed_at, 1, 19) || CASE WHEN substr(n.confirmed_at, -1) = 'Z' THEN 'Z' ELSE substr(n.confirmed_at, -6) END)
                            FROM requests n
                           WHERE n.person_id = c.person_id AND n.kind IN ('opt_out', 'opt_in')
                             AND n.confirmed_at IS NOT NULL
                             AND (n.confirmed_at > c.confirmed_at OR (n.confirmed_at = c.confirmed_at AND n.id > c.id))
                           ORDER BY n.confirmed_at, n.id LIMIT 1)
         ORDER BY starts DESC LIMIT 1) AS m_next,
       (SELECT month FROM report_calendar
         WHERE starts <= (SELECT unixepoch(substr(p.erased_at, 1, 19) || CASE WHEN substr(p.erased_at, -1) = 'Z' THEN 'Z' ELSE substr(p.erased_at, -6) END)
                            FROM people p WHERE p.id = c.person_id)
         ORDER BY starts DESC LIMIT 1) AS m_erased
FROM requests c
WHERE c.kind IN ('opt_out', 'opt_in') AND c.confirmed_at IS NOT NULL;

CREATE VIEW report_choice_spans AS
SELECT person_id, CASE kind WHEN 'opt_out' THEN 'standing_out' ELSE 'standing_in' END AS figure, m_from,
       min(COALESCE(m_next, m_erased), COALESCE(m_erased, m_next)) AS m_until
FROM report_choice_months;

-- What each person's choices add to report_counts.
CREATE VIEW report_standing_deltas AS
SELECT person_id, m_from AS month, figure, 0 AS bucket, 1 AS n FROM report_choice_spans
 WHERE m_from IS NOT NULL AND (m_until IS NULL OR m_from < m_until)
UNION ALL
SELECT person_id, m_until, figure, 0, -1 FROM report_choice_spans
 WHERE m_from < m_until;

-- The triggers: what a change takes away before it and adds back after it, in the same
-- transaction as the change.
CREATE TRIGGER report_requests_insert_before BEFORE INSERT ON requests
WHEN (SELECT live FROM report_counter_state) = 1
 AND NEW.kind IN ('opt_out', 'opt_in') AND NEW.confirmed_at IS NOT NULL
BEGIN
    INSERT INTO report_counts (month, figure, bucket, n)
    SELECT month, figure, bucket, -n FROM report_standing_deltas WHERE person_id = NEW.person_id AND month IS NOT NULL
    ON CONFLICT (month, figure, bucket) DO UPDATE SET n = n + excluded.n;
END;

CREATE TRIGGER report_requests_insert_after AFTER INSERT ON requests
WHEN (SELECT live FROM report_counter_state) = 1
BEGIN
    INSERT INTO report_counts (month, figure, bucket, n)
    SELECT month, figure, bucket, n FROM report_request_deltas WHERE id = NEW.id AND month IS NOT NULL
    ON CONFLICT (month, figure, bucket) DO UPDATE SET n = n + excluded.n;
    INSERT INTO report_counts (month, figure, bucket, n)
    SELECT month, figure, bucket, n FROM report_standing_deltas
     WHERE person_id = NEW.person_id AND month IS NOT NULL
       AND NEW.kind IN ('opt_out', 'opt_in') AND NEW.confirmed_at IS NOT NULL
    ON CONFLICT (month, figure, bucket) DO UPDATE SET n = n + excluded.n;
END;

CREATE TRIGGER report_requests_update_before BEFORE UPDATE ON requests
WHEN (SELECT live FROM report_counter_state) = 1
 AND (OLD.kind IS NOT NEW.kind OR OLD.state IS NOT NEW.state OR OLD.person_id IS NOT NEW.person_id
      OR OLD.received_at IS NOT NEW.received_at OR OLD.due_at IS NOT NEW.due_at
      OR OLD.confirmed_at IS NOT NEW.confirmed_at OR OLD.closed_at IS NOT NEW.closed_at
      OR OLD.extended_at IS NOT NEW.extended_at OR OLD.deadline_offset_us IS NOT NEW.deadline_offset_us
      OR OLD.deadline_offset_secs IS NOT NEW.deadline_offset_secs)
BEGIN
    INSERT INTO report_counts (month, figure, bucket, n)
    SELECT month, figure, bucket, -n FROM report_request_deltas WHERE id = OLD.id AND month IS NOT NULL
    ON CONFLICT (month, figure, bucket) DO UPDATE SET n = n + excluded.n;
    INSERT INTO report_counts (month, figure, bucket, n)
    SELECT month, figure, bucket, -n FROM report_standing_deltas
     WHERE person_id IN (OLD.person_id, NEW.person_id) AND month IS NOT NULL
       AND (OLD.kind IN ('opt_out', 'opt_in') OR NEW.kind IN ('opt_out', 'opt_in'))
       AND (OLD.confirmed_at IS NOT NEW.confirmed_at OR OLD.kind IS NOT NEW.kind OR OLD.person_id IS NOT NEW.person_id)
    ON CONFLICT (month, figure, bucket) DO UPDATE SET n = n + excluded.n;
END;

CREATE TRIGGER report_requests_update_after AFTER UPDATE ON requests
WHEN (SELECT live FROM report_counter_state) = 1
 AND (OLD.kind IS NOT NEW.kind OR OLD.state IS NOT NEW.state OR OLD.person_id IS NOT NEW.person_id
      OR OLD.received_at IS NOT NEW.received_at OR OLD.due_at IS NOT NEW.due_at
      OR OLD.confirmed_at IS NOT NEW.confirmed_at OR OLD.closed_at IS NOT NEW.closed_at
      OR OLD.extended_at IS NOT NEW.extended_at OR OLD.deadline_offset_us IS NOT NEW.deadline_offset_us
      OR OLD.deadline_offset_secs IS NOT NEW.deadline_offset_secs)
BEGIN
    INSERT INTO report_counts (month, figure, bucket, n)
    SELECT month, figure, bucket, n FROM report_request_deltas WHERE id = NEW.id AND month IS NOT NULL
    ON CONFLICT (month, figure, bucket) DO UPDATE SET n = n + excluded.n;
    INSERT INTO report_counts (month, figure, bucket, n)
    SELECT month, figure, bucket, n FROM report_standing_deltas
     WHERE person_id IN (OLD.person_id, NEW.person_id) AND month IS NOT NULL
       AND (OLD.kind IN ('opt_out', 'opt_in') OR NEW.kind IN ('opt_out', 'opt_in'))
       AND (OLD.confirmed_at IS NOT NEW.confirmed_at OR OLD.kind IS NOT NEW.kind OR OLD.person_id IS NOT NEW.person_id)
    ON CONFLICT (month, figure, bucket) DO UPDATE SET n = n + excluded.n;
END;

CREATE TRIGGER report_requests_delete_before BEFORE DELETE ON requests
WHEN (SELECT live FROM report_counter_state) = 1
BEGIN
    INSERT INTO report_counts (month, figure, bucket, n)
    SELECT month, figure, bucket, -n FROM report_request_deltas WHERE id = OLD.id AND month IS NOT NULL
    ON CONFLICT (month, figure, bucket) DO UPDATE SET n = n + excluded.n;
    INSERT INTO report_counts (month, figure, bucket, n)
    SELECT month, figure, bucket, -n FROM report_standing_deltas
     WHERE person_id = OLD.person_id AND month IS NOT NULL
       AND OLD.kind IN ('opt_out', 'opt_in') AND OLD.confirmed_at IS NOT NULL
    ON CONFLICT (month, figure, bucket) DO UPDATE SET n = n + excluded.n;
END;

CREATE TRIGGER report_requests_delete_after AFTER DELETE ON requests
WHEN (SELECT live FROM report_counter_state) = 1
 AND OLD.kind IN ('opt_out', 'opt_in') AND OLD.confirmed_at IS NOT NULL
BEGIN
    INSERT INTO report_counts (month, figure, bucket, n)
    SELECT month, figure, bucket, n FROM report_standing_deltas WHERE person_id = OLD.person_id AND month IS NOT NULL
    ON CONFLICT (month, figure, bucket) DO UPDATE SET n = n + excluded.n;
END;

CREATE TRIGGER report_people_erased_before BEFORE UPDATE OF erased_at ON people
WHEN (SELECT live FROM report_counter_state) = 1 AND OLD.erased_at IS NOT NEW.erased_at
BEGIN
    INSERT INTO report_counts (month, figure, bucket, n)
    SELECT month, figure, bucket, -n FROM report_standing_deltas WHERE person_id = OLD.id AND month IS NOT NULL
    ON CONFLICT (month, figure, bucket) DO UPDATE SET n = n + excluded.n;
END;

CREATE TRIGGER report_people_erased_after AFTER UPDATE OF erased_at ON people
WHEN (SELECT live FROM report_counter_state) = 1 AND OLD.erased_at IS NOT NEW.erased_at
BEGIN
    INSERT INTO report_counts (month, figure, bucket, n)
    SELECT month, figure, bucket, n FROM report_standing_deltas WHERE person_id = NEW.id AND month IS NOT NULL
    ON CONFLICT (month, figure, bucket) DO UPDATE SET n = n + excluded.n;
END;
