//! `/status`: where the person's requests stand and what their standing choice is; and
//! `/privacy`, what the policy is.

use super::{people, reply::Reply, uow::Context, uow::Uow};
use crate::{
    db::{self, requests::Request},
    domain::{Actor, EmailAddress, RequestKind, RequestState, deadline},
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
        Some(p) => (
            db::requests::open_for_person(uow.db, p)?,
            db::identities::verified_emails(uow.db, p)?,
        ),
        None => (Vec::new(), Vec::new()),
    };

    let mut lines = vec![format!("Your choice about \"{}\":", cfg.policy_name)];
    let standing = open
        .iter()
        .find(|r| r.state == RequestState::Confirmed && r.kind.opposite_choice().is_some());
    lines.push(match standing {
        Some(r) => format!(
            "- {} since {} (request #{}).",
            if r.kind == RequestKind::OptOut {
                "Opted out"
            } else {
                "Opted in"
            },
            uow.ctx.show_time(r.updated_at),
            r.id
        ),
        None if now < cfg.policy_deadline => format!(
            "- No choice recorded. If you do nothing by {} ({}), you are treated as opted in.",
            uow.ctx.show_time(cfg.policy_deadline),
            deadline::describe_span(now, cfg.policy_deadline, cfg.display_timezone) + " from now"
        ),
        None => format!(
            "- No choice recorded, so you are treated as opted in (the deadline passed {} ago). {}",
            deadline::describe_span(cfg.policy_deadline, now, cfg.display_timezone),
            if uow.by_mail() {
                "Reply opt out to change that."
            } else {
                "/optout changes that."
            }
        ),
    });
    if let Some(p) = person {
        let applied = super::feed::applied(uow.db, uow.ctx, p)?;
        if !applied.is_empty() {
            lines.push(format!(
                "- The systems that must honour your choice: {}.",
                applied.join("; ")
            ));
        }
    }
    let pending: Vec<_> = open
        .iter()
        .filter(|r| Some(r.id) != standing.map(|s| s.id))
        .collect();
    if pending.is_empty() {
        lines.push("- Nothing else is open.".into());
    }
    for r in pending {
        lines.push(format!(
            "- Request #{} ({}) is {}; due by {} ({}).",
            r.id,
            r.kind.label(),
            r.state.label(),
            uow.ctx.show_time(r.due_at),
            super::officer::due_in_words(super::officer::days_left(r.due_at, now))
        ));
    }
    let masked: Vec<String> = emails
        .iter()
        .filter_map(|e| EmailAddress::parse(e).ok())
        .map(|e| e.masked())
        .collect();
    lines.push(if masked.is_empty() {
        "- No email address is linked; replies come only here.".into()
    } else {
        format!("- Confirmations go to {}.", masked.join(", "))
    });
    let first = match (open.into_iter().next(), person) {
        (Some(r), _) => Some(r),
        (None, Some(p)) => db::requests::for_person(uow.db, p)?.into_iter().next_back(),
        (None, None) => None,
    };
    Ok((lines.join("\n"), first))
}

/// `/privacy`: what the policy is, where the deadline stands, what each choice means, and the
/// key that signs receipts.
///
/// The policy's name is bold on Discord (its Markdown); elsewhere the text is plain.
pub fn privacy_notice(ctx: &Context, channel: crate::domain::Channel) -> String {
    let cfg = &ctx.config;
    let now = ctx.now();
    let when = if now < cfg.policy_deadline {
        format!(
            "in {}",
            deadline::describe_span(now, cfg.policy_deadline, cfg.display_timezone)
        )
    } else {
        format!(
            "{} ago",
            deadline::describe_span(cfg.policy_deadline, now, cfg.display_timezone)
        )
    };
    notice_text(ctx, channel, &when)
}

/// The privacy notice with `when` (how far the deadline is) filled in. Its notice version
/// hashes it with a placeholder there, so the version changes with the notice, not the clock.
pub fn notice_text(ctx: &Context, channel: crate::domain::Channel, when: &str) -> String {
    let bold = if channel == crate::domain::Channel::Discord {
        "**"
    } else {
        ""
    };
    let cfg = &ctx.config;
    let key = ctx.proof.public_key().map_or(String::new(), |vkey| {
        format!(
            "\nEvery confirmation carries a receipt signed by {name}. Anyone can check one with \
             `dsr-bot receipt verify --key KEY FILE`, KEY being this public key:\n{vkey}",
            name = ctx.proof.origin(),
        )
    });
    format!(
        "{bold}{policy}{bold}\n\
         {org} asks whether your data that it holds outside Discord (for example your chats with its AI \
         product) may be used for this purpose. This bot never reads your Discord messages, and nothing you \
         write on Discord is used for it.\n\
         - Deadline: {deadline} ({when}). If you do nothing, you count as opted in.\n\
         - Opt in (/optin): your data may be used and is kept for {kept_in}.\n\
         - Opt out (/optout): it is not used from then on, and data kept only for it is deleted after {kept_out}.\n\
         - Delete (/delete): your data held by {org} is erased; this cannot be undone.\n\
         A change affects future use only. Every request is answered within {days} days; /status shows yours.{key}",
        policy = cfg.policy_name,
        org = cfg.organisation_name,
        deadline = ctx.show_time(cfg.policy_deadline),
        kept_in = cfg.retention_opted_in,
        kept_out = cfg.retention_opted_out,
        days = cfg.response_days,
    )
}
