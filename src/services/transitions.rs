//! The one way a request changes state: the row and its audit event move together, and the
//! row moves only from the state it was read in.

use chrono::{DateTime, Utc};

use crate::{
    db::{self, Conn, events::Event, requests::Request},
    domain::RequestState,
};

pub fn record_new(db: &Conn, req: &Request, actor: &str) -> anyhow::Result<()> {
    db::events::append(
        db,
        &Event {
            request_id: req.id,
            at: req.received_at,
            from_state: None,
            to_state: req.state,
            actor: actor.to_owned(),
            note: Some("received".into()),
        },
    )?;
    Ok(())
}

/// Moves an open request to `to`, recording who did it and why.
pub fn transition(
    db: &Conn,
    req: &mut Request,
    to: RequestState,
    actor: &str,
    note: Option<String>,
    now: DateTime<Utc>,
) -> anyhow::Result<()> {
    anyhow::ensure!(
        req.state.is_open(),
        "request #{} is {} and cannot move to {to}",
        req.id,
        req.state
    );
    db::requests::set_state(db, req.id, req.state, to, now)?;
    db::events::append(
        db,
        &Event {
            request_id: req.id,
            at: now,
            from_state: Some(req.state),
            to_state: to,
            actor: actor.to_owned(),
            note,
        },
    )?;
    req.state = to;
    req.updated_at = now;
    Ok(())
}
