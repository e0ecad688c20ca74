//! The store seam for what the schedule does once: each month's report (written, mailed,
//! posted), each week's digest (mailed, posted), each announcement before the deadline, and
//! the community's size by day (read by the report, outside units of work). Every claim is taken once across restarts and processes: the
//! first unit to claim a mark gets `true`, every later one `false`.

use chrono::{DateTime, NaiveDate, Utc};

use crate::db::{self, Conn, reports::MonthState};

/// One thing a month's report or a week's digest is claimed for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Mark {
    /// A month's report written to the reports folder.
    ReportWritten,
    /// A month's report mailed to the officers.
    ReportMailed,
    /// A month's report posted in the officers' channel.
    ReportPosted,
    /// A week's digest mailed.
    DigestMailed,
    /// A week's digest posted.
    DigestPosted,
}

impl Mark {
    /// The table, its key column and the column the claim sets (on PostgreSQL; SQLite's
    /// functions in `db/` name their own).
    pub fn columns(self) -> (&'static str, &'static str, &'static str) {
        match self {
            Mark::ReportWritten => ("report_months", "month", "written_at"),
            Mark::ReportMailed => ("report_months", "month", "mailed_at"),
            Mark::ReportPosted => ("report_months", "month", "posted_at"),
            Mark::DigestMailed => ("digests", "week", "mailed_at"),
            Mark::DigestPosted => ("digests", "week", "posted_at"),
        }
    }
}

/// What the schedule claims and keeps.
pub trait Schedule {
    /// Sets `mark` of `key` (a month `YYYY-MM`, a week `YYYY-Www`) to `now` unless it is set
    /// already; false when another unit, run or process got there first.
    fn claim(&self, mark: Mark, key: &str, now: DateTime<Utc>) -> anyhow::Result<bool>;

    /// Which of a month's report marks are set.
    fn month_state(&self, month: &str) -> anyhow::Result<MonthState>;

    /// Claims the announcement `days_before` the deadline; false when it was posted before.
    fn claim_announcement(&self, days_before: i64, now: DateTime<Utc>) -> anyhow::Result<bool>;

    /// Records the community's size on `day` (`source`: `discord` or `setting`), replacing
    /// what that day had.
    fn record_size(&self, day: NaiveDate, size: u64, source: &str) -> anyhow::Result<()>;
}

/// The day as both engines keep it.
pub fn day_key(day: NaiveDate) -> String {
    day.format("%Y-%m-%d").to_string()
}

impl Schedule for Conn {
    fn claim(&self, mark: Mark, key: &str, now: DateTime<Utc>) -> anyhow::Result<bool> {
        use db::{reports, routines};
        let claim = match mark {
            Mark::ReportWritten => reports::claim_written,
            Mark::ReportMailed => reports::claim_mailed,
            Mark::ReportPosted => reports::claim_posted,
            Mark::DigestMailed => routines::claim_digest_mailed,
            Mark::DigestPosted => routines::claim_digest_posted,
        };
        Ok(claim(self, key, now)?)
    }

    fn month_state(&self, month: &str) -> anyhow::Result<MonthState> {
        Ok(db::reports::month_state(self, month)?)
    }

    fn claim_announcement(&self, days_before: i64, now: DateTime<Utc>) -> anyhow::Result<bool> {
        Ok(db::routines::claim_announcement(self, days_before, now)?)
    }

    fn record_size(&self, day: NaiveDate, size: u64, source: &str) -> anyhow::Result<()> {
        Ok(db::routines::record_size(
            self,
            &day_key(day),
            size,
            source,
        )?)
    }
}
