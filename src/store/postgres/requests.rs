//! Requests and their audit trail on PostgreSQL. Nothing here names a person but the
//! extension reason, which may and is sealed under the person's key; the other columns are in
//! clear.

use anyhow::Context as _;
use chrono::{DateTime, Utc};
use sqlx::{PgConnection, Row as _, postgres::PgRow};

use crate::{
    db::{
        events::Event,
        requests::{NewRequest, Request, StaleState},
    },
    domain::{RequestKind, RequestState},
    store::{requests::Filed, seal::Wrapping},
};

const COLUMNS: &str = "id, person_id, kind, channel, state, received_at, \
    COALESCE(deadline_offset_us, deadline_offset_secs * 1000000) AS deadline_offset_us, due_at, \
    person_confirmed_at, updated_at, confirmed_at, closed_at, extended_at, original_due_at, language";

/// A word kept in a TEXT column, read back as its type.
fn word<T: std::str::FromStr<Err = String>>(row: &PgRow, column: &str) -> anyhow::Result<T> {
    let text: String = row.try_get(column)?;
    text.parse()
        .map_err(|e: String| anyhow::anyhow!("requests.{column}: {e}"))
}

fn request(row: &PgRow) -> anyhow::Result<Request> {
    let language: String = row.try_get("language")?;
    Ok(Request {
        id: row.try_get("id")?,
        person_id: row.try_get("person_id")?,
        kind: word(row, "kind")?,
        channel: word(row, "channel")?,
        state: word(row, "state")?,
        received_at: row.try_get("received_at")?,
        deadline_offset_us: row.try_get("deadline_offset_us")?,
        due_at: row.try_get("due_at")?,
        person_confirmed_at: row.try_get("person_confirmed_at")?,
        updated_at: row.try_get("updated_at")?,
        confirmed_at: row.try_get("confirmed_at")?,
        closed_at: row.try_get("closed_at")?,
        extended_at: row.try_get("extended_at")?,
        original_due_at: row.try_get("original_due_at")?,
        language: language
            .parse()
            .map_err(|e| anyhow::anyhow!("requests.language: {e}"))?,
    })
}

/// Files `new`. Two processes filing the same person's open request of one kind at once meet
/// at the unique index of open requests: the second waits for the first to commit, inserts
/// nothing, and is given the first's request.
pub async fn file(conn: &mut PgConnection, new: &NewRequest) -> anyhow::Result<Filed> {
    let at_receipt = |yes: bool| yes.then_some(new.received_at);
    let confirmed_at = at_receipt(new.state == RequestState::Confirmed);
    let closed_at = at_receipt(!new.state.is_open());
    file_with(conn, new, confirmed_at, closed_at).await
}

/// As [`file`], confirmed and closed when the caller says (an imported request, whose history
/// is older than its filing).
pub async fn file_with(
    conn: &mut PgConnection,
    new: &NewRequest,
    confirmed_at: Option<DateTime<Utc>>,
    closed_at: Option<DateTime<Utc>>,
) -> anyhow::Result<Filed> {
    let id: Option<i64> = sqlx::query_scalar(
        "INSERT INTO requests (person_id, kind, channel, state, received_at, deadline_offset_secs, due_at,
                               updated_at, confirmed_at, closed_at, deadline_offset_us, language)
         VALUES ($1, $2, $3, $4, $5, $6 / 1000000, $7, COALESCE($9, $5), $8, $9, $6, $10)
         ON CONFLICT (person_id, kind) WHERE state IN ('awaiting_confirmation', 'confirmed') DO NOTHING
         RETURNING id",
    )
    .bind(new.person_id)
    .bind(new.kind.as_str())
    .bind(new.channel.as_str())
    .bind(new.state.as_str())
    .bind(new.received_at)
    .bind(new.deadline_offset_us)
    .bind(new.due_at)
    .bind(confirmed_at)
    .bind(closed_at)
    .bind(new.language.as_str())
    .fetch_optional(&mut *conn)
    .await
    .context("recording a request")?;
    let Some(id) = id else {
        let open = open_of_kind(conn, new.person_id, new.kind)
            .await?
            .context("an open request of that kind was in the way, then gone")?;
        return Ok(Filed::Already(open));
    };
    Ok(Filed::New(Request {
        id,
        person_id: new.person_id,
        kind: new.kind,
        channel: new.channel,
        state: new.state,
        received_at: new.received_at,
        deadline_offset_us: new.deadline_offset_us,
        due_at: new.due_at,
        person_confirmed_at: None,
        updated_at: closed_at.unwrap_or(new.received_at),
        confirmed_at,
        closed_at,
        extended_at: None,
        original_due_at: None,
        language: new.language,
    }))
}

