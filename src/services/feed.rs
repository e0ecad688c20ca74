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
use rand::RngCore;
use sha2::{Digest, Sha256};

use super::{shared::Shared, uow::Call, uow::Context, uow::Uow};
use crate::{
    db::{
        self, Conn,
        feed::{Consumer, Delivery, NewAck, Standing},
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
    let Some((request, out, since)) = db::feed::latest_choice(db, person)? else {
        return Ok(());
    };
    let now = db::feed::standing(db, person)?;
    let state = match (out, now.as_ref().map(|s| s.state.as_str())) {
        (_, Some("erased")) => return Ok(()),
        (true, Some("opted_out")) | (false, None | Some("opted_in")) => return Ok(()),
        (true, _) => "opted_out",
        (false, Some(_)) => "opted_in",
    };
    let seq = db::feed::set_standing(
        db,
        person,
        state,
        since,
        &uow.ctx.proof.policy_version,
        request,
        uow.now,
    )?;
    push(uow, seq)
}

/// After `person`'s identities changed (an address linked, or taken over by someone else):
/// a person the feed lists comes again with the identities they have now. An address that
/// moved away stays excluded by consumers that had it until its new owner's standing says
/// otherwise: the feed never lets a use through by omission.
pub(super) fn on_identities(uow: &Uow<'_>, person: i64) -> anyhow::Result<()> {
    match db::feed::touch(uow.db, person, uow.now)? {
        Some(seq) => push(uow, seq),
        None => Ok(()),
    }
}

/// Every consumer with a webhook is told, through the durable queue, that the feed moved to
/// `seq`.
fn push(uow: &Uow<'_>, seq: i64) -> anyhow::Result<()> {
    for consumer in db::feed::webhook_consumers(uow.db)? {
        let id = format!("msg_{}", uuid::Uuid::new_v4().simple());
        db::feed::queue_webhook(uow.db, consumer, seq, &id, uow.now)?;
    }
    Ok(())
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
    let identities = db::identities::for_person(db, person)?;
    for consumer in db::feed::active_consumers(db)? {
        for i in identities
            .iter()
            .filter(|i| shared_kind(&i.kind, i.verified_at))
        {
            let hash = identity_hash(&consumer.hash_key, &i.kind, &i.value);
            db::feed::add_erased_hash(db, person, consumer.id, &i.kind, &hash)?;
        }
    }
    let seq = db::feed::set_standing(
        db,
        person,
        "erased",
        at,
        &uow.ctx.proof.policy_version,
        request_id,
        uow.now,
    )?;
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

/// How a webhook delivery went.
#[derive(Debug, Clone)]
pub enum WebhookOutcome {
    Delivered,
    Retry(DateTime<Utc>, String),
    /// 410 disables the endpoint; otherwise it stopped answering for about 3 days.
    GaveUp {
        disable: bool,
        why: String,
    },
}

/// What `consumers add` hands out, once.
pub struct NewConsumer {
    pub name: String,
    pub token: String,
    /// The consumer's hashing key, 64 hex digits.
    pub key: String,
}

/// A consumer as officers see it.
#[derive(Debug, Clone, serde::Serialize)]
pub struct ConsumerView {
    pub name: String,
    pub webhook: Option<String>,
    pub created_at: DateTime<Utc>,
    pub revoked_at: Option<DateTime<Utc>>,
    pub last_pull_at: Option<DateTime<Utc>>,
    pub last_ack_at: Option<DateTime<Utc>>,
    pub last_ack_run: Option<String>,
    /// Changes it has not said it applied.
    pub unacknowledged: i64,
    /// Since when the oldest of them stands.
    pub oldest_unacknowledged: Option<DateTime<Utc>>,
    /// Behind for longer than [`STALE_AFTER`].
    pub stale: bool,
    /// Its webhook turned off (410) or given up.
    pub webhook_trouble: Option<String>,
}

impl ConsumerView {
    pub fn behind(&self) -> bool {
        self.unacknowledged > 0
    }
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
            ServiceError::User(u) => Refusal::Bad(u.0),
            other => Refusal::Internal(other),
        }
    }
}

impl From<anyhow::Error> for Refusal {
    fn from(e: anyhow::Error) -> Self {
        Refusal::Internal(e.into())
    }
}

fn check_webhook(url: &str) -> Result<(), UserError> {
    let parsed = url::Url::parse(url)
        .map_err(|e| UserError::new(format!("The webhook {url:?} is not a URL ({e}).")))?;
    if !matches!(parsed.scheme(), "https" | "http") {
        return Err(UserError::new(format!(
            "The webhook {url:?} is not an http(s) URL."
        )));
    }
    Ok(())
}

