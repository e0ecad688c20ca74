//! Answered in the person's language: Discord's locale, a mail's `Content-Language` or its
//! words, else DEFAULT_LANGUAGE; kept with the request, so later mail about it follows.

use std::path::Path;

use chrono::Duration;
use dsr_bot::{
    domain::{Language, RequestKind},
    email::{MailContext, Templates, intake::ingest_raw, labels::Labels},
};
use serde_json::json;

use crate::{
    common::TestApp,
    discord_wire::{connected, run},
};

/// The fixed start of the subject of `template` in `language`: its first line, up to the
/// first value the program fills in.
fn subject_start(language: &str, template: &str) -> String {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("templates");
    let file = match language {
        "en" => root.join("email").join(format!("{template}.txt")),
        other => root
            .join(other)
            .join("email")
            .join(format!("{template}.txt")),
    };
    let text = std::fs::read_to_string(&file).unwrap();
    let subject = text
        .lines()
        .next()
        .unwrap()
        .strip_prefix("Subject: ")
        .unwrap();
    subject.split("{{").next().unwrap().trim_end().to_owned()
}

/// (member, Discord locale, the language they are answered in)
const MEMBERS: [(u64, &str, &str); 5] = [
    (900_000_000_000_000_101, "de", "de"),
    (900_000_000_000_000_102, "fr", "fr"),
    (900_000_000_000_000_103, "es-ES", "es"),
    (900_000_000_000_000_104, "pt-BR", "pt-BR"),
    (900_000_000_000_000_105, "ja", "en"),
];

#[tokio::test(flavor = "multi_thread")]
async fn members_are_answered_and_mailed_in_their_discord_language() {
    let (fake, _dir, bot) = connected().await;
    // The commands registered keep English names and carry their descriptions, and their
    // options', in every language.
    let registered = fake.calls_to("PUT /applications/");
    let commands = registered.last().unwrap().body.as_array().unwrap().clone();
    assert!(commands.len() >= 13);
    for command in &commands {
        let name = command["name"].as_str().unwrap();
        assert!(name.is_ascii(), "{name}");
        for locale in ["de", "fr", "es-ES", "es-419", "pt-BR"] {
            let text = command["description_localizations"][locale].as_str();
            assert!(
                text.is_some_and(|t| !t.is_empty() && t.chars().count() <= 100),
                "/{name} in {locale}"
            );
            for option in command["options"].as_array().into_iter().flatten() {
                let text = option["description_localizations"][locale].as_str();
                assert!(text.is_some(), "/{name} {} in {locale}", option["name"]);
            }
        }
    }
    for (n, (user, locale, language)) in MEMBERS.into_iter().enumerate() {
        fake.set_locale(user, locale);
        let address = format!("member{n}@example.org");
        let option = json!([{"name": "email", "type": 3, "value": address}]);
        let (_, answer) = run(&fake, user, &[], "optin", option).await;
        // The answer itself is in the member's language, whole.
        let opt_in = Labels::of(language.parse().unwrap()).kind(RequestKind::OptIn);
        assert!(answer.contains(opt_in), "{locale}: {answer}");
        assert_eq!(
            answer.contains("is recorded") && answer.contains("we emailed a 6-digit code"),
            language == "en",
            "{locale}: {answer}"
        );
        let db = bot.db().await;
        let (subject, body): (String, String) = sqlx::query_as(
            "SELECT subject, body_text FROM outbox WHERE template = 'confirmation_code' AND recipient = ?",
        )
        .bind(&address)
        .fetch_one(&db)
        .await
        .unwrap();
        let expected = subject_start(language, "confirmation_code");
        assert!(
            subject.starts_with(&expected),
            "{locale}: {subject:?} in {language}"
        );
        if language != "en" {
            assert_ne!(expected, subject_start("en", "confirmation_code"));
        }
        let stored: String = sqlx::query_scalar(
            "SELECT language FROM requests WHERE id = (SELECT MAX(id) FROM requests)",
        )
        .fetch_one(&db)
        .await
        .unwrap();
        assert_eq!(stored, language, "{locale}");

        let code = body
            .lines()
            .map(str::trim)
            .find(|l| l.len() == 6 && l.bytes().all(|b| b.is_ascii_digit()))
            .unwrap()
            .to_owned();
        let code = json!([{"name": "code", "type": 3, "value": code}]);
        run(&fake, user, &[], "verify", code).await;
        let subject: String = sqlx::query_scalar(
            "SELECT subject FROM outbox WHERE template = 'change_confirmed' AND recipient = ?",
        )
        .bind(&address)
        .fetch_one(&db)
        .await
        .unwrap();
        let expected = subject_start(language, "change_confirmed");
        assert!(
            subject.starts_with(&expected),
            "{locale}: {subject:?} in {language}"
        );
    }
    bot.stop();
}