pub async fn get(conn: &mut PgConnection, id: i64) -> anyhow::Result<Option<Request>> {
    sqlx::query(&format!("SELECT {COLUMNS} FROM requests WHERE id = $1"))
        .bind(id)
        .fetch_optional(conn)
        .await
        .context("reading a request")?
        .map(|row| request(&row))
        .transpose()
}

pub async fn open_of_kind(
    conn: &mut PgConnection,
    person: i64,
    kind: RequestKind,
) -> anyhow::Result<Option<Request>> {
    sqlx::query(&format!(
        "SELECT {COLUMNS} FROM requests
         WHERE person_id = $1 AND kind = $2 AND state IN ('awaiting_confirmation', 'confirmed')"
    ))
    .bind(person)
    .bind(kind.as_str())
    .fetch_optional(conn)
    .await
    .context("looking for an open request")?
    .map(|row| request(&row))
    .transpose()
}

pub async fn open_for_person(conn: &mut PgConnection, person: i64) -> anyhow::Result<Vec<Request>> {
    sqlx::query(&format!(
        "SELECT {COLUMNS} FROM requests
         WHERE person_id = $1 AND state IN ('awaiting_confirmation', 'confirmed') ORDER BY id"
    ))
    .bind(person)
    .fetch_all(conn)
    .await
    .context("reading a person's open requests")?
    .iter()
    .map(request)
    .collect()
}

pub async fn for_person(conn: &mut PgConnection, person: i64) -> anyhow::Result<Vec<Request>> {
    sqlx::query(&format!(
        "SELECT {COLUMNS} FROM requests WHERE person_id = $1 ORDER BY id"
    ))
    .bind(person)
    .fetch_all(conn)
    .await
    .context("reading a person's requests")?
    .iter()
    .map(request)
    .collect()
}

/// Moves a request from `from` to `to`. Under READ COMMITTED an UPDATE that finds the row
/// locked waits, then checks its condition again on the committed row: of two units moving
/// one request from the same state, one moves it and the other gets [`StaleState`].
pub async fn set_state(
    conn: &mut PgConnection,
    id: i64,
    from: RequestState,
    to: RequestState,
    now: DateTime<Utc>,
) -> anyhow::Result<()> {
    let changed = sqlx::query(
        "UPDATE requests SET state = $1, updated_at = $2,
             confirmed_at = CASE WHEN $1 = 'confirmed' THEN COALESCE(confirmed_at, $2) ELSE confirmed_at END,
             closed_at = CASE WHEN $1 IN ('completed', 'cancelled', 'expired') THEN $2 ELSE closed_at END
         WHERE id = $3 AND state = $4",
    )
    .bind(to.as_str())
    .bind(now)
    .bind(id)
    .bind(from.as_str())
    .execute(conn)
    .await
    .context("moving a request to its next state")?
    .rows_affected();
    if changed != 1 {
        return Err(StaleState { id, expected: from }.into());
    }
    Ok(())
}

pub async fn set_person_confirmed(
    conn: &mut PgConnection,
    id: i64,
    now: DateTime<Utc>,
) -> anyhow::Result<()> {
    sqlx::query("UPDATE requests SET person_confirmed_at = $1, updated_at = $1 WHERE id = $2")
        .bind(now)
        .bind(id)
        .execute(conn)
        .await
        .context("recording that the person confirmed a request")?;
    Ok(())
}

/// Where an extension's reason is sealed (the context a sealed value is bound to).
const REASON: &str = "requests.extension_reason";

/// Extends request `id` once: the reason is sealed under the key of the request's person (an
/// erased person's request keeps none). Of two units extending one request at once, the
/// second finds it extended when the first commits, and fails.
pub async fn extend(
    conn: &mut PgConnection,
    wrapping: &Wrapping,
    id: i64,
    due_at: DateTime<Utc>,
    now: DateTime<Utc>,
    reason: &str,
) -> anyhow::Result<()> {
    let person: Option<i64> = sqlx::query_scalar("SELECT person_id FROM requests WHERE id = $1")
        .bind(id)
        .fetch_optional(&mut *conn)
        .await
        .context("reading the request to extend")?;
    let person = person.with_context(|| format!("there is no request #{id}"))?;
    let key = super::people::key(conn, wrapping, person).await?;
    let changed = sqlx::query(
        "UPDATE requests SET original_due_at = due_at, due_at = $1, extended_at = $2, updated_at = $2,
                             extension_reason_sealed = $4
          WHERE id = $3 AND extended_at IS NULL",
    )
    .bind(due_at)
    .bind(now)
    .bind(id)
    .bind(key.map(|k| k.seal(REASON, reason)))
    .execute(&mut *conn)
    .await
    .context("extending a request")?
    .rows_affected();
    anyhow::ensure!(changed == 1, "request #{id} was extended before");
    Ok(())
}

