//! Group commit. Concurrent use-cases write through one connection: each runs inside its own
//! SAVEPOINT of a shared transaction, and a committer commits the whole group at once. A
//! use-case is acknowledged only when the group holding its work is committed, so with
//! `synchronous=full` every acknowledged request is on disk, at the cost of one sync per
//! group instead of one per request.

use std::{
    ops::{Deref, DerefMut},
    sync::Arc,
};

use anyhow::Context;
use sqlx::{Connection, SqliteConnection, sqlite::SqliteConnectOptions};
use tokio::sync::{Mutex, Notify, OwnedMutexGuard, watch};

const SAVEPOINT: &str = "SAVEPOINT uc";
const RELEASE: &str = "RELEASE uc";

struct State {
    conn: SqliteConnection,
    in_tx: bool,
    /// The group currently open (or next to open).
    epoch: u64,
    /// Work released into the open group and waiting for its commit.
    pending: usize,
    /// The savepoint of a use-case that ended without releasing it; undone by the next holder.
    abandoned: bool,
}

#[derive(Clone, Debug, Default)]
struct Outcome {
    /// Every group up to and including this epoch has ended.
    done: u64,
    /// The last group whose commit failed, and why.
    failed: Option<(u64, Arc<str>)>,
}

#[derive(Clone)]
pub struct Writer {
    state: Arc<Mutex<State>>,
    kick: Arc<Notify>,
    outcome: watch::Receiver<Outcome>,
}

/// One use-case's share of the open group: a savepoint on the writer connection.
pub struct WriteTx {
    guard: Option<OwnedMutexGuard<State>>,
    epoch: u64,
    writer: Writer,
}

impl Writer {
    /// Opens the writer's own connection with `options` and starts the committer task.
    pub async fn open(options: &SqliteConnectOptions) -> anyhow::Result<Writer> {
        let conn = SqliteConnection::connect_with(options)
            .await
            .context("opening the writer connection")?;
        let state = Arc::new(Mutex::new(State {
            conn,
            in_tx: false,
            epoch: 1,
            pending: 0,
            abandoned: false,
        }));
        let kick = Arc::new(Notify::new());
        let (tx, rx) = watch::channel(Outcome::default());
        tokio::spawn(committer(state.clone(), kick.clone(), tx));
        Ok(Writer {
            state,
            kick,
            outcome: rx,
        })
    }

    /// Joins the open group (opening one if none is) in a fresh savepoint.
    pub async fn begin(&self) -> anyhow::Result<WriteTx> {
        let mut guard = self.state.clone().lock_owned().await;
        undo_abandoned(&mut guard).await?;
        if !guard.in_tx {
            sqlx::query("BEGIN IMMEDIATE")
                .execute(&mut guard.conn)
                .await
                .context("starting a write group")?;
            guard.in_tx = true;
        }
        // One holder at a time, so one name serves every use-case; a fixed text also keeps
        // the prepared-statement cache from filling with one-off savepoint statements.
        sqlx::query(SAVEPOINT).execute(&mut guard.conn).await?;
        let epoch = guard.epoch;
        Ok(WriteTx {
            guard: Some(guard),
            epoch,
            writer: self.clone(),
        })
    }
}

impl WriteTx {
    /// Releases this use-case's savepoint into the group and waits until the group is
    /// committed; an error means nothing of it was kept.
    pub async fn commit(mut self) -> anyhow::Result<()> {
        let mut guard = self.guard.take().expect("a live WriteTx holds the lock");
        if let Err(e) = sqlx::query(RELEASE).execute(&mut guard.conn).await {
            guard.abandoned = true;
            return Err(e).context("releasing a savepoint");
        }
        guard.pending += 1;
        drop(guard);
        self.writer.kick.notify_one();
        let mut outcome = self.writer.outcome.clone();
        let epoch = self.epoch;
        let result = outcome
            .wait_for(|o| o.done >= epoch)
            .await
            .context("the committer stopped")?
            .clone();
        match result.failed {
            Some((e, why)) if e == epoch => Err(anyhow::anyhow!(
                "the database did not keep the write: {why}"
            )),
            _ => Ok(()),
        }
    }
}

impl Deref for WriteTx {
    type Target = SqliteConnection;
    fn deref(&self) -> &SqliteConnection {
        &self
            .guard
            .as_ref()
            .expect("a live WriteTx holds the lock")
            .conn
    }
}

impl DerefMut for WriteTx {
    fn deref_mut(&mut self) -> &mut SqliteConnection {
        &mut self
            .guard
            .as_mut()
            .expect("a live WriteTx holds the lock")
            .conn
    }
}

impl Drop for WriteTx {
    /// A use-case that ends without committing (an error, a refusal) leaves its savepoint to
    /// be rolled back by whoever takes the lock next; its work never reaches the group.
    fn drop(&mut self) {
        if let Some(mut guard) = self.guard.take() {
            guard.abandoned = true;
            drop(guard);
            // Let the committer undo it and end the group, so the write lock is not held by
            // a group nobody will commit.
            self.writer.kick.notify_one();
        }
    }
}

async fn undo_abandoned(state: &mut State) -> anyhow::Result<()> {
    if std::mem::take(&mut state.abandoned) {
        sqlx::query("ROLLBACK TO uc")
            .execute(&mut state.conn)
            .await?;
        sqlx::query(RELEASE).execute(&mut state.conn).await?;
    }
    Ok(())
}

async fn committer(state: Arc<Mutex<State>>, kick: Arc<Notify>, outcome: watch::Sender<Outcome>) {
    loop {
        kick.notified().await;
        let mut s = state.lock().await;
        let undone = undo_abandoned(&mut s).await;
        if !s.in_tx {
            continue;
        }
        let epoch = s.epoch;
        let result = match undone {
            Ok(()) if s.pending > 0 => sqlx::query("COMMIT")
                .execute(&mut s.conn)
                .await
                .map(drop)
                .map_err(anyhow::Error::from),
            Ok(()) => sqlx::query("ROLLBACK")
                .execute(&mut s.conn)
                .await
                .map(drop)
                .map_err(anyhow::Error::from),
            Err(e) => Err(e),
        };
        if result.is_err() {
            let _ = sqlx::query("ROLLBACK").execute(&mut s.conn).await;
        }
        s.in_tx = false;
        s.pending = 0;
        s.epoch += 1;
        drop(s);
        outcome.send_modify(|o| {
            o.done = epoch;
            if let Err(e) = &result {
                tracing::error!(error = format!("{e:#}"), "a write group failed to commit");
                o.failed = Some((epoch, Arc::from(format!("{e:#}"))));
            }
        });
        if outcome.is_closed() {
            return;
        }
    }
}
