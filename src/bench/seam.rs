//! `dsr-bot bench seam`: filing an opt-out through the store seam (`store::Store`), the same
//! statements on both engines: meet a new member, take a place under their hourly limit, file
//! their opt-out, append its audit event, its leaf in the log and their standing in the feed
//! (`--no-log` leaves the last two out); one unit of work each. On SQLite (SQLCipher, the
//! writer's group commit) and, with `--database-url`, on PostgreSQL (one transaction per unit,
//! several at once), each beside its own single-row INSERT baseline measured in the same run.
//! Not the whole rush (no mail is rendered and no receipt signed): `bench rush` measures that,
//! on SQLite.

use std::{
    sync::{
        Arc,
        atomic::{AtomicUsize, Ordering},
    },
    time::{Duration, Instant},
};

use anyhow::Context as _;
use chrono::Utc;
use sqlx::{Connection as _, PgConnection};

use super::{config, ms, percentile};
use crate::{
    db::{self, events::Event, log::Item, requests::NewRequest},
    domain::{Actor, Channel, DiscordId, Language, RequestKind, RequestState, deadline},
    store::{Store, postgres, standings::NewStanding},
};

#[derive(Debug, Clone, clap::Args)]
pub struct SeamOptions {
    #[arg(long, default_value_t = 10_000)]
    pub units: usize,
    /// Members filing at once, each as soon as their last was acknowledged.
    #[arg(long, default_value_t = 32)]
    pub concurrency: usize,
    /// SQLite's `synchronous` setting.
    #[arg(long, default_value = "full")]
    pub sync: String,
    /// Also run on this PostgreSQL server: the bench makes a database of its own there and
    /// drops it afterwards (the URL's own database is only connected to).
    #[arg(long)]
    pub database_url: Option<String>,
    /// Leave out the log's leaf and the feed's standing (each a point every unit passes one
    /// at a time on PostgreSQL), to see what they cost.
    #[arg(long)]
    pub no_log: bool,
}

/// One unit: what the start of `/optout` does, on either engine.
fn unit(store: &dyn Store, member: u64, log: bool) -> anyhow::Result<()> {
    let now = Utc::now();
    let (person, _) = store.resolve(&Actor::Discord(DiscordId(member)), now)?;
    let key = format!("bench member {member}");
    store.count_since("requests", &key, now - chrono::Duration::hours(1))?;
    store.record("requests", &key, now)?;
    let filed = store.file(&NewRequest {
        person_id: person,
        kind: RequestKind::OptOut,
        channel: Channel::Discord,
        state: RequestState::Confirmed,
        received_at: now,
        deadline_offset_us: deadline::offset_micros(now, now),
        due_at: deadline::due_at(now, 30),
        language: Language::En,
    })?;
    let crate::store::requests::Filed::New(request) = filed else {
        anyhow::bail!("member {member} had an open opt-out already");
    };
    let event = store.append_event(&Event {
        request_id: request.id,
        at: now,
        from_state: None,
        to_state: RequestState::Confirmed,
        actor: "discord".into(),
        note: Some("received".into()),
        notice: None,
    })?;
    if log {
        let record = format!("event {event} of request {} by {person}", request.id);
        store.log_append(Item::Event(event), record.as_bytes())?;
        store.set_standing(&NewStanding {
            person,
            state: "opted_out",
            effective_from: now,
            policy_version: "bench",
            request: request.id,
            now,
        })?;
    }
    Ok(())
}

/// Units done per second, and each one's latency, sorted.
struct Run {
    per_second: f64,
    latencies: Vec<Duration>,
}

/// `concurrency` members filing in turn until `units` are done; `one` runs member `i`'s unit.
async fn drive<F, Fut>(opts: &SeamOptions, one: F) -> anyhow::Result<Run>
where
    F: Fn(u64) -> Fut + Clone + Send + 'static,
    Fut: Future<Output = anyhow::Result<()>> + Send,
{
    let next = Arc::new(AtomicUsize::new(0));
    let start = Instant::now();
    let mut tasks = tokio::task::JoinSet::new();
    for _ in 0..opts.concurrency.max(1) {
        let (next, one, units) = (next.clone(), one.clone(), opts.units);
        tasks.spawn(async move {
            let mut latencies = Vec::new();
            loop {
                let i = next.fetch_add(1, Ordering::Relaxed);
                if i >= units {
                    return anyhow::Ok(latencies);
                }
                let t = Instant::now();
                one(i as u64 + 1).await?;
                latencies.push(t.elapsed());
            }
        });
    }
    let mut latencies = Vec::with_capacity(opts.units);
    while let Some(done) = tasks.join_next().await {
        latencies.extend(done??);
    }
    let per_second = latencies.len() as f64 / start.elapsed().as_secs_f64();
    latencies.sort_unstable();
    Ok(Run {
        per_second,
        latencies,
    })
}

