//! Turns Discord invocations into service calls and service replies into what Discord shows.
//! Nothing here talks to Discord: the bot hands in who acted and a `Dm` to send receipts with.

use std::future::Future;

use crate::{
    domain::{DiscordId, EmailAddress, RequestKind, RequestState, command},
    error::{ServiceError, UserError},
    services::{Call, Origin, Reply, RequestFilter, Services},
};

use super::buttons::{Action, DeletionButton};

/// Who acted, as Discord told us: the interaction id, the user, their roles in the guild.
#[derive(Debug, Clone)]
pub struct Invocation {
    pub interaction_id: u64,
    pub user: DiscordId,
    /// Empty outside a guild.
    pub roles: Vec<u64>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum MemberCommand {
    OptOut { email: Option<String> },
    OptIn { email: Option<String> },
    Delete { email: Option<String> },
    Confirm,
    Cancel,
    Verify { code: String },
    Status,
    Privacy,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum OfficerCommand {
    Requests {
        state: Option<String>,
    },
    Show {
        request_id: i64,
    },
    Complete {
        request_id: i64,
    },
    Extend {
        request_id: i64,
        days: i64,
        reason: String,
    },
    Note {
        request_id: i64,
        text: String,
    },
    Report {
        month: Option<String>,
    },
}

/// What the bot shows (always ephemeral) and what it sends afterwards.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Answer {
    pub text: String,
    pub buttons: Vec<(DeletionButton, &'static str)>,
    /// A receipt to DM once the reply is shown (never to a member whose DMs are known closed:
    /// the reply says so instead).
    pub receipt: Option<(DiscordId, String)>,
}

impl Answer {
    fn text(text: String) -> Self {
        Answer {
            text,
            ..Default::default()
        }
    }
}

#[derive(Debug)]
pub enum DmError {
    /// Discord error 50007: the member does not accept DMs from the bot.
    Closed,
    Failed(anyhow::Error),
}

/// Sends direct messages; the bot implements it over serenity, tests with a recorder.
pub trait Dm: Send + Sync {
    fn send(&self, to: DiscordId, text: &str) -> impl Future<Output = Result<(), DmError>> + Send;
}

/// DMs `text` to each of `ids` about their own request; a closed DM is recorded so it is not
/// tried again. Returns how many were sent.
pub async fn dm_each<D: Dm>(services: &Services, dm: &D, ids: &[DiscordId], text: &str) -> usize {
    let mut sent = 0;
    for id in ids {
        match dm.send(*id, text).await {
            Ok(()) => sent += 1,
            Err(DmError::Closed) => {
                if let Err(e) = services.mark_dm_closed(*id).await {
                    tracing::error!(error = format!("{e:#}"), "recording closed DMs failed");
                }
            }
            Err(DmError::Failed(e)) => {
                tracing::warn!(error = format!("{e:#}"), "a DM about a request failed");
            }
        }
    }
    sent
}

/// Discord's own cap on a message.
const MAX_MESSAGE: usize = 2_000;
/// Rows read for `/requests`: more than one message can show (a line is 40 to 60 characters).
const PAGE: u32 = 60;

#[derive(Clone)]
pub struct Adapter {
    services: Services,
    officer_role: Option<u64>,
}

impl Adapter {
    pub fn new(services: Services) -> Self {
        let officer_role = services.config().discord.officer_role_id;
        Adapter {
            services,
            officer_role,
        }
    }

    pub fn services(&self) -> &Services {
        &self.services
    }

    pub async fn member(&self, inv: &Invocation, cmd: MemberCommand) -> Answer {
        let svc = &self.services;
        let origin = Origin::discord(inv.user, inv.interaction_id);
        let file = |kind, email: Option<String>| {
            let origin = origin.clone();
            async move {
                let email = email_arg(email)?;
                svc.file_request(&origin, kind, email).await
            }
        };
        let is_delete = matches!(cmd, MemberCommand::Delete { .. });
        let result = match cmd {
            MemberCommand::OptOut { email } => file(RequestKind::OptOut, email).await,
            MemberCommand::OptIn { email } => file(RequestKind::OptIn, email).await,
            MemberCommand::Delete { email } => file(RequestKind::Deletion, email).await,
            MemberCommand::Confirm => svc.confirm(&origin).await,
            MemberCommand::Cancel => svc.cancel(&origin).await,
            MemberCommand::Verify { code } => svc.verify(&origin, &code).await,
            MemberCommand::Status => svc.status(&origin).await,
            MemberCommand::Privacy => Ok(Reply::text(svc.privacy_notice())),
        };
        match result {
            Ok(reply) => {
                let waiting = (reply.request_state() == Some(RequestState::AwaitingConfirmation))
                    .then_some(reply.request_id)
                    .flatten();
                let mut answer = self.answer(inv.user, reply).await;
                if is_delete && let Some(id) = waiting {
                    answer.buttons = self.deletion_buttons(id, inv.user);
                }
                answer
            }
            Err(e) => Answer::text(e.for_person()),
        }
    }

    /// A press on a Confirm or Cancel button, by `inv.user`.
    pub async fn button(&self, inv: &Invocation, custom_id: &str) -> Option<Answer> {
        let b = DeletionButton::parse(custom_id)?;
        if b.requester != inv.user.0 {
            return Some(Answer::text(
                "Only the member who asked for this deletion can use these buttons.".into(),
            ));
        }
        if b.expired(self.services.now()) {
            return Some(Answer::text(
                "These buttons have expired. Run /delete again for fresh ones, or use /confirm or /cancel.".into(),
            ));
        }
        let origin = Origin::discord(inv.user, inv.interaction_id);
        let result = match b.action {
            Action::Confirm => self.services.confirm(&origin).await,
            Action::Cancel => self.services.cancel_request(&origin, b.request_id).await,
        };
        Some(match result {
            Ok(reply) => self.answer(inv.user, reply).await,
            Err(e) => Answer::text(e.for_person()),
        })
    }

    /// Sends the DM receipt after the reply was shown; returns a line to add to the reply
    /// when the DM could not be sent. A closed DM is recorded and never tried again.
    pub async fn deliver_receipt<D: Dm>(
        &self,
        to: DiscordId,
        text: &str,
        dm: &D,
    ) -> Option<String> {
        match dm.send(to, text).await {
            Ok(()) => None,
            Err(DmError::Closed) => {
                if let Err(e) = self.services.mark_dm_closed(to).await {
                    tracing::error!(error = format!("{e:#}"), "recording closed DMs failed");
                }
                Some(DM_CLOSED.into())
            }
            Err(DmError::Failed(e)) => {
                tracing::warn!(error = format!("{e:#}"), "DM receipt failed");
                Some("We could not DM you a receipt just now; the change stands.".into())
            }
        }
    }

    pub async fn officer<D: Dm>(&self, inv: &Invocation, cmd: OfficerCommand, dm: &D) -> Answer {
        if let Err(e) = self.check_officer(inv) {
            return Answer::text(e.to_string());
        }
        let result = match cmd {
            OfficerCommand::Requests { state } => self.open_requests(state).await,
            OfficerCommand::Report { month } => self.report(month).await,
            OfficerCommand::Show { request_id } => self.show_request(request_id).await,
            OfficerCommand::Complete { request_id } => {
                let call = Call::discord(inv.interaction_id);
                match self.services.complete_deletion(call, request_id).await {
                    Ok(done) => {
                        let text = format!(
                            "Your deletion request #{request_id} is done: the data {} held about you is erased.",
                            self.services.config().organisation_name
                        );
                        let told = dm_each(&self.services, dm, &done.tell_on_discord, &text).await;
                        Ok(format!(
                            "Request #{request_id} completed: {} identities erased (keyed hashes kept). The person was told \
                         by email at {} address(es) and by DM {} time(s).",
                            done.identities_erased, done.people_told, told
                        ))
                    }
                    Err(e) => Err(e),
                }
            }
            OfficerCommand::Extend {
                request_id,
                days,
                reason,
            } => {
                let call = Call::discord(inv.interaction_id);
                match self
                    .services
                    .extend_request(call, request_id, days, &reason)
                    .await
                {
                    Ok(done) => {
                        let told =
                            dm_each(&self.services, dm, &done.tell_on_discord, &done.dm_text).await;
                        Ok(format!(
                            "Request #{request_id} is now due {} (it was {}). The person was told by email at {} \
                             address(es) and by DM {} time(s).",
                            done.due, done.original_due, done.mails, told
                        ))
                    }
                    Err(e) => Err(e),
                }
            }
            OfficerCommand::Note { request_id, text } => {
                let call = Call::discord(inv.interaction_id);
                self.services
                    .add_note(call, request_id, &text)
                    .await
                    .map(|n| format!("Note {n} added to request #{request_id}."))
            }
        };
        Answer::text(match result {
            Ok(text) => text,
            Err(e) => e.for_person(),
        })
    }

    fn check_officer(&self, inv: &Invocation) -> Result<(), UserError> {
        match self.officer_role {
            None => Err(UserError::new(
                "No privacy-officer role is set up. The bot's operator sets PRIVACY_OFFICER_ROLE_ID.",
            )),
            Some(role) if inv.roles.contains(&role) => Ok(()),
            Some(_) => Err(UserError::new(
                "Only members with the privacy-officer role can use this command.",
            )),
        }
    }

    /// The reply, and its DM receipt when a change took effect: unless the member's DMs are
    /// known to be closed, in which case the reply says so and is the confirmation.
    async fn answer(&self, user: DiscordId, reply: Reply) -> Answer {
        if !reply.receipt {
            return Answer::text(reply.text);
        }
        match self.services.dm_closed(user).await {
            Ok(true) => Answer::text(format!("{}\n\n{DM_CLOSED}", reply.text)),
            closed => {
                if let Err(e) = closed {
                    tracing::error!(
                        error = format!("{e:#}"),
                        "reading whether DMs are closed failed"
                    );
                }
                Answer {
                    receipt: Some((user, reply.text.clone())),
                    text: reply.text,
                    buttons: Vec::new(),
                }
            }
        }
    }

    fn deletion_buttons(
        &self,
        request_id: i64,
        user: DiscordId,
    ) -> Vec<(DeletionButton, &'static str)> {
        let issued_at = self.services.now().timestamp();
        let b = |action| DeletionButton {
            action,
            request_id,
            requester: user.0,
            issued_at,
        };
        vec![
            (b(Action::Confirm), "Confirm deletion"),
            (b(Action::Cancel), "Cancel"),
        ]
    }

    /// Open requests (or those in `state`), oldest due first, as many as fit one message.
    async fn open_requests(&self, state: Option<String>) -> Result<String, ServiceError> {
        let state = state
            .map(|s| {
                s.parse::<RequestState>()
                    .map_err(|e| UserError::new(format!("Unknown state: {e}.")))
            })
            .transpose()?;
        let filter = RequestFilter {
            state,
            open_only: state.is_none(),
            limit: Some(PAGE),
        };
        let total = self.services.count_requests(filter).await?;
        if total == 0 {
            return Ok("No requests match.".into());
        }
        let lines = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
        let sink = lines.clone();
        self.services
            .list_requests(filter, move |r| {
                let line = format!(
                    "#{} {} – {} – due {} ({})\n",
                    r.id,
                    r.kind.label(),
                    r.state.label(),
                    &r.due_at[..10],
                    if r.days_left >= 0 {
                        format!("{} days left", r.days_left)
                    } else {
                        format!("{} days late", -r.days_left)
                    }
                );
                sink.lock().expect("not poisoned").push(line);
                Ok(())
            })
            .await?;
        let lines = std::mem::take(&mut *lines.lock().expect("not poisoned"));
        let mut out = format!("{total} request(s), oldest due first:\n");
        let mut shown = 0;
        for line in lines {
            if out.len() + line.len() > MAX_MESSAGE - 80 {
                break;
            }
            out.push_str(&line);
            shown += 1;
        }
        if (shown as i64) < total {
            out.push_str(&format!(
                "… and {} more; `dsr-bot requests list` shows all.",
                total - shown as i64
            ));
        }
        Ok(out)
    }

    /// One request in full, cut to one message (the CLI's `requests show` has all of it).
    async fn show_request(&self, request_id: i64) -> Result<String, ServiceError> {
        let Some(d) = self.services.request_details(request_id).await? else {
            return Err(UserError::new(format!(
                "There is no request #{request_id}. /requests lists the open ones."
            ))
            .into());
        };
        let mut text = d.describe();
        if text.len() > MAX_MESSAGE {
            let tail = "\n… `dsr-bot requests show` has the rest.";
            let mut cut = MAX_MESSAGE - tail.len();
            while !text.is_char_boundary(cut) {
                cut -= 1;
            }
            text.truncate(cut);
            text.push_str(tail);
        }
        Ok(text)
    }

    async fn report(&self, month: Option<String>) -> Result<String, ServiceError> {
        let month = month
            .map(|m| m.parse::<crate::reports::Month>().map_err(UserError::new))
            .transpose()?;
        let report = self.services.monthly_report(month).await?;
        self.services
            .render_report(&report, crate::reports::render::Format::Md)
    }
}

const DM_CLOSED: &str = "Your DMs are closed, so no receipt was sent there; the change stands and this reply is your confirmation.";

fn email_arg(email: Option<String>) -> Result<Option<EmailAddress>, ServiceError> {
    Ok(email.map(|e| command::parse_email(&e)).transpose()?)
}
