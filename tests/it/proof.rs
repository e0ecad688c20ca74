//! Proof a person keeps: signed receipts that verify offline with the public key alone, a log
//! whose every leaf, head and checkpoint `log verify` recomputes from the audit trail, and key
//! rotation that leaves what was signed before verifiable.

use std::path::Path;

use crate::common::{self, TestApp, console, open_with_key, printed, run_bin};
use dsr_bot::{
    config::{Secret, SigningKey},
    domain::{Actor, Channel, DiscordId, EmailAddress, RequestKind},
    email::Mailer,
    proof::{
        merkle::Frontier,
        receipt::{self, Receipt},
    },
    services::{Call, Officer, Origin},
    workers::outbox::OutboxWorker,
};

/// The one receipt in `text`, as its signed note.
fn the_receipt(text: &str) -> String {
    let found = receipt::find_all(text);
    assert_eq!(found.len(), 1, "one receipt in:\n{text}");
    found[0].clone()
}

fn write(dir: &Path, name: &str, text: &str) -> String {
    std::fs::write(dir.join(name), text).unwrap();
    name.to_owned()
}

/// `dsr-bot receipt verify ARGS` in a folder with no database and no settings.
fn verify_elsewhere(args: &[&str], receipt_text: &str) -> std::process::Output {
    let empty = tempfile::tempdir().unwrap();
    let file = write(empty.path(), "receipt.txt", receipt_text);
    let mut all = vec!["receipt", "verify"];
    all.extend_from_slice(args);
    all.push(&file);
    run_bin(empty.path(), &all, &[])
}

fn one_line_error(o: &std::process::Output) -> String {
    assert_eq!(o.status.code(), Some(1), "{}", printed(o));
    let err = String::from_utf8_lossy(&o.stderr).trim().to_owned();
    assert_eq!(err.lines().count(), 1, "one line: {err}");
    err
}

#[tokio::test]
async fn a_receipt_verifies_offline_with_only_the_public_key_and_in_the_log_with_the_database() {
    let app = TestApp::spawn().await;
    let reply = app.file(&console("alice"), RequestKind::OptOut).await;
    let note = the_receipt(&reply.text);
    let vkey = app.services.log().public_key().unwrap();

    // Anyone, anywhere: the binary, the public key and the receipt; no settings, no database.
    for args in [
        vec!["--key", vkey.as_str(), "--offline"],
        vec!["--key", vkey.as_str()],
    ] {
        let o = verify_elsewhere(&args, &reply.text);
        assert!(o.status.success(), "{}", printed(&o));
        let out = String::from_utf8_lossy(&o.stdout);
        assert!(
            out.starts_with("valid: request #1 (opt_out, confirmed)")
                && out.contains("before the deadline"),
            "{out}"
        );
    }
    // Quoted in a reply by a mail program, it still verifies.
    let quoted: String = reply.text.lines().map(|l| format!("> {l}\r\n")).collect();
    assert!(
        verify_elsewhere(&["--key", &vkey], &quoted)
            .status
            .success()
    );

    // With the database: its event is in the tree as the receipt says.
    let checks = app
        .services
        .log()
        .verify_receipt(note.clone(), None)
        .await
        .unwrap();
    let found = checks[0].in_log.as_deref().unwrap();
    assert!(found.contains("event #1 is leaf 0"), "{found}");
    let r = Receipt::parse(note.split("\n\n").next().unwrap()).unwrap();
    assert_eq!(
        (r.kind.as_str(), r.state.as_str()),
        ("opt_out", "confirmed")
    );
    assert_eq!(r.received, common::at(common::BEFORE_DEADLINE));
    assert_eq!(r.offset_us, -(3 * 86_400 + 4 * 3_600) * 1_000_000);
    assert!(
        r.notice.is_some(),
        "the notice the person was shown is named"
    );
    assert!(
        note.len() < 1_000,
        "short enough to paste: {} characters",
        note.len()
    );
}

