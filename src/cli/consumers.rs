//! `dsr-bot consumers`: the systems that must honour the choices: register one (its token
//! and hashing key printed once), list them with how far behind each is, revoke one, and
//! write a signed offline export for a system without the API.

use std::io::Write as _;

use super::{ConsumersCmd, Failure, Format};
use crate::{services::feed::MAX_PAGE, startup::App};

pub async fn run(app: &App, command: ConsumersCmd) -> Result<(), Failure> {
    let feed = app.services.feed();
    match command {
        ConsumersCmd::Add { name, webhook } => {
            let made = feed.add(&name, webhook).await?;
            println!(
                "consumer {} added. Its token and key are shown this once: keep them where the consumer's \
                 secrets are kept. The HTTP API starts with the next `dsr-bot run` (HTTP_BIND).",
                made.name
            );
            println!("token: {}", made.token);
            println!("key: {}", made.key);
        }
        ConsumersCmd::List { format } => {
            let all = feed.list().await?;
            match format {
                Format::Json => println!(
                    "{}",
                    serde_json::to_string_pretty(&all).map_err(anyhow::Error::from)?
                ),
                Format::Table => {
                    if all.is_empty() {
                        println!("no consumers (`dsr-bot consumers add NAME` registers one)");
                    }
                    let show = |t: Option<chrono::DateTime<chrono::Utc>>| {
                        t.map_or("never".to_owned(), |t| app.services.show_time(t))
                    };
                    for c in all {
                        let standing = if c.revoked_at.is_some() {
                            "revoked".to_owned()
                        } else if !c.behind() {
                            "up to date".to_owned()
                        } else {
                            format!(
                                "behind by {} change(s){}",
                                c.unacknowledged,
                                if c.stale { ", stale (over a day)" } else { "" }
                            )
                        };
                        println!(
                            "{}: {standing}; last pull {}, last acknowledgement {}{}{}",
                            c.name,
                            show(c.last_pull_at),
                            show(c.last_ack_at),
                            c.last_ack_run
                                .map(|r| format!(" (run {r})"))
                                .unwrap_or_default(),
                            c.webhook_trouble
                                .map(|t| format!("; {t}"))
                                .unwrap_or_default()
                        );
                    }
                }
            }
        }
        ConsumersCmd::Revoke { name } => {
            feed.revoke(&name).await?;
            println!("consumer {name} revoked: its token is refused from now on");
        }
        ConsumersCmd::Webhook { name, url } => {
            let on = url.is_some();
            feed.set_webhook(&name, url).await?;
            println!(
                "{}",
                if on {
                    format!("consumer {name} is told of every change at its webhook again")
                } else {
                    format!("consumer {name} has no webhook: it learns of changes when it pulls")
                }
            );
        }
        ConsumersCmd::Export { name, out } => {
            let consumer = feed.consumer(&name).await?;
            let mut body = Vec::new();
            let mut cursor: Option<String> = None;
            let mut listed = 0usize;
            let checkpoint = loop {
                let page = feed
                    .page(&consumer, cursor.as_deref(), MAX_PAGE)
                    .await
                    .map_err(refusal)?;
                for e in page.choices.iter().chain(&page.removed) {
                    serde_json::to_writer(&mut body, e).map_err(anyhow::Error::from)?;
                    body.push(b'\n');
                    listed += 1;
                }
                cursor = Some(page.cursor);
                if !page.more {
                    break page.checkpoint;
                }
            };
            let cursor = cursor.unwrap_or_default();
            let header = serde_json::json!({
                "consumer": name,
                "cursor": cursor,
                "entries": listed,
                "checkpoint": checkpoint,
            });
            let mut file = serde_json::to_vec(&header).map_err(anyhow::Error::from)?;
            file.push(b'\n');
            file.extend_from_slice(&body);
            let (key, signature) = feed.sign(&file).ok_or_else(|| {
                Failure::Internal(anyhow::anyhow!("no signing key to sign the export with"))
            })?;
            let trailer = serde_json::json!({ "signature": signature, "key": key });
            file.extend_from_slice(trailer.to_string().as_bytes());
            file.push(b'\n');
            let mut f = std::fs::File::create(&out).map_err(|e| {
                Failure::User(format!("{} could not be written ({e})", out.display()))
            })?;
            f.write_all(&file).and_then(|_| f.sync_all()).map_err(|e| {
                Failure::User(format!("{} could not be written ({e})", out.display()))
            })?;
            println!(
                "{} entries for {name} written to {} (JSON Lines: a header, the entries, a signed trailer); \
                 acknowledge cursor {cursor} once applied",
                listed,
                out.display()
            );
        }
    }
    Ok(())
}

fn refusal(r: crate::services::feed::Refusal) -> Failure {
    use crate::services::feed::Refusal;
    match r {
        Refusal::Internal(e) => e.into(),
        Refusal::Unauthorized(m) | Refusal::Forbidden(m) | Refusal::Bad(m) => Failure::User(m),
    }
}
