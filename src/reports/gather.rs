//! The figures of every month up to the one asked for, following the definitions in
//! DESIGN.md ("Definitions that must not drift").
//!
//! A report over a million requests has to come back in well under a second, so the
//! figures of all months are read together in two streaming passes on a read-only
//! connection, instead of a set of aggregate queries per month: one pass over the confirmed
//! choices in (person, confirmation time) order, which gives each choice the span during
//! which it stands, and one pass over all requests. A figure "at the end of month i" is a
//! span `[from, until)` counted at every month end it contains: each span adds one at the
//! first month end it reaches and takes it away at the first one past it.
//!
//! The passes run on the same statement API as the writer (`db::Database::read`, rusqlite on
//! a pooled sqlx connection): sqlx hands every row across threads, and streaming the 875,000
//! choice rows of `dsr-bot bench report` through it took 1.0 s on its own, where reading them
//! in place takes 0.6 s for the whole report.

use std::collections::{BTreeMap, HashMap};

use anyhow::Context;
use chrono::{DateTime, Utc};
use chrono_tz::Tz;

use serde::Serialize;

use super::Month;
use crate::db::{self, Conn, Database};

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
    /// Requests received by the month's end, due before it, and not answered by then (an
    /// extended request is due at its extended date).
    pub overdue_at_month_end: i64,
    /// Due dates extended by an officer during the month.
    pub extended: i64,
    /// The community's size at the month's end (Discord's member count, or COMMUNITY_SIZE);
    /// null when unknown.
    pub community_size: Option<i64>,
    /// Members with no standing choice at the month's end (who count as opted in by doing
    /// nothing), and their share of the community; null when the size is unknown.
    pub no_decision: Option<i64>,
    pub no_decision_share: Option<f64>,
}

impl MonthFigures {
    /// A month the counts do not have at all: every figure zero or unknown.
    fn missing() -> MonthFigures {
        MonthFigures {
            month: String::new(),
            opt_outs: 0,
            opt_ins: 0,
            deletions: 0,
            opt_out_rate: None,
            standing_opted_out: 0,
            standing_opted_in: 0,
            before_deadline: 0,
            after_deadline: 0,
            deletions_completed: 0,
            median_days_to_complete: None,
            overdue_at_month_end: 0,
            extended: 0,
            community_size: None,
            no_decision: None,
            no_decision_share: None,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Report {
    #[serde(flatten)]
    pub figures: MonthFigures,
    pub timezone: String,
    /// Who the report is of (`ORGANISATION_NAME`), and when it was made, as people read it.
    pub organisation: String,
    pub generated: Stamp,
    /// The month is still in progress: its figures are so far, not final.
    pub so_far: bool,
    /// The same figures for each earlier month with requests, oldest first.
    pub trend: Vec<MonthFigures>,
    /// The notice versions in force during the month, by channel.
    pub notices: Vec<NoticeInForce>,
    /// The log's signed head and the public key it is checked with, when there is a log.
    pub log: Option<LogHead>,
    /// The systems that must honour the choices, and how far behind each is now.
    pub consumers: Vec<ConsumerInReport>,
}

/// An instant in the time zone it is shown in: in JSON and CSV as `2026-11-01 06:00 CET`,
/// in a rendered report as its language writes it (`domain::numbers::moment`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Stamp(pub DateTime<Tz>);

impl Stamp {
    pub fn new(at: DateTime<Utc>, tz: Tz) -> Stamp {
        Stamp(at.with_timezone(&tz))
    }

    pub fn shown(&self, language: crate::domain::Language) -> String {
        crate::domain::numbers::moment(language, &self.0)
    }
}

impl Serialize for Stamp {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.shown(crate::domain::Language::En))
    }
}

/// A consumer of the feed as the report shows it, as of when it was made.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ConsumerInReport {
    pub name: String,
    /// `None` (`null` in JSON) when it never acknowledged anything.
    pub last_acknowledged: Option<Stamp>,
    /// Changes it has not said it applied.
    pub unacknowledged: i64,
    /// Behind for over a day.
    pub stale: bool,
}

