//! What the schedules keep: the weekly digest by week, the community's size by day, and the
//! announcements before the policy deadline. Each is claimed once, across restarts and
//! instances.

use chrono::{DateTime, Utc};
use rusqlite::{Connection, OptionalExtension, params};

use super::sql::At;

/// Sets `column` of the digest for `week` to `now` unless it is set; false when it was.
fn claim_digest(
    db: &Connection,
    column: &str,
    week: &str,
    now: DateTime<Utc>,
) -> rusqlite::Result<bool> {
    super::sql::claim_once(db, "digests", "week", week, column, now)
}

pub fn claim_digest_mailed(
    db: &Connection,
    week: &str,
    now: DateTime<Utc>,
) -> rusqlite::Result<bool> {
    claim_digest(db, "mailed_at", week, now)
}

pub fn claim_digest_posted(
    db: &Connection,
    week: &str,
    now: DateTime<Utc>,
) -> rusqlite::Result<bool> {
    claim_digest(db, "posted_at", week, now)
}

/// Records the community's size on `day` (YYYY-MM-DD).
pub fn record_size(db: &Connection, day: &str, size: u64, source: &str) -> rusqlite::Result<()> {
    db.prepare_cached(
        "INSERT INTO community_sizes (day, size, source) VALUES (?, ?, ?)
         ON CONFLICT (day) DO UPDATE SET size = excluded.size, source = excluded.source",
    )?
    .execute(params![day, size, source])?;
    Ok(())
}

/// Whether a size was recorded for `day` already.
pub fn has_size(db: &Connection, day: &str) -> rusqlite::Result<bool> {
    db.prepare_cached("SELECT EXISTS (SELECT 1 FROM community_sizes WHERE day = ?)")?
        .query_row([day], |r| r.get(0))
}

/// The latest size recorded on or before `day`.
pub fn size_on(db: &Connection, day: &str) -> rusqlite::Result<Option<u64>> {
    db.prepare_cached("SELECT size FROM community_sizes WHERE day <= ? ORDER BY day DESC LIMIT 1")?
        .query_row([day], |r| r.get(0))
        .optional()
}

/// Claims the announcement `days_before` the deadline; false when it was posted before.
pub fn claim_announcement(
    db: &Connection,
    days_before: i64,
    now: DateTime<Utc>,
) -> rusqlite::Result<bool> {
    db.prepare_cached(
        "INSERT INTO announcements (days_before, posted_at) VALUES (?, ?) ON CONFLICT DO NOTHING",
    )?
    .execute(params![days_before, At(now)])
    .map(|n| n == 1)
}
