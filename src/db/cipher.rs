//! The database's encryption at rest (SQLCipher): which key, where it is kept, what state the
//! file is in, and moving a file to encryption or to a new key, all or nothing.
//!
//! The key is 32 random bytes given to SQLCipher as a raw key (no passphrase derivation): it
//! comes from `DATABASE_KEY`, from the file `DATABASE_KEY_FILE` names, or from a key file
//! beside the database that is made, owner-only, when the database is created.

use std::{
    io::Read,
    path::{Path, PathBuf},
};

use anyhow::Context;

pub use super::keyfile::{
    Key, KeyFileRefused, key, key_file_beside, pending_key_file, read_key_file, source,
    write_key_file,
};
pub use super::keylock::{KeyChangeRunning, KeyLock, lock_exclusive, lock_file, lock_shared};

/// Initialises libcrypto without its exit-time cleanup, once, before SQLCipher first uses it.
///
/// OpenSSL 3 registers `OPENSSL_cleanup` with `atexit` when it is first used. A process that
/// ends while a connection is still being closed on another thread (the writer's, a pool's)
/// would then free libcrypto's state under that thread's feet: glibc stops it with "double
/// free or corruption". Without the handler, the operating system reclaims everything at exit.
pub fn init_crypto() {
    static ONCE: std::sync::Once = std::sync::Once::new();
    ONCE.call_once(|| {
        const OPENSSL_INIT_NO_ATEXIT: u64 = 0x0008_0000;
        unsafe extern "C" {
            fn OPENSSL_init_crypto(opts: u64, settings: *const std::ffi::c_void)
            -> std::ffi::c_int;
        }
        // SAFETY: called once, before any other use of libcrypto in this process; a null
        // settings pointer asks for the defaults.
        let ok = unsafe { OPENSSL_init_crypto(OPENSSL_INIT_NO_ATEXIT, std::ptr::null()) };
        if ok != 1 {
            tracing::warn!("libcrypto did not initialise with the requested options");
        }
        // SQLite's memory statistics take a process-wide mutex on every allocation, and
        // nothing here reads them (no soft heap limit, no `sqlite3_memory_used`). Off, before
        // anything opens a database: once SQLite is initialised the option is refused, which
        // costs only the statistics' mutex.
        // SAFETY: SQLITE_CONFIG_MEMSTATUS takes one int; sqlite3_config is called before any
        // other SQLite call of this process (this is the first thing main does) or refused.
        let memstatus =
            unsafe { rusqlite::ffi::sqlite3_config(rusqlite::ffi::SQLITE_CONFIG_MEMSTATUS, 0) };
        if memstatus != rusqlite::ffi::SQLITE_OK {
            tracing::debug!(
                code = memstatus,
                "SQLite was initialised before its memory statistics could be turned off"
            );
        }
        // Pages are authenticated with HMAC-SHA256 rather than SQLCipher 4's default
        // HMAC-SHA512: as strong for this use, and on CPUs with SHA extensions half the cost per
        // page, which is most of what encryption costs the writer. Set as the process-wide
        // default, so every keyed connection (sqlx's, rusqlite's, an attached copy) uses it.
        let set = rusqlite::Connection::open_in_memory().and_then(|c| {
            c.execute_batch(&format!("PRAGMA cipher_default_hmac_algorithm = {HMAC};"))
        });
        if let Err(e) = set {
            tracing::error!(error = %e, "setting SQLCipher's page authentication failed");
        }
    });
}

/// The page authentication of every dsr-bot database (see [`init_crypto`]). A database made by
/// dsr-bot is opened elsewhere (the sqlcipher shell) with `PRAGMA key = "x'...'";` and
/// `PRAGMA cipher_hmac_algorithm = HMAC_SHA256;`.
pub const HMAC: &str = "HMAC_SHA256";

/// What every SQLite database file starts with; an encrypted one starts with random bytes.
const PLAIN_HEADER: &[u8; 16] = b"SQLite format 3\0";