/// A notice version in force during the report's month: where it was shown, from when, how
/// many decisions the month confirmed under it, and whether it was still in force at the
/// month's end (the members with no decision then are counted under it).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct NoticeInForce {
    pub version: String,
    pub channel: String,
    pub language: String,
    pub since: Stamp,
    pub decisions: i64,
    pub at_month_end: bool,
}

/// The log as the report hands it out: a signed checkpoint and the key that checks it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct LogHead {
    pub checkpoint: String,
    pub public_key: String,
}

/// The report for `month`, with the trend since the first month that has requests, read on
/// one snapshot of the database: from the counts kept as requests change when they are kept
/// for `tz` (`db::counters`), else from the requests themselves.
pub async fn report(db: &Database, month: Month, tz: Tz) -> anyhow::Result<Report> {
    db.read(move |conn| {
        if db::counters::live_for(conn, tz)? {
            report_on(conn, month, tz, Source::Counts)
        } else {
            report_on(conn, month, tz, Source::Requests)
        }
    })
    .await
}

/// The same report computed from the requests, whatever the counts say: the reference the
/// counts are checked against (`dsr-bot report check`, and the tests).
pub async fn reference(db: &Database, month: Month, tz: Tz) -> anyhow::Result<Report> {
    db.read(move |conn| report_on(conn, month, tz, Source::Requests))
        .await
}

/// Every month up to `month` as the counts give it beside the same month streamed from the
/// requests, on one snapshot; `None` when the counts are not kept for `tz` (nothing to check).
pub async fn check(
    db: &Database,
    month: Month,
    tz: Tz,
) -> anyhow::Result<Option<Vec<(MonthFigures, MonthFigures)>>> {
    db.read(move |conn| {
        if !db::counters::live_for(conn, tz)? {
            return Ok(None);
        }
        let months = |r: Report| {
            let mut all = r.trend;
            all.push(r.figures);
            all
        };
        let counted = months(report_on(conn, month, tz, Source::Counts)?);
        let streamed = months(report_on(conn, month, tz, Source::Requests)?);
        // The same months: a counts table that lost its first month shows here too.
        let by_month: HashMap<String, MonthFigures> =
            counted.into_iter().map(|m| (m.month.clone(), m)).collect();
        Ok(Some(
            streamed
                .into_iter()
                .map(|s| {
                    let c = by_month
                        .get(&s.month)
                        .cloned()
                        .unwrap_or_else(|| MonthFigures {
                            month: s.month.clone(),
                            ..MonthFigures::missing()
                        });
                    (c, s)
                })
                .collect(),
        ))
    })
    .await
}

/// Where the figures are read from.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Source {
    /// `report_counts` (`db::counters`).
    Counts,
    /// The requests, in two streaming passes.
    Requests,
}

fn report_on(conn: &Conn, month: Month, tz: Tz, source: Source) -> anyhow::Result<Report> {
    let first = if source == Source::Counts {
        db::counters::first_month(conn)?
            .map(|m| m.parse::<Month>().map_err(anyhow::Error::msg))
            .transpose()?
    } else {
        db::reports::first_received(conn)?
            .map(|first| anyhow::Ok(Month::containing(instant(&first)?, tz)))
            .transpose()?
    };
    let mut months = Vec::new();
    if let Some(mut m) = first {
        while m < month {
            months.push(m);
            m = m.next();
        }
    }
    months.push(month);
    let mut acc = Accumulator::new(months.len());
    match source {
        Source::Counts => from_counts(conn, &months, &mut acc)?,
        Source::Requests => from_requests(conn, &months, tz, &mut acc)?,
    }
    let bounds = Bounds::new(&months, tz)?;
    for (i, end) in bounds.ends.iter().enumerate() {
        // The last day of the month, in the calendar the community size is kept in (UTC).
        let last_day = DateTime::from_timestamp_nanos(end - 1).format("%Y-%m-%d");
        acc.community[i] = db::routines::size_on(conn, &last_day.to_string())?.map(|n| n as i64);
    }

    let mut figures = acc.into_figures(&months);
    let last = figures.pop().expect("the asked month is always there");
    Ok(Report {
        figures: last,
        timezone: tz.name().to_owned(),
        organisation: String::new(),
        generated: Stamp::new(DateTime::UNIX_EPOCH, Tz::UTC),
        so_far: false,
        notices: Vec::new(),
        log: None,
        consumers: Vec::new(),
        trend: figures,
    })
}