#[tokio::test]
async fn a_changed_byte_another_key_and_an_event_not_in_the_log_each_fail_with_one_line() {
    let a = TestApp::spawn().await;
    let reply = a.file(&console("alice"), RequestKind::OptOut).await;
    let vkey = a.services.log().public_key().unwrap();

    // One byte of the text changed.
    let changed = reply.text.replacen("kind opt_out", "kind opt_in", 1);
    let err = one_line_error(&verify_elsewhere(&["--key", &vkey], &changed));
    assert!(err.contains("changed after it was signed"), "{err}");
    // One byte of the signature changed.
    let note = the_receipt(&reply.text);
    let sig_at = note.rfind(' ').unwrap() + 40;
    let mut bytes = note.clone().into_bytes();
    bytes[sig_at] = if bytes[sig_at] == b'A' { b'B' } else { b'A' };
    let err = one_line_error(&verify_elsewhere(
        &["--key", &vkey],
        &String::from_utf8(bytes).unwrap(),
    ));
    assert!(err.contains("changed after it was signed"), "{err}");

    // Signed by another log's key.
    let b = TestApp::spawn().await;
    let other = b.services.log().public_key().unwrap();
    let err = one_line_error(&verify_elsewhere(&["--key", &other], &reply.text));
    assert!(err.contains("a key this check does not know"), "{err}");

    // Signed by this key, but for an event another log holds: a log sharing the key, with
    // an event of its own where the receipt's should be.
    let private = std::fs::read_to_string(a.dir.path().join("dsr-bot.signing.key")).unwrap();
    let c = TestApp::spawn_with(common::at(common::BEFORE_DEADLINE), |cfg| {
        cfg.signing_key = SigningKey::Given(Secret(private.trim().to_owned()));
    })
    .await;
    let e = c
        .services
        .log()
        .verify_receipt(reply.text.clone(), None)
        .await
        .unwrap_err()
        .for_person();
    assert!(
        e.contains("its event is not in this log") && e.contains("holds 0 events"),
        "{e}"
    );
    c.file(&console("carol"), RequestKind::OptIn).await;
    let e = c
        .services
        .log()
        .verify_receipt(reply.text.clone(), None)
        .await
        .unwrap_err()
        .for_person();
    assert!(e.contains("its event is not in this log"), "{e}");
    assert_eq!(e.lines().count(), 1, "{e}");
}

#[test]
fn log_verify_passes_on_a_rush_and_names_the_event_after_a_row_is_changed_or_the_newest_removed() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("dsr-bot.db");
    let o = run_bin(
        dir.path(),
        &[
            "bench",
            "rush",
            "--requests",
            "1500",
            "--concurrency",
            "40",
            "--database",
            "dsr-bot.db",
        ],
        &[],
    );
    assert!(o.status.success(), "{}", printed(&o));
    let checkpoint = run_bin(dir.path(), &["log", "checkpoint"], &[]);
    assert!(checkpoint.status.success(), "{}", printed(&checkpoint));
    let ok = run_bin(dir.path(), &["log", "verify"], &[]);
    assert!(ok.status.success(), "{}", printed(&ok));
    let said = String::from_utf8_lossy(&ok.stdout);
    assert!(said.starts_with("the log verifies: "), "{said}");
    let events: i64 = open_with_key(&db)
        .query_row("SELECT COUNT(*) FROM request_events", [], |r| r.get(0))
        .unwrap();
    assert!(events > 1_000, "{events} events");

    // Three copies, three kinds of tampering by someone with the key.
    let copy = |name: &str| {
        let d = dir.path().join(name);
        std::fs::create_dir(&d).unwrap();
        for file in [
            "dsr-bot.db",
            "dsr-bot.db-wal",
            "dsr-bot.key",
            "dsr-bot.signing.key",
        ] {
            if dir.path().join(file).exists() {
                std::fs::copy(dir.path().join(file), d.join(file)).unwrap();
            }
        }
        d
    };

    // A row of the audit trail changed.
    let changed = copy("changed");
    open_with_key(&changed.join("dsr-bot.db"))
        .execute_batch(
            "DROP TRIGGER request_events_no_update;
             UPDATE request_events SET to_state = 'cancelled' WHERE id = 700;",
        )
        .unwrap();
    let err = one_line_error(&run_bin(&changed, &["log", "verify"], &[]));
    assert!(
        err.contains("event #700 ") && err.contains("changed after it was logged"),
        "{err}"
    );

    // The newest events deleted from the audit trail.
    let cut = copy("cut");
    open_with_key(&cut.join("dsr-bot.db"))
        .execute_batch(&format!(
            "PRAGMA foreign_keys = OFF; DROP TRIGGER request_events_no_delete;
             DELETE FROM request_events WHERE id > {};",
            events - 3
        ))
        .unwrap();
    let err = one_line_error(&run_bin(&cut, &["log", "verify"], &[]));
    assert!(
        err.contains(&format!("event #{}", events - 2)) && err.contains("removed"),
        "{err}"
    );

    // The newest events deleted with their leaves and the head rewritten to match: only the
    // checkpoint handed out before shows it.
    let rewritten = copy("rewritten");
    let conn = open_with_key(&rewritten.join("dsr-bot.db"));
    conn.execute_batch(&format!(
        "PRAGMA foreign_keys = OFF; DROP TRIGGER request_events_no_delete; DROP TRIGGER log_leaves_no_delete;
         DELETE FROM request_events WHERE id > {0};
         DELETE FROM log_leaves WHERE event_id > {0};",
        events - 3
    ))
    .unwrap();
    let mut head = Frontier::default();
    let mut stmt = conn
        .prepare("SELECT hash FROM log_leaves ORDER BY idx")
        .unwrap();
    for h in stmt.query_map([], |r| r.get::<_, Vec<u8>>(0)).unwrap() {
        head.append(h.unwrap().try_into().unwrap());
    }
    conn.execute("UPDATE log_head SET frontier = ?", [head.to_bytes()])
        .unwrap();
    drop(stmt);
    drop(conn);
    let err = one_line_error(&run_bin(&rewritten, &["log", "verify"], &[]));
    assert!(
        err.contains(&format!("covers {events} events"))
            && err.contains("the newest 3 were removed"),
        "{err}"
    );
}

