//! Leases: which one of several processes does a job only one may do at a time. The Discord
//! gateway and the schedule run under the lease named [`LEADER`]; processes without it serve
//! everything else.
//!
//! A lease is a row (`leases`) with a holder, an expiry and a generation. A process takes it
//! only once it has expired, which raises the generation: the fencing token every once-only
//! write checks ([`fence`]), so a holder that stalled past its expiry (a long pause, a lost
//! network) cannot act on a lease another process took meanwhile. On PostgreSQL the
//! database's clock decides expiry, so the machines' clocks need not agree; on SQLite, where
//! every process is on one machine, the service's clock does.
//!
//! [`campaign`] keeps a process's claim: it renews the lease a third of the way through its
//! life and gives it up locally before the database would, even when it cannot reach the
//! database to hear so.

use std::time::Duration;

use anyhow::Context as _;
use chrono::{DateTime, Utc};
use rand::Rng;
use rusqlite::{OptionalExtension, params};
use tokio::{sync::watch, time::Instant};

use crate::{clock::Clock, db, db::At};

/// The lease of the process that owns the Discord gateway and the schedule.
pub const LEADER: &str = "leader";

/// A lease as its holder knows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Held {
    pub name: String,
    pub holder: String,
    /// Raised each time the lease changes hands: the fencing token.
    pub generation: i64,
}

/// The leases of one database, on either engine.
#[derive(Clone)]
pub enum Leases {
    Sqlite {
        database: db::Database,
        clock: std::sync::Arc<dyn Clock>,
    },
    Postgres(sqlx::PgPool),
}

fn seconds(ttl: Duration) -> f64 {
    ttl.as_secs_f64()
}

impl Leases {
    /// Takes the lease `name` for `holder` when nobody holds it or its holder let it expire;
    /// `None` while another holds it.
    pub async fn acquire(
        &self,
        name: &str,
        holder: &str,
        ttl: Duration,
    ) -> anyhow::Result<Option<Held>> {
        let generation: Option<i64> = match self {
            Leases::Postgres(pool) => sqlx::query_scalar(
                "INSERT INTO leases (name, holder, generation, acquired_at, expires_at)
                 VALUES ($1, $2, 1, now(), now() + make_interval(secs => $3))
                 ON CONFLICT (name) DO UPDATE
                    SET holder = EXCLUDED.holder, generation = leases.generation + 1,
                        acquired_at = EXCLUDED.acquired_at, expires_at = EXCLUDED.expires_at
                  WHERE leases.expires_at <= now()
                 RETURNING generation",
            )
            .bind(name)
            .bind(holder)
            .bind(seconds(ttl))
            .fetch_optional(pool)
            .await
            .context("taking a lease")?,
            Leases::Sqlite { database, clock } => {
                let now = clock.now();
                let until = now + ttl;
                let (name, holder) = (name.to_owned(), holder.to_owned());
                database
                    .write(move |db| {
                        db.prepare_cached(
                            "INSERT INTO leases (name, holder, generation, acquired_at, expires_at)
                             VALUES (?1, ?2, 1, ?3, ?4)
                             ON CONFLICT (name) DO UPDATE
                                SET holder = excluded.holder, generation = leases.generation + 1,
                                    acquired_at = excluded.acquired_at, expires_at = excluded.expires_at
                              WHERE leases.expires_at <= ?3
                             RETURNING generation",
                        )?
                        .query_row(params![name, holder, At(now), At(until)], |r| r.get(0))
                        .optional()
                        .context("taking a lease")
                    })
                    .await?
            }
        };
        Ok(generation.map(|generation| Held {
            name: name.to_owned(),
            holder: holder.to_owned(),
            generation,
        }))
    }

