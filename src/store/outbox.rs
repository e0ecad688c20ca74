//! The store seam for the mail a unit of work queues: written in the unit's transaction, so a
//! mail goes if and only if the change it reports is kept, and read back where a later mail or
//! a reply needs it (the thread it joins, the texts a reply may quote, the addresses a request
//! waits on). Delivering it (claims, leases, marking it sent) is the mail worker's, outside
//! any use-case; the mail worker does it through the same seam, in units of its own.

use chrono::{DateTime, Utc};

pub use crate::db::outbox::{Mail, NewMail};
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

    /// Claims the unsent mail that has waited longest among those due at `now`, its next
    /// attempt moved to `lease_until`: no other worker takes it meanwhile, and it is retried
    /// if this one dies mid-send.
    fn claim_mail(
        &self,
        now: DateTime<Utc>,
        lease_until: DateTime<Utc>,
    ) -> anyhow::Result<Option<Mail>>;

    /// Delivered: mail to an erased person loses its address and text at once.
    fn mail_sent(&self, id: i64, now: DateTime<Utc>) -> anyhow::Result<()>;

    /// Not delivered: the (address-free) reason is kept and it waits until `retry_at`.
    fn mail_failed(&self, id: i64, error: &str, retry_at: DateTime<Utc>) -> anyhow::Result<()>;

    /// Mails whose copy the transport kept is to be removed (their person was erased).
    fn copies_to_forget(&self) -> anyhow::Result<Vec<i64>>;

    fn copy_forgotten(&self, id: i64) -> anyhow::Result<()>;
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

    fn claim_mail(
        &self,
        now: DateTime<Utc>,
        lease_until: DateTime<Utc>,
    ) -> anyhow::Result<Option<Mail>> {
        Ok(db::outbox::claim_next_due(self, now, lease_until)?)
    }

    fn mail_sent(&self, id: i64, now: DateTime<Utc>) -> anyhow::Result<()> {
        Ok(db::outbox::mark_sent(self, id, now)?)
    }

    fn mail_failed(&self, id: i64, error: &str, retry_at: DateTime<Utc>) -> anyhow::Result<()> {
        Ok(db::outbox::mark_failed(self, id, error, retry_at)?)
    }

    fn copies_to_forget(&self) -> anyhow::Result<Vec<i64>> {
        Ok(db::outbox::copies_to_forget(self)?)
    }

    fn copy_forgotten(&self, id: i64) -> anyhow::Result<()> {
        Ok(db::outbox::copy_forgotten(self, id)?)
    }
}
