//! The feed over HTTP: the real `dsr-bot run` (members on the fake Discord) and consumers
//! registered by `dsr-bot consumers add`, called with a real HTTP client on loopback.

use std::{path::Path, time::Duration};

use dsr_bot::proof::note::{self, NoteVerifier};
use hmac::{Hmac, Mac};
use serde_json::{Value, json};
use sha2::Sha256;

use crate::{
    common,
    discord_wire::{Bot, MEMBER, OFFICER, OFFICER_ROLE, OTHER, dm_holding, run},
    fake_discord::FakeDiscord,
};

/// A consumer as `consumers add` handed it out.
struct Consumer {
    token: String,
    key: Vec<u8>,
}

fn add_consumer(dir: &Path, name: &str) -> Consumer {
    let o = common::run_bin(dir, &["consumers", "add", name], &[]);
    let out = common::printed(&o);
    assert!(o.status.success(), "{out}");
    let line = |prefix: &str| {
        out.lines()
            .find_map(|l| l.strip_prefix(prefix))
            .unwrap_or_else(|| panic!("no {prefix:?} line in {out}"))
            .to_owned()
    };
    let key = line("key: ");
    assert_eq!(key.len(), 64, "{key}");
    Consumer {
        token: line("token: "),
        key: hex::decode(key).unwrap(),
    }
}

/// What a consumer holding `key` computes for a Discord member.
fn discord_hash(key: &[u8], id: u64) -> String {
    let mut mac = Hmac::<Sha256>::new_from_slice(key).unwrap();
    mac.update(format!("discord:{id}").as_bytes());
    hex::encode(mac.finalize().into_bytes())
}

struct Http {
    base: String,
    client: reqwest::Client,
}

impl Http {
    async fn get(&self, token: &str, path: &str) -> reqwest::Response {
        self.client
            .get(format!("{}{path}", self.base))
            .bearer_auth(token)
            .send()
            .await
            .unwrap()
    }

    /// A page of choices, its signature checked against the published key.
    async fn page(&self, c: &Consumer, cursor: Option<&str>, public: &NoteVerifier) -> Value {
        let path = match cursor {
            Some(cur) => format!("/v1/choices?cursor={cur}"),
            None => "/v1/choices".to_owned(),
        };
        let r = self.get(&c.token, &path).await;
        assert_eq!(r.status(), 200);
        let key = r.headers()["dsr-key"].to_str().unwrap().to_owned();
        let signature = r.headers()["dsr-signature"].to_str().unwrap().to_owned();
        let body = r.bytes().await.unwrap();
        assert_eq!(key, public.vkey(), "signed with the published key");
        assert!(
            public.verify_bytes(&body, &signature),
            "the page's signature checks"
        );
        let mut tampered = body.to_vec();
        tampered[10] ^= 1;
        assert!(!public.verify_bytes(&tampered, &signature));
        serde_json::from_slice(&body).unwrap()
    }

    async fn ack(&self, c: &Consumer, body: Value) -> (u16, Value) {
        let r = self
            .client
            .post(format!("{}/v1/acks", self.base))
            .bearer_auth(&c.token)
            .json(&body)
            .send()
            .await
            .unwrap();
        (r.status().as_u16(), r.json().await.unwrap())
    }
}

