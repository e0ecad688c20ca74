//! The store seam (`store::Store`: requests, people, limits, proofs, reply tokens, queued mail,
//! the schedule, settings) on both engines: the same operations give the same answers on
//! SQLCipher (the writer's unit of work) and on a real PostgreSQL (a unit of work there); and
//! on PostgreSQL, where several processes write at once, a person is met once, a choice
//! recorded once and a request moved once however many units race for it.

use std::sync::{
    Arc, Barrier,
    atomic::{AtomicU32, Ordering},
};

use chrono::{DateTime, Duration, TimeZone, Utc};
use dsr_bot::{
    config::Config,
    db::{
        self,
        events::Event,
        log::{Item, Leaf},
        requests::{NewRequest, StaleState},
    },
    domain::{Actor, DiscordId, EmailAddress},
    domain::{Channel, Language, RequestKind, RequestState},
    proof::merkle::{Frontier, Hash, leaf_hash},
    store::{
        Store,
        dms::{Dm, NewDm},
        erasure::Erasing,
        limits::Limits as _,
        log::NewCheckpoint,
        outbox::NewMail,
        people::{Known, People as _},
        postgres::{self, PgStore, people},
        reply_tokens::NewToken,
        requests::{Filed, Requests as _},
        schedule::{Mark, Schedule as _},
        settings::Settings as _,
        standings::NewStanding,
        verifications::{NewCode, Verifications as _},
    },
};

use super::store::{Engine, KEY, checkpoint, files_holding, files_under_holding, on_both_engines};
use crate::common::postgres::fresh_database;

/// A claimed mail as the tests compare it: Message-ID, recipient, reply token, In-Reply-To,
/// thread root, attachment.
type ClaimedMail = (
    String,
    String,
    Option<String>,
    Option<String>,
    Option<String>,
    Option<(String, String)>,
);

/// One engine's database, as the conformance tests use it.
enum Db {
    /// The database and the folder it is in, removed when dropped.
    Sqlite(db::Database, #[allow(dead_code)] tempfile::TempDir),
    Postgres(PgStore, String),
}

impl Db {
    async fn open(engine: Engine) -> Db {
        match engine {
            Engine::Sqlite => {
                let dir = tempfile::tempdir().unwrap();
                let config = Config::for_folder(dir.path());
                let database = db::connect(&config, db::Access::ReadWrite).await.unwrap();
                Db::Sqlite(database, dir)
            }
            Engine::Postgres => {
                let url = fresh_database().await;
                Db::Postgres(postgres::connect(&url, &KEY).await.unwrap(), url)
            }
        }
    }

    /// A second process's view of the same PostgreSQL database.
    async fn another_process(&self) -> PgStore {
        let Db::Postgres(_, url) = self else {
            panic!("only PostgreSQL is shared by processes on several machines");
        };
        postgres::connect(url, &KEY).await.unwrap()
    }

    async fn person(&self) -> i64 {
        match self {
            Db::Sqlite(database, _) => database
                .write(|c| Ok::<_, anyhow::Error>(db::people::insert(c, at(0))?))
                .await
                .unwrap(),
            Db::Postgres(store, _) => {
                let mut conn = store.pool.acquire().await.unwrap();
                people::create(&mut conn, &store.wrapping, at(0))
                    .await
                    .unwrap()
                    .0
            }
        }
    }

    /// The first column of every row `sql` returns, as text, read outside any unit of work.
    async fn texts(&self, sql: &str) -> Vec<String> {
        match self {
            Db::Sqlite(database, _) => {
                let sql = sql.to_owned();
                database
                    .write(move |c| {
                        let mut stmt = c.prepare(&sql)?;
                        let rows = stmt.query_map([], |r| r.get::<_, String>(0))?;
                        Ok::<_, anyhow::Error>(rows.collect::<Result<Vec<_>, _>>()?)
                    })
                    .await
                    .unwrap()
            }
            Db::Postgres(store, _) => sqlx::query_scalar(sql)
                .fetch_all(&store.pool)
                .await
                .unwrap(),
        }
    }

    /// Every queued mail, claimed as the mail worker claims it (due now, oldest first):
    /// Message-ID, recipient, reply token, In-Reply-To, thread root, attachment.
    async fn claim_all(&self) -> Vec<ClaimedMail> {
        match self {
            Db::Sqlite(database, _) => database
                .write(|c| {
                    // Due by then; each claimed until after it, so it is claimed once.
                    let now = at(0) + Duration::days(3650);
                    let lease_until = now + Duration::days(1);
                    let mut all = Vec::new();
                    while let Some(m) = db::outbox::claim_next_due(c, now, lease_until)? {
                        let attachment = m.attachment_name.zip(m.attachment_body);
                        all.push((
                            m.message_id,
                            m.recipient,
                            m.reply_token,
                            m.in_reply_to,
                            m.thread_root,
                            attachment,
                        ));
                    }
                    Ok::<_, anyhow::Error>(all)
                })
                .await
                .unwrap(),
            Db::Postgres(store, _) => {
                let lease = std::time::Duration::from_secs(60);
                let claimed =
                    postgres::outbox::claim(&store.pool, &store.wrapping, "t", lease, 100)
                        .await
                        .unwrap();
                claimed
                    .into_iter()
                    .map(|m| {
                        (
                            m.message_id,
                            m.recipient,
                            m.reply_token,
                            m.in_reply_to,
                            m.thread_root,
                            m.attachment,
                        )
                    })
                    .collect()
            }
        }
    }

    /// Runs `sql` outside any unit of work (a change the seam does not make itself).
    async fn exec(&self, sql: &str) {
        match self {
            Db::Sqlite(database, _) => {
                let sql = sql.to_owned();
                database
                    .write(move |c| Ok::<_, anyhow::Error>(c.execute_batch(&sql)?))
                    .await
                    .unwrap();
            }
            Db::Postgres(store, _) => {
                sqlx::query(sql).execute(&store.pool).await.unwrap();
            }
        }
    }

    /// Runs `work` as one unit of work: committed when it returns `Ok`.
    async fn unit<T, F>(&self, work: F) -> anyhow::Result<T>
    where
        F: Fn(&dyn Store) -> anyhow::Result<T> + Send + 'static,
        T: Send + 'static,
    {
        match self {
            Db::Sqlite(database, _) => database.write(move |c| work(c)).await,
            Db::Postgres(store, _) => store.unit(move |u| work(u)).await,
        }
    }
}

/// A time with microseconds in it, `minutes` after a fixed start.
fn at(minutes: i64) -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 3, 1, 12, 0, 0).unwrap()
        + Duration::minutes(minutes)
        + Duration::microseconds(123_456)
}

fn new(person: i64, kind: RequestKind, state: RequestState, minutes: i64) -> NewRequest {
    NewRequest {
        person_id: person,
        kind,
        channel: Channel::Discord,
        state,
        received_at: at(minutes),
        // Before the deadline, to the microsecond.
        deadline_offset_us: -86_400_000_123 + minutes,
        due_at: at(minutes) + Duration::days(30),
        language: Language::PtBr,
    }
}

fn filed_new(filed: Filed) -> db::requests::Request {
    match filed {
        Filed::New(request) => request,
        Filed::Already(open) => panic!("request #{} was open already", open.id),
    }
}

/// Filing, finding, moving and the audit trail answer alike on both engines.
async fn a_requests_life_reads_the_same_on_both_engines(engine: Engine) {
    let store = Db::open(engine).await;
    let person = store.person().await;
    let other = store.person().await;
    let (opt_out, deletion) = store
        .unit(move |s| {
            let opt_out = filed_new(s.file(&new(
                person,
                RequestKind::OptOut,
                RequestState::Confirmed,
                0,
            ))?);
            let deletion = filed_new(s.file(&new(
                person,
                RequestKind::Deletion,
                RequestState::AwaitingConfirmation,
                1,
            ))?);
            // Another person's open opt-out is theirs.
            filed_new(s.file(&new(other, RequestKind::OptOut, RequestState::Confirmed, 2))?);
            Ok((opt_out, deletion))
        })
        .await
        .unwrap();
    assert_eq!(
        opt_out.confirmed_at,
        Some(at(0)),
        "confirmed at its receipt"
    );
    assert_eq!(opt_out.closed_at, None);
    assert_eq!(deletion.confirmed_at, None);

    // Read back as filed, to the microsecond, in another unit.
    let read = store
        .unit(move |s| {
            Ok((
                s.request(opt_out.id)?.unwrap(),
                s.open_for_person(person)?,
                s.request(i64::MAX)?,
            ))
        })
        .await
        .unwrap();
    let (stored, open, missing) = read;
    assert_eq!(stored.received_at, at(0));
    assert_eq!(stored.due_at, at(0) + Duration::days(30));
    assert_eq!(stored.deadline_offset_us, -86_400_000_123);
    assert_eq!(stored.language, Language::PtBr);
    assert_eq!(stored.channel, Channel::Discord);
    assert_eq!(stored.state, RequestState::Confirmed);
    assert_eq!(stored.confirmed_at, Some(at(0)));
    assert_eq!(stored.updated_at, at(0));
    assert_eq!(
        open.iter().map(|r| r.id).collect::<Vec<_>>(),
        [opt_out.id, deletion.id],
        "the person's open requests, oldest first, not the other person's"
    );
    assert!(missing.is_none());

    // A second open opt-out is refused as the open one, even when the use-case did not look
    // first (on SQLite the unique index is the backstop; on PostgreSQL, the conflict).
    let again = store
        .unit(move |s| {
            s.file(&new(
                person,
                RequestKind::OptOut,
                RequestState::Confirmed,
                3,
            ))
        })
        .await
        .unwrap();
    let Filed::Already(open) = again else {
        panic!("a second open opt-out was recorded");
    };
    assert_eq!(open.id, opt_out.id);

    // Moves: from the state it is in, once; then closed, it no longer blocks a new one.
    store
        .unit(move |s| {
            s.set_state(
                deletion.id,
                RequestState::AwaitingConfirmation,
                RequestState::Confirmed,
                at(10),
            )?;
            s.set_state(
                opt_out.id,
                RequestState::Confirmed,
                RequestState::Completed,
                at(11),
            )
        })
        .await
        .unwrap();
    let stale = store
        .unit(move |s| {
            s.set_state(
                deletion.id,
                RequestState::AwaitingConfirmation,
                RequestState::Cancelled,
                at(12),
            )
        })
        .await
        .unwrap_err();
    let stale = stale
        .downcast_ref::<StaleState>()
        .expect("a stale move says so");
    assert_eq!(
        (stale.id, stale.expected),
        (deletion.id, RequestState::AwaitingConfirmation)
    );
    let (confirmed, completed, open_opt_out, refiled) = store
        .unit(move |s| {
            let confirmed = s.request(deletion.id)?.unwrap();
            let completed = s.request(opt_out.id)?.unwrap();
            let open_opt_out = s.open_of_kind(person, RequestKind::OptOut)?;
            let refiled = s.file(&new(
                person,
                RequestKind::OptOut,
                RequestState::Confirmed,
                13,
            ))?;
            Ok((confirmed, completed, open_opt_out, refiled))
        })
        .await
        .unwrap();
    assert_eq!(confirmed.state, RequestState::Confirmed);
    assert_eq!(confirmed.confirmed_at, Some(at(10)));
    assert_eq!(confirmed.updated_at, at(10));
    assert_eq!(completed.state, RequestState::Completed);
    assert_eq!(completed.closed_at, Some(at(11)));
    assert_eq!(completed.confirmed_at, Some(at(0)), "kept from its receipt");
    assert!(open_opt_out.is_none());
    assert!(filed_new(refiled).id > deletion.id);

    // A request filed closed (an opt-in that needs no work) is closed at its receipt.
    let closed = store
        .unit(move |s| {
            s.file(&new(
                person,
                RequestKind::OptIn,
                RequestState::Completed,
                20,
            ))
        })
        .await
        .map(filed_new)
        .unwrap();
    assert_eq!(closed.closed_at, Some(at(20)));
    assert_eq!(closed.updated_at, at(20));

    // The audit trail keeps every field, in order.
    let events = store
        .unit(move |s| {
            let first = Event {
                request_id: deletion.id,
                at: at(1),
                from_state: None,
                to_state: RequestState::AwaitingConfirmation,
                actor: "discord".into(),
                note: Some("received".into()),
                notice: None,
            };
            let second = Event {
                at: at(10),
                from_state: Some(RequestState::AwaitingConfirmation),
                to_state: RequestState::Confirmed,
                actor: "email".into(),
                note: None,
                ..first.clone()
            };
            let a = s.append_event(&first)?;
            let b = s.append_event(&second)?;
            assert!(b > a);
            Ok((vec![(a, first), (b, second)], s.events(deletion.id)?))
        })
        .await
        .unwrap();
    let (written, read) = events;
    assert_eq!(
        format!("{written:?}"),
        format!("{read:?}"),
        "the trail reads back as written"
    );
}
on_both_engines!(a_requests_life_reads_the_same_on_both_engines);

