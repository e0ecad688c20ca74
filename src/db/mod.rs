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
        .busy_timeout(Duration::from_millis(u64::from(
            config.sqlite_busy_timeout_ms,
        )))
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
/// survive in the log. SQLite reports a checkpoint that readers or a writer kept from
/// finishing (within the busy timeout) in a result row rather than as an error; that is an
/// error here, since the WAL may still hold what was erased.
pub async fn checkpoint(pool: &SqlitePool) -> anyhow::Result<()> {
    let (busy, _frames, _moved): (i64, i64, i64) =
        sqlx::query_as("PRAGMA wal_checkpoint(TRUNCATE)")
            .fetch_one(pool)
            .await
            .context("checkpointing the WAL")?;
    anyhow::ensure!(
        busy == 0,
        "the WAL was in use and could not be emptied; it is tried again later"
    );
    Ok(())
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use sqlx::{
        Connection, SqliteConnection,
        sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions},
    };

    #[tokio::test]
    async fn a_checkpoint_kept_from_finishing_by_a_reader_is_an_error() {
        let dir = tempfile::tempdir().unwrap();
        let options = SqliteConnectOptions::new()
            .filename(dir.path().join("wal.db"))
            .create_if_missing(true)
            .journal_mode(SqliteJournalMode::Wal)
            .busy_timeout(Duration::from_millis(50));
        let pool = SqlitePoolOptions::new()
            .connect_with(options.clone())
            .await
            .unwrap();
        sqlx::query("CREATE TABLE t (x TEXT)")
            .execute(&pool)
            .await
            .unwrap();
        let mut reader = SqliteConnection::connect_with(&options).await.unwrap();
        sqlx::query("BEGIN").execute(&mut reader).await.unwrap();
        sqlx::query("SELECT COUNT(*) FROM t")
            .fetch_one(&mut reader)
            .await
            .unwrap();
        sqlx::query("INSERT INTO t VALUES ('erased soon')")
            .execute(&pool)
            .await
            .unwrap();

        assert!(super::checkpoint(&pool).await.is_err());

        sqlx::query("COMMIT").execute(&mut reader).await.unwrap();
        super::checkpoint(&pool).await.unwrap();
        let wal = std::fs::metadata(dir.path().join("wal.db-wal")).unwrap();
        assert_eq!(wal.len(), 0, "TRUNCATE empties the WAL");
    }
}
