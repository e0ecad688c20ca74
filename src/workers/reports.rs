//! The report schedule: on the first of each month (in `REPORT_TIMEZONE`), the previous
//! month's report is written to `REPORTS_DIR`, mailed to the privacy officers when there are
//! any, and posted to the staff channel when Discord is on.

use std::future::Future;

use anyhow::Context;

use crate::{
    reports::{Month, Report, render::Format},
    services::Services,
};

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

    /// Takes every complete month whose report has not gone everywhere it should: written to
    /// `REPORTS_DIR` always, mailed when officers are set, posted when a staff channel is.
    /// Missed months are caught up, oldest first. Returns how many months were mailed now.
    pub async fn step(&self) -> anyhow::Result<usize> {
        let officers = !self.services.config().privacy_officers.is_empty();
        let mut mailed = 0;
        for (month, state) in self.services.report_months().await? {
            let post = self.channel.filter(|_| !state.posted);
            if state.written && (state.mailed || !officers) && post.is_none() {
                continue;
            }
            let report = self.services.monthly_report(Some(month)).await?;
            if !state.written {
                self.write(month, &report).await?;
                self.services.report_written(month).await?;
            }
            if officers && !state.mailed && self.services.mail_report(month, &report).await? {
                mailed += 1;
            }
            if let Some(channel) = post {
                let md = self.services.render_report(&report, Format::Md)?;
                // Claimed before posting: two instances post a month once; a post that fails
                // after the claim is not tried again (the mail and the file still hold it).
                if self.services.claim_report_post(month).await? {
                    self.poster.post(channel, &md).await?;
                }
            }
        }
        Ok(mailed)
    }

    /// Writes `REPORTS_DIR/YYYY-MM.{html,md,csv}`, each whole or not at all.
    async fn write(&self, month: Month, report: &Report) -> anyhow::Result<()> {
        let dir = &self.services.config().reports_dir;
        tokio::fs::create_dir_all(dir)
            .await
            .with_context(|| format!("making the reports folder {}", dir.display()))?;
        for (format, ext) in [
            (Format::Html, "html"),
            (Format::Md, "md"),
            (Format::Csv, "csv"),
        ] {
            let text = self.services.render_report(report, format)?;
            let path = dir.join(format!("{month}.{ext}"));
            // A file of its own, renamed into place: two instances writing the same month
            // each put a whole file there.
            let dir = dir.clone();
            tokio::task::spawn_blocking(move || -> anyhow::Result<()> {
                use std::io::Write;
                let mut tmp = tempfile::NamedTempFile::new_in(&dir)
                    .with_context(|| format!("writing into {}", dir.display()))?;
                tmp.write_all(text.as_bytes())?;
                tmp.persist(&path)
                    .with_context(|| format!("writing {}", path.display()))?;
                Ok(())
            })
            .await??;
        }
        tracing::info!(month = %month, folder = %dir.display(), "monthly report written");
        Ok(())
    }

    /// Checks hourly until `stop` fires.
    pub async fn run(self, mut stop: tokio::sync::watch::Receiver<bool>) {
        loop {
            match self.step().await {
                // The process is stopping and took the step's blocking work with it.
                Err(e)
                    if e.downcast_ref::<tokio::task::JoinError>()
                        .is_some_and(|j| j.is_cancelled()) =>
                {
                    break;
                }
                Err(e) => tracing::error!(
                    error = format!("{e:#}"),
                    "monthly report step failed; will retry"
                ),
                Ok(_) => {}
            }
            tokio::select! {
                _ = tokio::time::sleep(std::time::Duration::from_secs(3_600)) => {}
                _ = stop.changed() => break,
            }
        }
    }
}
