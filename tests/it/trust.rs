//! What the bot promises about a person holds on every path: a choice made in chat stands at
//! once, an address is linked only when its owner says yes, and imported history never
//! rewrites what people decided live.

use crate::common;

use chrono::Duration;
use common::{TestApp, at, console};
use dsr_bot::{
    domain::{Channel, EmailAddress, RequestKind},
    email::intake::ingest_raw,
    services::{Disposition, Origin, import},
};

const CH: Channel = Channel::Console;
const VICTIM: &str = "victim@example.net";

fn origin(name: &str) -> Origin {
    Origin::new(&console(name), CH)
}

fn email(s: &str) -> Option<EmailAddress> {
    Some(EmailAddress::parse(s).unwrap())
}

/// (reply token, message id) of the newest mail to `to`.
async fn latest_mail_to(app: &TestApp, to: &str) -> (String, String) {
    sqlx::query_as(
        "SELECT reply_token, message_id FROM outbox WHERE recipient = ? ORDER BY id DESC LIMIT 1",
    )
    .bind(to)
    .fetch_one(app.services.pool())
    .await
    .unwrap()
}

/// A reply from `from` to our mail with `token`, saying `body`.
fn reply(from: &str, token: &str, message_id: &str, body: &str) -> Vec<u8> {
    format!(
        "From: {from}\r\nTo: privacy+{token}@example.org\r\nSubject: Re: Your code\r\n\
         Message-ID: {message_id}\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n{body}\r\n"
    )
    .into_bytes()
}

/// Who holds the address now, by console name; `None` when nobody does.
async fn holder_of(app: &TestApp, address: &str) -> Option<String> {
    sqlx::query_scalar(
        "SELECT c.value FROM identities e JOIN identities c ON c.person_id = e.person_id AND c.kind = 'console'
         WHERE e.kind = 'email' AND e.value = ? AND e.verified_at IS NOT NULL",
    )
    .bind(address)
    .fetch_optional(app.services.pool())
    .await
    .unwrap()
}

/// `victor` proves `victim@` with the mailed code; then `mallory` names the same address.
async fn mallory_names_victors_address(app: &TestApp) -> (String, String) {
    app.services
        .file_request(&origin("victor"), RequestKind::OptOut, email(VICTIM))
        .await
        .unwrap();
    let code = app.latest_code().await;
    app.services.verify(&origin("victor"), &code).await.unwrap();
    assert_eq!(holder_of(app, VICTIM).await.as_deref(), Some("victor"));
    app.services
        .file_request(&origin("mallory"), RequestKind::OptOut, email(VICTIM))
        .await
        .unwrap();
    latest_mail_to(app, VICTIM).await
}

#[tokio::test]
async fn a_reply_saying_it_was_not_them_links_nothing_and_the_requester_learns_only_that() {
    let app = TestApp::spawn().await;
    let (token, _) = mallory_names_victors_address(&app).await;

    let d = ingest_raw(
        &app.services,
        &reply(VICTIM, &token, "<no1@example.net>", "This was not me!"),
    )
    .await
    .unwrap();

    assert_eq!(d, Disposition::Acted);
    assert_eq!(
        holder_of(&app, VICTIM).await.as_deref(),
        Some("victor"),
        "the address stays with the person who proved it"
    );
    // The code mailed for mallory no longer works, and mallory is told only that much.
    let code = app.latest_code().await;
    assert!(
        app.services
            .verify(&origin("mallory"), &code)
            .await
            .is_err()
    );
    let status = app.services.status(&origin("mallory")).await.unwrap();
    assert!(
        status.text.contains("could not be confirmed"),
        "{}",
        status.text
    );
    assert!(!status.text.contains("not me"), "{}", status.text);
    // Mallory's own choice, made in chat, stands.
    assert!(status.text.contains("Opted out since"), "{}", status.text);
}

#[tokio::test]
async fn an_out_of_office_reply_without_auto_submitted_proves_nothing() {
    let app = TestApp::spawn().await;
    let (token, _) = mallory_names_victors_address(&app).await;

    ingest_raw(
        &app.services,
        &reply(
            VICTIM,
            &token,
            "<ooo@example.net>",
            "I am out of the office until Monday and will read your message then.",
        ),
    )
    .await
    .unwrap();

    assert_eq!(holder_of(&app, VICTIM).await.as_deref(), Some("victor"));
}

