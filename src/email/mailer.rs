//! The delivery seam: SMTP (pooled connections) when `SMTP_URL` is set, otherwise `.eml` files
//! in the outbox folder.

use std::{
    path::PathBuf,
    sync::Mutex,
    time::{Duration, Instant},
};

use anyhow::Context;
use lettre::{
    AsyncSmtpTransport, AsyncTransport, Message, Tokio1Executor,
    transport::smtp::{client::AsyncSmtpConnection, extension::ClientId},
};

const SMTP_TIMEOUT: Duration = Duration::from_secs(30);
/// An idle relay connection older than this is closed rather than reused.
const RELAY_IDLE: Duration = Duration::from_secs(10);
const RELAY_POOL: usize = 16;

pub enum Mailer {
    /// Any `SMTP_URL` with a login or TLS: lettre's pooled transport.
    Smtp(AsyncSmtpTransport<Tokio1Executor>),
    /// A plain `smtp://host[:port]` relay (a local MTA, a test server).
    Relay(Relay),
    Folder(PathBuf),
}

/// Why a send on one connection failed, and whether the server had answered anything.
struct Failure {
    no_reply: bool,
    error: anyhow::Error,
}

/// Plain SMTP on connections of our own with Nagle's algorithm off. lettre 0.11 writes a
/// mail's body and its closing `.` in two writes on a socket that keeps Nagle on, so every
/// mail waits out the server's delayed ACK (40 ms on Linux): 22 mails/s per connection.
pub struct Relay {
    addr: String,
    hello: ClientId,
    idle: Mutex<Vec<(AsyncSmtpConnection, Instant)>>,
}

impl Relay {
    async fn connect(&self) -> anyhow::Result<AsyncSmtpConnection> {
        let stream = tokio::time::timeout(SMTP_TIMEOUT, tokio::net::TcpStream::connect(&self.addr))
            .await
            .context("connecting to the SMTP server timed out")?
            .context("connecting to the SMTP server")?;
        stream.set_nodelay(true)?;
        tokio::time::timeout(
            SMTP_TIMEOUT,
            AsyncSmtpConnection::connect_with_transport(Box::new(stream), &self.hello),
        )
        .await
        .context("the SMTP greeting timed out")?
        .context("the SMTP server refused the session")
    }

    fn take_idle(&self) -> Option<AsyncSmtpConnection> {
        let mut idle = self
            .idle
            .lock()
            .expect("the relay pool lock is never poisoned");
        while let Some((conn, since)) = idle.pop() {
            if since.elapsed() < RELAY_IDLE && !conn.has_broken() {
                return Some(conn);
            }
        }
        None
    }

    async fn send(&self, message: &Message) -> anyhow::Result<()> {
        let envelope = message.envelope();
        let formatted = message.formatted();
        if let Some(mut conn) = self.take_idle() {
            match self.send_on(&mut conn, envelope, &formatted).await {
                Ok(()) => {
                    self.keep(conn);
                    return Ok(());
                }
                // A pooled connection the server has dropped fails before any reply: try
                // once more on a fresh one. Should the server have taken the mail after all,
                // the repeat carries the same Message-ID.
                Err(f) if f.no_reply => conn.abort().await,
                Err(f) => {
                    conn.abort().await;
                    return Err(f.error);
                }
            }
        }
        let mut conn = self.connect().await?;
        match self.send_on(&mut conn, envelope, &formatted).await {
            Ok(()) => {
                self.keep(conn);
                Ok(())
            }
            Err(f) => {
                conn.abort().await;
                Err(f.error)
            }
        }
    }

    async fn send_on(
        &self,
        conn: &mut AsyncSmtpConnection,
        envelope: &lettre::address::Envelope,
        formatted: &[u8],
    ) -> Result<(), Failure> {
        match tokio::time::timeout(SMTP_TIMEOUT, conn.send(envelope, formatted)).await {
            Ok(Ok(_)) => Ok(()),
            // A dropped connection shows as an incomplete response; a reply code means the
            // server is there and said no.
            Ok(Err(e)) => Err(Failure {
                no_reply: !(e.is_transient() || e.is_permanent()),
                error: anyhow::Error::from(e).context("the SMTP server did not accept the mail"),
            }),
            Err(_) => Err(Failure {
                no_reply: false,
                error: anyhow::anyhow!("the SMTP server did not answer within {SMTP_TIMEOUT:?}"),
            }),
        }
    }

