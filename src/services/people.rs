//! Finding the person behind an actor.

use chrono::{DateTime, Utc};
use sqlx::SqliteConnection;

use crate::{db, domain::Actor};

/// The person an authenticated actor is, created on first contact.
pub async fn resolve(
    conn: &mut SqliteConnection,
    actor: &Actor,
    now: DateTime<Utc>,
) -> sqlx::Result<i64> {
    Ok(resolve_fresh(conn, actor, now).await?.0)
}

/// As `resolve`, and whether the person was created just now (so has no history to look up).
pub async fn resolve_fresh(
    conn: &mut SqliteConnection,
    actor: &Actor,
    now: DateTime<Utc>,
) -> sqlx::Result<(i64, bool)> {
    if let Some(id) = find(conn, actor).await? {
        return Ok((id, false));
    }
    let (kind, value) = actor.identity();
    let person = db::people::insert(conn, now).await?;
    db::identities::insert(conn, person, kind, &value, Some(now), now).await?;
    Ok((person, true))
}

/// The person an actor is, if the bot has met them.
pub async fn find(conn: &mut SqliteConnection, actor: &Actor) -> sqlx::Result<Option<i64>> {
    let (kind, value) = actor.identity();
    Ok(db::identities::find(conn, kind, &value)
        .await?
        .map(|i| i.person_id))
}
