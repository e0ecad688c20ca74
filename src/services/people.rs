//! Finding the person behind an actor.

use chrono::{DateTime, Utc};

use crate::{
    db::{self, Conn},
    domain::Actor,
};

/// The person an authenticated actor is, created on first contact, and whether they were
/// created just now (so have no history to look up).
pub fn resolve(db: &Conn, actor: &Actor, now: DateTime<Utc>) -> anyhow::Result<(i64, bool)> {
    if let Some(id) = find(db, actor)? {
        return Ok((id, false));
    }
    let (kind, value) = actor.identity();
    let person = db::people::insert(db, now)?;
    db::identities::insert(db, person, kind, &value, Some(now), now)?;
    Ok((person, true))
}

/// The person an actor is, if the bot has met them.
pub fn find(db: &Conn, actor: &Actor) -> anyhow::Result<Option<i64>> {
    let (kind, value) = actor.identity();
    Ok(db::identities::find(db, kind, &value)?.map(|i| i.person_id))
}
