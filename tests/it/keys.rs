//! The database key: never in the repository, never in a file others can read, never in any
//! output at any log level, never lost by a key change, whatever runs beside it or kills it.

use crate::common;

use std::{
    io::{BufRead, BufReader},
    path::Path,
    process::{Child, Command, Stdio},
    time::{Duration, Instant},
};

use common::{bin, output, printed, run_bin};
use dsr_bot::db::cipher;

const KEY: &str = "6b1f0b2c5d9e8a7f60514233241506f7e8d9cabbacdfe0f102132435465768a9";

fn mail(from: &str, id: &str, body: &str) -> Vec<u8> {
    format!(
        "From: {from}\r\nTo: privacy@example.org\r\nSubject: request\r\nMessage-ID: <{id}@x>\r\n\r\n{body}\r\n"
    )
    .into_bytes()
}

#[cfg(unix)]
fn chmod(path: &Path, mode: u32) {
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode)).unwrap();
}

#[test]
fn the_repository_holds_no_key_and_ignores_every_key_file() {
    let top = Path::new(env!("CARGO_MANIFEST_DIR"));
    let tracked = Command::new("git")
        .args(["ls-files"])
        .current_dir(top)
        .output()
        .unwrap();
    let tracked = String::from_utf8(tracked.stdout).unwrap();
    let keys: Vec<&str> = tracked
        .lines()
        .filter(|f| f.ends_with(".key") || f.ends_with(".key.new") || f.ends_with(".pem"))
        .collect();
    assert!(keys.is_empty(), "tracked key files: {keys:?}");
    for path in [
        "dsr-bot.key",
        "dsr-bot.key.new",
        "data/dsr-bot.key",
        "dsr-bot.signing.key",
        "dsr-bot.db",
        "dsr-bot.db-wal",
        "outbox/000001.eml",
        "reports/2026-11.md",
        ".env",
    ] {
        let ignored = Command::new("git")
            .args(["check-ignore", "-q", "--no-index", path])
            .current_dir(top)
            .status()
            .unwrap();
        assert!(ignored.success(), "{path} is not ignored by .gitignore");
    }
}

#[cfg(unix)]
#[test]
fn a_key_file_others_can_read_is_refused_in_one_line_saying_how_to_fix_it() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    assert!(run_bin(d, &["migrate"], &[]).status.success());
    let key = d.join("dsr-bot.key");
    for mode in [0o644, 0o640, 0o604] {
        chmod(&key, mode);
        let out = run_bin(d, &["requests", "list"], &[]);
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{mode:o}: {err}");
        assert_eq!(err.lines().count(), 1, "{err}");
        assert!(
            err.contains("chmod 600") && err.contains("dsr-bot.key"),
            "{err}"
        );
    }
    chmod(&key, 0o600);
    assert!(run_bin(d, &["requests", "list"], &[]).status.success());

    // A key kept elsewhere is held to the same rule.
    let elsewhere = d.join("secret.key");
    std::fs::copy(&key, &elsewhere).unwrap();
    chmod(&elsewhere, 0o644);
    let out = run_bin(
        d,
        &["requests", "list"],
        &[("DATABASE_KEY_FILE", "secret.key")],
    );
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{err}");
    assert!(
        err.contains("chmod 600") && err.contains("DATABASE_KEY_FILE"),
        "{err}"
    );
}

#[test]
fn a_key_file_tracked_by_git_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    assert!(
        Command::new("git")
            .args(["init", "-q"])
            .current_dir(d)
            .status()
            .unwrap()
            .success()
    );
    assert!(run_bin(d, &["migrate"], &[]).status.success());
    assert!(
        Command::new("git")
            .args(["add", "dsr-bot.key"])
            .current_dir(d)
            .status()
            .unwrap()
            .success()
    );
    let out = run_bin(d, &["requests", "list"], &[]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{err}");
    assert_eq!(err.lines().count(), 1, "{err}");
    assert!(
        err.contains("tracked by git") && err.contains("git rm --cached"),
        "{err}"
    );
}

