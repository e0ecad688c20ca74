//! Builds the application from its settings and runs it until stopped.

use std::{io::IsTerminal, sync::Arc};

use anyhow::Context;

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

pub struct App {
    pub services: Services,
}

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

    /// The service: the mail worker in the background, and the Discord bot when
    /// `DISCORD_TOKEN` is set, or else the console on this terminal as `console_user`. Stops at
    /// Ctrl-C (or the console's end of input), after a last mail flush.
    pub async fn run(self, console_user: ConsoleUser) -> Result<(), RunError> {
        if self.services.config().database_key == crate::config::DatabaseKey::Beside {
            tracing::warn!(
                key_file = %crate::db::cipher::key_file_beside(&self.services.config().database_path).display(),
                "the database key is kept beside the database: it protects a copy of the database file alone, not a copy of the whole folder; keep the key elsewhere (DATABASE_KEY_FILE on another volume, or DATABASE_KEY from a secret store)"
            );
        }
        let (stop_tx, stop_rx) = tokio::sync::watch::channel(false);
        let worker = tokio::spawn(self.outbox_worker()?.run(stop_rx.clone()));
        if let Some(url) = &self.services.config().inbound.imap_url {
            let target = crate::config::ImapTarget::parse(&url.0).map_err(anyhow::Error::msg)?;
            let poller = crate::workers::inbox::ImapPoller::new(self.services.clone(), target);
            tokio::spawn(poller.run(stop_rx.clone()));
            tracing::info!("polling the IMAP mailbox in IMAP_URL");
        }
        let discord = self.services.config().discord.clone();
        if let Some(token) = discord.token.clone() {
            if let Err(e) = discord::bot::check_token(&token.0, &discord).await {
                let _ = stop_tx.send(true);
                worker.await.context("the mail worker stopped abnormally")?;
                return Err(RunError::Discord(e));
            }
            let poster = discord::outbound::ChannelPoster::new(
                discord::bot::http(&token.0, &discord),
                discord.guild_id,
            );
            let channels = Channels {
                staff: discord.report_channel_id,
                announce: self.services.config().officers.announce_channel_id,
            };
            let schedule = Scheduler::new(self.services.clone(), poster, channels);
            tokio::spawn(schedule.run(stop_rx.clone()));
            let adapter = Arc::new(Adapter::new(self.services.clone()));
            let bot = discord::bot::run(adapter, &token.0, &discord, stop_rx);
            let result = tokio::select! {
                r = bot => r,
                _ = tokio::signal::ctrl_c() => { tracing::info!("stopping on Ctrl-C"); Ok(()) }
            };
            let _ = stop_tx.send(true);
            worker.await.context("the mail worker stopped abnormally")?;
            return result.map_err(RunError::Discord);
        }
        tokio::spawn(
            Scheduler::new(self.services.clone(), NoPoster, Channels::default())
                .run(stop_rx.clone()),
        );
        let interactive = std::io::stdin().is_terminal();
        match self.services.config().smtp_url {
            Some(_) => tracing::info!("mail goes to the SMTP server in SMTP_URL"),
            None => {
                tracing::info!(folder = %self.services.config().outbox_dir.display(), "mail is written as .eml files")
            }
        }
        if interactive {
            eprintln!(
                "dsr-bot is running (no DISCORD_TOKEN set, so the console is this terminal; you are '{}').\n\
                 Type /help for the commands, Ctrl-D to stop.",
                console_user.as_str()
            );
        }
        let stdin = tokio::io::BufReader::new(tokio::io::stdin());
        tokio::select! {
            r = console::run(&self.services, console_user, stdin, tokio::io::stdout(), interactive) => r?,
            _ = tokio::signal::ctrl_c() => tracing::info!("stopping on Ctrl-C"),
        }
        let _ = stop_tx.send(true);
        worker.await.context("the mail worker stopped abnormally")?;
        Ok(())
    }
}

#[derive(Debug, thiserror::Error)]
pub enum RunError {
    #[error(transparent)]
    Discord(#[from] discord::bot::StartError),
    #[error(transparent)]
    Other(#[from] anyhow::Error),
}

impl From<std::io::Error> for RunError {
    fn from(e: std::io::Error) -> Self {
        RunError::Other(e.into())
    }
}
