//! The store seam for officers' notes on a request: kept beside it, out of the append-only
//! audit trail (which records only that a note was added), since a note may name someone and
//! is erased with the person. PostgreSQL seals each under the key of the request's person.

use chrono::{DateTime, Utc};

use crate::db::{self, Conn};

/// Officers' notes in the store.
pub trait Notes {
    /// Adds a note by `author` (a role and channel, never a name) to `request`; its id.
    fn add_note(
        &self,
        request: i64,
        author: &str,
        text: &str,
        now: DateTime<Utc>,
    ) -> anyhow::Result<i64>;

    /// How many notes `request` has.
    fn note_count(&self, request: i64) -> anyhow::Result<usize>;
}

impl Notes for Conn {
    fn add_note(
        &self,
        request: i64,
        author: &str,
        text: &str,
        now: DateTime<Utc>,
    ) -> anyhow::Result<i64> {
        Ok(db::notes::add(self, request, author, text, now)?)
    }

    fn note_count(&self, request: i64) -> anyhow::Result<usize> {
        Ok(db::notes::count(self, request)?)
    }
}