#[tokio::test]
async fn checkpoints_and_receipts_from_before_a_key_rotation_still_verify() {
    let app = TestApp::spawn().await;
    let before = app.file(&console("alice"), RequestKind::OptOut).await;
    let old_key = app.services.log().public_key().unwrap();
    app.services.log().checkpoint("test", false).await.unwrap();
    let dir = app.dir.path();

    let o = run_bin(dir, &["keys", "rotate"], &[]);
    assert!(o.status.success(), "{}", printed(&o));
    let new_key = String::from_utf8_lossy(&o.stdout)
        .lines()
        .last()
        .unwrap()
        .to_owned();
    assert_ne!(new_key, old_key);
    // The running service still holds the old key; a new process signs with the new one.
    let o = common::output(
        common::bin(dir).args(["console", "--user", "bob"]),
        b"/optin\n",
    );
    assert!(o.status.success(), "{}", printed(&o));
    let after = String::from_utf8_lossy(&o.stdout).into_owned();
    assert!(run_bin(dir, &["log", "checkpoint"], &[]).status.success());

    let public = run_bin(dir, &["keys", "public"], &[]);
    let listed = String::from_utf8_lossy(&public.stdout);
    assert!(
        listed.contains(&format!("used before: {old_key}")),
        "{listed}"
    );
    assert_eq!(listed.lines().last(), Some(new_key.as_str()));

    let verified = run_bin(dir, &["log", "verify"], &[]);
    assert!(verified.status.success(), "{}", printed(&verified));
    assert!(String::from_utf8_lossy(&verified.stdout).contains("2 signed checkpoints"));
    for (text, key) in [(&before.text, &old_key), (&after, &new_key)] {
        let file = write(dir, "r.txt", text);
        // Against the keys the log keeps, and against the key given.
        for args in [
            vec!["receipt", "verify", &file],
            vec!["receipt", "verify", "--key", key, &file],
        ] {
            let o = run_bin(dir, &args, &[]);
            assert!(o.status.success(), "{}", printed(&o));
            assert!(String::from_utf8_lossy(&o.stdout).contains("in the log: "));
        }
    }
    // The old receipt against the new key alone: not signed by it.
    let err = one_line_error(&verify_elsewhere(&["--key", &new_key], &before.text));
    assert!(err.contains("does not know"), "{err}");
}

