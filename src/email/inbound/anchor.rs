//! Reading a reply against the mail it answers. We know the text of every mail we sent, so a
//! line of a reply that reproduces our own words is quoted history, wherever it stands and
//! however the person's client marked (`>`), rewrapped (any width) or converted (HTML) it.
//! What is left, above, below and between the quoted parts, is what the person wrote.
//!
//! Mature reply-by-email systems (GitHub's email_reply_parser, Discourse's
//! email_reply_trimmer, Mailgun's talon) recognise quotes by their headers, one language and
//! one client at a time, and their trackers are full of the ones they miss. Matching against
//! the original needs neither: it is the fallback ([`super::quote`]) that still does, for mail
//! whose original we no longer hold.

use super::quote;

/// A line this long (in words) that appears word for word in our mail is quoted, whatever
/// else is around it; a shorter one only when it continues a quoted neighbour.
const SURE_WORDS: usize = 4;

/// The words of a text as they are compared: lower case, letters and digits only.
pub fn words(text: &str) -> Vec<String> {
    text.split(|c: char| !c.is_alphanumeric())
        .filter(|w| !w.is_empty())
        .map(str::to_lowercase)
        .collect()
}

/// Where a line was found in one of the originals: which one, and its word span.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
struct Span {
    original: usize,
    start: usize,
    end: usize,
}

struct Line<'a> {
    raw: &'a str,
    /// Marked as quoted by the client (`>`).
    marked: bool,
    words: Vec<String>,
    found: Option<Span>,
}

/// What the person wrote in `body`, a reply to mail whose texts are `originals`: every part
/// reproducing them is removed, as are the headers introducing a quote and the signature.
pub fn own_text(body: &str, originals: &[&str]) -> String {
    let originals: Vec<Vec<String>> = originals.iter().map(|o| words(o)).collect();
    let body = quote::unwrap(body);
    let mut lines: Vec<Line<'_>> = body
        .lines()
        .map(|raw| {
            let unmarked = raw.trim_start().trim_start_matches(['>', ' ', '\t', '|']);
            Line {
                raw,
                marked: raw.trim_start().starts_with('>'),
                words: words(unmarked),
                found: None,
            }
        })
        .collect();
    for line in &mut lines {
        if line.words.len() >= SURE_WORDS {
            line.found = find(&originals, &line.words, None);
        }
    }
    // Short lines of an unmarked quote (a rewrap can leave one word on a line) continue the
    // quoted line before them, or lead into the one after, word for word.
    let mut changed = true;
    while changed {
        changed = false;
        for i in 0..lines.len() {
            if lines[i].found.is_some() || lines[i].words.is_empty() || lines[i].marked {
                continue;
            }
            let before =
                neighbour(&lines, i, -1).and_then(|j| lines[j].found.filter(|_| !lines[j].marked));
            let after =
                neighbour(&lines, i, 1).and_then(|j| lines[j].found.filter(|_| !lines[j].marked));
            let n = lines[i].words.len();
            let at = before
                .and_then(|s| find(&originals, &lines[i].words, Some((s.original, s.end))))
                .or_else(|| {
                    after.and_then(|s| {
                        s.start.checked_sub(n).and_then(|start| {
                            find(&originals, &lines[i].words, Some((s.original, start)))
                        })
                    })
                });
            if at.is_some() {
                lines[i].found = at;
                changed = true;
            }
        }
    }
    let header = header_mask(&lines);
    let kept: Vec<&str> = lines
        .iter()
        .zip(&header)
        .filter(|(l, header)| !l.marked && l.found.is_none() && !**header)
        .map(|(l, _)| l.raw)
        .collect();
    quote::cut_signature(&kept.join("\n"))
}

/// The lines that only introduce the quote after them: "On ... wrote:" (over several lines),
/// an Outlook header block, a separator; taken as such only when quoted lines follow.
fn header_mask(lines: &[Line<'_>]) -> Vec<bool> {
    let raws: Vec<&str> = lines.iter().map(|l| l.raw).collect();
    let mut mask = vec![false; lines.len()];
    let mut i = 0;
    while i < lines.len() {
        let len = quote::header_len(&raws, i);
        if len == 0 {
            i += 1;
            continue;
        }
        // The header's extent: it and any header lines right after it (a whole Outlook block).
        let mut end = i + len;
        while end < lines.len()
            && (lines[end].words.is_empty() || quote::header_len(&raws, end) > 0)
        {
            end += quote::header_len(&raws, end).max(1);
        }
        let quoted_follows = lines[end.min(lines.len())..]
            .iter()
            .find(|l| !l.words.is_empty())
            .is_some_and(|l| l.marked || l.found.is_some());
        if quoted_follows {
            for m in &mut mask[i..end.min(lines.len())] {
                *m = true;
            }
        }
        i = end;
    }
    mask
}

/// The first occurrence of `needle` in the originals, or only at `(original, position)`.
fn find(originals: &[Vec<String>], needle: &[String], at: Option<(usize, usize)>) -> Option<Span> {
    let n = needle.len();
    match at {
        Some((o, start)) => {
            let hay = originals.get(o)?;
            (hay.get(start..start + n)? == needle).then_some(Span {
                original: o,
                start,
                end: start + n,
            })
        }
        None => originals.iter().enumerate().find_map(|(o, hay)| {
            (n <= hay.len())
                .then(|| hay.windows(n).position(|w| w == needle))
                .flatten()
                .map(|start| Span {
                    original: o,
                    start,
                    end: start + n,
                })
        }),
    }
}

/// The nearest line with words before (`-1`) or after (`1`) line `i`.
fn neighbour(lines: &[Line<'_>], i: usize, step: isize) -> Option<usize> {
    let mut j = i as isize + step;
    while j >= 0 && (j as usize) < lines.len() {
        if !lines[j as usize].words.is_empty() {
            return Some(j as usize);
        }
        j += step;
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    const OURS: &str = "Hello,\n\nWe received an email from this address asking for an opt-out about \"AI training\".\n\
        Anyone can put an address on an email, so it counts only once you confirm it:\n\n    Reply to this \
        email with the word: confirm\n\nReply with the word cancel if it was not you.";

    #[test]
    fn a_rewrapped_quote_is_history_even_where_a_command_word_starts_a_line() {
        let reply = "Thanks for the quick answer!\n\nOn Tue, the team wrote:\nHello, We received an email from this\n\
                     address asking for an opt-out about \"AI training\". Anyone can put an\naddress on an email, so it counts only once you\n\
                     confirm it: Reply to this email with the word:\nconfirm\nReply with the word cancel if it was not you.";
        assert_eq!(own_text(reply, &[OURS]), "Thanks for the quick answer!");
    }

    #[test]
    fn words_below_and_between_quoted_parts_are_the_persons() {
        let bottom = "> Anyone can put an address on an email, so it counts only once you confirm it:\n\nYes";
        assert_eq!(own_text(bottom, &[OURS]), "Yes");
        let inline = "> Anyone can put an address on an email, so it counts only\n\nconfirm\n\n> Reply with the word cancel if it was not you.";
        assert_eq!(own_text(inline, &[OURS]), "confirm");
    }
}
