//! The person's follow-ups: `/verify` a code, `/confirm` a deletion, `/cancel` what waits.

use super::{
    file::{MAX_CODE_ATTEMPTS, code_salt, confirm_waiting},
    limits, mail, people,
    reply::{Answers, Reply},
    texts, transitions,
    uow::Uow,
};
use crate::{
    domain::{Actor, EmailAddress, RequestKind, RequestState, command::parse_code},
    error::{ServiceError, UserError},
};

/// What a `/verify` came to. A wrong code is counted (and kept) even though the person is
/// refused, so the refusal travels as a value rather than as an error that would undo it.
pub enum Verified {
    Done(Reply),
    WrongCode(UserError),
}

impl Answers for Verified {
    fn reply_mut(&mut self) -> Option<&mut Reply> {
        match self {
            Verified::Done(reply) => Some(reply),
            Verified::WrongCode(_) => None,
        }
    }
}

/// `/verify code:NNNNNN`: proves control of the address a code was sent to.
pub fn verify(uow: &mut Uow<'_>, actor: &Actor, code: &str) -> Result<Verified, ServiceError> {
    let code = parse_code(code)?;
    let now = uow.now;
    let language = texts::language(uow);
    let person = people::find(uow.db, actor)?.ok_or_else(texts::nothing_waiting)?;
    let v = uow
        .db
        .pending_code_of(person)?
        .ok_or_else(|| UserError::said("no_code_waiting", &[]))?;
    if v.expires_at <= now {
        return Err(UserError::said("code_expired", &[]).into());
    }
    if v.attempts >= MAX_CODE_ATTEMPTS {
        return Err(UserError::said("code_used_up", &[]).into());
    }
    // Guesses are counted per asker and address, over all its codes: asking for a new code
    // gives no new tries beyond the day's, and a stranger's guesses never lock the owner out.
    let address = limits::guesses(actor, &v.email);
    limits::check(uow, limits::Kind::CodeTries, &address)?;
    if !uow
        .ctx
        .keys
        .code_matches(&code_salt(v.request_id, &v.email), &code, &v.code_hash)
    {
        uow.db.count_attempt(v.id)?;
        limits::count(uow, limits::Kind::CodeTries, &address)?;
        let left = (MAX_CODE_ATTEMPTS - v.attempts - 1).to_string();
        return Ok(Verified::WrongCode(UserError::new(texts::say(
            language,
            "code_wrong",
            &[("left", &left)],
        ))));
    }
    uow.db.mark_verified(v.id, now)?;
    people::link_address(uow, person, &v.email)?;
    let mut req = uow
        .db
        .request(v.request_id)?
        .ok_or_else(|| anyhow::anyhow!("verification {} has no request", v.id))?;
    let masked = EmailAddress::parse(&v.email)
        .map(|e| e.masked())
        .unwrap_or_default();
    let kind = req.kind;
    let channel = uow.call.channel.as_str();
    let id = req.id.to_string();
    let kind_label = texts::kind(language, kind);
    let reply = match req.state {
        RequestState::AwaitingConfirmation
            if kind == RequestKind::Deletion && req.person_confirmed_at.is_none() =>
        {
            mail::queue(uow, "request_received", &req, &v.email, None, false)?;
            let text = texts::say(
                language,
                "verified_deletion_waits",
                &[("address", &masked), ("id", &id)],
            );
            Reply::about(&req, text)
        }
        RequestState::AwaitingConfirmation => {
            let sent = confirm_waiting(uow, &mut req, channel)?;
            let text = format!(
                "{} {}{}",
                texts::say(
                    language,
                    "verified_and_confirmed",
                    &[("address", &masked), ("id", &id), ("kind", kind_label)],
                ),
                texts::confirmed_consequence(uow, language, &req),
                texts::receipt_note(uow, language, sent, kind)
            );
            Reply::about(&req, text).with_receipt()
        }
        _ => {
            mail::queue(uow, "change_confirmed", &req, &v.email, None, false)?;
            let text = texts::say(
                language,
                "verified_and_linked",
                &[("address", &masked), ("id", &id), ("kind", kind_label)],
            );
            Reply::about(&req, text).with_receipt()
        }
    };
    Ok(Verified::Done(reply))
}

/// `/confirm`: the explicit second step a deletion needs.
pub fn confirm(uow: &mut Uow<'_>, actor: &Actor) -> Result<Reply, ServiceError> {
    let now = uow.now;
    let language = texts::language(uow);
    let person = people::find(uow.db, actor)?.ok_or_else(texts::nothing_waiting)?;
    let Some(mut req) = uow.db.open_of_kind(person, RequestKind::Deletion)? else {
        return Err(UserError::said("no_deletion_waiting", &[]).into());
    };
    let id = req.id.to_string();
    if req.state == RequestState::Confirmed {
        let text = texts::say(
            language,
            "deletion_already_confirmed",
            &[("id", &id), ("due", &uow.ctx.show_time(req.due_at))],
        );
        return Ok(Reply::about(&req, text));
    }
    uow.db.set_person_confirmed(req.id, now)?;
    req.person_confirmed_at = Some(now);
    let reply = if let Some(v) = uow.db.latest_code_for_request(req.id)? {
        let masked = EmailAddress::parse(&v.email)
            .map(|e| e.masked())
            .unwrap_or_default();
        let text = texts::say(
            language,
            "deletion_needs_code",
            &[("id", &id), ("address", &masked)],
        );
        Reply::about(&req, text)
    } else {
        let channel = uow.call.channel.as_str();
        let sent = confirm_waiting(uow, &mut req, channel)?;
        let text = format!(
            "{} {}{}",
            texts::say(language, "deletion_confirmed", &[("id", &id)]),
            texts::confirmed_consequence(uow, language, &req),
            texts::receipt_note(uow, language, sent, RequestKind::Deletion)
        );
        Reply::about(&req, text).with_receipt()
    };
    Ok(reply)
}

/// `/cancel` (`only` = None): drops every request still waiting for the person, and a
/// confirmed deletion that has not been carried out yet. With `only`, that one request (the
/// Cancel button under a deletion). Recorded choices are changed by the opposite choice.
pub fn cancel(uow: &mut Uow<'_>, actor: &Actor, only: Option<i64>) -> Result<Reply, ServiceError> {
    let person = people::find(uow.db, actor)?.ok_or_else(texts::nothing_waiting)?;
    let language = texts::language(uow);
    let mut cancelled = Vec::new();
    for mut req in uow.db.open_for_person(person)? {
        let cancellable = (req.state == RequestState::AwaitingConfirmation
            || req.kind == RequestKind::Deletion)
            && only.is_none_or(|id| id == req.id);
        if cancellable {
            let note = Some("cancelled by the person".to_owned());
            transitions::transition(
                uow,
                &mut req,
                RequestState::Cancelled,
                uow.call.channel.as_str(),
                note,
                uow.now,
            )?;
            cancelled.push(texts::say(
                language,
                "cancelled_item",
                &[
                    ("kind", texts::kind(language, req.kind)),
                    ("id", &req.id.to_string()),
                ],
            ));
        }
    }
    if cancelled.is_empty() {
        return Err(UserError::said("nothing_to_cancel", &[]).into());
    }
    let text = texts::say(language, "cancelled", &[("list", &cancelled.join(", "))]);
    let mut reply = Reply::text(text).with_receipt();
    reply.request_id = only;
    Ok(reply)
}
