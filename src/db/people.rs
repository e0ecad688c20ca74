//! `people`: one row per person, an id and little else.

use chrono::{DateTime, Utc};
use rusqlite::{Connection, params};

use super::sql::At;

pub fn insert(db: &Connection, now: DateTime<Utc>) -> rusqlite::Result<i64> {
    db.prepare_cached("INSERT INTO people (created_at) VALUES (?) RETURNING id")?
        .query_row([At(now)], |r| r.get(0))
}

pub fn mark_erased(db: &Connection, person_id: i64, now: DateTime<Utc>) -> rusqlite::Result<()> {
    db.prepare_cached("UPDATE people SET erased_at = ? WHERE id = ?")?
        .execute(params![At(now), person_id])?;
    Ok(())
}