/// A unit of work that fails leaves nothing behind: not its request, not its event.
async fn a_failed_unit_of_work_records_nothing(engine: Engine) {
    let store = Db::open(engine).await;
    let person = store.person().await;
    let failed = store
        .unit(move |s| -> anyhow::Result<()> {
            let request = filed_new(s.file(&new(
                person,
                RequestKind::OptOut,
                RequestState::Confirmed,
                0,
            ))?);
            s.append_event(&Event {
                request_id: request.id,
                at: at(0),
                from_state: None,
                to_state: RequestState::Confirmed,
                actor: "console".into(),
                note: Some("received".into()),
                notice: None,
            })?;
            anyhow::bail!("the use-case refused after writing")
        })
        .await;
    assert!(failed.is_err());
    let left = store
        .unit(move |s| {
            Ok((
                s.open_for_person(person)?,
                s.open_of_kind(person, RequestKind::OptOut)?,
            ))
        })
        .await
        .unwrap();
    assert!(left.0.is_empty() && left.1.is_none(), "{left:?}");
}
on_both_engines!(a_failed_unit_of_work_records_nothing);

const RACERS: usize = 12;

/// PostgreSQL with two processes: a dozen units, half in each, look for the person's open
/// opt-out together (none yet), then all file one. One is recorded; every other unit is
/// answered with it. (SQLite's single writer runs units one at a time, so there the look
/// alone decides.)
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn units_in_two_processes_filing_one_choice_at_once_record_it_once() {
    let store = Db::open(Engine::Postgres).await;
    let second = store.another_process().await;
    let Db::Postgres(first, _) = &store else {
        unreachable!()
    };
    let person = store.person().await;
    let looked = Arc::new(Barrier::new(RACERS));
    let mut units = tokio::task::JoinSet::new();
    for i in 0..RACERS {
        let process = if i % 2 == 0 { first } else { &second }.clone();
        let looked = looked.clone();
        let attempts = AtomicU32::new(0);
        units.spawn(async move {
            process
                .unit(move |s| {
                    let open = s.open_of_kind(person, RequestKind::OptOut)?;
                    if attempts.fetch_add(1, Ordering::SeqCst) == 0 {
                        looked.wait();
                    }
                    match open {
                        Some(open) => Ok(Filed::Already(open)),
                        None => s.file(&new(
                            person,
                            RequestKind::OptOut,
                            RequestState::Confirmed,
                            i as i64,
                        )),
                    }
                })
                .await
        });
    }
    let (mut recorded, mut answered) = (Vec::new(), Vec::new());
    while let Some(done) = units.join_next().await {
        match done.unwrap().unwrap() {
            Filed::New(r) => recorded.push(r.id),
            Filed::Already(r) => answered.push(r.id),
        }
    }
    assert_eq!(recorded.len(), 1, "recorded {recorded:?}");
    assert_eq!(answered.len(), RACERS - 1);
    assert!(answered.iter().all(|id| *id == recorded[0]), "{answered:?}");
    let rows: i64 = sqlx::query_scalar("SELECT count(*) FROM requests WHERE person_id = $1")
        .bind(person)
        .fetch_one(&first.pool)
        .await
        .unwrap();
    assert_eq!(rows, 1);
}

/// PostgreSQL with two processes: a dozen units read the same confirmed request, then all
/// complete it with its audit event. One moves it; the others are refused as stale and their
/// events are not kept, so the trail holds one completion.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn units_in_two_processes_moving_one_request_at_once_move_it_once() {
    let store = Db::open(Engine::Postgres).await;
    let second = store.another_process().await;
    let Db::Postgres(first, _) = &store else {
        unreachable!()
    };
    let person = store.person().await;
    let request = store
        .unit(move |s| {
            s.file(&new(
                person,
                RequestKind::OptOut,
                RequestState::Confirmed,
                0,
            ))
        })
        .await
        .map(filed_new)
        .unwrap();
    let read = Arc::new(Barrier::new(RACERS));
    let mut units = tokio::task::JoinSet::new();
    for i in 0..RACERS {
        let process = if i % 2 == 0 { first } else { &second }.clone();
        let read = read.clone();
        let attempts = AtomicU32::new(0);
        units.spawn(async move {
            process
                .unit(move |s| {
                    let seen = s.request(request.id)?.unwrap();
                    if attempts.fetch_add(1, Ordering::SeqCst) == 0 {
                        read.wait();
                    }
                    s.append_event(&Event {
                        request_id: seen.id,
                        at: at(5),
                        from_state: Some(seen.state),
                        to_state: RequestState::Completed,
                        actor: format!("worker {i}"),
                        note: None,
                        notice: None,
                    })?;
                    s.set_state(seen.id, seen.state, RequestState::Completed, at(5))?;
                    Ok(i)
                })
                .await
        });
    }
    let (mut moved, mut stale) = (Vec::new(), 0);
    while let Some(done) = units.join_next().await {
        match done.unwrap() {
            Ok(i) => moved.push(i),
            Err(e) => {
                assert!(e.downcast_ref::<StaleState>().is_some(), "{e:#}");
                stale += 1;
            }
        }
    }
    assert_eq!(moved.len(), 1, "moved by {moved:?}");
    assert_eq!(stale, RACERS - 1);
    let trail = store.unit(move |s| s.events(request.id)).await.unwrap();
    assert_eq!(trail.len(), 1, "{trail:?}");
    assert_eq!(trail[0].1.actor, format!("worker {}", moved[0]));
}

/// Meeting people, the addresses they proved and the language they chose read alike on both
/// engines.
async fn people_are_met_once_and_answered_in_their_language(engine: Engine) {
    let store = Db::open(engine).await;
    let member = Actor::Discord(DiscordId(411_522_633_744_855_966));
    let address = EmailAddress::parse("ada@example.org").unwrap();
    let by_mail = Actor::Email(address.clone());
    let (first, again, other, known, unknown, emails, none_proven) = store
        .unit(move |s| {
            let first = s.resolve(&member, at(0))?;
            let again = s.resolve(&member, at(5))?;
            let other = s.resolve(&by_mail, at(6))?;
            let known = s.identity("discord", "411522633744855966")?;
            let unknown = s.identity("discord", "1")?;
            let emails = s.verified_emails(other.0)?;
            let none_proven = s.verified_emails(first.0)?;
            Ok((first, again, other, known, unknown, emails, none_proven))
        })
        .await
        .unwrap();
    assert!(first.1, "met for the first time");
    assert_eq!(again, (first.0, false), "the same person, met before");
    assert!(other.1 && other.0 != first.0);
    assert_eq!(
        known,
        Some(Known {
            person: first.0,
            verified_at: Some(at(0)),
            dm_closed: false,
        }),
        "the channel authenticated them when they were met"
    );
    assert_eq!(unknown, None);
    assert_eq!(emails, ["ada@example.org"]);
    assert!(none_proven.is_empty());

    // A chosen language is kept and answers the person's open requests, not their closed ones.
    let person = first.0;
    let (before, after, open, closed) = store
        .unit(move |s| {
            let open = filed_new(s.file(&new(
                person,
                RequestKind::OptOut,
                RequestState::Confirmed,
                1,
            ))?);
            let closed =
                filed_new(s.file(&new(person, RequestKind::OptIn, RequestState::Completed, 2))?);
            let before = s.chosen_language(person)?;
            s.choose_language(person, Language::De)?;
            let after = s.chosen_language(person)?;
            Ok((
                before,
                after,
                s.request(open.id)?.unwrap(),
                s.request(closed.id)?.unwrap(),
            ))
        })
        .await
        .unwrap();
    assert_eq!((before, after), (None, Some(Language::De)));
    assert_eq!(open.language, Language::De);
    assert_eq!(
        closed.language,
        Language::PtBr,
        "a closed request keeps its own"
    );
    let all = store.unit(move |s| s.for_person(person)).await.unwrap();
    assert_eq!(
        all.iter().map(|r| r.id).collect::<Vec<_>>(),
        [open.id, closed.id]
    );
}
on_both_engines!(people_are_met_once_and_answered_in_their_language);

/// PostgreSQL with two processes: a dozen units meet one new member at once (each looked and
/// found no one). One person is made, with one data key; every unit acts for them.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn units_in_two_processes_meeting_one_member_at_once_make_one_person() {
    let store = Db::open(Engine::Postgres).await;
    let second = store.another_process().await;
    let Db::Postgres(first, _) = &store else {
        unreachable!()
    };
    let looked = Arc::new(Barrier::new(RACERS));
    let mut units = tokio::task::JoinSet::new();
    for i in 0..RACERS {
        let process = if i % 2 == 0 { first } else { &second }.clone();
        let looked = looked.clone();
        let attempts = AtomicU32::new(0);
        units.spawn(async move {
            process
                .unit(move |s| {
                    let seen = s.identity("discord", "77")?;
                    if attempts.fetch_add(1, Ordering::SeqCst) == 0 {
                        looked.wait();
                    }
                    assert!(seen.is_none() || attempts.load(Ordering::SeqCst) > 1);
                    s.resolve(&Actor::Discord(DiscordId(77)), at(i as i64))
                })
                .await
        });
    }
    let mut met = Vec::new();
    while let Some(done) = units.join_next().await {
        met.push(done.unwrap().unwrap());
    }
    let person = met[0].0;
    assert!(met.iter().all(|(p, _)| *p == person), "{met:?}");
    assert_eq!(met.iter().filter(|(_, fresh)| *fresh).count(), 1, "{met:?}");
    for table in ["people", "person_keys", "identities"] {
        let rows: i64 = sqlx::query_scalar(&format!("SELECT count(*) FROM {table}"))
            .fetch_one(&first.pool)
            .await
            .unwrap();
        assert_eq!(rows, 1, "{table}");
    }
}

/// Limit events count alike on both engines: by scope and key, after the instant given, and
/// those older than two days are let go as new ones are recorded.
async fn limit_events_count_by_scope_key_and_time(engine: Engine) {
    let store = Db::open(engine).await;
    let counts = store
        .unit(move |s| {
            s.record("requests", "k1", at(0))?;
            s.record("requests", "k1", at(10))?;
            s.record("requests", "k2", at(10))?;
            s.record("codes", "k1", at(10))?;
            let early = (
                s.count_since("requests", "k1", at(-1))?,
                s.count_since("requests", "k1", at(0))?,
                s.count_since("requests", "k2", at(-1))?,
                s.count_since("codes", "k1", at(-1))?,
            );
            // Three days on: the old events of k1 go, the other keys' stay.
            s.record("requests", "k1", at(3 * 24 * 60))?;
            let late = (
                s.count_since("requests", "k1", at(-1))?,
                s.count_since("requests", "k2", at(-1))?,
            );
            Ok((early, late))
        })
        .await
        .unwrap();
    assert_eq!(counts, ((2, 1, 1, 1), (1, 1)));
}
on_both_engines!(limit_events_count_by_scope_key_and_time);

/// PostgreSQL with two processes: a dozen units take one of five places under one key at
/// once, each pausing between its count and its record as a slow use-case would. Five get
/// one; the count and the record are one step.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn units_in_two_processes_taking_a_limit_at_once_let_through_only_its_number() {
    let store = Db::open(Engine::Postgres).await;
    let second = store.another_process().await;
    let Db::Postgres(first, _) = &store else {
        unreachable!()
    };
    let mut units = tokio::task::JoinSet::new();
    for i in 0..RACERS {
        let process = if i % 2 == 0 { first } else { &second }.clone();
        units.spawn(async move {
            process
                .unit(move |s| {
                    let n = s.count_since("requests", "one member", at(-60))?;
                    std::thread::sleep(std::time::Duration::from_millis(40));
                    if n >= 5 {
                        return Ok(false);
                    }
                    s.record("requests", "one member", at(i as i64))?;
                    Ok(true)
                })
                .await
        });
    }
    let mut let_through = 0;
    while let Some(done) = units.join_next().await {
        let_through += usize::from(done.unwrap().unwrap());
    }
    assert_eq!(let_through, 5);
    let kept: i64 = sqlx::query_scalar("SELECT count(*) FROM limit_events")
        .fetch_one(&first.pool)
        .await
        .unwrap();
    assert_eq!(kept, 5);
}

/// `bench seam` runs the seam's units on both engines, the PostgreSQL ones in a database of
/// its own that it drops afterwards, and prints each engine's figures beside its baseline.
#[tokio::test]
async fn bench_seam_measures_both_engines_and_leaves_no_database_behind() {
    let server = crate::common::postgres::server_url();
    let databases = || async {
        let mut admin = <sqlx::PgConnection as sqlx::Connection>::connect(&server)
            .await
            .unwrap();
        let names: Vec<String> =
            sqlx::query_scalar("SELECT datname FROM pg_database WHERE datname LIKE 'dsr_bench_%'")
                .fetch_all(&mut admin)
                .await
                .unwrap();
        names
    };
    let before = databases().await;
    let dir = tempfile::tempdir().unwrap();
    let out = crate::common::run_bin(
        dir.path(),
        &[
            "bench",
            "seam",
            "--units",
            "60",
            "--concurrency",
            "6",
            "--database-url",
            &server,
        ],
        &[],
    );
    let text = crate::common::printed(&out);
    assert!(out.status.success(), "{text}");
    assert!(
        text.contains("(meet, limit, file, event, leaf, standing)"),
        "{text}"
    );
    for engine in ["sqlite (SQLCipher, synchronous=full): ", "postgres: "] {
        let line = text
            .lines()
            .find(|l| l.starts_with(engine))
            .unwrap_or_else(|| panic!("no {engine} line in {text}"));
        let units: f64 = line[engine.len()..]
            .split(' ')
            .next()
            .unwrap()
            .parse()
            .unwrap();
        assert!(units > 0.0, "{line}");
        assert!(line.contains("single-row INSERT baseline"), "{line}");
    }
    assert_eq!(
        databases().await,
        before,
        "the bench's database was dropped"
    );
}

