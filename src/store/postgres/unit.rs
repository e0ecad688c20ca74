//! One unit of work on PostgreSQL: one transaction, on a blocking thread, through which the
//! synchronous use-cases reach the store's operations ([`crate::store::requests::Requests`]).
//! SQLite's units run on its writer thread and commit in groups; here every unit commits on
//! its own and PostgreSQL groups the WAL flushes.

use std::{cell::RefCell, time::Duration};

use anyhow::Context as _;
use chrono::{DateTime, NaiveDate, Utc};
use sqlx::PgConnection;
use tokio::runtime::Handle;

use super::{
    PgStore, dms, erasure, inputs, limits, log, notes, outbox, people, reply_tokens, requests,
    schedule, standings, verifications,
};
use crate::{
    db::{
        events::Event,
        identities::Identity,
        log::{EventFacts, Item, Leaf, NewNotice},
        reply_tokens::ReplyToken,
        reports::MonthState,
        requests::{NewRequest, Request},
        verifications::Verification,
    },
    domain::{Actor, Language, RequestKind, RequestState},
    proof::merkle::Frontier,
    store::{
        Engine,
        dms::{Dm, Dms, NewDm},
        erasure::{Erasing, Erasure},
        inputs::Inputs,
        limits::Limits,
        log::{AuditLog, NewCheckpoint},
        notes::Notes,
        outbox::{Mail, MailQueue, NewMail, Texts},
        people::{Known, People},
        reply_tokens::{NewToken, ReplyTokens},
        requests::{Filed, Requests},
        schedule::{Mark, Schedule},
        seal::Wrapping,
        settings::Settings,
        standings::{NewStanding, Standing, Standings},
        verifications::{NewCode, Verifications},
    },
};

/// How many times a unit that PostgreSQL aborted for a serialisation failure or a deadlock is
/// run again before the failure is the caller's.
const ATTEMPTS: u32 = 5;

/// The transaction a unit of work runs in, with the runtime its statements wait on.
pub struct PgUnit<'t> {
    conn: RefCell<&'t mut PgConnection>,
    wrapping: Wrapping,
    runtime: Handle,
}

impl PgUnit<'_> {
    /// Runs one statement's future to its end on this (blocking) thread.
    fn wait<T>(
        &self,
        statement: impl AsyncFnOnce(&mut PgConnection) -> anyhow::Result<T>,
    ) -> anyhow::Result<T> {
        let mut conn = self.conn.borrow_mut();
        self.runtime.block_on(statement(&mut conn))
    }
}

