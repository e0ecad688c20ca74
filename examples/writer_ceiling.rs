//! What the rush's writer could reach if its statements ran on the calling thread instead of
//! being handed to sqlx's connection thread one by one: the statements `file_request` runs for
//! a first-time member's opt-out (identity lookup, person, identity, request, audit event, each
//! in its own savepoint), on one rusqlite connection with WAL and `synchronous=full`, committed
//! in groups of G. A measurement for deciding the writer's design, not a code path of the bot.
//!
//! `cargo run --release --example writer_ceiling -- REQUESTS GROUP`

use std::time::Instant;

use anyhow::Context;
use rusqlite::{Connection, params};

fn main() -> anyhow::Result<()> {
    let mut args = std::env::args().skip(1);
    let n: i64 = args.next().unwrap_or_else(|| "20000".into()).parse()?;
    let group: i64 = args.next().unwrap_or_else(|| "100".into()).parse()?;
    let dir = tempfile::tempdir()?;
    let c = Connection::open(dir.path().join("ceiling.db"))?;
    c.pragma_update(None, "journal_mode", "wal")?;
    c.pragma_update(None, "synchronous", "full")?;
    c.pragma_update(None, "foreign_keys", true)?;
    let mut migrations: Vec<_> =
        std::fs::read_dir(concat!(env!("CARGO_MANIFEST_DIR"), "/migrations"))?
            .map(|e| e.map(|e| e.path()))
            .collect::<Result<_, _>>()?;
    migrations.retain(|p| p.extension().is_some_and(|e| e == "sql"));
    migrations.sort();
    for m in &migrations {
        c.execute_batch(&std::fs::read_to_string(m)?)
            .with_context(|| format!("applying {}", m.display()))?;
    }

    let now = "2026-11-25T06:44:32.604272986+00:00";
    let started = Instant::now();
    let mut i = 0;
    while i < n {
        c.execute_batch("BEGIN IMMEDIATE")?;
        for _ in 0..group.min(n - i) {
            i += 1;
            c.execute_batch("SAVEPOINT uc")?;
            let who = format!("member{i}");
            let known: Option<i64> = c
                .prepare_cached("SELECT person_id FROM identities WHERE kind = ? AND value = ?")?
                .query_row(params!["discord", who], |r| r.get(0))
                .ok();
            anyhow::ensure!(known.is_none(), "every member is new");
            let person: i64 = c
                .prepare_cached("INSERT INTO people (created_at) VALUES (?) RETURNING id")?
                .query_row([now], |r| r.get(0))?;
            c.prepare_cached(
                "INSERT INTO identities (person_id, kind, value, verified_at, created_at)
                 VALUES (?, 'discord', ?, ?, ?)",
            )?
            .execute(params![person, who, now, now])?;
            let request: i64 = c
                .prepare_cached(
                    "INSERT INTO requests (person_id, kind, channel, state, received_at,
                                           deadline_offset_secs, due_at, updated_at, confirmed_at)
                     VALUES (?1, 'opt_out', 'discord', 'confirmed', ?2, 100, ?2, ?2, ?2) RETURNING id",
                )?
                .query_row(params![person, now], |r| r.get(0))?;
            c.prepare_cached(
                "INSERT INTO request_events (request_id, at, from_state, to_state, actor, note)
                 VALUES (?, ?, NULL, 'confirmed', 'discord', NULL)",
            )?
            .execute(params![request, now])?;
            c.execute_batch("RELEASE uc")?;
        }
        c.execute_batch("COMMIT")?;
    }
    println!(
        "{n} first-time opt-outs, groups of {group}, synchronous=full: {:.0}/s",
        n as f64 / started.elapsed().as_secs_f64()
    );
    Ok(())
}
