-- Each month's report: when it was written to REPORTS_DIR, mailed (to at least one officer)
-- and posted to the staff channel. A month counts as mailed only once it went to someone, so
-- officers configured later still receive it.
CREATE TABLE report_months (
    month      TEXT PRIMARY KEY,   -- YYYY-MM in REPORT_TIMEZONE
    written_at TIMESTAMPTZ,
    mailed_at  TIMESTAMPTZ,
    posted_at  TIMESTAMPTZ
);
-- On SQLite the months in report_runs, recorded as sent whether or not anyone received them,
-- are copied here as mailed, so none is sent twice. A PostgreSQL database never held rows of
-- the old layout: report_runs is empty, and only goes.
DROP TABLE report_runs;
