//! Typed settings read from the environment (and an optional `.env`), each one documented in
//! `.env.example` with its default and its range. A bad value stops start-up with one line
//! naming the key and the problem; no value of any key gets past start-up to break things
//! later. Secrets never show in `Debug` output.

use std::{path::PathBuf, str::FromStr};

use chrono::{DateTime, Utc};
use chrono_tz::Tz;
use lettre::message::Mailbox;

use crate::domain::{EmailAddress, Language, text::shown};

mod discord;
mod imap;
mod read;
mod settings;

pub use discord::ShardRange;
pub use imap::ImapTarget;
use read::Reader;
pub use settings::*;

/// `DATABASE_URL`: the engine, and for SQLite the file. The URL itself is never repeated in
/// an error, since it may hold a password.
fn engine_of(raw: &str) -> Result<(Engine, Option<PathBuf>), String> {
    let raw = raw.trim();
    if raw.starts_with("postgres://") || raw.starts_with("postgresql://") {
        url::Url::parse(raw).map_err(|e| {
            format!("is not a PostgreSQL URL like postgres://user@host:5432/dsrbot ({e})")
        })?;
        return Ok((Engine::Postgres(Secret(raw.to_owned())), None));
    }
    if let Some(path) = raw.strip_prefix("sqlite:") {
        let path = path.strip_prefix("//").unwrap_or(path);
        if path.is_empty() {
            return Err("sqlite: needs the database file after it, as in sqlite:dsr-bot.db".into());
        }
        return Ok((Engine::Sqlite, Some(PathBuf::from(path))));
    }
    Err("must be postgres://user@host:5432/dbname for PostgreSQL or sqlite:PATH for SQLite (the default, when unset)".into())
}