/// What the file at a database path holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FileState {
    /// No file, or an empty one: it is created encrypted.
    Missing,
    /// A plain SQLite database.
    Plain,
    /// Anything else: an encrypted database (or not a database at all).
    Encrypted,
}

pub fn file_state(path: &Path) -> std::io::Result<FileState> {
    let mut file = match std::fs::File::open(path) {
        Ok(f) => f,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(FileState::Missing),
        Err(e) => return Err(e),
    };
    let mut head = Vec::with_capacity(16);
    (&mut file).take(16).read_to_end(&mut head)?;
    Ok(match head.as_slice() {
        [] => FileState::Missing,
        h if h == PLAIN_HEADER => FileState::Plain,
        _ => FileState::Encrypted,
    })
}

/// Makes a rename or a new file in `folder` durable.
pub(super) fn sync_folder(folder: &Path) -> anyhow::Result<()> {
    std::fs::File::open(folder)
        .and_then(|d| d.sync_all())
        .with_context(|| format!("syncing the folder {}", folder.display()))
}

/// The folder a database or key file is in.
pub(super) fn folder_of(path: &Path) -> &Path {
    path.parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(Path::new("."))
}

/// Renames `from` to `to` and makes the rename durable before returning.
pub fn durable_rename(from: &Path, to: &Path) -> anyhow::Result<()> {
    std::fs::rename(from, to)
        .with_context(|| format!("renaming {} to {}", from.display(), to.display()))?;
    sync_folder(folder_of(to))
}

/// Stops the process here when `DSR_BOT_FAILPOINT` names `step`: a crash at that exact
/// point, for the tests that kill a key change at each of its steps. Unset, it does nothing.
pub fn failpoint(step: &str) {
    if std::env::var_os("DSR_BOT_FAILPOINT").is_some_and(|v| v == step) {
        std::process::abort();
    }
}

/// Copies a key change or an encryption left behind when it was stopped mid-way (whole
/// database copies, under the old key or the new one): removed, since no key change is live
/// while [`lock_shared`] is held.
pub fn remove_stale_copies(database: &Path) {
    let Ok(entries) = std::fs::read_dir(folder_of(database)) else {
        return;
    };
    for entry in entries.flatten() {
        if entry.file_name().to_string_lossy().starts_with(COPY_PREFIX)
            && std::fs::remove_file(entry.path()).is_ok()
        {
            tracing::warn!("removed the copy an interrupted key change left behind");
        }
    }
}

const COPY_PREFIX: &str = ".dsr-bot-encrypting-";

/// Whether `e` says the file did not open with the key given (SQLITE_NOTADB).
pub fn is_wrong_key(e: &anyhow::Error) -> bool {
    e.chain().any(|c| {
        c.downcast_ref::<sqlx::Error>().is_some_and(
            |s| matches!(s, sqlx::Error::Database(d) if d.code().as_deref() == Some("26")),
        ) || c
            .downcast_ref::<rusqlite::Error>()
            .is_some_and(|r| r.sqlite_error_code() == Some(rusqlite::ErrorCode::NotADatabase))
    })
}

/// The database at `path` cannot be read with the key given.
#[derive(Debug, thiserror::Error)]
#[error(
    "the database {path} does not open with the key from {from}: the key is wrong or missing (nothing was changed)"
)]
pub struct WrongKey {
    pub path: String,
    pub from: String,
}

/// The database at `path` is a plain one, and a key is now required.
#[derive(Debug, thiserror::Error)]
#[error(
    "the database {0} is not encrypted: stop the service and run `dsr-bot db encrypt` to encrypt it (all or nothing)"
)]
pub struct PlainDatabase(pub String);

