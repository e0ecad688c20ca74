//! What the person asked for in their own words, read from the whole of their text.
//!
//! Every instruction the text gives is found, sentence by sentence and clause by clause, with
//! what surrounds it: a negation ("do not opt me in", "I don't want to delete"), a question
//! ("Confirm?" asks, it does not confirm), a retraction that takes back what came before
//! ("Confirm. Sorry, ignore that, it wasn't us."). Then one decision is made:
//!
//! - one instruction, with any polite filler, reasons and thanks around it, acts;
//! - a clear refusal ("no", "this was not me", "I never asked for this", "do not opt me in")
//!   acts as a refusal, even beside a question it answers ("Confirm? No! This was not me.");
//! - two instructions that disagree ("Yes, please cancel this"), or a negated or asked one
//!   that is not a clear refusal, change nothing: the person is told which words work;
//! - no instruction at all is nothing.
//!
//! A one-word command ("yes", "stop", "delete") counts only in a clause of its own, with
//! nothing but filler around it, so "Stop by our booth" and "No worries" are no commands; a
//! phrase that says what it means ("opt me out", "delete my data") counts where a clause
//! begins. Command words are never filler. A line with a link, an address or a phone number
//! (a signature) never acts.

use serde::Serialize;

pub use super::words::language_of;
use super::words::words;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Word {
    Confirm,
    Cancel,
    OptOut,
    OptIn,
    Delete,
    Status,
}

/// What the whole text comes to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Decision {
    /// One instruction (a clear refusal is [`Word::Cancel`]).
    Act(Word),
    /// A yes together with the choice it agrees to ("Yes, please delete my data"): a
    /// confirmation of a request of that kind, or that choice where no request is asked about.
    ConfirmWith(Word),
    /// Instructions that disagree, or a negated or asked one: nothing changes.
    Unclear,
    /// No instruction.
    Nothing,
}

/// A reading of the person's text.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Reading {
    pub decision: Decision,
    /// The request the text names by number ("confirm #12"), when it names exactly one.
    pub request: Option<i64>,
}

/// The instruction the person's text gives, if it gives exactly one (a refusal is
/// [`Word::Cancel`]); see [`read_all`] for the whole reading.
pub fn read(own_text: &str) -> Option<Word> {
    match read_all(own_text).decision {
        Decision::Act(w) | Decision::ConfirmWith(w) => Some(w),
        Decision::Unclear | Decision::Nothing => None,
    }
}

/// One instruction found in the text, with what surrounds it.
#[derive(Debug, Clone, Copy)]
struct Found {
    word: Word,
    /// Negated by a word before it, or by "not" right after it.
    negated: bool,
    /// Negated as a command is refused: "do not opt me in", "never confirm".
    refusal: bool,
    /// In a sentence that asks.
    asked: bool,
}

pub fn read_all(own_text: &str) -> Reading {
    super::words::reading(own_text, || read_in(own_text))
}

fn read_in(own_text: &str) -> Reading {
    let mut found: Vec<Found> = Vec::new();
    for line in own_text.lines() {
        if holds_contact(line) {
            continue;
        }
        let line = strip_greeting(line);
        for (sentence, asks) in sentences(line) {
            let mut in_sentence: Vec<Found> = Vec::new();
            let clauses: Vec<Vec<String>> = clauses(sentence)
                .into_iter()
                .map(|c| {
                    normalise(c)
                        .split(' ')
                        .filter(|t| !t.is_empty())
                        .map(str::to_owned)
                        .collect()
                })
                .filter(|t: &Vec<String>| !t.is_empty())
                .collect();
            for (n, clause) in clauses.iter().enumerate() {
                let tokens: Vec<&str> = clause.iter().map(String::as_str).collect();
                if retracts(&tokens, &words().retractions) {
                    found.clear();
                    in_sentence.clear();
                } else if retracts(&tokens, &words().changes_of_mind) {
                    found.clear();
                }
                if words().qualifiers.contains(&tokens[0]) && !in_sentence.is_empty() {
                    // "Yes, but ...": what came before is not said on its own.
                    for f in &mut in_sentence {
                        f.asked = true;
                    }
                }
                let here = instructions(&tokens, asks);
                // A bare "yes" or "no" followed by a statement of something else ("Yes, we're
                // hiring", "No, I'll look tomorrow") is that statement's opening, not a command.
                let bare = here.len() == 1
                    && tokens.len() <= 2
                    && tokens.iter().any(|t| words().bare.contains(t));
                let next_is_other = clauses.get(n + 1).is_some_and(|next| {
                    let next: Vec<&str> = next.iter().map(String::as_str).collect();
                    instructions(&next, asks).is_empty()
                        && !next.iter().all(|t| words().filler.contains(t))
                        && !words().polite_openings.contains(&next[0])
                        && !retracts(&next, &words().retractions)
                });
                // After another instruction a bare "no" is one more, and they disagree ("Yes,
                // no, I don't know"); a bare "yes" there only insists ("Cancel it, yes, I'm
                // sure").
                let insists = here.iter().all(|f| f.word == Word::Confirm);
                if !(bare && next_is_other && (in_sentence.is_empty() || insists)) {
                    in_sentence.extend(here);
                }
            }
            found.extend(in_sentence);
        }
    }
    Reading {
        decision: decide(&found),
        request: named_request(own_text),
    }
}

