//! What every call shares (the database, the context of settings, clock, templates and keys,
//! and this process's limiter), and the two ways a use-case runs on it: as a unit of work for
//! a call, or as a member's unit of work (limited, and answered by mail when they wrote by
//! mail).

use std::sync::Arc;

use chrono::{DateTime, Utc};

use super::{
    limits, mail, people,
    reply::Answers,
    uow::{self, Call, Context, Origin, Uow},
};
use crate::{
    db::{Conn, Database},
    domain::{Actor, Channel},
    error::ServiceError,
    proof::receipt::Style,
};

#[derive(Clone)]
pub struct Shared {
    pub(super) db: Database,
    pub(super) ctx: Arc<Context>,
    pub(super) limiter: limits::ChannelLimiter,
    /// Where units of work run when not on SQLite's writer (see
    /// [`super::Services::with_units_on_postgres`]).
    pub(super) units_on: Option<crate::store::postgres::PgStore>,
}

impl Shared {
    pub(super) fn now(&self) -> DateTime<Utc> {
        self.ctx.now()
    }

    /// Runs `f` as one unit of work for `call`.
    pub(super) async fn run<T, F>(&self, call: Call, f: F) -> Result<T, ServiceError>
    where
        F: FnOnce(&mut Uow<'_>) -> Result<T, ServiceError> + Send + 'static,
        T: Send + 'static,
    {
        match &self.units_on {
            Some(store) => uow::run_on_postgres(store, &self.ctx, call, f).await,
            None => uow::run(&self.db, &self.ctx, call, f).await,
        }
    }

    /// Runs `f` on one snapshot of the database (a reader, never the writer).
    pub(super) async fn read<T, F>(&self, f: F) -> Result<T, ServiceError>
    where
        F: FnOnce(&Conn, &Context) -> anyhow::Result<T> + Send + 'static,
        T: Send + 'static,
    {
        let ctx = self.ctx.clone();
        Ok(self.db.read(move |conn| f(conn, &ctx)).await?)
    }

    /// Runs `f` on a consistent view of the store the units run on: one of SQLite's readers
    /// (a snapshot, never the writer), or with the units on PostgreSQL a transaction there of
    /// its own, which writes nothing.
    pub(super) async fn read_store<T, F>(&self, f: F) -> Result<T, ServiceError>
    where
        F: FnOnce(&dyn crate::store::Store, &Context) -> anyhow::Result<T> + Send + 'static,
        T: Send + 'static,
    {
        let ctx = self.ctx.clone();
        match &self.units_on {
            Some(store) => Ok(store.unit_once(move |u| f(u, &ctx)).await?),
            None => Ok(self.db.read(move |conn| f(conn, &ctx)).await?),
        }
    }

    /// A member's use-case: counted against the rate limits, run as one unit of work, and
    /// answered by mail in the same unit when the person wrote by mail.
    pub(super) async fn member<T, F>(&self, origin: &Origin, f: F) -> Result<T, ServiceError>
    where
        F: FnOnce(&mut Uow<'_>, &Actor) -> Result<T, ServiceError> + Send + 'static,
        T: Answers + Send + 'static,
    {
        self.limit(origin.call.channel)?;
        let actor = origin.actor.clone();
        let mut outcome = self
            .run(origin.call.clone(), move |uow| {
                uow.chosen_language = people::chosen_language(uow.db, &actor)?;
                // A refusal is written in the words the person reads here.
                let language = super::texts::language(uow);
                limits::take(uow, limits::Kind::PerMinute, &limits::subject(&actor))
                    .map_err(|e| e.written_in(language))?;
                let mut outcome = f(uow, &actor).map_err(|e| e.written_in(language))?;
                let notices = people::take_notices(uow, &actor)?;
                if let Some(reply) = outcome.reply_mut() {
                    if !notices.is_empty() {
                        reply.text = format!("{}\n\n{}", notices.join("\n"), reply.text);
                    }
                    // A receipt for each request this unit wrote an event about: in the reply, in
                    // the mail answering it and in the DM, signed where each leaves the service.
                    // A change the person is to get a receipt of, even when this unit recorded
                    // nothing new (an address linked to a choice made before): that request's.
                    let about = reply.request_id.filter(|_| reply.receipt);
                    reply.text = super::log::with_receipts(uow, &reply.text, about)?;
                    reply.receipts = super::log::receipts_for(uow, &reply.text)?;
                    mail::answer_as(uow, &reply.text, reply.about.as_ref(), reply.lists)?;
                    super::receipts::queue(uow, &actor, reply)?;
                }
                Ok(outcome)
            })
            .await?;
        // Signed here, on the caller's thread, not the writer's.
        if let Some(reply) = outcome.reply_mut() {
            let style = match origin.call.channel {
                Channel::Discord => Style::Discord,
                _ => Style::Plain,
            };
            reply.text = self.ctx.proof.seal(&reply.text, style, &reply.receipts);
        }
        Ok(outcome)
    }

    /// Counts one call on `channel`; refuses it past the limit this process takes per minute.
    pub(super) fn limit(&self, channel: Channel) -> Result<(), ServiceError> {
        let cfg = &self.ctx.config;
        Ok(self.limiter.check(
            cfg.limits.per_channel,
            channel,
            self.now(),
            cfg.limit_messages.per_person.as_deref(),
        )?)
    }
}
