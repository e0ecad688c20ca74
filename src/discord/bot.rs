//! The live connection: serenity client, poise framework, component presses, DMs, errors.

use std::sync::Arc;

use anyhow::Context as _;
use poise::serenity_prelude as serenity;
use sha2::{Digest, Sha256};

use super::{
    adapter::{Adapter, Invocation},
    buttons,
    commands::{self, Error},
    outbound::retrying_429,
};
use crate::{
    config::DiscordConfig,
    domain::{DiscordId, Language},
};

/// Why the bot could not start, in one line for the operator.
#[derive(Debug, thiserror::Error)]
pub enum StartError {
    #[error(
        "DISCORD_TOKEN is not a bot token (it should look like three dot-separated parts from the Developer Portal's Bot page)"
    )]
    MalformedToken,
    #[error(
        "Discord refused DISCORD_TOKEN: reset the token on the Developer Portal's Bot page and set the new one"
    )]
    RefusedToken,
    #[error(
        "could not reach Discord to check DISCORD_TOKEN ({0}); check the network, or unset DISCORD_TOKEN to use the console"
    )]
    Unreachable(String),
    #[error("the Discord connection failed: {0}")]
    Other(String),
}

/// The REST client: to Discord, or to `DISCORD_API_URL` (a rate-limit proxy, which then owns
/// rate limiting, so serenity's own limiter is off).
pub fn http(token: &str, settings: &DiscordConfig) -> serenity::Http {
    // Nothing the bot sends pings anyone, whatever its text holds (a note quoting a mention).
    let mut builder = serenity::HttpBuilder::new(token)
        .default_allowed_mentions(serenity::CreateAllowedMentions::new());
    if let Some(url) = &settings.api_url {
        builder = builder.proxy(url.as_str()).ratelimiter_disabled(true);
    }
    builder.build()
}

/// Checks the token before anything else talks to Discord: its shape, then one authenticated
/// call, so a refused token or an unreachable Discord is reported in one line instead of the
/// gateway retrying forever.
pub async fn check_token(token: &str, settings: &DiscordConfig) -> Result<(), StartError> {
    serenity::validate_token(token).map_err(|_| StartError::MalformedToken)?;
    http(token, settings)
        .get_current_user()
        .await
        .map_err(|e| match e {
            serenity::Error::Http(serenity::HttpError::UnsuccessfulRequest(r))
                if r.status_code.as_u16() == 401 =>
            {
                StartError::RefusedToken
            }
            other => StartError::Unreachable(format!("{other}")),
        })?;
    Ok(())
}

/// How long the gateway has to close once told to stop.
const STOPPING: std::time::Duration = std::time::Duration::from_secs(3);

/// Connects and serves until `stop` fires or Discord ends the session; [`check_token`] first.
pub async fn run(
    adapter: Arc<Adapter>,
    token: &str,
    settings: &DiscordConfig,
    mut stop: tokio::sync::watch::Receiver<bool>,
) -> Result<(), StartError> {
    let data = adapter.clone();
    let guild = settings.guild_id;
    let framework = poise::Framework::builder()
        .options(poise::FrameworkOptions {
            commands: commands::all(),
            on_error: |e| Box::pin(on_error(e)),
            event_handler: |ctx, event, _fw, data| Box::pin(on_event(ctx, event, data)),
            ..Default::default()
        })
        .setup(move |ctx, _ready, framework| {
            Box::pin(async move {
                register_if_changed(ctx, &data, &framework.options().commands, guild).await?;
                tracing::info!("connected to Discord");
                Ok(data)
            })
        })
        .build();
    // Interactions arrive without any privileged intent.
    let mut client = serenity::ClientBuilder::new_with_http(
        http(token, settings),
        serenity::GatewayIntents::GUILDS,
    )
    .framework(framework)
    .await
    .map_err(|e| StartError::Other(e.to_string()))?;
    if let Some(url) = &settings.gateway_url {
        *client.ws_url.lock().await = url.clone();
    }
    let shards = client.shard_manager.clone();
    let started = {
        let start = async {
            match settings.shards {
                // serenity counts the range's end as included.
                Some(r) => client.start_shard_range(r.first..r.last, r.total).await,
                None => client.start_autosharded().await,
            }
        };
        tokio::pin!(start);
        tokio::select! {
            started = &mut start => started,
            () = async { drop(stop.wait_for(|s| *s).await) } => {
                shards.shutdown_all().await;
                match tokio::time::timeout(STOPPING, &mut start).await {
                    Ok(started) => started,
                    // A shard still connecting is not one the manager can stop yet. Dropping
                    // the client drops the manager, which tells the queue to stop every shard.
                    Err(_) => {
                        tracing::warn!("the gateway was still connecting when told to stop; it is dropped");
                        Ok(())
                    }
                }
            }
        }
    };
    drop(shards);
    drop(client);
    started.map_err(|e| match e {
        serenity::Error::Gateway(serenity::GatewayError::InvalidAuthentication) => {
            StartError::RefusedToken
        }
        serenity::Error::Http(serenity::HttpError::UnsuccessfulRequest(r))
            if r.status_code.as_u16() == 401 =>
        {
            StartError::RefusedToken
        }
        other => StartError::Other(other.to_string()),
    })
}