/// A request of `person` to prove an address for, and a code for it to `email`.
fn code<'a>(person: i64, request: i64, email: &'a str, minutes: i64) -> NewCode<'a> {
    NewCode {
        person,
        request,
        email,
        code_hash: "0badc0de",
        now: at(minutes),
        expires_at: at(minutes + 15),
    }
}

/// Email proofs read alike on both engines: the newest code of a request and of a person,
/// guesses counted, codes used by a reply or refused by the address's owner.
async fn email_proofs_read_the_same_on_both_engines(engine: Engine) {
    let store = Db::open(engine).await;
    let seen = store
        .unit(move |s| {
            let (person, _) = s.resolve(&Actor::Discord(DiscordId(5)), at(0))?;
            let filed = |kind| {
                s.file(&new(person, kind, RequestState::Confirmed, 0))
                    .map(filed_new)
            };
            let (first, second) = (filed(RequestKind::OptOut)?, filed(RequestKind::OptIn)?);
            let one = s.add_code(&code(person, first.id, "ada@example.org", 1))?;
            let read = s.latest_code_for_request(first.id)?.unwrap();
            s.count_attempt(one)?;
            let two = s.add_code(&code(person, first.id, "ada@example.org", 2))?;
            let pending = s.pending_code_of(person)?.unwrap();
            let newest = s.latest_code_for_request(first.id)?.unwrap();
            let refused = s.refuse(first.id, "ada@example.org", at(3))?;
            let again = s.refuse(first.id, "ada@example.org", at(3))?;
            let none_pending = s.pending_code_of(person)?;
            // A reply from the address uses the other request's code; mark_verified uses one.
            s.add_code(&code(person, second.id, "bob@example.org", 4))?;
            let pending_bob = s.pending_code_of(person)?.unwrap();
            s.mark_verified_by_reply(second.id, "someone@example.org", at(5))?;
            let still = s.latest_code_for_request(second.id)?;
            s.mark_verified_by_reply(second.id, "bob@example.org", at(5))?;
            let used = s.latest_code_for_request(second.id)?;
            let three = s.add_code(&code(person, second.id, "bob@example.org", 6))?;
            s.mark_verified(three, at(7))?;
            let used_too = s.latest_code_for_request(second.id)?;
            Ok((
                (one, two, read, pending, newest),
                (refused, again, none_pending),
                (pending_bob, still, used, used_too),
            ))
        })
        .await
        .unwrap();
    let ((one, two, read, pending, newest), (refused, again, none_pending), bob) = seen;
    assert_eq!((read.id, read.email.as_str()), (one, "ada@example.org"));
    assert_eq!((read.attempts, read.expires_at), (0, at(16)));
    assert_eq!(read.code_hash, "0badc0de");
    assert_eq!((pending.id, newest.id), (two, two), "the newest code");
    assert_eq!(newest.verified_at, None);
    assert!(refused && !again, "refused once");
    assert!(none_pending.is_none(), "refused codes no longer wait");
    let (pending_bob, still, used, used_too) = bob;
    assert_eq!(pending_bob.email, "bob@example.org");
    assert!(still.is_some(), "another address's reply uses nothing");
    assert!(used.is_none(), "the address's reply used its code");
    assert!(used_too.is_none());

    // The first code's guess was counted, and it is no longer waiting once its request closed.
    let (counted, closed) = store
        .unit(move |s| {
            let counted = s.latest_code_for_request(read.request_id)?;
            s.set_state(
                pending_bob.request_id,
                RequestState::Confirmed,
                RequestState::Completed,
                at(8),
            )?;
            s.add_code(&code(
                pending_bob.person_id,
                pending_bob.request_id,
                "c@example.org",
                9,
            ))?;
            Ok((counted, s.pending_code_of(pending_bob.person_id)?))
        })
        .await
        .unwrap();
    assert_eq!(counted.map(|v| v.id), Some(two));
    assert!(closed.is_none(), "{closed:?}");
    if let Db::Postgres(pg, _) = &store {
        let clear: i64 = sqlx::query_scalar(
            "SELECT count(*) FROM email_verifications
              WHERE position(convert_to('example.org', 'UTF8') IN email_sealed) > 0",
        )
        .fetch_one(&pg.pool)
        .await
        .unwrap();
        assert_eq!(clear, 0, "addresses are sealed");
    }
}
on_both_engines!(email_proofs_read_the_same_on_both_engines);

/// PostgreSQL with two processes: a dozen wrong guesses at one code at once, each pausing
/// between reading the code and counting its guess. Five are counted, as the code allows;
/// the rest find it used up.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn guesses_in_two_processes_at_one_code_at_once_are_all_counted() {
    let store = Db::open(Engine::Postgres).await;
    let second = store.another_process().await;
    let Db::Postgres(first, _) = &store else {
        unreachable!()
    };
    let (person, id) = store
        .unit(|s| {
            let (person, _) = s.resolve(&Actor::Discord(DiscordId(6)), at(0))?;
            let request = filed_new(s.file(&new(
                person,
                RequestKind::OptOut,
                RequestState::Confirmed,
                0,
            ))?);
            Ok((
                person,
                s.add_code(&code(person, request.id, "ada@example.org", 1))?,
            ))
        })
        .await
        .unwrap();
    let mut units = tokio::task::JoinSet::new();
    for i in 0..RACERS {
        let process = if i % 2 == 0 { first } else { &second }.clone();
        units.spawn(async move {
            process
                .unit(move |s| {
                    let v = s.pending_code_of(person)?.unwrap();
                    std::thread::sleep(std::time::Duration::from_millis(40));
                    if v.attempts >= 5 {
                        return Ok(false);
                    }
                    s.count_attempt(v.id)?;
                    Ok(true)
                })
                .await
        });
    }
    let mut counted = 0;
    while let Some(done) = units.join_next().await {
        counted += usize::from(done.unwrap().unwrap());
    }
    assert_eq!(counted, 5);
    let attempts: i64 =
        sqlx::query_scalar("SELECT attempts FROM email_verifications WHERE id = $1")
            .bind(id)
            .fetch_one(&first.pool)
            .await
            .unwrap();
    assert_eq!(attempts, 5);
}

/// Notices are told once, oldest first, and only to their person, on both engines.
async fn notices_are_told_once_in_order(engine: Engine) {
    let store = Db::open(engine).await;
    let told = store
        .unit(|s| {
            let (ada, _) = s.resolve(&Actor::Discord(DiscordId(8)), at(0))?;
            let (bob, _) = s.resolve(&Actor::Discord(DiscordId(9)), at(0))?;
            s.add_notice(ada, "your address moved", at(1))?;
            s.add_notice(bob, "a link was refused", at(1))?;
            s.add_notice(ada, "à bientôt", at(2))?;
            Ok((
                s.take_notices(ada)?,
                s.take_notices(ada)?,
                s.take_notices(bob)?,
            ))
        })
        .await
        .unwrap();
    assert_eq!(
        told,
        (
            vec!["your address moved".to_owned(), "à bientôt".to_owned()],
            vec![],
            vec!["a link was refused".to_owned()]
        )
    );
}
on_both_engines!(notices_are_told_once_in_order);

/// PostgreSQL with two processes: a dozen units take one person's notices at once (each
/// pausing after taking, before committing). One tells them; the others find none.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn units_in_two_processes_taking_notices_at_once_tell_them_once() {
    let store = Db::open(Engine::Postgres).await;
    let second = store.another_process().await;
    let Db::Postgres(first, _) = &store else {
        unreachable!()
    };
    let person = store
        .unit(|s| {
            let (person, _) = s.resolve(&Actor::Discord(DiscordId(10)), at(0))?;
            s.add_notice(person, "one", at(1))?;
            s.add_notice(person, "two", at(2))?;
            Ok(person)
        })
        .await
        .unwrap();
    let mut units = tokio::task::JoinSet::new();
    for i in 0..RACERS {
        let process = if i % 2 == 0 { first } else { &second }.clone();
        units.spawn(async move {
            process
                .unit(move |s| {
                    let told = s.take_notices(person)?;
                    std::thread::sleep(std::time::Duration::from_millis(40));
                    Ok(told)
                })
                .await
        });
    }
    let mut told = Vec::new();
    while let Some(done) = units.join_next().await {
        told.extend(done.unwrap().unwrap());
    }
    assert_eq!(told, ["one", "two"]);
}

/// What the schedule does once is claimed once on both engines: each mark of a month or week
/// by the first unit, the others told it went; each announcement once; a day's size replaced.
/// Settings keep the first value inserted unless set outright.
async fn the_schedule_claims_each_mark_once_and_settings_keep_the_first_value(engine: Engine) {
    let store = Db::open(engine).await;
    let claims = store
        .unit(|s| {
            let before = s.month_state("2026-02")?;
            let first = [
                s.claim(Mark::ReportMailed, "2026-02", at(0))?,
                s.claim(Mark::ReportMailed, "2026-02", at(1))?,
                s.claim(Mark::ReportPosted, "2026-02", at(1))?,
                s.claim(Mark::ReportMailed, "2026-03", at(1))?,
                s.claim(Mark::DigestMailed, "2026-W09", at(1))?,
                s.claim(Mark::DigestMailed, "2026-W09", at(2))?,
                s.claim(Mark::DigestPosted, "2026-W09", at(2))?,
                s.claim_announcement(7, at(2))?,
                s.claim_announcement(7, at(3))?,
                s.claim_announcement(1, at(3))?,
            ];
            let after = s.month_state("2026-02")?;
            s.record_size(at(0).date_naive(), 120, "setting")?;
            s.record_size(at(0).date_naive(), 140, "discord")?;
            let settings = [
                s.setting("reports_since")?,
                Some(s.setting_or_insert("reports_since", "2026-01")?),
                Some(s.setting_or_insert("reports_since", "2026-02")?),
                {
                    s.set_setting("reports_since", "2025-12")?;
                    s.setting("reports_since")?
                },
                {
                    s.delete_setting("reports_since")?;
                    s.setting("reports_since")?
                },
            ];
            Ok((before, first, after, settings))
        })
        .await
        .unwrap();
    let (before, first, after, settings) = claims;
    assert!(!before.written && !before.mailed && !before.posted);
    assert_eq!(
        first,
        [
            true, false, true, true, true, false, true, true, false, true
        ]
    );
    assert!(!after.written && after.mailed && after.posted, "{after:?}");
    assert_eq!(
        settings,
        [
            None,
            Some("2026-01".into()),
            Some("2026-01".into()),
            Some("2025-12".into()),
            None
        ]
    );
    let sizes = store
        .texts("SELECT day || ' ' || size || ' ' || source FROM community_sizes")
        .await;
    assert_eq!(sizes, ["2026-03-01 140 discord"]);
}
on_both_engines!(the_schedule_claims_each_mark_once_and_settings_keep_the_first_value);

/// PostgreSQL with two processes: a dozen units claim one month's report mail and insert a
/// setting of their own at once (each pausing before it commits). One claims the mail; all
/// read back one and the same setting.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn units_in_two_processes_claiming_one_report_at_once_claim_it_once() {
    let store = Db::open(Engine::Postgres).await;
    let second = store.another_process().await;
    let Db::Postgres(first, _) = &store else {
        unreachable!()
    };
    let mut units = tokio::task::JoinSet::new();
    for i in 0..RACERS {
        let process = if i % 2 == 0 { first } else { &second }.clone();
        units.spawn(async move {
            process
                .unit(move |s| {
                    let claimed = s.claim(Mark::ReportMailed, "2026-02", at(i as i64))?;
                    let since = s.setting_or_insert("reports_since", &format!("unit {i}"))?;
                    std::thread::sleep(std::time::Duration::from_millis(40));
                    Ok((claimed, since))
                })
                .await
        });
    }
    let (mut claimed, mut seen) = (0, std::collections::BTreeSet::new());
    while let Some(done) = units.join_next().await {
        let (c, since) = done.unwrap().unwrap();
        claimed += usize::from(c);
        seen.insert(since);
    }
    assert_eq!(claimed, 1);
    assert_eq!(seen.len(), 1, "{seen:?}");
}

fn token<'a>(token: &'a str, request: i64, email: &'a str) -> NewToken<'a> {
    NewToken {
        token,
        request,
        lists: request % 2 == 0,
        email,
        now: at(0),
        expires_at: at(60),
    }
}

