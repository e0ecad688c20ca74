//! `outbox`: mail waiting for delivery, written in the same transaction as its cause.

use chrono::{DateTime, Utc};
use rusqlite::{Connection, OptionalExtension, Row, params};

use super::sql::At;

#[derive(Clone)]
pub struct Mail {
    pub id: i64,
    pub message_id: String,
    pub person_id: Option<i64>,
    pub request_id: Option<i64>,
    pub template: String,
    pub recipient: String,
    pub subject: String,
    pub body_text: String,
    pub body_html: String,
    pub attempts: i64,
    pub scrub_after_send: bool,
    pub reply_token: Option<String>,
    pub in_reply_to: Option<String>,
    pub thread_root: Option<String>,
    pub attachment_name: Option<String>,
    pub attachment_body: Option<String>,
}

impl std::fmt::Debug for Mail {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // The address, the texts and the reply token name or reach a person: never in a log.
        f.debug_struct("Mail")
            .field("id", &self.id)
            .field("message_id", &self.message_id)
            .field("template", &self.template)
            .field("attempts", &self.attempts)
            .finish_non_exhaustive()
    }
}

pub struct NewMail<'a> {
    pub message_id: &'a str,
    pub person_id: Option<i64>,
    pub request_id: Option<i64>,
    pub template: &'a str,
    pub recipient: &'a str,
    pub subject: &'a str,
    pub body_text: &'a str,
    pub body_html: &'a str,
    pub scrub_after_send: bool,
    pub reply_token: Option<&'a str>,
    pub in_reply_to: Option<&'a str>,
    pub thread_root: Option<&'a str>,
    pub attachment: Option<(&'a str, &'a str)>,
}

const COLUMNS: &str = "id, message_id, person_id, request_id, template, recipient, subject, body_text, body_html, \
                       attempts, scrub_after_send, reply_token, in_reply_to, attachment_name, attachment_body, thread_root";

fn from_row(r: &Row<'_>) -> rusqlite::Result<Mail> {
    Ok(Mail {
        id: r.get(0)?,
        message_id: r.get(1)?,
        person_id: r.get(2)?,
        request_id: r.get(3)?,
        template: r.get(4)?,
        recipient: r.get(5)?,
        subject: r.get(6)?,
        body_text: r.get(7)?,
        body_html: r.get(8)?,
        attempts: r.get(9)?,
        scrub_after_send: r.get(10)?,
        reply_token: r.get(11)?,
        in_reply_to: r.get(12)?,
        attachment_name: r.get(13)?,
        attachment_body: r.get(14)?,
        thread_root: r.get(15)?,
    })
}

pub fn insert(db: &Connection, mail: &NewMail<'_>, now: DateTime<Utc>) -> rusqlite::Result<i64> {
    db.prepare_cached(
        "INSERT INTO outbox (message_id, person_id, request_id, template, recipient, subject, body_text, body_html,
                             created_at, next_attempt_at, scrub_after_send, reply_token, in_reply_to,
                             attachment_name, attachment_body, thread_root)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?9, ?10, ?11, ?12, ?13, ?14, ?15)",
    )?
    .execute(
        params![
            mail.message_id,
            mail.person_id,
            mail.request_id,
            mail.template,
            mail.recipient,
            mail.subject,
            mail.body_text,
            mail.body_html,
            At(now),
            mail.scrub_after_send,
            mail.reply_token,
            mail.in_reply_to,
            mail.attachment.map(|a| a.0),
            mail.attachment.map(|a| a.1),
            mail.thread_root,
        ])?;
    Ok(db.last_insert_rowid())
}

/// Claims the unsent mail that has waited longest among those due at `now`: its next attempt
/// moves to `lease_until`, so a second worker does not pick it up while this one sends it, and
/// a worker that dies mid-send leaves it to be retried once the lease runs out.
pub fn claim_next_due(
    db: &Connection,
    now: DateTime<Utc>,
    lease_until: DateTime<Utc>,
) -> rusqlite::Result<Option<Mail>> {
    db.prepare_cached(&format!(
        "UPDATE outbox SET next_attempt_at = ?
         WHERE id = (SELECT id FROM outbox WHERE sent_at IS NULL AND next_attempt_at <= ?
                     ORDER BY next_attempt_at, id LIMIT 1)
         RETURNING {COLUMNS}"
    ))?
    .query_row(params![At(lease_until), At(now)], from_row)
    .optional()
}

