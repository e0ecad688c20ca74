//! The store on both engines: SQLCipher and a real PostgreSQL (started by the test command).
//! Each conformance test is one async function over an [`Engine`], run once per engine.

use std::{process::Command, sync::Arc, time::Duration};

use dsr_bot::{
    clock::SystemClock,
    config::Config,
    db,
    store::{
        lease::{self, Held, LEADER, Leases},
        postgres::{self, OtherKey, outbox, people},
    },
};
use tokio::sync::watch;

use crate::common::{self, postgres::fresh_database};

#[derive(Debug, Clone, Copy)]
pub(crate) enum Engine {
    Sqlite,
    Postgres,
}

/// Runs an async test function once on each engine, as two tests.
macro_rules! on_both_engines {
    ($name:ident) => {
        mod $name {
            #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
            async fn on_sqlite() {
                super::$name(super::Engine::Sqlite).await
            }
            #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
            async fn on_postgres() {
                super::$name(super::Engine::Postgres).await
            }
        }
    };
}
pub(crate) use on_both_engines;

pub(crate) const KEY: [u8; 32] = [0x5a; 32];

/// Two processes' views of one database: two SQLite connections, each with its own writer,
/// on one file; or two PostgreSQL pools on one database.
struct TwoProcesses {
    a: Leases,
    b: Leases,
    _dir: Option<tempfile::TempDir>,
}

async fn two_processes(engine: Engine) -> TwoProcesses {
    match engine {
        Engine::Sqlite => {
            let dir = tempfile::tempdir().unwrap();
            let config = Config::for_folder(dir.path());
            let open = || async {
                Leases::Sqlite {
                    database: db::connect(&config, db::Access::ReadWrite).await.unwrap(),
                    clock: Arc::new(SystemClock),
                }
            };
            let a = open().await;
            let b = open().await;
            TwoProcesses {
                a,
                b,
                _dir: Some(dir),
            }
        }
        Engine::Postgres => {
            let url = fresh_database().await;
            let a = postgres::connect(&url, &KEY).await.unwrap();
            let b = postgres::connect(&url, &KEY).await.unwrap();
            TwoProcesses {
                a: Leases::Postgres(a.pool),
                b: Leases::Postgres(b.pool),
                _dir: None,
            }
        }
    }
}

async fn one_holder_at_a_time_and_the_lapsed_one_fenced_off(engine: Engine) {
    let TwoProcesses { a, b, _dir } = two_processes(engine).await;
    let ttl = Duration::from_millis(1_500);
    let first = a
        .acquire(LEADER, "a", ttl)
        .await
        .unwrap()
        .expect("a free lease is taken");
    assert_eq!(first.generation, 1);
    assert_eq!(
        b.acquire(LEADER, "b", ttl).await.unwrap(),
        None,
        "held by a"
    );
    assert!(a.renew(&first, ttl).await.unwrap());
    assert_eq!(b.holder(LEADER).await.unwrap().unwrap().0, first);

    tokio::time::sleep(ttl + Duration::from_millis(300)).await;
    assert_eq!(b.holder(LEADER).await.unwrap(), None, "lapsed");
    let second = b
        .acquire(LEADER, "b", ttl)
        .await
        .unwrap()
        .expect("a lapsed lease is taken");
    assert_eq!(second.generation, 2);
    assert!(
        !a.renew(&first, ttl).await.unwrap(),
        "the old holder cannot renew"
    );
    a.release(&first).await.unwrap();
    assert_eq!(
        a.holder(LEADER).await.unwrap().unwrap().0,
        second,
        "the old holder's release does not touch the new lease"
    );

    b.release(&second).await.unwrap();
    let third = a
        .acquire(LEADER, "a", ttl)
        .await
        .unwrap()
        .expect("a released lease is free at once");
    assert_eq!(third.generation, 3);
}
on_both_engines!(one_holder_at_a_time_and_the_lapsed_one_fenced_off);

