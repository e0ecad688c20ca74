//! The person's follow-ups: `/verify` a code, `/confirm` a deletion, `/cancel` what waits.

use super::{
    Reply, Services,
    file::{MAX_CODE_ATTEMPTS, code_salt, nothing_waiting},
    people, transitions,
};
use crate::{
    db,
    domain::{Actor, Channel, RequestKind, RequestState, command::parse_code},
    error::{ServiceError, UserError},
};

impl Services {
    /// `/verify code:NNNNNN`: proves control of the address a code was sent to.
    pub async fn verify(
        &self,
        actor: &Actor,
        channel: Channel,
        code: &str,
    ) -> Result<Reply, ServiceError> {
        self.limit_actor(actor, channel)?;
        let code = parse_code(code)?;
        let now = self.now();
        let mut tx = self.begin().await?;
        let person = people::find(&mut tx, actor)
            .await?
            .ok_or_else(nothing_waiting)?;
        let v = db::verifications::latest_pending_for_person(&mut tx, person).await?.ok_or_else(|| {
            UserError::new(
                "No code is waiting for you. Codes come with a request that names an email address, \
                 like /optout email:you@example.org.",
            )
        })?;
        if v.expires_at <= now || v.attempts >= MAX_CODE_ATTEMPTS {
            let why = if v.expires_at <= now {
                "has expired"
            } else {
                "was entered wrongly too many times"
            };
            return Err(UserError::new(format!(
                "That code {why}. Repeat your request with the email address to get a new one."
            ))
            .into());
        }
        if !self
            .keys
            .code_matches(&code_salt(v.request_id, &v.email), &code, &v.code_hash)
        {
            db::verifications::count_attempt(&mut tx, v.id).await?;
            tx.commit().await?;
            let left = MAX_CODE_ATTEMPTS - v.attempts - 1;
            return Err(UserError::new(format!(
                "That code is not the one we sent. Check the latest email from us; {left} tries left."
            ))
            .into());
        }
        db::verifications::mark_verified(&mut tx, v.id, now).await?;
        db::identities::assign_verified(&mut tx, person, "email", &v.email, now).await?;
        let mut req = db::requests::get(&mut tx, v.request_id)
            .await?
            .expect("verification has a request");
        let masked = crate::domain::EmailAddress::parse(&v.email)
            .map(|e| e.masked())
            .unwrap_or_default();
        let kind = req.kind();
        let (text, receipt) = match req.state() {
            RequestState::AwaitingConfirmation
                if kind == RequestKind::Deletion && req.person_confirmed_at.is_none() =>
            {
                self.queue_mail(&mut tx, "request_received", &req, &v.email, None, false)
                    .await?;
                let text = format!(
                    "Thank you, {masked} is verified. Deletion request #{} cannot be undone, so it still waits \
                     for you: type /confirm to go ahead or /cancel to drop it.",
                    req.id
                );
                (text, false)
            }
            RequestState::AwaitingConfirmation => {
                let sent = self
                    .confirm_waiting(&mut tx, &mut req, channel.as_str())
                    .await?;
                let text = format!(
                    "Thank you, {masked} is verified and your {} request #{} is confirmed. {}{}",
                    kind.label(),
                    req.id,
                    self.confirmed_consequence(kind, &req),
                    self.receipt_note(sent, kind)
                );
                (text, true)
            }
            _ => {
                self.queue_mail(&mut tx, "change_confirmed", &req, &v.email, None, false)
                    .await?;
                let text = format!(
                    "Thank you, {masked} is verified and linked to your {} request #{}. A receipt is on its way.",
                    kind.label(),
                    req.id
                );
                (text, true)
            }
        };
        self.finish(tx, &text, Some(&req)).await?;
        let reply = Reply::about(req.id, text);
        Ok(if receipt { reply.with_receipt() } else { reply })
    }

