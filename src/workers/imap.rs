//! The IMAP poller: one public step (`poll_once`) that reads new mail from a mailbox through
//! [`crate::email::intake::ingest`], marks what it handled, and expunges copies of mail from
//! people erased since.

use std::sync::Arc;

use anyhow::Context;
use futures::TryStreamExt;
use tokio::io::{AsyncRead, AsyncWrite};

use crate::{
    config::ImapTarget,
    email::intake::ingest,
    services::{CopyAt, Disposition, Services},
};

/// IMAP keywords the poller sets; processed mail is kept (and flagged) unless configured.
pub const DONE_KEYWORD: &str = "$DsrDone";
pub const HELD_KEYWORD: &str = "$DsrHeld";

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
