//! `request_events`: the append-only audit trail of request state changes.

use chrono::{DateTime, Utc};
use serde::Serialize;
use sqlx::SqliteConnection;

#[derive(Debug, Clone, Serialize, sqlx::FromRow)]
pub struct Event {
    pub request_id: i64,
    pub at: DateTime<Utc>,
    pub from_state: Option<String>,
    pub to_state: String,
    pub actor: String,
    pub note: Option<String>,
}

pub async fn append(conn: &mut SqliteConnection, event: &Event) -> sqlx::Result<()> {
    sqlx::query(
        "INSERT INTO request_events (request_id, at, from_state, to_state, actor, note) VALUES (?, ?, ?, ?, ?, ?)",
    )
    .bind(event.request_id)
    .bind(event.at)
    .bind(&event.from_state)
    .bind(&event.to_state)
    .bind(&event.actor)
    .bind(&event.note)
    .execute(conn)
    .await?;
    Ok(())
}

pub async fn for_request(conn: &mut SqliteConnection, request_id: i64) -> sqlx::Result<Vec<Event>> {
    sqlx::query_as(
        "SELECT request_id, at, from_state, to_state, actor, note FROM request_events WHERE request_id = ? ORDER BY id",
    )
    .bind(request_id)
    .fetch_all(conn)
    .await
}
