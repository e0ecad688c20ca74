//! `dsr-bot bench rush`: the last-day surge through the services, as the Discord adapter calls
//! them, against the raw single-row INSERT rate of the same settings.
//!
//! Two shapes of load. Closed loop (`--concurrency C`): C members who each file the next
//! request as soon as the last was acknowledged, which measures the most the writer takes.
//! Open loop (`--rate R`): requests arrive at R per second on average with random (Poisson)
//! gaps, as a crowd does, whether or not earlier ones were answered; latency is measured from
//! each request's arrival, so a writer that falls behind shows it in full.

use std::{
    sync::{
        Arc,
        atomic::{AtomicUsize, Ordering},
    },
    time::{Duration, Instant},
};

use anyhow::Context;
use rand::Rng;

use super::{config, ms, peak_rss_mib, percentile};
use crate::{
    db,
    domain::{DiscordId, EmailAddress, RequestKind},
    email::Mailer,
    error::ServiceError,
    services::{Origin, Reply, Services},
    startup::App,
    workers::outbox::OutboxWorker,
};

#[derive(Debug, Clone, clap::Args)]
pub struct RushOptions {
    #[arg(long, default_value_t = 10_000)]
    pub requests: usize,
    /// Closed loop: this many members, each filing again as soon as answered.
    #[arg(long, default_value_t = 100)]
    pub concurrency: usize,
    /// Open loop instead: requests arrive at this many per second (Poisson arrivals).
    #[arg(long)]
    pub rate: Option<f64>,
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
    /// Run on an unencrypted database, to see what encryption costs (the service itself
    /// always encrypts).
    #[arg(long)]
    pub plain: bool,
    /// Run without the log: events get no leaves, replies no receipts (to see what proof
    /// costs; the service itself always keeps the log).
    #[arg(long)]
    pub no_log: bool,
    /// Run the same rush without the log and with it, three times each in turn (fresh
    /// databases), and print both medians and their ratio.
    #[arg(long)]
    pub compare_log: bool,
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

/// Files request `i` as the Discord adapter would: each interaction is an input recorded once.
async fn file(services: &Services, i: usize, print_acks: bool) -> Result<Reply, ServiceError> {
    let (user, kind, email) = call(i);
    let origin = Origin::discord(DiscordId(1_000_000 + user), i as u64);
    let r = services.file_request(&origin, kind, email).await;
    // A status question files nothing: there is no request to acknowledge.
    if print_acks && let Ok(Some(id)) = r.as_ref().map(|reply| reply.request_id) {
        use std::io::Write;
        let mut out = std::io::stdout().lock();
        let _ = writeln!(out, "ack {id}");
        let _ = out.flush();
    }
    r
}

/// An answer that is neither a reply nor the person's own mistake.
fn internal(r: &Result<Reply, ServiceError>) -> bool {
    !matches!(r, Ok(_) | Err(ServiceError::User(_)))
}

/// Latencies and internal errors of a finished run, and how long it took.
pub(super) struct Run {
    pub(super) latencies: Vec<Duration>,
    pub(super) failed: usize,
    pub(super) elapsed: Duration,
}

pub async fn rush(opts: RushOptions) -> anyhow::Result<String> {
    if !opts.compare_log {
        return Ok(once(&opts).await?.0);
    }
    anyhow::ensure!(
        opts.database.is_none(),
        "--compare-log runs on fresh temporary databases; leave out --database"
    );
    let (mut without, mut with) = (Vec::new(), Vec::new());
    let mut out = String::new();
    for round in 1..=3 {
        for no_log in [true, false] {
            let (text, rate) = once(&RushOptions {
                no_log,
                compare_log: false,
                smtp_url: None,
                database: None,
                ..opts.clone()
            })
            .await?;
            let which = if no_log {
                "without the log"
            } else {
                "with the log"
            };
            out.push_str(&format!("--- round {round}, {which}\n{text}"));
            if no_log {
                without.push(rate);
            } else {
                with.push(rate);
            }
        }
    }
    let median = |v: &mut Vec<f64>| {
        v.sort_by(f64::total_cmp);
        v[v.len() / 2]
    };
    let (a, b) = (median(&mut without), median(&mut with));
    out.push_str(&format!(
        "--- the log's cost (median of 3 each): {a:.0}/s without, {b:.0}/s with: {:.1} % fewer requests/s\n",
        (1.0 - b / a) * 100.0
    ));
    Ok(out)
}

/// One rush: its report, and its requests/s.
async fn once(opts: &RushOptions) -> anyhow::Result<(String, f64)> {
    let dir = tempfile::tempdir().context("a temporary folder for the benchmark database")?;
    let mut cfg = config(dir.path(), &opts.sync);
    if let Some(db) = &opts.database {
        cfg.database_path = db.clone();
    }
    if opts.plain {
        cfg.database_key = crate::config::DatabaseKey::Plain;
    }
    let key = db::cipher::key(&cfg, true)?;
    let app = App::build(cfg.clone()).await?;
    let services = if opts.no_log {
        Services::without_log(
            app.services.database().clone(),
            Arc::new(cfg),
            Arc::new(crate::clock::SystemClock),
        )
        .await?
    } else {
        app.services.clone()
    };
    let mut run = match opts.rate {
        Some(rate) if rate > 0.0 => open_loop(&services, opts, rate).await?,
        Some(_) => anyhow::bail!("--rate must be above 0"),
        None => closed_loop(&services, opts, 0).await?,
    };
    run.latencies.sort_unstable();
    let done = run.latencies.len() as f64 / run.elapsed.as_secs_f64();
    let (rows, mails) = db::bench::counts(services.pool()).await?;
    let baseline = db::bench::raw_insert_rate(
        dir.path(),
        &opts.sync,
        opts.requests.min(5_000),
        key.as_ref(),
    )
    .await?;
    let load = match opts.rate {
        Some(rate) => format!("offered at {rate:.0}/s (Poisson arrivals)"),
        None => format!("concurrency {}", opts.concurrency),
    };
    let mut out = format!(
        "rush: {} requests, {load}, synchronous={}\n\
         requests/s:            {done:.0}\n\
         ack latency p50/p99/max: {:.2} / {:.2} / {:.2} ms\n\
         rows: {rows} requests, {mails} outbox mails; internal errors: {}\n\
         baseline (single-row INSERT transactions, same pragmas): {baseline:.0}/s\n\
         ratio to baseline:     {:.2}x\n",
        opts.requests,
        opts.sync,
        ms(percentile(&run.latencies, 0.50)),
        ms(percentile(&run.latencies, 0.99)),
        ms(run.latencies.last().copied().unwrap_or_default()),
        run.failed,
        done / baseline,
    );
    if let Some(rate) = opts.rate {
        out.push_str(&format!("offered / baseline:    {:.2}x\n", rate / baseline));
    }
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
    Ok((out, done))
}

/// `concurrency` members filing one request after another until `requests` are done.
/// Requests are numbered from `from`, so later rounds on one database are new interactions.
pub(super) async fn closed_loop(
    services: &Services,
    opts: &RushOptions,
    from: usize,
) -> anyhow::Result<Run> {
    let next = Arc::new(AtomicUsize::new(from));
    let started = Instant::now();
    let mut tasks = Vec::new();
    for _ in 0..opts.concurrency.max(1) {
        let (services, next) = (services.clone(), next.clone());
        let (n, print_acks) = (from + opts.requests, opts.print_acks);
        tasks.push(tokio::spawn(async move {
            let mut latencies = Vec::new();
            let mut failed = 0usize;
            loop {
                let i = next.fetch_add(1, Ordering::Relaxed);
                if i >= n {
                    break;
                }
                let t = Instant::now();
                let r = file(&services, i, print_acks).await;
                latencies.push(t.elapsed());
                failed += usize::from(internal(&r));
            }
            (latencies, failed)
        }));
    }
    let mut run = Run {
        latencies: Vec::with_capacity(opts.requests),
        failed: 0,
        elapsed: Duration::ZERO,
    };
    for t in tasks {
        let (l, f) = t.await?;
        run.latencies.extend(l);
        run.failed += f;
    }
    run.elapsed = started.elapsed();
    Ok(run)
}

/// Requests arriving at `rate` per second on average, exponential gaps between them; each
/// one's latency counts from when it arrived, not from when it was started.
async fn open_loop(services: &Services, opts: &RushOptions, rate: f64) -> anyhow::Result<Run> {
    let started = tokio::time::Instant::now();
    let mut rng = rand::thread_rng();
    let mut at = 0.0f64;
    let mut tasks = tokio::task::JoinSet::new();
    let mut run = Run {
        latencies: Vec::with_capacity(opts.requests),
        failed: 0,
        elapsed: Duration::ZERO,
    };
    let mut last = started;
    let mut record = |done: (Duration, bool, tokio::time::Instant)| {
        run.latencies.push(done.0);
        run.failed += usize::from(done.1);
        last = last.max(done.2);
    };
    for i in 0..opts.requests {
        // Inverse transform: an exponential gap with mean 1/rate.
        at += -(1.0 - rng.r#gen::<f64>()).ln() / rate;
        let arrival = started + Duration::from_secs_f64(at);
        tokio::time::sleep_until(arrival).await;
        let (services, print_acks) = (services.clone(), opts.print_acks);
        tasks.spawn(async move {
            let r = file(&services, i, print_acks).await;
            (arrival.elapsed(), internal(&r), tokio::time::Instant::now())
        });
        // Finished requests are let go at once, so memory follows what is in flight.
        while let Some(done) = tasks.try_join_next() {
            record(done?);
        }
    }
    while let Some(done) = tasks.join_next().await {
        record(done?);
    }
    run.elapsed = last - started;
    Ok(run)
}
