//! The fallback for mail whose original we no longer hold (see [`super::anchor`] for the rest):
//! quoted history is recognised by the marks and headers clients leave, forwarded parts and
//! signatures are cut, so instructions quoted from our own mail never trigger anything.
//! Text the person wrote below a `>`-marked quote is kept; below an unmarked one (Outlook,
//! Apple Mail), where nothing tells the original from new text, everything is cut.

/// Verbs of a quote header line ("On Mon, Alice wrote:", "Am ... schrieb Alice <a@b>:") in
/// common client languages.
const QUOTE_VERBS: &[&str] = &[
    "wrote",
    // Gnus and other newsreaders: "Robin <robin@example.net> writes:".
    "writes",
    "schreibt",
    "écrit",
    "escribe",
    "escreve",
    "scrive",
    "schrijft",
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
    "napisał",
    "napisała",
    "寫道",
    "写道",
    "のメッセージ",
    "書きました",
];

/// Lines that start the quoted or forwarded part in Outlook, Apple Mail, Thunderbird and Gmail.
const SEPARATORS: &[&str] = &[
    "-----original message-----",
    "----- original message -----",
    "-----ursprüngliche nachricht-----",
    "-----message d'origine-----",
    "-----mensaje original-----",
    "-----oorspronkelijk bericht-----",
    "-----wiadomość oryginalna-----",
    "---------- forwarded message",
    "-------- forwarded message",
    "-------- original message --------",
    "begin forwarded message:",
    "________________________________",
];

/// A body as the person's client meant its lines: an inline PGP clear-signed message is its
/// signed text (the armour and the signature are not), and an attribution glued to the
/// person's last words ("Confirm On Tue, 25 Nov 2026, dsr-bot wrote:") is a line of its own.
pub fn unwrap(text: &str) -> String {
    let text = unwrap_signed(text);
    let mut out = String::with_capacity(text.len());
    for line in text.lines() {
        match glued_attribution(line) {
            Some(at) => {
                out.push_str(line[..at].trim_end());
                out.push('\n');
                out.push_str(line[at..].trim_start());
            }
            None => out.push_str(line),
        }
        out.push('\n');
    }
    out
}

/// Where an attribution ("On ... wrote:") begins inside a line that starts with other text.
fn glued_attribution(line: &str) -> Option<usize> {
    let trimmed = line.trim_end();
    if !(trimmed.ends_with(':') || trimmed.ends_with('：')) {
        return None;
    }
    let lower = trimmed.to_lowercase();
    if lower.starts_with('>') {
        return None;
    }
    for opener in [" on ", " am ", " le ", " el ", " il ", " op ", " em "] {
        if let Some(at) = lower.find(opener)
            && at > 0
            && is_header_line(&lower[at..])
        {
            // Byte offsets of the lowered text match the line's for these ASCII openers
            // only when what precedes them lowers to the same length.
            if lower[..at].len() == line[..at].to_lowercase().len() && line.is_char_boundary(at) {
                return Some(at + 1);
            }
        }
    }
    None
}

/// The signed text of an inline PGP clear-signed message (RFC 4880 7): after the armour
/// header and its "Hash:" lines, up to the signature, with dash-escaping undone; what stands
/// before and after the signed part is kept (a quote below it, say).
fn unwrap_signed(text: &str) -> String {
    const BEGIN: &str = "-----BEGIN PGP SIGNED MESSAGE-----";
    const SIG: &str = "-----BEGIN PGP SIGNATURE-----";
    const END: &str = "-----END PGP SIGNATURE-----";
    let lines: Vec<&str> = text.lines().collect();
    let Some(begin) = lines.iter().position(|l| l.trim() == BEGIN) else {
        return text.to_owned();
    };
    let mut out: Vec<String> = lines[..begin].iter().map(|l| (*l).to_owned()).collect();
    let mut i = begin + 1;
    while i < lines.len() && !lines[i].trim().is_empty() {
        i += 1; // "Hash: SHA256" and other armour headers
    }
    while i < lines.len() && lines[i].trim() != SIG {
        let l = lines[i];
        out.push(l.strip_prefix("- ").unwrap_or(l).to_owned());
        i += 1;
    }
    while i < lines.len() && lines[i].trim() != END {
        i += 1;
    }
    out.extend(lines.iter().skip(i + 1).map(|l| (*l).to_owned()));
    out.join("\n")
}

