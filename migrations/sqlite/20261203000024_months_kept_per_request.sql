-- Each request's months, derived once when the request is written instead of once per figure
-- it counts for. Migration 22's views looked every month up again in each branch that used
-- it (report_calendar and unixepoch, for each of seven figures, before and after each
-- change); the triggers now write a request's months here first, and the figures read them.
--
-- Kept by the same triggers, in the same transaction as the change, while the counts are
-- live; `report rebuild` (src/db/counters.rs) derives every row again. A row goes when its
-- request goes, whether the counts are live or not. Nothing here names a person.
CREATE TABLE report_request_kept_months (
    id          INTEGER PRIMARY KEY,
    m_received  TEXT,
    m_overdue   TEXT,
    m_answered  TEXT,
    m_extended  TEXT,
    m_closed    TEXT,
    m_confirmed TEXT,
    hundredths  INTEGER
);

DROP VIEW report_standing_deltas;
DROP VIEW report_choice_spans;
DROP VIEW report_choice_months;
DROP VIEW report_request_deltas;
DROP VIEW report_request_months;

-- The derivation, as in migration 22, with the month of the confirmation added (a choice
-- stands from it).
CREATE VIEW report_request_months AS
SELECT id,
       (SELECT month FROM report_calendar WHERE starts <= received ORDER BY starts DESC LIMIT 1) AS m_received,
       (SELECT month FROM report_calendar WHERE starts <= max(received, due) ORDER BY starts DESC LIMIT 1) AS m_overdue,
       (SELECT month FROM report_calendar
         WHERE starts <= CASE WHEN kind = 'deletion' THEN closed ELSE COALESCE(confirmed_s, closed) END
         ORDER BY starts DESC LIMIT 1) AS m_answered,
       (SELECT month FROM report_calendar WHERE starts <= extended ORDER BY starts DESC LIMIT 1) AS m_extended,
       (SELECT month FROM report_calendar WHERE starts <= closed ORDER BY starts DESC LIMIT 1) AS m_closed,
       (SELECT month FROM report_calendar WHERE starts <= confirmed_s ORDER BY starts DESC LIMIT 1) AS m_confirmed,
       (closed - received + 432) / 864 AS hundredths
FROM report_request_seconds;

-- A request with its kept months.
CREATE VIEW report_request_known AS
SELECT r.id, r.person_id, r.kind, r.state, r.confirmed_at, r.confirmed_at IS NOT NULL AS confirmed,
       COALESCE(r.deadline_offset_us, r.deadline_offset_secs * 1000000) <= 0 AS by_deadline,
       k.m_received, k.m_overdue, k.m_answered, k.m_extended, k.m_closed, k.m_confirmed, k.hundredths
FROM requests r JOIN report_request_kept_months k ON k.id = r.id;

