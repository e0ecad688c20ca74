//! The email channel: a reply carrying our token, or a new message to the privacy address,
//! read once and acted on only when it is safe to.

use chrono::Duration;

use super::{Services, people, transitions};
use crate::{
    db::{self, requests::NewRequest, requests::Request},
    domain::{Actor, Channel, EmailAddress, RequestKind, RequestState, deadline},
    email::inbound::{InboundMail, intent, intent::Word},
    error::{ServiceError, UserError},
};

/// What became of one inbound message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Disposition {
    /// A use-case ran; its answer is in the outbox.
    Acted,
    /// Nothing was done; a polite answer says what to do instead (unless one went to this
    /// address in the last day).
    Refused(&'static str),
    /// Automatic mail (auto-reply, bounce, list, our own): recorded, never answered.
    IgnoredAutomatic(&'static str),
    /// Kept for a person to look at: it could not be read.
    Held,
    /// Seen before; nothing happened this time.
    Duplicate,
}

/// The request and address a valid reply token stands for.
struct Target {
    request: Request,
    email: EmailAddress,
}

const ONE_WORD: &str = "Write one word: opt out, opt in, delete or status.";

impl Services {
    /// Reads one parsed message and does what it safely can, exactly once per message.
    pub async fn handle_email(&self, mail: &InboundMail) -> Result<Disposition, ServiceError> {
        self.limit(&format!("email:{}", mail.from), Channel::Email)?;
        let svc = self.for_email(&mail.key, &mail.from, mail.message_id.as_deref());
        if let Some(reason) = mail.automatic {
            return svc
                .record_only("ignored_automatic")
                .await
                .map(|d| d.unwrap_or(Disposition::IgnoredAutomatic(reason)));
        }
        let word = intent::read(&mail.new_text);
        let outcome = match self.reply_target(mail).await? {
            Some(Ok(target)) => {
                self.prove_email(&target).await?;
                svc.act_on_reply(&target, word).await
            }
            Some(Err(why)) => return svc.refuse(why).await,
            None => {
                let word = word.or_else(|| intent::read(strip_reply_prefixes(&mail.subject)));
                svc.act_on_new_mail(word).await
            }
        };
        match outcome {
            Ok(()) => Ok(Disposition::Acted),
            Err(ServiceError::Duplicate) => Ok(Disposition::Duplicate),
            Err(ServiceError::User(e)) => svc
                .answer_refusal(&e.0, "refused")
                .await
                .map(|d| d.unwrap_or(Disposition::Refused("could not act"))),
            Err(e) => Err(e),
        }
    }

    /// A message that could not be read: recorded once; the source keeps the message itself.
    pub async fn record_held(&self, key: &str) -> Result<Disposition, ServiceError> {
        let svc = self.for_input("email", key);
        Ok(svc.record_only("held").await?.unwrap_or(Disposition::Held))
    }

    /// Claims the input and notes what became of it; `Some(Duplicate)` when seen before.
    async fn record_only(&self, disposition: &str) -> Result<Option<Disposition>, ServiceError> {
        let Some(tx) = self.begin_recorded(disposition).await? else {
            return Ok(Some(Disposition::Duplicate));
        };
        tx.commit().await?;
        Ok(None)
    }

    /// Starts the transaction for an input that ends as `disposition`; `None` when the input
    /// was handled before.
    async fn begin_recorded(
        &self,
        disposition: &str,
    ) -> Result<Option<db::group::WriteTx>, ServiceError> {
        match self.begin_as(disposition).await {
            Ok(tx) => Ok(Some(tx)),
            Err(ServiceError::Duplicate) => Ok(None),
            Err(e) => Err(e),
        }
    }

    /// The request a reply points at, through a plus-address token or In-Reply-To/References;
    /// `Some(Err)` when it points at something we cannot honour.
    async fn reply_target(
        &self,
        mail: &InboundMail,
    ) -> Result<Option<Result<Target, &'static str>>, ServiceError> {
        let mut conn = self.pool().acquire().await.map_err(anyhow::Error::from)?;
        let mut found = None;
        for t in &mail.tokens {
            if let Some(tok) = db::reply_tokens::find(&mut conn, t).await? {
                found = Some(tok);
                break;
            }
        }
        if found.is_none() {
            for r in &mail.references {
                if let Some(tok) = db::reply_tokens::find_by_message_id(&mut conn, r).await? {
                    found = Some(tok);
                    break;
                }
            }
        }
        let Some(tok) = found else {
            return Ok((!mail.tokens.is_empty()).then_some(Err("unknown token")));
        };
        if tok.expires_at <= self.now() {
            return Ok(Some(Err("expired token")));
        }
        if tok.email != mail.from.as_str() {
            return Ok(Some(Err("sender does not match")));
        }
        let Some(request) = db::requests::get(&mut conn, tok.request_id).await? else {
            return Ok(Some(Err("unknown token")));
        };
        Ok(Some(Ok(Target {
            request,
            email: mail.from.clone(),
        })))
    }

    /// A reply with our token from the address it was sent to proves control of that address.
    async fn prove_email(&self, t: &Target) -> Result<(), ServiceError> {
        let now = self.now();
        let mut tx = db::begin_write(self.pool()).await?;
        db::identities::assign_verified(
            &mut tx,
            t.request.person_id,
            "email",
            t.email.as_str(),
            now,
        )
        .await?;
        sqlx::query(
            "UPDATE email_verifications SET verified_at = ? WHERE request_id = ? AND email = ? AND verified_at IS NULL",
        )
        .bind(now)
        .bind(t.request.id)
        .bind(t.email.as_str())
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(())
    }

    async fn act_on_reply(&self, t: &Target, word: Option<Word>) -> Result<(), ServiceError> {
        let actor = Actor::Email(t.email.clone());
        let ch = Channel::Email;
        match word {
            Some(Word::Confirm) => self.confirm_request(&actor, t.request.id).await,
            Some(Word::Cancel) => self.cancel_request(&actor, ch, t.request.id).await.map(drop),
            Some(Word::OptOut) => self.file_request(&actor, ch, RequestKind::OptOut, None).await.map(drop),
            Some(Word::OptIn) => self.file_request(&actor, ch, RequestKind::OptIn, None).await.map(drop),
            Some(Word::Delete) => self.file_request(&actor, ch, RequestKind::Deletion, None).await.map(drop),
            Some(Word::Status) => self.status(&actor, ch).await.map(drop),
            None => Err(UserError::new(
                "We could not find an instruction in your reply. Reply with one word: confirm, cancel, opt out, \
                 opt in, delete or status.",
            )
            .into()),
        }
    }

    /// "confirm" in a reply: the request the reply belongs to goes ahead (for a deletion, this
    /// is the explicit second confirmation).
    async fn confirm_request(&self, actor: &Actor, request_id: i64) -> Result<(), ServiceError> {
        let now = self.now();
        let mut tx = self.begin().await?;
        let person = people::find(&mut tx, actor).await?;
        let mut req = db::requests::get(&mut tx, request_id)
            .await?
            .filter(|r| Some(r.person_id) == person)
            .ok_or_else(|| {
                UserError::new("That request is not one we can confirm for this address.")
            })?;
        let kind = req.kind();
        let waits_for_chat = kind == RequestKind::Deletion
            && req.channel != Channel::Email.as_str()
            && req.person_confirmed_at.is_none();
        let text = if req.state() == RequestState::AwaitingConfirmation && waits_for_chat {
            format!(
                "Thank you: your address is confirmed for deletion request #{}. Deletion cannot be undone, so \
                 it also needs your confirmation where you asked for it (the Confirm button or /confirm).",
                req.id
            )
        } else if req.state() == RequestState::AwaitingConfirmation {
            if kind == RequestKind::Deletion {
                db::requests::set_person_confirmed(&mut tx, req.id, now).await?;
            }
            self.confirm_waiting(&mut tx, &mut req, "email").await?;
            format!(
                "Your {} request #{} is confirmed. {}",
                kind.label(),
                req.id,
                self.confirmed_consequence(kind, &req)
            )
        } else {
            format!(
                "Your {} request #{} is already {}; nothing changed.",
                kind.label(),
                req.id,
                req.state().label()
            )
        };
        self.finish(tx, &text, Some(&req)).await
    }

    /// A new message without a token. Anyone can write any From line, so a change waits for a
    /// confirming reply from the address; a status question is answered to the address only.
    async fn act_on_new_mail(&self, word: Option<Word>) -> Result<(), ServiceError> {
        let kind = match word {
            Some(Word::OptOut) => RequestKind::OptOut,
            Some(Word::OptIn) => RequestKind::OptIn,
            Some(Word::Delete) => RequestKind::Deletion,
            Some(Word::Status) => return self.status_for_address().await,
            Some(Word::Confirm | Word::Cancel) => {
                return Err(UserError::new(format!(
                    "We could not tell which request you mean. To confirm or cancel, reply to the email we sent \
                     you. To make a new request: {ONE_WORD}"
                ))
                .into());
            }
            None => {
                return Err(UserError::new(format!(
                    "We could not tell what you would like us to do. {ONE_WORD}"
                ))
                .into());
            }
        };
        let sender = self.answer_address();
        let now = self.now();
        let mut tx = self.begin().await?;
        let person = match db::identities::find(&mut tx, "email", sender.as_str()).await? {
            Some(i) => i.person_id,
            None => db::people::insert(&mut tx, now).await?,
        };
        let req = match db::requests::find_open(&mut tx, person, kind).await? {
            Some(open) => open,
            None => {
                let new = NewRequest {
                    person_id: person,
                    kind,
                    channel: Channel::Email,
                    state: RequestState::AwaitingConfirmation,
                    received_at: now,
                    deadline_offset_secs: deadline::offset_seconds(
                        now,
                        self.config().policy_deadline,
                    ),
                    due_at: deadline::due_at(now, self.config().response_days),
                };
                let req = db::requests::insert(&mut tx, &new).await?;
                transitions::record_new(&mut tx, &req, "email").await?;
                req
            }
        };
        if req.state() == RequestState::AwaitingConfirmation {
            // The confirmation request is the answer; `finish` would send a second mail.
            self.queue_mail(
                &mut tx,
                "confirm_by_reply",
                &req,
                sender.as_str(),
                None,
                false,
            )
            .await?;
            tx.commit().await?;
            self.mail_ready().notify_one();
            Ok(())
        } else {
            let text = format!(
                "Your {} request #{} is already {}; nothing new was filed.",
                kind.label(),
                req.id,
                req.state().label()
            );
            self.finish(tx, &text, Some(&req)).await
        }
    }

    async fn status_for_address(&self) -> Result<(), ServiceError> {
        let sender = self.answer_address();
        let mut tx = self.begin().await?;
        let text = match db::identities::find(&mut tx, "email", sender.as_str()).await? {
            Some(i) if i.verified_at.is_some() => {
                self.record_status(&mut tx, i.person_id, Channel::Email)
                    .await?
                    .1
            }
            _ => format!("We hold no confirmed requests for this address. {ONE_WORD}"),
        };
        self.finish(tx, &text, None).await
    }

    /// A reply we cannot honour: one polite answer saying what to do instead.
    async fn refuse(&self, why: &'static str) -> Result<Disposition, ServiceError> {
        let privacy = &self.config().inbound.reply_address;
        let text = match why {
            "expired token" => format!(
                "The message you replied to is too old for us to act on. Write a new email to {privacy}. {ONE_WORD}"
            ),
            "sender does not match" => format!(
                "Your reply came from a different address than the one we wrote to, so we did not act on it. Reply \
                 from the address that received our message, or write a new email to {privacy}."
            ),
            _ => format!(
                "We could not match your reply to a request of ours. Write a new email to {privacy}. {ONE_WORD}"
            ),
        };
        Ok(self
            .answer_refusal(&text, "refused")
            .await?
            .unwrap_or(Disposition::Refused(why)))
    }

    /// Claims the input, records it, and answers the sender at most once a day.
    async fn answer_refusal(
        &self,
        text: &str,
        disposition: &str,
    ) -> Result<Option<Disposition>, ServiceError> {
        let Some(mut tx) = self.begin_recorded(disposition).await? else {
            return Ok(Some(Disposition::Duplicate));
        };
        let to = self.answer_address();
        let hash = self.keys.identity_hash("answered", to.as_str());
        if db::inputs::may_answer(&mut tx, &hash, self.now(), Duration::days(1)).await? {
            self.queue_reply(&mut tx, &to, text, None).await?;
        } else {
            tracing::info!("refusal not answered: this address had one in the last day");
        }
        tx.commit().await?;
        self.mail_ready().notify_one();
        Ok(None)
    }

    fn answer_address(&self) -> EmailAddress {
        self.email_answer
            .as_ref()
            .expect("email use-cases run on for_email services")
            .0
            .clone()
    }
}

fn strip_reply_prefixes(subject: &str) -> &str {
    let mut s = subject.trim();
    loop {
        let lower = s.to_ascii_lowercase();
        match ["re:", "fwd:", "fw:", "aw:", "tr:", "sv:", "wg:"]
            .iter()
            .find(|p| lower.starts_with(*p))
        {
            Some(p) => s = s[p.len()..].trim_start(),
            None => return s,
        }
    }
}