/// The new text of a plain-text body.
pub fn strip_quoted(text: &str) -> String {
    let text = unwrap(text);
    let lines: Vec<&str> = text.lines().collect();
    let mut kept = Vec::new();
    let mut i = 0;
    while i < lines.len() {
        let raw = lines[i];
        let lower = raw.trim().to_lowercase();
        if SEPARATORS.iter().any(|s| lower.starts_with(s)) {
            break;
        }
        if is_quote_header(&lines, i) || is_outlook_header_block(&lines, i) {
            // A header before `>`-marked lines introduces a quote the person may write
            // below; before unmarked ones, the original follows and the rest is cut.
            let after = i + header_len(&lines, i);
            let body = lines[after.min(lines.len())..]
                .iter()
                .find(|l| !is_blank_or_header(l));
            if body.is_some_and(|l| l.trim_start().starts_with('>')) {
                i = after;
                while i < lines.len() && !lines[i].trim_start().starts_with('>') {
                    i += 1;
                }
                continue;
            }
            break;
        }
        if !raw.trim_start().starts_with('>') {
            kept.push(raw);
        }
        i += 1;
    }
    cut_signature(&kept.join("\n"))
}

fn is_blank_or_header(line: &str) -> bool {
    line.trim().is_empty() || is_header_line(line)
}

/// Everything from a signature on is cut: the `-- ` delimiter (with or without its space),
/// a line of underscores, "Sent from my ...", "Get Outlook for ...", or a line after some text
/// that is only a sign-off ("Thanks,", "Best regards", "Viele Grüße").
pub fn cut_signature(text: &str) -> String {
    let mut kept = Vec::new();
    for raw in text.lines() {
        let trimmed = raw.trim();
        let lower = trimmed.to_lowercase();
        if matches!(raw.trim_end(), "--" | "-- " | "—" | "__")
            || trimmed.starts_with("____")
            || lower.starts_with("sent from my ")
            || lower.starts_with("get outlook for ")
            || lower.starts_with("envoyé de mon ")
            || lower.starts_with("von meinem ")
            || (is_sign_off(&lower) && kept.iter().any(|l: &&str| !l.trim().is_empty()))
        {
            break;
        }
        kept.push(raw);
    }
    kept.join("\n").trim().to_owned()
}

/// A line that is only a closing phrase, with at most a name after it.
fn is_sign_off(lower: &str) -> bool {
    const SIGN_OFFS: &[&str] = &[
        "thanks",
        "thank you",
        "many thanks",
        "thanks a lot",
        "cheers",
        "best",
        "best regards",
        "kind regards",
        "regards",
        "warm regards",
        "all the best",
        "sincerely",
        "yours sincerely",
        "yours",
        "br",
        "mvh",
        "viele grüße",
        "viele grüsse",
        "beste grüße",
        "grüße",
        "gruß",
        "mit freundlichen grüßen",
        "lg",
        "cordialement",
        "bien à vous",
        "merci",
        "saludos",
        "un saludo",
        "atentamente",
        "groeten",
        "met vriendelijke groet",
        "pozdrawiam",
        "pozdrowienia",
        "cordiali saluti",
        "saluti",
        "obrigado",
        "atenciosamente",
    ];
    let words = lower
        .split(|c: char| !c.is_alphanumeric() && !"äöüßéàèáíóúñçłś".contains(c))
        .filter(|w| !w.is_empty())
        .collect::<Vec<_>>();
    let line = words.join(" ");
    SIGN_OFFS.iter().any(|s| {
        line == *s
            || line
                .strip_prefix(s)
                .and_then(|rest| rest.strip_prefix(' '))
                .is_some_and(|name| name.split(' ').count() <= 2 && lower.contains(','))
    })
}

/// A line that belongs to the header introducing a quote: a separator, an "On ... wrote:"
/// line (or the last line of one wrapped over several), or an Outlook header field.
pub fn is_header_line(raw: &str) -> bool {
    let lower = raw.trim().trim_start_matches('*').to_lowercase();
    if SEPARATORS.iter().any(|s| lower.starts_with(s)) {
        return true;
    }
    let fields = [
        "from:",
        "sent:",
        "to:",
        "cc:",
        "subject:",
        "date:",
        "von:",
        "gesendet:",
        "an:",
        "betreff:",
        "de :",
        "de:",
        "envoyé :",
        "à :",
        "objet :",
        "para:",
        "enviado:",
        "asunto:",
        "van:",
        "verzonden:",
        "aan:",
        "onderwerp:",
        "od:",
        "wysłano:",
        "do:",
        "temat:",
        "da:",
        "inviato:",
        "oggetto:",
        "发件人:",
        "发送时间:",
        "收件人:",
        "主题:",
        "差出人:",
        "送信日時:",
        "宛先:",
        "件名:",
    ];
    if fields.iter().any(|f| lower.starts_with(f)) {
        return true;
    }
    let ends = lower.trim_end();
    (ends.ends_with(':') || ends.ends_with('：'))
        && QUOTE_VERBS
            .iter()
            .any(|v| ends.contains(&format!(" {v}")) || ends.starts_with(v))
}