/// Reply tokens read the same on both engines: found by the token or by the Message-ID of
/// the mail that carried it, and forgotten on erasure both by the person's requests and by the
/// addresses erased, whichever request the token's mail was about.
async fn reply_tokens_point_at_their_request_until_erased(engine: Engine) {
    let store = Db::open(engine).await;
    let (ada, bob) = (store.person().await, store.person().await);
    let requests = store
        .unit(move |s| {
            let a =
                filed_new(s.file(&new(ada, RequestKind::OptOut, RequestState::Confirmed, 0))?);
            let b =
                filed_new(s.file(&new(bob, RequestKind::OptOut, RequestState::Confirmed, 0))?);
            s.add_reply_token(&token("tok-ada", a.id, "ada@example.org"))?;
            // A mail about Bob's request went to an address Ada has since proven.
            s.add_reply_token(&token("tok-bob-to-ada", b.id, "ada.work@example.org"))?;
            s.add_reply_token(&token("tok-bob", b.id, "bob@example.org"))?;
            Ok((a.id, b.id))
        })
        .await
        .unwrap();
    store
        .unit(|s| {
            let mut m = mail("<m1@dsr-bot>", None, "status", "ada@example.org");
            m.reply_token = Some("tok-bob");
            s.queue_mail(&m, at(0))
        })
        .await
        .unwrap();
    let found = store
        .unit(|s| {
            Ok((
                s.reply_token("tok-ada")?,
                s.reply_token("no such token")?,
                s.reply_token_of_mail("<m1@dsr-bot>")?,
                s.reply_token_of_mail("<elsewhere@example.org>")?,
            ))
        })
        .await
        .unwrap();
    let (mine, unknown, by_mail, not_ours) = found;
    let mine = mine.expect("a kept token is found");
    assert_eq!(
        (
            mine.request_id,
            mine.email.as_str(),
            mine.lists,
            mine.expires_at
        ),
        (requests.0, "ada@example.org", requests.0 % 2 == 0, at(60))
    );
    assert!(unknown.is_none() && not_ours.is_none());
    let by_mail = by_mail.expect("the cited mail's token");
    assert_eq!(
        (by_mail.request_id, by_mail.email.as_str()),
        (requests.1, "bob@example.org")
    );
    assert!(!format!("{mine:?}").contains("ada@"), "{mine:?}");

    // Ada is erased, with both her addresses.
    let left = store
        .unit(move |s| {
            let emails = [
                "ada@example.org".to_owned(),
                "ada.work@example.org".to_owned(),
            ];
            s.forget_reply_tokens(ada, &emails)?;
            Ok([
                s.reply_token("tok-ada")?.is_some(),
                s.reply_token("tok-bob-to-ada")?.is_some(),
                s.reply_token("tok-bob")?.is_some(),
            ])
        })
        .await
        .unwrap();
    assert_eq!(left, [false, false, true]);
    if let Db::Postgres(pg, _) = &store {
        let keys: i64 =
            sqlx::query_scalar("SELECT count(*) FROM row_keys WHERE owner LIKE 'reply_tokens:%'")
                .fetch_one(&pg.pool)
                .await
                .unwrap();
        assert_eq!(keys, 1, "the forgotten tokens' keys go with them");
        let clear: i64 = sqlx::query_scalar(
            "SELECT count(*) FROM reply_tokens
              WHERE position(convert_to('bob@', 'UTF8') in email_sealed) > 0",
        )
        .fetch_one(&pg.pool)
        .await
        .unwrap();
        assert_eq!(clear, 0, "addresses are sealed");
    }
}
on_both_engines!(reply_tokens_point_at_their_request_until_erased);

/// A mail about no request, with texts of its own (`<id>` in each).
fn mail<'a>(
    message_id: &'a str,
    request: Option<(i64, i64)>,
    template: &'a str,
    to: &'a str,
) -> NewMail<'a> {
    let texts: &'static (String, String, String) = Box::leak(Box::new((
        format!("subject of {message_id}"),
        format!("text of {message_id} to {to}"),
        format!("<p>html of {message_id}</p>"),
    )));
    NewMail {
        message_id,
        person_id: request.map(|r| r.0),
        request_id: request.map(|r| r.1),
        template,
        recipient: to,
        subject: &texts.0,
        body_text: &texts.1,
        body_html: &texts.2,
        scrub_after_send: false,
        reply_token: None,
        in_reply_to: None,
        thread_root: None,
        attachment: None,
    }
}

/// Mail queued in units reads back alike on both engines: the thread a later mail about the
/// same request to the same address joins, the texts a reply from that address may quote, the
/// addresses a request waits on (a code counts only at an address its person proved), and
/// what the mail worker claims, reply token, In-Reply-To and attachment included.
async fn queued_mail_threads_quotes_and_waits_alike(engine: Engine) {
    let store = Db::open(engine).await;
    let ada = Actor::Email(EmailAddress::parse("ada@example.org").unwrap());
    let (person, request, other) = store
        .unit(move |s| {
            let (person, _) = s.resolve(&ada, at(0))?;
            let r = filed_new(s.file(&new(
                person,
                RequestKind::OptOut,
                RequestState::AwaitingConfirmation,
                0,
            ))?);
            let o = filed_new(s.file(&new(
                person,
                RequestKind::Deletion,
                RequestState::AwaitingConfirmation,
                1,
            ))?);
            let about = Some((person, r.id));
            s.queue_mail(
                &mail(
                    "<m1@dsr-bot>",
                    about,
                    "confirmation_code",
                    "ada@example.org",
                ),
                at(1),
            )?;
            // A code sent to an address no one proved: the request does not wait on it.
            s.queue_mail(
                &mail(
                    "<m2@dsr-bot>",
                    about,
                    "confirmation_code",
                    "eve@example.org",
                ),
                at(2),
            )?;
            s.queue_mail(
                &mail(
                    "<m3@dsr-bot>",
                    about,
                    "confirm_by_reply",
                    "sender@example.org",
                ),
                at(3),
            )?;
            let mut answer = mail("<m4@dsr-bot>", about, "reply", "ada@example.org");
            answer.reply_token = Some("tok-4");
            answer.in_reply_to = Some("<theirs@example.org>");
            answer.thread_root = Some("<m1@dsr-bot>");
            s.queue_mail(&answer, at(4))?;
            let mut report = mail(
                "<m5@dsr-bot>",
                None,
                "monthly_report",
                "officer@example.org",
            );
            report.attachment = Some(("report-2026-02.csv", "month,opt_outs\n2026-02,3\n"));
            s.queue_mail(&report, at(5))?;
            Ok((person, r.id, o.id))
        })
        .await
        .unwrap();
    let read = store
        .unit(move |s| {
            Ok((
                s.thread_root(request, "ada@example.org")?,
                s.thread_root(request, "nobody@example.org")?,
                s.thread_root(other, "ada@example.org")?,
                s.texts_about(request, "ada@example.org")?,
                s.texts_about(request, "eve@example.org")?,
                s.waiting_addresses(request, person)?,
                s.waiting_addresses(other, person)?,
            ))
        })
        .await
        .unwrap();
    let (root, no_root, other_root, ada_texts, eve_texts, waiting, none_waiting) = read;
    assert_eq!(root.as_deref(), Some("<m1@dsr-bot>"));
    assert_eq!((no_root, other_root), (None, None));
    let texts = |id: &str, to: &str| {
        (
            format!("subject of {id}"),
            format!("text of {id} to {to}"),
            format!("<p>html of {id}</p>"),
        )
    };
    assert_eq!(
        ada_texts,
        [
            texts("<m1@dsr-bot>", "ada@example.org"),
            texts("<m4@dsr-bot>", "ada@example.org")
        ]
    );
    assert_eq!(eve_texts, [texts("<m2@dsr-bot>", "eve@example.org")]);
    assert_eq!(waiting, ["ada@example.org", "sender@example.org"]);
    assert!(none_waiting.is_empty());

    let claimed = store.claim_all().await;
    let own = |s: &str| Some(s.to_owned());
    assert_eq!(
        claimed,
        [
            (
                "<m1@dsr-bot>".into(),
                "ada@example.org".into(),
                None,
                None,
                None,
                None
            ),
            (
                "<m2@dsr-bot>".into(),
                "eve@example.org".into(),
                None,
                None,
                None,
                None
            ),
            (
                "<m3@dsr-bot>".into(),
                "sender@example.org".into(),
                None,
                None,
                None,
                None
            ),
            (
                "<m4@dsr-bot>".into(),
                "ada@example.org".into(),
                own("tok-4"),
                own("<theirs@example.org>"),
                own("<m1@dsr-bot>"),
                None
            ),
            (
                "<m5@dsr-bot>".into(),
                "officer@example.org".into(),
                None,
                None,
                None,
                Some((
                    "report-2026-02.csv".into(),
                    "month,opt_outs\n2026-02,3\n".into()
                ))
            ),
        ]
    );
    if let Db::Postgres(pg, _) = &store {
        // Addresses, texts, the cited Message-ID and the attachment are sealed.
        let clear: i64 = sqlx::query_scalar(
            "SELECT count(*) FROM outbox
              WHERE position(convert_to('example.org', 'UTF8') in
                        recipient_sealed || subject_sealed || body_text_sealed || body_html_sealed
                        || coalesce(in_reply_to_sealed, ''::bytea)
                        || coalesce(attachment_body_sealed, ''::bytea)) > 0
                 OR position(convert_to('opt_outs', 'UTF8') in coalesce(attachment_body_sealed, ''::bytea)) > 0",
        )
        .fetch_one(&pg.pool)
        .await
        .unwrap();
        assert_eq!(clear, 0, "nothing that names anyone is in clear");
        let own_keys: Vec<String> =
            sqlx::query_scalar("SELECT owner FROM row_keys WHERE owner LIKE 'outbox:%'")
                .fetch_all(&pg.pool)
                .await
                .unwrap();
        assert_eq!(
            own_keys,
            ["outbox:<m5@dsr-bot>"],
            "only mail about no one has a key of its own"
        );
    }
}
on_both_engines!(queued_mail_threads_quotes_and_waits_alike);

/// On PostgreSQL, a mail about a person already erased (the confirmation of the erasure) has
/// no person's key to go under: it goes under a key of its own and loses its text once sent.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_mail_about_a_person_already_erased_goes_under_its_own_key_and_is_scrubbed_once_sent() {
    let store = Db::open(Engine::Postgres).await;
    let person = store.person().await;
    let Db::Postgres(pg, _) = &store else {
        unreachable!()
    };
    sqlx::query("DELETE FROM person_keys WHERE person_id = $1")
        .bind(person)
        .execute(&pg.pool)
        .await
        .unwrap();
    store
        .unit(move |s| {
            let m = mail("<gone@dsr-bot>", None, "erasure_done", "ada@example.org");
            let m = NewMail {
                person_id: Some(person),
                ..m
            };
            s.queue_mail(&m, at(0))
        })
        .await
        .unwrap();
    let claimed = postgres::outbox::claim(
        &pg.pool,
        &pg.wrapping,
        "t",
        std::time::Duration::from_secs(60),
        10,
    )
    .await
    .unwrap();
    assert_eq!(claimed.len(), 1, "the mail still goes");
    assert_eq!(claimed[0].recipient, "ada@example.org");
    assert!(
        postgres::outbox::mark_sent(&pg.pool, claimed[0].id, &claimed[0].claim)
            .await
            .unwrap()
    );
    let (scrubbed, keys): (bool, i64) = sqlx::query_as(
        "SELECT o.recipient_sealed = ''::bytea AND o.body_text_sealed = ''::bytea AND o.scrub_after_send,
                (SELECT count(*) FROM row_keys WHERE owner = 'outbox:' || o.message_id)
           FROM outbox o",
    )
    .fetch_one(&pg.pool)
    .await
    .unwrap();
    assert!(scrubbed, "its address and text are gone once sent");
    assert_eq!(keys, 0, "and its own key with them");
}

