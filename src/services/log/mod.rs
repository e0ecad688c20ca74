//! The log at work. Every audit event gets its leaf in the unit of work that writes it
//! ([`append`]), so the log and the tables cannot disagree; a receipt is drafted in that unit
//! ([`draft`]) and signed where it leaves the service ([`Proof::seal`]), off the writer's
//! thread; checkpoints are signed and kept ([`Log::checkpoint`]); and [`Log`] runs the checks
//! anyone can run: a receipt against a public key and the tree, the whole tree against every
//! checkpoint handed out.

mod receipts;
mod verify;

use std::sync::OnceLock;

pub(super) use receipts::{draft, receipts_for, stored_receipts, with_receipts};
use verify::{all_leaves, in_log, verify_log};

use chrono::{Duration, Utc};
use sha2::{Digest, Sha256};

use super::{shared::Shared, uow::Call, uow::Context, uow::Uow};
use crate::store::{Store, log::NewCheckpoint};
use crate::{
    config::Config,
    crypto::Keys,
    db::{
        self, Conn, Database,
        events::Event,
        feed::Ack,
        log::{EventFacts, Item, Leaf},
        requests::Request,
    },
    domain::{Channel, Language, RequestKind},
    email::Templates,
    error::{ServiceError, UserError},
    proof::{
        checkpoint::{Checkpoint, show_hash},
        merkle::{Frontier, Hash, Tree, leaf_hash, verify_consistency, verify_inclusion},
        note::{self, NoteSigner, NoteVerifier},
        receipt::{self, Receipt, Style},
        record::{AckRecord, EventRecord},
    },
};

/// What proving needs: the signing key, every public key the log was signed with, the notice
/// version each channel shows, and the policy's version.
pub struct Proof {
    signer: Option<NoteSigner>,
    known: Vec<NoteVerifier>,
    notices: OnceLock<Vec<(Channel, Language, String)>>,
    pub policy_version: String,
    /// Off only in `bench rush --no-log`, to measure what the log costs.
    pub enabled: bool,
}

impl Proof {
    /// The signing key from where the settings say, every public key the log knows, and the
    /// current key recorded as in use. A new database (nothing signed yet) gets a new key file.
    pub async fn load(database: &Database, config: &Config) -> anyhow::Result<Proof> {
        let stored = database.read(|db| Ok(db::log::keys(db)?)).await?;
        let may_create = stored.is_empty() && database.writable();
        let signer = match crate::proof::key::load(config, may_create) {
            Ok(s) => Some(s),
            // A read-only look at a database signs nothing.
            Err(e) if !database.writable() => {
                tracing::debug!(error = %e, "no signing key (read-only)");
                None
            }
            Err(e) => return Err(e),
        };
        let mut known: Vec<NoteVerifier> = stored
            .iter()
            .filter_map(|k| NoteVerifier::parse(&k.vkey).ok())
            .collect();
        if let Some(s) = &signer
            && !known.contains(&s.verifier())
        {
            known.push(s.verifier());
        }
        if let Some(s) = &signer
            && database.writable()
        {
            let vkey = s.verifier().vkey();
            database
                .write(move |db| Ok::<_, anyhow::Error>(db::log::use_key(db, &vkey, Utc::now())?))
                .await?;
        }
        Ok(Proof {
            signer,
            known,
            notices: OnceLock::new(),
            policy_version: policy_version(config),
            enabled: true,
        })
    }

    /// The log's name (its checkpoints' origin): the signing key's name.
    pub fn origin(&self) -> &str {
        self.signer
            .as_ref()
            .map(NoteSigner::name)
            .or_else(|| self.known.last().map(NoteVerifier::name))
            .unwrap_or("dsr-bot")
    }

    /// The current public key, as `--key` takes it.
    pub fn public_key(&self) -> Option<String> {
        self.signer.as_ref().map(|s| s.verifier().vkey())
    }

    /// `bytes` signed with the signing key: (the public key, as `--key` takes it, and the
    /// base64 Ed25519 signature); none on a read-only look.
    pub fn sign_bytes(&self, bytes: &[u8]) -> Option<(String, String)> {
        let s = self.signer.as_ref()?;
        Some((s.verifier().vkey(), s.sign_bytes(bytes)))
    }

    pub fn known_keys(&self) -> &[NoteVerifier] {
        &self.known
    }

    /// The notice version `channel` shows a reader of `language` now (none for imports: the
    /// person saw another's).
    pub fn notice(&self, channel: Channel, language: Language) -> Option<&str> {
        self.notices
            .get()?
            .iter()
            .find(|(c, l, _)| *c == channel && *l == language)
            .map(|(.., v)| v.as_str())
    }

