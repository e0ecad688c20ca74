//! Requests through the services, as every channel files them: a fresh SQLite file per test.

use crate::common;

use chrono::Duration;
use common::{BEFORE_DEADLINE, TestApp, at, console};
use dsr_bot::services::Origin;
use dsr_bot::{
    console::answer_line,
    domain::{Channel, EmailAddress, RequestKind},
    error::ServiceError,
};

const CH: Channel = Channel::Console;

fn email(s: &str) -> Option<EmailAddress> {
    Some(EmailAddress::parse(s).unwrap())
}

fn user_error(e: ServiceError) -> String {
    match e {
        ServiceError::User(u) => u.text().to_owned(),
        other => panic!("expected a user error, got {other:?}"),
    }
}

#[tokio::test]
async fn an_opt_out_from_the_console_is_confirmed_at_once_and_placed_against_the_deadline() {
    let app = TestApp::spawn().await;

    let reply = app
        .services
        .file_request(
            &Origin::new(&console("alice"), CH),
            RequestKind::OptOut,
            None,
        )
        .await
        .unwrap();

    let id = reply.request_id.unwrap();
    assert!(
        reply.text.contains("3 days 4 hours before the deadline"),
        "{}",
        reply.text
    );
    let (state, offset, received, due): (String, i64, String, String) = sqlx::query_as(
        "SELECT state, deadline_offset_secs, received_at, due_at FROM requests WHERE id = ?",
    )
    .bind(id)
    .fetch_one(app.services.pool())
    .await
    .unwrap();
    assert_eq!(state, "confirmed");
    assert_eq!(offset, -(3 * 86_400 + 4 * 3_600));
    assert!(received.starts_with("2025-09-25T19:59:59"), "{received}");
    assert!(due.starts_with("2025-10-25T19:59:59"), "{due}");
    assert_eq!(app.count("request_events").await, 1);
    // No address is known, so no mail.
    assert_eq!(app.count("outbox").await, 0);
}

#[tokio::test]
async fn a_request_after_the_deadline_has_a_positive_offset_and_its_own_due_date() {
    let app = TestApp::spawn_with(at("2026-11-29T00:00:00Z"), |c| c.response_days = 45).await;

    let reply = app
        .services
        .file_request(&Origin::new(&console("bob"), CH), RequestKind::OptIn, None)
        .await
        .unwrap();

    assert!(
        reply.text.contains("1 year 2 months after the deadline"),
        "{}",
        reply.text
    );
    let (offset, due): (i64, String) =
        sqlx::query_as("SELECT deadline_offset_secs, due_at FROM requests")
            .fetch_one(app.services.pool())
            .await
            .unwrap();
    // 2025-09-28T23:59:59Z to 2026-11-29T00:00:00Z: 1 s to midnight, 365 days to 2026-09-29,
    // 30 to 29 October, 31 to 29 November: 426 days and 1 second.
    assert_eq!(offset, 426 * 86_400 + 1);
    assert!(due.starts_with("2027-01-13T00:00:00"), "{due}");
}

#[tokio::test]
async fn repeating_an_open_request_files_nothing_new() {
    let app = TestApp::spawn().await;
    let alice = console("alice");
    let first = app.file(&alice, RequestKind::OptOut).await;

    let again = app.file(&alice, RequestKind::OptOut).await;

    assert_eq!(again.request_id, first.request_id);
    assert!(again.text.contains("already recorded"), "{}", again.text);
    assert_eq!(app.count("requests").await, 1);
    assert_eq!(app.count("request_events").await, 1);
}

#[tokio::test]
async fn concurrent_repeats_of_one_request_file_it_once() {
    let app = TestApp::spawn_with(common::at(BEFORE_DEADLINE), |c| c.limits.per_person = 0).await;
    let alice = console("alice");

    let mut tasks = Vec::new();
    for _ in 0..20 {
        let (s, a) = (app.services.clone(), alice.clone());
        tasks.push(tokio::spawn(async move {
            s.file_request(&Origin::new(&a, CH), RequestKind::OptOut, None)
                .await
        }));
    }
    for t in tasks {
        t.await.unwrap().unwrap();
    }

    assert_eq!(app.count("requests").await, 1);
    assert_eq!(app.count("people").await, 1);
}

