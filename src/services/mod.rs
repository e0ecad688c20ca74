//! Use-cases shared by every channel. Each runs as one unit of work ([`uow`]): it validates
//! its input, does all its writes (request, audit event, outbox mail and DMs, the input's
//! claim) in one transaction, and returns what to show the person.
//!
//! [`Services`] is a thin facade: it holds what every call shares ([`shared::Shared`]) and
//! exposes the use-cases, a member's directly and the rest grouped by who uses them
//! ([`Services::requests`] for officers, [`Services::inbound`] for mail sources,
//! [`Services::outbox`] and [`Services::receipts`] for delivery, [`Services::reports`],
//! [`Services::routines`] for the schedule, [`Services::settings`]). Each group and each
//! use-case lives in the module named for it, with its readers; nothing here runs SQL.

mod completion;
mod confirm;
mod email;
mod erasure;
pub mod feed;
mod file;
pub mod import;
mod inbound;
mod limits;
pub mod log;
mod mail;
mod officer;
mod outbox;
mod people;
mod receipts;
mod reply;
mod reports;
mod requests;
mod routines;
mod settings;
mod shared;
mod status;
pub(crate) mod texts;
mod transitions;
mod uow;

use std::sync::{Arc, atomic::AtomicBool};

use anyhow::Context as _;
use chrono::{DateTime, Utc};
use tokio::sync::Notify;

pub use crate::db::requests::Filter as RequestFilter;
pub use completion::Completed;
pub use email::Disposition;
pub use inbound::{CopyAt, HeldMessage, Inbound};
pub use officer::{Extended, ListedRequest, RequestDetails, ShownEvent, ShownNote, note_added};
pub use outbox::Outbox;
pub use receipts::Receipts;
pub use reply::Reply;
pub use reports::Reports;
pub use requests::Requests;
pub use routines::{ANNOUNCE_DAYS, Routines};
pub use settings::Settings;
pub use uow::{AnswerTo, Call, InputKey, Officer, Origin};

use crate::{
    clock::Clock,
    config::Config,
    crypto::Keys,
    db::Database,
    domain::{EmailAddress, MemberCommand, RequestKind},
    email::Templates,
    error::ServiceError,
};
use shared::Shared;
use uow::Context;

#[derive(Clone)]
pub struct Services {
    shared: Shared,
}

impl Services {
    /// Takes an open, migrated database. The hashing key comes from `HASH_KEY`, or is generated
    /// once and kept in the database.
    pub async fn new(
        database: Database,
        config: Arc<Config>,
        clock: Arc<dyn Clock>,
    ) -> anyhow::Result<Self> {
        Self::build(database, config, clock, true).await
    }

    /// As [`Services::new`] with no log: events get no leaves and replies no receipts. Only
    /// `bench rush --no-log` uses it, to measure what the log costs.
    pub async fn without_log(
        database: Database,
        config: Arc<Config>,
        clock: Arc<dyn Clock>,
    ) -> anyhow::Result<Self> {
        Self::build(database, config, clock, false).await
    }

    async fn build(
        database: Database,
        config: Arc<Config>,
        clock: Arc<dyn Clock>,
        log_on: bool,
    ) -> anyhow::Result<Self> {
        let key = match &config.hash_key {
            Some(k) => hex::encode(&k.0),
            None => settings::hash_key(&database).await?,
        };
        let templates = Templates::load(config.officers.templates_dir.as_deref())?;
        if let Some(dir) = &config.officers.templates_dir {
            // An override that parses can still fail on render (a misspelt field): found now,
            // not when a person's request is being answered.
            let problems = crate::reports::render::check_all(&templates, Vec::new());
            if !problems.is_empty() {
                let list: Vec<String> = problems.iter().map(ToString::to_string).collect();
                anyhow::bail!(
                    "the templates in TEMPLATES_DIR ({}) do not render:\n{}\n`dsr-bot templates check` lists every problem",
                    dir.display(),
                    list.join("\n")
                );
            }
        }
        let mut proof = log::Proof::load(&database, &config).await?;
        proof.enabled = log_on;
        let ctx = Context {
            proof,
            config,
            clock,
            templates,
            keys: Keys::new(hex::decode(key).context("the stored hash_key setting is not hex")?),
            mail_ready: Arc::new(Notify::new()),
            dm_ready: Arc::new(Notify::new()),
            // A WAL left by a crash may hold what an erasure wiped: fold it in at start.
            wal_scrub_owed: AtomicBool::new(true),
        };
        let shared = Shared {
            db: database,
            ctx: Arc::new(ctx),
            limiter: limits::ChannelLimiter::default(),
            units_on: None,
        };
        log::start(&shared).await?;
        feed::start(&shared).await?;
        Ok(Self { shared })
    }

