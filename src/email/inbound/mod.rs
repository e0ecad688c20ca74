//! Inbound mail: parsed with mail-parser into what the services need, with automatic mail
//! recognised and quoted history stripped. Nothing here decides what to do.

pub mod anchor;
pub mod intent;
pub mod quote;
pub mod words;

use mail_parser::{Addr, HeaderValue, MessageParser, PartType};
use sha2::{Digest, Sha256};

use crate::{
    config::InboundConfig,
    domain::{EmailAddress, Language},
};

/// A message ready for the services.
#[derive(Debug, Clone)]
pub struct InboundMail {
    /// Takes effect once per key: the Message-ID, or a hash of the raw message without one.
    pub key: String,
    pub message_id: Option<String>,
    pub from: EmailAddress,
    /// Tokens found in plus-addressed recipients (`privacy+TOKEN@...`).
    pub tokens: Vec<String>,
    /// In-Reply-To and References, each as `<id>`.
    pub references: Vec<String>,
    /// Why this is automatic mail (auto-reply, bounce, list, our own), if it is.
    pub automatic: Option<&'static str>,
    /// The whole text of the message (an HTML-only one converted to text), quotes and all:
    /// read against the mail it answers once that is known ([`anchor::own_text`]).
    pub body: String,
    /// What the person wrote as far as quote marks and headers tell, for mail whose original
    /// we do not hold: without quotes, forwards or signature.
    pub new_text: String,
    pub subject: String,
    /// The language the message says it is in (`Content-Language`), or the one its own text
    /// is written in, when the bot writes it.
    pub language: Option<Language>,
}

/// A message that cannot be read; it is kept for a person to look at.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Unreadable {
    pub key: String,
    pub reason: String,
}

/// Headers longer than this are not looked into.
const MAX_HEADER_BYTES: usize = 64 * 1024;

/// The header block of a raw message: everything before the first empty line (at most
/// 64 KiB), which is what is kept of a message too large to read.
pub fn header_block(raw: &[u8]) -> &[u8] {
    let head = &raw[..raw.len().min(MAX_HEADER_BYTES)];
    let end = head
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .map(|p| p + 4)
        .or_else(|| head.windows(2).position(|w| w == b"\n\n").map(|p| p + 2))
        .unwrap_or(head.len());
    &head[..end]
}

/// The From address of a message, read from its headers alone, when it has a usable one.
pub fn sender_of(raw: &[u8]) -> Option<EmailAddress> {
    MessageParser::default()
        .parse_headers(header_block(raw))?
        .from()?
        .first()?
        .address()
        .and_then(|a| EmailAddress::parse(a).ok())
}

