//! The log that proves the audit trail: one leaf per row of `request_events` (`log_leaves`),
//! the tree's right edge (`log_head`), every signed checkpoint handed out (`checkpoints`),
//! every public key it was signed with (`signing_keys`), and the notice versions people were
//! shown (`notice_versions`).

use chrono::{DateTime, Utc};
use rusqlite::{Connection, OptionalExtension, params};

use super::sql::At;
use crate::proof::merkle::{Frontier, Hash, leaf_hash};

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Leaf {
    pub index: u64,
    pub item: Item,
    pub hash: Hash,
    /// The tree's root once this leaf was added.
    pub root: Hash,
}

fn hash(r: &rusqlite::Row<'_>, i: usize) -> rusqlite::Result<Hash> {
    let bytes: Vec<u8> = r.get(i)?;
    bytes.try_into().map_err(|_| {
        rusqlite::Error::FromSqlConversionFailure(
            i,
            rusqlite::types::Type::Blob,
            "a stored hash is not 32 bytes".into(),
        )
    })
}

/// What a leaf logs: a row of `request_events`, or a consumer's acknowledgement.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Item {
    Event(i64),
    Ack(i64),
}

impl Item {
    pub fn event(self) -> Option<i64> {
        match self {
            Item::Event(id) => Some(id),
            Item::Ack(_) => None,
        }
    }
}

impl std::fmt::Display for Item {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Item::Event(id) => write!(f, "event #{id}"),
            Item::Ack(id) => write!(f, "acknowledgement #{id}"),
        }
    }
}

const LEAF: &str = "SELECT idx, event_id, ack_id, hash, root FROM log_leaves";

fn leaf_from_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<Leaf> {
    let item = match (r.get::<_, Option<i64>>(1)?, r.get::<_, Option<i64>>(2)?) {
        (Some(e), _) => Item::Event(e),
        (None, Some(a)) => Item::Ack(a),
        (None, None) => {
            return Err(rusqlite::Error::FromSqlConversionFailure(
                1,
                rusqlite::types::Type::Null,
                "a leaf logs nothing".into(),
            ));
        }
    };
    Ok(Leaf {
        index: r.get::<_, i64>(0)? as u64,
        item,
        hash: hash(r, 3)?,
        root: hash(r, 4)?,
    })
}

/// The tree's right edge as stored (empty for a new log).
pub fn frontier(db: &Connection) -> rusqlite::Result<Frontier> {
    let bytes: Option<Vec<u8>> = db
        .prepare_cached("SELECT frontier FROM log_head WHERE id = 1")?
        .query_row([], |r| r.get(0))
        .optional()?;
    match bytes {
        None => Ok(Frontier::default()),
        Some(b) => Frontier::from_bytes(&b).ok_or_else(|| {
            rusqlite::Error::FromSqlConversionFailure(
                0,
                rusqlite::types::Type::Blob,
                "the stored log head does not read".into(),
            )
        }),
    }
}

/// Adds the leaf of `item`, whose record is `record`, and moves the head.
pub fn append(db: &Connection, item: Item, record: &[u8]) -> rusqlite::Result<Leaf> {
    let mut head = frontier(db)?;
    let leaf = leaf_hash(record);
    let index = head.size();
    head.append(leaf);
    let root = head.root();
    db.prepare_cached(
        "INSERT INTO log_leaves (idx, event_id, ack_id, hash, root) VALUES (?, ?, ?, ?, ?)",
    )?
    .execute(params![
        index as i64,
        item.event(),
        match item {
            Item::Ack(id) => Some(id),
            Item::Event(_) => None,
        },
        &leaf[..],
        &root[..]
    ])?;
    db.prepare_cached(
        "INSERT INTO log_head (id, frontier) VALUES (1, ?1)
         ON CONFLICT (id) DO UPDATE SET frontier = ?1",
    )?
    .execute([head.to_bytes()])?;
    Ok(Leaf {
        index,
        item,
        hash: leaf,
        root,
    })
}

pub fn leaf_for_event(db: &Connection, event_id: i64) -> rusqlite::Result<Option<Leaf>> {
    db.prepare_cached(&format!("{LEAF} WHERE event_id = ?"))?
        .query_row([event_id], leaf_from_row)
        .optional()
}

pub fn leaf_at(db: &Connection, index: u64) -> rusqlite::Result<Option<Leaf>> {
    db.prepare_cached(&format!("{LEAF} WHERE idx = ?"))?
        .query_row([index as i64], leaf_from_row)
        .optional()
}

/// Every leaf in order, handed to `each` one by one.
pub fn each_leaf(
    db: &Connection,
    mut each: impl FnMut(Leaf) -> anyhow::Result<()>,
) -> anyhow::Result<()> {
    let mut stmt = db.prepare(&format!("{LEAF} ORDER BY idx"))?;
    let mut rows = stmt.query([])?;
    while let Some(r) = rows.next()? {
        each(leaf_from_row(r)?)?;
    }
    Ok(())
}

