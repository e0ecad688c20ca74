//! `processed_inputs`: what has already taken effect, so a redelivery does nothing.

use chrono::{DateTime, Utc};
use sha2::{Digest, Sha256};
use sqlx::SqliteConnection;

fn key_hash(source: &str, key: &str) -> String {
    hex::encode(Sha256::digest(format!("{source}:{key}").as_bytes()))
}

/// Records `source:key` as handled, ending as `disposition` (unless changed later in the same
/// transaction); false when it already was handled.
pub async fn claim(
    conn: &mut SqliteConnection,
    source: &str,
    key: &str,
    disposition: &str,
    now: DateTime<Utc>,
) -> sqlx::Result<bool> {
    let hash = key_hash(source, key);
    let done = sqlx::query(
        "INSERT INTO processed_inputs (key_hash, source, at, disposition) VALUES (?, ?, ?, ?)
         ON CONFLICT DO NOTHING",
    )
    .bind(hash)
    .bind(source)
    .bind(now)
    .bind(disposition)
    .execute(conn)
    .await?;
    Ok(done.rows_affected() == 1)
}

/// How many inputs of `source` ended with `disposition`.
pub async fn count(
    conn: &mut SqliteConnection,
    source: &str,
    disposition: &str,
) -> sqlx::Result<i64> {
    sqlx::query_scalar("SELECT COUNT(*) FROM processed_inputs WHERE source = ? AND disposition = ?")
        .bind(source)
        .bind(disposition)
        .fetch_one(conn)
        .await
}

/// Records that an unprompted answer goes to `address_hash` now, unless one went in the last
/// `within`; returns whether this one may go.
pub async fn may_answer(
    conn: &mut SqliteConnection,
    address_hash: &str,
    now: DateTime<Utc>,
    within: chrono::Duration,
) -> sqlx::Result<bool> {
    let last: Option<DateTime<Utc>> =
        sqlx::query_scalar("SELECT last_at FROM answered_senders WHERE address_hash = ?")
            .bind(address_hash)
            .fetch_optional(&mut *conn)
            .await?;
    if last.is_some_and(|l| now - l < within) {
        return Ok(false);
    }
    sqlx::query(
        "INSERT INTO answered_senders (address_hash, last_at) VALUES (?, ?)
         ON CONFLICT (address_hash) DO UPDATE SET last_at = excluded.last_at",
    )
    .bind(address_hash)
    .bind(now)
    .execute(conn)
    .await?;
    Ok(true)
}
