//! The Confirm / Cancel buttons under a `/delete` reply. Their custom id carries the request,
//! the member who asked and when, so a press is checked without any state kept in memory.

use chrono::{DateTime, Duration, Utc};

/// Buttons stop working after this long; `/delete` again shows fresh ones.
pub const BUTTON_TTL: Duration = Duration::minutes(5);
const PREFIX: &str = "dsr:del";

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
    pub fn custom_id(&self) -> String {
        let a = match self.action {
            Action::Confirm => "c",
            Action::Cancel => "x",
        };
        format!(
            "{PREFIX}:{a}:{}:{}:{}",
            self.request_id, self.requester, self.issued_at
        )
    }

    /// `None` for ids that are not ours.
    pub fn parse(custom_id: &str) -> Option<DeletionButton> {
        let rest = custom_id.strip_prefix(PREFIX)?.strip_prefix(':')?;
        let mut parts = rest.split(':');
        let action = match parts.next()? {
            "c" => Action::Confirm,
            "x" => Action::Cancel,
            _ => return None,
        };
        let b = DeletionButton {
            action,
            request_id: parts.next()?.parse().ok()?,
            requester: parts.next()?.parse().ok()?,
            issued_at: parts.next()?.parse().ok()?,
        };
        parts.next().is_none().then_some(b)
    }

    pub fn expired(&self, now: DateTime<Utc>) -> bool {
        now.timestamp() - self.issued_at > BUTTON_TTL.num_seconds()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn custom_ids_round_trip_and_fit_discords_limit() {
        let b = DeletionButton {
            action: Action::Cancel,
            request_id: 9_007_199_254_740_991,
            requester: u64::MAX,
            issued_at: 1_764_000_000,
        };
        let id = b.custom_id();
        assert!(id.len() <= 100, "Discord caps custom ids at 100 characters");
        assert_eq!(DeletionButton::parse(&id), Some(b));
        assert_eq!(DeletionButton::parse("dsr:del:z:1:2:3"), None);
        assert_eq!(DeletionButton::parse("dsr:del:c:1:2:3:4"), None);
        assert_eq!(DeletionButton::parse("other"), None);
    }
}
