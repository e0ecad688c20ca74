//! `/status`: where the person's requests stand and what their standing choice is; and
//! `/privacy`, what the policy is.

use super::{people, reply::Reply, texts::say, uow::Context, uow::Uow};
use crate::{
    db::requests::Request,
    domain::{Actor, Channel, EmailAddress, Language, RequestKind, RequestState, deadline},
    email::labels::Labels,
    error::ServiceError,
};

/// Answers from the records and files nothing: a question is not a request. It is still
/// counted by the limits and recorded as a handled input (so a redelivery is one question).
pub fn status(uow: &mut Uow<'_>, actor: &Actor) -> Result<Reply, ServiceError> {
    let (text, listed) = match people::find(uow.db, actor)? {
        Some(person) => answer(uow, Some(person))?,
        None => answer(uow, None)?,
    };
    let mut reply = Reply::text(text);
    reply.about = listed;
    reply.lists = true;
    Ok(reply)
}

/// Where `person`'s requests stand; with the request the answer lists first (the one a reply
/// to it reaches), when there is one.
/// Someone the bot has never seen (`None`) is told the same way, with nothing open.
pub fn answer(uow: &mut Uow<'_>, person: Option<i64>) -> anyhow::Result<(String, Option<Request>)> {
    let now = uow.now;
    let cfg = uow.config();
    let (open, emails) = match person {
        Some(p) => (uow.db.open_for_person(p)?, uow.db.verified_emails(p)?),
        None => (Vec::new(), Vec::new()),
    };

    let language = super::texts::language(uow);
    let say = |key: &str, args: &[(&str, &str)]| super::texts::say(language, key, args);
    let words = &Labels::of(language).offset;
    let span = |from, to| deadline::describe_span_in(from, to, cfg.display_timezone, words);
    let mut lines = vec![say("status_heading", &[("policy", &cfg.policy_name)])];
    let standing = open
        .iter()
        .find(|r| r.state == RequestState::Confirmed && r.kind.opposite_choice().is_some());
    lines.push(match standing {
        Some(r) => say(
            if r.kind == RequestKind::OptOut {
                "status_opted_out"
            } else {
                "status_opted_in"
            },
            &[
                ("since", &uow.ctx.show_time(r.updated_at)),
                ("id", &r.id.to_string()),
            ],
        ),
        None if now < cfg.policy_deadline => say(
            "status_no_choice_yet",
            &[
                ("deadline", &uow.ctx.show_time(cfg.policy_deadline)),
                ("span", &span(now, cfg.policy_deadline)),
            ],
        ),
        None => say(
            if uow.by_mail() {
                "status_no_choice_passed_by_mail"
            } else {
                "status_no_choice_passed"
            },
            &[("span", &span(cfg.policy_deadline, now))],
        ),
    });
    if let Some(p) = person {
        let applied = super::feed::applied(uow.db, uow.ctx, language, p)?;
        if !applied.is_empty() {
            lines.push(say("status_applied", &[("list", &applied.join("; "))]));
        }
    }
    let pending: Vec<_> = open
        .iter()
        .filter(|r| Some(r.id) != standing.map(|s| s.id))
        .collect();
    if pending.is_empty() {
        lines.push(say("status_nothing_else", &[]));
    }
    for r in pending {
        lines.push(say(
            "status_request",
            &[
                ("id", &r.id.to_string()),
                ("kind", super::texts::kind(language, r.kind)),
                ("state", super::texts::state(language, r.state)),
                ("due", &uow.ctx.show_time(r.due_at)),
                (
                    "left",
                    &super::texts::days_left(language, super::officer::days_left(r.due_at, now)),
                ),
            ],
        ));
    }
    let masked: Vec<String> = emails
        .iter()
        .filter_map(|e| EmailAddress::parse(e).ok())
        .map(|e| e.masked())
        .collect();
    lines.push(if masked.is_empty() {
        say("status_no_address", &[])
    } else {
        say("status_addresses", &[("addresses", &masked.join(", "))])
    });
    let first = match (open.into_iter().next(), person) {
        (Some(r), _) => Some(r),
        (None, Some(p)) => uow.db.for_person(p)?.into_iter().next_back(),
        (None, None) => None,
    };
    Ok((lines.join("\n"), first))
}

/// `/privacy`: what the policy is, where the deadline stands, what each choice means, and the
/// key that signs receipts, in `language`.
///
/// The policy's name is bold on Discord (its Markdown); elsewhere the text is plain.
pub fn privacy_notice(ctx: &Context, channel: Channel, language: Language) -> String {
    let cfg = &ctx.config;
    let now = ctx.now();
    let words = &Labels::of(language).offset;
    let tz = cfg.display_timezone;
    let when = if now < cfg.policy_deadline {
        let span = deadline::describe_span_in(now, cfg.policy_deadline, tz, words);
        say(language, "notice_when_future", &[("span", &span)])
    } else {
        let span = deadline::describe_span_in(cfg.policy_deadline, now, tz, words);
        say(language, "notice_when_past", &[("span", &span)])
    };
    let mut text = notice_text(ctx, channel, language, &when);
    if let Some(version) = ctx.proof.notice(channel, language) {
        let version = &version[..version.len().min(12)];
        text.push('\n');
        text.push_str(&say(
            language,
            "notice_version",
            &[("version", version), ("language", language.as_str())],
        ));
    }
    text
}

/// The privacy notice in `language` with `when` (how far the deadline is) filled in. Its
/// notice version hashes it with a placeholder there, so the version changes with the
/// notice, not the clock.
pub fn notice_text(ctx: &Context, channel: Channel, language: Language, when: &str) -> String {
    let bold = if channel == Channel::Discord {
        "**"
    } else {
        ""
    };
    let cfg = &ctx.config;
    let key = ctx.proof.public_key().map_or(String::new(), |vkey| {
        format!(
            "\n{}",
            say(
                language,
                "notice_key",
                &[("name", ctx.proof.origin()), ("key", &vkey)],
            )
        )
    });
    let notice = say(
        language,
        "notice",
        &[
            ("bold", bold),
            ("policy", &cfg.policy_name),
            ("org", &cfg.organisation_name),
            ("deadline", &ctx.show_time(cfg.policy_deadline)),
            ("when", when),
            ("kept_in", &cfg.retention_opted_in),
            ("kept_out", &cfg.retention_opted_out),
            ("days", &cfg.response_days.to_string()),
        ],
    );
    format!("{notice}{key}")
}
