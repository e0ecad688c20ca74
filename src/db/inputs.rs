//! `processed_inputs`: what has already taken effect, so a redelivery does nothing.

use chrono::{DateTime, Utc};
use sha2::{Digest, Sha256};
use sqlx::SqliteConnection;

/// Records `source:key` as handled; false when it already was.
pub async fn claim(
    conn: &mut SqliteConnection,
    source: &str,
    key: &str,
    now: DateTime<Utc>,
) -> sqlx::Result<bool> {
    let hash = hex::encode(Sha256::digest(format!("{source}:{key}").as_bytes()));
    let done = sqlx::query("INSERT INTO processed_inputs (key_hash, source, at) VALUES (?, ?, ?) ON CONFLICT DO NOTHING")
        .bind(hash)
        .bind(source)
        .bind(now)
        .execute(conn)
        .await?;
    Ok(done.rows_affected() == 1)
}