/// Holds the locks SQLite takes to read `db` (its SHARED range and PENDING byte) for
/// `seconds`, so whoever opens it meanwhile waits; returns once they are held.
fn hold_database(db: &Path, seconds: f64) -> Child {
    let mut holder = Command::new("python3")
        .args([
            "-c",
            "import fcntl, os, sys, time\n\
             fd = os.open(sys.argv[1], os.O_RDWR)\n\
             fcntl.lockf(fd, fcntl.LOCK_EX, 1, 0x40000000)\n\
             fcntl.lockf(fd, fcntl.LOCK_EX, 510, 0x40000002)\n\
             print('held', flush=True)\n\
             time.sleep(float(sys.argv[2]))",
        ])
        .arg(db)
        .arg(seconds.to_string())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let mut line = String::new();
    BufReader::new(holder.stdout.as_mut().unwrap())
        .read_line(&mut line)
        .unwrap();
    assert_eq!(line.trim(), "held");
    holder
}

/// Holds the write lock of `db`'s WAL (byte 120 of its `-shm` file, as a writer in another
/// process would) for `seconds`; returns once it is held.
fn hold_writer(db: &Path, seconds: f64) -> Child {
    let mut holder = Command::new("python3")
        .args([
            "-c",
            "import fcntl, os, sys, time\n\
             fd = os.open(sys.argv[1] + '-shm', os.O_RDWR | os.O_CREAT, 0o600)\n\
             fcntl.lockf(fd, fcntl.LOCK_EX, 1, 120)\n\
             print('held', flush=True)\n\
             time.sleep(float(sys.argv[2]))",
        ])
        .arg(db)
        .arg(seconds.to_string())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let mut line = String::new();
    BufReader::new(holder.stdout.as_mut().unwrap())
        .read_line(&mut line)
        .unwrap();
    assert_eq!(line.trim(), "held");
    holder
}

