//! The binary as a new user meets it, in a fresh folder with nothing configured.

use std::{
    path::Path,
    process::{Command, Output},
};

fn dsr_bot(dir: &Path, args: &[&str], stdin: &str) -> Output {
    dsr_bot_with(dir, args, stdin, &[])
}

/// As [`dsr_bot`], with these variables set on top of an empty environment.
fn dsr_bot_with(dir: &Path, args: &[&str], stdin: &str, env: &[(&str, &str)]) -> Output {
    crate::common::output(
        crate::common::bin(dir).args(args).envs(env.iter().copied()),
        stdin.as_bytes(),
    )
}

fn stdout(o: &Output) -> String {
    assert!(
        o.status.success(),
        "failed: {}\n{}",
        String::from_utf8_lossy(&o.stderr),
        String::from_utf8_lossy(&o.stdout)
    );
    String::from_utf8(o.stdout.clone()).unwrap()
}

/// The newest `.eml` file in the outbox folder.
fn newest_eml(dir: &Path) -> String {
    let mut files: Vec<_> = std::fs::read_dir(dir.join("outbox"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    files.sort();
    std::fs::read_to_string(files.last().unwrap()).unwrap()
}

fn code_in_eml(dir: &Path) -> String {
    newest_eml(dir)
        .lines()
        .map(str::trim)
        .find(|l| l.len() == 6 && l.bytes().all(|b| b.is_ascii_digit()))
        .expect("a code line in the .eml")
        .to_owned()
}

#[test]
fn a_new_user_opts_out_by_email_and_the_operator_sees_it_verified() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();

    let filed = stdout(&dsr_bot(
        d,
        &["console", "--user", "alice"],
        "/optout email:alice@example.org\n",
    ));
    assert!(
        filed.contains("emailed a 6-digit code to a***@example.org"),
        "{filed}"
    );
    assert!(
        filed.contains("We will not use your data"),
        "the choice stands at once: {filed}"
    );
    assert!(d.join("dsr-bot.db").exists());

    let flushed = stdout(&dsr_bot(d, &["mail", "flush"], ""));
    assert!(flushed.starts_with("1 delivered"), "{flushed}");
    let code = code_in_eml(d);

    let verified = stdout(&dsr_bot(
        d,
        &["console", "--user", "alice"],
        &format!("/verify code:{code}\n"),
    ));
    assert!(verified.contains("is verified and linked"), "{verified}");

    let listed = stdout(&dsr_bot(d, &["requests", "list", "--format", "json"], ""));
    let rows: serde_json::Value = serde_json::from_str(&listed).unwrap();
    let row = &rows[0];
    assert_eq!(row["kind"], "opt_out");
    assert_eq!(row["state"], "confirmed");
    assert_eq!(row["email_verified"], true);
    assert!(row["received_at"].as_str().unwrap().ends_with('Z'));
    assert!(
        row["deadline_offset_seconds"].as_i64().unwrap() > 0,
        "filed after the 2025 deadline"
    );
    assert!(
        row["deadline_offset"]
            .as_str()
            .unwrap()
            .ends_with("after the deadline")
    );
    // A confirmed opt-out is answered: it has no due date left.
    assert!(
        row["due_at"].is_null() && row["days_left"].is_null(),
        "{row}"
    );
    assert!(!listed.contains("alice"), "the listing names no one");

    let table = stdout(&dsr_bot(
        d,
        &["requests", "list", "--state", "confirmed"],
        "",
    ));
    assert!(
        table.contains("opt_out") && table.contains("verified"),
        "{table}"
    );
}

#[test]
fn the_default_command_runs_the_console_and_the_mail_worker_until_input_ends() {
    let dir = tempfile::tempdir().unwrap();
    let out = dsr_bot(dir.path(), &["--help"], "");
    assert!(stdout(&out).contains("console"));

    let run = dsr_bot(
        dir.path(),
        &["run", "--user", "bob"],
        "/delete email:bob@example.org\n/status\n",
    );
    let text = stdout(&run);
    assert!(
        text.contains("Your deletion request #1 is recorded"),
        "{text}"
    );
    assert!(text.contains("awaiting your confirmation"), "{text}");
    // The worker's last flush on the way out wrote the code mail.
    assert_eq!(
        std::fs::read_dir(dir.path().join("outbox"))
            .unwrap()
            .count(),
        1
    );
}

#[test]
fn bad_configuration_stops_start_up_with_one_line_naming_the_key() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join(".env"), "RESPONSE_DAYS=thirty\n").unwrap();

    let out = dsr_bot(dir.path(), &["migrate"], "");

    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8(out.stderr).unwrap();
    assert_eq!(err.lines().count(), 1, "{err}");
    assert!(
        err.starts_with("error: configuration: RESPONSE_DAYS: 'thirty'"),
        "{err}"
    );
    assert!(
        !dir.path().join("dsr-bot.db").exists(),
        "nothing is created on bad configuration"
    );
}

