//! `people`: one row per person, an id and little else.

use chrono::{DateTime, Utc};
use rusqlite::{Connection, OptionalExtension, params};

use super::sql::At;
use crate::domain::Language;

pub fn insert(db: &Connection, now: DateTime<Utc>) -> rusqlite::Result<i64> {
    db.prepare_cached("INSERT INTO people (created_at) VALUES (?)")?
        .execute([At(now)])?;
    Ok(db.last_insert_rowid())
}

pub fn mark_erased(db: &Connection, person_id: i64, now: DateTime<Utc>) -> rusqlite::Result<()> {
    db.prepare_cached("UPDATE people SET erased_at = ?, language = NULL WHERE id = ?")?
        .execute(params![At(now), person_id])?;
    Ok(())
}

/// Whether the person was erased.
pub fn is_erased(db: &Connection, person_id: i64) -> rusqlite::Result<bool> {
    Ok(db
        .prepare_cached("SELECT erased_at IS NOT NULL FROM people WHERE id = ?")?
        .query_row([person_id], |r| r.get(0))
        .optional()?
        .unwrap_or(false))
}

/// The language the person chose to be answered in, if they chose one.
pub fn language(db: &Connection, person_id: i64) -> rusqlite::Result<Option<Language>> {
    Ok(db
        .prepare_cached("SELECT language FROM people WHERE id = ?")?
        .query_row([person_id], |r| r.get::<_, Option<Language>>(0))
        .optional()?
        .flatten())
}

/// Records the language the person chose, and answers their open requests in it from now on.
pub fn choose_language(
    db: &Connection,
    person_id: i64,
    language: Language,
) -> rusqlite::Result<()> {
    db.prepare_cached("UPDATE people SET language = ? WHERE id = ?")?
        .execute(params![language, person_id])?;
    db.prepare_cached(
        "UPDATE requests SET language = ?
         WHERE person_id = ? AND state IN ('awaiting_confirmation', 'confirmed') AND language <> ?",
    )?
    .execute(params![language, person_id, language])?;
    Ok(())
}
