//! The consumers: registered by an officer (a token kept only hashed, a hashing key of their
//! own), listed with how far behind each is, revoked, and found by their token.

use chrono::{DateTime, Utc};
use rand::RngCore;
use sha2::{Digest, Sha256};

use super::{Feed, Refusal, STALE_AFTER, push::check_webhook};
use crate::{
    db::{self, Conn, feed::Consumer},
    domain::{Language, numbers},
    error::{ServiceError, UserError},
    services::{
        texts,
        uow::{Call, Context},
    },
};

/// What `consumers add` hands out, once.
pub struct NewConsumer {
    pub name: String,
    pub token: String,
    /// The consumer's hashing key, 64 hex digits.
    pub key: String,
}

/// A consumer as officers see it.
#[derive(Debug, Clone, serde::Serialize)]
pub struct ConsumerView {
    pub name: String,
    pub webhook: Option<String>,
    pub created_at: DateTime<Utc>,
    pub revoked_at: Option<DateTime<Utc>>,
    pub last_pull_at: Option<DateTime<Utc>>,
    pub last_ack_at: Option<DateTime<Utc>>,
    pub last_ack_run: Option<String>,
    /// Changes it has not said it applied.
    pub unacknowledged: i64,
    /// Since when the oldest of them stands.
    pub oldest_unacknowledged: Option<DateTime<Utc>>,
    /// Behind for longer than [`STALE_AFTER`].
    pub stale: bool,
    /// Its webhook turned off (410) or given up.
    pub webhook_trouble: Option<String>,
}

impl ConsumerView {
    pub fn behind(&self) -> bool {
        self.unacknowledged > 0
    }
}

fn token_hash(token: &str) -> String {
    hex::encode(Sha256::digest(token.as_bytes()))
}

fn valid_name(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= 64
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'))
}

impl Feed<'_> {
    /// Registers a consumer; its token and key are shown once and the token kept only hashed.
    pub async fn add(
        &self,
        name: &str,
        webhook: Option<String>,
    ) -> Result<NewConsumer, ServiceError> {
        if !valid_name(name) {
            return Err(UserError::new(format!(
                "{name:?} cannot name a consumer: use 1 to 64 letters, digits, '-', '_' or '.'."
            ))
            .into());
        }
        if let Some(url) = &webhook {
            check_webhook(url)?;
        }
        let mut bytes = [0u8; 32];
        rand::thread_rng().fill_bytes(&mut bytes);
        let token = format!("dsrf_{}", hex::encode(bytes));
        let mut key = [0u8; 32];
        rand::thread_rng().fill_bytes(&mut key);
        let name = name.to_owned();
        let stored = (name.clone(), token_hash(&token), key.to_vec());
        self.0
            .run(Call::system(), move |uow| {
                if db::feed::consumer_named(uow.db.sqlite()?, &stored.0)?.is_some() {
                    return Err(UserError::new(format!(
                        "There is a consumer named {} already: `consumers list` shows them.",
                        stored.0
                    ))
                    .into());
                }
                db::feed::add_consumer(
                    uow.db.sqlite()?,
                    &stored.0,
                    &stored.1,
                    &stored.2,
                    webhook.as_deref(),
                    uow.now,
                )?;
                Ok(())
            })
            .await?;
        Ok(NewConsumer {
            name,
            token,
            key: hex::encode(key),
        })
    }

    pub async fn list(&self) -> Result<Vec<ConsumerView>, ServiceError> {
        self.0
            .read(|db, ctx| {
                let now = ctx.now();
                db::feed::consumers(db)?
                    .into_iter()
                    .map(|c| view(db, c, now))
                    .collect()
            })
            .await
    }

    /// What officers are told of consumers behind for over a day: a line each.
    /// The consumers behind or with a broken webhook, in `REPORT_LANGUAGE`.
    pub async fn stale(&self) -> Result<Vec<String>, ServiceError> {
        let language = self.0.ctx.config.report_language;
        self.0.read(move |db, ctx| stale(db, ctx, language)).await
    }

    pub async fn revoke(&self, name: &str) -> Result<(), ServiceError> {
        let name = name.to_owned();
        self.0
            .run(Call::system(), move |uow| {
                let c = db::feed::consumer_named(uow.db.sqlite()?, &name)?.ok_or_else(|| {
                    UserError::new(format!(
                        "There is no consumer named {name}: `consumers list` shows them."
                    ))
                })?;
                if !db::feed::revoke(uow.db.sqlite()?, c.id, uow.now)? {
                    return Err(
                        UserError::new(format!("The consumer {name} is revoked already.")).into(),
                    );
                }
                Ok(())
            })
            .await
    }

    /// `bytes` signed with the log's key: (public key, base64 Ed25519 signature).
    pub fn sign(&self, bytes: &[u8]) -> Option<(String, String)> {
        self.0.ctx.proof.sign_bytes(bytes)
    }

    /// A live consumer by name.
    pub async fn consumer(&self, name: &str) -> Result<Consumer, ServiceError> {
        let name = name.to_owned();
        self.0
            .read(move |db, _| match db::feed::consumer_named(db, &name)? {
                Some(c) if c.revoked_at.is_none() => Ok(c),
                Some(_) => Err(UserError::new(format!("The consumer {name} is revoked.")).into()),
                None => Err(UserError::new(format!(
                    "There is no consumer named {name}: `consumers list` shows them."
                ))
                .into()),
            })
            .await
            .map_err(crate::services::log::told)
    }

    /// Whether any consumer may call (the HTTP API starts by itself then).
    pub async fn any(&self) -> Result<bool, ServiceError> {
        self.0
            .read(|db, _| Ok(!db::feed::active_consumers(db)?.is_empty()))
            .await
    }

    /// The consumer whose token this is.
    pub async fn authenticate(&self, token: &str) -> Result<Consumer, Refusal> {
        let hash = token_hash(token.trim());
        let found = self
            .0
            .read(move |db, _| Ok(db::feed::consumer_by_token(db, &hash)?))
            .await?;
        match found {
            Some(c) if c.revoked_at.is_none() => Ok(c),
            Some(_) => Err(Refusal::Unauthorized(
                "This token was revoked: ask the privacy officers for a new one.".into(),
            )),
            None => Err(Refusal::Unauthorized(
                "This token is not one of ours: send `Authorization: Bearer TOKEN` with the token `consumers add` printed."
                    .into(),
            )),
        }
    }
}

