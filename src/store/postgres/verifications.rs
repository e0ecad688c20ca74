//! Email proofs on PostgreSQL. The address a code went to may be another person's than the
//! asker's (someone naming an address they do not control), so it is sealed under a key of
//! the code's own (`row_keys`, owner `email_verifications:<id>`), not the asker's: deleting
//! that key with the row leaves no copy of the address that opens, whoever is erased.

use anyhow::Context as _;
use chrono::{DateTime, Utc};
use sqlx::PgConnection;

use crate::{
    db::verifications::Verification,
    store::{seal::Wrapping, verifications::NewCode},
};

/// Where a code's address is sealed (the context a sealed value is bound to).
const EMAIL: &str = "email_verifications.email";

fn owner(id: i64) -> String {
    format!("email_verifications:{id}")
}

pub async fn add_code(
    tx: &mut PgConnection,
    wrapping: &Wrapping,
    code: &NewCode<'_>,
) -> anyhow::Result<i64> {
    // The id first, so the row's key can be bound to it before the row is written.
    let id: i64 =
        sqlx::query_scalar("SELECT nextval(pg_get_serial_sequence('email_verifications', 'id'))")
            .fetch_one(&mut *tx)
            .await
            .context("numbering an email proof")?;
    let key = super::row_keys::new_key(tx, wrapping, &owner(id), code.now).await?;
    sqlx::query(
        "INSERT INTO email_verifications
             (id, person_id, request_id, email_sealed, email_hash, code_hash, created_at, expires_at)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
    )
    .bind(id)
    .bind(code.person)
    .bind(code.request)
    .bind(key.seal(EMAIL, code.email))
    .bind(wrapping.blind("email", code.email))
    .bind(code.code_hash)
    .bind(code.now)
    .bind(code.expires_at)
    .execute(&mut *tx)
    .await
    .context("keeping an email proof")?;
    Ok(id)
}

type Row = (
    i64,
    i64,
    i64,
    Vec<u8>,
    String,
    i64,
    DateTime<Utc>,
    Option<DateTime<Utc>>,
    Option<Vec<u8>>,
);

const SELECT: &str =
    "SELECT v.id, v.person_id, v.request_id, v.email_sealed, v.code_hash, v.attempts,
                             v.expires_at, v.verified_at,
                             (SELECT k.wrapped_key FROM row_keys k
                               WHERE k.owner = 'email_verifications:' || v.id)
                        FROM email_verifications v";

fn opened(wrapping: &Wrapping, row: Row) -> anyhow::Result<Verification> {
    let (id, person_id, request_id, sealed, code_hash, attempts, expires_at, verified_at, wrapped) =
        row;
    let wrapped = wrapped.context("an email proof without its data key")?;
    let email = wrapping
        .unwrap_key(&owner(id), &wrapped)
        .and_then(|key| key.open(EMAIL, &sealed))
        .context("opening an email proof's address")?;
    Ok(Verification {
        id,
        person_id,
        request_id,
        email,
        code_hash,
        attempts,
        expires_at,
        verified_at,
    })
}

pub async fn latest_for_request(
    tx: &mut PgConnection,
    wrapping: &Wrapping,
    request: i64,
) -> anyhow::Result<Option<Verification>> {
    let row: Option<Row> = sqlx::query_as(&format!(
        "{SELECT} WHERE v.request_id = $1 AND v.verified_at IS NULL
          ORDER BY v.id DESC LIMIT 1 FOR UPDATE OF v"
    ))
    .bind(request)
    .fetch_optional(&mut *tx)
    .await
    .context("reading a request's email proof")?;
    row.map(|r| opened(wrapping, r)).transpose()
}

pub async fn pending_of(
    tx: &mut PgConnection,
    wrapping: &Wrapping,
    person: i64,
) -> anyhow::Result<Option<Verification>> {
    let row: Option<Row> = sqlx::query_as(&format!(
        "{SELECT} WHERE v.person_id = $1 AND v.verified_at IS NULL AND v.refused_at IS NULL
            AND EXISTS (SELECT 1 FROM requests r WHERE r.id = v.request_id
                        AND r.state IN ('awaiting_confirmation', 'confirmed'))
          ORDER BY v.id DESC LIMIT 1 FOR UPDATE OF v"
    ))
    .bind(person)
    .fetch_optional(&mut *tx)
    .await
    .context("reading a person's waiting email proof")?;
    row.map(|r| opened(wrapping, r)).transpose()
}

pub async fn count_attempt(tx: &mut PgConnection, id: i64) -> anyhow::Result<()> {
    sqlx::query("UPDATE email_verifications SET attempts = attempts + 1 WHERE id = $1")
        .bind(id)
        .execute(&mut *tx)
        .await
        .context("counting a guess at a code")?;
    Ok(())
}

pub async fn mark_verified(
    tx: &mut PgConnection,
    id: i64,
    now: DateTime<Utc>,
) -> anyhow::Result<()> {
    sqlx::query("UPDATE email_verifications SET verified_at = $1 WHERE id = $2")
        .bind(now)
        .bind(id)
        .execute(&mut *tx)
        .await
        .context("marking a code used")?;
    Ok(())
}

pub async fn mark_verified_by_reply(
    tx: &mut PgConnection,
    wrapping: &Wrapping,
    request: i64,
    email: &str,
    now: DateTime<Utc>,
) -> anyhow::Result<()> {
    sqlx::query(
        "UPDATE email_verifications SET verified_at = $1
         WHERE request_id = $2 AND email_hash = $3 AND verified_at IS NULL",
    )
    .bind(now)
    .bind(request)
    .bind(wrapping.blind("email", email))
    .execute(&mut *tx)
    .await
    .context("marking codes used by a reply")?;
    Ok(())
}

pub async fn refuse(
    tx: &mut PgConnection,
    wrapping: &Wrapping,
    request: i64,
    email: &str,
    now: DateTime<Utc>,
) -> anyhow::Result<bool> {
    let refused = sqlx::query(
        "UPDATE email_verifications SET refused_at = $1
         WHERE request_id = $2 AND email_hash = $3 AND verified_at IS NULL AND refused_at IS NULL",
    )
    .bind(now)
    .bind(request)
    .bind(wrapping.blind("email", email))
    .execute(&mut *tx)
    .await
    .context("refusing codes")?
    .rows_affected();
    Ok(refused > 0)
}
