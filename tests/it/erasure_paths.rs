//! Erasure on every path a person can reach the bot by: once a deletion is completed and its
//! final mail handed to a real SMTP server, the person's address, Discord id and console name
//! are in no file under the data folder (database, WAL, shared memory, anything else the bot
//! keeps there) and in no log line, logged at the most verbose level. Each test first proves
//! that its search finds them while they are still held, so the database here is unencrypted:
//! with a key the search would find nothing either way (tests/encryption.rs checks that), and
//! what is checked here (secure_delete, the WAL checkpoint, every row and copy removed) works on
//! the pages before SQLCipher encrypts them.

use crate::common;

use std::path::Path;

use common::{SmtpServer, TestApp, console, free_port};
use dsr_bot::{
    domain::{Actor, Channel, DiscordId, EmailAddress, RequestKind},
    email::Mailer,
    email::intake::ingest_raw,
    services::{Call, Disposition, Origin, import},
    workers::outbox::OutboxWorker,
};

/// Every byte of every file under `dir`.
fn files_under(dir: &Path) -> Vec<u8> {
    let mut all = Vec::new();
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            all.extend(files_under(&path));
        } else {
            all.extend(std::fs::read(&path).unwrap_or_default());
        }
    }
    all
}

fn holds(bytes: &[u8], needle: &str) -> bool {
    let needle = needle.to_ascii_lowercase();
    bytes
        .windows(needle.len())
        .any(|w| w.eq_ignore_ascii_case(needle.as_bytes()))
}

/// A test's data folder, and a real SMTP server that keeps what it takes somewhere else.
struct World {
    app: TestApp,
    _server_dir: tempfile::TempDir,
    server: SmtpServer,
}

impl World {
    async fn new() -> World {
        common::trace_logs();
        let app = TestApp::spawn_unencrypted().await;
        let server_dir = tempfile::tempdir().unwrap();
        let server = SmtpServer::start(free_port(), &server_dir.path().join("maildir"));
        World {
            app,
            _server_dir: server_dir,
            server,
        }
    }

    fn worker(&self) -> OutboxWorker {
        OutboxWorker::new(
            self.app.services.clone(),
            Mailer::smtp(&self.server.url()).unwrap(),
        )
    }

    /// The needles are all there now: the search below is not blind.
    fn assert_found(&self, needles: &[&str]) {
        let files = files_under(self.app.dir.path());
        for n in needles {
            assert!(holds(&files, n), "{n} should be found before the erasure");
        }
    }

    /// Completes `deletion` and hands every mail to the SMTP server.
    async fn erase_and_check_db_only(&self, deletion: i64) {
        self.worker().flush().await.unwrap();
        self.app
            .services
            .requests()
            .complete(
                Call::on(Channel::Console),
                &dsr_bot::services::Officer::Operator,
                deletion,
            )
            .await
            .unwrap();
    }

    /// Completes `deletion` (unless done already), hands every mail to the SMTP server, and
    /// checks that no file under the data folder and no log line holds any needle.
    async fn erase_and_check(&self, deletion: i64, needles: &[&str]) {
        if self.app.request_state(deletion).await != "completed" {
            self.erase_and_check_db_only(deletion).await;
        }
        let summary = self.worker().flush().await.unwrap();
        assert!(summary.delivered >= 1, "the final mail was handed over");
        common::deliver_dms(&self.app.services).await;
        self.app.services.outbox().scrub_wal().await;
        assert_eq!(
            self.app
                .scalar_i64("SELECT COUNT(*) FROM outbox WHERE sent_at IS NULL")
                .await,
            0
        );
        let files = files_under(self.app.dir.path());
        let logs = String::from_utf8_lossy(&common::trace_logs().lock().unwrap()).into_owned();
        for n in needles {
            assert!(
                !holds(&files, n),
                "{n} is still in a file under the data folder"
            );
            assert!(!holds(logs.as_bytes(), n), "{n} is in the logs");
        }
    }

    async fn mail(&self, raw: String) -> Disposition {
        ingest_raw(&self.app.services, raw.as_bytes())
            .await
            .unwrap()
    }

    /// (token, message id) of the newest mail to `to`.
    async fn latest_to(&self, to: &str) -> (String, String) {
        sqlx::query_as(
            "SELECT reply_token, message_id FROM outbox WHERE recipient = ? AND reply_token IS NOT NULL
             ORDER BY id DESC LIMIT 1",
        )
        .bind(to)
        .fetch_one(self.app.services.pool())
        .await
        .unwrap()
    }

