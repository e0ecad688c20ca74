//! People and their identities on PostgreSQL: every identity sealed under its person's data
//! key and found by its blind index; erasure deletes the data key with the rows.

use anyhow::Context as _;
use chrono::{DateTime, Utc};
use sqlx::PgConnection;

use crate::store::seal::{PersonKey, Wrapping};

/// Where an identity's value is sealed (the context a sealed value is bound to).
const VALUE: &str = "identities.value";

#[derive(Clone, PartialEq, Eq)]
pub struct Identity {
    pub id: i64,
    pub person_id: i64,
    pub kind: String,
    pub value: String,
    pub verified_at: Option<DateTime<Utc>>,
    /// Discord refused a DM to it (error 50007): none is sent again.
    pub dm_closed: bool,
}

impl std::fmt::Debug for Identity {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // The value names the person: never in a log or a panic message.
        f.debug_struct("Identity")
            .field("id", &self.id)
            .field("person_id", &self.person_id)
            .field("kind", &self.kind)
            .finish_non_exhaustive()
    }
}

/// A new person, with a data key of their own.
pub async fn create(
    tx: &mut PgConnection,
    wrapping: &Wrapping,
    now: DateTime<Utc>,
) -> anyhow::Result<(i64, PersonKey)> {
    let person: i64 =
        sqlx::query_scalar("INSERT INTO people (created_at) VALUES ($1) RETURNING id")
            .bind(now)
            .fetch_one(&mut *tx)
            .await
            .context("adding a person")?;
    let (key, wrapped) = wrapping.new_person_key(person);
    sqlx::query("INSERT INTO person_keys (person_id, wrapped_key, created_at) VALUES ($1, $2, $3)")
        .bind(person)
        .bind(wrapped)
        .bind(now)
        .execute(&mut *tx)
        .await
        .context("keeping a person's data key")?;
    Ok((person, key))
}

/// A person's data key; `None` once they were erased. The key's row stays share-locked to the
/// end of the caller's transaction, so an erasure waits for what is being sealed under it
/// (and then seals it again, see [`super::outbox::reseal_unsent`]).
pub async fn key(
    conn: &mut PgConnection,
    wrapping: &Wrapping,
    person: i64,
) -> anyhow::Result<Option<PersonKey>> {
    let wrapped: Option<Vec<u8>> =
        sqlx::query_scalar("SELECT wrapped_key FROM person_keys WHERE person_id = $1 FOR SHARE")
            .bind(person)
            .fetch_optional(&mut *conn)
            .await
            .context("reading a person's data key")?;
    wrapped
        .map(|w| wrapping.unwrap(person, &w))
        .transpose()
        .context("opening a person's data key")
}

/// An identity to link to a person.
pub struct NewIdentity<'a> {
    pub kind: &'a str,
    pub value: &'a str,
    pub verified_at: Option<DateTime<Utc>>,
}

/// Links an identity to `person`; `None` when that identity is someone's already.
pub async fn add_identity(
    tx: &mut PgConnection,
    wrapping: &Wrapping,
    person: i64,
    key: &PersonKey,
    identity: &NewIdentity<'_>,
    now: DateTime<Utc>,
) -> anyhow::Result<Option<i64>> {
    let NewIdentity {
        kind,
        value,
        verified_at,
    } = *identity;
    sqlx::query_scalar(
        "INSERT INTO identities (person_id, kind, value_sealed, value_hash, verified_at, created_at)
         VALUES ($1, $2, $3, $4, $5, $6)
         ON CONFLICT (kind, value_hash) DO NOTHING
         RETURNING id",
    )
    .bind(person)
    .bind(kind)
    .bind(key.seal(VALUE, value))
    .bind(wrapping.blind(kind, value))
    .bind(verified_at)
    .bind(now)
    .fetch_optional(&mut *tx)
    .await
    .context("adding an identity")
}

type IdentityRow = (
    i64,
    i64,
    String,
    Vec<u8>,
    Option<DateTime<Utc>>,
    bool,
    Option<Vec<u8>>,
);

