-- The reason an officer gave for extending a due date lives with the request, not in the
-- append-only audit trail: it is text an officer typed, it may name someone (an address, a
-- phone number, an account id, however written), and everything that can name a person is
-- erased with them. The trail keeps that a reason was given.
ALTER TABLE requests ADD COLUMN extension_reason TEXT;

-- Reasons given before this change were written into the trail as
-- "due date extended by N days, from A to B: REASON". Dates read "2025-10-25 19:59 UTC", so
-- the first ": " ends the part that is ours.
UPDATE requests SET extension_reason = (
    SELECT substr(e.note, instr(e.note, ': ') + 2) FROM request_events e
    WHERE e.request_id = requests.id AND e.note LIKE 'due date extended by %' AND instr(e.note, ': ') > 0
    ORDER BY e.id DESC LIMIT 1
) WHERE extended_at IS NOT NULL;

-- The trail is append-only; this one rewrite takes its guard off and puts it back, in the same
-- transaction as the migration.
DROP TRIGGER request_events_no_update;
UPDATE request_events SET note = substr(note, 1, instr(note, ': ') - 1) || ' (reason given)'
WHERE note LIKE 'due date extended by %' AND instr(note, ': ') > 0;
CREATE TRIGGER request_events_no_update BEFORE UPDATE ON request_events
BEGIN SELECT RAISE(ABORT, 'request_events is append-only'); END;

-- Notes and reasons of an erased person's requests were erased already; the reasons of
-- people erased before this change go now.
UPDATE requests SET extension_reason = NULL
WHERE person_id IN (SELECT id FROM people WHERE erased_at IS NOT NULL);