#[tokio::test]
async fn the_owner_saying_yes_moves_the_address_and_the_earlier_holder_is_told() {
    let app = TestApp::spawn().await;
    let (token, _) = mallory_names_victors_address(&app).await;

    ingest_raw(
        &app.services,
        &reply(VICTIM, &token, "<yes1@example.net>", "Yes"),
    )
    .await
    .unwrap();

    assert_eq!(holder_of(&app, VICTIM).await.as_deref(), Some("mallory"));
    let status = app.services.status(&origin("victor")).await.unwrap();
    assert!(
        status.text.contains("v***@example.net") && status.text.contains("no longer linked"),
        "{}",
        status.text
    );
    // Told once.
    let again = app.services.status(&origin("victor")).await.unwrap();
    assert!(!again.text.contains("no longer linked"), "{}", again.text);
}

#[tokio::test]
async fn the_code_mail_says_what_to_do_if_it_was_not_you() {
    let app = TestApp::spawn().await;
    app.services
        .file_request(&origin("mallory"), RequestKind::OptOut, email(VICTIM))
        .await
        .unwrap();
    let body: String = sqlx::query_scalar(
        "SELECT body_text FROM outbox WHERE template = 'confirmation_code' ORDER BY id DESC LIMIT 1",
    )
    .fetch_one(app.services.pool())
    .await
    .unwrap();
    assert!(
        body.contains("If it was not you, reply with the word no"),
        "{body}"
    );
}

#[tokio::test]
async fn a_members_choice_stands_at_once_even_if_the_address_is_never_proven() {
    let app = TestApp::spawn().await;
    let reply = app
        .services
        .file_request(
            &origin("alice"),
            RequestKind::OptOut,
            email("alice@example.net"),
        )
        .await
        .unwrap();
    let id = reply.request_id.unwrap();
    assert_eq!(app.request_state(id).await, "confirmed");
    assert!(
        reply.text.contains("We will not use your data"),
        "{}",
        reply.text
    );

    // The code is never entered; the address expires, the choice does not.
    app.clock.advance(Duration::hours(200));
    app.services.requests().expire_unconfirmed().await.unwrap();

    assert_eq!(app.request_state(id).await, "confirmed");
    let status = app.services.status(&origin("alice")).await.unwrap();
    assert!(status.text.contains("Opted out since"), "{}", status.text);
    assert_eq!(
        app.scalar_i64("SELECT COUNT(*) FROM identities WHERE kind = 'email'")
            .await,
        0,
        "an address never proven is never linked"
    );
}

#[tokio::test]
async fn the_confirmation_mail_goes_once_the_address_is_proven() {
    let app = TestApp::spawn().await;
    app.services
        .file_request(
            &origin("alice"),
            RequestKind::OptOut,
            email("alice@example.net"),
        )
        .await
        .unwrap();
    let mails = |t: &'static str| {
        let app = &app;
        async move {
            app.scalar_i64(&format!(
                "SELECT COUNT(*) FROM outbox WHERE template = '{t}'"
            ))
            .await
        }
    };
    assert_eq!(mails("change_confirmed").await, 0, "not before the proof");
    let code = app.latest_code().await;
    app.services.verify(&origin("alice"), &code).await.unwrap();
    assert_eq!(mails("change_confirmed").await, 1);
}

async fn import(app: &TestApp, csv: &str) {
    let rows = import::parse_csv(csv, app.services.now()).unwrap();
    app.services.import_rows(rows, |_| {}).await.unwrap();
}