impl PgStore {
    /// Runs `work` as one transaction, committed when it returns `Ok` and rolled back
    /// otherwise. A unit PostgreSQL aborts as a serialisation failure or a deadlock (SQLSTATE
    /// 40001, 40P01) changed nothing and is run again, up to five times; `work` must therefore
    /// have no effect outside the transaction.
    pub async fn unit<T, F>(&self, work: F) -> anyhow::Result<T>
    where
        F: Fn(&PgUnit<'_>) -> anyhow::Result<T> + Send + 'static,
        T: Send + 'static,
    {
        let pool = self.pool.clone();
        let wrapping = self.wrapping.clone();
        let runtime = Handle::current();
        tokio::task::spawn_blocking(move || {
            let mut attempt = 1;
            loop {
                let mut tx = runtime
                    .block_on(pool.begin())
                    .context("starting a transaction on PostgreSQL")?;
                let unit = PgUnit {
                    conn: RefCell::new(&mut tx),
                    wrapping: wrapping.clone(),
                    runtime: runtime.clone(),
                };
                let worked = work(&unit);
                drop(unit);
                let done = worked.and_then(|value| {
                    runtime
                        .block_on(tx.commit())
                        .context("committing on PostgreSQL")?;
                    Ok(value)
                });
                // A transaction not committed is rolled back when it is dropped.
                match done {
                    Err(e) if attempt < ATTEMPTS && is_retryable(&e) => {
                        attempt += 1;
                        std::thread::sleep(Duration::from_millis(5 << attempt));
                    }
                    done => return done,
                }
            }
        })
        .await
        .context("a unit of work on PostgreSQL stopped")?
    }
}

impl PgStore {
    /// Runs `work` as one transaction, once: committed when it returns `Ok`, rolled back
    /// otherwise (with the caller's error, as it gave it). For work that cannot be run twice
    /// (a use-case that moves what it was given); a deadlock PostgreSQL breaks is returned.
    pub async fn unit_once<T, E, F>(&self, work: F) -> Result<T, E>
    where
        F: FnOnce(&PgUnit<'_>) -> Result<T, E> + Send + 'static,
        T: Send + 'static,
        E: From<anyhow::Error> + Send + 'static,
    {
        let pool = self.pool.clone();
        let wrapping = self.wrapping.clone();
        let runtime = Handle::current();
        tokio::task::spawn_blocking(move || {
            let mut tx = runtime
                .block_on(pool.begin())
                .context("starting a transaction on PostgreSQL")?;
            let unit = PgUnit {
                conn: RefCell::new(&mut tx),
                wrapping,
                runtime: runtime.clone(),
            };
            let worked = work(&unit);
            drop(unit);
            let value = worked?;
            runtime
                .block_on(tx.commit())
                .context("committing on PostgreSQL")?;
            Ok(value)
        })
        .await
        .map_err(|e| {
            E::from(anyhow::Error::new(e).context("a unit of work on PostgreSQL stopped"))
        })?
    }
}

/// A serialisation failure or a deadlock: PostgreSQL rolled the transaction back whole.
fn is_retryable(e: &anyhow::Error) -> bool {
    e.chain()
        .filter_map(|cause| cause.downcast_ref::<sqlx::Error>())
        .filter_map(|e| e.as_database_error())
        .any(|db| matches!(db.code().as_deref(), Some("40001" | "40P01")))
}

impl Requests for PgUnit<'_> {
    fn file(&self, new: &NewRequest) -> anyhow::Result<Filed> {
        self.wait(async |c| requests::file(c, new).await)
    }

    fn file_imported(
        &self,
        new: &NewRequest,
        confirmed_at: Option<DateTime<Utc>>,
        closed_at: Option<DateTime<Utc>>,
    ) -> anyhow::Result<Filed> {
        self.wait(async |c| requests::file_with(c, new, confirmed_at, closed_at).await)
    }

    fn request(&self, id: i64) -> anyhow::Result<Option<Request>> {
        self.wait(async |c| requests::get(c, id).await)
    }

    fn open_of_kind(&self, person: i64, kind: RequestKind) -> anyhow::Result<Option<Request>> {
        self.wait(async |c| requests::open_of_kind(c, person, kind).await)
    }

    fn open_for_person(&self, person: i64) -> anyhow::Result<Vec<Request>> {
        self.wait(async |c| requests::open_for_person(c, person).await)
    }

    fn for_person(&self, person: i64) -> anyhow::Result<Vec<Request>> {
        self.wait(async |c| requests::for_person(c, person).await)
    }

    fn set_state(
        &self,
        id: i64,
        from: RequestState,
        to: RequestState,
        now: DateTime<Utc>,
    ) -> anyhow::Result<()> {
        self.wait(async |c| requests::set_state(c, id, from, to, now).await)
    }

    fn set_person_confirmed(&self, id: i64, now: DateTime<Utc>) -> anyhow::Result<()> {
        self.wait(async |c| requests::set_person_confirmed(c, id, now).await)
    }

    fn extend(
        &self,
        id: i64,
        due_at: DateTime<Utc>,
        now: DateTime<Utc>,
        reason: &str,
    ) -> anyhow::Result<()> {
        self.wait(async |c| requests::extend(c, &self.wrapping, id, due_at, now, reason).await)
    }