#[tokio::test]
async fn changing_ones_mind_supersedes_the_earlier_choice() {
    let app = TestApp::spawn().await;
    let alice = console("alice");
    let out = app.file(&alice, RequestKind::OptOut).await;

    let inn = app.file(&alice, RequestKind::OptIn).await;
    let out_again = app.file(&alice, RequestKind::OptOut).await;

    assert_eq!(
        app.request_state(out.request_id.unwrap()).await,
        "completed"
    );
    assert_eq!(
        app.request_state(inn.request_id.unwrap()).await,
        "completed"
    );
    assert_eq!(
        app.request_state(out_again.request_id.unwrap()).await,
        "confirmed"
    );
    assert_ne!(out_again.request_id, out.request_id);
    let note: String = sqlx::query_scalar(
        "SELECT note FROM request_events WHERE request_id = ? AND to_state = 'completed'",
    )
    .bind(out.request_id.unwrap())
    .fetch_one(app.services.pool())
    .await
    .unwrap();
    assert_eq!(
        note,
        format!("superseded by request #{}", inn.request_id.unwrap())
    );
}

#[tokio::test]
async fn a_deletion_waits_for_a_second_confirmation() {
    let app = TestApp::spawn().await;
    let alice = console("alice");

    let reply = app.file(&alice, RequestKind::Deletion).await;
    let id = reply.request_id.unwrap();
    assert_eq!(app.request_state(id).await, "awaiting_confirmation");
    assert!(reply.text.contains("/confirm"), "{}", reply.text);

    let confirmed = app
        .services
        .confirm(&Origin::new(&alice, CH))
        .await
        .unwrap();

    assert_eq!(confirmed.request_id, Some(id));
    assert_eq!(app.request_state(id).await, "confirmed");
    let states: Vec<String> =
        sqlx::query_scalar("SELECT to_state FROM request_events WHERE request_id = ? ORDER BY id")
            .bind(id)
            .fetch_all(app.services.pool())
            .await
            .unwrap();
    assert_eq!(states, ["awaiting_confirmation", "confirmed"]);
}

#[tokio::test]
async fn confirm_without_a_waiting_deletion_is_refused() {
    let app = TestApp::spawn().await;
    let alice = console("alice");
    app.file(&alice, RequestKind::OptOut).await;

    let err = user_error(
        app.services
            .confirm(&Origin::new(&alice, CH))
            .await
            .unwrap_err(),
    );

    assert!(err.contains("/delete"), "{err}");
}

#[tokio::test]
async fn an_email_address_counts_only_after_its_code_is_entered() {
    let app = TestApp::spawn().await;
    let alice = console("alice");

    let reply = app
        .services
        .file_request(
            &Origin::new(&alice, CH),
            RequestKind::OptOut,
            email("Alice@Example.org"),
        )
        .await
        .unwrap();
    let id = reply.request_id.unwrap();

    // The choice stands at once; the address waits for its code.
    assert_eq!(app.request_state(id).await, "confirmed");
    let mails = app.mails().await;
    assert_eq!(mails.len(), 1);
    assert_eq!(
        (mails[0].0.as_str(), mails[0].1.as_str()),
        ("confirmation_code", "alice@example.org")
    );
    assert_eq!(
        app.scalar_i64("SELECT COUNT(*) FROM identities WHERE kind = 'email'")
            .await,
        0
    );
    // The code is stored only as a keyed hash.
    let code = app.latest_code().await;
    let stored: String = sqlx::query_scalar("SELECT code_hash FROM email_verifications")
        .fetch_one(app.services.pool())
        .await
        .unwrap();
    assert!(!stored.contains(&code));

    let wrong = if code == "000000" { "111111" } else { "000000" };
    let err = user_error(
        app.services
            .verify(&Origin::new(&alice, CH), wrong)
            .await
            .unwrap_err(),
    );
    assert!(err.contains("4 tries left"), "{err}");

    let ok = app
        .services
        .verify(&Origin::new(&alice, CH), &code)
        .await
        .unwrap();

    assert!(ok.text.contains("verified and linked"), "{}", ok.text);
    assert_eq!(app.request_state(id).await, "confirmed");
    assert_eq!(
        app.scalar_i64(
            "SELECT COUNT(*) FROM identities WHERE kind = 'email' AND verified_at IS NOT NULL"
        )
        .await,
        1
    );
    let templates: Vec<String> = app.mails().await.into_iter().map(|m| m.0).collect();
    assert_eq!(templates, ["confirmation_code", "change_confirmed"]);
}

