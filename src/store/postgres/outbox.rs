//! The mail outbox on PostgreSQL, shared by the mail workers of every process.
//!
//! A worker claims due mail with `FOR UPDATE SKIP LOCKED` (two workers never wait on, or take,
//! the same row) and a lease: the row's next attempt moves to the lease's end (by the
//! database's clock) and the row holds the claim's own token. Mail is sent outside any
//! transaction; marking it sent or failed is fenced on that token, so an attempt whose lease
//! ran out (and whose mail another claim took, even the same worker's) changes nothing. Delivery is therefore at least once, and every attempt carries the row's one
//! Message-ID, so a mail sent twice is recognisably the same mail.
//!
//! Addresses and texts are sealed: under the person's data key when the mail is about a
//! person (their erasure makes it unreadable), else under a data key of the row's own, kept in
//! `row_keys` and deleted when the mail's text is to be gone.

use std::time::Duration;

use anyhow::Context as _;
use chrono::{DateTime, Utc};
use sqlx::{PgConnection, PgPool};

use crate::store::seal::{PersonKey, Wrapping};

/// A mail to queue.
pub struct NewMail<'a> {
    pub message_id: &'a str,
    pub person_id: Option<i64>,
    pub request_id: Option<i64>,
    pub template: &'a str,
    pub recipient: &'a str,
    pub subject: &'a str,
    pub body_text: &'a str,
    pub body_html: &'a str,
}

/// A mail a worker holds the claim on, opened.
#[derive(Clone, PartialEq, Eq)]
pub struct Claimed {
    pub id: i64,
    pub message_id: String,
    pub recipient: String,
    pub subject: String,
    pub body_text: String,
    pub body_html: String,
    /// Attempts made before this one.
    pub attempts: i64,
    /// This claim's token, which marking it sent or failed must show.
    pub claim: String,
}

impl std::fmt::Debug for Claimed {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // The address and the texts name a person: never in a log or a panic message.
        f.debug_struct("Claimed")
            .field("id", &self.id)
            .field("message_id", &self.message_id)
            .field("attempts", &self.attempts)
            .finish_non_exhaustive()
    }
}

const RECIPIENT: &str = "outbox.recipient";
const SUBJECT: &str = "outbox.subject";
const BODY_TEXT: &str = "outbox.body_text";
const BODY_HTML: &str = "outbox.body_html";

/// What the own key of a mail with no person is bound to: its row, by its Message-ID.
fn row_owner(message_id: &str) -> String {
    format!("outbox:{message_id}")
}

/// A new data key of the mail `message_id`'s own, kept in `row_keys`.
async fn own_key(
    tx: &mut PgConnection,
    wrapping: &Wrapping,
    message_id: &str,
    now: DateTime<Utc>,
) -> anyhow::Result<PersonKey> {
    let owner = row_owner(message_id);
    let (key, wrapped) = wrapping.new_key(&owner);
    sqlx::query("INSERT INTO row_keys (owner, wrapped_key, created_at) VALUES ($1, $2, $3)")
        .bind(&owner)
        .bind(wrapped)
        .bind(now)
        .execute(&mut *tx)
        .await
        .context("keeping a mail's own data key")?;
    Ok(key)
}

/// Queues `mail` in the caller's transaction, sealed under `person_key` when it is about a
/// person (the caller passes theirs) or else under a new key of its own.
pub async fn insert(
    tx: &mut PgConnection,
    wrapping: &Wrapping,
    mail: &NewMail<'_>,
    person_key: Option<&PersonKey>,
    now: DateTime<Utc>,
) -> anyhow::Result<i64> {
    anyhow::ensure!(
        person_key.is_some() == mail.person_id.is_some(),
        "a mail about a person is sealed under their key, and only such a mail"
    );
    let own = match person_key {
        Some(_) => None,
        None => Some(own_key(tx, wrapping, mail.message_id, now).await?),
    };
    let key = person_key
        .or(own.as_ref())
        .expect("a person's key or the row's own");
    sqlx::query_scalar(
        "INSERT INTO outbox (message_id, person_id, request_id, template, recipient_sealed, recipient_hash,
                             subject_sealed, body_text_sealed, body_html_sealed,
                             created_at, next_attempt_at)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, now())
         RETURNING id",
    )
    .bind(mail.message_id)
    .bind(mail.person_id)
    .bind(mail.request_id)
    .bind(mail.template)
    .bind(key.seal(RECIPIENT, mail.recipient))
    .bind(wrapping.blind("email", mail.recipient))
    .bind(key.seal(SUBJECT, mail.subject))
    .bind(key.seal(BODY_TEXT, mail.body_text))
    .bind(key.seal(BODY_HTML, mail.body_html))
    .bind(now)
    .fetch_one(&mut *tx)
    .await
    .context("queueing a mail")
}

