//! One unit of work per use-case: who asks ([`Origin`]), on which channel, which redeliverable
//! input, and where the answer goes ([`Call`]) travel in as values; the use-case's statements,
//! its input claim and its outgoing mail run in one transaction on the writer, committed once.
//!
//! A [`Uow`] is what a use-case function receives: the connection, the instant the use-case
//! runs at, the shared context (settings, templates, keys), and the answer address when the
//! person wrote by mail. Nothing above it knows of savepoints or group commit; use-cases reach
//! the store through its seam (`uow.db`, a [`Store`]), and what is not on the seam yet through
//! `uow.db.sqlite()?`, which only SQLite's connection answers.

use std::sync::{
    Arc,
    atomic::{AtomicBool, Ordering},
};

use chrono::{DateTime, Utc};
use tokio::sync::Notify;

use crate::store::Store;
use crate::{
    clock::Clock,
    config::Config,
    crypto::Keys,
    db::{self},
    domain::{Actor, Channel, ConsoleUser, DiscordId, EmailAddress, Language, deadline},
    email::Templates,
    error::ServiceError,
};

/// An input that may be delivered more than once (a Discord interaction, an email): its
/// first unit of work records the key, and any later delivery changes nothing.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InputKey {
    pub source: &'static str,
    pub key: String,
}

/// Where the answer to a use-case goes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AnswerTo {
    /// The channel shows the returned reply (console, Discord).
    Caller,
    /// The person wrote by mail: the answer is mailed back to this address, answering this
    /// Message-ID, in the same transaction.
    Mail {
        to: EmailAddress,
        in_reply_to: Option<String>,
    },
}

/// How a call reached the bot: the channel, the redeliverable input if any, and where the
/// answer goes. Every unit of work has one.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Call {
    pub channel: Channel,
    pub input: Option<InputKey>,
    pub answer: AnswerTo,
    /// The language the caller reads, when the channel says (Discord's locale, a mail's
    /// language); else the request is answered in `DEFAULT_LANGUAGE`.
    pub language: Option<Language>,
}

impl Call {
    /// A call on `channel`, answered where it was made, with no redeliverable input.
    pub fn on(channel: Channel) -> Call {
        Call {
            channel,
            input: None,
            answer: AnswerTo::Caller,
            language: None,
        }
    }

    /// The caller reads `language` (when the channel says which).
    pub fn in_language(mut self, language: Option<Language>) -> Call {
        self.language = language;
        self
    }

    pub fn with_input(mut self, source: &'static str, key: impl ToString) -> Call {
        self.input = Some(InputKey {
            source,
            key: key.to_string(),
        });
        self
    }

    /// A Discord interaction: Discord may deliver it twice, so its id is the input key.
    pub fn discord(interaction_id: u64) -> Call {
        Call::on(Channel::Discord).with_input("discord", interaction_id)
    }

    /// The service itself: the schedule and the workers.
    pub fn system() -> Call {
        Call::on(Channel::System)
    }
}

/// Who acts as a privacy officer, as the channel knows them: checked by the use-case, never
/// by the channel.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Officer {
    /// A Discord member, with the roles they hold in the guild the command came from.
    Discord {
        user: DiscordId,
        /// The guild the command came from; `None` in a DM or a user-installed context.
        guild: Option<u64>,
        roles: Vec<u64>,
        /// Whether Discord says the officer role is one of that guild's (asked when
        /// `DISCORD_GUILD_ID` is unset).
        role_in_guild: bool,
    },
    /// Whoever runs `dsr-bot` on the machine that holds the database and its key.
    Operator,
    /// The service itself (the schedule, the workers).
    System,
}

impl Officer {
    /// How the audit trail names them: a role and a channel, never a name.
    pub fn trail_name(&self) -> &'static str {
        match self {
            Officer::Discord { .. } => "officer on discord",
            Officer::Operator => "operator",
            Officer::System => "system",
        }
    }
}

/// The per-call facts of a member's use-case: who asks, and how the call came.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Origin {
    pub actor: Actor,
    pub call: Call,
}

impl Origin {
    /// `actor` asking on `channel`, answered where they asked, with no redeliverable input.
    pub fn new(actor: &Actor, channel: Channel) -> Origin {
        Origin {
            actor: actor.clone(),
            call: Call::on(channel),
        }
    }

    pub fn console(user: ConsoleUser) -> Origin {
        Origin::new(&Actor::Console(user), Channel::Console)
    }