#[tokio::test]
async fn erasing_a_person_leaves_the_log_verifying_and_their_identity_in_no_leaf() {
    let app = TestApp::spawn().await;
    let id = 424_242_424_242_u64;
    let dora = Actor::Discord(DiscordId(id));
    let address = "dora.erased@example.org";
    let ch = Channel::Discord;
    app.services
        .file_request(
            &Origin::new(&dora, ch),
            RequestKind::OptOut,
            EmailAddress::parse(address).ok(),
        )
        .await
        .unwrap();
    let code = app.latest_code().await;
    app.services
        .verify(&Origin::new(&dora, ch), &code)
        .await
        .unwrap();
    let del = app
        .services
        .file_request(&Origin::new(&dora, ch), RequestKind::Deletion, None)
        .await
        .unwrap()
        .request_id
        .unwrap();
    app.services.confirm(&Origin::new(&dora, ch)).await.unwrap();
    let code = app.latest_code().await;
    app.services
        .verify(&Origin::new(&dora, ch), &code)
        .await
        .unwrap();
    let leaves_before: Vec<Vec<u8>> =
        sqlx::query_scalar("SELECT hash FROM log_leaves ORDER BY idx")
            .fetch_all(app.services.pool())
            .await
            .unwrap();

    let done = app
        .services
        .requests()
        .complete(Call::on(Channel::Console), &Officer::Operator, del)
        .await
        .unwrap();
    assert!(done.identities_erased >= 2);
    let checked = app.services.log().verify().await.unwrap();
    assert!(checked.events as usize > leaves_before.len());
    let leaves_after: Vec<Vec<u8>> = sqlx::query_scalar("SELECT hash FROM log_leaves ORDER BY idx")
        .fetch_all(app.services.pool())
        .await
        .unwrap();
    assert_eq!(
        &leaves_after[..leaves_before.len()],
        &leaves_before[..],
        "erasure changed no leaf"
    );

    // What every leaf hashes, rebuilt from what is kept: no id, no address, not even in part.
    let db = app.db_path();
    let conn = open_with_key(&db);
    let records: Vec<String> = conn
        .prepare(
            "SELECT e.id, e.request_id, r.kind, r.person_id, e.from_state, e.to_state, e.at, e.actor, e.note, e.notice
             FROM request_events e JOIN requests r ON r.id = e.request_id ORDER BY e.id",
        )
        .unwrap()
        .query_map([], |r| {
            Ok((0..10)
                .map(|i| r.get::<_, Option<rusqlite::types::Value>>(i).map(|v| format!("{v:?}")))
                .collect::<Result<Vec<_>, _>>()?
                .join(" "))
        })
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap();
    for record in &records {
        for needle in [id.to_string(), address.to_owned(), "dora".into()] {
            assert!(!record.contains(&needle), "{needle} in {record}");
        }
    }
    // The completion's receipt reached the person's address (and names no one).
    let worker = OutboxWorker::new(app.services.clone(), Mailer::Folder(app.outbox_dir()));
    worker.flush().await.unwrap();
    let sent = std::fs::read_dir(app.outbox_dir())
        .unwrap()
        .map(|e| std::fs::read_to_string(e.unwrap().path()).unwrap())
        .find(|m| m.contains("erased"))
        .expect("the completion mail");
    assert!(sent.contains(receipt::FORM), "{sent}");
    assert!(
        !sent.contains('\u{E000}'),
        "no unsigned receipt leaves the service"
    );
}

#[tokio::test]
async fn every_confirmation_carries_its_receipt_in_the_dm_and_the_mail_and_officers_changes_too() {
    let app = TestApp::spawn().await;
    let id = 515_151_515_151_u64;
    let member = Actor::Discord(DiscordId(id));
    let origin = Origin::new(&member, Channel::Discord);
    let filed = app
        .services
        .file_request(
            &origin,
            RequestKind::OptIn,
            EmailAddress::parse("member.receipts@example.org").ok(),
        )
        .await
        .unwrap();
    // On Discord, in a code block, so Markdown leaves it as it is.
    assert!(
        filed.text.contains(&format!("```\n{}\n", receipt::FORM)),
        "{}",
        filed.text
    );
    let code = app.latest_code().await;
    app.services.verify(&origin, &code).await.unwrap();
    let del = app
        .services
        .file_request(&origin, RequestKind::Deletion, None)
        .await
        .unwrap()
        .request_id
        .unwrap();
    app.services.confirm(&origin).await.unwrap();
    let code = app.latest_code().await;
    app.services.verify(&origin, &code).await.unwrap();
    let extended = app
        .services
        .requests()
        .extend(
            Call::on(Channel::Console),
            &Officer::Operator,
            del,
            20,
            "several systems hold it",
        )
        .await
        .unwrap();
    assert_eq!(extended.dms_queued, 1);

    let discord = common::deliver_dms(&app.services).await;
    let vkey = app.services.log().public_key().unwrap();
    let dms: Vec<String> = discord
        .calls_to(&format!("POST /channels/{}/messages", id + 1))
        .iter()
        .map(|c| c.body["content"].as_str().unwrap().to_owned())
        .collect();
    assert!(dms.len() >= 3, "{dms:?}");
    for dm in &dms {
        assert!(
            dm.chars().count() <= 2_000,
            "{} characters",
            dm.chars().count()
        );
        assert!(!dm.contains('\u{E000}'));
        let note = the_receipt(dm);
        let o = verify_elsewhere(&["--key", &vkey], &note);
        assert!(o.status.success(), "{}\n{dm}", printed(&o));
    }
    assert!(
        dms.last().unwrap().contains("more time")
            && dms.last().unwrap().contains(&format!("request {del}\n")),
        "the extension's DM carries the deletion's receipt: {dms:?}"
    );

    let worker = OutboxWorker::new(app.services.clone(), Mailer::Folder(app.outbox_dir()));
    worker.flush().await.unwrap();
    let mails: Vec<String> = std::fs::read_dir(app.outbox_dir())
        .unwrap()
        .map(|e| std::fs::read_to_string(e.unwrap().path()).unwrap())
        .collect();
    let with_receipts = mails.iter().filter(|m| m.contains(receipt::FORM)).count();
    assert!(
        with_receipts >= 2,
        "the confirmation and the extension mails: {with_receipts}"
    );
    for m in &mails {
        assert!(
            !m.contains('\u{E000}'),
            "no unsigned receipt leaves the service:\n{m}"
        );
    }
}

