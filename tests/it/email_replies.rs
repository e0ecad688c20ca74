//! People acting by email: replies matched by token and sender, new messages that wait for a
//! confirming reply, and everything that must change nothing.

use crate::common;

use chrono::Duration;
use common::{TestApp, console};
use dsr_bot::services::Origin;
use dsr_bot::{
    domain::{Channel, EmailAddress, RequestKind},
    email::intake::ingest_raw,
    services::Disposition,
};

const ALICE: &str = "alice@example.net";

/// (token, message_id) of the newest mail to `to`.
async fn latest_mail_to(app: &TestApp, to: &str) -> (String, String, String) {
    sqlx::query_as(
        "SELECT reply_token, message_id, template FROM outbox WHERE recipient = ? ORDER BY id DESC LIMIT 1",
    )
    .bind(to)
    .fetch_one(app.services.pool())
    .await
    .unwrap()
}

fn reply(
    from: &str,
    token: Option<&str>,
    in_reply_to: Option<&str>,
    message_id: Option<&str>,
    body: &str,
) -> Vec<u8> {
    let mut m = format!("From: Someone <{from}>\r\n");
    match token {
        Some(t) => m.push_str(&format!("To: privacy+{t}@example.org\r\n")),
        None => m.push_str("To: privacy@example.org\r\n"),
    }
    m.push_str("Subject: Re: Please confirm\r\n");
    if let Some(id) = message_id {
        m.push_str(&format!("Message-ID: {id}\r\n"));
    }
    if let Some(p) = in_reply_to {
        m.push_str(&format!("In-Reply-To: {p}\r\nReferences: {p}\r\n"));
    }
    m.push_str("Content-Type: text/plain; charset=utf-8\r\n\r\n");
    m.push_str(body);
    m.into_bytes()
}

async fn opt_out_by_console_with_email(app: &TestApp) -> i64 {
    app.services
        .file_request(
            &Origin::new(&console("alice"), Channel::Console),
            RequestKind::OptOut,
            EmailAddress::parse(ALICE).ok(),
        )
        .await
        .unwrap()
        .request_id
        .unwrap()
}

async fn outbox_count(app: &TestApp) -> i64 {
    app.count("outbox").await
}

/// Codes sent for an address that were neither used nor refused.
async fn pending_codes(app: &TestApp) -> i64 {
    app.scalar_i64(
        "SELECT COUNT(*) FROM email_verifications WHERE verified_at IS NULL AND refused_at IS NULL",
    )
    .await
}

#[tokio::test]
async fn a_reply_with_the_token_from_the_right_address_confirms_the_request() {
    let app = TestApp::spawn().await;
    let id = opt_out_by_console_with_email(&app).await;
    let (token, msgid, _) = latest_mail_to(&app, ALICE).await;

    let body = "Confirm\r\n\r\nOn Wed, dsr-bot <privacy@example.org> wrote:\r\n> Reply cancel if it was not you\r\n";
    let d = ingest_raw(
        &app.services,
        &reply(
            ALICE,
            Some(&token),
            Some(&msgid),
            Some("<r1@example.net>"),
            body,
        ),
    )
    .await
    .unwrap();

    assert_eq!(d, Disposition::Acted);
    assert_eq!(app.request_state(id).await, "confirmed");
    assert_eq!(
        app.scalar_i64(
            "SELECT COUNT(*) FROM identities WHERE kind = 'email' AND verified_at IS NOT NULL"
        )
        .await,
        1
    );
    let (_, _, template) = latest_mail_to(&app, ALICE).await;
    assert_eq!(template, "reply");
    let in_reply_to: String =
        sqlx::query_scalar("SELECT in_reply_to FROM outbox ORDER BY id DESC LIMIT 1")
            .fetch_one(app.services.pool())
            .await
            .unwrap();
    assert_eq!(in_reply_to, "<r1@example.net>");
}

#[tokio::test]
async fn a_reply_that_lost_the_plus_address_is_matched_by_in_reply_to() {
    let app = TestApp::spawn().await;
    let id = opt_out_by_console_with_email(&app).await;
    let (_, msgid, _) = latest_mail_to(&app, ALICE).await;

    let d = ingest_raw(
        &app.services,
        &reply(
            ALICE,
            None,
            Some(&msgid),
            Some("<r2@example.net>"),
            "yes\r\n",
        ),
    )
    .await
    .unwrap();

    assert_eq!(d, Disposition::Acted);
    assert_eq!(app.request_state(id).await, "confirmed");
}

