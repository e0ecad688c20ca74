//! Receipts: a signed note a person keeps, saying what was recorded for them and when, and
//! which log head includes it. The text is one `field value` per line:
//!
//! ```text
//! dsr-bot receipt v1
//! request 12
//! kind opt_out
//! state confirmed
//! person 5c1f0a3e9b7d2c4e8f6a1b3d5e7f9a0c
//! received 2026-11-30T12:34:56.123456Z
//! deadline 2026-12-01T00:00:00.000000Z
//! offset -40503.876544s
//! effective 2026-11-30T12:34:56.123456Z
//! policy 3f2a1b4c5d6e AI training on member chats
//! notice 9a8b…(64 hex digits)
//! event 57 leaf 56 <base64 leaf hash>
//! log example.org/dsr-bot 57 <base64 root hash>
//!
//! — example.org/dsr-bot <base64 key ID and signature>
//! ```
//!
//! Inside the service a receipt travels as a *marker* (its event's number between two
//! private-use characters) in the reply, DM or mail that carries it, and is made and signed
//! where the text leaves the service ([`seal`]), off the writer's thread. A receipt depends
//! on its event alone, and Ed25519 is deterministic, so the same receipt made twice is the
//! same text.

use crate::domain::Language;
use base64::{Engine as _, engine::general_purpose::STANDARD as B64};
use chrono::{DateTime, Utc};

use super::{
    checkpoint::{Checkpoint, parse_hash, show_hash},
    merkle::Hash,
    note::{DASH, NoteSigner},
    record::{instant, one_line},
};

/// The first line of every receipt.
pub const FORM: &str = "dsr-bot receipt v1";
const OPEN: char = '\u{E000}';
const CLOSE: char = '\u{E001}';
/// Fields in the order they are written; a line that starts with none continues the one
/// before (a mail program may have wrapped it).
const FIELDS: [&str; 12] = [
    "request",
    "kind",
    "state",
    "person",
    "received",
    "deadline",
    "offset",
    "effective",
    "policy",
    "notice",
    "event",
    "log",
];

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Receipt {
    pub request: i64,
    pub kind: String,
    pub state: String,
    pub person: String,
    pub received: DateTime<Utc>,
    pub deadline: DateTime<Utc>,
    pub offset_us: i64,
    /// From when the choice applies; `None` while it waits (or when it never will).
    pub effective: Option<DateTime<Utc>>,
    pub policy_version: String,
    pub policy: String,
    /// The notice version the person was shown when they chose.
    pub notice: Option<String>,
    pub event: i64,
    pub leaf_index: u64,
    pub leaf: Hash,
    /// The log head once the event was added: it includes the event.
    pub log: Checkpoint,
}

fn offset_text(us: i64) -> String {
    let sign = if us < 0 { "-" } else { "" };
    let a = us.unsigned_abs();
    format!("{sign}{}.{:06}s", a / 1_000_000, a % 1_000_000)
}

fn parse_offset(s: &str) -> Option<i64> {
    let s = s.strip_suffix('s')?;
    let (neg, s) = match s.strip_prefix('-') {
        Some(rest) => (true, rest),
        None => (false, s),
    };
    let (whole, frac) = s.split_once('.')?;
    if frac.len() != 6 {
        return None;
    }
    let us = whole.parse::<i64>().ok()?.checked_mul(1_000_000)? + frac.parse::<i64>().ok()?;
    Some(if neg { -us } else { us })
}

fn parse_instant(s: &str) -> Option<DateTime<Utc>> {
    DateTime::parse_from_rfc3339(s)
        .ok()
        .map(|t| t.with_timezone(&Utc))
}

impl Receipt {
    /// The note text (unsigned), ending in a newline.
    pub fn text(&self) -> String {
        let opt = |v: &Option<String>| v.clone().unwrap_or_else(|| "-".into());
        format!(
            "{FORM}\nrequest {}\nkind {}\nstate {}\nperson {}\nreceived {}\ndeadline {}\noffset {}\neffective {}\npolicy {} {}\nnotice {}\nevent {} leaf {} {}\nlog {} {} {}\n",
            self.request,
            self.kind,
            self.state,
            self.person,
            instant(self.received),
            instant(self.deadline),
            offset_text(self.offset_us),
            self.effective.map_or("-".into(), instant),
            self.policy_version,
            one_line(self.policy.trim()),
            opt(&self.notice),
            self.event,
            self.leaf_index,
            show_hash(&self.leaf),
            self.log.origin,
            self.log.size,
            show_hash(&self.log.root),
        )
    }