pub fn parse(
    raw: &[u8],
    cfg: &InboundConfig,
    own: &[&EmailAddress],
) -> Result<InboundMail, Unreadable> {
    let digest_key = || format!("sha256:{}", hex::encode(Sha256::digest(raw)));
    if raw.len() > cfg.max_message_bytes {
        return Err(Unreadable {
            key: digest_key(),
            reason: format!(
                "larger than MAX_INBOUND_BYTES ({} > {} bytes)",
                raw.len(),
                cfg.max_message_bytes
            ),
        });
    }
    let Some(msg) = MessageParser::default().parse(raw) else {
        return Err(Unreadable {
            key: digest_key(),
            reason: "not a parseable RFC 5322 message".into(),
        });
    };
    let message_id = msg.message_id().and_then(clean_id);
    let key = message_id.clone().unwrap_or_else(digest_key);
    let Some(from) = msg
        .from()
        .and_then(|a| a.first())
        .and_then(Addr::address)
        .and_then(|a| EmailAddress::parse(a).ok())
    else {
        // Keyed by its content: a Message-ID anyone can copy must not let this message stand
        // in for a later, readable one.
        return Err(Unreadable {
            key: digest_key(),
            reason: "no usable From address".into(),
        });
    };

    let mut recipients: Vec<String> = Vec::new();
    for list in [msg.to(), msg.cc()].into_iter().flatten() {
        recipients.extend(list.iter().filter_map(Addr::address).map(str::to_owned));
    }
    for h in ["Delivered-To", "X-Original-To", "Envelope-To"] {
        if let Some(v) = msg.header_raw(h) {
            recipients.push(v.trim().trim_matches(['<', '>']).to_owned());
        }
    }
    let tokens = recipients
        .iter()
        .filter_map(|r| token_in(r, &cfg.reply_address))
        .collect();

    let mut references = Vec::new();
    for v in [msg.in_reply_to(), msg.references()] {
        for id in ids(v).iter().filter_map(|id| clean_id(id)) {
            if !references.contains(&id) {
                references.push(id);
            }
        }
    }

    let (body, new_text) = match msg.text_part(0).map(|p| &p.body) {
        Some(PartType::Text(t)) => (quote::unwrap(t), quote::strip_quoted(t)),
        _ => match msg.body_html(0) {
            Some(html) => (
                html_to_text(&html),
                quote::strip_quoted(&html_to_text(&quote::strip_quoted_html(&html))),
            ),
            None => (String::new(), String::new()),
        },
    };
    let subject = msg.subject().unwrap_or_default().to_owned();
    let automatic = automatic_reason(&msg, &from, own)
        .or_else(|| machine_text(&subject, &new_text))
        .or_else(|| reaction_part(&msg));
    Ok(InboundMail {
        key,
        message_id,
        from,
        tokens,
        references,
        automatic,
        body,
        language: msg
            .header_raw("Content-Language")
            .and_then(Language::from_list)
            .or_else(|| intent::language_of(&new_text)),
        new_text,
        subject,
    })
}

/// The text of an HTML body, with a line break wherever a block starts or ends (a `<div>`
/// ends a line in every client; the converter alone runs them together).
pub fn html_to_text(html: &str) -> String {
    let mut spaced = String::with_capacity(html.len() + 64);
    let lower = html.to_ascii_lowercase();
    let mut last = 0;
    for (at, _) in lower.match_indices('<') {
        let tag = &lower[at + 1..];
        let block = [
            "div",
            "/div",
            "hr",
            "blockquote",
            "/blockquote",
            "tr",
            "li",
            "table",
            "/table",
        ]
        .iter()
        .any(|t| {
            tag.starts_with(t)
                && tag[t.len()..]
                    .starts_with(|c: char| c == '>' || c == '/' || c.is_ascii_whitespace())
        });
        if block {
            spaced.push_str(&html[last..at]);
            spaced.push_str("<br>");
            last = at;
        }
    }
    spaced.push_str(&html[last..]);
    mail_parser::decoders::html::html_to_text(&spaced)
}

/// A Message-ID as `<id>`, or none when it could carry anything into a header of ours.
fn clean_id(id: &str) -> Option<String> {
    let bare = id.trim().trim_matches(['<', '>']);
    let ok = !bare.is_empty()
        && bare.len() <= 250
        && bare.bytes().all(|b| {
            (0x21..=0x7e).contains(&b) && b != b'<' && b != b'>' && b != b'"' && b != b'\\'
        });
    ok.then(|| format!("<{bare}>"))
}

fn ids(v: &HeaderValue<'_>) -> Vec<String> {
    match v {
        HeaderValue::Text(t) => vec![t.to_string()],
        HeaderValue::TextList(l) => l.iter().map(|t| t.to_string()).collect(),
        _ => Vec::new(),
    }
}

/// `privacy+TOKEN@example.org` for reply address `privacy@example.org` gives `TOKEN`.
fn token_in(recipient: &str, reply: &EmailAddress) -> Option<String> {
    let (local, domain) = recipient.rsplit_once('@')?;
    let (base, tag) = local.split_once('+')?;
    let (rlocal, rdomain) = reply.as_str().split_once('@')?;
    let ok = base.eq_ignore_ascii_case(rlocal)
        && domain.eq_ignore_ascii_case(rdomain)
        && (16..=64).contains(&tag.len())
        && tag.bytes().all(|b| b.is_ascii_alphanumeric());
    ok.then(|| tag.to_ascii_lowercase())
}

