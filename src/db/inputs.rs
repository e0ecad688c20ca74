//! `processed_inputs`: what has already taken effect, so a redelivery does nothing; and
//! `answered_senders`, when an address last got an unprompted answer.

use chrono::{DateTime, Utc};
use rusqlite::{Connection, OptionalExtension, params};
use sha2::{Digest, Sha256};

use super::sql::At;

fn key_hash(source: &str, key: &str) -> String {
    hex::encode(Sha256::digest(format!("{source}:{key}").as_bytes()))
}

/// Records `source:key` as handled, ending as `disposition` (unless changed later in the same
/// transaction); false when it already was handled.
pub fn claim(
    db: &Connection,
    source: &str,
    key: &str,
    disposition: &str,
    now: DateTime<Utc>,
) -> rusqlite::Result<bool> {
    let done = db
        .prepare_cached(
            "INSERT INTO processed_inputs (key_hash, source, at, disposition) VALUES (?, ?, ?, ?)
             ON CONFLICT DO NOTHING",
        )?
        .execute(params![key_hash(source, key), source, At(now), disposition])?;
    Ok(done == 1)
}

/// Changes what a claimed input ended as, within the transaction that claimed it.
pub fn set_disposition(
    db: &Connection,
    source: &str,
    key: &str,
    disposition: &str,
) -> rusqlite::Result<()> {
    db.prepare_cached("UPDATE processed_inputs SET disposition = ? WHERE key_hash = ?")?
        .execute(params![disposition, key_hash(source, key)])?;
    Ok(())
}

/// How many inputs of `source` ended with `disposition`.
pub fn count(db: &Connection, source: &str, disposition: &str) -> rusqlite::Result<i64> {
    db.prepare_cached("SELECT COUNT(*) FROM processed_inputs WHERE source = ? AND disposition = ?")?
        .query_row([source, disposition], |r| r.get(0))
}

/// Records that an unprompted answer goes to `address_hash` now, unless one went in the last
/// `within`; returns whether this one may go.
pub fn may_answer(
    db: &Connection,
    address_hash: &str,
    now: DateTime<Utc>,
    within: chrono::Duration,
) -> rusqlite::Result<bool> {
    let last: Option<At> = db
        .prepare_cached("SELECT last_at FROM answered_senders WHERE address_hash = ?")?
        .query_row([address_hash], |r| r.get(0))
        .optional()?;
    if last.is_some_and(|l| now - l.0 < within) {
        return Ok(false);
    }
    db.prepare_cached(
        "INSERT INTO answered_senders (address_hash, last_at) VALUES (?, ?)
         ON CONFLICT (address_hash) DO UPDATE SET last_at = excluded.last_at",
    )?
    .execute(params![address_hash, At(now)])?;
    Ok(true)
}
