//! `requests`: every request with its receive time, deadline offset, due date and state.

use chrono::{DateTime, Utc};
use rusqlite::{Connection, OptionalExtension, Row, params};

use super::sql::{At, at};
use crate::domain::{Channel, Language, RequestKind, RequestState};

mod listing;
pub use listing::{Filter, Listed, count, list, listed};

#[derive(Debug, Clone)]
pub struct Request {
    pub id: i64,
    pub person_id: i64,
    pub kind: RequestKind,
    pub channel: Channel,
    pub state: RequestState,
    pub received_at: DateTime<Utc>,
    /// `received_at - deadline` in microseconds, as stored when it was received.
    pub deadline_offset_us: i64,
    pub due_at: DateTime<Utc>,
    pub person_confirmed_at: Option<DateTime<Utc>>,
    pub updated_at: DateTime<Utc>,
    pub confirmed_at: Option<DateTime<Utc>>,
    pub closed_at: Option<DateTime<Utc>>,
    /// When an officer extended the due date (once), and the due date before.
    pub extended_at: Option<DateTime<Utc>>,
    pub original_due_at: Option<DateTime<Utc>>,
    /// The language the person is answered in about this request.
    pub language: Language,
}

pub struct NewRequest {
    pub person_id: i64,
    pub kind: RequestKind,
    pub channel: Channel,
    pub state: RequestState,
    pub received_at: DateTime<Utc>,
    /// `received_at - deadline` in microseconds.
    pub deadline_offset_us: i64,
    pub due_at: DateTime<Utc>,
    pub language: Language,
}

pub(super) const COLUMNS: &str = "id, person_id, kind, channel, state, received_at, \
                       COALESCE(deadline_offset_us, deadline_offset_secs * 1000000), due_at, \
                       person_confirmed_at, updated_at, confirmed_at, closed_at, extended_at, original_due_at, language";

pub(super) fn from_row(r: &Row<'_>) -> rusqlite::Result<Request> {
    Ok(Request {
        id: r.get(0)?,
        person_id: r.get(1)?,
        kind: r.get(2)?,
        channel: r.get(3)?,
        state: r.get(4)?,
        received_at: r.get::<_, At>(5)?.0,
        deadline_offset_us: r.get(6)?,
        due_at: r.get::<_, At>(7)?.0,
        person_confirmed_at: r.get::<_, Option<At>>(8)?.map(|a| a.0),
        updated_at: r.get::<_, At>(9)?.0,
        confirmed_at: r.get::<_, Option<At>>(10)?.map(|a| a.0),
        closed_at: r.get::<_, Option<At>>(11)?.map(|a| a.0),
        extended_at: r.get::<_, Option<At>>(12)?.map(|a| a.0),
        original_due_at: r.get::<_, Option<At>>(13)?.map(|a| a.0),
        language: r.get(14)?,
    })
}

/// Inserts a request and returns it as stored: confirmed or closed (completed, cancelled,
/// expired) at its receipt when it is filed in that state.
pub fn insert(db: &Connection, new: &NewRequest) -> rusqlite::Result<Request> {
    let at_receipt = |yes: bool| yes.then_some(new.received_at);
    insert_with(
        db,
        new,
        at_receipt(new.state == RequestState::Confirmed),
        at_receipt(!new.state.is_open()),
    )
}

/// Inserts a request kept elsewhere before, with the times it had there.
pub fn insert_imported(
    db: &Connection,
    new: &NewRequest,
    confirmed_at: Option<DateTime<Utc>>,
    closed_at: Option<DateTime<Utc>>,
) -> rusqlite::Result<Request> {
    insert_with(db, new, confirmed_at, closed_at)
}

fn insert_with(
    db: &Connection,
    new: &NewRequest,
    confirmed_at: Option<DateTime<Utc>>,
    closed_at: Option<DateTime<Utc>>,
) -> rusqlite::Result<Request> {
    // The row is built here from what was written, not read back (RETURNING makes SQLite
    // fill a table of its own per call: a fifth of an insert's cost).
    db.prepare_cached(
        "INSERT INTO requests (person_id, kind, channel, state, received_at, deadline_offset_secs, due_at,
                               updated_at, confirmed_at, closed_at, deadline_offset_us, language)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6 / 1000000, ?7, COALESCE(?9, ?5), ?8, ?9, ?6, ?10)",
    )?
    .execute(params![
        new.person_id,
        new.kind,
        new.channel,
        new.state,
        At(new.received_at),
        new.deadline_offset_us,
        At(new.due_at),
        at(confirmed_at),
        at(closed_at),
        new.language
    ])?;
    Ok(Request {
        id: db.last_insert_rowid(),
        person_id: new.person_id,
        kind: new.kind,
        channel: new.channel,
        state: new.state,
        received_at: new.received_at,
        deadline_offset_us: new.deadline_offset_us,
        due_at: new.due_at,
        person_confirmed_at: None,
        updated_at: closed_at.unwrap_or(new.received_at),
        confirmed_at,
        closed_at,
        extended_at: None,
        original_due_at: None,
        language: new.language,
    })
}

