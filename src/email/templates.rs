//! Every text the bot sends from a template: the mails (a `.txt` whose first line is
//! `Subject: ...`, and an `.html` twin), the reports, and the DMs about changes the person did
//! not make. All are embedded in the binary so it runs from any folder; `TEMPLATES_DIR`
//! replaces any of them file by file.

use anyhow::anyhow;
use minijinja::{Environment, Value, context};
use serde::Serialize;

use super::{labels::Labels, translations};
use crate::domain::Language;

/// Where the text part of a mail is wrapped (the width mail clients quote comfortably).
pub const TEXT_WIDTH: usize = 72;

/// Every outgoing mail's template name; each has a `.txt` and an `.html` file.
pub const MAIL_TEMPLATES: &[&str] = &[
    "confirmation_code",
    "request_received",
    "change_confirmed",
    "deletion_completed",
    "confirm_by_reply",
    "due_extended",
    "reminder",
    "choice_imported",
];

macro_rules! embedded {
    ($($folder:literal / $name:literal),+ $(,)?) => {
        &[$(($folder, $name, include_str!(concat!("../../templates/", $folder, "/", $name)))),+]
    };
}

/// Every template file, embedded so the binary runs from any folder: (folder, name, text).
const FILES: &[(&str, &str, &str)] = embedded![
    "email" / "_layout.html",
    "email" / "_footer.txt",
    "email" / "_facts.txt",
    "email" / "_facts.html",
    "email" / "confirmation_code.txt",
    "email" / "confirmation_code.html",
    "email" / "request_received.txt",
    "email" / "request_received.html",
    "email" / "change_confirmed.txt",
    "email" / "change_confirmed.html",
    "email" / "deletion_completed.txt",
    "email" / "deletion_completed.html",
    "email" / "confirm_by_reply.txt",
    "email" / "confirm_by_reply.html",
    "email" / "reply.txt",
    "email" / "reply.html",
    "email" / "due_extended.txt",
    "email" / "due_extended.html",
    "email" / "reminder.txt",
    "email" / "reminder.html",
    "email" / "choice_imported.txt",
    "email" / "choice_imported.html",
    "email" / "digest.txt",
    "email" / "digest.html",
    "report" / "monthly.md",
    "report" / "monthly.html",
    "discord" / "dm_deletion_completed.txt",
    "discord" / "dm_due_extended.txt",
    "discord" / "dm_choice_imported.txt",
];

/// The folders templates live in, in English and under each language's folder.
pub const FOLDERS: &[&str] = &["email", "report", "discord"];

/// The DMs the bot sends about changes the person did not make (their own changes are DMed
/// as the reply they saw). Each is one `.txt` under `templates/discord/`.
pub const DM_TEMPLATES: &[&str] = &[
    "dm_deletion_completed",
    "dm_due_extended",
    "dm_choice_imported",
];

/// A template that does not work: its file, the line (when known), and what is wrong.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Problem {
    pub file: String,
    pub line: Option<usize>,
    pub message: String,
}

impl std::fmt::Display for Problem {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self.line {
            Some(line) => write!(f, "{}:{line}: {}", self.file, self.message),
            None => write!(f, "{}: {}", self.file, self.message),
        }
    }
}

/// The answer to an email: the same text the other channels show, and the request's facts.
#[derive(Debug, Clone, Serialize)]
pub struct ReplyContext {
    pub organisation: String,
    pub policy: String,
    pub message: String,
    pub privacy_address: String,
    pub request: Option<MailContext>,
}

/// What every request mail can say. Displayed times are already in the display time zone.
#[derive(Debug, Clone, Serialize)]
pub struct MailContext {
    pub privacy_address: String,
    pub organisation: String,
    pub policy: String,
    pub request_id: i64,
    pub kind: &'static str,
    pub kind_label: &'static str,
    /// "an opt-out", "a deletion".
    pub kind_with_article: &'static str,
    pub received: String,
    pub offset: String,
    pub due: String,
    /// The request is answered (a confirmed choice, or closed): it has no "answer by" date.
    pub answered: bool,
    pub retention_opted_in: String,
    pub retention_opted_out: String,
    pub code: Option<String>,
    pub code_ttl_minutes: u32,
    /// For an extension: the due date before, and why.
    pub original_due: Option<String>,
    pub reason: Option<String>,
    /// For a reminder: when the request expires.
    pub expires: Option<String>,
    /// The receipt of what this mail reports, signed when the mail is sent; on a line of
    /// its own in a template.
    pub receipt: Option<String>,
}