/// Copies the database at `from` (opened with `from_key`, or plain) into a new file encrypted
/// with `to_key`, checks the copy (integrity and every table's row count), and puts it in
/// place of `from`. The original is held locked throughout, so no other process writes it
/// meanwhile; until the final rename it is untouched, and if anything fails it stays as it was.
///
/// The caller holds [`lock_exclusive`].
pub fn reencrypt(from: &Path, from_key: Option<&Key>, to_key: &Key) -> anyhow::Result<Copied> {
    init_crypto();
    let folder = folder_of(from);
    let tmp = tempfile::Builder::new()
        .prefix(COPY_PREFIX)
        .tempfile_in(folder)
        .context("making the new database file")?
        .into_temp_path();

    if in_use_elsewhere(from)? {
        return Err(InUse.into());
    }
    let src =
        rusqlite::Connection::open(from).with_context(|| format!("opening {}", from.display()))?;
    if let Some(k) = from_key {
        src.pragma_update(None, "key", k.raw())?;
    }
    // Held alone from here: another process with the database open makes this fail, rather
    // than write to a file about to be replaced.
    src.pragma_update(None, "locking_mode", "EXCLUSIVE")?;
    src.execute_batch("BEGIN EXCLUSIVE; COMMIT;")
        .map_err(|_| InUse)?;
    src.query_row("PRAGMA wal_checkpoint(TRUNCATE)", [], |_| Ok(()))?;
    let before = row_counts(&src, "main")?;

    src.execute(
        &format!("ATTACH DATABASE ?1 AS target KEY {}", to_key.pragma()),
        [tmp.to_string_lossy()],
    )?;
    src.query_row("SELECT sqlcipher_export('target')", [], |_| Ok(()))
        .context("copying into the new database file")?;
    let version: i64 = src.query_row("PRAGMA main.user_version", [], |r| r.get(0))?;
    src.pragma_update(
        Some(rusqlite::DatabaseName::Attached("target")),
        "user_version",
        version,
    )?;
    src.execute_batch("DETACH DATABASE target")?;

    // The copy, opened as the service will open it.
    {
        let copy = rusqlite::Connection::open(&tmp)?;
        copy.pragma_update(None, "key", to_key.raw())?;
        let check: String = copy.query_row("PRAGMA integrity_check", [], |r| r.get(0))?;
        anyhow::ensure!(
            check == "ok",
            "the new database file failed its check: {check}"
        );
        let after = row_counts(&copy, "main")?;
        anyhow::ensure!(
            after == before,
            "the new database file does not hold the same rows: {before:?} became {after:?}"
        );
        copy.pragma_update(None, "journal_mode", "WAL")?;
    }
    std::fs::File::open(&tmp)?.sync_all()?;
    failpoint("copied");

    // Leave WAL mode so no WAL of the old file remains beside the new one.
    src.pragma_update(None, "journal_mode", "DELETE")?;
    tmp.persist(from).with_context(|| {
        format!(
            "putting the new database file in place of {}",
            from.display()
        )
    })?;
    sync_folder(folder)?;
    failpoint("swapped");
    drop(src);
    for ext in ["-wal", "-shm"] {
        let side = PathBuf::from(format!("{}{ext}", from.display()));
        let _ = std::fs::remove_file(side);
    }
    Ok(Copied {
        tables: before.len(),
        rows: before.iter().map(|(_, n)| n).sum(),
    })
}

/// Another process has the database open.
#[derive(Debug, thiserror::Error)]
#[error(
    "the database is in use: stop the service (and any other dsr-bot command on it), then run this again; nothing was changed"
)]
pub struct InUse;

/// Whether another process has the database open in WAL mode (as every dsr-bot process does):
/// each such connection holds a shared lock on the "dead man switch" byte of the `-shm` file
/// for as long as it is open (SQLite's unix VFS: byte 128).
#[cfg(unix)]
fn in_use_elsewhere(database: &Path) -> anyhow::Result<bool> {
    use std::os::fd::AsRawFd;
    let shm = PathBuf::from(format!("{}-shm", database.display()));
    let file = match std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .open(&shm)
    {
        Ok(f) => f,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(false),
        Err(e) => return Err(e).with_context(|| format!("opening {}", shm.display())),
    };
    // SAFETY: a zeroed flock is a valid argument; F_GETLK only reads and fills it.
    let mut lock: libc::flock = unsafe { std::mem::zeroed() };
    lock.l_type = libc::F_WRLCK as _;
    lock.l_whence = libc::SEEK_SET as _;
    lock.l_start = 128;
    lock.l_len = 1;
    // SAFETY: the descriptor is open for the duration of the call.
    let rc = unsafe { libc::fcntl(file.as_raw_fd(), libc::F_GETLK, &mut lock) };
    anyhow::ensure!(
        rc == 0,
        "checking locks on {}: {}",
        shm.display(),
        std::io::Error::last_os_error()
    );
    Ok(i32::from(lock.l_type) != libc::F_UNLCK)
}

