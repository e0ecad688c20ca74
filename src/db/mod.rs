//! SQLite access. One file per table; functions take a [`Conn`] so use-cases compose them in
//! one unit of work. Bound parameters only.
//!
//! sqlx owns the connections: it opens them with every pragma, pools them and migrates the
//! schema. Statements run through rusqlite on sqlx's locked connection handles, in place,
//! without a thread hand-off per statement: writes on the writer thread ([`writer`]), reads
//! on a pooled connection on a blocking thread ([`Database::read`]). Above this folder,
//! use-cases hold the [`Conn`] a unit of work hands them and call the functions here with it;
//! the key-change and error-reporting code also looks at rusqlite's error codes.

pub mod bench;
pub mod cipher;
pub mod copies;
pub mod counters;
pub mod dms;
pub mod erasure;
pub mod events;
pub mod feed;
pub mod held;
pub mod identities;
pub mod inputs;
pub mod keyfile;
pub mod keylock;
pub mod limits;
pub mod log;
pub mod notes;
pub mod notices;
pub mod outbox;
pub mod people;
pub mod reply_tokens;
pub mod reports;
pub mod requests;
pub mod routines;
pub mod senders;
pub mod settings;
mod sql;
pub mod verifications;
pub mod writer;

use std::{str::FromStr, time::Duration};

use anyhow::Context;
use sqlx::{
    SqliteConnection, SqlitePool,
    migrate::MigrateError,
    sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions, SqliteSynchronous},
};

use crate::config::Config;

pub use sql::At;

/// The connection a unit of work runs its statements on.
pub type Conn = rusqlite::Connection;

pub static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("./migrations/sqlite");

/// The read pool, and the writer every write goes through (none when the database file can
/// only be read).
#[derive(Clone)]
pub struct Database {
    pub pool: SqlitePool,
    writer: Option<writer::Writer>,
    path: std::path::PathBuf,
    /// Held while this process has the database open: no key change runs meanwhile.
    _key_lock: Option<std::sync::Arc<cipher::KeyLock>>,
}

/// Whether the caller needs to write, or only reads.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Access {
    ReadWrite,
    /// Reads only; a database file this process cannot write is opened read-only.
    ReadOnly,
}

/// The database cannot be written by this process.
#[derive(Debug, thiserror::Error)]
#[error(
    "the database {0} is read-only to this user: run this as the user who owns it, or make it and its folder writable"
)]
pub struct ReadOnlyDatabase(pub String);

/// Whether this process can write the database at `path` and make its WAL beside it.
fn writable(path: &std::path::Path) -> bool {
    let folder = path
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(std::path::Path::new("."));
    let file_ok = !path.exists() || std::fs::OpenOptions::new().append(true).open(path).is_ok();
    file_ok && tempfile::NamedTempFile::new_in(folder).is_ok()
}

