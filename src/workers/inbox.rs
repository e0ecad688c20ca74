//! Inbound mail sources: an IMAP poller (one public step, `poll_once`) and the pieces
//! `dsr-bot ingest-mail` uses.

use std::{path::Path, sync::Arc};

use anyhow::Context;
use futures::TryStreamExt;
use sha2::{Digest, Sha256};
use tokio::io::{AsyncRead, AsyncWrite};

use crate::{
    config::ImapTarget,
    domain::EmailAddress,
    email::inbound,
    error::ServiceError,
    services::{CopyAt, Disposition, HeldMessage, Services},
};

/// IMAP keywords the poller sets; processed mail is kept (and flagged) unless configured.
pub const DONE_KEYWORD: &str = "$DsrDone";
pub const HELD_KEYWORD: &str = "$DsrHeld";

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

/// The IMAP poller: one public step, `poll_once`.
pub struct ImapPoller {
    services: Services,
    target: ImapTarget,
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct PollSummary {
    pub handled: usize,
    pub held: usize,
    /// Left unmarked for the next poll: their senders had sent more than they may for now.
    pub deferred: usize,
}

impl ImapPoller {
    pub fn new(services: Services, target: ImapTarget) -> Self {
        Self { services, target }
    }

    /// Connects, handles every message not yet marked, marks each after it took effect, and
    /// logs out. A poll that dies half-way leaves the rest unmarked; the next one resumes, and
    /// a message handled but not yet marked is recognised by its Message-ID and only marked.
    pub async fn poll_once(&self) -> anyhow::Result<PollSummary> {
        let t = &self.target;
        let tcp = tokio::net::TcpStream::connect((t.host.as_str(), t.port))
            .await
            .with_context(|| format!("connecting to the IMAP server {}:{}", t.host, t.port))?;
        if t.tls {
            let tls = tls_connector()
                .connect(
                    tokio_rustls::rustls::pki_types::ServerName::try_from(t.host.clone())
                        .context("IMAP host name")?,
                    tcp,
                )
                .await
                .context("TLS handshake with the IMAP server")?;
            self.session(tls).await
        } else {
            self.session(tcp).await
        }
    }

    async fn session<S>(&self, stream: S) -> anyhow::Result<PollSummary>
    where
        S: AsyncRead + AsyncWrite + Unpin + std::fmt::Debug + Send,
    {
        let t = &self.target;
        let mut client = async_imap::Client::new(stream);
        client
            .read_response()
            .await
            .context("no IMAP greeting")?
            .context("reading the IMAP greeting")?;
        let mut session = client
            .login(&t.user, &t.password)
            .await
            .map_err(|(e, _)| e)
            .context("IMAP login")?;
        let selected = session
            .select(&t.mailbox)
            .await
            .with_context(|| format!("selecting {}", t.mailbox))?;
        let validity = selected.uid_validity.unwrap_or(0);
        self.purge_erased(&mut session, validity).await?;
        let mut uids: Vec<u32> = session
            .uid_search(format!(
                "NOT KEYWORD {DONE_KEYWORD} NOT KEYWORD {HELD_KEYWORD}"
            ))
            .await
            .context("searching for new mail")?
            .into_iter()
            .collect();
        uids.sort_unstable();
        let cap = self.services.config().inbound.max_message_bytes;
        let mut summary = PollSummary::default();
        for uid in uids {
            let sizes: Vec<_> = session
                .uid_fetch(uid.to_string(), "RFC822.SIZE")
                .await?
                .try_collect()
                .await?;
            let size = sizes.first().and_then(|f| f.size).unwrap_or(0) as usize;
            let copy = CopyAt {
                source: "imap",
                locator: format!("{validity} {uid} {}", t.mailbox),
            };
            // Too large: only the headers are fetched, and kept for a person to look at.
            let part = if size > cap {
                "BODY.PEEK[HEADER]"
            } else {
                "BODY.PEEK[]"
            };
            let fetched: Vec<_> = session
                .uid_fetch(uid.to_string(), part)
                .await?
                .try_collect()
                .await?;
            let raw = fetched
                .first()
                .and_then(|f| if size > cap { f.header() } else { f.body() })
                .unwrap_or_default()
                .to_vec();
            let disposition = ingest(&self.services, &raw, size as u64, Some(copy)).await?;
            if disposition == Disposition::Deferred {
                // Left unmarked: the next poll reads it again.
                summary.deferred += 1;
                continue;
            }
            let flags = if disposition == Disposition::Held {
                summary.held += 1;
                format!("+FLAGS ({HELD_KEYWORD} \\Flagged)")
            } else {
                summary.handled += 1;
                if self.services.config().inbound.imap_delete_processed {
                    format!("+FLAGS ({DONE_KEYWORD} \\Seen \\Deleted)")
                } else {
                    format!("+FLAGS ({DONE_KEYWORD} \\Seen)")
                }
            };
            let _: Vec<_> = session
                .uid_store(uid.to_string(), flags)
                .await?
                .try_collect()
                .await?;
        }
        if self.services.config().inbound.imap_delete_processed {
            let _: Vec<_> = session.expunge().await?.try_collect().await?;
        }
        session.logout().await.ok();
        Ok(summary)
    }

