//! Replies as real mail clients write them, answering each kind of mail the bot sends, fed
//! through the whole email channel. Each fixture in tests/fixtures/replies is a reply template
//! (see the README there): the harness sets up the mail it answers, fills in that mail's real
//! address, token, Message-ID and text (quoted, rewrapped, converted as the client would), and
//! checks what the reply did to the database against the fixture's `expect`.

use crate::common;

use std::{collections::BTreeMap, path::Path};

use common::{TestApp, console};
use dsr_bot::{
    domain::{Channel, EmailAddress, RequestKind},
    email::intake::ingest_raw,
    services::{Disposition, Origin},
};

const PERSON: &str = "robin.reply@example.net";

struct Fixture {
    name: String,
    answers: String,
    expect: String,
    encode: Option<String>,
    charset: Option<String>,
    twice: bool,
    template: String,
}

fn load(path: &Path) -> Fixture {
    let text = std::fs::read_to_string(path).unwrap();
    let mut meta = BTreeMap::new();
    let mut template = Vec::new();
    for line in text.lines() {
        match line.strip_prefix("# ").and_then(|l| l.split_once(": ")) {
            Some((k, v)) if template.is_empty() => {
                meta.insert(k.to_owned(), v.trim().to_owned());
            }
            _ => template.push(line),
        }
    }
    let need = |k: &str| {
        meta.get(k)
            .unwrap_or_else(|| panic!("{}: no `# {k}:` line", path.display()))
            .clone()
    };
    Fixture {
        name: path.file_name().unwrap().to_string_lossy().into_owned(),
        answers: need("answers"),
        expect: need("expect"),
        encode: meta.get("encode").cloned(),
        charset: meta.get("charset").cloned(),
        twice: meta.get("twice").is_some_and(|v| v == "yes"),
        template: template.join("\r\n"),
    }
}

/// The mail of ours a fixture answers, as it sits in the outbox.
struct Ours {
    message_id: String,
    token: String,
    subject: String,
    text: String,
    html: String,
    /// The request still open for the person, where the setup leaves one.
    open: Option<i64>,
}

async fn newest_to(app: &TestApp, template: &str) -> Ours {
    let (message_id, token, subject, text, html): (String, String, String, String, String) =
        sqlx::query_as(
            "SELECT message_id, reply_token, subject, body_text, body_html FROM outbox
             WHERE recipient = ? AND template = ? ORDER BY id DESC LIMIT 1",
        )
        .bind(PERSON)
        .bind(template)
        .fetch_one(app.services.pool())
        .await
        .unwrap_or_else(|e| panic!("no {template} mail to answer: {e}"));
    Ours {
        message_id,
        token,
        subject,
        text,
        html,
        open: None,
    }
}

fn mail(from: &str, to: &str, id: &str, in_reply_to: Option<&str>, body: &str) -> Vec<u8> {
    let mut m = format!(
        "From: {from}\r\nTo: {to}\r\nSubject: x\r\nMessage-ID: <{id}@setup.example.net>\r\n"
    );
    if let Some(p) = in_reply_to {
        m.push_str(&format!("In-Reply-To: {p}\r\nReferences: {p}\r\n"));
    }
    m.push_str(&format!(
        "Content-Type: text/plain; charset=utf-8\r\n\r\n{body}\r\n"
    ));
    m.into_bytes()
}

async fn send(app: &TestApp, raw: Vec<u8>) {
    ingest_raw(&app.services, &raw).await.unwrap();
}