#[test]
fn operator_errors_say_what_to_do() {
    let dir = tempfile::tempdir().unwrap();
    let out = dsr_bot(dir.path(), &["requests", "complete", "42"], "");
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8(out.stderr).unwrap();
    assert!(err.contains("There is no request #42"), "{err}");

    let bad_state = dsr_bot(dir.path(), &["requests", "list", "--state", "open"], "");
    assert!(!bad_state.status.success());
    assert!(
        String::from_utf8(bad_state.stderr)
            .unwrap()
            .contains("awaiting_confirmation")
    );
}

#[test]
fn a_bogus_discord_token_stops_start_up_with_one_line_about_the_token() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join(".env"), "DISCORD_TOKEN=not-a-token\n").unwrap();

    let out = dsr_bot(dir.path(), &["run"], "");

    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8(out.stderr).unwrap();
    let last = err.lines().last().unwrap_or_default();
    assert!(
        last.starts_with("error: DISCORD_TOKEN is not a bot token"),
        "{err}"
    );
    assert!(!err.contains("panicked"), "{err}");
    assert!(
        !err.contains("not-a-token"),
        "the token is never printed: {err}"
    );
}

#[test]
fn the_discord_command_list_prints_without_a_connection_or_database() {
    let dir = tempfile::tempdir().unwrap();
    let out = stdout(&dsr_bot(
        dir.path(),
        &["discord", "commands", "--format", "json"],
        "",
    ));
    let defs: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(defs.as_array().unwrap().len(), 13);
    assert!(!dir.path().join("dsr-bot.db").exists());
}

#[test]
fn an_erased_person_appears_in_no_log_line() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let run = |args: &[&str], input: &str| {
        let out = dsr_bot_with(d, args, input, &[("RUST_LOG", "trace")]);
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        out
    };
    let mut logs = Vec::new();
    let filed = run(
        &["console", "--user", "zoe-secret"],
        "/delete email:zoe.secret@example.org\n",
    );
    logs.push(filed.stderr);
    logs.push(run(&["mail", "flush"], "").stderr);
    let code = code_in_eml(d);
    logs.push(
        run(
            &["console", "--user", "zoe-secret"],
            &format!("/verify code:{code}\n/confirm\n"),
        )
        .stderr,
    );
    logs.push(run(&["requests", "complete", "1"], "").stderr);
    logs.push(run(&["run", "--user", "someone-else"], "/status\n").stderr);

    let all = String::from_utf8(logs.concat()).unwrap();
    assert!(
        all.contains("mail delivered"),
        "trace logs were captured: {all}"
    );
    for needle in ["zoe.secret", "zoe-secret"] {
        assert!(
            !all.contains(needle),
            "{needle} appears in the logs:\n{all}"
        );
    }
}

