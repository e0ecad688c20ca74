//! The store seam for the feed's standings: each person's standing as the systems that must
//! honour it see it, moved to the end of the feed when it changes, and the webhook messages
//! that tell consumers the feed moved. Written in the unit of the change, so a choice that is
//! kept is a choice the feed carries. On PostgreSQL the feed's lock is held from a position's
//! taking to the end of the unit, so positions are handed out in commit order: a consumer
//! that read up to one never later finds a smaller one appear.

use chrono::{DateTime, Utc};

pub use crate::db::feed::Standing;
use crate::db::{self, Conn};

/// A standing to set.
pub struct NewStanding<'a> {
    pub person: i64,
    /// `opted_out`, `opted_in` or `erased`.
    pub state: &'a str,
    pub effective_from: DateTime<Utc>,
    pub policy_version: &'a str,
    /// The request whose event changed it.
    pub request: i64,
    pub now: DateTime<Utc>,
}

/// The feed in the store.
pub trait Standings {
    /// `person`'s latest confirmed choice: (request id, is an opt-out, confirmed at).
    fn latest_choice(&self, person: i64) -> anyhow::Result<Option<(i64, bool, DateTime<Utc>)>>;

    fn standing(&self, person: i64) -> anyhow::Result<Option<Standing>>;

    /// Sets the standing, moving its person to the end of the feed; their new position.
    fn set_standing(&self, standing: &NewStanding<'_>) -> anyhow::Result<i64>;

    /// Moves `person` to the end of the feed as they stand (their identities changed); the
    /// new position, or none when the feed does not list them or lists them as erased.
    fn touch_standing(&self, person: i64, now: DateTime<Utc>) -> anyhow::Result<Option<i64>>;

    /// The feed's newest position (0 when empty).
    fn feed_head(&self) -> anyhow::Result<i64>;

    /// Every live consumer, with the key it hashes identities under: (id, key).
    fn consumer_keys(&self) -> anyhow::Result<Vec<(i64, Vec<u8>)>>;

    /// Keeps an erased person's identity as `consumer` hashes it, so the feed can list them
    /// as erased in terms the consumer can match.
    fn add_erased_hash(
        &self,
        person: i64,
        consumer: i64,
        kind: &str,
        hash: &str,
    ) -> anyhow::Result<()>;

    /// Per live consumer (by name), when it said it applied feed position `seq` or a later
    /// one; none when it has not yet.
    fn applied(&self, seq: i64) -> anyhow::Result<Vec<(String, Option<DateTime<Utc>>)>>;

    /// The consumers a change is pushed to: live, with a webhook that was not disabled.
    fn webhook_consumers(&self) -> anyhow::Result<Vec<i64>>;

    /// Tells `consumer` of feed position `seq`: the message still waiting for its first try
    /// carries it (under `message_id`, as its body changes), or a new one does.
    fn queue_webhook(
        &self,
        consumer: i64,
        seq: i64,
        message_id: &str,
        now: DateTime<Utc>,
    ) -> anyhow::Result<()>;
}

impl Standings for Conn {
    fn latest_choice(&self, person: i64) -> anyhow::Result<Option<(i64, bool, DateTime<Utc>)>> {
        Ok(db::feed::latest_choice(self, person)?)
    }

    fn standing(&self, person: i64) -> anyhow::Result<Option<Standing>> {
        Ok(db::feed::standing(self, person)?)
    }

    fn set_standing(&self, s: &NewStanding<'_>) -> anyhow::Result<i64> {
        Ok(db::feed::set_standing(
            self,
            s.person,
            s.state,
            s.effective_from,
            s.policy_version,
            s.request,
            s.now,
        )?)
    }

    fn touch_standing(&self, person: i64, now: DateTime<Utc>) -> anyhow::Result<Option<i64>> {
        Ok(db::feed::touch(self, person, now)?)
    }

    fn feed_head(&self) -> anyhow::Result<i64> {
        Ok(db::feed::head(self)?)
    }

    fn consumer_keys(&self) -> anyhow::Result<Vec<(i64, Vec<u8>)>> {
        Ok(db::feed::active_consumers(self)?
            .into_iter()
            .map(|c| (c.id, c.hash_key))
            .collect())
    }

    fn add_erased_hash(
        &self,
        person: i64,
        consumer: i64,
        kind: &str,
        hash: &str,
    ) -> anyhow::Result<()> {
        Ok(db::feed::add_erased_hash(
            self, person, consumer, kind, hash,
        )?)
    }

    fn applied(&self, seq: i64) -> anyhow::Result<Vec<(String, Option<DateTime<Utc>>)>> {
        Ok(db::feed::applied(self, seq)?)
    }

    fn webhook_consumers(&self) -> anyhow::Result<Vec<i64>> {
        Ok(db::feed::webhook_consumers(self)?)
    }

    fn queue_webhook(
        &self,
        consumer: i64,
        seq: i64,
        message_id: &str,
        now: DateTime<Utc>,
    ) -> anyhow::Result<()> {
        Ok(db::feed::queue_webhook(
            self, consumer, seq, message_id, now,
        )?)
    }
}
