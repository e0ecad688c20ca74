//! The lock a key change holds alone and every other process holds shared: `<database>.lock`.

use std::path::{Path, PathBuf};

use anyhow::Context;

use super::cipher::InUse;

/// `<database>.lock`: every process that opens the database holds a shared lock on it for as
/// long as it runs, and a key change (`db rekey`, `db encrypt`) holds it alone. So no process
/// opens the database, or settles a key change left half-done, while a key change is live,
/// and a key change never starts while anyone has the database open.
pub fn lock_file(database: &Path) -> PathBuf {
    PathBuf::from(format!("{}.lock", database.display()))
}

/// A held lock on [`lock_file`]; let go when dropped (or when the process ends, however).
#[derive(Debug)]
pub struct KeyLock {
    _file: std::fs::File,
}

/// A key change is running on the database: try again when it is done.
#[derive(Debug, thiserror::Error)]
#[error(
    "a key change is running on the database {0}: try again once `dsr-bot db rekey` (or `db encrypt`) has finished"
)]
pub struct KeyChangeRunning(pub String);

/// Takes the shared lock every process holds while it has the database open. `None` when the
/// lock file cannot be made here (a folder this user may only read: nothing here can change
/// the key either).
pub fn lock_shared(database: &Path) -> anyhow::Result<Option<KeyLock>> {
    let file = match std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .create(true)
        .truncate(false)
        .open(lock_file(database))
        .or_else(|_| std::fs::File::open(lock_file(database)))
    {
        Ok(f) => f,
        Err(_) => return Ok(None),
    };
    if !flock(&file, false)? {
        return Err(KeyChangeRunning(database.display().to_string()).into());
    }
    Ok(Some(KeyLock { _file: file }))
}

/// Takes the lock alone, for a key change; refused while any other process has the database
/// open.
pub fn lock_exclusive(database: &Path) -> anyhow::Result<KeyLock> {
    let file = std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .create(true)
        .truncate(false)
        .open(lock_file(database))
        .with_context(|| format!("opening {}", lock_file(database).display()))?;
    if !flock(&file, true)? {
        return Err(InUse.into());
    }
    Ok(KeyLock { _file: file })
}

/// `flock` without waiting: false when another process holds a conflicting lock.
#[cfg(unix)]
fn flock(file: &std::fs::File, exclusive: bool) -> anyhow::Result<bool> {
    use std::os::fd::AsRawFd;
    let how = if exclusive {
        libc::LOCK_EX
    } else {
        libc::LOCK_SH
    };
    // SAFETY: the descriptor is open for the duration of the call.
    if unsafe { libc::flock(file.as_raw_fd(), how | libc::LOCK_NB) } == 0 {
        return Ok(true);
    }
    let e = std::io::Error::last_os_error();
    if e.kind() == std::io::ErrorKind::WouldBlock {
        Ok(false)
    } else {
        Err(anyhow::Error::from(e).context("locking the database's lock file"))
    }
}

#[cfg(not(unix))]
fn flock(_: &std::fs::File, _: bool) -> anyhow::Result<bool> {
    Ok(true)
}