#[tokio::test]
async fn a_forged_sender_with_a_valid_token_changes_nothing() {
    let app = TestApp::spawn().await;
    let id = opt_out_by_console_with_email(&app).await;
    let (token, msgid, _) = latest_mail_to(&app, ALICE).await;

    let d = ingest_raw(
        &app.services,
        &reply(
            "mallory@example.com",
            Some(&token),
            Some(&msgid),
            Some("<f1@x>"),
            "confirm",
        ),
    )
    .await
    .unwrap();

    assert_eq!(d, Disposition::Refused("sender does not match"));
    assert_eq!(
        app.request_state(id).await,
        "confirmed",
        "the choice was made in chat"
    );
    assert_eq!(
        pending_codes(&app).await,
        1,
        "the code still waits for its owner"
    );
    assert_eq!(
        app.scalar_i64("SELECT COUNT(*) FROM identities WHERE kind = 'email'")
            .await,
        0
    );
    let (_, _, template) = latest_mail_to(&app, "mallory@example.com").await;
    assert_eq!(template, "reply", "one polite answer to the sender");
}

#[tokio::test]
async fn a_wrong_or_expired_token_from_the_right_sender_changes_nothing() {
    let app = TestApp::spawn().await;
    let id = opt_out_by_console_with_email(&app).await;
    let (token, _, _) = latest_mail_to(&app, ALICE).await;

    let wrong = ingest_raw(
        &app.services,
        &reply(
            ALICE,
            Some("zzzzzzzzzzzzzzzzzzzz"),
            None,
            Some("<w1@x>"),
            "confirm",
        ),
    )
    .await
    .unwrap();
    assert_eq!(wrong, Disposition::Refused("unknown token"));

    app.clock.advance(Duration::days(31));
    let expired = ingest_raw(
        &app.services,
        &reply(ALICE, Some(&token), None, Some("<w2@x>"), "confirm"),
    )
    .await
    .unwrap();
    assert_eq!(expired, Disposition::Refused("expired token"));
    assert_eq!(app.request_state(id).await, "confirmed");
    assert_eq!(
        pending_codes(&app).await,
        1,
        "nothing was proven or refused"
    );
}

#[tokio::test]
async fn the_same_message_ingested_twice_takes_effect_once() {
    let app = TestApp::spawn().await;
    let id = opt_out_by_console_with_email(&app).await;
    let (token, _, _) = latest_mail_to(&app, ALICE).await;
    let raw = reply(
        ALICE,
        Some(&token),
        None,
        Some("<twice@example.net>"),
        "cancel",
    );

    assert_eq!(
        ingest_raw(&app.services, &raw).await.unwrap(),
        Disposition::Acted
    );
    let mails = outbox_count(&app).await;
    assert_eq!(
        ingest_raw(&app.services, &raw).await.unwrap(),
        Disposition::Duplicate
    );

    assert_eq!(
        app.request_state(id).await,
        "confirmed",
        "the choice was made in chat"
    );
    assert_eq!(
        pending_codes(&app).await,
        0,
        "the owner's no ended the pending link"
    );
    assert_eq!(outbox_count(&app).await, mails, "no second answer");
}

#[tokio::test]
async fn a_message_without_message_id_is_recognised_by_its_content() {
    let app = TestApp::spawn().await;
    let raw = reply(
        "bob@example.net",
        None,
        None,
        None,
        "Please opt me out\r\nopt out\r\n",
    );

    let first = ingest_raw(&app.services, &raw).await.unwrap();
    let second = ingest_raw(&app.services, &raw).await.unwrap();

    assert_eq!(first, Disposition::Acted);
    assert_eq!(second, Disposition::Duplicate);
    assert_eq!(app.count("requests").await, 1);
}

