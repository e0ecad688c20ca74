//! The commands people give, one model for every channel: a member's ([`MemberCommand`]) and a
//! privacy officer's ([`OfficerCommand`]). The console parses them from slash-style lines
//! (`/optout email:me@example.org`); Discord builds the same values from its typed options
//! and buttons; the command line builds the officer's from its arguments.

use super::email_address::EmailAddressError;
use super::email_address::{EmailAddress, MAX_LEN as MAX_EMAIL_LEN};
use super::language::Language;
use super::request::RequestState;
use crate::error::UserError;

/// Longest line the console reads; anything longer is refused, not truncated.
pub const MAX_LINE_LEN: usize = 1_000;

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum MemberCommand {
    OptOut {
        email: Option<EmailAddress>,
    },
    OptIn {
        email: Option<EmailAddress>,
    },
    Delete {
        email: Option<EmailAddress>,
    },
    Confirm,
    Cancel,
    /// One request only (the Cancel button under a deletion).
    CancelRequest {
        request_id: i64,
    },
    Verify {
        code: String,
    },
    Status,
    /// With a language: the person is answered in it from now on.
    Privacy {
        language: Option<Language>,
    },
    Help,
}

/// What a privacy officer asks for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum OfficerCommand {
    /// Open requests (or those in `state`), oldest due first.
    Requests {
        state: Option<RequestState>,
    },
    Show {
        request_id: i64,
    },
    Complete {
        request_id: i64,
    },
    Extend {
        request_id: i64,
        days: i64,
        reason: String,
    },
    Note {
        request_id: i64,
        text: String,
    },
    /// The monthly summary (default: the last complete month).
    Report {
        month: Option<String>,
    },
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CommandError {
    #[error("Commands start with '/'. Type /help to see them.")]
    NotACommand,
    #[error("The line is longer than {MAX_LINE_LEN} characters. Send a shorter command.")]
    TooLong,
    #[error("The line contains control characters. Type the command as plain text.")]
    ControlCharacters,
    #[error("'/{0}' is not a command. Type /help to see the commands.")]
    Unknown(String),
    #[error("/{command} does not take '{argument}'. Type /help to see what it takes.")]
    UnexpectedArgument { command: String, argument: String },
    #[error("'{0}' is given twice. Give each argument once.")]
    RepeatedArgument(String),
    #[error("'{0}' is not of the form name:value, like email:me@example.org.")]
    MalformedArgument(String),
    #[error("/{command} needs {argument}, like {example}.")]
    MissingArgument {
        command: String,
        argument: &'static str,
        example: &'static str,
    },
    #[error("The {argument} is longer than {max} characters.")]
    ArgumentTooLong { argument: &'static str, max: usize },
    #[error("That email address cannot be used: {0}.")]
    BadEmail(EmailAddressError),
    #[error("The code is the 6 digits from the email we sent, like code:123456.")]
    BadCode,
    #[error("'{0}' is not a language we answer in.")]
    UnknownLanguage(String),
}

impl CommandError {
    /// The refusal the person reads, in their language where it is answered.
    pub fn refusal(&self) -> UserError {
        let max_line = MAX_LINE_LEN.to_string();
        match self {
            CommandError::NotACommand => UserError::said("cmd_not_a_command", &[]),
            CommandError::TooLong => UserError::said("cmd_too_long", &[("max", &max_line)]),
            CommandError::ControlCharacters => UserError::said("cmd_control_characters", &[]),
            CommandError::Unknown(c) => UserError::said("cmd_unknown", &[("command", c)]),
            CommandError::UnexpectedArgument { command, argument } => UserError::said(
                "cmd_unexpected_argument",
                &[("command", command), ("argument", argument)],
            ),
            CommandError::RepeatedArgument(a) => {
                UserError::said("cmd_repeated_argument", &[("argument", a)])
            }
            CommandError::MalformedArgument(a) => {
                UserError::said("cmd_malformed_argument", &[("argument", a)])
            }
            CommandError::MissingArgument { .. } => UserError::said("cmd_missing_code", &[]),
            CommandError::ArgumentTooLong { max, .. } => {
                UserError::said("email_too_long", &[("max", &max.to_string())])
            }
            CommandError::BadEmail(e) => e.refusal(),
            CommandError::BadCode => UserError::said("cmd_bad_code", &[]),
            CommandError::UnknownLanguage(given) => {
                let list: Vec<&str> = Language::ALL.iter().map(|l| l.as_str()).collect();
                UserError::said(
                    "language_unknown",
                    &[("given", given), ("list", &list.join(", "))],
                )
            }
        }
    }
}

impl MemberCommand {
    pub fn parse(line: &str) -> Result<MemberCommand, CommandError> {
        let line = line.trim_end_matches(['\r', '\n']);
        if line.chars().count() > MAX_LINE_LEN {
            return Err(CommandError::TooLong);
        }
        if line.chars().any(|c| c.is_control() && c != '\t') {
            return Err(CommandError::ControlCharacters);
        }
        let mut words = line.split_whitespace();
        let name = words
            .next()
            .and_then(|w| w.strip_prefix('/'))
            .ok_or(CommandError::NotACommand)?
            .to_ascii_lowercase();
        let mut args: Vec<(String, String)> = Vec::new();
        for word in words {
            let (k, v) = word
                .split_once(':')
                .filter(|(k, _)| !k.is_empty())
                .ok_or_else(|| CommandError::MalformedArgument(shorten(word)))?;
            let k = k.to_ascii_lowercase();
            if args.iter().any(|(seen, _)| *seen == k) {
                return Err(CommandError::RepeatedArgument(shorten(&k)));
            }
            args.push((k, v.to_owned()));
        }
        let allowed: &[&str] = match name.as_str() {
            "optout" | "optin" | "delete" => &["email"],
            "verify" => &["code"],
            "privacy" => &["language"],
            "confirm" | "cancel" | "status" | "help" => &[],
            _ => return Err(CommandError::Unknown(shorten(&name))),
        };
        if let Some((k, _)) = args.iter().find(|(k, _)| !allowed.contains(&k.as_str())) {
            return Err(CommandError::UnexpectedArgument {
                command: name,
                argument: shorten(k),
            });
        }
        let arg = |k: &str| args.iter().find(|(n, _)| n == k).map(|(_, v)| v.as_str());
        let email = arg("email").map(parse_email).transpose()?;
        Ok(match name.as_str() {
            "optout" => MemberCommand::OptOut { email },
            "optin" => MemberCommand::OptIn { email },
            "delete" => MemberCommand::Delete { email },
            "confirm" => MemberCommand::Confirm,
            "cancel" => MemberCommand::Cancel,
            "status" => MemberCommand::Status,
            "privacy" => MemberCommand::Privacy {
                language: arg("language").map(parse_language).transpose()?,
            },
            "help" => MemberCommand::Help,
            "verify" => {
                let code = arg("code").ok_or(CommandError::MissingArgument {
                    command: name.clone(),
                    argument: "the code from the email",
                    example: "/verify code:123456",
                })?;
                MemberCommand::Verify {
                    code: parse_code(code)?,
                }
            }
            _ => unreachable!("names are checked above"),
        })
    }
}

pub fn parse_email(value: &str) -> Result<EmailAddress, CommandError> {
    if value.chars().count() > MAX_EMAIL_LEN {
        return Err(CommandError::ArgumentTooLong {
            argument: "email address",
            max: MAX_EMAIL_LEN,
        });
    }
    EmailAddress::parse(value).map_err(CommandError::BadEmail)
}

/// A language the person names (`de`, `pt-BR`, `es-419`), among those the bot answers in.
pub fn parse_language(value: &str) -> Result<Language, CommandError> {
    Language::named(value).ok_or_else(|| CommandError::UnknownLanguage(shorten(value)))
}

pub fn parse_code(value: &str) -> Result<String, CommandError> {
    let v = value.trim();
    if v.len() == 6 && v.bytes().all(|b| b.is_ascii_digit()) {
        Ok(v.to_owned())
    } else {
        Err(CommandError::BadCode)
    }
}

/// What the person typed, echoed back safely (see [`super::text::shown`]).
pub fn shorten(s: &str) -> String {
    super::text::shown(s)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_every_command() {
        assert_eq!(
            MemberCommand::parse("/optout").unwrap(),
            MemberCommand::OptOut { email: None }
        );
        assert_eq!(
            MemberCommand::parse("/OptOut Email:Me@Example.org\n").unwrap(),
            MemberCommand::OptOut {
                email: Some(EmailAddress::parse("me@example.org").unwrap())
            }
        );
        assert_eq!(
            MemberCommand::parse("/optin").unwrap(),
            MemberCommand::OptIn { email: None }
        );
        assert_eq!(
            MemberCommand::parse("/delete").unwrap(),
            MemberCommand::Delete { email: None }
        );
        assert_eq!(
            MemberCommand::parse("/confirm").unwrap(),
            MemberCommand::Confirm
        );
        assert_eq!(
            MemberCommand::parse("/cancel").unwrap(),
            MemberCommand::Cancel
        );
        assert_eq!(
            MemberCommand::parse("/status").unwrap(),
            MemberCommand::Status
        );
        assert_eq!(
            MemberCommand::parse("/privacy").unwrap(),
            MemberCommand::Privacy { language: None }
        );
        assert_eq!(
            MemberCommand::parse("/privacy language:pt-br").unwrap(),
            MemberCommand::Privacy {
                language: Some(Language::PtBr)
            }
        );
        assert_eq!(
            MemberCommand::parse("/privacy language:klingon"),
            Err(CommandError::UnknownLanguage("klingon".into()))
        );
        assert_eq!(
            MemberCommand::parse("  /help ").unwrap(),
            MemberCommand::Help
        );
        assert_eq!(
            MemberCommand::parse("/verify code:012345").unwrap(),
            MemberCommand::Verify {
                code: "012345".into()
            }
        );
    }

    #[test]
    fn refuses_bad_lines_with_a_reason() {
        use CommandError::*;
        type Expect = fn(&CommandError) -> bool;
        let cases: &[(&str, Expect)] = &[
            ("optout", |e| matches!(e, NotACommand)),
            (
                "/frobnicate",
                |e| matches!(e, Unknown(n) if n == "frobnicate"),
            ),
            ("/optout name:x", |e| matches!(e, UnexpectedArgument { .. })),
            ("/optout me@example.org", |e| {
                matches!(e, MalformedArgument(_))
            }),
            ("/optout email", |e| matches!(e, MalformedArgument(_))),
            ("/optout email:a@b.org email:c@d.org", |e| {
                matches!(e, RepeatedArgument(_))
            }),
            ("/optout email:not-an-address", |e| matches!(e, BadEmail(_))),
            ("/verify", |e| matches!(e, MissingArgument { .. })),
            ("/verify code:12345", |e| matches!(e, BadCode)),
            ("/verify code:12345a", |e| matches!(e, BadCode)),
            ("/status\u{1b}[2J", |e| matches!(e, ControlCharacters)),
            ("/status\0", |e| matches!(e, ControlCharacters)),
        ];
        for (line, expected) in cases {
            let err = MemberCommand::parse(line).unwrap_err();
            assert!(expected(&err), "{line:?} gave {err:?}");
            assert!(!err.to_string().is_empty());
        }
    }

    #[test]
    fn refuses_over_long_input() {
        let long_email = format!("/optout email:{}@example.org", "a".repeat(300));
        assert!(matches!(
            MemberCommand::parse(&long_email),
            Err(CommandError::ArgumentTooLong { .. })
        ));
        let long_line = format!("/status {}", "x".repeat(MAX_LINE_LEN));
        assert_eq!(MemberCommand::parse(&long_line), Err(CommandError::TooLong));
    }
}
