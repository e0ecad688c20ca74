//! Erasing a person: everything that names them goes, wherever it was written and whoever
//! asked for it to be written. What remains is a keyed hash per identity (to answer "did you
//! erase this address?" only for someone holding the key and the address) and counts.
//!
//! The database part happens here, in the unit of work that completes the deletion. Copies
//! outside the database follow from what this marks: the final mail is wiped once handed over
//! (`scrub_after_send`), earlier `.eml` copies in the outbox folder are removed by the mail
//! worker (`forget_copy`), and inbound copies in an IMAP mailbox or a Maildir by the next poll
//! or Maildir run (`inbound_copies.purge`).

use super::uow::Uow;
use crate::store::reply_tokens::ReplyTokens as _;
use crate::{
    db::{self, identities::Identity},
    domain::Channel,
};

/// Who was erased.
pub struct Erased {
    pub identities: Vec<Identity>,
}

/// Erases `person` on behalf of deletion `request_id`, as carried out at `at`.
pub fn erase(
    uow: &mut Uow<'_>,
    person: i64,
    request_id: i64,
    at: chrono::DateTime<chrono::Utc>,
) -> anyhow::Result<Erased> {
    // The feed lists them as erased, under each consumer's hashes, before they are gone.
    super::feed::on_erasure(uow, person, request_id, at)?;
    let db = uow.db;
    let keys = &uow.ctx.keys;
    let identities = db::identities::for_person(db, person)?;
    let emails: Vec<String> = identities
        .iter()
        .filter(|i| i.kind == "email")
        .map(|i| i.value.clone())
        .collect();
    let hashes: Vec<String> = identities
        .iter()
        .map(|i| keys.identity_hash(&i.kind, &i.value))
        .collect();
    for (i, hash) in identities.iter().zip(&hashes) {
        db::erasure::insert(db, person, request_id, &i.kind, hash, uow.now)?;
    }
    rekey_legacy_imports(uow, person, &identities)?;
    let sender_hashes: Vec<String> = emails.iter().map(|e| sender_hash(uow, e)).collect();

    db::identities::delete_for_person(db, person)?;
    db::verifications::delete_for(db, person, &emails)?;
    db.forget_reply_tokens(person, &emails)?;
    db::outbox::scrub_for(db, person, &emails)?;
    let discord_ids: Vec<String> = identities
        .iter()
        .filter(|i| i.kind == "discord")
        .map(|i| i.value.clone())
        .collect();
    db::dms::scrub_for(db, person, &discord_ids)?;
    db::held::delete_from(db, &sender_hashes, &emails)?;
    db::copies::mark_for_purge(db, &sender_hashes)?;
    db::notices::delete_for_person(db, person)?;
    db::notes::delete_for_person(db, person)?;
    db::requests::forget_reasons_of(db, person)?;
    db::senders::forget_senders_of(db, person)?;
    db::people::mark_erased(db, person, at)?;
    Ok(Erased { identities })
}

/// The keyed hash inbound mail and held mail are filed under for the sender `address`.
pub fn sender_hash(uow: &Uow<'_>, address: &str) -> String {
    uow.ctx.keys.identity_hash("sender", address)
}

/// Import claims written before they were keyed name the person in an unkeyed hash of their
/// identity; those of the person's imported requests are keyed now.
fn rekey_legacy_imports(uow: &Uow<'_>, person: i64, identities: &[Identity]) -> anyhow::Result<()> {
    for req in db::requests::for_person(uow.db, person)? {
        if req.channel != Channel::Import {
            continue;
        }
        for i in identities {
            let key = crate::domain::import_key(req.received_at, req.kind, &i.kind, &i.value);
            db::inputs::rekey(
                uow.db,
                &db::inputs::legacy_hash("import", &key),
                &uow.ctx.keys.input_hash("import", &key),
            )?;
        }
    }
    Ok(())
}
