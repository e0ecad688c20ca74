//! The Discord adapter without a Discord connection: invocations in, service effects and
//! replies out. DM receipts are read from the queue the services write them to (the bot's
//! delivery of them is tested over the wire, in `discord_wire`).

use crate::common;

use chrono::Duration;
use common::{TestApp, at};
use dsr_bot::{
    discord::{Adapter, Invocation, adapter::email_arg, buttons::Action, commands},
    domain::{DiscordId, MemberCommand, OfficerCommand},
};

const OFFICER_ROLE: u64 = 4242;

const GUILD: u64 = 777;

/// The DMs queued so far: (recipient, text).
async fn dms(app: &TestApp) -> Vec<(String, String)> {
    sqlx::query_as("SELECT recipient, text FROM dm_outbox ORDER BY id")
        .fetch_all(app.services.pool())
        .await
        .unwrap()
}

async fn spawn() -> (TestApp, Adapter) {
    let app = TestApp::spawn_with(at(common::BEFORE_DEADLINE), |c| {
        c.discord.officer_role_id = Some(OFFICER_ROLE);
        c.discord.guild_id = Some(GUILD);
    })
    .await;
    let adapter = Adapter::new(app.services.clone());
    (app, adapter)
}

/// A fresh interaction by `user`.
fn by(user: u64, interaction_id: u64) -> Invocation {
    Invocation {
        interaction_id,
        user: DiscordId(user),
        guild: None,
        roles: vec![],
        role_in_guild: false,
        language: None,
    }
}

fn officer(user: u64, interaction_id: u64) -> Invocation {
    Invocation {
        interaction_id,
        user: DiscordId(user),
        guild: Some(GUILD),
        roles: vec![1, OFFICER_ROLE],
        role_in_guild: false,
        language: None,
    }
}

#[tokio::test]
async fn each_member_command_reaches_its_service_and_answers() {
    let (app, adapter) = spawn().await;

    let out = adapter
        .member(&by(1, 100), MemberCommand::OptOut { email: None })
        .await;
    assert!(
        out.text.contains("opt-out request #1 is recorded"),
        "{}",
        out.text
    );
    assert_eq!(
        dms(&app).await.first().map(|d| d.0.clone()),
        Some("1".to_owned()),
        "a confirmed change is DM'd"
    );

    let inn = adapter
        .member(&by(2, 101), MemberCommand::OptIn { email: None })
        .await;
    assert!(inn.text.contains("opt-in request #2"), "{}", inn.text);

    let del = adapter
        .member(&by(3, 102), MemberCommand::Delete { email: None })
        .await;
    assert!(del.text.contains("deletion request #3"), "{}", del.text);
    assert_eq!(dms(&app).await.len(), 2, "nothing changed yet");

    let code = adapter
        .member(
            &by(4, 103),
            MemberCommand::OptOut {
                email: email_arg(Some("d@example.org".into())).unwrap(),
            },
        )
        .await;
    assert!(code.text.contains("d***@example.org"), "{}", code.text);
    let verified = adapter
        .member(
            &by(4, 104),
            MemberCommand::Verify {
                code: app.latest_code().await,
            },
        )
        .await;
    assert!(
        verified.text.contains("is verified and linked"),
        "{}",
        verified.text
    );

    let status = adapter.member(&by(1, 105), MemberCommand::Status).await;
    assert!(status.text.contains("Opted out since"), "{}", status.text);

    let privacy = adapter
        .member(&by(5, 106), MemberCommand::Privacy { language: None })
        .await;
    assert!(
        privacy.text.contains("never reads your Discord messages"),
        "{}",
        privacy.text
    );
    assert!(privacy.text.contains("3 days 4 hours"), "{}", privacy.text);

    let bad = email_arg(Some("nope".into())).unwrap_err();
    let bad = bad.in_language(dsr_bot::domain::Language::En);
    assert!(bad.contains("not an email address"), "{bad}");

    let rows: Vec<(String, String, String)> = sqlx::query_as(
        "SELECT kind, channel, state FROM requests WHERE kind != 'status' ORDER BY id",
    )
    .fetch_all(app.services.pool())
    .await
    .unwrap();
    let expected = [
        ("opt_out", "discord", "confirmed"),
        ("opt_in", "discord", "confirmed"),
        ("deletion", "discord", "awaiting_confirmation"),
        ("opt_out", "discord", "confirmed"),
    ];
    assert_eq!(rows.len(), expected.len());
    for (row, exp) in rows.iter().zip(expected) {
        assert_eq!((row.0.as_str(), row.1.as_str(), row.2.as_str()), exp);
    }
}

