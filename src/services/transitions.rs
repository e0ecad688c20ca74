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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::{Channel, RequestKind};

    #[test]
    fn a_closed_request_never_moves_in_any_build() {
        let db = Conn::open_in_memory().unwrap();
        let now = chrono::Utc::now();
        let mut req = Request {
            id: 1,
            person_id: 1,
            kind: RequestKind::OptOut,
            channel: Channel::Console,
            state: RequestState::Completed,
            received_at: now,
            deadline_offset_secs: 0,
            due_at: now,
            person_confirmed_at: None,
            updated_at: now,
            confirmed_at: None,
            closed_at: None,
            extended_at: None,
            original_due_at: None,
        };
        // Refused before any statement runs: the connection has no tables at all.
        let e = transition(&db, &mut req, RequestState::Confirmed, "test", None, now).unwrap_err();
        assert!(e.to_string().contains("cannot move"), "{e}");
        assert_eq!(req.state, RequestState::Completed);
    }
}
