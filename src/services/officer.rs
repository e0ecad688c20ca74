//! What privacy officers do to a request besides completing it: extend its due date once, with
//! a reason the person is told, and keep notes on it.

use chrono::{DateTime, Duration, SecondsFormat, Utc};
use serde::Serialize;

use super::{mail, receipts, uow::Context, uow::Uow};
use crate::store::requests::Requests as _;
use crate::{
    db::{self, events::Event, notes::Note, requests::Listed, requests::Request},
    domain::{Channel, RequestKind, RequestState},
    error::{ServiceError, UserError},
};

/// A request as officers see it: no names or addresses.
#[derive(Debug, Clone, Serialize)]
pub struct ListedRequest {
    pub id: i64,
    pub kind: RequestKind,
    pub state: RequestState,
    pub channel: Channel,
    pub received_at: String,
    pub deadline_offset_seconds: i64,
    pub deadline_offset: String,
    /// When it must be answered by; `None` once it is answered (a confirmed choice, a
    /// completed, cancelled or expired request), as it then has no due date.
    pub due_at: Option<String>,
    pub days_left: Option<i64>,
    pub email_verified: bool,
}

/// How [`days_left`] is said.
pub fn due_in_words(days_left: i64) -> String {
    let plural = |n: i64| if n == 1 { "" } else { "s" };
    if days_left > 0 {
        format!("{days_left} day{} left", plural(days_left))
    } else {
        let late = -days_left;
        format!("{late} day{} overdue", plural(late))
    }
}

/// Whole days until `due`, counting a part of a day as a day: 14 hours left is 1 day left,
/// and 14 hours late is 1 day overdue (-1). Never 0: a request is due in some days or late.
pub fn days_left(due: DateTime<Utc>, now: DateTime<Utc>) -> i64 {
    let secs = (due - now).num_seconds();
    let day = 86_400;
    if secs > 0 {
        (secs + day - 1) / day
    } else {
        -((-secs + day - 1) / day).max(1)
    }
}

impl ListedRequest {
    /// "3 days left", "1 day overdue", "answered".
    pub fn due_in_words(&self) -> String {
        self.days_left
            .map_or_else(|| "answered".to_owned(), due_in_words)
    }

    pub fn new(ctx: &Context, r: Listed, now: DateTime<Utc>) -> ListedRequest {
        let open = awaits_answer(r.kind, r.state);
        ListedRequest {
            id: r.id,
            kind: r.kind,
            state: r.state,
            channel: r.channel,
            received_at: r.received_at.to_rfc3339_opts(SecondsFormat::Secs, true),
            deadline_offset_seconds: r.deadline_offset_us / 1_000_000,
            deadline_offset: ctx.describe_offset(r.received_at),
            due_at: open.then(|| r.due_at.to_rfc3339_opts(SecondsFormat::Secs, true)),
            days_left: open.then(|| days_left(r.due_at, now)),
            email_verified: r.email_verified,
        }
    }
}

/// The longest reason or note kept: a paragraph, not a file.
const MAX_REASON: usize = 500;
const MAX_NOTE: usize = 2_000;

/// A due date moved: the new one, who was mailed, and whom to DM (with what).
#[derive(Debug, Clone)]
pub struct Extended {
    pub request_id: i64,
    pub due_at: DateTime<Utc>,
    /// The new and the former due date as people read them.
    pub due: String,
    pub original_due: String,
    pub mails: usize,
    /// DMs queued to the person's Discord accounts.
    pub dms_queued: usize,
}

impl Extended {
    /// What the officer is told, on every channel alike.
    pub fn summary(&self) -> String {
        format!(
            "Request #{} is now due {} (it was {}). The person is told by email at {} address(es) and by DM on \
             {} Discord account(s).",
            self.request_id, self.due, self.original_due, self.mails, self.dms_queued
        )
    }
}

/// What the officer is told when note `n` was added to request `request_id`.
pub fn note_added(n: usize, request_id: i64) -> String {
    format!("Note {n} added to request #{request_id}.")
}

/// A request is still to be answered while it waits for the person, or while a confirmed
/// deletion waits to be carried out; a confirmed opt-out or opt-in is answered.
pub fn unanswered(req: &Request) -> bool {
    awaits_answer(req.kind, req.state)
}

/// [`unanswered`], from what a listing reads of a request: its kind and state.
pub fn awaits_answer(kind: RequestKind, state: RequestState) -> bool {
    state == RequestState::AwaitingConfirmation
        || (state == RequestState::Confirmed && kind == RequestKind::Deletion)
}

fn request(uow: &Uow<'_>, request_id: i64) -> Result<Request, ServiceError> {
    uow.db.request(request_id)?.ok_or_else(|| {
        UserError::new(format!(
            "There is no request #{request_id}. `requests list` (or /requests) shows them."
        ))
        .into()
    })
}

