//! A completed deletion erases the person: nothing that names them stays in the database.

use crate::common;

use common::{TestApp, console};
use dsr_bot::services::{Call, Origin};
use dsr_bot::{
    domain::{Actor, Channel, EmailAddress, RequestKind},
    email::Mailer,
    error::ServiceError,
    workers::outbox::OutboxWorker,
};

const CH: Channel = Channel::Console;

/// `who` opts out with `address` and proves it with the mailed code, then asks for deletion
/// and confirms it in chat and, since the address is linked, with a second code. Returns the
/// deletion's request id, ready to be completed.
async fn deletion_ready(app: &TestApp, who: &Actor, ch: Channel, address: &str) -> i64 {
    app.services
        .file_request(
            &Origin::new(who, ch),
            RequestKind::OptOut,
            EmailAddress::parse(address).ok(),
        )
        .await
        .unwrap();
    let code = app.latest_code().await;
    app.services
        .verify(&Origin::new(who, ch), &code)
        .await
        .unwrap();
    let del = app
        .services
        .file_request(&Origin::new(who, ch), RequestKind::Deletion, None)
        .await
        .unwrap();
    app.services.confirm(&Origin::new(who, ch)).await.unwrap();
    let code = app.latest_code().await;
    app.services
        .verify(&Origin::new(who, ch), &code)
        .await
        .unwrap();
    del.request_id.unwrap()
}

/// The database file and its WAL as they are on disk now (read while the service runs).
fn on_disk(app: &TestApp) -> Vec<u8> {
    [
        std::fs::read(app.db_path()).unwrap(),
        std::fs::read(app.db_path().with_extension("db-wal")).unwrap_or_default(),
    ]
    .concat()
}

fn holds(bytes: &[u8], needle: &str) -> bool {
    bytes.windows(needle.len()).any(|w| w == needle.as_bytes())
}

#[tokio::test]
async fn completing_a_deletion_erases_identities_and_tells_the_person() {
    let app = TestApp::spawn_unencrypted().await;
    let alice = console("alice-erasable");
    let address = "alice.erasable@example.org";
    let del = deletion_ready(&app, &alice, CH, address).await;
    let worker = OutboxWorker::new(app.services.clone(), Mailer::Folder(app.outbox_dir()));
    worker.flush().await.unwrap();

    let done = app
        .services
        .requests()
        .complete(
            Call::on(Channel::Console),
            &dsr_bot::services::Officer::Operator,
            del,
        )
        .await
        .unwrap();
    assert_eq!((done.identities_erased, done.people_told), (2, 1));
    let last = app.mails().await.pop().unwrap();
    assert_eq!(
        (last.0.as_str(), last.1.as_str()),
        ("deletion_completed", address)
    );
    worker.flush().await.unwrap();

    // Read while the service still runs, so the WAL is looked at as it is, not after a close.
    let db_bytes = on_disk(&app);
    for needle in [address, "alice-erasable"] {
        assert!(
            !holds(&db_bytes, needle),
            "{needle} is still in the database file or its WAL"
        );
    }
}

#[tokio::test]
async fn after_erasure_the_requests_remain_countable_but_name_no_one() {
    let app = TestApp::spawn_unencrypted().await;
    let alice = console("alice");
    let del = app.file(&alice, RequestKind::Deletion).await;
    app.services
        .confirm(&Origin::new(&alice, CH))
        .await
        .unwrap();

    app.services
        .requests()
        .complete(
            Call::on(Channel::Console),
            &dsr_bot::services::Officer::Operator,
            del.request_id.unwrap(),
        )
        .await
        .unwrap();

    assert_eq!(
        app.request_state(del.request_id.unwrap()).await,
        "completed"
    );
    assert_eq!(app.count("identities").await, 0);
    assert_eq!(app.count("erasure_receipts").await, 1);
    assert_eq!(
        app.scalar_i64("SELECT COUNT(*) FROM people WHERE erased_at IS NOT NULL")
            .await,
        1
    );
    // Coming back later finds none of the old history (a question makes no new person).
    let status = app.services.status(&Origin::new(&alice, CH)).await.unwrap();
    assert!(
        status.text.contains("No choice recorded"),
        "{}",
        status.text
    );
    assert_eq!(app.count("people").await, 1);
}

#[tokio::test]
async fn only_a_confirmed_deletion_can_be_completed() {
    let app = TestApp::spawn_unencrypted().await;
    let alice = console("alice");
    let out = app.file(&alice, RequestKind::OptOut).await;
    let del = app.file(&alice, RequestKind::Deletion).await;

    for (id, expected) in [
        (out.request_id.unwrap(), "only deletion requests"),
        (del.request_id.unwrap(), "only a confirmed deletion"),
        (999, "There is no request #999"),
    ] {
        match app
            .services
            .requests()
            .complete(
                Call::on(Channel::Console),
                &dsr_bot::services::Officer::Operator,
                id,
            )
            .await
        {
            Err(ServiceError::User(e)) => assert!(e.text().contains(expected), "{}", e.text()),
            other => panic!("#{id}: {other:?}"),
        }
    }
    assert_eq!(app.count("identities").await, 1);
}