#[tokio::test]
async fn auto_replies_and_bounces_are_recorded_and_never_answered() {
    let app = TestApp::spawn().await;
    opt_out_by_console_with_email(&app).await;
    let (token, _, _) = latest_mail_to(&app, ALICE).await;
    let before = outbox_count(&app).await;
    let auto = format!(
        "From: {ALICE}\r\nTo: privacy+{token}@example.org\r\nSubject: Out of office\r\nAuto-Submitted: auto-replied\r\n\
         Message-ID: <ooo@x>\r\n\r\nconfirm\r\n"
    );
    let bounce = "Return-Path: <>\r\nFrom: MAILER-DAEMON@mail.example.net\r\nTo: privacy@example.org\r\n\
                  Subject: Undelivered\r\nMessage-ID: <b@x>\r\nContent-Type: multipart/report; report-type=delivery-status; boundary=b\r\n\r\n\
                  --b\r\nContent-Type: text/plain\r\n\r\nconfirm\r\n--b--\r\n";
    let own = "From: dsr-bot <privacy@example.org>\r\nTo: privacy@example.org\r\nSubject: x\r\nMessage-ID: <own@x>\r\n\r\nopt out\r\n";

    for raw in [auto.as_bytes(), bounce.as_bytes(), own.as_bytes()] {
        let d = ingest_raw(&app.services, raw).await.unwrap();
        assert!(matches!(d, Disposition::IgnoredAutomatic(_)), "{d:?}");
    }

    assert_eq!(outbox_count(&app).await, before);
    assert_eq!(
        app.scalar_i64(
            "SELECT COUNT(*) FROM processed_inputs WHERE disposition = 'ignored_automatic'"
        )
        .await,
        3
    );
    assert_eq!(pending_codes(&app).await, 1, "an auto-reply proves nothing");
}

#[tokio::test]
async fn a_twenty_megabyte_message_is_held_without_effect() {
    let app = TestApp::spawn().await;
    let mut raw = reply(
        "carol@example.net",
        None,
        None,
        Some("<big@x>"),
        "opt out\r\n",
    );
    raw.extend(std::iter::repeat_n(b'x', 20 * 1024 * 1024));

    let d = ingest_raw(&app.services, &raw).await.unwrap();

    assert_eq!(d, Disposition::Held);
    assert_eq!(app.count("requests").await, 0);
    assert_eq!(outbox_count(&app).await, 0);
    assert_eq!(
        app.scalar_i64("SELECT COUNT(*) FROM processed_inputs WHERE disposition = 'held'")
            .await,
        1
    );
}

#[tokio::test]
async fn a_new_email_waits_for_a_confirming_reply_before_it_counts() {
    let app = TestApp::spawn().await;
    let d = ingest_raw(
        &app.services,
        &reply(
            "dave@example.net",
            None,
            None,
            Some("<n1@x>"),
            "Hi,\r\n\r\nI want to opt out.\r\n",
        ),
    )
    .await
    .unwrap();
    assert_eq!(d, Disposition::Acted);
    assert_eq!(app.request_state(1).await, "awaiting_confirmation");
    let (token, msgid, template) = latest_mail_to(&app, "dave@example.net").await;
    assert_eq!(template, "confirm_by_reply");
    assert_eq!(
        app.count("identities").await,
        0,
        "the From line proves nothing yet"
    );

    let d = ingest_raw(
        &app.services,
        &reply(
            "dave@example.net",
            Some(&token),
            Some(&msgid),
            Some("<n2@x>"),
            "confirm",
        ),
    )
    .await
    .unwrap();

    assert_eq!(d, Disposition::Acted);
    assert_eq!(app.request_state(1).await, "confirmed");
    assert_eq!(
        app.scalar_i64("SELECT COUNT(*) FROM identities WHERE value = 'dave@example.net'")
            .await,
        1
    );
}

#[tokio::test]
async fn a_deletion_by_email_needs_the_confirming_reply_and_then_is_confirmed() {
    let app = TestApp::spawn().await;
    ingest_raw(
        &app.services,
        &reply(
            "erin@example.net",
            None,
            None,
            Some("<d1@x>"),
            "Please erase my data",
        ),
    )
    .await
    .unwrap();
    let (token, _, _) = latest_mail_to(&app, "erin@example.net").await;

    ingest_raw(
        &app.services,
        &reply(
            "erin@example.net",
            Some(&token),
            None,
            Some("<d2@x>"),
            "yes",
        ),
    )
    .await
    .unwrap();

    let (kind, state, confirmed_by_person): (String, String, Option<String>) =
        sqlx::query_as("SELECT kind, state, person_confirmed_at FROM requests WHERE id = 1")
            .fetch_one(app.services.pool())
            .await
            .unwrap();
    assert_eq!((kind.as_str(), state.as_str()), ("deletion", "confirmed"));
    assert!(confirmed_by_person.is_some());
}