    /// A member's Discord interaction.
    pub fn discord(user: DiscordId, interaction_id: u64) -> Origin {
        Origin {
            actor: Actor::Discord(user),
            call: Call::discord(interaction_id),
        }
    }

    pub fn with_input(mut self, source: &'static str, key: impl ToString) -> Origin {
        self.call = self.call.with_input(source, key);
        self
    }

    pub fn in_language(mut self, language: Option<Language>) -> Origin {
        self.call = self.call.in_language(language);
        self
    }
}

/// What every unit of work shares: settings, clock, templates, keys, and the bell that wakes
/// the mail worker.
pub struct Context {
    pub config: Arc<Config>,
    pub clock: Arc<dyn Clock>,
    pub templates: Templates,
    pub keys: Keys,
    pub mail_ready: Arc<Notify>,
    /// Woken when a unit of work has queued a DM.
    pub dm_ready: Arc<Notify>,
    /// An erasure's checkpoint could not finish: the WAL may still hold erased data.
    pub wal_scrub_owed: AtomicBool,
    /// The signing key, the keys the log knows, the notice versions.
    pub proof: super::log::Proof,
}

impl Context {
    /// The clock's reading as it is kept: to the microsecond.
    pub fn now(&self) -> DateTime<Utc> {
        deadline::kept(self.clock.now())
    }

    /// A time as people read it, in the display time zone.
    pub fn show_time(&self, at: DateTime<Utc>) -> String {
        at.with_timezone(&self.config.display_timezone)
            .format("%Y-%m-%d %H:%M %Z")
            .to_string()
    }

    pub fn describe_offset(&self, received: DateTime<Utc>) -> String {
        deadline::describe_offset(
            received,
            self.config.policy_deadline,
            self.config.display_timezone,
        )
    }

    /// As [`Self::describe_offset`], in `language`.
    pub fn describe_offset_in(&self, received: DateTime<Utc>, language: Language) -> String {
        deadline::describe_offset_in(
            received,
            self.config.policy_deadline,
            self.config.display_timezone,
            &crate::email::labels::Labels::of(language).offset,
        )
    }

    pub fn owe_wal_scrub(&self, owed: bool) {
        self.wal_scrub_owed.store(owed, Ordering::SeqCst);
    }

    pub fn wal_scrub_owed(&self) -> bool {
        self.wal_scrub_owed.load(Ordering::SeqCst)
    }
}

/// A use-case's view of its unit of work.
pub struct Uow<'a> {
    /// The store, on either engine.
    pub db: &'a dyn Store,
    pub ctx: &'a Context,
    pub call: &'a Call,
    /// The instant the use-case runs at: one clock reading for all it writes.
    pub now: DateTime<Utc>,
    /// Mail was put in the outbox: the worker is woken once the unit is kept.
    pub(super) mailed: bool,
    /// The use-case mailed its own answer to the person, so the standard one is not sent.
    pub(super) answered: bool,
    /// A DM was queued: the bot is woken once the unit is kept.
    pub(super) dmed: bool,
    /// The audit events this unit wrote, with their leaves: what its receipts are made of.
    pub(super) logged: std::cell::RefCell<Vec<super::log::Logged>>,
    /// The language of the request a reply answers, for a request the reply files when the
    /// reply itself does not say its language.
    pub(super) thread_language: Option<Language>,
    /// The language the person chose to be answered in, over every other.
    pub(super) chosen_language: Option<Language>,
}

