//! The schedule, checked hourly: on the first of each month (in `REPORT_TIMEZONE`) the previous
//! month's report is written to `REPORTS_DIR`, mailed to the privacy officers when there are
//! any, and posted to the staff channel when Discord is on; each `DIGEST_WEEKDAY` the officers'
//! digest of what is due goes out; once a day the community's size is recorded; and before the
//! policy deadline the announcement channel is told what doing nothing means.

use std::future::Future;

use anyhow::Context;

use crate::{
    reports::{Month, Report, render::Format},
    services::Services,
};

/// What the schedule needs of Discord: posting Markdown to a channel, and the guild's
/// approximate member count. The bot implements it over Discord's REST API.
pub trait Poster: Send + Sync {
    fn post(&self, channel: u64, markdown: &str)
    -> impl Future<Output = anyhow::Result<()>> + Send;

    /// The community's approximate size on Discord; `None` when it cannot be told.
    fn member_count(&self) -> impl Future<Output = anyhow::Result<Option<u64>>> + Send;
}

/// No Discord: reports and digests go by mail only, and the size comes from COMMUNITY_SIZE.
pub struct NoPoster;

impl Poster for NoPoster {
    async fn post(&self, _: u64, _: &str) -> anyhow::Result<()> {
        Ok(())
    }

    async fn member_count(&self) -> anyhow::Result<Option<u64>> {
        Ok(None)
    }
}

/// Where the schedule posts, when Discord is on.
#[derive(Debug, Clone, Copy, Default)]
pub struct Channels {
    /// The staff channel: monthly reports and weekly digests.
    pub staff: Option<u64>,
    /// The members' channel for the announcements before the policy deadline.
    pub announce: Option<u64>,
}

/// What one step did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Stepped {
    pub reports_mailed: usize,
    pub digest_mailed: bool,
    pub digest_posted: bool,
    pub size_recorded: Option<u64>,
    pub announced: bool,
}

pub struct Scheduler<P> {
    services: Services,
    poster: P,
    channels: Channels,
}

impl<P: Poster> Scheduler<P> {
    pub fn new(services: Services, poster: P, channels: Channels) -> Self {
        Self {
            services,
            poster,
            channels,
        }
    }

    /// Everything due now. One part failing does not hold up the others; the first failure is
    /// returned after all have run.
    pub async fn step(&self) -> anyhow::Result<Stepped> {
        let mut done = Stepped::default();
        let reports = self.reports().await.map(|n| done.reports_mailed = n);
        let digest = self.digest().await.map(|(m, p)| {
            done.digest_mailed = m;
            done.digest_posted = p;
        });
        let size = self.community_size().await.map(|s| done.size_recorded = s);
        let announce = self.announce().await.map(|a| done.announced = a);
        reports
            .context("monthly reports")
            .and(digest.context("the weekly digest"))
            .and(size.context("the community size"))
            .and(announce.context("the deadline announcement"))?;
        Ok(done)
    }

    /// The weekly digest, when due: mailed to the officers and posted to the staff channel,
    /// each once per week. Returns (mailed, posted) now.
    pub async fn digest(&self) -> anyhow::Result<(bool, bool)> {
        let Some(week) = self.services.routines().digest_week() else {
            return Ok((false, false));
        };
        let mailed = self.services.routines().mail_digest(&week).await?;
        let mut posted = false;
        if let Some(channel) = self.channels.staff
            && let Some(text) = self.services.routines().claim_digest_post(&week).await?
        {
            self.poster.post(channel, &text).await?;
            posted = true;
        }
        if mailed || posted {
            tracing::info!(week = %week, mailed, posted, "weekly digest sent");
        }
        Ok((mailed, posted))
    }

    /// Records the community's size once a day: `COMMUNITY_SIZE` when set, or else the guild's
    /// approximate member count from Discord. Returns the size recorded now.
    pub async fn community_size(&self) -> anyhow::Result<Option<u64>> {
        if self
            .services
            .routines()
            .community_size_known_today()
            .await?
        {
            return Ok(None);
        }
        let (size, source) = match self.services.config().officers.community_size {
            Some(n) => (Some(n), "setting"),
            None => (self.poster.member_count().await?, "discord"),
        };
        if let Some(n) = size {
            self.services
                .routines()
                .record_community_size(n, source)
                .await?;
        }
        Ok(size)
    }

    /// Posts the announcement due before the policy deadline, once. Returns whether it did.
    pub async fn announce(&self) -> anyhow::Result<bool> {
        let Some(channel) = self.channels.announce else {
            return Ok(false);
        };
        // Claimed before posting: two instances post it once; a post that fails after the
        // claim is not tried again (a repeated announcement would be worse than a missed one).
        let Some(text) = self.services.routines().claim_announcement().await? else {
            return Ok(false);
        };
        self.poster.post(channel, &text).await?;
        tracing::info!("deadline announcement posted");
        Ok(true)
    }

    /// Takes every complete month whose report has not gone everywhere it should: written to
    /// `REPORTS_DIR` always, mailed when officers are set, posted when a staff channel is.
    /// Missed months are caught up, oldest first. Returns how many months were mailed now.
    pub async fn reports(&self) -> anyhow::Result<usize> {
        let officers = !self.services.config().privacy_officers.is_empty();
        let mut mailed = 0;
        for (month, state) in self.services.reports().months().await? {
            let post = self.channels.staff.filter(|_| !state.posted);
            if state.written && (state.mailed || !officers) && post.is_none() {
                continue;
            }
            let report = self.services.reports().month(Some(month)).await?;
            if !state.written {
                self.write(month, &report).await?;
                self.services.reports().written(month).await?;
            }
            if officers && !state.mailed && self.services.reports().mail(month, &report).await? {
                mailed += 1;
            }
            if let Some(channel) = post {
                let md = self.services.reports().render(&report, Format::Md)?;
                // Claimed before posting: two instances post a month once; a post that fails
                // after the claim is not tried again (the mail and the file still hold it).
                if self.services.reports().claim_post(month).await? {
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
            let text = self.services.reports().render(report, format)?;
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
                    "scheduled step failed; will retry"
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
