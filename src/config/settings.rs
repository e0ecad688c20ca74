//! The settings themselves, typed: what the rest of the service reads. How each is read from
//! the environment, with its default and its range, is in the module above.

use std::path::PathBuf;

use chrono::{DateTime, Utc};
use chrono_tz::Tz;
use lettre::message::Mailbox;

use super::ShardRange;
use crate::domain::{EmailAddress, Language};

/// Limits on what one person, one address or one channel can cause. 0 turns a limit off.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// Calls one person (or one mail sender) may make per minute; kept in the database.
    pub per_person: u32,
    /// Calls one channel (console, discord, email) takes per minute, in this process.
    pub per_channel: u32,
    /// New requests one person or sender may file per hour; kept in the database.
    pub requests_per_hour: u32,
    /// Code mails one address may receive per day, whoever asks for them.
    pub code_mails_per_day: u32,
    /// Wrong codes that may be entered for one address per day, over all its codes.
    pub code_tries_per_day: u32,
}

/// What a person is told when a limit stops them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LimitMessages {
    pub per_person: Option<String>,
    pub requests_per_hour: Option<String>,
    pub code_mails_per_day: Option<String>,
    pub code_tries_per_day: Option<String>,
}

/// Which engine holds the data.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Engine {
    /// SQLite, encrypted as SQLCipher, in the file `database_path`: the embedded default.
    Sqlite,
    /// PostgreSQL at `DATABASE_URL` (which may hold a password).
    Postgres(Secret),
}

#[derive(Debug, Clone)]
pub struct Config {
    /// `DATABASE_URL`: `postgres://...` for PostgreSQL; unset or `sqlite:PATH` for SQLite.
    pub engine: Engine,
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
    /// `DEFAULT_LANGUAGE`: who writes without saying their language (no Discord locale the bot
    /// writes, a mail in a language it does not recognise) is answered in this one.
    pub default_language: Language,
    /// `REPORT_LANGUAGE`: what officers read (reports, digests) is written in this one, with
    /// its numbers and dates as it writes them.
    pub report_language: Language,
    pub mail_from: Mailbox,
    /// `smtp(s)://...`, which may hold a password.
    pub smtp_url: Option<Secret>,
    pub outbox_dir: PathBuf,
    pub privacy_officers: Vec<EmailAddress>,
    /// Where every monthly report is written, whoever else receives it.
    pub reports_dir: PathBuf,
    /// Key for codes and for the hashes kept after an erasure; generated and stored in the
    /// database when unset.
    pub hash_key: Option<SecretKey>,
    /// Where the key that encrypts the database comes from.
    pub database_key: DatabaseKey,
    /// Where the key that signs receipts and log checkpoints comes from.
    pub signing_key: SigningKey,
    pub code_ttl_minutes: u32,
    pub confirm_within_hours: u32,
    pub mail_poll_seconds: u64,
    /// How long a claimed mail is left to the worker sending it before another may retry it.
    pub mail_lease_seconds: i64,
    /// How many mails are handed to the SMTP server at once.
    pub mail_concurrency: usize,
    /// The life of the leader lease: the process holding it runs the Discord gateway and the
    /// schedule, and another takes over within about this long after it dies.
    pub leader_lease_seconds: u64,
    pub discord: DiscordConfig,
    pub inbound: InboundConfig,
    /// Months of the monthly report are taken in this zone.
    pub report_timezone: Tz,
    pub limits: Limits,
    pub limit_messages: LimitMessages,
    /// `RUST_LOG`, checked: which logs are written.
    pub log_filter: Option<String>,
    pub officers: OfficerConfig,
    pub http: HttpConfig,
}

/// Where the feed's HTTP API listens and how often a consumer may call it.
#[derive(Debug, Clone)]
pub struct HttpConfig {
    /// `HTTP_BIND`: unset means 127.0.0.1:8787 once any consumer exists; `off`: never.
    pub bind: HttpBind,
    /// Calls a consumer's token may make per minute (bursts of a sixth of it).
    pub rate_per_minute: u32,
    /// The first wait before a failed webhook is tried again; later waits grow from it.
    pub webhook_retry_seconds: u32,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum HttpBind {
    /// Listen here once any consumer exists.
    WhenNeeded(std::net::SocketAddr),
    Off,
}

pub const DEFAULT_HTTP_BIND: &str = "127.0.0.1:8787";

/// What officers' routines need: extensions, reminders, the weekly digest, announcements,
/// their own wording, and the community's size.
#[derive(Debug, Clone)]
pub struct OfficerConfig {
    /// The most a due date may be extended, once, in days (GDPR Art. 12(3): two months).
    pub max_extension_days: u32,
    /// Hours after a request that still waits for the person when they are reminded, once;
    /// 0: never.
    pub reminder_after_hours: u32,
    /// The day of the week the digest of what is due goes out; `None`: never.
    pub digest_weekday: Option<chrono::Weekday>,
    /// Where the reminders before the policy deadline are posted (never as DMs).
    pub announce_channel_id: Option<u64>,
    /// The community's size, when not read from Discord.
    pub community_size: Option<u64>,
    /// Mail and report templates here replace the embedded ones, file by file.
    pub templates_dir: Option<PathBuf>,
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
    /// Larger messages are not read; their headers are kept for a person to look at.
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
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(pub String);

impl std::fmt::Debug for Secret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Secret(..)")
    }
}

/// Key bytes that never appear in logs or debug output.
#[derive(Clone, PartialEq, Eq)]
pub struct SecretKey(pub Vec<u8>);

impl std::fmt::Debug for SecretKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("SecretKey(..)")
    }
}

/// Where the signing key (an Ed25519 key for signed notes) comes from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SigningKey {
    /// `SIGNING_KEY`: `PRIVATE+KEY+<name>+<id>+<key>`.
    Given(Secret),
    /// `SIGNING_KEY_FILE`: a file holding that.
    File(PathBuf),
    /// Neither set: a file beside the database (`dsr-bot.db` -> `dsr-bot.signing.key`), made
    /// when no receipt was ever signed.
    Beside,
}

/// Where the database's encryption key comes from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DatabaseKey {
    /// `DATABASE_KEY`: 64 hex digits.
    Given(SecretKey),
    /// `DATABASE_KEY_FILE`: a file holding the 64 hex digits.
    File(PathBuf),
    /// Neither set: a key file beside the database (`dsr-bot.db` -> `dsr-bot.key`), made with a
    /// random key when the database is created.
    Beside,
    /// No encryption. No setting selects it: only `bench rush --plain` does, to measure what
    /// encryption costs.
    Plain,
}

#[derive(Debug, thiserror::Error)]
#[error("configuration: {key}: {problem}")]
pub struct ConfigError {
    pub key: &'static str,
    pub problem: String,
}