    /// `who` files a deletion on `ch` and confirms it; with an address linked, the mailed code too.
    async fn chat_deletion(&self, who: &Actor, ch: Channel) -> i64 {
        let o = Origin::new(who, ch);
        let s = &self.app.services;
        let del = s
            .file_request(&o, RequestKind::Deletion, None)
            .await
            .unwrap()
            .request_id
            .unwrap();
        s.confirm(&o).await.unwrap();
        if self
            .app
            .scalar_i64(&format!(
                "SELECT COUNT(*) FROM email_verifications WHERE request_id = {del}"
            ))
            .await
            > 0
        {
            let code = self.app.latest_code().await;
            s.verify(&o, &code).await.unwrap();
        }
        del
    }

    /// `who` links `address` with the mailed code.
    async fn link(&self, who: &Actor, ch: Channel, address: &str) {
        let o = Origin::new(who, ch);
        self.app
            .services
            .file_request(&o, RequestKind::OptOut, EmailAddress::parse(address).ok())
            .await
            .unwrap();
        let code = self.app.latest_code().await;
        self.app.services.verify(&o, &code).await.unwrap();
    }
}

fn new_mail(from: &str, message_id: &str, body: &str) -> String {
    format!(
        "From: {from}\r\nTo: privacy@example.org\r\nSubject: Request\r\nMessage-ID: {message_id}\r\n\
         Content-Type: text/plain; charset=utf-8\r\n\r\n{body}\r\n"
    )
}

fn reply(from: &str, token: &str, message_id: &str, body: &str) -> String {
    format!(
        "From: {from}\r\nTo: privacy+{token}@example.org\r\nSubject: Re: Request\r\nMessage-ID: {message_id}\r\n\
         Content-Type: text/plain; charset=utf-8\r\n\r\n{body}\r\n"
    )
}

/// An email-only person asks for deletion by mail and confirms by reply. Before that they
/// asked for their status and wrote something the bot could not read as an instruction, so
/// mail went to them before they were anyone the bot knew.
async fn email_only_deletion(w: &World, address: &str, tag: &str) -> i64 {
    w.mail(new_mail(address, &format!("<{tag}-1@x>"), "status"))
        .await;
    w.mail(new_mail(address, &format!("<{tag}-2@x>"), "hello there"))
        .await;
    w.mail(new_mail(address, &format!("<{tag}-3@x>"), "delete my data"))
        .await;
    let (token, _) = w.latest_to(address).await;
    let d = w
        .mail(reply(address, &token, &format!("<{tag}-4@x>"), "confirm"))
        .await;
    assert_eq!(d, Disposition::Acted);
    w.app
        .scalar_i64("SELECT MAX(id) FROM requests WHERE kind = 'deletion'")
        .await
}

#[tokio::test]
async fn a_console_member_is_erased_everywhere() {
    let w = World::new().await;
    let (name, address) = ("carla-console", "carla.console@example.org");
    let carla = console(name);
    w.link(&carla, Channel::Console, address).await;
    let del = w.chat_deletion(&carla, Channel::Console).await;
    w.assert_found(&[name, address]);
    w.erase_and_check(del, &[name, address]).await;
}

#[tokio::test]
async fn a_discord_member_is_erased_everywhere() {
    let w = World::new().await;
    let (id, address) = (803_412_345_678_901_777u64, "dora.discord2@example.org");
    let dora = Actor::Discord(DiscordId(id));
    w.link(&dora, Channel::Discord, address).await;
    let del = w.chat_deletion(&dora, Channel::Discord).await;
    let id = id.to_string();
    w.assert_found(&[&id, address]);
    w.erase_and_check(del, &[&id, address]).await;
}

#[tokio::test]
async fn a_person_who_only_ever_wrote_email_is_erased_everywhere() {
    let w = World::new().await;
    let address = "emil.only@example.org";
    let del = email_only_deletion(&w, address, "emil").await;
    w.assert_found(&[address]);
    w.erase_and_check(del, &[address]).await;
}

#[tokio::test]
async fn an_imported_person_is_erased_everywhere() {
    let w = World::new().await;
    let address = "ida.imported@example.org";
    let rows = import::parse_csv(
        &format!(
            "received_at,kind,email,status\n\
             2025-03-01T10:00:00Z,opt_out,{address},confirmed\n\
             2025-09-01T10:00:00Z,delete,{address},confirmed\n"
        ),
        w.app.services.now(),
    )
    .unwrap();
    w.app.services.import_rows(rows, |_| {}).await.unwrap();
    let del = w
        .app
        .scalar_i64("SELECT id FROM requests WHERE kind = 'deletion'")
        .await;
    w.assert_found(&[address]);
    w.erase_and_check(del, &[address]).await;
}

