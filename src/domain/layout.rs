//! Plain text laid out for reading: prose wrapped at a width, and the text parts of mails
//! reflowed after their values are filled in, so no line is left ragged or overlong.

/// `line` broken at spaces into lines of at most `width` characters (a longer word stands on
/// a line of its own).
pub fn wrap_line(line: &str, width: usize) -> Vec<String> {
    let indent: String = line.chars().take_while(|c| *c == ' ').collect();
    let mut out = Vec::new();
    let mut current = indent.clone();
    for word in line.split_whitespace() {
        let len = current.chars().count();
        if len > indent.len() && len + 1 + word.chars().count() > width {
            out.push(std::mem::replace(&mut current, indent.clone()));
        }
        if current.chars().count() > indent.len() {
            current.push(' ');
        }
        current.push_str(word);
    }
    out.push(current);
    out
}

/// Every line of `text` wrapped at `width`; line breaks already there stay, and a signed
/// receipt is left exactly as it is (its signature covers every byte).
pub fn wrap(text: &str, width: usize) -> String {
    let mut in_receipt = false;
    text.lines()
        .flat_map(|l| {
            if l == crate::proof::receipt::FORM {
                in_receipt = true;
            }
            if in_receipt {
                if l.starts_with(crate::proof::note::DASH) {
                    in_receipt = false;
                }
                vec![l.to_owned()]
            } else if l.trim().is_empty() {
                vec![String::new()]
            } else {
                wrap_line(l, width)
            }
        })
        .collect::<Vec<_>>()
        .join("\n")
}

/// A line laid out on purpose, left as it is: indented (a code), a list item, aligned facts
/// (`Request:   #7`), a table, a signature separator.
fn structured(line: &str) -> bool {
    // A receipt still to be signed.
    line.starts_with('\u{E000}')
        || line.starts_with(' ')
        || line.starts_with("- ")
        || line.starts_with("* ")
        || line.starts_with('|')
        || line.starts_with("```")
        || line.trim() == "--"
        || line.contains(":  ")
}

/// The text part of a mail, reflowed: each paragraph of prose (lines between blank lines)
/// joined and wrapped at `width`; lines laid out on purpose stay as they are.
pub fn reflow(text: &str, width: usize) -> String {
    let mut out: Vec<String> = Vec::new();
    let mut prose: Vec<&str> = Vec::new();
    let flush = |prose: &mut Vec<&str>, out: &mut Vec<String>| {
        if !prose.is_empty() {
            out.extend(wrap_line(&prose.join(" "), width));
            prose.clear();
        }
    };
    for line in text.lines() {
        if line.trim().is_empty() || structured(line) {
            flush(&mut prose, &mut out);
            out.push(line.trim_end().to_owned());
        } else {
            prose.push(line.trim());
        }
    }
    flush(&mut prose, &mut out);
    let mut text = out.join("\n");
    text.push('\n');
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn prose_is_rewrapped_and_laid_out_lines_stay() {
        let text = "Hello,\n\nSomeone asked Example Community with a long name to record an opt-out for this\naddress. If that was you:\n\n    012345\n\nRequest:   #7 (opt-out)\nAnswer by: 2026-12-20\n\n--\nThe team.\n";
        let out = reflow(text, 40);
        assert!(
            out.lines()
                .all(|l| l.chars().count() <= 40 || !l.contains(' ')),
            "{out}"
        );
        assert!(out.contains("\n    012345\n"), "{out}");
        assert!(
            out.contains("Request:   #7 (opt-out)\nAnswer by: 2026-12-20"),
            "{out}"
        );
        assert!(
            out.contains("Someone asked Example Community with a"),
            "{out}"
        );
        assert!(out.contains("\n--\nThe team.\n"), "{out}");
    }

    #[test]
    fn long_lines_wrap_at_the_width() {
        let w = wrap(&"word ".repeat(50), 20);
        assert!(w.lines().all(|l| l.chars().count() <= 20), "{w}");
        assert_eq!(wrap("a\n\nb", 20), "a\n\nb");
    }
}
