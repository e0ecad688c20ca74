//! Reply tokens on PostgreSQL. The address a token's mail went to is sealed under a key of the
//! token's own (`row_keys`, owner `reply_tokens:<token hash>`), not the request's person's:
//! a mail about one person's request can go to an address another person has since proven, and
//! erasing either must leave no copy of the address that opens. Erasure deletes the key with
//! the row.

use anyhow::Context as _;
use chrono::{DateTime, Utc};
use sqlx::PgConnection;

use crate::{
    db::reply_tokens::{ReplyToken, hash},
    store::{reply_tokens::NewToken, seal::Wrapping},
};

/// Where a token's address is sealed (the context a sealed value is bound to).
const EMAIL: &str = "reply_tokens.email";

fn owner(token_hash: &str) -> String {
    format!("reply_tokens:{token_hash}")
}

pub async fn add(
    tx: &mut PgConnection,
    wrapping: &Wrapping,
    t: &NewToken<'_>,
) -> anyhow::Result<()> {
    // The request's person's key, share-locked: a token for the request of someone being
    // erased waits for the erasure, then is not kept (the erasure would have deleted it).
    let person: i64 = sqlx::query_scalar("SELECT person_id FROM requests WHERE id = $1")
        .bind(t.request)
        .fetch_one(&mut *tx)
        .await
        .context("reading the request a reply token is for")?;
    if super::people::key(tx, wrapping, person).await?.is_none() {
        return Ok(());
    }
    let token_hash = hash(t.token);
    let key = super::row_keys::new_key(tx, wrapping, &owner(&token_hash), t.now).await?;
    sqlx::query(
        "INSERT INTO reply_tokens
             (token_hash, request_id, lists, email_sealed, email_hash, created_at, expires_at)
         VALUES ($1, $2, $3, $4, $5, $6, $7)",
    )
    .bind(&token_hash)
    .bind(t.request)
    .bind(t.lists)
    .bind(key.seal(EMAIL, t.email))
    .bind(wrapping.blind("email", t.email))
    .bind(t.now)
    .bind(t.expires_at)
    .execute(&mut *tx)
    .await
    .context("keeping a reply token")?;
    Ok(())
}

pub async fn find(
    tx: &mut PgConnection,
    wrapping: &Wrapping,
    token: &str,
) -> anyhow::Result<Option<ReplyToken>> {
    /// Its request, its sealed address, its expiry, whether it lists, its own wrapped key.
    type Row = (i64, Vec<u8>, DateTime<Utc>, bool, Option<Vec<u8>>);
    let token_hash = hash(token);
    let row: Option<Row> = sqlx::query_as(
        "SELECT t.request_id, t.email_sealed, t.expires_at, t.lists,
                (SELECT k.wrapped_key FROM row_keys k WHERE k.owner = 'reply_tokens:' || t.token_hash)
           FROM reply_tokens t WHERE t.token_hash = $1",
    )
    .bind(&token_hash)
    .fetch_optional(&mut *tx)
    .await
    .context("looking up a reply token")?;
    let Some((request_id, sealed, expires_at, lists, wrapped)) = row else {
        return Ok(None);
    };
    let wrapped = wrapped.context("a reply token without its data key")?;
    let email = wrapping
        .unwrap_key(&owner(&token_hash), &wrapped)
        .and_then(|key| key.open(EMAIL, &sealed))
        .context("opening a reply token's address")?;
    Ok(Some(ReplyToken {
        request_id,
        email,
        expires_at,
        lists,
    }))
}

/// The bot's own Message-IDs name no one, so the outbox keeps them in clear.
pub async fn find_by_message_id(
    tx: &mut PgConnection,
    wrapping: &Wrapping,
    message_id: &str,
) -> anyhow::Result<Option<ReplyToken>> {
    let token: Option<Option<String>> =
        sqlx::query_scalar("SELECT reply_token FROM outbox WHERE message_id = $1")
            .bind(message_id)
            .fetch_optional(&mut *tx)
            .await
            .context("looking up the mail a reply cites")?;
    match token.flatten() {
        Some(t) => find(tx, wrapping, &t).await,
        None => Ok(None),
    }
}

/// Deletes the tokens of `person`'s requests and those given to one of `emails`, with their
/// keys.
pub async fn forget(
    tx: &mut PgConnection,
    wrapping: &Wrapping,
    person: i64,
    emails: &[String],
) -> anyhow::Result<()> {
    let hashes: Vec<Vec<u8>> = emails.iter().map(|e| wrapping.blind("email", e)).collect();
    let gone: Vec<String> = sqlx::query_scalar(
        "DELETE FROM reply_tokens
          WHERE request_id IN (SELECT id FROM requests WHERE person_id = $1)
             OR email_hash = ANY($2)
         RETURNING token_hash",
    )
    .bind(person)
    .bind(&hashes)
    .fetch_all(&mut *tx)
    .await
    .context("erasing reply tokens")?;
    let owners: Vec<String> = gone.iter().map(|h| owner(h)).collect();
    super::row_keys::forget(tx, &owners).await?;
    Ok(())
}