/// The weekly digest for officers: request numbers only.
#[derive(Debug, Clone, Serialize)]
pub struct DigestContext {
    pub organisation: String,
    pub week: String,
    pub as_of: String,
    /// How many are overdue and due within 7 days, and the first numbers of each.
    pub overdue_count: usize,
    pub overdue: Vec<i64>,
    pub due_soon_count: usize,
    pub due_soon: Vec<i64>,
    /// Consumers of the feed behind for over a day, each with how far.
    pub stale_consumers: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rendered {
    pub subject: String,
    pub text: String,
    pub html: String,
}

pub struct Templates {
    env: Environment<'static>,
    /// Where each loaded template came from, for errors: name -> file shown to people.
    origin: std::collections::HashMap<String, String>,
}

impl Templates {
    /// The embedded templates, each replaced by a file of the same name under `dir` when there
    /// is one (`DIR/email/reply.txt`, `DIR/report/monthly.html`). A template that does not
    /// parse stops start-up, naming its file and line.
    pub fn load(dir: Option<&std::path::Path>) -> anyhow::Result<Self> {
        let (templates, problems) = Self::load_all(dir);
        if let Some(p) = problems.first() {
            return Err(anyhow!("template {p}"));
        }
        Ok(templates)
    }

    /// As [`Self::load`], but keeps going: every template that loads, and a problem for each
    /// that does not.
    pub fn load_all(dir: Option<&std::path::Path>) -> (Self, Vec<Problem>) {
        let mut env = Environment::new();
        env.set_undefined_behavior(minijinja::UndefinedBehavior::Strict);
        let mut origin = std::collections::HashMap::new();
        let mut problems = Vec::new();
        // English under its own name; the other languages' files under `<language>/<name>`,
        // replaced by `TEMPLATES_DIR/<language>/<folder>/<name>` when there is one.
        let english = FILES
            .iter()
            .map(|(folder, name, text)| ("", *folder, *name, *text));
        for (language, folder, name, embedded) in english.chain(translations::FILES.iter().copied())
        {
            let place = std::path::Path::new(language).join(folder).join(name);
            let own = dir.map(|d| d.join(&place)).filter(|p| p.is_file());
            let (file, source) = match &own {
                Some(path) => match std::fs::read_to_string(path) {
                    Ok(text) => (path.display().to_string(), text),
                    Err(e) => {
                        problems.push(Problem {
                            file: path.display().to_string(),
                            line: None,
                            message: format!("cannot be read ({e})"),
                        });
                        continue;
                    }
                },
                None => (
                    format!("templates/{} (built in)", place.display()),
                    embedded.to_owned(),
                ),
            };
            let key = match language {
                "" => name.to_owned(),
                _ => format!("{language}/{name}"),
            };
            if let Err(e) = env.add_template_owned(key.clone(), source) {
                problems.push(problem(&file, &e));
            }
            origin.insert(key, file);
        }
        // A translated template includes and extends the files of its own language.
        env.set_path_join_callback(|name, parent| match parent.split_once('/') {
            Some((language, _)) if !name.contains('/') => format!("{language}/{name}").into(),
            _ => name.into(),
        });
        (Self { env, origin }, problems)
    }

    /// The source of every template in `folder` (`email`, `discord`) a reader of `language`
    /// is shown, each under its name: its translation where there is one, else the English.
    pub fn sources_of(&self, folder: &str, language: Language) -> String {
        FILES
            .iter()
            .filter(|(f, ..)| *f == folder)
            .filter_map(|(_, name, _)| {
                let own = format!("{language}/{name}");
                let t = match self.env.get_template(&own) {
                    Ok(t) if language != Language::En => t,
                    _ => self.env.get_template(name).ok()?,
                };
                Some(format!("== {}\n{}\n", t.name(), t.source()))
            })
            .collect()
    }

    /// Whether the mail `name` is written in `language` (in English, always).
    pub fn translates(&self, language: Language, name: &str) -> bool {
        language == Language::En || self.mail_in(language, name) != name
    }

    /// A render error as a problem naming the file it came from.
    pub fn problem(&self, e: &minijinja::Error) -> Problem {
        let file = e
            .name()
            .and_then(|n| self.origin.get(n))
            .cloned()
            .unwrap_or_else(|| e.name().unwrap_or("a template").to_owned());
        problem(&file, e)
    }