    /// These services with their units of work on PostgreSQL, through the store seam: a
    /// use-case's every write, and the reads it makes inside its unit, go to `store`. Reads
    /// outside units (listings, reports, `/status`'s consumers) and what is not on the seam
    /// yet stay on SQLite, so `dsr-bot run` does not use this: it is how the tests run the
    /// same use-cases on both engines while the rest moves over.
    /// The notice versions this process shows are kept there first.
    pub async fn with_units_on_postgres(
        &self,
        store: crate::store::postgres::PgStore,
    ) -> anyhow::Result<Services> {
        let mut shared = self.shared.clone();
        shared.units_on = Some(store);
        log::record_notices(&shared).await?;
        Ok(Services { shared })
    }

    pub fn database(&self) -> &Database {
        &self.shared.db
    }

    /// The read pool, for tests and tools that look at the database directly.
    pub fn pool(&self) -> &sqlx::SqlitePool {
        &self.shared.db.pool
    }

    pub fn config(&self) -> &Config {
        &self.shared.ctx.config
    }

    pub fn now(&self) -> DateTime<Utc> {
        self.shared.now()
    }

    /// The clock the services read (the leases on SQLite expire by it).
    pub fn clock(&self) -> Arc<dyn Clock> {
        self.shared.ctx.clock.clone()
    }

    /// Woken whenever a unit of work has put mail in the outbox.
    pub fn mail_ready(&self) -> Arc<Notify> {
        self.shared.ctx.mail_ready.clone()
    }

    /// Woken whenever a unit of work has queued a DM.
    pub fn dm_ready(&self) -> Arc<Notify> {
        self.shared.ctx.dm_ready.clone()
    }

    /// A short tag proving `payload` (a button's custom id) was made here; see
    /// [`Self::tag_matches`].
    pub fn tag(&self, payload: &str) -> String {
        self.shared.ctx.keys.tag(payload)
    }

    pub fn tag_matches(&self, payload: &str, tag: &str) -> bool {
        self.shared.ctx.keys.tag_matches(payload, tag)
    }

    /// A time as people read it, in the display time zone.
    pub fn show_time(&self, at: DateTime<Utc>) -> String {
        self.shared.ctx.show_time(at)
    }

    pub fn describe_offset(&self, received: DateTime<Utc>) -> String {
        self.shared.ctx.describe_offset(received)
    }

    /// A member's command, from any channel: the one dispatch every channel goes through.
    pub async fn dispatch(
        &self,
        origin: &Origin,
        command: MemberCommand,
    ) -> Result<Reply, ServiceError> {
        match command {
            MemberCommand::OptOut { email } => {
                self.file_request(origin, RequestKind::OptOut, email).await
            }
            MemberCommand::OptIn { email } => {
                self.file_request(origin, RequestKind::OptIn, email).await
            }
            MemberCommand::Delete { email } => {
                self.file_request(origin, RequestKind::Deletion, email)
                    .await
            }
            MemberCommand::Confirm => self.confirm(origin).await,
            MemberCommand::Cancel => self.cancel(origin).await,
            MemberCommand::CancelRequest { request_id } => {
                self.cancel_request(origin, request_id).await
            }
            MemberCommand::Verify { code } => self.verify(origin, &code).await,
            MemberCommand::Status => self.status(origin).await,
            MemberCommand::Privacy {
                language: Some(language),
            } => self.choose_language(origin, language).await,
            MemberCommand::Privacy { language: None } => {
                let language = self.language_of(origin).await;
                Ok(Reply::text(status::privacy_notice(
                    &self.shared.ctx,
                    origin.call.channel,
                    language,
                )))
            }
            MemberCommand::Help => {
                let language = self.language_of(origin).await;
                Ok(Reply::text(texts::say(language, "help", &[])))
            }
        }
    }

    /// `/optout`, `/optin`, `/delete` (and `/status`), with an optional address to prove.
    pub async fn file_request(
        &self,
        origin: &Origin,
        kind: RequestKind,
        email: Option<EmailAddress>,
    ) -> Result<Reply, ServiceError> {
        self.shared
            .member(origin, move |uow, actor| {
                file::file_request(uow, actor, kind, email)
            })
            .await
    }

    /// `/verify code:NNNNNN`. A wrong code is counted (and kept) before it is refused.
    pub async fn verify(&self, origin: &Origin, code: &str) -> Result<Reply, ServiceError> {
        let code = code.to_owned();
        match self
            .shared
            .member(origin, move |uow, actor| confirm::verify(uow, actor, &code))
            .await?
        {
            confirm::Verified::Done(reply) => Ok(reply),
            confirm::Verified::WrongCode(e) => Err(e.into()),
        }
    }

