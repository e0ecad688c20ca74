//! What privacy officers do with requests, from any channel: list and show them, carry out a
//! deletion, extend a due date, add a note; and what the system does to them (expire what
//! was never confirmed). Every officer action names its [`Officer`] and is checked here.

use super::{
    completion::{self, Completed},
    officer::{self, Extended, ListedRequest, RequestDetails},
    outbox,
    shared::Shared,
    uow::{Call, Officer},
};
use crate::{
    config::Config,
    db::{self, requests::Filter},
    error::{ServiceError, UserError},
};

pub struct Requests<'a>(pub(super) &'a Shared);

/// Whether `officer` may act as one here; the audit trail's name for them when they may.
pub fn authorize(officer: &Officer, cfg: &Config) -> Result<&'static str, UserError> {
    if let Officer::Discord {
        guild,
        roles,
        role_in_guild,
        ..
    } = officer
    {
        let Some(role) = cfg.discord.officer_role_id else {
            return Err(UserError::new(
                "No privacy-officer role is set up. The bot's operator sets PRIVACY_OFFICER_ROLE_ID.",
            ));
        };
        if !roles.contains(&role) {
            return Err(UserError::new(
                "Only members with the privacy-officer role can use this command.",
            ));
        }
        let in_our_guild = match cfg.discord.guild_id {
            Some(ours) => *guild == Some(ours),
            None => guild.is_some() && *role_in_guild,
        };
        if !in_our_guild {
            return Err(UserError::new(
                "Officer commands work only in the community's own server.",
            ));
        }
    }
    Ok(officer.trail_name())
}

impl Requests<'_> {
    /// Streams the requests `filter` selects, oldest due first, to `each` (on a blocking
    /// thread); memory stays flat however many there are.
    ///
    /// Reading the rows and saying them are two threads, handing batches of rows over a
    /// short queue: on a machine with a second core a long listing takes about as long as
    /// the longer of the two instead of both, and the queue keeps memory flat.
    pub async fn list(
        &self,
        officer: &Officer,
        filter: Filter,
        mut each: impl FnMut(ListedRequest) -> anyhow::Result<()> + Send + 'static,
    ) -> Result<(), ServiceError> {
        /// Rows per batch, and batches waiting: a few hundred kilobytes at most.
        const BATCH: usize = 512;
        const WAITING: usize = 4;
        authorize(officer, &self.0.ctx.config)?;
        let now = self.0.now();
        let ctx = self.0.ctx.clone();
        let (batches, arriving) =
            std::sync::mpsc::sync_channel::<Vec<db::requests::Listed>>(WAITING);
        let sayer = tokio::task::spawn_blocking(move || {
            for batch in arriving {
                for l in batch {
                    each(ListedRequest::new(&ctx, l, now))?;
                }
            }
            anyhow::Ok(())
        });
        let read = self
            .0
            .read(move |conn, _| {
                let mut batch = Vec::with_capacity(BATCH);
                let hand_over = |batch: Vec<_>| {
                    batches
                        .send(batch)
                        .map_err(|_| anyhow::anyhow!("the listing stopped taking rows"))
                };
                db::requests::list(conn, filter, |l| {
                    batch.push(l);
                    if batch.len() == BATCH {
                        hand_over(std::mem::replace(&mut batch, Vec::with_capacity(BATCH)))?;
                    }
                    Ok(())
                })?;
                if !batch.is_empty() {
                    hand_over(batch)?;
                }
                Ok(())
            })
            .await;
        // The reader's sender is gone with its closure, so the sayer ends; its own error
        // (stdout closed, say) is the cause of any the reader met handing rows over.
        let said = sayer.await.map_err(anyhow::Error::from)?;
        said?;
        read
    }

    /// How many requests `filter` selects, ignoring its limit.
    pub async fn count(&self, officer: &Officer, filter: Filter) -> Result<i64, ServiceError> {
        authorize(officer, &self.0.ctx.config)?;
        self.0
            .read(move |conn, _| Ok(db::requests::count(conn, filter)?))
            .await
    }

    /// One request with its audit trail and notes.
    pub async fn details(
        &self,
        officer: &Officer,
        request_id: i64,
    ) -> Result<Option<RequestDetails>, ServiceError> {
        authorize(officer, &self.0.ctx.config)?;
        let now = self.0.now();
        self.0
            .read(move |conn, ctx| officer::details(ctx, conn, request_id, now))
            .await
    }

    /// Carries out a confirmed deletion (`call` says how it was asked for): the person's data
    /// is erased and they are told by mail and DM; the WAL is emptied after.
    pub async fn complete(
        &self,
        call: Call,
        officer: &Officer,
        request_id: i64,
    ) -> Result<Completed, ServiceError> {
        let actor = authorize(officer, &self.0.ctx.config)?;
        let done = self
            .0
            .run(call, move |uow| {
                completion::complete_deletion(uow, actor, request_id)
            })
            .await?;
        outbox::settle_erasure(self.0).await;
        Ok(done)
    }

    /// Extends a request's due date once, by `days`, for `reason`: the person is told by mail
    /// and DM in the same unit of work.
    pub async fn extend(
        &self,
        call: Call,
        officer: &Officer,
        request_id: i64,
        days: i64,
        reason: &str,
    ) -> Result<Extended, ServiceError> {
        let actor = authorize(officer, &self.0.ctx.config)?;
        let reason = reason.to_owned();
        self.0
            .run(call, move |uow| {
                officer::extend(uow, actor, request_id, days, &reason)
            })
            .await
    }

    /// An officer's note on a request; returns its number on the request.
    pub async fn note(
        &self,
        call: Call,
        officer: &Officer,
        request_id: i64,
        text: &str,
    ) -> Result<usize, ServiceError> {
        let actor = authorize(officer, &self.0.ctx.config)?;
        let text = text.to_owned();
        self.0
            .run(call, move |uow| {
                officer::note(uow, actor, request_id, &text)
            })
            .await
    }

    /// Requests never confirmed within `CONFIRM_WITHIN_HOURS` expire. Returns how many did.
    pub async fn expire_unconfirmed(&self) -> Result<usize, ServiceError> {
        self.0
            .run(Call::system(), |uow| {
                Ok(completion::expire_unconfirmed(uow)?)
            })
            .await
    }
}