impl<'a> Uow<'a> {
    pub fn config(&self) -> &'a Config {
        &self.ctx.config
    }

    /// The address the answer is mailed to, when the person wrote by mail.
    pub fn answer_address(&self) -> Option<&'a EmailAddress> {
        match &self.call.answer {
            AnswerTo::Mail { to, .. } => Some(to),
            AnswerTo::Caller => None,
        }
    }

    /// The language this call is answered in, and a new request of it kept in: the one the
    /// person chose, else the call's own (Discord's locale, the mail's), else that of the
    /// request a reply answers, else `DEFAULT_LANGUAGE`.
    pub fn language(&self) -> Language {
        self.chosen_language
            .or(self.call.language)
            .or(self.thread_language)
            .unwrap_or(self.ctx.config.default_language)
    }

    pub fn by_mail(&self) -> bool {
        self.answer_address().is_some()
    }

    /// Records an input as handled (ending as `disposition`) under its keyed hash; false when
    /// it was handled before. Inputs that can come back after a long while (a mail, an import
    /// row) are also looked for under the unkeyed hash used before.
    pub fn claim_input(&self, source: &str, key: &str, disposition: &str) -> anyhow::Result<bool> {
        let keyed = self.ctx.keys.input_hash(source, key);
        let legacy =
            matches!(source, "email" | "import").then(|| db::inputs::legacy_hash(source, key));
        self.db
            .claim_input(&keyed, legacy.as_deref(), source, disposition, self.now)
    }

    /// Changes what this unit's own input ends as.
    pub fn dispose(&self, disposition: &str) -> anyhow::Result<()> {
        if let Some(input) = &self.call.input {
            let keyed = self.ctx.keys.input_hash(input.source, &input.key);
            self.db.set_disposition(&keyed, disposition)?;
        }
        Ok(())
    }

    /// Runs `f` in a savepoint of its own inside this unit: an error undoes what `f` wrote
    /// (and any mail it queued) and leaves the rest of the unit to go on.
    pub fn attempt<T>(
        &mut self,
        f: impl FnOnce(&mut Uow<'a>) -> Result<T, ServiceError>,
    ) -> Result<T, ServiceError> {
        let (mailed, answered, dmed) = (self.mailed, self.answered, self.dmed);
        let logged = self.logged.borrow().len();
        self.db.savepoint()?;
        let result = f(self);
        if result.is_err() {
            self.db.rollback_to_savepoint()?;
            (self.mailed, self.answered, self.dmed) = (mailed, answered, dmed);
            self.logged.borrow_mut().truncate(logged);
        }
        self.db.release_savepoint()?;
        result
    }
}

/// Runs `f` as the unit of work of `call` on the writer: the input is claimed first (a
/// redelivery is refused as [`ServiceError::Duplicate`] and changes nothing), and the mail
/// worker is woken once the unit was kept, if it queued mail.
pub(super) async fn run<T, F>(
    database: &db::Database,
    ctx: &Arc<Context>,
    call: Call,
    f: F,
) -> Result<T, ServiceError>
where
    F: FnOnce(&mut Uow<'_>) -> Result<T, ServiceError> + Send + 'static,
    T: Send + 'static,
{
    let shared = ctx.clone();
    let done = database
        .write(move |db| unit(db, &shared, &call, f))
        .await?;
    Ok(kept(ctx, done))
}

/// As [`run`], on PostgreSQL: the unit is one transaction of its own there (run once: a
/// deadlock PostgreSQL breaks is the caller's error, and changed nothing).
pub(super) async fn run_on_postgres<T, F>(
    store: &crate::store::postgres::PgStore,
    ctx: &Arc<Context>,
    call: Call,
    f: F,
) -> Result<T, ServiceError>
where
    F: FnOnce(&mut Uow<'_>) -> Result<T, ServiceError> + Send + 'static,
    T: Send + 'static,
{
    let shared = ctx.clone();
    let done = store
        .unit_once(move |db| unit(db, &shared, &call, f))
        .await?;
    Ok(kept(ctx, done))
}

/// What a unit did besides its value: it queued mail, it queued a DM.
struct Queued {
    mailed: bool,
    dmed: bool,
}

/// The body of every unit, on either engine: the input claimed first, then `f`.
fn unit<T>(
    db: &dyn Store,
    ctx: &Context,
    call: &Call,
    f: impl FnOnce(&mut Uow<'_>) -> Result<T, ServiceError>,
) -> Result<(T, Queued), ServiceError> {
    let mut uow = Uow {
        db,
        ctx,
        call,
        now: ctx.now(),
        mailed: false,
        answered: false,
        dmed: false,
        logged: Default::default(),
        thread_language: None,
        chosen_language: None,
    };
    if let Some(input) = &call.input
        && !uow.claim_input(input.source, &input.key, "acted")?
    {
        return Err(ServiceError::Duplicate);
    }
    let value = f(&mut uow)?;
    let queued = Queued {
        mailed: uow.mailed,
        dmed: uow.dmed,
    };
    Ok((value, queued))
}

/// Once a unit was kept: the mail worker and the bot are woken if it queued for them.
fn kept<T>(ctx: &Context, (value, queued): (T, Queued)) -> T {
    if queued.mailed {
        ctx.mail_ready.notify_one();
    }
    if queued.dmed {
        ctx.dm_ready.notify_one();
    }
    value
}
