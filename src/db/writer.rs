//! The writer: every write runs here, on one connection, on one thread, with group commit.
//!
//! A unit of work is a closure over a [`rusqlite::Connection`]. The writer thread takes the
//! first closure waiting, opens a transaction, runs it in a savepoint, then runs every other
//! closure already queued, each in its own savepoint, and commits them all at once. Each
//! caller is told its own outcome: a closure that failed had its savepoint rolled back and
//! hears its own error at once; the others hear, after the commit, whether the group was kept.
//! With `synchronous=full` an acknowledged write is on disk, for one sync per group.
//!
//! Why not sqlx statements: sqlx runs every statement on the connection's own thread and
//! hands each one there and back. A request is about eight statements, and `perf` put half
//! the time of `bench rush` in those hand-offs (thread wake-ups), under 2 % in SQLite:
//! 1,985 requests/s at `synchronous=full`, 0.44x the single-row INSERT rate of the same
//! settings. Here a unit of work costs two hand-offs (queue in, answer out) and its
//! statements run in place; the figures are in the README ("Durability, load and faults").
//!
//! sqlx still owns the connection: it opens it with every pragma (and, with a key, the
//! encryption key) and migrates the schema. The writer thread locks sqlx's handle for its
//! whole life ([`sqlx::sqlite::SqliteConnection::lock_handle`]) and runs statements on it
//! through rusqlite, which links the same SQLite library.

use std::{
    panic::{AssertUnwindSafe, catch_unwind},
    sync::{
        Arc,
        atomic::{AtomicU32, AtomicU64, Ordering},
    },
};

use anyhow::{Context, anyhow};
use rusqlite::Connection;
use sqlx::{Connection as _, SqliteConnection, sqlite::SqliteConnectOptions};
use tokio::sync::{mpsc, oneshot};

/// Closures waiting for the writer; senders wait while it is full.
const QUEUE: usize = 4_096;
/// Most units of work in one group, so one commit never waits on an endless stream.
const MAX_GROUP: usize = 1_024;
/// Prepared statements the writer keeps: more than all the use-cases have between them.
pub const STATEMENTS: usize = 256;

/// Why a group was not kept, shared by everyone in it.
type GroupError = Arc<anyhow::Error>;

/// A queued unit of work, type-erased.
trait Work: Send {
    /// Runs inside the unit's savepoint; false means roll the savepoint back.
    fn run(&mut self, db: &Connection) -> bool;
    /// The unit's statements ran but its savepoint could not be released: nothing is kept.
    fn fail(&mut self, error: anyhow::Error);
    /// The outcome is known: `group` is whether the transaction holding the unit was kept
    /// (ignored for a unit that failed on its own, which was never part of it).
    fn settle(self: Box<Self>, group: Result<(), GroupError>);
}

struct Task<F, T, E> {
    f: Option<F>,
    result: Option<Result<T, E>>,
    reply: oneshot::Sender<Result<T, E>>,
}

impl<F, T, E> Work for Task<F, T, E>
where
    F: FnOnce(&Connection) -> Result<T, E> + Send,
    T: Send,
    E: From<anyhow::Error> + Send,
{
    fn run(&mut self, db: &Connection) -> bool {
        let f = self.f.take().expect("a unit of work runs once");
        let result = catch_unwind(AssertUnwindSafe(|| f(db))).unwrap_or_else(|_| {
            Err(E::from(anyhow!(
                "a unit of work panicked; it was rolled back"
            )))
        });
        let ok = result.is_ok();
        self.result = Some(result);
        ok
    }

    fn fail(&mut self, error: anyhow::Error) {
        self.result = Some(Err(E::from(error)));
    }

    fn settle(self: Box<Self>, group: Result<(), GroupError>) {
        let result = match (self.result, group) {
            (Some(Ok(_)), Err(why)) => Err(E::from(anyhow!(
                "the database did not keep the write: {why:#}"
            ))),
            (Some(result), _) => result,
            (None, Err(why)) => Err(E::from(anyhow!(
                "the database could not start the write: {why:#}"
            ))),
            (None, Ok(())) => Err(E::from(anyhow!("a unit of work never ran"))),
        };
        // The caller may have given up waiting; then nobody needs the answer.
        let _ = self.reply.send(result);
    }
}

/// Faults a unit test asks the writer to meet: the next N commits, releases, or undoings of a
/// savepoint fail as if SQLite had refused them. Outside unit tests the writer meets none.
pub struct Faults {
    commits: AtomicU32,
    releases: AtomicU32,
    undos: AtomicU32,
}

impl Faults {
    const fn none() -> Faults {
        Faults {
            commits: AtomicU32::new(0),
            releases: AtomicU32::new(0),
            undos: AtomicU32::new(0),
        }
    }