#[tokio::test]
async fn delete_shows_buttons_that_only_the_asker_can_press() {
    let (app, adapter) = spawn().await;
    let del = adapter
        .member(&by(7, 200), MemberCommand::Delete { email: None })
        .await;
    assert_eq!(del.buttons.len(), 2);
    let confirm_id = del
        .buttons
        .iter()
        .find(|(b, _)| b.action == Action::Confirm)
        .unwrap()
        .0
        .custom_id(&app.services);

    let stranger = adapter.button(&by(8, 201), &confirm_id).await.unwrap();
    assert!(
        stranger.text.contains("Only the member who asked"),
        "{}",
        stranger.text
    );
    assert_eq!(app.request_state(1).await, "awaiting_confirmation");

    let owner = adapter.button(&by(7, 202), &confirm_id).await.unwrap();
    assert!(owner.text.contains("is confirmed"), "{}", owner.text);
    assert_eq!(app.request_state(1).await, "confirmed");
    assert!(
        adapter
            .button(&by(7, 203), "somebody-elses-button")
            .await
            .is_none()
    );
}

#[tokio::test]
async fn buttons_stop_working_after_five_minutes_and_cancel_drops_only_their_request() {
    let (app, adapter) = spawn().await;
    let del = adapter
        .member(&by(7, 300), MemberCommand::Delete { email: None })
        .await;
    let cancel_id = del
        .buttons
        .iter()
        .find(|(b, _)| b.action == Action::Cancel)
        .unwrap()
        .0
        .custom_id(&app.services);

    app.clock.advance(Duration::minutes(6));
    let late = adapter.button(&by(7, 301), &cancel_id).await.unwrap();
    assert!(late.text.contains("expired"), "{}", late.text);
    assert_eq!(app.request_state(1).await, "awaiting_confirmation");

    let again = adapter
        .member(&by(7, 302), MemberCommand::Delete { email: None })
        .await;
    assert!(again.text.contains("already recorded"), "{}", again.text);
    let fresh = again
        .buttons
        .iter()
        .find(|(b, _)| b.action == Action::Cancel)
        .unwrap()
        .0
        .custom_id(&app.services);
    adapter.button(&by(7, 303), &fresh).await.unwrap();
    assert_eq!(app.request_state(1).await, "cancelled");
}

#[tokio::test]
async fn the_same_interaction_delivered_twice_takes_effect_once() {
    let (app, adapter) = spawn().await;

    let first = adapter
        .member(&by(9, 400), MemberCommand::OptOut { email: None })
        .await;
    let second = adapter
        .member(&by(9, 400), MemberCommand::OptOut { email: None })
        .await;

    assert!(first.text.contains("is recorded"), "{}", first.text);
    assert!(second.text.contains("already handled"), "{}", second.text);
    assert_eq!(dms(&app).await.len(), 1, "one receipt");
    assert_eq!(app.count("requests").await, 1);
    assert_eq!(app.count("request_events").await, 1);
    // A new interaction is a new question.
    let third = adapter
        .member(&by(9, 401), MemberCommand::OptOut { email: None })
        .await;
    assert!(third.text.contains("already recorded"), "{}", third.text);
}

#[tokio::test]
async fn closed_dms_leave_the_change_standing_and_are_not_retried() {
    let (app, adapter) = spawn().await;
    adapter
        .member(&by(10, 500), MemberCommand::OptOut { email: None })
        .await;
    // The bot meets Discord's 50007 delivering it.
    let receipts = app.services.receipts();
    let dm = receipts
        .claim()
        .await
        .unwrap()
        .expect("a receipt was queued");
    receipts.closed(&dm).await.unwrap();

    assert_eq!(app.request_state(1).await, "confirmed");
    assert_eq!(
        app.scalar_i64("SELECT COUNT(*) FROM identities WHERE dm_closed_at IS NOT NULL")
            .await,
        1
    );
    let inn = adapter
        .member(&by(10, 501), MemberCommand::OptIn { email: None })
        .await;
    assert_eq!(dms(&app).await.len(), 1, "no second DM after a 50007");
    assert!(inn.text.contains("DMs are closed"), "{}", inn.text);
    assert!(
        receipts.claim().await.unwrap().is_none(),
        "nothing to try again"
    );
    assert_eq!(app.request_state(2).await, "confirmed");
}

