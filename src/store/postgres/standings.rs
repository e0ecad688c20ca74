//! The feed's standings on PostgreSQL. Nothing here names a person (a person's id, a state, a
//! policy version), so it is kept in clear. A position is taken under the feed's transaction
//! lock, held to the end of the unit: positions are handed out one unit after another, in the
//! order the units commit.

use anyhow::Context as _;
use chrono::{DateTime, Utc};
use sqlx::PgConnection;

use crate::store::standings::{NewStanding, Standing};

/// The feed's transaction-level lock (taken again in the same transaction, it is held). It is
/// the first of the unit-wide locks a unit takes: the log takes it before the log's head (see
/// [`super::log::append`]), so units logging and moving the feed take them in one order.
pub(super) async fn lock(tx: &mut PgConnection) -> anyhow::Result<()> {
    sqlx::query("SELECT pg_advisory_xact_lock(hashtextextended('feed', 0))")
        .execute(&mut *tx)
        .await
        .context("waiting for the feed's other units")?;
    Ok(())
}

/// Read under the feed's lock, so the standing decided from it is still the person's when it
/// is set.
pub async fn latest_choice(
    conn: &mut PgConnection,
    person: i64,
) -> anyhow::Result<Option<(i64, bool, DateTime<Utc>)>> {
    lock(conn).await?;
    sqlx::query_as(
        "SELECT id, kind = 'opt_out', confirmed_at FROM requests
          WHERE person_id = $1 AND kind IN ('opt_out', 'opt_in') AND confirmed_at IS NOT NULL
          ORDER BY confirmed_at DESC, id DESC LIMIT 1",
    )
    .bind(person)
    .fetch_optional(conn)
    .await
    .context("reading a person's latest choice")
}

pub async fn standing(conn: &mut PgConnection, person: i64) -> anyhow::Result<Option<Standing>> {
    type Row = (i64, i64, String, DateTime<Utc>, String, i64);
    let row: Option<Row> = sqlx::query_as(
        "SELECT person_id, seq, state, effective_from, policy_version, request_id
           FROM feed WHERE person_id = $1",
    )
    .bind(person)
    .fetch_optional(conn)
    .await
    .context("reading a person's standing")?;
    Ok(row.map(
        |(person_id, seq, state, effective_from, policy_version, request_id)| Standing {
            person_id,
            seq,
            state,
            effective_from,
            policy_version,
            request_id,
        },
    ))
}

pub async fn head(conn: &mut PgConnection) -> anyhow::Result<i64> {
    sqlx::query_scalar("SELECT COALESCE(MAX(seq), 0) FROM feed")
        .fetch_one(conn)
        .await
        .context("reading the feed's head")
}

pub async fn set_standing(tx: &mut PgConnection, s: &NewStanding<'_>) -> anyhow::Result<i64> {
    lock(tx).await?;
    let seq = head(tx).await? + 1;
    sqlx::query(
        "INSERT INTO feed (person_id, seq, state, effective_from, policy_version, request_id, changed_at)
         VALUES ($1, $2, $3, $4, $5, $6, $7)
         ON CONFLICT (person_id) DO UPDATE SET seq = $2, state = $3, effective_from = $4,
             policy_version = $5, request_id = $6, changed_at = $7",
    )
    .bind(s.person)
    .bind(seq)
    .bind(s.state)
    .bind(s.effective_from)
    .bind(s.policy_version)
    .bind(s.request)
    .bind(s.now)
    .execute(&mut *tx)
    .await
    .context("setting a person's standing")?;
    Ok(seq)
}

pub async fn touch(
    tx: &mut PgConnection,
    person: i64,
    now: DateTime<Utc>,
) -> anyhow::Result<Option<i64>> {
    lock(tx).await?;
    let seq = head(tx).await? + 1;
    let moved = sqlx::query(
        "UPDATE feed SET seq = $1, changed_at = $2 WHERE person_id = $3 AND state != 'erased'",
    )
    .bind(seq)
    .bind(now)
    .bind(person)
    .execute(&mut *tx)
    .await
    .context("moving a person to the end of the feed")?;
    Ok((moved.rows_affected() == 1).then_some(seq))
}

pub async fn consumer_keys(conn: &mut PgConnection) -> anyhow::Result<Vec<(i64, Vec<u8>)>> {
    sqlx::query_as("SELECT id, hash_key FROM consumers WHERE revoked_at IS NULL ORDER BY name")
        .fetch_all(conn)
        .await
        .context("reading the live consumers' keys")
}

pub async fn add_erased_hash(
    conn: &mut PgConnection,
    person: i64,
    consumer: i64,
    kind: &str,
    hash: &str,
) -> anyhow::Result<()> {
    sqlx::query(
        "INSERT INTO feed_erased (person_id, consumer_id, kind, hash) VALUES ($1, $2, $3, $4)
         ON CONFLICT DO NOTHING",
    )
    .bind(person)
    .bind(consumer)
    .bind(kind)
    .bind(hash)
    .execute(conn)
    .await
    .context("keeping an erased identity as a consumer hashes it")?;
    Ok(())
}

pub async fn applied(
    conn: &mut PgConnection,
    seq: i64,
) -> anyhow::Result<Vec<(String, Option<DateTime<Utc>>)>> {
    sqlx::query_as(
        "SELECT c.name, (SELECT a.applied_at FROM consumer_acks a
                          WHERE a.consumer_id = c.id AND a.seq >= $1 ORDER BY a.seq, a.id LIMIT 1)
           FROM consumers c WHERE c.revoked_at IS NULL ORDER BY c.name",
    )
    .bind(seq)
    .fetch_all(conn)
    .await
    .context("reading which consumers applied a change")
}

pub async fn webhook_consumers(conn: &mut PgConnection) -> anyhow::Result<Vec<i64>> {
    sqlx::query_scalar(
        "SELECT id FROM consumers WHERE revoked_at IS NULL AND webhook_url IS NOT NULL
            AND webhook_disabled_at IS NULL ORDER BY id",
    )
    .fetch_all(conn)
    .await
    .context("finding the consumers to push to")
}

/// Queued under the feed's lock (a push follows the position it tells of, in the same unit),
/// so at most one message waits per consumer.
pub async fn queue_webhook(
    tx: &mut PgConnection,
    consumer: i64,
    seq: i64,
    message_id: &str,
    now: DateTime<Utc>,
) -> anyhow::Result<()> {
    lock(tx).await?;
    let updated = sqlx::query(
        "UPDATE webhook_deliveries SET seq = GREATEST(seq, $1), message_id = $3
          WHERE consumer_id = $2 AND delivered_at IS NULL AND gave_up_at IS NULL
            AND (claimed_until IS NULL OR claimed_until <= $4)",
    )
    .bind(seq)
    .bind(consumer)
    .bind(message_id)
    .bind(now)
    .execute(&mut *tx)
    .await
    .context("telling a waiting webhook message of the feed's move")?;
    if updated.rows_affected() == 0 {
        sqlx::query(
            "INSERT INTO webhook_deliveries (consumer_id, message_id, seq, created_at, next_attempt_at)
             VALUES ($1, $2, $3, $4, $4)",
        )
        .bind(consumer)
        .bind(message_id)
        .bind(seq)
        .bind(now)
        .execute(&mut *tx)
        .await
        .context("queueing a webhook message")?;
    }
    Ok(())
}