#[tokio::test]
async fn a_code_cannot_be_used_by_someone_else_or_after_it_expires() {
    let app = TestApp::spawn().await;
    let alice = console("alice");
    let mallory = console("mallory");
    app.services
        .file_request(
            &Origin::new(&alice, CH),
            RequestKind::OptOut,
            email("alice@example.org"),
        )
        .await
        .unwrap();
    let code = app.latest_code().await;
    app.file(&mallory, RequestKind::OptIn).await;

    let err = user_error(
        app.services
            .verify(&Origin::new(&mallory, CH), &code)
            .await
            .unwrap_err(),
    );
    assert!(err.contains("No code is waiting"), "{err}");

    app.clock.advance(Duration::minutes(31));
    let err = user_error(
        app.services
            .verify(&Origin::new(&alice, CH), &code)
            .await
            .unwrap_err(),
    );
    assert!(err.contains("expired"), "{err}");
    assert_eq!(
        app.scalar_i64("SELECT COUNT(*) FROM identities WHERE kind = 'email'")
            .await,
        0
    );

    // Repeating the request sends a fresh code that works.
    let again = app
        .services
        .file_request(
            &Origin::new(&alice, CH),
            RequestKind::OptOut,
            email("alice@example.org"),
        )
        .await
        .unwrap();
    assert!(again.text.contains("already recorded"), "{}", again.text);
    let fresh = app.latest_code().await;
    app.services
        .verify(&Origin::new(&alice, CH), &fresh)
        .await
        .unwrap();
    assert_eq!(
        app.scalar_i64(
            "SELECT COUNT(*) FROM requests WHERE state = 'confirmed' AND kind = 'opt_out'"
        )
        .await,
        1
    );
}

#[tokio::test]
async fn five_wrong_codes_use_the_code_up() {
    let app = TestApp::spawn().await;
    let alice = console("alice");
    app.services
        .file_request(
            &Origin::new(&alice, CH),
            RequestKind::OptOut,
            email("alice@example.org"),
        )
        .await
        .unwrap();
    let code = app.latest_code().await;
    let wrong = if code == "000000" { "111111" } else { "000000" };
    for _ in 0..5 {
        app.services
            .verify(&Origin::new(&alice, CH), wrong)
            .await
            .unwrap_err();
    }

    let err = user_error(
        app.services
            .verify(&Origin::new(&alice, CH), &code)
            .await
            .unwrap_err(),
    );

    assert!(err.contains("too many times"), "{err}");
}

#[tokio::test]
async fn a_deletion_for_an_email_needs_both_the_code_and_the_confirmation() {
    let app = TestApp::spawn().await;
    let alice = console("alice");
    let id = app
        .services
        .file_request(
            &Origin::new(&alice, CH),
            RequestKind::Deletion,
            email("alice@example.org"),
        )
        .await
        .unwrap()
        .request_id
        .unwrap();
    let code = app.latest_code().await;

    let after_verify = app
        .services
        .verify(&Origin::new(&alice, CH), &code)
        .await
        .unwrap();
    assert!(
        after_verify.text.contains("/confirm"),
        "{}",
        after_verify.text
    );
    assert_eq!(app.request_state(id).await, "awaiting_confirmation");

    app.services
        .confirm(&Origin::new(&alice, CH))
        .await
        .unwrap();
    assert_eq!(app.request_state(id).await, "confirmed");
}