/// Sets up the mail `answers` names and returns it.
async fn setup(app: &TestApp, answers: &str) -> Ours {
    let carol = Origin::new(&console("carol"), Channel::Console);
    let s = &app.services;
    let email = EmailAddress::parse(PERSON).ok();
    let plus = |t: &str| format!("privacy+{t}@example.org");
    match answers {
        // A member named the address in chat: the code mail.
        "code" => {
            s.file_request(&carol, RequestKind::OptOut, email)
                .await
                .unwrap();
            newest_to(app, "confirmation_code").await
        }
        "code-optin" => {
            s.file_request(&carol, RequestKind::OptIn, email)
                .await
                .unwrap();
            newest_to(app, "confirmation_code").await
        }
        "extension" => {
            // A deletion asked and confirmed by mail, then given more time by an officer.
            send(
                app,
                mail(PERSON, "privacy@example.org", "xd", None, "delete my data"),
            )
            .await;
            let ask = newest_to(app, "confirm_by_reply").await;
            send(
                app,
                mail(
                    PERSON,
                    &plus(&ask.token),
                    "xdy",
                    Some(&ask.message_id),
                    "yes",
                ),
            )
            .await;
            let id = app
                .scalar_i64("SELECT MAX(id) FROM requests WHERE kind = 'deletion'")
                .await;
            s.requests()
                .extend(
                    dsr_bot::services::Call::on(Channel::Console),
                    &dsr_bot::services::Officer::Operator,
                    id,
                    10,
                    "the backups are checked too",
                )
                .await
                .unwrap();
            newest_to(app, "due_extended").await
        }
        "status-one" | "status-two" => {
            // A proven address with one (or two) requests waiting for it, then its status.
            send(
                app,
                mail(PERSON, "privacy@example.org", "so", None, "opt in"),
            )
            .await;
            let ask = newest_to(app, "confirm_by_reply").await;
            send(
                app,
                mail(
                    PERSON,
                    &plus(&ask.token),
                    "soy",
                    Some(&ask.message_id),
                    "yes",
                ),
            )
            .await;
            send(
                app,
                mail(PERSON, "privacy@example.org", "sd", None, "delete my data"),
            )
            .await;
            if answers == "status-two" {
                send(
                    app,
                    mail(PERSON, "privacy@example.org", "sx", None, "opt out"),
                )
                .await;
            }
            let open = app
                .scalar_i64("SELECT MAX(id) FROM requests WHERE state = 'awaiting_confirmation'")
                .await;
            send(
                app,
                mail(PERSON, "privacy@example.org", "ss", None, "status"),
            )
            .await;
            Ours {
                open: Some(open),
                ..newest_to(app, "reply").await
            }
        }
        // A new mail from the address asked for an opt-out: the request to confirm by reply.
        "ask" => {
            send(
                app,
                mail(PERSON, "privacy@example.org", "ask", None, "opt out"),
            )
            .await;
            newest_to(app, "confirm_by_reply").await
        }
        // The same, for a deletion.
        "ask-delete" => {
            send(
                app,
                mail(
                    PERSON,
                    "privacy@example.org",
                    "askd",
                    None,
                    "delete my data",
                ),
            )
            .await;
            newest_to(app, "confirm_by_reply").await
        }
        // The receipt after the code was entered.
        "receipt" => {
            s.file_request(&carol, RequestKind::OptOut, email)
                .await
                .unwrap();
            let code = app.latest_code().await;
            s.verify(&carol, &code).await.unwrap();
            newest_to(app, "change_confirmed").await
        }
        // A deletion asked in chat, the address proven: the mail asking to confirm it.
        "received" => {
            s.file_request(&carol, RequestKind::Deletion, email)
                .await
                .unwrap();
            let code = app.latest_code().await;
            s.verify(&carol, &code).await.unwrap();
            newest_to(app, "request_received").await
        }
        // Our answer to a reply we could not read ("we could not find an instruction").
        "unclear" => {
            s.file_request(&carol, RequestKind::OptOut, email)
                .await
                .unwrap();
            let code_mail = newest_to(app, "confirmation_code").await;
            let raw = mail(
                PERSON,
                &plus(&code_mail.token),
                "hm",
                Some(&code_mail.message_id),
                "Hmm?",
            );
            send(app, raw).await;
            newest_to(app, "reply").await
        }
        // Our answer to a status question from a proven address.
        "status" => {
            send(
                app,
                mail(PERSON, "privacy@example.org", "in", None, "opt in"),
            )
            .await;
            let ask = newest_to(app, "confirm_by_reply").await;
            send(
                app,
                mail(
                    PERSON,
                    &plus(&ask.token),
                    "inyes",
                    Some(&ask.message_id),
                    "yes",
                ),
            )
            .await;
            send(
                app,
                mail(PERSON, "privacy@example.org", "st", None, "status"),
            )
            .await;
            newest_to(app, "reply").await
        }
        other => panic!("unknown `answers: {other}`"),
    }
}