/// id, Message-ID, person, attempts, the four sealed values, the row's own wrapped key, the
/// person's wrapped key.
type ClaimedRow = (
    i64,
    String,
    Option<i64>,
    i64,
    Vec<u8>,
    Vec<u8>,
    Vec<u8>,
    Vec<u8>,
    Option<Vec<u8>>,
    Option<Vec<u8>>,
);

/// Claims up to `max` due mails for `worker` until `lease` from now (by the database's clock).
pub async fn claim(
    pool: &PgPool,
    wrapping: &Wrapping,
    worker: &str,
    lease: Duration,
    max: i64,
) -> anyhow::Result<Vec<Claimed>> {
    let claim = format!("{worker} {}", uuid::Uuid::new_v4().simple());
    let rows: Vec<ClaimedRow> = sqlx::query_as(
        "WITH due AS (
             SELECT id FROM outbox
              WHERE sent_at IS NULL AND next_attempt_at <= now()
              ORDER BY next_attempt_at, id
              LIMIT $3
              FOR UPDATE SKIP LOCKED)
         UPDATE outbox o
            SET claimed_by = $1, next_attempt_at = now() + make_interval(secs => $2)
           FROM due
          WHERE o.id = due.id
         RETURNING o.id, o.message_id, o.person_id, o.attempts, o.recipient_sealed, o.subject_sealed,
                   o.body_text_sealed, o.body_html_sealed,
                   (SELECT wrapped_key FROM row_keys WHERE owner = 'outbox:' || o.message_id),
                   (SELECT wrapped_key FROM person_keys WHERE person_id = o.person_id)",
    )
    .bind(&claim)
    .bind(lease.as_secs_f64())
    .bind(max)
    .fetch_all(pool)
    .await
    .context("claiming due mail")?;
    let mut claimed = Vec::with_capacity(rows.len());
    for (id, message_id, person, attempts, recipient, subject, text, html, own, persons) in rows {
        let key = match (person, own, persons) {
            (_, Some(own), _) => wrapping.unwrap_key(&row_owner(&message_id), &own),
            (Some(person), None, Some(wrapped)) => wrapping.unwrap(person, &wrapped),
            _ => Err(crate::store::seal::Unsealable),
        };
        let opened = key.and_then(|key| {
            Ok((
                key.open(RECIPIENT, &recipient)?,
                key.open(SUBJECT, &subject)?,
                key.open(BODY_TEXT, &text)?,
                key.open(BODY_HTML, &html)?,
            ))
        });
        match opened {
            Ok((recipient, subject, body_text, body_html)) => claimed.push(Claimed {
                id,
                recipient,
                subject,
                body_text,
                body_html,
                message_id,
                attempts,
                claim: claim.clone(),
            }),
            // One mail that cannot be opened is set aside, for good: it never holds up the
            // others, and trying again cannot open it.
            Err(_) => {
                tracing::error!(
                    mail = id,
                    "a queued mail cannot be opened with its key; it is set aside"
                );
                sqlx::query(
                    "UPDATE outbox SET claimed_by = NULL, next_attempt_at = 'infinity',
                            last_error = 'cannot be opened with its data key'
                      WHERE id = $1 AND claimed_by = $2",
                )
                .bind(id)
                .bind(&claim)
                .execute(pool)
                .await
                .context("setting aside a mail that cannot be opened")?;
            }
        }
    }
    Ok(claimed)
}

