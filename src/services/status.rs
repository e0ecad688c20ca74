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
        let now = self.now();
        let cfg = self.config();
        let mut tx = db::begin_write(self.pool()).await?;
        let person = people::resolve(&mut tx, actor, now).await?;
        let new = NewRequest {
            person_id: person,
            kind: RequestKind::Status,
            channel,
            state: RequestState::Completed,
            received_at: now,
            deadline_offset_secs: deadline::offset_seconds(now, cfg.policy_deadline),
            due_at: deadline::due_at(now, cfg.response_days),
        };
        let id = db::requests::insert(&mut tx, &new).await?;
        let req = db::requests::get(&mut tx, id)
            .await?
            .expect("just inserted");
        transitions::record_new(&mut tx, &req, channel.as_str()).await?;

        let open = db::requests::open_for_person(&mut tx, person).await?;
        let emails = db::identities::verified_emails(&mut tx, person).await?;
        tx.commit().await?;

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
        Ok(Reply::about(id, lines.join("\n")))
    }
}