pub fn get(db: &Connection, id: i64) -> rusqlite::Result<Option<Request>> {
    db.prepare_cached(&format!("SELECT {COLUMNS} FROM requests r WHERE r.id = ?"))?
        .query_row([id], from_row)
        .optional()
}

pub fn find_open(
    db: &Connection,
    person_id: i64,
    kind: RequestKind,
) -> rusqlite::Result<Option<Request>> {
    db.prepare_cached(&format!(
        "SELECT {COLUMNS} FROM requests r
         WHERE r.person_id = ? AND r.kind = ? AND r.state IN ('awaiting_confirmation', 'confirmed')"
    ))?
    .query_row(params![person_id, kind], from_row)
    .optional()
}

pub fn open_for_person(db: &Connection, person_id: i64) -> rusqlite::Result<Vec<Request>> {
    db.prepare_cached(&format!(
        "SELECT {COLUMNS} FROM requests r
         WHERE r.person_id = ? AND r.state IN ('awaiting_confirmation', 'confirmed') ORDER BY r.id"
    ))?
    .query_map([person_id], from_row)?
    .collect()
}

/// Every request of the person, oldest first.
pub fn for_person(db: &Connection, person_id: i64) -> rusqlite::Result<Vec<Request>> {
    db.prepare_cached(&format!(
        "SELECT {COLUMNS} FROM requests r WHERE r.person_id = ? ORDER BY r.id"
    ))?
    .query_map([person_id], from_row)?
    .collect()
}

/// A state change that did not find the request in the state it was read in.
#[derive(Debug, thiserror::Error)]
#[error("request #{id} was expected to be {expected} but is not; nothing was changed")]
pub struct StaleState {
    pub id: i64,
    pub expected: RequestState,
}

/// Moves a request from `from` to `to`. Fails when the request is no longer in `from`, so a
/// decision taken on a stale read can never be written.
pub fn set_state(
    db: &Connection,
    id: i64,
    from: RequestState,
    to: RequestState,
    now: DateTime<Utc>,
) -> anyhow::Result<()> {
    let changed = db
        .prepare_cached(
            "UPDATE requests SET state = ?1, updated_at = ?2,
                 confirmed_at = CASE WHEN ?1 = 'confirmed' THEN COALESCE(confirmed_at, ?2) ELSE confirmed_at END,
                 closed_at = CASE WHEN ?1 IN ('completed', 'cancelled', 'expired') THEN ?2 ELSE closed_at END
             WHERE id = ?3 AND state = ?4",
        )?
        .execute(params![to, At(now), id, from])?;
    if changed != 1 {
        return Err(StaleState { id, expected: from }.into());
    }
    Ok(())
}

pub fn set_person_confirmed(db: &Connection, id: i64, now: DateTime<Utc>) -> rusqlite::Result<()> {
    db.prepare_cached(
        "UPDATE requests SET person_confirmed_at = ?1, updated_at = ?1 WHERE id = ?2",
    )?
    .execute(params![At(now), id])?;
    Ok(())
}

/// Moves the due date of request `id` to `due_at`, once: fails when it was extended before.
/// Extends request `id` to `due_at`, keeping the officer's `reason` with it (erased with the
/// person, unlike the audit trail).
pub fn extend(
    db: &Connection,
    id: i64,
    due_at: DateTime<Utc>,
    now: DateTime<Utc>,
    reason: &str,
) -> anyhow::Result<()> {
    let changed = db
        .prepare_cached(
            "UPDATE requests SET original_due_at = due_at, due_at = ?1, extended_at = ?2, updated_at = ?2,
                                 extension_reason = ?4
             WHERE id = ?3 AND extended_at IS NULL",
        )?
        .execute(params![At(due_at), At(now), id, reason])?;
    anyhow::ensure!(changed == 1, "request #{id} was extended before");
    Ok(())
}