/// Before `person` is erased: their mail not yet sent is sealed again under keys of its own
/// (their data key is about to go) and marked to lose its address, text and key once sent, as
/// the confirmation of an erasure itself must still reach them.
pub async fn reseal_unsent(
    tx: &mut PgConnection,
    wrapping: &Wrapping,
    person: i64,
    key: &PersonKey,
    now: DateTime<Utc>,
) -> anyhow::Result<()> {
    type Unsent = (i64, String, Vec<u8>, Vec<u8>, Vec<u8>, Vec<u8>);
    let rows: Vec<Unsent> = sqlx::query_as(
        "SELECT id, message_id, recipient_sealed, subject_sealed, body_text_sealed, body_html_sealed
           FROM outbox o
          WHERE person_id = $1 AND sent_at IS NULL
            AND NOT EXISTS (SELECT 1 FROM row_keys WHERE owner = 'outbox:' || o.message_id)
          FOR UPDATE",
    )
    .bind(person)
    .fetch_all(&mut *tx)
    .await
    .context("finding an erased person's unsent mail")?;
    for (id, message_id, recipient, subject, text, html) in rows {
        let own = own_key(tx, wrapping, &message_id, now).await?;
        let reseal = |context, sealed: &[u8]| -> anyhow::Result<Vec<u8>> {
            let plain = key
                .open(context, sealed)
                .context("opening a mail to seal it again")?;
            Ok(own.seal(context, &plain))
        };
        sqlx::query(
            "UPDATE outbox SET recipient_sealed = $2, subject_sealed = $3, body_text_sealed = $4,
                    body_html_sealed = $5, scrub_after_send = TRUE
              WHERE id = $1",
        )
        .bind(id)
        .bind(reseal(RECIPIENT, &recipient)?)
        .bind(reseal(SUBJECT, &subject)?)
        .bind(reseal(BODY_TEXT, &text)?)
        .bind(reseal(BODY_HTML, &html)?)
        .execute(&mut *tx)
        .await
        .context("sealing an erased person's mail again")?;
    }
    Ok(())
}

/// Marks a claimed mail delivered; false when `claim` is no longer the mail's claim (its lease
/// ran out and another claim took it), which changes nothing. Mail to an erased person loses its
/// address, text and key at once (then [`super::people::rewrite_keys`] removes the key's old
/// version from its table's file).
pub async fn mark_sent(pool: &PgPool, id: i64, claim: &str) -> anyhow::Result<bool> {
    let mut tx = pool.begin().await.context("marking a mail sent")?;
    let done: Option<(String, bool)> = sqlx::query_as(
        "UPDATE outbox SET sent_at = now(), attempts = attempts + 1, last_error = NULL, claimed_by = NULL,
                recipient_sealed = CASE WHEN scrub_after_send THEN ''::bytea ELSE recipient_sealed END,
                recipient_hash = CASE WHEN scrub_after_send THEN NULL ELSE recipient_hash END,
                subject_sealed = CASE WHEN scrub_after_send THEN ''::bytea ELSE subject_sealed END,
                body_text_sealed = CASE WHEN scrub_after_send THEN ''::bytea ELSE body_text_sealed END,
                body_html_sealed = CASE WHEN scrub_after_send THEN ''::bytea ELSE body_html_sealed END
          WHERE id = $1 AND claimed_by = $2 AND sent_at IS NULL
         RETURNING message_id, scrub_after_send",
    )
    .bind(id)
    .bind(claim)
    .fetch_optional(&mut *tx)
    .await
    .context("marking a mail sent")?;
    if let Some((message_id, true)) = &done {
        sqlx::query("DELETE FROM row_keys WHERE owner = $1")
            .bind(row_owner(message_id))
            .execute(&mut *tx)
            .await
            .context("deleting a sent mail's own key")?;
    }
    tx.commit().await.context("marking a mail sent")?;
    Ok(done.is_some())
}

/// Records a failed attempt and when to try again; fenced on the claim like [`mark_sent`].
/// `error` is kept in clear: it must not name the recipient (give the reply code, not the
/// server's text, which often repeats the address).
pub async fn mark_failed(
    pool: &PgPool,
    id: i64,
    claim: &str,
    error: &str,
    retry_in: Duration,
) -> anyhow::Result<bool> {
    let done = sqlx::query(
        "UPDATE outbox SET attempts = attempts + 1, last_error = $3, claimed_by = NULL,
                next_attempt_at = now() + make_interval(secs => $4)
          WHERE id = $1 AND claimed_by = $2 AND sent_at IS NULL",
    )
    .bind(id)
    .bind(claim)
    .bind(error)
    .bind(retry_in.as_secs_f64())
    .execute(pool)
    .await
    .context("recording a failed delivery")?;
    Ok(done.rows_affected() == 1)
}
