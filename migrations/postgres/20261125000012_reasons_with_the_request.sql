-- The reason an officer gave for extending a due date lives with the request, not in the
-- append-only audit trail: it is text an officer typed, it may name someone (an address, a
-- phone number, an account id, however written), and everything that can name a person is
-- erased with them. The trail keeps that a reason was given. The reason is sealed under the
-- data key of the request's person; NULL when none was given.
ALTER TABLE requests ADD COLUMN extension_reason_sealed BYTEA;

-- On SQLite, reasons given before this change are moved here out of the trail (whose notes
-- read "due date extended by N days, from A to B: REASON"), the trail's guard is taken off for
-- that one rewrite and put back, and the reasons of people erased before are dropped. A
-- PostgreSQL database never held rows of the old layout: its trail never held a reason, so it
-- is not rewritten and its triggers stay as they are.
