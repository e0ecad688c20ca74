//! Use-cases shared by every channel. Each runs as one unit of work ([`uow`]): it validates
//! its input, does all its writes (request, audit event, outbox mail, the input's claim) in one
//! transaction, and returns the text to show the person.
//!
//! [`Services`] is the one entry point: it holds only what every call shares, and each method
//! hands one use-case function (in the module named for it) its unit of work.

mod confirm;
mod email;
mod erasure;
mod file;
pub mod import;
mod limits;
mod mail;
mod officer;
mod operator;
mod people;
mod reports;
mod schedule;
mod status;
mod texts;
mod transitions;
mod uow;

use std::sync::{Arc, atomic::AtomicBool};

use anyhow::Context as _;
use chrono::{DateTime, Utc};
use tokio::sync::Notify;

pub use crate::db::requests::Filter as RequestFilter;
pub use email::Disposition;
pub use officer::{Extended, RequestDetails};
pub use operator::{Completed, ListedRequest};
pub use schedule::ANNOUNCE_DAYS;
pub use uow::{AnswerTo, Call, InputKey, Origin};

use crate::{
    clock::Clock,
    config::Config,
    crypto::Keys,
    db::{self, Database, requests::Request},
    domain::{Actor, Channel, DiscordId, EmailAddress, RequestKind},
    email::{Rendered, Templates, inbound::InboundMail},
    error::ServiceError,
    reports::{Month, Report, render::Format},
};
use uow::{Context, Uow};

/// Where a handled inbound message still lies: an IMAP mailbox (`"UIDVALIDITY UID MAILBOX"`)
/// or a Maildir file (its path).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CopyAt {
    pub source: &'static str,
    pub locator: String,
}

/// A message kept for a person to look at, because it could not be read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HeldMessage {
    pub reason: String,
    /// The whole message's size, even when only its headers are kept.
    pub size: u64,
    pub message: Vec<u8>,
    pub headers_only: bool,
}

/// What a channel shows the person after a successful call.
#[derive(Debug, Clone)]
pub struct Reply {
    pub text: String,
    /// The request the reply is about, when there is one.
    pub request_id: Option<i64>,
    /// A change took effect: channels that can (Discord) send the text as a receipt too.
    pub receipt: bool,
    /// The request's facts, for an answer by mail.
    about: Option<Request>,
}

impl Reply {
    /// A reply about nothing in particular (help, the privacy notice).
    pub fn text(text: String) -> Self {
        Self {
            text,
            request_id: None,
            receipt: false,
            about: None,
        }
    }

    /// The state of the request the reply is about, as the use-case left it.
    pub fn request_state(&self) -> Option<crate::domain::RequestState> {
        self.about.as_ref().map(|r| r.state)
    }

    fn about(req: &Request, text: String) -> Self {
        Self {
            text,
            request_id: Some(req.id),
            receipt: false,
            about: Some(req.clone()),
        }
    }

    fn with_receipt(mut self) -> Self {
        self.receipt = true;
        self
    }
}

#[derive(Clone)]
pub struct Services {
    db: Database,
    ctx: Arc<Context>,
    limiter: limits::ChannelLimiter,
}

