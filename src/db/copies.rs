//! `inbound_copies`: where handled inbound mail still lies, so an erased person's copies can be
//! removed from the mailbox.

use chrono::{DateTime, Utc};
use rusqlite::{Connection, params};

use super::sql::At;

pub fn record(
    db: &Connection,
    sender_hash: &str,
    source: &str,
    locator: &str,
    now: DateTime<Utc>,
) -> rusqlite::Result<()> {
    db.prepare_cached(
        "INSERT INTO inbound_copies (sender_hash, source, locator, created_at) VALUES (?, ?, ?, ?)",
    )?
    .execute(params![sender_hash, source, locator, At(now)])?;
    Ok(())
}

/// Marks every copy from these senders for removal.
pub fn mark_for_purge(db: &Connection, sender_hashes: &[String]) -> rusqlite::Result<()> {
    for h in sender_hashes {
        db.prepare_cached("UPDATE inbound_copies SET purge = 1 WHERE sender_hash = ?")?
            .execute([h])?;
    }
    Ok(())
}

/// Copies of `source` waiting to be removed: (id, locator).
pub fn to_purge(db: &Connection, source: &str) -> rusqlite::Result<Vec<(i64, String)>> {
    db.prepare_cached(
        "SELECT id, locator FROM inbound_copies WHERE purge = 1 AND source = ? ORDER BY id",
    )?
    .query_map([source], |r| Ok((r.get(0)?, r.get(1)?)))?
    .collect()
}

pub fn purged(db: &Connection, id: i64) -> rusqlite::Result<()> {
    db.prepare_cached("DELETE FROM inbound_copies WHERE id = ?")?
        .execute([id])?;
    Ok(())
}