#[test]
fn no_output_of_any_command_at_any_log_level_holds_the_key() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let maildir = d.join("Maildir");
    for sub in ["new", "cur", "tmp"] {
        std::fs::create_dir_all(maildir.join(sub)).unwrap();
    }
    std::fs::write(
        maildir.join("new/1.eml"),
        mail("maildir@example.net", "m1", "status"),
    )
    .unwrap();
    std::fs::write(
        d.join("import.csv"),
        "received_at,kind,email,status\n2025-09-20T10:00:00Z,opt_out,old@example.net,confirmed\n",
    )
    .unwrap();
    std::fs::create_dir_all(d.join("own/email")).unwrap();
    let runs: Vec<(Vec<&str>, Vec<u8>)> = vec![
        (vec!["migrate"], vec![]),
        (
            vec!["console", "--user", "alice"],
            b"/optout email:alice@example.org\n/delete\n/status\n".to_vec(),
        ),
        (vec!["run", "--user", "bob"], b"/optin\n".to_vec()),
        (vec!["requests", "list"], vec![]),
        (vec!["requests", "list", "--format", "json"], vec![]),
        (vec!["requests", "show", "1"], vec![]),
        (
            vec![
                "requests",
                "extend",
                "2",
                "--days",
                "5",
                "--reason",
                "several systems",
            ],
            vec![],
        ),
        (vec!["requests", "note", "2", "checked"], vec![]),
        (vec!["requests", "complete", "2"], vec![]),
        (vec!["report"], vec![]),
        (vec!["report", "--format", "html"], vec![]),
        (vec!["held", "list"], vec![]),
        (vec!["mail", "flush"], vec![]),
        (
            vec!["ingest-mail"],
            mail("pipe@example.net", "p1", "opt out"),
        ),
        (vec!["ingest-mail"], b"not a message".to_vec()),
        (vec!["ingest-mail", "--maildir", "Maildir"], vec![]),
        (vec!["import", "import.csv"], vec![]),
        (vec!["templates", "check", "own"], vec![]),
        (vec!["discord", "commands"], vec![]),
        (vec!["db", "rekey", "--new-key-file", "new.key"], vec![]),
    ];
    let mut leaks = Vec::new();
    let new_key = || std::fs::read_to_string(d.join("new.key")).ok();
    for (args, stdin) in &runs {
        let key = if new_key().is_some() && args[0] != "db" {
            new_key().unwrap().trim().to_owned()
        } else {
            KEY.to_owned()
        };
        for level in ["trace", "debug", "info"] {
            let out = output(
                bin(d)
                    .args(args)
                    .env("DATABASE_KEY", &key)
                    .env("RUST_LOG", level),
                stdin,
            );
            let text = printed(&out);
            for k in [KEY.to_owned(), new_key().unwrap_or_default()] {
                let k = k.trim();
                if !k.is_empty() && text.to_ascii_lowercase().contains(k) {
                    leaks.push(format!("{args:?} at {level}"));
                }
            }
            if args[0] == "db" {
                assert!(out.status.success(), "{text}");
                break;
            }
        }
    }
    // Opening waits over a second (another process holds the file): still no key, at the
    // default level as at the most verbose one.
    let key = new_key().unwrap();
    for level in [None, Some("trace")] {
        let mut holder = hold_database(&d.join("dsr-bot.db"), 1.6);
        let mut cmd = bin(d);
        cmd.args(["requests", "list"])
            .env("DATABASE_KEY", key.trim());
        if let Some(level) = level {
            cmd.env("RUST_LOG", level);
        }
        let out = output(&mut cmd, b"");
        let _ = holder.wait();
        let text = printed(&out);
        assert!(out.status.success(), "{text}");
        if text.to_ascii_lowercase().contains(key.trim()) {
            leaks.push(format!("a slow open at {level:?}"));
        }
    }
    assert!(leaks.is_empty(), "the key was printed by: {leaks:?}");
}

/// Rows per table of the database in `dir`, opened with the key in its key file.
fn rows(db: &Path) -> Option<std::collections::BTreeMap<String, i64>> {
    cipher::init_crypto();
    let key = cipher::read_key_file(&cipher::key_file_beside(db), "key").ok()?;
    let conn = rusqlite::Connection::open(db).ok()?;
    conn.pragma_update(None, "key", format!("x'{}'", key.hex()))
        .ok()?;
    conn.pragma_update(None, "cipher_hmac_algorithm", cipher::HMAC)
        .ok()?;
    let names: Vec<String> = conn
        .prepare("SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%'")
        .ok()?
        .query_map([], |r| r.get(0))
        .ok()?
        .collect::<Result<_, _>>()
        .ok()?;
    names
        .into_iter()
        .map(|n| {
            conn.query_row(&format!("SELECT COUNT(*) FROM \"{n}\""), [], |r| r.get(0))
                .map(|c: i64| (n, c))
                .ok()
        })
        .collect()
}

/// A database of `requests` generated requests in `dir`, its key beside it.
fn filled(dir: &Path, requests: usize) -> std::path::PathBuf {
    let db = dir.join("dsr-bot.db");
    let out = run_bin(
        dir,
        &[
            "bench",
            "report",
            "--requests",
            &requests.to_string(),
            "--database",
            "dsr-bot.db",
        ],
        &[],
    );
    assert!(out.status.success(), "{}", printed(&out));
    db
}

/// Starts `run(n)` every `pause` ms until `done`, each on its own thread; what each printed.
fn repeatedly<'scope, F>(
    s: &'scope std::thread::Scope<'scope, '_>,
    done: &'scope std::sync::atomic::AtomicBool,
    pause: u64,
    run: &'scope F,
) -> std::thread::ScopedJoinHandle<'scope, Vec<std::process::Output>>
where
    F: Fn(usize) -> std::process::Output + Sync,
{
    s.spawn(move || {
        let mut running = Vec::new();
        let mut n = 0;
        while !done.load(std::sync::atomic::Ordering::SeqCst) {
            n += 1;
            running.push(s.spawn(move || run(n)));
            std::thread::sleep(Duration::from_millis(pause));
        }
        running.into_iter().map(|r| r.join().unwrap()).collect()
    })
}