fn identities(page: &Value, list: &str) -> Vec<(String, String)> {
    page[list]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| {
            (
                e["identity"].as_str().unwrap().to_owned(),
                e["state"].as_str().unwrap().to_owned(),
            )
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread")]
async fn consumers_pull_a_snapshot_then_deltas_acknowledge_them_and_the_member_is_told() {
    let fake = FakeDiscord::start().await;
    let dir = tempfile::tempdir().unwrap();
    let pipeline = add_consumer(dir.path(), "pipeline");
    let helpdesk = add_consumer(dir.path(), "helpdesk");
    let noisy = add_consumer(dir.path(), "noisy");
    let printed = common::printed(&common::run_bin(dir.path(), &["keys", "public"], &[]));
    let public = NoteVerifier::parse(printed.lines().last().unwrap()).unwrap();

    let port = common::free_port();
    let bot = Bot::start(
        &fake,
        dir.path(),
        &[
            ("HTTP_BIND", &format!("127.0.0.1:{port}")),
            ("HTTP_RATE_PER_MINUTE", "120"),
        ],
    );
    fake.wait_ready(0).await;
    let http = Http {
        base: format!("http://127.0.0.1:{port}"),
        client: reqwest::Client::new(),
    };
    for _ in 0..100 {
        if let Ok(r) = http
            .client
            .get(format!("{}/healthz", http.base))
            .send()
            .await
            && r.status() == 200
        {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }

    run(&fake, MEMBER, &[], "optout", json!([])).await;
    run(&fake, OTHER, &[], "optout", json!([])).await;

    // The snapshot: both members, under each consumer's own hashes.
    let first = http.page(&pipeline, None, &public).await;
    let mut listed = identities(&first, "choices");
    listed.sort();
    let mut expected = vec![
        (discord_hash(&pipeline.key, MEMBER), "opted_out".to_owned()),
        (discord_hash(&pipeline.key, OTHER), "opted_out".to_owned()),
    ];
    expected.sort();
    assert_eq!(listed, expected, "{first}");
    assert!(identities(&first, "removed").is_empty());
    assert_eq!(first["more"], false);
    assert_eq!(first["choices"][0]["kind"], "discord");
    assert!(
        first["choices"][0]["policy_version"]
            .as_str()
            .unwrap()
            .len()
            >= 12
    );
    // The page carries a checkpoint signed with the same key.
    let opened = note::open(
        first["checkpoint"].as_str().unwrap(),
        std::slice::from_ref(&public),
    )
    .unwrap();
    assert!(
        opened.text.starts_with("example.org/dsr-bot\n"),
        "{}",
        opened.text
    );
    let other_view = http.page(&helpdesk, None, &public).await;
    let theirs = identities(&other_view, "choices");
    assert!(theirs.contains(&(discord_hash(&helpdesk.key, MEMBER), "opted_out".into())));
    assert!(
        !theirs
            .iter()
            .any(|(h, _)| listed.iter().any(|(l, _)| l == h)),
        "two consumers never see the same hash for the same person"
    );

    // Only what changed since the cursor: the member opting in again is a removal.
    let cursor = first["cursor"].as_str().unwrap().to_owned();
    let nothing = http.page(&pipeline, Some(&cursor), &public).await;
    assert!(
        identities(&nothing, "choices").is_empty() && identities(&nothing, "removed").is_empty()
    );
    assert_eq!(nothing["cursor"], cursor.as_str());
    run(&fake, MEMBER, &[], "optin", json!([])).await;
    let delta = http.page(&pipeline, Some(&cursor), &public).await;
    assert_eq!(
        identities(&delta, "removed"),
        vec![(discord_hash(&pipeline.key, MEMBER), "opted_in".to_owned())]
    );
    assert!(identities(&delta, "choices").is_empty(), "{delta}");

    // A completed deletion is listed as erased, and stays listed once the id is gone here.
    run(&fake, MEMBER, &[], "delete", json!([])).await;
    run(&fake, MEMBER, &[], "confirm", json!([])).await;
    let deletion = bot
        .scalar("SELECT id FROM requests WHERE kind = 'deletion'")
        .await;
    run(
        &fake,
        OFFICER,
        &[OFFICER_ROLE],
        "complete",
        json!([{"name": "request_id", "type": 4, "value": deletion}]),
    )
    .await;
    dm_holding(&fake, MEMBER, "is done", 10).await;
    assert_eq!(
        bot.scalar(&format!(
            "SELECT COUNT(*) FROM identities WHERE value = '{MEMBER}'"
        ))
        .await,
        0,
        "the member's id is erased here"
    );
    let cursor2 = delta["cursor"].as_str().unwrap().to_owned();
    let erased = http.page(&pipeline, Some(&cursor2), &public).await;
    assert_eq!(
        identities(&erased, "choices"),
        vec![(discord_hash(&pipeline.key, MEMBER), "erased".to_owned())]
    );
    let again = http.page(&helpdesk, None, &public).await;
    assert!(
        identities(&again, "choices")
            .contains(&(discord_hash(&helpdesk.key, MEMBER), "erased".to_owned())),
        "the snapshot keeps the erased member: {again}"
    );

    // Acknowledging: the pipeline applied everything; the helpdesk did not.
    let last = erased["cursor"].as_str().unwrap().to_owned();
    let (status, acked) = http
        .ack(
            &pipeline,
            json!({"run": "nightly-1", "cursor": last, "excluded": 2, "applied_at": chrono::Utc::now().to_rfc3339()}),
        )
        .await;
    assert_eq!(status, 200, "{acked}");
    assert_eq!(acked["behind"], 0);
    assert!(acked["log_leaf"].is_u64(), "{acked}");
    // Said again, it changes nothing and logs nothing (the count of ack leaves is checked below).
    let (status, again) = http
        .ack(
            &pipeline,
            json!({"run": "nightly-1", "cursor": last, "excluded": 2, "applied_at": chrono::Utc::now().to_rfc3339()}),
        )
        .await;
    assert_eq!(status, 200, "{again}");
    assert!(again["log_leaf"].is_null(), "{again}");
    let (status, early) = http
        .ack(
            &pipeline,
            json!({"run": "x", "cursor": last, "excluded": 0, "applied_at": "2001-01-01T00:00:00Z"}),
        )
        .await;
    assert_eq!(status, 400, "{early}");
    assert!(
        early["error"]
            .as_str()
            .unwrap()
            .contains("before this consumer was registered")
    );
    let (_, told) = run(&fake, OTHER, &[], "status", json!([])).await;
    assert!(
        told.contains("applied by pipeline on") && told.contains("not yet confirmed by helpdesk"),
        "{told}"
    );
    let listed = common::printed(&common::run_bin(dir.path(), &["consumers", "list"], &[]));
    assert!(
        listed.contains("pipeline: up to date") && listed.contains("helpdesk: behind by"),
        "{listed}"
    );

    // Refusals, each with a JSON message.
    let (status, body) = http
        .ack(
            &pipeline,
            json!({"run": "x", "cursor": other_view["cursor"], "excluded": 0, "applied_at": chrono::Utc::now().to_rfc3339()}),
        )
        .await;
    assert_eq!(status, 403, "another consumer's cursor: {body}");
    assert!(
        body["error"]
            .as_str()
            .unwrap()
            .contains("not handed to this consumer")
    );
    let r = http
        .get(
            &pipeline.token,
            &format!(
                "/v1/choices?cursor={}",
                other_view["cursor"].as_str().unwrap()
            ),
        )
        .await;
    assert_eq!(r.status(), 403);
    let r = http.get("dsrf_not-a-token", "/v1/choices").await;
    assert_eq!(r.status(), 401);
    let e: Value = r.json().await.unwrap();
    assert!(
        e["error"].as_str().unwrap().contains("not one of ours"),
        "{e}"
    );
    let r = http
        .client
        .get(format!("{}/v1/choices", http.base))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 401);
    let r = http
        .client
        .post(format!("{}/v1/acks", http.base))
        .bearer_auth(&pipeline.token)
        .header("content-type", "application/json")
        .body(vec![b' '; 9_000])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 413);
    let e: Value = r.json().await.unwrap();
    assert!(e["error"].as_str().unwrap().contains("8192 bytes"), "{e}");
    let (status, body) = http
        .ack(&pipeline, json!({"run": "x", "cursor": last}))
        .await;
    assert_eq!(status, 400, "{body}");
    let r = http.get(&pipeline.token, "/v1/choices?limit=0").await;
    assert_eq!(r.status(), 400);
    let mut limited = None;
    for _ in 0..40 {
        let r = http.get(&noisy.token, "/v1/choices?limit=1").await;
        if r.status() == 429 {
            limited = Some(r);
            break;
        }
    }
    let limited = limited.expect("a token calling without pause is slowed down");
    let wait: u64 = limited.headers()["retry-after"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!((1..=60).contains(&wait), "{wait}");
    let e: Value = limited.json().await.unwrap();
    assert!(e["error"].as_str().unwrap().contains("try again in"), "{e}");

    // Metrics: counts, no identities.
    let r = http.get(&pipeline.token, "/metrics").await;
    assert_eq!(r.status(), 200);
    let metrics = r.text().await.unwrap();
    assert!(
        metrics.contains("dsr_requests{kind=\"opt_out\",state=\"confirmed\"}")
            && metrics.contains("dsr_consumers_behind 2")
            && metrics.contains("dsr_writer_commit_seconds_count"),
        "{metrics}"
    );
    assert!(!metrics.contains(&OTHER.to_string()));

    // A revoked token is refused at once.
    let o = common::run_bin(dir.path(), &["consumers", "revoke", "noisy"], &[]);
    assert!(o.status.success(), "{}", common::printed(&o));
    let r = http.get(&noisy.token, "/v1/choices").await;
    assert_eq!(r.status(), 401);

    // The README's example consumer, as written there: pulls, filters an export, acknowledges.
    let readme =
        std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/README.md")).unwrap();
    let example = readme
        .split("**An example consumer**")
        .nth(1)
        .and_then(|rest| rest.split("```python\n").nth(1))
        .and_then(|rest| rest.split("```").next())
        .expect("the README has the example consumer");
    assert!(example.lines().count() <= 25, "a short example");
    let work = tempfile::tempdir().unwrap();
    std::fs::write(work.path().join("consumer.py"), example).unwrap();
    const THIRD: u64 = 900_000_000_000_000_003;
    let export: String = [MEMBER, OTHER, THIRD, OTHER, THIRD]
        .iter()
        .enumerate()
        .map(|(n, a)| format!("{{\"author_id\": \"{a}\", \"text\": \"message {n}\"}}\n"))
        .collect();
    let mut python = std::process::Command::new("/usr/bin/python3");
    python
        .arg("consumer.py")
        .current_dir(work.path())
        .env("DSR_FEED", &http.base)
        .env("DSR_TOKEN", &helpdesk.token)
        .env("DSR_KEY", hex::encode(&helpdesk.key))
        .env("RUN", "readme-example");
    let filtered = common::output(&mut python, export.as_bytes());
    assert!(filtered.status.success(), "{}", common::printed(&filtered));
    let kept = String::from_utf8(filtered.stdout).unwrap();
    assert_eq!(
        kept.lines().count(),
        2,
        "only the member who made no choice is kept: {kept}"
    );
    assert!(
        kept.lines().all(|l| l.contains(&THIRD.to_string())),
        "{kept}"
    );
    let listed = common::printed(&common::run_bin(dir.path(), &["consumers", "list"], &[]));
    assert!(
        listed.contains("helpdesk: up to date") && listed.contains("(run readme-example)"),
        "{listed}"
    );

    // The acknowledgements are leaves of the log, which verifies.
    let verified = common::run_bin(dir.path(), &["log", "verify"], &[]);
    assert!(verified.status.success(), "{}", common::printed(&verified));
    assert_eq!(
        bot.scalar("SELECT COUNT(*) FROM log_leaves WHERE ack_id IS NOT NULL")
            .await,
        2
    );

    // Revoking drops what was kept for that consumer only.
    assert_eq!(
        bot.scalar("SELECT COUNT(*) FROM feed_erased WHERE consumer_id = (SELECT id FROM consumers WHERE name = 'noisy')")
            .await,
        0
    );
    assert_eq!(
        bot.scalar("SELECT COUNT(*) FROM feed_erased WHERE consumer_id = (SELECT id FROM consumers WHERE name = 'pipeline')")
            .await,
        1
    );

    // The offline export: a header, the entries, and a signature over every byte before it.
    let file = dir.path().join("pipeline.jsonl");
    let o = common::run_bin(
        dir.path(),
        &[
            "consumers",
            "export",
            "pipeline",
            "--out",
            file.to_str().unwrap(),
        ],
        &[],
    );
    assert!(o.status.success(), "{}", common::printed(&o));
    let text = std::fs::read_to_string(&file).unwrap();
    let (signed, trailer) = text.trim_end().rsplit_once('\n').unwrap();
    let trailer: Value = serde_json::from_str(trailer).unwrap();
    assert_eq!(trailer["key"], public.vkey().as_str());
    let signature = trailer["signature"].as_str().unwrap();
    let signed = format!("{signed}\n");
    assert!(public.verify_bytes(signed.as_bytes(), signature));
    assert!(!public.verify_bytes(signed.replace("erased", "opted_in").as_bytes(), signature));
    let mut lines = signed.lines();
    let header: Value = serde_json::from_str(lines.next().unwrap()).unwrap();
    let entries: Vec<Value> = lines.map(|l| serde_json::from_str(l).unwrap()).collect();
    assert_eq!(header["entries"], entries.len());
    assert_eq!(entries.len(), 2, "{text}");
    let has = |id: u64, state: &str| {
        entries.iter().any(|e| {
            e["identity"] == discord_hash(&pipeline.key, id).as_str() && e["state"] == state
        })
    };
    assert!(has(MEMBER, "erased") && has(OTHER, "opted_out"), "{text}");

    // A changed acknowledgement is named by the log's check.
    {
        let db = bot.db().await;
        sqlx::query("DROP TRIGGER consumer_acks_no_update")
            .execute(&db)
            .await
            .unwrap();
        sqlx::query("UPDATE consumer_acks SET excluded = 0 WHERE run = 'nightly-1'")
            .execute(&db)
            .await
            .unwrap();
    }
    let broken = common::run_bin(dir.path(), &["log", "verify"], &[]);
    assert_eq!(broken.status.code(), Some(1));
    let said = common::printed(&broken);
    assert!(
        said.contains("acknowledgement #1 (pipeline applied the feed to")
            && said.contains("changed after it was logged"),
        "{said}"
    );

    let logs = bot.stop();
    for secret in [
        &pipeline.token,
        &helpdesk.token,
        &hex::encode(&pipeline.key),
    ] {
        assert!(!logs.contains(secret.as_str()), "a token or key in the log");
    }
    assert!(!logs.contains(&OTHER.to_string()));
}

#[tokio::test]
async fn officers_are_told_of_a_consumer_behind_for_over_a_day_in_requests_the_digest_and_the_report()
 {
    use dsr_bot::{
        discord::{Adapter, Invocation},
        domain::{DiscordId, OfficerCommand, RequestKind},
        reports::render::Format,
    };
    const ROLE: u64 = 4242;
    const GUILD: u64 = 777;
    let app = common::TestApp::spawn_with(common::at("2025-11-03T09:00:00Z"), |c| {
        c.discord.officer_role_id = Some(ROLE);
        c.discord.guild_id = Some(GUILD);
        c.privacy_officers = vec![dsr_bot::domain::EmailAddress::parse("dpo@example.org").unwrap()];
    })
    .await;
    let feed = app.services.feed();
    feed.add("pipeline", None).await.unwrap();
    feed.add("helpdesk", None).await.unwrap();
    app.file(&common::console("mira"), RequestKind::OptOut)
        .await;
    let pipeline = feed.consumer("pipeline").await.unwrap();
    let page = feed.page(&pipeline, None, 10).await.unwrap();
    feed.acknowledge(
        &pipeline,
        serde_json::from_value(json!({"run": "r1", "cursor": page.cursor, "excluded": 0,
            "applied_at": "2025-11-03T09:00:00Z"}))
        .unwrap(),
    )
    .await
    .unwrap();
    assert!(
        feed.stale().await.unwrap().is_empty(),
        "not behind for a day yet"
    );
    app.clock.advance(chrono::Duration::days(2));

    let stale = feed.stale().await.unwrap();
    assert_eq!(stale.len(), 1, "{stale:?}");
    assert!(
        stale[0].starts_with("helpdesk: 1 change(s) not applied"),
        "{stale:?}"
    );

    let adapter = Adapter::new(app.services.clone());
    let officer = Invocation {
        interaction_id: 1,
        user: DiscordId(99),
        guild: Some(GUILD),
        roles: vec![ROLE],
        role_in_guild: false,
        language: None,
    };
    let listed = adapter
        .officer(&officer, OfficerCommand::Requests { state: None })
        .await;
    assert!(
        listed.text.contains("Behind for over a day") && listed.text.contains("helpdesk"),
        "{}",
        listed.text
    );
    assert!(!listed.text.contains("pipeline"), "{}", listed.text);

    let week = app
        .services
        .routines()
        .digest_week()
        .expect("Monday's digest is due");
    assert!(app.services.routines().mail_digest(&week).await.unwrap());
    let digest: String =
        sqlx::query_scalar("SELECT body_text FROM outbox WHERE template = 'digest'")
            .fetch_one(app.services.pool())
            .await
            .unwrap();
    assert!(
        digest.contains("- helpdesk: 1 change(s) not applied"),
        "{digest}"
    );
    let post = app
        .services
        .routines()
        .claim_digest_post(&week)
        .await
        .unwrap()
        .unwrap();
    assert!(post.contains("helpdesk: 1 change(s)"), "{post}");

    let reports = app.services.reports();
    let report = reports.month(None).await.unwrap();
    let md = reports.render(&report, Format::Md).unwrap();
    assert!(
        md.contains("The systems that must honour the choices")
            && md.lines().any(|l| l.starts_with("helpdesk")
                && l.contains("never")
                && l.contains("1 (behind for over a day)"))
            && md
                .lines()
                .any(|l| l.starts_with("pipeline") && l.trim_end().ends_with(" 0")),
        "{md}"
    );
    let html = reports.render(&report, Format::Html).unwrap();
    assert!(html.contains("<td>helpdesk</td>"), "{html}");
}

/// What an endpoint was sent: (headers, body) per call.
type Seen = std::sync::Arc<std::sync::Mutex<Vec<(Vec<(String, String)>, String)>>>;

/// A webhook endpoint on loopback answering each call with the next status of `statuses`
/// (the last one from then on), recording what it was sent: (headers, body).
fn endpoint(statuses: Vec<u16>) -> (String, Seen) {
    use std::io::{BufRead, BufReader, Read, Write};
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}/hook", listener.local_addr().unwrap());
    let seen = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
    let record = seen.clone();
    std::thread::spawn(move || {
        for (n, stream) in listener.incoming().enumerate() {
            let mut stream = stream.unwrap();
            let mut reader = BufReader::new(stream.try_clone().unwrap());
            let mut headers = Vec::new();
            let mut line = String::new();
            reader.read_line(&mut line).unwrap();
            loop {
                line.clear();
                reader.read_line(&mut line).unwrap();
                let l = line.trim_end();
                if l.is_empty() {
                    break;
                }
                let (k, v) = l.split_once(':').unwrap();
                headers.push((k.trim().to_ascii_lowercase(), v.trim().to_owned()));
            }
            let length: usize = headers
                .iter()
                .find(|(k, _)| k == "content-length")
                .map_or(0, |(_, v)| v.parse().unwrap());
            let mut body = vec![0; length];
            reader.read_exact(&mut body).unwrap();
            record
                .lock()
                .unwrap()
                .push((headers, String::from_utf8(body).unwrap()));
            let status = statuses[n.min(statuses.len() - 1)];
            let _ = write!(
                stream,
                "HTTP/1.1 {status} X\r\ncontent-length: 0\r\nconnection: close\r\n\r\n"
            );
        }
    });
    (url, seen)
}

#[tokio::test]
async fn webhooks_are_signed_retried_after_a_failure_coalesced_and_a_410_turns_them_off() {
    use dsr_bot::{domain::RequestKind, workers::webhooks::WebhookWorker};
    let app = common::TestApp::spawn_with(common::at("2025-11-03T09:00:00Z"), |c| {
        c.http.webhook_retry_seconds = 1;
    })
    .await;
    let (url, seen) = endpoint(vec![500, 200]);
    let (gone_url, gone_seen) = endpoint(vec![410]);
    let feed = app.services.feed();
    feed.add("pipeline", Some(url)).await.unwrap();
    feed.add("vendor", Some(gone_url)).await.unwrap();
    let pipeline = feed.consumer("pipeline").await.unwrap();
    let worker = WebhookWorker::new(app.services.clone()).unwrap();

    app.file(&common::console("mira"), RequestKind::OptOut)
        .await;
    app.file(&common::console("noor"), RequestKind::OptOut)
        .await;
    assert_eq!(
        worker.round().await.unwrap(),
        2,
        "one message each, the two changes coalesced"
    );
    assert_eq!(seen.lock().unwrap().len(), 1);
    assert_eq!(gone_seen.lock().unwrap().len(), 1);
    // Not yet due again: the failed one waits about a second.
    assert_eq!(worker.round().await.unwrap(), 0);
    app.clock.advance(chrono::Duration::seconds(2));
    assert_eq!(
        worker.round().await.unwrap(),
        1,
        "the vendor's endpoint is off after its 410"
    );
    let calls = seen.lock().unwrap().clone();
    assert_eq!(calls.len(), 2);
    let header = |i: usize, name: &str| {
        calls[i]
            .0
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.clone())
            .unwrap_or_else(|| panic!("no {name}"))
    };
    assert_eq!(
        header(0, "webhook-id"),
        header(1, "webhook-id"),
        "a retry is the same message"
    );
    assert_eq!(calls[0].1, calls[1].1);
    let public = NoteVerifier::parse(&app.services.log().public_key().unwrap()).unwrap();
    for (i, call) in calls.iter().enumerate() {
        let signature = header(i, "webhook-signature");
        let signature = signature.strip_prefix("v1a,").expect("Ed25519 (v1a)");
        let signed = format!(
            "{}.{}.{}",
            header(i, "webhook-id"),
            header(i, "webhook-timestamp"),
            call.1
        );
        assert!(
            public.verify_bytes(signed.as_bytes(), signature),
            "attempt {i} is signed"
        );
        assert!(!public.verify_bytes(format!("{signed} ").as_bytes(), signature));
    }
    // Thin: the event carries the consumer's cursor, which pulls both changes.
    let event: Value = serde_json::from_str(&calls[1].1).unwrap();
    assert_eq!(event["type"], "choices.changed");
    let cursor = event["data"]["cursor"].as_str().unwrap();
    assert!(!calls[1].1.contains("mira") && !calls[1].1.contains("noor"));
    let after = feed.page(&pipeline, Some(cursor), 10).await.unwrap();
    assert!(
        after.choices.is_empty() && !after.more,
        "the cursor is the feed's end"
    );
    let before = feed.page(&pipeline, None, 10).await.unwrap();
    assert_eq!(before.cursor, cursor);

    // An endpoint that stays down holds one waiting message, however many changes come.
    let (down_url, down_seen) = endpoint(vec![503]);
    feed.add("down", Some(down_url)).await.unwrap();
    for who in ["ada", "bo", "cy"] {
        app.file(&common::console(who), RequestKind::OptOut).await;
        app.clock.advance(chrono::Duration::seconds(40));
        worker.round().await.unwrap();
    }
    let waiting: i64 = sqlx::query_scalar(
        "SELECT COUNT(*) FROM webhook_deliveries d JOIN consumers c ON c.id = d.consumer_id
         WHERE c.name = 'down' AND d.delivered_at IS NULL AND d.gave_up_at IS NULL",
    )
    .fetch_one(app.services.pool())
    .await
    .unwrap();
    assert_eq!(waiting, 1);
    assert!(down_seen.lock().unwrap().len() >= 2, "tried again");

    // The vendor is told nothing more, and officers are told its webhook is off.
    app.file(&common::console("ines"), RequestKind::OptOut)
        .await;
    app.clock.advance(chrono::Duration::seconds(2));
    assert_eq!(worker.round().await.unwrap(), 1);
    assert_eq!(gone_seen.lock().unwrap().len(), 1);
    let stale = feed.stale().await.unwrap();
    assert!(
        stale
            .iter()
            .any(|l| l.contains("vendor's webhook answered 410 Gone")),
        "{stale:?}"
    );
}

