//! Limits, so one member or one mailbox cannot flood the bot or, through it, someone else.
//!
//! Limits that protect people (code mails to an address, guesses at its codes, requests per
//! person per hour, calls per person per minute) are counted in the database, inside the unit
//! of work they guard, so they hold across processes, restarts and one-shot runs
//! (`ingest-mail`, the console). The limit per channel protects this process only, from a
//! burst larger than it can take; it is kept in memory.

use std::{
    collections::HashMap,
    sync::{Arc, Mutex},
};

use chrono::{DateTime, Duration, Utc};

use super::uow::Uow;
use crate::{domain::Channel, error::ServiceError, error::UserError};

/// A limit counted in the database.
#[derive(Debug, Clone, Copy)]
pub enum Kind {
    /// Calls by one person or sender, per minute.
    PerMinute,
    /// New requests by one person or sender, per hour.
    RequestsPerHour,
    /// Code mails to one inbox (an address without its +tag), per day, whoever asked.
    CodeMails,
    /// Wrong codes one asker entered for one address, per day, over all its codes.
    CodeTries,
}

impl Kind {
    fn scope(self) -> &'static str {
        match self {
            Kind::PerMinute => "per-minute",
            Kind::RequestsPerHour => "requests-per-hour",
            Kind::CodeMails => "code-mails",
            Kind::CodeTries => "code-tries",
        }
    }

    fn window(self) -> Duration {
        match self {
            Kind::PerMinute => Duration::minutes(1),
            Kind::RequestsPerHour => Duration::hours(1),
            Kind::CodeMails | Kind::CodeTries => Duration::days(1),
        }
    }

    /// The limit, and what the person is told at it: the operator's own words when they
    /// set some (in every language), else ours in the person's.
    fn max_and_message(self, uow: &Uow<'_>) -> (u32, UserError) {
        let (l, m) = (uow.config().limits, &uow.config().limit_messages);
        let (max, own, key) = match self {
            Kind::PerMinute => (l.per_person, &m.per_person, "limit_per_person"),
            Kind::RequestsPerHour => (
                l.requests_per_hour,
                &m.requests_per_hour,
                "limit_requests_per_hour",
            ),
            Kind::CodeMails => (
                l.code_mails_per_day,
                &m.code_mails_per_day,
                "limit_code_mails",
            ),
            Kind::CodeTries => (
                l.code_tries_per_day,
                &m.code_tries_per_day,
                "limit_code_tries",
            ),
        };
        let message = match own {
            Some(text) => UserError::new(text.clone()),
            None => UserError::said(key, &[]),
        };
        (max, message)
    }
}

/// What limits count an actor's calls under.
pub fn subject(actor: &crate::domain::Actor) -> String {
    let (kind, value) = actor.identity();
    format!("{kind}:{value}")
}

/// What code mails are counted under: the inbox they reach, whoever asks.
pub fn inbox(email: &crate::domain::EmailAddress) -> String {
    format!("inbox:{}", email.mailbox())
}

/// What wrong codes are counted under: who guesses, for which address. A stranger's guesses
/// at an address never use up its owner's tries.
pub fn guesses(actor: &crate::domain::Actor, email: &str) -> String {
    format!("{}|address:{email}", subject(actor))
}

/// The keyed hash a limit counts `subject` (an identity, a sender) under.
fn key(uow: &Uow<'_>, subject: &str) -> String {
    uow.ctx.keys.identity_hash("limit", subject)
}

/// Refuses when `subject` already reached the limit within its window; 0 is no limit.
pub fn check(uow: &Uow<'_>, kind: Kind, subject: &str) -> Result<(), ServiceError> {
    let (max, message) = kind.max_and_message(uow);
    if max == 0 {
        return Ok(());
    }
    let since = uow.now - kind.window();
    let n = uow
        .db
        .count_since(kind.scope(), &key(uow, subject), since)?;
    if n >= i64::from(max) {
        return Err(message.into());
    }
    Ok(())
}

/// Counts one event towards the limit (written with the unit of work it belongs to).
pub fn count(uow: &Uow<'_>, kind: Kind, subject: &str) -> Result<(), ServiceError> {
    if kind.max_and_message(uow).0 == 0 {
        return Ok(());
    }
    uow.db.record(kind.scope(), &key(uow, subject), uow.now)?;
    Ok(())
}

/// [`check`], then [`count`].
pub fn take(uow: &Uow<'_>, kind: Kind, subject: &str) -> Result<(), ServiceError> {
    check(uow, kind, subject)?;
    count(uow, kind, subject)
}

#[derive(Default)]
struct Window {
    minute: i64,
    count: u32,
}

/// The limit per channel, per minute, in this process.
#[derive(Clone, Default)]
pub struct ChannelLimiter {
    windows: Arc<Mutex<HashMap<Channel, Window>>>,
}

impl ChannelLimiter {
    /// Counts one call on `channel` at `now`, or refuses it with `message` (ours, in the
    /// person's language, when `None`); 0 is no limit.
    pub fn check(
        &self,
        limit: u32,
        channel: Channel,
        now: DateTime<Utc>,
        message: Option<&str>,
    ) -> Result<(), UserError> {
        if limit == 0 {
            return Ok(());
        }
        let minute = now.timestamp().div_euclid(60);
        let mut windows = self
            .windows
            .lock()
            .expect("the limiter lock is never poisoned");
        let w = windows.entry(channel).or_default();
        if w.minute != minute {
            *w = Window { minute, count: 0 };
        }
        if w.count >= limit {
            return Err(
                message.map_or_else(|| UserError::said("limit_per_person", &[]), UserError::new)
            );
        }
        w.count += 1;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t(s: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(s).unwrap().with_timezone(&Utc)
    }

    #[test]
    fn a_channel_is_limited_per_minute_and_others_are_not() {
        let rl = ChannelLimiter::default();
        let now = t("2025-09-28T10:00:05Z");
        rl.check(2, Channel::Email, now, Some("busy")).unwrap();
        rl.check(2, Channel::Email, now, Some("busy")).unwrap();
        assert!(rl.check(2, Channel::Email, now, Some("busy")).is_err());
        rl.check(2, Channel::Console, now, Some("busy")).unwrap();
        rl.check(2, Channel::Email, t("2025-09-28T10:01:00Z"), Some("busy"))
            .unwrap();
    }
}
