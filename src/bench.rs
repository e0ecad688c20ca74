//! `dsr-bot bench`: the deadline rush through the same service calls the Discord adapter
//! makes, measured against the raw single-row INSERT rate of the same SQLite settings; the
//! outbox drained to a real SMTP server; and the monthly report over many requests.

use std::{
    sync::{
        Arc,
        atomic::{AtomicUsize, Ordering},
    },
    time::{Duration, Instant},
};

use anyhow::Context;
use sqlx::{ConnectOptions, Connection};

use crate::{
    config::Config,
    domain::{DiscordId, EmailAddress, RequestKind},
    email::Mailer,
    error::ServiceError,
    reports::Month,
    services::Origin,
    startup::App,
    workers::outbox::OutboxWorker,
};

#[derive(Debug, clap::Args)]
pub struct RushOptions {
    #[arg(long, default_value_t = 10_000)]
    pub requests: usize,
    #[arg(long, default_value_t = 100)]
    pub concurrency: usize,
    #[arg(long, default_value = "full")]
    pub sync: String,
    /// Also drain the outbox to this SMTP server and report mails/s.
    #[arg(long)]
    pub smtp_url: Option<String>,
    /// Keep the data in this database file instead of a temporary one.
    #[arg(long)]
    pub database: Option<std::path::PathBuf>,
    /// Print "ack ID" for each acknowledged request, as it happens.
    #[arg(long)]
    pub print_acks: bool,
}

fn config(dir: &std::path::Path, sync: &str) -> Config {
    let mut c = Config::for_folder(dir);
    c.sqlite_synchronous = sync.to_owned();
    c.limits = crate::config::Limits {
        per_person: 0,
        per_channel: 0,
    };
    c
}

/// What one simulated member does, from a fixed mix: mostly opt-outs, some opt-ins (a few
/// with an address to prove), deletions, status checks, and repeats of an earlier request.
fn call(i: usize) -> (u64, RequestKind, Option<EmailAddress>) {
    let roll = (i.wrapping_mul(2_654_435_761)) % 100;
    let user = if roll >= 95 { i.saturating_sub(1) } else { i } as u64;
    let kind = match roll {
        0..70 => RequestKind::OptOut,
        70..80 => RequestKind::OptIn,
        80..85 => RequestKind::Deletion,
        85..95 => RequestKind::Status,
        _ => RequestKind::OptOut,
    };
    let email = (roll % 10 == 3)
        .then(|| EmailAddress::parse(&format!("member{user}@example.org")).expect("valid"));
    (user, kind, email)
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    if sorted.is_empty() {
        return Duration::ZERO;
    }
    sorted[((sorted.len() as f64 - 1.0) * p).round() as usize]
}

/// Peak resident memory of this process, from /proc (Linux), in MiB.
pub fn peak_rss_mib() -> Option<f64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let kb: f64 = status
        .lines()
        .find(|l| l.starts_with("VmHWM:"))?
        .split_whitespace()
        .nth(1)?
        .parse()
        .ok()?;
    Some(kb / 1024.0)
}

pub async fn rush(opts: RushOptions) -> anyhow::Result<String> {
    let dir = tempfile::tempdir().context("a temporary folder for the benchmark database")?;
    let mut cfg = config(dir.path(), &opts.sync);
    if let Some(db) = &opts.database {
        cfg.database_path = db.clone();
    }
    let app = App::build(cfg).await?;
    let print_acks = opts.print_acks;
    let services = app.services.clone();
    let next = Arc::new(AtomicUsize::new(0));
    let started = Instant::now();
    let mut tasks = Vec::new();
    for _ in 0..opts.concurrency.max(1) {
        let (services, next, n) = (services.clone(), next.clone(), opts.requests);
        tasks.push(tokio::spawn(async move {
            let mut latencies = Vec::new();
            let mut refused = 0usize;
            loop {
                let i = next.fetch_add(1, Ordering::Relaxed);
                if i >= n {
                    break;
                }
                let (user, kind, email) = call(i);
                // As the Discord adapter calls it: each interaction is an input recorded once.
                let origin = Origin::discord(DiscordId(1_000_000 + user), i as u64);
                let t = Instant::now();
                let r = services.file_request(&origin, kind, email).await;
                latencies.push(t.elapsed());
                if print_acks && let Ok(reply) = &r {
                    use std::io::Write;
                    let mut out = std::io::stdout().lock();
                    let _ = writeln!(out, "ack {}", reply.request_id.unwrap_or_default());
                    let _ = out.flush();
                }
                match r {
                    Ok(_) | Err(ServiceError::User(_)) => {}
                    Err(_) => refused += 1,
                }
            }
            (latencies, refused)
        }));
    }
    let mut latencies = Vec::with_capacity(opts.requests);
    let mut failed = 0;
    for t in tasks {
        let (l, f) = t.await?;
        latencies.extend(l);
        failed += f;
    }
    let elapsed = started.elapsed();
    latencies.sort_unstable();
    let rate = opts.requests as f64 / elapsed.as_secs_f64();
    let rows: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM requests")
        .fetch_one(services.pool())
        .await?;
    let mails: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM outbox")
        .fetch_one(services.pool())
        .await?;

    let baseline = raw_insert_rate(dir.path(), &opts.sync, opts.requests.min(5_000)).await?;
    let mut out = format!(
        "rush: {} requests, concurrency {}, synchronous={}\n\
         requests/s:            {rate:.0}\n\
         ack latency p50/p99/max: {:.2} / {:.2} / {:.2} ms\n\
         rows: {rows} requests, {mails} outbox mails; internal errors: {failed}\n\
         baseline (single-row INSERT transactions, same pragmas): {baseline:.0}/s\n\
         ratio to baseline:     {:.2}x\n",
        opts.requests,
        opts.concurrency,
        opts.sync,
        ms(percentile(&latencies, 0.50)),
        ms(percentile(&latencies, 0.99)),
        ms(latencies.last().copied().unwrap_or_default()),
        rate / baseline,
    );
    if let Some(url) = &opts.smtp_url {
        let worker = OutboxWorker::new(services.clone(), Mailer::smtp(url)?);
        let t = Instant::now();
        let s = worker.flush().await?;
        let secs = t.elapsed().as_secs_f64();
        out.push_str(&format!(
            "mail drain to {url}: {} delivered, {} failed, {:.0} mails/s\n",
            s.delivered,
            s.failed,
            s.delivered as f64 / secs
        ));
    }
    out.push_str(&format!(
        "peak resident memory:  {:.1} MiB\n",
        peak_rss_mib().unwrap_or(f64::NAN)
    ));
    Ok(out)
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1_000.0
}

