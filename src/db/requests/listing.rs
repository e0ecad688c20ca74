//! The listings of requests officers read (`requests list`, `requests show`, the counts): which
//! requests a filter selects, in the order they are due, with only the columns a listing shows.

use chrono::{DateTime, Utc};
use rusqlite::{Connection, OptionalExtension, Row};

use super::{COLUMNS, Request, from_row};
use crate::db::sql::At;
use crate::domain::{Channel, RequestKind, RequestState};

/// Which requests a listing shows.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Filter {
    /// Only this state; with `None`, every state (or every open or every closed one).
    pub state: Option<RequestState>,
    pub open_only: bool,
    pub closed_only: bool,
    /// Only this kind. Status questions (recorded as requests by earlier versions) are never
    /// listed: they are questions, not requests.
    pub kind: Option<RequestKind>,
    /// At most this many rows.
    pub limit: Option<u32>,
}

impl Filter {
    fn states(&self) -> Vec<RequestState> {
        match (self.state, self.open_only, self.closed_only) {
            (Some(s), _, _) => vec![s],
            (None, true, false) => RequestState::ALL
                .iter()
                .copied()
                .filter(|s| s.is_open())
                .collect(),
            (None, false, true) => RequestState::ALL
                .iter()
                .copied()
                .filter(|s| !s.is_open())
                .collect(),
            (None, _, _) => RequestState::ALL.to_vec(),
        }
    }

    /// The WHERE clause: words from the typed enums only, never input.
    fn sql(&self) -> String {
        let mut clauses = vec![match self.kind {
            Some(k) => format!("r.kind = '{}'", k.as_str()),
            None => "r.kind != 'status'".to_owned(),
        }];
        let states = self.states();
        if states.len() != RequestState::ALL.len() {
            let states = states
                .iter()
                .map(|s| format!("'{}'", s.as_str()))
                .collect::<Vec<_>>()
                .join(", ");
            // One state: the (state, due_at) index serves the order. Several: the unary plus
            // keeps the planner off the state index, so it walks the due-order index instead
            // of sorting every matching row in memory.
            clauses.push(if self.states().len() == 1 {
                format!("r.state = {states}")
            } else {
                format!("+r.state IN ({states})")
            });
        }
        clauses.join(" AND ")
    }
}

/// One row of an officer listing: no names or addresses, only whether an email is proven.
/// Only what a listing shows is read, since a listing may be of every request.
#[derive(Debug, Clone)]
pub struct Listed {
    pub id: i64,
    pub kind: RequestKind,
    pub state: RequestState,
    pub channel: Channel,
    pub received_at: DateTime<Utc>,
    pub deadline_offset_us: i64,
    pub due_at: DateTime<Utc>,
    pub email_verified: bool,
}

const LISTED: &str = "r.id, r.kind, r.state, r.channel, r.received_at, \
                      COALESCE(r.deadline_offset_us, r.deadline_offset_secs * 1000000), r.due_at";

fn listed_from_row(row: &Row<'_>) -> rusqlite::Result<Listed> {
    Ok(Listed {
        id: row.get(0)?,
        kind: row.get(1)?,
        state: row.get(2)?,
        channel: row.get(3)?,
        received_at: row.get::<_, At>(4)?.0,
        deadline_offset_us: row.get(5)?,
        due_at: row.get::<_, At>(6)?.0,
        email_verified: row.get(7)?,
    })
}

/// Streams the requests `filter` selects, oldest due first, to `each`; memory stays flat
/// however many there are.
pub fn list(
    db: &Connection,
    filter: Filter,
    mut each: impl FnMut(Listed) -> anyhow::Result<()>,
) -> anyhow::Result<()> {
    let limit = filter.limit.map_or(-1, i64::from);
    let mut stmt = db.prepare(&format!(
        "SELECT {LISTED}, {VERIFIED_EMAIL}
         FROM requests r
         WHERE {}
         ORDER BY r.due_at, r.id
         LIMIT ?",
        filter.sql()
    ))?;
    let mut rows = stmt.query([limit])?;
    while let Some(row) = rows.next()? {
        each(listed_from_row(row)?)?;
    }
    Ok(())
}

const VERIFIED_EMAIL: &str = "EXISTS (SELECT 1 FROM identities i
        WHERE i.person_id = r.person_id AND i.kind = 'email' AND i.verified_at IS NOT NULL)";

/// One request in full, as the officer listing shows it and with what only its details show.
pub fn listed(db: &Connection, id: i64) -> rusqlite::Result<Option<(Listed, Request)>> {
    db.prepare_cached(&format!(
        "SELECT {COLUMNS}, {VERIFIED_EMAIL} FROM requests r WHERE r.id = ?"
    ))?
    .query_row([id], |row| {
        let r = from_row(row)?;
        let listed = Listed {
            id: r.id,
            kind: r.kind,
            state: r.state,
            channel: r.channel,
            received_at: r.received_at,
            deadline_offset_us: r.deadline_offset_us,
            due_at: r.due_at,
            email_verified: row.get(15)?,
        };
        Ok((listed, r))
    })
    .optional()
}

/// How many requests `filter` selects, ignoring its limit.
pub fn count(db: &Connection, filter: Filter) -> rusqlite::Result<i64> {
    db.query_row(
        &format!("SELECT COUNT(*) FROM requests r WHERE {}", filter.sql()),
        [],
        |r| r.get(0),
    )
}