async fn of_many_asking_at_once_one_gets_the_lease(engine: Engine) {
    let TwoProcesses { a, b, _dir } = two_processes(engine).await;
    let ttl = Duration::from_secs(30);
    let mut asks = tokio::task::JoinSet::new();
    for i in 0..16 {
        let leases = if i % 2 == 0 { a.clone() } else { b.clone() };
        asks.spawn(async move { leases.acquire(LEADER, &format!("p{i}"), ttl).await.unwrap() });
    }
    let won: Vec<Held> = asks.join_all().await.into_iter().flatten().collect();
    assert_eq!(won.len(), 1, "{won:?}");
    assert_eq!(a.holder(LEADER).await.unwrap().unwrap().0, won[0]);
}
on_both_engines!(of_many_asking_at_once_one_gets_the_lease);

/// A process keeping the leader lease dies without giving it up (its task is dropped, as by
/// kill -9): the other takes over once the lease lapses, and a process that stops cleanly
/// hands it over at once.
async fn a_leader_that_dies_is_replaced_within_seconds(engine: Engine) {
    let TwoProcesses { a, b, _dir } = two_processes(engine).await;
    let ttl = Duration::from_millis(1_200);
    let start = |leases: Leases, name: &'static str| {
        let (holding, seen) = watch::channel(None);
        let (stop_tx, stop) = watch::channel(false);
        let task = tokio::spawn(async move {
            lease::campaign(leases, LEADER, name, ttl, holding, stop).await;
        });
        (task, seen, stop_tx)
    };
    let (task_a, seen_a, _stop_a) = start(a.clone(), "a");
    let (task_b, mut seen_b, stop_b) = start(b.clone(), "b");

    // One of them leads.
    let leader = tokio::time::timeout(Duration::from_secs(10), async {
        loop {
            if let Some((held, _)) = a.holder(LEADER).await.unwrap() {
                return held;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    })
    .await
    .expect("someone takes the lease");
    // Let both look a few times: the follower never takes a held lease.
    tokio::time::sleep(ttl * 2).await;
    assert_eq!(a.holder(LEADER).await.unwrap().unwrap().0, leader);
    let mut tasks = [Some(task_a), Some(task_b)];
    let (dying, mut survivor, survivor_name) = if leader.holder == "a" {
        (0, seen_b.clone(), "b")
    } else {
        (1, seen_a.clone(), "a")
    };
    tasks[dying].take().unwrap().abort();
    let died = tokio::time::Instant::now();
    let taken = tokio::time::timeout(Duration::from_secs(10), survivor.wait_for(|h| h.is_some()))
        .await
        .expect("the survivor takes over")
        .unwrap()
        .clone()
        .unwrap();
    let after = died.elapsed();
    assert_eq!(taken.holder, survivor_name);
    assert_eq!(taken.generation, leader.generation + 1);
    // It cannot have taken it before the lapse, and it looks every third of the lease's life.
    assert!(
        after < ttl * 3,
        "taken over {after:?} after the leader died"
    );
    assert_eq!(b.holder(LEADER).await.unwrap().unwrap().0, taken);

    if survivor_name == "b" {
        // A clean stop gives the lease up at once.
        stop_b.send(true).unwrap();
        seen_b.wait_for(|h| h.is_none()).await.unwrap();
        tasks[1].take().unwrap().await.unwrap();
        assert_eq!(b.holder(LEADER).await.unwrap(), None, "given up on stop");
    }
}
on_both_engines!(a_leader_that_dies_is_replaced_within_seconds);

/// A once-only job's transaction holds its lease's row: the lease cannot change hands until
/// the job's writes are committed, and a lapsed holder's fence fails.
#[tokio::test]
async fn a_job_fenced_on_its_lease_holds_off_a_takeover_until_it_commits() {
    let url = fresh_database().await;
    let store = postgres::connect(&url, &KEY).await.unwrap();
    let leases = Leases::Postgres(store.pool.clone());
    let ttl = Duration::from_millis(800);
    let held = leases.acquire(LEADER, "a", ttl).await.unwrap().unwrap();
    let mut job = store.pool.begin().await.unwrap();
    assert!(lease::fence(&mut job, &held).await.unwrap());
    tokio::time::sleep(ttl + Duration::from_millis(200)).await;
    let other = leases.clone();
    let takeover = tokio::spawn(async move { other.acquire(LEADER, "b", ttl).await.unwrap() });
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert!(
        !takeover.is_finished(),
        "the takeover waits for the fenced job"
    );
    job.commit().await.unwrap();
    let taken = takeover
        .await
        .unwrap()
        .expect("taken once the job committed");
    assert_eq!(taken.generation, 2);
    let mut late = store.pool.begin().await.unwrap();
    assert!(
        !lease::fence(&mut late, &held).await.unwrap(),
        "the lapsed holder is fenced off"
    );
}

/// Erasure that holds on PostgreSQL: an address is never in the cluster's files in clear (heap,
/// indexes, WAL), before or after erasure, and once its person's data key is deleted nothing
/// that was sealed with it opens. A value written in clear beside it is found by the same
/// search, which shows the search sees what PostgreSQL wrote.
#[tokio::test]
async fn an_erased_address_is_in_no_file_of_the_postgres_cluster() {
    let url = fresh_database().await;
    let store = postgres::connect(&url, &KEY).await.unwrap();
    let tag = uuid::Uuid::new_v4().simple().to_string();
    let canary = format!("canary-{tag}@example.org");
    let control = format!("control-{tag}");
    let now = chrono::Utc::now();

    sqlx::query("CREATE TABLE written_in_clear (v TEXT)")
        .execute(&store.pool)
        .await
        .unwrap();
    sqlx::query("INSERT INTO written_in_clear VALUES ($1)")
        .bind(&control)
        .execute(&store.pool)
        .await
        .unwrap();
    let mut tx = store.pool.begin().await.unwrap();
    let (person, key) = people::create(&mut tx, &store.wrapping, now).await.unwrap();
    let identity = people::NewIdentity {
        kind: "email",
        value: &canary,
        verified_at: Some(now),
    };
    people::add_identity(&mut tx, &store.wrapping, person, &key, &identity, now)
        .await
        .unwrap()
        .unwrap();
    let mail = outbox::NewMail {
        message_id: &format!("<{tag}@dsr-bot.test>"),
        person_id: Some(person),
        request_id: None,
        template: "confirmation",
        recipient: &canary,
        subject: "Your opt-out",
        body_text: &format!("We recorded the opt-out of {canary}."),
        body_html: &format!("<p>We recorded the opt-out of {canary}.</p>"),
        scrub_after_send: false,
        reply_token: None,
        in_reply_to: None,
        thread_root: None,
        attachment: None,
    };
    outbox::insert(&mut tx, &store.wrapping, &mail, Some(&key), now)
        .await
        .unwrap();
    tx.commit().await.unwrap();
    let mut conn = store.pool.acquire().await.unwrap();
    let found = people::find(&mut conn, &store.wrapping, "email", &canary)
        .await
        .unwrap()
        .expect("found by its blind index");
    assert_eq!(
        (found.person_id, found.value.as_str()),
        (person, canary.as_str())
    );
    let sealed: Vec<u8> =
        sqlx::query_scalar("SELECT value_sealed FROM identities WHERE person_id = $1")
            .bind(person)
            .fetch_one(&mut *conn)
            .await
            .unwrap();

    let wrapped: Vec<u8> =
        sqlx::query_scalar("SELECT wrapped_key FROM person_keys WHERE person_id = $1")
            .bind(person)
            .fetch_one(&mut *conn)
            .await
            .unwrap();
    let tables: u32 =
        sqlx::query_scalar("SELECT oid FROM pg_database WHERE datname = current_database()")
            .fetch_one(&mut *conn)
            .await
            .map(|oid: sqlx::postgres::types::Oid| oid.0)
            .unwrap();
    let tables = common::postgres::pgdata()
        .join("base")
        .join(tables.to_string());

    checkpoint().await;
    assert!(
        !files_holding(&control).is_empty(),
        "the search finds a value written in clear"
    );
    assert_eq!(
        files_holding(&canary),
        Vec::<String>::new(),
        "the address is never in clear"
    );
    assert!(
        !files_under_holding(&tables, &wrapped).is_empty(),
        "the wrapped key is found where it is kept"
    );

    let mut tx = store.pool.begin().await.unwrap();
    let erased = people::erase(&mut tx, &store.wrapping, person, now)
        .await
        .unwrap();
    tx.commit().await.unwrap();
    assert!(
        people::rewrite_keys(&store.pool, erased, Duration::from_secs(30))
            .await
            .unwrap(),
        "no snapshot older than the erasure is held for long"
    );
    checkpoint().await;
    assert_eq!(files_holding(&canary), Vec::<String>::new());
    assert_eq!(
        files_under_holding(&tables, &wrapped),
        Vec::<String>::new(),
        "the erased person's wrapped key is in none of the database's files"
    );
    assert_eq!(
        people::find(&mut conn, &store.wrapping, "email", &canary)
            .await
            .unwrap(),
        None
    );
    assert!(
        people::key(&mut conn, &store.wrapping, person)
            .await
            .unwrap()
            .is_none()
    );
    // A copy of the sealed value kept anywhere (a backup, a replica) no longer opens: the key
    // that opened it is gone, and a new key for the same person opens nothing.
    let (fresh, _) = store.wrapping.new_person_key(person);
    assert!(fresh.open("identities.value", &sealed).is_err());
    let erased: Option<chrono::DateTime<chrono::Utc>> =
        sqlx::query_scalar("SELECT erased_at FROM people WHERE id = $1")
            .bind(person)
            .fetch_one(&mut *conn)
            .await
            .unwrap();
    assert!(erased.is_some(), "the person stays, marked erased");
}

/// Flushes every dirty page to the heap and index files, so the search sees them.
pub(crate) async fn checkpoint() {
    let mut admin =
        <sqlx::PgConnection as sqlx::Connection>::connect(&common::postgres::server_url())
            .await
            .unwrap();
    sqlx::query("CHECKPOINT").execute(&mut admin).await.unwrap();
}

/// The files of the cluster (heap, indexes, WAL, everything) holding `needle`.
pub(crate) fn files_holding(needle: &str) -> Vec<String> {
    let out = Command::new("grep")
        .args(["-r", "-l", "-F", "-a", "--", needle])
        .arg(common::postgres::pgdata())
        .output()
        .unwrap();
    assert!(
        out.status.code().is_some_and(|c| c <= 1),
        "grep failed: {out:?}"
    );
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(str::to_owned)
        .collect()
}

/// The files under `folder` that hold `needle`.
pub(crate) fn files_under_holding(folder: &std::path::Path, needle: &[u8]) -> Vec<String> {
    std::fs::read_dir(folder)
        .unwrap()
        .filter_map(|entry| {
            let path = entry.unwrap().path();
            let holds = path.is_file()
                && std::fs::read(&path)
                    .map(|bytes| bytes.windows(needle.len()).any(|w| w == needle))
                    .unwrap_or(false);
            holds.then(|| path.display().to_string())
        })
        .collect()
}

fn mail<'a>(message_id: &'a str, person: Option<i64>, to: &'a str) -> outbox::NewMail<'a> {
    outbox::NewMail {
        message_id,
        person_id: person,
        request_id: None,
        template: "confirmation",
        recipient: to,
        subject: "Your request",
        body_text: "text",
        body_html: "<p>html</p>",
        scrub_after_send: false,
        reply_token: None,
        in_reply_to: None,
        thread_root: None,
        attachment: None,
    }
}

/// Six mail workers in two processes on one PostgreSQL: every mail is claimed and sent once,
/// to the address it was queued for.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn mail_workers_in_two_processes_send_each_mail_once() {
    let url = fresh_database().await;
    let one = postgres::connect(&url, &KEY).await.unwrap();
    let two = postgres::connect(&url, &KEY).await.unwrap();
    let now = chrono::Utc::now();
    let mut queued = std::collections::BTreeMap::new();
    let mut tx = one.pool.begin().await.unwrap();
    for i in 0..300 {
        let id = format!("<{i}@dsr-bot.test>");
        let to = format!("member{i}@example.org");
        let person = if i % 3 == 0 {
            let (person, key) = people::create(&mut tx, &one.wrapping, now).await.unwrap();
            outbox::insert(
                &mut tx,
                &one.wrapping,
                &mail(&id, Some(person), &to),
                Some(&key),
                now,
            )
            .await
            .unwrap();
            Some(person)
        } else {
            outbox::insert(&mut tx, &one.wrapping, &mail(&id, None, &to), None, now)
                .await
                .unwrap();
            None
        };
        queued.insert(id, (to, person));
    }
    tx.commit().await.unwrap();

    let sent = Arc::new(std::sync::Mutex::new(Vec::new()));
    let mut workers = tokio::task::JoinSet::new();
    for w in 0..6 {
        let store = if w % 2 == 0 { one.clone() } else { two.clone() };
        let sent = sent.clone();
        workers.spawn(async move {
            let worker = format!("worker-{w}");
            loop {
                let claimed = outbox::claim(
                    &store.pool,
                    &store.wrapping,
                    &worker,
                    Duration::from_secs(60),
                    7,
                )
                .await
                .unwrap();
                if claimed.is_empty() {
                    return;
                }
                for mail in claimed {
                    assert!(
                        outbox::mark_sent(&store.pool, mail.id, &mail.claim)
                            .await
                            .unwrap()
                    );
                    sent.lock().unwrap().push((mail.message_id, mail.recipient));
                }
            }
        });
    }
    workers.join_all().await;
    let mut sent = sent.lock().unwrap().clone();
    assert_eq!(sent.len(), 300, "each mail sent once");
    sent.sort();
    sent.dedup();
    assert_eq!(sent.len(), 300, "no mail sent twice");
    for (id, to) in &sent {
        assert_eq!(&queued[id].0, to, "{id} went to its own recipient");
    }
    let unsent: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM outbox WHERE sent_at IS NULL")
        .fetch_one(&one.pool)
        .await
        .unwrap();
    assert_eq!(unsent, 0);
}

