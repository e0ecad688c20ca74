//! Typed settings read from the environment (and an optional `.env`), each one documented in
//! `.env.example`. A bad value stops start-up with one line naming the key and the problem.

use std::{path::PathBuf, str::FromStr};

use chrono::{DateTime, Utc};
use chrono_tz::Tz;
use lettre::message::Mailbox;

use crate::domain::EmailAddress;

mod discord;
mod imap;

pub use discord::ShardRange;
pub use imap::ImapTarget;

/// Rate limits per minute; 0 turns one off.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// Requests one person may make per minute.
    pub per_person: u32,
    /// Requests one channel (console, discord, email) takes per minute.
    pub per_channel: u32,
}

#[derive(Debug, Clone)]
pub struct Config {
    pub database_path: PathBuf,
    /// `full` makes every acknowledged request survive a power cut; `normal` only a crash.
    pub sqlite_synchronous: String,
    /// A cap on the database size in pages (SQLite's max_page_count); writes past it are
    /// refused as if the disk were full.
    pub sqlite_max_pages: Option<u32>,
    /// How long a statement waits for a lock held by another connection before giving up.
    pub sqlite_busy_timeout_ms: u32,
    pub policy_name: String,
    pub organisation_name: String,
    /// How long data is kept for people who opted in, and for those who opted out.
    pub retention_opted_in: String,
    pub retention_opted_out: String,
    pub policy_deadline: DateTime<Utc>,
    pub response_days: u32,
    pub display_timezone: Tz,
    pub mail_from: Mailbox,
    pub smtp_url: Option<String>,
    pub outbox_dir: PathBuf,
    pub privacy_officers: Vec<EmailAddress>,
    /// Key for codes and for the hashes kept after an erasure; generated and stored in the
    /// database when unset.
    pub hash_key: Option<Vec<u8>>,
    pub code_ttl_minutes: u32,
    pub confirm_within_hours: u32,
    pub mail_poll_seconds: u64,
    /// How long a claimed mail is left to the worker sending it before another may retry it.
    pub mail_lease_seconds: i64,
    /// How many mails are handed to the SMTP server at once.
    pub mail_concurrency: usize,
    pub discord: DiscordConfig,
    pub inbound: InboundConfig,
    /// Months of the monthly report are taken in this zone.
    pub report_timezone: Tz,
    pub limits: Limits,
    /// What a person is told when a limit stops them.
    pub rate_limit_message: String,
}

#[derive(Debug, Clone)]
pub struct InboundConfig {
    /// The privacy mailbox people write to; replies come to `local+TOKEN@domain`.
    pub reply_address: EmailAddress,
    /// `imap://user:pass@host:port/MAILBOX` (loopback only) or `imaps://...`; unset: no polling.
    pub imap_url: Option<Secret>,
    pub imap_poll_seconds: u64,
    /// Processed messages are flagged (and kept) unless this is set.
    pub imap_delete_processed: bool,
    /// Larger messages are not read; they are kept for a person to look at.
    pub max_message_bytes: usize,
}

#[derive(Debug, Clone, Default)]
pub struct DiscordConfig {
    /// Unset: no Discord connection; `dsr-bot run` uses the console instead.
    pub token: Option<Secret>,
    /// Register commands in this guild only (instant, for testing); unset: globally.
    pub guild_id: Option<u64>,
    /// Members with this role may use the privacy-officer commands.
    pub officer_role_id: Option<u64>,
    /// The staff channel the monthly report is posted to.
    pub report_channel_id: Option<u64>,
    /// Every REST call goes to this base URL instead of Discord's (a rate-limit proxy, which
    /// then owns rate limiting); unset: Discord.
    pub api_url: Option<String>,
    /// The gateway is reached here instead of where Discord's `GET /gateway` points.
    pub gateway_url: Option<String>,
    /// The shards this process runs; unset: as many as Discord recommends, all here.
    pub shards: Option<ShardRange>,
}

/// A value that never appears in logs or debug output.
#[derive(Clone)]
pub struct Secret(pub String);

impl std::fmt::Debug for Secret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Secret(..)")
    }
}

