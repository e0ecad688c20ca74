//! The email channel: a reply carrying our token, or a new message to the privacy address,
//! read once and acted on only when it is safe to. One message is one unit of work: its
//! claim, what it proves, what it changes and the answer it gets are kept together or not
//! at all.

use chrono::Duration;

use super::{
    file::{self, confirm_waiting},
    limits, mail, status, texts, transitions,
    uow::Uow,
};
use crate::store::requests::Filed;
use crate::{
    db::requests::{NewRequest, Request},
    domain::{Actor, Channel, EmailAddress, Language, RequestKind, RequestState, deadline},
    email::inbound::{
        self, InboundMail, anchor, intent,
        intent::{Decision, Reading, Word},
        words,
    },
    error::{ServiceError, UserError},
};

/// What became of one inbound message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Disposition {
    /// A use-case ran; its answer is in the outbox.
    Acted,
    /// Nothing was done; a polite answer says what to do instead (unless one went to this
    /// address in the last day).
    Refused(&'static str),
    /// Automatic mail (auto-reply, bounce, list, our own): recorded, never answered.
    IgnoredAutomatic(&'static str),
    /// Kept for a person to look at: it could not be read.
    Held,
    /// Seen before; nothing happened this time.
    Duplicate,
    /// Its sender sent more than they may just now; nothing was recorded, and the message is
    /// to be read again later (left in the mailbox, or the pipe told to try again).
    Deferred,
}

/// The request and address a valid reply token stands for, and the texts of our mail about
/// it to that address (what the reply may quote).
#[derive(Clone)]
struct Target {
    request: Request,
    /// The mail listed the person's requests (the status answer).
    lists: bool,
    email: EmailAddress,
    originals: Vec<String>,
    /// The subjects of those mails.
    subjects: Vec<String>,
}

/// Reads one parsed message (its input already claimed) and does what it safely can.
pub fn handle(uow: &mut Uow<'_>, mail: &InboundMail) -> Result<Disposition, ServiceError> {
    if let Some(reason) = mail.automatic {
        uow.dispose("ignored_automatic")?;
        return Ok(Disposition::IgnoredAutomatic(reason));
    }
    let target = reply_target(uow, mail)?;
    // Whoever holds the address is answered in the language they chose, if they chose one.
    if let Some(to) = uow.answer_address() {
        uow.chosen_language = match uow.db.identity("email", to.as_str())? {
            Some(i) if i.verified_at.is_some() => uow.db.chosen_language(i.person)?,
            _ => None,
        };
    }
    let acted = match &target {
        // Read against our own mail: what reproduces it is history, wherever it stands.
        Some(Ok(target)) => {
            let originals: Vec<&str> = target.originals.iter().map(String::as_str).collect();
            let own = anchor::own_text(&mail.body, &originals);
            let subjects: Vec<&str> = target.subjects.iter().map(String::as_str).collect();
            let own = if anchor::words(&own).is_empty() {
                // Nothing of the person's own in the body (some mobile clients answer in the
                // Subject): the Subject, without "Re:" and our own subject, if it says one thing.
                own_subject(&mail.subject, &subjects)
            } else {
                own
            };
            let reading = intent::read_all(&own);
            let language = words::language_asked(&own);
            uow.attempt(|uow| match language {
                Some(language) => choose_language(uow, target, language, reading),
                None => act_on_reply(uow, target, reading),
            })
        }
        Some(Err(why)) => return refuse(uow, why),
        None => {
            let mut reading = intent::read_all(&mail.new_text);
            if reading.decision == Decision::Nothing {
                reading = intent::read_all(strip_reply_prefixes(&mail.subject));
            }
            if reading.decision == Decision::Nothing {
                // Not a reply to us and no instruction in it: when in doubt it is a machine
                // (an acknowledgement, a notice), and an answer could start a loop.
                uow.dispose("ignored_automatic")?;
                return Ok(Disposition::IgnoredAutomatic(
                    "a new message with no instruction",
                ));
            }
            uow.attempt(|uow| act_on_new_mail(uow, reading))
        }
    };
    match acted {
        Ok(()) => Ok(Disposition::Acted),
        Err(ServiceError::User(e)) => {
            let about = match &target {
                Some(Ok(t)) => Some(&t.request),
                _ => None,
            };
            let text = e.in_language(texts::language(uow));
            answer_refusal(uow, &text, about)?;
            Ok(Disposition::Refused("could not act"))
        }
        Err(e) => Err(e),
    }
}

/// The request a reply points at, through a plus-address token or In-Reply-To/References;
/// `Some(Err)` when it points at something we cannot honour.
fn reply_target(
    uow: &Uow<'_>,
    mail: &InboundMail,
) -> anyhow::Result<Option<Result<Target, &'static str>>> {
    let mut found = None;
    for t in &mail.tokens {
        if let Some(tok) = uow.db.reply_token(t)? {
            found = Some(tok);
            break;
        }
    }
    if found.is_none() {
        for r in &mail.references {
            if let Some(tok) = uow.db.reply_token_of_mail(r)? {
                found = Some(tok);
                break;
            }
        }
    }
    let Some(tok) = found else {
        return Ok((!mail.tokens.is_empty()).then_some(Err("unknown token")));
    };
    if tok.expires_at <= uow.now {
        return Ok(Some(Err("expired token")));
    }
    if tok.email != mail.from.as_str() {
        return Ok(Some(Err("sender does not match")));
    }
    let Some(request) = uow.db.request(tok.request_id)? else {
        return Ok(Some(Err("unknown token")));
    };
    let ours = uow.db.texts_about(request.id, mail.from.as_str())?;
    let subjects = ours.iter().map(|(subject, _, _)| subject.clone()).collect();
    let originals = ours
        .into_iter()
        .flat_map(|(_, text, html)| [text, inbound::html_to_text(&html)])
        .collect();
    Ok(Some(Ok(Target {
        lists: tok.lists || request.kind == RequestKind::Status,
        request,
        email: mail.from.clone(),
        originals,
        subjects,
    })))
}

