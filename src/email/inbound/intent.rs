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

use crate::domain::Language;

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

/// Commands and the phrases that say them, longest first. `true`: a phrase that says what it
/// means, which counts where a clause begins, whatever follows; `false`: a word that counts
/// only standing alone in its clause (with filler).
const PHRASES: &[(&str, Word, bool)] = &[
    ("i never asked for this", Word::Cancel, true),
    ("i did not ask for this", Word::Cancel, true),
    ("i didn t ask for this", Word::Cancel, true),
    ("i never asked for that", Word::Cancel, true),
    ("i did not ask for that", Word::Cancel, true),
    ("i didn t ask for that", Word::Cancel, true),
    ("delete all my data", Word::Delete, true),
    ("this was not me", Word::Cancel, true),
    ("that was not me", Word::Cancel, true),
    ("it was not me", Word::Cancel, true),
    ("this wasn t me", Word::Cancel, true),
    ("that wasn t me", Word::Cancel, true),
    ("it wasn t me", Word::Cancel, true),
    ("this was not us", Word::Cancel, true),
    ("that was not us", Word::Cancel, true),
    ("it was not us", Word::Cancel, true),
    ("this wasn t us", Word::Cancel, true),
    ("that wasn t us", Word::Cancel, true),
    ("it wasn t us", Word::Cancel, true),
    ("erase my data", Word::Delete, true),
    ("delete my data", Word::Delete, true),
    ("remove my data", Word::Delete, true),
    ("delete my account", Word::Delete, true),
    ("never asked for this", Word::Cancel, true),
    ("go ahead with it", Word::Confirm, false),
    ("that was me", Word::Confirm, true),
    ("it was me", Word::Confirm, true),
    ("this was me", Word::Confirm, true),
    ("wasn t me", Word::Cancel, true),
    ("opt me out", Word::OptOut, true),
    ("opt me in", Word::OptIn, true),
    ("opt out", Word::OptOut, true),
    ("opt in", Word::OptIn, true),
    ("i confirm", Word::Confirm, true),
    ("go ahead", Word::Confirm, false),
    ("do it", Word::Confirm, false),
    ("not me", Word::Cancel, false),
    ("optout", Word::OptOut, false),
    ("optin", Word::OptIn, false),
    ("unsubscribe", Word::OptOut, false),
    ("proceed", Word::Confirm, false),
    ("stop", Word::OptOut, false),
    ("confirmed", Word::Confirm, false),
    ("confirm", Word::Confirm, false),
    ("yes", Word::Confirm, false),
    ("yep", Word::Confirm, false),
    ("cancel", Word::Cancel, false),
    ("no", Word::Cancel, false),
    ("nope", Word::Cancel, false),
    ("delete", Word::Delete, false),
    ("erase", Word::Delete, false),
    ("status", Word::Status, false),
];

/// What may stand around a one-word command without changing what it means. No command word
/// is filler: "yes, cancel" is two instructions, never one.
const FILLER: &[&str] = &[
    "please",
    "pls",
    "plz",
    "thanks",
    "thank",
    "you",
    "thx",
    "ty",
    "cheers",
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
    "want",
    "to",
    "still",
    "so",
    "much",
    "very",
    "a",
    "lot",
    "emails",
    "list",
    "mailing",
    "details",
    "then",
    "them",
    "here",
    "there",
    "absolutely",
    "definitely",
    "certainly",
    "really",
    "thanks",
    "kindly",
    "just",
    "with",
    "in",
    "advance",
    "regards",
    "best",
    "danke",
    "bitte",
    "merci",
    "gracias",
    "obrigado",
    "obrigada",
    "grazie",
    "dank",
    "je",
    "u",
    "vielen",
    "beaucoup",
    "muchas",
    "de",
    "nada",
    "hi",
    "hello",
    "dear",
    "team",
    "again",
    "mine",
    "one",
    "on",
    "behalf",
    "we",
    "us",
    "our",
];

/// Put before an instruction without changing it ("please", "I would like to").
const POLITE_PREFIXES: &[&str] = &[
    "i would like you to",
    "could you please",
    "can you please",
    "i would like to",
    "i d like you to",
    "i d like to",
    "i want you to",
    "i want to",
    "i wish to",
    "we would like to",
    "we want to",
    "could you",
    "can you",
    "please",
    "kindly",
];

/// Words that negate an instruction standing right after them.
const NEGATORS: &[&str] = &[
    "not", "never", "t", "dont", "didnt", "doesnt", "cannot", "won",
];

/// A clause that explains a change of mind: what earlier sentences said no longer stands (what
/// its own sentence says does: "Please cancel, I changed my mind").
const CHANGES_OF_MIND: &[&str] = &[
    "changed my mind",
    "i ve changed my mind",
    "i have changed my mind",
];

