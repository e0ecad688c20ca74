//! `person_notices`: what a person is told the next time they reach the bot.

use chrono::{DateTime, Utc};
use rusqlite::{Connection, params};

use super::sql::At;

pub fn add(
    db: &Connection,
    person_id: i64,
    text: &str,
    now: DateTime<Utc>,
) -> rusqlite::Result<()> {
    db.prepare_cached("INSERT INTO person_notices (person_id, text, created_at) VALUES (?, ?, ?)")?
        .execute(params![person_id, text, At(now)])?;
    Ok(())
}

/// The person's notices, oldest first, removed as they are read.
pub fn take(db: &Connection, person_id: i64) -> rusqlite::Result<Vec<String>> {
    let texts = db
        .prepare_cached("SELECT text FROM person_notices WHERE person_id = ? ORDER BY id")?
        .query_map([person_id], |r| r.get(0))?
        .collect::<rusqlite::Result<Vec<String>>>()?;
    if !texts.is_empty() {
        delete_for_person(db, person_id)?;
    }
    Ok(texts)
}

pub fn delete_for_person(db: &Connection, person_id: i64) -> rusqlite::Result<()> {
    db.prepare_cached("DELETE FROM person_notices WHERE person_id = ?")?
        .execute([person_id])?;
    Ok(())
}
