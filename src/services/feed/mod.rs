//! The feed: the choices the systems holding the community's data must honour, each system
//! (a consumer) pulling what changed since its cursor and saying what it applied.
//!
//! A person's standing in the feed (`feed`) follows their latest confirmed choice, kept in
//! the unit of work of the event that changed it ([`on_choice`], [`on_erasure`]); each change
//! moves them to the end of the feed, so a cursor is a position and "what changed since" is
//! what comes after it. A consumer sees identities only as `HMAC-SHA256(its key, "discord:" +
//! id)` or `("email:" + address)`, so one consumer's list names no one to anybody else; an
//! erased person's hashes are made for every consumer before the identities are erased, and
//! the feed keeps listing them as erased.

use chrono::{DateTime, Utc};
use hmac::{Hmac, Mac};
use sha2::Sha256;

mod consumers;
mod metrics;
mod push;

pub(crate) use consumers::stale;
pub use consumers::{ConsumerView, NewConsumer};
pub use push::WebhookOutcome;
use push::push;

use super::{shared::Shared, uow::Call, uow::Context, uow::Uow};
use crate::store::{Store, standings::NewStanding};
use crate::{
    db::{
        self, Conn,
        feed::{Consumer, NewAck, Standing},
        requests::Request,
    },
    domain::RequestKind,
    error::{ServiceError, UserError},
};

/// After this long without acknowledging a change, a consumer is stale: officers are told.
pub const STALE_AFTER: chrono::Duration = chrono::Duration::hours(24);

/// The most a page may hold.
pub const MAX_PAGE: usize = 1000;

/// After an event about `req`: the person's standing follows their latest confirmed choice.
/// Someone who never opted out has nothing to take back, so an opt-in only changes the feed
/// for a person it lists.
pub(super) fn on_choice(uow: &Uow<'_>, req: &Request) -> anyhow::Result<()> {
    if !matches!(req.kind, RequestKind::OptOut | RequestKind::OptIn) || req.confirmed_at.is_none() {
        return Ok(());
    }
    let db = uow.db;
    let person = req.person_id;
    let Some((request, out, since)) = db.latest_choice(person)? else {
        return Ok(());
    };
    let now = db.standing(person)?;
    let state = match (out, now.as_ref().map(|s| s.state.as_str())) {
        (_, Some("erased")) => return Ok(()),
        (true, Some("opted_out")) | (false, None | Some("opted_in")) => return Ok(()),
        (true, _) => "opted_out",
        (false, Some(_)) => "opted_in",
    };
    let seq = db.set_standing(&NewStanding {
        person,
        state,
        effective_from: since,
        policy_version: &uow.ctx.proof.policy_version,
        request,
        now: uow.now,
    })?;
    push(uow, seq)
}

/// After `person`'s identities changed (an address linked, or taken over by someone else):
/// a person the feed lists comes again with the identities they have now. An address that
/// moved away stays excluded by consumers that had it until its new owner's standing says
/// otherwise: the feed never lets a use through by omission.
pub(super) fn on_identities(uow: &Uow<'_>, person: i64) -> anyhow::Result<()> {
    match uow.db.touch_standing(person, uow.now)? {
        Some(seq) => push(uow, seq),
        None => Ok(()),
    }
}

/// Before `person`'s identities are erased by deletion `request_id`: they are listed as
/// erased, under the hash each consumer knows them by.
pub(super) fn on_erasure(
    uow: &Uow<'_>,
    person: i64,
    request_id: i64,
    at: DateTime<Utc>,
) -> anyhow::Result<()> {
    let db = uow.db;
    let identities = db.identities_of(person)?;
    for (consumer, hash_key) in db.consumer_keys()? {
        for i in identities
            .iter()
            .filter(|i| shared_kind(&i.kind, i.verified_at))
        {
            let hash = identity_hash(&hash_key, &i.kind, &i.value);
            db.add_erased_hash(person, consumer, &i.kind, &hash)?;
        }
    }
    let seq = db.set_standing(&NewStanding {
        person,
        state: "erased",
        effective_from: at,
        policy_version: &uow.ctx.proof.policy_version,
        request: request_id,
        now: uow.now,
    })?;
    push(uow, seq)
}

/// The identities a consumer is given: Discord accounts and proven addresses (a console name
/// is the operator's own, an unproven address may be someone else's).
fn shared_kind(kind: &str, verified: Option<DateTime<Utc>>) -> bool {
    kind == "discord" || (kind == "email" && verified.is_some())
}

