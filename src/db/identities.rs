//! `identities`: the Discord ids, email addresses and console names through which a person
//! reaches the bot.

use chrono::{DateTime, Utc};
use sqlx::SqliteConnection;

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct Identity {
    pub id: i64,
    pub person_id: i64,
    pub kind: String,
    pub value: String,
    pub verified_at: Option<DateTime<Utc>>,
}

pub async fn find(
    conn: &mut SqliteConnection,
    kind: &str,
    value: &str,
) -> sqlx::Result<Option<Identity>> {
    sqlx::query_as("SELECT id, person_id, kind, value, verified_at FROM identities WHERE kind = ? AND value = ?")
        .bind(kind)
        .bind(value)
        .fetch_optional(conn)
        .await
}

pub async fn insert(
    conn: &mut SqliteConnection,
    person_id: i64,
    kind: &str,
    value: &str,
    verified_at: Option<DateTime<Utc>>,
    now: DateTime<Utc>,
) -> sqlx::Result<i64> {
    let row: (i64,) = sqlx::query_as(
        "INSERT INTO identities (person_id, kind, value, verified_at, created_at)
         VALUES (?, ?, ?, ?, ?) RETURNING id",
    )
    .bind(person_id)
    .bind(kind)
    .bind(value)
    .bind(verified_at)
    .bind(now)
    .fetch_one(conn)
    .await?;
    Ok(row.0)
}

/// Gives the identity to `person_id` as verified, whoever held it before: proof of control
/// of the address is what ownership means here.
pub async fn assign_verified(
    conn: &mut SqliteConnection,
    person_id: i64,
    kind: &str,
    value: &str,
    now: DateTime<Utc>,
) -> sqlx::Result<()> {
    sqlx::query(
        "INSERT INTO identities (person_id, kind, value, verified_at, created_at) VALUES (?, ?, ?, ?, ?)
         ON CONFLICT (kind, value) DO UPDATE SET person_id = excluded.person_id, verified_at = excluded.verified_at",
    )
    .bind(person_id)
    .bind(kind)
    .bind(value)
    .bind(now)
    .bind(now)
    .execute(conn)
    .await?;
    Ok(())
}

pub async fn for_person(
    conn: &mut SqliteConnection,
    person_id: i64,
) -> sqlx::Result<Vec<Identity>> {
    sqlx::query_as("SELECT id, person_id, kind, value, verified_at FROM identities WHERE person_id = ? ORDER BY id")
        .bind(person_id)
        .fetch_all(conn)
        .await
}

pub async fn verified_emails(
    conn: &mut SqliteConnection,
    person_id: i64,
) -> sqlx::Result<Vec<String>> {
    sqlx::query_scalar(
        "SELECT value FROM identities WHERE person_id = ? AND kind = 'email' AND verified_at IS NOT NULL ORDER BY id",
    )
    .bind(person_id)
    .fetch_all(conn)
    .await
}

pub async fn delete_for_person(conn: &mut SqliteConnection, person_id: i64) -> sqlx::Result<u64> {
    let done = sqlx::query("DELETE FROM identities WHERE person_id = ?")
        .bind(person_id)
        .execute(conn)
        .await?;
    Ok(done.rows_affected())
}

pub async fn mark_dm_closed(
    conn: &mut SqliteConnection,
    discord_id: &str,
    now: DateTime<Utc>,
) -> sqlx::Result<()> {
    sqlx::query("UPDATE identities SET dm_closed_at = ? WHERE kind = 'discord' AND value = ?")
        .bind(now)
        .bind(discord_id)
        .execute(conn)
        .await?;
    Ok(())
}

pub async fn dm_closed(conn: &mut SqliteConnection, discord_id: &str) -> sqlx::Result<bool> {
    let closed: Option<Option<String>> = sqlx::query_scalar(
        "SELECT dm_closed_at FROM identities WHERE kind = 'discord' AND value = ?",
    )
    .bind(discord_id)
    .fetch_optional(conn)
    .await?;
    Ok(matches!(closed, Some(Some(_))))
}