/// Two streaming passes over the requests.
fn from_requests(
    conn: &Conn,
    months: &[Month],
    tz: Tz,
    acc: &mut Accumulator,
) -> anyhow::Result<()> {
    let bounds = Bounds::new(months, tz)?;
    standing_pass(conn, &bounds, acc)?;
    requests_pass(conn, &bounds, acc)
}

/// The kept counts: a row per month and figure. A span's changes before the first month
/// (none today: nothing stands before a request is received) count from the first.
fn from_counts(conn: &Conn, months: &[Month], acc: &mut Accumulator) -> anyhow::Result<()> {
    let last = months.last().expect("at least the asked month").to_string();
    let index: HashMap<String, usize> = months
        .iter()
        .enumerate()
        .map(|(i, m)| (m.to_string(), i))
        .collect();
    let first = months[0].to_string();
    for ((month, figure, bucket), n) in db::counters::up_to(conn, &last)? {
        let i = match index.get(&month) {
            Some(i) => *i,
            None if month < first => 0,
            None => continue,
        };
        let spans_only = month < first;
        match figure.as_str() {
            "standing_out" => acc.standing_out[i] += n,
            "standing_in" => acc.standing_in[i] += n,
            "overdue" => acc.overdue[i] += n,
            _ if spans_only => {}
            "opt_outs" => acc.opt_outs[i] += n,
            "opt_ins" => acc.opt_ins[i] += n,
            "deletions" => acc.deletions[i] += n,
            "before_deadline" => acc.before[i] += n,
            "after_deadline" => acc.after[i] += n,
            "extended" => acc.extended[i] += n,
            "completed" => *acc.completed[i].entry(bucket).or_default() += n,
            _ => {}
        }
    }
    Ok(())
}

/// The months as UTC nanosecond instants: where the first begins, and where each ends.
struct Bounds {
    start: i64,
    ends: Vec<i64>,
}

impl Bounds {
    fn new(months: &[Month], tz: Tz) -> anyhow::Result<Bounds> {
        let nanos = |t: DateTime<Utc>| {
            t.timestamp_nanos_opt()
                .context("a month outside the years 1677-2262")
        };
        Ok(Bounds {
            start: nanos(months[0].bounds(tz).0)?,
            ends: months
                .iter()
                .map(|m| nanos(m.bounds(tz).1))
                .collect::<anyhow::Result<_>>()?,
        })
    }

    /// The index of the first month end after `t`: the month `t` falls in, when `t` is not
    /// before the first month; `ends.len()` when it is after the last.
    fn after(&self, t: i64) -> usize {
        self.ends.partition_point(|e| *e <= t)
    }

    fn month_of(&self, t: i64) -> Option<usize> {
        (t >= self.start)
            .then(|| self.after(t))
            .filter(|i| *i < self.ends.len())
    }
}

/// Counts per month, and spans counted at month ends (`+1` where one starts counting,
/// `-1` where it stops).
struct Accumulator {
    opt_outs: Vec<i64>,
    opt_ins: Vec<i64>,
    deletions: Vec<i64>,
    before: Vec<i64>,
    after: Vec<i64>,
    standing_out: Vec<i64>,
    standing_in: Vec<i64>,
    overdue: Vec<i64>,
    /// Deletions completed in each month by hundredths of a day taken.
    completed: Vec<BTreeMap<i64, i64>>,
    extended: Vec<i64>,
    community: Vec<Option<i64>>,
}