/// An identity as a consumer holding `key` knows it: HMAC-SHA256 over `"discord:" + id` or
/// `"email:" + address` (trimmed and lowercased, dots and plus-tags kept), in hex.
pub fn identity_hash(key: &[u8], kind: &str, value: &str) -> String {
    let value = match kind {
        "email" => value.trim().to_lowercase(),
        _ => value.trim().to_owned(),
    };
    let mut mac = Hmac::<Sha256>::new_from_slice(key).expect("HMAC takes keys of any length");
    mac.update(kind.as_bytes());
    mac.update(b":");
    mac.update(value.as_bytes());
    hex::encode(mac.finalize().into_bytes())
}

/// One identity in a page.
#[derive(Debug, Clone, serde::Serialize)]
pub struct Entry {
    pub identity: String,
    pub kind: String,
    pub state: String,
    pub effective_from: String,
    pub policy_version: String,
}

/// A page of the feed as one consumer sees it.
#[derive(Debug, Clone, serde::Serialize)]
pub struct Page {
    /// Identities the consumer's use may not include (opted out, or erased).
    pub choices: Vec<Entry>,
    /// Identities that may be used again (opted back in).
    pub removed: Vec<Entry>,
    /// Where the next call starts.
    pub cursor: String,
    /// More changes wait after this page.
    pub more: bool,
    /// The log's signed checkpoint (c2sp.org/tlog-checkpoint) when the page was made.
    pub checkpoint: String,
}

/// What a consumer says it applied.
#[derive(Debug, Clone, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AckIn {
    pub run: String,
    pub cursor: String,
    pub excluded: i64,
    pub applied_at: DateTime<Utc>,
}

#[derive(Debug, Clone, serde::Serialize)]
pub struct AckOut {
    pub acknowledged: String,
    /// Changes after the acknowledged cursor.
    pub behind: i64,
    /// The acknowledgement's leaf in the log; none when it acknowledged nothing new.
    pub log_leaf: Option<u64>,
}

/// Why a call to the feed was refused, as its HTTP answer says.
#[derive(Debug)]
pub enum Refusal {
    /// 401: no token, a wrong one, or a revoked one.
    Unauthorized(String),
    /// 403: a cursor handed to another consumer (or changed).
    Forbidden(String),
    /// 400: a value that does not read.
    Bad(String),
    Internal(ServiceError),
}

impl From<ServiceError> for Refusal {
    fn from(e: ServiceError) -> Self {
        match e {
            ServiceError::User(u) => Refusal::Bad(u.text().to_owned()),
            other => Refusal::Internal(other),
        }
    }
}

impl From<anyhow::Error> for Refusal {
    fn from(e: anyhow::Error) -> Self {
        Refusal::Internal(e.into())
    }
}

/// Where a consumer stands in the feed: the position it has read to, and, while it is still
/// reading a snapshot, where that snapshot ends (0 after), since a snapshot lists no removal.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Position {
    seq: i64,
    snapshot_to: i64,
}

/// A cursor bound to its consumer: its position and a tag only this service makes.
fn make_cursor(ctx: &Context, consumer: i64, at: Position) -> String {
    let Position { seq, snapshot_to } = at;
    let payload = format!("feed cursor {consumer} {seq} {snapshot_to}");
    if snapshot_to > seq {
        format!("{seq}.{snapshot_to}-{}", ctx.keys.tag(&payload))
    } else {
        format!(
            "{seq}-{}",
            ctx.keys.tag(&format!("feed cursor {consumer} {seq} 0"))
        )
    }
}

fn read_cursor(ctx: &Context, consumer: i64, text: &str) -> Result<Position, Refusal> {
    let bad = || {
        Refusal::Bad(format!(
            "The cursor {text:?} does not read: give the `cursor` of your last page, or none for the snapshot."
        ))
    };
    let (at, tag) = text.trim().split_once('-').ok_or_else(bad)?;
    let (seq, snapshot_to) = match at.split_once('.') {
        Some((s, t)) => (s, t),
        None => (at, "0"),
    };
    let seq: i64 = seq.parse().map_err(|_| bad())?;
    let snapshot_to: i64 = snapshot_to.parse().map_err(|_| bad())?;
    if seq < 0 || snapshot_to < 0 {
        return Err(bad());
    }
    if !ctx
        .keys
        .tag_matches(&format!("feed cursor {consumer} {seq} {snapshot_to}"), tag)
    {
        return Err(Refusal::Forbidden(
            "This cursor was not handed to this consumer: use the cursor of your own last page."
                .into(),
        ));
    }
    Ok(Position { seq, snapshot_to })
}

/// The feed as officers and consumers use it.
pub struct Feed<'a>(pub(super) &'a Shared);