/// The reason request `id` was extended for, while its person is not erased.
pub fn extension_reason(db: &Connection, id: i64) -> rusqlite::Result<Option<String>> {
    db.prepare_cached("SELECT extension_reason FROM requests WHERE id = ?")?
        .query_row([id], |r| r.get(0))
        .optional()
        .map(Option::flatten)
}

/// Erasure: the reasons officers gave for the person's requests.
pub fn forget_reasons_of(db: &Connection, person_id: i64) -> rusqlite::Result<()> {
    db.prepare_cached("UPDATE requests SET extension_reason = NULL WHERE person_id = ?")?
        .execute([person_id])?;
    Ok(())
}

/// Requests waiting for the person, received at or before `since`, not yet reminded.
pub fn awaiting_unreminded(
    db: &Connection,
    since: DateTime<Utc>,
) -> rusqlite::Result<Vec<Request>> {
    db.prepare_cached(&format!(
        "SELECT {COLUMNS} FROM requests r
         WHERE r.state = 'awaiting_confirmation' AND r.reminded_at IS NULL AND r.received_at <= ? ORDER BY r.id"
    ))?
    .query_map([At(since)], from_row)?
    .collect()
}

/// Marks request `id` reminded; false when it was already.
pub fn mark_reminded(db: &Connection, id: i64, now: DateTime<Utc>) -> rusqlite::Result<bool> {
    Ok(db
        .prepare_cached("UPDATE requests SET reminded_at = ? WHERE id = ? AND reminded_at IS NULL")?
        .execute(params![At(now), id])?
        == 1)
}

/// Requests still to be answered (waiting for the person, or a confirmed deletion not yet
/// carried out) due by `until`, oldest due first: (id, due).
pub fn unanswered_due_by(
    db: &Connection,
    until: DateTime<Utc>,
) -> rusqlite::Result<Vec<(i64, DateTime<Utc>)>> {
    db.prepare_cached(
        "SELECT id, due_at FROM requests
         WHERE (state = 'awaiting_confirmation' OR (state = 'confirmed' AND kind = 'deletion')) AND due_at <= ?
         ORDER BY due_at, id",
    )?
    .query_map([At(until)], |r| Ok((r.get(0)?, r.get::<_, At>(1)?.0)))?
    .collect()
}

/// Requests still waiting for the person that were received before `cutoff`.
pub fn awaiting_since_before(
    db: &Connection,
    cutoff: DateTime<Utc>,
) -> rusqlite::Result<Vec<Request>> {
    db.prepare_cached(&format!(
        "SELECT {COLUMNS} FROM requests r
         WHERE r.state = 'awaiting_confirmation' AND r.received_at < ? ORDER BY r.id"
    ))?
    .query_map([At(cutoff)], from_row)?
    .collect()
}

#[cfg(test)]
mod tests {
    use chrono::{DateTime, Utc};

    use super::*;

    fn migrated() -> Connection {
        let db = Connection::open_in_memory().unwrap();
        for m in super::super::MIGRATOR.iter() {
            db.execute_batch(&m.sql).unwrap();
        }
        db
    }

    fn t(s: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(s).unwrap().with_timezone(&Utc)
    }

    #[test]
    fn a_state_change_from_a_state_the_request_is_not_in_fails_and_changes_nothing() {
        let db = migrated();
        let now = t("2025-09-25T10:00:00Z");
        let person = super::super::people::insert(&db, now).unwrap();
        let req = insert(
            &db,
            &NewRequest {
                person_id: person,
                kind: RequestKind::Deletion,
                channel: Channel::Console,
                state: RequestState::AwaitingConfirmation,
                received_at: now,
                deadline_offset_us: -1,
                due_at: now,
                language: Language::En,
            },
        )
        .unwrap();

        let stale = set_state(
            &db,
            req.id,
            RequestState::Confirmed,
            RequestState::Completed,
            now,
        );
        assert!(stale.unwrap_err().downcast_ref::<StaleState>().is_some());
        assert_eq!(
            get(&db, req.id).unwrap().unwrap().state,
            RequestState::AwaitingConfirmation
        );

        set_state(
            &db,
            req.id,
            RequestState::AwaitingConfirmation,
            RequestState::Cancelled,
            now,
        )
        .unwrap();
        // A closed request does not move again, whatever the caller believes it is.
        assert!(
            set_state(
                &db,
                req.id,
                RequestState::AwaitingConfirmation,
                RequestState::Confirmed,
                now
            )
            .is_err()
        );
        assert_eq!(
            get(&db, req.id).unwrap().unwrap().state,
            RequestState::Cancelled
        );
    }
}
