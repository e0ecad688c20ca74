//! The monthly report's figures kept as the requests change (migrations 22 and 24): triggers
//! on `requests` and `people` take away what a row added to `report_counts` before it changes
//! and add back what it adds after, in the same transaction, through views that say once
//! what each request and each person's choices count for. A report then reads one row per
//! month and figure, however many requests there are. Each request's months are derived
//! once per change and kept beside it (`report_request_kept_months`), so the figures that
//! read them do not look them up again.
//!
//! The months are those of `REPORT_TIMEZONE`, looked up in `report_calendar`, which the
//! service fills for its zone. When the zone changes, or before the counts were first built,
//! the triggers are off and [`rebuild`] recomputes everything from the requests; until then
//! a report reads the requests (`reports::gather`, which stays the reference the counts are
//! checked against).

use std::collections::BTreeMap;

use chrono_tz::Tz;
use rusqlite::{Connection, OptionalExtension, params};

use crate::reports::Month;

/// The first and last years the calendar covers: a stored time outside it counts in no month.
const FIRST_YEAR: i32 = 1970;
const LAST_YEAR: i32 = 2199;

/// Whether the counts are kept, and for `tz`.
pub fn live_for(db: &Connection, tz: Tz) -> rusqlite::Result<bool> {
    Ok(db
        .prepare_cached("SELECT timezone, live FROM report_counter_state")?
        .query_row([], |r| Ok((r.get::<_, String>(0)?, r.get::<_, bool>(1)?)))
        .optional()?
        .is_some_and(|(zone, live)| live && zone == tz.name()))
}

/// Builds the counts unless they are kept for `tz` already; true when it had to.
pub fn ensure(db: &Connection, tz: Tz) -> rusqlite::Result<bool> {
    if live_for(db, tz)? {
        return Ok(false);
    }
    rebuild(db, tz)?;
    Ok(true)
}

/// Stops the triggers until the next [`rebuild`] (for filling many rows at once).
pub fn pause(db: &Connection) -> rusqlite::Result<()> {
    db.execute("UPDATE report_counter_state SET live = 0", [])?;
    Ok(())
}

/// Recomputes the calendar for `tz` and every count from the requests, then turns the
/// triggers on. Returns the number of requests counted.
pub fn rebuild(db: &Connection, tz: Tz) -> rusqlite::Result<i64> {
    db.execute("DELETE FROM report_counter_state", [])?;
    db.execute("DELETE FROM report_calendar", [])?;
    {
        let mut insert =
            db.prepare_cached("INSERT INTO report_calendar (starts, month) VALUES (?, ?)")?;
        let mut m = Month::new(FIRST_YEAR, 1).expect("a valid month");
        let last = Month::new(LAST_YEAR, 12).expect("a valid month");
        while m <= last {
            insert.execute(params![m.bounds(tz).0.timestamp(), m.to_string()])?;
            m = m.next();
        }
    }
    db.execute("DELETE FROM report_counts", [])?;
    // Each request's months, derived once, which the figures below read (migration 24).
    db.execute("DELETE FROM report_request_kept_months", [])?;
    db.execute(
        "INSERT INTO report_request_kept_months
             (id, m_received, m_overdue, m_answered, m_extended, m_closed, m_confirmed, hundredths)
         SELECT id, m_received, m_overdue, m_answered, m_extended, m_closed, m_confirmed, hundredths
           FROM report_request_months",
        [],
    )?;
    // Summed here as the rows stream by: a GROUP BY would sort every delta first, in memory
    // (SQLCipher keeps temporary data in memory, so it is never written out unencrypted).
    let mut sums: std::collections::HashMap<(String, String, i64), i64> = Default::default();
    {
        let mut stmt = db.prepare(
            "SELECT month, figure, bucket, n FROM report_request_deltas WHERE month IS NOT NULL
             UNION ALL
             SELECT month, figure, bucket, n FROM report_standing_deltas WHERE month IS NOT NULL",
        )?;
        let mut rows = stmt.query([])?;
        while let Some(row) = rows.next()? {
            let key = (row.get(0)?, row.get(1)?, row.get(2)?);
            *sums.entry(key).or_default() += row.get::<_, i64>(3)?;
        }
    }
    let mut insert = db.prepare_cached(
        "INSERT INTO report_counts (month, figure, bucket, n) VALUES (?, ?, ?, ?)",
    )?;
    for ((month, figure, bucket), n) in sums.into_iter().filter(|(_, n)| *n != 0) {
        insert.execute(params![month, figure, bucket, n])?;
    }
    db.execute(
        "INSERT INTO report_counter_state (one, timezone, live) VALUES (1, ?, 1)",
        [tz.name()],
    )?;
    db.query_row("SELECT COUNT(*) FROM requests", [], |r| r.get(0))
}

/// Every count of every month up to and including `until` (`YYYY-MM`), as
/// `(month, figure, bucket) -> n`, leaving out those that came back to zero.
pub fn up_to(db: &Connection, until: &str) -> rusqlite::Result<Counts> {
    let mut stmt = db.prepare_cached(
        "SELECT month, figure, bucket, n FROM report_counts WHERE month <= ? AND n != 0",
    )?;
    let mut rows = stmt.query([until])?;
    let mut counts = BTreeMap::new();
    while let Some(row) = rows.next()? {
        counts.insert((row.get(0)?, row.get(1)?, row.get(2)?), row.get(3)?);
    }
    Ok(counts)
}

/// `(month, figure, bucket) -> n`.
pub type Counts = BTreeMap<(String, String, i64), i64>;

/// The first month with a request received in it.
pub fn first_month(db: &Connection) -> rusqlite::Result<Option<String>> {
    db.prepare_cached(
        "SELECT month FROM report_counts WHERE figure = 'received' AND n > 0
         ORDER BY month LIMIT 1",
    )?
    .query_row([], |r| r.get(0))
    .optional()
}
