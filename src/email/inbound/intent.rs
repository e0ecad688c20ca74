//! What the person asked for in their own words, read the way they meant it: a command is
//! what their text begins with (after a greeting), not a word somewhere in it.
//!
//! The first line of the person's own text decides. It counts when it is a command and
//! nothing else but polite filler ("Please opt me out", "Yes, that was me", "Delete my data,
//! thanks"). A command word that begins a sentence about something else ("Stop by our booth",
//! "No worries, I'll do it tonight", "Yes, but what about my posts?") is no command, and
//! neither is a line holding a link, an address or a phone number (signatures). What is unclear
//! changes nothing; the person is told which words work.

use serde::Serialize;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Word {
    Confirm,
    Cancel,
    OptOut,
    OptIn,
    Delete,
    Status,
}

/// Commands, longest first, so "opt out" wins over "out" and "delete my data" over "delete".
/// Phrases of several words say what they mean; after them any words may follow ("opt out
/// of AI training"). After a one-word command only filler may.
const PHRASES: &[(&str, Word)] = &[
    ("erase my data", Word::Delete),
    ("delete my data", Word::Delete),
    ("remove my data", Word::Delete),
    ("delete my account", Word::Delete),
    ("delete all my data", Word::Delete),
    ("this was not me", Word::Cancel),
    ("that was not me", Word::Cancel),
    ("it was not me", Word::Cancel),
    ("this wasn t me", Word::Cancel),
    ("that wasn t me", Word::Cancel),
    ("it wasn t me", Word::Cancel),
    ("i did not ask for this", Word::Cancel),
    ("i didn t ask for this", Word::Cancel),
    ("opt me out", Word::OptOut),
    ("opt me in", Word::OptIn),
    ("opt out", Word::OptOut),
    ("opt in", Word::OptIn),
    ("i confirm", Word::Confirm),
    ("that was me", Word::Confirm),
    ("it was me", Word::Confirm),
    ("not me", Word::Cancel),
    ("optout", Word::OptOut),
    ("optin", Word::OptIn),
    ("unsubscribe", Word::OptOut),
    ("stop", Word::OptOut),
    ("confirmed", Word::Confirm),
    ("confirm", Word::Confirm),
    ("yes", Word::Confirm),
    ("cancel", Word::Cancel),
    ("no", Word::Cancel),
    ("delete", Word::Delete),
    ("erase", Word::Delete),
    ("status", Word::Status),
];

/// What may stand around a one-word command without changing what it means.
const FILLER: &[&str] = &[
    "please",
    "pls",
    "thanks",
    "thank",
    "you",
    "thx",
    "ty",
    "me",
    "my",
    "data",
    "account",
    "it",
    "this",
    "that",
    "was",
    "is",
    "correct",
    "indeed",
    "sure",
    "ok",
    "okay",
    "of",
    "course",
    "go",
    "ahead",
    "from",
    "all",
    "everything",
    "now",
    "again",
    "for",
    "the",
    "request",
    "too",
    "also",
    "and",
    "right",
    "away",
    "asap",
    "i",
    "confirm",
    "do",
    "did",
    "not",
    "ask",
    "want",
    "to",
    "proceed",
    "still",
    "so",
    "much",
    "very",
    "a",
    "lot",
    "yes",
    "no",
    "cancel",
    "delete",
    "emails",
    "list",
    "mailing",
    "details",
];

const POLITE_PREFIXES: &[&str] = &[
    "please ",
    "kindly ",
    "i want to ",
    "i would like to ",
    "i d like to ",
    "i wish to ",
    "can you ",
    "could you ",
    "can you please ",
    "could you please ",
];

const GREETINGS: &[&str] = &[
    "hi",
    "hello",
    "hey",
    "dear",
    "good morning",
    "good afternoon",
    "good evening",
    "to whom it may concern",
    "hallo",
    "guten tag",
    "bonjour",
    "hola",
    "ciao",
    "hoi",
    "dzień dobry",
    "witam",
];