#[test]
fn bench_feed_pulls_the_whole_snapshot_over_http_and_says_what_it_cost() {
    let dir = tempfile::tempdir().unwrap();
    let o = common::run_bin(
        dir.path(),
        &[
            "bench",
            "feed",
            "--people",
            "2500",
            "--limit",
            "1000",
            "--rush-requests",
            "200",
        ],
        &[],
    );
    let out = common::printed(&o);
    assert!(o.status.success(), "{out}");
    assert!(
        out.contains("snapshot pulled over HTTP: 3 pages in"),
        "{out}"
    );
    assert!(
        out.contains("identities/s") && out.contains("with the snapshot pulled beside it"),
        "{out}"
    );
}

#[tokio::test]
async fn a_snapshot_lists_no_removals_on_any_page_and_a_linked_address_reaches_consumers() {
    use dsr_bot::{
        domain::{DiscordId, EmailAddress, RequestKind},
        services::Origin,
    };
    let app = common::TestApp::spawn().await;
    let services = &app.services;
    let feed = services.feed();
    let key = hex::decode(feed.add("pipeline", None).await.unwrap().key).unwrap();
    let c = feed.consumer("pipeline").await.unwrap();
    let mut interaction = 0;
    let mut file = |user: u64, kind: RequestKind, email: Option<&str>| {
        interaction += 1;
        let origin = Origin::discord(DiscordId(user), interaction);
        let email = email.map(|e| EmailAddress::parse(e).unwrap());
        async move { services.file_request(&origin, kind, email).await.unwrap() }
    };
    file(11, RequestKind::OptOut, None).await;
    file(12, RequestKind::OptOut, None).await;
    file(12, RequestKind::OptIn, None).await;
    file(13, RequestKind::OptOut, None).await;

    // Paged one change at a time, the snapshot never lists the member who came back.
    let (mut cursor, mut listed, mut pages) = (None, Vec::new(), 0);
    loop {
        let page = feed.page(&c, cursor.as_deref(), 1).await.unwrap();
        pages += 1;
        assert!(page.removed.is_empty(), "page {pages}: {page:?}");
        listed.extend(page.choices.iter().map(|e| e.identity.clone()));
        cursor = Some(page.cursor.clone());
        if !page.more {
            break;
        }
    }
    assert_eq!(pages, 3);
    listed.sort();
    let mut expected = vec![discord_hash(&key, 11), discord_hash(&key, 13)];
    expected.sort();
    assert_eq!(listed, expected);

    // After the snapshot, a removal is a change like any other.
    file(13, RequestKind::OptIn, None).await;
    let page = feed.page(&c, cursor.as_deref(), 10).await.unwrap();
    assert_eq!(page.removed.len(), 1);
    assert_eq!(page.removed[0].identity, discord_hash(&key, 13));
    let cursor = page.cursor;

    // Member 11 proves an address after opting out: consumers past them learn it.
    file(
        11,
        RequestKind::OptOut,
        Some("Eleven.Member+chat@Example.org"),
    )
    .await;
    let code = app.latest_code().await;
    services
        .verify(&Origin::discord(DiscordId(11), 999), &code)
        .await
        .unwrap();
    let page = feed.page(&c, Some(&cursor), 10).await.unwrap();
    let mut mac = Hmac::<Sha256>::new_from_slice(&key).unwrap();
    mac.update(b"email:eleven.member+chat@example.org");
    let email = hex::encode(mac.finalize().into_bytes());
    let now: Vec<(String, String)> = page
        .choices
        .iter()
        .map(|e| (e.kind.clone(), e.identity.clone()))
        .collect();
    assert!(
        now.contains(&("email".into(), email))
            && now.contains(&("discord".into(), discord_hash(&key, 11))),
        "{now:?}"
    );
}