/// The fault case, end to end for a Discord member with a linked address: once the
/// deletion is complete and its final mail has been handed to a real SMTP server, neither the
/// address nor the Discord id is in the database file, its WAL, or any log line (traced at the
/// most verbose level while it all happened).
#[tokio::test]
async fn a_deleted_discord_member_is_in_no_file_and_no_log_once_the_last_mail_is_handed_over() {
    use common::{SmtpServer, free_port, header};
    use dsr_bot::domain::DiscordId;

    let logs = common::trace_logs();

    let app = TestApp::spawn_unencrypted().await;
    let server = SmtpServer::start(free_port(), &app.dir.path().join("maildir"));
    let worker = OutboxWorker::new(app.services.clone(), Mailer::smtp(&server.url()).unwrap());
    let (id, address) = (803_412_345_678_901_234u64, "dora.discord@example.org");
    let dora = Actor::Discord(DiscordId(id));
    let del = deletion_ready(&app, &dora, Channel::Discord, address).await;
    // The search does find them while they are still held.
    let before = on_disk(&app);
    assert!(holds(&before, address) && holds(&before, &id.to_string()));
    app.services
        .requests()
        .complete(
            Call::on(Channel::Console),
            &dsr_bot::services::Officer::Operator,
            del,
        )
        .await
        .unwrap();
    worker.flush().await.unwrap();
    // The last DM goes too, and is wiped once Discord took it.
    let discord = common::deliver_dms(&app.services).await;
    assert!(
        !discord
            .calls_to(&format!("POST /channels/{}/messages", id + 1))
            .is_empty(),
        "the last DM reached Discord"
    );
    app.services.outbox().scrub_wal().await;

    let last = server.messages().pop().expect("mail reached the server");
    assert_eq!(
        header(&last, "To"),
        Some(address),
        "the final mail went out"
    );
    assert_eq!(
        app.scalar_i64("SELECT COUNT(*) FROM outbox WHERE sent_at IS NULL")
            .await,
        0
    );
    let files = on_disk(&app);
    let logs = String::from_utf8(logs.lock().unwrap().clone()).unwrap();
    assert!(logs.contains("mail delivered"), "the logs were captured");
    for needle in [
        address.to_owned(),
        "dora.discord".to_owned(),
        id.to_string(),
    ] {
        assert!(
            !holds(&files, &needle),
            "{needle} is still in the database file or its WAL"
        );
        assert!(!logs.contains(&needle), "{needle} is in the logs");
    }
}

/// A reader holding an old snapshot keeps the checkpoint after an erasure from finishing: the
/// erased address is then still in the database file. The checkpoint stays owed, and the next
/// mail round finishes it once the reader is gone.
#[tokio::test]
async fn a_checkpoint_blocked_by_a_reader_is_finished_by_the_next_mail_round() {
    use common::{BEFORE_DEADLINE, at};
    use sqlx::Connection;
    // One sender: a checkpoint waiting out the reader holds the write lock, and a second
    // sender's claim would give up within the same short wait.
    let app = TestApp::spawn_with(at(BEFORE_DEADLINE), |c| {
        // Unencrypted, so the search of the files below can see what it looks for.
        c.database_key = dsr_bot::config::DatabaseKey::Plain;
        c.sqlite_busy_timeout_ms = 100;
        c.mail_concurrency = 1;
    })
    .await;
    let bea = console("bea-blocked");
    let address = "bea.blocked@example.org";
    let del = deletion_ready(&app, &bea, CH, address).await;
    let worker = OutboxWorker::new(app.services.clone(), Mailer::Folder(app.outbox_dir()));
    worker.flush().await.unwrap();
    let held = || holds(&on_disk(&app), address);

    let mut reader =
        sqlx::SqliteConnection::connect(&format!("sqlite://{}", app.db_path().display()))
            .await
            .unwrap();
    sqlx::query("BEGIN").execute(&mut reader).await.unwrap();
    sqlx::query("SELECT COUNT(*) FROM people")
        .fetch_one(&mut reader)
        .await
        .unwrap();
    app.services
        .requests()
        .complete(
            Call::on(Channel::Console),
            &dsr_bot::services::Officer::Operator,
            del,
        )
        .await
        .unwrap();
    worker.flush().await.unwrap();
    assert!(
        held(),
        "while the reader holds its snapshot, the old page stays in the file"
    );

    sqlx::query("COMMIT").execute(&mut reader).await.unwrap();
    worker.flush().await.unwrap();

    assert!(!held(), "the owed checkpoint ran with the next round");
}