    fn awaiting_unreminded(&self, since: DateTime<Utc>) -> anyhow::Result<Vec<Request>> {
        self.wait(async |c| requests::awaiting_unreminded(c, since).await)
    }

    fn mark_reminded(&self, id: i64, now: DateTime<Utc>) -> anyhow::Result<bool> {
        self.wait(async |c| requests::mark_reminded(c, id, now).await)
    }

    fn unanswered_due_by(&self, until: DateTime<Utc>) -> anyhow::Result<Vec<(i64, DateTime<Utc>)>> {
        self.wait(async |c| requests::unanswered_due_by(c, until).await)
    }

    fn awaiting_since_before(&self, cutoff: DateTime<Utc>) -> anyhow::Result<Vec<Request>> {
        self.wait(async |c| requests::awaiting_since_before(c, cutoff).await)
    }

    fn append_event(&self, event: &Event) -> anyhow::Result<i64> {
        self.wait(async |c| requests::append_event(c, event).await)
    }

    fn events(&self, request: i64) -> anyhow::Result<Vec<(i64, Event)>> {
        self.wait(async |c| requests::events(c, request).await)
    }
}

impl People for PgUnit<'_> {
    fn identity(&self, kind: &str, value: &str) -> anyhow::Result<Option<Known>> {
        let found = self.wait(async |c| people::find(c, &self.wrapping, kind, value).await)?;
        Ok(found.map(|i| Known {
            person: i.person_id,
            verified_at: i.verified_at,
            dm_closed: i.dm_closed,
        }))
    }

    fn resolve(&self, actor: &Actor, now: DateTime<Utc>) -> anyhow::Result<(i64, bool)> {
        let (kind, value) = actor.identity();
        self.wait(async |c| people::resolve(c, &self.wrapping, kind, &value, now).await)
    }

    fn new_person(&self, now: DateTime<Utc>) -> anyhow::Result<i64> {
        self.wait(async |c| Ok(people::create(c, &self.wrapping, now).await?.0))
    }

    fn mark_erased(&self, person: i64, at: DateTime<Utc>) -> anyhow::Result<()> {
        self.wait(async |c| people::erase(c, &self.wrapping, person, at).await.map(drop))
    }

    fn is_erased(&self, person: i64) -> anyhow::Result<bool> {
        self.wait(async |c| people::is_erased(c, person).await)
    }

    fn identities_of(&self, person: i64) -> anyhow::Result<Vec<Identity>> {
        let found = self.wait(async |c| people::of_person(c, &self.wrapping, person).await)?;
        Ok(found
            .into_iter()
            .map(|i| Identity {
                id: i.id,
                person_id: i.person_id,
                kind: i.kind,
                value: i.value,
                verified_at: i.verified_at,
                dm_closed: i.dm_closed,
            })
            .collect())
    }

    fn add_identity(
        &self,
        person: i64,
        kind: &str,
        value: &str,
        verified_at: Option<DateTime<Utc>>,
        now: DateTime<Utc>,
    ) -> anyhow::Result<bool> {
        self.wait(async |c| {
            let key = people::key(c, &self.wrapping, person)
                .await?
                .context("an identity cannot be given to an erased person")?;
            let identity = people::NewIdentity {
                kind,
                value,
                verified_at,
            };
            let added = people::add_identity(c, &self.wrapping, person, &key, &identity, now);
            Ok(added.await?.is_some())
        })
    }

    fn assign_verified(
        &self,
        person: i64,
        kind: &str,
        value: &str,
        now: DateTime<Utc>,
    ) -> anyhow::Result<Option<i64>> {
        self.wait(async |c| {
            people::assign_verified(c, &self.wrapping, person, kind, value, now).await
        })
    }

    fn mark_dm_closed(&self, discord_id: &str, now: DateTime<Utc>) -> anyhow::Result<()> {
        self.wait(async |c| people::mark_dm_closed(c, &self.wrapping, discord_id, now).await)
    }