/// A yes in a reply with our token, from the address it was sent to, proves control of that
/// address and consents to linking it to the person whose request the mail was about.
fn prove_email(uow: &Uow<'_>, t: &Target) -> anyhow::Result<()> {
    super::people::link_address(uow, t.request.person_id, t.email.as_str())?;
    uow.db
        .mark_verified_by_reply(t.request.id, t.email.as_str(), uow.now)?;
    Ok(())
}

/// Who holds the address the reply came from, if anyone proved it.
fn holder(uow: &Uow<'_>, t: &Target) -> anyhow::Result<Option<i64>> {
    Ok(uow
        .db
        .identity("email", t.email.as_str())?
        .filter(|i| i.verified_at.is_some())
        .map(|i| i.person))
}

/// "language: Deutsch" in a reply: the address's holder is answered in that language from
/// now on, about their open requests too; anything else the reply says is then done.
fn choose_language(
    uow: &mut Uow<'_>,
    t: &Target,
    language: Language,
    reading: Reading,
) -> Result<(), ServiceError> {
    let person = match holder(uow, t)? {
        Some(p) => p,
        // Their own request, made from this address: the address is theirs to act with.
        None if t.request.channel == Channel::Email => {
            prove_email(uow, t)?;
            t.request.person_id
        }
        None => return Err(UserError::said("mail_language_not_yours", &[]).into()),
    };
    uow.db.choose_language(person, language)?;
    uow.chosen_language = Some(language);
    if reading.decision != Decision::Nothing {
        let mut t = t.clone();
        t.request.language = language;
        return act_on_reply(uow, &t, reading);
    }
    let text = texts::say(texts::language(uow), "language_set", &[]);
    mail::answer(uow, &text, Some(&t.request))?;
    Ok(())
}

