//! The feed's tables: `consumers`, `feed` (each person's standing as downstream systems must
//! honour it, ordered by when it last changed), `feed_erased` (erased people's identities as
//! each consumer hashes them) and `consumer_acks`.

use chrono::{DateTime, Utc};
use rusqlite::{Connection, OptionalExtension, Row, params};

use super::sql::At;

#[derive(Clone)]
pub struct Consumer {
    pub id: i64,
    pub name: String,
    pub hash_key: Vec<u8>,
    pub webhook_url: Option<String>,
    pub created_at: DateTime<Utc>,
    pub revoked_at: Option<DateTime<Utc>>,
    pub last_pull_at: Option<DateTime<Utc>>,
    pub last_pull_seq: i64,
    pub last_ack_at: Option<DateTime<Utc>>,
    pub last_ack_seq: i64,
    pub last_ack_run: Option<String>,
}

impl std::fmt::Debug for Consumer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // The hashing key stays out of every debug print.
        write!(f, "Consumer({} #{})", self.name, self.id)
    }
}

/// Sets `consumer`'s webhook (none: push off) and turns it on again after a 410 or a give-up.
pub fn set_webhook(db: &Connection, consumer: i64, url: Option<&str>) -> rusqlite::Result<()> {
    db.prepare_cached(
        "UPDATE consumers SET webhook_url = ?, webhook_disabled_at = NULL, webhook_given_up_at = NULL
         WHERE id = ?",
    )?
    .execute(params![url, consumer])?;
    Ok(())
}

/// How many acknowledgements there are, and how many the log has a leaf for.
pub fn acks_and_leaves(db: &Connection) -> rusqlite::Result<(i64, i64)> {
    db.prepare_cached(
        "SELECT (SELECT COUNT(*) FROM consumer_acks),
                (SELECT COUNT(*) FROM log_leaves WHERE ack_id IS NOT NULL)",
    )?
    .query_row([], |r| Ok((r.get(0)?, r.get(1)?)))
}

const CONSUMER: &str = "id, name, hash_key, webhook_url, created_at, revoked_at, last_pull_at, \
     last_pull_seq, last_ack_at, last_ack_seq, last_ack_run";

fn consumer_from_row(r: &Row<'_>) -> rusqlite::Result<Consumer> {
    Ok(Consumer {
        id: r.get(0)?,
        name: r.get(1)?,
        hash_key: r.get(2)?,
        webhook_url: r.get(3)?,
        created_at: r.get::<_, At>(4)?.0,
        revoked_at: r.get::<_, Option<At>>(5)?.map(|a| a.0),
        last_pull_at: r.get::<_, Option<At>>(6)?.map(|a| a.0),
        last_pull_seq: r.get(7)?,
        last_ack_at: r.get::<_, Option<At>>(8)?.map(|a| a.0),
        last_ack_seq: r.get(9)?,
        last_ack_run: r.get(10)?,
    })
}

pub fn add_consumer(
    db: &Connection,
    name: &str,
    token_hash: &str,
    hash_key: &[u8],
    webhook_url: Option<&str>,
    now: DateTime<Utc>,
) -> rusqlite::Result<i64> {
    db.prepare_cached(
        "INSERT INTO consumers (name, token_hash, hash_key, webhook_url, created_at)
         VALUES (?, ?, ?, ?, ?)",
    )?
    .execute(params![name, token_hash, hash_key, webhook_url, At(now)])?;
    Ok(db.last_insert_rowid())
}

pub fn consumer_named(db: &Connection, name: &str) -> rusqlite::Result<Option<Consumer>> {
    db.prepare_cached(&format!("SELECT {CONSUMER} FROM consumers WHERE name = ?"))?
        .query_row([name], consumer_from_row)
        .optional()
}

/// The consumer holding the token whose hash is `token_hash`, revoked or not.
pub fn consumer_by_token(db: &Connection, token_hash: &str) -> rusqlite::Result<Option<Consumer>> {
    db.prepare_cached(&format!(
        "SELECT {CONSUMER} FROM consumers WHERE token_hash = ?"
    ))?
    .query_row([token_hash], consumer_from_row)
    .optional()
}

