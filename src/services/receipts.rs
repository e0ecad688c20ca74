//! Receipts on Discord: the one place that decides whether a DM is sent. A DM is only ever a
//! receipt for something done for the person (Discord forbids unsolicited DMs); it is queued in
//! the same unit of work as the change, and the bot delivers it with retries. A member whose
//! DMs are known to be closed (Discord error 50007) is never sent one: the reply says so.

use chrono::{DateTime, Duration, Utc};

use super::{reply::Reply, shared::Shared, uow::Uow};
use crate::store::dms::{Dm, NewDm};
use crate::{
    db,
    domain::{Actor, DiscordId, Language},
    error::ServiceError,
    proof::receipt::Style,
};

/// How long a receipt is retried before it is given up (Standard Webhooks retry for about
/// three days; a receipt is worth no less).
pub const GIVE_UP_AFTER: Duration = Duration::days(3);

/// The receipt of a member's own change: the reply they saw, DMed to them when they acted on
/// Discord, unless their DMs are closed (then the reply says so instead).
pub(super) fn queue(uow: &mut Uow<'_>, actor: &Actor, reply: &mut Reply) -> anyhow::Result<()> {
    let Actor::Discord(id) = actor else {
        return Ok(());
    };
    if !reply.receipt {
        return Ok(());
    }
    let identity = uow.db.identity("discord", &id.to_string())?;
    if identity.is_some_and(|i| i.dm_closed) {
        let closed = super::texts::say(super::texts::language(uow), "dm_closed", &[]);
        reply.text = format!("{}\n\n{closed}", reply.text);
        return Ok(());
    }
    let dm = NewDm {
        person: identity.map(|i| i.person),
        request: reply.request_id,
        recipient: &id.to_string(),
        text: &reply.text,
        scrub_after_send: false,
    };
    uow.db.queue_dm(&dm, uow.now)?;
    uow.dmed = true;
    Ok(())
}

/// A change the person did not make themselves (an officer completed or extended their
/// request, an import recorded it): `text` and the change's receipt DMed to each of their
/// Discord accounts that takes DMs. `last` marks the final word to someone being erased: its
/// id and text go once it is sent. Returns how many were queued.
pub(super) fn tell(
    uow: &mut Uow<'_>,
    person: i64,
    request_id: i64,
    language: Language,
    text: &str,
    last: bool,
) -> anyhow::Result<usize> {
    let text = &match super::log::draft(uow, request_id, language)? {
        Some(receipt) => format!("{text}\n\n{receipt}"),
        None => text.to_owned(),
    };
    let mut queued = 0;
    for i in uow.db.identities_of(person)? {
        if i.kind == "discord" && !i.dm_closed {
            let dm = NewDm {
                person: Some(person),
                request: Some(request_id),
                recipient: &i.value,
                text,
                scrub_after_send: last,
            };
            uow.db.queue_dm(&dm, uow.now)?;
            queued += 1;
        }
    }
    if queued > 0 {
        uow.dmed = true;
    }
    Ok(queued)
}

/// What delivering DMs needs: claim one, and say how it went.
pub struct Receipts<'a>(pub(super) &'a Shared);

impl Receipts<'_> {
    /// Claims the DM that has waited longest among those due, for `MAIL_LEASE_SECONDS`.
    /// Its receipt is signed now, off the writer's thread.
    pub async fn claim(&self) -> Result<Option<Dm>, ServiceError> {
        let dm = self
            .0
            .run(super::uow::Call::system(), |uow| {
                let lease = Duration::seconds(uow.config().mail_lease_seconds);
                Ok(uow.db.claim_dm(uow.now, uow.now + lease)?)
            })
            .await?;
        let Some(mut dm) = dm else {
            return Ok(None);
        };
        let receipts = super::log::stored_receipts(self.0, &[&dm.text]).await?;
        dm.text = self.0.ctx.proof.seal(&dm.text, Style::Discord, &receipts);
        Ok(Some(dm))
    }

    pub async fn sent(&self, id: i64) -> Result<(), ServiceError> {
        self.0
            .run(super::uow::Call::system(), move |uow| {
                Ok(uow.db.dm_sent(id, uow.now)?)
            })
            .await
    }

    /// Failed for now: tried again at `retry_at`, or given up once it has waited
    /// [`GIVE_UP_AFTER`].
    pub async fn failed(
        &self,
        dm: &Dm,
        error: String,
        retry_at: DateTime<Utc>,
    ) -> Result<(), ServiceError> {
        let (id, created) = (dm.id, dm.created_at);
        self.0
            .run(super::uow::Call::system(), move |uow| {
                if retry_at - created > GIVE_UP_AFTER {
                    tracing::warn!(
                        dm_id = id,
                        "a DM receipt was given up after three days of failures"
                    );
                    Ok(uow.db.dm_given_up(id, &error, uow.now)?)
                } else {
                    Ok(uow.db.dm_failed(id, &error, retry_at)?)
                }
            })
            .await
    }

    /// Discord answered 50007: the member does not take DMs from the bot. Recorded, so none is
    /// tried again, and this one is given up.
    pub async fn closed(&self, dm: &Dm) -> Result<(), ServiceError> {
        let (id, to) = (dm.id, dm.recipient.clone());
        self.0
            .run(super::uow::Call::system(), move |uow| {
                uow.db.mark_dm_closed(&to, uow.now)?;
                uow.db.dm_given_up(id, "DMs closed (50007)", uow.now)?;
                Ok(())
            })
            .await
    }

    /// DMs waiting to be sent.
    pub async fn waiting(&self) -> Result<i64, ServiceError> {
        self.0.read(|db, _| Ok(db::dms::waiting(db)?)).await
    }

    /// Whether Discord refused a DM to this member before.
    pub async fn dm_closed(&self, id: DiscordId) -> Result<bool, ServiceError> {
        self.0
            .read(move |db, _| {
                Ok(db::identities::find(db, "discord", &id.to_string())?
                    .is_some_and(|i| i.dm_closed))
            })
            .await
    }
}