/// The reply token in the Reply-To of the newest `.eml` in the outbox folder.
fn token_in_eml(dir: &Path) -> String {
    let raw = newest_eml(dir);
    let reply_to = raw
        .lines()
        .find(|l| l.starts_with("Reply-To:"))
        .expect("a Reply-To header");
    let at = reply_to.find("privacy+").unwrap() + "privacy+".len();
    reply_to[at..].split('@').next().unwrap().to_owned()
}

/// Every byte of every file under `dir`, but the outbox folder (the hand-over point, like an
/// SMTP server: the final mail waits there).
fn kept_files(dir: &Path) -> Vec<u8> {
    let mut all = Vec::new();
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.file_name().is_some_and(|n| n == "outbox") {
            continue;
        }
        if path.is_dir() {
            all.extend(kept_files(&path));
        } else {
            all.extend(std::fs::read(&path).unwrap_or_default());
        }
    }
    all
}

#[test]
fn a_held_message_is_erased_with_its_sender() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let address = "hugo.held@example.org";
    let mail = |id: &str, to: &str, body: &str| {
        format!(
            "From: {address}\r\nTo: {to}\r\nSubject: x\r\nMessage-ID: <{id}@x>\r\n\r\n{body}\r\n"
        )
    };
    let big = mail("big", "privacy@example.org", &"y".repeat(11 * 1024 * 1024));
    let held = dsr_bot(d, &["ingest-mail"], &big);
    assert!(
        String::from_utf8_lossy(&held.stderr).contains("kept for"),
        "{}",
        String::from_utf8_lossy(&held.stderr)
    );
    stdout(&dsr_bot(
        d,
        &["ingest-mail"],
        &mail("ask", "privacy@example.org", "delete my data"),
    ));
    let token = token_in_eml(d);
    stdout(&dsr_bot(
        d,
        &["ingest-mail"],
        &mail("yes", &format!("privacy+{token}@example.org"), "confirm"),
    ));
    let needle = address.as_bytes();
    let found = |bytes: Vec<u8>| bytes.windows(needle.len()).any(|w| w == needle);
    let listed = stdout(&dsr_bot(d, &["held", "list"], ""));
    assert!(listed.contains("headers kept"), "held first: {listed}");
    // The database is encrypted: the address is in no file even now. (The file-level search
    // for erased data runs on an unencrypted database in tests/erasure_paths.rs.)
    assert!(!found(kept_files(d)), "the address is in a file in clear");

    stdout(&dsr_bot(d, &["requests", "complete", "1"], ""));

    let listed = stdout(&dsr_bot(d, &["held", "list"], ""));
    assert!(listed.contains("no held mail"), "{listed}");
    assert!(
        !found(kept_files(d)),
        "the address is still in a file the bot keeps"
    );
}

#[test]
fn a_message_larger_than_the_cap_on_stdin_is_held_as_its_headers_without_being_read_whole() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let body = "z".repeat(8 * 1024 * 1024);
    let big = format!(
        "From: big.sender@example.net\r\nTo: privacy@example.org\r\nSubject: huge\r\nMessage-ID: <huge@x>\r\n\r\n{body}\r\n"
    );
    let out = dsr_bot_with(
        d,
        &["ingest-mail"],
        &big,
        &[("MAX_INBOUND_BYTES", "1048576")],
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let listed = stdout(&dsr_bot(d, &["held", "list"], ""));
    assert!(
        listed.contains(&format!("{} bytes (headers kept)", big.len())),
        "{listed}"
    );
    let shown = stdout(&dsr_bot(d, &["held", "show", "1"], ""));
    assert!(
        shown.contains("Subject: huge") && shown.len() < 4096,
        "{}",
        shown.len()
    );
}

#[test]
fn an_unreadable_message_on_stdin_is_kept_once_whatever_is_retried() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let broken = "To: privacy@example.org\r\nSubject: no sender\r\n\r\nplease delete me\r\n";
    for _ in 0..2 {
        let out = dsr_bot(d, &["ingest-mail"], broken);
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    let listed = stdout(&dsr_bot(d, &["held", "list"], ""));
    assert_eq!(listed.lines().count(), 1, "{listed}");
    assert!(listed.contains("no usable From"), "{listed}");
}

