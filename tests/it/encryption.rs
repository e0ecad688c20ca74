//! Encryption at rest: with a key, nothing in the database or its WAL reads as SQLite or names
//! anyone; a wrong key is refused without touching the file; `db encrypt` and `db rekey` keep
//! every row; reports and the benchmark run on an encrypted database.

use crate::common;

use std::{
    collections::BTreeMap,
    path::{Path, PathBuf},
    process::{Command, Output},
    sync::Arc,
};

use common::{at, console};
use dsr_bot::{
    clock::ManualClock,
    config::{Config, DatabaseKey, SecretKey},
    db::cipher,
    domain::{Channel, DiscordId, EmailAddress, RequestKind},
    reports::render::Format,
    services::{HeldMessage, Origin},
    startup::App,
};

const ADDRESS: &str = "alice.secret@example.org";
const DISCORD_ID: u64 = 912_345_678_901_234_567;
const KEY_A: &str = "6b1f0b2c5d9e8a7f60514233241506f7e8d9cabbacdfe0f102132435465768a9";
const KEY_B: &str = "00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff";

fn config_with(dir: &Path, key: DatabaseKey) -> Config {
    let mut c = Config::for_folder(dir);
    c.database_key = key;
    c
}

fn given(hex_key: &str) -> DatabaseKey {
    DatabaseKey::Given(SecretKey(hex::decode(hex_key).unwrap()))
}

/// Every file of the database: the file, its WAL and its shared-memory index.
fn database_files(db: &Path) -> Vec<PathBuf> {
    ["", "-wal", "-shm"]
        .iter()
        .map(|ext| PathBuf::from(format!("{}{ext}", db.display())))
        .filter(|p| p.exists())
        .collect()
}

fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    haystack.windows(needle.len()).any(|w| w == needle)
}

/// The size and SHA-256 of every file in the folder, by name. (Reading a file drops this
/// process's POSIX locks on it, so it is only used on folders no connection here has open.)
fn snapshot(dir: &Path) -> BTreeMap<String, (usize, String)> {
    use sha2::Digest;
    std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.is_file())
        .map(|p| {
            let bytes = std::fs::read(&p).unwrap();
            (
                p.file_name().unwrap().to_string_lossy().into_owned(),
                (bytes.len(), hex::encode(sha2::Sha256::digest(&bytes))),
            )
        })
        .collect()
}

#[tokio::test]
async fn with_a_key_no_file_of_the_database_reads_as_sqlite_or_names_anyone() {
    let dir = tempfile::tempdir().unwrap();
    let clock = ManualClock::new(at(common::BEFORE_DEADLINE));
    let app = App::build_with_clock(config_with(dir.path(), given(KEY_A)), Arc::new(clock))
        .await
        .unwrap();
    let s = &app.services;
    s.file_request(
        &Origin::new(&console("alice"), Channel::Console),
        RequestKind::OptOut,
        EmailAddress::parse(ADDRESS).ok(),
    )
    .await
    .unwrap();
    s.file_request(
        &Origin::discord(DiscordId(DISCORD_ID), 77),
        RequestKind::OptOut,
        None,
    )
    .await
    .unwrap();
    let held = format!(
        "From: {ADDRESS}\r\nSubject: a very long message\r\n\r\nplease delete me, {ADDRESS}\r\n"
    );
    s.inbound()
        .hold(
            "held-1",
            HeldMessage {
                reason: "too large".into(),
                size: held.len() as u64,
                message: held.into_bytes(),
                headers_only: false,
            },
            None,
        )
        .await
        .unwrap();
    // The rows are there for whoever has the key.
    assert_eq!(s.inbound().held().await.unwrap().len(), 1);
    let identities: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM identities")
        .fetch_one(s.pool())
        .await
        .unwrap();
    assert!(identities >= 2);

    let db = app.services.config().database_path.clone();
    let files = database_files(&db);
    assert!(
        files.iter().any(|f| f.to_string_lossy().ends_with("-wal")),
        "the WAL is checked too: {files:?}"
    );
    for f in &files {
        let bytes = std::fs::read(f).unwrap();
        let name = f.display();
        assert!(
            !contains(&bytes, b"SQLite format 3"),
            "{name} has SQLite's plain header"
        );
        assert!(
            !contains(&bytes, ADDRESS.as_bytes()),
            "{name} holds the address"
        );
        assert!(
            !contains(&bytes, DISCORD_ID.to_string().as_bytes()),
            "{name} holds the Discord id"
        );
        assert!(
            !contains(&bytes, b"please delete me"),
            "{name} holds the held mail"
        );
    }
    // Nothing else beside the database holds them either (the outbox folder is the mail's
    // hand-over point, like an SMTP server, and is not looked at here).
    for entry in std::fs::read_dir(dir.path()).unwrap() {
        let p = entry.unwrap().path();
        if p.is_file() {
            let bytes = std::fs::read(&p).unwrap();
            assert!(
                !contains(&bytes, ADDRESS.as_bytes()),
                "{} holds the address",
                p.display()
            );
        }
    }
}

