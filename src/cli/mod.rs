//! Command-line interface: the argument schema and dispatch here, each subcommand's work in
//! the module named for it.

mod consumers;
mod db;
mod discord;
mod import;
mod mail;
mod mta;
mod proof;
mod requests;
mod templates;

use std::io::IsTerminal;

pub use mta::{MailLog, for_mta, is_mta_pipe};

use clap::{Parser, Subcommand, ValueEnum};

use crate::{
    config::{Config, Engine},
    domain::{ConsoleUser, RequestState},
    error::ServiceError,
    startup::App,
};

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

/// Why the program stopped: a configuration problem (exit 2), something to try again later
/// (exit 75, EX_TEMPFAIL, which a mail server piping into `ingest-mail` retries), or anything
/// else (exit 1).
pub enum Failure {
    Config(String),
    User(String),
    TryLater(String),
    Internal(anyhow::Error),
}

impl Failure {
    /// A storage error says which database file it is about.
    fn naming_the_database(self, path: &std::path::Path) -> Failure {
        match self {
            Failure::Internal(e)
                if is_storage(&e) && !format!("{e:#}").contains(&path.display().to_string()) =>
            {
                Failure::Internal(e.context(format!("the database {}", path.display())))
            }
            other => other,
        }
    }
}

fn is_storage(e: &anyhow::Error) -> bool {
    e.chain()
        .any(|c| c.is::<rusqlite::Error>() || c.is::<sqlx::Error>())
}

impl From<anyhow::Error> for Failure {
    /// A database that does not open with its key, or is not encrypted yet, is the
    /// operator's configuration to fix (exit 2); anything else is internal.
    fn from(e: anyhow::Error) -> Self {
        use crate::db::cipher;
        let key_problem = e.chain().any(|c| {
            c.is::<cipher::WrongKey>()
                || c.is::<cipher::PlainDatabase>()
                || c.is::<cipher::KeyFileRefused>()
        });
        if let Some(running) = e
            .chain()
            .find_map(|c| c.downcast_ref::<cipher::KeyChangeRunning>())
        {
            Failure::TryLater(format!("error: {running}"))
        } else if key_problem {
            Failure::Config(format!("{e:#}"))
        } else {
            Failure::Internal(e)
        }
    }
}

impl From<crate::startup::RunError> for Failure {
    fn from(e: crate::startup::RunError) -> Self {
        match e {
            // Token and connection problems are configuration to the operator: one line, exit 2.
            crate::startup::RunError::Discord(e) => Failure::Config(e.to_string()),
            crate::startup::RunError::Other(e) => Failure::from(e),
        }
    }
}

impl From<ServiceError> for Failure {
    fn from(e: ServiceError) -> Self {
        match e {
            ServiceError::User(u) => Failure::User(u.text().to_owned()),
            ServiceError::Duplicate => Failure::User(ServiceError::Duplicate.for_person()),
            ServiceError::Deferred => Failure::TryLater(ServiceError::Deferred.for_person()),
            ServiceError::Internal(e) => Failure::Internal(e),
        }
    }
}

pub async fn dispatch(cli: Cli) -> Result<(), Failure> {
    // Checking templates needs no database, and should work while other settings are still
    // being put in place.
    if let Some(Cmd::Templates {
        command: TemplatesCmd::Check { dir },
    }) = &cli.command
    {
        let dir = dir
            .clone()
            .or_else(|| std::env::var_os("TEMPLATES_DIR").map(std::path::PathBuf::from));
        return templates::check(dir.as_deref());
    }
    // A receipt checked against a given key needs no settings and no database.
    if let Some(Cmd::Receipt {
        command:
            ReceiptCmd::Verify {
                key: Some(key),
                offline,
                file,
            },
    }) = &cli.command
        && (*offline || !proof::database_here())
    {
        return proof::verify_offline(key, file);
    }
    let config = Config::from_env().map_err(|e| Failure::Config(e.to_string()))?;
    let command = cli.command.unwrap_or(Cmd::Run {
        user: None,
        verbose: false,
    });
    if let Cmd::Discord {
        command: DiscordCmd::Commands { format },
    } = &command
    {
        discord::print_commands(*format);
        return Ok(());
    }
    let log = config.log_filter.clone();
    if let Cmd::Db { command } = &command {
        // The file is replaced whole: nothing may have it open, this process included.
        crate::telemetry::init("warn", log.as_deref());
        return match command {
            DbCmd::Encrypt => db::encrypt(&config),
            DbCmd::Rekey { new_key_file } => db::rekey(&config, new_key_file.as_deref()),
        };
    }
    if let Cmd::Bench { command } = command {
        crate::telemetry::init("warn", log.as_deref());
        let out = match command {
            BenchCmd::Rush(opts) => crate::bench::rush(opts).await?,
            BenchCmd::Feed(opts) => crate::bench::feed(opts).await?,
            BenchCmd::Report { requests, database } => {
                crate::bench::report(requests, database).await?
            }
        };
        print!("{out}");
        return Ok(());
    }
    // A person typing at the console: the log goes to a file, not onto their prompt.
    let at_console = match &command {
        Cmd::Run { verbose, .. } => !verbose && config.discord.token.is_none(),
        Cmd::Console { verbose, .. } => !verbose,
        _ => false,
    } && std::io::stdin().is_terminal();
    if let Cmd::IngestMail { maildir: None } = &command {
        crate::telemetry::init_for_mta("warn", log.as_deref());
    } else if at_console {
        let file = config.database_path.with_file_name("dsr-bot.log");
        crate::telemetry::init_to_file("info", log.as_deref(), &file);
    } else {
        crate::telemetry::init(
            match command {
                Cmd::Run { .. } => "info",
                _ => "warn",
            },
            log.as_deref(),
        );
    }
    if let Engine::Postgres(_) = &config.engine {
        return on_postgres(command, &config).await;
    }
    let database = config.database_path.clone();
    run(command, config)
        .await
        .map_err(|f| f.naming_the_database(&database))
}

