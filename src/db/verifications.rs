//! `email_verifications`: one-time codes proving control of an email address.

use chrono::{DateTime, Utc};
use sqlx::SqliteConnection;

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct Verification {
    pub id: i64,
    pub person_id: i64,
    pub request_id: i64,
    pub email: String,
    pub code_hash: String,
    pub attempts: i64,
    pub expires_at: DateTime<Utc>,
    pub verified_at: Option<DateTime<Utc>>,
}

const COLUMNS: &str =
    "id, person_id, request_id, email, code_hash, attempts, expires_at, verified_at";

pub async fn insert(
    conn: &mut SqliteConnection,
    person_id: i64,
    request_id: i64,
    email: &str,
    code_hash: &str,
    now: DateTime<Utc>,
    expires_at: DateTime<Utc>,
) -> sqlx::Result<i64> {
    let row: (i64,) = sqlx::query_as(
        "INSERT INTO email_verifications (person_id, request_id, email, code_hash, created_at, expires_at)
         VALUES (?, ?, ?, ?, ?, ?) RETURNING id",
    )
    .bind(person_id)
    .bind(request_id)
    .bind(email)
    .bind(code_hash)
    .bind(now)
    .bind(expires_at)
    .fetch_one(conn)
    .await?;
    Ok(row.0)
}

/// The newest unverified code for a request, expired or not.
pub async fn latest_for_request(
    conn: &mut SqliteConnection,
    request_id: i64,
) -> sqlx::Result<Option<Verification>> {
    sqlx::query_as(&format!(
        "SELECT {COLUMNS} FROM email_verifications WHERE request_id = ? AND verified_at IS NULL ORDER BY id DESC LIMIT 1"
    ))
    .bind(request_id)
    .fetch_optional(conn)
    .await
}

/// The person's newest unverified code whose request is still open.
pub async fn latest_pending_for_person(
    conn: &mut SqliteConnection,
    person_id: i64,
) -> sqlx::Result<Option<Verification>> {
    sqlx::query_as(&format!(
        "SELECT {COLUMNS} FROM email_verifications v
         WHERE v.person_id = ? AND v.verified_at IS NULL
           AND EXISTS (SELECT 1 FROM requests r WHERE r.id = v.request_id
                       AND r.state IN ('awaiting_confirmation', 'confirmed'))
         ORDER BY v.id DESC LIMIT 1"
    ))
    .bind(person_id)
    .fetch_optional(conn)
    .await
}

pub async fn count_attempt(conn: &mut SqliteConnection, id: i64) -> sqlx::Result<()> {
    sqlx::query("UPDATE email_verifications SET attempts = attempts + 1 WHERE id = ?")
        .bind(id)
        .execute(conn)
        .await?;
    Ok(())
}

pub async fn mark_verified(
    conn: &mut SqliteConnection,
    id: i64,
    now: DateTime<Utc>,
) -> sqlx::Result<()> {
    sqlx::query("UPDATE email_verifications SET verified_at = ? WHERE id = ?")
        .bind(now)
        .bind(id)
        .execute(conn)
        .await?;
    Ok(())
}

pub async fn delete_for_person(conn: &mut SqliteConnection, person_id: i64) -> sqlx::Result<()> {
    sqlx::query("DELETE FROM email_verifications WHERE person_id = ?")
        .bind(person_id)
        .execute(conn)
        .await?;
    Ok(())
}
