//! Filing opt-out, opt-in and deletion requests, and what happens when one is confirmed.

use chrono::Duration;
use sqlx::SqliteConnection;

use super::{Reply, Services, people, transitions};
use crate::{
    crypto,
    db::{self, requests::NewRequest, requests::Request},
    domain::{Actor, Channel, EmailAddress, RequestKind, RequestState, deadline},
    error::{ServiceError, UserError},
};

impl Services {
    /// `/optout`, `/optin`, `/delete`, with an optional email address to prove and link.
    pub async fn file_request(
        &self,
        actor: &Actor,
        channel: Channel,
        kind: RequestKind,
        email: Option<EmailAddress>,
    ) -> Result<Reply, ServiceError> {
        if kind == RequestKind::Status {
            return self.status(actor, channel).await;
        }
        self.limit_actor(actor, channel)?;
        let now = self.now();
        let mut tx = self.begin().await?;
        // Someone met for the first time has no requests, addresses or choices to look up.
        let (person, fresh) = people::resolve_fresh(&mut tx, actor, now).await?;

        let proof_needed = match &email {
            Some(e) => fresh || !is_proven_for(&mut tx, person, e).await?,
            None => false,
        };

        let open = if fresh {
            None
        } else {
            db::requests::find_open(&mut tx, person, kind).await?
        };
        if let Some(open) = open {
            let mut text = format!(
                "Your {} request #{} is already recorded and {}; nothing new was filed.",
                kind.label(),
                open.id,
                open.state().label()
            );
            if let Some(e) = email.as_ref().filter(|_| proof_needed) {
                if self.code_still_valid(&mut tx, &open, e).await? {
                    text.push_str(&format!(" The code we sent to {} still works.", e.masked()));
                } else {
                    self.start_email_proof(&mut tx, &open, e).await?;
                    text.push_str(&format!(
                        " {}",
                        proof_instructions(e, self.config().code_ttl_minutes)
                    ));
                }
            }
            self.finish(tx, &text, Some(&open)).await?;
            return Ok(Reply::about(open.id, text));
        }

        let state = if proof_needed || kind == RequestKind::Deletion {
            RequestState::AwaitingConfirmation
        } else {
            RequestState::Confirmed
        };
        let new = NewRequest {
            person_id: person,
            kind,
            channel,
            state,
            received_at: now,
            deadline_offset_secs: deadline::offset_seconds(now, self.config().policy_deadline),
            due_at: deadline::due_at(now, self.config().response_days),
        };
        let mut req = db::requests::insert(&mut tx, &new).await?;
        let id = req.id;
        transitions::record_new(&mut tx, &req, channel.as_str()).await?;

        let mut text = format!(
            "Your {} request #{} is recorded, received {}.",
            kind.label(),
            id,
            self.describe_offset(now)
        );
        if let Some(e) = email.as_ref().filter(|_| proof_needed) {
            self.start_email_proof(&mut tx, &req, e).await?;
            text.push_str(&format!(
                " {}",
                proof_instructions(e, self.config().code_ttl_minutes)
            ));
        }
        if kind == RequestKind::Deletion {
            text.push_str(&format!(
                " Deletion cannot be undone, so it waits for you: {}. We must answer it by {}.",
                self.confirm_hint(),
                self.show_time(req.due_at)
            ));
            // An account can be borrowed: with an address linked, a deletion asked for in chat
            // is also confirmed from that address (a code, or a reply saying confirm).
            let linked = if fresh {
                Vec::new()
            } else {
                db::identities::verified_emails(&mut tx, person).await?
            };
            if !proof_needed
                && self.email_answer.is_none()
                && let Some(first) = linked.first().and_then(|e| EmailAddress::parse(e).ok())
            {
                self.start_email_proof(&mut tx, &req, &first).await?;
                text.push_str(&format!(
                    " Because {} is linked to you, we also emailed a code there: enter it with \
                     /verify code:NNNNNN, or reply confirm to that email.",
                    first.masked()
                ));
            }
        } else if state == RequestState::Confirmed {
            let sent = if fresh {
                0
            } else {
                self.on_confirmed(&mut tx, &mut req, channel.as_str())
                    .await?
            };
            text.push_str(&format!(" {}", self.choice_consequence(kind)));
            text.push_str(&self.receipt_note(sent, kind));
        }
        self.finish(tx, &text, Some(&req)).await?;
        let reply = Reply::about(id, text);
        Ok(if state == RequestState::Confirmed {
            reply.with_receipt()
        } else {
            reply
        })
    }

