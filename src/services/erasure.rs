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
use crate::store::erasure::Erasing;
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
    let keys = &uow.ctx.keys;
    let identities = uow.db.identities_of(person)?;
    let of_kind = |kind: &str| -> Vec<String> {
        identities
            .iter()
            .filter(|i| i.kind == kind)
            .map(|i| i.value.clone())
            .collect()
    };
    let (emails, discord_ids) = (of_kind("email"), of_kind("discord"));
    let hashes: Vec<(String, String)> = identities
        .iter()
        .map(|i| (i.kind.clone(), keys.identity_hash(&i.kind, &i.value)))
        .collect();
    let sender_hashes: Vec<String> = emails.iter().map(|e| sender_hash(uow, e)).collect();
    uow.db.erase_person(&Erasing {
        person,
        request: request_id,
        at,
        hashes: &hashes,
        emails: &emails,
        discord_ids: &discord_ids,
        sender_hashes: &sender_hashes,
        rekeys: &legacy_imports(uow, person, &identities)?,
        now: uow.now,
    })?;
    Ok(Erased { identities })
}

/// The keyed hash inbound mail and held mail are filed under for the sender `address`.
pub fn sender_hash(uow: &Uow<'_>, address: &str) -> String {
    uow.ctx.keys.identity_hash("sender", address)
}

/// Import claims written before they were keyed name the person in an unkeyed hash of their
/// identity; those of the person's imported requests are to be keyed now: (unkeyed, keyed).
fn legacy_imports(
    uow: &Uow<'_>,
    person: i64,
    identities: &[Identity],
) -> anyhow::Result<Vec<(String, String)>> {
    let mut rekeys = Vec::new();
    for req in uow.db.for_person(person)? {
        if req.channel != Channel::Import {
            continue;
        }
        for i in identities {
            let key = crate::domain::import_key(req.received_at, req.kind, &i.kind, &i.value);
            rekeys.push((
                db::inputs::legacy_hash("import", &key),
                uow.ctx.keys.input_hash("import", &key),
            ));
        }
    }
    Ok(rekeys)
}