/// What a leaf's record is made of, read back from `request_events` and `requests`.
#[derive(Debug, Clone)]
pub struct EventFacts {
    pub event_id: i64,
    pub request_id: i64,
    pub kind: String,
    pub person_id: i64,
    pub from: Option<String>,
    pub to: String,
    pub at: DateTime<Utc>,
    pub offset_us: i64,
    pub by: String,
    pub note: Option<String>,
    pub notice: Option<String>,
}

const FACTS: &str = "SELECT e.id, e.request_id, r.kind, r.person_id, e.from_state, e.to_state, e.at,
            COALESCE(r.deadline_offset_us, r.deadline_offset_secs * 1000000), e.actor, e.note, e.notice
     FROM request_events e JOIN requests r ON r.id = e.request_id";

fn facts_from_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<EventFacts> {
    Ok(EventFacts {
        event_id: r.get(0)?,
        request_id: r.get(1)?,
        kind: r.get(2)?,
        person_id: r.get(3)?,
        from: r.get(4)?,
        to: r.get(5)?,
        at: r.get::<_, At>(6)?.0,
        offset_us: r.get(7)?,
        by: r.get(8)?,
        note: r.get(9)?,
        notice: r.get(10)?,
    })
}

/// The events after `after` (an event id), in the order they were written.
pub fn each_event_after(
    db: &Connection,
    after: i64,
    mut each: impl FnMut(EventFacts) -> anyhow::Result<()>,
) -> anyhow::Result<()> {
    let mut stmt = db.prepare(&format!("{FACTS} WHERE e.id > ? ORDER BY e.id"))?;
    let mut rows = stmt.query([after])?;
    while let Some(r) = rows.next()? {
        each(facts_from_row(r)?)?;
    }
    Ok(())
}

pub fn event_facts(db: &Connection, event_id: i64) -> rusqlite::Result<Option<EventFacts>> {
    db.prepare_cached(&format!("{FACTS} WHERE e.id = ?"))?
        .query_row([event_id], facts_from_row)
        .optional()
}

/// The newest event of a request that has a leaf.
pub fn latest_logged_event(db: &Connection, request_id: i64) -> rusqlite::Result<Option<i64>> {
    db.prepare_cached(
        "SELECT MAX(l.event_id) FROM log_leaves l JOIN request_events e ON e.id = l.event_id
         WHERE e.request_id = ?",
    )?
    .query_row([request_id], |r| r.get(0))
}

/// The id of the last event with a leaf (0 for none), and how many events there are.
pub fn last_logged_event(db: &Connection) -> rusqlite::Result<i64> {
    db.prepare_cached("SELECT COALESCE(MAX(event_id), 0) FROM log_leaves")?
        .query_row([], |r| r.get(0))
}

pub fn count_events(db: &Connection) -> rusqlite::Result<u64> {
    db.prepare_cached("SELECT COUNT(*) FROM request_events")?
        .query_row([], |r| r.get::<_, i64>(0))
        .map(|n| n as u64)
}

/// A signed checkpoint as it was handed out.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredCheckpoint {
    pub id: i64,
    pub size: u64,
    pub root: Hash,
    pub key: String,
    pub note: String,
    pub made_at: DateTime<Utc>,
    pub why: String,
}

fn checkpoint_from_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<StoredCheckpoint> {
    Ok(StoredCheckpoint {
        id: r.get(0)?,
        size: r.get::<_, i64>(1)? as u64,
        root: hash(r, 2)?,
        key: r.get(3)?,
        note: r.get(4)?,
        made_at: r.get::<_, At>(5)?.0,
        why: r.get(6)?,
    })
}

pub fn add_checkpoint(
    db: &Connection,
    size: u64,
    root: &Hash,
    key: &str,
    note: &str,
    now: DateTime<Utc>,
    why: &str,
) -> rusqlite::Result<()> {
    db.prepare_cached(
        "INSERT INTO checkpoints (size, root, key, note, made_at, why) VALUES (?, ?, ?, ?, ?, ?)",
    )?
    .execute(params![size as i64, &root[..], key, note, At(now), why])?;
    Ok(())
}

pub fn checkpoints(db: &Connection) -> rusqlite::Result<Vec<StoredCheckpoint>> {
    db.prepare_cached(
        "SELECT id, size, root, key, note, made_at, why FROM checkpoints ORDER BY id",
    )?
    .query_map([], checkpoint_from_row)?
    .collect()
}

pub fn latest_checkpoint(db: &Connection) -> rusqlite::Result<Option<StoredCheckpoint>> {
    db.prepare_cached(
        "SELECT id, size, root, key, note, made_at, why FROM checkpoints ORDER BY id DESC LIMIT 1",
    )?
    .query_row([], checkpoint_from_row)
    .optional()
}

/// A public key the log was signed with.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KnownKey {
    pub vkey: String,
    pub first_used: DateTime<Utc>,
    pub retired_at: Option<DateTime<Utc>>,
}