/// A worker that stalled past its lease finds its mail taken by another and changes nothing;
/// mail queued to a person erased before it went still reaches them, then keeps nothing.
#[tokio::test]
async fn a_stalled_mail_worker_is_fenced_off_and_an_erased_persons_last_mail_still_goes() {
    let url = fresh_database().await;
    let store = postgres::connect(&url, &KEY).await.unwrap();
    let now = chrono::Utc::now();
    let mut tx = store.pool.begin().await.unwrap();
    outbox::insert(
        &mut tx,
        &store.wrapping,
        &mail("<stall@t>", None, "a@example.org"),
        None,
        now,
    )
    .await
    .unwrap();
    tx.commit().await.unwrap();
    let (pool, wrapping) = (&store.pool, &store.wrapping);
    let lease = Duration::from_millis(400);
    let stalled = outbox::claim(pool, wrapping, "a", lease, 10).await.unwrap();
    assert_eq!(stalled.len(), 1);
    assert!(
        outbox::claim(pool, wrapping, "b", lease, 10)
            .await
            .unwrap()
            .is_empty(),
        "leased to a"
    );
    tokio::time::sleep(lease + Duration::from_millis(300)).await;
    let retaken = outbox::claim(pool, wrapping, "b", lease, 10).await.unwrap();
    assert_eq!(retaken.len(), 1);
    assert_eq!(
        retaken[0].message_id, stalled[0].message_id,
        "the same mail, the same Message-ID"
    );
    assert!(
        !outbox::mark_sent(pool, stalled[0].id, &stalled[0].claim)
            .await
            .unwrap(),
        "a no longer holds it"
    );
    assert!(
        !outbox::mark_failed(pool, stalled[0].id, &stalled[0].claim, "timeout", lease)
            .await
            .unwrap()
    );
    assert!(
        outbox::mark_sent(pool, retaken[0].id, &retaken[0].claim)
            .await
            .unwrap()
    );
    let attempts: i64 = sqlx::query_scalar("SELECT attempts FROM outbox WHERE id = $1")
        .bind(retaken[0].id)
        .fetch_one(pool)
        .await
        .unwrap();
    assert_eq!(attempts, 1);

    // Mail queued to a person who is erased before it goes: it still reaches them (the
    // confirmation of an erasure must), then loses its address, text and key.
    let mut tx = store.pool.begin().await.unwrap();
    let (person, key) = people::create(&mut tx, wrapping, now).await.unwrap();
    let to_erased = mail("<erased@t>", Some(person), "gone@example.org");
    outbox::insert(&mut tx, wrapping, &to_erased, Some(&key), now)
        .await
        .unwrap();
    people::erase(&mut tx, wrapping, person, now).await.unwrap();
    tx.commit().await.unwrap();
    let last = outbox::claim(pool, wrapping, "c", lease, 10).await.unwrap();
    assert_eq!(last.len(), 1);
    assert_eq!(last[0].recipient, "gone@example.org");
    assert!(
        outbox::mark_sent(pool, last[0].id, &last[0].claim)
            .await
            .unwrap()
    );
    let recipient: Vec<u8> =
        sqlx::query_scalar("SELECT recipient_sealed FROM outbox WHERE id = $1")
            .bind(last[0].id)
            .fetch_one(pool)
            .await
            .unwrap();
    let keys_left: i64 =
        sqlx::query_scalar("SELECT COUNT(*) FROM row_keys WHERE owner = 'outbox:<erased@t>'")
            .fetch_one(pool)
            .await
            .unwrap();
    assert!(
        recipient.is_empty() && keys_left == 0,
        "nothing of it kept once sent"
    );

    // The same worker claiming its own lapsed mail again: the old attempt is fenced off too.
    let mut tx = store.pool.begin().await.unwrap();
    outbox::insert(
        &mut tx,
        wrapping,
        &mail("<again@t>", None, "b@example.org"),
        None,
        now,
    )
    .await
    .unwrap();
    tx.commit().await.unwrap();
    let first = outbox::claim(pool, wrapping, "a", lease, 10).await.unwrap();
    tokio::time::sleep(lease + Duration::from_millis(300)).await;
    let second = outbox::claim(pool, wrapping, "a", lease, 10).await.unwrap();
    assert_eq!((first.len(), second.len()), (1, 1));
    assert!(
        !outbox::mark_failed(pool, first[0].id, &first[0].claim, "421", lease)
            .await
            .unwrap()
    );
    assert!(
        outbox::mark_sent(pool, second[0].id, &second[0].claim)
            .await
            .unwrap()
    );

    // A mail whose key is gone (sealed under a key deleted meanwhile) is set aside; the mail
    // queued after it still goes.
    let mut tx = store.pool.begin().await.unwrap();
    let (person, key) = people::create(&mut tx, wrapping, now).await.unwrap();
    outbox::insert(
        &mut tx,
        wrapping,
        &mail("<keyless@t>", Some(person), "c@example.org"),
        Some(&key),
        now,
    )
    .await
    .unwrap();
    sqlx::query("DELETE FROM person_keys WHERE person_id = $1")
        .bind(person)
        .execute(&mut *tx)
        .await
        .unwrap();
    outbox::insert(
        &mut tx,
        wrapping,
        &mail("<after@t>", None, "d@example.org"),
        None,
        now,
    )
    .await
    .unwrap();
    tx.commit().await.unwrap();
    let going = outbox::claim(pool, wrapping, "a", lease, 10).await.unwrap();
    assert_eq!(going.len(), 1);
    assert_eq!(going[0].message_id, "<after@t>");
    assert!(
        outbox::claim(pool, wrapping, "b", lease, 10)
            .await
            .unwrap()
            .is_empty()
    );
}

