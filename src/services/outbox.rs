//! The mail outbox, for the worker that delivers it: claim a due mail, say how it went, and
//! remove what an erasure left outside the database.

use chrono::{DateTime, Utc};

use super::{shared::Shared, uow::Call};
use crate::{db, error::ServiceError, proof::receipt::Style, store::outbox::Mail};

pub struct Outbox<'a>(pub(super) &'a Shared);

impl Outbox<'_> {
    /// Claims the mail that has waited longest among those due now, for `MAIL_LEASE_SECONDS`:
    /// no other sender takes it meanwhile, and it is retried if this one dies mid-send.
    /// Its receipts are signed now, off the writer's thread.
    pub async fn claim(&self) -> Result<Option<Mail>, ServiceError> {
        let mail = self
            .0
            .run(Call::system(), |uow| {
                let lease = chrono::Duration::seconds(uow.config().mail_lease_seconds);
                Ok(uow.db.claim_mail(uow.now, uow.now + lease)?)
            })
            .await?;
        let Some(mut m) = mail else {
            return Ok(None);
        };
        let receipts = super::log::stored_receipts(self.0, &[&m.body_text, &m.body_html]).await?;
        let proof = &self.0.ctx.proof;
        m.body_text = proof.seal(&m.body_text, Style::Plain, &receipts);
        m.body_html = proof.seal(&m.body_html, Style::Html, &receipts);
        Ok(Some(m))
    }

    /// The SMTP server took the mail (or the folder holds it): it is sent, and mail to an
    /// erased person loses its address and text at once.
    pub async fn sent(&self, outbox_id: i64) -> Result<(), ServiceError> {
        self.0
            .run(Call::system(), move |uow| {
                Ok(uow.db.mail_sent(outbox_id, uow.now)?)
            })
            .await
    }

    /// A delivery failed: the (address-free) reason is kept and the mail waits until `retry_at`.
    pub async fn failed(
        &self,
        outbox_id: i64,
        error: String,
        retry_at: DateTime<Utc>,
    ) -> Result<(), ServiceError> {
        self.0
            .run(Call::system(), move |uow| {
                Ok(uow.db.mail_failed(outbox_id, &error, retry_at)?)
            })
            .await
    }

    /// Mails whose copy the transport kept is to be removed (their person was erased).
    pub async fn copies_to_forget(&self) -> Result<Vec<i64>, ServiceError> {
        self.0.read_store(|store, _| store.copies_to_forget()).await
    }

    pub async fn copy_forgotten(&self, outbox_id: i64) -> Result<(), ServiceError> {
        self.0
            .run(Call::system(), move |uow| {
                Ok(uow.db.copy_forgotten(outbox_id)?)
            })
            .await
    }

    /// Pushes erased data out of the WAL (a TRUNCATE checkpoint). If readers or the writer
    /// keep the WAL busy, the checkpoint stays owed and [`Self::settle_wal_scrub`] retries it.
    pub async fn scrub_wal(&self) {
        scrub_wal(self.0).await;
    }

    /// Retries an owed checkpoint (every outbox flush calls this); with the units on
    /// PostgreSQL, an owed rewrite of the data keys' tables (a sent mail's own key deleted).
    pub async fn settle_wal_scrub(&self) {
        if self.0.units_on.is_some() {
            settle_erasure(self.0).await;
        } else if self.0.ctx.wal_scrub_owed() {
            scrub_wal(self.0).await;
        }
    }
}

/// After an erasure committed: on SQLite the WAL is emptied ([`scrub_wal`]); with the units
/// on PostgreSQL, the tables of data keys are rewritten once no snapshot from before it is
/// held, so the deleted keys' old row versions leave their files (waiting up to 30 s; past
/// that the rewrite stays owed, and the next mail flush tries it again).
pub(super) async fn settle_erasure(shared: &Shared) {
    let Some(pg) = &shared.units_on else {
        return scrub_wal(shared).await;
    };
    let within = std::time::Duration::from_secs(30);
    match crate::store::postgres::people::settle_rewrite(&pg.pool, within).await {
        Ok(true) => {}
        Ok(false) => tracing::warn!(
            "the data keys' tables could not be rewritten after an erasure (an old snapshot is \
             held); the next mail flush tries again"
        ),
        Err(e) => tracing::warn!(
            error = format!("{e:#}"),
            "the data keys' tables could not be rewritten after an erasure"
        ),
    }
}

/// See [`Outbox::scrub_wal`]; an erasure calls it too.
pub(super) async fn scrub_wal(shared: &Shared) {
    let done = db::checkpoint(&shared.db.pool).await;
    shared.ctx.owe_wal_scrub(done.is_err());
    if let Err(e) = done {
        tracing::warn!(
            error = format!("{e:#}"),
            "the WAL could not be emptied after an erasure; trying again later"
        );
    }
}
