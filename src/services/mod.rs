//! Use-cases shared by every channel. Each validates its input, does all its writes (request,
//! audit event, outbox mail) in one transaction, and returns the text to show the person.

mod confirm;
mod email;
mod file;
pub mod import;
pub mod limits;
mod operator;
mod people;
mod reports;
mod status;
mod transitions;

use std::sync::{
    Arc,
    atomic::{AtomicBool, Ordering},
};

use anyhow::Context;
use chrono::{DateTime, Utc};
use sqlx::{SqliteConnection, SqlitePool};
use tokio::sync::Notify;

pub use email::Disposition;
pub use operator::{Completed, ListedRequest};

use crate::{
    clock::Clock,
    config::Config,
    crypto::Keys,
    db::{self, outbox::NewMail, requests::Request},
    domain::EmailAddress,
    domain::deadline,
    email::{MailContext, ReplyContext, Templates, message::new_message_id},
};

/// What a channel shows the person after a successful call.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reply {
    pub text: String,
    /// The request the reply is about, when there is one.
    pub request_id: Option<i64>,
    /// A change took effect: channels that can (Discord) send the text as a receipt too.
    pub receipt: bool,
}

impl Reply {
    fn about(request_id: i64, text: String) -> Self {
        Self {
            text,
            request_id: Some(request_id),
            receipt: false,
        }
    }

    fn with_receipt(mut self) -> Self {
        self.receipt = true;
        self
    }
}

#[derive(Clone)]
pub struct Services {
    pool: SqlitePool,
    writer: db::group::Writer,
    config: Arc<Config>,
    clock: Arc<dyn Clock>,
    templates: Arc<Templates>,
    keys: Keys,
    mail_ready: Arc<Notify>,
    /// An erasure's checkpoint could not finish: the WAL may still hold erased data.
    wal_scrub_owed: Arc<AtomicBool>,
    /// Set by `for_input`: the redeliverable input this call handles.
    input: Option<(&'static str, Arc<str>)>,
    limiter: limits::RateLimiter,
    /// Set by `for_email`: the reply goes by mail to this address, answering this Message-ID.
    email_answer: Option<Arc<(EmailAddress, Option<String>)>>,
}

impl Services {
    /// Takes an open, migrated pool. The hashing key comes from `HASH_KEY`, or is generated once
    /// and kept in the database.
    pub async fn new(
        database: db::Database,
        config: Arc<Config>,
        clock: Arc<dyn Clock>,
    ) -> anyhow::Result<Self> {
        let key = match &config.hash_key {
            Some(k) => k.clone(),
            None => {
                let mut conn = database.pool.acquire().await?;
                let stored =
                    db::settings::get_or_insert(&mut conn, "hash_key", &Keys::generate_hex())
                        .await?;
                hex::decode(stored).context("the stored hash_key setting is not hex")?
            }
        };
        Ok(Self {
            pool: database.pool,
            writer: database.writer,
            config,
            clock,
            templates: Arc::new(Templates::load()?),
            keys: Keys::new(key),
            mail_ready: Arc::new(Notify::new()),
            // A WAL left by a crash may hold what an erasure wiped: fold it in at start.
            wal_scrub_owed: Arc::new(AtomicBool::new(true)),
            input: None,
            limiter: limits::RateLimiter::default(),
            email_answer: None,
        })
    }

    /// Pushes erased data out of the WAL (a TRUNCATE checkpoint). If readers or the writer
    /// keep the WAL busy, the checkpoint stays owed and [`Self::settle_wal_scrub`] retries it.
    pub async fn scrub_wal(&self) {
        let done = db::checkpoint(&self.pool).await;
        self.wal_scrub_owed.store(done.is_err(), Ordering::SeqCst);
        if let Err(e) = done {
            tracing::warn!(
                error = format!("{e:#}"),
                "the WAL could not be emptied after an erasure; trying again later"
            );
        }
    }

    /// Retries an owed checkpoint (every outbox flush calls this).
    pub async fn settle_wal_scrub(&self) {
        if self.wal_scrub_owed.load(Ordering::SeqCst) {
            self.scrub_wal().await;
        }
    }

    /// The same services, for one input that may be delivered more than once (a Discord
    /// interaction id, an email Message-ID): its first write records the key in the same
    /// transaction, and any later delivery is refused without effect.
    pub fn for_input(&self, source: &'static str, key: &str) -> Services {
        Services {
            input: Some((source, Arc::from(key))),
            ..self.clone()
        }
    }

    /// The same services, answering one inbound email: the input is its key, and each
    /// use-case's reply is mailed back to the sender in the use-case's own transaction.
    pub fn for_email(
        &self,
        key: &str,
        sender: &EmailAddress,
        message_id: Option<&str>,
    ) -> Services {
        Services {
            email_answer: Some(Arc::new((sender.clone(), message_id.map(str::to_owned)))),
            ..self.for_input("email", key)
        }
    }

    /// Commits a use-case: for an email, its reply is queued first, in the same transaction.
    async fn finish(
        &self,
        mut tx: db::group::WriteTx,
        text: &str,
        req: Option<&Request>,
    ) -> Result<(), crate::error::ServiceError> {
        if let Some(answer) = &self.email_answer {
            self.queue_reply(&mut tx, &answer.0, text, req).await?;
        }
        // The input, if any, was recorded as acted on when it was claimed.
        tx.commit().await?;
        self.mail_ready.notify_one();
        Ok(())
    }

