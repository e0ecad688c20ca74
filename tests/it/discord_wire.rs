//! The real `dsr-bot run` against a fake Discord on loopback (tests/fake_discord): the poise
//! framework, serenity's gateway and HTTP client, command registration, interaction callbacks,
//! DMs and errors, over the wire. Each test checks what reached the fake Discord and what
//! reached the database.

use crate::fake_discord;

use std::{
    path::{Path, PathBuf},
    process::{Child, Command, Stdio},
    time::Duration,
};

use fake_discord::{FakeDiscord, Interaction, TOKEN};
use serde_json::{Value, json};

pub(crate) const OFFICER_ROLE: u64 = 4242;
pub(crate) const MEMBER: u64 = 900_000_000_000_000_001;
pub(crate) const OTHER: u64 = 900_000_000_000_000_002;
pub(crate) const OFFICER: u64 = 900_000_000_000_000_009;

/// The bot as a child process with its own data folder.
pub(crate) struct Bot {
    child: Child,
    dir: PathBuf,
    log: PathBuf,
}

impl Bot {
    pub(crate) fn start(fake: &FakeDiscord, dir: &Path, extra: &[(&str, &str)]) -> Bot {
        let log = dir.join(format!("bot-{}.log", rand_suffix()));
        let child = bot_command(fake, dir, extra)
            .stdout(Stdio::null())
            .stderr(std::fs::File::create(&log).unwrap())
            .spawn()
            .unwrap();
        Bot {
            child,
            dir: dir.to_owned(),
            log,
        }
    }