/// Every consumer, the revoked ones too, by name.
pub fn consumers(db: &Connection) -> rusqlite::Result<Vec<Consumer>> {
    db.prepare_cached(&format!("SELECT {CONSUMER} FROM consumers ORDER BY name"))?
        .query_map([], consumer_from_row)?
        .collect()
}

pub fn active_consumers(db: &Connection) -> rusqlite::Result<Vec<Consumer>> {
    db.prepare_cached(&format!(
        "SELECT {CONSUMER} FROM consumers WHERE revoked_at IS NULL ORDER BY name"
    ))?
    .query_map([], consumer_from_row)?
    .collect()
}

/// Revokes consumer `id`: its token is refused, and what was kept only for it goes (erased
/// people's identities under its key, messages waiting for its webhook).
pub fn revoke(db: &Connection, id: i64, now: DateTime<Utc>) -> rusqlite::Result<bool> {
    let revoked = db
        .prepare_cached("UPDATE consumers SET revoked_at = ? WHERE id = ? AND revoked_at IS NULL")?
        .execute(params![At(now), id])?
        == 1;
    if revoked {
        db.prepare_cached("DELETE FROM feed_erased WHERE consumer_id = ?")?
            .execute([id])?;
        db.prepare_cached(
            "UPDATE webhook_deliveries SET gave_up_at = ?, last_status = 'revoked'
             WHERE consumer_id = ? AND delivered_at IS NULL AND gave_up_at IS NULL",
        )?
        .execute(params![At(now), id])?;
    }
    Ok(revoked)
}

pub fn record_pull(db: &Connection, id: i64, seq: i64, now: DateTime<Utc>) -> rusqlite::Result<()> {
    db.prepare_cached(
        "UPDATE consumers SET last_pull_at = ?, last_pull_seq = MAX(last_pull_seq, ?) WHERE id = ?",
    )?
    .execute(params![At(now), seq, id])?;
    Ok(())
}

/// A person's standing in the feed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Standing {
    pub person_id: i64,
    pub seq: i64,
    pub state: String,
    pub effective_from: DateTime<Utc>,
    pub policy_version: String,
    pub request_id: i64,
}

fn standing_from_row(r: &Row<'_>) -> rusqlite::Result<Standing> {
    Ok(Standing {
        person_id: r.get(0)?,
        seq: r.get(1)?,
        state: r.get(2)?,
        effective_from: r.get::<_, At>(3)?.0,
        policy_version: r.get(4)?,
        request_id: r.get(5)?,
    })
}

const STANDING: &str = "person_id, seq, state, effective_from, policy_version, request_id";

pub fn standing(db: &Connection, person: i64) -> rusqlite::Result<Option<Standing>> {
    db.prepare_cached(&format!("SELECT {STANDING} FROM feed WHERE person_id = ?"))?
        .query_row([person], standing_from_row)
        .optional()
}

/// The feed's newest position (0 when empty).
pub fn head(db: &Connection) -> rusqlite::Result<i64> {
    db.prepare_cached("SELECT COALESCE(MAX(seq), 0) FROM feed")?
        .query_row([], |r| r.get(0))
}

/// Sets `person`'s standing at `now`, moving them to the end of the feed.
pub fn set_standing(
    db: &Connection,
    person: i64,
    state: &str,
    effective_from: DateTime<Utc>,
    policy_version: &str,
    request_id: i64,
    now: DateTime<Utc>,
) -> rusqlite::Result<i64> {
    let seq = head(db)? + 1;
    db.prepare_cached(
        "INSERT INTO feed (person_id, seq, state, effective_from, policy_version, request_id, changed_at)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)
         ON CONFLICT (person_id) DO UPDATE SET seq = ?2, state = ?3, effective_from = ?4,
             policy_version = ?5, request_id = ?6, changed_at = ?7",
    )?
    .execute(params![
        person,
        seq,
        state,
        At(effective_from),
        policy_version,
        request_id,
        At(now)
    ])?;
    Ok(seq)
}

