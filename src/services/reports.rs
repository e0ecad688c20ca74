//! Monthly reports for privacy officers: sent once a month, claimed with their mails in one
//! unit of work.

use super::uow::Officer;
use super::{
    mail,
    shared::Shared,
    uow::{Call, Uow},
};
use crate::store::schedule::Mark;
use crate::{
    db,
    email::Rendered,
    error::{ServiceError, UserError},
    reports::{
        Month, Report,
        gather::{MonthFigures, Stamp},
        render::Format,
    },
};

/// Claims `month` as mailed and queues its mail to every officer; false when there is no
/// officer to mail it to, or it was mailed before (by an earlier run or another instance).
pub fn claim_and_mail(
    uow: &mut Uow<'_>,
    month: Month,
    rendered: &Rendered,
    csv: &str,
) -> anyhow::Result<bool> {
    if uow.config().privacy_officers.is_empty()
        || !uow
            .db
            .claim(Mark::ReportMailed, &month.to_string(), uow.now)?
    {
        return Ok(false);
    }
    let name = format!("privacy-report-{month}.csv");
    for officer in &uow.config().privacy_officers {
        mail::queue_to_officer(uow, "monthly_report", officer, rendered, Some((&name, csv)))?;
    }
    Ok(true)
}

/// The monthly reports: computed, rendered, and sent once.
pub struct Reports<'a>(pub(super) &'a Shared);

