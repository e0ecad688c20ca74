//! Discord DMs on PostgreSQL, shared by the DM workers of every process. The member's id and
//! the text are sealed under the key of the person the DM is about, or else (a member the bot
//! does not know yet, or the last word to someone being erased) under a key of the row's own,
//! kept in `row_keys` as `dm_outbox:<id>` and deleted when the DM's text is to be gone.
//!
//! A worker claims a due DM with `FOR UPDATE SKIP LOCKED`, so workers claiming at once never
//! wait on or take the same row; marking it is done only while it is neither sent nor given
//! up, so a worker whose lease ran out cannot bring back a DM another delivered.

use anyhow::Context as _;
use chrono::{DateTime, Utc};
use sqlx::PgConnection;

use crate::store::{
    dms::{Dm, NewDm},
    seal::{PersonKey, Unsealable, Wrapping},
};

const RECIPIENT: &str = "dm_outbox.recipient";
const TEXT: &str = "dm_outbox.text";

fn row_owner(id: i64) -> String {
    format!("dm_outbox:{id}")
}

/// A new data key of DM `id`'s own, kept in `row_keys`.
async fn own_key(
    tx: &mut PgConnection,
    wrapping: &Wrapping,
    id: i64,
    now: DateTime<Utc>,
) -> anyhow::Result<PersonKey> {
    super::row_keys::new_key(tx, wrapping, &row_owner(id), now).await
}

/// Queues `dm` in the unit: under its person's key when they have one; a DM about a person
/// already erased goes under a key of its own and loses its id and text once sent.
pub async fn queue(
    tx: &mut PgConnection,
    wrapping: &Wrapping,
    dm: &NewDm<'_>,
    now: DateTime<Utc>,
) -> anyhow::Result<i64> {
    let persons = match dm.person {
        Some(person) => super::people::key(tx, wrapping, person).await?,
        None => None,
    };
    let scrub = dm.scrub_after_send || (dm.person.is_some() && persons.is_none());
    let id: i64 = sqlx::query_scalar("SELECT nextval(pg_get_serial_sequence('dm_outbox', 'id'))")
        .fetch_one(&mut *tx)
        .await
        .context("numbering a DM")?;
    let own = match persons {
        Some(_) => None,
        None => Some(own_key(tx, wrapping, id, now).await?),
    };
    let key = persons.as_ref().or(own.as_ref()).expect("a key");
    sqlx::query(
        "INSERT INTO dm_outbox (id, person_id, request_id, recipient_sealed, recipient_hash, text_sealed,
                                created_at, next_attempt_at, scrub_after_send)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $7, $8)",
    )
    .bind(id)
    .bind(dm.person)
    .bind(dm.request)
    .bind(key.seal(RECIPIENT, dm.recipient))
    .bind(wrapping.blind("discord", dm.recipient))
    .bind(key.seal(TEXT, dm.text))
    .bind(now)
    .bind(scrub)
    .execute(&mut *tx)
    .await
    .context("queueing a DM")?;
    Ok(id)
}

/// A claimed row, sealed, with the keys that open it.
#[derive(sqlx::FromRow)]
struct ClaimedRow {
    id: i64,
    person_id: Option<i64>,
    recipient_sealed: Vec<u8>,
    text_sealed: Vec<u8>,
    attempts: i64,
    created_at: DateTime<Utc>,
    own_key: Option<Vec<u8>>,
    person_key: Option<Vec<u8>>,
}

impl ClaimedRow {
    fn open(&self, wrapping: &Wrapping) -> Result<Dm, Unsealable> {
        let key = match (&self.own_key, self.person_id, &self.person_key) {
            (Some(own), _, _) => wrapping.unwrap_key(&row_owner(self.id), own)?,
            (None, Some(person), Some(wrapped)) => wrapping.unwrap(person, wrapped)?,
            _ => return Err(Unsealable),
        };
        Ok(Dm {
            id: self.id,
            recipient: key.open(RECIPIENT, &self.recipient_sealed)?,
            text: key.open(TEXT, &self.text_sealed)?,
            attempts: self.attempts,
            created_at: self.created_at,
        })
    }
}

