//! `limit_events`: what the limits count.

use chrono::{DateTime, Duration, Utc};
use rusqlite::{Connection, params};

use super::sql::At;

/// How many events of `scope` for `key_hash` happened after `since`.
pub fn count_since(
    db: &Connection,
    scope: &str,
    key_hash: &str,
    since: DateTime<Utc>,
) -> rusqlite::Result<i64> {
    db.prepare_cached(
        "SELECT COUNT(*) FROM limit_events WHERE scope = ? AND key_hash = ? AND at > ?",
    )?
    .query_row(params![scope, key_hash, At(since)], |r| r.get(0))
}

/// Records one event, and lets go of this key's events older than two days.
pub fn record(
    db: &Connection,
    scope: &str,
    key_hash: &str,
    at: DateTime<Utc>,
) -> rusqlite::Result<()> {
    db.prepare_cached("INSERT INTO limit_events (scope, key_hash, at) VALUES (?, ?, ?)")?
        .execute(params![scope, key_hash, At(at)])?;
    db.prepare_cached("DELETE FROM limit_events WHERE scope = ? AND key_hash = ? AND at < ?")?
        .execute(params![scope, key_hash, At(at - Duration::days(2))])?;
    Ok(())
}
