//! Inbound mail handed to the bot: one message at a time (parsed, then acted on or held),
//! from an MTA's pipe (stdin, read with a bound) or a Maildir. The IMAP poller
//! ([`crate::workers::imap`]) reads through the same [`ingest`].

use std::path::Path;

use anyhow::Context;
use sha2::{Digest, Sha256};

use crate::{
    domain::EmailAddress,
    email::inbound,
    error::ServiceError,
    services::{CopyAt, Disposition, HeldMessage, Services},
};

/// Parses and handles one raw message. An unreadable one is kept in the database for a
/// person to look at (only its headers, when it is over `MAX_INBOUND_BYTES`).
pub async fn ingest_raw(services: &Services, raw: &[u8]) -> Result<Disposition, ServiceError> {
    ingest(services, raw, raw.len() as u64, None).await
}

/// As [`ingest_raw`], for a message of `size` bytes of which `raw` may be only the start, and
/// whose copy lies at `copy`.
pub async fn ingest(
    services: &Services,
    raw: &[u8],
    size: u64,
    copy: Option<CopyAt>,
) -> Result<Disposition, ServiceError> {
    let cfg = services.config();
    let own_from = EmailAddress::parse(cfg.mail_from.email.as_ref()).ok();
    let mut own = vec![&cfg.inbound.reply_address];
    own.extend(own_from.as_ref());
    let cap = cfg.inbound.max_message_bytes as u64;
    let parsed = if size > cap {
        Err(inbound::Unreadable {
            key: format!(
                "oversize:{}",
                hex::encode(Sha256::digest(inbound::header_block(raw)))
            ),
            reason: format!("larger than MAX_INBOUND_BYTES ({size} > {cap} bytes)"),
        })
    } else {
        inbound::parse(raw, &cfg.inbound, &own)
    };
    match parsed {
        Ok(mail) => {
            let d = services.inbound().handle(&mail, copy).await?;
            tracing::info!(disposition = ?d, "inbound mail handled");
            Ok(d)
        }
        Err(u) => {
            tracing::warn!(reason = %u.reason, size, "inbound mail could not be read; kept for a person to look at");
            let headers_only = size > cap;
            let message = if headers_only {
                inbound::header_block(raw).to_vec()
            } else {
                raw.to_vec()
            };
            let held = HeldMessage {
                reason: u.reason,
                size,
                message,
                headers_only,
            };
            services.inbound().hold(&u.key, held, copy).await
        }
    }
}

/// What a Maildir run did: what became of each message it read, and how many it left in
/// `new/` for the next run (their senders had sent more than they may for now).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct MaildirRun {
    pub handled: Vec<Disposition>,
    pub left: usize,
}

/// Handles every message in a Maildir's `new/`, then moves it to `cur/` marked seen
/// (or flagged, when held); a deferred one stays in `new/`. Copies of mail from people erased
/// since are removed first. A message over `MAX_INBOUND_BYTES` is not read whole.
pub async fn ingest_maildir(services: &Services, dir: &Path) -> anyhow::Result<MaildirRun> {
    purge_maildir_copies(services).await?;
    let new = dir.join("new");
    let cur = dir.join("cur");
    tokio::fs::create_dir_all(&cur).await?;
    let mut names = Vec::new();
    let mut rd = tokio::fs::read_dir(&new)
        .await
        .with_context(|| format!("reading {}", new.display()))?;
    while let Some(e) = rd.next_entry().await? {
        names.push(e.file_name());
    }
    names.sort();
    let cap = services.config().inbound.max_message_bytes as u64;
    let mut run = MaildirRun::default();
    for name in names {
        let path = new.join(&name);
        let (raw, size) = read_bounded(&path, cap)
            .await
            .with_context(|| format!("reading {}", path.display()))?;
        let base = cur.join(&name);
        let copy = CopyAt {
            source: "maildir",
            locator: base.display().to_string(),
        };
        let d = ingest(services, &raw, size, Some(copy)).await?;
        if d == Disposition::Deferred {
            run.left += 1;
            continue;
        }
        let flag = if d == Disposition::Held { "F" } else { "S" };
        let target = cur.join(format!("{}:2,{flag}", name.to_string_lossy()));
        tokio::fs::rename(&path, &target)
            .await
            .with_context(|| format!("moving {}", path.display()))?;
        run.handled.push(d);
    }
    Ok(run)
}

/// A message file read whole when it is at most `cap` bytes, or else only as far as its headers
/// (64 KiB at most); and its size.
async fn read_bounded(path: &Path, cap: u64) -> std::io::Result<(Vec<u8>, u64)> {
    use tokio::io::AsyncReadExt;
    let size = tokio::fs::metadata(path).await?.len();
    let mut file = tokio::fs::File::open(path).await?;
    let mut raw = Vec::new();
    let limit = if size > cap { 64 * 1024 } else { cap + 1 };
    (&mut file).take(limit).read_to_end(&mut raw).await?;
    Ok((raw, size))
}

/// Reads one message from `input` (an MTA pipe) without ever holding more than `cap` bytes of
/// it: a larger message is read on only to count its size, and its start (headers) is kept.
pub async fn read_message<R: tokio::io::AsyncRead + Unpin>(
    input: &mut R,
    cap: u64,
) -> std::io::Result<(Vec<u8>, u64)> {
    use tokio::io::AsyncReadExt;
    let mut raw = Vec::new();
    let read = (&mut *input).take(cap + 1).read_to_end(&mut raw).await? as u64;
    if read <= cap {
        return Ok((raw, read));
    }
    raw.truncate(64 * 1024);
    let rest = tokio::io::copy(input, &mut tokio::io::sink()).await?;
    Ok((raw, read + rest))
}

/// Removes the Maildir files of mail from people since erased: the file recorded, under any
/// flags a mail client may have given it since.
async fn purge_maildir_copies(services: &Services) -> anyhow::Result<()> {
    for (id, locator) in services.inbound().copies_to_purge("maildir").await? {
        let base = Path::new(&locator);
        if let (Some(dir), Some(name)) = (base.parent(), base.file_name()) {
            let name = name.to_string_lossy().into_owned();
            if let Ok(mut rd) = tokio::fs::read_dir(dir).await {
                while let Some(e) = rd.next_entry().await? {
                    let file = e.file_name().to_string_lossy().into_owned();
                    if file == name || file.starts_with(&format!("{name}:")) {
                        tokio::fs::remove_file(e.path())
                            .await
                            .with_context(|| format!("removing {}", e.path().display()))?;
                    }
                }
            }
        }
        services.inbound().copy_purged(id).await?;
    }
    Ok(())
}
