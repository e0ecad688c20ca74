//! What the bot sends to Discord outside an interaction reply: DM receipts, the monthly
//! report in the staff channel, and the buttons under a deletion.

use std::sync::Arc;

use anyhow::Context as _;
use poise::serenity_prelude as serenity;

use super::{
    adapter::{Dm, DmError},
    buttons::{Action, DeletionButton},
};
use crate::domain::DiscordId;

/// Discord's "Cannot send messages to this user".
const CLOSED_DMS: isize = 50007;

pub struct SerenityDm {
    http: Arc<serenity::Http>,
}

impl SerenityDm {
    pub fn new(http: Arc<serenity::Http>) -> Self {
        Self { http }
    }
}

impl Dm for SerenityDm {
    async fn send(&self, to: DiscordId, text: &str) -> Result<(), DmError> {
        let user = serenity::UserId::new(to.0);
        let sent = async {
            let channel = user.create_dm_channel(&self.http).await?;
            channel
                .send_message(&self.http, serenity::CreateMessage::new().content(text))
                .await
        };
        match sent.await {
            Ok(_) => Ok(()),
            Err(serenity::Error::Http(serenity::HttpError::UnsuccessfulRequest(r)))
                if r.error.code == CLOSED_DMS =>
            {
                Err(DmError::Closed)
            }
            Err(e) => Err(DmError::Failed(e.into())),
        }
    }
}

/// Posts the monthly report to the staff channel.
pub struct ChannelPoster {
    http: serenity::Http,
}

impl ChannelPoster {
    pub fn new(token: &str) -> Self {
        Self {
            http: serenity::Http::new(token),
        }
    }
}

impl crate::workers::reports::ReportPoster for ChannelPoster {
    async fn post(&self, channel: u64, markdown: &str) -> anyhow::Result<()> {
        serenity::ChannelId::new(channel)
            .send_message(&self.http, serenity::CreateMessage::new().content(markdown))
            .await
            .context("posting the monthly report")?;
        Ok(())
    }
}

pub fn button_rows(buttons: &[(DeletionButton, &'static str)]) -> Vec<serenity::CreateActionRow> {
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
            serenity::CreateButton::new(b.custom_id())
                .label(*label)
                .style(style)
        })
        .collect();
    vec![serenity::CreateActionRow::Buttons(row)]
}