#[tokio::test]
async fn a_wrong_key_is_refused_in_one_line_and_the_file_is_untouched() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    // Made and left by another process, as a service would.
    let made = dsr_bot_stdin(
        d,
        &["console", "--user", "bob"],
        &[("DATABASE_KEY", KEY_A)],
        "/optin\n",
    );
    assert!(
        made.status.success(),
        "{}",
        String::from_utf8_lossy(&made.stderr)
    );
    let before = snapshot(d);

    let refused = dsr_bot(d, &["requests", "list"], &[("DATABASE_KEY", KEY_B)]);
    let err = String::from_utf8_lossy(&refused.stderr);
    assert_eq!(refused.status.code(), Some(2), "{err}");
    assert_eq!(err.lines().count(), 1, "{err}");
    assert!(
        err.contains("does not open with the key from DATABASE_KEY")
            && err.contains("nothing was changed"),
        "{err}"
    );
    assert!(
        !err.contains(KEY_B) && !err.contains(KEY_A),
        "no key printed: {err}"
    );
    let e = App::build(config_with(d, given(KEY_B)))
        .await
        .err()
        .expect("the wrong key is refused by a writing start too");
    assert!(
        format!("{e:#}").contains("does not open with the key"),
        "{e:#}"
    );
    let missing = dsr_bot(d, &["requests", "list"], &[]);
    assert_eq!(
        missing.status.code(),
        Some(1),
        "no key beside it and none given"
    );
    // The database and its WAL are as they were. (`-shm` is SQLite's index of the WAL, page
    // numbers and checksums with no data, which any reader may rebuild.)
    let (mut now, mut was) = (snapshot(d), before);
    now.remove("dsr-bot.db-shm");
    was.remove("dsr-bot.db-shm");
    assert_eq!(now, was, "nothing in the folder changed");

    // And the right key still opens it, with the row there.
    let listed = dsr_bot(
        d,
        &["requests", "list", "--format", "json"],
        &[("DATABASE_KEY", KEY_A)],
    );
    let json: serde_json::Value = serde_json::from_slice(&listed.stdout).unwrap();
    assert_eq!(json.as_array().unwrap().len(), 1);
}

#[tokio::test]
async fn the_default_key_file_is_made_owner_only_beside_a_new_database() {
    let dir = tempfile::tempdir().unwrap();
    let app = App::build(Config::for_folder(dir.path())).await.unwrap();
    let key_file = dir.path().join("dsr-bot.key");
    assert!(key_file.exists());
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(&key_file).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o600, "{mode:o}");
    }
    let head = &std::fs::read(dir.path().join("dsr-bot.db")).unwrap()[..16];
    assert_ne!(head, b"SQLite format 3\0");
    drop(app);
    // A missing key file for an existing database is refused, not replaced.
    std::fs::rename(&key_file, dir.path().join("elsewhere.key")).unwrap();
    let e = App::build(Config::for_folder(dir.path()))
        .await
        .err()
        .unwrap();
    assert!(format!("{e:#}").contains("dsr-bot.key"), "{e:#}");
    assert!(!key_file.exists());
}

fn dsr_bot(dir: &Path, args: &[&str], env: &[(&str, &str)]) -> Output {
    dsr_bot_stdin(dir, args, env, "")
}

fn dsr_bot_stdin(dir: &Path, args: &[&str], env: &[(&str, &str)], stdin: &str) -> Output {
    common::output(
        common::bin(dir).args(args).envs(env.iter().copied()),
        stdin.as_bytes(),
    )
}