#[test]
fn the_monthly_report_is_written_to_the_reports_folder_and_mailed_once_officers_are_set() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    // A request last month, so there is a month to report.
    stdout(&dsr_bot(d, &["console", "--user", "ann"], "/optout\n"));
    let run = dsr_bot(d, &["run", "--user", "ann"], "");
    assert!(
        run.status.success(),
        "{}",
        String::from_utf8_lossy(&run.stderr)
    );
    let month = {
        use chrono::Datelike;
        let last = chrono::Utc::now().date_naive().with_day(1).unwrap() - chrono::Duration::days(1);
        format!("{:04}-{:02}", last.year(), last.month())
    };
    for ext in ["html", "md", "csv"] {
        let path = d.join("reports").join(format!("{month}.{ext}"));
        assert!(path.exists(), "{} was not written", path.display());
    }
    let mailed = |d: &Path| {
        std::fs::read_dir(d.join("outbox"))
            .map(|rd| {
                rd.filter(|e| {
                    std::fs::read_to_string(e.as_ref().unwrap().path())
                        .unwrap_or_default()
                        .contains("Privacy requests report")
                })
                .count()
            })
            .unwrap_or(0)
    };
    assert_eq!(mailed(d), 0, "no officer is set, so nothing is mailed");
    let run = dsr_bot_with(
        d,
        &["run", "--user", "ann"],
        "",
        &[("PRIVACY_OFFICERS", "dpo@example.org")],
    );
    assert!(
        run.status.success(),
        "{}",
        String::from_utf8_lossy(&run.stderr)
    );
    assert_eq!(mailed(d), 1, "the month is mailed once officers are set");
}

#[test]
fn echoed_input_shows_control_and_direction_characters_escaped() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let out = stdout(&dsr_bot(
        d,
        &["console", "--user", "eve"],
        "/opt\u{202e}tuo\n",
    ));
    assert!(!out.contains('\u{202e}'), "{out:?}");
    assert!(out.contains("\\u{202e}"), "{out:?}");
    std::fs::write(
        d.join("bad.csv"),
        "received_at,kind,email,status\n2025-01-01T00:00:00Z,opt\u{1b}[2J_out,a@example.net,confirmed\n",
    )
    .unwrap();
    let imp = dsr_bot(d, &["import", "bad.csv"], "");
    let err = String::from_utf8_lossy(&imp.stderr);
    assert!(!err.contains('\u{1b}'), "{err:?}");
    assert!(err.contains("\\u{1b}"), "{err:?}");
}

#[test]
fn import_errors_give_the_files_own_line_numbers() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    std::fs::write(
        d.join("lines.csv"),
        "received_at,kind,email,status\n\n\
         2025-01-01T00:00:00Z,opt_out,a@example.net,confirmed\n\n\n\
         \"2025-01-02T00:00:00Z\",\"opt\nout\",b@example.net,confirmed\n\
         2025-01-03T00:00:00Z,nonsense,c@example.net,confirmed\n",
    )
    .unwrap();
    let imp = dsr_bot(d, &["import", "lines.csv"], "");
    let err = String::from_utf8_lossy(&imp.stderr);
    assert!(
        err.contains("line 6:"),
        "the quoted newline starts on line 6: {err}"
    );
    assert!(err.contains("line 8:"), "the next row is on line 8: {err}");
}

/// Runs the binary as the unprivileged user `nobody`, so file permissions apply (the tests
/// run as root, which writes anywhere).
fn as_nobody(dir: &Path, args: &[&str]) -> Output {
    Command::new("setpriv")
        .args(["--reuid=65534", "--regid=65534", "--clear-groups", "--"])
        .arg(env!("CARGO_BIN_EXE_dsr-bot"))
        .args(args)
        .current_dir(dir)
        .env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .output()
        .unwrap()
}

