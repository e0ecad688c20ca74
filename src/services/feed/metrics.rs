//! `/metrics`: what a Prometheus scrape reads of the service: counts only, never an identity.

use super::{ConsumerView, Feed, consumers::view};
use crate::{db, error::ServiceError};

impl Feed<'_> {
    /// Counts for a Prometheus scrape (text format 0.0.4): no identities, counts only.
    pub async fn metrics(&self) -> Result<String, ServiceError> {
        let queued = self.0.db.writer_queue();
        let (counts, consumers) = self
            .0
            .read(|db, ctx| {
                let now = ctx.now();
                let consumers: Vec<ConsumerView> = db::feed::consumers(db)?
                    .into_iter()
                    .map(|c| view(db, c, now))
                    .collect::<anyhow::Result<_>>()?;
                Ok((db::feed::counts(db)?, (consumers, now)))
            })
            .await?;
        let (consumers, now) = consumers;
        let live: Vec<&ConsumerView> = consumers
            .iter()
            .filter(|c| c.revoked_at.is_none())
            .collect();
        let mut out = String::new();
        let mut metric = |name: &str, kind: &str, help: &str, rows: Vec<(String, String)>| {
            out.push_str(&format!("# HELP {name} {help}\n# TYPE {name} {kind}\n"));
            for (labels, value) in rows {
                out.push_str(&format!("{name}{labels} {value}\n"));
            }
        };
        metric(
            "dsr_requests",
            "gauge",
            "Requests by kind and state.",
            counts
                .requests
                .iter()
                .map(|(k, s, n)| (format!("{{kind=\"{k}\",state=\"{s}\"}}"), n.to_string()))
                .collect(),
        );
        metric(
            "dsr_outbox_mails",
            "gauge",
            "Mails waiting to be sent.",
            vec![(String::new(), counts.mail_waiting.to_string())],
        );
        metric(
            "dsr_outbox_oldest_seconds",
            "gauge",
            "Age of the oldest mail waiting to be sent (0 when none waits).",
            vec![(
                String::new(),
                counts
                    .oldest_mail
                    .map_or(0, |t| (now - t).num_seconds().max(0))
                    .to_string(),
            )],
        );
        metric(
            "dsr_dm_outbox",
            "gauge",
            "Discord DMs waiting to be sent.",
            vec![(String::new(), counts.dms_waiting.to_string())],
        );
        metric(
            "dsr_consumers",
            "gauge",
            "Consumers that may call.",
            vec![(String::new(), live.len().to_string())],
        );
        metric(
            "dsr_consumers_behind",
            "gauge",
            "Consumers with changes they have not acknowledged.",
            vec![(
                String::new(),
                live.iter().filter(|c| c.behind()).count().to_string(),
            )],
        );
        metric(
            "dsr_consumers_stale",
            "gauge",
            "Consumers behind for over a day.",
            vec![(
                String::new(),
                live.iter().filter(|c| c.stale).count().to_string(),
            )],
        );
        metric(
            "dsr_writer_queue",
            "gauge",
            "Units of work waiting for the database writer.",
            vec![(String::new(), queued.to_string())],
        );
        let stats = &db::writer::STATS;
        let commits = stats.commits.load(std::sync::atomic::Ordering::Relaxed);
        let micros = stats
            .commit_micros
            .load(std::sync::atomic::Ordering::Relaxed);
        metric(
            "dsr_writer_commit_seconds",
            "summary",
            "Group commits of this process's writer and the time they took.",
            vec![
                ("_sum".to_owned(), format!("{:.6}", micros as f64 / 1e6)),
                ("_count".to_owned(), commits.to_string()),
            ],
        );
        Ok(out)
    }
}
