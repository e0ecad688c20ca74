//! The schedule's claims and the settings on PostgreSQL. A claim is one `INSERT ... ON
//! CONFLICT DO UPDATE ... WHERE <unset>`: of several processes claiming one mark at once, the
//! later ones wait for the first's transaction and then find the mark set, so one gets it.

use anyhow::Context as _;
use chrono::{DateTime, NaiveDate, Utc};
use sqlx::PgConnection;

use crate::{db::reports::MonthState, store::schedule::Mark};

pub async fn claim(
    tx: &mut PgConnection,
    mark: Mark,
    key: &str,
    now: DateTime<Utc>,
) -> anyhow::Result<bool> {
    let (table, key_column, column) = mark.columns();
    let claimed = sqlx::query(&format!(
        "INSERT INTO {table} ({key_column}, {column}) VALUES ($1, $2)
         ON CONFLICT ({key_column}) DO UPDATE SET {column} = excluded.{column}
         WHERE {table}.{column} IS NULL"
    ))
    .bind(key)
    .bind(now)
    .execute(&mut *tx)
    .await
    .with_context(|| format!("claiming {mark:?} of {key}"))?
    .rows_affected();
    Ok(claimed == 1)
}

pub async fn month_state(tx: &mut PgConnection, month: &str) -> anyhow::Result<MonthState> {
    let row: Option<(bool, bool, bool)> = sqlx::query_as(
        "SELECT written_at IS NOT NULL, mailed_at IS NOT NULL, posted_at IS NOT NULL
         FROM report_months WHERE month = $1",
    )
    .bind(month)
    .fetch_optional(&mut *tx)
    .await
    .context("reading where a month's report has gone")?;
    Ok(row
        .map(|(written, mailed, posted)| MonthState {
            written,
            mailed,
            posted,
        })
        .unwrap_or_default())
}

pub async fn claim_announcement(
    tx: &mut PgConnection,
    days_before: i64,
    now: DateTime<Utc>,
) -> anyhow::Result<bool> {
    let claimed = sqlx::query(
        "INSERT INTO announcements (days_before, posted_at) VALUES ($1, $2) ON CONFLICT DO NOTHING",
    )
    .bind(days_before)
    .bind(now)
    .execute(&mut *tx)
    .await
    .context("claiming an announcement")?
    .rows_affected();
    Ok(claimed == 1)
}

pub async fn record_size(
    tx: &mut PgConnection,
    day: NaiveDate,
    size: u64,
    source: &str,
) -> anyhow::Result<()> {
    let size = i64::try_from(size).context("a community size past 2^63")?;
    sqlx::query(
        "INSERT INTO community_sizes (day, size, source) VALUES ($1, $2, $3)
         ON CONFLICT (day) DO UPDATE SET size = excluded.size, source = excluded.source",
    )
    .bind(day)
    .bind(size)
    .bind(source)
    .execute(&mut *tx)
    .await
    .context("recording the community's size")?;
    Ok(())
}

pub async fn setting(tx: &mut PgConnection, name: &str) -> anyhow::Result<Option<String>> {
    sqlx::query_scalar("SELECT value FROM settings WHERE name = $1")
        .bind(name)
        .fetch_optional(&mut *tx)
        .await
        .with_context(|| format!("reading the setting {name}"))
}

/// Inserts unless set, then reads: a statement that waited for another process's insert
/// sees it committed, since each statement takes its own snapshot (READ COMMITTED).
pub async fn setting_or_insert(
    tx: &mut PgConnection,
    name: &str,
    value: &str,
) -> anyhow::Result<String> {
    sqlx::query("INSERT INTO settings (name, value) VALUES ($1, $2) ON CONFLICT (name) DO NOTHING")
        .bind(name)
        .bind(value)
        .execute(&mut *tx)
        .await
        .with_context(|| format!("setting {name} unless set"))?;
    Ok(setting(tx, name).await?.unwrap_or_default())
}

pub async fn set_setting(tx: &mut PgConnection, name: &str, value: &str) -> anyhow::Result<()> {
    sqlx::query(
        "INSERT INTO settings (name, value) VALUES ($1, $2)
         ON CONFLICT (name) DO UPDATE SET value = excluded.value",
    )
    .bind(name)
    .bind(value)
    .execute(&mut *tx)
    .await
    .with_context(|| format!("setting {name}"))?;
    Ok(())
}

pub async fn delete_setting(tx: &mut PgConnection, name: &str) -> anyhow::Result<()> {
    sqlx::query("DELETE FROM settings WHERE name = $1")
        .bind(name)
        .execute(&mut *tx)
        .await
        .with_context(|| format!("deleting the setting {name}"))?;
    Ok(())
}