impl Accumulator {
    fn new(n: usize) -> Accumulator {
        let zeros = || vec![0; n + 1];
        Accumulator {
            opt_outs: zeros(),
            opt_ins: zeros(),
            deletions: zeros(),
            before: zeros(),
            after: zeros(),
            standing_out: zeros(),
            standing_in: zeros(),
            overdue: zeros(),
            completed: vec![BTreeMap::new(); n],
            extended: zeros(),
            community: vec![None; n],
        }
    }

    fn into_figures(mut self, months: &[Month]) -> Vec<MonthFigures> {
        for spans in [
            &mut self.standing_out,
            &mut self.standing_in,
            &mut self.overdue,
        ] {
            for i in 1..spans.len() {
                spans[i] += spans[i - 1];
            }
        }
        months
            .iter()
            .enumerate()
            .map(|(i, m)| {
                let (outs, ins) = (self.opt_outs[i], self.opt_ins[i]);
                let standing = self.standing_out[i] + self.standing_in[i];
                let size = self.community[i];
                let no_decision = size.map(|s| (s - standing).max(0));
                MonthFigures {
                    month: m.to_string(),
                    opt_outs: outs,
                    opt_ins: ins,
                    deletions: self.deletions[i],
                    opt_out_rate: (outs + ins > 0).then(|| outs as f64 / (outs + ins) as f64),
                    standing_opted_out: self.standing_out[i],
                    standing_opted_in: self.standing_in[i],
                    before_deadline: self.before[i],
                    after_deadline: self.after[i],
                    deletions_completed: self.completed[i].values().sum(),
                    median_days_to_complete: median_days(&self.completed[i]),
                    overdue_at_month_end: self.overdue[i],
                    extended: self.extended[i],
                    community_size: size,
                    no_decision,
                    no_decision_share: size
                        .filter(|s| *s > 0)
                        .zip(no_decision)
                        .map(|(s, n)| n as f64 / s as f64),
                }
            })
            .collect()
    }
}

/// Adds a span `[from, until)` (instants) to `counts` at every month end inside it.
fn count_span(counts: &mut [i64], bounds: &Bounds, from: i64, until: Option<i64>) {
    let first = bounds.after(from);
    let stop = until.map_or(bounds.ends.len(), |u| bounds.after(u));
    if first < stop {
        counts[first] += 1;
        counts[stop] -= 1;
    }
}

/// A person's standing choice at a month end is their latest confirmed opt-in/opt-out before
/// it: each choice stands from its confirmation until the next one (or, once the person is
/// erased, not at all).
fn standing_pass(conn: &Conn, bounds: &Bounds, acc: &mut Accumulator) -> anyhow::Result<()> {
    let mut erased = HashMap::new();
    db::reports::erased_people(conn, |person, at| {
        erased.insert(person, nanos(at)?);
        Ok(())
    })?;
    let close =
        |acc: &mut Accumulator, (person, from, out): (i64, i64, bool), next: Option<i64>| {
            let until = match (next, erased.get(&person)) {
                (Some(n), Some(e)) => Some(n.min(*e)),
                (n, e) => n.or(e.copied()),
            };
            let counts = if out {
                &mut acc.standing_out
            } else {
                &mut acc.standing_in
            };
            count_span(counts, bounds, from, until);
        };
    // The previous choice, waiting to learn when the next one replaced it.
    let mut previous: Option<(i64, i64, bool)> = None;
    db::reports::choices(conn, |person, confirmed_at, out| {
        let choice = (person, nanos(confirmed_at)?, out);
        if let Some(prev) = previous.take() {
            let next = (prev.0 == choice.0).then_some(choice.1);
            close(acc, prev, next);
        }
        previous = Some(choice);
        Ok(())
    })?;
    if let Some(prev) = previous {
        close(acc, prev, None);
    }
    Ok(())
}

