//! Builds the application from its settings and runs it until stopped, supervising every
//! long-running task: each is owned and joined; one that fails or ends by itself stops the
//! process with its cause; Ctrl-C and SIGTERM stop intake, let what is in flight finish, and
//! exit cleanly within a few seconds.

use std::{io::IsTerminal, sync::Arc, time::Duration};

use tokio::{sync::watch, task::JoinSet};

use crate::{
    clock::{Clock, SystemClock},
    config::Config,
    console, db,
    discord::{self, Adapter},
    domain::ConsoleUser,
    email::Mailer,
    services::Services,
    workers::{
        outbox::OutboxWorker,
        schedule::{Channels, NoPoster, Scheduler},
    },
};

/// How long the tasks have to finish what they are doing once the process is asked to stop.
const GRACE: Duration = Duration::from_secs(8);

pub struct App {
    pub services: Services,
}

/// How one supervised task ended.
type Ended = (&'static str, Result<(), RunError>);

impl App {
    /// Opens the database (migrating it) and wires the services with the system clock.
    pub async fn build(config: Config) -> anyhow::Result<App> {
        Self::build_with_clock(config, Arc::new(SystemClock)).await
    }

    /// For commands that only read: a database this process cannot write is opened read-only.
    pub async fn build_to_read(config: Config) -> anyhow::Result<App> {
        let database = db::connect(&config, db::Access::ReadOnly).await?;
        let services = Services::new(database, Arc::new(config), Arc::new(SystemClock)).await?;
        Ok(App { services })
    }

    pub async fn build_with_clock(config: Config, clock: Arc<dyn Clock>) -> anyhow::Result<App> {
        let database = db::connect(&config, db::Access::ReadWrite).await?;
        let services = Services::new(database, Arc::new(config), clock).await?;
        Ok(App { services })
    }

    pub fn outbox_worker(&self) -> anyhow::Result<OutboxWorker> {
        Ok(OutboxWorker::new(
            self.services.clone(),
            Mailer::from_config(self.services.config())?,
        ))
    }

    /// The service: the mail worker and the schedule in the background, and the Discord bot
    /// (with its DM worker) when `DISCORD_TOKEN` is set, or else the console on this terminal
    /// as `console_user`. Runs until a stop signal, the console's end of input, or a task
    /// failing, which is then the error returned.
    pub async fn run(self, console_user: ConsoleUser) -> Result<(), RunError> {
        let cfg = self.services.config().clone();
        if cfg.database_key == crate::config::DatabaseKey::Beside {
            tracing::warn!(
                key_file = %db::cipher::key_file_beside(&cfg.database_path).display(),
                "the database key is kept beside the database: it protects a copy of the database file alone, not a copy of the whole folder; keep the key elsewhere (DATABASE_KEY_FILE on another volume, or DATABASE_KEY from a secret store)"
            );
        }
        let (stop_tx, stop) = watch::channel(false);
        let mut tasks: JoinSet<Ended> = JoinSet::new();
        let mail = self.outbox_worker()?;
        let s = stop.clone();
        tasks.spawn(async move {
            mail.run(s).await;
            ("the mail worker", Ok(()))
        });
        let services = self.services.clone();
        let s = stop.clone();
        tasks.spawn(async move {
            crate::services::log::checkpoint_loop(services, s).await;
            ("the log's checkpoints", Ok(()))
        });
        if let crate::config::HttpBind::WhenNeeded(addr) = cfg.http.bind
            && self
                .services
                .feed()
                .any()
                .await
                .map_err(anyhow::Error::from)?
        {
            let listener = tokio::net::TcpListener::bind(addr).await.map_err(|e| {
                anyhow::anyhow!("the feed's HTTP API cannot listen on {addr} (HTTP_BIND): {e}")
            })?;
            tracing::info!(address = %listener.local_addr().map_err(anyhow::Error::from)?, "the feed's HTTP API listens");
            let (services, s) = (self.services.clone(), stop.clone());
            tasks.spawn(async move {
                let served = crate::http::serve(services, listener, s).await;
                ("the feed's HTTP API", served.map_err(RunError::from))
            });
        }
        let webhooks = crate::workers::webhooks::WebhookWorker::new(self.services.clone())?;
        let s = stop.clone();
        tasks.spawn(async move {
            webhooks.run(s).await;
            ("the webhook deliveries", Ok(()))
        });
        if let Some(url) = &cfg.inbound.imap_url {
            let target = crate::config::ImapTarget::parse(&url.0).map_err(anyhow::Error::msg)?;
            let poller = crate::workers::imap::ImapPoller::new(self.services.clone(), target);
            let s = stop.clone();
            tasks.spawn(async move {
                poller.run(s).await;
                ("the IMAP poller", Ok(()))
            });
            tracing::info!("polling the IMAP mailbox in IMAP_URL");
        }
        let discord_cfg = cfg.discord.clone();
        let mut console_runs = false;
        if let Some(token) = discord_cfg.token.clone() {
            if let Err(e) = discord::bot::check_token(&token.0, &discord_cfg).await {
                stop_everything(&stop_tx, &mut tasks).await;
                return Err(RunError::Discord(e));
            }
            let poster = discord::outbound::ChannelPoster::new(
                discord::bot::http(&token.0, &discord_cfg),
                discord_cfg.guild_id,
            );
            let channels = Channels {
                staff: discord_cfg.report_channel_id,
                announce: cfg.officers.announce_channel_id,
            };
            let schedule = Scheduler::new(self.services.clone(), poster, channels);
            let s = stop.clone();
            tasks.spawn(async move {
                schedule.run(s).await;
                ("the schedule", Ok(()))
            });
            let dms = discord::dms::DmWorker::new(
                self.services.clone(),
                discord::dms::DmSender::new(&token.0, &discord_cfg)?,
            );
            let s = stop.clone();
            tasks.spawn(async move { ("the DM worker", dms.run(s).await.map_err(RunError::from)) });
            let adapter = Arc::new(Adapter::new(self.services.clone()));
            let s = stop.clone();
            tasks.spawn(async move {
                let ran = discord::bot::run(adapter, &token.0, &discord_cfg, s).await;
                ("the Discord connection", ran.map_err(RunError::Discord))
            });
        } else {
            let schedule = Scheduler::new(self.services.clone(), NoPoster, Channels::default());
            let s = stop.clone();
            tasks.spawn(async move {
                schedule.run(s).await;
                ("the schedule", Ok(()))
            });
            let interactive = std::io::stdin().is_terminal();
            match cfg.smtp_url {
                Some(_) => tracing::info!("mail goes to the SMTP server in SMTP_URL"),
                None => {
                    tracing::info!(folder = %cfg.outbox_dir.display(), "mail is written as .eml files")
                }
            }
            if interactive {
                let banner = format!(
                    "dsr-bot is running (no DISCORD_TOKEN set, so the console is this terminal; you are '{}').\n\
                     Type /help for the commands; Ctrl-D or Ctrl-C stops it. Its log is in {} (run -v shows it here).",
                    console_user.as_str(),
                    cfg.database_path.with_file_name("dsr-bot.log").display()
                );
                eprintln!(
                    "{}",
                    crate::domain::layout::wrap(&banner, console::terminal_width())
                );
            }
            let services = self.services.clone();
            let s = stop.clone();
            console_runs = true;
            tasks.spawn(async move {
                let stdin = tokio::io::BufReader::new(tokio::io::stdin());
                let ran = console::run(
                    &services,
                    console_user,
                    stdin,
                    tokio::io::stdout(),
                    interactive,
                    s,
                )
                .await;
                ("the console", ran.map_err(RunError::from))
            });
        }
        let outcome = supervise(&mut tasks, console_runs).await;
        stop_everything(&stop_tx, &mut tasks).await;
        // What the other tasks queued while stopping (the schedule finishes its step) goes
        // too, rather than waiting for the next start.
        match tokio::time::timeout(GRACE, self.outbox_worker()?.flush()).await {
            Ok(Err(e)) => tracing::error!(error = format!("{e:#}"), "the last mail flush failed"),
            Err(_) => {
                tracing::warn!("the last mail flush did not finish; it resumes at the next start")
            }
            Ok(Ok(_)) => {}
        }
        outcome
    }
}

/// Waits for the first of: a stop signal, or a task ending. The console ending (its input
/// ended) is a normal stop; any other task ending, failed or not, is the process's failure.
async fn supervise(tasks: &mut JoinSet<Ended>, console_runs: bool) -> Result<(), RunError> {
    let signal = async {
        #[cfg(unix)]
        {
            let mut term =
                tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())?;
            tokio::select! {
                r = tokio::signal::ctrl_c() => r.map(|()| "Ctrl-C"),
                _ = term.recv() => Ok("SIGTERM"),
            }
        }
        #[cfg(not(unix))]
        {
            tokio::signal::ctrl_c().await.map(|()| "Ctrl-C")
        }
    };
    tokio::select! {
        sig = signal => {
            tracing::info!(signal = sig.unwrap_or("a signal"), "stopping");
            Ok(())
        }
        Some(joined) = tasks.join_next() => match joined {
            Ok(("the console", Ok(()))) if console_runs => Ok(()),
            Ok((name, Ok(()))) => Err(RunError::Other(anyhow::anyhow!("{name} stopped by itself"))),
            Ok((name, Err(e))) => Err(e.context(name)),
            Err(e) => Err(RunError::Other(anyhow::anyhow!("a task of the service died: {e}"))),
        },
    }
}

