//! The mail worker against a real SMTP server on loopback (aiosmtpd from Debian's packages).

use crate::common;

use chrono::Duration;
use common::{SmtpServer, TestApp, console, free_port, header};
use dsr_bot::services::Origin;
use dsr_bot::{
    domain::{Channel, EmailAddress, RequestKind},
    email::Mailer,
    workers::outbox::{OutboxWorker, Step},
};

async fn queue_one_code_mail(app: &TestApp) {
    let email = EmailAddress::parse("alice@example.org").ok();
    app.services
        .file_request(
            &Origin::new(&console("alice"), Channel::Console),
            RequestKind::OptOut,
            email,
        )
        .await
        .unwrap();
}

async fn stored_message_id(app: &TestApp) -> String {
    sqlx::query_scalar("SELECT message_id FROM outbox")
        .fetch_one(app.services.pool())
        .await
        .unwrap()
}

#[tokio::test]
async fn the_worker_delivers_a_queued_mail_to_a_real_smtp_server() {
    let app = TestApp::spawn().await;
    let maildir = app.dir.path().join("maildir");
    let server = SmtpServer::start(free_port(), &maildir);
    queue_one_code_mail(&app).await;
    let worker = OutboxWorker::new(app.services.clone(), Mailer::smtp(&server.url()).unwrap());

    let step = worker.try_deliver_next().await.unwrap();

    assert!(matches!(step, Step::Delivered { .. }), "{step:?}");
    assert_eq!(worker.try_deliver_next().await.unwrap(), Step::Empty);
    let messages = server.messages();
    assert_eq!(messages.len(), 1);
    let raw = &messages[0];
    assert_eq!(header(raw, "To"), Some("alice@example.org"));
    assert_eq!(
        header(raw, "Message-ID"),
        Some(stored_message_id(&app).await.as_str())
    );
    assert_eq!(header(raw, "Auto-Submitted"), Some("auto-generated"));
    assert!(raw.contains("multipart/alternative"));
    assert_eq!(
        app.scalar_i64("SELECT COUNT(*) FROM outbox WHERE sent_at IS NOT NULL")
            .await,
        1
    );
}

#[tokio::test]
async fn mail_queued_while_the_server_is_down_arrives_exactly_once_after_it_returns() {
    let app = TestApp::spawn().await;
    let port = free_port();
    let maildir = app.dir.path().join("maildir");
    queue_one_code_mail(&app).await;
    let worker = OutboxWorker::new(
        app.services.clone(),
        Mailer::smtp(&format!("smtp://127.0.0.1:{port}")).unwrap(),
    );

    // Nothing listens yet: the attempt fails, the row stays, and its retry is scheduled.
    let step = worker.try_deliver_next().await.unwrap();
    assert!(matches!(step, Step::Failed { attempts: 1, .. }), "{step:?}");
    assert_eq!(
        worker.try_deliver_next().await.unwrap(),
        Step::Empty,
        "not due again before the backoff"
    );
    app.clock.advance(Duration::seconds(31));
    assert!(matches!(
        worker.try_deliver_next().await.unwrap(),
        Step::Failed { attempts: 2, .. }
    ));
    let (attempts, error): (i64, String) =
        sqlx::query_as("SELECT attempts, last_error FROM outbox")
            .fetch_one(app.services.pool())
            .await
            .unwrap();
    assert_eq!(attempts, 2);
    assert!(!error.contains("alice@"), "{error}");

    let server = SmtpServer::start(port, &maildir);
    assert_eq!(
        worker.try_deliver_next().await.unwrap(),
        Step::Empty,
        "still waiting out the 60 s backoff"
    );
    app.clock.advance(Duration::seconds(61));
    let summary = worker.flush().await.unwrap();

    assert_eq!((summary.delivered, summary.failed), (1, 0));
    assert_eq!(worker.flush().await.unwrap().delivered, 0);
    let messages = server.messages();
    assert_eq!(messages.len(), 1);
    assert_eq!(
        header(&messages[0], "Message-ID"),
        Some(stored_message_id(&app).await.as_str())
    );
}

