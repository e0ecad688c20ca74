//! What came in, on PostgreSQL: each decision is one statement that the unique key settles
//! (a second unit waits for the first to commit, then finds its row), or holds the sender's
//! transaction lock.

use anyhow::Context as _;
use chrono::{DateTime, Duration, Utc};
use sqlx::PgConnection;

use crate::domain::{RequestKind, RequestState};

pub async fn claim(
    tx: &mut PgConnection,
    key_hash: &str,
    legacy: Option<&str>,
    source: &str,
    disposition: &str,
    now: DateTime<Utc>,
) -> anyhow::Result<bool> {
    if let Some(old) = legacy {
        let seen: bool = sqlx::query_scalar(
            "SELECT EXISTS (SELECT 1 FROM processed_inputs WHERE key_hash = $1)",
        )
        .bind(old)
        .fetch_one(&mut *tx)
        .await
        .context("looking for an input handled before")?;
        if seen {
            return Ok(false);
        }
    }
    let done = sqlx::query(
        "INSERT INTO processed_inputs (key_hash, source, at, disposition) VALUES ($1, $2, $3, $4)
         ON CONFLICT DO NOTHING",
    )
    .bind(key_hash)
    .bind(source)
    .bind(now)
    .bind(disposition)
    .execute(&mut *tx)
    .await
    .context("claiming an input")?;
    Ok(done.rows_affected() == 1)
}

pub async fn set_disposition(
    tx: &mut PgConnection,
    key_hash: &str,
    disposition: &str,
) -> anyhow::Result<()> {
    sqlx::query("UPDATE processed_inputs SET disposition = $1 WHERE key_hash = $2")
        .bind(disposition)
        .bind(key_hash)
        .execute(&mut *tx)
        .await
        .context("recording what an input came to")?;
    Ok(())
}

/// One statement: a row is written (and returned) only when none is there or the last answer
/// is older than `within`. A unit meeting another's uncommitted row waits, then checks the
/// condition again on the committed one, so of units asking at once one may answer.
pub async fn may_answer(
    tx: &mut PgConnection,
    address_hash: &str,
    now: DateTime<Utc>,
    within: Duration,
) -> anyhow::Result<bool> {
    let written: Option<i32> = sqlx::query_scalar(
        "INSERT INTO answered_senders (address_hash, last_at) VALUES ($1, $2)
         ON CONFLICT (address_hash) DO UPDATE SET last_at = excluded.last_at
          WHERE answered_senders.last_at <= $3
         RETURNING 1",
    )
    .bind(address_hash)
    .bind(now)
    .bind(now - within)
    .fetch_optional(&mut *tx)
    .await
    .context("deciding whether an address may be answered")?;
    Ok(written.is_some())
}

pub async fn record_sender(
    tx: &mut PgConnection,
    request: i64,
    sender_hash: &str,
) -> anyhow::Result<()> {
    sqlx::query("INSERT INTO sender_requests (request_id, sender_hash) VALUES ($1, $2)")
        .bind(request)
        .bind(sender_hash)
        .execute(&mut *tx)
        .await
        .context("recording who sent a request")?;
    Ok(())
}

pub async fn sender_person(
    tx: &mut PgConnection,
    sender_hash: &str,
) -> anyhow::Result<Option<i64>> {
    super::limits::lock(tx, "sender", sender_hash).await?;
    sqlx::query_scalar(
        "SELECT r.person_id FROM sender_requests s JOIN requests r ON r.id = s.request_id
          WHERE s.sender_hash = $1 ORDER BY s.request_id DESC LIMIT 1",
    )
    .bind(sender_hash)
    .fetch_optional(&mut *tx)
    .await
    .context("finding who an unproven sender is")
}

pub async fn sender_waiting(
    tx: &mut PgConnection,
    sender_hash: &str,
    kind: RequestKind,
) -> anyhow::Result<Option<i64>> {
    super::limits::lock(tx, "sender", sender_hash).await?;
    sqlx::query_scalar(
        "SELECT r.id FROM sender_requests s JOIN requests r ON r.id = s.request_id
          WHERE s.sender_hash = $1 AND r.kind = $2 AND r.state = $3",
    )
    .bind(sender_hash)
    .bind(kind.as_str())
    .bind(RequestState::AwaitingConfirmation.as_str())
    .fetch_optional(&mut *tx)
    .await
    .context("finding a sender's waiting request")
}

/// Where a copy of a sender's mail stays; nothing in it names them (a keyed hash, a mailbox
/// position or a file name the bot chose), so it is kept in clear.
pub async fn record_copy(
    tx: &mut PgConnection,
    sender_hash: &str,
    source: &str,
    locator: &str,
    now: DateTime<Utc>,
) -> anyhow::Result<()> {
    sqlx::query(
        "INSERT INTO inbound_copies (sender_hash, source, locator, created_at) VALUES ($1, $2, $3, $4)",
    )
    .bind(sender_hash)
    .bind(source)
    .bind(locator)
    .bind(now)
    .execute(&mut *tx)
    .await
    .context("recording where a copy of a mail stays")?;
    Ok(())
}

pub async fn copy_purged(tx: &mut PgConnection, id: i64) -> anyhow::Result<()> {
    sqlx::query("DELETE FROM inbound_copies WHERE id = $1")
        .bind(id)
        .execute(&mut *tx)
        .await
        .context("recording a copy removed")?;
    Ok(())
}
