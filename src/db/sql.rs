//! How values cross the database boundary on the statement API the use-cases run on
//! (rusqlite on sqlx's connection handles, see [`super::writer`]): timestamps in the text form
//! sqlx has always written, and request kinds, states and channels as typed values, so a word
//! the schema does not know is an error, never a panic.

use chrono::{DateTime, SecondsFormat, Utc};
use rusqlite::types::{FromSql, FromSqlError, FromSqlResult, ToSql, ToSqlOutput, ValueRef};

use crate::domain::{Channel, Language, RequestKind, RequestState};

/// A stored instant: RFC 3339 with a numeric offset and as many fraction digits as needed
/// (`2025-09-25T19:59:59.5+00:00`), the form sqlx writes, so rows written before and after
/// compare and sort alike as text.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct At(pub DateTime<Utc>);

impl At {
    pub fn text(t: DateTime<Utc>) -> String {
        t.to_rfc3339_opts(SecondsFormat::AutoSi, false)
    }
}

impl ToSql for At {
    fn to_sql(&self) -> rusqlite::Result<ToSqlOutput<'_>> {
        Ok(ToSqlOutput::from(At::text(self.0)))
    }
}

impl FromSql for At {
    fn column_result(value: ValueRef<'_>) -> FromSqlResult<Self> {
        let s = value.as_str()?;
        DateTime::parse_from_rfc3339(s)
            .or_else(|_| DateTime::parse_from_str(s, "%Y-%m-%d %H:%M:%S%.f%:z"))
            .map(|d| At(d.with_timezone(&Utc)))
            .map_err(|e| FromSqlError::Other(format!("stored time {s:?}: {e}").into()))
    }
}

/// Sets `column` of the row of `table` whose `key_column` is `key` to `now`, making the row if
/// needed, unless that column is set already: true for the one caller that set it, so a step
/// claimed this way is taken once across restarts and instances. Names are the caller's
/// constants, never input.
pub fn claim_once(
    db: &rusqlite::Connection,
    table: &str,
    key_column: &str,
    key: &str,
    column: &str,
    now: DateTime<Utc>,
) -> rusqlite::Result<bool> {
    db.prepare_cached(&format!(
        "INSERT INTO {table} ({key_column}, {column}) VALUES (?1, ?2)
         ON CONFLICT ({key_column}) DO UPDATE SET {column} = ?2 WHERE {table}.{column} IS NULL"
    ))?
    .execute(rusqlite::params![key, At(now)])
    .map(|n| n == 1)
}

/// Optional instants, for nullable columns.
pub fn at(value: Option<DateTime<Utc>>) -> Option<At> {
    value.map(At)
}

macro_rules! text_column {
    ($($ty:ty),+) => {$(
        impl ToSql for $ty {
            fn to_sql(&self) -> rusqlite::Result<ToSqlOutput<'_>> {
                Ok(ToSqlOutput::from(self.as_str()))
            }
        }

        impl FromSql for $ty {
            fn column_result(value: ValueRef<'_>) -> FromSqlResult<Self> {
                value
                    .as_str()?
                    .parse()
                    .map_err(|e: String| FromSqlError::Other(e.into()))
            }
        }
    )+};
}

text_column!(RequestKind, RequestState, Channel, Language);

#[cfg(test)]
mod tests {
    use super::*;
    use rusqlite::Connection;

    #[test]
    fn times_and_words_round_trip_and_unknown_words_are_errors() {
        let db = Connection::open_in_memory().unwrap();
        let t = DateTime::parse_from_rfc3339("2025-09-25T19:59:59.25Z")
            .unwrap()
            .with_timezone(&Utc);
        let (text, back, kind): (String, At, RequestKind) = db
            .query_row(
                "SELECT ?1, ?1, ?2",
                rusqlite::params![At(t), RequestKind::OptOut],
                |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)),
            )
            .unwrap();
        assert_eq!(text, "2025-09-25T19:59:59.250+00:00");
        assert_eq!(back.0, t);
        assert_eq!(kind, RequestKind::OptOut);
        let bad = db.query_row("SELECT 'open'", [], |r| r.get::<_, RequestState>(0));
        assert!(bad.is_err());
    }
}