/// Our text quoted as a client does: each line behind `prefix`, rewrapped to `width`
/// columns when one is given.
fn quote(text: &str, prefix: &str, width: Option<usize>) -> String {
    let lines: Vec<String> = match width {
        None => text.lines().map(str::to_owned).collect(),
        Some(w) => {
            let mut out = Vec::new();
            for para in text.split("\n\n") {
                let mut line = String::new();
                for word in para.split_whitespace() {
                    if !line.is_empty() && line.len() + 1 + word.len() > w - prefix.len() {
                        out.push(std::mem::take(&mut line));
                    }
                    if !line.is_empty() {
                        line.push(' ');
                    }
                    line.push_str(word);
                }
                out.push(line);
                out.push(String::new());
            }
            out
        }
    };
    lines
        .iter()
        .map(|l| format!("{prefix}{l}").trim_end().to_owned())
        .collect::<Vec<_>>()
        .join("\r\n")
}

fn render(f: &Fixture, ours: &Ours) -> Vec<u8> {
    let mut t = f
        .template
        .replace("{{FROM}}", PERSON)
        .replace("{{TO}}", &format!("privacy+{}@example.org", ours.token))
        .replace("{{TO_PLAIN}}", "privacy@example.org")
        .replace("{{MSGID}}", &ours.message_id)
        .replace("{{SUBJECT}}", &ours.subject)
        .replace("{{ID}}", &f.name.replace('.', "-"))
        .replace("{{QUOTE_HTML}}", &ours.html)
        .replace(
            "{{OPEN}}",
            &ours.open.map(|o| o.to_string()).unwrap_or_default(),
        );
    // {{QUOTE "PREFIX" WIDTH}}: our text quoted (WIDTH optional); {{QUOTE_HEAD "PREFIX" N}}
    // and {{QUOTE_TAIL "PREFIX" N}}: its first N lines and the rest, for inline answers.
    while let Some(start) = t.find("{{QUOTE") {
        let end = start + t[start..].find("}}").unwrap();
        let spec = &t[start + 2..end];
        let (name, rest) = spec.split_once(" \"").unwrap();
        let (prefix, number) = rest.split_once('"').unwrap();
        let number: Option<usize> = number.trim().parse().ok();
        let quoted = match name {
            "QUOTE" => quote(&ours.text, prefix, number),
            "QUOTE_HEAD" | "QUOTE_TAIL" => {
                let all = quote(&ours.text, prefix, None);
                let lines: Vec<&str> = all.split("\r\n").collect();
                let n = number.expect("a line count").min(lines.len());
                let part = if name == "QUOTE_HEAD" {
                    &lines[..n]
                } else {
                    &lines[n..]
                };
                part.join("\r\n")
            }
            other => panic!("unknown placeholder {other}"),
        };
        t.replace_range(start..end + 2, &quoted);
    }
    let (head, body) = t
        .split_once("\r\n\r\n")
        .expect("headers, a blank line, a body");
    let body = match f.charset.as_deref() {
        Some("iso-8859-1") => body.chars().map(|c| c as u32 as u8).collect::<Vec<u8>>(),
        _ => body.as_bytes().to_vec(),
    };
    let body = match f.encode.as_deref() {
        Some("base64") => {
            use base64::Engine;
            let b64 = base64::engine::general_purpose::STANDARD.encode(&body);
            b64.as_bytes()
                .chunks(76)
                .map(|c| String::from_utf8_lossy(c).into_owned())
                .collect::<Vec<_>>()
                .join("\r\n")
                .into_bytes()
        }
        Some("quoted-printable") => quoted_printable(&body).into_bytes(),
        None => body,
        Some(other) => panic!("unknown encoding {other}"),
    };
    [head.as_bytes(), b"\r\n\r\n", &body, b"\r\n"].concat()
}

/// RFC 2045 quoted-printable, with soft breaks before 76 columns.
fn quoted_printable(body: &[u8]) -> String {
    let mut out = String::new();
    for line in body.split(|b| *b == b'\n') {
        let line = line.strip_suffix(b"\r").unwrap_or(line);
        let mut col = 0;
        for (i, b) in line.iter().enumerate() {
            let last = i + 1 == line.len();
            let piece = match b {
                b'=' => "=3D".to_owned(),
                b' ' | b'\t' if last => format!("={b:02X}"),
                33..=126 | b' ' | b'\t' => (*b as char).to_string(),
                _ => format!("={b:02X}"),
            };
            if col + piece.len() > 75 {
                out.push_str("=\r\n");
                col = 0;
            }
            col += piece.len();
            out.push_str(&piece);
        }
        out.push_str("\r\n");
    }
    out
}

