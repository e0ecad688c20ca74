//! The IMAP poller against a real Dovecot on loopback, with the confirmation delivered to a
//! real SMTP server: the whole email loop.

use crate::common;

use common::{Dovecot, SmtpServer, TestApp, console, free_port, header};
use dsr_bot::{
    config::ImapTarget,
    console::answer_line,
    domain::{Channel, EmailAddress},
    email::{Mailer, intake::ingest_raw},
    services::Origin,
    workers::{
        imap::{DONE_KEYWORD, HELD_KEYWORD, ImapPoller},
        outbox::OutboxWorker,
    },
};

type Session = async_imap::Session<tokio::net::TcpStream>;

async fn imap(server: &Dovecot) -> Session {
    let tcp = tokio::net::TcpStream::connect(("127.0.0.1", server.port))
        .await
        .unwrap();
    let mut client = async_imap::Client::new(tcp);
    client.read_response().await.unwrap().unwrap();
    let mut s = client
        .login("privacy", "secret")
        .await
        .map_err(|(e, _)| e)
        .unwrap();
    s.select("INBOX").await.unwrap();
    s
}

async fn count(s: &mut Session, query: &str) -> usize {
    s.select("INBOX").await.unwrap();
    s.uid_search(query).await.unwrap().len()
}

fn reply(token: &str, in_reply_to: &str, id: &str, body: &str) -> String {
    format!(
        "From: Alice <alice@example.net>\r\nTo: privacy+{token}@example.org\r\nSubject: Re: Your code\r\n\
         Message-ID: {id}\r\nIn-Reply-To: {in_reply_to}\r\nContent-Type: text/plain\r\n\r\n{body}\r\n"
    )
}

async fn code_mail(app: &TestApp) -> (String, String) {
    sqlx::query_as(
        "SELECT reply_token, message_id FROM outbox WHERE template = 'confirmation_code'",
    )
    .fetch_one(app.services.pool())
    .await
    .unwrap()
}

#[tokio::test]
async fn a_console_request_is_confirmed_by_a_reply_in_the_mailbox_and_the_confirmation_is_mailed() {
    let dovecot = Dovecot::start();
    let app = TestApp::spawn().await;
    let smtp = SmtpServer::start(free_port(), &app.dir.path().join("maildir"));
    let alice = console("alice");
    answer_line(
        &app.services,
        &Origin::new(&alice, Channel::Console),
        "/optout email:alice@example.net",
    )
    .await
    .unwrap();
    let (token, msgid) = code_mail(&app).await;
    let mut s = imap(&dovecot).await;
    let body =
        "confirm\r\n\r\nOn Wed, dsr-bot <privacy@example.org> wrote:\r\n> /verify code:123456";
    s.append(
        "INBOX",
        None,
        None,
        reply(&token, &msgid, "<imap-1@example.net>", body),
    )
    .await
    .unwrap();
    let poller = ImapPoller::new(
        app.services.clone(),
        ImapTarget::parse(&dovecot.url()).unwrap(),
    );

    let summary = poller.poll_once().await.unwrap();

    assert_eq!((summary.handled, summary.held), (1, 0));
    assert_eq!(app.request_state(1).await, "confirmed");
    assert_eq!(
        count(&mut s, &format!("KEYWORD {DONE_KEYWORD}")).await,
        1,
        "marked, not deleted"
    );
    assert_eq!(count(&mut s, "SEEN").await, 1);
    assert_eq!(
        poller.poll_once().await.unwrap().handled,
        0,
        "a marked message is not read again"
    );

    let worker = OutboxWorker::new(app.services.clone(), Mailer::smtp(&smtp.url()).unwrap());
    worker.flush().await.unwrap();
    let delivered = smtp.messages();
    let answer = delivered
        .iter()
        .find(|m| header(m, "In-Reply-To") == Some("<imap-1@example.net>"))
        .expect("the answer to the reply reached the SMTP server");
    assert!(answer.contains("is confirmed"), "{answer}");
    assert!(header(answer, "Reply-To").unwrap().starts_with("privacy+"));
}

