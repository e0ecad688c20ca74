//! The figures of one month, following the definitions in DESIGN.md ("Definitions that must
//! not drift"), read with a handful of aggregate queries.

use chrono::{DateTime, Utc};
use chrono_tz::Tz;
use serde::Serialize;
use sqlx::SqliteConnection;

use super::Month;

/// One month's figures; every value is a number or null.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct MonthFigures {
    pub month: String,
    /// Confirmed opt-outs, opt-ins and deletions received in the month.
    pub opt_outs: i64,
    pub opt_ins: i64,
    pub deletions: i64,
    /// opt_outs / (opt_ins + opt_outs); null when both are zero.
    pub opt_out_rate: Option<f64>,
    /// People whose latest confirmed choice before the month's end is an opt-out / an opt-in.
    pub standing_opted_out: i64,
    pub standing_opted_in: i64,
    /// Of the confirmed decisions received in the month: at or before / after the deadline.
    pub before_deadline: i64,
    pub after_deadline: i64,
    /// Deletions completed in the month, and the median days from receipt to completion.
    pub deletions_completed: i64,
    pub median_days_to_complete: Option<f64>,
    /// Requests received by the month's end, due before it, and not answered by then.
    pub overdue_at_month_end: i64,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Report {
    #[serde(flatten)]
    pub figures: MonthFigures,
    pub timezone: String,
    /// The same figures for each earlier month with requests, oldest first.
    pub trend: Vec<MonthFigures>,
}

/// The report for `month`, with the trend since the first month that has requests.
pub async fn report(conn: &mut SqliteConnection, month: Month, tz: Tz) -> sqlx::Result<Report> {
    let first: Option<DateTime<Utc>> = sqlx::query_scalar("SELECT MIN(received_at) FROM requests")
        .fetch_one(&mut *conn)
        .await?;
    let mut trend = Vec::new();
    if let Some(first) = first {
        let mut m = Month::containing(first, tz);
        while m < month {
            trend.push(figures(conn, m, tz).await?);
            m = m.next();
        }
    }
    Ok(Report {
        figures: figures(conn, month, tz).await?,
        timezone: tz.name().to_owned(),
        trend,
    })
}

pub async fn figures(
    conn: &mut SqliteConnection,
    month: Month,
    tz: Tz,
) -> sqlx::Result<MonthFigures> {
    let (start, end) = month.bounds(tz);

    let decided: Vec<(String, i64, i64)> = sqlx::query_as(
        "SELECT kind, COALESCE(SUM(deadline_offset_secs <= 0), 0), COALESCE(SUM(deadline_offset_secs > 0), 0)
         FROM requests
         WHERE kind IN ('opt_out', 'opt_in', 'deletion') AND confirmed_at IS NOT NULL
           AND received_at >= ?1 AND received_at < ?2
         GROUP BY kind",
    )
    .bind(start)
    .bind(end)
    .fetch_all(&mut *conn)
    .await?;
    let count = |k: &str| {
        decided
            .iter()
            .filter(|d| d.0 == k)
            .map(|d| d.1 + d.2)
            .sum::<i64>()
    };
    let (opt_outs, opt_ins, deletions) = (count("opt_out"), count("opt_in"), count("deletion"));
    let before_deadline = decided.iter().map(|d| d.1).sum();
    let after_deadline = decided.iter().map(|d| d.2).sum();

    let standing: Vec<(String, i64)> = sqlx::query_as(
        "SELECT kind, COUNT(*) FROM (
             SELECT r.kind, ROW_NUMBER() OVER (PARTITION BY r.person_id ORDER BY r.confirmed_at DESC, r.id DESC) AS rn
             FROM requests r JOIN people p ON p.id = r.person_id
             WHERE r.kind IN ('opt_out', 'opt_in') AND r.confirmed_at IS NOT NULL AND r.confirmed_at < ?1
               AND (p.erased_at IS NULL OR p.erased_at >= ?1)
         ) WHERE rn = 1 GROUP BY kind",
    )
    .bind(end)
    .fetch_all(&mut *conn)
    .await?;
    let standing_of = |k: &str| standing.iter().find(|s| s.0 == k).map_or(0, |s| s.1);

    let completed: Vec<(DateTime<Utc>, DateTime<Utc>)> = sqlx::query_as(
        "SELECT received_at, closed_at FROM requests
         WHERE kind = 'deletion' AND state = 'completed' AND closed_at >= ?1 AND closed_at < ?2",
    )
    .bind(start)
    .bind(end)
    .fetch_all(&mut *conn)
    .await?;
    let mut days: Vec<f64> = completed
        .iter()
        .map(|(r, c)| (*c - *r).num_seconds() as f64 / 86_400.0)
        .collect();

    let overdue: i64 = sqlx::query_scalar(
        "SELECT COUNT(*) FROM requests
         WHERE kind != 'status' AND received_at < ?1 AND due_at < ?1
           AND COALESCE(CASE kind WHEN 'deletion' THEN closed_at ELSE COALESCE(confirmed_at, closed_at) END, ?1) >= ?1",
    )
    .bind(end)
    .fetch_one(&mut *conn)
    .await?;

    Ok(MonthFigures {
        month: month.to_string(),
        opt_outs,
        opt_ins,
        deletions,
        opt_out_rate: (opt_outs + opt_ins > 0)
            .then(|| opt_outs as f64 / (opt_outs + opt_ins) as f64),
        standing_opted_out: standing_of("opt_out"),
        standing_opted_in: standing_of("opt_in"),
        before_deadline,
        after_deadline,
        deletions_completed: completed.len() as i64,
        median_days_to_complete: median(&mut days),
        overdue_at_month_end: overdue,
    })
}

fn median(values: &mut [f64]) -> Option<f64> {
    if values.is_empty() {
        return None;
    }
    values.sort_by(f64::total_cmp);
    let n = values.len();
    let m = if n % 2 == 1 {
        values[n / 2]
    } else {
        (values[n / 2 - 1] + values[n / 2]) / 2.0
    };
    Some((m * 100.0).round() / 100.0)
}

#[cfg(test)]
mod tests {
    use super::median;

    #[test]
    fn median_of_odd_even_and_none() {
        assert_eq!(median(&mut []), None);
        assert_eq!(median(&mut [3.0, 1.0, 2.0]), Some(2.0));
        assert_eq!(median(&mut [4.0, 1.0, 2.0, 3.0]), Some(2.5));
    }
}