/// A no (or "this was not me") in a reply. To the person's own request it is a cancel. To a
/// request someone else made naming this address, it refuses the link: the code stops
/// working, a request that waited for the address is cancelled, and the requester is told
/// only that the address could not be confirmed.
fn said_no(uow: &mut Uow<'_>, t: &Target) -> Result<(), ServiceError> {
    let address = t.email.as_str();
    let holder = holder(uow, t)?;
    let mut req = uow
        .db
        .request(t.request.id)?
        .ok_or_else(|| anyhow::anyhow!("request #{} is gone", t.request.id))?;
    let own = holder == Some(req.person_id) || (holder.is_none() && req.channel == Channel::Email);
    let refused = uow.db.refuse(req.id, address, uow.now)?;
    let cancellable = if own {
        req.state == RequestState::AwaitingConfirmation || req.kind == RequestKind::Deletion
    } else {
        req.state == RequestState::AwaitingConfirmation
    } && req.state.is_open();
    let language = texts::language(uow);
    let id = req.id.to_string();
    if own && !cancellable {
        return Err(UserError::new(texts::say(
            language,
            "mail_nothing_to_cancel",
            &[
                ("id", &id),
                ("kind", texts::kind(language, req.kind)),
                ("state", texts::state(language, req.state)),
            ],
        ))
        .into());
    }
    if cancellable {
        let note = if own {
            "cancelled by the person"
        } else {
            "the address it named was not confirmed by its owner"
        };
        transitions::transition(
            uow,
            &mut req,
            RequestState::Cancelled,
            "email",
            Some(note.to_owned()),
            uow.now,
        )?;
    }
    let text = if own {
        texts::say(
            language,
            "mail_cancelled",
            &[("id", &id), ("kind", texts::kind(language, req.kind))],
        )
    } else {
        if refused || cancellable {
            super::people::tell_link_refused(
                uow,
                req.person_id,
                address,
                cancellable.then_some(req.id),
            )?;
        }
        texts::say(language, "mail_link_refused", &[])
    };
    mail::answer(uow, &text, own.then_some(&req))?;
    Ok(())
}

/// A reply to our mail. Proof is consent: the address is proven (and linked) only by a yes.
/// Any other instruction is the address holder's own, and proves nothing about the request
/// the mail was about.
fn act_on_reply(uow: &mut Uow<'_>, t: &Target, reading: Reading) -> Result<(), ServiceError> {
    let word = match reading.decision {
        Decision::Act(w) => Some(w),
        // "Yes, delete my data" to a deletion waiting for a yes is that yes.
        Decision::ConfirmWith(w) if Some(w) == choice_word(t.request.kind) => Some(Word::Confirm),
        Decision::ConfirmWith(_) | Decision::Unclear => return Err(unclear()),
        Decision::Nothing => None,
    };
    // The choice a waiting request is for, said again, is its yes.
    let word = match word {
        Some(w)
            if Some(w) == choice_word(t.request.kind)
                && t.request.state == RequestState::AwaitingConfirmation =>
        {
            Some(Word::Confirm)
        }
        other => other,
    };
    let t = &match word {
        Some(Word::Confirm | Word::Cancel) => which_request(uow, t, word, reading.request)?,
        _ => t.clone(),
    };
    let actor = Actor::Email(t.email.clone());
    uow.thread_language = Some(t.request.language);
    let reply = match word {
        Some(Word::Confirm) => {
            prove_email(uow, t)?;
            return confirm_request(uow, &actor, t.request.id);
        }
        Some(Word::Cancel) => return said_no(uow, t),
        Some(_) if t.request.channel == Channel::Email && holder(uow, t)?.is_none() => {
            // Their own request, made from this address: the address is theirs to act with.
            prove_email(uow, t)?;
            return act_on_reply(uow, t, reading);
        }
        Some(Word::OptOut) => file::file_request(uow, &actor, RequestKind::OptOut, None)?,
        Some(Word::OptIn) => file::file_request(uow, &actor, RequestKind::OptIn, None)?,
        Some(Word::Delete) => file::file_request(uow, &actor, RequestKind::Deletion, None)?,
        Some(Word::Status) => status::status(uow, &actor)?,
        None => return Err(UserError::said("mail_no_instruction", &[]).into()),
    };
    mail::answer(uow, &reply.text, reply.about.as_ref())?;
    Ok(())
}

