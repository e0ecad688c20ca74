//! Faults: the process killed with SIGKILL in the middle of a rush and of a mail flush.
//! Every acknowledged request survives exactly once; every mail arrives, a repeat only ever
//! with the same Message-ID.

use crate::common;

use std::{
    collections::{HashMap, HashSet},
    io::{BufRead, BufReader},
    process::{Command, Stdio},
    time::{Duration, Instant},
};

use common::{SmtpServer, free_port, header};
use dsr_bot::services::Origin;

fn bin(dir: &std::path::Path) -> Command {
    let mut c = common::bin(dir);
    c.env("RUST_LOG", "error");
    c
}

async fn pool(path: &std::path::Path) -> sqlx::SqlitePool {
    sqlx::SqlitePool::connect_with(dsr_bot::db::cipher::options_with_key_beside(path).unwrap())
        .await
        .unwrap()
}

#[tokio::test(flavor = "multi_thread")]
async fn a_kill_mid_rush_and_mid_flush_loses_nothing_acknowledged_and_doubles_no_mail() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("rush.db");

    // Rush, then SIGKILL once a few hundred requests were acknowledged.
    let mut rush = bin(dir.path())
        .current_dir(dir.path())
        .args([
            "bench",
            "rush",
            "--requests",
            "50000",
            "--concurrency",
            "50",
            "--sync",
            "full",
            "--print-acks",
        ])
        .arg("--database")
        .arg(&db)
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(rush.stdout.take().unwrap()).lines();
    let mut acked = HashSet::new();
    while acked.len() < 400 {
        let line = lines
            .next()
            .expect("the rush ended before 400 acknowledgements")
            .unwrap();
        if let Some(id) = line.strip_prefix("ack ") {
            acked.insert(id.parse::<i64>().unwrap());
        }
    }
    rush.kill().unwrap();
    rush.wait().unwrap();
    // Acknowledgements already written to the pipe before the kill count too.
    for line in lines.map_while(Result::ok) {
        if let Some(id) = line.strip_prefix("ack ") {
            acked.insert(id.parse::<i64>().unwrap());
        }
    }

    let p = pool(&db).await;
    let integrity: String = sqlx::query_scalar("PRAGMA integrity_check")
        .fetch_one(&p)
        .await
        .unwrap();
    assert_eq!(integrity, "ok");
    let stored: HashSet<i64> = sqlx::query_scalar("SELECT id FROM requests")
        .fetch_all(&p)
        .await
        .unwrap()
        .into_iter()
        .collect();
    let missing: Vec<_> = acked.difference(&stored).collect();
    assert!(missing.is_empty(), "acknowledged but lost: {missing:?}");
    let doubled: i64 = sqlx::query_scalar(
        "SELECT COUNT(*) FROM (SELECT person_id, kind FROM requests
          WHERE state IN ('awaiting_confirmation', 'confirmed') GROUP BY person_id, kind HAVING COUNT(*) > 1)",
    )
    .fetch_one(&p)
    .await
    .unwrap();
    assert_eq!(doubled, 0);
    let without_event: i64 = sqlx::query_scalar(
        "SELECT COUNT(*) FROM requests r WHERE NOT EXISTS (SELECT 1 FROM request_events e WHERE e.request_id = r.id)",
    )
    .fetch_one(&p)
    .await
    .unwrap();
    assert_eq!(
        without_event, 0,
        "a request and its audit event are written together"
    );
    let mails: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM outbox")
        .fetch_one(&p)
        .await
        .unwrap();
    assert!(mails > 0);
    p.close().await;

    // Flush to a real SMTP server, SIGKILL part-way, flush again once the lease runs out.
    let smtp = SmtpServer::start(free_port(), &dir.path().join("maildir"));
    let flush = || {
        let mut c = bin(dir.path());
        c.current_dir(dir.path())
            .args(["mail", "flush"])
            .env("DATABASE_PATH", &db)
            .env("SMTP_URL", smtp.url())
            .env("MAIL_LEASE_SECONDS", "1")
            .env("MAIL_CONCURRENCY", "4");
        c
    };
    let mut first = flush().stdout(Stdio::null()).spawn().unwrap();
    let started = Instant::now();
    while smtp.messages().len() < 5 && started.elapsed() < Duration::from_secs(30) {
        std::thread::sleep(Duration::from_millis(5));
    }
    first.kill().unwrap();
    first.wait().unwrap();
    std::thread::sleep(Duration::from_millis(1_500));
    let out = flush().output().unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );

    let p = pool(&db).await;
    let unsent: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM outbox WHERE sent_at IS NULL")
        .fetch_one(&p)
        .await
        .unwrap();
    assert_eq!(unsent, 0, "the backlog drained");
    let ids: HashSet<String> = sqlx::query_scalar("SELECT message_id FROM outbox")
        .fetch_all(&p)
        .await
        .unwrap()
        .into_iter()
        .collect();
    let mut seen: HashMap<String, usize> = HashMap::new();
    for m in smtp.messages() {
        *seen
            .entry(header(&m, "Message-ID").unwrap().to_owned())
            .or_default() += 1;
    }
    let delivered: HashSet<String> = seen.keys().cloned().collect();
    assert_eq!(
        delivered, ids,
        "every outbox mail arrived, and nothing else did"
    );
    let repeats = seen.values().filter(|n| **n > 1).count();
    assert!(
        repeats <= 4,
        "only the mails in flight at the kill (one per sender) are repeated, each with its own \
         Message-ID: {repeats}"
    );
}

