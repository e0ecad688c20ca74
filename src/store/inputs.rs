//! The store seam for what comes in: inputs already handled (a mail, an interaction, an
//! import row), so a redelivery does nothing however many processes see it; when an address
//! last got an unprompted answer, so a loop with an auto-responder cannot form; and the
//! requests an unproven mail sender made, so one sender is one person with one waiting
//! request of a kind. Every key here is a keyed hash: nothing names anyone.

use chrono::{DateTime, Duration, Utc};

use crate::{
    db::{self, Conn},
    domain::RequestKind,
};

/// What came in, in the store.
pub trait Inputs {
    /// Records an input as handled under `key_hash`, ending as `disposition` (unless changed
    /// later in the same unit); false when it was handled before, under that hash or
    /// `legacy`. Of units claiming one input at once, one gets it.
    fn claim_input(
        &self,
        key_hash: &str,
        legacy: Option<&str>,
        source: &str,
        disposition: &str,
        now: DateTime<Utc>,
    ) -> anyhow::Result<bool>;

    /// Changes what an input this unit claimed ends as.
    fn set_disposition(&self, key_hash: &str, disposition: &str) -> anyhow::Result<()>;

    /// Records that an unprompted answer goes to `address_hash` now, unless one went in the
    /// last `within`; whether this one may go. Of units asking at once, one may.
    fn may_answer(
        &self,
        address_hash: &str,
        now: DateTime<Utc>,
        within: Duration,
    ) -> anyhow::Result<bool>;

    /// Records that the unproven sender `sender_hash` made `request`.
    fn record_sender(&self, request: i64, sender_hash: &str) -> anyhow::Result<()>;

    /// The person behind the latest request this unproven sender made. On PostgreSQL the
    /// sender's lock is held from here (and from [`Self::sender_waiting`]) to the end of the
    /// unit, so units for one sender at once take turns and the later ones find the first's.
    fn sender_person(&self, sender_hash: &str) -> anyhow::Result<Option<i64>>;

    /// The sender's request of `kind` still waiting for their confirmation.
    fn sender_waiting(&self, sender_hash: &str, kind: RequestKind) -> anyhow::Result<Option<i64>>;

    /// Records where a copy of a mail from the sender `sender_hash` stays (`source` `imap` or
    /// `maildir`, and where in it), so their erasure can have it removed.
    fn record_copy(
        &self,
        sender_hash: &str,
        source: &str,
        locator: &str,
        now: DateTime<Utc>,
    ) -> anyhow::Result<()>;

    /// The copy `id` was removed.
    fn copy_purged(&self, id: i64) -> anyhow::Result<()>;
}

/// SQLite: the writer's connection, which runs one unit at a time.
impl Inputs for Conn {
    fn claim_input(
        &self,
        key_hash: &str,
        legacy: Option<&str>,
        source: &str,
        disposition: &str,
        now: DateTime<Utc>,
    ) -> anyhow::Result<bool> {
        Ok(db::inputs::claim(
            self,
            key_hash,
            legacy,
            source,
            disposition,
            now,
        )?)
    }

    fn set_disposition(&self, key_hash: &str, disposition: &str) -> anyhow::Result<()> {
        Ok(db::inputs::set_disposition(self, key_hash, disposition)?)
    }

    fn may_answer(
        &self,
        address_hash: &str,
        now: DateTime<Utc>,
        within: Duration,
    ) -> anyhow::Result<bool> {
        Ok(db::inputs::may_answer(self, address_hash, now, within)?)
    }

    fn record_sender(&self, request: i64, sender_hash: &str) -> anyhow::Result<()> {
        Ok(db::senders::record_sender(self, request, sender_hash)?)
    }

    fn sender_person(&self, sender_hash: &str) -> anyhow::Result<Option<i64>> {
        Ok(db::senders::sender_person(self, sender_hash)?)
    }

    fn sender_waiting(&self, sender_hash: &str, kind: RequestKind) -> anyhow::Result<Option<i64>> {
        Ok(db::senders::sender_waiting(self, sender_hash, kind)?)
    }

    fn record_copy(
        &self,
        sender_hash: &str,
        source: &str,
        locator: &str,
        now: DateTime<Utc>,
    ) -> anyhow::Result<()> {
        Ok(db::copies::record(self, sender_hash, source, locator, now)?)
    }

    fn copy_purged(&self, id: i64) -> anyhow::Result<()> {
        Ok(db::copies::purged(self, id)?)
    }
}