/// The answer to a reply that says two things, or says one and takes it back or asks it.
fn unclear() -> ServiceError {
    UserError::said("mail_unclear", &[]).into()
}

/// The word that makes the choice a request of `kind` is for.
fn choice_word(kind: RequestKind) -> Option<Word> {
    match kind {
        RequestKind::OptOut => Some(Word::OptOut),
        RequestKind::OptIn => Some(Word::OptIn),
        RequestKind::Deletion => Some(Word::Delete),
        RequestKind::Status => None,
    }
}

/// The request a yes or a no in a reply is about: the one the mail was about; or, when that
/// mail listed the person's requests (the status answer) or the reply names one (`#N`), the
/// one named, or the only one that can take the answer. With several and no number, nothing
/// changes and the answer lists them.
fn which_request(
    uow: &Uow<'_>,
    t: &Target,
    word: Option<Word>,
    named: Option<i64>,
) -> Result<Target, ServiceError> {
    let takes = |r: &Request| match word {
        Some(Word::Confirm) => r.state == RequestState::AwaitingConfirmation,
        _ => r.state == RequestState::AwaitingConfirmation || r.kind == RequestKind::Deletion,
    };
    let listed = t.lists;
    if !listed && named.is_none_or(|n| n == t.request.id) {
        return Ok(t.clone());
    }
    let mine = |r: &Request| r.person_id == t.request.person_id;
    let candidates: Vec<Request> = uow
        .db
        .open_for_person(t.request.person_id)?
        .into_iter()
        .filter(|r| mine(r) && takes(r))
        .collect();
    let language = texts::language(uow);
    let chosen = match named {
        Some(n) => candidates
            .iter()
            .find(|r| r.id == n)
            .cloned()
            .ok_or_else(|| UserError::said("mail_not_yours", &[("id", &n.to_string())]))?,
        None => match candidates.as_slice() {
            [one] => one.clone(),
            [] => return Err(UserError::said("mail_none_waits", &[]).into()),
            several => {
                let list: Vec<String> = several
                    .iter()
                    .map(|r| {
                        texts::say(
                            language,
                            "mail_several_item",
                            &[
                                ("id", &r.id.to_string()),
                                ("kind", texts::kind(language, r.kind)),
                                ("state", texts::state(language, r.state)),
                            ],
                        )
                    })
                    .collect();
                return Err(UserError::new(texts::say(
                    language,
                    "mail_several",
                    &[
                        ("list", &list.join(", ")),
                        ("first", &several[0].id.to_string()),
                    ],
                ))
                .into());
            }
        },
    };
    Ok(Target {
        request: chosen,
        ..t.clone()
    })
}