/// Moves `person` to the end of the feed as they stand (their identities changed); the new
/// position, or none when the feed does not list them (or lists them as erased).
pub fn touch(db: &Connection, person: i64, now: DateTime<Utc>) -> rusqlite::Result<Option<i64>> {
    let seq = head(db)? + 1;
    let moved = db
        .prepare_cached(
            "UPDATE feed SET seq = ?1, changed_at = ?2 WHERE person_id = ?3 AND state != 'erased'",
        )?
        .execute(params![seq, At(now), person])?;
    Ok((moved == 1).then_some(seq))
}

/// The standings that changed after `after`, in feed order, at most `limit`.
pub fn changes_after(db: &Connection, after: i64, limit: usize) -> rusqlite::Result<Vec<Standing>> {
    db.prepare_cached(&format!(
        "SELECT {STANDING} FROM feed WHERE seq > ? ORDER BY seq LIMIT ?"
    ))?
    .query_map(params![after, limit as i64], standing_from_row)?
    .collect()
}

/// `person`'s latest confirmed choice: (request id, is an opt-out, confirmed at).
pub fn latest_choice(
    db: &Connection,
    person: i64,
) -> rusqlite::Result<Option<(i64, bool, DateTime<Utc>)>> {
    db.prepare_cached(
        "SELECT id, kind = 'opt_out', confirmed_at FROM requests
         WHERE person_id = ? AND kind IN ('opt_out', 'opt_in') AND confirmed_at IS NOT NULL
         ORDER BY confirmed_at DESC, id DESC LIMIT 1",
    )?
    .query_row([person], |r| {
        Ok((r.get(0)?, r.get(1)?, r.get::<_, At>(2)?.0))
    })
    .optional()
}

/// Every person whose latest confirmed choice is an opt-out and who is not erased, in the
/// order they chose: the feed's first content on a database that had choices before it.
pub fn standing_opt_outs(
    db: &Connection,
    mut each: impl FnMut(i64, i64, DateTime<Utc>) -> anyhow::Result<()>,
) -> anyhow::Result<()> {
    let mut stmt = db.prepare(
        "SELECT r.person_id, r.id, r.confirmed_at FROM requests r JOIN people p ON p.id = r.person_id
         WHERE p.erased_at IS NULL AND r.kind = 'opt_out' AND r.confirmed_at IS NOT NULL
           AND NOT EXISTS (SELECT 1 FROM requests l WHERE l.person_id = r.person_id
                 AND l.kind IN ('opt_out', 'opt_in') AND l.confirmed_at IS NOT NULL
                 AND (l.confirmed_at, l.id) > (r.confirmed_at, r.id))
         ORDER BY r.confirmed_at, r.id",
    )?;
    let mut rows = stmt.query([])?;
    while let Some(r) = rows.next()? {
        each(r.get(0)?, r.get(1)?, r.get::<_, At>(2)?.0)?;
    }
    Ok(())
}

pub fn add_erased_hash(
    db: &Connection,
    person: i64,
    consumer: i64,
    kind: &str,
    hash: &str,
) -> rusqlite::Result<()> {
    db.prepare_cached(
        "INSERT OR IGNORE INTO feed_erased (person_id, consumer_id, kind, hash) VALUES (?, ?, ?, ?)",
    )?
    .execute(params![person, consumer, kind, hash])?;
    Ok(())
}

/// An erased person's identities as `consumer` hashes them: (kind, hash).
pub fn erased_hashes(
    db: &Connection,
    person: i64,
    consumer: i64,
) -> rusqlite::Result<Vec<(String, String)>> {
    db.prepare_cached(
        "SELECT kind, hash FROM feed_erased WHERE person_id = ? AND consumer_id = ? ORDER BY kind, hash",
    )?
    .query_map([person, consumer], |r| Ok((r.get(0)?, r.get(1)?)))?
    .collect()
}

