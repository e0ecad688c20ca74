-- Each month's report: when it was written to REPORTS_DIR, mailed (to at least one officer)
-- and posted to the staff channel. A month counts as mailed only once it went to someone, so
-- officers configured later still receive it. Months in report_runs were recorded as sent
-- whether or not anyone received them; they are kept as mailed, so none is sent twice.
CREATE TABLE report_months (
    month      TEXT PRIMARY KEY,   -- YYYY-MM in REPORT_TIMEZONE
    written_at TEXT,
    mailed_at  TEXT,
    posted_at  TEXT
);
INSERT INTO report_months (month, mailed_at, posted_at)
    SELECT month, sent_at, posted_at FROM report_runs;
DROP TABLE report_runs;
