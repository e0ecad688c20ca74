//! What runs on a schedule rather than on someone's command: reminders to people whose request
//! waits for them, the officers' weekly digest, the community's size, and the channel posts
//! before the policy deadline. Each is claimed in the database, so a restart or a second
//! instance never sends one twice.

use chrono::{DateTime, Datelike, Duration, Utc};

use super::{
    mail,
    shared::Shared,
    texts,
    uow::{Call, Uow},
};
use crate::store::schedule::Mark;
use crate::{config::Config, db, domain::numbers, email::DigestContext, error::ServiceError};

/// Request numbers a digest lists of each group; the counts are always whole.
const DIGEST_IDS: usize = 100;

/// The days before the policy deadline at which the announcement channel is told.
pub const ANNOUNCE_DAYS: [i64; 3] = [14, 7, 1];

/// Reminds each person whose request still waits for them, once, `REMINDER_AFTER_HOURS` after
/// it was received: by mail at the addresses it waits on (a Discord member is never sent an
/// unsolicited DM; /status and the buttons show them what waits). Returns how many mails.
pub fn remind(uow: &mut Uow<'_>) -> anyhow::Result<usize> {
    let now = uow.now;
    let Some(since) = remind_received_by(uow.config(), now) else {
        return Ok(0);
    };
    let within = Duration::hours(i64::from(uow.config().confirm_within_hours));
    let mut mails = 0;
    for req in uow.db.awaiting_unreminded(since)? {
        let expires = req.received_at + within;
        if !uow.db.mark_reminded(req.id, now)? {
            continue;
        }
        // Lapsed already: it expires on the next sweep, and a reminder would say otherwise.
        if expires <= now {
            continue;
        }
        for address in uow.db.waiting_addresses(req.id, req.person_id)? {
            let mut ctx = mail::context(uow, &req, None);
            ctx.expires = Some(uow.ctx.show_time(expires));
            mail::queue_with(uow, "reminder", &req, &address, &ctx)?;
            mails += 1;
        }
    }
    Ok(mails)
}

/// Requests received by this instant are due their reminder; `None` when reminders are off.
pub fn remind_received_by(cfg: &Config, now: DateTime<Utc>) -> Option<DateTime<Utc>> {
    let after = i64::from(cfg.officers.reminder_after_hours);
    (after > 0).then(|| now - Duration::hours(after))
}

/// The ISO week (`2026-W48`) `now` falls in, in `REPORT_TIMEZONE`, when the digest is due in
/// it: on `DIGEST_WEEKDAY` or, if nothing ran that day, any later day of the same week.
pub fn digest_week(cfg: &Config, now: DateTime<Utc>) -> Option<String> {
    let day = cfg.officers.digest_weekday?;
    let local = now.with_timezone(&cfg.report_timezone);
    if local.weekday().num_days_from_monday() < day.num_days_from_monday() {
        return None;
    }
    let week = local.iso_week();
    Some(format!("{}-W{:02}", week.year(), week.week()))
}

/// What is due within 7 days and what is overdue, as of now.
pub fn digest(uow: &Uow<'_>, week: &str) -> anyhow::Result<DigestContext> {
    let now = uow.now;
    let due = uow.db.unanswered_due_by(now + Duration::days(7))?;
    let (overdue, soon): (Vec<_>, Vec<_>) = due.into_iter().partition(|(_, at)| *at <= now);
    let ids = |v: &[(i64, DateTime<Utc>)]| v.iter().take(DIGEST_IDS).map(|(id, _)| *id).collect();
    let language = uow.config().report_language;
    Ok(DigestContext {
        organisation: uow.config().organisation_name.clone(),
        week: week.to_owned(),
        as_of: numbers::moment(language, &now.with_timezone(&uow.config().display_timezone)),
        overdue_count: overdue.len(),
        overdue: ids(&overdue),
        due_soon_count: soon.len(),
        due_soon: ids(&soon),
        stale_consumers: super::feed::stale(uow.db.sqlite()?, uow.ctx, language)?,
    })
}

/// Claims `week`'s digest mail and queues it to every officer in the same unit of work;
/// false when there is no officer or it went before.
pub fn mail_digest(uow: &mut Uow<'_>, week: &str) -> anyhow::Result<bool> {
    if uow.config().privacy_officers.is_empty()
        || !uow.db.claim(Mark::DigestMailed, week, uow.now)?
    {
        return Ok(false);
    }
    let rendered =
        uow.ctx
            .templates
            .render_in(uow.config().report_language, "digest", &digest(uow, week)?)?;
    for officer in &uow.config().privacy_officers {
        mail::queue_to_officer(uow, "digest", officer, &rendered, None)?;
    }
    Ok(true)
}

