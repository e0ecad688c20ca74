//! `reply_tokens`: what a reply's token points at.

use chrono::{DateTime, Utc};
use rusqlite::{Connection, OptionalExtension, params};
use sha2::{Digest, Sha256};

use super::sql::At;

#[derive(Clone)]
pub struct ReplyToken {
    pub request_id: i64,
    pub email: String,
    pub expires_at: DateTime<Utc>,
    /// The mail listed the person's requests (the status answer): a yes or a no to it is
    /// about the one of them that can take it.
    pub lists: bool,
}

impl std::fmt::Debug for ReplyToken {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // The address names someone: never in a log or a panic message.
        f.debug_struct("ReplyToken")
            .field("request_id", &self.request_id)
            .field("expires_at", &self.expires_at)
            .field("lists", &self.lists)
            .finish_non_exhaustive()
    }
}

pub fn hash(token: &str) -> String {
    hex::encode(Sha256::digest(token.as_bytes()))
}

pub fn insert(
    db: &Connection,
    token: &str,
    request_id: i64,
    lists: bool,
    email: &str,
    now: DateTime<Utc>,
    expires_at: DateTime<Utc>,
) -> rusqlite::Result<()> {
    db.prepare_cached(
        "INSERT INTO reply_tokens (token_hash, request_id, lists, email, created_at, expires_at)
         VALUES (?, ?, ?, ?, ?, ?)",
    )?
    .execute(params![
        hash(token),
        request_id,
        lists,
        email,
        At(now),
        At(expires_at)
    ])?;
    Ok(())
}

pub fn find(db: &Connection, token: &str) -> rusqlite::Result<Option<ReplyToken>> {
    db.prepare_cached(
        "SELECT request_id, email, expires_at, lists FROM reply_tokens WHERE token_hash = ?",
    )?
    .query_row([hash(token)], |r| {
        Ok(ReplyToken {
            request_id: r.get(0)?,
            email: r.get(1)?,
            expires_at: r.get::<_, At>(2)?.0,
            lists: r.get(3)?,
        })
    })
    .optional()
}

/// The token of the outgoing mail with this Message-ID, for replies that lost the plus address
/// but kept In-Reply-To / References.
pub fn find_by_message_id(
    db: &Connection,
    message_id: &str,
) -> rusqlite::Result<Option<ReplyToken>> {
    let token: Option<Option<String>> = db
        .prepare_cached("SELECT reply_token FROM outbox WHERE message_id = ?")?
        .query_row([message_id], |r| r.get(0))
        .optional()?;
    match token.flatten() {
        Some(t) => find(db, &t),
        None => Ok(None),
    }
}

/// Erasure: the tokens of the person's requests, and every token given to one of `emails`.
pub fn delete_for(db: &Connection, person_id: i64, emails: &[String]) -> rusqlite::Result<()> {
    db.prepare_cached(
        "DELETE FROM reply_tokens WHERE request_id IN (SELECT id FROM requests WHERE person_id = ?)",
    )?
    .execute([person_id])?;
    for e in emails {
        db.prepare_cached("DELETE FROM reply_tokens WHERE email = ?")?
            .execute([e])?;
    }
    Ok(())
}