/// What a consumer said it applied.
#[derive(Debug, Clone)]
pub struct Ack {
    pub id: i64,
    pub consumer_id: i64,
    pub consumer: String,
    pub run: String,
    pub seq: i64,
    pub excluded: i64,
    pub applied_at: DateTime<Utc>,
    pub received_at: DateTime<Utc>,
}

fn ack_from_row(r: &Row<'_>) -> rusqlite::Result<Ack> {
    Ok(Ack {
        id: r.get(0)?,
        consumer_id: r.get(1)?,
        consumer: r.get(2)?,
        run: r.get(3)?,
        seq: r.get(4)?,
        excluded: r.get(5)?,
        applied_at: r.get::<_, At>(6)?.0,
        received_at: r.get::<_, At>(7)?.0,
    })
}

const ACK: &str =
    "SELECT a.id, a.consumer_id, c.name, a.run, a.seq, a.excluded, a.applied_at, a.received_at
     FROM consumer_acks a JOIN consumers c ON c.id = a.consumer_id";

pub fn add_ack(db: &Connection, consumer: i64, ack: &NewAck<'_>) -> rusqlite::Result<i64> {
    db.prepare_cached(
        "INSERT INTO consumer_acks (consumer_id, run, seq, excluded, applied_at, received_at)
         VALUES (?, ?, ?, ?, ?, ?)",
    )?
    .execute(params![
        consumer,
        ack.run,
        ack.seq,
        ack.excluded,
        At(ack.applied_at),
        At(ack.received_at)
    ])?;
    let id = db.last_insert_rowid();
    db.prepare_cached(
        "UPDATE consumers SET last_ack_at = ?, last_ack_seq = ?, last_ack_run = ?
         WHERE id = ? AND last_ack_seq < ?2",
    )?
    .execute(params![At(ack.applied_at), ack.seq, ack.run, consumer])?;
    Ok(id)
}

pub struct NewAck<'a> {
    pub run: &'a str,
    pub seq: i64,
    pub excluded: i64,
    pub applied_at: DateTime<Utc>,
    pub received_at: DateTime<Utc>,
}

pub fn ack(db: &Connection, id: i64) -> rusqlite::Result<Option<Ack>> {
    db.prepare_cached(&format!("{ACK} WHERE a.id = ?"))?
        .query_row([id], ack_from_row)
        .optional()
}

/// For each live consumer, its first acknowledgement that covers `seq`: (name, applied at),
/// or no time when it has not said it applied it yet.
pub fn applied(
    db: &Connection,
    seq: i64,
) -> rusqlite::Result<Vec<(String, Option<DateTime<Utc>>)>> {
    db.prepare_cached(
        "SELECT c.name, (SELECT a.applied_at FROM consumer_acks a
                         WHERE a.consumer_id = c.id AND a.seq >= ?1 ORDER BY a.seq, a.id LIMIT 1)
         FROM consumers c WHERE c.revoked_at IS NULL ORDER BY c.name",
    )?
    .query_map([seq], |r| {
        Ok((r.get(0)?, r.get::<_, Option<At>>(1)?.map(|a| a.0)))
    })?
    .collect()
}

/// How many standings changed after `seq` and how long ago the oldest of them did.
pub fn unacknowledged(db: &Connection, seq: i64) -> rusqlite::Result<(i64, Option<DateTime<Utc>>)> {
    db.prepare_cached("SELECT COUNT(*), MIN(changed_at) FROM feed WHERE seq > ?")?
        .query_row([seq], |r| {
            Ok((r.get(0)?, r.get::<_, Option<At>>(1)?.map(|a| a.0)))
        })
}

/// What `/metrics` counts: requests by kind and state, and the mail and DM queues.
pub struct Counts {
    pub requests: Vec<(String, String, i64)>,
    pub mail_waiting: i64,
    pub oldest_mail: Option<DateTime<Utc>>,
    pub dms_waiting: i64,
}