fn line(engine: &str, run: &Run, baseline: f64) -> String {
    format!(
        "{engine}: {:.0} units/s; p50/p99/max {:.2} / {:.2} / {:.2} ms; \
         single-row INSERT baseline {baseline:.0}/s; ratio {:.2}x\n",
        run.per_second,
        ms(percentile(&run.latencies, 0.50)),
        ms(percentile(&run.latencies, 0.99)),
        ms(percentile(&run.latencies, 1.0)),
        run.per_second / baseline,
    )
}

pub async fn seam(opts: SeamOptions) -> anyhow::Result<String> {
    let log = !opts.no_log;
    let mut out = format!(
        "seam: {} units (meet, limit, file, event{}), concurrency {}\n",
        opts.units,
        if log { ", leaf, standing" } else { "" },
        opts.concurrency
    );
    // SQLite: the encrypted default, through its writer.
    let dir = tempfile::tempdir().context("a temporary folder for the benchmark database")?;
    let cfg = config(dir.path(), &opts.sync);
    let key = db::cipher::key(&cfg, true)?;
    let database = db::connect(&cfg, db::Access::ReadWrite).await?;
    let run = drive(&opts, move |member| {
        let database = database.clone();
        async move { database.write(move |c| unit(c, member, log)).await }
    })
    .await?;
    let baseline =
        db::bench::raw_insert_rate(dir.path(), &opts.sync, opts.units.min(5_000), key.as_ref())
            .await?;
    out.push_str(&line(
        &format!("sqlite (SQLCipher, synchronous={})", opts.sync),
        &run,
        baseline,
    ));

    if let Some(url) = &opts.database_url {
        let (bench_url, name) = bench_database(url).await?;
        let measured = async {
            // A key of the run's own: the database is dropped with it.
            let key: [u8; 32] = rand::random();
            let store = postgres::connect(&bench_url, &key).await?;
            let run = drive(&opts, move |member| {
                let store = store.clone();
                async move { store.unit(move |u| unit(u, member, log)).await }
            })
            .await?;
            let baseline = pg_insert_rate(&bench_url, opts.units.min(5_000)).await?;
            anyhow::Ok((run, baseline))
        }
        .await;
        drop_database(url, &name).await?;
        let (run, baseline) = measured?;
        out.push_str(&line("postgres", &run, baseline));
    }
    Ok(out)
}

/// A fresh database on the server at `url` for the run: its URL and name.
async fn bench_database(url: &str) -> anyhow::Result<(String, String)> {
    let name = format!("dsr_bench_{}", uuid::Uuid::new_v4().simple());
    let mut admin = PgConnection::connect(url)
        .await
        .context("connecting to PostgreSQL at --database-url")?;
    sqlx::query(&format!("CREATE DATABASE {name}"))
        .execute(&mut admin)
        .await
        .context("making the benchmark's database")?;
    let mut bench = url::Url::parse(url).context("--database-url is not a URL")?;
    bench.set_path(&name);
    Ok((bench.to_string(), name))
}

async fn drop_database(url: &str, name: &str) -> anyhow::Result<()> {
    let mut admin = PgConnection::connect(url).await?;
    sqlx::query(&format!("DROP DATABASE {name} WITH (FORCE)"))
        .execute(&mut admin)
        .await
        .context("dropping the benchmark's database")?;
    Ok(())
}

/// Single-row INSERT transactions into a bare table, one after another on one connection:
/// what one durable write costs on that server as it is set up.
async fn pg_insert_rate(url: &str, n: usize) -> anyhow::Result<f64> {
    let mut conn = PgConnection::connect(url).await?;
    sqlx::query(
        "CREATE TABLE raw (id BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY, at TEXT NOT NULL)",
    )
    .execute(&mut conn)
    .await?;
    let t = Instant::now();
    for i in 0..n {
        let mut tx = conn.begin().await?;
        sqlx::query("INSERT INTO raw (at) VALUES ($1)")
            .bind(format!("row {i}"))
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
    }
    Ok(n as f64 / t.elapsed().as_secs_f64())
}
