//! Officers' routines: extending a due date, reminders, the weekly digest, notes, their own
//! wording, the community's size and the announcements before the deadline.

use crate::common;

use std::sync::{Arc, Mutex};

use chrono::Duration;
use common::{TestApp, at, console};
use dsr_bot::email::intake::ingest_raw;
use dsr_bot::{
    clock::ManualClock,
    config::Config,
    domain::{Channel, RequestKind},
    error::ServiceError,
    reports::render::Format,
    services::{Call, Origin, Services},
    startup::App,
    workers::schedule::{Channels, NoPoster, Poster, Scheduler},
};

const ALICE: &str = "alice@example.net";

fn new_mail(from: &str, body: &str) -> Vec<u8> {
    format!(
        "From: {from}\r\nTo: privacy@example.org\r\nSubject: request\r\nMessage-ID: <{}@example.net>\r\n\
         Content-Type: text/plain; charset=utf-8\r\n\r\n{body}\r\n",
        rand_id()
    )
    .into_bytes()
}

fn rand_id() -> u64 {
    use std::sync::atomic::{AtomicU64, Ordering};
    static N: AtomicU64 = AtomicU64::new(1);
    N.fetch_add(1, Ordering::Relaxed) * 7919 + std::process::id() as u64
}

/// A deletion asked for by mail: it waits for Alice's confirming reply.
async fn deletion_by_mail(app: &TestApp) -> i64 {
    ingest_raw(&app.services, &new_mail(ALICE, "delete"))
        .await
        .unwrap();
    app.scalar_i64("SELECT MAX(id) FROM requests").await
}

fn console_call() -> Call {
    Call::on(Channel::Console)
}

async fn templates_to(app: &TestApp, to: &str) -> Vec<String> {
    app.mails()
        .await
        .into_iter()
        .filter(|(_, r, _)| r == to)
        .map(|(t, _, _)| t)
        .collect()
}

fn user_error(e: ServiceError) -> String {
    match e {
        ServiceError::User(u) => u.text().to_owned(),
        other => panic!("expected a refusal the officer can act on, got {other:?}"),
    }
}

#[tokio::test]
async fn an_extension_moves_the_due_date_once_tells_the_person_and_is_audited() {
    let app = TestApp::spawn().await;
    let id = deletion_by_mail(&app).await;
    let due_before: String = sqlx::query_scalar("SELECT due_at FROM requests WHERE id = ?")
        .bind(id)
        .fetch_one(app.services.pool())
        .await
        .unwrap();

    let done = app
        .services
        .requests()
        .extend(
            console_call(),
            &dsr_bot::services::Officer::Operator,
            id,
            30,
            "the request covers three systems",
        )
        .await
        .unwrap();
    assert_eq!(done.mails, 1, "the address that asked is told");
    let (due_after, original): (String, String) =
        sqlx::query_as("SELECT due_at, original_due_at FROM requests WHERE id = ?")
            .bind(id)
            .fetch_one(app.services.pool())
            .await
            .unwrap();
    assert_eq!(original, due_before);
    assert_eq!(
        at(&due_after) - at(&due_before),
        Duration::days(30),
        "{due_before} -> {due_after}"
    );

    let mail = app
        .mails()
        .await
        .into_iter()
        .find(|(t, _, _)| t == "due_extended")
        .expect("the extension mail");
    assert_eq!(mail.1, ALICE);
    assert!(
        mail.2.contains("the request covers three systems") && mail.2.contains(&done.due),
        "{}",
        mail.2
    );

    let details = app
        .services
        .requests()
        .details(&dsr_bot::services::Officer::Operator, id)
        .await
        .unwrap()
        .unwrap();
    let event = details
        .events
        .iter()
        .find(|e| e.note.as_deref().is_some_and(|n| n.contains("extended")))
        .expect("an audit event");
    assert_eq!(event.actor, "operator");
    // The trail keeps that a reason was given; the reason lives with the request, erased
    // with the person.
    let note = event.note.as_deref().unwrap();
    assert!(note.contains("(reason given)"), "{note}");
    assert!(!note.contains("the request covers three systems"), "{note}");
    assert_eq!(
        details.extension_reason.as_deref(),
        Some("the request covers three systems")
    );

    // Once only.
    let again = app
        .services
        .requests()
        .extend(
            console_call(),
            &dsr_bot::services::Officer::Operator,
            id,
            5,
            "still more to check",
        )
        .await
        .unwrap_err();
    assert!(user_error(again).contains("extended once"));
}