    /// Reads a receipt's note text.
    pub fn parse(text: &str) -> Result<Receipt, String> {
        let mut lines = text.lines();
        if lines.next() != Some(FORM) {
            return Err(format!("it does not start with \"{FORM}\""));
        }
        let mut values = Vec::new();
        for (line, field) in lines.zip(FIELDS) {
            let value = line
                .strip_prefix(field)
                .and_then(|v| v.strip_prefix(' '))
                .ok_or_else(|| format!("its line \"{field} ...\" is missing or out of place"))?;
            values.push(value);
        }
        if values.len() != FIELDS.len() || text.lines().count() != FIELDS.len() + 1 {
            return Err("it does not have the 13 lines of a receipt".into());
        }
        let bad = |field: &str| format!("its {field} line does not read");
        let (policy_version, policy) = values[8].split_once(' ').ok_or(bad("policy"))?;
        let event: Vec<&str> = values[10].split(' ').collect();
        let [event, "leaf", leaf_index, leaf] = event[..] else {
            return Err(bad("event"));
        };
        let log: Vec<&str> = values[11].split(' ').collect();
        let [origin, size, root] = log[..] else {
            return Err(bad("log"));
        };
        let optional = |v: &str| (v != "-").then(|| v.to_owned());
        Ok(Receipt {
            request: values[0].parse().map_err(|_| bad("request"))?,
            kind: values[1].to_owned(),
            state: values[2].to_owned(),
            person: values[3].to_owned(),
            received: parse_instant(values[4]).ok_or(bad("received"))?,
            deadline: parse_instant(values[5]).ok_or(bad("deadline"))?,
            offset_us: parse_offset(values[6]).ok_or(bad("offset"))?,
            effective: match values[7] {
                "-" => None,
                v => Some(parse_instant(v).ok_or(bad("effective"))?),
            },
            policy_version: policy_version.to_owned(),
            policy: policy.to_owned(),
            notice: optional(values[9]),
            event: event.parse().map_err(|_| bad("event"))?,
            leaf_index: leaf_index.parse().map_err(|_| bad("event"))?,
            leaf: parse_hash(leaf).ok_or(bad("event"))?,
            log: Checkpoint {
                origin: origin.to_owned(),
                size: size.parse().map_err(|_| bad("log"))?,
                root: parse_hash(root).ok_or(bad("log"))?,
            },
        })
    }
}

/// A line of pasted text without what quoting, code fences and mail programs add around it.
fn undecorated(line: &str) -> &str {
    let mut l = line.trim_end();
    loop {
        let before = l;
        l = l.trim_start_matches([' ', '\t', '>', '|']);
        l = l.strip_prefix("```").unwrap_or(l);
        l = l.strip_suffix("```").unwrap_or(l).trim_end();
        if l == before {
            return l;
        }
    }
}

fn is_base64(s: &str) -> bool {
    !s.is_empty()
        && s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'+' | b'/' | b'='))
}

