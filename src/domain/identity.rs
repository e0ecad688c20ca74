//! Who is asking: a transport-neutral actor that every channel hands to the services.

use std::fmt;

/// The name a local console user runs as; the console treats it as authenticated.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConsoleUser(String);

impl ConsoleUser {
    pub fn parse(input: &str) -> Result<Self, String> {
        let ok = !input.is_empty()
            && input.len() <= 64
            && input
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || "._-".contains(c));
        if ok {
            Ok(Self(input.to_owned()))
        } else {
            Err(format!(
                "'{}' is not a usable console user name: use 1 to 64 letters, digits, '.', '_' or '-'",
                super::text::shown(input)
            ))
        }
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// A Discord user snowflake.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct DiscordId(pub u64);

impl fmt::Display for DiscordId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.0)
    }
}

/// An authenticated person acting through a channel. A plain email, whose From line anyone
/// can write, is not an actor: its requests wait for a confirming reply.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Actor {
    Console(ConsoleUser),
    Discord(DiscordId),
    /// An email address whose control was just shown by a reply carrying our token from it.
    Email(super::EmailAddress),
}

impl Actor {
    /// The identity kind and value as stored in `identities`.
    pub fn identity(&self) -> (&'static str, String) {
        match self {
            Actor::Console(u) => ("console", u.as_str().to_owned()),
            Actor::Discord(id) => ("discord", id.to_string()),
            Actor::Email(e) => ("email", e.as_str().to_owned()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn console_names_are_restricted() {
        assert!(ConsoleUser::parse("alice").is_ok());
        assert!(ConsoleUser::parse("a.b-c_9").is_ok());
        assert!(ConsoleUser::parse("").is_err());
        assert!(ConsoleUser::parse("al ice").is_err());
        assert!(ConsoleUser::parse("bob\u{7}").is_err());
        assert!(ConsoleUser::parse(&"x".repeat(65)).is_err());
    }
}
