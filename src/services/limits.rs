//! Rate limits, so one member or one mailbox cannot flood the bot: a fixed one-minute window
//! per person and per channel, kept in memory (a restart forgets the counts, which errs on the
//! side of taking requests).

use std::{
    collections::HashMap,
    sync::{Arc, Mutex},
};

use chrono::{DateTime, Utc};

use crate::{config::Limits, domain::Channel, error::UserError};

#[derive(Default)]
struct Window {
    minute: i64,
    count: u32,
}

#[derive(Clone, Default)]
pub struct RateLimiter {
    windows: Arc<Mutex<HashMap<String, Window>>>,
}

impl RateLimiter {
    /// Counts one request by `who` on `channel` at `now`, or refuses it with `message`.
    pub fn check(
        &self,
        limits: Limits,
        who: &str,
        channel: Channel,
        now: DateTime<Utc>,
        message: &str,
    ) -> Result<(), UserError> {
        let minute = now.timestamp().div_euclid(60);
        let mut windows = self.windows.lock().expect("rate limiter lock");
        if windows.len() > 100_000 {
            windows.retain(|_, w| w.minute == minute);
        }
        let keys = [
            (format!("p:{}:{who}", channel.as_str()), limits.per_person),
            (format!("c:{}", channel.as_str()), limits.per_channel),
        ];
        for (key, limit) in &keys {
            if *limit == 0 {
                continue;
            }
            let w = windows.get(key);
            if w.is_some_and(|w| w.minute == minute && w.count >= *limit) {
                return Err(UserError::new(message));
            }
        }
        for (key, limit) in keys {
            if limit == 0 {
                continue;
            }
            let w = windows.entry(key).or_default();
            if w.minute != minute {
                *w = Window { minute, count: 0 };
            }
            w.count += 1;
        }
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
    fn a_person_is_limited_per_minute_and_others_are_not() {
        let rl = RateLimiter::default();
        let limits = Limits {
            per_person: 3,
            per_channel: 0,
        };
        let now = t("2025-09-28T10:00:05Z");
        for _ in 0..3 {
            rl.check(limits, "alice", Channel::Discord, now, "slow down")
                .unwrap();
        }
        assert_eq!(
            rl.check(limits, "alice", Channel::Discord, now, "slow down")
                .unwrap_err()
                .0,
            "slow down"
        );
        rl.check(limits, "bob", Channel::Discord, now, "slow down")
            .unwrap();
        rl.check(
            limits,
            "alice",
            Channel::Discord,
            t("2025-09-28T10:01:00Z"),
            "slow down",
        )
        .unwrap();
    }

    #[test]
    fn a_channel_is_limited_across_people() {
        let rl = RateLimiter::default();
        let limits = Limits {
            per_person: 0,
            per_channel: 2,
        };
        let now = t("2025-09-28T10:00:05Z");
        rl.check(limits, "a", Channel::Email, now, "busy").unwrap();
        rl.check(limits, "b", Channel::Email, now, "busy").unwrap();
        assert!(rl.check(limits, "c", Channel::Email, now, "busy").is_err());
        rl.check(limits, "c", Channel::Console, now, "busy")
            .unwrap();
    }
}