impl Feed<'_> {
    /// The changes after `cursor` (the snapshot without one), at most `limit`, recorded as a
    /// pull. The page carries the log's current signed checkpoint.
    pub async fn page(
        &self,
        consumer: &Consumer,
        cursor: Option<&str>,
        limit: usize,
    ) -> Result<Page, Refusal> {
        let after = match cursor {
            Some(c) => Some(read_cursor(&self.0.ctx, consumer.id, c)?),
            None => None,
        };
        let limit = limit.clamp(1, MAX_PAGE);
        let checkpoint = super::log::Log(self.0).current_checkpoint().await?;
        let consumer = consumer.clone();
        // Read on a snapshot, off the writer: only the pull's record is a write.
        let (page, last) = self
            .0
            .read(move |db, ctx| {
                let at = match after {
                    Some(at) => at,
                    // A snapshot: everything to the feed's end now, without removals.
                    None => Position {
                        seq: 0,
                        snapshot_to: db::feed::head(db)?,
                    },
                };
                let rows = db::feed::changes_after(db, at.seq, limit + 1)?;
                let more = rows.len() > limit;
                let mut page = Page {
                    choices: Vec::new(),
                    removed: Vec::new(),
                    cursor: String::new(),
                    more,
                    checkpoint,
                };
                let mut last = at.seq;
                for s in rows.into_iter().take(limit) {
                    last = s.seq;
                    // A snapshot lists what to exclude; what was never excluded needs no removal.
                    if s.state == "opted_in" && s.seq <= at.snapshot_to {
                        continue;
                    }
                    let entries = entries(db, &consumer, &s)?;
                    if s.state == "opted_in" {
                        page.removed.extend(entries);
                    } else {
                        page.choices.extend(entries);
                    }
                }
                let next = Position {
                    seq: last,
                    snapshot_to: if at.snapshot_to > last {
                        at.snapshot_to
                    } else {
                        0
                    },
                };
                page.cursor = make_cursor(ctx, consumer.id, next);
                Ok((page, (consumer.id, last)))
            })
            .await?;
        self.0
            .run(Call::system(), move |uow| {
                Ok(db::feed::record_pull(
                    uow.db.sqlite()?,
                    last.0,
                    last.1,
                    uow.now,
                )?)
            })
            .await?;
        Ok(page)
    }

    /// The consumer says it applied everything up to `ack.cursor`: recorded, and logged.
    pub async fn acknowledge(&self, consumer: &Consumer, ack: AckIn) -> Result<AckOut, Refusal> {
        let run = ack.run.trim().to_owned();
        if run.is_empty() || run.chars().count() > 100 || run.chars().any(char::is_control) {
            return Err(Refusal::Bad(
                "`run` names your run in 1 to 100 characters on one line.".into(),
            ));
        }
        if ack.excluded < 0 {
            return Err(Refusal::Bad(
                "`excluded` counts what your run left out: 0 or more.".into(),
            ));
        }
        let seq = read_cursor(&self.0.ctx, consumer.id, &ack.cursor)?.seq;
        let now = self.0.now();
        if ack.applied_at < consumer.created_at {
            return Err(Refusal::Bad(format!(
                "`applied_at` {} is before this consumer was registered: give the time your run applied the page.",
                ack.applied_at.to_rfc3339()
            )));
        }
        if ack.applied_at > now + chrono::Duration::minutes(5) {
            return Err(Refusal::Bad(format!(
                "`applied_at` {} is in the future: give the time your run applied the page.",
                ack.applied_at.to_rfc3339()
            )));
        }
        let consumer = consumer.clone();
        let out = self
            .0
            .run(Call::system(), move |uow| {
                let head = uow.db.feed_head()?;
                let acked = db::feed::consumer_named(uow.db.sqlite()?, &consumer.name)?
                    .map_or(0, |c| c.last_ack_seq);
                if seq <= acked {
                    // Nothing new was applied: said again, it changes nothing and logs nothing.
                    let (behind, _) = db::feed::unacknowledged(uow.db.sqlite()?, acked)?;
                    return Ok(AckOut {
                        acknowledged: cursor_of(uow.ctx, consumer.id, acked),
                        behind,
                        log_leaf: None,
                    });
                }
                if seq > head {
                    return Err(UserError::new(
                        "This cursor is past the end of the feed: acknowledge a cursor a page gave you.",
                    )
                    .into());
                }
                let id = db::feed::add_ack(
                    uow.db.sqlite()?,
                    consumer.id,
                    &NewAck {
                        run: &run,
                        seq,
                        excluded: ack.excluded,
                        applied_at: ack.applied_at,
                        received_at: uow.now,
                    },
                )?;
                let stored = db::feed::ack(uow.db.sqlite()?, id)?
                    .ok_or_else(|| anyhow::anyhow!("acknowledgement #{id} vanished"))?;
                let leaf = super::log::append_ack(uow.db, &stored)?;
                let (behind, _) = db::feed::unacknowledged(uow.db.sqlite()?, seq)?;
                Ok(AckOut {
                    acknowledged: cursor_of(uow.ctx, consumer.id, seq),
                    behind,
                    log_leaf: Some(leaf),
                })
            })
            .await?;
        Ok(out)
    }
}

