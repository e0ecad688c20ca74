//! `dsr-bot bench report`: the monthly report over many requests.

use std::time::Instant;

use super::{config, peak_rss_mib};
use crate::{db, reports::Month, startup::App};

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
    let mut counted = None;
    if db::bench::counts(pool).await?.0 == 0 {
        // Written by SQLite in one statement with the report's triggers off, then counted
        // once, as `dsr-bot report rebuild` does.
        db::bench::fill_requests(pool, n).await?;
        let t = Instant::now();
        app.services.reports().rebuild_counts().await?;
        counted = Some(t.elapsed());
    }
    let filled = fill.elapsed();
    let month = "2025-12".parse::<Month>().map_err(anyhow::Error::msg)?;
    let t = Instant::now();
    let streamed = crate::reports::gather::reference(
        app.services.database(),
        month,
        app.services.config().report_timezone,
    )
    .await?;
    let streaming = t.elapsed();
    let t = Instant::now();
    let r = app.services.reports().month(Some(month)).await?;
    let took = t.elapsed();
    anyhow::ensure!(
        r.figures == streamed.figures && r.trend == streamed.trend,
        "the kept counts and the requests disagree: run `dsr-bot report check`"
    );
    let rows = db::bench::counts(pool).await?.0;
    Ok(format!(
        "report over {rows} requests: {:.3} s for 2025-12 with {} trend months from the kept counts; \
         {:.3} s streamed from the requests (the reference; both agree)\n\
         fill took {:.1} s{}\n\
         opt_outs {} opt_ins {} deletions {} standing out/in {}/{} overdue {} median days {:?}\n\
         peak resident memory: {:.1} MiB\n",
        took.as_secs_f64(),
        r.trend.len(),
        streaming.as_secs_f64(),
        filled.as_secs_f64(),
        counted.map_or(String::new(), |c| format!(
            ", of which {:.1} s counting the report's figures",
            c.as_secs_f64()
        )),
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
