//! The words email replies are read with, in every language the bot writes, and how to tell
//! which language a text is in.

use super::intent::{Word, normalise};
use crate::domain::Language;
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
pub(super) struct Words {
    /// Longest first, as [`PHRASES`].
    pub(super) phrases: Vec<(&'static str, Word, bool)>,
    pub(super) filler: Vec<&'static str>,
    pub(super) polite_prefixes: Vec<&'static str>,
    pub(super) negators: Vec<&'static str>,
    pub(super) changes_of_mind: Vec<&'static str>,
    pub(super) retractions: Vec<&'static str>,
    pub(super) qualifiers: Vec<&'static str>,
    pub(super) greetings: Vec<&'static str>,
    pub(super) agreeing: Vec<&'static str>,
    /// A bare yes or no ("Yes, we're hiring" opens a statement, it is no command).
    pub(super) bare: Vec<&'static str>,
    pub(super) polite_openings: Vec<&'static str>,
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
pub(super) fn words() -> &'static Words {
    READING_IN.with(|w| w.get())
}

thread_local! {
    /// The words of the reading under way on this thread ([`read_all`] sets them).
    static READING_IN: std::cell::Cell<&'static Words> = std::cell::Cell::new(words_for(Some(Language::En)));
}

/// Runs `read` with the words of the language `text` is written in (every language's when
/// it cannot be told) as this thread's [`words`].
pub(super) fn reading<T>(text: &str, read: impl FnOnce() -> T) -> T {
    let words = words_for(language_of(text));
    let before = READING_IN.with(|w| w.replace(words));
    let read = read();
    READING_IN.with(|w| w.set(before));
    read
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

/// The words that, at the start of a line, name the language the person wants to be
/// answered in ("language: German", "Sprache Deutsch", "langue : français").
const LANGUAGE_WORDS: &[&str] = &[
    "language", "sprache", "langue", "idioma", "língua", "lingua",
];

/// The language a line of `own_text` asks to be answered in from now on, if one does.
pub fn language_asked(own_text: &str) -> Option<Language> {
    own_text.lines().find_map(|line| {
        let line = super::intent::normalise(line);
        let mut words = line.split_whitespace();
        let first = words.next()?;
        if !LANGUAGE_WORDS.contains(&first) {
            return None;
        }
        Language::named(words.next()?)
    })
}

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

/// Words that may lead into an instruction without being one there ("yes please delete my
/// data" is a deletion, agreed to).
const AGREEING: &[&str] = &["yes", "ok", "okay", "sure", "yep"];

/// A yes or a no on its own.
const BARE: &[&str] = &["yes", "no", "yep", "nope"];