    fn verified_emails(&self, person: i64) -> anyhow::Result<Vec<String>> {
        self.wait(async |c| people::verified_emails(c, &self.wrapping, person).await)
    }

    fn chosen_language(&self, person: i64) -> anyhow::Result<Option<Language>> {
        self.wait(async |c| people::chosen_language(c, person).await)
    }

    fn choose_language(&self, person: i64, language: Language) -> anyhow::Result<()> {
        self.wait(async |c| people::choose_language(c, person, language).await)
    }

    fn add_notice(&self, person: i64, text: &str, now: DateTime<Utc>) -> anyhow::Result<()> {
        self.wait(async |c| people::add_notice(c, &self.wrapping, person, text, now).await)
    }

    fn take_notices(&self, person: i64) -> anyhow::Result<Vec<String>> {
        self.wait(async |c| people::take_notices(c, &self.wrapping, person).await)
    }
}

impl Limits for PgUnit<'_> {
    fn count_since(
        &self,
        scope: &str,
        key_hash: &str,
        since: DateTime<Utc>,
    ) -> anyhow::Result<i64> {
        self.wait(async |c| limits::count_since(c, scope, key_hash, since).await)
    }

    fn record(&self, scope: &str, key_hash: &str, at: DateTime<Utc>) -> anyhow::Result<()> {
        self.wait(async |c| limits::record(c, scope, key_hash, at).await)
    }
}

impl Verifications for PgUnit<'_> {
    fn add_code(&self, code: &NewCode<'_>) -> anyhow::Result<i64> {
        self.wait(async |c| verifications::add_code(c, &self.wrapping, code).await)
    }

    fn latest_code_for_request(&self, request: i64) -> anyhow::Result<Option<Verification>> {
        self.wait(async |c| verifications::latest_for_request(c, &self.wrapping, request).await)
    }

    fn pending_code_of(&self, person: i64) -> anyhow::Result<Option<Verification>> {
        self.wait(async |c| verifications::pending_of(c, &self.wrapping, person).await)
    }

    fn count_attempt(&self, id: i64) -> anyhow::Result<()> {
        self.wait(async |c| verifications::count_attempt(c, id).await)
    }

    fn mark_verified(&self, id: i64, now: DateTime<Utc>) -> anyhow::Result<()> {
        self.wait(async |c| verifications::mark_verified(c, id, now).await)
    }

    fn mark_verified_by_reply(
        &self,
        request: i64,
        email: &str,
        now: DateTime<Utc>,
    ) -> anyhow::Result<()> {
        self.wait(async |c| {
            verifications::mark_verified_by_reply(c, &self.wrapping, request, email, now).await
        })
    }

    fn refuse(&self, request: i64, email: &str, now: DateTime<Utc>) -> anyhow::Result<bool> {
        self.wait(async |c| verifications::refuse(c, &self.wrapping, request, email, now).await)
    }
}

impl Schedule for PgUnit<'_> {
    fn claim(&self, mark: Mark, key: &str, now: DateTime<Utc>) -> anyhow::Result<bool> {
        self.wait(async |c| schedule::claim(c, mark, key, now).await)
    }

    fn month_state(&self, month: &str) -> anyhow::Result<MonthState> {
        self.wait(async |c| schedule::month_state(c, month).await)
    }

    fn claim_announcement(&self, days_before: i64, now: DateTime<Utc>) -> anyhow::Result<bool> {
        self.wait(async |c| schedule::claim_announcement(c, days_before, now).await)
    }

    fn record_size(&self, day: NaiveDate, size: u64, source: &str) -> anyhow::Result<()> {
        self.wait(async |c| schedule::record_size(c, day, size, source).await)
    }
}

