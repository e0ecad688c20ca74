//! Delivering DM receipts: the worker takes the DMs the services queued, one at a time, and
//! sends each through Discord's REST API. A 429 is waited out as long as Discord asks
//! (`retry_after`), a closed DM (50007) is recorded and never tried again, any other failure is
//! retried with backoff; a receipt is never dropped before it has been tried for days.
//!
//! The calls are made with serenity's own HTTP client crate, not serenity's routes, because
//! serenity does not keep a 429's `retry_after` when its rate limiter is off (behind
//! `DISCORD_API_URL`). Nothing here logs who a DM is for.

use std::time::Duration;

use anyhow::Context as _;
use chrono::Utc;
use serde_json::json;

use crate::{config::DiscordConfig, services::Services, workers::outbox::backoff};

/// Discord's "Cannot send messages to this user".
const CLOSED_DMS: i64 = 50007;
/// Discord's own API origin; `DISCORD_API_URL` replaces it.
const DISCORD: &str = "https://discord.com";

/// What one DM came to.
#[derive(Debug, Clone, PartialEq)]
pub enum Sent {
    Delivered,
    /// The member does not take DMs from the bot (50007).
    Closed,
    /// Discord asked to wait this long (a 429).
    RetryAfter(Duration),
    /// Anything else; tried again later.
    Failed(String),
}

/// Sends DMs over Discord's REST API.
#[derive(Clone)]
pub struct DmSender {
    client: reqwest::Client,
    base: String,
    authorization: String,
}

impl DmSender {
    pub fn new(token: &str, settings: &DiscordConfig) -> anyhow::Result<Self> {
        let origin = settings
            .api_url
            .as_deref()
            .unwrap_or(DISCORD)
            .trim_end_matches('/');
        Ok(Self {
            client: reqwest::Client::builder()
                .timeout(Duration::from_secs(15))
                .build()
                .context("building the HTTP client for DMs")?,
            base: format!("{origin}/api/v10"),
            authorization: format!("Bot {}", token.trim_start_matches("Bot ")),
        })
    }

    async fn post(&self, path: &str, body: serde_json::Value) -> Result<serde_json::Value, Sent> {
        let response = self
            .client
            .post(format!("{}{path}", self.base))
            .header("Authorization", &self.authorization)
            .json(&body)
            .send()
            .await
            .map_err(|e| {
                Sent::Failed(format!(
                    "Discord could not be reached ({})",
                    e.without_url()
                ))
            })?;
        let status = response.status();
        let header_wait = response
            .headers()
            .get("retry-after")
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.parse::<f64>().ok());
        let body: serde_json::Value = response.json().await.unwrap_or_default();
        if status.is_success() {
            return Ok(body);
        }
        if status.as_u16() == 429 {
            let secs = body["retry_after"].as_f64().or(header_wait).unwrap_or(1.0);
            return Err(Sent::RetryAfter(Duration::from_secs_f64(
                secs.clamp(0.0, 3_600.0),
            )));
        }
        if body["code"].as_i64() == Some(CLOSED_DMS) {
            return Err(Sent::Closed);
        }
        Err(Sent::Failed(format!(
            "Discord answered {} (code {})",
            status.as_u16(),
            body["code"].as_i64().unwrap_or(0)
        )))
    }

    /// Sends `text` to `to` in a DM, mentioning nobody.
    pub async fn send(&self, to: &str, text: &str) -> Sent {
        let channel = match self
            .post("/users/@me/channels", json!({ "recipient_id": to }))
            .await
        {
            Ok(c) => c,
            Err(outcome) => return outcome,
        };
        let Some(channel) = channel["id"].as_str() else {
            return Sent::Failed("Discord gave no DM channel".into());
        };
        let message = json!({ "content": text, "allowed_mentions": { "parse": [] } });
        match self
            .post(&format!("/channels/{channel}/messages"), message)
            .await
        {
            Ok(_) => Sent::Delivered,
            Err(outcome) => outcome,
        }
    }
}

/// What one step of the worker did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Step {
    Delivered { dm_id: i64 },
    Closed { dm_id: i64 },
    Retry { dm_id: i64 },
    Empty,
}

pub struct DmWorker {
    services: Services,
    sender: DmSender,
}

impl DmWorker {
    pub fn new(services: Services, sender: DmSender) -> Self {
        Self { services, sender }
    }

    /// Sends the DM due longest ago, if any.
    pub async fn try_deliver_next(&self) -> anyhow::Result<Step> {
        let receipts = self.services.receipts();
        let Some(dm) = receipts.claim().await? else {
            return Ok(Step::Empty);
        };
        Ok(match self.sender.send(&dm.recipient, &dm.text).await {
            Sent::Delivered => {
                receipts.sent(dm.id).await?;
                tracing::info!(dm_id = dm.id, "DM receipt delivered");
                Step::Delivered { dm_id: dm.id }
            }
            Sent::Closed => {
                receipts.closed(&dm).await?;
                tracing::info!(
                    dm_id = dm.id,
                    "the member's DMs are closed; recorded, not tried again"
                );
                Step::Closed { dm_id: dm.id }
            }
            Sent::RetryAfter(wait) => {
                let retry_at = Utc::now()
                    + chrono::Duration::from_std(wait).unwrap_or(chrono::Duration::seconds(60));
                receipts
                    .failed(&dm, "rate limited (429)".into(), retry_at)
                    .await?;
                tracing::warn!(
                    dm_id = dm.id,
                    wait_ms = wait.as_millis() as u64,
                    "Discord asked to wait before this DM"
                );
                Step::Retry { dm_id: dm.id }
            }
            Sent::Failed(why) => {
                let retry_at = Utc::now() + backoff(dm.attempts + 1);
                tracing::warn!(dm_id = dm.id, error = %why, "a DM receipt failed; will retry");
                receipts.failed(&dm, why, retry_at).await?;
                Step::Retry { dm_id: dm.id }
            }
        })
    }

    /// Delivers until `stop`: woken when a DM is queued, and every few seconds for retries.
    pub async fn run(self, mut stop: tokio::sync::watch::Receiver<bool>) -> anyhow::Result<()> {
        let ready = self.services.dm_ready();
        loop {
            if *stop.borrow() {
                return Ok(());
            }
            let step = match self.try_deliver_next().await {
                Ok(step) => step,
                Err(e) => {
                    tracing::error!(
                        error = format!("{e:#}"),
                        "the DM worker could not reach the database"
                    );
                    Step::Empty
                }
            };
            if step == Step::Empty || matches!(step, Step::Retry { .. }) {
                tokio::select! {
                    _ = ready.notified() => {}
                    _ = tokio::time::sleep(Duration::from_secs(2)) => {}
                    _ = stop.changed() => {}
                }
            }
        }
    }
}
