//! Shared test set-up: an app on a fresh SQLite file with a pinned clock, and a real SMTP
//! server (aiosmtpd from Debian) on a free loopback port.
#![allow(dead_code)]

pub mod postgres;

use std::{
    net::TcpListener,
    path::{Path, PathBuf},
    process::{Child, Command, Stdio},
    sync::{Arc, Mutex, OnceLock},
    time::{Duration, Instant},
};

use chrono::{DateTime, Utc};
use dsr_bot::services::Origin;
use dsr_bot::{
    clock::ManualClock,
    config::Config,
    domain::{Actor, Channel, ConsoleUser, RequestKind},
    services::{Reply, Services},
    startup::App,
};
use sqlx::Row;

pub fn at(s: &str) -> DateTime<Utc> {
    DateTime::parse_from_rfc3339(s).unwrap().with_timezone(&Utc)
}

/// 3 days 4 hours before the default deadline (2025-09-28T23:59:59Z).
pub const BEFORE_DEADLINE: &str = "2025-09-25T19:59:59Z";

pub struct TestApp {
    pub dir: tempfile::TempDir,
    pub clock: ManualClock,
    pub services: Services,
}

impl TestApp {
    /// Files a request of `kind` from the console, without an address; it must succeed.
    #[allow(dead_code)]
    pub async fn file(&self, who: &Actor, kind: RequestKind) -> Reply {
        self.services
            .file_request(&Origin::new(who, Channel::Console), kind, None)
            .await
            .unwrap()
    }

    pub async fn spawn() -> TestApp {
        Self::spawn_with(at(BEFORE_DEADLINE), |_| {}).await
    }

    /// An app on an unencrypted database, for tests that search the files themselves for what
    /// an erasure must remove (encryption would make that search find nothing either way).
    pub async fn spawn_unencrypted() -> TestApp {
        Self::spawn_with(at(BEFORE_DEADLINE), |c| {
            c.database_key = dsr_bot::config::DatabaseKey::Plain;
        })
        .await
    }

    pub async fn spawn_at(now: DateTime<Utc>) -> TestApp {
        Self::spawn_with(now, |_| {}).await
    }

    pub async fn spawn_with(now: DateTime<Utc>, adjust: impl FnOnce(&mut Config)) -> TestApp {
        let dir = tempfile::tempdir().unwrap();
        let mut config = Config::for_folder(dir.path());
        adjust(&mut config);
        let clock = ManualClock::new(now);
        let app = App::build_with_clock(config, Arc::new(clock.clone()))
            .await
            .unwrap();
        TestApp {
            dir,
            clock,
            services: app.services,
        }
    }

    pub fn db_path(&self) -> PathBuf {
        self.services.config().database_path.clone()
    }

    pub fn outbox_dir(&self) -> PathBuf {
        self.services.config().outbox_dir.clone()
    }

    pub async fn count(&self, table: &str) -> i64 {
        sqlx::query(&format!("SELECT COUNT(*) FROM {table}"))
            .fetch_one(self.services.pool())
            .await
            .unwrap()
            .get(0)
    }

    pub async fn scalar_i64(&self, sql: &str) -> i64 {
        sqlx::query(sql)
            .fetch_one(self.services.pool())
            .await
            .unwrap()
            .get(0)
    }

    pub async fn request_state(&self, id: i64) -> String {
        sqlx::query("SELECT state FROM requests WHERE id = ?")
            .bind(id)
            .fetch_one(self.services.pool())
            .await
            .unwrap()
            .get(0)
    }

    /// (template, recipient, body_text) of every outbox row, oldest first.
    pub async fn mails(&self) -> Vec<(String, String, String)> {
        sqlx::query_as("SELECT template, recipient, body_text FROM outbox ORDER BY id")
            .fetch_all(self.services.pool())
            .await
            .unwrap()
    }

    /// The code in the newest confirmation-code mail.
    pub async fn latest_code(&self) -> String {
        let mails = self.mails().await;
        let (_, _, text) = mails
            .iter()
            .rev()
            .find(|(t, _, _)| t == "confirmation_code")
            .expect("a code mail");
        code_in(text)
    }
}

pub fn code_in(text: &str) -> String {
    text.lines()
        .map(str::trim)
        .find(|l| l.len() == 6 && l.bytes().all(|b| b.is_ascii_digit()))
        .expect("a line with the 6-digit code")
        .to_owned()
}

