//! The binary as a new user meets it, in a fresh folder with nothing configured.

use std::{
    io::Write,
    path::Path,
    process::{Command, Output, Stdio},
};

fn dsr_bot(dir: &Path, args: &[&str], stdin: &str) -> Output {
    dsr_bot_with(dir, args, stdin, &[])
}

/// As [`dsr_bot`], with these variables set on top of an empty environment.
fn dsr_bot_with(dir: &Path, args: &[&str], stdin: &str, env: &[(&str, &str)]) -> Output {
    let mut child = Command::new(env!("CARGO_BIN_EXE_dsr-bot"))
        .args(args)
        .current_dir(dir)
        .env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .envs(env.iter().copied())
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(stdin.as_bytes())
        .unwrap();
    child.wait_with_output().unwrap()
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
    assert!(row["due_at"].is_string());
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
    assert_eq!(defs.as_array().unwrap().len(), 11);
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
    assert!(
        found(kept_files(d)),
        "the search finds the held message first"
    );

    stdout(&dsr_bot(d, &["requests", "complete", "1"], ""));

    assert!(
        !found(kept_files(d)),
        "the address is still in a file the bot keeps"
    );
}