-- What each request adds to report_counts: the seven rules of migration 22 as one pass over
-- the row (rule 5 takes back at the answer's month what rule 4 counted as overdue).
CREATE VIEW report_request_deltas AS
SELECT k.id,
       CASE f.rule WHEN 4 THEN k.m_overdue WHEN 5 THEN k.m_answered WHEN 6 THEN k.m_extended
                   WHEN 7 THEN k.m_closed ELSE k.m_received END AS month,
       CASE f.rule WHEN 1 THEN 'received'
                   WHEN 2 THEN CASE k.kind WHEN 'opt_out' THEN 'opt_outs' WHEN 'opt_in' THEN 'opt_ins' ELSE 'deletions' END
                   WHEN 3 THEN CASE WHEN k.by_deadline THEN 'before_deadline' ELSE 'after_deadline' END
                   WHEN 6 THEN 'extended' WHEN 7 THEN 'completed' ELSE 'overdue' END AS figure,
       CASE f.rule WHEN 7 THEN k.hundredths ELSE 0 END AS bucket,
       CASE f.rule WHEN 5 THEN -1 ELSE 1 END AS n
FROM report_request_known k
CROSS JOIN (SELECT 1 AS rule UNION ALL SELECT 2 UNION ALL SELECT 3 UNION ALL SELECT 4
            UNION ALL SELECT 5 UNION ALL SELECT 6 UNION ALL SELECT 7) AS f
WHERE CASE f.rule
        WHEN 1 THEN 1
        WHEN 2 THEN k.kind != 'status' AND k.confirmed
        WHEN 3 THEN k.kind != 'status' AND k.confirmed
        WHEN 4 THEN k.kind != 'status' AND (k.m_answered IS NULL OR k.m_overdue < k.m_answered)
        WHEN 5 THEN k.kind != 'status' AND k.m_overdue < k.m_answered
        WHEN 6 THEN k.kind != 'status' AND k.m_extended IS NOT NULL
        ELSE k.kind = 'deletion' AND k.state = 'completed' AND k.m_closed IS NOT NULL
      END;

-- Each confirmed choice stands from its confirmation until the person's next one, or until
-- the person is erased, whichever comes first (as in migration 22).
CREATE VIEW report_choice_months AS
SELECT c.person_id, c.kind, c.m_confirmed AS m_from,
       (SELECT n.m_confirmed FROM report_request_known n
         WHERE n.person_id = c.person_id AND n.kind IN ('opt_out', 'opt_in')
           AND n.confirmed_at IS NOT NULL
           AND (n.confirmed_at > c.confirmed_at OR (n.confirmed_at = c.confirmed_at AND n.id > c.id))
         ORDER BY n.confirmed_at, n.id LIMIT 1) AS m_next,
       (SELECT month FROM report_calendar
         WHERE starts <= (SELECT unixepoch(substr(p.erased_at, 1, 19) || CASE WHEN substr(p.erased_at, -1) = 'Z' THEN 'Z' ELSE substr(p.erased_at, -6) END)
                            FROM people p WHERE p.id = c.person_id)
         ORDER BY starts DESC LIMIT 1) AS m_erased
FROM report_request_known c
WHERE c.kind IN ('opt_out', 'opt_in') AND c.confirmed_at IS NOT NULL;

CREATE VIEW report_choice_spans AS
SELECT person_id, CASE kind WHEN 'opt_out' THEN 'standing_out' ELSE 'standing_in' END AS figure, m_from,
       min(COALESCE(m_next, m_erased), COALESCE(m_erased, m_next)) AS m_until
FROM report_choice_months;

CREATE VIEW report_standing_deltas AS
SELECT person_id, m_from AS month, figure, 0 AS bucket, 1 AS n FROM report_choice_spans
 WHERE m_from IS NOT NULL AND (m_until IS NULL OR m_from < m_until)
UNION ALL
SELECT person_id, m_until, figure, 0, -1 FROM report_choice_spans
 WHERE m_from < m_until;

-- The triggers that add what a row counts for derive its months first. The ones that take
-- away (BEFORE) read the months kept from the row's last change, which are its OLD ones.
DROP TRIGGER report_requests_insert_after;
CREATE TRIGGER report_requests_insert_after AFTER INSERT ON requests
WHEN (SELECT live FROM report_counter_state) = 1
BEGIN
    INSERT OR REPLACE INTO report_request_kept_months
        (id, m_received, m_overdue, m_answered, m_extended, m_closed, m_confirmed, hundredths)
    SELECT id, m_received, m_overdue, m_answered, m_extended, m_closed, m_confirmed, hundredths
      FROM report_request_months WHERE id = NEW.id;
    INSERT INTO report_counts (month, figure, bucket, n)
    SELECT month, figure, bucket, n FROM report_request_deltas WHERE id = NEW.id AND month IS NOT NULL
    ON CONFLICT (month, figure, bucket) DO UPDATE SET n = n + excluded.n;
    INSERT INTO report_counts (month, figure, bucket, n)
    SELECT month, figure, bucket, n FROM report_standing_deltas
     WHERE person_id = NEW.person_id AND month IS NOT NULL
       AND NEW.kind IN ('opt_out', 'opt_in') AND NEW.confirmed_at IS NOT NULL
    ON CONFLICT (month, figure, bucket) DO UPDATE SET n = n + excluded.n;
END;

DROP TRIGGER report_requests_update_after;
CREATE TRIGGER report_requests_update_after AFTER UPDATE ON requests
WHEN (SELECT live FROM report_counter_state) = 1
 AND (OLD.kind IS NOT NEW.kind OR OLD.state IS NOT NEW.state OR OLD.person_id IS NOT NEW.person_id
      OR OLD.received_at IS NOT NEW.received_at OR OLD.due_at IS NOT NEW.due_at
      OR OLD.confirmed_at IS NOT NEW.confirmed_at OR OLD.closed_at IS NOT NEW.closed_at
      OR OLD.extended_at IS NOT NEW.extended_at OR OLD.deadline_offset_us IS NOT NEW.deadline_offset_us
      OR OLD.deadline_offset_secs IS NOT NEW.deadline_offset_secs)
BEGIN
    DELETE FROM report_request_kept_months WHERE id = OLD.id AND OLD.id IS NOT NEW.id;
    INSERT OR REPLACE INTO report_request_kept_months
        (id, m_received, m_overdue, m_answered, m_extended, m_closed, m_confirmed, hundredths)
    SELECT id, m_received, m_overdue, m_answered, m_extended, m_closed, m_confirmed, hundredths
      FROM report_request_months WHERE id = NEW.id;
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

CREATE TRIGGER report_request_kept_months_delete AFTER DELETE ON requests
BEGIN
    DELETE FROM report_request_kept_months WHERE id = OLD.id;
END;

-- Filled for the requests already there by the next rebuild: the counts wait for it.
UPDATE report_counter_state SET live = 0;