#[test]
fn commands_started_while_a_rekey_copies_never_settle_it_and_the_data_always_opens() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let db = filled(d, 300_000);
    let before = rows(&db).expect("the filled database opens");
    let pending = cipher::pending_key_file(&db);
    let mut taken = 0;
    for round in 0..2 {
        let old_key = std::fs::read_to_string(d.join("dsr-bot.key")).unwrap();
        let mut rekey = bin(d)
            .args(["db", "rekey"])
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let started = Instant::now();
        while !pending.exists() && started.elapsed() < Duration::from_secs(30) {
            std::thread::sleep(Duration::from_millis(1));
        }
        assert!(pending.exists(), "the rekey wrote its pending key");
        // While it runs, from its first step to its last: listings, and mail handed over by an
        // MTA, each started every few hundred milliseconds whether or not the last one ended.
        let done = std::sync::atomic::AtomicBool::new(false);
        let list = |_| {
            output(
                bin(d).args(["requests", "list", "--state", "cancelled"]),
                b"",
            )
        };
        let ingest = |n: usize| {
            output(
                bin(d).arg("ingest-mail"),
                &mail("during@example.net", &format!("r{round}-{n}"), "status"),
            )
        };
        let (lists, ingests) = std::thread::scope(|s| {
            let lists = repeatedly(s, &done, 230, &list);
            let ingests = repeatedly(s, &done, 170, &ingest);
            while rekey.try_wait().unwrap().is_none() {
                std::thread::sleep(Duration::from_millis(5));
            }
            done.store(true, std::sync::atomic::Ordering::SeqCst);
            (lists.join().unwrap(), ingests.join().unwrap())
        });
        let rekey = rekey.wait_with_output().unwrap();
        assert!(ingests.len() > 3, "{} ingests", ingests.len());
        for ingest in &ingests {
            assert!(
                matches!(ingest.status.code(), Some(0 | 75)),
                "an MTA must be told to retry or that it was taken: {:?} {}",
                ingest.status.code(),
                printed(ingest)
            );
        }
        for list in &lists {
            if !list.status.success() {
                let err = String::from_utf8_lossy(&list.stderr);
                assert_eq!(err.lines().count(), 1, "{err}");
                assert!(err.contains("key change"), "{err}");
            }
        }
        let after = rows(&db);
        assert!(
            after.is_some(),
            "round {round}: the database opens with its key file (rekey: {})",
            printed(&rekey)
        );
        assert!(rekey.status.success(), "{}", printed(&rekey));
        let new_key = std::fs::read_to_string(d.join("dsr-bot.key")).unwrap();
        assert_ne!(new_key, old_key);
        assert!(!pending.exists());
        let after = after.unwrap();
        assert_eq!(after["requests"], before["requests"]);
        // Every message an MTA was told was taken is in the database that stands.
        taken += ingests.iter().filter(|i| i.status.success()).count() as i64;
        assert_eq!(
            after["processed_inputs"],
            before["processed_inputs"] + taken,
            "round {round}: messages acknowledged during the rekey were lost"
        );
    }
}

