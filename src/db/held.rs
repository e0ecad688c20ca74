//! `held_mail`: messages kept for a person to look at, because they could not be read.

use chrono::{DateTime, Utc};
use rusqlite::{Connection, OptionalExtension, params};

use super::sql::At;

pub struct NewHeld<'a> {
    pub reason: &'a str,
    pub size: u64,
    pub sender_hash: Option<&'a str>,
    pub message: &'a [u8],
    pub headers_only: bool,
}

#[derive(Debug, Clone)]
pub struct Held {
    pub id: i64,
    pub received_at: DateTime<Utc>,
    pub reason: String,
    pub size: u64,
    pub headers_only: bool,
}

pub fn insert(db: &Connection, held: &NewHeld<'_>, now: DateTime<Utc>) -> rusqlite::Result<i64> {
    db.prepare_cached(
        "INSERT INTO held_mail (received_at, reason, size, sender_hash, message, headers_only)
         VALUES (?, ?, ?, ?, ?, ?)",
    )?
    .execute(params![
        At(now),
        held.reason,
        held.size,
        held.sender_hash,
        held.message,
        held.headers_only
    ])?;
    Ok(db.last_insert_rowid())
}

pub fn list(db: &Connection) -> rusqlite::Result<Vec<Held>> {
    db.prepare("SELECT id, received_at, reason, size, headers_only FROM held_mail ORDER BY id")?
        .query_map([], |r| {
            Ok(Held {
                id: r.get(0)?,
                received_at: r.get::<_, At>(1)?.0,
                reason: r.get(2)?,
                size: r.get(3)?,
                headers_only: r.get(4)?,
            })
        })?
        .collect()
}

pub fn message(db: &Connection, id: i64) -> rusqlite::Result<Option<Vec<u8>>> {
    db.prepare("SELECT message FROM held_mail WHERE id = ?")?
        .query_row([id], |r| r.get(0))
        .optional()
}

pub fn delete(db: &Connection, id: i64) -> rusqlite::Result<bool> {
    Ok(db.execute("DELETE FROM held_mail WHERE id = ?", [id])? == 1)
}

/// Removes what an erased person sent: by the keyed hash of the sender, or any message that
/// names one of their addresses anywhere in it.
pub fn delete_from(
    db: &Connection,
    sender_hashes: &[String],
    addresses: &[String],
) -> rusqlite::Result<()> {
    for h in sender_hashes {
        db.prepare_cached("DELETE FROM held_mail WHERE sender_hash = ?")?
            .execute([h])?;
    }
    for a in addresses {
        db.prepare_cached(
            "DELETE FROM held_mail WHERE instr(lower(CAST(message AS TEXT)), lower(?)) > 0",
        )?
        .execute([a])?;
    }
    Ok(())
}
