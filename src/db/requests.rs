//! `requests`: every request with its receive time, deadline offset, due date and state.

use chrono::{DateTime, Utc};
use sqlx::SqliteConnection;

use crate::domain::{Channel, RequestKind, RequestState};

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct Request {
    pub id: i64,
    pub person_id: i64,
    pub kind: String,
    pub channel: String,
    pub state: String,
    pub received_at: DateTime<Utc>,
    pub deadline_offset_secs: i64,
    pub due_at: DateTime<Utc>,
    pub person_confirmed_at: Option<DateTime<Utc>>,
    pub updated_at: DateTime<Utc>,
    pub confirmed_at: Option<DateTime<Utc>>,
    pub closed_at: Option<DateTime<Utc>>,
}

impl Request {
    pub fn kind(&self) -> RequestKind {
        self.kind
            .parse()
            .expect("kind is constrained by the schema")
    }

    pub fn state(&self) -> RequestState {
        self.state
            .parse()
            .expect("state is constrained by the schema")
    }
}

pub struct NewRequest {
    pub person_id: i64,
    pub kind: RequestKind,
    pub channel: Channel,
    pub state: RequestState,
    pub received_at: DateTime<Utc>,
    pub deadline_offset_secs: i64,
    pub due_at: DateTime<Utc>,
}

const COLUMNS: &str = "id, person_id, kind, channel, state, received_at, deadline_offset_secs, due_at, \
                       person_confirmed_at, updated_at, confirmed_at, closed_at";

/// Inserts a request and returns it as stored.
pub async fn insert(conn: &mut SqliteConnection, new: &NewRequest) -> sqlx::Result<Request> {
    sqlx::query_as(&format!(
        "INSERT INTO requests (person_id, kind, channel, state, received_at, deadline_offset_secs, due_at, updated_at,
                               confirmed_at, closed_at)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?5,
                 CASE WHEN ?4 = 'confirmed' THEN ?5 END,
                 CASE WHEN ?4 IN ('completed', 'cancelled', 'expired') THEN ?5 END)
         RETURNING {COLUMNS}"
    ))
    .bind(new.person_id)
    .bind(new.kind.as_str())
    .bind(new.channel.as_str())
    .bind(new.state.as_str())
    .bind(new.received_at)
    .bind(new.deadline_offset_secs)
    .bind(new.due_at)
    .fetch_one(conn)
    .await
}

pub async fn get(conn: &mut SqliteConnection, id: i64) -> sqlx::Result<Option<Request>> {
    sqlx::query_as(&format!("SELECT {COLUMNS} FROM requests WHERE id = ?"))
        .bind(id)
        .fetch_optional(conn)
        .await
}

pub async fn find_open(
    conn: &mut SqliteConnection,
    person_id: i64,
    kind: RequestKind,
) -> sqlx::Result<Option<Request>> {
    sqlx::query_as(&format!(
        "SELECT {COLUMNS} FROM requests
         WHERE person_id = ? AND kind = ? AND state IN ('awaiting_confirmation', 'confirmed')"
    ))
    .bind(person_id)
    .bind(kind.as_str())
    .fetch_optional(conn)
    .await
}

pub async fn open_for_person(
    conn: &mut SqliteConnection,
    person_id: i64,
) -> sqlx::Result<Vec<Request>> {
    sqlx::query_as(&format!(
        "SELECT {COLUMNS} FROM requests
         WHERE person_id = ? AND state IN ('awaiting_confirmation', 'confirmed') ORDER BY id"
    ))
    .bind(person_id)
    .fetch_all(conn)
    .await
}

pub async fn set_state(
    conn: &mut SqliteConnection,
    id: i64,
    state: RequestState,
    now: DateTime<Utc>,
) -> sqlx::Result<()> {
    sqlx::query(
        "UPDATE requests SET state = ?1, updated_at = ?2,
             confirmed_at = CASE WHEN ?1 = 'confirmed' THEN COALESCE(confirmed_at, ?2) ELSE confirmed_at END,
             closed_at = CASE WHEN ?1 IN ('completed', 'cancelled', 'expired') THEN ?2 ELSE closed_at END
         WHERE id = ?3",
    )
    .bind(state.as_str())
        .bind(now)
        .bind(id)
        .execute(conn)
        .await?;
    Ok(())
}

pub async fn set_person_confirmed(
    conn: &mut SqliteConnection,
    id: i64,
    now: DateTime<Utc>,
) -> sqlx::Result<()> {
    sqlx::query("UPDATE requests SET person_confirmed_at = ?, updated_at = ? WHERE id = ?")
        .bind(now)
        .bind(now)
        .bind(id)
        .execute(conn)
        .await?;
    Ok(())
}

/// Requests still waiting for the person that were received before `cutoff`.
pub async fn awaiting_since_before(
    conn: &mut SqliteConnection,
    cutoff: DateTime<Utc>,
) -> sqlx::Result<Vec<Request>> {
    sqlx::query_as(&format!(
        "SELECT {COLUMNS} FROM requests WHERE state = 'awaiting_confirmation' AND received_at < ? ORDER BY id"
    ))
    .bind(cutoff)
    .fetch_all(conn)
    .await
}

/// One row of the operator listing: no names or addresses, only whether an email is proven.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct Listed {
    #[sqlx(flatten)]
    pub request: Request,
    pub email_verified: bool,
}

/// Requests in `state` (or all), oldest due first.
pub async fn list(
    conn: &mut SqliteConnection,
    state: Option<RequestState>,
) -> sqlx::Result<Vec<Listed>> {
    sqlx::query_as(
        "SELECT r.id, r.person_id, r.kind, r.channel, r.state, r.received_at, r.deadline_offset_secs, r.due_at,
                r.person_confirmed_at, r.updated_at, r.confirmed_at, r.closed_at,
                EXISTS (SELECT 1 FROM identities i
                        WHERE i.person_id = r.person_id AND i.kind = 'email' AND i.verified_at IS NOT NULL)
                    AS email_verified
         FROM requests r
         WHERE ?1 IS NULL OR r.state = ?1
         ORDER BY r.due_at, r.id",
    )
    .bind(state.map(|s| s.as_str()))
    .fetch_all(conn)
    .await
}
