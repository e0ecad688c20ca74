//! `request_notes`: officers' notes on requests, erased with the person.

use chrono::{DateTime, Utc};
use rusqlite::{Connection, params};

use super::sql::At;

#[derive(Debug, Clone)]
pub struct Note {
    pub id: i64,
    pub request_id: i64,
    pub at: DateTime<Utc>,
    pub author: String,
    pub text: String,
}

pub fn add(
    db: &Connection,
    request_id: i64,
    author: &str,
    text: &str,
    now: DateTime<Utc>,
) -> rusqlite::Result<i64> {
    db.prepare_cached(
        "INSERT INTO request_notes (request_id, at, author, text) VALUES (?, ?, ?, ?)",
    )?
    .execute(params![request_id, At(now), author, text])?;
    Ok(db.last_insert_rowid())
}

/// How many notes request `request_id` has.
pub fn count(db: &Connection, request_id: i64) -> rusqlite::Result<usize> {
    db.prepare_cached("SELECT COUNT(*) FROM request_notes WHERE request_id = ?")?
        .query_row([request_id], |r| r.get(0))
}

pub fn for_request(db: &Connection, request_id: i64) -> rusqlite::Result<Vec<Note>> {
    db.prepare_cached("SELECT id, request_id, at, author, text FROM request_notes WHERE request_id = ? ORDER BY id")?
        .query_map([request_id], |r| {
            Ok(Note {
                id: r.get(0)?,
                request_id: r.get(1)?,
                at: r.get::<_, At>(2)?.0,
                author: r.get(3)?,
                text: r.get(4)?,
            })
        })?
        .collect()
}

pub fn delete_for_person(db: &Connection, person_id: i64) -> rusqlite::Result<()> {
    db.prepare_cached(
        "DELETE FROM request_notes WHERE request_id IN (SELECT id FROM requests WHERE person_id = ?)",
    )?
    .execute([person_id])?;
    Ok(())
}