pub fn counts(db: &Connection) -> rusqlite::Result<Counts> {
    let requests = db
        .prepare_cached(
            "SELECT kind, state, COUNT(*) FROM requests GROUP BY kind, state ORDER BY 1, 2",
        )?
        .query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))?
        .collect::<rusqlite::Result<_>>()?;
    let (mail_waiting, oldest_mail) = db
        .prepare_cached("SELECT COUNT(*), MIN(created_at) FROM outbox WHERE sent_at IS NULL")?
        .query_row([], |r| {
            Ok((r.get(0)?, r.get::<_, Option<At>>(1)?.map(|a| a.0)))
        })?;
    let dms_waiting = db
        .prepare_cached(
            "SELECT COUNT(*) FROM dm_outbox WHERE sent_at IS NULL AND gave_up_at IS NULL",
        )?
        .query_row([], |r| r.get(0))?;
    Ok(Counts {
        requests,
        mail_waiting,
        oldest_mail,
        dms_waiting,
    })
}

/// A webhook message waiting to be delivered.
#[derive(Debug, Clone)]
pub struct Delivery {
    pub id: i64,
    pub consumer_id: i64,
    pub url: String,
    pub message_id: String,
    pub seq: i64,
    pub created_at: DateTime<Utc>,
    pub attempts: i64,
}

/// Tells `consumer` of feed position `seq`: the message still waiting for its first try
/// carries it, or a new one does.
pub fn queue_webhook(
    db: &Connection,
    consumer: i64,
    seq: i64,
    message_id: &str,
    now: DateTime<Utc>,
) -> rusqlite::Result<()> {
    // The waiting message (not one being sent) takes the newest cursor, under a new id since
    // its body changes, and keeps its place in the backoff: at most one waits per consumer.
    let updated = db
        .prepare_cached(
            "UPDATE webhook_deliveries SET seq = MAX(seq, ?1), message_id = ?3
             WHERE consumer_id = ?2 AND delivered_at IS NULL AND gave_up_at IS NULL
               AND (claimed_until IS NULL OR claimed_until <= ?4)",
        )?
        .execute(params![seq, consumer, message_id, At(now)])?;
    if updated == 0 {
        db.prepare_cached(
            "INSERT INTO webhook_deliveries (consumer_id, message_id, seq, created_at, next_attempt_at)
             VALUES (?, ?, ?, ?, ?)",
        )?
        .execute(params![consumer, message_id, seq, At(now), At(now)])?;
    }
    Ok(())
}

/// The consumers a change is pushed to: live, with a webhook that was not disabled.
pub fn webhook_consumers(db: &Connection) -> rusqlite::Result<Vec<i64>> {
    db.prepare_cached(
        "SELECT id FROM consumers WHERE revoked_at IS NULL AND webhook_url IS NOT NULL
           AND webhook_disabled_at IS NULL",
    )?
    .query_map([], |r| r.get(0))?
    .collect()
}

/// Whether any webhook message is due by `now`.
pub fn webhook_due(db: &Connection, now: DateTime<Utc>) -> rusqlite::Result<bool> {
    db.prepare_cached(
        "SELECT EXISTS (SELECT 1 FROM webhook_deliveries
           WHERE delivered_at IS NULL AND gave_up_at IS NULL AND next_attempt_at <= ?1
             AND (claimed_until IS NULL OR claimed_until <= ?1))",
    )?
    .query_row([At(now)], |r| r.get(0))
}