/// Makes the folder `d` and the database in it readable, not writable, by `nobody`
/// ([`as_nobody`]), with the key theirs alone.
fn read_only_for_nobody(d: &Path) {
    use std::os::unix::fs::PermissionsExt;
    for entry in std::fs::read_dir(d).unwrap() {
        let path = entry.unwrap().path();
        let mode = if path.is_dir() { 0o555 } else { 0o444 };
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(mode)).unwrap();
    }
    // The key stays a secret of its reader's: owner-only, and owned by the reader here.
    let key = d.join("dsr-bot.key");
    std::os::unix::fs::chown(&key, Some(65534), Some(65534)).unwrap();
    std::fs::set_permissions(&key, std::fs::Permissions::from_mode(0o400)).unwrap();
    std::fs::set_permissions(d, std::fs::Permissions::from_mode(0o555)).unwrap();
    // The binary must be reachable by nobody.
    let mut p = Path::new(env!("CARGO_BIN_EXE_dsr-bot")).to_path_buf();
    while let Some(parent) = p.parent() {
        let _ = std::fs::set_permissions(parent, std::fs::Permissions::from_mode(0o755));
        p = parent.to_path_buf();
    }
}

#[test]
fn read_only_commands_work_on_a_read_only_database_and_storage_errors_name_the_file() {
    use std::os::unix::fs::PermissionsExt;
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    stdout(&dsr_bot(d, &["console", "--user", "ann"], "/optout\n"));
    read_only_for_nobody(d);

    let listed = as_nobody(d, &["requests", "list"]);
    assert!(
        listed.status.success(),
        "{}",
        String::from_utf8_lossy(&listed.stderr)
    );
    assert!(String::from_utf8_lossy(&listed.stdout).contains("opt_out"));
    let report = as_nobody(d, &["report", "--format", "json"]);
    assert!(
        report.status.success(),
        "{}",
        String::from_utf8_lossy(&report.stderr)
    );

    let write = as_nobody(d, &["console", "--user", "bob"]);
    let err = String::from_utf8_lossy(&write.stderr);
    assert!(!write.status.success());
    assert!(
        err.contains("dsr-bot.db") && err.contains("read-only"),
        "{err}"
    );
    std::fs::set_permissions(d, std::fs::Permissions::from_mode(0o755)).unwrap();
}

#[test]
fn a_read_only_database_upgraded_by_a_newer_version_is_refused_saying_so() {
    use std::os::unix::fs::PermissionsExt;
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    stdout(&dsr_bot(d, &["console", "--user", "ann"], "/optout\n"));
    crate::common::open_with_key(&d.join("dsr-bot.db"))
        .execute(
            "INSERT INTO _sqlx_migrations (version, description, success, checksum, execution_time)
             VALUES (29991231000099, 'from a newer version', 1, x'00', 0)",
            [],
        )
        .unwrap();
    read_only_for_nobody(d);
    let listed = as_nobody(d, &["requests", "list"]);
    let err = String::from_utf8_lossy(&listed.stderr);
    assert!(!listed.status.success());
    assert!(
        err.contains("upgraded by a newer dsr-bot") && err.contains("29991231000099"),
        "{err}"
    );
    std::fs::set_permissions(d, std::fs::Permissions::from_mode(0o755)).unwrap();
}

#[test]
fn a_maildir_run_that_leaves_mail_for_later_says_so_in_its_exit_code() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let maildir = d.join("Maildir");
    std::fs::create_dir_all(maildir.join("new")).unwrap();
    for n in 0..3 {
        std::fs::write(
            maildir.join("new").join(format!("{n}.mail")),
            format!("From: eager@example.net\r\nTo: privacy@example.org\r\nSubject: x\r\nMessage-ID: <e{n}@x>\r\n\r\nstatus\r\n"),
        )
        .unwrap();
    }
    let out = dsr_bot_with(
        d,
        &["ingest-mail", "--maildir", maildir.to_str().unwrap()],
        "",
        &[("RATE_LIMIT_PER_PERSON", "1")],
    );
    assert_eq!(
        out.status.code(),
        Some(75),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(String::from_utf8_lossy(&out.stderr).contains("2 message(s) left"));
    assert_eq!(std::fs::read_dir(maildir.join("new")).unwrap().count(), 2);
}