    fn take(counter: &AtomicU32) -> bool {
        counter
            .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| n.checked_sub(1))
            .is_ok()
    }
}

/// The handle every use-case writes through; cheap to clone.
/// What this process's writer has committed, for `/metrics`: group commits and the time
/// they took (the sync included).
pub struct Stats {
    pub commits: AtomicU64,
    pub commit_micros: AtomicU64,
}

pub static STATS: Stats = Stats {
    commits: AtomicU64::new(0),
    commit_micros: AtomicU64::new(0),
};

impl Stats {
    fn record(&self, took: std::time::Duration) {
        self.commits.fetch_add(1, Ordering::Relaxed);
        self.commit_micros
            .fetch_add(took.as_micros() as u64, Ordering::Relaxed);
    }
}

#[derive(Clone)]
pub struct Writer {
    queue: mpsc::Sender<Box<dyn Work>>,
    #[cfg(test)]
    faults: Arc<Faults>,
}

impl Writer {
    /// Opens the writer's own connection with `options` and starts the writer thread.
    pub async fn open(options: &SqliteConnectOptions) -> anyhow::Result<Writer> {
        let conn = SqliteConnection::connect_with(options)
            .await
            .context("opening the writer connection")?;
        let (queue, rx) = mpsc::channel(QUEUE);
        let (ready_tx, ready) = oneshot::channel();
        let faults = Arc::new(Faults::none());
        let thread_faults = faults.clone();
        std::thread::Builder::new()
            .name("dsr-bot-writer".into())
            .spawn(move || writer_thread(conn, rx, ready_tx, &thread_faults))
            .context("starting the writer thread")?;
        ready
            .await
            .context("the writer thread stopped at start")??;
        #[cfg(not(test))]
        drop(faults);
        Ok(Writer {
            queue,
            #[cfg(test)]
            faults,
        })
    }

    /// Units waiting for the writer.
    pub fn queued(&self) -> usize {
        self.queue.max_capacity() - self.queue.capacity()
    }

    /// Runs `f` as one unit of work: in its own savepoint, kept only if it returns `Ok` and
    /// the group holding it commits. Returns once that is known.
    pub async fn run<T, E, F>(&self, f: F) -> Result<T, E>
    where
        F: FnOnce(&Connection) -> Result<T, E> + Send + 'static,
        T: Send + 'static,
        E: From<anyhow::Error> + Send + 'static,
    {
        let (reply, answer) = oneshot::channel();
        let task = Task {
            f: Some(f),
            result: None,
            reply,
        };
        self.queue
            .send(Box::new(task))
            .await
            .map_err(|_| E::from(anyhow!("the database writer has stopped")))?;
        answer
            .await
            .map_err(|_| E::from(anyhow!("the database writer stopped before answering")))?
    }

    /// For unit tests of the writer: make the next `n` commits fail.
    #[cfg(test)]
    fn fail_commits(&self, n: u32) {
        self.faults.commits.store(n, Ordering::SeqCst);
    }

    #[cfg(test)]
    fn fail_releases(&self, n: u32) {
        self.faults.releases.store(n, Ordering::SeqCst);
    }

    #[cfg(test)]
    fn fail_undos(&self, n: u32) {
        self.faults.undos.store(n, Ordering::SeqCst);
    }
}

fn writer_thread(
    mut conn: SqliteConnection,
    mut queue: mpsc::Receiver<Box<dyn Work>>,
    ready: oneshot::Sender<anyhow::Result<()>>,
    faults: &Faults,
) {
    let mut locked = match futures::executor::block_on(conn.lock_handle()) {
        Ok(locked) => locked,
        Err(e) => {
            let _ = ready.send(Err(
                anyhow::Error::from(e).context("locking the writer connection")
            ));
            return;
        }
    };
    // SAFETY: the handle stays locked away from sqlx's worker thread until `locked` is
    // dropped, after `db`; the rusqlite connection does not own (and never closes) it.
    let db = match unsafe { Connection::from_handle(locked.as_raw_handle().as_ptr()) } {
        Ok(db) => db,
        Err(e) => {
            let _ = ready.send(Err(
                anyhow::Error::from(e).context("using the writer connection")
            ));
            return;
        }
    };
    // Every use-case's statements stay prepared: rusqlite keeps 16 by default, fewer than one
    // import row or erasure runs, and re-preparing (parsing) cost a quarter of an import.
    db.set_prepared_statement_cache_capacity(STATEMENTS);
    if ready.send(Ok(())).is_err() {
        return;
    }
    while let Some(first) = queue.blocking_recv() {
        run_group(&db, first, &mut queue, faults);
    }
    drop(db);
    drop(locked);
    // sqlx closes the connection on its own thread once the handle is back.
    drop(conn);
}

