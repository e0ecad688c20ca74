//! The store seam for Discord DMs: a receipt queued in the unit of work of the change it is
//! the receipt of, claimed by the bot with a lease, and marked sent, failed (tried again
//! later) or given up. SQLite keeps them in its encrypted file; PostgreSQL seals the member's
//! id and the text under the person's key, or under a key of the row's own.

use chrono::{DateTime, Utc};

pub use crate::db::dms::Dm;
use crate::db::{self, Conn};

/// A DM to queue.
pub struct NewDm<'a> {
    /// The person it is about, when the bot knows them.
    pub person: Option<i64>,
    pub request: Option<i64>,
    /// The member's Discord id.
    pub recipient: &'a str,
    pub text: &'a str,
    /// The last word to someone being erased: the id and the text go once it is sent.
    pub scrub_after_send: bool,
}

/// DMs in the store.
pub trait Dms {
    fn queue_dm(&self, dm: &NewDm<'_>, now: DateTime<Utc>) -> anyhow::Result<i64>;

    /// Claims the DM due longest ago, its next attempt moved to `lease_until`: no other
    /// worker takes it meanwhile, and it is tried again if this one dies. Of workers claiming
    /// at once, each gets another DM.
    fn claim_dm(
        &self,
        now: DateTime<Utc>,
        lease_until: DateTime<Utc>,
    ) -> anyhow::Result<Option<Dm>>;

    /// Sent: a DM to an erased person loses its id and text at once.
    fn dm_sent(&self, id: i64, now: DateTime<Utc>) -> anyhow::Result<()>;

    /// Failed for now: tried again at `retry_at`.
    fn dm_failed(&self, id: i64, error: &str, retry_at: DateTime<Utc>) -> anyhow::Result<()>;

    /// Given up for good (DMs closed, or it waited as long as a receipt may); wiped when its
    /// person was erased.
    fn dm_given_up(&self, id: i64, why: &str, now: DateTime<Utc>) -> anyhow::Result<()>;
}

impl Dms for Conn {
    fn queue_dm(&self, dm: &NewDm<'_>, now: DateTime<Utc>) -> anyhow::Result<i64> {
        Ok(db::dms::queue(
            self,
            dm.person,
            dm.request,
            dm.recipient,
            dm.text,
            dm.scrub_after_send,
            now,
        )?)
    }

    fn claim_dm(
        &self,
        now: DateTime<Utc>,
        lease_until: DateTime<Utc>,
    ) -> anyhow::Result<Option<Dm>> {
        Ok(db::dms::claim_next_due(self, now, lease_until)?)
    }

    fn dm_sent(&self, id: i64, now: DateTime<Utc>) -> anyhow::Result<()> {
        Ok(db::dms::mark_sent(self, id, now)?)
    }

    fn dm_failed(&self, id: i64, error: &str, retry_at: DateTime<Utc>) -> anyhow::Result<()> {
        Ok(db::dms::mark_failed(self, id, error, retry_at)?)
    }

    fn dm_given_up(&self, id: i64, why: &str, now: DateTime<Utc>) -> anyhow::Result<()> {
        Ok(db::dms::give_up(self, id, why, now)?)
    }
}
