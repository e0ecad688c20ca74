//! An email address that has been checked once, at the edge, and is stored normalised.

use std::fmt;

/// Longest address SMTP can carry (RFC 5321 4.5.3.1.3 path limit minus the angle brackets).
pub const MAX_LEN: usize = 254;
const MAX_LOCAL_LEN: usize = 64;

#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct EmailAddress(String);

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum EmailAddressError {
    #[error("the email address is empty")]
    Empty,
    #[error("the email address is longer than {MAX_LEN} characters")]
    TooLong,
    #[error(
        "'{0}' is not an email address: it needs exactly one @ with a name before it and a domain after it, like name@example.org"
    )]
    Malformed(String),
}

impl EmailAddressError {
    /// The refusal the person reads, in their language where it is answered.
    pub fn refusal(&self) -> crate::error::UserError {
        use crate::error::UserError;
        match self {
            EmailAddressError::Empty => UserError::said("email_empty", &[]),
            EmailAddressError::TooLong => {
                UserError::said("email_too_long", &[("max", &MAX_LEN.to_string())])
            }
            EmailAddressError::Malformed(given) => {
                UserError::said("email_malformed", &[("given", given)])
            }
        }
    }
}

impl EmailAddress {
    /// Accepts the common `local@domain.tld` form (no quoted local parts, no IP literals) and
    /// lower-cases it, so one mailbox maps to one identity.
    pub fn parse(input: &str) -> Result<Self, EmailAddressError> {
        let s = input.trim();
        if s.is_empty() {
            return Err(EmailAddressError::Empty);
        }
        if s.chars().count() > MAX_LEN {
            return Err(EmailAddressError::TooLong);
        }
        let shown = || EmailAddressError::Malformed(super::text::shown(s));
        let (local, domain) = s.split_once('@').ok_or_else(shown)?;
        if local.is_empty() || local.len() > MAX_LOCAL_LEN || domain.contains('@') {
            return Err(shown());
        }
        let local_ok = local
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "!#$%&'*+-/=?^_`{|}~.".contains(c))
            && !local.starts_with('.')
            && !local.ends_with('.')
            && !local.contains("..");
        let labels: Vec<&str> = domain.split('.').collect();
        let domain_ok = labels.len() >= 2
            && labels.iter().all(|l| {
                !l.is_empty()
                    && l.len() <= 63
                    && !l.starts_with('-')
                    && !l.ends_with('-')
                    && l.chars().all(|c| c.is_ascii_alphanumeric() || c == '-')
            });
        if !local_ok || !domain_ok {
            return Err(shown());
        }
        Ok(Self(s.to_ascii_lowercase()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The mailbox a message to this address reaches: the address without its `+tag`
    /// (`victim+7@example.org` -> `victim@example.org`). Limits that protect an inbox count
    /// under it, so tags do not multiply what one inbox can be sent.
    pub fn mailbox(&self) -> String {
        let (local, domain) = self.0.split_once('@').expect("parsed address has @");
        let base = local
            .split('+')
            .next()
            .filter(|b| !b.is_empty())
            .unwrap_or(local);
        format!("{base}@{domain}")
    }

    /// `a***@example.org`: enough for a person to recognise their own address in a reply.
    pub fn masked(&self) -> String {
        let (local, domain) = self.0.split_once('@').expect("parsed address has @");
        let first: String = local.chars().take(1).collect();
        format!("{first}***@{domain}")
    }
}

impl fmt::Display for EmailAddress {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_mailbox_drops_the_tag_only() {
        let m = |a: &str| EmailAddress::parse(a).unwrap().mailbox();
        assert_eq!(m("Victim+7@Example.org"), "victim@example.org");
        assert_eq!(m("victim++x@example.org"), "victim@example.org");
        assert_eq!(m("victim@example.org"), "victim@example.org");
        assert_eq!(m("+tag@example.org"), "+tag@example.org");
        assert_eq!(m("a.b@example.org"), "a.b@example.org");
    }

    #[test]
    fn accepts_and_normalises_ordinary_addresses() {
        let e = EmailAddress::parse("  Alice.Smith+dsr@Example.ORG ").unwrap();
        assert_eq!(e.as_str(), "alice.smith+dsr@example.org");
        assert_eq!(e.masked(), "a***@example.org");
    }

    #[test]
    fn rejects_what_is_not_an_address() {
        for bad in [
            "alice",
            "@example.org",
            "alice@",
            "alice@localhost",
            "a@b@example.org",
            "al ice@example.org",
            "alice@exa_mple.org",
            "alice@-example.org",
            ".alice@example.org",
            "al..ice@example.org",
            "alice@example.org\r\nBcc: x@y.z",
        ] {
            assert!(EmailAddress::parse(bad).is_err(), "{bad:?} was accepted");
        }
    }

    #[test]
    fn rejects_over_long_addresses() {
        let long = format!("{}@example.org", "a".repeat(250));
        assert_eq!(EmailAddress::parse(&long), Err(EmailAddressError::TooLong));
        let long_local = format!("{}@example.org", "a".repeat(65));
        assert!(EmailAddress::parse(&long_local).is_err());
    }

    #[test]
    fn empty_is_its_own_error() {
        assert_eq!(EmailAddress::parse("  "), Err(EmailAddressError::Empty));
    }
}
