//! The report schedule: on the first of each month (in `REPORT_TIMEZONE`), the previous
//! month's report goes to the privacy officers, and to the staff channel when Discord is on.

use std::future::Future;

use crate::{reports::render::Format, services::Services};

/// Posts Markdown to a staff channel; the bot implements it over Discord.
pub trait ReportPoster: Send + Sync {
    fn post(&self, channel: u64, markdown: &str)
    -> impl Future<Output = anyhow::Result<()>> + Send;
}

/// No staff channel: reports go by mail only.
pub struct NoPoster;

impl ReportPoster for NoPoster {
    async fn post(&self, _: u64, _: &str) -> anyhow::Result<()> {
        Ok(())
    }
}

pub struct ReportScheduler<P> {
    services: Services,
    poster: P,
    channel: Option<u64>,
}

impl<P: ReportPoster> ReportScheduler<P> {
    pub fn new(services: Services, poster: P, channel: Option<u64>) -> Self {
        Self {
            services,
            poster,
            channel,
        }
    }

    /// Sends what is due (catching up missed months) and posts what is not posted yet.
    pub async fn step(&self) -> anyhow::Result<usize> {
        let sent = self.services.send_due_reports().await?;
        if let Some(channel) = self.channel {
            for month in self.services.reports_to_post().await? {
                let report = self.services.monthly_report(Some(month)).await?;
                let md = self.services.render_report(&report, Format::Md)?;
                self.poster.post(channel, &md).await?;
                self.services.mark_report_posted(month).await?;
            }
        }
        Ok(sent.len())
    }

    /// Checks hourly until `stop` fires.
    pub async fn run(self, mut stop: tokio::sync::watch::Receiver<bool>) {
        loop {
            if let Err(e) = self.step().await {
                tracing::error!(
                    error = format!("{e:#}"),
                    "monthly report step failed; will retry"
                );
            }
            tokio::select! {
                _ = tokio::time::sleep(std::time::Duration::from_secs(3_600)) => {}
                _ = stop.changed() => break,
            }
        }
    }
}
