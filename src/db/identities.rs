//! `identities`: the Discord ids, email addresses and console names through which a person
//! reaches the bot.

use chrono::{DateTime, Utc};
use rusqlite::{Connection, OptionalExtension, Row, params};

use super::sql::{At, at};

#[derive(Clone)]
pub struct Identity {
    pub id: i64,
    pub person_id: i64,
    pub kind: String,
    pub value: String,
    pub verified_at: Option<DateTime<Utc>>,
    pub dm_closed: bool,
}

impl std::fmt::Debug for Identity {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // The value (an address, a Discord id) names the person: never in a log or a panic.
        f.debug_struct("Identity")
            .field("id", &self.id)
            .field("person_id", &self.person_id)
            .field("kind", &self.kind)
            .field("verified_at", &self.verified_at)
            .field("dm_closed", &self.dm_closed)
            .finish_non_exhaustive()
    }
}

const COLUMNS: &str = "id, person_id, kind, value, verified_at, dm_closed_at IS NOT NULL";

fn from_row(r: &Row<'_>) -> rusqlite::Result<Identity> {
    Ok(Identity {
        id: r.get(0)?,
        person_id: r.get(1)?,
        kind: r.get(2)?,
        value: r.get(3)?,
        verified_at: r.get::<_, Option<At>>(4)?.map(|a| a.0),
        dm_closed: r.get(5)?,
    })
}

pub fn find(db: &Connection, kind: &str, value: &str) -> rusqlite::Result<Option<Identity>> {
    db.prepare_cached(&format!(
        "SELECT {COLUMNS} FROM identities WHERE kind = ? AND value = ?"
    ))?
    .query_row([kind, value], from_row)
    .optional()
}

pub fn insert(
    db: &Connection,
    person_id: i64,
    kind: &str,
    value: &str,
    verified_at: Option<DateTime<Utc>>,
    now: DateTime<Utc>,
) -> rusqlite::Result<i64> {
    db.prepare_cached(
        "INSERT INTO identities (person_id, kind, value, verified_at, created_at)
         VALUES (?, ?, ?, ?, ?)",
    )?
    .execute(params![person_id, kind, value, at(verified_at), At(now)])?;
    Ok(db.last_insert_rowid())
}

/// Gives the identity to `person_id` as verified, whoever held it before: proof of control
/// of the address is what ownership means here. Returns the person who held it before, if it
/// was someone else.
pub fn assign_verified(
    db: &Connection,
    person_id: i64,
    kind: &str,
    value: &str,
    now: DateTime<Utc>,
) -> rusqlite::Result<Option<i64>> {
    let before = find(db, kind, value)?
        .map(|i| i.person_id)
        .filter(|p| *p != person_id);
    db.prepare_cached(
        "INSERT INTO identities (person_id, kind, value, verified_at, created_at) VALUES (?1, ?2, ?3, ?4, ?4)
         ON CONFLICT (kind, value) DO UPDATE SET person_id = excluded.person_id, verified_at = excluded.verified_at",
    )?
    .execute(params![person_id, kind, value, At(now)])?;
    Ok(before)
}

pub fn for_person(db: &Connection, person_id: i64) -> rusqlite::Result<Vec<Identity>> {
    db.prepare_cached(&format!(
        "SELECT {COLUMNS} FROM identities WHERE person_id = ? ORDER BY id"
    ))?
    .query_map([person_id], from_row)?
    .collect()
}

pub fn verified_emails(db: &Connection, person_id: i64) -> rusqlite::Result<Vec<String>> {
    db.prepare_cached(
        "SELECT value FROM identities
         WHERE person_id = ? AND kind = 'email' AND verified_at IS NOT NULL ORDER BY id",
    )?
    .query_map([person_id], |r| r.get(0))?
    .collect()
}

pub fn delete_for_person(db: &Connection, person_id: i64) -> rusqlite::Result<usize> {
    db.prepare_cached("DELETE FROM identities WHERE person_id = ?")?
        .execute([person_id])
}

pub fn mark_dm_closed(
    db: &Connection,
    discord_id: &str,
    now: DateTime<Utc>,
) -> rusqlite::Result<()> {
    db.prepare_cached(
        "UPDATE identities SET dm_closed_at = ? WHERE kind = 'discord' AND value = ?",
    )?
    .execute(params![At(now), discord_id])?;
    Ok(())
}
