//! The slash commands. Each one only gathers its arguments and hands them to the adapter; the
//! `///` line is the help text Discord shows.

use std::sync::Arc;

use poise::{CreateReply, serenity_prelude as serenity};

use super::{
    adapter::{Adapter, Answer, Invocation, email_arg},
    outbound::{button_rows, retrying_429},
};
use crate::domain::{
    DiscordId, EmailAddress, Language, MemberCommand, OfficerCommand, RequestState,
};

pub type Error = anyhow::Error;
pub type Ctx<'a> = poise::Context<'a, Arc<Adapter>, Error>;
pub type Command = poise::Command<Arc<Adapter>, Error>;

/// Every command the bot registers, its descriptions and its options' in every language the
/// bot writes (`templates/<language>/commands.json`); the names stay English.
pub fn all() -> Vec<Command> {
    let mut commands = unlocalized();
    for (code, json) in crate::email::translations::COMMANDS {
        let texts: std::collections::HashMap<String, String> = serde_json::from_str(json)
            .unwrap_or_else(|e| panic!("templates/{code}/commands.json: {e}"));
        // Discord's own locale names: Spanish has two, Spain's and Latin America's.
        let locales: &[&str] = match *code {
            "es" => &["es-ES", "es-419"],
            other => &[other][..],
        };
        for command in &mut commands {
            for locale in locales {
                if let Some(text) = texts.get(&command.name) {
                    command
                        .description_localizations
                        .insert((*locale).to_owned(), text.clone());
                }
                for parameter in &mut command.parameters {
                    if let Some(text) = texts.get(&format!("{}.{}", command.name, parameter.name)) {
                        parameter
                            .description_localizations
                            .insert((*locale).to_owned(), text.clone());
                    }
                }
            }
        }
    }
    commands
}

fn unlocalized() -> Vec<Command> {
    vec![
        optout(),
        optin(),
        delete(),
        confirm(),
        cancel(),
        verify(),
        status(),
        privacy(),
        requests(),
        complete(),
        extend(),
        note(),
        report(),
    ]
}

/// The registration payload, as Discord would receive it.
pub fn definitions_json() -> serde_json::Value {
    serde_json::to_value(poise::builtins::create_application_commands(&all()))
        .expect("command builders serialize")
}

/// Opt out: your data held outside Discord is no longer used for the policy's purpose
#[poise::command(slash_command, ephemeral)]
pub async fn optout(
    ctx: Ctx<'_>,
    #[description = "Also confirm by email (used only for this request and later changes)"]
    #[max_length = 254]
    email: Option<String>,
) -> Result<(), Error> {
    with_email(ctx, email, |email| MemberCommand::OptOut { email }).await
}

/// Opt in: allow your data held outside Discord to be used for the policy's purpose
#[poise::command(slash_command, ephemeral)]
pub async fn optin(
    ctx: Ctx<'_>,
    #[description = "Also confirm by email (used only for this request and later changes)"]
    #[max_length = 254]
    email: Option<String>,
) -> Result<(), Error> {
    with_email(ctx, email, |email| MemberCommand::OptIn { email }).await
}

/// Ask for your data held by us to be erased (asks you to confirm)
#[poise::command(slash_command, ephemeral)]
pub async fn delete(
    ctx: Ctx<'_>,
    #[description = "Also confirm by email (used only for this request and later changes)"]
    #[max_length = 254]
    email: Option<String>,
) -> Result<(), Error> {
    with_email(ctx, email, |email| MemberCommand::Delete { email }).await
}

/// Confirm the deletion you asked for
#[poise::command(slash_command, ephemeral)]
pub async fn confirm(ctx: Ctx<'_>) -> Result<(), Error> {
    member(ctx, MemberCommand::Confirm).await
}

/// Drop what is still waiting for you
#[poise::command(slash_command, ephemeral)]
pub async fn cancel(ctx: Ctx<'_>) -> Result<(), Error> {
    member(ctx, MemberCommand::Cancel).await
}

/// Enter the 6-digit code we emailed you
#[poise::command(slash_command, ephemeral)]
pub async fn verify(
    ctx: Ctx<'_>,
    #[description = "The code from the email"]
    #[min_length = 6]
    #[max_length = 6]
    code: String,
) -> Result<(), Error> {
    member(ctx, MemberCommand::Verify { code }).await
}