pub async fn awaiting_unreminded(
    conn: &mut PgConnection,
    since: DateTime<Utc>,
) -> anyhow::Result<Vec<Request>> {
    sqlx::query(&format!(
        "SELECT {COLUMNS} FROM requests
          WHERE state = 'awaiting_confirmation' AND reminded_at IS NULL AND received_at <= $1
          ORDER BY id"
    ))
    .bind(since)
    .fetch_all(conn)
    .await
    .context("reading the requests to remind")?
    .iter()
    .map(request)
    .collect()
}

pub async fn mark_reminded(
    conn: &mut PgConnection,
    id: i64,
    now: DateTime<Utc>,
) -> anyhow::Result<bool> {
    let marked =
        sqlx::query("UPDATE requests SET reminded_at = $1 WHERE id = $2 AND reminded_at IS NULL")
            .bind(now)
            .bind(id)
            .execute(conn)
            .await
            .context("recording a reminder")?;
    Ok(marked.rows_affected() == 1)
}

pub async fn unanswered_due_by(
    conn: &mut PgConnection,
    until: DateTime<Utc>,
) -> anyhow::Result<Vec<(i64, DateTime<Utc>)>> {
    sqlx::query_as(
        "SELECT id, due_at FROM requests
          WHERE (state = 'awaiting_confirmation' OR (state = 'confirmed' AND kind = 'deletion'))
            AND due_at <= $1
          ORDER BY due_at, id",
    )
    .bind(until)
    .fetch_all(conn)
    .await
    .context("reading the requests due soon")
}

pub async fn awaiting_since_before(
    conn: &mut PgConnection,
    cutoff: DateTime<Utc>,
) -> anyhow::Result<Vec<Request>> {
    sqlx::query(&format!(
        "SELECT {COLUMNS} FROM requests
          WHERE state = 'awaiting_confirmation' AND received_at < $1 ORDER BY id"
    ))
    .bind(cutoff)
    .fetch_all(conn)
    .await
    .context("reading the requests waiting too long")?
    .iter()
    .map(request)
    .collect()
}

pub async fn append_event(conn: &mut PgConnection, event: &Event) -> anyhow::Result<i64> {
    sqlx::query_scalar(
        "INSERT INTO request_events (request_id, at, from_state, to_state, actor, note, notice)
         VALUES ($1, $2, $3, $4, $5, $6, $7) RETURNING id",
    )
    .bind(event.request_id)
    .bind(event.at)
    .bind(event.from_state.map(RequestState::as_str))
    .bind(event.to_state.as_str())
    .bind(&event.actor)
    .bind(&event.note)
    .bind(&event.notice)
    .fetch_one(conn)
    .await
    .context("appending to the audit trail")
}

pub async fn events(conn: &mut PgConnection, request: i64) -> anyhow::Result<Vec<(i64, Event)>> {
    let rows = sqlx::query(
        "SELECT id, request_id, at, from_state, to_state, actor, note, notice FROM request_events
         WHERE request_id = $1 ORDER BY id",
    )
    .bind(request)
    .fetch_all(conn)
    .await
    .context("reading a request's audit trail")?;
    rows.iter()
        .map(|row| {
            let from: Option<String> = row.try_get("from_state")?;
            Ok((
                row.try_get("id")?,
                Event {
                    request_id: row.try_get("request_id")?,
                    at: row.try_get("at")?,
                    from_state: from
                        .map(|f| f.parse::<RequestState>())
                        .transpose()
                        .map_err(|e| anyhow::anyhow!("request_events.from_state: {e}"))?,
                    to_state: {
                        let to: String = row.try_get("to_state")?;
                        to.parse()
                            .map_err(|e: String| anyhow::anyhow!("request_events.to_state: {e}"))?
                    },
                    actor: row.try_get("actor")?,
                    note: row.try_get("note")?,
                    notice: row.try_get("notice")?,
                },
            ))
        })
        .collect()
}
