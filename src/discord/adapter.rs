//! Turns Discord invocations into the domain's commands and service replies into what Discord
//! shows. It holds no rule: who may act, what is said and whether a DM is sent are decided in
//! the services; nothing here talks to Discord.

use crate::{
    domain::{
        DiscordId, EmailAddress, Language, MemberCommand, OfficerCommand, RequestState, command,
    },
    error::{ServiceError, UserError},
    reports::render::Format,
    services::{Call, Officer, Origin, RequestFilter, Services, texts},
};

use super::buttons::{self, Action, DeletionButton};

/// Who acted, as Discord told us: the interaction, the user, where, and their roles there.
#[derive(Debug, Clone)]
pub struct Invocation {
    pub interaction_id: u64,
    pub user: DiscordId,
    /// The guild the interaction came from; `None` in a DM or a user-installed context.
    pub guild: Option<u64>,
    /// Empty outside a guild.
    pub roles: Vec<u64>,
    /// Whether the officer role is one of that guild's roles, as Discord says (asked only
    /// when `DISCORD_GUILD_ID` is unset).
    pub role_in_guild: bool,
    /// The member's client language, as Discord tells it with every interaction (`locale`),
    /// when it is one the bot writes.
    pub language: Option<Language>,
}

impl Invocation {
    fn origin(&self) -> Origin {
        Origin::discord(self.user, self.interaction_id).in_language(self.language)
    }

    fn officer(&self) -> Officer {
        Officer::Discord {
            user: self.user,
            guild: self.guild,
            roles: self.roles.clone(),
            role_in_guild: self.role_in_guild,
        }
    }
}

/// What the bot shows (always ephemeral).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Answer {
    pub text: String,
    pub buttons: Vec<(DeletionButton, String)>,
}

impl Answer {
    fn text(text: String) -> Self {
        Answer {
            text,
            ..Default::default()
        }
    }
}

/// Discord's own cap on a message.
const MAX_MESSAGE: usize = 2_000;
/// Rows read for `/requests`: more than one message can show (a line is 40 to 60 characters).
const PAGE: u32 = 60;

#[derive(Clone)]
pub struct Adapter {
    services: Services,
}

impl Adapter {
    pub fn new(services: Services) -> Self {
        Adapter { services }
    }

    pub fn services(&self) -> &Services {
        &self.services
    }

    pub async fn member(&self, inv: &Invocation, cmd: MemberCommand) -> Answer {
        let is_delete = matches!(cmd, MemberCommand::Delete { .. });
        let result = self.services.dispatch(&inv.origin(), cmd).await;
        let language = self.language(inv).await;
        match result {
            Ok(reply) => {
                let waiting = (reply.request_state() == Some(RequestState::AwaitingConfirmation))
                    .then_some(reply.request_id)
                    .flatten();
                let mut answer = Answer::text(reply.text);
                if is_delete && let Some(id) = waiting {
                    answer.buttons = self.deletion_buttons(id, inv.user, language);
                }
                answer
            }
            Err(e) => Answer::text(e.for_person_in(language)),
        }
    }

    /// A press on a Confirm or Cancel button, by `inv.user`; `None` for a button that is not
    /// ours at all.
    pub async fn button(&self, inv: &Invocation, custom_id: &str) -> Option<Answer> {
        let parsed = buttons::parse(custom_id, &self.services)?;
        let b = match parsed {
            Ok(b) => b,
            Err(why) => return Some(Answer::text(why.in_language(self.language(inv).await))),
        };
        let language = self.language(inv).await;
        let say = |key| Some(Answer::text(texts::say(language, key, &[])));
        if b.requester != inv.user.0 {
            return say("buttons_not_yours");
        }
        if b.expired(self.services.now()) {
            return say("buttons_expired");
        }
        let cmd = match b.action {
            Action::Confirm => MemberCommand::Confirm,
            Action::Cancel => MemberCommand::CancelRequest {
                request_id: b.request_id,
            },
        };
        Some(self.member(inv, cmd).await)
    }

