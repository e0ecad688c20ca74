//! Where the data lives. SQLite, encrypted as SQLCipher, is the embedded default (`db/`);
//! PostgreSQL is where a deployment goes when one machine is not enough: several `dsr-bot`
//! processes on several machines, one database (`DATABASE_URL=postgres://...`).
//!
//! What is here so far, on the way to every use-case running on either engine (see the
//! README, "PostgreSQL"):
//! - [`postgres`]: connecting, its own migrations (`migrations/postgres/`, the same versions
//!   as SQLite's), and the tables that name people, sealed ([`seal`]) so that erasure holds on
//!   an engine that keeps old row versions in its heap, indexes and WAL;
//! - [`requests`], [`people`], [`limits`], [`verifications`], [`reply_tokens`], [`outbox`],
//!   [`notes`], [`inputs`], [`dms`], [`log`], [`standings`], [`erasure`], [`schedule`] and
//!   [`settings`]: the seam use-cases file and move requests through (a
//!   request's row and its audit trail), find who is asking, count what limits count, keep
//!   email proofs and reply tokens, queue mail and DMs, keep officers' notes, take each input once, log what they did, move the feed, erase a person,
//!   claim what the
//!   schedule does once and keep settings, provided by SQLite's writer connection and by a PostgreSQL unit of work
//!   ([`postgres::unit`]), and run by one conformance suite on both;
//! - [`lease`]: the leases several processes share, on both engines: one leader owns the
//!   Discord gateway and the schedule, and another takes over when it dies.

pub mod dms;
pub mod erasure;
pub mod inputs;
pub mod lease;
pub mod limits;
pub mod log;
pub mod notes;
pub mod outbox;
pub mod people;
pub mod postgres;
pub mod reply_tokens;
pub mod requests;
pub mod schedule;
pub mod seal;
pub mod settings;
pub mod standings;
pub mod verifications;

/// What a unit of work reaches the store through, on either engine: SQLite's writer
/// connection, or a PostgreSQL unit of work ([`postgres::unit::PgUnit`]).
pub trait Store:
    requests::Requests
    + people::People
    + limits::Limits
    + verifications::Verifications
    + schedule::Schedule
    + settings::Settings
    + reply_tokens::ReplyTokens
    + outbox::MailQueue
    + notes::Notes
    + inputs::Inputs
    + dms::Dms
    + log::AuditLog
    + standings::Standings
    + erasure::Erasure
    + Engine
{
}

impl<T> Store for T where
    T: requests::Requests
        + people::People
        + limits::Limits
        + verifications::Verifications
        + schedule::Schedule
        + settings::Settings
        + reply_tokens::ReplyTokens
        + outbox::MailQueue
        + notes::Notes
        + inputs::Inputs
        + dms::Dms
        + log::AuditLog
        + standings::Standings
        + erasure::Erasure
        + Engine
        + ?Sized
{
}

/// What a unit of work does with its own transaction, and the way to SQLite's connection for
/// what is not on the seam yet.
pub trait Engine {
    /// SQLite's connection, for the operations not yet on the seam (the feed's consumers,
    /// pulls, acknowledgements and webhook deliveries, held mail, the digest's stale
    /// consumers) and SQLite's own settings (an import's page cache); on PostgreSQL an error
    /// saying so.
    fn sqlite(&self) -> anyhow::Result<&crate::db::Conn>;

    /// Starts a savepoint inside the unit: what follows can be undone alone.
    fn savepoint(&self) -> anyhow::Result<()>;

    /// Undoes what was written since the savepoint.
    fn rollback_to_savepoint(&self) -> anyhow::Result<()>;

    /// Ends the savepoint, keeping what was written since.
    fn release_savepoint(&self) -> anyhow::Result<()>;
}

impl Engine for crate::db::Conn {
    fn sqlite(&self) -> anyhow::Result<&crate::db::Conn> {
        Ok(self)
    }

    fn savepoint(&self) -> anyhow::Result<()> {
        Ok(self.execute_batch("SAVEPOINT attempt")?)
    }

    fn rollback_to_savepoint(&self) -> anyhow::Result<()> {
        Ok(self.execute_batch("ROLLBACK TO attempt")?)
    }

    fn release_savepoint(&self) -> anyhow::Result<()> {
        Ok(self.execute_batch("RELEASE attempt")?)
    }
}
