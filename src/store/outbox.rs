//! The store seam for the mail a unit of work queues: written in the unit's transaction, so a
//! mail goes if and only if the change it reports is kept, and read back where a later mail or
//! a reply needs it (the thread it joins, the texts a reply may quote, the addresses a request
//! waits on). Delivering it (claims, leases, marking it sent) is the mail worker's, outside
//! any use-case.

use chrono::{DateTime, Utc};

pub use crate::db::outbox::NewMail;
use crate::db::{self, Conn};

/// A queued mail's subject, plain text and HTML.
pub type Texts = (String, String, String);

/// Queued mail in the store.
pub trait MailQueue {
    /// Queues `mail`; its id.
    fn queue_mail(&self, mail: &NewMail<'_>, now: DateTime<Utc>) -> anyhow::Result<i64>;

    /// The Message-ID of the first mail about `request` to `recipient`: the root of the
    /// thread every later mail about it joins.
    fn thread_root(&self, request: i64, recipient: &str) -> anyhow::Result<Option<String>>;

    /// The texts of every mail about `request` to `recipient` that still has them, oldest
    /// first: what a reply from that address may quote.
    fn texts_about(&self, request: i64, recipient: &str) -> anyhow::Result<Vec<Texts>>;

    /// The addresses `request` (of `person`) waits on, in order: the sender of a request made
    /// by mail (asked to confirm by reply), and the person's proven addresses a code for it
    /// went to.
    fn waiting_addresses(&self, request: i64, person: i64) -> anyhow::Result<Vec<String>>;
}

impl MailQueue for Conn {
    fn queue_mail(&self, mail: &NewMail<'_>, now: DateTime<Utc>) -> anyhow::Result<i64> {
        Ok(db::outbox::insert(self, mail, now)?)
    }

    fn thread_root(&self, request: i64, recipient: &str) -> anyhow::Result<Option<String>> {
        Ok(db::outbox::thread_root(self, request, recipient)?)
    }

    fn texts_about(&self, request: i64, recipient: &str) -> anyhow::Result<Vec<Texts>> {
        Ok(db::outbox::texts_about(self, request, recipient)?)
    }

    fn waiting_addresses(&self, request: i64, person: i64) -> anyhow::Result<Vec<String>> {
        Ok(db::outbox::waiting_addresses(self, request, person)?)
    }
}
