//! What the monthly report reads (two streaming passes over `requests`, and `people`) and
//! `report_months`, where each month's report has gone.
//!
//! Times are handed over as the stored text: the report reads a million of them and parses
//! them faster by hand than any general parser (`reports::gather`).

use chrono::{DateTime, Utc};
use rusqlite::{Connection, OptionalExtension};

/// The earliest receive time of any request.
pub fn first_received(db: &Connection) -> rusqlite::Result<Option<String>> {
    db.query_row("SELECT MIN(received_at) FROM requests", [], |r| r.get(0))
}

/// Every erased person and when they were erased.
pub fn erased_people(
    db: &Connection,
    mut each: impl FnMut(i64, &str) -> anyhow::Result<()>,
) -> anyhow::Result<()> {
    let mut stmt = db.prepare("SELECT id, erased_at FROM people WHERE erased_at IS NOT NULL")?;
    let mut rows = stmt.query([])?;
    while let Some(row) = rows.next()? {
        each(row.get(0)?, row.get_ref(1)?.as_str()?)?;
    }
    Ok(())
}

/// Every confirmed choice as (person, confirmed at, is an opt-out), in person then time order,
/// served by the covering index `requests_choices` without sorting.
pub fn choices(
    db: &Connection,
    mut each: impl FnMut(i64, &str, bool) -> anyhow::Result<()>,
) -> anyhow::Result<()> {
    let mut stmt = db.prepare(
        "SELECT person_id, confirmed_at, kind = 'opt_out' FROM requests
         WHERE kind IN ('opt_out', 'opt_in') AND confirmed_at IS NOT NULL
         ORDER BY person_id, confirmed_at, id",
    )?;
    let mut rows = stmt.query([])?;
    while let Some(row) = rows.next()? {
        each(row.get(0)?, row.get_ref(1)?.as_str()?, row.get(2)?)?;
    }
    Ok(())
}

/// One request as the report reads it.
pub struct Decision<'a> {
    pub kind: &'a str,
    pub completed: bool,
    pub received_at: &'a str,
    pub due_at: &'a str,
    pub confirmed_at: Option<&'a str>,
    pub closed_at: Option<&'a str>,
    /// `received_at - deadline` in microseconds.
    pub deadline_offset_us: i64,
    /// When an officer extended its due date.
    pub extended_at: Option<&'a str>,
}

/// Every request other than a status check, in no particular order.
pub fn decisions(
    db: &Connection,
    mut each: impl FnMut(Decision<'_>) -> anyhow::Result<()>,
) -> anyhow::Result<()> {
    let mut stmt = db.prepare(
        "SELECT kind, state = 'completed', received_at, due_at, confirmed_at, closed_at,
                COALESCE(deadline_offset_us, deadline_offset_secs * 1000000), extended_at
         FROM requests WHERE kind != 'status'",
    )?;
    let mut rows = stmt.query([])?;
    while let Some(row) = rows.next()? {
        each(Decision {
            kind: row.get_ref(0)?.as_str()?,
            completed: row.get(1)?,
            received_at: row.get_ref(2)?.as_str()?,
            due_at: row.get_ref(3)?.as_str()?,
            confirmed_at: row.get_ref(4)?.as_str_or_null()?,
            closed_at: row.get_ref(5)?.as_str_or_null()?,
            deadline_offset_us: row.get(6)?,
            extended_at: row.get_ref(7)?.as_str_or_null()?,
        })?;
    }
    Ok(())
}

/// Where one month's report has gone so far.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct MonthState {
    pub written: bool,
    pub mailed: bool,
    pub posted: bool,
}

pub fn month_state(db: &Connection, month: &str) -> rusqlite::Result<MonthState> {
    Ok(db
        .prepare_cached(
            "SELECT written_at IS NOT NULL, mailed_at IS NOT NULL, posted_at IS NOT NULL
             FROM report_months WHERE month = ?",
        )?
        .query_row([month], |r| {
            Ok(MonthState {
                written: r.get(0)?,
                mailed: r.get(1)?,
                posted: r.get(2)?,
            })
        })
        .optional()?
        .unwrap_or_default())
}

/// Sets `column` of `month` to `now` unless it is set already; false when it was (another
/// run or instance got there first).
fn claim(db: &Connection, column: &str, month: &str, now: DateTime<Utc>) -> rusqlite::Result<bool> {
    super::sql::claim_once(db, "report_months", "month", month, column, now)
}

pub fn claim_written(db: &Connection, month: &str, now: DateTime<Utc>) -> rusqlite::Result<bool> {
    claim(db, "written_at", month, now)
}

pub fn claim_mailed(db: &Connection, month: &str, now: DateTime<Utc>) -> rusqlite::Result<bool> {
    claim(db, "mailed_at", month, now)
}

pub fn claim_posted(db: &Connection, month: &str, now: DateTime<Utc>) -> rusqlite::Result<bool> {
    claim(db, "posted_at", month, now)
}