/// Rows per table, read on a connection closed before this returns (with the key beside the
/// database, unless it is plain).
fn rows(db: &Path) -> BTreeMap<String, i64> {
    cipher::init_crypto();
    let conn = rusqlite::Connection::open(db).unwrap();
    if cipher::file_state(db).unwrap() == cipher::FileState::Encrypted {
        let key = cipher::read_key_file(&cipher::key_file_beside(db), "key").unwrap();
        conn.pragma_update(None, "key", format!("x'{}'", key.hex()))
            .unwrap();
    }
    let names: Vec<String> = conn
        .prepare("SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%'")
        .unwrap()
        .query_map([], |r| r.get(0))
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap();
    names
        .into_iter()
        .map(|n| {
            let c: i64 = conn
                .query_row(&format!("SELECT COUNT(*) FROM \"{n}\""), [], |r| r.get(0))
                .unwrap();
            (n, c)
        })
        .collect()
}

#[test]
fn db_encrypt_and_rekey_keep_every_row_and_refuse_a_database_in_use() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    // A plain database from before encryption, with rows in many tables, made by another
    // process as an older version would have.
    let filled = dsr_bot(
        d,
        &[
            "bench",
            "rush",
            "--plain",
            "--requests",
            "200",
            "--concurrency",
            "10",
            "--database",
            "dsr-bot.db",
        ],
        &[],
    );
    assert!(
        filled.status.success(),
        "{}",
        String::from_utf8_lossy(&filled.stderr)
    );
    let db_name = "dsr-bot.db";
    let db = d.join(db_name);
    assert_eq!(cipher::file_state(&db).unwrap(), cipher::FileState::Plain);
    let before = rows(&db);
    assert!(
        before["requests"] >= 150 && before["identities"] > 0,
        "{before:?}"
    );
    let some_address = "member3@example.org";
    assert!(
        database_files(&db)
            .iter()
            .any(|f| contains(&std::fs::read(f).unwrap(), some_address.as_bytes()))
    );

    // The service refuses the plain file, in one line naming the command to run.
    let refused = dsr_bot(d, &["requests", "list"], &[]);
    let err = String::from_utf8_lossy(&refused.stderr);
    assert_eq!(refused.status.code(), Some(2), "{err}");
    assert!(
        err.contains("is not encrypted") && err.contains("dsr-bot db encrypt"),
        "{err}"
    );

    // Another process has it open: the encryption is refused, and the file stays as it was.
    let mut holder = Command::new("python3")
        .args([
            "-c",
            "import sqlite3, sys, time\n\
             c = sqlite3.connect(sys.argv[1])\n\
             c.execute('SELECT COUNT(*) FROM requests').fetchall()\n\
             print('open', flush=True)\n\
             time.sleep(60)",
        ])
        .arg(&db)
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let mut line = String::new();
    std::io::BufRead::read_line(
        &mut std::io::BufReader::new(holder.stdout.as_mut().unwrap()),
        &mut line,
    )
    .unwrap();
    assert_eq!(line.trim(), "open");
    let busy = dsr_bot(d, &["db", "encrypt"], &[]);
    let _ = holder.kill();
    let _ = holder.wait();
    let err = String::from_utf8_lossy(&busy.stderr);
    assert!(!busy.status.success());
    assert!(err.contains("the database is in use"), "{err}");
    assert_eq!(cipher::file_state(&db).unwrap(), cipher::FileState::Plain);
    assert_eq!(rows(&db), before);

    let done = dsr_bot(d, &["db", "encrypt"], &[]);
    let out = String::from_utf8_lossy(&done.stdout);
    assert!(
        done.status.success(),
        "{}",
        String::from_utf8_lossy(&done.stderr)
    );
    assert!(out.contains("is now encrypted"), "{out}");
    assert_ne!(&std::fs::read(&db).unwrap()[..16], b"SQLite format 3\0");
    for f in database_files(&db) {
        assert!(
            !contains(&std::fs::read(&f).unwrap(), some_address.as_bytes()),
            "{}",
            f.display()
        );
    }
    assert_eq!(rows(&db), before, "every row is kept");

    let old_key = std::fs::read_to_string(d.join("dsr-bot.key")).unwrap();
    let rekeyed = dsr_bot(d, &["db", "rekey"], &[]);
    assert!(
        rekeyed.status.success(),
        "{}",
        String::from_utf8_lossy(&rekeyed.stderr)
    );
    let new_key = std::fs::read_to_string(d.join("dsr-bot.key")).unwrap();
    assert_ne!(old_key, new_key);
    assert!(!d.join("dsr-bot.key.new").exists());
    assert_eq!(rows(&db), before, "every row is kept");
    // The old key no longer opens it: one line, exit 2, nothing changed.
    std::fs::write(d.join("old.key"), &old_key).unwrap();
    owner_only(&d.join("old.key"));
    let files = snapshot(d);
    let old = dsr_bot(
        d,
        &["requests", "list"],
        &[("DATABASE_KEY_FILE", "old.key")],
    );
    let err = String::from_utf8_lossy(&old.stderr);
    assert_eq!(old.status.code(), Some(2), "{err}");
    assert_eq!(err.lines().count(), 1, "{err}");
    assert!(
        err.contains("does not open with the key from DATABASE_KEY_FILE"),
        "{err}"
    );
    assert_eq!(snapshot(d), files);

    // A key kept elsewhere: the new one is given in a file, which is made when missing.
    let elsewhere = dsr_bot(
        d,
        &["db", "rekey", "--new-key-file", "next.key"],
        &[("DATABASE_KEY_FILE", "dsr-bot.key")],
    );
    let out = String::from_utf8_lossy(&elsewhere.stdout);
    assert!(
        elsewhere.status.success(),
        "{}",
        String::from_utf8_lossy(&elsewhere.stderr)
    );
    assert!(out.contains("Set DATABASE_KEY_FILE=next.key"), "{out}");
    let listed = dsr_bot(
        d,
        &["requests", "list", "--format", "json"],
        &[("DATABASE_KEY_FILE", "next.key")],
    );
    let json: serde_json::Value = serde_json::from_slice(&listed.stdout).unwrap();
    assert_eq!(json.as_array().unwrap().len() as i64, before["requests"]);
}

