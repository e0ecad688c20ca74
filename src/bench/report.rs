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
    if db::bench::counts(pool).await?.0 == 0 {
        db::bench::fill_requests(pool, n).await?;
    }
    let filled = fill.elapsed();
    let t = Instant::now();
    let month = "2025-12".parse::<Month>().map_err(anyhow::Error::msg)?;
    let r = app.services.reports().month(Some(month)).await?;
    let took = t.elapsed();
    let rows = db::bench::counts(pool).await?.0;
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
