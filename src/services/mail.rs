//! The mail a use-case sends: rendered from a template and put in the outbox inside the
//! use-case's transaction, so it goes if and only if the change it reports is kept.

use anyhow::Context as _;

use super::uow::{AnswerTo, Uow};
use crate::store::{outbox::NewMail, reply_tokens::NewToken};
use crate::{
    crypto,
    db::requests::Request,
    domain::{EmailAddress, Language},
    email::{MailContext, Rendered, ReplyContext, labels::Labels, message::new_message_id},
};

/// What every mail about a request can say.
pub fn context(uow: &Uow<'_>, req: &Request, code: Option<String>) -> MailContext {
    context_in(uow, req, code, req.language)
}

/// As [`context`], with the program's words in `language` (that of the template it fills).
fn context_in(
    uow: &Uow<'_>,
    req: &Request,
    code: Option<String>,
    language: Language,
) -> MailContext {
    let cfg = uow.config();
    let labels = Labels::of(language);
    MailContext {
        privacy_address: cfg.inbound.reply_address.to_string(),
        organisation: cfg.organisation_name.clone(),
        policy: cfg.policy_name.clone(),
        request_id: req.id,
        kind: req.kind.as_str(),
        kind_label: labels.kind(req.kind),
        kind_with_article: labels.kind_with_article(req.kind),
        received: uow.ctx.show_time(req.received_at),
        offset: uow.ctx.describe_offset_in(req.received_at, language),
        due: uow.ctx.show_time(req.due_at),
        answered: !super::officer::unanswered(req),
        retention_opted_in: cfg.retention_opted_in.clone(),
        retention_opted_out: cfg.retention_opted_out.clone(),
        code,
        code_ttl_minutes: cfg.code_ttl_minutes,
        original_due: req.original_due_at.map(|d| uow.ctx.show_time(d)),
        reason: None,
        expires: None,
        receipt: super::log::draft(uow, req.id, language).unwrap_or_else(|e| {
            tracing::error!(error = %format!("{e:#}"), request = req.id, "a receipt could not be drafted; the mail goes without");
            None
        }),
    }
}

/// Renders `template` about `req` and puts it in the outbox for `recipient`.
pub fn queue(
    uow: &mut Uow<'_>,
    template: &str,
    req: &Request,
    recipient: &str,
    code: Option<String>,
    scrub_after_send: bool,
) -> anyhow::Result<()> {
    let rendered = uow
        .ctx
        .templates
        .render_in(req.language, template, &context(uow, req, code))?;
    insert(
        uow,
        template,
        Some(req),
        recipient,
        &rendered,
        scrub_after_send,
        false,
    )
}

/// As [`queue`], with a context the caller filled in (a reason, an expiry).
pub fn queue_with(
    uow: &mut Uow<'_>,
    template: &str,
    req: &Request,
    recipient: &str,
    ctx: &MailContext,
) -> anyhow::Result<()> {
    let rendered = uow.ctx.templates.render_in(req.language, template, ctx)?;
    insert(uow, template, Some(req), recipient, &rendered, false, false)
}

/// The answer to someone who wrote by mail: the text every channel shows, and the request's
/// facts when there is one.
pub fn reply(
    uow: &mut Uow<'_>,
    to: &EmailAddress,
    text: &str,
    req: Option<&Request>,
) -> anyhow::Result<()> {
    reply_about(uow, to, text, req, false)
}

/// As [`reply`]; with `lists`, the text lists the person's requests (the status answer): no
/// one request's facts are shown, and the reply token says a yes or a no to it is about the
/// one of them that can take it (`req` is the first listed).
fn reply_about(
    uow: &mut Uow<'_>,
    to: &EmailAddress,
    text: &str,
    req: Option<&Request>,
    lists: bool,
) -> anyhow::Result<()> {
    let cfg = uow.config();
    // The answer mail is in the language its text was written in (see texts::language).
    let language = super::texts::language(uow);
    let ctx = ReplyContext {
        organisation: cfg.organisation_name.clone(),
        policy: cfg.policy_name.clone(),
        message: text.to_owned(),
        privacy_address: cfg.inbound.reply_address.to_string(),
        request: req
            .filter(|_| !lists)
            .map(|r| context_in(uow, r, None, language)),
    };
    let rendered = uow.ctx.templates.render_in(language, "reply", &ctx)?;
    insert(uow, "reply", req, to.as_str(), &rendered, false, lists)
}

