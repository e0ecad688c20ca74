//! Request kinds, states and channels, and the words used for them in the database.

use std::{fmt, str::FromStr};

use serde::Serialize;

macro_rules! text_enum {
    ($name:ident { $($variant:ident => $text:literal),+ $(,)? }) => {
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
        #[serde(rename_all = "snake_case")]
        pub enum $name { $($variant),+ }

        impl $name {
            pub const ALL: &'static [$name] = &[$($name::$variant),+];
            pub fn as_str(self) -> &'static str {
                match self { $($name::$variant => $text),+ }
            }
        }

        impl FromStr for $name {
            type Err = String;
            fn from_str(s: &str) -> Result<Self, String> {
                match s {
                    $($text => Ok($name::$variant),)+
                    other => Err(format!(
                        "'{}' is not one of: {}",
                        crate::domain::text::shown(other),
                        [$($text),+].join(", ")
                    )),
                }
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(self.as_str())
            }
        }
    };
}

text_enum!(RequestKind {
    OptOut => "opt_out",
    OptIn => "opt_in",
    Deletion => "deletion",
    Status => "status",
});

text_enum!(RequestState {
    AwaitingConfirmation => "awaiting_confirmation",
    Confirmed => "confirmed",
    Completed => "completed",
    Cancelled => "cancelled",
    Expired => "expired",
});

text_enum!(Channel {
    Console => "console",
    Discord => "discord",
    Email => "email",
    Import => "import",
    // The service itself: the schedule and the workers. No request is ever received on it.
    System => "system",
});

/// What an imported row is recognised by when the same file is imported again.
pub fn import_key(
    received_at: chrono::DateTime<chrono::Utc>,
    kind: RequestKind,
    id_kind: &str,
    id_value: &str,
) -> String {
    format!("{}|{kind}|{id_kind}:{id_value}", received_at.to_rfc3339())
}

impl RequestKind {
    /// What people call it.
    pub fn label(self) -> &'static str {
        match self {
            RequestKind::OptOut => "opt-out",
            RequestKind::OptIn => "opt-in",
            RequestKind::Deletion => "deletion",
            RequestKind::Status => "status check",
        }
    }

    /// What people call it, with its article: "an opt-out", "a deletion".
    pub fn label_with_article(self) -> &'static str {
        match self {
            RequestKind::OptOut => "an opt-out",
            RequestKind::OptIn => "an opt-in",
            RequestKind::Deletion => "a deletion",
            RequestKind::Status => "a status check",
        }
    }

    /// The choice that cancels this one out, for opt-out and opt-in.
    pub fn opposite_choice(self) -> Option<RequestKind> {
        match self {
            RequestKind::OptOut => Some(RequestKind::OptIn),
            RequestKind::OptIn => Some(RequestKind::OptOut),
            _ => None,
        }
    }
}

impl RequestState {
    /// Open requests still need something from the person or from a privacy officer.
    pub fn is_open(self) -> bool {
        matches!(
            self,
            RequestState::AwaitingConfirmation | RequestState::Confirmed
        )
    }

    pub fn label(self) -> &'static str {
        match self {
            RequestState::AwaitingConfirmation => "awaiting your confirmation",
            RequestState::Confirmed => "confirmed",
            RequestState::Completed => "completed",
            RequestState::Cancelled => "cancelled",
            RequestState::Expired => "expired",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn words_round_trip() {
        for k in RequestKind::ALL {
            assert_eq!(k.as_str().parse::<RequestKind>().unwrap(), *k);
        }
        for s in RequestState::ALL {
            assert_eq!(s.as_str().parse::<RequestState>().unwrap(), *s);
        }
        assert!(
            "open"
                .parse::<RequestState>()
                .unwrap_err()
                .contains("awaiting_confirmation")
        );
    }
}
