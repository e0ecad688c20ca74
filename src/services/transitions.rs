//! The one way a request changes state: the row and its audit event move together.

use chrono::{DateTime, Utc};
use sqlx::SqliteConnection;

use crate::{
    db::{self, events::Event, requests::Request},
    domain::RequestState,
};

pub async fn record_new(
    conn: &mut SqliteConnection,
    req: &Request,
    actor: &str,
) -> sqlx::Result<()> {
    db::events::append(
        conn,
        &Event {
            request_id: req.id,
            at: req.received_at,
            from_state: None,
            to_state: req.state.clone(),
            actor: actor.to_owned(),
            note: Some("received".into()),
        },
    )
    .await
}

pub async fn transition(
    conn: &mut SqliteConnection,
    req: &mut Request,
    to: RequestState,
    actor: &str,
    note: Option<String>,
    now: DateTime<Utc>,
) -> sqlx::Result<()> {
    debug_assert!(req.state().is_open(), "closed requests do not move");
    db::requests::set_state(conn, req.id, to, now).await?;
    db::events::append(
        conn,
        &Event {
            request_id: req.id,
            at: now,
            from_state: Some(req.state.clone()),
            to_state: to.as_str().to_owned(),
            actor: actor.to_owned(),
            note,
        },
    )
    .await?;
    req.state = to.as_str().to_owned();
    req.updated_at = now;
    Ok(())
}
