-- The monthly report's figures, kept as the requests change (see the SQLite migration of the
-- same version, which also keeps them with triggers, and src/db/counters.rs). On PostgreSQL
-- the tables exist with the same meaning; until the use-cases run on PostgreSQL nothing keeps
-- them, report_counter_state has no row, and a report reads the requests.
CREATE TABLE report_counts (
    month  TEXT NOT NULL,
    figure TEXT NOT NULL,
    bucket INTEGER NOT NULL,
    n      BIGINT NOT NULL,
    PRIMARY KEY (month, figure, bucket)
);

CREATE TABLE report_calendar (
    starts BIGINT PRIMARY KEY,
    month  TEXT NOT NULL
);

CREATE TABLE report_counter_state (
    one      INTEGER PRIMARY KEY CHECK (one = 1),
    timezone TEXT NOT NULL,
    live     BOOLEAN NOT NULL
);