#[test]
fn a_rekey_killed_at_any_step_leaves_a_database_that_opens_with_one_of_its_keys() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let db = filled(d, 2_000);
    let before = rows(&db).unwrap();
    let mut outcomes = Vec::new();
    for step in ["key-pending-written", "copied", "swapped", "key-in-place"] {
        let old_key = std::fs::read_to_string(d.join("dsr-bot.key")).unwrap();
        let killed = run_bin(d, &["db", "rekey"], &[("DSR_BOT_FAILPOINT", step)]);
        assert!(!killed.status.success(), "{step}: {}", printed(&killed));
        // The next command settles what the killed one left.
        let next = run_bin(d, &["requests", "list", "--state", "cancelled"], &[]);
        assert!(next.status.success(), "{step}: {}", printed(&next));
        let now_key = std::fs::read_to_string(d.join("dsr-bot.key")).unwrap();
        assert!(!cipher::pending_key_file(&db).exists(), "{step}");
        assert_eq!(rows(&db).as_ref(), Some(&before), "{step}");
        outcomes.push(format!(
            "{step}: {}",
            if now_key == old_key {
                "old key"
            } else {
                "new key"
            }
        ));
    }
    assert_eq!(
        outcomes,
        [
            "key-pending-written: old key",
            "copied: old key",
            "swapped: new key",
            "key-in-place: new key",
        ]
    );
}

/// What `ingest-mail` answers an MTA, for each thing that can go wrong that is not the
/// message's own fault: 75, so it retries, and nothing that names a path.
#[test]
fn ingest_mail_asks_the_mta_to_retry_for_everything_that_is_not_the_messages_fault() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let msg = mail("someone@example.net", "x1", "status");
    assert!(run_bin(d, &["migrate"], &[]).status.success());
    let ingest = |env: &[(&str, &str)], stdin: &[u8]| {
        output(bin(d).arg("ingest-mail").envs(env.iter().copied()), stdin)
    };
    let mut wrong = Vec::new();
    let mut check = |what: &str, out: std::process::Output, want: i32| {
        let text = printed(&out);
        let shows_path = text.contains(&d.display().to_string())
            || text.contains("dsr-bot.db")
            || text.contains("dsr-bot.key");
        if out.status.code() != Some(want) || shows_path {
            wrong.push(format!("{what}: {:?} {text}", out.status.code()));
        }
    };
    check(
        "a bad setting",
        ingest(&[("RESPONSE_DAYS", "thirty")], &msg),
        75,
    );
    check("a wrong key", ingest(&[("DATABASE_KEY", KEY)], &msg), 75);
    // Room for nothing more: a message to hold (unreadable, 300 kB) does not fit.
    let big = [b"\x00\x01 not mail ".as_slice(), &[b'x'; 300_000]].concat();
    check(
        "a full disk",
        ingest(&[("SQLITE_MAX_PAGE_COUNT", "1")], &big),
        75,
    );
    // Another process has the database open, and a writer holds it longer than we wait.
    let mut open = bin(d)
        .args(["console", "--user", "holder"])
        .stdin(Stdio::piped())
        .spawn()
        .unwrap();
    let started = Instant::now();
    while !d.join("dsr-bot.db-shm").exists() && started.elapsed() < Duration::from_secs(20) {
        std::thread::sleep(Duration::from_millis(20));
    }
    let mut holder = hold_writer(&d.join("dsr-bot.db"), 3.0);
    check(
        "a locked database",
        ingest(&[("SQLITE_BUSY_TIMEOUT_MS", "200")], &msg),
        75,
    );
    let _ = holder.wait();
    drop(open.stdin.take());
    let _ = open.wait();
    #[cfg(unix)]
    {
        chmod(&d.join("dsr-bot.key"), 0o644);
        check("a key file others can read", ingest(&[], &msg), 75);
        chmod(&d.join("dsr-bot.key"), 0o600);
    }
    check(
        "a usage mistake",
        output(bin(d).args(["ingest-mail", "--nope"]), &msg),
        75,
    );
    check("a readable message", ingest(&[], &msg), 0);
    check("the same message again", ingest(&[], &msg), 0);
    check(
        "an unreadable message (held)",
        ingest(&[], b"\x00\x01 not mail"),
        0,
    );
    assert!(wrong.is_empty(), "{}", wrong.join("\n"));
}