pub fn console(name: &str) -> Actor {
    Actor::Console(ConsoleUser::parse(name).unwrap())
}

pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// A real SMTP server (Debian's python3-aiosmtpd) that stores what it accepts in a Maildir.
pub struct SmtpServer {
    pub port: u16,
    pub maildir: PathBuf,
    child: Child,
}

impl SmtpServer {
    pub fn start(port: u16, maildir: &Path) -> SmtpServer {
        let child = Command::new("/usr/bin/python3")
            .args([
                "-m",
                "aiosmtpd",
                "-n",
                "-l",
                &format!("127.0.0.1:{port}"),
                "-c",
                "aiosmtpd.handlers.Mailbox",
            ])
            .arg(maildir)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("starting aiosmtpd: run scripts/test, which installs python3-aiosmtpd");
        let server = SmtpServer {
            port,
            maildir: maildir.to_owned(),
            child,
        };
        let deadline = Instant::now() + Duration::from_secs(20);
        while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(
                Instant::now() < deadline,
                "aiosmtpd did not start on port {port}"
            );
            std::thread::sleep(Duration::from_millis(50));
        }
        server
    }

    pub fn url(&self) -> String {
        format!("smtp://127.0.0.1:{}", self.port)
    }

    /// Every message the server accepted, as raw text.
    pub fn messages(&self) -> Vec<String> {
        let new = self.maildir.join("new");
        let mut out: Vec<String> = std::fs::read_dir(&new)
            .map(|rd| {
                rd.map(|e| std::fs::read_to_string(e.unwrap().path()).unwrap())
                    .collect()
            })
            .unwrap_or_default();
        out.sort();
        out
    }

    pub fn stop(mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for SmtpServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

pub fn header<'a>(raw: &'a str, name: &str) -> Option<&'a str> {
    raw.lines().take_while(|l| !l.is_empty()).find_map(|l| {
        l.split_once(':')
            .filter(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.trim())
    })
}

/// A real IMAP server (Dovecot from Debian) on a free loopback port, with one mailbox user
/// `privacy` (password `secret`) whose Maildir lives in a temporary folder.
pub struct Dovecot {
    pub port: u16,
    dir: tempfile::TempDir,
}

impl Dovecot {
    pub fn start() -> Dovecot {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path();
        std::fs::set_permissions(root, std::fs::Permissions::from_mode(0o755)).unwrap();
        for sub in ["base", "state", "mail"] {
            std::fs::create_dir_all(root.join(sub)).unwrap();
        }
        let status = Command::new("chown")
            .args(["-R", "dovecot:dovecot"])
            .arg(root.join("mail"))
            .status()
            .unwrap();
        assert!(
            status.success(),
            "chown of the mail folder failed (the dovecot user comes with dovecot-imapd)"
        );
        let port = free_port();
        let r = root.display();
        let conf = format!(
            "base_dir = {r}/base\nstate_dir = {r}/state\nlog_path = {r}/dovecot.log\nlisten = 127.0.0.1\n\
             protocols = imap\nssl = no\ndisable_plaintext_auth = no\nauth_mechanisms = plain login\n\
             first_valid_uid = 1\nmail_location = maildir:{r}/mail/%u\n\
             service imap-login {{\n  chroot =\n  inet_listener imap {{\n    address = 127.0.0.1\n    port = {port}\n  }}\n  \
             inet_listener imaps {{\n    port = 0\n  }}\n}}\nservice anvil {{\n  chroot =\n}}\n\
             passdb {{\n  driver = static\n  args = password=secret\n}}\n\
             userdb {{\n  driver = static\n  args = uid=dovecot gid=dovecot home={r}/mail/%u\n}}\n"
        );
        std::fs::write(root.join("dovecot.conf"), conf).unwrap();
        // The master daemonises; its children keep any inherited pipe open, so none is given.
        let status = Command::new("/usr/sbin/dovecot")
            .arg("-c")
            .arg(root.join("dovecot.conf"))
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .expect("starting dovecot: run scripts/test, which installs dovecot-imapd");
        let log = || std::fs::read_to_string(root.join("dovecot.log")).unwrap_or_default();
        assert!(status.success(), "dovecot did not start: {}", log());
        let deadline = Instant::now() + Duration::from_secs(20);
        while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(
                Instant::now() < deadline,
                "dovecot did not start on port {port}"
            );
            std::thread::sleep(Duration::from_millis(50));
        }
        Dovecot { port, dir }
    }

    pub fn url(&self) -> String {
        format!("imap://privacy:secret@127.0.0.1:{}/INBOX", self.port)
    }
}

