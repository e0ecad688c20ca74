//! The service stops cleanly: SIGTERM (as a service manager sends it) in the middle of a rush
//! stops intake, lets what is in flight commit, and exits 0, with every acknowledged request
//! in the database.

use crate::common;

use std::{
    io::{BufRead, BufReader, Write},
    process::Stdio,
    time::{Duration, Instant},
};

#[test]
fn sigterm_mid_rush_loses_nothing_acknowledged_and_exits_0() {
    let dir = tempfile::tempdir().unwrap();
    let mut bot = common::bin(dir.path())
        .args(["run", "--user", "rusher"])
        .env("RUST_LOG", "warn")
        .env("RATE_LIMIT_PER_PERSON", "0")
        .env("RATE_LIMIT_PER_CHANNEL", "0")
        .env("REQUESTS_PER_HOUR", "0")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    // A rush through the console: each line files a new request (the opposite choice ends the
    // one before), faster than they are answered.
    let mut input = bot.stdin.take().unwrap();
    let feeder = std::thread::spawn(move || {
        for n in 0..20_000 {
            let line = if n % 2 == 0 { "/optout\n" } else { "/optin\n" };
            if input.write_all(line.as_bytes()).is_err() {
                break;
            }
        }
        // Keeps stdin open: the process must stop on the signal, not on the end of input.
        std::thread::sleep(Duration::from_secs(30));
    });
    let mut replies = BufReader::new(bot.stdout.take().unwrap()).lines();
    let mut acknowledged = 0;
    while acknowledged < 300 {
        let line = replies.next().expect("the rush ended early").unwrap();
        if line.contains("is recorded") {
            acknowledged += 1;
        }
    }
    let signalled = Instant::now();
    // SAFETY: kill(2) on our own child's pid.
    assert_eq!(unsafe { libc::kill(bot.id() as i32, libc::SIGTERM) }, 0);
    // Whatever it still prints was acknowledged too.
    for line in replies {
        if line.unwrap().contains("is recorded") {
            acknowledged += 1;
        }
    }
    let status = bot.wait().unwrap();
    let took = signalled.elapsed();
    let mut stderr = String::new();
    std::io::Read::read_to_string(&mut bot.stderr.take().unwrap(), &mut stderr).unwrap();
    assert_eq!(status.code(), Some(0), "{stderr}");
    assert!(took < Duration::from_secs(10), "stopped after {took:?}");
    drop(feeder);

    let rt = tokio::runtime::Runtime::new().unwrap();
    let recorded: i64 = rt.block_on(async {
        let pool = sqlx::SqlitePool::connect_with(
            dsr_bot::db::cipher::options_with_key_beside(&dir.path().join("dsr-bot.db")).unwrap(),
        )
        .await
        .unwrap();
        sqlx::query_scalar("SELECT COUNT(*) FROM requests WHERE kind != 'status'")
            .fetch_one(&pool)
            .await
            .unwrap()
    });
    assert!(
        recorded >= acknowledged,
        "{acknowledged} acknowledged, {recorded} recorded"
    );
    assert!(recorded < 20_000, "it stopped mid-rush");
}