    /// Extends a lease still held; false when it expired or changed hands, after which the
    /// holder must stop what it does under it.
    pub async fn renew(&self, held: &Held, ttl: Duration) -> anyhow::Result<bool> {
        let changed = match self {
            Leases::Postgres(pool) => sqlx::query(
                "UPDATE leases SET expires_at = now() + make_interval(secs => $4)
                  WHERE name = $1 AND holder = $2 AND generation = $3 AND expires_at > now()",
            )
            .bind(&held.name)
            .bind(&held.holder)
            .bind(held.generation)
            .bind(seconds(ttl))
            .execute(pool)
            .await
            .context("renewing a lease")?
            .rows_affected(),
            Leases::Sqlite { database, clock } => {
                let now = clock.now();
                let held = held.clone();
                database
                    .write(move |db| {
                        db.prepare_cached(
                            "UPDATE leases SET expires_at = ?5
                              WHERE name = ?1 AND holder = ?2 AND generation = ?3 AND expires_at > ?4",
                        )?
                        .execute(params![
                            held.name,
                            held.holder,
                            held.generation,
                            At(now),
                            At(now + ttl)
                        ])
                        .context("renewing a lease")
                    })
                    .await? as u64
            }
        };
        Ok(changed == 1)
    }

    /// Gives a lease up at once, so another process need not wait for it to expire.
    pub async fn release(&self, held: &Held) -> anyhow::Result<()> {
        match self {
            Leases::Postgres(pool) => {
                sqlx::query(
                    "UPDATE leases SET expires_at = now()
                      WHERE name = $1 AND holder = $2 AND generation = $3",
                )
                .bind(&held.name)
                .bind(&held.holder)
                .bind(held.generation)
                .execute(pool)
                .await
                .context("giving up a lease")?;
            }
            Leases::Sqlite { database, clock } => {
                let now = clock.now();
                let held = held.clone();
                database
                    .write(move |db| {
                        db.prepare_cached(
                            "UPDATE leases SET expires_at = ?4
                              WHERE name = ?1 AND holder = ?2 AND generation = ?3",
                        )?
                        .execute(params![held.name, held.holder, held.generation, At(now)])
                        .context("giving up a lease")
                    })
                    .await?;
            }
        }
        Ok(())
    }

    /// Who holds `name` now and until when, if anyone.
    pub async fn holder(&self, name: &str) -> anyhow::Result<Option<(Held, DateTime<Utc>)>> {
        let row: Option<(String, i64, DateTime<Utc>)> = match self {
            Leases::Postgres(pool) => sqlx::query_as(
                "SELECT holder, generation, expires_at FROM leases
                  WHERE name = $1 AND expires_at > now()",
            )
            .bind(name)
            .fetch_optional(pool)
            .await
            .context("reading a lease")?,
            Leases::Sqlite { database, clock } => {
                let now = clock.now();
                let name = name.to_owned();
                database
                    .read(move |db| {
                        Ok(db
                            .query_row(
                                "SELECT holder, generation, expires_at FROM leases
                                  WHERE name = ?1 AND expires_at > ?2",
                                params![name, At(now)],
                                |r| Ok((r.get(0)?, r.get(1)?, r.get::<_, At>(2)?.0)),
                            )
                            .optional()?)
                    })
                    .await?
            }
        };
        Ok(row.map(|(holder, generation, until)| {
            (
                Held {
                    name: name.to_owned(),
                    holder,
                    generation,
                },
                until,
            )
        }))
    }
}

/// Inside a PostgreSQL transaction doing a once-only job: true when `held` is still the
/// lease's current, unexpired generation. The row stays share-locked until the transaction
/// ends, so the lease cannot change hands before the job's writes are committed.
pub async fn fence(tx: &mut sqlx::PgConnection, held: &Held) -> anyhow::Result<bool> {
    let row: Option<i32> = sqlx::query_scalar(
        "SELECT 1 FROM leases
          WHERE name = $1 AND holder = $2 AND generation = $3 AND expires_at > now()
          FOR SHARE",
    )
    .bind(&held.name)
    .bind(&held.holder)
    .bind(held.generation)
    .fetch_optional(tx)
    .await
    .context("checking a lease")?;
    Ok(row.is_some())
}

/// A new holder id for this process: random, naming neither the machine nor anyone.
pub fn new_holder() -> String {
    uuid::Uuid::new_v4().simple().to_string()
}

/// The wait before the next look, a third of the lease's life, give or take a fifth, so
/// processes started together do not knock at the same instant.
fn next_look(ttl: Duration) -> Duration {
    let third = ttl / 3;
    third.mul_f64(rand::thread_rng().gen_range(0.8..1.2))
}

