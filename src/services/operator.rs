//! What privacy officers and the operator do: list requests, carry out deletions, expire what
//! was never confirmed.

use chrono::{DateTime, Duration, SecondsFormat, Utc};
use serde::Serialize;

use super::{erasure, mail, transitions, uow::Context, uow::Uow};
use crate::{
    db::{self, requests::Listed},
    domain::{Channel, DiscordId, RequestKind, RequestState},
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
    pub due_at: String,
    pub days_left: i64,
    pub email_verified: bool,
}

impl ListedRequest {
    pub fn new(ctx: &Context, l: Listed, now: DateTime<Utc>) -> ListedRequest {
        let r = l.request;
        ListedRequest {
            id: r.id,
            kind: r.kind,
            state: r.state,
            channel: r.channel,
            received_at: r.received_at.to_rfc3339_opts(SecondsFormat::Secs, true),
            deadline_offset_seconds: r.deadline_offset_secs,
            deadline_offset: ctx.describe_offset(r.received_at),
            due_at: r.due_at.to_rfc3339_opts(SecondsFormat::Secs, true),
            days_left: (r.due_at - now).num_days(),
            email_verified: l.email_verified,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Completed {
    pub request_id: i64,
    pub identities_erased: usize,
    pub people_told: usize,
    /// The person's Discord account, for a last DM; it is no longer stored anywhere.
    pub tell_on_discord: Vec<DiscordId>,
}

/// A privacy officer has carried out a confirmed deletion: the person's identities, codes
/// and mail texts are erased (keyed hashes remain), and they are told at each proven address.
pub fn complete_deletion(uow: &mut Uow<'_>, request_id: i64) -> Result<Completed, ServiceError> {
    let now = uow.now;
    let mut req = db::requests::get(uow.db, request_id)?.ok_or_else(|| {
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
    let emails = db::identities::verified_emails(uow.db, person)?;
    for email in &emails {
        mail::queue(uow, "deletion_completed", &req, email, None, true)?;
    }
    let erased = erasure::erase(uow, person, request_id, now)?;
    transitions::transition(
        uow.db,
        &mut req,
        RequestState::Completed,
        "operator",
        None,
        now,
    )?;
    for mut other in db::requests::open_for_person(uow.db, person)? {
        let note = Some(format!("person erased by request #{request_id}"));
        transitions::transition(
            uow.db,
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
        tell_on_discord: erased.discord_ids,
    })
}

/// Requests never confirmed within `CONFIRM_WITHIN_HOURS` expire. Returns how many did.
pub fn expire_unconfirmed(uow: &mut Uow<'_>) -> anyhow::Result<usize> {
    let now = uow.now;
    let cutoff = now - Duration::hours(i64::from(uow.config().confirm_within_hours));
    let stale = db::requests::awaiting_since_before(uow.db, cutoff)?;
    let n = stale.len();
    for mut req in stale {
        let note = Some("not confirmed in time".to_owned());
        transitions::transition(uow.db, &mut req, RequestState::Expired, "system", note, now)?;
    }
    Ok(n)
}