/// Every receipt found in `pasted` (a whole mail or DM, quoted or not), rebuilt as the signed
/// note it was: lines a mail program wrapped are joined again.
pub fn find_all(pasted: &str) -> Vec<String> {
    let text = pasted.replace("\r\n", "\n").replace('\r', "\n");
    let lines: Vec<&str> = text.lines().map(undecorated).collect();
    let mut found = Vec::new();
    let mut i = 0;
    while i < lines.len() {
        if lines[i] != FORM {
            i += 1;
            continue;
        }
        let mut body: Vec<String> = vec![FORM.to_owned()];
        let mut signatures: Vec<String> = Vec::new();
        let mut j = i + 1;
        while j < lines.len() && body.len() <= FIELDS.len() + 4 {
            let l = lines[j];
            if l.starts_with(DASH.trim_end()) {
                let mut sig = l.to_owned();
                // A signature line a mail program broke: at the space after the name, or
                // inside the base64.
                while j + 1 < lines.len() {
                    let next = lines[j + 1];
                    let parts = sig.split(' ').count();
                    if parts == 2 && is_base64(next) {
                        sig = format!("{sig} {next}");
                    } else if parts == 3
                        && sig.rsplit(' ').next().is_some_and(|s| s.len() < 92)
                        && is_base64(next)
                    {
                        sig.push_str(next);
                    } else {
                        break;
                    }
                    j += 1;
                }
                signatures.push(sig);
                if !lines
                    .get(j + 1)
                    .is_some_and(|n| n.starts_with(DASH.trim_end()))
                {
                    break;
                }
            } else if l.is_empty() || l == FORM {
                if l == FORM {
                    break;
                }
            } else if FIELDS.iter().any(|f| {
                l.strip_prefix(f)
                    .is_some_and(|r| r.is_empty() || r.starts_with(' '))
            }) {
                body.push(l.to_owned());
            } else if let Some(last) = body.last_mut() {
                last.push(' ');
                last.push_str(l);
            }
            j += 1;
        }
        if !signatures.is_empty() {
            found.push(format!(
                "{}\n\n{}\n",
                body.join("\n"),
                signatures.join("\n")
            ));
        }
        i = j.max(i + 1);
    }
    found
}

/// Where the receipt of audit event `event` goes in a text, until [`seal`] puts it there
/// signed, introduced in `language` (that of the text around it): a reference, so a stored
/// DM or mail holds a few bytes, not the receipt.
pub fn marker(event: i64, language: Language) -> String {
    format!("{OPEN}{event}@{language}{CLOSE}")
}

/// A marker's event and language (English for a marker written before markers said theirs).
fn parse_marker(inner: &str) -> Option<(i64, Language)> {
    let (event, language) = match inner.split_once('@') {
        Some((event, tag)) => (event, Language::from_tag(tag)?),
        None => (inner, Language::En),
    };
    Some((event.parse().ok()?, language))
}

/// The events whose receipts `text` is waiting for, in order.
pub fn markers(text: &str) -> Vec<i64> {
    let mut out = Vec::new();
    let mut rest = text;
    while let Some(start) = rest.find(OPEN) {
        let after = &rest[start + OPEN.len_utf8()..];
        let Some(end) = after.find(CLOSE) else {
            break;
        };
        if let Some((id, _)) = parse_marker(&after[..end]) {
            out.push(id);
        }
        rest = &after[end + CLOSE.len_utf8()..];
    }
    out
}

/// How a sealed receipt is laid out where it is shown.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Style {
    /// The console and the text part of a mail.
    Plain,
    /// A Discord message: in a code block, so Markdown leaves it as it is.
    Discord,
    /// The HTML part of a mail.
    Html,
}

fn escape_html(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
        .replace('\'', "&#39;")
}

/// Whether `text` still holds a receipt to sign.
pub fn has_marker(text: &str) -> bool {
    text.contains(OPEN)
}

/// `text` with every marker replaced by its event's receipt (from `receipts`, by event)
/// signed with `signer`, introduced by `intro` (which may name `{request}`), laid out in
/// `style`. A marker whose receipt is not given is left out, and logged.
pub fn seal(
    text: &str,
    style: Style,
    signer: &NoteSigner,
    intro: impl Fn(Language) -> String,
    receipts: &[Receipt],
) -> String {
    let mut out = String::with_capacity(text.len() + 800);
    let mut rest = text;
    while let Some(start) = rest.find(OPEN) {
        out.push_str(&rest[..start]);
        let after = &rest[start + OPEN.len_utf8()..];
        let Some(end) = after.find(CLOSE) else {
            rest = after;
            break;
        };
        let marked = parse_marker(&after[..end]);
        let event = marked.map(|(e, _)| e);
        let language = marked.map_or(Language::En, |(_, l)| l);
        rest = &after[end + CLOSE.len_utf8()..];
        let Some(r) = receipts.iter().find(|r| Some(r.event) == event) else {
            tracing::error!(
                event,
                "a receipt was not found for its marker; it was left out"
            );
            continue;
        };
        let intro = intro(language).replace("{request}", &r.request.to_string());
        let note = signer.sign(&r.text());
        match style {
            Style::Plain => out.push_str(&format!("{intro}\n\n{note}")),
            Style::Discord => out.push_str(&format!("{intro}\n```\n{note}```")),
            // A block of its own wherever the template put it (also inside a paragraph).
            Style::Html => out.push_str(&format!(
                "<span style=\"display:block;margin:1em 0\">{}</span><span style=\"display:block;font-family:monospace;font-size:12px;white-space:pre-wrap;word-break:break-all\">{}</span>",
                escape_html(&intro),
                escape_html(&note)
            )),
        }
    }
    out.push_str(rest);
    out
}