/// Claims up to `n` due messages until `until`.
pub fn claim_webhooks(
    db: &Connection,
    now: DateTime<Utc>,
    until: DateTime<Utc>,
    n: usize,
) -> rusqlite::Result<Vec<Delivery>> {
    let due: Vec<Delivery> = db
        .prepare_cached(
            "SELECT d.id, d.consumer_id, c.webhook_url, d.message_id, d.seq, d.created_at, d.attempts
             FROM webhook_deliveries d JOIN consumers c ON c.id = d.consumer_id
             WHERE d.delivered_at IS NULL AND d.gave_up_at IS NULL AND d.next_attempt_at <= ?1
               AND (d.claimed_until IS NULL OR d.claimed_until <= ?1)
               AND c.webhook_url IS NOT NULL AND c.webhook_disabled_at IS NULL
               AND c.revoked_at IS NULL
             ORDER BY d.next_attempt_at LIMIT ?2",
        )?
        .query_map(params![At(now), n as i64], |r| {
            Ok(Delivery {
                id: r.get(0)?,
                consumer_id: r.get(1)?,
                url: r.get(2)?,
                message_id: r.get(3)?,
                seq: r.get(4)?,
                created_at: r.get::<_, At>(5)?.0,
                attempts: r.get(6)?,
            })
        })?
        .collect::<rusqlite::Result<_>>()?;
    for d in &due {
        db.prepare_cached("UPDATE webhook_deliveries SET claimed_until = ? WHERE id = ?")?
            .execute(params![At(until), d.id])?;
    }
    Ok(due)
}

/// How a delivery attempt ended.
pub enum Attempted<'a> {
    Delivered,
    /// Try again at this time.
    Retry(DateTime<Utc>, &'a str),
    /// Given up: the endpoint answered 410 (`disable`), or stopped answering.
    GaveUp {
        disable: bool,
        status: &'a str,
    },
}

pub fn webhook_attempted(
    db: &Connection,
    d: &Delivery,
    outcome: Attempted<'_>,
    now: DateTime<Utc>,
) -> rusqlite::Result<()> {
    match outcome {
        Attempted::Delivered => {
            db.prepare_cached(
                "UPDATE webhook_deliveries SET delivered_at = ?, attempts = attempts + 1,
                   claimed_until = NULL, last_status = 'delivered' WHERE id = ?",
            )?
            .execute(params![At(now), d.id])?;
            db.prepare_cached("UPDATE consumers SET webhook_given_up_at = NULL WHERE id = ?")?
                .execute([d.consumer_id])?;
        }
        Attempted::Retry(at, status) => {
            db.prepare_cached(
                "UPDATE webhook_deliveries SET attempts = attempts + 1, next_attempt_at = ?,
                   claimed_until = NULL, last_status = ? WHERE id = ?",
            )?
            .execute(params![At(at), status, d.id])?;
        }
        Attempted::GaveUp { disable, status } => {
            db.prepare_cached(
                "UPDATE webhook_deliveries SET attempts = attempts + 1, gave_up_at = ?,
                   claimed_until = NULL, last_status = ? WHERE id = ?",
            )?
            .execute(params![At(now), status, d.id])?;
            let column = if disable {
                "webhook_disabled_at"
            } else {
                "webhook_given_up_at"
            };
            db.prepare_cached(&format!("UPDATE consumers SET {column} = ? WHERE id = ?"))?
                .execute(params![At(now), d.consumer_id])?;
            if disable {
                // Nothing more goes to an endpoint that said it is gone.
                db.prepare_cached(
                    "UPDATE webhook_deliveries SET gave_up_at = ?, last_status = 'endpoint gone'
                     WHERE consumer_id = ? AND delivered_at IS NULL AND gave_up_at IS NULL",
                )?
                .execute(params![At(now), d.consumer_id])?;
            }
        }
    }
    Ok(())
}

/// When a consumer's webhook was turned off (410), and when it was given up.
pub type WebhookTrouble = (Option<DateTime<Utc>>, Option<DateTime<Utc>>);

pub fn webhook_trouble(db: &Connection, consumer: i64) -> rusqlite::Result<WebhookTrouble> {
    db.prepare_cached(
        "SELECT webhook_disabled_at, webhook_given_up_at FROM consumers WHERE id = ?",
    )?
    .query_row([consumer], |r| {
        Ok((
            r.get::<_, Option<At>>(0)?.map(|a| a.0),
            r.get::<_, Option<At>>(1)?.map(|a| a.0),
        ))
    })
}