/// What became of one unit inside a group.
enum Ran {
    /// Released into the group; it waits for the commit.
    Kept,
    /// Rolled back on its own; the group goes on without it.
    Undone,
    /// Its savepoint could be neither released nor undone: the group cannot go on.
    Broken(anyhow::Error),
}

fn run_group(
    db: &Connection,
    first: Box<dyn Work>,
    queue: &mut mpsc::Receiver<Box<dyn Work>>,
    faults: &Faults,
) {
    if let Err(e) = exec(db, "BEGIN IMMEDIATE") {
        first.settle(Err(Arc::new(e.context("starting a write group"))));
        return;
    }
    let mut kept: Vec<Box<dyn Work>> = Vec::new();
    let mut next = Some(first);
    while let Some(mut unit) = next.take() {
        match run_unit(db, unit.as_mut(), faults) {
            Ran::Kept => kept.push(unit),
            Ran::Undone => unit.settle(Ok(())),
            Ran::Broken(e) => {
                let why = Arc::new(e);
                unit.settle(Err(why.clone()));
                end_group(db, kept, Err(why));
                return;
            }
        }
        if kept.len() < MAX_GROUP {
            next = queue.try_recv().ok();
        }
    }
    let outcome = if kept.is_empty() {
        // Nothing to keep: end the transaction without a sync.
        exec(db, "ROLLBACK").map_err(Arc::new)
    } else if Faults::take(&faults.commits) {
        Err(Arc::new(anyhow!("injected commit failure")))
    } else {
        let started = std::time::Instant::now();
        let committed =
            exec(db, "COMMIT").map_err(|e| Arc::new(e.context("committing a write group")));
        STATS.record(started.elapsed());
        committed
    };
    end_group(db, kept, outcome);
}

/// Tells every kept unit the group's outcome; a group that was not kept is rolled back first,
/// so the write lock is always given up.
fn end_group(db: &Connection, kept: Vec<Box<dyn Work>>, outcome: Result<(), GroupError>) {
    if let Err(why) = &outcome {
        tracing::error!(
            error = format!("{why:#}"),
            units = kept.len(),
            "a write group was not kept"
        );
        if !db.is_autocommit()
            && let Err(e) = exec(db, "ROLLBACK")
        {
            tracing::error!(
                error = format!("{e:#}"),
                "rolling back a failed write group"
            );
        }
    }
    for unit in kept {
        unit.settle(outcome.clone());
    }
}

fn run_unit(db: &Connection, unit: &mut dyn Work, faults: &Faults) -> Ran {
    if let Err(e) = exec(db, "SAVEPOINT uc") {
        return Ran::Broken(e.context("opening a savepoint"));
    }
    if unit.run(db) {
        let released = if Faults::take(&faults.releases) {
            Err(anyhow!("injected release failure"))
        } else {
            exec(db, "RELEASE uc")
        };
        match released {
            Ok(()) => return Ran::Kept,
            Err(e) => unit.fail(e.context("releasing a savepoint")),
        }
    }
    let undone = if Faults::take(&faults.undos) {
        Err(anyhow!("injected rollback failure"))
    } else {
        exec(db, "ROLLBACK TO uc").and_then(|()| exec(db, "RELEASE uc"))
    };
    match undone {
        Ok(()) => Ran::Undone,
        Err(e) => Ran::Broken(e.context("undoing a failed unit of work")),
    }
}

fn exec(db: &Connection, sql: &str) -> anyhow::Result<()> {
    db.prepare_cached(sql)?.execute([])?;
    Ok(())
}

#[cfg(test)]
mod tests {
    //! The writer's bookkeeping against a real SQLite file, with faults injected where SQLite
    //! would seldom fail on its own (a full disk, an I/O error).

    use std::time::Duration;

    use futures::future::join_all;
    use sqlx::{
        Connection as _,
        sqlite::{SqliteConnectOptions, SqliteJournalMode},
    };

    use super::*;

    async fn writer() -> (tempfile::TempDir, SqliteConnectOptions, Writer) {
        let dir = tempfile::tempdir().unwrap();
        let options = SqliteConnectOptions::new()
            .filename(dir.path().join("w.db"))
            .create_if_missing(true)
            .journal_mode(SqliteJournalMode::Wal)
            .busy_timeout(Duration::from_millis(200));
        let mut setup = SqliteConnection::connect_with(&options).await.unwrap();
        sqlx::query("CREATE TABLE t (x INTEGER)")
            .execute(&mut setup)
            .await
            .unwrap();
        setup.close().await.unwrap();
        let w = Writer::open(&options).await.unwrap();
        (dir, options, w)
    }