fn decide(found: &[Found]) -> Decision {
    let mut acting: Vec<Word> = Vec::new();
    let mut doubtful = false;
    for f in found {
        let word = if f.refusal && f.word != Word::Cancel && f.word != Word::Status {
            // "Do not opt me in": a no to what was asked.
            Some(Word::Cancel)
        } else if f.negated || (f.asked && f.word != Word::Status) {
            None
        } else {
            Some(f.word)
        };
        match word {
            Some(w) if !acting.contains(&w) => acting.push(w),
            Some(_) => {}
            None => doubtful = true,
        }
    }
    match acting.as_slice() {
        [] if doubtful => Decision::Unclear,
        [] => Decision::Nothing,
        // A no stands beside the question it answers ("Confirm? No!").
        [Word::Cancel] => Decision::Act(Word::Cancel),
        [_] if doubtful => Decision::Unclear,
        [w] => Decision::Act(*w),
        [Word::Confirm, w] | [w, Word::Confirm]
            if !doubtful && matches!(w, Word::OptOut | Word::OptIn | Word::Delete) =>
        {
            Decision::ConfirmWith(*w)
        }
        _ => Decision::Unclear,
    }
}

/// The instructions in one clause (its tokens, normalised).
fn instructions(tokens: &[&str], asks: bool) -> Vec<Found> {
    let mut out = Vec::new();
    // Where the clause's own words begin, after a polite lead-in.
    let start = polite_prefix_len(tokens);
    let mut i = 0;
    while i < tokens.len() {
        let Some((len, word, phrase)) = phrase_at(tokens, i) else {
            i += 1;
            continue;
        };
        let before = &tokens[..i];
        let after = &tokens[i + len..];
        let lead = &tokens[start.min(i)..i];
        let negated = before
            .iter()
            .rev()
            .take(3)
            .any(|t| words().negators.contains(t))
            || after.first() == Some(&"not");
        // Only negators (and "please") between the lead-in and the instruction: it is the
        // command the person gives, negated.
        let refusal = negated && !lead.is_empty() && lead.iter().all(|t| is_negating_lead(t));
        // What leads up to it is filler, a negation, or an agreeing word ("yes please ...").
        let led = lead.iter().all(|t| {
            is_negating_lead(t) || words().filler.contains(t) || words().agreeing.contains(t)
        });
        // A one-word command stands alone: nothing but filler after it either, unless it is
        // refused ("do not delete anything yet").
        let alone = phrase
            || refusal
            || after
                .iter()
                .all(|t| words().filler.contains(t) || *t == "not" || is_number(t));
        if led && alone {
            out.push(Found {
                word,
                negated,
                refusal,
                asked: asks,
            });
        }
        i += len;
    }
    out
}

/// A request number ("confirm #12" reads "confirm 12").
fn is_number(t: &str) -> bool {
    t.bytes().all(|b| b.is_ascii_digit())
}

fn is_negating_lead(t: &str) -> bool {
    words().negators.contains(&t) || ["do", "don", "please", "i", "we", "did", "didn"].contains(&t)
}

/// How many tokens at the start are a polite lead-in ("please", "I would like to").
fn polite_prefix_len(tokens: &[&str]) -> usize {
    let mut at = 0;
    loop {
        let rest = &tokens[at..];
        let Some(p) = words().polite_prefixes.iter().find(|p| {
            let words: Vec<&str> = p.split(' ').collect();
            rest.len() > words.len() && rest[..words.len()] == words[..]
        }) else {
            return at;
        };
        at += p.split(' ').count();
    }
}

/// The longest command phrase starting at token `i`: its length in tokens, its word, and
/// whether it is a phrase that says what it means.
fn phrase_at(tokens: &[&str], i: usize) -> Option<(usize, Word, bool)> {
    words().phrases.iter().find_map(|(phrase, word, means)| {
        let words: Vec<&str> = phrase.split(' ').collect();
        (tokens.len() >= i + words.len() && tokens[i..i + words.len()] == words[..]).then_some((
            words.len(),
            *word,
            *means,
        ))
    })
}

/// Whether a clause (after "please" and the like) begins with one of `markers`, or holds
/// one of several words ("... ignore that").
fn retracts(tokens: &[&str], markers: &[&str]) -> bool {
    let text = tokens[polite_prefix_len(tokens)..].join(" ");
    markers.iter().any(|r| {
        text == *r
            || text.starts_with(&format!("{r} "))
            || ((r.contains(' ') || *r == "disregard") && text.contains(&format!(" {r}")))
    })
}