/// The first part of a rush with the server down: a backlog builds, every attempt fails and
/// is kept; once the server is back, the concurrent senders drain it with each mail once.
#[tokio::test]
async fn a_backlog_built_while_the_server_is_down_drains_once_through_concurrent_senders() {
    let app = TestApp::spawn().await;
    assert!(app.services.config().mail_concurrency > 1);
    let port = free_port();
    for n in 0..40 {
        app.services
            .file_request(
                &Origin::new(&console(&format!("member{n}")), Channel::Console),
                RequestKind::OptOut,
                EmailAddress::parse(&format!("member{n}@example.org")).ok(),
            )
            .await
            .unwrap();
    }
    let worker = OutboxWorker::new(
        app.services.clone(),
        Mailer::smtp(&format!("smtp://127.0.0.1:{port}")).unwrap(),
    );

    let down = worker.flush().await.unwrap();
    assert_eq!((down.delivered, down.failed), (0, 40));

    let server = SmtpServer::start(port, &app.dir.path().join("maildir"));
    app.clock.advance(Duration::seconds(31));
    let up = worker.flush().await.unwrap();

    assert_eq!((up.delivered, up.failed), (40, 0));
    assert_eq!(worker.flush().await.unwrap().delivered, 0);
    let mut delivered: Vec<String> = server
        .messages()
        .iter()
        .map(|m| header(m, "Message-ID").unwrap().to_owned())
        .collect();
    delivered.sort();
    let mut stored: Vec<String> = sqlx::query_scalar("SELECT message_id FROM outbox")
        .fetch_all(app.services.pool())
        .await
        .unwrap();
    stored.sort();
    assert_eq!(delivered, stored, "every mail once, nothing else");
}

/// The relay keeps its connection for the next mail; when the server has dropped it in the
/// meantime (here: restarted), the mail goes out on a fresh connection, not into a retry.
#[tokio::test]
async fn a_pooled_connection_the_server_dropped_is_replaced_without_failing_the_mail() {
    let app = TestApp::spawn().await;
    let port = free_port();
    let first = SmtpServer::start(port, &app.dir.path().join("first"));
    let worker = OutboxWorker::new(
        app.services.clone(),
        Mailer::smtp(&format!("smtp://127.0.0.1:{port}")).unwrap(),
    );
    queue_one_code_mail(&app).await;
    assert!(matches!(
        worker.try_deliver_next().await.unwrap(),
        Step::Delivered { .. }
    ));
    assert_eq!(first.messages().len(), 1);
    first.stop();
    let second = SmtpServer::start(port, &app.dir.path().join("second"));
    app.services
        .file_request(
            &Origin::new(&console("bob"), Channel::Console),
            RequestKind::OptOut,
            EmailAddress::parse("bob@example.org").ok(),
        )
        .await
        .unwrap();

    let step = worker.try_deliver_next().await.unwrap();

    let error: Option<String> = sqlx::query_scalar("SELECT last_error FROM outbox WHERE id = 2")
        .fetch_one(app.services.pool())
        .await
        .unwrap();
    assert!(matches!(step, Step::Delivered { .. }), "{step:?} {error:?}");
    let messages = second.messages();
    assert_eq!(messages.len(), 1);
    assert_eq!(header(&messages[0], "To"), Some("bob@example.org"));
}

#[tokio::test]
async fn a_resend_after_a_lost_acknowledgement_carries_the_same_message_id() {
    let app = TestApp::spawn().await;
    let maildir = app.dir.path().join("maildir");
    let server = SmtpServer::start(free_port(), &maildir);
    queue_one_code_mail(&app).await;
    let worker = OutboxWorker::new(app.services.clone(), Mailer::smtp(&server.url()).unwrap());
    worker.try_deliver_next().await.unwrap();

    // A crash between the server's acceptance and the row's marking looks like this: the
    // row is unsent again once its lease runs out.
    sqlx::query("UPDATE outbox SET sent_at = NULL")
        .execute(app.services.pool())
        .await
        .unwrap();
    assert_eq!(
        worker.try_deliver_next().await.unwrap(),
        Step::Empty,
        "leased to the crashed worker"
    );
    app.clock.advance(Duration::seconds(301));
    assert!(matches!(
        worker.try_deliver_next().await.unwrap(),
        Step::Delivered { .. }
    ));

    let ids: Vec<String> = server
        .messages()
        .iter()
        .map(|m| header(m, "Message-ID").unwrap().to_owned())
        .collect();
    assert_eq!(ids.len(), 2);
    assert_eq!(ids[0], ids[1]);
}

#[tokio::test]
async fn folder_delivery_writes_one_eml_per_mail_and_a_resend_overwrites_it() {
    let app = TestApp::spawn().await;
    queue_one_code_mail(&app).await;
    let worker = OutboxWorker::new(app.services.clone(), Mailer::Folder(app.outbox_dir()));

    worker.flush().await.unwrap();
    sqlx::query("UPDATE outbox SET sent_at = NULL")
        .execute(app.services.pool())
        .await
        .unwrap();
    worker.flush().await.unwrap();

    let files: Vec<_> = std::fs::read_dir(app.outbox_dir())
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    assert_eq!(files, [std::ffi::OsString::from("000001.eml")]);
    let raw = std::fs::read_to_string(app.outbox_dir().join("000001.eml")).unwrap();
    let code = app.latest_code().await;
    assert!(
        raw.contains(&code),
        "the .eml carries the code in plain text"
    );
}