/// Decisions received in each month, deletions completed in it, and what was overdue at
/// its end: a request received and due before the end, and not answered by then (a deletion
/// is answered when completed, a choice when confirmed).
fn requests_pass(conn: &Conn, bounds: &Bounds, acc: &mut Accumulator) -> anyhow::Result<()> {
    let optional = |v: Option<&str>| v.map(nanos).transpose();
    db::reports::decisions(conn, |d| {
        let deletion = d.kind == "deletion";
        let received = nanos(d.received_at)?;
        let due = nanos(d.due_at)?;
        let confirmed = optional(d.confirmed_at)?;
        let closed = optional(d.closed_at)?;

        if confirmed.is_some()
            && let Some(i) = bounds.month_of(received)
        {
            match d.kind {
                "opt_out" => acc.opt_outs[i] += 1,
                "opt_in" => acc.opt_ins[i] += 1,
                _ => acc.deletions[i] += 1,
            }
            if d.deadline_offset_us <= 0 {
                acc.before[i] += 1;
            } else {
                acc.after[i] += 1;
            }
        }

        let answered = if deletion {
            closed
        } else {
            confirmed.or(closed)
        };
        // Overdue from the first month end past both its receipt and its due date.
        count_span(&mut acc.overdue, bounds, received.max(due), answered);

        if let Some(at) = optional(d.extended_at)?
            && let Some(i) = bounds.month_of(at)
        {
            acc.extended[i] += 1;
        }

        if deletion
            && d.completed
            && let Some(closed) = closed
            && let Some(i) = bounds.month_of(closed)
        {
            *acc.completed[i]
                .entry(hundredths(received, closed))
                .or_default() += 1;
        }
        Ok(())
    })
}

/// A stored timestamp as nanoseconds since 1970 (UTC). The service writes RFC 3339 with a
/// numeric offset; the common shapes are read by hand, anything else through chrono.
fn nanos(s: &str) -> anyhow::Result<i64> {
    fast_nanos(s.as_bytes())
        .or_else(|| {
            DateTime::parse_from_rfc3339(s)
                .or_else(|_| DateTime::parse_from_str(s, "%Y-%m-%d %H:%M:%S%.f%:z"))
                .ok()?
                .timestamp_nanos_opt()
        })
        .with_context(|| format!("a stored timestamp cannot be read: {s:?}"))
}

fn instant(s: &str) -> anyhow::Result<DateTime<Utc>> {
    Ok(DateTime::from_timestamp_nanos(nanos(s)?))
}

