//! Deadline maths: the signed offset of a request to the policy deadline, its response due
//! date, and how both are said to people ("3 days 4 hours before the deadline").

use chrono::{DateTime, Datelike, Duration, Months, TimeZone, Utc};
use chrono_tz::Tz;
use std::fmt::Write as _;

/// `received - deadline` in microseconds, the precision receive times are kept in; negative
/// means before the deadline.
pub fn offset_micros(received: DateTime<Utc>, deadline: DateTime<Utc>) -> i64 {
    (received - deadline).num_microseconds().unwrap_or(i64::MAX)
}

/// The same in whole seconds (toward zero), for what shows seconds.
pub fn offset_seconds(received: DateTime<Utc>, deadline: DateTime<Utc>) -> i64 {
    (received - deadline).num_seconds()
}

/// An instant as it is kept: to the microsecond.
pub fn kept(at: DateTime<Utc>) -> DateTime<Utc> {
    use chrono::SubsecRound;
    at.trunc_subsecs(6)
}

/// The date by which a request received at `received` must be answered.
pub fn due_at(received: DateTime<Utc>, response_days: u32) -> DateTime<Utc> {
    received + Duration::days(i64::from(response_days))
}

/// "3 days 4 hours before the deadline", "1 year 2 months after the deadline".
/// Years and months are counted on the calendar of `tz`, so a month is a calendar month there.
pub fn describe_offset(received: DateTime<Utc>, deadline: DateTime<Utc>, tz: Tz) -> String {
    describe_offset_in(received, deadline, tz, &OffsetWords::ENGLISH)
}

/// The words an offset from the deadline is said with, in one language.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OffsetWords {
    pub exactly: &'static str,
    pub under_a_second_before: &'static str,
    pub under_a_second_after: &'static str,
    /// With `{span}` where the span goes.
    pub before: &'static str,
    pub after: &'static str,
    /// Between the two parts of a span ("3 days 4 hours").
    pub join: &'static str,
    /// Singular and plural of year, month, day, hour, minute, second.
    pub units: [(&'static str, &'static str); 6],
}

impl OffsetWords {
    pub const ENGLISH: OffsetWords = OffsetWords {
        exactly: "exactly at the deadline",
        under_a_second_before: "less than a second before the deadline",
        under_a_second_after: "less than a second after the deadline",
        before: "{span} before the deadline",
        after: "{span} after the deadline",
        join: " ",
        units: [
            ("year", "years"),
            ("month", "months"),
            ("day", "days"),
            ("hour", "hours"),
            ("minute", "minutes"),
            ("second", "seconds"),
        ],
    };
}

/// As [`describe_offset`], in the words of one language.
pub fn describe_offset_in(
    received: DateTime<Utc>,
    deadline: DateTime<Utc>,
    tz: Tz,
    words: &OffsetWords,
) -> String {
    let offset = offset_micros(received, deadline);
    if offset == 0 {
        return words.exactly.to_owned();
    }
    if offset.abs() < 1_000_000 {
        return if offset < 0 {
            words.under_a_second_before
        } else {
            words.under_a_second_after
        }
        .to_owned();
    }
    let (from, to, side) = if offset < 0 {
        (received, deadline, words.before)
    } else {
        (deadline, received, words.after)
    };
    // Written straight into one string: a listing says this of every request it shows.
    let (head, tail) = side.split_once("{span}").unwrap_or((side, ""));
    let mut out = String::with_capacity(side.len() + 24);
    out.push_str(head);
    write_span(&mut out, from, to, tz, words);
    out.push_str(tail);
    out
}

/// The two largest non-zero calendar units between `from` and `to` (from <= to).
pub fn describe_span(from: DateTime<Utc>, to: DateTime<Utc>, tz: Tz) -> String {
    describe_span_in(from, to, tz, &OffsetWords::ENGLISH)
}