#[tokio::test]
async fn a_poll_that_died_before_marking_resumes_without_a_second_effect() {
    let dovecot = Dovecot::start();
    let app = TestApp::spawn().await;
    answer_line(
        &app.services,
        &Origin::new(&console("alice"), Channel::Console),
        "/optout email:alice@example.net",
    )
    .await
    .unwrap();
    let (token, msgid) = code_mail(&app).await;
    let raw = reply(&token, &msgid, "<imap-2@example.net>", "cancel");
    let mut s = imap(&dovecot).await;
    s.append("INBOX", None, None, &raw).await.unwrap();
    // The earlier poll handled the message, then died before setting its keyword.
    ingest_raw(&app.services, raw.as_bytes()).await.unwrap();
    let mails_before = app.count("outbox").await;
    let poller = ImapPoller::new(
        app.services.clone(),
        ImapTarget::parse(&dovecot.url()).unwrap(),
    );

    let summary = poller.poll_once().await.unwrap();

    assert_eq!(summary.handled, 1);
    assert_eq!(
        app.scalar_i64("SELECT COUNT(*) FROM email_verifications WHERE refused_at IS NOT NULL")
            .await,
        1,
        "the no was taken once"
    );
    assert_eq!(app.count("outbox").await, mails_before, "no second answer");
    assert_eq!(count(&mut s, &format!("KEYWORD {DONE_KEYWORD}")).await, 1);
}

#[tokio::test]
async fn an_oversized_message_is_flagged_and_kept_without_being_downloaded() {
    let dovecot = Dovecot::start();
    let app = TestApp::spawn_with(common::at(common::BEFORE_DEADLINE), |c| {
        c.inbound.max_message_bytes = 4_096
    })
    .await;
    let mut s = imap(&dovecot).await;
    let big = format!(
        "From: bob@example.net\r\nTo: privacy@example.org\r\nSubject: opt out\r\nMessage-ID: <big@x>\r\n\r\nopt out\r\n{}\r\n",
        "x".repeat(10_000)
    );
    s.append("INBOX", None, None, &big).await.unwrap();
    let poller = ImapPoller::new(
        app.services.clone(),
        ImapTarget::parse(&dovecot.url()).unwrap(),
    );

    let summary = poller.poll_once().await.unwrap();

    assert_eq!((summary.handled, summary.held), (0, 1));
    assert_eq!(
        count(&mut s, &format!("KEYWORD {HELD_KEYWORD} FLAGGED")).await,
        1
    );
    assert_eq!(count(&mut s, "ALL").await, 1, "kept in the mailbox");
    assert_eq!(app.count("requests").await, 0);
    let _: Vec<_> = s.logout().await.into_iter().collect();
}

/// Once a person is erased, the copies of their mail the poller marked in the mailbox are
/// expunged on the next poll; other people's mail stays.
#[tokio::test]
async fn an_erased_persons_mail_is_expunged_from_the_mailbox() {
    use dsr_bot::{domain::RequestKind, services::Call};
    let dovecot = Dovecot::start();
    let app = TestApp::spawn().await;
    let alice = Origin::new(&console("alice"), Channel::Console);
    app.services
        .file_request(
            &alice,
            RequestKind::OptOut,
            EmailAddress::parse("alice@example.net").ok(),
        )
        .await
        .unwrap();
    let (token, msgid) = code_mail(&app).await;
    let mut s = imap(&dovecot).await;
    let other = "From: Bob <bob@example.net>\r\nTo: privacy@example.org\r\nSubject: hi\r\n\
                 Message-ID: <bob-1@example.net>\r\n\r\nstatus\r\n";
    s.append(
        "INBOX",
        None,
        None,
        reply(&token, &msgid, "<a-yes@example.net>", "yes").as_bytes(),
    )
    .await
    .unwrap();
    s.append("INBOX", None, None, other.as_bytes())
        .await
        .unwrap();
    let poller = ImapPoller::new(
        app.services.clone(),
        ImapTarget::parse(&dovecot.url()).unwrap(),
    );
    assert_eq!(poller.poll_once().await.unwrap().handled, 2);
    let del = app
        .services
        .file_request(&alice, RequestKind::Deletion, None)
        .await
        .unwrap()
        .request_id
        .unwrap();
    app.services.confirm(&alice).await.unwrap();
    let code = app.latest_code().await;
    app.services.verify(&alice, &code).await.unwrap();
    assert_eq!(count(&mut s, "FROM alice@example.net").await, 1);

    app.services
        .requests()
        .complete(
            Call::on(Channel::Console),
            &dsr_bot::services::Officer::Operator,
            del,
        )
        .await
        .unwrap();
    poller.poll_once().await.unwrap();

    assert_eq!(count(&mut s, "FROM alice@example.net").await, 0);
    assert_eq!(count(&mut s, "FROM bob@example.net").await, 1);
}