/// See your choice, your open requests and when they are due
#[poise::command(slash_command, ephemeral)]
pub async fn status(ctx: Ctx<'_>) -> Result<(), Error> {
    member(ctx, MemberCommand::Status).await
}

/// What the policy is, its deadline, and what each choice means
#[poise::command(slash_command, ephemeral)]
pub async fn privacy(
    ctx: Ctx<'_>,
    #[description = "The language we answer you in from now on, here and by email"]
    language: Option<LanguageChoice>,
) -> Result<(), Error> {
    let language = language.map(LanguageChoice::language);
    member(ctx, MemberCommand::Privacy { language }).await
}

/// The languages `/privacy` offers, each named in itself.
#[derive(Debug, Clone, Copy, poise::ChoiceParameter)]
pub enum LanguageChoice {
    #[name = "English"]
    En,
    #[name = "Deutsch"]
    De,
    #[name = "Français"]
    Fr,
    #[name = "Español"]
    Es,
    #[name = "Português (Brasil)"]
    PtBr,
}

impl LanguageChoice {
    fn language(self) -> Language {
        match self {
            LanguageChoice::En => Language::En,
            LanguageChoice::De => Language::De,
            LanguageChoice::Fr => Language::Fr,
            LanguageChoice::Es => Language::Es,
            LanguageChoice::PtBr => Language::PtBr,
        }
    }
}

#[derive(Debug, Clone, Copy, poise::ChoiceParameter)]
pub enum StateChoice {
    #[name = "awaiting_confirmation"]
    AwaitingConfirmation,
    #[name = "confirmed"]
    Confirmed,
    #[name = "completed"]
    Completed,
    #[name = "cancelled"]
    Cancelled,
    #[name = "expired"]
    Expired,
}

/// Privacy officers: open requests, oldest due first
#[poise::command(
    slash_command,
    ephemeral,
    guild_only,
    default_member_permissions = "MANAGE_GUILD"
)]
pub async fn requests(
    ctx: Ctx<'_>,
    #[description = "Only this state (default: all open requests)"] state: Option<StateChoice>,
    #[description = "One request in full: its history and notes"]
    #[min = 1]
    request_id: Option<i64>,
) -> Result<(), Error> {
    let cmd = match request_id {
        Some(request_id) => OfficerCommand::Show { request_id },
        None => OfficerCommand::Requests {
            state: state.map(|s| match s {
                StateChoice::AwaitingConfirmation => RequestState::AwaitingConfirmation,
                StateChoice::Confirmed => RequestState::Confirmed,
                StateChoice::Completed => RequestState::Completed,
                StateChoice::Cancelled => RequestState::Cancelled,
                StateChoice::Expired => RequestState::Expired,
            }),
        },
    };
    officer(ctx, cmd).await
}

/// Privacy officers: mark a confirmed deletion done (erases the person's data, tells them)
#[poise::command(
    slash_command,
    ephemeral,
    guild_only,
    default_member_permissions = "MANAGE_GUILD"
)]
pub async fn complete(
    ctx: Ctx<'_>,
    #[description = "The request number"]
    #[min = 1]
    request_id: i64,
) -> Result<(), Error> {
    officer(ctx, OfficerCommand::Complete { request_id }).await
}

/// Privacy officers: extend a request's due date once, with a reason the person is told
#[poise::command(
    slash_command,
    ephemeral,
    guild_only,
    default_member_permissions = "MANAGE_GUILD"
)]
pub async fn extend(
    ctx: Ctx<'_>,
    #[description = "The request number"]
    #[min = 1]
    request_id: i64,
    #[description = "Days to add (at most MAX_EXTENSION_DAYS)"]
    #[min = 1]
    #[max = 90]
    days: i64,
    #[description = "Why: told to the person, and kept with the request until the person is erased"]
    #[max_length = 500]
    reason: String,
) -> Result<(), Error> {
    officer(
        ctx,
        OfficerCommand::Extend {
            request_id,
            days,
            reason,
        },
    )
    .await
}