const SELECT: &str =
    "SELECT i.id, i.person_id, i.kind, i.value_sealed, i.verified_at, i.dm_closed_at IS NOT NULL,
            k.wrapped_key
                        FROM identities i LEFT JOIN person_keys k ON k.person_id = i.person_id";

fn opened(wrapping: &Wrapping, row: IdentityRow) -> anyhow::Result<Identity> {
    let (id, person_id, kind, sealed, verified_at, dm_closed, wrapped) = row;
    let wrapped = wrapped.context("an identity whose person has no data key")?;
    let value = wrapping
        .unwrap(person_id, &wrapped)
        .and_then(|key| key.open(VALUE, &sealed))
        .context("opening an identity")?;
    Ok(Identity {
        id,
        person_id,
        kind,
        value,
        verified_at,
        dm_closed,
    })
}

/// The identity `value` of `kind`, found by its blind index.
pub async fn find(
    conn: &mut PgConnection,
    wrapping: &Wrapping,
    kind: &str,
    value: &str,
) -> anyhow::Result<Option<Identity>> {
    let row: Option<IdentityRow> =
        sqlx::query_as(&format!("{SELECT} WHERE i.kind = $1 AND i.value_hash = $2"))
            .bind(kind)
            .bind(wrapping.blind(kind, value))
            .fetch_optional(&mut *conn)
            .await
            .context("looking up an identity")?;
    row.map(|r| opened(wrapping, r)).transpose()
}

/// Every identity of `person`, oldest first.
pub async fn of_person(
    conn: &mut PgConnection,
    wrapping: &Wrapping,
    person: i64,
) -> anyhow::Result<Vec<Identity>> {
    let rows: Vec<IdentityRow> =
        sqlx::query_as(&format!("{SELECT} WHERE i.person_id = $1 ORDER BY i.id"))
            .bind(person)
            .fetch_all(&mut *conn)
            .await
            .context("listing a person's identities")?;
    rows.into_iter().map(|r| opened(wrapping, r)).collect()
}

/// Erases `person`: their identities go, and their data key with them, so no sealed copy of
/// what named them (in PostgreSQL's pages, its WAL, replicas, backups) opens with what the
/// tables hold. The person's row stays, marked erased, so their requests stay countable.
/// Once committed, [`rewrite_keys`] removes the deleted key's old row version from the table's
/// file.
pub async fn erase(
    tx: &mut PgConnection,
    wrapping: &Wrapping,
    person: i64,
    now: DateTime<Utc>,
) -> anyhow::Result<Erased> {
    // Locked first: a unit of work sealing mail under the key finishes before the erasure
    // looks for that mail.
    let wrapped: Option<Vec<u8>> =
        sqlx::query_scalar("SELECT wrapped_key FROM person_keys WHERE person_id = $1 FOR UPDATE")
            .bind(person)
            .fetch_optional(&mut *tx)
            .await
            .context("locking a person's data key")?;
    if let Some(wrapped) = wrapped {
        let key = wrapping
            .unwrap(person, &wrapped)
            .context("opening a person's data key")?;
        super::outbox::reseal_unsent(&mut *tx, wrapping, person, &key, now).await?;
        super::dms::reseal_waiting(&mut *tx, wrapping, person, &key, now).await?;
    }
    sqlx::query("DELETE FROM identities WHERE person_id = $1")
        .bind(person)
        .execute(&mut *tx)
        .await
        .context("erasing a person's identities")?;
    sqlx::query("DELETE FROM person_keys WHERE person_id = $1")
        .bind(person)
        .execute(&mut *tx)
        .await
        .context("erasing a person's data key")?;
    owe_rewrite(&mut *tx).await?;
    sqlx::query(
        "UPDATE people SET erased_at = $2, language = NULL WHERE id = $1 AND erased_at IS NULL",
    )
    .bind(person)
    .bind(now)
    .execute(&mut *tx)
    .await
    .context("marking a person erased")?;
    let xid: i64 = sqlx::query_scalar("SELECT pg_current_xact_id()::text::bigint")
        .fetch_one(&mut *tx)
        .await
        .context("reading the erasure's transaction id")?;
    Ok(Erased { xid })
}

