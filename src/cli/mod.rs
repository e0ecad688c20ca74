//! Command-line interface: dispatch here, the argument schema in [`args`], each subcommand's
//! work in the module named for it.

mod args;
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

pub use args::*;
pub use mta::{MailLog, for_mta, is_mta_pipe};

use crate::{
    config::{Config, Engine},
    domain::ConsoleUser,
    error::ServiceError,
    startup::App,
};

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
            BenchCmd::Seam(opts) => crate::bench::seam(opts).await?,
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
