//! Push for consumers that gave a webhook: each message of the durable queue (see
//! `webhook_deliveries`) is a thin Standard Webhooks 1.0 event carrying only the consumer's
//! new cursor, signed `v1a` (Ed25519) with the log's key over `{id}.{timestamp}.{body}`.
//! Failures are tried again with growing, jittered waits for about 3 days; a 410 answer
//! turns the endpoint off. Officers are told of both (`consumers list`, `/requests`, the
//! digest and the report).

use std::time::Duration;

use rand::Rng;
use tokio::sync::watch;

use crate::services::{Services, feed::WebhookOutcome};

/// How long a message is tried before it is given up.
pub const GIVE_UP_AFTER: chrono::Duration = chrono::Duration::days(3);

/// The waits after each failed attempt, as multiples of `WEBHOOK_RETRY_SECONDS` (5 s by
/// default: 5 s, 30 s, 2 min, 10 min, 30 min, 1 h, 2 h, 4 h, then every 8 h).
const WAITS: [u32; 9] = [1, 6, 24, 120, 360, 720, 1_440, 2_880, 5_760];

/// The wait after `attempts` failed attempts, with ±20 % jitter so endpoints coming back
/// are not met by every sender at once.
pub fn wait_after(attempts: i64, base_seconds: u32) -> chrono::Duration {
    let step = WAITS[(attempts.max(1) as usize - 1).min(WAITS.len() - 1)];
    let secs = f64::from(step) * f64::from(base_seconds);
    let jitter = rand::thread_rng().gen_range(0.8..1.2);
    chrono::Duration::milliseconds((secs * jitter * 1000.0) as i64)
}

pub struct WebhookWorker {
    services: Services,
    client: reqwest::Client,
}

impl WebhookWorker {
    pub fn new(services: Services) -> anyhow::Result<WebhookWorker> {
        let client = reqwest::Client::builder()
            .timeout(Duration::from_secs(10))
            .redirect(reqwest::redirect::Policy::none())
            .user_agent(concat!("dsr-bot/", env!("CARGO_PKG_VERSION")))
            .build()?;
        Ok(WebhookWorker { services, client })
    }

    /// Delivers what is due, every second, until `stop`.
    pub async fn run(self, mut stop: watch::Receiver<bool>) {
        let mut tick = super::timer(Duration::from_secs(1));
        while super::next_tick(&mut tick, &mut stop).await {
            if let Err(e) = self.round().await {
                tracing::warn!(error = %format!("{e:#}"), "webhook deliveries failed this round; tried again");
            }
        }
    }

    /// One round: every due message, claimed, tried once.
    pub async fn round(&self) -> anyhow::Result<usize> {
        let feed = self.services.feed();
        if !feed.webhooks_due().await? {
            return Ok(0);
        }
        let claimed = feed
            .claim_webhooks(16, chrono::Duration::seconds(60))
            .await?;
        let n = claimed.len();
        let base = self.services.config().http.webhook_retry_seconds;
        for (delivery, body) in claimed {
            let outcome = self.attempt(&delivery, &body).await;
            let outcome = match outcome {
                Ok(()) => WebhookOutcome::Delivered,
                Err((status, gone)) if gone => {
                    tracing::warn!(consumer = delivery.consumer_id, status = %status, "a consumer's webhook answered 410 Gone: it is off");
                    WebhookOutcome::GaveUp {
                        disable: true,
                        why: status,
                    }
                }
                Err((status, _)) if self.services.now() - delivery.created_at > GIVE_UP_AFTER => {
                    tracing::warn!(consumer = delivery.consumer_id, status = %status, "a consumer's webhook stopped answering for 3 days: given up");
                    WebhookOutcome::GaveUp {
                        disable: false,
                        why: status,
                    }
                }
                Err((status, _)) => WebhookOutcome::Retry(
                    self.services.now() + wait_after(delivery.attempts + 1, base),
                    status,
                ),
            };
            feed.webhook_attempted(delivery, outcome).await?;
        }
        Ok(n)
    }

    /// Posts one message: `Ok` on a 2xx answer, else what happened and whether it was a 410.
    async fn attempt(
        &self,
        d: &crate::db::feed::Delivery,
        body: &str,
    ) -> Result<(), (String, bool)> {
        let timestamp = self.services.now().timestamp().to_string();
        let signed = format!("{}.{timestamp}.{body}", d.message_id);
        let Some((_, signature)) = self.services.feed().sign(signed.as_bytes()) else {
            return Err(("no signing key".into(), false));
        };
        let sent = self
            .client
            .post(&d.url)
            .header("content-type", "application/json")
            .header("webhook-id", &d.message_id)
            .header("webhook-timestamp", &timestamp)
            .header("webhook-signature", format!("v1a,{signature}"))
            .body(body.to_owned())
            .send()
            .await;
        match sent {
            Ok(r) if r.status().is_success() => Ok(()),
            Ok(r) => Err((
                format!("HTTP {}", r.status().as_u16()),
                r.status() == reqwest::StatusCode::GONE,
            )),
            // The error names the URL, which the officer gave; never a person.
            Err(e) => Err((
                if e.is_timeout() {
                    "timed out".to_owned()
                } else {
                    "could not connect".to_owned()
                },
                false,
            )),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn waits_grow_to_every_8_hours_with_jitter_and_give_up_after_about_3_days() {
        let w = |n| wait_after(n, 5).num_milliseconds() as f64 / 1000.0;
        assert!((4.0..=6.0).contains(&w(1)), "{}", w(1));
        assert!((24.0..=36.0).contains(&w(2)));
        assert!((8.0 * 3600.0 * 0.8..=8.0 * 3600.0 * 1.2).contains(&w(40)));
        // The sum of the waits before giving up spans about 3 days of tries.
        let total: f64 = (1..=16)
            .map(|n| f64::from(WAITS[(n - 1).min(8)]) * 5.0)
            .sum();
        assert!(total > 2.0 * 86400.0 && total < 4.0 * 86400.0, "{total}");
    }
}
