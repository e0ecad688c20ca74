//! The store seam for email proofs: the one-time codes that prove a person controls an
//! address (only a keyed hash of each code is kept; the code itself is only in the mail).

use chrono::{DateTime, Utc};

use crate::db::{self, Conn, verifications::Verification};

/// A code to keep, for `person`'s request `request`, sent to `email`.
pub struct NewCode<'a> {
    pub person: i64,
    pub request: i64,
    pub email: &'a str,
    pub code_hash: &'a str,
    pub now: DateTime<Utc>,
    pub expires_at: DateTime<Utc>,
}

/// Email proofs in the store.
pub trait Verifications {
    /// Keeps `code`; its id.
    fn add_code(&self, code: &NewCode<'_>) -> anyhow::Result<i64>;

    /// The newest unused code of a request, expired or not. It stays the unit's until the
    /// unit ends (on PostgreSQL its row is locked), so what is decided on it holds.
    fn latest_code_for_request(&self, request: i64) -> anyhow::Result<Option<Verification>>;

    /// The person's newest unused, unrefused code whose request is still open, held for the
    /// unit as [`Self::latest_code_for_request`] is: of guesses at it made at once, each sees
    /// the attempts the others counted.
    fn pending_code_of(&self, person: i64) -> anyhow::Result<Option<Verification>>;

    fn count_attempt(&self, id: i64) -> anyhow::Result<()>;

    fn mark_verified(&self, id: i64, now: DateTime<Utc>) -> anyhow::Result<()>;

    /// A reply from `email` proved it: the request's codes sent there are used.
    fn mark_verified_by_reply(
        &self,
        request: i64,
        email: &str,
        now: DateTime<Utc>,
    ) -> anyhow::Result<()>;

    /// The address's owner said no: the request's codes sent there stop working. Whether any
    /// was waiting.
    fn refuse(&self, request: i64, email: &str, now: DateTime<Utc>) -> anyhow::Result<bool>;
}

/// SQLite: its one writer runs one unit at a time, so nothing needs holding.
impl Verifications for Conn {
    fn add_code(&self, code: &NewCode<'_>) -> anyhow::Result<i64> {
        Ok(db::verifications::insert(
            self,
            code.person,
            code.request,
            code.email,
            code.code_hash,
            code.now,
            code.expires_at,
        )?)
    }

    fn latest_code_for_request(&self, request: i64) -> anyhow::Result<Option<Verification>> {
        Ok(db::verifications::latest_for_request(self, request)?)
    }

    fn pending_code_of(&self, person: i64) -> anyhow::Result<Option<Verification>> {
        Ok(db::verifications::latest_pending_for_person(self, person)?)
    }

    fn count_attempt(&self, id: i64) -> anyhow::Result<()> {
        Ok(db::verifications::count_attempt(self, id)?)
    }

    fn mark_verified(&self, id: i64, now: DateTime<Utc>) -> anyhow::Result<()> {
        Ok(db::verifications::mark_verified(self, id, now)?)
    }

    fn mark_verified_by_reply(
        &self,
        request: i64,
        email: &str,
        now: DateTime<Utc>,
    ) -> anyhow::Result<()> {
        Ok(db::verifications::mark_verified_by_reply(
            self, request, email, now,
        )?)
    }

    fn refuse(&self, request: i64, email: &str, now: DateTime<Utc>) -> anyhow::Result<bool> {
        Ok(db::verifications::refuse(self, request, email, now)?)
    }
}