#[cfg(not(unix))]
fn in_use_elsewhere(_: &Path) -> anyhow::Result<bool> {
    Ok(false)
}

/// What [`reencrypt`] copied.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Copied {
    pub tables: usize,
    pub rows: i64,
}

fn row_counts(db: &rusqlite::Connection, schema: &str) -> anyhow::Result<Vec<(String, i64)>> {
    let names: Vec<String> = db
        .prepare(&format!(
            "SELECT name FROM {schema}.sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%' ORDER BY name"
        ))?
        .query_map([], |r| r.get(0))?
        .collect::<Result<_, _>>()?;
    names
        .into_iter()
        .map(|n| {
            let count: i64 =
                db.query_row(&format!("SELECT COUNT(*) FROM {schema}.\"{n}\""), [], |r| {
                    r.get(0)
                })?;
            Ok((n, count))
        })
        .collect()
}

/// `options` with the key given first on every connection (sqlx orders the `key` pragma
/// before the others), and with sqlx's statement logging off: sqlx logs the statements it
/// runs when it opens a connection (at DEBUG, and at WARN when they are slow), and the key
/// pragma is one of them.
pub fn keyed(
    options: sqlx::sqlite::SqliteConnectOptions,
    key: &Key,
) -> sqlx::sqlite::SqliteConnectOptions {
    use sqlx::ConnectOptions;
    options
        .pragma("key", key.pragma())
        .disable_statement_logging()
}

/// Options to open a database whose key lies in the key file beside it (tools and tests that
/// look at a database a running service keeps).
pub fn options_with_key_beside(
    database: &Path,
) -> anyhow::Result<sqlx::sqlite::SqliteConnectOptions> {
    init_crypto();
    let key = read_key_file(&key_file_beside(database), "the key file")?;
    Ok(keyed(
        sqlx::sqlite::SqliteConnectOptions::new().filename(database),
        &key,
    ))
}

/// Whether the database at `path` opens with `key`: `Some(false)` when it does not (a wrong
/// key), `None` when this cannot tell (the file cannot be opened here for another reason, such
/// as a read-only folder; the caller's own opening then reports that). Asked on a read-only
/// connection that never checkpoints, so asking with a wrong key changes nothing on disk: a
/// connection that could write is only opened once this has not said no.
pub fn opens_with(path: &Path, key: &Key) -> Option<bool> {
    init_crypto();
    let checked = rusqlite::Connection::open_with_flags(
        path,
        rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY | rusqlite::OpenFlags::SQLITE_OPEN_NO_MUTEX,
    )
    .and_then(|c| {
        c.set_db_config(
            rusqlite::config::DbConfig::SQLITE_DBCONFIG_NO_CKPT_ON_CLOSE,
            true,
        )?;
        c.pragma_update(None, "key", key.raw())?;
        c.query_row("SELECT COUNT(*) FROM sqlite_master", [], |r| {
            r.get::<_, i64>(0)
        })
    });
    match checked {
        Ok(_) => Some(true),
        Err(e) if e.sqlite_error_code() == Some(rusqlite::ErrorCode::NotADatabase) => Some(false),
        Err(_) => None,
    }
}

