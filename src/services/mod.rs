//! Use-cases shared by every channel. Each validates its input, does all its writes (request,
//! audit event, outbox mail) in one transaction, and returns the text to show the person.

mod confirm;
mod file;
mod operator;
mod people;
mod status;
mod transitions;

use std::sync::Arc;

use anyhow::Context;
use chrono::{DateTime, Utc};
use sqlx::{SqliteConnection, SqlitePool};
use tokio::sync::Notify;

pub use operator::{Completed, KindStateCount, ListedRequest};

use crate::{
    clock::Clock,
    config::Config,
    crypto::Keys,
    db::{self, outbox::NewMail, requests::Request},
    domain::deadline,
    email::{MailContext, Templates, message::new_message_id},
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
    config: Arc<Config>,
    clock: Arc<dyn Clock>,
    templates: Arc<Templates>,
    keys: Keys,
    mail_ready: Arc<Notify>,
    /// Set by `for_input`: the redeliverable input this call handles.
    input: Option<(&'static str, Arc<str>)>,
}

impl Services {
    /// Takes an open, migrated pool. The hashing key comes from `HASH_KEY`, or is generated once
    /// and kept in the database.
    pub async fn new(
        pool: SqlitePool,
        config: Arc<Config>,
        clock: Arc<dyn Clock>,
    ) -> anyhow::Result<Self> {
        let key = match &config.hash_key {
            Some(k) => k.clone(),
            None => {
                let mut conn = pool.acquire().await?;
                let stored =
                    db::settings::get_or_insert(&mut conn, "hash_key", &Keys::generate_hex())
                        .await?;
                hex::decode(stored).context("the stored hash_key setting is not hex")?
            }
        };
        Ok(Self {
            pool,
            config,
            clock,
            templates: Arc::new(Templates::load()?),
            keys: Keys::new(key),
            mail_ready: Arc::new(Notify::new()),
            input: None,
        })
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

    /// Starts a use-case's write transaction, claiming the input key when there is one.
    async fn begin(
        &self,
    ) -> Result<sqlx::Transaction<'static, sqlx::Sqlite>, crate::error::ServiceError> {
        let mut tx = db::begin_write(&self.pool).await?;
        if let Some((source, key)) = &self.input
            && !db::inputs::claim(&mut tx, source, key, self.now()).await?
        {
            return Err(crate::error::UserError::new(
                "This was already handled; doing it again changes nothing. /status shows where things stand.",
            )
            .into());
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

    /// Renders a mail and puts it in the outbox, inside the caller's transaction.
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
        let message_id = new_message_id(&self.config.mail_from);
        let mail = NewMail {
            message_id: &message_id,
            person_id: Some(req.person_id),
            request_id: Some(req.id),
            template,
            recipient,
            subject: &rendered.subject,
            body_text: &rendered.text,
            body_html: &rendered.html,
            scrub_after_send,
        };
        db::outbox::insert(conn, &mail, self.now())
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
        let emails = db::identities::verified_emails(conn, req.person_id).await?;
        for email in &emails {
            self.queue_mail(conn, template, req, email, None, false)
                .await?;
        }
        Ok(emails.len())
    }
}
