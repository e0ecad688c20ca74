//! `dsr-bot db encrypt` and `dsr-bot db rekey`: moving a database to encryption, and to a new
//! key. Each copies into a new file, checks it, and only then puts it in place.

use std::path::{Path, PathBuf};

use crate::{
    config::{Config, DatabaseKey},
    db::cipher::{self, FileState, Key},
};

use super::Failure;

pub fn encrypt(config: &Config) -> Result<(), Failure> {
    let path = &config.database_path;
    match cipher::file_state(path).map_err(anyhow::Error::from)? {
        FileState::Missing => Err(Failure::User(format!(
            "There is no database at {} yet; a new one is created encrypted.",
            path.display()
        ))),
        FileState::Encrypted => Err(Failure::User(format!(
            "The database {} is encrypted already; `dsr-bot db rekey` changes its key.",
            path.display()
        ))),
        FileState::Plain => {
            let _alone = cipher::lock_exclusive(path).map_err(in_use)?;
            let key = cipher::key(config, true)?
                .ok_or_else(|| Failure::User("No key to encrypt with.".into()))?;
            let copied = cipher::reencrypt(path, None, &key).map_err(in_use)?;
            println!(
                "{} is now encrypted with the key from {}: {} tables, {} rows copied and checked; the plain file is gone.",
                path.display(),
                cipher::source(config),
                copied.tables,
                copied.rows
            );
            Ok(())
        }
    }
}

pub fn rekey(config: &Config, new_key_file: Option<&Path>) -> Result<(), Failure> {
    let path = &config.database_path;
    if cipher::file_state(path).map_err(anyhow::Error::from)? != FileState::Encrypted {
        return Err(Failure::User(format!(
            "The database {} is not encrypted (or not there); `dsr-bot db encrypt` encrypts it.",
            path.display()
        )));
    }
    // Held to the end: no other process opens the database, or settles this change, meanwhile.
    let _alone = cipher::lock_exclusive(path).map_err(in_use)?;
    let old = cipher::key(config, false)?
        .ok_or_else(|| Failure::User("The database has no key to change.".into()))?;
    let new = match new_key_file {
        Some(f) => key_in(f)?,
        None if config.database_key == DatabaseKey::Beside => Key::random(),
        None => {
            return Err(Failure::User(format!(
                "The key comes from {}: give the new one with --new-key-file FILE (made if missing), then point \
                 DATABASE_KEY_FILE at it.",
                cipher::source(config)
            )));
        }
    };
    if new == old {
        return Err(Failure::User(
            "The new key is the key in use; nothing changed.".into(),
        ));
    }
    if config.database_key == DatabaseKey::Beside {
        // The new key is written, durably, first, so that however this ends, the key that
        // opens the database is on disk; the next start settles which one it is.
        let pending = cipher::pending_key_file(path);
        let _ = std::fs::remove_file(&pending);
        cipher::write_key_file(&pending, &new)?;
        cipher::failpoint("key-pending-written");
        let copied = match cipher::reencrypt(path, Some(&old), &new) {
            Ok(c) => c,
            Err(e) => {
                let _ = std::fs::remove_file(&pending);
                return Err(in_use(e));
            }
        };
        cipher::durable_rename(&pending, &cipher::key_file_beside(path))?;
        cipher::failpoint("key-in-place");
        println!(
            "{} now opens with the new key in {} ({} tables, {} rows copied and checked); the old key no longer opens it.",
            path.display(),
            cipher::key_file_beside(path).display(),
            copied.tables,
            copied.rows
        );
    } else {
        let copied = cipher::reencrypt(path, Some(&old), &new).map_err(in_use)?;
        println!(
            "{} now opens with the key in {} ({} tables, {} rows copied and checked). Set DATABASE_KEY_FILE={} (and \
             unset DATABASE_KEY) before the next start: the old key no longer opens it.",
            path.display(),
            new_key_file
                .map_or(PathBuf::new(), Path::to_path_buf)
                .display(),
            copied.tables,
            copied.rows,
            new_key_file
                .map_or(PathBuf::new(), Path::to_path_buf)
                .display()
        );
    }
    Ok(())
}

/// The key in `file`, or a new one written there (owner-only) when the file does not exist.
fn key_in(file: &Path) -> Result<Key, Failure> {
    if file.exists() {
        return Ok(cipher::read_key_file(file, "--new-key-file")?);
    }
    let key = Key::random();
    cipher::write_key_file(file, &key)?;
    Ok(key)
}

/// A database some process holds open is named as such: the one thing the operator can fix.
fn in_use(e: anyhow::Error) -> Failure {
    let busy = e.chain().any(|c| {
        c.is::<cipher::InUse>()
            || c.downcast_ref::<rusqlite::Error>()
                .is_some_and(|r| r.sqlite_error_code() == Some(rusqlite::ErrorCode::DatabaseBusy))
    });
    if busy {
        Failure::User(cipher::InUse.to_string())
    } else {
        Failure::Internal(e.context("nothing was changed"))
    }
}
