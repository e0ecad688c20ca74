//! `erasure_receipts`: keyed hashes of identities erased by a completed deletion.

use chrono::{DateTime, Utc};
use rusqlite::{Connection, params};

use super::sql::At;

pub fn insert(
    db: &Connection,
    person_id: i64,
    request_id: i64,
    kind: &str,
    value_hash: &str,
    now: DateTime<Utc>,
) -> rusqlite::Result<()> {
    db.prepare_cached(
        "INSERT INTO erasure_receipts (person_id, request_id, kind, value_hash, erased_at) VALUES (?, ?, ?, ?, ?)",
    )?
    .execute(params![person_id, request_id, kind, value_hash, At(now)])?;
    Ok(())
}