    fn insert(x: i64) -> impl FnOnce(&Connection) -> anyhow::Result<i64> + Send + 'static {
        move |db| {
            db.execute("INSERT INTO t VALUES (?)", [x])?;
            Ok(x)
        }
    }

    async fn stored(w: &Writer) -> Vec<i64> {
        w.run(|db| {
            let mut s = db.prepare("SELECT x FROM t ORDER BY x")?;
            let rows = s.query_map([], |r| r.get(0))?;
            Ok::<_, anyhow::Error>(rows.collect::<Result<Vec<i64>, _>>()?)
        })
        .await
        .unwrap()
    }

    /// Another connection can take the write lock: the writer left no transaction open.
    async fn lock_is_free(options: &SqliteConnectOptions) {
        let mut other = SqliteConnection::connect_with(options).await.unwrap();
        sqlx::query("BEGIN IMMEDIATE")
            .execute(&mut other)
            .await
            .expect("the write lock is free");
        sqlx::query("ROLLBACK").execute(&mut other).await.unwrap();
    }

    /// Queues `n` inserts at once, so they share groups, and waits for every answer.
    async fn burst(w: &Writer, from: i64, n: i64) -> Vec<anyhow::Result<i64>> {
        join_all((from..from + n).map(|x| w.run(insert(x)))).await
    }

    #[tokio::test]
    async fn every_unit_of_a_group_is_kept_and_told_so() {
        let (_dir, options, w) = writer().await;
        let answers = burst(&w, 0, 200).await;
        assert!(answers.iter().all(|a| a.is_ok()));
        assert_eq!(stored(&w).await, (0..200).collect::<Vec<_>>());
        lock_is_free(&options).await;
    }

    /// Each unit was told the truth: `Ok` exactly for what the database kept.
    async fn told_the_truth(w: &Writer, answers: &[anyhow::Result<i64>], from: i64) {
        let kept = stored(w).await;
        for (i, a) in answers.iter().enumerate() {
            let x = from + i as i64;
            assert_eq!(a.is_ok(), kept.contains(&x), "unit {x}: told {a:?}");
        }
    }

    #[tokio::test]
    async fn two_failed_groups_in_a_row_each_tell_all_their_units_and_free_the_lock() {
        let (_dir, options, w) = writer().await;
        w.fail_commits(2);
        // Bursts of units until both faults have met a group.
        let mut answers = Vec::new();
        while w.faults.commits.load(Ordering::SeqCst) > 0 {
            answers.extend(burst(&w, answers.len() as i64, 50).await);
        }
        let failed = answers.iter().filter(|a| a.is_err()).count();
        assert!(failed >= 2, "{failed} units were told of a failure");
        let why = answers
            .iter()
            .find_map(|a| a.as_ref().err())
            .unwrap()
            .to_string();
        assert!(why.contains("did not keep the write"), "{why}");
        told_the_truth(&w, &answers, 0).await;
        lock_is_free(&options).await;
        // The writer goes on: the next units are kept and told so.
        let later = burst(&w, 10_000, 10).await;
        assert!(later.iter().all(|a| a.is_ok()));
        told_the_truth(&w, &later, 10_000).await;
    }

    #[tokio::test]
    async fn a_failed_release_fails_only_its_own_unit() {
        let (_dir, options, w) = writer().await;
        w.fail_releases(1);
        let answers = burst(&w, 0, 20).await;
        let failed: Vec<_> = answers.iter().filter(|a| a.is_err()).collect();
        assert_eq!(failed.len(), 1, "one unit's savepoint would not release");
        assert_eq!(stored(&w).await.len(), 19, "the others are kept");
        lock_is_free(&options).await;
    }

    #[tokio::test]
    async fn a_savepoint_that_can_be_neither_released_nor_undone_fails_the_group_and_frees_the_lock()
     {
        let (_dir, options, w) = writer().await;
        w.fail_releases(1);
        w.fail_undos(1);
        let answers = burst(&w, 0, 20).await;
        assert!(answers[0].is_err(), "the broken unit is told");
        told_the_truth(&w, &answers, 0).await;
        lock_is_free(&options).await;
    }

    #[tokio::test]
    async fn a_unit_that_errs_or_panics_is_rolled_back_alone() {
        let (_dir, _options, w) = writer().await;
        let bad = w.run(|db| {
            db.execute("INSERT INTO t VALUES (99)", [])?;
            Err::<(), _>(anyhow!("refused"))
        });
        let panicking = w.run(|db: &Connection| -> anyhow::Result<()> {
            db.execute("INSERT INTO t VALUES (98)", [])?;
            panic!("a bug")
        });
        let (bad, panicking, good) = tokio::join!(bad, panicking, w.run(insert(1)));
        assert_eq!(bad.unwrap_err().to_string(), "refused");
        assert!(panicking.unwrap_err().to_string().contains("panicked"));
        assert_eq!(good.unwrap(), 1);
        assert_eq!(stored(&w).await, vec![1]);
    }
}
