//! `request_events`: the append-only audit trail of request state changes.

use chrono::{DateTime, Utc};
use rusqlite::{Connection, params};
use serde::Serialize;

use super::sql::At;
use crate::domain::RequestState;

#[derive(Debug, Clone, Serialize)]
pub struct Event {
    pub request_id: i64,
    pub at: DateTime<Utc>,
    pub from_state: Option<RequestState>,
    pub to_state: RequestState,
    /// The channel or role that caused the change; never a name or address.
    pub actor: String,
    pub note: Option<String>,
    /// The notice version the person was shown (`notice_versions`).
    pub notice: Option<String>,
}

/// Appends `event`; its id.
pub fn append(db: &Connection, event: &Event) -> rusqlite::Result<i64> {
    db.prepare_cached(
        "INSERT INTO request_events (request_id, at, from_state, to_state, actor, note, notice)
         VALUES (?, ?, ?, ?, ?, ?, ?)",
    )?
    .execute(params![
        event.request_id,
        At(event.at),
        event.from_state,
        event.to_state,
        event.actor,
        event.note,
        event.notice
    ])?;
    Ok(db.last_insert_rowid())
}

/// The request's events with their ids, oldest first.
pub fn for_request(db: &Connection, request_id: i64) -> rusqlite::Result<Vec<(i64, Event)>> {
    db.prepare_cached(
        "SELECT request_id, at, from_state, to_state, actor, note, notice, id FROM request_events
         WHERE request_id = ? ORDER BY id",
    )?
    .query_map([request_id], |r| {
        Ok((
            r.get(7)?,
            Event {
                request_id: r.get(0)?,
                at: r.get::<_, At>(1)?.0,
                from_state: r.get(2)?,
                to_state: r.get(3)?,
                actor: r.get(4)?,
                note: r.get(5)?,
                notice: r.get(6)?,
            },
        ))
    })?
    .collect()
}