impl Settings for PgUnit<'_> {
    fn setting(&self, name: &str) -> anyhow::Result<Option<String>> {
        self.wait(async |c| schedule::setting(c, name).await)
    }

    fn setting_or_insert(&self, name: &str, value: &str) -> anyhow::Result<String> {
        self.wait(async |c| schedule::setting_or_insert(c, name, value).await)
    }

    fn set_setting(&self, name: &str, value: &str) -> anyhow::Result<()> {
        self.wait(async |c| schedule::set_setting(c, name, value).await)
    }

    fn delete_setting(&self, name: &str) -> anyhow::Result<()> {
        self.wait(async |c| schedule::delete_setting(c, name).await)
    }
}

impl ReplyTokens for PgUnit<'_> {
    fn add_reply_token(&self, token: &NewToken<'_>) -> anyhow::Result<()> {
        self.wait(async |c| reply_tokens::add(c, &self.wrapping, token).await)
    }

    fn reply_token(&self, token: &str) -> anyhow::Result<Option<ReplyToken>> {
        self.wait(async |c| reply_tokens::find(c, &self.wrapping, token).await)
    }

    fn reply_token_of_mail(&self, message_id: &str) -> anyhow::Result<Option<ReplyToken>> {
        self.wait(async |c| reply_tokens::find_by_message_id(c, &self.wrapping, message_id).await)
    }

    fn forget_reply_tokens(&self, person: i64, emails: &[String]) -> anyhow::Result<()> {
        self.wait(async |c| reply_tokens::forget(c, &self.wrapping, person, emails).await)
    }
}

impl MailQueue for PgUnit<'_> {
    fn queue_mail(&self, mail: &NewMail<'_>, now: DateTime<Utc>) -> anyhow::Result<i64> {
        self.wait(async |c| outbox::queue(c, &self.wrapping, mail, now).await)
    }

    fn thread_root(&self, request: i64, recipient: &str) -> anyhow::Result<Option<String>> {
        self.wait(async |c| outbox::thread_root(c, &self.wrapping, request, recipient).await)
    }

    fn texts_about(&self, request: i64, recipient: &str) -> anyhow::Result<Vec<Texts>> {
        self.wait(async |c| outbox::texts_about(c, &self.wrapping, request, recipient).await)
    }

    fn waiting_addresses(&self, request: i64, person: i64) -> anyhow::Result<Vec<String>> {
        self.wait(async |c| outbox::waiting_addresses(c, &self.wrapping, request, person).await)
    }

    fn claim_mail(
        &self,
        now: DateTime<Utc>,
        lease_until: DateTime<Utc>,
    ) -> anyhow::Result<Option<Mail>> {
        self.wait(async |c| outbox::claim_in_unit(c, &self.wrapping, now, lease_until).await)
    }

    fn mail_sent(&self, id: i64, now: DateTime<Utc>) -> anyhow::Result<()> {
        self.wait(async |c| outbox::sent_in_unit(c, id, now).await)
    }

    fn mail_failed(&self, id: i64, error: &str, retry_at: DateTime<Utc>) -> anyhow::Result<()> {
        self.wait(async |c| outbox::failed_in_unit(c, id, error, retry_at).await)
    }

    fn copies_to_forget(&self) -> anyhow::Result<Vec<i64>> {
        self.wait(async |c| outbox::copies_to_forget(c).await)
    }

    fn copy_forgotten(&self, id: i64) -> anyhow::Result<()> {
        self.wait(async |c| outbox::copy_forgotten(c, id).await)
    }
}

impl Notes for PgUnit<'_> {
    fn add_note(
        &self,
        request: i64,
        author: &str,
        text: &str,
        now: DateTime<Utc>,
    ) -> anyhow::Result<i64> {
        self.wait(async |c| notes::add(c, &self.wrapping, request, author, text, now).await)
    }

    fn note_count(&self, request: i64) -> anyhow::Result<usize> {
        self.wait(async |c| notes::count(c, request).await)
    }
}