#[test]
fn a_signing_key_others_can_read_or_a_lost_one_stops_the_start_with_what_to_do() {
    use std::os::unix::fs::PermissionsExt;
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let first = common::output(
        common::bin(d).args(["console", "--user", "ann"]),
        b"/optout\n",
    );
    assert!(first.status.success(), "{}", printed(&first));
    let key = d.join("dsr-bot.signing.key");
    let mode = std::fs::metadata(&key).unwrap().permissions().mode();
    assert_eq!(mode & 0o077, 0, "made owner-only: {mode:o}");
    let private = std::fs::read_to_string(&key).unwrap();
    assert!(
        private.starts_with("PRIVATE+KEY+"),
        "the note signer's key form"
    );

    std::fs::set_permissions(&key, std::fs::Permissions::from_mode(0o644)).unwrap();
    let o = run_bin(d, &["log", "checkpoint"], &[]);
    assert_eq!(o.status.code(), Some(2), "{}", printed(&o));
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(
        err.contains("can be read by others") && err.contains("chmod 600"),
        "{err}"
    );

    std::fs::remove_file(&key).unwrap();
    let o = run_bin(d, &["log", "checkpoint"], &[]);
    assert_ne!(o.status.code(), Some(0), "{}", printed(&o));
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(
        err.contains("is missing") && err.contains("keys rotate"),
        "{err}"
    );
    assert!(
        !d.join("dsr-bot.signing.key").exists(),
        "no new key made silently"
    );
    // A rotation starts over, and what the lost key signed still verifies.
    let rotated = run_bin(d, &["keys", "rotate"], &[]);
    assert!(rotated.status.success(), "{}", printed(&rotated));
    assert!(
        String::from_utf8_lossy(&rotated.stdout).contains("Kept for checking what it signed: ")
    );
    let file = write(d, "first.txt", &String::from_utf8_lossy(&first.stdout));
    let o = run_bin(d, &["receipt", "verify", &file], &[]);
    assert!(o.status.success(), "{}", printed(&o));
    // Nothing printed or logged holds the private key.
    assert!(!printed(&first).contains(private.trim()));
    assert!(!printed(&o).contains(private.trim()));
}

