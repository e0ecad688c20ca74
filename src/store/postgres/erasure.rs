//! Erasing a person on PostgreSQL. Rows are deleted or scrubbed as on SQLite, and what an old
//! row version would still hold is made unreadable: the person's data key goes (everything
//! sealed under it, in any page, WAL segment or backup, no longer opens), and so do the own keys
//! of the rows that named them under no person's key (proof codes, reply tokens, mail and DMs
//! to their addresses). Their mail and DMs still waiting are sealed again under keys of their
//! own first, so the last word still reaches them, and lose it once sent.
//!
//! Left as it is: held mail that names an address without being from it (SQLite finds it by
//! searching the messages' text; here each message is sealed and no search is made), and a
//! mail about another person's request to an erased address, whose old versions stay sealed
//! under that other person's key (docs/postgres-schema.md, "What this schema does not solve").

use anyhow::Context as _;
use sqlx::PgConnection;

use crate::store::{erasure::Erasing, seal::Wrapping};

pub async fn erase(
    tx: &mut PgConnection,
    wrapping: &Wrapping,
    e: &Erasing<'_>,
) -> anyhow::Result<()> {
    let person = e.person;
    // Locked first: a unit sealing something under the person's key, or keeping a token for
    // their request, finishes before the erasure looks for what names them, and one that
    // comes after finds the key gone.
    sqlx::query("SELECT 1 FROM person_keys WHERE person_id = $1 FOR UPDATE")
        .bind(person)
        .execute(&mut *tx)
        .await
        .context("locking an erased person's data key")?;
    for (kind, hash) in e.hashes {
        record_erased_identity(tx, person, e.request, kind, hash, e.now).await?;
    }
    for (legacy, keyed) in e.rekeys {
        sqlx::query(
            "UPDATE processed_inputs SET key_hash = $2 WHERE key_hash = $1
                AND NOT EXISTS (SELECT 1 FROM processed_inputs WHERE key_hash = $2)",
        )
        .bind(legacy)
        .bind(keyed)
        .execute(&mut *tx)
        .await
        .context("keying an input hash again")?;
        sqlx::query("DELETE FROM processed_inputs WHERE key_hash = $1")
            .bind(legacy)
            .execute(&mut *tx)
            .await
            .context("removing an unkeyed input hash")?;
    }
    let emails: Vec<Vec<u8>> = e
        .emails
        .iter()
        .map(|a| wrapping.blind("email", a))
        .collect();
    let discord: Vec<Vec<u8>> = e
        .discord_ids
        .iter()
        .map(|id| wrapping.blind("discord", id))
        .collect();

    // Proof codes and reply tokens: each under a key of its own, deleted with the row.
    let codes: Vec<i64> = sqlx::query_scalar(
        "DELETE FROM email_verifications WHERE person_id = $1 OR email_hash = ANY($2) RETURNING id",
    )
    .bind(person)
    .bind(&emails)
    .fetch_all(&mut *tx)
    .await
    .context("erasing email proofs")?;
    let owners: Vec<String> = codes
        .iter()
        .map(|id| format!("email_verifications:{id}"))
        .collect();
    super::row_keys::forget(tx, &owners).await?;
    super::reply_tokens::forget(tx, wrapping, person, e.emails).await?;

    // Mail to their addresses or about them: what went is wiped (its copy in the outbox
    // folder to be removed), what waits is wiped once it goes.
    let wiped: Vec<String> = sqlx::query_scalar(
        "UPDATE outbox SET recipient_sealed = ''::bytea, recipient_hash = NULL, subject_sealed = ''::bytea,
                body_text_sealed = ''::bytea, body_html_sealed = ''::bytea, reply_token = NULL,
                in_reply_to_sealed = NULL, attachment_body_sealed = NULL,
                scrub_after_send = TRUE, forget_copy = TRUE
          WHERE sent_at IS NOT NULL AND (person_id = $1 OR recipient_hash = ANY($2))
         RETURNING message_id",
    )
    .bind(person)
    .bind(&emails)
    .fetch_all(&mut *tx)
    .await
    .context("wiping mail sent to an erased person")?;
    let owners: Vec<String> = wiped.iter().map(|m| format!("outbox:{m}")).collect();
    super::row_keys::forget(tx, &owners).await?;
    sqlx::query(
        "UPDATE outbox SET scrub_after_send = TRUE
          WHERE sent_at IS NULL AND (person_id = $1 OR recipient_hash = ANY($2))",
    )
    .bind(person)
    .bind(&emails)
    .execute(&mut *tx)
    .await
    .context("marking mail to an erased person to be wiped once sent")?;

    // DMs to their Discord ids or about them, likewise.
    let done: Vec<i64> = sqlx::query_scalar(
        "UPDATE dm_outbox SET recipient_sealed = ''::bytea, recipient_hash = NULL, text_sealed = ''::bytea,
                scrub_after_send = TRUE
          WHERE (sent_at IS NOT NULL OR gave_up_at IS NOT NULL)
            AND (person_id = $1 OR recipient_hash = ANY($2))
         RETURNING id",
    )
    .bind(person)
    .bind(&discord)
    .fetch_all(&mut *tx)
    .await
    .context("wiping DMs sent to an erased person")?;
    let owners: Vec<String> = done.iter().map(|id| format!("dm_outbox:{id}")).collect();
    super::row_keys::forget(tx, &owners).await?;
    sqlx::query(
        "UPDATE dm_outbox SET scrub_after_send = TRUE
          WHERE sent_at IS NULL AND gave_up_at IS NULL AND (person_id = $1 OR recipient_hash = ANY($2))",
    )
    .bind(person)
    .bind(&discord)
    .execute(&mut *tx)
    .await
    .context("marking DMs to an erased person to be wiped once sent")?;

    // What they sent: held mail goes, copies in a mailbox are to be removed.
    let held: Vec<i64> =
        sqlx::query_scalar("DELETE FROM held_mail WHERE sender_hash = ANY($1) RETURNING id")
            .bind(e.sender_hashes)
            .fetch_all(&mut *tx)
            .await
            .context("erasing held mail")?;
    let owners: Vec<String> = held.iter().map(|id| format!("held_mail:{id}")).collect();
    super::row_keys::forget(tx, &owners).await?;
    sqlx::query("UPDATE inbound_copies SET purge = TRUE WHERE sender_hash = ANY($1)")
        .bind(e.sender_hashes)
        .execute(&mut *tx)
        .await
        .context("marking an erased person's mail in a mailbox to be removed")?;

    for (what, statement) in [
        ("notices", "DELETE FROM person_notices WHERE person_id = $1"),
        (
            "notes",
            "DELETE FROM request_notes WHERE request_id IN (SELECT id FROM requests WHERE person_id = $1)",
        ),
        (
            "extension reasons",
            "UPDATE requests SET extension_reason_sealed = NULL WHERE person_id = $1",
        ),
        (
            "sender records",
            "DELETE FROM sender_requests WHERE request_id IN (SELECT id FROM requests WHERE person_id = $1)",
        ),
    ] {
        sqlx::query(statement)
            .bind(person)
            .execute(&mut *tx)
            .await
            .with_context(|| format!("erasing a person's {what}"))?;
    }
    super::people::erase(tx, wrapping, person, e.at).await?;
    Ok(())
}

pub async fn record_erased_identity(
    tx: &mut PgConnection,
    person: i64,
    request: i64,
    kind: &str,
    hash: &str,
    now: chrono::DateTime<chrono::Utc>,
) -> anyhow::Result<()> {
    sqlx::query(
        "INSERT INTO erasure_receipts (person_id, request_id, kind, value_hash, erased_at)
         VALUES ($1, $2, $3, $4, $5)",
    )
    .bind(person)
    .bind(request)
    .bind(kind)
    .bind(hash)
    .bind(now)
    .execute(&mut *tx)
    .await
    .context("keeping what remains of an erased identity")?;
    Ok(())
}