    /// A DM's text (`templates/discord/NAME.txt`), on one line as Discord shows it.
    pub fn render_dm(&self, name: &str, ctx: &impl Serialize) -> anyhow::Result<String> {
        self.render_checked(&format!("{name}.txt"), ctx)
            .map(|t| t.trim().to_owned())
            .map_err(|p| anyhow!("template {p}"))
    }

    /// Renders one template, or says which file and line failed.
    pub fn render_checked(&self, name: &str, ctx: &impl Serialize) -> Result<String, Problem> {
        self.env
            .get_template(name)
            .and_then(|t| t.render(ctx))
            .map_err(|e| match e.kind() {
                // It did not load: its file's own problem says why.
                minijinja::ErrorKind::TemplateNotFound if self.origin.contains_key(name) => {
                    problem(&self.origin[name], &e)
                }
                minijinja::ErrorKind::UndefinedError => {
                    let mut p = self.problem(&e);
                    if let Some(named) = self.unknown_names(&e, ctx) {
                        p.message = named;
                    }
                    p
                }
                _ => self.problem(&e),
            })
    }

    /// For a name the template uses that the context does not have: which name, on the line
    /// the error is on, and the names that template may use.
    fn unknown_names(&self, e: &minijinja::Error, ctx: &impl Serialize) -> Option<String> {
        let source = self.env.get_template(e.name()?).ok()?.source().to_owned();
        let line = source.lines().nth(e.line()?.checked_sub(1)?)?;
        let value = Value::from_serialize(ctx);
        let mut available: Vec<String> = value
            .try_iter()
            .ok()?
            .filter_map(|k| k.as_str().map(str::to_owned))
            .collect();
        available.sort();
        // The names the line uses: words inside {{ }} and {% %} that start an expression
        // or follow a dot, less the template language's own words.
        const OWN: &[&str] = &[
            "if", "elif", "else", "endif", "for", "endfor", "in", "not", "and", "or", "is", "none",
            "true", "false", "include", "set", "loop", "length", "format", "upper", "lower",
            "title", "default", "safe", "escape", "join", "defined",
        ];
        let mut unknown = Vec::new();
        for part in line.split("{{").chain(line.split("{%")).skip(1) {
            let inner = part.split(['}', '%']).next().unwrap_or("");
            for token in inner.split(|c: char| !(c.is_alphanumeric() || c == '_' || c == '.')) {
                let mut segments = token.split('.');
                let Some(head) = segments.next().filter(|h| !h.is_empty()) else {
                    continue;
                };
                if head.chars().next().is_some_and(|c| c.is_ascii_digit()) || OWN.contains(&head) {
                    continue;
                }
                if !available.iter().any(|a| a == head) {
                    unknown.push(format!("`{head}`"));
                } else if let Some(field) = segments.next() {
                    // `request.due`: the field of a value that has fields.
                    let inner = value.get_attr(head).ok();
                    let has = inner.as_ref().is_some_and(|v| {
                        v.is_undefined()
                            || v.is_none()
                            || v.get_attr(field).is_ok_and(|f| !f.is_undefined())
                    });
                    if !has {
                        unknown.push(format!("`{head}.{field}`"));
                    }
                }
            }
        }
        unknown.dedup();
        let first = unknown.first()?;
        Some(format!(
            "{first} is not a name dsr-bot provides to this template; the names it can use are: {}",
            available.join(", ")
        ))
    }

    pub fn render(&self, name: &str, ctx: &impl Serialize) -> anyhow::Result<Rendered> {
        self.render_mail(name, ctx)
            .map_err(|p| anyhow!("template {p}"))
    }

    /// Whether `language` has its own `file` (`change_confirmed.txt`).
    fn has(&self, language: Language, file: &str) -> bool {
        language != Language::En && self.env.get_template(&format!("{language}/{file}")).is_ok()
    }

    /// The name to render the mail `name` under in `language`: its translation when both its
    /// text and HTML parts are translated, else the English mail, whole.
    fn mail_in(&self, language: Language, name: &str) -> String {
        if self.has(language, &format!("{name}.txt")) && self.has(language, &format!("{name}.html"))
        {
            format!("{language}/{name}")
        } else {
            name.to_owned()
        }
    }

    /// The name to render the single-file template `file` (`monthly.md`) under in
    /// `language`: its translation when there is one, else the English.
    pub fn name_in(&self, language: Language, file: &str) -> String {
        if self.has(language, file) {
            format!("{language}/{file}")
        } else {
            file.to_owned()
        }
    }