/// The instruction the person's own text begins with, if it is one.
pub fn read(own_text: &str) -> Option<Word> {
    let line = own_text
        .lines()
        .map(strip_greeting)
        .find(|l| !normalise(l).is_empty())?;
    read_line(line)
}

/// A line with the greeting in front taken off ("Hi team, please opt me out" reads as
/// "please opt me out"; "Dear privacy team," as nothing).
fn strip_greeting(line: &str) -> &str {
    let trimmed = line.trim();
    let lower = normalise(trimmed);
    let greeted = GREETINGS
        .iter()
        .any(|g| lower == *g || lower.starts_with(&format!("{g} ")));
    if !greeted {
        return trimmed;
    }
    match trimmed.find([',', '!', ':', '—', '-']) {
        Some(at) => trimmed[at + 1..].trim_start_matches([',', '!', ':', ' ']),
        // "Hello team" on a line of its own, a short one: all greeting.
        None if lower.split(' ').count() <= 4 => "",
        None => trimmed,
    }
}

fn read_line(raw: &str) -> Option<Word> {
    if holds_contact(raw) {
        return None;
    }
    let full = normalise(raw);
    let mut l = full.as_str();
    for p in POLITE_PREFIXES {
        if let Some(rest) = l.strip_prefix(p) {
            l = rest;
        }
    }
    let (phrase, word) = PHRASES
        .iter()
        .find(|(phrase, _)| l == *phrase || l.starts_with(&format!("{phrase} ")))?;
    let rest: Vec<&str> = l[phrase.len()..].split_whitespace().collect();
    let several_words = phrase.contains(' ');
    let only_filler = rest.iter().all(|w| FILLER.contains(w));
    (several_words && rest.len() <= 8 || only_filler).then_some(*word)
}

/// A link, an address or a phone number: what signature lines are made of.
fn holds_contact(raw: &str) -> bool {
    let lower = raw.to_lowercase();
    lower.contains("http://")
        || lower.contains("https://")
        || lower.contains("www.")
        || lower.contains('@')
        || raw.chars().filter(char::is_ascii_digit).count() >= 7
}

fn normalise(line: &str) -> String {
    line.to_lowercase()
        .chars()
        .map(|c| if c.is_alphanumeric() { c } else { ' ' })
        .collect::<String>()
        .split_whitespace()
        .collect::<Vec<_>>()
        .join(" ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_the_plain_words_people_use() {
        let cases = [
            ("Confirm", Word::Confirm),
            ("YES!", Word::Confirm),
            ("yes, that was me", Word::Confirm),
            ("Yes please.", Word::Confirm),
            ("No", Word::Cancel),
            ("No thanks", Word::Cancel),
            ("This was not me!", Word::Cancel),
            ("Not me.", Word::Cancel),
            ("cancel please", Word::Cancel),
            ("Opt-out", Word::OptOut),
            ("STOP", Word::OptOut),
            ("Unsubscribe", Word::OptOut),
            ("opt in", Word::OptIn),
            ("Please opt me out of AI training.", Word::OptOut),
            ("Please erase my data.", Word::Delete),
            ("Delete my data", Word::Delete),
            ("status?", Word::Status),
            ("Hi,\n\nI would like to opt out.\n\nThanks", Word::OptOut),
            ("Hi team, please delete my data", Word::Delete),
        ];
        for (text, word) in cases {
            assert_eq!(read(text), Some(word), "{text:?}");
        }
    }

    #[test]
    fn finds_no_instruction_in_ordinary_sentences() {
        for text in [
            "",
            "Thanks for the info",
            "Thanks, got it.",
            "I do not want to opt out",
            "Who are you and why do you have my address? Please explain what this is about",
            "Hello\n\nWhat is this?",
            "No worries, I'll do it tonight.",
            "No problem",
            "Yes, but what happens to my forum posts?",
            "Stop by our booth at FOSDEM!",
            "Unsubscribe from Acme news: https://acme.example/u",
            "Status page: https://status.example.com",
            "Will this also remove my forum posts?\nYes, we're hiring!",
        ] {
            assert_eq!(read(text), None, "{text:?}");
        }
    }
}