fn automatic_reason(
    msg: &mail_parser::Message<'_>,
    from: &EmailAddress,
    own: &[&EmailAddress],
) -> Option<&'static str> {
    let raw = |h: &str| msg.header_raw(h).map(|v| v.trim().to_ascii_lowercase());
    if raw("Auto-Submitted").is_some_and(|v| !v.starts_with("no")) {
        return Some("Auto-Submitted");
    }
    if raw("Precedence").is_some_and(|v| {
        ["bulk", "list", "junk", "auto_reply"]
            .iter()
            .any(|p| v.starts_with(p))
    }) {
        return Some("Precedence bulk/list/junk");
    }
    if raw("Return-Path").is_some_and(|v| v == "<>" || v.is_empty()) {
        return Some("bounce (empty Return-Path)");
    }
    if raw("Content-Type").is_some_and(|v| v.starts_with("multipart/report")) {
        return Some("delivery or disposition report");
    }
    if [
        "X-Autoreply",
        "X-Autorespond",
        "X-Auto-Response-Suppress",
        "List-Id",
        "List-Unsubscribe",
    ]
    .iter()
    .any(|h| raw(h).is_some())
    {
        return Some("auto-responder or list header");
    }
    // Help desks acknowledge every message with a ticket of their own.
    const HELP_DESKS: &[&str] = &[
        "x-zendesk-",
        "x-freshdesk-",
        "x-helpscout-",
        "x-kayako-",
        "x-otrs-",
        "x-rt-ticket",
        "x-jira-",
        "x-servicenow-",
        "x-ticket-id",
    ];
    // Challenge-response filters ask the sender to prove they are a person.
    const CHALLENGES: &[&str] = &["x-challenge", "x-spamarrest", "x-boxbe", "x-tmda"];
    for (name, _) in msg.headers_raw() {
        let name = name.to_ascii_lowercase();
        if HELP_DESKS.iter().any(|h| name.starts_with(h)) {
            return Some("help-desk acknowledgement");
        }
        if CHALLENGES.iter().any(|h| name.starts_with(h)) {
            return Some("challenge-response request");
        }
    }
    let local = from.as_str().split('@').next().unwrap_or("");
    if ["mailer-daemon", "postmaster"].contains(&local) {
        return Some("bounce (mailer-daemon)");
    }
    let base = |a: &str| {
        let (l, d) = a.split_once('@').unwrap_or((a, ""));
        format!("{}@{d}", l.split('+').next().unwrap_or(l))
    };
    if own.iter().any(|o| base(o.as_str()) == base(from.as_str())) {
        return Some("our own message");
    }
    None
}

/// Machine mail told by its words when its headers do not say so: an out-of-office note, a
/// challenge-response request, a reaction (only emoji, or a "reacted to your message" line).
fn machine_text(subject: &str, text: &str) -> Option<&'static str> {
    let subject = subject.to_lowercase();
    let lower = text.to_lowercase();
    const AWAY_SUBJECTS: &[&str] = &[
        "out of office",
        "out of the office",
        "automatic reply",
        "auto reply",
        "autoreply",
        "auto-reply",
        "abwesenheit",
        "automatische antwort",
        "réponse automatique",
        "absence",
        "respuesta automática",
        "fuera de la oficina",
        "resposta automática",
        "risposta automatica",
        "fuori ufficio",
        "afwezig",
        "automatisch antwoord",
        "自動返信",
        "自動応答",
        "不在",
        "自动回复",
    ];
    const AWAY_TEXTS: &[&str] = &[
        "i am out of the office",
        "i'm out of the office",
        "i am out of office",
        "i am currently out of the office",
        "i am away from the office",
        "i am on leave",
        "i am on vacation",
        "i will be out of the office",
        "ich bin derzeit nicht im büro",
        "ich bin zurzeit nicht im büro",
        "je suis absent",
        "je suis actuellement absent",
        "estoy fuera de la oficina",
        "estaré fuera",
        "estou fora do escritório",
        "sono fuori ufficio",
        "不在にしております",
        "不在のため",
        "休暇を取っております",
        "我目前不在办公室",
    ];
    const CHALLENGE_TEXTS: &[&str] = &[
        "challenge-response",
        "verify that you are a human",
        "prove that you are a human",
        "confirm that you are a human",
        "to have your message delivered",
        "my spam filter requires",
        "protected by spam arrest",
        "has requested that you verify",
    ];
    const REACTIONS: &[&str] = &[
        "reacted to your message",
        "reacted with",
        "hat auf ihre nachricht reagiert",
        "a réagi à votre message",
        "reaccionó a tu mensaje",
        "reagiu à sua mensagem",
    ];
    if AWAY_SUBJECTS.iter().any(|s| subject.contains(s))
        || AWAY_TEXTS.iter().any(|t| lower.contains(t))
    {
        return Some("out-of-office note");
    }
    if CHALLENGE_TEXTS.iter().any(|t| lower.contains(t)) {
        return Some("challenge-response request");
    }
    let only_emoji = !text.trim().is_empty()
        && text.chars().all(|c| !c.is_alphanumeric() || is_emoji(c))
        && text.chars().any(is_emoji);
    if only_emoji || (lower.lines().count() <= 2 && REACTIONS.iter().any(|r| lower.contains(r))) {
        return Some("reaction");
    }
    None
}