    /// The mail `name` in `language`, or in English where it is not translated.
    pub fn render_in(
        &self,
        language: Language,
        name: &str,
        ctx: &impl Serialize,
    ) -> anyhow::Result<Rendered> {
        self.render(&self.mail_in(language, name), ctx)
    }

    /// The DM `name` in `language`, or in English where it is not translated.
    pub fn render_dm_in(
        &self,
        language: Language,
        name: &str,
        ctx: &impl Serialize,
    ) -> anyhow::Result<String> {
        let file = self.name_in(language, &format!("{name}.txt"));
        self.render_dm(file.trim_end_matches(".txt"), ctx)
    }

    /// The mails and DMs a person may be sent that `language` does not translate (they go in
    /// English), and the translated files that are not whole (a partial missing).
    pub fn missing(&self, language: Language) -> Vec<String> {
        if language == Language::En {
            return Vec::new();
        }
        FILES
            .iter()
            .filter(|(_, name, _)| !self.has(language, name))
            .map(|(folder, name, _)| format!("{folder}/{name}"))
            .collect()
    }

    fn render_mail(&self, name: &str, ctx: &impl Serialize) -> Result<Rendered, Problem> {
        let txt = format!("{name}.txt");
        let text_full = self.render_checked(&txt, ctx)?;
        let first_line = |message: &str| Problem {
            file: self.origin.get(&txt).cloned().unwrap_or(txt.clone()),
            line: Some(1),
            message: message.to_owned(),
        };
        let (first, text) = text_full.split_once('\n').unwrap_or((&text_full, ""));
        let subject = first
            .strip_prefix("Subject: ")
            .ok_or_else(|| first_line("the first line must be 'Subject: ' and the subject"))?
            .trim()
            .to_owned();
        // Subjects come from our templates and our settings; refuse rather than let a line
        // break through into the header block.
        if subject.is_empty() || subject.chars().any(char::is_control) {
            return Err(first_line(
                "the subject is empty or holds control characters",
            ));
        }
        let html = self.render_checked(
            &format!("{name}.html"),
            &context! { subject => &subject, ..Value::from_serialize(ctx) },
        )?;
        Ok(Rendered {
            subject,
            // Values of any length fill lines broken in the template: reflowed after, so no
            // line is ragged or overlong in the reader's client.
            text: crate::domain::layout::reflow(text.trim_start(), TEXT_WIDTH),
            html,
        })
    }

