//! SQLite access through sqlx. One file per table; functions take `&mut SqliteConnection` so
//! callers compose them inside one transaction. Bound parameters only.

pub mod erasure;
pub mod events;
pub mod group;
pub mod identities;
pub mod inputs;
pub mod outbox;
pub mod people;
pub mod reply_tokens;
pub mod requests;
pub mod settings;
pub mod verifications;

use std::{str::FromStr, time::Duration};

use anyhow::Context;
use sqlx::{
    Sqlite, SqlitePool, Transaction,
    sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions, SqliteSynchronous},
};

use crate::config::Config;

pub static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("./migrations");

/// Opens (creating if missing) the database file in WAL mode with foreign keys and secure
/// delete on, and applies pending migrations.
/// The read/write pool, and the group-commit writer the use-cases write through.
#[derive(Clone)]
pub struct Database {
    pub pool: SqlitePool,
    pub writer: group::Writer,
}

pub async fn connect(config: &Config) -> anyhow::Result<Database> {
    let path = &config.database_path;
    if let Some(parent) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
        std::fs::create_dir_all(parent).with_context(|| {
            format!("creating the folder for the database {}", parent.display())
        })?;
    }
    let synchronous = SqliteSynchronous::from_str(&config.sqlite_synchronous)
        .map_err(|e| anyhow::anyhow!("SQLITE_SYNCHRONOUS: {e}"))?;
    let mut options = SqliteConnectOptions::new()
        .filename(path)
        .create_if_missing(true)
        .journal_mode(SqliteJournalMode::Wal)
        .synchronous(synchronous)
        .foreign_keys(true)
        .busy_timeout(Duration::from_secs(10))
        // Freed pages are overwritten, so erased data does not linger in the file.
        .pragma("secure_delete", "on");
    if let Some(pages) = config.sqlite_max_pages {
        options = options.pragma("max_page_count", pages.to_string());
    }
    let pool = SqlitePoolOptions::new()
        .max_connections(4)
        .connect_with(options.clone())
        .await
        .with_context(|| format!("opening the database {}", path.display()))?;
    MIGRATOR
        .run(&pool)
        .await
        .with_context(|| format!("applying migrations to {}", path.display()))?;
    let writer = group::Writer::open(&options).await?;
    Ok(Database { pool, writer })
}

/// A write transaction that takes the write lock up front, so two writers never deadlock on
/// upgrading a read lock (SQLITE_BUSY) and a read-then-write decision cannot go stale.
pub async fn begin_write(pool: &SqlitePool) -> anyhow::Result<Transaction<'static, Sqlite>> {
    pool.begin_with("BEGIN IMMEDIATE")
        .await
        .context("starting a write transaction")
}

/// Moves the WAL's content into the main file and truncates it, so erased rows do not
/// survive in the log.
pub async fn checkpoint(pool: &SqlitePool) -> anyhow::Result<()> {
    sqlx::query("PRAGMA wal_checkpoint(TRUNCATE)")
        .execute(pool)
        .await
        .context("checkpointing the WAL")?;
    Ok(())
}