#[derive(Debug, thiserror::Error)]
#[error("configuration: {key}: {problem}")]
pub struct ConfigError {
    pub key: &'static str,
    pub problem: String,
}

impl Config {
    /// Reads the process environment, after loading `.env` from the working folder if present.
    pub fn from_env() -> Result<Config, ConfigError> {
        if let Err(e) = dotenvy::dotenv()
            && !e.not_found()
        {
            return Err(ConfigError {
                key: ".env",
                problem: e.to_string(),
            });
        }
        Self::from_lookup(|k| std::env::var(k).ok())
    }

    /// Builds settings from any key lookup; empty values count as unset.
    pub fn from_lookup(get: impl Fn(&str) -> Option<String>) -> Result<Config, ConfigError> {
        let get = |k: &str| {
            get(k)
                .map(|v| v.trim().to_owned())
                .filter(|v| !v.is_empty())
        };
        let text = |k: &'static str, default: &str| get(k).unwrap_or_else(|| default.to_owned());
        let parsed = |k: &'static str, default: &str| -> Result<u32, ConfigError> {
            let raw = text(k, default);
            raw.parse::<u32>()
                .ok()
                .filter(|n| *n > 0)
                .ok_or_else(|| ConfigError {
                    key: k,
                    problem: format!("'{raw}' is not a whole number above 0"),
                })
        };

        let deadline_raw = text("POLICY_DEADLINE", "2025-09-28T23:59:59Z");
        let policy_deadline = DateTime::parse_from_rfc3339(&deadline_raw)
            .map(|d| d.with_timezone(&Utc))
            .map_err(|e| ConfigError {
                key: "POLICY_DEADLINE",
                problem: format!(
                    "'{deadline_raw}' is not an RFC 3339 instant like 2025-09-28T23:59:59Z ({e})"
                ),
            })?;

        let tz_raw = text("DISPLAY_TIMEZONE", "UTC");
        let display_timezone = Tz::from_str(&tz_raw).map_err(|_| ConfigError {
            key: "DISPLAY_TIMEZONE",
            problem: format!("'{tz_raw}' is not an IANA time zone name like Europe/Berlin or UTC"),
        })?;

        let from_raw = text("MAIL_FROM", "dsr-bot <privacy@example.org>");
        let mail_from = from_raw.parse::<Mailbox>().map_err(|e| ConfigError {
            key: "MAIL_FROM",
            problem: format!(
                "'{from_raw}' is not a mailbox like 'Privacy team <privacy@example.org>' ({e})"
            ),
        })?;

        let smtp_url = get("SMTP_URL");
        if let Some(url) = &smtp_url
            && !(url.starts_with("smtp://") || url.starts_with("smtps://"))
        {
            return Err(ConfigError {
                key: "SMTP_URL",
                problem: "must start with smtp:// or smtps:// (leave it unset to write mail into OUTBOX_DIR)"
                    .into(),
            });
        }

        let privacy_officers = get("PRIVACY_OFFICERS")
            .map(|list| {
                list.split(',')
                    .map(|a| {
                        EmailAddress::parse(a).map_err(|e| ConfigError {
                            key: "PRIVACY_OFFICERS",
                            problem: e.to_string(),
                        })
                    })
                    .collect::<Result<Vec<_>, _>>()
            })
            .transpose()?
            .unwrap_or_default();

        let hash_key = get("HASH_KEY")
            .map(|hex_key| {
                hex::decode(&hex_key).ok().filter(|k| k.len() >= 32).ok_or(ConfigError {
                    key: "HASH_KEY",
                    problem: "must be at least 32 bytes written as hex (64 hex digits); `openssl rand -hex 32` makes one"
                        .into(),
                })
            })
            .transpose()?;

        let sqlite_synchronous = text("SQLITE_SYNCHRONOUS", "full").to_ascii_lowercase();
        if !matches!(sqlite_synchronous.as_str(), "full" | "normal") {
            return Err(ConfigError {
                key: "SQLITE_SYNCHRONOUS",
                problem: "must be full or normal".into(),
            });
        }

