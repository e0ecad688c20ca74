//! Edges found by trying the bot as a hostile user and a stressed operator would: limits that
//! protect the owner of an address, officers' text that goes with the person, templates that
//! are checked as they are used, times to the microsecond, and imports of any size.

use crate::common;

use chrono::Duration;
use common::{TestApp, at, console, output, printed, run_bin};
use dsr_bot::{
    domain::{Channel, EmailAddress, RequestKind},
    email::Mailer,
    email::intake::ingest_raw,
    error::ServiceError,
    services::{Call, Origin},
    workers::outbox::OutboxWorker,
};

fn user_error<T: std::fmt::Debug>(r: Result<T, ServiceError>) -> String {
    match r {
        Err(ServiceError::User(e)) => e.text().to_owned(),
        other => panic!("expected a refusal, got {other:?}"),
    }
}

fn address(a: &str) -> Option<EmailAddress> {
    Some(EmailAddress::parse(a).unwrap())
}

#[tokio::test]
async fn strangers_guessing_codes_for_an_address_never_lock_its_owner_out() {
    let app = TestApp::spawn().await;
    for stranger in ["mallory", "trudy"] {
        let who = Origin::new(&console(stranger), Channel::Console);
        app.services
            .file_request(&who, RequestKind::OptOut, address("victim@example.org"))
            .await
            .unwrap();
        for _ in 0..5 {
            let _ = app.services.verify(&who, "000000").await;
        }
    }
    let owner = Origin::new(&console("victim"), Channel::Console);
    app.services
        .file_request(&owner, RequestKind::OptOut, address("victim@example.org"))
        .await
        .unwrap();
    let code = app.latest_code().await;
    let reply = app.services.verify(&owner, &code).await.unwrap();
    assert!(reply.text.contains("is verified"), "{}", reply.text);

    // A stranger's own tries are still limited: a new code gives no new guesses today.
    let mallory = Origin::new(&console("mallory"), Channel::Console);
    app.clock.advance(Duration::minutes(1));
    let refused = app.services.verify(&mallory, "000000").await;
    assert!(refused.is_err());
}

#[tokio::test]
async fn one_account_cannot_flood_an_inbox_through_plus_tags_or_repeats() {
    let app = TestApp::spawn().await;
    let who = Origin::new(&console("flooder"), Channel::Console);
    let mut refusals = 0;
    for n in 1..=50 {
        // Spread over the minute limit, inside the hour.
        app.clock.advance(Duration::seconds(20));
        let r = app
            .services
            .file_request(
                &who,
                RequestKind::OptOut,
                address(&format!("victim+{n}@example.org")),
            )
            .await;
        if r.is_err() {
            refusals += 1;
        }
    }
    let codes = app
        .scalar_i64(
            "SELECT COUNT(*) FROM outbox WHERE template = 'confirmation_code' AND recipient LIKE 'victim%'",
        )
        .await;
    assert!(codes <= 3, "{codes} code mails reached one inbox");
    assert!(refusals > 0);

    // Repeats that send mail count like new requests: past REQUESTS_PER_HOUR they stop.
    let app = TestApp::spawn_with(common::at(common::BEFORE_DEADLINE), |c| {
        c.limits.code_mails_per_day = 100;
        c.limits.requests_per_hour = 5;
    })
    .await;
    for n in 1..=20 {
        app.clock.advance(Duration::seconds(10));
        let _ = app
            .services
            .file_request(
                &who,
                RequestKind::OptOut,
                address(&format!("other{n}@example.org")),
            )
            .await;
    }
    let codes = app
        .scalar_i64("SELECT COUNT(*) FROM outbox WHERE template = 'confirmation_code'")
        .await;
    assert!(codes <= 5, "{codes} code mails for 5 requests an hour");
}

#[tokio::test]
async fn a_database_failure_while_counting_a_limit_is_an_error_not_a_deferral() {
    let app = TestApp::spawn().await;
    sqlx::query("DROP TABLE limit_events")
        .execute(app.services.pool())
        .await
        .unwrap();
    let mail = b"From: a@example.net\r\nTo: privacy@example.org\r\nSubject: x\r\nMessage-ID: <d1@x>\r\n\r\nstatus\r\n";
    let handled = ingest_raw(&app.services, mail).await;
    assert!(
        matches!(handled, Err(ServiceError::Internal(_))),
        "{handled:?}"
    );
}