/// Keeps trying for the lease `name` as `holder` until `stop`, publishing on `holding`
/// whether this process holds it now (the first look is published even when it changes
/// nothing, so a caller may wait for it). A holder renews it every third of `ttl`; one that
/// cannot renew before its own deadline (the moment it asked, plus `ttl`, less a margin),
/// because the database refused or could not be reached, publishes `None` before the
/// database would let another take it. On stop the lease is given up, so another takes over
/// at once.
pub async fn campaign(
    leases: Leases,
    name: &str,
    holder: &str,
    ttl: Duration,
    holding: watch::Sender<Option<Held>>,
    mut stop: watch::Receiver<bool>,
) {
    let margin = ttl / 10;
    let mut held: Option<(Held, Instant)> = None;
    // Said once per wait, not at every look.
    let mut said_waiting = false;
    let mut first_look = true;
    loop {
        let asked = Instant::now();
        // No answer in time is no lease: a call stuck on a silent network must not keep this
        // process leading past the moment the database lets another take over.
        let own_deadline = asked + ttl - margin;
        held = match held.take() {
            None => match tokio::time::timeout_at(own_deadline, leases.acquire(name, holder, ttl))
                .await
                .unwrap_or_else(|_| Err(anyhow::anyhow!("no answer in time")))
            {
                Ok(Some(_)) if Instant::now() >= own_deadline => None,
                Ok(Some(lease)) => {
                    tracing::info!(
                        lease = name,
                        generation = lease.generation,
                        "took the lease"
                    );
                    holding.send_replace(Some(lease.clone()));
                    said_waiting = false;
                    Some((lease, own_deadline))
                }
                Ok(None) => {
                    if !said_waiting {
                        tracing::info!(
                            lease = name,
                            "another process holds the lease; this one takes it if that one stops"
                        );
                        said_waiting = true;
                    }
                    None
                }
                Err(e) => {
                    tracing::warn!(
                        lease = name,
                        error = format!("{e:#}"),
                        "could not ask for the lease"
                    );
                    None
                }
            },
            Some((lease, deadline)) => {
                match tokio::time::timeout_at(deadline, leases.renew(&lease, ttl))
                    .await
                    .unwrap_or_else(|_| Err(anyhow::anyhow!("no answer before the lease ran out")))
                {
                    Ok(true) => Some((lease, own_deadline)),
                    Ok(false) => {
                        tracing::warn!(
                            lease = name,
                            generation = lease.generation,
                            "the lease was lost"
                        );
                        holding.send_replace(None);
                        None
                    }
                    Err(e) if Instant::now() < deadline => {
                        tracing::warn!(
                            lease = name,
                            error = format!("{e:#}"),
                            "could not renew the lease; trying again"
                        );
                        Some((lease, deadline))
                    }
                    Err(e) => {
                        tracing::warn!(
                            lease = name,
                            error = format!("{e:#}"),
                            "could not renew the lease in time; giving it up"
                        );
                        holding.send_replace(None);
                        None
                    }
                }
            }
        };
        if first_look {
            // Told even when nothing changed, so a caller can wait for the first answer.
            first_look = false;
            holding.send_modify(|_| {});
        }
        let wait = match &held {
            // Never sleep past the deadline without looking again.
            Some((_, deadline)) => {
                next_look(ttl).min(deadline.saturating_duration_since(Instant::now()))
            }
            None => next_look(ttl),
        };
        tokio::select! {
            _ = tokio::time::sleep(wait) => {}
            _ = stop.wait_for(|s| *s) => break,
        }
        if let Some((_, deadline)) = &held
            && Instant::now() >= *deadline
        {
            tracing::warn!(lease = name, "the lease ran out before it could be renewed");
            holding.send_replace(None);
            held = None;
        }
    }
    if let Some((lease, _)) = held {
        holding.send_replace(None);
        if let Err(e) = leases.release(&lease).await {
            tracing::warn!(
                lease = name,
                error = format!("{e:#}"),
                "could not give up the lease; it lapses by itself"
            );
        }
    }
}