#[tokio::test]
async fn status_tells_the_standing_choice_and_what_is_open() {
    let app = TestApp::spawn().await;
    let alice = console("alice");
    let fresh = app.services.status(&Origin::new(&alice, CH)).await.unwrap();
    assert!(fresh.text.contains("No choice recorded"), "{}", fresh.text);
    assert!(
        fresh.text.contains("3 days 4 hours from now"),
        "{}",
        fresh.text
    );

    app.file(&alice, RequestKind::OptOut).await;
    let del = app.file(&alice, RequestKind::Deletion).await;
    let status = app.services.status(&Origin::new(&alice, CH)).await.unwrap();

    assert!(
        status.text.contains("Opted out since 2025-09-25 19:59 UTC"),
        "{}",
        status.text
    );
    assert!(
        status.text.contains(&format!(
            "#{} (deletion) is awaiting your confirmation",
            del.request_id.unwrap()
        )),
        "{}",
        status.text
    );
    assert!(status.text.contains("30 days left"), "{}", status.text);
    // A question files nothing.
    assert_eq!(
        app.scalar_i64("SELECT COUNT(*) FROM requests WHERE kind = 'status'")
            .await,
        0
    );
}

#[tokio::test]
async fn cancel_drops_what_waits_but_not_a_recorded_choice() {
    let app = TestApp::spawn().await;
    let alice = console("alice");
    let out = app.file(&alice, RequestKind::OptOut).await;
    let del = app.file(&alice, RequestKind::Deletion).await;

    app.services.cancel(&Origin::new(&alice, CH)).await.unwrap();

    assert_eq!(
        app.request_state(del.request_id.unwrap()).await,
        "cancelled"
    );
    assert_eq!(
        app.request_state(out.request_id.unwrap()).await,
        "confirmed"
    );
    assert!(
        user_error(
            app.services
                .cancel(&Origin::new(&alice, CH))
                .await
                .unwrap_err()
        )
        .contains("Nothing is waiting")
    );
}

#[tokio::test]
async fn unconfirmed_requests_expire_after_the_configured_hours() {
    let app = TestApp::spawn().await;
    let alice = console("alice");
    let del = app.file(&alice, RequestKind::Deletion).await;
    app.clock.advance(Duration::hours(71));
    assert_eq!(
        app.services.requests().expire_unconfirmed().await.unwrap(),
        0
    );

    app.clock.advance(Duration::hours(2));
    assert_eq!(
        app.services.requests().expire_unconfirmed().await.unwrap(),
        1
    );

    assert_eq!(app.request_state(del.request_id.unwrap()).await, "expired");
}

#[tokio::test]
async fn invalid_input_is_answered_clearly_and_writes_nothing() {
    let app = TestApp::spawn().await;
    let alice = console("alice");
    let long_email = format!("/optout email:{}@example.org", "a".repeat(300));
    let long_line = format!("/optout {}", "x".repeat(2_000));
    let cases: &[(&str, &str)] = &[
        ("/optout email:alice-at-example.org", "not an email address"),
        ("/optout email:alice@example", "not an email address"),
        ("/unsubscribe", "is not a command"),
        ("optout", "start with '/'"),
        ("/optout colour:blue", "does not take 'colour'"),
        (&long_email, "longer than 254"),
        (&long_line, "longer than 1000"),
        ("/optout\u{7}", "control characters"),
        ("/delete email:a@b.org\u{1b}[31m", "control characters"),
        ("/verify code:12", "6 digits"),
        ("/verify", "needs the code"),
    ];
    for (line, expected) in cases {
        let reply = answer_line(&app.services, &Origin::new(&alice, CH), line)
            .await
            .unwrap();
        assert!(reply.contains(expected), "{line:?} answered {reply:?}");
    }

    for table in [
        "people",
        "identities",
        "requests",
        "request_events",
        "email_verifications",
        "outbox",
    ] {
        assert_eq!(app.count(table).await, 0, "{table} has rows");
    }
}

