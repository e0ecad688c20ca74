//! The store seam for limits: the events a limit counts, by scope and keyed hash of whom
//! they count (never the person's id or address in clear).

use chrono::{DateTime, Utc};

use crate::db::{self, Conn};

/// The events limits count.
pub trait Limits {
    /// How many events of `scope` for `key_hash` happened after `since`. Until the unit of
    /// work ends, no other unit counts or records events for that key (on SQLite its one
    /// writer sees to it; on PostgreSQL a lock on the key), so a count and the event recorded
    /// on its strength are one step: a limit of N lets N through however many units race.
    fn count_since(&self, scope: &str, key_hash: &str, since: DateTime<Utc>)
    -> anyhow::Result<i64>;

    /// Records one event, and lets go of this key's events older than two days.
    fn record(&self, scope: &str, key_hash: &str, at: DateTime<Utc>) -> anyhow::Result<()>;
}

impl Limits for Conn {
    fn count_since(
        &self,
        scope: &str,
        key_hash: &str,
        since: DateTime<Utc>,
    ) -> anyhow::Result<i64> {
        Ok(db::limits::count_since(self, scope, key_hash, since)?)
    }

    fn record(&self, scope: &str, key_hash: &str, at: DateTime<Utc>) -> anyhow::Result<()> {
        Ok(db::limits::record(self, scope, key_hash, at)?)
    }
}
