//! Mail coming in, for the sources that read it (an MTA pipe, a Maildir, an IMAP mailbox):
//! each message read and acted on once, or held when it cannot be read, and where its copy
//! still lies so it can be removed if its sender is erased.

use super::{
    email::{self, Disposition},
    erasure, limits,
    shared::Shared,
    uow::{AnswerTo, Call, InputKey},
};
use crate::{db, domain::Channel, email::inbound::InboundMail, error::ServiceError};

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

pub struct Inbound<'a>(pub(super) &'a Shared);

impl Inbound<'_> {
    /// Reads one parsed message and does what it safely can, exactly once per message.
    /// `copy` says where the message still lies (a mailbox, a Maildir file), so it can be
    /// removed if its sender is erased.
    pub async fn handle(
        &self,
        mail: &InboundMail,
        copy: Option<CopyAt>,
    ) -> Result<Disposition, ServiceError> {
        if self.0.limit(Channel::Email).is_err() {
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
            language: mail.language,
        };
        let mail = mail.clone();
        let handled = self
            .0
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
                    uow.db.record_copy(&sender, c.source, &c.locator, uow.now)?;
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
            .0
            .run(call, move |uow| {
                uow.dispose("held")?;
                let sender = sender.map(|s| erasure::sender_hash(uow, s.as_str()));
                db::held::insert(
                    uow.db.sqlite()?,
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
                    uow.db.record_copy(sender, c.source, &c.locator, uow.now)?;
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
    pub async fn held(&self) -> Result<Vec<db::held::Held>, ServiceError> {
        self.0.read(|conn, _| Ok(db::held::list(conn)?)).await
    }

    /// One held message as it came (or its headers, when it was too large).
    pub async fn held_message(&self, id: i64) -> Result<Option<Vec<u8>>, ServiceError> {
        self.0
            .read(move |conn, _| Ok(db::held::message(conn, id)?))
            .await
    }

    /// A person looked at a held message and is done with it.
    pub async fn drop_held(&self, id: i64) -> Result<bool, ServiceError> {
        self.0
            .run(Call::on(Channel::Console), move |uow| {
                Ok(db::held::delete(uow.db.sqlite()?, id)?)
            })
            .await
    }

    /// Copies in `source` of mail from people since erased: (id, locator).
    pub async fn copies_to_purge(
        &self,
        source: &'static str,
    ) -> Result<Vec<(i64, String)>, ServiceError> {
        self.0
            .read(move |conn, _| Ok(db::copies::to_purge(conn, source)?))
            .await
    }

    pub async fn copy_purged(&self, id: i64) -> Result<(), ServiceError> {
        self.0
            .run(Call::system(), move |uow| Ok(uow.db.copy_purged(id)?))
            .await
    }
}
