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

use crate::store::{
    outbox::Texts,
    seal::{PersonKey, Unsealable, Wrapping},
};

pub use crate::db::outbox::{Mail, NewMail};

/// A mail a worker holds the claim on, opened.
#[derive(Clone, PartialEq, Eq)]
pub struct Claimed {
    pub id: i64,
    pub message_id: String,
    pub recipient: String,
    pub subject: String,
    pub body_text: String,
    pub body_html: String,
    /// The token its Reply-To carries, when it is about a request.
    pub reply_token: Option<String>,
    /// The Message-ID of the mail it answers.
    pub in_reply_to: Option<String>,
    /// The Message-ID of the first mail of its thread.
    pub thread_root: Option<String>,
    /// A file attached: its name and its text.
    pub attachment: Option<(String, String)>,
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
const IN_REPLY_TO: &str = "outbox.in_reply_to";
const ATTACHMENT: &str = "outbox.attachment_body";

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
    super::row_keys::new_key(tx, wrapping, &row_owner(message_id), now).await
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
    write(tx, wrapping, mail, person_key, mail.scrub_after_send, now).await
}

/// Queues `mail` in a unit of work: under the key of the person it is about, read here. A
/// mail about a person already erased (the confirmation of their erasure) has no such key: it
/// goes under a key of its own and loses its address, text and key once sent.
pub async fn queue(
    tx: &mut PgConnection,
    wrapping: &Wrapping,
    mail: &NewMail<'_>,
    now: DateTime<Utc>,
) -> anyhow::Result<i64> {
    let key = match mail.person_id {
        Some(person) => super::people::key(tx, wrapping, person).await?,
        None => None,
    };
    let erased = mail.person_id.is_some() && key.is_none();
    let scrub = mail.scrub_after_send || erased;
    write(tx, wrapping, mail, key.as_ref(), scrub, now).await
}

async fn write(
    tx: &mut PgConnection,
    wrapping: &Wrapping,
    mail: &NewMail<'_>,
    person_key: Option<&PersonKey>,
    scrub_after_send: bool,
    now: DateTime<Utc>,
) -> anyhow::Result<i64> {
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
                             created_at, next_attempt_at, scrub_after_send, reply_token,
                             in_reply_to_sealed, thread_root, attachment_name, attachment_body_sealed)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $10, $11, $12, $13, $14, $15, $16)
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
    .bind(scrub_after_send)
    .bind(mail.reply_token)
    .bind(mail.in_reply_to.map(|m| key.seal(IN_REPLY_TO, m)))
    .bind(mail.thread_root)
    .bind(mail.attachment.map(|a| a.0))
    .bind(mail.attachment.map(|a| key.seal(ATTACHMENT, a.1)))
    .fetch_one(&mut *tx)
    .await
    .context("queueing a mail")
}

/// The key a mail is sealed under: its own when it has one (in `row_keys`), else its person's.
fn key_of(
    wrapping: &Wrapping,
    message_id: &str,
    person: Option<i64>,
    own: Option<&[u8]>,
    persons: Option<&[u8]>,
) -> Result<PersonKey, Unsealable> {
    match (person, own, persons) {
        (_, Some(own), _) => wrapping.unwrap_key(&row_owner(message_id), own),
        (Some(person), None, Some(wrapped)) => wrapping.unwrap(person, wrapped),
        _ => Err(Unsealable),
    }
}

/// The Message-ID of the first mail about `request` to `recipient` (see
/// [`crate::store::outbox::MailQueue::thread_root`]); a scrubbed mail has no address left to
/// match.
pub async fn thread_root(
    tx: &mut PgConnection,
    wrapping: &Wrapping,
    request: i64,
    recipient: &str,
) -> anyhow::Result<Option<String>> {
    sqlx::query_scalar(
        "SELECT message_id FROM outbox WHERE request_id = $1 AND recipient_hash = $2
          ORDER BY id LIMIT 1",
    )
    .bind(request)
    .bind(wrapping.blind("email", recipient))
    .fetch_optional(&mut *tx)
    .await
    .context("finding the thread a mail joins")
}