impl Services {
    /// Takes an open, migrated database. The hashing key comes from `HASH_KEY`, or is generated
    /// once and kept in the database.
    pub async fn new(
        database: Database,
        config: Arc<Config>,
        clock: Arc<dyn Clock>,
    ) -> anyhow::Result<Self> {
        let key = match &config.hash_key {
            Some(k) => k.0.clone(),
            None => {
                let stored = database
                    .read(|db| Ok(db::settings::get(db, "hash_key")?))
                    .await?;
                let stored = match stored {
                    Some(key) => key,
                    None if database.writable() => {
                        database
                            .write(|db| {
                                Ok::<_, anyhow::Error>(db::settings::get_or_insert(
                                    db,
                                    "hash_key",
                                    &Keys::generate_hex(),
                                )?)
                            })
                            .await?
                    }
                    // Read-only and never written: nothing here was hashed with a key yet.
                    None => Keys::generate_hex(),
                };
                hex::decode(stored).context("the stored hash_key setting is not hex")?
            }
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
        let ctx = Context {
            config,
            clock,
            templates,
            keys: Keys::new(key),
            mail_ready: Arc::new(Notify::new()),
            // A WAL left by a crash may hold what an erasure wiped: fold it in at start.
            wal_scrub_owed: AtomicBool::new(true),
        };
        Ok(Self {
            db: database,
            ctx: Arc::new(ctx),
            limiter: limits::ChannelLimiter::default(),
        })
    }

    pub fn database(&self) -> &Database {
        &self.db
    }

    /// The read pool, for tests and tools that look at the database directly.
    pub fn pool(&self) -> &sqlx::SqlitePool {
        &self.db.pool
    }

    pub fn config(&self) -> &Config {
        &self.ctx.config
    }

    pub fn now(&self) -> DateTime<Utc> {
        self.ctx.now()
    }

    /// Woken whenever a unit of work has put mail in the outbox.
    pub fn mail_ready(&self) -> Arc<Notify> {
        self.ctx.mail_ready.clone()
    }

    /// A time as people read it, in the display time zone.
    pub fn show_time(&self, at: DateTime<Utc>) -> String {
        self.ctx.show_time(at)
    }

    pub fn describe_offset(&self, received: DateTime<Utc>) -> String {
        self.ctx.describe_offset(received)
    }

    /// Runs `f` as one unit of work for `call`.
    async fn run<T, F>(&self, call: Call, f: F) -> Result<T, ServiceError>
    where
        F: FnOnce(&mut Uow<'_>) -> Result<T, ServiceError> + Send + 'static,
        T: Send + 'static,
    {
        uow::run(&self.db, &self.ctx, call, f).await
    }

    /// A member's use-case: counted against the rate limits, run as one unit of work, and
    /// answered by mail in the same unit when the person wrote by mail.
    async fn member<T, F>(&self, origin: &Origin, f: F) -> Result<T, ServiceError>
    where
        F: FnOnce(&mut Uow<'_>, &Actor) -> Result<T, ServiceError> + Send + 'static,
        T: Answers + Send + 'static,
    {
        self.limit(origin.call.channel)?;
        let actor = origin.actor.clone();
        self.run(origin.call.clone(), move |uow| {
            limits::take(uow, limits::Kind::PerMinute, &limits::subject(&actor))?;
            let mut outcome = f(uow, &actor)?;
            let notices = people::take_notices(uow, &actor)?;
            if let Some(reply) = outcome.reply_mut() {
                if !notices.is_empty() {
                    reply.text = format!("{}\n\n{}", notices.join("\n"), reply.text);
                }
                mail::answer(uow, &reply.text, reply.about.as_ref())?;
            }
            Ok(outcome)
        })
        .await
    }

    /// Counts one call on `channel`; refuses it past the limit this process takes per minute.
    fn limit(&self, channel: Channel) -> Result<(), ServiceError> {
        let cfg = self.config();
        Ok(self.limiter.check(
            cfg.limits.per_channel,
            channel,
            self.now(),
            &cfg.limit_messages.per_person,
        )?)
    }

    /// `/optout`, `/optin`, `/delete` (and `/status`), with an optional address to prove.
    pub async fn file_request(
        &self,
        origin: &Origin,
        kind: RequestKind,
        email: Option<EmailAddress>,
    ) -> Result<Reply, ServiceError> {
        self.member(origin, move |uow, actor| {
            file::file_request(uow, actor, kind, email)
        })
        .await
    }

    /// `/verify code:NNNNNN`. A wrong code is counted (and kept) before it is refused.
    pub async fn verify(&self, origin: &Origin, code: &str) -> Result<Reply, ServiceError> {
        let code = code.to_owned();
        match self
            .member(origin, move |uow, actor| confirm::verify(uow, actor, &code))
            .await?
        {
            confirm::Verified::Done(reply) => Ok(reply),
            confirm::Verified::WrongCode(e) => Err(e.into()),
        }
    }

    /// `/confirm`: the second confirmation a deletion needs.
    pub async fn confirm(&self, origin: &Origin) -> Result<Reply, ServiceError> {
        self.member(origin, confirm::confirm).await
    }

    /// `/cancel`: everything still waiting for the person.
    pub async fn cancel(&self, origin: &Origin) -> Result<Reply, ServiceError> {
        self.member(origin, |uow, actor| confirm::cancel(uow, actor, None))
            .await
    }

    /// The Cancel button under a deletion: that one request.
    pub async fn cancel_request(
        &self,
        origin: &Origin,
        request_id: i64,
    ) -> Result<Reply, ServiceError> {
        self.member(origin, move |uow, actor| {
            confirm::cancel(uow, actor, Some(request_id))
        })
        .await
    }

    /// `/status`; the question itself is recorded as a completed status request.
    pub async fn status(&self, origin: &Origin) -> Result<Reply, ServiceError> {
        self.member(origin, status::status).await
    }

    /// `/privacy`: what the policy is, where the deadline stands, what each choice means.
    pub fn privacy_notice(&self) -> String {
        status::privacy_notice(&self.ctx)
    }

    /// Reads one parsed message and does what it safely can, exactly once per message.
    /// `copy` says where the message still lies (a mailbox, a Maildir file), so it can be
    /// removed if its sender is erased.
    pub async fn handle_email(
        &self,
        mail: &InboundMail,
        copy: Option<CopyAt>,
    ) -> Result<Disposition, ServiceError> {
        if self.limit(Channel::Email).is_err() {
            return Ok(Disposition::Deferred);
        }
        let call = Call {
            channel: Channel::Email,
            input: Some(InputKey {
                source: "email",
                key: mail.key.clone(),
            }),
            answer: AnswerTo::Mail {
                to: mail.from.clone(),
                in_reply_to: mail.message_id.clone(),
            },
        };
        let mail = mail.clone();
        let handled = self
            .run(call, move |uow| {
                // Too many from this sender just now: nothing is recorded, the message waits.
                // Any other failure is one: it is not the sender's limit.
                match limits::take(
                    uow,
                    limits::Kind::PerMinute,
                    &format!("email:{}", mail.from.mailbox()),
                ) {
                    Err(ServiceError::User(_)) => return Err(ServiceError::Deferred),
                    other => other?,
                }
                let d = email::handle(uow, &mail)?;
                if let Some(c) = copy {
                    let sender = erasure::sender_hash(uow, mail.from.as_str());
                    db::copies::record(uow.db, &sender, c.source, &c.locator, uow.now)?;
                }
                Ok(d)
            })
            .await;
        match handled {
            Err(ServiceError::Duplicate) => Ok(Disposition::Duplicate),
            Err(ServiceError::Deferred) => Ok(Disposition::Deferred),
            other => other,
        }
    }

    /// A message that could not be read: kept in the database for a person to look at (only
    /// its headers, when it is too large), recorded once under `key`.
    pub async fn hold(
        &self,
        key: &str,
        held: HeldMessage,
        copy: Option<CopyAt>,
    ) -> Result<Disposition, ServiceError> {
        let call = Call::on(Channel::Email).with_input("email", key);
        let sender = crate::email::inbound::sender_of(&held.message);
        let kept = self
            .run(call, move |uow| {
                uow.dispose("held")?;
                let sender = sender.map(|s| erasure::sender_hash(uow, s.as_str()));
                db::held::insert(
                    uow.db,
                    &db::held::NewHeld {
                        reason: &held.reason,
                        size: held.size,
                        sender_hash: sender.as_deref(),
                        message: &held.message,
                        headers_only: held.headers_only,
                    },
                    uow.now,
                )?;
                if let (Some(c), Some(sender)) = (copy, &sender) {
                    db::copies::record(uow.db, sender, c.source, &c.locator, uow.now)?;
                }
                Ok(Disposition::Held)
            })
            .await;
        match kept {
            Err(ServiceError::Duplicate) => Ok(Disposition::Duplicate),
            other => other,
        }
    }

    /// Mail kept for a person to look at, oldest first.
    pub async fn held_mail(&self) -> Result<Vec<db::held::Held>, ServiceError> {
        Ok(self.db.read(|conn| Ok(db::held::list(conn)?)).await?)
    }

    /// One held message as it came (or its headers, when it was too large).
    pub async fn held_message(&self, id: i64) -> Result<Option<Vec<u8>>, ServiceError> {
        Ok(self
            .db
            .read(move |conn| Ok(db::held::message(conn, id)?))
            .await?)
    }

    /// A person looked at a held message and is done with it.
    pub async fn drop_held(&self, id: i64) -> Result<bool, ServiceError> {
        self.run(Call::on(Channel::Console), move |uow| {
            Ok(db::held::delete(uow.db, id)?)
        })
        .await
    }

    /// Copies in `source` of mail from people since erased: (id, locator).
    pub async fn copies_to_purge(
        &self,
        source: &'static str,
    ) -> Result<Vec<(i64, String)>, ServiceError> {
        Ok(self
            .db
            .read(move |conn| Ok(db::copies::to_purge(conn, source)?))
            .await?)
    }

    pub async fn copy_purged(&self, id: i64) -> Result<(), ServiceError> {
        self.run(Call::on(Channel::Email), move |uow| {
            Ok(db::copies::purged(uow.db, id)?)
        })
        .await
    }

    /// A privacy officer has carried out a confirmed deletion (`call` says how they asked):
    /// the person's data is erased and they are told; the WAL is emptied after.
    pub async fn complete_deletion(
        &self,
        call: Call,
        request_id: i64,
    ) -> Result<Completed, ServiceError> {
        let done = self
            .run(call, move |uow| {
                operator::complete_deletion(uow, request_id)
            })
            .await?;
        self.scrub_wal().await;
        Ok(done)
    }

    /// An officer extends a request's due date once, by `days`, for `reason`: the person is
    /// mailed here, and the caller DMs them on Discord where it can.
    pub async fn extend_request(
        &self,
        call: Call,
        request_id: i64,
        days: i64,
        reason: &str,
    ) -> Result<Extended, ServiceError> {
        let reason = reason.to_owned();
        self.run(call, move |uow| {
            officer::extend(uow, request_id, days, &reason)
        })
        .await
    }

    /// An officer's note on a request; returns its number on the request.
    pub async fn add_note(
        &self,
        call: Call,
        request_id: i64,
        text: &str,
    ) -> Result<usize, ServiceError> {
        let text = text.to_owned();
        self.run(call, move |uow| officer::note(uow, request_id, &text))
            .await
    }

    /// One request with its audit trail and notes, for officers.
    pub async fn request_details(
        &self,
        request_id: i64,
    ) -> Result<Option<RequestDetails>, ServiceError> {
        let ctx = self.ctx.clone();
        let now = self.now();
        Ok(self
            .db
            .read(move |conn| officer::details(&ctx, conn, request_id, now))
            .await?)
    }

    /// Reminds, once, the people whose requests wait for them; returns how many mails.
    /// Runs on every round of the mail worker, so it asks a reader first and takes the writer
    /// only when someone is due a reminder.
    pub async fn send_reminders(&self) -> Result<usize, ServiceError> {
        let Some(since) = schedule::remind_received_by(self.config(), self.now()) else {
            return Ok(0);
        };
        let due = self
            .db
            .read(move |conn| Ok(!db::requests::awaiting_unreminded(conn, since)?.is_empty()))
            .await?;
        if !due {
            return Ok(0);
        }
        self.run(Call::on(Channel::Email), |uow| Ok(schedule::remind(uow)?))
            .await
    }

    /// The week whose digest is due now, if one is (see `DIGEST_WEEKDAY`).
    pub fn digest_week(&self) -> Option<String> {
        schedule::digest_week(self.config(), self.now())
    }

    /// Mails `week`'s digest to the officers, once across restarts and instances.
    pub async fn mail_digest(&self, week: &str) -> Result<bool, ServiceError> {
        let week = week.to_owned();
        self.run(Call::on(Channel::Console), move |uow| {
            Ok(schedule::mail_digest(uow, &week)?)
        })
        .await
    }

    /// Claims posting `week`'s digest; the text to post, or `None` when it was posted.
    pub async fn claim_digest_post(&self, week: &str) -> Result<Option<String>, ServiceError> {
        let week = week.to_owned();
        self.run(Call::on(Channel::Console), move |uow| {
            Ok(schedule::claim_digest_post(uow, &week)?)
        })
        .await
    }

    /// Whether the community's size was recorded today.
    pub async fn community_size_known_today(&self) -> Result<bool, ServiceError> {
        let day = schedule::today(self.now());
        Ok(self
            .db
            .read(move |conn| Ok(db::schedule::has_size(conn, &day)?))
            .await?)
    }

    /// Records today's community size; `source` is `discord` or `setting`.
    pub async fn record_community_size(
        &self,
        size: u64,
        source: &'static str,
    ) -> Result<(), ServiceError> {
        self.run(Call::on(Channel::Console), move |uow| {
            Ok(db::schedule::record_size(
                uow.db,
                &schedule::today(uow.now),
                size,
                source,
            )?)
        })
        .await
    }

    /// The announcement due before the policy deadline, claimed; `None` when none is due.
    pub async fn claim_announcement(&self) -> Result<Option<String>, ServiceError> {
        self.run(Call::on(Channel::Console), |uow| {
            Ok(schedule::claim_announcement(uow)?)
        })
        .await
    }

    /// Requests never confirmed within `CONFIRM_WITHIN_HOURS` expire. Returns how many did.
    pub async fn expire_unconfirmed(&self) -> Result<usize, ServiceError> {
        self.run(Call::on(Channel::Console), |uow| {
            Ok(operator::expire_unconfirmed(uow)?)
        })
        .await
    }

    /// Streams the requests `filter` selects, oldest due first, to `each` (on a blocking
    /// thread); memory stays flat however many there are.
    pub async fn list_requests(
        &self,
        filter: RequestFilter,
        mut each: impl FnMut(ListedRequest) -> anyhow::Result<()> + Send + 'static,
    ) -> Result<(), ServiceError> {
        let ctx = self.ctx.clone();
        let now = self.now();
        Ok(self
            .db
            .read(move |conn| {
                db::requests::list(conn, filter, |l| each(ListedRequest::new(&ctx, l, now)))
            })
            .await?)
    }

    /// How many requests `filter` selects, ignoring its limit.
    pub async fn count_requests(&self, filter: RequestFilter) -> Result<i64, ServiceError> {
        Ok(self
            .db
            .read(move |conn| Ok(db::requests::count(conn, filter)?))
            .await?)
    }

    /// The report for `month` (default: the last complete month in `REPORT_TIMEZONE`).
    pub async fn monthly_report(&self, month: Option<Month>) -> Result<Report, ServiceError> {
        let tz = self.config().report_timezone;
        let month = month.unwrap_or_else(|| Month::last_complete(self.now(), tz));
        Ok(crate::reports::gather::report(&self.db, month, tz).await?)
    }

    pub fn render_report(&self, report: &Report, format: Format) -> Result<String, ServiceError> {
        Ok(crate::reports::render::render(
            report,
            format,
            &self.config().policy_name,
            &self.ctx.templates,
        )?)
    }

    /// Every complete month since reports began (the month before the first start), oldest
    /// first, with where its report has gone so far.
    pub async fn report_months(
        &self,
    ) -> Result<Vec<(Month, db::reports::MonthState)>, ServiceError> {
        let tz = self.config().report_timezone;
        let last = Month::last_complete(self.now(), tz);
        self.run(Call::on(Channel::Console), move |uow| {
            let since = db::settings::get_or_insert(uow.db, "reports_since", &last.to_string())?;
            let mut month: Month = since
                .parse()
                .map_err(|e: String| anyhow::anyhow!("settings.reports_since: {e}"))?;
            let mut months = Vec::new();
            while month <= last {
                months.push((month, db::reports::month_state(uow.db, &month.to_string())?));
                month = month.next();
            }
            Ok(months)
        })
        .await
    }

    /// Mails `month`'s report to every privacy officer, once: the month is claimed and its
    /// mails queued in one unit of work, so two instances or a restart never mail it twice.
    /// False when there is no officer to mail it to, or it went before.
    pub async fn mail_report(&self, month: Month, report: &Report) -> Result<bool, ServiceError> {
        let rendered = Rendered {
            subject: format!("Privacy requests report, {month}"),
            text: self.render_report(report, Format::Md)?,
            html: self.render_report(report, Format::Html)?,
        };
        let csv = self.render_report(report, Format::Csv)?;
        let mailed = self
            .run(Call::on(Channel::Console), move |uow| {
                Ok(reports::claim_and_mail(uow, month, &rendered, &csv)?)
            })
            .await?;
        if mailed {
            tracing::info!(month = %month, officers = self.config().privacy_officers.len(), "monthly report mailed");
        }
        Ok(mailed)
    }

    /// Records that `month`'s report was written to `REPORTS_DIR`.
    pub async fn report_written(&self, month: Month) -> Result<(), ServiceError> {
        self.run(Call::on(Channel::Console), move |uow| {
            db::reports::claim_written(uow.db, &month.to_string(), uow.now)?;
            Ok(())
        })
        .await
    }

    /// Claims posting `month`'s report to the staff channel; false when it was posted before.
    pub async fn claim_report_post(&self, month: Month) -> Result<bool, ServiceError> {
        self.run(Call::on(Channel::Console), move |uow| {
            Ok(db::reports::claim_posted(
                uow.db,
                &month.to_string(),
                uow.now,
            )?)
        })
        .await
    }

    /// Imports checked rows in one unit of work, all or none.
    pub async fn import_rows(
        &self,
        rows: Vec<import::ImportRow>,
        progress: impl Fn(usize) + Send + 'static,
    ) -> Result<import::ImportSummary, ServiceError> {
        self.run(Call::on(Channel::Import), move |uow| {
            import::import_rows(uow, &rows, progress)
        })
        .await
    }

    pub async fn setting(&self, name: &str) -> Result<Option<String>, ServiceError> {
        let name = name.to_owned();
        Ok(self
            .db
            .read(move |conn| Ok(db::settings::get(conn, &name)?))
            .await?)
    }

    pub async fn set_setting(&self, name: &str, value: &str) -> Result<(), ServiceError> {
        let (name, value) = (name.to_owned(), value.to_owned());
        self.run(Call::on(Channel::Console), move |uow| {
            Ok(db::settings::set(uow.db, &name, &value)?)
        })
        .await
    }

    /// Stores `value` under `name` unless it is stored already, in one unit of work, so of
    /// several processes only one sees the change. Returns what was stored before when it
    /// changed, `None` when it was already `value`.
    pub async fn replace_setting(
        &self,
        name: &str,
        value: &str,
    ) -> Result<Option<Option<String>>, ServiceError> {
        let (name, value) = (name.to_owned(), value.to_owned());
        self.run(Call::on(Channel::Console), move |uow| {
            let before = db::settings::get(uow.db, &name)?;
            if before.as_deref() == Some(value.as_str()) {
                return Ok(None);
            }
            db::settings::set(uow.db, &name, &value)?;
            Ok(Some(before))
        })
        .await
    }

    /// Puts back what [`Self::replace_setting`] replaced (`None`: nothing was stored).
    pub async fn restore_setting(
        &self,
        name: &str,
        before: Option<String>,
    ) -> Result<(), ServiceError> {
        let name = name.to_owned();
        self.run(Call::on(Channel::Console), move |uow| {
            match before {
                Some(v) => db::settings::set(uow.db, &name, &v)?,
                None => db::settings::delete(uow.db, &name)?,
            }
            Ok(())
        })
        .await
    }

    /// Notes that Discord refused a DM to this person, so no further DM is tried.
    pub async fn mark_dm_closed(&self, id: DiscordId) -> Result<(), ServiceError> {
        self.run(Call::on(Channel::Discord), move |uow| {
            Ok(db::identities::mark_dm_closed(
                uow.db,
                &id.to_string(),
                uow.now,
            )?)
        })
        .await
    }

    /// Whether Discord refused a DM to this person before.
    pub async fn dm_closed(&self, id: DiscordId) -> Result<bool, ServiceError> {
        Ok(self
            .db
            .read(move |conn| {
                Ok(db::identities::find(conn, "discord", &id.to_string())?
                    .is_some_and(|i| i.dm_closed))
            })
            .await?)
    }

    /// Claims the mail that has waited longest among those due now, for `MAIL_LEASE_SECONDS`:
    /// no other sender takes it meanwhile, and it is retried if this one dies mid-send.
    pub async fn claim_mail(&self) -> Result<Option<db::outbox::Mail>, ServiceError> {
        self.run(Call::on(Channel::Email), |uow| {
            let lease = chrono::Duration::seconds(uow.config().mail_lease_seconds);
            Ok(db::outbox::claim_next_due(
                uow.db,
                uow.now,
                uow.now + lease,
            )?)
        })
        .await
    }

    /// The SMTP server took the mail (or the folder holds it): it is sent, and mail to an
    /// erased person loses its address and text at once.
    pub async fn mail_sent(&self, outbox_id: i64) -> Result<(), ServiceError> {
        self.run(Call::on(Channel::Email), move |uow| {
            Ok(db::outbox::mark_sent(uow.db, outbox_id, uow.now)?)
        })
        .await
    }

    /// A delivery failed: the (address-free) reason is kept and the mail waits until `retry_at`.
    pub async fn mail_failed(
        &self,
        outbox_id: i64,
        error: String,
        retry_at: DateTime<Utc>,
    ) -> Result<(), ServiceError> {
        self.run(Call::on(Channel::Email), move |uow| {
            Ok(db::outbox::mark_failed(
                uow.db, outbox_id, &error, retry_at,
            )?)
        })
        .await
    }

    /// Mails whose copy the transport kept is to be removed (their person was erased).
    pub async fn mail_copies_to_forget(&self) -> Result<Vec<i64>, ServiceError> {
        Ok(self
            .db
            .read(|conn| Ok(db::outbox::copies_to_forget(conn)?))
            .await?)
    }

    pub async fn mail_copy_forgotten(&self, outbox_id: i64) -> Result<(), ServiceError> {
        self.run(Call::on(Channel::Email), move |uow| {
            Ok(db::outbox::copy_forgotten(uow.db, outbox_id)?)
        })
        .await
    }

    /// Pushes erased data out of the WAL (a TRUNCATE checkpoint). If readers or the writer
    /// keep the WAL busy, the checkpoint stays owed and [`Self::settle_wal_scrub`] retries it.
    pub async fn scrub_wal(&self) {
        let done = db::checkpoint(&self.db.pool).await;
        self.ctx.owe_wal_scrub(done.is_err());
        if let Err(e) = done {
            tracing::warn!(
                error = format!("{e:#}"),
                "the WAL could not be emptied after an erasure; trying again later"
            );
        }
    }

    /// Retries an owed checkpoint (every outbox flush calls this).
    pub async fn settle_wal_scrub(&self) {
        if self.ctx.wal_scrub_owed() {
            self.scrub_wal().await;
        }
    }
}

/// What a member's use-case returns: the reply to mail back when the person wrote by mail.
trait Answers {
    fn reply_mut(&mut self) -> Option<&mut Reply>;
}

impl Answers for Reply {
    fn reply_mut(&mut self) -> Option<&mut Reply> {
        Some(self)
    }
}

impl Answers for confirm::Verified {
    fn reply_mut(&mut self) -> Option<&mut Reply> {
        match self {
            confirm::Verified::Done(reply) => Some(reply),
            confirm::Verified::WrongCode(_) => None,
        }
    }
}
