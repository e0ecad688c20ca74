//! The store seam for a request's life: filing it, finding it, moving it from state to state
//! with its audit event. Use-cases call these operations, not SQL; SQLite's connection
//! (inside the writer's unit of work) and a PostgreSQL transaction ([`super::postgres::unit`])
//! both provide them, and one conformance suite (`tests/it/store.rs`) runs on both.
//!
//! The operations are synchronous, as the use-cases are: on SQLite they run on the writer
//! thread; on PostgreSQL a unit of work runs on a blocking thread and waits for each
//! statement there.

use chrono::{DateTime, Utc};

use crate::{
    db::{
        self, Conn,
        events::Event,
        requests::{NewRequest, Request},
    },
    domain::{RequestKind, RequestState},
};

/// What filing a request came to.
#[derive(Debug, Clone)]
pub enum Filed {
    /// The request was recorded.
    New(Request),
    /// The person already had an open request of that kind (filed by another process between
    /// the use-case's look and its insert): nothing was recorded, and this is the open one.
    Already(Request),
}

/// A request's life in the store.
pub trait Requests {
    /// Records `new`: confirmed or closed at its receipt when it is filed in that state. An
    /// open request is refused as [`Filed::Already`] when the person has an open one of its
    /// kind, on any engine and under any concurrency.
    fn file(&self, new: &NewRequest) -> anyhow::Result<Filed>;

    /// As [`Self::file`], confirmed and closed when the caller says: a request imported from
    /// elsewhere, whose history is older than its filing.
    fn file_imported(
        &self,
        new: &NewRequest,
        confirmed_at: Option<DateTime<Utc>>,
        closed_at: Option<DateTime<Utc>>,
    ) -> anyhow::Result<Filed>;

    fn request(&self, id: i64) -> anyhow::Result<Option<Request>>;

    /// The person's open request of `kind` (awaiting confirmation or confirmed).
    fn open_of_kind(&self, person: i64, kind: RequestKind) -> anyhow::Result<Option<Request>>;

    /// The person's open requests, oldest first.
    fn open_for_person(&self, person: i64) -> anyhow::Result<Vec<Request>>;

    /// Every request of the person, oldest first.
    fn for_person(&self, person: i64) -> anyhow::Result<Vec<Request>>;

    /// Moves request `id` from `from` to `to`; fails with [`db::requests::StaleState`] when
    /// it is no longer in `from` (another unit of work moved it first), changing nothing.
    fn set_state(
        &self,
        id: i64,
        from: RequestState,
        to: RequestState,
        now: DateTime<Utc>,
    ) -> anyhow::Result<()>;

    /// Records when the person said yes to request `id` (by a code or a reply).
    fn set_person_confirmed(&self, id: i64, now: DateTime<Utc>) -> anyhow::Result<()>;

    /// Moves the due date of request `id` to `due_at`, once, keeping the officer's `reason`
    /// with the request (erased with the person, unlike the audit trail); fails when it was
    /// extended before, changing nothing.
    fn extend(
        &self,
        id: i64,
        due_at: DateTime<Utc>,
        now: DateTime<Utc>,
        reason: &str,
    ) -> anyhow::Result<()>;

    /// Requests waiting for the person, received by `since` and not reminded yet, oldest
    /// first.
    fn awaiting_unreminded(&self, since: DateTime<Utc>) -> anyhow::Result<Vec<Request>>;

    /// Marks request `id` reminded; false when it was already (another unit reminded it
    /// first), so it is reminded once.
    fn mark_reminded(&self, id: i64, now: DateTime<Utc>) -> anyhow::Result<bool>;

    /// Requests still to be answered (waiting for the person, or a confirmed deletion not yet
    /// carried out) due by `until`, soonest due first: their ids and due dates.
    fn unanswered_due_by(&self, until: DateTime<Utc>) -> anyhow::Result<Vec<(i64, DateTime<Utc>)>>;

    /// Requests waiting for the person received before `cutoff`, oldest first.
    fn awaiting_since_before(&self, cutoff: DateTime<Utc>) -> anyhow::Result<Vec<Request>>;

    /// Appends `event` to the audit trail; its id.
    fn append_event(&self, event: &Event) -> anyhow::Result<i64>;

