//! `sender_requests`: the requests an unproven mail sender made, so one sender files one
//! waiting request of a kind however often they write.

use rusqlite::{Connection, OptionalExtension, params};

use crate::domain::{RequestKind, RequestState};

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
