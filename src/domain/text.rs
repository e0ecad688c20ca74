//! Text people typed, shown back to them or to an operator: control characters and the
//! characters that reorder text on screen (bidirectional overrides) are written out as
//! `\u{...}`, so an echo can neither move the cursor of a terminal nor disguise what it says.

/// Longest stretch of someone's input echoed back.
const ECHO_CHARS: usize = 40;

/// Whether `c` must never reach a screen as it is.
pub fn is_unsafe(c: char) -> bool {
    c.is_control()
        || matches!(c, '\u{200e}' | '\u{200f}' | '\u{202a}'..='\u{202e}' | '\u{2066}'..='\u{2069}')
}

/// `s` with every unsafe character escaped, cut to 40 characters (then `…`).
pub fn shown(s: &str) -> String {
    let mut out = String::new();
    for (n, c) in s.chars().enumerate() {
        if n == ECHO_CHARS {
            out.push('…');
            break;
        }
        if is_unsafe(c) {
            out.push_str(&format!("\\u{{{:x}}}", c as u32));
        } else {
            out.push(c);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn control_and_direction_characters_are_written_out() {
        assert_eq!(shown("opt\u{202e}tuo"), "opt\\u{202e}tuo");
        assert_eq!(shown("a\u{1b}[2Jb"), "a\\u{1b}[2Jb");
        assert_eq!(shown("line\r\nbreak"), "line\\u{d}\\u{a}break");
        assert_eq!(shown(&"x".repeat(50)), format!("{}…", "x".repeat(40)));
        assert_eq!(shown("plain"), "plain");
    }
}
