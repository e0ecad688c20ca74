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
    if let Some(id) = find(conn, actor).await? {
        return Ok(id);
    }
    let (kind, value) = actor.identity();
    let person = db::people::insert(conn, now).await?;
    db::identities::insert(conn, person, kind, &value, Some(now), now).await?;
    Ok(person)
}

/// The person an actor is, if the bot has met them.
pub async fn find(conn: &mut SqliteConnection, actor: &Actor) -> sqlx::Result<Option<i64>> {
    let (kind, value) = actor.identity();
    Ok(db::identities::find(conn, kind, &value)
        .await?
        .map(|i| i.person_id))
}