/// The live consumers behind for over a day, or whose webhook stopped answering, as officers
/// are told of them.
pub(crate) fn stale(db: &Conn, ctx: &Context, language: Language) -> anyhow::Result<Vec<String>> {
    let now = ctx.now();
    let at = |t: DateTime<Utc>| {
        numbers::moment(language, &t.with_timezone(&ctx.config.display_timezone))
    };
    let mut out = Vec::new();
    for c in db::feed::active_consumers(db)? {
        let trouble = match db::feed::webhook_trouble(db, c.id)? {
            (Some(t), _) => Some(("consumer_webhook_gone", at(t))),
            (None, Some(t)) => Some(("consumer_webhook_given_up", at(t))),
            (None, None) => None,
        };
        if let Some((key, when)) = trouble {
            out.push(texts::say(
                language,
                key,
                &[("name", &c.name), ("at", &when)],
            ));
        }
        let v = view(db, c, now)?;
        if let (true, Some(oldest)) = (v.stale, v.oldest_unacknowledged) {
            out.push(texts::say(
                language,
                "consumer_behind",
                &[
                    ("name", &v.name),
                    ("count", &numbers::count(language, v.unacknowledged)),
                    ("since", &at(oldest)),
                ],
            ));
        }
    }
    Ok(out)
}

pub(super) fn view(db: &Conn, c: Consumer, now: DateTime<Utc>) -> anyhow::Result<ConsumerView> {
    let (unacknowledged, oldest) = db::feed::unacknowledged(db, c.last_ack_seq)?;
    // Behind since the change, or since the consumer exists if that is later.
    let oldest = oldest.map(|o| o.max(c.created_at));
    let webhook_trouble = match db::feed::webhook_trouble(db, c.id)? {
        (Some(at), _) => Some(format!(
            "webhook off after a 410 Gone at {}",
            at.to_rfc3339()
        )),
        (None, Some(at)) => Some(format!(
            "webhook stopped answering, given up at {}",
            at.to_rfc3339()
        )),
        (None, None) => None,
    };
    Ok(ConsumerView {
        webhook_trouble,
        stale: c.revoked_at.is_none() && oldest.is_some_and(|o| now - o > STALE_AFTER),
        name: c.name,
        webhook: c.webhook_url,
        created_at: c.created_at,
        revoked_at: c.revoked_at,
        last_pull_at: c.last_pull_at,
        last_ack_at: c.last_ack_at,
        last_ack_run: c.last_ack_run,
        unacknowledged,
        oldest_unacknowledged: oldest,
    })
}
