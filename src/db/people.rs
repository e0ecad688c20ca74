//! `people`: one row per person, an id and little else.

use chrono::{DateTime, Utc};
use sqlx::SqliteConnection;

pub async fn insert(conn: &mut SqliteConnection, now: DateTime<Utc>) -> sqlx::Result<i64> {
    let row: (i64,) = sqlx::query_as("INSERT INTO people (created_at) VALUES (?) RETURNING id")
        .bind(now)
        .fetch_one(conn)
        .await?;
    Ok(row.0)
}

pub async fn mark_erased(
    conn: &mut SqliteConnection,
    person_id: i64,
    now: DateTime<Utc>,
) -> sqlx::Result<()> {
    sqlx::query("UPDATE people SET erased_at = ? WHERE id = ?")
        .bind(now)
        .bind(person_id)
        .execute(conn)
        .await?;
    Ok(())
}