    /// The request's events with their ids, oldest first.
    fn events(&self, request: i64) -> anyhow::Result<Vec<(i64, Event)>>;
}

/// SQLite: the writer's connection. Its single writer already serialises a use-case's look
/// and its insert, so the unique index refusing a second open request is a backstop here.
impl Requests for Conn {
    fn file(&self, new: &NewRequest) -> anyhow::Result<Filed> {
        match db::requests::insert(self, new) {
            Ok(request) => Ok(Filed::New(request)),
            Err(e) if is_unique_violation(&e) && new.state.is_open() => {
                match db::requests::find_open(self, new.person_id, new.kind)? {
                    Some(open) => Ok(Filed::Already(open)),
                    None => Err(e.into()),
                }
            }
            Err(e) => Err(e.into()),
        }
    }

    fn file_imported(
        &self,
        new: &NewRequest,
        confirmed_at: Option<DateTime<Utc>>,
        closed_at: Option<DateTime<Utc>>,
    ) -> anyhow::Result<Filed> {
        match db::requests::insert_imported(self, new, confirmed_at, closed_at) {
            Ok(request) => Ok(Filed::New(request)),
            Err(e) if is_unique_violation(&e) && new.state.is_open() => {
                match db::requests::find_open(self, new.person_id, new.kind)? {
                    Some(open) => Ok(Filed::Already(open)),
                    None => Err(e.into()),
                }
            }
            Err(e) => Err(e.into()),
        }
    }

    fn request(&self, id: i64) -> anyhow::Result<Option<Request>> {
        Ok(db::requests::get(self, id)?)
    }

    fn open_of_kind(&self, person: i64, kind: RequestKind) -> anyhow::Result<Option<Request>> {
        Ok(db::requests::find_open(self, person, kind)?)
    }

    fn open_for_person(&self, person: i64) -> anyhow::Result<Vec<Request>> {
        Ok(db::requests::open_for_person(self, person)?)
    }

    fn for_person(&self, person: i64) -> anyhow::Result<Vec<Request>> {
        Ok(db::requests::for_person(self, person)?)
    }

    fn set_state(
        &self,
        id: i64,
        from: RequestState,
        to: RequestState,
        now: DateTime<Utc>,
    ) -> anyhow::Result<()> {
        db::requests::set_state(self, id, from, to, now)
    }

    fn set_person_confirmed(&self, id: i64, now: DateTime<Utc>) -> anyhow::Result<()> {
        Ok(db::requests::set_person_confirmed(self, id, now)?)
    }

    fn extend(
        &self,
        id: i64,
        due_at: DateTime<Utc>,
        now: DateTime<Utc>,
        reason: &str,
    ) -> anyhow::Result<()> {
        db::requests::extend(self, id, due_at, now, reason)
    }

    fn awaiting_unreminded(&self, since: DateTime<Utc>) -> anyhow::Result<Vec<Request>> {
        Ok(db::requests::awaiting_unreminded(self, since)?)
    }

    fn mark_reminded(&self, id: i64, now: DateTime<Utc>) -> anyhow::Result<bool> {
        Ok(db::requests::mark_reminded(self, id, now)?)
    }

    fn unanswered_due_by(&self, until: DateTime<Utc>) -> anyhow::Result<Vec<(i64, DateTime<Utc>)>> {
        Ok(db::requests::unanswered_due_by(self, until)?)
    }

    fn awaiting_since_before(&self, cutoff: DateTime<Utc>) -> anyhow::Result<Vec<Request>> {
        Ok(db::requests::awaiting_since_before(self, cutoff)?)
    }

    fn append_event(&self, event: &Event) -> anyhow::Result<i64> {
        Ok(db::events::append(self, event)?)
    }

    fn events(&self, request: i64) -> anyhow::Result<Vec<(i64, Event)>> {
        Ok(db::events::for_request(self, request)?)
    }
}

fn is_unique_violation(e: &rusqlite::Error) -> bool {
    matches!(
        e,
        rusqlite::Error::SqliteFailure(f, _)
            if f.extended_code == rusqlite::ffi::SQLITE_CONSTRAINT_UNIQUE
    )
}