#[tokio::test]
async fn an_extension_is_refused_after_the_due_date_beyond_the_limit_and_without_a_reason() {
    let app = TestApp::spawn().await;
    let id = deletion_by_mail(&app).await;
    let too_long = app
        .services
        .requests()
        .extend(
            console_call(),
            &dsr_bot::services::Officer::Operator,
            id,
            61,
            "complex",
        )
        .await
        .unwrap_err();
    assert!(user_error(too_long).contains("1 to 60 days"));
    let empty = app
        .services
        .requests()
        .extend(
            console_call(),
            &dsr_bot::services::Officer::Operator,
            id,
            10,
            "   ",
        )
        .await
        .unwrap_err();
    assert!(user_error(empty).contains("reason is empty"));

    app.clock.advance(Duration::days(31));
    let late = app
        .services
        .requests()
        .extend(
            console_call(),
            &dsr_bot::services::Officer::Operator,
            id,
            10,
            "complex",
        )
        .await
        .unwrap_err();
    assert!(
        user_error(late).contains("only be extended before it passes"),
        "after the due date"
    );
    assert!(
        templates_to(&app, ALICE)
            .await
            .iter()
            .all(|t| t != "due_extended")
    );
    assert_eq!(
        app.scalar_i64("SELECT COUNT(*) FROM requests WHERE extended_at IS NOT NULL")
            .await,
        0
    );
}

#[tokio::test]
async fn an_answered_request_cannot_be_extended() {
    let app = TestApp::spawn().await;
    let reply = app.file(&console("bob"), RequestKind::OptOut).await;
    let e = app
        .services
        .requests()
        .extend(
            console_call(),
            &dsr_bot::services::Officer::Operator,
            reply.request_id.unwrap(),
            10,
            "complex",
        )
        .await
        .unwrap_err();
    assert!(user_error(e).contains("it is answered"));
    let e = app
        .services
        .requests()
        .extend(
            console_call(),
            &dsr_bot::services::Officer::Operator,
            999,
            10,
            "complex",
        )
        .await
        .unwrap_err();
    assert!(user_error(e).contains("no request #999"));
}

#[tokio::test]
async fn reports_count_extensions_and_take_overdue_from_the_extended_date() {
    // Received 2025-09-25, due 2025-10-25 (30 days): overdue at the end of October unless
    // extended.
    let app = TestApp::spawn().await;
    let extended = deletion_by_mail(&app).await;
    // Another, left as it was.
    ingest_raw(&app.services, &new_mail("carol@example.net", "delete"))
        .await
        .unwrap();
    app.clock.set(at("2025-10-10T12:00:00Z"));
    app.services
        .requests()
        .extend(
            console_call(),
            &dsr_bot::services::Officer::Operator,
            extended,
            30,
            "three systems to search",
        )
        .await
        .unwrap();
    let october = app
        .services
        .reports()
        .month(Some("2025-10".parse().unwrap()))
        .await
        .unwrap();
    // Both wait for confirmation past their receipt; only the unextended one is overdue.
    assert_eq!(october.figures.extended, 1);
    assert_eq!(october.figures.overdue_at_month_end, 1);
    let september = app
        .services
        .reports()
        .month(Some("2025-09".parse().unwrap()))
        .await
        .unwrap();
    assert_eq!(september.figures.extended, 0);
}

#[tokio::test]
async fn a_waiting_request_gets_one_reminder_and_none_once_it_ended() {
    let app = TestApp::spawn().await;
    let id = deletion_by_mail(&app).await;
    assert_eq!(
        app.services.routines().send_reminders().await.unwrap(),
        0,
        "too soon"
    );

    app.clock.advance(Duration::hours(49));
    assert_eq!(app.services.routines().send_reminders().await.unwrap(), 1);
    assert_eq!(
        app.services.routines().send_reminders().await.unwrap(),
        0,
        "once"
    );
    let reminder = app
        .mails()
        .await
        .into_iter()
        .find(|(t, _, _)| t == "reminder")
        .unwrap();
    assert_eq!(reminder.1, ALICE);
    assert!(reminder.2.contains(&format!("#{id}")), "{}", reminder.2);

    // Another that Alice's cancel ends before its time: never reminded.
    let bob = "bob@example.net";
    ingest_raw(&app.services, &new_mail(bob, "opt out"))
        .await
        .unwrap();
    let bobs = app.scalar_i64("SELECT MAX(id) FROM requests").await;
    sqlx::query("UPDATE requests SET state = 'cancelled', closed_at = updated_at WHERE id = ?")
        .bind(bobs)
        .execute(app.services.pool())
        .await
        .unwrap();
    // And one that lapsed unseen (the worker was down past its expiry): not reminded either.
    ingest_raw(&app.services, &new_mail("carol@example.net", "opt in"))
        .await
        .unwrap();
    app.clock.advance(Duration::hours(80));
    assert_eq!(app.services.routines().send_reminders().await.unwrap(), 0);
    assert_eq!(templates_to(&app, bob).await, ["confirm_by_reply"]);
    assert_eq!(
        templates_to(&app, "carol@example.net").await,
        ["confirm_by_reply"]
    );
}

