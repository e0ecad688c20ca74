//! Floods and lost mail: limits that protect other people hold across processes and restarts,
//! repeats file nothing new, and no message is lost or shadowed by another.

use crate::common;

use std::sync::Arc;

use chrono::Duration;
use common::{BEFORE_DEADLINE, at, console};
use dsr_bot::{
    clock::ManualClock,
    config::Config,
    domain::{Channel, EmailAddress, RequestKind},
    email::intake::{ingest_maildir, ingest_raw},
    error::ServiceError,
    services::{Disposition, Origin, Services},
    startup::App,
};

/// One run of the bot (a console session, an `ingest-mail`) over the database in `dir`.
async fn run_in(
    dir: &std::path::Path,
    clock: &ManualClock,
    adjust: impl FnOnce(&mut Config),
) -> Services {
    let mut config = Config::for_folder(dir);
    adjust(&mut config);
    App::build_with_clock(config, Arc::new(clock.clone()))
        .await
        .unwrap()
        .services
}

async fn scalar(s: &Services, sql: &str) -> i64 {
    sqlx::query_scalar(sql).fetch_one(s.pool()).await.unwrap()
}

fn new_mail(from: &str, id: &str, body: &str) -> Vec<u8> {
    format!(
        "From: {from}\r\nTo: privacy@example.org\r\nSubject: request\r\nMessage-ID: <{id}@x>\r\n\r\n{body}\r\n"
    )
    .into_bytes()
}

fn user_error(r: Result<dsr_bot::services::Reply, ServiceError>) -> String {
    match r {
        Err(ServiceError::User(e)) => e.text().to_owned(),
        other => panic!("expected a refusal, got {other:?}"),
    }
}

#[tokio::test]
async fn repeated_new_mails_from_one_sender_file_one_request_and_one_answer() {
    let dir = tempfile::tempdir().unwrap();
    let clock = ManualClock::new(at(BEFORE_DEADLINE));
    for n in 0..4 {
        // Each mail through its own run, as an MTA pipe would.
        let s = run_in(dir.path(), &clock, |_| {}).await;
        ingest_raw(
            &s,
            &new_mail("flood@example.net", &format!("f{n}"), "delete my data"),
        )
        .await
        .unwrap();
    }
    let s = run_in(dir.path(), &clock, |_| {}).await;
    assert_eq!(scalar(&s, "SELECT COUNT(*) FROM requests").await, 1);
    assert_eq!(scalar(&s, "SELECT COUNT(*) FROM people").await, 1);
    assert!(
        scalar(
            &s,
            "SELECT COUNT(*) FROM outbox WHERE recipient = 'flood@example.net'"
        )
        .await
            <= 2,
        "the request to confirm, and at most one 'already waiting' answer a day"
    );
}

#[tokio::test]
async fn code_mails_to_an_address_are_capped_per_day_whoever_asks_and_whichever_run() {
    let dir = tempfile::tempdir().unwrap();
    let clock = ManualClock::new(at(BEFORE_DEADLINE));
    let mut refusals = Vec::new();
    for n in 0..10 {
        let s = run_in(dir.path(), &clock, |_| {}).await;
        let who = Origin::new(&console(&format!("member{}", n % 3)), Channel::Console);
        let address = if n % 2 == 0 {
            "a@example.net"
        } else {
            "b@example.net"
        };
        let kind = if n % 4 < 2 {
            RequestKind::OptOut
        } else {
            RequestKind::OptIn
        };
        if let Err(ServiceError::User(e)) = s
            .file_request(&who, kind, EmailAddress::parse(address).ok())
            .await
        {
            refusals.push(e.text().to_owned());
        }
    }
    let s = run_in(dir.path(), &clock, |_| {}).await;
    for address in ["a@example.net", "b@example.net"] {
        let codes = scalar(
            &s,
            &format!("SELECT COUNT(*) FROM outbox WHERE template = 'confirmation_code' AND recipient = '{address}'"),
        )
        .await;
        assert!(codes <= 3, "{codes} code mails to {address} in a day");
    }
    assert!(
        refusals.iter().any(|r| r.contains("code")),
        "the member is told why: {refusals:?}"
    );
    // A day later, the address can be asked for again.
    clock.advance(Duration::hours(25));
    let s = run_in(dir.path(), &clock, |_| {}).await;
    s.file_request(
        &Origin::new(&console("member0"), Channel::Console),
        RequestKind::OptOut,
        EmailAddress::parse("a@example.net").ok(),
    )
    .await
    .unwrap();
}

