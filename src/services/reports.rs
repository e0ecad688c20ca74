//! Monthly reports for privacy officers: on demand, and sent once a month.

use anyhow::Context;

use super::Services;
use crate::{
    db::{self, outbox::NewMail},
    email::{Rendered, message::new_message_id},
    error::ServiceError,
    reports::{self, Month, Report, render::Format},
};

impl Services {
    /// The report for `month` (default: the last complete month in `REPORT_TIMEZONE`).
    pub async fn monthly_report(&self, month: Option<Month>) -> Result<Report, ServiceError> {
        let tz = self.config().report_timezone;
        let month = month.unwrap_or_else(|| Month::last_complete(self.now(), tz));
        Ok(reports::gather::report(&self.config().database_path, month, tz).await?)
    }

    pub fn render_report(&self, report: &Report, format: Format) -> Result<String, ServiceError> {
        Ok(reports::render::render(
            report,
            format,
            &self.config().policy_name,
        )?)
    }

    /// Sends every complete month's report that has not been sent, oldest first: the month is
    /// claimed and its mails queued in one transaction, so two instances, a restart or a late
    /// start neither send a month twice nor skip one. Returns the months sent now.
    pub async fn send_due_reports(&self) -> Result<Vec<Month>, ServiceError> {
        let tz = self.config().report_timezone;
        let last = Month::last_complete(self.now(), tz);
        let since = {
            let mut conn = self.pool().acquire().await.map_err(anyhow::Error::from)?;
            db::settings::get_or_insert(&mut conn, "reports_since", &last.to_string()).await?
        };
        let mut month: Month = since
            .parse()
            .map_err(|e: String| anyhow::anyhow!("settings.reports_since: {e}"))?;
        let mut sent = Vec::new();
        while month <= last {
            if self.send_report(month).await? {
                sent.push(month);
            }
            month = month.next();
        }
        Ok(sent)
    }

    async fn send_report(&self, month: Month) -> Result<bool, ServiceError> {
        let now = self.now();
        let already: Option<i64> = sqlx::query_scalar("SELECT 1 FROM report_runs WHERE month = ?")
            .bind(month.to_string())
            .fetch_optional(self.pool())
            .await
            .map_err(anyhow::Error::from)?;
        if already.is_some() {
            return Ok(false);
        }
        // Read before the write transaction starts, so the writers are not held up by it.
        let report = self.monthly_report(Some(month)).await?;
        let mut tx = db::begin_write(self.pool()).await?;
        let claimed = sqlx::query(
            "INSERT INTO report_runs (month, sent_at) VALUES (?, ?) ON CONFLICT DO NOTHING",
        )
        .bind(month.to_string())
        .bind(now)
        .execute(&mut *tx)
        .await?
        .rows_affected()
            == 1;
        if !claimed {
            return Ok(false);
        }
        let rendered = Rendered {
            subject: format!("Privacy requests report, {month}"),
            text: self.render_report(&report, Format::Md)?,
            html: self.render_report(&report, Format::Html)?,
        };
        let csv = self.render_report(&report, Format::Csv)?;
        let name = format!("privacy-report-{month}.csv");
        for officer in &self.config().privacy_officers {
            let message_id = new_message_id(&self.config().mail_from);
            let mail = NewMail {
                message_id: &message_id,
                person_id: None,
                request_id: None,
                template: "monthly_report",
                recipient: officer.as_str(),
                subject: &rendered.subject,
                body_text: &rendered.text,
                body_html: &rendered.html,
                scrub_after_send: false,
                reply_token: None,
                in_reply_to: None,
                attachment: Some((&name, &csv)),
            };
            db::outbox::insert(&mut tx, &mail, now)
                .await
                .context("queueing the monthly report")?;
        }
        tx.commit().await?;
        self.mail_ready().notify_one();
        tracing::info!(month = %month, officers = self.config().privacy_officers.len(), "monthly report sent");
        Ok(true)
    }

    /// Reports sent by mail but not yet posted to the staff channel, oldest first.
    pub async fn reports_to_post(&self) -> Result<Vec<Month>, ServiceError> {
        let mut conn = self.pool().acquire().await.map_err(anyhow::Error::from)?;
        let months: Vec<String> = sqlx::query_scalar(
            "SELECT month FROM report_runs WHERE posted_at IS NULL ORDER BY month",
        )
        .fetch_all(&mut *conn)
        .await?;
        Ok(months.iter().filter_map(|m| m.parse().ok()).collect())
    }

    pub async fn mark_report_posted(&self, month: Month) -> Result<(), ServiceError> {
        let mut tx = db::begin_write(self.pool()).await?;
        sqlx::query("UPDATE report_runs SET posted_at = ? WHERE month = ?")
            .bind(self.now())
            .bind(month.to_string())
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        Ok(())
    }
}
