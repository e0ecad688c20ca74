//! `dsr-bot ingest-mail`: inbound mail from stdin (an MTA pipe) or a Maildir.

use crate::{email::intake, services::Disposition, startup::App};

pub async fn ingest(app: &App, maildir: Option<std::path::PathBuf>) -> Result<(), super::Failure> {
    use super::Failure;
    match maildir {
        Some(dir) => {
            let run = intake::ingest_maildir(&app.services, &dir).await?;
            println!(
                "{} message(s) read from {}",
                run.handled.len(),
                dir.display()
            );
            app.outbox_worker()?.flush().await?;
            if run.left > 0 {
                return Err(Failure::TryLater(format!(
                    "{} message(s) left in {} for the next run: their senders sent more than they may for now",
                    run.left,
                    dir.join("new").display()
                )));
            }
        }
        None => {
            let cap = app.services.config().inbound.max_message_bytes;
            let (raw, size) = intake::read_message(&mut tokio::io::stdin(), cap as u64)
                .await
                .map_err(anyhow::Error::from)?;
            let d = intake::ingest(&app.services, &raw, size, None).await?;
            app.outbox_worker()?.flush().await?;
            match d {
                Disposition::Held => eprintln!(
                    "kept for a person to look at ({size} bytes, cap {cap}): `dsr-bot held list` shows it"
                ),
                Disposition::Deferred => {
                    return Err(Failure::TryLater(
                        "the sender sent more than they may for now; deliver the message again later".into(),
                    ));
                }
                _ => {}
            }
        }
    }
    Ok(())
}

/// `dsr-bot held`: mail kept because it could not be read.
pub async fn held(app: &App, command: super::HeldCmd) -> Result<(), super::Failure> {
    use super::{Failure, HeldCmd};
    match command {
        HeldCmd::List => {
            let held = app.services.inbound().held().await?;
            if held.is_empty() {
                println!("no held mail");
            }
            for h in held {
                println!(
                    "{:>5}  {}  {:>10} bytes{}  {}",
                    h.id,
                    h.received_at
                        .to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
                    h.size,
                    if h.headers_only {
                        " (headers kept)"
                    } else {
                        ""
                    },
                    h.reason
                );
            }
        }
        HeldCmd::Show { id } => {
            let raw = app
                .services
                .inbound()
                .held_message(id)
                .await?
                .ok_or_else(|| {
                    Failure::User(format!(
                        "There is no held message #{id}. `dsr-bot held list` shows them."
                    ))
                })?;
            use std::io::Write;
            std::io::stdout()
                .write_all(&raw)
                .map_err(anyhow::Error::from)?;
        }
        HeldCmd::Delete { id } => {
            if !app.services.inbound().drop_held(id).await? {
                return Err(Failure::User(format!(
                    "There is no held message #{id}. `dsr-bot held list` shows them."
                )));
            }
            println!("held message #{id} deleted");
        }
    }
    Ok(())
}