fn mail_from(from: &str, headers: &str, body: &str) -> Vec<u8> {
    use std::sync::atomic::{AtomicU64, Ordering};
    static N: AtomicU64 = AtomicU64::new(1);
    let id = N.fetch_add(1, Ordering::Relaxed);
    format!(
        "From: {from}\r\nTo: privacy@example.org\r\nSubject: request\r\nMessage-ID: <lang-{id}@example.net>\r\n\
         {headers}Content-Type: text/plain; charset=utf-8\r\n\r\n{body}\r\n"
    )
    .into_bytes()
}

/// The subject of the newest mail of `template` to `to`.
async fn subject_to(app: &TestApp, template: &str, to: &str) -> String {
    sqlx::query_scalar(
        "SELECT subject FROM outbox WHERE template = ? AND recipient = ? ORDER BY id DESC LIMIT 1",
    )
    .bind(template)
    .bind(to)
    .fetch_one(app.services.pool())
    .await
    .unwrap_or_else(|e| panic!("no {template} mail to {to}: {e}"))
}

/// A request by mail takes the mail's language (`Content-Language`), else that of its words,
/// else DEFAULT_LANGUAGE, and every later mail about it (the reminder days later) is in it.
#[tokio::test]
async fn a_request_by_mail_is_answered_and_reminded_in_its_own_language() {
    let app = TestApp::spawn_with(crate::common::at(crate::common::BEFORE_DEADLINE), |c| {
        c.default_language = Language::Es;
    })
    .await;
    let cases = [
        ("fr@example.net", "Content-Language: fr\r\n", "delete", "fr"),
        (
            "pt@example.net",
            "Content-Language: pt-BR, en\r\n",
            "delete",
            "pt-BR",
        ),
        // A language the bot does not write: the words the person wrote decide.
        ("ja@example.net", "Content-Language: ja\r\n", "delete", "en"),
        (
            "de@example.net",
            "",
            "Hallo,\r\n\r\nbitte löschen.\r\n\r\nDanke",
            "de",
        ),
        // Nothing says which: DEFAULT_LANGUAGE.
        ("plain@example.net", "", "stop", "es"),
    ];
    for (from, headers, body, _) in cases {
        ingest_raw(&app.services, &mail_from(from, headers, body))
            .await
            .unwrap();
    }
    for (from, _, _, language) in cases {
        let subject = subject_to(&app, "confirm_by_reply", from).await;
        assert!(
            subject.starts_with(&subject_start(language, "confirm_by_reply")),
            "{from}: {subject:?} in {language}"
        );
    }
    app.clock.advance(Duration::hours(49));
    assert_eq!(
        app.services.routines().send_reminders().await.unwrap(),
        cases.len()
    );
    for (from, _, _, language) in cases {
        let subject = subject_to(&app, "reminder", from).await;
        assert!(
            subject.starts_with(&subject_start(language, "reminder")),
            "{from}: {subject:?} in {language}"
        );
    }
}