fn holds(bytes: &[u8], needle: &str) -> bool {
    bytes.windows(needle.len()).any(|w| w == needle.as_bytes())
}

#[tokio::test]
async fn an_extension_reason_goes_with_the_person_and_notes_after_an_erasure_are_refused() {
    let app = TestApp::spawn_unencrypted().await;
    let hana = Origin::new(&console("hana"), Channel::Console);
    let del = app
        .services
        .file_request(&hana, RequestKind::Deletion, None)
        .await
        .unwrap()
        .request_id
        .unwrap();
    app.services.confirm(&hana).await.unwrap();
    let reasons = [
        "hana＠example.org asked us to check the forum too",
        "call back on +49 30 1234 5678",
        "account 8034 1234 5678 9012 34 in the archive",
    ];
    app.services
        .requests()
        .extend(
            Call::on(Channel::Console),
            &dsr_bot::services::Officer::Operator,
            del,
            10,
            reasons[0],
        )
        .await
        .unwrap();
    // Shown to officers while the person is there.
    let shown = app
        .services
        .requests()
        .details(&dsr_bot::services::Officer::Operator, del)
        .await
        .unwrap()
        .unwrap();
    assert!(
        shown.describe().contains("hana＠example.org"),
        "{}",
        shown.describe()
    );

    app.services
        .requests()
        .complete(
            Call::on(Channel::Console),
            &dsr_bot::services::Officer::Operator,
            del,
        )
        .await
        .unwrap();
    let worker = OutboxWorker::new(app.services.clone(), Mailer::Folder(app.outbox_dir()));
    worker.flush().await.unwrap();
    app.services.outbox().scrub_wal().await;
    let files = [
        std::fs::read(app.db_path()).unwrap(),
        std::fs::read(app.db_path().with_extension("db-wal")).unwrap_or_default(),
    ]
    .concat();
    for needle in ["hana＠example.org", "check the forum"] {
        assert!(!holds(&files, needle), "{needle} outlived the erasure");
    }
    let shown = app
        .services
        .requests()
        .details(&dsr_bot::services::Officer::Operator, del)
        .await
        .unwrap()
        .unwrap();
    assert!(
        shown.describe().contains("reason given"),
        "the trail keeps that a reason was given: {}",
        shown.describe()
    );
    let refused = app
        .services
        .requests()
        .note(
            Call::on(Channel::Console),
            &dsr_bot::services::Officer::Operator,
            del,
            "hana@example.org wrote again",
        )
        .await;
    assert!(user_error(refused).contains("erased"));
    assert_eq!(app.count("request_notes").await, 0);
    let _ = reasons;
}

const BREAKS_ON_A_DELETION: &[(&str, &str)] = &[
    (
        "request_received.txt",
        "Subject: Request #{{ request_id }}\n{% if kind == \"deletion\" %}{{ reason|length }}{% endif %}\n",
    ),
    (
        "request_received.txt",
        "Subject: Request #{{ request_id }}\n{% if kind == \"deletion\" %}{{ kind.title() }}{% endif %}\n",
    ),
    (
        "change_confirmed.txt",
        "Subject: Request #{{ request_id }}\n{% if code %}{{ code.split() }}{% endif %}\n",
    ),
    (
        "reminder.txt",
        "Subject: Request #{{ request_id }}\n{% if kind != \"opt_out\" %}{{ kind.nope }}{% endif %}\n",
    ),
    (
        "reply.txt",
        "Subject: Re\n{{ message }}{% if not request %}{{ request.due }}{% endif %}\n",
    ),
];

#[test]
fn templates_check_and_start_up_refuse_overrides_that_fail_for_any_kind_or_value() {
    for (file, text) in BREAKS_ON_A_DELETION {
        let dir = tempfile::tempdir().unwrap();
        let own = dir.path().join("own/email");
        std::fs::create_dir_all(&own).unwrap();
        std::fs::write(own.join(file), text).unwrap();
        let checked = run_bin(dir.path(), &["templates", "check", "own"], &[]);
        let text_out = printed(&checked);
        assert!(
            !checked.status.success() && text_out.contains(file),
            "{file}: {text_out}"
        );
        let started = run_bin(dir.path(), &["migrate"], &[("TEMPLATES_DIR", "own")]);
        assert!(
            !started.status.success() && printed(&started).contains(file),
            "{file}: {}",
            printed(&started)
        );
    }
}

