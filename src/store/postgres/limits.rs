//! Limit events on PostgreSQL, shared by every process: a count and the event recorded on
//! its strength hold the key's lock to the end of their transaction.

use anyhow::Context as _;
use chrono::{DateTime, Duration, Utc};
use sqlx::PgConnection;

/// Takes this transaction's lock on the key (released when it ends, so it holds behind a
/// pooler in transaction mode too), then counts.
pub async fn count_since(
    tx: &mut PgConnection,
    scope: &str,
    key_hash: &str,
    since: DateTime<Utc>,
) -> anyhow::Result<i64> {
    lock(tx, scope, key_hash).await?;
    sqlx::query_scalar(
        "SELECT count(*) FROM limit_events WHERE scope = $1 AND key_hash = $2 AND at > $3",
    )
    .bind(scope)
    .bind(key_hash)
    .bind(since)
    .fetch_one(&mut *tx)
    .await
    .context("counting towards a limit")
}

pub async fn record(
    tx: &mut PgConnection,
    scope: &str,
    key_hash: &str,
    at: DateTime<Utc>,
) -> anyhow::Result<()> {
    lock(tx, scope, key_hash).await?;
    sqlx::query("INSERT INTO limit_events (scope, key_hash, at) VALUES ($1, $2, $3)")
        .bind(scope)
        .bind(key_hash)
        .bind(at)
        .execute(&mut *tx)
        .await
        .context("recording an event a limit counts")?;
    sqlx::query("DELETE FROM limit_events WHERE scope = $1 AND key_hash = $2 AND at < $3")
        .bind(scope)
        .bind(key_hash)
        .bind(at - Duration::days(2))
        .execute(&mut *tx)
        .await
        .context("letting go of old events a limit counted")?;
    Ok(())
}

/// The key's transaction-level advisory lock (taken again in the same transaction, it is
/// already held); an unproven mail sender's too (scope `sender`). Two keys may share a lock's 64 bits: they then take turns, nothing worse.
pub(super) async fn lock(tx: &mut PgConnection, scope: &str, key_hash: &str) -> anyhow::Result<()> {
    sqlx::query("SELECT pg_advisory_xact_lock(hashtextextended($1 || ':' || $2, 0))")
        .bind(scope)
        .bind(key_hash)
        .execute(&mut *tx)
        .await
        .context("waiting for a limit's other units")?;
    Ok(())
}