/// Single-row INSERT transactions into a bare table, one after another on one connection,
/// with the same journal and synchronous settings.
async fn raw_insert_rate(dir: &std::path::Path, sync: &str, n: usize) -> anyhow::Result<f64> {
    let options = sqlx::sqlite::SqliteConnectOptions::new()
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

/// Fills a database with `n` requests from `n / 2` people over twelve months (each person's
/// second choice supersedes the first), then times the monthly report with its trend.
pub async fn report(n: usize, database: Option<std::path::PathBuf>) -> anyhow::Result<String> {
    let dir = tempfile::tempdir()?;
    let mut cfg = config(dir.path(), "normal");
    if let Some(db) = database {
        cfg.database_path = db;
    }
    let app = App::build(cfg).await?;
    let pool = app.services.pool();
    let fill = Instant::now();
    let existing: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM requests")
        .fetch_one(pool)
        .await?;
    if existing == 0 {
        fill_requests(pool, n).await?;
    }
    let filled = fill.elapsed();
    let t = Instant::now();
    let r = app
        .services
        .monthly_report(Some(
            "2025-12".parse::<Month>().map_err(anyhow::Error::msg)?,
        ))
        .await?;
    let took = t.elapsed();
    let rows: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM requests")
        .fetch_one(pool)
        .await?;
    Ok(format!(
        "report over {rows} requests: {:.3} s for 2025-12 with {} trend months (fill took {:.1} s)\n\
         opt_outs {} opt_ins {} deletions {} standing out/in {}/{} overdue {} median days {:?}\n\
         peak resident memory: {:.1} MiB\n",
        took.as_secs_f64(),
        r.trend.len(),
        filled.as_secs_f64(),
        r.figures.opt_outs,
        r.figures.opt_ins,
        r.figures.deletions,
        r.figures.standing_opted_out,
        r.figures.standing_opted_in,
        r.figures.overdue_at_month_end,
        r.figures.median_days_to_complete,
        peak_rss_mib().unwrap_or(f64::NAN)
    ))
}

/// `n` requests received evenly over 2025, written by SQLite itself (timestamps in the
/// same text form the service writes). Request `i` belongs to person `i % (n / 2)`; the
/// first half is superseded or done, the second half stands, one in twenty of it still waiting.
async fn fill_requests(pool: &sqlx::SqlitePool, n: usize) -> anyhow::Result<()> {
    let people = (n / 2).max(1) as i64;
    let span = 365 * 86_400 / n.max(1) as i64;
    let mut tx = pool.begin().await?;
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
                               updated_at, confirmed_at, closed_at)
         SELECT person, kind, 'import',
                CASE WHEN open THEN 'awaiting_confirmation' ELSE done END,
                strftime('%Y-%m-%dT%H:%M:%S+00:00', s, 'unixepoch'),
                s - unixepoch('2025-09-29'),
                strftime('%Y-%m-%dT%H:%M:%S+00:00', s + 30 * 86400, 'unixepoch'),
                strftime('%Y-%m-%dT%H:%M:%S+00:00', s, 'unixepoch'),
                CASE WHEN open THEN NULL ELSE strftime('%Y-%m-%dT%H:%M:%S+00:00', s + i % 3 * 3600, 'unixepoch') END,
                CASE WHEN open OR (done = 'confirmed') THEN NULL
                     ELSE strftime('%Y-%m-%dT%H:%M:%S+00:00', s + (i % 40) * 86400, 'unixepoch') END
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