    pub async fn officer(&self, inv: &Invocation, cmd: OfficerCommand) -> Answer {
        let officer = inv.officer();
        let call = Call::discord(inv.interaction_id);
        let requests = self.services.requests();
        let result = match cmd {
            OfficerCommand::Requests { state } => self.open_requests(&officer, state).await,
            OfficerCommand::Report { month } => self.report(&officer, month).await,
            OfficerCommand::Show { request_id } => self.show_request(&officer, request_id).await,
            OfficerCommand::Complete { request_id } => requests
                .complete(call, &officer, request_id)
                .await
                .map(|done| done.summary()),
            OfficerCommand::Extend {
                request_id,
                days,
                reason,
            } => requests
                .extend(call, &officer, request_id, days, &reason)
                .await
                .map(|done| done.summary()),
            OfficerCommand::Note { request_id, text } => requests
                .note(call, &officer, request_id, &text)
                .await
                .map(|n| crate::services::note_added(n, request_id)),
        };
        Answer::text(match result {
            Ok(text) => text,
            Err(e) => e.for_person(),
        })
    }

    /// The language a refusal or a button outside the unit of work is written in, as the
    /// services decide it ([`Services::language_of`]).
    pub async fn language(&self, inv: &Invocation) -> Language {
        self.services.language_of(&inv.origin()).await
    }

    fn deletion_buttons(
        &self,
        request_id: i64,
        user: DiscordId,
        language: Language,
    ) -> Vec<(DeletionButton, String)> {
        let issued_at = self.services.now().timestamp();
        let b = |action| DeletionButton {
            action,
            request_id,
            requester: user.0,
            issued_at,
        };
        vec![
            (
                b(Action::Confirm),
                texts::say(language, "button_confirm", &[]),
            ),
            (
                b(Action::Cancel),
                texts::say(language, "button_cancel", &[]),
            ),
        ]
    }

    /// Open requests (or those in `state`), oldest due first, as many as fit one message.
    async fn open_requests(
        &self,
        officer: &Officer,
        state: Option<RequestState>,
    ) -> Result<String, ServiceError> {
        let filter = RequestFilter {
            state,
            open_only: state.is_none(),
            limit: Some(PAGE),
            ..RequestFilter::default()
        };
        let requests = self.services.requests();
        let total = requests.count(officer, filter).await?;
        let stale = self.services.feed().stale().await?;
        let behind = if stale.is_empty() {
            String::new()
        } else if stale.len() > 5 {
            format!(
                "\n{} systems are behind for over a day with the choices they must honour: `dsr-bot consumers list` shows them.",
                stale.len()
            )
        } else {
            format!(
                "\nBehind for over a day with the choices they must honour: {}.",
                stale.join("; ")
            )
        };
        if total == 0 {
            return Ok(format!("No requests match.{behind}"));
        }
        let lines = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
        let sink = lines.clone();
        requests
            .list(officer, filter, move |r| {
                let line = match &r.due_at {
                    Some(due) => format!(
                        "#{} {} – {} – due {} ({})\n",
                        r.id,
                        r.kind.label(),
                        r.state.label(),
                        &due[..10],
                        r.due_in_words()
                    ),
                    None => format!("#{} {} – {}\n", r.id, r.kind.label(), r.state.label()),
                };
                sink.lock().expect("not poisoned").push(line);
                Ok(())
            })
            .await?;
        let lines = std::mem::take(&mut *lines.lock().expect("not poisoned"));
        let mut out = format!("{total} request(s), oldest due first:\n");
        let mut shown = 0;
        for line in lines {
            if out.len() + line.len() + behind.len() > MAX_MESSAGE - 80 {
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
        out.push_str(&behind);
        Ok(out)
    }

    /// One request in full, cut to one message (the CLI's `requests show` has all of it).
    async fn show_request(
        &self,
        officer: &Officer,
        request_id: i64,
    ) -> Result<String, ServiceError> {
        let Some(d) = self
            .services
            .requests()
            .details(officer, request_id)
            .await?
        else {
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

    async fn report(
        &self,
        officer: &Officer,
        month: Option<String>,
    ) -> Result<String, ServiceError> {
        self.services
            .reports()
            .for_officer(officer, month.as_deref(), Format::Md)
            .await
    }
}

/// An address typed into a command's option, checked as the console checks it.
pub fn email_arg(email: Option<String>) -> Result<Option<EmailAddress>, UserError> {
    email
        .map(|e| command::parse_email(&e))
        .transpose()
        .map_err(|e| e.refusal())
}