/// The sealed columns a read opens, with what opens them: Message-ID, person, the sealed
/// values, the row's own wrapped key, the person's wrapped key.
type SealedRow = (
    String,
    Option<i64>,
    Vec<u8>,
    Vec<u8>,
    Vec<u8>,
    Option<Vec<u8>>,
    Option<Vec<u8>>,
);

/// The keys a read of `outbox o` needs beside its sealed columns.
const KEYS: &str = "(SELECT wrapped_key FROM row_keys WHERE owner = 'outbox:' || o.message_id),
                    (SELECT wrapped_key FROM person_keys WHERE person_id = o.person_id)";

/// The texts of the mails about `request` to `recipient` not yet scrubbed, oldest first.
pub async fn texts_about(
    tx: &mut PgConnection,
    wrapping: &Wrapping,
    request: i64,
    recipient: &str,
) -> anyhow::Result<Vec<Texts>> {
    let rows: Vec<SealedRow> = sqlx::query_as(&format!(
        "SELECT o.message_id, o.person_id, o.subject_sealed, o.body_text_sealed, o.body_html_sealed,
                {KEYS}
           FROM outbox o
          WHERE o.request_id = $1 AND o.recipient_hash = $2 AND o.body_text_sealed != ''::bytea
          ORDER BY o.id"
    ))
    .bind(request)
    .bind(wrapping.blind("email", recipient))
    .fetch_all(&mut *tx)
    .await
    .context("reading the mails a reply may quote")?;
    rows.into_iter()
        .map(|(message_id, person, subject, text, html, own, persons)| {
            let key = key_of(
                wrapping,
                &message_id,
                person,
                own.as_deref(),
                persons.as_deref(),
            )?;
            Ok((
                key.open(SUBJECT, &subject)?,
                key.open(BODY_TEXT, &text)?,
                key.open(BODY_HTML, &html)?,
            ))
        })
        .collect::<Result<_, Unsealable>>()
        .context("opening a queued mail's texts")
}

/// The addresses `request` waits on (see
/// [`crate::store::outbox::MailQueue::waiting_addresses`]), in order, each once.
pub async fn waiting_addresses(
    tx: &mut PgConnection,
    wrapping: &Wrapping,
    request: i64,
    person: i64,
) -> anyhow::Result<Vec<String>> {
    type Row = (
        String,
        Option<i64>,
        Vec<u8>,
        Option<Vec<u8>>,
        Option<Vec<u8>>,
    );
    let rows: Vec<Row> = sqlx::query_as(&format!(
        "SELECT o.message_id, o.person_id, o.recipient_sealed, {KEYS}
           FROM outbox o
          WHERE o.request_id = $1 AND o.recipient_hash IS NOT NULL
            AND (o.template = 'confirm_by_reply'
                 OR (o.template = 'confirmation_code' AND EXISTS (
                     SELECT 1 FROM identities i
                      WHERE i.kind = 'email' AND i.value_hash = o.recipient_hash
                        AND i.person_id = $2 AND i.verified_at IS NOT NULL)))"
    ))
    .bind(request)
    .bind(person)
    .fetch_all(&mut *tx)
    .await
    .context("finding the addresses a request waits on")?;
    let addresses = rows
        .into_iter()
        .map(|(message_id, person, recipient, own, persons)| {
            key_of(
                wrapping,
                &message_id,
                person,
                own.as_deref(),
                persons.as_deref(),
            )?
            .open(RECIPIENT, &recipient)
        })
        .collect::<Result<std::collections::BTreeSet<_>, Unsealable>>()
        .context("opening the address a request waits on")?;
    Ok(addresses.into_iter().collect())
}

