//! Finding the person behind an actor.

use chrono::{DateTime, Utc};

use super::uow::Uow;
use crate::{
    db::{self, Conn},
    domain::{Actor, EmailAddress},
};

/// The person an authenticated actor is, created on first contact, and whether they were
/// created just now (so have no history to look up).
pub fn resolve(db: &Conn, actor: &Actor, now: DateTime<Utc>) -> anyhow::Result<(i64, bool)> {
    if let Some(id) = find(db, actor)? {
        return Ok((id, false));
    }
    let (kind, value) = actor.identity();
    let person = db::people::insert(db, now)?;
    db::identities::insert(db, person, kind, &value, Some(now), now)?;
    Ok((person, true))
}

/// The person an actor is, if the bot has met them.
pub fn find(db: &Conn, actor: &Actor) -> anyhow::Result<Option<i64>> {
    let (kind, value) = actor.identity();
    Ok(db::identities::find(db, kind, &value)?.map(|i| i.person_id))
}

/// Links a proven address to `person`. Whoever held it before learns, the next time they reach
/// the bot, that it moved: its owner confirmed it for someone else.
pub fn link_address(uow: &Uow<'_>, person: i64, email: &str) -> anyhow::Result<()> {
    let before = db::identities::assign_verified(uow.db, person, "email", email, uow.now)?;
    super::feed::on_identities(uow, person)?;
    if let Some(before) = before {
        super::feed::on_identities(uow, before)?;
        let masked = EmailAddress::parse(email)
            .map(|e| e.masked())
            .unwrap_or_default();
        db::notices::add(
            uow.db,
            before,
            &format!(
                "{masked} is no longer linked to you: on {} its owner confirmed it for another account, so \
                 receipts and replies about your requests no longer go there.",
                uow.ctx.show_time(uow.now)
            ),
            uow.now,
        )?;
    }
    Ok(())
}

/// Tells the person who asked for a link to `email` that it could not be made.
pub fn tell_link_refused(
    uow: &Uow<'_>,
    requester: i64,
    email: &str,
    cancelled: Option<i64>,
) -> anyhow::Result<()> {
    let masked = EmailAddress::parse(email)
        .map(|e| e.masked())
        .unwrap_or_default();
    let mut text = format!("{masked} could not be confirmed, so it is not linked to you.");
    if let Some(id) = cancelled {
        text.push_str(&format!(
            " Request #{id}, which waited for it, is cancelled."
        ));
    }
    db::notices::add(uow.db, requester, &text, uow.now)?;
    Ok(())
}

/// What the person is to be told before anything else, the next time they reach the bot.
pub fn take_notices(uow: &Uow<'_>, actor: &Actor) -> anyhow::Result<Vec<String>> {
    match find(uow.db, actor)? {
        Some(person) => Ok(db::notices::take(uow.db, person)?),
        None => Ok(Vec::new()),
    }
}
