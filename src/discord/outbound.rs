//! What the bot sends to Discord outside an interaction reply: the monthly report and the
//! digest in the staff channel, the announcements, and the buttons under a deletion.

use anyhow::Context as _;
use poise::serenity_prelude as serenity;

use super::buttons::{Action, DeletionButton};
use crate::services::Services;

/// How long a call that met a 429 waits before its one retry. Behind `DISCORD_API_URL` the
/// proxy owns rate limiting and serenity does not wait, but a 429 can still come through (a
/// global limit); the 3-second window of an interaction leaves room for one second.
const RETRY_AFTER_429: std::time::Duration = std::time::Duration::from_secs(1);

/// Runs a Discord call, and once more after a pause if Discord answered 429.
pub async fn retrying_429<T, F, Fut>(call: F) -> serenity::Result<T>
where
    F: Fn() -> Fut,
    Fut: std::future::Future<Output = serenity::Result<T>>,
{
    match call().await {
        Err(serenity::Error::Http(serenity::HttpError::UnsuccessfulRequest(r)))
            if r.status_code.as_u16() == 429 =>
        {
            tracing::warn!(route = %r.url.split('?').next().unwrap_or(""), "Discord answered 429; trying once more");
            tokio::time::sleep(RETRY_AFTER_429).await;
            call().await
        }
        other => other,
    }
}

/// Posts the schedule's messages (reports, digests, announcements) and reads the guild's
/// approximate member count.
pub struct ChannelPoster {
    http: serenity::Http,
    /// `DISCORD_GUILD_ID`; unset: the one guild the bot is in, if it is in exactly one.
    guild: Option<u64>,
}

impl ChannelPoster {
    pub fn new(http: serenity::Http, guild: Option<u64>) -> Self {
        Self { http, guild }
    }

    async fn guild(&self) -> anyhow::Result<Option<serenity::GuildId>> {
        if let Some(g) = self.guild {
            return Ok(Some(serenity::GuildId::new(g)));
        }
        let guilds = retrying_429(|| self.http.get_guilds(None, Some(2)))
            .await
            .context("listing the bot's guilds")?;
        Ok(match guilds.as_slice() {
            [one] => Some(one.id),
            _ => None,
        })
    }
}

impl crate::workers::schedule::Poster for ChannelPoster {
    async fn post(&self, channel: u64, markdown: &str) -> anyhow::Result<()> {
        // Counts and notices only, and never a ping: no mention in the text notifies anyone.
        let message = serenity::CreateMessage::new()
            .content(markdown)
            .allowed_mentions(serenity::CreateAllowedMentions::new());
        retrying_429(|| {
            serenity::ChannelId::new(channel).send_message(&self.http, message.clone())
        })
        .await
        .context("posting to a Discord channel")?;
        Ok(())
    }

    async fn member_count(&self) -> anyhow::Result<Option<u64>> {
        let Some(guild) = self.guild().await? else {
            tracing::warn!(
                "the bot is not in exactly one guild and DISCORD_GUILD_ID is unset, so the community size is unknown; set COMMUNITY_SIZE"
            );
            return Ok(None);
        };
        let g = retrying_429(|| self.http.get_guild_with_counts(guild))
            .await
            .context("reading the guild's member count")?;
        Ok(g.approximate_member_count)
    }
}

pub fn button_rows(
    buttons: &[(DeletionButton, String)],
    services: &Services,
) -> Vec<serenity::CreateActionRow> {
    if buttons.is_empty() {
        return Vec::new();
    }
    let row = buttons
        .iter()
        .map(|(b, label)| {
            let style = match b.action {
                Action::Confirm => serenity::ButtonStyle::Danger,
                Action::Cancel => serenity::ButtonStyle::Secondary,
            };
            serenity::CreateButton::new(b.custom_id(services))
                .label(label.as_str())
                .style(style)
        })
        .collect();
    vec![serenity::CreateActionRow::Buttons(row)]
}