/// Marks a mail delivered; mail to an erased person loses its address and text at once.
pub fn mark_sent(db: &Connection, id: i64, now: DateTime<Utc>) -> rusqlite::Result<()> {
    db.prepare_cached(
        "UPDATE outbox SET sent_at = ?, attempts = attempts + 1, last_error = NULL,
             recipient = CASE WHEN scrub_after_send THEN '' ELSE recipient END,
             subject = CASE WHEN scrub_after_send THEN '' ELSE subject END,
             body_text = CASE WHEN scrub_after_send THEN '' ELSE body_text END,
             body_html = CASE WHEN scrub_after_send THEN '' ELSE body_html END,
             reply_token = CASE WHEN scrub_after_send THEN NULL ELSE reply_token END,
             in_reply_to = CASE WHEN scrub_after_send THEN NULL ELSE in_reply_to END
         WHERE id = ?",
    )?
    .execute(params![At(now), id])?;
    Ok(())
}

pub fn mark_failed(
    db: &Connection,
    id: i64,
    error: &str,
    next_attempt_at: DateTime<Utc>,
) -> rusqlite::Result<()> {
    db.prepare_cached(
        "UPDATE outbox SET attempts = attempts + 1, last_error = ?, next_attempt_at = ? WHERE id = ?",
    )?
    .execute(params![error, At(next_attempt_at), id])?;
    Ok(())
}

/// For an erased person: the mail to them or about them (by person, or to one of `emails`,
/// whoever asked for it) already delivered is wiped now, and its copy in the outbox folder
/// marked to be removed; the rest is flagged to be wiped once delivered.
pub fn scrub_for(db: &Connection, person_id: i64, emails: &[String]) -> rusqlite::Result<()> {
    let wipe_sent = "UPDATE outbox SET recipient = '', subject = '', body_text = '', body_html = '',
                            reply_token = NULL, in_reply_to = NULL, scrub_after_send = 1, forget_copy = 1
                     WHERE sent_at IS NOT NULL AND ";
    let flag_unsent = "UPDATE outbox SET scrub_after_send = 1 WHERE sent_at IS NULL AND ";
    for stmt in [wipe_sent, flag_unsent] {
        db.prepare_cached(&format!("{stmt} person_id = ?"))?
            .execute([person_id])?;
        for e in emails {
            db.prepare_cached(&format!("{stmt} recipient = ?"))?
                .execute([e])?;
        }
    }
    Ok(())
}

/// Mails whose copy in the outbox folder is to be removed.
pub fn copies_to_forget(db: &Connection) -> rusqlite::Result<Vec<i64>> {
    db.prepare_cached("SELECT id FROM outbox WHERE forget_copy = 1 ORDER BY id")?
        .query_map([], |r| r.get(0))?
        .collect()
}

pub fn copy_forgotten(db: &Connection, id: i64) -> rusqlite::Result<()> {
    db.prepare_cached("UPDATE outbox SET forget_copy = 0 WHERE id = ?")?
        .execute([id])?;
    Ok(())
}

/// The texts (plain and HTML) of every mail about `request_id` to `recipient` that still has
/// them, oldest first: what a reply from that address may quote.
pub fn texts_about(
    db: &Connection,
    request_id: i64,
    recipient: &str,
) -> rusqlite::Result<Vec<(String, String, String)>> {
    db.prepare_cached(
        "SELECT subject, body_text, body_html FROM outbox
         WHERE request_id = ? AND recipient = ? AND body_text != '' ORDER BY id",
    )?
    .query_map(params![request_id, recipient], |r| {
        Ok((r.get(0)?, r.get(1)?, r.get(2)?))
    })?
    .collect()
}

/// The Message-ID of the first mail about `request_id` to `recipient`: the root of the thread
/// every later mail about it joins.
pub fn thread_root(
    db: &Connection,
    request_id: i64,
    recipient: &str,
) -> rusqlite::Result<Option<String>> {
    db.prepare_cached(
        "SELECT message_id FROM outbox WHERE request_id = ? AND recipient = ? ORDER BY id LIMIT 1",
    )?
    .query_row(params![request_id, recipient], |r| r.get(0))
    .optional()
}

/// The addresses request `request_id` waits on: the sender of a request made by mail (asked
/// to confirm by reply), and the person's proven addresses a code for it went to.
pub fn waiting_addresses(
    db: &Connection,
    request_id: i64,
    person_id: i64,
) -> rusqlite::Result<Vec<String>> {
    db.prepare_cached(
        "SELECT DISTINCT o.recipient FROM outbox o
         WHERE o.request_id = ?1 AND o.recipient != ''
           AND (o.template = 'confirm_by_reply'
                OR (o.template = 'confirmation_code' AND EXISTS (
                    SELECT 1 FROM identities i WHERE i.kind = 'email' AND i.value = o.recipient
                      AND i.person_id = ?2 AND i.verified_at IS NOT NULL)))
         ORDER BY o.recipient",
    )?
    .query_map(params![request_id, person_id], |r| r.get(0))?
    .collect()
}