/// The rest of a request's life reads alike on both engines: the person's yes, one extension
/// with its reason, reminders, what is due soon, what has waited too long, officers' notes,
/// and whether a person was erased.
async fn a_requests_later_life_reads_the_same_on_both_engines(engine: Engine) {
    let store = Db::open(engine).await;
    let person = store.person().await;
    let (waiting, deletion, chosen, late) = store
        .unit(move |s| {
            let file =
                |kind, state, minutes| s.file(&new(person, kind, state, minutes)).map(filed_new);
            let waiting = file(RequestKind::OptOut, RequestState::AwaitingConfirmation, 0)?;
            let deletion = file(RequestKind::Deletion, RequestState::Confirmed, 1)?;
            let chosen = file(RequestKind::OptIn, RequestState::Confirmed, 2)?;
            // Another person's request, waiting since later.
            let other = s.new_person(at(3))?;
            let late = filed_new(s.file(&new(
                other,
                RequestKind::OptOut,
                RequestState::AwaitingConfirmation,
                90,
            ))?);
            Ok((waiting.id, deletion.id, chosen.id, late.id))
        })
        .await
        .unwrap();
    let first = store
        .unit(move |s| {
            s.set_person_confirmed(chosen, at(4))?;
            s.extend(
                deletion,
                at(60 * 24 * 45),
                at(5),
                "waiting on the backup team, call +44 20 7946 0000",
            )?;
            let again = s.extend(deletion, at(60 * 24 * 60), at(6), "again");
            s.add_note(
                deletion,
                "officer on discord",
                "spoke to them at eve@example.org",
                at(7),
            )?;
            s.add_note(deletion, "operator", "second note", at(8))?;
            Ok((
                s.request(chosen)?.unwrap().person_confirmed_at,
                s.request(deletion)?.unwrap(),
                again.map_err(|e| e.to_string()),
                s.note_count(deletion)?,
                s.note_count(chosen)?,
            ))
        })
        .await
        .unwrap();
    let (confirmed_at, extended, again, notes, no_notes) = first;
    assert_eq!(confirmed_at, Some(at(4)));
    assert_eq!(
        (
            extended.due_at,
            extended.original_due_at,
            extended.extended_at
        ),
        (
            at(60 * 24 * 45),
            Some(at(1) + Duration::days(30)),
            Some(at(5))
        )
    );
    assert_eq!(
        again,
        Err(format!("request #{deletion} was extended before"))
    );
    assert_eq!((notes, no_notes), (2, 0));

    let reminders = store
        .unit(move |s| {
            let before = s.awaiting_unreminded(at(60))?;
            let once = s.mark_reminded(waiting, at(61))? && !s.mark_reminded(waiting, at(62))?;
            anyhow::ensure!(once, "a request is marked reminded once");
            let after = s.awaiting_unreminded(at(120))?;
            let due = s.unanswered_due_by(at(60 * 24 * 31))?;
            let stale = s.awaiting_since_before(at(90))?;
            let erased = s.is_erased(person)?;
            Ok((before, after, due, stale, erased, s.is_erased(999_999)?))
        })
        .await
        .unwrap();
    let ids = |rs: &[db::requests::Request]| rs.iter().map(|r| r.id).collect::<Vec<_>>();
    let (before, after, due, stale, erased, unknown) = reminders;
    assert_eq!(ids(&before), [waiting], "only what waits, received by then");
    assert_eq!(
        ids(&after),
        [late],
        "a reminded request is not reminded again"
    );
    assert_eq!(
        due,
        [
            (waiting, at(30 * 24 * 60)),
            (late, at(90) + Duration::days(30))
        ],
        "what waits for the person, soonest first; the extended deletion is due later and a \
         confirmed opt-in is answered"
    );
    assert_eq!(ids(&stale), [waiting], "received before the cutoff");
    assert_eq!((erased, unknown), (false, false));
    store
        .exec(&format!(
            "UPDATE people SET erased_at = created_at WHERE id = {person}"
        ))
        .await;
    assert!(store.unit(move |s| s.is_erased(person)).await.unwrap());
    if let Db::Postgres(pg, _) = &store {
        let clear: i64 = sqlx::query_scalar(
            "SELECT (SELECT count(*) FROM requests
                      WHERE position(convert_to('7946', 'UTF8') in extension_reason_sealed) > 0)
                  + (SELECT count(*) FROM request_notes
                      WHERE position(convert_to('eve@', 'UTF8') in text_sealed) > 0)",
        )
        .fetch_one(&pg.pool)
        .await
        .unwrap();
        assert_eq!(clear, 0, "a reason and a note may name someone: sealed");
    }
}
on_both_engines!(a_requests_later_life_reads_the_same_on_both_engines);

/// PostgreSQL with two processes: a dozen units extend one request at once, each having read
/// it unextended. One extends it; the others fail and change nothing.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn units_in_two_processes_extending_one_request_at_once_extend_it_once() {
    let store = Db::open(Engine::Postgres).await;
    let second = store.another_process().await;
    let Db::Postgres(first, _) = &store else {
        unreachable!()
    };
    let person = store.person().await;
    let request = store
        .unit(move |s| {
            s.file(&new(
                person,
                RequestKind::Deletion,
                RequestState::Confirmed,
                0,
            ))
        })
        .await
        .map(filed_new)
        .unwrap();
    let read = Arc::new(Barrier::new(RACERS));
    let mut units = tokio::task::JoinSet::new();
    for i in 0..RACERS {
        let process = if i % 2 == 0 { first } else { &second }.clone();
        let read = read.clone();
        let attempts = AtomicU32::new(0);
        units.spawn(async move {
            process
                .unit(move |s| {
                    let seen = s.request(request.id)?.unwrap();
                    assert_eq!(seen.extended_at, None);
                    if attempts.fetch_add(1, Ordering::SeqCst) == 0 {
                        read.wait();
                    }
                    let by = i64::try_from(i).unwrap() + 1;
                    s.extend(
                        seen.id,
                        seen.due_at + Duration::days(by),
                        at(5),
                        &format!("by {i}"),
                    )?;
                    Ok(by)
                })
                .await
        });
    }
    let (mut extended, mut refused) = (Vec::new(), 0);
    while let Some(done) = units.join_next().await {
        match done.unwrap() {
            Ok(by) => extended.push(by),
            Err(e) => {
                assert!(e.to_string().contains("was extended before"), "{e:#}");
                refused += 1;
            }
        }
    }
    assert_eq!(extended.len(), 1, "extended by {extended:?}");
    assert_eq!(refused, RACERS - 1);
    let now = store
        .unit(move |s| s.request(request.id))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(now.due_at, request.due_at + Duration::days(extended[0]));
    assert_eq!(now.original_due_at, Some(request.due_at));
}

/// What came in reads alike on both engines: an input is taken once (also under the unkeyed
/// hash kept from before), what it came to can change in its unit, an address is answered
/// unprompted at most once a day, and an unproven sender's requests lead back to them.
async fn inputs_are_taken_once_and_a_sender_is_one_person(engine: Engine) {
    let store = Db::open(engine).await;
    let taken = store
        .unit(|s| {
            Ok([
                s.claim_input("k1", None, "email", "acted", at(0))?,
                s.claim_input("k1", None, "email", "acted", at(1))?,
                // Handled before its hash was keyed: found under the old one.
                s.claim_input("k2", Some("k1"), "email", "acted", at(2))?,
                s.claim_input("k3", Some("never seen"), "import", "acted", at(3))?,
            ])
        })
        .await
        .unwrap();
    assert_eq!(taken, [true, false, false, true]);
    store
        .unit(|s| s.set_disposition("k3", "held"))
        .await
        .unwrap();
    assert_eq!(
        store
            .texts("SELECT disposition FROM processed_inputs WHERE key_hash = 'k3'")
            .await,
        ["held"]
    );
    let day = Duration::days(1);
    let answers = store
        .unit(move |s| {
            Ok([
                s.may_answer("a1", at(0), day)?,
                s.may_answer("a1", at(60), day)?,
                s.may_answer("a2", at(60), day)?,
                s.may_answer("a1", at(60 * 24), day)?,
                s.may_answer("a1", at(60 * 24 + 1), day)?,
            ])
        })
        .await
        .unwrap();
    assert_eq!(
        answers,
        [true, false, true, true, false],
        "once a day, per address"
    );

    let (person, request, found, waiting, other_kind, unknown) = store
        .unit(|s| {
            let person = s.new_person(at(0))?;
            let r = filed_new(s.file(&new(
                person,
                RequestKind::Deletion,
                RequestState::AwaitingConfirmation,
                0,
            ))?);
            s.record_sender(r.id, "sender-1")?;
            Ok((
                person,
                r.id,
                s.sender_person("sender-1")?,
                s.sender_waiting("sender-1", RequestKind::Deletion)?,
                s.sender_waiting("sender-1", RequestKind::OptOut)?,
                s.sender_person("sender-2")?,
            ))
        })
        .await
        .unwrap();
    assert_eq!((found, waiting), (Some(person), Some(request)));
    assert_eq!((other_kind, unknown), (None, None));
    let after = store
        .unit(move |s| {
            s.set_state(
                request,
                RequestState::AwaitingConfirmation,
                RequestState::Confirmed,
                at(5),
            )?;
            Ok((
                s.sender_waiting("sender-1", RequestKind::Deletion)?,
                s.sender_person("sender-1")?,
            ))
        })
        .await
        .unwrap();
    assert_eq!(
        after,
        (None, Some(person)),
        "confirmed: no longer waiting, still theirs"
    );

    // Where a copy of their mail stays, until it is removed.
    store
        .unit(|s| s.record_copy("sender-1", "imap", "INBOX 1 7", at(8)))
        .await
        .unwrap();
    let copies = store
        .texts("SELECT CAST(id AS TEXT) || ' ' || source || ' ' || locator FROM inbound_copies")
        .await;
    assert_eq!(copies.len(), 1);
    assert!(copies[0].ends_with(" imap INBOX 1 7"), "{copies:?}");
    let id: i64 = copies[0].split(' ').next().unwrap().parse().unwrap();
    store.unit(move |s| s.copy_purged(id)).await.unwrap();
    assert!(
        store
            .texts("SELECT locator FROM inbound_copies")
            .await
            .is_empty()
    );
}
on_both_engines!(inputs_are_taken_once_and_a_sender_is_one_person);

/// Runs `RACERS` units at once on two processes of one PostgreSQL, all started together (the
/// first attempt of each waits for the others before its first statement); what each gave.
async fn race<T, F>(store: &Db, work: F) -> Vec<anyhow::Result<T>>
where
    F: Fn(&dyn Store, usize) -> anyhow::Result<T> + Send + Sync + 'static,
    T: Send + 'static,
{
    let second = store.another_process().await;
    let Db::Postgres(first, _) = store else {
        unreachable!()
    };
    let work = Arc::new(work);
    let start = Arc::new(Barrier::new(RACERS));
    let mut units = tokio::task::JoinSet::new();
    for i in 0..RACERS {
        let process = if i % 2 == 0 { first } else { &second }.clone();
        let (start, work) = (start.clone(), work.clone());
        let attempts = AtomicU32::new(0);
        units.spawn(async move {
            process
                .unit(move |s| {
                    if attempts.fetch_add(1, Ordering::SeqCst) == 0 {
                        start.wait();
                    }
                    work(s, i)
                })
                .await
        });
    }
    let mut done = Vec::new();
    while let Some(one) = units.join_next().await {
        done.push(one.unwrap());
    }
    done
}

/// PostgreSQL with two processes: a dozen units at once take one input (one takes it), ask
/// to answer one address (one may), and act for one unproven sender who wrote a dozen times
/// (one person, one waiting request; the others find it waiting).
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn units_in_two_processes_taking_one_input_or_sender_at_once_take_it_once() {
    let store = Db::open(Engine::Postgres).await;
    let taken = race(&store, |s, _| {
        s.claim_input("one mail", None, "email", "acted", at(0))
    })
    .await;
    let taken: Vec<bool> = taken.into_iter().map(Result::unwrap).collect();
    assert_eq!(taken.iter().filter(|t| **t).count(), 1, "{taken:?}");

    let answered = race(&store, |s, _| {
        s.may_answer("one address", at(0), Duration::days(1))
    })
    .await;
    let answered: Vec<bool> = answered.into_iter().map(Result::unwrap).collect();
    assert_eq!(answered.iter().filter(|a| **a).count(), 1, "{answered:?}");

    let filed = race(&store, |s, _| {
        if let Some(waiting) = s.sender_waiting("one sender", RequestKind::OptOut)? {
            return Ok(Err(waiting));
        }
        let person = match s.sender_person("one sender")? {
            Some(p) => p,
            None => s.new_person(at(0))?,
        };
        let new = new(
            person,
            RequestKind::OptOut,
            RequestState::AwaitingConfirmation,
            0,
        );
        let request = filed_new(s.file(&new)?);
        s.record_sender(request.id, "one sender")?;
        Ok(Ok(request.id))
    })
    .await;
    let filed: Vec<Result<i64, i64>> = filed.into_iter().map(Result::unwrap).collect();
    let made: Vec<i64> = filed.iter().filter_map(|f| f.ok()).collect();
    assert_eq!(made.len(), 1, "{filed:?}");
    assert!(
        filed.iter().all(|f| f.unwrap_or_else(|w| w) == made[0]),
        "{filed:?}"
    );
    let people = store.texts("SELECT count(*)::text FROM people").await;
    assert_eq!(people, ["1"], "one sender, one person");
}

/// A DM to queue in the tests: about `person`, to the member `to`.
fn dm<'a>(person: Option<i64>, to: &'a str, text: &'a str, last: bool) -> NewDm<'a> {
    NewDm {
        person,
        request: None,
        recipient: to,
        text,
        scrub_after_send: last,
    }
}

const ADA: &str = "411522633744855966";
const STRANGER: &str = "522633744855966077";

