//! The Confirm / Cancel buttons under a `/delete` reply. Their custom id carries the request,
//! the member who asked and when, signed with the service's key, so a press is checked
//! without any state kept in memory and a forged or altered id is refused.

use chrono::{DateTime, Duration, Utc};

use crate::{error::UserError, services::Services};

/// Buttons stop working after this long; `/delete` again shows fresh ones.
pub const BUTTON_TTL: Duration = Duration::minutes(5);
const PREFIX: &str = "dsr:del";

/// What a press on a button that is ours but cannot be used is answered.
pub fn invalid() -> UserError {
    UserError::said("buttons_invalid", &[])
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Action {
    Confirm,
    Cancel,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DeletionButton {
    pub action: Action,
    pub request_id: i64,
    pub requester: u64,
    pub issued_at: i64,
}

impl DeletionButton {
    fn payload(&self) -> String {
        let a = match self.action {
            Action::Confirm => "c",
            Action::Cancel => "x",
        };
        format!(
            "{PREFIX}:{a}:{}:{}:{}",
            self.request_id, self.requester, self.issued_at
        )
    }

    /// The custom id: the payload and its tag (at most 100 characters, Discord's limit).
    pub fn custom_id(&self, services: &Services) -> String {
        let payload = self.payload();
        let tag = services.tag(&payload);
        format!("{payload}:{tag}")
    }

    pub fn expired(&self, now: DateTime<Utc>) -> bool {
        let age = now.timestamp() - self.issued_at;
        !(0..=BUTTON_TTL.num_seconds()).contains(&age)
    }
}

/// `None` for ids that are not ours at all; `Some(Err)` for one of ours that is malformed,
/// altered or forged.
pub fn parse(custom_id: &str, services: &Services) -> Option<Result<DeletionButton, UserError>> {
    let rest = custom_id.strip_prefix(PREFIX)?;
    Some(parse_ours(rest, custom_id, services).ok_or_else(invalid))
}

fn parse_ours(rest: &str, whole: &str, services: &Services) -> Option<DeletionButton> {
    let mut parts = rest.strip_prefix(':')?.split(':');
    let action = match parts.next()? {
        "c" => Action::Confirm,
        "x" => Action::Cancel,
        _ => return None,
    };
    let b = DeletionButton {
        action,
        request_id: parts.next()?.parse().ok().filter(|id: &i64| *id > 0)?,
        requester: parts.next()?.parse().ok()?,
        issued_at: parts.next()?.parse().ok()?,
    };
    let tag = parts.next()?;
    if parts.next().is_some() || format!("{}:{tag}", b.payload()) != whole {
        return None;
    }
    services.tag_matches(&b.payload(), tag).then_some(b)
}
