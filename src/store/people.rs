//! The store seam for people: who an actor is (found by their Discord id, address or console
//! name, or met for the first time), the addresses they proved, and the language they chose.
//! SQLite keeps identities in its encrypted file; PostgreSQL seals each under its person's
//! data key and finds it by a blind index ([`super::postgres::people`]).

use chrono::{DateTime, Utc};

use crate::{
    db::{self, Conn, identities::Identity},
    domain::{Actor, Language},
};

/// An identity the bot has met, without its value (the caller has it).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Known {
    pub person: i64,
    pub verified_at: Option<DateTime<Utc>>,
    /// Discord refused a DM to it (error 50007): none is sent again.
    pub dm_closed: bool,
}

/// People in the store.
pub trait People {
    /// The identity `value` of `kind` (`discord`, `email`, `console`), if the bot met it.
    fn identity(&self, kind: &str, value: &str) -> anyhow::Result<Option<Known>>;

    /// The person `actor` is, met now for the first time if need be (their identity counted
    /// as verified: the channel authenticated it), and whether they were met just now (so
    /// have no history to look up). Of several units meeting one actor at once, one creates
    /// the person and the others are given them.
    fn resolve(&self, actor: &Actor, now: DateTime<Utc>) -> anyhow::Result<(i64, bool)>;

    /// A person with no identity yet (one who wrote by mail from an address not proven); on
    /// PostgreSQL with a data key of their own.
    fn new_person(&self, now: DateTime<Utc>) -> anyhow::Result<i64>;

    /// Marks `person` erased at `at`: one who had nothing here yet (an imported deletion of
    /// someone who acted live since); on PostgreSQL their data key goes too.
    fn mark_erased(&self, person: i64, at: DateTime<Utc>) -> anyhow::Result<()>;

    /// Whether `person` was erased (an unknown person was not).
    fn is_erased(&self, person: i64) -> anyhow::Result<bool>;

    /// Links the identity `value` of `kind` to `person` (verified at `verified_at`, when it
    /// is); false when that identity is someone's already.
    fn add_identity(
        &self,
        person: i64,
        kind: &str,
        value: &str,
        verified_at: Option<DateTime<Utc>>,
        now: DateTime<Utc>,
    ) -> anyhow::Result<bool>;

    /// Every identity of `person`, oldest first.
    fn identities_of(&self, person: i64) -> anyhow::Result<Vec<Identity>>;

    /// Gives the identity to `person` as verified, whoever held it before: proof of control
    /// of the address is what ownership means here. The person who held it before, if it was
    /// someone else.
    fn assign_verified(
        &self,
        person: i64,
        kind: &str,
        value: &str,
        now: DateTime<Utc>,
    ) -> anyhow::Result<Option<i64>>;

    /// Discord refused a DM to `discord_id` (error 50007): none is sent to it again.
    fn mark_dm_closed(&self, discord_id: &str, now: DateTime<Utc>) -> anyhow::Result<()>;

    /// The addresses `person` proved, oldest first.
    fn verified_emails(&self, person: i64) -> anyhow::Result<Vec<String>>;

    /// The language the person chose to be answered in, if they chose one.
    fn chosen_language(&self, person: i64) -> anyhow::Result<Option<Language>>;

    /// Records the language the person chose; their open requests are answered in it too.
    fn choose_language(&self, person: i64, language: Language) -> anyhow::Result<()>;

    /// Keeps `text` to tell the person the next time they reach the bot.
    fn add_notice(&self, person: i64, text: &str, now: DateTime<Utc>) -> anyhow::Result<()>;

    /// The person's notices, oldest first, gone once taken: of units taking them at once, one
    /// gets them.
    fn take_notices(&self, person: i64) -> anyhow::Result<Vec<String>>;
}

impl People for Conn {
    fn identity(&self, kind: &str, value: &str) -> anyhow::Result<Option<Known>> {
        Ok(db::identities::find(self, kind, value)?.map(|i| Known {
            person: i.person_id,
            verified_at: i.verified_at,
            dm_closed: i.dm_closed,
        }))
    }

    /// SQLite's single writer runs one unit at a time, so the look decides.
    fn resolve(&self, actor: &Actor, now: DateTime<Utc>) -> anyhow::Result<(i64, bool)> {
        let (kind, value) = actor.identity();
        if let Some(known) = self.identity(kind, &value)? {
            return Ok((known.person, false));
        }
        let person = db::people::insert(self, now)?;
        db::identities::insert(self, person, kind, &value, Some(now), now)?;
        Ok((person, true))
    }

    fn new_person(&self, now: DateTime<Utc>) -> anyhow::Result<i64> {
        Ok(db::people::insert(self, now)?)
    }

    fn mark_erased(&self, person: i64, at: DateTime<Utc>) -> anyhow::Result<()> {
        Ok(db::people::mark_erased(self, person, at)?)
    }

    fn is_erased(&self, person: i64) -> anyhow::Result<bool> {
        Ok(db::people::is_erased(self, person)?)
    }

    fn identities_of(&self, person: i64) -> anyhow::Result<Vec<Identity>> {
        Ok(db::identities::for_person(self, person)?)
    }

    fn add_identity(
        &self,
        person: i64,
        kind: &str,
        value: &str,
        verified_at: Option<DateTime<Utc>>,
        now: DateTime<Utc>,
    ) -> anyhow::Result<bool> {
        if db::identities::find(self, kind, value)?.is_some() {
            return Ok(false);
        }
        db::identities::insert(self, person, kind, value, verified_at, now)?;
        Ok(true)
    }

    fn assign_verified(
        &self,
        person: i64,
        kind: &str,
        value: &str,
        now: DateTime<Utc>,
    ) -> anyhow::Result<Option<i64>> {
        Ok(db::identities::assign_verified(
            self, person, kind, value, now,
        )?)
    }

    fn mark_dm_closed(&self, discord_id: &str, now: DateTime<Utc>) -> anyhow::Result<()> {
        Ok(db::identities::mark_dm_closed(self, discord_id, now)?)
    }

    fn verified_emails(&self, person: i64) -> anyhow::Result<Vec<String>> {
        Ok(db::identities::verified_emails(self, person)?)
    }

    fn chosen_language(&self, person: i64) -> anyhow::Result<Option<Language>> {
        Ok(db::people::language(self, person)?)
    }

    fn choose_language(&self, person: i64, language: Language) -> anyhow::Result<()> {
        Ok(db::people::choose_language(self, person, language)?)
    }

    fn add_notice(&self, person: i64, text: &str, now: DateTime<Utc>) -> anyhow::Result<()> {
        Ok(db::notices::add(self, person, text, now)?)
    }

    fn take_notices(&self, person: i64) -> anyhow::Result<Vec<String>> {
        Ok(db::notices::take(self, person)?)
    }
}