/// Claims `week`'s digest post; the Markdown to post, or `None` when it was posted before.
pub fn claim_digest_post(uow: &mut Uow<'_>, week: &str) -> anyhow::Result<Option<String>> {
    if !uow.db.claim(Mark::DigestPosted, week, uow.now)? {
        return Ok(None);
    }
    let d = digest(uow, week)?;
    let language = uow.config().report_language;
    let say = |key: &str, args: &[(&str, &str)]| texts::say(language, key, args);
    let group = |key: &str, count: usize, ids: &[i64]| {
        let mut line = say(key, &[("count", &count.to_string())]);
        if !ids.is_empty() {
            let shown: Vec<String> = ids.iter().take(40).map(|id| format!("#{id}")).collect();
            line.push_str(&format!(" ({}", shown.join(", ")));
            if count > shown.len() {
                let more = (count - shown.len()).to_string();
                line.push_str(&say("digest_and_more", &[("count", &more)]));
            }
            line.push(')');
        }
        line
    };
    let stale = if d.stale_consumers.is_empty() {
        String::new()
    } else {
        say(
            "digest_stale",
            &[("consumers", &d.stale_consumers.join("; "))],
        ) + "\n"
    };
    Ok(Some(say(
        "digest_post",
        &[
            ("week", &d.week),
            ("as_of", &d.as_of),
            (
                "overdue",
                &group("digest_overdue", d.overdue_count, &d.overdue),
            ),
            (
                "due_soon",
                &group("digest_due_soon", d.due_soon_count, &d.due_soon),
            ),
            ("stale", &stale),
        ],
    )))
}

/// Today's date (UTC), the day the community's size is kept under.
pub fn today(now: DateTime<Utc>) -> String {
    now.format("%Y-%m-%d").to_string()
}

/// The announcement due now, claimed: only the latest threshold reached is posted (after a
/// few days down, the 14-day post is not sent once the 7-day one is due). `None` when the
/// deadline has passed, no threshold is reached, or it was posted before.
pub fn claim_announcement(uow: &mut Uow<'_>) -> anyhow::Result<Option<String>> {
    let cfg = uow.config();
    let left = cfg.policy_deadline - uow.now;
    if left <= Duration::zero() {
        return Ok(None);
    }
    let reached: Vec<i64> = ANNOUNCE_DAYS
        .into_iter()
        .filter(|d| left <= Duration::days(*d))
        .collect();
    let Some(latest) = reached.iter().copied().min() else {
        return Ok(None);
    };
    let fresh = uow.db.claim_announcement(latest, uow.now)?;
    for d in reached {
        uow.db.claim_announcement(d, uow.now)?;
    }
    if !fresh {
        return Ok(None);
    }
    let days = (left.num_seconds() + 86_399) / 86_400;
    Ok(Some(format!(
        "**{policy}: {days} day{s} left to choose**\n\
         The deadline is {deadline}. If you do nothing, you count as opted in: {org} may use your data that it \
         holds outside Discord (for example your chats with its AI product) for this purpose. This bot never \
         reads your Discord messages.\n\
         To choose, use /optout or /optin here (only you see the answer), or write to {address}. /privacy \
         explains each choice; /delete asks for your data to be erased.",
        policy = cfg.policy_name,
        s = if days == 1 { "" } else { "s" },
        deadline = uow.ctx.show_time(cfg.policy_deadline),
        org = cfg.organisation_name,
        address = cfg.inbound.reply_address,
    )))
}

/// The schedule's routines, each claimed in the database so it happens once.
pub struct Routines<'a>(pub(super) &'a Shared);

impl Routines<'_> {
    /// Reminds, once, the people whose requests wait for them; returns how many mails.
    /// Runs on every round of the mail worker, so it asks a reader first and takes the writer
    /// only when someone is due a reminder.
    pub async fn send_reminders(&self) -> Result<usize, ServiceError> {
        let Some(since) = remind_received_by(&self.0.ctx.config, self.0.now()) else {
            return Ok(0);
        };
        let due = self
            .0
            .read_store(move |store, _| Ok(!store.awaiting_unreminded(since)?.is_empty()))
            .await?;
        if !due {
            return Ok(0);
        }
        self.0.run(Call::system(), |uow| Ok(remind(uow)?)).await
    }

    /// The week whose digest is due now, if one is (see `DIGEST_WEEKDAY`).
    pub fn digest_week(&self) -> Option<String> {
        digest_week(&self.0.ctx.config, self.0.now())
    }

    /// Mails `week`'s digest to the officers, once across restarts and instances.
    pub async fn mail_digest(&self, week: &str) -> Result<bool, ServiceError> {
        let week = week.to_owned();
        self.0
            .run(Call::system(), move |uow| Ok(mail_digest(uow, &week)?))
            .await
    }

    /// Claims posting `week`'s digest; the text to post, or `None` when it was posted.
    pub async fn claim_digest_post(&self, week: &str) -> Result<Option<String>, ServiceError> {
        let week = week.to_owned();
        self.0
            .run(Call::system(), move |uow| {
                Ok(claim_digest_post(uow, &week)?)
            })
            .await
    }

    /// Whether the community's size was recorded today.
    pub async fn community_size_known_today(&self) -> Result<bool, ServiceError> {
        let day = today(self.0.now());
        self.0
            .read(move |conn, _| Ok(db::routines::has_size(conn, &day)?))
            .await
    }

    /// Records today's community size; `source` is `discord` or `setting`.
    pub async fn record_community_size(
        &self,
        size: u64,
        source: &'static str,
    ) -> Result<(), ServiceError> {
        self.0
            .run(Call::system(), move |uow| {
                Ok(uow.db.record_size(uow.now.date_naive(), size, source)?)
            })
            .await
    }

    /// The announcement due before the policy deadline, claimed; `None` when none is due.
    pub async fn claim_announcement(&self) -> Result<Option<String>, ServiceError> {
        self.0
            .run(Call::system(), |uow| Ok(claim_announcement(uow)?))
            .await
    }
}