/// Finishes or undoes a key change that was interrupted: the pending key file becomes the key
/// file if the database already uses it, and is removed if it does not.
pub fn settle_pending_key(database: &Path) -> anyhow::Result<()> {
    let pending = pending_key_file(database);
    if !pending.exists() {
        return Ok(());
    }
    // Another process starting at the same moment may settle it first: a pending file gone
    // by the time this looks again is settled.
    let gone = |e: &std::io::Error| e.kind() == std::io::ErrorKind::NotFound;
    let key = match read_key_file(&pending, "the pending key file") {
        Ok(k) => k,
        Err(_) if !pending.exists() => return Ok(()),
        Err(e) => return Err(e),
    };
    let reached = match file_state(database)? {
        FileState::Encrypted => opens_with(database, &key),
        FileState::Missing | FileState::Plain => Some(false),
    };
    match reached {
        Some(true) => match durable_rename(&pending, &key_file_beside(database)) {
            Err(e) if !e.chain().any(|c| c.downcast_ref().is_some_and(gone)) => {
                return Err(e.context("putting the new key file in place"));
            }
            _ => tracing::warn!(
                "finished a key change that was interrupted: the new key file is in place"
            ),
        },
        Some(false) => match std::fs::remove_file(&pending) {
            Err(e) if !gone(&e) => return Err(e).context("removing an unused pending key file"),
            _ => tracing::warn!(
                "a key change was interrupted before the database moved: the key is unchanged"
            ),
        },
        // Never guessed: a pending key removed in error would leave a database nobody can open.
        None => anyhow::bail!(
            "a key change on the database {} was interrupted, and whether it reached the database cannot be \
             told now (the file cannot be opened to check); nothing was changed, try again",
            database.display()
        ),
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::Config;

    fn open(path: &Path, key: &Key, hmac: Option<&str>) -> rusqlite::Result<i64> {
        let c = rusqlite::Connection::open(path)?;
        c.pragma_update(None, "key", key.raw())?;
        if let Some(h) = hmac {
            c.pragma_update(None, "cipher_hmac_algorithm", h)?;
        }
        c.query_row("SELECT COUNT(*) FROM t", [], |r| r.get(0))
    }

    #[test]
    fn processes_starting_on_a_new_database_at_once_share_one_key() {
        let dir = tempfile::tempdir().unwrap();
        let config = Config::for_folder(dir.path());
        let keys: Vec<Key> = std::thread::scope(|s| {
            let starts: Vec<_> = (0..8)
                .map(|_| s.spawn(|| key(&config, true).unwrap().unwrap()))
                .collect();
            starts.into_iter().map(|t| t.join().unwrap()).collect()
        });
        assert!(keys.iter().all(|k| *k == keys[0]));
        let on_disk = read_key_file(&key_file_beside(&config.database_path), "key").unwrap();
        assert_eq!(on_disk, keys[0]);
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(key_file_beside(&config.database_path))
                .unwrap()
                .permissions()
                .mode();
            assert_eq!(mode & 0o777, 0o600);
        }
    }

    #[test]
    fn pages_are_authenticated_with_hmac_sha256_and_a_wrong_key_is_told_apart() {
        init_crypto();
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("x.db");
        let key = Key::random();
        {
            let c = rusqlite::Connection::open(&path).unwrap();
            c.pragma_update(None, "key", key.raw()).unwrap();
            c.execute_batch("CREATE TABLE t (x); INSERT INTO t VALUES ('alice@example.org');")
                .unwrap();
        }
        assert_eq!(file_state(&path).unwrap(), FileState::Encrypted);
        assert_eq!(open(&path, &key, None).unwrap(), 1);
        assert_eq!(open(&path, &key, Some("HMAC_SHA256")).unwrap(), 1);
        assert!(
            open(&path, &key, Some("HMAC_SHA512")).is_err(),
            "not SQLCipher's default"
        );
        assert_eq!(opens_with(&path, &key), Some(true));
        assert_eq!(opens_with(&path, &Key::random()), Some(false));
        let bytes = std::fs::read(&path).unwrap();
        assert!(!bytes.windows(5).any(|w| w == b"alice"));
    }
}