    pub(crate) fn logs(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    pub(crate) fn stop(mut self) -> String {
        let _ = Command::new("kill")
            .args(["-INT", &self.child.id().to_string()])
            .status();
        for _ in 0..100 {
            if self.child.try_wait().unwrap().is_some() {
                break;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
        self.logs()
    }

    /// Kills the process at once (SIGKILL): nothing it holds is given up, nothing flushed.
    pub(crate) fn kill(mut self) -> String {
        let _ = self.child.kill();
        let _ = self.child.wait();
        self.logs()
    }

    pub(crate) async fn db(&self) -> sqlx::SqlitePool {
        open_db(&self.dir.join("dsr-bot.db")).await
    }

    pub(crate) async fn scalar(&self, sql: &str) -> i64 {
        sqlx::query_scalar(sql)
            .fetch_one(&self.db().await)
            .await
            .unwrap()
    }
}

impl Drop for Bot {
    fn drop(&mut self) {
        if std::thread::panicking() {
            eprintln!("--- bot log ---\n{}", self.logs());
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The bot's database, opened with the key it made beside it.
async fn open_db(path: &Path) -> sqlx::SqlitePool {
    sqlx::SqlitePool::connect_with(dsr_bot::db::cipher::options_with_key_beside(path).unwrap())
        .await
        .unwrap()
}

fn rand_suffix() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_nanos() as u64
}

fn bot_command(fake: &FakeDiscord, dir: &Path, extra: &[(&str, &str)]) -> Command {
    let mut c = crate::common::bin(dir);
    c.arg("run")
        .env(
            "RUST_LOG",
            std::env::var("BOT_LOG").unwrap_or_else(|_| "info,serenity=warn,poise=warn".into()),
        )
        .env("DISCORD_TOKEN", TOKEN)
        .env("DISCORD_API_URL", fake.api_url())
        .env("DISCORD_GATEWAY_URL", fake.gateway_url())
        .env("DISCORD_GUILD_ID", fake_discord::GUILD_ID.to_string())
        .env("PRIVACY_OFFICER_ROLE_ID", OFFICER_ROLE.to_string())
        .env("DATABASE_PATH", dir.join("dsr-bot.db"))
        .env("OUTBOX_DIR", dir.join("outbox"))
        .stdin(Stdio::null());
    for (k, v) in extra {
        c.env(k, v);
    }
    c
}

/// A fake Discord and the bot connected to it, its commands registered.
pub(crate) async fn connected() -> (FakeDiscord, tempfile::TempDir, Bot) {
    let fake = FakeDiscord::start().await;
    let dir = tempfile::tempdir().unwrap();
    let bot = Bot::start(&fake, dir.path(), &[]);
    fake.wait_ready(0).await;
    fake.wait("command registration", 30, |f| {
        (!f.calls_to("PUT /applications/").is_empty()).then_some(())
    })
    .await;
    (fake, dir, bot)
}

/// Runs `name` as `user` and returns what the member saw, checking that the first response
/// (a deferral, as every command makes) was ephemeral and inside Discord's 3-second window.
pub(crate) async fn run(
    fake: &FakeDiscord,
    user: u64,
    roles: &[u64],
    name: &str,
    options: Value,
) -> (Interaction, String) {
    let i = fake.command(0, user, roles, name, options);
    let answer = fake.answer(&i).await;
    assert!(
        answer.ephemeral(),
        "/{name} was not answered as ephemeral: {}",
        answer.callback
    );
    let within = fake.answered_within(&i).unwrap();
    assert!(
        within < Duration::from_secs(3),
        "/{name} answered after {within:?}"
    );
    assert_eq!(
        answer.message["flags"].as_u64().unwrap_or(0) & 64,
        64,
        "/{name} reply is ephemeral"
    );
    (i, answer.text)
}

fn email(address: &str) -> Value {
    json!([{"name": "email", "type": 3, "value": address}])
}

#[tokio::test(flavor = "multi_thread")]
async fn every_member_command_answers_over_the_wire_and_records_its_request() {
    let (fake, _dir, bot) = connected().await;

    let (_, privacy) = run(&fake, MEMBER, &[], "privacy", json!([])).await;
    assert!(
        privacy.contains("never reads your Discord messages"),
        "{privacy}"
    );

    let (_, optout) = run(&fake, MEMBER, &[], "optout", json!([])).await;
    assert!(
        optout.contains("opt-out request #1 is recorded"),
        "{optout}"
    );
    // The receipt goes by DM: a DM channel, then the message in it.
    fake.wait("the DM receipt", 10, |f| {
        (!f.calls_to(&format!("POST /channels/{}/messages", MEMBER + 1))
            .is_empty())
        .then_some(())
    })
    .await;

    let (_, status) = run(&fake, MEMBER, &[], "status", json!([])).await;
    assert!(status.contains("Opted out since"), "{status}");

    let (_, optin) = run(&fake, MEMBER, &[], "optin", email("member@example.org")).await;
    assert!(
        optin.contains("opt-in request #2") && optin.contains("m***@example.org"),
        "{optin}"
    );
    let code: String = sqlx::query_scalar(
        "SELECT body_text FROM outbox WHERE template = 'confirmation_code' ORDER BY id DESC LIMIT 1",
    )
    .fetch_one(&bot.db().await)
    .await
    .unwrap();
    let code = code
        .lines()
        .map(str::trim)
        .find(|l| l.len() == 6 && l.bytes().all(|b| b.is_ascii_digit()))
        .unwrap()
        .to_owned();
    let (_, verified) = run(
        &fake,
        MEMBER,
        &[],
        "verify",
        json!([{"name": "code", "type": 3, "value": code}]),
    )
    .await;
    assert!(verified.contains("verified and linked"), "{verified}");

    let (_, deletion) = run(&fake, MEMBER, &[], "delete", json!([])).await;
    assert!(deletion.contains("deletion request #3"), "{deletion}");
    let (_, confirm) = run(&fake, MEMBER, &[], "confirm", json!([])).await;
    assert!(
        confirm.contains("code we emailed"),
        "a linked address confirms too: {confirm}"
    );
    let (_, cancel) = run(&fake, MEMBER, &[], "cancel", json!([])).await;
    assert!(
        cancel.contains("Cancelled: your deletion request #3"),
        "{cancel}"
    );

    assert_eq!(
        bot.scalar("SELECT COUNT(*) FROM requests WHERE kind = 'opt_in' AND state = 'confirmed'")
            .await,
        1
    );
    assert_eq!(
        bot.scalar("SELECT COUNT(*) FROM requests WHERE kind = 'deletion' AND state = 'cancelled'")
            .await,
        1
    );
    assert_eq!(
        bot.scalar("SELECT COUNT(*) FROM processed_inputs WHERE source = 'discord'")
            .await,
        7
    );
    let logs = bot.stop();
    assert!(
        !logs.contains(&MEMBER.to_string()),
        "the member's id is not logged"
    );
}

/// The custom ids of the buttons under the newest answer to `i`.
pub(crate) fn buttons(fake: &FakeDiscord, i: &Interaction) -> Vec<String> {
    fake.calls()
        .into_iter()
        .rev()
        .find(|c| {
            c.path
                .starts_with(&format!("/webhooks/{}/{}", fake_discord::APP_ID, i.token))
        })
        .map(|c| {
            c.body["components"]
                .as_array()
                .into_iter()
                .flatten()
                .flat_map(|row| row["components"].as_array().cloned().unwrap_or_default())
                .filter_map(|b| b["custom_id"].as_str().map(str::to_owned))
                .collect()
        })
        .unwrap_or_default()
}

#[tokio::test(flavor = "multi_thread")]
async fn the_deletion_buttons_work_for_the_asker_only_and_not_after_they_expire() {
    let (fake, _dir, bot) = connected().await;
    let (asked, text) = run(&fake, MEMBER, &[], "delete", json!([])).await;
    assert!(text.contains("deletion request #1"), "{text}");
    let ids = buttons(&fake, &asked);
    assert_eq!(ids.len(), 2, "Confirm and Cancel: {ids:?}");
    let confirm = ids
        .iter()
        .find(|i| i.starts_with("dsr:del:c:"))
        .unwrap()
        .clone();

    // Someone else presses it.
    let press = fake.press(0, OTHER, &[], &confirm);
    let other = fake.answer(&press).await;
    assert_eq!(
        other.callback["type"], 6,
        "a button press is acknowledged, then edited"
    );
    assert!(
        other.text.contains("Only the member who asked"),
        "{}",
        other.text
    );
    assert_eq!(
        bot.scalar("SELECT COUNT(*) FROM requests WHERE state = 'confirmed'")
            .await,
        0
    );

    // One altered to look issued ten minutes ago (the expiry itself is tested on the
    // adapter, with a pinned clock): its signature no longer matches.
    let parts: Vec<&str> = confirm.split(':').collect();
    let stale = format!(
        "dsr:del:c:{}:{}:{}:{}",
        parts[3],
        parts[4],
        chrono::Utc::now().timestamp() - 600,
        parts[6]
    );
    let press = fake.press(0, MEMBER, &[], &stale);
    let expired = fake.answer(&press).await;
    assert!(expired.text.contains("no longer valid"), "{}", expired.text);
    assert_eq!(
        bot.scalar("SELECT COUNT(*) FROM requests WHERE state = 'confirmed'")
            .await,
        0
    );

    // The asker presses it in time.
    let press = fake.press(0, MEMBER, &[], &confirm);
    let confirmed = fake.answer(&press).await;
    assert!(
        confirmed.text.contains("Deletion request #1 is confirmed"),
        "{}",
        confirmed.text
    );
    assert_eq!(
        confirmed.message["components"],
        json!([]),
        "the buttons are taken away"
    );
    assert_eq!(
        bot.scalar("SELECT COUNT(*) FROM requests WHERE kind = 'deletion' AND state = 'confirmed'")
            .await,
        1
    );

    // And Cancel under a second deletion.
    let (asked, _) = run(&fake, OTHER, &[], "delete", json!([])).await;
    let cancel = buttons(&fake, &asked)
        .into_iter()
        .find(|i| i.starts_with("dsr:del:x:"))
        .unwrap();
    let press = fake.press(0, OTHER, &[], &cancel);
    let cancelled = fake.answer(&press).await;
    assert!(cancelled.text.contains("Cancelled"), "{}", cancelled.text);
    assert_eq!(
        bot.scalar("SELECT COUNT(*) FROM requests WHERE state = 'cancelled'")
            .await,
        1
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn officer_commands_answer_officers_and_refuse_members() {
    let (fake, _dir, bot) = connected().await;
    let (_, refused) = run(&fake, MEMBER, &[], "requests", json!([])).await;
    assert!(
        refused.contains("Only members with the privacy-officer role"),
        "{refused}"
    );

    run(&fake, MEMBER, &[], "delete", json!([])).await;
    run(&fake, MEMBER, &[], "confirm", json!([])).await;
    let (_, listed) = run(&fake, OFFICER, &[OFFICER_ROLE], "requests", json!([])).await;
    assert!(
        listed.contains("#1 deletion") && listed.contains("confirmed"),
        "{listed}"
    );
    let (_, filtered) = run(
        &fake,
        OFFICER,
        &[OFFICER_ROLE],
        "requests",
        json!([{"name": "state", "type": 4, "value": 3}]),
    )
    .await;
    assert!(filtered.contains("No requests match"), "{filtered}");
    // Options that do not fit the registered command are answered, not dropped.
    let (_, mismatch) = run(
        &fake,
        OFFICER,
        &[OFFICER_ROLE],
        "requests",
        json!([{"name": "state", "type": 3, "value": "cancelled"}]),
    )
    .await;
    assert!(mismatch.contains("could not be read"), "{mismatch}");

    let (_, report) = run(
        &fake,
        OFFICER,
        &[OFFICER_ROLE],
        "report",
        json!([{"name": "month", "type": 3, "value": "2024-01"}]),
    )
    .await;
    assert!(report.contains("2024-01"), "{report}");
    let (_, bad_month) = run(
        &fake,
        OFFICER,
        &[OFFICER_ROLE],
        "report",
        json!([{"name": "month", "type": 3, "value": "soon"}]),
    )
    .await;
    assert!(
        bad_month.contains("'soon' is not a month like"),
        "{bad_month}"
    );

    let (_, done) = run(
        &fake,
        OFFICER,
        &[OFFICER_ROLE],
        "complete",
        json!([{"name": "request_id", "type": 4, "value": 1}]),
    )
    .await;
    assert!(done.contains("Request #1 completed"), "{done}");
    assert_eq!(
        bot.scalar("SELECT COUNT(*) FROM identities").await,
        0,
        "the member is erased"
    );
    assert_eq!(
        bot.scalar("SELECT COUNT(*) FROM people WHERE erased_at IS NOT NULL")
            .await,
        1
    );
    // The erased member is told by DM, one last time.
    fake.wait("the last DM", 10, |f| {
        f.calls_to(&format!("POST /channels/{}/messages", MEMBER + 1))
            .into_iter()
            .find(|c| c.body["content"].as_str().unwrap_or("").contains("is done"))
    })
    .await;
}

#[tokio::test(flavor = "multi_thread")]
async fn closed_dms_are_told_in_the_reply_and_not_tried_again() {
    let (fake, _dir, bot) = connected().await;
    fake.close_dms_of(MEMBER);
    // The change is confirmed in the reply first; the receipt then meets the closed DMs.
    let (_, first) = run(&fake, MEMBER, &[], "optout", json!([])).await;
    assert!(first.contains("opt-out request #1"), "{first}");
    for _ in 0..100 {
        if bot
            .scalar("SELECT COUNT(*) FROM identities WHERE dm_closed_at IS NOT NULL")
            .await
            == 1
        {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let tried = fake
        .calls_to(&format!("POST /channels/{}/messages", MEMBER + 1))
        .len();
    assert_eq!(tried, 1);

    let (_, second) = run(&fake, MEMBER, &[], "optin", json!([])).await;
    assert!(second.contains("DMs are closed"), "{second}");
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(
        fake.calls_to(&format!("POST /channels/{}/messages", MEMBER + 1))
            .len(),
        tried,
        "no DM is tried again"
    );
    assert_eq!(
        bot.scalar("SELECT COUNT(*) FROM identities WHERE dm_closed_at IS NOT NULL")
            .await,
        1
    );
    assert_eq!(
        bot.scalar("SELECT COUNT(*) FROM requests WHERE state = 'confirmed'")
            .await,
        1,
        "the change stands"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_429_on_the_callback_is_retried_and_the_member_is_answered() {
    let (fake, _dir, bot) = connected().await;
    fake.rate_limit("POST /interactions/", 1);
    let i = fake.command(0, MEMBER, &[], "optout", json!([]));
    let answer = fake.answer(&i).await;
    assert!(
        answer.text.contains("opt-out request #1"),
        "{}",
        answer.text
    );
    let callbacks = fake.calls_to(&format!("POST /interactions/{}/", i.id));
    assert_eq!(callbacks.len(), 2, "one 429, one retry");
    assert!(
        callbacks[1].at - callbacks[0].at < Duration::from_secs(3),
        "inside the window"
    );
    assert_eq!(bot.scalar("SELECT COUNT(*) FROM requests").await, 1);
}

#[tokio::test(flavor = "multi_thread")]
async fn the_same_interaction_delivered_twice_takes_effect_once() {
    let (fake, _dir, bot) = connected().await;
    let (i, first) = run(&fake, MEMBER, &[], "optout", json!([])).await;
    assert!(first.contains("recorded"), "{first}");
    fake.redeliver(0, &i);
    let again = fake
        .wait("the answer to the second delivery", 10, |f| {
            f.calls_to(&format!(
                "POST /webhooks/{}/{}",
                fake_discord::APP_ID,
                i.token
            ))
            .into_iter()
            .find(|c| {
                c.body["content"]
                    .as_str()
                    .unwrap_or("")
                    .contains("already handled")
            })
        })
        .await;
    assert_eq!(again.body["flags"], 64);
    assert_eq!(bot.scalar("SELECT COUNT(*) FROM requests").await, 1);
    assert_eq!(bot.scalar("SELECT COUNT(*) FROM request_events").await, 1);
}

#[tokio::test(flavor = "multi_thread")]
async fn the_bot_resumes_when_the_gateway_closes_mid_session() {
    let (fake, _dir, bot) = connected().await;
    run(&fake, MEMBER, &[], "optout", json!([])).await;
    fake.close_shard(0, 4000);
    fake.wait("a resume", 30, |f| (f.resumes() > 0).then_some(()))
        .await;
    assert_eq!(fake.identifies().len(), 1, "resumed, not identified again");
    let (_, after) = run(&fake, OTHER, &[], "optout", json!([])).await;
    assert!(after.contains("opt-out request #2"), "{after}");
    assert_eq!(bot.scalar("SELECT COUNT(*) FROM requests").await, 2);
}

#[tokio::test(flavor = "multi_thread")]
async fn commands_are_registered_once_across_restarts_and_again_when_the_set_changes() {
    let fake = FakeDiscord::start().await;
    let dir = tempfile::tempdir().unwrap();
    let registrations = |f: &FakeDiscord| f.calls_to("PUT /applications/").len();
    let start_and_stop = |expect_ready: usize| {
        let fake = fake.clone();
        let dir = dir.path().to_owned();
        async move {
            let bot = Bot::start(&fake, &dir, &[]);
            fake.wait("the bot to be ready", 30, |f| {
                (f.identifies().len() >= expect_ready).then_some(())
            })
            .await;
            // Registration, when it happens, comes right after Ready.
            tokio::time::sleep(Duration::from_millis(500)).await;
            bot.stop();
        }
    };
    start_and_stop(1).await;
    assert_eq!(registrations(&fake), 1);
    let put = &fake.calls_to("PUT /applications/")[0];
    assert!(
        put.path
            .contains(&format!("/guilds/{}/commands", fake_discord::GUILD_ID))
    );
    assert_eq!(put.body.as_array().unwrap().len(), 13, "every command");

    start_and_stop(2).await;
    assert_eq!(
        registrations(&fake),
        1,
        "the same set is not registered again"
    );

    // A different set was registered before (an older version of the bot).
    let db = open_db(&dir.path().join("dsr-bot.db")).await;
    sqlx::query("UPDATE settings SET value = 'an older set' WHERE name LIKE 'discord_commands:%'")
        .execute(&db)
        .await
        .unwrap();
    db.close().await;
    start_and_stop(3).await;
    assert_eq!(registrations(&fake), 2, "a changed set is registered again");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_refused_token_and_an_unreachable_api_each_stop_start_up_with_one_line() {
    let fake = FakeDiscord::start().await;
    fake.refuse_token();
    let dir = tempfile::tempdir().unwrap();
    let out = bot_command(&fake, dir.path(), &[]).output().unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    let last = err.lines().last().unwrap_or("");
    assert_eq!(out.status.code(), Some(2), "{err}");
    assert!(
        last.starts_with("error: Discord refused DISCORD_TOKEN"),
        "{err}"
    );
    assert!(!err.contains(TOKEN), "the token is never printed");

    let closed = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap();
    let out = bot_command(
        &fake,
        dir.path(),
        &[("DISCORD_API_URL", &format!("http://{closed}"))],
    )
    .output()
    .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{err}");
    assert!(
        err.lines()
            .last()
            .unwrap_or("")
            .starts_with("error: could not reach Discord"),
        "{err}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn two_processes_split_the_shards_and_share_one_database() {
    let fake = FakeDiscord::start().await;
    let dir = tempfile::tempdir().unwrap();
    let a = Bot::start(&fake, dir.path(), &[("DISCORD_SHARDS", "0-0/2")]);
    let b = Bot::start(&fake, dir.path(), &[("DISCORD_SHARDS", "1/2")]);
    fake.wait_ready(0).await;
    fake.wait_ready(1).await;
    let mut shards = fake.identifies();
    shards.sort();
    assert_eq!(
        shards,
        vec![[0, 2], [1, 2]],
        "each process identified its own shard"
    );

    let mut pending = Vec::new();
    for n in 0..20u64 {
        let shard = (n % 2) as u32;
        pending.push(fake.command(shard, 910_000_000_000_000_000 + n, &[], "optout", json!([])));
    }
    for i in &pending {
        let answer = fake.answer(i).await;
        assert!(answer.text.contains("is recorded"), "{}", answer.text);
    }
    assert_eq!(
        a.scalar("SELECT COUNT(*) FROM requests").await,
        20,
        "nothing lost"
    );
    assert_eq!(
        a.scalar("SELECT COUNT(DISTINCT id) FROM requests").await,
        20
    );
    assert!(
        fake.calls_to("PUT /applications/").len() == 1,
        "of the two processes, one registered the commands"
    );
    a.stop();
    b.stop();
}

/// Waits until `bot` has looked for the leader lease and found it held.
async fn following(fake: &FakeDiscord, bot: &Bot) {
    fake.wait("a process to find the lease held", 30, |_| {
        bot.logs()
            .contains("another process holds the lease")
            .then_some(())
    })
    .await;
}

#[tokio::test(flavor = "multi_thread")]
async fn of_several_processes_one_leads_and_another_takes_over_when_it_dies_or_stops() {
    const LEADS: &str = "this process leads";
    let fake = FakeDiscord::start().await;
    let dir = tempfile::tempdir().unwrap();
    let lease = [("LEADER_LEASE_SECONDS", "3")];
    let a = Bot::start(&fake, dir.path(), &lease);
    fake.wait_ready(0).await;
    let b = Bot::start(&fake, dir.path(), &lease);
    following(&fake, &b).await;
    // Two lease lives and more: the follower looks several times and stays a follower.
    tokio::time::sleep(Duration::from_secs(7)).await;
    assert_eq!(
        fake.identifies().len(),
        1,
        "only the leader connected to the gateway"
    );
    assert!(a.logs().contains("it runs the schedule"), "{}", a.logs());
    assert!(!b.logs().contains(LEADS), "the follower led: {}", b.logs());
    let i = fake.command(0, MEMBER, &[], "optout", json!([]));
    assert!(fake.answer(&i).await.text.contains("is recorded"));

    let killed = std::time::Instant::now();
    a.kill();
    fake.wait("the other process to take over the gateway", 30, |f| {
        (f.identifies().len() == 2).then_some(())
    })
    .await;
    eprintln!(
        "killed: the gateway was taken over {:?} later",
        killed.elapsed()
    );
    let logs = b.logs();
    assert!(logs.contains("it runs the Discord connection"), "{logs}");
    assert!(logs.contains("it runs the schedule"), "{logs}");
    let i = fake.command(0, OTHER, &[], "optout", json!([]));
    assert!(fake.answer(&i).await.text.contains("is recorded"));

    // A leader that stops cleanly gives the lease up once its work has stopped.
    let c = Bot::start(&fake, dir.path(), &lease);
    following(&fake, &c).await;
    let stopped = std::time::Instant::now();
    let logs = b.stop();
    assert!(!logs.contains("the leader lease was lost"), "{logs}");
    fake.wait("the third process to take over the gateway", 30, |f| {
        (f.identifies().len() == 3).then_some(())
    })
    .await;
    eprintln!(
        "stopped: the gateway was taken over {:?} later",
        stopped.elapsed()
    );
    let i = fake.command(0, MEMBER + 7, &[], "optout", json!([]));
    assert!(fake.answer(&i).await.text.contains("is recorded"));
    assert_eq!(
        c.scalar("SELECT COUNT(*) FROM requests").await,
        3,
        "nothing lost"
    );
    assert_eq!(
        c.scalar("SELECT generation FROM leases WHERE name = 'leader'")
            .await,
        3,
        "the lease changed hands twice"
    );
    c.stop();
}

#[tokio::test(flavor = "multi_thread")]
async fn officers_extend_and_annotate_and_the_schedule_posts_and_counts_the_guild() {
    const STAFF: u64 = 1_300_000_000_000_000_101;
    const ANNOUNCE: u64 = 1_300_000_000_000_000_102;
    let fake = FakeDiscord::start().await;
    let dir = tempfile::tempdir().unwrap();
    // The deadline 5 days ahead (the 7-day announcement is due) and the digest due today.
    let deadline = (chrono::Utc::now() + chrono::Duration::days(5))
        .to_rfc3339_opts(chrono::SecondsFormat::Secs, true);
    let today = chrono::Utc::now().format("%A").to_string().to_lowercase();
    let bot = Bot::start(
        &fake,
        dir.path(),
        &[
            ("REPORT_CHANNEL_ID", &STAFF.to_string()),
            ("ANNOUNCE_CHANNEL_ID", &ANNOUNCE.to_string()),
            ("POLICY_DEADLINE", &deadline),
            ("DIGEST_WEEKDAY", &today),
        ],
    );
    fake.wait_ready(0).await;

    let post_to = |channel: u64, needle: &'static str| {
        move |f: &FakeDiscord| {
            f.calls_to(&format!("POST /channels/{channel}/messages"))
                .into_iter()
                .find(|c| c.body["content"].as_str().unwrap_or("").contains(needle))
        }
    };
    let announced = fake
        .wait(
            "the deadline announcement",
            30,
            post_to(ANNOUNCE, "days left to choose"),
        )
        .await;
    let text = announced.body["content"].as_str().unwrap();
    assert!(
        text.contains("If you do nothing, you count as opted in"),
        "{text}"
    );
    assert_eq!(
        announced.body["allowed_mentions"]["parse"],
        json!([]),
        "a post never pings anyone: {}",
        announced.body
    );
    fake.wait(
        "the weekly digest",
        30,
        post_to(STAFF, "Privacy requests due"),
    )
    .await;
    fake.wait("the member count", 30, |f| {
        (!f.calls_to(&format!("GET /guilds/{}", fake_discord::GUILD_ID))
            .is_empty())
        .then_some(())
    })
    .await;
    let mut size = 0;
    for _ in 0..100 {
        size = bot
            .scalar("SELECT COALESCE(MAX(size), 0) FROM community_sizes WHERE source = 'discord'")
            .await;
        if size > 0 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(size, fake_discord::MEMBER_COUNT as i64);

    // A member's deletion waits; an officer extends it and notes it; members cannot.
    run(&fake, MEMBER, &[], "delete", json!([])).await;
    let opts = |days: u64, reason: &str| {
        json!([
            {"name": "request_id", "type": 4, "value": 1},
            {"name": "days", "type": 4, "value": days},
            {"name": "reason", "type": 3, "value": reason},
        ])
    };
    let (_, refused) = run(&fake, MEMBER, &[], "extend", opts(10, "mine")).await;
    assert!(refused.contains("privacy-officer role"), "{refused}");
    let (_, extended) = run(
        &fake,
        OFFICER,
        &[OFFICER_ROLE],
        "extend",
        opts(10, "three systems to search"),
    )
    .await;
    assert!(extended.contains("Request #1 is now due"), "{extended}");
    let dm = fake
        .wait("the extension DM", 10, |f| {
            f.calls_to(&format!("POST /channels/{}/messages", MEMBER + 1))
                .into_iter()
                .find(|c| {
                    c.body["content"]
                        .as_str()
                        .unwrap_or("")
                        .contains("We need more time")
                })
        })
        .await;
    assert!(
        dm.body["content"]
            .as_str()
            .unwrap()
            .contains("three systems to search"),
        "{}",
        dm.body
    );
    let (_, twice) = run(&fake, OFFICER, &[OFFICER_ROLE], "extend", opts(5, "more")).await;
    assert!(twice.contains("extended once"), "{twice}");

    let (_, noted) = run(
        &fake,
        OFFICER,
        &[OFFICER_ROLE],
        "note",
        json!([
            {"name": "request_id", "type": 4, "value": 1},
            {"name": "text", "type": 3, "value": "Checked the CRM export."},
        ]),
    )
    .await;
    assert!(noted.contains("Note 1 added to request #1"), "{noted}");
    let (_, shown) = run(
        &fake,
        OFFICER,
        &[OFFICER_ROLE],
        "requests",
        json!([{"name": "request_id", "type": 4, "value": 1}]),
    )
    .await;
    for want in [
        "Request #1",
        "Extended",
        "three systems to search",
        "1. ",
        "Checked the CRM export.",
    ] {
        assert!(shown.contains(want), "{want}: {shown}");
    }
    assert!(
        !shown.contains(&MEMBER.to_string()),
        "no member id: {shown}"
    );
    drop(bot);
}

/// The calls whose "METHOD /path" starts with `prefix` that carried `needle` in their body.
fn bodies_with(fake: &FakeDiscord, prefix: &str, needle: &str) -> Vec<Value> {
    fake.calls_to(prefix)
        .into_iter()
        .map(|c| c.body)
        .filter(|b| b.to_string().contains(needle))
        .collect()
}

/// Waits for a DM to `user` holding `needle`; returns every DM body sent to them.
pub(crate) async fn dm_holding(
    fake: &FakeDiscord,
    user: u64,
    needle: &str,
    secs: u64,
) -> Vec<Value> {
    let route = format!("POST /channels/{}/messages", user + 1);
    let needle = needle.to_owned();
    fake.wait(&format!("a DM holding {needle:?}"), secs, |f| {
        (!bodies_with(f, &route, &needle).is_empty()).then_some(())
    })
    .await;
    fake.calls_to(&route).into_iter().map(|c| c.body).collect()
}

#[tokio::test(flavor = "multi_thread")]
async fn a_follow_up_that_fails_leaves_the_change_standing_and_the_receipt_on_its_way() {
    let (fake, _dir, bot) = connected().await;
    let webhooks = format!("POST /webhooks/{}/", fake_discord::APP_ID);
    // Discord fails the follow-up once (500): the reply is tried again.
    fake.fail_next(
        &webhooks,
        1,
        500,
        json!({"message": "Internal Server Error", "code": 0}),
    );
    let i = fake.command(0, MEMBER, &[], "optout", json!([]));
    dm_holding(&fake, MEMBER, "opt-out request #1", 10).await;
    assert_eq!(
        bot.scalar("SELECT COUNT(*) FROM requests WHERE state = 'confirmed'")
            .await,
        1
    );
    let replies = bodies_with(
        &fake,
        &format!("{webhooks}{}", i.token),
        "opt-out request #1",
    );
    assert!(!replies.is_empty(), "the reply was tried again and shown");
    assert!(
        bodies_with(&fake, &webhooks, "Sorry, something went wrong").is_empty(),
        "no apology for a change that stands"
    );

    // The token is no longer valid (401, 50027): no reply can be shown, the receipt still goes.
    fake.fail_next(
        &webhooks,
        5,
        401,
        json!({"message": "Invalid Webhook Token", "code": 50027}),
    );
    fake.command(0, MEMBER, &[], "optin", json!([]));
    dm_holding(&fake, MEMBER, "opt-in request #", 10).await;
    assert_eq!(
        bot.scalar("SELECT COUNT(*) FROM requests WHERE kind = 'opt_in' AND state = 'confirmed'")
            .await,
        1
    );
    assert!(bodies_with(&fake, &webhooks, "Sorry, something went wrong").is_empty());
}

#[tokio::test(flavor = "multi_thread")]
async fn a_button_whose_edit_fails_still_sends_the_receipt_and_a_cancel_has_one_too() {
    let (fake, _dir, bot) = connected().await;
    let (i, _) = run(&fake, MEMBER, &[], "delete", json!([])).await;
    let answer = fake.answer(&i).await;
    let confirm = answer.message["components"][0]["components"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|b| b["custom_id"].as_str())
        .find(|id| id.starts_with("dsr:del:c:"))
        .unwrap()
        .to_owned();
    fake.fail_next(
        "PATCH /webhooks/",
        5,
        401,
        json!({"message": "Invalid Webhook Token", "code": 50027}),
    );
    fake.press(0, MEMBER, &[], &confirm);
    dm_holding(&fake, MEMBER, "Deletion request #1 is confirmed", 10).await;
    assert_eq!(
        bot.scalar("SELECT COUNT(*) FROM requests WHERE state = 'confirmed'")
            .await,
        1
    );

    // Cancelling it is a change the member sees: its receipt is a DM too.
    let (_, cancelled) = run(&fake, MEMBER, &[], "cancel", json!([])).await;
    assert!(cancelled.contains("Cancelled"), "{cancelled}");
    dm_holding(&fake, MEMBER, "Cancelled", 10).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn a_dm_told_to_wait_is_sent_after_the_wait() {
    let (fake, _dir, _bot) = connected().await;
    let dms = format!("POST /channels/{}/messages", MEMBER + 1);
    fake.fail_next(
        &dms,
        1,
        429,
        json!({"message": "You are being rate limited.", "retry_after": 3.0, "global": false}),
    );
    run(&fake, MEMBER, &[], "optout", json!([])).await;
    let tries = fake
        .wait("the DM to be tried again", 20, |f| {
            let calls = f.calls_to(&dms);
            (calls.len() >= 2).then_some(calls)
        })
        .await;
    let waited = tries[1].at - tries[0].at;
    assert!(
        waited >= Duration::from_secs(3),
        "tried again after {waited:?}"
    );
    assert!(
        tries[1].body["content"]
            .as_str()
            .unwrap()
            .contains("opt-out request #1")
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn officer_commands_from_another_guild_are_refused() {
    let (fake, _dir, bot) = connected().await;
    run(&fake, MEMBER, &[], "delete", json!([])).await;
    let i = fake.command_in(
        0,
        1_234_567_890_123_456_789,
        OFFICER,
        &[OFFICER_ROLE],
        "requests",
        json!([]),
    );
    let answer = fake.answer(&i).await;
    assert!(
        answer.text.contains("only in the community's own server"),
        "{}",
        answer.text
    );
    assert!(!answer.text.contains("deletion"), "{}", answer.text);
    let i = fake.command_in(
        0,
        1_234_567_890_123_456_789,
        OFFICER,
        &[OFFICER_ROLE],
        "report",
        json!([{"name": "month", "type": 3, "value": "2025-09"}]),
    );
    assert!(fake.answer(&i).await.text.contains("own server"));
    drop(bot);
}

#[tokio::test(flavor = "multi_thread")]
async fn months_out_of_range_are_input_errors_and_overdue_is_said() {
    let (fake, _dir, bot) = connected().await;
    for month in ["9999-12", "0000-01", "1969-12"] {
        let (_, text) = run(
            &fake,
            OFFICER,
            &[OFFICER_ROLE],
            "report",
            json!([{"name": "month", "type": 3, "value": month}]),
        )
        .await;
        assert!(
            text.contains("outside the months a report can cover"),
            "{month}: {text}"
        );
        assert!(!text.contains("reference"), "{month}: {text}");
    }
    // A confirmed deletion due 14 hours ago.
    run(&fake, MEMBER, &[], "delete", json!([])).await;
    run(&fake, MEMBER, &[], "confirm", json!([])).await;
    let due = (chrono::Utc::now() - chrono::Duration::hours(14)).to_rfc3339();
    sqlx::query("UPDATE requests SET due_at = ? WHERE id = 1")
        .bind(due)
        .execute(&bot.db().await)
        .await
        .unwrap();
    let (_, listed) = run(&fake, OFFICER, &[OFFICER_ROLE], "requests", json!([])).await;
    assert!(listed.contains("1 day overdue"), "{listed}");
    assert!(!listed.contains("0 days left"), "{listed}");
}

#[tokio::test(flavor = "multi_thread")]
async fn nothing_the_bot_sends_can_ping_anyone() {
    let (fake, _dir, _bot) = connected().await;
    run(&fake, MEMBER, &[], "delete", json!([])).await;
    run(
        &fake,
        OFFICER,
        &[OFFICER_ROLE],
        "note",
        json!([{"name": "request_id", "type": 4, "value": 1},
               {"name": "text", "type": 3, "value": "asked by <@900000000000000002> @everyone"}]),
    )
    .await;
    let (_, shown) = run(
        &fake,
        OFFICER,
        &[OFFICER_ROLE],
        "requests",
        json!([{"name": "request_id", "type": 4, "value": 1}]),
    )
    .await;
    assert!(shown.contains("@everyone"), "{shown}");
    run(&fake, MEMBER, &[], "optout", json!([])).await;
    dm_holding(&fake, MEMBER, "opt-out request", 10).await;
    let mut sent = 0;
    for c in fake.calls() {
        let to_members = (c.method == "POST" || c.method == "PATCH")
            && (c.path.starts_with("/webhooks/") || c.path.starts_with("/channels/"));
        if to_members && c.body.get("content").is_some() {
            sent += 1;
            assert_eq!(
                c.body["allowed_mentions"]["parse"],
                json!([]),
                "{} {} could ping: {}",
                c.method,
                c.path,
                c.body
            );
        }
    }
    assert!(sent >= 4, "{sent} messages checked");
}

#[tokio::test(flavor = "multi_thread")]
async fn forged_and_malformed_buttons_are_refused_in_words() {
    let (fake, _dir, bot) = connected().await;
    run(&fake, MEMBER, &[], "delete", json!([])).await;
    for custom_id in [
        format!("dsr:del:c:1:{MEMBER}:{}", chrono::Utc::now().timestamp()),
        format!("dsr:del:c:99999999999999999999:{MEMBER}:1:0011223344556677"),
        "dsr:del:c:1".to_owned(),
        "dsr:del:zz".to_owned(),
    ] {
        let press = fake.press(0, MEMBER, &[], &custom_id);
        let answer = fake.answer(&press).await;
        assert!(
            answer.text.contains("no longer valid"),
            "{custom_id}: {}",
            answer.text
        );
    }
    assert_eq!(
        bot.scalar("SELECT COUNT(*) FROM requests WHERE state = 'confirmed'")
            .await,
        0
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn an_interaction_already_acknowledged_is_let_go_quietly() {
    let (fake, dir, bot) = connected().await;
    let (i, _) = run(&fake, MEMBER, &[], "optout", json!([])).await;
    let logs = bot.stop();
    assert!(!logs.contains("ERROR"), "{logs}");
    // After a restart Discord delivers it again; its callback is refused with 40060.
    let identified = fake.identifies().len();
    let bot = Bot::start(&fake, dir.path(), &[]);
    fake.wait("the restarted bot to connect", 30, |f| {
        (f.identifies().len() > identified).then_some(())
    })
    .await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    let callback = format!("POST /interactions/{}/", i.id);
    fake.fail_next(
        &callback,
        1,
        400,
        json!({"message": "Interaction has already been acknowledged.", "code": 40060}),
    );
    fake.redeliver(0, &i);
    fake.wait("the second callback", 10, |f| {
        (f.calls_to(&callback).len() >= 2).then_some(())
    })
    .await;
    tokio::time::sleep(Duration::from_millis(500)).await;
    let logs = bot.stop();
    assert!(!logs.contains("ERROR"), "{logs}");
    assert!(
        bodies_with(&fake, "POST /webhooks/", "Sorry, something went wrong").is_empty(),
        "no apology"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn no_id_or_token_reaches_the_logs_at_trace() {
    let fake = FakeDiscord::start().await;
    let dir = tempfile::tempdir().unwrap();
    let bot = Bot::start(&fake, dir.path(), &[("RUST_LOG", "trace")]);
    fake.wait_ready(0).await;
    fake.wait("command registration", 30, |f| {
        (!f.calls_to("PUT /applications/").is_empty()).then_some(())
    })
    .await;
    let (i, _) = run(&fake, MEMBER, &[], "optout", json!([])).await;
    dm_holding(&fake, MEMBER, "opt-out request", 10).await;
    run(&fake, MEMBER, &[], "delete", json!([])).await;
    run(&fake, MEMBER, &[], "confirm", json!([])).await;
    run(
        &fake,
        OFFICER,
        &[OFFICER_ROLE],
        "complete",
        json!([{"name": "request_id", "type": 4, "value": 2}]),
    )
    .await;
    dm_holding(&fake, MEMBER, "is done", 10).await;
    let logs = bot.stop();
    assert!(
        logs.len() > 1_000,
        "the logs were written: {} bytes",
        logs.len()
    );
    for needle in [
        MEMBER.to_string(),
        OFFICER.to_string(),
        (MEMBER + 1).to_string(),
        i.token.clone(),
        TOKEN.to_owned(),
        TOKEN.split('.').next().unwrap().to_owned(),
    ] {
        assert!(!logs.contains(&needle), "{needle} is in the logs");
    }
}