/// The sentences of a line, each with whether it asks (ends with a question mark).
fn sentences(line: &str) -> Vec<(&str, bool)> {
    let mut out = Vec::new();
    let mut start = 0;
    let bytes: Vec<(usize, char)> = line.char_indices().collect();
    let mut k = 0;
    while k < bytes.len() {
        let (at, c) = bytes[k];
        if matches!(c, '.' | '!' | '?' | ';' | '？' | '！' | '。') {
            // A run of marks ends one sentence; it asks if any of them is a question mark.
            let mut end = k;
            let mut asks = false;
            while end < bytes.len()
                && matches!(bytes[end].1, '.' | '!' | '?' | ';' | '？' | '！' | '。')
            {
                asks |= matches!(bytes[end].1, '?' | '？');
                end += 1;
            }
            out.push((&line[start..at], asks));
            start = bytes.get(end).map_or(line.len(), |(b, _)| *b);
            k = end;
            continue;
        }
        k += 1;
    }
    if start < line.len() {
        out.push((&line[start..], false));
    }
    out
}

/// The clauses of a sentence: split at commas, colons and dashes.
fn clauses(sentence: &str) -> Vec<&str> {
    sentence
        .split([',', ':', '—', '–', '(', ')'])
        .flat_map(|c| c.split(" - "))
        .collect()
}

/// The request named by number ("#12", "request 12"), when exactly one is.
fn named_request(text: &str) -> Option<i64> {
    let mut ids: Vec<i64> = Vec::new();
    for line in text.lines().filter(|l| !holds_contact(l)) {
        let mut rest = line;
        while let Some(at) = rest.find('#') {
            let digits: String = rest[at + 1..]
                .chars()
                .take_while(char::is_ascii_digit)
                .collect();
            if let Ok(id) = digits.parse::<i64>()
                && !ids.contains(&id)
            {
                ids.push(id);
            }
            rest = &rest[at + 1..];
        }
    }
    match ids.as_slice() {
        [one] => Some(*one),
        _ => None,
    }
}

/// A line with the greeting in front taken off ("Hi team, please opt me out" reads as
/// "please opt me out"; "Dear privacy team," as nothing).
fn strip_greeting(line: &str) -> &str {
    let trimmed = line.trim();
    let lower = normalise(trimmed);
    let greeted = words()
        .greetings
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

/// A link, an address or a phone number: what signature lines are made of.
fn holds_contact(raw: &str) -> bool {
    let lower = raw.to_lowercase();
    lower.contains("http://")
        || lower.contains("https://")
        || lower.contains("www.")
        || lower.contains('@')
        || raw.chars().filter(char::is_ascii_digit).count() >= 7
}

/// Lower case, letters and digits only, single spaces ("Don't!" -> "don t").
pub(super) fn normalise(line: &str) -> String {
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
            ("Thanks for this. Please delete my data.", Word::Delete),
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
            "Yes I think so, but let me check first",
            "Stop by our booth at FOSDEM!",
            "Unsubscribe from Acme news: https://acme.example/u",
            "Status page: https://status.example.com",
            "Will this also remove my forum posts?\nYes, we're hiring!",
        ] {
            assert_eq!(read(text), None, "{text:?}");
        }
    }

    #[test]
    fn the_whole_text_decides_not_its_first_word() {
        let d = |t: &str| read_all(t).decision;
        use Decision::*;
        for (text, want) in [
            (
                "Confirm\n\nSorry, ignore that, it wasn't us. Please cancel.",
                Act(Word::Cancel),
            ),
            ("Yes, please cancel this.", Unclear),
            ("Confirm? No! This was not me.", Act(Word::Cancel)),
            ("Confirm?? No, I did not ask for this.", Act(Word::Cancel)),
            ("No! Do it now, please.", Unclear),
            (
                "Please do NOT opt me in. I never asked for this.",
                Act(Word::Cancel),
            ),
            ("Please do not opt me in.", Act(Word::Cancel)),
            (
                "Yes, that was me. Thank you for checking, and sorry it took me a few days to answer.",
                Act(Word::Confirm),
            ),
            (
                "Please cancel it then, I don't need it any more.",
                Act(Word::Cancel),
            ),
            (
                "Cancel, please - I never asked for this.",
                Act(Word::Cancel),
            ),
            ("Confirm, danke.", Act(Word::Confirm)),
            ("Confirm?", Unclear),
            ("Yes, please delete my data.", ConfirmWith(Word::Delete)),
            ("Do not delete anything yet.", Act(Word::Cancel)),
            ("Don't cancel!", Unclear),
            ("Actually, opt me in instead.", Act(Word::OptIn)),
            ("Opt me out. Actually, opt me in.", Act(Word::OptIn)),
        ] {
            assert_eq!(d(text), want, "{text:?}");
        }
        assert_eq!(read_all("Confirm #12").request, Some(12));
        assert_eq!(read_all("Confirm #12 and #13").request, None);
    }
}

#[cfg(test)]
mod properties;