impl Reports<'_> {
    /// The report for `month` (default: the last complete month in `REPORT_TIMEZONE`): the
    /// month in progress is marked so far; a month that has not begun is refused.
    pub async fn month(&self, month: Option<Month>) -> Result<Report, ServiceError> {
        let cfg = &self.0.ctx.config;
        let tz = cfg.report_timezone;
        let now = self.0.now();
        let current = Month::containing(now, tz);
        let month = month.unwrap_or_else(|| Month::last_complete(now, tz));
        if month > current {
            return Err(UserError::new(format!(
                "{month} has not begun, so there is nothing to report yet; the month in progress is {current}."
            ))
            .into());
        }
        let mut report = crate::reports::gather::report(&self.0.db, month, tz).await?;
        report.organisation = cfg.organisation_name.clone();
        report.generated = Stamp::new(now, cfg.display_timezone);
        report.so_far = month == current;
        let (start, end) = month.bounds(tz);
        report.notices = self
            .0
            .read(move |db, _| Ok(db::log::notices_in_force(db, start, end)?))
            .await?;
        report.log = self.log_head().await?;
        report.consumers = super::feed::Feed(self.0)
            .list()
            .await?
            .into_iter()
            .filter(|c| c.revoked_at.is_none())
            .map(|c| crate::reports::gather::ConsumerInReport {
                last_acknowledged: c.last_ack_at.map(|t| Stamp::new(t, cfg.display_timezone)),
                unacknowledged: c.unacknowledged,
                stale: c.stale,
                name: c.name,
            })
            .collect();
        Ok(report)
    }

    /// The log's head as a report hands it out: signed now, or (on a database this process
    /// cannot write) the last checkpoint signed.
    async fn log_head(&self) -> Result<Option<crate::reports::gather::LogHead>, ServiceError> {
        let Some(public_key) = self.0.ctx.proof.public_key() else {
            return Ok(None);
        };
        let checkpoint = if self.0.db.writable() {
            super::log::Log(self.0)
                .checkpoint("report", false)
                .await?
                .map(|c| c.note)
        } else {
            self.0
                .read(|db, _| Ok(db::log::latest_checkpoint(db)?.map(|c| c.note)))
                .await?
        };
        Ok(
            checkpoint.map(|checkpoint| crate::reports::gather::LogHead {
                checkpoint,
                public_key,
            }),
        )
    }

    /// Recomputes the report's counts from the requests (`dsr-bot report rebuild`); returns
    /// how many requests they were counted from.
    pub async fn rebuild_counts(&self) -> Result<i64, ServiceError> {
        let tz = self.0.ctx.config.report_timezone;
        Ok(self
            .0
            .db
            .write(move |conn| {
                anyhow::Context::context(
                    db::counters::rebuild(conn, tz),
                    "rebuilding the monthly report's counts",
                )
            })
            .await?)
    }

    /// Every month up to the one in progress as the kept counts give it, beside the same
    /// month computed from the requests (`dsr-bot report check`); `None` when the counts are
    /// not kept for `REPORT_TIMEZONE` yet (a report then reads the requests).
    pub async fn check_counts(
        &self,
    ) -> Result<Option<Vec<(MonthFigures, MonthFigures)>>, ServiceError> {
        let tz = self.0.ctx.config.report_timezone;
        let current = Month::containing(self.0.now(), tz);
        Ok(crate::reports::gather::check(&self.0.db, current, tz).await?)
    }

    pub fn render(&self, report: &Report, format: Format) -> Result<String, ServiceError> {
        Ok(crate::reports::render::render(
            report,
            format,
            &self.0.ctx.config.policy_name,
            &self.0.ctx.templates,
            self.0.ctx.config.report_language,
        )?)
    }

    /// Every complete month since reports began (the month before the first start), oldest
    /// first, with where its report has gone so far.
    pub async fn months(&self) -> Result<Vec<(Month, db::reports::MonthState)>, ServiceError> {
        let tz = self.0.ctx.config.report_timezone;
        let last = Month::last_complete(self.0.now(), tz);
        self.0
            .run(Call::system(), move |uow| {
                let since = uow
                    .db
                    .setting_or_insert("reports_since", &last.to_string())?;
                let mut month: Month = since
                    .parse()
                    .map_err(|e: String| anyhow::anyhow!("settings.reports_since: {e}"))?;
                let mut months = Vec::new();
                while month <= last {
                    months.push((month, uow.db.month_state(&month.to_string())?));
                    month = month.next();
                }
                Ok(months)
            })
            .await
    }

    /// Mails `month`'s report to every privacy officer, once: the month is claimed and its
    /// mails queued in one unit of work, so two instances or a restart never mail it twice.
    /// False when there is no officer to mail it to, or it went before.
    pub async fn mail(&self, month: Month, report: &Report) -> Result<bool, ServiceError> {
        let rendered = Rendered {
            subject: super::texts::say(
                self.0.ctx.config.report_language,
                "report_subject",
                &[("month", &month.name(self.0.ctx.config.report_language))],
            ),
            text: self.render(report, Format::Md)?,
            html: self.render(report, Format::Html)?,
        };
        let csv = self.render(report, Format::Csv)?;
        let mailed = self
            .0
            .run(Call::system(), move |uow| {
                Ok(claim_and_mail(uow, month, &rendered, &csv)?)
            })
            .await?;
        if mailed {
            tracing::info!(month = %month, officers = self.0.ctx.config.privacy_officers.len(), "monthly report mailed");
        }
        Ok(mailed)
    }

    /// An officer's `/report [month]`: checked, and refused as input for a month that is not
    /// `YYYY-MM` or lies before 1970 or after next year.
    pub async fn for_officer(
        &self,
        officer: &Officer,
        month: Option<&str>,
        format: Format,
    ) -> Result<String, ServiceError> {
        super::requests::authorize(officer, &self.0.ctx.config)?;
        let month = month.map(|m| self.parse_month(m)).transpose()?;
        let report = self.month(month).await?;
        self.render(&report, format)
    }

    /// A month as a person typed it, within the months a report can be about: from 1970 to
    /// the end of next year.
    pub fn parse_month(&self, text: &str) -> Result<Month, UserError> {
        use chrono::Datelike;
        let month: Month = text.parse().map_err(UserError::new)?;
        let now = self
            .0
            .now()
            .with_timezone(&self.0.ctx.config.report_timezone);
        let (earliest, latest) = (Month::new(1970, 1), Month::new(now.year() + 1, 12));
        if earliest.is_some_and(|e| month < e) || latest.is_some_and(|l| month > l) {
            return Err(UserError::new(format!(
                "{} is outside the months a report can cover (1970-01 to {}-12); give a month like 2025-09.",
                crate::domain::text::shown(text),
                now.year() + 1
            )));
        }
        Ok(month)
    }

    /// Records that `month`'s report was written to `REPORTS_DIR`.
    pub async fn written(&self, month: Month) -> Result<(), ServiceError> {
        self.0
            .run(Call::system(), move |uow| {
                uow.db
                    .claim(Mark::ReportWritten, &month.to_string(), uow.now)?;
                Ok(())
            })
            .await
    }

    /// Claims posting `month`'s report to the staff channel; false when it was posted before.
    pub async fn claim_post(&self, month: Month) -> Result<bool, ServiceError> {
        self.0
            .run(Call::system(), move |uow| {
                Ok(uow
                    .db
                    .claim(Mark::ReportPosted, &month.to_string(), uow.now)?)
            })
            .await
    }
}
