//! `limit_events` and `sender_requests`: what limits count, and requests by unproven senders.

use chrono::{DateTime, Duration, Utc};
use rusqlite::{Connection, OptionalExtension, params};

use super::sql::At;
use crate::domain::{RequestKind, RequestState};

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

pub fn record_sender(db: &Connection, request_id: i64, sender_hash: &str) -> rusqlite::Result<()> {
    db.prepare_cached("INSERT INTO sender_requests (request_id, sender_hash) VALUES (?, ?)")?
        .execute(params![request_id, sender_hash])?;
    Ok(())
}

/// The person behind the latest request this unproven sender made.
pub fn sender_person(db: &Connection, sender_hash: &str) -> rusqlite::Result<Option<i64>> {
    db.prepare_cached(
        "SELECT r.person_id FROM sender_requests s JOIN requests r ON r.id = s.request_id
         WHERE s.sender_hash = ? ORDER BY s.request_id DESC LIMIT 1",
    )?
    .query_row([sender_hash], |r| r.get(0))
    .optional()
}

/// Whether the sender has a request of `kind` still waiting for their confirmation.
pub fn sender_waiting(
    db: &Connection,
    sender_hash: &str,
    kind: RequestKind,
) -> rusqlite::Result<Option<i64>> {
    db.prepare_cached(
        "SELECT r.id FROM sender_requests s JOIN requests r ON r.id = s.request_id
         WHERE s.sender_hash = ? AND r.kind = ? AND r.state = ?",
    )?
    .query_row(
        params![sender_hash, kind, RequestState::AwaitingConfirmation],
        |r| r.get(0),
    )
    .optional()
}

pub fn forget_senders_of(db: &Connection, person_id: i64) -> rusqlite::Result<()> {
    db.prepare_cached(
        "DELETE FROM sender_requests WHERE request_id IN (SELECT id FROM requests WHERE person_id = ?)",
    )?
    .execute([person_id])?;
    Ok(())
}