/// Records `vkey` as the key in use (from now on, if it is new); any other key in use is
/// retired from now.
pub fn use_key(db: &Connection, vkey: &str, now: DateTime<Utc>) -> rusqlite::Result<()> {
    db.prepare_cached(
        "INSERT INTO signing_keys (vkey, first_used) VALUES (?, ?) ON CONFLICT DO NOTHING",
    )?
    .execute(params![vkey, At(now)])?;
    db.prepare_cached(
        "UPDATE signing_keys SET retired_at = ?2 WHERE vkey <> ?1 AND retired_at IS NULL",
    )?
    .execute(params![vkey, At(now)])?;
    db.prepare_cached("UPDATE signing_keys SET retired_at = NULL WHERE vkey = ?")?
        .execute([vkey])?;
    Ok(())
}

pub fn keys(db: &Connection) -> rusqlite::Result<Vec<KnownKey>> {
    db.prepare_cached(
        "SELECT vkey, first_used, retired_at FROM signing_keys ORDER BY first_used, vkey",
    )?
    .query_map([], |r| {
        Ok(KnownKey {
            vkey: r.get(0)?,
            first_used: r.get::<_, At>(1)?.0,
            retired_at: r.get::<_, Option<At>>(2)?.map(|a| a.0),
        })
    })?
    .collect()
}

/// A notice version: the text a channel showed, in a language.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NoticeVersion {
    pub version: String,
    pub channel: String,
    pub language: String,
    pub first_seen: DateTime<Utc>,
}

/// A notice version as first shown.
pub struct NewNotice<'a> {
    pub version: &'a str,
    pub channel: &'a str,
    pub language: &'a str,
    pub policy: &'a str,
    pub policy_version: &'a str,
    pub text: &'a str,
}

pub fn add_notice_version(
    db: &Connection,
    n: &NewNotice<'_>,
    now: DateTime<Utc>,
) -> rusqlite::Result<()> {
    db.prepare_cached(
        "INSERT INTO notice_versions (version, channel, language, policy, policy_version, text, first_seen)
         VALUES (?, ?, ?, ?, ?, ?, ?) ON CONFLICT DO NOTHING",
    )?
    .execute(params![
        n.version,
        n.channel,
        n.language,
        n.policy,
        n.policy_version,
        n.text,
        At(now)
    ])?;
    Ok(())
}

/// The policy (name, version) notice `version` is about.
pub fn notice_policy(db: &Connection, version: &str) -> rusqlite::Result<Option<(String, String)>> {
    db.prepare_cached("SELECT policy, policy_version FROM notice_versions WHERE version = ?")?
        .query_row([version], |r| Ok((r.get(0)?, r.get(1)?)))
        .optional()
}

pub fn notice_version(db: &Connection, version: &str) -> rusqlite::Result<Option<NoticeVersion>> {
    db.prepare_cached(
        "SELECT version, channel, language, first_seen FROM notice_versions WHERE version = ?",
    )?
    .query_row([version], |r| {
        Ok(NoticeVersion {
            version: r.get(0)?,
            channel: r.get(1)?,
            language: r.get(2)?,
            first_seen: r.get::<_, At>(3)?.0,
        })
    })
    .optional()
}

pub fn notice_text(db: &Connection, version: &str) -> rusqlite::Result<Option<String>> {
    db.prepare_cached("SELECT text FROM notice_versions WHERE version = ?")?
        .query_row([version], |r| r.get(0))
        .optional()
}

/// The notice versions in force at some time in `[start, end)`, by channel (a version is in
/// force from when it was first shown until the next one of its channel was), with the
/// decisions confirmed under each in that span.
pub fn notices_in_force(
    db: &Connection,
    start: DateTime<Utc>,
    end: DateTime<Utc>,
) -> rusqlite::Result<Vec<crate::reports::gather::NoticeInForce>> {
    let all: Vec<NoticeVersion> = db
        .prepare_cached(
            "SELECT version, channel, language, first_seen FROM notice_versions ORDER BY channel, first_seen",
        )?
        .query_map([], |r| {
            Ok(NoticeVersion {
                version: r.get(0)?,
                channel: r.get(1)?,
                language: r.get(2)?,
                first_seen: r.get::<_, At>(3)?.0,
            })
        })?
        .collect::<Result<_, _>>()?;
    let mut out = Vec::new();
    for (i, n) in all.iter().enumerate() {
        let until = all
            .get(i + 1)
            .filter(|next| next.channel == n.channel)
            .map(|next| next.first_seen);
        if n.first_seen >= end || until.is_some_and(|u| u <= start) {
            continue;
        }
        let decisions = db
            .prepare_cached(
                "SELECT COUNT(*) FROM request_events
                 WHERE notice = ? AND to_state = 'confirmed' AND at >= ? AND at < ?",
            )?
            .query_row(params![n.version, At(start), At(end)], |r| r.get(0))?;
        out.push(crate::reports::gather::NoticeInForce {
            version: n.version[..12.min(n.version.len())].to_owned(),
            channel: n.channel.clone(),
            language: n.language.clone(),
            since: crate::reports::gather::Stamp::new(n.first_seen, chrono_tz::Tz::UTC),
            decisions,
            at_month_end: until.is_none_or(|u| u >= end),
        });
    }
    Ok(out)
}