/// Text an officer typed: trimmed, not empty, not too long, on printable characters.
fn officer_text(raw: &str, what: &str, max: usize) -> Result<String, UserError> {
    let text = raw.trim();
    if text.is_empty() {
        return Err(UserError::new(format!("The {what} is empty; write one.")));
    }
    if text.chars().count() > max {
        return Err(UserError::new(format!(
            "The {what} is {} characters; keep it to {max}.",
            text.chars().count()
        )));
    }
    if text.chars().any(|c| c.is_control() && c != '\n') {
        return Err(UserError::new(format!(
            "The {what} holds control characters; use plain text."
        )));
    }
    Ok(text.to_owned())
}

/// Extends `request_id`'s due date by `days`, once, before it passes; the person is told by
/// mail (queued here) and the caller DMs them `dm_text` where they are on Discord.
pub fn extend(
    uow: &mut Uow<'_>,
    actor: &'static str,
    request_id: i64,
    days: i64,
    reason: &str,
) -> Result<Extended, ServiceError> {
    let max = i64::from(uow.config().officers.max_extension_days);
    if !(1..=max).contains(&days) {
        return Err(UserError::new(format!(
            "An extension is 1 to {max} days (MAX_EXTENSION_DAYS); {days} is outside that."
        ))
        .into());
    }
    // Kept with the request and erased with the person, so it may say whatever the officer
    // needs; the audit trail records only that a reason was given.
    let reason = officer_text(reason, "reason", MAX_REASON)?;
    let mut req = request(uow, request_id)?;
    let now = uow.now;
    if let Some(at) = req.extended_at {
        return Err(UserError::new(format!(
            "Request #{request_id} was extended on {} (now due {}); a due date can be extended once.",
            uow.ctx.show_time(at),
            uow.ctx.show_time(req.due_at)
        ))
        .into());
    }
    if !unanswered(&req) {
        return Err(UserError::new(format!(
            "Request #{request_id} is {}: it is answered, so it has no due date to extend.",
            req.state.label()
        ))
        .into());
    }
    if now >= req.due_at {
        return Err(UserError::new(format!(
            "Request #{request_id} was due {}; a due date can only be extended before it passes.",
            uow.ctx.show_time(req.due_at)
        ))
        .into());
    }
    let original = req.due_at;
    let due_at = original + Duration::days(days);
    uow.db.extend(req.id, due_at, now, &reason)?;
    req.original_due_at = Some(original);
    req.due_at = due_at;
    req.extended_at = Some(now);
    let (due, original_due) = (uow.ctx.show_time(due_at), uow.ctx.show_time(original));
    super::log::append(
        uow,
        &req,
        Event {
            request_id,
            at: now,
            from_state: Some(req.state),
            to_state: req.state,
            actor: actor.to_owned(),
            note: Some(format!(
                "due date extended by {days} days, from {original_due} to {due} (reason given)"
            )),
            notice: None,
        },
    )?;

    let mut to = uow.db.verified_emails(req.person_id)?;
    to.extend(uow.db.waiting_addresses(req.id, req.person_id)?);
    to.sort();
    to.dedup();
    for address in &to {
        let mut ctx = mail::context(uow, &req, None);
        ctx.reason = Some(reason.clone());
        mail::queue_with(uow, "due_extended", &req, address, &ctx)?;
    }
    let mut ctx = mail::context(uow, &req, None);
    ctx.reason = Some(reason.clone());
    let dm = uow
        .ctx
        .templates
        .render_dm_in(req.language, "dm_due_extended", &ctx)?;
    let dms_queued = receipts::tell(uow, req.person_id, request_id, req.language, &dm, false)?;
    Ok(Extended {
        request_id,
        due_at,
        due,
        original_due,
        mails: to.len(),
        dms_queued,
    })
}

/// Adds an officer's note to `request_id`; the audit trail records that a note was added (not
/// its text, which is erased with the person). Returns the note's number on the request.
pub fn note(
    uow: &mut Uow<'_>,
    actor: &'static str,
    request_id: i64,
    text: &str,
) -> Result<usize, ServiceError> {
    let text = officer_text(text, "note", MAX_NOTE)?;
    let req = request(uow, request_id)?;
    if uow.db.is_erased(req.person_id)? {
        return Err(UserError::new(format!(
            "Request #{request_id} belongs to a person who was erased, so nothing more is kept about them: the note \
             was not added."
        ))
        .into());
    }
    uow.db.add_note(req.id, actor, &text, uow.now)?;
    let n = uow.db.note_count(req.id)?;
    super::log::append(
        uow,
        &req,
        Event {
            request_id,
            at: uow.now,
            from_state: Some(req.state),
            to_state: req.state,
            actor: actor.to_owned(),
            note: Some(format!("note {n} added")),
            notice: None,
        },
    )?;
    Ok(n)
}

/// One request as officers see it: its facts, its audit trail and its notes; no names or
/// addresses.
#[derive(Debug, Clone, Serialize)]
pub struct RequestDetails {
    #[serde(flatten)]
    pub request: ListedRequest,
    pub extended_at: Option<String>,
    pub original_due_at: Option<String>,
    /// Why it was extended; gone once the person is erased.
    pub extension_reason: Option<String>,
    pub events: Vec<ShownEvent>,
    pub notices: Vec<ShownNotice>,
    pub notes: Vec<ShownNote>,
}