#[tokio::test]
async fn a_discord_member_is_never_sent_an_unsolicited_reminder() {
    let app = TestApp::spawn().await;
    app.services
        .file_request(
            &Origin::discord(dsr_bot::domain::DiscordId(4242), 1),
            RequestKind::Deletion,
            None,
        )
        .await
        .unwrap();
    app.clock.advance(Duration::hours(49));
    assert_eq!(app.services.routines().send_reminders().await.unwrap(), 0);
    assert_eq!(app.count("outbox").await, 0);
}

async fn services_on(dir: &std::path::Path, clock: &ManualClock) -> Services {
    let mut config = Config::for_folder(dir);
    config.privacy_officers = vec![
        dsr_bot::domain::EmailAddress::parse("dpo@example.org").unwrap(),
        dsr_bot::domain::EmailAddress::parse("deputy@example.org").unwrap(),
    ];
    App::build_with_clock(config, Arc::new(clock.clone()))
        .await
        .unwrap()
        .services
}

/// Records what the schedule posts, and answers the member count it is given.
#[derive(Clone, Default)]
struct Recorder {
    posts: Arc<Mutex<Vec<(u64, String)>>>,
    members: Option<u64>,
    asked: Arc<Mutex<usize>>,
}

impl Poster for Recorder {
    async fn post(&self, channel: u64, markdown: &str) -> anyhow::Result<()> {
        self.posts
            .lock()
            .unwrap()
            .push((channel, markdown.to_owned()));
        Ok(())
    }

    async fn member_count(&self) -> anyhow::Result<Option<u64>> {
        *self.asked.lock().unwrap() += 1;
        Ok(self.members)
    }
}

const STAFF: u64 = 555;
const ANNOUNCE: u64 = 777;

fn channels() -> Channels {
    Channels {
        staff: Some(STAFF),
        announce: Some(ANNOUNCE),
    }
}

async fn digests_mailed(s: &Services) -> i64 {
    sqlx::query_scalar("SELECT COUNT(*) FROM outbox WHERE template = 'digest'")
        .fetch_one(s.pool())
        .await
        .unwrap()
}

#[tokio::test]
async fn the_digest_goes_once_a_week_across_a_restart_and_two_instances() {
    let dir = tempfile::tempdir().unwrap();
    // Monday 2025-10-20: one request due within 7 days, one overdue.
    let clock = ManualClock::new(at("2025-09-25T10:00:00Z"));
    let first = services_on(dir.path(), &clock).await;
    for from in ["a@example.net", "b@example.net"] {
        ingest_raw(&first, &new_mail(from, "delete")).await.unwrap();
    }
    sqlx::query("UPDATE requests SET due_at = '2025-10-19T10:00:00Z' WHERE id = 1")
        .execute(first.pool())
        .await
        .unwrap();
    clock.set(at("2025-10-20T08:00:00Z"));
    let recorder = Recorder::default();
    let s = Scheduler::new(first.clone(), recorder.clone(), channels());
    assert_eq!(s.digest().await.unwrap(), (true, true));
    assert_eq!(s.digest().await.unwrap(), (false, false));
    assert_eq!(digests_mailed(&first).await, 2, "one mail per officer");
    let text: String = sqlx::query_scalar(
        "SELECT body_text FROM outbox WHERE template = 'digest' AND recipient = 'dpo@example.org'",
    )
    .fetch_one(first.pool())
    .await
    .unwrap();
    assert!(
        text.contains("Overdue: 1 (requests #1)")
            && text.contains("Due within 7 days: 1 (requests #2)"),
        "{text}"
    );
    assert!(!text.contains('@'), "no address in the digest: {text}");
    let posts = recorder.posts.lock().unwrap().clone();
    assert_eq!(posts.len(), 1);
    assert_eq!(posts[0].0, STAFF);
    assert!(
        posts[0].1.contains("#1") && posts[0].1.contains("#2"),
        "{}",
        posts[0].1
    );

    // Tuesday: a restart and a second instance, same week: nothing more.
    clock.set(at("2025-10-21T08:00:00Z"));
    let restarted = services_on(dir.path(), &clock).await;
    let second = services_on(dir.path(), &clock).await;
    let (r1, r2) = (Recorder::default(), Recorder::default());
    let s1 = Scheduler::new(restarted.clone(), r1.clone(), channels());
    let s2 = Scheduler::new(second, r2.clone(), channels());
    let (a, b) = tokio::join!(s1.digest(), s2.digest());
    assert_eq!((a.unwrap(), b.unwrap()), ((false, false), (false, false)));

    // Next Monday, two instances at once: exactly one of them sends it.
    clock.set(at("2025-10-27T08:00:00Z"));
    let (a, b) = tokio::join!(s1.digest(), s2.digest());
    let (a, b) = (a.unwrap(), b.unwrap());
    assert_eq!(
        [a.0, b.0].iter().filter(|m| **m).count(),
        1,
        "mailed once: {a:?} {b:?}"
    );
    assert_eq!(
        r1.posts.lock().unwrap().len() + r2.posts.lock().unwrap().len(),
        1
    );
    assert_eq!(digests_mailed(&restarted).await, 4);
}