    /// `text` with the receipt of each event it refers to (from `receipts`) made and signed,
    /// laid out for where it is shown.
    pub fn seal(&self, text: &str, style: Style, receipts: &[Receipt]) -> String {
        if !receipt::has_marker(text) {
            return text.to_owned();
        }
        let Some(signer) = &self.signer else {
            tracing::error!("a receipt was to be signed without a signing key; it was left out");
            return receipt::seal(text, style, &unsigned(), |_| String::new(), &[]);
        };
        let key = match style {
            Style::Discord => "receipt_intro_chat",
            _ => "receipt_intro_mail",
        };
        // `{request}` is left for the receipt's own number.
        let intro = |language| super::texts::say(language, key, &[("signer", signer.name())]);
        receipt::seal(text, style, signer, intro, receipts)
    }
}

/// A key for the markers of a process that has no signing key: they are left out.
fn unsigned() -> NoteSigner {
    NoteSigner::generate("unsigned").expect("a valid name")
}

/// The policy's version: 12 hex digits of the hash of what the policy says.
fn policy_version(config: &Config) -> String {
    let text = format!(
        "{}\n{}\n{}\n{}\n{}\n{}\n",
        config.policy_name,
        config.organisation_name,
        config.policy_deadline.to_rfc3339(),
        config.retention_opted_in,
        config.retention_opted_out,
        config.response_days
    );
    hex::encode(&Sha256::digest(text.as_bytes())[..6])
}

/// What each channel shows a reader of each language, as one text: the privacy notice (with
/// a placeholder for the time to the deadline) and the templates a person on that channel
/// reads in that language. The same text in two languages (one not translated) is one
/// version.
fn notice_texts(ctx: &Context, templates: &Templates) -> Vec<(Channel, Language, String)> {
    let mut out = Vec::new();
    for language in Language::ALL {
        let notice =
            |c| super::status::notice_text(ctx, c, language, "(time to or since the deadline)");
        out.push((Channel::Console, language, notice(Channel::Console)));
        for (channel, folder) in [(Channel::Discord, "discord"), (Channel::Email, "email")] {
            let text = format!(
                "{}\n{}",
                notice(channel),
                templates.sources_of(folder, language)
            );
            out.push((channel, language, text));
        }
    }
    out
}

/// At start: the notice versions of this configuration recorded, and a leaf for every event
/// written before the log existed (or by a process with the log off), in their order.
/// Keeps the notice versions this process shows (each once, whoever keeps it first), in a
/// unit of work of its own: an audit event names the one its person was shown.
pub(super) async fn record_notices(shared: &Shared) -> anyhow::Result<()> {
    let ctx = shared.ctx.clone();
    let texts = notice_texts(&ctx, &ctx.templates);
    shared
        .run(Call::system(), move |uow| {
            let proof = &uow.ctx.proof;
            let (policy, policy_version) = (&uow.ctx.config.policy_name, &proof.policy_version);
            let versions = proof.notices.get().into_iter().flatten();
            for ((channel, language, text), (.., version)) in texts.iter().zip(versions) {
                let notice = db::log::NewNotice {
                    version,
                    channel: channel.as_str(),
                    language: language.as_str(),
                    policy,
                    policy_version,
                    text,
                };
                uow.db.add_notice_version(&notice, uow.now)?;
            }
            Ok(())
        })
        .await?;
    Ok(())
}

pub(super) async fn start(shared: &Shared) -> anyhow::Result<()> {
    let ctx = shared.ctx.clone();
    let texts = notice_texts(&ctx, &ctx.templates);
    let versions: Vec<(Channel, Language, String)> = texts
        .iter()
        .map(|(c, l, t)| (*c, *l, hex::encode(Sha256::digest(t.as_bytes()))))
        .collect();
    let _ = ctx.proof.notices.set(versions.clone());
    if !shared.db.writable() {
        return Ok(());
    }
    record_notices(shared).await?;
    if !ctx.proof.enabled {
        return Ok(());
    }
    loop {
        let ctx = ctx.clone();
        let added = shared
            .db
            .write(move |db| catch_up(db, &ctx.keys, 50_000))
            .await?;
        if added == 0 {
            return Ok(());
        }
        tracing::info!(leaves = added, "added the log's leaves for earlier events");
    }
}

/// Appends the leaves of up to `most` events that have none yet; how many.
fn catch_up(db: &Conn, keys: &Keys, most: usize) -> anyhow::Result<usize> {
    let after = db::log::last_logged_event(db)?;
    let mut facts = Vec::new();
    db::log::each_event_after(db, after, |f| {
        if facts.len() < most {
            facts.push(f);
        }
        Ok(())
    })?;
    for f in &facts {
        db::log::append(db, Item::Event(f.event_id), &record(keys, f).bytes())?;
    }
    Ok(facts.len())
}

/// The record a leaf hashes, from an event's facts.
pub fn record(keys: &Keys, f: &EventFacts) -> EventRecord {
    record_with(f, keys.person_hash(f.person_id))
}