#[tokio::test]
async fn asking_for_a_new_code_does_not_give_new_tries() {
    let dir = tempfile::tempdir().unwrap();
    let clock = ManualClock::new(at(BEFORE_DEADLINE));
    // The limit per minute would stop the guesser first; this is about the daily one.
    let s = run_in(dir.path(), &clock, |c| c.limits.per_person = 0).await;
    let me = Origin::new(&console("guesser"), Channel::Console);
    let wrong = |n: u32| format!("{:06}", 100_000 + n);
    let mut refused = 0;
    for round in 0..3 {
        // A fresh code each round (the last one used up), then five guesses at it.
        let _ = s
            .file_request(
                &me,
                RequestKind::OptOut,
                EmailAddress::parse("target@example.net").ok(),
            )
            .await;
        for n in 0..5 {
            if user_error(s.verify(&me, &wrong(round * 10 + n)).await).contains("today") {
                refused += 1;
            }
        }
    }
    assert!(
        refused > 0,
        "guessing stops for the day, whatever new codes were asked for"
    );
    let tries = scalar(
        &s,
        "SELECT COALESCE(SUM(attempts), 0) FROM email_verifications",
    )
    .await;
    assert!(tries <= 10, "{tries} guesses at one address in a day");
}

#[tokio::test]
async fn the_per_person_limit_holds_across_runs() {
    let dir = tempfile::tempdir().unwrap();
    let clock = ManualClock::new(at(BEFORE_DEADLINE));
    let mut outcomes = Vec::new();
    for _ in 0..4 {
        let s = run_in(dir.path(), &clock, |c| c.limits.per_person = 3).await;
        outcomes.push(
            s.status(&Origin::new(&console("busy"), Channel::Console))
                .await
                .is_ok(),
        );
    }
    assert_eq!(outcomes, [true, true, true, false]);
}

#[tokio::test]
async fn a_senderless_mail_does_not_shadow_a_real_one_with_its_message_id() {
    let dir = tempfile::tempdir().unwrap();
    let clock = ManualClock::new(at(BEFORE_DEADLINE));
    let s = run_in(dir.path(), &clock, |_| {}).await;
    let broken =
        b"To: privacy@example.org\r\nSubject: x\r\nMessage-ID: <shared@x>\r\n\r\nopt out\r\n";
    assert_eq!(ingest_raw(&s, broken).await.unwrap(), Disposition::Held);
    let real = new_mail("real@example.net", "shared", "opt out");
    assert_eq!(ingest_raw(&s, &real).await.unwrap(), Disposition::Acted);
    assert_eq!(scalar(&s, "SELECT COUNT(*) FROM requests").await, 1);
}

#[tokio::test]
async fn a_rate_limited_maildir_message_waits_for_the_next_run_and_the_others_are_read() {
    let dir = tempfile::tempdir().unwrap();
    let clock = ManualClock::new(at(BEFORE_DEADLINE));
    let maildir = dir.path().join("Maildir");
    std::fs::create_dir_all(maildir.join("new")).unwrap();
    for (name, from) in [
        ("1", "fast@example.net"),
        ("2", "fast@example.net"),
        ("3", "calm@example.net"),
    ] {
        std::fs::write(
            maildir.join("new").join(name),
            new_mail(from, &format!("m{name}"), "status"),
        )
        .unwrap();
    }
    let s = run_in(dir.path(), &clock, |c| c.limits.per_person = 1).await;
    let run = ingest_maildir(&s, &maildir).await.unwrap();
    assert_eq!(run.handled.len(), 2, "{run:?}");
    assert_eq!(run.left, 1, "one message waits for the next run");
    let left: Vec<_> = std::fs::read_dir(maildir.join("new")).unwrap().collect();
    assert_eq!(left.len(), 1);

    clock.advance(Duration::minutes(2));
    let s = run_in(dir.path(), &clock, |c| c.limits.per_person = 1).await;
    let run = ingest_maildir(&s, &maildir).await.unwrap();
    assert_eq!((run.handled.len(), run.left), (1, 0));
}
