//! Where the signing key comes from, kept as the database key is: `SIGNING_KEY`,
//! `SIGNING_KEY_FILE`, or an owner-only file beside the database (`dsr-bot.db` ->
//! `dsr-bot.signing.key`) made when nothing was ever signed. A key file group or others can
//! read, or that git tracks, is refused. The key is never logged.

use std::path::{Path, PathBuf};

use anyhow::Context as _;

use super::note::NoteSigner;
use crate::{
    config::{Config, SigningKey},
    db::keyfile,
};

pub fn file_beside(database: &Path) -> PathBuf {
    database.with_extension("signing.key")
}

/// The file the key is kept in, if it is kept in one.
pub fn file(config: &Config) -> Option<PathBuf> {
    match &config.signing_key {
        SigningKey::Given(_) => None,
        SigningKey::File(p) => Some(p.clone()),
        SigningKey::Beside => Some(file_beside(&config.database_path)),
    }
}

/// Where the key is read from, as the operator knows it.
pub fn source(config: &Config) -> String {
    match &config.signing_key {
        SigningKey::Given(_) => "SIGNING_KEY".into(),
        SigningKey::File(p) => format!("SIGNING_KEY_FILE ({})", p.display()),
        SigningKey::Beside => format!(
            "the signing key file {}",
            file_beside(&config.database_path).display()
        ),
    }
}

/// The name of a new key: the privacy mailbox's domain and `/dsr-bot`, a schema-less URL as
/// c2sp.org/signed-note recommends.
pub fn default_name(config: &Config) -> String {
    let address = config.inbound.reply_address.to_string();
    let domain = address.rsplit('@').next().unwrap_or("localhost");
    let name = format!("{domain}/dsr-bot");
    if super::note::valid_name(&name) {
        name
    } else {
        "dsr-bot".into()
    }
}

/// The signing key. With neither `SIGNING_KEY` nor `SIGNING_KEY_FILE` set, the file beside the
/// database is read, or made when `may_create` (nothing was ever signed with another key).
pub fn load(config: &Config, may_create: bool) -> anyhow::Result<NoteSigner> {
    match &config.signing_key {
        SigningKey::Given(secret) => {
            NoteSigner::parse(&secret.0).map_err(|e| anyhow::anyhow!("SIGNING_KEY: {e}"))
        }
        SigningKey::File(path) => read(path, "SIGNING_KEY_FILE"),
        SigningKey::Beside => {
            let path = file_beside(&config.database_path);
            if path.exists() {
                return read(&path, "the signing key file");
            }
            if !may_create {
                anyhow::bail!(
                    "the signing key file {} is missing, and this log was signed before: restore it from your \
                     backup, or start a new key with `dsr-bot keys rotate` (receipts signed before stay \
                     verifiable: the log keeps every public key)",
                    path.display()
                );
            }
            let signer = NoteSigner::generate(&default_name(config))?;
            match keyfile::write_secret_file(&path, &signer.private_text(), false) {
                // Another process starting on the same new database made it first: its key.
                Err(_) if path.exists() => return read(&path, "the signing key file"),
                written => written?,
            }
            tracing::warn!(
                file = %path.display(),
                key = %signer.verifier().short(),
                "made a new signing key for receipts and log checkpoints; keep a copy of it somewhere safe"
            );
            if keyfile::git_may_commit(&path) {
                tracing::warn!(
                    file = %path.display(),
                    "the new signing key file is inside a git work tree and not ignored: add it to .gitignore"
                );
            }
            Ok(signer)
        }
    }
}

fn read(path: &Path, what: &str) -> anyhow::Result<NoteSigner> {
    let text = std::fs::read_to_string(path)
        .with_context(|| format!("reading {what} {}", path.display()))?;
    keyfile::refuse_exposed(path, what)?;
    NoteSigner::parse(&text).map_err(|e| anyhow::anyhow!("{what} {}: {e}", path.display()))
}

/// Makes a new key and puts it where the key is kept, replacing the old one (whose public key
/// the log keeps). Refused when the key comes from `SIGNING_KEY`: the operator sets that.
pub fn rotate(config: &Config, name: Option<&str>) -> anyhow::Result<NoteSigner> {
    let Some(path) = file(config) else {
        anyhow::bail!(
            "the signing key comes from SIGNING_KEY, which only you can change: keep the key in a file \
             (SIGNING_KEY_FILE) to rotate it with this command, or set SIGNING_KEY to a new key"
        );
    };
    let name = name.map_or_else(|| default_name(config), str::to_owned);
    let signer = NoteSigner::generate(&name).map_err(|e| anyhow::anyhow!("--name: {e}"))?;
    keyfile::write_secret_file(&path, &signer.private_text(), true)?;
    Ok(signer)
}
