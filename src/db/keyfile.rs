//! The database key and the files it is kept in: where it comes from (`DATABASE_KEY`,
//! `DATABASE_KEY_FILE`, or a file beside the database made with a new database), how a key
//! file is written (owner-only, whole, durably), and which key files are refused (readable by
//! others, tracked by git, or the one key ever published with dsr-bot's source).

use std::{
    io::Write,
    path::{Path, PathBuf},
};

use anyhow::Context;
use rand::RngCore;

use super::cipher::{folder_of, init_crypto, settle_pending_key, sync_folder};
use crate::config::{Config, DatabaseKey};

/// A database key. Never printed.
#[derive(Clone, PartialEq, Eq)]
pub struct Key([u8; 32]);

impl std::fmt::Debug for Key {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Key(..)")
    }
}

impl Key {
    pub fn random() -> Key {
        let mut k = [0u8; 32];
        rand::thread_rng().fill_bytes(&mut k);
        Key(k)
    }

    fn from_hex(text: &str) -> Option<Key> {
        let bytes = hex::decode(text.trim()).ok()?;
        Some(Key(bytes.try_into().ok()?))
    }

    pub fn hex(&self) -> String {
        hex::encode(self.0)
    }

    /// The value of `PRAGMA key` (and of `ATTACH ... KEY`): a raw key, used as it is.
    pub fn pragma(&self) -> String {
        format!("\"x'{}'\"", self.hex())
    }
}

impl Key {
    /// The key as the text rusqlite quotes for `PRAGMA key`: SQLCipher's raw-key form.
    pub(super) fn raw(&self) -> String {
        format!("x'{}'", self.hex())
    }
}

/// The key file beside `database`: `dsr-bot.db` -> `dsr-bot.key`.
pub fn key_file_beside(database: &Path) -> PathBuf {
    database.with_extension("key")
}

/// Where the key is read from, as the operator knows it.
pub fn source(config: &Config) -> String {
    match &config.database_key {
        DatabaseKey::Given(_) => "DATABASE_KEY".into(),
        DatabaseKey::File(p) => format!("DATABASE_KEY_FILE ({})", p.display()),
        DatabaseKey::Beside => format!(
            "the key file {}",
            key_file_beside(&config.database_path).display()
        ),
        DatabaseKey::Plain => "nowhere (unencrypted)".into(),
    }
}

/// The database's key (`None`: unencrypted, for the benchmark only). With neither
/// `DATABASE_KEY` nor `DATABASE_KEY_FILE` set, the key file beside the database is read, or
/// made when `may_create` (the database is new).
pub fn key(config: &Config, may_create: bool) -> anyhow::Result<Option<Key>> {
    init_crypto();
    match config.database_key {
        DatabaseKey::Plain => Ok(None),
        _ => key_from(config, may_create).map(Some),
    }
}

fn key_from(config: &Config, may_create: bool) -> anyhow::Result<Key> {
    match &config.database_key {
        DatabaseKey::Plain => anyhow::bail!("no key: the database is unencrypted"),
        DatabaseKey::Given(k) => {
            Ok(Key(k.0.clone().try_into().map_err(|_| {
                anyhow::anyhow!("DATABASE_KEY must be 32 bytes")
            })?))
        }
        DatabaseKey::File(path) => read_key_file(path, "DATABASE_KEY_FILE"),
        DatabaseKey::Beside => {
            settle_pending_key(&config.database_path)?;
            let path = key_file_beside(&config.database_path);
            if path.exists() || !may_create {
                return read_key_file(&path, "the key file beside the database").with_context(
                    || {
                        "set DATABASE_KEY or DATABASE_KEY_FILE if the key is kept elsewhere"
                            .to_owned()
                    },
                );
            }
            let key = Key::random();
            match write_key_file(&path, &key) {
                // Another process starting on the same new database made it first: its key.
                Err(e) if already_exists(&e) => {
                    return read_key_file(&path, "the key file beside the database");
                }
                written => written?,
            }
            tracing::warn!(
                file = %path.display(),
                "made a new database key; keep a copy of it somewhere safe: without it the database cannot be read"
            );
            if git_may_commit(&path) {
                tracing::warn!(
                    file = %path.display(),
                    "the new key file is inside a git work tree and not ignored: add it to .gitignore before anyone commits it"
                );
            }
            Ok(key)
        }
    }
}

pub fn read_key_file(path: &Path, what: &str) -> anyhow::Result<Key> {
    let text = std::fs::read_to_string(path)
        .with_context(|| format!("reading {what} {}", path.display()))?;
    let key = Key::from_hex(&text).ok_or_else(|| {
        anyhow::anyhow!(
            "{what} {} does not hold a key (64 hex digits; `openssl rand -hex 32` makes one)",
            path.display()
        )
    })?;
    refuse_exposed(path, what)?;
    Ok(key)
}