#[tokio::test]
async fn a_process_with_another_database_key_is_refused() {
    let url = fresh_database().await;
    postgres::connect(&url, &KEY).await.unwrap();
    let refused = postgres::connect(&url, &[0x11; 32])
        .await
        .err()
        .expect("refused");
    assert!(refused.downcast_ref::<OtherKey>().is_some(), "{refused:#}");
    postgres::connect(&url, &KEY)
        .await
        .expect("the same key again is welcome");
}

#[tokio::test]
async fn a_postgres_database_upgraded_by_a_newer_version_is_refused_saying_so() {
    let url = fresh_database().await;
    let store = postgres::connect(&url, &KEY).await.unwrap();
    sqlx::query(
        "INSERT INTO _sqlx_migrations (version, description, success, checksum, execution_time)
         VALUES (29991231000099, 'from a newer version', true, '\\x00', 0)",
    )
    .execute(&store.pool)
    .await
    .unwrap();
    store.pool.close().await;
    let refused = postgres::connect(&url, &KEY).await.err().expect("refused");
    let said = format!("{refused:#}");
    assert!(said.contains("upgraded by a newer dsr-bot"), "{said}");
    assert!(said.contains("29991231000099"), "{said}");
}

#[test]
fn both_engines_hold_the_same_migrations() {
    let listed = |m: &sqlx::migrate::Migrator| -> Vec<(i64, String)> {
        m.iter()
            .map(|m| (m.version, m.description.to_string()))
            .collect()
    };
    let sqlite = listed(&db::MIGRATOR);
    assert_eq!(sqlite, listed(&postgres::MIGRATOR));
    assert!(sqlite.len() >= 19);
}