#[test]
fn an_interrupted_key_change_is_finished_or_undone_at_the_next_start() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    assert!(dsr_bot(d, &["migrate"], &[]).status.success());
    let db = d.join("dsr-bot.db");
    let key_file = d.join("dsr-bot.key");
    let pending = cipher::pending_key_file(&db);

    // Interrupted before the database moved: the pending key is dropped.
    std::fs::write(&pending, format!("{KEY_B}\n")).unwrap();
    owner_only(&pending);
    let old = std::fs::read_to_string(&key_file).unwrap();
    assert!(dsr_bot(d, &["requests", "list"], &[]).status.success());
    assert!(!pending.exists());
    assert_eq!(std::fs::read_to_string(&key_file).unwrap(), old);

    // Interrupted after it moved (the database already opens with the pending key): the
    // pending key becomes the key.
    let new = cipher::Key::random();
    let old_key = cipher::read_key_file(&key_file, "key").unwrap();
    cipher::reencrypt(&db, Some(&old_key), &new).unwrap();
    cipher::write_key_file(&pending, &new).unwrap();
    let listed = dsr_bot(d, &["requests", "list"], &[]);
    assert!(
        listed.status.success(),
        "{}",
        String::from_utf8_lossy(&listed.stderr)
    );
    assert!(!pending.exists());
    assert_eq!(cipher::read_key_file(&key_file, "key").unwrap(), new);
}

#[tokio::test]
async fn the_report_reads_an_encrypted_database() {
    let dir = tempfile::tempdir().unwrap();
    let clock = ManualClock::new(at("2025-10-05T10:00:00Z"));
    let app = App::build_with_clock(config_with(dir.path(), given(KEY_A)), Arc::new(clock))
        .await
        .unwrap();
    app.services
        .file_request(
            &Origin::new(&console("eve"), Channel::Console),
            RequestKind::OptOut,
            None,
        )
        .await
        .unwrap();
    let report = app
        .services
        .reports()
        .month(Some("2025-10".parse().unwrap()))
        .await
        .unwrap();
    assert_eq!(report.figures.opt_outs, 1);
    assert!(
        app.services
            .reports()
            .render(&report, Format::Html)
            .unwrap()
            .contains("2025-10")
    );
}

#[test]
fn bench_rush_runs_on_an_encrypted_database_and_on_a_plain_one() {
    let dir = tempfile::tempdir().unwrap();
    for extra in [&[][..], &["--plain"][..]] {
        let mut args = vec!["bench", "rush", "--requests", "300", "--concurrency", "10"];
        args.extend_from_slice(extra);
        let out = dsr_bot(dir.path(), &args, &[]);
        let text = String::from_utf8_lossy(&out.stdout);
        assert!(
            out.status.success(),
            "{args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        assert!(text.contains("300"), "{text}");
    }
}

/// Key files are owner-only (the bot refuses others), as the bot makes them.
fn owner_only(path: &Path) {
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o600)).unwrap();
    }
}