#[tokio::test]
async fn an_address_someone_else_once_named_is_erased_everywhere() {
    let w = World::new().await;
    let address = "nina.named@example.org";
    // Mallory names Nina's address; Nina says no. Later Nina, by email only, asks to be erased.
    w.app
        .services
        .file_request(
            &Origin::new(&console("mallory-named"), Channel::Console),
            RequestKind::OptOut,
            EmailAddress::parse(address).ok(),
        )
        .await
        .unwrap();
    let (token, _) = w.latest_to(address).await;
    w.mail(reply(address, &token, "<nina-0@x>", "No, this was not me."))
        .await;
    let del = email_only_deletion(&w, address, "nina").await;
    w.assert_found(&[address]);
    w.erase_and_check(del, &[address]).await;
}

#[tokio::test]
async fn a_held_message_from_the_person_is_erased_with_them() {
    let w = World::new().await;
    let address = "hana.held@example.org";
    // A message too large to read is kept for a person to look at.
    let big = format!(
        "From: {address}\r\nTo: privacy@example.org\r\nSubject: Attachment\r\nMessage-ID: <hana-big@x>\r\n\r\n{}\r\n",
        "x".repeat(11 * 1024 * 1024)
    );
    assert_eq!(w.mail(big).await, Disposition::Held);
    let del = email_only_deletion(&w, address, "hana").await;
    w.assert_found(&[address]);
    w.erase_and_check(del, &[address]).await;
}

#[tokio::test]
async fn earlier_mail_files_of_the_folder_transport_are_removed_and_the_last_one_is_the_hand_over()
{
    let app = TestApp::spawn_unencrypted().await;
    let worker = OutboxWorker::new(app.services.clone(), Mailer::Folder(app.outbox_dir()));
    let address = "fola.folder@example.org";
    let fola = console("fola");
    let o = Origin::new(&fola, Channel::Console);
    app.services
        .file_request(&o, RequestKind::OptOut, EmailAddress::parse(address).ok())
        .await
        .unwrap();
    let code = app.latest_code().await;
    app.services.verify(&o, &code).await.unwrap();
    let del = app
        .services
        .file_request(&o, RequestKind::Deletion, None)
        .await
        .unwrap()
        .request_id
        .unwrap();
    app.services.confirm(&o).await.unwrap();
    let code = app.latest_code().await;
    app.services.verify(&o, &code).await.unwrap();
    worker.flush().await.unwrap();
    let before = std::fs::read_dir(app.outbox_dir()).unwrap().count();
    assert!(before >= 4, "{before} mail files");

    app.services
        .requests()
        .complete(
            Call::on(Channel::Console),
            &dsr_bot::services::Officer::Operator,
            del,
        )
        .await
        .unwrap();
    worker.flush().await.unwrap();

    let left: Vec<String> = std::fs::read_dir(app.outbox_dir())
        .unwrap()
        .map(|e| std::fs::read_to_string(e.unwrap().path()).unwrap())
        .collect();
    assert_eq!(left.len(), 1, "only the final mail remains, as handed over");
    assert!(left[0].contains("Your data has been deleted"));
}

#[tokio::test]
async fn an_erased_persons_mail_in_a_maildir_is_removed_by_the_next_maildir_run() {
    use dsr_bot::email::intake::ingest_maildir;
    let w = World::new().await;
    let maildir = w.app.dir.path().join("Maildir");
    std::fs::create_dir_all(maildir.join("new")).unwrap();
    let address = "mara.maildir@example.org";
    let drop_in = |name: &str, raw: String| {
        std::fs::write(maildir.join("new").join(name), raw).unwrap();
    };
    drop_in("1.mara", new_mail(address, "<mara-1@x>", "delete my data"));
    drop_in(
        "2.other",
        new_mail("otto.other@example.org", "<otto-1@x>", "status"),
    );
    ingest_maildir(&w.app.services, &maildir).await.unwrap();
    let (token, _) = w.latest_to(address).await;
    drop_in("3.mara", reply(address, &token, "<mara-2@x>", "confirm"));
    ingest_maildir(&w.app.services, &maildir).await.unwrap();
    let del = w
        .app
        .scalar_i64("SELECT id FROM requests WHERE kind = 'deletion'")
        .await;
    assert_eq!(std::fs::read_dir(maildir.join("cur")).unwrap().count(), 3);

    w.erase_and_check_db_only(del).await;
    ingest_maildir(&w.app.services, &maildir).await.unwrap();

    let left: Vec<String> = std::fs::read_dir(maildir.join("cur"))
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    assert_eq!(left.len(), 1, "{left:?}");
    assert!(left[0].starts_with("2.other"), "{left:?}");
    w.erase_and_check(del, &[address]).await;
}
