//! How each language writes numbers, shares and dates for people (Unicode CLDR's conventions):
//! `1,234,567` and `12.5%` in English, `1.234.567` and `12,5 %` in German, `1 234 567` and
//! `12,5 %` (narrow no-break spaces) in French. Machine outputs (CSV, JSON) never use these.

use chrono::{DateTime, Datelike, TimeZone};

use super::Language;

const NBSP: char = '\u{a0}';
/// French groups digits and sets off `%` with a narrow no-break space.
const NNBSP: char = '\u{202f}';

/// A whole number with the language's digit groups: `1,234,567`, `1.234.567`, `1 234 567`.
pub fn count(language: Language, n: i64) -> String {
    let digits = n.unsigned_abs().to_string();
    let sep = match language {
        Language::En => ',',
        Language::De | Language::Es | Language::PtBr => '.',
        Language::Fr => NNBSP,
    };
    // Spanish leaves a four-digit number whole (`1234`, but `12.345`).
    let grouped = !(language == Language::Es && digits.len() <= 4);
    let mut out = String::with_capacity(digits.len() * 2);
    if n < 0 {
        out.push('-');
    }
    for (i, c) in digits.chars().enumerate() {
        if grouped && i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(sep);
        }
        out.push(c);
    }
    out
}

/// `x` with one decimal: `3.5`, `3,5`.
pub fn one_decimal(language: Language, x: f64) -> String {
    let text = format!("{x:.1}");
    match language {
        Language::En => text,
        _ => text.replace('.', ","),
    }
}

/// A share (0.125) as a percentage with one decimal: `12.5%`, `12,5 %`, `12,5%` (pt-BR).
pub fn percent(language: Language, share: f64) -> String {
    let n = one_decimal(language, share * 100.0);
    match language {
        Language::En | Language::PtBr => format!("{n}%"),
        Language::De | Language::Es => format!("{n}{NBSP}%"),
        Language::Fr => format!("{n}{NNBSP}%"),
    }
}

/// A month and its year: `October 2026`, `Oktober 2026`, `octobre 2026`, `octubre de 2026`.
pub fn month(language: Language, year: i32, month: u32) -> String {
    let names: [&str; 12] = match language {
        Language::En => [
            "January",
            "February",
            "March",
            "April",
            "May",
            "June",
            "July",
            "August",
            "September",
            "October",
            "November",
            "December",
        ],
        Language::De => [
            "Januar",
            "Februar",
            "März",
            "April",
            "Mai",
            "Juni",
            "Juli",
            "August",
            "September",
            "Oktober",
            "November",
            "Dezember",
        ],
        Language::Fr => [
            "janvier",
            "février",
            "mars",
            "avril",
            "mai",
            "juin",
            "juillet",
            "août",
            "septembre",
            "octobre",
            "novembre",
            "décembre",
        ],
        Language::Es => [
            "enero",
            "febrero",
            "marzo",
            "abril",
            "mayo",
            "junio",
            "julio",
            "agosto",
            "septiembre",
            "octubre",
            "noviembre",
            "diciembre",
        ],
        Language::PtBr => [
            "janeiro",
            "fevereiro",
            "março",
            "abril",
            "maio",
            "junho",
            "julho",
            "agosto",
            "setembro",
            "outubro",
            "novembro",
            "dezembro",
        ],
    };
    let name = names[(month.clamp(1, 12) - 1) as usize];
    match language {
        Language::Es | Language::PtBr => format!("{name} de {year}"),
        _ => format!("{name} {year}"),
    }
}

/// A date and time of day in its own time zone, the zone named after it:
/// `2026-11-01 06:00 CET` (English keeps the ISO order the service has always shown),
/// `01.11.2026, 06:00 CET`, `01/11/2026 06:00 CET`.
pub fn moment<Tz: TimeZone>(language: Language, at: &DateTime<Tz>) -> String
where
    Tz::Offset: std::fmt::Display,
{
    let pattern = match language {
        Language::En => "%Y-%m-%d %H:%M %Z",
        Language::De => "%d.%m.%Y, %H:%M %Z",
        Language::Fr | Language::PtBr => "%d/%m/%Y %H:%M %Z",
        Language::Es => "%d/%m/%Y, %H:%M %Z",
    };
    at.format(pattern).to_string()
}

/// A date alone: `2026-11-01`, `01.11.2026`, `01/11/2026`.
pub fn date<Tz: TimeZone>(language: Language, at: &DateTime<Tz>) -> String
where
    Tz::Offset: std::fmt::Display,
{
    let (d, m, y) = (at.day(), at.month(), at.year());
    match language {
        Language::En => format!("{y:04}-{m:02}-{d:02}"),
        Language::De => format!("{d:02}.{m:02}.{y:04}"),
        _ => format!("{d:02}/{m:02}/{y:04}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::Utc;

    #[test]
    fn numbers_are_grouped_and_pointed_as_each_language_writes_them() {
        let all = |n| Language::ALL.map(|l| count(l, n));
        assert_eq!(
            all(1_234_567),
            [
                "1,234,567",
                "1.234.567",
                "1\u{202f}234\u{202f}567",
                "1.234.567",
                "1.234.567"
            ]
        );
        assert_eq!(
            all(1234),
            ["1,234", "1.234", "1\u{202f}234", "1234", "1.234"]
        );
        assert_eq!(all(-12), ["-12"; 5]);
        assert_eq!(count(Language::Es, 12_345), "12.345");
        assert_eq!(
            Language::ALL.map(|l| percent(l, 0.125)),
            [
                "12.5%",
                "12,5\u{a0}%",
                "12,5\u{202f}%",
                "12,5\u{a0}%",
                "12,5%"
            ]
        );
        assert_eq!(one_decimal(Language::De, 3.26), "3,3");
    }

    #[test]
    fn months_and_moments_are_named_in_each_language() {
        assert_eq!(
            Language::ALL.map(|l| month(l, 2026, 3)),
            [
                "March 2026",
                "März 2026",
                "mars 2026",
                "marzo de 2026",
                "março de 2026"
            ]
        );
        let at = Utc.with_ymd_and_hms(2026, 11, 1, 6, 5, 0).unwrap();
        assert_eq!(
            Language::ALL.map(|l| moment(l, &at)),
            [
                "2026-11-01 06:05 UTC",
                "01.11.2026, 06:05 UTC",
                "01/11/2026 06:05 UTC",
                "01/11/2026, 06:05 UTC",
                "01/11/2026 06:05 UTC"
            ]
        );
        assert_eq!(date(Language::De, &at), "01.11.2026");
    }
}