/// The setting that says a data key was deleted since the keys' tables were last rewritten.
const REWRITE_OWED: &str = "keys_rewrite_owed";

/// Records, in the caller's transaction, that a data key was deleted (an erasure, a scrubbed
/// mail's or DM's own key): its old row version stays in the table's file until the next
/// rewrite, which [`settle_rewrite`] then owes.
pub async fn owe_rewrite(tx: &mut PgConnection) -> anyhow::Result<()> {
    sqlx::query(
        "INSERT INTO settings (name, value) VALUES ($1, '1') ON CONFLICT (name) DO NOTHING",
    )
    .bind(REWRITE_OWED)
    .execute(&mut *tx)
    .await
    .context("recording that the data keys' tables are to be rewritten")?;
    Ok(())
}

/// Rewrites the data keys' tables if a rewrite is owed; true when none is owed any more. The
/// debt is cleared before the rewrite, so a key deleted meanwhile owes another; a rewrite that
/// could not be done owes itself again.
pub async fn settle_rewrite(
    pool: &sqlx::PgPool,
    within: std::time::Duration,
) -> anyhow::Result<bool> {
    let owed = sqlx::query("DELETE FROM settings WHERE name = $1")
        .bind(REWRITE_OWED)
        .execute(pool)
        .await
        .context("taking up the data keys' rewrite")?
        .rows_affected()
        > 0;
    if !owed {
        return Ok(true);
    }
    let done = rewrite_keys_now(pool, within).await;
    if !matches!(done, Ok(true)) {
        let mut conn = pool
            .acquire()
            .await
            .context("owing the data keys' rewrite again")?;
        owe_rewrite(&mut conn).await?;
    }
    done
}

/// As [`rewrite_keys`], after whatever committed before now (an erasure a unit of work
/// carried out): waits for every snapshot older than a transaction begun now.
pub async fn rewrite_keys_now(
    pool: &sqlx::PgPool,
    within: std::time::Duration,
) -> anyhow::Result<bool> {
    let xid: i64 = sqlx::query_scalar("SELECT pg_current_xact_id()::text::bigint")
        .fetch_one(pool)
        .await
        .context("reading a transaction id to wait past")?;
    rewrite_keys(pool, Erased { xid }, within).await
}

/// An erasure done: its transaction, which [`rewrite_keys`] must wait to be older than every
/// snapshot before the deleted key can be left out of the rewritten table.
#[derive(Debug, Clone, Copy)]
pub struct Erased {
    pub xid: i64,
}