pub fn describe_span_in(
    from: DateTime<Utc>,
    to: DateTime<Utc>,
    tz: Tz,
    words: &OffsetWords,
) -> String {
    let mut out = String::new();
    write_span(&mut out, from, to, tz, words);
    out
}

fn write_span(
    out: &mut String,
    from: DateTime<Utc>,
    to: DateTime<Utc>,
    tz: Tz,
    words: &OffsetWords,
) {
    let months = whole_months_between(from, to, tz);
    let anchor = match months {
        0 => from,
        _ => from
            .with_timezone(&tz)
            .naive_local()
            .checked_add_months(Months::new(months))
            .and_then(|n| tz.from_local_datetime(&n).earliest())
            .map_or(from, |d| d.with_timezone(&Utc)),
    };
    let rest = (to - anchor).num_seconds().max(0);
    let counts = [
        i64::from(months / 12),
        i64::from(months % 12),
        rest / 86_400,
        rest % 86_400 / 3_600,
        rest % 3_600 / 60,
        rest % 60,
    ];
    let mut parts = counts
        .iter()
        .zip(words.units)
        .filter(|(n, _)| **n > 0)
        .take(2)
        .peekable();
    if parts.peek().is_none() {
        out.push_str("0 ");
        out.push_str(words.units[5].1);
    }
    let mut first = true;
    for (n, (one, many)) in parts {
        if !first {
            out.push_str(words.join);
        }
        first = false;
        let _ = write!(out, "{n} {}", if *n == 1 { one } else { many });
    }
}