#[test]
fn an_officer_extends_notes_and_reads_a_request_from_the_command_line() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    stdout(&dsr_bot(d, &["console", "--user", "alice"], "/delete\n"));

    let extended = stdout(&dsr_bot(
        d,
        &[
            "requests",
            "extend",
            "1",
            "--days",
            "20",
            "--reason",
            "three systems to search",
        ],
        "",
    ));
    assert!(extended.contains("Request #1 is now due"), "{extended}");
    let again = dsr_bot(
        d,
        &["requests", "extend", "1", "--days", "5", "--reason", "more"],
        "",
    );
    assert!(!again.status.success());
    let err = String::from_utf8_lossy(&again.stderr);
    assert!(err.contains("can be extended once"), "{err}");

    let noted = stdout(&dsr_bot(
        d,
        &[
            "requests",
            "note",
            "1",
            "Alice phoned; she means every system.",
        ],
        "",
    ));
    assert!(noted.contains("Note 1 added to request #1"), "{noted}");

    let shown = stdout(&dsr_bot(d, &["requests", "show", "1"], ""));
    for want in [
        "Request #1",
        "awaiting your confirmation",
        "Extended",
        "due date extended by 20 days",
        "note 1 added",
        "1. ",
        "Alice phoned; she means every system.",
    ] {
        assert!(shown.contains(want), "{want}: {shown}");
    }
    let json: serde_json::Value = serde_json::from_str(&stdout(&dsr_bot(
        d,
        &["requests", "show", "1", "--format", "json"],
        "",
    )))
    .unwrap();
    assert_eq!(
        json["notes"][0]["text"],
        "Alice phoned; she means every system."
    );
    assert!(json["original_due_at"].is_string());

    let missing = dsr_bot(d, &["requests", "show", "7"], "");
    assert!(!missing.status.success());
    assert!(String::from_utf8_lossy(&missing.stderr).contains("There is no request #7"));
}

#[test]
fn templates_check_passes_the_built_in_ones_and_names_the_file_and_line_of_each_problem() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let ok = stdout(&dsr_bot(d, &["templates", "check"], ""));
    assert!(ok.contains("every built-in template renders"), "{ok}");

    let own = d.join("own");
    std::fs::create_dir_all(own.join("email")).unwrap();
    std::fs::create_dir_all(own.join("report")).unwrap();
    std::fs::write(
        own.join("email/due_extended.txt"),
        "Subject: More time for request #{{ request_id }}\n\nWe now answer by {{ due }}: {{ reason }}\n",
    )
    .unwrap();
    let fine = stdout(&dsr_bot(d, &["templates", "check", "own"], ""));
    assert!(fine.contains("replaces 1 of them"), "{fine}");

    std::fs::write(
        own.join("email/reminder.txt"),
        "Subject: Still waiting\n\nHello,\nDear {{ member_name }}, please confirm.\n",
    )
    .unwrap();
    std::fs::write(own.join("email/remindr.html"), "<p>typo</p>").unwrap();
    std::fs::write(
        own.join("report/monthly.md"),
        "**{{ m.month }}**\n{% if m.rate %}\nno end\n",
    )
    .unwrap();
    let broken = dsr_bot_with(d, &["templates", "check"], "", &[("TEMPLATES_DIR", "own")]);
    assert!(!broken.status.success());
    let err = String::from_utf8_lossy(&broken.stderr);
    assert!(err.contains("own/email/reminder.txt:4:"), "{err}");
    assert!(
        err.contains("member_name") || err.contains("undefined"),
        "{err}"
    );
    assert!(
        err.contains("own/email/remindr.html: replaces no template"),
        "{err}"
    );
    assert!(err.contains("own/report/monthly.md:"), "{err}");
    assert!(err.contains("3 template problem(s)"), "{err}");

    // The service refuses to start on them, naming the file.
    let run = dsr_bot_with(d, &["migrate"], "", &[("TEMPLATES_DIR", "own")]);
    assert!(!run.status.success());
    assert!(
        String::from_utf8_lossy(&run.stderr).contains("own/"),
        "{}",
        String::from_utf8_lossy(&run.stderr)
    );
}

