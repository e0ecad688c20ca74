//! The store seam for the log that proves the audit trail: a leaf per logged item appended in
//! the unit that writes the item, so the log and the tables cannot disagree; the tree's right
//! edge, which a checkpoint signs; and what a receipt is made of, read back. On PostgreSQL the
//! head's row is locked from its reading to the end of the unit, so units in several
//! processes append one after another and the leaves' indexes have no gap and no repeat.

use chrono::{DateTime, Utc};

use crate::{
    db::{
        self, Conn,
        log::{EventFacts, Item, Leaf, NewNotice},
    },
    proof::merkle::{Frontier, Hash},
};

/// A checkpoint signed in the unit, to keep.
pub struct NewCheckpoint<'a> {
    pub size: u64,
    pub root: &'a Hash,
    /// The public key it was signed with, as `--key` takes it.
    pub key: &'a str,
    pub note: &'a str,
    pub now: DateTime<Utc>,
    pub why: &'a str,
}

/// The log in the store.
pub trait AuditLog {
    /// Adds the leaf of `item`, whose record is `record`, and moves the head.
    fn log_append(&self, item: Item, record: &[u8]) -> anyhow::Result<Leaf>;

    /// The tree's right edge as stored (empty for a new log).
    fn log_frontier(&self) -> anyhow::Result<Frontier>;

    fn add_checkpoint(&self, checkpoint: &NewCheckpoint<'_>) -> anyhow::Result<()>;

    /// The size of the newest checkpoint kept (none before the first).
    fn latest_checkpoint_size(&self) -> anyhow::Result<Option<u64>>;

    /// The newest event of request `request` that has a leaf.
    fn latest_logged_event(&self, request: i64) -> anyhow::Result<Option<i64>>;

    /// What event `event`'s leaf record is made of.
    fn event_facts(&self, event: i64) -> anyhow::Result<Option<EventFacts>>;

    fn leaf_for_event(&self, event: i64) -> anyhow::Result<Option<Leaf>>;

    /// Keeps a notice version people are shown, unless it is kept already.
    fn add_notice_version(&self, notice: &NewNotice<'_>, now: DateTime<Utc>) -> anyhow::Result<()>;

    /// The policy (name, version) notice `version` is about.
    fn notice_policy(&self, version: &str) -> anyhow::Result<Option<(String, String)>>;
}

impl AuditLog for Conn {
    fn log_append(&self, item: Item, record: &[u8]) -> anyhow::Result<Leaf> {
        Ok(db::log::append(self, item, record)?)
    }

    fn log_frontier(&self) -> anyhow::Result<Frontier> {
        Ok(db::log::frontier(self)?)
    }

    fn add_checkpoint(&self, c: &NewCheckpoint<'_>) -> anyhow::Result<()> {
        Ok(db::log::add_checkpoint(
            self, c.size, c.root, c.key, c.note, c.now, c.why,
        )?)
    }

    fn latest_checkpoint_size(&self) -> anyhow::Result<Option<u64>> {
        Ok(db::log::latest_checkpoint(self)?.map(|c| c.size))
    }

    fn latest_logged_event(&self, request: i64) -> anyhow::Result<Option<i64>> {
        Ok(db::log::latest_logged_event(self, request)?)
    }

    fn event_facts(&self, event: i64) -> anyhow::Result<Option<EventFacts>> {
        Ok(db::log::event_facts(self, event)?)
    }

    fn leaf_for_event(&self, event: i64) -> anyhow::Result<Option<Leaf>> {
        Ok(db::log::leaf_for_event(self, event)?)
    }

    fn add_notice_version(&self, notice: &NewNotice<'_>, now: DateTime<Utc>) -> anyhow::Result<()> {
        Ok(db::log::add_notice_version(self, notice, now)?)
    }

    fn notice_policy(&self, version: &str) -> anyhow::Result<Option<(String, String)>> {
        Ok(db::log::notice_policy(self, version)?)
    }
}
