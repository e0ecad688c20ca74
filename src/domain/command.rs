//! Slash-style command lines (`/optout email:me@example.org`) as typed by console users.
//! Discord builds the same `Command` values from its own typed options.

use super::email_address::{EmailAddress, MAX_LEN as MAX_EMAIL_LEN};

/// Longest line the console reads; anything longer is refused, not truncated.
pub const MAX_LINE_LEN: usize = 1_000;

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Command {
    OptOut { email: Option<EmailAddress> },
    OptIn { email: Option<EmailAddress> },
    Delete { email: Option<EmailAddress> },
    Confirm,
    Cancel,
    Verify { code: String },
    Status,
    Privacy,
    Help,
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
    BadEmail(String),
    #[error("The code is the 6 digits from the email we sent, like code:123456.")]
    BadCode,
}

impl Command {
    pub fn parse(line: &str) -> Result<Command, CommandError> {
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
            "confirm" | "cancel" | "status" | "privacy" | "help" => &[],
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
            "optout" => Command::OptOut { email },
            "optin" => Command::OptIn { email },
            "delete" => Command::Delete { email },
            "confirm" => Command::Confirm,
            "cancel" => Command::Cancel,
            "status" => Command::Status,
            "privacy" => Command::Privacy,
            "help" => Command::Help,
            "verify" => {
                let code = arg("code").ok_or(CommandError::MissingArgument {
                    command: name.clone(),
                    argument: "the code from the email",
                    example: "/verify code:123456",
                })?;
                Command::Verify {
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
    EmailAddress::parse(value).map_err(|e| CommandError::BadEmail(e.to_string()))
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
            Command::parse("/optout").unwrap(),
            Command::OptOut { email: None }
        );
        assert_eq!(
            Command::parse("/OptOut Email:Me@Example.org\n").unwrap(),
            Command::OptOut {
                email: Some(EmailAddress::parse("me@example.org").unwrap())
            }
        );
        assert_eq!(
            Command::parse("/optin").unwrap(),
            Command::OptIn { email: None }
        );
        assert_eq!(
            Command::parse("/delete").unwrap(),
            Command::Delete { email: None }
        );
        assert_eq!(Command::parse("/confirm").unwrap(), Command::Confirm);
        assert_eq!(Command::parse("/cancel").unwrap(), Command::Cancel);
        assert_eq!(Command::parse("/status").unwrap(), Command::Status);
        assert_eq!(Command::parse("/privacy").unwrap(), Command::Privacy);
        assert_eq!(Command::parse("  /help ").unwrap(), Command::Help);
        assert_eq!(
            Command::parse("/verify code:012345").unwrap(),
            Command::Verify {
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
            let err = Command::parse(line).unwrap_err();
            assert!(expected(&err), "{line:?} gave {err:?}");
            assert!(!err.to_string().is_empty());
        }
    }

    #[test]
    fn refuses_over_long_input() {
        let long_email = format!("/optout email:{}@example.org", "a".repeat(300));
        assert!(matches!(
            Command::parse(&long_email),
            Err(CommandError::ArgumentTooLong { .. })
        ));
        let long_line = format!("/status {}", "x".repeat(MAX_LINE_LEN));
        assert_eq!(Command::parse(&long_line), Err(CommandError::TooLong));
    }
}