    fn keep(&self, conn: AsyncSmtpConnection) {
        let mut idle = self
            .idle
            .lock()
            .expect("the relay pool lock is never poisoned");
        if idle.len() < RELAY_POOL {
            idle.push((conn, Instant::now()));
        }
    }
}

impl Mailer {
    pub fn from_config(config: &crate::config::Config) -> anyhow::Result<Mailer> {
        match &config.smtp_url {
            Some(url) => Self::smtp(&url.0),
            None => Ok(Mailer::Folder(config.outbox_dir.clone())),
        }
    }

    pub fn smtp(url: &str) -> anyhow::Result<Mailer> {
        if let Ok(parsed) = url::Url::parse(url)
            && parsed.scheme() == "smtp"
            && parsed.username().is_empty()
            && parsed.password().is_none()
            && parsed.query().is_none()
            && let Some(host) = parsed.host_str()
        {
            return Ok(Mailer::Relay(Relay {
                addr: format!("{host}:{}", parsed.port().unwrap_or(25)),
                // As lettre reads it: a path names this host in EHLO.
                hello: match parsed.path().trim_matches('/') {
                    "" => ClientId::default(),
                    name => ClientId::Domain(name.to_owned()),
                },
                idle: Mutex::new(Vec::new()),
            }));
        }
        let transport = AsyncSmtpTransport::<Tokio1Executor>::from_url(url)
            .context("SMTP_URL is not a usable SMTP address")?
            .timeout(Some(SMTP_TIMEOUT))
            .build();
        Ok(Mailer::Smtp(transport))
    }

    /// Hands one message over. `file_stem` names the `.eml` file in folder mode, so a resend
    /// overwrites rather than duplicates.
    pub async fn send(&self, message: &Message, file_stem: &str) -> anyhow::Result<()> {
        match self {
            Mailer::Smtp(transport) => {
                transport
                    .send(message.clone())
                    .await
                    .context("the SMTP server did not accept the mail")?;
            }
            Mailer::Relay(relay) => relay.send(message).await?,
            Mailer::Folder(dir) => {
                tokio::fs::create_dir_all(dir)
                    .await
                    .with_context(|| format!("creating the outbox folder {}", dir.display()))?;
                let tmp = dir.join(format!(".{file_stem}.eml.tmp"));
                let path = dir.join(format!("{file_stem}.eml"));
                tokio::fs::write(&tmp, message.formatted())
                    .await
                    .with_context(|| format!("writing {}", tmp.display()))?;
                tokio::fs::rename(&tmp, &path)
                    .await
                    .with_context(|| format!("moving the mail into {}", path.display()))?;
            }
        }
        Ok(())
    }
}

impl Mailer {
    /// Removes the copy this transport kept of a mail, if it keeps any: the `.eml` file of the
    /// folder transport (an SMTP server keeps nothing here).
    pub async fn forget(&self, file_stem: &str) -> anyhow::Result<()> {
        if let Mailer::Folder(dir) = self {
            let path = dir.join(format!("{file_stem}.eml"));
            match tokio::fs::remove_file(&path).await {
                Ok(()) => {}
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
                Err(e) => {
                    return Err(e).with_context(|| format!("removing {}", path.display()));
                }
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::Mailer;

    // lettre's pool starts a task when built, so this runs on a runtime.
    #[tokio::test]
    async fn only_a_plain_relay_url_gets_our_own_connections() {
        for (url, relay) in [
            ("smtp://127.0.0.1:2525", true),
            ("smtp://localhost/bot.example.org", true),
            ("smtp://user:secret@mail.example.org", false),
            ("smtp://mail.example.org?tls=required", false),
            ("smtps://mail.example.org", false),
        ] {
            let mailer = Mailer::smtp(url).unwrap();
            assert_eq!(matches!(mailer, Mailer::Relay(_)), relay, "{url}");
        }
    }
}