/// "confirm" in a reply: the request the reply belongs to goes ahead (for a deletion, this
/// is the explicit second confirmation).
fn confirm_request(uow: &mut Uow<'_>, actor: &Actor, request_id: i64) -> Result<(), ServiceError> {
    let now = uow.now;
    let person = super::people::find(uow.db, actor)?;
    let mut req = uow
        .db
        .request(request_id)?
        .filter(|r| Some(r.person_id) == person)
        .ok_or_else(|| UserError::said("mail_cannot_confirm", &[]))?;
    let kind = req.kind;
    let language = texts::language(uow);
    let id = req.id.to_string();
    let kind_label = texts::kind(language, kind);
    let waits_for_chat = kind == RequestKind::Deletion
        && req.channel != Channel::Email
        && req.person_confirmed_at.is_none();
    let text = if req.state == RequestState::AwaitingConfirmation && waits_for_chat {
        texts::say(language, "mail_needs_chat_too", &[("id", &id)])
    } else if req.state == RequestState::AwaitingConfirmation {
        if kind == RequestKind::Deletion {
            uow.db.set_person_confirmed(req.id, now)?;
        }
        confirm_waiting(uow, &mut req, "email")?;
        let consequence = texts::confirmed_consequence(uow, language, &req);
        texts::say(
            language,
            "mail_confirmed",
            &[
                ("id", &id),
                ("kind", kind_label),
                ("consequence", &consequence),
            ],
        )
    } else if req.state == RequestState::Confirmed && kind != RequestKind::Deletion {
        let consequence = texts::choice_consequence(uow.config(), language, kind);
        texts::say(
            language,
            "mail_linked",
            &[
                ("id", &id),
                ("kind", kind_label),
                ("consequence", &consequence),
            ],
        )
    } else {
        texts::say(
            language,
            "mail_already",
            &[
                ("id", &id),
                ("kind", kind_label),
                ("state", texts::state(language, req.state)),
            ],
        )
    };
    mail::answer(uow, &text, Some(&req))?;
    Ok(())
}

/// A new message without a token. Anyone can write any From line, so a change waits for a
/// confirming reply from the address; a status question is answered to the address only.
fn act_on_new_mail(uow: &mut Uow<'_>, reading: Reading) -> Result<(), ServiceError> {
    let word = match reading.decision {
        Decision::Act(w) | Decision::ConfirmWith(w) => Some(w),
        Decision::Unclear => return Err(unclear()),
        Decision::Nothing => None,
    };
    let kind = match word {
        Some(Word::OptOut) => RequestKind::OptOut,
        Some(Word::OptIn) => RequestKind::OptIn,
        Some(Word::Delete) => RequestKind::Deletion,
        Some(Word::Status) => return status_for_address(uow),
        Some(Word::Confirm | Word::Cancel) => {
            return Err(UserError::said("mail_which_request", &[]).into());
        }
        None => return Err(UserError::said("mail_what_to_do", &[]).into()),
    };
    let sender = sender(uow)?;
    let now = uow.now;
    // One sender, one person and one waiting request of a kind, however often they write: a
    // repeat files nothing, and is answered at most once a day.
    let sender_hash = super::erasure::sender_hash(uow, sender.as_str());
    if let Some(waiting) = uow.db.sender_waiting(&sender_hash, kind)? {
        let again = uow.ctx.keys.identity_hash("waiting", sender.as_str());
        uow.answered = true;
        if uow.db.may_answer(&again, now, Duration::days(1))? {
            let req = uow
                .db
                .request(waiting)?
                .ok_or_else(|| anyhow::anyhow!("request #{waiting} is gone"))?;
            mail::queue(uow, "confirm_by_reply", &req, sender.as_str(), None, false)?;
        }
        return Ok(());
    }
    let person = match uow.db.identity("email", sender.as_str())? {
        Some(i) => i.person,
        None => match uow.db.sender_person(&sender_hash)? {
            Some(p) => p,
            None => uow.db.new_person(now)?,
        },
    };
    let req = match uow.db.open_of_kind(person, kind)? {
        Some(open) => open,
        None => {
            limits::take(
                uow,
                limits::Kind::RequestsPerHour,
                &format!("email:{}", sender.mailbox()),
            )?;
            let new = NewRequest {
                person_id: person,
                kind,
                channel: Channel::Email,
                state: RequestState::AwaitingConfirmation,
                received_at: now,
                deadline_offset_us: deadline::offset_micros(now, uow.config().policy_deadline),
                due_at: deadline::due_at(now, uow.config().response_days),
                language: uow.language(),
            };
            match uow.db.file(&new)? {
                Filed::New(req) => {
                    transitions::record_new(uow, &req, "email")?;
                    uow.db.record_sender(req.id, &sender_hash)?;
                    req
                }
                Filed::Already(open) => open,
            }
        }
    };
    if req.state == RequestState::AwaitingConfirmation {
        // The confirmation request is the answer: a proof mail like a code, so it counts
        // towards what the inbox may be sent a day (a forged From line could name anyone).
        uow.answered = true;
        match limits::take(uow, limits::Kind::CodeMails, &limits::inbox(sender)) {
            Err(ServiceError::User(_)) => {
                uow.dispose("limited")?;
                tracing::info!("no confirmation asked for: the inbox had as many as it may today");
            }
            other => {
                other?;
                mail::queue(uow, "confirm_by_reply", &req, sender.as_str(), None, false)?;
            }
        }
    } else {
        let language = texts::language(uow);
        let text = texts::say(
            language,
            "already_recorded",
            &[
                ("id", &req.id.to_string()),
                ("kind", texts::kind(language, kind)),
                ("state", texts::state(language, req.state)),
            ],
        );
        mail::answer(uow, &text, Some(&req))?;
    }
    Ok(())
}

