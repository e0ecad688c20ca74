//! The command line's schema: every command, subcommand and option `dsr-bot --help` shows,
//! and the parsers of their values. What each one does is in the module named for it.

use clap::{Parser, Subcommand, ValueEnum};

use crate::domain::RequestState;

#[derive(Debug, Parser)]
#[command(
    name = "dsr-bot",
    version,
    about = "Records and answers data-subject requests against a policy deadline"
)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Option<Cmd>,
}

#[derive(Debug, Subcommand)]
pub enum Cmd {
    /// Run the service: the mail worker and, without a Discord token, the console (the default).
    Run {
        /// Who you are on the terminal console (defaults to $USER).
        #[arg(long)]
        user: Option<String>,
        /// Show the service's log on the terminal too (at a terminal console it goes to
        /// dsr-bot.log beside the database, so it never lands on the prompt).
        #[arg(short, long)]
        verbose: bool,
    },
    /// Type slash commands as a console user; reads stdin, interactive or piped.
    Console {
        /// The console user you act as (a name of letters, digits, '.', '-' or '_').
        #[arg(long)]
        user: String,
        /// Show the log on the terminal too (see `run --verbose`).
        #[arg(short, long)]
        verbose: bool,
    },
    /// Privacy officers' work on requests: list, show, complete, extend, note.
    Requests {
        #[command(subcommand)]
        command: RequestsCmd,
    },
    /// The mail outbox.
    Mail {
        #[command(subcommand)]
        command: MailCmd,
    },
    /// Create or upgrade the database, then exit.
    Migrate,
    /// The monthly summary for privacy officers (default: the last complete month).
    #[command(args_conflicts_with_subcommands = true)]
    Report {
        #[command(subcommand)]
        command: Option<ReportCmd>,
        /// YYYY-MM, a month in REPORT_TIMEZONE.
        #[arg(long)]
        month: Option<String>,
        #[arg(long, value_enum, default_value_t = crate::reports::render::Format::Md)]
        format: crate::reports::render::Format,
        /// Write to this file instead of standard output.
        #[arg(long)]
        out: Option<std::path::PathBuf>,
    },
    /// Bring in requests kept elsewhere (columns: received_at, kind, email or discord_id,
    /// status, completed_at); all rows or none.
    Import {
        /// The CSV file, with a header row naming the columns.
        file: std::path::PathBuf,
    },
    /// Read inbound mail: one RFC 5322 message on stdin (for an MTA pipe), or every new
    /// message in a Maildir.
    IngestMail {
        #[arg(long)]
        /// Read every message in this Maildir's new/ (moved to cur/ once handled) instead of
        /// one message on stdin.
        #[arg(value_name = "DIR")]
        maildir: Option<std::path::PathBuf>,
    },
    /// Mail kept because it could not be read (too large, no usable sender, not a message).
    Held {
        #[command(subcommand)]
        command: HeldCmd,
    },
    /// Benchmarks (a temporary database; nothing of yours is touched).
    Bench {
        #[command(subcommand)]
        command: BenchCmd,
    },
    /// Discord helpers that need no connection.
    Discord {
        #[command(subcommand)]
        command: DiscordCmd,
    },
    /// The database's encryption at rest (stop the service first).
    Db {
        #[command(subcommand)]
        command: DbCmd,
    },
    /// Your own wording: check the mail and report templates.
    Templates {
        #[command(subcommand)]
        command: TemplatesCmd,
    },
    /// The key that signs receipts and the log's checkpoints.
    Keys {
        #[command(subcommand)]
        command: KeysCmd,
    },
    /// Receipts people keep: check one.
    Receipt {
        #[command(subcommand)]
        command: ReceiptCmd,
    },
    /// The log of every decision: hand out its signed head, or check all of it.
    Log {
        #[command(subcommand)]
        command: LogCmd,
    },
    /// The systems that must honour the choices, and the feed they pull them from.
    Consumers {
        #[command(subcommand)]
        command: ConsumersCmd,
    },
}