impl Inputs for PgUnit<'_> {
    fn claim_input(
        &self,
        key_hash: &str,
        legacy: Option<&str>,
        source: &str,
        disposition: &str,
        now: DateTime<Utc>,
    ) -> anyhow::Result<bool> {
        self.wait(async |c| inputs::claim(c, key_hash, legacy, source, disposition, now).await)
    }

    fn set_disposition(&self, key_hash: &str, disposition: &str) -> anyhow::Result<()> {
        self.wait(async |c| inputs::set_disposition(c, key_hash, disposition).await)
    }

    fn may_answer(
        &self,
        address_hash: &str,
        now: DateTime<Utc>,
        within: chrono::Duration,
    ) -> anyhow::Result<bool> {
        self.wait(async |c| inputs::may_answer(c, address_hash, now, within).await)
    }

    fn record_sender(&self, request: i64, sender_hash: &str) -> anyhow::Result<()> {
        self.wait(async |c| inputs::record_sender(c, request, sender_hash).await)
    }

    fn sender_person(&self, sender_hash: &str) -> anyhow::Result<Option<i64>> {
        self.wait(async |c| inputs::sender_person(c, sender_hash).await)
    }

    fn sender_waiting(&self, sender_hash: &str, kind: RequestKind) -> anyhow::Result<Option<i64>> {
        self.wait(async |c| inputs::sender_waiting(c, sender_hash, kind).await)
    }

    fn record_copy(
        &self,
        sender_hash: &str,
        source: &str,
        locator: &str,
        now: DateTime<Utc>,
    ) -> anyhow::Result<()> {
        self.wait(async |c| inputs::record_copy(c, sender_hash, source, locator, now).await)
    }

    fn copy_purged(&self, id: i64) -> anyhow::Result<()> {
        self.wait(async |c| inputs::copy_purged(c, id).await)
    }
}

impl Dms for PgUnit<'_> {
    fn queue_dm(&self, dm: &NewDm<'_>, now: DateTime<Utc>) -> anyhow::Result<i64> {
        self.wait(async |c| dms::queue(c, &self.wrapping, dm, now).await)
    }

    fn claim_dm(
        &self,
        now: DateTime<Utc>,
        lease_until: DateTime<Utc>,
    ) -> anyhow::Result<Option<Dm>> {
        self.wait(async |c| dms::claim(c, &self.wrapping, now, lease_until).await)
    }

    fn dm_sent(&self, id: i64, now: DateTime<Utc>) -> anyhow::Result<()> {
        self.wait(async |c| dms::mark_sent(c, id, now).await)
    }

    fn dm_failed(&self, id: i64, error: &str, retry_at: DateTime<Utc>) -> anyhow::Result<()> {
        self.wait(async |c| dms::mark_failed(c, id, error, retry_at).await)
    }

    fn dm_given_up(&self, id: i64, why: &str, now: DateTime<Utc>) -> anyhow::Result<()> {
        self.wait(async |c| dms::give_up(c, id, why, now).await)
    }
}

impl AuditLog for PgUnit<'_> {
    fn log_append(&self, item: Item, record: &[u8]) -> anyhow::Result<Leaf> {
        self.wait(async |c| log::append(c, item, record).await)
    }

    fn log_frontier(&self) -> anyhow::Result<Frontier> {
        self.wait(async |c| log::frontier(c).await)
    }

    fn add_checkpoint(&self, checkpoint: &NewCheckpoint<'_>) -> anyhow::Result<()> {
        self.wait(async |c| log::add_checkpoint(c, checkpoint).await)
    }

    fn latest_checkpoint_size(&self) -> anyhow::Result<Option<u64>> {
        self.wait(async |c| log::latest_checkpoint_size(c).await)
    }

    fn latest_logged_event(&self, request: i64) -> anyhow::Result<Option<i64>> {
        self.wait(async |c| log::latest_logged_event(c, request).await)
    }

    fn event_facts(&self, event: i64) -> anyhow::Result<Option<EventFacts>> {
        self.wait(async |c| log::event_facts(c, event).await)
    }

    fn leaf_for_event(&self, event: i64) -> anyhow::Result<Option<Leaf>> {
        self.wait(async |c| log::leaf_for_event(c, event).await)
    }

    fn add_notice_version(&self, notice: &NewNotice<'_>, now: DateTime<Utc>) -> anyhow::Result<()> {
        self.wait(async |c| log::add_notice_version(c, notice, now).await)
    }

    fn notice_policy(&self, version: &str) -> anyhow::Result<Option<(String, String)>> {
        self.wait(async |c| log::notice_policy(c, version).await)
    }
}

