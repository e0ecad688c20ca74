//! The mail worker: delivers due outbox rows one at a time, marks them sent, and on failure
//! schedules a retry with exponential backoff. A row is never dropped.

use std::time::Instant;

use chrono::Duration;

use crate::{email::Mailer, email::message, services::Services};

/// First retry after 30 s, doubling up to one hour between attempts.
const BACKOFF_BASE_SECS: i64 = 30;
const BACKOFF_MAX_SECS: i64 = 3_600;

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Step {
    Delivered { outbox_id: i64 },
    Failed { outbox_id: i64, attempts: i64 },
    Empty,
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct FlushSummary {
    pub delivered: usize,
    pub failed: usize,
}

pub fn backoff(attempts: i64) -> Duration {
    let exp = attempts.clamp(1, 20) - 1;
    Duration::seconds((BACKOFF_BASE_SECS << exp).min(BACKOFF_MAX_SECS))
}

pub struct OutboxWorker {
    services: Services,
    mailer: Mailer,
}

impl OutboxWorker {
    pub fn new(services: Services, mailer: Mailer) -> Self {
        Self { services, mailer }
    }

    /// Delivers the oldest due mail, if any.
    ///
    /// The mail is handed to the server first and marked sent after; a crash between the two
    /// (one local UPDATE) resends it with the same Message-ID, so the receiver can tell.
    pub async fn try_deliver_next(&self) -> anyhow::Result<Step> {
        let Some(mail) = self.services.outbox().claim().await? else {
            return Ok(Step::Empty);
        };
        // Nothing of the database is held while the SMTP server takes its time.
        let config = self.services.config();
        let sent = match message::build(&mail, &config.mail_from, &config.inbound.reply_address) {
            Ok(msg) => self.mailer.send(&msg, &file_stem(mail.id)).await,
            Err(e) => Err(e),
        };
        match sent {
            Ok(()) => {
                let started = Instant::now();
                self.services.outbox().sent(mail.id).await?;
                tracing::info!(
                    outbox_id = mail.id,
                    template = %mail.template,
                    mark_sent_us = started.elapsed().as_micros() as u64,
                    "mail delivered"
                );
                if mail.scrub_after_send {
                    // The last mail to an erased person: push the wiped page out of the WAL.
                    self.services.outbox().scrub_wal().await;
                }
                Ok(Step::Delivered { outbox_id: mail.id })
            }
            Err(e) => {
                let attempts = mail.attempts + 1;
                let error = redact_addresses(&format!("{e:#}"));
                let retry_at = self.services.now() + backoff(attempts);
                self.services
                    .outbox()
                    .failed(mail.id, error.clone(), retry_at)
                    .await?;
                tracing::warn!(outbox_id = mail.id, attempts, retry_at = %retry_at, error = %error, "mail delivery failed; will retry");
                Ok(Step::Failed {
                    outbox_id: mail.id,
                    attempts,
                })
            }
        }
    }

    /// Delivers everything due now; failures wait for their next attempt.
    pub async fn flush(&self) -> anyhow::Result<FlushSummary> {
        // Several senders, each claiming the next due mail under its own lease: a slow
        // SMTP exchange holds up only its own sender.
        let senders = (0..self.services.config().mail_concurrency.max(1)).map(|_| async {
            let mut summary = FlushSummary::default();
            loop {
                match self.try_deliver_next().await? {
                    Step::Delivered { .. } => summary.delivered += 1,
                    Step::Failed { .. } => summary.failed += 1,
                    Step::Empty => return anyhow::Ok(summary),
                }
            }
        });
        let mut total = FlushSummary::default();
        for s in futures::future::try_join_all(senders).await? {
            total.delivered += s.delivered;
            total.failed += s.failed;
        }
        self.forget_erased_copies().await?;
        // A checkpoint an erasure could not finish is retried with every flush.
        self.services.outbox().settle_wal_scrub().await;
        Ok(total)
    }

    /// Removes the transport's copies of mail to people since erased (the folder transport's
    /// `.eml` files written before the erasure).
    async fn forget_erased_copies(&self) -> anyhow::Result<()> {
        for id in self.services.outbox().copies_to_forget().await? {
            self.mailer.forget(&file_stem(id)).await?;
            self.services.outbox().copy_forgotten(id).await?;
        }
        Ok(())
    }

    pub async fn run(self, mut stop: tokio::sync::watch::Receiver<bool>) {
        let notify = self.services.mail_ready();
        let period = std::time::Duration::from_secs(self.services.config().mail_poll_seconds);
        loop {
            if let Err(e) = self.flush().await {
                tracing::error!(error = format!("{e:#}"), "mail worker step failed");
            }
            if let Err(e) = self.services.requests().expire_unconfirmed().await {
                tracing::error!(error = %e, "expiring unconfirmed requests failed");
            }
            match self.services.routines().send_reminders().await {
                Ok(0) => {}
                Ok(n) => tracing::info!(mails = n, "reminders queued"),
                Err(e) => tracing::error!(error = %e, "sending reminders failed"),
            }
            tokio::select! {
                _ = notify.notified() => {}
                _ = tokio::time::sleep(period) => {}
                _ = stop.changed() => break,
            }
        }
        if let Err(e) = self.flush().await {
            tracing::error!(error = format!("{e:#}"), "final mail flush failed");
        }
    }
}

/// The name the folder transport gives a mail's file: a resend overwrites rather than doubles.
fn file_stem(outbox_id: i64) -> String {
    format!("{outbox_id:06}")
}

/// Server replies often quote the recipient ("550 <bob@example.org>: unknown user"); keep the
/// reason, drop the address.
pub fn redact_addresses(text: &str) -> String {
    text.split_inclusive(char::is_whitespace)
        .map(|word| {
            if word.contains('@') {
                "[address] "
            } else {
                word
            }
        })
        .collect::<String>()
        .trim_end()
        .to_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_doubles_and_caps() {
        assert_eq!(backoff(1), Duration::seconds(30));
        assert_eq!(backoff(2), Duration::seconds(60));
        assert_eq!(backoff(5), Duration::seconds(480));
        assert_eq!(backoff(50), Duration::seconds(3_600));
    }

    #[test]
    fn addresses_are_redacted_from_errors() {
        let r = redact_addresses(
            "permanent error (550): 5.1.1 <bob@example.org>: Recipient address rejected",
        );
        assert!(!r.contains("bob"), "{r}");
        assert!(r.contains("Recipient address rejected"));
    }
}
