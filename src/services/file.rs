//! Filing opt-out, opt-in and deletion requests, and what happens when one is confirmed.

use chrono::Duration;

use super::{limits, mail, people, reply::Reply, status, texts, transitions, uow::Uow};
use crate::store::{requests::Filed, verifications::NewCode};
use crate::{
    crypto,
    db::requests::{NewRequest, Request},
    domain::{Actor, EmailAddress, RequestKind, RequestState, deadline},
    email::labels::Labels,
    error::ServiceError,
    store::Store,
};

pub const MAX_CODE_ATTEMPTS: i64 = 5;

/// `/optout`, `/optin`, `/delete`, with an optional email address to prove and link.
pub fn file_request(
    uow: &mut Uow<'_>,
    actor: &Actor,
    kind: RequestKind,
    email: Option<EmailAddress>,
) -> Result<Reply, ServiceError> {
    if kind == RequestKind::Status {
        return status::status(uow, actor);
    }
    let now = uow.now;
    let channel = uow.call.channel;
    // Someone met for the first time has no requests, addresses or choices to look up.
    let (person, fresh) = people::resolve(uow.db, actor, now)?;

    let proof_needed = match &email {
        Some(e) => fresh || !is_proven_for(uow.db, person, e)?,
        None => false,
    };

    let open = if fresh {
        None
    } else {
        uow.db.open_of_kind(person, kind)?
    };
    let language = texts::language(uow);
    let labels = Labels::of(language);
    if let Some(open) = open {
        return already_recorded(uow, actor, &open, email.as_ref().filter(|_| proof_needed));
    }

    limits::take(uow, limits::Kind::RequestsPerHour, &limits::subject(actor))?;
    // A choice made on an authenticated channel stands at once; an address given with it is
    // proven on its own. Deletion cannot be undone, so it always waits for a second word.
    let state = if kind == RequestKind::Deletion {
        RequestState::AwaitingConfirmation
    } else {
        RequestState::Confirmed
    };
    let new = NewRequest {
        person_id: person,
        kind,
        channel,
        state,
        received_at: now,
        deadline_offset_us: deadline::offset_micros(now, uow.config().policy_deadline),
        due_at: deadline::due_at(now, uow.config().response_days),
        language: uow.language(),
    };
    let mut req = match uow.db.file(&new)? {
        Filed::New(req) => req,
        // Another process filed the same between the look above and this insert.
        Filed::Already(open) => {
            return already_recorded(uow, actor, &open, email.as_ref().filter(|_| proof_needed));
        }
    };
    transitions::record_new(uow, &req, channel.as_str())?;

    let mut text = texts::say(
        language,
        "recorded",
        &[
            ("kind", labels.kind(kind)),
            ("id", &req.id.to_string()),
            ("offset", &uow.ctx.describe_offset_in(now, language)),
        ],
    );
    if state == RequestState::Confirmed {
        let sent = if fresh {
            0
        } else {
            on_confirmed(uow, &mut req, channel.as_str())?
        };
        text.push_str(&format!(
            " {}",
            texts::choice_consequence(uow.config(), language, kind)
        ));
        if !proof_needed {
            text.push_str(&texts::receipt_note(uow, language, sent, kind));
        }
    }
    if let Some(e) = email.as_ref().filter(|_| proof_needed) {
        start_email_proof(uow, &req, e)?;
        text.push_str(&format!(
            " {}",
            texts::proof_instructions(language, e, uow.config().code_ttl_minutes)
        ));
        if state == RequestState::Confirmed {
            text.push(' ');
            text.push_str(&texts::say(language, "confirmation_goes_there", &[]));
        }
    }
    if kind == RequestKind::Deletion {
        let waits = if uow.by_mail() {
            "deletion_waits_by_mail"
        } else {
            "deletion_waits"
        };
        text.push(' ');
        text.push_str(&texts::say(
            language,
            waits,
            &[("due", &uow.ctx.show_time(req.due_at))],
        ));
        // An account can be borrowed: with an address linked, a deletion asked for in chat
        // is also confirmed from that address (a code, or a reply saying confirm).
        let linked = if fresh {
            Vec::new()
        } else {
            uow.db.verified_emails(person)?
        };
        if !proof_needed
            && !uow.by_mail()
            && let Some(first) = linked.first().and_then(|e| EmailAddress::parse(e).ok())
        {
            start_email_proof(uow, &req, &first)?;
            text.push(' ');
            text.push_str(&texts::say(
                language,
                "linked_code",
                &[("address", &first.masked())],
            ));
        }
    }
    let reply = Reply::about(&req, text);
    Ok(if state == RequestState::Confirmed {
        reply.with_receipt()
    } else {
        reply
    })
}

