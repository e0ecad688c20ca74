//! What `dsr-bot bench` writes and counts outside the use-cases: a year of generated
//! requests for the report benchmark, and the raw single-row INSERT baseline.

use std::time::Instant;

use sqlx::{ConnectOptions, Connection, SqlitePool};

/// (requests, outbox mails) in the database.
pub async fn counts(pool: &SqlitePool) -> anyhow::Result<(i64, i64)> {
    Ok(
        sqlx::query_as("SELECT (SELECT COUNT(*) FROM requests), (SELECT COUNT(*) FROM outbox)")
            .fetch_one(pool)
            .await?,
    )
}

/// Single-row INSERT transactions into a bare table in `dir`, one after another on one
/// connection, with the same journal, synchronous and encryption settings: what one durable
/// write costs.
pub async fn raw_insert_rate(
    dir: &std::path::Path,
    sync: &str,
    n: usize,
    key: Option<&super::cipher::Key>,
) -> anyhow::Result<f64> {
    let mut options = sqlx::sqlite::SqliteConnectOptions::new();
    if let Some(k) = key {
        options = super::cipher::keyed(options, k);
    }
    let options = options
        .filename(dir.join("baseline.db"))
        .create_if_missing(true)
        .journal_mode(sqlx::sqlite::SqliteJournalMode::Wal)
        .synchronous(sync.parse().map_err(|e| anyhow::anyhow!("{e}"))?);
    let mut conn = options.connect().await?;
    sqlx::query("CREATE TABLE IF NOT EXISTS raw (id INTEGER PRIMARY KEY, at TEXT NOT NULL)")
        .execute(&mut conn)
        .await?;
    let t = Instant::now();
    for i in 0..n {
        let mut tx = conn.begin().await?;
        sqlx::query("INSERT INTO raw (at) VALUES (?)")
            .bind(format!("row {i}"))
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
    }
    Ok(n as f64 / t.elapsed().as_secs_f64())
}

/// `n` requests received evenly over 2025, written by SQLite itself (timestamps in the
/// same text form the service writes). Request `i` belongs to person `i % (n / 2)`; the
/// first half is superseded or done, the second half stands, one in twenty of it still waiting.
pub async fn fill_requests(pool: &SqlitePool, n: usize) -> anyhow::Result<()> {
    let people = (n / 2).max(1) as i64;
    let span = 365 * 86_400 / n.max(1) as i64;
    let mut tx = pool.begin().await?;
    // The report's triggers would count each row as it goes in; counted once afterwards.
    sqlx::query("UPDATE report_counter_state SET live = 0")
        .execute(&mut *tx)
        .await?;
    sqlx::query(
        "WITH RECURSIVE seq(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM seq WHERE i < ?1)
         INSERT INTO people (id, created_at) SELECT i, '2025-01-01T00:00:00+00:00' FROM seq",
    )
    .bind(people)
    .execute(&mut *tx)
    .await?;
    sqlx::query(
        "WITH RECURSIVE seq(i) AS (SELECT 0 UNION ALL SELECT i + 1 FROM seq WHERE i + 1 < ?1),
         r AS (SELECT i, i % ?2 + 1 AS person, i >= ?2 AS late,
                      (i + i / ?2 * 3) % 10 AS k,
                      unixepoch('2025-01-01') + i * ?3 AS s FROM seq),
         t AS (SELECT *, late AND i % 20 = 7 AS open,
                      CASE WHEN k < 6 THEN 'opt_out' WHEN k < 9 THEN 'opt_in' ELSE 'deletion' END AS kind,
                      CASE WHEN k < 9 AND late THEN 'confirmed' ELSE 'completed' END AS done FROM r)
         INSERT INTO requests (person_id, kind, channel, state, received_at, deadline_offset_secs, due_at,
                               updated_at, confirmed_at, closed_at, deadline_offset_us)
         SELECT person, kind, 'import',
                CASE WHEN open THEN 'awaiting_confirmation' ELSE done END,
                strftime('%Y-%m-%dT%H:%M:%S+00:00', s, 'unixepoch'),
                s - unixepoch('2025-09-29'),
                strftime('%Y-%m-%dT%H:%M:%S+00:00', s + 30 * 86400, 'unixepoch'),
                strftime('%Y-%m-%dT%H:%M:%S+00:00', s, 'unixepoch'),
                CASE WHEN open THEN NULL ELSE strftime('%Y-%m-%dT%H:%M:%S+00:00', s + i % 3 * 3600, 'unixepoch') END,
                CASE WHEN open OR (done = 'confirmed') THEN NULL
                     ELSE strftime('%Y-%m-%dT%H:%M:%S+00:00', s + (i % 40) * 86400, 'unixepoch') END,
                (s - unixepoch('2025-09-29')) * 1000000
         FROM t",
    )
    .bind(n as i64)
    .bind(people)
    .bind(span)
    .execute(&mut *tx)
    .await?;
    tx.commit().await?;
    Ok(())
}

/// `n` people who opted out, each with a Discord account, written by SQLite itself: person
/// `i` is `discord` id `2000000000000000000 + i`, with a confirmed opt-out and a place in
/// the feed.
pub async fn fill_feed(pool: &SqlitePool, n: usize, policy_version: &str) -> anyhow::Result<()> {
    let mut tx = pool.begin().await?;
    let first: i64 = sqlx::query_scalar("SELECT COALESCE(MAX(id), 0) FROM people")
        .fetch_one(&mut *tx)
        .await?;
    let seq0: i64 = sqlx::query_scalar("SELECT COALESCE(MAX(seq), 0) FROM feed")
        .fetch_one(&mut *tx)
        .await?;
    let req0: i64 = sqlx::query_scalar("SELECT COALESCE(MAX(id), 0) FROM requests")
        .fetch_one(&mut *tx)
        .await?;
    let at = "2025-09-20T10:00:00+00:00";
    // Every statement takes the same four values: how many, the first person, when, the
    // first request.
    for sql in [
        "WITH RECURSIVE s(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM s WHERE i < ?1)
         INSERT INTO people (id, created_at) SELECT ?2 + i, ?3 FROM s WHERE ?4 >= 0",
        "WITH RECURSIVE s(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM s WHERE i < ?1)
         INSERT INTO identities (person_id, kind, value, verified_at, created_at)
         SELECT ?2 + i, 'discord', CAST(2000000000000000000 + ?2 + i AS TEXT), ?3, ?3 FROM s
         WHERE ?4 >= 0",
        "WITH RECURSIVE s(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM s WHERE i < ?1)
         INSERT INTO requests (id, person_id, kind, channel, state, received_at, deadline_offset_secs,
                               due_at, updated_at, confirmed_at, deadline_offset_us)
         SELECT ?4 + i, ?2 + i, 'opt_out', 'import', 'confirmed',
                ?3, -740399, ?3, ?3, ?3, -740399000000 FROM s",
    ] {
        sqlx::query(sql)
            .bind(n as i64)
            .bind(first)
            .bind(at)
            .bind(req0)
            .execute(&mut *tx)
            .await?;
    }
    sqlx::query(
        "INSERT INTO feed (person_id, seq, state, effective_from, policy_version, request_id, changed_at)
         SELECT person_id, ?1 + ROW_NUMBER() OVER (ORDER BY id), 'opted_out', confirmed_at, ?2, id, confirmed_at
         FROM requests WHERE person_id > ?3 AND kind = 'opt_out'",
    )
    .bind(seq0)
    .bind(policy_version)
    .bind(first)
    .execute(&mut *tx)
    .await?;
    tx.commit().await?;
    Ok(())
}
