//! Turns Discord invocations into service calls and service replies into what Discord shows.
//! Nothing here talks to Discord: the bot hands in who acted and a `Dm` to send receipts with.

use std::future::Future;

use crate::{
    domain::{Actor, Channel, DiscordId, EmailAddress, RequestKind, RequestState, command},
    error::{ServiceError, UserError},
    services::{Reply, Services},
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
    Requests { state: Option<String> },
    Complete { request_id: i64 },
    Report { month: Option<String> },
}

/// What the bot shows (always ephemeral) and what it sends afterwards.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Answer {
    pub text: String,
    pub buttons: Vec<(DeletionButton, &'static str)>,
    /// A receipt to DM once the reply is shown.
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

/// Discord's own cap on a message.
const MAX_MESSAGE: usize = 2_000;

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
        let svc = self
            .services
            .for_input("discord", &inv.interaction_id.to_string());
        let actor = Actor::Discord(inv.user);
        let ch = Channel::Discord;
        let file = |kind, email: Option<String>| {
            let svc = svc.clone();
            let actor = actor.clone();
            async move {
                let email = email_arg(email)?;
                svc.file_request(&actor, ch, kind, email).await
            }
        };
        let is_delete = matches!(cmd, MemberCommand::Delete { .. });
        let result = match cmd {
            MemberCommand::OptOut { email } => file(RequestKind::OptOut, email).await,
            MemberCommand::OptIn { email } => file(RequestKind::OptIn, email).await,
            MemberCommand::Delete { email } => file(RequestKind::Deletion, email).await,
            MemberCommand::Confirm => svc.confirm(&actor, ch).await,
            MemberCommand::Cancel => svc.cancel(&actor, ch).await,
            MemberCommand::Verify { code } => svc.verify(&actor, ch, &code).await,
            MemberCommand::Status => svc.status(&actor, ch).await,
            MemberCommand::Privacy => Ok(Reply {
                text: svc.privacy_notice(),
                request_id: None,
                receipt: false,
            }),
        };
        match result {
            Ok(reply) => {
                let mut answer = self.answer(inv.user, reply.clone());
                if is_delete && let Some(id) = reply.request_id {
                    answer.buttons = self.deletion_buttons(id, inv.user).await;
                }
                answer
            }
            Err(e) => Answer::text(e.reply_text()),
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
        let svc = self
            .services
            .for_input("discord", &inv.interaction_id.to_string());
        let actor = Actor::Discord(inv.user);
        let result = match b.action {
            Action::Confirm => svc.confirm(&actor, Channel::Discord).await,
            Action::Cancel => {
                svc.cancel_request(&actor, Channel::Discord, b.request_id)
                    .await
            }
        };
        Some(match result {
            Ok(reply) => self.answer(inv.user, reply),
            Err(e) => Answer::text(e.reply_text()),
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
        match self.services.dm_closed(to).await {
            Ok(true) => return Some(DM_CLOSED.into()),
            Ok(false) => {}
            Err(e) => {
                e.reply_text();
            }
        }
        match dm.send(to, text).await {
            Ok(()) => None,
            Err(DmError::Closed) => {
                if let Err(e) = self.services.mark_dm_closed(to).await {
                    e.reply_text();
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
        let svc = self
            .services
            .for_input("discord", &inv.interaction_id.to_string());
        let result = match cmd {
            OfficerCommand::Requests { state } => self.open_requests(state).await,
            OfficerCommand::Report { month } => self.report(month).await,
            OfficerCommand::Complete { request_id } => {
                match svc.complete_deletion(request_id).await {
                    Ok(done) => {
                        let mut told_on_discord = 0;
                        for id in &done.tell_on_discord {
                            let text = format!(
                                "Your deletion request #{request_id} is done: the data {} held about you is erased.",
                                self.services.config().organisation_name
                            );
                            if dm.send(*id, &text).await.is_ok() {
                                told_on_discord += 1;
                            }
                        }
                        Ok(format!(
                            "Request #{request_id} completed: {} identities erased (keyed hashes kept). The person was told \
                         by email at {} address(es) and by DM {} time(s).",
                            done.identities_erased, done.people_told, told_on_discord
                        ))
                    }
                    Err(e) => Err(e),
                }
            }
        };
        Answer::text(match result {
            Ok(text) => text,
            Err(e) => e.reply_text(),
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

    fn answer(&self, user: DiscordId, reply: Reply) -> Answer {
        let receipt = reply.receipt.then(|| (user, reply.text.clone()));
        Answer {
            text: reply.text,
            buttons: Vec::new(),
            receipt,
        }
    }

    async fn deletion_buttons(
        &self,
        request_id: i64,
        user: DiscordId,
    ) -> Vec<(DeletionButton, &'static str)> {
        let issued_at = self.services.now().timestamp();
        let state = self.services.request_state(request_id).await.ok().flatten();
        if state != Some(RequestState::AwaitingConfirmation) {
            return Vec::new();
        }
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

    async fn open_requests(&self, state: Option<String>) -> Result<String, ServiceError> {
        let state = state
            .map(|s| {
                s.parse::<RequestState>()
                    .map_err(|e| UserError::new(format!("Unknown state: {e}.")))
            })
            .transpose()?;
        let rows = self.services.list_requests(state).await?;
        let rows: Vec<_> = rows
            .into_iter()
            .filter(|r| state.is_some() || r.state.is_open())
            .collect();
        if rows.is_empty() {
            return Ok("No requests match.".into());
        }
        let mut out = format!("{} request(s), oldest due first:\n", rows.len());
        for (shown, r) in rows.iter().enumerate() {
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
            if out.len() + line.len() > MAX_MESSAGE - 80 {
                out.push_str(&format!(
                    "… and {} more; `dsr-bot requests list` shows all.",
                    rows.len() - shown
                ));
                break;
            }
            out.push_str(&line);
        }
        Ok(out)
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