/// Claims the DM due longest ago that no other worker holds. One that cannot be opened is
/// given up for good (trying again cannot open it) and the next is claimed.
pub async fn claim(
    tx: &mut PgConnection,
    wrapping: &Wrapping,
    now: DateTime<Utc>,
    lease_until: DateTime<Utc>,
) -> anyhow::Result<Option<Dm>> {
    loop {
        let row: Option<ClaimedRow> = sqlx::query_as(
            "WITH due AS (
                 SELECT id FROM dm_outbox
                  WHERE sent_at IS NULL AND gave_up_at IS NULL AND next_attempt_at <= $1
                  ORDER BY next_attempt_at, id
                  LIMIT 1
                  FOR UPDATE SKIP LOCKED)
             UPDATE dm_outbox d SET next_attempt_at = $2
               FROM due
              WHERE d.id = due.id
             RETURNING d.id, d.person_id, d.recipient_sealed, d.text_sealed, d.attempts, d.created_at,
                       (SELECT wrapped_key FROM row_keys WHERE owner = 'dm_outbox:' || d.id) AS own_key,
                       (SELECT wrapped_key FROM person_keys WHERE person_id = d.person_id)
                           AS person_key",
        )
        .bind(now)
        .bind(lease_until)
        .fetch_optional(&mut *tx)
        .await
        .context("claiming a due DM")?;
        let Some(row) = row else {
            return Ok(None);
        };
        match row.open(wrapping) {
            Ok(dm) => return Ok(Some(dm)),
            Err(_) => {
                tracing::error!(
                    dm = row.id,
                    "a queued DM cannot be opened with its key; it is given up"
                );
                give_up(tx, row.id, "cannot be opened with its data key", now).await?;
            }
        }
    }
}

/// What a DM that is done (sent or given up) keeps: its id and text go when it was the last
/// word to someone erased, and its own key with them.
async fn done(
    tx: &mut PgConnection,
    id: i64,
    set: &str,
    bind_error: Option<&str>,
    now: DateTime<Utc>,
) -> anyhow::Result<()> {
    let scrubbed: Option<bool> = sqlx::query_scalar(&format!(
        "UPDATE dm_outbox SET {set}, attempts = attempts + 1,
                recipient_sealed = CASE WHEN scrub_after_send THEN ''::bytea ELSE recipient_sealed END,
                recipient_hash = CASE WHEN scrub_after_send THEN NULL ELSE recipient_hash END,
                text_sealed = CASE WHEN scrub_after_send THEN ''::bytea ELSE text_sealed END
          WHERE id = $1 AND sent_at IS NULL AND gave_up_at IS NULL
         RETURNING scrub_after_send"
    ))
    .bind(id)
    .bind(now)
    .bind(bind_error)
    .fetch_optional(&mut *tx)
    .await
    .context("recording how a DM went")?;
    if scrubbed == Some(true) {
        super::row_keys::forget(tx, &[row_owner(id)]).await?;
    }
    Ok(())
}

pub async fn mark_sent(tx: &mut PgConnection, id: i64, now: DateTime<Utc>) -> anyhow::Result<()> {
    done(tx, id, "sent_at = $2, last_error = $3", None, now).await
}

pub async fn give_up(
    tx: &mut PgConnection,
    id: i64,
    why: &str,
    now: DateTime<Utc>,
) -> anyhow::Result<()> {
    done(tx, id, "gave_up_at = $2, last_error = $3", Some(why), now).await
}

pub async fn mark_failed(
    tx: &mut PgConnection,
    id: i64,
    error: &str,
    retry_at: DateTime<Utc>,
) -> anyhow::Result<()> {
    sqlx::query(
        "UPDATE dm_outbox SET attempts = attempts + 1, last_error = $2, next_attempt_at = $3
          WHERE id = $1 AND sent_at IS NULL AND gave_up_at IS NULL",
    )
    .bind(id)
    .bind(error)
    .bind(retry_at)
    .execute(&mut *tx)
    .await
    .context("recording a failed DM")?;
    Ok(())
}

/// Before `person` is erased: their DMs still waiting are sealed again under keys of their
/// own (their data key is about to go) and marked to lose the id and text once sent or given
/// up, as the DM saying the deletion is done must still reach them.
pub async fn reseal_waiting(
    tx: &mut PgConnection,
    wrapping: &Wrapping,
    person: i64,
    key: &PersonKey,
    now: DateTime<Utc>,
) -> anyhow::Result<()> {
    let rows: Vec<(i64, Vec<u8>, Vec<u8>)> = sqlx::query_as(
        "SELECT id, recipient_sealed, text_sealed FROM dm_outbox d
          WHERE person_id = $1 AND sent_at IS NULL AND gave_up_at IS NULL
            AND NOT EXISTS (SELECT 1 FROM row_keys WHERE owner = 'dm_outbox:' || d.id)
          FOR UPDATE",
    )
    .bind(person)
    .fetch_all(&mut *tx)
    .await
    .context("finding an erased person's waiting DMs")?;
    for (id, recipient, text) in rows {
        let own = own_key(tx, wrapping, id, now).await?;
        let reseal = |context, sealed: &[u8]| -> anyhow::Result<Vec<u8>> {
            let plain = key
                .open(context, sealed)
                .context("opening a DM to seal it again")?;
            Ok(own.seal(context, &plain))
        };
        sqlx::query(
            "UPDATE dm_outbox SET recipient_sealed = $2, text_sealed = $3, scrub_after_send = TRUE
              WHERE id = $1",
        )
        .bind(id)
        .bind(reseal(RECIPIENT, &recipient)?)
        .bind(reseal(TEXT, &text)?)
        .execute(&mut *tx)
        .await
        .context("sealing an erased person's DM again")?;
    }
    Ok(())
}