/// A clause that takes back what came before it.
const RETRACTIONS: &[&str] = &[
    "ignore that",
    "ignore this",
    "ignore my",
    "ignore the",
    "ignore it",
    "disregard",
    "scratch that",
    "never mind",
    "nevermind",
    "on second thought",
    "on second thoughts",
    "sorry no",
    "actually",
    "wait",
];

/// A clause that qualifies what came before ("Yes, but ..."): an instruction before it in the
/// same sentence does not stand alone.
const QUALIFIERS: &[&str] = &["but", "however", "although", "though", "except", "unless"];

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

/// The words replies are read with: the English lists above, with those of every other
/// language the bot writes (`templates/<language>/reply_words.json`) added, so a reply is
/// understood in any of them, whatever language its request was made in.
struct Words {
    /// Longest first, as [`PHRASES`].
    phrases: Vec<(&'static str, Word, bool)>,
    filler: Vec<&'static str>,
    polite_prefixes: Vec<&'static str>,
    negators: Vec<&'static str>,
    changes_of_mind: Vec<&'static str>,
    retractions: Vec<&'static str>,
    qualifiers: Vec<&'static str>,
    greetings: Vec<&'static str>,
    agreeing: Vec<&'static str>,
    /// A bare yes or no ("Yes, we're hiring" opens a statement, it is no command).
    bare: Vec<&'static str>,
    polite_openings: Vec<&'static str>,
}

/// One language's `reply_words.json`.
#[derive(serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct WordsFile {
    phrases: Vec<(String, Word, bool)>,
    filler: Vec<String>,
    polite_prefixes: Vec<String>,
    negators: Vec<String>,
    changes_of_mind: Vec<String>,
    retractions: Vec<String>,
    qualifiers: Vec<String>,
    greetings: Vec<String>,
    #[serde(default)]
    agreeing: Vec<String>,
    #[serde(default)]
    bare: Vec<String>,
    #[serde(default)]
    polite_openings: Vec<String>,
}

/// The words a reading uses: those of the language the text is written in, with English's;
/// English alone for an English text (a word that is filler in another language, such as
/// German "war" or "mail", must not make "Stop the war" an instruction); every language's for
/// a text too short to tell.
fn words() -> &'static Words {
    READING_IN.with(|w| w.get())
}

thread_local! {
    /// The words of the reading under way on this thread ([`read_all`] sets them).
    static READING_IN: std::cell::Cell<&'static Words> = std::cell::Cell::new(words_for(Some(Language::En)));
}

/// The words for texts in `language` (`None`: every language's).
fn words_for(language: Option<Language>) -> &'static Words {
    static ALL: std::sync::OnceLock<std::collections::HashMap<Option<Language>, Words>> =
        std::sync::OnceLock::new();
    let all = ALL.get_or_init(|| {
        let mut all = std::collections::HashMap::new();
        all.insert(None, build_words(|_| true));
        for language in Language::ALL {
            all.insert(Some(language), build_words(|code| code == language.code()));
        }
        all
    });
    &all[&language]
}

/// The English lists, with those of the languages `take` picks.
fn build_words(take: impl Fn(&str) -> bool) -> Words {
    {
        let mut w = Words {
            phrases: PHRASES.to_vec(),
            filler: FILLER.to_vec(),
            polite_prefixes: POLITE_PREFIXES.to_vec(),
            negators: NEGATORS.to_vec(),
            changes_of_mind: CHANGES_OF_MIND.to_vec(),
            retractions: RETRACTIONS.to_vec(),
            qualifiers: QUALIFIERS.to_vec(),
            greetings: GREETINGS.to_vec(),
            agreeing: AGREEING.to_vec(),
            bare: BARE.to_vec(),
            polite_openings: POLITE_OPENINGS.to_vec(),
        };
        for (language, json) in crate::email::translations::REPLY_WORDS
            .iter()
            .filter(|(code, _)| take(code))
        {
            let file: WordsFile = serde_json::from_str(json)
                .unwrap_or_else(|e| panic!("templates/{language}/reply_words.json: {e}"));
            let leak = |v: Vec<String>| -> Vec<&'static str> {
                v.into_iter()
                    .map(|s| &*Box::leak(normalise(&s).trim().to_owned().into_boxed_str()))
                    .collect()
            };
            for (phrase, word, means) in file.phrases {
                let phrase: &'static str =
                    Box::leak(normalise(&phrase).trim().to_owned().into_boxed_str());
                if !w.phrases.iter().any(|(p, ..)| *p == phrase) {
                    w.phrases.push((phrase, word, means));
                }
            }
            w.filler.extend(leak(file.filler));
            w.polite_prefixes.extend(leak(file.polite_prefixes));
            w.negators.extend(leak(file.negators));
            w.changes_of_mind.extend(leak(file.changes_of_mind));
            w.retractions.extend(leak(file.retractions));
            w.qualifiers.extend(leak(file.qualifiers));
            w.greetings.extend(leak(file.greetings));
            w.agreeing.extend(leak(file.agreeing));
            w.bare.extend(leak(file.bare));
            w.polite_openings.extend(leak(file.polite_openings));
        }
        // Longest first: "i did not ask for this" before "not me", in every language.
        w.phrases
            .sort_by_key(|(p, ..)| std::cmp::Reverse((p.split(' ').count(), p.len())));
        // A filler word of one language may be a command of another ("no", "sim"): commands win.
        let commands: Vec<&str> = w.phrases.iter().map(|(p, ..)| *p).collect();
        w.filler.retain(|f| !commands.contains(f));
        w.polite_prefixes
            .sort_by_key(|p| std::cmp::Reverse(p.split(' ').count()));
        w
    }
}

