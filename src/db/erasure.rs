//! `erasure_receipts`: keyed hashes of identities erased by a completed deletion.

use chrono::{DateTime, Utc};
use sqlx::SqliteConnection;

pub async fn insert(
    conn: &mut SqliteConnection,
    person_id: i64,
    request_id: i64,
    kind: &str,
    value_hash: &str,
    now: DateTime<Utc>,
) -> sqlx::Result<()> {
    sqlx::query(
        "INSERT INTO erasure_receipts (person_id, request_id, kind, value_hash, erased_at) VALUES (?, ?, ?, ?, ?)",
    )
    .bind(person_id)
    .bind(request_id)
    .bind(kind)
    .bind(value_hash)
    .bind(now)
    .execute(conn)
    .await?;
    Ok(())
}
