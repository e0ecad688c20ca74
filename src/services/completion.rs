//! Carrying out a confirmed deletion (an officer's last step for a request), and expiring
//! what was never confirmed (the system's).

use chrono::Duration;

use super::{erasure, mail, receipts, transitions, uow::Uow};
use crate::{
    domain::{RequestKind, RequestState},
    error::{ServiceError, UserError},
};

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Completed {
    pub request_id: i64,
    pub identities_erased: usize,
    pub people_told: usize,
    /// DMs queued to the person's Discord accounts (sent, then wiped, by the bot).
    pub dms_queued: usize,
}

impl Completed {
    /// What the officer is told, on every channel alike.
    pub fn summary(&self) -> String {
        format!(
            "Request #{} completed: {} identities erased (keyed hashes kept). The person is told by email at {} \
             address(es) and by DM on {} Discord account(s).",
            self.request_id, self.identities_erased, self.people_told, self.dms_queued
        )
    }
}

/// A privacy officer has carried out a confirmed deletion: the person's identities, codes
/// and mail texts are erased (keyed hashes remain), and they are told at each proven address.
pub fn complete_deletion(
    uow: &mut Uow<'_>,
    actor: &'static str,
    request_id: i64,
) -> Result<Completed, ServiceError> {
    let now = uow.now;
    let mut req = uow.db.request(request_id)?.ok_or_else(|| {
        UserError::new(format!(
            "There is no request #{request_id}. `requests list` shows them."
        ))
    })?;
    if req.kind != RequestKind::Deletion {
        return Err(UserError::new(format!(
            "Request #{request_id} is of kind {}; only deletion requests are completed by an officer.",
            req.kind
        ))
        .into());
    }
    if req.state != RequestState::Confirmed {
        return Err(UserError::new(format!(
            "Request #{request_id} is {}; only a confirmed deletion can be completed.",
            req.state.label()
        ))
        .into());
    }
    let person = req.person_id;
    // Recorded first: the mails and the DM carry its receipt.
    transitions::transition(uow, &mut req, RequestState::Completed, actor, None, now)?;
    let emails = uow.db.verified_emails(person)?;
    for email in &emails {
        mail::queue(uow, "deletion_completed", &req, email, None, true)?;
    }
    // The last word on Discord, queued before the erasure takes the account's id; the bot
    // wipes it once sent.
    let dm = uow.ctx.templates.render_dm_in(
        req.language,
        "dm_deletion_completed",
        &mail::context(uow, &req, None),
    )?;
    let dms_queued = receipts::tell(uow, person, request_id, req.language, &dm, true)?;
    let erased = erasure::erase(uow, person, request_id, now)?;
    for mut other in uow.db.open_for_person(person)? {
        let note = Some(format!("person erased by request #{request_id}"));
        transitions::transition(
            uow,
            &mut other,
            RequestState::Cancelled,
            "system",
            note,
            now,
        )?;
    }
    Ok(Completed {
        request_id,
        identities_erased: erased.identities.len(),
        people_told: emails.len(),
        dms_queued,
    })
}

/// Requests never confirmed within `CONFIRM_WITHIN_HOURS` expire. Returns how many did.
pub fn expire_unconfirmed(uow: &mut Uow<'_>) -> anyhow::Result<usize> {
    let now = uow.now;
    let cutoff = now - Duration::hours(i64::from(uow.config().confirm_within_hours));
    let stale = uow.db.awaiting_since_before(cutoff)?;
    let n = stale.len();
    for mut req in stale {
        let note = Some("not confirmed in time".to_owned());
        transitions::transition(uow, &mut req, RequestState::Expired, "system", note, now)?;
    }
    Ok(n)
}