/// A status question from an address: answered to that address only, from the records (it
/// files nothing). The answer lists the person's requests, so replying to it reaches them.
fn status_for_address(uow: &mut Uow<'_>) -> Result<(), ServiceError> {
    let sender = sender(uow)?;
    match uow.db.identity("email", sender.as_str())? {
        Some(i) if i.verified_at.is_some() => {
            let (text, first) = status::answer(uow, Some(i.person))?;
            mail::answer_as(uow, &text, first.as_ref(), true)?;
        }
        _ => {
            let text = texts::say(texts::language(uow), "mail_nothing_for_address", &[]);
            mail::answer(uow, &text, None)?
        }
    }
    Ok(())
}

/// A reply we cannot honour: one polite answer saying what to do instead.
fn refuse(uow: &mut Uow<'_>, why: &'static str) -> Result<Disposition, ServiceError> {
    let privacy = uow.config().inbound.reply_address.to_string();
    let key = match why {
        "expired token" => "mail_token_expired",
        "sender does not match" => "mail_sender_mismatch",
        _ => "mail_unmatched",
    };
    let text = texts::say(texts::language(uow), key, &[("privacy", &privacy)]);
    answer_refusal(uow, &text, None)?;
    Ok(Disposition::Refused(why))
}

/// Records the message as refused and answers the sender, at most once a day (so no loop
/// with an auto-responder can form); the answer is about `about` when the message answered
/// a mail of ours, so replying to it leads back there.
fn answer_refusal(uow: &mut Uow<'_>, text: &str, about: Option<&Request>) -> anyhow::Result<()> {
    uow.dispose("refused")?;
    let to = sender(uow)?;
    let hash = uow.ctx.keys.identity_hash("answered", to.as_str());
    if uow.db.may_answer(&hash, uow.now, Duration::days(1))? {
        mail::reply(uow, to, text, about)?;
        uow.answered = true;
    } else {
        tracing::info!("refusal not answered: this address had one in the last day");
    }
    Ok(())
}

fn sender<'a>(uow: &Uow<'a>) -> anyhow::Result<&'a EmailAddress> {
    uow.answer_address()
        .ok_or_else(|| anyhow::anyhow!("an email use-case ran without an address to answer"))
}

/// What the person wrote in a reply's Subject: without "Re:" and the like, and without the
/// subject of ours it answers.
fn own_subject(subject: &str, ours: &[&str]) -> String {
    let mut s = strip_reply_prefixes(subject).to_owned();
    for o in ours {
        let o = strip_reply_prefixes(o);
        if !o.is_empty() {
            s = s.replace(o, " ");
        }
    }
    s
}

fn strip_reply_prefixes(subject: &str) -> &str {
    let mut s = subject.trim();
    loop {
        let lower = s.to_ascii_lowercase();
        match ["re:", "fwd:", "fw:", "aw:", "tr:", "sv:", "wg:"]
            .iter()
            .find(|p| lower.starts_with(*p))
        {
            Some(p) => s = s[p.len()..].trim_start(),
            None => return s,
        }
    }
}