fn token_hash(token: &str) -> String {
    hex::encode(Sha256::digest(token.as_bytes()))
}

fn valid_name(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= 64
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'))
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
    /// Registers a consumer; its token and key are shown once and the token kept only hashed.
    pub async fn add(
        &self,
        name: &str,
        webhook: Option<String>,
    ) -> Result<NewConsumer, ServiceError> {
        if !valid_name(name) {
            return Err(UserError::new(format!(
                "{name:?} cannot name a consumer: use 1 to 64 letters, digits, '-', '_' or '.'."
            ))
            .into());
        }
        if let Some(url) = &webhook {
            check_webhook(url)?;
        }
        let mut bytes = [0u8; 32];
        rand::thread_rng().fill_bytes(&mut bytes);
        let token = format!("dsrf_{}", hex::encode(bytes));
        let mut key = [0u8; 32];
        rand::thread_rng().fill_bytes(&mut key);
        let name = name.to_owned();
        let stored = (name.clone(), token_hash(&token), key.to_vec());
        self.0
            .run(Call::system(), move |uow| {
                if db::feed::consumer_named(uow.db, &stored.0)?.is_some() {
                    return Err(UserError::new(format!(
                        "There is a consumer named {} already: `consumers list` shows them.",
                        stored.0
                    ))
                    .into());
                }
                db::feed::add_consumer(
                    uow.db,
                    &stored.0,
                    &stored.1,
                    &stored.2,
                    webhook.as_deref(),
                    uow.now,
                )?;
                Ok(())
            })
            .await?;
        Ok(NewConsumer {
            name,
            token,
            key: hex::encode(key),
        })
    }

    pub async fn list(&self) -> Result<Vec<ConsumerView>, ServiceError> {
        self.0
            .read(|db, ctx| {
                let now = ctx.now();
                db::feed::consumers(db)?
                    .into_iter()
                    .map(|c| view(db, c, now))
                    .collect()
            })
            .await
    }

    /// What officers are told of consumers behind for over a day: a line each.
    pub async fn stale(&self) -> Result<Vec<String>, ServiceError> {
        self.0.read(stale).await
    }

    pub async fn revoke(&self, name: &str) -> Result<(), ServiceError> {
        let name = name.to_owned();
        self.0
            .run(Call::system(), move |uow| {
                let c = db::feed::consumer_named(uow.db, &name)?.ok_or_else(|| {
                    UserError::new(format!(
                        "There is no consumer named {name}: `consumers list` shows them."
                    ))
                })?;
                if !db::feed::revoke(uow.db, c.id, uow.now)? {
                    return Err(
                        UserError::new(format!("The consumer {name} is revoked already.")).into(),
                    );
                }
                Ok(())
            })
            .await
    }

    /// `bytes` signed with the log's key: (public key, base64 Ed25519 signature).
    pub fn sign(&self, bytes: &[u8]) -> Option<(String, String)> {
        self.0.ctx.proof.sign_bytes(bytes)
    }

    /// A live consumer by name.
    pub async fn consumer(&self, name: &str) -> Result<Consumer, ServiceError> {
        let name = name.to_owned();
        self.0
            .read(move |db, _| match db::feed::consumer_named(db, &name)? {
                Some(c) if c.revoked_at.is_none() => Ok(c),
                Some(_) => Err(UserError::new(format!("The consumer {name} is revoked.")).into()),
                None => Err(UserError::new(format!(
                    "There is no consumer named {name}: `consumers list` shows them."
                ))
                .into()),
            })
            .await
            .map_err(super::log::told)
    }

    /// Counts for a Prometheus scrape (text format 0.0.4): no identities, counts only.
    pub async fn metrics(&self) -> Result<String, ServiceError> {
        let queued = self.0.db.writer_queue();
        let (counts, consumers) = self
            .0
            .read(|db, ctx| {
                let now = ctx.now();
                let consumers: Vec<ConsumerView> = db::feed::consumers(db)?
                    .into_iter()
                    .map(|c| view(db, c, now))
                    .collect::<anyhow::Result<_>>()?;
                Ok((db::feed::counts(db)?, (consumers, now)))
            })
            .await?;
        let (consumers, now) = consumers;
        let live: Vec<&ConsumerView> = consumers
            .iter()
            .filter(|c| c.revoked_at.is_none())
            .collect();
        let mut out = String::new();
        let mut metric = |name: &str, kind: &str, help: &str, rows: Vec<(String, String)>| {
            out.push_str(&format!("# HELP {name} {help}\n# TYPE {name} {kind}\n"));
            for (labels, value) in rows {
                out.push_str(&format!("{name}{labels} {value}\n"));
            }
        };
        metric(
            "dsr_requests",
            "gauge",
            "Requests by kind and state.",
            counts
                .requests
                .iter()
                .map(|(k, s, n)| (format!("{{kind=\"{k}\",state=\"{s}\"}}"), n.to_string()))
                .collect(),
        );
        metric(
            "dsr_outbox_mails",
            "gauge",
            "Mails waiting to be sent.",
            vec![(String::new(), counts.mail_waiting.to_string())],
        );
        metric(
            "dsr_outbox_oldest_seconds",
            "gauge",
            "Age of the oldest mail waiting to be sent (0 when none waits).",
            vec![(
                String::new(),
                counts
                    .oldest_mail
                    .map_or(0, |t| (now - t).num_seconds().max(0))
                    .to_string(),
            )],
        );
        metric(
            "dsr_dm_outbox",
            "gauge",
            "Discord DMs waiting to be sent.",
            vec![(String::new(), counts.dms_waiting.to_string())],
        );
        metric(
            "dsr_consumers",
            "gauge",
            "Consumers that may call.",
            vec![(String::new(), live.len().to_string())],
        );
        metric(
            "dsr_consumers_behind",
            "gauge",
            "Consumers with changes they have not acknowledged.",
            vec![(
                String::new(),
                live.iter().filter(|c| c.behind()).count().to_string(),
            )],
        );
        metric(
            "dsr_consumers_stale",
            "gauge",
            "Consumers behind for over a day.",
            vec![(
                String::new(),
                live.iter().filter(|c| c.stale).count().to_string(),
            )],
        );
        metric(
            "dsr_writer_queue",
            "gauge",
            "Units of work waiting for the database writer.",
            vec![(String::new(), queued.to_string())],
        );
        let stats = &db::writer::STATS;
        let commits = stats.commits.load(std::sync::atomic::Ordering::Relaxed);
        let micros = stats
            .commit_micros
            .load(std::sync::atomic::Ordering::Relaxed);
        metric(
            "dsr_writer_commit_seconds",
            "summary",
            "Group commits of this process's writer and the time they took.",
            vec![
                ("_sum".to_owned(), format!("{:.6}", micros as f64 / 1e6)),
                ("_count".to_owned(), commits.to_string()),
            ],
        );
        Ok(out)
    }

    /// Whether a webhook message is due now.
    pub async fn webhooks_due(&self) -> Result<bool, ServiceError> {
        self.0
            .read(|db, ctx| Ok(db::feed::webhook_due(db, ctx.now())?))
            .await
    }

    /// Claims up to `n` due webhook messages for `lease`, each with its body (its cursor).
    pub async fn claim_webhooks(
        &self,
        n: usize,
        lease: chrono::Duration,
    ) -> Result<Vec<(Delivery, String)>, ServiceError> {
        self.0
            .run(Call::system(), move |uow| {
                let claimed = db::feed::claim_webhooks(uow.db, uow.now, uow.now + lease, n)?;
                Ok(claimed
                    .into_iter()
                    .map(|d| {
                        let body = serde_json::json!({
                            "type": "choices.changed",
                            "timestamp": crate::proof::record::instant(d.created_at),
                            "data": { "cursor": cursor_of(uow.ctx, d.consumer_id, d.seq) },
                        })
                        .to_string();
                        (d, body)
                    })
                    .collect())
            })
            .await
    }

    /// Records how delivering `d` went.
    pub async fn webhook_attempted(
        &self,
        d: Delivery,
        outcome: WebhookOutcome,
    ) -> Result<(), ServiceError> {
        self.0
            .run(Call::system(), move |uow| {
                let attempted = match &outcome {
                    WebhookOutcome::Delivered => db::feed::Attempted::Delivered,
                    WebhookOutcome::Retry(at, why) => db::feed::Attempted::Retry(*at, why),
                    WebhookOutcome::GaveUp { disable, why } => db::feed::Attempted::GaveUp {
                        disable: *disable,
                        status: why,
                    },
                };
                Ok(db::feed::webhook_attempted(uow.db, &d, attempted, uow.now)?)
            })
            .await
    }

    /// Sets a live consumer's webhook (none: push off), on again after a 410 or a give-up.
    pub async fn set_webhook(&self, name: &str, url: Option<String>) -> Result<(), ServiceError> {
        if let Some(u) = &url {
            check_webhook(u)?;
        }
        let consumer = self.consumer(name).await?;
        self.0
            .run(Call::system(), move |uow| {
                Ok(db::feed::set_webhook(uow.db, consumer.id, url.as_deref())?)
            })
            .await
    }

    /// Whether any consumer may call (the HTTP API starts by itself then).
    pub async fn any(&self) -> Result<bool, ServiceError> {
        self.0
            .read(|db, _| Ok(!db::feed::active_consumers(db)?.is_empty()))
            .await
    }

    /// The consumer whose token this is.
    pub async fn authenticate(&self, token: &str) -> Result<Consumer, Refusal> {
        let hash = token_hash(token.trim());
        let found = self
            .0
            .read(move |db, _| Ok(db::feed::consumer_by_token(db, &hash)?))
            .await?;
        match found {
            Some(c) if c.revoked_at.is_none() => Ok(c),
            Some(_) => Err(Refusal::Unauthorized(
                "This token was revoked: ask the privacy officers for a new one.".into(),
            )),
            None => Err(Refusal::Unauthorized(
                "This token is not one of ours: send `Authorization: Bearer TOKEN` with the token `consumers add` printed."
                    .into(),
            )),
        }
    }

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
                Ok(db::feed::record_pull(uow.db, last.0, last.1, uow.now)?)
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
                let head = db::feed::head(uow.db)?;
                let acked = db::feed::consumer_named(uow.db, &consumer.name)?
                    .map_or(0, |c| c.last_ack_seq);
                if seq <= acked {
                    // Nothing new was applied: said again, it changes nothing and logs nothing.
                    let (behind, _) = db::feed::unacknowledged(uow.db, acked)?;
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
                    uow.db,
                    consumer.id,
                    &NewAck {
                        run: &run,
                        seq,
                        excluded: ack.excluded,
                        applied_at: ack.applied_at,
                        received_at: uow.now,
                    },
                )?;
                let stored = db::feed::ack(uow.db, id)?
                    .ok_or_else(|| anyhow::anyhow!("acknowledgement #{id} vanished"))?;
                let leaf = super::log::append_ack(uow.db, &stored)?;
                let (behind, _) = db::feed::unacknowledged(uow.db, seq)?;
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
pub(super) fn applied(db: &Conn, ctx: &Context, person: i64) -> anyhow::Result<Vec<String>> {
    let Some(s) = db::feed::standing(db, person)? else {
        return Ok(Vec::new());
    };
    Ok(db::feed::applied(db, s.seq)?
        .into_iter()
        .map(|(name, at)| match at {
            Some(at) => format!("applied by {name} on {}", ctx.show_time(at)),
            None => format!("not yet confirmed by {name}"),
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

/// The live consumers behind for over a day, or whose webhook stopped answering, as officers
/// are told of them.
pub(super) fn stale(db: &Conn, ctx: &Context) -> anyhow::Result<Vec<String>> {
    let now = ctx.now();
    let mut out = Vec::new();
    for c in db::feed::active_consumers(db)? {
        match db::feed::webhook_trouble(db, c.id)? {
            (Some(at), _) => out.push(format!(
                "{}'s webhook answered 410 Gone on {} and is off (`dsr-bot consumers webhook NAME --url URL` turns it on again)",
                c.name,
                ctx.show_time(at)
            )),
            (None, Some(at)) => out.push(format!(
                "{}'s webhook stopped answering (given up on {}); it learns of changes only when it pulls",
                c.name,
                ctx.show_time(at)
            )),
            (None, None) => {}
        }
        let v = view(db, c, now)?;
        if let (true, Some(oldest)) = (v.stale, v.oldest_unacknowledged) {
            out.push(format!(
                "{}: {} change(s) not applied, the oldest since {}",
                v.name,
                v.unacknowledged,
                ctx.show_time(oldest)
            ));
        }
    }
    Ok(out)
}

fn view(db: &Conn, c: Consumer, now: DateTime<Utc>) -> anyhow::Result<ConsumerView> {
    let (unacknowledged, oldest) = db::feed::unacknowledged(db, c.last_ack_seq)?;
    // Behind since the change, or since the consumer exists if that is later.
    let oldest = oldest.map(|o| o.max(c.created_at));
    let webhook_trouble = match db::feed::webhook_trouble(db, c.id)? {
        (Some(at), _) => Some(format!(
            "webhook off after a 410 Gone at {}",
            at.to_rfc3339()
        )),
        (None, Some(at)) => Some(format!(
            "webhook stopped answering, given up at {}",
            at.to_rfc3339()
        )),
        (None, None) => None,
    };
    Ok(ConsumerView {
        webhook_trouble,
        stale: c.revoked_at.is_none() && oldest.is_some_and(|o| now - o > STALE_AFTER),
        name: c.name,
        webhook: c.webhook_url,
        created_at: c.created_at,
        revoked_at: c.revoked_at,
        last_pull_at: c.last_pull_at,
        last_ack_at: c.last_ack_at,
        last_ack_run: c.last_ack_run,
        unacknowledged,
        oldest_unacknowledged: oldest,
    })
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