/// Mails the answer of a use-case to a person who wrote by mail, unless the use-case mailed
/// one of its own.
pub fn answer(uow: &mut Uow<'_>, text: &str, req: Option<&Request>) -> anyhow::Result<()> {
    answer_as(uow, text, req, false)
}

/// As [`answer`], for an answer that lists the person's requests (see [`reply_about`]).
pub fn answer_as(
    uow: &mut Uow<'_>,
    text: &str,
    req: Option<&Request>,
    lists: bool,
) -> anyhow::Result<()> {
    if uow.answered {
        return Ok(());
    }
    if let Some(to) = uow.answer_address() {
        let text = super::log::with_receipts(uow, text, None)?;
        reply_about(uow, to, &text, req, lists)?;
        uow.answered = true;
    }
    Ok(())
}

/// Sends the receipt for a confirmed request to each of the person's proven addresses but
/// the one being answered (which gets the answer, with the same facts). Returns how many.
pub fn receipts(uow: &mut Uow<'_>, req: &Request, template: &str) -> anyhow::Result<usize> {
    let mut emails = uow.db.verified_emails(req.person_id)?;
    if let Some(answer) = uow.answer_address() {
        emails.retain(|e| e != answer.as_str());
    }
    for email in &emails {
        queue(uow, template, req, email, None, false)?;
    }
    Ok(emails.len())
}

/// Every mail about a request carries a fresh reply token (in its Reply-To), tied to the
/// request and the recipient; a mail answering an email says so in In-Reply-To.
fn insert(
    uow: &mut Uow<'_>,
    template: &str,
    req: Option<&Request>,
    recipient: &str,
    rendered: &Rendered,
    scrub_after_send: bool,
    lists: bool,
) -> anyhow::Result<()> {
    let now = uow.now;
    let token = match req {
        Some(r) => {
            let token = crypto::new_reply_token();
            let expires = now + chrono::Duration::days(i64::from(uow.config().response_days));
            uow.db.add_reply_token(&NewToken {
                token: &token,
                request: r.id,
                lists,
                email: recipient,
                now,
                expires_at: expires,
            })?;
            Some(token)
        }
        None => None,
    };
    let in_reply_to = match &uow.call.answer {
        AnswerTo::Mail { to, in_reply_to } if to.as_str() == recipient => in_reply_to.as_deref(),
        _ => None,
    };
    let thread_root = match req {
        Some(r) => uow.db.thread_root(r.id, recipient)?,
        None => None,
    };
    let message_id = new_message_id(&uow.config().mail_from);
    let mail = NewMail {
        message_id: &message_id,
        thread_root: thread_root.as_deref(),
        person_id: req.map(|r| r.person_id),
        request_id: req.map(|r| r.id),
        template,
        recipient,
        subject: &rendered.subject,
        body_text: &rendered.text,
        body_html: &rendered.html,
        scrub_after_send,
        reply_token: token.as_deref(),
        in_reply_to,
        attachment: None,
    };
    uow.db.queue_mail(&mail, now).context("queueing mail")?;
    uow.mailed = true;
    Ok(())
}

/// A mail to one privacy officer about no one in particular (the monthly report with its CSV
/// attached, the weekly digest).
pub fn queue_to_officer(
    uow: &mut Uow<'_>,
    template: &str,
    officer: &EmailAddress,
    rendered: &Rendered,
    attachment: Option<(&str, &str)>,
) -> anyhow::Result<()> {
    let message_id = new_message_id(&uow.config().mail_from);
    let mail = NewMail {
        message_id: &message_id,
        person_id: None,
        request_id: None,
        template,
        recipient: officer.as_str(),
        subject: &rendered.subject,
        body_text: &rendered.text,
        body_html: &rendered.html,
        scrub_after_send: false,
        reply_token: None,
        in_reply_to: None,
        thread_root: None,
        attachment,
    };
    uow.db
        .queue_mail(&mail, uow.now)
        .with_context(|| format!("queueing the {template} mail"))?;
    uow.mailed = true;
    Ok(())
}
