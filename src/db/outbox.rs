//! `outbox`: mail waiting for delivery, written in the same transaction as its cause.

use chrono::{DateTime, Utc};
use sqlx::SqliteConnection;

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct Mail {
    pub id: i64,
    pub message_id: String,
    pub person_id: Option<i64>,
    pub request_id: Option<i64>,
    pub template: String,
    pub recipient: String,
    pub subject: String,
    pub body_text: String,
    pub body_html: String,
    pub attempts: i64,
    pub next_attempt_at: DateTime<Utc>,
    pub last_error: Option<String>,
    pub sent_at: Option<DateTime<Utc>>,
    pub scrub_after_send: bool,
    pub reply_token: Option<String>,
    pub in_reply_to: Option<String>,
    pub attachment_name: Option<String>,
    pub attachment_body: Option<String>,
}

pub struct NewMail<'a> {
    pub message_id: &'a str,
    pub person_id: Option<i64>,
    pub request_id: Option<i64>,
    pub template: &'a str,
    pub recipient: &'a str,
    pub subject: &'a str,
    pub body_text: &'a str,
    pub body_html: &'a str,
    pub scrub_after_send: bool,
    pub reply_token: Option<&'a str>,
    pub in_reply_to: Option<&'a str>,
    pub attachment: Option<(&'a str, &'a str)>,
}

const COLUMNS: &str = "id, message_id, person_id, request_id, template, recipient, subject, body_text, body_html, \
                       attempts, next_attempt_at, last_error, sent_at, scrub_after_send, reply_token, in_reply_to, \
                       attachment_name, attachment_body";

pub async fn insert(
    conn: &mut SqliteConnection,
    mail: &NewMail<'_>,
    now: DateTime<Utc>,
) -> sqlx::Result<i64> {
    let row: (i64,) = sqlx::query_as(
        "INSERT INTO outbox (message_id, person_id, request_id, template, recipient, subject, body_text, body_html,
                             created_at, next_attempt_at, scrub_after_send, reply_token, in_reply_to,
                             attachment_name, attachment_body)
         VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) RETURNING id",
    )
    .bind(mail.message_id)
    .bind(mail.person_id)
    .bind(mail.request_id)
    .bind(mail.template)
    .bind(mail.recipient)
    .bind(mail.subject)
    .bind(mail.body_text)
    .bind(mail.body_html)
    .bind(now)
    .bind(now)
    .bind(mail.scrub_after_send)
    .bind(mail.reply_token)
    .bind(mail.in_reply_to)
    .bind(mail.attachment.map(|a| a.0))
    .bind(mail.attachment.map(|a| a.1))
    .fetch_one(conn)
    .await?;
    Ok(row.0)
}

/// Claims the unsent mail that has waited longest among those due at `now`: its next attempt
/// moves to `lease_until`, so a second worker does not pick it up while this one sends it, and
/// a worker that dies mid-send leaves it to be retried once the lease runs out.
pub async fn claim_next_due(
    conn: &mut SqliteConnection,
    now: DateTime<Utc>,
    lease_until: DateTime<Utc>,
) -> sqlx::Result<Option<Mail>> {
    sqlx::query_as(&format!(
        "UPDATE outbox SET next_attempt_at = ?
         WHERE id = (SELECT id FROM outbox WHERE sent_at IS NULL AND next_attempt_at <= ?
                     ORDER BY next_attempt_at, id LIMIT 1)
         RETURNING {COLUMNS}"
    ))
    .bind(lease_until)
    .bind(now)
    .fetch_optional(conn)
    .await
}

pub async fn get(conn: &mut SqliteConnection, id: i64) -> sqlx::Result<Option<Mail>> {
    sqlx::query_as(&format!("SELECT {COLUMNS} FROM outbox WHERE id = ?"))
        .bind(id)
        .fetch_optional(conn)
        .await
}

pub async fn for_request(conn: &mut SqliteConnection, request_id: i64) -> sqlx::Result<Vec<Mail>> {
    sqlx::query_as(&format!(
        "SELECT {COLUMNS} FROM outbox WHERE request_id = ? ORDER BY id"
    ))
    .bind(request_id)
    .fetch_all(conn)
    .await
}

/// Marks a mail delivered; mail to an erased person loses its address and text at once.
pub async fn mark_sent(
    conn: &mut SqliteConnection,
    id: i64,
    now: DateTime<Utc>,
) -> sqlx::Result<()> {
    sqlx::query(
        "UPDATE outbox SET sent_at = ?, attempts = attempts + 1, last_error = NULL,
             recipient = CASE WHEN scrub_after_send THEN '' ELSE recipient END,
             subject = CASE WHEN scrub_after_send THEN '' ELSE subject END,
             body_text = CASE WHEN scrub_after_send THEN '' ELSE body_text END,
             body_html = CASE WHEN scrub_after_send THEN '' ELSE body_html END,
             reply_token = CASE WHEN scrub_after_send THEN NULL ELSE reply_token END
         WHERE id = ?",
    )
    .bind(now)
    .bind(id)
    .execute(conn)
    .await?;
    Ok(())
}

pub async fn mark_failed(
    conn: &mut SqliteConnection,
    id: i64,
    error: &str,
    next_attempt_at: DateTime<Utc>,
) -> sqlx::Result<()> {
    sqlx::query("UPDATE outbox SET attempts = attempts + 1, last_error = ?, next_attempt_at = ? WHERE id = ?")
        .bind(error)
        .bind(next_attempt_at)
        .bind(id)
        .execute(conn)
        .await?;
    Ok(())
}

/// For an erased person: wipes the mail already delivered and flags the rest to be wiped
/// once delivered.
pub async fn scrub_for_person(conn: &mut SqliteConnection, person_id: i64) -> sqlx::Result<()> {
    sqlx::query(
        "UPDATE outbox SET recipient = '', subject = '', body_text = '', body_html = '', reply_token = NULL,
                           scrub_after_send = 1
         WHERE person_id = ? AND sent_at IS NOT NULL",
    )
    .bind(person_id)
    .execute(&mut *conn)
    .await?;
    sqlx::query("UPDATE outbox SET scrub_after_send = 1 WHERE person_id = ? AND sent_at IS NULL")
        .bind(person_id)
        .execute(conn)
        .await?;
    Ok(())
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Counts {
    pub pending: i64,
    pub sent: i64,
}

pub async fn counts(conn: &mut SqliteConnection) -> sqlx::Result<Counts> {
    let (pending, sent): (i64, i64) = sqlx::query_as(
        "SELECT COALESCE(SUM(sent_at IS NULL), 0), COALESCE(SUM(sent_at IS NOT NULL), 0) FROM outbox",
    )
    .fetch_one(conn)
    .await?;
    Ok(Counts { pending, sent })
}
