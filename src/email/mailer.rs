//! The delivery seam: SMTP (pooled connections) when `SMTP_URL` is set, otherwise `.eml` files
//! in the outbox folder.

use std::path::PathBuf;

use anyhow::Context;
use lettre::{AsyncSmtpTransport, AsyncTransport, Message, Tokio1Executor};

pub enum Mailer {
    Smtp(AsyncSmtpTransport<Tokio1Executor>),
    Folder(PathBuf),
}

impl Mailer {
    pub fn from_config(config: &crate::config::Config) -> anyhow::Result<Mailer> {
        match &config.smtp_url {
            Some(url) => Self::smtp(url),
            None => Ok(Mailer::Folder(config.outbox_dir.clone())),
        }
    }

    pub fn smtp(url: &str) -> anyhow::Result<Mailer> {
        let transport = AsyncSmtpTransport::<Tokio1Executor>::from_url(url)
            .context("SMTP_URL is not a usable SMTP address")?
            .timeout(Some(std::time::Duration::from_secs(30)))
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