    /// Expunges the messages of people erased since they were handled. A copy recorded under
    /// another mailbox or an earlier UIDVALIDITY can no longer be found by its UID; it is let go.
    async fn purge_erased<S>(
        &self,
        session: &mut async_imap::Session<S>,
        validity: u32,
    ) -> anyhow::Result<()>
    where
        S: AsyncRead + AsyncWrite + Unpin + std::fmt::Debug + Send,
    {
        let copies = self.services.inbound().copies_to_purge("imap").await?;
        if copies.is_empty() {
            return Ok(());
        }
        let mut uids = Vec::new();
        for (_, locator) in &copies {
            let mut parts = locator.splitn(3, ' ');
            let (v, uid, mailbox) = (parts.next(), parts.next(), parts.next());
            match (v.and_then(|v| v.parse::<u32>().ok()), uid, mailbox) {
                (Some(v), Some(uid), Some(m)) if v == validity && m == self.target.mailbox => {
                    uids.push(uid.to_owned())
                }
                _ => tracing::warn!(
                    "a copy of an erased person's mail is no longer where it was handled"
                ),
            }
        }
        if !uids.is_empty() {
            let set = uids.join(",");
            let _: Vec<_> = session
                .uid_store(&set, "+FLAGS (\\Deleted)")
                .await?
                .try_collect()
                .await?;
            let _: Vec<_> = session.uid_expunge(&set).await?.try_collect().await?;
        }
        for (id, _) in copies {
            self.services.inbound().copy_purged(id).await?;
        }
        Ok(())
    }

    /// Polls every `IMAP_POLL_SECONDS` until `stop` fires.
    pub async fn run(self, mut stop: tokio::sync::watch::Receiver<bool>) {
        let period =
            std::time::Duration::from_secs(self.services.config().inbound.imap_poll_seconds);
        loop {
            match self.poll_once().await {
                Ok(s) if s.handled + s.held > 0 => {
                    tracing::info!(handled = s.handled, held = s.held, "mailbox polled")
                }
                Ok(_) => {}
                Err(e) => {
                    tracing::warn!(error = format!("{e:#}"), "mailbox poll failed; will retry")
                }
            }
            tokio::select! {
                _ = tokio::time::sleep(period) => {}
                _ = stop.changed() => break,
            }
        }
    }
}

fn tls_connector() -> tokio_rustls::TlsConnector {
    let mut roots = tokio_rustls::rustls::RootCertStore::empty();
    roots.extend(webpki_roots::TLS_SERVER_ROOTS.iter().cloned());
    let config = tokio_rustls::rustls::ClientConfig::builder()
        .with_root_certificates(roots)
        .with_no_client_auth();
    tokio_rustls::TlsConnector::from(Arc::new(config))
}