/// The earliest and latest policy deadline taken: every date the bot derives from it stays in
/// the range every reader of the database handles.
const DEADLINE_RANGE: (&str, &str) = ("1970-01-01T00:00:00Z", "2200-01-01T00:00:00Z");
/// Longest text setting shown to people (names, retention phrases, messages).
const MAX_TEXT: usize = 200;

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
        let r = Reader::new(get);
        let err = |key: &'static str, problem: String| ConfigError { key, problem };

        let policy_deadline = r.parsed("POLICY_DEADLINE", "2025-09-28T23:59:59Z", |raw| {
            let d = DateTime::parse_from_rfc3339(raw)
                .map(|d| d.with_timezone(&Utc))
                .map_err(|e| {
                    format!(
                        "'{}' is not an RFC 3339 instant like 2025-09-28T23:59:59Z ({e})",
                        shown(raw)
                    )
                })?;
            let (from, to) = DEADLINE_RANGE;
            let in_range = |s: &str| DateTime::parse_from_rfc3339(s).expect("a fixed instant");
            if d < in_range(from) || d >= in_range(to) {
                return Err(format!("'{}' is not between 1970 and 2200", shown(raw)));
            }
            Ok(d)
        })?;
        let display_timezone = r.parsed("DISPLAY_TIMEZONE", "UTC", timezone)?;
        let language = |raw: &str| {
            raw.trim()
                .parse::<Language>()
                .map_err(|_| format!("'{}' is not one of en, de, fr, es, pt-BR", shown(raw)))
        };
        let default_language = r.parsed("DEFAULT_LANGUAGE", "en", language)?;
        let report_language = r.parsed("REPORT_LANGUAGE", "en", language)?;
        let report_timezone = match r.get("REPORT_TIMEZONE") {
            Some(_) => r.parsed("REPORT_TIMEZONE", "UTC", timezone)?,
            None => display_timezone,
        };

        let mail_from = r.parsed("MAIL_FROM", "dsr-bot <privacy@example.org>", |raw| {
            if raw.chars().any(crate::domain::text::is_unsafe) {
                return Err(format!("'{}' must be on one line", shown(raw)));
            }
            let mailbox = raw.parse::<Mailbox>().map_err(|e| {
                format!(
                    "'{}' is not a mailbox like 'Privacy team <privacy@example.org>' ({e})",
                    shown(raw)
                )
            })?;
            EmailAddress::parse(mailbox.email.as_ref()).map_err(|e| e.to_string())?;
            Ok(mailbox)
        })?;
        let reply_address = match r.get("REPLY_ADDRESS") {
            Some(_) => r.parsed("REPLY_ADDRESS", "", |raw| {
                EmailAddress::parse(raw).map_err(|e| e.to_string())
            })?,
            None => EmailAddress::parse(mail_from.email.as_ref())
                .map_err(|e| err("MAIL_FROM", e.to_string()))?,
        };
        let smtp_url = r.optional("SMTP_URL", |raw| {
            let url = url::Url::parse(raw).map_err(|e| format!("'{}' is not a URL ({e})", shown(raw)))?;
            if !matches!(url.scheme(), "smtp" | "smtps") {
                return Err("must start with smtp:// or smtps:// (leave it unset to write mail into OUTBOX_DIR)".into());
            }
            if url.host_str().is_none_or(str::is_empty) {
                return Err("names no server, like smtp://mail.example.org:25".into());
            }
            Ok(Secret(raw.to_owned()))
        })?;
        let privacy_officers = r
            .optional("PRIVACY_OFFICERS", |list| {
                list.split(',')
                    .map(|a| EmailAddress::parse(a).map_err(|e| e.to_string()))
                    .collect::<Result<Vec<_>, _>>()
            })?
            .unwrap_or_default();
        let hash_key = r.optional("HASH_KEY", |raw| {
            hex::decode(raw)
                .ok()
                .filter(|k| k.len() >= 32 && k.len() <= 1024)
                .map(SecretKey)
                .ok_or_else(|| {
                    "must be 32 to 1024 bytes written as hex (64 or more hex digits); `openssl rand -hex 32` makes one"
                        .to_owned()
                })
        })?;
        let given = r.optional("DATABASE_KEY", |raw| {
            hex::decode(raw)
                .ok()
                .filter(|k| k.len() == 32)
                .map(SecretKey)
                .ok_or_else(|| {
                    "must be 32 bytes written as 64 hex digits; `openssl rand -hex 32` makes one"
                        .to_owned()
                })
        })?;
        let key_file = r.optional("DATABASE_KEY_FILE", |raw| {
            let path = PathBuf::from(raw);
            let text = std::fs::read_to_string(&path)
                .map_err(|e| format!("'{}' cannot be read ({e})", shown(raw)))?;
            let hex_ok = text.trim().len() == 64 && text.trim().bytes().all(|b| b.is_ascii_hexdigit());
            if !hex_ok {
                return Err(format!(
                    "'{}' does not hold a key: 64 hex digits (`openssl rand -hex 32 > FILE` makes one)",
                    shown(raw)
                ));
            }
            Ok(path)
        })?;
        let database_key = match (given, key_file) {
            (Some(_), Some(_)) => {
                return Err(ConfigError {
                    key: "DATABASE_KEY_FILE",
                    problem: "DATABASE_KEY is set too; set one of them".into(),
                });
            }
            (Some(k), None) => DatabaseKey::Given(k),
            (None, Some(f)) => DatabaseKey::File(f),
            (None, None) => DatabaseKey::Beside,
        };
        let signing_given = r.optional("SIGNING_KEY", |raw| {
            crate::proof::note::NoteSigner::parse(raw)
                .map(|_| Secret(raw.trim().to_owned()))
                .map_err(|e| e.to_string())
        })?;
        let signing_file = r.optional("SIGNING_KEY_FILE", |raw| {
            let path = PathBuf::from(raw);
            let text = std::fs::read_to_string(&path)
                .map_err(|e| format!("'{}' cannot be read ({e})", shown(raw)))?;
            crate::proof::note::NoteSigner::parse(&text)
                .map_err(|e| format!("'{}' does not hold a signing key: {e}", shown(raw)))?;
            Ok(path)
        })?;
        let signing_key = match (signing_given, signing_file) {
            (Some(_), Some(_)) => {
                return Err(ConfigError {
                    key: "SIGNING_KEY_FILE",
                    problem: "SIGNING_KEY is set too; set one of them".into(),
                });
            }
            (Some(k), None) => SigningKey::Given(k),
            (None, Some(f)) => SigningKey::File(f),
            (None, None) => SigningKey::Beside,
        };
        let sqlite_synchronous = r.parsed("SQLITE_SYNCHRONOUS", "full", |raw| {
            let v = raw.to_ascii_lowercase();
            matches!(v.as_str(), "full" | "normal")
                .then_some(v)
                .ok_or_else(|| "must be full or normal".to_owned())
        })?;

        let snowflake = |k: &'static str| {
            r.optional(k, |raw| {
                raw.parse::<u64>().ok().filter(|n| *n > 0).ok_or_else(|| {
                    format!(
                        "'{}' is not a Discord id (a number, from Developer Mode's Copy ID)",
                        shown(raw)
                    )
                })
            })
        };
        let discord = DiscordConfig {
            token: r.get("DISCORD_TOKEN").map(Secret),
            guild_id: snowflake("DISCORD_GUILD_ID")?,
            officer_role_id: snowflake("PRIVACY_OFFICER_ROLE_ID")?,
            report_channel_id: snowflake("REPORT_CHANNEL_ID")?,
            api_url: r.optional("DISCORD_API_URL", |raw| {
                discord::endpoint(raw, "https", "http")
            })?,
            gateway_url: r.optional("DISCORD_GATEWAY_URL", |raw| {
                discord::endpoint(raw, "wss", "ws")
            })?,
            shards: r.optional("DISCORD_SHARDS", ShardRange::parse)?,
        };

        let imap_url = r.optional("IMAP_URL", |raw| {
            ImapTarget::parse(raw).map(|_| Secret(raw.to_owned()))
        })?;
        if r.get("HELD_DIR").is_some() {
            return Err(err(
                "HELD_DIR",
                "is no longer used: unreadable mail is kept in the database (`dsr-bot held list`); remove the setting"
                    .into(),
            ));
        }
        let inbound = InboundConfig {
            reply_address,
            imap_url,
            imap_poll_seconds: r.number("IMAP_POLL_SECONDS", 60, 1, 86_400)?,
            imap_delete_processed: r.flag("IMAP_DELETE_PROCESSED", false)?,
            max_message_bytes: r.number("MAX_INBOUND_BYTES", 10_485_760, 1_024, 104_857_600)?,
        };

        let limits = Limits {
            per_person: r.number("RATE_LIMIT_PER_PERSON", 10, 0, 10_000)?,
            per_channel: r.number("RATE_LIMIT_PER_CHANNEL", 6_000, 0, 1_000_000)?,
            requests_per_hour: r.number("REQUESTS_PER_HOUR", 30, 0, 10_000)?,
            code_mails_per_day: r.number("CODE_MAILS_PER_DAY", 3, 0, 100)?,
            code_tries_per_day: r.number("CODE_TRIES_PER_DAY", 10, 0, 1_000)?,
        };
        // Unset, a person is told in their own language (templates/texts.json); set, these
        // words are what everyone is told.
        let limit_messages = LimitMessages {
            per_person: r.own_text("RATE_LIMIT_MESSAGE", MAX_TEXT)?,
            requests_per_hour: r.own_text("REQUESTS_PER_HOUR_MESSAGE", MAX_TEXT)?,
            code_mails_per_day: r.own_text("CODE_MAILS_PER_DAY_MESSAGE", MAX_TEXT)?,
            code_tries_per_day: r.own_text("CODE_TRIES_PER_DAY_MESSAGE", MAX_TEXT)?,
        };
        let log_filter = r.optional("RUST_LOG", |raw| {
            tracing_subscriber::EnvFilter::try_new(raw)
                .map(|_| raw.to_owned())
                .map_err(|e| {
                    format!(
                        "'{}' is not a log filter like info or warn,dsr_bot=debug ({e})",
                        shown(raw)
                    )
                })
        })?;

        let confirm_within_hours = r.number("CONFIRM_WITHIN_HOURS", 72, 1, 720)?;
        let officers = OfficerConfig {
            max_extension_days: r.number("MAX_EXTENSION_DAYS", 60, 1, 90)?,
            reminder_after_hours: r.parsed("REMINDER_AFTER_HOURS", "48", |raw| {
                raw.parse::<u32>()
                    .ok()
                    .filter(|h| *h < confirm_within_hours)
                    .ok_or_else(|| {
                        format!(
                            "'{}' is not a whole number from 0 to {} (below CONFIRM_WITHIN_HOURS; 0 sends none)",
                            shown(raw),
                            confirm_within_hours - 1
                        )
                    })
            })?,
            digest_weekday: r.parsed("DIGEST_WEEKDAY", "monday", |raw| {
                match raw.to_ascii_lowercase().as_str() {
                    "off" | "never" => Ok(None),
                    day => day.parse::<chrono::Weekday>().map(Some).map_err(|_| {
                        format!("'{}' is not a day of the week like monday, or off", shown(raw))
                    }),
                }
            })?,
            announce_channel_id: snowflake("ANNOUNCE_CHANNEL_ID")?,
            community_size: r.optional_number("COMMUNITY_SIZE", 1, 1_000_000_000)?,
            templates_dir: r
                .optional("TEMPLATES_DIR", |raw| {
                    let dir = PathBuf::from(raw);
                    dir.is_dir()
                        .then_some(dir)
                        .ok_or_else(|| format!("'{}' is not a folder", shown(raw)))
                })?,
        };

        let http = HttpConfig {
            bind: r.parsed("HTTP_BIND", DEFAULT_HTTP_BIND, |raw| {
                if raw.eq_ignore_ascii_case("off") {
                    return Ok(HttpBind::Off);
                }
                raw.parse::<std::net::SocketAddr>()
                    .map(HttpBind::WhenNeeded)
                    .map_err(|_| {
                        format!(
                            "'{}' is not an address and port like 127.0.0.1:8787, or off",
                            shown(raw)
                        )
                    })
            })?,
            rate_per_minute: r.number("HTTP_RATE_PER_MINUTE", 600, 1, 600_000)?,
            webhook_retry_seconds: r.number("WEBHOOK_RETRY_SECONDS", 5, 1, 3_600)?,
        };

        let database_path = r.optional("DATABASE_PATH", |raw| Ok(PathBuf::from(raw)))?;
        let (engine, database_path) = match r.optional("DATABASE_URL", engine_of)? {
            None => (Engine::Sqlite, database_path),
            Some((_, Some(_))) if database_path.is_some() => {
                return Err(ConfigError {
                    key: "DATABASE_URL",
                    problem: "DATABASE_PATH is set too; set one of them".into(),
                });
            }
            Some((engine, path)) => (engine, path.or(database_path)),
        };
        Ok(Config {
            officers,
            http,
            engine,
            database_path: database_path.unwrap_or_else(|| PathBuf::from("dsr-bot.db")),
            sqlite_synchronous,
            sqlite_max_pages: r.optional_number("SQLITE_MAX_PAGE_COUNT", 1, 2_147_483_646)?,
            sqlite_busy_timeout_ms: r.number("SQLITE_BUSY_TIMEOUT_MS", 10_000, 1, 600_000)?,
            policy_name: r.text("POLICY_NAME", "AI training on member chats", MAX_TEXT)?,
            organisation_name: r.text("ORGANISATION_NAME", "Example Community", MAX_TEXT)?,
            retention_opted_in: r.text("RETENTION_OPTED_IN", "up to 5 years", MAX_TEXT)?,
            retention_opted_out: r.text("RETENTION_OPTED_OUT", "30 days", MAX_TEXT)?,
            policy_deadline,
            response_days: r.number("RESPONSE_DAYS", 30, 1, 366)?,
            display_timezone,
            default_language,
            report_language,
            mail_from,
            smtp_url,
            outbox_dir: PathBuf::from(r.text("OUTBOX_DIR", "outbox", 4_096)?),
            privacy_officers,
            reports_dir: PathBuf::from(r.text("REPORTS_DIR", "reports", 4_096)?),
            hash_key,
            database_key,
            signing_key,
            code_ttl_minutes: r.number("CODE_TTL_MINUTES", 30, 1, 1_440)?,
            confirm_within_hours,
            mail_poll_seconds: r.number("MAIL_POLL_SECONDS", 5, 1, 3_600)?,
            mail_lease_seconds: r.number("MAIL_LEASE_SECONDS", 300, 1, 86_400)?,
            mail_concurrency: r.number("MAIL_CONCURRENCY", 8, 1, 64)?,
            leader_lease_seconds: r.number("LEADER_LEASE_SECONDS", 15, 2, 600)?,
            discord,
            inbound,
            report_timezone,
            limits,
            limit_messages,
            log_filter,
        })
    }

    /// Settings for tests and examples: the defaults, with the database, outbox and reports
    /// in `dir`.
    pub fn for_folder(dir: &std::path::Path) -> Config {
        let db = dir.join("dsr-bot.db");
        let outbox = dir.join("outbox");
        let reports = dir.join("reports");
        Self::from_lookup(|k| match k {
            "DATABASE_PATH" => Some(db.display().to_string()),
            "OUTBOX_DIR" => Some(outbox.display().to_string()),
            "REPORTS_DIR" => Some(reports.display().to_string()),
            _ => None,
        })
        .expect("defaults are valid")
    }

    /// The folders the bot writes into, made now, so a path that cannot be used stops start-up
    /// naming its key rather than failing the first mail or report.
    pub fn make_folders(&self) -> Result<(), ConfigError> {
        let mut folders = vec![("REPORTS_DIR", self.reports_dir.clone())];
        if let Some(parent) = self
            .database_path
            .parent()
            .filter(|p| !p.as_os_str().is_empty())
        {
            folders.push(("DATABASE_PATH", parent.to_owned()));
        }
        if self.smtp_url.is_none() {
            folders.push(("OUTBOX_DIR", self.outbox_dir.clone()));
        }
        for (key, dir) in folders {
            std::fs::create_dir_all(&dir).map_err(|e| ConfigError {
                key,
                problem: format!("cannot make the folder {} ({e})", dir.display()),
            })?;
        }
        Ok(())
    }
}

