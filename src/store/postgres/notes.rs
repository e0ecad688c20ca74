//! Officers' notes on PostgreSQL, each sealed under the key of the request's person: their
//! erasure makes every note on their requests unreadable, wherever old row versions remain.

use anyhow::Context as _;
use chrono::{DateTime, Utc};
use sqlx::PgConnection;

use crate::store::seal::Wrapping;

/// Where a note's text is sealed (the context a sealed value is bound to).
const TEXT: &str = "request_notes.text";

pub async fn add(
    conn: &mut PgConnection,
    wrapping: &Wrapping,
    request: i64,
    author: &str,
    text: &str,
    now: DateTime<Utc>,
) -> anyhow::Result<i64> {
    let person: Option<i64> = sqlx::query_scalar("SELECT person_id FROM requests WHERE id = $1")
        .bind(request)
        .fetch_optional(&mut *conn)
        .await
        .context("reading the request a note is about")?;
    let person = person.with_context(|| format!("there is no request #{request}"))?;
    let key = super::people::key(conn, wrapping, person)
        .await?
        .context("a note on an erased person's request has no key to be sealed under")?;
    sqlx::query_scalar(
        "INSERT INTO request_notes (request_id, at, author, text_sealed) VALUES ($1, $2, $3, $4)
         RETURNING id",
    )
    .bind(request)
    .bind(now)
    .bind(author)
    .bind(key.seal(TEXT, text))
    .fetch_one(&mut *conn)
    .await
    .context("adding a note to a request")
}

pub async fn count(conn: &mut PgConnection, request: i64) -> anyhow::Result<usize> {
    let n: i64 = sqlx::query_scalar("SELECT count(*) FROM request_notes WHERE request_id = $1")
        .bind(request)
        .fetch_one(conn)
        .await
        .context("counting a request's notes")?;
    Ok(usize::try_from(n).unwrap_or(0))
}
