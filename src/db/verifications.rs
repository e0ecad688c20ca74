//! `email_verifications`: one-time codes proving control of an email address.

use chrono::{DateTime, Utc};
use rusqlite::{Connection, OptionalExtension, Row, params};

use super::sql::At;

#[derive(Clone)]
pub struct Verification {
    pub id: i64,
    pub person_id: i64,
    pub request_id: i64,
    pub email: String,
    pub code_hash: String,
    pub attempts: i64,
    pub expires_at: DateTime<Utc>,
    pub verified_at: Option<DateTime<Utc>>,
}

impl std::fmt::Debug for Verification {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // The address names someone: never in a log or a panic message.
        f.debug_struct("Verification")
            .field("id", &self.id)
            .field("person_id", &self.person_id)
            .field("request_id", &self.request_id)
            .field("attempts", &self.attempts)
            .field("expires_at", &self.expires_at)
            .field("verified_at", &self.verified_at)
            .finish_non_exhaustive()
    }
}

const COLUMNS: &str = "v.id, v.person_id, v.request_id, v.email, v.code_hash, v.attempts, v.expires_at, v.verified_at";

fn from_row(r: &Row<'_>) -> rusqlite::Result<Verification> {
    Ok(Verification {
        id: r.get(0)?,
        person_id: r.get(1)?,
        request_id: r.get(2)?,
        email: r.get(3)?,
        code_hash: r.get(4)?,
        attempts: r.get(5)?,
        expires_at: r.get::<_, At>(6)?.0,
        verified_at: r.get::<_, Option<At>>(7)?.map(|a| a.0),
    })
}

pub fn insert(
    db: &Connection,
    person_id: i64,
    request_id: i64,
    email: &str,
    code_hash: &str,
    now: DateTime<Utc>,
    expires_at: DateTime<Utc>,
) -> rusqlite::Result<i64> {
    db.prepare_cached(
        "INSERT INTO email_verifications (person_id, request_id, email, code_hash, created_at, expires_at)
         VALUES (?, ?, ?, ?, ?, ?)",
    )?
    .execute(
        params![person_id, request_id, email, code_hash, At(now), At(expires_at)])?;
    Ok(db.last_insert_rowid())
}

/// The newest unverified code for a request, expired or not.
pub fn latest_for_request(
    db: &Connection,
    request_id: i64,
) -> rusqlite::Result<Option<Verification>> {
    db.prepare_cached(&format!(
        "SELECT {COLUMNS} FROM email_verifications v
         WHERE v.request_id = ? AND v.verified_at IS NULL ORDER BY v.id DESC LIMIT 1"
    ))?
    .query_row([request_id], from_row)
    .optional()
}

/// The person's newest unverified code whose request is still open.
pub fn latest_pending_for_person(
    db: &Connection,
    person_id: i64,
) -> rusqlite::Result<Option<Verification>> {
    db.prepare_cached(&format!(
        "SELECT {COLUMNS} FROM email_verifications v
         WHERE v.person_id = ? AND v.verified_at IS NULL AND v.refused_at IS NULL
           AND EXISTS (SELECT 1 FROM requests r WHERE r.id = v.request_id
                       AND r.state IN ('awaiting_confirmation', 'confirmed'))
         ORDER BY v.id DESC LIMIT 1"
    ))?
    .query_row([person_id], from_row)
    .optional()
}

pub fn count_attempt(db: &Connection, id: i64) -> rusqlite::Result<()> {
    db.prepare_cached("UPDATE email_verifications SET attempts = attempts + 1 WHERE id = ?")?
        .execute([id])?;
    Ok(())
}

pub fn mark_verified(db: &Connection, id: i64, now: DateTime<Utc>) -> rusqlite::Result<()> {
    db.prepare_cached("UPDATE email_verifications SET verified_at = ? WHERE id = ?")?
        .execute(params![At(now), id])?;
    Ok(())
}

/// Marks the codes of `request_id` sent to `email` as used: a reply from the address proved it.
pub fn mark_verified_by_reply(
    db: &Connection,
    request_id: i64,
    email: &str,
    now: DateTime<Utc>,
) -> rusqlite::Result<()> {
    db.prepare_cached(
        "UPDATE email_verifications SET verified_at = ?
         WHERE request_id = ? AND email = ? AND verified_at IS NULL",
    )?
    .execute(params![At(now), request_id, email])?;
    Ok(())
}

/// The address's owner said no: the codes of `request_id` sent to `email` stop working.
/// Returns whether any was waiting.
pub fn refuse(
    db: &Connection,
    request_id: i64,
    email: &str,
    now: DateTime<Utc>,
) -> rusqlite::Result<bool> {
    Ok(db
        .prepare_cached(
            "UPDATE email_verifications SET refused_at = ?
             WHERE request_id = ? AND email = ? AND verified_at IS NULL AND refused_at IS NULL",
        )?
        .execute(params![At(now), request_id, email])?
        > 0)
}

/// Erasure: the person's codes, and every code anyone asked for one of `emails`.
pub fn delete_for(db: &Connection, person_id: i64, emails: &[String]) -> rusqlite::Result<()> {
    db.prepare_cached("DELETE FROM email_verifications WHERE person_id = ?")?
        .execute([person_id])?;
    for e in emails {
        db.prepare_cached("DELETE FROM email_verifications WHERE email = ?")?
            .execute([e])?;
    }
    Ok(())
}