    /// Renders every mail template as it can be used: for every request kind, with each
    /// optional value set and unset; an answer with and without a request; a digest with
    /// nothing and with much in it. The first problem of each file.
    pub fn check_mail(&self) -> Vec<Problem> {
        let mut problems: Vec<Problem> = Vec::new();
        let mut add = |p: Option<Problem>| {
            if let Some(p) = p
                && !problems.iter().any(|q| q.file == p.file)
            {
                problems.push(p);
            }
        };
        for language in Language::ALL {
            let samples = MailContext::samples_in(language);
            for name in MAIL_TEMPLATES {
                let name = self.mail_in(language, name);
                for sample in &samples {
                    add(self.render_mail(&name, sample).err());
                }
            }
            for name in DM_TEMPLATES {
                let file = match self.has(language, &format!("{name}.txt")) {
                    true => format!("{language}/{name}.txt"),
                    false => format!("{name}.txt"),
                };
                for sample in &samples {
                    add(self.render_checked(&file, sample).err());
                }
            }
        }
        let samples = MailContext::samples();
        let first = MailContext::sample();
        for language in Language::ALL {
            let requests = std::iter::once(None).chain(samples.iter().cloned().map(Some));
            for request in requests {
                let reply = ReplyContext {
                    organisation: first.organisation.clone(),
                    policy: first.policy.clone(),
                    message: "Your opt-out request #7 is recorded.".into(),
                    privacy_address: first.privacy_address.clone(),
                    request,
                };
                add(self
                    .render_mail(&self.mail_in(language, "reply"), &reply)
                    .err());
            }
            for (overdue, due_soon) in [(Vec::new(), Vec::new()), ((1..=100).collect(), vec![7])] {
                let digest = DigestContext {
                    organisation: first.organisation.clone(),
                    week: "2026-W48".into(),
                    as_of: "2026-11-23 09:00 UTC".into(),
                    overdue_count: overdue.len() + 2 * usize::from(!overdue.is_empty()),
                    overdue,
                    due_soon_count: due_soon.len(),
                    stale_consumers: if due_soon.is_empty() {
                        Vec::new()
                    } else {
                        vec![
                            "helpdesk: 12 changes not applied, the oldest since 2026-11-20 10:00 UTC"
                                .into(),
                        ]
                    },
                    due_soon,
                };
                add(self
                    .render_mail(&self.mail_in(language, "digest"), &digest)
                    .err());
            }
        }
        problems
    }
}

/// How many embedded templates files under `dir` replace.
pub fn replaced(dir: &std::path::Path) -> usize {
    FILES
        .iter()
        .filter(|(folder, name, _)| dir.join(folder).join(name).is_file())
        .count()
}

/// Files under a templates folder that replace nothing (a misspelt name is otherwise silently
/// ignored).
pub fn unknown_files(dir: &std::path::Path) -> Vec<Problem> {
    let mut problems = Vec::new();
    for &folder in FOLDERS {
        let Ok(entries) = std::fs::read_dir(dir.join(folder)) else {
            continue;
        };
        for entry in entries.flatten() {
            let name = entry.file_name().to_string_lossy().into_owned();
            if !FILES.iter().any(|(f, n, _)| *f == folder && *n == name) {
                let known: Vec<&str> = FILES
                    .iter()
                    .filter(|(f, _, _)| *f == folder)
                    .map(|(_, n, _)| *n)
                    .collect();
                problems.push(Problem {
                    file: entry.path().display().to_string(),
                    line: None,
                    message: format!(
                        "replaces no template; the names in {folder}/ are {}",
                        known.join(", ")
                    ),
                });
            }
        }
    }
    for language in Language::ALL.iter().filter(|l| **l != Language::En) {
        for &folder in FOLDERS {
            let Ok(entries) = std::fs::read_dir(dir.join(language.code()).join(folder)) else {
                continue;
            };
            for entry in entries.flatten() {
                let name = entry.file_name().to_string_lossy().into_owned();
                let known = |(l, f, n, _): &&(&str, &str, &str, &str)| {
                    *l == language.code() && *f == folder && *n == name
                };
                if !translations::FILES.iter().any(|t| known(&t)) {
                    problems.push(Problem {
                        file: entry.path().display().to_string(),
                        line: None,
                        message: format!(
                            "replaces no {language} template; {language}/{folder}/ holds translations of the files of {folder}/"
                        ),
                    });
                }
            }
        }
    }
    problems
}

impl MailContext {
    /// Made-up facts for checking templates, in every shape a mail can have: each request
    /// kind, with each optional value (code, extension, expiry) set and unset.
    pub fn samples() -> Vec<MailContext> {
        Self::samples_in(Language::En)
    }

    /// As [`Self::samples`], with the program's words in `language`.
    pub fn samples_in(language: Language) -> Vec<MailContext> {
        use crate::domain::RequestKind;
        let labels = Labels::of(language);
        let mut all = Vec::new();
        for &kind in RequestKind::ALL {
            for set in 0..16u8 {
                let mut c = Self::sample();
                c.kind = kind.as_str();
                c.kind_label = labels.kind(kind);
                c.kind_with_article = labels.kind_with_article(kind);
                c.offset = labels
                    .offset
                    .before
                    .replace("{span}", &format!("3 {}", labels.offset.units[2].1));
                if set & 1 == 0 {
                    c.code = None;
                }
                if set & 2 == 0 {
                    c.original_due = None;
                    c.reason = None;
                }
                if set & 4 == 0 {
                    c.expires = None;
                }
                if set & 8 == 0 {
                    c.receipt = None;
                }
                all.push(c.clone());
                c.answered = !c.answered;
                all.push(c);
            }
        }
        all
    }

