//! The store seam for erasing a person: what names them goes, wherever it was written and
//! whoever asked for it to be written; what remains is a keyed hash per identity and counts.
//! The use-case decides what is erased (the identities, their hashes, the inputs to key
//! again); each engine makes it hold its own way. SQLite deletes and scrubs the rows (and the
//! caller then empties the WAL); PostgreSQL, which keeps old row versions in its heap, indexes,
//! WAL and backups, also deletes the person's data key and the rows' own keys, so no old copy
//! opens (and the caller then rewrites the keys' tables).

use chrono::{DateTime, Utc};

use crate::db::{self, Conn};

/// One erasure, as the use-case decided it.
pub struct Erasing<'a> {
    pub person: i64,
    /// The deletion it carries out.
    pub request: i64,
    /// When it is carried out.
    pub at: DateTime<Utc>,
    /// What remains of each identity: its kind and keyed hash.
    pub hashes: &'a [(String, String)],
    /// The person's addresses: what was sent to them or asked for them goes too, whoever
    /// asked.
    pub emails: &'a [String],
    pub discord_ids: &'a [String],
    /// The keyed hashes their inbound mail and held mail are filed under.
    pub sender_hashes: &'a [String],
    /// Input hashes left unkeyed from before that name them, each with its keyed form.
    pub rekeys: &'a [(String, String)],
    /// When the erasure runs (the unit's time): what the kept hashes are dated. `at` may be
    /// older (an imported deletion, carried out elsewhere before).
    pub now: DateTime<Utc>,
}

/// Erasure in the store.
pub trait Erasure {
    fn erase_person(&self, erasing: &Erasing<'_>) -> anyhow::Result<()>;

    /// Records what remains of an identity erased by deletion `request` (imported: erased
    /// elsewhere, before): its keyed hash, held by the person `person` stands for.
    fn record_erased_identity(
        &self,
        person: i64,
        request: i64,
        kind: &str,
        hash: &str,
        now: DateTime<Utc>,
    ) -> anyhow::Result<()>;
}

impl Erasure for Conn {
    fn erase_person(&self, e: &Erasing<'_>) -> anyhow::Result<()> {
        for (kind, hash) in e.hashes {
            db::erasure::insert(self, e.person, e.request, kind, hash, e.now)?;
        }
        for (legacy, keyed) in e.rekeys {
            db::inputs::rekey(self, legacy, keyed)?;
        }
        db::identities::delete_for_person(self, e.person)?;
        db::verifications::delete_for(self, e.person, e.emails)?;
        db::reply_tokens::delete_for(self, e.person, e.emails)?;
        db::outbox::scrub_for(self, e.person, e.emails)?;
        db::dms::scrub_for(self, e.person, e.discord_ids)?;
        db::held::delete_from(self, e.sender_hashes, e.emails)?;
        db::copies::mark_for_purge(self, e.sender_hashes)?;
        db::notices::delete_for_person(self, e.person)?;
        db::notes::delete_for_person(self, e.person)?;
        db::requests::forget_reasons_of(self, e.person)?;
        db::senders::forget_senders_of(self, e.person)?;
        db::people::mark_erased(self, e.person, e.at)?;
        Ok(())
    }

    fn record_erased_identity(
        &self,
        person: i64,
        request: i64,
        kind: &str,
        hash: &str,
        now: DateTime<Utc>,
    ) -> anyhow::Result<()> {
        Ok(db::erasure::insert(self, person, request, kind, hash, now)?)
    }
}