#[derive(Debug, Subcommand)]
pub enum ConsumersCmd {
    /// Register a system that must honour the choices; prints its API token and hashing key
    /// once, as `token: TOKEN` and `key: KEY` (64 hex digits).
    Add {
        /// Its name (letters, digits, '-', '_', '.').
        name: String,
        /// Where to tell it, on every change, to pull (Standard Webhooks).
        #[arg(long, value_name = "URL")]
        webhook: Option<String>,
    },
    /// Every consumer: last pull, last acknowledgement, and whether it is behind.
    List {
        #[arg(long, value_enum, default_value_t = Format::Table)]
        format: Format,
    },
    /// Refuse a consumer's token from now on.
    Revoke { name: String },
    /// Set or remove a consumer's webhook; turns it on again after a 410 or a give-up.
    Webhook {
        name: String,
        /// The new URL; without it, push is off for this consumer.
        #[arg(long, value_name = "URL")]
        url: Option<String>,
    },
    /// Write the consumer's snapshot as a signed JSON Lines file, for a system without the
    /// API (recorded as a pull).
    Export {
        name: String,
        #[arg(long, value_name = "FILE")]
        out: std::path::PathBuf,
    },
}

#[derive(Debug, Subcommand)]
pub enum KeysCmd {
    /// Print the public key receipts are checked with (alone on the last line, as --key
    /// takes it), and every key used before.
    Public,
    /// Start signing with a new key; the old public key is kept, so receipts and checkpoints
    /// signed with it still verify.
    Rotate {
        /// The new key's name (default: the privacy mailbox's domain and /dsr-bot).
        #[arg(long)]
        name: Option<String>,
    },
}

#[derive(Debug, Subcommand)]
pub enum ReceiptCmd {
    /// Check the receipts in a pasted mail or DM (quoted or not): the signature, and, with
    /// the database, that the event is in the log as the receipt says.
    Verify {
        /// The public key to check against (`dsr-bot keys public`, /privacy); without it, every
        /// key the log was signed with.
        #[arg(long, value_name = "PUBLIC_KEY")]
        key: Option<String>,
        /// Check the signature only, without the database.
        #[arg(long)]
        offline: bool,
        /// The file holding the receipt, or - for standard input.
        #[arg(value_name = "FILE")]
        file: std::path::PathBuf,
    },
}

#[derive(Debug, Subcommand)]
pub enum LogCmd {
    /// Sign the log's head now, keep the checkpoint and print it (c2sp.org/tlog-checkpoint).
    Checkpoint,
    /// Recompute the whole log from the audit trail and check it against every leaf, every
    /// head a receipt handed out and every signed checkpoint; names the first event that
    /// differs.
    Verify,
}

#[derive(Debug, Subcommand)]
pub enum DbCmd {
    /// Encrypt a plain database with the configured key (DATABASE_KEY, DATABASE_KEY_FILE, or a
    /// new key file beside it): copied, checked, then put in place; all or nothing.
    Encrypt,
    /// Move the database to a new key: copied, checked, then put in place; all or nothing.
    Rekey {
        /// Take the new key from this file (made, with a random key, if missing). Without it, a
        /// key kept beside the database is replaced by a new random one.
        #[arg(long)]
        new_key_file: Option<std::path::PathBuf>,
    },
}

#[derive(Debug, Subcommand)]
pub enum TemplatesCmd {
    /// Render every template with sample data, each file in DIR replacing the built-in one of
    /// the same name (DIR/email/reminder.txt, DIR/report/monthly.html); every problem is
    /// listed with its file and line.
    Check {
        /// Default: TEMPLATES_DIR, or the built-in templates when it is unset.
        dir: Option<std::path::PathBuf>,
    },
}