    /// `/confirm`: the second confirmation a deletion needs.
    pub async fn confirm(&self, origin: &Origin) -> Result<Reply, ServiceError> {
        self.shared.member(origin, confirm::confirm).await
    }

    /// `/cancel`: everything still waiting for the person.
    pub async fn cancel(&self, origin: &Origin) -> Result<Reply, ServiceError> {
        self.shared
            .member(origin, |uow, actor| confirm::cancel(uow, actor, None))
            .await
    }

    /// The Cancel button under a deletion: that one request.
    pub async fn cancel_request(
        &self,
        origin: &Origin,
        request_id: i64,
    ) -> Result<Reply, ServiceError> {
        self.shared
            .member(origin, move |uow, actor| {
                confirm::cancel(uow, actor, Some(request_id))
            })
            .await
    }

    /// `/status`; the question itself is recorded as a completed status request.
    pub async fn status(&self, origin: &Origin) -> Result<Reply, ServiceError> {
        self.shared.member(origin, status::status).await
    }

    /// `/privacy`: what the policy is, where the deadline stands, what each choice means.
    pub fn privacy_notice(&self) -> String {
        status::privacy_notice(
            &self.shared.ctx,
            crate::domain::Channel::Console,
            self.config().default_language,
        )
    }

    /// `/privacy language:xx`: the person is answered in `language` from now on, about their
    /// open requests too; the answer is the notice in that language.
    pub async fn choose_language(
        &self,
        origin: &Origin,
        language: crate::domain::Language,
    ) -> Result<Reply, ServiceError> {
        let channel = origin.call.channel;
        self.shared
            .member(origin, move |uow, actor| {
                people::choose_language(uow, actor, language)?;
                uow.chosen_language = Some(language);
                let language = texts::language(uow);
                let notice = status::privacy_notice(uow.ctx, channel, language);
                let said = texts::say(language, "language_set", &[]);
                Ok(Reply::text(format!("{said}\n\n{notice}")))
            })
            .await
    }

    /// The language `origin` is answered in: the one the person chose, else the call's, else
    /// `DEFAULT_LANGUAGE` (for answers given outside a unit of work). A choice that cannot be
    /// read is logged and passed over: the answer still goes, in the call's language.
    pub async fn language_of(&self, origin: &Origin) -> crate::domain::Language {
        let actor = origin.actor.clone();
        let chosen = self
            .shared
            .read(move |db, _| people::chosen_language(db, &actor))
            .await
            .unwrap_or_else(|e| {
                tracing::error!(error = %format!("{e:#}"), "the chosen language could not be read");
                None
            });
        chosen
            .or(origin.call.language)
            .unwrap_or(self.config().default_language)
    }

    /// Imports checked rows in one unit of work, all or none.
    pub async fn import_rows(
        &self,
        rows: Vec<import::ImportRow>,
        progress: impl Fn(usize) + Send + 'static,
    ) -> Result<import::ImportSummary, ServiceError> {
        self.shared
            .run(Call::on(crate::domain::Channel::Import), move |uow| {
                import::import_rows(uow, &rows, progress)
            })
            .await
    }

    /// What officers do with requests: list, show, complete, extend, note, expire.
    pub fn requests(&self) -> Requests<'_> {
        Requests(&self.shared)
    }

    /// Mail coming in: read and acted on, or held; and its copies left in mailboxes.
    pub fn inbound(&self) -> Inbound<'_> {
        Inbound(&self.shared)
    }

    /// The mail outbox, for the worker that delivers it.
    pub fn outbox(&self) -> Outbox<'_> {
        Outbox(&self.shared)
    }

    /// The log: checkpoints, the keys, and the checks of receipts and of the whole log.
    pub fn log(&self) -> log::Log<'_> {
        log::Log(&self.shared)
    }

    /// DM receipts, for the bot that delivers them.
    pub fn feed(&self) -> feed::Feed<'_> {
        feed::Feed(&self.shared)
    }

    pub fn receipts(&self) -> Receipts<'_> {
        Receipts(&self.shared)
    }

    /// The monthly reports: computed, rendered, and sent once.
    pub fn reports(&self) -> Reports<'_> {
        Reports(&self.shared)
    }

    /// The schedule's routines: reminders, digests, the community's size, announcements.
    pub fn routines(&self) -> Routines<'_> {
        Routines(&self.shared)
    }

    /// Settings kept in the database (claimed once across processes).
    pub fn settings(&self) -> Settings<'_> {
        Settings(&self.shared)
    }
}