/// A key file the bot will not use, and what to do about it. Shown in one line, exit 2.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct KeyFileRefused(pub String);

/// Refuses a key file that group or others can read, or that git tracks: either way the key
/// is no longer a secret of the owner's.
pub(crate) fn refuse_exposed(path: &Path, what: &str) -> anyhow::Result<()> {
    let shown = path.display();
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(path)
            .with_context(|| format!("reading {what} {shown}"))?
            .permissions()
            .mode();
        if mode & 0o077 != 0 {
            return Err(KeyFileRefused(format!(
                "{what} {shown} can be read by others (mode {:o}): make it owner-only with `chmod 600 {shown}`; if \
                 someone else may have read it, change the key with `dsr-bot db rekey` afterwards",
                mode & 0o777
            ))
            .into());
        }
    }
    if git_tracks(path) {
        return Err(KeyFileRefused(format!(
            "{what} {shown} is tracked by git, so everyone with the repository has the key: run `git rm --cached \
             {shown}`, ignore it in .gitignore, then change the key with `dsr-bot db rekey`"
        ))
        .into());
    }
    Ok(())
}

/// Whether `path` lies in a git work tree that tracks it (false when git is not installed).
fn git_tracks(path: &Path) -> bool {
    let Ok(full) = std::path::absolute(path) else {
        return false;
    };
    let Some(folder) = full.parent() else {
        return false;
    };
    if !folder.ancestors().any(|a| a.join(".git").exists()) {
        return false;
    }
    std::process::Command::new("git")
        .arg("-C")
        .arg(folder)
        .args(["ls-files", "--error-unmatch", "--"])
        .arg(full.file_name().unwrap_or_default())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
}

/// Whether `path` lies in a git work tree that does not ignore it.
pub(crate) fn git_may_commit(path: &Path) -> bool {
    let Ok(full) = std::path::absolute(path) else {
        return false;
    };
    let folder = folder_of(&full);
    if !folder.ancestors().any(|a| a.join(".git").exists()) {
        return false;
    }
    std::process::Command::new("git")
        .arg("-C")
        .arg(folder)
        .args(["check-ignore", "-q", "--"])
        .arg(full.file_name().unwrap_or_default())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .status()
        .is_ok_and(|s| s.code() == Some(1))
}

/// SHA-256 of the one key ever published with dsr-bot's source (a key file once tracked in
/// its repository, now in its history for good). A database that still uses it is refused.
const PUBLISHED: &str = "76d2fbf23de6f4c342c90f3c00f4a7bcb6003ae5a325d7fc7d5907607bcf90a6";

impl Key {
    /// Whether this is a key anyone can read in dsr-bot's published history.
    pub fn is_published(&self) -> bool {
        use sha2::Digest;
        hex::encode(sha2::Sha256::digest(self.0)) == PUBLISHED
    }
}

/// Writes a new key file readable by its owner only; refuses to replace one. The key is
/// written whole to a temporary file first and linked into place, so another process never
/// reads a half-written key file.
pub fn write_key_file(path: &Path, key: &Key) -> anyhow::Result<()> {
    write_secret_file(path, &key.hex(), false)
}

/// Writes `text` and a newline to a new owner-only file at `path`, whole and durably; refuses
/// to replace a file unless `replace` (then the old one is swapped out in one rename).
pub(crate) fn write_secret_file(path: &Path, text: &str, replace: bool) -> anyhow::Result<()> {
    let folder = path
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    // Made owner-only (0600) by tempfile.
    let mut tmp = tempfile::NamedTempFile::new_in(folder)
        .with_context(|| format!("creating the key file {}", path.display()))?;
    writeln!(tmp, "{text}")?;
    tmp.as_file().sync_all()?;
    if replace {
        tmp.persist(path).map(drop)
    } else {
        tmp.persist_noclobber(path).map(drop)
    }
    .map_err(|e| e.error)
    .with_context(|| format!("creating the key file {}", path.display()))?;
    sync_folder(folder)?;
    Ok(())
}

fn already_exists(e: &anyhow::Error) -> bool {
    e.chain().any(|c| {
        c.downcast_ref::<std::io::Error>()
            .is_some_and(|io| io.kind() == std::io::ErrorKind::AlreadyExists)
    })
}

/// The key file a key change writes before the database moves to the new key, so that an
/// interruption between the two is finished (or undone) at the next start.
pub fn pending_key_file(database: &Path) -> PathBuf {
    database.with_extension("key.new")
}
