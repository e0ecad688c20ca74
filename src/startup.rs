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
    store::lease,
    workers::{
        outbox::OutboxWorker,
        schedule::{Channels, NoPoster, Scheduler},
    },
};

/// How long the tasks have to finish what they are doing once the process is asked to stop.
const GRACE: Duration = Duration::from_secs(8);

/// The least time between two starts of the Discord connection in one process, should it
/// lose the leader lease and take it back: each start identifies anew.
const IDENTIFY_GAP: Duration = Duration::from_secs(6);

/// A leader's term at least this long is steady: the next one waits [`IDENTIFY_GAP`] again
/// rather than twice the last wait, which grows up to this.
const STEADY: Duration = Duration::from_secs(600);

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
        // One process among those sharing the database leads: it runs the schedule, the log's
        // checkpoints and, unless DISCORD_SHARDS splits the gateway between processes, the
        // Discord connection. The others serve everything else (mail, DMs, IMAP, the feed) and
        // wait to take over. The first look is awaited, so a leader's first step runs even if
        // the process is asked to stop at once (`dsr-bot run < /dev/null` runs the schedule once).
        let (leading, campaign) = self.campaign(&cfg).await;
        let mail = self.outbox_worker()?;
        let s = stop.clone();
        tasks.spawn(async move {
            mail.run(s).await;
            ("the mail worker", Ok(()))
        });
        let services = self.services.clone();
        let lead = Lead {
            leading,
            stop: stop.clone(),
        };
        lead.spawn(
            &mut tasks,
            "the log's checkpoints",
            Duration::ZERO,
            move |term| {
                let services = services.clone();
                async move {
                    crate::services::log::checkpoint_loop(services, term).await;
                    Ok(())
                }
            },
        );
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
                campaign.end().await;
                return Err(RunError::Discord(e));
            }
            let channels = Channels {
                staff: discord_cfg.report_channel_id,
                announce: cfg.officers.announce_channel_id,
            };
            let (services, settings, key) =
                (self.services.clone(), discord_cfg.clone(), token.clone());
            lead.spawn(&mut tasks, "the schedule", Duration::ZERO, move |term| {
                let poster = discord::outbound::ChannelPoster::new(
                    discord::bot::http(&key.0, &settings),
                    settings.guild_id,
                );
                let schedule = Scheduler::new(services.clone(), poster, channels);
                async move {
                    schedule.run(term).await;
                    Ok(())
                }
            });
            let dms = discord::dms::DmWorker::new(
                self.services.clone(),
                discord::dms::DmSender::new(&token.0, &discord_cfg)?,
            );
            let s = stop.clone();
            tasks.spawn(async move { ("the DM worker", dms.run(s).await.map_err(RunError::from)) });
            let adapter = Arc::new(Adapter::new(self.services.clone()));
            let gateway = move |term| {
                let (adapter, token, settings) =
                    (adapter.clone(), token.clone(), discord_cfg.clone());
                async move {
                    discord::bot::run(adapter, &token.0, &settings, term)
                        .await
                        .map_err(RunError::Discord)
                }
            };
            if cfg.discord.shards.is_some() {
                // The operator split the gateway: this process runs its shards, leading or not.
                let s = stop.clone();
                tasks.spawn(async move { ("the Discord connection", gateway(s).await) });
            } else {
                lead.spawn(&mut tasks, "the Discord connection", IDENTIFY_GAP, gateway);
            }
        } else {
            let services = self.services.clone();
            lead.spawn(&mut tasks, "the schedule", Duration::ZERO, move |term| {
                let schedule = Scheduler::new(services.clone(), NoPoster, Channels::default());
                async move {
                    schedule.run(term).await;
                    Ok(())
                }
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
        campaign.end().await;
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

impl App {
    /// Campaigns for the leader lease until [`Campaign::end`]; the receiver says whether this
    /// process holds it now. Returns once the first look has answered.
    async fn campaign(&self, cfg: &Config) -> (watch::Receiver<Option<lease::Held>>, Campaign) {
        let leases = lease::Leases::Sqlite {
            database: self.services.database().clone(),
            clock: self.services.clock(),
        };
        let ttl = Duration::from_secs(cfg.leader_lease_seconds);
        let (holding, mut leading) = watch::channel(None);
        let (stop, s) = watch::channel(false);
        let task = tokio::spawn(async move {
            lease::campaign(leases, lease::LEADER, &lease::new_holder(), ttl, holding, s).await;
        });
        // An Err is the campaign ended already (it panicked): the leader's work then ends.
        let _ = leading.changed().await;
        (leading, Campaign { stop, task })
    }
}

/// The campaign for the leader lease, kept apart from the other tasks: the lease is given up
/// only once the leader's work has stopped, so the next leader never overlaps it.
struct Campaign {
    stop: watch::Sender<bool>,
    task: tokio::task::JoinHandle<()>,
}

impl Campaign {
    /// Gives the lease up (another process takes it at its next look).
    async fn end(mut self) {
        let _ = self.stop.send(true);
        if tokio::time::timeout(GRACE, &mut self.task).await.is_err() {
            tracing::warn!("the leader lease could not be given up in time; it lapses by itself");
        }
    }
}

impl Drop for Campaign {
    /// On an early return too, the lease is given up rather than left to lapse.
    fn drop(&mut self) {
        let _ = self.stop.send(true);
    }
}

/// What the leader's tasks watch: whether this process leads, and whether it is stopping.
struct Lead {
    leading: watch::Receiver<Option<lease::Held>>,
    stop: watch::Receiver<bool>,
}

impl Lead {
    /// Spawns `work`, named `what`, to run while this process leads ([`while_leading`]).
    fn spawn<F, Fut>(&self, tasks: &mut JoinSet<Ended>, what: &'static str, gap: Duration, work: F)
    where
        F: FnMut(watch::Receiver<bool>) -> Fut + Send + 'static,
        Fut: std::future::Future<Output = Result<(), RunError>> + Send,
    {
        let (leading, stop) = (self.leading.clone(), self.stop.clone());
        tasks.spawn(async move { (what, while_leading(leading, stop, what, gap, work).await) });
    }
}

/// Runs the leader's `work` while this process holds the leader lease: from the moment it
/// takes it until it loses it (when `work` is told to stop and awaited) or the process stops.
/// Should the lease come back, `work` starts anew, never sooner than `gap` after it last
/// started, and twice as long after each further term shorter than [`STEADY`] (up to that):
/// Discord limits how often a bot may identify, and a lease that flaps must not spend a day's
/// identifies in hours. `work` ending by itself ends this.
async fn while_leading<F, Fut>(
    mut leading: watch::Receiver<Option<lease::Held>>,
    mut stop: watch::Receiver<bool>,
    what: &'static str,
    gap: Duration,
    mut work: F,
) -> Result<(), RunError>
where
    F: FnMut(watch::Receiver<bool>) -> Fut,
    Fut: std::future::Future<Output = Result<(), RunError>>,
{
    let mut started: Option<tokio::time::Instant> = None;
    // The wait before the next start, and the one after it should this term be short too.
    let (mut wait, mut backoff) = (gap, gap);
    loop {
        tokio::select! {
            // Held, it runs even when the process is already stopping: its first step is done.
            biased;
            held = leading.wait_for(Option::is_some) => if held.is_err() { return Ok(()) },
            _ = stop.wait_for(|s| *s) => return Ok(()),
        }
        if let Some(at) = started {
            tokio::select! {
                _ = tokio::time::sleep_until(at + wait) => {}
                _ = stop.wait_for(|s| *s) => return Ok(()),
            }
            if leading.borrow().is_none() {
                continue;
            }
        }
        let now = tokio::time::Instant::now();
        started = Some(now);
        tracing::info!(task = what, "this process leads: it runs {what}");
        let (term_tx, term) = watch::channel(false);
        let mut running = std::pin::pin!(work(term));
        tokio::select! {
            ended = &mut running => return ended,
            _ = leading.wait_for(Option::is_none) => {}
            _ = stop.wait_for(|s| *s) => {}
        }
        let _ = term_tx.send(true);
        let ended = running.await;
        if *stop.borrow() {
            return ended;
        }
        ended?;
        (wait, backoff) = if now.elapsed() < STEADY {
            (backoff, (backoff * 2).min(STEADY))
        } else {
            (gap, gap * 2)
        };
        tracing::warn!(
            task = what,
            "the leader lease was lost: {what} stopped here, for the process that holds it now"
        );
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

#[cfg(test)]
mod tests {
    use std::sync::{
        Arc,
        atomic::{AtomicUsize, Ordering},
    };

    use super::*;

    fn held(generation: i64) -> Option<lease::Held> {
        Some(lease::Held {
            name: lease::LEADER.into(),
            holder: "this process".into(),
            generation,
        })
    }

    type Work = std::pin::Pin<Box<dyn Future<Output = Result<(), RunError>> + Send>>;

    /// The instants `work` started at, and how many times it ended.
    #[derive(Clone, Default)]
    struct Runs {
        starts: Arc<std::sync::Mutex<Vec<tokio::time::Instant>>>,
        ends: Arc<AtomicUsize>,
    }

    impl Runs {
        fn started(&self) -> usize {
            self.starts.lock().unwrap().len()
        }

        fn ended(&self) -> usize {
            self.ends.load(Ordering::SeqCst)
        }

        /// `work` as the leader runs it: noted when it starts and ends, ending when told to.
        fn work(&self) -> impl FnMut(watch::Receiver<bool>) -> Work + use<> {
            let runs = self.clone();
            move |mut term| {
                runs.starts
                    .lock()
                    .unwrap()
                    .push(tokio::time::Instant::now());
                let ends = runs.ends.clone();
                Box::pin(async move {
                    let _ = term.wait_for(|t| *t).await;
                    ends.fetch_add(1, Ordering::SeqCst);
                    Ok(())
                })
            }
        }
    }

    async fn until(what: &str, f: impl Fn() -> bool) {
        for _ in 0..500 {
            if f() {
                return;
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        panic!("{what} did not happen");
    }

    #[tokio::test]
    async fn the_leaders_work_runs_only_while_the_lease_is_held_and_restarts_no_sooner_than_the_gap()
     {
        let (holding, leading) = watch::channel(None);
        let (stop_tx, stop) = watch::channel(false);
        let runs = Runs::default();
        let gap = Duration::from_secs(1);
        let task = tokio::spawn(while_leading(
            leading,
            stop,
            "the test's work",
            gap,
            runs.work(),
        ));
        tokio::time::sleep(Duration::from_millis(100)).await;
        assert_eq!(runs.started(), 0, "it ran without the lease");

        holding.send_replace(held(1));
        until("the first start", || runs.started() == 1).await;
        holding.send_replace(None);
        until("the work to be told to stop", || runs.ended() == 1).await;
        // Back and gone again within the gap: nothing starts.
        holding.send_replace(held(2));
        tokio::time::sleep(Duration::from_millis(20)).await;
        holding.send_replace(None);
        tokio::time::sleep(gap).await;
        assert_eq!(runs.started(), 1, "started without the lease");

        holding.send_replace(held(3));
        until("the second start", || runs.started() == 2).await;
        // A second short term: the next start waits twice as long.
        holding.send_replace(None);
        until("the work to be told to stop", || runs.ended() == 2).await;
        holding.send_replace(held(4));
        until("the third start", || runs.started() == 3).await;
        let starts = runs.starts.lock().unwrap().clone();
        assert!(starts[1] - starts[0] >= gap, "started again within the gap");
        assert!(
            starts[2] - starts[1] >= 2 * gap,
            "a flapping lease did not slow the starts"
        );

        stop_tx.send_replace(true);
        task.await.unwrap().unwrap();
        assert_eq!(runs.ended(), 3, "the process stopping stopped the work");
        assert_eq!(runs.started(), 3);
    }

    #[tokio::test]
    async fn a_leader_asked_to_stop_before_its_work_began_still_runs_it_once() {
        let (_holding, leading) = watch::channel(held(1));
        let (_stop_tx, stop) = watch::channel(true);
        let runs = Runs::default();
        while_leading(
            leading,
            stop,
            "the test's work",
            Duration::ZERO,
            runs.work(),
        )
        .await
        .unwrap();
        assert_eq!((runs.started(), runs.ended()), (1, 1));
    }
}
