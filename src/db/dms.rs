//! `dm_outbox`: Discord DMs (receipts) waiting to be sent, claimed with a lease like mail.

use chrono::{DateTime, Utc};
use rusqlite::{Connection, OptionalExtension, params};

use super::sql::At;

#[derive(Clone, PartialEq, Eq)]
pub struct Dm {
    pub id: i64,
    pub recipient: String,
    pub text: String,
    pub attempts: i64,
    pub created_at: DateTime<Utc>,
}

impl std::fmt::Debug for Dm {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // The member's id and the text name them: never in a log or a panic message.
        f.debug_struct("Dm")
            .field("id", &self.id)
            .field("attempts", &self.attempts)
            .field("created_at", &self.created_at)
            .finish_non_exhaustive()
    }
}

pub fn queue(
    db: &Connection,
    person_id: Option<i64>,
    request_id: Option<i64>,
    recipient: &str,
    text: &str,
    scrub_after_send: bool,
    now: DateTime<Utc>,
) -> rusqlite::Result<i64> {
    db.prepare_cached(
        "INSERT INTO dm_outbox (person_id, request_id, recipient, text, created_at, next_attempt_at, scrub_after_send)
         VALUES (?1, ?2, ?3, ?4, ?5, ?5, ?6)",
    )?
    .execute(params![person_id, request_id, recipient, text, At(now), scrub_after_send])?;
    Ok(db.last_insert_rowid())
}

/// Claims the DM due longest ago, moving its next attempt to `lease_until`.
pub fn claim_next_due(
    db: &Connection,
    now: DateTime<Utc>,
    lease_until: DateTime<Utc>,
) -> rusqlite::Result<Option<Dm>> {
    let Some(id) = db
        .prepare_cached(
            "SELECT id FROM dm_outbox WHERE sent_at IS NULL AND gave_up_at IS NULL AND next_attempt_at <= ?
             ORDER BY next_attempt_at, id LIMIT 1",
        )?
        .query_row([At(now)], |r| r.get::<_, i64>(0))
        .optional()?
    else {
        return Ok(None);
    };
    db.prepare_cached("UPDATE dm_outbox SET next_attempt_at = ? WHERE id = ?")?
        .execute(params![At(lease_until), id])?;
    db.prepare_cached(
        "SELECT id, recipient, text, attempts, created_at FROM dm_outbox WHERE id = ?",
    )?
    .query_row([id], |r| {
        Ok(Dm {
            id: r.get(0)?,
            recipient: r.get(1)?,
            text: r.get(2)?,
            attempts: r.get(3)?,
            created_at: r.get::<_, At>(4)?.0,
        })
    })
    .optional()
}

/// Sent: a DM to an erased person loses its id and text at once.
pub fn mark_sent(db: &Connection, id: i64, now: DateTime<Utc>) -> rusqlite::Result<()> {
    db.prepare_cached(
        "UPDATE dm_outbox SET sent_at = ?, attempts = attempts + 1, last_error = NULL,
             recipient = CASE WHEN scrub_after_send THEN '' ELSE recipient END,
             text = CASE WHEN scrub_after_send THEN '' ELSE text END
         WHERE id = ?",
    )?
    .execute(params![At(now), id])?;
    Ok(())
}

pub fn mark_failed(
    db: &Connection,
    id: i64,
    error: &str,
    retry_at: DateTime<Utc>,
) -> rusqlite::Result<()> {
    db.prepare_cached(
        "UPDATE dm_outbox SET attempts = attempts + 1, last_error = ?, next_attempt_at = ? WHERE id = ?",
    )?
    .execute(params![error, At(retry_at), id])?;
    Ok(())
}

/// Discord will not take it (DMs closed), or it waited as long as a receipt may: given up, and
/// wiped when its person was erased.
pub fn give_up(db: &Connection, id: i64, why: &str, now: DateTime<Utc>) -> rusqlite::Result<()> {
    db.prepare_cached(
        "UPDATE dm_outbox SET gave_up_at = ?, attempts = attempts + 1, last_error = ?,
             recipient = CASE WHEN scrub_after_send THEN '' ELSE recipient END,
             text = CASE WHEN scrub_after_send THEN '' ELSE text END
         WHERE id = ?",
    )?
    .execute(params![At(now), why, id])?;
    Ok(())
}

/// Erasure: DMs already sent or given up lose the id and text; those still waiting (the last
/// one, saying the deletion is done) keep them until they go.
pub fn scrub_for(db: &Connection, person_id: i64, ids: &[String]) -> rusqlite::Result<()> {
    db.prepare_cached(
        "UPDATE dm_outbox SET recipient = '', text = ''
         WHERE person_id = ?1 AND (sent_at IS NOT NULL OR gave_up_at IS NOT NULL)",
    )?
    .execute([person_id])?;
    db.prepare_cached("UPDATE dm_outbox SET scrub_after_send = 1 WHERE person_id = ?1")?
        .execute([person_id])?;
    for id in ids {
        db.prepare_cached(
            "UPDATE dm_outbox SET recipient = '', text = ''
             WHERE recipient = ?1 AND (sent_at IS NOT NULL OR gave_up_at IS NOT NULL)",
        )?
        .execute([id])?;
        db.prepare_cached("UPDATE dm_outbox SET scrub_after_send = 1 WHERE recipient = ?1")?
            .execute([id])?;
    }
    Ok(())
}

/// How many DMs wait to be sent.
pub fn waiting(db: &Connection) -> rusqlite::Result<i64> {
    db.prepare_cached(
        "SELECT COUNT(*) FROM dm_outbox WHERE sent_at IS NULL AND gave_up_at IS NULL",
    )?
    .query_row([], |r| r.get(0))
}
