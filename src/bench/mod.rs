//! `dsr-bot bench`: the deadline rush through the same service calls the Discord adapter
//! makes, measured against the raw single-row INSERT rate of the same SQLite settings; the
//! outbox drained to a real SMTP server; and the monthly report over many requests.

mod feed;
mod report;
mod rush;
mod seam;

use std::time::Duration;

pub use feed::{FeedOptions, feed};
pub use report::report;
pub use rush::{RushOptions, rush};
pub use seam::{SeamOptions, seam};

use crate::config::{Config, Limits};

fn config(dir: &std::path::Path, sync: &str) -> Config {
    let mut c = Config::for_folder(dir);
    c.sqlite_synchronous = sync.to_owned();
    // The bench drives many requests from one process; the limits are tested elsewhere.
    c.limits = Limits {
        per_person: 0,
        per_channel: 0,
        requests_per_hour: 0,
        code_mails_per_day: 0,
        code_tries_per_day: 0,
    };
    c
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    if sorted.is_empty() {
        return Duration::ZERO;
    }
    sorted[((sorted.len() as f64 - 1.0) * p).round() as usize]
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1_000.0
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