#[tokio::test]
async fn the_digest_waits_for_its_weekday_and_can_be_turned_off() {
    let dir = tempfile::tempdir().unwrap();
    let clock = ManualClock::new(at("2025-10-19T08:00:00Z")); // a Sunday
    let mut config = Config::for_folder(dir.path());
    config.privacy_officers =
        vec![dsr_bot::domain::EmailAddress::parse("dpo@example.org").unwrap()];
    config.officers.digest_weekday = Some(chrono::Weekday::Mon);
    let s = App::build_with_clock(config.clone(), Arc::new(clock.clone()))
        .await
        .unwrap()
        .services;
    // Sunday belongs to the week whose Monday has passed: it goes (catching up), once.
    assert!(s.routines().digest_week().is_some());
    config.officers.digest_weekday = Some(chrono::Weekday::Fri);
    let friday = App::build_with_clock(config.clone(), Arc::new(clock.clone()))
        .await
        .unwrap()
        .services;
    clock.set(at("2025-10-23T08:00:00Z")); // Thursday
    assert_eq!(friday.routines().digest_week(), None);
    config.officers.digest_weekday = None;
    let off = App::build_with_clock(config, Arc::new(clock.clone()))
        .await
        .unwrap()
        .services;
    let sched = Scheduler::new(off, NoPoster, Channels::default());
    assert_eq!(sched.digest().await.unwrap(), (false, false));
}

#[tokio::test]
async fn a_note_is_shown_audited_and_erased_with_the_person() {
    let app = TestApp::spawn().await;
    let id = deletion_by_mail(&app).await;
    let n = app
        .services
        .requests()
        .note(
            console_call(),
            &dsr_bot::services::Officer::Operator,
            id,
            "Called Alice Example back; she confirmed by phone.",
        )
        .await
        .unwrap();
    assert_eq!(n, 1);
    let d = app
        .services
        .requests()
        .details(&dsr_bot::services::Officer::Operator, id)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(d.notes.len(), 1);
    assert!(d.describe().contains("1. ") && d.describe().contains("Called Alice Example back"));
    assert!(
        d.events
            .iter()
            .any(|e| e.note.as_deref() == Some("note 1 added"))
    );
    let e = app
        .services
        .requests()
        .note(
            console_call(),
            &dsr_bot::services::Officer::Operator,
            id,
            "",
        )
        .await
        .unwrap_err();
    assert!(user_error(e).contains("note is empty"));

    // Alice confirms; the officer carries it out: the note goes with her, the trail stays.
    let token: String = sqlx::query_scalar(
        "SELECT reply_token FROM outbox WHERE template = 'confirm_by_reply' ORDER BY id DESC LIMIT 1",
    )
    .fetch_one(app.services.pool())
    .await
    .unwrap();
    let confirm = format!(
        "From: {ALICE}\r\nTo: privacy+{token}@example.org\r\nSubject: Re: confirm\r\nMessage-ID: <c{}@example.net>\r\n\
         Content-Type: text/plain; charset=utf-8\r\n\r\nconfirm\r\n",
        rand_id()
    );
    ingest_raw(&app.services, confirm.as_bytes()).await.unwrap();
    assert_eq!(app.request_state(id).await, "confirmed");
    app.services
        .requests()
        .complete(console_call(), &dsr_bot::services::Officer::Operator, id)
        .await
        .unwrap();
    assert_eq!(app.count("request_notes").await, 0);
    let d = app
        .services
        .requests()
        .details(&dsr_bot::services::Officer::Operator, id)
        .await
        .unwrap()
        .unwrap();
    assert!(d.notes.is_empty());
    assert!(
        d.events
            .iter()
            .any(|e| e.note.as_deref() == Some("note 1 added")),
        "the audit trail keeps that a note was added"
    );
    let raw = std::fs::read(app.db_path()).unwrap();
    assert!(
        !raw.windows(b"Called Alice".len())
            .any(|w| w == b"Called Alice"),
        "the note's text is gone from the file"
    );
}