/// Rewrites the small tables of data keys (people's and rows'), so a deleted wrapped key,
/// which a DELETE leaves in the table's file until the space is reused, is gone from it.
///
/// A rewrite copies a deleted row that some snapshot could still see, so it waits (up to
/// `within`) until no session of the cluster (of any database: some count for all), and no
/// replication slot, holds a snapshot or a transaction from before the erasure `after`. Runs outside any transaction, after the erasure
/// (or a scrubbed mail's delivery) committed; the tables are locked while they are copied.
/// False when the wait ran out: the rewrite is still owed, and is tried again later.
pub async fn rewrite_keys(
    pool: &sqlx::PgPool,
    after: Erased,
    within: std::time::Duration,
) -> anyhow::Result<bool> {
    let until = tokio::time::Instant::now() + within;
    loop {
        let held: bool = sqlx::query_scalar(
            // Compared by age, which survives transaction-id wraparound.
            "WITH erased AS (SELECT age((($1::bigint) % 4294967296)::text::xid) AS age)
             SELECT EXISTS (SELECT 1 FROM pg_stat_activity, erased
                             WHERE pid <> pg_backend_pid()
                               AND (age(backend_xmin) >= erased.age OR age(backend_xid) >= erased.age))
                 OR EXISTS (SELECT 1 FROM pg_replication_slots, erased
                             WHERE age(xmin) >= erased.age OR age(catalog_xmin) >= erased.age)",
        )
        .bind(after.xid)
        .fetch_one(pool)
        .await
        .context("looking for snapshots older than an erasure")?;
        if !held {
            break;
        }
        if tokio::time::Instant::now() >= until {
            return Ok(false);
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    sqlx::query("VACUUM FULL person_keys, row_keys")
        .execute(pool)
        .await
        .context("rewriting the data keys' tables after an erasure")?;
    Ok(true)
}

/// The person behind the identity `value` of `kind`, met now if need be (the identity counted
/// as verified), and whether they were met just now. Of several transactions meeting one
/// identity at once, the first to insert it wins: the others wait for it at the identity's
/// unique index, remove the person they had just made (and their data key, which sealed
/// nothing kept), and are given the first's.
pub async fn resolve(
    tx: &mut PgConnection,
    wrapping: &Wrapping,
    kind: &str,
    value: &str,
    now: DateTime<Utc>,
) -> anyhow::Result<(i64, bool)> {
    if let Some(known) = find(tx, wrapping, kind, value).await? {
        return Ok((known.person_id, false));
    }
    let (person, key) = create(tx, wrapping, now).await?;
    let identity = NewIdentity {
        kind,
        value,
        verified_at: Some(now),
    };
    if add_identity(tx, wrapping, person, &key, &identity, now)
        .await?
        .is_some()
    {
        return Ok((person, true));
    }
    for table in [
        "DELETE FROM person_keys WHERE person_id = $1",
        "DELETE FROM people WHERE id = $1",
    ] {
        sqlx::query(table)
            .bind(person)
            .execute(&mut *tx)
            .await
            .context("removing a person met twice at once")?;
    }
    let known = find(tx, wrapping, kind, value)
        .await?
        .context("an identity was in the way, then gone")?;
    Ok((known.person_id, false))
}

/// Gives the identity to `person` as verified, whoever held it before (proof of control is
/// what ownership means here), sealed again under `person`'s key; the person who held it
/// before, if someone else. The identity's row is locked as it is read, so of units assigning
/// one identity at once each sees the holder the one before it left.
pub async fn assign_verified(
    tx: &mut PgConnection,
    wrapping: &Wrapping,
    person: i64,
    kind: &str,
    value: &str,
    now: DateTime<Utc>,
) -> anyhow::Result<Option<i64>> {
    let key = key(tx, wrapping, person)
        .await?
        .context("an identity cannot be given to an erased person")?;
    let hash = wrapping.blind(kind, value);
    loop {
        let held: Option<i64> = sqlx::query_scalar(
            "SELECT person_id FROM identities WHERE kind = $1 AND value_hash = $2 FOR UPDATE",
        )
        .bind(kind)
        .bind(&hash)
        .fetch_optional(&mut *tx)
        .await
        .context("looking up an identity to assign")?;
        if let Some(before) = held {
            sqlx::query(
                "UPDATE identities SET person_id = $3, value_sealed = $4, verified_at = $5
                  WHERE kind = $1 AND value_hash = $2",
            )
            .bind(kind)
            .bind(&hash)
            .bind(person)
            .bind(key.seal(VALUE, value))
            .bind(now)
            .execute(&mut *tx)
            .await
            .context("assigning an identity")?;
            return Ok(Some(before).filter(|b| *b != person));
        }
        let identity = NewIdentity {
            kind,
            value,
            verified_at: Some(now),
        };
        if add_identity(tx, wrapping, person, &key, &identity, now)
            .await?
            .is_some()
        {
            return Ok(None);
        }
        // Another unit added it since the look: look again, and take it from them.
    }
}

/// Discord refused a DM to `discord_id`: none is sent to it again.
pub async fn mark_dm_closed(
    tx: &mut PgConnection,
    wrapping: &Wrapping,
    discord_id: &str,
    now: DateTime<Utc>,
) -> anyhow::Result<()> {
    sqlx::query(
        "UPDATE identities SET dm_closed_at = $1 WHERE kind = 'discord' AND value_hash = $2",
    )
    .bind(now)
    .bind(wrapping.blind("discord", discord_id))
    .execute(&mut *tx)
    .await
    .context("recording that a member's DMs are closed")?;
    Ok(())
}

/// The addresses `person` proved, oldest first.
pub async fn verified_emails(
    conn: &mut PgConnection,
    wrapping: &Wrapping,
    person: i64,
) -> anyhow::Result<Vec<String>> {
    Ok(of_person(conn, wrapping, person)
        .await?
        .into_iter()
        .filter(|i| i.kind == "email" && i.verified_at.is_some())
        .map(|i| i.value)
        .collect())
}

/// Whether `person` was erased (an unknown person was not).
pub async fn is_erased(conn: &mut PgConnection, person: i64) -> anyhow::Result<bool> {
    let erased: Option<bool> =
        sqlx::query_scalar("SELECT erased_at IS NOT NULL FROM people WHERE id = $1")
            .bind(person)
            .fetch_optional(&mut *conn)
            .await
            .context("reading whether a person was erased")?;
    Ok(erased.unwrap_or(false))
}

/// The language the person chose to be answered in, if they chose one.
pub async fn chosen_language(
    conn: &mut PgConnection,
    person: i64,
) -> anyhow::Result<Option<crate::domain::Language>> {
    let code: Option<Option<String>> =
        sqlx::query_scalar("SELECT language FROM people WHERE id = $1")
            .bind(person)
            .fetch_optional(&mut *conn)
            .await
            .context("reading the language a person chose")?;
    code.flatten()
        .map(|c| {
            c.parse()
                .map_err(|e: String| anyhow::anyhow!("people.language: {e}"))
        })
        .transpose()
}

/// Records the language the person chose, and answers their open requests in it.
pub async fn choose_language(
    tx: &mut PgConnection,
    person: i64,
    language: crate::domain::Language,
) -> anyhow::Result<()> {
    sqlx::query("UPDATE people SET language = $1 WHERE id = $2")
        .bind(language.as_str())
        .bind(person)
        .execute(&mut *tx)
        .await
        .context("recording the language a person chose")?;
    sqlx::query(
        "UPDATE requests SET language = $1
         WHERE person_id = $2 AND state IN ('awaiting_confirmation', 'confirmed') AND language <> $1",
    )
    .bind(language.as_str())
    .bind(person)
    .execute(&mut *tx)
    .await
    .context("answering a person's open requests in the language they chose")?;
    Ok(())
}

/// Where a notice's text is sealed.
const NOTICE: &str = "person_notices.text";

/// Keeps `text` for the person, sealed under their data key. An erased person has none, and
/// is told nothing: the notice is not kept.
pub async fn add_notice(
    tx: &mut PgConnection,
    wrapping: &Wrapping,
    person: i64,
    text: &str,
    now: DateTime<Utc>,
) -> anyhow::Result<()> {
    let Some(key) = key(tx, wrapping, person).await? else {
        return Ok(());
    };
    sqlx::query(
        "INSERT INTO person_notices (person_id, text_sealed, created_at) VALUES ($1, $2, $3)",
    )
    .bind(person)
    .bind(key.seal(NOTICE, text))
    .bind(now)
    .execute(&mut *tx)
    .await
    .context("keeping a notice for a person")?;
    Ok(())
}

/// The person's notices, oldest first, deleted as they are read. The rows are locked as they
/// are read, so a unit taking them at the same time waits, then finds them gone.
pub async fn take_notices(
    tx: &mut PgConnection,
    wrapping: &Wrapping,
    person: i64,
) -> anyhow::Result<Vec<String>> {
    let rows: Vec<(i64, Vec<u8>)> = sqlx::query_as(
        "SELECT id, text_sealed FROM person_notices WHERE person_id = $1 ORDER BY id FOR UPDATE",
    )
    .bind(person)
    .fetch_all(&mut *tx)
    .await
    .context("reading a person's notices")?;
    if rows.is_empty() {
        return Ok(Vec::new());
    }
    let key = key(tx, wrapping, person)
        .await?
        .context("notices of a person without a data key")?;
    let ids: Vec<i64> = rows.iter().map(|(id, _)| *id).collect();
    sqlx::query("DELETE FROM person_notices WHERE id = ANY($1)")
        .bind(&ids)
        .execute(&mut *tx)
        .await
        .context("removing the notices told")?;
    rows.iter()
        .map(|(_, sealed)| key.open(NOTICE, sealed).context("opening a notice"))
        .collect()
}