#[tokio::test]
async fn a_full_disk_refuses_requests_clearly_keeps_nothing_half_written_and_recovers() {
    use dsr_bot::{
        clock::ManualClock,
        config::Config,
        domain::{Actor, Channel, DiscordId, RequestKind},
        startup::App,
    };
    use std::sync::Arc;

    let dir = tempfile::tempdir().unwrap();
    let clock = ManualClock::new(common::at(common::BEFORE_DEADLINE));
    let build = |cap: Option<u32>| {
        let mut c = Config::for_folder(dir.path());
        c.sqlite_max_pages = cap;
        c.limits.per_person = 0;
        App::build_with_clock(c, Arc::new(clock.clone()))
    };
    let pages: i64 = {
        let app = build(None).await.unwrap();
        sqlx::query_scalar("PRAGMA page_count")
            .fetch_one(app.services.pool())
            .await
            .unwrap()
    };

    // Room for only a few more pages: the disk fills up part-way through the rush.
    let full = build(Some(pages as u32 + 3)).await.unwrap().services;
    let mut accepted = 0;
    let mut refusal = None;
    for i in 0..2_000u64 {
        let actor = Actor::Discord(DiscordId(10_000 + i));
        match full
            .file_request(
                &Origin::new(&actor, Channel::Discord),
                RequestKind::OptOut,
                None,
            )
            .await
        {
            Ok(_) => accepted += 1,
            Err(e) => {
                refusal = Some(e.for_person());
                break;
            }
        }
    }
    let refusal = refusal.expect("the cap was reached");
    assert!(
        refusal.contains("storage is full") && refusal.contains("Nothing was recorded"),
        "{refusal}"
    );

    let p = full.pool();
    let requests: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM requests")
        .fetch_one(p)
        .await
        .unwrap();
    assert_eq!(requests, accepted, "only acknowledged requests are there");
    let orphans: i64 = sqlx::query_scalar(
        "SELECT (SELECT COUNT(*) FROM requests r WHERE NOT EXISTS (SELECT 1 FROM request_events e WHERE e.request_id = r.id))
              + (SELECT COUNT(*) FROM people p WHERE NOT EXISTS (SELECT 1 FROM identities i WHERE i.person_id = p.id))",
    )
    .fetch_one(p)
    .await
    .unwrap();
    assert_eq!(orphans, 0, "nothing half-written");
    let integrity: String = sqlx::query_scalar("PRAGMA integrity_check")
        .fetch_one(p)
        .await
        .unwrap();
    assert_eq!(integrity, "ok");

    // Space returns: the same database takes requests again.
    let roomy = build(None).await.unwrap().services;
    let actor = Actor::Discord(DiscordId(99_999));
    roomy
        .file_request(
            &Origin::new(&actor, Channel::Discord),
            RequestKind::OptOut,
            None,
        )
        .await
        .unwrap();
    let after: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM requests")
        .fetch_one(roomy.pool())
        .await
        .unwrap();
    assert_eq!(after, accepted + 1);
}