/// Words common in short messages of each language the bot writes, to tell which one a
/// person wrote in when their mail does not say (`Content-Language`).
const LANGUAGE_MARKERS: &[(Language, &[&str])] = &[
    (
        Language::En,
        &[
            "i", "please", "the", "my", "thanks", "thank", "you", "yes", "confirm", "cancel",
            "delete", "hello", "hi", "not", "me", "it", "was", "and", "is",
        ],
    ),
    (
        Language::De,
        &[
            "ich",
            "bitte",
            "nicht",
            "und",
            "das",
            "ist",
            "mein",
            "meine",
            "meinen",
            "danke",
            "bestätigen",
            "bestätige",
            "löschen",
            "abbrechen",
            "hallo",
            "ja",
            "nein",
            "war",
            "grüße",
            "sie",
            "es",
        ],
    ),
    (
        Language::Fr,
        &[
            "je",
            "merci",
            "pas",
            "et",
            "le",
            "la",
            "les",
            "mes",
            "données",
            "confirmer",
            "confirme",
            "supprimer",
            "annuler",
            "bonjour",
            "oui",
            "non",
            "ce",
            "moi",
            "est",
            "vous",
            "cordialement",
        ],
    ),
    (
        Language::Es,
        &[
            "por",
            "favor",
            "gracias",
            "mis",
            "datos",
            "confirmar",
            "confirmo",
            "eliminar",
            "cancelar",
            "hola",
            "sí",
            "yo",
            "el",
            "fui",
            "es",
            "saludos",
            "usted",
            "lo",
        ],
    ),
    (
        Language::PtBr,
        &[
            "por",
            "favor",
            "obrigado",
            "obrigada",
            "meus",
            "dados",
            "confirmar",
            "confirmo",
            "excluir",
            "cancelar",
            "olá",
            "oi",
            "sim",
            "não",
            "eu",
            "você",
            "fui",
            "atenciosamente",
        ],
    ),
];

/// The language `text` is written in, when its words say so clearly: more of one language's
/// common words than of any other's. `None` for a text too short or too mixed to tell.
pub fn language_of(text: &str) -> Option<Language> {
    let words: Vec<String> = text
        .lines()
        .map(normalise)
        .flat_map(|l| l.split_whitespace().map(str::to_owned).collect::<Vec<_>>())
        .collect();
    let mut scores: Vec<(usize, Language)> = LANGUAGE_MARKERS
        .iter()
        .map(|(lang, markers)| {
            let hits = words
                .iter()
                .filter(|w| markers.contains(&w.as_str()))
                .count();
            (hits, *lang)
        })
        .collect();
    scores.sort_by_key(|s| std::cmp::Reverse(s.0));
    match scores.as_slice() {
        [(best, lang), (next, _), ..] if *best > 0 && best > next => Some(*lang),
        // A tie with English is read as English: the lists every reading shares.
        [(best, _), ..]
            if *best > 0 && scores.iter().any(|(n, l)| n == best && *l == Language::En) =>
        {
            Some(Language::En)
        }
        _ => None,
    }
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
    let reading = match language_of(own_text) {
        Some(language) => words_for(Some(language)),
        None => words_for(None),
    };
    let before = READING_IN.with(|w| w.replace(reading));
    let read = read_in(own_text);
    READING_IN.with(|w| w.set(before));
    read
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

/// How a clause of thanks, apology or politeness begins: it may follow a bare command.
const POLITE_OPENINGS: &[&str] = &[
    "thank",
    "thanks",
    "thx",
    "sorry",
    "cheers",
    "please",
    "merci",
    "danke",
    "gracias",
    "grazie",
    "obrigado",
    "obrigada",
    "appreciated",
    "much",
];

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

/// Words that may lead into an instruction without being one there ("yes please delete my
/// data" is a deletion, agreed to).
const AGREEING: &[&str] = &["yes", "ok", "okay", "sure", "yep"];

/// A yes or a no on its own.
const BARE: &[&str] = &["yes", "no", "yep", "nope"];

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