/// DMs read alike on both engines: claimed oldest first, each once while its lease runs,
/// again after a failure or a lease that ran out, never once sent or given up; the last word
/// to someone being erased loses its id and text once given up. A member whose DMs are closed
/// is known as such, and a proven address moves to whoever proved it.
async fn dms_are_claimed_once_and_identities_follow_their_proof(engine: Engine) {
    let store = Db::open(engine).await;
    let member = Actor::Discord(DiscordId(ADA.parse().unwrap()));
    let bob = Actor::Email(EmailAddress::parse("bob@example.org").unwrap());
    let (ada, bob, ids) = store
        .unit(move |s| {
            let (ada, _) = s.resolve(&member, at(0))?;
            let (bob, _) = s.resolve(&bob, at(0))?;
            let ids = [
                s.queue_dm(
                    &dm(Some(ada), ADA, "your opt-out is recorded", false),
                    at(0),
                )?,
                s.queue_dm(&dm(None, STRANGER, "a receipt", false), at(1))?,
                s.queue_dm(&dm(Some(ada), ADA, "your data is deleted", true), at(2))?,
            ];
            Ok((ada, bob, ids))
        })
        .await
        .unwrap();
    let claim = |now: i64, until: i64| store.unit(move |s| s.claim_dm(at(now), at(until)));
    let brief = |d: Option<Dm>| d.map(|d| (d.id, d.recipient, d.text, d.attempts, d.created_at));
    assert_eq!(
        brief(claim(10, 20).await.unwrap()),
        Some((
            ids[0],
            ADA.into(),
            "your opt-out is recorded".into(),
            0,
            at(0)
        ))
    );
    assert_eq!(
        brief(claim(10, 20).await.unwrap()),
        Some((ids[1], STRANGER.into(), "a receipt".into(), 0, at(1)))
    );
    assert_eq!(claim(10, 20).await.unwrap().map(|d| d.id), Some(ids[2]));
    assert_eq!(claim(10, 20).await.unwrap(), None, "all three are leased");
    store
        .unit(move |s| {
            s.dm_failed(ids[1], "HTTP 500", at(15))?;
            s.dm_sent(ids[0], at(16))?;
            s.dm_given_up(ids[2], "waited three days", at(16))
        })
        .await
        .unwrap();
    assert_eq!(
        claim(16, 30).await.unwrap().map(|d| (d.id, d.attempts)),
        Some((ids[1], 1)),
        "a failed DM is tried again when it is due"
    );
    assert_eq!(claim(25, 40).await.unwrap(), None, "still leased");
    // A worker whose lease ran out reports a failure for a DM another sent: nothing changes.
    store
        .unit(move |s| s.dm_failed(ids[0], "timeout", at(41)))
        .await
        .unwrap();
    assert_eq!(
        claim(45, 60).await.unwrap().map(|d| d.id),
        Some(ids[1]),
        "its lease ran out"
    );
    store
        .unit(move |s| s.dm_sent(ids[1], at(46)))
        .await
        .unwrap();
    assert_eq!(
        claim(90, 99).await.unwrap(),
        None,
        "sent and given up stay done"
    );

    let who = store
        .unit(move |s| {
            let before = s.identity("discord", ADA)?;
            s.mark_dm_closed(ADA, at(50))?;
            let after = s.identity("discord", ADA)?;
            let taken = s.assign_verified(ada, "email", "bob@example.org", at(51))?;
            let again = s.assign_verified(ada, "email", "bob@example.org", at(52))?;
            let fresh = s.assign_verified(ada, "email", "ada@example.org", at(53))?;
            let held: Vec<(String, bool)> = s
                .identities_of(ada)?
                .into_iter()
                .map(|i| (i.kind, i.dm_closed))
                .collect();
            Ok((
                before.map(|k| k.dm_closed),
                after.map(|k| k.dm_closed),
                (taken, again, fresh),
                held,
                s.verified_emails(ada)?,
                s.verified_emails(bob)?,
            ))
        })
        .await
        .unwrap();
    let (before, after, assigned, held, ada_emails, bob_emails) = who;
    assert_eq!((before, after), (Some(false), Some(true)));
    assert_eq!(
        assigned,
        (Some(bob), None, None),
        "taken from Bob once, then Ada's"
    );
    assert_eq!(
        held,
        [
            ("discord".into(), true),
            ("email".into(), false),
            ("email".into(), false)
        ]
    );
    assert_eq!(ada_emails.len(), 2);
    assert!(ada_emails.contains(&"bob@example.org".to_owned()));
    assert!(bob_emails.is_empty());
    assert!(
        !format!(
            "{:?}",
            store.unit(move |s| s.identities_of(ada)).await.unwrap()
        )
        .contains("bob@")
    );

    let given_up = ids[2];
    match &store {
        Db::Sqlite(..) => assert_eq!(
            store
                .texts(&format!(
                    "SELECT recipient || text FROM dm_outbox WHERE id = {given_up}"
                ))
                .await,
            [""]
        ),
        Db::Postgres(pg, _) => {
            let (empty, clear): (bool, i64) = sqlx::query_as(&format!(
                "SELECT (SELECT recipient_sealed = ''::bytea AND text_sealed = ''::bytea
                           AND recipient_hash IS NULL FROM dm_outbox WHERE id = {given_up}),
                        (SELECT count(*) FROM dm_outbox
                          WHERE position(convert_to('{ADA}', 'UTF8') in recipient_sealed) > 0
                             OR position(convert_to('deleted', 'UTF8') in text_sealed) > 0)"
            ))
            .fetch_one(&pg.pool)
            .await
            .unwrap();
            assert!(
                empty,
                "the last word to someone erased keeps no id or text once done"
            );
            assert_eq!(clear, 0, "ids and texts are sealed");
        }
    }
}
on_both_engines!(dms_are_claimed_once_and_identities_follow_their_proof);

/// PostgreSQL: a DM still waiting when its person is erased is sealed again under a key of
/// its own, so it still goes, and loses its id, its text and that key once sent.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_dm_waiting_when_its_person_is_erased_still_goes_then_is_gone() {
    let store = Db::open(Engine::Postgres).await;
    let member = Actor::Discord(DiscordId(ADA.parse().unwrap()));
    let (person, id) = store
        .unit(move |s| {
            let (person, _) = s.resolve(&member, at(0))?;
            Ok((
                person,
                s.queue_dm(&dm(Some(person), ADA, "your data is deleted", false), at(0))?,
            ))
        })
        .await
        .unwrap();
    let Db::Postgres(pg, _) = &store else {
        unreachable!()
    };
    let mut tx = pg.pool.begin().await.unwrap();
    people::erase(&mut tx, &pg.wrapping, person, at(1))
        .await
        .unwrap();
    tx.commit().await.unwrap();
    let claimed = store
        .unit(|s| s.claim_dm(at(2), at(3)))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        (claimed.id, claimed.recipient.as_str()),
        (id, ADA),
        "it still goes"
    );
    assert_eq!(claimed.text, "your data is deleted");
    store.unit(move |s| s.dm_sent(id, at(2))).await.unwrap();
    let (empty, keys): (bool, i64) = sqlx::query_as(
        "SELECT d.recipient_sealed = ''::bytea AND d.text_sealed = ''::bytea,
                (SELECT count(*) FROM row_keys WHERE owner = 'dm_outbox:' || d.id)
           FROM dm_outbox d",
    )
    .fetch_one(&pg.pool)
    .await
    .unwrap();
    assert!(empty, "its id and text are gone once sent");
    assert_eq!(keys, 0, "and its own key with them");
}

/// PostgreSQL with two processes: a dozen DM workers claim at once from a dozen due DMs; each
/// DM is claimed by one of them.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn dm_workers_in_two_processes_claim_each_dm_once() {
    let store = Db::open(Engine::Postgres).await;
    store
        .unit(|s| {
            for i in 0..RACERS {
                s.queue_dm(&dm(None, STRANGER, &format!("receipt {i}"), false), at(0))?;
            }
            Ok(())
        })
        .await
        .unwrap();
    let claimed = race(&store, |s, _| s.claim_dm(at(1), at(10))).await;
    let mut texts: Vec<String> = claimed
        .into_iter()
        .map(|c| c.unwrap().expect("a DM for every worker").text)
        .collect();
    texts.sort();
    texts.dedup();
    assert_eq!(texts.len(), RACERS, "each DM claimed once");
}

/// An audit event of `request` by `actor`, to log.
fn event(request: i64, actor: &str, minutes: i64) -> Event {
    Event {
        request_id: request,
        at: at(minutes),
        from_state: None,
        to_state: RequestState::Confirmed,
        actor: actor.to_owned(),
        note: None,
        notice: None,
    }
}

/// The roots a log of these records has after each append, computed here.
fn roots_of(records: &[Vec<u8>]) -> Vec<Hash> {
    let mut head = Frontier::default();
    records
        .iter()
        .map(|r| {
            head.append(leaf_hash(r));
            head.root()
        })
        .collect()
}

/// The log reads alike on both engines: leaves in order with the roots the tree has, the head
/// a checkpoint signs, and what a receipt is made of (an event's facts and leaf, the newest
/// logged event of a request, the policy a notice is about).
async fn the_log_appends_in_order_and_reads_back_what_receipts_need(engine: Engine) {
    let store = Db::open(engine).await;
    let person = store.person().await;
    store
        .exec(
            "INSERT INTO notice_versions (version, channel, language, policy, policy_version, text, first_seen)
             VALUES ('n1', 'discord', 'en', 'Training policy', 'p-1', 'We use chats to train.',
                     '2026-03-01T12:00:00Z')",
        )
        .await;
    let records: Vec<Vec<u8>> = (0..3).map(|i| format!("record {i}").into_bytes()).collect();
    let written = records.clone();
    let (request, events, leaves, head) = store
        .unit(move |s| {
            let r = filed_new(s.file(&new(
                person,
                RequestKind::OptOut,
                RequestState::Confirmed,
                0,
            ))?);
            let mut first = event(r.id, "member", 1);
            first.notice = Some("n1".to_owned());
            let e1 = s.append_event(&first)?;
            let e2 = s.append_event(&event(r.id, "officer", 2))?;
            let unlogged = s.append_event(&event(r.id, "import", 3))?;
            let leaves = vec![
                s.log_append(Item::Event(e1), &written[0])?,
                s.log_append(Item::Ack(7), &written[1])?,
                s.log_append(Item::Event(e2), &written[2])?,
            ];
            let head = s.log_frontier()?;
            s.add_checkpoint(&NewCheckpoint {
                size: head.size(),
                root: &head.root(),
                key: "test+key",
                note: "signed note",
                now: at(4),
                why: "timer",
            })?;
            Ok((r.id, [e1, e2, unlogged], leaves, head))
        })
        .await
        .unwrap();
    let roots = roots_of(&records);
    assert_eq!(
        leaves
            .iter()
            .map(|l| (l.index, l.item, l.root))
            .collect::<Vec<_>>(),
        [
            (0, Item::Event(events[0]), roots[0]),
            (1, Item::Ack(7), roots[1]),
            (2, Item::Event(events[1]), roots[2]),
        ]
    );
    assert_eq!((head.size(), head.root()), (3, roots[2]));
    assert_eq!(
        store
            .texts("SELECT note || ' ' || why FROM checkpoints")
            .await,
        ["signed note timer"]
    );
    let read = store
        .unit(move |s| {
            Ok((
                s.latest_logged_event(request)?,
                s.latest_logged_event(request + 1)?,
                s.event_facts(events[0])?.unwrap(),
                s.leaf_for_event(events[1])?,
                s.leaf_for_event(events[2])?,
                s.notice_policy("n1")?,
                s.notice_policy("n2")?,
                s.log_frontier()?.root(),
            ))
        })
        .await
        .unwrap();
    let (latest, none, facts, leaf, unlogged, policy, no_policy, root) = read;
    assert_eq!(latest, Some(events[1]), "the newest event with a leaf");
    assert_eq!(none, None);
    assert_eq!(
        (
            facts.request_id,
            facts.kind.as_str(),
            facts.person_id,
            facts.to.as_str(),
            facts.at,
            facts.by.as_str(),
            facts.notice.as_deref(),
            facts.offset_us
        ),
        (
            request,
            "opt_out",
            person,
            "confirmed",
            at(1),
            "member",
            Some("n1"),
            -86_400_000_123
        )
    );
    assert_eq!(
        leaf.map(|l| (l.index, l.hash)),
        Some((2, leaf_hash(&records[2])))
    );
    assert_eq!(unlogged, None);
    assert_eq!(
        (policy, no_policy),
        (Some(("Training policy".to_owned(), "p-1".to_owned())), None)
    );
    assert_eq!(root, roots[2], "the head as kept");
}
on_both_engines!(the_log_appends_in_order_and_reads_back_what_receipts_need);

/// PostgreSQL with two processes: a dozen units log an event each at once. Their leaves take
/// the indexes 0 to 11, each once, and every root is the tree's after its leaf: the units
/// appended one after another on the head each left.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn units_in_two_processes_logging_at_once_leave_one_tree_without_gaps() {
    let store = Db::open(Engine::Postgres).await;
    let person = store.person().await;
    let request = store
        .unit(move |s| {
            s.file(&new(
                person,
                RequestKind::OptOut,
                RequestState::Confirmed,
                0,
            ))
        })
        .await
        .map(filed_new)
        .unwrap();
    let logged = race(&store, move |s, i| {
        let e = s.append_event(&event(request.id, &format!("worker {i}"), 1))?;
        let record = format!("record of worker {i}").into_bytes();
        let leaf = s.log_append(Item::Event(e), &record)?;
        Ok((leaf, record))
    })
    .await;
    let mut logged: Vec<(Leaf, Vec<u8>)> = logged.into_iter().map(Result::unwrap).collect();
    logged.sort_by_key(|(leaf, _)| leaf.index);
    assert_eq!(
        logged.iter().map(|(l, _)| l.index).collect::<Vec<_>>(),
        (0..RACERS as u64).collect::<Vec<_>>()
    );
    let records: Vec<Vec<u8>> = logged.iter().map(|(_, r)| r.clone()).collect();
    let roots = roots_of(&records);
    assert_eq!(
        logged.iter().map(|(l, _)| l.root).collect::<Vec<_>>(),
        roots
    );
    let head = store.unit(|s| s.log_frontier()).await.unwrap();
    assert_eq!(
        (head.size(), head.root()),
        (RACERS as u64, roots[RACERS - 1])
    );
}