/// Privacy officers: add a note to a request (erased with the person)
#[poise::command(
    slash_command,
    ephemeral,
    guild_only,
    default_member_permissions = "MANAGE_GUILD"
)]
pub async fn note(
    ctx: Ctx<'_>,
    #[description = "The request number"]
    #[min = 1]
    request_id: i64,
    #[description = "The note"]
    #[max_length = 2000]
    text: String,
) -> Result<(), Error> {
    officer(ctx, OfficerCommand::Note { request_id, text }).await
}

/// Privacy officers: the monthly summary (default: the last complete month)
#[poise::command(
    slash_command,
    ephemeral,
    guild_only,
    default_member_permissions = "MANAGE_GUILD"
)]
pub async fn report(
    ctx: Ctx<'_>,
    #[description = "Month as YYYY-MM (default: the last complete month)"]
    #[max_length = 7]
    month: Option<String>,
) -> Result<(), Error> {
    officer(ctx, OfficerCommand::Report { month }).await
}

async fn invocation(ctx: Ctx<'_>) -> Invocation {
    let roles: Vec<u64> = ctx
        .author_member()
        .await
        .map(|m| m.roles.iter().map(|r| r.get()).collect())
        .unwrap_or_default();
    let guild = ctx.guild_id().map(|g| g.get());
    let role_in_guild = match (
        guild,
        ctx.data().services().config().discord.officer_role_id,
    ) {
        (Some(g), Some(role)) if ctx.data().services().config().discord.guild_id.is_none() => {
            super::bot::guild_has_role(ctx.serenity_context(), g, role).await
        }
        _ => false,
    };
    Invocation {
        interaction_id: ctx.id(),
        user: DiscordId(ctx.author().id.get()),
        guild,
        roles,
        role_in_guild,
        language: ctx.locale().and_then(Language::from_tag),
    }
}

/// A member's command with an address to check first: a bad one is answered, nothing runs.
async fn with_email(
    ctx: Ctx<'_>,
    email: Option<String>,
    cmd: impl FnOnce(Option<EmailAddress>) -> MemberCommand,
) -> Result<(), Error> {
    match email_arg(email) {
        Ok(email) => member(ctx, cmd(email)).await,
        Err(problem) => {
            retrying_429(|| ctx.defer_ephemeral()).await?;
            let inv = invocation(ctx).await;
            let language = ctx.data().language(&inv).await;
            show(
                ctx,
                Answer {
                    text: problem.in_language(language),
                    ..Answer::default()
                },
            )
            .await
        }
    }
}

/// Defers first (the database may be slow; Discord allows 3 seconds), then answers.
async fn member(ctx: Ctx<'_>, cmd: MemberCommand) -> Result<(), Error> {
    retrying_429(|| ctx.defer_ephemeral()).await?;
    let inv = invocation(ctx).await;
    let answer = ctx.data().member(&inv, cmd).await;
    show(ctx, answer).await
}

async fn officer(ctx: Ctx<'_>, cmd: OfficerCommand) -> Result<(), Error> {
    retrying_429(|| ctx.defer_ephemeral()).await?;
    let inv = invocation(ctx).await;
    let answer = ctx.data().officer(&inv, cmd).await;
    show(ctx, answer).await
}

/// Shows the answer. By now whatever it reports is committed (and its DM receipt queued), so
/// a reply Discord does not take is tried once more and then only logged: the member must
/// never be told "try again" about a change that stands.
async fn show(ctx: Ctx<'_>, answer: Answer) -> Result<(), Error> {
    let reply = CreateReply::default()
        .content(answer.text.clone())
        .ephemeral(true)
        .allowed_mentions(serenity::CreateAllowedMentions::new())
        .components(button_rows(&answer.buttons, ctx.data().services()));
    let mut sent = retrying_429(|| ctx.send(reply.clone())).await.map(drop);
    if let Err(e) = &sent
        && super::bot::worth_retrying(e)
    {
        tokio::time::sleep(std::time::Duration::from_millis(500)).await;
        sent = ctx.send(reply).await.map(drop);
    }
    if let Err(e) = sent {
        tracing::warn!(command = %ctx.command().name, error = %super::bot::shown_error(&e), "the reply could not be shown; what it reported stands");
    }
    Ok(())
}