#[tokio::test]
async fn imported_history_never_rewrites_live_requests() {
    let app = TestApp::spawn_at(at("2025-09-25T12:00:00Z")).await;
    // Alice proves her address, opts out and asks for deletion, all live.
    app.services
        .file_request(
            &origin("alice"),
            RequestKind::OptOut,
            email("alice@example.net"),
        )
        .await
        .unwrap();
    let code = app.latest_code().await;
    app.services.verify(&origin("alice"), &code).await.unwrap();
    let del = app
        .services
        .file_request(&origin("alice"), RequestKind::Deletion, None)
        .await
        .unwrap()
        .request_id
        .unwrap();
    app.services.confirm(&origin("alice")).await.unwrap();
    let code = app.latest_code().await;
    app.services.verify(&origin("alice"), &code).await.unwrap();
    assert_eq!(app.request_state(del).await, "confirmed");

    import(
        &app,
        "received_at,kind,email,status\n\
         2024-02-01T10:00:00Z,delete,alice@example.net,confirmed\n\
         2024-02-01T11:00:00Z,opt_in,alice@example.net,confirmed\n",
    )
    .await;

    assert_eq!(
        app.request_state(1).await,
        "confirmed",
        "the live opt-out stands"
    );
    assert_eq!(
        app.request_state(del).await,
        "confirmed",
        "the live deletion waits for an officer"
    );
    assert_eq!(
        app.scalar_i64("SELECT COUNT(*) FROM people WHERE erased_at IS NOT NULL")
            .await,
        0,
        "nothing was erased"
    );
    let status = app.services.status(&origin("alice")).await.unwrap();
    assert!(status.text.contains("Opted out since"), "{}", status.text);
    assert_eq!(
        app.scalar_i64("SELECT COUNT(*) FROM requests WHERE channel = 'import'")
            .await,
        2,
        "the history is kept"
    );
}

#[tokio::test]
async fn an_imported_completed_deletion_keeps_no_identity_in_clear() {
    let app = TestApp::spawn().await;
    import(
        &app,
        "received_at,kind,email,status,completed_at\n\
         2025-01-10T10:00:00Z,opt_out,gone@example.net,confirmed,\n\
         2025-02-01T10:00:00Z,delete,gone@example.net,completed,2025-02-20T10:00:00Z\n",
    )
    .await;

    assert_eq!(
        app.scalar_i64("SELECT COUNT(*) FROM identities").await,
        0,
        "the erased person's address is not kept"
    );
    assert_eq!(
        app.scalar_i64("SELECT COUNT(*) FROM people WHERE erased_at IS NOT NULL")
            .await,
        1
    );
    let db = std::fs::read(app.db_path()).unwrap();
    let wal = std::fs::read(app.db_path().with_extension("db-wal")).unwrap_or_default();
    let needle = b"gone@example.net";
    assert!(
        ![db, wal]
            .concat()
            .windows(needle.len())
            .any(|w| w == needle),
        "the address is in no database file"
    );
}

#[tokio::test]
async fn import_claim_keys_are_keyed_hashes() {
    use sha2::{Digest, Sha256};
    let app = TestApp::spawn().await;
    import(
        &app,
        "received_at,kind,email,status\n2025-01-10T10:00:00Z,opt_out,someone@example.net,confirmed\n",
    )
    .await;
    let rows = import::parse_csv(
        "received_at,kind,email,status\n2025-01-10T10:00:00Z,opt_out,someone@example.net,confirmed\n",
        app.services.now(),
    )
    .unwrap();
    let r = &rows[0];
    // What an unkeyed claim key would be: anyone with a list of addresses could test it.
    let unkeyed = hex::encode(Sha256::digest(
        format!(
            "import:{}|{}|email:someone@example.net",
            r.received_at.to_rfc3339(),
            r.kind
        )
        .as_bytes(),
    ));
    assert_eq!(
        app.scalar_i64(&format!(
            "SELECT COUNT(*) FROM processed_inputs WHERE key_hash = '{unkeyed}'"
        ))
        .await,
        0
    );
    assert_eq!(
        app.scalar_i64("SELECT COUNT(*) FROM processed_inputs WHERE source = 'import'")
            .await,
        1
    );
}

#[tokio::test]
async fn imported_rows_before_1970_or_in_the_future_are_refused_with_their_line() {
    let now = at(common::BEFORE_DEADLINE);
    let errors = import::parse_csv(
        "received_at,kind,email,status\n\
         1969-12-31T23:59:59Z,opt_out,a@example.net,confirmed\n\
         2025-01-01T00:00:00Z,opt_out,b@example.net,confirmed\n\
         2025-09-27T20:00:00Z,opt_out,c@example.net,confirmed\n\
         0001-01-01T00:00:00Z,opt_in,d@example.net,confirmed\n",
        now,
    )
    .unwrap_err();
    let lines: Vec<usize> = errors.iter().map(|(l, _)| *l).collect();
    assert_eq!(lines, vec![2, 4, 5], "{errors:?}");
}