impl Standings for PgUnit<'_> {
    fn latest_choice(&self, person: i64) -> anyhow::Result<Option<(i64, bool, DateTime<Utc>)>> {
        self.wait(async |c| standings::latest_choice(c, person).await)
    }

    fn standing(&self, person: i64) -> anyhow::Result<Option<Standing>> {
        self.wait(async |c| standings::standing(c, person).await)
    }

    fn set_standing(&self, standing: &NewStanding<'_>) -> anyhow::Result<i64> {
        self.wait(async |c| standings::set_standing(c, standing).await)
    }

    fn touch_standing(&self, person: i64, now: DateTime<Utc>) -> anyhow::Result<Option<i64>> {
        self.wait(async |c| standings::touch(c, person, now).await)
    }

    fn feed_head(&self) -> anyhow::Result<i64> {
        self.wait(async |c| standings::head(c).await)
    }

    fn consumer_keys(&self) -> anyhow::Result<Vec<(i64, Vec<u8>)>> {
        self.wait(async |c| standings::consumer_keys(c).await)
    }

    fn add_erased_hash(
        &self,
        person: i64,
        consumer: i64,
        kind: &str,
        hash: &str,
    ) -> anyhow::Result<()> {
        self.wait(async |c| standings::add_erased_hash(c, person, consumer, kind, hash).await)
    }

    fn applied(&self, seq: i64) -> anyhow::Result<Vec<(String, Option<DateTime<Utc>>)>> {
        self.wait(async |c| standings::applied(c, seq).await)
    }

    fn webhook_consumers(&self) -> anyhow::Result<Vec<i64>> {
        self.wait(async |c| standings::webhook_consumers(c).await)
    }

    fn queue_webhook(
        &self,
        consumer: i64,
        seq: i64,
        message_id: &str,
        now: DateTime<Utc>,
    ) -> anyhow::Result<()> {
        self.wait(async |c| standings::queue_webhook(c, consumer, seq, message_id, now).await)
    }
}

impl Erasure for PgUnit<'_> {
    fn erase_person(&self, erasing: &Erasing<'_>) -> anyhow::Result<()> {
        self.wait(async |c| erasure::erase(c, &self.wrapping, erasing).await)
    }

    fn record_erased_identity(
        &self,
        person: i64,
        request: i64,
        kind: &str,
        hash: &str,
        now: DateTime<Utc>,
    ) -> anyhow::Result<()> {
        self.wait(async |c| {
            erasure::record_erased_identity(c, person, request, kind, hash, now).await
        })
    }
}

impl Engine for PgUnit<'_> {
    fn sqlite(&self) -> anyhow::Result<&crate::db::Conn> {
        anyhow::bail!(
            "this operation is not on the store seam yet, so it runs on SQLite only \
             (DATABASE_URL=sqlite: or unset)"
        )
    }

    fn savepoint(&self) -> anyhow::Result<()> {
        self.wait(async |c| {
            Ok(sqlx::query("SAVEPOINT attempt")
                .execute(c)
                .await
                .map(drop)?)
        })
    }

    fn rollback_to_savepoint(&self) -> anyhow::Result<()> {
        self.wait(async |c| {
            Ok(sqlx::query("ROLLBACK TO SAVEPOINT attempt")
                .execute(c)
                .await
                .map(drop)?)
        })
    }

    fn release_savepoint(&self) -> anyhow::Result<()> {
        self.wait(async |c| {
            Ok(sqlx::query("RELEASE SAVEPOINT attempt")
                .execute(c)
                .await
                .map(drop)?)
        })
    }
}