#[derive(Debug, Clone, Serialize)]
pub struct ShownEvent {
    pub at: String,
    pub from_state: Option<RequestState>,
    pub to_state: RequestState,
    pub actor: String,
    pub note: Option<String>,
    /// The notice version the person was shown (the SHA-256 of its text).
    pub notice: Option<String>,
    /// The event's leaf in the log.
    pub leaf: Option<u64>,
}

/// A notice version named by the request's history: where and in which language it was
/// shown, and since when.
#[derive(Debug, Clone, Serialize)]
pub struct ShownNotice {
    pub version: String,
    pub channel: String,
    pub language: String,
    pub first_seen: String,
}

#[derive(Debug, Clone, Serialize)]
pub struct ShownNote {
    pub number: usize,
    pub at: String,
    pub author: String,
    pub text: String,
}

fn stamp(at: DateTime<Utc>) -> String {
    at.to_rfc3339_opts(SecondsFormat::Secs, true)
}

pub fn details(
    ctx: &Context,
    db: &db::Conn,
    request_id: i64,
    now: DateTime<Utc>,
) -> anyhow::Result<Option<RequestDetails>> {
    let Some((listed, request)) = db::requests::listed(db, request_id)? else {
        return Ok(None);
    };
    let (extended_at, original_due_at) = (request.extended_at, request.original_due_at);
    let extension_reason = db::requests::extension_reason(db, request_id)?;
    let mut notices: Vec<ShownNotice> = Vec::new();
    let mut events = Vec::new();
    for (id, e) in db.events(request_id)? {
        if let Some(v) = &e.notice
            && !notices.iter().any(|n| &n.version == v)
            && let Some(n) = db::log::notice_version(db, v)?
        {
            notices.push(ShownNotice {
                version: n.version,
                channel: n.channel,
                language: n.language,
                first_seen: stamp(n.first_seen),
            });
        }
        events.push(ShownEvent {
            at: stamp(e.at),
            from_state: e.from_state,
            to_state: e.to_state,
            actor: e.actor,
            note: e.note,
            notice: e.notice,
            leaf: db::log::leaf_for_event(db, id)?.map(|l| l.index),
        });
    }
    let notes = db::notes::for_request(db, request_id)?
        .into_iter()
        .enumerate()
        .map(|(i, n): (usize, Note)| ShownNote {
            number: i + 1,
            at: stamp(n.at),
            author: n.author,
            text: n.text,
        })
        .collect();
    Ok(Some(RequestDetails {
        request: ListedRequest::new(ctx, listed, now),
        extended_at: extended_at.map(stamp),
        original_due_at: original_due_at.map(stamp),
        extension_reason,
        events,
        notices,
        notes,
    }))
}

impl RequestDetails {
    /// The request as text: its facts, then its history, then its notes.
    pub fn describe(&self) -> String {
        let r = &self.request;
        let mut out = format!(
            "Request #{} – {} – {}\nReceived {} by {} ({})\n{}\n",
            r.id,
            r.kind.label(),
            r.state.label(),
            r.received_at,
            r.channel.as_str(),
            r.deadline_offset,
            match &r.due_at {
                Some(due) => format!("Due {due} ({})", r.due_in_words()),
                None => "Answered: no due date".to_owned(),
            },
        );
        if let (Some(at), Some(was)) = (&self.extended_at, &self.original_due_at) {
            out.push_str(&format!("Extended {at}; it was due {was}\n"));
            if let Some(reason) = &self.extension_reason {
                out.push_str(&format!("Reason: {reason}\n"));
            }
        }
        out.push_str(&format!(
            "Email proven: {}\n\nHistory:\n",
            if r.email_verified { "yes" } else { "no" }
        ));
        for e in &self.events {
            let from = e
                .from_state
                .map_or("new".to_owned(), |s| s.as_str().to_owned());
            out.push_str(&format!(
                "  {}  {} → {}  by {}",
                e.at,
                from,
                e.to_state.as_str(),
                e.actor
            ));
            if let Some(note) = &e.note {
                out.push_str(&format!("  ({note})"));
            }
            if let Some(v) = &e.notice {
                out.push_str(&format!("  notice {}", &v[..12.min(v.len())]));
            }
            if let Some(leaf) = e.leaf {
                out.push_str(&format!("  leaf {leaf}"));
            }
            out.push('\n');
        }
        if !self.notices.is_empty() {
            out.push_str("\nNotices the person was shown (`notice` above: the first digits):\n");
            for n in &self.notices {
                out.push_str(&format!(
                    "  {}  on {}, in {}, shown since {}\n",
                    n.version, n.channel, n.language, n.first_seen
                ));
            }
        }
        if self.notes.is_empty() {
            out.push_str("\nNo notes.\n");
        } else {
            out.push_str("\nNotes:\n");
            for n in &self.notes {
                out.push_str(&format!(
                    "  {}. {} by {}: {}\n",
                    n.number, n.at, n.author, n.text
                ));
            }
        }
        out
    }
}
