//! What privacy officers and the operator do: list requests, carry out deletions, expire what
//! was never confirmed.

use chrono::Duration;
use serde::Serialize;

use super::{Services, transitions};
use crate::{
    db,
    domain::{DiscordId, RequestKind, RequestState},
    error::{ServiceError, UserError},
};

/// A request as officers see it: no names or addresses.
#[derive(Debug, Clone, Serialize)]
pub struct ListedRequest {
    pub id: i64,
    pub kind: RequestKind,
    pub state: RequestState,
    pub channel: String,
    pub received_at: String,
    pub deadline_offset_seconds: i64,
    pub deadline_offset: String,
    pub due_at: String,
    pub days_left: i64,
    pub email_verified: bool,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Completed {
    pub request_id: i64,
    pub identities_erased: usize,
    pub people_told: usize,
    /// The person's Discord account, for a last DM; it is no longer stored anywhere.
    pub tell_on_discord: Vec<DiscordId>,
}

impl Services {
    pub async fn list_requests(
        &self,
        state: Option<RequestState>,
    ) -> Result<Vec<ListedRequest>, ServiceError> {
        let mut conn = self.pool().acquire().await.map_err(anyhow::Error::from)?;
        let now = self.now();
        let rows = db::requests::list(&mut conn, state).await?;
        Ok(rows
            .into_iter()
            .map(|l| {
                let r = l.request;
                ListedRequest {
                    id: r.id,
                    kind: r.kind(),
                    state: r.state(),
                    channel: r.channel.clone(),
                    received_at: r
                        .received_at
                        .to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
                    deadline_offset_seconds: r.deadline_offset_secs,
                    deadline_offset: self.describe_offset(r.received_at),
                    due_at: r.due_at.to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
                    days_left: (r.due_at - now).num_days(),
                    email_verified: l.email_verified,
                }
            })
            .collect())
    }

    /// A privacy officer has carried out a confirmed deletion: the person's identities, codes
    /// and mail texts are erased (keyed hashes remain), and they are told at each proven address.
    pub async fn complete_deletion(&self, request_id: i64) -> Result<Completed, ServiceError> {
        let now = self.now();
        let mut tx = self.begin().await?;
        let mut req = db::requests::get(&mut tx, request_id)
            .await?
            .ok_or_else(|| {
                UserError::new(format!(
                    "There is no request #{request_id}. `requests list` shows them."
                ))
            })?;
        if req.kind() != RequestKind::Deletion {
            return Err(UserError::new(format!(
                "Request #{request_id} is of kind {}; only deletion requests are completed by an officer.",
                req.kind()
            ))
            .into());
        }
        if req.state() != RequestState::Confirmed {
            return Err(UserError::new(format!(
                "Request #{request_id} is {}; only a confirmed deletion can be completed.",
                req.state().label()
            ))
            .into());
        }
        let person = req.person_id;
        let emails = db::identities::verified_emails(&mut tx, person).await?;
        for email in &emails {
            self.queue_mail(&mut tx, "deletion_completed", &req, email, None, true)
                .await?;
        }
        let identities = db::identities::for_person(&mut tx, person).await?;
        for i in &identities {
            let hash = self.keys.identity_hash(&i.kind, &i.value);
            db::erasure::insert(&mut tx, person, request_id, &i.kind, &hash, now).await?;
        }
        let tell_on_discord = identities
            .iter()
            .filter(|i| i.kind == "discord")
            .filter_map(|i| i.value.parse().ok().map(DiscordId))
            .collect();
        db::identities::delete_for_person(&mut tx, person).await?;
        db::verifications::delete_for_person(&mut tx, person).await?;
        db::reply_tokens::delete_for_person(&mut tx, person).await?;
        db::outbox::scrub_for_person(&mut tx, person).await?;
        transitions::transition(
            &mut tx,
            &mut req,
            RequestState::Completed,
            "operator",
            None,
            now,
        )
        .await?;
        for mut other in db::requests::open_for_person(&mut tx, person).await? {
            let note = Some(format!("person erased by request #{request_id}"));
            transitions::transition(
                &mut tx,
                &mut other,
                RequestState::Cancelled,
                "system",
                note,
                now,
            )
            .await?;
        }
        db::people::mark_erased(&mut tx, person, now).await?;
        tx.commit().await?;
        self.mail_ready().notify_one();
        self.scrub_wal().await;
        Ok(Completed {
            request_id,
            identities_erased: identities.len(),
            people_told: emails.len(),
            tell_on_discord,
        })
    }

    /// Requests never confirmed within `CONFIRM_WITHIN_HOURS` expire. Returns how many did.
    pub async fn expire_unconfirmed(&self) -> Result<usize, ServiceError> {
        let now = self.now();
        let cutoff = now - Duration::hours(i64::from(self.config().confirm_within_hours));
        let mut tx = self.begin().await?;
        let stale = db::requests::awaiting_since_before(&mut tx, cutoff).await?;
        let n = stale.len();
        for mut req in stale {
            let note = Some("not confirmed in time".to_owned());
            transitions::transition(
                &mut tx,
                &mut req,
                RequestState::Expired,
                "system",
                note,
                now,
            )
            .await?;
        }
        tx.commit().await?;
        Ok(n)
    }
}

impl Services {
    pub async fn setting(&self, name: &str) -> Result<Option<String>, ServiceError> {
        let mut conn = self.pool().acquire().await.map_err(anyhow::Error::from)?;
        Ok(db::settings::get(&mut conn, name).await?)
    }

    pub async fn set_setting(&self, name: &str, value: &str) -> Result<(), ServiceError> {
        let mut conn = self.pool().acquire().await.map_err(anyhow::Error::from)?;
        db::settings::set(&mut conn, name, value).await?;
        Ok(())
    }

    pub async fn request_state(&self, id: i64) -> Result<Option<RequestState>, ServiceError> {
        let mut conn = self.pool().acquire().await.map_err(anyhow::Error::from)?;
        Ok(db::requests::get(&mut conn, id).await?.map(|r| r.state()))
    }
}