/// "On <date>, <name> wrote:" on one line, or wrapped over up to three lines as Gmail does:
/// a line that opens like a date or an address, and a colon-ended line soon after, with a
/// quoting verb between them.
fn is_quote_header(lines: &[&str], i: usize) -> bool {
    quote_header_len(lines, i).is_some()
}

/// How many lines the quote header starting at line `i` takes, if one does.
fn quote_header_len(lines: &[&str], i: usize) -> Option<usize> {
    let first = lines[i].trim().to_lowercase();
    let opener = first.split_whitespace().next().unwrap_or("");
    let opens = [
        "on", "am", "le", "el", "il", "op", "w", "em", "den", "dne", "в", "pe",
    ]
    .contains(&opener)
        || first.contains('@')
        || has_date(&first);
    if !opens {
        return None;
    }
    let window = &lines[i..lines.len().min(i + 3)];
    let end = window.iter().position(|l| {
        let l = l.trim_end();
        l.ends_with(':') || l.ends_with('：')
    })?;
    // A header wraps over lines that follow each other, never over an empty one.
    if window[..end].iter().any(|l| l.trim().is_empty()) {
        return None;
    }
    let joined = window[..=end]
        .iter()
        .map(|l| l.trim())
        .collect::<Vec<_>>()
        .join(" ")
        .to_lowercase();
    let has_verb = QUOTE_VERBS.iter().any(|v| {
        joined.contains(&format!(" {v} "))
            || joined.contains(&format!(" {v}:"))
            || joined.contains(&format!("{v}："))
            || joined.contains(&format!("{v}:"))
    });
    // Some clients (Japanese Gmail) write only the date and the sender: "2026年11月25日 … <a@b>:".
    let date_and_address = joined.contains('@') && joined.chars().any(|c| c.is_ascii_digit());
    (has_verb || date_and_address).then_some(end + 1)
}

/// Whether a line holds a date the way quote headers write one: a year (four digits), or
/// day and month with a separator ("25.11.", "25/11").
fn has_date(line: &str) -> bool {
    let digits: Vec<&str> = line
        .split(|c: char| !c.is_ascii_digit())
        .filter(|d| !d.is_empty())
        .collect();
    digits.iter().any(|d| d.len() == 4)
        || line.as_bytes().windows(3).any(|w| {
            w[0].is_ascii_digit() && matches!(w[1], b'.' | b'/' | b'-') && w[2].is_ascii_digit()
        })
        || line.contains('年')
}

/// How many lines the header introducing a quote takes at line `i` (0 when none starts there):
/// an "On ... wrote:" header (wrapped over up to three lines), or one line of an Outlook
/// header block or a separator.
pub fn header_len(lines: &[&str], i: usize) -> usize {
    quote_header_len(lines, i).unwrap_or(usize::from(is_header_line(lines[i])))
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
    fn reads_gnus_attributions_glued_attributions_and_signed_text() {
        let gnus = "Confirm.\n\nRobin Reply <robin@example.net> writes:\n\n> Reply confirm";
        assert_eq!(strip_quoted(gnus), "Confirm.");
        let glued = "Confirm On Tue, 25 Nov 2026 at 10:00, dsr-bot <privacy@example.org> wrote:\n> Reply confirm";
        assert_eq!(strip_quoted(glued), "Confirm");
        let signed = "-----BEGIN PGP SIGNED MESSAGE-----\nHash: SHA256\n\nYes, that was me.\n- -- \nRobin\n-----BEGIN PGP SIGNATURE-----\n\niQEzBAEBCAAdFiEE\n=abcd\n-----END PGP SIGNATURE-----\n";
        assert_eq!(strip_quoted(signed), "Yes, that was me.");
    }

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
    fn text_below_a_marked_quote_is_kept_and_below_an_unmarked_one_cut() {
        let bottom = "On Tue, 25 Nov 2026 at 10:00, dsr-bot <privacy@example.org>\nwrote:\n> Reply confirm\n> to go ahead\n\nYes please\n";
        assert_eq!(strip_quoted(bottom), "Yes please");
        let outlook =
            "Thanks\n\nFrom: dsr-bot\nSent: Tuesday\nTo: me\nSubject: x\n\nReply confirm\n";
        assert_eq!(strip_quoted(outlook), "Thanks");
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