/// Tells every task to stop and waits for them, [`GRACE`] at most: units of work in flight
/// commit, the mail worker makes a last pass. What is still running then is dropped.
async fn stop_everything(stop: &watch::Sender<bool>, tasks: &mut JoinSet<Ended>) {
    let _ = stop.send(true);
    let drained = tokio::time::timeout(GRACE, async {
        while let Some(joined) = tasks.join_next().await {
            match joined {
                Ok((name, Err(e))) => {
                    tracing::error!(
                        task = name,
                        error = format!("{e:#}"),
                        "stopped with an error"
                    )
                }
                Err(e) if e.is_panic() => tracing::error!(error = %e, "a task panicked"),
                _ => {}
            }
        }
    })
    .await;
    if drained.is_err() {
        tracing::warn!(
            "some work did not finish within the grace period; it resumes at the next start"
        );
        tasks.abort_all();
    }
}

#[derive(Debug, thiserror::Error)]
pub enum RunError {
    #[error(transparent)]
    Discord(#[from] discord::bot::StartError),
    #[error(transparent)]
    Other(#[from] anyhow::Error),
}

impl RunError {
    fn context(self, what: &'static str) -> RunError {
        match self {
            RunError::Other(e) => RunError::Other(e.context(format!("{what} failed"))),
            discord => discord,
        }
    }
}

impl From<std::io::Error> for RunError {
    fn from(e: std::io::Error) -> Self {
        RunError::Other(e.into())
    }
}
