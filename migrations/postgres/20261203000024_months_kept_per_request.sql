-- Each request's months, kept once per request for the monthly report's figures (see the
-- SQLite migration of the same version). On PostgreSQL the table exists with the same
-- meaning; until the use-cases run on PostgreSQL nothing fills it.
CREATE TABLE report_request_kept_months (
    id          BIGINT PRIMARY KEY REFERENCES requests(id) ON DELETE CASCADE,
    m_received  TEXT,
    m_overdue   TEXT,
    m_answered  TEXT,
    m_extended  TEXT,
    m_closed    TEXT,
    m_confirmed TEXT,
    hundredths  INTEGER
);