#[tokio::test]
async fn an_unreadable_instruction_gets_one_answer_a_day_so_robots_cannot_loop() {
    let app = TestApp::spawn().await;
    for i in 0..3 {
        let d = ingest_raw(
            &app.services,
            &reply(
                "robot@example.net",
                None,
                None,
                Some(&format!("<l{i}@x>")),
                "Thank you for your message.",
            ),
        )
        .await
        .unwrap();
        assert!(matches!(d, Disposition::Refused(_)), "{d:?}");
    }
    assert_eq!(outbox_count(&app).await, 1);
    app.clock.advance(Duration::hours(25));
    ingest_raw(
        &app.services,
        &reply("robot@example.net", None, None, Some("<l9@x>"), "Thanks"),
    )
    .await
    .unwrap();
    assert_eq!(outbox_count(&app).await, 2);
}

#[tokio::test]
async fn nothing_from_an_inbound_message_reaches_the_headers_of_our_answer() {
    let app = TestApp::spawn().await;
    // A display name and a subject that decode to line breaks and a Bcc header.
    let raw = "From: =?utf-8?q?Evil=0D=0ABcc:_victim@example.com?= <frank@example.net>\r\nTo: privacy@example.org\r\n\
               Subject: =?utf-8?q?opt_out=0D=0ABcc:_victim@example.com?=\r\nMessage-ID: <a b\r\n c@x>\r\n\r\nopt out\r\n";

    let d = ingest_raw(&app.services, raw.as_bytes()).await.unwrap();

    assert_eq!(d, Disposition::Acted);
    let (recipient, subject, in_reply_to): (String, String, Option<String>) =
        sqlx::query_as("SELECT recipient, subject, in_reply_to FROM outbox")
            .fetch_one(app.services.pool())
            .await
            .unwrap();
    assert_eq!(recipient, "frank@example.net");
    assert_eq!(subject, "Please confirm your opt-out request");
    assert_eq!(in_reply_to, None, "a Message-ID with spaces is not echoed");
}

#[tokio::test]
async fn a_from_header_broken_by_a_raw_line_break_is_held_not_answered() {
    let app = TestApp::spawn().await;
    let raw = "From: \"Evil\r\nBcc: victim@example.com\" <frank@example.net>\r\nTo: privacy@example.org\r\n\
               Subject: x\r\nMessage-ID: <broken@x>\r\n\r\nopt out\r\n";

    assert_eq!(
        ingest_raw(&app.services, raw.as_bytes()).await.unwrap(),
        Disposition::Held
    );
    assert_eq!(outbox_count(&app).await, 0);
}

#[tokio::test]
async fn a_deletion_asked_in_chat_with_a_linked_address_needs_both_confirmations() {
    let app = TestApp::spawn().await;
    let alice = console("alice");
    opt_out_by_console_with_email(&app).await;
    let code = app.latest_code().await;
    app.services
        .verify(&Origin::new(&alice, Channel::Console), &code)
        .await
        .unwrap();

    let del = app
        .services
        .file_request(
            &Origin::new(&alice, Channel::Console),
            RequestKind::Deletion,
            None,
        )
        .await
        .unwrap();
    assert!(del.text.contains("we also emailed a code"), "{}", del.text);
    let id = del.request_id.unwrap();
    let (token, _, template) = latest_mail_to(&app, ALICE).await;
    assert_eq!(template, "confirmation_code");

    // The email alone does not carry it out: the account holder must confirm in chat too.
    ingest_raw(
        &app.services,
        &reply(ALICE, Some(&token), None, Some("<both1@x>"), "confirm"),
    )
    .await
    .unwrap();
    assert_eq!(app.request_state(id).await, "awaiting_confirmation");

    app.services
        .confirm(&Origin::new(&alice, Channel::Console))
        .await
        .unwrap();
    assert_eq!(app.request_state(id).await, "confirmed");
}

