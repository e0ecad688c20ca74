//! Push: consumers with a webhook are told of every change through a durable queue in the
//! database (delivered by `workers::webhooks`), one waiting message per consumer.

use chrono::{DateTime, Utc};

use super::{Feed, cursor_of};
use crate::{
    db::{self, feed::Delivery},
    error::{ServiceError, UserError},
    services::uow::{Call, Uow},
};

/// How a webhook delivery went.
#[derive(Debug, Clone)]
pub enum WebhookOutcome {
    Delivered,
    Retry(DateTime<Utc>, String),
    /// 410 disables the endpoint; otherwise it stopped answering for about 3 days.
    GaveUp {
        disable: bool,
        why: String,
    },
}

/// Every consumer with a webhook is told, through the durable queue, that the feed moved to
/// `seq`.
pub(super) fn push(uow: &Uow<'_>, seq: i64) -> anyhow::Result<()> {
    for consumer in uow.db.webhook_consumers()? {
        let id = format!("msg_{}", uuid::Uuid::new_v4().simple());
        uow.db.queue_webhook(consumer, seq, &id, uow.now)?;
    }
    Ok(())
}

pub(super) fn check_webhook(url: &str) -> Result<(), UserError> {
    let parsed = url::Url::parse(url)
        .map_err(|e| UserError::new(format!("The webhook {url:?} is not a URL ({e}).")))?;
    if !matches!(parsed.scheme(), "https" | "http") {
        return Err(UserError::new(format!(
            "The webhook {url:?} is not an http(s) URL."
        )));
    }
    Ok(())
}

impl Feed<'_> {
    /// Whether a webhook message is due now.
    pub async fn webhooks_due(&self) -> Result<bool, ServiceError> {
        self.0
            .read(|db, ctx| Ok(db::feed::webhook_due(db, ctx.now())?))
            .await
    }

    /// Claims up to `n` due webhook messages for `lease`, each with its body (its cursor).
    pub async fn claim_webhooks(
        &self,
        n: usize,
        lease: chrono::Duration,
    ) -> Result<Vec<(Delivery, String)>, ServiceError> {
        self.0
            .run(Call::system(), move |uow| {
                let claimed =
                    db::feed::claim_webhooks(uow.db.sqlite()?, uow.now, uow.now + lease, n)?;
                Ok(claimed
                    .into_iter()
                    .map(|d| {
                        let body = serde_json::json!({
                            "type": "choices.changed",
                            "timestamp": crate::proof::record::instant(d.created_at),
                            "data": { "cursor": cursor_of(uow.ctx, d.consumer_id, d.seq) },
                        })
                        .to_string();
                        (d, body)
                    })
                    .collect())
            })
            .await
    }

    /// Records how delivering `d` went.
    pub async fn webhook_attempted(
        &self,
        d: Delivery,
        outcome: WebhookOutcome,
    ) -> Result<(), ServiceError> {
        self.0
            .run(Call::system(), move |uow| {
                let attempted = match &outcome {
                    WebhookOutcome::Delivered => db::feed::Attempted::Delivered,
                    WebhookOutcome::Retry(at, why) => db::feed::Attempted::Retry(*at, why),
                    WebhookOutcome::GaveUp { disable, why } => db::feed::Attempted::GaveUp {
                        disable: *disable,
                        status: why,
                    },
                };
                Ok(db::feed::webhook_attempted(
                    uow.db.sqlite()?,
                    &d,
                    attempted,
                    uow.now,
                )?)
            })
            .await
    }

    /// Sets a live consumer's webhook (none: push off), on again after a 410 or a give-up.
    pub async fn set_webhook(&self, name: &str, url: Option<String>) -> Result<(), ServiceError> {
        if let Some(u) = &url {
            check_webhook(u)?;
        }
        let consumer = self.consumer(name).await?;
        self.0
            .run(Call::system(), move |uow| {
                Ok(db::feed::set_webhook(
                    uow.db.sqlite()?,
                    consumer.id,
                    url.as_deref(),
                )?)
            })
            .await
    }
}