/// `DATABASE_URL=postgres://...`: `dsr-bot migrate` prepares the schema; it needs the database
/// key given; every other command says it runs on SQLite so far.
#[tokio::test]
async fn the_binary_on_postgres_migrates_and_says_what_runs_there() {
    let url = fresh_database().await;
    let dir = tempfile::tempdir().unwrap();
    let key = hex::encode(KEY);
    let migrated = common::run_bin(
        dir.path(),
        &["migrate"],
        &[("DATABASE_URL", &url), ("DATABASE_KEY", &key)],
    );
    let text = common::printed(&migrated);
    assert!(migrated.status.success(), "{text}");
    let versions = postgres::MIGRATOR.iter().count();
    assert!(
        text.contains(&format!(
            "the PostgreSQL database is up to date ({versions} migrations)"
        )),
        "{text}"
    );

    let keyless = common::run_bin(dir.path(), &["migrate"], &[("DATABASE_URL", &url)]);
    let text = common::printed(&keyless);
    assert_eq!(keyless.status.code(), Some(2), "{text}");
    assert!(
        text.contains("set DATABASE_KEY or DATABASE_KEY_FILE"),
        "{text}"
    );

    let listing = common::run_bin(
        dir.path(),
        &["requests", "list"],
        &[("DATABASE_URL", &url), ("DATABASE_KEY", &key)],
    );
    let text = common::printed(&listing);
    assert_eq!(listing.status.code(), Some(2), "{text}");
    assert!(text.contains("runs on SQLite so far"), "{text}");
    assert!(
        !dir.path().join("dsr-bot.db").exists(),
        "no SQLite file made on the side"
    );
}