/// `REPORT_LANGUAGE` as an operator sets it: a language the bot does not write is refused at
/// start, naming the setting and what it may be; a French report on the command line names
/// the month in French, and its JSON is the English one's, for programs.
#[test]
fn the_report_is_printed_in_report_language_and_a_wrong_one_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    stdout(&dsr_bot(d, &["console", "--user", "ann"], "/optout\n"));
    let wrong = dsr_bot_with(d, &["report"], "", &[("REPORT_LANGUAGE", "klingon")]);
    assert!(!wrong.status.success());
    let err = String::from_utf8_lossy(&wrong.stderr);
    assert!(
        err.contains("REPORT_LANGUAGE") && err.contains("en, de, fr, es, pt-BR"),
        "{err}"
    );
    let month = "2026-03";
    let fr = stdout(&dsr_bot_with(
        d,
        &["report", "--month", month],
        "",
        &[("REPORT_LANGUAGE", "fr")],
    ));
    assert!(fr.contains("mars 2026"), "{fr}");
    assert!(!fr.contains("Opt-outs confirmed"), "{fr}");
    let json = |language: &str| {
        let out = stdout(&dsr_bot_with(
            d,
            &["report", "--month", month, "--format", "json"],
            "",
            &[("REPORT_LANGUAGE", language)],
        ));
        let mut v: serde_json::Value = serde_json::from_str(&out).unwrap();
        v.as_object_mut().unwrap().remove("generated");
        v
    };
    assert_eq!(json("fr"), json("en"));
}

/// `dsr-bot report check` and `report rebuild` as an operator runs them: each says what it
/// found in one line; a month cannot be given to them.
#[test]
fn report_check_and_rebuild_say_what_they_found() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    stdout(&dsr_bot(
        d,
        &["console", "--user", "ann"],
        "/optout\n/delete\n",
    ));
    let check = stdout(&dsr_bot(d, &["report", "check"], ""));
    assert!(
        check.contains("the monthly report's counts agree with the requests in all"),
        "{check}"
    );
    let rebuilt = stdout(&dsr_bot(d, &["report", "rebuild"], ""));
    assert!(
        rebuilt.contains("rebuilt from the requests (2 in all)"),
        "{rebuilt}"
    );
    let both = dsr_bot(d, &["report", "check", "--month", "2026-01"], "");
    assert!(!both.status.success());
    let json = stdout(&dsr_bot(d, &["report", "--format", "json"], ""));
    assert!(json.contains("\"opt_outs\""), "{json}");
}

#[test]
fn a_listing_cut_short_by_its_reader_ends_quietly() {
    use std::io::Read;
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    // Enough requests that the listing is far longer than a pipe holds.
    let db = d.join("dsr-bot.db");
    stdout(&dsr_bot(
        d,
        &[
            "bench",
            "report",
            "--requests",
            "3000",
            "--database",
            db.to_str().unwrap(),
        ],
        "",
    ));
    for format in ["json", "table"] {
        let mut child = crate::common::bin(d)
            .args(["requests", "list", "--format", format])
            .env("DATABASE_PATH", &db)
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .unwrap();
        // `| head -c 100`: read a little, then close the pipe.
        let mut first = [0u8; 100];
        child.stdout.take().unwrap().read_exact(&mut first).unwrap();
        let out = child.wait_with_output().unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(out.status.success(), "{format}: {:?} {stderr}", out.status);
        assert!(!stderr.contains("error"), "{format}: {stderr}");
    }
}
