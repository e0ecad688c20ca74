//! Deadline maths: the signed offset of a request to the policy deadline, its response due
//! date, and how both are said to people ("3 days 4 hours before the deadline").

use chrono::{DateTime, Duration, Months, TimeZone, Utc};
use chrono_tz::Tz;

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
    let offset = offset_micros(received, deadline);
    if offset == 0 {
        return "exactly at the deadline".to_owned();
    }
    if offset.abs() < 1_000_000 {
        let side = if offset < 0 { "before" } else { "after" };
        return format!("less than a second {side} the deadline");
    }
    let (from, to) = if offset < 0 {
        (received, deadline)
    } else {
        (deadline, received)
    };
    let side = if offset < 0 { "before" } else { "after" };
    format!("{} {side} the deadline", describe_span(from, to, tz))
}

/// The two largest non-zero calendar units between `from` and `to` (from <= to).
pub fn describe_span(from: DateTime<Utc>, to: DateTime<Utc>, tz: Tz) -> String {
    let local_from = from.with_timezone(&tz).naive_local();
    let months = whole_months_between(from, to, tz);
    let anchor = local_from
        .checked_add_months(Months::new(months))
        .and_then(|n| tz.from_local_datetime(&n).earliest())
        .map(|d| d.with_timezone(&Utc))
        .unwrap_or(from);
    let rest = (to - anchor).num_seconds().max(0);
    let units = [
        (i64::from(months / 12), "year"),
        (i64::from(months % 12), "month"),
        (rest / 86_400, "day"),
        (rest % 86_400 / 3_600, "hour"),
        (rest % 3_600 / 60, "minute"),
        (rest % 60, "second"),
    ];
    let parts: Vec<String> = units
        .iter()
        .filter(|(n, _)| *n > 0)
        .take(2)
        .map(|(n, unit)| format!("{n} {unit}{}", if *n == 1 { "" } else { "s" }))
        .collect();
    if parts.is_empty() {
        "0 seconds".to_owned()
    } else {
        parts.join(" ")
    }
}

fn whole_months_between(from: DateTime<Utc>, to: DateTime<Utc>, tz: Tz) -> u32 {
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

#[cfg(test)]
mod tests {
    use super::*;

    fn at(s: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(s).unwrap().with_timezone(&Utc)
    }

    const DEADLINE: &str = "2025-09-28T23:59:59Z";

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