/// Every mail and DM renders in every language for every kind, and a translated one holds
/// none of the English template's own words (a message is never half translated).
#[test]
fn every_template_renders_in_every_language_without_english_in_a_translation() {
    let templates = Templates::load(None).unwrap();
    assert_eq!(templates.check_mail(), Vec::new());
    const ENGLISH: &[&str] = &[
        " the ",
        " your ",
        " you ",
        " we ",
        " request ",
        "Hello",
        " and ",
    ];
    for language in Language::ALL.into_iter().filter(|l| *l != Language::En) {
        assert_eq!(
            templates.missing(language),
            Vec::<String>::new(),
            "{language}"
        );
        for sample in MailContext::samples_in(language) {
            let mut sample = sample;
            // The operator's own words stay as configured; these are in no language.
            sample.policy = "ABC".into();
            sample.organisation = "XYZ".into();
            sample.retention_opted_in = "5 a.".into();
            sample.retention_opted_out = "30 d.".into();
            sample.reason = sample.reason.map(|_| "§ 12".into());
            for name in dsr_bot::email::templates::MAIL_TEMPLATES {
                let mail = templates.render_in(language, name, &sample).unwrap();
                for text in [&mail.subject, &mail.text] {
                    for word in ENGLISH {
                        assert!(
                            !text.contains(word),
                            "{language} {name} has English {word:?}:\n{text}"
                        );
                    }
                }
            }
            for name in dsr_bot::email::templates::DM_TEMPLATES {
                let dm = templates.render_dm_in(language, name, &sample).unwrap();
                for word in ENGLISH {
                    assert!(
                        !dm.contains(word),
                        "{language} {name} has English {word:?}: {dm}"
                    );
                }
            }
        }
    }
}

/// Replies in each language, as members write them (tests/fixtures/reply_words/<language>.json):
/// confirming, cancelling, and negated, asked or ambiguous ones that change nothing.
#[test]
fn replies_are_understood_in_every_language() {
    use dsr_bot::email::inbound::intent::{self, Decision, Word};
    let folder = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/reply_words");
    let mut languages = 0;
    let mut wrong = Vec::new();
    for entry in std::fs::read_dir(&folder).unwrap() {
        let path = entry.unwrap().path();
        let cases: Vec<serde_json::Value> =
            serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
        languages += 1;
        for case in cases {
            let text = case["text"].as_str().unwrap();
            let expect = case["expect"].as_str().unwrap();
            let read = match intent::read_all(text).decision {
                Decision::Act(Word::Confirm) => "confirm",
                Decision::Act(Word::Cancel) => "cancel",
                Decision::Act(Word::OptOut) | Decision::ConfirmWith(Word::OptOut) => "opt_out",
                Decision::Act(Word::OptIn) | Decision::ConfirmWith(Word::OptIn) => "opt_in",
                Decision::Act(Word::Delete) | Decision::ConfirmWith(Word::Delete) => "delete",
                Decision::Act(Word::Status) => "status",
                Decision::ConfirmWith(_) => "confirm",
                Decision::Unclear | Decision::Nothing => "nothing",
            };
            if read != expect {
                wrong.push(format!(
                    "{}: {text:?} read as {read}, not {expect}",
                    path.file_name().unwrap().to_string_lossy()
                ));
            }
        }
    }
    assert!(languages >= 2);
    assert!(wrong.is_empty(), "{}", wrong.join("\n"));
}

/// A request a reply files, when the reply says nothing of its language ("stop"), is in the
/// language of the thread it answers.
#[tokio::test]
async fn a_request_filed_by_a_reply_keeps_its_threads_language() {
    let app = TestApp::spawn().await;
    let from = "thread@example.net";
    ingest_raw(
        &app.services,
        &mail_from(from, "Content-Language: de\r\n", "delete"),
    )
    .await
    .unwrap();
    let (message_id, reply_token): (String, Option<String>) = sqlx::query_as(
        "SELECT message_id, reply_token FROM outbox WHERE template = 'confirm_by_reply' AND recipient = ?",
    )
    .bind(from)
    .fetch_one(app.services.pool())
    .await
    .unwrap();
    let to = match reply_token {
        Some(token) => format!("privacy+{token}@example.org"),
        None => "privacy@example.org".into(),
    };
    let reply = format!(
        "From: {from}\r\nTo: {to}\r\nSubject: Re: request\r\nMessage-ID: <thread-reply@example.net>\r\n\
         In-Reply-To: {message_id}\r\nReferences: {message_id}\r\nContent-Type: text/plain; charset=utf-8\r\n\r\nstop\r\n"
    );
    ingest_raw(&app.services, reply.as_bytes()).await.unwrap();
    let languages: Vec<(String, String)> =
        sqlx::query_as("SELECT kind, language FROM requests ORDER BY id")
            .fetch_all(app.services.pool())
            .await
            .unwrap();
    assert_eq!(
        languages,
        vec![
            ("deletion".to_owned(), "de".to_owned()),
            ("opt_out".to_owned(), "de".to_owned())
        ]
    );
}