/// Three consumers: `live` with a webhook, `revoked` (with one) and `pulls` (none).
async fn consumers(store: &Db) {
    let key = match store {
        Db::Sqlite(..) => "X'00'",
        Db::Postgres(..) => "'\\x00'::bytea",
    };
    store
        .exec(&format!(
            "INSERT INTO consumers (name, token_hash, hash_key, webhook_url, created_at, revoked_at) VALUES
                 ('live', 't1', {key}, 'https://crm.example.org/hook', '2026-03-01T12:00:00Z', NULL),
                 ('revoked', 't2', {key}, 'https://old.example.org/hook', '2026-03-01T12:00:00Z',
                  '2026-03-01T12:30:00Z'),
                 ('pulls', 't3', {key}, NULL, '2026-03-01T12:00:00Z', NULL)"
        ))
        .await;
}

fn standing<'a>(person: i64, state: &'a str, request: i64, minutes: i64) -> NewStanding<'a> {
    NewStanding {
        person,
        state,
        effective_from: at(minutes),
        policy_version: "p-1",
        request,
        now: at(minutes),
    }
}

/// The feed reads alike on both engines: a person's latest confirmed choice, each change
/// moving its person to the end of the feed, identities changing moving them too (not the
/// erased, not the unlisted), and one waiting webhook message per live consumer with a
/// webhook, carrying the newest position.
async fn the_feed_moves_each_change_to_its_end_and_tells_each_webhook_once(engine: Engine) {
    let store = Db::open(engine).await;
    consumers(&store).await;
    let (ada, bob, eve) = (
        store.person().await,
        store.person().await,
        store.person().await,
    );
    let read = store
        .unit(move |s| {
            let before = s.latest_choice(ada)?;
            let out =
                filed_new(s.file(&new(ada, RequestKind::OptOut, RequestState::Confirmed, 1))?);
            let back =
                filed_new(s.file(&new(bob, RequestKind::OptIn, RequestState::Confirmed, 2))?);
            let choice = (s.latest_choice(ada)?, s.latest_choice(bob)?);
            let seqs = [
                s.set_standing(&standing(ada, "opted_out", out.id, 1))?,
                s.set_standing(&standing(bob, "opted_in", back.id, 2))?,
                s.set_standing(&standing(ada, "opted_out", out.id, 3))?,
            ];
            let touched = (s.touch_standing(bob, at(4))?, s.touch_standing(eve, at(4))?);
            s.set_standing(&standing(eve, "erased", out.id, 5))?;
            let erased = s.touch_standing(eve, at(6))?;
            let hooks = s.webhook_consumers()?;
            for (seq, id) in [(3, "msg_a"), (5, "msg_b")] {
                for c in &hooks {
                    s.queue_webhook(*c, seq, id, at(7))?;
                }
            }
            Ok((
                before,
                choice,
                (out.id, back.id),
                seqs,
                touched,
                erased,
                s.standing(ada)?,
                s.feed_head()?,
                hooks.len(),
            ))
        })
        .await
        .unwrap();
    let (
        before,
        (ada_choice, bob_choice),
        (out, back),
        seqs,
        touched,
        erased,
        ada_now,
        head,
        hooks,
    ) = read;
    assert_eq!(before, None);
    assert_eq!(ada_choice, Some((out, true, at(1))));
    assert_eq!(bob_choice, Some((back, false, at(2))));
    assert_eq!(seqs, [1, 2, 3], "each change at the end of the feed");
    assert_eq!(touched, (Some(4), None), "the unlisted are not moved");
    assert_eq!(erased, None, "the erased are not moved");
    assert_eq!(
        ada_now.map(|s| (s.seq, s.state, s.effective_from, s.request_id)),
        Some((3, "opted_out".to_owned(), at(3), out))
    );
    assert_eq!(head, 5);
    assert_eq!(hooks, 1, "the live consumer with a webhook");
    assert_eq!(
        store
            .texts(
                "SELECT c.name || ' ' || w.seq || ' ' || w.message_id
                   FROM webhook_deliveries w JOIN consumers c ON c.id = w.consumer_id"
            )
            .await,
        ["live 5 msg_b"],
        "one waiting message, with the newest position"
    );
}
on_both_engines!(the_feed_moves_each_change_to_its_end_and_tells_each_webhook_once);

/// PostgreSQL with two processes: a dozen units change a dozen people's standings at once,
/// each pushing to the one webhook. The positions are 1 to 12, each once, and one message
/// waits, carrying 12.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn units_in_two_processes_moving_the_feed_at_once_take_each_position_once() {
    let store = Db::open(Engine::Postgres).await;
    consumers(&store).await;
    let mut people = Vec::new();
    for _ in 0..RACERS {
        people.push(store.person().await);
    }
    let people = Arc::new(people);
    let moved = race(&store, move |s, i| {
        let person = people[i];
        let r = filed_new(s.file(&new(
            person,
            RequestKind::OptOut,
            RequestState::Confirmed,
            0,
        ))?);
        let seq = s.set_standing(&standing(person, "opted_out", r.id, 1))?;
        for c in s.webhook_consumers()? {
            s.queue_webhook(c, seq, &format!("msg_{i}"), at(1))?;
        }
        Ok(seq)
    })
    .await;
    let mut seqs: Vec<i64> = moved.into_iter().map(Result::unwrap).collect();
    seqs.sort_unstable();
    assert_eq!(seqs, (1..=RACERS as i64).collect::<Vec<_>>());
    let waiting = store
        .texts("SELECT seq::text FROM webhook_deliveries WHERE delivered_at IS NULL")
        .await;
    assert_eq!(
        waiting,
        [RACERS.to_string()],
        "one message waits, with the newest position"
    );
}

/// An erasure leaves nothing that names the person on either engine, whoever asked for it to
/// be written: identities, proof codes and reply tokens (also another's, to their address),
/// notices, notes, the extension's reason, sender records, unkeyed input hashes. What waits
/// to reach them still goes, marked to be wiped once sent; keyed hashes of their identities
/// remain. On PostgreSQL their data key and the rows' own keys are gone too.
async fn an_erasure_leaves_nothing_that_names_the_person(engine: Engine) {
    let store = Db::open(engine).await;
    let member = Actor::Discord(DiscordId(ADA.parse().unwrap()));
    let bob = Actor::Email(EmailAddress::parse("bob@example.org").unwrap());
    let (ada, deletion) = store
        .unit(move |s| {
            let (ada, _) = s.resolve(&member, at(0))?;
            let (bob, _) = s.resolve(&bob, at(0))?;
            s.assign_verified(ada, "email", "ada@example.org", at(0))?;
            let deletion =
                filed_new(s.file(&new(ada, RequestKind::Deletion, RequestState::Confirmed, 0))?);
            let bobs =
                filed_new(s.file(&new(bob, RequestKind::OptOut, RequestState::Confirmed, 1))?);
            s.extend(
                deletion.id,
                at(60 * 24 * 40),
                at(2),
                "call ada on +44 20 7946 0000",
            )?;
            s.add_note(deletion.id, "operator", "ada said so on the phone", at(2))?;
            s.add_notice(ada, "someone else proved your old address", at(2))?;
            s.add_reply_token(&token("tok-ada", deletion.id, "ada@example.org"))?;
            // Bob's request, mailed to Ada's address (Bob named it): it goes with Ada.
            s.add_reply_token(&token("tok-bob-to-ada", bobs.id, "ada@example.org"))?;
            s.add_code(&code(bob, bobs.id, "ada@example.org", 3))?;
            s.record_sender(deletion.id, "sender-of-ada")?;
            s.claim_input("legacy-import-of-ada", None, "import", "acted", at(3))?;
            let last = mail(
                "<last@dsr-bot>",
                Some((ada, deletion.id)),
                "deleted",
                "ada@example.org",
            );
            s.queue_mail(&last, at(4))?;
            s.queue_dm(&dm(Some(ada), ADA, "your data is deleted", false), at(4))?;
            Ok((ada, deletion.id))
        })
        .await
        .unwrap();
    store
        .unit(move |s| {
            s.erase_person(&Erasing {
                person: ada,
                request: deletion,
                at: at(5),
                hashes: &[
                    ("discord".to_owned(), "hash-of-discord".to_owned()),
                    ("email".to_owned(), "hash-of-email".to_owned()),
                ],
                emails: &["ada@example.org".to_owned()],
                discord_ids: &[ADA.to_owned()],
                sender_hashes: &["sender-of-ada".to_owned()],
                rekeys: &[(
                    "legacy-import-of-ada".to_owned(),
                    "keyed-import-of-ada".to_owned(),
                )],
                now: at(9),
            })
        })
        .await
        .unwrap();
    let left = store
        .unit(move |s| {
            Ok((
                s.identities_of(ada)?.len(),
                s.identity("email", "ada@example.org")?,
                [
                    s.reply_token("tok-ada")?.is_some(),
                    s.reply_token("tok-bob-to-ada")?.is_some(),
                ],
                s.take_notices(ada)?,
                s.note_count(deletion)?,
                s.sender_person("sender-of-ada")?,
                [
                    s.claim_input("legacy-import-of-ada", None, "import", "acted", at(6))?,
                    s.claim_input("keyed-import-of-ada", None, "import", "acted", at(6))?,
                ],
                s.is_erased(ada)?,
                s.chosen_language(ada)?,
            ))
        })
        .await
        .unwrap();
    let (identities, email, tokens, notices, notes, sender, inputs, erased, language) = left;
    assert_eq!((identities, email), (0, None), "no identity left");
    assert_eq!(
        tokens,
        [false, false],
        "no reply token to their address, whoever asked"
    );
    assert!(notices.is_empty() && notes == 0 && sender.is_none());
    assert_eq!(
        inputs,
        [true, false],
        "the unkeyed hash is gone, its keyed form kept (the import is still handled)"
    );
    assert!(erased && language.is_none());
    assert_eq!(
        store
            .texts("SELECT kind || ' ' || value_hash FROM erasure_receipts ORDER BY kind")
            .await,
        ["discord hash-of-discord", "email hash-of-email"],
        "keyed hashes remain"
    );
    assert_eq!(
        store
            .texts(
                "SELECT CAST(count(*) AS TEXT) FROM erasure_receipts r JOIN people p ON p.id = r.person_id
                  WHERE r.erased_at > p.erased_at"
            )
            .await,
        ["2"],
        "the hashes are kept as of when this unit ran, the person erased as of when it was \
         carried out (an imported deletion's is older)"
    );
    assert_eq!(
        store
            .texts("SELECT CAST(count(*) AS TEXT) FROM email_verifications")
            .await,
        ["0"],
        "the code Bob asked for Ada's address is gone"
    );
    // The last word still reaches them, and is to be wiped once sent.
    let claimed = store.claim_all().await;
    assert_eq!(
        claimed.iter().map(|c| c.1.as_str()).collect::<Vec<_>>(),
        ["ada@example.org"]
    );
    let dm = store
        .unit(|s| s.claim_dm(at(6), at(7)))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        (dm.recipient.as_str(), dm.text.as_str()),
        (ADA, "your data is deleted")
    );
    assert_eq!(
        store
            .texts(
                "SELECT (SELECT count(*) FROM outbox WHERE scrub_after_send)
                        || ' ' || (SELECT count(*) FROM dm_outbox WHERE scrub_after_send)"
            )
            .await,
        ["1 1"]
    );
    match &store {
        Db::Sqlite(..) => assert_eq!(
            store
                .texts(&format!(
                    "SELECT CAST(count(*) AS TEXT) FROM requests
                      WHERE id = {deletion} AND extension_reason IS NULL"
                ))
                .await,
            ["1"],
            "the extension's reason is gone"
        ),
        Db::Postgres(pg, _) => {
            let (keys, reason, own): (i64, bool, i64) = sqlx::query_as(&format!(
                "SELECT (SELECT count(*) FROM person_keys WHERE person_id = {ada}),
                        (SELECT extension_reason_sealed IS NULL FROM requests WHERE id = {deletion}),
                        (SELECT count(*) FROM row_keys
                          WHERE owner LIKE 'reply_tokens:%' OR owner LIKE 'email_verifications:%')"
            ))
            .fetch_one(&pg.pool)
            .await
            .unwrap();
            assert_eq!(keys, 0, "their data key is gone");
            assert!(reason, "the extension's reason is gone");
            assert_eq!(own, 0, "the keys of their codes and tokens are gone");
        }
    }
}
on_both_engines!(an_erasure_leaves_nothing_that_names_the_person);

