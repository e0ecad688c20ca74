//! Finding the person behind an actor.

use chrono::{DateTime, Utc};

use super::uow::Uow;
use crate::domain::{Actor, EmailAddress, Language};
use crate::store::Store;

/// The person an authenticated actor is, created on first contact, and whether they were
/// created just now (so have no history to look up).
pub fn resolve(db: &dyn Store, actor: &Actor, now: DateTime<Utc>) -> anyhow::Result<(i64, bool)> {
    db.resolve(actor, now)
}

/// The person an actor is, if the bot has met them.
pub fn find(db: &dyn Store, actor: &Actor) -> anyhow::Result<Option<i64>> {
    let (kind, value) = actor.identity();
    Ok(db.identity(kind, &value)?.map(|k| k.person))
}

/// Links a proven address to `person`. Whoever held it before learns, the next time they reach
/// the bot, that it moved: its owner confirmed it for someone else.
pub fn link_address(uow: &Uow<'_>, person: i64, email: &str) -> anyhow::Result<()> {
    let before = uow.db.assign_verified(person, "email", email, uow.now)?;
    super::feed::on_identities(uow, person)?;
    if let Some(before) = before {
        super::feed::on_identities(uow, before)?;
        let masked = EmailAddress::parse(email)
            .map(|e| e.masked())
            .unwrap_or_default();
        let language = language_of(uow, before)?;
        let text = super::texts::say(
            language,
            "address_moved",
            &[("address", &masked), ("at", &uow.ctx.show_time(uow.now))],
        );
        uow.db.add_notice(before, &text, uow.now)?;
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
    let language = language_of(uow, requester)?;
    let mut text = super::texts::say(language, "link_refused", &[("address", &masked)]);
    if let Some(id) = cancelled {
        text.push(' ');
        text.push_str(&super::texts::say(
            language,
            "link_refused_cancelled",
            &[("id", &id.to_string())],
        ));
    }
    uow.db.add_notice(requester, &text, uow.now)?;
    Ok(())
}

/// The language the person behind `actor` chose to be answered in, if they are known and
/// chose one.
pub fn chosen_language(db: &dyn Store, actor: &Actor) -> anyhow::Result<Option<Language>> {
    match find(db, actor)? {
        Some(person) => db.chosen_language(person),
        None => Ok(None),
    }
}

/// The language to tell `person` something in when they are not asking: the one they chose,
/// else that of their newest request, else `DEFAULT_LANGUAGE`.
pub fn language_of(uow: &Uow<'_>, person: i64) -> anyhow::Result<Language> {
    if let Some(chosen) = uow.db.chosen_language(person)? {
        return Ok(chosen);
    }
    Ok(uow
        .db
        .for_person(person)?
        .last()
        .map_or(uow.config().default_language, |r| r.language))
}

/// `/privacy language:xx`: the person is answered in `language` from now on, here and by
/// mail, about their open requests too.
pub fn choose_language(uow: &Uow<'_>, actor: &Actor, language: Language) -> anyhow::Result<()> {
    let (person, _) = resolve(uow.db, actor, uow.now)?;
    uow.db.choose_language(person, language)
}

/// What the person is to be told before anything else, the next time they reach the bot.
pub fn take_notices(uow: &Uow<'_>, actor: &Actor) -> anyhow::Result<Vec<String>> {
    match find(uow.db, actor)? {
        Some(person) => uow.db.take_notices(person),
        None => Ok(Vec::new()),
    }
}