/// The words of the answers an email-only person gets: no chat commands, the right articles,
/// one list of the words that work, and every answer about a request tied to it (a reply
/// token, and References back to the first mail about it).
#[tokio::test]
async fn answers_by_mail_speak_in_email_terms_and_lead_back_to_the_request() {
    use dsr_bot::{email::Mailer, workers::outbox::OutboxWorker};
    let app = TestApp::spawn_at(common::at("2026-01-10T12:00:00Z")).await;
    let bob = "bob@example.net";
    ingest_raw(
        &app.services,
        &reply(bob, None, None, Some("<b1@x>"), "opt out"),
    )
    .await
    .unwrap();
    let (token, first_id, template) = latest_mail_to(&app, bob).await;
    assert_eq!(template, "confirm_by_reply");
    let ask: String =
        sqlx::query_scalar("SELECT body_text FROM outbox WHERE template = 'confirm_by_reply'")
            .fetch_one(app.services.pool())
            .await
            .unwrap();
    assert!(ask.contains("asking for an opt-out"), "{ask}");

    // An unclear reply: one answer, listing the words once, tied to the request.
    ingest_raw(
        &app.services,
        &reply(bob, Some(&token), Some(&first_id), Some("<b2@x>"), "Hmm?"),
    )
    .await
    .unwrap();
    let (answer_token, answer_id, template) = latest_mail_to(&app, bob).await;
    assert_eq!(template, "reply");
    assert!(!answer_token.is_empty(), "the answer carries a reply token");
    let text: String = sqlx::query_scalar("SELECT body_text FROM outbox ORDER BY id DESC LIMIT 1")
        .fetch_one(app.services.pool())
        .await
        .unwrap();
    // Read as a reader does (the text part is wrapped at 72 columns).
    let words = text.split_whitespace().collect::<Vec<_>>().join(" ");
    assert_eq!(words.matches("opt out, opt in").count(), 1, "{text}");
    assert!(!text.contains('/'), "no chat command: {text}");

    // Confirmed by a reply to that answer, through References alone.
    ingest_raw(
        &app.services,
        &reply(bob, None, Some(&answer_id), Some("<b3@x>"), "confirm"),
    )
    .await
    .unwrap();
    assert_eq!(app.request_state(1).await, "confirmed");

    // The status answer of an email-only person names no chat command either.
    ingest_raw(
        &app.services,
        &reply(bob, None, None, Some("<b4@x>"), "status"),
    )
    .await
    .unwrap();
    let status: String =
        sqlx::query_scalar("SELECT body_text FROM outbox ORDER BY id DESC LIMIT 1")
            .fetch_one(app.services.pool())
            .await
            .unwrap();
    assert!(status.contains("Opted out since"), "{status}");
    assert!(
        !status.contains("/optout") && !status.contains("/status"),
        "{status}"
    );

    // What went out names the first mail about the request in References.
    let worker = OutboxWorker::new(app.services.clone(), Mailer::Folder(app.outbox_dir()));
    worker.flush().await.unwrap();
    let answer_file = std::fs::read_dir(app.outbox_dir())
        .unwrap()
        .map(|e| std::fs::read_to_string(e.unwrap().path()).unwrap())
        .find(|m| m.contains(&answer_id))
        .unwrap();
    let refs = common::header(&answer_file, "References").unwrap_or_default();
    assert!(
        refs.contains(&first_id) && refs.contains("<b2@x>"),
        "{refs}"
    );
}

#[tokio::test]
async fn a_cancellation_says_what_happens_next() {
    let app = TestApp::spawn().await;
    let alice = Origin::new(&console("alice"), Channel::Console);
    app.services
        .file_request(&alice, RequestKind::Deletion, None)
        .await
        .unwrap();
    let reply = app.services.cancel(&alice).await.unwrap();
    let (said, receipt) = reply.text.split_once("\n\n").unwrap();
    assert_eq!(
        said,
        "Cancelled: your deletion request #1. Nothing more happens with it; a choice you recorded before \
         stands until you change it."
    );
    assert!(receipt.contains("\nstate cancelled\n"), "{receipt}");
}