/// The most whole calendar months that fit from `from` to `to` (from <= to), in local time.
///
/// Adding `m` months lands in the month `m` after `from`'s (the day clamped to that month's
/// length), so the answer is the months between the two calendar months, or one fewer when
/// adding that many overshoots `to`: no counting month by month, which listings over every
/// request would otherwise pay for on each row.
fn whole_months_between(from: DateTime<Utc>, to: DateTime<Utc>, tz: Tz) -> u32 {
    let local_from = from.with_timezone(&tz).naive_local();
    let local_to = to.with_timezone(&tz).naive_local();
    let calendar = (local_to.year() - local_from.year()) * 12 + local_to.month() as i32
        - local_from.month() as i32;
    let Ok(months) = u32::try_from(calendar) else {
        return 0;
    };
    let fits = |m: u32| {
        local_from
            .checked_add_months(Months::new(m))
            .is_some_and(|t| t <= local_to)
    };
    if fits(months) {
        months
    } else {
        months.saturating_sub(1)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(s: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(s).unwrap().with_timezone(&Utc)
    }

    const DEADLINE: &str = "2025-09-28T23:59:59Z";

    /// Counting month by month: what [`whole_months_between`] must agree with.
    fn months_counted_one_by_one(from: DateTime<Utc>, to: DateTime<Utc>, tz: Tz) -> u32 {
        let local_from = from.with_timezone(&tz).naive_local();
        let local_to = to.with_timezone(&tz).naive_local();
        let mut months = 0u32;
        while let Some(next) = local_from.checked_add_months(Months::new(months + 1)) {
            if next > local_to {
                break;
            }
            months += 1;
        }
        months
    }

    #[test]
    fn whole_months_agree_with_counting_them_one_by_one() {
        // Month ends (the 29th to 31st clamp), the seconds around midnight, and zones with
        // and without summer time, over spans from nothing to four years.
        let zones = [
            Tz::UTC,
            Tz::Europe__Berlin,
            Tz::America__New_York,
            Tz::Australia__Lord_Howe,
        ];
        let mut seed = 0x2545_f491_4f6c_dd1d_u64;
        let mut next = |n: u64| {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            seed % n
        };
        let base = at("2024-01-01T00:00:00Z").timestamp();
        for i in 0..20_000 {
            let from = base + next(3 * 365 * 86_400) as i64;
            let span = match i % 4 {
                0 => next(120) as i64,
                1 => next(62 * 86_400) as i64,
                _ => next(4 * 365 * 86_400) as i64,
            };
            // Land on or next to a local midnight at the end of a month now and then.
            let to = if i % 5 == 0 {
                (from + span) / 86_400 * 86_400 - 1
            } else {
                from + span
            };
            let (from, to) = (
                DateTime::from_timestamp(from, 0).unwrap(),
                DateTime::from_timestamp(to.max(from), 0).unwrap(),
            );
            let tz = zones[i % zones.len()];
            assert_eq!(
                whole_months_between(from, to, tz),
                months_counted_one_by_one(from, to, tz),
                "{from} to {to} in {tz}"
            );
        }
        for (from, to) in [
            ("2025-01-31T12:00:00Z", "2025-02-28T12:00:00Z"),
            ("2025-01-31T12:00:00Z", "2025-03-30T12:00:00Z"),
            ("2024-02-29T00:00:00Z", "2025-02-28T00:00:00Z"),
            ("2025-03-31T00:00:00Z", "2025-04-30T23:59:59Z"),
        ] {
            let tz = Tz::Europe__Berlin;
            assert_eq!(
                whole_months_between(at(from), at(to), tz),
                months_counted_one_by_one(at(from), at(to), tz),
                "{from} to {to}"
            );
        }
    }

    #[test]
    fn offset_is_negative_before_and_positive_after() {
        let d = at(DEADLINE);
        assert_eq!(
            offset_seconds(at("2025-09-25T19:59:59Z"), d),
            -(3 * 86_400 + 4 * 3_600)
        );
        assert_eq!(offset_seconds(at("2025-09-29T00:00:00Z"), d), 1);
        assert_eq!(offset_seconds(d, d), 0);
    }

    #[test]
    fn describes_days_and_hours_before() {
        let d = at(DEADLINE);
        assert_eq!(
            describe_offset(at("2025-09-25T19:59:59Z"), d, Tz::UTC),
            "3 days 4 hours before the deadline"
        );
    }

    #[test]
    fn describes_years_and_months_after() {
        let d = at(DEADLINE);
        assert_eq!(
            describe_offset(at("2026-11-29T00:00:00Z"), d, Tz::UTC),
            "1 year 2 months after the deadline"
        );
    }

    #[test]
    fn singular_units_and_edges() {
        let d = at(DEADLINE);
        assert_eq!(describe_offset(d, d, Tz::UTC), "exactly at the deadline");
        assert_eq!(
            describe_offset(at("2025-09-29T00:00:00Z"), d, Tz::UTC),
            "1 second after the deadline"
        );
        assert_eq!(
            describe_offset(at("2025-09-30T01:00:59Z"), d, Tz::UTC),
            "1 day 1 hour after the deadline"
        );
    }

    #[test]
    fn months_follow_the_display_time_zone() {
        // 2025-10-31 23:30 UTC is already 1 November in Berlin, one calendar month after
        // the deadline there (2025-09-29 01:59:59 local), but not yet in UTC.
        let d = at(DEADLINE);
        let r = at("2025-10-31T23:30:00Z");
        assert_eq!(
            describe_offset(r, d, Tz::UTC),
            "1 month 2 days after the deadline"
        );
        assert_eq!(
            describe_offset(r, d, chrono_tz::Europe::Berlin),
            "1 month 2 days after the deadline"
        );
        // 00:30 UTC on 29 October is one calendar month and half an hour after the deadline in
        // UTC, but in Berlin (deadline 01:59:59 local, now 01:30 local) the month is not yet full.
        let r2 = at("2025-10-29T00:30:00Z");
        assert_eq!(
            describe_offset(r2, d, Tz::UTC),
            "1 month 30 minutes after the deadline"
        );
        assert_eq!(
            describe_offset(r2, d, chrono_tz::Europe::Berlin),
            "30 days 30 minutes after the deadline"
        );
    }

    #[test]
    fn due_date_adds_response_days() {
        assert_eq!(
            due_at(at("2025-09-28T10:00:00Z"), 30),
            at("2025-10-28T10:00:00Z")
        );
    }
}