/// Registers the command set only when it differs from the last one registered in this scope
/// (Discord caps command creation at 200 a day per guild).
async fn register_if_changed(
    ctx: &serenity::Context,
    adapter: &Adapter,
    commands: &[commands::Command],
    guild: Option<u64>,
) -> anyhow::Result<()> {
    let payload = poise::builtins::create_application_commands(commands);
    // Through a JSON value, whose maps are sorted: the localizations are hash maps, and the
    // same set must give the same digest in every process.
    let digest = hex::encode(Sha256::digest(serde_json::to_vec(&serde_json::to_value(
        &payload,
    )?)?));
    let scope = guild.map_or("global".to_owned(), |g| format!("guild:{g}"));
    let key = format!("discord_commands:{scope}");
    // Claimed before registering, so of several processes starting at once only one does.
    let Some(before) = adapter.services().settings().replace(&key, &digest).await? else {
        return Ok(());
    };
    let registered = match guild {
        Some(g) => serenity::GuildId::new(g)
            .set_commands(&ctx.http, payload)
            .await
            .map(drop)
            .context("registering guild commands"),
        None => serenity::Command::set_global_commands(&ctx.http, payload)
            .await
            .map(drop)
            .context("registering global commands"),
    };
    if let Err(e) = registered {
        adapter.services().settings().restore(&key, before).await?;
        return Err(e);
    }
    tracing::info!(scope = %scope, "slash commands registered");
    Ok(())
}

async fn on_event(
    ctx: &serenity::Context,
    event: &serenity::FullEvent,
    adapter: &Arc<Adapter>,
) -> Result<(), Error> {
    let serenity::FullEvent::InteractionCreate {
        interaction: serenity::Interaction::Component(press),
    } = event
    else {
        return Ok(());
    };
    if buttons::parse(&press.data.custom_id, adapter.services()).is_none() {
        return Ok(());
    }
    let acknowledged = retrying_429(|| {
        press.create_response(&ctx.http, serenity::CreateInteractionResponse::Acknowledge)
    })
    .await;
    match acknowledged {
        Err(e) if already_acknowledged(&e) => {
            // Delivered again (after a restart, or to a second process): it was handled.
            tracing::debug!("a button press was acknowledged before; nothing to do");
            return Ok(());
        }
        other => other?,
    }
    let guild = press.guild_id.map(|g| g.get());
    let roles = press
        .member
        .as_ref()
        .map(|m| m.roles.iter().map(|r| r.get()).collect())
        .unwrap_or_default();
    let inv = Invocation {
        interaction_id: press.id.get(),
        user: DiscordId(press.user.id.get()),
        guild,
        roles,
        role_in_guild: false,
        language: Language::from_tag(&press.locale),
    };
    let Some(answer) = adapter.button(&inv, &press.data.custom_id).await else {
        return Ok(());
    };
    let edit = serenity::EditInteractionResponse::new()
        .content(&answer.text)
        .components(Vec::new())
        .allowed_mentions(serenity::CreateAllowedMentions::new());
    // What the answer reports is committed and its DM receipt queued: a failed edit is only
    // logged.
    if let Err(e) = retrying_429(|| press.edit_response(&ctx.http, edit.clone())).await {
        tracing::warn!(error = %shown_error(&e), "the button's answer could not be shown; what it reported stands");
    }
    Ok(())
}

/// Discord's "Interaction has already been acknowledged".
const ALREADY_ACKNOWLEDGED: isize = 40060;

fn already_acknowledged(e: &serenity::Error) -> bool {
    matches!(e, serenity::Error::Http(serenity::HttpError::UnsuccessfulRequest(r))
        if r.error.code == ALREADY_ACKNOWLEDGED)
}

/// A failed call worth one more try: Discord's side (5xx), or the connection.
pub fn worth_retrying(e: &serenity::Error) -> bool {
    match e {
        serenity::Error::Http(serenity::HttpError::UnsuccessfulRequest(r)) => {
            r.status_code.is_server_error()
        }
        serenity::Error::Http(serenity::HttpError::Request(_)) => true,
        _ => false,
    }
}

