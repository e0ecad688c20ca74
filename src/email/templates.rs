//! Email templates, embedded in the binary so it runs from any folder. Each mail is a `.txt`
//! whose first line is `Subject: ...`, and an `.html` twin.

use anyhow::{Context, anyhow};
use minijinja::{Environment, Value, context};
use serde::Serialize;

/// Every outgoing mail's template name; each has a `.txt` and an `.html` file.
pub const MAIL_TEMPLATES: &[&str] = &[
    "confirmation_code",
    "request_received",
    "change_confirmed",
    "deletion_completed",
];

const FILES: &[(&str, &str)] = &[
    (
        "_layout.html",
        include_str!("../../templates/email/_layout.html"),
    ),
    (
        "_footer.txt",
        include_str!("../../templates/email/_footer.txt"),
    ),
    (
        "_facts.txt",
        include_str!("../../templates/email/_facts.txt"),
    ),
    (
        "_facts.html",
        include_str!("../../templates/email/_facts.html"),
    ),
    (
        "confirmation_code.txt",
        include_str!("../../templates/email/confirmation_code.txt"),
    ),
    (
        "confirmation_code.html",
        include_str!("../../templates/email/confirmation_code.html"),
    ),
    (
        "request_received.txt",
        include_str!("../../templates/email/request_received.txt"),
    ),
    (
        "request_received.html",
        include_str!("../../templates/email/request_received.html"),
    ),
    (
        "change_confirmed.txt",
        include_str!("../../templates/email/change_confirmed.txt"),
    ),
    (
        "change_confirmed.html",
        include_str!("../../templates/email/change_confirmed.html"),
    ),
    (
        "deletion_completed.txt",
        include_str!("../../templates/email/deletion_completed.txt"),
    ),
    (
        "deletion_completed.html",
        include_str!("../../templates/email/deletion_completed.html"),
    ),
    (
        "confirm_by_reply.txt",
        include_str!("../../templates/email/confirm_by_reply.txt"),
    ),
    (
        "confirm_by_reply.html",
        include_str!("../../templates/email/confirm_by_reply.html"),
    ),
    ("reply.txt", include_str!("../../templates/email/reply.txt")),
    (
        "reply.html",
        include_str!("../../templates/email/reply.html"),
    ),
];

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
    pub retention_opted_in: String,
    pub retention_opted_out: String,
    pub code: Option<String>,
    pub code_ttl_minutes: u32,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rendered {
    pub subject: String,
    pub text: String,
    pub html: String,
}

pub struct Templates {
    env: Environment<'static>,
}

impl Templates {
    pub fn load() -> anyhow::Result<Self> {
        let mut env = Environment::new();
        env.set_undefined_behavior(minijinja::UndefinedBehavior::Strict);
        for (name, source) in FILES {
            env.add_template(name, source)
                .with_context(|| format!("template {name}"))?;
        }
        Ok(Self { env })
    }

    pub fn render(&self, name: &str, ctx: &impl Serialize) -> anyhow::Result<Rendered> {
        let text_full = self
            .env
            .get_template(&format!("{name}.txt"))?
            .render(ctx)
            .with_context(|| format!("rendering {name}.txt"))?;
        let (first, text) = text_full.split_once('\n').unwrap_or((&text_full, ""));
        let subject = first
            .strip_prefix("Subject: ")
            .ok_or_else(|| anyhow!("{name}.txt must start with 'Subject: '"))?
            .trim()
            .to_owned();
        // Subjects come from our templates and our settings; refuse rather than let a line
        // break through into the header block.
        if subject.chars().any(char::is_control) {
            return Err(anyhow!(
                "{name}.txt produced a subject with control characters"
            ));
        }
        let html = self
            .env
            .get_template(&format!("{name}.html"))?
            .render(context! { subject => &subject, ..Value::from_serialize(ctx) })
            .with_context(|| format!("rendering {name}.html"))?;
        Ok(Rendered {
            subject,
            text: text.trim_start().to_owned(),
            html,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

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
            retention_opted_in: "up to 5 years".into(),
            retention_opted_out: "30 days".into(),
            code: Some("012345".into()),
            code_ttl_minutes: 30,
        }
    }

    #[test]
    fn every_template_renders_text_and_html_with_a_subject() {
        let t = Templates::load().unwrap();
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
        let t = Templates::load().unwrap();
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
        let t = Templates::load().unwrap();
        let out = t.render("change_confirmed", &ctx("opt_out")).unwrap();
        assert!(out.text.contains("deleted after 30 days"), "{}", out.text);
        let inn = t.render("change_confirmed", &ctx("opt_in")).unwrap();
        assert!(
            inn.text.contains("keeps it for up to 5 years"),
            "{}",
            inn.text
        );
        let code = t.render("confirmation_code", &ctx("opt_out")).unwrap();
        assert!(code.text.contains("/verify code:012345"));
    }
}
