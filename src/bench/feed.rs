//! `dsr-bot bench feed`: a consumer pulling the whole snapshot of a feed of N people over the
//! HTTP API on loopback (pages/s, identities/s, and the memory the pull added), then the
//! writer's rate in a rush alone and with the snapshot being pulled over and over beside it.

use std::{
    sync::{
        Arc,
        atomic::{AtomicBool, AtomicUsize, Ordering},
    },
    time::Instant,
};

use anyhow::Context;

use super::{
    config, peak_rss_mib,
    rush::{RushOptions, closed_loop},
};
use crate::{db, services::Services, startup::App};

#[derive(Debug, Clone, clap::Args)]
pub struct FeedOptions {
    /// People in the feed, each opted out with a Discord account.
    #[arg(long, default_value_t = 100_000)]
    pub people: usize,
    /// Identities per page.
    #[arg(long, default_value_t = 1_000)]
    pub limit: usize,
    /// Requests of the rush run alone and beside the pulling.
    #[arg(long, default_value_t = 10_000)]
    pub rush_requests: usize,
}

/// Resets this process's peak resident memory (Linux), so the next reading is of what
/// follows.
fn reset_peak() {
    let _ = std::fs::write("/proc/self/clear_refs", "5");
}

/// Pulls the whole snapshot once: (pages, identities).
async fn pull(
    client: &reqwest::Client,
    base: &str,
    token: &str,
    limit: usize,
) -> anyhow::Result<(usize, usize)> {
    let (mut pages, mut identities) = (0, 0);
    let mut cursor = String::new();
    loop {
        let page: serde_json::Value = client
            .get(format!("{base}/v1/choices?limit={limit}&cursor={cursor}"))
            .bearer_auth(token)
            .send()
            .await?
            .error_for_status()?
            .json()
            .await?;
        pages += 1;
        identities += page["choices"].as_array().map_or(0, Vec::len);
        cursor = page["cursor"].as_str().unwrap_or_default().to_owned();
        if page["more"] != true {
            return Ok((pages, identities));
        }
    }
}

pub async fn feed(opts: FeedOptions) -> anyhow::Result<String> {
    let dir = tempfile::tempdir().context("a temporary folder for the benchmark database")?;
    let mut cfg = config(dir.path(), "full");
    // The bench pulls as fast as it can.
    cfg.http.rate_per_minute = 600_000;
    let app = App::build(cfg).await?;
    let services: Services = app.services.clone();
    let t = Instant::now();
    db::bench::fill_feed(services.pool(), opts.people, "bench").await?;
    let filled = t.elapsed().as_secs_f64();
    let token = services.feed().add("bench", None).await?.token;
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let base = format!("http://{}", listener.local_addr()?);
    let (stop_tx, stop) = tokio::sync::watch::channel(false);
    let server = tokio::spawn(crate::http::serve(services.clone(), listener, stop));
    let client = reqwest::Client::new();

    let before = peak_rss_mib().unwrap_or(f64::NAN);
    reset_peak();
    let t = Instant::now();
    let (pages, identities) = pull(&client, &base, &token, opts.limit).await?;
    let secs = t.elapsed().as_secs_f64();
    let during = peak_rss_mib().unwrap_or(f64::NAN);
    anyhow::ensure!(
        identities == opts.people,
        "the snapshot held {identities} identities, not {}",
        opts.people
    );

    let rush = RushOptions {
        requests: opts.rush_requests,
        concurrency: 100,
        rate: None,
        sync: "full".into(),
        smtp_url: None,
        database: None,
        print_acks: false,
        plain: false,
        no_log: false,
        compare_log: false,
    };
    // A first round warms the caches and the writer, so both measured rounds start alike.
    let n = opts.rush_requests;
    closed_loop(&services, &rush, 0).await?;
    let alone = closed_loop(&services, &rush, n).await?;
    let alone_rate = alone.latencies.len() as f64 / alone.elapsed.as_secs_f64();
    let pulling = Arc::new(AtomicBool::new(true));
    let pulled = Arc::new(AtomicUsize::new(0));
    let puller = {
        let (pulling, pulled, client, base, token) = (
            pulling.clone(),
            pulled.clone(),
            client.clone(),
            base.clone(),
            token.clone(),
        );
        let limit = opts.limit;
        tokio::spawn(async move {
            while pulling.load(Ordering::Relaxed) {
                if let Ok((p, _)) = pull(&client, &base, &token, limit).await {
                    pulled.fetch_add(p, Ordering::Relaxed);
                }
            }
        })
    };
    let beside = closed_loop(&services, &rush, 2 * n).await?;
    pulling.store(false, Ordering::Relaxed);
    puller.await?;
    let beside_rate = beside.latencies.len() as f64 / beside.elapsed.as_secs_f64();
    let _ = stop_tx.send(true);
    server.await??;

    Ok(format!(
        "feed: {} people (filled in {filled:.1} s), pages of {}\n\
         snapshot pulled over HTTP: {pages} pages in {secs:.2} s: {:.0} pages/s, {:.0} identities/s\n\
         peak resident memory: {before:.1} MiB before the pull, {during:.1} MiB during it\n\
         rush of {} requests (concurrency 100, synchronous=full): {alone_rate:.0}/s alone, \
         {beside_rate:.0}/s with the snapshot pulled beside it ({} pages meanwhile): {:.1} % fewer\n",
        opts.people,
        opts.limit,
        pages as f64 / secs,
        identities as f64 / secs,
        opts.rush_requests,
        pulled.load(Ordering::Relaxed),
        (1.0 - beside_rate / alone_rate) * 100.0
    ))
}
