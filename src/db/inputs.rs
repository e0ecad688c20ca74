//! `processed_inputs`: what has already taken effect, so a redelivery does nothing; and
//! `answered_senders`, when an address last got an unprompted answer.

use chrono::{DateTime, Utc};
use rusqlite::{Connection, OptionalExtension, params};
use sha2::{Digest, Sha256};

use super::sql::At;

/// What the table held before its hashes were keyed: SHA-256 of `source:key`. Still looked
/// for (so an import or a mail handled before is not taken twice), never written.
pub fn legacy_hash(source: &str, key: &str) -> String {
    hex::encode(Sha256::digest(format!("{source}:{key}").as_bytes()))
}

/// Records an input as handled under its keyed hash, ending as `disposition` (unless changed
/// later in the same transaction); false when it already was handled, under that hash or
/// `legacy`.
pub fn claim(
    db: &Connection,
    key_hash: &str,
    legacy: Option<&str>,
    source: &str,
    disposition: &str,
    now: DateTime<Utc>,
) -> rusqlite::Result<bool> {
    if let Some(old) = legacy
        && db
            .prepare_cached("SELECT EXISTS (SELECT 1 FROM processed_inputs WHERE key_hash = ?)")?
            .query_row([old], |r| r.get::<_, bool>(0))?
    {
        return Ok(false);
    }
    let done = db
        .prepare_cached(
            "INSERT INTO processed_inputs (key_hash, source, at, disposition) VALUES (?, ?, ?, ?)
             ON CONFLICT DO NOTHING",
        )?
        .execute(params![key_hash, source, At(now), disposition])?;
    Ok(done == 1)
}

/// Changes what a claimed input ended as, within the transaction that claimed it.
pub fn set_disposition(db: &Connection, key_hash: &str, disposition: &str) -> rusqlite::Result<()> {
    db.prepare_cached("UPDATE processed_inputs SET disposition = ? WHERE key_hash = ?")?
        .execute(params![disposition, key_hash])?;
    Ok(())
}

/// Replaces an unkeyed hash left from before with its keyed form (erasure does, for what
/// named the erased person).
pub fn rekey(db: &Connection, legacy: &str, key_hash: &str) -> rusqlite::Result<()> {
    db.prepare_cached("UPDATE OR IGNORE processed_inputs SET key_hash = ? WHERE key_hash = ?")?
        .execute([key_hash, legacy])?;
    db.prepare_cached("DELETE FROM processed_inputs WHERE key_hash = ?")?
        .execute([legacy])?;
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