#[tokio::test]
async fn an_imported_choice_is_told_to_the_person_with_a_receipt_like_their_own() {
    let app = TestApp::spawn().await;
    let rows = dsr_bot::services::import::parse_csv(
        "received_at,kind,email,discord_id,status\n\
         2025-09-20T10:00:00Z,opt_out,imported.person@example.net,,confirmed\n\
         2025-09-21T10:00:00Z,opt_in,,626262626262,confirmed\n\
         2025-09-22T10:00:00Z,delete,gone@example.net,,completed\n",
        common::at("2026-01-01T00:00:00Z"),
    )
    .unwrap();
    app.services.import_rows(rows, |_| {}).await.unwrap();
    let vkey = app.services.log().public_key().unwrap();

    let worker = OutboxWorker::new(app.services.clone(), Mailer::Folder(app.outbox_dir()));
    worker.flush().await.unwrap();
    let mails: Vec<String> = std::fs::read_dir(app.outbox_dir())
        .unwrap()
        .map(|e| std::fs::read_to_string(e.unwrap().path()).unwrap())
        .collect();
    assert_eq!(
        mails.len(),
        1,
        "the erased person is not written to: {mails:?}"
    );
    assert!(
        mails[0].contains("imported.person@example.net")
            && mails[0].contains("Recorded: your opt-out")
    );
    let text = mail_text(&mails[0]);
    let o = verify_elsewhere(&["--key", &vkey], &text);
    assert!(o.status.success(), "{}\n{text}", printed(&o));
    assert!(
        String::from_utf8_lossy(&o.stdout)
            .contains("(opt_out, confirmed), received 2025-09-20T10:00:00.000000Z")
    );

    let discord = common::deliver_dms(&app.services).await;
    let dms = discord.calls_to(&format!(
        "POST /channels/{}/messages",
        626_262_626_262u64 + 1
    ));
    assert_eq!(dms.len(), 1);
    let dm = dms[0].body["content"].as_str().unwrap();
    assert!(dm.contains("is now request #2"), "{dm}");
    assert!(
        verify_elsewhere(&["--key", &vkey], dm).status.success(),
        "{dm}"
    );
}

/// The text part of a mail as a person's program shows it (quoted-printable undone).
fn mail_text(raw: &str) -> String {
    let parsed = mail_parser::MessageParser::default()
        .parse(raw.as_bytes())
        .unwrap();
    parsed.body_text(0).unwrap().into_owned()
}

#[tokio::test]
async fn a_changed_notice_gets_a_new_version_and_requests_show_and_the_report_name_it() {
    let now = common::at(common::BEFORE_DEADLINE);
    let first = TestApp::spawn_at(now).await;
    first.file(&console("ann"), RequestKind::OptOut).await;
    let dir = first.dir.path().to_owned();
    let details = first
        .services
        .requests()
        .details(&Officer::Operator, 1)
        .await
        .unwrap()
        .unwrap();
    let v1 = details.events[0].notice.clone().expect("a notice version");
    assert_eq!(details.notices[0].channel, "console");
    assert!(
        details
            .describe()
            .contains(&format!("notice {}", &v1[..12])),
        "{}",
        details.describe()
    );

    // The same database under a changed policy text: a new version, by itself.
    let mut config = dsr_bot::config::Config::for_folder(&dir);
    config.retention_opted_out = "14 days".into();
    first.clock.set(now + chrono::Duration::hours(1));
    let second =
        dsr_bot::startup::App::build_with_clock(config, std::sync::Arc::new(first.clock.clone()))
            .await
            .unwrap()
            .services;
    second
        .file_request(
            &Origin::new(&console("bob"), Channel::Console),
            RequestKind::OptIn,
            None,
        )
        .await
        .unwrap();
    let later = second
        .requests()
        .details(&Officer::Operator, 2)
        .await
        .unwrap()
        .unwrap();
    let v2 = later.events[0].notice.clone().unwrap();
    assert_ne!(v1, v2, "a changed notice is a new version");
    // The same text again is the same version, whenever it is shown.
    first.clock.set(now + chrono::Duration::days(2));
    first.file(&console("cy"), RequestKind::OptOut).await;
    let again = first
        .services
        .requests()
        .details(&Officer::Operator, 3)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(again.events[0].notice.as_deref(), Some(v1.as_str()));

    let report = second
        .reports()
        .month(Some("2025-09".parse().unwrap()))
        .await
        .unwrap();
    let versions: Vec<&str> = report.notices.iter().map(|n| n.version.as_str()).collect();
    assert!(
        versions.contains(&&v1[..12]) && versions.contains(&&v2[..12]),
        "{versions:?}"
    );
    let md = second
        .reports()
        .render(&report, dsr_bot::reports::render::Format::Md)
        .unwrap();
    assert!(
        md.contains("Notices in force this month") && md.contains(&v2[..12]),
        "{md}"
    );
    assert!(
        md.contains(&second.log().public_key().unwrap()),
        "the report names the key"
    );
    assert!(md.contains("— "), "and carries a signed checkpoint: {md}");
}
