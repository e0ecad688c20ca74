//! The words of the answers, in one place: what happened and what happens next, in the terms
//! of the channel the person is using.

use super::uow::Uow;
use crate::{
    config::Config,
    db::requests::Request,
    domain::{EmailAddress, RequestKind},
    error::{ServiceError, UserError},
};

/// What a recorded choice means for the person's data.
pub fn choice_consequence(cfg: &Config, kind: RequestKind) -> String {
    match kind {
        RequestKind::OptOut => format!(
            "We will not use your data for \"{}\" from now on; data kept only for it is deleted after {}.",
            cfg.policy_name, cfg.retention_opted_out
        ),
        RequestKind::OptIn => format!(
            "We may use your data for \"{}\" and keep it for {}. You can opt out again at any time.",
            cfg.policy_name, cfg.retention_opted_in
        ),
        _ => String::new(),
    }
}

/// What happens now that a request is confirmed.
pub fn confirmed_consequence(uow: &Uow<'_>, req: &Request) -> String {
    match req.kind {
        RequestKind::Deletion => format!(
            "A privacy officer will erase your data by {} and you will be told when it is done.",
            uow.ctx.show_time(req.due_at)
        ),
        kind => choice_consequence(uow.config(), kind),
    }
}

/// Where the receipt went, or how to get one.
pub fn receipt_note(uow: &Uow<'_>, sent: usize, kind: RequestKind) -> String {
    if uow.by_mail() {
        return String::new();
    }
    if sent > 0 {
        return " A confirmation is on its way to your email.".to_owned();
    }
    let cmd = match kind {
        RequestKind::OptIn => "/optin",
        RequestKind::Deletion => "/delete",
        _ => "/optout",
    };
    format!(" For a receipt by email, add your address: {cmd} email:you@example.org")
}

/// How the person confirms or drops a waiting deletion on the channel they are using.
pub fn confirm_hint(uow: &Uow<'_>) -> &'static str {
    if uow.by_mail() {
        "reply to this email with the word confirm to go ahead, or cancel to drop it"
    } else {
        "type /confirm to go ahead or /cancel to drop it"
    }
}

pub fn proof_instructions(email: &EmailAddress, ttl_minutes: u32) -> String {
    format!(
        "To prove the address is yours, we emailed a 6-digit code to {}: enter it with /verify code:NNNNNN \
         within {ttl_minutes} minutes. We use the address only to confirm this request and later changes.",
        email.masked()
    )
}

/// Refusal used by the confirm and verify use-cases when a person is unknown.
pub fn nothing_waiting() -> ServiceError {
    UserError::new(
        "Nothing is waiting for you. /optout, /optin and /delete file a request; /status shows what you have.",
    )
    .into()
}
