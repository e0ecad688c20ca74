//! `row_keys`: the data keys of rows that belong to no person's key (a proof code, a reply
//! token, mail and DMs of no one or of someone being erased), each bound to its owner
//! (`<table>:<row>`). Deleting one makes its row's sealed values, wherever an old version of
//! them lies, unopenable; the deletion owes a rewrite of the table so the key's own old
//! version leaves its file too ([`super::people::settle_rewrite`]).

use anyhow::Context as _;
use chrono::{DateTime, Utc};
use sqlx::PgConnection;

use crate::store::seal::{PersonKey, Wrapping};

/// A new data key for `owner`, kept.
pub async fn new_key(
    tx: &mut PgConnection,
    wrapping: &Wrapping,
    owner: &str,
    now: DateTime<Utc>,
) -> anyhow::Result<PersonKey> {
    let (key, wrapped) = wrapping.new_key(owner);
    sqlx::query("INSERT INTO row_keys (owner, wrapped_key, created_at) VALUES ($1, $2, $3)")
        .bind(owner)
        .bind(wrapped)
        .bind(now)
        .execute(&mut *tx)
        .await
        .with_context(|| format!("keeping the data key of {owner}"))?;
    Ok(key)
}

/// Deletes the keys of `owners` (their rows' text is to be gone), owing the rewrite.
pub async fn forget(tx: &mut PgConnection, owners: &[String]) -> anyhow::Result<()> {
    if owners.is_empty() {
        return Ok(());
    }
    sqlx::query("DELETE FROM row_keys WHERE owner = ANY($1)")
        .bind(owners)
        .execute(&mut *tx)
        .await
        .context("deleting rows' own data keys")?;
    super::people::owe_rewrite(tx).await
}
