//! A calendar month in the report time zone, and the UTC instants that bound it.

use std::{fmt, str::FromStr};

use chrono::{DateTime, Datelike, Months, NaiveDate, TimeZone, Utc};
use chrono_tz::Tz;

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Month {
    first: NaiveDate,
}

impl Month {
    pub fn new(year: i32, month: u32) -> Option<Month> {
        NaiveDate::from_ymd_opt(year, month, 1).map(|first| Month { first })
    }

    /// The month `at` falls in, on the calendar of `tz`.
    pub fn containing(at: DateTime<Utc>, tz: Tz) -> Month {
        let local = at.with_timezone(&tz).date_naive();
        Month::new(local.year(), local.month()).expect("a real date")
    }

    /// The last month that has fully ended at `now` in `tz`.
    pub fn last_complete(now: DateTime<Utc>, tz: Tz) -> Month {
        Month::containing(now, tz).prev()
    }

    pub fn prev(self) -> Month {
        Month {
            first: self.first - Months::new(1),
        }
    }

    pub fn next(self) -> Month {
        Month {
            first: self.first + Months::new(1),
        }
    }

    /// `October 2026` as `language` writes it.
    pub fn name(self, language: crate::domain::Language) -> String {
        crate::domain::numbers::month(language, self.first.year(), self.first.month())
    }

    /// `[start, end)` in UTC: local midnight of the 1st to local midnight of the next 1st.
    pub fn bounds(self, tz: Tz) -> (DateTime<Utc>, DateTime<Utc>) {
        (
            local_midnight(self.first, tz),
            local_midnight(self.next().first, tz),
        )
    }
}

fn local_midnight(day: NaiveDate, tz: Tz) -> DateTime<Utc> {
    let naive = day.and_hms_opt(0, 0, 0).expect("midnight exists");
    // Where a DST change skips midnight, the month starts at the first instant that exists.
    tz.from_local_datetime(&naive)
        .earliest()
        .or_else(|| {
            tz.from_local_datetime(&(naive + chrono::Duration::hours(1)))
                .earliest()
        })
        .expect("one of the two hours exists")
        .with_timezone(&Utc)
}

impl fmt::Display for Month {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:04}-{:02}", self.first.year(), self.first.month())
    }
}

impl FromStr for Month {
    type Err = String;

    fn from_str(s: &str) -> Result<Month, String> {
        let bad = || {
            format!(
                "'{}' is not a month like 2025-09",
                crate::domain::text::shown(s)
            )
        };
        let (y, m) = s.trim().split_once('-').ok_or_else(bad)?;
        if y.len() != 4 || m.len() != 2 {
            return Err(bad());
        }
        Month::new(y.parse().map_err(|_| bad())?, m.parse().map_err(|_| bad())?).ok_or_else(bad)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn months_are_bounded_by_local_midnight() {
        let m: Month = "2025-10".parse().unwrap();
        let (start, end) = m.bounds(chrono_tz::Europe::Berlin);
        // Berlin is UTC+2 on 1 October and UTC+1 on 1 November (DST ended on 26 October).
        assert_eq!(start.to_rfc3339(), "2025-09-30T22:00:00+00:00");
        assert_eq!(end.to_rfc3339(), "2025-10-31T23:00:00+00:00");
        assert_eq!(m.prev().to_string(), "2025-09");
        assert_eq!(
            "2025-12".parse::<Month>().unwrap().next().to_string(),
            "2026-01"
        );
    }

    #[test]
    fn parsing_refuses_what_is_not_a_month() {
        for bad in ["2025-13", "2025-1", "25-01", "2025/01", "September"] {
            assert!(bad.parse::<Month>().is_err(), "{bad}");
        }
    }
}