/// `DATABASE_URL` names a PostgreSQL database. Its schema, its keys and its leases are ready;
/// the use-cases still run on SQLite only, so every other command says so and what to do.
async fn on_postgres(command: Cmd, config: &Config) -> Result<(), Failure> {
    match command {
        Cmd::Migrate => {
            let key = crate::store::postgres::database_key(config)
                .map_err(|e| Failure::Config(format!("{e:#}")))?;
            let Engine::Postgres(url) = &config.engine else {
                unreachable!("called for PostgreSQL only")
            };
            let store = crate::store::postgres::connect(&url.0, &key)
                .await
                .map_err(|e| match e.downcast::<crate::store::postgres::OtherKey>() {
                    Ok(other) => Failure::Config(other.to_string()),
                    Err(e) => Failure::Internal(e),
                })?;
            let applied: i64 =
                sqlx::query_scalar("SELECT COUNT(*) FROM _sqlx_migrations WHERE success")
                    .fetch_one(&store.pool)
                    .await
                    .map_err(anyhow::Error::from)?;
            println!("the PostgreSQL database is up to date ({applied} migrations)");
            Ok(())
        }
        _ => Err(Failure::Config(
            "DATABASE_URL names a PostgreSQL database, where this version only prepares the schema (`dsr-bot migrate`); \
             every other command runs on SQLite so far: unset DATABASE_URL, or set it to sqlite:PATH"
                .into(),
        )),
    }
}

/// Whether `command` only reads the database, so it works on one it cannot write.
fn only_reads(command: &Cmd) -> bool {
    matches!(
        command,
        Cmd::Report {
            command: None | Some(ReportCmd::Check),
            ..
        } | Cmd::Requests {
            command: RequestsCmd::List { .. } | RequestsCmd::Show { .. }
        } | Cmd::Held {
            command: HeldCmd::List | HeldCmd::Show { .. }
        } | Cmd::Keys {
            command: KeysCmd::Public
        } | Cmd::Receipt { .. }
            | Cmd::Log {
                command: LogCmd::Verify
            }
    )
}

