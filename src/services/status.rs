//! `/status`: where the person's requests stand and what their standing choice is.

use super::{Reply, Services, people, transitions};
use crate::{
    db::{self, requests::NewRequest},
    domain::{Actor, Channel, EmailAddress, RequestKind, RequestState, deadline},
    error::ServiceError,
};

impl Services {
    /// Answers at once; the question itself is recorded as a completed status request.
    pub async fn status(&self, actor: &Actor, channel: Channel) -> Result<Reply, ServiceError> {
        self.limit_actor(actor, channel)?;
        let mut tx = self.begin().await?;
        let person = people::resolve(&mut tx, actor, self.now()).await?;
        let (id, text) = self.record_status(&mut tx, person, channel).await?;
        self.finish(tx, &text, None).await?;
        Ok(Reply::about(id, text))
    }

    /// Records a status request for `person` and returns its id and the answer.
    pub(super) async fn record_status(
        &self,
        tx: &mut sqlx::SqliteConnection,
        person: i64,
        channel: Channel,
    ) -> anyhow::Result<(i64, String)> {
        let now = self.now();
        let cfg = self.config();
        let new = NewRequest {
            person_id: person,
            kind: RequestKind::Status,
            channel,
            state: RequestState::Completed,
            received_at: now,
            deadline_offset_secs: deadline::offset_seconds(now, cfg.policy_deadline),
            due_at: deadline::due_at(now, cfg.response_days),
        };
        let req = db::requests::insert(tx, &new).await?;
        let id = req.id;
        transitions::record_new(tx, &req, channel.as_str()).await?;

        let open = db::requests::open_for_person(tx, person).await?;
        let emails = db::identities::verified_emails(tx, person).await?;

        let mut lines = vec![format!("Your choice about \"{}\":", cfg.policy_name)];
        let standing = open
            .iter()
            .find(|r| r.state() == RequestState::Confirmed && r.kind().opposite_choice().is_some());
        lines.push(match standing {
            Some(r) => format!(
                "- {} since {} (request #{}).",
                if r.kind() == RequestKind::OptOut { "Opted out" } else { "Opted in" },
                self.show_time(r.updated_at),
                r.id
            ),
            None if now < cfg.policy_deadline => format!(
                "- No choice recorded. If you do nothing by {} ({}), you are treated as opted in.",
                self.show_time(cfg.policy_deadline),
                deadline::describe_span(now, cfg.policy_deadline, cfg.display_timezone) + " from now"
            ),
            None => format!(
                "- No choice recorded, so you are treated as opted in (the deadline passed {} ago). /optout changes that.",
                deadline::describe_span(cfg.policy_deadline, now, cfg.display_timezone)
            ),
        });
        let pending: Vec<_> = open
            .iter()
            .filter(|r| Some(r.id) != standing.map(|s| s.id))
            .collect();
        if pending.is_empty() {
            lines.push("- Nothing else is open.".into());
        }
        for r in pending {
            let days_left = (r.due_at - now).num_days();
            lines.push(format!(
                "- Request #{} ({}) is {}; due by {} ({}).",
                r.id,
                r.kind().label(),
                r.state().label(),
                self.show_time(r.due_at),
                if days_left >= 0 {
                    format!("{days_left} days left")
                } else {
                    format!("{} days late", -days_left)
                }
            ));
        }
        let masked: Vec<String> = emails
            .iter()
            .filter_map(|e| EmailAddress::parse(e).ok())
            .map(|e| e.masked())
            .collect();
        lines.push(if masked.is_empty() {
            "- No email address is linked; replies come only here.".into()
        } else {
            format!("- Confirmations go to {}.", masked.join(", "))
        });
        Ok((id, lines.join("\n")))
    }
}

impl Services {
    /// `/privacy`: what the policy is, where the deadline stands, and what each choice means.
    pub fn privacy_notice(&self) -> String {
        let cfg = self.config();
        let now = self.now();
        let when = if now < cfg.policy_deadline {
            format!(
                "in {}",
                deadline::describe_span(now, cfg.policy_deadline, cfg.display_timezone)
            )
        } else {
            format!(
                "{} ago",
                deadline::describe_span(cfg.policy_deadline, now, cfg.display_timezone)
            )
        };
        format!(
            "**{policy}**\n\
             {org} asks whether your data that it holds outside Discord (for example your chats with its AI \
             product) may be used for this purpose. This bot never reads your Discord messages, and nothing you \
             write on Discord is used for it.\n\
             - Deadline: {deadline} ({when}). If you do nothing, you count as opted in.\n\
             - Opt in (/optin): your data may be used and is kept for {kept_in}.\n\
             - Opt out (/optout): it is not used from then on, and data kept only for it is deleted after {kept_out}.\n\
             - Delete (/delete): your data held by {org} is erased; this cannot be undone.\n\
             A change affects future use only. Every request is answered within {days} days; /status shows yours.",
            policy = cfg.policy_name,
            org = cfg.organisation_name,
            deadline = self.show_time(cfg.policy_deadline),
            kept_in = cfg.retention_opted_in,
            kept_out = cfg.retention_opted_out,
            days = cfg.response_days,
        )
    }

    /// Notes that Discord refused a DM to this person, so no further DM is tried.
    pub async fn mark_dm_closed(&self, id: crate::domain::DiscordId) -> Result<(), ServiceError> {
        let mut tx = db::begin_write(self.pool()).await?;
        db::identities::mark_dm_closed(&mut tx, &id.to_string(), self.now()).await?;
        tx.commit().await?;
        Ok(())
    }

    pub async fn dm_closed(&self, id: crate::domain::DiscordId) -> Result<bool, ServiceError> {
        let mut conn = self.pool().acquire().await.map_err(anyhow::Error::from)?;
        Ok(db::identities::dm_closed(&mut conn, &id.to_string()).await?)
    }
}