/// What a claim reads of a row of `outbox o`: [`ClaimedRow`]'s columns.
const CLAIMED: &str = "o.id, o.message_id, o.person_id, o.request_id, o.template, o.scrub_after_send,
     o.attempts, o.recipient_sealed, o.subject_sealed, o.body_text_sealed, o.body_html_sealed,
     o.reply_token, o.in_reply_to_sealed, o.thread_root, o.attachment_name, o.attachment_body_sealed,
     (SELECT wrapped_key FROM row_keys WHERE owner = 'outbox:' || o.message_id) AS own_key,
     (SELECT wrapped_key FROM person_keys WHERE person_id = o.person_id) AS person_key";

/// A claimed row as read, sealed, with the keys that open it.
#[derive(sqlx::FromRow)]
struct ClaimedRow {
    id: i64,
    message_id: String,
    person_id: Option<i64>,
    request_id: Option<i64>,
    template: String,
    scrub_after_send: bool,
    attempts: i64,
    recipient_sealed: Vec<u8>,
    subject_sealed: Vec<u8>,
    body_text_sealed: Vec<u8>,
    body_html_sealed: Vec<u8>,
    reply_token: Option<String>,
    in_reply_to_sealed: Option<Vec<u8>>,
    thread_root: Option<String>,
    attachment_name: Option<String>,
    attachment_body_sealed: Option<Vec<u8>>,
    own_key: Option<Vec<u8>>,
    person_key: Option<Vec<u8>>,
}

impl ClaimedRow {
    fn open(self, wrapping: &Wrapping, claim: &str) -> Result<Claimed, Unsealable> {
        let key = key_of(
            wrapping,
            &self.message_id,
            self.person_id,
            self.own_key.as_deref(),
            self.person_key.as_deref(),
        )?;
        let attachment = match (self.attachment_name, self.attachment_body_sealed) {
            (Some(name), Some(body)) => Some((name, key.open(ATTACHMENT, &body)?)),
            _ => None,
        };
        Ok(Claimed {
            id: self.id,
            recipient: key.open(RECIPIENT, &self.recipient_sealed)?,
            subject: key.open(SUBJECT, &self.subject_sealed)?,
            body_text: key.open(BODY_TEXT, &self.body_text_sealed)?,
            body_html: key.open(BODY_HTML, &self.body_html_sealed)?,
            in_reply_to: self
                .in_reply_to_sealed
                .map(|m| key.open(IN_REPLY_TO, &m))
                .transpose()?,
            reply_token: self.reply_token,
            thread_root: self.thread_root,
            attachment,
            message_id: self.message_id,
            attempts: self.attempts,
            claim: claim.to_owned(),
        })
    }
}