/// The base64 of a signature line, for tests that alter one.
pub fn signature_bytes(note: &str) -> Option<Vec<u8>> {
    let line = note.lines().rev().find(|l| l.starts_with(DASH))?;
    B64.decode(line.rsplit(' ').next()?).ok()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::proof::note::open;

    fn sample() -> Receipt {
        let t = parse_instant("2026-11-30T12:34:56.123456Z").unwrap();
        Receipt {
            request: 12,
            kind: "opt_out".into(),
            state: "confirmed".into(),
            person: "5c1f0a3e9b7d2c4e8f6a1b3d5e7f9a0c".into(),
            received: t,
            deadline: parse_instant("2026-12-01T00:00:00Z").unwrap(),
            offset_us: -40_503_876_544,
            effective: Some(t),
            policy_version: "3f2a1b4c5d6e".into(),
            policy: "AI training on member chats".into(),
            notice: Some("ab".repeat(32)),
            event: 57,
            leaf_index: 56,
            leaf: [3; 32],
            log: Checkpoint {
                origin: "example.org/dsr-bot".into(),
                size: 57,
                root: [4; 32],
            },
        }
    }

    #[test]
    fn a_receipt_reads_back_and_is_short() {
        let r = sample();
        assert_eq!(Receipt::parse(&r.text()).unwrap(), r);
        let signer = NoteSigner::generate("example.org/dsr-bot").unwrap();
        let note = signer.sign(&r.text());
        assert!(note.len() < 700, "{} characters:\n{note}", note.len());
    }

    #[test]
    fn a_sealed_receipt_is_found_again_quoted_wrapped_or_in_a_code_block() {
        let signer = NoteSigner::generate("example.org/dsr-bot").unwrap();
        let text = format!("Done.\n\n{}\n\nThanks", marker(57, Language::De));
        assert_eq!(markers(&text), vec![57]);
        // A marker stored before markers named their language reads as English.
        assert_eq!(
            markers(&format!("{OPEN}9{CLOSE} {}", marker(10, Language::Fr))),
            vec![9, 10]
        );
        assert_eq!(parse_marker("9"), Some((9, Language::En)));
        assert_eq!(parse_marker("10@pt-BR"), Some((10, Language::PtBr)));
        let key = [signer.verifier()];
        for style in [Style::Plain, Style::Discord] {
            let sealed = seal(
                &text,
                style,
                &signer,
                |l| format!("Receipt ({l}) for #{{request}}:"),
                &[sample()],
            );
            assert!(!has_marker(&sealed));
            assert!(sealed.contains("Receipt (de) for #12:"), "{sealed}");
            let quoted: String = sealed.lines().map(|l| format!("> > {l}\r\n")).collect();
            // A mail program that wraps at 60 columns, at spaces.
            let wrapped: String = sealed
                .lines()
                .flat_map(|l| crate::domain::layout::wrap_line(l, 60))
                .map(|l| format!("> {l}\n"))
                .collect();
            for pasted in [sealed.clone(), quoted, wrapped] {
                let found = find_all(&pasted);
                assert_eq!(found.len(), 1, "{pasted}");
                let opened = open(&found[0], &key).unwrap_or_else(|e| panic!("{e}\n{pasted}"));
                assert_eq!(Receipt::parse(&opened.text).unwrap(), sample());
            }
        }
        // A marker without its receipt is left out, not shown.
        let sealed = seal(
            &marker(3, Language::En),
            Style::Plain,
            &signer,
            |_| String::new(),
            &[sample()],
        );
        assert_eq!(sealed, "");
    }

    #[test]
    fn offsets_keep_their_microseconds_and_sign() {
        for us in [0, 1, -1, 999_999, -1_000_001, 86_400_000_000] {
            assert_eq!(parse_offset(&offset_text(us)), Some(us), "{us}");
        }
    }
}