    /// `/confirm`: the explicit second step a deletion needs.
    pub async fn confirm(&self, actor: &Actor, channel: Channel) -> Result<Reply, ServiceError> {
        self.limit_actor(actor, channel)?;
        let now = self.now();
        let mut tx = self.begin().await?;
        let person = people::find(&mut tx, actor)
            .await?
            .ok_or_else(nothing_waiting)?;
        let Some(mut req) = db::requests::find_open(&mut tx, person, RequestKind::Deletion).await?
        else {
            return Err(UserError::new(
                "No deletion request is waiting for your confirmation. /delete starts one.",
            )
            .into());
        };
        if req.state() == RequestState::Confirmed {
            return Ok(Reply::about(
                req.id,
                format!(
                    "Deletion request #{} is already confirmed; it will be carried out by {}.",
                    req.id,
                    self.show_time(req.due_at)
                ),
            ));
        }
        db::requests::set_person_confirmed(&mut tx, req.id, now).await?;
        req.person_confirmed_at = Some(now);
        let pending_code = db::verifications::latest_for_request(&mut tx, req.id).await?;
        let (text, receipt) = if let Some(v) = pending_code {
            let masked = crate::domain::EmailAddress::parse(&v.email)
                .map(|e| e.masked())
                .unwrap_or_default();
            let text = format!(
                "Noted. Deletion request #{} also needs the code we emailed to {masked}: enter it with \
                 /verify code:NNNNNN.",
                req.id
            );
            (text, false)
        } else {
            let sent = self
                .confirm_waiting(&mut tx, &mut req, channel.as_str())
                .await?;
            let text = format!(
                "Deletion request #{} is confirmed. {}{}",
                req.id,
                self.confirmed_consequence(RequestKind::Deletion, &req),
                self.receipt_note(sent, RequestKind::Deletion)
            );
            (text, true)
        };
        self.finish(tx, &text, Some(&req)).await?;
        let reply = Reply::about(req.id, text);
        Ok(if receipt { reply.with_receipt() } else { reply })
    }

    /// `/cancel`: drops every request still waiting for the person, and a confirmed deletion
    /// that has not been carried out yet. Recorded choices are changed by the opposite choice.
    pub async fn cancel(&self, actor: &Actor, channel: Channel) -> Result<Reply, ServiceError> {
        self.cancel_waiting(actor, channel, None).await
    }

    /// Cancels one request of the person's (the Cancel button under a deletion).
    pub async fn cancel_request(
        &self,
        actor: &Actor,
        channel: Channel,
        request_id: i64,
    ) -> Result<Reply, ServiceError> {
        self.cancel_waiting(actor, channel, Some(request_id)).await
    }

    async fn cancel_waiting(
        &self,
        actor: &Actor,
        channel: Channel,
        only: Option<i64>,
    ) -> Result<Reply, ServiceError> {
        self.limit_actor(actor, channel)?;
        let now = self.now();
        let mut tx = self.begin().await?;
        let person = people::find(&mut tx, actor)
            .await?
            .ok_or_else(nothing_waiting)?;
        let mut cancelled = Vec::new();
        for mut req in db::requests::open_for_person(&mut tx, person).await? {
            let cancellable = (req.state() == RequestState::AwaitingConfirmation
                || req.kind() == RequestKind::Deletion)
                && only.is_none_or(|id| id == req.id);
            if cancellable {
                let note = Some("cancelled by the person".to_owned());
                transitions::transition(
                    &mut tx,
                    &mut req,
                    RequestState::Cancelled,
                    channel.as_str(),
                    note,
                    now,
                )
                .await?;
                cancelled.push(format!("#{} ({})", req.id, req.kind().label()));
            }
        }
        if cancelled.is_empty() {
            return Err(UserError::new(
                "Nothing is waiting to be cancelled. To change a recorded choice, use /optout or /optin.",
            )
            .into());
        }
        let text = format!("Cancelled: {}.", cancelled.join(", "));
        self.finish(tx, &text, None).await?;
        Ok(Reply {
            text,
            request_id: only,
            receipt: false,
        })
    }

    pub(super) fn confirmed_consequence(
        &self,
        kind: RequestKind,
        req: &db::requests::Request,
    ) -> String {
        match kind {
            RequestKind::Deletion => format!(
                "A privacy officer will erase your data by {} and you will be told when it is done.",
                self.show_time(req.due_at)
            ),
            _ => self.choice_consequence(kind),
        }
    }
}