fn record_with(f: &EventFacts, person: String) -> EventRecord {
    EventRecord {
        event: f.event_id,
        request: f.request_id,
        kind: f.kind.clone(),
        person,
        from: f.from.clone(),
        to: f.to.clone(),
        at: f.at,
        offset_us: f.offset_us,
        by: f.by.clone(),
        note: f.note.clone(),
        notice: f.notice.clone(),
    }
}

/// An event this unit of work wrote, its leaf, and its request as the event left it: what
/// its receipt is made of, without reading anything back.
#[derive(Debug, Clone)]
pub struct Logged {
    pub facts: EventFacts,
    pub leaf: Option<Leaf>,
    pub request: Request,
    pub person: String,
}

/// Writes `event` about `req` (as the event leaves it) to the audit trail and its leaf to
/// the log, in the unit's transaction. The notice the person was shown is the one their
/// channel shows now, unless the event names one.
pub(super) fn append(uow: &Uow<'_>, req: &Request, mut event: Event) -> anyhow::Result<()> {
    let proof = &uow.ctx.proof;
    if event.notice.is_none() {
        event.notice = proof.notice(req.channel, req.language).map(str::to_owned);
    }
    let event_id = uow.db.append_event(&event)?;
    let facts = EventFacts {
        event_id,
        request_id: req.id,
        kind: req.kind.as_str().to_owned(),
        person_id: req.person_id,
        from: event.from_state.map(|s| s.as_str().to_owned()),
        to: event.to_state.as_str().to_owned(),
        at: event.at,
        offset_us: req.deadline_offset_us,
        by: event.actor,
        note: event.note,
        notice: event.notice,
    };
    super::feed::on_choice(uow, req)?;
    let person = uow.ctx.keys.person_hash(req.person_id);
    let leaf = if proof.enabled {
        let record = record_with(&facts, person.clone());
        Some(uow.db.log_append(Item::Event(event_id), &record.bytes())?)
    } else {
        None
    };
    uow.logged.borrow_mut().push(Logged {
        facts,
        leaf,
        request: req.clone(),
        person,
    });
    Ok(())
}

/// A checkpoint handed out: its signed note.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SignedCheckpoint {
    pub size: u64,
    pub note: String,
}

/// What `receipt verify` found, one receipt at a time.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReceiptCheck {
    pub receipt: Receipt,
    pub signed_by: String,
    /// What the database said, when it was asked.
    pub in_log: Option<String>,
}

/// What `log verify` found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LogCheck {
    pub events: u64,
    pub checkpoints: usize,
}

/// Checks a pasted receipt's signature against `keys`: the receipts found, or why not.
pub fn check_signature(
    pasted: &str,
    keys: &[NoteVerifier],
) -> Result<Vec<(Receipt, NoteVerifier)>, UserError> {
    let found = receipt::find_all(pasted);
    if found.is_empty() {
        return Err(UserError::new(format!(
            "No receipt found: a receipt starts with the line \"{}\" and ends with a line starting with \"—\" \
             (the signature). Paste the whole message it came in, or just the receipt.",
            receipt::FORM
        )));
    }
    found
        .iter()
        .map(|n| {
            let opened = note::open(n, keys)
                .map_err(|e| UserError::new(format!("The receipt is not valid: {e}.")))?;
            let r = Receipt::parse(&opened.text).map_err(|e| {
                UserError::new(format!("The receipt is signed but does not read: {e}."))
            })?;
            Ok((r, opened.signed_by))
        })
        .collect()
}

/// The log as the person, the officer and the auditor use it.
pub struct Log<'a>(pub(super) &'a Shared);