/// Words only an English message holds.
const ENGLISH_WORDS: &[&str] = &[
    " the ",
    " your ",
    " you ",
    " we ",
    " request ",
    " and ",
    "Thank",
    "Nothing",
];

/// Every answer a member reads on Discord (the notice, refusals of commands, of codes and of
/// addresses, status, the deletion's buttons) and the DM receipt with its introduction are
/// in the member's language, whole; `/privacy language:` then answers them in the one they
/// chose, over their client's, about their open request too.
#[tokio::test(flavor = "multi_thread")]
async fn every_answer_a_member_reads_is_in_their_language_whole() {
    let (fake, _dir, bot) = connected().await;
    for (user, locale, language) in &MEMBERS[..4] {
        let user = user + 1_000;
        fake.set_locale(user, locale);
        let mut seen = Vec::new();
        for (name, options) in [
            ("privacy", json!([])),
            ("status", json!([])),
            ("confirm", json!([])),
            ("optout", json!([])),
            ("status", json!([])),
            ("cancel", json!([])),
            (
                "verify",
                json!([{"name": "code", "type": 3, "value": "12"}]),
            ),
            (
                "optin",
                json!([{"name": "email", "type": 3, "value": "nope"}]),
            ),
        ] {
            let (_, answer) = run(&fake, user, &[], name, options).await;
            assert!(!answer.is_empty(), "{locale} /{name}");
            seen.push((name.to_owned(), answer));
        }
        let i = fake.command(0, user, &[], "delete", json!([]));
        let delete = fake.answer(&i).await;
        let labels: Vec<String> = delete.message["components"][0]["components"]
            .as_array()
            .unwrap()
            .iter()
            .map(|b| b["label"].as_str().unwrap().to_owned())
            .collect();
        assert_eq!(labels.len(), 2, "{locale}");
        assert!(
            !labels.contains(&"Cancel".to_owned()),
            "{locale}: {labels:?}"
        );
        seen.push(("delete".into(), delete.text.clone()));
        seen.push(("delete's buttons".into(), labels.join(" | ")));
        let dms = crate::discord_wire::dm_holding(&fake, user, "dsr-bot receipt v1", 10).await;
        let receipt = dms[0]["content"].as_str().unwrap().to_owned();
        seen.push(("the DM receipt".into(), receipt));
        for (name, text) in &seen {
            for word in ENGLISH_WORDS {
                assert!(
                    !text.contains(word),
                    "{locale} {name} has English {word:?}:\n{text}"
                );
            }
        }
        // The notice names its version and language.
        assert!(
            seen[0].1.contains(&format!("({language})")),
            "{}",
            seen[0].1
        );

        // Chosen on /privacy: French, over a client in another language.
        let choose = json!([{"name": "language", "type": 4, "value": 2}]);
        let (_, chosen) = run(&fake, user, &[], "privacy", choose).await;
        assert!(chosen.contains("en français"), "{chosen}");
        let (_, status) = run(&fake, user, &[], "status", json!([])).await;
        let french = Labels::of(Language::Fr).kind(RequestKind::Deletion);
        assert!(status.contains(french), "{locale}: {status}");
        let kept: Vec<String> = sqlx::query_scalar(
            "SELECT r.language FROM requests r JOIN identities i ON i.person_id = r.person_id
             WHERE i.kind = 'discord' AND i.value = ? AND r.state IN ('awaiting_confirmation', 'confirmed')",
        )
        .bind(user.to_string())
        .fetch_all(&bot.db().await)
        .await
        .unwrap();
        assert!(
            !kept.is_empty() && kept.iter().all(|l| l == "fr"),
            "{kept:?}"
        );
    }
    bot.stop();
}