/// `YYYY-MM-DD[T ]HH:MM:SS[.fraction](Z|±HH:MM)`.
fn fast_nanos(b: &[u8]) -> Option<i64> {
    fn num(b: &[u8]) -> Option<i64> {
        b.iter().try_fold(0i64, |n, c| {
            c.is_ascii_digit().then(|| n * 10 + i64::from(c - b'0'))
        })
    }
    if b.len() < 20
        || b[4] != b'-'
        || b[7] != b'-'
        || !matches!(b[10], b'T' | b' ')
        || b[13] != b':'
        || b[16] != b':'
    {
        return None;
    }
    let (y, mo, d) = (num(&b[0..4])?, num(&b[5..7])?, num(&b[8..10])?);
    let (h, mi, sec) = (num(&b[11..13])?, num(&b[14..16])?, num(&b[17..19])?);
    if !(1..=12).contains(&mo) || !(1..=31).contains(&d) || h > 23 || mi > 59 || sec > 60 {
        return None;
    }
    let mut rest = &b[19..];
    let mut frac = 0i64;
    if rest.first() == Some(&b'.') {
        let digits = rest[1..].iter().take_while(|c| c.is_ascii_digit()).count();
        if digits == 0 || digits > 9 {
            return None;
        }
        frac = num(&rest[1..=digits])? * 10i64.pow(9 - digits as u32);
        rest = &rest[1 + digits..];
    }
    let offset = match rest {
        b"Z" => 0,
        [sign @ (b'+' | b'-'), oh @ .., b':', _, _] if oh.len() == 2 => {
            let minutes = num(oh)? * 60 + num(&rest[4..6])?;
            if *sign == b'+' { minutes } else { -minutes }
        }
        _ => return None,
    };
    // Days from 1970-01-01 in the proleptic Gregorian calendar (Howard Hinnant's algorithm).
    let (y, m) = if mo <= 2 {
        (y - 1, mo + 9)
    } else {
        (y, mo - 3)
    };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let doy = (153 * m + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    let days = era * 146_097 + doe - 719_468;
    let secs = days * 86_400 + h * 3_600 + mi * 60 + sec - offset * 60;
    secs.checked_mul(1_000_000_000)?.checked_add(frac)
}

/// The time a deletion took, in hundredths of a day (864 s), rounded to the nearest, from
/// the whole seconds of its receipt and its completion (as `report_request_months` counts it).
fn hundredths(received: i64, closed: i64) -> i64 {
    let secs = closed.div_euclid(1_000_000_000) - received.div_euclid(1_000_000_000);
    (secs + 432) / 864
}

/// The middle value of the completion times in `hist` (hundredths of a day -> how many), or
/// the mean of the two middle ones, in days to two decimals.
fn median_days(hist: &BTreeMap<i64, i64>) -> Option<f64> {
    let n: i64 = hist.values().sum();
    if n <= 0 {
        return None;
    }
    // The value at 0-based rank `k`.
    let at = |k: i64| {
        let mut seen = 0;
        hist.iter()
            .find(|(_, count)| {
                seen += **count;
                seen > k
            })
            .map(|(v, _)| *v)
            .expect("k is below the total")
    };
    let sum = if n % 2 == 1 {
        2 * at(n / 2)
    } else {
        at(n / 2 - 1) + at(n / 2)
    };
    Some((sum as f64 / 2.0).round() / 100.0)
}

#[cfg(test)]
mod tests {
    use super::{fast_nanos, hundredths, median_days, nanos};
    use chrono::DateTime;
    use std::collections::BTreeMap;

    #[test]
    fn stored_timestamps_read_as_chrono_reads_them() {
        for s in [
            "2025-09-28T23:59:59.999999999+00:00",
            "2025-09-28T23:59:59+00:00",
            "2025-03-30 01:00:00.5+00:00",
            "2024-02-29T12:00:00Z",
            "1999-12-31T23:00:00-05:30",
            "2026-01-01T00:00:00.123+02:00",
        ] {
            let expected = DateTime::parse_from_rfc3339(&s.replacen(' ', "T", 1))
                .unwrap()
                .timestamp_nanos_opt();
            assert_eq!(fast_nanos(s.as_bytes()), expected, "{s}");
        }
        assert_eq!(fast_nanos(b"2025-13-01T00:00:00Z"), None);
        assert_eq!(fast_nanos(b"2025-01-01T00:00:00"), None);
        assert!(nanos("yesterday").is_err());
    }

    #[test]
    fn median_of_odd_even_and_none() {
        let hist = |values: &[i64]| {
            let mut h = BTreeMap::new();
            for v in values {
                *h.entry(*v).or_insert(0) += 1;
            }
            h
        };
        assert_eq!(median_days(&hist(&[])), None);
        assert_eq!(median_days(&hist(&[300, 100, 200])), Some(2.0));
        assert_eq!(median_days(&hist(&[400, 100, 200, 300])), Some(2.5));
        assert_eq!(median_days(&hist(&[100, 100, 101, 900])), Some(1.01));
        assert_eq!(median_days(&hist(&[5, 5, 5, 5, 7])), Some(0.05));
    }

    #[test]
    fn a_completion_time_is_rounded_to_a_hundredth_of_a_day_from_whole_seconds() {
        let s = 1_000_000_000;
        assert_eq!(hundredths(0, 431 * s), 0);
        assert_eq!(hundredths(0, 432 * s), 1);
        assert_eq!(hundredths(0, 86_400 * s), 100);
        // Fractions of a second are cut off at both ends before subtracting.
        assert_eq!(hundredths(s / 2, 432 * s + s / 3), 1);
        assert_eq!(hundredths(s - 1, 432 * s), 1);
        assert_eq!(hundredths(s, 432 * s + s - 1), 0);
    }
}