/// Claims up to `max` due mails for `worker` until `lease` from now (by the database's clock).
pub async fn claim(
    pool: &PgPool,
    wrapping: &Wrapping,
    worker: &str,
    lease: Duration,
    max: i64,
) -> anyhow::Result<Vec<Claimed>> {
    let claim = format!("{worker} {}", uuid::Uuid::new_v4().simple());
    let rows: Vec<ClaimedRow> = sqlx::query_as(&format!(
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
         RETURNING {CLAIMED}"
    ))
    .bind(&claim)
    .bind(lease.as_secs_f64())
    .bind(max)
    .fetch_all(pool)
    .await
    .context("claiming due mail")?;
    let mut claimed = Vec::with_capacity(rows.len());
    for row in rows {
        let id = row.id;
        match row.open(wrapping, &claim) {
            Ok(mail) => claimed.push(mail),
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
    /// id, Message-ID, and the values sealed under the person's key.
    type Unsent = (
        i64,
        String,
        Vec<u8>,
        Vec<u8>,
        Vec<u8>,
        Vec<u8>,
        Option<Vec<u8>>,
        Option<Vec<u8>>,
    );
    let rows: Vec<Unsent> = sqlx::query_as(
        "SELECT id, message_id, recipient_sealed, subject_sealed, body_text_sealed, body_html_sealed,
                in_reply_to_sealed, attachment_body_sealed
           FROM outbox o
          WHERE person_id = $1 AND sent_at IS NULL
            AND NOT EXISTS (SELECT 1 FROM row_keys WHERE owner = 'outbox:' || o.message_id)
          FOR UPDATE",
    )
    .bind(person)
    .fetch_all(&mut *tx)
    .await
    .context("finding an erased person's unsent mail")?;
    for (id, message_id, recipient, subject, text, html, in_reply_to, attachment) in rows {
        let own = own_key(tx, wrapping, &message_id, now).await?;
        let reseal = |context, sealed: &[u8]| -> anyhow::Result<Vec<u8>> {
            let plain = key
                .open(context, sealed)
                .context("opening a mail to seal it again")?;
            Ok(own.seal(context, &plain))
        };
        sqlx::query(
            "UPDATE outbox SET recipient_sealed = $2, subject_sealed = $3, body_text_sealed = $4,
                    body_html_sealed = $5, in_reply_to_sealed = $6, attachment_body_sealed = $7,
                    scrub_after_send = TRUE
              WHERE id = $1",
        )
        .bind(id)
        .bind(reseal(RECIPIENT, &recipient)?)
        .bind(reseal(SUBJECT, &subject)?)
        .bind(reseal(BODY_TEXT, &text)?)
        .bind(reseal(BODY_HTML, &html)?)
        .bind(in_reply_to.map(|m| reseal(IN_REPLY_TO, &m)).transpose()?)
        .bind(attachment.map(|a| reseal(ATTACHMENT, &a)).transpose()?)
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
    let done = sent(&mut tx, id, None, Some(claim)).await?;
    tx.commit().await.context("marking a mail sent")?;
    Ok(done)
}

/// Marks mail `id` sent at `at` (the database's clock when none), if it is unsent and, with a
/// `claim`, still that claim's; scrubs it, and deletes its own key, when it was to go once
/// sent. Whether it was marked.
async fn sent(
    tx: &mut PgConnection,
    id: i64,
    at: Option<DateTime<Utc>>,
    claim: Option<&str>,
) -> anyhow::Result<bool> {
    let done: Option<(String, bool)> = sqlx::query_as(
        "UPDATE outbox SET sent_at = COALESCE($2, now()), attempts = attempts + 1, last_error = NULL,
                claimed_by = NULL,
                recipient_sealed = CASE WHEN scrub_after_send THEN ''::bytea ELSE recipient_sealed END,
                recipient_hash = CASE WHEN scrub_after_send THEN NULL ELSE recipient_hash END,
                subject_sealed = CASE WHEN scrub_after_send THEN ''::bytea ELSE subject_sealed END,
                body_text_sealed = CASE WHEN scrub_after_send THEN ''::bytea ELSE body_text_sealed END,
                body_html_sealed = CASE WHEN scrub_after_send THEN ''::bytea ELSE body_html_sealed END,
                reply_token = CASE WHEN scrub_after_send THEN NULL ELSE reply_token END,
                in_reply_to_sealed = CASE WHEN scrub_after_send THEN NULL ELSE in_reply_to_sealed END,
                attachment_body_sealed =
                    CASE WHEN scrub_after_send THEN NULL ELSE attachment_body_sealed END
          WHERE id = $1 AND sent_at IS NULL AND ($3::text IS NULL OR claimed_by = $3)
         RETURNING message_id, scrub_after_send",
    )
    .bind(id)
    .bind(at)
    .bind(claim)
    .fetch_optional(&mut *tx)
    .await
    .context("marking a mail sent")?;
    if let Some((message_id, true)) = &done {
        super::row_keys::forget(tx, &[row_owner(message_id)]).await?;
    }
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

/// Claims, in a unit of work, the unsent mail due longest ago that no other worker holds; its
/// next attempt moves to `lease_until` (the unit's clock, as on SQLite). One that cannot be
/// opened is set aside for good and the next is claimed.
pub async fn claim_in_unit(
    tx: &mut PgConnection,
    wrapping: &Wrapping,
    now: DateTime<Utc>,
    lease_until: DateTime<Utc>,
) -> anyhow::Result<Option<Mail>> {
    loop {
        let row: Option<ClaimedRow> = sqlx::query_as(&format!(
            "WITH due AS (
                 SELECT id FROM outbox
                  WHERE sent_at IS NULL AND next_attempt_at <= $1
                  ORDER BY next_attempt_at, id
                  LIMIT 1
                  FOR UPDATE SKIP LOCKED)
             UPDATE outbox o SET next_attempt_at = $2
               FROM due
              WHERE o.id = due.id
             RETURNING {CLAIMED}"
        ))
        .bind(now)
        .bind(lease_until)
        .fetch_optional(&mut *tx)
        .await
        .context("claiming due mail")?;
        let Some(row) = row else {
            return Ok(None);
        };
        let (id, person_id, request_id) = (row.id, row.person_id, row.request_id);
        let (template, scrub_after_send) = (row.template.clone(), row.scrub_after_send);
        match row.open(wrapping, "") {
            Ok(m) => {
                let (attachment_name, attachment_body) = m.attachment.unzip();
                return Ok(Some(Mail {
                    id,
                    message_id: m.message_id,
                    person_id,
                    request_id,
                    template,
                    recipient: m.recipient,
                    subject: m.subject,
                    body_text: m.body_text,
                    body_html: m.body_html,
                    attempts: m.attempts,
                    scrub_after_send,
                    reply_token: m.reply_token,
                    in_reply_to: m.in_reply_to,
                    thread_root: m.thread_root,
                    attachment_name,
                    attachment_body,
                }));
            }
            Err(_) => {
                tracing::error!(
                    mail = id,
                    "a queued mail cannot be opened with its key; it is set aside"
                );
                sqlx::query(
                    "UPDATE outbox SET next_attempt_at = 'infinity',
                            last_error = 'cannot be opened with its data key'
                      WHERE id = $1",
                )
                .bind(id)
                .execute(&mut *tx)
                .await
                .context("setting aside a mail that cannot be opened")?;
            }
        }
    }
}

/// Marks a mail delivered, in a unit of work; mail to an erased person loses its address,
/// text and own key at once. A mail already marked sent (by a worker whose lease had run out
/// and another's that took it) stays as it is.
pub async fn sent_in_unit(
    tx: &mut PgConnection,
    id: i64,
    now: DateTime<Utc>,
) -> anyhow::Result<()> {
    sent(tx, id, Some(now), None).await.map(drop)
}

pub async fn failed_in_unit(
    tx: &mut PgConnection,
    id: i64,
    error: &str,
    retry_at: DateTime<Utc>,
) -> anyhow::Result<()> {
    sqlx::query(
        "UPDATE outbox SET attempts = attempts + 1, last_error = $2, next_attempt_at = $3
          WHERE id = $1 AND sent_at IS NULL",
    )
    .bind(id)
    .bind(error)
    .bind(retry_at)
    .execute(&mut *tx)
    .await
    .context("recording a failed delivery")?;
    Ok(())
}

pub async fn copies_to_forget(conn: &mut PgConnection) -> anyhow::Result<Vec<i64>> {
    sqlx::query_scalar("SELECT id FROM outbox WHERE forget_copy ORDER BY id")
        .fetch_all(conn)
        .await
        .context("finding mail copies to remove")
}

pub async fn copy_forgotten(conn: &mut PgConnection, id: i64) -> anyhow::Result<()> {
    sqlx::query("UPDATE outbox SET forget_copy = FALSE WHERE id = $1")
        .bind(id)
        .execute(conn)
        .await
        .context("recording a mail copy removed")?;
    Ok(())
}
