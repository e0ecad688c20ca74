//! Every setting, fed values at and beyond its range: start-up refuses a bad one in one line
//! naming the key, and no value of any key panics the process.

const LONG: &str = "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx";
const NOT_HEX: &str = "zzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzz";

/// Each key with values it must refuse (empty counts as unset, so it is never refused).
const BAD: &[(&str, &[&str])] = &[
    ("DATABASE_PATH", &["/dev/null/x.db"]),
    ("SQLITE_SYNCHRONOUS", &["off", "0", "FULLY"]),
    ("SQLITE_MAX_PAGE_COUNT", &["0", "-1", "99999999999", "many"]),
    (
        "SQLITE_BUSY_TIMEOUT_MS",
        &["0", "-5", "2147483648", "4294967295", "soon"],
    ),
    ("POLICY_NAME", &["line\r\nbreak", LONG]),
    (
        "POLICY_DEADLINE",
        &[
            "28/09/2025",
            "0001-01-01T00:00:00Z",
            "9999-12-31T23:59:59Z",
            "yesterday",
        ],
    ),
    (
        "RESPONSE_DAYS",
        &["0", "-1", "4294967295", "100000", "thirty"],
    ),
    (
        "ORGANISATION_NAME",
        &["Acme\r\nBcc: x@y.z", "Acme\u{1b}[2J"],
    ),
    ("RETENTION_OPTED_IN", &["five\nyears"]),
    ("RETENTION_OPTED_OUT", &["30\rdays"]),
    ("DISPLAY_TIMEZONE", &["Mars/Olympus", "+02:00"]),
    (
        "MAIL_FROM",
        &["a@b", "not a mailbox", "x <a@b.c>\r\nBcc: d@e.f"],
    ),
    ("SMTP_URL", &["http://mail", "smtp://", "smtp://user@"]),
    ("OUTBOX_DIR", &["/dev/null/outbox"]),
    ("MAIL_POLL_SECONDS", &["0", "-1", "4294967296", "99999999"]),
    ("MAIL_LEASE_SECONDS", &["0", "4294967295"]),
    ("MAIL_CONCURRENCY", &["0", "100000000", "-3"]),
    ("PRIVACY_OFFICERS", &["dpo@example.org,nobody", ","]),
    ("REPORT_TIMEZONE", &["Berlin"]),
    ("REPORTS_DIR", &["/dev/null/reports"]),
    ("HASH_KEY", &["abcd", NOT_HEX]),
    ("CODE_TTL_MINUTES", &["0", "4294967295", "100000"]),
    ("CONFIRM_WITHIN_HOURS", &["0", "4294967295", "100000"]),
    ("REPLY_ADDRESS", &["privacy", "a@b"]),
    (
        "IMAP_URL",
        &[
            "imap://user:pw@mail.example.org/INBOX",
            "pop3://x",
            "imaps://",
        ],
    ),
    ("IMAP_POLL_SECONDS", &["0", "4294967296"]),
    ("IMAP_DELETE_PROCESSED", &["maybe"]),
    ("MAX_INBOUND_BYTES", &["0", "10", "99999999999"]),
    ("HELD_DIR", &["held"]),
    ("DISCORD_GUILD_ID", &["my-server", "0", "-5"]),
    ("PRIVACY_OFFICER_ROLE_ID", &["officers"]),
    ("REPORT_CHANNEL_ID", &["general", "18446744073709551616"]),
    (
        "DISCORD_API_URL",
        &["http://discord-proxy.example.org", "nonsense"],
    ),
    (
        "DISCORD_GATEWAY_URL",
        &["ws://gateway.example.org", "https://x"],
    ),
    ("DISCORD_SHARDS", &["1-0/2", "0-9/4", "all"]),
    ("RATE_LIMIT_PER_PERSON", &["-1", "99999999999", "ten"]),
    ("RATE_LIMIT_PER_CHANNEL", &["-1", "99999999999"]),
    ("RATE_LIMIT_MESSAGE", &["slow\r\ndown"]),
    ("REQUESTS_PER_HOUR", &["-1", "ten", "99999999999"]),
    ("CODE_MAILS_PER_DAY", &["-1", "x"]),
    ("CODE_TRIES_PER_DAY", &["-1", "x"]),
    ("RUST_LOG", &["dsr_bot=loud", "[["]),
    ("MAX_EXTENSION_DAYS", &["0", "91", "-1", "two months"]),
    ("REMINDER_AFTER_HOURS", &["72", "-1", "99999999999", "soon"]),
    ("DIGEST_WEEKDAY", &["mondays", "8", "weekly"]),
    ("ANNOUNCE_CHANNEL_ID", &["general", "0"]),
    ("COMMUNITY_SIZE", &["0", "-3", "1000000001", "lots"]),
    ("TEMPLATES_DIR", &["/dev/null/templates", "no-such-folder"]),
    (
        "DATABASE_KEY_FILE",
        &["/no/such/key", "/dev/null", "/etc/hostname"],
    ),
    (
        "DATABASE_KEY",
        &[
            "abcd",
            NOT_HEX,
            "6b1f0b2c5d9e8a7f60514233241506f7e8d9cabbacdfe0f102132435465768a9ff",
        ],
    ),
];

fn run(dir: &std::path::Path, key: &str, value: &str) -> std::process::Output {
    crate::common::run_bin(dir, &["migrate"], &[(key, value)])
}

#[test]
fn every_setting_out_of_range_is_refused_in_one_line_naming_it() {
    let dir = tempfile::tempdir().unwrap();
    let mut wrong = Vec::new();
    for (key, values) in BAD {
        for value in *values {
            let out = run(dir.path(), key, value);
            let err = String::from_utf8_lossy(&out.stderr);
            let lines: Vec<&str> = err.lines().collect();
            let ok = out.status.code() == Some(2)
                && lines.len() == 1
                && lines[0].starts_with(&format!("error: configuration: {key}: "))
                && !err.contains("panicked");
            if !ok {
                wrong.push(format!("{key}={value:?} -> {:?}: {err}", out.status.code()));
            }
        }
    }
    assert!(
        wrong.is_empty(),
        "{} refusals were wrong:\n{}",
        wrong.len(),
        wrong.join("\n")
    );
}

#[test]
fn the_edges_of_every_range_are_accepted() {
    let dir = tempfile::tempdir().unwrap();
    for (key, value) in [
        ("RESPONSE_DAYS", "1"),
        ("RESPONSE_DAYS", "366"),
        ("CONFIRM_WITHIN_HOURS", "720"),
        ("CODE_TTL_MINUTES", "1440"),
        ("SQLITE_BUSY_TIMEOUT_MS", "600000"),
        ("MAIL_CONCURRENCY", "64"),
        ("MAIL_LEASE_SECONDS", "1"),
        ("MAX_INBOUND_BYTES", "104857600"),
        ("RATE_LIMIT_PER_PERSON", "0"),
        ("POLICY_DEADLINE", "2199-12-31T23:59:59Z"),
        ("RUST_LOG", "warn,dsr_bot=debug"),
        ("MAX_EXTENSION_DAYS", "1"),
        ("MAX_EXTENSION_DAYS", "90"),
        ("REMINDER_AFTER_HOURS", "0"),
        ("REMINDER_AFTER_HOURS", "71"),
        ("DIGEST_WEEKDAY", "Sunday"),
        ("DIGEST_WEEKDAY", "off"),
        ("COMMUNITY_SIZE", "1"),
        ("COMMUNITY_SIZE", "1000000000"),
    ] {
        let out = run(dir.path(), key, value);
        assert!(
            out.status.success(),
            "{key}={value}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
}