/// Someone who wrote by mail in German is answered in German, the whole answer mail; a line
/// `langue : français` in a reply answers them in French from then on, about their open
/// request too.
#[tokio::test]
async fn a_mail_answer_is_in_the_persons_language_and_a_reply_can_choose_another() {
    let app = TestApp::spawn().await;
    let from = "wahl@example.net";
    ingest_raw(
        &app.services,
        &mail_from(from, "Content-Language: de\r\n", "delete"),
    )
    .await
    .unwrap();
    let reply_to = |template: &'static str| {
        let pool = app.services.pool().clone();
        async move {
            let (message_id, token): (String, Option<String>) = sqlx::query_as(
                "SELECT message_id, reply_token FROM outbox WHERE template = ? AND recipient = ?
                 ORDER BY id DESC LIMIT 1",
            )
            .bind(template)
            .bind(from)
            .fetch_one(&pool)
            .await
            .unwrap();
            (message_id, token.unwrap())
        }
    };
    let send = |n: u32, message_id: String, token: String, body: &'static str| {
        format!(
            "From: {from}\r\nTo: privacy+{token}@example.org\r\nSubject: Re: Anfrage\r\nMessage-ID: <choice-{n}@example.net>\r\n\
             In-Reply-To: {message_id}\r\nReferences: {message_id}\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n{body}\r\n"
        )
    };
    // A yes, answered in German.
    let (id, token) = reply_to("confirm_by_reply").await;
    ingest_raw(&app.services, send(1, id, token, "bestätigen").as_bytes())
        .await
        .unwrap();
    let (subject, body): (String, String) = sqlx::query_as(
        "SELECT subject, body_text FROM outbox WHERE template = 'reply' ORDER BY id DESC LIMIT 1",
    )
    .fetch_one(app.services.pool())
    .await
    .unwrap();
    assert!(subject.contains("Datenschutzteam"), "{subject}");
    for word in ENGLISH_WORDS {
        assert!(!body.contains(word), "English {word:?} in:\n{body}");
    }
    // The language chosen in a reply.
    let (id, token) = reply_to("reply").await;
    ingest_raw(
        &app.services,
        send(2, id, token, "langue : français").as_bytes(),
    )
    .await
    .unwrap();
    let body: String = sqlx::query_scalar(
        "SELECT body_text FROM outbox WHERE template = 'reply' ORDER BY id DESC LIMIT 1",
    )
    .fetch_one(app.services.pool())
    .await
    .unwrap();
    assert!(body.contains("en français"), "{body}");
    let (chosen, request): (Option<String>, String) = sqlx::query_as(
        "SELECT p.language, r.language FROM requests r JOIN people p ON p.id = r.person_id",
    )
    .fetch_one(app.services.pool())
    .await
    .unwrap();
    assert_eq!((chosen.as_deref(), request.as_str()), (Some("fr"), "fr"));
}

/// Words of the English report, digest and chart that a translated one must not hold (the
/// commands it names, the organisation's and the policy's names are no language's).
const REPORT_ENGLISH: &[&str] = &[
    " the ",
    " of ",
    " and ",
    "Opt-out",
    "opt-out",
    "Opt-in",
    "month",
    "Overdue",
    "deadline",
    "Deletions",
    "never",
    "Earlier",
    "Due within",
];

/// The text a reader sees in an HTML page: without its style sheet (whose comments are for
/// whoever edits it) and its tags, with the entities the escaping wrote turned back.
fn visible(html: &str) -> String {
    let without_style = match (html.find("<style>"), html.find("</style>")) {
        (Some(a), Some(b)) => format!("{}{}", &html[..a], &html[b..]),
        _ => html.to_owned(),
    };
    let mut out = String::new();
    let mut in_tag = false;
    for c in without_style.chars() {
        match c {
            '<' => in_tag = true,
            '>' => {
                in_tag = false;
                out.push(' ');
            }
            c if !in_tag => out.push(c),
            _ => {}
        }
    }
    [
        ("&#x2f;", "/"),
        ("&#x27;", "'"),
        ("&quot;", "\""),
        ("&lt;", "<"),
        ("&gt;", ">"),
        ("&amp;", "&"),
    ]
    .iter()
    .fold(out, |text, (entity, c)| text.replace(entity, c))
}

fn no_english(what: &str, language: Language, text: &str) {
    for word in REPORT_ENGLISH {
        assert!(
            !text.contains(word),
            "{language} {what} has English {word:?}:\n{text}"
        );
    }
}