/// The use-cases themselves, their units on PostgreSQL: a member opts out, asks for deletion
/// naming an address, proves it with the code mailed to it, an officer extends the deletion and
/// notes it, then carries it out. Everything lands in PostgreSQL (none of it in SQLite): the
/// requests, an audit event with a leaf each, the feed's standing, the mail, and the erasure,
/// which leaves the last mail still to go and the person's data key gone.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_use_cases_run_their_units_on_postgres_through_the_seam() {
    use dsr_bot::services::{Call, Officer, Origin};

    let app = crate::common::TestApp::spawn().await;
    let url = fresh_database().await;
    let pg = postgres::connect(&url, &KEY).await.unwrap();
    let services = app
        .services
        .with_units_on_postgres(pg.clone())
        .await
        .unwrap();
    let ada = Origin::new(&crate::common::console("ada"), Channel::Console);
    let canary = format!("canary-{}@example.org", uuid::Uuid::new_v4().simple());
    let address = EmailAddress::parse(&canary).unwrap();

    let out = services
        .file_request(&ada, RequestKind::OptOut, None)
        .await
        .unwrap();
    assert!(out.request_id.is_some(), "{}", out.text);
    let status = services.status(&ada).await.unwrap();
    assert!(
        status
            .text
            .contains(&format!("#{}", out.request_id.unwrap())),
        "{}",
        status.text
    );
    let deletion = services
        .file_request(&ada, RequestKind::Deletion, Some(address))
        .await
        .unwrap()
        .request_id
        .unwrap();
    // The mail worker delivers from PostgreSQL, into the outbox folder.
    let folder = app.dir.path().join("delivered");
    let worker = dsr_bot::workers::outbox::OutboxWorker::new(
        services.clone(),
        dsr_bot::email::Mailer::Folder(folder.clone()),
    );
    let delivered = || {
        let mut files: Vec<(String, String)> = std::fs::read_dir(&folder)
            .map(|d| {
                d.map(|e| {
                    let path = e.unwrap().path();
                    let text = std::fs::read_to_string(&path).unwrap();
                    (
                        path.file_name().unwrap().to_string_lossy().into_owned(),
                        text,
                    )
                })
                .collect()
            })
            .unwrap_or_default();
        files.sort();
        files
    };
    worker.flush().await.unwrap();
    let mails = delivered();
    assert_eq!(mails.len(), 1, "the code, mailed to the address");
    assert!(mails[0].1.contains(&canary));
    let code = crate::common::code_in(&mails[0].1);
    services.verify(&ada, &code).await.unwrap();
    services.confirm(&ada).await.unwrap();

    let officer = Officer::Operator;
    let console = || Call::on(Channel::Console);
    let requests = services.requests();
    requests
        .extend(
            console(),
            &officer,
            deletion,
            10,
            "the archive team needs a week",
        )
        .await
        .unwrap();
    requests
        .note(
            console(),
            &officer,
            deletion,
            "checked the forum backups too",
        )
        .await
        .unwrap();
    let wrapped: Vec<u8> = sqlx::query_scalar("SELECT wrapped_key FROM person_keys")
        .fetch_one(&pg.pool)
        .await
        .unwrap();
    let oid: sqlx::postgres::types::Oid =
        sqlx::query_scalar("SELECT oid FROM pg_database WHERE datname = current_database()")
            .fetch_one(&pg.pool)
            .await
            .unwrap();
    let tables = crate::common::postgres::pgdata()
        .join("base")
        .join(oid.0.to_string());
    checkpoint().await;
    assert!(
        !files_under_holding(&tables, &wrapped).is_empty(),
        "the person's wrapped key is found where it is kept"
    );
    requests
        .complete(console(), &officer, deletion)
        .await
        .unwrap();
    // The address was never in clear; after the erasure (and the keys' tables rewritten by
    // it) the person's wrapped key is in none of the database's files either.
    checkpoint().await;
    assert_eq!(
        files_holding(&canary),
        Vec::<String>::new(),
        "heap, indexes, WAL"
    );
    assert_eq!(files_under_holding(&tables, &wrapped), Vec::<String>::new());

    let on_pg = |sql: &'static str| {
        let pool = pg.pool.clone();
        async move {
            sqlx::query_scalar::<_, String>(sql)
                .fetch_all(&pool)
                .await
                .unwrap()
        }
    };
    assert_eq!(
        on_pg("SELECT kind || ' ' || state FROM requests ORDER BY id").await,
        ["opt_out cancelled", "deletion completed"],
        "the deletion carried out closes what else was open"
    );
    let logged = on_pg(
        "SELECT (SELECT count(*) FROM request_events) || ' ' ||
                (SELECT count(*) FROM log_leaves WHERE event_id IS NOT NULL)",
    )
    .await;
    let [events, leaves]: [&str; 2] = logged[0].split(' ').collect::<Vec<_>>().try_into().unwrap();
    assert!(
        events == leaves && events.parse::<i64>().unwrap() >= 5,
        "{logged:?}"
    );
    assert!(
        on_pg("SELECT to_state FROM request_events ORDER BY id")
            .await
            .contains(&"completed".to_owned()),
        "the deletion's completion is in the trail"
    );
    // The log's head is signed there too: the timer's checkpoint, once it grew.
    let signed = services.log().checkpoint("timer", true).await.unwrap();
    assert_eq!(signed.map(|c| c.size.to_string()), Some(leaves.to_owned()));
    assert!(
        services
            .log()
            .checkpoint("timer", true)
            .await
            .unwrap()
            .is_none(),
        "not again until it grows"
    );
    assert_eq!(on_pg("SELECT size::text FROM checkpoints").await, [leaves]);
    assert_eq!(on_pg("SELECT state FROM feed").await, ["erased"]);
    assert_eq!(
        on_pg(
            "SELECT (SELECT count(*) FROM identities) || ' ' || (SELECT count(*) FROM person_keys)
                    || ' ' || (SELECT count(*) FROM people WHERE erased_at IS NOT NULL)"
        )
        .await,
        ["0 0 1"],
        "no identity and no data key left; the person erased"
    );
    // The last word still goes; the copies of the earlier mail to them are removed, and the
    // last one loses its address and text once handed over, and the key of its own that it
    // was sealed under again goes from the keys' table and its file.
    let own_keys: Vec<Vec<u8>> =
        sqlx::query_scalar("SELECT wrapped_key FROM row_keys WHERE owner LIKE 'outbox:%'")
            .fetch_all(&pg.pool)
            .await
            .unwrap();
    assert!(
        !own_keys.is_empty(),
        "the last mail is sealed under a key of its own"
    );
    worker.flush().await.unwrap();
    checkpoint().await;
    for key in &own_keys {
        assert_eq!(
            files_under_holding(&tables, key),
            Vec::<String>::new(),
            "a sent mail's own key is in none of the database's files"
        );
    }
    let after = delivered();
    assert!(!after.is_empty(), "the last word still goes");
    assert!(
        after.iter().all(|(name, _)| *name != mails[0].0),
        "the code mail's copy is removed"
    );
    assert!(after.iter().all(|(_, text)| text.contains(&canary)));
    assert_eq!(
        on_pg(
            "SELECT (SELECT count(*) FROM outbox WHERE sent_at IS NULL) || ' ' ||
                    (SELECT count(*) FROM outbox WHERE recipient_sealed != ''::bytea) || ' ' ||
                    (SELECT count(*) FROM row_keys WHERE owner LIKE 'outbox:%')"
        )
        .await,
        ["0 0 0"],
        "all handed over; no address, text or key of a mail to them is left"
    );
    assert_eq!(app.count("requests").await, 0, "nothing of it on SQLite");
}

/// A request by mail, its units on PostgreSQL: the opt-out mailed in is filed there and asked
/// to be confirmed by reply; the mail worker delivers that from PostgreSQL; the reply to its
/// Reply-To (the token) confirms it, and the feed carries the choice. Nothing of it on SQLite.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_request_by_mail_runs_its_units_on_postgres() {
    use dsr_bot::email::intake::ingest_raw;

    let app = crate::common::TestApp::spawn().await;
    let pg = postgres::connect(&fresh_database().await, &KEY)
        .await
        .unwrap();
    let services = app
        .services
        .with_units_on_postgres(pg.clone())
        .await
        .unwrap();
    let sender = format!("mail-{}@example.net", uuid::Uuid::new_v4().simple());
    let mail = |to: &str, headers: &str, body: &str, n: u32| {
        format!(
            "From: {sender}\r\nTo: {to}\r\nSubject: request\r\nMessage-ID: <pg-{n}-{sender}>\r\n\
             {headers}Content-Type: text/plain; charset=utf-8\r\n\r\n{body}\r\n"
        )
        .into_bytes()
    };
    ingest_raw(&services, &mail("privacy@example.org", "", "stop", 1))
        .await
        .unwrap();
    let folder = app.dir.path().join("delivered");
    let worker = dsr_bot::workers::outbox::OutboxWorker::new(
        services.clone(),
        dsr_bot::email::Mailer::Folder(folder.clone()),
    );
    worker.flush().await.unwrap();
    let files: Vec<String> = std::fs::read_dir(&folder)
        .unwrap()
        .map(|e| std::fs::read_to_string(e.unwrap().path()).unwrap())
        .collect();
    assert_eq!(files.len(), 1, "asked to confirm by reply");
    let reply_to = crate::common::header(&files[0], "Reply-To")
        .expect("a Reply-To")
        .trim()
        .trim_start_matches('<')
        .trim_end_matches('>')
        .to_owned();
    assert!(
        reply_to.contains('+'),
        "the token is in the address: {reply_to}"
    );
    ingest_raw(&services, &mail(&reply_to, "", "yes", 2))
        .await
        .unwrap();

    let on_pg = |sql: &'static str| {
        let pool = pg.pool.clone();
        async move {
            sqlx::query_scalar::<_, String>(sql)
                .fetch_all(&pool)
                .await
                .unwrap()
        }
    };
    assert_eq!(
        on_pg("SELECT kind || ' ' || channel || ' ' || state FROM requests").await,
        ["opt_out email confirmed"]
    );
    assert_eq!(on_pg("SELECT state FROM feed").await, ["opted_out"]);
    assert_eq!(
        on_pg("SELECT CAST(count(*) AS TEXT) FROM processed_inputs").await,
        ["2"],
        "each mail taken once"
    );
    assert_eq!(app.count("requests").await, 0, "nothing of it on SQLite");
}

/// An import, its unit on PostgreSQL: a person's standing opt-out, a completed deletion of
/// another (carried out here too: their identity erased, its keyed hash kept), and a choice
/// in force, each with its original times, an audit event and a leaf; importing the same file
/// again adds nothing. Nothing of it on SQLite.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_import_runs_its_unit_on_postgres() {
    let app = crate::common::TestApp::spawn().await;
    let pg = postgres::connect(&fresh_database().await, &KEY)
        .await
        .unwrap();
    let services = app
        .services
        .with_units_on_postgres(pg.clone())
        .await
        .unwrap();
    let csv = "received_at,kind,email,status\n\
               2025-03-01T10:00:00Z,opt_out,ida@example.org,confirmed\n\
               2025-04-01T10:00:00Z,opt_out,gone@example.org,confirmed\n\
               2025-05-01T10:00:00Z,delete,gone@example.org,completed\n";
    let rows = || dsr_bot::services::import::parse_csv(csv, services.now()).unwrap();
    let first = services.import_rows(rows(), |_| {}).await.unwrap();
    assert_eq!((first.imported, first.already_there), (3, 0));
    let again = services.import_rows(rows(), |_| {}).await.unwrap();
    assert_eq!((again.imported, again.already_there), (0, 3), "taken once");

    let on_pg = |sql: &'static str| {
        let pool = pg.pool.clone();
        async move {
            sqlx::query_scalar::<_, String>(sql)
                .fetch_all(&pool)
                .await
                .unwrap()
        }
    };
    assert_eq!(
        on_pg(
            "SELECT kind || ' ' || state || ' ' || to_char(received_at AT TIME ZONE 'UTC', 'YYYY-MM-DD')
               FROM requests ORDER BY id"
        )
        .await,
        [
            "opt_out confirmed 2025-03-01",
            "opt_out cancelled 2025-04-01",
            "deletion completed 2025-05-01"
        ],
        "the erased person's other choice is closed with the deletion"
    );
    assert_eq!(
        on_pg(
            "SELECT (SELECT count(*) FROM request_events) || ' ' ||
                    (SELECT count(*) FROM log_leaves WHERE event_id IS NOT NULL) || ' ' ||
                    (SELECT count(*) FROM identities) || ' ' ||
                    (SELECT count(*) FROM erasure_receipts) || ' ' ||
                    (SELECT count(*) FROM people WHERE erased_at IS NOT NULL)"
        )
        .await,
        ["4 4 1 1 1"],
        "an event and a leaf each; Ida's identity kept, the other erased with its hash kept"
    );
    assert_eq!(app.count("requests").await, 0, "nothing of it on SQLite");
}
