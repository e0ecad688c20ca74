//! The record a log leaf hashes: one audit event in a fixed text form. It holds facts and a
//! keyed hash of the person, never a name, an address or a Discord id, so erasing a person
//! changes nothing a leaf depends on, and a leaf reveals nothing about whom it concerns.

use chrono::{DateTime, SecondsFormat, Utc};

/// The first line of every record; a new form gets a new number.
const FORM: &str = "dsr-bot event v1";

/// What a leaf records of one row of `request_events` and its request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EventRecord {
    pub event: i64,
    pub request: i64,
    /// `opt_out`, `opt_in`, `deletion`, `status`.
    pub kind: String,
    /// The person as a keyed hash ([`crate::crypto::Keys::person_hash`]).
    pub person: String,
    pub from: Option<String>,
    pub to: String,
    pub at: DateTime<Utc>,
    /// The request's `received_at - deadline` in microseconds, as stored.
    pub offset_us: i64,
    /// Who caused it: a channel or a role.
    pub by: String,
    pub note: Option<String>,
    /// The notice version the person was shown.
    pub notice: Option<String>,
}

/// A time in the one form records and receipts use: RFC 3339, UTC, microseconds.
pub fn instant(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(SecondsFormat::Micros, true)
}

/// A value on one line: line breaks and backslashes escaped, other control characters dropped.
pub fn one_line(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            c if c.is_control() => {}
            c => out.push(c),
        }
    }
    out
}

impl EventRecord {
    pub fn bytes(&self) -> Vec<u8> {
        let opt = |v: &Option<String>| v.as_deref().map_or("-".to_owned(), one_line);
        format!(
            "{FORM}\nevent {}\nrequest {}\nkind {}\nperson {}\nfrom {}\nto {}\nat {}\noffset {}\nby {}\nnote {}\nnotice {}\n",
            self.event,
            self.request,
            self.kind,
            self.person,
            opt(&self.from),
            self.to,
            instant(self.at),
            self.offset_us,
            one_line(&self.by),
            opt(&self.note),
            opt(&self.notice),
        )
        .into_bytes()
    }
}

/// What a leaf records of a consumer's acknowledgement (`consumer_acks`): the consumer by its
/// name (a system, not a person), the run it named, and how far it says it applied the feed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AckRecord {
    pub ack: i64,
    pub consumer: String,
    pub run: String,
    /// The feed position it applied everything up to.
    pub applied_to: i64,
    pub excluded: i64,
    pub applied_at: DateTime<Utc>,
    pub received_at: DateTime<Utc>,
}

impl AckRecord {
    pub fn bytes(&self) -> Vec<u8> {
        format!(
            "dsr-bot ack v1\nack {}\nconsumer {}\nrun {}\napplied-to {}\nexcluded {}\napplied-at {}\nreceived-at {}\n",
            self.ack,
            one_line(&self.consumer),
            one_line(&self.run),
            self.applied_to,
            self.excluded,
            instant(self.applied_at),
            instant(self.received_at),
        )
        .into_bytes()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_record_is_one_value_per_line_whatever_the_note_holds() {
        let r = EventRecord {
            event: 3,
            request: 2,
            kind: "opt_out".into(),
            person: "ab".into(),
            from: None,
            to: "confirmed".into(),
            at: DateTime::parse_from_rfc3339("2026-12-01T10:00:00.5Z")
                .unwrap()
                .with_timezone(&Utc),
            offset_us: -5,
            by: "discord".into(),
            note: Some("two\nlines \\".into()),
            notice: None,
        };
        let text = String::from_utf8(r.bytes()).unwrap();
        assert_eq!(text.lines().count(), 12, "{text}");
        assert!(text.contains("at 2026-12-01T10:00:00.500000Z\n"), "{text}");
        assert!(text.contains("note two\\nlines \\\\\n"), "{text}");
    }
}