async fn run(command: Cmd, config: Config) -> Result<(), Failure> {
    // A new key is written first, so a rotation also starts over from a lost key file; the
    // service then records it as it starts.
    let rotated = match &command {
        Cmd::Keys {
            command: KeysCmd::Rotate { name },
        } => Some(crate::proof::key::rotate(&config, name.as_deref())?),
        _ => None,
    };
    let app = if only_reads(&command) {
        App::build_to_read(config).await?
    } else {
        config
            .make_folders()
            .map_err(|e| Failure::Config(e.to_string()))?;
        App::build(config).await?
    };
    match command {
        Cmd::Run { user, .. } => {
            let name = user
                .or_else(|| std::env::var("USER").ok())
                .unwrap_or_else(|| "local".into());
            app.run(ConsoleUser::parse(&name).map_err(Failure::User)?)
                .await?;
        }
        Cmd::Console { user, .. } => {
            let user = ConsoleUser::parse(&user).map_err(Failure::User)?;
            let interactive = std::io::stdin().is_terminal();
            let stdin = tokio::io::BufReader::new(tokio::io::stdin());
            // Ctrl-C and SIGTERM end it as the end of input does.
            let (stop_tx, stop) = tokio::sync::watch::channel(false);
            tokio::spawn(async move {
                let _ = tokio::signal::ctrl_c().await;
                let _ = stop_tx.send(true);
            });
            crate::console::run(
                &app.services,
                user,
                stdin,
                tokio::io::stdout(),
                interactive,
                stop,
            )
            .await?;
        }
        Cmd::Requests {
            command:
                RequestsCmd::List {
                    state,
                    kind,
                    open,
                    closed,
                    format,
                },
        } => {
            let filter = crate::services::RequestFilter {
                state,
                kind,
                open_only: open,
                closed_only: closed,
                limit: None,
            };
            requests::list(&app, filter, format).await?
        }
        Cmd::Requests {
            command: RequestsCmd::Complete { id },
        } => requests::complete(&app, id).await?,
        Cmd::Requests {
            command: RequestsCmd::Show { id, format },
        } => requests::show(&app, id, format).await?,
        Cmd::Requests {
            command: RequestsCmd::Extend { id, days, reason },
        } => requests::extend(&app, id, days, &reason).await?,
        Cmd::Requests {
            command: RequestsCmd::Note { id, text },
        } => requests::note(&app, id, &text).await?,
        Cmd::Mail {
            command: MailCmd::Flush,
        } => {
            let s = app.outbox_worker()?.flush().await?;
            println!(
                "{} delivered, {} failed (kept for retry)",
                s.delivered, s.failed
            );
        }
        Cmd::Discord { .. } | Cmd::Bench { .. } | Cmd::Templates { .. } | Cmd::Db { .. } => {
            unreachable!("answered before the database is opened")
        }
        Cmd::IngestMail { maildir } => mail::ingest(&app, maildir).await?,
        Cmd::Report {
            command: Some(ReportCmd::Rebuild),
            ..
        } => {
            let n = app.services.reports().rebuild_counts().await?;
            println!("the monthly report's counts were rebuilt from the requests ({n} in all)");
        }
        Cmd::Report {
            command: Some(ReportCmd::Check),
            ..
        } => report_check(&app).await?,
        Cmd::Report {
            command: None,
            month,
            format,
            out,
        } => {
            let month = month
                .map(|m| app.services.reports().parse_month(&m))
                .transpose()
                .map_err(|e| Failure::User(e.text().to_owned()))?;
            let report = app.services.reports().month(month).await?;
            let text = app.services.reports().render(&report, format)?;
            match out {
                Some(path) => {
                    std::fs::write(&path, text)
                        .map_err(|e| anyhow::anyhow!("writing {}: {e}", path.display()))?;
                    eprintln!(
                        "report for {} written to {}",
                        report.figures.month,
                        path.display()
                    );
                }
                None => print!("{text}"),
            }
        }
        Cmd::Import { file } => import::run(&app, &file).await?,
        Cmd::Held { command } => mail::held(&app, command).await?,
        Cmd::Keys { command } => proof::keys(&app, command, rotated).await?,
        Cmd::Receipt {
            command: ReceiptCmd::Verify { key, file, .. },
        } => proof::verify(&app, key.as_deref(), &file).await?,
        Cmd::Log { command } => proof::log(&app, command).await?,
        Cmd::Consumers { command } => consumers::run(&app, command).await?,
        Cmd::Migrate => {
            println!(
                "database {} is up to date",
                app.services.config().database_path.display()
            );
        }
    }
    Ok(())
}

/// `dsr-bot report check`: the kept counts against the requests, month by month.
async fn report_check(app: &App) -> Result<(), Failure> {
    let Some(months) = app.services.reports().check_counts().await? else {
        println!(
            "the monthly report's counts are not kept for REPORT_TIMEZONE yet, so reports read the requests; \
             `dsr-bot report rebuild` builds them"
        );
        return Ok(());
    };
    let differing: Vec<String> = months
        .iter()
        .filter(|(kept, streamed)| kept != streamed)
        .map(|(kept, streamed)| {
            let (k, s) = (
                serde_json::to_value(kept).unwrap_or_default(),
                serde_json::to_value(streamed).unwrap_or_default(),
            );
            let figures: Vec<String> = s
                .as_object()
                .into_iter()
                .flatten()
                .filter(|(name, value)| k.get(name.as_str()) != Some(value))
                .map(|(name, value)| {
                    format!(
                        "{name} {} kept, {value} from the requests",
                        k.get(name.as_str()).cloned().unwrap_or_default()
                    )
                })
                .collect();
            format!("{}: {}", streamed.month, figures.join("; "))
        })
        .collect();
    if differing.is_empty() {
        println!(
            "the monthly report's counts agree with the requests in all {} months",
            months.len()
        );
        Ok(())
    } else {
        Err(Failure::User(format!(
            "the monthly report's counts differ from the requests in {} of {} months:\n{}\n\
             `dsr-bot report rebuild` recomputes them from the requests",
            differing.len(),
            months.len(),
            differing.join("\n")
        )))
    }
}
