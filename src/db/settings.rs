//! `settings`: installation values generated on first start, and small markers the workers
//! keep.

use rusqlite::{Connection, OptionalExtension};

pub fn get(db: &Connection, name: &str) -> rusqlite::Result<Option<String>> {
    db.prepare_cached("SELECT value FROM settings WHERE name = ?")?
        .query_row([name], |r| r.get(0))
        .optional()
}

/// Stores `value` unless the name is already set; returns what is stored afterwards.
pub fn get_or_insert(db: &Connection, name: &str, value: &str) -> rusqlite::Result<String> {
    db.prepare_cached(
        "INSERT INTO settings (name, value) VALUES (?, ?) ON CONFLICT (name) DO NOTHING",
    )?
    .execute([name, value])?;
    Ok(get(db, name)?.unwrap_or_default())
}

pub fn set(db: &Connection, name: &str, value: &str) -> rusqlite::Result<()> {
    db.prepare_cached(
        "INSERT INTO settings (name, value) VALUES (?, ?)
         ON CONFLICT (name) DO UPDATE SET value = excluded.value",
    )?
    .execute([name, value])?;
    Ok(())
}

pub fn delete(db: &Connection, name: &str) -> rusqlite::Result<()> {
    db.prepare_cached("DELETE FROM settings WHERE name = ?")?
        .execute([name])?;
    Ok(())
}