/// What the database says about the person and their requests.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Snapshot(Vec<i64>);

async fn snapshot(app: &TestApp) -> Snapshot {
    let mut v = Vec::new();
    for sql in [
        "SELECT COUNT(*) FROM requests WHERE state = 'cancelled'",
        "SELECT COUNT(*) FROM email_verifications WHERE refused_at IS NOT NULL",
        // A status answer (a question files nothing; its answer lists the person's requests).
        "SELECT COUNT(*) FROM outbox WHERE template = 'reply' AND body_text LIKE '%Your choice about%'",
        "SELECT COUNT(*) FROM requests WHERE kind = 'opt_out'",
        "SELECT COUNT(*) FROM requests WHERE kind = 'opt_in'",
        "SELECT COUNT(*) FROM requests WHERE kind = 'deletion'",
        "SELECT COUNT(*) FROM identities WHERE kind = 'email' AND verified_at IS NOT NULL",
        "SELECT COUNT(*) FROM requests WHERE state = 'confirmed'",
        "SELECT COUNT(*) FROM requests WHERE person_confirmed_at IS NOT NULL",
        "SELECT COUNT(*) FROM email_verifications WHERE verified_at IS NOT NULL",
    ] {
        v.push(app.scalar_i64(sql).await);
    }
    Snapshot(v)
}

/// What a reply did, read from what changed.
fn action(before: &Snapshot, after: &Snapshot, d: &Disposition) -> &'static str {
    let up = |i: usize| after.0[i] > before.0[i];
    match d {
        Disposition::IgnoredAutomatic(_) => return "automatic",
        Disposition::Refused(_) => return "none",
        _ => {}
    }
    if up(0) || up(1) {
        "cancel"
    } else if up(2) {
        "status"
    } else if up(3) {
        "opt_out"
    } else if up(4) {
        "opt_in"
    } else if up(5) {
        "delete"
    } else if up(6) || up(7) || up(8) || up(9) {
        "confirm"
    } else {
        "noop"
    }
}

#[tokio::test]
async fn every_reply_fixture_does_what_the_person_meant() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/replies");
    let mut paths: Vec<_> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "eml"))
        .collect();
    paths.sort();
    assert!(paths.len() >= 60, "{} fixtures", paths.len());
    let mut wrong = Vec::new();
    for path in &paths {
        let f = load(path);
        let app = TestApp::spawn().await;
        let ours = setup(&app, &f.answers).await;
        let raw = render(&f, &ours);
        let before = snapshot(&app).await;
        let d = ingest_raw(&app.services, &raw).await.unwrap();
        let after = snapshot(&app).await;
        let got = action(&before, &after, &d);
        if got != f.expect {
            let body = std::env::var("SHOW_BODY")
                .map(|_| {
                    let cfg = app.services.config().inbound.clone();
                    dsr_bot::email::inbound::parse(&raw, &cfg, &[])
                        .map(|m| m.body)
                        .unwrap_or_default()
                })
                .unwrap_or_default();
            let answered: Option<String> = sqlx::query_scalar(
                "SELECT body_text FROM outbox WHERE template = 'reply' ORDER BY id DESC LIMIT 1",
            )
            .fetch_optional(app.services.pool())
            .await
            .unwrap();
            let answered = answered
                .and_then(|t| {
                    t.lines()
                        .find(|l| l.contains("nothing changed"))
                        .map(str::to_owned)
                })
                .unwrap_or_default();
            wrong.push(format!(
                "{}: expected {}, did {got} ({d:?}) {answered}{body}",
                f.name, f.expect
            ));
            continue;
        }
        if f.twice {
            let again = ingest_raw(&app.services, &raw).await.unwrap();
            if again != Disposition::Duplicate || snapshot(&app).await != after {
                wrong.push(format!("{}: the second delivery was {again:?}", f.name));
            }
        }
    }
    assert!(
        wrong.is_empty(),
        "{} of {} fixtures:\n{}",
        wrong.len(),
        paths.len(),
        wrong.join("\n")
    );
}