#[tokio::test]
async fn an_override_template_is_used_and_a_broken_one_stops_start_up() {
    let dir = tempfile::tempdir().unwrap();
    let own = dir.path().join("own");
    std::fs::create_dir_all(own.join("email")).unwrap();
    std::fs::write(
        own.join("email/reminder.txt"),
        "Subject: Still waiting: your {{ kind_label }} request #{{ request_id }}\n\nHi! We are waiting for you. Reply confirm.\n",
    )
    .unwrap();
    let mut config = Config::for_folder(dir.path());
    config.officers.templates_dir = Some(own.clone());
    let clock = ManualClock::new(at(common::BEFORE_DEADLINE));
    let app = App::build_with_clock(config.clone(), Arc::new(clock.clone()))
        .await
        .unwrap();
    ingest_raw(&app.services, &new_mail(ALICE, "delete"))
        .await
        .unwrap();
    clock.advance(Duration::hours(49));
    assert_eq!(app.services.routines().send_reminders().await.unwrap(), 1);
    let (subject, text): (String, String) =
        sqlx::query_as("SELECT subject, body_text FROM outbox WHERE template = 'reminder'")
            .fetch_one(app.services.pool())
            .await
            .unwrap();
    assert_eq!(subject, "Still waiting: your deletion request #1");
    assert!(text.contains("Hi! We are waiting for you."), "{text}");
    drop(app);

    std::fs::write(
        own.join("email/reminder.txt"),
        "Subject: Still waiting\n\nHi {{ person_name }}!\n",
    )
    .unwrap();
    let e = App::build_with_clock(config, Arc::new(clock))
        .await
        .err()
        .expect("a template that does not render stops start-up");
    let e = format!("{e:#}");
    assert!(e.contains("email/reminder.txt:3"), "{e}");
}

#[tokio::test]
async fn the_no_decision_share_is_in_every_format_for_a_month_with_a_known_size() {
    let app = TestApp::spawn_at(at("2025-10-05T10:00:00Z")).await;
    for who in ["ann", "ben", "cid"] {
        app.file(&console(who), RequestKind::OptOut).await;
    }
    app.file(&console("dee"), RequestKind::OptIn).await;
    app.services
        .routines()
        .record_community_size(200, "setting")
        .await
        .unwrap();
    let report = app
        .services
        .reports()
        .month(Some("2025-10".parse().unwrap()))
        .await
        .unwrap();
    assert_eq!(report.figures.community_size, Some(200));
    assert_eq!(report.figures.no_decision, Some(196));

    let json: serde_json::Value = serde_json::from_str(
        &app.services
            .reports()
            .render(&report, Format::Json)
            .unwrap(),
    )
    .unwrap();
    assert_eq!(json["no_decision"], 196);
    assert_eq!(json["community_size"], 200);
    assert!((json["no_decision_share"].as_f64().unwrap() - 0.98).abs() < 1e-9);
    let csv = app.services.reports().render(&report, Format::Csv).unwrap();
    let header: Vec<&str> = csv.lines().next().unwrap().split(',').collect();
    let row: Vec<&str> = csv.lines().last().unwrap().split(',').collect();
    let col = |name: &str| row[header.iter().position(|h| *h == name).unwrap()];
    assert_eq!(col("no_decision"), "196");
    assert_eq!(col("no_decision_share"), "0.98");
    let md = app.services.reports().render(&report, Format::Md).unwrap();
    assert!(
        md.contains("| No decision recorded (counts as opted in) | 196 (98.0%) |"),
        "{md}"
    );
    let html = app
        .services
        .reports()
        .render(&report, Format::Html)
        .unwrap();
    assert!(
        html.contains("No decision recorded<b>196</b>98.0% of the community"),
        "{html}"
    );

    // A month with no size known says so rather than guessing.
    let september = app
        .services
        .reports()
        .month(Some("2025-09".parse().unwrap()))
        .await
        .unwrap();
    assert_eq!(september.figures.no_decision, None);
    let md = app
        .services
        .reports()
        .render(&september, Format::Md)
        .unwrap();
    assert!(
        md.contains("| No decision recorded (counts as opted in) | – (–) |"),
        "{md}"
    );
}