#[tokio::test]
async fn a_request_a_fraction_of_a_second_after_the_deadline_is_after_it() {
    let deadline = "2025-09-28T23:59:59Z";
    let app = TestApp::spawn_with(at("2025-09-28T23:59:59.2Z"), |c| {
        c.policy_deadline = at(deadline);
    })
    .await;
    let reply = app.file(&console("late"), RequestKind::OptOut).await;
    assert!(
        reply.text.contains("after the deadline") && !reply.text.contains("exactly"),
        "{}",
        reply.text
    );
    // And imported history likewise.
    let rows = dsr_bot::services::import::parse_csv(
        "received_at,kind,email,status\n2025-09-28T23:59:59.600Z,opt_out,old@example.net,confirmed\n\
         2025-09-28T23:59:58.900Z,opt_out,early@example.net,confirmed\n",
        at("2026-01-01T00:00:00Z"),
    )
    .unwrap();
    app.services.import_rows(rows, |_| {}).await.unwrap();
    let report = app
        .services
        .reports()
        .month(Some("2025-09".parse().unwrap()))
        .await
        .unwrap();
    assert_eq!(report.figures.after_deadline, 2, "{:?}", report.figures);
    assert_eq!(report.figures.before_deadline, 1, "{:?}", report.figures);
    let stored: String = sqlx::query_scalar("SELECT received_at FROM requests WHERE id = 1")
        .fetch_one(app.services.pool())
        .await
        .unwrap();
    assert!(stored.contains("59.2"), "{stored}");
}

#[test]
fn an_import_off_a_terminal_says_how_far_it_is() {
    let dir = tempfile::tempdir().unwrap();
    let mut csv = String::from("received_at,kind,email,status\n");
    for n in 0..3_000 {
        csv.push_str(&format!(
            "2025-09-{:02}T10:00:00Z,opt_out,p{n}@example.net,confirmed\n",
            1 + n % 28
        ));
    }
    std::fs::write(dir.path().join("rows.csv"), csv).unwrap();
    let out = output(common::bin(dir.path()).args(["import", "rows.csv"]), b"");
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{}", printed(&out));
    assert!(err.contains("3000 rows checked"), "{err}");
    assert!(err.contains("3000 of 3000"), "{err}");
}

#[test]
fn templates_check_names_the_unknown_name_and_the_names_there_are() {
    let dir = tempfile::tempdir().unwrap();
    let own = dir.path().join("own/email");
    std::fs::create_dir_all(&own).unwrap();
    std::fs::write(
        own.join("reminder.txt"),
        "Subject: Reminder\n\nHello,\n\nIt expires {{ expirs }}.\n",
    )
    .unwrap();
    let out = run_bin(dir.path(), &["templates", "check", "own"], &[]);
    let text = printed(&out);
    assert!(!out.status.success(), "{text}");
    assert!(text.contains("reminder.txt:5:"), "{text}");
    assert!(text.contains("`expirs` is not a name"), "{text}");
    assert!(
        text.contains("expires") && text.contains("request_id"),
        "{text}"
    );
}

#[tokio::test]
async fn a_database_upgraded_by_a_newer_version_is_refused_at_once_saying_so() {
    let app = TestApp::spawn().await;
    sqlx::query(
        "INSERT INTO _sqlx_migrations (version, description, success, checksum, execution_time)
         VALUES (29991231000099, 'from a newer version', 1, x'00', 0)",
    )
    .execute(app.services.pool())
    .await
    .unwrap();
    let config = app.services.config().clone();
    drop(app.services);
    for access in [
        dsr_bot::db::Access::ReadWrite,
        dsr_bot::db::Access::ReadOnly,
    ] {
        let refused = dsr_bot::db::connect(&config, access)
            .await
            .err()
            .expect("an older version must not open a newer database");
        let said = format!("{refused:#}");
        assert!(said.contains("newer dsr-bot"), "{said}");
        assert!(said.contains("29991231000099"), "{said}");
    }
}
