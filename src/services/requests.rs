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
    pub async fn list(
        &self,
        officer: &Officer,
        filter: Filter,
        mut each: impl FnMut(ListedRequest) -> anyhow::Result<()> + Send + 'static,
    ) -> Result<(), ServiceError> {
        authorize(officer, &self.0.ctx.config)?;
        let now = self.0.now();
        self.0
            .read(move |conn, ctx| {
                db::requests::list(conn, filter, |l| each(ListedRequest::new(ctx, l, now)))
            })
            .await
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
        outbox::scrub_wal(self.0).await;
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