    /// Sends a fresh code for `email` tied to `req`.
    async fn start_email_proof(
        &self,
        conn: &mut SqliteConnection,
        req: &Request,
        email: &EmailAddress,
    ) -> anyhow::Result<()> {
        let now = self.now();
        let code = crypto::new_code();
        let hash = self
            .keys
            .code_hash(&code_salt(req.id, email.as_str()), &code);
        let expires = now + Duration::minutes(i64::from(self.config().code_ttl_minutes));
        db::verifications::insert(
            conn,
            req.person_id,
            req.id,
            email.as_str(),
            &hash,
            now,
            expires,
        )
        .await?;
        self.queue_mail(
            conn,
            "confirmation_code",
            req,
            email.as_str(),
            Some(code),
            false,
        )
        .await
    }

    async fn code_still_valid(
        &self,
        conn: &mut SqliteConnection,
        req: &Request,
        email: &EmailAddress,
    ) -> anyhow::Result<bool> {
        Ok(db::verifications::latest_for_request(conn, req.id)
            .await?
            .is_some_and(|v| {
                v.email == email.as_str()
                    && v.expires_at > self.now()
                    && v.attempts < MAX_CODE_ATTEMPTS
            }))
    }

    /// A waiting request is confirmed now: its history records the step, then [`Self::on_confirmed`]
    /// runs. Returns how many receipts were queued.
    pub(super) async fn confirm_waiting(
        &self,
        conn: &mut SqliteConnection,
        req: &mut Request,
        actor: &str,
    ) -> anyhow::Result<usize> {
        let now = self.now();
        transitions::transition(conn, req, RequestState::Confirmed, actor, None, now).await?;
        self.on_confirmed(conn, req, actor).await
    }

    /// A request has just become confirmed: the opposite choice stops counting and the person
    /// gets a receipt at each proven address. Returns how many receipts were queued.
    pub(super) async fn on_confirmed(
        &self,
        conn: &mut SqliteConnection,
        req: &mut Request,
        actor: &str,
    ) -> anyhow::Result<usize> {
        let now = self.now();
        if let Some(opposite) = req.kind().opposite_choice()
            && let Some(mut old) = db::requests::find_open(conn, req.person_id, opposite).await?
        {
            let to = if old.state() == RequestState::Confirmed {
                RequestState::Completed
            } else {
                RequestState::Cancelled
            };
            let note = Some(format!("superseded by request #{}", req.id));
            transitions::transition(conn, &mut old, to, actor, note, now).await?;
        }
        self.queue_receipts(conn, req, "change_confirmed").await
    }

    /// Where the receipt went, or how to get one.
    pub(super) fn receipt_note(&self, sent: usize, kind: RequestKind) -> String {
        if self.email_answer.is_some() {
            return String::new();
        }
        if sent > 0 {
            return " A confirmation is on its way to your email.".to_owned();
        }
        let cmd = match kind {
            RequestKind::OptIn => "/optin",
            RequestKind::Deletion => "/delete",
            _ => "/optout",
        };
        format!(" For a receipt by email, add your address: {cmd} email:you@example.org")
    }

    /// How the person confirms or drops a waiting deletion on the channel they are using.
    pub(super) fn confirm_hint(&self) -> &'static str {
        if self.email_answer.is_some() {
            "reply to this email with the word confirm to go ahead, or cancel to drop it"
        } else {
            "type /confirm to go ahead or /cancel to drop it"
        }
    }

    pub(super) fn choice_consequence(&self, kind: RequestKind) -> String {
        let c = self.config();
        match kind {
            RequestKind::OptOut => format!(
                "We will not use your data for \"{}\" from now on; data kept only for it is deleted after {}.",
                c.policy_name, c.retention_opted_out
            ),
            RequestKind::OptIn => format!(
                "We may use your data for \"{}\" and keep it for {}. You can opt out again at any time.",
                c.policy_name, c.retention_opted_in
            ),
            _ => String::new(),
        }
    }
}

pub(super) const MAX_CODE_ATTEMPTS: i64 = 5;

/// Codes are bound to their request and address, so a code for one cannot prove another.
pub(super) fn code_salt(request_id: i64, email: &str) -> String {
    format!("{request_id}:{email}")
}

async fn is_proven_for(
    conn: &mut SqliteConnection,
    person: i64,
    email: &EmailAddress,
) -> sqlx::Result<bool> {
    Ok(db::identities::find(conn, "email", email.as_str())
        .await?
        .is_some_and(|i| i.person_id == person && i.verified_at.is_some()))
}

fn proof_instructions(email: &EmailAddress, ttl_minutes: u32) -> String {
    format!(
        "To prove the address is yours, we emailed a 6-digit code to {}: enter it with /verify code:NNNNNN \
         within {ttl_minutes} minutes. We use the address only to confirm this request and later changes.",
        email.masked()
    )
}

/// Refusal used by the confirm and verify use-cases when a person is unknown.
pub(super) fn nothing_waiting() -> ServiceError {
    UserError::new(
        "Nothing is waiting for you. /optout, /optin and /delete file a request; /status shows what you have.",
    )
    .into()
}
