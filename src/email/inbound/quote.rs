//! Keeps only what the person wrote in a reply: quoted history, forwarded parts and
//! signatures are cut, so instructions quoted from our own mail never trigger anything.

/// Verbs of a quote header line ("On Mon, Alice wrote:", "Am ... schrieb Alice <a@b>:") in
/// common client languages.
const QUOTE_VERBS: &[&str] = &[
    "wrote",
    "schrieb",
    "a écrit",
    "escribió",
    "ha scritto",
    "schreef",
    "pisze",
    "escreveu",
    "написал",
    "написала",
    "skrev",
    "kirjoitti",
    "napsal",
    "yazdı",
    "írta",
];

/// Lines that start the quoted or forwarded part in Outlook, Apple Mail, Thunderbird and Gmail.
const SEPARATORS: &[&str] = &[
    "-----original message-----",
    "----- original message -----",
    "-----ursprüngliche nachricht-----",
    "-----message d'origine-----",
    "---------- forwarded message",
    "-------- forwarded message",
    "-------- original message --------",
    "begin forwarded message:",
    "________________________________",
];

/// The new text of a plain-text body.
pub fn strip_quoted(text: &str) -> String {
    let lines: Vec<&str> = text.lines().collect();
    let mut kept = Vec::new();
    for (i, raw) in lines.iter().enumerate() {
        let line = raw.trim();
        let lower = line.to_lowercase();
        // The signature delimiter "-- " (often with its space trimmed away).
        if raw.trim_end() == "--" {
            break;
        }
        if SEPARATORS.iter().any(|s| lower.starts_with(s)) {
            break;
        }
        if lower.starts_with("sent from my ") || lower.starts_with("get outlook for ") {
            break;
        }
        if is_quote_header(&lines, i) || is_outlook_header_block(&lines, i) {
            break;
        }
        if line.starts_with('>') {
            continue;
        }
        kept.push(*raw);
    }
    kept.join("\n").trim().to_owned()
}

/// "On <date>, <name> wrote:" on one line, or wrapped over up to three lines as Gmail does:
/// a line that opens like a date or an address, and a colon-ended line soon after, with a
/// quoting verb between them.
fn is_quote_header(lines: &[&str], i: usize) -> bool {
    let first = lines[i].trim().to_lowercase();
    let opener = first.split_whitespace().next().unwrap_or("");
    let opens = [
        "on", "am", "le", "el", "il", "op", "w", "em", "den", "dne", "в", "pe",
    ]
    .contains(&opener)
        || first.contains('@')
        || first.chars().any(|c| c.is_ascii_digit());
    if !opens {
        return false;
    }
    let window = &lines[i..lines.len().min(i + 3)];
    let Some(end) = window.iter().position(|l| l.trim_end().ends_with(':')) else {
        return false;
    };
    let joined = window[..=end]
        .iter()
        .map(|l| l.trim())
        .collect::<Vec<_>>()
        .join(" ")
        .to_lowercase();
    QUOTE_VERBS
        .iter()
        .any(|v| joined.contains(&format!(" {v} ")) || joined.contains(&format!(" {v}:")))
}

/// Outlook's header block: "From:" followed within four lines by "Sent:" or "Date:", and by
/// "To:" or "Subject:".
fn is_outlook_header_block(lines: &[&str], i: usize) -> bool {
    let starts = |l: &str, keys: &[&str]| {
        let l = l.trim().trim_start_matches('*').to_lowercase();
        keys.iter().any(|k| l.starts_with(k))
    };
    if !starts(lines[i], &["from:", "von:", "de :", "de:", "van:", "da:"]) {
        return false;
    }
    let window = &lines[i + 1..lines.len().min(i + 5)];
    window.iter().any(|l| {
        starts(
            l,
            &[
                "sent:",
                "date:",
                "gesendet:",
                "envoyé :",
                "enviado:",
                "verzonden:",
                "inviato:",
            ],
        )
    }) && window.iter().any(|l| {
        starts(
            l,
            &[
                "to:", "subject:", "an:", "à :", "para:", "aan:", "a:", "betreff:", "objet :",
            ],
        )
    })
}

/// Cuts an HTML body at the first marker of quoted history that mail clients leave behind.
pub fn strip_quoted_html(html: &str) -> String {
    let lower = html.to_lowercase();
    const MARKERS: &[&str] = &[
        "<blockquote",
        "class=\"gmail_quote",
        "class=\"gmail_attr",
        "id=\"appendonsend",
        "id=\"divrplyfwdmsg",
        "class=\"moz-cite-prefix",
        "id=\"mail-editor-reference-message-container",
        "class=\"yahoo_quoted",
        "id=\"reply-intro",
    ];
    let cut = MARKERS
        .iter()
        .filter_map(|m| lower.find(m))
        .min()
        .map(|pos| {
            if lower[pos..].starts_with('<') {
                pos
            } else {
                lower[..pos].rfind('<').unwrap_or(pos)
            }
        })
        .unwrap_or(html.len());
    html[..cut].to_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cuts_gmail_style_quote_headers_even_when_wrapped() {
        let t = "Confirm\n\nOn Tue, 25 Nov 2026 at 10:00, dsr-bot <privacy@example.org>\nwrote:\n> Reply confirm";
        assert_eq!(strip_quoted(t), "Confirm");
    }

    #[test]
    fn cuts_outlook_blocks_and_signatures() {
        let t = "yes please\r\n\r\nFrom: dsr-bot <privacy@example.org>\r\nSent: Tuesday\r\nTo: me\r\nSubject: x\r\n\r\nconfirm";
        assert_eq!(strip_quoted(t), "yes please");
        assert_eq!(strip_quoted("cancel\n-- \nAlice\nconfirm"), "cancel");
        assert_eq!(strip_quoted("status\n\nSent from my iPhone"), "status");
    }

    #[test]
    fn keeps_only_unquoted_lines() {
        assert_eq!(strip_quoted("> confirm\n>> yes"), "");
        assert_eq!(
            strip_quoted("Am 25.11.2026 um 10:00 schrieb dsr-bot <p@example.org>:\n> confirm"),
            ""
        );
    }

    #[test]
    fn html_quotes_are_cut_before_conversion() {
        let h = "<div>cancel</div><div class=\"gmail_quote\"><div>confirm</div></div>";
        assert_eq!(strip_quoted_html(h), "<div>cancel</div>");
        assert_eq!(
            strip_quoted_html("<p>yes</p><blockquote>confirm</blockquote>"),
            "<p>yes</p>"
        );
    }
}