/// Opens (creating if missing) the database file in WAL mode with foreign keys and secure
/// delete on, and applies pending migrations.
pub async fn connect(config: &Config, access: Access) -> anyhow::Result<Database> {
    cipher::init_crypto();
    let path = &config.database_path;
    if let Some(parent) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
        std::fs::create_dir_all(parent).with_context(|| {
            format!("creating the folder for the database {}", parent.display())
        })?;
    }
    // Before anything reads a key or the file: a key change running now is waited for by
    // nobody and settled by nobody but itself.
    let key_lock = cipher::lock_shared(path)?.map(std::sync::Arc::new);
    let state = cipher::file_state(path)
        .with_context(|| format!("reading the database {}", path.display()))?;
    if state == cipher::FileState::Plain && config.database_key != crate::config::DatabaseKey::Plain
    {
        return Err(cipher::PlainDatabase(path.display().to_string()).into());
    }
    if !writable(path) {
        return match access {
            Access::ReadWrite => Err(ReadOnlyDatabase(path.display().to_string()).into()),
            Access::ReadOnly => open_read_only(config, key_lock).await,
        };
    }
    let key = cipher::key(config, state == cipher::FileState::Missing)?;
    refuse_published(config, key.as_ref())?;
    cipher::remove_stale_copies(path);
    // A wrong key is found on a connection that cannot change the file, before any that can.
    if let Some(k) = &key
        && state == cipher::FileState::Encrypted
        && cipher::opens_with(path, k) == Some(false)
    {
        return Err(wrong_key_error(config));
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
    if let Some(key) = &key {
        options = cipher::keyed(options, key);
    }
    if let Some(pages) = config.sqlite_max_pages {
        options = options.pragma("max_page_count", pages.to_string());
    }
    // A new database file is switched to WAL by whichever process opens it first; another
    // opening it at that moment is told it is locked, and tries again.
    let mut tries = 0;
    let pool = loop {
        match SqlitePoolOptions::new()
            .max_connections(4)
            .connect_with(options.clone())
            .await
        {
            Err(sqlx::Error::Database(e)) if e.message().contains("locked") && tries < 50 => {
                tries += 1;
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
            opened => {
                break opened
                    .with_context(|| format!("opening the database {}", path.display()))
                    .map_err(|e| wrong_key(e, config))?;
            }
        }
    };
    migrate(&pool)
        .await
        .map_err(schema_error)
        .with_context(|| format!("applying migrations to {}", path.display()))?;
    let writer = writer::Writer::open(&options).await?;
    let db = Database {
        pool,
        writer: Some(writer),
        path: path.clone(),
        _key_lock: key_lock,
    };
    ensure_report_counts(&db, config.report_timezone).await?;
    Ok(db)
}

/// The report's counts kept for `tz`: built from the requests the first time, and again when
/// `REPORT_TIMEZONE` changed (every month's bounds move with it).
async fn ensure_report_counts(db: &Database, tz: chrono_tz::Tz) -> anyhow::Result<()> {
    let started = std::time::Instant::now();
    let rebuilt = db
        .write(move |conn| {
            counters::ensure(conn, tz).context("building the monthly report's counts")
        })
        .await?;
    if rebuilt {
        tracing::info!(
            timezone = tz.name(),
            took_ms = started.elapsed().as_millis() as u64,
            "the monthly report's counts were built from the requests"
        );
    }
    Ok(())
}

/// A database still under the key once published with dsr-bot's source is readable by anyone
/// who has a copy of it: refused until its key is changed.
fn refuse_published(config: &Config, key: Option<&cipher::Key>) -> anyhow::Result<()> {
    if key.is_some_and(cipher::Key::is_published) {
        return Err(cipher::KeyFileRefused(format!(
            "the database {} is encrypted with the key once published in dsr-bot's repository, so anyone can read \
             a copy of it: change the key with `dsr-bot db rekey` (it keeps every row)",
            config.database_path.display()
        ))
        .into());
    }
    Ok(())
}

/// A database file this process may only read: opened read-only, with no writer, and only
/// when its schema is current (it cannot be upgraded from here). Without its WAL's shared
/// memory file (which a read-only folder keeps from being made), it is read as it stands in
/// the file.
async fn open_read_only(
    config: &Config,
    key_lock: Option<std::sync::Arc<cipher::KeyLock>>,
) -> anyhow::Result<Database> {
    let path = &config.database_path;
    let key = cipher::key(config, false)?;
    refuse_published(config, key.as_ref())?;
    if let Some(k) = &key
        && cipher::opens_with(path, k) == Some(false)
    {
        return Err(wrong_key_error(config));
    }
    let mut base = SqliteConnectOptions::new().filename(path);
    if let Some(key) = &key {
        base = cipher::keyed(base, key);
    }
    let base = base
        .read_only(true)
        .busy_timeout(Duration::from_millis(u64::from(
            config.sqlite_busy_timeout_ms,
        )));
    let open = |options: SqliteConnectOptions| async move {
        let pool = SqlitePoolOptions::new()
            .max_connections(2)
            .connect_with(options)
            .await?;
        let applied: (i64, Option<i64>) =
            sqlx::query_as("SELECT COUNT(*), MAX(version) FROM _sqlx_migrations WHERE success")
                .fetch_one(&pool)
                .await?;
        Ok::<_, sqlx::Error>((pool, applied))
    };
    let (pool, applied) = match open(base.clone()).await {
        Ok(opened) => opened,
        Err(_) => open(base.immutable(true))
            .await
            .with_context(|| format!("opening the database {} to read it", path.display()))
            .map_err(|e| wrong_key(e, config))?,
    };
    let (applied, newest) = applied;
    let known = MIGRATOR.iter().map(|m| m.version).max();
    if let Some(newest) = newest
        && Some(newest) > known
    {
        return Err(schema_error(MigrateError::VersionMissing(newest)))
            .with_context(|| format!("opening the database {} to read it", path.display()));
    }
    if applied < MIGRATOR.iter().count() as i64 {
        anyhow::bail!(
            "the database {} needs upgrading, which takes write access: run `dsr-bot migrate` as its owner",
            path.display()
        );
    }
    Ok(Database {
        pool,
        writer: None,
        path: path.clone(),
        _key_lock: key_lock,
    })
}

/// A database that does not open with its key is told in one line, naming where the key came
/// from.
fn wrong_key(e: anyhow::Error, config: &Config) -> anyhow::Error {
    if cipher::is_wrong_key(&e) {
        wrong_key_error(config)
    } else {
        e
    }
}

fn wrong_key_error(config: &Config) -> anyhow::Error {
    cipher::WrongKey {
        path: config.database_path.display().to_string(),
        from: cipher::source(config),
    }
    .into()
}

/// Applies pending migrations. Two processes starting on a new database at once (shards split
/// across processes) can both try the same migration; the one that loses rolls it back and
/// finds it applied when it looks again.
/// A migration error in words the operator can act on: a database upgraded by a newer
/// version (after a rollback, say), or one whose applied migration differs from this version's.
pub fn schema_error(e: MigrateError) -> anyhow::Error {
    match e {
        MigrateError::VersionMissing(v) => anyhow::anyhow!(
            "the database was upgraded by a newer dsr-bot: it holds migration {v}, which this version does not \
             know. Run that newer version, or restore a backup taken before the upgrade"
        ),
        MigrateError::VersionMismatch(v) => anyhow::anyhow!(
            "migration {v} in the database differs from this version's own: it was made by another build of \
             dsr-bot. Run the build that made it, or restore a backup"
        ),
        e => e.into(),
    }
}

async fn migrate(pool: &SqlitePool) -> Result<(), MigrateError> {
    let mut tries = 0;
    loop {
        match MIGRATOR.run(pool).await {
            // Waiting will not change a schema from another version.
            Err(e @ (MigrateError::VersionMissing(_) | MigrateError::VersionMismatch(_))) => {
                return Err(e);
            }
            Err(e) if tries < 20 => {
                tries += 1;
                tracing::debug!(error = %e, "a migration failed; looking again in case another process applied it");
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
            done => return done,
        }
    }
}

impl Database {
    /// Runs `f` as one unit of work on the writer (see [`writer::Writer::run`]).
    pub async fn write<T, E, F>(&self, f: F) -> Result<T, E>
    where
        F: FnOnce(&Conn) -> Result<T, E> + Send + 'static,
        T: Send + 'static,
        E: From<anyhow::Error> + Send + 'static,
    {
        match &self.writer {
            Some(writer) => writer.run(f).await,
            None => Err(E::from(
                ReadOnlyDatabase(self.path.display().to_string()).into(),
            )),
        }
    }

    /// Units of work waiting for the writer (0 without one).
    pub fn writer_queue(&self) -> usize {
        self.writer.as_ref().map_or(0, writer::Writer::queued)
    }

    /// Whether this database can be written.
    pub fn writable(&self) -> bool {
        self.writer.is_some()
    }

    /// Runs `f` on one snapshot of the database, on a pooled connection and a blocking
    /// thread, so a long read (a report, a listing) holds up neither writers nor the runtime.
    pub async fn read<T, F>(&self, f: F) -> anyhow::Result<T>
    where
        F: FnOnce(&Conn) -> anyhow::Result<T> + Send + 'static,
        T: Send + 'static,
    {
        let mut conn = self
            .pool
            .acquire()
            .await
            .context("acquiring a database connection")?;
        let (conn, result) = tokio::task::spawn_blocking(move || {
            let result = read_on(&mut conn, f);
            (conn, result)
        })
        .await
        .context("the database read stopped")?;
        // Back to the pool from the runtime, where the pool lives.
        drop(conn);
        result
    }
}

fn read_on<T>(
    conn: &mut SqliteConnection,
    f: impl FnOnce(&Conn) -> anyhow::Result<T>,
) -> anyhow::Result<T> {
    let mut locked =
        futures::executor::block_on(conn.lock_handle()).context("locking a database connection")?;
    // SAFETY: the handle is locked away from sqlx's worker thread until `locked` is dropped,
    // after `db`, which does not own (and never closes) it.
    let db = unsafe { Conn::from_handle(locked.as_raw_handle().as_ptr()) }?;
    db.execute_batch("BEGIN")?;
    let result = f(&db);
    if !db.is_autocommit() {
        db.execute_batch("ROLLBACK")?;
    }
    drop(db);
    drop(locked);
    result
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