/// Officers read in `REPORT_LANGUAGE`, whatever the members speak: the monthly report (Markdown,
/// HTML and its chart, and the mail's subject), the weekly digest mail and post, with numbers,
/// shares, months and times as that language writes them; CSV and JSON stay the same for
/// programs in every language.
#[tokio::test]
async fn reports_and_digests_are_in_the_report_language_with_its_numbers_and_dates() {
    use dsr_bot::reports::render::Format;
    // Members decide in October; the report of October and Monday's digest come on 3 November.
    for (language, month_name, rate, made) in [
        (
            Language::De,
            "Oktober 2025",
            "66,7\u{a0}%",
            "03.11.2025, 09:00 UTC",
        ),
        (
            Language::Fr,
            "octobre 2025",
            "66,7\u{202f}%",
            "03/11/2025 09:00 UTC",
        ),
        (
            Language::Es,
            "octubre de 2025",
            "66,7\u{a0}%",
            "03/11/2025, 09:00 UTC",
        ),
        (
            Language::PtBr,
            "outubro de 2025",
            "66,7%",
            "03/11/2025 09:00 UTC",
        ),
    ] {
        let app = TestApp::spawn_with(crate::common::at("2025-10-15T12:00:00Z"), |c| {
            c.report_language = language;
            c.privacy_officers =
                vec![dsr_bot::domain::EmailAddress::parse("dpo@example.org").unwrap()];
        })
        .await;
        for (who, kind) in [
            ("ana", RequestKind::OptOut),
            ("bea", RequestKind::OptOut),
            ("cem", RequestKind::OptIn),
        ] {
            app.file(&crate::common::console(who), kind).await;
        }
        // Still open at the digest: a deletion nobody has completed.
        app.file(&crate::common::console("dan"), RequestKind::Deletion)
            .await;
        app.clock.set(crate::common::at("2025-11-03T09:00:00Z"));

        let reports = app.services.reports();
        let report = reports.month(None).await.unwrap();
        let md = reports.render(&report, Format::Md).unwrap();
        assert!(md.contains(month_name), "{language}: {md}");
        assert!(md.contains(rate), "{language} rate {rate:?}: {md}");
        assert!(md.contains(made), "{language} made {made:?}: {md}");
        no_english("report (Markdown)", language, &md);
        let html = reports.render(&report, Format::Html).unwrap();
        assert!(
            html.contains(&format!("<html lang=\"{language}\">")),
            "{language}"
        );
        let shown = visible(&html);
        for part in [month_name, rate, made] {
            assert!(
                shown.contains(part),
                "{language} HTML lacks {part:?}:\n{shown}"
            );
        }
        // The chart's legend and axes are in the language too.
        assert!(html.contains("<svg"), "{language}: the chart is drawn");
        no_english("report (HTML)", language, &visible(&html));

        // For programs: the same whatever the language.
        let json = reports.render(&report, Format::Json).unwrap();
        assert!(
            json.contains("\"generated\": \"2025-11-03 09:00 UTC\""),
            "{json}"
        );
        assert!(json.contains("\"month\": \"2025-10\""), "{json}");
        let csv = reports.render(&report, Format::Csv).unwrap();
        assert!(csv.starts_with("month,opt_outs,opt_ins"), "{csv}");
        assert!(!csv.contains(rate), "{csv}");

        assert!(
            reports
                .mail(report.figures.month.parse().unwrap(), &report)
                .await
                .unwrap()
        );
        let (subject, body): (String, String) = sqlx::query_as(
            "SELECT subject, body_text FROM outbox WHERE template = 'monthly_report'",
        )
        .fetch_one(app.services.pool())
        .await
        .unwrap();
        assert!(subject.contains(month_name), "{language}: {subject}");
        no_english("report mail subject", language, &subject);
        assert!(body.contains(rate), "{language}: {body}");

        let week = app
            .services
            .routines()
            .digest_week()
            .expect("Monday's digest is due");
        assert!(app.services.routines().mail_digest(&week).await.unwrap());
        let (subject, digest): (String, String) =
            sqlx::query_as("SELECT subject, body_text FROM outbox WHERE template = 'digest'")
                .fetch_one(app.services.pool())
                .await
                .unwrap();
        assert!(
            subject.starts_with(&subject_start(language.code(), "digest")),
            "{language}: {subject}"
        );
        // The text part is wrapped for mail readers: a date may break at its space.
        let flowed = digest.split_whitespace().collect::<Vec<_>>().join(" ");
        assert!(flowed.contains(made), "{language} as of {made:?}: {digest}");
        no_english("digest mail", language, &format!("{subject}\n{digest}"));
        let post = app
            .services
            .routines()
            .claim_digest_post(&week)
            .await
            .unwrap()
            .unwrap();
        assert!(post.contains(made), "{language}: {post}");
        no_english("digest post", language, &post);
    }
}