/// Pictographs and their modifiers (the blocks emoji reactions are drawn from).
fn is_emoji(c: char) -> bool {
    matches!(c as u32, 0x1F000..=0x1FAFF | 0x2600..=0x27BF | 0xFE0F | 0x200D | 0x2B50)
}

/// Gmail sends an emoji reaction with a part of its own type.
fn reaction_part(msg: &mail_parser::Message<'_>) -> Option<&'static str> {
    use mail_parser::MimeHeaders;
    msg.parts
        .iter()
        .filter_map(|p| p.content_type())
        .any(|ct| {
            ct.c_type.eq_ignore_ascii_case("text")
                && ct
                    .c_subtype
                    .as_deref()
                    .is_some_and(|s| s.eq_ignore_ascii_case("vnd.google.email-reaction+json"))
        })
        .then_some("reaction")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::Config;

    fn cfg() -> InboundConfig {
        Config::from_lookup(|_| None).unwrap().inbound
    }

    #[test]
    fn finds_tokens_only_in_our_plus_addresses() {
        let reply = EmailAddress::parse("privacy@example.org").unwrap();
        assert_eq!(
            token_in("privacy+abcdefgh12345678@example.org", &reply).as_deref(),
            Some("abcdefgh12345678")
        );
        assert_eq!(token_in("privacy+abcdefgh12345678@other.org", &reply), None);
        assert_eq!(
            token_in("someone+abcdefgh12345678@example.org", &reply),
            None
        );
        assert_eq!(token_in("privacy+short@example.org", &reply), None);
    }

    #[test]
    fn message_ids_that_could_break_a_header_are_dropped() {
        assert_eq!(
            clean_id("abc@example.org").as_deref(),
            Some("<abc@example.org>")
        );
        assert_eq!(
            clean_id("<abc@example.org>").as_deref(),
            Some("<abc@example.org>")
        );
        assert_eq!(clean_id("a b@example.org"), None);
        assert_eq!(clean_id("a\r\nBcc: x@y.z"), None);
    }

    #[test]
    fn a_message_without_message_id_is_keyed_by_its_hash() {
        let raw =
            b"From: a@example.net\r\nTo: privacy@example.org\r\nSubject: x\r\n\r\nopt out\r\n";
        let m = parse(raw, &cfg(), &[]).unwrap();
        assert!(m.key.starts_with("sha256:"));
        assert_eq!(m.new_text, "opt out");
        assert_eq!(m.from.as_str(), "a@example.net");
    }

    #[test]
    fn oversized_or_senderless_mail_is_unreadable() {
        let mut c = cfg();
        c.max_message_bytes = 10;
        assert!(
            parse(b"From: a@example.net\r\n\r\nhello", &c, &[])
                .unwrap_err()
                .reason
                .contains("MAX_INBOUND_BYTES")
        );
        assert!(
            parse(b"Subject: x\r\n\r\nhello", &cfg(), &[])
                .unwrap_err()
                .reason
                .contains("From")
        );
    }
}