#[tokio::test]
async fn the_audit_trail_cannot_be_rewritten() {
    let app = TestApp::spawn().await;
    app.services
        .file_request(
            &Origin::new(&console("alice"), CH),
            RequestKind::OptOut,
            None,
        )
        .await
        .unwrap();

    let update = sqlx::query("UPDATE request_events SET to_state = 'cancelled'")
        .execute(app.services.pool())
        .await;
    let delete = sqlx::query("DELETE FROM request_events")
        .execute(app.services.pool())
        .await;

    assert!(update.unwrap_err().to_string().contains("append-only"));
    assert!(delete.unwrap_err().to_string().contains("append-only"));
    assert_eq!(app.count("request_events").await, 1);
}

#[tokio::test]
async fn help_lists_every_command() {
    let app = TestApp::spawn().await;
    let help = answer_line(&app.services, &Origin::new(&console("alice"), CH), "/help")
        .await
        .unwrap();
    for cmd in [
        "/optout", "/optin", "/delete", "/confirm", "/cancel", "/verify", "/status", "/privacy",
    ] {
        assert!(help.contains(cmd), "{cmd} missing from help");
    }
    assert_eq!(app.count("requests").await, 0);
}

#[tokio::test]
async fn privacy_in_the_console_says_what_it_says_on_discord() {
    let app = TestApp::spawn().await;
    let console_text = answer_line(
        &app.services,
        &Origin::new(&console("alice"), CH),
        "/privacy",
    )
    .await
    .unwrap();
    let adapter = dsr_bot::discord::Adapter::new(app.services.clone());
    let discord = adapter
        .member(
            &dsr_bot::discord::Invocation {
                interaction_id: 1,
                user: dsr_bot::domain::DiscordId(7),
                guild: None,
                roles: vec![],
                role_in_guild: false,
                language: None,
            },
            dsr_bot::domain::MemberCommand::Privacy { language: None },
        )
        .await;
    // The same words; Discord's Markdown (bold) only on Discord. Each names its own notice
    // version, since what a channel shows besides (its templates) differs.
    let words = |t: &str| -> String {
        t.lines()
            .filter(|l| !l.starts_with("This notice is version "))
            .collect::<Vec<_>>()
            .join("\n")
    };
    assert_eq!(words(&console_text), words(&discord.text.replace("**", "")));
    assert!(
        console_text.contains("This notice is version "),
        "{console_text}"
    );
    assert!(discord.text.starts_with("**"), "{}", discord.text);
    assert!(!console_text.contains("**"), "{console_text}");
    assert!(console_text.contains("3 days 4 hours"), "{console_text}");
}

#[test]
fn the_default_test_clock_is_before_the_deadline() {
    assert!(at(BEFORE_DEADLINE) < at("2025-09-28T23:59:59Z"));
}

#[tokio::test]
async fn one_person_cannot_flood_the_bot() {
    let app = TestApp::spawn_with(at(BEFORE_DEADLINE), |c| {
        c.limits.per_person = 3;
        c.limit_messages.per_person = Some("Too fast: wait a minute.".into());
    })
    .await;
    let alice = console("alice");
    for _ in 0..3 {
        app.services.status(&Origin::new(&alice, CH)).await.unwrap();
    }

    let refused = user_error(
        app.services
            .file_request(&Origin::new(&alice, CH), RequestKind::OptOut, None)
            .await
            .unwrap_err(),
    );

    assert_eq!(refused, "Too fast: wait a minute.");
    assert_eq!(
        app.scalar_i64("SELECT COUNT(*) FROM requests WHERE kind = 'opt_out'")
            .await,
        0
    );
    app.services
        .file_request(&Origin::new(&console("bob"), CH), RequestKind::OptOut, None)
        .await
        .unwrap();
    app.clock.advance(Duration::seconds(60));
    app.file(&alice, RequestKind::OptOut).await;
}