#[tokio::test]
async fn the_community_size_is_read_once_a_day_and_the_setting_wins() {
    let dir = tempfile::tempdir().unwrap();
    let clock = ManualClock::new(at("2025-10-05T10:00:00Z"));
    let s = services_on(dir.path(), &clock).await;
    let discord = Recorder {
        members: Some(1_234),
        ..Recorder::default()
    };
    let sched = Scheduler::new(s.clone(), discord.clone(), channels());
    assert_eq!(sched.community_size().await.unwrap(), Some(1_234));
    assert_eq!(sched.community_size().await.unwrap(), None, "once a day");
    assert_eq!(*discord.asked.lock().unwrap(), 1);
    clock.advance(Duration::days(1));
    assert_eq!(sched.community_size().await.unwrap(), Some(1_234));

    let mut config = Config::for_folder(dir.path());
    config.officers.community_size = Some(900);
    clock.advance(Duration::days(1));
    let set = App::build_with_clock(config, Arc::new(clock.clone()))
        .await
        .unwrap()
        .services;
    let sched = Scheduler::new(set.clone(), discord.clone(), channels());
    assert_eq!(sched.community_size().await.unwrap(), Some(900));
    assert_eq!(*discord.asked.lock().unwrap(), 2, "Discord not asked");
    let sources: Vec<(String, i64, String)> =
        sqlx::query_as("SELECT day, size, source FROM community_sizes ORDER BY day")
            .fetch_all(set.pool())
            .await
            .unwrap();
    assert_eq!(
        sources,
        [
            ("2025-10-05".into(), 1_234, "discord".into()),
            ("2025-10-06".into(), 1_234, "discord".into()),
            ("2025-10-07".into(), 900, "setting".into()),
        ]
    );
}

#[tokio::test]
async fn the_announcements_go_to_the_channel_at_14_7_and_1_days_once_each() {
    let dir = tempfile::tempdir().unwrap();
    // The default deadline is 2025-09-28T23:59:59Z.
    let clock = ManualClock::new(at("2025-09-10T00:00:00Z"));
    let s = services_on(dir.path(), &clock).await;
    let r = Recorder::default();
    let sched = Scheduler::new(s.clone(), r.clone(), channels());
    assert!(
        !sched.announce().await.unwrap(),
        "19 days ahead: nothing yet"
    );
    clock.set(at("2025-09-15T00:00:00Z"));
    assert!(sched.announce().await.unwrap());
    assert!(!sched.announce().await.unwrap(), "once");
    // Down for a while: at 5 days only the 7-day post goes; at 12 hours the 1-day one.
    clock.set(at("2025-09-24T00:00:00Z"));
    let restarted = Scheduler::new(services_on(dir.path(), &clock).await, r.clone(), channels());
    assert!(restarted.announce().await.unwrap());
    clock.set(at("2025-09-28T12:00:00Z"));
    assert!(restarted.announce().await.unwrap());
    clock.set(at("2025-09-29T12:00:00Z"));
    assert!(!restarted.announce().await.unwrap(), "after the deadline");

    let posts = r.posts.lock().unwrap().clone();
    assert_eq!(posts.len(), 3);
    assert!(posts.iter().all(|(c, _)| *c == ANNOUNCE));
    assert!(posts[0].1.contains("14 days left"), "{}", posts[0].1);
    assert!(posts[1].1.contains("5 days left"), "{}", posts[1].1);
    assert!(posts[2].1.contains("1 day left"), "{}", posts[2].1);
    for (_, p) in &posts {
        assert!(
            p.contains("If you do nothing, you count as opted in"),
            "{p}"
        );
        assert!(p.contains("never reads your Discord messages"), "{p}");
    }
    // No channel set: nothing is claimed either.
    let quiet = Scheduler::new(s, NoPoster, Channels::default());
    assert!(!quiet.announce().await.unwrap());
}
