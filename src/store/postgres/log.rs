//! The log on PostgreSQL. Nothing here names a person (a record carries the person's keyed
//! hash, and the tables keep only hashes, indexes and signed notes), so it is kept in clear,
//! append-only by trigger as on SQLite.

use anyhow::Context as _;
use sqlx::{PgConnection, Row as _, postgres::PgRow};

use crate::{
    db::log::{EventFacts, Item, Leaf, NewNotice},
    proof::merkle::{Frontier, Hash, leaf_hash},
    store::log::NewCheckpoint,
};

fn hash(row: &PgRow, column: &str) -> anyhow::Result<Hash> {
    let bytes: Vec<u8> = row.try_get(column)?;
    bytes
        .try_into()
        .map_err(|_| anyhow::anyhow!("log_leaves.{column}: a stored hash is not 32 bytes"))
}

fn leaf(row: &PgRow) -> anyhow::Result<Leaf> {
    let item = match (
        row.try_get::<Option<i64>, _>("event_id")?,
        row.try_get::<Option<i64>, _>("ack_id")?,
    ) {
        (Some(e), _) => Item::Event(e),
        (None, Some(a)) => Item::Ack(a),
        (None, None) => anyhow::bail!("a leaf logs nothing"),
    };
    Ok(Leaf {
        index: u64::try_from(row.try_get::<i64, _>("idx")?)?,
        item,
        hash: hash(row, "hash")?,
        root: hash(row, "root")?,
    })
}

fn read_frontier(bytes: Option<Vec<u8>>) -> anyhow::Result<Frontier> {
    match bytes {
        None => Ok(Frontier::default()),
        Some(b) => Frontier::from_bytes(&b).context("the stored log head does not read"),
    }
}

/// Appends under the head's row lock, taken as the head is read and held to the end of the
/// unit: a unit appending at the same time waits, then reads the head this one left. The
/// feed's lock is taken first, as every unit takes the two (an event moves the feed too), so
/// two units never wait on each other's.
pub async fn append(tx: &mut PgConnection, item: Item, record: &[u8]) -> anyhow::Result<Leaf> {
    super::standings::lock(tx).await?;
    let lock_head = "SELECT frontier FROM log_head WHERE id = 1 FOR UPDATE";
    let stored: Option<Vec<u8>> = sqlx::query_scalar(lock_head)
        .fetch_optional(&mut *tx)
        .await
        .context("reading the log's head")?;
    let stored = match stored {
        Some(stored) => stored,
        // The first append of a log makes the head's row (once, whoever comes first), so
        // there is a row to lock.
        None => {
            sqlx::query(
                "INSERT INTO log_head (id, frontier) VALUES (1, $1) ON CONFLICT (id) DO NOTHING",
            )
            .bind(Frontier::default().to_bytes())
            .execute(&mut *tx)
            .await
            .context("starting the log")?;
            sqlx::query_scalar(lock_head)
                .fetch_one(&mut *tx)
                .await
                .context("reading the log's head")?
        }
    };
    let mut head = read_frontier(Some(stored))?;
    let hash = leaf_hash(record);
    let index = head.size();
    head.append(hash);
    let root = head.root();
    let (event, ack) = match item {
        Item::Event(id) => (Some(id), None),
        Item::Ack(id) => (None, Some(id)),
    };
    sqlx::query(
        "INSERT INTO log_leaves (idx, event_id, ack_id, hash, root) VALUES ($1, $2, $3, $4, $5)",
    )
    .bind(i64::try_from(index)?)
    .bind(event)
    .bind(ack)
    .bind(&hash[..])
    .bind(&root[..])
    .execute(&mut *tx)
    .await
    .context("adding a leaf to the log")?;
    sqlx::query("UPDATE log_head SET frontier = $1 WHERE id = 1")
        .bind(head.to_bytes())
        .execute(&mut *tx)
        .await
        .context("moving the log's head")?;
    Ok(Leaf {
        index,
        item,
        hash,
        root,
    })
}

pub async fn frontier(conn: &mut PgConnection) -> anyhow::Result<Frontier> {
    let stored: Option<Vec<u8>> = sqlx::query_scalar("SELECT frontier FROM log_head WHERE id = 1")
        .fetch_optional(conn)
        .await
        .context("reading the log's head")?;
    read_frontier(stored)
}

