//! Receipts: drafted in the unit of work as markers naming their event, made from what the
//! unit wrote (or, later, from the database), and signed where the text leaves the service.

use super::*;

/// The marker of the receipt of request `id`'s newest event (the one this unit wrote, if it
/// wrote one); `None` when the request has no logged event (or the log is off).
pub(in crate::services) fn draft(
    uow: &Uow<'_>,
    id: i64,
    language: Language,
) -> anyhow::Result<Option<String>> {
    if !uow.ctx.proof.enabled {
        return Ok(None);
    }
    let written = uow
        .logged
        .borrow()
        .iter()
        .rev()
        .find(|l| l.facts.request_id == id && l.leaf.is_some())
        .map(|l| l.facts.event_id);
    let event = match written {
        Some(e) => Some(e),
        None => uow.db.latest_logged_event(id)?,
    };
    Ok(event.map(|e| receipt::marker(e, language)))
}

/// Markers for the receipts of every request this unit wrote an event about, in order.
fn drafts(uow: &Uow<'_>, language: Language) -> anyhow::Result<Vec<String>> {
    let mut ids: Vec<i64> = uow
        .logged
        .borrow()
        .iter()
        .map(|l| l.facts.request_id)
        .collect();
    let mut seen = std::collections::HashSet::new();
    ids.retain(|id| seen.insert(*id));
    let mut out = Vec::new();
    for id in ids {
        out.extend(draft(uow, id, language)?);
    }
    Ok(out)
}

/// `text` followed by the receipts of what this unit did, unless it carries them already;
/// with none, the receipt of request `about` when there is one to give.
pub(in crate::services) fn with_receipts(
    uow: &Uow<'_>,
    text: &str,
    about: Option<i64>,
) -> anyhow::Result<String> {
    if receipt::has_marker(text) {
        return Ok(text.to_owned());
    }
    let language = super::super::texts::language(uow);
    let mut markers = drafts(uow, language)?;
    if markers.is_empty()
        && let Some(id) = about
    {
        markers.extend(draft(uow, id, language)?);
    }
    let mut text = text.to_owned();
    for marker in markers {
        text = format!("{text}\n\n{marker}");
    }
    Ok(text)
}

/// The receipts `text` refers to, from what this unit wrote or else from the database.
pub(in crate::services) fn receipts_for(uow: &Uow<'_>, text: &str) -> anyhow::Result<Vec<Receipt>> {
    let mut out = Vec::new();
    for event in receipt::markers(text) {
        let written = uow.logged.borrow().iter().find_map(|l| {
            let leaf = l.leaf.as_ref().filter(|_| l.facts.event_id == event)?;
            Some(receipt_of(
                uow.ctx,
                &l.request,
                &l.facts,
                leaf,
                &l.person,
                (&uow.ctx.config.policy_name, &uow.ctx.proof.policy_version),
            ))
        });
        match written {
            Some(r) => out.push(r),
            None => out.extend(stored_receipt(uow.db, uow.ctx, event)?),
        }
    }
    Ok(out)
}

/// The receipt of event `event`, made from what is stored: the same receipt the unit that
/// wrote the event would have made.
fn stored_receipt(db: &dyn Store, ctx: &Context, event: i64) -> anyhow::Result<Option<Receipt>> {
    let (Some(facts), Some(leaf)) = (db.event_facts(event)?, db.leaf_for_event(event)?) else {
        return Ok(None);
    };
    let Some(req) = db.request(facts.request_id)? else {
        return Ok(None);
    };
    let policy = match &facts.notice {
        Some(v) => db.notice_policy(v)?,
        None => None,
    }
    .unwrap_or_else(|| {
        (
            ctx.config.policy_name.clone(),
            ctx.proof.policy_version.clone(),
        )
    });
    let person = ctx.keys.person_hash(req.person_id);
    Ok(Some(receipt_of(
        ctx,
        &req,
        &facts,
        &leaf,
        &person,
        (&policy.0, &policy.1),
    )))
}

/// The receipts a stored text (a DM, a mail) refers to, read on a snapshot.
pub(in crate::services) async fn stored_receipts(
    shared: &Shared,
    texts: &[&str],
) -> Result<Vec<Receipt>, ServiceError> {
    let events: Vec<i64> = texts.iter().flat_map(|t| receipt::markers(t)).collect();
    if events.is_empty() {
        return Ok(Vec::new());
    }
    shared
        .read_store(move |db, ctx| {
            let mut out = Vec::new();
            for e in events {
                out.extend(stored_receipt(db, ctx, e)?);
            }
            Ok(out)
        })
        .await
}

/// A receipt depends on its event alone (and the request's facts that never change), so it
/// is the same whenever it is made.
fn receipt_of(
    ctx: &Context,
    req: &Request,
    facts: &EventFacts,
    leaf: &Leaf,
    person: &str,
    policy: (&str, &str),
) -> Receipt {
    let effective = match (req.kind, facts.to.as_str()) {
        (RequestKind::OptOut | RequestKind::OptIn, "confirmed" | "completed") => {
            Some(req.confirmed_at.unwrap_or(req.received_at))
        }
        (RequestKind::Deletion, "completed") => req.closed_at,
        _ => None,
    };
    Receipt {
        request: req.id,
        kind: req.kind.as_str().to_owned(),
        state: facts.to.clone(),
        person: person.to_owned(),
        received: req.received_at,
        deadline: req.received_at - Duration::microseconds(req.deadline_offset_us),
        offset_us: req.deadline_offset_us,
        effective,
        policy_version: policy.1.to_owned(),
        policy: policy.0.to_owned(),
        notice: facts.notice.clone(),
        event: facts.event_id,
        leaf_index: leaf.index,
        leaf: leaf.hash,
        log: Checkpoint {
            origin: ctx.proof.origin().to_owned(),
            size: leaf.index + 1,
            root: leaf.root,
        },
    }
}