/// Sends a fresh code for `email` tied to `req`, unless the address had as many code mails
/// today as any address may get, whoever asked for them.
pub fn start_email_proof(
    uow: &mut Uow<'_>,
    req: &Request,
    email: &EmailAddress,
) -> Result<(), ServiceError> {
    limits::take(uow, limits::Kind::CodeMails, &limits::inbox(email))?;
    let now = uow.now;
    let code = crypto::new_code();
    let hash = uow
        .ctx
        .keys
        .code_hash(&code_salt(req.id, email.as_str()), &code);
    let expires = now + Duration::minutes(i64::from(uow.config().code_ttl_minutes));
    uow.db.add_code(&NewCode {
        person: req.person_id,
        request: req.id,
        email: email.as_str(),
        code_hash: &hash,
        now,
        expires_at: expires,
    })?;
    mail::queue(
        uow,
        "confirmation_code",
        req,
        email.as_str(),
        Some(code),
        false,
    )?;
    Ok(())
}

fn code_still_valid(uow: &Uow<'_>, req: &Request, email: &EmailAddress) -> anyhow::Result<bool> {
    Ok(uow.db.latest_code_for_request(req.id)?.is_some_and(|v| {
        v.email == email.as_str() && v.expires_at > uow.now && v.attempts < MAX_CODE_ATTEMPTS
    }))
}

/// A waiting request is confirmed now: its history records the step, then [`on_confirmed`]
/// runs. Returns how many receipts were queued.
pub fn confirm_waiting(uow: &mut Uow<'_>, req: &mut Request, actor: &str) -> anyhow::Result<usize> {
    transitions::transition(uow, req, RequestState::Confirmed, actor, None, uow.now)?;
    on_confirmed(uow, req, actor)
}

/// A request has just become confirmed: the opposite choice stops counting and the person
/// gets a receipt at each proven address. Returns how many receipts were queued.
pub fn on_confirmed(uow: &mut Uow<'_>, req: &mut Request, actor: &str) -> anyhow::Result<usize> {
    if let Some(opposite) = req.kind.opposite_choice()
        && let Some(mut old) = uow.db.open_of_kind(req.person_id, opposite)?
    {
        let to = if old.state == RequestState::Confirmed {
            RequestState::Completed
        } else {
            RequestState::Cancelled
        };
        let note = Some(format!("superseded by request #{}", req.id));
        transitions::transition(uow, &mut old, to, actor, note, uow.now)?;
    }
    mail::receipts(uow, req, "change_confirmed")
}

/// Codes are bound to their request and address, so a code for one cannot prove another.
pub fn code_salt(request_id: i64, email: &str) -> String {
    format!("{request_id}:{email}")
}

/// The answer to a request of a kind the person has open already: that one's number and
/// state, and a fresh proof of `email` when one is to be proven and its last code is spent.
fn already_recorded(
    uow: &mut Uow<'_>,
    actor: &Actor,
    open: &Request,
    email: Option<&EmailAddress>,
) -> Result<Reply, ServiceError> {
    let language = texts::language(uow);
    let labels = Labels::of(language);
    let kind = open.kind;
    let mut text = texts::say(
        language,
        "already_recorded",
        &[
            ("kind", labels.kind(kind)),
            ("id", &open.id.to_string()),
            ("state", labels.state(open.state)),
        ],
    );
    if let Some(e) = email {
        if code_still_valid(uow, open, e)? {
            text.push(' ');
            text.push_str(&texts::say(
                language,
                "code_still_works",
                &[("address", &e.masked())],
            ));
        } else {
            // A repeat that mails someone counts like a new request.
            limits::take(uow, limits::Kind::RequestsPerHour, &limits::subject(actor))?;
            start_email_proof(uow, open, e)?;
            text.push_str(&format!(
                " {}",
                texts::proof_instructions(language, e, uow.config().code_ttl_minutes)
            ));
        }
    }
    Ok(Reply::about(open, text))
}

fn is_proven_for(db: &dyn Store, person: i64, email: &EmailAddress) -> anyhow::Result<bool> {
    Ok(db
        .identity("email", email.as_str())?
        .is_some_and(|k| k.person == person && k.verified_at.is_some()))
}
