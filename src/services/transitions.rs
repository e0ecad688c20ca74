//! The one way a request changes state: the row and its audit event move together, and the
//! row moves only from the state it was read in.

use chrono::{DateTime, Utc};

use super::{log, uow::Uow};
use crate::{
    db::{events::Event, requests::Request},
    domain::RequestState,
};

pub fn record_new(uow: &Uow<'_>, req: &Request, actor: &str) -> anyhow::Result<()> {
    log::append(
        uow,
        req,
        Event {
            request_id: req.id,
            at: req.received_at,
            from_state: None,
            to_state: req.state,
            actor: actor.to_owned(),
            note: Some("received".into()),
            notice: None,
        },
    )
}

/// Moves an open request to `to`, recording who did it and why.
pub fn transition(
    uow: &Uow<'_>,
    req: &mut Request,
    to: RequestState,
    actor: &str,
    note: Option<String>,
    now: DateTime<Utc>,
) -> anyhow::Result<()> {
    movable(req, to)?;
    uow.db.set_state(req.id, req.state, to, now)?;
    let from = req.state;
    // As set_state left the row.
    req.state = to;
    req.updated_at = now;
    if to == RequestState::Confirmed {
        req.confirmed_at.get_or_insert(now);
    }
    if !to.is_open() {
        req.closed_at = Some(now);
    }
    log::append(
        uow,
        req,
        Event {
            request_id: req.id,
            at: now,
            from_state: Some(from),
            to_state: to,
            actor: actor.to_owned(),
            note,
            notice: None,
        },
    )
}

/// Only an open request moves, in every build.
fn movable(req: &Request, to: RequestState) -> anyhow::Result<()> {
    anyhow::ensure!(
        req.state.is_open(),
        "request #{} is {} and cannot move to {to}",
        req.id,
        req.state
    );
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::{Channel, RequestKind};

    #[test]
    fn a_closed_request_never_moves_in_any_build() {
        let now = chrono::Utc::now();
        let req = Request {
            id: 1,
            person_id: 1,
            kind: RequestKind::OptOut,
            channel: Channel::Console,
            state: RequestState::Completed,
            received_at: now,
            deadline_offset_us: 0,
            due_at: now,
            person_confirmed_at: None,
            updated_at: now,
            confirmed_at: None,
            closed_at: None,
            extended_at: None,
            original_due_at: None,
            language: crate::domain::Language::En,
        };
        // Refused before any statement runs.
        let e = movable(&req, RequestState::Confirmed).unwrap_err();
        assert!(e.to_string().contains("cannot move"), "{e}");
        assert_eq!(req.state, RequestState::Completed);
    }
}