impl Drop for Dovecot {
    fn drop(&mut self) {
        if let Ok(pid) = std::fs::read_to_string(self.dir.path().join("base/master.pid")) {
            let _ = Command::new("kill").arg(pid.trim()).status();
        }
    }
}

/// Every log line of this test binary, at TRACE, from the first call on. Global: a scoped
/// subscriber misses events whose call sites were first reached on another test's thread.
/// Every test logs into it once it is set; tests search it for needles of their own.
pub fn trace_logs() -> &'static Arc<Mutex<Vec<u8>>> {
    static LOGS: OnceLock<Arc<Mutex<Vec<u8>>>> = OnceLock::new();
    LOGS.get_or_init(|| {
        #[derive(Clone)]
        struct Sink(Arc<Mutex<Vec<u8>>>);
        impl std::io::Write for Sink {
            fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
                self.0.lock().unwrap().extend_from_slice(buf);
                Ok(buf.len())
            }
            fn flush(&mut self) -> std::io::Result<()> {
                Ok(())
            }
        }
        let logs = Arc::new(Mutex::new(Vec::new()));
        let sink = Sink(logs.clone());
        tracing::subscriber::set_global_default(
            tracing_subscriber::fmt()
                .with_max_level(tracing::Level::TRACE)
                .with_writer(move || sink.clone())
                .finish(),
        )
        .expect("only trace_logs() sets a subscriber");
        logs
    })
}

/// The `dsr-bot` binary under test (`DSR_BOT_BIN` names another build).
pub fn program() -> PathBuf {
    std::env::var_os("DSR_BOT_BIN")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_BIN_EXE_dsr-bot")))
}

/// The `dsr-bot` binary as a user starts it: in `dir`, on an empty environment but `PATH`,
/// stdin closed. Every test that runs the binary starts it here.
///
/// `DSR_BOT_BIN` runs another build instead (an earlier release, to see a test fail on it).
pub fn bin(dir: &Path) -> Command {
    let mut c = Command::new(program());
    c.current_dir(dir)
        .env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .stdin(Stdio::null());
    c
}

/// Runs `cmd` to its end with `stdin` fed to it, and collects what it printed.
pub fn output(cmd: &mut Command, stdin: &[u8]) -> std::process::Output {
    use std::io::Write;
    let mut child = cmd
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut input = child.stdin.take().unwrap();
    // A process that stops reading early (a refusal) closes its end: that is not a failure.
    let _ = input.write_all(stdin);
    drop(input);
    child.wait_with_output().unwrap()
}

/// `dsr-bot ARGS` in `dir` with `env` set, stdin empty.
pub fn run_bin(dir: &Path, args: &[&str], env: &[(&str, &str)]) -> std::process::Output {
    output(bin(dir).args(args).envs(env.iter().copied()), b"")
}

/// What a run printed, both streams.
pub fn printed(o: &std::process::Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    )
}

/// Delivers every queued DM receipt to a fake Discord on loopback, through the bot's own DM
/// worker (as `dsr-bot run` does), and returns the fake, which recorded what reached it.
pub async fn deliver_dms(services: &Services) -> crate::fake_discord::FakeDiscord {
    use dsr_bot::discord::dms::{DmSender, DmWorker, Step};
    let fake = crate::fake_discord::FakeDiscord::start().await;
    let settings = dsr_bot::config::DiscordConfig {
        api_url: Some(fake.api_url()),
        ..Default::default()
    };
    let worker = DmWorker::new(
        services.clone(),
        DmSender::new(crate::fake_discord::TOKEN, &settings).unwrap(),
    );
    while worker.try_deliver_next().await.unwrap() != Step::Empty {}
    fake
}

/// Opens the service's encrypted database as someone holding its key would.
#[allow(dead_code)]
pub fn open_with_key(db: &Path) -> rusqlite::Connection {
    use dsr_bot::db::cipher;
    cipher::init_crypto();
    let conn = rusqlite::Connection::open(db).unwrap();
    let key = cipher::read_key_file(&cipher::key_file_beside(db), "key").unwrap();
    conn.pragma_update(None, "key", format!("x'{}'", key.hex()))
        .unwrap();
    conn
}
