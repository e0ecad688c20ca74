//! The live connection: serenity client, poise framework, component presses, DMs, errors.

use std::sync::Arc;

use anyhow::Context as _;
use poise::serenity_prelude as serenity;
use sha2::{Digest, Sha256};

use super::{
    adapter::{Adapter, Invocation},
    buttons::DeletionButton,
    commands::{self, Error},
    outbound::{SerenityDm, retrying_429},
};
use crate::{config::DiscordConfig, domain::DiscordId};

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
    let mut builder = serenity::HttpBuilder::new(token);
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
    tokio::spawn(async move {
        let _ = stop.changed().await;
        shards.shutdown_all().await;
    });
    let started = match settings.shards {
        // serenity counts the range's end as included.
        Some(r) => client.start_shard_range(r.first..r.last, r.total).await,
        None => client.start_autosharded().await,
    };
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
    let digest = hex::encode(Sha256::digest(serde_json::to_vec(&payload)?));
    let scope = guild.map_or("global".to_owned(), |g| format!("guild:{g}"));
    let key = format!("discord_commands:{scope}");
    // Claimed before registering, so of several processes starting at once only one does.
    let Some(before) = adapter.services().replace_setting(&key, &digest).await? else {
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
        adapter.services().restore_setting(&key, before).await?;
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
    if DeletionButton::parse(&press.data.custom_id).is_none() {
        return Ok(());
    }
    retrying_429(|| {
        press.create_response(&ctx.http, serenity::CreateInteractionResponse::Acknowledge)
    })
    .await?;
    let inv = Invocation {
        interaction_id: press.id.get(),
        user: DiscordId(press.user.id.get()),
        roles: press
            .member
            .as_ref()
            .map(|m| m.roles.iter().map(|r| r.get()).collect())
            .unwrap_or_default(),
    };
    let Some(answer) = adapter.button(&inv, &press.data.custom_id).await else {
        return Ok(());
    };
    let edit = |text: &str| {
        serenity::EditInteractionResponse::new()
            .content(text)
            .components(Vec::new())
    };
    retrying_429(|| press.edit_response(&ctx.http, edit(&answer.text))).await?;
    if let Some((to, text)) = &answer.receipt {
        let dm = SerenityDm::new(ctx.http.clone());
        if let Some(note) = adapter.deliver_receipt(*to, text, &dm).await {
            press
                .edit_response(&ctx.http, edit(&format!("{}\n\n{note}", answer.text)))
                .await?;
        }
    }
    Ok(())
}

/// Anything that escaped the adapter (Discord API failures): logged with its cause chain, and
/// the member gets an apology with a reference.
async fn on_error(error: poise::FrameworkError<'_, Arc<Adapter>, Error>) {
    match error {
        poise::FrameworkError::Command { error, ctx, .. } => {
            let reference = crate::crypto::new_reference();
            tracing::error!(reference = %reference, command = %ctx.command().name, error = format!("{error:#}"), "command failed");
            let text = format!(
                "Sorry, something went wrong on our side. Please try again in a few minutes; if it keeps failing, \
                 contact the privacy team and quote reference {reference}."
            );
            let _ = ctx
                .send(poise::CreateReply::default().content(text).ephemeral(true))
                .await;
        }
        poise::FrameworkError::EventHandler { error, .. } => {
            let reference = crate::crypto::new_reference();
            tracing::error!(reference = %reference, error = format!("{error:#}"), "event handling failed");
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
                .send(poise::CreateReply::default().content(text).ephemeral(true))
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
                .send(poise::CreateReply::default().content(text).ephemeral(true))
                .await;
        }
        other => {
            if let Err(e) = poise::builtins::on_error(other).await {
                tracing::error!(error = %e, "error while handling an error");
            }
        }
    }
}
