//! Generated replies: instructions, their negations and questions, retractions and filler in
//! every order and joined every way. The reading never performs an instruction the reply
//! negates or asks about, and never the first of two that disagree.

use super::*;
use rand::{Rng, SeedableRng, rngs::StdRng, seq::SliceRandom};

#[derive(Clone, Copy, Debug)]
enum Part {
    Say(Word, &'static str),
    Negate(Word, &'static str),
    Ask(&'static str),
    Retract(&'static str),
    Filler(&'static str),
}

const SAY: &[(Word, &str)] = &[
    (Word::Confirm, "Confirm"),
    (Word::Confirm, "Yes"),
    (Word::Confirm, "Yes, that was me"),
    (Word::Cancel, "Cancel"),
    (Word::Cancel, "No"),
    (Word::Cancel, "This was not me"),
    (Word::OptOut, "Opt me out"),
    (Word::OptIn, "Please opt me in"),
    (Word::Delete, "Delete my data"),
];
const NEGATE: &[(Word, &str)] = &[
    (Word::Confirm, "Do not confirm"),
    (Word::OptIn, "Please do NOT opt me in"),
    (Word::OptOut, "Don't opt me out"),
    (Word::Delete, "Never delete my data"),
    (Word::Cancel, "Don't cancel"),
    (Word::OptOut, "I do not want to opt out"),
];
const RETRACT: &[&str] = &[
    "Sorry, ignore that",
    "Scratch that",
    "Actually",
    "Wait, never mind",
    "Please disregard my last message",
];
const FILLER: &[&str] = &[
    "Thanks",
    "Thank you for checking",
    "Sorry it took me a few days to answer",
    "Cheers",
    "Please",
    "Have a nice day",
];

fn part(rng: &mut StdRng) -> Part {
    match rng.gen_range(0..5) {
        0 => {
            let (w, t) = *SAY.choose(rng).unwrap();
            Part::Say(w, t)
        }
        1 => {
            let (w, t) = *NEGATE.choose(rng).unwrap();
            Part::Negate(w, t)
        }
        2 => Part::Ask(SAY.choose(rng).unwrap().1),
        3 => Part::Retract(RETRACT.choose(rng).unwrap()),
        _ => Part::Filler(FILLER.choose(rng).unwrap()),
    }
}

#[test]
fn never_what_is_negated_asked_or_contradicted() {
    let mut rng = StdRng::seed_from_u64(0x5eed);
    for case in 0..20_000 {
        let parts: Vec<Part> = (0..rng.gen_range(1..6)).map(|_| part(&mut rng)).collect();
        let mut text = String::new();
        for (i, p) in parts.iter().enumerate() {
            let piece = match p {
                Part::Say(_, t) | Part::Negate(_, t) | Part::Retract(t) | Part::Filler(t) => {
                    format!("{t}.")
                }
                Part::Ask(t) => format!("{t}?"),
            };
            if i > 0 {
                text.push_str([" ", "\n", "\n\n"].choose(&mut rng).unwrap());
            }
            text.push_str(&piece);
        }
        // What stands after the last retraction: what was said, and whether anything was
        // refused outright ("do not opt me in" is a no).
        let last = parts
            .iter()
            .rposition(|p| matches!(p, Part::Retract(_)))
            .map_or(0, |i| i + 1);
        let standing = &parts[last..];
        let said: Vec<Word> = standing
            .iter()
            .filter_map(|p| match p {
                Part::Say(w, _) => Some(*w),
                _ => None,
            })
            .collect();
        let refused = standing.iter().any(
            |p| matches!(p, Part::Negate(w, t) if *w != Word::Cancel && !t.starts_with("I do not")),
        );
        let decision = read_all(&text).decision;
        if let Decision::Act(w) | Decision::ConfirmWith(w) = decision {
            let allowed = said.contains(&w) || (w == Word::Cancel && refused);
            assert!(allowed, "case {case}: {text:?} performed {w:?}");
        }
        if let Some(first) = said.first()
            && said.iter().any(|w| w != first)
        {
            assert_ne!(
                decision,
                Decision::Act(*first),
                "case {case}: {text:?} performed the first of two that disagree"
            );
        }
    }
}