#[derive(Debug, Subcommand)]
pub enum BenchCmd {
    /// The last-day surge through the services, against the raw INSERT baseline.
    Rush(crate::bench::RushOptions),
    /// What runs on both engines so far (meet, limit, file, event) through the store seam, on
    /// SQLite and (with --database-url) PostgreSQL, each against its own INSERT baseline.
    Seam(crate::bench::SeamOptions),
    /// A consumer pulling the feed's whole snapshot over HTTP, and the writer's rate with the
    /// feed being pulled beside a rush.
    Feed(crate::bench::FeedOptions),
    /// The monthly report over many requests.
    Report {
        #[arg(long, default_value_t = 1_000_000)]
        requests: usize,
        /// Keep the filled database in this file; a file that already holds requests is
        /// reported on as it is, without filling.
        #[arg(long)]
        database: Option<std::path::PathBuf>,
    },
}

#[derive(Debug, Subcommand)]
pub enum DiscordCmd {
    /// Print the slash commands the bot registers (names, descriptions, options, permissions).
    Commands {
        #[arg(long, value_enum, default_value_t = Format::Table)]
        format: Format,
    },
}

#[derive(Debug, Subcommand)]
pub enum RequestsCmd {
    /// Requests, oldest due first (status questions are not requests and are not listed).
    List {
        /// Only requests in this state (awaiting_confirmation, confirmed, completed, cancelled, expired).
        #[arg(long, value_parser = parse_state)]
        state: Option<RequestState>,
        /// Only requests of this kind (opt_out, opt_in, deletion).
        #[arg(long, value_parser = parse_kind)]
        kind: Option<crate::domain::RequestKind>,
        /// Only those still to be answered or carried out.
        #[arg(long, conflicts_with_all = ["closed", "state"])]
        open: bool,
        /// Only those that are closed (completed, cancelled, expired).
        #[arg(long, conflicts_with = "state")]
        closed: bool,
        #[arg(long, value_enum, default_value_t = Format::Table)]
        format: Format,
    },
    /// Mark a confirmed deletion done: the person's data is erased and they are told.
    Complete {
        /// The request's number.
        id: i64,
    },
    /// One request: its facts, its audit trail and officers' notes.
    Show {
        /// The request's number.
        id: i64,
        #[arg(long, value_enum, default_value_t = Format::Table)]
        format: Format,
    },
    /// Extend a request's due date, once, before it passes (at most MAX_EXTENSION_DAYS); the
    /// person is told the reason and the new date by email and DM.
    Extend {
        /// The request's number.
        id: i64,
        /// Days added to the due date (1 to MAX_EXTENSION_DAYS).
        #[arg(long)]
        days: i64,
        /// Why: told to the person, and kept with the request until the person is erased.
        #[arg(long)]
        reason: String,
    },
    /// Add an officer's note to a request (erased with the person).
    Note {
        /// The request's number.
        id: i64,
        /// The note (erased with the person).
        text: String,
    },
}

#[derive(Debug, Subcommand)]
pub enum ReportCmd {
    /// Compare every month's kept counts with the same figures computed from the requests;
    /// exits 1 when any differs.
    Check,
    /// Recompute the kept counts from the requests (after restoring a backup taken without
    /// them, or when `report check` finds a difference).
    Rebuild,
}

#[derive(Debug, Subcommand)]
pub enum HeldCmd {
    /// Every held message: number, when, size, why.
    List,
    /// Print one held message as it came (or its headers, when it was too large).
    Show { id: i64 },
    /// Delete a held message once someone has dealt with it.
    Delete { id: i64 },
}

#[derive(Debug, Subcommand)]
pub enum MailCmd {
    /// Deliver every mail that is due now, then exit.
    Flush,
}

#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum Format {
    Table,
    Json,
}

fn parse_state(s: &str) -> Result<RequestState, String> {
    s.parse()
}

fn parse_kind(s: &str) -> Result<crate::domain::RequestKind, String> {
    match s.parse()? {
        crate::domain::RequestKind::Status => {
            Err("status questions are not requests; choose opt_out, opt_in or deletion".into())
        }
        kind => Ok(kind),
    }
}