#[tokio::test]
async fn an_open_dm_gets_the_receipt_text() {
    let (app, adapter) = spawn().await;
    adapter
        .member(&by(11, 600), MemberCommand::OptOut { email: None })
        .await;
    let dm = app.services.receipts().claim().await.unwrap().unwrap();
    assert_eq!(dm.recipient, "11");
    assert!(dm.text.contains("opt-out request #1"), "{}", dm.text);
}

#[tokio::test]
async fn officer_commands_refuse_members_without_the_role() {
    let (app, adapter) = spawn().await;
    adapter
        .member(&by(12, 700), MemberCommand::Delete { email: None })
        .await;

    for cmd in [
        OfficerCommand::Requests { state: None },
        OfficerCommand::Complete { request_id: 1 },
        OfficerCommand::Report { month: None },
    ] {
        let refused = adapter.officer(&by(13, 701), cmd).await;
        assert!(
            refused.text.contains("privacy-officer role"),
            "{}",
            refused.text
        );
    }
    assert_eq!(app.request_state(1).await, "awaiting_confirmation");
}

#[tokio::test]
async fn officers_list_complete_and_count() {
    let (app, adapter) = spawn().await;
    let del = adapter
        .member(&by(14, 800), MemberCommand::Delete { email: None })
        .await;
    let confirm = del.buttons[0].0.custom_id(&app.services);
    adapter.button(&by(14, 801), &confirm).await.unwrap();
    adapter
        .member(&by(15, 802), MemberCommand::OptOut { email: None })
        .await;

    let listed = adapter
        .officer(&officer(99, 803), OfficerCommand::Requests { state: None })
        .await;
    assert!(
        listed
            .text
            .contains("#1 deletion – confirmed – due 2025-10-25 (30 days left)"),
        "{}",
        listed.text
    );
    assert!(
        !listed.text.contains("14"),
        "no member ids in the listing: {}",
        listed.text
    );

    let done = adapter
        .officer(
            &officer(99, 804),
            OfficerCommand::Complete { request_id: 1 },
        )
        .await;
    assert!(done.text.contains("Request #1 completed"), "{}", done.text);
    assert_eq!(app.request_state(1).await, "completed");
    assert!(
        dms(&app)
            .await
            .iter()
            .any(|(to, text)| to == "14" && text.contains("is done")),
        "told by DM before the id was forgotten"
    );
    assert_eq!(
        app.scalar_i64("SELECT COUNT(*) FROM identities WHERE value = '14'")
            .await,
        0
    );

    let report = adapter
        .officer(
            &officer(99, 805),
            OfficerCommand::Report {
                month: Some("2025-09".into()),
            },
        )
        .await;
    for line in [
        "**Privacy requests, 2025-09 (so far)**",
        "| Opt-outs confirmed | 1 |",
        "| Deletions completed (median days) | 1 (0.0) |",
    ] {
        assert!(
            report.text.contains(line),
            "{line} missing from {}",
            report.text
        );
    }
    let bad = adapter
        .officer(
            &officer(99, 806),
            OfficerCommand::Report {
                month: Some("Sept".into()),
            },
        )
        .await;
    assert!(
        bad.text.contains("not a month like 2025-09"),
        "{}",
        bad.text
    );
}

#[test]
fn the_registered_command_list_is_complete_and_hides_officer_commands() {
    let defs = commands::definitions_json();
    let list = defs.as_array().unwrap();
    let names: Vec<&str> = list.iter().map(|c| c["name"].as_str().unwrap()).collect();
    assert_eq!(
        names,
        [
            "optout", "optin", "delete", "confirm", "cancel", "verify", "status", "privacy",
            "requests", "complete", "extend", "note", "report"
        ]
    );
    for c in list {
        let officer = ["requests", "complete", "extend", "note", "report"]
            .contains(&c["name"].as_str().unwrap());
        // MANAGE_GUILD = 1 << 5.
        assert_eq!(
            c["default_member_permissions"].as_str() == Some("32"),
            officer,
            "{}",
            c["name"]
        );
        assert!(c["description"].as_str().unwrap().len() <= 100);
    }
    let verify = list.iter().find(|c| c["name"] == "verify").unwrap();
    assert_eq!(verify["options"][0]["name"], "code");
    assert_eq!(verify["options"][0]["required"], true);
}