    /// The answer to an email: the reply text, and the request's facts when there is one.
    async fn queue_reply(
        &self,
        conn: &mut SqliteConnection,
        to: &EmailAddress,
        text: &str,
        req: Option<&Request>,
    ) -> anyhow::Result<()> {
        let ctx = ReplyContext {
            organisation: self.config.organisation_name.clone(),
            policy: self.config.policy_name.clone(),
            message: text.to_owned(),
            privacy_address: self.config.inbound.reply_address.to_string(),
            request: req.map(|r| self.mail_context(r, None)),
        };
        let rendered = self.templates.render("reply", &ctx)?;
        self.insert_mail(conn, "reply", req, to.as_str(), &rendered, false)
            .await
    }

    /// Counts one request by `actor` (or an email sender) on `channel`; refuses it past the
    /// configured limits.
    fn limit(
        &self,
        who: &str,
        channel: crate::domain::Channel,
    ) -> Result<(), crate::error::ServiceError> {
        let cfg = &self.config;
        Ok(self.limiter.check(
            cfg.limits,
            who,
            channel,
            self.now(),
            &cfg.rate_limit_message,
        )?)
    }

    fn limit_actor(
        &self,
        actor: &crate::domain::Actor,
        channel: crate::domain::Channel,
    ) -> Result<(), crate::error::ServiceError> {
        if self.email_answer.is_some() {
            // Counted once per message when it came in.
            return Ok(());
        }
        let (kind, value) = actor.identity();
        self.limit(&format!("{kind}:{value}"), channel)
    }

    /// Starts a use-case's write transaction, claiming the input key when there is one (as
    /// acted on: a use-case that does not commit takes the claim back with it).
    async fn begin(&self) -> Result<db::group::WriteTx, crate::error::ServiceError> {
        self.begin_as("acted").await
    }

    /// As [`Self::begin`], recording the input as ending in `disposition`.
    async fn begin_as(
        &self,
        disposition: &str,
    ) -> Result<db::group::WriteTx, crate::error::ServiceError> {
        let mut tx = self.writer.begin().await?;
        if let Some((source, key)) = &self.input
            && !db::inputs::claim(&mut tx, source, key, disposition, self.now()).await?
        {
            return Err(crate::error::ServiceError::Duplicate);
        }
        Ok(tx)
    }

    pub fn pool(&self) -> &SqlitePool {
        &self.pool
    }

    pub fn config(&self) -> &Config {
        &self.config
    }

    pub fn now(&self) -> DateTime<Utc> {
        self.clock.now()
    }

    /// Woken whenever a transaction has put mail in the outbox.
    pub fn mail_ready(&self) -> Arc<Notify> {
        self.mail_ready.clone()
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

    fn mail_context(&self, req: &Request, code: Option<String>) -> MailContext {
        let kind = req.kind();
        MailContext {
            privacy_address: self.config.inbound.reply_address.to_string(),
            organisation: self.config.organisation_name.clone(),
            policy: self.config.policy_name.clone(),
            request_id: req.id,
            kind: kind.as_str(),
            kind_label: kind.label(),
            received: self.show_time(req.received_at),
            offset: self.describe_offset(req.received_at),
            due: self.show_time(req.due_at),
            retention_opted_in: self.config.retention_opted_in.clone(),
            retention_opted_out: self.config.retention_opted_out.clone(),
            code,
            code_ttl_minutes: self.config.code_ttl_minutes,
        }
    }

    /// Renders a mail about a request and puts it in the outbox, inside the caller's transaction.
    async fn queue_mail(
        &self,
        conn: &mut SqliteConnection,
        template: &str,
        req: &Request,
        recipient: &str,
        code: Option<String>,
        scrub_after_send: bool,
    ) -> anyhow::Result<()> {
        let rendered = self
            .templates
            .render(template, &self.mail_context(req, code))?;
        self.insert_mail(
            conn,
            template,
            Some(req),
            recipient,
            &rendered,
            scrub_after_send,
        )
        .await
    }

    /// Every mail about a request carries a fresh reply token (in its Reply-To), tied to the
    /// request and the recipient; a mail answering an email says so in In-Reply-To.
    async fn insert_mail(
        &self,
        conn: &mut SqliteConnection,
        template: &str,
        req: Option<&Request>,
        recipient: &str,
        rendered: &crate::email::Rendered,
        scrub_after_send: bool,
    ) -> anyhow::Result<()> {
        let now = self.now();
        let token = match req {
            Some(r) => {
                let token = crate::crypto::new_reply_token();
                let expires = now + chrono::Duration::days(i64::from(self.config.response_days));
                db::reply_tokens::insert(conn, &token, r.id, recipient, now, expires).await?;
                Some(token)
            }
            None => None,
        };
        let in_reply_to = self
            .email_answer
            .as_ref()
            .filter(|a| a.0.as_str() == recipient)
            .and_then(|a| a.1.clone());
        let message_id = new_message_id(&self.config.mail_from);
        let mail = NewMail {
            message_id: &message_id,
            person_id: req.map(|r| r.person_id),
            request_id: req.map(|r| r.id),
            template,
            recipient,
            subject: &rendered.subject,
            body_text: &rendered.text,
            body_html: &rendered.html,
            scrub_after_send,
            reply_token: token.as_deref(),
            in_reply_to: in_reply_to.as_deref(),
            attachment: None,
        };
        db::outbox::insert(conn, &mail, now)
            .await
            .context("queueing mail")?;
        Ok(())
    }

    /// Sends the receipt for a confirmed request to each of the person's proven addresses.
    async fn queue_receipts(
        &self,
        conn: &mut SqliteConnection,
        req: &Request,
        template: &str,
    ) -> anyhow::Result<usize> {
        let mut emails = db::identities::verified_emails(conn, req.person_id).await?;
        // Someone writing by email gets the reply instead, with the same facts.
        if let Some(answer) = &self.email_answer {
            emails.retain(|e| e != answer.0.as_str());
        }
        for email in &emails {
            self.queue_mail(conn, template, req, email, None, false)
                .await?;
        }
        Ok(emails.len())
    }
}