fn timezone(raw: &str) -> Result<Tz, String> {
    Tz::from_str(raw).map_err(|_| {
        format!(
            "'{}' is not an IANA time zone name like Europe/Berlin or UTC",
            shown(raw)
        )
    })
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
    fn database_url_chooses_the_engine() {
        let c = with(&[]).unwrap();
        assert_eq!(
            (c.engine, c.database_path),
            (Engine::Sqlite, "dsr-bot.db".into())
        );
        let c = with(&[("DATABASE_URL", "sqlite:/var/lib/dsr/bot.db")]).unwrap();
        assert_eq!(
            (c.engine, c.database_path),
            (Engine::Sqlite, "/var/lib/dsr/bot.db".into())
        );
        let url = "postgresql://bot:pw@127.0.0.1:5432/dsr";
        let c = with(&[("DATABASE_URL", url)]).unwrap();
        assert_eq!(c.engine, Engine::Postgres(Secret(url.into())));
        let both = with(&[("DATABASE_URL", "sqlite:a.db"), ("DATABASE_PATH", "b.db")]);
        assert!(both.unwrap_err().to_string().contains("set one of them"));
        for wrong in [
            "mysql://bot:pw@host/db",
            "sqlite:",
            "postgres://bot:pw@[::1/db",
        ] {
            let e = with(&[("DATABASE_URL", wrong)]).unwrap_err().to_string();
            assert!(e.starts_with("configuration: DATABASE_URL: "), "{e}");
            assert!(!e.contains("pw"), "the URL's password is not repeated: {e}");
        }
    }

    #[test]
    fn secrets_never_show_in_debug_output() {
        let key = "ab".repeat(32);
        let c = with(&[
            ("HASH_KEY", &key),
            ("SMTP_URL", "smtps://bot:hunter2@mail.example.org"),
            ("IMAP_URL", "imaps://bot:swordfish@mail.example.org/INBOX"),
            ("DISCORD_TOKEN", "token.part.secret"),
            (
                "DATABASE_URL",
                "postgres://bot:correcthorse@db.example.org/dsr",
            ),
        ])
        .unwrap();
        let shown = format!("{c:?}");
        for secret in [
            key.as_str(),
            "hunter2",
            "swordfish",
            "token.part.secret",
            "correcthorse",
        ] {
            assert!(!shown.contains(secret), "{secret} is in {shown}");
        }
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
