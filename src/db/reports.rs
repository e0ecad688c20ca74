//! What the monthly report reads (two streaming passes over `requests`, and `people`) and
//! `report_runs`, which month was sent and posted.
//!
//! Times are handed over as the stored text: the report reads a million of them and parses
//! them faster by hand than any general parser (`reports::gather`).

use chrono::{DateTime, Utc};
use rusqlite::{Connection, params};

use super::sql::At;

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
    pub deadline_offset_secs: i64,
}

/// Every request other than a status check, in no particular order.
pub fn decisions(
    db: &Connection,
    mut each: impl FnMut(Decision<'_>) -> anyhow::Result<()>,
) -> anyhow::Result<()> {
    let mut stmt = db.prepare(
        "SELECT kind, state = 'completed', received_at, due_at, confirmed_at, closed_at, deadline_offset_secs
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
            deadline_offset_secs: row.get(6)?,
        })?;
    }
    Ok(())
}

pub fn was_sent(db: &Connection, month: &str) -> rusqlite::Result<bool> {
    db.query_row(
        "SELECT EXISTS (SELECT 1 FROM report_runs WHERE month = ?)",
        [month],
        |r| r.get(0),
    )
}

/// Claims `month` as sent now; false when another run (or instance) already did.
pub fn claim(db: &Connection, month: &str, now: DateTime<Utc>) -> rusqlite::Result<bool> {
    Ok(db
        .prepare_cached(
            "INSERT INTO report_runs (month, sent_at) VALUES (?, ?) ON CONFLICT DO NOTHING",
        )?
        .execute(params![month, At(now)])?
        == 1)
}

/// Months sent but not yet posted to the staff channel, oldest first.
pub fn unposted(db: &Connection) -> rusqlite::Result<Vec<String>> {
    db.prepare("SELECT month FROM report_runs WHERE posted_at IS NULL ORDER BY month")?
        .query_map([], |r| r.get(0))?
        .collect()
}

pub fn mark_posted(db: &Connection, month: &str, now: DateTime<Utc>) -> rusqlite::Result<()> {
    db.execute(
        "UPDATE report_runs SET posted_at = ? WHERE month = ?",
        params![At(now), month],
    )?;
    Ok(())
}