/// A Discord error as it may be logged: the status and Discord's code, never the URL (an
/// interaction's URL holds its token) or the body.
pub fn shown_error(e: &serenity::Error) -> String {
    match e {
        serenity::Error::Http(serenity::HttpError::UnsuccessfulRequest(r)) => format!(
            "Discord answered {} (code {}) to {} {}",
            r.status_code.as_u16(),
            r.error.code,
            r.method.as_str(),
            route_of(&r.url)
        ),
        serenity::Error::Http(serenity::HttpError::Request(_)) => {
            "Discord could not be reached".to_owned()
        }
        other => other.to_string(),
    }
}

/// A REST URL's route with every id and token written out as `{}`.
fn route_of(url: &str) -> String {
    let path = url
        .split("/api/v10")
        .nth(1)
        .unwrap_or("")
        .split('?')
        .next()
        .unwrap_or("");
    path.split('/')
        .map(|seg| {
            if seg.len() > 20 || seg.bytes().any(|b| b.is_ascii_digit()) {
                "{}"
            } else {
                seg
            }
        })
        .collect::<Vec<_>>()
        .join("/")
}

/// An error as it may be logged: a Discord error as [`shown_error`] shows it, anything else
/// with its cause chain.
fn described(error: &anyhow::Error) -> String {
    match error.downcast_ref::<serenity::Error>() {
        Some(e) => shown_error(e),
        None => format!("{error:#}"),
    }
}

/// Whether `role` is one of `guild`'s roles, as Discord says (cached by serenity when the
/// guild was sent at start; asked over REST otherwise). False when it cannot be told.
pub async fn guild_has_role(ctx: &serenity::Context, guild: u64, role: u64) -> bool {
    let guild = serenity::GuildId::new(guild);
    let role = serenity::RoleId::new(role);
    if let Some(g) = ctx.cache.guild(guild) {
        return g.roles.contains_key(&role);
    }
    match guild.roles(&ctx.http).await {
        Ok(roles) => roles.contains_key(&role),
        Err(e) => {
            tracing::warn!(error = %shown_error(&e), "the guild's roles could not be read; the officer check refuses");
            false
        }
    }
}

/// Anything that escaped the adapter (Discord API failures): logged with its cause chain, and
/// the member gets an apology with a reference.
async fn on_error(error: poise::FrameworkError<'_, Arc<Adapter>, Error>) {
    match error {
        poise::FrameworkError::Command { error, ctx, .. } => {
            if error
                .downcast_ref::<serenity::Error>()
                .is_some_and(already_acknowledged)
            {
                // The same interaction again (a restart, a second process): handled before.
                tracing::debug!(command = %ctx.command().name, "an interaction was acknowledged before; nothing to do");
                return;
            }
            let reference = crate::crypto::new_reference();
            tracing::error!(reference = %reference, command = %ctx.command().name, error = %described(&error), "command failed");
            let text = format!(
                "Sorry, something went wrong on our side. Please try again in a few minutes; if it keeps failing, \
                 contact the privacy team and quote reference {reference}."
            );
            let _ = ctx
                .send(
                    poise::CreateReply::default()
                        .content(text)
                        .ephemeral(true)
                        .allowed_mentions(serenity::CreateAllowedMentions::new()),
                )
                .await;
        }
        poise::FrameworkError::EventHandler { error, .. } => {
            let reference = crate::crypto::new_reference();
            tracing::error!(reference = %reference, error = %described(&error), "event handling failed");
        }
        // Discord sent options that do not fit the command as this version registered it (a
        // registration not yet propagated): the member is answered, not left with a failure.
        poise::FrameworkError::CommandStructureMismatch {
            description, ctx, ..
        } => {
            let reference = crate::crypto::new_reference();
            tracing::error!(reference = %reference, command = %ctx.command.name, problem = description, "command options did not match");
            let text = format!(
                "Sorry, this command's options could not be read; the command list may be updating. Please try \
                 again in a minute (reference {reference})."
            );
            let _ = ctx
                .send(
                    poise::CreateReply::default()
                        .content(text)
                        .ephemeral(true)
                        .allowed_mentions(serenity::CreateAllowedMentions::new()),
                )
                .await;
        }
        poise::FrameworkError::ArgumentParse { input, ctx, .. } => {
            let text = match input {
                Some(input) => format!(
                    "'{}' could not be read for this command. Check the option and try again.",
                    crate::domain::command::shorten(&input)
                ),
                None => "An option of this command is missing. Check the options and try again."
                    .to_owned(),
            };
            let _ = ctx
                .send(
                    poise::CreateReply::default()
                        .content(text)
                        .ephemeral(true)
                        .allowed_mentions(serenity::CreateAllowedMentions::new()),
                )
                .await;
        }
        other => {
            if let Err(e) = poise::builtins::on_error(other).await {
                tracing::error!(error = %e, "error while handling an error");
            }
        }
    }
}
