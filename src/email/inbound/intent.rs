//! The plain words people use in an email, read from the new text only.

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

/// Longest phrases first, so "opt out" wins over "out" and "delete my data" over "delete".
const PHRASES: &[(&str, Word)] = &[
    ("erase my data", Word::Delete),
    ("delete my data", Word::Delete),
    ("remove my data", Word::Delete),
    ("delete my account", Word::Delete),
    ("this was not me", Word::Cancel),
    ("that was not me", Word::Cancel),
    ("it was not me", Word::Cancel),
    ("this wasn t me", Word::Cancel),
    ("that wasn t me", Word::Cancel),
    ("it wasn t me", Word::Cancel),
    ("i did not ask for this", Word::Cancel),
    ("i didn t ask for this", Word::Cancel),
    ("not me", Word::Cancel),
    ("opt out", Word::OptOut),
    ("opt in", Word::OptIn),
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

const POLITE_PREFIXES: &[&str] = &[
    "please ",
    "i want to ",
    "i would like to ",
    "i d like to ",
    "kindly ",
];
const GREETINGS: &[&str] = &[
    "hi",
    "hello",
    "hey",
    "dear",
    "good morning",
    "good afternoon",
    "good evening",
    "to whom",
];

/// The instruction at the start of the new text, if there is exactly one reading of it.
/// Greeting lines are skipped; only the first three other lines are looked at, and a phrase
/// counts only at the start of a short line, so "I do not want to opt out" is no instruction.
pub fn read(new_text: &str) -> Option<Word> {
    new_text
        .lines()
        .map(normalise)
        .filter(|l| !l.is_empty())
        .filter(|l| {
            !GREETINGS
                .iter()
                .any(|g| l == g || l.starts_with(&format!("{g} ")))
        })
        .take(3)
        .find_map(|line| read_line(&line))
}

fn read_line(line: &str) -> Option<Word> {
    let mut l = line;
    for p in POLITE_PREFIXES {
        if let Some(rest) = l.strip_prefix(p) {
            l = rest;
        }
    }
    if l.split_whitespace().count() > 8 {
        return None;
    }
    PHRASES
        .iter()
        .find(|(phrase, _)| l == *phrase || l.starts_with(&format!("{phrase} ")))
        .map(|(_, w)| *w)
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
            ("No", Word::Cancel),
            ("This was not me!", Word::Cancel),
            ("Not me.", Word::Cancel),
            ("cancel please", Word::Cancel),
            ("Opt-out", Word::OptOut),
            ("STOP", Word::OptOut),
            ("Unsubscribe", Word::OptOut),
            ("opt in", Word::OptIn),
            ("Please erase my data.", Word::Delete),
            ("Delete my data", Word::Delete),
            ("status?", Word::Status),
            ("Hi,\n\nI would like to opt out.\n\nThanks", Word::OptOut),
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
            "I do not want to opt out",
            "Who are you and why do you have my address? Please explain what this is about",
            "Hello\n\nWhat is this?",
        ] {
            assert_eq!(read(text), None, "{text:?}");
        }
    }
}