impl Log<'_> {
    fn proof(&self) -> &Proof {
        &self.0.ctx.proof
    }

    /// The current public key, and every one used before.
    pub async fn keys(&self) -> Result<Vec<db::log::KnownKey>, ServiceError> {
        self.0.read(|db, _| Ok(db::log::keys(db)?)).await
    }

    pub fn public_key(&self) -> Option<String> {
        self.proof().public_key()
    }

    /// A signed checkpoint of the tree as it is, for a reader to keep: the newest one kept
    /// when the tree has not grown since or it is under a second old, else a new one; so
    /// readers make at most one checkpoint a second however often they read.
    pub async fn current_checkpoint(&self) -> Result<String, ServiceError> {
        let now = self.0.now();
        let latest = self
            .0
            .read(|db, _| Ok(db::log::latest_checkpoint(db)?))
            .await?;
        let fresh = |c: &db::log::StoredCheckpoint| now - c.made_at < Duration::seconds(1);
        if let Some(c) = latest.as_ref().filter(|c| fresh(c)) {
            return Ok(c.note.clone());
        }
        match self.checkpoint("feed", true).await? {
            Some(made) => Ok(made.note),
            None => Ok(latest.map(|c| c.note).unwrap_or_default()),
        }
    }

    /// Signs the tree's head and keeps the checkpoint; when `only_if_grown`, only if the tree
    /// grew since the last checkpoint (`None` then).
    pub async fn checkpoint(
        &self,
        why: &'static str,
        only_if_grown: bool,
    ) -> Result<Option<SignedCheckpoint>, ServiceError> {
        let (head, last) = self
            .0
            .read_store(|store, _| Ok((store.log_frontier()?, store.latest_checkpoint_size()?)))
            .await?;
        let grown = match last {
            Some(size) => size != head.size(),
            None => head.size() > 0,
        };
        if only_if_grown && !grown {
            return Ok(None);
        }
        let Some(signer) = self.proof().signer.clone() else {
            return Err(
                anyhow::anyhow!("no signing key: the database was opened read-only").into(),
            );
        };
        self.0
            .run(Call::system(), move |uow| {
                // Read again inside the unit: the head it signs is the head it keeps.
                let head = uow.db.log_frontier()?;
                let checkpoint = Checkpoint {
                    origin: signer.name().to_owned(),
                    size: head.size(),
                    root: head.root(),
                };
                let note = signer.sign(&checkpoint.text());
                uow.db.add_checkpoint(&NewCheckpoint {
                    size: checkpoint.size,
                    root: &checkpoint.root,
                    key: &signer.verifier().vkey(),
                    note: &note,
                    now: uow.now,
                    why,
                })?;
                Ok(Some(SignedCheckpoint {
                    size: checkpoint.size,
                    note,
                }))
            })
            .await
    }

    /// Checks every receipt in `pasted`: its signature against `key` (or every key the log
    /// was signed with), and that its event is in the tree, unchanged, with the tree grown from
    /// the receipt's head without a rewrite.
    pub async fn verify_receipt(
        &self,
        pasted: String,
        key: Option<NoteVerifier>,
    ) -> Result<Vec<ReceiptCheck>, ServiceError> {
        let keys = match key {
            Some(k) => vec![k],
            None => self.proof().known_keys().to_vec(),
        };
        let found = check_signature(&pasted, &keys)?;
        self.0
            .read(move |db, ctx| {
                let leaves = all_leaves(db)?;
                let tree = Tree::new(leaves.iter().map(|l| l.hash).collect());
                let mut checks = Vec::new();
                for (r, by) in found {
                    let in_log = in_log(db, ctx, &tree, &leaves, &r)?;
                    checks.push(ReceiptCheck {
                        receipt: r,
                        signed_by: by.short(),
                        in_log: Some(in_log),
                    });
                }
                Ok(checks)
            })
            .await
            .map_err(told)
    }

    /// Recomputes the tree from `request_events` and checks it against the stored leaves, the
    /// head every receipt handed out, the stored head, and every signed checkpoint (its
    /// signature, and a consistency proof from it to the tree).
    pub async fn verify(&self) -> Result<LogCheck, ServiceError> {
        self.0.read(verify_log).await.map_err(told)
    }
}

/// A finding travelled as an error through a read: a user error again.
pub(super) fn told(e: ServiceError) -> ServiceError {
    match e {
        ServiceError::Internal(e) => match e.downcast::<UserError>() {
            Ok(u) => ServiceError::User(u),
            Err(e) => ServiceError::Internal(e),
        },
        other => other,
    }
}

/// The record a consumer's acknowledgement leaf hashes.
pub fn ack_record(a: &Ack) -> AckRecord {
    AckRecord {
        ack: a.id,
        consumer: a.consumer.clone(),
        run: a.run.clone(),
        applied_to: a.seq,
        excluded: a.excluded,
        applied_at: a.applied_at,
        received_at: a.received_at,
    }
}

/// Logs acknowledgement `ack`, in the unit that records it; its leaf's index.
pub(super) fn append_ack(db: &dyn Store, ack: &Ack) -> anyhow::Result<u64> {
    Ok(db
        .log_append(Item::Ack(ack.id), &ack_record(ack).bytes())?
        .index)
}

/// When the log is checkpointed on its own: a short timer, so a head is handed out soon
/// after every change even when no receipt carries it.
pub const CHECKPOINT_EVERY: std::time::Duration = std::time::Duration::from_secs(10);

/// Signs the head on a timer, when it grew, until `stop`.
pub async fn checkpoint_loop(
    services: super::Services,
    mut stop: tokio::sync::watch::Receiver<bool>,
) {
    let mut tick = crate::workers::timer(CHECKPOINT_EVERY);
    while crate::workers::next_tick(&mut tick, &mut stop).await {
        if let Err(e) = services.log().checkpoint("timer", true).await {
            tracing::warn!(error = %format!("{e:#}"), "the log's head could not be checkpointed; tried again later");
        }
    }
}
