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
    services::{Disposition, Services},
};

/// IMAP keywords the poller sets; processed mail is kept (and flagged) unless configured.
pub const DONE_KEYWORD: &str = "$DsrDone";
pub const HELD_KEYWORD: &str = "$DsrHeld";

/// Parses and handles one raw message. An unreadable one is recorded as held; the caller
/// keeps the message itself for a person to look at.
pub async fn ingest_raw(services: &Services, raw: &[u8]) -> Result<Disposition, ServiceError> {
    let cfg = services.config();
    let own_from = EmailAddress::parse(cfg.mail_from.email.as_ref()).ok();
    let mut own = vec![&cfg.inbound.reply_address];
    own.extend(own_from.as_ref());
    match inbound::parse(raw, &cfg.inbound, &own) {
        Ok(mail) => {
            let d = services.handle_email(&mail).await?;
            tracing::info!(disposition = ?d, "inbound mail handled");
            Ok(d)
        }
        Err(u) => {
            tracing::warn!(reason = %u.reason, "inbound mail could not be read; kept for a person to look at");
            services.record_held(&u.key).await
        }
    }
}

/// Keeps an unreadable message from stdin in `HELD_DIR`.
pub async fn keep_held(dir: &Path, raw: &[u8]) -> anyhow::Result<std::path::PathBuf> {
    tokio::fs::create_dir_all(dir)
        .await
        .with_context(|| format!("creating {}", dir.display()))?;
    let name = format!(
        "{}-{}.eml",
        chrono::Utc::now().format("%Y%m%dT%H%M%S"),
        &hex::encode(Sha256::digest(raw))[..12]
    );
    let path = dir.join(name);
    tokio::fs::write(&path, raw)
        .await
        .with_context(|| format!("writing {}", path.display()))?;
    Ok(path)
}

/// Handles every message in a Maildir's `new/`, then moves it to `cur/` marked seen
/// (or flagged, when held). Nothing is deleted.
pub async fn ingest_maildir(services: &Services, dir: &Path) -> anyhow::Result<Vec<Disposition>> {
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
    let mut out = Vec::new();
    for name in names {
        let path = new.join(&name);
        let raw = tokio::fs::read(&path)
            .await
            .with_context(|| format!("reading {}", path.display()))?;
        let d = ingest_raw(services, &raw).await?;
        let flag = if d == Disposition::Held { "F" } else { "S" };
        let target = cur.join(format!("{}:2,{flag}", name.to_string_lossy()));
        tokio::fs::rename(&path, &target)
            .await
            .with_context(|| format!("moving {}", path.display()))?;
        out.push(d);
    }
    Ok(out)
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
        session
            .select(&t.mailbox)
            .await
            .with_context(|| format!("selecting {}", t.mailbox))?;
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
            let disposition = if size > cap {
                tracing::warn!(
                    uid,
                    size,
                    cap,
                    "inbound mail larger than MAX_INBOUND_BYTES; kept for a person to look at"
                );
                let key = format!("imap-oversize:{}:{uid}:{size}", t.mailbox);
                self.services.record_held(&key).await?
            } else {
                let bodies: Vec<_> = session
                    .uid_fetch(uid.to_string(), "BODY.PEEK[]")
                    .await?
                    .try_collect()
                    .await?;
                let raw = bodies
                    .first()
                    .and_then(|f| f.body())
                    .unwrap_or_default()
                    .to_vec();
                ingest_raw(&self.services, &raw).await?
            };
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