    /// Made-up facts for checking templates.
    pub fn sample() -> MailContext {
        MailContext {
            privacy_address: "privacy@example.org".into(),
            organisation: "Example Community".into(),
            policy: "AI training on member chats".into(),
            request_id: 7,
            kind: "opt_out",
            kind_label: "opt-out",
            kind_with_article: "an opt-out",
            received: "2026-11-20 19:59 UTC".into(),
            offset: "3 days 4 hours before the deadline".into(),
            due: "2026-12-20 19:59 UTC".into(),
            answered: false,
            retention_opted_in: "up to 5 years".into(),
            retention_opted_out: "30 days".into(),
            code: Some("012345".into()),
            code_ttl_minutes: 30,
            original_due: Some("2026-11-20 19:59 UTC".into()),
            reason: Some("the request covers several systems".into()),
            expires: Some("2026-11-23 19:59 UTC".into()),
            receipt: Some(crate::proof::receipt::marker(1, Language::En)),
        }
    }
}

fn problem(file: &str, e: &minijinja::Error) -> Problem {
    Problem {
        file: file.to_owned(),
        line: e.line(),
        message: e
            .detail()
            .map_or_else(|| e.kind().to_string(), |d| format!("{}: {d}", e.kind())),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_translated_file_is_embedded() {
        let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("templates");
        let mut on_disk = Vec::new();
        for language in Language::ALL.iter().filter(|l| **l != Language::En) {
            for &folder in FOLDERS {
                let Ok(entries) = std::fs::read_dir(root.join(language.code()).join(folder)) else {
                    continue;
                };
                for entry in entries.flatten() {
                    let name = entry.file_name().to_string_lossy().into_owned();
                    on_disk.push(format!("{language}/{folder}/{name}"));
                }
            }
        }
        let mut embedded: Vec<String> = translations::FILES
            .iter()
            .map(|(l, f, n, _)| format!("{l}/{f}/{n}"))
            .collect();
        on_disk.sort();
        embedded.sort();
        assert_eq!(on_disk, embedded, "run scripts/translations");
        for (language, _) in translations::LABELS {
            let parsed: Language = language.parse().unwrap();
            assert!(Labels::of(parsed).kind(crate::domain::RequestKind::Deletion) != "deletion");
        }
    }

    fn ctx(kind: &'static str) -> MailContext {
        MailContext {
            privacy_address: "privacy@example.org".into(),
            organisation: "Example <Club>".into(),
            policy: "AI training on member chats".into(),
            request_id: 7,
            kind,
            kind_label: "opt-out",
            kind_with_article: "an opt-out",
            received: "2025-09-25 19:59 UTC".into(),
            offset: "3 days 4 hours before the deadline".into(),
            due: "2025-10-25 19:59 UTC".into(),
            answered: false,
            retention_opted_in: "up to 5 years".into(),
            retention_opted_out: "30 days".into(),
            code: Some("012345".into()),
            code_ttl_minutes: 30,
            original_due: Some("2025-10-25 19:59 UTC".into()),
            reason: Some("the request covers several systems".into()),
            expires: Some("2025-09-28 19:59 UTC".into()),
            receipt: None,
        }
    }

    #[test]
    fn every_template_renders_text_and_html_with_a_subject() {
        let t = Templates::load(None).unwrap();
        for name in MAIL_TEMPLATES {
            let r = t.render(name, &ctx("opt_out")).unwrap();
            assert!(!r.subject.is_empty(), "{name}");
            assert!(r.text.contains("#7"), "{name}: {}", r.text);
            assert!(r.html.starts_with("<!doctype html>"), "{name}");
            // HTML is escaped, text is not.
            assert!(r.html.contains("Example &lt;Club&gt;"), "{name}");
            assert!(r.text.contains("Example <Club>"), "{name}");
        }
    }

    #[test]
    fn replies_carry_the_message_and_the_facts_when_there_is_a_request() {
        let t = Templates::load(None).unwrap();
        let mut r = ReplyContext {
            organisation: "Example".into(),
            policy: "AI training".into(),
            message: "Your opt-out request #7 is recorded.".into(),
            privacy_address: "privacy@example.org".into(),
            request: Some(ctx("opt_out")),
        };
        let with = t.render("reply", &r).unwrap();
        assert!(
            with.text.contains("Your opt-out request #7 is recorded."),
            "{}",
            with.text
        );
        assert!(
            with.text.contains("Answer by: 2025-10-25 19:59 UTC"),
            "{}",
            with.text
        );
        r.request = None;
        let without = t.render("reply", &r).unwrap();
        assert!(!without.text.contains("Answer by"), "{}", without.text);
    }

    #[test]
    fn confirmations_state_the_consequence() {
        let t = Templates::load(None).unwrap();
        let out = t.render("change_confirmed", &ctx("opt_out")).unwrap();
        assert!(out.text.contains("deleted after 30 days"), "{}", out.text);
        let inn = t.render("change_confirmed", &ctx("opt_in")).unwrap();
        assert!(
            inn.text.contains("and keep it for up to 5 years"),
            "{}",
            inn.text
        );
        let code = t.render("confirmation_code", &ctx("opt_out")).unwrap();
        assert!(code.text.contains("/verify code:012345"));
    }
}