/// For `/status`: per live consumer, whether it applied `person`'s latest change to the feed.
pub(super) fn applied(
    db: &dyn Store,
    ctx: &Context,
    language: crate::domain::Language,
    person: i64,
) -> anyhow::Result<Vec<String>> {
    let Some(s) = db.standing(person)? else {
        return Ok(Vec::new());
    };
    Ok(db
        .applied(s.seq)?
        .into_iter()
        .map(|(name, at)| match at {
            Some(at) => super::texts::say(
                language,
                "status_applied_by",
                &[("system", &name), ("at", &ctx.show_time(at))],
            ),
            None => super::texts::say(language, "status_not_yet_applied", &[("system", &name)]),
        })
        .collect())
}

fn cursor_of(ctx: &Context, consumer: i64, seq: i64) -> String {
    make_cursor(
        ctx,
        consumer,
        Position {
            seq,
            snapshot_to: 0,
        },
    )
}

/// `s` as `consumer` sees it: one entry per identity it is given.
fn entries(db: &Conn, consumer: &Consumer, s: &Standing) -> anyhow::Result<Vec<Entry>> {
    let hashes: Vec<(String, String)> = if s.state == "erased" {
        db::feed::erased_hashes(db, s.person_id, consumer.id)?
    } else {
        db::identities::for_person(db, s.person_id)?
            .into_iter()
            .filter(|i| shared_kind(&i.kind, i.verified_at))
            .map(|i| {
                let h = identity_hash(&consumer.hash_key, &i.kind, &i.value);
                (i.kind, h)
            })
            .collect()
    };
    let state = if s.state == "opted_in" {
        "opted_in"
    } else {
        s.state.as_str()
    };
    Ok(hashes
        .into_iter()
        .map(|(kind, identity)| Entry {
            identity,
            kind,
            state: state.to_owned(),
            effective_from: crate::proof::record::instant(s.effective_from),
            policy_version: s.policy_version.clone(),
        })
        .collect())
}

/// At start: a database that had choices before the feed existed gets its standing
/// opt-outs, once, in the order they were made.
pub(super) async fn start(shared: &Shared) -> anyhow::Result<()> {
    if !shared.db.writable() {
        return Ok(());
    }
    let version = shared.ctx.proof.policy_version.clone();
    shared
        .db
        .write(move |db| {
            if db::settings::get(db, "feed_built")?.is_some() {
                return Ok::<_, anyhow::Error>(());
            }
            let mut found = Vec::new();
            db::feed::standing_opt_outs(db, |person, request, since| {
                found.push((person, request, since));
                Ok(())
            })?;
            for (person, request, since) in found {
                if db::feed::standing(db, person)?.is_none() {
                    db::feed::set_standing(
                        db,
                        person,
                        "opted_out",
                        since,
                        &version,
                        request,
                        since,
                    )?;
                }
            }
            db::settings::get_or_insert(db, "feed_built", "1")?;
            Ok(())
        })
        .await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_address_is_hashed_trimmed_and_lowercased_with_dots_and_tags_kept() {
        let key = [7u8; 32];
        assert_eq!(
            identity_hash(&key, "email", " Jo.Doe+news@Example.ORG "),
            identity_hash(&key, "email", "jo.doe+news@example.org")
        );
        assert_ne!(
            identity_hash(&key, "email", "jo.doe+news@example.org"),
            identity_hash(&key, "email", "jodoe@example.org")
        );
        // HMAC-SHA256(key, "discord:42"), as any library computes it.
        let mut mac = Hmac::<Sha256>::new_from_slice(&key).unwrap();
        mac.update(b"discord:42");
        assert_eq!(
            identity_hash(&key, "discord", "42"),
            hex::encode(mac.finalize().into_bytes())
        );
        assert_ne!(
            identity_hash(&key, "discord", "42"),
            identity_hash(&[8u8; 32], "discord", "42")
        );
    }
}