pub async fn add_checkpoint(conn: &mut PgConnection, c: &NewCheckpoint<'_>) -> anyhow::Result<()> {
    sqlx::query(
        "INSERT INTO checkpoints (size, root, key, note, made_at, why) VALUES ($1, $2, $3, $4, $5, $6)",
    )
    .bind(i64::try_from(c.size)?)
    .bind(&c.root[..])
    .bind(c.key)
    .bind(c.note)
    .bind(c.now)
    .bind(c.why)
    .execute(conn)
    .await
    .context("keeping a checkpoint")?;
    Ok(())
}

pub async fn latest_checkpoint_size(conn: &mut PgConnection) -> anyhow::Result<Option<u64>> {
    let size: Option<i64> =
        sqlx::query_scalar("SELECT size FROM checkpoints ORDER BY id DESC LIMIT 1")
            .fetch_optional(conn)
            .await
            .context("reading the newest checkpoint")?;
    size.map(|s| Ok(u64::try_from(s)?)).transpose()
}

pub async fn latest_logged_event(
    conn: &mut PgConnection,
    request: i64,
) -> anyhow::Result<Option<i64>> {
    sqlx::query_scalar(
        "SELECT MAX(l.event_id) FROM log_leaves l JOIN request_events e ON e.id = l.event_id
          WHERE e.request_id = $1",
    )
    .bind(request)
    .fetch_one(conn)
    .await
    .context("finding a request's newest logged event")
}

pub async fn event_facts(
    conn: &mut PgConnection,
    event: i64,
) -> anyhow::Result<Option<EventFacts>> {
    let row = sqlx::query(
        "SELECT e.id, e.request_id, r.kind, r.person_id, e.from_state, e.to_state, e.at,
                COALESCE(r.deadline_offset_us, r.deadline_offset_secs * 1000000) AS offset_us,
                e.actor, e.note, e.notice
           FROM request_events e JOIN requests r ON r.id = e.request_id
          WHERE e.id = $1",
    )
    .bind(event)
    .fetch_optional(conn)
    .await
    .context("reading what an event's leaf records")?;
    row.map(|r| {
        Ok(EventFacts {
            event_id: r.try_get("id")?,
            request_id: r.try_get("request_id")?,
            kind: r.try_get("kind")?,
            person_id: r.try_get("person_id")?,
            from: r.try_get("from_state")?,
            to: r.try_get("to_state")?,
            at: r.try_get("at")?,
            offset_us: r.try_get("offset_us")?,
            by: r.try_get("actor")?,
            note: r.try_get("note")?,
            notice: r.try_get("notice")?,
        })
    })
    .transpose()
}

pub async fn leaf_for_event(conn: &mut PgConnection, event: i64) -> anyhow::Result<Option<Leaf>> {
    let row =
        sqlx::query("SELECT idx, event_id, ack_id, hash, root FROM log_leaves WHERE event_id = $1")
            .bind(event)
            .fetch_optional(conn)
            .await
            .context("reading an event's leaf")?;
    row.as_ref().map(leaf).transpose()
}

pub async fn notice_policy(
    conn: &mut PgConnection,
    version: &str,
) -> anyhow::Result<Option<(String, String)>> {
    sqlx::query_as("SELECT policy, policy_version FROM notice_versions WHERE version = $1")
        .bind(version)
        .fetch_optional(conn)
        .await
        .context("reading the policy a notice is about")
}

pub async fn add_notice_version(
    conn: &mut PgConnection,
    n: &NewNotice<'_>,
    now: chrono::DateTime<chrono::Utc>,
) -> anyhow::Result<()> {
    sqlx::query(
        "INSERT INTO notice_versions (version, channel, language, policy, policy_version, text, first_seen)
         VALUES ($1, $2, $3, $4, $5, $6, $7) ON CONFLICT DO NOTHING",
    )
    .bind(n.version)
    .bind(n.channel)
    .bind(n.language)
    .bind(n.policy)
    .bind(n.policy_version)
    .bind(n.text)
    .bind(now)
    .execute(conn)
    .await
    .context("keeping a notice version")?;
    Ok(())
}