        let snowflake = |k: &'static str| -> Result<Option<u64>, ConfigError> {
            get(k)
                .map(|raw| {
                    raw.parse::<u64>().ok().filter(|n| *n > 0).ok_or_else(|| ConfigError {
                        key: k,
                        problem: format!("'{raw}' is not a Discord id (a number, from Developer Mode's Copy ID)"),
                    })
                })
                .transpose()
        };
        let checked = |k: &'static str, f: &dyn Fn(&str) -> Result<String, String>| {
            get(k)
                .map(|raw| f(&raw).map_err(|problem| ConfigError { key: k, problem }))
                .transpose()
        };
        let discord = DiscordConfig {
            token: get("DISCORD_TOKEN").map(Secret),
            guild_id: snowflake("DISCORD_GUILD_ID")?,
            officer_role_id: snowflake("PRIVACY_OFFICER_ROLE_ID")?,
            report_channel_id: snowflake("REPORT_CHANNEL_ID")?,
            api_url: checked("DISCORD_API_URL", &|r| {
                discord::endpoint(r, "https", "http")
            })?,
            gateway_url: checked("DISCORD_GATEWAY_URL", &|r| {
                discord::endpoint(r, "wss", "ws")
            })?,
            shards: get("DISCORD_SHARDS")
                .map(|raw| {
                    ShardRange::parse(&raw).map_err(|problem| ConfigError {
                        key: "DISCORD_SHARDS",
                        problem,
                    })
                })
                .transpose()?,
        };
        let report_tz_raw = text("REPORT_TIMEZONE", &tz_raw);
        let report_timezone = Tz::from_str(&report_tz_raw).map_err(|_| ConfigError {
            key: "REPORT_TIMEZONE",
            problem: format!(
                "'{report_tz_raw}' is not an IANA time zone name like Europe/Berlin or UTC"
            ),
        })?;

        let reply_raw = get("REPLY_ADDRESS").unwrap_or_else(|| mail_from.email.to_string());
        let reply_address = EmailAddress::parse(&reply_raw).map_err(|e| ConfigError {
            key: "REPLY_ADDRESS",
            problem: e.to_string(),
        })?;
        let imap_url = get("IMAP_URL");
        if let Some(url) = &imap_url {
            ImapTarget::parse(url).map_err(|problem| ConfigError {
                key: "IMAP_URL",
                problem,
            })?;
        }
        if get("HELD_DIR").is_some() {
            return Err(ConfigError {
                key: "HELD_DIR",
                problem: "is no longer used: unreadable mail is kept in the database (`dsr-bot held list`); remove the setting"
                    .into(),
            });
        }
        let delete_raw = text("IMAP_DELETE_PROCESSED", "false");
        let imap_delete_processed = match delete_raw.to_ascii_lowercase().as_str() {
            "true" | "yes" | "1" => true,
            "false" | "no" | "0" => false,
            _ => {
                return Err(ConfigError {
                    key: "IMAP_DELETE_PROCESSED",
                    problem: format!("'{delete_raw}' is not true or false"),
                });
            }
        };
        let inbound = InboundConfig {
            reply_address,
            imap_url: imap_url.map(Secret),
            imap_poll_seconds: u64::from(parsed("IMAP_POLL_SECONDS", "60")?),
            imap_delete_processed,
            max_message_bytes: parsed("MAX_INBOUND_BYTES", "10485760")? as usize,
        };

        let whole = |k: &'static str, default: &str| -> Result<u32, ConfigError> {
            let raw = text(k, default);
            raw.parse::<u32>().map_err(|_| ConfigError {
                key: k,
                problem: format!("'{raw}' is not a whole number (0 turns the limit off)"),
            })
        };
        let limits = Limits {
            per_person: whole("RATE_LIMIT_PER_PERSON", "10")?,
            per_channel: whole("RATE_LIMIT_PER_CHANNEL", "6000")?,
        };

        let sqlite_max_pages = get("SQLITE_MAX_PAGE_COUNT")
            .map(|raw| {
                raw.parse::<u32>()
                    .ok()
                    .filter(|n| *n > 0)
                    .ok_or(ConfigError {
                        key: "SQLITE_MAX_PAGE_COUNT",
                        problem: format!("'{raw}' is not a whole number above 0"),
                    })
            })
            .transpose()?;

        Ok(Config {
            sqlite_max_pages,
            limits,
            rate_limit_message: text(
                "RATE_LIMIT_MESSAGE",
                "You are sending requests faster than we can take them. Please wait a minute and try again.",
            ),
            report_timezone,
            inbound,
            discord,
            database_path: PathBuf::from(text("DATABASE_PATH", "dsr-bot.db")),
            sqlite_synchronous,
            sqlite_busy_timeout_ms: parsed("SQLITE_BUSY_TIMEOUT_MS", "10000")?,
            policy_name: text("POLICY_NAME", "AI training on member chats"),
            organisation_name: text("ORGANISATION_NAME", "Example Community"),
            retention_opted_in: text("RETENTION_OPTED_IN", "up to 5 years"),
            retention_opted_out: text("RETENTION_OPTED_OUT", "30 days"),
            policy_deadline,
            response_days: parsed("RESPONSE_DAYS", "30")?,
            display_timezone,
            mail_from,
            smtp_url,
            outbox_dir: PathBuf::from(text("OUTBOX_DIR", "outbox")),
            privacy_officers,
            hash_key,
            code_ttl_minutes: parsed("CODE_TTL_MINUTES", "30")?,
            confirm_within_hours: parsed("CONFIRM_WITHIN_HOURS", "72")?,
            mail_poll_seconds: u64::from(parsed("MAIL_POLL_SECONDS", "5")?),
            mail_lease_seconds: i64::from(parsed("MAIL_LEASE_SECONDS", "300")?),
            mail_concurrency: parsed("MAIL_CONCURRENCY", "8")? as usize,
        })
    }

    /// Settings for tests and examples: the defaults, with the database and outbox in `dir`.
    pub fn for_folder(dir: &std::path::Path) -> Config {
        let db = dir.join("dsr-bot.db");
        let outbox = dir.join("outbox");
        Self::from_lookup(|k| match k {
            "DATABASE_PATH" => Some(db.display().to_string()),
            "OUTBOX_DIR" => Some(outbox.display().to_string()),
            _ => None,
        })
        .expect("defaults are valid")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn with(pairs: &[(&str, &str)]) -> Result<Config, ConfigError> {
        Config::from_lookup(|k| {
            pairs
                .iter()
                .find(|(n, _)| *n == k)
                .map(|(_, v)| v.to_string())
        })
    }

    #[test]
    fn defaults_follow_the_policy() {
        let c = with(&[]).unwrap();
        assert_eq!(c.policy_deadline.to_rfc3339(), "2025-09-28T23:59:59+00:00");
        assert_eq!(c.response_days, 30);
        assert_eq!(c.database_path, PathBuf::from("dsr-bot.db"));
        assert!(c.smtp_url.is_none());
    }

    #[test]
    fn bad_values_name_their_key() {
        for (key, value) in [
            ("POLICY_DEADLINE", "28/09/2025"),
            ("RESPONSE_DAYS", "thirty"),
            ("RESPONSE_DAYS", "0"),
            ("DISPLAY_TIMEZONE", "Mars/Olympus"),
            ("MAIL_FROM", "not a mailbox"),
            ("SMTP_URL", "http://mail"),
            ("PRIVACY_OFFICERS", "dpo@example.org,nobody"),
            ("HASH_KEY", "abcd"),
            ("SQLITE_SYNCHRONOUS", "off"),
            ("DISCORD_GUILD_ID", "my-server"),
            ("PRIVACY_OFFICER_ROLE_ID", "-5"),
            ("REPLY_ADDRESS", "privacy"),
            ("REPORT_TIMEZONE", "Berlin"),
            ("REPORT_CHANNEL_ID", "general"),
            ("RATE_LIMIT_PER_PERSON", "-1"),
            ("IMAP_URL", "imap://user:pw@mail.example.org/INBOX"),
            ("IMAP_URL", "pop3://mail.example.org"),
            ("IMAP_DELETE_PROCESSED", "maybe"),
        ] {
            let err = with(&[(key, value)]).unwrap_err();
            assert_eq!(err.key, key);
            let line = err.to_string();
            assert!(
                line.starts_with(&format!("configuration: {key}: ")),
                "{line}"
            );
            assert!(!line.contains('\n'), "{line}");
        }
    }
}
