//! `reply_tokens`: what a reply's token points at.

use chrono::{DateTime, Utc};
use sha2::{Digest, Sha256};
use sqlx::SqliteConnection;

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct ReplyToken {
    pub request_id: i64,
    pub email: String,
    pub expires_at: DateTime<Utc>,
}

pub fn hash(token: &str) -> String {
    hex::encode(Sha256::digest(token.as_bytes()))
}

pub async fn insert(
    conn: &mut SqliteConnection,
    token: &str,
    request_id: i64,
    email: &str,
    now: DateTime<Utc>,
    expires_at: DateTime<Utc>,
) -> sqlx::Result<()> {
    sqlx::query(
        "INSERT INTO reply_tokens (token_hash, request_id, email, created_at, expires_at) VALUES (?, ?, ?, ?, ?)",
    )
    .bind(hash(token))
    .bind(request_id)
    .bind(email)
    .bind(now)
    .bind(expires_at)
    .execute(conn)
    .await?;
    Ok(())
}

pub async fn find(conn: &mut SqliteConnection, token: &str) -> sqlx::Result<Option<ReplyToken>> {
    sqlx::query_as("SELECT request_id, email, expires_at FROM reply_tokens WHERE token_hash = ?")
        .bind(hash(token))
        .fetch_optional(conn)
        .await
}

/// The token of the outgoing mail with this Message-ID, for replies that lost the plus address
/// but kept In-Reply-To / References.
pub async fn find_by_message_id(
    conn: &mut SqliteConnection,
    message_id: &str,
) -> sqlx::Result<Option<ReplyToken>> {
    let token: Option<Option<String>> =
        sqlx::query_scalar("SELECT reply_token FROM outbox WHERE message_id = ?")
            .bind(message_id)
            .fetch_optional(&mut *conn)
            .await?;
    match token.flatten() {
        Some(t) => find(conn, &t).await,
        None => Ok(None),
    }
}

pub async fn delete_for_person(conn: &mut SqliteConnection, person_id: i64) -> sqlx::Result<()> {
    sqlx::query("DELETE FROM reply_tokens WHERE request_id IN (SELECT id FROM requests WHERE person_id = ?)")
        .bind(person_id)
        .execute(conn)
        .await?;
    Ok(())
}
