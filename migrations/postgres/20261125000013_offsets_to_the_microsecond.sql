-- The offset to the policy deadline to the microsecond, as the receive time is kept: a
-- request 0.2 s after the deadline is after it, not "exactly at" it. `deadline_offset_secs`
-- stays (whole seconds, toward zero) for what shows seconds; every comparison with the
-- deadline uses this column. Nullable as on SQLite, where rows from before carry their whole
-- seconds.
ALTER TABLE requests ADD COLUMN deadline_offset_us BIGINT;
-- A PostgreSQL database never held rows of the old layout: no earlier offsets to convert.
